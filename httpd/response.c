/*
 * response.c: response heads and error pages. Writes into the connection's
 * output buffer; owns nothing. Headers are copied piece by piece rather
 * than formatted by printf: this runs once per request.
 */
#include "httpd/response.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "common/conn.h"
#include "common/loop.h"
#include "httpd/httpd.h"
#include "httpd/request.h"

/* Room for the fixed part of any head; variable fields are added to it. */
#define HEAD_FIXED_MAX 512

static const struct {
    int status;
    const char *reason;
} reasons[] = {
    {100, "Continue"},
    {200, "OK"},
    {206, "Partial Content"},
    {301, "Moved Permanently"},
    {304, "Not Modified"},
    {400, "Bad Request"},
    {403, "Forbidden"},
    {404, "Not Found"},
    {405, "Method Not Allowed"},
    {408, "Request Timeout"},
    {412, "Precondition Failed"},
    {413, "Content Too Large"},
    {414, "URI Too Long"},
    {416, "Range Not Satisfiable"},
    {417, "Expectation Failed"},
    {431, "Request Header Fields Too Large"},
    {500, "Internal Server Error"},
    {501, "Not Implemented"},
    {503, "Service Unavailable"},
    {505, "HTTP Version Not Supported"},
};

const char *http_status_reason(int status)
{
    for (size_t i = 0; i < sizeof reasons / sizeof reasons[0]; i++) {
        if (reasons[i].status == status)
            return reasons[i].reason;
    }
    return "Unknown";
}

bool http_status_closes(int status)
{
    switch (status) {
    case 400:
    case 408:
    case 413:
    case 414:
    case 431:
    case 500:
    case 501:
    case 505:
        return true;
    default:
        return false;
    }
}

/* A cursor over reserved space. */
struct out {
    char *p;
};

static void put(struct out *o, const char *s, size_t n)
{
    memcpy(o->p, s, n);
    o->p += n;
}

#define PUT_LIT(o, s) put((o), (s), sizeof(s) - 1)

static void put_str(struct out *o, const char *s)
{
    put(o, s, strlen(s));
}

static void put_u64(struct out *o, uint64_t v)
{
    char tmp[20];
    size_t n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    while (n)
        *o->p++ = tmp[--n];
}

static const char *date_now(struct http_server *srv, struct wk_conn *c)
{
    time_t now = wk_loop_wall(wk_conn_loop(c));
    if (now != srv->date_at) {
        wk_clock_imf_fixdate(now, srv->date);
        srv->date_at = now;
    }
    return srv->date;
}

static size_t head_size(const struct http_response *r)
{
    size_t n = HEAD_FIXED_MAX + r->etag_len + r->location_len;
    if (r->content_type)
        n += strlen(r->content_type);
    if (r->content_range)
        n += strlen(r->content_range);
    return n;
}

static void put_fields(struct out *o, const struct http_response *r)
{
    if (r->content_type) {
        PUT_LIT(o, "\r\nContent-Type: ");
        put_str(o, r->content_type);
    }
    if (!r->no_length) {
        PUT_LIT(o, "\r\nContent-Length: ");
        put_u64(o, r->content_length);
    }
    if (r->last_modified) {
        PUT_LIT(o, "\r\nLast-Modified: ");
        put(o, r->last_modified, WK_CLOCK_IMF_LEN - 1);
    }
    if (r->etag) {
        PUT_LIT(o, "\r\nETag: ");
        put(o, r->etag, r->etag_len);
    }
    if (r->accept_ranges)
        PUT_LIT(o, "\r\nAccept-Ranges: bytes");
    if (r->content_range) {
        PUT_LIT(o, "\r\nContent-Range: ");
        put_str(o, r->content_range);
    }
    if (r->location) {
        PUT_LIT(o, "\r\nLocation: ");
        put(o, r->location, r->location_len);
    }
    if (r->allow)
        PUT_LIT(o, "\r\nAllow: GET, HEAD, OPTIONS");
    if (r->no_store)
        PUT_LIT(o, "\r\nCache-Control: no-store");
    else if (r->no_cache)
        PUT_LIT(o, "\r\nCache-Control: no-cache");
}

int http_response_head(struct http_txn *t, const struct http_response *r)
{
    struct wk_buf *b = wk_conn_out(t->c);
    char *space;
    size_t avail;
    int rc = wk_buf_reserve(b, head_size(r), &space, &avail);
    if (rc < 0)
        return rc;
    struct out o = {space};
    bool http10 = t->req && t->req->parser.http_minor == 0;
    PUT_LIT(&o, "HTTP/1.1 ");
    put_u64(&o, (uint64_t)r->status);
    *o.p++ = ' ';
    put_str(&o, http_status_reason(r->status));
    PUT_LIT(&o, "\r\nDate: ");
    put(&o, date_now(t->srv, t->c), WK_CLOCK_IMF_LEN - 1);
    PUT_LIT(&o, "\r\nServer: " HTTP_SERVER_SOFTWARE);
    put_fields(&o, r);
    if (!t->keep_alive)
        PUT_LIT(&o, "\r\nConnection: close");
    else if (http10)
        PUT_LIT(&o, "\r\nConnection: keep-alive");
    PUT_LIT(&o, "\r\n\r\n");
    wk_buf_commit(b, (size_t)(o.p - space));
    wk_conn_flush_later(t->c);
    t->status = r->status;
    t->body_bytes = t->head_only || r->no_length ? 0 : r->content_length;
    return 0;
}

int http_response_continue(struct http_txn *t)
{
    return wk_conn_write(t->c, "HTTP/1.1 100 Continue\r\n\r\n", 25);
}

int http_response_error(struct http_txn *t, int status, const struct http_response *extra)
{
    char body[512];
    const char *reason = http_status_reason(status);
    int n = snprintf(body, sizeof body,
                     "<!DOCTYPE html>\n<html><head><title>%d %s</title></head>\n"
                     "<body><h1>%d %s</h1><hr><p>" HTTP_SERVER_SOFTWARE "</p></body></html>\n",
                     status, reason, status, reason);
    struct http_response r = extra ? *extra : (struct http_response){0};
    r.status = status;
    r.content_type = "text/html; charset=utf-8";
    r.content_length = (uint64_t)n;
    r.no_length = false;
    r.no_store = false;
    if (status == 405 || status == 501)
        r.allow = true;
    if (http_status_closes(status))
        t->keep_alive = false;
    int rc = http_response_head(t, &r);
    if (rc == 0 && !t->head_only)
        rc = wk_buf_append(wk_conn_out(t->c), body, (size_t)n);
    return rc;
}
