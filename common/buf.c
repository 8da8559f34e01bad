/*
 * buf.c: the bounded byte buffer. Owns its allocation; knows nothing of
 * sockets. Growth doubles from a small start and stops at the maximum.
 */
#include "common/buf.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BUF_MIN_ALLOC 1024

void wk_buf_init(struct wk_buf *b, size_t max)
{
    b->base = NULL;
    b->off = 0;
    b->len = 0;
    b->cap = 0;
    b->max = max;
}

void wk_buf_fini(struct wk_buf *b)
{
    free(b->base);
    b->base = NULL;
    b->off = 0;
    b->len = 0;
    b->cap = 0;
}

int wk_buf_reserve(struct wk_buf *b, size_t n, char **space, size_t *avail)
{
    if (n > b->max - b->len)
        return -ENOBUFS;
    if (b->base == NULL || b->cap - b->off - b->len < n) {
        /* Move the content to the front before growing. */
        if (b->off > 0 && b->cap - b->len >= n) {
            memmove(b->base, b->base + b->off, b->len);
            b->off = 0;
        } else {
            size_t want = b->cap ? b->cap : BUF_MIN_ALLOC;
            while (want < b->len + n)
                want *= 2;
            if (want > b->max)
                want = b->max;
            char *p = malloc(want + 1); /* one spare byte for a formatter's NUL */
            if (p == NULL)
                return -ENOMEM;
            if (b->len)
                memcpy(p, b->base + b->off, b->len);
            free(b->base);
            b->base = p;
            b->cap = want;
            b->off = 0;
        }
    }
    *space = b->base + b->off + b->len;
    size_t room = b->cap - b->off - b->len;
    *avail = room < b->max - b->len ? room : b->max - b->len;
    return 0;
}

void wk_buf_commit(struct wk_buf *b, size_t n)
{
    b->len += n;
}

int wk_buf_append(struct wk_buf *b, const void *p, size_t n)
{
    char *space;
    size_t avail;
    int rc = wk_buf_reserve(b, n, &space, &avail);
    if (rc < 0)
        return rc;
    if (n)
        memcpy(space, p, n);
    b->len += n;
    return 0;
}

int wk_buf_printf(struct wk_buf *b, const char *fmt, ...)
{
    char *space;
    size_t avail;
    va_list ap;
    int rc = wk_buf_reserve(b, b->max - b->len < 64 ? b->max - b->len : 64, &space, &avail);
    if (rc < 0)
        return rc;
    /* Every allocation has a spare byte past the room, for vsnprintf's NUL. */
    va_start(ap, fmt);
    int n = vsnprintf(space, avail + 1, fmt, ap);
    va_end(ap);
    if (n < 0)
        return -EINVAL;
    if ((size_t)n > avail) {
        /* Too long for the room at hand: make exact room and format again. */
        rc = wk_buf_reserve(b, (size_t)n, &space, &avail);
        if (rc < 0)
            return rc;
        va_start(ap, fmt);
        vsnprintf(space, (size_t)n + 1, fmt, ap);
        va_end(ap);
    }
    b->len += (size_t)n;
    return 0;
}

void wk_buf_consume(struct wk_buf *b, size_t n)
{
    if (n >= b->len) {
        b->off = 0;
        b->len = 0;
        return;
    }
    b->off += n;
    b->len -= n;
}

void wk_buf_cut(struct wk_buf *b, size_t off, size_t n)
{
    char *p = b->base + b->off;
    memmove(p + off, p + off + n, b->len - off - n);
    b->len -= n;
}

void wk_buf_reset(struct wk_buf *b)
{
    b->off = 0;
    b->len = 0;
}

void wk_buf_release_if_empty(struct wk_buf *b)
{
    if (b->len == 0 && b->base != NULL)
        wk_buf_fini(b);
}

ssize_t wk_buf_getline(const struct wk_buf *b, size_t max)
{
    size_t scan = b->len < max ? b->len : max;
    const char *p = scan ? memchr(b->base + b->off, '\n', scan) : NULL;
    if (p != NULL)
        return (ssize_t)(p - (b->base + b->off)) + 1;
    return b->len >= max ? -EMSGSIZE : 0;
}
