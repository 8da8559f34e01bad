/*
 * html.h: escaping text for HTML and for URLs, into a bounded buffer. Used
 * by generated pages (directory listings, error pages). Pure: no I/O.
 */
#ifndef HTTP_HTML_H
#define HTTP_HTML_H

#include <stddef.h>

#include "common/buf.h"

/*
 * Appends s[0..len) to b with & < > " ' written as character references,
 * safe in element content and in quoted attribute values. Other bytes,
 * including UTF-8 sequences, are copied as they are. Returns 0, -ENOBUFS
 * (b's bound) or -ENOMEM; on error nothing is appended.
 */
int http_html_escape(struct wk_buf *b, const char *s, size_t len);

/*
 * Appends s[0..len) to b percent-encoded as one path segment: every byte but
 * the RFC 3986 unreserved characters (A-Z a-z 0-9 - . _ ~) becomes %XX in
 * upper-case hex, '/' included. Returns 0, -ENOBUFS or -ENOMEM; on error
 * nothing is appended.
 */
int http_url_encode(struct wk_buf *b, const char *s, size_t len);

#endif
