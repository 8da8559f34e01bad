/*
 * test_wk_tls.c: the TLS server context (common/tls.c): the self-signed
 * certificate (names, key type, signature, validity), real handshakes in
 * memory through a BIO pair against an OpenSSL client (TLS 1.3 and 1.2,
 * ALPN, hostname verification, old protocol versions refused), and loading
 * PEM files: good pairs and chains, and clear errors naming the file for
 * missing, malformed, mismatched, expired and not yet valid ones.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "common/tls.h"

static const char *const alpn_http[] = {"http/1.1"};

struct dir {
    char path[64];
};

static char *path_in(const struct dir *d, const char *name)
{
    static char bufs[8][256];
    static int next;
    char *p = bufs[next++ % 8];
    snprintf(p, 256, "%s/%s", d->path, name);
    return p;
}

static int dir_setup(void **state)
{
    struct dir *d = calloc(1, sizeof *d);
    assert_non_null(d);
    snprintf(d->path, sizeof d->path, "/tmp/test_wk_tls.XXXXXX");
    assert_non_null(mkdtemp(d->path));
    *state = d;
    return 0;
}

static int dir_teardown(void **state)
{
    struct dir *d = *state;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", d->path);
    assert_int_equal(system(cmd), 0);
    free(d);
    return 0;
}

static struct wk_tls *new_self_signed(const char *hostname)
{
    struct wk_tls_options o = {
        .self_signed = true, .hostname = hostname, .alpn = alpn_http, .nalpn = 1};
    struct wk_tls *t = NULL;
    char err[WK_ERR_LEN] = "";
    int rc = wk_tls_new(&o, &t, err);
    if (rc != 0)
        fail_msg("wk_tls_new: %d %s", rc, err);
    assert_non_null(t);
    assert_non_null(wk_tls_ssl_ctx(t));
    return t;
}

static X509 *read_cert(const char *path)
{
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    X509 *x = PEM_read_X509(f, NULL, NULL, NULL);
    fclose(f);
    assert_non_null(x);
    return x;
}

/* --- certificates the tests make for themselves ------------------------------------------- */

static EVP_PKEY *new_key(void)
{
    EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    assert_non_null(k);
    return k;
}

/* A certificate for key, valid from now+from to now+to seconds, signed by issuer (NULL: self). */
static X509 *new_cert(EVP_PKEY *key, const char *cn, long from, long to, X509 *issuer,
                      EVP_PKEY *issuer_key, bool ca)
{
    X509 *x = X509_new();
    X509V3_CTX v3;
    assert_non_null(x);
    assert_true(X509_set_version(x, X509_VERSION_3));
    assert_true(ASN1_INTEGER_set(X509_get_serialNumber(x), (long)(random() & 0xffffff) + 1));
    assert_non_null(X509_gmtime_adj(X509_getm_notBefore(x), from));
    assert_non_null(X509_gmtime_adj(X509_getm_notAfter(x), to));
    assert_true(X509_set_pubkey(x, key));
    X509_NAME *name = X509_get_subject_name(x);
    assert_true(
        X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0));
    assert_true(X509_set_issuer_name(x, issuer != NULL ? X509_get_subject_name(issuer) : name));
    X509V3_set_ctx(&v3, issuer != NULL ? issuer : x, x, NULL, NULL, 0);
    X509_EXTENSION *e = X509V3_EXT_conf_nid(NULL, &v3, NID_basic_constraints,
                                            ca ? "critical,CA:TRUE" : "critical,CA:FALSE");
    assert_non_null(e);
    assert_true(X509_add_ext(x, e, -1));
    X509_EXTENSION_free(e);
    if (!ca) {
        e = X509V3_EXT_conf_nid(NULL, &v3, NID_subject_alt_name, "DNS:localhost");
        assert_non_null(e);
        assert_true(X509_add_ext(x, e, -1));
        X509_EXTENSION_free(e);
    }
    assert_true(X509_sign(x, issuer_key != NULL ? issuer_key : key, EVP_sha256()));
    return x;
}

static void write_pem(const char *path, X509 *x1, X509 *x2, EVP_PKEY *k)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    if (x1 != NULL)
        assert_true(PEM_write_X509(f, x1));
    if (x2 != NULL)
        assert_true(PEM_write_X509(f, x2));
    if (k != NULL)
        assert_true(PEM_write_PrivateKey(f, k, NULL, NULL, 0, NULL, NULL));
    assert_int_equal(fclose(f), 0);
}

/* --- an in-memory handshake --------------------------------------------------------------- */

struct client_opts {
    const char *ca_file;
    int max_version; /* 0: any */
    const unsigned char *alpn;
    unsigned alpn_len;
    const char *verify_host; /* NULL: verify_ip */
    const char *verify_ip;
};

struct result {
    bool ok;
    int version;
    char alpn[32];
    long verify;
    char cipher[64];
};

static struct result handshake(struct wk_tls *t, const struct client_opts *c)
{
    struct result r = {0};
    SSL_CTX *cctx = SSL_CTX_new(TLS_client_method());
    assert_non_null(cctx);
    if (c->max_version != 0) {
        /* Let the client speak an old version, so that the refusal is the server's. */
        SSL_CTX_set_security_level(cctx, 0);
        assert_true(SSL_CTX_set_min_proto_version(cctx, TLS1_VERSION));
        assert_true(SSL_CTX_set_max_proto_version(cctx, c->max_version));
        SSL_CTX_set_cipher_list(cctx, "ALL:@SECLEVEL=0");
    }
    assert_int_equal(SSL_CTX_load_verify_locations(cctx, c->ca_file, NULL), 1);
    SSL_CTX_set_verify(cctx, SSL_VERIFY_PEER, NULL);

    SSL *cli = SSL_new(cctx);
    SSL *srv = SSL_new(wk_tls_ssl_ctx(t));
    assert_non_null(cli);
    assert_non_null(srv);
    if (c->verify_host != NULL) {
        assert_true(SSL_set1_host(cli, c->verify_host));
        assert_true(SSL_set_tlsext_host_name(cli, c->verify_host));
    } else {
        assert_true(X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(cli), c->verify_ip));
    }
    if (c->alpn != NULL)
        assert_int_equal(SSL_set_alpn_protos(cli, c->alpn, c->alpn_len), 0);

    BIO *bc = NULL, *bs = NULL;
    assert_true(BIO_new_bio_pair(&bc, 0, &bs, 0));
    SSL_set_bio(cli, bc, bc);
    SSL_set_bio(srv, bs, bs);
    SSL_set_connect_state(cli);
    SSL_set_accept_state(srv);

    bool cdone = false, sdone = false, failed = false;
    for (int i = 0; i < 100 && !(cdone && sdone) && !failed; i++) {
        if (!cdone) {
            int rc = SSL_do_handshake(cli);
            int e = SSL_get_error(cli, rc);
            cdone = rc == 1;
            failed |= rc != 1 && e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE;
        }
        if (!sdone) {
            int rc = SSL_do_handshake(srv);
            int e = SSL_get_error(srv, rc);
            sdone = rc == 1;
            failed |= rc != 1 && e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE;
        }
    }
    r.ok = cdone && sdone && !failed;
    if (r.ok) {
        const unsigned char *a = NULL;
        unsigned alen = 0;
        r.version = SSL_version(srv);
        assert_int_equal(SSL_version(cli), r.version);
        SSL_get0_alpn_selected(cli, &a, &alen);
        assert_true(alen < sizeof r.alpn);
        if (alen > 0)
            memcpy(r.alpn, a, alen);
        r.verify = SSL_get_verify_result(cli);
        snprintf(r.cipher, sizeof r.cipher, "%s", SSL_get_cipher_name(srv));

        /* And the channel carries data both ways. */
        char buf[16] = "";
        assert_int_equal(SSL_write(cli, "ping", 4), 4);
        assert_int_equal(SSL_read(srv, buf, sizeof buf), 4);
        assert_memory_equal(buf, "ping", 4);
        assert_int_equal(SSL_write(srv, "pong", 4), 4);
        assert_int_equal(SSL_read(cli, buf, sizeof buf), 4);
        assert_memory_equal(buf, "pong", 4);
    }
    ERR_clear_error();
    SSL_free(cli);
    SSL_free(srv);
    SSL_CTX_free(cctx);
    return r;
}

/* --- self-signed ---------------------------------------------------------------------------- */

static void self_signed_certificate(void **state)
{
    struct dir *d = *state;
    struct wk_tls *t = new_self_signed("www.example.test");
    char err[WK_ERR_LEN] = "";
    const char *pem = path_in(d, "cert.pem");
    struct stat st;

    umask(077);
    assert_int_equal(wk_tls_write_cert(t, pem, err), 0);
    umask(022);
    assert_int_equal(stat(pem, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0644);

    X509 *x = read_cert(pem);
    /* Subject and issuer are CN=hostname. */
    char cn[64] = "";
    X509_NAME_get_text_by_NID(X509_get_subject_name(x), NID_commonName, cn, sizeof cn);
    assert_string_equal(cn, "www.example.test");
    assert_int_equal(X509_NAME_cmp(X509_get_subject_name(x), X509_get_issuer_name(x)), 0);

    /* The four names, and only them. */
    assert_int_equal(X509_check_host(x, WK_STRLIT("www.example.test"), 0, NULL), 1);
    assert_int_equal(X509_check_host(x, WK_STRLIT("localhost"), 0, NULL), 1);
    assert_int_equal(X509_check_host(x, WK_STRLIT("example.org"), 0, NULL), 0);
    assert_int_equal(X509_check_ip_asc(x, "127.0.0.1", 0), 1);
    assert_int_equal(X509_check_ip_asc(x, "::1", 0), 1);
    assert_int_equal(X509_check_ip_asc(x, "10.0.0.1", 0), 0);
    GENERAL_NAMES *sans = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
    assert_non_null(sans);
    assert_int_equal(sk_GENERAL_NAME_num(sans), 4);
    GENERAL_NAMES_free(sans);

    /* ECDSA P-256, signed with SHA-256 by its own key, valid now, a trust anchor for clients. */
    EVP_PKEY *pub = X509_get0_pubkey(x);
    assert_non_null(pub);
    assert_int_equal(EVP_PKEY_get_base_id(pub), EVP_PKEY_EC);
    char group[32] = "";
    assert_true(EVP_PKEY_get_utf8_string_param(pub, "group", group, sizeof group, NULL));
    assert_string_equal(group, "prime256v1");
    assert_int_equal(X509_get_signature_nid(x), NID_ecdsa_with_SHA256);
    assert_int_equal(X509_verify(x, pub), 1);
    assert_int_equal(X509_check_private_key(x, SSL_CTX_get0_privatekey(wk_tls_ssl_ctx(t))), 1);
    assert_true(X509_cmp_current_time(X509_get0_notBefore(x)) < 0);
    assert_true(X509_cmp_current_time(X509_get0_notAfter(x)) > 0);
    int days = 0, secs = 0;
    assert_true(ASN1_TIME_diff(&days, &secs, X509_get0_notBefore(x), X509_get0_notAfter(x)));
    assert_int_equal(days, 365);
    assert_int_equal(X509_get_version(x), X509_VERSION_3);
    assert_int_equal(X509_check_ca(x), 1);
    assert_true(X509_get_extension_flags(x) & EXFLAG_SS);
    assert_true(X509_get_key_usage(x) & KU_KEY_CERT_SIGN);
    assert_true(X509_get_extended_key_usage(x) & XKU_SSL_SERVER);
    assert_non_null(X509_get0_subject_key_id(x));
    const ASN1_INTEGER *serial = X509_get0_serialNumber(x);
    assert_true(ASN1_STRING_length(serial) >= 8);

    X509_free(x);
    wk_tls_free(t);
}

/* Two contexts, two keys, two serials. */
static void self_signed_is_fresh(void **state)
{
    (void)state;
    struct wk_tls *a = new_self_signed(NULL);
    struct wk_tls *b = new_self_signed(NULL);
    X509 *xa = SSL_CTX_get0_certificate(wk_tls_ssl_ctx(a));
    X509 *xb = SSL_CTX_get0_certificate(wk_tls_ssl_ctx(b));
    assert_int_not_equal(ASN1_INTEGER_cmp(X509_get0_serialNumber(xa), X509_get0_serialNumber(xb)),
                         0);
    assert_int_equal(EVP_PKEY_eq(X509_get0_pubkey(xa), X509_get0_pubkey(xb)), 0);
    /* NULL hostname means localhost; no duplicate name. */
    char cn[64] = "";
    X509_NAME_get_text_by_NID(X509_get_subject_name(xa), NID_commonName, cn, sizeof cn);
    assert_string_equal(cn, "localhost");
    GENERAL_NAMES *sans = X509_get_ext_d2i(xa, NID_subject_alt_name, NULL, NULL);
    assert_int_equal(sk_GENERAL_NAME_num(sans), 3);
    GENERAL_NAMES_free(sans);
    wk_tls_free(a);
    wk_tls_free(b);
}

static void self_signed_bad_hostname(void **state)
{
    (void)state;
    struct wk_tls_options o = {.self_signed = true, .hostname = "a,DNS:evil.example"};
    struct wk_tls *t = (struct wk_tls *)&o;
    char err[WK_ERR_LEN] = "";
    assert_int_equal(wk_tls_new(&o, &t, err), -EINVAL);
    assert_null(t);
    assert_non_null(strstr(err, "a,DNS:evil.example"));
}

/* --- handshakes ----------------------------------------------------------------------------- */

static void handshake_tls13_alpn(void **state)
{
    struct dir *d = *state;
    struct wk_tls *t = new_self_signed("www.example.test");
    char err[WK_ERR_LEN] = "";
    const char *pem = path_in(d, "cert.pem");
    assert_int_equal(wk_tls_write_cert(t, pem, err), 0);

    struct client_opts c = {.ca_file = pem,
                            .alpn = (const unsigned char *)"\x02h2\x08http/1.1",
                            .alpn_len = 12,
                            .verify_host = "localhost"};
    struct result r = handshake(t, &c);
    assert_true(r.ok);
    assert_int_equal(r.version, TLS1_3_VERSION);
    assert_string_equal(r.alpn, "http/1.1");
    assert_int_equal(r.verify, X509_V_OK);

    c.verify_host = "www.example.test";
    r = handshake(t, &c);
    assert_true(r.ok);
    assert_int_equal(r.verify, X509_V_OK);

    c.verify_host = NULL;
    c.verify_ip = "::1";
    r = handshake(t, &c);
    assert_true(r.ok);
    assert_int_equal(r.verify, X509_V_OK);

    /* A name the certificate does not carry fails verification. */
    c.verify_ip = NULL;
    c.verify_host = "example.org";
    r = handshake(t, &c);
    assert_false(r.ok);
    wk_tls_free(t);
}

/* A client offering none of the server's protocols still connects, without ALPN. */
static void handshake_alpn_no_overlap(void **state)
{
    struct dir *d = *state;
    struct wk_tls *t = new_self_signed(NULL);
    char err[WK_ERR_LEN] = "";
    const char *pem = path_in(d, "cert.pem");
    assert_int_equal(wk_tls_write_cert(t, pem, err), 0);

    struct client_opts c = {.ca_file = pem,
                            .alpn = (const unsigned char *)"\x02h2",
                            .alpn_len = 3,
                            .verify_host = "localhost"};
    struct result r = handshake(t, &c);
    assert_true(r.ok);
    assert_string_equal(r.alpn, "");

    c.alpn = NULL;
    r = handshake(t, &c);
    assert_true(r.ok);
    assert_string_equal(r.alpn, "");
    wk_tls_free(t);
}

static void handshake_tls12_ecdhe_aead(void **state)
{
    struct dir *d = *state;
    struct wk_tls *t = new_self_signed(NULL);
    char err[WK_ERR_LEN] = "";
    const char *pem = path_in(d, "cert.pem");
    assert_int_equal(wk_tls_write_cert(t, pem, err), 0);

    struct client_opts c = {.ca_file = pem,
                            .max_version = TLS1_2_VERSION,
                            .alpn = (const unsigned char *)"\x08http/1.1",
                            .alpn_len = 9,
                            .verify_host = "localhost"};
    struct result r = handshake(t, &c);
    assert_true(r.ok);
    assert_int_equal(r.version, TLS1_2_VERSION);
    assert_string_equal(r.alpn, "http/1.1");
    assert_non_null(strstr(r.cipher, "ECDHE-ECDSA-"));
    assert_true(strstr(r.cipher, "GCM") != NULL || strstr(r.cipher, "CHACHA20") != NULL);
    wk_tls_free(t);
}

static void handshake_old_versions_refused(void **state)
{
    struct dir *d = *state;
    struct wk_tls *t = new_self_signed(NULL);
    char err[WK_ERR_LEN] = "";
    const char *pem = path_in(d, "cert.pem");
    assert_int_equal(wk_tls_write_cert(t, pem, err), 0);

    struct client_opts c = {
        .ca_file = pem, .max_version = TLS1_1_VERSION, .verify_host = "localhost"};
    assert_false(handshake(t, &c).ok);
    c.max_version = TLS1_VERSION;
    assert_false(handshake(t, &c).ok);
    wk_tls_free(t);
}

/* --- files ---------------------------------------------------------------------------------- */

static int load(const char *cert, const char *key, char err[WK_ERR_LEN])
{
    struct wk_tls_options o = {.cert_file = cert, .key_file = key};
    struct wk_tls *t = NULL;
    err[0] = '\0';
    int rc = wk_tls_new(&o, &t, err);
    if (rc == 0)
        assert_non_null(t);
    else
        assert_null(t);
    wk_tls_free(t);
    return rc;
}

static void files_good_pair_and_chain(void **state)
{
    struct dir *d = *state;
    char err[WK_ERR_LEN];
    EVP_PKEY *cakey = new_key(), *key = new_key();
    X509 *ca = new_cert(cakey, "Test CA", -3600, 86400, NULL, NULL, true);
    X509 *leaf = new_cert(key, "localhost", -3600, 86400, ca, cakey, false);
    const char *ca_pem = path_in(d, "ca.pem"), *chain = path_in(d, "chain.pem");
    const char *keyf = path_in(d, "key.pem"), *both = path_in(d, "both.pem");
    write_pem(ca_pem, ca, NULL, NULL);
    write_pem(chain, leaf, ca, NULL);
    write_pem(keyf, NULL, NULL, key);
    write_pem(both, leaf, NULL, key);

    assert_int_equal(load(chain, keyf, err), 0);
    /* Certificate and key may share one file. */
    assert_int_equal(load(both, both, err), 0);

    /* A client trusting only the CA accepts the chain the server sends. */
    struct wk_tls_options o = {.cert_file = chain, .key_file = keyf, .alpn = alpn_http, .nalpn = 1};
    struct wk_tls *t = NULL;
    assert_int_equal(wk_tls_new(&o, &t, err), 0);
    struct client_opts c = {.ca_file = ca_pem, .verify_host = "localhost"};
    struct result r = handshake(t, &c);
    assert_true(r.ok);
    assert_int_equal(r.verify, X509_V_OK);
    const char *leaf_out = path_in(d, "leaf-out.pem");
    assert_int_equal(wk_tls_write_cert(t, leaf_out, err), 0);
    X509 *back = read_cert(leaf_out);
    assert_int_equal(X509_cmp(back, leaf), 0);
    X509_free(back);
    wk_tls_free(t);

    X509_free(leaf);
    X509_free(ca);
    EVP_PKEY_free(key);
    EVP_PKEY_free(cakey);
}

static void files_mismatched_key(void **state)
{
    struct dir *d = *state;
    char err[WK_ERR_LEN];
    EVP_PKEY *key = new_key(), *other = new_key();
    X509 *x = new_cert(key, "localhost", -3600, 86400, NULL, NULL, false);
    const char *cert = path_in(d, "cert.pem"), *keyf = path_in(d, "other-key.pem");
    write_pem(cert, x, NULL, NULL);
    write_pem(keyf, NULL, NULL, other);

    assert_int_equal(load(cert, keyf, err), -EINVAL);
    assert_non_null(strstr(err, keyf));
    assert_non_null(strstr(err, "does not match"));
    X509_free(x);
    EVP_PKEY_free(key);
    EVP_PKEY_free(other);
}

static void files_missing_or_malformed(void **state)
{
    struct dir *d = *state;
    char err[WK_ERR_LEN];
    EVP_PKEY *key = new_key();
    X509 *x = new_cert(key, "localhost", -3600, 86400, NULL, NULL, false);
    const char *cert = path_in(d, "cert.pem"), *keyf = path_in(d, "key.pem");
    const char *missing = path_in(d, "missing.pem"), *junk = path_in(d, "junk.pem");
    write_pem(cert, x, NULL, NULL);
    write_pem(keyf, NULL, NULL, key);
    FILE *f = fopen(junk, "w");
    assert_non_null(f);
    fputs("this is not PEM\n", f);
    fclose(f);

    assert_int_equal(load(missing, keyf, err), -ENOENT);
    assert_non_null(strstr(err, missing));
    assert_int_equal(load(cert, missing, err), -ENOENT);
    assert_non_null(strstr(err, missing));
    assert_int_equal(load(junk, keyf, err), -EINVAL);
    assert_non_null(strstr(err, junk));
    assert_int_equal(load(cert, junk, err), -EINVAL);
    assert_non_null(strstr(err, junk));
    /* The key where the certificate should be. */
    assert_int_equal(load(keyf, keyf, err), -EINVAL);
    assert_non_null(strstr(err, keyf));
    /* Neither files nor self-signed. */
    assert_int_equal(load(NULL, keyf, err), -EINVAL);
    assert_int_equal(load(cert, NULL, err), -EINVAL);
    X509_free(x);
    EVP_PKEY_free(key);
}

static void files_expired_and_not_yet_valid(void **state)
{
    struct dir *d = *state;
    char err[WK_ERR_LEN];
    EVP_PKEY *key = new_key();
    X509 *old = new_cert(key, "localhost", -2 * 86400, -86400, NULL, NULL, false);
    X509 *future = new_cert(key, "localhost", 86400, 2 * 86400, NULL, NULL, false);
    const char *oldf = path_in(d, "old.pem"), *futuref = path_in(d, "future.pem");
    const char *keyf = path_in(d, "key.pem");
    write_pem(oldf, old, NULL, NULL);
    write_pem(futuref, future, NULL, NULL);
    write_pem(keyf, NULL, NULL, key);

    assert_int_equal(load(oldf, keyf, err), -EINVAL);
    assert_non_null(strstr(err, oldf));
    assert_non_null(strstr(err, "expired"));
    assert_int_equal(load(futuref, keyf, err), -EINVAL);
    assert_non_null(strstr(err, futuref));
    assert_non_null(strstr(err, "not yet valid"));
    X509_free(old);
    X509_free(future);
    EVP_PKEY_free(key);
}

static void write_cert_unwritable(void **state)
{
    struct dir *d = *state;
    struct wk_tls *t = new_self_signed(NULL);
    char err[WK_ERR_LEN] = "";
    const char *p = path_in(d, "no/such/dir/cert.pem");
    assert_int_equal(wk_tls_write_cert(t, p, err), -ENOENT);
    assert_non_null(strstr(err, p));
    wk_tls_free(t);
    wk_tls_free(NULL);
}

/*
 * An error an earlier OpenSSL call left on the thread's queue is not taken
 * for this session's: once the handshake is done, a read with nothing to
 * read yet, and a write, still say "want read" and "written".
 */
static void stale_error_not_ours(void **state)
{
    (void)state;
    struct wk_tls *t = new_self_signed("localhost");
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
    struct ssl_st *ssl = wk_tls_session_new(t, sv[0]);
    assert_non_null(ssl);
    SSL_CTX *cctx = SSL_CTX_new(TLS_client_method());
    SSL *client = SSL_new(cctx);
    assert_non_null(client);
    SSL_set_fd(client, sv[1]);
    SSL_set_connect_state(client);
    int done = 0;
    for (int i = 0; i < 100 && done != 2; i++) {
        done = (SSL_do_handshake(client) == 1) + (wk_tls_handshake(ssl) == 0);
        ERR_clear_error(); /* the test's own calls leave nothing behind */
    }
    assert_int_equal(done, 2);
    ERR_raise(ERR_LIB_SSL, SSL_R_BAD_PACKET_LENGTH); /* a leftover of some other call */
    char buf[16];
    bool drained = false;
    assert_int_equal(wk_tls_read(ssl, buf, sizeof buf, &drained), WK_TLS_WANT_READ);
    ERR_raise(ERR_LIB_SSL, SSL_R_BAD_PACKET_LENGTH);
    assert_int_equal(wk_tls_write(ssl, "hi", 2), 2);
    SSL_free(client);
    SSL_CTX_free(cctx);
    wk_tls_session_free(ssl);
    close(sv[0]);
    close(sv[1]);
    wk_tls_free(t);
}

static void bad_alpn(void **state)
{
    (void)state;
    const char *const empty[] = {""};
    struct wk_tls_options o = {.self_signed = true, .alpn = empty, .nalpn = 1};
    struct wk_tls *t = NULL;
    char err[WK_ERR_LEN] = "";
    assert_int_equal(wk_tls_new(&o, &t, err), -EINVAL);
    assert_null(t);
    assert_non_null(strstr(err, "ALPN"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(self_signed_certificate, dir_setup, dir_teardown),
        cmocka_unit_test(self_signed_is_fresh),
        cmocka_unit_test(self_signed_bad_hostname),
        cmocka_unit_test_setup_teardown(handshake_tls13_alpn, dir_setup, dir_teardown),
        cmocka_unit_test_setup_teardown(handshake_alpn_no_overlap, dir_setup, dir_teardown),
        cmocka_unit_test_setup_teardown(handshake_tls12_ecdhe_aead, dir_setup, dir_teardown),
        cmocka_unit_test_setup_teardown(handshake_old_versions_refused, dir_setup, dir_teardown),
        cmocka_unit_test_setup_teardown(files_good_pair_and_chain, dir_setup, dir_teardown),
        cmocka_unit_test_setup_teardown(files_mismatched_key, dir_setup, dir_teardown),
        cmocka_unit_test_setup_teardown(files_missing_or_malformed, dir_setup, dir_teardown),
        cmocka_unit_test_setup_teardown(files_expired_and_not_yet_valid, dir_setup, dir_teardown),
        cmocka_unit_test_setup_teardown(write_cert_unwritable, dir_setup, dir_teardown),
        cmocka_unit_test(bad_alpn),
        cmocka_unit_test(stale_error_not_ours),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
