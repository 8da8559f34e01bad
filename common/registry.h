/*
 * registry.h: what the socket view shows of a server's connections. Each
 * connection's entry (struct wk_conn_info) is a slot of the server's
 * scoreboard (common/scoreboard.h), and each listener's counters a block of
 * it per worker, so that every process of the server reads what all of them
 * hold. Nothing here does I/O; the entries and counters are written by the
 * worker that owns them (common/conn.c) and read anywhere.
 */
#ifndef WK_REGISTRY_H
#define WK_REGISTRY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "common/addr.h"
#include "common/scoreboard.h"

#define WK_PHASE_MAX       16 /* "reading-request" and its NUL */
#define WK_TLS_VERSION_MAX 8  /* "TLSv1.3" */
#define WK_TLS_CIPHER_MAX  48 /* "ECDHE-ECDSA-CHACHA20-POLY1305" */

/*
 * One open connection, as any process of the server may read it: no pointer
 * and nothing that means something in one process only, but for fd, which
 * is the owning worker's.
 */
struct wk_conn_info {
    struct wk_scoreboard_slot_head head; /* first: the scoreboard's (worker, seqlock) */
    uint16_t listener;                   /* index of the listener it came through */
    int fd;                              /* the worker's fd for this connection */
    union wk_ipaddr peer;                /* client address and port (AF_UNIX: no address) */
    uint64_t accepted_ms;                /* monotonic (the same clock in every process) */
    int64_t accepted_at;                 /* wall clock, seconds */
    uint64_t bytes_in;                   /* application bytes read and written: */
    uint64_t bytes_out;                  /* wk_scoreboard_add(), readable without the seqlock */
    uint64_t progress;        /* phase-specific: bytes of a body sent, of a message received */
    uint64_t total;           /* phase-specific: their expected total, 0 if unknown */
    char phase[WK_PHASE_MAX]; /* set by the protocol, e.g. "idle" */
    char tls_version[WK_TLS_VERSION_MAX]; /* once a TLS handshake is done, else "" */
    char tls_cipher[WK_TLS_CIPHER_MAX];   /* its cipher suite, else "" */
    bool tls_handshaking;                 /* TLS: the handshake is under way */
    bool tls_ktls; /* TLS: the kernel encrypts what is sent (file bodies by sendfile) */
    bool closed;   /* closed, its slot not yet given back: no view shows it */
};

/*
 * A listener's counters in one worker, since the start; the socket view
 * sums them over the workers. Written with wk_scoreboard_add().
 */
struct wk_registry {
    uint64_t accepted;
    uint64_t closed;
    uint64_t bytes_in; /* of the connections closed so far */
    uint64_t bytes_out;
    uint64_t tls_handshakes; /* TLS handshakes completed */
    uint64_t tls_failures;   /* and failed or timed out */
};

/* Sums the counters of listener over every worker of sb into *out. */
void wk_registry_sum(const struct wk_scoreboard *sb, unsigned listener, struct wk_registry *out);

/* Copies a string into a fixed field of an entry, cut to fit, NUL-terminated. */
void wk_registry_copy(char *dst, size_t cap, const char *src);

#endif
