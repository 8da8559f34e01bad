/*
 * test_wk_metrics.c: the Prometheus text of common/metrics.c, compared with
 * exact expected pages: one sample, with and without a label; label values
 * with quote, backslash and newline escaped; a family's HELP and TYPE; the
 * families of a server, each contiguous, in their order, one sample per
 * listener, the counters summed over the workers and the bytes of the open
 * connections of every worker added to those of closed ones; the start
 * time; a server built by hand on a scoreboard of two workers, and one with
 * real listeners (two TCP listeners and an AF_UNIX one whose path holds a
 * quote, a backslash and a newline). Every page is also read by a small
 * checker of the text format's grammar (version 0.0.4), and a page written
 * into a buffer too small for it must be recognisable as cut short.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "common/addr.h"
#include "common/buf.h"
#include "common/conn.h"
#include "common/listener.h"
#include "common/log.h"
#include "common/metrics.h"
#include "common/registry.h"
#include "common/scoreboard.h"
#include "common/supervisor.h"
#include "common/server.h"

/* A writer on buf for one call (the tests of whole pages check its error with their own). */
#define W(buf) (&(struct wk_metrics){.b = (buf)})

#define PAGE_MAX (1u << 20)

/* ---- a checker of the text format ------------------------------------------------------- */

struct family_seen {
    char name[128];
};

static bool is_name_start(char c, bool colon)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || (colon && c == ':');
}

static bool is_name_char(char c, bool colon)
{
    return is_name_start(c, colon) || (c >= '0' && c <= '9');
}

/* A metric (colon allowed) or label name at *p; returns its length, 0 if none. */
static size_t name_at(const char *p, const char *end, bool colon)
{
    size_t n = 0;
    if (p >= end || !is_name_start(*p, colon))
        return 0;
    while (p + n < end && is_name_char(p[n], colon))
        n++;
    return n;
}

/* An escaped label value after its opening quote; returns the bytes up to the closing quote. */
static size_t label_value_at(const char *p, const char *end, bool *ok)
{
    size_t n = 0;
    *ok = false;
    while (p + n < end) {
        char c = p[n];
        if (c == '"') {
            *ok = true;
            return n;
        }
        if (c == '\n')
            return n;
        if (c == '\\') {
            if (p + n + 1 >= end || (p[n + 1] != '\\' && p[n + 1] != '"' && p[n + 1] != 'n'))
                return n;
            n += 2;
            continue;
        }
        n++;
    }
    return n;
}

static bool fail_line(bool verbose, const char *why, const char *line, size_t len)
{
    if (verbose)
        print_error("exposition: %s: \"%.*s\"\n", why, (int)len, line);
    return false;
}

/* HELP text: any bytes but a raw newline; a backslash only as \\ or \n. */
static bool help_ok(const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (p[i] == '\\') {
            if (i + 1 >= n || (p[i + 1] != '\\' && p[i + 1] != 'n'))
                return false;
            i++;
        }
    }
    return true;
}

/* A sample line: name{l="v",...} value, its name that of the family whose TYPE came last. */
static bool sample_ok(const char *line, size_t len, const char *family, bool verbose)
{
    const char *p = line, *end = line + len;
    size_t n = name_at(p, end, true);
    if (n == 0)
        return fail_line(verbose, "no metric name", line, len);
    if (family[0] == '\0' || strlen(family) != n || memcmp(p, family, n) != 0)
        return fail_line(verbose, "sample outside its family", line, len);
    p += n;
    if (p < end && *p == '{') {
        p++;
        for (;;) {
            n = name_at(p, end, false);
            if (n == 0 || p + n + 1 >= end || p[n] != '=' || p[n + 1] != '"')
                return fail_line(verbose, "bad label", line, len);
            p += n + 2;
            bool ok;
            p += label_value_at(p, end, &ok);
            if (!ok)
                return fail_line(verbose, "bad label value", line, len);
            p++; /* the closing quote */
            if (p < end && *p == ',') {
                p++;
                continue;
            }
            if (p < end && *p == '}') {
                p++;
                break;
            }
            return fail_line(verbose, "labels not closed", line, len);
        }
    }
    if (p >= end || *p != ' ')
        return fail_line(verbose, "no space before the value", line, len);
    p++;
    if (p >= end)
        return fail_line(verbose, "no value", line, len);
    for (; p < end; p++) {
        if (*p < '0' || *p > '9')
            return fail_line(verbose, "value not an unsigned integer", line, len);
    }
    return true;
}

/*
 * Checks a whole page: every line ends in LF; "# HELP name text", then
 * "# TYPE name counter|gauge", then the family's samples; no family twice;
 * no sample (name and labels) twice.
 */
static bool exposition_ok(const char *text, size_t len, bool verbose)
{
    struct family_seen seen[64];
    size_t nseen = 0;
    char family[128] = "";
    char helped[128] = "";
    const char *line = text, *end = text + len;
    if (len > 0 && text[len - 1] != '\n')
        return fail_line(verbose, "no final newline", text, len);
    while (line < end) {
        const char *nl = memchr(line, '\n', (size_t)(end - line));
        size_t n = (size_t)(nl - line);
        if (n >= 7 && memcmp(line, "# HELP ", 7) == 0) {
            size_t m = name_at(line + 7, nl, true);
            if (m == 0 || m >= sizeof helped || line[7 + m] != ' ' ||
                !help_ok(line + 8 + m, n - 8 - m))
                return fail_line(verbose, "bad HELP", line, n);
            for (size_t i = 0; i < nseen; i++) {
                if (strlen(seen[i].name) == m && memcmp(seen[i].name, line + 7, m) == 0)
                    return fail_line(verbose, "family not contiguous", line, n);
            }
            if (nseen == WK_ARRAY_LEN(seen))
                return fail_line(verbose, "too many families for the checker", line, n);
            memcpy(seen[nseen].name, line + 7, m);
            seen[nseen++].name[m] = '\0';
            memcpy(helped, line + 7, m);
            helped[m] = '\0';
            family[0] = '\0'; /* samples only after the TYPE */
        } else if (n >= 7 && memcmp(line, "# TYPE ", 7) == 0) {
            size_t m = name_at(line + 7, nl, true);
            const char *type = line + 8 + m;
            size_t tlen = n - 8 - m;
            if (m == 0 || line[7 + m] != ' ' || strlen(helped) != m ||
                memcmp(helped, line + 7, m) != 0)
                return fail_line(verbose, "TYPE without its HELP", line, n);
            if (!(tlen == 7 && memcmp(type, "counter", 7) == 0) &&
                !(tlen == 5 && memcmp(type, "gauge", 5) == 0))
                return fail_line(verbose, "bad TYPE", line, n);
            memcpy(family, helped, m + 1);
            helped[0] = '\0';
        } else if (n > 0 && line[0] == '#') {
            return fail_line(verbose, "unexpected comment", line, n);
        } else {
            if (!sample_ok(line, n, family, verbose))
                return false;
            /* The same series twice: compare everything before the value. */
            const char *sp = memrchr(line, ' ', n);
            size_t key = (size_t)(sp - line);
            for (const char *o = text; o < line;) {
                const char *onl = memchr(o, '\n', (size_t)(end - o));
                const char *osp = memrchr(o, ' ', (size_t)(onl - o));
                if (o[0] != '#' && osp != NULL && (size_t)(osp - o) == key &&
                    memcmp(o, line, key) == 0)
                    return fail_line(verbose, "series twice", line, n);
                o = onl + 1;
            }
        }
        line = nl + 1;
    }
    return true;
}

/* ---- helpers ------------------------------------------------------------------------------ */

static void expect_page(struct wk_buf *b, const char *want)
{
    size_t len = wk_buf_len(b);
    if (len != strlen(want) || memcmp(wk_buf_data(b), want, len) != 0) {
        print_error("got:\n%.*s\nwant:\n%s\n", (int)len, wk_buf_data(b), want);
        fail();
    }
    assert_true(exposition_ok(wk_buf_data(b), len, true));
}

/* An appending sprintf into a growing heap string. */
struct text {
    char *s;
    size_t len;
};

static void add(struct text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void add(struct text *t, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    assert_true(n >= 0);
    t->s = realloc(t->s, t->len + (size_t)n + 1);
    assert_non_null(t->s);
    va_start(ap, fmt);
    vsnprintf(t->s + t->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    t->len += (size_t)n;
}

/* A label value escaped by hand, as the format asks: \\, \" and \n. */
static void add_escaped(struct text *t, const char *v)
{
    for (; *v; v++) {
        if (*v == '\\')
            add(t, "\\\\");
        else if (*v == '"')
            add(t, "\\\"");
        else if (*v == '\n')
            add(t, "\\n");
        else
            add(t, "%c", *v);
    }
}

struct want_listener {
    const char *name;
    uint64_t v[7]; /* accepted, open, closed, in, out, tls ok, tls failed */
};

/* The page wk_metrics_server should write for these listeners, built independently. */
/* A reload function that does nothing and returns what *arg says. */
static int reload_as_told(struct wk_server *srv, void *arg, char err[WK_ERR_LEN])
{
    (void)srv;
    int rc = *(int *)arg;
    if (rc < 0)
        snprintf(err, WK_ERR_LEN, "told to fail");
    return rc;
}

/* What the expected page says of reloads (the defaults: none yet). */
static uint64_t reloads_ok, reloads_failed, reloads_at_s;
static bool reloads_last_failed;

static char *expected_server_page(const char *prefix, const struct want_listener *wl, size_t n,
                                  uint64_t start_s)
{
    static const char *const fam[7][3] = {
        {"connections_accepted_total", "counter", "Connections accepted."},
        {"connections_open", "gauge", "Connections open now."},
        {"connections_closed_total", "counter", "Connections closed."},
        {"received_bytes_total", "counter", "Bytes received from clients (after TLS)."},
        {"sent_bytes_total", "counter", "Bytes sent to clients (before TLS)."},
        {"tls_handshakes_total", "counter", "TLS handshakes completed."},
        {"tls_handshake_failures_total", "counter", "TLS handshakes that failed or timed out."},
    };
    struct text t = {NULL, 0};
    for (int m = 0; m < 7; m++) {
        add(&t, "# HELP %s_%s %s\n", prefix, fam[m][0], fam[m][2]);
        add(&t, "# TYPE %s_%s %s\n", prefix, fam[m][0], fam[m][1]);
        for (size_t i = 0; i < n; i++) {
            add(&t, "%s_%s{listener=\"", prefix, fam[m][0]);
            add_escaped(&t, wl[i].name);
            add(&t, "\"} %llu\n", (unsigned long long)wl[i].v[m]);
        }
    }
    add(&t, "# HELP %s_start_time_seconds Start time of the process since the epoch, in seconds.\n",
        prefix);
    add(&t, "# TYPE %s_start_time_seconds gauge\n", prefix);
    add(&t, "%s_start_time_seconds %llu\n", prefix, (unsigned long long)start_s);
    add(&t,
        "# HELP %s_reloads_total Reloads (SIGHUP): done, or refused with the configuration "
        "unchanged.\n# TYPE %s_reloads_total counter\n",
        prefix, prefix);
    add(&t, "%s_reloads_total{result=\"ok\"} %llu\n", prefix, (unsigned long long)reloads_ok);
    add(&t, "%s_reloads_total{result=\"failed\"} %llu\n", prefix,
        (unsigned long long)reloads_failed);
    add(&t,
        "# HELP %s_config_last_reload_successful 1 when the last reload (or the start) read the "
        "configuration.\n# TYPE %s_config_last_reload_successful gauge\n",
        prefix, prefix);
    add(&t, "%s_config_last_reload_successful %d\n", prefix, reloads_last_failed ? 0 : 1);
    add(&t,
        "# HELP %s_config_last_reload_success_timestamp_seconds When the configuration in use was "
        "read, since the epoch, in seconds.\n"
        "# TYPE %s_config_last_reload_success_timestamp_seconds gauge\n",
        prefix, prefix);
    add(&t, "%s_config_last_reload_success_timestamp_seconds %llu\n", prefix,
        (unsigned long long)(reloads_at_s ? reloads_at_s : start_s));
    return t.s;
}

static void fake_listener(struct wk_listener *l, const char *addr)
{
    char err[WK_ERR_LEN];
    memset(l, 0, sizeof *l);
    l->fd = -1;
    assert_int_equal(wk_addr_parse(addr, &l->addr, err), 0);
    wk_addr_format(&l->addr.u.sa, l->addr.len, l->name, sizeof l->name);
}

/* A scoreboard as wk_server_listen() makes one, for n listeners and two workers. */
static struct wk_scoreboard *two_worker_board(size_t n)
{
    const struct wk_scoreboard_shape shape = {
        .workers = 2,
        .listeners = (unsigned)n,
        .slots = 8,
        .nproto = WK_SERVER_COUNTERS,
        .slot_size = sizeof(struct wk_conn_info),
        .counters_size = sizeof(struct wk_registry),
    };
    struct wk_scoreboard *sb = NULL;
    assert_int_equal(wk_scoreboard_new(&shape, &sb), 0);
    assert_non_null(sb);
    return sb;
}

/* The counters of listener i in worker w, set as their one writer sets them. */
static void set_counters(struct wk_scoreboard *sb, unsigned w, unsigned i, uint64_t accepted,
                         uint64_t closed, uint64_t in, uint64_t out, uint64_t tls_ok,
                         uint64_t tls_failed)
{
    struct wk_registry *r = wk_scoreboard_counters(sb, w, i);
    assert_non_null(r);
    wk_scoreboard_set(&r->accepted, accepted);
    wk_scoreboard_set(&r->closed, closed);
    wk_scoreboard_set(&r->bytes_in, in);
    wk_scoreboard_set(&r->bytes_out, out);
    wk_scoreboard_set(&r->tls_handshakes, tls_ok);
    wk_scoreboard_set(&r->tls_failures, tls_failed);
}

/* An open connection of worker w on listener i, in a slot of the scoreboard. */
static struct wk_conn_info *fake_conn(struct wk_scoreboard *sb, unsigned w, unsigned i, uint64_t in,
                                      uint64_t out)
{
    struct wk_conn_info *ci = wk_scoreboard_claim(sb, w);
    assert_non_null(ci);
    assert_int_equal(ci->head.worker, w);
    ci->listener = (uint16_t)i;
    ci->fd = -1;
    ci->peer.sa.sa_family = AF_INET;
    wk_registry_copy(ci->phase, sizeof ci->phase, "idle");
    wk_scoreboard_write_end(ci);
    wk_scoreboard_add(&ci->bytes_in, in);
    wk_scoreboard_add(&ci->bytes_out, out);
    return ci;
}

/* The connection closes, as common/conn.c closes it: its bytes move to its worker's counters. */
static void fake_close(struct wk_scoreboard *sb, struct wk_conn_info *ci)
{
    struct wk_registry *r = wk_scoreboard_counters(sb, ci->head.worker, ci->listener);
    assert_non_null(r);
    wk_scoreboard_add(&r->closed, 1);
    wk_scoreboard_add(&r->bytes_in, ci->bytes_in);
    wk_scoreboard_add(&r->bytes_out, ci->bytes_out);
    wk_scoreboard_release(sb, ci);
}

static const char *const weird_path = "/run/q\"b\\s\nx.sock"; /* quote, backslash, newline */

/* ---- samples and families ----------------------------------------------------------------- */

static void test_sample_without_label(void **state)
{
    (void)state;
    struct wk_buf b;
    wk_buf_init(&b, PAGE_MAX);
    wk_metrics_sample(W(&b), "httpd", "up", NULL, NULL, 1);
    wk_metrics_sample(W(&b), "smtpd", "messages_total", NULL, NULL, 0);
    wk_metrics_sample(W(&b), "httpd", "big", NULL, NULL, UINT64_MAX);
    const char *want = "httpd_up 1\nsmtpd_messages_total 0\nhttpd_big 18446744073709551615\n";
    assert_int_equal(wk_buf_len(&b), strlen(want));
    assert_memory_equal(wk_buf_data(&b), want, strlen(want));
    wk_buf_fini(&b);
}

static void test_sample_with_label(void **state)
{
    (void)state;
    struct wk_buf b;
    wk_buf_init(&b, PAGE_MAX);
    wk_metrics_sample(W(&b), "httpd", "requests_total", "code", "2xx", 42);
    wk_metrics_sample(W(&b), "httpd", "requests_total", "code", "", 7);
    const char *want = "httpd_requests_total{code=\"2xx\"} 42\n"
                       "httpd_requests_total{code=\"\"} 7\n";
    assert_int_equal(wk_buf_len(&b), strlen(want));
    assert_memory_equal(wk_buf_data(&b), want, strlen(want));
    wk_buf_fini(&b);
}

static void test_label_escaping(void **state)
{
    (void)state;
    static const struct {
        const char *value, *escaped;
    } cases[] = {
        {"plain", "plain"},
        {"a\"b", "a\\\"b"},
        {"a\\b", "a\\\\b"},
        {"a\nb", "a\\nb"},
        {"\"\\\n", "\\\"\\\\\\n"},
        {"\\n", "\\\\n"},           /* a backslash then n: not a newline */
        {"tab\there", "tab\there"}, /* only the three are escaped */
        {"caf\xc3\xa9", "caf\xc3\xa9"},
        {"unix:/run/q\"b\\s\nx.sock", "unix:/run/q\\\"b\\\\s\\nx.sock"},
    };
    for (size_t i = 0; i < WK_ARRAY_LEN(cases); i++) {
        struct wk_buf b;
        char want[256];
        wk_buf_init(&b, PAGE_MAX);
        wk_metrics_sample(W(&b), "p", "m", "l", cases[i].value, 3);
        snprintf(want, sizeof want, "p_m{l=\"%s\"} 3\n", cases[i].escaped);
        assert_int_equal(wk_buf_len(&b), strlen(want));
        assert_memory_equal(wk_buf_data(&b), want, strlen(want));
        wk_buf_fini(&b);
    }
}

static void test_family(void **state)
{
    (void)state;
    struct wk_buf b;
    wk_buf_init(&b, PAGE_MAX);
    wk_metrics_family(W(&b), "smtpd", "messages_total", "counter",
                      "Messages by the outcome of DATA.");
    wk_metrics_sample(W(&b), "smtpd", "messages_total", "result", "delivered", 2);
    wk_metrics_sample(W(&b), "smtpd", "messages_total", "result", "refused", 0);
    wk_metrics_family(W(&b), "smtpd", "up", "gauge", "Up.");
    wk_metrics_sample(W(&b), "smtpd", "up", NULL, NULL, 1);
    expect_page(&b, "# HELP smtpd_messages_total Messages by the outcome of DATA.\n"
                    "# TYPE smtpd_messages_total counter\n"
                    "smtpd_messages_total{result=\"delivered\"} 2\n"
                    "smtpd_messages_total{result=\"refused\"} 0\n"
                    "# HELP smtpd_up Up.\n"
                    "# TYPE smtpd_up gauge\n"
                    "smtpd_up 1\n");
    wk_buf_fini(&b);
}

/* The checker itself: pages it must refuse. */
static void test_checker_refuses(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "p_m 1",                                     /* no final newline */
        "# TYPE p_m counter\np_m 1\n",               /* TYPE without HELP */
        "# HELP p_m x\n# TYPE p_m counter\np_n 1\n", /* sample of another family */
        "# HELP p_m x\n# TYPE p_m counter\np_m{l=\"a\"b\"} 1\n",
        "# HELP p_m x\n# TYPE p_m counter\np_m{l=\"a\\tb\"} 1\n",
        "# HELP p_m x\n# TYPE p_m counter\np_m{l=\"a} 1\n",
        "# HELP p_m x\n# TYPE p_m counter\np_m 1\n# HELP p_m x\n# TYPE p_m counter\n",
        "# HELP p_m x\n# TYPE p_m counter\np_m{l=\"a\"} 1\np_m{l=\"a\"} 2\n",
        "# HELP p_m x\n# TYPE p_m summer\n",
        "# HELP p_m x\n# TYPE p_m counter\np_m -1\n",
    };
    for (size_t i = 0; i < WK_ARRAY_LEN(bad); i++)
        assert_false(exposition_ok(bad[i], strlen(bad[i]), false));
    const char *good = "# HELP p_m x \\\\ \\n y\n# TYPE p_m gauge\np_m{a=\"1\",b=\"\\\"\"} 0\n";
    assert_true(exposition_ok(good, strlen(good), true));
}

/* ---- a server built by hand --------------------------------------------------------------- */

struct hand {
    struct wk_server srv;
    struct wk_listener ls[3];
    struct wk_conn_info *ci[3];
};

/* The listeners named by addrs, with a scoreboard of two workers; this process is worker 0. */
static void hand_init(struct hand *h, const char *const *addrs, size_t n)
{
    memset(h, 0, sizeof *h);
    h->srv.board = two_worker_board(n);
    for (size_t i = 0; i < n; i++) {
        fake_listener(&h->ls[i], addrs[i]);
        h->ls[i].counters = wk_scoreboard_counters(h->srv.board, 0, (unsigned)i);
        assert_non_null(h->ls[i].counters);
    }
    h->srv.listeners = h->ls;
    h->srv.nlisteners = n;
    h->srv.started_ms = 1700000000999; /* the gauge is whole seconds */
}

static void hand_fini(struct hand *h)
{
    wk_scoreboard_free(h->srv.board);
    h->srv.board = NULL;
}

static void hand_server(struct hand *h)
{
    char unix_addr[64];
    snprintf(unix_addr, sizeof unix_addr, "unix:%s", weird_path);
    const char *const addrs[] = {"127.0.0.1:8080", "[::]:25", unix_addr};
    hand_init(h, addrs, 3);
    struct wk_scoreboard *sb = h->srv.board;
    /*
     * 0: two open connections (10/100 bytes in worker 0, 20/200 in worker 1)
     * besides five closed; the totals 7, 5, 1000, 2000, 3, 1 split between the two.
     */
    h->ci[0] = fake_conn(sb, 0, 0, 10, 100);
    h->ci[1] = fake_conn(sb, 1, 0, 20, 200);
    set_counters(sb, 0, 0, 4, 3, 600, 1200, 2, 1);
    set_counters(sb, 1, 0, 3, 2, 400, 800, 1, 0);
    /* 1: nothing open; all in worker 0. */
    set_counters(sb, 0, 1, 9, 9, 7, 8, 0, 0);
    /* 2: one open connection, in worker 1, never one closed. */
    h->ci[2] = fake_conn(sb, 1, 2, 1, 2);
    set_counters(sb, 1, 2, 1, 0, 0, 0, 0, 0);
}

/* Sums over the workers: what a listener's counters say is what its blocks add up to. */
static void test_registry_sum(void **state)
{
    (void)state;
    struct hand h;
    hand_server(&h);
    struct wk_registry r;
    wk_registry_sum(h.srv.board, 0, &r);
    assert_int_equal(r.accepted, 7);
    assert_int_equal(r.closed, 5);
    assert_int_equal(r.bytes_in, 1000);
    assert_int_equal(r.bytes_out, 2000);
    assert_int_equal(r.tls_handshakes, 3);
    assert_int_equal(r.tls_failures, 1);
    wk_registry_sum(h.srv.board, 2, &r);
    assert_int_equal(r.accepted, 1);
    assert_int_equal(r.closed, 0);
    /* A listener the board does not have, and no board at all: zeros. */
    wk_registry_sum(h.srv.board, 3, &r);
    assert_int_equal(r.accepted, 0);
    wk_registry_sum(NULL, 0, &r);
    assert_int_equal(r.accepted + r.closed + r.bytes_in + r.bytes_out, 0);
    /* The listener's own block is worker 0's. */
    assert_ptr_equal(h.ls[1].counters, wk_scoreboard_counters(h.srv.board, 0, 1));
    assert_int_equal(wk_scoreboard_get(&h.ls[1].counters->accepted), 9);
    hand_fini(&h);
}

static void test_server_by_hand(void **state)
{
    (void)state;
    struct hand h;
    hand_server(&h);
    assert_string_equal(h.ls[2].name, "unix:/run/q\"b\\s\nx.sock");
    const struct want_listener wl[3] = {
        {h.ls[0].name, {7, 2, 5, 1030, 2300, 3, 1}},
        {h.ls[1].name, {9, 0, 9, 7, 8, 0, 0}},
        {h.ls[2].name, {1, 1, 0, 1, 2, 0, 0}},
    };
    char *want = expected_server_page("httpd", wl, 3, 1700000000);
    struct wk_buf b;
    wk_buf_init(&b, PAGE_MAX);
    wk_metrics_server(W(&b), &h.srv, "httpd");
    expect_page(&b, want);
    free(want);
    wk_buf_fini(&b);
    hand_fini(&h);
}

/* Only worker 1 holds connections and counts: the page is the same from worker 0. */
static void test_server_other_worker(void **state)
{
    (void)state;
    const char *const addrs[] = {"127.0.0.1:8080", "127.0.0.1:8081"};
    struct hand h;
    hand_init(&h, addrs, 2);
    struct wk_scoreboard *sb = h.srv.board;
    fake_conn(sb, 1, 1, 3, 4);
    fake_conn(sb, 1, 1, 5, 6);
    set_counters(sb, 1, 1, 2, 0, 0, 0, 1, 0);
    const struct want_listener wl[2] = {
        {h.ls[0].name, {0, 0, 0, 0, 0, 0, 0}},
        {h.ls[1].name, {2, 2, 0, 8, 10, 1, 0}},
    };
    char *want = expected_server_page("httpd", wl, 2, 1700000000);
    struct wk_buf b;
    wk_buf_init(&b, PAGE_MAX);
    wk_metrics_server(W(&b), &h.srv, "httpd");
    expect_page(&b, want);
    free(want);
    wk_buf_fini(&b);
    hand_fini(&h);
}

/* The whole page spelt out once, so the expectation does not hide behind a helper. */
static void test_server_literal(void **state)
{
    (void)state;
    char unix_addr[64];
    snprintf(unix_addr, sizeof unix_addr, "unix:%s", weird_path);
    const char *const addrs[] = {"127.0.0.1:8080", unix_addr};
    struct hand h;
    hand_init(&h, addrs, 2);
    struct wk_scoreboard *sb = h.srv.board;
    /* 127.0.0.1:8080 as in hand_server(); the unix path: one open connection in worker 0. */
    fake_conn(sb, 0, 0, 10, 100);
    fake_conn(sb, 1, 0, 20, 200);
    set_counters(sb, 0, 0, 4, 3, 600, 1200, 2, 1);
    set_counters(sb, 1, 0, 3, 2, 400, 800, 1, 0);
    fake_conn(sb, 0, 1, 1, 2);
    set_counters(sb, 0, 1, 1, 0, 0, 0, 0, 0);
    struct wk_buf b;
    wk_buf_init(&b, PAGE_MAX);
    wk_metrics_server(W(&b), &h.srv, "smtpd");
#define U "{listener=\"unix:/run/q\\\"b\\\\s\\nx.sock\"}"
#define T "{listener=\"127.0.0.1:8080\"}"
    expect_page(&b, "# HELP smtpd_connections_accepted_total Connections accepted.\n"
                    "# TYPE smtpd_connections_accepted_total counter\n"
                    "smtpd_connections_accepted_total" T " 7\n"
                    "smtpd_connections_accepted_total" U " 1\n"
                    "# HELP smtpd_connections_open Connections open now.\n"
                    "# TYPE smtpd_connections_open gauge\n"
                    "smtpd_connections_open" T " 2\n"
                    "smtpd_connections_open" U " 1\n"
                    "# HELP smtpd_connections_closed_total Connections closed.\n"
                    "# TYPE smtpd_connections_closed_total counter\n"
                    "smtpd_connections_closed_total" T " 5\n"
                    "smtpd_connections_closed_total" U " 0\n"
                    "# HELP smtpd_received_bytes_total Bytes received from clients (after TLS).\n"
                    "# TYPE smtpd_received_bytes_total counter\n"
                    "smtpd_received_bytes_total" T " 1030\n"
                    "smtpd_received_bytes_total" U " 1\n"
                    "# HELP smtpd_sent_bytes_total Bytes sent to clients (before TLS).\n"
                    "# TYPE smtpd_sent_bytes_total counter\n"
                    "smtpd_sent_bytes_total" T " 2300\n"
                    "smtpd_sent_bytes_total" U " 2\n"
                    "# HELP smtpd_tls_handshakes_total TLS handshakes completed.\n"
                    "# TYPE smtpd_tls_handshakes_total counter\n"
                    "smtpd_tls_handshakes_total" T " 3\n"
                    "smtpd_tls_handshakes_total" U " 0\n"
                    "# HELP smtpd_tls_handshake_failures_total TLS handshakes that failed or "
                    "timed out.\n"
                    "# TYPE smtpd_tls_handshake_failures_total counter\n"
                    "smtpd_tls_handshake_failures_total" T " 1\n"
                    "smtpd_tls_handshake_failures_total" U " 0\n"
                    "# HELP smtpd_start_time_seconds Start time of the process since the epoch, "
                    "in seconds.\n"
                    "# TYPE smtpd_start_time_seconds gauge\n"
                    "smtpd_start_time_seconds 1700000000\n"
                    "# HELP smtpd_reloads_total Reloads (SIGHUP): done, or refused with the "
                    "configuration unchanged.\n"
                    "# TYPE smtpd_reloads_total counter\n"
                    "smtpd_reloads_total{result=\"ok\"} 0\n"
                    "smtpd_reloads_total{result=\"failed\"} 0\n"
                    "# HELP smtpd_config_last_reload_successful 1 when the last reload (or the "
                    "start) read the configuration.\n"
                    "# TYPE smtpd_config_last_reload_successful gauge\n"
                    "smtpd_config_last_reload_successful 1\n"
                    "# HELP smtpd_config_last_reload_success_timestamp_seconds When the "
                    "configuration in use was read, since the epoch, in seconds.\n"
                    "# TYPE smtpd_config_last_reload_success_timestamp_seconds gauge\n"
                    "smtpd_config_last_reload_success_timestamp_seconds 1700000000\n");
#undef U
#undef T
    wk_buf_fini(&b);
    hand_fini(&h);
}

static void test_server_without_listeners(void **state)
{
    (void)state;
    struct wk_server srv;
    memset(&srv, 0, sizeof srv);
    srv.started_ms = 999;
    char *want = expected_server_page("httpd", NULL, 0, 0);
    struct wk_buf b;
    wk_buf_init(&b, PAGE_MAX);
    wk_metrics_server(W(&b), &srv, "httpd");
    expect_page(&b, want);
    free(want);
    wk_buf_fini(&b);
}

/* A connection that closes moves its bytes from the open sum to the closed one: totals stay. */
static void test_bytes_survive_close(void **state)
{
    (void)state;
    struct hand h;
    hand_server(&h);
    struct wk_buf before, after;
    wk_buf_init(&before, PAGE_MAX);
    wk_buf_init(&after, PAGE_MAX);
    wk_metrics_server(W(&before), &h.srv, "httpd");
    fake_close(h.srv.board, h.ci[1]); /* worker 1's, on listener 0 */
    fake_close(h.srv.board, h.ci[2]); /* worker 1's, on listener 2 */
    wk_metrics_server(W(&after), &h.srv, "httpd");
    const struct want_listener wl[3] = {
        {h.ls[0].name, {7, 1, 6, 1030, 2300, 3, 1}},
        {h.ls[1].name, {9, 0, 9, 7, 8, 0, 0}},
        {h.ls[2].name, {1, 0, 1, 1, 2, 0, 0}},
    };
    char *want = expected_server_page("httpd", wl, 3, 1700000000);
    expect_page(&after, want);
    assert_non_null(strstr(wk_buf_data(&before), "httpd_received_bytes_total{listener=\""
                                                 "127.0.0.1:8080\"} 1030\n"));
    free(want);
    wk_buf_fini(&before);
    wk_buf_fini(&after);
    hand_fini(&h);
}

/*
 * A buffer too small for the page: the writer reports -ENOBUFS, and what it
 * wrote is whole lines from the start of the page, never a line with a hole.
 */
static void test_page_in_small_buffer(void **state)
{
    (void)state;
    struct hand h;
    hand_server(&h);
    struct wk_buf full;
    wk_buf_init(&full, PAGE_MAX);
    struct wk_metrics m;
    wk_metrics_init(&m, &full);
    wk_metrics_server(&m, &h.srv, "httpd");
    assert_int_equal(wk_metrics_end(&m), 0);
    size_t whole = wk_buf_len(&full);
    for (size_t max = 1; max < whole; max++) {
        struct wk_buf b;
        wk_buf_init(&b, max);
        wk_metrics_init(&m, &b);
        wk_metrics_server(&m, &h.srv, "httpd");
        size_t len = wk_buf_len(&b);
        if (wk_metrics_end(&m) != -ENOBUFS ||
            (len > 0 && memcmp(wk_buf_data(&b), wk_buf_data(&full), len) != 0) ||
            (len > 0 && wk_buf_data(&b)[len - 1] != '\n'))
            fail_msg("max=%zu: error %d, %zu bytes", max, wk_metrics_end(&m), len);
        wk_buf_fini(&b);
    }
    wk_buf_fini(&full);
    hand_fini(&h);
}

/* ---- a real server: two TCP listeners and an AF_UNIX one ---------------------------------- */

static void nop_conn(struct wk_conn *c)
{
    (void)c;
}

static const struct wk_conn_ops nop_ops = {
    .on_open = nop_conn,
    .on_data = nop_conn,
    .on_drain = nop_conn,
    .on_timeout = nop_conn,
    .on_shutdown = nop_conn,
    .on_close = nop_conn,
};

static void test_real_listeners(void **state)
{
    (void)state;
    char dir[] = "/tmp/wk-metrics-XXXXXX";
    char path[128], err[WK_ERR_LEN];
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof path, "unix:%s/q\"b\\s\nx.sock", dir);
    struct wk_addr addrs[3];
    assert_int_equal(wk_addr_parse("127.0.0.1:0", &addrs[0], err), 0);
    assert_int_equal(wk_addr_parse("127.0.0.1:0", &addrs[1], err), 0);
    assert_int_equal(wk_addr_parse(path, &addrs[2], err), 0);

    struct wk_server_config cfg;
    struct wk_server srv;
    wk_server_config_defaults(&cfg);
    cfg.workers = 2;
    cfg.max_conns = 64;
    int rc = wk_server_init(&srv, &cfg, &nop_ops, NULL, err);
    if (rc == 0)
        rc = wk_server_listen(&srv, addrs, NULL, 3, err);
    if (rc != 0)
        print_error("%s\n", err);
    assert_int_equal(rc, 0);
    assert_int_equal(srv.nlisteners, 2 + 1);
    /* The listeners' names, as the labels must carry them (ports chosen by the kernel). */
    assert_string_equal(srv.listeners[2].name, path);
    assert_int_equal(strncmp(srv.listeners[0].name, "127.0.0.1:", 10), 0);
    assert_string_not_equal(srv.listeners[0].name, "127.0.0.1:0");
    assert_string_not_equal(srv.listeners[0].name, srv.listeners[1].name);

    /* The scoreboard wk_server_listen() made: a row per worker id, two generations; counters worker
     * 0's. */
    assert_non_null(srv.board);
    assert_int_equal(wk_scoreboard_workers(srv.board), WK_SUPERVISOR_MAX_IDS);
    for (unsigned i = 0; i < 3; i++)
        assert_ptr_equal(srv.listeners[i].counters, wk_scoreboard_counters(srv.board, 0, i));

    fake_conn(srv.board, 0, 0, 5, 50);
    fake_conn(srv.board, 0, 1, 6, 60);
    fake_conn(srv.board, 1, 1, 7, 70);
    set_counters(srv.board, 0, 0, 11, 10, 100, 1000, 4, 2);
    set_counters(srv.board, 0, 1, 1, 0, 0, 0, 0, 0);
    set_counters(srv.board, 1, 1, 1, 0, 0, 0, 0, 0);
    set_counters(srv.board, 0, 2, 1, 1, 10, 100, 0, 0);
    set_counters(srv.board, 1, 2, 2, 2, 20, 200, 0, 0);
    const struct want_listener wl[3] = {
        {srv.listeners[0].name, {11, 1, 10, 105, 1050, 4, 2}},
        {srv.listeners[1].name, {2, 2, 0, 13, 130, 0, 0}},
        {srv.listeners[2].name, {3, 0, 3, 30, 300, 0, 0}},
    };
    char *want = expected_server_page("smtpd", wl, 3, srv.started_ms / 1000);
    struct wk_buf b;
    wk_buf_init(&b, PAGE_MAX);
    wk_metrics_server(W(&b), &srv, "smtpd");
    expect_page(&b, want);
    /* The escaped unix label, spelt out. */
    char line[256];
    snprintf(line, sizeof line,
             "smtpd_connections_closed_total{listener=\"unix:%s/q\\\"b\\\\s\\nx"
             ".sock\"} 3\n",
             dir);
    assert_non_null(strstr(wk_buf_data(&b), line));
    /* The start time: whole seconds of wk_server_init()'s wall clock, which is about now. */
    uint64_t now_s = (uint64_t)time(NULL);
    assert_true(srv.started_ms / 1000 <= now_s && srv.started_ms / 1000 + 60 >= now_s);
    free(want);
    wk_buf_fini(&b);

    /* The protocol's counters of each worker, summed (httpd's requests by class). */
    uint64_t *p0 = wk_server_counters(&srv, 0), *p1 = wk_server_counters(&srv, 1);
    assert_non_null(p0);
    assert_non_null(p1);
    assert_null(wk_server_counters(&srv, WK_SUPERVISOR_MAX_IDS));
    wk_scoreboard_add(&p0[0], 3);
    wk_scoreboard_add(&p1[0], 4);
    wk_scoreboard_add(&p1[WK_SERVER_COUNTERS - 1], 9);
    assert_int_equal(wk_server_counter_sum(&srv, 0), 7);
    assert_int_equal(wk_server_counter_sum(&srv, 1), 0);
    assert_int_equal(wk_server_counter_sum(&srv, WK_SERVER_COUNTERS - 1), 9);
    assert_int_equal(wk_server_counter_sum(&srv, WK_SERVER_COUNTERS), 0);

    /* Reloads: counted by outcome; the time is the last good one's, the state the last one's. */
    struct wk_server_reloads r;
    wk_server_reloads(&srv, &r);
    assert_true(r.ok == 0 && r.failed == 0 && r.last_ok && r.ok_at_ms == srv.started_ms);
    int outcome = 0;
    assert_int_equal(wk_server_on_reload(&srv, reload_as_told, &outcome), 0);
    wk_server_reload(&srv); /* ok */
    wk_server_reloads(&srv, &r);
    assert_true(r.ok == 1 && r.failed == 0 && r.last_ok && r.ok_at_ms >= srv.started_ms);
    uint64_t good_at = r.ok_at_ms;
    outcome = -EINVAL;
    wk_server_reload(&srv);
    wk_server_reload(&srv);
    wk_server_reloads(&srv, &r);
    assert_true(r.ok == 1 && r.failed == 2 && !r.last_ok && r.ok_at_ms == good_at);
    reloads_ok = 1;
    reloads_failed = 2;
    reloads_last_failed = true;
    reloads_at_s = good_at / 1000;
    want = expected_server_page("smtpd", wl, 3, srv.started_ms / 1000);
    wk_buf_init(&b, PAGE_MAX);
    wk_metrics_server(W(&b), &srv, "smtpd");
    expect_page(&b, want);
    free(want);
    wk_buf_fini(&b);
    reloads_ok = reloads_failed = reloads_at_s = 0;
    reloads_last_failed = false;

    /* The fake entries stay in the scoreboard: wk_server_fini() closes only real connections. */
    char sock_file[128];
    snprintf(sock_file, sizeof sock_file, "%s", path + 5);
    assert_int_equal(access(sock_file, F_OK), 0);
    wk_server_fini(&srv);
    assert_int_equal(access(sock_file, F_OK), -1); /* unlinked by the listener's close */
    assert_int_equal(rmdir(dir), 0);
}

int main(void)
{
    wk_log_init("test", WK_LOG_WARN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sample_without_label),
        cmocka_unit_test(test_sample_with_label),
        cmocka_unit_test(test_label_escaping),
        cmocka_unit_test(test_family),
        cmocka_unit_test(test_checker_refuses),
        cmocka_unit_test(test_registry_sum),
        cmocka_unit_test(test_server_by_hand),
        cmocka_unit_test(test_server_other_worker),
        cmocka_unit_test(test_server_literal),
        cmocka_unit_test(test_server_without_listeners),
        cmocka_unit_test(test_bytes_survive_close),
        cmocka_unit_test(test_real_listeners),
        cmocka_unit_test(test_page_in_small_buffer),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
