/*
 * command.c: splitting an SMTP command line (see command.h). It owns the
 * verb table and the syntax of MAIL/RCPT's path and ESMTP parameters
 * (RFC 5321 4.1.1.2, 4.1.1.3, 4.1.2); it does not own the line, the
 * mailbox syntax inside the path (mailaddr.c), or what a parameter means
 * (session.c).
 */
#include "smtpd/command.h"

#include <errno.h>
#include <string.h>

/* What follows a verb. */
enum arg_rule {
    ARG_NONE,     /* nothing: DATA, RSET, QUIT, STARTTLS */
    ARG_OPTIONAL, /* anything or nothing: NOOP, HELP */
    ARG_REQUIRED, /* something: HELO's domain, VRFY's string, AUTH's mechanism */
    ARG_PATH,     /* "FROM:" or "TO:", a path, parameters */
};

struct verb_def {
    const char *name;
    enum arg_rule rule;
    const char *keyword; /* ARG_PATH: "FROM:" or "TO:" */
};

/* Indexed by enum smtp_verb. */
static const struct verb_def verbs[] = {
    [SMTP_VERB_UNKNOWN] = {"UNKNOWN", ARG_OPTIONAL, NULL},
    [SMTP_VERB_HELO] = {"HELO", ARG_REQUIRED, NULL},
    [SMTP_VERB_EHLO] = {"EHLO", ARG_REQUIRED, NULL},
    [SMTP_VERB_MAIL] = {"MAIL", ARG_PATH, "FROM:"},
    [SMTP_VERB_RCPT] = {"RCPT", ARG_PATH, "TO:"},
    [SMTP_VERB_DATA] = {"DATA", ARG_NONE, NULL},
    [SMTP_VERB_RSET] = {"RSET", ARG_NONE, NULL},
    [SMTP_VERB_NOOP] = {"NOOP", ARG_OPTIONAL, NULL},
    [SMTP_VERB_QUIT] = {"QUIT", ARG_NONE, NULL},
    [SMTP_VERB_VRFY] = {"VRFY", ARG_REQUIRED, NULL},
    [SMTP_VERB_EXPN] = {"EXPN", ARG_REQUIRED, NULL},
    [SMTP_VERB_HELP] = {"HELP", ARG_OPTIONAL, NULL},
    [SMTP_VERB_STARTTLS] = {"STARTTLS", ARG_NONE, NULL},
    [SMTP_VERB_AUTH] = {"AUTH", ARG_REQUIRED, NULL},
    [SMTP_VERB_BDAT] = {"BDAT", ARG_REQUIRED, NULL},
};

#define NVERBS (sizeof verbs / sizeof verbs[0])

static unsigned char ascii_lower(unsigned char c)
{
    return c >= 'A' && c <= 'Z' ? (unsigned char)(c - 'A' + 'a') : c;
}

/* Whether p[0, n) is the C string word, ignoring ASCII case. */
static bool equal_nocase(const char *p, size_t n, const char *word)
{
    size_t i = 0;
    for (; i < n && word[i] != '\0'; i++) {
        if (ascii_lower((unsigned char)p[i]) != ascii_lower((unsigned char)word[i]))
            return false;
    }
    return i == n && word[i] == '\0';
}

static bool is_alnum(unsigned char c)
{
    return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

/* esmtp-value's characters (RFC 5321 4.1.2), with RFC 6531's UTF-8 octets. */
static bool is_value_char(unsigned char c)
{
    return (c >= 33 && c <= 126 && c != '=') || c >= 0x80;
}

static enum smtp_verb find_verb(const char *p, size_t n)
{
    for (size_t v = 1; v < NVERBS; v++) {
        if (equal_nocase(p, n, verbs[v].name))
            return (enum smtp_verb)v;
    }
    return SMTP_VERB_UNKNOWN;
}

/* One esmtp-param = esmtp-keyword ["=" esmtp-value], exactly p[0, n). */
static int parse_param(struct smtp_param *param, const char *p, size_t n)
{
    size_t i = 0;
    while (i < n && (is_alnum((unsigned char)p[i]) || (i > 0 && p[i] == '-')))
        i++;
    if (i == 0)
        return -EINVAL;
    param->key = p;
    param->key_len = i;
    param->value = NULL;
    param->value_len = 0;
    if (i == n)
        return 0;
    if (p[i] != '=' || i + 1 == n)
        return -EINVAL;
    for (size_t j = i + 1; j < n; j++) {
        if (!is_value_char((unsigned char)p[j]))
            return -EINVAL;
    }
    param->value = p + i + 1;
    param->value_len = n - i - 1;
    return 0;
}

/* What follows the path: nothing, or SP-separated parameters (p has no trailing space). */
static int parse_params(struct smtp_command *cmd, const char *p, size_t n)
{
    if (n == 0)
        return 0;
    if (p[0] != ' ')
        return -EINVAL;
    size_t i = 0;
    while (i < n) {
        while (i < n && p[i] == ' ')
            i++;
        size_t start = i;
        while (i < n && p[i] != ' ')
            i++;
        if (cmd->nparams == SMTP_PARAMS_MAX)
            return -EINVAL;
        int rc = parse_param(&cmd->params[cmd->nparams], p + start, i - start);
        if (rc < 0)
            return rc;
        cmd->nparams++;
    }
    return 0;
}

/*
 * MAIL's "FROM:" or RCPT's "TO:", at most one space, the path, parameters.
 * The path ends at the first '>' outside a quoted string, in which a
 * backslash escapes the next octet (RFC 5321 quoted-pairSMTP).
 */
static int parse_path(struct smtp_command *cmd, const char *keyword)
{
    const char *p = cmd->arg;
    size_t n = cmd->arg_len;
    size_t i = strlen(keyword);
    if (n < i || !equal_nocase(p, i, keyword))
        return -EINVAL;
    if (i < n && p[i] == ' ') /* "MAIL FROM: <a@b>", as Postfix accepts */
        i++;
    if (i == n || p[i] != '<')
        return -EINVAL;
    size_t start = i;
    bool quoted = false;
    for (i++; i < n; i++) {
        if (quoted && p[i] == '\\')
            i++;
        else if (p[i] == '"')
            quoted = !quoted;
        else if (!quoted && p[i] == '>')
            break;
    }
    if (i >= n)
        return -EINVAL;
    cmd->path = p + start;
    cmd->path_len = i + 1 - start;
    return parse_params(cmd, p + i + 1, n - i - 1);
}

int smtp_command_parse(const char *line, size_t len, struct smtp_command *cmd)
{
    memset(cmd, 0, sizeof *cmd);
    if (len > SMTP_LINE_MAX - 2)
        return -E2BIG;
    if (len == 0)
        return -ENOENT;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)line[i];
        if (c < 0x20 || c == 0x7f)
            return -EINVAL;
    }
    size_t v = 0;
    while (v < len && line[v] != ' ')
        v++;
    enum smtp_verb verb = find_verb(line, v);
    if (verb == SMTP_VERB_UNKNOWN)
        return -ENOENT;
    size_t a = v;
    while (a < len && line[a] == ' ')
        a++;
    size_t end = len;
    while (end > a && line[end - 1] == ' ')
        end--;
    cmd->verb = verb;
    cmd->arg = line + a;
    cmd->arg_len = end - a;
    switch (verbs[verb].rule) {
    case ARG_NONE:
        return cmd->arg_len == 0 ? 0 : -EINVAL;
    case ARG_REQUIRED:
        return cmd->arg_len > 0 ? 0 : -EINVAL;
    case ARG_PATH:
        return parse_path(cmd, verbs[verb].keyword);
    default:
        return 0;
    }
}

const char *smtp_command_name(enum smtp_verb v)
{
    if ((size_t)v >= NVERBS)
        return verbs[SMTP_VERB_UNKNOWN].name;
    return verbs[v].name;
}

bool smtp_param_is(const struct smtp_param *p, const char *key)
{
    return p->key != NULL && equal_nocase(p->key, p->key_len, key);
}
