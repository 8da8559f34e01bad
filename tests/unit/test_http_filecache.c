/*
 * test_http_filecache.c: the cache of open docroot files (httpd/filecache.c)
 * on a real directory tree made for each test: references, time to live,
 * slot collisions, directories, and symlinks that try to leave the root.
 * Leaks show up in the sanitizer build.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "common/clock.h"
#include "common/wk.h"
#include "httpd/cond.h"
#include "httpd/filecache.h"

#define TTL 1000

/*
 * A temporary tree:
 *   top/outside/secret.txt
 *   top/root/a.txt  "alpha\n"          root/sub/b.txt  "bravo!\n"
 *   root/link.txt -> a.txt             root/sub/up.txt -> ../a.txt (both stay inside)
 *   root/etc -> /etc                   root/sub/etc -> /etc
 *   root/out -> ../outside             root/out.txt -> ../outside/secret.txt
 *   root/abs.txt -> <absolute path of root/a.txt>
 *   root/loop -> loop                  root/fifo (a named pipe)
 */
struct tree {
    char top[PATH_MAX];
    char root[PATH_MAX];
    int root_fd;
};

/* out = dir "/" name, checked. */
static void join(char out[PATH_MAX], const char *dir, const char *name)
{
    int n = snprintf(out, PATH_MAX, "%s/%s", dir, name);
    assert_true(n > 0 && n < PATH_MAX);
}

static void put_file(const char *dir, const char *name, const char *text)
{
    char path[PATH_MAX];
    join(path, dir, name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    assert_int_equal(fclose(f), 0);
}

static void put_link(const char *dir, const char *name, const char *target)
{
    char path[PATH_MAX];
    join(path, dir, name);
    assert_int_equal(symlink(target, path), 0);
}

static int setup(void **state)
{
    struct tree *t = calloc(1, sizeof *t);
    char path[PATH_MAX];
    assert_non_null(t);
    snprintf(t->top, sizeof t->top, "%s/wk-filecache-XXXXXX",
             getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    assert_non_null(mkdtemp(t->top));
    join(t->root, t->top, "root");
    join(path, t->top, "outside");
    assert_int_equal(mkdir(path, 0755), 0);
    put_file(path, "secret.txt", "secret\n");
    assert_int_equal(mkdir(t->root, 0755), 0);
    put_file(t->root, "a.txt", "alpha\n");
    join(path, t->root, "sub");
    assert_int_equal(mkdir(path, 0755), 0);
    put_file(path, "b.txt", "bravo!\n");
    put_link(path, "up.txt", "../a.txt");
    put_link(path, "etc", "/etc");
    put_link(t->root, "link.txt", "a.txt");
    put_link(t->root, "etc", "/etc");
    put_link(t->root, "out", "../outside");
    put_link(t->root, "out.txt", "../outside/secret.txt");
    join(path, t->root, "a.txt");
    put_link(t->root, "abs.txt", path);
    put_link(t->root, "loop", "loop");
    join(path, t->root, "fifo");
    assert_int_equal(mkfifo(path, 0644), 0);
    t->root_fd = open(t->root, O_PATH | O_DIRECTORY | O_CLOEXEC);
    assert_true(t->root_fd >= 0);
    *state = t;
    return 0;
}

static int teardown(void **state)
{
    struct tree *t = *state;
    char cmd[PATH_MAX + 16];
    close(t->root_fd);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", t->top);
    if (system(cmd) != 0)
        return -1;
    free(t);
    return 0;
}

static int open_path(struct http_filecache *fc, const char *path, uint64_t now,
                     struct http_file **out)
{
    *out = NULL;
    return http_filecache_open(fc, path, strlen(path), now, out);
}

/* The fd is open and reads the file's bytes. */
static void assert_reads(const struct http_file *f, const char *want)
{
    char buf[64] = "";
    assert_true(fcntl(f->fd, F_GETFD) >= 0);
    ssize_t n = pread(f->fd, buf, sizeof buf - 1, 0);
    assert_int_equal(n, strlen(want));
    assert_string_equal(buf, want);
}

static bool fd_is_open(int fd)
{
    return fcntl(fd, F_GETFD) >= 0;
}

static void test_open_file(void **state)
{
    struct tree *t = *state;
    struct http_filecache *fc = http_filecache_new(t->root_fd, 64, TTL);
    struct http_file *f;
    assert_non_null(fc);
    assert_int_equal(open_path(fc, "/a.txt", 5000, &f), 0);
    assert_non_null(f);
    assert_int_equal(f->refs, 2); /* the cache's and ours */
    assert_reads(f, "alpha\n");
    assert_true(S_ISREG(f->st.st_mode));
    assert_int_equal(f->st.st_size, 6);
    assert_int_equal(f->path_len, 6);
    assert_string_equal(f->path, "/a.txt");
    assert_int_equal(f->checked_at, 5000);
    assert_true(fcntl(f->fd, F_GETFD) & FD_CLOEXEC);
    { /* Last-Modified, made once */
        char lm[WK_CLOCK_IMF_LEN];
        wk_clock_imf_fixdate(f->st.st_mtime, lm);
        assert_string_equal(f->last_modified, lm);
    }
    { /* the entity-tag is the one cond.c makes for this mtime and size */
        char etag[HTTP_ETAG_LEN];
        size_t n = http_etag_make(etag, (uint64_t)f->st.st_mtim.tv_sec,
                                  (uint64_t)f->st.st_mtim.tv_nsec, (uint64_t)f->st.st_size);
        assert_int_equal(f->etag_len, n);
        assert_memory_equal(f->etag, etag, n);
    }
    { /* a file in a subdirectory, and a symlink that stays inside */
        struct http_file *g;
        assert_int_equal(open_path(fc, "/sub/b.txt", 5000, &g), 0);
        assert_reads(g, "bravo!\n");
        http_file_release(g);
        assert_int_equal(open_path(fc, "/link.txt", 5000, &g), 0);
        assert_reads(g, "alpha\n");
        http_file_release(g);
        assert_int_equal(open_path(fc, "/sub/up.txt", 5000, &g), 0);
        assert_reads(g, "alpha\n");
        http_file_release(g);
    }
    http_file_release(f);
    http_filecache_free(fc);
}

static void test_errors(void **state)
{
    struct tree *t = *state;
    struct http_filecache *fc = http_filecache_new(t->root_fd, 64, TTL);
    struct http_file *f;
    assert_non_null(fc);
    assert_int_equal(open_path(fc, "/missing.txt", 0, &f), -ENOENT);
    assert_int_equal(open_path(fc, "/missing/x", 0, &f), -ENOENT);
    assert_int_equal(open_path(fc, "/a.txt/x", 0, &f), -ENOTDIR);
    assert_int_equal(open_path(fc, "/loop", 0, &f), -ELOOP);
    if (geteuid() != 0) { /* root reads anything */
        char path[PATH_MAX];
        join(path, t->root, "a.txt");
        assert_int_equal(chmod(path, 0), 0);
        assert_int_equal(open_path(fc, "/a.txt", 0, &f), -EACCES);
        assert_int_equal(chmod(path, 0644), 0);
    }
    http_filecache_free(fc);
}

/* Nothing outside the root is reached, however the path or a symlink points there. */
static void test_stays_beneath_root(void **state)
{
    struct tree *t = *state;
    struct http_filecache *fc = http_filecache_new(t->root_fd, 64, TTL);
    static const char *const escapes[] = {
        "/etc/passwd",
        "/etc",
        "/etc/",
        "/sub/etc/passwd",
        "/out/secret.txt",
        "/out",
        "/out.txt",
        "/abs.txt",
        "/../outside/secret.txt",
        "/sub/../../outside/secret.txt",
        "/..",
    };
    assert_non_null(fc);
    for (size_t i = 0; i < WK_ARRAY_LEN(escapes); i++) {
        struct http_file *f = NULL;
        int rc = open_path(fc, escapes[i], 0, &f);
        if (rc != -EXDEV && rc != -ELOOP)
            fail_msg("\"%s\": %d (%s), want -EXDEV or -ELOOP", escapes[i], rc,
                     rc < 0 ? strerror(-rc) : "opened");
        assert_null(f);
    }
    http_filecache_free(fc);
}

static void test_reuse_within_ttl(void **state)
{
    struct tree *t = *state;
    struct http_filecache *fc = http_filecache_new(t->root_fd, 64, TTL);
    struct http_file *f, *g, *h;
    assert_non_null(fc);
    assert_int_equal(open_path(fc, "/a.txt", 1000, &f), 0);
    assert_int_equal(open_path(fc, "/a.txt", 1000 + TTL - 1, &g), 0);
    assert_ptr_equal(f, g);
    assert_int_equal(f->refs, 3);
    http_file_release(g);
    assert_int_equal(f->refs, 2);
    /* Once the time to live has passed, the file is opened and checked again. */
    int old_fd = f->fd;
    assert_int_equal(open_path(fc, "/a.txt", 1000 + TTL, &h), 0);
    assert_ptr_not_equal(h, f);
    assert_int_equal(h->checked_at, 1000 + TTL);
    assert_int_equal(h->refs, 2);
    assert_int_equal(f->refs, 1); /* the cache let go of the old entry; ours is still good */
    assert_reads(f, "alpha\n");
    assert_reads(h, "alpha\n");
    http_file_release(f); /* the last reference: its fd is closed */
    assert_false(fd_is_open(old_fd));
    assert_true(fd_is_open(h->fd));
    http_file_release(h);
    http_filecache_free(fc);
}

/* A file replaced on disk: the old version until the time to live is over, then the new one. */
static void test_replaced_file(void **state)
{
    struct tree *t = *state;
    struct http_filecache *fc = http_filecache_new(t->root_fd, 64, TTL);
    struct http_file *f, *g;
    char tmp[PATH_MAX], path[PATH_MAX];
    assert_non_null(fc);
    assert_int_equal(open_path(fc, "/a.txt", 0, &f), 0);
    put_file(t->root, "a.new", "a longer alpha\n");
    join(tmp, t->root, "a.new");
    join(path, t->root, "a.txt");
    assert_int_equal(rename(tmp, path), 0);
    assert_int_equal(open_path(fc, "/a.txt", TTL / 2, &g), 0);
    assert_ptr_equal(g, f);
    assert_reads(g, "alpha\n");
    http_file_release(g);
    assert_int_equal(open_path(fc, "/a.txt", TTL, &g), 0);
    assert_ptr_not_equal(g, f);
    assert_reads(g, "a longer alpha\n");
    assert_int_equal(g->st.st_size, 15);
    assert_reads(f, "alpha\n"); /* a response in flight keeps its version */
    http_file_release(f);
    http_file_release(g);
    http_filecache_free(fc);
}

/* A path that no longer exists is not served from the cache once it is stale. */
static void test_removed_file(void **state)
{
    struct tree *t = *state;
    struct http_filecache *fc = http_filecache_new(t->root_fd, 64, TTL);
    struct http_file *f;
    char path[PATH_MAX];
    assert_non_null(fc);
    assert_int_equal(open_path(fc, "/sub/b.txt", 0, &f), 0);
    http_file_release(f);
    join(path, t->root, "sub/b.txt");
    assert_int_equal(unlink(path), 0);
    assert_int_equal(open_path(fc, "/sub/b.txt", 1, &f), 0); /* fresh: still the cached one */
    http_file_release(f);
    assert_int_equal(open_path(fc, "/sub/b.txt", TTL + 1, &f), -ENOENT);
    assert_null(f);
    http_filecache_free(fc);
}

static void test_directories_not_cached(void **state)
{
    struct tree *t = *state;
    struct http_filecache *fc = http_filecache_new(t->root_fd, 64, TTL);
    struct http_file *d1, *d2, *r;
    assert_non_null(fc);
    assert_int_equal(open_path(fc, "/sub/", 0, &d1), 0);
    assert_true(S_ISDIR(d1->st.st_mode));
    assert_int_equal(d1->refs, 1); /* ours alone */
    assert_string_equal(d1->path, "/sub/");
    assert_int_equal(open_path(fc, "/sub/", 0, &d2), 0);
    assert_ptr_not_equal(d1, d2);
    assert_int_equal(d2->refs, 1);
    int fd1 = d1->fd;
    http_file_release(d1);
    assert_false(fd_is_open(fd1));
    http_file_release(d2);
    { /* the root itself */
        assert_int_equal(open_path(fc, "/", 0, &r), 0);
        assert_true(S_ISDIR(r->st.st_mode));
        assert_int_equal(r->refs, 1);
        http_file_release(r);
    }
    { /* nor is anything else that is not a regular file */
        assert_int_equal(open_path(fc, "/fifo", 0, &r), 0);
        assert_true(S_ISFIFO(r->st.st_mode));
        assert_int_equal(r->refs, 1);
        http_file_release(r);
    }
    http_filecache_free(fc);
}

/* With one slot every path collides: replacing an entry keeps references to it valid. */
static void test_collisions(void **state)
{
    struct tree *t = *state;
    struct http_filecache *fc = http_filecache_new(t->root_fd, 1, TTL);
    struct http_file *a, *b, *a2, *d;
    assert_non_null(fc);
    assert_int_equal(open_path(fc, "/a.txt", 0, &a), 0);
    assert_int_equal(a->refs, 2);
    assert_int_equal(open_path(fc, "/sub/b.txt", 0, &b), 0);
    assert_int_equal(b->refs, 2);
    assert_int_equal(a->refs, 1); /* dropped from the cache, still ours */
    assert_reads(a, "alpha\n");
    assert_reads(b, "bravo!\n");
    assert_int_equal(open_path(fc, "/a.txt", 0, &a2), 0);
    assert_ptr_not_equal(a2, a); /* opened again: the slot held b */
    assert_int_equal(b->refs, 1);
    assert_reads(a2, "alpha\n");
    { /* a directory in the slot evicts the file without taking its place */
        assert_int_equal(open_path(fc, "/sub/", 0, &d), 0);
        assert_int_equal(a2->refs, 1);
        assert_int_equal(d->refs, 1);
        http_file_release(d);
    }
    { /* a failed open leaves the slot as it was */
        struct http_file *x, *y;
        assert_int_equal(open_path(fc, "/a.txt", 0, &x), 0);
        assert_int_equal(open_path(fc, "/missing", 0, &y), -ENOENT);
        assert_int_equal(open_path(fc, "/a.txt", 0, &y), 0);
        assert_ptr_equal(x, y);
        http_file_release(x);
        http_file_release(y);
    }
    int fa = a->fd, fb = b->fd;
    http_file_release(a);
    http_file_release(b);
    assert_false(fd_is_open(fa));
    assert_false(fd_is_open(fb));
    http_file_release(a2);
    http_filecache_free(fc);
}

/* Freeing the cache leaves files in use alive until they are released. */
static void test_free_with_files_in_use(void **state)
{
    struct tree *t = *state;
    struct http_filecache *fc = http_filecache_new(t->root_fd, 8, TTL);
    struct http_file *a, *b;
    assert_non_null(fc);
    assert_int_equal(open_path(fc, "/a.txt", 0, &a), 0);
    assert_int_equal(open_path(fc, "/sub/b.txt", 0, &b), 0);
    int fb = b->fd;
    http_file_release(b); /* the cache still holds it */
    http_filecache_free(fc);
    assert_false(fd_is_open(fb)); /* only the cache held it */
    assert_int_equal(a->refs, 1);
    assert_reads(a, "alpha\n");
    int fa = a->fd;
    http_file_release(a);
    assert_false(fd_is_open(fa));
    http_filecache_free(NULL);
}

/* Many opens over a small table: every reference given back, every fd closed. */
static void test_churn(void **state)
{
    struct tree *t = *state;
    struct http_filecache *fc = http_filecache_new(t->root_fd, 3, TTL);
    static const char *const paths[] = {"/a.txt", "/sub/b.txt",  "/link.txt", "/sub/",
                                        "/",      "/sub/up.txt", "/missing"};
    int before = open("/dev/null", O_RDONLY);
    assert_true(before >= 0);
    close(before);
    assert_non_null(fc);
    for (unsigned i = 0; i < 500; i++) {
        struct http_file *f;
        const char *p = paths[(i * 7u + i / 5u) % WK_ARRAY_LEN(paths)];
        int rc = open_path(fc, p, i * 37u, &f);
        if (strcmp(p, "/missing") == 0) {
            assert_int_equal(rc, -ENOENT);
            continue;
        }
        assert_int_equal(rc, 0);
        assert_string_equal(f->path, p);
        http_file_release(f);
    }
    http_filecache_free(fc);
    int after = open("/dev/null", O_RDONLY);
    assert_int_equal(after, before); /* no fd left open */
    close(after);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_open_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stays_beneath_root, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reuse_within_ttl, setup, teardown),
        cmocka_unit_test_setup_teardown(test_replaced_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_removed_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_directories_not_cached, setup, teardown),
        cmocka_unit_test_setup_teardown(test_collisions, setup, teardown),
        cmocka_unit_test_setup_teardown(test_free_with_files_in_use, setup, teardown),
        cmocka_unit_test_setup_teardown(test_churn, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
