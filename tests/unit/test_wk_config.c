/*
 * test_wk_config.c: options from the command line and a config file
 * (common/config.c), through one option table like a server's: long
 * options with separate and "=" values, the file format, which source
 * wins, sizes, durations, bounds, the actions and the usage text.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "common/config.h"

struct values {
    bool verbose;
    const char *root;
    struct wk_strlist listen;
    uint64_t workers;
    uint64_t max_size;
    uint64_t timeout;
    uint64_t backlog;
};

enum { NOPTS = 7 };

struct fixture {
    struct values v;
    struct wk_option opts[NOPTS];
    char path[64]; /* a config file, when the case writes one */
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof *f);
    assert_non_null(f);
    f->v.root = "/srv/www";
    f->v.workers = 2;
    f->v.max_size = 64 * 1024;
    f->v.timeout = 30000;
    f->v.backlog = 511;
    struct wk_option o[NOPTS] = {
        {.name = "verbose", .type = WK_OPT_FLAG, .value = &f->v.verbose, .help = "say more"},
        {.name = "root",
         .type = WK_OPT_STRING,
         .value = &f->v.root,
         .arg = "DIR",
         .help = "document root"},
        {.name = "listen",
         .type = WK_OPT_LIST,
         .value = &f->v.listen,
         .arg = "ADDR",
         .help = "listen on ADDR (repeatable)"},
        {.name = "workers",
         .type = WK_OPT_UINT,
         .value = &f->v.workers,
         .arg = "N",
         .help = "worker processes",
         .min = 1,
         .max = 64},
        {.name = "max-size",
         .type = WK_OPT_SIZE,
         .value = &f->v.max_size,
         .arg = "BYTES",
         .help = "largest body",
         .min = 1,
         .max = 1u << 30},
        {.name = "timeout",
         .type = WK_OPT_DURATION,
         .value = &f->v.timeout,
         .arg = "TIME",
         .help = "idle timeout",
         .max = 3600000},
        {.name = "backlog",
         .type = WK_OPT_UINT,
         .value = &f->v.backlog,
         .arg = "N",
         .help = "listen backlog",
         .min = 16},
    };
    memcpy(f->opts, o, sizeof o);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    wk_config_free(f->opts, NOPTS);
    if (f->path[0])
        unlink(f->path);
    free(f);
    return 0;
}

/* Writes text to a new temporary file whose name goes to f->path. */
static const char *write_config(struct fixture *f, const char *text)
{
    snprintf(f->path, sizeof f->path, "/tmp/wk-config-XXXXXX");
    int fd = mkstemp(f->path);
    assert_true(fd >= 0);
    size_t n = strlen(text);
    assert_int_equal(write(fd, text, n), (ssize_t)n);
    close(fd);
    return f->path;
}

/* Parses argv (NULL-terminated, program name first). */
static int parse(struct fixture *f, enum wk_config_action *action, char err[WK_ERR_LEN],
                 char **argv)
{
    int argc = 0;
    while (argv[argc] != NULL)
        argc++;
    err[0] = '\0';
    return wk_config_parse(f->opts, NOPTS, argc, argv, action, err);
}

#define ARGV(...) ((char *[]){"prog", __VA_ARGS__, NULL})

/* Expects -EINVAL and a message containing each of the given strings. */
static void expect_error(int rc, const char *err, const char *a, const char *b)
{
    if (rc != -EINVAL)
        fail_msg("rc %d, want -EINVAL (err \"%s\")", rc, err);
    if (a && strstr(err, a) == NULL)
        fail_msg("message \"%s\" lacks \"%s\"", err, a);
    if (b && strstr(err, b) == NULL)
        fail_msg("message \"%s\" lacks \"%s\"", err, b);
}

static void test_defaults_without_options(void **state)
{
    struct fixture *f = *state;
    enum wk_config_action action = WK_CONFIG_HELP;
    char err[WK_ERR_LEN];
    { /* no options: RUN, defaults untouched */
        assert_int_equal(parse(f, &action, err, (char *[]){"prog", NULL}), 0);
        assert_int_equal(action, WK_CONFIG_RUN);
        assert_false(f->v.verbose);
        assert_string_equal(f->v.root, "/srv/www");
        assert_int_equal(f->v.listen.n, 0);
        assert_int_equal(f->v.workers, 2);
        assert_int_equal(f->v.timeout, 30000);
    }
}

static void test_long_options(void **state)
{
    struct fixture *f = *state;
    enum wk_config_action action;
    char err[WK_ERR_LEN];
    { /* separate values */
        char **argv = ARGV("--root", "/a", "--workers", "4", "--timeout", "5s");
        assert_int_equal(parse(f, &action, err, argv), 0);
        assert_string_equal(f->v.root, "/a");
        assert_int_equal(f->v.workers, 4);
        assert_int_equal(f->v.timeout, 5000);
    }
    { /* "=" values, and a value that itself contains "=" */
        char **argv = ARGV("--root=/b=c", "--workers=8", "--max-size=1M");
        assert_int_equal(parse(f, &action, err, argv), 0);
        assert_string_equal(f->v.root, "/b=c");
        assert_int_equal(f->v.workers, 8);
        assert_int_equal(f->v.max_size, 1 << 20);
    }
    { /* the last value of a plain option wins */
        char **argv = ARGV("--root", "/1", "--root=/2");
        assert_int_equal(parse(f, &action, err, argv), 0);
        assert_string_equal(f->v.root, "/2");
    }
    { /* flags: bare, and with an explicit value */
        assert_int_equal(parse(f, &action, err, ARGV("--verbose")), 0);
        assert_true(f->v.verbose);
        assert_int_equal(parse(f, &action, err, ARGV("--verbose=no")), 0);
        assert_false(f->v.verbose);
        assert_int_equal(parse(f, &action, err, ARGV("--verbose=yes")), 0);
        assert_true(f->v.verbose);
        expect_error(parse(f, &action, err, ARGV("--verbose=maybe")), err, "verbose", "maybe");
    }
    { /* a repeatable option collects its values in order */
        char **argv = ARGV("--listen", ":80", "--listen=unix:/s", "--listen", "[::1]:8");
        assert_int_equal(parse(f, &action, err, argv), 0);
        assert_int_equal(f->v.listen.n, 3);
        assert_string_equal(f->v.listen.v[0], ":80");
        assert_string_equal(f->v.listen.v[1], "unix:/s");
        assert_string_equal(f->v.listen.v[2], "[::1]:8");
    }
}

static void test_bad_command_lines(void **state)
{
    struct fixture *f = *state;
    enum wk_config_action action;
    char err[WK_ERR_LEN];
    { /* an unknown option is named */
        expect_error(parse(f, &action, err, ARGV("--nope")), err, "--nope", "unknown");
        expect_error(parse(f, &action, err, ARGV("--nope=1")), err, "--nope", NULL);
    }
    { /* names match whole, not by prefix */
        expect_error(parse(f, &action, err, ARGV("--liste", ":80")), err, "--liste", NULL);
        expect_error(parse(f, &action, err, ARGV("--listenx", ":80")), err, "--listenx", NULL);
    }
    { /* short options and bare words are not options */
        expect_error(parse(f, &action, err, ARGV("-x")), err, "-x", NULL);
        expect_error(parse(f, &action, err, ARGV("stray")), err, "stray", NULL);
        expect_error(parse(f, &action, err, ARGV("--")), err, NULL, NULL);
    }
    { /* a value missing at the end is named */
        expect_error(parse(f, &action, err, ARGV("--root")), err, "--root", "value");
        expect_error(parse(f, &action, err, ARGV("--workers")), err, "--workers", NULL);
    }
    { /* bad numbers name the option and the value */
        expect_error(parse(f, &action, err, ARGV("--workers", "four")), err, "--workers", "four");
        expect_error(parse(f, &action, err, ARGV("--workers", "-1")), err, "--workers", "-1");
        expect_error(parse(f, &action, err, ARGV("--workers", "4k")), err, "--workers", "4k");
        expect_error(parse(f, &action, err, ARGV("--max-size", "1T")), err, "--max-size", "1T");
        expect_error(parse(f, &action, err, ARGV("--timeout", "1d")), err, "--timeout", "1d");
    }
}

static void test_file_format(void **state)
{
    struct fixture *f = *state;
    enum wk_config_action action;
    char err[WK_ERR_LEN];
    const char *path = write_config(f, "# a comment line\n"
                                       "\n"
                                       "   \n"
                                       "root=/from/file\n"
                                       "  workers   =   6   # trailing comment\n"
                                       "\tmax-size\t=\t2k\t\n"
                                       "verbose\n"
                                       "listen = :80\n"
                                       "listen = [::1]:81\n"
                                       "timeout = 250ms\n"
                                       "# the end, without a newline\n"
                                       "backlog = 128");
    { /* comments, blank lines and spaces around "=" are all fine */
        assert_int_equal(parse(f, &action, err, ARGV("-c", (char *)path)), 0);
        assert_int_equal(action, WK_CONFIG_RUN);
        assert_string_equal(f->v.root, "/from/file");
        assert_int_equal(f->v.workers, 6);
        assert_int_equal(f->v.max_size, 2048);
        assert_true(f->v.verbose);
        assert_int_equal(f->v.listen.n, 2);
        assert_string_equal(f->v.listen.v[0], ":80");
        assert_string_equal(f->v.listen.v[1], "[::1]:81");
        assert_int_equal(f->v.timeout, 250);
        assert_int_equal(f->v.backlog, 128);
    }
}

static void test_file_config_forms(void **state)
{
    struct fixture *f = *state;
    enum wk_config_action action;
    char err[WK_ERR_LEN];
    const char *path = write_config(f, "workers = 3\n");
    char arg[128];
    snprintf(arg, sizeof arg, "--config=%s", path);
    { /* --config=FILE */
        assert_int_equal(parse(f, &action, err, ARGV(arg)), 0);
        assert_int_equal(f->v.workers, 3);
    }
    { /* --config FILE */
        f->v.workers = 1;
        assert_int_equal(parse(f, &action, err, ARGV("--config", (char *)path)), 0);
        assert_int_equal(f->v.workers, 3);
    }
    { /* a missing file is named with the reason */
        expect_error(parse(f, &action, err, ARGV("-c", "/nonexistent/wk.conf")), err,
                     "/nonexistent/wk.conf", "No such file");
    }
}

static void test_file_errors(void **state)
{
    struct fixture *f = *state;
    enum wk_config_action action;
    char err[WK_ERR_LEN], want[128];
    { /* an unknown name, with file:line */
        const char *path = write_config(f, "workers = 2\n\n# x\nspeed = 9\n");
        expect_error(parse(f, &action, err, ARGV("-c", (char *)path)), err, "speed", NULL);
        snprintf(want, sizeof want, "%s:4:", path);
        expect_error(-EINVAL, err, want, NULL);
        unlink(f->path);
    }
    { /* a name that needs a value */
        const char *path = write_config(f, "root\n");
        expect_error(parse(f, &action, err, ARGV("-c", (char *)path)), err, "root", NULL);
        snprintf(want, sizeof want, "%s:1:", path);
        expect_error(-EINVAL, err, want, NULL);
        unlink(f->path);
    }
    { /* a bad value, with file:line and the option */
        const char *path = write_config(f, "workers = 2\nworkers = 99\n");
        expect_error(parse(f, &action, err, ARGV("-c", (char *)path)), err, "workers", "99");
        snprintf(want, sizeof want, "%s:2:", path);
        expect_error(-EINVAL, err, want, NULL);
        unlink(f->path);
    }
    { /* a line longer than any sensible line */
        char *text = malloc(10000);
        assert_non_null(text);
        memcpy(text, "root = ", 7);
        memset(text + 7, 'r', 9000);
        strcpy(text + 9007, "\n");
        const char *path = write_config(f, text);
        free(text);
        expect_error(parse(f, &action, err, ARGV("-c", (char *)path)), err, "long", NULL);
        snprintf(want, sizeof want, "%s:1:", path);
        expect_error(-EINVAL, err, want, NULL);
    }
}

/* An option kept for the command line: a file that sets it is refused, argv may. */
static void test_argv_only(void **state)
{
    struct fixture *f = *state;
    enum wk_config_action action;
    char err[WK_ERR_LEN];
    f->opts[1].flags = WK_OPT_ARGV_ONLY; /* root */
    const char *path = write_config(f, "workers = 3\nroot = /from/file\n");
    expect_error(parse(f, &action, err, ARGV("-c", (char *)path)), err,
                 "root belongs on the command line (--root)", ":2:");
    assert_int_equal(parse(f, &action, err, ARGV("--root", "/from/argv")), 0);
    assert_string_equal(f->v.root, "/from/argv");
}

/* A reload parses the file again: what it says now, into fresh values. */
static void test_reread(void **state)
{
    struct fixture *f = *state;
    enum wk_config_action action;
    enum wk_log_level level = WK_LOG_ERROR;
    char err[WK_ERR_LEN];
    const char *path = write_config(f, "workers = 3\nlisten = :80\n");
    char **argv = ARGV("-c", (char *)path, "--verbose");
    assert_int_equal(wk_config_parse(f->opts, NOPTS, 4, argv, &action, err), 0);
    assert_int_equal(f->v.workers, 3);
    FILE *out = fopen(path, "w");
    assert_non_null(out);
    fputs("workers = 5\nroot = /new\nlisten = :81\nlisten = :82\n", out);
    fclose(out);
    wk_config_free(f->opts, NOPTS); /* as a new state would start: the defaults again */
    f->v.verbose = false;
    assert_int_equal(wk_config_reread(f->opts, NOPTS, 4, argv, &level, err), 0);
    assert_int_equal(f->v.workers, 5);
    assert_string_equal(f->v.root, "/new");
    assert_int_equal(f->v.listen.n, 2);
    assert_string_equal(f->v.listen.v[1], ":82");
    assert_true(f->v.verbose); /* argv is read again too */
    assert_int_equal(level, WK_LOG_INFO);
    out = fopen(path, "w");
    assert_non_null(out);
    fputs("workers = many\n", out);
    fclose(out);
    wk_config_free(f->opts, NOPTS);
    expect_error(wk_config_reread(f->opts, NOPTS, 4, argv, &level, err), err, "workers", ":1:");
}

/* What a reload may not change, and the message that names it. */
static void test_keep_fixed(void **state)
{
    (void)state;
    char err[WK_ERR_LEN];
    char *a[] = {"[::1]:80", "127.0.0.1:25"}, *b[] = {"[0::1]:080", "127.0.0.1:25"},
         *c[] = {"[::1]:80", "127.0.0.1:26"}, *unix1[] = {"unix:/run/x.sock"};
    struct wk_strlist la = {a, 2}, lb = {b, 2}, lc = {c, 2}, l1 = {a, 1}, lu = {unix1, 1};
    struct wk_config_fixed was = {{"listen", "tls-listen"}, {&la, &lu}, 2, true, NULL, "s.sock"};
    struct wk_config_fixed now = was;
    assert_int_equal(wk_config_keep_fixed(&was, &now, err), 0);
    now.addrs[0] = &lb; /* spelt otherwise, the same addresses */
    assert_int_equal(wk_config_keep_fixed(&was, &now, err), 0);
    now.addrs[0] = &lc;
    expect_error(wk_config_keep_fixed(&was, &now, err), err, "--listen changed", "restart");
    now.addrs[0] = &l1;
    expect_error(wk_config_keep_fixed(&was, &now, err), err, "--listen changed", NULL);
    now = was;
    now.addrs[1] = &l1;
    expect_error(wk_config_keep_fixed(&was, &now, err), err, "--tls-listen changed", NULL);
    now = was;
    now.tls = false;
    expect_error(wk_config_keep_fixed(&was, &now, err), err, "TLS was turned off", NULL);
    now = was;
    now.user = "mail";
    expect_error(wk_config_keep_fixed(&was, &now, err), err, "--user changed", "none to mail");
    now = was;
    now.status_socket = "t.sock";
    expect_error(wk_config_keep_fixed(&was, &now, err), err, "--status-socket changed",
                 "s.sock to t.sock");
}

static void test_command_line_overrides_file(void **state)
{
    struct fixture *f = *state;
    enum wk_config_action action;
    char err[WK_ERR_LEN];
    const char *path = write_config(f, "root = /file\n"
                                       "workers = 2\n"
                                       "listen = :1\n"
                                       "listen = :2\n"
                                       "timeout = 7s\n");
    { /* flags win over the file, wherever -c stands */
        char **argv = ARGV("--root", "/flag", "-c", (char *)path, "--workers", "9");
        assert_int_equal(parse(f, &action, err, argv), 0);
        assert_string_equal(f->v.root, "/flag");
        assert_int_equal(f->v.workers, 9);
        assert_int_equal(f->v.timeout, 7000);
    }
    { /* the file's list stays when the command line gives none */
        assert_int_equal(f->v.listen.n, 2);
        assert_string_equal(f->v.listen.v[0], ":1");
        assert_string_equal(f->v.listen.v[1], ":2");
        wk_config_free(f->opts, NOPTS);
    }
    { /* a repeatable flag replaces the file's list rather than adding to it */
        char **argv = ARGV("-c", (char *)path, "--listen", ":3", "--listen", ":4");
        assert_int_equal(parse(f, &action, err, argv), 0);
        assert_int_equal(f->v.listen.n, 2);
        assert_string_equal(f->v.listen.v[0], ":3");
        assert_string_equal(f->v.listen.v[1], ":4");
    }
    { /* wk_config_free gives back lists and the file's strings */
        wk_config_free(f->opts, NOPTS);
        assert_int_equal(f->v.listen.n, 0);
        assert_null(f->v.listen.v);
    }
}

static void test_sizes(void **state)
{
    (void)state;
    uint64_t v;
    { /* plain bytes and powers of 1024 */
        struct {
            const char *s;
            uint64_t want;
        } ok[] = {
            {"0", 0},
            {"512", 512},
            {"64k", 64 << 10},
            {"64K", 64 << 10},
            {"1m", 1 << 20},
            {"1M", 1 << 20},
            {"2G", 2ull << 30},
            {"2g", 2ull << 30},
            {"18446744073709551615", UINT64_MAX},
            {"17179869183G", 17179869183ull << 30},
        };
        for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
            v = 7;
            if (wk_config_parse_size(ok[i].s, &v) != 0)
                fail_msg("\"%s\" refused", ok[i].s);
            assert_int_equal(v, ok[i].want);
        }
    }
    { /* refused: no digits, other units, fractions, spaces, signs, overflow */
        const char *bad[] = {"",
                             "k",
                             "1T",
                             "1kb",
                             "1KiB",
                             "1.5M",
                             "1 k",
                             " 1",
                             "1 ",
                             "-1",
                             "+1",
                             "18446744073709551616",
                             "17179869184G",
                             "18014398509481984k",
                             "0x10"};
        for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
            v = 7;
            if (wk_config_parse_size(bad[i], &v) != -EINVAL)
                fail_msg("\"%s\" accepted", bad[i]);
            assert_int_equal(v, 7);
        }
    }
}

static void test_durations(void **state)
{
    (void)state;
    uint64_t v;
    { /* ms, s, m, h; a bare number is seconds */
        struct {
            const char *s;
            uint64_t want;
        } ok[] = {
            {"0", 0},       {"500ms", 500},  {"10s", 10000}, {"10", 10000},
            {"5m", 300000}, {"2h", 7200000}, {"0ms", 0},     {"1ms", 1},
        };
        for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
            v = 7;
            if (wk_config_parse_duration(ok[i].s, &v) != 0)
                fail_msg("\"%s\" refused", ok[i].s);
            assert_int_equal(v, ok[i].want);
        }
    }
    { /* refused: other units, fractions, signs, overflow in milliseconds */
        const char *bad[] = {"",
                             "s",
                             "1d",
                             "10sec",
                             "1.5s",
                             "5 s",
                             "-5",
                             "1M",
                             "1S",
                             "18446744073709552s",
                             "18446744073709551616ms"};
        for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
            v = 7;
            if (wk_config_parse_duration(bad[i], &v) != -EINVAL)
                fail_msg("\"%s\" accepted", bad[i]);
            assert_int_equal(v, 7);
        }
    }
}

static void test_bounds(void **state)
{
    struct fixture *f = *state;
    enum wk_config_action action;
    char err[WK_ERR_LEN];
    { /* the limits themselves are accepted */
        assert_int_equal(parse(f, &action, err, ARGV("--workers", "1")), 0);
        assert_int_equal(f->v.workers, 1);
        assert_int_equal(parse(f, &action, err, ARGV("--workers", "64")), 0);
        assert_int_equal(f->v.workers, 64);
        assert_int_equal(parse(f, &action, err, ARGV("--max-size", "1G")), 0);
        assert_int_equal(f->v.max_size, 1u << 30);
    }
    { /* one past either end is refused, with the range, value unchanged */
        expect_error(parse(f, &action, err, ARGV("--workers", "0")), err, "--workers", "1");
        assert_int_equal(f->v.workers, 64);
        expect_error(parse(f, &action, err, ARGV("--workers", "65")), err, "--workers", "64");
        assert_int_equal(f->v.workers, 64);
    }
    { /* sizes and durations are checked after scaling */
        expect_error(parse(f, &action, err, ARGV("--max-size", "1025M")), err, "--max-size",
                     "1025M");
        expect_error(parse(f, &action, err, ARGV("--timeout", "61m")), err, "--timeout", "61m");
        assert_int_equal(parse(f, &action, err, ARGV("--timeout", "60m")), 0);
        assert_int_equal(f->v.timeout, 3600000);
    }
}

static void test_config_flag_needs_a_file(void **state)
{
    struct fixture *f = *state;
    enum wk_config_action action;
    char err[WK_ERR_LEN];
    { /* -c or --config last, without a file name, is an error rather than no file */
        expect_error(parse(f, &action, err, ARGV("-c")), err, NULL, NULL);
        expect_error(parse(f, &action, err, ARGV("--workers", "3", "--config")), err, NULL, NULL);
    }
}

static void test_lower_bound_only(void **state)
{
    struct fixture *f = *state;
    enum wk_config_action action;
    char err[WK_ERR_LEN];
    { /* above the lower bound there is no limit */
        assert_int_equal(parse(f, &action, err, ARGV("--backlog", "100000")), 0);
        assert_int_equal(f->v.backlog, 100000);
    }
    { /* below it: refused, and the message must not claim an upper bound of 0 */
        expect_error(parse(f, &action, err, ARGV("--backlog", "8")), err, "--backlog", "16");
        if (strstr(err, "to 0") != NULL)
            fail_msg("message \"%s\" states an upper bound of 0 for an option without one", err);
    }
}

static void test_actions(void **state)
{
    struct fixture *f = *state;
    enum wk_config_action action;
    char err[WK_ERR_LEN];
    { /* --help and -h, even with bad options or a missing file around them */
        assert_int_equal(parse(f, &action, err, ARGV("--help")), 0);
        assert_int_equal(action, WK_CONFIG_HELP);
        assert_int_equal(parse(f, &action, err, ARGV("--nope", "-h")), 0);
        assert_int_equal(action, WK_CONFIG_HELP);
        assert_int_equal(parse(f, &action, err, ARGV("-c", "/nonexistent", "--help")), 0);
        assert_int_equal(action, WK_CONFIG_HELP);
    }
    { /* --version and -V */
        assert_int_equal(parse(f, &action, err, ARGV("--version")), 0);
        assert_int_equal(action, WK_CONFIG_VERSION);
        assert_int_equal(parse(f, &action, err, ARGV("-V")), 0);
        assert_int_equal(action, WK_CONFIG_VERSION);
    }
    { /* --check parses everything and says CHECK */
        assert_int_equal(parse(f, &action, err, ARGV("--check", "--workers", "3")), 0);
        assert_int_equal(action, WK_CONFIG_CHECK);
        assert_int_equal(f->v.workers, 3);
    }
    { /* --check still reports a bad configuration */
        expect_error(parse(f, &action, err, ARGV("--check", "--workers", "0")), err, "--workers",
                     NULL);
        const char *path = write_config(f, "bogus = 1\n");
        expect_error(parse(f, &action, err, ARGV("--check", "-c", (char *)path)), err, "bogus",
                     NULL);
    }
    { /* after a successful run the action resets to RUN */
        assert_int_equal(parse(f, &action, err, ARGV("--workers", "3")), 0);
        assert_int_equal(action, WK_CONFIG_RUN);
    }
}

static void test_usage_lists_every_option(void **state)
{
    struct fixture *f = *state;
    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);
    assert_non_null(out);
    wk_config_usage(out, "wellknown-test", "A test server.", f->opts, NOPTS);
    fclose(out);
    { /* the program and the summary */
        assert_non_null(strstr(text, "wellknown-test"));
        assert_non_null(strstr(text, "A test server."));
    }
    { /* each option with its metavariable and help */
        for (size_t i = 0; i < NOPTS; i++) {
            char want[64];
            snprintf(want, sizeof want, "--%s%s%s", f->opts[i].name, f->opts[i].arg ? " " : "",
                     f->opts[i].arg ? f->opts[i].arg : "");
            if (strstr(text, want) == NULL)
                fail_msg("usage lacks \"%s\":\n%s", want, text);
            assert_non_null(strstr(text, f->opts[i].help));
        }
    }
    { /* defaults, in the units a user would type */
        assert_non_null(strstr(text, "/srv/www"));
        assert_non_null(strstr(text, "64k"));
        assert_non_null(strstr(text, "30s"));
        assert_non_null(strstr(text, "511"));
    }
    { /* the built-in options */
        assert_non_null(strstr(text, "--config FILE"));
        assert_non_null(strstr(text, "--check"));
        assert_non_null(strstr(text, "--help"));
        assert_non_null(strstr(text, "--version"));
    }
    { /* one line per option: every line ends, nothing is cut */
        assert_int_equal(text[len - 1], '\n');
    }
    free(text);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_defaults_without_options, setup, teardown),
        cmocka_unit_test_setup_teardown(test_long_options, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_command_lines, setup, teardown),
        cmocka_unit_test_setup_teardown(test_file_format, setup, teardown),
        cmocka_unit_test_setup_teardown(test_file_config_forms, setup, teardown),
        cmocka_unit_test_setup_teardown(test_file_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_argv_only, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reread, setup, teardown),
        cmocka_unit_test_setup_teardown(test_keep_fixed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_command_line_overrides_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sizes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_durations, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bounds, setup, teardown),
        cmocka_unit_test_setup_teardown(test_config_flag_needs_a_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lower_bound_only, setup, teardown),
        cmocka_unit_test_setup_teardown(test_actions, setup, teardown),
        cmocka_unit_test_setup_teardown(test_usage_lists_every_option, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
