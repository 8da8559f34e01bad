/*
 * cidr.h: access lists of IP networks ("10.0.0.0/8", "fd00::/8"), for
 * deciding which clients may see the built-in pages. Parsing and matching
 * only: nothing here allocates, resolves names or touches a socket.
 *
 * Rules, in one place:
 * - A network is an address literal, optionally followed by "/prefix" in
 *   decimal (no sign, no leading zero). Without a prefix it is one host (/32
 *   or /128). No brackets, no zone ("%eth0"), no whitespace.
 * - Bits set past the prefix ("10.0.0.1/8") are refused with -EINVAL rather
 *   than masked: such a network is almost always a typo for a host or for
 *   another prefix, and silently widening it would open the list.
 * - An IPv4-mapped IPv6 client (::ffff:a.b.c.d, as a dual-stack listener
 *   reports an IPv4 peer) is an IPv4 client: it matches IPv4 networks and
 *   never IPv6 ones, so the answer does not depend on the listener. For the
 *   same reason a mapped network ("::ffff:10.0.0.0/104", prefix >= 96) is
 *   stored as the IPv4 network it means (10.0.0.0/8), and "::/0" matches
 *   IPv6 clients only: write "0.0.0.0/0" as well to admit everyone.
 * - AF_UNIX clients always match: a Unix socket is reachable only from this
 *   host, and who may connect is decided by the socket file's permissions.
 */
#ifndef WK_CIDR_H
#define WK_CIDR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "common/wk.h"

/* Room for the longest formatted network, NUL included: a full IPv6 literal and "/128". */
#define WK_CIDR_STRLEN (46 + 4)

/* Networks one list holds; wk_cidr_list_add() refuses more. */
#define WK_CIDR_LIST_MAX 32

/* One IP network; addr holds the network address (host bits zero), network byte order. */
struct wk_cidr {
    int family;       /* AF_INET or AF_INET6 */
    unsigned prefix;  /* 0-32 or 0-128 */
    uint8_t addr[16]; /* AF_INET uses the first 4 bytes; the rest stay zero */
};

/* A bounded list of networks, embedded by its owner; no memory of its own. */
struct wk_cidr_list {
    size_t n;
    struct wk_cidr v[WK_CIDR_LIST_MAX];
};

/*
 * Parses the network s[0..len) (not NUL-terminated) into *out, following the
 * rules above. Returns 0, or -EINVAL for anything else (*out is then
 * unspecified).
 */
int wk_cidr_parse(const char *s, size_t len, struct wk_cidr *out);

/*
 * Writes c as "address/prefix" (the prefix always shown) and a NUL into
 * out[0..len). Returns the length written without the NUL, or 0 if it does
 * not fit (out then holds "" when len > 0). WK_CIDR_STRLEN always fits.
 */
size_t wk_cidr_format(const struct wk_cidr *c, char *out, size_t len);

/* Empties the list (an empty list admits AF_UNIX clients only). */
void wk_cidr_list_init(struct wk_cidr_list *l);

/*
 * Appends a copy of *c. Returns 0 (also when an identical network is already
 * there: it is not added twice), or -ENOSPC when the list holds
 * WK_CIDR_LIST_MAX networks.
 */
int wk_cidr_list_add(struct wk_cidr_list *l, const struct wk_cidr *c);

/*
 * Parses s[0..len), one or more networks separated by commas, with blanks
 * allowed around each (an option's value: "10.0.0.0/8, fd00::/8"), and
 * appends them. Returns 0, or -EINVAL /
 * -ENOSPC with a message naming the bad network in err; the networks before
 * it stay added.
 */
int wk_cidr_list_parse(struct wk_cidr_list *l, const char *s, size_t len, char err[WK_ERR_LEN]);

/*
 * Replaces the list's content with the default: loopback (127.0.0.0/8,
 * ::1/128), the private (RFC 1918, RFC 4193) and link-local ranges, and
 * 100.64.0.0/10 (see cidr.c for why).
 */
void wk_cidr_list_private(struct wk_cidr_list *l);

/*
 * Whether the client address sa (AF_INET, AF_INET6 or AF_UNIX; read as far
 * as its family says) lies in one of the list's networks. AF_UNIX always
 * matches; other families and NULL never do.
 */
bool wk_cidr_list_match(const struct wk_cidr_list *l, const struct sockaddr *sa);

#endif
