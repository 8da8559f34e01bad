/*
 * supervisor.h: the parent of a server's worker processes. The parent binds
 * the listening sockets and drops privileges; then the supervisor forks N
 * workers that serve on the inherited sockets, each with its own loop, and
 * the parent only watches them: it restarts a worker that exits (with a
 * growing pause while it keeps dying young), passes SIGHUP and SIGUSR1 on to
 * every worker, and on SIGTERM or SIGINT stops them all, SIGKILLing those
 * still running after a bound, then stops the parent's loop.
 *
 * Generations: wk_supervisor_renew() starts a new set of workers (forked
 * from the parent as it is then, e.g. with a configuration read again) and
 * asks the ones before to retire with SIGQUIT: they stop accepting, finish
 * their connections and exit, and are not restarted. Worker ids go from 0 to
 * WK_SUPERVISOR_MAX_IDS - 1: a new generation takes ids no running worker
 * holds, so that what is kept per id (a scoreboard row) is never shared by
 * two processes at once.
 *
 * Owns the worker table, its timers, and the signal callbacks it adds to the
 * parent's loop (SIGCHLD, SIGHUP, SIGUSR1, SIGTERM, SIGINT: five of the
 * loop's eight). Does not own the loop, the listening sockets or whatever
 * the workers share with the parent.
 *
 * A worker starts in the child right after fork(), inside ops->worker, in
 * this state:
 *   - the parent's loop is gone: the child's copy of it was freed
 *     (wk_loop_free(), which closes the child's references to the parent's
 *     epoll fd and signalfd), and so was the child's copy of the supervisor;
 *     neither may be used. Every other inherited fd stays open;
 *   - SIGHUP, SIGUSR1, SIGTERM, SIGINT and SIGQUIT are blocked and have their default
 *     dispositions; every other signal is unblocked. A signal the parent
 *     passed on before the worker was ready waits, pending: a worker whose
 *     own loop takes these signals through wk_loop_signal() (as wk_server
 *     does) reads it there, and nothing is lost or fatal in between. A
 *     worker that handles them any other way unblocks them itself; one that
 *     never takes SIGHUP or SIGUSR1 leaves them blocked, which ignores them;
 *   - SIGCHLD has its default disposition; any other disposition is the
 *     parent's (SIGPIPE stays ignored if the parent ignored it);
 *   - the child gets SIGTERM if the parent dies (PR_SET_PDEATHSIG; a worker
 *     that changes its credentials loses this), so orphans stop gracefully.
 * The value ops->worker returns becomes the child's exit status: the child
 * flushes its log and stdio, then _exit()s, never returning into the
 * caller's code and never running the parent's atexit handlers. The parent's
 * log and stdio buffers are flushed before each fork, so nothing is written
 * twice.
 *
 * Single-threaded, like the loop: fork() happens inside loop callbacks
 * (restarts run from a timer).
 */
#ifndef WK_SUPERVISOR_H
#define WK_SUPERVISOR_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "common/loop.h"
#include "common/wk.h"

/* Most workers of one generation. */
#define WK_SUPERVISOR_MAX_WORKERS 64

/* Worker ids: room for two whole generations, the one serving and the one retiring. */
#define WK_SUPERVISOR_MAX_IDS (2 * WK_SUPERVISOR_MAX_WORKERS)

/* The pause before restarting a worker that exited: the first, and the most. */
#define WK_SUPERVISOR_BACKOFF_MIN_MS 100
#define WK_SUPERVISOR_BACKOFF_MAX_MS 10000

/*
 * A worker that exits within this long of its start restarts after twice
 * its previous pause (up to the most); one that lived longer, after the
 * first pause again.
 */
#define WK_SUPERVISOR_YOUNG_MS 10000

struct wk_supervisor;

/*
 * Runs in the child, worker id (0..n-1), with arg as given to
 * wk_supervisor_start() (the child's copy of what it points to). Serves and
 * returns the exit status (0..255).
 */
typedef int wk_supervisor_worker_fn(unsigned id, void *arg);

/*
 * Runs in the parent after worker id (process pid) exited and was reaped,
 * before any restart: the parent clears what the worker left in shared
 * state. status is as waitpid() gives it (WIFEXITED, WTERMSIG...), or -1
 * when something else in the process reaped the worker first (a bug there).
 */
typedef void wk_supervisor_exited_fn(unsigned id, pid_t pid, int status, void *arg);

/* Runs in the parent on SIGHUP, before the signal is passed to the workers. */
typedef void wk_supervisor_hup_fn(struct wk_supervisor *s, void *arg);

struct wk_supervisor_ops {
    wk_supervisor_worker_fn *worker; /* required */
    wk_supervisor_exited_fn *exited; /* may be NULL */
};

/*
 * Starts n workers (1..WK_SUPERVISOR_MAX_WORKERS) from the calling process
 * and supervises them on loop, which then runs in the parent:
 *   - SIGCHLD reaps every worker that exited ("worker id=0 pid=123 exit
 *     status=3", or "signal=9 (Killed)"), calls ops->exited, and, unless a
 *     stop began, restarts it after a pause ("worker id=0 restart in=200ms")
 *     that starts at WK_SUPERVISOR_BACKOFF_MIN_MS and doubles, up to
 *     WK_SUPERVISOR_BACKOFF_MAX_MS, while the worker keeps exiting within
 *     WK_SUPERVISOR_YOUNG_MS of its start. Any exit outside a stop, status 0
 *     included, is unexpected and restarts. Only this supervisor's own
 *     children are reaped (by pid), never other children of the process;
 *   - SIGHUP runs the hook set with wk_supervisor_on_hup() (which may renew
 *     the workers); with no hook, it goes to every running worker. SIGUSR1
 *     goes to every running worker ("forward signal=USR1 workers=2");
 *   - the first SIGTERM or SIGINT begins the stop ("stopping signal=TERM
 *     workers=2"): pending restarts are cancelled, the signal goes to every
 *     running worker, later ones are ignored. Workers still running after
 *     stop_timeout_ms (0: no bound; choose it above the workers' own
 *     graceful-stop bound) get SIGKILL ("stop-timeout workers=1", "worker
 *     id=1 pid=124 kill"). Once none runs ("stopped workers=0"),
 *     wk_loop_stop(loop). A worker's start is logged as "worker id=0
 *     pid=123 start".
 * SIGCHLD's disposition is set to the default (an ignored SIGCHLD would reap
 * the workers behind the supervisor's back).
 *
 * Returns 0 with *out (free it with wk_supervisor_free()), or -errno with a
 * message in err: -EINVAL for a bad n or no ops->worker, -ENOMEM, -ENOSPC
 * when the loop has no room for the five signals, or fork()'s error. On
 * failure the workers already started are SIGKILLed and reaped, and the
 * loop may keep signal callbacks that point into freed memory: free the
 * loop, do not run it again.
 */
int wk_supervisor_start(struct wk_loop *loop, unsigned n, uint64_t stop_timeout_ms,
                        const struct wk_supervisor_ops *ops, void *arg, struct wk_supervisor **out,
                        char err[WK_ERR_LEN]);

/*
 * Starts a new generation of n workers (1..WK_SUPERVISOR_MAX_WORKERS) on
 * ids that no running worker holds ("worker id=2 pid=130 start"), forked
 * from the parent as it is now, and then sends SIGQUIT to every worker of
 * the generation before ("worker id=0 pid=123 retire"). Those are not
 * restarted when they exit ("worker id=0 pid=123 exit status=0 retired"),
 * and get SIGKILL if still running after retire_timeout_ms (0: no bound);
 * one that was waiting to restart is simply gone. ops->exited is called for
 * them as for any worker. The workers a restart brings back from then on
 * belong to the new generation. stop_timeout_ms is the new workers' stop
 * bound, in place of the one given to wk_supervisor_start(); a stop waits
 * for the longest bound among the workers then running, old ones included.
 * Logs "generation=2 workers=n".
 *
 * Returns 0, or -errno with a message in err, the old generation serving
 * on: -ECANCELED during a stop, -EINVAL for a bad n, -EBUSY when fewer than
 * n ids are free (earlier generations are still finishing), or fork()'s
 * error (the new workers already forked are SIGKILLed and reaped, with
 * ops->exited).
 */
int wk_supervisor_renew(struct wk_supervisor *s, unsigned n, uint64_t stop_timeout_ms,
                        uint64_t retire_timeout_ms, char err[WK_ERR_LEN]);

/* The current generation: 1 at the start, one more with each renewal. */
unsigned wk_supervisor_generation(const struct wk_supervisor *s);

/* True when id belongs to the current generation (running, or waiting to restart). */
bool wk_supervisor_current(const struct wk_supervisor *s, unsigned id);

/* The default number of workers: the CPUs this process may run on, at most the maximum. */
unsigned wk_supervisor_default_workers(void);

/* The pid of worker id (any generation), or 0 when it is not running (or id is out of range). */
pid_t wk_supervisor_pid(const struct wk_supervisor *s, unsigned id);

/* How many workers are running now (started and not yet reaped), of every generation. */
unsigned wk_supervisor_running(const struct wk_supervisor *s);

/* True once a stop began (SIGTERM or SIGINT). */
bool wk_supervisor_stopping(const struct wk_supervisor *s);

/* Sets (fn NULL: removes) the parent's own reaction to SIGHUP, e.g. rereading its config. */
void wk_supervisor_on_hup(struct wk_supervisor *s, wk_supervisor_hup_fn *fn, void *arg);

/* Sets (fn NULL: removes) what the parent does when a stop begins, before it is passed on. */
void wk_supervisor_on_stop(struct wk_supervisor *s, wk_supervisor_hup_fn *fn, void *arg);

/*
 * Frees s after its loop returned, before the loop is freed. Workers still
 * running are SIGKILLed and reaped (logged, without calling ops->exited:
 * the shared state goes with the parent). The loop keeps the signal
 * callbacks, which point at s: free the loop, do not run it again. NULL is
 * fine.
 */
void wk_supervisor_free(struct wk_supervisor *s);

#endif
