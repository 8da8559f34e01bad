/*
 * mailaddr.c: RFC 5321 paths and mailboxes (see mailaddr.h). It owns the
 * grammar of 4.1.2 (source routes, dot-strings, quoted strings, domains,
 * address literals), its RFC 6531 UTF-8 extension, the length limits of
 * 4.5.3.1, and the rules that keep a folder name inside the Maildir; it
 * does not own the path's text, which domains are accepted, or the files.
 */
#include "smtpd/mailaddr.h"

#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <string.h>

/* The longest address literal's content worth handing to inet_pton(). */
#define LITERAL_MAX 63
/* A domain label's limit in octets (RFC 1035 2.3.4). */
#define LABEL_MAX 63

/* Reading position in the path between its brackets. */
struct cursor {
    const unsigned char *p;
    size_t n;
    size_t i;
    bool utf8; /* SMTPUTF8: UTF-8 octets allowed */
};

/* A bounded output string. */
struct out {
    char *s;
    size_t cap; /* bytes available before the NUL */
    size_t len;
};

static int peek(const struct cursor *c)
{
    return c->i < c->n ? c->p[c->i] : -1;
}

static void put(struct out *o, unsigned char ch)
{
    if (o->len < o->cap)
        o->s[o->len] = (char)ch;
    o->len++;
}

static void put_n(struct out *o, const unsigned char *p, size_t n)
{
    for (size_t k = 0; k < n; k++)
        put(o, p[k]);
}

/* Terminates o; -ENAMETOOLONG if more was put than fits. */
static int finish(struct out *o)
{
    if (o->len > o->cap)
        return -ENAMETOOLONG;
    o->s[o->len] = '\0';
    return 0;
}

static unsigned char ascii_lower(unsigned char c)
{
    return c >= 'A' && c <= 'Z' ? (unsigned char)(c - 'A' + 'a') : c;
}

static bool is_alnum(int c)
{
    return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

/* RFC 5322 atext, as RFC 5321 uses it in Atom. */
static bool is_atext(int c)
{
    return is_alnum(c) || (c > 0 && c < 0x80 && strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL);
}

/*
 * The length of the well-formed UTF-8 sequence (RFC 3629 section 4: no
 * overlong forms, no surrogates, nothing above U+10FFFF) of two to four
 * octets at p[0, n), or 0.
 */
static size_t utf8_len(const unsigned char *p, size_t n)
{
    unsigned char lo = 0x80, hi = 0xbf;
    size_t len;
    if (n == 0 || p[0] < 0xc2 || p[0] > 0xf4)
        return 0;
    if (p[0] < 0xe0) {
        len = 2;
    } else if (p[0] < 0xf0) {
        len = 3;
        lo = p[0] == 0xe0 ? 0xa0 : 0x80;
        hi = p[0] == 0xed ? 0x9f : 0xbf;
    } else {
        len = 4;
        lo = p[0] == 0xf0 ? 0x90 : 0x80;
        hi = p[0] == 0xf4 ? 0x8f : 0xbf;
    }
    if (n < len || p[1] < lo || p[1] > hi)
        return 0;
    for (size_t k = 2; k < len; k++) {
        if (p[k] < 0x80 || p[k] > 0xbf)
            return 0;
    }
    return len;
}

/* Whether p[0, n) is the C string word, ignoring ASCII case. */
static bool equal_nocase(const unsigned char *p, size_t n, const char *word)
{
    size_t k = 0;
    for (; k < n && word[k] != '\0'; k++) {
        if (ascii_lower(p[k]) != ascii_lower((unsigned char)word[k]))
            return false;
    }
    return k == n && word[k] == '\0';
}

/* A UTF-8 sequence at the cursor when SMTPUTF8 allows one: its length, else 0. */
static size_t utf8_at(const struct cursor *c)
{
    if (!c->utf8 || c->i >= c->n || c->p[c->i] < 0x80)
        return 0;
    return utf8_len(c->p + c->i, c->n - c->i);
}

/* A sub-domain: Let-dig [Ldh-str], or an RFC 6531 U-label, of 1 to 63 octets. */
static int parse_label(struct cursor *c, struct out *o)
{
    size_t start = c->i;
    bool last_hyphen = false;
    for (;;) {
        size_t u = utf8_at(c);
        int ch = peek(c);
        if (u > 0) {
            put_n(o, c->p + c->i, u);
            c->i += u;
            last_hyphen = false;
        } else if (is_alnum(ch) || (ch == '-' && c->i > start)) {
            put(o, (unsigned char)ch);
            c->i++;
            last_hyphen = ch == '-';
        } else {
            break;
        }
    }
    if (c->i == start || last_hyphen)
        return -EINVAL;
    return c->i - start <= LABEL_MAX ? 0 : -EINVAL;
}

/* Domain = sub-domain *("." sub-domain), appended to o (which may be a scratch buffer). */
static int parse_domain(struct cursor *c, struct out *o)
{
    for (;;) {
        int rc = parse_label(c, o);
        if (rc < 0)
            return rc;
        if (peek(c) != '.')
            return 0;
        put(o, '.');
        c->i++;
    }
}

/*
 * address-literal: "[" IPv4-address-literal "]" or "[IPv6:" IPv6-addr "]",
 * checked with inet_pton(), copied with its brackets. General address
 * literals (another Standardized-tag) name nothing this server can reach.
 */
static int parse_literal(struct cursor *c, struct out *o)
{
    char text[LITERAL_MAX + 1];
    size_t start = ++c->i; /* past '[' */
    while (peek(c) >= 33 && peek(c) <= 126 && peek(c) != '[' && peek(c) != ']' && peek(c) != '\\')
        c->i++;
    size_t n = c->i - start;
    if (peek(c) != ']' || n == 0 || n > LITERAL_MAX)
        return -EINVAL;
    c->i++;
    memcpy(text, c->p + start, n);
    text[n] = '\0';
    unsigned char addr[16];
    int ok;
    if (n > 5 && equal_nocase((const unsigned char *)text, 5, "IPv6:"))
        ok = inet_pton(AF_INET6, text + 5, addr);
    else
        ok = inet_pton(AF_INET, text, addr);
    if (ok != 1)
        return -EINVAL;
    put(o, '[');
    put_n(o, c->p + start, n);
    put(o, ']');
    return 0;
}

/* A-d-l ":" = At-domain *("," At-domain) ":", read and forgotten (RFC 5321 4.1.2, C.). */
static int skip_route(struct cursor *c)
{
    char scratch[1];
    for (;;) {
        struct out o = {scratch, 0, 0};
        if (peek(c) != '@')
            return -EINVAL;
        c->i++;
        int rc = parse_domain(c, &o);
        if (rc < 0)
            return rc;
        if (peek(c) != ',')
            break;
        c->i++;
    }
    if (peek(c) != ':')
        return -EINVAL;
    c->i++;
    return 0;
}

/* Quoted-string: DQUOTE *QcontentSMTP DQUOTE, copied without quotes or backslashes. */
static int parse_quoted(struct cursor *c, struct out *o)
{
    c->i++; /* the opening quote */
    for (;;) {
        size_t u = utf8_at(c);
        int ch = peek(c);
        if (u > 0) {
            put_n(o, c->p + c->i, u);
            c->i += u;
        } else if (ch == '"') {
            c->i++;
            return 0;
        } else if (ch == '\\') { /* quoted-pairSMTP = %d92 %d32-126 */
            c->i++;
            ch = peek(c);
            if (ch < 32 || ch > 126)
                return -EINVAL;
            put(o, (unsigned char)ch);
            c->i++;
        } else if (ch >= 32 && ch <= 126) { /* qtextSMTP */
            put(o, (unsigned char)ch);
            c->i++;
        } else {
            return -EINVAL;
        }
    }
}

/* Dot-string = Atom *("." Atom). */
static int parse_dot_string(struct cursor *c, struct out *o)
{
    size_t atom = 0; /* octets in the current atom */
    for (;;) {
        size_t u = utf8_at(c);
        int ch = peek(c);
        if (u > 0) {
            put_n(o, c->p + c->i, u);
            c->i += u;
            atom += u;
        } else if (is_atext(ch)) {
            put(o, (unsigned char)ch);
            c->i++;
            atom++;
        } else if (ch == '.' && atom > 0) {
            put(o, '.');
            c->i++;
            atom = 0;
        } else {
            return atom > 0 ? 0 : -EINVAL;
        }
    }
}

/* Local-part; *wire_len is its length as sent, quotes and backslashes included. */
static int parse_local(struct cursor *c, struct out *o, size_t *wire_len)
{
    size_t start = c->i;
    int rc = peek(c) == '"' ? parse_quoted(c, o) : parse_dot_string(c, o);
    *wire_len = c->i - start;
    return rc;
}

int smtp_mailaddr_parse(const char *path, size_t len, bool allow_utf8, struct smtp_mailbox *out)
{
    memset(out, 0, sizeof *out);
    if (len > SMTP_PATH_MAX)
        return -ENAMETOOLONG;
    if (len < 2 || path[0] != '<' || path[len - 1] != '>')
        return -EINVAL;
    struct cursor c = {(const unsigned char *)path + 1, len - 2, 0, allow_utf8};
    if (c.n == 0) {
        out->null_path = true;
        return 0;
    }
    if (equal_nocase(c.p, c.n, "postmaster")) { /* RFC 5321 4.1.1.3 "<Postmaster>" */
        out->bare_postmaster = true;
        memcpy(out->local, "postmaster", sizeof "postmaster");
        return 0;
    }
    /* Syntax first: a length error is only for a path that is otherwise valid. */
    int rc = peek(&c) == '@' ? skip_route(&c) : 0;
    struct out local = {out->local, SMTP_LOCAL_MAX, 0};
    size_t local_len = 0;
    if (rc == 0)
        rc = parse_local(&c, &local, &local_len);
    if (rc < 0)
        return rc;
    if (peek(&c) != '@')
        return -EINVAL;
    c.i++;
    struct out domain = {out->domain, SMTP_DOMAIN_MAX, 0};
    rc = peek(&c) == '[' ? parse_literal(&c, &domain) : parse_domain(&c, &domain);
    if (rc < 0)
        return rc;
    if (c.i != c.n)
        return -EINVAL;
    if (local_len > SMTP_LOCAL_MAX)
        return -ENAMETOOLONG;
    rc = finish(&local);
    return rc < 0 ? rc : finish(&domain);
}

/* Whether the folder name s[0, n) could escape the Maildir or misbehave as a name. */
static bool unsafe_name(const char *s, size_t n)
{
    if (n == 0 || n > NAME_MAX || s[0] == '.')
        return true;
    for (size_t k = 0; k < n; k++) {
        unsigned char ch = (unsigned char)s[k];
        if (ch < 0x20 || ch == 0x7f || ch == '/')
            return true;
        if (ch == '.' && k + 1 < n && s[k + 1] == '.')
            return true;
        /* U+0080..U+009F, the C1 controls, in UTF-8 */
        if (ch == 0xc2 && k + 1 < n && (unsigned char)s[k + 1] >= 0x80 &&
            (unsigned char)s[k + 1] <= 0x9f)
            return true;
    }
    return false;
}

int smtp_mailaddr_folder(const struct smtp_mailbox *m, char *out, size_t cap)
{
    char name[sizeof m->local + sizeof m->domain];
    size_t ll = strnlen(m->local, sizeof m->local);
    size_t dl = strnlen(m->domain, sizeof m->domain);
    if (m->null_path || ll == sizeof m->local || dl == sizeof m->domain || dl == 0)
        return -EINVAL;
    size_t n = 0;
    for (size_t k = 0; k < ll; k++)
        name[n++] = (char)ascii_lower((unsigned char)m->local[k]);
    name[n++] = '@';
    for (size_t k = 0; k < dl; k++)
        name[n++] = (char)ascii_lower((unsigned char)m->domain[k]);
    if (unsafe_name(name, n))
        return -EPERM;
    if (n + 1 > cap)
        return -ENAMETOOLONG;
    memcpy(out, name, n);
    out[n] = '\0';
    return 0;
}

/* The length of domain d without one trailing dot. */
static size_t domain_len(const char *d)
{
    size_t n = strlen(d);
    return n > 0 && d[n - 1] == '.' ? n - 1 : n;
}

bool smtp_mailaddr_domain_equal(const char *a, const char *b)
{
    if (a == NULL || b == NULL)
        return false;
    size_t n = domain_len(a);
    if (n == 0 || n != domain_len(b))
        return false;
    for (size_t k = 0; k < n; k++) {
        if (ascii_lower((unsigned char)a[k]) != ascii_lower((unsigned char)b[k]))
            return false;
    }
    return true;
}

/* Whether local can go as a Dot-string (RFC 5321 4.1.2), UTF-8 counting as atext (RFC 6531). */
static bool dot_string(const char *local)
{
    size_t n = strlen(local);
    if (n == 0 || local[0] == '.' || local[n - 1] == '.')
        return false;
    for (size_t k = 0; k < n; k++) {
        unsigned char ch = (unsigned char)local[k];
        if (ch == '.' ? local[k + 1] == '.' : !(is_atext(ch) || ch >= 0x80))
            return false;
    }
    return true;
}

int smtp_mailaddr_format(const struct smtp_mailbox *m, char *out, size_t cap)
{
    size_t n = 0;
    char buf[2 * SMTP_LOCAL_MAX + 3 + 1 + SMTP_DOMAIN_MAX + 1];
    if (!m->null_path) {
        bool quote = !dot_string(m->local);
        if (quote)
            buf[n++] = '"';
        for (size_t k = 0; m->local[k]; k++) {
            if (quote && (m->local[k] == '"' || m->local[k] == '\\'))
                buf[n++] = '\\';
            buf[n++] = m->local[k];
        }
        if (quote)
            buf[n++] = '"';
        if (m->domain[0]) {
            buf[n++] = '@';
            size_t d = strlen(m->domain);
            memcpy(buf + n, m->domain, d);
            n += d;
        }
    }
    if (n + 1 > cap)
        return -ENAMETOOLONG;
    memcpy(out, buf, n);
    out[n] = '\0';
    return 0;
}
