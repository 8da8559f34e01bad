/*
 * test_smtp_maildir.c: Maildir delivery, with system-call failures injected
 * through the linker's --wrap: after any failure nothing is left in new/.
 */
/* WK_WRAP: write fsync linkat renameat openat mkdirat */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <regex.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "smtpd/maildir.h"

/* snprintf into a path buffer; a test fails rather than use a truncated path. */
__attribute__((format(printf, 3, 4))) static void spath(char *buf, size_t size, const char *fmt,
                                                        ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, size, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= size)
        fail_msg("path too long");
}

/* ---- fault injection: the wrapped calls fail on demand ---- */

#define MAX_FAULTS  4
#define MAX_FSYNCS  256
#define FAULT_PATHS 1024

struct fault {
    const char *fn;    /* "write", "fsync", "linkat", ...; NULL: free */
    const char *match; /* substring of the path the call acts on (destination for linkat,
                          renameat), or its end if match ends in '$'; NULL: any */
    int nth;           /* the first matching call that fails, from 1 */
    int times;         /* how many fail from there; -1: all */
    int err;
    int calls; /* matching calls seen */
};

static struct fault faults[MAX_FAULTS];
static bool short_writes;                     /* write at most 3 bytes at a time */
static char fsynced[MAX_FSYNCS][FAULT_PATHS]; /* what each fsync call named */
static size_t nfsyncs;

static void fault_reset(void)
{
    memset(faults, 0, sizeof faults);
    short_writes = false;
    nfsyncs = 0;
}

static void fault(const char *fn, const char *match, int nth, int times, int err)
{
    for (size_t i = 0; i < MAX_FAULTS; i++) {
        if (!faults[i].fn) {
            faults[i] = (struct fault){fn, match, nth, times, err, 0};
            return;
        }
    }
    fail_msg("too many faults");
}

static void fd_path(int fd, char *out)
{
    char link[64];
    spath(link, sizeof link, "/proc/self/fd/%d", fd);
    ssize_t n = readlink(link, out, FAULT_PATHS - 1);
    out[n < 0 ? 0 : n] = '\0';
}

static void at_path(int dirfd, const char *p, char *out)
{
    char dir[FAULT_PATHS];
    if (p[0] == '/' || dirfd == AT_FDCWD) {
        spath(out, FAULT_PATHS, "%s", p);
        return;
    }
    fd_path(dirfd, dir);
    spath(out, FAULT_PATHS, "%s/%s", dir, p);
}

static bool matches(const char *subject, const char *match)
{
    size_t n = match ? strlen(match) : 0, len = strlen(subject);
    if (n == 0 || match[n - 1] != '$')
        return !match || strstr(subject, match);
    return len >= n - 1 && memcmp(subject + len - (n - 1), match, n - 1) == 0;
}

/* The errno this call must fail with, or 0. */
static int injected(const char *fn, const char *subject)
{
    for (size_t i = 0; i < MAX_FAULTS; i++) {
        struct fault *f = &faults[i];
        if (!f->fn || strcmp(f->fn, fn) != 0 || !matches(subject, f->match))
            continue;
        f->calls++;
        if (f->calls >= f->nth && (f->times < 0 || f->calls < f->nth + f->times))
            return f->err;
    }
    return 0;
}

ssize_t __real_write(int fd, const void *p, size_t n);
ssize_t __wrap_write(int fd, const void *p, size_t n);
int __real_fsync(int fd);
int __wrap_fsync(int fd);
int __real_linkat(int olddir, const char *oldpath, int newdir, const char *newpath, int flags);
int __wrap_linkat(int olddir, const char *oldpath, int newdir, const char *newpath, int flags);
int __real_renameat(int olddir, const char *oldpath, int newdir, const char *newpath);
int __wrap_renameat(int olddir, const char *oldpath, int newdir, const char *newpath);
int __real_openat(int dir, const char *p, int flags, ...);
int __wrap_openat(int dir, const char *p, int flags, ...);
int __real_mkdirat(int dir, const char *p, mode_t mode);
int __wrap_mkdirat(int dir, const char *p, mode_t mode);

ssize_t __wrap_write(int fd, const void *p, size_t n)
{
    char subject[FAULT_PATHS];
    fd_path(fd, subject);
    int err = injected("write", subject);
    if (err) {
        errno = err;
        return -1;
    }
    return __real_write(fd, p, short_writes && n > 3 ? 3 : n);
}

int __wrap_fsync(int fd)
{
    char subject[FAULT_PATHS];
    fd_path(fd, subject);
    if (nfsyncs < MAX_FSYNCS)
        memcpy(fsynced[nfsyncs++], subject, sizeof subject);
    int err = injected("fsync", subject);
    if (err) {
        errno = err;
        return -1;
    }
    return __real_fsync(fd);
}

int __wrap_linkat(int olddir, const char *oldpath, int newdir, const char *newpath, int flags)
{
    char subject[FAULT_PATHS];
    at_path(newdir, newpath, subject);
    int err = injected("linkat", subject);
    if (err) {
        errno = err;
        return -1;
    }
    return __real_linkat(olddir, oldpath, newdir, newpath, flags);
}

int __wrap_renameat(int olddir, const char *oldpath, int newdir, const char *newpath)
{
    char subject[FAULT_PATHS];
    at_path(newdir, newpath, subject);
    int err = injected("renameat", subject);
    if (err) {
        errno = err;
        return -1;
    }
    return __real_renameat(olddir, oldpath, newdir, newpath);
}

int __wrap_openat(int dir, const char *p, int flags, ...)
{
    mode_t mode = 0;
    if (flags & (O_CREAT | O_TMPFILE)) {
        va_list ap;
        va_start(ap, flags);
        mode = va_arg(ap, mode_t);
        va_end(ap);
    }
    char subject[FAULT_PATHS];
    at_path(dir, p, subject);
    int err = injected("openat", subject);
    if (err) {
        errno = err;
        return -1;
    }
    return __real_openat(dir, p, flags, mode);
}

int __wrap_mkdirat(int dir, const char *p, mode_t mode)
{
    char subject[FAULT_PATHS];
    at_path(dir, p, subject);
    int err = injected("mkdirat", subject);
    if (err) {
        errno = err;
        return -1;
    }
    return __real_mkdirat(dir, p, mode);
}

/* How many fsync calls named a path ending in suffix. */
static size_t fsyncs_of(const char *suffix)
{
    size_t count = 0, n = strlen(suffix);
    for (size_t i = 0; i < nfsyncs; i++) {
        size_t len = strlen(fsynced[i]);
        count += len >= n && strcmp(fsynced[i] + len - n, suffix) == 0;
    }
    return count;
}

/* ---- fixture: a fresh store under a temporary directory ---- */

struct fx {
    char dir[PATH_MAX];  /* the temporary directory */
    char root[PATH_MAX]; /* the store, dir/var/mail */
    struct smtp_maildir *md;
};

static int setup(void **state)
{
    struct fx *fx = calloc(1, sizeof *fx);
    const char *tmp = getenv("TMPDIR");
    spath(fx->dir, sizeof fx->dir, "%s/wk-maildir-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    assert_non_null(mkdtemp(fx->dir));
    spath(fx->root, sizeof fx->root, "%s/var/mail", fx->dir);
    char err[WK_ERR_LEN];
    assert_int_equal(smtp_maildir_open(fx->root, "mx.example", &fx->md, err), 0);
    fault_reset();
    *state = fx;
    return 0;
}

static int remove_entry(const char *p, const struct stat *st, int type, struct FTW *ftw)
{
    (void)st;
    (void)type;
    (void)ftw;
    return remove(p);
}

static int teardown(void **state)
{
    struct fx *fx = *state;
    fault_reset();
    smtp_maildir_close(fx->md);
    nftw(fx->dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
    free(fx);
    return 0;
}

/* Entries in root/sub, without "." and "..", or -1 if it does not exist. */
static int entries(struct fx *fx, const char *sub)
{
    char p[PATH_MAX * 2];
    spath(p, sizeof p, "%s/%s", fx->root, sub);
    DIR *dir = opendir(p);
    if (!dir)
        return -1;
    int n = 0;
    for (struct dirent *e; (e = readdir(dir)) != NULL;)
        n += strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0;
    closedir(dir);
    return n;
}

static bool is_dir(struct fx *fx, const char *sub)
{
    char p[PATH_MAX * 2];
    struct stat st;
    spath(p, sizeof p, "%s/%s", fx->root, sub);
    return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

/* Asserts that root/folder/new/name holds exactly the n bytes of want, and is the only file. */
static void assert_delivered(struct fx *fx, const char *folder, const char *name, const void *want,
                             size_t n)
{
    char p[PATH_MAX * 2], sub[PATH_MAX];
    spath(sub, sizeof sub, "%s/new", folder);
    assert_int_equal(entries(fx, sub), 1);
    spath(p, sizeof p, "%s/%s/new/%s", fx->root, folder, name);
    FILE *f = fopen(p, "rb");
    assert_non_null(f);
    char *got = malloc(n + 1);
    size_t r = fread(got, 1, n + 1, f);
    fclose(f);
    assert_int_equal(r, n);
    assert_memory_equal(got, want, n);
    free(got);
}

/* Asserts that nothing of any message is left in folder's tmp/ and new/. */
static void assert_empty(struct fx *fx, const char *folder)
{
    char sub[PATH_MAX];
    spath(sub, sizeof sub, "%s/new", folder);
    assert_true(entries(fx, sub) <= 0);
    spath(sub, sizeof sub, "%s/tmp", folder);
    assert_true(entries(fx, sub) <= 0);
}

static struct smtp_delivery *begin_with(struct fx *fx, const char *folder, const char *text,
                                        char *name)
{
    struct smtp_delivery *d = NULL;
    assert_int_equal(smtp_maildir_begin(fx->md, folder, &d), 0);
    assert_non_null(d);
    assert_int_equal(smtp_maildir_write(d, text, strlen(text)), 0);
    spath(name, NAME_MAX + 1, "%s", smtp_delivery_name(d));
    return d;
}

static int commit_one(struct smtp_delivery *d, const char *const *folders, size_t n)
{
    int result = 1;
    int rc = smtp_maildir_commit(&d, 1, &folders, &n, &result);
    assert_int_equal(rc, result);
    return result;
}

static mode_t current_umask(void)
{
    mode_t m = umask(0);
    umask(m);
    return m;
}

static const char MSG[] = "Subject: hi\r\n\r\nHello.\r\n";

/* ---- tests ---- */

static void test_deliver_one(void **state)
{
    struct fx *fx = *state;
    size_t big_len = 300000;
    char *big = malloc(big_len), name[NAME_MAX + 1];
    for (size_t i = 0; i < big_len; i++)
        big[i] = (char)(i * 7 + i / 251);
    struct smtp_delivery *d = begin_with(fx, "a@x", "", name);
    const char *id = smtp_delivery_queue_id(d);
    assert_int_equal(strlen(id), SMTP_MAILDIR_QUEUE_ID_LEN);
    assert_int_equal(strspn(id, "0123456789ABCDEFGHIJKLMNOPQRSTUV"), SMTP_MAILDIR_QUEUE_ID_LEN);
    assert_int_equal(entries(fx, "a@x/tmp"), 1);
    assert_int_equal(smtp_maildir_write(d, big, 1000), 0);
    assert_int_equal(smtp_maildir_write(d, big + 1000, 0), 0);
    assert_int_equal(smtp_maildir_write(d, big + 1000, big_len - 1000), 0);
    assert_int_equal(entries(fx, "a@x/new"), 0); /* not before the commit */
    const char *folders[] = {"a@x"};
    assert_int_equal(commit_one(d, folders, 1), 0);
    assert_delivered(fx, "a@x", name, big, big_len);
    char p[PATH_MAX * 2];
    struct stat st;
    spath(p, sizeof p, "%s/a@x/new/%s", fx->root, name);
    assert_int_equal(stat(p, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0640 & ~current_umask());
    assert_int_equal(st.st_nlink, 1);
    assert_int_equal(entries(fx, "a@x/tmp"), 0);
    assert_true(is_dir(fx, "a@x/cur"));
    assert_int_equal(entries(fx, "a@x/cur"), 0);
    free(big);
}

static void test_short_writes_and_eintr(void **state)
{
    struct fx *fx = *state;
    char name[NAME_MAX + 1];
    struct smtp_delivery *d = begin_with(fx, "a@x", "", name);
    short_writes = true;
    fault("write", NULL, 2, 3, EINTR);
    assert_int_equal(smtp_maildir_write(d, MSG, strlen(MSG)), 0);
    assert_int_equal(faults[0].calls, (int)(strlen(MSG) + 2) / 3 + 3);
    const char *folders[] = {"a@x"};
    assert_int_equal(commit_one(d, folders, 1), 0);
    assert_delivered(fx, "a@x", name, MSG, strlen(MSG));
}

static void test_several_recipients_same_bytes(void **state)
{
    struct fx *fx = *state;
    char name[NAME_MAX + 1];
    struct smtp_delivery *d = begin_with(fx, "a@x", MSG, name);
    const char *folders[] = {"a@x", "b@x", "c@y", "b@x"}; /* b@x twice: delivered once */
    assert_int_equal(commit_one(d, folders, 4), 0);
    assert_delivered(fx, "a@x", name, MSG, strlen(MSG));
    assert_delivered(fx, "b@x", name, MSG, strlen(MSG));
    assert_delivered(fx, "c@y", name, MSG, strlen(MSG));
    assert_int_equal(entries(fx, "a@x/tmp"), 0);
    assert_int_equal(fsyncs_of("/b@x/new"), 1);
}

static void test_batch_fsyncs_each_new_dir_once(void **state)
{
    struct fx *fx = *state;
    char names[4][NAME_MAX + 1];
    for (int round = 0; round < 2; round++) {
        struct smtp_delivery *ds[4] = {
            begin_with(fx, "a@x", "one", names[0]),
            begin_with(fx, "b@x", "two", names[1]),
            begin_with(fx, "a@x", "three", names[2]),
            begin_with(fx, "c@x", "four", names[3]),
        };
        const char *f0[] = {"a@x", "b@x"}, *f1[] = {"b@x", "c@x"}, *f2[] = {"a@x"};
        const char *f3[] = {"c@x", "a@x", "b@x"};
        const char *const *folders[] = {f0, f1, f2, f3};
        size_t nfolders[] = {2, 2, 1, 3};
        int results[4] = {1, 1, 1, 1};
        nfsyncs = 0;
        assert_int_equal(smtp_maildir_commit(ds, 4, folders, nfolders, results), 0);
        for (int i = 0; i < 4; i++)
            assert_int_equal(results[i], 0);
        assert_int_equal(fsyncs_of("/a@x/new"), 1);
        assert_int_equal(fsyncs_of("/b@x/new"), 1);
        assert_int_equal(fsyncs_of("/c@x/new"), 1);
        /* new folders: their own directory and the root once too; known ones: nothing more */
        size_t dirs = round == 0 ? 3 + 3 + 1 : 3;
        assert_int_equal(fsyncs_of("/var/mail"), round == 0 ? 1 : 0);
        assert_int_equal(nfsyncs, 4 + dirs);
        assert_int_equal(entries(fx, "a@x/new"), 3 * (round + 1));
        assert_int_equal(entries(fx, "b@x/new"), 3 * (round + 1));
        assert_int_equal(entries(fx, "c@x/new"), 2 * (round + 1));
    }
    assert_int_equal(entries(fx, "a@x/tmp") + entries(fx, "b@x/tmp") + entries(fx, "c@x/tmp"), 0);
}

static void test_write_enospc(void **state)
{
    struct fx *fx = *state;
    char name[NAME_MAX + 1];
    struct smtp_delivery *d = begin_with(fx, "a@x", "first part", name);
    fault("write", "/a@x/tmp/", 1, -1, ENOSPC);
    assert_int_equal(smtp_maildir_write(d, MSG, strlen(MSG)), -ENOSPC);
    fault_reset();
    assert_int_equal(smtp_maildir_write(d, MSG, strlen(MSG)), -ENOSPC); /* it sticks */
    smtp_maildir_abort(d);
    assert_empty(fx, "a@x");

    /* and a commit of such a message fails, leaving nothing */
    d = begin_with(fx, "a@x", "first part", name);
    fault("write", NULL, 1, 1, EIO);
    assert_int_equal(smtp_maildir_write(d, MSG, strlen(MSG)), -EIO);
    const char *folders[] = {"a@x", "b@x"};
    assert_int_equal(commit_one(d, folders, 2), -EIO);
    assert_empty(fx, "a@x");
    assert_empty(fx, "b@x");
    smtp_maildir_abort(NULL);
}

static void test_begin_failures(void **state)
{
    struct fx *fx = *state;
    struct smtp_delivery *d = (struct smtp_delivery *)fx;
    fault("openat", "/a@x/tmp/", 1, -1, ENOSPC);
    assert_int_equal(smtp_maildir_begin(fx->md, "a@x", &d), -ENOSPC);
    assert_null(d);
    assert_empty(fx, "a@x");
    fault_reset();
    fault("mkdirat", "/b@x/new", 1, 1, EACCES);
    assert_int_equal(smtp_maildir_begin(fx->md, "b@x", &d), -EACCES);
    assert_null(d);
    assert_empty(fx, "b@x");
    static const char *const bad[] = {"", ".", "..", "a/b", "/"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(smtp_maildir_begin(fx->md, bad[i], &d), -EINVAL);
    char longname[NAME_MAX + 2];
    memset(longname, 'x', sizeof longname - 1);
    longname[sizeof longname - 1] = '\0';
    assert_int_equal(smtp_maildir_begin(fx->md, longname, &d), -EINVAL);
}

static void test_file_fsync_fails(void **state)
{
    struct fx *fx = *state;
    char n0[NAME_MAX + 1], n1[NAME_MAX + 1];
    struct smtp_delivery *ds[2] = {begin_with(fx, "a@x", MSG, n0), begin_with(fx, "c@x", MSG, n1)};
    const char *f0[] = {"a@x", "b@x"}, *f1[] = {"c@x"};
    const char *const *folders[] = {f0, f1};
    size_t nfolders[] = {2, 1};
    int results[2];
    fault("fsync", NULL, 1, 1, EIO); /* the first fsync: the first message's file */
    assert_int_equal(smtp_maildir_commit(ds, 2, folders, nfolders, results), -EIO);
    assert_int_equal(results[0], -EIO);
    assert_int_equal(results[1], 0);
    assert_empty(fx, "a@x");
    assert_empty(fx, "b@x");
    assert_delivered(fx, "c@x", n1, MSG, strlen(MSG));
    assert_int_equal(entries(fx, "c@x/tmp"), 0);
}

static void test_second_fsync_fails(void **state)
{
    struct fx *fx = *state;
    char name[NAME_MAX + 1];
    struct smtp_delivery *d = begin_with(fx, "a@x", MSG, name);
    const char *folders[] = {"a@x"};
    fault("fsync", NULL, 2, 1, EIO); /* the file syncs, its new/ does not */
    assert_int_equal(commit_one(d, folders, 1), -EIO);
    assert_string_equal(fsynced[1] + strlen(fsynced[1]) - 8, "/a@x/new");
    assert_empty(fx, "a@x");
}

static void test_link_fails_for_second_recipient(void **state)
{
    struct fx *fx = *state;
    char name[NAME_MAX + 1];
    struct smtp_delivery *d = begin_with(fx, "a@x", MSG, name);
    const char *folders[] = {"a@x", "b@x", "c@x"};
    fault("linkat", "/b@x/new/", 1, 1, EMLINK);
    assert_int_equal(commit_one(d, folders, 3), -EMLINK);
    assert_empty(fx, "a@x");
    assert_empty(fx, "b@x");
    assert_empty(fx, "c@x");
    assert_int_equal(fsyncs_of("/new"), 0); /* nothing left to sync */
}

static void test_new_dir_fsync_fails(void **state)
{
    struct fx *fx = *state;
    char n0[NAME_MAX + 1], n1[NAME_MAX + 1], n2[NAME_MAX + 1];
    struct smtp_delivery *ds[3] = {
        begin_with(fx, "a@x", MSG, n0),
        begin_with(fx, "c@x", "other", n1),
        begin_with(fx, "a@x", "third", n2),
    };
    const char *f0[] = {"a@x", "b@x", "c@x"}, *f1[] = {"c@x"}, *f2[] = {"a@x"};
    const char *const *folders[] = {f0, f1, f2};
    size_t nfolders[] = {3, 1, 1};
    int results[3];
    fault("fsync", "/b@x/new", 1, 1, EIO);
    assert_int_equal(smtp_maildir_commit(ds, 3, folders, nfolders, results), -EIO);
    assert_int_equal(results[0], -EIO);
    assert_int_equal(results[1], 0);
    assert_int_equal(results[2], 0);
    assert_empty(fx, "b@x");
    assert_delivered(fx, "a@x", n2, "third", 5); /* only the third message */
    assert_delivered(fx, "c@x", n1, "other", 5);
    assert_int_equal(entries(fx, "a@x/tmp") + entries(fx, "c@x/tmp"), 0);
    /* The links taken back from a@x and c@x are durable: each new/ synced a second time. */
    assert_int_equal(fsyncs_of("/a@x/new"), 2);
    assert_int_equal(fsyncs_of("/c@x/new"), 2);
    assert_int_equal(fsyncs_of("/b@x/new"), 1);
}

static void test_root_fsync_fails_for_new_folder(void **state)
{
    struct fx *fx = *state;
    char name[NAME_MAX + 1];
    struct smtp_delivery *d = begin_with(fx, "a@x", MSG, name);
    const char *folders[] = {"a@x"};
    assert_int_equal(commit_one(d, folders, 1), 0); /* a@x is now known */
    d = begin_with(fx, "a@x", MSG, name);
    const char *two[] = {"a@x", "z@x"};
    fault("fsync", "/var/mail$", 1, 1, EIO); /* the root */
    assert_int_equal(commit_one(d, two, 2), -EIO);
    assert_int_equal(entries(fx, "a@x/new"), 1); /* only the first message */
    assert_empty(fx, "z@x");
    /* z@x was not remembered: the next message syncs the root again */
    nfsyncs = 0;
    d = begin_with(fx, "z@x", MSG, name);
    const char *z[] = {"z@x"};
    assert_int_equal(commit_one(d, z, 1), 0);
    assert_int_equal(fsyncs_of("/var/mail"), 1);
    assert_delivered(fx, "z@x", name, MSG, strlen(MSG));
}

static void test_exdev_copies(void **state)
{
    struct fx *fx = *state;
    char name[NAME_MAX + 1];
    struct smtp_delivery *d = begin_with(fx, "a@x", MSG, name);
    const char *folders[] = {"a@x", "b@x"};
    fault("linkat", "/b@x/new/", 1, -1, EXDEV);
    assert_int_equal(commit_one(d, folders, 2), 0);
    assert_delivered(fx, "a@x", name, MSG, strlen(MSG));
    assert_delivered(fx, "b@x", name, MSG, strlen(MSG));
    assert_int_equal(entries(fx, "a@x/tmp") + entries(fx, "b@x/tmp"), 0);
    assert_int_equal(fsyncs_of(name), 2); /* the file, then its copy in b@x/tmp/ */

    /* a copy that cannot be written, synced or renamed leaves nothing anywhere */
    static const struct {
        const char *fn, *match;
        int err;
    } steps[] = {{"write", "/b@x/tmp/", ENOSPC},
                 {"fsync", "/b@x/tmp/", EIO},
                 {"renameat", "/b@x/new/", EIO}};
    for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++) {
        fault_reset();
        d = begin_with(fx, "c@x", MSG, name);
        fault("linkat", "/b@x/new/", 1, -1, EXDEV);
        fault(steps[i].fn, steps[i].match, 1, -1, steps[i].err);
        const char *two[] = {"c@x", "b@x"};
        assert_int_equal(commit_one(d, two, 2), -steps[i].err);
        assert_empty(fx, "c@x");
        assert_int_equal(entries(fx, "b@x/new"), 1); /* the first message only */
        assert_int_equal(entries(fx, "b@x/tmp"), 0);
    }
}

static void test_folder_created_on_demand(void **state)
{
    struct fx *fx = *state;
    char name[NAME_MAX + 1];
    assert_int_equal(entries(fx, "new@x"), -1);
    struct smtp_delivery *d = begin_with(fx, "new@x", MSG, name);
    assert_true(is_dir(fx, "new@x/tmp"));
    assert_true(is_dir(fx, "new@x/new"));
    assert_true(is_dir(fx, "new@x/cur"));
    const char *folders[] = {"new@x", "other@x"};
    assert_int_equal(commit_one(d, folders, 2), 0);
    assert_true(is_dir(fx, "other@x/tmp"));
    assert_true(is_dir(fx, "other@x/cur"));
    assert_delivered(fx, "other@x", name, MSG, strlen(MSG));

    /* a folder whose new/ alone is missing gets it back */
    char p[PATH_MAX * 2];
    spath(p, sizeof p, "%s/new@x/new/%s", fx->root, name);
    assert_int_equal(unlink(p), 0);
    spath(p, sizeof p, "%s/new@x/new", fx->root);
    assert_int_equal(rmdir(p), 0);
    d = begin_with(fx, "other@x", MSG, name);
    const char *again[] = {"other@x", "new@x"};
    assert_int_equal(commit_one(d, again, 2), 0);
    assert_delivered(fx, "new@x", name, MSG, strlen(MSG));
}

static int compare_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Makes n names in folder (each file created, then removed), checked against the pattern. */
static char **make_names(struct smtp_maildir *md, const char *folder, size_t n, char **ids)
{
    regex_t re;
    assert_int_equal(regcomp(&re,
                             "^[1-9][0-9]*\\.M(0|[1-9][0-9]{0,5})P[1-9][0-9]*Q(0|[1-9][0-9]*)"
                             "\\.mx\\\\057host\\\\072x$",
                             REG_EXTENDED | REG_NOSUB),
                     0);
    char **names = calloc(n, sizeof *names);
    for (size_t i = 0; i < n; i++) {
        struct smtp_delivery *d = NULL;
        assert_int_equal(smtp_maildir_begin(md, folder, &d), 0);
        names[i] = strdup(smtp_delivery_name(d));
        if (ids)
            ids[i] = strdup(smtp_delivery_queue_id(d));
        if (regexec(&re, names[i], 0, NULL, 0) != 0)
            fail_msg("bad name %s", names[i]);
        smtp_maildir_abort(d);
    }
    regfree(&re);
    return names;
}

static void assert_distinct(char **v, size_t n)
{
    qsort(v, n, sizeof *v, compare_names);
    for (size_t i = 1; i < n; i++) {
        if (strcmp(v[i - 1], v[i]) == 0)
            fail_msg("duplicate %s", v[i]);
    }
}

static void free_all(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

static struct smtp_maildir *open_host(struct fx *fx, const char *host)
{
    struct smtp_maildir *md = NULL;
    char err[WK_ERR_LEN];
    assert_int_equal(smtp_maildir_open(fx->root, host, &md, err), 0);
    return md;
}

static void test_names_unique(void **state)
{
    struct fx *fx = *state;
    enum { N = 10000 };
    struct smtp_maildir *md = open_host(fx, "mx/host:x");
    char **ids = calloc(N, sizeof *ids);
    char **names = make_names(md, "a@x", N, ids);
    assert_distinct(names, N);
    assert_distinct(ids, N);
    for (size_t i = 0; i < N; i++)
        assert_int_equal(strlen(ids[i]), SMTP_MAILDIR_QUEUE_ID_LEN);
    assert_int_equal(entries(fx, "a@x/tmp"), 0);
    free_all(names, N);
    free_all(ids, N);
    smtp_maildir_close(md);
}

static void test_fork_no_collision(void **state)
{
    struct fx *fx = *state;
    enum { N = 2000 };
    struct smtp_maildir *md = open_host(fx, "mx/host:x");
    char **warm = make_names(md, "a@x", 1, NULL); /* the counter is not 0 when forking */
    free_all(warm, 1);
    int go[2];
    char out[PATH_MAX + 16];
    spath(out, sizeof out, "%s/child.names", fx->dir);
    assert_int_equal(pipe(go), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        char byte;
        close(go[1]);
        int ok = read(go[0], &byte, 1) == 1;
        char **names = make_names(md, "a@x", N, NULL);
        FILE *f = fopen(out, "w");
        for (size_t i = 0; ok && f && i < N; i++)
            ok = fprintf(f, "%s\n", names[i]) > 0;
        ok = f && fclose(f) == 0 && ok;
        _exit(ok ? 0 : 1);
    }
    close(go[0]);
    assert_int_equal(__real_write(go[1], "x", 1), 1); /* both start together */
    close(go[1]);
    char **names = make_names(md, "a@x", N, NULL);
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    names = realloc(names, 2 * N * sizeof *names);
    FILE *f = fopen(out, "r");
    assert_non_null(f);
    char line[NAME_MAX + 2];
    size_t n = N;
    while (n < 2 * N && fgets(line, sizeof line, f)) {
        line[strcspn(line, "\n")] = '\0';
        names[n++] = strdup(line);
    }
    fclose(f);
    assert_int_equal(n, 2 * N);
    assert_distinct(names, n);
    assert_int_equal(entries(fx, "a@x/tmp"), 0);
    free_all(names, n);
    smtp_maildir_close(md);
}

static void test_open_errors(void **state)
{
    struct fx *fx = *state;
    char p[PATH_MAX + 16], err[WK_ERR_LEN] = "";
    struct smtp_maildir *md = (struct smtp_maildir *)fx;
    spath(p, sizeof p, "%s/file", fx->dir);
    FILE *f = fopen(p, "w");
    fclose(f);
    spath(p, sizeof p, "%s/file/mail", fx->dir);
    assert_int_equal(smtp_maildir_open(p, "h", &md, err), -ENOTDIR);
    assert_null(md);
    assert_non_null(strstr(err, p));
    char host[300];
    memset(host, ':', sizeof host - 1);
    host[sizeof host - 1] = '\0';
    assert_int_equal(smtp_maildir_open(fx->root, host, &md, err), -ENAMETOOLONG);
    assert_null(md);
    assert_int_equal(smtp_maildir_open(fx->root, NULL, &md, err), 0); /* gethostname() */
    smtp_maildir_close(md);
    smtp_maildir_close(NULL);
    /* an existing store opens as it is */
    md = open_host(fx, "h");
    smtp_maildir_close(md);
    /* relative names, as the default ./var/mail */
    int cwd = open(".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    assert_true(cwd >= 0);
    assert_int_equal(chdir(fx->dir), 0);
    int rc1 = smtp_maildir_open("./rel/mail/", "h", &md, err);
    smtp_maildir_close(md);
    int rc2 = smtp_maildir_open("rel2", "h", &md, err);
    smtp_maildir_close(md);
    assert_int_equal(fchdir(cwd), 0);
    close(cwd);
    assert_int_equal(rc1, 0);
    assert_int_equal(rc2, 0);
    spath(p, sizeof p, "%s/rel/mail", fx->dir);
    struct stat st;
    assert_int_equal(stat(p, &st), 0);
    assert_true(S_ISDIR(st.st_mode));
    assert_int_equal(st.st_mode & 0777, 0750 & ~current_umask());
}

/* Sets a file's access and modification times to t. */
static void set_times(struct fx *fx, const char *sub, time_t t)
{
    char p[PATH_MAX];
    spath(p, sizeof p, "%s/%s", fx->root, sub);
    struct timespec ts[2] = {{.tv_sec = t}, {.tv_sec = t}};
    assert_int_equal(utimensat(AT_FDCWD, p, ts, 0), 0);
}

static void make_file(struct fx *fx, const char *sub)
{
    char p[PATH_MAX];
    spath(p, sizeof p, "%s/%s", fx->root, sub);
    int fd = open(p, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    assert_true(fd >= 0);
    close(fd);
}

static void test_sweep_stale_tmp(void **state)
{
    struct fx *fx = *state;
    char n0[NAME_MAX + 1];
    struct smtp_delivery *d = begin_with(fx, "a@x", MSG, n0); /* makes a@x/{tmp,new,cur} */
    const char *f[] = {"a@x"};
    const char *const *folders[] = {f};
    size_t nf[] = {1};
    int results[1];
    assert_int_equal(smtp_maildir_commit(&d, 1, folders, nf, results), 0);
    time_t now = time(NULL);
    make_file(fx, "a@x/tmp/old");
    make_file(fx, "a@x/tmp/recent");
    make_file(fx, "a@x/tmp/just-in-time");
    char dir[PATH_MAX];
    spath(dir, sizeof dir, "%s/a@x/tmp/a-directory", fx->root);
    assert_int_equal(mkdir(dir, 0700), 0);
    set_times(fx, "a@x/tmp/old", now - SMTP_MAILDIR_STALE_S - 60);
    set_times(fx, "a@x/tmp/recent", now - 60);
    set_times(fx, "a@x/tmp/just-in-time", now - SMTP_MAILDIR_STALE_S + 60);
    set_times(fx, "a@x/tmp/a-directory", now - 2 * SMTP_MAILDIR_STALE_S);
    set_times(fx, "a@x/new", now); /* the delivered message is never looked at */
    char delivered[PATH_MAX];
    spath(delivered, sizeof delivered, "a@x/new/%s", n0);
    set_times(fx, delivered, now - 3 * SMTP_MAILDIR_STALE_S);
    assert_int_equal(smtp_maildir_sweep(fx->md, now), 1);
    assert_int_equal(entries(fx, "a@x/tmp"), 3); /* recent, just-in-time, a-directory */
    assert_int_equal(entries(fx, "a@x/new"), 1);
    assert_int_equal(smtp_maildir_sweep(fx->md, now), 0); /* and again: nothing left to do */
}

static void test_commit_invalid(void **state)
{
    struct fx *fx = *state;
    char name[NAME_MAX + 1];
    struct smtp_delivery *ds[3] = {NULL, begin_with(fx, "a@x", MSG, name),
                                   begin_with(fx, "a@x", MSG, name)};
    const char *f[] = {"a@x"}, *bad[] = {"../a@x"};
    const char *const *folders[] = {f, f, bad};
    size_t nfolders[] = {1, 0, 1};
    int results[3];
    assert_int_equal(smtp_maildir_commit(ds, 3, folders, nfolders, results), -EINVAL);
    assert_int_equal(results[0], -EINVAL);
    assert_int_equal(results[1], -EINVAL);
    assert_int_equal(results[2], -EINVAL);
    assert_empty(fx, "a@x");
    assert_int_equal(smtp_maildir_commit(NULL, 0, NULL, NULL, NULL), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_deliver_one, setup, teardown),
        cmocka_unit_test_setup_teardown(test_short_writes_and_eintr, setup, teardown),
        cmocka_unit_test_setup_teardown(test_several_recipients_same_bytes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_batch_fsyncs_each_new_dir_once, setup, teardown),
        cmocka_unit_test_setup_teardown(test_write_enospc, setup, teardown),
        cmocka_unit_test_setup_teardown(test_begin_failures, setup, teardown),
        cmocka_unit_test_setup_teardown(test_file_fsync_fails, setup, teardown),
        cmocka_unit_test_setup_teardown(test_second_fsync_fails, setup, teardown),
        cmocka_unit_test_setup_teardown(test_link_fails_for_second_recipient, setup, teardown),
        cmocka_unit_test_setup_teardown(test_new_dir_fsync_fails, setup, teardown),
        cmocka_unit_test_setup_teardown(test_root_fsync_fails_for_new_folder, setup, teardown),
        cmocka_unit_test_setup_teardown(test_exdev_copies, setup, teardown),
        cmocka_unit_test_setup_teardown(test_folder_created_on_demand, setup, teardown),
        cmocka_unit_test_setup_teardown(test_names_unique, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fork_no_collision, setup, teardown),
        cmocka_unit_test_setup_teardown(test_open_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sweep_stale_tmp, setup, teardown),
        cmocka_unit_test_setup_teardown(test_commit_invalid, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
