/*
 * metrics.h: the Prometheus text format (version 0.0.4): a family's HELP and
 * TYPE lines, its samples, and the families every server has (connections,
 * bytes and TLS handshakes per listener). Names are prefixed with the
 * program ("httpd_", "smtpd_") so the two servers' metrics, served on one
 * page, never share a family.
 *
 * Like common/json, the writer keeps its first error: after it nothing more
 * is written, and wk_metrics_end() reports it, so a page cut short by a full
 * buffer is never taken for a whole one.
 */
#ifndef WK_METRICS_H
#define WK_METRICS_H

#include <stdint.h>

#include "common/buf.h"

struct wk_server;

struct wk_metrics {
    struct wk_buf *b;
    int err; /* 0, or the first -errno */
};

/* Starts writing at the end of b (not owned). */
void wk_metrics_init(struct wk_metrics *m, struct wk_buf *b);

/* "# HELP prefix_name help" and "# TYPE prefix_name type" (counter, gauge). */
void wk_metrics_family(struct wk_metrics *m, const char *prefix, const char *name, const char *type,
                       const char *help);

/* One sample: prefix_name{label="value"} v, or without labels when label is NULL. */
void wk_metrics_sample(struct wk_metrics *m, const char *prefix, const char *name,
                       const char *label, const char *value, uint64_t v);

/*
 * The families of srv's listeners: connections accepted, open and closed,
 * bytes received and sent, TLS handshakes and failures, each labelled with
 * the listener's address; and the process's start time.
 */
void wk_metrics_server(struct wk_metrics *m, const struct wk_server *srv, const char *prefix);

/* 0 if everything was written, else the first -errno (-ENOBUFS, -ENOMEM). */
int wk_metrics_end(const struct wk_metrics *m);

#endif
