/*
 * conn.h: one accepted socket.
 *
 * The conn owns the fd, a bounded input buffer, an output buffer plus at most
 * one file body queued behind it, one deadline, and its registry entry. A
 * protocol plugs in through struct wk_conn_ops and sees only complete
 * results: EINTR and EAGAIN never reach it.
 *
 * Output appended during a turn of the loop is written once, before the loop
 * sleeps, so pipelined replies leave in one write. Closing is deferred: after
 * wk_conn_close() the conn stays valid until the outermost callback returns,
 * but the protocol must not use it for anything else.
 */
#ifndef WK_CONN_H
#define WK_CONN_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "common/buf.h"
#include "common/registry.h"

struct wk_conn;
struct wk_server;
struct wk_listener;
struct wk_loop;

typedef void wk_release_fn(void *arg);

struct wk_conn_ops {
    size_t proto_size;                      /* zeroed protocol state per conn */
    void (*on_open)(struct wk_conn *c);     /* accepted */
    void (*on_data)(struct wk_conn *c);     /* new input, or the peer closed its side */
    void (*on_drain)(struct wk_conn *c);    /* all queued output is written */
    void (*on_timeout)(struct wk_conn *c);  /* the deadline passed */
    void (*on_shutdown)(struct wk_conn *c); /* the server is stopping gracefully */
    void (*on_close)(struct wk_conn *c);    /* last call: release protocol state */
};

/* Called by the server for an accepted fd; the conn takes ownership of fd. NULL on ENOMEM. */
struct wk_conn *wk_conn_new(struct wk_server *srv, struct wk_listener *l, int fd,
                            const struct sockaddr *peer, socklen_t peerlen);

/* The protocol's state: ops->proto_size bytes, zeroed at accept. */
void *wk_conn_proto(struct wk_conn *c);

struct wk_server *wk_conn_server(const struct wk_conn *c);
struct wk_loop *wk_conn_loop(const struct wk_conn *c);
struct wk_listener *wk_conn_listener(const struct wk_conn *c);
const struct wk_conn_info *wk_conn_info(const struct wk_conn *c);

/* Calls fn for each open conn of srv (fn may close it). */
void wk_conn_each(struct wk_server *srv, void (*fn)(struct wk_server *, struct wk_conn *));

/* Prints the client as log lines do, "[::ffff:127.0.0.1]:53422"; returns the length. */
size_t wk_conn_format_peer(const struct wk_conn *c, char *out, size_t outlen);

/* The input received and not yet consumed; consume with wk_buf_consume(). */
struct wk_buf *wk_conn_in(struct wk_conn *c);

/* The peer shut down its sending side: no more input will come. */
bool wk_conn_peer_closed(const struct wk_conn *c);

/* Stops (true) or restarts (false) reading, for backpressure. */
void wk_conn_pause_read(struct wk_conn *c, bool pause);

/*
 * The output buffer: append with wk_buf_append()/wk_buf_printf(), then call
 * wk_conn_flush_later(). Its bound is the server's output maximum.
 */
struct wk_buf *wk_conn_out(struct wk_conn *c);

/* Schedules the output for writing before the loop sleeps. */
void wk_conn_flush_later(struct wk_conn *c);

/* Appends n bytes and schedules them. Returns 0, -ENOBUFS or -ENOMEM. */
int wk_conn_write(struct wk_conn *c, const void *p, size_t n);

/*
 * Queues len bytes of fd from off, to be sent with sendfile after the output
 * appended so far. When they are sent or the conn closes, release(arg) is
 * called, or fd is closed if release is NULL. Only one file may be queued:
 * returns -EBUSY while one is (the fd then still belongs to the caller).
 */
int wk_conn_send_file(struct wk_conn *c, int fd, off_t off, size_t len, wk_release_fn *release,
                      void *arg);

/* True while output (bytes or a file) waits to be written. */
bool wk_conn_output_pending(const struct wk_conn *c);

/* True when the protocol should produce no more output until on_drain. */
bool wk_conn_is_write_blocked(const struct wk_conn *c);

/*
 * Sets the deadline ms milliseconds from now (0 disarms it); on_timeout is
 * called when it passes. While output is pending, each write that makes
 * progress pushes the deadline to at least the server's send timeout.
 */
void wk_conn_set_timeout(struct wk_conn *c, uint64_t ms);

/* Sets what the registry shows: a static phase name and its progress. */
void wk_conn_set_phase(struct wk_conn *c, const char *phase, uint64_t progress, uint64_t total);

/* Closes now; unsent output is dropped. reason is a static string for the log. */
void wk_conn_close(struct wk_conn *c, const char *reason);

/*
 * Closes gracefully: stops handing input to the protocol and writes what is
 * queued. Then, if input may still arrive unread, shuts down the sending
 * side and discards input for a short linger time, so that the client reads
 * everything before it sees the close; otherwise closes at once.
 */
void wk_conn_finish(struct wk_conn *c, const char *reason);

bool wk_conn_is_closing(const struct wk_conn *c);

struct wk_tls;

/*
 * STARTTLS: once the output queued so far (the protocol's "go ahead") is
 * written, the connection speaks TLS as the server. Input already received
 * is discarded, and none is handed over until then: bytes a client sent
 * behind its STARTTLS must never be taken as commands (CVE-2011-0411).
 * Returns 0, or -EALREADY on a connection that speaks TLS already.
 */
int wk_conn_start_tls(struct wk_conn *c, struct wk_tls *tls);

/* True once the connection speaks TLS (or is about to, after wk_conn_start_tls()). */
bool wk_conn_is_tls(const struct wk_conn *c);

/*
 * For server.c, before the loop sleeps: writes scheduled output, resumes
 * reads, then frees the conns closed during the turn. Returns true if work
 * is left for the next turn (the loop should not sleep).
 */
bool wk_conn_run_pending(struct wk_server *srv);

/* For server.c at exit: frees every closed conn. */
void wk_conn_reap(struct wk_server *srv);

#endif
