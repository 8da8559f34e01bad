/*
 * path.c: request-target to normalized path (see path.h). Decoding and
 * dot-segment removal happen in one pass over the target, segment by
 * segment, straight into the caller's buffer; nothing is allocated.
 *
 * The output is built as "/" followed by each kept segment and a '/', so
 * that ".." only has to step back to the previous '/'; the final slash is
 * dropped at the end unless the path asked for it.
 */
#include "httpd/path.h"

#include <errno.h>
#include <stdbool.h>
#include <string.h>
#include <strings.h>
#include <sys/types.h>

struct norm {
    char *out;
    size_t cap;
    size_t o; /* out[0..o) is "/" and the kept segments, each followed by '/' */
};

static bool is_control(unsigned char c)
{
    return c < 0x20 || c == 0x7f;
}

static int hex_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Length of "http://authority" or "https://authority" at the start of t, or 0. */
static size_t scheme_authority_len(const char *t, size_t len)
{
    size_t i;
    if (len >= 7 && strncasecmp(t, "http://", 7) == 0)
        i = 7;
    else if (len >= 8 && strncasecmp(t, "https://", 8) == 0)
        i = 8;
    else
        return 0;
    while (i < len && t[i] != '/' && t[i] != '?' && t[i] != '#')
        i++;
    return i;
}

/*
 * Finds the path in the target: [*start, *end), without query and fragment.
 * An absolute-form target may have an empty path (start == end); an
 * origin-form one starts with '/'. Returns 0 or -EINVAL.
 */
static int locate_path(const char *t, size_t len, size_t *start, size_t *end)
{
    size_t i = 0;
    for (size_t k = 0; k < len; k++)
        if (is_control((unsigned char)t[k]))
            return -EINVAL;
    if (len == 0)
        return -EINVAL;
    if (t[0] != '/') {
        i = scheme_authority_len(t, len);
        if (i == 0)
            return -EINVAL;
    }
    size_t e = i;
    while (e < len && t[e] != '?' && t[e] != '#')
        e++;
    *start = i;
    *end = e;
    return 0;
}

/* Decodes the byte at p[*i] and advances *i. Returns the byte or -EINVAL. */
static int next_byte(const char *p, size_t end, size_t *i)
{
    unsigned char c = (unsigned char)p[*i];
    if (c != '%') {
        (*i)++;
        return c;
    }
    if (end - *i < 3)
        return -EINVAL;
    int hi = hex_value(p[*i + 1]);
    int lo = hex_value(p[*i + 2]);
    if (hi < 0 || lo < 0 || (hi | lo) == 0)
        return -EINVAL;
    *i += 3;
    return hi << 4 | lo;
}

/*
 * Decodes one segment into out at n->o (not yet kept), up to and past the
 * next '/', raw or decoded. *slash tells whether a '/' ended it. Returns
 * its length or -errno.
 */
static ssize_t read_segment(struct norm *n, const char *p, size_t end, size_t *i, bool *slash)
{
    size_t k = 0;
    *slash = false;
    while (*i < end) {
        int c = next_byte(p, end, i);
        if (c < 0)
            return c;
        if (c == '/') {
            *slash = true;
            break;
        }
        if (n->o + k >= n->cap)
            return -ENAMETOOLONG;
        n->out[n->o + k++] = (char)c;
    }
    return (ssize_t)k;
}

static bool is_dot(const char *s, size_t k)
{
    return (k == 1 && s[0] == '.') || (k == 2 && s[0] == '.' && s[1] == '.');
}

/*
 * Keeps, drops or (for "..") undoes a segment just read. Returns 0, -EPERM
 * or -ENAMETOOLONG.
 */
static int apply_segment(struct norm *n, size_t k)
{
    const char *seg = n->out + n->o;
    if (k == 0 || (k == 1 && seg[0] == '.'))
        return 0;
    if (k == 2 && seg[0] == '.' && seg[1] == '.') {
        if (n->o == 1)
            return -EPERM;
        n->o--;
        while (n->out[n->o - 1] != '/')
            n->o--;
        return 0;
    }
    if (n->o + k >= n->cap)
        return -ENAMETOOLONG;
    n->o += k;
    n->out[n->o++] = '/';
    return 0;
}

int http_path_normalize(const char *target, size_t len, char *out, size_t outcap, size_t *outlen)
{
    size_t i, end;
    int rc = locate_path(target, len, &i, &end);
    if (rc < 0)
        return rc;
    if (outcap < 2)
        return -ENAMETOOLONG;
    struct norm n = {.out = out, .cap = outcap, .o = 1};
    out[0] = '/';
    bool trailing = true; /* an empty path is "/" */
    if (i < end)
        i++; /* the leading '/' */
    while (i < end) {
        bool slash;
        ssize_t k = read_segment(&n, target, end, &i, &slash);
        if (k < 0)
            return (int)k;
        trailing = slash || is_dot(out + n.o, (size_t)k);
        rc = apply_segment(&n, (size_t)k);
        if (rc < 0)
            return rc;
    }
    if (!trailing && n.o > 1)
        n.o--;
    if (n.o >= outcap)
        return -ENAMETOOLONG;
    out[n.o] = '\0';
    *outlen = n.o;
    return 0;
}
