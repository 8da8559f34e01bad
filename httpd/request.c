/*
 * request.c: reading one request with llhttp in strict mode, plus the checks
 * llhttp leaves to the server: obs-fold and whitespace before the colon
 * (which llhttp 8 accepts), Host, the version, the method and the limits.
 * Owns nothing beyond the struct; touches no socket.
 */
#include "httpd/request.h"

#include <stddef.h>
#include <string.h>
#include <strings.h>

#include "common/wk.h"

#define CB_ERROR (-1) /* any non-zero, non-pause return makes llhttp stop with an error */

static struct http_request *req_of(llhttp_t *p)
{
    return (struct http_request *)((char *)p - offsetof(struct http_request, parser));
}

static int fail(struct http_request *r, int status)
{
    r->status = status;
    return CB_ERROR;
}

/* Extends span s with the piece at p, or starts it; pieces of one span are adjacent. */
static void span_add(struct http_request *r, struct http_span *s, const char *p, size_t len)
{
    uint32_t off = (uint32_t)(p - r->base);
    if (s->len == 0)
        s->off = off;
    s->len = off + (uint32_t)len - s->off;
}

static bool is_tchar(unsigned char ch)
{
    static const char extra[] = "!#$%&'*+-.^_`|~";
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
           (ch != 0 && memchr(extra, ch, sizeof extra - 1) != NULL);
}

static int on_method(llhttp_t *p, const char *at, size_t len)
{
    struct http_request *r = req_of(p);
    span_add(r, &r->method, at, len);
    return 0;
}

static int on_url(llhttp_t *p, const char *at, size_t len)
{
    struct http_request *r = req_of(p);
    span_add(r, &r->target, at, len);
    return 0;
}

static int on_url_complete(llhttp_t *p)
{
    req_of(p)->url_done = true;
    return 0;
}

/*
 * Trailers (headers after a chunked body) are discarded unread: the body
 * bytes before them may already be cut from the buffer, so offsets taken
 * then would be meaningless.
 */
static int on_header_field(llhttp_t *p, const char *at, size_t len)
{
    struct http_request *r = req_of(p);
    if (r->head_done)
        return 0;
    span_add(r, &r->field, at, len);
    return 0;
}

static const struct {
    const char *name;
    enum http_header id;
} known_headers[] = {
    {"host", HTTP_H_HOST},
    {"connection", HTTP_H_CONNECTION},
    {"expect", HTTP_H_EXPECT},
    {"if-match", HTTP_H_IF_MATCH},
    {"if-none-match", HTTP_H_IF_NONE_MATCH},
    {"if-modified-since", HTTP_H_IF_MODIFIED_SINCE},
    {"if-unmodified-since", HTTP_H_IF_UNMODIFIED_SINCE},
    {"range", HTTP_H_RANGE},
    {"if-range", HTTP_H_IF_RANGE},
    {"referer", HTTP_H_REFERER},
    {"user-agent", HTTP_H_USER_AGENT},
};

/* Headers whose repeated field lines make one comma-separated list (RFC 9110 5.3). */
static bool is_list(int h)
{
    return h == HTTP_H_IF_MATCH || h == HTTP_H_IF_NONE_MATCH;
}

static int on_header_field_complete(llhttp_t *p)
{
    struct http_request *r = req_of(p);
    if (r->head_done)
        return 0;
    const char *name = r->base + r->field.off;
    if (++r->nheaders > r->limits->max_headers)
        return fail(r, 431);
    /* llhttp lets "Host : x" through; RFC 9112 5.1 says reject it. */
    for (uint32_t i = 0; i < r->field.len; i++) {
        if (!is_tchar((unsigned char)name[i]))
            return fail(r, 400);
    }
    r->cur = HTTP_H_OTHER;
    for (size_t i = 0; i < WK_ARRAY_LEN(known_headers); i++) {
        if (strlen(known_headers[i].name) == r->field.len &&
            strncasecmp(name, known_headers[i].name, r->field.len) == 0) {
            r->cur = known_headers[i].id;
            break;
        }
    }
    r->field.len = 0;
    r->value_end = 0;
    return 0;
}

static int on_header_value(llhttp_t *p, const char *at, size_t len)
{
    struct http_request *r = req_of(p);
    if (r->head_done || len == 0)
        return 0;
    uint32_t off = (uint32_t)(at - r->base);
    /*
     * A piece that does not continue the previous one must follow the colon
     * (and whitespace); one that follows a line break is obs-fold, which
     * llhttp 8 joins silently.
     */
    if (r->value_end == 0 || off != r->value_end) {
        uint32_t i = off;
        while (i > 0 && (r->base[i - 1] == ' ' || r->base[i - 1] == '\t'))
            i--;
        if (i == 0 || r->base[i - 1] != ':')
            return fail(r, 400);
    }
    r->value_end = off + (uint32_t)len;
    /* A repeated list header's span grows over its later field lines (see http_request_list). */
    if (r->cur != HTTP_H_OTHER && (r->hdr_seen[r->cur] == 0 || is_list(r->cur)))
        span_add(r, &r->hdr[r->cur], at, len);
    return 0;
}

static int on_header_value_complete(llhttp_t *p)
{
    struct http_request *r = req_of(p);
    if (r->head_done || r->cur == HTTP_H_OTHER)
        return 0;
    struct http_span *s = &r->hdr[r->cur];
    /* A value of only whitespace gives no callback: place the empty span at its end. */
    if (s->len == 0 && r->hdr_seen[r->cur] == 0)
        s->off = r->value_end;
    while (s->len > 0 &&
           (r->base[s->off + s->len - 1] == ' ' || r->base[s->off + s->len - 1] == '\t'))
        s->len--;
    if (r->hdr_seen[r->cur] < UINT8_MAX)
        r->hdr_seen[r->cur]++;
    return 0;
}

static int on_headers_complete(llhttp_t *p)
{
    struct http_request *r = req_of(p);
    r->head_done = true;
    /* Stop here when a body follows, so the head is answered before the body is read. */
    return http_request_has_body(r) ? HPE_PAUSED : 0;
}

static int on_body(llhttp_t *p, const char *at, size_t len)
{
    struct http_request *r = req_of(p);
    WK_UNUSED(at);
    r->body_seen += len;
    if (r->body_seen > r->limits->max_body)
        return fail(r, 413);
    return 0;
}

static int on_message_complete(llhttp_t *p)
{
    req_of(p)->done = true;
    return HPE_PAUSED;
}

static const llhttp_settings_t settings = {
    .on_method = on_method,
    .on_url = on_url,
    .on_url_complete = on_url_complete,
    .on_header_field = on_header_field,
    .on_header_field_complete = on_header_field_complete,
    .on_header_value = on_header_value,
    .on_header_value_complete = on_header_value_complete,
    .on_headers_complete = on_headers_complete,
    .on_body = on_body,
    .on_message_complete = on_message_complete,
};

void http_request_init(struct http_request *r, const struct http_limits *limits)
{
    memset(r, 0, sizeof *r);
    llhttp_init(&r->parser, HTTP_REQUEST, &settings);
    r->limits = limits;
}

static int error_status(const struct http_request *r, llhttp_errno_t err, const char *data,
                        size_t len);
static bool line_incomplete(const struct http_request *r, llhttp_errno_t err, const char *data,
                            size_t len);

/*
 * Checks the request line and header block against the limits, on what has
 * arrived so far (complete or not): the same answer whether the head came
 * in one read or byte by byte.
 */
static int limit_status(const struct http_request *r, const char *data, size_t len)
{
    const char *lf = memchr(data, '\n', len);
    size_t line = lf ? (size_t)(lf - data) + 1 : len;
    if (line > r->limits->max_request_line)
        return 414;
    size_t block = (r->head_len ? r->head_len : len) - line;
    if (lf && block > r->limits->max_header_size)
        return 431;
    return 0;
}

/*
 * llhttp 8 lets a bare LF end a line and a bare CR pass in places; RFC 9112
 * 2.2 allows refusing both. Looks at p[from, len); a CR at the very end may
 * still be followed by its LF.
 */
static bool has_bare_cr_or_lf(const char *p, size_t from, size_t len)
{
    for (size_t i = from; i < len; i++) {
        if (p[i] == '\n' && (i == 0 || p[i - 1] != '\r'))
            return true;
        if (p[i] == '\r' && i + 1 < len && p[i + 1] != '\n')
            return true;
    }
    return false;
}

/* The head is complete: the checks that need all of it. Returns 0 or a status. */
static int head_status(const struct http_request *r, const char *data)
{
    int status = limit_status(r, data, r->head_len);
    if (status == 0 && (has_bare_cr_or_lf(data, 0, r->head_len) || data[r->head_len - 1] != '\n'))
        status = 400;
    return status;
}

int http_request_parse(struct http_request *r, const char *data, size_t len)
{
    if (r->done)
        return HTTP_PARSE_DONE;
    if (len <= r->parsed)
        return HTTP_PARSE_MORE;
    r->base = data;
    uint32_t from = r->parsed;
    llhttp_errno_t err = llhttp_execute(&r->parser, data + r->parsed, len - r->parsed);
    if (err != HPE_OK && err != HPE_PAUSED && err != HPE_PAUSED_UPGRADE && !r->failed) {
        r->failed = true;
        r->error_off = (uint32_t)(llhttp_get_error_pos(&r->parser) - data);
    }
    if (err == HPE_OK) {
        r->parsed = (uint32_t)len;
        if (r->head_done)
            return HTTP_PARSE_MORE;
        int status = limit_status(r, data, len);
        if (status == 0 && has_bare_cr_or_lf(data, from ? from - 1 : 0, len))
            status = 400;
        return status ? status : HTTP_PARSE_MORE;
    }
    if (line_incomplete(r, err, data, len)) {
        /*
         * Whether this is 400, 501 or 505 shows once the request line is
         * whole. The parser keeps its error and returns it at once on later
         * calls, so waiting costs no parsing.
         */
        return HTTP_PARSE_MORE;
    }
    if (err != HPE_PAUSED && err != HPE_PAUSED_UPGRADE)
        return r->status ? r->status : error_status(r, err, data, len);
    r->parsed = (uint32_t)(llhttp_get_error_pos(&r->parser) - data);
    if (r->head_len == 0) {
        r->head_len = r->parsed;
        int status = head_status(r, data);
        if (status)
            return status;
    }
    if (err == HPE_PAUSED)
        llhttp_resume(&r->parser);
    else
        r->done = true; /* an Upgrade request: this server upgrades nothing */
    return r->done ? HTTP_PARSE_DONE : HTTP_PARSE_HEAD;
}

/* Appends p[0, len) to out at *o, less leading and trailing whitespace, after ", " if not first. */
static void list_append(char *out, size_t *o, const char *p, size_t len)
{
    while (len > 0 && (*p == ' ' || *p == '\t')) {
        p++;
        len--;
    }
    while (len > 0 && (p[len - 1] == ' ' || p[len - 1] == '\t'))
        len--;
    if (*o > 0) {
        memcpy(out + *o, ", ", 2);
        *o += 2;
    }
    memcpy(out + *o, p, len);
    *o += len;
}

size_t http_request_list(const struct http_request *r, const char *data, enum http_header h,
                         char *out)
{
    const char *name = NULL;
    for (size_t i = 0; i < WK_ARRAY_LEN(known_headers); i++) {
        if (known_headers[i].id == h)
            name = known_headers[i].name;
    }
    size_t nlen = strlen(name), o = 0;
    const char *p = data + r->hdr[h].off, *end = p + r->hdr[h].len;
    const char *eol = memmem(p, (size_t)(end - p), "\r\n", 2);
    list_append(out, &o, p, (size_t)((eol ? eol : end) - p));
    while (eol != NULL) {
        const char *line = eol + 2;
        eol = memmem(line, (size_t)(end - line), "\r\n", 2);
        size_t llen = (size_t)((eol ? eol : end) - line);
        /* Other headers may stand between the field lines: take only this one's. */
        if (llen > nlen && line[nlen] == ':' && strncasecmp(line, name, nlen) == 0)
            list_append(out, &o, line + nlen + 1, llen - nlen - 1);
    }
    return o;
}

bool http_request_has_body(const struct http_request *r)
{
    return (r->parser.flags & F_CHUNKED) || r->parser.content_length > 0;
}

bool http_request_keep_alive(const struct http_request *r)
{
    /* RFC 9112 6.1: Transfer-Encoding in HTTP/1.0 is faulty framing; close after it. */
    if (r->parser.http_minor == 0 && (r->parser.flags & F_TRANSFER_ENCODING))
        return false;
    return llhttp_should_keep_alive(&r->parser) != 0;
}

static bool is_token(const char *p, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        if (!is_tchar((unsigned char)p[i]))
            return false;
    }
    return len > 0;
}

/*
 * True if llhttp refused the method: it stopped inside the token (it knows
 * no method starting so), or it took an RTSP method (ANNOUNCE, SETUP...) and
 * then missed "RTSP/". Either way a method this server does not implement.
 */
static bool in_method(const struct http_request *r, llhttp_errno_t err, const char *data,
                      size_t len)
{
    if (err != HPE_INVALID_METHOD && err != HPE_INVALID_CONSTANT)
        return false;
    if (err == HPE_INVALID_CONSTANT && r->parser.method >= HTTP_DESCRIBE &&
        r->parser.method <= HTTP_FLUSH)
        return true;
    const char *sp = memchr(data, ' ', len);
    return sp == NULL || r->error_off <= (uint32_t)(sp - data);
}

/*
 * llhttp stops at the first byte of a method or version it does not know,
 * which may come before the request line is whole: the answer waits for the
 * rest of the line (bounded by the limit), so that it does not depend on how
 * the bytes were split.
 */
static bool line_incomplete(const struct http_request *r, llhttp_errno_t err, const char *data,
                            size_t len)
{
    if (in_method(r, err, data, len)) {
        if (len > r->limits->max_request_line)
            return false;
        for (size_t i = 0; i < len; i++) {
            if (!is_tchar((unsigned char)data[i]))
                return false;
        }
        return true;
    }
    /* A version refused before the line's end: wait for the end, unless a bare CR came. */
    const char *cr = memchr(data, '\r', len);
    return err == HPE_INVALID_VERSION && memchr(data, '\n', len) == NULL &&
           (cr == NULL || cr == data + len - 1) && len <= r->limits->max_request_line;
}

/* True if the request line ends in "HTTP/d.d" CRLF: a well-formed version we don't speak. */
static bool version_well_formed(const char *data, size_t len)
{
    const char *lf = memchr(data, '\n', len);
    if (lf != NULL)
        len = (size_t)(lf - data) + 1; /* this line only, not a pipelined one after it */
    const char *cr = memchr(data, '\r', len);
    if (cr == NULL || (size_t)(cr - data) + 1 >= len || cr[1] != '\n' || cr - data < 9)
        return false;
    const char *v = cr - 8;
    return v[-1] == ' ' && memcmp(v, "HTTP/", 5) == 0 && v[5] >= '0' && v[5] <= '9' &&
           v[6] == '.' && v[7] >= '0' && v[7] <= '9';
}

static int error_status(const struct http_request *r, llhttp_errno_t err, const char *data,
                        size_t len)
{
    if (in_method(r, err, data, len))
        err = HPE_INVALID_METHOD;
    switch (err) {
    case HPE_INVALID_METHOD: {
        /* A well-formed token that llhttp does not know is a method we don't implement. */
        size_t n = 0;
        while (n < len && is_tchar((unsigned char)data[n]))
            n++;
        return n > 0 && n < len && data[n] == ' ' ? 501 : 400;
    }
    case HPE_INVALID_VERSION:
        return version_well_formed(data, len) ? 505 : 400;
    default:
        return 400;
    }
}

/* Host = uri-host [ ":" port ] (RFC 9110 7.2), checked for the bytes it may hold. */
static bool valid_host(const char *p, size_t len)
{
    static const char extra[] = "-._~!$&'()*+,;=:[]%";
    if (len == 0)
        return false;
    for (size_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)p[i];
        bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
                  (ch >= '0' && ch <= '9') || memchr(extra, ch, sizeof extra - 1) != NULL;
        if (!ok)
            return false;
    }
    return true;
}

static int check_method(const struct http_request *r)
{
    switch (r->parser.method) {
    case HTTP_GET:
    case HTTP_HEAD:
    case HTTP_OPTIONS:
        return 0;
    case HTTP_POST:
    case HTTP_PUT:
    case HTTP_DELETE:
    case HTTP_PATCH:
    case HTTP_CONNECT:
    case HTTP_TRACE:
        return 405;
    default:
        return 501;
    }
}

int http_request_check(const struct http_request *r, const char *data)
{
    const llhttp_t *p = &r->parser;
    if (p->http_major != 1 || p->http_minor > 1)
        return 505;
    if (!is_token(http_span_ptr(data, r->method), r->method.len))
        return 400;
    if (r->hdr_seen[HTTP_H_HOST] > 1 || (p->http_minor == 1 && !r->hdr_seen[HTTP_H_HOST]))
        return 400;
    if (r->hdr_seen[HTTP_H_HOST] &&
        !valid_host(http_span_ptr(data, r->hdr[HTTP_H_HOST]), r->hdr[HTTP_H_HOST].len))
        return 400;
    int status = check_method(r);
    if (status)
        return status;
    if (r->hdr_seen[HTTP_H_EXPECT]) {
        struct http_span e = r->hdr[HTTP_H_EXPECT];
        if (e.len != 12 || strncasecmp(http_span_ptr(data, e), "100-continue", 12) != 0)
            return 417;
    }
    if (!(p->flags & F_CHUNKED) && p->content_length > r->limits->max_body)
        return 413;
    return 0;
}
