/*
 * fuzz_http_ssi.c: server-side include templates (httpd/ssi.c). The input
 * is the template; its first byte, when there is one, also picks a small
 * output bound for a second rendering.
 *
 * A template without "<!--#" comes out unchanged; a variable's value never
 * comes out unescaped (its markup is not in the output unless the template
 * had it); lookups see only well-formed names; a smaller bound gives the
 * same page or -ENOBUFS.
 */
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "common/buf.h"
#include "fuzz.h"
#include "httpd/ssi.h"

#define MARK "<evil a='1'>&\""

static const char *lookup(void *arg, const char *name, size_t len, char *scratch, size_t cap)
{
    (void)arg;
    FUZZ_CHECK(len >= 1 && len <= HTTP_SSI_NAME_MAX && name[len] == '\0');
    FUZZ_CHECK(strspn(name, "abcdefghijklmnopqrstuvwxyz0123456789_") == len);
    FUZZ_CHECK(cap == HTTP_SSI_SCRATCH_LEN);
    if (name[0] == 'x')
        return MARK;
    if (name[0] == 'f') { /* a careless lookup: scratch filled, no NUL */
        memset(scratch, '<', cap);
        return scratch;
    }
    if (name[0] == 'e')
        return "";
    if (name[0] == 'p') {
        memcpy(scratch, "53422", 6);
        return scratch;
    }
    return NULL;
}

static int render(const char *tpl, size_t len, size_t max, struct wk_buf *out)
{
    wk_buf_init(out, max);
    int rc = http_ssi_render(out, tpl, len, lookup, NULL);
    FUZZ_CHECK(rc == 0 || rc == -ENOBUFS);
    FUZZ_CHECK(wk_buf_len(out) <= max);
    return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *tpl = fuzz_copy(data, size);
    struct wk_buf big, small;
    int rc = render(tpl, size, 16u << 20, &big);
    size_t olen = wk_buf_len(&big);
    const char *out = olen ? wk_buf_data(&big) : ""; /* an unused wk_buf has no memory */
    if (rc == 0) {
        if (memmem(tpl, size, "<!--#", 5) == NULL)
            FUZZ_CHECK(olen == size && (size == 0 || memcmp(out, tpl, size) == 0));
        if (memmem(tpl, size, "<evil", 5) == NULL)
            FUZZ_CHECK(olen == 0 || memmem(out, olen, "<evil", 5) == NULL);
        if (memmem(tpl, size, "<<", 2) == NULL)
            FUZZ_CHECK(olen == 0 || memmem(out, olen, "<<", 2) == NULL);
    }
    size_t max = size ? data[0] * 8u : 0;
    int rc2 = render(tpl, size, max, &small);
    if (rc2 == 0) {
        FUZZ_CHECK(rc == 0 && wk_buf_len(&small) == olen);
        FUZZ_CHECK(olen == 0 || memcmp(wk_buf_data(&small), out, olen) == 0);
    } else if (rc == 0) {
        FUZZ_CHECK(olen > max);
    }
    wk_buf_fini(&small);
    wk_buf_fini(&big);
    free(tpl);
    return 0;
}
