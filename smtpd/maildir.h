/*
 * maildir.h: delivery into Maildirs (cr.yp.to/proto/maildir.html), one per
 * recipient under a root: ROOT/<folder>/{tmp,new,cur}. A message is written
 * to tmp/ under a unique name, then committed in batches: each file is
 * fsynced, linked into every recipient's new/, and each new/ directory is
 * fsynced once per batch, so that many messages share the directory syncs.
 * A crash at any moment leaves in new/ either nothing or the whole message.
 * Owns the root's directory fd and the files being written; does not own
 * folder names (callers check them) nor decide what to reply or log.
 */
#ifndef SMTP_MAILDIR_H
#define SMTP_MAILDIR_H

#include <stddef.h>
#include <sys/types.h>
#include <time.h>

#include "common/wk.h"

/* Length of a queue id, without its NUL. */
#define SMTP_MAILDIR_QUEUE_ID_LEN 16

struct smtp_maildir;
struct smtp_delivery;

/*
 * Opens the store at root, creating it and its parents if missing (0750).
 * hostname goes into file names ('/' and ':' encoded as \057 and \072);
 * NULL or "" means gethostname(). Returns 0 and *out (free with
 * smtp_maildir_close), or -errno with a message naming the path in err.
 */
int smtp_maildir_open(const char *root, const char *hostname, struct smtp_maildir **out,
                      char err[WK_ERR_LEN]);

/*
 * For a server about to switch to uid and gid: a store root this process
 * created (as root) becomes theirs; an existing one is left as it is.
 * Returns 0 or -errno with a message in err.
 */
int smtp_maildir_give(struct smtp_maildir *md, uid_t uid, gid_t gid, char err[WK_ERR_LEN]);

/*
 * Checks that the process, as its real uid, may create folders in the store
 * (after switching users). Returns 0, or -errno with a message naming root.
 */
int smtp_maildir_check(struct smtp_maildir *md, const char *root, char err[WK_ERR_LEN]);

/* A tmp/ file untouched this long is left over from a crash (the Maildir rule). */
#define SMTP_MAILDIR_STALE_S (36 * 3600)

/*
 * Removes the files in each folder's tmp/ that nothing has read or written
 * for SMTP_MAILDIR_STALE_S before now (a message being received is written
 * to all the time, so it is never one of them). Returns how many it removed,
 * or -errno if the store could not be read.
 */
ssize_t smtp_maildir_sweep(struct smtp_maildir *md, time_t now);

/* Closes the root fd and frees md. Deliveries must be committed or aborted first. NULL ok. */
void smtp_maildir_close(struct smtp_maildir *md);

/*
 * Starts a message for folder (a single path component such as "local@domain",
 * checked by the caller), creating ROOT/folder/{tmp,new,cur} if missing, and
 * opening ROOT/folder/tmp/<unique name> exclusively. Names are unique across
 * processes, including children forked after smtp_maildir_open. Returns 0 and
 * *out, owned by the caller until smtp_maildir_commit or smtp_maildir_abort,
 * or -EINVAL (bad folder name), -ENOMEM, -ENAMETOOLONG or the errno of
 * mkdirat/openat (-ENOSPC, -EACCES...).
 */
int smtp_maildir_begin(struct smtp_maildir *md, const char *folder, struct smtp_delivery **out);

/*
 * Appends n bytes to the message: the whole of it, EINTR retried. Returns 0 or
 * -errno (-ENOSPC, -EIO...). An error sticks: later writes and the commit of d
 * return it too.
 */
int smtp_maildir_write(struct smtp_delivery *d, const void *p, size_t n);

/*
 * The queue id of d: SMTP_MAILDIR_QUEUE_ID_LEN characters from [0-9A-V],
 * made of the same time, pid and counter as the file name, so it sorts by
 * time. Valid as long as d.
 */
const char *smtp_delivery_queue_id(const struct smtp_delivery *d);

/* The unique file name of d ("<sec>.M<usec>P<pid>Q<n>.<host>"). Valid as long as d. */
const char *smtp_delivery_name(const struct smtp_delivery *d);

/*
 * Commits n messages at once. Delivery i goes to the nfolders[i] folders
 * folders[i][0..], the first being the one it was begun in (others are created
 * on demand; a folder listed twice is delivered once). For each: fsync the
 * file, link it into each folder's new/ (on EXDEV, copy it through that
 * folder's tmp/, fsync, rename), then fsync every new/ directory involved once
 * for the whole batch (and a folder's parent directories the first time this
 * process uses it), and finally remove the tmp/ file.
 * results[i] is 0 when every folder's new/ durably holds the whole message,
 * else -errno, and then nothing of message i is left in any new/ (nor tmp/).
 * Frees every delivery in ds, whatever happens (ds[i] may be NULL: -EINVAL).
 * Returns 0 if every result is 0, else the first failure.
 */
int smtp_maildir_commit(struct smtp_delivery *const *ds, size_t n,
                        const char *const *const *folders, const size_t *nfolders, int *results);

/* Removes d's tmp/ file and frees d. NULL ok. */
void smtp_maildir_abort(struct smtp_delivery *d);

#endif
