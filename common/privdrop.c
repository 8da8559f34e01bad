/*
 * privdrop.c: the switch from root to an ordinary user, done the way
 * OpenSMTPD's and nginx's processes do it (setgroups, setresgid, setresuid),
 * and then verified rather than trusted.
 */
#include "common/privdrop.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"

int wk_user_lookup(const char *name, struct wk_user *out, char err[WK_ERR_LEN])
{
    errno = 0;
    struct passwd *pw = getpwnam(name);
    if (pw == NULL) {
        int e = errno ? errno : ENOENT;
        snprintf(err, WK_ERR_LEN, "--user %s: %s", name,
                 e == ENOENT ? "no such user" : strerror(e));
        return -e;
    }
    *out = (struct wk_user){.name = name, .uid = pw->pw_uid, .gid = pw->pw_gid};
    return 0;
}

bool wk_privdrop_is_root(void)
{
    return geteuid() == 0;
}

int wk_privdrop(const struct wk_user *u, char err[WK_ERR_LEN])
{
    if (geteuid() != 0) {
        if (getuid() == u->uid && geteuid() == u->uid)
            return 0; /* started as that user: nothing to give up */
        snprintf(err, WK_ERR_LEN, "--user %s: only root can switch users (running as uid %u)",
                 u->name, (unsigned)geteuid());
        return -EPERM;
    }
    if (u->uid == 0) {
        snprintf(err, WK_ERR_LEN, "--user %s: that is root; name an unprivileged user", u->name);
        return -EINVAL;
    }
    /* Groups first: after the uid changes, the process may no longer change them. */
    if (initgroups(u->name, u->gid) < 0 || setresgid(u->gid, u->gid, u->gid) < 0 ||
        setresuid(u->uid, u->uid, u->uid) < 0) {
        int e = errno;
        snprintf(err, WK_ERR_LEN, "--user %s: cannot switch to uid %u gid %u: %s", u->name,
                 (unsigned)u->uid, (unsigned)u->gid, strerror(e));
        return -e;
    }
    /* Trust nothing: root must be out of reach, by every id. */
    uid_t ruid, euid, suid;
    gid_t rgid, egid, sgid;
    if (setuid(0) == 0 || seteuid(0) == 0 || setgid(0) == 0 || getresuid(&ruid, &euid, &suid) < 0 ||
        getresgid(&rgid, &egid, &sgid) < 0 || ruid != u->uid || euid != u->uid || suid != u->uid ||
        rgid != u->gid || egid != u->gid || sgid != u->gid) {
        snprintf(err, WK_ERR_LEN, "--user %s: root could still be regained after the switch",
                 u->name);
        return -EPERM;
    }
    wk_log(WK_LOG_INFO, "user name=%s uid=%u gid=%u", u->name, (unsigned)u->uid, (unsigned)u->gid);
    return 0;
}
