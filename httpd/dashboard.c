/*
 * dashboard.c: the routes under /-/. Owns the connections waiting for
 * smtpd's status, the event streams, and the timer that feeds them.
 *
 * One fetch of smtpd's status serves every request waiting when it returns:
 * ten viewers cost smtpd one answer. Event streams get a snapshot at most
 * every SNAPSHOT_MIN_MS, one soon after httpd accepts or closes a
 * connection, else one every SNAPSHOT_EVERY_MS (longer for large
 * snapshots); a viewer that reads slower than that skips snapshots.
 */
#include "httpd/dashboard.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "common/addr.h"
#include "common/conn.h"
#include "common/json.h"
#include "common/listener.h"
#include "common/log.h"
#include "common/metrics.h"
#include "common/server.h"
#include "common/sockview.h"
#include "common/status.h"
#include "httpd/assets.h"
#include "httpd/conn.h"
#include "httpd/httpd.h"
#include "httpd/path.h"
#include "httpd/request.h"
#include "httpd/response.h"

#define SNAPSHOT_MIN_MS   250
#define SNAPSHOT_EVERY_MS 1000
#define SNAPSHOT_TICK_MS  250
/* A heartbeat comment keeps proxies from closing a quiet stream. */
#define HEARTBEAT_MS 15000
/* How long smtpd has to answer before its part says it did not. */
#define FETCH_TIMEOUT_MS 1000
/* Bound of a JSON or metrics answer. */
#define ANSWER_MAX (16u << 20)
/*
 * Bodies larger than this go out from a memory file by sendfile rather than
 * through a connection's output buffer, whose bound is smaller than a view
 * of ten thousand sockets; one file then serves every viewer.
 */
#define BODY_INLINE_MAX (256u << 10)

enum route {
    ROUTE_NONE,
    ROUTE_ASSET,
    ROUTE_SOCKETS_JSON,
    ROUTE_EVENTS,
    ROUTE_METRICS,
    ROUTE_HEALTHY,
    ROUTE_UNKNOWN,
};

/* A question to smtpd's status socket and the connections waiting for its answer. */
struct fetch {
    struct http_dashboard *d;
    const char *cmd;
    struct wk_status_fetch *inflight;
    int err;           /* of the last answer */
    struct wk_buf got; /* the last answer */
    struct wk_conn **waiting;
    size_t nwaiting, cap;
    bool for_streams; /* the answer makes the event streams' next snapshot */
};

enum { FETCH_SOCKETS, FETCH_METRICS, FETCH_COUNT };

struct http_dashboard {
    struct wk_server *srv;
    struct http_dashboard_config cfg;
    struct wk_status_server self; /* httpd's own part */
    struct fetch fetch[FETCH_COUNT];
    struct wk_conn **streams;
    size_t nstreams, cap;
    struct wk_timer tick;
    uint64_t sent_ms;         /* when the last snapshot went out */
    uint64_t beat_ms;         /* when the streams last got anything */
    size_t sent_size;         /* and its size */
    uint64_t seen_changes;    /* httpd's accepts and closes at that time */
    uint64_t smtpd_answers;   /* answers from smtpd's socket view so far */
    struct wk_buf servers;    /* the last "servers" array made, */
    bool servers_ok;          /* complete, */
    uint64_t servers_ms;      /* at this time, */
    uint64_t servers_changes; /* with these accepts and closes, */
    uint64_t servers_answer;  /* and this answer from smtpd */
    char host[256];
};

static bool list_add(struct wk_conn ***v, size_t *n, size_t *cap, struct wk_conn *c)
{
    if (*n == *cap) {
        size_t ncap = *cap ? *cap * 2 : 8;
        struct wk_conn **nv = realloc(*v, ncap * sizeof *nv);
        if (nv == NULL)
            return false;
        *v = nv;
        *cap = ncap;
    }
    (*v)[(*n)++] = c;
    return true;
}

static void list_remove(struct wk_conn **v, size_t *n, struct wk_conn *c)
{
    for (size_t i = 0; i < *n; i++) {
        if (v[i] == c) {
            v[i] = v[--*n];
            return;
        }
    }
}

/* Which route a normalized path is; an asset's entry in *asset. */
static enum route route_of(const char *p, size_t n, const struct http_asset **asset)
{
    static const struct {
        const char *path;
        enum route route;
    } fixed[] = {
        {"/-/sockets.json", ROUTE_SOCKETS_JSON},
        {"/-/sockets/events", ROUTE_EVENTS},
        {"/-/metrics", ROUTE_METRICS},
        {"/-/healthy", ROUTE_HEALTHY},
    };
    if (n < 3 || memcmp(p, "/-/", 3) != 0)
        return ROUTE_NONE;
    for (size_t i = 0; i < WK_ARRAY_LEN(fixed); i++) {
        if (strlen(fixed[i].path) == n && memcmp(fixed[i].path, p, n) == 0)
            return fixed[i].route;
    }
    /* /-/sockets is the page; /-/sockets.css and /-/sockets.js go with it. */
    for (const struct http_asset *a = http_assets; a->name != NULL; a++) {
        size_t len = strlen(a->name);
        bool page = strcmp(a->name, "sockets.html") == 0;
        if (page ? n == 10 && memcmp(p + 3, "sockets", 7) == 0
                 : n == 3 + len && memcmp(p + 3, a->name, len) == 0) {
            *asset = a;
            return ROUTE_ASSET;
        }
    }
    return ROUTE_UNKNOWN;
}

/*
 * Appends n bytes of p to c's output: copied when small, else queued from a
 * memory file holding them, made on first use in *mfd (-1 until then; the
 * caller closes it). Returns 0 or -errno.
 */
static int put_bytes(struct wk_conn *c, const char *p, size_t n, int *mfd)
{
    if (n <= BODY_INLINE_MAX)
        return wk_conn_write(c, p, n);
    if (*mfd < 0) {
        int fd = memfd_create("wellknown-view", MFD_CLOEXEC);
        if (fd < 0)
            return -errno;
        for (size_t off = 0; off < n;) {
            ssize_t w = write(fd, p + off, n - off);
            if (w < 0 && errno == EINTR)
                continue;
            if (w <= 0) {
                int e = w < 0 ? errno : EIO;
                close(fd);
                return -e;
            }
            off += (size_t)w;
        }
        *mfd = fd;
    }
    int fd = fcntl(*mfd, F_DUPFD_CLOEXEC, 0); /* the conn closes its own once sent */
    if (fd < 0)
        return -errno;
    int rc = wk_conn_send_file(c, fd, 0, n, NULL, NULL);
    if (rc < 0)
        close(fd);
    return rc;
}

static void send_body(struct http_txn *t, const char *type, const char *body, size_t len,
                      const char *etag)
{
    struct http_response r = {
        .status = 200,
        .content_type = type,
        .content_length = len,
        .no_store = etag == NULL,
        .no_cache = etag != NULL,
        .etag = etag,
        .etag_len = etag ? strlen(etag) : 0,
    };
    int mfd = -1;
    if (http_response_head(t, &r) < 0 || (!t->head_only && put_bytes(t->c, body, len, &mfd) < 0))
        wk_conn_close(t->c, "out-of-memory");
    if (mfd >= 0)
        close(mfd);
}

/* {"local": ..., "peer": ..., "fd": ...} of the connection that asks. */
static void viewer_json(struct wk_json *j, struct wk_conn *c)
{
    union wk_ipaddr local;
    socklen_t len = sizeof local;
    char text[WK_ADDR_STRLEN];
    wk_json_object(j);
    wk_json_key(j, "local");
    if (getsockname(wk_conn_info(c)->fd, &local.sa, &len) == 0 && local.sa.sa_family != AF_UNIX) {
        wk_addr_format(&local.sa, len, text, sizeof text);
        wk_json_string(j, text);
    } else {
        wk_json_null(j);
    }
    wk_json_key(j, "peer");
    wk_conn_format_peer(c, text, sizeof text);
    wk_json_string(j, text);
    wk_json_key(j, "fd");
    wk_json_int(j, wk_conn_info(c)->fd);
    wk_json_close(j);
}

/* smtpd's part: its answer as it is, or why there is none. */
static void smtpd_json(struct http_dashboard *d, struct wk_json *j)
{
    const struct fetch *f = &d->fetch[FETCH_SOCKETS];
    char why[WK_ERR_LEN];
    if (d->cfg.smtpd_status == NULL) {
        wk_sockview_absent(j, "smtpd", "not shown (httpd runs with --smtpd-status off)");
        return;
    }
    size_t n = wk_buf_len(&f->got);
    const char *p = wk_buf_data(&f->got);
    if (f->err == 0 && n >= 2 && p[0] == '{' && p[n - 1] == '}') {
        wk_json_raw(j, p, n);
        return;
    }
    if (f->err == -ENOENT || f->err == -ECONNREFUSED)
        snprintf(why, sizeof why, "not running (no status socket at %s)", d->cfg.smtpd_status);
    else if (f->err == 0)
        snprintf(why, sizeof why, "its status socket %s gave no usable answer",
                 d->cfg.smtpd_status);
    else
        snprintf(why, sizeof why, "its status socket %s: %s", d->cfg.smtpd_status,
                 strerror(-f->err));
    wk_sockview_absent(j, "smtpd", why);
}

static uint64_t changes(const struct wk_server *srv)
{
    uint64_t n = 0;
    for (size_t i = 0; i < srv->nlisteners; i++) {
        struct wk_registry r;
        wk_registry_sum(srv->board, (unsigned)i, &r);
        n += r.accepted + r.closed;
    }
    return n;
}

/*
 * The "servers" array into d->servers, remade only when the time, httpd's
 * connections or smtpd's answer have changed: a crowd of viewers answered
 * together costs one look at the kernel.
 */
static int servers_json(struct http_dashboard *d)
{
    uint64_t now = wk_loop_now(d->srv->loop), seen = changes(d->srv);
    if (d->servers_ok && d->servers_ms == now && d->servers_changes == seen &&
        d->servers_answer == d->smtpd_answers)
        return 0;
    wk_buf_reset(&d->servers);
    struct wk_json j;
    wk_json_init(&j, &d->servers);
    wk_json_array(&j);
    wk_sockview_server(&j, d->srv, "httpd");
    smtpd_json(d, &j);
    wk_json_close(&j);
    int rc = wk_json_end(&j);
    d->servers_ok = rc == 0;
    d->servers_ms = now;
    d->servers_changes = seen;
    d->servers_answer = d->smtpd_answers;
    return rc;
}

/* The whole /-/sockets.json document into b; viewer NULL for event streams. */
static int snapshot(struct http_dashboard *d, struct wk_conn *viewer, struct wk_buf *b)
{
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    struct wk_json j;
    wk_json_init(&j, b);
    wk_json_object(&j);
    wk_json_key(&j, "schema");
    wk_json_uint(&j, 1);
    wk_json_key(&j, "host");
    wk_json_string(&j, d->host);
    wk_json_key(&j, "time_ms");
    wk_json_uint(&j, (uint64_t)now.tv_sec * 1000 + (uint64_t)now.tv_nsec / 1000000);
    wk_json_key(&j, "viewer");
    if (viewer != NULL)
        viewer_json(&j, viewer);
    else
        wk_json_null(&j);
    wk_json_key(&j, "servers");
    int rc = servers_json(d);
    if (rc < 0)
        return rc;
    wk_json_raw(&j, wk_buf_data(&d->servers), wk_buf_len(&d->servers));
    wk_json_close(&j);
    return wk_json_end(&j);
}

static void answer_json(struct http_dashboard *d, struct http_txn *t)
{
    struct wk_buf b;
    wk_buf_init(&b, ANSWER_MAX);
    int rc = snapshot(d, t->c, &b);
    if (rc < 0)
        http_response_error(t, 503, NULL);
    else
        send_body(t, "application/json", wk_buf_data(&b), wk_buf_len(&b), NULL);
    wk_buf_fini(&b);
}

void http_dashboard_metrics(struct wk_metrics *b, void *arg)
{
    const struct wk_server *srv = arg;
    static const char *const classes[] = {"1xx", "2xx", "3xx", "4xx", "5xx"};
    wk_metrics_family(b, "httpd", "requests_total", "counter",
                      "Requests answered, by status class.");
    for (int i = 1; i <= 5; i++)
        wk_metrics_sample(b, "httpd", "requests_total", "code", classes[i - 1],
                          wk_server_counter_sum(srv, (unsigned)i));
}

static void answer_metrics(struct http_dashboard *d, struct http_txn *t)
{
    const struct fetch *f = &d->fetch[FETCH_METRICS];
    struct wk_buf b;
    wk_buf_init(&b, ANSWER_MAX);
    struct wk_metrics m;
    wk_metrics_init(&m, &b);
    wk_status_server_metrics(&d->self, &m);
    bool up = d->cfg.smtpd_status != NULL && f->err == 0 && wk_buf_len(&f->got) > 0;
    wk_metrics_family(&m, "httpd", "smtpd_status_up", "gauge",
                      "Whether smtpd's status socket answered, for the metrics below.");
    wk_metrics_sample(&m, "httpd", "smtpd_status_up", NULL, NULL, up);
    int rc = wk_metrics_end(&m);
    if (rc == 0 && up)
        rc = wk_buf_append(&b, wk_buf_data(&f->got), wk_buf_len(&f->got));
    if (rc < 0)
        http_response_error(t, 503, NULL);
    else
        send_body(t, "text/plain; version=0.0.4; charset=utf-8", wk_buf_data(&b), wk_buf_len(&b),
                  NULL);
    wk_buf_fini(&b);
}

static void fetched(int err, const char *data, size_t len, void *arg);

/* Asks smtpd (unless a question is out already). Returns false if it cannot be asked now. */
static bool ask(struct http_dashboard *d, int which)
{
    struct fetch *f = &d->fetch[which];
    if (f->inflight != NULL)
        return true;
    int rc = wk_status_fetch(d->srv->loop, d->cfg.smtpd_status, f->cmd, FETCH_TIMEOUT_MS, fetched,
                             f, &f->inflight);
    if (rc < 0) {
        f->err = rc;
        wk_buf_reset(&f->got);
        if (which == FETCH_SOCKETS)
            d->smtpd_answers++; /* "not running" is an answer too */
        return false;
    }
    return true;
}

static void send_snapshots(struct http_dashboard *d);

/* smtpd answered (or not): every request waiting gets its answer now. */
static void fetched(int err, const char *data, size_t len, void *arg)
{
    struct fetch *f = arg;
    f->inflight = NULL;
    f->err = err;
    if (f == &f->d->fetch[FETCH_SOCKETS])
        f->d->smtpd_answers++;
    wk_buf_reset(&f->got);
    if (err == 0 && wk_buf_append(&f->got, data, len) < 0)
        f->err = -EMSGSIZE;
    if (err < 0 && err != -ENOENT && err != -ECONNREFUSED)
        wk_log(WK_LOG_WARN, "smtpd-status path=%s command=%s error=\"%s\"", f->d->cfg.smtpd_status,
               f->cmd, strerror(-err));
    /* Resumed requests may ask again (pipelined): they wait for the next answer. */
    struct wk_conn **waiting = f->waiting;
    size_t n = f->nwaiting;
    f->waiting = NULL;
    f->nwaiting = f->cap = 0;
    for (size_t i = 0; i < n; i++)
        http_conn_resume(waiting[i]);
    free(waiting);
    if (f->for_streams) {
        f->for_streams = false;
        send_snapshots(f->d);
    }
}

/*
 * Writes an event (its head, its JSON data, its end) to every stream that
 * keeps up; a stream still writing the last one skips it.
 */
static void broadcast(struct http_dashboard *d, const char *head, const char *data, size_t n,
                      const char *end)
{
    int mfd = -1;
    for (size_t i = 0; i < d->nstreams; i++) {
        struct wk_conn *c = d->streams[i];
        if (wk_conn_output_pending(c))
            continue;
        if (wk_conn_write(c, head, strlen(head)) < 0 || put_bytes(c, data, n, &mfd) < 0 ||
            wk_conn_write(c, end, strlen(end)) < 0)
            wk_conn_close(c, "out-of-memory");
    }
    if (mfd >= 0)
        close(mfd);
    d->beat_ms = wk_loop_now(d->srv->loop);
}

static void send_snapshots(struct http_dashboard *d)
{
    struct wk_buf b;
    wk_buf_init(&b, ANSWER_MAX);
    int rc = snapshot(d, NULL, &b);
    if (rc == 0)
        broadcast(d, "event: snapshot\ndata: ", wk_buf_data(&b), wk_buf_len(&b), "\n\n");
    else
        wk_log(WK_LOG_WARN, "dashboard snapshot error=\"%s\"", strerror(-rc));
    d->sent_ms = wk_loop_now(d->srv->loop);
    d->sent_size = wk_buf_len(&b);
    wk_buf_fini(&b);
}

/* The time between snapshots: longer when they are large, so a viewer is never flooded. */
static uint64_t interval(const struct http_dashboard *d)
{
    return d->sent_size > (256u << 10)  ? 5 * SNAPSHOT_EVERY_MS
           : d->sent_size > (64u << 10) ? 2 * SNAPSHOT_EVERY_MS
                                        : SNAPSHOT_EVERY_MS;
}

static void on_tick(struct wk_timer *t)
{
    struct http_dashboard *d = t->data;
    if (d->nstreams == 0)
        return; /* the next stream starts the timer again */
    uint64_t now = wk_loop_now(d->srv->loop), seen = changes(d->srv);
    bool due = now - d->sent_ms >= interval(d) ||
               (seen != d->seen_changes && now - d->sent_ms >= SNAPSHOT_MIN_MS);
    if (due && !d->fetch[FETCH_SOCKETS].for_streams) {
        d->seen_changes = seen;
        if (d->cfg.smtpd_status != NULL && ask(d, FETCH_SOCKETS))
            d->fetch[FETCH_SOCKETS].for_streams = true; /* sent when smtpd answers */
        else
            send_snapshots(d);
    } else if (now - d->beat_ms >= HEARTBEAT_MS) {
        broadcast(d, ": heartbeat", "", 0, "\n\n");
    }
    wk_loop_timer_after(d->srv->loop, &d->tick, SNAPSHOT_TICK_MS);
}

static void start_stream(struct http_dashboard *d, struct http_txn *t)
{
    struct http_response r = {
        .status = 200,
        .content_type = "text/event-stream",
        .no_length = true,
        .no_store = true,
    };
    struct wk_buf first;
    wk_buf_init(&first, 4096);
    struct wk_json j;
    wk_json_init(&j, &first);
    wk_buf_append(&first, "retry: 2000\n\nevent: viewer\ndata: ", 33);
    viewer_json(&j, t->c);
    t->keep_alive = false; /* the stream ends with the connection */
    if (wk_json_end(&j) < 0 || wk_buf_append(&first, "\n\n", 2) < 0 ||
        !list_add(&d->streams, &d->nstreams, &d->cap, t->c)) {
        http_response_error(t, 503, NULL);
        wk_buf_fini(&first);
        return;
    }
    if (http_response_head(t, &r) < 0 ||
        (!t->head_only &&
         wk_buf_append(wk_conn_out(t->c), wk_buf_data(&first), wk_buf_len(&first)) < 0)) {
        list_remove(d->streams, &d->nstreams, t->c);
        wk_conn_close(t->c, "out-of-memory");
    } else if (t->head_only) {
        list_remove(d->streams, &d->nstreams, t->c);
    } else {
        t->stream = true;
        if (!wk_timer_is_armed(&d->tick))
            wk_loop_timer_after(d->srv->loop, &d->tick, 0);
        d->sent_ms = 0; /* a first snapshot right away */
    }
    wk_buf_fini(&first);
}

/* Answers a route that needs smtpd's answer first, or leaves t waiting for it. */
static void with_smtpd(struct http_dashboard *d, struct http_txn *t, int which,
                       void (*answer)(struct http_dashboard *, struct http_txn *))
{
    struct fetch *f = &d->fetch[which];
    if (t->resumed || d->cfg.smtpd_status == NULL || !ask(d, which)) {
        answer(d, t);
        return;
    }
    if (!list_add(&f->waiting, &f->nwaiting, &f->cap, t->c)) {
        http_response_error(t, 503, NULL);
        return;
    }
    t->wait = true;
}

static bool allowed(struct http_dashboard *d, struct http_txn *t)
{
    const struct wk_conn_info *info = wk_conn_info(t->c);
    if (wk_cidr_list_match(&d->cfg.allow, &info->peer.sa))
        return true;
    char peer[WK_ADDR_STRLEN];
    wk_conn_format_peer(t->c, peer, sizeof peer);
    wk_log(WK_LOG_INFO, "dashboard-denied fd=%d client=%s", info->fd, peer);
    return false;
}

bool http_dashboard_handle(struct http_dashboard *d, struct http_txn *t)
{
    const char *target = http_span_ptr(t->data, t->req->target);
    size_t tlen = t->req->target.len;
    /* Most requests are for files: tell them apart without decoding. */
    if (tlen >= 2 && target[0] == '/' && target[1] != '-' && target[1] != '%')
        return false;
    char path[64];
    size_t len;
    if (http_path_normalize(target, tlen, path, sizeof path, &len) < 0)
        return false; /* not one of ours: the file handler answers as it does */
    const struct http_asset *asset = NULL;
    enum route route = route_of(path, len, &asset);
    if (route == ROUTE_NONE)
        return false;
    if (!allowed(d, t)) {
        http_response_error(t, 403, NULL);
        return true;
    }
    switch (route) {
    case ROUTE_ASSET:
        send_body(t, asset->type, (const char *)asset->data, asset->len, asset->etag);
        break;
    case ROUTE_SOCKETS_JSON:
        with_smtpd(d, t, FETCH_SOCKETS, answer_json);
        break;
    case ROUTE_EVENTS:
        start_stream(d, t);
        break;
    case ROUTE_METRICS:
        with_smtpd(d, t, FETCH_METRICS, answer_metrics);
        break;
    case ROUTE_HEALTHY:
        if (d->srv->stopping)
            http_response_error(t, 503, NULL);
        else
            send_body(t, "text/plain; charset=utf-8", "OK\n", 3, NULL);
        break;
    default:
        http_response_error(t, 404, NULL);
    }
    return true;
}

void http_dashboard_forget(struct http_dashboard *d, struct wk_conn *c)
{
    list_remove(d->streams, &d->nstreams, c);
    for (int i = 0; i < FETCH_COUNT; i++)
        list_remove(d->fetch[i].waiting, &d->fetch[i].nwaiting, c);
}

int http_dashboard_new(struct wk_server *srv, const struct http_dashboard_config *cfg,
                       struct http_dashboard **out)
{
    struct http_dashboard *d = calloc(1, sizeof *d);
    if (d == NULL)
        return -ENOMEM;
    d->srv = srv;
    d->cfg = *cfg;
    d->self = (struct wk_status_server){srv, "httpd", http_dashboard_metrics, srv};
    static const char *const cmds[FETCH_COUNT] = {"sockets", "metrics"};
    for (int i = 0; i < FETCH_COUNT; i++) {
        d->fetch[i].d = d;
        d->fetch[i].cmd = cmds[i];
        wk_buf_init(&d->fetch[i].got, WK_STATUS_ANSWER_MAX);
    }
    wk_buf_init(&d->servers, ANSWER_MAX);
    wk_timer_init(&d->tick, on_tick, d);
    if (gethostname(d->host, sizeof d->host - 1) < 0)
        strcpy(d->host, "localhost");
    *out = d;
    return 0;
}

void http_dashboard_free(struct http_dashboard *d)
{
    if (d == NULL)
        return;
    wk_loop_timer_stop(d->srv->loop, &d->tick);
    for (int i = 0; i < FETCH_COUNT; i++) {
        if (d->fetch[i].inflight != NULL)
            wk_status_fetch_cancel(d->fetch[i].inflight);
        wk_buf_fini(&d->fetch[i].got);
        free(d->fetch[i].waiting);
    }
    wk_buf_fini(&d->servers);
    free(d->streams);
    free(d);
}
