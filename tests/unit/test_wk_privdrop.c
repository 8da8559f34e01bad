/*
 * test_wk_privdrop.c: giving up root (common/privdrop.c). Each switch runs
 * in a child process, which reports by its exit status: the test process
 * itself keeps its ids. As root, the switch to "nobody" is checked id by id
 * and root must be out of reach afterwards; without root, the switch must
 * be refused unless the process is that user already.
 */
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "common/privdrop.h"

/* Runs fn in a child; returns its exit status (fn's result), or fails if it died. */
static int in_child(int (*fn)(void))
{
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0)
        _exit(fn());
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    return WEXITSTATUS(status);
}

static int drop_to_nobody(void)
{
    char err[WK_ERR_LEN] = "";
    struct wk_user u;
    if (wk_user_lookup("nobody", &u, err) != 0)
        return 10;
    if (wk_privdrop(&u, err) != 0) {
        fprintf(stderr, "%s\n", err);
        return 11;
    }
    uid_t r, e, s;
    gid_t rg, eg, sg;
    if (getresuid(&r, &e, &s) != 0 || r != u.uid || e != u.uid || s != u.uid)
        return 12;
    if (getresgid(&rg, &eg, &sg) != 0 || rg != u.gid || eg != u.gid || sg != u.gid)
        return 13;
    gid_t groups[64];
    int n = getgroups(64, groups);
    for (int i = 0; i < n; i++) {
        if (groups[i] == 0)
            return 14; /* root's group kept as a supplementary one */
    }
    if (setuid(0) == 0 || seteuid(0) == 0 || setgid(0) == 0 || wk_privdrop_is_root())
        return 15;
    /* Once that user, the same switch again is a no-op that succeeds. */
    return wk_privdrop(&u, err) == 0 ? 0 : 16;
}

static void test_root_becomes_nobody(void **state)
{
    (void)state;
    if (geteuid() != 0) {
        /* Without root the switch must be refused, and say why. */
        char err[WK_ERR_LEN] = "";
        struct wk_user u = {.name = "daemon", .uid = getuid() + 1, .gid = getgid()};
        assert_int_equal(wk_privdrop(&u, err), -EPERM);
        assert_non_null(strstr(err, "only root"));
        return;
    }
    assert_int_equal(in_child(drop_to_nobody), 0);
}

static int refuse_other_user_without_root(void)
{
    char err[WK_ERR_LEN] = "";
    struct wk_user nobody, daemon;
    if (wk_user_lookup("nobody", &nobody, err) != 0 || wk_user_lookup("daemon", &daemon, err))
        return 10;
    if (geteuid() == 0 && wk_privdrop(&nobody, err) != 0)
        return 11;
    if (wk_privdrop(&daemon, err) != -EPERM || !strstr(err, "only root"))
        return 12;
    return getuid() == nobody.uid || geteuid() != 0 ? 0 : 13;
}

static void test_not_root_cannot_switch(void **state)
{
    (void)state;
    assert_int_equal(in_child(refuse_other_user_without_root), 0);
}

static void test_lookup(void **state)
{
    (void)state;
    char err[WK_ERR_LEN] = "";
    struct wk_user u;
    { /* a user the system has */
        assert_int_equal(wk_user_lookup("root", &u, err), 0);
        assert_int_equal(u.uid, 0);
        assert_string_equal(u.name, "root");
    }
    { /* one it has not */
        assert_int_equal(wk_user_lookup("no-such-user-wk", &u, err), -ENOENT);
        assert_non_null(strstr(err, "no-such-user-wk"));
        assert_non_null(strstr(err, "no such user"));
    }
}

static void test_root_is_refused_as_the_user(void **state)
{
    (void)state;
    char err[WK_ERR_LEN] = "";
    struct wk_user u = {.name = "root", .uid = 0, .gid = 0};
    int rc = wk_privdrop(&u, err);
    if (geteuid() == 0) {
        assert_int_equal(rc, -EINVAL);
        assert_non_null(strstr(err, "unprivileged"));
    } else {
        assert_int_equal(rc, -EPERM);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lookup),
        cmocka_unit_test(test_root_becomes_nobody),
        cmocka_unit_test(test_not_root_cannot_switch),
        cmocka_unit_test(test_root_is_refused_as_the_user),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
