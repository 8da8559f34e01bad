/*
 * test_wk_clock.c: the time formats and the monotonic clock (common/clock.c).
 */
#include <locale.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

#include "common/clock.h"

#define DAY 86400
#define JAN_1_2024 1704067200 /* a Monday */

static void expect_imf(time_t t, const char *want)
{
    char out[WK_CLOCK_IMF_LEN];
    memset(out, 'x', sizeof(out));
    wk_clock_imf_fixdate(t, out);
    assert_string_equal(out, want);
    assert_int_equal(strlen(out), 29);
}

static void expect_clf(time_t t, const char *want)
{
    char out[WK_CLOCK_CLF_LEN];
    memset(out, 'x', sizeof(out));
    wk_clock_clf(t, out);
    assert_string_equal(out, want);
}

static void expect_rfc5322(time_t t, const char *want)
{
    char out[WK_CLOCK_RFC5322_LEN];
    memset(out, 'x', sizeof(out));
    wk_clock_rfc5322(t, out);
    assert_string_equal(out, want);
}

static void test_imf_fixdate(void **state)
{
    (void)state;
    { /* RFC 9110's example and the epoch */
        expect_imf(784111777, "Sun, 06 Nov 1994 08:49:37 GMT");
        expect_imf(0, "Thu, 01 Jan 1970 00:00:00 GMT");
    }
    { /* a leap day, past 2038, before 1970 */
        expect_imf(951782400, "Tue, 29 Feb 2000 00:00:00 GMT");
        expect_imf(2147483648, "Tue, 19 Jan 2038 03:14:08 GMT");
        expect_imf(-1, "Wed, 31 Dec 1969 23:59:59 GMT");
    }
    { /* the last second with a four-digit year; after it, the epoch */
        expect_imf(253402300799, "Fri, 31 Dec 9999 23:59:59 GMT");
        expect_imf(253402300800, "Thu, 01 Jan 1970 00:00:00 GMT");
    }
    { /* every day name */
        static const char *const want[] = {
            "Mon, 01 Jan 2024 00:00:00 GMT", "Tue, 02 Jan 2024 00:00:00 GMT",
            "Wed, 03 Jan 2024 00:00:00 GMT", "Thu, 04 Jan 2024 00:00:00 GMT",
            "Fri, 05 Jan 2024 00:00:00 GMT", "Sat, 06 Jan 2024 00:00:00 GMT",
            "Sun, 07 Jan 2024 00:00:00 GMT",
        };
        for (int i = 0; i < 7; i++)
            expect_imf(JAN_1_2024 + i * DAY, want[i]);
    }
    { /* every month name, and the last second of the year */
        static const char *const want[] = {
            "Mon, 15 Jan 2024 12:00:00 GMT", "Thu, 15 Feb 2024 12:00:00 GMT",
            "Fri, 15 Mar 2024 12:00:00 GMT", "Mon, 15 Apr 2024 12:00:00 GMT",
            "Wed, 15 May 2024 12:00:00 GMT", "Sat, 15 Jun 2024 12:00:00 GMT",
            "Mon, 15 Jul 2024 12:00:00 GMT", "Thu, 15 Aug 2024 12:00:00 GMT",
            "Sun, 15 Sep 2024 12:00:00 GMT", "Tue, 15 Oct 2024 12:00:00 GMT",
            "Fri, 15 Nov 2024 12:00:00 GMT", "Sun, 15 Dec 2024 12:00:00 GMT",
        };
        static const int yday[] = {14, 45, 74, 105, 135, 166, 196, 227, 258, 288, 319, 349};
        for (int m = 0; m < 12; m++)
            expect_imf(JAN_1_2024 + yday[m] * DAY + DAY / 2, want[m]);
        expect_imf(JAN_1_2024 + 366 * DAY - 1, "Tue, 31 Dec 2024 23:59:59 GMT");
    }
}

static void test_clf(void **state)
{
    (void)state;
    { /* day/Mon/year:time and the zone */
        expect_clf(784111777, "06/Nov/1994:08:49:37 +0000");
        expect_clf(0, "01/Jan/1970:00:00:00 +0000");
        expect_clf(JAN_1_2024 + 366 * DAY - 1, "31/Dec/2024:23:59:59 +0000");
    }
}

static void test_rfc5322(void **state)
{
    (void)state;
    { /* the day of the month has no leading zero */
        expect_rfc5322(784111777, "Sun, 6 Nov 1994 08:49:37 +0000");
        expect_rfc5322(JAN_1_2024 + 9 * DAY, "Wed, 10 Jan 2024 00:00:00 +0000");
        expect_rfc5322(0, "Thu, 1 Jan 1970 00:00:00 +0000");
    }
}

static void test_no_locale(void **state)
{
    (void)state;
    { /* names come from our tables whatever the locale says */
        if (setlocale(LC_ALL, "C.UTF-8") == NULL)
            setlocale(LC_ALL, "");
        expect_imf(784111777, "Sun, 06 Nov 1994 08:49:37 GMT");
        setlocale(LC_ALL, "C");
    }
}

static void test_monotonic(void **state)
{
    (void)state;
    { /* never goes back, and counts milliseconds */
        uint64_t a = wk_clock_monotonic_ms();
        struct timespec pause = {.tv_sec = 0, .tv_nsec = 30 * 1000 * 1000};
        nanosleep(&pause, NULL);
        uint64_t b = wk_clock_monotonic_ms();
        assert_true(b >= a + 30);
        assert_true(b < a + 5000);
        assert_true(wk_clock_monotonic_ms() >= b);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_imf_fixdate), cmocka_unit_test(test_clf),
        cmocka_unit_test(test_rfc5322),     cmocka_unit_test(test_no_locale),
        cmocka_unit_test(test_monotonic),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
