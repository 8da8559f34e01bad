/*
 * main.c: wellknown-smtpd's options, startup, reload and shutdown. Owns the
 * configuration and what is made from it (struct smtp_state): one at the
 * start, and a new one on each SIGHUP, which a new generation of workers
 * then serves; and the per-client table, which all generations share.
 */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <sys/stat.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/config.h"
#include "common/log.h"
#include "common/metrics.h"
#include "common/privdrop.h"
#include "common/probe.h"
#include "common/server.h"
#include "common/status.h"
#include "common/supervisor.h"
#include "common/tls.h"
#include "smtpd/clients.h"
#include "smtpd/maildir.h"
#include "smtpd/session.h"
#include "smtpd/smtpd.h"

#define SECOND 1000ull
#define MINUTE (60 * SECOND)

static void server_config(const struct smtp_config *cfg, struct wk_server_config *sc)
{
    wk_server_config_defaults(sc);
    sc->backlog = (int)cfg->backlog;
    sc->max_conns = cfg->max_connections;
    sc->shutdown_timeout_ms = cfg->shutdown_timeout;
    sc->send_timeout_ms = cfg->command_timeout;
    /* Pipelined commands, or a DATA chunk: bounded, and read again once consumed. */
    sc->in_max = 64 * 1024;
    sc->handshake_timeout_ms = cfg->tls.handshake_timeout;
    sc->out_max = 256 * 1024;
    sc->workers = cfg->workers ? (unsigned)cfg->workers : wk_supervisor_default_workers();
    sc->listen_default = cfg->listen.n == 0; /* then inherited sockets replace [::]:25 */
}

/* The default that depends on the host: its name. */
static int host_default(struct smtp_config *cfg, char *host, size_t cap, char err[WK_ERR_LEN])
{
    if (cfg->hostname == NULL) {
        if (gethostname(host, cap - 1) < 0) {
            snprintf(err, WK_ERR_LEN, "gethostname: %s (use --hostname)", strerror(errno));
            return -errno;
        }
        host[cap - 1] = '\0';
        cfg->hostname = host;
    }
    return 0;
}

/*
 * --check changes nothing: the mail store, or the nearest directory above
 * it that exists (where it would be created), must be a writable directory.
 */
static int check_maildir(const char *path, char err[WK_ERR_LEN])
{
    char dir[PATH_MAX];
    int n = snprintf(dir, sizeof dir, "%s", path);
    if (n < 0 || (size_t)n >= sizeof dir) {
        snprintf(err, WK_ERR_LEN, "--maildir: the path is too long");
        return -ENAMETOOLONG;
    }
    for (;;) {
        struct stat st;
        if (stat(dir, &st) == 0) {
            if (S_ISDIR(st.st_mode) && access(dir, W_OK | X_OK) == 0)
                return 0;
            snprintf(err, WK_ERR_LEN, "--maildir %.200s: %.200s is not a writable directory", path,
                     dir);
            return -EACCES;
        }
        char *slash = strrchr(dir, '/');
        if (strcmp(dir, ".") == 0 || strcmp(dir, "/") == 0) {
            snprintf(err, WK_ERR_LEN, "--maildir %.200s: %s", path, strerror(errno));
            return -ENOENT;
        }
        if (slash == NULL) {
            snprintf(dir, sizeof dir, ".");
            continue;
        }
        if (slash == dir)
            slash[1] = '\0';
        else
            *slash = '\0';
    }
}

/* smtpd's own metric families, after the common ones. */
static void smtp_metrics(struct wk_metrics *b, void *arg)
{
    const struct wk_server *srv = arg;
    struct smtp_stats sum;
    uint64_t *v = (uint64_t *)&sum;
    for (unsigned i = 0; i < sizeof sum / sizeof *v; i++)
        v[i] = wk_server_counter_sum(srv, i);
    const struct smtp_stats *st = &sum;
    wk_metrics_family(b, "smtpd", "messages_total", "counter", "Messages by the outcome of DATA.");
    wk_metrics_sample(b, "smtpd", "messages_total", "result", "delivered", st->delivered);
    wk_metrics_sample(b, "smtpd", "messages_total", "result", "refused", st->refused);
    wk_metrics_sample(b, "smtpd", "messages_total", "result", "failed", st->failed);
    wk_metrics_sample(b, "smtpd", "messages_total", "result", "aborted", st->aborted);
    wk_metrics_family(b, "smtpd", "delivered_recipients_total", "counter",
                      "Mailboxes the delivered messages were stored in.");
    wk_metrics_sample(b, "smtpd", "delivered_recipients_total", NULL, NULL, st->recipients);
}

/*
 * Names the listeners for the socket view: plain, then submission, then
 * implicit TLS; sockets inherited beyond those (socket activation) by
 * whether they speak TLS.
 */
static void name_services(struct wk_server *srv, size_t nplain, size_t nsubmission)
{
    for (size_t i = 0; i < srv->nlisteners; i++)
        srv->listeners[i].service = i < nplain                 ? "smtp"
                                    : i < nplain + nsubmission ? "submission"
                                    : srv->listeners[i].tls    ? "smtps"
                                                               : "smtp";
}

/* One reading of the configuration, and what is made from it for the workers to serve. */
struct smtp_state {
    struct wk_server_state base; /* what the server needs of it */
    struct smtp_config cfg;
    struct wk_option opts[26];
    const char *probe;
    char host[256];                               /* the host name, the default --hostname */
    char *default_domains[2];                     /* the host name and localhost */
    struct wk_strlist listen, secure, submission; /* the addresses, defaults filled in */
    char **plain; /* listen then submission: plain listeners, in that order */
    struct smtp_server ss;
};

/* A state with the defaults and the option table that writes into it; NULL when out of memory. */
static struct smtp_state *state_new(void)
{
    struct smtp_state *st = calloc(1, sizeof *st);
    if (st == NULL)
        return NULL;
    struct smtp_config *cfg = &st->cfg;
    *cfg = (struct smtp_config){
        .maildir = "./var/mail",
        .status_socket = "./var/run/wellknown-smtpd.sock",
        .workers = 0, /* one per CPU */
        .log_level = "info",
        .max_size = 10 * 1024 * 1024,
        .max_recipients = 100,
        .max_errors = 10,
        .max_connections = 10000,
        .max_per_client = 20,
        .backlog = 511,
        .command_timeout = 5 * MINUTE,
        .data_timeout = 3 * MINUTE,
        .shutdown_timeout = 10 * SECOND,
        .tls.handshake_timeout = 10 * SECOND,
    };
    const struct wk_option opts[] = {
        {"listen", WK_OPT_LIST, &cfg->listen, "ADDR",
         "listen on ADDR, repeatable (default: [::]:25)", 0, 0, false},
        {"tls-listen", WK_OPT_LIST, &cfg->tls_listen, "ADDR",
         "SMTPS (implicit TLS) on ADDR, repeatable (default: [::]:465 when TLS is on)", 0, 0,
         false},
        {"submission", WK_OPT_LIST, &cfg->submission, "ADDR",
         "submission on ADDR: STARTTLS required (default: [::]:587 when TLS is on)", 0, 0, false},
        {"require-tls", WK_OPT_FLAG, &cfg->require_tls, NULL,
         "on every listener, MAIL only after STARTTLS (530 before)", 0, 0, false},
        {"hostname", WK_OPT_STRING, &cfg->hostname, "NAME",
         "name in the greeting and Received: (default: the host name)", 0, 0, false},
        {"domain", WK_OPT_LIST, &cfg->domains, "NAME",
         "accept mail for NAME, repeatable (default: the host name and localhost)", 0, 0, false},
        {"maildir", WK_OPT_STRING, &cfg->maildir, "DIR", "deliver into DIR/<address>/new", 0, 0,
         false},
        {"max-size", WK_OPT_SIZE, &cfg->max_size, "BYTES", "largest message, announced as SIZE",
         1024, 0, false},
        {"max-recipients", WK_OPT_UINT, &cfg->max_recipients, "N",
         "recipients per message (452 beyond)", 1, 100000, false},
        {"max-errors", WK_OPT_UINT, &cfg->max_errors, "N",
         "protocol errors before the session is closed (421)", 1, 1000, false},
        {"max-connections", WK_OPT_UINT, &cfg->max_connections, "N",
         "open sessions before accepting pauses", 1, 10000000, false},
        {"max-per-client", WK_OPT_UINT, &cfg->max_per_client, "N",
         "open sessions from one client address (421 beyond)", 1, 10000000, false},
        {"backlog", WK_OPT_UINT, &cfg->backlog, "N", "listen backlog", 1, 65535, false},
        {"command-timeout", WK_OPT_DURATION, &cfg->command_timeout, "DUR",
         "wait for a command this long (RFC 5321: 5m)", 1, 0, false},
        {"data-timeout", WK_OPT_DURATION, &cfg->data_timeout, "DUR",
         "wait for the next part of a message this long (RFC 5321: 3m)", 1, 0, false},
        {"shutdown-timeout", WK_OPT_DURATION, &cfg->shutdown_timeout, "DUR",
         "on SIGTERM, time given to messages in flight (and old workers on SIGHUP)", 0, 0, false},
        WK_TLS_OPTIONS(&cfg->tls),
        {"probe", WK_OPT_STRING, &st->probe, "ADDR",
         "health check: ask the server at ADDR for its 220 greeting and exit 0 if healthy", 0, 0,
         WK_OPT_ARGV_ONLY},
        {"workers", WK_OPT_UINT, &cfg->workers, "N",
         "worker processes, each accepting and serving; 0: one per CPU", 0,
         WK_SUPERVISOR_MAX_WORKERS, false},
        {"user", WK_OPT_STRING, &cfg->user, "NAME",
         "after binding and reading keys as root, run as NAME", 0, 0, false},
        {"status-socket", WK_OPT_STRING, &cfg->status_socket, "PATH",
         "answer the socket view and metrics on this local socket, or off", 0, 0, false},
        {"log-level", WK_OPT_STRING, &cfg->log_level, "LEVEL", "error, warn, info or debug", 0, 0,
         false},
    };
    _Static_assert(WK_ARRAY_LEN(opts) == WK_ARRAY_LEN(st->opts), "the option table's size");
    memcpy(st->opts, opts, sizeof opts);
    st->ss.cfg = cfg;
    return st;
}

static void state_release(struct wk_server_state *base);

/*
 * Makes what the configuration asks for: the host name, the domains, the
 * TLS context (keeping was's self-signed one), the listen addresses; and
 * the mail store (unless check_only: then only checked).
 */
static int state_make(struct smtp_state *st, struct wk_tls *was, bool check_only,
                      char err[WK_ERR_LEN])
{
    static char *default_listen[] = {"[::]:25"};
    static char *default_secure[] = {"[::]:465"}, *default_submission[] = {"[::]:587"};
    struct smtp_config *cfg = &st->cfg;
    struct smtp_server *ss = &st->ss;
    int rc = host_default(cfg, st->host, sizeof st->host, err);
    if (rc < 0)
        return rc;
    st->default_domains[0] = (char *)cfg->hostname;
    st->default_domains[1] = "localhost";
    ss->domains = cfg->domains.n ? cfg->domains : (struct wk_strlist){st->default_domains, 2};
    st->listen = cfg->listen.n ? cfg->listen : (struct wk_strlist){default_listen, 1};
    st->secure = cfg->tls_listen;
    st->submission = cfg->submission;
    if (was != NULL && cfg->tls.self_signed)
        ss->tls = wk_tls_ref(was);
    else if ((rc = wk_tls_setup(&cfg->tls, NULL, 0, &ss->tls, err)) < 0)
        return rc;
    if (ss->tls == NULL && (st->secure.n || st->submission.n || cfg->require_tls)) {
        snprintf(err, WK_ERR_LEN,
                 "--tls-listen, --submission and --require-tls need --cert and --key, "
                 "or --self-signed");
        return -EINVAL;
    }
    if (ss->tls != NULL && st->secure.n == 0)
        st->secure = (struct wk_strlist){default_secure, 1};
    if (ss->tls != NULL && st->submission.n == 0)
        st->submission = (struct wk_strlist){default_submission, 1};
    /* Plain listeners first, then the submission ones: their indexes tell sessions apart. */
    size_t nplain = st->listen.n + st->submission.n;
    if ((st->plain = calloc(nplain + 1, sizeof *st->plain)) == NULL) {
        snprintf(err, WK_ERR_LEN, "out of memory");
        return -ENOMEM;
    }
    for (size_t i = 0; i < nplain; i++)
        st->plain[i] = i < st->listen.n ? st->listen.v[i] : st->submission.v[i - st->listen.n];
    ss->first_submission = st->listen.n;
    ss->nsubmission = st->submission.n;
    struct wk_addr *addrs = NULL; /* checked here; bound later, at the start */
    rc = wk_addr_parse_all(st->plain, nplain, &addrs, err);
    free(addrs);
    addrs = NULL;
    if (rc == 0)
        rc = wk_addr_parse_all(st->secure.v, st->secure.n, &addrs, err);
    free(addrs);
    if (rc < 0)
        return rc;
    if (check_only)
        return check_maildir(cfg->maildir, err);
    server_config(cfg, &st->base.cfg);
    st->base.data = ss;
    st->base.free = state_release;
    st->base.tls = ss->tls;
    return smtp_maildir_open(cfg->maildir, cfg->hostname, &ss->maildir, err);
}

/* Frees st and what was made from it (open sessions keep their TLS context). */
static void state_free(struct smtp_state *st)
{
    if (st == NULL)
        return;
    smtp_maildir_close(st->ss.maildir);
    wk_tls_free(st->ss.tls);
    free(st->plain);
    wk_config_free(st->opts, WK_ARRAY_LEN(st->opts));
    free(st);
}

static void state_release(struct wk_server_state *base)
{
    state_free((struct smtp_state *)base); /* base is its first member */
}

/* What the parent keeps for the workers and for reloads. */
struct smtp_main {
    struct smtp_state *st; /* what the current generation of workers serves */
    int argc;
    char **argv;
    struct wk_status *status;     /* the parent's: a worker lets go of its copy */
    struct smtp_clients *clients; /* sessions per client address, of every worker */
    struct wk_loop *loop;         /* the parent's, for the sweep; NULL in a worker */
    struct wk_timer sweep_timer;  /* the hourly sweep of stale tmp/ files */
};

/* Every hour: tmp/ files left by a crash go (the Maildir rule of 36 hours). */
#define SWEEP_EVERY_MS (3600 * SECOND)

static void sweep(struct smtp_main *m, time_t now)
{
    ssize_t n = smtp_maildir_sweep(m->st->ss.maildir, now);
    if (n < 0)
        wk_log(WK_LOG_WARN, "maildir sweep error=\"%s\"", strerror((int)-n));
    else if (n > 0)
        wk_log(WK_LOG_INFO, "maildir sweep removed=%zd stale-after=36h", n);
}

static void on_sweep_timer(struct wk_timer *t)
{
    struct smtp_main *m = t->data;
    sweep(m, time(NULL));
    wk_loop_timer_after(m->loop, t, SWEEP_EVERY_MS);
}

/* SIGUSR1 asks servers to reopen their log files; smtpd writes only to standard error. */
static void reopen_logs(struct wk_loop *loop, int signo, void *arg)
{
    (void)loop, (void)signo, (void)arg;
    wk_log(WK_LOG_INFO, "reopen: the log is standard error, nothing to reopen");
}

/*
 * --user: what must stay the server's after it stops being root (the mail
 * store it made, the status socket), the switch, then a check that the
 * store is still writable.
 */
static int become_user(struct smtp_main *m, const struct wk_user *user, char err[WK_ERR_LEN])
{
    struct smtp_server *ss = &m->st->ss;
    int rc = smtp_maildir_give(ss->maildir, user->uid, user->gid, err);
    if (rc == 0 && m->status != NULL)
        rc = wk_status_chown(m->status, user->uid, user->gid, err);
    if (rc == 0)
        rc = wk_privdrop(user, err);
    if (rc == 0)
        rc = smtp_maildir_check(ss->maildir, ss->cfg->maildir, err);
    return rc;
}

_Static_assert(SMTP_CLIENTS_WORKERS_MAX >= WK_SUPERVISOR_MAX_IDS, "a count for every worker id");

/* In each worker: its counters, its part of the per-client table, SIGUSR1. */
static int smtp_worker(struct wk_server *srv, unsigned worker, void *arg, char err[WK_ERR_LEN])
{
    struct smtp_main *m = arg;
    wk_status_forget(m->status);
    m->status = NULL;
    m->loop = NULL; /* the sweep is the parent's */
    int rc = smtp_clients_set_worker(m->clients, worker);
    if (rc == 0)
        rc = wk_loop_signal(srv->loop, SIGUSR1, reopen_logs, NULL);
    if (rc < 0)
        snprintf(err, WK_ERR_LEN, "worker setup: %s", strerror(-rc));
    return rc;
}

/* In the parent: a worker is gone; the sessions it counted per client are no more. */
static void smtp_worker_gone(struct wk_server *srv, unsigned worker, void *arg)
{
    (void)srv;
    struct smtp_main *m = arg;
    size_t n = smtp_clients_drop_worker(m->clients, worker);
    if (n > 0)
        wk_log(WK_LOG_INFO, "worker id=%u sessions-dropped=%zu", worker, n);
}

/* What only a restart changes. */
static void fixed_of(const struct smtp_state *st, struct wk_config_fixed *f)
{
    *f = (struct wk_config_fixed){{"listen", "submission", "tls-listen"},
                                  {&st->listen, &st->submission, &st->secure},
                                  3,
                                  st->ss.tls != NULL,
                                  st->cfg.user,
                                  st->cfg.status_socket};
}

/*
 * The configuration read and made again, for a reload: 0, or -errno with a
 * message in err. The mail store, made by this user now, must be writable.
 */
static int state_remake(struct smtp_state *now, const struct smtp_main *m, char err[WK_ERR_LEN])
{
    const struct smtp_state *was = m->st;
    struct wk_config_fixed a, b;
    int rc = wk_config_reread(now->opts, WK_ARRAY_LEN(now->opts), m->argc, m->argv,
                              &now->base.log_level, err);
    if (rc == 0)
        rc = state_make(now, was->cfg.tls.self_signed ? was->ss.tls : NULL, false, err);
    if (rc == 0)
        rc = smtp_maildir_check(now->ss.maildir, now->cfg.maildir, err);
    now->ss.clients = m->clients;
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
    struct smtp_main *m = arg;
    struct smtp_state *now = state_new();
    int rc = now ? state_remake(now, m, err) : -ENOMEM;
    if (rc < 0) {
        state_free(now);
        return rc;
    }
    rc = wk_server_renew(srv, &m->st->base, &now->base, err); /* frees the one it drops */
    if (rc < 0)
        return rc;
    m->st = now;
    wk_log(WK_LOG_INFO, "reload config=new hostname=%s maildir=%s workers=%u", now->cfg.hostname,
           now->cfg.maildir, now->base.cfg.workers);
    return 0;
}

static int run(struct smtp_main *m, bool check_only, char err[WK_ERR_LEN])
{
    struct wk_user user;
    struct wk_server srv = {0};
    struct wk_status_server status_srv = {&srv, "smtpd", smtp_metrics, &srv};
    struct wk_server_config sc;
    struct smtp_state *st = m->st;
    const struct smtp_config *cfg = &st->cfg;
    int rc = cfg->user ? wk_user_lookup(cfg->user, &user, err) : 0;
    if (rc == 0)
        rc = state_make(st, NULL, check_only, err);
    if (rc < 0 || check_only)
        goto out;
    /* Room for every client address the sessions allowed at once can come from. */
    size_t capacity = cfg->max_connections < SMTP_CLIENTS_CAPACITY_MAX ? cfg->max_connections
                                                                       : SMTP_CLIENTS_CAPACITY_MAX;
    if ((m->clients = smtp_clients_new(capacity)) == NULL) {
        snprintf(err, WK_ERR_LEN, "per-client table: out of memory");
        rc = -ENOMEM;
        goto out;
    }
    st->ss.clients = m->clients;
    sc = m->st->base.cfg;
    rc = wk_server_init(&srv, &sc, &smtp_session_ops, &st->ss, err);
    if (rc == 0) /* before the listen lines: a SIGHUP from then on reloads, never kills */
        rc = wk_server_on_reload(&srv, reload, m);
    if (rc == 0)
        rc = wk_server_listen_text(&srv, st->plain, st->listen.n + st->submission.n, st->secure.v,
                                   st->secure.n, st->ss.tls, err);
    if (rc == 0 && strcmp(cfg->status_socket, "off") != 0) {
        rc = wk_status_open(srv.loop, cfg->status_socket, wk_status_server_answer, &status_srv,
                            &m->status, err);
        if (rc == 0)
            wk_log(WK_LOG_INFO, "status path=%s", cfg->status_socket);
    }
    if (rc == 0 && cfg->user)
        rc = become_user(m, &user, err);
    if (rc < 0)
        goto out;
    m->loop = srv.loop;
    sweep(m, time(NULL));
    wk_timer_init(&m->sweep_timer, on_sweep_timer, m);
    wk_loop_timer_after(srv.loop, &m->sweep_timer, SWEEP_EVERY_MS);
    name_services(&srv, st->listen.n, st->submission.n);
    wk_server_before_flush(&srv, smtp_session_commit_all, NULL);
    wk_log(WK_LOG_INFO, "start pid=%d hostname=%s maildir=%s workers=%u version=%s", (int)getpid(),
           cfg->hostname, cfg->maildir, sc.workers, WK_VERSION);
    rc = wk_server_run_workers(&srv, sc.workers, smtp_worker, smtp_worker_gone, m, err);
    wk_log(WK_LOG_INFO, "exit status=%d", rc < 0 ? 1 : 0);
out:
    wk_status_close(m->status);
    if (m->loop != NULL)
        wk_loop_timer_stop(m->loop, &m->sweep_timer);
    wk_server_fini(&srv); /* before the state: its sessions hold the TLS context */
    smtp_clients_free(m->clients);
    return rc;
}

int main(int argc, char **argv)
{
    char err[WK_ERR_LEN] = "";
    static const struct wk_program prog = {
        "wellknown-smtpd", "smtpd",
        "An ESMTP server that delivers to Maildirs and never loses a message."};
    struct smtp_main m = {.st = state_new(), .argc = argc, .argv = argv};
    if (m.st == NULL) {
        fprintf(stderr, "%s: out of memory\n", prog.name);
        return 1;
    }
    size_t nopts = WK_ARRAY_LEN(m.st->opts);
    enum wk_config_action action;
    int status, rc;
    if (wk_config_start(&prog, m.st->opts, nopts, argc, argv, &action, &status)) {
        state_free(m.st);
        return status;
    }
    if (m.st->probe != NULL) { /* a health check of a running server, not a server */
        static const struct wk_probe healthy = {NULL, "220 ", "QUIT\r\n"};
        rc = wk_probe_run(m.st->probe, &healthy, 5000, err);
    } else {
        rc = run(&m, action == WK_CONFIG_CHECK, err);
    }
    /* A reload may have replaced the state. */
    status = wk_config_finish(&prog, m.st->opts, nopts, action, rc, err);
    state_free(m.st);
    return status;
}
