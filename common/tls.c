/*
 * tls.c: the server side TLS context: an OpenSSL 3 SSL_CTX configured once at
 * startup (versions, ciphers, options, sessions, ALPN), its certificate and
 * key loaded from PEM files and checked, or generated in memory. Reading and
 * writing on connections belongs to conn.c, not here.
 */
#include "common/tls.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

/*
 * Mozilla's "intermediate" TLS 1.2 suites without the DHE ones: ECDHE key
 * exchange with AES-GCM or ChaCha20-Poly1305. TLS 1.3 keeps OpenSSL's suites.
 */
#define TLS12_CIPHERS                                                                              \
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"                                   \
    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"                                   \
    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305"

#define SELF_SIGNED_DAYS   365
#define SESSION_CACHE_SIZE 20480

struct wk_tls {
    unsigned refs; /* the owner's, and one per session: a reloaded context lives on */
    SSL_CTX *ctx;
    unsigned char *alpn; /* ALPN wire format: length-prefixed names, preferred first */
    unsigned int alpn_len;
};

/* The first queued OpenSSL error (the root cause), for a message; clears the queue. */
static const char *ssl_reason(char *buf, size_t len)
{
    unsigned long e = ERR_peek_error();
    const char *r = e != 0 ? ERR_reason_error_string(e) : NULL;

    snprintf(buf, len, "%s", r != NULL ? r : "unknown OpenSSL error");
    ERR_clear_error();
    return buf;
}

static int select_alpn(SSL *ssl, const unsigned char **out, unsigned char *outlen,
                       const unsigned char *in, unsigned int inlen, void *arg)
{
    const struct wk_tls *t = arg;
    unsigned char *sel = NULL;

    WK_UNUSED(ssl);
    if (inlen == 0 || t->alpn_len == 0)
        return SSL_TLSEXT_ERR_NOACK;
    /* Server preference order; no common protocol means carrying on without ALPN. */
    if (SSL_select_next_proto(&sel, outlen, t->alpn, t->alpn_len, in, inlen) !=
        OPENSSL_NPN_NEGOTIATED)
        return SSL_TLSEXT_ERR_NOACK;
    *out = sel;
    return SSL_TLSEXT_ERR_OK;
}

static int set_alpn(struct wk_tls *t, const char *const *alpn, size_t n, char err[WK_ERR_LEN])
{
    size_t total = 0;

    for (size_t i = 0; i < n; i++) {
        size_t len = alpn[i] != NULL ? strlen(alpn[i]) : 0;
        if (len == 0 || len > 255) {
            snprintf(err, WK_ERR_LEN, "TLS: ALPN protocol %zu must be 1 to 255 bytes long", i);
            return -EINVAL;
        }
        total += 1 + len;
    }
    if (total == 0)
        return 0;
    if (total > 65535) {
        snprintf(err, WK_ERR_LEN, "TLS: the ALPN protocol list is too long");
        return -EINVAL;
    }
    t->alpn = malloc(total);
    if (t->alpn == NULL) {
        snprintf(err, WK_ERR_LEN, "TLS: out of memory");
        return -ENOMEM;
    }
    for (size_t i = 0; i < n; i++) {
        size_t len = strlen(alpn[i]);
        t->alpn[t->alpn_len++] = (unsigned char)len;
        memcpy(t->alpn + t->alpn_len, alpn[i], len);
        t->alpn_len += (unsigned int)len;
    }
    SSL_CTX_set_alpn_select_cb(t->ctx, select_alpn, t);
    return 0;
}

static int configure(SSL_CTX *ctx, char err[WK_ERR_LEN])
{
    static const unsigned char sid_ctx[] = "wellknown";
    char why[256];

    if (!SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) ||
        !SSL_CTX_set_max_proto_version(ctx, 0) || !SSL_CTX_set_cipher_list(ctx, TLS12_CIPHERS) ||
        !SSL_CTX_set_num_tickets(ctx, 2) ||
        !SSL_CTX_set_session_id_context(ctx, sid_ctx, sizeof sid_ctx - 1)) {
        snprintf(err, WK_ERR_LEN, "TLS: cannot configure the context: %s",
                 ssl_reason(why, sizeof why));
        return -EINVAL;
    }
    /* A peer that closes without close_notify ends the stream like a TCP FIN. */
    SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION | SSL_OP_ENABLE_KTLS |
                                 SSL_OP_IGNORE_UNEXPECTED_EOF);
    /* Clients pick among suites that are all strong; the intermediate profile leaves it to them. */
    SSL_CTX_clear_options(ctx, SSL_OP_CIPHER_SERVER_PREFERENCE);
    /* Whole records in one read(), and more of them when they are there. */
    SSL_CTX_set_read_ahead(ctx, 1);
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_SERVER);
    SSL_CTX_sess_set_cache_size(ctx, SESSION_CACHE_SIZE);
    return 0;
}

/* Refuses a certificate outside its validity period: clients would refuse it anyway. */
static int check_validity(X509 *x, const char *file, char err[WK_ERR_LEN])
{
    if (X509_cmp_current_time(X509_get0_notAfter(x)) <= 0) {
        snprintf(err, WK_ERR_LEN, "%s: the certificate has expired", file);
        return -EINVAL;
    }
    if (X509_cmp_current_time(X509_get0_notBefore(x)) >= 0) {
        snprintf(err, WK_ERR_LEN, "%s: the certificate is not yet valid", file);
        return -EINVAL;
    }
    return 0;
}

/* Fails without asking a terminal: encrypted keys are not supported. */
static int no_passphrase(char *buf, int size, int rwflag, void *u)
{
    WK_UNUSED(buf);
    WK_UNUSED(size);
    WK_UNUSED(rwflag);
    WK_UNUSED(u);
    return 0;
}

static int load_cert(SSL_CTX *ctx, const char *file, char err[WK_ERR_LEN])
{
    char why[256];
    X509 *x;
    /* OpenSSL's own message would not say why a file cannot be opened. */
    int fd = open(file, O_RDONLY | O_CLOEXEC);

    if (fd < 0) {
        int e = errno;
        snprintf(err, WK_ERR_LEN, "%s: cannot read the certificate: %s", file, strerror(e));
        return -e;
    }
    close(fd);
    if (!SSL_CTX_use_certificate_chain_file(ctx, file)) {
        snprintf(err, WK_ERR_LEN, "%s: not a usable PEM certificate (%s)", file,
                 ssl_reason(why, sizeof why));
        return -EINVAL;
    }
    x = SSL_CTX_get0_certificate(ctx);
    if (x == NULL) {
        snprintf(err, WK_ERR_LEN, "%s: no certificate found", file);
        return -EINVAL;
    }
    return check_validity(x, file, err);
}

static int load_key(SSL_CTX *ctx, const char *file, const char *cert_file, char err[WK_ERR_LEN])
{
    char why[256];
    EVP_PKEY *key = NULL;
    FILE *f = fopen(file, "re");
    int rc = -EINVAL;

    if (f == NULL) {
        int e = errno;
        snprintf(err, WK_ERR_LEN, "%s: cannot read the private key: %s", file, strerror(e));
        return -e;
    }
    key = PEM_read_PrivateKey(f, NULL, no_passphrase, NULL);
    fclose(f);
    if (key == NULL) {
        snprintf(err, WK_ERR_LEN, "%s: no unencrypted PEM private key found (%s)", file,
                 ssl_reason(why, sizeof why));
        goto fail;
    }
    if (!X509_check_private_key(SSL_CTX_get0_certificate(ctx), key)) {
        ERR_clear_error();
        snprintf(err, WK_ERR_LEN, "%s: the private key does not match the certificate in %s", file,
                 cert_file);
        goto fail;
    }
    if (!SSL_CTX_use_PrivateKey(ctx, key) || !SSL_CTX_check_private_key(ctx)) {
        snprintf(err, WK_ERR_LEN, "%s: cannot use the private key (%s)", file,
                 ssl_reason(why, sizeof why));
        goto fail;
    }
    rc = 0;
fail:
    EVP_PKEY_free(key);
    return rc;
}

/* Host names only (letters, digits, '-', '.', '_'), so they can go into the SAN list as text. */
static bool is_hostname(const char *s)
{
    size_t n = strlen(s);

    if (n == 0 || n > WK_TLS_HOSTNAME_MAX)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '-' || c == '.' || c == '_';
        if (!ok)
            return false;
    }
    return true;
}

static bool add_ext(X509 *x, X509V3_CTX *v3, int nid, const char *value)
{
    X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, v3, nid, value);
    bool ok = ext != NULL && X509_add_ext(x, ext, -1);

    X509_EXTENSION_free(ext);
    return ok;
}

/* A certificate for hostname, localhost and the loopback addresses, its own trust anchor. */
static X509 *make_cert(EVP_PKEY *key, const char *hostname)
{
    char san[2 * WK_TLS_HOSTNAME_MAX + 64];
    X509V3_CTX v3;
    X509 *x = X509_new();
    BIGNUM *serial = BN_new();
    X509_NAME *name;

    if (strcasecmp(hostname, "localhost") == 0)
        snprintf(san, sizeof san, "DNS:localhost,IP:127.0.0.1,IP:::1");
    else
        snprintf(san, sizeof san, "DNS:%s,DNS:localhost,IP:127.0.0.1,IP:::1", hostname);
    /* 159 random bits: positive and at most 20 bytes, as RFC 5280 asks. */
    if (x == NULL || serial == NULL || !X509_set_version(x, X509_VERSION_3) ||
        !BN_rand(serial, 159, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY) ||
        BN_to_ASN1_INTEGER(serial, X509_get_serialNumber(x)) == NULL ||
        X509_gmtime_adj(X509_getm_notBefore(x), -3600) == NULL ||
        X509_time_adj_ex(X509_getm_notAfter(x), SELF_SIGNED_DAYS, -3600, NULL) == NULL ||
        !X509_set_pubkey(x, key))
        goto fail;
    name = X509_get_subject_name(x);
    if (!X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)hostname, -1,
                                    -1, 0) ||
        !X509_set_issuer_name(x, name))
        goto fail;
    X509V3_set_ctx(&v3, x, x, NULL, NULL, 0);
    if (!add_ext(x, &v3, NID_basic_constraints, "critical,CA:TRUE") ||
        !add_ext(x, &v3, NID_key_usage, "critical,digitalSignature,keyCertSign") ||
        !add_ext(x, &v3, NID_ext_key_usage, "serverAuth") ||
        !add_ext(x, &v3, NID_subject_key_identifier, "hash") ||
        !add_ext(x, &v3, NID_subject_alt_name, san) || !X509_sign(x, key, EVP_sha256()))
        goto fail;
    BN_free(serial);
    return x;
fail:
    BN_free(serial);
    X509_free(x);
    return NULL;
}

static int self_sign(SSL_CTX *ctx, const char *hostname, char err[WK_ERR_LEN])
{
    char why[256];
    EVP_PKEY *key = NULL;
    X509 *x = NULL;
    int rc = -EINVAL;

    if (!is_hostname(hostname)) {
        snprintf(err, WK_ERR_LEN, "self-signed certificate: \"%.*s\" is not a host name", 300,
                 hostname);
        return -EINVAL;
    }
    key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    x = key != NULL ? make_cert(key, hostname) : NULL;
    if (x == NULL || !SSL_CTX_use_certificate(ctx, x) || !SSL_CTX_use_PrivateKey(ctx, key)) {
        snprintf(err, WK_ERR_LEN, "self-signed certificate for %s: %s", hostname,
                 ssl_reason(why, sizeof why));
        goto fail;
    }
    rc = 0;
fail:
    X509_free(x);
    EVP_PKEY_free(key);
    return rc;
}

int wk_tls_new(const struct wk_tls_options *o, struct wk_tls **out, char err[WK_ERR_LEN])
{
    char why[256];
    struct wk_tls *t = NULL;
    int rc;

    *out = NULL;
    if (!o->self_signed && (o->cert_file == NULL || o->key_file == NULL)) {
        snprintf(err, WK_ERR_LEN, "TLS needs --cert and --key, or --self-signed");
        return -EINVAL;
    }
    t = calloc(1, sizeof *t);
    if (t == NULL) {
        snprintf(err, WK_ERR_LEN, "TLS: out of memory");
        return -ENOMEM;
    }
    t->refs = 1;
    t->ctx = SSL_CTX_new(TLS_server_method());
    if (t->ctx == NULL) {
        snprintf(err, WK_ERR_LEN, "TLS: cannot make a context: %s", ssl_reason(why, sizeof why));
        rc = -ENOMEM;
        goto fail;
    }
    rc = configure(t->ctx, err);
    if (rc == 0)
        rc = set_alpn(t, o->alpn, o->nalpn, err);
    if (rc == 0 && o->self_signed)
        rc = self_sign(t->ctx, o->hostname != NULL ? o->hostname : "localhost", err);
    if (rc == 0 && !o->self_signed) {
        rc = load_cert(t->ctx, o->cert_file, err);
        if (rc == 0)
            rc = load_key(t->ctx, o->key_file, o->cert_file, err);
    }
    if (rc != 0)
        goto fail;
    *out = t;
    return 0;
fail:
    ERR_clear_error();
    wk_tls_free(t);
    return rc;
}

static int write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            return -errno;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

int wk_tls_write_cert(const struct wk_tls *t, const char *path, char err[WK_ERR_LEN])
{
    X509 *x = SSL_CTX_get0_certificate(t->ctx);
    BIO *mem = BIO_new(BIO_s_mem());
    char *pem;
    long len;
    int fd = -1;
    int rc;

    if (x == NULL || mem == NULL || !PEM_write_bio_X509(mem, x)) {
        snprintf(err, WK_ERR_LEN, "%s: cannot encode the certificate", path);
        rc = -ENOMEM;
        goto fail;
    }
    len = BIO_get_mem_data(mem, &pem);
    fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    /* The mode is the point (clients read the file): umask must not narrow it. */
    if (fd < 0 || fchmod(fd, 0644) < 0) {
        rc = -errno;
        snprintf(err, WK_ERR_LEN, "%s: cannot write the certificate: %s", path, strerror(-rc));
        goto fail;
    }
    rc = write_all(fd, pem, (size_t)len);
    if (close(fd) < 0 && rc == 0)
        rc = -errno;
    fd = -1;
    if (rc != 0)
        snprintf(err, WK_ERR_LEN, "%s: cannot write the certificate: %s", path, strerror(-rc));
fail:
    if (fd >= 0)
        close(fd);
    BIO_free(mem);
    ERR_clear_error();
    return rc;
}

void *wk_tls_ssl_ctx(const struct wk_tls *t)
{
    return t->ctx;
}

struct wk_tls *wk_tls_ref(struct wk_tls *t)
{
    t->refs++;
    return t;
}

void wk_tls_free(struct wk_tls *t)
{
    if (t == NULL || --t->refs > 0)
        return; /* sessions still use it: the last one to end frees it */
    SSL_CTX_free(t->ctx);
    free(t->alpn);
    free(t);
}

/* What the last read() under an SSL_read did, seen through the socket BIO's callback. */
struct read_watch {
    bool short_read; /* it returned fewer bytes than asked for: the socket was drained */
};

static long watch_read(BIO *b, int oper, const char *argp, size_t len, int argi, long argl, int ret,
                       size_t *processed)
{
    (void)argp, (void)argi, (void)argl;
    struct read_watch *w = (struct read_watch *)BIO_get_callback_arg(b);
    if (w != NULL && oper == (BIO_CB_READ | BIO_CB_RETURN))
        w->short_read = ret > 0 ? *processed < len : BIO_should_retry(b);
    return ret;
}

struct ssl_st *wk_tls_session_new(struct wk_tls *t, int fd)
{
    SSL *ssl = SSL_new(t->ctx);
    if (ssl == NULL || SSL_set_fd(ssl, fd) != 1) {
        ERR_clear_error(); /* or a later session's SSL_get_error() would see it */
        SSL_free(ssl);
        return NULL;
    }
    /* A retried write may come from a moved buffer, and may be written in part. */
    SSL_set_mode(ssl, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    SSL_set_accept_state(ssl);
    SSL_set_app_data(ssl, t);
    BIO_set_callback_ex(SSL_get_rbio(ssl), watch_read);
    t->refs++;
    return ssl;
}

/* Maps the result of an SSL call that failed (ret <= 0). */
static int io_error(SSL *ssl, int ret)
{
    int e = errno;
    switch (SSL_get_error(ssl, ret)) {
    case SSL_ERROR_WANT_READ:
        return WK_TLS_WANT_READ;
    case SSL_ERROR_WANT_WRITE:
        return WK_TLS_WANT_WRITE;
    case SSL_ERROR_ZERO_RETURN:
        return 0;
    case SSL_ERROR_SYSCALL:
        ERR_clear_error();
        return e ? -e : -ECONNRESET;
    default:
        ERR_clear_error();
        return -EPROTO;
    }
}

/*
 * Before each SSL call whose failure SSL_get_error() explains: that looks at
 * the thread's error queue first, so whatever an earlier call left there
 * (OpenSSL does not promise an empty queue even after a success) would be
 * taken for this call's error.
 */
static void fresh(void)
{
    ERR_clear_error();
    errno = 0;
}

int wk_tls_handshake(struct ssl_st *ssl)
{
    fresh();
    int ret = SSL_do_handshake(ssl);
    if (ret == 1)
        return 0;
    int rc = io_error(ssl, ret);
    return rc == 0 ? -EPROTO : rc;
}

ssize_t wk_tls_read(struct ssl_st *ssl, void *buf, size_t n, bool *drained)
{
    size_t got = 0;
    struct read_watch w = {.short_read = false};
    BIO *rbio = SSL_get_rbio(ssl);
    BIO_set_callback_arg(rbio, (char *)&w);
    fresh();
    int ret = SSL_read_ex(ssl, buf, n, &got);
    BIO_set_callback_arg(rbio, NULL);
    if (ret == 1) {
        /* Nothing left in OpenSSL's buffer, and the socket had no more: no need to ask again. */
        *drained = w.short_read && !SSL_has_pending(ssl);
        return (ssize_t)got;
    }
    int rc = io_error(ssl, ret);
    /* A peer that closes the TCP connection without close_notify: the end, as for plain TCP. */
    if (rc == -ECONNRESET && errno == 0)
        return 0;
    return rc;
}

ssize_t wk_tls_write(struct ssl_st *ssl, const void *buf, size_t n)
{
    size_t put = 0;
    fresh();
    int ret = SSL_write_ex(ssl, buf, n, &put);
    if (ret == 1)
        return (ssize_t)put;
    int rc = io_error(ssl, ret);
    return rc == 0 ? -EPIPE : rc;
}

bool wk_tls_ktls_send(struct ssl_st *ssl)
{
    return BIO_get_ktls_send(SSL_get_wbio(ssl)) == 1;
}

ssize_t wk_tls_sendfile(struct ssl_st *ssl, int fd, off_t off, size_t n)
{
    fresh();
    ossl_ssize_t ret = SSL_sendfile(ssl, fd, off, n, 0);
    if (ret > 0)
        return (ssize_t)ret;
    /* SSL_sendfile() leaves a would-block in errno rather than in SSL_get_error(). */
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
        ERR_clear_error();
        return WK_TLS_WANT_WRITE;
    }
    int rc = io_error(ssl, ret < 0 ? -1 : 0);
    return rc == 0 ? -EPIPE : rc;
}

void wk_tls_shutdown(struct ssl_st *ssl)
{
    if (!SSL_in_init(ssl) && !(SSL_get_shutdown(ssl) & SSL_SENT_SHUTDOWN))
        SSL_shutdown(ssl);
    ERR_clear_error();
}

void wk_tls_session_free(struct ssl_st *ssl)
{
    if (ssl == NULL)
        return;
    struct wk_tls *t = SSL_get_app_data(ssl);
    SSL_free(ssl);
    wk_tls_free(t);
}

const char *wk_tls_version(const struct ssl_st *ssl)
{
    return SSL_get_version(ssl);
}

const char *wk_tls_cipher(const struct ssl_st *ssl)
{
    return SSL_CIPHER_get_name(SSL_get_current_cipher(ssl));
}

int wk_tls_setup(const struct wk_tls_config *tc, const char *const *alpn, size_t nalpn,
                 struct wk_tls **out, char err[WK_ERR_LEN])
{
    const char *cert = tc->cert, *key = tc->key, *write_cert = tc->write_cert;
    bool self_signed = tc->self_signed;
    char host[256];
    *out = NULL;
    if (!cert && !key && !self_signed) {
        if (write_cert == NULL)
            return 0;
        snprintf(err, WK_ERR_LEN, "--write-cert needs --self-signed (or --cert and --key)");
        return -EINVAL;
    }
    if (self_signed ? (cert || key) : (!cert || !key)) {
        snprintf(err, WK_ERR_LEN, "TLS needs --cert FILE and --key FILE, or --self-signed");
        return -EINVAL;
    }
    if (gethostname(host, sizeof host - 1) < 0 || !is_hostname(host))
        snprintf(host, sizeof host, "localhost");
    host[sizeof host - 1] = '\0';
    struct wk_tls_options o = {cert, key, self_signed, host, alpn, nalpn};
    int rc = wk_tls_new(&o, out, err);
    if (rc == 0 && write_cert != NULL && (rc = wk_tls_write_cert(*out, write_cert, err)) < 0) {
        wk_tls_free(*out);
        *out = NULL;
    }
    return rc;
}
