/*
 * file.c: answering GET and HEAD from the docroot. Opens files with
 * openat2(RESOLVE_BENEATH), so neither ".." nor a symlink can lead outside
 * the root; an opened body belongs to the connection once queued.
 */
#include "httpd/file.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/conn.h"
#include "common/log.h"
#include "common/server.h"
#include "httpd/cond.h"
#include "httpd/dirlist.h"
#include "httpd/filecache.h"
#include "httpd/httpd.h"
#include "httpd/mime.h"
#include "httpd/path.h"
#include "httpd/range.h"
#include "httpd/request.h"
#include "httpd/ssi.h"

/* Bound of a generated page (directory listing, template output). */
#define FILE_PAGE_MAX (1024 * 1024)
/* Templates larger than this are refused (500) rather than read into memory. */
#define FILE_TEMPLATE_MAX (256 * 1024)

static int status_of_errno(int e)
{
    switch (e) {
    case ENOENT:
    case ENOTDIR:
    case ENAMETOOLONG: /* a name longer than any file can have: there is no such file */
        return 404;
    case EXDEV: /* the path or a symlink in it leads out of the root */
    case ELOOP:
    case EACCES:
    case EPERM:
        return 403;
    case EMFILE:
    case ENFILE:
    case ENOMEM:
        return 503;
    default:
        return 500;
    }
}

static void answer_errno(struct http_txn *t, int e, const char *path)
{
    int status = status_of_errno(e);
    if (status >= 500)
        wk_log(WK_LOG_WARN, "file-error path=\"%.200s\" error=\"%s\" status=%d", path, strerror(e),
               status);
    http_response_error(t, status, NULL);
}

static struct http_span header(const struct http_txn *t, enum http_header h, const char **p)
{
    struct http_span s = t->req->hdr[h];
    *p = http_request_has(t->req, h) ? http_span_ptr(t->data, s) : NULL;
    return s;
}

/* The request-target's path as sent, and its query ("?..." or empty). */
static void raw_path(const struct http_txn *t, const char **p, size_t *len, const char **q,
                     size_t *qlen)
{
    const char *s = http_span_ptr(t->data, t->req->target);
    size_t n = t->req->target.len;
    if (n && s[0] != '/') { /* absolute-form: skip scheme and authority */
        const char *auth = memmem(s, n, "://", 3);
        const char *slash = auth ? memchr(auth + 3, '/', n - (size_t)(auth + 3 - s)) : NULL;
        size_t skip = slash ? (size_t)(slash - s) : n;
        s += skip;
        n -= skip;
    }
    const char *qm = memchr(s, '?', n);
    const char *hash = memchr(s, '#', n);
    size_t end = qm ? (size_t)(qm - s) : hash ? (size_t)(hash - s) : n;
    *p = s;
    *len = end;
    *q = qm ? qm : s + n;
    *qlen = qm ? (size_t)((hash && hash > qm ? hash : s + n) - qm) : 0;
}

/*
 * A directory named without its slash: 301 to the same path with one, and
 * the query. The path is the normalized one, percent-encoded again, never
 * the raw target: "//evil.example/..//dir" must not become a Location that
 * a browser reads as another host.
 */
static void redirect_slash(struct http_txn *t, const char *path, size_t len)
{
    static const char hex[] = "0123456789ABCDEF";
    const char *p, *q;
    size_t plen, qlen, n = 0;
    char loc[3 * PATH_MAX + 2];
    raw_path(t, &p, &plen, &q, &qlen);
    if (3 * len + 1 + qlen >= sizeof loc) {
        http_response_error(t, 414, NULL);
        return;
    }
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)path[i];
        bool keep = c == '/' || ((c | 32) >= 'a' && (c | 32) <= 'z') || (c >= '0' && c <= '9') ||
                    c == '-' || c == '.' || c == '_' || c == '~'; /* RFC 3986 unreserved */
        if (keep) {
            loc[n++] = (char)c;
        } else {
            loc[n++] = '%';
            loc[n++] = hex[c >> 4];
            loc[n++] = hex[c & 15];
        }
    }
    loc[n++] = '/';
    memcpy(loc + n, q, qlen);
    struct http_response r = {.location = loc, .location_len = n + qlen};
    http_response_error(t, 301, &r);
}

/* Sends a generated page held in page (a 200 with no validators). */
static void send_page(struct http_txn *t, struct wk_buf *page, bool no_store)
{
    struct http_response r = {
        .status = 200,
        .content_type = "text/html; charset=utf-8",
        .content_length = wk_buf_len(page),
        .no_store = no_store,
    };
    if (http_response_head(t, &r) < 0 ||
        (!t->head_only &&
         wk_buf_append(wk_conn_out(t->c), wk_buf_data(page), wk_buf_len(page)) < 0))
        wk_conn_close(t->c, "out-of-memory");
}

static void send_listing(struct http_txn *t, int dirfd, const char *path)
{
    struct wk_buf page;
    wk_buf_init(&page, FILE_PAGE_MAX);
    int rc = http_dirlist_render(&page, dirfd, path, strlen(path));
    if (rc < 0)
        answer_errno(t, rc == -ENOBUFS ? ENOMEM : -rc, path);
    else
        send_page(t, &page, false);
    wk_buf_fini(&page);
}

/* What a template may show: the connection as the server sees it. */
static const char *ssi_var(void *arg, const char *name, size_t len, char *scratch, size_t cap)
{
    const struct http_txn *t = arg;
    const struct wk_conn_info *info = wk_conn_info(t->c);
    const struct wk_listener *l = wk_conn_listener(t->c);
    union wk_ipaddr local;
    socklen_t llen = sizeof local;
#define IS(s) (len == sizeof(s) - 1 && memcmp(name, s, len) == 0)
    if (IS("client"))
        wk_conn_format_peer(t->c, scratch, cap);
    else if (IS("client_addr"))
        wk_addr_format_host(&info->peer.sa, scratch, cap);
    else if (IS("client_port"))
        snprintf(scratch, cap, "%u", wk_addr_port(&info->peer.sa));
    else if (IS("server_fd"))
        snprintf(scratch, cap, "%d", info->fd);
    else if (IS("listener"))
        return l->name;
    else if (IS("server_addr") || IS("server_port")) {
        if (getsockname(info->fd, &local.sa, &llen) < 0)
            return NULL;
        if (IS("server_addr"))
            wk_addr_format(&local.sa, llen, scratch, cap);
        else
            snprintf(scratch, cap, "%u", wk_addr_port(&local.sa));
    } else if (IS("open_connections"))
        snprintf(scratch, cap, "%zu", wk_conn_server(t->c)->open);
    else if (IS("date_gmt"))
        wk_clock_imf_fixdate(wk_loop_wall(wk_conn_loop(t->c)), scratch);
    else if (IS("server_software"))
        return HTTP_SERVER_SOFTWARE;
    else if (IS("request_uri"))
        snprintf(scratch, cap, "%.*s", (int)t->req->target.len,
                 http_span_ptr(t->data, t->req->target));
    else
        return NULL;
#undef IS
    return scratch;
}

static void send_template(struct http_txn *t, const struct http_file *f)
{
    const struct stat *st = &f->st;
    const char *path = f->path;
    struct wk_buf tpl, page;
    wk_buf_init(&tpl, FILE_TEMPLATE_MAX);
    wk_buf_init(&page, FILE_PAGE_MAX);
    char *space;
    size_t avail;
    int rc = st->st_size > FILE_TEMPLATE_MAX
                 ? -EFBIG
                 : wk_buf_reserve(&tpl, (size_t)st->st_size, &space, &avail);
    ssize_t n = rc < 0 ? rc : pread(f->fd, space, (size_t)st->st_size, 0);
    if (n >= 0) {
        wk_buf_commit(&tpl, (size_t)n);
        rc = http_ssi_render(&page, wk_buf_data(&tpl), wk_buf_len(&tpl), ssi_var, t);
    } else {
        rc = rc < 0 ? rc : -errno;
    }
    if (rc < 0)
        answer_errno(t, rc == -ENOBUFS || rc == -EFBIG ? EFBIG : -rc, path);
    else
        send_page(t, &page, true);
    wk_buf_fini(&tpl);
    wk_buf_fini(&page);
}

/* A list header's value; repeated field lines joined into buf (malloc'd, freed by the caller). */
static const char *list_header(struct http_txn *t, enum http_header h, size_t *len, char **buf)
{
    const char *p;
    *len = header(t, h, &p).len;
    if (p == NULL || t->req->hdr_seen[h] < 2 || *len == 0)
        return p;
    if ((*buf = malloc(*len)) == NULL)
        return NULL; /* as if absent: 200 rather than a wrong 304 */
    *len = http_request_list(t->req, t->data, h, *buf);
    return *buf;
}

static int evaluate_conditions(struct http_txn *t, const char *etag, size_t etag_len, time_t mtime)
{
    struct http_cond cond;
    char *im = NULL, *inm = NULL;
    cond.if_match = list_header(t, HTTP_H_IF_MATCH, &cond.if_match_len, &im);
    cond.if_none_match = list_header(t, HTTP_H_IF_NONE_MATCH, &cond.if_none_match_len, &inm);
    cond.ims_len = header(t, HTTP_H_IF_MODIFIED_SINCE, &cond.if_modified_since).len;
    cond.ius_len = header(t, HTTP_H_IF_UNMODIFIED_SINCE, &cond.if_unmodified_since).len;
    int rc = http_cond_evaluate(&cond, true, etag, etag_len, mtime);
    free(im);
    free(inm);
    return rc;
}

/* Chooses the part of the file to send: 200 whole, 206 a range, or 416. */
static enum http_range_result choose_range(struct http_txn *t, const char *etag, size_t etag_len,
                                           const struct stat *st, time_t mtime, uint64_t *start,
                                           uint64_t *count)
{
    const char *range, *if_range;
    struct http_span rs = header(t, HTTP_H_RANGE, &range);
    struct http_span irs = header(t, HTTP_H_IF_RANGE, &if_range);
    *start = 0;
    *count = (uint64_t)st->st_size;
    if (range == NULL || t->req->parser.method != HTTP_GET)
        return HTTP_RANGE_NONE;
    if (if_range && !http_cond_if_range(if_range, irs.len, etag, etag_len, mtime))
        return HTTP_RANGE_NONE;
    enum http_range_result rr =
        http_range_parse(range, rs.len, (uint64_t)st->st_size, start, count);
    if (rr == HTTP_RANGE_NONE) {
        *start = 0;
        *count = (uint64_t)st->st_size;
    }
    return rr;
}

/* Answers from an open file; takes over the reference f. */
static void send_file(struct http_txn *t, struct http_file *f)
{
    const struct stat *st = &f->st;
    const char *etag = f->etag;
    size_t etag_len = f->etag_len;
    char crange[96], now_text[WK_CLOCK_IMF_LEN];
    struct http_response r = {
        .status = 200,
        .content_type = http_mime_type(f->path, f->path_len),
        .last_modified = f->last_modified,
        .etag = etag,
        .etag_len = etag_len,
        .accept_ranges = true,
    };
    /* A modification time in the future is sent, and compared, as now (RFC 9110 8.8.2.1). */
    time_t now = wk_loop_wall(wk_conn_loop(t->c)), mtime = st->st_mtime;
    if (mtime > now) {
        mtime = now;
        wk_clock_imf_fixdate(now, now_text);
        r.last_modified = now_text;
    }
    int cond = evaluate_conditions(t, etag, etag_len, mtime);
    if (cond == HTTP_COND_NOT_MODIFIED) {
        r.status = 304;
        r.content_type = NULL;
        r.no_length = true;
        http_response_head(t, &r);
        http_file_release(f);
        return;
    }
    if (cond == HTTP_COND_PRECONDITION_FAILED) {
        http_file_release(f);
        http_response_error(t, 412, NULL);
        return;
    }
    uint64_t start, count;
    enum http_range_result rr = choose_range(t, etag, etag_len, st, mtime, &start, &count);
    if (rr == HTTP_RANGE_UNSATISFIABLE) {
        http_file_release(f);
        http_range_content_range(crange, sizeof crange, 0, 0, (uint64_t)st->st_size);
        struct http_response e = {.content_range = crange};
        http_response_error(t, 416, &e);
        return;
    }
    if (rr == HTTP_RANGE_OK) {
        r.status = 206;
        http_range_content_range(crange, sizeof crange, start, count, (uint64_t)st->st_size);
        r.content_range = crange;
    }
    r.content_length = count;
    if (http_response_head(t, &r) < 0) {
        http_file_release(f);
        wk_conn_close(t->c, "out-of-memory");
        return;
    }
    if (t->head_only || count == 0) {
        http_file_release(f);
        return;
    }
    wk_conn_set_phase(t->c, "sending", 0, count);
    if (wk_conn_send_file(t->c, f->fd, (off_t)start, (size_t)count, http_file_release, f) < 0) {
        http_file_release(f);
        wk_conn_close(t->c, "file-queue-busy");
    }
}

/* Answers from an open file; takes over the reference f. */
static void serve_opened(struct http_txn *t, struct http_file *f)
{
    if (!S_ISREG(f->st.st_mode)) {
        http_file_release(f);
        http_response_error(t, 403, NULL);
        return;
    }
    if (f->path_len > 6 && strcmp(f->path + f->path_len - 6, ".shtml") == 0) {
        send_template(t, f);
        http_file_release(f);
        return;
    }
    send_file(t, f);
}

/* A directory with its slash: its index page, or a listing. */
static void serve_directory(struct http_txn *t, const struct http_file *dir)
{
    static const char *const index_names[] = {"index.html", "index.shtml"};
    char path[PATH_MAX];
    uint64_t now = wk_loop_now(wk_conn_loop(t->c));
    for (size_t i = 0; i < sizeof index_names / sizeof index_names[0]; i++) {
        int n = snprintf(path, sizeof path, "%s%s", dir->path, index_names[i]);
        if (n < 0 || (size_t)n >= sizeof path)
            break;
        struct http_file *f;
        if (http_filecache_open(t->srv->files, path, (size_t)n, now, &f) == 0) {
            if (S_ISREG(f->st.st_mode)) {
                serve_opened(t, f);
                return;
            }
            http_file_release(f);
        }
    }
    send_listing(t, dir->fd, dir->path);
}

void http_file_handle(struct http_txn *t)
{
    char path[PATH_MAX];
    size_t len;
    int rc = http_path_normalize(http_span_ptr(t->data, t->req->target), t->req->target.len, path,
                                 sizeof path, &len);
    if (rc < 0) {
        http_response_error(t, rc == -ENAMETOOLONG ? 414 : 400, NULL);
        return;
    }
    struct http_file *f;
    rc = http_filecache_open(t->srv->files, path, len, wk_loop_now(wk_conn_loop(t->c)), &f);
    if (rc < 0) {
        answer_errno(t, -rc, path);
        return;
    }
    if (!S_ISDIR(f->st.st_mode)) {
        serve_opened(t, f);
        return;
    }
    if (path[len - 1] != '/')
        redirect_slash(t, path, len);
    else
        serve_directory(t, f);
    http_file_release(f);
}
