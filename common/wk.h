/*
 * wk.h: the few definitions every module of wellknown shares.
 * Nothing here allocates, logs or touches the network.
 */
#ifndef WK_H
#define WK_H

#include <stddef.h>

/* Size of the caller-owned buffers that startup errors are written into. */
#define WK_ERR_LEN 512

#define WK_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
#define WK_UNUSED(x)    ((void)(x))

/* A string literal as (pointer, length), as h2o's H2O_STRLIT. */
#define WK_STRLIT(s) (s), (sizeof(s) - 1)

#endif
