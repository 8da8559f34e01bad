/*
 * reply.h: SMTP replies, each with its RFC 3463 enhanced status code,
 * appended to the connection's output. Pipelined replies accumulate and
 * leave in one write when the input is drained (RFC 2920).
 */
#ifndef SMTP_REPLY_H
#define SMTP_REPLY_H

struct wk_conn;

/*
 * Appends one reply line: code, enhanced code and text, e.g.
 * smtp_reply(c, 250, "2.1.0", "Ok"). Multi-line replies are built with
 * smtp_reply_more() for every line but the last.
 */
void smtp_reply(struct wk_conn *c, int code, const char *enhanced, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Appends "code-text": a line of a multi-line reply that more lines follow (no enhanced code). */
void smtp_reply_more(struct wk_conn *c, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
