/*
 * sockinfo.c: TCP sockets as the kernel sees them, read through sock_diag
 * netlink the way ss reads them (see sockinfo.h). Owns, for the length of
 * one query, a netlink socket and its receive buffer; the result array goes
 * to the caller. Nothing the kernel sends is trusted: every message and
 * attribute length is checked against what was received before it is read.
 *
 * The port filter runs twice: as inet_diag bytecode in the kernel, so a
 * host with many sockets sends only those asked for, and again here, which
 * costs little and keeps the result right if the kernel ever sends more.
 */
#include "common/sockinfo.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/uio.h>
#include <unistd.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/sock_diag.h>
/* The kernel's struct tcp_info: glibc's <netinet/tcp.h> copy stops before bytes_acked. */
#include <linux/tcp.h>

#include "common/clock.h"

/* Room for one recvmsg(): a dump batch is at most 32 KiB; more than that is MSG_TRUNC. */
#define SOCKINFO_RECV_LEN (64 * 1024)
/* The whole query gives up after this long (and one recvmsg() waits at most as long). */
#define SOCKINFO_TIMEOUT_MS 1000
/* First size of the result array; it doubles, never past max. */
#define SOCKINFO_FIRST_CAP 16
/*
 * The states asked for: bits 1 (TCP_ESTABLISHED) to 12 (TCP_NEW_SYN_RECV,
 * request sockets, which the kernel reports as SYN-RECV), as ss -ta does.
 * Bit 13, bound but not listening, is left out, as ss leaves it out.
 */
#define SOCKINFO_STATES 0x1ffeu
/* Bytecode per port: a port test (two ops) and a jump to "accept" (one op). */
#define SOCKINFO_BC_OP  sizeof(struct inet_diag_bc_op)
#define SOCKINFO_BC_MAX (WK_SOCKINFO_MAX_PORTS * 3 * SOCKINFO_BC_OP)

/* One query in progress. */
struct query {
    const uint16_t *ports;
    size_t nports;
    size_t max;
    struct wk_sockinfo *v; /* the result, n used, cap allocated */
    size_t n, cap;
    uint8_t *buf; /* SOCKINFO_RECV_LEN bytes */
    uint64_t deadline_ms;
    uint8_t bc[SOCKINFO_BC_MAX];
    size_t bclen;
};

/*
 * Indexed by the kernel's TCP state numbers, which <netinet/tcp.h> names
 * TCP_ESTABLISHED (1) to TCP_CLOSING (11); that header cannot be included
 * next to <linux/tcp.h>. The names are ss's.
 */
static const char *const state_names[] = {
    [1] = "ESTAB",      [2] = "SYN-SENT",  [3] = "SYN-RECV", [4] = "FIN-WAIT-1",
    [5] = "FIN-WAIT-2", [6] = "TIME-WAIT", [7] = "UNCONN",   [8] = "CLOSE-WAIT",
    [9] = "LAST-ACK",   [10] = "LISTEN",   [11] = "CLOSING",
};

const char *wk_sockinfo_state_name(uint8_t state)
{
    if (state < WK_ARRAY_LEN(state_names) && state_names[state] != NULL)
        return state_names[state];
    return "UNKNOWN";
}

static void say(char *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void say(char *err, const char *fmt, ...)
{
    va_list ap;
    if (err == NULL)
        return;
    va_start(ap, fmt);
    vsnprintf(err, WK_ERR_LEN, fmt, ap);
    va_end(ap);
}

/*
 * Compiles "local port is one of ports" into inet_diag bytecode. The kernel
 * runs it from the start: "yes" and "no" are the byte offsets to jump by,
 * landing exactly on the end accepts, landing past it rejects. Per port:
 *
 *     S_EQ yes=8 no=12, {port}     equal: go on to the JMP; not: next port
 *     JMP no=(to the end)          accept
 *
 * The last port has no JMP: its "yes" lands on the end and its "no" 4 bytes
 * past it. Every op's "yes" is the next op, which the kernel's audit wants.
 */
static size_t build_filter(uint8_t *bc, const uint16_t *ports, size_t nports)
{
    size_t len = nports * 3 * SOCKINFO_BC_OP - SOCKINFO_BC_OP;
    size_t off = 0;
    for (size_t i = 0; i < nports; i++) {
        struct inet_diag_bc_op ops[3] = {
            {.code = INET_DIAG_BC_S_EQ, .yes = 2 * SOCKINFO_BC_OP, .no = 3 * SOCKINFO_BC_OP},
            {.no = ports[i]},
            {.code = INET_DIAG_BC_JMP,
             .yes = SOCKINFO_BC_OP,
             .no = (unsigned short)(len - off - 2 * SOCKINFO_BC_OP)},
        };
        size_t n = i + 1 < nports ? 3 : 2;
        memcpy(bc + off, ops, n * SOCKINFO_BC_OP);
        off += n * SOCKINFO_BC_OP;
    }
    return off;
}

/* A blocking netlink socket whose reads give up after SOCKINFO_TIMEOUT_MS. */
static int open_diag(void)
{
    struct timeval tv = {.tv_sec = SOCKINFO_TIMEOUT_MS / 1000,
                         .tv_usec = (SOCKINFO_TIMEOUT_MS % 1000) * 1000};
    int fd = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
    if (fd < 0)
        return -errno;
    if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) < 0) {
        int e = errno;
        close(fd);
        return -e;
    }
    return fd;
}

/* Asks for a dump of family's TCP sockets that pass the filter, with struct tcp_info. */
static int send_request(int fd, const struct query *q, int family, uint32_t seq)
{
    struct inet_diag_req_v2 req = {
        .sdiag_family = (uint8_t)family,
        .sdiag_protocol = IPPROTO_TCP,
        .idiag_ext = 1u << (INET_DIAG_INFO - 1),
        .idiag_states = SOCKINFO_STATES,
    };
    struct rtattr rta = {
        .rta_len = (unsigned short)RTA_LENGTH(q->bclen),
        .rta_type = INET_DIAG_REQ_BYTECODE,
    };
    struct nlmsghdr nlh = {
        .nlmsg_len = NLMSG_LENGTH(sizeof req) + RTA_SPACE(q->bclen),
        .nlmsg_type = SOCK_DIAG_BY_FAMILY,
        .nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP,
        .nlmsg_seq = seq,
    };
    struct sockaddr_nl kernel = {.nl_family = AF_NETLINK};
    /* The three headers are multiples of 4 bytes long, so no padding goes between them. */
    struct iovec iov[] = {
        {&nlh, sizeof nlh},
        {&req, sizeof req},
        {&rta, sizeof rta},
        {(void *)q->bc, q->bclen},
    };
    struct msghdr mh = {
        .msg_name = &kernel,
        .msg_namelen = sizeof kernel,
        .msg_iov = iov,
        .msg_iovlen = WK_ARRAY_LEN(iov),
    };
    ssize_t n;
    do {
        n = sendmsg(fd, &mh, 0);
    } while (n < 0 && errno == EINTR);
    if (n < 0)
        return -errno;
    return (size_t)n == nlh.nlmsg_len ? 0 : -EIO;
}

/*
 * Reads one batch of messages into q->buf. *len is 0 when the batch was
 * not from the kernel (and is ignored). Returns 0 or -errno; -ETIMEDOUT
 * when the kernel said nothing for SOCKINFO_TIMEOUT_MS.
 */
static int recv_batch(int fd, struct query *q, size_t *len)
{
    struct sockaddr_nl from;
    struct iovec iov = {q->buf, SOCKINFO_RECV_LEN};
    struct msghdr mh = {
        .msg_name = &from,
        .msg_namelen = sizeof from,
        .msg_iov = &iov,
        .msg_iovlen = 1,
    };
    ssize_t n;
    *len = 0;
    do {
        n = recvmsg(fd, &mh, 0);
    } while (n < 0 && errno == EINTR);
    if (n < 0)
        return errno == EAGAIN || errno == EWOULDBLOCK ? -ETIMEDOUT : -errno;
    if (mh.msg_flags & MSG_TRUNC)
        return -EMSGSIZE;
    if (mh.msg_namelen < sizeof from || from.nl_family != AF_NETLINK || from.nl_pid != 0)
        return 0;
    *len = (size_t)n;
    return 0;
}

static bool port_wanted(const struct query *q, uint16_t port)
{
    for (size_t i = 0; i < q->nports; i++) {
        if (q->ports[i] == port)
            return true;
    }
    return false;
}

/* addr is four network-order words (only the first for AF_INET); port is network order. */
static void set_addr(union wk_ipaddr *a, int family, const uint32_t addr[4], uint16_t port,
                     uint32_t ifindex)
{
    memset(a, 0, sizeof *a);
    if (family == AF_INET) {
        a->in.sin_family = AF_INET;
        a->in.sin_port = port;
        memcpy(&a->in.sin_addr, addr, sizeof a->in.sin_addr);
        return;
    }
    a->in6.sin6_family = AF_INET6;
    a->in6.sin6_port = port;
    memcpy(&a->in6.sin6_addr, addr, sizeof a->in6.sin6_addr);
    if (IN6_IS_ADDR_LINKLOCAL(&a->in6.sin6_addr))
        a->in6.sin6_scope_id = ifindex;
}

/*
 * INET_DIAG_INFO: struct tcp_info, shorter from older kernels and longer
 * from newer ones. Whatever it lacks stays 0. Copied out, since the
 * attribute need not be 8-byte aligned.
 */
static void read_tcp_info(struct wk_sockinfo *si, const uint8_t *p, size_t len)
{
    struct tcp_info ti;
    memset(&ti, 0, sizeof ti);
    memcpy(&ti, p, len < sizeof ti ? len : sizeof ti);
    if (len < offsetof(struct tcp_info, tcpi_total_retrans) + sizeof ti.tcpi_total_retrans)
        return;
    si->has_tcp = true;
    si->rtt_us = ti.tcpi_rtt;
    si->rttvar_us = ti.tcpi_rttvar;
    si->snd_cwnd = ti.tcpi_snd_cwnd;
    si->retrans = ti.tcpi_retrans;
    si->total_retrans = ti.tcpi_total_retrans;
    si->bytes_acked = ti.tcpi_bytes_acked;
    si->bytes_received = ti.tcpi_bytes_received;
}

/* The attributes after struct inet_diag_msg: INET_DIAG_INFO and INET_DIAG_SKV6ONLY. */
static void read_attrs(struct wk_sockinfo *si, const uint8_t *p, size_t len)
{
    size_t off = 0;
    while (len - off >= sizeof(struct rtattr)) {
        struct rtattr a;
        memcpy(&a, p + off, sizeof a);
        if (a.rta_len < sizeof a || a.rta_len > len - off)
            return;
        const uint8_t *data = p + off + RTA_LENGTH(0);
        size_t dlen = a.rta_len - RTA_LENGTH(0);
        switch (a.rta_type & NLA_TYPE_MASK) {
        case INET_DIAG_INFO:
            read_tcp_info(si, data, dlen);
            break;
        case INET_DIAG_SKV6ONLY:
            si->v6only = dlen >= 1 && data[0] != 0;
            break;
        default:
            break;
        }
        size_t step = RTA_ALIGN(a.rta_len);
        if (step >= len - off)
            return;
        off += step;
    }
}

/* The next free slot of the result, growing it; NULL when out of memory. */
static struct wk_sockinfo *next_slot(struct query *q)
{
    if (q->n == q->cap) {
        size_t cap = q->cap ? q->cap * 2 : SOCKINFO_FIRST_CAP;
        if (cap > q->max)
            cap = q->max;
        struct wk_sockinfo *v = reallocarray(q->v, cap, sizeof *v);
        if (v == NULL)
            return NULL;
        q->v = v;
        q->cap = cap;
    }
    return &q->v[q->n];
}

/* One SOCK_DIAG_BY_FAMILY message. Returns 1 when the result is full, 0, or -errno. */
static int add_socket(struct query *q, const uint8_t *p, size_t len)
{
    struct inet_diag_msg m;
    if (len < sizeof m)
        return -EPROTO;
    memcpy(&m, p, sizeof m);
    if (m.idiag_family != AF_INET && m.idiag_family != AF_INET6)
        return 0;
    if (!port_wanted(q, ntohs(m.id.idiag_sport)))
        return 0;
    if (q->n >= q->max)
        return 1;
    struct wk_sockinfo *si = next_slot(q);
    if (si == NULL)
        return -ENOMEM;
    memset(si, 0, sizeof *si);
    set_addr(&si->local, m.idiag_family, m.id.idiag_src, m.id.idiag_sport, m.id.idiag_if);
    set_addr(&si->peer, m.idiag_family, m.id.idiag_dst, m.id.idiag_dport, m.id.idiag_if);
    si->state = m.idiag_state;
    si->rqueue = m.idiag_rqueue;
    si->wqueue = m.idiag_wqueue;
    si->uid = m.idiag_uid;
    si->inode = m.idiag_inode;
    if (NLMSG_ALIGN(sizeof m) < len)
        read_attrs(si, p + NLMSG_ALIGN(sizeof m), len - NLMSG_ALIGN(sizeof m));
    q->n++;
    return q->n >= q->max ? 1 : 0;
}

/* One message of our dump. Returns 1 when the dump is over or the result full, 0, or -errno. */
static int on_message(struct query *q, uint16_t type, const uint8_t *p, size_t len)
{
    int code = 0;
    switch (type) {
    case NLMSG_DONE:
        /* Since Linux 4.x the payload is the dump's own error, 0 when it went well. */
        if (len >= sizeof code)
            memcpy(&code, p, sizeof code);
        return code < 0 ? code : 1;
    case NLMSG_ERROR:
        if (len < sizeof code)
            return -EPROTO;
        memcpy(&code, p, sizeof code);
        return code < 0 ? code : 1;
    case SOCK_DIAG_BY_FAMILY:
        return add_socket(q, p, len);
    default:
        return 0;
    }
}

/* Walks the messages of one batch. Returns 1 when the dump is over, 0 for more, or -errno. */
static int parse_batch(struct query *q, size_t len, uint32_t seq)
{
    size_t off = 0;
    while (len - off >= NLMSG_HDRLEN) {
        struct nlmsghdr h;
        memcpy(&h, q->buf + off, sizeof h);
        if (h.nlmsg_len < NLMSG_HDRLEN || h.nlmsg_len > len - off)
            return -EPROTO;
        if (h.nlmsg_seq == seq) {
            int rc = on_message(q, h.nlmsg_type, q->buf + off + NLMSG_HDRLEN,
                                h.nlmsg_len - NLMSG_HDRLEN);
            if (rc != 0)
                return rc;
        }
        size_t step = NLMSG_ALIGN(h.nlmsg_len);
        if (step >= len - off)
            break;
        off += step;
    }
    return 0;
}

/* Dumps one address family into q, until the kernel is done, q is full or time is up. */
static int dump_family(int fd, struct query *q, int family, uint32_t seq)
{
    int rc = send_request(fd, q, family, seq);
    while (rc == 0) {
        size_t len;
        if (wk_clock_monotonic_ms() > q->deadline_ms)
            return -ETIMEDOUT;
        rc = recv_batch(fd, q, &len);
        if (rc == 0)
            rc = parse_batch(q, len, seq);
    }
    return rc < 0 ? rc : 0;
}

static void explain(char *err, const char *family, int rc)
{
    const char *hint = "";
    if (rc == -ENOENT)
        hint = " (is the kernel's tcp_diag module available?)";
    else if (rc == -EINVAL)
        hint = " (the kernel refused the port filter)";
    say(err, "sock_diag: reading %s TCP sockets: %s%s", family, strerror(-rc), hint);
}

ssize_t wk_sockinfo_query(const uint16_t *ports, size_t nports, size_t max,
                          struct wk_sockinfo **out, char err[WK_ERR_LEN])
{
    struct query *q = NULL;
    int fd = -1, rc;
    if (out == NULL || ports == NULL || nports == 0 || nports > WK_SOCKINFO_MAX_PORTS) {
        say(err, "sock_diag: between 1 and %d ports must be given, not %zu", WK_SOCKINFO_MAX_PORTS,
            ports == NULL ? 0 : nports);
        if (out != NULL)
            *out = NULL;
        return -EINVAL;
    }
    *out = NULL;
    if (max == 0)
        return 0;
    q = calloc(1, sizeof *q);
    if (q == NULL || (q->buf = malloc(SOCKINFO_RECV_LEN)) == NULL) {
        rc = -ENOMEM;
        say(err, "sock_diag: out of memory");
        goto fail;
    }
    q->ports = ports;
    q->nports = nports;
    q->max = max;
    q->bclen = build_filter(q->bc, ports, nports);
    fd = open_diag();
    if (fd < 0) {
        rc = fd;
        say(err, "sock_diag: netlink socket: %s", strerror(-rc));
        goto fail;
    }
    q->deadline_ms = wk_clock_monotonic_ms() + SOCKINFO_TIMEOUT_MS;
    rc = dump_family(fd, q, AF_INET, 1);
    if (rc < 0) {
        explain(err, "IPv4", rc);
        goto fail;
    }
    if (q->n < q->max) {
        rc = dump_family(fd, q, AF_INET6, 2);
        /* A kernel without IPv6 has no IPv6 sockets to show. */
        if (rc < 0 && rc != -ENOENT && rc != -EAFNOSUPPORT) {
            explain(err, "IPv6", rc);
            goto fail;
        }
    }
    close(fd);
    ssize_t n = (ssize_t)q->n;
    *out = q->v;
    free(q->buf);
    free(q);
    return n;

fail:
    if (fd >= 0)
        close(fd);
    if (q != NULL) {
        free(q->v);
        free(q->buf);
    }
    free(q);
    return rc;
}
