/*
 * dirlist.c: directory listings (see dirlist.h). The entries are read and
 * stat'ed first, sorted, then rendered into a buffer of the room left in
 * the caller's, which receives the page in one append. Owns nothing after
 * it returns.
 */
#include "httpd/dirlist.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "httpd/html.h"

struct entry {
    char *name;
    bool is_dir;
    uint64_t size;
    time_t mtime;
};

struct listing {
    struct entry *v;
    size_t n;
    size_t cap;
    bool cut; /* more entries than HTTP_DIRLIST_MAX_ENTRIES */
};

static void listing_fini(struct listing *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->v[i].name);
    free(l->v);
}

/* Room for one more entry. Returns 0 or -ENOMEM. */
static int listing_grow(struct listing *l)
{
    if (l->n < l->cap)
        return 0;
    size_t cap = l->cap ? l->cap * 2 : 64;
    struct entry *v = realloc(l->v, cap * sizeof(*v));
    if (v == NULL)
        return -ENOMEM;
    l->v = v;
    l->cap = cap;
    return 0;
}

/* Stats name in the directory and records it; a vanished name is skipped. */
static int listing_add(struct listing *l, int fd, const char *name)
{
    struct stat st;
    if (fstatat(fd, name, &st, AT_SYMLINK_NOFOLLOW) != 0)
        return errno == ENOENT ? 0 : -errno;
    int rc = listing_grow(l);
    if (rc < 0)
        return rc;
    struct entry *e = &l->v[l->n];
    e->name = strdup(name);
    if (e->name == NULL)
        return -ENOMEM;
    e->is_dir = S_ISDIR(st.st_mode);
    e->size = (uint64_t)st.st_size;
    e->mtime = st.st_mtime;
    l->n++;
    return 0;
}

/* Reads every visible entry of the directory through its own descriptor. */
static int listing_read(struct listing *l, int dirfd)
{
    int fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    DIR *d = fdopendir(fd);
    if (d == NULL) {
        int rc = -errno;
        close(fd);
        return rc;
    }
    int rc = 0;
    for (;;) {
        errno = 0;
        struct dirent *de = readdir(d);
        if (de == NULL) {
            rc = -errno;
            break;
        }
        if (de->d_name[0] == '.')
            continue;
        if (l->n == HTTP_DIRLIST_MAX_ENTRIES) {
            l->cut = true;
            break;
        }
        rc = listing_add(l, fd, de->d_name);
        if (rc < 0)
            break;
    }
    closedir(d);
    return rc;
}

static int entry_order(const void *pa, const void *pb)
{
    const struct entry *a = pa, *b = pb;
    if (a->is_dir != b->is_dir)
        return a->is_dir ? -1 : 1;
    return strcmp(a->name, b->name);
}

static int render_head(struct wk_buf *b, const char *urlpath, size_t len)
{
    int rc = wk_buf_printf(b, "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n"
                              "<meta charset=\"utf-8\">\n"
                              "<meta name=\"viewport\" content=\"width=device-width\">\n"
                              "<title>Index of ");
    if (rc == 0)
        rc = http_html_escape(b, urlpath, len);
    if (rc == 0)
        rc = wk_buf_printf(b, "</title>\n<style>body{font-family:sans-serif}"
                              "td,th{padding:0 1em 0 0;text-align:left}"
                              "td.size{text-align:right}</style>\n"
                              "</head>\n<body>\n<h1>Index of ");
    if (rc == 0)
        rc = http_html_escape(b, urlpath, len);
    if (rc == 0)
        rc = wk_buf_printf(b, "</h1>\n<table>\n<tr><th>Name</th><th>Size</th>"
                              "<th>Modified (UTC)</th></tr>\n");
    if (rc == 0 && !(len == 1 && urlpath[0] == '/'))
        rc = wk_buf_printf(b, "<tr><td><a href=\"../\">../</a></td><td></td><td></td></tr>\n");
    return rc;
}

/* The size and date cells of one row. */
static int render_details(struct wk_buf *b, const struct entry *e)
{
    struct tm tm;
    time_t t = e->mtime;
    if (gmtime_r(&t, &tm) == NULL)
        memset(&tm, 0, sizeof(tm));
    int rc = e->is_dir ? wk_buf_printf(b, "<td class=\"size\">-</td>")
                       : wk_buf_printf(b, "<td class=\"size\">%" PRIu64 "</td>", e->size);
    if (rc == 0)
        rc = wk_buf_printf(b, "<td>%04d-%02d-%02d %02d:%02d:%02d</td></tr>\n", tm.tm_year + 1900,
                           tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
    return rc;
}

static int render_entry(struct wk_buf *b, const struct entry *e)
{
    size_t n = strlen(e->name);
    const char *slash = e->is_dir ? "/" : "";
    int rc = wk_buf_printf(b, "<tr><td><a href=\"");
    if (rc == 0)
        rc = http_url_encode(b, e->name, n);
    if (rc == 0)
        rc = wk_buf_printf(b, "%s\">", slash);
    if (rc == 0)
        rc = http_html_escape(b, e->name, n);
    if (rc == 0)
        rc = wk_buf_printf(b, "%s</a></td>", slash);
    if (rc == 0)
        rc = render_details(b, e);
    return rc;
}

static int render_tail(struct wk_buf *b, bool cut)
{
    int rc = wk_buf_printf(b, "</table>\n");
    if (rc == 0 && cut)
        rc = wk_buf_printf(b, "<p>Listing cut at %d entries.</p>\n", HTTP_DIRLIST_MAX_ENTRIES);
    if (rc == 0)
        rc = wk_buf_printf(b, "</body>\n</html>\n");
    return rc;
}

static int render(struct wk_buf *b, const struct listing *l, const char *urlpath, size_t len)
{
    int rc = render_head(b, urlpath, len);
    for (size_t i = 0; rc == 0 && i < l->n; i++)
        rc = render_entry(b, &l->v[i]);
    if (rc == 0)
        rc = render_tail(b, l->cut);
    return rc;
}

int http_dirlist_render(struct wk_buf *out, int dirfd, const char *urlpath, size_t urlpath_len)
{
    struct listing l = {0};
    struct wk_buf page;
    /*
     * One byte more than out has left: wk_buf_printf needs room for its NUL,
     * and the final append checks the exact bound.
     */
    size_t room = out->max - wk_buf_len(out);
    wk_buf_init(&page, room < SIZE_MAX ? room + 1 : room);
    int rc = listing_read(&l, dirfd);
    if (rc == 0) {
        if (l.n > 1)
            qsort(l.v, l.n, sizeof(l.v[0]), entry_order);
        rc = render(&page, &l, urlpath, urlpath_len);
    }
    if (rc == 0)
        rc = wk_buf_append(out, wk_buf_data(&page), wk_buf_len(&page));
    wk_buf_fini(&page);
    listing_fini(&l);
    return rc;
}
