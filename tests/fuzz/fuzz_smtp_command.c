/*
 * fuzz_smtp_command.c: SMTP command lines (smtpd/command.c). The input is
 * one line without its CRLF, as the session hands it over.
 *
 * Results are the four documented ones, -E2BIG exactly for lines over the
 * limit. A parsed line holds no control byte; its verb is its first word;
 * every span lies in the line; the argument is the rest of the line without
 * its outer spaces. For MAIL and RCPT the argument is "FROM:"/"TO:", at
 * most one space, a path that no '>' outside a quoted string ends early,
 * then one parameter per space-separated word, each esmtp-keyword
 * ["=" esmtp-value]. Changing the verb's case, or adding trailing spaces,
 * changes nothing. The path then goes to smtp_mailaddr_parse(), which
 * must answer with one of its own results.
 */
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "smtpd/command.h"
#include "smtpd/mailaddr.h"

/*
 * A heap copy of exactly n bytes, as fuzz_copy() makes; an empty input gets
 * one initialized byte, which the parsers must not read (the unit tests
 * check that from a guard page).
 */
static char *copy_input(const uint8_t *d, size_t n)
{
    char *c = malloc(n ? n : 1);
    FUZZ_CHECK(c != NULL);
    if (n == 0)
        c[0] = '\0';
    else
        memcpy(c, d, n);
    return c;
}

static bool inside(const char *p, size_t n, const char *q, size_t qn)
{
    return q != NULL && q >= p && qn <= n && (size_t)(q - p) <= n - qn;
}

static char flip(char c)
{
    if (c >= 'a' && c <= 'z')
        return (char)(c - 'a' + 'A');
    if (c >= 'A' && c <= 'Z')
        return (char)(c - 'A' + 'a');
    return c;
}

static bool same_nocase(const char *a, const char *b, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (a[i] != b[i] && flip(a[i]) != b[i])
            return false;
    }
    return true;
}

static bool is_alnum(unsigned char c)
{
    return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

/* One word after the path against esmtp-param, and against what the parser made of it. */
static void check_param(const char *w, size_t n, const struct smtp_param *p)
{
    FUZZ_CHECK(p->key == w && p->key_len > 0 && p->key_len <= n);
    FUZZ_CHECK(is_alnum((unsigned char)w[0]));
    for (size_t i = 1; i < p->key_len; i++)
        FUZZ_CHECK(is_alnum((unsigned char)w[i]) || w[i] == '-');
    if (p->value == NULL) {
        FUZZ_CHECK(p->key_len == n && p->value_len == 0);
        return;
    }
    FUZZ_CHECK(w[p->key_len] == '=' && p->value == w + p->key_len + 1);
    FUZZ_CHECK(p->value_len > 0 && p->key_len + 1 + p->value_len == n);
    for (size_t i = 0; i < p->value_len; i++) {
        unsigned char c = (unsigned char)p->value[i];
        FUZZ_CHECK(c > ' ' && c != '=' && c != 0x7f);
    }
}

/* MAIL/RCPT: the keyword, the path, the parameters. */
static void check_path(const struct smtp_command *cmd)
{
    const char *kw = cmd->verb == SMTP_VERB_MAIL ? "FROM:" : "TO:";
    size_t kl = strlen(kw);
    const char *a = cmd->arg;
    size_t n = cmd->arg_len;
    FUZZ_CHECK(n > kl && same_nocase(kw, a, kl));
    size_t at = kl + (a[kl] == ' ');
    FUZZ_CHECK(cmd->path == a + at);
    FUZZ_CHECK(cmd->path_len >= 2 && cmd->path_len <= n - at);
    FUZZ_CHECK(cmd->path[0] == '<' && cmd->path[cmd->path_len - 1] == '>');
    bool quoted = false;
    for (size_t i = 1; i + 1 < cmd->path_len; i++) {
        if (quoted && cmd->path[i] == '\\')
            i++;
        else if (cmd->path[i] == '"')
            quoted = !quoted;
        else
            FUZZ_CHECK(quoted || cmd->path[i] != '>');
    }
    FUZZ_CHECK(!quoted);
    const char *r = cmd->path + cmd->path_len;
    size_t rn = n - at - cmd->path_len;
    size_t k = 0;
    FUZZ_CHECK(rn == 0 || r[0] == ' ');
    for (size_t i = 0; i < rn;) {
        while (i < rn && r[i] == ' ')
            i++;
        size_t start = i;
        while (i < rn && r[i] != ' ')
            i++;
        FUZZ_CHECK(i > start && k < cmd->nparams);
        check_param(r + start, i - start, &cmd->params[k++]);
    }
    FUZZ_CHECK(k == cmd->nparams);
}

static void check_result(const char *p, size_t n, int rc, const struct smtp_command *cmd)
{
    FUZZ_CHECK(rc == 0 || rc == -ENOENT || rc == -EINVAL || rc == -E2BIG);
    FUZZ_CHECK((rc == -E2BIG) == (n + 2 > SMTP_LINE_MAX));
    if (rc != 0)
        return;
    for (size_t i = 0; i < n; i++)
        FUZZ_CHECK((unsigned char)p[i] >= 0x20 && (unsigned char)p[i] != 0x7f);
    const char *name = smtp_command_name(cmd->verb);
    size_t vl = strlen(name);
    FUZZ_CHECK(cmd->verb != SMTP_VERB_UNKNOWN && n >= vl && same_nocase(name, p, vl));
    FUZZ_CHECK(vl == n || p[vl] == ' ');
    size_t a = vl, end = n;
    while (a < n && p[a] == ' ')
        a++;
    while (end > a && p[end - 1] == ' ')
        end--;
    FUZZ_CHECK(cmd->arg == p + a && cmd->arg_len == end - a);
    FUZZ_CHECK(inside(p, n, cmd->arg, cmd->arg_len));
    if (cmd->verb == SMTP_VERB_MAIL || cmd->verb == SMTP_VERB_RCPT) {
        check_path(cmd);
    } else {
        FUZZ_CHECK(cmd->path == NULL && cmd->path_len == 0 && cmd->nparams == 0);
    }
}

/* The same answer, spans moved to the other copy. */
static void check_same(const char *p, const struct smtp_command *c, int rc, const char *q,
                       const struct smtp_command *d, int rc2)
{
    FUZZ_CHECK(rc == rc2);
    if (rc != 0)
        return;
    FUZZ_CHECK(c->verb == d->verb);
    FUZZ_CHECK(d->arg_len == c->arg_len && (c->arg_len == 0 || d->arg - q == c->arg - p));
    FUZZ_CHECK((c->path == NULL) == (d->path == NULL) && c->path_len == d->path_len);
    FUZZ_CHECK(c->path == NULL || d->path - q == c->path - p);
    FUZZ_CHECK(c->nparams == d->nparams);
    for (size_t i = 0; i < c->nparams; i++) {
        FUZZ_CHECK(d->params[i].key - q == c->params[i].key - p);
        FUZZ_CHECK(d->params[i].key_len == c->params[i].key_len);
        FUZZ_CHECK((d->params[i].value == NULL) == (c->params[i].value == NULL));
        FUZZ_CHECK(d->params[i].value_len == c->params[i].value_len);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *p = copy_input(data, size);
    struct smtp_command cmd, other;
    int rc = smtp_command_parse(p, size, &cmd);
    check_result(p, size, rc, &cmd);

    /* the verb's case does not matter */
    char *q = malloc(size + 2);
    FUZZ_CHECK(q != NULL);
    memcpy(q, p, size);
    for (size_t i = 0; i < size && q[i] != ' '; i++)
        q[i] = flip(q[i]);
    int rc2 = smtp_command_parse(q, size, &other);
    check_result(q, size, rc2, &other);
    check_same(p, &cmd, rc, q, &other, rc2);

    /* nor do trailing spaces, within the limit */
    memcpy(q, p, size);
    q[size] = q[size + 1] = ' ';
    if (size + 4 <= SMTP_LINE_MAX) {
        rc2 = smtp_command_parse(q, size + 2, &other);
        check_result(q, size + 2, rc2, &other);
        check_same(p, &cmd, rc, q, &other, rc2);
    }

    if (rc == 0 && cmd.path != NULL) {
        struct smtp_mailbox m;
        for (int utf8 = 0; utf8 <= 1; utf8++) {
            int mrc = smtp_mailaddr_parse(cmd.path, cmd.path_len, utf8, &m);
            FUZZ_CHECK(mrc == 0 || mrc == -EINVAL || mrc == -ENAMETOOLONG);
        }
    }
    free(q);
    free(p);
    return 0;
}
