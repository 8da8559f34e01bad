/*
 * json.c: the JSON writer. Strings are escaped as RFC 8259 requires:
 * quotation mark, backslash and the control characters.
 */
#include "common/json.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

void wk_json_init(struct wk_json *j, struct wk_buf *b)
{
    *j = (struct wk_json){.b = b};
}

static void put(struct wk_json *j, const char *p, size_t n)
{
    if (j->err == 0)
        j->err = wk_buf_append(j->b, p, n);
}

/* Before a value or a key: the comma that separates it from the one before. */
static void separate(struct wk_json *j)
{
    if (j->after_key) {
        j->after_key = false;
        return;
    }
    if (j->nonempty[j->depth])
        put(j, ",", 1);
    j->nonempty[j->depth] = true;
}

static void begin(struct wk_json *j, char bracket)
{
    separate(j);
    if (j->depth == WK_JSON_DEPTH) {
        if (j->err == 0)
            j->err = -E2BIG;
        return;
    }
    put(j, &bracket, 1);
    j->depth++;
    j->nonempty[j->depth] = false;
    j->closer[j->depth] = bracket == '{' ? '}' : ']';
}

void wk_json_object(struct wk_json *j)
{
    begin(j, '{');
}

void wk_json_array(struct wk_json *j)
{
    begin(j, '[');
}

void wk_json_close(struct wk_json *j)
{
    if (j->depth == 0 || j->after_key) {
        if (j->err == 0)
            j->err = -EINVAL;
        return;
    }
    put(j, &j->closer[j->depth], 1);
    j->depth--;
}

static void escaped(struct wk_json *j, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    size_t run = 0; /* bytes before s[i] that need no escape, not yet written */
    put(j, "\"", 1);
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch >= 0x20 && ch != '"' && ch != '\\') {
            run++;
            continue;
        }
        put(j, s + i - run, run);
        run = 0;
        char esc[6] = {'\\', (char)ch, 0, 0, 0, 0};
        size_t len = 2;
        if (ch == '\n')
            esc[1] = 'n';
        else if (ch == '\r')
            esc[1] = 'r';
        else if (ch == '\t')
            esc[1] = 't';
        else if (ch < 0x20) {
            esc[1] = 'u', esc[2] = '0', esc[3] = '0', esc[4] = hex[ch >> 4], esc[5] = hex[ch & 15];
            len = 6;
        }
        put(j, esc, len);
    }
    put(j, s + n - run, run);
    put(j, "\"", 1);
}

void wk_json_key(struct wk_json *j, const char *name)
{
    separate(j);
    escaped(j, name, strlen(name));
    put(j, ":", 1);
    j->after_key = true;
}

void wk_json_string(struct wk_json *j, const char *s)
{
    if (s == NULL)
        wk_json_null(j);
    else
        wk_json_string_n(j, s, strlen(s));
}

void wk_json_string_n(struct wk_json *j, const char *s, size_t n)
{
    separate(j);
    escaped(j, s, n);
}

void wk_json_uint(struct wk_json *j, uint64_t v)
{
    char num[24];
    int n = snprintf(num, sizeof num, "%" PRIu64, v);
    separate(j);
    put(j, num, (size_t)n);
}

void wk_json_int(struct wk_json *j, int64_t v)
{
    char num[24];
    int n = snprintf(num, sizeof num, "%" PRId64, v);
    separate(j);
    put(j, num, (size_t)n);
}

void wk_json_bool(struct wk_json *j, bool v)
{
    wk_json_raw(j, v ? "true" : "false", v ? 4 : 5);
}

void wk_json_null(struct wk_json *j)
{
    wk_json_raw(j, "null", 4);
}

void wk_json_raw(struct wk_json *j, const char *s, size_t n)
{
    separate(j);
    put(j, s, n);
}

int wk_json_end(const struct wk_json *j)
{
    if (j->err != 0)
        return j->err;
    return j->depth == 0 && !j->after_key ? 0 : -EINVAL;
}
