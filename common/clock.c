/*
 * clock.c: the time formats of clock.h. Day and month names come from our
 * own tables and the fields from gmtime_r, so no locale can change a date on
 * the wire. Owns no state; wk_clock_monotonic_ms() only reads the clock.
 */
#include "common/clock.h"

#include <stdio.h>

static const char day_names[7][4] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
static const char month_names[12][4] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                        "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

/*
 * Broken-down UTC time of t. Times gmtime_r cannot represent, or whose year
 * has more than four digits, become the epoch: every format stays its size.
 */
static struct tm utc(time_t t)
{
    struct tm tm;
    if (gmtime_r(&t, &tm) == NULL || tm.tm_year + 1900 < 0 || tm.tm_year + 1900 > 9999) {
        time_t zero = 0;
        gmtime_r(&zero, &tm);
    }
    return tm;
}

/* Field values narrowed to their ranges so the formats cannot grow. */
static unsigned year_of(const struct tm *tm)
{
    return (unsigned)(tm->tm_year + 1900) % 10000u;
}

static unsigned field(int v, unsigned limit)
{
    return (unsigned)v % limit;
}

void wk_clock_imf_fixdate(time_t t, char out[WK_CLOCK_IMF_LEN])
{
    struct tm tm = utc(t);
    snprintf(out, WK_CLOCK_IMF_LEN, "%s, %02u %s %04u %02u:%02u:%02u GMT",
             day_names[field(tm.tm_wday, 7)], field(tm.tm_mday, 32),
             month_names[field(tm.tm_mon, 12)], year_of(&tm), field(tm.tm_hour, 24),
             field(tm.tm_min, 60), field(tm.tm_sec, 61));
}

void wk_clock_clf(time_t t, char out[WK_CLOCK_CLF_LEN])
{
    struct tm tm = utc(t);
    snprintf(out, WK_CLOCK_CLF_LEN, "%02u/%s/%04u:%02u:%02u:%02u +0000",
             field(tm.tm_mday, 32), month_names[field(tm.tm_mon, 12)], year_of(&tm),
             field(tm.tm_hour, 24), field(tm.tm_min, 60), field(tm.tm_sec, 61));
}

void wk_clock_rfc5322(time_t t, char out[WK_CLOCK_RFC5322_LEN])
{
    struct tm tm = utc(t);
    snprintf(out, WK_CLOCK_RFC5322_LEN, "%s, %u %s %04u %02u:%02u:%02u +0000",
             day_names[field(tm.tm_wday, 7)], field(tm.tm_mday, 32),
             month_names[field(tm.tm_mon, 12)], year_of(&tm), field(tm.tm_hour, 24),
             field(tm.tm_min, 60), field(tm.tm_sec, 61));
}

uint64_t wk_clock_monotonic_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}
