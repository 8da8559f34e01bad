/*
 * metrics.c: Prometheus text. Each line is made whole before it is
 * appended, so a failed append leaves no part of a line behind.
 */
#include "common/metrics.h"

#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "common/listener.h"
#include "common/registry.h"
#include "common/server.h"

/* Room for one line: a name, a label with an escaped value (up to a unix path twice), a number. */
#define METRICS_LINE_MAX 1024

void wk_metrics_init(struct wk_metrics *m, struct wk_buf *b)
{
    *m = (struct wk_metrics){.b = b};
}

static void put(struct wk_metrics *m, const char *line, size_t n)
{
    if (m->err == 0)
        m->err = wk_buf_append(m->b, line, n);
}

/*
 * Appends s to out[*n..cap), escaping backslash, newline and (for label
 * values) the quote. Returns false if it does not fit.
 */
static bool escaped(char *out, size_t *n, size_t cap, const char *s, bool quote)
{
    for (const char *p = s; *p != '\0'; p++) {
        if (*n + 2 >= cap)
            return false;
        if (*p == '\\' || (quote && *p == '"')) {
            out[(*n)++] = '\\';
            out[(*n)++] = *p;
        } else if (*p == '\n') {
            out[(*n)++] = '\\';
            out[(*n)++] = 'n';
        } else {
            out[(*n)++] = *p;
        }
    }
    return true;
}

static void too_long(struct wk_metrics *m)
{
    if (m->err == 0)
        m->err = -ENAMETOOLONG;
}

void wk_metrics_family(struct wk_metrics *m, const char *prefix, const char *name, const char *type,
                       const char *help)
{
    char line[METRICS_LINE_MAX];
    size_t n = (size_t)snprintf(line, sizeof line, "# HELP %s_%s ", prefix, name);
    if (n >= sizeof line || !escaped(line, &n, sizeof line, help, false)) {
        too_long(m);
        return;
    }
    int more = snprintf(line + n, sizeof line - n, "\n# TYPE %s_%s %s\n", prefix, name, type);
    if (more < 0 || (size_t)more >= sizeof line - n) {
        too_long(m);
        return;
    }
    put(m, line, n + (size_t)more);
}

void wk_metrics_sample(struct wk_metrics *m, const char *prefix, const char *name,
                       const char *label, const char *value, uint64_t v)
{
    char line[METRICS_LINE_MAX];
    size_t n = (size_t)snprintf(line, sizeof line, "%s_%s", prefix, name);
    if (n < sizeof line && label != NULL) {
        n += (size_t)snprintf(line + n, sizeof line - n, "{%s=\"", label);
        if (n < sizeof line && !escaped(line, &n, sizeof line, value, true))
            n = sizeof line;
        if (n < sizeof line)
            n += (size_t)snprintf(line + n, sizeof line - n, "\"}");
    }
    if (n < sizeof line)
        n += (size_t)snprintf(line + n, sizeof line - n, " %" PRIu64 "\n", v);
    if (n >= sizeof line) {
        too_long(m);
        return;
    }
    put(m, line, n);
}

int wk_metrics_end(const struct wk_metrics *m)
{
    return m->err;
}

/* The bytes of the open connections, which the registry adds up only when they close. */
static void open_bytes(const struct wk_registry *r, uint64_t *in, uint64_t *out)
{
    *in = r->bytes_in;
    *out = r->bytes_out;
    for (const struct wk_conn_info *i = r->head.next; i != &r->head; i = i->next) {
        *in += i->bytes_in;
        *out += i->bytes_out;
    }
}

enum listener_metric {
    M_ACCEPTED,
    M_OPEN,
    M_CLOSED,
    M_BYTES_IN,
    M_BYTES_OUT,
    M_TLS_OK,
    M_TLS_FAILED,
    M_COUNT
};

static uint64_t value_of(const struct wk_listener *l, enum listener_metric m)
{
    const struct wk_registry *r = &l->registry;
    uint64_t in, out;
    switch (m) {
    case M_ACCEPTED:
        return r->accepted;
    case M_OPEN:
        return r->open;
    case M_CLOSED:
        return r->closed;
    case M_BYTES_IN:
    case M_BYTES_OUT:
        open_bytes(r, &in, &out);
        return m == M_BYTES_IN ? in : out;
    case M_TLS_OK:
        return r->tls_handshakes;
    default:
        return r->tls_failures;
    }
}

void wk_metrics_server(struct wk_metrics *m, const struct wk_server *srv, const char *prefix)
{
    static const struct {
        const char *name, *type, *help;
    } families[M_COUNT] = {
        [M_ACCEPTED] = {"connections_accepted_total", "counter", "Connections accepted."},
        [M_OPEN] = {"connections_open", "gauge", "Connections open now."},
        [M_CLOSED] = {"connections_closed_total", "counter", "Connections closed."},
        [M_BYTES_IN] = {"received_bytes_total", "counter",
                        "Bytes received from clients (after TLS)."},
        [M_BYTES_OUT] = {"sent_bytes_total", "counter", "Bytes sent to clients (before TLS)."},
        [M_TLS_OK] = {"tls_handshakes_total", "counter", "TLS handshakes completed."},
        [M_TLS_FAILED] = {"tls_handshake_failures_total", "counter",
                          "TLS handshakes that failed or timed out."},
    };
    for (int f = 0; f < M_COUNT; f++) {
        wk_metrics_family(m, prefix, families[f].name, families[f].type, families[f].help);
        for (size_t i = 0; i < srv->nlisteners; i++) {
            const struct wk_listener *l = &srv->listeners[i];
            wk_metrics_sample(m, prefix, families[f].name, "listener", l->name, value_of(l, f));
        }
    }
    wk_metrics_family(m, prefix, "start_time_seconds", "gauge",
                      "Start time of the process since the epoch, in seconds.");
    wk_metrics_sample(m, prefix, "start_time_seconds", NULL, NULL, srv->started_ms / 1000);
}
