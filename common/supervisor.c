/*
 * supervisor.c: forking, reaping, restarting and stopping the workers of
 * one server. Owns the worker table and its timers, and the child's side of
 * fork() up to the worker function (signal state, the parent's loop freed,
 * _exit). Does not own the loop, the listening sockets or what the workers
 * do.
 */
#include "common/supervisor.h"

#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <ucontext.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/log.h"

/* The status ops->exited gets for a worker that something else in the process reaped. */
#define STATUS_UNKNOWN (-1)

struct worker {
    struct wk_supervisor *s;
    unsigned id;
    unsigned gen;            /* its generation; 0: the id was never used */
    pid_t pid;               /* 0: not running */
    uint64_t started;        /* wk_clock_monotonic_ms() at the fork */
    uint64_t pause_ms;       /* the last pause before a restart; 0: none yet */
    struct wk_timer restart; /* armed while a restart waits */
    struct wk_timer retire;  /* armed while it retires: SIGKILL when it fires */
    uint64_t stop_ms;        /* its generation's stop bound (0: none) */
};

struct wk_supervisor {
    struct wk_loop *loop;
    struct wk_supervisor_ops ops;
    void *arg;
    pid_t self; /* the parent's pid, for the child to tell whether it is already orphaned */
    uint64_t stop_timeout_ms; /* the current generation's stop bound */
    bool stopping;
    struct wk_timer stop_timer;
    wk_supervisor_hup_fn *on_hup;
    void *on_hup_arg;
    wk_supervisor_hup_fn *on_stop;
    void *on_stop_arg;
    unsigned running; /* of every generation */
    unsigned gen;     /* the current generation, from 1 */
    unsigned n;       /* its workers */
    struct worker w[WK_SUPERVISOR_MAX_IDS];
};

/* The worker serves in the current generation (running, or waiting to restart). */
static bool current(const struct wk_supervisor *s, const struct worker *w)
{
    return w->gen == s->gen;
}

/* The signals the parent sends its workers, which a new worker finds blocked. */
static const int passed[] = {SIGHUP, SIGUSR1, SIGTERM, SIGINT, SIGQUIT};

static const char *signal_name(int signo)
{
    switch (signo) {
    case SIGHUP:
        return "HUP";
    case SIGUSR1:
        return "USR1";
    case SIGTERM:
        return "TERM";
    case SIGINT:
        return "INT";
    case SIGQUIT:
        return "QUIT";
    default:
        return "?";
    }
}

static void passed_set(sigset_t *set)
{
    sigemptyset(set);
    for (size_t i = 0; i < WK_ARRAY_LEN(passed); i++)
        sigaddset(set, passed[i]);
}

/* "status=3", "signal=9 (Killed)", for a log line. */
static void describe(int status, char *out, size_t len)
{
    if (status == STATUS_UNKNOWN)
        snprintf(out, len, "status=unknown");
    else if (WIFEXITED(status))
        snprintf(out, len, "status=%d", WEXITSTATUS(status));
    else if (WIFSIGNALED(status))
        snprintf(out, len, "signal=%d (%s)%s", WTERMSIG(status), strsignal(WTERMSIG(status)),
                 WCOREDUMP(status) ? " core-dumped" : "");
    else
        snprintf(out, len, "status=0x%x", (unsigned)status);
}

/* ---- the child ---- */

/*
 * Keeps a passed-on signal that arrives while the child's copy of the
 * parent's loop is freed (wk_loop_free() unblocks the signals it took): the
 * signal is raised again, to wait pending, and stays blocked once the
 * handler returns (the mask restored on return is the one in the context).
 */
static void hold(int signo, siginfo_t *si, void *ctx)
{
    ucontext_t *uc = ctx;
    WK_UNUSED(si);
    sigaddset(&uc->uc_sigmask, signo);
    raise(signo);
}

/* Gives the worker the signal state supervisor.h promises, losing no signal on the way. */
static void leave_parent_loop(struct wk_loop *loop)
{
    sigset_t set;
    passed_set(&set);
    struct sigaction sa = {.sa_sigaction = hold, .sa_flags = SA_SIGINFO | SA_RESTART};
    sa.sa_mask = set;
    for (size_t i = 0; i < WK_ARRAY_LEN(passed); i++)
        sigaction(passed[i], &sa, NULL);
    wk_loop_free(loop);
    sigprocmask(SIG_SETMASK, &set, NULL);
    /* Pending signals whose default action terminates stay pending across SIG_DFL. */
    struct sigaction dfl = {.sa_handler = SIG_DFL};
    sigemptyset(&dfl.sa_mask);
    for (size_t i = 0; i < WK_ARRAY_LEN(passed); i++)
        sigaction(passed[i], &dfl, NULL);
    sigaction(SIGCHLD, &dfl, NULL);
}

static _Noreturn void run_child(struct wk_supervisor *s, unsigned id)
{
    wk_supervisor_worker_fn *worker = s->ops.worker;
    void *arg = s->arg;
    pid_t parent = s->self;
    leave_parent_loop(s->loop);
    free(s);
    /* A parent that died before this line sent nothing: stop as if it had. */
    if (prctl(PR_SET_PDEATHSIG, SIGTERM) == 0 && getppid() != parent)
        raise(SIGTERM);
    int status = worker(id, arg);
    wk_log_flush();
    fflush(NULL); /* the worker's own output: the parent's was flushed before the fork */
    _exit(status & 0xff);
}

/* ---- the parent ---- */

/* Forks worker w. Returns 0 or -errno. */
static int spawn(struct wk_supervisor *s, struct worker *w)
{
    /* The child inherits the buffers: empty them, or their lines would be written twice. */
    wk_log_flush();
    fflush(NULL);
    /*
     * The parent's loop blocks the signals it takes, but not SIGQUIT: blocked
     * across the fork, a retire sent at once waits for the worker's loop
     * instead of killing it (run_child() sets the worker's mask).
     */
    sigset_t set, old;
    passed_set(&set);
    sigprocmask(SIG_BLOCK, &set, &old);
    pid_t pid = fork();
    if (pid == 0)
        run_child(s, w->id);
    int e = errno;
    sigprocmask(SIG_SETMASK, &old, NULL);
    if (pid < 0)
        return -e;
    w->pid = pid;
    w->started = wk_clock_monotonic_ms();
    w->stop_ms = s->stop_timeout_ms;
    s->running++;
    wk_log(WK_LOG_INFO, "worker id=%u pid=%d start", w->id, (int)pid);
    return 0;
}

static uint64_t doubled(uint64_t ms)
{
    return ms >= WK_SUPERVISOR_BACKOFF_MAX_MS / 2 ? WK_SUPERVISOR_BACKOFF_MAX_MS : ms * 2;
}

static void arm_restart(struct wk_supervisor *s, struct worker *w)
{
    wk_log(WK_LOG_INFO, "worker id=%u restart in=%llums", w->id, (unsigned long long)w->pause_ms);
    if (wk_loop_timer_after(s->loop, &w->restart, w->pause_ms) < 0)
        wk_log(WK_LOG_ERROR, "worker id=%u restart-failed error=\"%s\"", w->id, strerror(ENOMEM));
}

static void on_restart(struct wk_timer *t)
{
    struct worker *w = t->data;
    struct wk_supervisor *s = w->s;
    if (s->stopping || !current(s, w))
        return;
    int rc = spawn(s, w);
    if (rc < 0) {
        wk_log(WK_LOG_ERROR, "worker id=%u fork-failed error=\"%s\"", w->id, strerror(-rc));
        w->pause_ms = doubled(w->pause_ms);
        arm_restart(s, w);
    }
}

/* The stop is over: no worker is left. */
static void finish(struct wk_supervisor *s)
{
    wk_loop_timer_stop(s->loop, &s->stop_timer);
    wk_log(WK_LOG_INFO, "stopped workers=0");
    wk_loop_stop(s->loop);
}

/* Worker w was reaped (or is gone) with status. */
static void gone(struct wk_supervisor *s, struct worker *w, int status)
{
    pid_t pid = w->pid;
    char how[96];
    bool retired = !current(s, w);
    describe(status, how, sizeof how);
    w->pid = 0;
    s->running--;
    wk_loop_timer_stop(s->loop, &w->retire);
    wk_log(s->stopping || retired ? WK_LOG_INFO : WK_LOG_WARN, "worker id=%u pid=%d exit %s%s",
           w->id, (int)pid, how, retired ? " retired" : "");
    if (s->ops.exited != NULL)
        s->ops.exited(w->id, pid, status, s->arg);
    if (s->stopping || retired) { /* a retired one leaves its place to the new generation */
        if (s->stopping && s->running == 0)
            finish(s);
        return;
    }
    bool young = wk_clock_monotonic_ms() - w->started < WK_SUPERVISOR_YOUNG_MS;
    w->pause_ms = young && w->pause_ms > 0 ? doubled(w->pause_ms) : WK_SUPERVISOR_BACKOFF_MIN_MS;
    arm_restart(s, w);
}

/*
 * SIGCHLD: several exits may have been folded into one signal, so every
 * worker is asked. By pid, so that other children of the process are left
 * to whoever started them, and a pid is never reused while it is ours.
 */
static void on_child(struct wk_loop *loop, int signo, void *data)
{
    struct wk_supervisor *s = data;
    WK_UNUSED(loop);
    WK_UNUSED(signo);
    for (unsigned i = 0; i < WK_SUPERVISOR_MAX_IDS; i++) {
        struct worker *w = &s->w[i];
        if (w->pid <= 0)
            continue;
        int status;
        pid_t r;
        do
            r = waitpid(w->pid, &status, WNOHANG);
        while (r < 0 && errno == EINTR);
        if (r == w->pid) {
            gone(s, w, status);
        } else if (r < 0 && errno == ECHILD) {
            wk_log(WK_LOG_ERROR, "worker id=%u pid=%d reaped-elsewhere", w->id, (int)w->pid);
            gone(s, w, STATUS_UNKNOWN);
        }
    }
}

static void signal_all(struct wk_supervisor *s, int signo)
{
    for (unsigned i = 0; i < WK_SUPERVISOR_MAX_IDS; i++) {
        if (s->w[i].pid > 0)
            kill(s->w[i].pid, signo);
    }
}

/* SIGHUP: the parent's own hook, or else every worker; SIGUSR1: every worker. */
static void on_pass(struct wk_loop *loop, int signo, void *data)
{
    struct wk_supervisor *s = data;
    WK_UNUSED(loop);
    if (signo == SIGHUP && s->on_hup != NULL) {
        s->on_hup(s, s->on_hup_arg);
        return;
    }
    wk_log(WK_LOG_INFO, "forward signal=%s workers=%u", signal_name(signo), s->running);
    signal_all(s, signo);
}

static void on_stop_timer(struct wk_timer *t)
{
    struct wk_supervisor *s = t->data;
    wk_log(WK_LOG_WARN, "stop-timeout workers=%u", s->running);
    for (unsigned i = 0; i < WK_SUPERVISOR_MAX_IDS; i++) {
        if (s->w[i].pid > 0)
            wk_log(WK_LOG_WARN, "worker id=%u pid=%d kill", i, (int)s->w[i].pid);
    }
    signal_all(s, SIGKILL); /* reaped, and the loop stopped, when their SIGCHLD comes */
}

/* The stop's bound: the longest of the running workers' own (0: one has none). */
static uint64_t stop_bound(const struct wk_supervisor *s)
{
    uint64_t most = 0;
    for (unsigned i = 0; i < WK_SUPERVISOR_MAX_IDS; i++) {
        const struct worker *w = &s->w[i];
        if (w->pid <= 0)
            continue;
        if (w->stop_ms == 0)
            return 0;
        most = w->stop_ms > most ? w->stop_ms : most;
    }
    return most;
}

/* SIGTERM and SIGINT: the first begins the stop, passed on once. */
static void on_stop(struct wk_loop *loop, int signo, void *data)
{
    struct wk_supervisor *s = data;
    if (s->stopping) {
        wk_log(WK_LOG_DEBUG, "stopping-already signal=%s workers=%u", signal_name(signo),
               s->running);
        return;
    }
    s->stopping = true;
    wk_log(WK_LOG_INFO, "stopping signal=%s workers=%u", signal_name(signo), s->running);
    if (s->on_stop != NULL)
        s->on_stop(s, s->on_stop_arg);
    for (unsigned i = 0; i < WK_SUPERVISOR_MAX_IDS; i++)
        wk_loop_timer_stop(loop, &s->w[i].restart);
    signal_all(s, signo);
    if (s->running == 0)
        finish(s);
    else if (stop_bound(s) > 0)
        wk_loop_timer_after(loop, &s->stop_timer, stop_bound(s));
}

/* SIGKILLs and reaps worker w, blocking until it is gone. Returns its status. */
static int kill_now(struct wk_supervisor *s, struct worker *w)
{
    kill(w->pid, SIGKILL);
    int status = STATUS_UNKNOWN;
    while (waitpid(w->pid, &status, 0) < 0 && errno == EINTR)
        ;
    char how[96];
    describe(status, how, sizeof how);
    wk_log(WK_LOG_INFO, "worker id=%u pid=%d exit %s", w->id, (int)w->pid, how);
    w->pid = 0;
    s->running--;
    return status;
}

/* SIGKILLs and reaps every worker still running. */
static void kill_all(struct wk_supervisor *s)
{
    for (unsigned i = 0; i < WK_SUPERVISOR_MAX_IDS; i++) {
        if (s->w[i].pid > 0)
            kill_now(s, &s->w[i]);
    }
}

/* A retiring worker outlived its bound. */
static void on_retire_timeout(struct wk_timer *t)
{
    struct worker *w = t->data;
    if (w->pid <= 0)
        return;
    wk_log(WK_LOG_WARN, "worker id=%u pid=%d retire-timeout kill", w->id, (int)w->pid);
    kill(w->pid, SIGKILL); /* reaped when its SIGCHLD comes */
}

int wk_supervisor_renew(struct wk_supervisor *s, unsigned n, uint64_t stop_timeout_ms,
                        uint64_t retire_timeout_ms, char err[WK_ERR_LEN])
{
    unsigned pick[WK_SUPERVISOR_MAX_WORKERS], k = 0;
    if (s->stopping) {
        snprintf(err, WK_ERR_LEN, "workers: the server is stopping");
        return -ECANCELED;
    }
    if (n == 0 || n > WK_SUPERVISOR_MAX_WORKERS) {
        snprintf(err, WK_ERR_LEN, "workers: %u is out of range 1..%d", n,
                 WK_SUPERVISOR_MAX_WORKERS);
        return -EINVAL;
    }
    for (unsigned i = 0; i < WK_SUPERVISOR_MAX_IDS && k < n; i++) {
        if (!current(s, &s->w[i]) && s->w[i].pid == 0)
            pick[k++] = i;
    }
    if (k < n) {
        snprintf(err, WK_ERR_LEN,
                 "workers: %u more are needed, but the workers of earlier generations are still "
                 "finishing their connections",
                 n - k);
        return -EBUSY;
    }
    unsigned old = s->gen++;
    uint64_t old_stop_ms = s->stop_timeout_ms;
    s->stop_timeout_ms = stop_timeout_ms; /* the new workers' */
    for (unsigned j = 0; j < n; j++) {
        struct worker *w = &s->w[pick[j]];
        w->gen = s->gen;
        w->pause_ms = 0;
        int rc = spawn(s, w);
        if (rc == 0)
            continue;
        snprintf(err, WK_ERR_LEN, "workers: fork of worker %u: %s", w->id, strerror(-rc));
        for (unsigned i = 0; i <= j; i++) { /* the old generation serves on */
            struct worker *v = &s->w[pick[i]];
            v->gen = 0;
            if (v->pid <= 0)
                continue;
            pid_t pid = v->pid;
            int status = kill_now(s, v);
            if (s->ops.exited != NULL)
                s->ops.exited(v->id, pid, status, s->arg);
        }
        s->gen = old;
        s->stop_timeout_ms = old_stop_ms;
        return rc;
    }
    for (unsigned i = 0; i < WK_SUPERVISOR_MAX_IDS; i++) {
        struct worker *w = &s->w[i];
        if (w->gen != old)
            continue;
        wk_loop_timer_stop(s->loop, &w->restart); /* one waiting to restart is simply gone */
        if (w->pid <= 0)
            continue;
        wk_log(WK_LOG_INFO, "worker id=%u pid=%d retire", w->id, (int)w->pid);
        kill(w->pid, SIGQUIT);
        if (retire_timeout_ms > 0)
            wk_loop_timer_after(s->loop, &w->retire, retire_timeout_ms);
    }
    s->n = n;
    wk_log(WK_LOG_INFO, "generation=%u workers=%u", s->gen, n);
    return 0;
}

static int add_signals(struct wk_supervisor *s)
{
    static const struct {
        int signo;
        wk_signal_fn *cb;
    } table[] = {
        {SIGCHLD, on_child}, {SIGHUP, on_pass}, {SIGUSR1, on_pass},
        {SIGTERM, on_stop},  {SIGINT, on_stop},
    };
    struct sigaction dfl = {.sa_handler = SIG_DFL};
    sigemptyset(&dfl.sa_mask);
    if (sigaction(SIGCHLD, &dfl, NULL) < 0)
        return -errno;
    for (size_t i = 0; i < WK_ARRAY_LEN(table); i++) {
        int rc = wk_loop_signal(s->loop, table[i].signo, table[i].cb, s);
        if (rc < 0)
            return rc;
    }
    return 0;
}

int wk_supervisor_start(struct wk_loop *loop, unsigned n, uint64_t stop_timeout_ms,
                        const struct wk_supervisor_ops *ops, void *arg, struct wk_supervisor **out,
                        char err[WK_ERR_LEN])
{
    if (n == 0 || n > WK_SUPERVISOR_MAX_WORKERS) {
        snprintf(err, WK_ERR_LEN, "workers: %u is out of range 1..%d", n,
                 WK_SUPERVISOR_MAX_WORKERS);
        return -EINVAL;
    }
    if (ops == NULL || ops->worker == NULL) {
        snprintf(err, WK_ERR_LEN, "workers: no worker function");
        return -EINVAL;
    }
    struct wk_supervisor *s = calloc(1, sizeof *s);
    if (s == NULL) {
        snprintf(err, WK_ERR_LEN, "workers: out of memory");
        return -ENOMEM;
    }
    *s = (struct wk_supervisor){.loop = loop,
                                .ops = *ops,
                                .arg = arg,
                                .self = getpid(),
                                .stop_timeout_ms = stop_timeout_ms,
                                .gen = 1,
                                .n = n};
    wk_timer_init(&s->stop_timer, on_stop_timer, s);
    for (unsigned i = 0; i < WK_SUPERVISOR_MAX_IDS; i++) {
        s->w[i] = (struct worker){.s = s, .id = i, .gen = i < n ? 1 : 0};
        wk_timer_init(&s->w[i].restart, on_restart, &s->w[i]);
        wk_timer_init(&s->w[i].retire, on_retire_timeout, &s->w[i]);
    }
    /* Before any fork: a worker that dies at once must find SIGCHLD already taken. */
    int rc = add_signals(s);
    if (rc < 0) {
        snprintf(err, WK_ERR_LEN, "workers: signals: %s", strerror(-rc));
        goto fail;
    }
    for (unsigned i = 0; i < n; i++) {
        rc = spawn(s, &s->w[i]);
        if (rc < 0) {
            snprintf(err, WK_ERR_LEN, "workers: fork of worker %u: %s", i, strerror(-rc));
            goto fail;
        }
    }
    *out = s;
    return 0;
fail:
    kill_all(s);
    free(s);
    return rc;
}

pid_t wk_supervisor_pid(const struct wk_supervisor *s, unsigned id)
{
    return id < WK_SUPERVISOR_MAX_IDS ? s->w[id].pid : 0;
}

unsigned wk_supervisor_generation(const struct wk_supervisor *s)
{
    return s->gen;
}

bool wk_supervisor_current(const struct wk_supervisor *s, unsigned id)
{
    return id < WK_SUPERVISOR_MAX_IDS && current(s, &s->w[id]);
}

unsigned wk_supervisor_running(const struct wk_supervisor *s)
{
    return s->running;
}

unsigned wk_supervisor_default_workers(void)
{
    cpu_set_t set;
    long n = sched_getaffinity(0, sizeof set, &set) == 0 ? CPU_COUNT(&set)
                                                         : sysconf(_SC_NPROCESSORS_ONLN);
    if (n < 1)
        return 1;
    return n > WK_SUPERVISOR_MAX_WORKERS ? WK_SUPERVISOR_MAX_WORKERS : (unsigned)n;
}

bool wk_supervisor_stopping(const struct wk_supervisor *s)
{
    return s->stopping;
}

void wk_supervisor_on_hup(struct wk_supervisor *s, wk_supervisor_hup_fn *fn, void *arg)
{
    s->on_hup = fn;
    s->on_hup_arg = arg;
}

void wk_supervisor_on_stop(struct wk_supervisor *s, wk_supervisor_hup_fn *fn, void *arg)
{
    s->on_stop = fn;
    s->on_stop_arg = arg;
}

void wk_supervisor_free(struct wk_supervisor *s)
{
    if (s == NULL)
        return;
    kill_all(s);
    for (unsigned i = 0; i < WK_SUPERVISOR_MAX_IDS; i++) {
        wk_loop_timer_stop(s->loop, &s->w[i].restart);
        wk_loop_timer_stop(s->loop, &s->w[i].retire);
    }
    wk_loop_timer_stop(s->loop, &s->stop_timer);
    free(s);
}
