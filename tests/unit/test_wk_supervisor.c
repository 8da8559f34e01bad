/*
 * test_wk_supervisor.c: the worker supervisor (common/supervisor.c) with
 * real processes: workers start with their ids and the promised signal
 * state, a worker that exits is restarted (status 3, and status 0 outside a
 * stop), a crash loop backs off, several exits folded into one SIGCHLD,
 * SIGHUP and SIGUSR1 passed to every worker (also before a worker's loop
 * exists), SIGHUP renewing the generation through a hook (the old one
 * retired with SIGQUIT, killed after its bound; renewal refused when ids are
 * short), SIGTERM and SIGINT stopping all, SIGKILL after the stop bound,
 * wk_supervisor_free() killing what is left, and the log lines. Each case
 * ends with no child left, zombie or not.
 *
 * The test process is the parent and runs a loop bounded by a guard timer.
 * Workers (below, "child side") run their own loop and report fixed-size
 * records through a pipe, which the parent's loop reads. The parent decides
 * a worker's behaviour before its fork (mode[], exit_code[]).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "common/clock.h"
#include "common/log.h"
#include "common/loop.h"
#include "common/supervisor.h"

#define GUARD_MS      8000
#define CHILD_BOUND_S 20 /* a worker left behind by a failed case ends by itself */
#define MAXW          WK_SUPERVISOR_MAX_IDS
#define MAXREC        256

/* What a worker does (chosen by the parent before the fork). */
enum mode {
    MODE_SERVE,            /* run a loop until SIGTERM or SIGINT, then exit 0 */
    MODE_EXIT,             /* report ready, return exit_code[id] at once */
    MODE_LATE,             /* serve, but sleep LATE_MS before making the loop */
    MODE_IGNORE_TERM,      /* serve, with SIGTERM ignored */
    MODE_EXIT_ON_USR1,     /* serve; SIGUSR1 makes it return 3 */
    MODE_IGNORE_QUIT,      /* serve, with SIGQUIT (retire) ignored */
    MODE_IGNORE_TERM_QUIT, /* serve, with SIGTERM and SIGQUIT ignored */
};

#define LATE_MS 300

enum event { EV_READY = 1, EV_HUP, EV_USR1, EV_TERM, EV_INT, EV_QUIT };

/* Flags of a ready report: the signal state a worker found at its start. */
#define FLAG_MASK    0x1u /* exactly HUP, USR1, TERM, INT, QUIT blocked */
#define FLAG_DFL     0x2u /* those five and CHLD have their default dispositions */
#define FLAG_PIPE    0x4u /* SIGPIPE ignored, as in the parent */
#define FLAG_NO_LOOP 0x8u /* none of the parent's epoll or signalfd fds open */
#define FLAGS_ALL    0xfu

struct report {
    uint32_t id;
    int32_t pid;
    uint32_t event;
    uint32_t flags;
};

struct exit_rec {
    unsigned id;
    pid_t pid;
    int status;
    uint64_t at;
    pid_t pid_then;   /* wk_supervisor_pid(id) inside exited() */
    unsigned running; /* wk_supervisor_running() inside exited() */
};

struct fixture;
typedef void report_fn(struct fixture *f, const struct report *r);
typedef void exited_fn(struct fixture *f, const struct exit_rec *e);

struct fixture {
    struct wk_loop *loop;
    struct wk_supervisor *sup;
    struct wk_timer guard;
    bool guard_fired;
    int pipe[2];
    struct wk_io rd;
    /* read by each child at its fork */
    enum mode mode[MAXW];
    int exit_code[MAXW];
    /* what happened */
    struct report rec[MAXREC];
    uint64_t rec_at[MAXREC];
    unsigned nrec;
    unsigned count[EV_QUIT + 1];
    struct exit_rec exits[MAXREC];
    unsigned nexits;
    unsigned hups; /* the parent's SIGHUP hook */
    unsigned running_at_hup;
    unsigned pid_mismatch; /* ready reports while wk_supervisor_pid() gave another pid */
    /* renew_hook(): what SIGHUP renews, and how it went */
    unsigned renew_n;
    uint64_t retire_ms;
    int renew_rc;
    char renew_err[WK_ERR_LEN];
    report_fn *on_report;
    exited_fn *on_exited;
};

static struct fixture fx;
static uint64_t term_at; /* when a case raised SIGTERM */

/* ---- child side ---- */

struct child {
    struct wk_loop *loop;
    int fd;
    unsigned id;
    enum mode mode;
    int code;
    struct wk_timer bound;
};

static void send_report(int fd, unsigned id, unsigned event, unsigned flags)
{
    struct report r = {id, (int32_t)getpid(), event, flags};
    ssize_t n = write(fd, &r, sizeof r);
    WK_UNUSED(n); /* a parent that is gone has nothing to learn */
}

static bool is_passed(int signo)
{
    return signo == SIGHUP || signo == SIGUSR1 || signo == SIGTERM || signo == SIGINT ||
           signo == SIGQUIT;
}

static bool has_default(int signo)
{
    struct sigaction sa;
    return sigaction(signo, NULL, &sa) == 0 && sa.sa_handler == SIG_DFL;
}

/* True when no fd of this process is an epoll instance or a signalfd. */
static bool no_loop_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    if (d == NULL)
        return false;
    bool ok = true;
    for (struct dirent *e; (e = readdir(d)) != NULL;) {
        char path[300], target[128];
        snprintf(path, sizeof path, "/proc/self/fd/%s", e->d_name);
        ssize_t n = readlink(path, target, sizeof target - 1);
        if (n <= 0)
            continue;
        target[n] = '\0';
        if (strstr(target, "eventpoll") || strstr(target, "signalfd"))
            ok = false;
    }
    closedir(d);
    return ok;
}

static unsigned entry_flags(void)
{
    unsigned flags = 0;
    sigset_t cur;
    sigprocmask(SIG_BLOCK, NULL, &cur);
    bool mask = true;
    for (int i = 1; i < 32; i++) {
        if (i != SIGKILL && i != SIGSTOP && sigismember(&cur, i) != is_passed(i))
            mask = false;
    }
    if (mask)
        flags |= FLAG_MASK;
    if (has_default(SIGHUP) && has_default(SIGUSR1) && has_default(SIGTERM) &&
        has_default(SIGINT) && has_default(SIGQUIT) && has_default(SIGCHLD))
        flags |= FLAG_DFL;
    struct sigaction sa;
    if (sigaction(SIGPIPE, NULL, &sa) == 0 && sa.sa_handler == SIG_IGN)
        flags |= FLAG_PIPE;
    if (no_loop_fds())
        flags |= FLAG_NO_LOOP;
    return flags;
}

static void child_signal(struct wk_loop *loop, int signo, void *data)
{
    struct child *c = data;
    static const unsigned ev[] = {[SIGHUP] = EV_HUP,
                                  [SIGUSR1] = EV_USR1,
                                  [SIGTERM] = EV_TERM,
                                  [SIGINT] = EV_INT,
                                  [SIGQUIT] = EV_QUIT};
    send_report(c->fd, c->id, ev[signo], 0);
    if (signo == SIGUSR1 && c->mode == MODE_EXIT_ON_USR1) {
        c->code = 3;
        wk_loop_stop(loop);
    } else if (signo == SIGTERM || signo == SIGINT || signo == SIGQUIT) {
        c->code = 0;
        wk_loop_stop(loop);
    }
}

static void child_bound(struct wk_timer *t)
{
    struct child *c = t->data;
    c->code = 99;
    wk_loop_stop(c->loop);
}

static int worker(unsigned id, void *arg)
{
    struct fixture *f = arg;
    unsigned flags = entry_flags();
    struct child c = {.fd = f->pipe[1], .id = id, .mode = f->mode[id]};
    if (c.mode == MODE_EXIT) {
        send_report(c.fd, id, EV_READY, flags);
        return f->exit_code[id];
    }
    if (c.mode == MODE_LATE)
        nanosleep(&(struct timespec){0, LATE_MS * 1000000L}, NULL);
    if (c.mode == MODE_IGNORE_TERM || c.mode == MODE_IGNORE_TERM_QUIT)
        signal(SIGTERM, SIG_IGN);
    if (c.mode == MODE_IGNORE_QUIT || c.mode == MODE_IGNORE_TERM_QUIT)
        signal(SIGQUIT, SIG_IGN);
    char err[WK_ERR_LEN];
    c.loop = wk_loop_new(err);
    if (c.loop == NULL)
        return 98;
    wk_loop_signal(c.loop, SIGHUP, child_signal, &c);
    wk_loop_signal(c.loop, SIGUSR1, child_signal, &c);
    wk_loop_signal(c.loop, SIGINT, child_signal, &c);
    if (c.mode != MODE_IGNORE_TERM && c.mode != MODE_IGNORE_TERM_QUIT)
        wk_loop_signal(c.loop, SIGTERM, child_signal, &c);
    if (c.mode != MODE_IGNORE_QUIT && c.mode != MODE_IGNORE_TERM_QUIT)
        wk_loop_signal(c.loop, SIGQUIT, child_signal, &c);
    wk_timer_init(&c.bound, child_bound, &c);
    wk_loop_timer_after(c.loop, &c.bound, CHILD_BOUND_S * 1000);
    send_report(c.fd, id, EV_READY, flags);
    wk_loop_run(c.loop);
    wk_loop_free(c.loop);
    return c.code;
}

/* ---- parent side ---- */

static void on_guard(struct wk_timer *t)
{
    struct fixture *f = t->data;
    f->guard_fired = true;
    wk_loop_stop(f->loop);
}

static void on_pipe(struct wk_io *io, unsigned events)
{
    struct fixture *f = io->data;
    struct report r;
    WK_UNUSED(events);
    while (read(io->fd, &r, sizeof r) == (ssize_t)sizeof r) {
        if (f->nrec == MAXREC)
            continue;
        /* 0: a worker that reports and exits at once may be reaped before its report is read. */
        pid_t now = f->sup != NULL ? wk_supervisor_pid(f->sup, r.id) : 0;
        if (r.event == EV_READY && now != 0 && now != r.pid)
            f->pid_mismatch++;
        f->rec_at[f->nrec] = wk_clock_monotonic_ms();
        f->rec[f->nrec++] = r;
        if (r.event <= EV_QUIT)
            f->count[r.event]++;
        if (f->on_report != NULL)
            f->on_report(f, &r);
    }
}

static void on_exited(unsigned id, pid_t pid, int status, void *arg)
{
    struct fixture *f = arg;
    if (f->nexits == MAXREC)
        return;
    struct exit_rec *e = &f->exits[f->nexits++];
    *e = (struct exit_rec){.id = id,
                           .pid = pid,
                           .status = status,
                           .at = wk_clock_monotonic_ms(),
                           .pid_then = wk_supervisor_pid(f->sup, id),
                           .running = wk_supervisor_running(f->sup)};
    if (f->on_exited != NULL)
        f->on_exited(f, e);
}

/* A SIGHUP hook as a server's: a new generation of renew_n workers. */
static void renew_hook(struct wk_supervisor *s, void *arg)
{
    struct fixture *f = arg;
    f->hups++;
    f->running_at_hup = wk_supervisor_running(s);
    f->renew_err[0] = '\0';
    f->renew_rc = wk_supervisor_renew(s, f->renew_n, 5000, f->retire_ms, f->renew_err);
}

/* The same, with a 200 ms stop bound for the new generation. */
static void renew_hook_short(struct wk_supervisor *s, void *arg)
{
    struct fixture *f = arg;
    f->hups++;
    f->renew_rc = wk_supervisor_renew(s, 1, 200, 0, f->renew_err);
}

static const struct wk_supervisor_ops ops = {.worker = worker, .exited = on_exited};

static int setup(void **state)
{
    struct fixture *f = &fx;
    char err[WK_ERR_LEN];
    memset(f, 0, sizeof *f);
    f->loop = wk_loop_new(err);
    if (f->loop == NULL)
        fail_msg("wk_loop_new: %s", err);
    if (pipe2(f->pipe, O_CLOEXEC) < 0)
        fail_msg("pipe2: %s", strerror(errno));
    fcntl(f->pipe[0], F_SETFL, O_NONBLOCK);
    f->rd = (struct wk_io){.fd = f->pipe[0], .cb = on_pipe, .data = f};
    assert_int_equal(wk_loop_io_add(f->loop, &f->rd, WK_IO_READ), 0);
    wk_timer_init(&f->guard, on_guard, f);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    wk_supervisor_free(f->sup);
    f->sup = NULL;
    wk_loop_free(f->loop);
    close(f->pipe[0]);
    close(f->pipe[1]);
    return 0;
}

/* Starts n workers. */
static void start(struct fixture *f, unsigned n, uint64_t stop_timeout_ms)
{
    char err[WK_ERR_LEN] = "";
    int rc = wk_supervisor_start(f->loop, n, stop_timeout_ms, &ops, f, &f->sup, err);
    if (rc != 0)
        fail_msg("wk_supervisor_start: %d %s", rc, err);
    assert_int_equal(wk_supervisor_running(f->sup), n);
    assert_false(wk_supervisor_stopping(f->sup));
}

/* Runs the parent's loop, bounded by the guard; fails if the guard fired. */
static void run(struct fixture *f, uint64_t guard_ms)
{
    f->guard_fired = false;
    wk_loop_timer_after(f->loop, &f->guard, guard_ms);
    assert_int_equal(wk_loop_run(f->loop), 0);
    wk_loop_timer_stop(f->loop, &f->guard);
    assert_false(f->guard_fired);
    /*
     * The last workers' reports may still wait in the pipe: their SIGCHLD can
     * be read, and stop the loop, in the same turn as the signal that made
     * them exit. Read them, without reacting any more.
     */
    report_fn *saved = f->on_report;
    f->on_report = NULL;
    on_pipe(&f->rd, WK_IO_READ);
    f->on_report = saved;
}

/* Frees the supervisor and checks that no child of this process is left, not even a zombie. */
static void no_child_left(struct fixture *f)
{
    wk_supervisor_free(f->sup);
    f->sup = NULL;
    errno = 0;
    assert_int_equal(waitpid(-1, NULL, WNOHANG), -1);
    assert_int_equal(errno, ECHILD);
}

/* The record of the k-th report of event (from 0), or NULL. */
static const struct report *nth(const struct fixture *f, unsigned event, unsigned k, uint64_t *at)
{
    for (unsigned i = 0; i < f->nrec; i++) {
        if (f->rec[i].event == event && k-- == 0) {
            if (at != NULL)
                *at = f->rec_at[i];
            return &f->rec[i];
        }
    }
    return NULL;
}

/* How many reports of event came from worker id. */
static unsigned count_of(const struct fixture *f, unsigned event, unsigned id)
{
    unsigned n = 0;
    for (unsigned i = 0; i < f->nrec; i++)
        n += f->rec[i].event == event && f->rec[i].id == id;
    return n;
}

/* After a stop: nothing runs, and no id has a pid. */
static void assert_stopped_cleanly(struct fixture *f)
{
    assert_int_equal(wk_supervisor_running(f->sup), 0);
    assert_true(wk_supervisor_stopping(f->sup));
    for (unsigned i = 0; i < WK_SUPERVISOR_MAX_IDS; i++)
        assert_int_equal(wk_supervisor_pid(f->sup, i), 0);
}

/* ---- stderr capture, for the log lines ---- */

struct capture {
    int saved;
    char path[64];
};

static void capture_begin(struct capture *c)
{
    snprintf(c->path, sizeof c->path, "/tmp/wk-supervisor-log-XXXXXX");
    int fd = mkstemp(c->path);
    assert_true(fd >= 0);
    fflush(stderr);
    c->saved = dup(STDERR_FILENO);
    dup2(fd, STDERR_FILENO);
    close(fd);
}

/* Restores stderr; returns the captured text (free it). */
static char *capture_end(struct capture *c)
{
    fflush(stderr);
    dup2(c->saved, STDERR_FILENO);
    close(c->saved);
    static char text[16384];
    FILE *in = fopen(c->path, "r");
    size_t n = in ? fread(text, 1, sizeof text - 1, in) : 0;
    text[n] = '\0';
    if (in)
        fclose(in);
    unlink(c->path);
    fputs(text, stderr); /* still shown with the test's output */
    return strdup(text);
}

static void assert_has(const char *text, const char *line)
{
    if (strstr(text, line) == NULL)
        fail_msg("log lacks \"%s\"", line);
}

/* ---- cases ---- */

static void stop_when_ready(struct fixture *f, const struct report *r, unsigned n, int signo)
{
    if (r->event == EV_READY && f->count[EV_READY] == n)
        raise(signo);
}

static void ready3_term(struct fixture *f, const struct report *r)
{
    stop_when_ready(f, r, 3, SIGTERM);
}

/* Three workers each run once with their id and the promised state; SIGTERM stops all. */
static void test_start_ids_and_term(void **state)
{
    struct fixture *f = *state;
    f->on_report = ready3_term;
    start(f, 3, 5000);
    pid_t pids[3];
    for (unsigned i = 0; i < 3; i++) {
        pids[i] = wk_supervisor_pid(f->sup, i);
        assert_true(pids[i] > 0);
    }
    assert_int_equal(wk_supervisor_pid(f->sup, 3), 0);
    run(f, GUARD_MS);
    assert_int_equal(f->pid_mismatch, 0);
    for (unsigned i = 0; i < 3; i++) {
        assert_int_equal(count_of(f, EV_READY, i), 1);
        assert_int_equal(count_of(f, EV_TERM, i), 1);
    }
    for (unsigned k = 0; k < 3; k++) {
        const struct report *r = nth(f, EV_READY, k, NULL);
        assert_int_equal(r->pid, pids[r->id]);
        assert_int_equal(r->flags, FLAGS_ALL);
    }
    assert_int_equal(f->nexits, 3);
    for (unsigned k = 0; k < 3; k++) {
        const struct exit_rec *e = &f->exits[k];
        assert_int_equal(e->pid, pids[e->id]);
        assert_true(WIFEXITED(e->status));
        assert_int_equal(WEXITSTATUS(e->status), 0);
        assert_int_equal(e->pid_then, 0);
    }
    assert_stopped_cleanly(f);
    no_child_left(f);
}

static void ready2_int(struct fixture *f, const struct report *r)
{
    stop_when_ready(f, r, 2, SIGINT);
}

/* SIGINT stops as SIGTERM does, and is what the workers get. */
static void test_int_stops(void **state)
{
    struct fixture *f = *state;
    f->on_report = ready2_int;
    start(f, 2, 5000);
    run(f, GUARD_MS);
    assert_int_equal(f->count[EV_INT], 2);
    assert_int_equal(f->count[EV_TERM], 0);
    assert_int_equal(f->nexits, 2);
    for (unsigned k = 0; k < 2; k++)
        assert_int_equal(f->exits[k].status, 0);
    assert_stopped_cleanly(f);
    no_child_left(f);
}

static void serve_after_first_exit(struct fixture *f, const struct exit_rec *e)
{
    if (f->nexits == 1)
        f->mode[e->id] = MODE_SERVE;
}

static void second_ready_term(struct fixture *f, const struct report *r)
{
    stop_when_ready(f, r, 2, SIGTERM);
}

/* Worker 0 exits with code once, is restarted as a new process, and the log says so. */
static void restart_once(struct fixture *f, int code)
{
    f->mode[0] = MODE_EXIT;
    f->exit_code[0] = code;
    f->on_exited = serve_after_first_exit;
    f->on_report = second_ready_term;
    struct capture cap;
    capture_begin(&cap);
    start(f, 1, 5000);
    run(f, GUARD_MS);
    char *log = capture_end(&cap);

    const struct report *first = nth(f, EV_READY, 0, NULL), *second = nth(f, EV_READY, 1, NULL);
    assert_non_null(first);
    assert_non_null(second);
    assert_int_equal(first->id, 0);
    assert_int_equal(second->id, 0);
    assert_int_not_equal(first->pid, second->pid);
    assert_int_equal(f->nexits, 2);
    assert_int_equal(f->exits[0].id, 0);
    assert_int_equal(f->exits[0].pid, first->pid);
    assert_true(WIFEXITED(f->exits[0].status));
    assert_int_equal(WEXITSTATUS(f->exits[0].status), code);
    assert_int_equal(f->exits[0].pid_then, 0);
    assert_int_equal(f->exits[0].running, 0);
    assert_int_equal(f->exits[1].pid, second->pid);
    assert_int_equal(f->exits[1].status, 0);
    assert_int_equal(f->pid_mismatch, 0);

    char line[128];
    snprintf(line, sizeof line, "worker id=0 pid=%d start\n", (int)first->pid);
    assert_has(log, line);
    snprintf(line, sizeof line, "worker id=0 pid=%d exit status=%d\n", (int)first->pid, code);
    assert_has(log, line);
    assert_has(log, "worker id=0 restart in=100ms\n");
    snprintf(line, sizeof line, "worker id=0 pid=%d start\n", (int)second->pid);
    assert_has(log, line);
    assert_has(log, "stopping signal=TERM workers=1\n");
    snprintf(line, sizeof line, "worker id=0 pid=%d exit status=0\n", (int)second->pid);
    assert_has(log, line);
    free(log);
    assert_stopped_cleanly(f);
    no_child_left(f);
}

static void test_restart_after_status_3(void **state)
{
    restart_once(*state, 3);
}

/* Exiting 0 outside a stop is unexpected too: restarted. */
static void test_restart_after_status_0(void **state)
{
    restart_once(*state, 0);
}

#define CRASHES 4

static void stop_at_last_crash(struct fixture *f, const struct exit_rec *e)
{
    WK_UNUSED(e);
    if (f->nexits == CRASHES)
        raise(SIGTERM); /* read next turn, with the next restart (800 ms) pending */
}

static void quit_loop(struct wk_timer *t)
{
    wk_loop_stop(t->data);
}

/*
 * A worker that keeps dying at once is restarted after 100, 200, 400 ms; a
 * stop while the next restart waits cancels it.
 */
static void test_crash_loop_backs_off(void **state)
{
    struct fixture *f = *state;
    f->mode[0] = MODE_EXIT;
    f->exit_code[0] = 1;
    f->on_exited = stop_at_last_crash;
    start(f, 1, 5000);
    run(f, GUARD_MS);
    assert_int_equal(f->nexits, CRASHES);
    assert_int_equal(f->count[EV_READY], CRASHES);
    uint64_t gap[CRASHES - 1];
    for (unsigned k = 0; k + 1 < CRASHES; k++) {
        uint64_t ready_at = 0;
        assert_non_null(nth(f, EV_READY, k + 1, &ready_at));
        gap[k] = ready_at - f->exits[k].at;
        assert_int_equal(WEXITSTATUS(f->exits[k].status), 1);
    }
    print_message("restart gaps: %llu %llu %llu ms\n", (unsigned long long)gap[0],
                  (unsigned long long)gap[1], (unsigned long long)gap[2]);
    assert_true(gap[0] >= 90);
    assert_true(gap[1] >= 190);
    assert_true(gap[2] >= 390);
    assert_true(gap[1] > gap[0]);
    assert_true(gap[2] > gap[1]);
    assert_true(gap[2] < 400 + 2000); /* loosely: not the 10 s bound */
    assert_stopped_cleanly(f);

    /* The cancelled restart (due 800 ms after the last crash) never comes. */
    struct wk_timer wait;
    wk_timer_init(&wait, quit_loop, f->loop);
    wk_loop_timer_after(f->loop, &wait, 1200);
    run(f, GUARD_MS);
    assert_int_equal(f->count[EV_READY], CRASHES);
    assert_int_equal(wk_supervisor_running(f->sup), 0);
    no_child_left(f);
}

static void coalesced_report(struct fixture *f, const struct report *r)
{
    if (r->event != EV_READY)
        return;
    if (f->count[EV_READY] == 4) {
        for (unsigned i = 0; i < 4; i++)
            f->mode[i] = MODE_SERVE; /* the restarted ones stay */
        raise(SIGUSR1);              /* all four exit 3 at about the same time */
    } else if (f->count[EV_READY] == 8) {
        raise(SIGTERM);
    }
}

/* Four workers dying together (SIGCHLDs folded into one) are all reaped and restarted. */
static void test_simultaneous_exits(void **state)
{
    struct fixture *f = *state;
    for (unsigned i = 0; i < 4; i++)
        f->mode[i] = MODE_EXIT_ON_USR1;
    f->on_report = coalesced_report;
    start(f, 4, 5000);
    pid_t old[4];
    for (unsigned i = 0; i < 4; i++)
        old[i] = wk_supervisor_pid(f->sup, i);
    run(f, GUARD_MS);
    assert_int_equal(f->count[EV_READY], 8);
    assert_int_equal(f->nexits, 8);
    for (unsigned i = 0; i < 4; i++) {
        assert_int_equal(count_of(f, EV_READY, i), 2);
        assert_int_equal(count_of(f, EV_USR1, i), 1);
    }
    for (unsigned k = 0; k < 4; k++) {
        const struct exit_rec *e = &f->exits[k];
        assert_int_equal(e->pid, old[e->id]);
        assert_true(WIFEXITED(e->status));
        assert_int_equal(WEXITSTATUS(e->status), 3);
    }
    for (unsigned k = 4; k < 8; k++) {
        const struct report *r = nth(f, EV_READY, k, NULL);
        assert_int_not_equal(r->pid, old[r->id]);
        assert_int_equal(f->exits[k].status, 0);
    }
    assert_int_equal(f->pid_mismatch, 0);
    assert_stopped_cleanly(f);
    no_child_left(f);
}

static void hup_usr1_report(struct fixture *f, const struct report *r)
{
    if (r->event == EV_READY && f->count[EV_READY] == 3)
        raise(SIGHUP);
    else if (r->event == EV_HUP && f->count[EV_HUP] == 3)
        raise(SIGUSR1);
    else if (r->event == EV_USR1 && f->count[EV_USR1] == 3)
        raise(SIGTERM);
}

/* Without a hook, SIGHUP raised in the parent reaches every worker; SIGUSR1 too. */
static void test_hup_and_usr1_reach_workers(void **state)
{
    struct fixture *f = *state;
    f->on_report = hup_usr1_report;
    start(f, 3, 5000);
    run(f, GUARD_MS);
    assert_int_equal(f->hups, 0);
    for (unsigned i = 0; i < 3; i++) {
        assert_int_equal(count_of(f, EV_HUP, i), 1);
        assert_int_equal(count_of(f, EV_USR1, i), 1);
    }
    assert_int_equal(f->nexits, 3);
    for (unsigned k = 0; k < 3; k++)
        assert_int_equal(f->exits[k].status, 0);
    assert_stopped_cleanly(f);
    no_child_left(f);
}

static void ready2_hup(struct fixture *f, const struct report *r)
{
    if (r->event == EV_READY && f->count[EV_READY] == 2 && f->hups == 0)
        raise(SIGHUP);
}

static void retired2_term(struct fixture *f, const struct exit_rec *e)
{
    WK_UNUSED(e);
    if (f->nexits == 2)
        raise(SIGTERM);
}

/*
 * With a hook that renews, SIGHUP starts a new generation on new ids and
 * retires the old one with SIGQUIT: no worker gets SIGHUP, and the retired
 * ones are not restarted.
 */
static void test_hup_renews_generation(void **state)
{
    struct fixture *f = *state;
    f->on_report = ready2_hup;
    f->on_exited = retired2_term;
    f->renew_n = 2;
    f->retire_ms = 5000;
    struct capture cap;
    capture_begin(&cap);
    start(f, 2, 5000);
    wk_supervisor_on_hup(f->sup, renew_hook, f);
    assert_int_equal(wk_supervisor_generation(f->sup), 1);
    pid_t old[2] = {wk_supervisor_pid(f->sup, 0), wk_supervisor_pid(f->sup, 1)};
    run(f, GUARD_MS);
    char *log = capture_end(&cap);
    assert_int_equal(f->hups, 1);
    assert_int_equal(f->running_at_hup, 2);
    if (f->renew_rc != 0)
        fail_msg("renew: %d %s", f->renew_rc, f->renew_err);
    assert_int_equal(wk_supervisor_generation(f->sup), 2);
    assert_false(wk_supervisor_current(f->sup, 0));
    assert_true(wk_supervisor_current(f->sup, 2));
    assert_true(wk_supervisor_current(f->sup, 3));
    assert_int_equal(f->count[EV_HUP], 0);
    for (unsigned i = 0; i < 4; i++) {
        assert_int_equal(count_of(f, EV_READY, i), 1); /* the retired ones came back never */
        assert_int_equal(count_of(f, EV_QUIT, i), i < 2 ? 1 : 0);
        assert_int_equal(count_of(f, EV_TERM, i), i < 2 ? 0 : 1);
    }
    assert_int_equal(f->nexits, 4);
    for (unsigned k = 0; k < 4; k++) {
        assert_int_equal(f->exits[k].status, 0);
        assert_true(k < 2 ? f->exits[k].id < 2 : f->exits[k].id >= 2);
    }
    char line[128];
    for (unsigned i = 0; i < 2; i++) {
        snprintf(line, sizeof line, "worker id=%u pid=%d retire\n", i, (int)old[i]);
        assert_has(log, line);
        snprintf(line, sizeof line, "worker id=%u pid=%d exit status=0 retired\n", i, (int)old[i]);
        assert_has(log, line);
    }
    assert_has(log, "generation=2 workers=2\n");
    free(log);
    assert_stopped_cleanly(f);
    no_child_left(f);
}

static uint64_t hup_at;

static void ready1_hup_timed(struct fixture *f, const struct report *r)
{
    if (r->event == EV_READY && f->count[EV_READY] == 1 && f->hups == 0) {
        hup_at = wk_clock_monotonic_ms();
        raise(SIGHUP);
    }
}

static void first_exit_term(struct fixture *f, const struct exit_rec *e)
{
    WK_UNUSED(e);
    if (f->nexits == 1)
        raise(SIGTERM);
}

/* A retiring worker that does not finish is SIGKILLed after the retire bound. */
static void test_retire_timeout_kills(void **state)
{
    struct fixture *f = *state;
    f->mode[0] = MODE_IGNORE_QUIT;
    f->on_report = ready1_hup_timed;
    f->on_exited = first_exit_term;
    f->renew_n = 1;
    f->retire_ms = 300;
    struct capture cap;
    capture_begin(&cap);
    start(f, 1, 5000);
    wk_supervisor_on_hup(f->sup, renew_hook, f);
    pid_t stubborn = wk_supervisor_pid(f->sup, 0);
    run(f, GUARD_MS);
    char *log = capture_end(&cap);
    assert_int_equal(f->renew_rc, 0);
    assert_int_equal(f->nexits, 2);
    assert_int_equal(f->exits[0].id, 0);
    assert_int_equal(f->exits[0].pid, stubborn);
    assert_true(WIFSIGNALED(f->exits[0].status));
    assert_int_equal(WTERMSIG(f->exits[0].status), SIGKILL);
    uint64_t took = f->exits[0].at - hup_at;
    print_message("retire bound took %llu ms\n", (unsigned long long)took);
    assert_true(took >= 290 && took < 3000);
    char line[128];
    snprintf(line, sizeof line, "worker id=0 pid=%d retire-timeout kill\n", (int)stubborn);
    assert_has(log, line);
    free(log);
    assert_stopped_cleanly(f);
    no_child_left(f);
}

static void refuse_report(struct fixture *f, const struct report *r)
{
    if (r->event != EV_READY)
        return;
    if (f->count[EV_READY] == 1 && f->hups == 0) {
        raise(SIGHUP); /* 64 more, while worker 0 never retires */
    } else if (f->count[EV_READY] == 1 + WK_SUPERVISOR_MAX_WORKERS) {
        char err[WK_ERR_LEN] = "";
        f->renew_rc = wk_supervisor_renew(f->sup, WK_SUPERVISOR_MAX_WORKERS, 5000, 0, err);
        snprintf(f->renew_err, sizeof f->renew_err, "%s", err);
        raise(SIGTERM);
    }
}

/*
 * Renewal is refused, the serving generation left as it was, when too few
 * ids are free (a worker of an older generation still holds one), for a bad
 * count, and during a stop.
 */
static void test_renew_refused(void **state)
{
    struct fixture *f = *state;
    f->mode[0] = MODE_IGNORE_QUIT;
    f->on_report = refuse_report;
    f->renew_n = WK_SUPERVISOR_MAX_WORKERS;
    f->retire_ms = 0; /* no bound: worker 0 lives on until the stop */
    start(f, 1, 5000);
    wk_supervisor_on_hup(f->sup, renew_hook, f);
    char err[WK_ERR_LEN] = "";
    assert_int_equal(wk_supervisor_renew(f->sup, 0, 5000, 0, err), -EINVAL);
    assert_non_null(strstr(err, "out of range"));
    assert_int_equal(wk_supervisor_generation(f->sup), 1);
    run(f, 4 * GUARD_MS);
    assert_int_equal(f->renew_rc, -EBUSY);
    assert_non_null(strstr(f->renew_err, "still finishing"));
    assert_int_equal(wk_supervisor_generation(f->sup), 2);
    assert_int_equal(f->count[EV_READY], 1 + WK_SUPERVISOR_MAX_WORKERS);
    assert_int_equal(f->nexits, 1 + WK_SUPERVISOR_MAX_WORKERS);
    err[0] = '\0';
    assert_int_equal(wk_supervisor_renew(f->sup, 1, 5000, 0, err), -ECANCELED);
    assert_non_null(strstr(err, "stopping"));
    assert_stopped_cleanly(f);
    no_child_left(f);
}

static void crash_kills_retiree(struct fixture *f, const struct exit_rec *e)
{
    /* The new worker's first crash: its restart waits; now the old one exits too. */
    if (e->id == 1 && f->count[EV_QUIT] == 0 && f->nexits == 1)
        kill(wk_supervisor_pid(f->sup, 0), SIGKILL);
}

static void ready_after_both_term(struct fixture *f, const struct report *r)
{
    if (r->event == EV_READY && f->count[EV_READY] == 1 && f->hups == 0)
        raise(SIGHUP);
    else if (r->event == EV_READY && count_of(f, EV_READY, 1) >= 2 && f->nexits >= 2 &&
             !wk_supervisor_stopping(f->sup))
        raise(SIGTERM); /* a restarted one reported, after both exits (reports and exits race) */
}

/*
 * The last retired worker exiting while the new generation's only worker
 * waits for its restart ends nothing: the server is not stopping, the
 * worker comes back, and only SIGTERM stops the loop.
 */
static void test_retiree_exit_is_not_a_stop(void **state)
{
    struct fixture *f = *state;
    f->mode[0] = MODE_IGNORE_QUIT;
    f->mode[1] = MODE_EXIT;
    f->exit_code[1] = 3;
    f->on_report = ready_after_both_term;
    f->on_exited = crash_kills_retiree;
    f->renew_n = 1;
    f->retire_ms = 0;
    start(f, 1, 5000);
    wk_supervisor_on_hup(f->sup, renew_hook, f);
    run(f, GUARD_MS);
    assert_int_equal(f->renew_rc, 0);
    assert_true(wk_supervisor_stopping(f->sup)); /* the loop ended by SIGTERM, not before */
    assert_true(f->nexits >= 3);
    assert_int_equal(f->exits[0].id, 1);
    assert_int_equal(f->exits[1].id, 0);
    assert_true(WIFSIGNALED(f->exits[1].status));
    print_message("running when the retired worker exited: %u\n", f->exits[1].running);
    assert_true(count_of(f, EV_READY, 1) >= 2); /* restarted after the retired one left */
    assert_stopped_cleanly(f);
    no_child_left(f);
}

static void renew_then_term(struct fixture *f, const struct report *r)
{
    if (r->event == EV_READY && f->count[EV_READY] == 1 && f->hups == 0)
        raise(SIGHUP);
    else if (r->event == EV_READY && r->id == 1) {
        term_at = wk_clock_monotonic_ms();
        raise(SIGTERM);
    }
}

/*
 * A stop waits for the longest bound among the running workers: an old one
 * that ignores SIGTERM and SIGQUIT keeps its generation's 1500 ms although
 * the new generation's bound is 200 ms.
 */
static void test_stop_bound_of_old_generation(void **state)
{
    struct fixture *f = *state;
    f->mode[0] = MODE_IGNORE_TERM_QUIT;
    f->on_report = renew_then_term;
    start(f, 1, 1500);
    wk_supervisor_on_hup(f->sup, renew_hook_short, f);
    pid_t old = wk_supervisor_pid(f->sup, 0);
    run(f, GUARD_MS);
    uint64_t took = wk_clock_monotonic_ms() - term_at;
    print_message("stop took %llu ms\n", (unsigned long long)took);
    assert_int_equal(f->renew_rc, 0);
    assert_true(took >= 1450 && took < 5000);
    const struct exit_rec *e = f->exits[0].pid == old ? &f->exits[0] : &f->exits[1];
    assert_int_equal(e->pid, old);
    assert_true(WIFSIGNALED(e->status));
    assert_int_equal(WTERMSIG(e->status), SIGKILL);
    assert_stopped_cleanly(f);
    no_child_left(f);
}

static void late_report(struct fixture *f, const struct report *r)
{
    WK_UNUSED(r);
    if (f->count[EV_HUP] == 1 && f->count[EV_USR1] == 1 && f->count[EV_READY] == 1 &&
        !wk_supervisor_stopping(f->sup))
        raise(SIGTERM);
}

/*
 * Signals sent to a worker before its own loop exists wait for that loop:
 * they neither kill it nor get lost.
 */
static void test_signals_before_worker_loop(void **state)
{
    struct fixture *f = *state;
    f->mode[0] = MODE_LATE;
    f->on_report = late_report;
    start(f, 1, 5000);
    pid_t pid = wk_supervisor_pid(f->sup, 0);
    assert_int_equal(kill(pid, SIGHUP), 0);
    assert_int_equal(kill(pid, SIGUSR1), 0);
    run(f, GUARD_MS);
    assert_int_equal(f->count[EV_READY], 1);
    assert_int_equal(f->count[EV_HUP], 1);
    assert_int_equal(f->count[EV_USR1], 1);
    assert_int_equal(f->nexits, 1);
    assert_int_equal(f->exits[0].pid, pid);
    assert_int_equal(f->exits[0].status, 0);
    no_child_left(f);
}

static void ready2_term_timed(struct fixture *f, const struct report *r)
{
    if (r->event == EV_READY && f->count[EV_READY] == 2) {
        term_at = wk_clock_monotonic_ms();
        raise(SIGTERM);
    }
}

/* A worker that ignores SIGTERM is SIGKILLed after the stop bound, and the loop still stops. */
static void test_kill_after_stop_timeout(void **state)
{
    struct fixture *f = *state;
    f->mode[1] = MODE_IGNORE_TERM;
    f->on_report = ready2_term_timed;
    struct capture cap;
    capture_begin(&cap);
    start(f, 2, 300);
    pid_t stubborn = wk_supervisor_pid(f->sup, 1);
    run(f, GUARD_MS);
    uint64_t took = wk_clock_monotonic_ms() - term_at;
    char *log = capture_end(&cap);
    print_message("stop took %llu ms\n", (unsigned long long)took);
    assert_true(took >= 290);
    assert_true(took < 3000);
    assert_int_equal(f->nexits, 2);
    for (unsigned k = 0; k < 2; k++) {
        const struct exit_rec *e = &f->exits[k];
        if (e->id == 0) {
            assert_int_equal(e->status, 0);
        } else {
            assert_int_equal(e->pid, stubborn);
            assert_true(WIFSIGNALED(e->status));
            assert_int_equal(WTERMSIG(e->status), SIGKILL);
        }
    }
    assert_has(log, "stopping signal=TERM workers=2\n");
    assert_has(log, "stop-timeout workers=1\n");
    char line[128];
    snprintf(line, sizeof line, "worker id=1 pid=%d exit signal=9 (Killed)\n", (int)stubborn);
    assert_has(log, line);
    free(log);
    assert_stopped_cleanly(f);
    no_child_left(f);
}

static void ready2_quit(struct fixture *f, const struct report *r)
{
    if (r->event == EV_READY && f->count[EV_READY] == 2)
        wk_loop_stop(f->loop);
}

/* wk_supervisor_free() SIGKILLs and reaps the workers still running. */
static void test_free_kills_leftovers(void **state)
{
    struct fixture *f = *state;
    f->on_report = ready2_quit;
    start(f, 2, 5000);
    pid_t pids[2] = {wk_supervisor_pid(f->sup, 0), wk_supervisor_pid(f->sup, 1)};
    run(f, GUARD_MS);
    assert_int_equal(wk_supervisor_running(f->sup), 2);
    assert_false(wk_supervisor_stopping(f->sup));
    no_child_left(f); /* frees */
    for (unsigned i = 0; i < 2; i++) {
        errno = 0;
        assert_int_equal(kill(pids[i], 0), -1);
        assert_int_equal(errno, ESRCH);
    }
    assert_int_equal(f->nexits, 0); /* exited() is not called at free */
}

/* Bad arguments: nothing starts, and the message says why. */
static void test_bad_arguments(void **state)
{
    struct fixture *f = *state;
    char err[WK_ERR_LEN];
    struct wk_supervisor *s = NULL;
    err[0] = '\0';
    assert_int_equal(wk_supervisor_start(f->loop, 0, 0, &ops, f, &s, err), -EINVAL);
    assert_non_null(strstr(err, "out of range 1..64"));
    err[0] = '\0';
    assert_int_equal(
        wk_supervisor_start(f->loop, WK_SUPERVISOR_MAX_WORKERS + 1, 0, &ops, f, &s, err), -EINVAL);
    assert_non_null(strstr(err, "65 is out of range"));
    const struct wk_supervisor_ops none = {.worker = NULL};
    err[0] = '\0';
    assert_int_equal(wk_supervisor_start(f->loop, 1, 0, &none, f, &s, err), -EINVAL);
    assert_non_null(strstr(err, "no worker function"));
    assert_int_equal(wk_supervisor_start(f->loop, 1, 0, NULL, f, &s, err), -EINVAL);
    assert_null(s);
    wk_supervisor_free(NULL);
    errno = 0;
    assert_int_equal(waitpid(-1, NULL, WNOHANG), -1);
    assert_int_equal(errno, ECHILD);
}

int main(void)
{
    wk_log_init("test", WK_LOG_INFO);
    /*
     * As a server does. Also the passed-on signals are ignored here (as
     * under nohup): the loop still reads them while they are blocked, the
     * workers must get them back at their defaults, and one left pending
     * when a case's loop is freed cannot kill the test.
     */
    signal(SIGPIPE, SIG_IGN);
    signal(SIGHUP, SIG_IGN);
    signal(SIGUSR1, SIG_IGN);
    signal(SIGTERM, SIG_IGN);
    signal(SIGINT, SIG_IGN);
    signal(SIGQUIT, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_start_ids_and_term, setup, teardown),
        cmocka_unit_test_setup_teardown(test_int_stops, setup, teardown),
        cmocka_unit_test_setup_teardown(test_restart_after_status_3, setup, teardown),
        cmocka_unit_test_setup_teardown(test_restart_after_status_0, setup, teardown),
        cmocka_unit_test_setup_teardown(test_crash_loop_backs_off, setup, teardown),
        cmocka_unit_test_setup_teardown(test_simultaneous_exits, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hup_and_usr1_reach_workers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hup_renews_generation, setup, teardown),
        cmocka_unit_test_setup_teardown(test_retire_timeout_kills, setup, teardown),
        cmocka_unit_test_setup_teardown(test_renew_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_retiree_exit_is_not_a_stop, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stop_bound_of_old_generation, setup, teardown),
        cmocka_unit_test_setup_teardown(test_signals_before_worker_loop, setup, teardown),
        cmocka_unit_test_setup_teardown(test_kill_after_stop_timeout, setup, teardown),
        cmocka_unit_test_setup_teardown(test_free_kills_leftovers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_arguments, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
