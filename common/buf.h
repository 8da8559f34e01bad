/*
 * buf.h: a bounded byte buffer.
 *
 * Bytes are appended at the end and consumed from the front. The buffer never
 * grows past its maximum: an append that would is refused with -ENOBUFS, and
 * the caller turns that into a protocol error. The memory is allocated on
 * first use and can be given back while the buffer is empty (an idle
 * keep-alive connection holds no buffer at all).
 */
#ifndef WK_BUF_H
#define WK_BUF_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct wk_buf {
    char *base; /* allocation, NULL until first use */
    size_t off; /* start of unconsumed bytes */
    size_t len; /* number of unconsumed bytes */
    size_t cap; /* size of the allocation */
    size_t max; /* hard bound on len */
};

/* Prepares an empty buffer that will never hold more than max bytes. */
void wk_buf_init(struct wk_buf *b, size_t max);

/* Frees the memory; the buffer is empty and reusable afterwards. */
void wk_buf_fini(struct wk_buf *b);

/* The unconsumed bytes; valid until the next call that changes the buffer. */
static inline char *wk_buf_data(const struct wk_buf *b)
{
    return b->off ? b->base + b->off : b->base; /* no arithmetic on NULL */
}

static inline size_t wk_buf_len(const struct wk_buf *b)
{
    return b->len;
}

/*
 * Makes room for at least n more bytes at the end (compacting or growing)
 * and returns a pointer to it through *space and the room available, which
 * may exceed n, through *avail. Returns 0, -ENOBUFS if len + n would pass the
 * maximum, or -ENOMEM. Follow with wk_buf_commit() for the bytes written.
 */
int wk_buf_reserve(struct wk_buf *b, size_t n, char **space, size_t *avail);

/* Marks n bytes written into the space from wk_buf_reserve() as content. */
void wk_buf_commit(struct wk_buf *b, size_t n);

/* Appends n bytes. Returns 0, -ENOBUFS or -ENOMEM; nothing is appended on error. */
int wk_buf_append(struct wk_buf *b, const void *p, size_t n);

/* Appends a formatted string. Returns 0, -ENOBUFS or -ENOMEM (nothing appended). */
int wk_buf_printf(struct wk_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Drops n bytes (n <= len) from the front. */
void wk_buf_consume(struct wk_buf *b, size_t n);

/* Removes n bytes starting off bytes into the content (off + n <= len). */
void wk_buf_cut(struct wk_buf *b, size_t off, size_t n);

/* Drops everything, keeping the memory. */
void wk_buf_reset(struct wk_buf *b);

/* Gives the memory back if the buffer is empty. */
void wk_buf_release_if_empty(struct wk_buf *b);

/*
 * Finds the first line (ending in LF) among the unconsumed bytes. Returns the
 * line's length including the LF, 0 if no LF has arrived yet and fewer than
 * max bytes are buffered, or -EMSGSIZE if max bytes are buffered without an LF.
 */
ssize_t wk_buf_getline(const struct wk_buf *b, size_t max);

#endif
