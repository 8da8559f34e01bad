/*
 * dashboard.h: httpd's built-in routes under /-/:
 *
 *   /-/sockets             the socket view, a page (and its .css and .js)
 *   /-/sockets.json        what it draws: httpd's sockets and smtpd's, joined
 *                          with the kernel's (schema in the README)
 *   /-/sockets/events      the same, live, as Server-Sent Events
 *   /-/metrics             Prometheus text of both servers
 *   /-/healthy             200 while serving, 503 while stopping
 *
 * Only clients in the allowed networks (loopback and private ranges unless
 * configured) get them; others get 403. smtpd's part comes from its status
 * socket, without blocking: a request that needs it waits (its connection
 * paused) until smtpd answers or the wait times out.
 */
#ifndef HTTP_DASHBOARD_H
#define HTTP_DASHBOARD_H

#include <stdbool.h>

#include "common/cidr.h"
#include "common/wk.h"

struct http_dashboard;
struct http_txn;
struct wk_metrics;
struct wk_conn;
struct wk_server;

struct http_dashboard_config {
    struct wk_cidr_list allow; /* who may see /-/ */
    const char *smtpd_status;  /* smtpd's status socket, or NULL */
};

/* Makes the dashboard of srv. Returns 0 and *out, or -ENOMEM. */
int http_dashboard_new(struct wk_server *srv, const struct http_dashboard_config *cfg,
                       struct http_dashboard **out);

/* Frees it; the connections it served must be closed already. NULL is fine. */
void http_dashboard_free(struct http_dashboard *d);

/*
 * Answers t if its path is under /-/ and returns true; returns false for
 * any other path. An answer may be left for later: then t->wait is set, and
 * the dashboard calls http_conn_resume() on t's connection when it can
 * answer; t->stream is set for an event stream, which the dashboard writes
 * to from then on.
 */
bool http_dashboard_handle(struct http_dashboard *d, struct http_txn *t);

/* The connection is closing: forget it if it waits or streams. */
void http_dashboard_forget(struct http_dashboard *d, struct wk_conn *c);

/* Writes httpd's own metric families (requests by status class) with m; arg: the wk_server. */
void http_dashboard_metrics(struct wk_metrics *m, void *arg);

#endif
