/*
 * config.h: the command line and the config file, from one option table per
 * server. The file (-c FILE) takes the same names as the long options, one
 * "name = value" a line, '#' comments; repeatable options repeat. Flags given
 * on the command line override the file (a repeatable flag replaces the
 * file's list). --help, --version and --check are handled here.
 */
#ifndef WK_CONFIG_H
#define WK_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "common/log.h"
#include "common/wk.h"

enum wk_opt_type {
    WK_OPT_FLAG,     /* bool, no value */
    WK_OPT_STRING,   /* const char *, last one wins */
    WK_OPT_LIST,     /* struct wk_strlist, repeatable */
    WK_OPT_UINT,     /* uint64_t within [min, max] */
    WK_OPT_SIZE,     /* uint64_t bytes, suffixes k, M, G (powers of 1024) */
    WK_OPT_DURATION, /* uint64_t milliseconds, suffixes ms, s (default), m, h */
};

struct wk_strlist {
    char **v;
    size_t n;
};

/* wk_option.flags: only on the command line (a file that sets it is refused). */
#define WK_OPT_ARGV_ONLY 0x1u
/* Private to config.c: a STRING value it allocated. */
#define WK_OPT_OWNED 0x100u

struct wk_option {
    const char *name; /* long name, without "--" */
    enum wk_opt_type type;
    void *value;       /* where the value goes; holds the default beforehand */
    const char *arg;   /* metavariable shown in --help, e.g. "ADDR" */
    const char *help;  /* one line */
    uint64_t min, max; /* bounds for UINT, SIZE and DURATION (max 0: none) */
    unsigned flags;    /* WK_OPT_ARGV_ONLY, or 0 */
};

enum wk_config_action {
    WK_CONFIG_RUN,
    WK_CONFIG_HELP,
    WK_CONFIG_VERSION,
    WK_CONFIG_CHECK,
};

/*
 * Parses the config file named by -c/--config (if any), then argv, into the
 * options' values. Returns 0 and the action to take, or -EINVAL with a
 * message naming the option, file and line in err. Strings point into argv
 * or into memory freed by wk_config_free().
 */
int wk_config_parse(struct wk_option *opts, size_t n, int argc, char **argv,
                    enum wk_config_action *action, char err[WK_ERR_LEN]);

/* Frees the memory of lists and strings read from a file. */
void wk_config_free(struct wk_option *opts, size_t n);

/* Prints the usage text, one line per option, to out. */
void wk_config_usage(FILE *out, const char *prog, const char *summary, const struct wk_option *opts,
                     size_t n);

/* Who is running, for messages and the log. */
struct wk_program {
    const char *name;     /* "wellknown-httpd": messages and --version */
    const char *log_name; /* "httpd": the start of every log line */
    const char *summary;  /* one line for --help */
};

/*
 * The start of every main(): parses the options, answers --help and
 * --version on stdout and errors on stderr, reads the option named
 * "log-level" (if the table has one) and starts the log. Returns true when
 * main() should return *status now; otherwise *action is RUN or CHECK.
 */
bool wk_config_start(const struct wk_program *p, struct wk_option *opts, size_t n, int argc,
                     char **argv, enum wk_config_action *action, int *status);

/*
 * The end of every main(): reports err when rc < 0 (or that the
 * configuration is fine after --check), frees the options, and returns
 * the exit status.
 */
int wk_config_finish(const struct wk_program *p, struct wk_option *opts, size_t n,
                     enum wk_config_action action, int rc, const char *err);

/*
 * For a reload (SIGHUP): parses the configuration again, as
 * wk_config_parse() did at the start (the file named by -c, then argv), into
 * opts, whose values hold the defaults, and checks the log level it names.
 * Returns 0 with *level, or -EINVAL (or -ENOMEM) with a message in err.
 */
int wk_config_reread(struct wk_option *opts, size_t n, int argc, char **argv,
                     enum wk_log_level *level, char err[WK_ERR_LEN]);

/* What a reload cannot change: only a restart does. */
struct wk_config_fixed {
    const char *names[3]; /* the options that give the listening addresses ("listen") */
    const struct wk_strlist *addrs[3];
    size_t naddrs;
    bool tls; /* TLS is on */
    const char *user;
    const char *status_socket;
};

/*
 * For a reload: 0 when now is as was (address lists compared as parsed),
 * else -EINVAL with a message in err naming what changed.
 */
int wk_config_keep_fixed(const struct wk_config_fixed *was, const struct wk_config_fixed *now,
                         char err[WK_ERR_LEN]);

/* Parses "64k"-style sizes and "10s"-style durations. Return 0 or -EINVAL. */
int wk_config_parse_size(const char *s, uint64_t *out);
int wk_config_parse_duration(const char *s, uint64_t *out_ms);

#endif
