/*
 * test_wk_sockview.c: the socket view of one server (common/sockview.c) with
 * a real server on loopback and real clients of this process. The protocol
 * here does nothing but keep its connections. The JSON is read back by a
 * small strict parser (below) and its values compared with what the client
 * sockets say of themselves (getsockname, getpeername) and what the
 * scoreboard holds (worker, fd, phase, bytes; counters summed over the
 * workers): the listener object; one socket per client, the server's peer
 * being the client's local address; a connection the server closed first,
 * shown with no fd in a closing state; a client waiting in the accept queue
 * of a paused listener; IPv4 clients of a dual-stack [::] listener as
 * [::ffff:127.0.0.1]; an AF_UNIX listener; connections of another worker
 * (entries claimed in worker 1 of the scoreboard), ordered by age with this
 * process's and joined with their kernel sockets, their fds never asked
 * here; a kernel that cannot be asked (socket(AF_NETLINK) fails); the
 * object of an absent server; buffers too small for the document. Every
 * loop run is bounded; every socket is closed at the end (the fd count is
 * checked).
 *
 * WK_WRAP: socket
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "common/addr.h"
#include "common/buf.h"
#include "common/conn.h"
#include "common/json.h"
#include "common/listener.h"
#include "common/log.h"
#include "common/registry.h"
#include "common/scoreboard.h"
#include "common/supervisor.h"
#include "common/server.h"
#include "common/sockview.h"
#include "support/wk_testsrv.h"

#define STEP_MS    3000 /* bound of each run of the loop */
#define CONNECT_MS 3000 /* bound of a client's connect */
#define WAIT_STEPS 300  /* 10 ms each: how long the kernel gets to move a socket along */
#define MAXC       8
#define DOC_MAX    (1u << 20)
#define SERVICE    "demo"

/* ---- a kernel that cannot be asked ----------------------------------------------------------- */

int __real_socket(int domain, int type, int protocol);

static bool netlink_fails; /* set by one test, cleared by teardown */

int __wrap_socket(int domain, int type, int protocol)
{
    if (domain == AF_NETLINK && netlink_fails) {
        errno = EACCES;
        return -1;
    }
    return __real_socket(domain, type, protocol);
}

/* ---- a small strict JSON parser -------------------------------------------------------------- */

enum jtype { J_NULL, J_BOOL, J_NUM, J_STR, J_ARR, J_OBJ };

struct jval {
    enum jtype type;
    bool b;
    const char *key; /* member name as written (escapes kept), NULL in arrays */
    size_t keylen;
    const char *s; /* J_STR: the contents as written; J_NUM: the number */
    size_t n;
    struct jval *first, *last, *next;
    size_t count;
};

struct jdoc {
    struct jval *pool;
    size_t used, cap;
    const char *p, *end;
};

static void ws(struct jdoc *d)
{
    while (d->p < d->end && (*d->p == ' ' || *d->p == '\n' || *d->p == '\t' || *d->p == '\r'))
        d->p++;
}

static bool is_hex(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static bool jstring(struct jdoc *d, const char **s, size_t *n)
{
    if (d->p >= d->end || *d->p != '"')
        return false;
    const char *start = ++d->p;
    while (d->p < d->end) {
        unsigned char c = (unsigned char)*d->p;
        if (c == '"') {
            *s = start;
            *n = (size_t)(d->p - start);
            d->p++;
            return true;
        }
        if (c < 0x20)
            return false;
        if (c != '\\') {
            d->p++;
            continue;
        }
        if (d->end - d->p < 2)
            return false;
        char e = d->p[1];
        if (e == 'u') {
            if (d->end - d->p < 6 || !is_hex(d->p[2]) || !is_hex(d->p[3]) || !is_hex(d->p[4]) ||
                !is_hex(d->p[5]))
                return false;
            d->p += 6;
        } else if (e != '\0' && strchr("\"\\/bfnrt", e) != NULL) {
            d->p += 2;
        } else {
            return false;
        }
    }
    return false;
}

static bool digits(struct jdoc *d)
{
    const char *start = d->p;
    while (d->p < d->end && *d->p >= '0' && *d->p <= '9')
        d->p++;
    return d->p > start;
}

static bool jnumber(struct jdoc *d)
{
    if (d->p < d->end && *d->p == '-')
        d->p++;
    if (d->p < d->end && *d->p == '0')
        d->p++;
    else if (!digits(d))
        return false;
    if (d->p < d->end && *d->p == '.') {
        d->p++;
        if (!digits(d))
            return false;
    }
    if (d->p < d->end && (*d->p == 'e' || *d->p == 'E')) {
        d->p++;
        if (d->p < d->end && (*d->p == '+' || *d->p == '-'))
            d->p++;
        if (!digits(d))
            return false;
    }
    return true;
}

static bool literal(struct jdoc *d, const char *word)
{
    size_t n = strlen(word);
    if ((size_t)(d->end - d->p) < n || memcmp(d->p, word, n) != 0)
        return false;
    d->p += n;
    return true;
}

static bool key_is(const struct jval *v, const char *key, size_t n)
{
    return v->key != NULL && v->keylen == n && memcmp(v->key, key, n) == 0;
}

static struct jval *jvalue(struct jdoc *d, int depth);

/* The members of an object or the elements of an array, after its opening bracket. */
static bool jcontainer(struct jdoc *d, struct jval *v, int depth)
{
    char close = v->type == J_OBJ ? '}' : ']';
    ws(d);
    if (d->p < d->end && *d->p == close) {
        d->p++;
        return true;
    }
    for (;;) {
        const char *k = NULL;
        size_t kn = 0;
        if (v->type == J_OBJ) {
            ws(d);
            if (!jstring(d, &k, &kn))
                return false;
            for (const struct jval *o = v->first; o != NULL; o = o->next) {
                if (key_is(o, k, kn))
                    return false; /* a name twice */
            }
            ws(d);
            if (d->p >= d->end || *d->p != ':')
                return false;
            d->p++;
        }
        struct jval *e = jvalue(d, depth + 1);
        if (e == NULL)
            return false;
        e->key = k;
        e->keylen = kn;
        if (v->last != NULL)
            v->last->next = e;
        else
            v->first = e;
        v->last = e;
        v->count++;
        ws(d);
        if (d->p < d->end && *d->p == ',') {
            d->p++;
            continue;
        }
        if (d->p < d->end && *d->p == close) {
            d->p++;
            return true;
        }
        return false;
    }
}

static struct jval *jvalue(struct jdoc *d, int depth)
{
    ws(d);
    if (depth > 32 || d->used == d->cap || d->p >= d->end)
        return NULL;
    struct jval *v = &d->pool[d->used++];
    memset(v, 0, sizeof *v);
    char c = *d->p;
    bool ok;
    if (c == '{' || c == '[') {
        v->type = c == '{' ? J_OBJ : J_ARR;
        d->p++;
        ok = jcontainer(d, v, depth);
    } else if (c == '"') {
        v->type = J_STR;
        ok = jstring(d, &v->s, &v->n);
    } else if (c == 't' || c == 'f') {
        v->type = J_BOOL;
        v->b = c == 't';
        ok = literal(d, v->b ? "true" : "false");
    } else if (c == 'n') {
        v->type = J_NULL;
        ok = literal(d, "null");
    } else {
        v->type = J_NUM;
        v->s = d->p;
        ok = jnumber(d);
        v->n = (size_t)(d->p - v->s);
    }
    return ok ? v : NULL;
}

/* Parses the whole text (one value, nothing after it); fails the test if it is not JSON. */
static const struct jval *jparse(struct jdoc *d, const char *text, size_t len)
{
    d->cap = len + 1; /* every value takes at least one byte */
    d->pool = calloc(d->cap, sizeof *d->pool);
    assert_non_null(d->pool);
    d->used = 0;
    d->p = text;
    d->end = text + len;
    const struct jval *root = jvalue(d, 0);
    ws(d);
    if (root == NULL || d->p != d->end) {
        size_t at = (size_t)(d->p - text);
        print_error("not JSON at byte %zu of %zu: ...%.60s\n", at, len, d->p);
        fail();
    }
    return root;
}

static void jdoc_free(struct jdoc *d)
{
    free(d->pool);
    d->pool = NULL;
}

/* A member that must be there. */
static const struct jval *jget(const struct jval *o, const char *key)
{
    assert_non_null(o);
    assert_int_equal(o->type, J_OBJ);
    for (const struct jval *e = o->first; e != NULL; e = e->next) {
        if (key_is(e, key, strlen(key)))
            return e;
    }
    print_error("no member \"%s\"\n", key);
    fail();
    return NULL;
}

static const struct jval *jat(const struct jval *a, size_t i)
{
    assert_non_null(a);
    assert_int_equal(a->type, J_ARR);
    assert_true(i < a->count);
    const struct jval *e = a->first;
    while (i-- > 0)
        e = e->next;
    return e;
}

static bool jstr_is(const struct jval *v, const char *want)
{
    return v->type == J_STR && v->n == strlen(want) && memcmp(v->s, want, v->n) == 0;
}

/* The string member key equals want, or is null when want is NULL. */
static void expect_str(const struct jval *o, const char *key, const char *want)
{
    const struct jval *v = jget(o, key);
    if (want == NULL ? v->type == J_NULL : jstr_is(v, want))
        return;
    print_error("\"%s\": got %.*s, want %s\n", key, (int)(v->type == J_STR ? v->n : 4),
                v->type == J_STR ? v->s : "(not a string)", want ? want : "null");
    fail();
}

static void expect_null(const struct jval *o, const char *key)
{
    const struct jval *v = jget(o, key);
    if (v->type != J_NULL) {
        print_error("\"%s\" is not null\n", key);
        fail();
    }
}

static void expect_bool(const struct jval *o, const char *key, bool want)
{
    const struct jval *v = jget(o, key);
    assert_int_equal(v->type, J_BOOL);
    assert_int_equal(v->b, want);
}

static int64_t jint(const struct jval *v)
{
    char num[32];
    assert_int_equal(v->type, J_NUM);
    assert_true(v->n > 0 && v->n < sizeof num);
    memcpy(num, v->s, v->n);
    num[v->n] = '\0';
    assert_null(strpbrk(num, ".eE")); /* integers only */
    return strtoll(num, NULL, 10);
}

static int64_t get_int(const struct jval *o, const char *key)
{
    return jint(jget(o, key));
}

static uint64_t get_uint(const struct jval *o, const char *key)
{
    const struct jval *v = jget(o, key);
    assert_int_equal(v->type, J_NUM);
    assert_true(v->s[0] != '-');
    return (uint64_t)jint(v);
}

/* The object's member names, in this order and no others. */
static void expect_keys(const struct jval *o, const char *const *keys, size_t n)
{
    assert_int_equal(o->type, J_OBJ);
    const struct jval *e = o->first;
    for (size_t i = 0; i < n; i++, e = e->next) {
        if (e == NULL || !key_is(e, keys[i], strlen(keys[i]))) {
            print_error("member %zu: want \"%s\", got \"%.*s\"\n", i, keys[i],
                        e ? (int)e->keylen : 0, e ? e->key : "");
            fail();
        }
    }
    assert_null(e);
}

static const char *const server_keys[] = {"name", "running", "error",      "kernel_error",
                                          "pid",  "version", "started_ms", "listeners"};
static const char *const listener_keys[] = {"addr",     "port",  "fd",           "service",
                                            "tls",      "state", "accept_queue", "backlog",
                                            "accepted", "open",  "closed",       "sockets"};
static const char *const socket_keys[] = {
    "local",     "peer",  "state",    "worker", "fd",  "age_ms", "accepted_at", "bytes_in",
    "bytes_out", "phase", "progress", "total",  "tls", "recv_q", "send_q",      "tcp"};
static const char *const tcp_keys[] = {"rtt_us",  "rttvar_us",   "cwnd",
                                       "retrans", "bytes_acked", "bytes_received"};

/* The parser itself: documents it must refuse. */
static void test_parser_refuses(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "",         "{",           "{\"a\":1,}", "[1,]",         "{\"a\" 1}", "{\"a\":1,\"a\":2}",
        "\"a\nb\"", "\"\\x\"",     "01",         "1.",           "nul",       "[1] 2",
        "{a:1}",    "\"\\u12g4\"", "-",          "[\"a\"\"b\"]", "{\"a\":}",
    };
    for (size_t i = 0; i < WK_ARRAY_LEN(bad); i++) {
        struct jdoc d;
        d.cap = strlen(bad[i]) + 1;
        d.pool = calloc(d.cap, sizeof *d.pool);
        d.used = 0;
        d.p = bad[i];
        d.end = bad[i] + strlen(bad[i]);
        const struct jval *v = jvalue(&d, 0);
        ws(&d);
        if (v != NULL && d.p == d.end) {
            print_error("accepted: %s\n", bad[i]);
            fail();
        }
        jdoc_free(&d);
    }
    const char *good = " {\"a\":[1,-2.5e3,true,false,null,\"x\\\"\\u00e9\"],\"b\":{}} ";
    struct jdoc d;
    const struct jval *root = jparse(&d, good, strlen(good));
    assert_int_equal(jget(root, "a")->count, 6);
    assert_int_equal(jint(jat(jget(root, "a"), 0)), 1);
    assert_true(jstr_is(jat(jget(root, "a"), 5), "x\\\"\\u00e9"));
    jdoc_free(&d);
}

/* ---- the protocol: keep every connection, do nothing ---------------------------------------- */

struct ctx {
    struct wk_conn *conns[MAXC];
    size_t n;
};

static void p_open(struct wk_conn *c)
{
    struct ctx *x = wk_conn_server(c)->data;
    assert_true(x->n < MAXC);
    x->conns[x->n++] = c;
}

static void p_close(struct wk_conn *c)
{
    struct ctx *x = wk_conn_server(c)->data;
    for (size_t i = 0; i < x->n; i++) {
        if (x->conns[i] == c) {
            x->conns[i] = x->conns[--x->n];
            return;
        }
    }
}

static void p_nothing(struct wk_conn *c)
{
    (void)c;
}

static const struct wk_conn_ops keep_ops = {
    .on_open = p_open,
    .on_data = p_nothing,
    .on_drain = p_nothing,
    .on_timeout = p_nothing,
    .on_shutdown = p_nothing,
    .on_close = p_close,
};

/* ---- fixture --------------------------------------------------------------------------------- */

struct fixture {
    struct wk_testsrv ts;
    bool up;
    struct ctx x;
    int cl[MAXC];
    size_t ncl;
    char dir[64];
    char sock_path[128];
    struct wk_buf b;
    struct jdoc doc;
    int fds_before;
    unsigned workers; /* of the server's scoreboard; 0: one */
};

static int count_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    int n = 0;
    if (d == NULL)
        return -1;
    while (readdir(d) != NULL)
        n++;
    closedir(d);
    return n;
}

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof *f);
    assert_non_null(f);
    for (size_t i = 0; i < MAXC; i++)
        f->cl[i] = -1;
    wk_buf_init(&f->b, DOC_MAX);
    f->fds_before = count_fds();
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    for (size_t i = 0; i < f->ncl; i++) {
        if (f->cl[i] >= 0)
            close(f->cl[i]);
    }
    if (f->up)
        wk_testsrv_fini(&f->ts);
    jdoc_free(&f->doc);
    wk_buf_fini(&f->b);
    if (f->dir[0] != '\0')
        rmdir(f->dir);
    netlink_fails = false;
    int after = count_fds();
    int before = f->fds_before;
    free(f);
    if (after != before) {
        print_error("%d fds open before the test, %d after\n", before, after);
        return -1;
    }
    return 0;
}

static void start(struct fixture *f, const char *const *addrs, size_t n)
{
    struct wk_server_config cfg;
    char err[WK_ERR_LEN];
    wk_server_config_defaults(&cfg);
    cfg.backlog = 16;
    cfg.workers = f->workers;
    int rc = wk_testsrv_init(&f->ts, &cfg, &keep_ops, &f->x, addrs, n, err);
    if (rc != 0)
        print_error("%s\n", err);
    assert_int_equal(rc, 0);
    f->up = true;
    for (size_t i = 0; i < n; i++)
        f->ts.srv.listeners[i].service = SERVICE;
}

static bool at_once(struct wk_testsrv *ts, void *arg)
{
    (void)ts;
    (void)arg;
    return true;
}

/* Runs the loop for a turn: the first run starts the server (its listeners begin accepting). */
static void turn(struct fixture *f)
{
    assert_true(wk_testsrv_run(&f->ts, at_once, NULL, STEP_MS));
}

struct until {
    size_t listener;
    size_t open;       /* the listener holds at least this many connections */
    uint64_t bytes_in; /* which received at least this much together */
};

/* Listener i's counters, summed over the workers. */
static struct wk_registry sum_of(const struct wk_server *srv, size_t i)
{
    struct wk_registry r;
    wk_registry_sum(srv->board, (unsigned)i, &r);
    return r;
}

struct bytes_of {
    unsigned listener;
    uint64_t in; /* received by its open connections, all workers */
};

static void add_bytes_in(const void *slot, void *arg)
{
    const struct wk_conn_info *info = slot;
    struct bytes_of *b = arg;
    if (info->listener == b->listener)
        b->in += info->bytes_in;
}

static bool reached(struct wk_testsrv *ts, void *arg)
{
    const struct until *u = arg;
    struct wk_registry r = sum_of(&ts->srv, u->listener);
    struct bytes_of b = {(unsigned)u->listener, 0};
    wk_scoreboard_each(ts->srv.board, add_bytes_in, &b);
    return r.accepted - r.closed >= u->open && b.in >= u->bytes_in;
}

static void run_until(struct fixture *f, size_t listener, size_t open, uint64_t bytes_in)
{
    struct until u = {listener, open, bytes_in};
    if (!wk_testsrv_run(&f->ts, reached, &u, STEP_MS)) {
        print_error("listener %zu: want %zu open and %llu bytes in within %d ms\n", listener, open,
                    (unsigned long long)bytes_in, STEP_MS);
        fail();
    }
}

/* A nonblocking connect to sa, waited for (bounded). Returns the client's fd, kept in f. */
static int client(struct fixture *f, const struct sockaddr *sa, socklen_t len)
{
    assert_true(f->ncl < MAXC);
    int fd = socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    assert_true(fd >= 0);
    f->cl[f->ncl++] = fd;
    if (connect(fd, sa, len) < 0) {
        assert_int_equal(errno, EINPROGRESS);
        struct pollfd p = {.fd = fd, .events = POLLOUT};
        assert_int_equal(poll(&p, 1, CONNECT_MS), 1);
        int e = 0;
        socklen_t elen = sizeof e;
        assert_int_equal(getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &elen), 0);
        assert_int_equal(e, 0);
    }
    return fd;
}

/* A client of listener i, at the listener's own address. */
static int client_of(struct fixture *f, size_t i)
{
    const struct wk_addr *a = &f->ts.srv.listeners[i].addr;
    return client(f, &a->u.sa, a->len);
}

/* An IPv4 client of 127.0.0.1 on listener i's port (of a dual-stack listener). */
static int client_v4(struct fixture *f, size_t i)
{
    struct sockaddr_in in = {.sin_family = AF_INET};
    in.sin_port = htons(wk_addr_port(&f->ts.srv.listeners[i].addr.u.sa));
    in.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return client(f, (struct sockaddr *)&in, sizeof in);
}

static int client_v6(struct fixture *f, size_t i)
{
    struct sockaddr_in6 in6 = {.sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT};
    in6.sin6_port = htons(wk_addr_port(&f->ts.srv.listeners[i].addr.u.sa));
    return client(f, (struct sockaddr *)&in6, sizeof in6);
}

struct addrtext {
    char s[WK_ADDR_STRLEN];
};

/* A client's own address (local) or its server's (peer), printed as the view prints them. */
static struct addrtext end_of(int fd, bool peer)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    struct addrtext t;
    int rc = peer ? getpeername(fd, (struct sockaddr *)&ss, &len)
                  : getsockname(fd, (struct sockaddr *)&ss, &len);
    assert_int_equal(rc, 0);
    wk_addr_format((struct sockaddr *)&ss, len, t.s, sizeof t.s);
    return t;
}

/* The server's connection of a client: the one whose peer port is the client's local port. */
static struct wk_conn *conn_of(struct fixture *f, int fd)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    assert_int_equal(getsockname(fd, (struct sockaddr *)&ss, &len), 0);
    uint16_t port = wk_addr_port((struct sockaddr *)&ss);
    for (size_t i = 0; i < f->x.n; i++) {
        if (wk_addr_port(&wk_conn_info(f->x.conns[i])->peer.sa) == port)
            return f->x.conns[i];
    }
    print_error("no connection from port %u\n", port);
    fail();
    return NULL;
}

/* Writes the view of the server into f->b and parses it. */
static const struct jval *snapshot(struct fixture *f)
{
    struct wk_json j;
    jdoc_free(&f->doc);
    wk_buf_reset(&f->b);
    wk_json_init(&j, &f->b);
    wk_sockview_server(&j, &f->ts.srv, "httpd");
    assert_int_equal(wk_json_end(&j), 0);
    const struct jval *root = jparse(&f->doc, wk_buf_data(&f->b), wk_buf_len(&f->b));
    expect_keys(root, server_keys, WK_ARRAY_LEN(server_keys));
    return root;
}

static bool contains(const struct fixture *f, const char *needle)
{
    return memmem(wk_buf_data(&f->b), wk_buf_len(&f->b), needle, strlen(needle)) != NULL;
}

/* The common part of every server object, with the kernel answering. */
static void check_server(struct fixture *f, const struct jval *root, size_t nlisteners)
{
    char head[256];
    snprintf(head, sizeof head,
             "{\"name\":\"httpd\",\"running\":true,\"error\":null,\"kernel_error\":null,"
             "\"pid\":%d,\"version\":\"%s\",\"started_ms\":%llu,\"listeners\":[{",
             (int)getpid(), WK_VERSION, (unsigned long long)f->ts.srv.started_ms);
    assert_true(wk_buf_len(&f->b) > strlen(head));
    assert_memory_equal(wk_buf_data(&f->b), head, strlen(head));
    expect_str(root, "name", "httpd");
    expect_bool(root, "running", true);
    expect_null(root, "error");
    expect_null(root, "kernel_error");
    assert_int_equal(get_int(root, "pid"), getpid());
    expect_str(root, "version", WK_VERSION);
    assert_int_equal(get_uint(root, "started_ms"), f->ts.srv.started_ms);
    assert_int_equal(jget(root, "listeners")->count, nlisteners);
}

/*
 * The listener's object up to its sockets, exactly: the fields the kernel
 * gives (state, accept queue, backlog) and the registry's counters.
 */
static void check_listener_text(struct fixture *f, size_t i, unsigned accept_queue)
{
    const struct wk_listener *l = &f->ts.srv.listeners[i];
    struct wk_registry r = sum_of(&f->ts.srv, i);
    char want[512];
    snprintf(want, sizeof want,
             "{\"addr\":\"%s\",\"port\":%u,\"fd\":%d,\"service\":\"" SERVICE "\",\"tls\":false,"
             "\"state\":\"LISTEN\",\"accept_queue\":%u,\"backlog\":16,\"accepted\":%llu,"
             "\"open\":%llu,\"closed\":%llu,\"sockets\":[",
             l->name, wk_addr_port(&l->addr.u.sa), l->fd, accept_queue,
             (unsigned long long)r.accepted, (unsigned long long)(r.accepted - r.closed),
             (unsigned long long)r.closed);
    if (!contains(f, want)) {
        print_error("no\n  %s\nin\n  %.*s\n", want, (int)wk_buf_len(&f->b), wk_buf_data(&f->b));
        fail();
    }
}

static const struct jval *listener_at(const struct jval *root, size_t i)
{
    const struct jval *l = jat(jget(root, "listeners"), i);
    expect_keys(l, listener_keys, WK_ARRAY_LEN(listener_keys));
    return l;
}

/* The socket whose peer is peer; there must be exactly one. */
static const struct jval *socket_with_peer(const struct jval *l, const char *peer)
{
    const struct jval *found = NULL;
    const struct jval *socks = jget(l, "sockets");
    assert_int_equal(socks->type, J_ARR);
    for (const struct jval *s = socks->first; s != NULL; s = s->next) {
        expect_keys(s, socket_keys, WK_ARRAY_LEN(socket_keys));
        if (jstr_is(jget(s, "peer"), peer)) {
            if (found != NULL) {
                print_error("two sockets with peer %s\n", peer);
                fail();
            }
            found = s;
        }
    }
    if (found == NULL) {
        print_error("no socket with peer %s\n", peer);
        fail();
    }
    return found;
}

/* The sockets with an fd: those the server holds. */
static size_t held_count(const struct jval *l)
{
    size_t n = 0;
    for (const struct jval *s = jget(l, "sockets")->first; s != NULL; s = s->next)
        n += jget(s, "fd")->type != J_NULL;
    return n;
}

static void check_tcp(const struct jval *s)
{
    const struct jval *tcp = jget(s, "tcp");
    expect_keys(tcp, tcp_keys, WK_ARRAY_LEN(tcp_keys));
    for (size_t i = 0; i < WK_ARRAY_LEN(tcp_keys); i++)
        get_uint(tcp, tcp_keys[i]);
    assert_true(get_uint(tcp, "cwnd") > 0);
}

/* A connection the server holds: client fd's view of it, and the registry's. */
static void check_held(struct fixture *f, const struct jval *l, int fd, const char *phase,
                       uint64_t progress, uint64_t total, uint64_t bytes_in)
{
    struct addrtext local = end_of(fd, false), peer = end_of(fd, true);
    const struct jval *s = socket_with_peer(l, local.s);
    const struct wk_conn_info *info = wk_conn_info(conn_of(f, fd));
    expect_str(s, "local", peer.s);
    expect_str(s, "state", "ESTAB");
    assert_int_equal(get_uint(s, "worker"), info->head.worker);
    assert_int_equal(info->head.worker, f->ts.srv.worker);
    assert_int_equal(get_int(s, "fd"), info->fd);
    assert_true(get_uint(s, "age_ms") < 60000);
    assert_int_equal(get_uint(s, "bytes_in"), bytes_in);
    assert_int_equal(get_uint(s, "bytes_out"), 0);
    expect_str(s, "phase", phase);
    assert_int_equal(get_uint(s, "progress"), progress);
    assert_int_equal(get_uint(s, "total"), total);
    expect_null(s, "tls");
    assert_int_equal(get_uint(s, "recv_q"), 0); /* the server read everything */
    assert_int_equal(get_uint(s, "send_q"), 0);
    check_tcp(s);
    assert_true(get_uint(jget(s, "tcp"), "bytes_received") >= bytes_in);
}

/* A socket only the kernel has (no fd): every field of the server's is null. */
static const struct jval *check_kernel_only(const struct jval *l, int fd)
{
    struct addrtext local = end_of(fd, false), peer = end_of(fd, true);
    const struct jval *s = socket_with_peer(l, local.s);
    static const char *const absent[] = {"worker",   "fd",        "age_ms", "accepted_at",
                                         "bytes_in", "bytes_out", "phase",  "progress",
                                         "total",    "tls"};
    expect_str(s, "local", peer.s);
    for (size_t i = 0; i < WK_ARRAY_LEN(absent); i++)
        expect_null(s, absent[i]);
    get_uint(s, "recv_q");
    get_uint(s, "send_q");
    assert_int_equal(jget(s, "state")->type, J_STR);
    return s;
}

static bool state_is_one_of(const struct jval *s, const char *const *states, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (jstr_is(jget(s, "state"), states[i]))
            return true;
    }
    return false;
}

static void sleep_10ms(void)
{
    struct timespec ts = {.tv_sec = 0, .tv_nsec = 10 * 1000 * 1000};
    nanosleep(&ts, NULL);
}

static bool have_ipv6_loopback(void)
{
    struct sockaddr_in6 a = {.sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT};
    int fd = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
    bool ok = fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof a) == 0;
    if (fd >= 0)
        close(fd);
    return ok;
}

/* ---- tests ----------------------------------------------------------------------------------- */

/* Three clients of 127.0.0.1: one socket each, as the clients and the registry see them. */
static void test_ipv4_clients(void **state)
{
    struct fixture *f = *state;
    const char *addrs[] = {"127.0.0.1:0"};
    start(f, addrs, 1);
    int a = client_of(f, 0), b = client_of(f, 0), c = client_of(f, 0);
    assert_int_equal(write(a, "hello", 5), 5);
    run_until(f, 0, 3, 5);
    wk_conn_set_phase(conn_of(f, a), "reading", 5, 10);
    wk_conn_set_phase(conn_of(f, b), "idle", 0, 0);

    const struct jval *root = snapshot(f);
    check_server(f, root, 1);
    check_listener_text(f, 0, 0);
    const struct jval *l = listener_at(root, 0);
    char port[8];
    snprintf(port, sizeof port, "%u", wk_addr_port(&f->ts.srv.listeners[0].addr.u.sa));
    assert_int_equal(strncmp(f->ts.srv.listeners[0].name, "127.0.0.1:", 10), 0);
    assert_string_equal(f->ts.srv.listeners[0].name + 10, port);
    expect_str(l, "addr", f->ts.srv.listeners[0].name);
    assert_int_equal(get_int(l, "fd"), f->ts.srv.listeners[0].fd);
    expect_str(l, "service", SERVICE);
    expect_bool(l, "tls", false);
    expect_str(l, "state", "LISTEN");
    assert_int_equal(get_uint(l, "accepted"), 3);
    assert_int_equal(get_uint(l, "open"), 3);
    assert_int_equal(get_uint(l, "closed"), 0);
    assert_int_equal(held_count(l), 3);
    check_held(f, l, a, "reading", 5, 10, 5);
    check_held(f, l, b, "idle", 0, 0, 0);
    check_held(f, l, c, "new", 0, 0, 0);
    /*
     * Held sockets come first, oldest first: each one of the connections,
     * none twice, and no younger than the next (ties, accepted in the same
     * millisecond, in either order).
     */
    const struct jval *socks = jget(l, "sockets");
    bool seen[3] = {false, false, false};
    for (size_t i = 0; i < 3; i++) {
        int64_t fd = get_int(jat(socks, i), "fd");
        size_t k = 0;
        while (k < 3 && wk_conn_info(f->x.conns[k])->fd != fd)
            k++;
        assert_true(k < 3);
        assert_false(seen[k]);
        seen[k] = true;
        if (i > 0)
            assert_true(get_uint(jat(socks, i - 1), "age_ms") >= get_uint(jat(socks, i), "age_ms"));
    }
}

/* The server closes first: the socket stays with the kernel, without an fd, closing. */
static void test_server_closed_first(void **state)
{
    struct fixture *f = *state;
    const char *addrs[] = {"127.0.0.1:0"};
    start(f, addrs, 1);
    int a = client_of(f, 0), b = client_of(f, 0);
    run_until(f, 0, 2, 0);
    wk_conn_close(conn_of(f, a), "test");
    turn(f); /* the conn is freed before the loop sleeps */
    assert_int_equal(f->x.n, 1);

    static const char *const closing[] = {"FIN-WAIT-1", "FIN-WAIT-2", "TIME-WAIT", "CLOSING"};
    const struct jval *root = snapshot(f);
    check_server(f, root, 1);
    check_listener_text(f, 0, 0);
    const struct jval *l = listener_at(root, 0);
    assert_int_equal(get_uint(l, "accepted"), 2);
    assert_int_equal(get_uint(l, "open"), 1);
    assert_int_equal(get_uint(l, "closed"), 1);
    assert_int_equal(held_count(l), 1);
    check_held(f, l, b, "new", 0, 0, 0);
    const struct jval *s = check_kernel_only(l, a);
    if (!state_is_one_of(s, closing, WK_ARRAY_LEN(closing))) {
        print_error("state %.*s\n", (int)jget(s, "state")->n, jget(s, "state")->s);
        fail();
    }
    /* The held socket is listed before the kernel's own. */
    assert_true(jget(jat(jget(l, "sockets"), 0), "fd")->type == J_NUM);

    /* The client sees the FIN and closes too: the server's end waits in TIME-WAIT. */
    char byte;
    for (int i = 0; i < WAIT_STEPS && read(a, &byte, 1) != 0; i++)
        sleep_10ms();
    close(a);
    f->cl[0] = -1;
    bool time_wait = false;
    for (int i = 0; i < WAIT_STEPS && !time_wait; i++) {
        root = snapshot(f);
        l = listener_at(root, 0);
        for (const struct jval *k = jget(l, "sockets")->first; k != NULL; k = k->next) {
            if (jget(k, "fd")->type == J_NULL && jstr_is(jget(k, "state"), "TIME-WAIT")) {
                time_wait = true;
                expect_null(k, "tcp"); /* the kernel keeps no tcp_info for TIME-WAIT */
            }
        }
        if (!time_wait)
            sleep_10ms();
    }
    assert_true(time_wait);
    assert_int_equal(held_count(l), 1);
}

static bool peer_closed(struct wk_testsrv *ts, void *arg)
{
    const struct ctx *x = ts->srv.data;
    (void)arg;
    for (size_t i = 0; i < x->n; i++) {
        if (wk_conn_peer_closed(x->conns[i]))
            return true;
    }
    return false;
}

/* The client closes first and the server keeps its end: held, fd and all, in CLOSE-WAIT. */
static void test_client_closed_first(void **state)
{
    struct fixture *f = *state;
    const char *addrs[] = {"127.0.0.1:0"};
    start(f, addrs, 1);
    int a = client_of(f, 0);
    run_until(f, 0, 1, 0);
    struct wk_conn *c = conn_of(f, a);
    assert_int_equal(shutdown(a, SHUT_WR), 0);
    assert_true(wk_testsrv_run(&f->ts, peer_closed, NULL, STEP_MS));
    const struct jval *root = snapshot(f);
    const struct jval *l = listener_at(root, 0);
    const struct jval *s = socket_with_peer(l, end_of(a, false).s);
    expect_str(s, "state", "CLOSE-WAIT");
    assert_int_equal(get_int(s, "fd"), wk_conn_info(c)->fd);
    expect_str(s, "phase", "new");
    check_tcp(s);
    assert_int_equal(held_count(l), 1);
}

/* A client waits in the accept queue of a paused listener, then is accepted. */
static void test_accept_queue(void **state)
{
    struct fixture *f = *state;
    const char *addrs[] = {"127.0.0.1:0"};
    start(f, addrs, 1);
    turn(f); /* starts accepting */
    wk_listener_pause(&f->ts.srv.listeners[0]);
    int a = client_of(f, 0);
    turn(f); /* the loop runs, but does not accept */
    struct wk_registry r = sum_of(&f->ts.srv, 0);
    assert_int_equal(r.accepted - r.closed, 0);

    const struct jval *root = snapshot(f);
    check_server(f, root, 1);
    check_listener_text(f, 0, 1);
    const struct jval *l = listener_at(root, 0);
    assert_int_equal(get_uint(l, "accept_queue"), 1);
    assert_int_equal(get_uint(l, "backlog"), 16);
    assert_int_equal(get_uint(l, "accepted"), 0);
    assert_int_equal(held_count(l), 0);
    const struct jval *s = check_kernel_only(l, a);
    expect_str(s, "state", "ESTAB");
    check_tcp(s);

    wk_listener_resume(&f->ts.srv.listeners[0]);
    run_until(f, 0, 1, 0);
    root = snapshot(f);
    check_listener_text(f, 0, 0);
    l = listener_at(root, 0);
    assert_int_equal(get_uint(l, "accept_queue"), 0);
    assert_int_equal(held_count(l), 1);
    check_held(f, l, a, "new", 0, 0, 0);
}

/* A dual-stack [::] listener: IPv4 clients show as ::ffff:127.0.0.1 on both ends. */
static void test_dual_stack(void **state)
{
    struct fixture *f = *state;
    if (!have_ipv6_loopback())
        fail_msg("this host has no IPv6 loopback (::1): the test needs it");
    const char *addrs[] = {"[::]:0"};
    start(f, addrs, 1);
    const struct wk_listener *lis = &f->ts.srv.listeners[0];
    unsigned port = wk_addr_port(&lis->addr.u.sa);
    char name[64];
    snprintf(name, sizeof name, "[::]:%u", port);
    assert_string_equal(lis->name, name);
    int a = client_v4(f, 0), b = client_v4(f, 0), c = client_v6(f, 0);
    run_until(f, 0, 3, 0);

    const struct jval *root = snapshot(f);
    check_server(f, root, 1);
    check_listener_text(f, 0, 0);
    const struct jval *l = listener_at(root, 0);
    expect_str(l, "addr", name);
    assert_int_equal(held_count(l), 3);
    char local[64], peer[64];
    snprintf(local, sizeof local, "[::ffff:127.0.0.1]:%u", port);
    snprintf(peer, sizeof peer, "[::ffff:127.0.0.1]:%u",
             wk_addr_port(&wk_conn_info(conn_of(f, a))->peer.sa));
    const struct jval *s = socket_with_peer(l, peer);
    expect_str(s, "local", local);
    expect_str(s, "state", "ESTAB");
    assert_int_equal(get_int(s, "fd"), wk_conn_info(conn_of(f, a))->fd);
    check_tcp(s);
    /* The client's own view is plain IPv4 on the same port. */
    char v4[64];
    snprintf(v4, sizeof v4, "127.0.0.1:%u", port);
    assert_string_equal(end_of(a, true).s, v4);

    char v6local[64];
    snprintf(v6local, sizeof v6local, "[::1]:%u", port);
    s = socket_with_peer(l, end_of(c, false).s);
    expect_str(s, "local", v6local);
    assert_int_equal(get_int(s, "fd"), wk_conn_info(conn_of(f, c))->fd);

    /* The server closes b's connection: its mapped socket stays, without an fd. */
    snprintf(peer, sizeof peer, "[::ffff:127.0.0.1]:%u",
             wk_addr_port(&wk_conn_info(conn_of(f, b))->peer.sa));
    wk_conn_close(conn_of(f, b), "test");
    turn(f);
    root = snapshot(f);
    l = listener_at(root, 0);
    assert_int_equal(held_count(l), 2);
    s = socket_with_peer(l, peer);
    expect_str(s, "local", local);
    expect_null(s, "fd");
    static const char *const closing[] = {"FIN-WAIT-1", "FIN-WAIT-2", "TIME-WAIT", "CLOSING"};
    assert_true(state_is_one_of(s, closing, WK_ARRAY_LEN(closing)));
}

/* An AF_UNIX listener beside a TCP one: no kernel fields, the peer "unix". */
static void test_unix_listener(void **state)
{
    struct fixture *f = *state;
    snprintf(f->dir, sizeof f->dir, "/tmp/wk-sockview-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    char unix_addr[160];
    snprintf(unix_addr, sizeof unix_addr, "unix:%s/s.sock", f->dir);
    const char *addrs[] = {"127.0.0.1:0", unix_addr};
    start(f, addrs, 2);
    int a = client_of(f, 0), u = client_of(f, 1);
    run_until(f, 1, 1, 0);
    run_until(f, 0, 1, 0);

    const struct jval *root = snapshot(f);
    check_server(f, root, 2);
    check_listener_text(f, 0, 0);
    check_held(f, listener_at(root, 0), a, "new", 0, 0, 0);
    const struct jval *l = listener_at(root, 1);
    /* The unix connection is the one that is not a's. */
    const struct wk_conn_info *ui = NULL;
    char want[512];
    for (size_t i = 0; i < f->x.n; i++) {
        if (wk_conn_info(f->x.conns[i])->peer.sa.sa_family == AF_UNIX)
            ui = wk_conn_info(f->x.conns[i]);
    }
    assert_non_null(ui);
    snprintf(want, sizeof want,
             "{\"addr\":\"%s\",\"port\":0,\"fd\":%d,\"service\":\"" SERVICE "\",\"tls\":false,"
             "\"state\":null,\"accept_queue\":null,\"backlog\":null,\"accepted\":1,\"open\":1,"
             "\"closed\":0,\"sockets\":[{\"local\":null,\"peer\":\"unix\",\"state\":null,"
             "\"worker\":0,\"fd\":%d,\"age_ms\":",
             unix_addr, f->ts.srv.listeners[1].fd, ui->fd);
    if (!contains(f, want)) {
        print_error("no\n  %s\nin\n  %.*s\n", want, (int)wk_buf_len(&f->b), wk_buf_data(&f->b));
        fail();
    }
    const struct jval *s = jat(jget(l, "sockets"), 0);
    expect_keys(s, socket_keys, WK_ARRAY_LEN(socket_keys));
    assert_int_equal(jget(l, "sockets")->count, 1);
    expect_null(s, "recv_q");
    expect_null(s, "send_q");
    expect_null(s, "tcp");
    expect_str(s, "phase", "new");
    (void)u;
}

/* The loop's clock has moved past *arg (a uint64_t of milliseconds). */
static bool clock_past(struct wk_testsrv *ts, void *arg)
{
    return wk_loop_now(ts->srv.loop) > *(const uint64_t *)arg;
}

/* A connection of worker w, claimed in the scoreboard as common/conn.c claims one. */
static struct wk_conn_info *other_conn(struct fixture *f, unsigned w, int fd,
                                       const struct sockaddr *peer, socklen_t peerlen,
                                       uint64_t accepted_ms, const char *phase)
{
    struct wk_conn_info *info = wk_scoreboard_claim(f->ts.srv.board, w);
    assert_non_null(info);
    assert_int_equal(info->head.worker, w);
    info->listener = 0;
    info->fd = fd;
    assert_true(peerlen <= sizeof info->peer);
    memcpy(&info->peer, peer, peerlen);
    info->accepted_ms = accepted_ms;
    info->accepted_at = 1700000000;
    wk_registry_copy(info->phase, sizeof info->phase, phase);
    wk_scoreboard_write_end(info);
    return info;
}

/*
 * Two workers: this process is worker 0 and holds a's connection; worker 1
 * (entries claimed in its part of the scoreboard) holds b's, which waits in
 * the accept queue here, so the kernel has it, and one the kernel does not
 * know. Every worker's connections are listed, oldest first whatever their
 * worker, with "worker"; worker 1's fds mean nothing here and are never
 * asked; the counters are summed over the workers.
 */
static void test_two_workers(void **state)
{
    struct fixture *f = *state;
    f->workers = 2;
    const char *addrs[] = {"127.0.0.1:0"};
    start(f, addrs, 1);
    struct wk_scoreboard *sb = f->ts.srv.board;
    assert_int_equal(wk_scoreboard_workers(sb), WK_SUPERVISOR_MAX_IDS);
    assert_int_equal(f->ts.srv.worker, 0);
    int a = client_of(f, 0);
    run_until(f, 0, 1, 0);
    wk_listener_pause(&f->ts.srv.listeners[0]);
    int b = client_of(f, 0);
    const struct wk_conn_info *ai = wk_conn_info(conn_of(f, a));
    uint64_t accepted_ms = ai->accepted_ms;
    assert_true(wk_testsrv_run(&f->ts, clock_past, &accepted_ms, STEP_MS));
    assert_true(accepted_ms > 1000);

    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    assert_int_equal(getsockname(b, (struct sockaddr *)&ss, &len), 0);
    struct wk_conn_info *old =
        other_conn(f, 1, 42, (struct sockaddr *)&ss, len, ai->accepted_ms - 1000, "");
    wk_scoreboard_write_begin(old);
    old->progress = 7;
    old->total = 9;
    wk_registry_copy(old->phase, sizeof old->phase, "reading");
    wk_registry_copy(old->tls_version, sizeof old->tls_version, "TLSv1.3");
    wk_registry_copy(old->tls_cipher, sizeof old->tls_cipher, "TLS_AES_128_GCM_SHA256");
    old->tls_ktls = true;
    wk_scoreboard_write_end(old);
    wk_scoreboard_add(&old->bytes_in, 3);
    wk_scoreboard_add(&old->bytes_out, 4);
    /* Its fd is a's client here, a TCP socket whose address must not be taken for its own. */
    struct sockaddr_in nowhere = {.sin_family = AF_INET, .sin_port = htons(1)};
    nowhere.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    other_conn(f, 1, a, (struct sockaddr *)&nowhere, sizeof nowhere, ai->accepted_ms + 1, "idle");
    /* Worker 1's counters: five accepted, three closed since; two open. */
    struct wk_registry *r1 = wk_scoreboard_counters(sb, 1, 0);
    assert_non_null(r1);
    wk_scoreboard_set(&r1->accepted, 5);
    wk_scoreboard_set(&r1->closed, 3);

    const struct jval *root = snapshot(f);
    check_server(f, root, 1);
    check_listener_text(f, 0, 1);
    const struct jval *l = listener_at(root, 0);
    assert_int_equal(get_uint(l, "accept_queue"), 1);
    assert_int_equal(get_uint(l, "accepted"), 6);
    assert_int_equal(get_uint(l, "open"), 3);
    assert_int_equal(get_uint(l, "closed"), 3);
    const struct jval *socks = jget(l, "sockets");
    assert_int_equal(socks->count, 3); /* b's kernel socket is worker 1's connection */
    assert_int_equal(held_count(l), 3);
    for (size_t i = 0; i < 3; i++)
        expect_keys(jat(socks, i), socket_keys, WK_ARRAY_LEN(socket_keys));

    /* Oldest: worker 1's b, joined with its kernel socket by the 4-tuple. */
    const struct jval *s = jat(socks, 0);
    assert_ptr_equal(s, socket_with_peer(l, end_of(b, false).s));
    expect_str(s, "local", end_of(b, true).s);
    expect_str(s, "state", "ESTAB");
    assert_int_equal(get_uint(s, "worker"), 1);
    assert_int_equal(get_int(s, "fd"), 42);
    assert_true(get_uint(s, "age_ms") >= 1000 && get_uint(s, "age_ms") < 60000);
    assert_int_equal(get_int(s, "accepted_at"), 1700000000);
    assert_int_equal(get_uint(s, "bytes_in"), 3);
    assert_int_equal(get_uint(s, "bytes_out"), 4);
    expect_str(s, "phase", "reading");
    assert_int_equal(get_uint(s, "progress"), 7);
    assert_int_equal(get_uint(s, "total"), 9);
    const struct jval *tls = jget(s, "tls");
    static const char *const tls_keys[] = {"version", "cipher", "ktls"};
    expect_keys(tls, tls_keys, WK_ARRAY_LEN(tls_keys));
    expect_str(tls, "version", "TLSv1.3");
    expect_str(tls, "cipher", "TLS_AES_128_GCM_SHA256");
    expect_bool(tls, "ktls", true);
    check_tcp(s);

    /* Then this process's a, worker 0. */
    check_held(f, l, a, "new", 0, 0, 0);
    assert_ptr_equal(jat(socks, 1), socket_with_peer(l, end_of(a, false).s));

    /* Youngest: worker 1's connection the kernel does not have. */
    char want[512];
    snprintf(want, sizeof want,
             "{\"local\":null,\"peer\":\"127.0.0.1:1\",\"state\":null,\"worker\":1,\"fd\":%d,"
             "\"age_ms\":",
             a);
    if (!contains(f, want)) {
        print_error("no\n  %s\nin\n  %.*s\n", want, (int)wk_buf_len(&f->b), wk_buf_data(&f->b));
        fail();
    }
    s = jat(socks, 2);
    assert_ptr_equal(s, socket_with_peer(l, "127.0.0.1:1"));
    assert_true(get_uint(s, "age_ms") < 60000);
    expect_str(s, "phase", "idle");
    expect_null(s, "tls");
    expect_null(s, "recv_q");
    expect_null(s, "send_q");
    expect_null(s, "tcp");

    /* The kernel cannot be asked: worker 1's local addresses are unknown here, a's is not. */
    netlink_fails = true;
    root = snapshot(f);
    l = listener_at(root, 0);
    socks = jget(l, "sockets");
    assert_int_equal(socks->count, 3);
    s = jat(socks, 0);
    expect_null(s, "local");
    expect_null(s, "state");
    assert_int_equal(get_uint(s, "worker"), 1);
    s = jat(socks, 1);
    expect_str(s, "local", end_of(a, true).s);
    assert_int_equal(get_uint(s, "worker"), 0);
    s = jat(socks, 2);
    expect_null(s, "local");
    assert_int_equal(get_uint(s, "worker"), 1);

    /* Worker 1 closes its old one: gone from the view, the counters as it counts them. */
    wk_scoreboard_add(&r1->closed, 1);
    wk_scoreboard_release(sb, old);
    netlink_fails = false;
    root = snapshot(f);
    l = listener_at(root, 0);
    assert_int_equal(get_uint(l, "open"), 2);
    assert_int_equal(get_uint(l, "closed"), 4);
    socks = jget(l, "sockets");
    assert_int_equal(held_count(l), 2);
    assert_int_equal(get_uint(jat(socks, 0), "worker"), 0);
    assert_int_equal(get_uint(jat(socks, 1), "worker"), 1);
    check_kernel_only(l, b); /* b waits in the accept queue again, as far as anyone knows */
}

/* The kernel cannot be asked: the registry alone, its kernel fields null, and why. */
static void test_kernel_unavailable(void **state)
{
    struct fixture *f = *state;
    const char *addrs[] = {"127.0.0.1:0"};
    start(f, addrs, 1);
    int a = client_of(f, 0);
    run_until(f, 0, 1, 0);
    netlink_fails = true;
    struct wk_json j;
    wk_json_init(&j, &f->b);
    wk_sockview_server(&j, &f->ts.srv, "httpd");
    assert_int_equal(wk_json_end(&j), 0);
    const struct jval *root = jparse(&f->doc, wk_buf_data(&f->b), wk_buf_len(&f->b));
    expect_keys(root, server_keys, WK_ARRAY_LEN(server_keys));
    expect_str(root, "kernel_error", "sock_diag: netlink socket: Permission denied");
    expect_null(root, "error");
    expect_bool(root, "running", true);
    const struct jval *l = listener_at(root, 0);
    expect_null(l, "state");
    expect_null(l, "accept_queue");
    expect_null(l, "backlog");
    assert_int_equal(get_uint(l, "open"), 1);
    struct addrtext local = end_of(a, false), peer = end_of(a, true);
    const struct jval *s = socket_with_peer(l, local.s);
    expect_str(s, "local", peer.s); /* from getsockname() of the server's fd */
    expect_null(s, "state");
    assert_int_equal(get_int(s, "fd"), wk_conn_info(conn_of(f, a))->fd);
    expect_null(s, "recv_q");
    expect_null(s, "send_q");
    expect_null(s, "tcp");
    assert_int_equal(jget(l, "sockets")->count, 1);
}

static void expect_absent(const char *name, const char *why, const char *want)
{
    struct wk_buf b;
    struct wk_json j;
    wk_buf_init(&b, DOC_MAX);
    wk_json_init(&j, &b);
    wk_sockview_absent(&j, name, why);
    assert_int_equal(wk_json_end(&j), 0);
    assert_int_equal(wk_buf_len(&b), strlen(want));
    assert_memory_equal(wk_buf_data(&b), want, strlen(want));
    /* Every buffer shorter than the object: -ENOBUFS, and never more than the buffer. */
    for (size_t max = 0; max < strlen(want); max++) {
        struct wk_buf small;
        wk_buf_init(&small, max);
        wk_json_init(&j, &small);
        wk_sockview_absent(&j, name, why);
        assert_int_equal(wk_json_end(&j), -ENOBUFS);
        assert_true(wk_buf_len(&small) <= max);
        wk_buf_fini(&small);
    }
    wk_buf_fini(&b);
}

static void test_absent(void **state)
{
    (void)state;
    expect_absent("smtpd", "not shown (httpd runs with --smtpd-status off)",
                  "{\"name\":\"smtpd\",\"running\":false,"
                  "\"error\":\"not shown (httpd runs with --smtpd-status off)\",\"listeners\":[]}");
    expect_absent("smtpd", "connect \"/run/x.sock\":\n\tNo such file or directory \\ \x01",
                  "{\"name\":\"smtpd\",\"running\":false,"
                  "\"error\":\"connect \\\"/run/x.sock\\\":\\n\\tNo such file or directory "
                  "\\\\ \\u0001\",\"listeners\":[]}");
    expect_absent("smtpd", NULL,
                  "{\"name\":\"smtpd\",\"running\":false,\"error\":null,"
                  "\"listeners\":[]}");
}

/* Two servers in one array, as /-/sockets.json has them: the commas in their places. */
static void test_servers_array(void **state)
{
    struct fixture *f = *state;
    const char *addrs[] = {"127.0.0.1:0"};
    start(f, addrs, 1);
    int a = client_of(f, 0);
    run_until(f, 0, 1, 0);
    struct wk_json j;
    wk_json_init(&j, &f->b);
    wk_json_object(&j);
    wk_json_key(&j, "servers");
    wk_json_array(&j);
    wk_sockview_server(&j, &f->ts.srv, "httpd");
    wk_sockview_absent(&j, "smtpd", "down");
    wk_json_close(&j);
    wk_json_close(&j);
    assert_int_equal(wk_json_end(&j), 0);
    const struct jval *root = jparse(&f->doc, wk_buf_data(&f->b), wk_buf_len(&f->b));
    const struct jval *servers = jget(root, "servers");
    assert_int_equal(servers->count, 2);
    expect_keys(jat(servers, 0), server_keys, WK_ARRAY_LEN(server_keys));
    expect_str(jat(servers, 1), "error", "down");
    const struct jval *l = listener_at(jat(servers, 0), 0);
    check_held(f, l, a, "new", 0, 0, 0);
}

/* Buffers too small for the document: wk_json_end() says -ENOBUFS, and nothing overflows. */
static void test_small_buffers(void **state)
{
    struct fixture *f = *state;
    const char *addrs[] = {"127.0.0.1:0"};
    start(f, addrs, 1);
    client_of(f, 0);
    client_of(f, 0);
    run_until(f, 0, 2, 0);
    snapshot(f);
    size_t whole = wk_buf_len(&f->b);
    assert_true(whole > 200);
    /* Fields that move (age, round-trip times) may change the length by a few bytes. */
    for (size_t max = 0; max + 64 < whole; max++) {
        struct wk_buf b;
        struct wk_json j;
        wk_buf_init(&b, max);
        wk_json_init(&j, &b);
        wk_sockview_server(&j, &f->ts.srv, "httpd");
        if (wk_json_end(&j) != -ENOBUFS) {
            print_error("max=%zu: %d\n", max, wk_json_end(&j));
            fail();
        }
        assert_true(wk_buf_len(&b) <= max);
        wk_buf_fini(&b);
    }
    /* A big enough one, after all that: whole. */
    snapshot(f);
}

int main(void)
{
    wk_log_init("test", WK_LOG_WARN);
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parser_refuses),
        T(test_ipv4_clients),
        T(test_server_closed_first),
        T(test_client_closed_first),
        T(test_accept_queue),
        T(test_dual_stack),
        T(test_unix_listener),
        T(test_two_workers),
        T(test_kernel_unavailable),
        cmocka_unit_test(test_absent),
        T(test_servers_array),
        T(test_small_buffers),
    };
#undef T
    return cmocka_run_group_tests(tests, NULL, NULL);
}
