/*
 * guard.h: guard-page copies of test inputs, so that a parser reading one
 * byte past the end of its input faults at once instead of reading garbage.
 * Test support only; not part of any server.
 */
#ifndef WK_TEST_GUARD_H
#define WK_TEST_GUARD_H

#include <stddef.h>
#include <string.h>

/*
 * Copies len bytes of s so that the last byte sits just before a page mapped
 * PROT_NONE. The copy is not NUL-terminated. Aborts the test program if the
 * memory cannot be mapped. Release with wk_test_guard_free(copy, len).
 */
const char *wk_test_guard(const char *s, size_t len);

/* Unmaps a copy made by wk_test_guard(); len must be the same. NULL is ignored. */
void wk_test_guard_free(const char *copy, size_t len);

/* Guard-page copy of a C string, without its NUL. */
#define WK_TEST_GUARD_STR(s) wk_test_guard((s), strlen(s))

/*
 * Calls fn on a guard-page copy of every prefix of s, from 0 bytes to len
 * bytes: the inputs a parser sees when a value is truncated at each byte.
 */
void wk_test_each_prefix(const char *s, size_t len,
                         void (*fn)(const char *p, size_t n, void *arg), void *arg);

#endif
