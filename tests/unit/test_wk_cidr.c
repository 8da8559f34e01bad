/*
 * test_wk_cidr.c: IP networks and access lists (common/cidr.c): parsing
 * every form and refusing garbage, host bits, printing and reading back,
 * the edges of each default range, IPv4-mapped clients, prefixes off byte
 * boundaries against a bit-by-bit reference, /0, AF_UNIX and the list bound.
 * Every parsed input is a guard-page copy without a NUL after it.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/un.h>
#include <cmocka.h>

#include "common/cidr.h"
#include "support/guard.h"

static int parse_n(const char *s, size_t len, struct wk_cidr *out)
{
    const char *g = wk_test_guard(s, len);
    int rc = wk_cidr_parse(g, len, out);
    wk_test_guard_free(g, len);
    return rc;
}

static struct wk_cidr parse_ok(const char *s)
{
    struct wk_cidr c;
    int rc = parse_n(s, strlen(s), &c);
    if (rc != 0)
        fail_msg("\"%s\": rc %d, want 0", s, rc);
    return c;
}

static void parse_bad_n(const char *s, size_t len)
{
    struct wk_cidr c;
    int rc = parse_n(s, len, &c);
    if (rc != -EINVAL)
        fail_msg("\"%.*s\" (%zu bytes): rc %d, want -EINVAL", (int)len, s, len, rc);
}

static void parse_bad(const char *s)
{
    parse_bad_n(s, strlen(s));
}

/* c is family/prefix and formats as want. */
static void expect_net(const struct wk_cidr *c, int family, unsigned prefix, const char *want)
{
    char buf[WK_CIDR_STRLEN];
    assert_int_equal(c->family, family);
    assert_int_equal(c->prefix, prefix);
    assert_int_equal(wk_cidr_format(c, buf, sizeof buf), strlen(want));
    assert_string_equal(buf, want);
}

/* A socket address for the literal s: AF_INET6 if it has a colon. */
struct client {
    union {
        struct sockaddr sa;
        struct sockaddr_in in;
        struct sockaddr_in6 in6;
        struct sockaddr_un un;
    } u;
};

static struct client client(const char *s)
{
    struct client c;
    memset(&c, 0, sizeof c);
    if (strchr(s, ':')) {
        c.u.in6.sin6_family = AF_INET6;
        c.u.in6.sin6_port = htons(50000);
        assert_int_equal(inet_pton(AF_INET6, s, &c.u.in6.sin6_addr), 1);
    } else {
        c.u.in.sin_family = AF_INET;
        c.u.in.sin_port = htons(50000);
        assert_int_equal(inet_pton(AF_INET, s, &c.u.in.sin_addr), 1);
    }
    return c;
}

static bool match(const struct wk_cidr_list *l, const char *addr)
{
    struct client c = client(addr);
    return wk_cidr_list_match(l, &c.u.sa);
}

/* addr matches l exactly when want says so, both as itself and, for IPv4, mapped. */
static void expect_match(const struct wk_cidr_list *l, const char *addr, bool want)
{
    if (match(l, addr) != want)
        fail_msg("%s: match %d, want %d", addr, !want, want);
    if (!strchr(addr, ':')) {
        char mapped[64];
        snprintf(mapped, sizeof mapped, "::ffff:%s", addr);
        if (match(l, mapped) != want)
            fail_msg("%s: match %d, want %d", mapped, !want, want);
    }
}

static struct wk_cidr_list list_of(const char *s)
{
    struct wk_cidr_list l;
    char err[WK_ERR_LEN] = "";
    wk_cidr_list_init(&l);
    int rc = wk_cidr_list_parse(&l, s, strlen(s), err);
    if (rc != 0)
        fail_msg("\"%s\": rc %d, err \"%s\"", s, rc, err);
    return l;
}

static void test_parse_ipv4(void **state)
{
    (void)state;
    struct wk_cidr c;
    { /* a network */
        c = parse_ok("10.0.0.0/8");
        expect_net(&c, AF_INET, 8, "10.0.0.0/8");
        assert_memory_equal(c.addr, "\x0a\0\0\0", 4);
    }
    { /* a host is /32 */
        c = parse_ok("192.168.1.7");
        expect_net(&c, AF_INET, 32, "192.168.1.7/32");
        c = parse_ok("192.168.1.7/32");
        expect_net(&c, AF_INET, 32, "192.168.1.7/32");
    }
    { /* the extremes */
        c = parse_ok("0.0.0.0/0");
        expect_net(&c, AF_INET, 0, "0.0.0.0/0");
        c = parse_ok("255.255.255.255");
        expect_net(&c, AF_INET, 32, "255.255.255.255/32");
        c = parse_ok("128.0.0.0/1");
        expect_net(&c, AF_INET, 1, "128.0.0.0/1");
        c = parse_ok("172.16.0.0/12");
        expect_net(&c, AF_INET, 12, "172.16.0.0/12");
    }
}

static void test_parse_ipv6(void **state)
{
    (void)state;
    struct wk_cidr c;
    { /* networks, host, everything */
        c = parse_ok("fd00::/8");
        expect_net(&c, AF_INET6, 8, "fd00::/8");
        c = parse_ok("::1");
        expect_net(&c, AF_INET6, 128, "::1/128");
        c = parse_ok("::1/128");
        expect_net(&c, AF_INET6, 128, "::1/128");
        c = parse_ok("::/0");
        expect_net(&c, AF_INET6, 0, "::/0");
    }
    { /* printed in the canonical form whatever was written */
        c = parse_ok("2001:0DB8:0000:0000::/32");
        expect_net(&c, AF_INET6, 32, "2001:db8::/32");
        c = parse_ok("fe80:0:0:0:0:0:0:0/10");
        expect_net(&c, AF_INET6, 10, "fe80::/10");
    }
    { /* off byte boundaries */
        c = parse_ok("fc00::/7");
        expect_net(&c, AF_INET6, 7, "fc00::/7");
        c = parse_ok("2001:db8:8000::/33");
        expect_net(&c, AF_INET6, 33, "2001:db8:8000::/33");
        c = parse_ok("2001:db8::/33");
        expect_net(&c, AF_INET6, 33, "2001:db8::/33");
    }
}

static void test_parse_mapped(void **state)
{
    (void)state;
    struct wk_cidr c;
    { /* a network inside ::ffff:0:0/96 is the IPv4 network it names */
        c = parse_ok("::ffff:10.0.0.0/104");
        expect_net(&c, AF_INET, 8, "10.0.0.0/8");
        c = parse_ok("::ffff:1.2.3.4");
        expect_net(&c, AF_INET, 32, "1.2.3.4/32");
        c = parse_ok("::ffff:0:0/96");
        expect_net(&c, AF_INET, 0, "0.0.0.0/0");
        assert_memory_equal(c.addr, "\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0", 16);
    }
    { /* a wider one stays IPv6 */
        c = parse_ok("::/80");
        expect_net(&c, AF_INET6, 80, "::/80");
    }
    { /* host bits are checked before: ffff spills past /95 */
        parse_bad("::ffff:0:0/95");
        parse_bad("::ffff:10.0.0.1/104");
    }
}

static void test_parse_host_bits(void **state)
{
    (void)state;
    { /* bits set past the prefix are refused, not masked */
        parse_bad("10.0.0.1/8");
        parse_bad("192.168.1.7/24");
        parse_bad("172.16.0.0/11");
        parse_bad("0.0.0.1/0");
        parse_bad("128.0.0.0/0");
        parse_bad("fd00::/7");
        parse_bad("fe80::1/10");
        parse_bad("2001:db8:4000::/33");
        parse_bad("::1/127");
        parse_bad("::1/0");
    }
    { /* the same networks without them are fine */
        parse_ok("10.0.0.0/8");
        parse_ok("192.168.1.0/24");
        parse_ok("172.0.0.0/11");
        parse_ok("fc00::/6");
        parse_ok("fe80::/10");
        parse_ok("::/127");
    }
}

static void test_parse_garbage(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "",
        "10.0.0.0/33",
        "::/129",
        "10.0.0.0/1000",
        "1.2.3",
        "1.2.3.4.5",
        "1.2.3.256",
        "01.2.3.4",
        "::g",
        ":::",
        "1::2::3",
        "10.0.0.0/",
        "/8",
        "/",
        "10.0.0.0/8x",
        "10.0.0.0/8 ",
        " 10.0.0.0/8",
        "10.0.0.0 /8",
        "10.0.0.0/ 8",
        "10.0.0.0/08",
        "10.0.0.0/+8",
        "10.0.0.0/-1",
        "10.0.0.0//8",
        "10.0.0.0/8/8",
        "10.0.0.0/0x8",
        "[::1]/128",
        "[::1]",
        "fe80::1%eth0",
        "fe80::%1/64",
        "localhost",
        "10.0.0.0,10.0.0.0",
        "ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255:1/128",
        "0000000000000000000000000000000000000000000000000000000000000000::1",
    };
    for (size_t i = 0; i < WK_ARRAY_LEN(bad); i++)
        parse_bad(bad[i]);
    { /* an embedded NUL inside the length is part of the input, and refused */
        parse_bad_n("10.0.0.0\0/8", 11);
        parse_bad_n("10.0.0.0/8\0", 11);
        parse_bad_n("10.0.0.1\0", 9);
        parse_bad_n("::1\0x", 5);
        parse_bad_n("\0", 1);
        parse_bad_n("10.0.0.0/\0008", 11); /* \000, then "8" */
    }
    { /* the length, not a NUL, ends the input */
        struct wk_cidr c;
        assert_int_equal(wk_cidr_parse("10.0.0.0/8junk", 10, &c), 0);
        expect_net(&c, AF_INET, 8, "10.0.0.0/8");
        assert_int_equal(wk_cidr_parse("10.0.0.0/8", 0, &c), -EINVAL);
    }
}

static void count_accepted(const char *p, size_t n, void *arg)
{
    struct wk_cidr c;
    if (wk_cidr_parse(p, n, &c) == 0)
        (*(int *)arg)++;
}

/* Every truncation of a network is read within its bytes; only these few are networks. */
static void test_each_prefix(void **state)
{
    (void)state;
    static const struct {
        const char *s;
        int accepted;
    } cases[] = {
        {"192.168.1.7/32", 2},     /* "192.168.1.7" and all of it ("/3" has host bits) */
        {"10.0.0.0/8", 2},         /* "10.0.0.0" and all of it */
        {"2001:db8:8000::/33", 2}, /* "2001:db8:8000::" and all of it */
        {"fe80::1", 2},            /* "fe80::" and all of it */
        /* "::", "::f" to "::ffff", "::ffff:1", "::ffff:10", "::ffff:10.0.0.0", all of it */
        {"::ffff:10.0.0.0/104", 9},
    };
    for (size_t i = 0; i < WK_ARRAY_LEN(cases); i++) {
        int n = 0;
        wk_test_each_prefix(cases[i].s, strlen(cases[i].s), count_accepted, &n);
        if (n != cases[i].accepted)
            fail_msg("%s: %d prefixes accepted, want %d", cases[i].s, n, cases[i].accepted);
    }
}

static void test_format(void **state)
{
    (void)state;
    static const char *const nets[] = {
        "0.0.0.0/0",
        "10.0.0.0/8",
        "255.255.255.255/32",
        "100.64.0.0/10",
        "::/0",
        "::1/128",
        "fc00::/7",
        "2001:db8:8000::/33",
        "1111:2222:3333:4444:5555:6666:7777:8888/128",
    };
    char buf[WK_CIDR_STRLEN];
    for (size_t i = 0; i < WK_ARRAY_LEN(nets); i++) {
        size_t want = strlen(nets[i]);
        struct wk_cidr c = parse_ok(nets[i]), back;
        { /* prints as written, and reads back the same */
            assert_int_equal(wk_cidr_format(&c, buf, sizeof buf), want);
            assert_string_equal(buf, nets[i]);
            assert_int_equal(parse_n(buf, want, &back), 0);
            assert_memory_equal(&back, &c, sizeof c);
        }
        { /* the exact room fits; one byte less gives 0 and an empty string */
            char *exact = test_malloc(want + 1);
            assert_int_equal(wk_cidr_format(&c, exact, want + 1), want);
            assert_string_equal(exact, nets[i]);
            assert_int_equal(wk_cidr_format(&c, exact, want), 0);
            assert_string_equal(exact, "");
            test_free(exact);
            assert_int_equal(wk_cidr_format(&c, NULL, 0), 0);
        }
    }
    { /* the longest text fits WK_CIDR_STRLEN */
        struct wk_cidr c = parse_ok("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff");
        assert_int_equal(wk_cidr_format(&c, buf, sizeof buf), 43);
        assert_true(43 < WK_CIDR_STRLEN);
    }
    { /* an unknown family prints nothing */
        struct wk_cidr c = {.family = AF_UNIX};
        assert_int_equal(wk_cidr_format(&c, buf, sizeof buf), 0);
        assert_string_equal(buf, "");
    }
}

static void test_private_v4_edges(void **state)
{
    (void)state;
    struct wk_cidr_list l;
    wk_cidr_list_private(&l);
    static const struct {
        const char *addr;
        bool in;
    } cases[] = {
        {"126.255.255.255", false}, {"127.0.0.0", true},        {"127.0.0.1", true},
        {"127.255.255.255", true},  {"128.0.0.0", false},       {"9.255.255.255", false},
        {"10.0.0.0", true},         {"10.255.255.255", true},   {"11.0.0.0", false},
        {"172.15.255.255", false},  {"172.16.0.0", true},       {"172.31.255.255", true},
        {"172.32.0.0", false},      {"192.167.255.255", false}, {"192.168.0.0", true},
        {"192.168.255.255", true},  {"192.169.0.0", false},     {"169.253.255.255", false},
        {"169.254.0.0", true},      {"169.254.255.255", true},  {"169.255.0.0", false},
        {"100.63.255.255", false},  {"100.64.0.0", true},       {"100.127.255.255", true},
        {"100.128.0.0", false},     {"0.0.0.0", false},         {"8.8.8.8", false},
        {"192.0.2.1", false},       {"255.255.255.255", false},
    };
    for (size_t i = 0; i < WK_ARRAY_LEN(cases); i++)
        expect_match(&l, cases[i].addr, cases[i].in);
}

static void test_private_v6_edges(void **state)
{
    (void)state;
    struct wk_cidr_list l;
    wk_cidr_list_private(&l);
    static const struct {
        const char *addr;
        bool in;
    } cases[] = {
        {"::", false},
        {"::1", true},
        {"::2", false},
        {"::1:0", false},
        {"fbff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", false},
        {"fc00::", true},
        {"fd12:3456::1", true},
        {"fdff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", true},
        {"fe00::", false},
        {"fe7f:ffff:ffff:ffff:ffff:ffff:ffff:ffff", false},
        {"fe80::", true},
        {"fe80::1", true},
        {"febf:ffff:ffff:ffff:ffff:ffff:ffff:ffff", true},
        {"fec0::", false},
        {"2001:db8::1", false},
        {"::ffff:8.8.8.8", false},
        {"::127.0.0.1", false}, /* IPv4-compatible, not mapped: an IPv6 address */
        {"64:ff9b::a00:1", false},
    };
    for (size_t i = 0; i < WK_ARRAY_LEN(cases); i++)
        expect_match(&l, cases[i].addr, cases[i].in);
    { /* nine networks, all different */
        assert_int_equal(l.n, 9);
    }
}

static void test_v4_mapped(void **state)
{
    (void)state;
    { /* a mapped client matches IPv4 networks */
        struct wk_cidr_list l = list_of("10.0.0.0/8");
        assert_true(match(&l, "::ffff:10.1.2.3"));
        assert_true(match(&l, "10.1.2.3"));
        assert_false(match(&l, "::ffff:11.1.2.3"));
        assert_false(match(&l, "::a01:203")); /* ::10.1.2.3, not mapped */
    }
    { /* and never IPv6 ones, even ::/0 */
        struct wk_cidr_list l = list_of("::/0");
        assert_false(match(&l, "::ffff:10.1.2.3"));
        assert_false(match(&l, "10.1.2.3"));
        assert_true(match(&l, "2001:db8::1"));
        assert_true(match(&l, "::"));
    }
    { /* a network written mapped admits IPv4 clients however they come */
        struct wk_cidr_list l = list_of("::ffff:10.0.0.0/104");
        assert_true(match(&l, "10.1.2.3"));
        assert_true(match(&l, "::ffff:10.1.2.3"));
        assert_false(match(&l, "11.0.0.0"));
    }
}

/* Bit i (0 = most significant) of a. */
static int bit(const uint8_t *a, unsigned i)
{
    return (a[i / 8] >> (7 - i % 8)) & 1;
}

/* Reference: whether the first prefix bits of a and b agree, one bit at a time. */
static bool ref_match(const uint8_t *a, const uint8_t *b, unsigned prefix)
{
    for (unsigned i = 0; i < prefix; i++)
        if (bit(a, i) != bit(b, i))
            return false;
    return true;
}

static uint32_t next_rand(uint32_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 17;
    *s ^= *s << 5;
    return *s;
}

/* Every prefix of each family against the reference, on addresses near the network. */
static void check_family_against_reference(int family, unsigned bits)
{
    uint32_t seed = 2463534242u;
    for (unsigned prefix = 0; prefix <= bits; prefix++) {
        for (int round = 0; round < 40; round++) {
            uint8_t net[16] = {0}, addr[16] = {0};
            for (unsigned i = 0; i < bits / 8; i++)
                net[i] = (uint8_t)next_rand(&seed);
            for (unsigned i = prefix; i < bits; i++) /* clear the host bits */
                net[i / 8] &= (uint8_t) ~(0x80 >> (i % 8));
            memcpy(addr, net, sizeof addr);
            unsigned flip = next_rand(&seed) % bits; /* one bit away, on either side */
            addr[flip / 8] ^= (uint8_t)(0x80 >> (flip % 8));
            if (round % 2)
                addr[bits / 8 - 1] ^= (uint8_t)next_rand(&seed); /* and more in the low byte */

            struct wk_cidr_list l;
            struct wk_cidr c = {.family = family, .prefix = prefix};
            memcpy(c.addr, net, bits / 8);
            wk_cidr_list_init(&l);
            assert_int_equal(wk_cidr_list_add(&l, &c), 0);

            struct client cl;
            memset(&cl, 0, sizeof cl);
            if (family == AF_INET) {
                cl.u.in.sin_family = AF_INET;
                memcpy(&cl.u.in.sin_addr, addr, 4);
            } else {
                cl.u.in6.sin6_family = AF_INET6;
                memcpy(&cl.u.in6.sin6_addr, addr, 16);
                if (IN6_IS_ADDR_V4MAPPED(&cl.u.in6.sin6_addr))
                    continue; /* a mapped client is IPv4: tested elsewhere */
            }
            bool want = ref_match(net, addr, prefix);
            if (wk_cidr_list_match(&l, &cl.u.sa) != want)
                fail_msg("family %d prefix %u round %d: match %d, want %d", family, prefix, round,
                         !want, want);

            { /* the network address itself always matches, and parses as printed */
                char text[WK_CIDR_STRLEN];
                struct wk_cidr back;
                size_t n = wk_cidr_format(&c, text, sizeof text);
                assert_true(n > 0);
                assert_int_equal(parse_n(text, n, &back), 0);
                if (family == AF_INET6 && back.family == AF_INET)
                    continue; /* a random mapped network, unmapped on reading */
                assert_memory_equal(&back, &c, sizeof c);
            }
        }
    }
}

static void test_prefix_bits(void **state)
{
    (void)state;
    { /* /33, /31 and /1 by hand (/7 and /10: the default list) */
        struct wk_cidr_list l = list_of("2001:db8::/33, 192.0.2.4/31");
        assert_true(match(&l, "2001:db8::"));
        assert_true(match(&l, "2001:db8:7fff:ffff:ffff:ffff:ffff:ffff"));
        assert_false(match(&l, "2001:db8:8000::"));
        assert_false(match(&l, "2001:db7:ffff:ffff:ffff:ffff:ffff:ffff"));
        assert_false(match(&l, "2001:db9::"));
        assert_true(match(&l, "192.0.2.4"));
        assert_true(match(&l, "192.0.2.5"));
        assert_false(match(&l, "192.0.2.3"));
        assert_false(match(&l, "192.0.2.6"));
    }
    {
        struct wk_cidr_list l = list_of("128.0.0.0/1");
        assert_true(match(&l, "128.0.0.0"));
        assert_true(match(&l, "255.255.255.255"));
        assert_false(match(&l, "127.255.255.255"));
        assert_false(match(&l, "0.0.0.0"));
    }
    { /* every prefix length against a bit-by-bit reference */
        check_family_against_reference(AF_INET, 32);
        check_family_against_reference(AF_INET6, 128);
    }
}

static void test_zero_prefix(void **state)
{
    (void)state;
    { /* 0.0.0.0/0: every IPv4 client, mapped too, and no IPv6 one */
        struct wk_cidr_list l = list_of("0.0.0.0/0");
        expect_match(&l, "0.0.0.0", true);
        expect_match(&l, "8.8.8.8", true);
        expect_match(&l, "255.255.255.255", true);
        assert_false(match(&l, "::1"));
        assert_false(match(&l, "2001:db8::1"));
    }
    { /* ::/0: every IPv6 client and no IPv4 one */
        struct wk_cidr_list l = list_of("::/0");
        assert_true(match(&l, "::"));
        assert_true(match(&l, "::1"));
        assert_true(match(&l, "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"));
        expect_match(&l, "8.8.8.8", false);
    }
    { /* both: everyone */
        struct wk_cidr_list l = list_of("0.0.0.0/0,::/0");
        expect_match(&l, "8.8.8.8", true);
        assert_true(match(&l, "2001:db8::1"));
    }
}

static void test_other_families(void **state)
{
    (void)state;
    struct wk_cidr_list empty;
    wk_cidr_list_init(&empty);
    struct client c;
    memset(&c, 0, sizeof c);
    { /* AF_UNIX always matches, even an empty list */
        c.u.un.sun_family = AF_UNIX;
        assert_true(wk_cidr_list_match(&empty, &c.u.sa));
        struct wk_cidr_list l = list_of("10.0.0.0/8");
        assert_true(wk_cidr_list_match(&l, &c.u.sa));
    }
    { /* an empty list admits no IP client */
        expect_match(&empty, "127.0.0.1", false);
        assert_false(match(&empty, "::1"));
    }
    { /* other families and NULL never match */
        struct wk_cidr_list l = list_of("0.0.0.0/0,::/0");
        c.u.sa.sa_family = AF_UNSPEC;
        assert_false(wk_cidr_list_match(&l, &c.u.sa));
        c.u.sa.sa_family = AF_PACKET;
        assert_false(wk_cidr_list_match(&l, &c.u.sa));
        assert_false(wk_cidr_list_match(&l, NULL));
    }
}

static void test_list_bound(void **state)
{
    (void)state;
    struct wk_cidr_list l;
    struct wk_cidr c;
    char text[32];
    wk_cidr_list_init(&l);
    { /* WK_CIDR_LIST_MAX networks fit */
        for (int i = 0; i < WK_CIDR_LIST_MAX; i++) {
            snprintf(text, sizeof text, "10.%d.0.0/16", i);
            c = parse_ok(text);
            assert_int_equal(wk_cidr_list_add(&l, &c), 0);
        }
        assert_int_equal(l.n, WK_CIDR_LIST_MAX);
    }
    { /* one more is refused and changes nothing */
        c = parse_ok("10.200.0.0/16");
        assert_int_equal(wk_cidr_list_add(&l, &c), -ENOSPC);
        assert_int_equal(l.n, WK_CIDR_LIST_MAX);
        assert_false(match(&l, "10.200.0.1"));
        assert_true(match(&l, "10.31.0.1"));
    }
    { /* a network already there is not added twice, so it is fine even when full */
        c = parse_ok("10.5.0.0/16");
        assert_int_equal(wk_cidr_list_add(&l, &c), 0);
        assert_int_equal(l.n, WK_CIDR_LIST_MAX);
    }
    { /* through the option: the message names the first one that did not fit */
        char err[WK_ERR_LEN] = "";
        char opt[WK_CIDR_LIST_MAX * 16 + 32] = "";
        struct wk_cidr_list m;
        wk_cidr_list_init(&m);
        for (int i = 0; i <= WK_CIDR_LIST_MAX; i++) {
            snprintf(text, sizeof text, "%s10.%d.0.0/16", i ? "," : "", i);
            strcat(opt, text);
        }
        assert_int_equal(wk_cidr_list_parse(&m, opt, strlen(opt), err), -ENOSPC);
        assert_non_null(strstr(err, "\"10.32.0.0/16\""));
        assert_int_equal(m.n, WK_CIDR_LIST_MAX);
    }
    { /* init empties; private replaces what was there */
        wk_cidr_list_private(&l);
        assert_int_equal(l.n, 9);
        assert_true(match(&l, "10.200.0.1"));
        wk_cidr_list_init(&l);
        assert_int_equal(l.n, 0);
    }
}

static void test_list_parse(void **state)
{
    (void)state;
    struct wk_cidr_list l;
    char err[WK_ERR_LEN];
    { /* commas, blanks around entries */
        l = list_of("10.0.0.0/8, fd00::/8 ,\t192.168.1.7");
        assert_int_equal(l.n, 3);
        expect_net(&l.v[0], AF_INET, 8, "10.0.0.0/8");
        expect_net(&l.v[1], AF_INET6, 8, "fd00::/8");
        expect_net(&l.v[2], AF_INET, 32, "192.168.1.7/32");
    }
    static const struct {
        const char *opt;
        const char *named;
        size_t added;
    } bad[] = {
        {"", "\"\"", 0},
        {" ", "\"\"", 0},
        {"10.0.0.0/8,", "\"\"", 1},
        {",10.0.0.0/8", "\"\"", 0},
        {"10.0.0.0/8,,fd00::/8", "\"\"", 1},
        {"10.0.0.0/8, 10.0.0.1/8", "\"10.0.0.1/8\"", 1},
        {"10.0.0.0/8 fd00::/8", "\"10.0.0.0/8 fd00::/8\"", 0},
        {"fd00::/8;10.0.0.0/8", "\"fd00::/8;10.0.0.0/8\"", 0},
    };
    for (size_t i = 0; i < WK_ARRAY_LEN(bad); i++) {
        wk_cidr_list_init(&l);
        err[0] = '\0';
        size_t len = strlen(bad[i].opt);
        const char *g = wk_test_guard(bad[i].opt, len);
        int rc = wk_cidr_list_parse(&l, g, len, err);
        wk_test_guard_free(g, len);
        if (rc != -EINVAL || strstr(err, bad[i].named) == NULL || l.n != bad[i].added)
            fail_msg("\"%s\": rc %d, err \"%s\", %zu added", bad[i].opt, rc, err, l.n);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_ipv4),       cmocka_unit_test(test_parse_ipv6),
        cmocka_unit_test(test_parse_mapped),     cmocka_unit_test(test_parse_host_bits),
        cmocka_unit_test(test_parse_garbage),    cmocka_unit_test(test_each_prefix),
        cmocka_unit_test(test_format),           cmocka_unit_test(test_private_v4_edges),
        cmocka_unit_test(test_private_v6_edges), cmocka_unit_test(test_v4_mapped),
        cmocka_unit_test(test_prefix_bits),      cmocka_unit_test(test_zero_prefix),
        cmocka_unit_test(test_other_families),   cmocka_unit_test(test_list_bound),
        cmocka_unit_test(test_list_parse),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
