/*
 * command.h: one SMTP command line split into its verb, its argument and,
 * for MAIL and RCPT, the path and the ESMTP parameters (RFC 5321 4.1.1,
 * 4.1.2, 4.5.3.1.4). A pure parser: no I/O, no allocation. What a verb
 * means in the session's state, and the mailbox inside a path, are for
 * session.c and mailaddr.c.
 */
#ifndef SMTP_COMMAND_H
#define SMTP_COMMAND_H

#include <stdbool.h>
#include <stddef.h>

/* Longest command line, CRLF included (RFC 5321 4.5.3.1.4). */
#define SMTP_LINE_MAX 512
/* Most ESMTP parameters on one MAIL or RCPT. */
#define SMTP_PARAMS_MAX 16

enum smtp_verb {
    SMTP_VERB_UNKNOWN,
    SMTP_VERB_HELO,
    SMTP_VERB_EHLO,
    SMTP_VERB_MAIL,
    SMTP_VERB_RCPT,
    SMTP_VERB_DATA,
    SMTP_VERB_RSET,
    SMTP_VERB_NOOP,
    SMTP_VERB_QUIT,
    SMTP_VERB_VRFY,
    SMTP_VERB_EXPN,
    SMTP_VERB_HELP,
    SMTP_VERB_STARTTLS,
    SMTP_VERB_AUTH,
    SMTP_VERB_BDAT,
};

/* One esmtp-param, "KEY" or "KEY=VALUE"; value is NULL (value_len 0) when there is no "=". */
struct smtp_param {
    const char *key;
    size_t key_len;
    const char *value;
    size_t value_len;
};

/*
 * A parsed command. Every pointer points into the line given to
 * smtp_command_parse() and lives as long as it does; none is
 * NUL-terminated.
 */
struct smtp_command {
    enum smtp_verb verb;
    const char *arg;  /* after the verb and its separating space(s), trailing spaces trimmed */
    size_t arg_len;   /* 0 when there is none */
    const char *path; /* MAIL/RCPT: the "<...>" path, brackets included; else NULL */
    size_t path_len;
    struct smtp_param params[SMTP_PARAMS_MAX]; /* MAIL/RCPT: the ESMTP parameters, in order */
    size_t nparams;
};

/*
 * Parses line[0, len), one command without its CRLF; line need not be
 * NUL-terminated. The verb is case-insensitive, and so are MAIL's "FROM:"
 * and RCPT's "TO:", which may be followed by one space before the path.
 * The path is the first '>' after the '<' that is not inside a quoted
 * string. Returns 0 and fills *cmd, or (cmd's fields then unspecified):
 *   -E2BIG   len + 2 > SMTP_LINE_MAX (reply 500 5.5.6);
 *   -EINVAL  a control byte (below 0x20, or DEL) anywhere; HELO, EHLO, VRFY,
 *            EXPN, AUTH or BDAT without an argument; DATA, RSET, QUIT or
 *            STARTTLS with one; MAIL/RCPT without "FROM:"/"TO:" and a
 *            "<...>" path; a parameter that is not esmtp-keyword
 *            ["=" esmtp-value]; more than SMTP_PARAMS_MAX of them (501 5.5.4);
 *   -ENOENT  an unknown verb, or an empty line (500 5.5.2).
 */
int smtp_command_parse(const char *line, size_t len, struct smtp_command *cmd);

/* The verb as upper-case text ("MAIL"), "UNKNOWN" for anything else; a static string. */
const char *smtp_command_name(enum smtp_verb v);

/* Whether the parameter's keyword is key (a C string), ignoring ASCII case. */
bool smtp_param_is(const struct smtp_param *p, const char *key);

#endif
