/*
 * registry.h: every open connection of a listener, with what the socket view
 * shows of it. Each connection embeds a struct wk_conn_info; the listener's
 * registry links them. Nothing here does I/O.
 */
#ifndef WK_REGISTRY_H
#define WK_REGISTRY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "common/addr.h"

struct wk_conn_info {
    struct wk_conn_info *prev, *next;
    int fd;               /* the server's fd for this connection */
    union wk_ipaddr peer; /* client address and port (family AF_UNIX: no address) */
    uint64_t accepted_ms; /* monotonic */
    time_t accepted_at;   /* wall clock */
    uint64_t bytes_in;
    uint64_t bytes_out;
    const char *phase;       /* static string set by the protocol, e.g. "idle" */
    uint64_t progress;       /* phase-specific: bytes of a body sent, of a message received */
    uint64_t total;          /* phase-specific: their expected total, 0 if unknown */
    const char *tls_version; /* "TLSv1.3" once a TLS handshake is done, else NULL */
    const char *tls_cipher;  /* its cipher suite, else NULL */
    bool tls_handshaking;    /* TLS: the handshake is under way */
    bool tls_ktls;           /* TLS: the kernel encrypts what is sent (file bodies by sendfile) */
};

struct wk_registry {
    struct wk_conn_info head; /* sentinel of a circular list */
    size_t open;
    uint64_t accepted;
    uint64_t closed;
    uint64_t bytes_in; /* of the connections closed so far */
    uint64_t bytes_out;
    uint64_t tls_handshakes; /* TLS handshakes completed */
    uint64_t tls_failures;   /* and failed or timed out */
};

void wk_registry_init(struct wk_registry *r);

/* Links info (counted as accepted and open). */
void wk_registry_add(struct wk_registry *r, struct wk_conn_info *info);

/* Unlinks info (counted as closed). */
void wk_registry_remove(struct wk_registry *r, struct wk_conn_info *info);

#define WK_REGISTRY_FOREACH(r, it)                                                                 \
    for (struct wk_conn_info *it = (r)->head.next; it != &(r)->head; it = it->next)

#endif
