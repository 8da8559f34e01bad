/*
 * fuzz_http_path.c: request-target normalization (httpd/path.c). The input's
 * last byte picks a smaller output buffer for a second call; the bytes
 * before it are the target.
 *
 * A result is a clean absolute path (no empty, "." or ".." segment), the
 * same as a plain reference implementation gives, the same again when
 * normalized a second time (when nothing in it would be decoded or cut),
 * and a smaller buffer only ever turns it into -ENAMETOOLONG.
 */
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>

#include "fuzz.h"
#include "httpd/path.h"

static void check_clean(const char *p, size_t n)
{
    FUZZ_CHECK(n >= 1 && p[0] == '/' && p[n] == '\0');
    FUZZ_CHECK(memchr(p, '\0', n) == NULL);
    /* Each segment between slashes is neither empty, "." nor "..". */
    size_t start = 1;
    for (size_t i = 1; i <= n; i++) {
        if (i < n && p[i] != '/')
            continue;
        size_t k = i - start;
        bool last = i == n;
        if (!(last && k == 0)) /* a trailing '/' leaves an empty last segment */
            FUZZ_CHECK(k > 0 && !(k == 1 && p[start] == '.') &&
                       !(k == 2 && p[start] == '.' && p[start + 1] == '.'));
        start = i + 1;
    }
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c = (char)(c | 0x20);
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/*
 * The reference: RFC 3986 5.2.4 on the decoded path, written plainly.
 * Returns 0 with the result in out (room len + 2), -EINVAL or -EPERM.
 */
static int reference(const char *t, size_t len, char *out, size_t *outlen)
{
    size_t i = 0, end;
    for (size_t k = 0; k < len; k++) {
        unsigned char c = (unsigned char)t[k];
        if (c < 0x20 || c == 0x7f)
            return -EINVAL;
    }
    if (len == 0)
        return -EINVAL;
    if (t[0] != '/') {
        if (len >= 7 && strncasecmp(t, "http://", 7) == 0)
            i = 7;
        else if (len >= 8 && strncasecmp(t, "https://", 8) == 0)
            i = 8;
        else
            return -EINVAL;
        while (i < len && t[i] != '/' && t[i] != '?' && t[i] != '#')
            i++;
    }
    end = i;
    while (end < len && t[end] != '?' && t[end] != '#')
        end++;
    /* Segment by segment: where each kept one starts, as a stack. */
    size_t o = 1, depth = 0, *stack = malloc((len / 2 + 2) * sizeof *stack);
    int rc = 0;
    bool dir = true;
    FUZZ_CHECK(stack != NULL);
    out[0] = '/';
    if (i < end)
        i++;
    while (i < end) {
        size_t seg = o;
        bool slash = false;
        while (i < end) {
            int c = (unsigned char)t[i];
            if (c == '%') {
                if (end - i < 3 || hexval(t[i + 1]) < 0 || hexval(t[i + 2]) < 0 ||
                    (c = hexval(t[i + 1]) << 4 | hexval(t[i + 2])) == 0) {
                    rc = -EINVAL;
                    goto out;
                }
                i += 3;
            } else {
                i++;
            }
            if (c == '/') {
                slash = true;
                break;
            }
            out[o++] = (char)c;
        }
        size_t k = o - seg;
        bool dot = k == 1 && out[seg] == '.';
        bool dotdot = k == 2 && out[seg] == '.' && out[seg + 1] == '.';
        dir = slash || dot || dotdot;
        if (k == 0 || dot) {
            o = seg;
        } else if (dotdot) {
            if (depth == 0) {
                rc = -EPERM;
                goto out;
            }
            o = stack[--depth];
        } else {
            stack[depth++] = seg;
            out[o++] = '/';
        }
    }
    if (!dir && o > 1)
        o--;
    out[o] = '\0';
    *outlen = o;
out:
    free(stack);
    return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    uint8_t pick = data[--size];
    char *in = fuzz_copy(data, size);
    char *out = malloc(size + 1), *ref = malloc(size + 2);
    size_t outlen = 0, reflen = 0;
    FUZZ_CHECK(out != NULL && ref != NULL);
    int rc = http_path_normalize(in, size, out, size + 1, &outlen);
    FUZZ_CHECK(rc == 0 || rc == -EINVAL || rc == -EPERM); /* len + 1 is always enough */
    FUZZ_CHECK(reference(in, size, ref, &reflen) == rc);
    if (rc == 0) {
        check_clean(out, outlen);
        FUZZ_CHECK(outlen == reflen && memcmp(out, ref, outlen) == 0);
    }
    /* A smaller buffer: the same answer, or too long. */
    size_t cap = pick % (size + 2);
    char *small = malloc(cap ? cap : 1);
    size_t smalllen = 0;
    FUZZ_CHECK(small != NULL);
    int rc2 = http_path_normalize(in, size, small, cap, &smalllen);
    FUZZ_CHECK(rc2 == rc || rc2 == -ENAMETOOLONG);
    if (rc2 == 0)
        FUZZ_CHECK(smalllen == outlen && memcmp(small, out, outlen + 1) == 0);
    /* Normalizing a result that nothing would decode or cut changes nothing. */
    if (rc == 0 && strpbrk(out, "%?#") == NULL) {
        bool plain = true;
        for (size_t i = 0; i < outlen; i++)
            plain = plain && (unsigned char)out[i] >= 0x20 && out[i] != 0x7f;
        if (plain) {
            char *again = malloc(outlen + 1);
            size_t againlen = 0;
            FUZZ_CHECK(again != NULL);
            FUZZ_CHECK(http_path_normalize(out, outlen, again, outlen + 1, &againlen) == 0);
            FUZZ_CHECK(againlen == outlen && memcmp(again, out, outlen) == 0);
            free(again);
        }
    }
    free(small);
    free(ref);
    free(out);
    free(in);
    return 0;
}
