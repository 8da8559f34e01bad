/*
 * sockinfo.h: the kernel's own view of TCP sockets, as `ss -tni` shows it,
 * read through sock_diag netlink (NETLINK_SOCK_DIAG, SOCK_DIAG_BY_FAMILY)
 * for IPv4 and IPv6, in every state, limited to a set of local ports. It
 * owns the netlink socket only for the length of one query; it knows
 * nothing of the servers' own connections (that is the registry).
 */
#ifndef WK_SOCKINFO_H
#define WK_SOCKINFO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "common/addr.h"
#include "common/wk.h"

/* The most local ports one query may ask for. */
#define WK_SOCKINFO_MAX_PORTS 256

/* One TCP socket as the kernel reports it. */
struct wk_sockinfo {
    /*
     * Addresses as the kernel holds them, AF_INET or AF_INET6. An IPv4
     * client of a dual-stack IPv6 listener shows as ::ffff:a.b.c.d, as ss
     * prints it. A listener's peer is the any address with port 0. IPv6
     * link-local addresses carry the interface index as sin6_scope_id.
     */
    union wk_ipaddr local, peer;
    uint8_t state;   /* TCP_ESTABLISHED ... TCP_CLOSING, as <netinet/tcp.h> numbers them */
    uint32_t rqueue; /* bytes not yet read; for LISTEN, connections not yet accepted */
    uint32_t wqueue; /* bytes not yet acknowledged; for LISTEN, the backlog */
    uint32_t uid;    /* owner; 0 for TIME_WAIT and SYN_RECV */
    uint64_t inode;  /* the socket's inode as fstat() shows it; 0 when no fd holds it */
    /*
     * IPV6_V6ONLY, which the kernel also sets on a socket bound to one
     * IPv6 address. To print a listener as ss does: the any address [::]
     * with v6only false is "*" (a dual-stack listener is "*:80", its peer
     * "*:*"), and port 0 is "*" ("0.0.0.0:*", "[::]:*").
     */
    bool v6only;
    /*
     * True when the kernel sent struct tcp_info and the fields below are
     * set (not for TIME_WAIT or SYN_RECV); false leaves them 0.
     */
    bool has_tcp;
    uint32_t rtt_us, rttvar_us; /* smoothed round-trip time and its variation */
    uint32_t snd_cwnd;          /* congestion window, in segments */
    uint32_t retrans;           /* segments retransmitted and not yet acknowledged */
    uint32_t total_retrans;     /* segments retransmitted over the socket's life */
    uint64_t bytes_acked;       /* bytes sent and acknowledged (ss's bytes_acked) */
    uint64_t bytes_received;    /* bytes received (ss's bytes_received) */
};

/*
 * ss's short name for a TCP state: "ESTAB", "SYN-SENT", "SYN-RECV",
 * "FIN-WAIT-1", "FIN-WAIT-2", "TIME-WAIT", "UNCONN" (TCP_CLOSE, as ss
 * prints it), "CLOSE-WAIT", "LAST-ACK", "LISTEN", "CLOSING", and
 * "UNKNOWN" for anything else. Returns a static string.
 */
const char *wk_sockinfo_state_name(uint8_t state);

/*
 * Asks the kernel for the TCP sockets (IPv4 and IPv6, in every state that
 * `ss -ta` shows, LISTEN and TIME_WAIT included) whose local port is one of
 * ports[0..nports), host order, 1 <= nports <= WK_SOCKINFO_MAX_PORTS.
 * Keeps at most max of them, the first the kernel reports. Blocks for at
 * most a couple of seconds (a local netlink dump; in practice well under a
 * millisecond per thousand sockets).
 *
 * On success *out is a malloc'd array the caller frees (NULL when the count
 * is 0) and the count is returned. On failure returns -EINVAL (bad
 * arguments), -ENOMEM, or the -errno of the netlink socket, *out is NULL and
 * err says what failed.
 */
ssize_t wk_sockinfo_query(const uint16_t *ports, size_t nports, size_t max,
                          struct wk_sockinfo **out, char err[WK_ERR_LEN]);

#endif
