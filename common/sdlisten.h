/*
 * sdlisten.h: socket activation: the listening sockets a service manager
 * (systemd's .socket units, systemd-socket-activate) opened and passed to
 * this process as fds 3, 4, ... with LISTEN_PID and LISTEN_FDS in the
 * environment, as sd_listen_fds(3) reads them, without libsystemd.
 *
 * Each inherited socket is known by the address it is bound to, so that the
 * server can match it with an address it was told to listen on: same family,
 * address and port (and IPv6 scope), or for AF_UNIX the same path text. A
 * configured port 0 names no port and so never matches. LISTEN_FDNAMES is
 * not used.
 */
#ifndef WK_SDLISTEN_H
#define WK_SDLISTEN_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "common/addr.h"

/* The first fd a service manager passes (SD_LISTEN_FDS_START). */
#define WK_SDLISTEN_FIRST_FD 3
/* Most sockets taken from LISTEN_FDS: far above any sensible unit. */
#define WK_SDLISTEN_MAX 1024

struct wk_sdlisten_socket {
    int fd;                    /* the inherited fd; -1 once taken */
    struct wk_addr addr;       /* as the socket is bound (getsockname) */
    char name[WK_ADDR_STRLEN]; /* addr printed ("[::]:80", "unix:/run/x", "unix:@name") */
};

/* A zeroed struct is valid and empty. */
struct wk_sdlisten {
    struct wk_sdlisten_socket *v;
    size_t n;
};

/*
 * How many sockets LISTEN_PID and LISTEN_FDS (their values, NULL when unset)
 * pass to the process self: 0 when either is unset or LISTEN_PID names
 * another process. Returns the count, or -EINVAL with a message naming the
 * variable in err when a value is not a number or the count is out of range.
 */
ssize_t wk_sdlisten_count(const char *listen_pid, const char *listen_fds, pid_t self,
                          char err[WK_ERR_LEN]);

/*
 * Takes the sockets passed to this process: reads LISTEN_PID and LISTEN_FDS,
 * then unsets them and LISTEN_FDNAMES (whatever they held) so that no child
 * takes them for its own. Every fd must be a listening stream socket; each
 * becomes nonblocking and close-on-exec. Returns 0 (sl->n is 0 when nothing
 * was passed), or -errno with a message naming the fd in err (sl is then
 * empty and the fds are left open).
 */
int wk_sdlisten_open(struct wk_sdlisten *sl, char err[WK_ERR_LEN]);

/* True when a and b name the same bound address (see the top of this file). */
bool wk_sdlisten_same_addr(const struct wk_addr *a, const struct wk_addr *b);

/*
 * The index of the socket not yet taken that is bound to addr, or -1. A
 * TCP address with port 0 never matches.
 */
ssize_t wk_sdlisten_find(const struct wk_sdlisten *sl, const struct wk_addr *addr);

/* Hands socket i over: the caller owns the returned fd from now on. */
int wk_sdlisten_take(struct wk_sdlisten *sl, size_t i);

/* The number of sockets not yet taken. */
size_t wk_sdlisten_left(const struct wk_sdlisten *sl);

/* Closes every socket not taken and frees the table; sl is then empty. */
void wk_sdlisten_close(struct wk_sdlisten *sl);

#endif
