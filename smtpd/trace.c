/*
 * trace.c: the trace fields of a stored message. Owns nothing.
 */
#include "smtpd/trace.h"

#include <stdbool.h>
#include <string.h>

#include "common/clock.h"

/* Longest EHLO text kept in a trace field; a path (at most 321 octets) is never cut. */
#define TRACE_TEXT_MAX 255
#define TRACE_PATH_MAX 512

/*
 * Copies s, bounded, replacing with '?' what could break the field: any
 * control byte; for the client's free-form EHLO text (not a path) also
 * spaces, comment parentheses, backslashes and 8-bit bytes. A path keeps
 * them: its quoting is the parser's, and UTF-8 is allowed (RFC 6532).
 */
static void clean(char *out, const char *s, bool path)
{
    size_t i = 0, max = path ? TRACE_PATH_MAX : TRACE_TEXT_MAX;
    for (; s[i] && i < max; i++) {
        unsigned char ch = (unsigned char)s[i];
        bool ok = path ? ch >= 0x20 && ch != 0x7f
                       : ch > 0x20 && ch < 0x7f && ch != '(' && ch != ')' && ch != '\\';
        out[i] = ok ? (char)ch : '?';
    }
    out[i] = '\0';
}

int smtp_trace_headers(struct wk_buf *out, const struct smtp_trace *t)
{
    char helo[TRACE_TEXT_MAX + 1], date[WK_CLOCK_RFC5322_LEN];
    char sender[TRACE_PATH_MAX + 1], rcpt[TRACE_PATH_MAX + 1];
    clean(helo, t->helo, false);
    clean(sender, t->sender, true);
    wk_clock_rfc5322(t->when, date);
    size_t before = wk_buf_len(out);
    int rc = wk_buf_printf(out,
                           "Return-Path: <%s>\r\n"
                           "Received: from %s (%s%s%s:%u)\r\n"
                           "\tby %s (wellknown) with %s id %s",
                           sender, helo, strchr(t->client_ip, ':') ? "[IPv6:" : "[", t->client_ip,
                           "]", t->client_port, t->hostname, t->protocol, t->queue_id);
    if (rc == 0 && t->recipient) {
        clean(rcpt, t->recipient, true);
        rc = wk_buf_printf(out, "\r\n\tfor <%s>", rcpt);
    }
    if (rc == 0)
        rc = wk_buf_printf(out, "; %s\r\n", date);
    if (rc < 0)
        wk_buf_cut(out, before, wk_buf_len(out) - before);
    return rc;
}
