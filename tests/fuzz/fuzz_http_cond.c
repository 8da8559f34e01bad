/*
 * fuzz_http_cond.c: HTTP-dates, entity-tag lists and preconditions
 * (httpd/cond.c). Input: byte 0 says which of the five fields are present
 * and whether the request is a GET; bytes 1-6 give the file's mtime and
 * size; the rest is the field values (If-Match, If-None-Match,
 * If-Modified-Since, If-Unmodified-Since, If-Range), separated by 0xff.
 *
 * A date that parses prints back as the same time and parses the same with
 * whitespace around it; the evaluation agrees with the dates and tags as
 * the public functions read them, in the order of RFC 9110 13.2.2; the
 * server's own tag matches itself as the comparison functions say.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#include "common/clock.h"
#include "fuzz.h"
#include "httpd/cond.h"

enum { F_IM, F_INM, F_IMS, F_IUS, F_IR, NFIELDS };

#define IMF_END ((time_t)253402300800) /* 10000-01-01T00:00:00Z */

struct field {
    const char *v;
    size_t len;
};

static void check_date(const char *s, size_t len)
{
    time_t t, t2;
    if (http_date_parse(s, len, &t) != 0)
        return;
    /* Whitespace around it changes nothing. */
    char *padded = malloc(len + 4);
    FUZZ_CHECK(padded != NULL);
    memcpy(padded, " \t", 2);
    memcpy(padded + 2, s, len);
    memcpy(padded + 2 + len, "\t ", 2);
    FUZZ_CHECK(http_date_parse(padded, len + 4, &t2) == 0 && t2 == t);
    free(padded);
    /* It prints back as the same time (IMF-fixdate has four digits for the year). */
    if (t >= 0 && t < IMF_END) {
        char imf[WK_CLOCK_IMF_LEN];
        wk_clock_imf_fixdate(t, imf);
        FUZZ_CHECK(http_date_parse(imf, WK_CLOCK_IMF_LEN - 1, &t2) == 0 && t2 == t);
    }
}

static enum http_cond_result eval(const struct field *f, const bool *present, bool get,
                                  const char *etag, size_t etag_len, time_t mtime)
{
    struct http_cond c = {0};
    if (present[F_IM]) {
        c.if_match = f[F_IM].v;
        c.if_match_len = f[F_IM].len;
    }
    if (present[F_INM]) {
        c.if_none_match = f[F_INM].v;
        c.if_none_match_len = f[F_INM].len;
    }
    if (present[F_IMS]) {
        c.if_modified_since = f[F_IMS].v;
        c.ims_len = f[F_IMS].len;
    }
    if (present[F_IUS]) {
        c.if_unmodified_since = f[F_IUS].v;
        c.ius_len = f[F_IUS].len;
    }
    enum http_cond_result r = http_cond_evaluate(&c, get, etag, etag_len, mtime);
    FUZZ_CHECK(r == HTTP_COND_PROCEED || r == HTTP_COND_NOT_MODIFIED ||
               r == HTTP_COND_PRECONDITION_FAILED);
    return r;
}

/* The date rules alone: If-Unmodified-Since and If-Modified-Since without tags. */
static void check_dates_alone(const struct field *f, const bool *present, bool get,
                              const char *etag, size_t etag_len, time_t mtime)
{
    bool only[NFIELDS] = {0};
    time_t d;
    only[F_IUS] = present[F_IUS];
    enum http_cond_result r = eval(f, only, get, etag, etag_len, mtime);
    bool fails = present[F_IUS] && http_date_parse(f[F_IUS].v, f[F_IUS].len, &d) == 0 && mtime > d;
    FUZZ_CHECK(r == (fails ? HTTP_COND_PRECONDITION_FAILED : HTTP_COND_PROCEED));
    only[F_IUS] = false;
    only[F_IMS] = present[F_IMS];
    r = eval(f, only, get, etag, etag_len, mtime);
    bool fresh =
        get && present[F_IMS] && http_date_parse(f[F_IMS].v, f[F_IMS].len, &d) == 0 && mtime <= d;
    FUZZ_CHECK(r == (fresh ? HTTP_COND_NOT_MODIFIED : HTTP_COND_PROCEED));
}

/* The server's own tag against itself, strong and weak, and "*". */
static void check_own_tag(const char *etag, size_t etag_len, time_t mtime, bool get)
{
    char weak[HTTP_ETAG_LEN + 2];
    bool present[NFIELDS] = {0};
    struct field f[NFIELDS] = {{0}};
    memcpy(weak, "W/", 2);
    memcpy(weak + 2, etag, etag_len);
    present[F_INM] = true;
    f[F_INM] = (struct field){etag, etag_len};
    FUZZ_CHECK(eval(f, present, get, etag, etag_len, mtime) ==
               (get ? HTTP_COND_NOT_MODIFIED : HTTP_COND_PRECONDITION_FAILED));
    f[F_INM] = (struct field){weak, etag_len + 2}; /* If-None-Match compares weakly */
    FUZZ_CHECK(eval(f, present, get, etag, etag_len, mtime) ==
               (get ? HTTP_COND_NOT_MODIFIED : HTTP_COND_PRECONDITION_FAILED));
    f[F_INM] = (struct field){"*", 1};
    FUZZ_CHECK(eval(f, present, get, etag, etag_len, mtime) ==
               (get ? HTTP_COND_NOT_MODIFIED : HTTP_COND_PRECONDITION_FAILED));
    present[F_INM] = false;
    present[F_IM] = true;
    f[F_IM] = (struct field){etag, etag_len};
    FUZZ_CHECK(eval(f, present, get, etag, etag_len, mtime) == HTTP_COND_PROCEED);
    f[F_IM] = (struct field){weak, etag_len + 2}; /* If-Match compares strongly */
    FUZZ_CHECK(eval(f, present, get, etag, etag_len, mtime) == HTTP_COND_PRECONDITION_FAILED);
    FUZZ_CHECK(http_cond_if_range(etag, etag_len, etag, etag_len, mtime));
    FUZZ_CHECK(!http_cond_if_range(weak, etag_len + 2, etag, etag_len, mtime));
    if (mtime >= 0) {
        char imf[WK_CLOCK_IMF_LEN];
        wk_clock_imf_fixdate(mtime, imf);
        FUZZ_CHECK(http_cond_if_range(imf, WK_CLOCK_IMF_LEN - 1, etag, etag_len, mtime));
        FUZZ_CHECK(!http_cond_if_range(imf, WK_CLOCK_IMF_LEN - 1, etag, etag_len, mtime + 1));
    }
}

/* If-Range holds only for the exact strong tag or the exact date. */
static void check_if_range(const char *v, size_t len, const char *etag, size_t etag_len,
                           time_t mtime)
{
    if (!http_cond_if_range(v, len, etag, etag_len, mtime))
        return;
    while (len > 0 && (*v == ' ' || *v == '\t')) {
        v++;
        len--;
    }
    while (len > 0 && (v[len - 1] == ' ' || v[len - 1] == '\t'))
        len--;
    time_t d;
    if (len > 0 && v[0] == '"')
        FUZZ_CHECK(len == etag_len && memcmp(v, etag, len) == 0);
    else
        FUZZ_CHECK(http_date_parse(v, len, &d) == 0 && d == mtime);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 7)
        return 0;
    bool present[NFIELDS], get = (data[0] & 0x20) != 0;
    for (int i = 0; i < NFIELDS; i++)
        present[i] = (data[0] >> i) & 1;
    /* mtime: 0 to 2^32 seconds, sometimes with nanoseconds; size 0 to 65535. */
    uint64_t sec =
        (uint64_t)data[1] << 24 | (uint64_t)data[2] << 16 | (uint64_t)data[3] << 8 | data[4];
    uint64_t nsec = (data[0] & 0x40) ? (uint64_t)data[5] * 1000003u : 0;
    uint64_t fsize = (uint64_t)data[5] << 8 | data[6];
    time_t mtime = (time_t)sec;
    char etag[HTTP_ETAG_LEN];
    size_t etag_len = http_etag_make(etag, sec, nsec, fsize);
    FUZZ_CHECK(etag_len > 2 && etag_len < HTTP_ETAG_LEN && etag[etag_len] == '\0');
    FUZZ_CHECK(etag[0] == '"' && etag[etag_len - 1] == '"');

    char *rest = fuzz_copy(data + 7, size - 7);
    size_t len = size - 7;
    struct field f[NFIELDS] = {{0}};
    size_t at = 0;
    for (int i = 0; i < NFIELDS; i++) {
        size_t end = at;
        while (end < len && (unsigned char)rest[end] != 0xff)
            end++;
        f[i] = (struct field){rest + at, end - at};
        at = end < len ? end + 1 : end;
    }
    /* Each field on its own heap copy, so a read past its end is seen. */
    char *copies[NFIELDS];
    for (int i = 0; i < NFIELDS; i++) {
        copies[i] = fuzz_copy(f[i].v, f[i].len);
        f[i].v = copies[i];
    }
    for (int i = 0; i < NFIELDS; i++)
        check_date(f[i].v, f[i].len);
    eval(f, present, get, etag, etag_len, mtime);
    check_dates_alone(f, present, get, etag, etag_len, mtime);
    check_if_range(f[F_IR].v, f[F_IR].len, etag, etag_len, mtime);
    check_own_tag(etag, etag_len, mtime, get);
    for (int i = 0; i < NFIELDS; i++)
        free(copies[i]);
    free(rest);
    return 0;
}
