/*
 * conn.c: one accepted socket and its buffers, deadline and registry entry.
 *
 * Owns the fd, the input and output buffers and the queued file. Reads and
 * writes happen here and nowhere else: the protocol above sees whole
 * results. The socket is registered edge-triggered for reading and writing
 * once, so steady traffic costs no epoll_ctl calls; "readable" remembers an
 * edge that could not be served yet (paused, buffer full).
 */
#include "common/conn.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/listener.h"
#include "common/log.h"
#include "common/loop.h"
#include "common/server.h"
#include "common/tls.h"

/* Reads per wakeup before other connections get their turn. */
#define CONN_READS_PER_EVENT 4
/* Bytes asked of each read(); the input buffer grows towards its bound in these steps. */
#define CONN_READ_CHUNK 4096
/* Bytes per sendfile() call, so one large download can't hog the loop. */
#define CONN_SENDFILE_CHUNK (2u << 20)
/* File bodies from this size on are sent corked: full segments only (nginx's tcp_nopush). */
#define CONN_CORK_MIN (64u << 10)
/* Bytes written for one conn per turn before the others get theirs. */
#define CONN_FLUSH_BUDGET (16u << 20)
/* Bytes of a file read and encrypted per write on a TLS connection. */
#define CONN_TLS_FILE_CHUNK 16384
/* Bytes discarded per read while lingering. */
#define CONN_LINGER_CHUNK 4096

struct wk_conn {
    struct wk_conn_info *info;           /* its scoreboard slot, released after on_close */
    struct wk_conn *all_prev, *all_next; /* every open conn of the server */
    struct wk_server *srv;
    struct wk_listener *listener;
    struct wk_io io;
    struct wk_timer timer;
    uint64_t deadline; /* 0: none; the timer may fire early and re-arm */
    struct wk_buf in;
    struct wk_buf out;
    uint64_t out_total; /* bytes ever appended to out */
    uint64_t out_sent;  /* of those, bytes written (file bytes not counted) */
    /* The queued file body: sent once out_sent reaches file_at. */
    int file_fd;
    off_t file_off;
    size_t file_left;
    uint64_t file_at;
    wk_release_fn *file_release;
    void *file_arg;
    struct wk_conn *next;    /* in srv->pending or srv->closed */
    const char *reason;      /* why it is finishing or closed */
    bool pending;            /* linked in srv->pending */
    bool readable;           /* an unserved read edge */
    bool fin_queued;         /* the peer's FIN is in the socket, behind any data */
    bool corked;             /* TCP_CORK set while a large file goes out */
    struct ssl_st *ssl;      /* the TLS session on a TLS listener, else NULL */
    bool handshaking;        /* TLS: the handshake is not done yet */
    struct wk_tls *tls_next; /* STARTTLS: TLS begins once the output is written */
    uint64_t timeout_ms;   /* the protocol's timeout, again in force once a TLS handshake is done */
    bool read_wants_write; /* TLS: a read waits for the socket to be writable */
    bool write_wants_read; /* TLS: a write waits for the socket to be readable */
    bool read_paused;
    bool peer_eof;
    bool finishing; /* wk_conn_finish(): flush, FIN, linger */
    bool shut_wr;
    bool closed;
    max_align_t proto[]; /* ops->proto_size bytes */
};

static void conn_read(struct wk_conn *c);
static void conn_flush(struct wk_conn *c);
static void arm(struct wk_conn *c);
static int begin_tls(struct wk_conn *c, struct wk_tls *tls);

static void schedule(struct wk_conn *c)
{
    if (c->pending || c->closed)
        return;
    c->pending = true;
    c->next = c->srv->pending;
    c->srv->pending = c;
}

/* Holds partial segments back (on) or lets them go (off). Not every socket is TCP. */
static void set_cork(struct wk_conn *c, bool on)
{
    int v = on;
    if (c->corked != on && setsockopt(c->info->fd, IPPROTO_TCP, TCP_CORK, &v, sizeof v) == 0)
        c->corked = on;
}

static void release_file(struct wk_conn *c)
{
    if (c->file_fd < 0)
        return;
    if (c->corked && !c->closed)
        set_cork(c, false); /* the body's last partial segment goes now */
    if (c->file_release)
        c->file_release(c->file_arg);
    else
        close(c->file_fd);
    c->file_fd = -1;
    c->file_left = 0;
}

static void on_timer(struct wk_timer *t)
{
    struct wk_conn *c = t->data;
    struct wk_loop *loop = c->srv->loop;
    if (c->closed || c->deadline == 0)
        return;
    if (wk_loop_now(loop) < c->deadline) {
        wk_loop_timer_at(loop, &c->timer, c->deadline);
        return;
    }
    c->deadline = 0;
    if (c->finishing) {
        wk_conn_close(c, c->shut_wr ? c->reason : "send-timeout");
        return;
    }
    if (c->handshaking) {
        wk_conn_close(c, "tls-handshake-timeout");
        return;
    }
    c->srv->ops->on_timeout(c);
}

static void on_io(struct wk_io *io, unsigned events)
{
    struct wk_conn *c = io->data;
    if (c->closed)
        return;
    if (events & (WK_IO_READ | WK_IO_ERROR))
        c->readable = true;
    if (events & WK_IO_PEER_SHUT)
        c->fin_queued = true;
    if ((events & WK_IO_WRITE) && c->read_wants_write) {
        c->read_wants_write = false;
        c->readable = true;
    }
    if ((events & WK_IO_READ) && c->write_wants_read) {
        c->write_wants_read = false;
        if (wk_conn_output_pending(c))
            conn_flush(c);
    }
    if (!c->closed && (events & (WK_IO_WRITE | WK_IO_ERROR)) && wk_conn_output_pending(c))
        conn_flush(c); /* not after the flush above closed it */
    if (!c->closed && c->readable)
        conn_read(c);
}

struct wk_conn *wk_conn_new(struct wk_server *srv, struct wk_listener *l, int fd,
                            const struct sockaddr *peer, socklen_t peerlen)
{
    struct wk_conn *c = calloc(1, sizeof *c + srv->ops->proto_size);
    if (c == NULL)
        return NULL;
    c->srv = srv;
    c->listener = l;
    c->file_fd = -1;
    /* The entry every process of the server sees: filled in before readers may look. */
    c->info = wk_scoreboard_claim(srv->board, srv->worker);
    if (c->info == NULL) {
        free(c);
        return NULL;
    }
    c->info->listener = (uint16_t)(l - srv->listeners);
    c->info->fd = fd;
    if (peerlen > 0 && peerlen <= sizeof c->info->peer && peer->sa_family != AF_UNIX)
        memcpy(&c->info->peer, peer, peerlen);
    else
        c->info->peer.sa.sa_family = AF_UNIX;
    c->info->accepted_ms = wk_loop_now(srv->loop);
    c->info->accepted_at = wk_loop_wall(srv->loop);
    wk_registry_copy(c->info->phase, sizeof c->info->phase, "new");
    wk_scoreboard_write_end(c->info);
    wk_buf_init(&c->in, srv->cfg.in_max);
    wk_buf_init(&c->out, srv->cfg.out_max);
    wk_timer_init(&c->timer, on_timer, c);
    c->io = (struct wk_io){.fd = fd, .cb = on_io, .data = c};
    if (wk_loop_io_add(srv->loop, &c->io, WK_IO_READ | WK_IO_WRITE | WK_IO_EDGE) < 0 ||
        (l->tls != NULL && begin_tls(c, l->tls) < 0)) {
        wk_scoreboard_release(srv->board, c->info);
        free(c);
        return NULL;
    }
    wk_scoreboard_add(&l->counters->accepted, 1);
    c->all_next = srv->conns;
    if (srv->conns != NULL)
        srv->conns->all_prev = c;
    srv->conns = c;
    if (l->deferred) {
        /* The request is most likely here already: read it before the loop sleeps. */
        c->readable = true;
        schedule(c);
    }
    return c;
}

void *wk_conn_proto(struct wk_conn *c)
{
    return c->proto;
}

struct wk_server *wk_conn_server(const struct wk_conn *c)
{
    return c->srv;
}

struct wk_loop *wk_conn_loop(const struct wk_conn *c)
{
    return c->srv->loop;
}

struct wk_listener *wk_conn_listener(const struct wk_conn *c)
{
    return c->listener;
}

const struct wk_conn_info *wk_conn_info(const struct wk_conn *c)
{
    return c->info;
}

void wk_conn_each(struct wk_server *srv, void (*fn)(struct wk_server *, struct wk_conn *))
{
    struct wk_conn *c = srv->conns, *next;
    for (; c != NULL; c = next) {
        next = c->all_next; /* fn may close c, which unlinks it */
        fn(srv, c);
    }
}

size_t wk_conn_format_peer(const struct wk_conn *c, char *out, size_t outlen)
{
    return wk_addr_format(&c->info->peer.sa, sizeof c->info->peer, out, outlen);
}

struct wk_buf *wk_conn_in(struct wk_conn *c)
{
    return &c->in;
}

bool wk_conn_peer_closed(const struct wk_conn *c)
{
    return c->peer_eof;
}

void wk_conn_pause_read(struct wk_conn *c, bool pause)
{
    c->read_paused = pause;
    if (!pause && c->readable)
        schedule(c);
}

struct wk_buf *wk_conn_out(struct wk_conn *c)
{
    return &c->out;
}

void wk_conn_flush_later(struct wk_conn *c)
{
    schedule(c);
}

int wk_conn_write(struct wk_conn *c, const void *p, size_t n)
{
    int rc = wk_buf_append(&c->out, p, n);
    if (rc == 0)
        schedule(c);
    return rc;
}

/* Bytes appended to out that are not yet written. */
static uint64_t out_unsent(const struct wk_conn *c)
{
    return (uint64_t)wk_buf_len(&c->out);
}

int wk_conn_send_file(struct wk_conn *c, int fd, off_t off, size_t len, wk_release_fn *release,
                      void *arg)
{
    if (c->file_fd >= 0)
        return -EBUSY;
    /*
     * Over TLS a small body joins the head in the output: one record and one
     * write for the whole response. If it can't be read now, it is queued.
     */
    if (c->ssl != NULL && len > 0 && len <= CONN_TLS_FILE_CHUNK) {
        char *space;
        size_t avail;
        if (wk_buf_reserve(&c->out, len, &space, &avail) == 0 &&
            pread(fd, space, len, off) == (ssize_t)len) {
            wk_buf_commit(&c->out, len);
            wk_scoreboard_add(&c->info->progress, len);
            len = 0;
        }
    }
    if (len == 0) {
        if (release)
            release(arg);
        else
            close(fd);
        schedule(c);
        return 0;
    }
    c->file_fd = fd;
    c->file_off = off;
    c->file_left = len;
    c->file_at = c->out_sent + out_unsent(c);
    c->file_release = release;
    c->file_arg = arg;
    /*
     * A large body goes out in sendfile chunks; without the cork the end of
     * each chunk would leave as a short segment (the listener sets NODELAY).
     */
    if (len >= CONN_CORK_MIN)
        set_cork(c, true);
    schedule(c);
    return 0;
}

bool wk_conn_output_pending(const struct wk_conn *c)
{
    return wk_buf_len(&c->out) > 0 || c->file_left > 0;
}

bool wk_conn_is_write_blocked(const struct wk_conn *c)
{
    return c->file_fd >= 0 || wk_buf_len(&c->out) > c->srv->cfg.out_high;
}

static void arm(struct wk_conn *c)
{
    if (!wk_timer_is_armed(&c->timer) || c->timer.deadline > c->deadline)
        wk_loop_timer_at(c->srv->loop, &c->timer, c->deadline);
}

void wk_conn_set_timeout(struct wk_conn *c, uint64_t ms)
{
    if (c->closed)
        return;
    c->timeout_ms = ms;
    if (c->handshaking)
        return; /* the handshake's own deadline stands until it is done */
    c->deadline = ms ? wk_loop_now(c->srv->loop) + ms : 0;
    if (ms)
        arm(c);
}

void wk_conn_set_phase(struct wk_conn *c, const char *phase, uint64_t progress, uint64_t total)
{
    if (c->closed)
        return;
    wk_scoreboard_write_begin(c->info);
    wk_registry_copy(c->info->phase, sizeof c->info->phase, phase);
    c->info->progress = progress;
    c->info->total = total;
    wk_scoreboard_write_end(c->info);
}

bool wk_conn_is_closing(const struct wk_conn *c)
{
    return c->closed || c->finishing;
}

void wk_conn_close(struct wk_conn *c, const char *reason)
{
    if (c->closed)
        return;
    struct wk_server *srv = c->srv;
    c->closed = true;
    c->reason = reason;
    struct wk_registry *counters = c->listener->counters;
    if (c->handshaking)
        wk_scoreboard_add(&counters->tls_failures, 1);
    wk_scoreboard_add(&counters->closed, 1);
    wk_scoreboard_add(&counters->bytes_in, c->info->bytes_in);
    wk_scoreboard_add(&counters->bytes_out, c->info->bytes_out);
    wk_loop_timer_stop(srv->loop, &c->timer);
    /* Gone from every view at once; the slot itself goes after on_close, which reads it. */
    wk_scoreboard_write_begin(c->info);
    c->info->closed = true;
    wk_scoreboard_write_end(c->info);
    if (c->all_prev != NULL)
        c->all_prev->all_next = c->all_next;
    else
        srv->conns = c->all_next;
    if (c->all_next != NULL)
        c->all_next->all_prev = c->all_prev;
    if (wk_log_enabled(WK_LOG_INFO)) {
        char peer[WK_ADDR_STRLEN];
        wk_conn_format_peer(c, peer, sizeof peer);
        wk_log(WK_LOG_INFO,
               "close fd=%d listener=%s client=%s reason=%s in=%llu out=%llu ms=%llu "
               "open=%zu%s%s%s%s%s",
               c->info->fd, c->listener->name, peer, reason, (unsigned long long)c->info->bytes_in,
               (unsigned long long)c->info->bytes_out,
               (unsigned long long)(wk_loop_now(srv->loop) - c->info->accepted_ms), srv->open - 1,
               c->info->tls_version[0] ? " tls=" : "", c->info->tls_version,
               c->info->tls_cipher[0] ? " cipher=" : "", c->info->tls_cipher,
               /* how file bodies went: sendfile() through kernel TLS, or read and SSL_write() */
               c->info->tls_version[0] == '\0' ? ""
               : c->info->tls_ktls             ? " ktls=on"
                                               : " ktls=off");
    }
    if (c->ssl != NULL) {
        wk_tls_shutdown(c->ssl);
        wk_tls_session_free(c->ssl);
        c->ssl = NULL;
    }
    /* Closing the fd also removes it from epoll; the memory waits for the end of the turn. */
    close(c->info->fd);
    c->io.fd = -1;
    if (!c->pending) { /* a pending conn moves to the closed list when it is reached */
        c->next = srv->closed;
        srv->closed = c;
    }
    wk_server_conn_closed(srv);
}

/*
 * The output is written. If input may still arrive unread, shut down our
 * side and drain input until EOF or the linger time: closing with unread
 * input would send a RST that can destroy the response before the client
 * reads it. Otherwise (as nginx does) close at once; the FIN follows the data.
 */
static void start_linger(struct wk_conn *c)
{
    if (c->peer_eof || (!c->readable && wk_buf_len(&c->in) == 0)) {
        wk_conn_close(c, c->reason);
        return;
    }
    if (c->ssl != NULL)
        wk_tls_shutdown(c->ssl); /* close_notify before the FIN */
    shutdown(c->info->fd, SHUT_WR);
    c->shut_wr = true;
    c->deadline = wk_loop_now(c->srv->loop) + c->srv->cfg.linger_ms;
    arm(c);
    if (c->readable)
        schedule(c);
}

void wk_conn_finish(struct wk_conn *c, const char *reason)
{
    if (c->closed || c->finishing)
        return;
    c->finishing = true;
    c->reason = reason;
    c->read_paused = false;
    if (!wk_conn_output_pending(c))
        start_linger(c);
    else
        schedule(c);
}

static void io_failed(struct wk_conn *c, int e)
{
    wk_conn_close(c, e == ECONNRESET || e == EPIPE ? "reset" : "error");
}

static void progress(struct wk_conn *c, size_t n)
{
    wk_scoreboard_add(&c->info->bytes_out, n);
    if (c->srv->cfg.send_timeout_ms && !c->shut_wr) {
        uint64_t d = wk_loop_now(c->srv->loop) + c->srv->cfg.send_timeout_ms;
        if (c->deadline < d) {
            c->deadline = d;
            arm(c);
        }
    }
}

/* TLS: the result of a read or write that could not go on, as the flush and read loops see it. */
static ssize_t tls_blocked(struct wk_conn *c, ssize_t rc, bool reading)
{
    if (rc == WK_TLS_WANT_WRITE && reading)
        c->read_wants_write = true;
    if (rc == WK_TLS_WANT_READ && !reading)
        c->write_wants_read = true;
    return rc == WK_TLS_WANT_READ || rc == WK_TLS_WANT_WRITE ? -EAGAIN : rc;
}

/* Finishes the TLS handshake if it is not done. Returns 0 or like tls_blocked(). */
static ssize_t tls_ready(struct wk_conn *c, bool reading)
{
    if (!c->handshaking)
        return 0;
    int rc = wk_tls_handshake(c->ssl);
    if (rc < 0)
        return tls_blocked(c, rc, reading);
    c->handshaking = false;
    wk_scoreboard_write_begin(c->info);
    c->info->tls_handshaking = false;
    wk_scoreboard_add(&c->listener->counters->tls_handshakes, 1);
    /* The protocol's timeout, even one set before STARTTLS began the handshake. */
    wk_conn_set_timeout(c, c->timeout_ms);
    /* Static strings of OpenSSL's: they outlive the session. */
    wk_registry_copy(c->info->tls_version, sizeof c->info->tls_version, wk_tls_version(c->ssl));
    wk_registry_copy(c->info->tls_cipher, sizeof c->info->tls_cipher, wk_tls_cipher(c->ssl));
    c->info->tls_ktls = wk_tls_ktls_send(c->ssl);
    wk_scoreboard_write_end(c->info);
    return 0;
}

/* Sends n bytes (part of them, maybe). Returns the count or -errno (-EAGAIN: wait). */
static ssize_t conn_send(struct wk_conn *c, const char *p, size_t n, bool more)
{
    if (c->ssl == NULL) {
        ssize_t w = send(c->info->fd, p, n, MSG_NOSIGNAL | (more ? MSG_MORE : 0));
        return w < 0 ? (errno == EINTR ? 0 : -errno) : w;
    }
    ssize_t rc = tls_ready(c, false);
    if (rc < 0)
        return rc;
    rc = wk_tls_write(c->ssl, p, n);
    return rc < 0 ? tls_blocked(c, rc, false) : rc;
}

/*
 * Receives up to n bytes. Returns the count, 0 at the end, or -errno (-EAGAIN:
 * wait). After bytes, *drained says whether nothing more was there to read.
 */
static ssize_t conn_recv(struct wk_conn *c, char *p, size_t n, bool *drained)
{
    if (c->ssl == NULL) {
        ssize_t r = read(c->info->fd, p, n);
        *drained = r >= 0 && (size_t)r < n;
        return r < 0 ? (errno == EINTR ? -EINTR : -errno) : r;
    }
    ssize_t rc = tls_ready(c, true);
    if (rc < 0)
        return rc;
    rc = wk_tls_read(c->ssl, p, n, drained);
    return rc < 0 ? tls_blocked(c, rc, true) : rc;
}

/* Writes bytes of out up to the file's place (MSG_MORE if the file follows). Returns 0 or -errno.
 */
static int write_mem(struct wk_conn *c)
{
    size_t n = wk_buf_len(&c->out);
    bool file_next = c->file_fd >= 0;
    if (file_next && c->file_at - c->out_sent < n)
        n = (size_t)(c->file_at - c->out_sent);
    ssize_t w = conn_send(c, wk_buf_data(&c->out), n, file_next);
    if (w < 0)
        return (int)w;
    wk_buf_consume(&c->out, (size_t)w);
    c->out_sent += (size_t)w;
    progress(c, (size_t)w);
    return 0;
}

/*
 * TLS: the file by sendfile() when the kernel does the encryption, else
 * through user space a chunk at a time (a retry reads the same bytes again).
 */
static ssize_t tls_send_file(struct wk_conn *c, size_t chunk)
{
    if (c->info->tls_ktls) {
        ssize_t w = wk_tls_sendfile(c->ssl, c->file_fd, c->file_off, chunk);
        if (w > 0)
            c->file_off += w;
        return w < 0 ? tls_blocked(c, w, false) : w;
    }
    char buf[CONN_TLS_FILE_CHUNK];
    size_t n = chunk < sizeof buf ? chunk : sizeof buf;
    ssize_t r = pread(c->file_fd, buf, n, c->file_off);
    if (r <= 0)
        return r < 0 ? -errno : 0;
    ssize_t w = conn_send(c, buf, (size_t)r, false);
    if (w > 0)
        c->file_off += w;
    return w;
}

static int write_file(struct wk_conn *c)
{
    size_t chunk = c->file_left < CONN_SENDFILE_CHUNK ? c->file_left : CONN_SENDFILE_CHUNK;
    ssize_t w;
    if (c->ssl != NULL) {
        w = tls_send_file(c, chunk);
        if (w < 0)
            return (int)w;
    } else {
        w = sendfile(c->info->fd, c->file_fd, &c->file_off, chunk);
        if (w < 0)
            return errno == EINTR ? 0 : -errno;
    }
    if (w == 0) {
        /* The file shrank under us: the promised length can't be kept. */
        return -EIO;
    }
    c->file_left -= (size_t)w;
    wk_scoreboard_add(&c->info->progress, (uint64_t)w);
    progress(c, (size_t)w);
    if (c->file_left == 0)
        release_file(c);
    return 0;
}

/* Makes c a TLS server connection from now on. Returns 0 or -ENOMEM. */
static int begin_tls(struct wk_conn *c, struct wk_tls *tls)
{
    c->ssl = wk_tls_session_new(tls, c->info->fd);
    if (c->ssl == NULL)
        return -ENOMEM;
    c->handshaking = true;
    wk_scoreboard_write_begin(c->info);
    c->info->tls_handshaking = true;
    wk_scoreboard_write_end(c->info);
    c->deadline = wk_loop_now(c->srv->loop) + c->srv->cfg.handshake_timeout_ms;
    arm(c);
    return 0;
}

static void drained(struct wk_conn *c)
{
    wk_buf_release_if_empty(&c->out);
    if (c->finishing) {
        start_linger(c);
        return;
    }
    if (c->tls_next != NULL) {
        /* The go-ahead is out: from here on, TLS. */
        struct wk_tls *tls = c->tls_next;
        c->tls_next = NULL;
        if (begin_tls(c, tls) < 0) {
            wk_conn_close(c, "out-of-memory");
            return;
        }
        c->read_paused = false;
        if (c->readable)
            schedule(c);
        return;
    }
    c->srv->ops->on_drain(c);
}

int wk_conn_start_tls(struct wk_conn *c, struct wk_tls *tls)
{
    if (c->ssl != NULL || c->tls_next != NULL)
        return -EALREADY;
    wk_buf_reset(&c->in);
    c->read_paused = true;
    c->tls_next = tls;
    schedule(c);
    return 0;
}

bool wk_conn_is_tls(const struct wk_conn *c)
{
    return c->ssl != NULL || c->tls_next != NULL;
}

static void conn_flush(struct wk_conn *c)
{
    uint64_t start = c->info->bytes_out;
    for (;;) {
        if (c->info->bytes_out - start >= CONN_FLUSH_BUDGET) {
            schedule(c); /* more next turn, after the others */
            return;
        }
        int rc;
        bool at_file = c->file_fd >= 0 && c->file_at == c->out_sent && c->file_left > 0;
        if (at_file)
            rc = write_file(c);
        else if (wk_buf_len(&c->out) > 0)
            rc = write_mem(c);
        else
            break;
        if (rc == -EAGAIN)
            return; /* the EPOLLOUT edge brings us back */
        if (rc < 0) {
            if (rc == -EIO)
                wk_conn_close(c, "file-truncated");
            else
                io_failed(c, -rc);
            return;
        }
        /*
         * After a short write, go on until EAGAIN: only that guarantees an
         * EPOLLOUT edge when room frees up (sendfile can stop short without
         * filling the socket buffer).
         */
    }
    drained(c);
}

/* Reads and throws away input while lingering after our FIN. */
static void linger_read(struct wk_conn *c)
{
    char sink[CONN_LINGER_CHUNK];
    for (int i = 0; i < CONN_READS_PER_EVENT; i++) {
        ssize_t n = read(c->info->fd, sink, sizeof sink);
        if (n > 0) {
            wk_scoreboard_add(&c->info->bytes_in, (uint64_t)n);
            continue;
        }
        if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
            c->readable = false;
            return;
        }
        wk_conn_close(c, c->reason);
        return;
    }
    schedule(c);
}

static void conn_read(struct wk_conn *c)
{
    if (c->shut_wr) {
        linger_read(c);
        return;
    }
    for (int i = 0; i < CONN_READS_PER_EVENT; i++) {
        if (c->read_paused || c->finishing || c->closed || c->peer_eof)
            return;
        char *space;
        size_t avail, room = c->in.max - wk_buf_len(&c->in);
        if (room == 0)
            return; /* full: the protocol must consume first */
        if (wk_buf_reserve(&c->in, room < CONN_READ_CHUNK ? room : CONN_READ_CHUNK, &space,
                           &avail) < 0) {
            wk_conn_close(c, "out-of-memory");
            return;
        }
        bool drained = false;
        ssize_t n = conn_recv(c, space, avail, &drained);
        if (n < 0) {
            if (n == -EINTR)
                continue;
            if (n == -EAGAIN) {
                c->readable = false;
                return;
            }
            if (n == -EPROTO) {
                /* Not TLS, or broken TLS: close with a FIN after what is unread, not a RST. */
                wk_conn_finish(c, c->handshaking ? "tls-handshake-failed" : "tls-error");
                return;
            }
            io_failed(c, (int)-n);
            return;
        }
        if (n == 0) {
            c->peer_eof = true;
            c->readable = false;
        } else {
            wk_buf_commit(&c->in, (size_t)n);
            wk_scoreboard_add(&c->info->bytes_in, (uint64_t)n);
            /*
             * A short read drained the socket, unless a FIN waits behind the
             * data: its edge came with the data's, so read on to see it.
             */
            if (drained && !c->fin_queued)
                c->readable = false;
        }
        c->srv->ops->on_data(c);
        if (!c->readable)
            return;
    }
    schedule(c); /* more to read: after the others have had their turn */
}

bool wk_conn_run_pending(struct wk_server *srv)
{
    /* Only the conns scheduled so far: those scheduled now wait for the next turn. */
    struct wk_conn *list = srv->pending;
    srv->pending = NULL;
    while (list != NULL) {
        struct wk_conn *c = list;
        list = c->next;
        c->pending = false;
        if (c->closed) {
            c->next = srv->closed;
            srv->closed = c;
            continue;
        }
        if (wk_conn_output_pending(c))
            conn_flush(c);
        else if (c->tls_next != NULL)
            drained(c);
        else if (c->finishing && !c->shut_wr)
            start_linger(c);
        if (!c->closed && c->readable && !c->read_paused)
            conn_read(c);
    }
    wk_conn_reap(srv);
    return srv->pending != NULL;
}

void wk_conn_reap(struct wk_server *srv)
{
    while (srv->closed != NULL) {
        struct wk_conn *c = srv->closed;
        srv->closed = c->next;
        srv->ops->on_close(c);
        wk_scoreboard_release(srv->board, c->info);
        release_file(c);
        wk_buf_fini(&c->in);
        wk_buf_fini(&c->out);
        free(c);
    }
}
