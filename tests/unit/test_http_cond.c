/*
 * test_http_cond.c: entity-tags, HTTP-dates and conditional requests
 * (httpd/cond.c, RFC 9110 8.8 and 13), case by case. Header values are read
 * from the end of a guard page; dates and lists are also fed truncated at
 * every byte.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "common/clock.h"
#include "httpd/cond.h"
#include "support/guard.h"

#define PROCEED HTTP_COND_PROCEED
#define NOT_MODIFIED HTTP_COND_NOT_MODIFIED
#define FAILED HTTP_COND_PRECONDITION_FAILED

/* The representation the requests ask about: Sun, 06 Nov 1994 08:49:37 GMT. */
#define MTIME ((time_t)784111777)
#define ETAG "\"abc\""
#define DATE_EQUAL "Sun, 06 Nov 1994 08:49:37 GMT"
#define DATE_BEFORE "Sun, 06 Nov 1994 08:49:36 GMT"
#define DATE_AFTER "Sun, 06 Nov 1994 08:49:38 GMT"
#define CURRENT ETAG, strlen(ETAG), MTIME

/* ---- dates ---- */

static void expect_date(const char *s, time_t want)
{
    size_t len = strlen(s);
    const char *g = wk_test_guard(s, len);
    time_t t = 12345;
    int rc = http_date_parse(g, len, &t);
    wk_test_guard_free(g, len);
    if (rc != 0)
        fail_msg("\"%s\": rc %d", s, rc);
    assert_int_equal(t, want);
}

static void expect_bad_date(const char *s)
{
    size_t len = strlen(s);
    const char *g = wk_test_guard(s, len);
    time_t t = 12345;
    int rc = http_date_parse(g, len, &t);
    wk_test_guard_free(g, len);
    if (rc != -EINVAL)
        fail_msg("\"%s\": rc %d, want -EINVAL", s, rc);
    assert_int_equal(t, 12345);
}

/* Every strict prefix of a date is not a date (trailing OWS aside). */
static void on_date_prefix(const char *p, size_t n, void *arg)
{
    size_t full = *(const size_t *)arg;
    time_t t;
    if (n < full)
        assert_int_equal(http_date_parse(p, n, &t), -EINVAL);
}

static void expect_prefixes_bad(const char *s)
{
    size_t len = strlen(s);
    wk_test_each_prefix(s, len, on_date_prefix, &len);
}

static void test_date_formats(void **state)
{
    (void)state;
    { /* the three formats of RFC 9110 5.6.7 */
        expect_date("Sun, 06 Nov 1994 08:49:37 GMT", MTIME);
        expect_date("Sunday, 06-Nov-94 08:49:37 GMT", MTIME);
        expect_date("Sun Nov  6 08:49:37 1994", MTIME);
    }
    { /* asctime with a two-digit day */
        expect_date("Sun Nov 16 08:49:37 1994", MTIME + 10 * 86400);
        expect_date("Sun Nov 06 08:49:37 1994", MTIME);
    }
    { /* surrounding OWS is ignored */
        expect_date("  Sun, 06 Nov 1994 08:49:37 GMT \t", MTIME);
    }
    { /* every month name */
        static const char *const names[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                            "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
        static const time_t first[] = {1704067200, 1706745600, 1709251200, 1711929600,
                                       1714521600, 1717200000, 1719792000, 1722470400,
                                       1725148800, 1727740800, 1730419200, 1733011200};
        for (size_t m = 0; m < 12; m++) {
            char s[40];
            snprintf(s, sizeof(s), "Mon, 01 %s 2024 00:00:00 GMT", names[m]);
            expect_date(s, first[m]);
        }
    }
    { /* every day name, both forms (the weekday is not checked against the date) */
        static const char *const shorts[] = {"Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"};
        static const char *const longs[] = {"Monday", "Tuesday",  "Wednesday", "Thursday",
                                            "Friday", "Saturday", "Sunday"};
        for (size_t d = 0; d < 7; d++) {
            char s[48];
            snprintf(s, sizeof(s), "%s, 06 Nov 1994 08:49:37 GMT", shorts[d]);
            expect_date(s, MTIME);
            snprintf(s, sizeof(s), "%s, 06-Nov-94 08:49:37 GMT", longs[d]);
            expect_date(s, MTIME);
            snprintf(s, sizeof(s), "%s Nov  6 08:49:37 1994", shorts[d]);
            expect_date(s, MTIME);
        }
    }
}

static void test_date_values(void **state)
{
    (void)state;
    { /* the epoch and the second before it */
        expect_date("Thu, 01 Jan 1970 00:00:00 GMT", 0);
        expect_date("Wed, 31 Dec 1969 23:59:59 GMT", -1);
    }
    { /* leap days */
        expect_date("Tue, 29 Feb 2000 00:00:00 GMT", 951782400);
        expect_date("Thu, 29 Feb 2024 12:00:00 GMT", 1709208000);
    }
    { /* past 2038 and the last four-digit year */
        expect_date("Tue, 19 Jan 2038 03:14:08 GMT", 2147483648);
        expect_date("Fri, 31 Dec 9999 23:59:59 GMT", 253402300799);
    }
    { /* a leap second counts as the next second */
        expect_date("Sat, 31 Dec 2016 23:59:60 GMT", 1483228800);
    }
    { /* RFC 850 two-digit years: 70-99 are 19xx, 00-69 are 20xx */
        expect_date("Thursday, 01-Jan-70 00:00:00 GMT", 0);
        expect_date("Saturday, 01-Jan-00 00:00:00 GMT", 946684800);
        expect_date("Tuesday, 31-Dec-69 00:00:00 GMT", 3155673600);
    }
    { /* what wk_clock writes, we read back */
        for (time_t t = -86400LL * 365 * 60; t < 253402300799; t += 86400LL * 97 + 3671) {
            char s[WK_CLOCK_IMF_LEN];
            wk_clock_imf_fixdate(t, s);
            expect_date(s, t);
        }
    }
}

static void test_date_field_ranges(void **state)
{
    (void)state;
    { /* days that do not exist */
        expect_bad_date("Fri, 29 Feb 2019 00:00:00 GMT");
        expect_bad_date("Thu, 29 Feb 1900 00:00:00 GMT");
        expect_bad_date("Thu, 30 Feb 2000 00:00:00 GMT");
        expect_bad_date("Thu, 31 Apr 2024 00:00:00 GMT");
        expect_bad_date("Thu, 32 Jan 2024 00:00:00 GMT");
        expect_bad_date("Thu, 00 Jan 2024 00:00:00 GMT");
        expect_bad_date("Sun Nov  0 08:49:37 1994");
    }
    { /* times that do not exist */
        expect_bad_date("Sun, 06 Nov 1994 24:00:00 GMT");
        expect_bad_date("Sun, 06 Nov 1994 08:60:00 GMT");
        expect_bad_date("Sun, 06 Nov 1994 08:49:61 GMT");
        expect_bad_date("Sun, 06 Nov 1994 99:99:99 GMT");
    }
    { /* year zero */
        expect_bad_date("Sun, 06 Nov 0000 08:49:37 GMT");
    }
}

static void test_date_garbage(void **state)
{
    (void)state;
    { /* empty and blank */
        expect_bad_date("");
        expect_bad_date("   ");
    }
    { /* wrong or missing zone */
        expect_bad_date("Sun, 06 Nov 1994 08:49:37");
        expect_bad_date("Sun, 06 Nov 1994 08:49:37 UTC");
        expect_bad_date("Sun, 06 Nov 1994 08:49:37 +0000");
        expect_bad_date("Sun, 06 Nov 1994 08:49:37 gmt");
        expect_bad_date("Sunday, 06-Nov-94 08:49:37");
        expect_bad_date("Sun Nov  6 08:49:37 1994 GMT");
    }
    { /* names are case-sensitive and must be known */
        expect_bad_date("sun, 06 Nov 1994 08:49:37 GMT");
        expect_bad_date("Sun, 06 nov 1994 08:49:37 GMT");
        expect_bad_date("Sun, 06 NOV 1994 08:49:37 GMT");
        expect_bad_date("Xyz, 06 Nov 1994 08:49:37 GMT");
        expect_bad_date("Sun, 06 Foo 1994 08:49:37 GMT");
        expect_bad_date("Sunday, 06 Nov 1994 08:49:37 GMT");
        expect_bad_date("Sun, 06-Nov-94 08:49:37 GMT");
        expect_bad_date("Sunda, 06-Nov-94 08:49:37 GMT");
    }
    { /* digit counts and separators */
        expect_bad_date("Sun, 6 Nov 1994 08:49:37 GMT");
        expect_bad_date("Sun, 06 Nov 94 08:49:37 GMT");
        expect_bad_date("Sun, 06 Nov 1994 8:49:37 GMT");
        expect_bad_date("Sun, 06 Nov 1994 08:49:7 GMT");
        expect_bad_date("Sun,06 Nov 1994 08:49:37 GMT");
        expect_bad_date("Sun, 06  Nov 1994 08:49:37 GMT");
        expect_bad_date("Sun, 06 Nov 1994 08.49.37 GMT");
        expect_bad_date("Sun, 0x Nov 1994 08:49:37 GMT");
        expect_bad_date("Sun, -6 Nov 1994 08:49:37 GMT");
        expect_bad_date("Sunday, 06-Nov-1994 08:49:37 GMT");
        expect_bad_date("Sun Nov 6 08:49:37 1994");
        expect_bad_date("Sun Nov  6 08:49:37 94");
    }
    { /* trailing bytes, and two dates */
        expect_bad_date("Sun, 06 Nov 1994 08:49:37 GMTX");
        expect_bad_date("Sun, 06 Nov 1994 08:49:37 GMT x");
        expect_bad_date("Sun, 06 Nov 1994 08:49:37 GMT, Sun, 06 Nov 1994 08:49:37 GMT");
    }
    { /* other date formats */
        expect_bad_date("1994-11-06T08:49:37Z");
        expect_bad_date("784111777");
    }
    { /* a NUL inside the value */
        time_t t;
        assert_int_equal(http_date_parse("Sun, 06 Nov 1994 08:49:37 GMT\0", 30, &t), -EINVAL);
        assert_int_equal(http_date_parse("Sun, 06 Nov \0" "994 08:49:37 GMT", 29, &t), -EINVAL);
    }
    { /* truncated at every byte */
        expect_prefixes_bad("Sun, 06 Nov 1994 08:49:37 GMT");
        expect_prefixes_bad("Sunday, 06-Nov-94 08:49:37 GMT");
        expect_prefixes_bad("Sun Nov  6 08:49:37 1994");
    }
}

/* ---- entity-tags ---- */

static void expect_etag(uint64_t sec, uint64_t nsec, uint64_t size, const char *want)
{
    char out[HTTP_ETAG_LEN];
    memset(out, 'x', sizeof(out));
    size_t n = http_etag_make(out, sec, nsec, size);
    assert_string_equal(out, want);
    assert_int_equal(n, strlen(want));
}

static void test_etag_make(void **state)
{
    (void)state;
    { /* hex seconds, hex size */
        expect_etag(0x6765d2f1, 0, 0x258, "\"6765d2f1-258\"");
        expect_etag(0, 0, 0, "\"0-0\"");
    }
    { /* nanoseconds, when known, are folded in */
        expect_etag(0x6765d2f1, 0x1f, 0x258, "\"6765d2f1.1f-258\"");
    }
    { /* the longest tag fits */
        expect_etag(UINT64_MAX, 999999999, UINT64_MAX,
                    "\"ffffffffffffffff.3b9ac9ff-ffffffffffffffff\"");
    }
    { /* different files, different tags */
        char a[HTTP_ETAG_LEN], b[HTTP_ETAG_LEN];
        http_etag_make(a, 100, 0, 1);
        http_etag_make(b, 100, 0, 2);
        assert_string_not_equal(a, b);
        http_etag_make(b, 100, 1, 1);
        assert_string_not_equal(a, b);
        http_etag_make(b, 101, 0, 1);
        assert_string_not_equal(a, b);
    }
    { /* a made tag is what the conditionals compare */
        char t[HTTP_ETAG_LEN];
        size_t n = http_etag_make(t, 0x6765d2f1, 0, 0x258);
        assert_true(http_cond_if_range(t, n, t, n, 0));
    }
}

/* ---- preconditions ---- */

static const char *guarded(const char *s, size_t *len)
{
    if (s == NULL) {
        *len = 0;
        return NULL;
    }
    *len = strlen(s);
    return wk_test_guard(s, *len);
}

static enum http_cond_result evaluate_tag(const char *im, const char *inm, const char *ims,
                                          const char *ius, bool get, const char *etag)
{
    struct http_cond c;
    c.if_match = guarded(im, &c.if_match_len);
    c.if_none_match = guarded(inm, &c.if_none_match_len);
    c.if_modified_since = guarded(ims, &c.ims_len);
    c.if_unmodified_since = guarded(ius, &c.ius_len);
    const char *tag = wk_test_guard(etag, strlen(etag));
    enum http_cond_result r = http_cond_evaluate(&c, get, tag, strlen(etag), MTIME);
    wk_test_guard_free(tag, strlen(etag));
    wk_test_guard_free(c.if_match, c.if_match_len);
    wk_test_guard_free(c.if_none_match, c.if_none_match_len);
    wk_test_guard_free(c.if_modified_since, c.ims_len);
    wk_test_guard_free(c.if_unmodified_since, c.ius_len);
    return r;
}

static enum http_cond_result evaluate(const char *im, const char *inm, const char *ims,
                                      const char *ius, bool get)
{
    return evaluate_tag(im, inm, ims, ius, get, ETAG);
}

#define GET true
#define POST false

static void test_no_conditions(void **state)
{
    (void)state;
    { /* nothing to check */
        assert_int_equal(evaluate(NULL, NULL, NULL, NULL, GET), PROCEED);
        assert_int_equal(evaluate(NULL, NULL, NULL, NULL, POST), PROCEED);
    }
}

static void test_if_match(void **state)
{
    (void)state;
    { /* the same tag, or any tag */
        assert_int_equal(evaluate("\"abc\"", NULL, NULL, NULL, GET), PROCEED);
        assert_int_equal(evaluate("*", NULL, NULL, NULL, GET), PROCEED);
        assert_int_equal(evaluate(" * ", NULL, NULL, NULL, POST), PROCEED);
    }
    { /* another tag */
        assert_int_equal(evaluate("\"xyz\"", NULL, NULL, NULL, GET), FAILED);
        assert_int_equal(evaluate("\"abcd\"", NULL, NULL, NULL, GET), FAILED);
        assert_int_equal(evaluate("\"ab\"", NULL, NULL, NULL, GET), FAILED);
        assert_int_equal(evaluate("\"ABC\"", NULL, NULL, NULL, POST), FAILED);
    }
    { /* the comparison is strong: W/ never matches */
        assert_int_equal(evaluate("W/\"abc\"", NULL, NULL, NULL, GET), FAILED);
        assert_int_equal(evaluate_tag("W/\"abc\"", NULL, NULL, NULL, GET, "W/\"abc\""), FAILED);
        assert_int_equal(evaluate_tag("\"abc\"", NULL, NULL, NULL, GET, "W/\"abc\""), FAILED);
    }
    { /* lists with OWS and empty elements */
        assert_int_equal(evaluate("\"xyz\", \"abc\"", NULL, NULL, NULL, GET), PROCEED);
        assert_int_equal(evaluate("\"xyz\",\"abc\"", NULL, NULL, NULL, GET), PROCEED);
        assert_int_equal(evaluate(" , \"abc\" ,", NULL, NULL, NULL, GET), PROCEED);
        assert_int_equal(evaluate("\"x\",\t\"y\"", NULL, NULL, NULL, GET), FAILED);
        assert_int_equal(evaluate("W/\"abc\", \"abc\"", NULL, NULL, NULL, GET), PROCEED);
    }
    { /* a list that does not parse matches nothing */
        assert_int_equal(evaluate("abc", NULL, NULL, NULL, GET), FAILED);
        assert_int_equal(evaluate("\"abc", NULL, NULL, NULL, GET), FAILED);
        assert_int_equal(evaluate("", NULL, NULL, NULL, GET), FAILED);
        assert_int_equal(evaluate("\"x\" \"abc\"", NULL, NULL, NULL, GET), FAILED);
        assert_int_equal(evaluate("*, \"abc\"", NULL, NULL, NULL, GET), FAILED);
        assert_int_equal(evaluate("\"a\"bc\"", NULL, NULL, NULL, GET), FAILED);
        assert_int_equal(evaluate("w/\"abc\"", NULL, NULL, NULL, GET), FAILED);
    }
    { /* even when a match comes before the syntax error */
        assert_int_equal(evaluate("\"abc\", garbage", NULL, NULL, NULL, GET), FAILED);
        assert_int_equal(evaluate(NULL, "\"abc\", garbage", NULL, NULL, GET), PROCEED);
    }
}

static void test_if_unmodified_since(void **state)
{
    (void)state;
    { /* not modified since: go on */
        assert_int_equal(evaluate(NULL, NULL, NULL, DATE_EQUAL, POST), PROCEED);
        assert_int_equal(evaluate(NULL, NULL, NULL, DATE_AFTER, POST), PROCEED);
    }
    { /* modified since: 412, for GET too */
        assert_int_equal(evaluate(NULL, NULL, NULL, DATE_BEFORE, POST), FAILED);
        assert_int_equal(evaluate(NULL, NULL, NULL, DATE_BEFORE, GET), FAILED);
    }
    { /* a date that does not parse is ignored */
        assert_int_equal(evaluate(NULL, NULL, NULL, "yesterday", POST), PROCEED);
        assert_int_equal(evaluate(NULL, NULL, NULL, "", POST), PROCEED);
    }
    { /* If-Match, when present, is evaluated instead */
        assert_int_equal(evaluate("\"abc\"", NULL, NULL, DATE_BEFORE, POST), PROCEED);
        assert_int_equal(evaluate("\"xyz\"", NULL, NULL, DATE_AFTER, POST), FAILED);
    }
}

static void test_if_none_match(void **state)
{
    (void)state;
    { /* a match: 304 for GET and HEAD, 412 for other methods */
        assert_int_equal(evaluate(NULL, "\"abc\"", NULL, NULL, GET), NOT_MODIFIED);
        assert_int_equal(evaluate(NULL, "\"abc\"", NULL, NULL, POST), FAILED);
        assert_int_equal(evaluate(NULL, "*", NULL, NULL, GET), NOT_MODIFIED);
        assert_int_equal(evaluate(NULL, "*", NULL, NULL, POST), FAILED);
    }
    { /* the comparison is weak: W/ matches either way */
        assert_int_equal(evaluate(NULL, "W/\"abc\"", NULL, NULL, GET), NOT_MODIFIED);
        assert_int_equal(evaluate_tag(NULL, "\"abc\"", NULL, NULL, GET, "W/\"abc\""),
                         NOT_MODIFIED);
        assert_int_equal(evaluate_tag(NULL, "W/\"abc\"", NULL, NULL, GET, "W/\"abc\""),
                         NOT_MODIFIED);
    }
    { /* lists */
        assert_int_equal(evaluate(NULL, "\"x\", W/\"abc\"", NULL, NULL, GET), NOT_MODIFIED);
        assert_int_equal(evaluate(NULL, "\"x\" , \"y\" ,", NULL, NULL, GET), PROCEED);
    }
    { /* no match */
        assert_int_equal(evaluate(NULL, "\"xyz\"", NULL, NULL, GET), PROCEED);
        assert_int_equal(evaluate(NULL, "\"xyz\"", NULL, NULL, POST), PROCEED);
    }
    { /* a list that does not parse matches nothing */
        assert_int_equal(evaluate(NULL, "abc", NULL, NULL, GET), PROCEED);
        assert_int_equal(evaluate(NULL, "\"abc", NULL, NULL, GET), PROCEED);
        assert_int_equal(evaluate(NULL, "", NULL, NULL, GET), PROCEED);
        assert_int_equal(evaluate(NULL, "**", NULL, NULL, GET), PROCEED);
    }
}

static void test_if_modified_since(void **state)
{
    (void)state;
    { /* not modified since: 304 */
        assert_int_equal(evaluate(NULL, NULL, DATE_EQUAL, NULL, GET), NOT_MODIFIED);
        assert_int_equal(evaluate(NULL, NULL, DATE_AFTER, NULL, GET), NOT_MODIFIED);
        assert_int_equal(evaluate(NULL, NULL, "Sun Nov  6 08:49:37 1994", NULL, GET),
                         NOT_MODIFIED);
    }
    { /* modified since */
        assert_int_equal(evaluate(NULL, NULL, DATE_BEFORE, NULL, GET), PROCEED);
    }
    { /* only for GET and HEAD */
        assert_int_equal(evaluate(NULL, NULL, DATE_EQUAL, NULL, POST), PROCEED);
    }
    { /* a date that does not parse is ignored */
        assert_int_equal(evaluate(NULL, NULL, "Sun, 06 Nov 1994", NULL, GET), PROCEED);
        assert_int_equal(evaluate(NULL, NULL, DATE_EQUAL ", " DATE_EQUAL, NULL, GET), PROCEED);
    }
    { /* If-None-Match, when present, is evaluated instead */
        assert_int_equal(evaluate(NULL, "\"xyz\"", DATE_AFTER, NULL, GET), PROCEED);
        assert_int_equal(evaluate(NULL, "\"abc\"", DATE_BEFORE, NULL, GET), NOT_MODIFIED);
    }
}

static void test_precedence(void **state)
{
    (void)state;
    { /* a failed If-Match wins over a matching If-None-Match */
        assert_int_equal(evaluate("\"xyz\"", "\"abc\"", NULL, NULL, GET), FAILED);
    }
    { /* a failed If-Unmodified-Since wins over a matching If-None-Match */
        assert_int_equal(evaluate(NULL, "\"abc\"", NULL, DATE_BEFORE, GET), FAILED);
    }
    { /* both pass: If-None-Match decides */
        assert_int_equal(evaluate("\"abc\"", "\"abc\"", NULL, NULL, GET), NOT_MODIFIED);
        assert_int_equal(evaluate("*", "\"xyz\"", DATE_AFTER, DATE_AFTER, GET), PROCEED);
    }
    { /* all four present and passing, nothing matching for 304 */
        assert_int_equal(evaluate("\"abc\"", "\"x\"", DATE_EQUAL, DATE_EQUAL, GET), PROCEED);
    }
}

static void on_list_prefix(const char *p, size_t n, void *arg)
{
    struct http_cond c = {.if_match = p, .if_match_len = n};
    enum http_cond_result r = http_cond_evaluate(&c, true, CURRENT);
    (void)arg;
    assert_true(r == PROCEED || r == FAILED);
    c = (struct http_cond){.if_none_match = p, .if_none_match_len = n};
    r = http_cond_evaluate(&c, true, CURRENT);
    assert_true(r == PROCEED || r == NOT_MODIFIED);
    http_cond_if_range(p, n, CURRENT);
}

static void test_truncated_lists(void **state)
{
    (void)state;
    { /* lists cut at every byte never read past their end */
        static const char *const lists[] = {
            "\"xyz\", W/\"abc\" , \"abc\"",
            "W/\"\", \"\"",
            "*",
            DATE_EQUAL,
        };
        for (size_t i = 0; i < sizeof(lists) / sizeof(lists[0]); i++)
            wk_test_each_prefix(lists[i], strlen(lists[i]), on_list_prefix, NULL);
    }
}

/* ---- If-Range ---- */

static bool if_range_tag(const char *v, const char *etag, time_t mtime)
{
    size_t len = strlen(v);
    const char *g = wk_test_guard(v, len);
    bool r = http_cond_if_range(g, len, etag, strlen(etag), mtime);
    wk_test_guard_free(g, len);
    return r;
}

static bool if_range(const char *v)
{
    return if_range_tag(v, ETAG, MTIME);
}

static void test_if_range(void **state)
{
    (void)state;
    { /* the same strong tag */
        assert_true(if_range("\"abc\""));
        assert_true(if_range(" \"abc\"\t"));
    }
    { /* another tag, or any weak one */
        assert_false(if_range("\"xyz\""));
        assert_false(if_range("W/\"abc\""));
        assert_false(if_range_tag("W/\"abc\"", "W/\"abc\"", MTIME));
        assert_false(if_range_tag("\"abc\"", "W/\"abc\"", MTIME));
    }
    { /* the same date, in any format */
        assert_true(if_range(DATE_EQUAL));
        assert_true(if_range("Sunday, 06-Nov-94 08:49:37 GMT"));
        assert_true(if_range("Sun Nov  6 08:49:37 1994"));
    }
    { /* a date that starts with 'W' is still a date */
        assert_true(if_range_tag("Wed, 09 Nov 1994 08:49:37 GMT", ETAG, 784370977));
    }
    { /* an earlier or later date */
        assert_false(if_range(DATE_BEFORE));
        assert_false(if_range(DATE_AFTER));
    }
    { /* neither: lists, stars, garbage */
        assert_false(if_range(""));
        assert_false(if_range("*"));
        assert_false(if_range("\"abc\", \"abc\""));
        assert_false(if_range("\"abc"));
        assert_false(if_range("abc"));
        assert_false(if_range("W/"));
        assert_false(if_range("784111777"));
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_date_formats),
        cmocka_unit_test(test_date_values),
        cmocka_unit_test(test_date_field_ranges),
        cmocka_unit_test(test_date_garbage),
        cmocka_unit_test(test_etag_make),
        cmocka_unit_test(test_no_conditions),
        cmocka_unit_test(test_if_match),
        cmocka_unit_test(test_if_unmodified_since),
        cmocka_unit_test(test_if_none_match),
        cmocka_unit_test(test_if_modified_since),
        cmocka_unit_test(test_precedence),
        cmocka_unit_test(test_truncated_lists),
        cmocka_unit_test(test_if_range),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
