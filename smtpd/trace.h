/*
 * trace.h: the Return-Path: and Received: fields prepended to every stored
 * message (RFC 5321 4.4), naming the client's HELO name, address and port,
 * this server and the queue id. Pure: no I/O, no clock.
 */
#ifndef SMTP_TRACE_H
#define SMTP_TRACE_H

#include <time.h>

#include "common/buf.h"

struct smtp_trace {
    const char *helo;      /* as the client sent it */
    const char *client_ip; /* "127.0.0.1", "::1" */
    unsigned client_port;
    const char *hostname; /* this server */
    const char *protocol; /* "SMTP", "ESMTP", "UTF8SMTP" (RFC 3848, 6531) */
    const char *queue_id;
    const char *sender;    /* reverse-path without brackets; "" for the null sender */
    const char *recipient; /* the one recipient, or NULL when there are several */
    time_t when;
};

/*
 * Appends "Return-Path: <...>" and the Received: field, CRLF-terminated
 * lines, to out. Client text that is not printable ASCII, or that could end
 * a comment, is replaced by '?'. Returns 0, -ENOBUFS or -ENOMEM.
 */
int smtp_trace_headers(struct wk_buf *out, const struct smtp_trace *t);

#endif
