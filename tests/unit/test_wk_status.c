/*
 * test_wk_status.c: the status socket and its fetch (common/status.c) on a
 * real loop and real AF_UNIX sockets under a private directory: round trips,
 * large answers, unknown commands and failing answer callbacks, missing and
 * stale servers, the socket file's mode and directories, a second server on a
 * live path, timeouts, hostile clients (long lines, silent clients holding
 * every slot, clients that leave without reading), cancelling, and answers
 * longer than the limit. Every loop run is bounded by a guard timer.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#include <cmocka.h>

#include "common/buf.h"
#include "common/clock.h"
#include "common/log.h"
#include "common/loop.h"
#include "common/status.h"
#include "support/wk_net.h"

#define GUARD_MS 5000
#define SOCKETS  "listen unix:/run/x.sock\nconn 3 peer=unix\n" /* the answer to "sockets" */
#define BIG_LEN  ((size_t)4 << 20)
#define CHUNK    65536
#define SILENT   8 /* the server's client slots */

struct fixture;

/* One fetch's outcome, as the reply callback saw it. */
struct reply {
    struct fixture *f;
    int calls;
    int err;
    char *data; /* a copy of the answer */
    size_t len;
    uint64_t at_ms; /* when it came, on wk_clock_monotonic_ms() */
};

/* A raw server end that writes total pattern bytes, then closes (or not). */
struct writer {
    struct fixture *f;
    struct wk_io io;
    size_t total;
    size_t sent;
    bool close_at_end;
    bool failed; /* the peer went away first */
};

/* A raw client end that collects what the server sends until it closes. */
struct reader {
    struct fixture *f;
    struct wk_io io;
    char buf[256];
    size_t len;
    bool closed;
};

struct fixture {
    struct wk_loop *loop;
    struct wk_timer guard; /* fires only when a test hangs */
    bool guard_fired;
    struct wk_timer tick; /* an expected stop: the loop has run long enough */
    char dir[64];
    char path[192]; /* dir/status.sock */
    struct wk_status *status;
    int pending; /* replies or closes awaited before the loop stops */
    /* What the answer callback saw. */
    int asked;
    char cmd[WK_STATUS_CMD_MAX + 1];
    size_t cmdlen;
    /* The silent-clients test closes silent[0] from a timer. */
    int silent[SILENT];
    struct wk_timer later;
    struct wk_timer later2;
    struct reply *later_reply;
    bool slot_freed;
    size_t answer_len; /* the length of the answer to "len" */
    char *copies[8];   /* reply copies not yet freed: teardown frees them after a failure */
};

static unsigned char pattern(size_t i)
{
    /* 251 is prime: a chunk lost, repeated or swapped at any power of two shows. */
    return (unsigned char)((i % 251) ^ (i >> 16));
}

/* Appends n pattern bytes to out. */
static int append_pattern(struct wk_buf *out, size_t n)
{
    for (size_t off = 0; off < n;) {
        char *space;
        size_t avail;
        size_t want = n - off < CHUNK ? n - off : CHUNK;
        int rc = wk_buf_reserve(out, want, &space, &avail);
        if (rc < 0)
            return rc;
        for (size_t i = 0; i < want; i++)
            space[i] = (char)pattern(off + i);
        wk_buf_commit(out, want);
        off += want;
    }
    return 0;
}

static bool is_pattern(const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if ((unsigned char)p[i] != pattern(i))
            return false;
    }
    return true;
}

static bool cmd_is(const char *cmd, size_t len, const char *want)
{
    return len == strlen(want) && memcmp(cmd, want, len) == 0;
}

/* The answers of the server under test. */
static int answer(const char *cmd, size_t len, struct wk_buf *out, void *arg)
{
    struct fixture *f = arg;
    f->asked++;
    f->cmdlen = len < sizeof f->cmd - 1 ? len : sizeof f->cmd - 1;
    memcpy(f->cmd, cmd, f->cmdlen);
    f->cmd[f->cmdlen] = '\0';
    if (cmd_is(cmd, len, "sockets"))
        return wk_buf_append(out, WK_STRLIT(SOCKETS));
    if (cmd_is(cmd, len, "big"))
        return append_pattern(out, BIG_LEN);
    if (cmd_is(cmd, len, "len"))
        return append_pattern(out, f->answer_len);
    if (cmd_is(cmd, len, "eio"))
        return -EIO;
    if (cmd_is(cmd, len, "eio-partial")) {
        wk_buf_append(out, WK_STRLIT("half an answer"));
        return -EIO;
    }
    if (cmd_is(cmd, len, "enoent-partial")) {
        wk_buf_append(out, WK_STRLIT("half an answer"));
        return -ENOENT;
    }
    return -ENOENT;
}

static void on_guard(struct wk_timer *t)
{
    struct fixture *f = t->data;
    f->guard_fired = true;
    wk_loop_stop(f->loop);
}

static void on_tick(struct wk_timer *t)
{
    struct fixture *f = t->data;
    wk_loop_stop(f->loop);
}

static void done_one(struct fixture *f)
{
    if (--f->pending == 0)
        wk_loop_stop(f->loop);
}

/* Replaces old by new among the copies the fixture frees at teardown. */
static void keep(struct fixture *f, char *old, char *new)
{
    for (size_t i = 0; i < WK_ARRAY_LEN(f->copies); i++) {
        if (f->copies[i] == old) {
            f->copies[i] = new;
            return;
        }
    }
    if (old == NULL)
        fail_msg("more than %zu reply copies at once", WK_ARRAY_LEN(f->copies));
}

static void on_reply(int err, const char *data, size_t len, void *arg)
{
    struct reply *r = arg;
    r->calls++;
    r->err = err;
    r->len = len;
    r->at_ms = wk_clock_monotonic_ms();
    keep(r->f, r->data, NULL);
    free(r->data);
    r->data = malloc(len + 1);
    assert_non_null(r->data);
    keep(r->f, NULL, r->data);
    if (len > 0) {
        assert_non_null(data);
        memcpy(r->data, data, len);
    }
    r->data[len] = '\0';
    done_one(r->f);
}

/* Runs the loop until pending reaches 0; a hang fails the test. */
static void run(struct fixture *f, int pending)
{
    f->pending = pending;
    f->guard_fired = false;
    assert_int_equal(wk_loop_timer_after(f->loop, &f->guard, GUARD_MS), 0);
    assert_int_equal(wk_loop_run(f->loop), 0);
    wk_loop_timer_stop(f->loop, &f->guard);
    if (f->guard_fired)
        fail_msg("the loop ran %d ms without finishing (%d events still awaited)", GUARD_MS,
                 f->pending);
}

/* Runs the loop for about ms, whatever happens (nothing should stop it before). */
static void run_for(struct fixture *f, uint64_t ms)
{
    f->pending = -1;
    assert_int_equal(wk_loop_timer_after(f->loop, &f->tick, ms), 0);
    assert_int_equal(wk_loop_run(f->loop), 0);
    wk_loop_timer_stop(f->loop, &f->tick);
}

static void open_server(struct fixture *f)
{
    char err[WK_ERR_LEN] = "";
    int rc = wk_status_open(f->loop, f->path, answer, f, &f->status, err);
    if (rc != 0)
        fail_msg("wk_status_open %s: %d %s", f->path, rc, err);
}

/* Fetches cmd from f->path and runs the loop until the reply. */
static void fetch(struct fixture *f, const char *cmd, uint64_t timeout_ms, struct reply *r)
{
    struct wk_status_fetch *h = NULL;
    *r = (struct reply){.f = f};
    int rc = wk_status_fetch(f->loop, f->path, cmd, timeout_ms, on_reply, r, &h);
    assert_int_equal(rc, 0);
    assert_non_null(h);
    run(f, 1);
    assert_int_equal(r->calls, 1);
}

static void reply_fini(struct reply *r)
{
    if (r->data != NULL)
        keep(r->f, r->data, NULL);
    free(r->data);
    r->data = NULL;
}

static void sun_at(struct sockaddr_un *un, const char *path)
{
    memset(un, 0, sizeof *un);
    un->sun_family = AF_UNIX;
    assert_true(strlen(path) < sizeof un->sun_path);
    strcpy(un->sun_path, path);
}

/* A raw unix socket bound at path; listening if backlog >= 0. Returns the fd. */
static int raw_bind(const char *path, int backlog)
{
    struct sockaddr_un un;
    sun_at(&un, path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(fd >= 0);
    assert_int_equal(bind(fd, (struct sockaddr *)&un, sizeof un), 0);
    if (backlog >= 0)
        assert_int_equal(listen(fd, backlog), 0);
    return fd;
}

/* A raw client connected to path (blocking connect, from the backlog). */
static int raw_connect(const char *path, bool nonblock)
{
    struct sockaddr_un un;
    sun_at(&un, path);
    int fd = wk_test_connect((struct sockaddr *)&un, sizeof un, nonblock);
    if (fd < 0)
        fail_msg("connect %s: %s", path, strerror(-fd));
    return fd;
}

static void write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        assert_true(w > 0);
        p += w;
        n -= (size_t)w;
    }
}

static void on_readable(struct wk_io *io, unsigned events)
{
    (void)events;
    struct reader *r = io->data;
    if (r->closed)
        return;
    if (wk_test_read_some(io->fd, r->buf, &r->len, sizeof r->buf)) {
        r->closed = true;
        wk_loop_io_del(r->f->loop, io);
        done_one(r->f);
    }
}

static void reader_start(struct fixture *f, struct reader *r, int fd)
{
    *r = (struct reader){.f = f, .io = {.fd = fd, .cb = on_readable, .data = r}};
    assert_int_equal(fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK), 0);
    assert_int_equal(wk_loop_io_add(f->loop, &r->io, WK_IO_READ), 0);
}

static void on_writable(struct wk_io *io, unsigned events)
{
    (void)events;
    struct writer *w = io->data;
    char chunk[CHUNK];
    while (w->sent < w->total) {
        size_t n = w->total - w->sent < sizeof chunk ? w->total - w->sent : sizeof chunk;
        for (size_t i = 0; i < n; i++)
            chunk[i] = (char)pattern(w->sent + i);
        ssize_t k = send(io->fd, chunk, n, MSG_NOSIGNAL);
        if (k < 0 && errno == EINTR)
            continue;
        if (k < 0 && errno == EAGAIN)
            return;
        if (k < 0) {
            w->failed = true; /* the fetch gave up and closed */
            break;
        }
        w->sent += (size_t)k;
    }
    wk_loop_io_del(w->f->loop, io);
    if (w->close_at_end || w->failed) {
        close(io->fd);
        io->fd = -1;
    }
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    remove(path);
    return 0;
}

static int setup(void **state)
{
    static struct fixture f;
    char err[WK_ERR_LEN];
    memset(&f, 0, sizeof f);
    wk_log_init("test", WK_LOG_ERROR);
    f.loop = wk_loop_new(err);
    if (f.loop == NULL)
        fail_msg("wk_loop_new: %s", err);
    wk_timer_init(&f.guard, on_guard, &f);
    wk_timer_init(&f.tick, on_tick, &f);
    snprintf(f.dir, sizeof f.dir, "/tmp/wk-status-XXXXXX");
    assert_non_null(mkdtemp(f.dir));
    snprintf(f.path, sizeof f.path, "%s/status.sock", f.dir);
    for (int i = 0; i < SILENT; i++)
        f.silent[i] = -1;
    *state = &f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    wk_status_close(f->status);
    for (int i = 0; i < SILENT; i++) {
        if (f->silent[i] >= 0)
            close(f->silent[i]);
    }
    for (size_t i = 0; i < WK_ARRAY_LEN(f->copies); i++)
        free(f->copies[i]);
    wk_loop_free(f->loop);
    nftw(f->dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    return 0;
}

/* 1. The answer comes back whole; the callback sees the command without its newline. */
static void test_round_trip(void **state)
{
    struct fixture *f = *state;
    struct reply r;
    open_server(f);
    fetch(f, "sockets", 2000, &r);
    assert_int_equal(r.err, 0);
    assert_int_equal(r.len, strlen(SOCKETS));
    assert_memory_equal(r.data, SOCKETS, r.len);
    assert_int_equal(f->asked, 1);
    assert_int_equal(f->cmdlen, 7);
    assert_string_equal(f->cmd, "sockets");
    reply_fini(&r);
    /* The server is ready for the next client. */
    fetch(f, "sockets", 2000, &r);
    assert_int_equal(r.err, 0);
    assert_int_equal(r.len, strlen(SOCKETS));
    assert_int_equal(f->asked, 2);
    reply_fini(&r);
}

/* A fetch started from inside a reply callback works (the first one is gone by then). */
static void on_reply_chain(int err, const char *data, size_t len, void *arg)
{
    struct reply *r = arg;
    struct wk_status_fetch *h;
    on_reply(err, data, len, arg);
    r[1] = (struct reply){.f = r->f};
    assert_int_equal(wk_status_fetch(r->f->loop, r->f->path, "sockets", 2000, on_reply, &r[1], &h),
                     0);
}

static void test_fetch_from_reply(void **state)
{
    struct fixture *f = *state;
    struct reply r[2];
    struct wk_status_fetch *h;
    open_server(f);
    r[0] = (struct reply){.f = f};
    assert_int_equal(wk_status_fetch(f->loop, f->path, "sockets", 2000, on_reply_chain, r, &h), 0);
    run(f, 2);
    assert_int_equal(r[0].calls, 1);
    assert_int_equal(r[1].calls, 1);
    assert_int_equal(r[1].err, 0);
    assert_memory_equal(r[1].data, SOCKETS, strlen(SOCKETS));
    reply_fini(&r[0]);
    reply_fini(&r[1]);
}

/* 2. 4 MiB, more than the socket buffers hold, arrives whole and in order. */
static void test_large_answer(void **state)
{
    struct fixture *f = *state;
    struct reply r;
    open_server(f);
    fetch(f, "big", 4000, &r);
    assert_int_equal(r.err, 0);
    assert_int_equal(r.len, BIG_LEN);
    assert_true(is_pattern(r.data, r.len));
    reply_fini(&r);
}

/*
 * Answers up to WK_STATUS_ANSWER_MAX, the most a server may make, arrive
 * whole: -EMSGSIZE is for answers longer than the maximum. The lengths just
 * under it come first, so that a failure says where the limit really is.
 */
static void test_answer_of_max_length(void **state)
{
    struct fixture *f = *state;
    struct reply r;
    size_t lens[] = {WK_STATUS_ANSWER_MAX - CHUNK, WK_STATUS_ANSWER_MAX - CHUNK + 1,
                     WK_STATUS_ANSWER_MAX - 1, WK_STATUS_ANSWER_MAX};
    open_server(f);
    for (size_t i = 0; i < WK_ARRAY_LEN(lens); i++) {
        f->answer_len = lens[i];
        fetch(f, "len", 4000, &r);
        assert_int_equal(f->asked, (int)i + 1);
        if (r.err != 0)
            fail_msg("an answer of WK_STATUS_ANSWER_MAX - %zu bytes got err %d (%s)",
                     WK_STATUS_ANSWER_MAX - lens[i], r.err, strerror(-r.err));
        assert_int_equal(r.len, lens[i]);
        assert_true(is_pattern(r.data, r.len));
        reply_fini(&r);
    }
}

/* 3. -ENOENT becomes the "unknown command" text; another error an empty answer. */
static void test_unknown_command_and_failing_answer(void **state)
{
    struct fixture *f = *state;
    struct reply r;
    const char *want = "error: unknown command";
    open_server(f);
    fetch(f, "nosuch", 2000, &r);
    assert_int_equal(r.err, 0);
    assert_true(r.len > strlen(want));
    assert_memory_equal(r.data, want, strlen(want));
    assert_non_null(strstr(r.data, "\"nosuch\""));
    assert_string_equal(f->cmd, "nosuch");
    reply_fini(&r);
    /* Whatever the callback appended before -ENOENT is dropped. */
    fetch(f, "enoent-partial", 2000, &r);
    assert_int_equal(r.err, 0);
    assert_memory_equal(r.data, want, strlen(want));
    assert_null(strstr(r.data, "half an answer"));
    reply_fini(&r);
    /* Another error: the server just closes. */
    fetch(f, "eio", 2000, &r);
    assert_int_equal(r.err, 0);
    assert_int_equal(r.len, 0);
    reply_fini(&r);
    fetch(f, "eio-partial", 2000, &r);
    assert_int_equal(r.err, 0);
    assert_int_equal(r.len, 0);
    reply_fini(&r);
    assert_int_equal(f->asked, 4);
}

/* The command line: CRLF accepted, split writes joined, 63 bytes plus LF the longest. */
static void test_command_line_forms(void **state)
{
    struct fixture *f = *state;
    struct reader rd;
    open_server(f);
    { /* "sockets\r\n" */
        int fd = raw_connect(f->path, false);
        write_all(fd, WK_STRLIT("sockets\r\n"));
        reader_start(f, &rd, fd);
        run(f, 1);
        assert_string_equal(f->cmd, "sockets");
        assert_int_equal(rd.len, strlen(SOCKETS));
        assert_memory_equal(rd.buf, SOCKETS, rd.len);
        close(fd);
    }
    { /* "sock" then, a moment later, "ets\n" */
        int fd = raw_connect(f->path, false);
        write_all(fd, WK_STRLIT("sock"));
        reader_start(f, &rd, fd);
        run_for(f, 50);
        assert_int_equal(f->asked, 1);
        assert_false(rd.closed);
        write_all(fd, WK_STRLIT("ets\n"));
        run(f, 1);
        assert_int_equal(f->asked, 2);
        assert_string_equal(f->cmd, "sockets");
        assert_int_equal(rd.len, strlen(SOCKETS));
        close(fd);
    }
    { /* the longest command through the fetch: 63 bytes */
        char cmd[WK_STATUS_CMD_MAX];
        struct reply r;
        memset(cmd, 'c', sizeof cmd - 1);
        cmd[sizeof cmd - 1] = '\0';
        fetch(f, cmd, 2000, &r);
        assert_int_equal(r.err, 0);
        assert_int_equal(f->cmdlen, WK_STATUS_CMD_MAX - 1);
        assert_memory_equal(f->cmd, cmd, WK_STATUS_CMD_MAX - 1);
        reply_fini(&r);
    }
    { /* one byte more is refused before anything is sent */
        char cmd[WK_STATUS_CMD_MAX + 1];
        struct reply r = {.f = f};
        struct wk_status_fetch *h = NULL;
        memset(cmd, 'c', sizeof cmd - 1);
        cmd[sizeof cmd - 1] = '\0';
        assert_true(wk_status_fetch(f->loop, f->path, cmd, 2000, on_reply, &r, &h) < 0);
        run_for(f, 50);
        assert_int_equal(r.calls, 0);
        assert_int_equal(f->asked, 3);
    }
}

/* 4. No server: -ENOENT, or -ECONNREFUSED for a stale socket file; cb never called. */
static void test_no_server(void **state)
{
    struct fixture *f = *state;
    struct reply r = {.f = f};
    struct wk_status_fetch *h = NULL;
    assert_int_equal(wk_status_fetch(f->loop, f->path, "sockets", 500, on_reply, &r, &h), -ENOENT);
    { /* nor a directory */
        char p[256];
        snprintf(p, sizeof p, "%s/nodir/status.sock", f->dir);
        assert_int_equal(wk_status_fetch(f->loop, p, "sockets", 500, on_reply, &r, &h), -ENOENT);
    }
    close(raw_bind(f->path, -1)); /* a socket file that nobody listens on */
    struct stat st;
    assert_int_equal(stat(f->path, &st), 0);
    assert_true(S_ISSOCK(st.st_mode));
    assert_int_equal(wk_status_fetch(f->loop, f->path, "sockets", 500, on_reply, &r, &h),
                     -ECONNREFUSED);
    run_for(f, 100);
    assert_int_equal(r.calls, 0);
}

/* 5. The socket file is a socket of mode 0600; the directories above it are made. */
static void test_socket_mode_and_directories(void **state)
{
    struct fixture *f = *state;
    struct stat st;
    char dir[128];
    snprintf(dir, sizeof dir, "%s/a/b", f->dir);
    snprintf(f->path, sizeof f->path, "%s/status.sock", dir);
    mode_t old = umask(022);
    open_server(f);
    assert_int_equal(umask(old), 022); /* given back as it was */
    assert_int_equal(stat(f->path, &st), 0);
    assert_true(S_ISSOCK(st.st_mode));
    assert_int_equal(st.st_mode & 07777, 0600);
    assert_int_equal(stat(dir, &st), 0);
    assert_true(S_ISDIR(st.st_mode));
    struct reply r;
    fetch(f, "sockets", 2000, &r);
    assert_int_equal(r.err, 0);
    reply_fini(&r);
}

/* A path that cannot be: too long, or under a regular file. Refused with a message. */
static void test_open_bad_paths(void **state)
{
    struct fixture *f = *state;
    struct wk_status *s = NULL;
    char err[WK_ERR_LEN], p[256];
    memset(p, 'x', 200);
    p[0] = '/';
    p[200] = '\0';
    err[0] = '\0';
    assert_true(wk_status_open(f->loop, p, answer, f, &s, err) < 0);
    assert_null(s);
    assert_true(err[0] != '\0');
    snprintf(p, sizeof p, "%s/file", f->dir);
    int fd = open(p, O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
    assert_true(fd >= 0);
    close(fd);
    snprintf(p, sizeof p, "%s/file/status.sock", f->dir);
    err[0] = '\0';
    assert_int_equal(wk_status_open(f->loop, p, answer, f, &s, err), -ENOTDIR);
    assert_null(s);
    assert_non_null(strstr(err, p));
}

/* 6. One server per path; stale files are replaced, other files left alone; close unlinks. */
static void test_second_server_and_stale_files(void **state)
{
    struct fixture *f = *state;
    struct wk_status *second = NULL;
    struct reply r;
    struct stat st;
    char err[WK_ERR_LEN];
    open_server(f);
    err[0] = '\0';
    assert_int_equal(wk_status_open(f->loop, f->path, answer, f, &second, err), -EADDRINUSE);
    assert_null(second);
    assert_non_null(strstr(err, f->path));
    assert_non_null(strstr(err, "another server"));
    /* The first one still has its file and answers. */
    assert_int_equal(stat(f->path, &st), 0);
    assert_true(S_ISSOCK(st.st_mode));
    fetch(f, "sockets", 2000, &r);
    assert_int_equal(r.err, 0);
    assert_int_equal(r.len, strlen(SOCKETS));
    reply_fini(&r);
    /* Closing removes the file. */
    wk_status_close(f->status);
    f->status = NULL;
    assert_int_equal(stat(f->path, &st), -1);
    assert_int_equal(errno, ENOENT);
    wk_status_close(NULL);
    /* A stale socket file is replaced. */
    close(raw_bind(f->path, -1));
    open_server(f);
    fetch(f, "sockets", 2000, &r);
    assert_int_equal(r.err, 0);
    reply_fini(&r);
    wk_status_close(f->status);
    f->status = NULL;
    /* A regular file is not. */
    int fd = open(f->path, O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
    assert_true(fd >= 0);
    close(fd);
    err[0] = '\0';
    assert_int_equal(wk_status_open(f->loop, f->path, answer, f, &second, err), -EEXIST);
    assert_null(second);
    assert_non_null(strstr(err, f->path));
    assert_int_equal(stat(f->path, &st), 0);
    assert_true(S_ISREG(st.st_mode));
}

/* 7. A server that listens but never answers: -ETIMEDOUT after about timeout_ms. */
static void test_timeout(void **state)
{
    struct fixture *f = *state;
    int lfd = raw_bind(f->path, 4);
    struct reply r;
    run_for(f, 1);                      /* a fresh clock for the loop */
    uint64_t t0 = wk_loop_now(f->loop); /* the clock the fetch's timer counts from */
    fetch(f, "sockets", 200, &r);
    uint64_t took = r.at_ms - t0;
    assert_int_equal(r.err, -ETIMEDOUT);
    assert_int_equal(r.len, 0);
    if (took < 200 || took > 1500)
        fail_msg("the timeout came after %llu ms, not about 200", (unsigned long long)took);
    reply_fini(&r);
    close(lfd);
}

/* 8a. A command line of 64 bytes or more without a newline: closed, nothing written. */
static void test_long_line_closed(void **state)
{
    struct fixture *f = *state;
    struct reader rd;
    char line[200];
    open_server(f);
    memset(line, 'a', sizeof line);
    size_t sizes[] = {WK_STATUS_CMD_MAX, sizeof line};
    for (size_t i = 0; i < WK_ARRAY_LEN(sizes); i++) {
        int fd = raw_connect(f->path, false);
        write_all(fd, line, sizes[i]);
        reader_start(f, &rd, fd);
        uint64_t t0 = wk_clock_monotonic_ms();
        run(f, 1);
        assert_true(rd.closed);
        assert_int_equal(rd.len, 0);
        assert_true(wk_clock_monotonic_ms() - t0 < 2000); /* not the 5 s client timeout */
        close(fd);
    }
    assert_int_equal(f->asked, 0);
    struct reply r;
    fetch(f, "sockets", 2000, &r);
    assert_int_equal(r.err, 0);
    reply_fini(&r);
}

static void start_ninth(struct wk_timer *t)
{
    struct fixture *f = t->data;
    struct wk_status_fetch *h;
    *f->later_reply = (struct reply){.f = f};
    assert_int_equal(
        wk_status_fetch(f->loop, f->path, "sockets", 3000, on_reply, f->later_reply, &h), 0);
}

static void free_a_slot(struct wk_timer *t)
{
    struct fixture *f = t->data;
    assert_int_equal(f->later_reply->calls, 0); /* still waiting in the backlog */
    assert_int_equal(f->asked, 0);
    close(f->silent[0]);
    f->silent[0] = -1;
    f->slot_freed = true;
}

/* 8b. Eight silent clients hold every slot; a ninth is answered once one of them leaves. */
static void test_silent_clients(void **state)
{
    struct fixture *f = *state;
    struct reply r = {.f = f};
    open_server(f);
    for (int i = 0; i < SILENT; i++)
        f->silent[i] = raw_connect(f->path, false);
    f->later_reply = &r;
    wk_timer_init(&f->later, start_ninth, f);
    wk_timer_init(&f->later2, free_a_slot, f);
    assert_int_equal(wk_loop_timer_after(f->loop, &f->later, 100), 0);
    assert_int_equal(wk_loop_timer_after(f->loop, &f->later2, 400), 0);
    run(f, 1);
    assert_true(f->slot_freed); /* and free_a_slot saw no answer before */
    assert_int_equal(r.calls, 1);
    assert_int_equal(r.err, 0);
    assert_int_equal(r.len, strlen(SOCKETS));
    assert_memory_equal(r.data, SOCKETS, r.len);
    assert_int_equal(f->asked, 1);
    reply_fini(&r);
}

/* 8c. A client that sends its command and leaves without reading: no SIGPIPE, no harm. */
static void test_client_leaves_without_reading(void **state)
{
    struct fixture *f = *state;
    struct sigaction dfl = {.sa_handler = SIG_DFL}, old;
    sigemptyset(&dfl.sa_mask);
    assert_int_equal(sigaction(SIGPIPE, &dfl, &old), 0); /* so that a SIGPIPE would kill us */
    open_server(f);
    for (int i = 0; i < 3; i++) {
        int fd = raw_connect(f->path, false);
        write_all(fd, WK_STRLIT("big\n"));
        close(fd);
    }
    struct reply r;
    fetch(f, "sockets", 3000, &r);
    assert_int_equal(r.err, 0);
    assert_int_equal(r.len, strlen(SOCKETS));
    reply_fini(&r);
    run_for(f, 50);
    assert_int_equal(f->asked, 4);
    fetch(f, "big", 4000, &r); /* and the next big answer is whole */
    assert_int_equal(r.err, 0);
    assert_int_equal(r.len, BIG_LEN);
    assert_true(is_pattern(r.data, r.len));
    reply_fini(&r);
    sigaction(SIGPIPE, &old, NULL);
}

/* 9. Cancelled before the answer: cb is never called, and nothing leaks. */
static void test_cancel(void **state)
{
    struct fixture *f = *state;
    struct reply r = {.f = f};
    struct wk_status_fetch *h = NULL;
    open_server(f);
    assert_int_equal(wk_status_fetch(f->loop, f->path, "big", 2000, on_reply, &r, &h), 0);
    wk_status_fetch_cancel(h);
    run_for(f, 200);
    assert_int_equal(r.calls, 0);
    assert_int_equal(f->asked, 1); /* the server answered into a closed socket */
    struct reply ok;
    fetch(f, "sockets", 2000, &ok);
    assert_int_equal(ok.err, 0);
    reply_fini(&ok);
    wk_status_close(f->status);
    f->status = NULL;
    /* Against a server that never answers, past the timeout: the timer went with the fetch. */
    int lfd = raw_bind(f->path, 4);
    assert_int_equal(wk_status_fetch(f->loop, f->path, "sockets", 50, on_reply, &r, &h), 0);
    run_for(f, 20);
    wk_status_fetch_cancel(h);
    run_for(f, 200);
    assert_int_equal(r.calls, 0);
    close(lfd);
}

/* Accepts the fetch's connection on lfd and writes total pattern bytes to it. */
static void serve_raw(struct fixture *f, struct writer *w, int lfd, size_t total, bool close_at_end)
{
    int cfd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    assert_true(cfd >= 0);
    /*
     * Read the command (sent before the accept): a unix socket closed with
     * unread input resets its peer, and the fetch would see ECONNRESET.
     */
    char cmd[WK_STATUS_CMD_MAX];
    assert_int_equal(read(cfd, cmd, sizeof cmd), 8);
    assert_memory_equal(cmd, "sockets\n", 8);
    *w = (struct writer){.f = f,
                         .io = {.fd = cfd, .cb = on_writable, .data = w},
                         .total = total,
                         .close_at_end = close_at_end};
    assert_int_equal(wk_loop_io_add(f->loop, &w->io, WK_IO_WRITE), 0);
}

static void writer_fini(struct fixture *f, struct writer *w)
{
    if (w->io.fd >= 0) {
        wk_loop_io_del(f->loop, &w->io);
        close(w->io.fd);
    }
}

/*
 * 10. An answer longer than WK_STATUS_ANSWER_MAX gets -EMSGSIZE. The server
 * under test cannot make one (its buffer has the same bound), so a raw
 * server writes it: MAX + 1 bytes and close, or more without closing.
 */
static void test_answer_too_long(void **state)
{
    struct fixture *f = *state;
    struct writer w;
    struct reply r = {.f = f};
    struct wk_status_fetch *h;
    int lfd = raw_bind(f->path, 4);
    assert_int_equal(wk_status_fetch(f->loop, f->path, "sockets", 4000, on_reply, &r, &h), 0);
    serve_raw(f, &w, lfd, (size_t)WK_STATUS_ANSWER_MAX + 1, true);
    run(f, 1);
    assert_int_equal(r.calls, 1);
    assert_int_equal(r.err, -EMSGSIZE);
    assert_int_equal(r.len, 0);
    writer_fini(f, &w);
    reply_fini(&r);
    /* Without the close: the fetch stops reading at the limit, not at its timeout. */
    r = (struct reply){.f = f};
    assert_int_equal(wk_status_fetch(f->loop, f->path, "sockets", 4000, on_reply, &r, &h), 0);
    serve_raw(f, &w, lfd, (size_t)WK_STATUS_ANSWER_MAX + CHUNK * 4, false);
    uint64_t t0 = wk_clock_monotonic_ms();
    run(f, 1);
    assert_int_equal(r.err, -EMSGSIZE);
    assert_true(r.at_ms - t0 < 3000);
    writer_fini(f, &w);
    reply_fini(&r);
    close(lfd);
}

/* The same raw server with exactly MAX bytes, then close: the answer is whole. */
static void test_raw_answer_of_max_length(void **state)
{
    struct fixture *f = *state;
    struct writer w;
    struct reply r = {.f = f};
    struct wk_status_fetch *h;
    int lfd = raw_bind(f->path, 4);
    assert_int_equal(wk_status_fetch(f->loop, f->path, "sockets", 4000, on_reply, &r, &h), 0);
    serve_raw(f, &w, lfd, WK_STATUS_ANSWER_MAX, true);
    run(f, 1);
    writer_fini(f, &w);
    close(lfd);
    if (r.err != 0)
        fail_msg("a raw answer of WK_STATUS_ANSWER_MAX bytes got err %d (%s)", r.err,
                 strerror(-r.err));
    assert_int_equal(r.len, WK_STATUS_ANSWER_MAX);
    assert_true(is_pattern(r.data, r.len));
    reply_fini(&r);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_round_trip),
        T(test_fetch_from_reply),
        T(test_large_answer),
        T(test_answer_of_max_length),
        T(test_unknown_command_and_failing_answer),
        T(test_command_line_forms),
        T(test_no_server),
        T(test_socket_mode_and_directories),
        T(test_open_bad_paths),
        T(test_second_server_and_stale_files),
        T(test_timeout),
        T(test_long_line_closed),
        T(test_silent_clients),
        T(test_client_leaves_without_reading),
        T(test_cancel),
        T(test_answer_too_long),
        T(test_raw_answer_of_max_length),
    };
#undef T
    return cmocka_run_group_tests(tests, NULL, NULL);
}
