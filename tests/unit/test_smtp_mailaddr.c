/*
 * test_smtp_mailaddr.c: paths and mailboxes (smtpd/mailaddr.c), RFC 5321
 * 4.1.2 and 4.5.3.1 with RFC 6531's UTF-8, and the Maildir folder names
 * made from them. Each path is parsed from the end of a guard page, with
 * and without SMTPUTF8, and so is every prefix of it: a truncated path
 * must give a consistent answer and never read past its end.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "smtpd/mailaddr.h"
#include "support/guard.h"

/* A string literal and its length, NULs included. */
#define S(x) x, sizeof(x) - 1

#define FOLDER_CAP (SMTP_LOCAL_MAX + 1 + SMTP_DOMAIN_MAX + 1)

static bool has_high(const char *s)
{
    for (; *s; s++) {
        if ((unsigned char)*s >= 0x80)
            return true;
    }
    return false;
}

/* A folder name that smtp_mailaddr_folder() accepted is safe as a directory name. */
static void check_folder(const struct smtp_mailbox *m)
{
    char folder[FOLDER_CAP];
    int rc = smtp_mailaddr_folder(m, folder, sizeof folder);
    assert_true(rc == 0 || rc == -EPERM || rc == -EINVAL);
    assert_true((rc == -EINVAL) == (m->null_path || m->domain[0] == '\0'));
    if (rc != 0)
        return;
    size_t n = strlen(folder);
    assert_true(n > 0 && n <= NAME_MAX);
    assert_true(folder[0] != '.');
    assert_null(strstr(folder, ".."));
    assert_null(strchr(folder, '/'));
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)folder[i];
        assert_true(c >= 0x20 && c != 0x7f && !(c >= 'A' && c <= 'Z'));
    }
}

/* What holds for every result, whatever the path. */
static void check_invariants(int rc, bool utf8, const struct smtp_mailbox *m)
{
    assert_true(rc == 0 || rc == -EINVAL || rc == -ENAMETOOLONG);
    if (rc != 0)
        return;
    assert_true(memchr(m->local, '\0', sizeof m->local) != NULL);
    assert_true(memchr(m->domain, '\0', sizeof m->domain) != NULL);
    if (m->null_path) {
        assert_false(m->bare_postmaster);
        assert_string_equal(m->local, "");
        assert_string_equal(m->domain, "");
        return;
    }
    if (m->bare_postmaster) {
        assert_string_equal(m->local, "postmaster");
        assert_string_equal(m->domain, "");
        return;
    }
    assert_true(m->domain[0] != '\0');
    assert_true(strlen(m->local) <= SMTP_LOCAL_MAX);
    if (!utf8)
        assert_false(has_high(m->local) || has_high(m->domain));
    for (const char *s = m->local; *s; s++)
        assert_true((unsigned char)*s >= 0x20 && *s != 0x7f);
    for (const char *s = m->domain; *s; s++)
        assert_true((unsigned char)*s > 0x20 && *s != 0x7f);
    check_folder(m);
}

/* Parses p[0, n) with and without SMTPUTF8; what parses without it parses the same with it. */
static void on_prefix(const char *p, size_t n, void *arg)
{
    (void)arg;
    struct smtp_mailbox ascii, utf8;
    int rc_ascii = smtp_mailaddr_parse(p, n, false, &ascii);
    int rc_utf8 = smtp_mailaddr_parse(p, n, true, &utf8);
    check_invariants(rc_ascii, false, &ascii);
    check_invariants(rc_utf8, true, &utf8);
    if (rc_ascii != -EINVAL) {
        assert_int_equal(rc_utf8, rc_ascii);
        if (rc_ascii == 0)
            assert_memory_equal(&ascii, &utf8, sizeof ascii);
    }
}

struct want {
    int rc;
    const char *local;
    const char *domain;
    int folder_rc;
    const char *folder;
};

/* Parses path[0, len) from a guard page, then its folder name, and compares with w. */
static void expect_path(const char *path, size_t len, bool utf8, struct want w)
{
    const char *g = wk_test_guard(path, len);
    struct smtp_mailbox m;
    int rc = smtp_mailaddr_parse(g, len, utf8, &m);
    wk_test_guard_free(g, len);
    check_invariants(rc, utf8, &m);
    if (rc != w.rc)
        fail_msg("\"%.*s\" utf8=%d: result %d, want %d", (int)len, path, utf8, rc, w.rc);
    if (rc == 0) {
        assert_false(m.null_path || m.bare_postmaster);
        assert_string_equal(m.local, w.local);
        assert_string_equal(m.domain, w.domain);
        char folder[FOLDER_CAP];
        int frc = smtp_mailaddr_folder(&m, folder, sizeof folder);
        if (frc != w.folder_rc)
            fail_msg("\"%.*s\": folder result %d, want %d", (int)len, path, frc, w.folder_rc);
        if (frc == 0)
            assert_string_equal(folder, w.folder);
    }
    wk_test_each_prefix(path, len, on_prefix, NULL);
}

/* A mailbox, in both modes, with its folder name. */
static void expect_ok(const char *path, const char *local, const char *domain, const char *folder)
{
    struct want w = {0, local, domain, 0, folder};
    expect_path(path, strlen(path), false, w);
    expect_path(path, strlen(path), true, w);
}

/* A mailbox whose folder name would be unsafe. */
static void expect_unsafe(const char *path, const char *local, const char *domain)
{
    struct want w = {0, local, domain, -EPERM, NULL};
    expect_path(path, strlen(path), false, w);
    expect_path(path, strlen(path), true, w);
}

/* Refused in both modes. */
static void expect_rc(const char *path, size_t len, int rc)
{
    struct want w = {rc, NULL, NULL, 0, NULL};
    expect_path(path, len, false, w);
    expect_path(path, len, true, w);
}

static void expect_einval(const char *path)
{
    expect_rc(path, strlen(path), -EINVAL);
}

static void test_dot_strings(void **state)
{
    (void)state;
    { /* the everyday mailbox, folder lowercased */
        expect_ok("<a@b>", "a", "b", "a@b");
        expect_ok("<john@example.com>", "john", "example.com", "john@example.com");
        expect_ok("<User.Name+tag@Example.COM>", "User.Name+tag", "Example.COM",
                  "user.name+tag@example.com");
        expect_ok("<postmaster@example.com>", "postmaster", "example.com",
                  "postmaster@example.com");
    }
    { /* every atext character but '/' */
        expect_ok("<!#$%&'*+-=?^_`{|}~09AZaz@x>", "!#$%&'*+-=?^_`{|}~09AZaz", "x",
                  "!#$%&'*+-=?^_`{|}~09azaz@x");
    }
    { /* dots only between atoms */
        expect_einval("<a..b@x>");
        expect_einval("<.a@x>");
        expect_einval("<a.@x>");
        expect_einval("<.@x>");
    }
    { /* not atext */
        expect_einval("<a b@x>");
        expect_einval("<a\\b@x>");
        expect_einval("<a(b)@x>");
        expect_einval("<a,b@x>");
        expect_einval("<a:b@x>");
        expect_einval("<a;b@x>");
        expect_einval("<a<b@x>");
        expect_einval("<a\"b@x>");
        expect_einval("<a[b]@x>");
        expect_rc(S("<a\0b@x>"), -EINVAL);
        expect_rc(S("<a\x7f@x>"), -EINVAL);
        expect_rc(S("<a\r\n@x>"), -EINVAL);
    }
    { /* '/' is atext: it parses, but names no folder */
        expect_unsafe("<a/b@x>", "a/b", "x");
        expect_unsafe("<a/b.c@x>", "a/b.c", "x");
        expect_einval("<../x@y>");
    }
}

static void test_quoted_strings(void **state)
{
    (void)state;
    { /* stored without the quotes, escapes resolved */
        expect_ok("<\"john doe\"@x>", "john doe", "x", "john doe@x");
        expect_ok("<\"John Doe\"@X.org>", "John Doe", "X.org", "john doe@x.org");
        expect_ok("<\"a\\\"b\"@x>", "a\"b", "x", "a\"b@x");
        expect_ok("<\"a\\\\b\"@x>", "a\\b", "x", "a\\b@x");
        expect_ok("<\"\\a\\ \\~\"@x>", "a ~", "x", "a ~@x");
        expect_ok("<\"a@b\"@x>", "a@b", "x", "a@b@x");
        expect_ok("<\"a>b\"@x>", "a>b", "x", "a>b@x");
        expect_ok("<\"a,b:c;<d>\"@x>", "a,b:c;<d>", "x", "a,b:c;<d>@x");
        expect_ok("<\"simple\"@x>", "simple", "x", "simple@x");
        expect_ok("<\"\"@x>", "", "x", "@x");
        expect_ok("<\" \"@x>", " ", "x", " @x");
    }
    { /* names that would leave or confuse the Maildir */
        expect_unsafe("<\"../../etc\"@x>", "../../etc", "x");
        expect_unsafe("<\"..\"@x>", "..", "x");
        expect_unsafe("<\".a\"@x>", ".a", "x");
        expect_unsafe("<\"a..b\"@x>", "a..b", "x");
        expect_unsafe("<\"a/b\"@x>", "a/b", "x");
        expect_unsafe("<\"a\\/b\"@x>", "a/b", "x");
        expect_ok("<\"a.\"@x>", "a.", "x", "a.@x");
    }
    { /* quoted-string syntax */
        expect_einval("<\"a\"b@x>");
        expect_einval("<a\"b\"@x>");
        expect_einval("<\"a@x>");
        expect_einval("<\"a\\\"@x>");
        expect_einval("<\"a\"\"b\"@x>");
        expect_einval("<\"a\".b@x>");
        expect_einval("<\"a\">");
        expect_rc(S("<\"a\tb\"@x>"), -EINVAL);
        expect_rc(S("<\"a\\\tb\"@x>"), -EINVAL);
        expect_rc(S("<\"a\\\x7f\"@x>"), -EINVAL);
        expect_rc(S("<\"a\x7f\"@x>"), -EINVAL);
        expect_rc(S("<\"a\0\"@x>"), -EINVAL);
        expect_rc(S("<\"a\\\0\"@x>"), -EINVAL);
    }
}

static void test_domains(void **state)
{
    (void)state;
    { /* dot-separated LDH labels */
        expect_ok("<a@localhost>", "a", "localhost", "a@localhost");
        expect_ok("<a@x-y.example>", "a", "x-y.example", "a@x-y.example");
        expect_ok("<a@x--y.example>", "a", "x--y.example", "a@x--y.example");
        expect_ok("<a@123.example>", "a", "123.example", "a@123.example");
        expect_ok("<a@1.2.3.4>", "a", "1.2.3.4", "a@1.2.3.4");
        expect_ok("<a@xn--bcher-kva.example>", "a", "xn--bcher-kva.example",
                  "a@xn--bcher-kva.example");
    }
    { /* not LDH labels */
        expect_einval("<a@-x.com>");
        expect_einval("<a@x-.com>");
        expect_einval("<a@x.-com>");
        expect_einval("<a@x..com>");
        expect_einval("<a@.x.com>");
        expect_einval("<a@x.com.>");
        expect_einval("<a@x_y.com>");
        expect_einval("<a@x y.com>");
        expect_einval("<a@x/y.com>");
        expect_einval("<a@x.com/..>");
        expect_einval("<a@>");
        expect_einval("<a@->");
        expect_einval("<a@.>");
        expect_einval("<a@b@c>");
        expect_einval("<a@\"b\">");
    }
    { /* labels of 63 octets, not 64 */
        char path[128];
        char label[70];
        memset(label, 'l', sizeof label);
        snprintf(path, sizeof path, "<a@%.63s.example>", label);
        char domain[80];
        snprintf(domain, sizeof domain, "%.63s.example", label);
        char folder[90];
        snprintf(folder, sizeof folder, "a@%s", domain);
        expect_ok(path, "a", domain, folder);
        snprintf(path, sizeof path, "<a@%.64s.example>", label);
        expect_einval(path);
        snprintf(path, sizeof path, "<a@x.%.64s>", label);
        expect_einval(path);
    }
}

static void test_address_literals(void **state)
{
    (void)state;
    { /* IPv4 and IPv6 literals, kept with their brackets */
        expect_ok("<a@[192.0.2.1]>", "a", "[192.0.2.1]", "a@[192.0.2.1]");
        expect_ok("<a@[0.0.0.0]>", "a", "[0.0.0.0]", "a@[0.0.0.0]");
        expect_ok("<a@[255.255.255.255]>", "a", "[255.255.255.255]", "a@[255.255.255.255]");
        expect_ok("<a@[IPv6:::1]>", "a", "[IPv6:::1]", "a@[ipv6:::1]");
        expect_ok("<a@[ipv6:2001:DB8::1]>", "a", "[ipv6:2001:DB8::1]", "a@[ipv6:2001:db8::1]");
        expect_ok("<a@[IPv6:2001:db8:0:0:0:0:0:1]>", "a", "[IPv6:2001:db8:0:0:0:0:0:1]",
                  "a@[ipv6:2001:db8:0:0:0:0:0:1]");
        expect_ok("<a@[IPv6:::ffff:192.0.2.1]>", "a", "[IPv6:::ffff:192.0.2.1]",
                  "a@[ipv6:::ffff:192.0.2.1]");
    }
    { /* not addresses */
        expect_einval("<a@[300.1.1.1]>");
        expect_einval("<a@[1.2.3]>");
        expect_einval("<a@[1.2.3.4.5]>");
        expect_einval("<a@[01.2.3.4]>");
        expect_einval("<a@[1.2.3.4 ]>");
        expect_einval("<a@[::1]>");
        expect_einval("<a@[IPv6:1.2.3.4]>");
        expect_einval("<a@[IPv6:]>");
        expect_einval("<a@[IPv6:::1%eth0]>");
        expect_einval("<a@[IPv6:1:2:3:4:5:6:7:8:9]>");
        expect_einval("<a@[IPv6:::g]>");
        expect_einval("<a@[IPv4:1.2.3.4]>");
        expect_einval("<a@[x-tag:anything]>");
        expect_einval("<a@[]>");
        expect_einval("<a@[>");
        expect_einval("<a@[1.2.3.4>");
        expect_einval("<a@[1.2.3.4]x>");
        expect_einval("<a@[1.2.3.4].x>");
        expect_einval("<a@x[1.2.3.4]>");
        expect_einval("<a@[[1.2.3.4]]>");
        expect_einval("<a@[IPv6:0000:0000:0000:0000:0000:0000:0000:0000:0000:0000:0001]>");
    }
}

static void test_special_paths(void **state)
{
    (void)state;
    { /* the null reverse-path */
        struct smtp_mailbox m;
        const char *g = WK_TEST_GUARD_STR("<>");
        assert_int_equal(smtp_mailaddr_parse(g, 2, false, &m), 0);
        wk_test_guard_free(g, 2);
        assert_true(m.null_path);
        assert_false(m.bare_postmaster);
        char folder[FOLDER_CAP];
        assert_int_equal(smtp_mailaddr_folder(&m, folder, sizeof folder), -EINVAL);
    }
    { /* "<postmaster>", any case, with the domain left to the caller */
        static const char *const forms[] = {"<postmaster>", "<Postmaster>", "<POSTMASTER>"};
        for (size_t i = 0; i < sizeof forms / sizeof forms[0]; i++) {
            struct smtp_mailbox m;
            size_t len = strlen(forms[i]);
            const char *g = wk_test_guard(forms[i], len);
            assert_int_equal(smtp_mailaddr_parse(g, len, false, &m), 0);
            wk_test_guard_free(g, len);
            assert_true(m.bare_postmaster);
            assert_false(m.null_path);
            assert_string_equal(m.local, "postmaster");
            assert_string_equal(m.domain, "");
            char folder[FOLDER_CAP];
            assert_int_equal(smtp_mailaddr_folder(&m, folder, sizeof folder), -EINVAL);
            snprintf(m.domain, sizeof m.domain, "mx.Example.org");
            assert_int_equal(smtp_mailaddr_folder(&m, folder, sizeof folder), 0);
            assert_string_equal(folder, "postmaster@mx.example.org");
            wk_test_each_prefix(forms[i], len, on_prefix, NULL);
        }
    }
    { /* not a path */
        expect_einval("");
        expect_einval("<");
        expect_einval(">");
        expect_einval("a@b");
        expect_einval("<a@b");
        expect_einval("a@b>");
        expect_einval(" <a@b>");
        expect_einval("<a@b> ");
        expect_einval("<<a@b>>");
        expect_einval("<a>");
        expect_einval("<@b>");
        expect_einval("<@>");
        expect_einval("<postmaster >");
        expect_einval("<\"postmaster\">");
        expect_einval("<postmistress>");
        expect_einval("<a@b>>");
    }
}

static void test_source_routes(void **state)
{
    (void)state;
    { /* accepted and ignored (RFC 5321 4.1.2, appendix C) */
        expect_ok("<@relay.example:a@b>", "a", "b", "a@b");
        expect_ok("<@one.example,@two.example:User@Host.example>", "User", "Host.example",
                  "user@host.example");
        expect_ok("<@x,@y,@z:\"q r\"@[192.0.2.1]>", "q r", "[192.0.2.1]", "q r@[192.0.2.1]");
    }
    { /* broken routes */
        expect_einval("<@a:>");
        expect_einval("<@:a@b>");
        expect_einval("<@a,:a@b>");
        expect_einval("<@a,a:b@c>");
        expect_einval("<@a,@b>");
        expect_einval("<@a b:c@d>");
        expect_einval("<@a;b@c>");
        expect_einval("<@[192.0.2.1]:a@b>");
        expect_einval("<@-a:b@c>");
        expect_einval("<@a::b@c>");
        expect_einval("<@a:@b:c@d>");
        expect_einval("<@a:postmaster>");
    }
}

static void test_lengths(void **state)
{
    (void)state;
    char local[SMTP_PATH_MAX + 8];
    char path[1024];
    memset(local, 'x', sizeof local);
    { /* a local-part of 64 octets; 65 is too long */
        local[SMTP_LOCAL_MAX] = '\0';
        snprintf(path, sizeof path, "<%s@example.com>", local);
        char folder[1024];
        snprintf(folder, sizeof folder, "%s@example.com", local);
        expect_ok(path, local, "example.com", folder);
        local[SMTP_LOCAL_MAX] = 'x';
        local[SMTP_LOCAL_MAX + 1] = '\0';
        snprintf(path, sizeof path, "<%s@example.com>", local);
        expect_rc(path, strlen(path), -ENAMETOOLONG);
    }
    { /* a syntax error anywhere beats a local-part's length */
        snprintf(path, sizeof path, "<%s@-example.com>", local);
        expect_rc(path, strlen(path), -EINVAL);
        snprintf(path, sizeof path, "<%s\xc3\xa9.\x8b@x>", local);
        expect_rc(path, strlen(path), -EINVAL);
        snprintf(path, sizeof path, "<%s\xc3\xa9@x>", local);
        struct want ascii = {-EINVAL, NULL, NULL, 0, NULL};
        struct want utf8 = {-ENAMETOOLONG, NULL, NULL, 0, NULL};
        expect_path(path, strlen(path), false, ascii);
        expect_path(path, strlen(path), true, utf8);
    }
    { /* a quoted local-part counts its quotes: 62 inside fit, 63 do not */
        local[SMTP_LOCAL_MAX - 2] = '\0';
        snprintf(path, sizeof path, "<\"%s\"@x>", local);
        char folder[1024];
        snprintf(folder, sizeof folder, "%s@x", local);
        expect_ok(path, local, "x", folder);
        local[SMTP_LOCAL_MAX - 2] = 'x';
        local[SMTP_LOCAL_MAX - 1] = '\0';
        snprintf(path, sizeof path, "<\"%s\"@x>", local);
        expect_rc(path, strlen(path), -ENAMETOOLONG);
    }
    { /* a path of 256 octets; 257 is too long, even if its syntax is bad too */
        char domain[SMTP_PATH_MAX];
        char folder[1024];
        size_t dlen = SMTP_PATH_MAX - strlen("<a@>");
        for (size_t i = 0; i < dlen; i++)
            domain[i] = i % 50 == 49 ? '.' : 'd';
        domain[dlen] = '\0';
        snprintf(path, sizeof path, "<a@%s>", domain);
        assert_int_equal(strlen(path), SMTP_PATH_MAX);
        snprintf(folder, sizeof folder, "a@%s", domain);
        expect_ok(path, "a", domain, folder);
        snprintf(path, sizeof path, "<ab@%s>", domain);
        expect_rc(path, strlen(path), -ENAMETOOLONG);
        memset(path, '<', sizeof path);
        expect_rc(path, SMTP_PATH_MAX + 1, -ENAMETOOLONG);
        expect_rc(path, SMTP_PATH_MAX, -EINVAL);
    }
    { /* the longest local-part with the longest domain that still fits the path */
        char domain[SMTP_PATH_MAX];
        char folder[1024];
        size_t dlen = SMTP_PATH_MAX - SMTP_LOCAL_MAX - strlen("<@>");
        for (size_t i = 0; i < dlen; i++)
            domain[i] = i % 50 == 49 ? '.' : 'd';
        domain[dlen] = '\0';
        memset(local, 'x', SMTP_LOCAL_MAX);
        local[SMTP_LOCAL_MAX] = '\0';
        snprintf(path, sizeof path, "<%s@%s>", local, domain);
        assert_int_equal(strlen(path), SMTP_PATH_MAX);
        snprintf(folder, sizeof folder, "%s@%s", local, domain);
        expect_ok(path, local, domain, folder);
    }
}

static void test_utf8(void **state)
{
    (void)state;
    struct want refused = {-EINVAL, NULL, NULL, 0, NULL};
    { /* with SMTPUTF8: UTF-8 in local-parts and domain labels; ASCII folded only */
        struct want w = {0, "j\xc3\xb6rg",
                         "b\xc3\xbc"
                         "cher.example",
                         0,
                         "j\xc3\xb6rg@b\xc3\xbc"
                         "cher.example"};
        expect_path(S("<j\xc3\xb6rg@b\xc3\xbc"
                      "cher.example>"),
                    true, w);
        expect_path(S("<j\xc3\xb6rg@b\xc3\xbc"
                      "cher.example>"),
                    false, refused);
        struct want upper = {0, "\xc3\x84Rger", "X", 0, "\xc3\x84rger@x"};
        expect_path(S("<\xc3\x84Rger@X>"), true, upper);
        struct want quoted = {0, "\xe2\x82\xac 1", "x", 0, "\xe2\x82\xac 1@x"};
        expect_path(S("<\"\xe2\x82\xac 1\"@x>"), true, quoted);
        expect_path(S("<\"\xe2\x82\xac 1\"@x>"), false, refused);
        struct want four = {0, "\xf0\x9f\x93\xa7", "\xe4\xbe\x8b.\xe4\xbe\x8b", 0,
                            "\xf0\x9f\x93\xa7@\xe4\xbe\x8b.\xe4\xbe\x8b"};
        expect_path(S("<\xf0\x9f\x93\xa7@\xe4\xbe\x8b.\xe4\xbe\x8b>"), true, four);
        struct want edge = {0, "\xf4\x8f\xbf\xbf\xed\x9f\xbf", "x", 0,
                            "\xf4\x8f\xbf\xbf\xed\x9f\xbf@x"};
        expect_path(S("<\xf4\x8f\xbf\xbf\xed\x9f\xbf@x>"), true, edge);
    }
    { /* ill-formed UTF-8 is refused either way */
        static const char *const bad[] = {
            "<\xc3@x>",             /* truncated */
            "<\xc3(@x>",            /* bad continuation */
            "<\x80@x>",             /* lone continuation */
            "<\xc0\xaf@x>",         /* overlong '/' */
            "<\xe0\x80\xaf@x>",     /* overlong '/' */
            "<\xed\xa0\x80@x>",     /* surrogate */
            "<\xf4\x90\x80\x80@x>", /* above U+10FFFF */
            "<\xf8\x88\x80\x80\x80@x>",
            "<\xff@x>",
            "<a@b\xc3>",
            "<a@\xc3\xbc\xbc>",
            "<\"\xc3\"@x>",
            "<\"\\\xc3\xa9\"@x>", /* quoted-pairSMTP is ASCII only */
            "<a@[IPv6:\xc3\xa9]>",
        };
        for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
            expect_rc(bad[i], strlen(bad[i]), -EINVAL);
    }
    { /* UTF-8 labels follow the hyphen rule, and C1 controls name no folder */
        expect_path(S("<a@\xc3\xbc-\xc3\xbc>"), true,
                    (struct want){0, "a", "\xc3\xbc-\xc3\xbc", 0, "a@\xc3\xbc-\xc3\xbc"});
        expect_path(S("<a@\xc3\xbc->"), true, refused);
        expect_path(S("<\"\xc2\x85\"@x>"), true, (struct want){0, "\xc2\x85", "x", -EPERM, NULL});
        expect_path(S("<a\xc2\x9f@x>"), true, (struct want){0, "a\xc2\x9f", "x", -EPERM, NULL});
        expect_path(S("<a\xc2\xa0@x>"), true, (struct want){0, "a\xc2\xa0", "x", 0, "a\xc2\xa0@x"});
    }
}

static void test_folder(void **state)
{
    (void)state;
    char out[FOLDER_CAP];
    struct smtp_mailbox m = {.local = "Alice", .domain = "Example.ORG"};
    { /* lowercased; the buffer must hold the name and its NUL */
        assert_int_equal(smtp_mailaddr_folder(&m, out, sizeof out), 0);
        assert_string_equal(out, "alice@example.org");
        assert_int_equal(smtp_mailaddr_folder(&m, out, strlen("alice@example.org") + 1), 0);
        assert_int_equal(smtp_mailaddr_folder(&m, out, strlen("alice@example.org")), -ENAMETOOLONG);
        assert_int_equal(smtp_mailaddr_folder(&m, out, 0), -ENAMETOOLONG);
    }
    { /* what a caller's filling could put there */
        static const char *const domains[] = {"a/b", "a\nb", "a\x7f", "..", "x..y", "\x1b[1m"};
        for (size_t i = 0; i < sizeof domains / sizeof domains[0]; i++) {
            snprintf(m.domain, sizeof m.domain, "%s", domains[i]);
            assert_int_equal(smtp_mailaddr_folder(&m, out, sizeof out), -EPERM);
        }
        snprintf(m.local, sizeof m.local, ".");
        snprintf(m.domain, sizeof m.domain, "x");
        assert_int_equal(smtp_mailaddr_folder(&m, out, sizeof out), -EPERM);
        snprintf(m.local, sizeof m.local, "..");
        assert_int_equal(smtp_mailaddr_folder(&m, out, sizeof out), -EPERM);
        snprintf(m.local, sizeof m.local, "a.");
        snprintf(m.domain, sizeof m.domain, ".x"); /* "a.@.x" is odd but harmless */
        assert_int_equal(smtp_mailaddr_folder(&m, out, sizeof out), 0);
    }
    { /* longer than NAME_MAX, whatever the buffer */
        memset(m.local, 'l', SMTP_LOCAL_MAX);
        m.local[SMTP_LOCAL_MAX] = '\0';
        memset(m.domain, 'd', NAME_MAX - SMTP_LOCAL_MAX - 1);
        m.domain[NAME_MAX - SMTP_LOCAL_MAX - 1] = '\0';
        assert_int_equal(smtp_mailaddr_folder(&m, out, sizeof out), 0);
        assert_int_equal(strlen(out), NAME_MAX);
        m.domain[NAME_MAX - SMTP_LOCAL_MAX - 1] = 'd';
        m.domain[NAME_MAX - SMTP_LOCAL_MAX] = '\0';
        assert_int_equal(smtp_mailaddr_folder(&m, out, sizeof out), -EPERM);
    }
    { /* not a mailbox */
        memset(&m, 0, sizeof m);
        m.null_path = true;
        assert_int_equal(smtp_mailaddr_folder(&m, out, sizeof out), -EINVAL);
        m.null_path = false;
        snprintf(m.local, sizeof m.local, "a");
        assert_int_equal(smtp_mailaddr_folder(&m, out, sizeof out), -EINVAL);
        memset(m.domain, 'd', sizeof m.domain); /* no NUL */
        assert_int_equal(smtp_mailaddr_folder(&m, out, sizeof out), -EINVAL);
        snprintf(m.domain, sizeof m.domain, "x");
        memset(m.local, 'l', sizeof m.local);
        assert_int_equal(smtp_mailaddr_folder(&m, out, sizeof out), -EINVAL);
    }
}

/* Parses path (SMTPUTF8 allowed), writes it back, and expects want. */
static void format_is(const char *path, const char *want)
{
    struct smtp_mailbox m;
    char out[2 * SMTP_LOCAL_MAX + 3 + 1 + SMTP_DOMAIN_MAX + 1];
    assert_int_equal(smtp_mailaddr_parse(path, strlen(path), true, &m), 0);
    assert_int_equal(smtp_mailaddr_format(&m, out, sizeof out), 0);
    assert_string_equal(out, want);
    /* What it writes is a path the parser takes back, to the same mailbox. */
    char again[sizeof out + 2];
    struct smtp_mailbox back;
    snprintf(again, sizeof again, "<%s>", out);
    assert_int_equal(smtp_mailaddr_parse(again, strlen(again), true, &back), 0);
    assert_string_equal(back.local, m.local);
    assert_string_equal(back.domain, m.domain);
    assert_int_equal(back.null_path, m.null_path);
}

static void test_format(void **state)
{
    (void)state;
    format_is("<a@b.example>", "a@b.example");
    format_is("<Jo.Smith@B.Example>", "Jo.Smith@B.Example"); /* case kept */
    format_is("<\"a\"@x>", "a@x");                           /* needless quotes dropped */
    format_is("<\"a b\"@x>", "\"a b\"@x");
    format_is("<\"a\\\"b\\\\c\"@x>", "\"a\\\"b\\\\c\"@x"); /* '"' and '\\' escaped */
    format_is("<\"a..b\"@x>", "\"a..b\"@x");
    format_is("<\".a\"@x>", "\".a\"@x");
    format_is("<j\xc3\xb6ran@x>", "j\xc3\xb6ran@x"); /* UTF-8 kept */
    format_is("<@r1,@r2:u@[192.0.2.1]>", "u@[192.0.2.1]");
    format_is("<>", "");
    struct smtp_mailbox m;
    assert_int_equal(smtp_mailaddr_parse(S("<postmaster>"), false, &m), 0);
    char out[16];
    assert_int_equal(smtp_mailaddr_format(&m, out, sizeof out), 0);
    assert_string_equal(out, "postmaster");
    assert_int_equal(smtp_mailaddr_format(&m, out, 10), -ENAMETOOLONG);
}

static void test_domain_equal(void **state)
{
    (void)state;
    assert_true(smtp_mailaddr_domain_equal("example.com", "example.com"));
    assert_true(smtp_mailaddr_domain_equal("Example.COM", "example.com"));
    assert_true(smtp_mailaddr_domain_equal("example.com.", "EXAMPLE.com"));
    assert_true(smtp_mailaddr_domain_equal("example.com", "example.com."));
    assert_true(smtp_mailaddr_domain_equal("example.com.", "example.com."));
    assert_true(smtp_mailaddr_domain_equal("[IPv6:::1]", "[ipv6:::1]"));
    assert_false(smtp_mailaddr_domain_equal("example.com..", "example.com"));
    assert_false(smtp_mailaddr_domain_equal("example.co", "example.com"));
    assert_false(smtp_mailaddr_domain_equal("example.com", "example.co"));
    assert_false(smtp_mailaddr_domain_equal("mail.example.com", "example.com"));
    assert_false(smtp_mailaddr_domain_equal("\xc3\x84.x", "\xc3\xa4.x")); /* ASCII only */
    assert_false(smtp_mailaddr_domain_equal("", ""));
    assert_false(smtp_mailaddr_domain_equal(".", ""));
    assert_false(smtp_mailaddr_domain_equal(".", "."));
    assert_false(smtp_mailaddr_domain_equal(NULL, "x"));
    assert_false(smtp_mailaddr_domain_equal("x", NULL));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dot_strings),   cmocka_unit_test(test_quoted_strings),
        cmocka_unit_test(test_domains),       cmocka_unit_test(test_address_literals),
        cmocka_unit_test(test_special_paths), cmocka_unit_test(test_source_routes),
        cmocka_unit_test(test_lengths),       cmocka_unit_test(test_utf8),
        cmocka_unit_test(test_folder),        cmocka_unit_test(test_domain_equal),
        cmocka_unit_test(test_format),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
