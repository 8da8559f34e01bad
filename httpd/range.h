/*
 * range.h: the Range request header (RFC 9110 14.1, 14.2) reduced to what a
 * static file server sends: the whole file, one byte range, or 416. Pure:
 * no I/O, no state.
 */
#ifndef HTTP_RANGE_H
#define HTTP_RANGE_H

#include <stddef.h>
#include <stdint.h>

enum http_range_result {
    HTTP_RANGE_NONE,          /* serve the whole representation (no or ignored Range) */
    HTTP_RANGE_OK,            /* one satisfiable range: 206 */
    HTTP_RANGE_UNSATISFIABLE, /* 416 */
};

/*
 * Parses the Range field value v[0..len) against a representation of size
 * bytes. On HTTP_RANGE_OK, *start and *count (>= 1) give the bytes to send;
 * otherwise both are set to 0.
 *
 * "bytes=a-b", "bytes=a-" and "bytes=-n", the unit case-insensitive, OWS
 * around list commas and empty list elements tolerated. A last-pos past the
 * end is clamped; a first-pos at or past the end is unsatisfiable; a suffix
 * longer than the file means the whole file (as a range); a zero suffix is
 * unsatisfiable, and so is any range of an empty representation. An invalid
 * value, a last-pos before its first-pos, or a unit other than bytes gives
 * HTTP_RANGE_NONE. Several ranges give HTTP_RANGE_NONE (the whole file)
 * unless none is satisfiable. Numbers too large for 64 bits saturate.
 */
enum http_range_result http_range_parse(const char *v, size_t len, uint64_t size, uint64_t *start,
                                        uint64_t *count);

/*
 * Writes the Content-Range value "bytes START-END/SIZE" into out[0..cap),
 * NUL-terminated; when count is 0 (a 416) the range is an asterisk:
 * "bytes *" "/SIZE". Returns the length without the NUL, or -ENAMETOOLONG
 * if cap is too small.
 */
int http_range_content_range(char *out, size_t cap, uint64_t start, uint64_t count, uint64_t size);

#endif
