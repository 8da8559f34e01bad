/*
 * config.c: options from a config file and the command line, described by a
 * table the server supplies. Owns copies of the strings it read from the
 * file and the arrays of repeatable options; argv's strings stay argv's.
 */
#include "common/config.h"

#include "common/addr.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"

#define CONFIG_LINE_MAX 4096

static struct wk_option *find(struct wk_option *opts, size_t n, const char *name, size_t len)
{
    for (size_t i = 0; i < n; i++) {
        if (strlen(opts[i].name) == len && memcmp(opts[i].name, name, len) == 0)
            return &opts[i];
    }
    return NULL;
}

static int parse_scaled(const char *s, uint64_t *out, const char *const units[],
                        const uint64_t scale[], size_t nunits, uint64_t dflt)
{
    char *end;
    if (!isdigit((unsigned char)s[0]))
        return -EINVAL;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno != 0)
        return -EINVAL;
    uint64_t mult = dflt;
    if (*end != '\0') {
        mult = 0;
        for (size_t i = 0; i < nunits; i++) {
            if (strcmp(end, units[i]) == 0)
                mult = scale[i];
        }
        if (mult == 0)
            return -EINVAL;
    }
    if (v > UINT64_MAX / mult)
        return -EINVAL;
    *out = v * mult;
    return 0;
}

int wk_config_parse_size(const char *s, uint64_t *out)
{
    static const char *const units[] = {"k", "K", "m", "M", "g", "G"};
    static const uint64_t scale[] = {1ull << 10, 1ull << 10, 1ull << 20,
                                     1ull << 20, 1ull << 30, 1ull << 30};
    return parse_scaled(s, out, units, scale, WK_ARRAY_LEN(units), 1);
}

int wk_config_parse_duration(const char *s, uint64_t *out_ms)
{
    static const char *const units[] = {"ms", "s", "m", "h"};
    static const uint64_t scale[] = {1, 1000, 60000, 3600000};
    return parse_scaled(s, out_ms, units, scale, WK_ARRAY_LEN(units), 1000);
}

static int set_number(struct wk_option *o, const char *v, const char *where, char err[WK_ERR_LEN])
{
    uint64_t x;
    int rc;
    const char *what = "a number";
    if (o->type == WK_OPT_SIZE) {
        rc = wk_config_parse_size(v, &x);
        what = "a size such as 512, 64k or 1M";
    } else if (o->type == WK_OPT_DURATION) {
        rc = wk_config_parse_duration(v, &x);
        what = "a duration such as 500ms, 10s or 5m";
    } else {
        rc = parse_scaled(v, &x, NULL, NULL, 0, 1);
    }
    if (rc < 0) {
        snprintf(err, WK_ERR_LEN, "%s--%s: \"%s\" is not %s", where, o->name, v, what);
        return -EINVAL;
    }
    if (x < o->min || (o->max && x > o->max)) {
        if (o->max)
            snprintf(err, WK_ERR_LEN, "%s--%s: %s is out of range (%llu to %llu)", where, o->name,
                     v, (unsigned long long)o->min, (unsigned long long)o->max);
        else
            snprintf(err, WK_ERR_LEN, "%s--%s: %s is below the minimum, %llu", where, o->name, v,
                     (unsigned long long)o->min);
        return -EINVAL;
    }
    *(uint64_t *)o->value = x;
    return 0;
}

static void list_clear(struct wk_strlist *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->v[i]);
    free(l->v);
    l->v = NULL;
    l->n = 0;
}

static int list_add(struct wk_strlist *l, const char *v)
{
    char **nv = realloc(l->v, (l->n + 1) * sizeof *nv);
    if (nv == NULL)
        return -ENOMEM;
    l->v = nv;
    if ((l->v[l->n] = strdup(v)) == NULL)
        return -ENOMEM;
    l->n++;
    return 0;
}

/* Sets o from text v; from_file says whether v must be copied. */
static int set_value(struct wk_option *o, const char *v, bool from_file, const char *where,
                     char err[WK_ERR_LEN])
{
    switch (o->type) {
    case WK_OPT_FLAG:
        if (v != NULL && strcmp(v, "yes") && strcmp(v, "true") && strcmp(v, "on") &&
            strcmp(v, "1")) {
            bool off =
                !strcmp(v, "no") || !strcmp(v, "false") || !strcmp(v, "off") || !strcmp(v, "0");
            if (!off) {
                snprintf(err, WK_ERR_LEN, "%s--%s: expected yes or no, got \"%s\"", where, o->name,
                         v);
                return -EINVAL;
            }
            *(bool *)o->value = false;
            return 0;
        }
        *(bool *)o->value = true;
        return 0;
    case WK_OPT_STRING: {
        char *copy = from_file ? strdup(v) : NULL;
        if (from_file && copy == NULL)
            goto nomem;
        if (o->flags & WK_OPT_OWNED)
            free(*(char **)o->value);
        *(const char **)o->value = from_file ? copy : v;
        o->flags = from_file ? o->flags | WK_OPT_OWNED : o->flags & ~WK_OPT_OWNED;
        return 0;
    }
    case WK_OPT_LIST:
        if (list_add(o->value, v) < 0)
            goto nomem;
        return 0;
    default:
        return set_number(o, v, where, err);
    }
nomem:
    snprintf(err, WK_ERR_LEN, "--%s: out of memory", o->name);
    return -ENOMEM;
}

static char *trim(char *s)
{
    while (isspace((unsigned char)*s))
        s++;
    char *e = s + strlen(s);
    while (e > s && isspace((unsigned char)e[-1]))
        *--e = '\0';
    return s;
}

static int parse_line(struct wk_option *opts, size_t n, char *line, const char *where,
                      char err[WK_ERR_LEN])
{
    char *hash = strchr(line, '#');
    if (hash)
        *hash = '\0';
    char *s = trim(line);
    if (*s == '\0')
        return 0;
    char *eq = strchr(s, '=');
    char *name = s, *value = NULL;
    if (eq) {
        *eq = '\0';
        name = trim(s);
        value = trim(eq + 1);
    }
    struct wk_option *o = find(opts, n, name, strlen(name));
    if (o == NULL) {
        snprintf(err, WK_ERR_LEN, "%sunknown option \"%s\"", where, name);
        return -EINVAL;
    }
    if (o->flags & WK_OPT_ARGV_ONLY) {
        snprintf(err, WK_ERR_LEN, "%s%s belongs on the command line (--%s), not in a file", where,
                 name, name);
        return -EINVAL;
    }
    if (value == NULL && o->type != WK_OPT_FLAG) {
        snprintf(err, WK_ERR_LEN, "%s%s needs a value (%s = %s)", where, name, name, o->arg);
        return -EINVAL;
    }
    return set_value(o, value, true, where, err);
}

static int parse_file(struct wk_option *opts, size_t n, const char *path, char err[WK_ERR_LEN])
{
    FILE *f = fopen(path, "re");
    if (f == NULL) {
        snprintf(err, WK_ERR_LEN, "%s: %s", path, strerror(errno));
        return -EINVAL;
    }
    char line[CONFIG_LINE_MAX], where[WK_ERR_LEN / 2];
    int rc = 0;
    for (unsigned lineno = 1; rc == 0 && fgets(line, sizeof line, f); lineno++) {
        snprintf(where, sizeof where, "%.100s:%u: ", path, lineno);
        if (strchr(line, '\n') == NULL && !feof(f)) {
            snprintf(err, WK_ERR_LEN, "%sline too long", where);
            rc = -EINVAL;
            break;
        }
        rc = parse_line(opts, n, line, where, err);
    }
    fclose(f);
    return rc;
}

/* Finds -c FILE, --config FILE or --config=FILE in argv. */
static const char *config_path(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if ((!strcmp(argv[i], "-c") || !strcmp(argv[i], "--config")) && i + 1 < argc)
            return argv[i + 1];
        if (!strncmp(argv[i], "--config=", 9))
            return argv[i] + 9;
    }
    return NULL;
}

static bool is_action(const char *a, enum wk_config_action *action)
{
    if (!strcmp(a, "--help") || !strcmp(a, "-h"))
        *action = WK_CONFIG_HELP;
    else if (!strcmp(a, "--version") || !strcmp(a, "-V"))
        *action = WK_CONFIG_VERSION;
    else if (!strcmp(a, "--check"))
        *action = (*action == WK_CONFIG_RUN) ? WK_CONFIG_CHECK : *action;
    else
        return false;
    return true;
}

static int parse_argv(struct wk_option *opts, size_t n, int argc, char **argv,
                      enum wk_config_action *action, char err[WK_ERR_LEN])
{
    bool *replaced = calloc(n ? n : 1, sizeof *replaced);
    int rc = replaced ? 0 : -ENOMEM;
    for (int i = 1; rc == 0 && i < argc; i++) {
        const char *a = argv[i];
        if (is_action(a, action))
            continue;
        if (!strcmp(a, "-c") || !strcmp(a, "--config")) {
            if (++i >= argc) {
                snprintf(err, WK_ERR_LEN, "%s needs a file name", a);
                rc = -EINVAL;
            }
            continue;
        }
        if (!strncmp(a, "--config=", 9))
            continue;
        const char *eq = strchr(a, '=');
        size_t len = eq ? (size_t)(eq - a - 2) : strlen(a) - 2;
        struct wk_option *o = strncmp(a, "--", 2) ? NULL : find(opts, n, a + 2, len);
        if (o == NULL) {
            snprintf(err, WK_ERR_LEN, "unknown option \"%s\" (see --help)", a);
            rc = -EINVAL;
            break;
        }
        const char *v = eq ? eq + 1 : NULL;
        if (v == NULL && o->type != WK_OPT_FLAG) {
            if (i + 1 >= argc) {
                snprintf(err, WK_ERR_LEN, "--%s needs a value (%s)", o->name, o->arg);
                rc = -EINVAL;
                break;
            }
            v = argv[++i];
        }
        if (o->type == WK_OPT_LIST && !replaced[o - opts]) {
            list_clear(o->value); /* the command line replaces the file's list */
            replaced[o - opts] = true;
        }
        rc = set_value(o, v, o->type == WK_OPT_LIST, "", err);
    }
    free(replaced);
    return rc;
}

int wk_config_parse(struct wk_option *opts, size_t n, int argc, char **argv,
                    enum wk_config_action *action, char err[WK_ERR_LEN])
{
    *action = WK_CONFIG_RUN;
    const char *path = config_path(argc, argv);
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            *action = WK_CONFIG_HELP; /* help needs no valid configuration */
            return 0;
        }
    }
    if (path != NULL) {
        int rc = parse_file(opts, n, path, err);
        if (rc < 0)
            return rc;
    }
    return parse_argv(opts, n, argc, argv, action, err);
}

static const char *log_level_of(const struct wk_option *opts, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (opts[i].type == WK_OPT_STRING && strcmp(opts[i].name, "log-level") == 0)
            return *(const char *const *)opts[i].value;
    }
    return "info";
}

/* The level the options name, or -EINVAL with a message in err. */
static int level_of(const struct wk_option *opts, size_t n, enum wk_log_level *level,
                    char err[WK_ERR_LEN])
{
    const char *lv = log_level_of(opts, n);
    if (wk_log_level_parse(lv, level) == 0)
        return 0;
    snprintf(err, WK_ERR_LEN, "--log-level: \"%.100s\" is not error, warn, info or debug", lv);
    return -EINVAL;
}

int wk_config_reread(struct wk_option *opts, size_t n, int argc, char **argv,
                     enum wk_log_level *level, char err[WK_ERR_LEN])
{
    enum wk_config_action action;
    *level = WK_LOG_INFO;
    int rc = wk_config_parse(opts, n, argc, argv, &action, err);
    if (rc == 0)
        rc = level_of(opts, n, level, err);
    return rc;
}

static bool same_string(const char *a, const char *b)
{
    return a == b || (a != NULL && b != NULL && strcmp(a, b) == 0);
}

static int keep(const char *name, const char *was, const char *now, char err[WK_ERR_LEN])
{
    if (same_string(was, now))
        return 0;
    snprintf(err, WK_ERR_LEN, "--%s changed (from %.100s to %.100s): that takes a restart", name,
             was ? was : "none", now ? now : "none");
    return -EINVAL;
}

static int keep_addrs(const char *name, const struct wk_strlist *was, const struct wk_strlist *now,
                      char err[WK_ERR_LEN])
{
    bool same = was->n == now->n;
    for (size_t i = 0; same && i < was->n; i++) {
        struct wk_addr a, b;
        char why[WK_ERR_LEN];
        same = wk_addr_parse(was->v[i], &a, why) == 0 && wk_addr_parse(now->v[i], &b, why) == 0 &&
               a.len == b.len && memcmp(&a.u, &b.u, a.len) == 0;
    }
    if (same)
        return 0;
    snprintf(err, WK_ERR_LEN,
             "--%s changed: listening sockets are kept across a reload, so new addresses take a "
             "restart",
             name);
    return -EINVAL;
}

int wk_config_keep_fixed(const struct wk_config_fixed *was, const struct wk_config_fixed *now,
                         char err[WK_ERR_LEN])
{
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < was->naddrs; i++)
        rc = keep_addrs(was->names[i], was->addrs[i], now->addrs[i], err);
    if (rc == 0 && was->tls != now->tls) {
        snprintf(err, WK_ERR_LEN, "TLS was turned %s: that takes a restart",
                 now->tls ? "on" : "off");
        rc = -EINVAL;
    }
    if (rc == 0)
        rc = keep("user", was->user, now->user, err);
    if (rc == 0)
        rc = keep("status-socket", was->status_socket, now->status_socket, err);
    return rc;
}

bool wk_config_start(const struct wk_program *p, struct wk_option *opts, size_t n, int argc,
                     char **argv, enum wk_config_action *action, int *status)
{
    char err[WK_ERR_LEN] = "";
    enum wk_log_level level = WK_LOG_INFO;
    wk_log_init(p->log_name, WK_LOG_INFO);
    int rc = wk_config_parse(opts, n, argc, argv, action, err);
    if (rc == 0)
        rc = level_of(opts, n, &level, err);
    if (rc == 0 && *action != WK_CONFIG_HELP && *action != WK_CONFIG_VERSION) {
        wk_log_init(p->log_name, level);
        return false;
    }
    if (rc < 0)
        fprintf(stderr, "%s: %s\n", p->name, err);
    else if (*action == WK_CONFIG_HELP)
        wk_config_usage(stdout, p->name, p->summary, opts, n);
    else
        printf("%s %s\n", p->name, WK_VERSION);
    wk_config_free(opts, n);
    *status = rc < 0 ? 1 : 0;
    return true;
}

int wk_config_finish(const struct wk_program *p, struct wk_option *opts, size_t n,
                     enum wk_config_action action, int rc, const char *err)
{
    if (rc < 0)
        fprintf(stderr, "%s: %s\n", p->name, err);
    else if (action == WK_CONFIG_CHECK)
        printf("%s: configuration ok\n", p->name);
    wk_config_free(opts, n);
    return rc < 0 ? 1 : 0;
}

void wk_config_free(struct wk_option *opts, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (opts[i].type == WK_OPT_LIST)
            list_clear(opts[i].value);
        if (opts[i].type == WK_OPT_STRING && (opts[i].flags & WK_OPT_OWNED)) {
            free(*(char **)opts[i].value);
            *(char **)opts[i].value = NULL;
            opts[i].flags &= ~WK_OPT_OWNED;
        }
    }
}

static void print_default(FILE *out, const struct wk_option *o)
{
    uint64_t v = o->type >= WK_OPT_UINT ? *(const uint64_t *)o->value : 0;
    switch (o->type) {
    case WK_OPT_STRING:
        if (*(const char *const *)o->value)
            fprintf(out, " (default: %s)", *(const char *const *)o->value);
        break;
    case WK_OPT_UINT:
        fprintf(out, " (default: %llu)", (unsigned long long)v);
        break;
    case WK_OPT_SIZE:
        if (v && v % (1u << 20) == 0)
            fprintf(out, " (default: %lluM)", (unsigned long long)(v >> 20));
        else if (v && v % 1024 == 0)
            fprintf(out, " (default: %lluk)", (unsigned long long)(v >> 10));
        else
            fprintf(out, " (default: %llu)", (unsigned long long)v);
        break;
    case WK_OPT_DURATION:
        if (v && v % 60000 == 0)
            fprintf(out, " (default: %llum)", (unsigned long long)(v / 60000));
        else if (v % 1000 == 0)
            fprintf(out, " (default: %llus)", (unsigned long long)(v / 1000));
        else
            fprintf(out, " (default: %llums)", (unsigned long long)v);
        break;
    default:
        break;
    }
}

void wk_config_usage(FILE *out, const char *prog, const char *summary, const struct wk_option *opts,
                     size_t n)
{
    fprintf(out, "Usage: %s [OPTION]...\n%s\n\nOptions:\n", prog, summary);
    for (size_t i = 0; i < n; i++) {
        const struct wk_option *o = &opts[i];
        char left[64];
        snprintf(left, sizeof left, "--%s%s%s", o->name, o->arg ? " " : "", o->arg ? o->arg : "");
        fprintf(out, "  %-28s %s", left, o->help);
        print_default(out, o);
        fputc('\n', out);
    }
    fprintf(out, "  %-28s %s\n", "-c, --config FILE",
            "read options from FILE (name = value lines)");
    fprintf(out, "  %-28s %s\n", "--check", "check the configuration and exit");
    fprintf(out, "  %-28s %s\n", "-h, --help", "show this help and exit");
    fprintf(out, "  %-28s %s\n", "-V, --version", "show the version and exit");
    fprintf(out,
            "\nFlags override the config file. ADDR is host:port, [v6]:port, :port or "
            "unix:PATH;\nport 0 picks a free port. Sizes take k, M, G; durations ms, s, m, h.\n");
}
