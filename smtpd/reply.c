/*
 * reply.c: formatting SMTP replies into the connection's output buffer.
 * Owns nothing. A reply that does not fit the output bound closes the
 * connection (the client is not reading its replies).
 */
#include "smtpd/reply.h"

#include <stdarg.h>
#include <stdio.h>

#include "common/conn.h"

/* A reply line's bound, CRLF included (RFC 5321 4.5.3.1.5). */
#define REPLY_LINE_MAX 512

static void emit(struct wk_conn *c, int code, char sep, const char *enhanced, const char *fmt,
                 va_list ap)
{
    char line[REPLY_LINE_MAX];
    int n = enhanced ? snprintf(line, sizeof line, "%d%c%s ", code, sep, enhanced)
                     : snprintf(line, sizeof line, "%d%c", code, sep);
    int m = vsnprintf(line + n, sizeof line - (size_t)n - 2, fmt, ap);
    size_t len = (size_t)n + (m < 0 ? 0 : (size_t)m);
    if (len > sizeof line - 3)
        len = sizeof line - 3;
    line[len++] = '\r';
    line[len++] = '\n';
    if (wk_conn_write(c, line, len) < 0)
        wk_conn_close(c, "output-full");
}

void smtp_reply(struct wk_conn *c, int code, const char *enhanced, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    emit(c, code, ' ', enhanced, fmt, ap);
    va_end(ap);
}

void smtp_reply_more(struct wk_conn *c, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    emit(c, code, '-', NULL, fmt, ap);
    va_end(ap);
}
