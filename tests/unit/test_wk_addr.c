/*
 * test_wk_addr.c: socket addresses as the command line writes them
 * (common/addr.c): parsing each form, refusing bad ports and malformed
 * text with a message naming the input, printing and reading back, and the
 * loopback test the dashboard relies on. Only "localhost" is resolved, from
 * /etc/hosts; nothing here asks DNS.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "common/addr.h"

static struct wk_addr parse_ok(const char *s)
{
    struct wk_addr a;
    char err[WK_ERR_LEN] = "";
    int rc = wk_addr_parse(s, &a, err);
    if (rc != 0)
        fail_msg("\"%s\": rc %d, err \"%s\"", s, rc, err);
    return a;
}

/* s is refused with -EINVAL and a message that names it and contains hint. */
static void parse_bad(const char *s, const char *hint)
{
    struct wk_addr a;
    char err[WK_ERR_LEN] = "";
    int rc = wk_addr_parse(s, &a, err);
    if (rc != -EINVAL)
        fail_msg("\"%s\": rc %d, want -EINVAL", s, rc);
    if (strlen(s) < 100 && strstr(err, s) == NULL)
        fail_msg("\"%s\": message \"%s\" does not name the input", s, err);
    if (hint != NULL && strstr(err, hint) == NULL)
        fail_msg("\"%s\": message \"%s\" does not say \"%s\"", s, err, hint);
}

static void expect_v4(const struct wk_addr *a, const char *ip, uint16_t port)
{
    struct in_addr want;
    assert_int_equal(inet_pton(AF_INET, ip, &want), 1);
    assert_int_equal(a->u.sa.sa_family, AF_INET);
    assert_int_equal(a->len, sizeof(struct sockaddr_in));
    assert_int_equal(a->u.in.sin_addr.s_addr, want.s_addr);
    assert_int_equal(ntohs(a->u.in.sin_port), port);
    assert_int_equal(wk_addr_port(&a->u.sa), port);
}

static void expect_v6(const struct wk_addr *a, const char *ip, uint16_t port)
{
    struct in6_addr want;
    assert_int_equal(inet_pton(AF_INET6, ip, &want), 1);
    assert_int_equal(a->u.sa.sa_family, AF_INET6);
    assert_int_equal(a->len, sizeof(struct sockaddr_in6));
    assert_memory_equal(&a->u.in6.sin6_addr, &want, sizeof want);
    assert_int_equal(ntohs(a->u.in6.sin6_port), port);
    assert_int_equal(wk_addr_port(&a->u.sa), port);
}

static void test_parse_ipv4(void **state)
{
    (void)state;
    { /* host:port */
        struct wk_addr a = parse_ok("127.0.0.1:80");
        expect_v4(&a, "127.0.0.1", 80);
    }
    { /* every IPv4 address, any free port */
        struct wk_addr a = parse_ok("0.0.0.0:0");
        expect_v4(&a, "0.0.0.0", 0);
    }
    { /* the highest port */
        struct wk_addr a = parse_ok("10.1.2.3:65535");
        expect_v4(&a, "10.1.2.3", 65535);
    }
}

static void test_parse_ipv6(void **state)
{
    (void)state;
    { /* [v6]:port */
        struct wk_addr a = parse_ok("[::1]:8080");
        expect_v6(&a, "::1", 8080);
    }
    { /* a longer literal */
        struct wk_addr a = parse_ok("[2001:db8::1:2]:443");
        expect_v6(&a, "2001:db8::1:2", 443);
    }
    { /* the unspecified address, written out */
        struct wk_addr a = parse_ok("[::]:25");
        expect_v6(&a, "::", 25);
    }
    { /* a v4-mapped literal stays IPv6 */
        struct wk_addr a = parse_ok("[::ffff:127.0.0.1]:1");
        expect_v6(&a, "::ffff:127.0.0.1", 1);
    }
}

static void test_parse_any(void **state)
{
    (void)state;
    { /* ":port" is every address: IPv6 any, which takes IPv4 clients too */
        struct wk_addr a = parse_ok(":80");
        expect_v6(&a, "::", 80);
    }
    { /* with port 0 */
        struct wk_addr a = parse_ok(":0");
        expect_v6(&a, "::", 0);
    }
}

static void test_parse_unix(void **state)
{
    (void)state;
    size_t room = sizeof(((struct sockaddr_un *)0)->sun_path);
    { /* unix:PATH */
        struct wk_addr a = parse_ok("unix:/run/wellknown.sock");
        assert_int_equal(a.u.sa.sa_family, AF_UNIX);
        assert_string_equal(a.u.un.sun_path, "/run/wellknown.sock");
        assert_int_equal(a.len, offsetof(struct sockaddr_un, sun_path) +
                                    strlen("/run/wellknown.sock") + 1);
        assert_int_equal(wk_addr_port(&a.u.sa), 0);
    }
    { /* a relative path is a path too */
        struct wk_addr a = parse_ok("unix:var/s");
        assert_string_equal(a.u.un.sun_path, "var/s");
    }
    { /* the longest path that fits sun_path with its NUL */
        char s[5 + 200];
        memcpy(s, "unix:", 5);
        memset(s + 5, 'p', room - 1);
        s[5 + room - 1] = '\0';
        struct wk_addr a = parse_ok(s);
        assert_int_equal(strlen(a.u.un.sun_path), room - 1);
    }
    { /* one byte longer is refused, saying why */
        char s[5 + 200];
        memcpy(s, "unix:", 5);
        memset(s + 5, 'p', room);
        s[5 + room] = '\0';
        parse_bad(s, "path");
    }
    { /* an empty path is refused */
        parse_bad("unix:", "path");
    }
}

static void test_parse_bad_ports(void **state)
{
    (void)state;
    { /* out of range */
        parse_bad("127.0.0.1:65536", "port");
        parse_bad("127.0.0.1:99999", "port");
        parse_bad("127.0.0.1:100000", "port");
        parse_bad(":65536", "port");
        parse_bad("[::1]:70000", "port");
    }
    { /* signs and negative numbers */
        parse_bad("127.0.0.1:-1", "port");
        parse_bad("127.0.0.1:+80", "port");
        parse_bad(":-1", "port");
    }
    { /* empty */
        parse_bad("127.0.0.1:", "port");
        parse_bad(":", "port");
        parse_bad("[::1]:", "port");
    }
    { /* not a number */
        parse_bad("127.0.0.1:x", "port");
        parse_bad("127.0.0.1:http", "port");
        parse_bad("127.0.0.1:80x", "port");
        parse_bad("127.0.0.1: 80", "port");
        parse_bad("127.0.0.1:80 ", "port");
        parse_bad("127.0.0.1:0x50", "port");
    }
}

static void test_parse_malformed(void **state)
{
    (void)state;
    { /* no port at all */
        parse_bad("127.0.0.1", NULL);
        parse_bad("localhost", NULL);
        parse_bad("[::1]", NULL);
        parse_bad("", NULL);
    }
    { /* a bare IPv6 address needs brackets */
        parse_bad("::1:80", NULL);
        parse_bad("2001:db8::1:443", NULL);
    }
    { /* brackets that do not close, or are not followed by ":port" */
        parse_bad("[::1", NULL);
        parse_bad("[::1]80", NULL);
        parse_bad("[::1]x:80", NULL);
    }
    { /* brackets hold IPv6 only */
        parse_bad("[127.0.0.1]:80", NULL);
        parse_bad("[]:80", NULL);
    }
    { /* a host name longer than any name is refused without a lookup */
        char s[400];
        memset(s, 'a', 300);
        memcpy(s + 300, ":80", 4);
        parse_bad(s, NULL);
    }
}

static void test_parse_names(void **state)
{
    (void)state;
    { /* localhost resolves to a loopback address with the port given */
        struct wk_addr a = parse_ok("localhost:25");
        assert_true(a.u.sa.sa_family == AF_INET || a.u.sa.sa_family == AF_INET6);
        assert_true(wk_addr_is_loopback(&a.u.sa));
        assert_int_equal(wk_addr_port(&a.u.sa), 25);
    }
    { /* and port 0 stays 0 */
        struct wk_addr a = parse_ok("localhost:0");
        assert_int_equal(wk_addr_port(&a.u.sa), 0);
    }
}

/* Parses s, prints it back, and expects want. */
static void round_trip(const char *s, const char *want)
{
    struct wk_addr a = parse_ok(s);
    char out[WK_ADDR_STRLEN];
    size_t n = wk_addr_format(&a.u.sa, a.len, out, sizeof out);
    assert_string_equal(out, want);
    assert_int_equal(n, strlen(want));
}

static void test_format_round_trip(void **state)
{
    (void)state;
    { /* canonical forms print as written */
        const char *same[] = {
            "127.0.0.1:80",        "0.0.0.0:0",        "255.255.255.255:65535",
            "[::1]:8080",          "[::]:443",         "[2001:db8::1]:25",
            "[::ffff:10.0.0.1]:1", "unix:/tmp/x.sock", "unix:relative/s",
        };
        for (size_t i = 0; i < sizeof same / sizeof same[0]; i++)
            round_trip(same[i], same[i]);
    }
    { /* other spellings print canonically */
        round_trip(":8080", "[::]:8080");
        round_trip("[0:0::1]:80", "[::1]:80");
        round_trip("[2001:DB8::A]:80", "[2001:db8::a]:80");
        round_trip("127.0.0.1:0080", "127.0.0.1:80");
    }
    { /* a link-local address keeps its interface, by name ("lo" is index 1) or by number */
        round_trip("[fe80::1%lo]:80", "[fe80::1%lo]:80");
        round_trip("[fe80::1%1]:80", "[fe80::1%lo]:80");
        struct wk_addr a = parse_ok("[fe80::2]:9");
        a.u.in6.sin6_scope_id = 0x7ffffff0; /* no such interface */
        char out[WK_ADDR_STRLEN];
        wk_addr_format(&a.u.sa, a.len, out, sizeof out);
        assert_string_equal(out, "[fe80::2%2147483632]:9");
    }
    { /* printed text parses back to the same address */
        const char *in[] = {"10.9.8.7:1234", "[fd00::2]:9", ":7", "unix:/a/b", "[fe80::3%lo]:4"};
        for (size_t i = 0; i < sizeof in / sizeof in[0]; i++) {
            struct wk_addr a = parse_ok(in[i]);
            char out[WK_ADDR_STRLEN];
            wk_addr_format(&a.u.sa, a.len, out, sizeof out);
            struct wk_addr b = parse_ok(out);
            assert_int_equal(a.len, b.len);
            assert_memory_equal(&a.u, &b.u, a.len);
        }
    }
}

static void test_format_limits(void **state)
{
    (void)state;
    struct wk_addr a = parse_ok("[2001:db8::1]:443");
    { /* a short buffer gets a truncated, terminated prefix */
        char out[8];
        memset(out, 'Z', sizeof out);
        size_t n = wk_addr_format(&a.u.sa, a.len, out, sizeof out);
        assert_int_equal(n, 7);
        assert_string_equal(out, "[2001:d");
    }
    { /* a one-byte buffer gets the empty string */
        char out[1] = {'Z'};
        assert_int_equal(wk_addr_format(&a.u.sa, a.len, out, 1), 0);
        assert_int_equal(out[0], '\0');
    }
    { /* no buffer: nothing written */
        char out[1] = {'Z'};
        assert_int_equal(wk_addr_format(&a.u.sa, a.len, out, 0), 0);
        assert_int_equal(out[0], 'Z');
    }
    { /* the longest unix path fits WK_ADDR_STRLEN */
        size_t room = sizeof(((struct sockaddr_un *)0)->sun_path);
        char s[5 + 200];
        memcpy(s, "unix:", 5);
        memset(s + 5, 'p', room - 1);
        s[5 + room - 1] = '\0';
        struct wk_addr u = parse_ok(s);
        char out[WK_ADDR_STRLEN];
        assert_int_equal(wk_addr_format(&u.u.sa, u.len, out, sizeof out), strlen(s));
        assert_string_equal(out, s);
    }
    { /* an unnamed unix socket (no path) prints as "unix" */
        struct sockaddr_un un = {.sun_family = AF_UNIX};
        char out[32];
        wk_addr_format((struct sockaddr *)&un, offsetof(struct sockaddr_un, sun_path), out,
                       sizeof out);
        assert_string_equal(out, "unix");
    }
    { /* the longest IPv6 text fits WK_ADDR_STRLEN */
        const char *s = "[ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff]:65535";
        struct wk_addr l = parse_ok(s);
        char out[WK_ADDR_STRLEN];
        assert_int_equal(wk_addr_format(&l.u.sa, l.len, out, sizeof out), strlen(s));
        assert_string_equal(out, s);
    }
}

static void test_format_host(void **state)
{
    (void)state;
    char out[64];
    { /* IPv4 */
        struct wk_addr a = parse_ok("192.0.2.7:80");
        assert_int_equal(wk_addr_format_host(&a.u.sa, out, sizeof out), 9);
        assert_string_equal(out, "192.0.2.7");
    }
    { /* IPv6 without brackets or port */
        struct wk_addr a = parse_ok("[::1]:80");
        assert_int_equal(wk_addr_format_host(&a.u.sa, out, sizeof out), 3);
        assert_string_equal(out, "::1");
    }
    { /* unix */
        struct wk_addr a = parse_ok("unix:/x");
        wk_addr_format_host(&a.u.sa, out, sizeof out);
        assert_string_equal(out, "unix");
    }
}

static bool loopback4(const char *ip)
{
    struct sockaddr_in in = {.sin_family = AF_INET};
    assert_int_equal(inet_pton(AF_INET, ip, &in.sin_addr), 1);
    return wk_addr_is_loopback((struct sockaddr *)&in);
}

static bool loopback6(const char *ip)
{
    struct sockaddr_in6 in6 = {.sin6_family = AF_INET6};
    assert_int_equal(inet_pton(AF_INET6, ip, &in6.sin6_addr), 1);
    return wk_addr_is_loopback((struct sockaddr *)&in6);
}

static void test_is_loopback(void **state)
{
    (void)state;
    { /* all of 127.0.0.0/8 */
        assert_true(loopback4("127.0.0.1"));
        assert_true(loopback4("127.0.0.0"));
        assert_true(loopback4("127.255.255.254"));
        assert_true(loopback4("127.1.2.3"));
    }
    { /* nothing else in IPv4 */
        assert_false(loopback4("10.0.0.1"));
        assert_false(loopback4("126.255.255.255"));
        assert_false(loopback4("128.0.0.1"));
        assert_false(loopback4("0.0.0.0"));
        assert_false(loopback4("192.168.1.127"));
        assert_false(loopback4("1.0.0.127"));
    }
    { /* IPv6 ::1 and v4-mapped loopback */
        assert_true(loopback6("::1"));
        assert_true(loopback6("::ffff:127.0.0.1"));
        assert_true(loopback6("::ffff:127.9.9.9"));
    }
    { /* not loopback in IPv6 */
        assert_false(loopback6("::"));
        assert_false(loopback6("::2"));
        assert_false(loopback6("::ffff:10.0.0.1"));
        assert_false(loopback6("::ffff:128.0.0.1"));
        assert_false(loopback6("fe80::1"));
        assert_false(loopback6("2001:db8::127:0:0:1"));
        assert_false(loopback6("127::1"));
    }
    { /* unix sockets are not "loopback" addresses */
        struct wk_addr a = parse_ok("unix:/x");
        assert_false(wk_addr_is_loopback(&a.u.sa));
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_ipv4),      cmocka_unit_test(test_parse_ipv6),
        cmocka_unit_test(test_parse_any),       cmocka_unit_test(test_parse_unix),
        cmocka_unit_test(test_parse_bad_ports), cmocka_unit_test(test_parse_malformed),
        cmocka_unit_test(test_parse_names),     cmocka_unit_test(test_format_round_trip),
        cmocka_unit_test(test_format_limits),   cmocka_unit_test(test_format_host),
        cmocka_unit_test(test_is_loopback),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
