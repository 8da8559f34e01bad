/*
 * status.h: a server's status socket, and the client that asks one.
 *
 * The status socket is a local AF_UNIX stream socket, created mode 0600. A
 * client connects, writes one command line ("sockets\n", "metrics\n") and
 * reads the answer until the server closes. The server's callback makes the
 * answers. This is how httpd shows smtpd's sockets and metrics next to its
 * own; by hand: printf 'sockets\n' | socat - UNIX:var/run/wellknown-smtpd.sock
 */
#ifndef WK_STATUS_H
#define WK_STATUS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "common/buf.h"
#include "common/wk.h"

struct wk_loop;
struct wk_status;
struct wk_status_fetch;

/* Longest command line, newline included. */
#define WK_STATUS_CMD_MAX 64
/* Largest answer a server makes (a socket view of some ten thousand connections). */
#define WK_STATUS_ANSWER_MAX (8u << 20)

/*
 * Appends the answer to cmd (len bytes, no newline) to out. Returns 0, or
 * -ENOENT for an unknown command, or -errno (nothing is sent then but the
 * close).
 */
typedef int wk_status_answer_fn(const char *cmd, size_t len, struct wk_buf *out, void *arg);

/*
 * Listens on path (creating its directory if missing; replacing a stale
 * socket, never a live one) and answers on loop with fn(arg). Returns 0 and
 * *out, or -errno with a message naming path in err.
 */
int wk_status_open(struct wk_loop *loop, const char *path, wk_status_answer_fn *fn, void *arg,
                   struct wk_status **out, char err[WK_ERR_LEN]);

/*
 * Gives the socket file to uid and gid (before a server switches users, so
 * that the other server, running as that user too, may connect). Returns 0
 * or -errno with a message in err.
 */
int wk_status_chown(struct wk_status *s, uid_t uid, gid_t gid, char err[WK_ERR_LEN]);

/*
 * In a child forked from the process that owns s: closes the child's copies
 * of its fds and frees the memory, without touching the parent's loop or
 * the socket file. NULL is fine.
 */
void wk_status_forget(struct wk_status *s);

/* Closes the socket, its clients, and removes path. NULL is fine. */
void wk_status_close(struct wk_status *s);

/*
 * The answer to a fetch: err 0 and the len bytes of data (valid during the
 * call), or err < 0: -ENOENT or -ECONNREFUSED (no server there),
 * -ETIMEDOUT, -EMSGSIZE (longer than max), or another -errno.
 */
typedef void wk_status_reply_fn(int err, const char *data, size_t len, void *arg);

/*
 * Asks the status socket at path for cmd, without blocking: cb(arg) gets the
 * answer from the loop, once, within timeout_ms. Returns 0 and *out (to
 * cancel; it is gone after cb returns), or -errno, and then cb is never
 * called (-ENOENT or -ECONNREFUSED: no server; -EAGAIN: it is busy;
 * -EINVAL: cmd is longer than WK_STATUS_CMD_MAX allows).
 */
int wk_status_fetch(struct wk_loop *loop, const char *path, const char *cmd, uint64_t timeout_ms,
                    wk_status_reply_fn *cb, void *arg, struct wk_status_fetch **out);

/* Gives up a fetch still in flight: cb will not be called. */
void wk_status_fetch_cancel(struct wk_status_fetch *f);

struct wk_server;

struct wk_metrics;

/* Writes a protocol's own metric families (Prometheus text) with m. */
typedef void wk_status_metrics_fn(struct wk_metrics *m, void *arg);

/* What a server answers on its status socket (the arg of wk_status_server_answer). */
struct wk_status_server {
    const struct wk_server *srv;
    const char *name;              /* "httpd", "smtpd": the socket view's name and metric prefix */
    wk_status_metrics_fn *metrics; /* the protocol's own families, or NULL */
    void *metrics_arg;
};

/*
 * A wk_status_answer_fn for a server (arg: struct wk_status_server):
 * "sockets" answers its part of the socket view as JSON (common/sockview.h),
 * "metrics" its metrics (common/metrics.h, then the protocol's).
 */
int wk_status_server_answer(const char *cmd, size_t len, struct wk_buf *out, void *arg);

/* Writes the metrics of a server with m: the common families, then the protocol's. */
void wk_status_server_metrics(const struct wk_status_server *ss, struct wk_metrics *m);

#endif
