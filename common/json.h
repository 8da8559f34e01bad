/*
 * json.h: a JSON writer into a bounded buffer, for the status socket and the
 * socket view. It places the commas and escapes strings; the caller calls
 * the pieces in a valid order. The first error (buffer full, out of memory,
 * nesting too deep) sticks: later calls do nothing, and wk_json_end() reports it; the buffer then
 * holds a partial document, for the caller to discard.
 */
#ifndef WK_JSON_H
#define WK_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"

#define WK_JSON_DEPTH 16

struct wk_json {
    struct wk_buf *b;
    int err;                          /* 0, or the first -errno */
    int depth;                        /* open objects and arrays */
    bool after_key;                   /* a value completes the member just begun */
    bool nonempty[WK_JSON_DEPTH + 1]; /* the container at each depth has an element */
    char closer[WK_JSON_DEPTH + 1];   /* and the bracket that closes it */
};

/* Starts writing at the end of b (not owned). */
void wk_json_init(struct wk_json *j, struct wk_buf *b);

void wk_json_object(struct wk_json *j);
void wk_json_array(struct wk_json *j);
/* Closes the innermost object or array. */
void wk_json_close(struct wk_json *j);

/* Begins a member of an object: its name (a string literal or other trusted text). */
void wk_json_key(struct wk_json *j, const char *name);

/* Values. A NULL string is written as null; strings are escaped, bytes >= 0x80 as they are. */
void wk_json_string(struct wk_json *j, const char *s);
void wk_json_string_n(struct wk_json *j, const char *s, size_t n);
void wk_json_uint(struct wk_json *j, uint64_t v);
void wk_json_int(struct wk_json *j, int64_t v);
void wk_json_bool(struct wk_json *j, bool v);
void wk_json_null(struct wk_json *j);
/* A value that is JSON already (not checked): n bytes of s. */
void wk_json_raw(struct wk_json *j, const char *s, size_t n);

/* Returns 0 if everything was written and every container closed, else -errno. */
int wk_json_end(const struct wk_json *j);

#endif
