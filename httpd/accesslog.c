/*
 * accesslog.c: Combined Log Format lines, buffered per loop turn. Owns the
 * log's fd (unless it is standard output) and its buffer. Client text is
 * escaped before it is written.
 */
#include "httpd/accesslog.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/clock.h"
#include "common/conn.h"
#include "common/log.h"
#include "common/loop.h"
#include "httpd/request.h"

#define ACCESSLOG_BUF_MAX   (256 * 1024)
#define ACCESSLOG_FLUSH_AT  (64 * 1024)
#define ACCESSLOG_FIELD_MAX 512

struct http_accesslog {
    int fd;
    bool own_fd;
    char *path; /* the file's, to reopen it; NULL for standard output */
    struct wk_buf buf;
    time_t date_at;
    char date[WK_CLOCK_CLF_LEN];
};

static void flush(struct http_accesslog *log)
{
    /* In whole lines: the workers of one server share the file. */
    ssize_t n = wk_log_write_lines(log->fd, wk_buf_data(&log->buf), wk_buf_len(&log->buf));
    if (n < 0)
        wk_log(WK_LOG_ERROR, "access-log write error=\"%s\"", strerror((int)-n));
    wk_buf_reset(&log->buf);
}

static void on_before_sleep(struct wk_loop *loop, void *data)
{
    WK_UNUSED(loop);
    struct http_accesslog *log = data;
    if (log && wk_buf_len(&log->buf) > 0)
        flush(log);
}

int http_accesslog_open(const char *spec, struct wk_loop *loop, struct http_accesslog **out,
                        char err[WK_ERR_LEN])
{
    *out = NULL;
    if (strcmp(spec, "off") == 0)
        return 0;
    struct http_accesslog *log = calloc(1, sizeof *log);
    if (log == NULL) {
        snprintf(err, WK_ERR_LEN, "access log: out of memory");
        return -ENOMEM;
    }
    log->fd = STDOUT_FILENO;
    if (strcmp(spec, "-") != 0) {
        log->fd = open(spec, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
        if (log->fd < 0 || (log->path = strdup(spec)) == NULL) {
            int e = log->fd < 0 ? errno : ENOMEM;
            snprintf(err, WK_ERR_LEN, "access log %s: %s", spec, strerror(e));
            if (log->fd >= 0)
                close(log->fd);
            free(log);
            return -e;
        }
        log->own_fd = true;
    }
    wk_buf_init(&log->buf, ACCESSLOG_BUF_MAX);
    if (loop)
        wk_loop_before_sleep(loop, on_before_sleep, log);
    *out = log;
    return 0;
}

int http_accesslog_attach(struct http_accesslog *log, struct wk_loop *loop)
{
    return log == NULL ? 0 : wk_loop_before_sleep(loop, on_before_sleep, log);
}

int http_accesslog_chown(struct http_accesslog *log, uid_t uid, gid_t gid, char err[WK_ERR_LEN])
{
    if (log == NULL || !log->own_fd || fchown(log->fd, uid, gid) == 0)
        return 0;
    int e = errno;
    snprintf(err, WK_ERR_LEN, "access log %s: cannot give it to uid %u: %s", log->path,
             (unsigned)uid, strerror(e));
    return -e;
}

int http_accesslog_reopen(struct http_accesslog *log, char err[WK_ERR_LEN])
{
    if (log == NULL || !log->own_fd)
        return 0;
    flush(log);
    int fd = open(log->path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
    if (fd < 0) {
        int e = errno;
        snprintf(err, WK_ERR_LEN, "access log %s: %s (still writing the old file)", log->path,
                 strerror(e));
        return -e;
    }
    close(log->fd);
    log->fd = fd;
    return 0;
}

void http_accesslog_close(struct http_accesslog *log)
{
    if (log == NULL)
        return;
    flush(log);
    if (log->own_fd)
        close(log->fd);
    wk_buf_fini(&log->buf);
    free(log->path);
    free(log);
}

static const char *span_or_dash(const struct http_txn *t, enum http_header h, char *out, size_t cap)
{
    if (!http_request_has(t->req, h))
        return "-";
    struct http_span s = t->req->hdr[h];
    wk_log_escape_quoted(out, cap, http_span_ptr(t->data, s), s.len);
    return out;
}

void http_accesslog_add(struct http_accesslog *log, const struct http_txn *t)
{
    if (log == NULL)
        return;
    const struct wk_conn_info *info = wk_conn_info(t->c);
    time_t now = wk_loop_wall(wk_conn_loop(t->c));
    if (now != log->date_at) {
        wk_clock_clf(now, log->date);
        log->date_at = now;
    }
    char host[64], line[ACCESSLOG_FIELD_MAX], ref[ACCESSLOG_FIELD_MAX], ua[ACCESSLOG_FIELD_MAX];
    char method[32];
    const struct http_request *r = t->req;
    wk_addr_format_host(&info->peer.sa, host, sizeof host);
    wk_log_escape(method, sizeof method, http_span_ptr(t->data, r->method), r->method.len);
    wk_log_escape(line, sizeof line, http_span_ptr(t->data, r->target), r->target.len);
    char bytes[24] = "-";
    if (t->body_bytes)
        snprintf(bytes, sizeof bytes, "%llu", (unsigned long long)t->body_bytes);
    wk_buf_printf(
        &log->buf, "%s - - [%s] \"%s %s HTTP/%u.%u\" %d %s \"%s\" \"%s\" port=%u fd=%d\n", host,
        log->date, method[0] ? method : "-", line[0] ? line : "-", r->parser.http_major,
        r->parser.http_minor, t->status, bytes, span_or_dash(t, HTTP_H_REFERER, ref, sizeof ref),
        span_or_dash(t, HTTP_H_USER_AGENT, ua, sizeof ua), wk_addr_port(&info->peer.sa), info->fd);
    if (wk_buf_len(&log->buf) >= ACCESSLOG_FLUSH_AT)
        flush(log);
}
