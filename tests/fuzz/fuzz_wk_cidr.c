/*
 * fuzz_wk_cidr.c: IP networks as the access-list option writes them
 * (common/cidr.c). The whole input is one network, or a comma-separated
 * list of them.
 *
 * A parsed network has a known family, a prefix within it and no host bits;
 * an IPv4-mapped one has become IPv4. It prints within WK_CIDR_STRLEN, reads
 * back identical, and a buffer one byte short is refused. Its network
 * address matches a list holding it (mapped too, for IPv4); flipping the
 * last network bit leaves it, flipping the last host bit stays inside. The
 * list parser agrees with the single parser on one entry.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/cidr.h"
#include "fuzz.h"

/* Whether a client at addr (4 or 16 bytes, by family) matches the list {c}. */
static bool matches(const struct wk_cidr *c, const uint8_t *addr, bool mapped)
{
    struct wk_cidr_list l;
    wk_cidr_list_init(&l);
    FUZZ_CHECK(wk_cidr_list_add(&l, c) == 0);
    union {
        struct sockaddr sa;
        struct sockaddr_in in;
        struct sockaddr_in6 in6;
    } u;
    memset(&u, 0, sizeof u);
    if (c->family == AF_INET && !mapped) {
        u.in.sin_family = AF_INET;
        memcpy(&u.in.sin_addr, addr, 4);
    } else if (c->family == AF_INET) {
        u.in6.sin6_family = AF_INET6;
        u.in6.sin6_addr.s6_addr[10] = 0xff;
        u.in6.sin6_addr.s6_addr[11] = 0xff;
        memcpy(&u.in6.sin6_addr.s6_addr[12], addr, 4);
    } else {
        u.in6.sin6_family = AF_INET6;
        memcpy(&u.in6.sin6_addr, addr, 16);
    }
    return wk_cidr_list_match(&l, &u.sa);
}

static bool is_mapped(int family, const uint8_t *a)
{
    static const uint8_t mapped[12] = {[10] = 0xff, [11] = 0xff};
    return family == AF_INET6 && memcmp(a, mapped, sizeof mapped) == 0;
}

static void check_shape(const struct wk_cidr *c)
{
    static const uint8_t zero[16];
    FUZZ_CHECK(c->family == AF_INET || c->family == AF_INET6);
    unsigned bits = c->family == AF_INET ? 32 : 128;
    FUZZ_CHECK(c->prefix <= bits);
    for (unsigned i = c->prefix; i < bits; i++)
        FUZZ_CHECK((c->addr[i / 8] & (0x80 >> (i % 8))) == 0);
    if (c->family == AF_INET)
        FUZZ_CHECK(memcmp(c->addr + 4, zero, 12) == 0);
    else
        FUZZ_CHECK(c->prefix < 96 || !is_mapped(c->family, c->addr));
}

static void check_format(const struct wk_cidr *c)
{
    char text[WK_CIDR_STRLEN];
    struct wk_cidr back;
    size_t n = wk_cidr_format(c, text, sizeof text);
    FUZZ_CHECK(n > 0 && n < sizeof text && strlen(text) == n);
    char *copy = fuzz_copy(text, n);
    FUZZ_CHECK(wk_cidr_parse(copy, n, &back) == 0);
    FUZZ_CHECK(memcmp(&back, c, sizeof back) == 0);
    free(copy);
    char short_buf[WK_CIDR_STRLEN];
    FUZZ_CHECK(wk_cidr_format(c, short_buf, n) == 0 && short_buf[0] == '\0');
}

static void check_match(const struct wk_cidr *c)
{
    unsigned bits = c->family == AF_INET ? 32 : 128;
    uint8_t a[16];
    memcpy(a, c->addr, sizeof a);
    FUZZ_CHECK(matches(c, a, false));
    if (c->family == AF_INET)
        FUZZ_CHECK(matches(c, a, true));
    if (c->prefix > 0) { /* the last network bit flipped: outside */
        unsigned i = c->prefix - 1;
        a[i / 8] ^= (uint8_t)(0x80 >> (i % 8));
        if (!is_mapped(c->family, a)) /* else an IPv4 client: never an IPv6 network */
            FUZZ_CHECK(!matches(c, a, false));
        a[i / 8] ^= (uint8_t)(0x80 >> (i % 8));
    }
    if (c->prefix < bits) { /* the last host bit set: inside */
        a[bits / 8 - 1] |= 1;
        if (!is_mapped(c->family, a))
            FUZZ_CHECK(matches(c, a, false));
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = fuzz_copy(data, size);
    struct wk_cidr c;
    int rc = wk_cidr_parse(s, size, &c);
    FUZZ_CHECK(rc == 0 || rc == -EINVAL);
    if (rc == 0) {
        FUZZ_CHECK(memchr(s, '\0', size) == NULL && memchr(s, ' ', size) == NULL);
        FUZZ_CHECK(memchr(s, '[', size) == NULL && memchr(s, '%', size) == NULL);
        check_shape(&c);
        check_format(&c);
        check_match(&c);
    }

    struct wk_cidr_list l;
    char err[WK_ERR_LEN];
    wk_cidr_list_init(&l);
    int lrc = wk_cidr_list_parse(&l, s, size, err);
    FUZZ_CHECK(lrc == 0 || lrc == -EINVAL || lrc == -ENOSPC);
    FUZZ_CHECK(l.n <= WK_CIDR_LIST_MAX);
    if (lrc != 0)
        FUZZ_CHECK(memchr(err, '\0', sizeof err) != NULL && err[0] == '"');
    for (size_t i = 0; i < l.n; i++)
        check_shape(&l.v[i]);
    if (rc == 0 && memchr(s, ',', size) == NULL) {
        FUZZ_CHECK(lrc == 0 && l.n == 1);
        FUZZ_CHECK(memcmp(&l.v[0], &c, sizeof c) == 0);
    }
    free(s);
    return 0;
}
