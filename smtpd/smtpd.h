/*
 * smtpd.h: what the whole SMTP server shares: its configuration, the mail
 * store, the sessions per client address and the deliveries waiting for
 * the next group commit. One per process, owned by main.c and reached
 * through wk_server's data pointer.
 */
#ifndef SMTP_SMTPD_H
#define SMTP_SMTPD_H

#include <stdbool.h>
#include <stdint.h>

#include "common/config.h"
#include "common/timer.h"
#include "common/tls.h"

struct smtp_maildir;
struct smtp_clients;
struct smtp_session;
struct wk_tls;
struct wk_loop;

struct smtp_config {
    struct wk_strlist listen;
    struct wk_strlist domains;    /* accepted recipient domains */
    struct wk_strlist tls_listen; /* implicit TLS (SMTPS, RFC 8314) */
    struct wk_strlist submission; /* STARTTLS required before MAIL */
    struct wk_tls_config tls;
    bool require_tls;     /* every listener: MAIL only after STARTTLS */
    const char *hostname; /* greeting and Received: */
    const char *maildir;
    const char *log_level;
    const char *status_socket; /* NULL: none */
    const char *user;          /* --user: who to be after startup, or NULL */
    uint64_t workers;          /* worker processes */
    uint64_t max_size;         /* message limit, announced as SIZE */
    uint64_t max_recipients;
    uint64_t max_errors; /* protocol errors before 421 */
    uint64_t max_connections;
    uint64_t max_per_client; /* sessions per client address */
    uint64_t backlog;
    uint64_t command_timeout; /* RFC 5321 4.5.3.2.7: at least 5 minutes */
    uint64_t data_timeout;    /* RFC 5321 4.5.3.2.5: 3 minutes per block */
    uint64_t shutdown_timeout;
};

/* Messages since start, by outcome, for the metrics: a worker's protocol counters (scoreboard). */
struct smtp_stats {
    uint64_t delivered;  /* 250 after DATA */
    uint64_t recipients; /* mailboxes the delivered messages went to */
    uint64_t refused;    /* 5xx after DATA */
    uint64_t failed;     /* 4xx after DATA: the client may try again */
    uint64_t aborted;    /* the session ended during DATA */
};

struct smtp_server {
    const struct smtp_config *cfg;
    struct wk_strlist domains; /* accepted recipient domains, defaults filled in */
    struct smtp_maildir *maildir;
    struct smtp_clients *clients;
    struct smtp_session *committing; /* sessions whose message waits for the group commit */
    struct wk_tls *tls;              /* for STARTTLS and implicit TLS; NULL when TLS is off */
    size_t first_submission;         /* listeners [first, first + n) are submission ports */
    size_t nsubmission;
};

#endif
