/*
 * addr.c: socket addresses as text and back. Resolving a host name blocks,
 * so wk_addr_parse() is for startup; printing never blocks.
 */
#include "common/addr.h"

#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int parse_port(const char *s, uint16_t *port)
{
    if (*s == '\0' || strlen(s) > 5)
        return -EINVAL;
    unsigned long v = 0;
    for (const char *p = s; *p; p++) {
        if (*p < '0' || *p > '9')
            return -EINVAL;
        v = v * 10 + (unsigned long)(*p - '0');
    }
    if (v > 65535)
        return -EINVAL;
    *port = (uint16_t)v;
    return 0;
}

static int parse_unix(const char *path, struct wk_addr *out, char err[WK_ERR_LEN])
{
    size_t n = strlen(path);
    if (n == 0 || n >= sizeof out->u.un.sun_path) {
        snprintf(err, WK_ERR_LEN, "unix:%s: the path must be 1 to %zu bytes", path,
                 sizeof out->u.un.sun_path - 1);
        return -EINVAL;
    }
    memset(out, 0, sizeof *out);
    out->u.un.sun_family = AF_UNIX;
    memcpy(out->u.un.sun_path, path, n + 1);
    out->len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + 1);
    return 0;
}

static int resolve(const char *host, uint16_t port, bool v6_literal, struct wk_addr *out,
                   const char *orig, char err[WK_ERR_LEN])
{
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_ADDRCONFIG};
    struct addrinfo *res = NULL;
    if (v6_literal) {
        hints.ai_family = AF_INET6;
        hints.ai_flags = AI_NUMERICHOST;
    }
    int rc = getaddrinfo(host, NULL, &hints, &res);
    if (rc != 0 && !v6_literal) {
        hints.ai_flags = 0; /* AI_ADDRCONFIG hides ::1 on hosts without IPv6 routes */
        rc = getaddrinfo(host, NULL, &hints, &res);
    }
    if (rc != 0) {
        snprintf(err, WK_ERR_LEN, "%.120s: cannot resolve \"%.120s\": %s", orig, host,
                 gai_strerror(rc));
        return -EINVAL;
    }
    memset(out, 0, sizeof *out);
    memcpy(&out->u, res->ai_addr, res->ai_addrlen);
    out->len = res->ai_addrlen;
    if (out->u.sa.sa_family == AF_INET)
        out->u.in.sin_port = htons(port);
    else
        out->u.in6.sin6_port = htons(port);
    freeaddrinfo(res);
    return 0;
}

int wk_addr_parse(const char *s, struct wk_addr *out, char err[WK_ERR_LEN])
{
    if (strncmp(s, "unix:", 5) == 0)
        return parse_unix(s + 5, out, err);

    char host[256];
    const char *colon;
    bool v6 = false;
    if (s[0] == '[') {
        const char *close = strchr(s, ']');
        if (close == NULL || close[1] != ':' || (size_t)(close - s - 1) >= sizeof host)
            goto bad;
        memcpy(host, s + 1, (size_t)(close - s - 1));
        host[close - s - 1] = '\0';
        colon = close + 1;
        v6 = true;
    } else {
        colon = strrchr(s, ':');
        if (colon == NULL || (size_t)(colon - s) >= sizeof host ||
            memchr(s, ':', (size_t)(colon - s)))
            goto bad;
        memcpy(host, s, (size_t)(colon - s));
        host[colon - s] = '\0';
    }
    uint16_t port;
    if (parse_port(colon + 1, &port) < 0) {
        snprintf(err, WK_ERR_LEN, "%s: the port must be a number from 0 to 65535", s);
        return -EINVAL;
    }
    if (host[0] == '\0' && !v6) {
        /* ":port" means every address: IPv6 any, dual stack. */
        memset(out, 0, sizeof *out);
        out->u.in6.sin6_family = AF_INET6;
        out->u.in6.sin6_addr = in6addr_any;
        out->u.in6.sin6_port = htons(port);
        out->len = sizeof out->u.in6;
        return 0;
    }
    return resolve(host, port, v6, out, s, err);

bad:
    snprintf(err, WK_ERR_LEN,
             "%s: not an address (expected host:port, [v6]:port, :port or unix:PATH)", s);
    return -EINVAL;
}

int wk_addr_parse_all(char *const *v, size_t n, struct wk_addr **out, char err[WK_ERR_LEN])
{
    *out = calloc(n ? n : 1, sizeof **out);
    if (*out == NULL) {
        snprintf(err, WK_ERR_LEN, "addresses: out of memory");
        return -ENOMEM;
    }
    for (size_t i = 0; i < n; i++) {
        int rc = wk_addr_parse(v[i], &(*out)[i], err);
        if (rc < 0)
            return rc;
    }
    return 0;
}

size_t wk_addr_format_host(const struct sockaddr *sa, char *out, size_t outlen)
{
    const void *src;
    if (sa->sa_family == AF_INET)
        src = &((const struct sockaddr_in *)sa)->sin_addr;
    else if (sa->sa_family == AF_INET6)
        src = &((const struct sockaddr_in6 *)sa)->sin6_addr;
    else
        return (size_t)snprintf(out, outlen, "unix");
    if (inet_ntop(sa->sa_family, src, out, (socklen_t)outlen) == NULL) {
        if (outlen)
            out[0] = '\0';
        return 0;
    }
    return strlen(out);
}

size_t wk_addr_format(const struct sockaddr *sa, socklen_t len, char *out, size_t outlen)
{
    char host[INET6_ADDRSTRLEN];
    int n;
    if (outlen == 0)
        return 0;
    switch (sa->sa_family) {
    case AF_INET:
        wk_addr_format_host(sa, host, sizeof host);
        n = snprintf(out, outlen, "%s:%u", host, wk_addr_port(sa));
        break;
    case AF_INET6: {
        /* A link-local address means nothing without its interface: "[fe80::1%eth0]:80". */
        uint32_t scope = ((const struct sockaddr_in6 *)sa)->sin6_scope_id;
        char ifname[IF_NAMESIZE + 12] = "";
        if (scope != 0 && if_indextoname(scope, ifname + 1) != NULL)
            ifname[0] = '%';
        else if (scope != 0)
            snprintf(ifname, sizeof ifname, "%%%u", (unsigned)scope);
        wk_addr_format_host(sa, host, sizeof host);
        n = snprintf(out, outlen, "[%s%s]:%u", host, ifname, wk_addr_port(sa));
        break;
    }
    case AF_UNIX: {
        const struct sockaddr_un *un = (const struct sockaddr_un *)sa;
        size_t plen = len > offsetof(struct sockaddr_un, sun_path)
                          ? strnlen(un->sun_path, len - offsetof(struct sockaddr_un, sun_path))
                          : 0;
        n = plen ? snprintf(out, outlen, "unix:%.*s", (int)plen, un->sun_path)
                 : snprintf(out, outlen, "unix");
        break;
    }
    default:
        n = snprintf(out, outlen, "unknown");
    }
    if (n < 0)
        n = 0;
    return (size_t)n < outlen ? (size_t)n : outlen - 1;
}

uint16_t wk_addr_port(const struct sockaddr *sa)
{
    if (sa->sa_family == AF_INET)
        return ntohs(((const struct sockaddr_in *)sa)->sin_port);
    if (sa->sa_family == AF_INET6)
        return ntohs(((const struct sockaddr_in6 *)sa)->sin6_port);
    return 0;
}

bool wk_addr_is_loopback(const struct sockaddr *sa)
{
    if (sa->sa_family == AF_INET)
        return (ntohl(((const struct sockaddr_in *)sa)->sin_addr.s_addr) >> 24) == 127;
    if (sa->sa_family != AF_INET6)
        return false;
    const struct in6_addr *a = &((const struct sockaddr_in6 *)sa)->sin6_addr;
    if (IN6_IS_ADDR_LOOPBACK(a))
        return true;
    return IN6_IS_ADDR_V4MAPPED(a) && a->s6_addr[12] == 127;
}
