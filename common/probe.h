/*
 * probe.h: a health check, for container engines and scripts: connect to a
 * server, exchange a few bytes, and say whether the answer is the expected
 * one. It blocks (with a deadline): it runs as its own short process, never
 * inside a server's loop.
 */
#ifndef WK_PROBE_H
#define WK_PROBE_H

#include <stdint.h>

#include "common/wk.h"

struct wk_probe {
    const char *send;   /* written once connected, or NULL */
    const char *expect; /* the answer must start with this */
    const char *then;   /* written after the expected answer (a polite goodbye), or NULL */
};

/*
 * Connects to addr (as the command line writes it: "127.0.0.1:80",
 * "[::1]:25", "unix:/path"), runs p, all within timeout_ms. Returns 0 when
 * the answer starts with p->expect, else -errno (-ETIMEDOUT, -ECONNREFUSED,
 * -EPROTO for another answer) with a message in err.
 */
int wk_probe_run(const char *addr, const struct wk_probe *p, uint64_t timeout_ms,
                 char err[WK_ERR_LEN]);

#endif
