/*
 * sockview.h: one server's part of the socket view: its listeners and every
 * TCP socket on their ports, as JSON. The server's own registry (fd, phase,
 * bytes, TLS) is joined with the kernel's sockets (state, queues, TCP_INFO)
 * on the 4-tuple, so the view also shows what the server no longer holds
 * (TIME-WAIT) or does not hold yet (waiting in the accept queue). The schema
 * is the "servers" element of /-/sockets.json, documented in the README.
 */
#ifndef WK_SOCKVIEW_H
#define WK_SOCKVIEW_H

#include "common/json.h"

struct wk_server;

/* Most kernel sockets listed per server: bounds the work on a busy host. */
#define WK_SOCKVIEW_MAX_SOCKETS 20000

/*
 * Writes srv's object ({"name": name, "running": true, ...}) into j. A
 * kernel that cannot be asked leaves the kernel's fields null and says why
 * in "kernel_error". Never fails by itself: errors are j's (wk_json_end()).
 */
void wk_sockview_server(struct wk_json *j, const struct wk_server *srv, const char *name);

/*
 * The object of a server that could not be asked: {"name": name, "running":
 * false, "error": why, "listeners": []}.
 */
void wk_sockview_absent(struct wk_json *j, const char *name, const char *why);

#endif
