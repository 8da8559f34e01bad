/*
 * sockview.c: the join of a server's registry with the kernel's sockets.
 * A registry entry and a kernel socket are the same connection when they
 * have the same listener port and the same peer address and port.
 */
#include "common/sockview.h"

#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "common/addr.h"
#include "common/conn.h"
#include "common/listener.h"
#include "common/scoreboard.h"
#include "common/server.h"
#include "common/sockinfo.h"

static bool same_ip(const union wk_ipaddr *a, const union wk_ipaddr *b)
{
    if (a->sa.sa_family != b->sa.sa_family)
        return false;
    if (a->sa.sa_family == AF_INET)
        return a->in.sin_addr.s_addr == b->in.sin_addr.s_addr;
    return memcmp(&a->in6.sin6_addr, &b->in6.sin6_addr, sizeof a->in6.sin6_addr) == 0;
}

static bool same_endpoint(const union wk_ipaddr *a, const union wk_ipaddr *b)
{
    return same_ip(a, b) && wk_addr_port(&a->sa) == wk_addr_port(&b->sa);
}

static bool is_any(const union wk_ipaddr *a)
{
    if (a->sa.sa_family == AF_INET)
        return a->in.sin_addr.s_addr == htonl(INADDR_ANY);
    return a->sa.sa_family == AF_INET6 && IN6_IS_ADDR_UNSPECIFIED(&a->in6.sin6_addr);
}

static bool is_tcp(const struct wk_listener *l)
{
    int f = l->addr.u.sa.sa_family;
    return f == AF_INET || f == AF_INET6;
}

/* The listener a kernel socket (not a listening one) arrived through, or NULL. */
static const struct wk_listener *owner_of(const struct wk_server *srv, const struct wk_sockinfo *k)
{
    const struct wk_listener *wildcard = NULL;
    for (size_t i = 0; i < srv->nlisteners; i++) {
        const struct wk_listener *l = &srv->listeners[i];
        const union wk_ipaddr *la = (const union wk_ipaddr *)&l->addr.u;
        if (!is_tcp(l) || wk_addr_port(&l->addr.u.sa) != wk_addr_port(&k->local.sa))
            continue;
        if (same_ip(la, &k->local))
            return l;
        /* [::] takes IPv4 clients as well; 0.0.0.0 only IPv4 ones. */
        if (is_any(la) &&
            (la->sa.sa_family == k->local.sa.sa_family || la->sa.sa_family == AF_INET6))
            wildcard = l;
    }
    return wildcard;
}

/* Kernel sockets in the order of their peer's port, so a connection's is found by bisection. */
static int by_peer_port(const void *a, const void *b)
{
    uint16_t x = wk_addr_port(&((const struct wk_sockinfo *)a)->peer.sa);
    uint16_t y = wk_addr_port(&((const struct wk_sockinfo *)b)->peer.sa);
    return (x > y) - (x < y);
}

/* The kernel socket of a connection the server holds on l, not yet taken, or NULL. */
static const struct wk_sockinfo *find_kernel(const struct wk_server *srv,
                                             const struct wk_listener *l,
                                             const struct wk_conn_info *info,
                                             const struct wk_sockinfo *ks, size_t nk, bool *used)
{
    uint16_t port = wk_addr_port(&info->peer.sa);
    size_t lo = 0, hi = nk; /* the first with a peer port >= port */
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (wk_addr_port(&ks[mid].peer.sa) < port)
            lo = mid + 1;
        else
            hi = mid;
    }
    for (size_t i = lo; i < nk && wk_addr_port(&ks[i].peer.sa) == port; i++) {
        if (!used[i] && ks[i].state != TCP_LISTEN && same_ip(&ks[i].peer, &info->peer) &&
            owner_of(srv, &ks[i]) == l) {
            used[i] = true;
            return &ks[i];
        }
    }
    return NULL;
}

static void json_addr(struct wk_json *j, const struct sockaddr *sa)
{
    char text[WK_ADDR_STRLEN];
    size_t n = wk_addr_format(
        sa, sa->sa_family == AF_INET ? sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6),
        text, sizeof text);
    wk_json_string_n(j, text, n);
}

static void kernel_fields(struct wk_json *j, const struct wk_sockinfo *k)
{
    wk_json_key(j, "recv_q");
    if (k != NULL)
        wk_json_uint(j, k->rqueue);
    else
        wk_json_null(j);
    wk_json_key(j, "send_q");
    if (k != NULL)
        wk_json_uint(j, k->wqueue);
    else
        wk_json_null(j);
    wk_json_key(j, "tcp");
    if (k == NULL || !k->has_tcp) {
        wk_json_null(j);
        return;
    }
    wk_json_object(j);
    wk_json_key(j, "rtt_us");
    wk_json_uint(j, k->rtt_us);
    wk_json_key(j, "rttvar_us");
    wk_json_uint(j, k->rttvar_us);
    wk_json_key(j, "cwnd");
    wk_json_uint(j, k->snd_cwnd);
    wk_json_key(j, "retrans");
    wk_json_uint(j, k->total_retrans);
    wk_json_key(j, "bytes_acked");
    wk_json_uint(j, k->bytes_acked);
    wk_json_key(j, "bytes_received");
    wk_json_uint(j, k->bytes_received);
    wk_json_close(j);
}

/* One connection the server holds, with its kernel socket k (NULL if the kernel had none). */
static void held_socket(struct wk_json *j, const struct wk_server *srv,
                        const struct wk_conn_info *info, const struct wk_sockinfo *k)
{
    wk_json_object(j);
    wk_json_key(j, "local");
    union wk_ipaddr local;
    socklen_t len = sizeof local;
    if (k != NULL)
        json_addr(j, &k->local.sa);
    else if (srv->serving && info->head.worker == srv->worker && /* an fd is its worker's */
             getsockname(info->fd, &local.sa, &len) == 0 && local.sa.sa_family != AF_UNIX)
        json_addr(j, &local.sa);
    else
        wk_json_null(j);
    wk_json_key(j, "peer");
    json_addr(j, &info->peer.sa);
    wk_json_key(j, "state");
    wk_json_string(j, k != NULL ? wk_sockinfo_state_name(k->state) : NULL);
    wk_json_key(j, "worker");
    wk_json_uint(j, info->head.worker);
    wk_json_key(j, "fd");
    wk_json_int(j, info->fd);
    wk_json_key(j, "age_ms");
    uint64_t now = wk_loop_now(srv->loop); /* read at this turn's start: another worker's */
    wk_json_uint(j, now > info->accepted_ms ? now - info->accepted_ms : 0); /* may be newer */
    wk_json_key(j, "accepted_at");
    wk_json_int(j, (int64_t)info->accepted_at);
    wk_json_key(j, "bytes_in");
    wk_json_uint(j, info->bytes_in);
    wk_json_key(j, "bytes_out");
    wk_json_uint(j, info->bytes_out);
    wk_json_key(j, "phase");
    if (info->tls_handshaking)
        wk_json_string(j, "tls-handshake");
    else
        wk_json_string_n(j, info->phase, strnlen(info->phase, sizeof info->phase));
    wk_json_key(j, "progress");
    wk_json_uint(j, info->progress);
    wk_json_key(j, "total");
    wk_json_uint(j, info->total);
    wk_json_key(j, "tls");
    if (info->tls_version[0] != '\0') {
        wk_json_object(j);
        wk_json_key(j, "version");
        wk_json_string_n(j, info->tls_version,
                         strnlen(info->tls_version, sizeof info->tls_version));
        wk_json_key(j, "cipher");
        wk_json_string_n(j, info->tls_cipher, strnlen(info->tls_cipher, sizeof info->tls_cipher));
        wk_json_key(j, "ktls");
        wk_json_bool(j, info->tls_ktls);
        wk_json_close(j);
    } else {
        wk_json_null(j);
    }
    kernel_fields(j, k);
    wk_json_close(j);
}

/* A socket on the listener's port that no process holds (or not yet). */
static void kernel_socket(struct wk_json *j, const struct wk_sockinfo *k)
{
    static const char *const absent[] = {"worker",   "fd",        "age_ms", "accepted_at",
                                         "bytes_in", "bytes_out", "phase",  "progress",
                                         "total",    "tls"};
    wk_json_object(j);
    wk_json_key(j, "local");
    json_addr(j, &k->local.sa);
    wk_json_key(j, "peer");
    json_addr(j, &k->peer.sa);
    wk_json_key(j, "state");
    wk_json_string(j, wk_sockinfo_state_name(k->state));
    for (size_t i = 0; i < sizeof absent / sizeof absent[0]; i++) {
        wk_json_key(j, absent[i]);
        wk_json_null(j);
    }
    kernel_fields(j, k);
    wk_json_close(j);
}

/* Copies of the entries of every worker's connections. */
struct held {
    struct wk_conn_info *v;
    size_t n, cap;
};

static void collect(const void *slot, void *arg)
{
    struct held *h = arg;
    if (((const struct wk_conn_info *)slot)->closed)
        return;
    if (h->n == h->cap) {
        size_t cap = h->cap ? h->cap * 2 : 64;
        struct wk_conn_info *v = realloc(h->v, cap * sizeof *v);
        if (v == NULL)
            return; /* fewer rows, never a wrong one */
        h->v = v;
        h->cap = cap;
    }
    h->v[h->n++] = *(const struct wk_conn_info *)slot;
}

/* Oldest first; within a millisecond, by worker and fd, so that the order is always the same. */
static int by_age(const void *a, const void *b)
{
    const struct wk_conn_info *x = a, *y = b;
    if (x->accepted_ms != y->accepted_ms)
        return x->accepted_ms > y->accepted_ms ? 1 : -1;
    if (x->head.worker != y->head.worker)
        return x->head.worker > y->head.worker ? 1 : -1;
    return (x->fd > y->fd) - (x->fd < y->fd);
}

static void listener_json(struct wk_json *j, const struct wk_server *srv,
                          const struct wk_listener *l, const struct held *held,
                          struct wk_sockinfo *ks, ssize_t nk, bool *used)
{
    const union wk_ipaddr *la = (const union wk_ipaddr *)&l->addr.u;
    const struct wk_sockinfo *lk = NULL; /* the listening socket itself */
    for (ssize_t i = 0; i < nk && is_tcp(l); i++) {
        if (ks[i].state == TCP_LISTEN && same_endpoint(&ks[i].local, la))
            lk = &ks[i];
    }
    wk_json_object(j);
    wk_json_key(j, "addr");
    wk_json_string(j, l->name);
    wk_json_key(j, "port");
    wk_json_uint(j, wk_addr_port(&l->addr.u.sa));
    wk_json_key(j, "fd");
    if (l->fd >= 0)
        wk_json_int(j, l->fd);
    else
        wk_json_null(j); /* closed: the server is stopping */
    wk_json_key(j, "service");
    wk_json_string(j, l->service);
    wk_json_key(j, "tls");
    wk_json_bool(j, l->tls != NULL);
    wk_json_key(j, "state");
    wk_json_string(j, lk != NULL ? wk_sockinfo_state_name(lk->state) : NULL);
    wk_json_key(j, "accept_queue");
    if (lk != NULL)
        wk_json_uint(j, lk->rqueue);
    else
        wk_json_null(j);
    wk_json_key(j, "backlog");
    if (lk != NULL)
        wk_json_uint(j, lk->wqueue);
    else
        wk_json_null(j);
    struct wk_registry r;
    unsigned index = (unsigned)(l - srv->listeners);
    wk_registry_sum(srv->board, index, &r);
    wk_json_key(j, "accepted");
    wk_json_uint(j, r.accepted);
    wk_json_key(j, "open");
    wk_json_uint(j, r.accepted - r.closed);
    wk_json_key(j, "closed");
    wk_json_uint(j, r.closed);
    wk_json_key(j, "sockets");
    wk_json_array(j);
    /* The connections its workers hold, oldest first, each with its kernel socket. */
    for (size_t i = 0; i < held->n; i++) {
        const struct wk_conn_info *info = &held->v[i];
        if (info->listener == index)
            held_socket(j, srv, info, find_kernel(srv, l, info, ks, (size_t)nk, used));
    }
    /* Then what only the kernel has: TIME-WAIT, not yet accepted, and the like. */
    for (ssize_t i = 0; i < nk; i++) {
        if (used[i] || ks[i].state == TCP_LISTEN || owner_of(srv, &ks[i]) != l)
            continue;
        used[i] = true;
        kernel_socket(j, &ks[i]);
    }
    wk_json_close(j);
    wk_json_close(j);
}

void wk_sockview_server(struct wk_json *j, const struct wk_server *srv, const char *name)
{
    uint16_t ports[WK_SOCKINFO_MAX_PORTS];
    size_t nports = 0;
    for (size_t i = 0; i < srv->nlisteners && nports < WK_SOCKINFO_MAX_PORTS; i++) {
        if (is_tcp(&srv->listeners[i]))
            ports[nports++] = wk_addr_port(&srv->listeners[i].addr.u.sa);
    }
    struct wk_sockinfo *ks = NULL;
    char err[WK_ERR_LEN] = "";
    ssize_t nk = nports ? wk_sockinfo_query(ports, nports, WK_SOCKVIEW_MAX_SOCKETS, &ks, err) : 0;
    bool *used = nk > 0 ? calloc((size_t)nk, sizeof *used) : NULL;
    if (nk > 0 && used == NULL) {
        snprintf(err, sizeof err, "out of memory");
        nk = -1;
    }
    if (nk < 0)
        nk = 0; /* the registry alone, and why */
    if (nk > 1)
        qsort(ks, (size_t)nk, sizeof *ks, by_peer_port);
    struct held held = {0};
    if (srv->board != NULL)
        wk_scoreboard_each(srv->board, collect, &held);
    if (held.n > 1)
        qsort(held.v, held.n, sizeof *held.v, by_age);
    wk_json_object(j);
    wk_json_key(j, "name");
    wk_json_string(j, name);
    wk_json_key(j, "running");
    wk_json_bool(j, true);
    wk_json_key(j, "error");
    wk_json_null(j);
    wk_json_key(j, "kernel_error");
    wk_json_string(j, err[0] ? err : NULL);
    wk_json_key(j, "pid");
    wk_json_int(j, getpid());
    wk_json_key(j, "version");
    wk_json_string(j, WK_VERSION);
    wk_json_key(j, "started_ms");
    wk_json_uint(j, srv->started_ms);
    wk_json_key(j, "listeners");
    wk_json_array(j);
    for (size_t i = 0; i < srv->nlisteners; i++)
        listener_json(j, srv, &srv->listeners[i], &held, ks, nk, used);
    wk_json_close(j);
    wk_json_close(j);
    free(held.v);
    free(used);
    free(ks);
}

void wk_sockview_absent(struct wk_json *j, const char *name, const char *why)
{
    wk_json_object(j);
    wk_json_key(j, "name");
    wk_json_string(j, name);
    wk_json_key(j, "running");
    wk_json_bool(j, false);
    wk_json_key(j, "error");
    wk_json_string(j, why);
    wk_json_key(j, "listeners");
    wk_json_array(j);
    wk_json_close(j);
    wk_json_close(j);
}
