/*
 * data.h: the bytes a client sends after DATA's 354 (RFC 5321 4.1.1.4):
 * finding the end of the message, removing dot-stuffing (4.5.2), and
 * noting what makes a message unacceptable (too big, a line over 1000
 * octets, a bare CR or LF). A pure state machine: no I/O, no allocation.
 * Storing the message and replying are the session's business.
 *
 * Only <CR><LF>.<CR><LF> ends the data (or ".<CR><LF>" as the very first
 * line: an empty message). A bare CR or LF never ends a line, so the
 * smuggling sequences <LF>.<LF>, <CR>.<CR>, <LF>.<CR><LF>, <CR><LF>.<LF>
 * are message content: they set bare_cr_lf and the data goes on.
 */
#ifndef SMTP_DATA_H
#define SMTP_DATA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Longest text line, CRLF included, not counting a stuffing dot (RFC 5321 4.5.3.1.6). */
#define SMTP_DATA_LINE_MAX 1000

/* Bytes smtp_data_feed() may write beyond the length of its input (a CR held back). */
#define SMTP_DATA_SLACK 8

/*
 * One message's DATA phase; embed it and call smtp_data_init() per message.
 * Fields marked private belong to data.c; the rest may be read at any time.
 */
struct smtp_data {
    int state;          /* private: where in a line the stream is */
    uint64_t line_len;  /* private: octets of the current line so far */
    uint64_t size;      /* message bytes after unstuffing, all of them, even past max_size */
    uint64_t max_size;  /* a larger message is too big */
    bool too_big;       /* size > max_size: output stopped, scanning goes on */
    bool line_too_long; /* some line over SMTP_DATA_LINE_MAX octets */
    bool bare_cr_lf;    /* some CR not followed by LF, or LF not preceded by CR */
};

/* Starts a message of at most max_size bytes, at the beginning of its first line. */
void smtp_data_init(struct smtp_data *d, uint64_t max_size);

/*
 * Feeds in[0, len) of the client's DATA stream; in need not be
 * NUL-terminated and is not kept. Writes the message bytes (stuffing dots
 * and the final ".\r\n" removed) to out, which must have room for
 * len + SMTP_DATA_SLACK bytes, and sets *out_len. A CR right after a line's
 * leading dot is held back until the next byte shows whether it ends the
 * data, so one call may write a byte that an earlier call consumed. Once
 * the message is too big nothing more is written (*out_len is 0).
 *
 * Returns the number of input bytes consumed: len, or, when the end of the
 * data is found, exactly up to and including the terminating "\r\n.\r\n";
 * what follows it is the next command (PIPELINING). Sets *done when the end
 * was found, in this call or an earlier one; after that it consumes nothing.
 * The results do not depend on how the stream is split between calls.
 */
size_t smtp_data_feed(struct smtp_data *d, const char *in, size_t len, char *out, size_t *out_len,
                      bool *done);

/* Whether the message ended (smtp_data_feed() set *done). */
bool smtp_data_is_done(const struct smtp_data *d);

enum smtp_data_verdict {
    SMTP_DATA_OK,
    SMTP_DATA_TOO_BIG,       /* 552 5.3.4 */
    SMTP_DATA_LINE_TOO_LONG, /* 552 5.3.4 */
    SMTP_DATA_BARE_CR_LF,    /* 550 5.6.0 */
};

/*
 * What to do with the message once it is done: the first that applies of
 * too big, a line too long, a bare CR or LF; else SMTP_DATA_OK.
 */
enum smtp_data_verdict smtp_data_verdict(const struct smtp_data *d);

#endif
