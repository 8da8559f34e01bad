/*
 * status.c: the status socket (server side) and the fetch (client side).
 * Both are tiny state machines on the loop: a command line in, an answer
 * out, then close. Every client is bounded in count, size and time.
 */
#include "common/status.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "common/addr.h"
#include "common/listener.h"
#include "common/log.h"
#include "common/loop.h"
#include "common/metrics.h"
#include "common/sockview.h"

/* Clients answered at once; more wait in the backlog. */
#define STATUS_CLIENTS 8
/* A client has this long to send its command and read the answer. */
#define STATUS_CLIENT_TIMEOUT_MS 5000

struct status_client {
    struct wk_status *owner;
    struct wk_io io; /* fd -1: the slot is free */
    struct wk_timer timer;
    char cmd[WK_STATUS_CMD_MAX];
    size_t cmdlen;
    bool answering; /* the command is in: writing out */
    struct wk_buf out;
};

struct wk_status {
    struct wk_loop *loop;
    struct wk_listener listener;
    wk_status_answer_fn *fn;
    void *arg;
    size_t busy; /* slots in use */
    struct status_client clients[STATUS_CLIENTS];
};

struct wk_status_fetch {
    struct wk_loop *loop;
    struct wk_io io;
    struct wk_timer timer;
    struct wk_buf in;
    wk_status_reply_fn *cb;
    void *arg;
};

static void client_close(struct status_client *sc)
{
    struct wk_status *s = sc->owner;
    wk_loop_io_del(s->loop, &sc->io);
    wk_loop_timer_stop(s->loop, &sc->timer);
    close(sc->io.fd);
    sc->io.fd = -1;
    wk_buf_fini(&sc->out);
    if (s->busy-- == STATUS_CLIENTS)
        wk_listener_resume(&s->listener);
}

/* Writes what it can of the answer; closes once all is out. */
static void client_write(struct status_client *sc)
{
    while (wk_buf_len(&sc->out) > 0) {
        ssize_t n = send(sc->io.fd, wk_buf_data(&sc->out), wk_buf_len(&sc->out), MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN)
            return; /* the loop says when there is room */
        if (n < 0) {
            client_close(sc);
            return;
        }
        wk_buf_consume(&sc->out, (size_t)n);
    }
    client_close(sc);
}

static void client_answer(struct status_client *sc, size_t len)
{
    struct wk_status *s = sc->owner;
    int rc = s->fn(sc->cmd, len, &sc->out, s->arg);
    if (rc < 0) {
        wk_buf_reset(&sc->out);
        if (rc == -ENOENT)
            wk_buf_printf(&sc->out, "error: unknown command \"%.*s\" (try: sockets, metrics)\n",
                          (int)len, sc->cmd);
        else
            wk_log(WK_LOG_WARN, "status command=\"%.*s\" error=\"%s\"", (int)len, sc->cmd,
                   strerror(-rc));
    }
    sc->answering = true;
    wk_loop_io_mod(s->loop, &sc->io, WK_IO_WRITE);
    client_write(sc);
}

/* Reads the command line. */
static void client_read(struct status_client *sc)
{
    for (;;) {
        ssize_t n = read(sc->io.fd, sc->cmd + sc->cmdlen, sizeof sc->cmd - sc->cmdlen);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN)
            return;
        if (n <= 0) {
            client_close(sc); /* gone before its command was complete */
            return;
        }
        char *nl = memchr(sc->cmd + sc->cmdlen, '\n', (size_t)n);
        sc->cmdlen += (size_t)n;
        if (nl != NULL) {
            size_t len = (size_t)(nl - sc->cmd);
            if (len > 0 && sc->cmd[len - 1] == '\r')
                len--;
            client_answer(sc, len);
            return;
        }
        if (sc->cmdlen == sizeof sc->cmd) {
            client_close(sc); /* no command is this long */
            return;
        }
    }
}

static void client_io(struct wk_io *io, unsigned events)
{
    (void)events;
    struct status_client *sc = io->data;
    if (sc->answering)
        client_write(sc);
    else
        client_read(sc);
}

static void client_timeout(struct wk_timer *t)
{
    client_close(t->data);
}

static void on_accept(struct wk_listener *l, int fd, const struct sockaddr *peer, socklen_t len)
{
    (void)peer, (void)len;
    struct wk_status *s = l->data;
    struct status_client *sc = NULL;
    for (size_t i = 0; i < STATUS_CLIENTS && sc == NULL; i++) {
        if (s->clients[i].io.fd < 0)
            sc = &s->clients[i];
    }
    if (sc == NULL) { /* cannot happen: the listener pauses when all are busy */
        close(fd);
        return;
    }
    *sc = (struct status_client){.owner = s, .io = {.fd = fd, .cb = client_io, .data = sc}};
    wk_timer_init(&sc->timer, client_timeout, sc);
    wk_buf_init(&sc->out, WK_STATUS_ANSWER_MAX);
    if (wk_loop_io_add(s->loop, &sc->io, WK_IO_READ) < 0 ||
        wk_loop_timer_after(s->loop, &sc->timer, STATUS_CLIENT_TIMEOUT_MS) < 0) {
        wk_buf_fini(&sc->out);
        wk_loop_io_del(s->loop, &sc->io);
        close(fd);
        sc->io.fd = -1;
        return;
    }
    if (++s->busy == STATUS_CLIENTS)
        wk_listener_pause(&s->listener);
}

/* Creates the directories above path, as mkdir -p would. */
static int make_parents(const char *path)
{
    char dir[sizeof(((struct sockaddr_un *)0)->sun_path)];
    size_t n = strlen(path);
    if (n >= sizeof dir)
        return -ENAMETOOLONG;
    memcpy(dir, path, n + 1);
    for (char *p = dir + 1; *p != '\0'; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(dir, 0755) < 0 && errno != EEXIST)
            return -errno;
        *p = '/';
    }
    return 0;
}

int wk_status_open(struct wk_loop *loop, const char *path, wk_status_answer_fn *fn, void *arg,
                   struct wk_status **out, char err[WK_ERR_LEN])
{
    char text[WK_ADDR_STRLEN + 8];
    struct wk_addr addr;
    snprintf(text, sizeof text, "unix:%s", path);
    int rc = wk_addr_parse(text, &addr, err);
    if (rc < 0)
        return rc;
    if ((rc = make_parents(path)) < 0) {
        snprintf(err, WK_ERR_LEN, "status socket %s: cannot create its directory: %s", path,
                 strerror(-rc));
        return rc;
    }
    struct wk_status *s = calloc(1, sizeof *s);
    if (s == NULL) {
        snprintf(err, WK_ERR_LEN, "status socket %s: out of memory", path);
        return -ENOMEM;
    }
    s->loop = loop;
    s->fn = fn;
    s->arg = arg;
    for (size_t i = 0; i < STATUS_CLIENTS; i++)
        s->clients[i].io.fd = -1;
    /* Only the servers' own user may ask: the socket is created mode 0600. */
    mode_t old = umask(0177);
    char why[WK_ERR_LEN];
    rc = wk_listener_open(&s->listener, &addr, STATUS_CLIENTS, why);
    umask(old);
    if (rc < 0)
        snprintf(err, WK_ERR_LEN, "status socket %.490s", why);
    if (rc == 0 && (rc = wk_listener_start(&s->listener, loop, on_accept, s)) < 0) {
        snprintf(err, WK_ERR_LEN, "status socket %s: %s", path, strerror(-rc));
        wk_listener_close(&s->listener);
    }
    if (rc < 0) {
        free(s);
        return rc;
    }
    *out = s;
    return 0;
}

int wk_status_chown(struct wk_status *s, uid_t uid, gid_t gid, char err[WK_ERR_LEN])
{
    const char *path = s->listener.addr.u.un.sun_path;
    if (chown(path, uid, gid) == 0)
        return 0;
    int e = errno;
    snprintf(err, WK_ERR_LEN, "status socket %s: cannot give it to uid %u: %s", path, (unsigned)uid,
             strerror(e));
    return -e;
}

void wk_status_forget(struct wk_status *s)
{
    if (s == NULL)
        return;
    for (size_t i = 0; i < STATUS_CLIENTS; i++) {
        if (s->clients[i].io.fd >= 0) {
            close(s->clients[i].io.fd);
            wk_buf_fini(&s->clients[i].out);
        }
    }
    close(s->listener.fd);
    free(s);
}

void wk_status_close(struct wk_status *s)
{
    if (s == NULL)
        return;
    for (size_t i = 0; i < STATUS_CLIENTS; i++) {
        if (s->clients[i].io.fd >= 0)
            client_close(&s->clients[i]);
    }
    wk_listener_close(&s->listener);
    free(s);
}

/* Ends a fetch: cb with the answer or err, then frees it. */
static void fetch_done(struct wk_status_fetch *f, int err)
{
    wk_status_reply_fn *cb = f->cb;
    void *arg = f->arg;
    struct wk_buf in = f->in; /* the answer outlives f */
    wk_buf_init(&f->in, 0);
    wk_status_fetch_cancel(f);
    cb(err, err == 0 ? wk_buf_data(&in) : NULL, err == 0 ? wk_buf_len(&in) : 0, arg);
    wk_buf_fini(&in);
}

static void fetch_io(struct wk_io *io, unsigned events)
{
    (void)events;
    struct wk_status_fetch *f = io->data;
    for (;;) {
        /* The buffer holds one byte more than an answer may: to tell "too long" from "just so". */
        size_t want = f->in.max - wk_buf_len(&f->in);
        char *space;
        size_t avail;
        if (wk_buf_reserve(&f->in, want < 65536 ? want : 65536, &space, &avail) < 0) {
            fetch_done(f, -ENOMEM);
            return;
        }
        ssize_t n = read(f->io.fd, space, avail);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN)
            return;
        if (n <= 0) {
            fetch_done(f, n < 0 ? -errno : 0); /* the server closes after its answer */
            return;
        }
        wk_buf_commit(&f->in, (size_t)n);
        if (wk_buf_len(&f->in) > WK_STATUS_ANSWER_MAX) {
            fetch_done(f, -EMSGSIZE);
            return;
        }
    }
}

static void fetch_timeout(struct wk_timer *t)
{
    fetch_done(t->data, -ETIMEDOUT);
}

int wk_status_fetch(struct wk_loop *loop, const char *path, const char *cmd, uint64_t timeout_ms,
                    wk_status_reply_fn *cb, void *arg, struct wk_status_fetch **out)
{
    struct sockaddr_un un = {.sun_family = AF_UNIX};
    size_t plen = strlen(path), clen = strlen(cmd);
    if (plen >= sizeof un.sun_path)
        return -ENAMETOOLONG;
    if (clen + 1 > WK_STATUS_CMD_MAX)
        return -EINVAL;
    memcpy(un.sun_path, path, plen);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    char line[WK_STATUS_CMD_MAX];
    memcpy(line, cmd, clen);
    line[clen] = '\n';
    /*
     * A local connect completes at once, or fails (-EAGAIN when the server's
     * backlog is full); the command fits any socket buffer.
     */
    if (connect(fd, (struct sockaddr *)&un, sizeof un) < 0 ||
        send(fd, line, clen + 1, MSG_NOSIGNAL) != (ssize_t)(clen + 1)) {
        int e = errno;
        close(fd);
        return -e;
    }
    struct wk_status_fetch *f = calloc(1, sizeof *f);
    if (f == NULL) {
        close(fd);
        return -ENOMEM;
    }
    *f = (struct wk_status_fetch){
        .loop = loop, .io = {.fd = fd, .cb = fetch_io, .data = f}, .cb = cb, .arg = arg};
    wk_timer_init(&f->timer, fetch_timeout, f);
    wk_buf_init(&f->in, WK_STATUS_ANSWER_MAX + 1);
    int rc = wk_loop_io_add(loop, &f->io, WK_IO_READ);
    if (rc == 0)
        rc = wk_loop_timer_after(loop, &f->timer, timeout_ms);
    if (rc < 0) {
        wk_status_fetch_cancel(f);
        return rc;
    }
    *out = f;
    return 0;
}

void wk_status_fetch_cancel(struct wk_status_fetch *f)
{
    wk_loop_io_del(f->loop, &f->io);
    wk_loop_timer_stop(f->loop, &f->timer);
    close(f->io.fd);
    wk_buf_fini(&f->in);
    free(f);
}

void wk_status_server_metrics(const struct wk_status_server *ss, struct wk_metrics *m)
{
    wk_metrics_server(m, ss->srv, ss->name);
    if (ss->metrics != NULL)
        ss->metrics(m, ss->metrics_arg);
}

int wk_status_server_answer(const char *cmd, size_t len, struct wk_buf *out, void *arg)
{
    const struct wk_status_server *ss = arg;
    if (len == 7 && memcmp(cmd, "sockets", 7) == 0) {
        struct wk_json j;
        wk_json_init(&j, out);
        wk_sockview_server(&j, ss->srv, ss->name);
        return wk_json_end(&j);
    }
    if (len == 7 && memcmp(cmd, "metrics", 7) == 0) {
        struct wk_metrics m;
        wk_metrics_init(&m, out);
        wk_status_server_metrics(ss, &m);
        return wk_metrics_end(&m);
    }
    return -ENOENT;
}
