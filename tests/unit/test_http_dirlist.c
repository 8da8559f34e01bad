/*
 * test_http_dirlist.c: directory listings (httpd/dirlist.c), rendered from
 * real temporary directories holding names that need escaping.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
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

#include "common/buf.h"
#include "httpd/dirlist.h"

/* Every entry's mtime: Sun, 06 Nov 1994 08:49:37 GMT. */
#define MTIME 784111777
#define MTIME_TEXT "1994-11-06 08:49:37"

struct tmpdir {
    char path[64];
    int fd;
};

static void tmpdir_make(struct tmpdir *t)
{
    const char *base = getenv("TMPDIR");
    snprintf(t->path, sizeof(t->path), "%s/wk-dirlist-XXXXXX", base ? base : "/tmp");
    assert_non_null(mkdtemp(t->path));
    t->fd = open(t->path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    assert_true(t->fd >= 0);
}

static void set_mtime(int dirfd, const char *name)
{
    struct timespec ts[2] = {{.tv_sec = MTIME}, {.tv_sec = MTIME}};
    assert_int_equal(utimensat(dirfd, name, ts, AT_SYMLINK_NOFOLLOW), 0);
}

static void add_file(struct tmpdir *t, const char *name, size_t size)
{
    int fd = openat(t->fd, name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    assert_true(fd >= 0);
    for (size_t i = 0; i < size; i++)
        assert_int_equal(write(fd, "x", 1), 1);
    close(fd);
    set_mtime(t->fd, name);
}

static void add_dir(struct tmpdir *t, const char *name)
{
    assert_int_equal(mkdirat(t->fd, name, 0755), 0);
    set_mtime(t->fd, name);
}

/* Removes the directory and what it holds (one level of subdirectories). */
static void remove_tree(int dirfd)
{
    DIR *d = fdopendir(dup(dirfd));
    struct dirent *de;
    assert_non_null(d);
    while ((de = readdir(d)) != NULL) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        if (unlinkat(dirfd, de->d_name, 0) != 0 && errno == EISDIR) {
            int sub = openat(dirfd, de->d_name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
            assert_true(sub >= 0);
            remove_tree(sub);
            close(sub);
            assert_int_equal(unlinkat(dirfd, de->d_name, AT_REMOVEDIR), 0);
        }
    }
    closedir(d);
}

static void tmpdir_remove(struct tmpdir *t)
{
    remove_tree(t->fd);
    close(t->fd);
    assert_int_equal(rmdir(t->path), 0);
}

/* Renders into a fresh buffer and returns it as a C string (caller frees). */
static char *render(int dirfd, const char *urlpath, int *rc)
{
    struct wk_buf b;
    wk_buf_init(&b, 4u << 20);
    *rc = http_dirlist_render(&b, dirfd, urlpath, strlen(urlpath));
    /* Not strndup: the content has no NUL, and strict string checks would read past it. */
    char *s = malloc(wk_buf_len(&b) + 1);
    assert_non_null(s);
    memcpy(s, wk_buf_len(&b) ? wk_buf_data(&b) : "", wk_buf_len(&b));
    s[wk_buf_len(&b)] = '\0';
    wk_buf_fini(&b);
    return s;
}

static size_t count(const char *s, const char *needle)
{
    size_t n = 0;
    for (const char *p = strstr(s, needle); p != NULL; p = strstr(p + 1, needle))
        n++;
    return n;
}

/* Asserts that the needles appear in s, each once, in this order. */
static void assert_in_order(const char *s, const char *const *needles, size_t n)
{
    const char *prev = s;
    for (size_t i = 0; i < n; i++) {
        const char *p = strstr(s, needles[i]);
        if (p == NULL)
            fail_msg("missing: %s", needles[i]);
        if (count(s, needles[i]) != 1)
            fail_msg("not once: %s", needles[i]);
        if (p < prev)
            fail_msg("out of order: %s", needles[i]);
        prev = p;
    }
}

#define ROW(href, name, size)                                                                  \
    "<tr><td><a href=\"" href "\">" name "</a></td><td class=\"size\">" size "</td><td>"       \
    MTIME_TEXT "</td></tr>\n"

static void test_names_and_order(void **state)
{
    (void)state;
    struct tmpdir t;
    tmpdir_make(&t);
    add_file(&t, "a.txt", 3);
    add_file(&t, "B.txt", 0);
    add_file(&t, "<script>.html", 1);
    add_file(&t, "a&b", 5);
    add_file(&t, "quote\"d", 2);
    add_file(&t, "it's", 2);
    add_file(&t, "with space", 4);
    add_file(&t, "caf\xc3\xa9.txt", 6);
    add_file(&t, "100%", 7);
    add_file(&t, "x:y", 1);
    add_file(&t, ".hidden", 1);
    add_dir(&t, "zdir");
    add_dir(&t, "sub dir");
    add_dir(&t, ".git");
    int rc;
    char *page = render(t.fd, "/files/", &rc);
    assert_int_equal(rc, 0);
    { /* a complete HTML5 document */
        assert_int_equal(strncmp(page, "<!DOCTYPE html>\n", 16), 0);
        assert_non_null(strstr(page, "<meta charset=\"utf-8\">"));
        assert_non_null(strstr(page, "<title>Index of /files/</title>"));
        assert_non_null(strstr(page, "<h1>Index of /files/</h1>"));
        size_t n = strlen(page);
        assert_string_equal(page + n - 16, "</body>\n</html>\n");
    }
    { /* "../" first, then directories, then files, each by strcmp */
        static const char *const rows[] = {
            "<tr><td><a href=\"../\">../</a></td><td></td><td></td></tr>\n",
            ROW("sub%20dir/", "sub dir/", "-"),
            ROW("zdir/", "zdir/", "-"),
            ROW("100%25", "100%", "7"),
            ROW("%3Cscript%3E.html", "&lt;script&gt;.html", "1"),
            ROW("B.txt", "B.txt", "0"),
            ROW("a%26b", "a&amp;b", "5"),
            ROW("a.txt", "a.txt", "3"),
            ROW("caf%C3%A9.txt", "caf\xc3\xa9.txt", "6"),
            ROW("it%27s", "it&#39;s", "2"),
            ROW("quote%22d", "quote&quot;d", "2"),
            ROW("with%20space", "with space", "4"),
            ROW("x%3Ay", "x:y", "1"),
        };
        assert_in_order(page, rows, sizeof(rows) / sizeof(rows[0]));
        assert_int_equal(count(page, "<tr><td>"), sizeof(rows) / sizeof(rows[0]));
    }
    { /* dotfiles and dot-directories are not listed */
        assert_null(strstr(page, "hidden"));
        assert_null(strstr(page, ".git"));
        assert_null(strstr(page, "href=\"./\""));
    }
    { /* nothing says the listing was cut */
        assert_null(strstr(page, "cut"));
    }
    free(page);
    tmpdir_remove(&t);
}

static void test_urlpath(void **state)
{
    (void)state;
    struct tmpdir t;
    tmpdir_make(&t);
    int rc;
    { /* the root has no "../" */
        char *page = render(t.fd, "/", &rc);
        assert_int_equal(rc, 0);
        assert_non_null(strstr(page, "<title>Index of /</title>"));
        assert_null(strstr(page, "../"));
        free(page);
    }
    { /* the path is HTML-escaped in the title and heading */
        char *page = render(t.fd, "/<b>&\"'/", &rc);
        assert_int_equal(rc, 0);
        assert_non_null(strstr(page, "<title>Index of /&lt;b&gt;&amp;&quot;&#39;/</title>"));
        assert_non_null(strstr(page, "<h1>Index of /&lt;b&gt;&amp;&quot;&#39;/</h1>"));
        assert_null(strstr(page, "<b>"));
        free(page);
    }
    { /* an empty directory: only the header row and "../" */
        char *page = render(t.fd, "/empty/", &rc);
        assert_int_equal(rc, 0);
        assert_int_equal(count(page, "<tr>"), 2);
        free(page);
    }
    { /* only urlpath_len bytes of the path are read */
        struct wk_buf b;
        wk_buf_init(&b, 65536);
        assert_int_equal(http_dirlist_render(&b, t.fd, "/abc/def", 5), 0);
        assert_int_equal(wk_buf_append(&b, "", 1), 0);
        assert_non_null(strstr(wk_buf_data(&b), "<title>Index of /abc/</title>"));
        wk_buf_fini(&b);
    }
    tmpdir_remove(&t);
}

static void test_entry_kinds(void **state)
{
    (void)state;
    struct tmpdir t;
    tmpdir_make(&t);
    add_file(&t, "file", 10);
    add_dir(&t, "dir");
    assert_int_equal(symlinkat("dir", t.fd, "link-to-dir"), 0);
    assert_int_equal(symlinkat("nowhere", t.fd, "dangling"), 0);
    set_mtime(t.fd, "link-to-dir");
    set_mtime(t.fd, "dangling");
    int rc;
    char *page = render(t.fd, "/k/", &rc);
    assert_int_equal(rc, 0);
    { /* symbolic links are not followed: listed as themselves, size of the link */
        static const char *const rows[] = {
            ROW("dir/", "dir/", "-"),
            ROW("dangling", "dangling", "7"),
            ROW("file", "file", "10"),
            ROW("link-to-dir", "link-to-dir", "3"),
        };
        assert_in_order(page, rows, sizeof(rows) / sizeof(rows[0]));
    }
    free(page);
    tmpdir_remove(&t);
}

static void test_callers_fd(void **state)
{
    (void)state;
    struct tmpdir t;
    tmpdir_make(&t);
    add_file(&t, "one", 1);
    add_file(&t, "two", 2);
    int rc;
    { /* the caller's descriptor stays open, at its position: the same page twice */
        off_t before = lseek(t.fd, 0, SEEK_CUR);
        char *first = render(t.fd, "/d/", &rc);
        assert_int_equal(rc, 0);
        char *second = render(t.fd, "/d/", &rc);
        assert_int_equal(rc, 0);
        assert_string_equal(first, second);
        assert_int_equal(lseek(t.fd, 0, SEEK_CUR), before);
        assert_true(fcntl(t.fd, F_GETFD) >= 0);
        free(first);
        free(second);
    }
    { /* what the buffer held is kept, the page goes after it */
        struct wk_buf b;
        wk_buf_init(&b, 65536);
        assert_int_equal(wk_buf_append(&b, "HEAD\r\n", 6), 0);
        assert_int_equal(http_dirlist_render(&b, t.fd, "/d/", 3), 0);
        assert_memory_equal(wk_buf_data(&b), "HEAD\r\n<!DOCTYPE html>", 21);
        wk_buf_fini(&b);
    }
    tmpdir_remove(&t);
}

static void test_errors(void **state)
{
    (void)state;
    struct tmpdir t;
    tmpdir_make(&t);
    add_file(&t, "file", 1);
    int rc;
    { /* not a descriptor */
        free(render(-1, "/", &rc));
        assert_int_equal(rc, -EBADF);
    }
    { /* not a directory */
        int fd = openat(t.fd, "file", O_RDONLY | O_CLOEXEC);
        assert_true(fd >= 0);
        char *page = render(fd, "/", &rc);
        assert_int_equal(rc, -ENOTDIR);
        assert_string_equal(page, "");
        free(page);
        close(fd);
    }
    { /* the buffer's bound: nothing is appended */
        struct wk_buf b;
        wk_buf_init(&b, 300);
        assert_int_equal(wk_buf_append(&b, "keep", 4), 0);
        assert_int_equal(http_dirlist_render(&b, t.fd, "/", 1), -ENOBUFS);
        assert_int_equal(wk_buf_len(&b), 4);
        assert_memory_equal(wk_buf_data(&b), "keep", 4);
        wk_buf_fini(&b);
    }
    { /* the bound is what is left in the buffer, not its size */
        struct wk_buf b;
        wk_buf_init(&b, 1 << 16);
        char *page = render(t.fd, "/", &rc);
        size_t n = strlen(page);
        free(page);
        b.max = n + 10;
        assert_int_equal(wk_buf_append(&b, "0123456789x", 11), 0);
        assert_int_equal(http_dirlist_render(&b, t.fd, "/", 1), -ENOBUFS);
        wk_buf_consume(&b, 1);
        assert_int_equal(http_dirlist_render(&b, t.fd, "/", 1), 0);
        assert_int_equal(wk_buf_len(&b), b.max);
        wk_buf_fini(&b);
    }
    tmpdir_remove(&t);
}

static void test_entry_limit(void **state)
{
    (void)state;
    struct tmpdir t;
    tmpdir_make(&t);
    int rc;
    for (int i = 0; i < HTTP_DIRLIST_MAX_ENTRIES; i++) {
        char name[16];
        snprintf(name, sizeof(name), "f%05d", i);
        int fd = openat(t.fd, name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
        assert_true(fd >= 0);
        close(fd);
    }
    { /* exactly the limit: all listed, nothing cut */
        char *page = render(t.fd, "/many/", &rc);
        assert_int_equal(rc, 0);
        assert_int_equal(count(page, "<tr><td><a href=\"f"), HTTP_DIRLIST_MAX_ENTRIES);
        assert_null(strstr(page, "cut"));
        free(page);
    }
    { /* one more: the limit is listed, then a line says the listing was cut */
        int fd = openat(t.fd, "g", O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
        assert_true(fd >= 0);
        close(fd);
        char *page = render(t.fd, "/many/", &rc);
        assert_int_equal(rc, 0);
        assert_int_equal(count(page, "<tr><td><a href=\""), HTTP_DIRLIST_MAX_ENTRIES + 1);
        assert_non_null(strstr(page, "</table>\n<p>Listing cut at 4096 entries.</p>\n"));
        free(page);
    }
    tmpdir_remove(&t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_names_and_order), cmocka_unit_test(test_urlpath),
        cmocka_unit_test(test_entry_kinds),     cmocka_unit_test(test_callers_fd),
        cmocka_unit_test(test_errors),          cmocka_unit_test(test_entry_limit),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
