/*
 * maildir.c: Maildir delivery. Owns the store's root directory fd, the tmp/
 * files of messages being written, the directory fds of a commit batch and a
 * bounded set of folders known to be on disk. Folder names are checked by
 * the caller (mailaddr); replies and log lines are the session's.
 *
 * Durability: a message is written to ROOT/folder/tmp/<name>, the file is
 * fsynced, linked into each recipient's new/, and each new/ is fsynced once
 * per batch. A folder this process has not seen on disk before also gets its
 * own directory and the root fsynced, so that the entries leading to new/
 * survive a crash too. On any failure the links already made are removed:
 * new/ never holds part of a message, and holds a whole one only if the
 * caller is told so (or, after a crash, if the fsyncs had completed).
 */
#include "smtpd/maildir.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define MAILDIR_DIR_MODE  0750
#define MAILDIR_FILE_MODE 0640

/* Encoded host name in file names: "<sec>.M<usec>P<pid>Q<n>." takes at most 61 more. */
#define MAILDIR_HOST_MAX 190

/* Exclusive creations tried (each with a new name) before begin gives up with EEXIST. */
#define MAILDIR_NAME_TRIES 16

/* Folders remembered as durable; past the limit they are just fsynced again. */
#define MAILDIR_KNOWN_SLOTS 1024 /* a power of two */
#define MAILDIR_KNOWN_MAX   (MAILDIR_KNOWN_SLOTS / 4 * 3)

/* Buffer for copying a message across file systems (link() failing with EXDEV). */
#define MAILDIR_COPY_BUF 16384

struct smtp_maildir {
    int root;              /* O_DIRECTORY fd of the store */
    bool created;          /* this process made the root directory */
    unsigned long counter; /* names made by this process (and its parent before a fork) */
    size_t nknown;
    char *known[MAILDIR_KNOWN_SLOTS]; /* folders whose entries are durable, open addressing */
    char host[MAILDIR_HOST_MAX + 1];  /* encoded for file names */
};

struct smtp_delivery {
    struct smtp_maildir *md;
    int fd;       /* the tmp/ file, write-only */
    int error;    /* first write error, sticky */
    bool created; /* begin made folder directories: their parents need an fsync */
    char folder[NAME_MAX + 1];
    char name[NAME_MAX + 1];
    char queue_id[SMTP_MAILDIR_QUEUE_ID_LEN + 1];
};

/* One folder of a commit batch. */
struct target {
    const char *folder; /* the caller's string; NULL marks a free slot */
    int dir;            /* its new/, or -1 */
    int error;          /* opening or syncing it failed: every message linked there fails */
    bool fresh;         /* its entries in the root and the folder may not be durable yet */
    bool used;          /* holds a link that must be synced */
    bool unlinked;      /* a link was taken back after the sync: sync again */
};

/* One message of a commit batch and the targets it is linked into so far. */
struct pending {
    struct smtp_delivery *d;
    struct target **links;
    size_t nlinks;
};

struct batch {
    struct smtp_maildir *md;
    struct target *targets; /* open addressing by folder name */
    size_t cap;             /* a power of two */
    struct pending *pending;
    struct target **links; /* sliced among the pending messages */
};

/* Checked snprintf into a path buffer: 0 or -ENAMETOOLONG. */
__attribute__((format(printf, 3, 4))) static int path(char *buf, size_t size, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, size, fmt, ap);
    va_end(ap);
    return n < 0 || (size_t)n >= size ? -ENAMETOOLONG : 0;
}

/* FNV-1a. */
static size_t hash(const char *s)
{
    uint64_t h = 14695981039346656037ULL;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return (size_t)h;
}

static bool folder_ok(const char *f)
{
    size_t n = f ? strnlen(f, NAME_MAX + 1) : 0;
    return n > 0 && n <= NAME_MAX && !memchr(f, '/', n) && strcmp(f, ".") != 0 &&
           strcmp(f, "..") != 0;
}

static int write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            return -errno;
        if (w == 0)
            return -EIO;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

static int sync_dir_at(int dirfd, const char *p)
{
    int fd = openat(dirfd, p, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    int rc = fsync(fd) < 0 ? -errno : 0;
    close(fd);
    return rc;
}

/* ---- the store ---- */

/* fsyncs the directory holding p, so that a newly made p survives a crash. */
static int sync_parent(const char *p)
{
    char dir[PATH_MAX];
    const char *slash = strrchr(p, '/');
    int len = !slash || slash == p ? 1 : (int)(slash - p); /* ".", "/" or the prefix */
    int rc = path(dir, sizeof dir, "%.*s", len, slash ? p : ".");
    return rc < 0 ? rc : sync_dir_at(AT_FDCWD, dir);
}

/* mkdir -p, each new directory made durable; *created: root itself was made. */
static int mkdir_p(const char *root, bool *created)
{
    char p[PATH_MAX];
    int rc = path(p, sizeof p, "%s", root);
    size_t len = strlen(p);
    if (rc == 0 && len == 0)
        rc = -ENOENT;
    for (size_t i = 1; rc == 0 && i <= len; i++) {
        if ((p[i] != '/' && p[i] != '\0') || p[i - 1] == '/')
            continue;
        char saved = p[i];
        struct stat st;
        p[i] = '\0';
        *created = false;
        if (mkdir(p, MAILDIR_DIR_MODE) == 0) {
            *created = true;
            rc = sync_parent(p);
        } else if (errno != EEXIST) {
            rc = -errno; /* but EROFS or EACCES on an existing directory is no error */
            if (stat(p, &st) == 0 && S_ISDIR(st.st_mode))
                rc = 0;
        }
        p[i] = saved;
    }
    return rc;
}

/* Encodes the host name part of file names as the Maildir specification asks. */
static int encode_host(struct smtp_maildir *md, const char *hostname)
{
    char sys[HOST_NAME_MAX + 1];
    if (!hostname || !*hostname) {
        if (gethostname(sys, sizeof sys) < 0)
            return -errno;
        sys[sizeof sys - 1] = '\0';
        hostname = sys;
    }
    size_t o = 0;
    for (const char *s = hostname; *s; s++) {
        const char *rep = *s == '/' ? "\\057" : *s == ':' ? "\\072" : s;
        size_t n = rep == s ? 1 : 4;
        if (o + n > MAILDIR_HOST_MAX)
            return -ENAMETOOLONG;
        memcpy(md->host + o, rep, n);
        o += n;
    }
    md->host[o] = '\0';
    return o > 0 ? 0 : -EINVAL;
}

int smtp_maildir_open(const char *root, const char *hostname, struct smtp_maildir **out,
                      char err[WK_ERR_LEN])
{
    *out = NULL;
    struct smtp_maildir *md = calloc(1, sizeof *md);
    if (!md) {
        snprintf(err, WK_ERR_LEN, "maildir %s: out of memory", root);
        return -ENOMEM;
    }
    md->root = -1;
    int rc = encode_host(md, hostname);
    if (rc < 0) {
        snprintf(err, WK_ERR_LEN, "maildir %s: host name \"%s\": %s", root,
                 hostname ? hostname : "", strerror(-rc));
        goto fail;
    }
    rc = mkdir_p(root, &md->created);
    if (rc == 0 && (md->root = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
        rc = -errno;
    if (rc < 0) {
        snprintf(err, WK_ERR_LEN, "maildir %s: %s", root, strerror(-rc));
        goto fail;
    }
    *out = md;
    return 0;
fail:
    smtp_maildir_close(md);
    return rc;
}

int smtp_maildir_give(struct smtp_maildir *md, uid_t uid, gid_t gid, char err[WK_ERR_LEN])
{
    if (!md->created || fchown(md->root, uid, gid) == 0)
        return 0;
    int e = errno;
    snprintf(err, WK_ERR_LEN, "maildir: cannot give it to uid %u: %s", (unsigned)uid, strerror(e));
    return -e;
}

int smtp_maildir_check(struct smtp_maildir *md, const char *root, char err[WK_ERR_LEN])
{
    if (faccessat(md->root, ".", W_OK | X_OK, 0) == 0)
        return 0;
    int e = errno;
    snprintf(err, WK_ERR_LEN, "maildir %s: uid %u cannot write there (%s); chown it to that user",
             root, (unsigned)getuid(), strerror(e));
    return -e;
}

/* Removes the stale files of one folder's tmp/. Returns how many. */
static size_t sweep_folder(int root, const char *folder, time_t before)
{
    char tmp[NAME_MAX + 5];
    if (snprintf(tmp, sizeof tmp, "%s/tmp", folder) >= (int)sizeof tmp)
        return 0;
    int fd = openat(root, tmp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    DIR *dir = fd >= 0 ? fdopendir(fd) : NULL;
    if (dir == NULL) {
        if (fd >= 0)
            close(fd);
        return 0;
    }
    size_t removed = 0;
    struct dirent *e;
    while ((e = readdir(dir)) != NULL) {
        struct stat st;
        if (e->d_name[0] == '.' || fstatat(fd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
            !S_ISREG(st.st_mode))
            continue;
        time_t last = st.st_atime > st.st_mtime ? st.st_atime : st.st_mtime;
        if (last < before && unlinkat(fd, e->d_name, 0) == 0)
            removed++;
    }
    closedir(dir);
    return removed;
}

ssize_t smtp_maildir_sweep(struct smtp_maildir *md, time_t now)
{
    int fd = dup(md->root);
    DIR *dir = fd >= 0 ? fdopendir(fd) : NULL;
    if (dir == NULL) {
        int e = errno;
        if (fd >= 0)
            close(fd);
        return -e;
    }
    rewinddir(dir); /* the dup shares the root fd's position: start at the top */
    size_t removed = 0;
    struct dirent *e;
    while ((e = readdir(dir)) != NULL) {
        if (e->d_name[0] != '.' && (e->d_type == DT_DIR || e->d_type == DT_UNKNOWN))
            removed += sweep_folder(md->root, e->d_name, now - SMTP_MAILDIR_STALE_S);
    }
    closedir(dir);
    return (ssize_t)removed;
}

void smtp_maildir_close(struct smtp_maildir *md)
{
    if (!md)
        return;
    for (size_t i = 0; i < MAILDIR_KNOWN_SLOTS; i++)
        free(md->known[i]);
    if (md->root >= 0)
        close(md->root);
    free(md);
}

static size_t known_slot(const struct smtp_maildir *md, const char *folder)
{
    size_t i = hash(folder) & (MAILDIR_KNOWN_SLOTS - 1);
    while (md->known[i] && strcmp(md->known[i], folder) != 0)
        i = (i + 1) & (MAILDIR_KNOWN_SLOTS - 1);
    return i;
}

static bool known_has(const struct smtp_maildir *md, const char *folder)
{
    return md->known[known_slot(md, folder)] != NULL;
}

/* Remembers folder as durable; when full or out of memory it is merely synced again later. */
static void known_add(struct smtp_maildir *md, const char *folder)
{
    size_t i = known_slot(md, folder);
    if (md->known[i] || md->nknown >= MAILDIR_KNOWN_MAX)
        return;
    if ((md->known[i] = strdup(folder)) != NULL)
        md->nknown++;
}

/* Makes ROOT/folder/{tmp,new,cur}; *created tells whether any of them was missing. */
static int ensure_folder(struct smtp_maildir *md, const char *folder, bool *created)
{
    static const char *const parts[] = {"", "/tmp", "/new", "/cur"};
    char p[PATH_MAX];
    for (size_t i = 0; i < WK_ARRAY_LEN(parts); i++) {
        int rc = path(p, sizeof p, "%s%s", folder, parts[i]);
        if (rc < 0)
            return rc;
        if (mkdirat(md->root, p, MAILDIR_DIR_MODE) == 0)
            *created = true;
        else if (errno != EEXIST)
            return -errno;
    }
    return 0;
}

/* ---- one message ---- */

/*
 * 80 bits, 5 per character in the base32hex alphabet (RFC 4648), so that ids
 * sort by time: 52 bits of microseconds since 1970 (until 2112), 22 of the
 * pid (Linux's pid_max is at most 2^22) and the low 6 of the counter.
 */
static void make_queue_id(char *out, uint64_t usec, uint64_t pid, uint64_t n)
{
    static const char digits[] = "0123456789ABCDEFGHIJKLMNOPQRSTUV";
    uint64_t hi = usec & ((UINT64_C(1) << 52) - 1);
    uint64_t lo = (pid & 0x3fffff) << 6 | (n & 0x3f);
    for (int k = 0; k < SMTP_MAILDIR_QUEUE_ID_LEN; k++) {
        unsigned v = 0;
        for (int b = 0; b < 5; b++) {
            int bit = 5 * k + b;
            v = v << 1 | (unsigned)((bit < 52 ? hi >> (51 - bit) : lo >> (79 - bit)) & 1);
        }
        out[k] = digits[v];
    }
    out[SMTP_MAILDIR_QUEUE_ID_LEN] = '\0';
}

/*
 * "<sec>.M<usec>P<pid>Q<n>.<host>": the pid is read now, not at open, so a
 * worker forked after smtp_maildir_open gets names of its own.
 */
static int make_name(struct smtp_delivery *d)
{
    struct smtp_maildir *md = d->md;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    unsigned long long sec = (unsigned long long)ts.tv_sec;
    unsigned long long usec = (unsigned long long)ts.tv_nsec / 1000;
    unsigned long pid = (unsigned long)getpid();
    unsigned long n = md->counter++;
    make_queue_id(d->queue_id, sec * 1000000 + usec, pid, n);
    return path(d->name, sizeof d->name, "%llu.M%lluP%luQ%lu.%s", sec, usec, pid, n, md->host);
}

static int create_tmp(struct smtp_delivery *d)
{
    char p[PATH_MAX];
    int rc = make_name(d);
    if (rc == 0)
        rc = path(p, sizeof p, "%s/tmp/%s", d->folder, d->name);
    if (rc < 0)
        return rc;
    d->fd = openat(d->md->root, p, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, MAILDIR_FILE_MODE);
    return d->fd < 0 ? -errno : 0;
}

int smtp_maildir_begin(struct smtp_maildir *md, const char *folder, struct smtp_delivery **out)
{
    *out = NULL;
    if (!folder_ok(folder))
        return -EINVAL;
    struct smtp_delivery *d = calloc(1, sizeof *d);
    if (!d)
        return -ENOMEM;
    d->md = md;
    d->fd = -1;
    memcpy(d->folder, folder, strlen(folder) + 1);
    int rc = 0;
    bool ensured = false;
    for (int tries = 0; tries < MAILDIR_NAME_TRIES; tries++) {
        rc = create_tmp(d);
        if (rc == -ENOENT && !ensured) {
            ensured = true; /* the first message for this folder */
            rc = ensure_folder(md, folder, &d->created);
            if (rc == 0)
                continue;
        }
        if (rc != -EEXIST)
            break; /* EEXIST: the name is taken (the clock went back?), try the next */
    }
    if (rc < 0) {
        free(d);
        return rc;
    }
    *out = d;
    return 0;
}

int smtp_maildir_write(struct smtp_delivery *d, const void *p, size_t n)
{
    if (d->error == 0)
        d->error = write_all(d->fd, p, n);
    return d->error;
}

const char *smtp_delivery_queue_id(const struct smtp_delivery *d)
{
    return d->queue_id;
}

const char *smtp_delivery_name(const struct smtp_delivery *d)
{
    return d->name;
}

/* Closes and removes the tmp/ file, and frees d. */
static void finish(struct smtp_delivery *d)
{
    char p[PATH_MAX];
    if (d->fd >= 0)
        close(d->fd);
    if (path(p, sizeof p, "%s/tmp/%s", d->folder, d->name) == 0)
        unlinkat(d->md->root, p, 0);
    free(d);
}

void smtp_maildir_abort(struct smtp_delivery *d)
{
    if (d)
        finish(d);
}

/* ---- commit ---- */

static int batch_init(struct batch *b, struct smtp_maildir *md, size_t n, const size_t *nfolders)
{
    size_t total = 0;
    for (size_t i = 0; i < n; i++) {
        if (nfolders[i] > SIZE_MAX / 4 - total)
            return -ENOMEM;
        total += nfolders[i];
    }
    *b = (struct batch){.md = md, .cap = 8};
    while (b->cap < 2 * total)
        b->cap *= 2;
    b->targets = calloc(b->cap, sizeof *b->targets);
    b->pending = calloc(n, sizeof *b->pending);
    b->links = calloc(total ? total : 1, sizeof *b->links);
    return b->targets && b->pending && b->links ? 0 : -ENOMEM;
}

static void batch_fini(struct batch *b)
{
    for (size_t i = 0; b->targets && i < b->cap; i++) {
        if (b->targets[i].folder && b->targets[i].dir >= 0)
            close(b->targets[i].dir);
    }
    free(b->targets);
    free(b->pending);
    free(b->links);
}

/* Opens t's new/, creating the folder if it is missing. */
static int open_target(struct smtp_maildir *md, struct target *t)
{
    char p[PATH_MAX];
    int rc = folder_ok(t->folder) ? path(p, sizeof p, "%s/new", t->folder) : -EINVAL;
    if (rc < 0)
        return rc;
    const int flags = O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW;
    t->fresh = !known_has(md, t->folder);
    t->dir = openat(md->root, p, flags);
    if (t->dir < 0 && errno == ENOENT) {
        rc = ensure_folder(md, t->folder, &t->fresh);
        if (rc < 0)
            return rc;
        t->dir = openat(md->root, p, flags);
    }
    return t->dir < 0 ? -errno : 0;
}

/* The batch's target for folder, opened on first use (its error kept). */
static struct target *target_get(struct batch *b, const char *folder)
{
    size_t i = hash(folder) & (b->cap - 1);
    while (b->targets[i].folder && strcmp(b->targets[i].folder, folder) != 0)
        i = (i + 1) & (b->cap - 1);
    struct target *t = &b->targets[i];
    if (!t->folder) {
        t->folder = folder;
        t->dir = -1;
        t->error = open_target(b->md, t);
    }
    return t;
}

static int copy_fd(int in, int out)
{
    char buf[MAILDIR_COPY_BUF];
    for (;;) {
        ssize_t r = read(in, buf, sizeof buf);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return r < 0 ? -errno : 0;
        int rc = write_all(out, buf, (size_t)r);
        if (rc < 0)
            return rc;
    }
}

/*
 * For a folder on another file system: copies the message into the folder's
 * own tmp/, fsyncs it and renames it into new/, so that new/ still only ever
 * sees whole messages.
 */
static int copy_into(struct smtp_maildir *md, const char *src, const char *name, struct target *t)
{
    char tmp[PATH_MAX];
    int in = -1, out = -1;
    int rc = path(tmp, sizeof tmp, "%s/tmp/%s", t->folder, name);
    if (rc < 0)
        return rc;
    const int flags = O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC;
    if ((in = openat(md->root, src, O_RDONLY | O_CLOEXEC)) < 0 ||
        (out = openat(md->root, tmp, flags, MAILDIR_FILE_MODE)) < 0) {
        rc = -errno;
        goto fail;
    }
    rc = copy_fd(in, out);
    if (rc == 0 && fsync(out) < 0)
        rc = -errno;
    if (rc == 0 && renameat(md->root, tmp, t->dir, name) < 0)
        rc = -errno;
    if (rc < 0)
        unlinkat(md->root, tmp, 0);
fail:
    if (out >= 0)
        close(out);
    if (in >= 0)
        close(in);
    return rc;
}

static int link_into(struct smtp_maildir *md, const struct smtp_delivery *d, struct target *t)
{
    char src[PATH_MAX];
    int rc = path(src, sizeof src, "%s/tmp/%s", d->folder, d->name);
    if (rc < 0)
        return rc;
    if (linkat(md->root, src, t->dir, d->name, 0) == 0)
        return 0;
    return errno == EXDEV ? copy_into(md, src, d->name, t) : -errno;
}

/* Removes every link of p's message made so far. */
static void unlink_all(struct pending *p)
{
    for (size_t k = 0; k < p->nlinks; k++)
        unlinkat(p->links[k]->dir, p->d->name, 0);
    p->nlinks = 0;
}

static bool has_link(const struct pending *p, const struct target *t)
{
    for (size_t k = 0; k < p->nlinks; k++) {
        if (p->links[k] == t)
            return true;
    }
    return false;
}

/* fsyncs p's file and links it into each of its folders' new/ (unsynced yet). */
static int link_message(struct batch *b, struct pending *p, const char *const *folders, size_t nf)
{
    struct smtp_delivery *d = p->d;
    if (d->error < 0)
        return d->error;
    if (nf == 0 || !folders || d->md != b->md)
        return -EINVAL;
    if (fsync(d->fd) < 0)
        return -errno;
    for (size_t j = 0; j < nf; j++) {
        struct target *t = target_get(b, folders[j]);
        if (t->error < 0)
            return t->error;
        if (d->created && strcmp(t->folder, d->folder) == 0)
            t->fresh = true;
        if (has_link(p, t))
            continue;
        int rc = link_into(b->md, d, t);
        if (rc < 0)
            return rc;
        p->links[p->nlinks++] = t;
    }
    return 0;
}

/*
 * fsyncs each new/ that holds a link once; for fresh folders, the folder's
 * directory too, and then the root once. Failures land in the targets.
 */
static void sync_targets(struct batch *b)
{
    bool root = false;
    for (size_t i = 0; i < b->cap; i++) {
        struct target *t = &b->targets[i];
        if (!t->folder || !t->used)
            continue;
        if (fsync(t->dir) < 0)
            t->error = -errno;
        else if (t->fresh && (t->error = sync_dir_at(b->md->root, t->folder)) == 0)
            root = true;
    }
    int rc = root && fsync(b->md->root) < 0 ? -errno : 0;
    for (size_t i = 0; root && i < b->cap; i++) {
        struct target *t = &b->targets[i];
        if (!t->folder || !t->used || !t->fresh || t->error < 0)
            continue;
        if (rc < 0)
            t->error = rc;
        else
            known_add(b->md, t->folder);
    }
}

/* Links each message of the batch; results[i] < 0 for those that failed (and are unlinked). */
static void link_all(struct batch *b, struct smtp_delivery *const *ds, size_t n,
                     const char *const *const *folders, const size_t *nfolders, int *results)
{
    struct target **links = b->links;
    for (size_t i = 0; i < n; i++) {
        struct pending *p = &b->pending[i];
        results[i] = -EINVAL;
        if (!ds[i])
            continue;
        *p = (struct pending){.d = ds[i], .links = links};
        links += nfolders[i];
        results[i] = link_message(b, p, folders[i], nfolders[i]);
        if (results[i] < 0)
            unlink_all(p);
        for (size_t k = 0; k < p->nlinks; k++)
            p->links[k]->used = true;
    }
}

/*
 * Fails, and unlinks, each message linked into a folder whose sync failed.
 * Its links into folders that did sync are taken back durably too: else a
 * crash could bring back a message the client was told had failed, and it
 * would arrive twice when the client retries.
 */
static void settle(struct batch *b, size_t n, int *results)
{
    for (size_t i = 0; i < n; i++) {
        struct pending *p = &b->pending[i];
        for (size_t k = 0; results[i] == 0 && k < p->nlinks; k++) {
            if (p->links[k]->error < 0) {
                results[i] = p->links[k]->error;
                for (size_t j = 0; j < p->nlinks; j++)
                    p->links[j]->unlinked = true;
                unlink_all(p);
            }
        }
    }
    for (size_t i = 0; i < b->cap; i++) {
        struct target *t = &b->targets[i];
        if (t->folder && t->unlinked && t->error == 0 && fsync(t->dir) < 0)
            t->error = -errno; /* nothing more to fail: the messages there failed already */
    }
}

int smtp_maildir_commit(struct smtp_delivery *const *ds, size_t n,
                        const char *const *const *folders, const size_t *nfolders, int *results)
{
    struct smtp_maildir *md = NULL;
    for (size_t i = 0; i < n && !md; i++)
        md = ds[i] ? ds[i]->md : NULL;
    struct batch b = {0};
    int rc = md ? batch_init(&b, md, n, nfolders) : -EINVAL;
    if (rc == 0) {
        link_all(&b, ds, n, folders, nfolders, results);
        sync_targets(&b);
        settle(&b, n, results);
    }
    int first = 0;
    for (size_t i = 0; i < n; i++) {
        if (rc < 0)
            results[i] = rc;
        if (ds[i])
            finish(ds[i]); /* the tmp/ file goes, delivered or not */
        if (first == 0)
            first = results[i];
    }
    batch_fini(&b);
    return first;
}
