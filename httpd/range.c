/*
 * range.c: Range header parsing (see range.h). The whole value is checked
 * before anything is decided: one invalid range-spec voids the header, as
 * RFC 9110 14.2 asks. Numbers saturate at UINT64_MAX instead of wrapping.
 */
#include "httpd/range.h"

#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <strings.h>

struct cursor {
    const char *p;
    size_t i;
    size_t len;
};

/* What the header as a whole comes to, range-spec by range-spec. */
struct tally {
    unsigned specs;       /* range-specs seen */
    unsigned satisfiable; /* of which satisfiable */
    uint64_t start;       /* the last satisfiable one */
    uint64_t count;
};

static bool at(const struct cursor *c, char ch)
{
    return c->i < c->len && c->p[c->i] == ch;
}

static bool at_digit(const struct cursor *c)
{
    return c->i < c->len && c->p[c->i] >= '0' && c->p[c->i] <= '9';
}

static void skip_ows(struct cursor *c)
{
    while (at(c, ' ') || at(c, '\t'))
        c->i++;
}

/* 1*DIGIT, saturating at UINT64_MAX. Returns false if there is no digit. */
static bool parse_u64(struct cursor *c, uint64_t *out)
{
    uint64_t v = 0;
    if (!at_digit(c))
        return false;
    while (at_digit(c)) {
        unsigned d = (unsigned)(c->p[c->i++] - '0');
        v = v > (UINT64_MAX - d) / 10 ? UINT64_MAX : v * 10 + d;
    }
    *out = v;
    return true;
}

/* Records a satisfiable range-spec as first..last inclusive, last clamped. */
static void count_satisfiable(struct tally *t, uint64_t first, uint64_t last)
{
    t->specs++;
    t->satisfiable++;
    t->start = first;
    t->count = last - first + 1;
}

static void count_unsatisfiable(struct tally *t)
{
    t->specs++;
}

/* "-" suffix-length */
static bool parse_suffix(struct cursor *c, uint64_t size, struct tally *t)
{
    uint64_t n;
    c->i++;
    if (!parse_u64(c, &n))
        return false;
    if (n == 0 || size == 0)
        count_unsatisfiable(t);
    else
        count_satisfiable(t, n >= size ? 0 : size - n, size - 1);
    return true;
}

/* first-pos "-" [ last-pos ]; a last-pos before first-pos is invalid. */
static bool parse_int_range(struct cursor *c, uint64_t size, struct tally *t)
{
    uint64_t first, last = UINT64_MAX;
    if (!parse_u64(c, &first) || !at(c, '-'))
        return false;
    c->i++;
    if (at_digit(c)) {
        parse_u64(c, &last);
        if (last < first)
            return false;
    }
    if (first >= size)
        count_unsatisfiable(t);
    else
        count_satisfiable(t, first, last < size ? last : size - 1);
    return true;
}

/* One list element: a range-spec, or nothing (an empty element). */
static bool parse_element(struct cursor *c, uint64_t size, struct tally *t)
{
    if (at(c, '-'))
        return parse_suffix(c, size, t);
    if (at_digit(c))
        return parse_int_range(c, size, t);
    return true;
}

/* range-set = 1#range-spec, with OWS and empty elements around commas. */
static bool parse_range_set(struct cursor *c, uint64_t size, struct tally *t)
{
    for (;;) {
        skip_ows(c);
        if (!parse_element(c, size, t))
            return false;
        skip_ows(c);
        if (c->i == c->len)
            return t->specs > 0;
        if (!at(c, ','))
            return false;
        c->i++;
    }
}

enum http_range_result http_range_parse(const char *v, size_t len, uint64_t size, uint64_t *start,
                                        uint64_t *count)
{
    struct cursor c = {.p = v, .i = 0, .len = len};
    struct tally t = {0};
    *start = 0;
    *count = 0;
    skip_ows(&c);
    if (c.len - c.i < 6 || strncasecmp(v + c.i, "bytes=", 6) != 0)
        return HTTP_RANGE_NONE;
    c.i += 6;
    if (!parse_range_set(&c, size, &t))
        return HTTP_RANGE_NONE;
    if (t.satisfiable == 0)
        return HTTP_RANGE_UNSATISFIABLE;
    if (t.specs > 1)
        return HTTP_RANGE_NONE;
    *start = t.start;
    *count = t.count;
    return HTTP_RANGE_OK;
}

int http_range_content_range(char *out, size_t cap, uint64_t start, uint64_t count, uint64_t size)
{
    int n;
    if (count == 0)
        n = snprintf(out, cap, "bytes */%" PRIu64, size);
    else
        n = snprintf(out, cap, "bytes %" PRIu64 "-%" PRIu64 "/%" PRIu64, start, start + count - 1,
                     size);
    if (n < 0 || (size_t)n >= cap)
        return -ENAMETOOLONG;
    return n;
}
