/*
 * fuzz_http_range.c: the Range header (httpd/range.c) and Content-Range.
 * The input's first byte picks the representation's size (small sizes,
 * and the largest ones, are the interesting ones); the rest is the value.
 *
 * A satisfiable range lies within the representation; anything else gives
 * start = count = 0. A value of the plain single-range forms must agree with
 * a direct reading of RFC 9110 14.1.2. Content-Range prints what it is given
 * and refuses a buffer one byte short.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "fuzz.h"
#include "httpd/range.h"

static uint64_t size_of(uint8_t b)
{
    static const uint64_t big[] = {UINT64_MAX,       UINT64_MAX - 1,
                                   INT64_MAX,        (uint64_t)INT64_MAX + 1,
                                   1000000000000ull, 4294967296ull};
    if (b < 200)
        return b; /* 0..199 */
    return big[(b - 200) % (sizeof big / sizeof big[0])];
}

/* Digits only, 1 to 18 of them (no overflow), at v[*i]; advances *i. */
static bool number(const char *v, size_t len, size_t *i, uint64_t *out)
{
    size_t start = *i;
    *out = 0;
    while (*i < len && v[*i] >= '0' && v[*i] <= '9' && *i - start < 19)
        *out = *out * 10 + (uint64_t)(v[(*i)++] - '0');
    return *i > start && *i - start <= 18 && (*i == len || v[*i] < '0' || v[*i] > '9');
}

/*
 * The expected result for "bytes=a-b", "bytes=a-" and "bytes=-n" exactly
 * (no whitespace, no list); false if the value is not of these forms.
 */
static bool oracle(const char *v, size_t len, uint64_t size, enum http_range_result *res,
                   uint64_t *start, uint64_t *count)
{
    size_t i = 6;
    uint64_t a = 0, b = 0;
    if (len < 7 || strncasecmp(v, "bytes=", 6) != 0)
        return false;
    *start = *count = 0;
    if (v[i] == '-') { /* suffix */
        i++;
        if (!number(v, len, &i, &b) || i != len)
            return false;
        if (b == 0 || size == 0) {
            *res = HTTP_RANGE_UNSATISFIABLE;
        } else {
            *res = HTTP_RANGE_OK;
            *count = b < size ? b : size;
            *start = size - *count;
        }
        return true;
    }
    if (!number(v, len, &i, &a) || i == len || v[i] != '-')
        return false;
    i++;
    bool open = i == len;
    if (!open && (!number(v, len, &i, &b) || i != len))
        return false;
    if (!open && b < a) {
        *res = HTTP_RANGE_NONE;
    } else if (a >= size) {
        *res = HTTP_RANGE_UNSATISFIABLE;
    } else {
        uint64_t last = open || b >= size ? size - 1 : b;
        *res = HTTP_RANGE_OK;
        *start = a;
        *count = last - a + 1;
    }
    return true;
}

static void check_content_range(uint64_t start, uint64_t count, uint64_t size)
{
    char want[96], got[96];
    int n = count ? snprintf(want, sizeof want, "bytes %" PRIu64 "-%" PRIu64 "/%" PRIu64, start,
                             start + count - 1, size)
                  : snprintf(want, sizeof want, "bytes */%" PRIu64, size);
    FUZZ_CHECK(n > 0 && (size_t)n < sizeof want);
    FUZZ_CHECK(http_range_content_range(got, (size_t)n + 1, start, count, size) == n);
    FUZZ_CHECK(strcmp(got, want) == 0);
    FUZZ_CHECK(http_range_content_range(got, (size_t)n, start, count, size) == -ENAMETOOLONG);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    uint64_t rsize = size_of(data[0]);
    size_t len = size - 1;
    char *v = fuzz_copy(data + 1, len);
    uint64_t start = 7, count = 7;
    enum http_range_result res = http_range_parse(v, len, rsize, &start, &count);
    FUZZ_CHECK(res == HTTP_RANGE_NONE || res == HTTP_RANGE_OK || res == HTTP_RANGE_UNSATISFIABLE);
    if (res == HTTP_RANGE_OK) {
        FUZZ_CHECK(count >= 1 && start < rsize && count <= rsize - start);
        check_content_range(start, count, rsize);
    } else {
        FUZZ_CHECK(start == 0 && count == 0);
        if (res == HTTP_RANGE_UNSATISFIABLE)
            check_content_range(0, 0, rsize);
    }
    enum http_range_result want;
    uint64_t wstart, wcount;
    if (oracle(v, len, rsize, &want, &wstart, &wcount)) {
        FUZZ_CHECK(res == want);
        FUZZ_CHECK(start == wstart && count == wcount);
    }
    free(v);
    return 0;
}
