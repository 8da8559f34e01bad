/*
 * metrics.h: the Prometheus text format (version 0.0.4): a family's HELP and
 * TYPE lines, its samples, and the families every server has (connections,
 * bytes and TLS handshakes per listener). Names are prefixed with the
 * program ("httpd_", "smtpd_") so the two servers' metrics, served on one
 * page, never share a family.
 */
#ifndef WK_METRICS_H
#define WK_METRICS_H

#include <stdint.h>

#include "common/buf.h"

struct wk_server;

/* "# HELP prefix_name help" and "# TYPE prefix_name type" (counter, gauge). */
void wk_metrics_family(struct wk_buf *b, const char *prefix, const char *name, const char *type,
                       const char *help);

/* One sample: prefix_name{label="value"} v, or without labels when label is NULL. */
void wk_metrics_sample(struct wk_buf *b, const char *prefix, const char *name, const char *label,
                       const char *value, uint64_t v);

/*
 * The families of srv's listeners: connections accepted, open and closed,
 * bytes received and sent, TLS handshakes and failures, each labelled with
 * the listener's address; and the process's start time.
 */
void wk_metrics_server(struct wk_buf *b, const struct wk_server *srv, const char *prefix);

#endif
