/*
 * addr.h: parse and print socket addresses as the command line writes them:
 * "host:port", "[v6]:port", ":port" (every address, IPv6 dual stack) and
 * "unix:PATH". Port 0 means any free port. No sockets are created here.
 */
#ifndef WK_ADDR_H
#define WK_ADDR_H

#include <stdbool.h>
#include <stdint.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "common/wk.h"

/* Room for the longest printed address: "unix:" and a full sun_path, or "[v6%scope]:port". */
#define WK_ADDR_STRLEN (5 + sizeof(((struct sockaddr_un *)0)->sun_path) + 1)

/* Any address a listener can bind. */
struct wk_addr {
    union {
        struct sockaddr sa;
        struct sockaddr_in in;
        struct sockaddr_in6 in6;
        struct sockaddr_un un;
    } u;
    socklen_t len;
};

/* An IPv4 or IPv6 address and port: small enough to keep per connection. */
union wk_ipaddr {
    struct sockaddr sa;
    struct sockaddr_in in;
    struct sockaddr_in6 in6;
};

/*
 * Parses s into *out. Host names are resolved (at startup only: this blocks),
 * taking the first address. Returns 0, or -EINVAL with a message naming s in
 * err.
 */
int wk_addr_parse(const char *s, struct wk_addr *out, char err[WK_ERR_LEN]);

/*
 * Parses n addresses into a new array *out (free() it). Returns 0, or
 * -EINVAL / -ENOMEM with a message naming the bad address in err.
 */
int wk_addr_parse_all(char *const *v, size_t n, struct wk_addr **out, char err[WK_ERR_LEN]);

/*
 * Prints sa as "1.2.3.4:80", "[::1]:80" or "unix:/path" into out (always
 * NUL-terminated, truncated to outlen). Returns the length printed.
 */
size_t wk_addr_format(const struct sockaddr *sa, socklen_t len, char *out, size_t outlen);

/* Prints only the host part: "1.2.3.4", "::1" (no brackets), or "unix". */
size_t wk_addr_format_host(const struct sockaddr *sa, char *out, size_t outlen);

/* The port of an IPv4 or IPv6 address in host order, 0 for others. */
uint16_t wk_addr_port(const struct sockaddr *sa);

/* True for addresses in 127.0.0.0/8, ::1 and ::ffff:127.0.0.0/104. */
bool wk_addr_is_loopback(const struct sockaddr *sa);

#endif
