/*
 * fuzz_smtp_mailaddr.c: paths, mailboxes and Maildir folder names
 * (smtpd/mailaddr.c). Byte 0: bit 0 allows SMTPUTF8, the other bits pick
 * the folder buffer's size; the rest is the path, brackets included.
 *
 * Results are the documented ones, -ENAMETOOLONG always for a path over
 * 256 octets. A parsed mailbox has NUL-terminated fields within the
 * limits, no control characters, octets >= 0x80 only with SMTPUTF8 and
 * then well-formed UTF-8, a domain of LDH (or UTF-8) labels or a bracketed
 * literal; "<>" and "<postmaster>" are recognized exactly. What parses
 * without SMTPUTF8 parses the same with it. Flipping the ASCII case of the
 * path gives the same result and the same folder name. Written back as a
 * quoted string, the local-part parses to itself; written back by
 * smtp_mailaddr_format(), the mailbox is no longer than the path and parses
 * back to itself. A folder name is never one that could leave the Maildir,
 * and a buffer one byte short is refused.
 */
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "smtpd/mailaddr.h"

#define FOLDER_CAP (SMTP_LOCAL_MAX + 1 + SMTP_DOMAIN_MAX + 1)

/*
 * A heap copy of exactly n bytes, as fuzz_copy() makes; an empty input gets
 * one initialized byte, which the parsers must not read (the unit tests
 * check that from a guard page).
 */
static char *copy_input(const uint8_t *d, size_t n)
{
    char *c = malloc(n ? n : 1);
    FUZZ_CHECK(c != NULL);
    if (n == 0)
        c[0] = '\0';
    else
        memcpy(c, d, n);
    return c;
}

static char flip(char c)
{
    if (c >= 'a' && c <= 'z')
        return (char)(c - 'a' + 'A');
    if (c >= 'A' && c <= 'Z')
        return (char)(c - 'A' + 'a');
    return c;
}

static bool is_alnum(unsigned char c)
{
    return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

/* Well-formed UTF-8 (RFC 3629), written out the long way round: decode and check the value. */
static bool valid_utf8(const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        if (*p < 0x80) {
            p++;
            continue;
        }
        int n = *p >= 0xf0 ? 3 : *p >= 0xe0 ? 2 : *p >= 0xc0 ? 1 : -1;
        if (n < 0 || *p >= 0xf8)
            return false;
        uint32_t v = *p & (0x3f >> n);
        for (int k = 1; k <= n; k++) {
            if ((p[k] & 0xc0) != 0x80)
                return false;
            v = v << 6 | (p[k] & 0x3f);
        }
        static const uint32_t least[] = {0, 0x80, 0x800, 0x10000};
        if (v < least[n] || v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff))
            return false;
        p += n + 1;
    }
    return true;
}

static bool equal_nocase(const char *a, size_t n, const char *b)
{
    if (strlen(b) != n)
        return false;
    for (size_t i = 0; i < n; i++) {
        if (a[i] != b[i] && flip(a[i]) != b[i])
            return false;
    }
    return true;
}

static void check_domain(const char *d, bool utf8)
{
    size_t n = strlen(d);
    FUZZ_CHECK(n > 0 && n <= SMTP_DOMAIN_MAX);
    if (d[0] == '[') {
        FUZZ_CHECK(n > 2 && d[n - 1] == ']');
        for (size_t i = 1; i + 1 < n; i++)
            FUZZ_CHECK(d[i] > ' ' && d[i] < 0x7f && d[i] != '[' && d[i] != ']');
        return;
    }
    size_t label = 0;
    for (size_t i = 0; i <= n; i++) {
        unsigned char c = (unsigned char)d[i];
        if (c == '.' || c == '\0') {
            FUZZ_CHECK(label >= 1 && label <= 63);
            FUZZ_CHECK(d[i - label] != '-' && d[i - 1] != '-');
            label = 0;
        } else {
            FUZZ_CHECK(is_alnum(c) || c == '-' || (utf8 && c >= 0x80));
            label++;
        }
    }
}

/* The folder name is safe, and the same whatever the buffer as long as it fits. */
static int check_folder(const struct smtp_mailbox *m, size_t small, char *folder)
{
    int rc = smtp_mailaddr_folder(m, folder, FOLDER_CAP);
    FUZZ_CHECK(rc == 0 || rc == -EPERM || rc == -EINVAL);
    FUZZ_CHECK((rc == -EINVAL) == (m->null_path || m->domain[0] == '\0'));
    if (rc != 0)
        return rc;
    size_t n = strlen(folder);
    FUZZ_CHECK(n > 0 && n <= NAME_MAX && folder[0] != '.');
    FUZZ_CHECK(strstr(folder, "..") == NULL && strchr(folder, '/') == NULL);
    FUZZ_CHECK(n == strlen(m->local) + 1 + strlen(m->domain));
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)folder[i];
        FUZZ_CHECK(c >= 0x20 && c != 0x7f && !(c >= 'A' && c <= 'Z'));
    }
    char out[FOLDER_CAP];
    FUZZ_CHECK(smtp_mailaddr_folder(m, out, n) == -ENAMETOOLONG);
    int src = smtp_mailaddr_folder(m, out, small);
    FUZZ_CHECK(small > n ? src == 0 && strcmp(out, folder) == 0 : src == -ENAMETOOLONG);
    return 0;
}

static void check_mailbox(const char *p, size_t len, bool utf8, const struct smtp_mailbox *m)
{
    FUZZ_CHECK(memchr(m->local, '\0', sizeof m->local) &&
               memchr(m->domain, '\0', sizeof m->domain));
    FUZZ_CHECK(m->null_path == (len == 2));
    FUZZ_CHECK(m->bare_postmaster == equal_nocase(p, len, "<postmaster>"));
    if (m->null_path) {
        FUZZ_CHECK(m->local[0] == '\0' && m->domain[0] == '\0');
        return;
    }
    if (m->bare_postmaster) {
        FUZZ_CHECK(strcmp(m->local, "postmaster") == 0 && m->domain[0] == '\0');
        return;
    }
    FUZZ_CHECK(strlen(m->local) <= SMTP_LOCAL_MAX);
    for (const char *s = m->local; *s; s++) {
        unsigned char c = (unsigned char)*s;
        FUZZ_CHECK(c >= 0x20 && c != 0x7f && (utf8 || c < 0x80));
    }
    FUZZ_CHECK(valid_utf8(m->local) && valid_utf8(m->domain));
    check_domain(m->domain, utf8);
}

/* The local-part as a quoted string, every '"' and '\' escaped, parses back to itself. */
static void check_requote(const struct smtp_mailbox *m, bool utf8)
{
    char path[SMTP_PATH_MAX * 3];
    size_t o = 0;
    path[o++] = '<';
    path[o++] = '"';
    for (const char *s = m->local; *s; s++) {
        if (*s == '"' || *s == '\\')
            path[o++] = '\\';
        path[o++] = *s;
    }
    int n = snprintf(path + o, sizeof path - o, "\"@%s>", m->domain);
    FUZZ_CHECK(n > 0 && (size_t)n < sizeof path - o);
    size_t len = o + (size_t)n;
    char *copy = fuzz_copy(path, len);
    struct smtp_mailbox again;
    int rc = smtp_mailaddr_parse(copy, len, utf8, &again);
    free(copy);
    bool fits = len <= SMTP_PATH_MAX && o <= SMTP_LOCAL_MAX; /* o: '<' and the quoted local */
    FUZZ_CHECK(fits ? rc == 0 : rc == -ENAMETOOLONG);
    if (rc == 0)
        FUZZ_CHECK(strcmp(again.local, m->local) == 0 && strcmp(again.domain, m->domain) == 0);
}

/*
 * Written back by smtp_mailaddr_format(), the mailbox is no longer than the
 * path it came from (brackets aside), and parses back to itself.
 */
static void check_format(const struct smtp_mailbox *m, size_t len, bool utf8)
{
    char out[2 * SMTP_LOCAL_MAX + 3 + 1 + SMTP_DOMAIN_MAX + 1], path[sizeof out + 2];
    FUZZ_CHECK(smtp_mailaddr_format(m, out, sizeof out) == 0);
    size_t n = strlen(out);
    FUZZ_CHECK(n + 2 <= len);
    FUZZ_CHECK(smtp_mailaddr_format(m, path, n) == -ENAMETOOLONG);
    path[0] = '<';
    memcpy(path + 1, out, n);
    path[n + 1] = '>';
    char *copy = fuzz_copy(path, n + 2);
    struct smtp_mailbox again;
    FUZZ_CHECK(smtp_mailaddr_parse(copy, n + 2, utf8, &again) == 0);
    free(copy);
    FUZZ_CHECK(strcmp(again.local, m->local) == 0 && strcmp(again.domain, m->domain) == 0);
    FUZZ_CHECK(again.null_path == m->null_path && again.bare_postmaster == m->bare_postmaster);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    bool utf8 = data[0] & 1;
    size_t small = (size_t)(data[0] >> 1) * 3; /* 0 to FOLDER_CAP */
    if (small > FOLDER_CAP)
        small = FOLDER_CAP;
    size_t len = size - 1;
    char *p = copy_input(data + 1, len);
    struct smtp_mailbox m;
    int rc = smtp_mailaddr_parse(p, len, utf8, &m);
    FUZZ_CHECK(rc == 0 || rc == -EINVAL || rc == -ENAMETOOLONG);
    FUZZ_CHECK(len <= SMTP_PATH_MAX || rc == -ENAMETOOLONG);
    char folder[FOLDER_CAP];
    int frc = 0;
    if (rc == 0) {
        check_mailbox(p, len, utf8, &m);
        frc = check_folder(&m, small, folder);
        check_format(&m, len, utf8);
        if (!m.null_path && !m.bare_postmaster)
            check_requote(&m, utf8);
    }

    /* with SMTPUTF8 more parses, never less, and the same */
    if (!utf8) {
        struct smtp_mailbox u;
        int urc = smtp_mailaddr_parse(p, len, true, &u);
        if (rc != -EINVAL)
            FUZZ_CHECK(urc == rc);
        if (rc == 0)
            FUZZ_CHECK(memcmp(&u, &m, sizeof m) == 0);
    }

    /* ASCII case changes nothing that matters */
    for (size_t i = 0; i < len; i++)
        p[i] = flip(p[i]);
    struct smtp_mailbox f;
    int rc2 = smtp_mailaddr_parse(p, len, utf8, &f);
    FUZZ_CHECK(rc2 == rc);
    if (rc == 0) {
        char folder2[FOLDER_CAP];
        FUZZ_CHECK(f.null_path == m.null_path && f.bare_postmaster == m.bare_postmaster);
        FUZZ_CHECK(strlen(f.local) == strlen(m.local) && strlen(f.domain) == strlen(m.domain));
        FUZZ_CHECK(smtp_mailaddr_folder(&f, folder2, sizeof folder2) == frc);
        FUZZ_CHECK(frc != 0 || strcmp(folder, folder2) == 0);
    }
    free(p);
    return 0;
}
