/*
 * guard.c: guard-page test buffers (see guard.h). Each copy is its own
 * mapping: whole data pages followed by one inaccessible page.
 */
#include "support/guard.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static size_t page_size(void)
{
    return (size_t)sysconf(_SC_PAGESIZE);
}

/* Bytes of readable pages needed for len bytes; at least one page. */
static size_t data_span(size_t len)
{
    size_t page = page_size();
    size_t pages = len / page + (len % page != 0);
    return (pages ? pages : 1) * page;
}

const char *wk_test_guard(const char *s, size_t len)
{
    size_t span = data_span(len);
    char *map = mmap(NULL, span + page_size(), PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (map == MAP_FAILED || mprotect(map + span, page_size(), PROT_NONE) != 0) {
        perror("wk_test_guard");
        abort();
    }
    char *copy = map + span - len;
    if (len)
        memcpy(copy, s, len);
    return copy;
}

void wk_test_guard_free(const char *copy, size_t len)
{
    if (copy == NULL)
        return;
    size_t span = data_span(len);
    munmap((char *)copy + len - span, span + page_size());
}

void wk_test_each_prefix(const char *s, size_t len,
                         void (*fn)(const char *p, size_t n, void *arg), void *arg)
{
    for (size_t n = 0; n <= len; n++) {
        const char *copy = wk_test_guard(s, n);
        fn(copy, n, arg);
        wk_test_guard_free(copy, n);
    }
}
