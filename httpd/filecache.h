/*
 * filecache.h: open files of the docroot, kept for a moment so that a hot
 * file costs no openat2/fstat/close per request (as nginx's open_file_cache
 * and h2o's filecache). Every open goes through openat2(RESOLVE_BENEATH):
 * nothing outside the root can be reached, through ".." or a symlink.
 *
 * An entry is rechecked (opened and stat'ed again) once it is older than the
 * cache's time to live; until then a file replaced on disk may still be
 * served in its previous version.
 */
#ifndef HTTP_FILECACHE_H
#define HTTP_FILECACHE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

#include "common/clock.h"
#include "httpd/cond.h"

struct http_file {
    int fd;
    struct stat st;
    char etag[HTTP_ETAG_LEN];
    size_t etag_len;
    char last_modified[WK_CLOCK_IMF_LEN];
    unsigned refs;       /* the cache's own, plus one per user */
    uint64_t checked_at; /* monotonic ms */
    size_t path_len;
    char path[]; /* absolute within the root, NUL-terminated */
};

struct http_filecache;

/* A cache of slots entries over root_fd (not owned). NULL on ENOMEM. */
struct http_filecache *http_filecache_new(int root_fd, size_t slots, uint64_t ttl_ms);

/* Drops the cache's references; files still in use live on until released. NULL is fine. */
void http_filecache_free(struct http_filecache *fc);

/*
 * Opens path (absolute within the root, as from http_path_normalize()) or
 * reuses a fresh entry. Returns 0 with a reference in *out, to be given
 * back with http_file_release(), or -errno (-ENOENT, -EXDEV for a path that
 * leads out of the root, -ELOOP, -EACCES, -EMFILE...).
 */
int http_filecache_open(struct http_filecache *fc, const char *path, size_t len, uint64_t now,
                        struct http_file **out);

/* Gives back a reference; the fd is closed with the last one. Takes a void * to serve as a
 * wk_release_fn. */
void http_file_release(void *file);

#endif
