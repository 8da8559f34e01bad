/*
 * session.c: the SMTP state machine. Owns the session's transaction (sender,
 * recipients, the message being written); the wk_conn below owns the socket
 * and buffers, and maildir.c the files.
 *
 *   fresh --HELO/EHLO--> ready --MAIL--> mail --RCPT--> rcpt --DATA--> data
 *     ^                    ^                                            |
 *     |                    +------ 250 / 4xx / 5xx <-- commit <---------+
 *
 * Replies are appended to the output and leave when the input is drained,
 * so pipelined commands get their replies in one write (RFC 2920).
 */
#include "smtpd/session.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/log.h"
#include "common/scoreboard.h"
#include "common/server.h"
#include "smtpd/clients.h"
#include "smtpd/command.h"
#include "smtpd/data.h"
#include "smtpd/mailaddr.h"
#include "smtpd/maildir.h"
#include "smtpd/reply.h"
#include "smtpd/smtpd.h"
#include "smtpd/trace.h"

/* Input fed to the DATA state machine at a time. */
#define SESSION_DATA_CHUNK 16384
/* An address as text, "local@domain". */
#define SESSION_ADDR_MAX (SMTP_LOCAL_MAX + 1 + SMTP_DOMAIN_MAX + 1)
/* Commit rounds per turn: each round may let pipelined messages reach their end. */
#define SESSION_COMMIT_ROUNDS 64

enum smtp_state {
    SMTP_STATE_FRESH,  /* greeted, no HELO/EHLO yet */
    SMTP_STATE_READY,  /* between transactions */
    SMTP_STATE_MAIL,   /* MAIL accepted */
    SMTP_STATE_RCPT,   /* at least one RCPT accepted */
    SMTP_STATE_DATA,   /* reading the message */
    SMTP_STATE_COMMIT, /* message complete, waiting for the group commit */
};

struct smtp_session {
    struct wk_conn *c;
    enum smtp_state state;
    bool esmtp;         /* greeted with EHLO */
    bool utf8;          /* MAIL ... SMTPUTF8 */
    bool skipping_line; /* discarding an over-long command line */
    bool counted;       /* counted in the per-client table */
    unsigned errors;
    char helo[256];
    char sender[SESSION_ADDR_MAX];
    char **rcpts; /* folder names, lowercased local@domain */
    size_t nrcpts;
    struct smtp_data data;
    struct smtp_delivery *delivery;
    int write_error; /* first error writing the message, or 0 */
    char queue_id[32];
    struct smtp_session *next_commit;
};

struct command {
    enum smtp_verb verb;
    bool (*check)(struct smtp_session *s, const struct smtp_command *cmd);
    void (*proceed)(struct smtp_session *s, const struct smtp_command *cmd);
};

static struct smtp_server *server_of(const struct smtp_session *s)
{
    return wk_conn_server(s->c)->data;
}

static const char *state_name(enum smtp_state st)
{
    static const char *const names[] = {"greeting", "ehlo", "mail", "rcpt", "data", "commit"};
    return names[st];
}

static void enter_state(struct smtp_session *s, enum smtp_state st)
{
    if (wk_log_enabled(WK_LOG_DEBUG))
        wk_log(WK_LOG_DEBUG, "state fd=%d %s -> %s", wk_conn_info(s->c)->fd, state_name(s->state),
               state_name(st));
    s->state = st;
    uint64_t n = st == SMTP_STATE_RCPT ? s->nrcpts : 0;
    wk_conn_set_phase(s->c, state_name(st), n, 0);
}

static void set_timeout(struct smtp_session *s)
{
    const struct smtp_config *cfg = server_of(s)->cfg;
    wk_conn_set_timeout(s->c,
                        s->state == SMTP_STATE_DATA ? cfg->data_timeout : cfg->command_timeout);
}

/* Ends the transaction: sender, recipients and any message being written. */
static void reset(struct smtp_session *s)
{
    for (size_t i = 0; i < s->nrcpts; i++)
        free(s->rcpts[i]);
    free(s->rcpts);
    s->rcpts = NULL;
    s->nrcpts = 0;
    s->sender[0] = '\0';
    s->utf8 = false;
    smtp_maildir_abort(s->delivery);
    s->delivery = NULL;
    s->write_error = 0;
    if (s->state != SMTP_STATE_FRESH)
        enter_state(s, SMTP_STATE_READY);
}

/* A protocol error: the reply, and after too many of them the end of the session. */
static void error(struct smtp_session *s, int code, const char *enhanced, const char *text)
{
    const struct smtp_config *cfg = server_of(s)->cfg;
    smtp_reply(s->c, code, enhanced, "%s", text);
    if (++s->errors >= cfg->max_errors) {
        smtp_reply(s->c, 421, "4.7.0", "%s Error: too many errors", cfg->hostname);
        wk_conn_finish(s->c, "too-many-errors");
    }
}

static bool need_helo(struct smtp_session *s, const struct smtp_command *cmd)
{
    WK_UNUSED(cmd);
    if (s->state != SMTP_STATE_FRESH)
        return true;
    error(s, 503, "5.5.1", "Error: send HELO/EHLO first");
    return false;
}

static bool check_any(struct smtp_session *s, const struct smtp_command *cmd)
{
    WK_UNUSED(s);
    WK_UNUSED(cmd);
    return true;
}

static void greet(struct smtp_session *s, const struct smtp_command *cmd, bool esmtp)
{
    size_t n = cmd->arg_len < sizeof s->helo - 1 ? cmd->arg_len : sizeof s->helo - 1;
    memcpy(s->helo, cmd->arg, n);
    s->helo[n] = '\0';
    s->esmtp = esmtp;
    if (s->state == SMTP_STATE_FRESH)
        s->state = SMTP_STATE_READY;
    reset(s);
}

static void proceed_ehlo(struct smtp_session *s, const struct smtp_command *cmd)
{
    const struct smtp_config *cfg = server_of(s)->cfg;
    greet(s, cmd, true);
    smtp_reply_more(s->c, 250, "%s", cfg->hostname);
    smtp_reply_more(s->c, 250, "PIPELINING");
    smtp_reply_more(s->c, 250, "SIZE %llu", (unsigned long long)cfg->max_size);
    smtp_reply_more(s->c, 250, "8BITMIME");
    smtp_reply_more(s->c, 250, "ENHANCEDSTATUSCODES");
    smtp_reply_more(s->c, 250, "SMTPUTF8");
    if (server_of(s)->tls != NULL && !wk_conn_is_tls(s->c))
        smtp_reply_more(s->c, 250, "STARTTLS");
    smtp_reply(s->c, 250, NULL, "HELP");
}

static void proceed_helo(struct smtp_session *s, const struct smtp_command *cmd)
{
    greet(s, cmd, false);
    smtp_reply(s->c, 250, NULL, "%s", server_of(s)->cfg->hostname);
}

/* Checks MAIL's parameters (RFC 1870 SIZE, RFC 6152 BODY, RFC 6531 SMTPUTF8). */
static bool check_mail_params(struct smtp_session *s, const struct smtp_command *cmd)
{
    const struct smtp_config *cfg = server_of(s)->cfg;
    for (size_t i = 0; i < cmd->nparams; i++) {
        const struct smtp_param *p = &cmd->params[i];
        if (s->esmtp && smtp_param_is(p, "SIZE")) {
            char num[24];
            char *end;
            if (p->value == NULL || p->value_len == 0 || p->value_len >= sizeof num)
                goto bad;
            memcpy(num, p->value, p->value_len);
            num[p->value_len] = '\0';
            unsigned long long size = strtoull(num, &end, 10);
            if (*end != '\0' || num[0] < '0' || num[0] > '9')
                goto bad;
            if (size > cfg->max_size) {
                error(s, 552, "5.3.4", "Message size exceeds fixed limit");
                return false;
            }
        } else if (s->esmtp && smtp_param_is(p, "BODY")) {
            if (p->value == NULL)
                goto bad;
            if (!(p->value_len == 4 && strncasecmp(p->value, "7BIT", 4) == 0) &&
                !(p->value_len == 8 && strncasecmp(p->value, "8BITMIME", 8) == 0))
                goto bad;
        } else if (s->esmtp && smtp_param_is(p, "SMTPUTF8") && p->value == NULL) {
            s->utf8 = true;
        } else {
            error(s, 555, "5.5.4", "Unsupported option");
            return false;
        }
    }
    return true;
bad:
    error(s, 501, "5.5.4", "Syntax error in parameters");
    return false;
}

/* On a submission listener (RFC 8314 3.3), or with --require-tls: mail only after STARTTLS. */
static bool needs_tls(const struct smtp_session *s)
{
    const struct smtp_server *ss = server_of(s);
    size_t i = (size_t)(wk_conn_listener(s->c) - wk_conn_server(s->c)->listeners);
    return ss->cfg->require_tls ||
           (i >= ss->first_submission && i < ss->first_submission + ss->nsubmission);
}

static bool check_mail(struct smtp_session *s, const struct smtp_command *cmd)
{
    if (!need_helo(s, cmd))
        return false;
    if (needs_tls(s) && !wk_conn_is_tls(s->c)) {
        error(s, 530, "5.7.0", "Must issue a STARTTLS command first");
        return false;
    }
    if (s->state != SMTP_STATE_READY) {
        error(s, 503, "5.5.1", "Error: nested MAIL command");
        return false;
    }
    s->utf8 = false;
    return check_mail_params(s, cmd);
}

static void proceed_mail(struct smtp_session *s, const struct smtp_command *cmd)
{
    struct smtp_mailbox m;
    int rc = smtp_mailaddr_parse(cmd->path, cmd->path_len, s->utf8, &m);
    if (rc < 0 || m.bare_postmaster) {
        error(s, 501, "5.1.7", "Bad sender address syntax");
        return;
    }
    if (smtp_mailaddr_format(&m, s->sender, sizeof s->sender) < 0) {
        error(s, 501, "5.1.7", "Bad sender address syntax");
        return;
    }
    enter_state(s, SMTP_STATE_MAIL);
    smtp_reply(s->c, 250, "2.1.0", "Ok");
}

static bool check_rcpt(struct smtp_session *s, const struct smtp_command *cmd)
{
    if (s->state != SMTP_STATE_MAIL && s->state != SMTP_STATE_RCPT) {
        error(s, 503, "5.5.1", "Error: need MAIL command");
        return false;
    }
    if (cmd->nparams > 0) {
        error(s, 555, "5.5.4", "Unsupported option");
        return false;
    }
    return true;
}

static bool accepted_domain(const struct smtp_server *ss, const char *domain)
{
    for (size_t i = 0; i < ss->domains.n; i++) {
        if (smtp_mailaddr_domain_equal(domain, ss->domains.v[i]))
            return true;
    }
    return false;
}

static void proceed_rcpt(struct smtp_session *s, const struct smtp_command *cmd)
{
    const struct smtp_config *cfg = server_of(s)->cfg;
    struct smtp_mailbox m;
    char folder[SESSION_ADDR_MAX];
    if (smtp_mailaddr_parse(cmd->path, cmd->path_len, s->utf8, &m) < 0 || m.null_path) {
        error(s, 501, "5.1.3", "Bad recipient address syntax");
        return;
    }
    if (m.bare_postmaster) /* RFC 5321 4.5.1: always accepted */
        snprintf(m.domain, sizeof m.domain, "%s", cfg->hostname);
    else if (!accepted_domain(server_of(s), m.domain)) {
        error(s, 550, "5.7.1", "Relay access denied");
        return;
    }
    if (smtp_mailaddr_folder(&m, folder, sizeof folder) < 0) {
        error(s, 550, "5.1.3", "Recipient address not acceptable here");
        return;
    }
    if (s->nrcpts >= cfg->max_recipients) {
        smtp_reply(s->c, 452, "4.5.3", "Error: too many recipients");
        return;
    }
    char **v = realloc(s->rcpts, (s->nrcpts + 1) * sizeof *v);
    char *copy = v ? strdup(folder) : NULL;
    if (v)
        s->rcpts = v;
    if (copy == NULL) {
        smtp_reply(s->c, 452, "4.3.1", "Insufficient system resources");
        return;
    }
    s->rcpts[s->nrcpts++] = copy;
    enter_state(s, SMTP_STATE_RCPT);
    smtp_reply(s->c, 250, "2.1.5", "Ok");
}

static bool check_data(struct smtp_session *s, const struct smtp_command *cmd)
{
    WK_UNUSED(cmd);
    if (s->state == SMTP_STATE_RCPT)
        return true;
    if (s->state == SMTP_STATE_MAIL)
        error(s, 554, "5.5.1", "Error: no valid recipients");
    else
        error(s, 503, "5.5.1", "Error: need RCPT command");
    return false;
}

/* The client's address for Received:, an IPv4 client on a dual-stack listener as IPv4. */
static void trace_ip(const union wk_ipaddr *peer, char *out, size_t cap)
{
    const struct in6_addr *a6 = &peer->in6.sin6_addr;
    if (peer->sa.sa_family == AF_INET6 && IN6_IS_ADDR_V4MAPPED(a6)) {
        struct sockaddr_in v4 = {.sin_family = AF_INET};
        memcpy(&v4.sin_addr, &a6->s6_addr[12], 4);
        wk_addr_format_host((const struct sockaddr *)&v4, out, cap);
        return;
    }
    wk_addr_format_host(&peer->sa, out, cap);
}

/* Writes the trace fields that open the stored message. */
static int write_trace(struct smtp_session *s)
{
    const struct smtp_config *cfg = server_of(s)->cfg;
    const struct wk_conn_info *info = wk_conn_info(s->c);
    char ip[64], protocol[128];
    trace_ip(&info->peer, ip, sizeof ip);
    const char *base = s->utf8 ? "UTF8SMTP" : s->esmtp ? "ESMTP" : "SMTP";
    if (info->tls_version[0] != '\0') /* RFC 3848: ESMTPS; the version and cipher as a comment */
        snprintf(protocol, sizeof protocol, "%sS (%s %s)", base, info->tls_version,
                 info->tls_cipher);
    else
        snprintf(protocol, sizeof protocol, "%s", base);
    struct smtp_trace t = {
        .helo = s->helo,
        .client_ip = ip,
        .client_port = wk_addr_port(&info->peer.sa),
        .hostname = cfg->hostname,
        .protocol = protocol,
        .queue_id = s->queue_id,
        .sender = s->sender,
        .recipient = s->nrcpts == 1 ? s->rcpts[0] : NULL,
        .when = wk_loop_wall(wk_conn_loop(s->c)),
    };
    struct wk_buf b;
    wk_buf_init(&b, 4096);
    int rc = smtp_trace_headers(&b, &t);
    if (rc == 0)
        rc = smtp_maildir_write(s->delivery, wk_buf_data(&b), wk_buf_len(&b));
    wk_buf_fini(&b);
    return rc;
}

static void proceed_data(struct smtp_session *s, const struct smtp_command *cmd)
{
    WK_UNUSED(cmd);
    struct smtp_server *ss = server_of(s);
    int rc = smtp_maildir_begin(ss->maildir, s->rcpts[0], &s->delivery);
    if (rc == 0) {
        snprintf(s->queue_id, sizeof s->queue_id, "%s", smtp_delivery_queue_id(s->delivery));
        rc = write_trace(s);
    }
    if (rc < 0) {
        wk_log(WK_LOG_ERROR, "maildir-error fd=%d folder=%s error=\"%s\"", wk_conn_info(s->c)->fd,
               s->rcpts[0], strerror(-rc));
        smtp_reply(s->c, 451, "4.3.0", "Error: local error in processing");
        reset(s);
        return;
    }
    smtp_data_init(&s->data, ss->cfg->max_size);
    enter_state(s, SMTP_STATE_DATA);
    smtp_reply(s->c, 354, NULL, "End data with <CR><LF>.<CR><LF>");
}

static void proceed_rset(struct smtp_session *s, const struct smtp_command *cmd)
{
    WK_UNUSED(cmd);
    reset(s);
    smtp_reply(s->c, 250, "2.0.0", "Ok");
}

static void proceed_noop(struct smtp_session *s, const struct smtp_command *cmd)
{
    WK_UNUSED(cmd);
    smtp_reply(s->c, 250, "2.0.0", "Ok");
}

static void proceed_quit(struct smtp_session *s, const struct smtp_command *cmd)
{
    WK_UNUSED(cmd);
    smtp_reply(s->c, 221, "2.0.0", "Bye");
    wk_conn_finish(s->c, "quit");
}

static void proceed_vrfy(struct smtp_session *s, const struct smtp_command *cmd)
{
    WK_UNUSED(cmd);
    smtp_reply(s->c, 252, "2.5.2",
               "Cannot VRFY user, but will accept message and attempt delivery");
}

static void proceed_help(struct smtp_session *s, const struct smtp_command *cmd)
{
    WK_UNUSED(cmd);
    smtp_reply_more(s->c, 214, "2.0.0 Commands: EHLO HELO MAIL RCPT DATA RSET NOOP QUIT VRFY HELP");
    smtp_reply(s->c, 214, "2.0.0", "See RFC 5321");
}

static bool check_starttls(struct smtp_session *s, const struct smtp_command *cmd)
{
    WK_UNUSED(cmd);
    if (server_of(s)->tls == NULL) {
        error(s, 454, "4.7.0", "TLS not available");
        return false;
    }
    if (wk_conn_is_tls(s->c)) {
        error(s, 503, "5.5.1", "Error: TLS already active");
        return false;
    }
    return true;
}

/*
 * RFC 3207: the client starts over after TLS, greeting again. Whatever it
 * sent behind STARTTLS is dropped unread (CVE-2011-0411).
 */
static void proceed_starttls(struct smtp_session *s, const struct smtp_command *cmd)
{
    WK_UNUSED(cmd);
    smtp_reply(s->c, 220, "2.0.0", "Ready to start TLS");
    reset(s);
    s->esmtp = false;
    s->helo[0] = '\0';
    enter_state(s, SMTP_STATE_FRESH);
    wk_conn_start_tls(s->c, server_of(s)->tls);
}

static void proceed_unimplemented(struct smtp_session *s, const struct smtp_command *cmd)
{
    WK_UNUSED(cmd);
    error(s, 502, "5.5.1", "Error: command not implemented");
}

static const struct command commands[] = {
    {SMTP_VERB_EHLO, check_any, proceed_ehlo},
    {SMTP_VERB_HELO, check_any, proceed_helo},
    {SMTP_VERB_MAIL, check_mail, proceed_mail},
    {SMTP_VERB_RCPT, check_rcpt, proceed_rcpt},
    {SMTP_VERB_DATA, check_data, proceed_data},
    {SMTP_VERB_RSET, check_any, proceed_rset},
    {SMTP_VERB_NOOP, check_any, proceed_noop},
    {SMTP_VERB_QUIT, check_any, proceed_quit},
    {SMTP_VERB_VRFY, check_any, proceed_vrfy},
    {SMTP_VERB_HELP, check_any, proceed_help},
    {SMTP_VERB_EXPN, check_any, proceed_unimplemented},
    {SMTP_VERB_STARTTLS, check_starttls, proceed_starttls},
    {SMTP_VERB_AUTH, check_any, proceed_unimplemented},
    {SMTP_VERB_BDAT, check_any, proceed_unimplemented},
};

/* One command line, CRLF (or a bare LF) included. */
static void run_command(struct smtp_session *s, const char *line, size_t len)
{
    len -= 1; /* the LF */
    if (len > 0 && line[len - 1] == '\r')
        len--;
    struct smtp_command cmd;
    int rc = smtp_command_parse(line, len, &cmd);
    if (rc == -ENOENT) {
        error(s, 500, "5.5.2", "Error: command not recognized");
        return;
    }
    if (rc < 0) {
        error(s, rc == -E2BIG ? 500 : 501, rc == -E2BIG ? "5.5.6" : "5.5.4",
              rc == -E2BIG ? "Error: line too long" : "Syntax error");
        return;
    }
    for (size_t i = 0; i < WK_ARRAY_LEN(commands); i++) {
        if (commands[i].verb == cmd.verb) {
            if (commands[i].check(s, &cmd))
                commands[i].proceed(s, &cmd);
            return;
        }
    }
    error(s, 500, "5.5.2", "Error: command not recognized");
}

/* Reads command lines; returns false when nothing more can be done now. */
static bool read_command(struct smtp_session *s)
{
    struct wk_buf *in = wk_conn_in(s->c);
    ssize_t n = wk_buf_getline(in, SMTP_LINE_MAX);
    if (s->skipping_line) {
        /* The rest of an over-long line: dropped, then answered as one command. */
        const char *lf = memchr(wk_buf_data(in), '\n', wk_buf_len(in));
        if (lf == NULL) {
            wk_buf_consume(in, wk_buf_len(in));
            return false;
        }
        wk_buf_consume(in, (size_t)(lf - wk_buf_data(in)) + 1);
        s->skipping_line = false;
        error(s, 500, "5.5.6", "Error: line too long");
        return true;
    }
    if (n == -EMSGSIZE) {
        s->skipping_line = true; /* dropped up to its end, above */
        return true;
    }
    if (n <= 0)
        return false;
    run_command(s, wk_buf_data(in), (size_t)n);
    wk_buf_consume(in, (size_t)n);
    return true;
}

static const char *verdict_reply(enum smtp_data_verdict v, int *code, const char **enhanced)
{
    switch (v) {
    case SMTP_DATA_TOO_BIG:
        *code = 552;
        *enhanced = "5.3.4";
        return "Error: message too big";
    case SMTP_DATA_LINE_TOO_LONG:
        *code = 552;
        *enhanced = "5.3.4";
        return "Error: line longer than 1000 octets";
    case SMTP_DATA_BARE_CR_LF:
        *code = 550;
        *enhanced = "5.6.0";
        return "Error: bare CR or LF in message (only CRLF ends a line)";
    default:
        *code = 250;
        *enhanced = "2.0.0";
        return NULL;
    }
}

/* Counts the message's outcome (by its reply code) and logs it. */
static void log_message(struct smtp_session *s, const char *result, int code)
{
    struct wk_server *srv = wk_conn_server(s->c);
    struct smtp_stats *st = (struct smtp_stats *)wk_server_counters(srv, srv->worker);
    if (code == 0) {
        wk_scoreboard_add(&st->aborted, 1);
    } else if (code < 300) {
        wk_scoreboard_add(&st->delivered, 1);
        wk_scoreboard_add(&st->recipients, s->nrcpts);
    } else if (code < 500) {
        wk_scoreboard_add(&st->failed, 1);
    } else {
        wk_scoreboard_add(&st->refused, 1);
    }
    if (!wk_log_enabled(WK_LOG_INFO))
        return;
    char peer[WK_ADDR_STRLEN], to[1024];
    size_t o = 0;
    to[0] = '\0';
    for (size_t i = 0; i < s->nrcpts && o < sizeof to - 1; i++) {
        int n = snprintf(to + o, sizeof to - o, "%s<%s>", i ? "," : "", s->rcpts[i]);
        if (n < 0)
            break;
        o += (size_t)n;
    }
    char from[SESSION_ADDR_MAX * 4];
    wk_log_escape(from, sizeof from, s->sender, strlen(s->sender));
    wk_conn_format_peer(s->c, peer, sizeof peer);
    wk_log(WK_LOG_INFO,
           "message id=%s from=<%s> to=%s size=%llu client=%s fd=%d result=%s status=%d",
           s->queue_id, from, to, (unsigned long long)s->data.size, peer, wk_conn_info(s->c)->fd,
           result, code);
}

/* The end of the message: refuse it now, or queue it for the group commit. */
static void end_of_data(struct smtp_session *s)
{
    int code;
    const char *enhanced;
    const char *text = verdict_reply(smtp_data_verdict(&s->data), &code, &enhanced);
    if (text == NULL && s->write_error) {
        code = 451;
        enhanced = "4.3.0";
        text = "Error: local error in processing";
    }
    if (text != NULL) {
        log_message(s, "refused", code);
        smtp_reply(s->c, code, enhanced, "%s", text);
        reset(s);
        return;
    }
    struct smtp_server *ss = server_of(s);
    enter_state(s, SMTP_STATE_COMMIT);
    s->next_commit = ss->committing;
    ss->committing = s;
    wk_conn_pause_read(s->c, true);
}

/* Feeds DATA input to the state machine and the message file. */
static bool read_data(struct smtp_session *s)
{
    struct wk_buf *in = wk_conn_in(s->c);
    char out[SESSION_DATA_CHUNK + SMTP_DATA_SLACK];
    while (wk_buf_len(in) > 0) {
        size_t len = wk_buf_len(in) < SESSION_DATA_CHUNK ? wk_buf_len(in) : SESSION_DATA_CHUNK;
        size_t out_len = 0;
        bool done = false;
        size_t used = smtp_data_feed(&s->data, wk_buf_data(in), len, out, &out_len, &done);
        wk_buf_consume(in, used);
        if (out_len > 0 && s->write_error == 0)
            s->write_error = smtp_maildir_write(s->delivery, out, out_len);
        if (done) {
            end_of_data(s);
            return s->state != SMTP_STATE_COMMIT;
        }
    }
    wk_conn_set_phase(s->c, "data", s->data.size, 0);
    return false;
}

/* Handles what the input holds, as far as the state allows. */
static void process(struct wk_conn *c)
{
    struct smtp_session *s = wk_conn_proto(c);
    bool more = true;
    while (more && !wk_conn_is_closing(c)) {
        if (s->state == SMTP_STATE_COMMIT)
            return;
        if (wk_conn_is_write_blocked(c)) {
            wk_conn_pause_read(c, true); /* a client that does not read its replies */
            return;
        }
        more = s->state == SMTP_STATE_DATA ? read_data(s) : read_command(s);
    }
    if (wk_conn_is_closing(c))
        return;
    if (wk_conn_peer_closed(c)) {
        wk_conn_finish(c, s->state == SMTP_STATE_DATA ? "eof-in-data" : "eof");
        return;
    }
    set_timeout(s);
}

static void on_open(struct wk_conn *c)
{
    struct smtp_session *s = wk_conn_proto(c);
    struct smtp_server *ss = wk_conn_server(c)->data;
    const struct smtp_config *cfg = ss->cfg;
    s->c = c;
    s->state = SMTP_STATE_FRESH;
    wk_conn_set_phase(c, "greeting", 0, 0);
    if (!smtp_clients_enter(ss->clients, &wk_conn_info(c)->peer.sa, cfg->max_per_client)) {
        smtp_reply(c, 421, "4.7.0", "%s Error: too many connections from your address",
                   cfg->hostname);
        wk_conn_finish(c, "too-many-from-client");
        return;
    }
    s->counted = true;
    if (wk_conn_server(c)->stopping) {
        smtp_reply(c, 421, "4.3.2", "%s Service shutting down", cfg->hostname);
        wk_conn_finish(c, "shutdown");
        return;
    }
    smtp_reply(c, 220, NULL, "%s ESMTP wellknown", cfg->hostname);
    set_timeout(s);
}

static void on_data(struct wk_conn *c)
{
    process(c);
}

static void on_drain(struct wk_conn *c)
{
    struct smtp_session *s = wk_conn_proto(c);
    if (s->state == SMTP_STATE_COMMIT)
        return;
    wk_conn_pause_read(c, false);
    process(c);
}

static void on_timeout(struct wk_conn *c)
{
    struct smtp_session *s = wk_conn_proto(c);
    smtp_reply(c, 421, "4.4.2", "%s Error: timeout exceeded", server_of(s)->cfg->hostname);
    wk_conn_finish(c, s->state == SMTP_STATE_DATA ? "data-timeout" : "timeout");
}

/* The server is stopping: between transactions say so; a message in flight is finished first. */
static void on_shutdown(struct wk_conn *c)
{
    struct smtp_session *s = wk_conn_proto(c);
    if (s->state == SMTP_STATE_DATA || s->state == SMTP_STATE_COMMIT)
        return;
    smtp_reply(c, 421, "4.3.2", "%s Service shutting down", server_of(s)->cfg->hostname);
    wk_conn_finish(c, "shutdown");
}

static void on_close(struct wk_conn *c)
{
    struct smtp_session *s = wk_conn_proto(c);
    struct smtp_server *ss = wk_conn_server(c)->data;
    for (struct smtp_session **p = &ss->committing; *p; p = &(*p)->next_commit) {
        if (*p == s) {
            *p = s->next_commit;
            break;
        }
    }
    if (s->state == SMTP_STATE_DATA && s->delivery)
        log_message(s, "aborted", 0);
    reset(s);
    if (s->counted)
        smtp_clients_leave(ss->clients, &wk_conn_info(c)->peer.sa);
}

/* Replies to a committed (or failed) message and lets its session read on. */
static void committed(struct smtp_session *s, int rc)
{
    s->delivery = NULL; /* the commit freed it */
    if (rc == 0) {
        log_message(s, "delivered", 250);
        smtp_reply(s->c, 250, "2.0.0", "Ok: queued as %s", s->queue_id);
    } else {
        wk_log(WK_LOG_ERROR, "maildir-commit fd=%d id=%s error=\"%s\"", wk_conn_info(s->c)->fd,
               s->queue_id, strerror(-rc));
        log_message(s, "failed", 451);
        smtp_reply(s->c, 451, "4.3.0", "Error: local error in processing");
    }
    enter_state(s, SMTP_STATE_READY);
    reset(s);
    wk_conn_pause_read(s->c, false);
    if (wk_conn_server(s->c)->stopping) {
        on_shutdown(s->c);
        return;
    }
    process(s->c);
}

/* Commits one batch: the sessions queued so far. */
static void commit_batch(struct smtp_server *ss)
{
    size_t n = 0;
    for (struct smtp_session *s = ss->committing; s; s = s->next_commit)
        n++;
    struct smtp_delivery **ds = calloc(n, sizeof *ds);
    const char *const **folders = calloc(n, sizeof *folders);
    size_t *nfolders = calloc(n, sizeof *nfolders);
    int *results = calloc(n, sizeof *results);
    struct smtp_session **sessions = calloc(n, sizeof *sessions);
    struct smtp_session *s = ss->committing;
    ss->committing = NULL;
    if (!ds || !folders || !nfolders || !results || !sessions) {
        while (s) {
            struct smtp_session *next = s->next_commit; /* committed() may queue s anew */
            smtp_maildir_abort(s->delivery);
            committed(s, -ENOMEM);
            s = next;
        }
        goto out;
    }
    for (size_t i = 0; s; s = s->next_commit, i++) {
        sessions[i] = s;
        ds[i] = s->delivery;
        folders[i] = (const char *const *)s->rcpts;
        nfolders[i] = s->nrcpts;
    }
    smtp_maildir_commit(ds, n, folders, nfolders, results);
    for (size_t i = 0; i < n; i++) {
        sessions[i]->delivery = NULL;
        committed(sessions[i], results[i]);
    }
out:
    free(ds);
    free(folders);
    free(nfolders);
    free(results);
    free(sessions);
}

bool smtp_session_commit_all(struct wk_server *srv, void *arg)
{
    struct smtp_server *ss = srv->data;
    WK_UNUSED(arg);
    for (int round = 0; ss->committing != NULL && round < SESSION_COMMIT_ROUNDS; round++)
        commit_batch(ss);
    return ss->committing != NULL;
}

const struct wk_conn_ops smtp_session_ops = {
    .proto_size = sizeof(struct smtp_session),
    .on_open = on_open,
    .on_data = on_data,
    .on_drain = on_drain,
    .on_timeout = on_timeout,
    .on_shutdown = on_shutdown,
    .on_close = on_close,
};
