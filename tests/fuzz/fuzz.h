/*
 * fuzz.h: what the fuzz targets share: the libFuzzer entry point and a check
 * that names the invariant that broke before aborting (libFuzzer, or the
 * driver in driver.c, then keeps the input that did it). Test support only.
 */
#ifndef WK_FUZZ_H
#define WK_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

/* Called once per input; returns 0. An input that breaks an invariant aborts. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_CHECK(cond)                                                                           \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s:%d: invariant broken: %s\n", __FILE__, __LINE__, #cond);           \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

/* A heap copy of p[0..n) of exactly n bytes, so AddressSanitizer sees a read past its end. */
static inline char *fuzz_copy(const void *p, size_t n)
{
    char *c = malloc(n ? n : 1);
    FUZZ_CHECK(c != NULL);
    for (size_t i = 0; i < n; i++)
        c[i] = ((const char *)p)[i];
    return c;
}

#endif
