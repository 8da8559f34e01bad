/*
 * sdnotify.h: telling a service manager how the server is doing, as
 * systemd's Type=notify expects: newline-separated "VAR=value" assignments
 * ("READY=1", "STOPPING=1", "STATUS=...") sent as one datagram to the
 * AF_UNIX socket that NOTIFY_SOCKET names. Written here directly, without
 * libsystemd. A path starting with '@' is in the abstract namespace.
 *
 * Owns one datagram socket (nonblocking, close-on-exec). Sending never
 * blocks: a manager that is gone or too busy to read costs an error code,
 * nothing more. NOTIFY_SOCKET itself is read by the caller and left set.
 */
#ifndef WK_SDNOTIFY_H
#define WK_SDNOTIFY_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>
#include <sys/un.h>

/* Longest state text wk_sdnotify_sendf() formats. */
#define WK_SDNOTIFY_MAX 1024

/* A zeroed struct is valid and off: sending does nothing, closing is harmless. */
struct wk_sdnotify {
    int fd;                  /* the datagram socket; meaningful only while len > 0 */
    socklen_t len;           /* length of addr; 0: no manager to tell */
    struct sockaddr_un addr; /* where the datagrams go */
};

/*
 * Parses a NOTIFY_SOCKET value of n bytes: "/absolute/path" or "@abstract"
 * (the '@' becomes the leading NUL; the length then counts no trailing NUL).
 * Returns 0 with *addr and *len set, -EINVAL for an empty, relative or
 * otherwise unsupported value (such as "vsock:"), or -ENAMETOOLONG.
 */
int wk_sdnotify_parse(const char *s, size_t n, struct sockaddr_un *addr, socklen_t *len);

/*
 * Prepares to notify the socket named by value (NOTIFY_SOCKET's value, NUL
 * terminated). value NULL: off, returns 0. Returns 0, or -errno (the struct
 * is then off).
 */
int wk_sdnotify_open(struct wk_sdnotify *n, const char *value);

/* True when a manager is listening (wk_sdnotify_open() succeeded with a value). */
bool wk_sdnotify_is_on(const struct wk_sdnotify *n);

/*
 * Sends state (len bytes, e.g. "READY=1\nSTATUS=serving") as one datagram,
 * without blocking. Returns 0 (also when off), or -errno: -EAGAIN when the
 * manager's queue is full, -ECONNREFUSED or -ENOENT when nobody listens.
 */
int wk_sdnotify_send(struct wk_sdnotify *n, const char *state, size_t len);

/*
 * The same with printf formatting, at most WK_SDNOTIFY_MAX bytes. Returns
 * as wk_sdnotify_send(), or -EMSGSIZE for a longer text (nothing is sent).
 */
int wk_sdnotify_sendf(struct wk_sdnotify *n, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Closes the socket; n is then off. */
void wk_sdnotify_close(struct wk_sdnotify *n);

#endif
