/*
 * metrics.c: Prometheus text. Each line is made whole before it is
 * appended, so a failed append leaves no part of a line behind.
 */
#include "common/metrics.h"

#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/listener.h"
#include "common/scoreboard.h"
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

/* Each listener's values, summed over the workers. */
struct listener_values {
    uint64_t v[M_COUNT];
};

struct open_bytes {
    struct listener_values *lv;
    size_t n;
};

/* The bytes of the open connections, which the counters add up only when they close. */
static void add_open_bytes(const void *slot, void *arg)
{
    const struct wk_conn_info *info = slot;
    struct open_bytes *ob = arg;
    if (info->listener >= ob->n || info->closed) /* its bytes are in the counters already */
        return;
    ob->lv[info->listener].v[M_BYTES_IN] += info->bytes_in;
    ob->lv[info->listener].v[M_BYTES_OUT] += info->bytes_out;
}

static void values_of(const struct wk_server *srv, struct listener_values *lv)
{
    for (size_t i = 0; i < srv->nlisteners; i++) {
        struct wk_registry r;
        wk_registry_sum(srv->board, (unsigned)i, &r);
        lv[i] = (struct listener_values){{
            [M_ACCEPTED] = r.accepted,
            [M_OPEN] = r.accepted - r.closed,
            [M_CLOSED] = r.closed,
            [M_BYTES_IN] = r.bytes_in,
            [M_BYTES_OUT] = r.bytes_out,
            [M_TLS_OK] = r.tls_handshakes,
            [M_TLS_FAILED] = r.tls_failures,
        }};
    }
    struct open_bytes ob = {lv, srv->nlisteners};
    if (srv->board != NULL)
        wk_scoreboard_each(srv->board, add_open_bytes, &ob);
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
    struct listener_values *lv = calloc(srv->nlisteners ? srv->nlisteners : 1, sizeof *lv);
    if (lv == NULL) {
        if (m->err == 0)
            m->err = -ENOMEM;
        return;
    }
    values_of(srv, lv);
    for (int f = 0; f < M_COUNT; f++) {
        wk_metrics_family(m, prefix, families[f].name, families[f].type, families[f].help);
        for (size_t i = 0; i < srv->nlisteners; i++)
            wk_metrics_sample(m, prefix, families[f].name, "listener", srv->listeners[i].name,
                              lv[i].v[f]);
    }
    free(lv);
    wk_metrics_family(m, prefix, "start_time_seconds", "gauge",
                      "Start time of the process since the epoch, in seconds.");
    wk_metrics_sample(m, prefix, "start_time_seconds", NULL, NULL, srv->started_ms / 1000);
    struct wk_server_reloads r;
    wk_server_reloads(srv, &r);
    wk_metrics_family(m, prefix, "reloads_total", "counter",
                      "Reloads (SIGHUP): done, or refused with the configuration unchanged.");
    wk_metrics_sample(m, prefix, "reloads_total", "result", "ok", r.ok);
    wk_metrics_sample(m, prefix, "reloads_total", "result", "failed", r.failed);
    wk_metrics_family(m, prefix, "config_last_reload_successful", "gauge",
                      "1 when the last reload (or the start) read the configuration.");
    wk_metrics_sample(m, prefix, "config_last_reload_successful", NULL, NULL, r.last_ok);
    wk_metrics_family(m, prefix, "config_last_reload_success_timestamp_seconds", "gauge",
                      "When the configuration in use was read, since the epoch, in seconds.");
    wk_metrics_sample(m, prefix, "config_last_reload_success_timestamp_seconds", NULL, NULL,
                      r.ok_at_ms / 1000);
}
