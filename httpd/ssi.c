/*
 * ssi.c: the echo directive of server-side includes (see ssi.h). Owns the
 * directive grammar and the expansion loop; the variables belong to the
 * caller and the escaping to html.c.
 */
#include "httpd/ssi.h"

#include <stdbool.h>
#include <string.h>

#include "httpd/html.h"

#define OPEN     "<!--#"
#define OPEN_LEN (sizeof OPEN - 1)

/* A cursor over a directive: p[i..end) is what is left to read. */
struct scan {
    const char *p;
    size_t i;
    size_t end;
};

static bool is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static bool is_name_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
}

/* Skips whitespace; returns whether there was any. */
static bool skip_space(struct scan *s)
{
    size_t from = s->i;
    while (s->i < s->end && is_space(s->p[s->i]))
        s->i++;
    return s->i > from;
}

/* Consumes the literal word if it comes next. */
static bool take(struct scan *s, const char *word)
{
    size_t n = strlen(word);
    if (s->end - s->i < n || memcmp(s->p + s->i, word, n) != 0)
        return false;
    s->i += n;
    return true;
}

/*
 * Reads `<!--#echo var="name" -->` at the start of p[0..len). Returns the
 * length of the directive and sets *name and *name_len, or returns 0 if what
 * is there is not exactly such a directive.
 */
static size_t parse_echo(const char *p, size_t len, const char **name, size_t *name_len)
{
    struct scan s = {p, OPEN_LEN, len};
    skip_space(&s);
    if (!take(&s, "echo") || !skip_space(&s) || !take(&s, "var"))
        return 0;
    skip_space(&s);
    if (!take(&s, "="))
        return 0;
    skip_space(&s);
    if (s.i == s.end || (p[s.i] != '"' && p[s.i] != '\''))
        return 0;
    char quote = p[s.i++];
    size_t start = s.i;
    while (s.i < s.end && is_name_char(p[s.i]) && s.i - start < HTTP_SSI_NAME_MAX)
        s.i++;
    *name = p + start;
    *name_len = s.i - start;
    if (*name_len == 0 || s.i == s.end || p[s.i] != quote)
        return 0;
    s.i++;
    skip_space(&s);
    if (!take(&s, "-->"))
        return 0;
    return s.i;
}

/* Appends the escaped value of one variable, or HTTP_SSI_UNKNOWN. */
static int echo(struct wk_buf *out, const char *name, size_t len, http_ssi_lookup_fn *lookup,
                void *arg)
{
    char key[HTTP_SSI_NAME_MAX + 1];
    char scratch[HTTP_SSI_SCRATCH_LEN];
    memcpy(key, name, len);
    key[len] = '\0';
    scratch[0] = '\0';
    const char *value = lookup(arg, key, len, scratch, sizeof scratch);
    /* A lookup that filled scratch to the brim still yields a bounded string. */
    scratch[sizeof scratch - 1] = '\0';
    if (value == NULL)
        return wk_buf_append(out, HTTP_SSI_UNKNOWN, strlen(HTTP_SSI_UNKNOWN));
    return http_html_escape(out, value, strlen(value));
}

int http_ssi_render(struct wk_buf *out, const char *tpl, size_t len, http_ssi_lookup_fn *lookup,
                    void *arg)
{
    size_t cur = 0;
    while (cur < len) {
        const char *hit = memmem(tpl + cur, len - cur, OPEN, OPEN_LEN);
        size_t at = hit ? (size_t)(hit - tpl) : len;
        int rc = at > cur ? wk_buf_append(out, tpl + cur, at - cur) : 0;
        if (rc < 0 || hit == NULL)
            return rc;
        const char *name;
        size_t name_len;
        size_t n = parse_echo(hit, len - at, &name, &name_len);
        if (n > 0) {
            rc = echo(out, name, name_len, lookup, arg);
            cur = at + n;
        } else {
            /* Not ours: copy the opening through and look again after it. */
            rc = wk_buf_append(out, OPEN, OPEN_LEN);
            cur = at + OPEN_LEN;
        }
        if (rc < 0)
            return rc;
    }
    return 0;
}
