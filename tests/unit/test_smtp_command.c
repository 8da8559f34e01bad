/*
 * test_smtp_command.c: SMTP command lines (smtpd/command.c), RFC 5321
 * 4.1.1, 4.1.2 and 4.5.3.1.4, case by case. Each line is parsed from the
 * end of a guard page, and so is every prefix of it: a truncated line must
 * give a consistent answer and never read past its end.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "smtpd/command.h"
#include "support/guard.h"

/* A string literal and its length, NULs included. */
#define S(x) x, sizeof(x) - 1

static bool inside(const char *p, size_t n, const char *q, size_t qn)
{
    return q != NULL && q >= p && qn <= n && (size_t)(q - p) <= n - qn;
}

/* What holds for every result, whatever the line. */
static void check_invariants(const char *p, size_t n, int rc, const struct smtp_command *cmd)
{
    assert_true(rc == 0 || rc == -ENOENT || rc == -EINVAL || rc == -E2BIG);
    assert_true((rc == -E2BIG) == (n + 2 > SMTP_LINE_MAX));
    if (rc != 0)
        return;
    assert_true(cmd->verb != SMTP_VERB_UNKNOWN);
    for (size_t i = 0; i < n; i++)
        assert_true((unsigned char)p[i] >= 0x20 && (unsigned char)p[i] != 0x7f);
    assert_true(inside(p, n, cmd->arg, cmd->arg_len));
    if (cmd->arg_len > 0)
        assert_true(cmd->arg[0] != ' ' && cmd->arg[cmd->arg_len - 1] != ' ');
    if (cmd->verb != SMTP_VERB_MAIL && cmd->verb != SMTP_VERB_RCPT) {
        assert_null(cmd->path);
        assert_int_equal(cmd->nparams, 0);
        return;
    }
    assert_true(inside(cmd->arg, cmd->arg_len, cmd->path, cmd->path_len));
    assert_true(cmd->path_len >= 2);
    assert_int_equal(cmd->path[0], '<');
    assert_int_equal(cmd->path[cmd->path_len - 1], '>');
    assert_true(cmd->nparams <= SMTP_PARAMS_MAX);
    for (size_t i = 0; i < cmd->nparams; i++) {
        const struct smtp_param *pa = &cmd->params[i];
        assert_true(inside(p, n, pa->key, pa->key_len) && pa->key_len > 0);
        if (pa->value != NULL)
            assert_true(inside(p, n, pa->value, pa->value_len) && pa->value_len > 0);
        else
            assert_int_equal(pa->value_len, 0);
    }
}

static void on_prefix(const char *p, size_t n, void *arg)
{
    (void)arg;
    struct smtp_command cmd;
    check_invariants(p, n, smtp_command_parse(p, n, &cmd), &cmd);
}

/* The parameters as text: "KEY=VALUE KEY" in order. */
static void format_params(const struct smtp_command *cmd, char *out, size_t cap)
{
    size_t o = 0;
    out[0] = '\0';
    for (size_t i = 0; i < cmd->nparams; i++) {
        const struct smtp_param *pa = &cmd->params[i];
        int n = pa->value
                    ? snprintf(out + o, cap - o, "%s%.*s=%.*s", i ? " " : "", (int)pa->key_len,
                               pa->key, (int)pa->value_len, pa->value)
                    : snprintf(out + o, cap - o, "%s%.*s", i ? " " : "", (int)pa->key_len, pa->key);
        assert_true(n >= 0 && (size_t)n < cap - o);
        o += (size_t)n;
    }
}

/*
 * Parses line[0, len) from a guard page and compares: the result, and on
 * success the verb, argument, path (NULL: none) and parameters.
 */
static void expect_cmd(const char *line, size_t len, int want_rc, enum smtp_verb verb,
                       const char *arg, const char *path, const char *params)
{
    const char *g = wk_test_guard(line, len);
    struct smtp_command cmd;
    int rc = smtp_command_parse(g, len, &cmd);
    check_invariants(g, len, rc, &cmd);
    if (rc != want_rc)
        fail_msg("\"%.*s\": result %d, want %d", (int)len, line, rc, want_rc);
    if (rc == 0) {
        char got[SMTP_LINE_MAX];
        assert_int_equal(cmd.verb, verb);
        assert_int_equal(cmd.arg_len, strlen(arg));
        assert_memory_equal(cmd.arg, arg, cmd.arg_len);
        if (path == NULL) {
            assert_null(cmd.path);
        } else {
            assert_int_equal(cmd.path_len, strlen(path));
            assert_memory_equal(cmd.path, path, cmd.path_len);
        }
        format_params(&cmd, got, sizeof got);
        assert_string_equal(got, params ? params : "");
    }
    wk_test_guard_free(g, len);
    wk_test_each_prefix(line, len, on_prefix, NULL);
}

static void expect_ok(const char *line, enum smtp_verb verb, const char *arg)
{
    expect_cmd(line, strlen(line), 0, verb, arg, NULL, NULL);
}

static void expect_path(const char *line, enum smtp_verb verb, const char *path, const char *params)
{
    const char *arg = strchr(line, ' ');
    assert_non_null(arg);
    while (*arg == ' ')
        arg++;
    size_t n = strlen(arg);
    while (n > 0 && arg[n - 1] == ' ')
        n--;
    char trimmed[SMTP_LINE_MAX];
    snprintf(trimmed, sizeof trimmed, "%.*s", (int)n, arg);
    expect_cmd(line, strlen(line), 0, verb, trimmed, path, params);
}

static void expect_rc(const char *line, size_t len, int rc)
{
    expect_cmd(line, len, rc, SMTP_VERB_UNKNOWN, NULL, NULL, NULL);
}

static void expect_einval(const char *line)
{
    expect_rc(line, strlen(line), -EINVAL);
}

static void expect_enoent(const char *line)
{
    expect_rc(line, strlen(line), -ENOENT);
}

static void test_verbs(void **state)
{
    (void)state;
    { /* every verb, in any case */
        expect_ok("HELO example.com", SMTP_VERB_HELO, "example.com");
        expect_ok("helo example.com", SMTP_VERB_HELO, "example.com");
        expect_ok("EHLO example.com", SMTP_VERB_EHLO, "example.com");
        expect_ok("eHlO [192.0.2.1]", SMTP_VERB_EHLO, "[192.0.2.1]");
        expect_ok("DATA", SMTP_VERB_DATA, "");
        expect_ok("data", SMTP_VERB_DATA, "");
        expect_ok("RSET", SMTP_VERB_RSET, "");
        expect_ok("NOOP", SMTP_VERB_NOOP, "");
        expect_ok("QUIT", SMTP_VERB_QUIT, "");
        expect_ok("Quit", SMTP_VERB_QUIT, "");
        expect_ok("VRFY postmaster", SMTP_VERB_VRFY, "postmaster");
        expect_ok("EXPN staff", SMTP_VERB_EXPN, "staff");
        expect_ok("HELP", SMTP_VERB_HELP, "");
        expect_ok("STARTTLS", SMTP_VERB_STARTTLS, "");
        expect_ok("starttls", SMTP_VERB_STARTTLS, "");
        expect_ok("AUTH PLAIN AGFsaWNlAHNlY3JldA==", SMTP_VERB_AUTH, "PLAIN AGFsaWNlAHNlY3JldA==");
        expect_ok("BDAT 100 LAST", SMTP_VERB_BDAT, "100 LAST");
    }
    { /* arguments: separating spaces skipped, trailing spaces trimmed */
        expect_ok("EHLO   client.example  ", SMTP_VERB_EHLO, "client.example");
        expect_ok("HELO a b c", SMTP_VERB_HELO, "a b c");
        expect_ok("NOOP anything at all", SMTP_VERB_NOOP, "anything at all");
        expect_ok("HELP mail", SMTP_VERB_HELP, "mail");
        expect_ok("RSET   ", SMTP_VERB_RSET, "");
        expect_ok("DATA ", SMTP_VERB_DATA, "");
    }
    { /* octets >= 0x80 are not control characters */
        expect_ok("EHLO b\xc3\xbc"
                  "cher.example",
                  SMTP_VERB_EHLO,
                  "b\xc3\xbc"
                  "cher.example");
        expect_ok("NOOP \x80\xff", SMTP_VERB_NOOP, "\x80\xff");
    }
}

static void test_unknown(void **state)
{
    (void)state;
    expect_enoent("");
    expect_enoent("FOO");
    expect_enoent("FOO bar");
    expect_enoent("HELOO x");
    expect_enoent("HEL");
    expect_enoent("MAILFROM:<a@b>");
    expect_enoent("GET / HTTP/1.1");
    expect_enoent(" HELO x"); /* nothing before the verb */
    expect_enoent("UNKNOWN");
    expect_enoent("\xc3\x9c"
                  "BER");
}

static void test_arguments(void **state)
{
    (void)state;
    { /* HELO/EHLO need a domain; VRFY, EXPN, AUTH and BDAT something */
        expect_einval("HELO");
        expect_einval("HELO ");
        expect_einval("EHLO");
        expect_einval("ehlo    ");
        expect_einval("VRFY");
        expect_einval("EXPN");
        expect_einval("AUTH");
        expect_einval("BDAT");
    }
    { /* DATA, RSET, QUIT and STARTTLS take none */
        expect_einval("DATA x");
        expect_einval("RSET now");
        expect_einval("QUIT please");
        expect_einval("STARTTLS x");
        expect_einval("DATA  <a@b>");
    }
}

static void test_control_bytes(void **state)
{
    (void)state;
    expect_rc(S("NOOP\0"), -EINVAL);
    expect_rc(S("\0"), -EINVAL);
    expect_rc(S("HELO a\0b"), -EINVAL);
    expect_rc(S("HELO a\tb"), -EINVAL);
    expect_rc(S("HELO\tx"), -EINVAL);
    expect_rc(S("HELO x\r"), -EINVAL);
    expect_rc(S("HELO x\ry"), -EINVAL);
    expect_rc(S("HELO x\ny"), -EINVAL);
    expect_rc(S("DATA\x7f"), -EINVAL);
    expect_rc(S("MAIL FROM:<a\x1b@b>"), -EINVAL);
    expect_rc(S("FOO\x01"), -EINVAL);
}

static void test_mail(void **state)
{
    (void)state;
    { /* the forms of RFC 5321 4.1.1.2 */
        expect_path("MAIL FROM:<a@b>", SMTP_VERB_MAIL, "<a@b>", NULL);
        expect_path("mail from:<>", SMTP_VERB_MAIL, "<>", NULL);
        expect_path("Mail From:<User@Example.COM>", SMTP_VERB_MAIL, "<User@Example.COM>", NULL);
        expect_path("MAIL FROM:<@a,@b:c@d>", SMTP_VERB_MAIL, "<@a,@b:c@d>", NULL);
        expect_path("MAIL FROM:<a@b>  ", SMTP_VERB_MAIL, "<a@b>", NULL);
    }
    { /* one space after the colon, as Postfix accepts */
        expect_path("MAIL FROM: <a@b>", SMTP_VERB_MAIL, "<a@b>", NULL);
        expect_path("MAIL FROM: <>", SMTP_VERB_MAIL, "<>", NULL);
        expect_einval("MAIL FROM:  <a@b>");
    }
    { /* several spaces after the verb */
        expect_path("MAIL  FROM:<a@b>", SMTP_VERB_MAIL, "<a@b>", NULL);
    }
    { /* no path, or not a "<...>" one */
        expect_einval("MAIL");
        expect_einval("MAIL ");
        expect_einval("MAIL FROM");
        expect_einval("MAIL FROM:");
        expect_einval("MAIL FROM: ");
        expect_einval("MAIL FROM:a@b");
        expect_einval("MAIL FROM:<a@b");
        expect_einval("MAIL FROM:a@b>");
        expect_einval("MAIL FROM :<a@b>");
        expect_einval("MAIL FROM<a@b>");
        expect_einval("MAIL TO:<a@b>");
        expect_einval("MAIL FRM:<a@b>");
        expect_einval("MAIL FROM:<a@b>x");
        expect_einval("MAIL FROM:<a@b><c@d>");
    }
}

static void test_rcpt(void **state)
{
    (void)state;
    expect_path("RCPT TO:<a@b>", SMTP_VERB_RCPT, "<a@b>", NULL);
    expect_path("rcpt to:<postmaster>", SMTP_VERB_RCPT, "<postmaster>", NULL);
    expect_path("RCPT TO:<Postmaster@example.com>", SMTP_VERB_RCPT, "<Postmaster@example.com>",
                NULL);
    expect_path("RCPT TO: <a@b>", SMTP_VERB_RCPT, "<a@b>", NULL);
    expect_path("RCPT TO:<> ", SMTP_VERB_RCPT, "<>", NULL);
    expect_path("RCPT TO:<a@b> NOTIFY=NEVER", SMTP_VERB_RCPT, "<a@b>", "NOTIFY=NEVER");
    expect_einval("RCPT");
    expect_einval("RCPT TO:");
    expect_einval("RCPT FROM:<a@b>");
    expect_einval("RCPT TO:a@b");
    expect_einval("RCPT T0:<a@b>");
}

static void test_quoted_paths(void **state)
{
    (void)state;
    { /* a '>' or a space inside a quoted string does not end the path */
        expect_path("RCPT TO:<\"a>b\"@x>", SMTP_VERB_RCPT, "<\"a>b\"@x>", NULL);
        expect_path("RCPT TO:<\"a b\"@x> X=1", SMTP_VERB_RCPT, "<\"a b\"@x>", "X=1");
        expect_path("RCPT TO:<\"a>\"@x>", SMTP_VERB_RCPT, "<\"a>\"@x>", NULL);
    }
    { /* a backslash escapes a quote inside the string */
        expect_path("RCPT TO:<\"a\\\">\"@x>", SMTP_VERB_RCPT, "<\"a\\\">\"@x>", NULL);
        expect_path("RCPT TO:<\"a\\\\\"@x>", SMTP_VERB_RCPT, "<\"a\\\\\"@x>", NULL);
        expect_path("RCPT TO:<\"\\>\"@x>", SMTP_VERB_RCPT, "<\"\\>\"@x>", NULL);
    }
    { /* outside quotes a backslash is just an octet (mailaddr.c refuses it) */
        expect_path("RCPT TO:<a\\>", SMTP_VERB_RCPT, "<a\\>", NULL);
    }
    { /* a quoted string left open swallows the rest */
        expect_einval("RCPT TO:<\"a>");
        expect_einval("RCPT TO:<\"a@x> SIZE=1");
        expect_einval("RCPT TO:<\"a\\\"@x>");
        expect_einval("RCPT TO:<\"a\\");
    }
}

static void test_params(void **state)
{
    (void)state;
    { /* esmtp-param = esmtp-keyword ["=" esmtp-value] */
        expect_path("MAIL FROM:<a@b> SIZE=1000", SMTP_VERB_MAIL, "<a@b>", "SIZE=1000");
        expect_path("MAIL FROM:<a@b> SIZE=1000 BODY=8BITMIME", SMTP_VERB_MAIL, "<a@b>",
                    "SIZE=1000 BODY=8BITMIME");
        expect_path("MAIL FROM:<> SMTPUTF8", SMTP_VERB_MAIL, "<>", "SMTPUTF8");
        expect_path("MAIL FROM:<a@b>   size=1   body=7bit  ", SMTP_VERB_MAIL, "<a@b>",
                    "size=1 body=7bit");
        expect_path("MAIL FROM:<a@b> X-Y-1=a+2Bb", SMTP_VERB_MAIL, "<a@b>", "X-Y-1=a+2Bb");
        expect_path("MAIL FROM:<a@b> 8BIT", SMTP_VERB_MAIL, "<a@b>", "8BIT");
        expect_path("MAIL FROM:<a@b> ENVID=~!<>[]", SMTP_VERB_MAIL, "<a@b>", "ENVID=~!<>[]");
        expect_path("MAIL FROM:<a@b> K=\xc3\xa9", SMTP_VERB_MAIL, "<a@b>", "K=\xc3\xa9");
        expect_path("MAIL FROM: <a@b> SIZE=1", SMTP_VERB_MAIL, "<a@b>", "SIZE=1");
    }
    { /* not a parameter */
        expect_einval("MAIL FROM:<a@b> SIZE=");
        expect_einval("MAIL FROM:<a@b> =1");
        expect_einval("MAIL FROM:<a@b> -X=1");
        expect_einval("MAIL FROM:<a@b> SIZE=1=2");
        expect_einval("MAIL FROM:<a@b> SI_ZE=1");
        expect_einval("MAIL FROM:<a@b> SIZE==1");
        expect_einval("MAIL FROM:<a@b> \xc3\xa9=1");
        expect_einval("MAIL FROM:<a@b> SIZE=1 =");
        expect_einval("MAIL FROM:<a@b>SIZE=1");
    }
    { /* at most SMTP_PARAMS_MAX of them */
        char line[SMTP_LINE_MAX];
        char want[SMTP_LINE_MAX];
        int n = snprintf(line, sizeof line, "MAIL FROM:<a@b>");
        int w = 0;
        for (int i = 0; i < SMTP_PARAMS_MAX; i++) {
            n += snprintf(line + n, sizeof line - (size_t)n, " P%d=%d", i, i);
            w += snprintf(want + w, sizeof want - (size_t)w, "%sP%d=%d", i ? " " : "", i, i);
        }
        expect_path(line, SMTP_VERB_MAIL, "<a@b>", want);
        snprintf(line + n, sizeof line - (size_t)n, " P%d", SMTP_PARAMS_MAX);
        expect_einval(line);
    }
}

static void test_line_length(void **state)
{
    (void)state;
    char line[SMTP_LINE_MAX + 8];
    memset(line, 'x', sizeof line);
    memcpy(line, "NOOP ", 5);
    { /* 510 octets and the CRLF make 512: the limit */
        const char *g = wk_test_guard(line, SMTP_LINE_MAX - 2);
        struct smtp_command cmd;
        assert_int_equal(smtp_command_parse(g, SMTP_LINE_MAX - 2, &cmd), 0);
        assert_int_equal(cmd.verb, SMTP_VERB_NOOP);
        assert_int_equal(cmd.arg_len, SMTP_LINE_MAX - 2 - 5);
        wk_test_guard_free(g, SMTP_LINE_MAX - 2);
    }
    { /* one more is too long, whatever the line says */
        expect_rc(line, SMTP_LINE_MAX - 1, -E2BIG);
        expect_rc(line, SMTP_LINE_MAX, -E2BIG);
        expect_rc(line, sizeof line, -E2BIG);
        memset(line, '\0', sizeof line);
        expect_rc(line, SMTP_LINE_MAX - 1, -E2BIG);
        expect_rc(line, SMTP_LINE_MAX - 2, -EINVAL);
    }
    { /* a NULL line of length 0 is an empty line */
        struct smtp_command cmd;
        assert_int_equal(smtp_command_parse(NULL, 0, &cmd), -ENOENT);
    }
}

static void test_names(void **state)
{
    (void)state;
    static const struct {
        enum smtp_verb verb;
        const char *name;
    } names[] = {
        {SMTP_VERB_UNKNOWN, "UNKNOWN"},   {SMTP_VERB_HELO, "HELO"}, {SMTP_VERB_EHLO, "EHLO"},
        {SMTP_VERB_MAIL, "MAIL"},         {SMTP_VERB_RCPT, "RCPT"}, {SMTP_VERB_DATA, "DATA"},
        {SMTP_VERB_RSET, "RSET"},         {SMTP_VERB_NOOP, "NOOP"}, {SMTP_VERB_QUIT, "QUIT"},
        {SMTP_VERB_VRFY, "VRFY"},         {SMTP_VERB_EXPN, "EXPN"}, {SMTP_VERB_HELP, "HELP"},
        {SMTP_VERB_STARTTLS, "STARTTLS"}, {SMTP_VERB_AUTH, "AUTH"}, {SMTP_VERB_BDAT, "BDAT"},
    };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        assert_string_equal(smtp_command_name(names[i].verb), names[i].name);
        if (names[i].verb == SMTP_VERB_UNKNOWN)
            continue;
        /* the name, in lower case, parses back to its verb */
        const char *rest = "x";
        if (names[i].verb == SMTP_VERB_MAIL)
            rest = "from:<>";
        else if (names[i].verb == SMTP_VERB_RCPT)
            rest = "to:<>";
        else if (names[i].verb == SMTP_VERB_DATA || names[i].verb == SMTP_VERB_RSET ||
                 names[i].verb == SMTP_VERB_QUIT || names[i].verb == SMTP_VERB_STARTTLS)
            rest = "";
        char line[32];
        int n = snprintf(line, sizeof line, "%s %s", names[i].name, rest);
        for (int k = 0; k < n; k++)
            line[k] = (char)(line[k] >= 'A' && line[k] <= 'Z' ? line[k] - 'A' + 'a' : line[k]);
        struct smtp_command cmd;
        assert_int_equal(smtp_command_parse(line, (size_t)n, &cmd), 0);
        assert_int_equal(cmd.verb, names[i].verb);
    }
    assert_string_equal(smtp_command_name((enum smtp_verb)99), "UNKNOWN");
}

static void test_param_is(void **state)
{
    (void)state;
    struct smtp_command cmd;
    static const char line[] = "MAIL FROM:<a@b> SIZE=10 body=8BITMIME SMTPUTF8";
    assert_int_equal(smtp_command_parse(line, strlen(line), &cmd), 0);
    assert_int_equal(cmd.nparams, 3);
    assert_true(smtp_param_is(&cmd.params[0], "SIZE"));
    assert_true(smtp_param_is(&cmd.params[0], "size"));
    assert_false(smtp_param_is(&cmd.params[0], "SIZ"));
    assert_false(smtp_param_is(&cmd.params[0], "SIZES"));
    assert_false(smtp_param_is(&cmd.params[0], ""));
    assert_true(smtp_param_is(&cmd.params[1], "BODY"));
    assert_true(smtp_param_is(&cmd.params[2], "SmtpUtf8"));
    assert_null(cmd.params[2].value);
    struct smtp_param empty = {0};
    assert_false(smtp_param_is(&empty, "SIZE"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_verbs),        cmocka_unit_test(test_unknown),
        cmocka_unit_test(test_arguments),    cmocka_unit_test(test_control_bytes),
        cmocka_unit_test(test_mail),         cmocka_unit_test(test_rcpt),
        cmocka_unit_test(test_quoted_paths), cmocka_unit_test(test_params),
        cmocka_unit_test(test_line_length),  cmocka_unit_test(test_names),
        cmocka_unit_test(test_param_is),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
