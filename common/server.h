/*
 * server.h: the lifecycle of one server process: listeners, the loop, the
 * connections a protocol's ops drive, limits, and the graceful stop.
 *
 * SIGTERM and SIGINT stop accepting, give every connection on_shutdown, and
 * exit once all are closed or the shutdown timeout has passed.
 *
 * With workers, SIGHUP is the parent's: it reads the configuration again
 * and renews the workers (wk_server_renew()). A worker told to retire
 * (SIGQUIT) stops accepting and sets srv->retiring (a protocol may then
 * close each connection at its next pause), serves on for the shutdown
 * timeout, then stops as on SIGTERM; it exits as soon as none is open.
 *
 * Under a service manager (systemd), the server takes the listening sockets
 * passed to it (socket activation, LISTEN_FDS) and reports READY=1 once it
 * serves, RELOADING=1 around a SIGHUP reload and STOPPING=1 when a graceful
 * stop begins (Type=notify, NOTIFY_SOCKET).
 */
#ifndef WK_SERVER_H
#define WK_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/addr.h"
#include "common/conn.h"
#include "common/listener.h"
#include "common/log.h"
#include "common/loop.h"
#include "common/sdnotify.h"

struct wk_server_config {
    int backlog;                   /* listen(2) backlog */
    size_t max_conns;              /* accepting pauses at this many open connections */
    size_t in_max;                 /* bound of each connection's input buffer */
    size_t out_max;                /* bound of each connection's output buffer */
    size_t out_high;               /* output above this blocks the protocol */
    uint64_t send_timeout_ms;      /* a client that reads nothing for this long is cut off */
    uint64_t linger_ms;            /* how long a finishing connection drains input */
    uint64_t shutdown_timeout_ms;  /* graceful stop bound */
    int defer_accept_s;            /* TCP_DEFER_ACCEPT seconds, 0: off (the client speaks first) */
    uint64_t handshake_timeout_ms; /* a TLS client must finish its handshake within this */
    unsigned workers;              /* processes that serve (wk_server_run_workers()); 0 means 1 */
    /*
     * The first address given to wk_server_listen() is the built-in default,
     * not one the user named (no --listen): inherited sockets that no address
     * names are then served, as plain listeners, instead of refused.
     */
    bool listen_default;
};

struct wk_conn;
struct wk_server;
struct wk_server_state;
struct wk_tls;

/*
 * Batched work run once per turn of the loop, before the turn's output is
 * written. Returns true if work is left for the next turn (the loop then
 * does not sleep).
 */
typedef bool wk_server_hook_fn(struct wk_server *srv, void *arg);

/*
 * Called on SIGHUP: read the configuration again and apply it without
 * closing anything. Returns 0, or -errno with a message in err when nothing
 * changed (wk_server_reload() logs it).
 */
typedef int wk_server_reload_fn(struct wk_server *srv, void *arg, char err[WK_ERR_LEN]);

struct wk_server {
    struct wk_server_config cfg;
    const struct wk_conn_ops *ops;
    void *data; /* the protocol's server-wide context */
    struct wk_loop *loop;
    struct wk_listener *listeners;
    size_t nlisteners;
    size_t open;                 /* open connections, all listeners */
    struct wk_conn *conns;       /* every open conn (common/conn.c links them) */
    struct wk_conn *pending;     /* conns with output to write or input to read before sleeping */
    struct wk_scoreboard *board; /* what every process of the server shows (wk_server_listen) */
    struct wk_conn *closed;      /* conns closed this turn, freed before sleeping */
    bool stopping;
    bool retiring; /* a newer generation of workers took over */
    struct wk_timer stop_timer;
    struct wk_timer retire_timer;    /* the end of a retiring worker's grace */
    struct wk_supervisor *sup;       /* the parent's, while wk_server_run_workers() runs */
    struct wk_server_state *leaving; /* during wk_server_renew(): the state being replaced */
    struct wk_timer resume_timer;    /* retries accepting after hitting max_conns */
    wk_server_hook_fn *before_flush; /* the protocol's batched work, before output is written */
    void *before_flush_arg;
    wk_server_reload_fn *on_reload;
    void *on_reload_arg;
    uint64_t started_ms;       /* wall clock at wk_server_init(), ms since the epoch */
    unsigned worker;           /* which worker process this is (0 without workers) */
    bool serving;              /* this process accepts: its conns' fds are its own */
    struct wk_sdnotify notify; /* the service manager, when NOTIFY_SOCKET names one */
    bool notify_warned;        /* a failure to notify has been logged */
};

/* Fills cfg with the defaults. */
void wk_server_config_defaults(struct wk_server_config *cfg);

/* Creates the loop. Returns 0, or -errno with a message in err. */
int wk_server_init(struct wk_server *srv, const struct wk_server_config *cfg,
                   const struct wk_conn_ops *ops, void *data, char err[WK_ERR_LEN]);

/*
 * Binds every address and logs "listen addr=..." with the real port of each.
 * tls[i] (not owned), when tls is not NULL, makes listener i speak TLS
 * (NULL entries: plain); listener i serves addrs[i].
 *
 * Socket activation: the sockets passed with LISTEN_PID/LISTEN_FDS are taken
 * first. An address bound to the same IP address and port (or unix path) as
 * an inherited socket adopts it instead of binding ("listen addr=... fd=N
 * inherited"); port 0 matches none. An inherited socket that no address
 * names is an error naming both, unless cfg.listen_default: then the first
 * such socket replaces the default addrs[0] (if no socket matched it) and
 * the others follow the n listeners, all plain. The inherited sockets keep
 * their backlog and IPV6_V6ONLY; TCP_NODELAY and TCP_DEFER_ACCEPT are set as
 * on a bound one.
 *
 * Returns 0, or -errno with a message naming the address in err.
 */
int wk_server_listen(struct wk_server *srv, const struct wk_addr *addrs, struct wk_tls *const *tls,
                     size_t n, char err[WK_ERR_LEN]);

/*
 * Parses and binds the plain addresses, then the TLS ones (served with tls),
 * as the command line gives them. Returns 0 or -errno with a message in err.
 */
int wk_server_listen_text(struct wk_server *srv, char *const *plain, size_t nplain,
                          char *const *secure, size_t nsecure, struct wk_tls *tls,
                          char err[WK_ERR_LEN]);

/* Installs the SIGHUP handler (after wk_server_init). Returns 0 or -errno. */
int wk_server_on_reload(struct wk_server *srv, wk_server_reload_fn *fn, void *arg);

/* A configuration as wk_server_renew() sees it: the server's part of a protocol's state. */
struct wk_server_state {
    struct wk_server_config cfg;
    void *data;         /* srv->data of the workers that serve it */
    struct wk_tls *tls; /* the TLS listeners' context, or NULL */
    enum wk_log_level log_level;
    void (*free)(struct wk_server_state *st); /* frees the protocol's state */
};

/*
 * In the parent of workers, from the reload function, with the protocol's
 * new state made: takes now's cfg (cfg.workers processes; its
 * listen_default is ignored), data and log level, makes the listeners that
 * served with was->tls serve with now->tls, starts a new generation of
 * workers from the parent as it now is, then retires the old one
 * (common/supervisor.h). Each new worker first runs was->free on its copy
 * of was: the files that holds are the old generation's. A new backlog is
 * applied to the listeners this process bound. Frees the state it drops
 * (was->free or now->free). Returns 0 (now in force, was freed), or -errno
 * with a message in err, nothing changed and now freed: -EINVAL when now's
 * max_conns is above the scoreboard's slots (the max_conns of the start),
 * -ENOTSUP without workers, or wk_supervisor_renew()'s error.
 */
int wk_server_renew(struct wk_server *srv, struct wk_server_state *was, struct wk_server_state *now,
                    char err[WK_ERR_LEN]);

/*
 * Runs fn(srv, arg) before each turn's output is written, e.g. smtpd's group
 * fsync, whose replies then leave in the same write.
 */
void wk_server_before_flush(struct wk_server *srv, wk_server_hook_fn *fn, void *arg);

/*
 * In a worker process forked after wk_server_init() and wk_server_listen():
 * the worker's own loop (the parent's is not to be used), with the stop
 * signals and SIGQUIT (retire), and its listeners shared with the other
 * workers (each new connection wakes one). Only the parent notifies the
 * service manager. Returns 0 or -errno with a message in err.
 */
int wk_server_worker(struct wk_server *srv, unsigned worker, char err[WK_ERR_LEN]);

/* For the parent of workers: READY=1 to the service manager (wk_server_run() does it itself). */
void wk_server_ready(struct wk_server *srv);

/* What SIGHUP does: RELOADING=1, the reload function (its error logged), READY=1. */
void wk_server_reload(struct wk_server *srv);

/* STOPPING=1 to the service manager (for a parent whose workers are stopping). */
void wk_server_stopping(struct wk_server *srv);

/* A worker's own setup, in the worker after wk_server_worker(): 0 or -errno (message in err). */
typedef int wk_server_worker_fn(struct wk_server *srv, unsigned worker, void *arg,
                                char err[WK_ERR_LEN]);
/* In the parent: worker is gone (before another takes its place). */
typedef void wk_server_worker_gone_fn(struct wk_server *srv, unsigned worker, void *arg);

/*
 * Serves with n worker processes: forks them (common/supervisor.h) and
 * supervises them on srv's loop until a graceful stop has ended them all.
 * Each worker calls wk_server_worker(), then setup(), then serves. SIGHUP
 * runs the reload function in the parent alone (wk_server_reload()), which
 * renews the workers; a worker sent SIGHUP itself logs it and goes on. The
 * parent alone speaks to the service manager. Returns 0, or -errno with a
 * message in err.
 */
int wk_server_run_workers(struct wk_server *srv, unsigned n, wk_server_worker_fn *setup,
                          wk_server_worker_gone_fn *gone, void *arg, char err[WK_ERR_LEN]);

/* The reloads so far, for the metrics (kept in the scoreboard, so every worker sees them). */
struct wk_server_reloads {
    uint64_t ok, failed; /* SIGHUPs that renewed the workers, and those refused */
    uint64_t ok_at_ms;   /* wall clock of the last good one, or of the start */
    bool last_ok;        /* the last one was good (or there was none) */
};

/* The reloads of srv's server, as any of its processes sees them. */
void wk_server_reloads(const struct wk_server *srv, struct wk_server_reloads *out);

/* Protocol counters per worker in the scoreboard (httpd: requests by class). */
#define WK_SERVER_COUNTERS 8

/* Worker's protocol counters (write with wk_scoreboard_add()), after wk_server_listen(). */
uint64_t *wk_server_counters(struct wk_server *srv, unsigned worker);

/* Protocol counter i summed over the workers. */
uint64_t wk_server_counter_sum(const struct wk_server *srv, unsigned i);

/* Accepts and serves until stopped. Returns 0 after a graceful stop, or -errno. */
int wk_server_run(struct wk_server *srv);

/* Closes listeners and connections and frees the loop. */
void wk_server_fini(struct wk_server *srv);

/* For conn.c: a connection closed. Resumes accepting below max_conns. */
void wk_server_conn_closed(struct wk_server *srv);

#endif
