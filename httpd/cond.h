/*
 * cond.h: validators and conditional requests (RFC 9110 8.8, 13): the ETag
 * a file gets, HTTP-date parsing, and the If-* header evaluation in the
 * order 13.2.2 prescribes. Pure: no I/O, no state, no locale.
 */
#ifndef HTTP_COND_H
#define HTTP_COND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define HTTP_ETAG_LEN 48

/*
 * Writes a strong entity-tag with its quotes, NUL-terminated, for a file of
 * this modification time and size: "\"<sec>-<size>\"", or
 * "\"<sec>.<nsec>-<size>\"" when mtime_nsec is not 0, numbers in lower-case
 * hex. Returns its length without the NUL (at most 44).
 */
size_t http_etag_make(char out[HTTP_ETAG_LEN], uint64_t mtime_sec, uint64_t mtime_nsec,
                      uint64_t size);

/*
 * Parses an HTTP-date in s[0..len): IMF-fixdate ("Sun, 06 Nov 1994 08:49:37
 * GMT"), the obsolete RFC 850 form ("Sunday, 06-Nov-94 08:49:37 GMT"; years
 * 70-99 are 19xx, 00-69 are 20xx) or asctime ("Sun Nov  6 08:49:37 1994").
 * Surrounding spaces and tabs are ignored; names are case-sensitive as the
 * grammar says; every field is range-checked (day of month against the
 * month and leap years; second 60 is allowed). Returns 0 with *out set, or
 * -EINVAL.
 */
int http_date_parse(const char *s, size_t len, time_t *out);

/* The conditional header fields of a request, as received; NULL means absent. */
struct http_cond {
    const char *if_match;
    size_t if_match_len;
    const char *if_none_match;
    size_t if_none_match_len;
    const char *if_modified_since;
    size_t ims_len;
    const char *if_unmodified_since;
    size_t ius_len;
};

enum http_cond_result {
    HTTP_COND_PROCEED,             /* go on with the request */
    HTTP_COND_NOT_MODIFIED,        /* 304 */
    HTTP_COND_PRECONDITION_FAILED, /* 412 */
};

/*
 * Evaluates the preconditions of c against the selected representation's
 * entity-tag (with quotes) and modification time, in the order of RFC 9110
 * 13.2.2: If-Match (strong comparison), else If-Unmodified-Since; then
 * If-None-Match (weak comparison; 304 for GET and HEAD, 412 otherwise), else
 * If-Modified-Since (GET and HEAD only). "*" matches any current
 * representation; a list that does not parse matches nothing; a date that
 * does not parse is ignored.
 */
enum http_cond_result http_cond_evaluate(const struct http_cond *c, bool get_or_head,
                                         const char *etag, size_t etag_len, time_t mtime);

/*
 * If-Range (RFC 9110 13.1.5): true when the Range header should be honoured,
 * that is v[0..len) is an entity-tag that matches etag strongly (a weak one
 * never does), or an HTTP-date equal to mtime. Anything else is false.
 */
bool http_cond_if_range(const char *v, size_t len, const char *etag, size_t etag_len, time_t mtime);

#endif
