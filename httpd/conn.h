/*
 * conn.h: HTTP/1.1 on a wk_conn: requests read one at a time with the strict
 * parser, answered in order (pipelining), keep-alive, the header, body and
 * idle timeouts, and the phase the registry shows.
 */
#ifndef HTTP_CONN_H
#define HTTP_CONN_H

#include "common/conn.h"

/* The ops table httpd hands to wk_server; the server's data is a struct http_server. */
extern const struct wk_conn_ops http_conn_ops;

/*
 * Answers again the request c waits with (its handler set t->wait), now
 * with t->resumed set, then goes on with the requests behind it. A no-op if
 * c does not wait.
 */
void http_conn_resume(struct wk_conn *c);

#endif
