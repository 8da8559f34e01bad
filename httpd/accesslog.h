/*
 * accesslog.h: the access log in Combined Log Format, with the client's port
 * and the server's fd added at the end:
 *
 *   127.0.0.1 - - [25/Nov/2026:10:00:00 +0000] "GET / HTTP/1.1" 200 612 "-" "curl/7.88.1"
 * port=53422 fd=9
 *
 * Lines collect in memory and are written once per turn of the loop.
 */
#ifndef HTTP_ACCESSLOG_H
#define HTTP_ACCESSLOG_H

#include <sys/types.h>

#include "common/wk.h"
#include "httpd/response.h"

struct http_accesslog;
struct wk_loop;

/*
 * Opens the log named by spec: "-" for standard output, a file path
 * (appended to, created 0640), or "off" (returns 0 with *out NULL).
 * Returns 0 or -errno with a message naming the file in err.
 */
int http_accesslog_open(const char *spec, struct wk_loop *loop, struct http_accesslog **out,
                        char err[WK_ERR_LEN]);

/*
 * Gives the log file to uid and gid, so that the user the server switches to
 * can reopen it. A no-op for standard output or NULL. Returns 0 or -errno.
 */
int http_accesslog_chown(struct http_accesslog *log, uid_t uid, gid_t gid, char err[WK_ERR_LEN]);

/*
 * Writes what is buffered and opens the file again by its name (after a log
 * rotation moved it). On failure the old file stays in use. Returns 0 or
 * -errno with a message in err.
 */
int http_accesslog_reopen(struct http_accesslog *log, char err[WK_ERR_LEN]);

/*
 * Writes the lines of each turn of loop from now on (in a worker process,
 * whose loop is not the one the log was opened with). NULL log: nothing.
 * Returns 0 or -errno.
 */
int http_accesslog_attach(struct http_accesslog *log, struct wk_loop *loop);

/* Writes what is buffered and frees the log. NULL is fine. */
void http_accesslog_close(struct http_accesslog *log);

/* Adds the line for an answered exchange. NULL log: nothing. */
void http_accesslog_add(struct http_accesslog *log, const struct http_txn *t);

#endif
