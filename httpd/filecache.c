/*
 * filecache.c: a direct-mapped table of open docroot files. Owns its table
 * and a reference to each entry in it; users hold their own references.
 */
#include "httpd/filecache.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

struct http_filecache {
    int root_fd;
    uint64_t ttl_ms;
    size_t nslots;
    struct http_file *slots[];
};

struct http_filecache *http_filecache_new(int root_fd, size_t slots, uint64_t ttl_ms)
{
    struct http_filecache *fc = calloc(1, sizeof *fc + slots * sizeof fc->slots[0]);
    if (fc == NULL)
        return NULL;
    fc->root_fd = root_fd;
    fc->ttl_ms = ttl_ms;
    fc->nslots = slots;
    return fc;
}

void http_file_release(void *file)
{
    struct http_file *f = file;
    if (--f->refs == 0) {
        close(f->fd);
        free(f);
    }
}

void http_filecache_free(struct http_filecache *fc)
{
    if (fc == NULL)
        return;
    for (size_t i = 0; i < fc->nslots; i++) {
        if (fc->slots[i])
            http_file_release(fc->slots[i]);
    }
    free(fc);
}

static int open_beneath(int root_fd, const char *path)
{
    struct open_how how = {
        .flags = O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK,
        .resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS,
    };
    const char *rel = path[1] ? path + 1 : ".";
    long fd;
    do {
        fd = syscall(SYS_openat2, root_fd, rel, &how, sizeof how);
    } while (fd < 0 && errno == EINTR);
    return fd < 0 ? -errno : (int)fd;
}

/* FNV-1a: short paths, a table of a few hundred slots. */
static size_t hash(const char *p, size_t len)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < len; i++)
        h = (h ^ (unsigned char)p[i]) * 1099511628211ull;
    return (size_t)h;
}

static int load(int root_fd, const char *path, size_t len, uint64_t now, struct http_file **out)
{
    struct http_file *f = malloc(sizeof *f + len + 1);
    if (f == NULL)
        return -ENOMEM;
    int fd = open_beneath(root_fd, path);
    if (fd < 0) {
        free(f);
        return fd;
    }
    if (fstat(fd, &f->st) < 0) {
        int e = errno;
        close(fd);
        free(f);
        return -e;
    }
    f->fd = fd;
    f->refs = 1;
    f->checked_at = now;
    f->path_len = len;
    memcpy(f->path, path, len);
    f->path[len] = '\0';
    f->etag_len = http_etag_make(f->etag, (uint64_t)f->st.st_mtim.tv_sec,
                                 (uint64_t)f->st.st_mtim.tv_nsec, (uint64_t)f->st.st_size);
    wk_clock_imf_fixdate(f->st.st_mtime, f->last_modified);
    *out = f;
    return 0;
}

int http_filecache_open(struct http_filecache *fc, const char *path, size_t len, uint64_t now,
                        struct http_file **out)
{
    size_t slot = hash(path, len) % fc->nslots;
    struct http_file *f = fc->slots[slot];
    if (f && f->path_len == len && memcmp(f->path, path, len) == 0 &&
        now - f->checked_at < fc->ttl_ms) {
        f->refs++;
        *out = f;
        return 0;
    }
    int rc = load(fc->root_fd, path, len, now, out);
    if (rc < 0)
        return rc;
    if (f)
        http_file_release(f);
    /* Only regular files are kept: a directory is listed anew each time. */
    if (S_ISREG((*out)->st.st_mode)) {
        (*out)->refs++;
        fc->slots[slot] = *out;
    } else {
        fc->slots[slot] = NULL;
    }
    return 0;
}
