/*
 * session.h: one SMTP session (RFC 5321 with ESMTP and PIPELINING) on a
 * wk_conn: the state machine, the command table, DATA, and the hand-over of
 * complete messages to the group commit.
 */
#ifndef SMTP_SESSION_H
#define SMTP_SESSION_H

#include "common/conn.h"

struct smtp_server;

/* The ops table smtpd hands to wk_server; the server's data is a struct smtp_server. */
extern const struct wk_conn_ops smtp_session_ops;

/*
 * Commits every message that reached its end during this turn of the loop:
 * one fsync per file and per directory for the whole batch, then the 250s
 * (or 451s), then the sessions read on. Installed as the server's
 * before-flush hook, so the replies leave in the same write; the sessions
 * are srv->data's (arg is unused).
 */
bool smtp_session_commit_all(struct wk_server *srv, void *arg);

#endif
