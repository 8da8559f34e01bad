/*
 * cidr.c: IP networks as text and back, and the access lists built from
 * them. Addresses are compared as byte strings in network byte order, the
 * prefix as a whole-byte part and a masked last byte.
 */
#include "common/cidr.h"

#include <arpa/inet.h>
#include <assert.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

/* The default list. 100.64.0.0/10 is the shared address space of RFC 6598
 * (carrier-grade NAT): a client there is behind its provider's NAT or on a
 * VPN overlay such as Tailscale, never a host of the public Internet, so it
 * is treated like the RFC 1918 ranges. */
static const char *const private_nets[] = {
    "127.0.0.0/8",    /* loopback */
    "::1/128",        /* loopback */
    "10.0.0.0/8",     /* RFC 1918 */
    "172.16.0.0/12",  /* RFC 1918 */
    "192.168.0.0/16", /* RFC 1918 */
    "169.254.0.0/16", /* link-local */
    "100.64.0.0/10",  /* RFC 6598 shared address space, see above */
    "fc00::/7",       /* unique local addresses, RFC 4193 */
    "fe80::/10",      /* link-local */
};

static const uint8_t v4mapped_prefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

static unsigned family_bits(int family)
{
    return family == AF_INET ? 32 : 128;
}

/* Whether the first prefix bits of a and b are equal. */
static bool prefix_equal(const uint8_t *a, const uint8_t *b, unsigned prefix)
{
    unsigned whole = prefix / 8, rest = prefix % 8;
    if (memcmp(a, b, whole) != 0)
        return false;
    if (rest == 0)
        return true;
    uint8_t mask = (uint8_t)(0xff << (8 - rest));
    return ((a[whole] ^ b[whole]) & mask) == 0;
}

/* Whether any bit of addr past prefix is set (addr is family_bits / 8 bytes). */
static bool has_host_bits(const uint8_t *addr, unsigned prefix, unsigned bits)
{
    for (unsigned i = prefix; i < bits; i++)
        if (addr[i / 8] & (0x80 >> (i % 8)))
            return true;
    return false;
}

/* Decimal 0..max, no sign, no leading zero, at least one digit. */
static int parse_prefix(const char *s, size_t len, unsigned max, unsigned *out)
{
    if (len == 0 || len > 3 || (len > 1 && s[0] == '0'))
        return -EINVAL;
    unsigned v = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -EINVAL;
        v = v * 10 + (unsigned)(s[i] - '0');
    }
    if (v > max)
        return -EINVAL;
    *out = v;
    return 0;
}

/* The address literal s[0..len) through inet_pton on a bounded, NUL-terminated copy. */
static int parse_address(const char *s, size_t len, struct wk_cidr *out)
{
    char buf[INET6_ADDRSTRLEN];
    if (len == 0 || len >= sizeof buf || memchr(s, '\0', len) != NULL)
        return -EINVAL;
    memcpy(buf, s, len);
    buf[len] = '\0';
    memset(out, 0, sizeof *out);
    out->family = memchr(s, ':', len) ? AF_INET6 : AF_INET;
    if (inet_pton(out->family, buf, out->addr) != 1)
        return -EINVAL;
    return 0;
}

/* Turns a network inside ::ffff:0:0/96 into the IPv4 network it names. */
static void unmap_v4(struct wk_cidr *c)
{
    if (c->family != AF_INET6 || c->prefix < 96 ||
        memcmp(c->addr, v4mapped_prefix, sizeof v4mapped_prefix) != 0)
        return;
    c->family = AF_INET;
    c->prefix -= 96;
    memmove(c->addr, c->addr + 12, 4);
    memset(c->addr + 4, 0, 12);
}

int wk_cidr_parse(const char *s, size_t len, struct wk_cidr *out)
{
    if (s == NULL || len == 0)
        return -EINVAL;
    const char *slash = memchr(s, '/', len);
    size_t alen = slash ? (size_t)(slash - s) : len;
    if (parse_address(s, alen, out) != 0)
        return -EINVAL;
    unsigned bits = family_bits(out->family);
    out->prefix = bits;
    if (slash && parse_prefix(slash + 1, len - alen - 1, bits, &out->prefix) != 0)
        return -EINVAL;
    if (has_host_bits(out->addr, out->prefix, bits))
        return -EINVAL;
    unmap_v4(out);
    return 0;
}

size_t wk_cidr_format(const struct wk_cidr *c, char *out, size_t len)
{
    char addr[INET6_ADDRSTRLEN];
    if (len > 0)
        out[0] = '\0';
    if ((c->family != AF_INET && c->family != AF_INET6) ||
        inet_ntop(c->family, c->addr, addr, sizeof addr) == NULL)
        return 0;
    int n = snprintf(out, len, "%s/%u", addr, c->prefix);
    if (n < 0 || (size_t)n >= len) {
        if (len > 0)
            out[0] = '\0';
        return 0;
    }
    return (size_t)n;
}

void wk_cidr_list_init(struct wk_cidr_list *l)
{
    l->n = 0;
}

static bool cidr_equal(const struct wk_cidr *a, const struct wk_cidr *b)
{
    return a->family == b->family && a->prefix == b->prefix &&
           memcmp(a->addr, b->addr, sizeof a->addr) == 0;
}

int wk_cidr_list_add(struct wk_cidr_list *l, const struct wk_cidr *c)
{
    for (size_t i = 0; i < l->n; i++)
        if (cidr_equal(&l->v[i], c))
            return 0;
    if (l->n >= WK_CIDR_LIST_MAX)
        return -ENOSPC;
    l->v[l->n++] = *c;
    return 0;
}

static bool is_blank(char c)
{
    return c == ' ' || c == '\t';
}

int wk_cidr_list_parse(struct wk_cidr_list *l, const char *s, size_t len, char err[WK_ERR_LEN])
{
    size_t start = 0;
    for (;;) {
        const char *comma = len > start ? memchr(s + start, ',', len - start) : NULL;
        size_t end = comma ? (size_t)(comma - s) : len;
        size_t a = start, b = end; /* the entry without the blanks around it */
        while (a < b && is_blank(s[a]))
            a++;
        while (b > a && is_blank(s[b - 1]))
            b--;
        struct wk_cidr c;
        int shown = (int)(b - a > 100 ? 100 : b - a);
        if (wk_cidr_parse(s + a, b - a, &c) != 0) {
            snprintf(err, WK_ERR_LEN, "\"%.*s\": not an IP network (like 10.0.0.0/8 or fd00::/8)",
                     shown, s + a);
            return -EINVAL;
        }
        if (wk_cidr_list_add(l, &c) != 0) {
            snprintf(err, WK_ERR_LEN, "\"%.*s\": more than %d networks", shown, s + a,
                     WK_CIDR_LIST_MAX);
            return -ENOSPC;
        }
        if (!comma)
            return 0;
        start = end + 1;
    }
}

void wk_cidr_list_private(struct wk_cidr_list *l)
{
    wk_cidr_list_init(l);
    for (size_t i = 0; i < WK_ARRAY_LEN(private_nets); i++) {
        struct wk_cidr c;
        int rc = wk_cidr_parse(private_nets[i], strlen(private_nets[i]), &c);
        if (rc == 0)
            rc = wk_cidr_list_add(l, &c);
        assert(rc == 0); /* constant, well-formed, and fewer than the maximum */
        (void)rc;
    }
}

static bool list_match(const struct wk_cidr_list *l, int family, const uint8_t *addr)
{
    for (size_t i = 0; i < l->n; i++)
        if (l->v[i].family == family && prefix_equal(l->v[i].addr, addr, l->v[i].prefix))
            return true;
    return false;
}

bool wk_cidr_list_match(const struct wk_cidr_list *l, const struct sockaddr *sa)
{
    if (sa == NULL)
        return false;
    if (sa->sa_family == AF_UNIX)
        return true;
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
        return list_match(l, AF_INET, (const uint8_t *)&in->sin_addr);
    }
    if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
        const uint8_t *a = in6->sin6_addr.s6_addr;
        if (IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr))
            return list_match(l, AF_INET, a + 12);
        return list_match(l, AF_INET6, a);
    }
    return false;
}
