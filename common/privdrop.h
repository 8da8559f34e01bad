/*
 * privdrop.h: giving up root for good. A server started as root binds its
 * listeners and reads its keys first, then becomes an ordinary user: its
 * groups, then its group ids, then its user ids (real, effective and saved),
 * and checks that root cannot be had back before it serves anyone.
 */
#ifndef WK_PRIVDROP_H
#define WK_PRIVDROP_H

#include <stdbool.h>
#include <sys/types.h>

#include "common/wk.h"

struct wk_user {
    const char *name; /* as given; not owned */
    uid_t uid;
    gid_t gid;
};

/*
 * Looks name up in the user database (at startup: this may read files).
 * Returns 0 and *out, or -ENOENT/-errno with a message naming it in err.
 */
int wk_user_lookup(const char *name, struct wk_user *out, char err[WK_ERR_LEN]);

/*
 * Becomes u: its supplementary groups (initgroups), gid and uid, then
 * checks that setuid(0) and setgid(0) now fail, and logs "user name=...".
 * Running as u already (not root) is fine and changes nothing. Returns 0,
 * or -errno with a message in err; on any failure the caller must exit, not
 * serve.
 */
int wk_privdrop(const struct wk_user *u, char err[WK_ERR_LEN]);

/* True while the process could still act as root (its effective uid is 0). */
bool wk_privdrop_is_root(void);

#endif
