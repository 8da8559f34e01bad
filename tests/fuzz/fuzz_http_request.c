/*
 * fuzz_http_request.c: the request reader (httpd/request.c), fed as the
 * connection feeds it. The input's first three bytes choose how: byte 0 is
 * a set of flags (small limits, body bytes cut out of the buffer as conn.c
 * does, one byte at a time too), bytes 1-2 a split point; the rest is what
 * the client sent, possibly several pipelined requests.
 *
 * Every call's result must be a known value, spans must lie within the
 * head, header values must be trimmed and free of line breaks, an accepted
 * request must be one the server can serve, and reading the bytes whole,
 * split in two, or byte by byte must give the same requests.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "httpd/request.h"

#define MAX_REQUESTS 8
#define BYTEWISE_MAX 512 /* longest input also fed one byte at a time */

enum {
    FLAG_SMALL_LIMITS = 1,
    FLAG_CUT_BODY = 2,
    FLAG_BYTEWISE = 4,
};

static const struct http_limits large = {
    .max_request_line = 1 << 20,
    .max_header_size = 1 << 20,
    .max_headers = 1000,
    .max_body = 1 << 20,
};

static const struct http_limits small = {
    .max_request_line = 64,
    .max_header_size = 256,
    .max_headers = 6,
    .max_body = 32,
};

/* One request as it was read. */
struct seen {
    int first; /* first result other than MORE */
    int check; /* http_request_check(), -1 if the head was not complete */
    int final; /* DONE, MORE or the status answered */
    struct http_span method, target, hdr[HTTP_H_COUNT];
    uint8_t hdr_seen[HTTP_H_COUNT];
    uint32_t nheaders, head_len, parsed;
    uint64_t body_seen;
    unsigned major, minor, method_id;
    bool keep_alive, has_body;
};

struct run {
    struct seen req[MAX_REQUESTS];
    size_t n;
};

static bool is_parse_status(int s)
{
    return s == 400 || s == 413 || s == 414 || s == 431 || s == 501 || s == 505;
}

static bool is_check_status(int s)
{
    return s == 0 || s == 400 || s == 405 || s == 413 || s == 417 || s == 501 || s == 505;
}

static bool is_tchar(unsigned char ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
           (ch != 0 && strchr("!#$%&'*+-.^_`|~", ch) != NULL);
}

static void check_span_inside(struct http_span s, uint32_t head_len)
{
    FUZZ_CHECK((uint64_t)s.off + s.len <= head_len);
}

/* What must hold of a complete head in data. */
static void check_head(const struct http_request *r, const char *data, size_t len)
{
    FUZZ_CHECK(r->head_len > 0 && r->head_len <= r->parsed && r->parsed <= len);
    check_span_inside(r->method, r->head_len);
    check_span_inside(r->target, r->head_len);
    FUZZ_CHECK(r->method.len > 0); /* the target may be empty: "GET \r\n" is HTTP/0.9 to llhttp */
    for (uint32_t i = 0; i < r->method.len; i++)
        FUZZ_CHECK(is_tchar((unsigned char)data[r->method.off + i]));
    for (uint32_t i = 0; i < r->target.len; i++) {
        char ch = data[r->target.off + i];
        FUZZ_CHECK(ch != ' ' && ch != '\r' && ch != '\n' && ch != '\0');
    }
    for (int h = 0; h < HTTP_H_COUNT; h++) {
        if (!r->hdr_seen[h])
            continue;
        struct http_span s = r->hdr[h];
        check_span_inside(s, r->head_len);
        const char *v = data + s.off;
        if (s.len > 0) { /* trimmed */
            FUZZ_CHECK(v[0] != ' ' && v[0] != '\t');
            FUZZ_CHECK(v[s.len - 1] != ' ' && v[s.len - 1] != '\t');
        }
        if (r->hdr_seen[h] > 1 && (h == HTTP_H_IF_MATCH || h == HTTP_H_IF_NONE_MATCH)) {
            /* A repeated list header spans its field lines; joined, it is one clean list. */
            char *list = malloc(s.len ? s.len : 1);
            FUZZ_CHECK(list != NULL);
            size_t n = http_request_list(r, data, (enum http_header)h, list);
            FUZZ_CHECK(n <= s.len);
            for (size_t i = 0; i < n; i++)
                FUZZ_CHECK(list[i] != '\r' && list[i] != '\n' && list[i] != '\0');
            free(list);
            continue;
        }
        for (uint32_t i = 0; i < s.len; i++)
            FUZZ_CHECK(v[i] != '\r' && v[i] != '\n' && v[i] != '\0');
    }
}

/* What the server goes on to serve must be servable. */
static void check_accepted(const struct http_request *r)
{
    unsigned m = r->parser.method;
    FUZZ_CHECK(r->target.len > 0);
    FUZZ_CHECK(m == HTTP_GET || m == HTTP_HEAD || m == HTTP_OPTIONS);
    FUZZ_CHECK(r->parser.http_major == 1 && r->parser.http_minor <= 1);
    FUZZ_CHECK(r->hdr_seen[HTTP_H_HOST] <= 1);
    if (r->parser.http_minor == 1)
        FUZZ_CHECK(r->hdr_seen[HTTP_H_HOST] == 1);
    FUZZ_CHECK((r->parser.flags & F_CHUNKED) || r->parser.content_length <= r->limits->max_body);
}

static void snapshot(struct seen *s, const struct http_request *r)
{
    s->method = r->method;
    s->target = r->target;
    memcpy(s->hdr, r->hdr, sizeof s->hdr);
    memcpy(s->hdr_seen, r->hdr_seen, sizeof s->hdr_seen);
    s->nheaders = r->nheaders;
    s->head_len = r->head_len;
    s->major = r->parser.http_major;
    s->minor = r->parser.http_minor;
    s->method_id = r->parser.method;
    s->keep_alive = http_request_keep_alive(r);
    s->has_body = http_request_has_body(r);
}

static void start(struct seen *s)
{
    memset(s, 0, sizeof *s);
    s->first = s->final = HTTP_PARSE_MORE;
    s->check = -1;
}

/*
 * Reads in[0..n), arriving in pieces that end at bounds[0..nb), request
 * after request as conn.c does: a DONE request is consumed from the buffer
 * and the next one read from what is left.
 */
static void feed(const char *in, size_t n, const struct http_limits *lim, const size_t *bounds,
                 size_t nb, bool cut, struct run *run)
{
    char *buf = fuzz_copy(in, n); /* only its first blen bytes are content */
    size_t blen = 0, fed = 0, cut_total = 0;
    struct http_request r;
    struct seen *cur = &run->req[0];
    run->n = 0;
    start(cur);
    http_request_init(&r, lim);
    for (size_t i = 0; i < nb; i++) {
        memmove(buf + blen, in + fed, bounds[i] - fed);
        blen += bounds[i] - fed;
        fed = bounds[i];
        for (size_t calls = 0;; calls++) {
            FUZZ_CHECK(calls <= n + 2); /* progress */
            char *data = fuzz_copy(buf, blen);
            int rc = http_request_parse(&r, data, blen);
            if (rc >= 400) {
                free(data);
                FUZZ_CHECK(is_parse_status(rc));
                cur->final = rc;
                if (cur->first == HTTP_PARSE_MORE)
                    cur->first = rc;
                goto out;
            }
            FUZZ_CHECK(rc == HTTP_PARSE_MORE || rc == HTTP_PARSE_HEAD || rc == HTTP_PARSE_DONE);
            FUZZ_CHECK(r.parsed <= blen);
            if (rc != HTTP_PARSE_MORE && cur->first == HTTP_PARSE_MORE) {
                check_head(&r, data, blen);
                cur->first = rc;
                snapshot(cur, &r);
                cur->check = http_request_check(&r, data);
                FUZZ_CHECK(is_check_status(cur->check));
                if (cur->check == 0)
                    check_accepted(&r);
            }
            free(data);
            if (cur->check > 0) {
                cur->final = cur->check;
                goto out;
            }
            if (cut && cur->first == HTTP_PARSE_HEAD) {
                size_t body = r.parsed - r.head_len;
                memmove(buf + r.head_len, buf + r.parsed, blen - r.parsed);
                blen -= body;
                cut_total += body;
                r.parsed = r.head_len;
            }
            if (rc == HTTP_PARSE_MORE)
                break;
            if (rc == HTTP_PARSE_HEAD)
                continue;
            /* DONE: on to the next request in the buffer. */
            cur->final = HTTP_PARSE_DONE;
            cur->parsed = r.parsed + (uint32_t)cut_total;
            cur->body_seen = r.body_seen;
            if (++run->n == MAX_REQUESTS)
                goto done;
            memmove(buf, buf + r.parsed, blen - r.parsed);
            blen -= r.parsed;
            cut_total = 0;
            cur = &run->req[run->n];
            start(cur);
            http_request_init(&r, lim);
            if (blen == 0)
                break;
        }
    }
out:
    if (cur->final == HTTP_PARSE_MORE) {
        cur->parsed = r.parsed + (uint32_t)cut_total;
        cur->body_seen = r.body_seen;
    }
    run->n++;
done:
    free(buf);
}

static bool is_error(int final)
{
    return final >= 400;
}

/* The same requests, read the same way; with small limits, errors may differ in status. */
static void compare(const struct run *a, const struct run *b, bool lax)
{
    for (size_t i = 0; i < a->n && i < b->n; i++) {
        const struct seen *x = &a->req[i], *y = &b->req[i];
        if (lax && (is_error(x->final) || is_error(y->final))) {
            FUZZ_CHECK(is_error(x->final) && is_error(y->final));
            return;
        }
        FUZZ_CHECK(x->first == y->first);
        FUZZ_CHECK(x->check == y->check);
        FUZZ_CHECK(x->final == y->final);
        if (x->first == HTTP_PARSE_MORE || is_error(x->first))
            continue;
        FUZZ_CHECK(memcmp(&x->method, &y->method, sizeof x->method) == 0);
        FUZZ_CHECK(memcmp(&x->target, &y->target, sizeof x->target) == 0);
        FUZZ_CHECK(memcmp(x->hdr, y->hdr, sizeof x->hdr) == 0);
        FUZZ_CHECK(memcmp(x->hdr_seen, y->hdr_seen, sizeof x->hdr_seen) == 0);
        FUZZ_CHECK(x->nheaders == y->nheaders && x->head_len == y->head_len);
        FUZZ_CHECK(x->major == y->major && x->minor == y->minor && x->method_id == y->method_id);
        FUZZ_CHECK(x->keep_alive == y->keep_alive && x->has_body == y->has_body);
        if (is_error(x->final))
            continue;
        FUZZ_CHECK(x->parsed == y->parsed);
        FUZZ_CHECK(x->body_seen == y->body_seen);
    }
    FUZZ_CHECK(a->n == b->n);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 3)
        return 0;
    unsigned flags = data[0];
    const char *in = (const char *)data + 3;
    size_t n = size - 3;
    size_t split = n ? (((size_t)data[1] << 8) | data[2]) % (n + 1) : 0;
    const struct http_limits *lim = (flags & FLAG_SMALL_LIMITS) ? &small : &large;
    bool cut = (flags & FLAG_CUT_BODY) != 0;
    bool lax = lim == &small;
    static struct run whole, other; /* large: off the stack */
    size_t two[2] = {split, n};
    feed(in, n, lim, &n, 1, cut, &whole);
    if (split > 0 && split < n) {
        feed(in, n, lim, two, 2, cut, &other);
        compare(&whole, &other, lax);
    }
    if ((flags & FLAG_BYTEWISE) && n > 0 && n <= BYTEWISE_MAX) {
        size_t bounds[BYTEWISE_MAX];
        for (size_t i = 0; i < n; i++)
            bounds[i] = i + 1;
        feed(in, n, lim, bounds, n, cut, &other);
        compare(&whole, &other, lax);
    }
    return 0;
}
