/*
 * listener.h: one listening socket: socket/setsockopt/bind/listen for IPv4,
 * IPv6 (dual stack for the unspecified address) and AF_UNIX, with the real
 * address read back after binding port 0; accept4 in bounded batches.
 *
 * When accept fails for lack of file descriptors (EMFILE, ENFILE) or memory,
 * the listener stops watching its socket and resumes after a short delay, so
 * the loop neither spins nor dies. The owner can also pause it (connection
 * limit) and resume it.
 */
#ifndef WK_LISTENER_H
#define WK_LISTENER_H

#include <stdbool.h>

#include "common/addr.h"
#include "common/loop.h"
#include "common/registry.h"

struct wk_listener;
struct wk_tls;

/*
 * Called for each accepted socket (nonblocking, close-on-exec). The callee
 * owns fd. peer is the client's address (for an unnamed AF_UNIX peer, just the family).
 */
typedef void wk_accept_fn(struct wk_listener *l, int fd, const struct sockaddr *peer,
                          socklen_t peerlen);

struct wk_listener {
    int fd;
    struct wk_addr addr;       /* as bound: the real port after port 0 */
    char name[WK_ADDR_STRLEN]; /* addr printed, as in log lines */
    struct wk_loop *loop;
    struct wk_io io;
    struct wk_timer resume; /* fires after an EMFILE pause */
    wk_accept_fn *on_accept;
    void *data;          /* owner's pointer */
    bool watching;       /* io registered with the loop */
    bool paused;         /* paused by the owner */
    bool deferred;       /* TCP_DEFER_ACCEPT: accepted sockets have data waiting */
    struct wk_tls *tls;  /* TLS context of a TLS listener (not owned), else NULL */
    const char *service; /* what the protocol serves here ("http", "smtps"), or NULL */
    bool inherited;      /* adopted from the service manager, not bound here */
    bool exclusive;      /* shared with other processes: wake one of them (EPOLLEXCLUSIVE) */
    struct wk_registry *counters; /* this worker's counters of it, in the scoreboard */
};

/*
 * Binds and listens on addr with the given backlog; does not accept yet.
 * Returns 0, or -errno with a message naming the address in err (a port
 * below 1024 without the privilege to bind it gets an explanation).
 */
int wk_listener_open(struct wk_listener *l, const struct wk_addr *addr, int backlog,
                     char err[WK_ERR_LEN]);

/*
 * Takes over fd, a listening socket bound to addr by someone else (systemd's
 * socket activation), set up as wk_listener_open() sets up its own; its
 * backlog and options stay as they were made. Closing it never unlinks an
 * AF_UNIX path: that belongs to whoever made it.
 */
void wk_listener_adopt(struct wk_listener *l, int fd, const struct wk_addr *addr);

/* Starts accepting on loop, calling on_accept for each connection. Returns 0 or -errno. */
int wk_listener_start(struct wk_listener *l, struct wk_loop *loop, wk_accept_fn *on_accept,
                      void *data);

/*
 * Lets the kernel hand over a connection only once the client has sent
 * something (or after about seconds): for protocols where the client speaks
 * first, it saves a wakeup per connection. Never for SMTP, where the server
 * speaks first. A no-op for AF_UNIX. Returns 0 or -errno.
 */
int wk_listener_defer_accept(struct wk_listener *l, int seconds);

/* Stops accepting until wk_listener_resume(); pending clients wait in the backlog. */
void wk_listener_pause(struct wk_listener *l);
void wk_listener_resume(struct wk_listener *l);

/*
 * Stops accepting and closes the socket, unlinking an AF_UNIX path it
 * created, unless it was inherited or is a worker's shared copy (exclusive).
 */
void wk_listener_close(struct wk_listener *l);

#endif
