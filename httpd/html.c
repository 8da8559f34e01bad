/*
 * html.c: HTML and URL escaping (see html.h). Each function measures its
 * output first and reserves it in one step, so an append either happens
 * whole or not at all.
 */
#include "httpd/html.h"

#include <stdbool.h>
#include <string.h>

/* The character reference for c, or NULL if c needs none. */
static const char *html_entity(char c)
{
    switch (c) {
    case '&':
        return "&amp;";
    case '<':
        return "&lt;";
    case '>':
        return "&gt;";
    case '"':
        return "&quot;";
    case '\'':
        return "&#39;";
    default:
        return NULL;
    }
}

static bool is_unreserved(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '.' || c == '_' || c == '~';
}

/* Reserves room for n bytes at the end of b; *space is NULL when n is 0. */
static int reserve(struct wk_buf *b, size_t n, char **space)
{
    size_t avail;
    *space = NULL;
    return n ? wk_buf_reserve(b, n, space, &avail) : 0;
}

int http_html_escape(struct wk_buf *b, const char *s, size_t len)
{
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        const char *e = html_entity(s[i]);
        n += e ? strlen(e) : 1;
    }
    char *out;
    int rc = reserve(b, n, &out);
    if (rc < 0)
        return rc;
    for (size_t i = 0; i < len; i++) {
        const char *e = html_entity(s[i]);
        if (e == NULL) {
            *out++ = s[i];
        } else {
            memcpy(out, e, strlen(e));
            out += strlen(e);
        }
    }
    wk_buf_commit(b, n);
    return 0;
}

int http_url_encode(struct wk_buf *b, const char *s, size_t len)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t n = 0;
    for (size_t i = 0; i < len; i++)
        n += is_unreserved((unsigned char)s[i]) ? 1 : 3;
    char *out;
    int rc = reserve(b, n, &out);
    if (rc < 0)
        return rc;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (is_unreserved(c)) {
            *out++ = (char)c;
        } else {
            *out++ = '%';
            *out++ = hex[c >> 4];
            *out++ = hex[c & 15];
        }
    }
    wk_buf_commit(b, n);
    return 0;
}
