/*
 * tls.h: the server side TLS context (an OpenSSL 3 SSL_CTX): protocol
 * versions, ciphers, session resumption and ALPN, with the certificate and key
 * either loaded from PEM files or generated in memory (self-signed). It does
 * no socket I/O: connections make their SSL objects from wk_tls_ssl_ctx().
 */
#ifndef WK_TLS_H
#define WK_TLS_H

#include <stdbool.h>
#include <errno.h>
#include <stddef.h>
#include <sys/types.h>

#include "common/config.h"
#include "common/wk.h"

/* Longest host name a self-signed certificate is made for. */
#define WK_TLS_HOSTNAME_MAX 253

struct wk_tls;

struct wk_tls_options {
    const char *cert_file;   /* PEM, leaf first, then its chain */
    const char *key_file;    /* PEM, unencrypted */
    bool self_signed;        /* ignore the files: generate a key and certificate */
    const char *hostname;    /* self-signed subject; NULL means "localhost" */
    const char *const *alpn; /* protocols to offer, preferred first, e.g. {"http/1.1"} */
    size_t nalpn;
};

/*
 * Makes a TLS server context from o: TLS 1.2 or 1.3, forward-secret AEAD
 * ciphers only, no renegotiation or compression, kernel TLS when available,
 * session tickets and a session cache. A client offering none of o->alpn
 * goes on without ALPN. Either o->self_signed or both files are needed.
 * Returns 0 and *out (release with wk_tls_free), or -errno (-ENOENT,
 * -EACCES for unreadable files, -EINVAL for a bad file, a key that does not
 * match, a certificate that has expired or is not yet valid, -ENOMEM) with a
 * message naming the file in err. Nothing in o is kept after the call.
 */
int wk_tls_new(const struct wk_tls_options *o, struct wk_tls **out, char err[WK_ERR_LEN]);

/*
 * Writes the leaf certificate of t as PEM to path (mode 0644), so clients
 * can be told to trust a self-signed one. Returns 0, or -errno with a message
 * naming path in err.
 */
int wk_tls_write_cert(const struct wk_tls *t, const char *path, char err[WK_ERR_LEN]);

/* The SSL_CTX (as void *, so callers need no OpenSSL headers). t keeps ownership. */
void *wk_tls_ssl_ctx(const struct wk_tls *t);

/*
 * Gives up the owner's hold on t: it is freed with its context once no
 * session from wk_tls_session_new() uses it any more. NULL is ok.
 */
void wk_tls_free(struct wk_tls *t);

/* Another owner's hold on t (a reload that keeps the context), given up by wk_tls_free(). */
struct wk_tls *wk_tls_ref(struct wk_tls *t);

/* The TLS options both servers take. */
struct wk_tls_config {
    const char *cert;
    const char *key;
    bool self_signed;
    const char *write_cert;
    uint64_t handshake_timeout; /* ms */
};

/* Their entries in a server's option table (struct wk_option), for tc. */
/* clang-format off */
#define WK_TLS_OPTIONS(tc)                                                                        \
    {"cert", WK_OPT_STRING, &(tc)->cert, "FILE", "TLS certificate chain (PEM)", 0, 0, false},     \
    {"key", WK_OPT_STRING, &(tc)->key, "FILE", "TLS private key (PEM)", 0, 0, false},             \
    {"self-signed", WK_OPT_FLAG, &(tc)->self_signed, NULL,                                        \
     "TLS with a certificate made at startup (ECDSA P-256)", 0, 0, false},                        \
    {"write-cert", WK_OPT_STRING, &(tc)->write_cert, "FILE",                                      \
     "save that certificate in FILE, for clients to trust", 0, 0, false},                         \
    {"handshake-timeout", WK_OPT_DURATION, &(tc)->handshake_timeout, "DUR",                       \
     "time a client has to finish its TLS handshake", 1, 0, false}
/* clang-format on */

/*
 * The TLS context as the command line asks for it: --cert FILE --key FILE,
 * or --self-signed (for this host's name), and --write-cert FILE to save
 * the certificate. Returns 0 with *out NULL when none of them is given (TLS
 * off), 0 with a context, or -errno with a message in err.
 */
int wk_tls_setup(const struct wk_tls_config *tc, const char *const *alpn, size_t nalpn,
                 struct wk_tls **out, char err[WK_ERR_LEN]);

/*
 * One TLS session on an accepted, nonblocking socket. The calls below never
 * block; besides their results they return WK_TLS_WANT_READ or
 * WK_TLS_WANT_WRITE when the socket must become readable or writable first.
 */
#define WK_TLS_WANT_READ  (-EAGAIN)
#define WK_TLS_WANT_WRITE (-EINPROGRESS)

struct ssl_st;

/* A server session for fd (not owned). NULL on ENOMEM. */
struct ssl_st *wk_tls_session_new(struct wk_tls *t, int fd);

/* Runs the handshake. Returns 0 when done, WANT_*, or -EPROTO. */
int wk_tls_handshake(struct ssl_st *ssl);

/*
 * Reads plaintext. Returns bytes (> 0), 0 at the end (close_notify or EOF),
 * WANT_*, or -errno. After bytes, *drained says whether the socket and
 * OpenSSL's buffer were both found empty, so that reading again would only
 * wait (for an edge-triggered loop, the read that saves a system call).
 */
ssize_t wk_tls_read(struct ssl_st *ssl, void *buf, size_t n, bool *drained);

/*
 * Writes plaintext; may write part of it. After a WANT_* result, call again
 * with the same bytes (the buffer may move). Returns bytes (> 0), WANT_*,
 * or -errno.
 */
ssize_t wk_tls_write(struct ssl_st *ssl, const void *buf, size_t n);

/*
 * Whether the kernel encrypts what this session sends (kernel TLS, set up by
 * OpenSSL after the handshake when the kernel has the "tls" module and the
 * cipher allows it). Only then can wk_tls_sendfile() be used.
 */
bool wk_tls_ktls_send(struct ssl_st *ssl);

/*
 * Sends up to n bytes of file fd from offset off with sendfile(2), encrypted
 * by the kernel. Returns bytes (> 0), WK_TLS_WANT_WRITE, or -errno.
 */
ssize_t wk_tls_sendfile(struct ssl_st *ssl, int fd, off_t off, size_t n);

/* Sends close_notify if it can without blocking. */
void wk_tls_shutdown(struct ssl_st *ssl);

/* Frees the session (not the fd) and its hold on the context. NULL is fine. */
void wk_tls_session_free(struct ssl_st *ssl);

/* "TLSv1.3" and the cipher's name, for logs; valid while the session is. */
const char *wk_tls_version(const struct ssl_st *ssl);
const char *wk_tls_cipher(const struct ssl_st *ssl);

#endif
