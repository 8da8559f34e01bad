/*
 * request.h: one HTTP/1.1 request being read: the strict llhttp parser fed
 * incrementally, and the request line and headers that matter to a static
 * file server, kept as spans of the connection's input buffer.
 *
 * The spans are offsets from the first byte of the request in the input
 * buffer, so they survive the buffer growing; they are valid until the
 * caller consumes the request's head from the buffer.
 */
#ifndef HTTP_REQUEST_H
#define HTTP_REQUEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <llhttp.h>

struct http_span {
    uint32_t off;
    uint32_t len;
};

enum http_header {
    HTTP_H_HOST,
    HTTP_H_CONNECTION,
    HTTP_H_EXPECT,
    HTTP_H_IF_MATCH,
    HTTP_H_IF_NONE_MATCH,
    HTTP_H_IF_MODIFIED_SINCE,
    HTTP_H_IF_UNMODIFIED_SINCE,
    HTTP_H_RANGE,
    HTTP_H_IF_RANGE,
    HTTP_H_REFERER,
    HTTP_H_USER_AGENT,
    HTTP_H_COUNT,
    HTTP_H_OTHER = HTTP_H_COUNT,
};

struct http_limits {
    uint64_t max_request_line;
    uint64_t max_header_size;
    uint64_t max_headers;
    uint64_t max_body;
};

struct http_request {
    llhttp_t parser;
    const struct http_limits *limits;
    const char *base; /* the buffer during http_request_parse() */
    struct http_span method;
    struct http_span target;
    struct http_span hdr[HTTP_H_COUNT];
    uint8_t hdr_seen[HTTP_H_COUNT]; /* how many times each appeared */
    uint32_t nheaders;
    struct http_span field; /* the header name being read */
    int cur;                /* header whose value is being read */
    uint32_t value_end;     /* end of the value read so far */
    uint32_t parsed;        /* bytes of the buffer fed to the parser */
    uint32_t head_len;      /* request line and headers, once complete */
    uint64_t body_seen;     /* body bytes parsed */
    uint64_t body_wire;     /* and with their chunked framing, as the caller counts them */
    int status;             /* an error a callback found, or 0 */
    bool failed;            /* llhttp stopped with an error... */
    uint32_t error_off;     /* ...at this offset (its pointer would go stale) */
    bool url_done;
    bool head_done;
    bool done; /* the whole message, body included */
};

enum http_parse_result {
    HTTP_PARSE_MORE = 0, /* need more bytes */
    HTTP_PARSE_HEAD = 1, /* the head is complete and a body follows */
    HTTP_PARSE_DONE = 2, /* the message is complete */
};

/* Starts a new request. */
void http_request_init(struct http_request *r, const struct http_limits *limits);

/*
 * Feeds the parser the bytes of data[0, len) it has not seen (from
 * r->parsed on). data must start at the first byte of the request; the
 * caller may cut body bytes out of it and lower r->parsed to match. Returns an enum
 * http_parse_result, or an HTTP error status (400, 413, 414, 431, 501, 505) to answer before
 * closing.
 */
int http_request_parse(struct http_request *r, const char *data, size_t len);

/* Pointer to a span's bytes in data (the same buffer as for parsing). */
static inline const char *http_span_ptr(const char *data, struct http_span s)
{
    return data + s.off;
}

/* True if the header was present. */
static inline bool http_request_has(const struct http_request *r, enum http_header h)
{
    return r->hdr_seen[h] > 0;
}

/*
 * A list header (If-Match, If-None-Match) sent in several field lines, as
 * the one list they make: "a" and "b" give "a, b". Writes into out, which
 * needs r->hdr[h].len bytes (the list is never longer than the span its
 * lines cover); returns its length.
 */
size_t http_request_list(const struct http_request *r, const char *data, enum http_header h,
                         char *out);

/* True when the request announced a body (Content-Length > 0 or chunked). */
bool http_request_has_body(const struct http_request *r);

/* True when the connection may stay open after this request, as the client asked. */
bool http_request_keep_alive(const struct http_request *r);

/*
 * Checks what the parser does not: the version (505), the method (405 for
 * known ones this server does not serve, 501 for others), Host (400 when
 * missing in HTTP/1.1, repeated, or malformed), Expect (417). Returns 0 or
 * the status to answer.
 */
int http_request_check(const struct http_request *r, const char *data);

#endif
