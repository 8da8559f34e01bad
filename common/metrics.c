/*
 * metrics.c: Prometheus text. Errors of the buffer are not reported: a
 * metrics page cut short by a full buffer is refused by its caller, which
 * sizes the buffer for it.
 */
#include "common/metrics.h"

#include <inttypes.h>
#include <string.h>

#include "common/listener.h"
#include "common/registry.h"
#include "common/server.h"

void wk_metrics_family(struct wk_buf *b, const char *prefix, const char *name, const char *type,
                       const char *help)
{
    wk_buf_printf(b, "# HELP %s_%s %s\n# TYPE %s_%s %s\n", prefix, name, help, prefix, name, type);
}

/* A label value with backslash, quote and newline escaped, as the format asks. */
static void label_value(struct wk_buf *b, const char *v)
{
    for (const char *p = v; *p != '\0'; p++) {
        if (*p == '\\' || *p == '"')
            wk_buf_printf(b, "\\%c", *p);
        else if (*p == '\n')
            wk_buf_append(b, "\\n", 2);
        else
            wk_buf_append(b, p, 1);
    }
}

void wk_metrics_sample(struct wk_buf *b, const char *prefix, const char *name, const char *label,
                       const char *value, uint64_t v)
{
    wk_buf_printf(b, "%s_%s", prefix, name);
    if (label != NULL) {
        wk_buf_printf(b, "{%s=\"", label);
        label_value(b, value);
        wk_buf_append(b, "\"}", 2);
    }
    wk_buf_printf(b, " %" PRIu64 "\n", v);
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

void wk_metrics_server(struct wk_buf *b, const struct wk_server *srv, const char *prefix)
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
    for (int m = 0; m < M_COUNT; m++) {
        wk_metrics_family(b, prefix, families[m].name, families[m].type, families[m].help);
        for (size_t i = 0; i < srv->nlisteners; i++) {
            const struct wk_listener *l = &srv->listeners[i];
            wk_metrics_sample(b, prefix, families[m].name, "listener", l->name, value_of(l, m));
        }
    }
    wk_metrics_family(b, prefix, "start_time_seconds", "gauge",
                      "Start time of the process since the epoch, in seconds.");
    wk_metrics_sample(b, prefix, "start_time_seconds", NULL, NULL, srv->started_ms / 1000);
}
