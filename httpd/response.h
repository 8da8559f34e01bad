/*
 * response.h: status lines, headers and error pages, appended to the
 * connection's output in one piece so that a response head (and a small
 * body) leaves in one write.
 */
#ifndef HTTP_RESPONSE_H
#define HTTP_RESPONSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

struct wk_conn;
struct http_server;
struct http_request;

/* One exchange: a request and its response, as the handlers see it. */
struct http_txn {
    struct wk_conn *c;
    struct http_server *srv;
    struct http_request *req;
    const char *data;    /* the input the request's spans point into */
    bool head_only;      /* HEAD: the headers of a GET, no body */
    bool keep_alive;     /* cleared by a response that must close */
    bool resumed;        /* answered again after waiting (see httpd/dashboard.h) */
    bool wait;           /* set by a handler: the answer comes later */
    bool stream;         /* set by a handler: the response is an endless event stream */
    int status;          /* what was answered, for the access log */
    uint64_t body_bytes; /* body bytes answered, for the access log */
};

struct http_response {
    int status;
    const char *content_type; /* NULL: no Content-Type */
    uint64_t content_length;
    bool no_length;            /* 304, 1xx and event streams carry no Content-Length */
    const char *last_modified; /* an IMF-fixdate, or NULL: no Last-Modified */
    const char *etag;          /* NULL: no ETag */
    size_t etag_len;
    const char *location; /* NULL: no Location */
    size_t location_len;
    const char *content_range; /* NULL: no Content-Range */
    bool accept_ranges;
    bool allow;    /* Allow: GET, HEAD, OPTIONS */
    bool no_store; /* Cache-Control: no-store */
    bool no_cache; /* Cache-Control: no-cache (revalidate before use) */
};

/* The reason phrase of a status code ("Not Found"), or "Unknown". */
const char *http_status_reason(int status);

/* True for statuses after which the connection is closed (400, 408, 413, 414, 431, 500, 501, 505).
 */
bool http_status_closes(int status);

/*
 * Appends the status line and headers, Date, Server and Connection
 * included, and records status and body size in t. Returns 0, -ENOBUFS or
 * -ENOMEM (then nothing was appended).
 */
int http_response_head(struct http_txn *t, const struct http_response *r);

/*
 * Appends a complete error response with a short HTML page; for statuses
 * that close, clears t->keep_alive. Extra fields of r (Allow, Location,
 * Content-Range) are honoured when r is not NULL. Returns 0 or -errno.
 */
int http_response_error(struct http_txn *t, int status, const struct http_response *r);

/* Appends "HTTP/1.1 100 Continue". Returns 0 or -errno. */
int http_response_continue(struct http_txn *t);

#endif
