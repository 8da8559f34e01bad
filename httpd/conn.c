/*
 * conn.c: the HTTP/1.1 connection state machine. Owns the request being read;
 * the wk_conn below owns the socket and buffers.
 *
 *   idle --first byte--> head --head complete--> (answer) --+--> idle (keep-alive)
 *                                                            +--> body (discard) --> idle
 *                                                            +--> finish (close)
 *                                                            +--> wait --resume--> (answer)
 *                                                            +--> events (until closed)
 *
 * A dashboard answer may need smtpd's status first: the connection waits,
 * reading nothing, until http_conn_resume(). An event stream keeps the
 * connection until the client leaves; whatever it sends is discarded.
 * Pipelined requests wait in the input buffer while a response is being
 * written, and are answered when the output drains, so responses leave in
 * request order.
 */
#include "httpd/conn.h"

#include <string.h>

#include "common/log.h"
#include "common/scoreboard.h"
#include "common/server.h"
#include "httpd/accesslog.h"
#include "httpd/dashboard.h"
#include "httpd/file.h"
#include "httpd/httpd.h"
#include "httpd/request.h"
#include "httpd/response.h"

enum http_state {
    HTTP_STATE_IDLE,
    HTTP_STATE_HEAD,
    HTTP_STATE_BODY,
    HTTP_STATE_WAIT,   /* the answer waits for data from elsewhere */
    HTTP_STATE_EVENTS, /* an event stream: output only */
};

struct http_conn {
    struct http_request req;
    struct http_limits limits;
    enum http_state state;
    bool keep_alive; /* the answered request lets the connection stay open */
};

static struct http_server *server_of(struct wk_conn *c)
{
    return wk_conn_server(c)->data;
}

static void enter_idle(struct wk_conn *c, struct http_conn *h)
{
    h->state = HTTP_STATE_IDLE;
    http_request_init(&h->req, &h->limits);
    struct wk_buf *in = wk_conn_in(c);
    if (wk_buf_len(in) == 0) {
        wk_buf_release_if_empty(in); /* an idle connection holds no buffers */
        if (wk_conn_output_pending(c)) {
            wk_conn_set_phase(c, "sending", wk_conn_info(c)->progress, wk_conn_info(c)->total);
            wk_conn_set_timeout(c, wk_conn_server(c)->cfg.send_timeout_ms);
        } else {
            wk_conn_set_phase(c, "idle", 0, 0);
            wk_conn_set_timeout(c, server_of(c)->cfg->idle_timeout);
        }
    }
}

static void on_open(struct wk_conn *c)
{
    struct http_conn *h = wk_conn_proto(c);
    const struct http_config *cfg = server_of(c)->cfg;
    h->limits = (struct http_limits){
        .max_request_line = cfg->max_request_line,
        .max_header_size = cfg->max_header_size,
        .max_headers = cfg->max_headers,
        .max_body = cfg->max_size,
    };
    enter_idle(c, h);
}

static void answer_options(struct http_txn *t)
{
    struct http_response r = {.status = 200, .allow = true, .content_length = 0};
    http_response_head(t, &r);
}

/* This worker's count of requests by status class (index 1 to 5), in the scoreboard. */
static uint64_t *http_counters(struct wk_conn *c)
{
    struct wk_server *srv = wk_conn_server(c);
    return wk_server_counters(srv, srv->worker);
}

/* After the answer: logs and counts it, unless it is still to come. */
static void answered(struct wk_conn *c, struct http_conn *h, struct http_txn *t)
{
    if (t->wait) {
        h->state = HTTP_STATE_WAIT;
        wk_conn_pause_read(c, true);
        wk_conn_set_timeout(c, 0); /* the wait is bounded by the dashboard */
        return;
    }
    h->keep_alive = t->keep_alive;
    if (t->status >= 100 && t->status < 600)
        wk_scoreboard_add(&http_counters(c)[t->status / 100], 1);
    http_accesslog_add(t->srv->alog, t);
}

/*
 * The server is stopping, or this worker retiring (a newer generation
 * serves the new configuration): each response closes its connection.
 */
static bool winding_down(struct wk_conn *c)
{
    const struct wk_server *srv = wk_conn_server(c);
    return srv->stopping || srv->retiring;
}

/* Answers a complete request: status 0 serves it, another status refuses it. */
static void answer(struct wk_conn *c, struct http_conn *h, int status, bool resumed)
{
    struct http_request *r = &h->req;
    struct http_txn t = {
        .c = c,
        .srv = server_of(c),
        .req = r,
        .data = wk_buf_data(wk_conn_in(c)),
        .head_only = r->parser.method == HTTP_HEAD,
        .keep_alive = http_request_keep_alive(r) && !winding_down(c),
        .resumed = resumed,
    };
    if (status != 0)
        http_response_error(&t, status, NULL);
    else if (r->parser.method == HTTP_OPTIONS)
        answer_options(&t);
    else if (t.srv->dash == NULL || !http_dashboard_handle(t.srv->dash, &t))
        http_file_handle(&t);
    answered(c, h, &t);
    if (t.stream) {
        h->state = HTTP_STATE_EVENTS;
        wk_conn_set_phase(c, "events", 0, 0);
        wk_conn_set_timeout(c, 0); /* a dead viewer is found by the send timeout */
    }
}

/* Answers a request the parser refused; the connection closes after it. */
static void answer_bad(struct wk_conn *c, struct http_conn *h, int status, const char *reason)
{
    struct http_txn t = {
        .c = c,
        .srv = server_of(c),
        .req = &h->req,
        .data = wk_buf_data(wk_conn_in(c)),
        .keep_alive = false,
    };
    http_response_error(&t, status, NULL);
    answered(c, h, &t);
    if (wk_log_enabled(WK_LOG_INFO)) {
        char peer[WK_ADDR_STRLEN];
        wk_conn_format_peer(c, peer, sizeof peer);
        wk_log(WK_LOG_INFO, "bad-request fd=%d client=%s status=%d reason=%s", wk_conn_info(c)->fd,
               peer, status, reason);
    }
    wk_conn_finish(c, reason);
}

static const char *reason_of(int status)
{
    switch (status) {
    case 413:
        return "body-too-large";
    case 414:
        return "request-line-too-long";
    case 431:
        return "headers-too-large";
    case 501:
        return "unknown-method";
    case 505:
        return "bad-version";
    default:
        return "bad-request";
    }
}

/*
 * The request and its body are done: drop them from the input and go on.
 * Returns false when nothing more is to be read now (waiting, or streaming).
 */
static bool complete(struct wk_conn *c, struct http_conn *h)
{
    if (h->state == HTTP_STATE_WAIT)
        return false;
    wk_buf_consume(wk_conn_in(c), h->req.parsed);
    if (h->state == HTTP_STATE_EVENTS) {
        wk_buf_reset(wk_conn_in(c)); /* requests behind a stream are never answered */
        return false;
    }
    if (!h->keep_alive || winding_down(c)) {
        wk_conn_finish(c, !winding_down(c)              ? "close"
                          : wk_conn_server(c)->stopping ? "shutdown"
                                                        : "retire");
        return false;
    }
    enter_idle(c, h);
    return true;
}

/* Reads a request's head and answers it. Returns true if it got anywhere. */
static bool read_head(struct wk_conn *c, struct http_conn *h)
{
    struct wk_buf *in = wk_conn_in(c);
    if (h->state == HTTP_STATE_IDLE) {
        h->state = HTTP_STATE_HEAD;
        wk_conn_set_phase(c, "reading-request", 0, 0);
        wk_conn_set_timeout(c, server_of(c)->cfg->header_timeout);
    }
    int rc = http_request_parse(&h->req, wk_buf_data(in), wk_buf_len(in));
    if (rc >= 400) {
        answer_bad(c, h, rc, reason_of(rc));
        return false;
    }
    if (rc == HTTP_PARSE_MORE) {
        if (wk_conn_peer_closed(c))
            wk_conn_close(c, "eof-in-request");
        return false;
    }
    int status = http_request_check(&h->req, wk_buf_data(in));
    if (status != 0 && (rc != HTTP_PARSE_DONE || http_status_closes(status))) {
        /* Refused with its body unread, or malformed: the connection can't go on after it. */
        answer_bad(c, h, status, reason_of(status));
        return false;
    }
    if (rc == HTTP_PARSE_DONE) {
        answer(c, h, status, false);
        return complete(c, h);
    }
    /*
     * A body follows: read (and discard) it all, then answer. An HTTP/1.1
     * client that expects 100 gets it; an HTTP/1.0 one never gets a 1xx, its
     * expectation ignored (RFC 9110 10.1.1).
     */
    if (http_request_has(&h->req, HTTP_H_EXPECT) && h->req.parser.http_minor >= 1) {
        struct http_txn t = {.c = c, .srv = server_of(c), .req = &h->req};
        http_response_continue(&t);
    }
    h->state = HTTP_STATE_BODY;
    wk_conn_set_phase(c, "reading-body", 0, h->req.parser.content_length);
    wk_conn_set_timeout(c, server_of(c)->cfg->body_timeout);
    return true;
}

/* Framing a chunked body may add beyond twice --max-size (then 413). */
#define BODY_FRAMING_SLACK (64u << 10)

/* Reads (and discards) a body. Returns true once it is complete. */
static bool read_body(struct wk_conn *c, struct http_conn *h)
{
    struct wk_buf *in = wk_conn_in(c);
    struct http_request *r = &h->req;
    int rc = http_request_parse(r, wk_buf_data(in), wk_buf_len(in));
    if (rc >= 400) {
        answer_bad(c, h, rc, rc == 413 ? "body-too-large" : "bad-body");
        return false;
    }
    /* Drop the body bytes parsed, keeping the head the answer needs. */
    r->body_wire += r->parsed - r->head_len;
    wk_buf_cut(in, r->head_len, r->parsed - r->head_len);
    r->parsed = r->head_len;
    /*
     * Chunk extensions and sizes are not body bytes: without a bound of
     * their own, a client could send them for ever under --max-size.
     */
    if (r->body_wire > 2 * r->limits->max_body + BODY_FRAMING_SLACK) {
        answer_bad(c, h, 413, "body-framing-too-large");
        return false;
    }
    if (rc == HTTP_PARSE_DONE) {
        answer(c, h, 0, false);
        return complete(c, h);
    }
    if (wk_conn_peer_closed(c)) {
        wk_conn_close(c, "eof-in-body");
        return false;
    }
    wk_conn_set_phase(c, "reading-body", r->body_seen, r->parser.content_length);
    wk_conn_set_timeout(c, server_of(c)->cfg->body_timeout);
    return false;
}

/* Answers every complete request in the input, until output backs up. */
static void process(struct wk_conn *c)
{
    struct http_conn *h = wk_conn_proto(c);
    if (h->state == HTTP_STATE_EVENTS) {
        wk_buf_reset(wk_conn_in(c));
        if (wk_conn_peer_closed(c))
            wk_conn_close(c, "eof");
        return;
    }
    for (;;) {
        if (wk_conn_is_closing(c) || h->state == HTTP_STATE_WAIT)
            return;
        if (wk_conn_is_write_blocked(c)) {
            wk_conn_pause_read(c, true); /* on_drain picks up again */
            return;
        }
        bool more;
        if (h->state == HTTP_STATE_BODY) {
            more = read_body(c, h);
        } else if (wk_buf_len(wk_conn_in(c)) > 0) {
            more = read_head(c, h);
        } else {
            if (wk_conn_peer_closed(c))
                wk_conn_finish(c, "eof"); /* after the responses still being written */
            return;
        }
        if (!more)
            return;
    }
}

static void on_data(struct wk_conn *c)
{
    process(c);
}

void http_conn_resume(struct wk_conn *c)
{
    struct http_conn *h = wk_conn_proto(c);
    if (h->state != HTTP_STATE_WAIT || wk_conn_is_closing(c))
        return;
    h->state = HTTP_STATE_HEAD;
    wk_conn_pause_read(c, false);
    answer(c, h, 0, true);
    if (complete(c, h))
        process(c);
}

static void on_drain(struct wk_conn *c)
{
    struct http_conn *h = wk_conn_proto(c);
    if (h->state == HTTP_STATE_WAIT || h->state == HTTP_STATE_EVENTS)
        return;
    wk_conn_pause_read(c, false);
    if (h->state == HTTP_STATE_IDLE && wk_buf_len(wk_conn_in(c)) == 0) {
        enter_idle(c, h);
        /*
         * Stopping: an idle connection goes now. Retiring, it stays: it was
         * promised keep-alive, so its next request may be on the way, and is
         * answered with "Connection: close" (or the grace runs out).
         */
        if (wk_conn_server(c)->stopping)
            wk_conn_finish(c, "shutdown");
        return;
    }
    process(c);
}

static void on_timeout(struct wk_conn *c)
{
    struct http_conn *h = wk_conn_proto(c);
    if (wk_conn_output_pending(c)) {
        wk_conn_close(c, "send-timeout");
        return;
    }
    switch (h->state) {
    case HTTP_STATE_HEAD:
        answer_bad(c, h, 408, "header-timeout");
        break;
    case HTTP_STATE_BODY:
        wk_conn_close(c, "body-timeout");
        break;
    default:
        wk_conn_close(c, "idle-timeout");
    }
}

static void on_shutdown(struct wk_conn *c)
{
    struct http_conn *h = wk_conn_proto(c);
    if (h->state == HTTP_STATE_EVENTS)
        wk_conn_finish(c, "shutdown");
    else if (h->state == HTTP_STATE_IDLE && !wk_conn_output_pending(c))
        wk_conn_close(c, "shutdown");
    /* Otherwise the request in progress is answered with "Connection: close". */
}

static void on_close(struct wk_conn *c)
{
    struct http_conn *h = wk_conn_proto(c);
    struct http_server *hs = server_of(c);
    /* Nothing else of its own to release: the request lives in the conn. */
    if (hs->dash != NULL && (h->state == HTTP_STATE_WAIT || h->state == HTTP_STATE_EVENTS))
        http_dashboard_forget(hs->dash, c);
}

const struct wk_conn_ops http_conn_ops = {
    .proto_size = sizeof(struct http_conn),
    .on_open = on_open,
    .on_data = on_data,
    .on_drain = on_drain,
    .on_timeout = on_timeout,
    .on_shutdown = on_shutdown,
    .on_close = on_close,
};
