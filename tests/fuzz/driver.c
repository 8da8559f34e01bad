/*
 * driver.c: runs a fuzz target without libFuzzer, for the ordinary test
 * build (gcc, with or without the sanitizers). It feeds the target every
 * file of the seed corpus, then a fixed number of deterministic mutations
 * of them (bit flips, byte changes, insertions and deletions, copies,
 * dictionary words, splices of two seeds), stopping early at a time bound.
 * When the target aborts, the input is written to crash-<target>.bin in
 * the working directory and printed escaped, for the real fuzzer to replay.
 *
 *   fuzz_x [-runs=N] [-seconds=S] [-seed=N] [-dict=FILE] CORPUS_DIR_OR_FILE...
 *
 * "fuzz_x -runs=0 crash.bin" replays one input.
 *
 * Test support only; the libFuzzer build has its own main().
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "fuzz.h"

#define INPUT_MAX 4096
#define MAX_WORDS 512

struct blob {
    uint8_t *p;
    size_t n;
};

struct blobs {
    struct blob *v;
    size_t n, cap;
};

/* The input being run, for the abort handler (a driver is one process, one thread). */
static const uint8_t *current;
static size_t current_len;
static char crash_path[256];

static void on_abort(int sig)
{
    static const char hex[] = "0123456789abcdef";
    int fd = open(crash_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd >= 0) {
        if (write(fd, current, current_len) < 0) {
            /* nothing more to do in a handler */
        }
        close(fd);
    }
    static const char msg[] = "\nfuzz driver: the input was saved to ";
    if (write(2, msg, sizeof msg - 1) < 0 || write(2, crash_path, strlen(crash_path)) < 0 ||
        write(2, "; escaped:\n", 11) < 0)
        _exit(1);
    for (size_t i = 0; i < current_len; i++) {
        uint8_t c = current[i];
        char e[4] = {'\\', 'x', hex[c >> 4], hex[c & 15]};
        if (c >= 0x20 && c < 0x7f && c != '\\') {
            if (write(2, &c, 1) < 0)
                break;
        } else if (write(2, e, 4) < 0) {
            break;
        }
    }
    if (write(2, "\n", 1) < 0) {
        /* ignored */
    }
    signal(sig, SIG_DFL);
    raise(sig);
}

static void add(struct blobs *b, const uint8_t *p, size_t n)
{
    if (b->n == b->cap) {
        b->cap = b->cap ? 2 * b->cap : 64;
        b->v = realloc(b->v, b->cap * sizeof *b->v);
        FUZZ_CHECK(b->v != NULL);
    }
    b->v[b->n].p = malloc(n ? n : 1);
    FUZZ_CHECK(b->v[b->n].p != NULL);
    memcpy(b->v[b->n].p, p, n);
    b->v[b->n++].n = n;
}

static int by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void load_file(struct blobs *seeds, const char *path)
{
    uint8_t buf[INPUT_MAX];
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        fprintf(stderr, "fuzz driver: %s: %s\n", path, strerror(errno));
        exit(2);
    }
    size_t len = fread(buf, 1, sizeof buf, f);
    fclose(f);
    add(seeds, buf, len);
}

/* Reads a file, or every regular file of a directory in name order (so runs are repeatable). */
static void load(struct blobs *seeds, const char *dir)
{
    struct stat st;
    if (stat(dir, &st) == 0 && !S_ISDIR(st.st_mode)) {
        load_file(seeds, dir);
        return;
    }
    DIR *d = opendir(dir);
    char **names = NULL;
    size_t n = 0, cap = 0;
    if (d == NULL) {
        fprintf(stderr, "fuzz driver: %s: %s\n", dir, strerror(errno));
        exit(2);
    }
    for (struct dirent *e; (e = readdir(d)) != NULL;) {
        if (e->d_name[0] == '.')
            continue;
        if (n == cap) {
            cap = cap ? 2 * cap : 64;
            names = realloc(names, cap * sizeof *names);
            FUZZ_CHECK(names != NULL);
        }
        names[n++] = strdup(e->d_name);
    }
    closedir(d);
    qsort(names, n, sizeof *names, by_name);
    for (size_t i = 0; i < n; i++) {
        char path[4096];
        int m = snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        if (m > 0 && (size_t)m < sizeof path)
            load_file(seeds, path);
        free(names[i]);
    }
    free(names);
}

/* Reads a libFuzzer dictionary: lines of [name=]"value" with \\, \" and \xNN escapes. */
static void load_dict(struct blobs *words, const char *path)
{
    FILE *f = fopen(path, "r");
    char line[1024];
    if (f == NULL) {
        fprintf(stderr, "fuzz driver: %s: %s\n", path, strerror(errno));
        exit(2);
    }
    while (fgets(line, sizeof line, f) != NULL && words->n < MAX_WORDS) {
        char *q = strchr(line, '"');
        uint8_t w[256];
        size_t n = 0;
        if (line[0] == '#' || q == NULL)
            continue;
        for (char *p = q + 1; *p && *p != '"' && n < sizeof w; p++) {
            if (*p == '\\' && p[1] == 'x' && p[2] && p[3]) {
                char hex[3] = {p[2], p[3], 0};
                w[n++] = (uint8_t)strtoul(hex, NULL, 16);
                p += 3;
            } else if (*p == '\\' && p[1]) {
                w[n++] = (uint8_t) * ++p;
            } else {
                w[n++] = (uint8_t)*p;
            }
        }
        if (n > 0)
            add(words, w, n);
    }
    fclose(f);
}

/* xorshift64*: the same sequence on every run with the same seed. */
static uint64_t next(uint64_t *s)
{
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return *s * 2685821657736338717ull;
}

static size_t below(uint64_t *s, size_t n)
{
    return n ? (size_t)(next(s) % n) : 0;
}

/* One random change to buf[0..*n), which has room for INPUT_MAX bytes. */
static void mutate(uint8_t *buf, size_t *n, uint64_t *s, const struct blobs *seeds,
                   const struct blobs *words)
{
    static const uint8_t interesting[] = {0,   1,   0x7f, 0x80, 0xff, ' ', '\t', '\r', '\n', '0',
                                          '9', '"', ',',  ';',  '-',  '/', '.',  '%',  ':',  '='};
    size_t len = *n;
    switch (below(s, 9)) {
    case 0: /* flip a bit */
        if (len)
            buf[below(s, len)] ^= (uint8_t)(1u << below(s, 8));
        break;
    case 1: /* set a byte to something interesting */
        if (len)
            buf[below(s, len)] = interesting[below(s, sizeof interesting)];
        break;
    case 2: /* insert a byte */
        if (len < INPUT_MAX) {
            size_t at = below(s, len + 1);
            memmove(buf + at + 1, buf + at, len - at);
            buf[at] = (uint8_t)(below(s, 2) ? next(s) : interesting[below(s, sizeof interesting)]);
            len++;
        }
        break;
    case 3: /* delete a run */
        if (len) {
            size_t at = below(s, len), k = 1 + below(s, len - at < 16 ? len - at : 16);
            memmove(buf + at, buf + at + k, len - at - k);
            len -= k;
        }
        break;
    case 4: /* copy a run elsewhere (repeats a header, a chunk...) */
        if (len) {
            size_t from = below(s, len), k = 1 + below(s, len - from), at = below(s, len + 1);
            if (len + k <= INPUT_MAX) {
                uint8_t tmp[INPUT_MAX];
                memcpy(tmp, buf + from, k);
                memmove(buf + at + k, buf + at, len - at);
                memcpy(buf + at, tmp, k);
                len += k;
            }
        }
        break;
    case 5: /* insert a dictionary word */
    case 6: /* overwrite with a dictionary word */
        if (words->n) {
            const struct blob *w = &words->v[below(s, words->n)];
            size_t at = below(s, len + 1);
            if (len + w->n <= INPUT_MAX) {
                bool insert = below(s, 2) || at + w->n > len;
                if (insert)
                    memmove(buf + at + w->n, buf + at, len - at);
                memcpy(buf + at, w->p, w->n);
                len = insert ? len + w->n : len;
            }
        }
        break;
    case 7: /* splice: this one's start, another seed's end */
        if (seeds->n) {
            const struct blob *o = &seeds->v[below(s, seeds->n)];
            size_t at = below(s, len + 1), from = below(s, o->n + 1);
            size_t k = o->n - from;
            if (at + k > INPUT_MAX)
                k = INPUT_MAX - at;
            memcpy(buf + at, o->p + from, k);
            len = at + k;
        }
        break;
    default: /* truncate */
        len = below(s, len + 1);
        break;
    }
    *n = len;
}

static void run(const uint8_t *p, size_t n)
{
    /* An exact-size heap copy: a read past the end is an error under ASan. */
    uint8_t *copy = malloc(n ? n : 1);
    FUZZ_CHECK(copy != NULL);
    memcpy(copy, p, n);
    current = copy;
    current_len = n;
    LLVMFuzzerTestOneInput(copy, n);
    free(copy);
}

#ifdef __SANITIZE_ADDRESS__
/* Errors end in abort(), so that the handler above saves the input. */
const char *__asan_default_options(void);
const char *__asan_default_options(void)
{
    return "abort_on_error=1";
}
#endif

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
    struct blobs seeds = {0}, words = {0};
    unsigned long runs = 100000, seed = 1;
    double seconds = 5;
    const char *name = strrchr(argv[0], '/') ? strrchr(argv[0], '/') + 1 : argv[0];
    snprintf(crash_path, sizeof crash_path, "crash-%s.bin", name);
    for (int i = 1; i < argc; i++) {
        if (strncmp(argv[i], "-runs=", 6) == 0)
            runs = strtoul(argv[i] + 6, NULL, 10);
        else if (strncmp(argv[i], "-seconds=", 9) == 0)
            seconds = strtod(argv[i] + 9, NULL);
        else if (strncmp(argv[i], "-seed=", 6) == 0)
            seed = strtoul(argv[i] + 6, NULL, 10);
        else if (strncmp(argv[i], "-dict=", 6) == 0)
            load_dict(&words, argv[i] + 6);
        else
            load(&seeds, argv[i]);
    }
    if (seeds.n == 0) {
        fprintf(stderr, "usage: %s [-runs=N] [-seconds=S] [-seed=N] [-dict=FILE] CORPUS...\n",
                name);
        return 2;
    }
    signal(SIGABRT, on_abort);
#ifndef __SANITIZE_ADDRESS__ /* AddressSanitizer reports these itself, then aborts */
    signal(SIGSEGV, on_abort);
    signal(SIGBUS, on_abort);
#endif
    double t0 = now();
    for (size_t i = 0; i < seeds.n; i++)
        run(seeds.v[i].p, seeds.v[i].n);
    uint64_t s = 0x9e3779b97f4a7c15ull ^ seed;
    unsigned long done = 0;
    uint8_t buf[INPUT_MAX];
    for (; done < runs; done++) {
        if (done % 256 == 0 && now() - t0 > seconds)
            break;
        const struct blob *b = &seeds.v[below(&s, seeds.n)];
        size_t n = b->n;
        memcpy(buf, b->p, n);
        for (size_t k = 1 + below(&s, 4); k > 0; k--)
            mutate(buf, &n, &s, &seeds, &words);
        run(buf, n);
    }
    printf("%s: %zu seeds, %lu of %lu mutations in %.2f s%s\n", name, seeds.n, done, runs,
           now() - t0, done < runs ? " (time bound reached)" : "");
    for (size_t i = 0; i < seeds.n; i++)
        free(seeds.v[i].p);
    for (size_t i = 0; i < words.n; i++)
        free(words.v[i].p);
    free(seeds.v);
    free(words.v);
    return 0;
}
