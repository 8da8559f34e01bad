/*
 * cond.c: entity-tags, HTTP-dates and precondition evaluation (see cond.h).
 * Dates are read with fixed-format scanners and converted with our own
 * days-from-civil arithmetic: no strptime, no timegm, no locale.
 */
#include "httpd/cond.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

/* A read position in a header value. */
struct cursor {
    const char *p;
    size_t i;
    size_t len;
    bool ok; /* cleared by the first mismatch; later steps then do nothing */
};

struct date_fields {
    int year, month, day; /* month 1-12 */
    int hour, minute, second;
};

static const char *const short_days[7] = {"Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"};
static const char *const long_days[7] = {"Monday", "Tuesday",  "Wednesday", "Thursday",
                                         "Friday", "Saturday", "Sunday"};
static const char *const months[12] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                       "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

size_t http_etag_make(char out[HTTP_ETAG_LEN], uint64_t mtime_sec, uint64_t mtime_nsec,
                      uint64_t size)
{
    int n;
    if (mtime_nsec == 0)
        n = snprintf(out, HTTP_ETAG_LEN, "\"%" PRIx64 "-%" PRIx64 "\"", mtime_sec, size);
    else
        n = snprintf(out, HTTP_ETAG_LEN, "\"%" PRIx64 ".%" PRIx64 "-%" PRIx64 "\"", mtime_sec,
                     mtime_nsec, size);
    return n < 0 ? 0 : (size_t)n;
}

/* ---- scanning ---- */

static bool is_ows(char c)
{
    return c == ' ' || c == '\t';
}

/* A cursor over v[0..len) without leading and trailing OWS. */
static struct cursor trimmed(const char *v, size_t len)
{
    size_t i = 0;
    while (i < len && is_ows(v[i]))
        i++;
    while (len > i && is_ows(v[len - 1]))
        len--;
    return (struct cursor){.p = v, .i = i, .len = len, .ok = true};
}

static bool at(const struct cursor *c, char ch)
{
    return c->i < c->len && c->p[c->i] == ch;
}

static void skip_ows(struct cursor *c)
{
    while (c->i < c->len && is_ows(c->p[c->i]))
        c->i++;
}

/* Consumes the literal s if it comes next; otherwise fails the scan. */
static void expect(struct cursor *c, const char *s)
{
    size_t n = strlen(s);
    if (c->ok && c->len - c->i >= n && memcmp(c->p + c->i, s, n) == 0)
        c->i += n;
    else
        c->ok = false;
}

/* Reads exactly n digits (a leading space stands for 0 if space_ok). */
static int digits(struct cursor *c, size_t n, bool space_ok)
{
    int v = 0;
    for (size_t k = 0; k < n && c->ok; k++, c->i++) {
        char ch = c->i < c->len ? c->p[c->i] : '\0';
        if (ch >= '0' && ch <= '9')
            v = v * 10 + (ch - '0');
        else if (!(k == 0 && space_ok && ch == ' '))
            c->ok = false;
    }
    return v;
}

/* Consumes the first of the n names that comes next; returns its index. */
static int one_of(struct cursor *c, const char *const *names, size_t n)
{
    for (size_t k = 0; k < n && c->ok; k++) {
        size_t l = strlen(names[k]);
        if (c->len - c->i >= l && memcmp(c->p + c->i, names[k], l) == 0) {
            c->i += l;
            return (int)k;
        }
    }
    c->ok = false;
    return -1;
}

/* A month name; returns 1-12. */
static int month(struct cursor *c)
{
    return one_of(c, months, 12) + 1;
}

static void time_of_day(struct cursor *c, struct date_fields *f)
{
    f->hour = digits(c, 2, false);
    expect(c, ":");
    f->minute = digits(c, 2, false);
    expect(c, ":");
    f->second = digits(c, 2, false);
}

/* ---- the three HTTP-date formats ---- */

/* "Sun, 06 Nov 1994 08:49:37 GMT" */
static bool scan_imf(struct cursor c, struct date_fields *f)
{
    one_of(&c, short_days, 7);
    expect(&c, ", ");
    f->day = digits(&c, 2, false);
    expect(&c, " ");
    f->month = month(&c);
    expect(&c, " ");
    f->year = digits(&c, 4, false);
    expect(&c, " ");
    time_of_day(&c, f);
    expect(&c, " GMT");
    return c.ok && c.i == c.len;
}

/* "Sunday, 06-Nov-94 08:49:37 GMT" */
static bool scan_rfc850(struct cursor c, struct date_fields *f)
{
    one_of(&c, long_days, 7);
    expect(&c, ", ");
    f->day = digits(&c, 2, false);
    expect(&c, "-");
    f->month = month(&c);
    expect(&c, "-");
    int yy = digits(&c, 2, false);
    f->year = yy < 70 ? 2000 + yy : 1900 + yy;
    expect(&c, " ");
    time_of_day(&c, f);
    expect(&c, " GMT");
    return c.ok && c.i == c.len;
}

/* "Sun Nov  6 08:49:37 1994" */
static bool scan_asctime(struct cursor c, struct date_fields *f)
{
    one_of(&c, short_days, 7);
    expect(&c, " ");
    f->month = month(&c);
    expect(&c, " ");
    f->day = digits(&c, 2, true);
    expect(&c, " ");
    time_of_day(&c, f);
    expect(&c, " ");
    f->year = digits(&c, 4, false);
    return c.ok && c.i == c.len;
}

static bool is_leap(int y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static bool fields_valid(const struct date_fields *f)
{
    static const int mdays[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (f->year < 1 || f->month < 1 || f->month > 12 || f->day < 1)
        return false;
    int last = mdays[f->month - 1] + (f->month == 2 && is_leap(f->year));
    return f->day <= last && f->hour <= 23 && f->minute <= 59 && f->second <= 60;
}

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm). */
static int64_t days_from_civil(int y, int m, int d)
{
    y -= m <= 2;
    int era = (y >= 0 ? y : y - 399) / 400;
    int yoe = y - era * 400;
    int doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    int doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return (int64_t)era * 146097 + doe - 719468;
}

int http_date_parse(const char *s, size_t len, time_t *out)
{
    struct cursor c = trimmed(s, len);
    struct date_fields f = {0};
    if (!scan_imf(c, &f) && !scan_rfc850(c, &f) && !scan_asctime(c, &f))
        return -EINVAL;
    if (!fields_valid(&f))
        return -EINVAL;
    int64_t days = days_from_civil(f.year, f.month, f.day);
    *out = (time_t)(days * 86400 + f.hour * 3600 + f.minute * 60 + f.second);
    return 0;
}

/* ---- entity-tags ---- */

/* An entity-tag: its opaque-tag (with the quotes) and whether it was W/. */
struct etag {
    const char *opaque;
    size_t len;
    bool weak;
};

/* etagc = %x21 / %x23-7E / obs-text */
static bool is_etagc(unsigned char ch)
{
    return ch == 0x21 || (ch >= 0x23 && ch != 0x7f);
}

/* Reads one entity-tag at c. Returns false on a syntax error. */
static bool scan_etag(struct cursor *c, struct etag *e)
{
    e->weak = c->len - c->i >= 2 && c->p[c->i] == 'W' && c->p[c->i + 1] == '/';
    if (e->weak)
        c->i += 2;
    if (!at(c, '"'))
        return false;
    size_t begin = c->i++;
    while (c->i < c->len && is_etagc((unsigned char)c->p[c->i]))
        c->i++;
    if (!at(c, '"'))
        return false;
    c->i++;
    e->opaque = c->p + begin;
    e->len = c->i - begin;
    return true;
}

/* Parses the server's own tag; false if it is not a single valid entity-tag. */
static bool own_etag(const char *etag, size_t len, struct etag *e)
{
    struct cursor c = {.p = etag, .i = 0, .len = len, .ok = true};
    return scan_etag(&c, e) && c.i == c.len;
}

/* RFC 9110 8.8.3.2: strong needs both strong; weak only compares opaque-tags. */
static bool etags_match(const struct etag *a, const struct etag *b, bool strong)
{
    if (strong && (a->weak || b->weak))
        return false;
    return a->len == b->len && memcmp(a->opaque, b->opaque, a->len) == 0;
}

/*
 * Whether the field value ("*" or #entity-tag) matches the current tag. The
 * whole list is read: one that does not parse matches nothing.
 */
static bool list_matches(const char *v, size_t len, const char *etag, size_t etag_len, bool strong)
{
    struct cursor c = trimmed(v, len);
    struct etag cur, e;
    bool found = false;
    if (c.len - c.i == 1 && at(&c, '*'))
        return true;
    if (!own_etag(etag, etag_len, &cur))
        return false;
    while (c.i < c.len) {
        if (at(&c, ',')) {
            c.i++;
            skip_ows(&c);
            continue;
        }
        if (!scan_etag(&c, &e))
            return false;
        found = found || etags_match(&e, &cur, strong);
        skip_ows(&c);
        if (c.i < c.len && !at(&c, ','))
            return false;
    }
    return found;
}

/* ---- preconditions ---- */

/* Parses an optional date header; false when absent or not a valid date. */
static bool header_date(const char *v, size_t len, time_t *out)
{
    return v != NULL && http_date_parse(v, len, out) == 0;
}

enum http_cond_result http_cond_evaluate(const struct http_cond *c, bool get_or_head,
                                         const char *etag, size_t etag_len, time_t mtime)
{
    time_t date;
    if (c->if_match != NULL) {
        if (!list_matches(c->if_match, c->if_match_len, etag, etag_len, true))
            return HTTP_COND_PRECONDITION_FAILED;
    } else if (header_date(c->if_unmodified_since, c->ius_len, &date) && mtime > date) {
        return HTTP_COND_PRECONDITION_FAILED;
    }
    if (c->if_none_match != NULL) {
        if (list_matches(c->if_none_match, c->if_none_match_len, etag, etag_len, false))
            return get_or_head ? HTTP_COND_NOT_MODIFIED : HTTP_COND_PRECONDITION_FAILED;
    } else if (get_or_head && header_date(c->if_modified_since, c->ims_len, &date) &&
               mtime <= date) {
        return HTTP_COND_NOT_MODIFIED;
    }
    return HTTP_COND_PROCEED;
}

bool http_cond_if_range(const char *v, size_t len, const char *etag, size_t etag_len, time_t mtime)
{
    struct cursor c = trimmed(v, len);
    struct etag e, cur;
    time_t date;
    bool is_tag = at(&c, '"') || (c.len - c.i >= 2 && memcmp(c.p + c.i, "W/", 2) == 0);
    if (is_tag) {
        if (!scan_etag(&c, &e) || c.i != c.len || !own_etag(etag, etag_len, &cur))
            return false;
        return etags_match(&e, &cur, true);
    }
    return http_date_parse(v, len, &date) == 0 && date == mtime;
}
