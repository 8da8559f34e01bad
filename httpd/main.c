/*
 * main.c: wellknown-httpd's options, startup, reload and shutdown. Owns the
 * configuration and what is made from it (struct http_state): one at the
 * start, and a new one on each SIGHUP, which a new generation of workers
 * then serves.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/config.h"
#include "common/log.h"
#include "common/privdrop.h"
#include "common/probe.h"
#include "common/status.h"
#include "common/supervisor.h"
#include "common/server.h"
#include "common/tls.h"
#include "httpd/accesslog.h"
#include "httpd/dashboard.h"
#include "httpd/conn.h"
#include "httpd/filecache.h"
#include "httpd/httpd.h"

#define SECOND 1000ull
/* Open files kept, and for how long before they are checked again. */
#define FILECACHE_SLOTS  1024
#define FILECACHE_TTL_MS 1000

/* The demo site: beside an installed binary, else in the source tree. */
static const char *default_root(char *buf, size_t cap)
{
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n > 0) {
        exe[n] = '\0';
        char *slash = strrchr(exe, '/');
        if (slash) {
            *slash = '\0';
            int m = snprintf(buf, cap, "%s/../share/wellknown/www", exe);
            struct stat st;
            if (m > 0 && (size_t)m < cap && stat(buf, &st) == 0 && S_ISDIR(st.st_mode))
                return buf;
        }
    }
    struct stat st;
    if (stat(WK_WWW_SOURCE, &st) == 0 && S_ISDIR(st.st_mode))
        return WK_WWW_SOURCE;
    return WK_WWW_INSTALLED;
}

static int open_root(const char *root, char err[WK_ERR_LEN])
{
    int fd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        snprintf(err, WK_ERR_LEN, "--root %s: %s", root, strerror(errno));
    return fd < 0 ? -errno : fd;
}

static void server_config(const struct http_config *cfg, struct wk_server_config *sc)
{
    wk_server_config_defaults(sc);
    sc->backlog = (int)cfg->backlog;
    sc->max_conns = cfg->max_connections;
    /* Room for the longest head allowed plus a read's worth of what follows it. */
    sc->in_max = cfg->max_request_line + cfg->max_header_size + 16 * 1024;
    sc->send_timeout_ms = cfg->send_timeout;
    sc->shutdown_timeout_ms = cfg->shutdown_timeout;
    sc->handshake_timeout_ms = cfg->tls.handshake_timeout;
    sc->defer_accept_s = 1; /* HTTP clients speak first */
    sc->workers = cfg->workers ? (unsigned)cfg->workers : wk_supervisor_default_workers();
    sc->listen_default = cfg->listen.n == 0; /* then inherited sockets replace [::]:80 */
}

/* What HTTPS offers in ALPN. */
static const char *const http_alpn[] = {"http/1.1"};

/*
 * The TLS context (NULL when TLS is off) and the addresses HTTPS listens on.
 * A self-signed certificate is made once: a reload keeps the one before (was).
 */
static int setup_tls(const struct http_config *cfg, struct wk_tls *was, struct wk_tls **tls,
                     struct wk_strlist *secure, char err[WK_ERR_LEN])
{
    static char *default_tls_listen[] = {"[::]:443"};
    int rc = 0;
    if (was != NULL && cfg->tls.self_signed)
        *tls = wk_tls_ref(was);
    else
        rc = wk_tls_setup(&cfg->tls, http_alpn, 1, tls, err);
    *secure = cfg->tls_listen;
    if (rc == 0 && *tls == NULL && secure->n > 0) {
        snprintf(err, WK_ERR_LEN, "--tls-listen needs --cert and --key, or --self-signed");
        rc = -EINVAL;
    }
    if (rc == 0 && *tls != NULL && secure->n == 0)
        *secure = (struct wk_strlist){default_tls_listen, 1};
    return rc;
}

/* Who may see /-/: the private ranges, or the networks given. */
static int dashboard_config(const struct http_config *cfg, struct http_dashboard_config *dc,
                            char err[WK_ERR_LEN])
{
    dc->smtpd_status = strcmp(cfg->smtpd_status, "off") == 0 ? NULL : cfg->smtpd_status;
    if (cfg->dashboard_allow.n == 0) {
        wk_cidr_list_private(&dc->allow);
        return 0;
    }
    wk_cidr_list_init(&dc->allow);
    for (size_t i = 0; i < cfg->dashboard_allow.n; i++) {
        const char *v = cfg->dashboard_allow.v[i];
        int rc = wk_cidr_list_parse(&dc->allow, v, strlen(v), err);
        if (rc < 0)
            return rc;
    }
    return 0;
}

/* One reading of the configuration, and what is made from it for the workers to serve. */
struct http_state {
    struct wk_server_state base; /* what the server needs of it */
    struct http_config cfg;
    struct wk_option opts[28];
    char rootbuf[PATH_MAX];
    const char *probe;
    struct wk_strlist listen, secure; /* the addresses, defaults filled in */
    struct http_server hs;
    struct http_dashboard_config dc;
};

/* A state with the defaults and the option table that writes into it; NULL when out of memory. */
static struct http_state *state_new(void)
{
    struct http_state *st = calloc(1, sizeof *st);
    if (st == NULL)
        return NULL;
    struct http_config *cfg = &st->cfg;
    *cfg = (struct http_config){
        .root = default_root(st->rootbuf, sizeof st->rootbuf),
        .access_log = "-",
        .log_level = "info",
        .max_size = 1024 * 1024,
        .max_request_line = 8 * 1024,
        .max_header_size = 16 * 1024,
        .max_headers = 100,
        .max_connections = 10000,
        .backlog = 511,
        .idle_timeout = 60 * SECOND,
        .header_timeout = 10 * SECOND,
        .body_timeout = 30 * SECOND,
        .send_timeout = 30 * SECOND,
        .shutdown_timeout = 10 * SECOND,
        .tls.handshake_timeout = 10 * SECOND,
        .status_socket = "./var/run/wellknown-httpd.sock",
        .workers = 0, /* one per CPU */
        .smtpd_status = "./var/run/wellknown-smtpd.sock",
    };
    const struct wk_option opts[] = {
        {"listen", WK_OPT_LIST, &cfg->listen, "ADDR",
         "listen on ADDR, repeatable (default: [::]:80)", 0, 0, false},
        {"tls-listen", WK_OPT_LIST, &cfg->tls_listen, "ADDR",
         "serve HTTPS on ADDR, repeatable (default: [::]:443 when TLS is on)", 0, 0, false},
        {"root", WK_OPT_STRING, &cfg->root, "DIR", "serve files from DIR", 0, 0, false},
        {"access-log", WK_OPT_STRING, &cfg->access_log, "FILE",
         "access log: a file, - (stdout) or off", 0, 0, false},
        {"max-size", WK_OPT_SIZE, &cfg->max_size, "BYTES", "largest request body (413 beyond)", 0,
         0, false},
        {"max-request-line", WK_OPT_SIZE, &cfg->max_request_line, "BYTES",
         "longest request line (414 beyond)", 64, 1 << 20, false},
        {"max-header-size", WK_OPT_SIZE, &cfg->max_header_size, "BYTES",
         "largest header block (431 beyond)", 256, 1 << 20, false},
        {"max-headers", WK_OPT_UINT, &cfg->max_headers, "N",
         "most header fields in a request (431 beyond)", 1, 10000, false},
        {"max-connections", WK_OPT_UINT, &cfg->max_connections, "N",
         "open connections before accepting pauses", 1, 10000000, false},
        {"backlog", WK_OPT_UINT, &cfg->backlog, "N", "listen backlog", 1, 65535, false},
        {"idle-timeout", WK_OPT_DURATION, &cfg->idle_timeout, "DUR",
         "close a keep-alive connection idle this long", 1, 0, false},
        {"header-timeout", WK_OPT_DURATION, &cfg->header_timeout, "DUR",
         "time to send a whole request head (408 beyond)", 1, 0, false},
        {"body-timeout", WK_OPT_DURATION, &cfg->body_timeout, "DUR",
         "longest pause while sending a body", 1, 0, false},
        {"send-timeout", WK_OPT_DURATION, &cfg->send_timeout, "DUR",
         "longest pause of a client reading a response", 1, 0, false},
        {"shutdown-timeout", WK_OPT_DURATION, &cfg->shutdown_timeout, "DUR",
         "on SIGTERM, time given to responses in flight (and old workers on SIGHUP)", 0, 0, false},
        WK_TLS_OPTIONS(&cfg->tls),
        {"dashboard-allow", WK_OPT_LIST, &cfg->dashboard_allow, "CIDR",
         "who may see /-/, repeatable (default: loopback and private networks)", 0, 0, false},
        {"no-dashboard", WK_OPT_FLAG, &cfg->no_dashboard, NULL,
         "no routes under /-/ (they are files like any other)", 0, 0, false},
        {"probe", WK_OPT_STRING, &st->probe, "ADDR",
         "health check: ask the server at ADDR for /-/healthy and exit 0 if healthy", 0, 0,
         WK_OPT_ARGV_ONLY},
        {"workers", WK_OPT_UINT, &cfg->workers, "N",
         "worker processes, each accepting and serving; 0: one per CPU", 0,
         WK_SUPERVISOR_MAX_WORKERS, false},
        {"user", WK_OPT_STRING, &cfg->user, "NAME",
         "after binding and reading keys as root, run as NAME", 0, 0, false},
        {"status-socket", WK_OPT_STRING, &cfg->status_socket, "PATH",
         "answer the socket view and metrics on this local socket, or off", 0, 0, false},
        {"smtpd-status", WK_OPT_STRING, &cfg->smtpd_status, "PATH",
         "smtpd's status socket, for its part of the socket view, or off", 0, 0, false},
        {"log-level", WK_OPT_STRING, &cfg->log_level, "LEVEL", "error, warn, info or debug", 0, 0,
         false},
    };
    _Static_assert(WK_ARRAY_LEN(opts) == WK_ARRAY_LEN(st->opts), "the option table's size");
    memcpy(st->opts, opts, sizeof opts);
    st->hs = (struct http_server){.cfg = cfg, .root_fd = -1};
    return st;
}

static void state_release(struct wk_server_state *base);

/*
 * Makes what the configuration asks for: the TLS context (keeping was's
 * self-signed one), the listen addresses, who may see the dashboard, the
 * docroot; and unless check_only, the file cache and the access log.
 */
static int state_make(struct http_state *st, struct wk_tls *was, bool check_only,
                      char err[WK_ERR_LEN])
{
    static char *default_listen[] = {"[::]:80"};
    struct http_config *cfg = &st->cfg;
    struct http_server *hs = &st->hs;
    st->listen = cfg->listen.n ? cfg->listen : (struct wk_strlist){default_listen, 1};
    int rc = setup_tls(cfg, was, &hs->tls, &st->secure, err);
    if (rc == 0)
        rc = dashboard_config(cfg, &st->dc, err);
    hs->dash_cfg = &st->dc;
    if (rc == 0) {
        struct wk_addr *addrs = NULL; /* checked here; bound later, at the start */
        rc = wk_addr_parse_all(st->listen.v, st->listen.n, &addrs, err);
        free(addrs);
        addrs = NULL;
        if (rc == 0)
            rc = wk_addr_parse_all(st->secure.v, st->secure.n, &addrs, err);
        free(addrs);
    }
    if (rc == 0)
        rc = hs->root_fd = open_root(cfg->root, err);
    if (rc < 0 || check_only)
        return rc < 0 ? rc : 0;
    if ((hs->files = http_filecache_new(hs->root_fd, FILECACHE_SLOTS, FILECACHE_TTL_MS)) == NULL) {
        snprintf(err, WK_ERR_LEN, "file cache: out of memory");
        return -ENOMEM;
    }
    server_config(cfg, &st->base.cfg);
    st->base.data = hs;
    st->base.free = state_release;
    st->base.tls = hs->tls;
    return http_accesslog_open(cfg->access_log, NULL, &hs->alog, err);
}

/* Frees st and what was made from it (open connections keep their TLS context). */
static void state_free(struct http_state *st)
{
    if (st == NULL)
        return;
    http_accesslog_close(st->hs.alog);
    http_filecache_free(st->hs.files);
    wk_tls_free(st->hs.tls);
    if (st->hs.root_fd >= 0)
        close(st->hs.root_fd);
    wk_config_free(st->opts, WK_ARRAY_LEN(st->opts));
    free(st);
}

static void state_release(struct wk_server_state *base)
{
    state_free((struct http_state *)base); /* base is its first member */
}

/* What the parent keeps for the workers and for reloads. */
struct http_main {
    struct http_state *st; /* what the current generation of workers serves */
    int argc;
    char **argv;
    struct wk_status *status; /* the parent's: a worker lets go of its copy */
};

/* The parent's part: names for the socket view, and httpd's status socket. */
static int open_status(struct http_main *m, struct wk_server *srv, struct wk_status_server *self,
                       char err[WK_ERR_LEN])
{
    const struct http_config *cfg = &m->st->cfg;
    for (size_t i = 0; i < srv->nlisteners; i++)
        srv->listeners[i].service = srv->listeners[i].tls ? "https" : "http";
    if (strcmp(cfg->status_socket, "off") == 0)
        return 0;
    *self = (struct wk_status_server){srv, "httpd", http_dashboard_metrics, srv};
    int rc = wk_status_open(srv->loop, cfg->status_socket, wk_status_server_answer, self,
                            &m->status, err);
    if (rc == 0)
        wk_log(WK_LOG_INFO, "status path=%s", cfg->status_socket);
    return rc;
}

/* SIGUSR1: the access log file was moved away (rotated): write to a new one. */
static void reopen_logs(struct wk_loop *loop, int signo, void *arg)
{
    (void)loop, (void)signo;
    struct http_server *hs = arg;
    char err[WK_ERR_LEN];
    if (http_accesslog_reopen(hs->alog, err) < 0)
        wk_log(WK_LOG_ERROR, "reopen error=\"%s\"", err);
    else
        wk_log(WK_LOG_INFO, "reopen access-log=%s", hs->cfg->access_log);
}

/*
 * --user: what must stay the server's after it stops being root (the log
 * file, the status socket), then the switch itself.
 */
static int become_user(struct http_main *m, const struct wk_user *user, char err[WK_ERR_LEN])
{
    int rc = http_accesslog_chown(m->st->hs.alog, user->uid, user->gid, err);
    if (rc == 0 && m->status != NULL)
        rc = wk_status_chown(m->status, user->uid, user->gid, err);
    if (rc == 0)
        rc = wk_privdrop(user, err);
    return rc;
}

/* In each worker: its own loop's parts (the access log's writes, the dashboard, SIGUSR1). */
static int http_worker(struct wk_server *srv, unsigned worker, void *arg, char err[WK_ERR_LEN])
{
    (void)worker; /* its counters are found through srv */
    struct http_main *m = arg;
    struct http_server *hs = srv->data; /* the state this generation was forked with */
    wk_status_forget(m->status);
    m->status = NULL;
    int rc = http_accesslog_attach(hs->alog, srv->loop);
    if (rc == 0 && !hs->cfg->no_dashboard &&
        (rc = http_dashboard_new(srv, hs->dash_cfg, &hs->dash)) < 0)
        snprintf(err, WK_ERR_LEN, "dashboard: out of memory");
    if (rc == 0)
        rc = wk_loop_signal(srv->loop, SIGUSR1, reopen_logs, hs);
    if (rc < 0 && err[0] == '\0')
        snprintf(err, WK_ERR_LEN, "worker setup: %s", strerror(-rc));
    return rc;
}

/* What only a restart changes. */
static void fixed_of(const struct http_state *st, struct wk_config_fixed *f)
{
    *f = (struct wk_config_fixed){
        {"listen", "tls-listen"}, {&st->listen, &st->secure}, 2, st->hs.tls != NULL, st->cfg.user,
        st->cfg.status_socket};
}

/* The configuration read and made again, for a reload: 0, or -errno with a message in err. */
static int state_remake(struct http_state *now, const struct http_main *m, char err[WK_ERR_LEN])
{
    const struct http_state *was = m->st;
    struct wk_config_fixed a, b;
    int rc = wk_config_reread(now->opts, WK_ARRAY_LEN(now->opts), m->argc, m->argv,
                              &now->base.log_level, err);
    if (rc == 0)
        rc = state_make(now, was->cfg.tls.self_signed ? was->hs.tls : NULL, false, err);
    fixed_of(was, &a);
    fixed_of(now, &b);
    return rc == 0 ? wk_config_keep_fixed(&a, &b, err) : rc;
}

/*
 * SIGHUP, in the parent: the configuration is read and made again, then a
 * new generation of workers serves it and the old one retires. Anything
 * wrong leaves everything as it was.
 */
static int reload(struct wk_server *srv, void *arg, char err[WK_ERR_LEN])
{
    struct http_main *m = arg;
    struct http_state *now = state_new();
    int rc = now ? state_remake(now, m, err) : -ENOMEM;
    if (rc < 0) {
        state_free(now);
        return rc;
    }
    rc = wk_server_renew(srv, &m->st->base, &now->base, err); /* frees the one it drops */
    if (rc < 0)
        return rc;
    m->st = now;
    wk_log(WK_LOG_INFO, "reload config=new root=%s workers=%u", now->cfg.root,
           now->base.cfg.workers);
    return 0;
}

static int run(struct http_main *m, bool check_only, char err[WK_ERR_LEN])
{
    struct wk_user user;
    struct wk_status_server self;
    struct wk_server srv = {0};
    struct wk_server_config sc;
    const struct http_config *cfg = &m->st->cfg;
    int rc = cfg->user ? wk_user_lookup(cfg->user, &user, err) : 0;
    if (rc == 0)
        rc = state_make(m->st, NULL, check_only, err);
    if (rc < 0 || check_only)
        goto out;
    sc = m->st->base.cfg;
    rc = wk_server_init(&srv, &sc, &http_conn_ops, &m->st->hs, err);
    if (rc == 0) /* before the listen lines: a SIGHUP from then on reloads, never kills */
        rc = wk_server_on_reload(&srv, reload, m);
    if (rc == 0)
        rc = wk_server_listen_text(&srv, m->st->listen.v, m->st->listen.n, m->st->secure.v,
                                   m->st->secure.n, m->st->hs.tls, err);
    if (rc == 0)
        rc = open_status(m, &srv, &self, err);
    if (rc == 0 && cfg->user)
        rc = become_user(m, &user, err);
    if (rc < 0)
        goto out;
    wk_log(WK_LOG_INFO, "start pid=%d root=%s workers=%u version=%s", (int)getpid(), cfg->root,
           sc.workers, WK_VERSION);
    rc = wk_server_run_workers(&srv, sc.workers, http_worker, NULL, m, err);
    wk_log(WK_LOG_INFO, "exit status=%d", rc < 0 ? 1 : 0);
out:
    wk_status_close(m->status);
    wk_server_fini(&srv); /* before the state: its connections hold the TLS context */
    return rc;
}

int main(int argc, char **argv)
{
    char err[WK_ERR_LEN] = "";
    static const struct wk_program prog = {
        "wellknown-httpd", "httpd", "A static HTTP/1.1 server that shows the sockets it accepts."};
    struct http_main m = {.st = state_new(), .argc = argc, .argv = argv};
    if (m.st == NULL) {
        fprintf(stderr, "%s: out of memory\n", prog.name);
        return 1;
    }
    struct wk_option *opts = m.st->opts;
    size_t nopts = WK_ARRAY_LEN(m.st->opts);
    enum wk_config_action action;
    int status, rc;
    if (wk_config_start(&prog, opts, nopts, argc, argv, &action, &status)) {
        state_free(m.st);
        return status;
    }
    if (m.st->probe != NULL) { /* a health check of a running server, not a server */
        static const struct wk_probe healthy = {
            "GET /-/healthy HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
            "HTTP/1.1 200 ", NULL};
        rc = wk_probe_run(m.st->probe, &healthy, 5000, err);
    } else {
        rc = run(&m, action == WK_CONFIG_CHECK, err);
    }
    /* A reload may have replaced the state. */
    status = wk_config_finish(&prog, m.st->opts, nopts, action, rc, err);
    state_free(m.st);
    return status;
}
