/* SPDX-License-Identifier: MIT */
/* Loading, and at the first start making, the TLS listener's certificate and key (GnuTLS). */
#include "auth/cert.h"

#include <errno.h>
#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "banger/alloc.h"
#include "host/fileio.h"

#define CERT_LIFETIME_S (10LL * 365 * 86400)
#define SERIAL_BYTES 16

static void crt_deinitp(gnutls_x509_crt_t *c)
{
    if (*c)
        gnutls_x509_crt_deinit(*c);
}

static void key_deinitp(gnutls_x509_privkey_t *k)
{
    if (*k)
        gnutls_x509_privkey_deinit(*k);
}

static void datum_freep(gnutls_datum_t *d)
{
    if (d->data) {
        gnutls_memset(d->data, 0, d->size);
        gnutls_free(d->data);
    }
}

static int tls_error(struct bg_error *err, int rc, const char *what)
{
    return bg_error_set(err, -EINVAL, "%s: %s", what, gnutls_strerror(rc));
}

/* The names a generated certificate carries: localhost, the host's name, the loopback
 * addresses. Clients pin the fingerprint, so these only help tools that check names. */
static int add_names(gnutls_x509_crt_t crt, struct bg_error *err)
{
    static const uint8_t v4[4] = {127, 0, 0, 1};
    char host[256] = "";
    int rc;

    rc = gnutls_x509_crt_set_subject_alt_name(crt, GNUTLS_SAN_DNSNAME, "localhost", 9,
                                              GNUTLS_FSAN_APPEND);
    if (rc == 0 && gethostname(host, sizeof(host) - 1) == 0 && host[0] && strcmp(host, "localhost"))
        rc = gnutls_x509_crt_set_subject_alt_name(crt, GNUTLS_SAN_DNSNAME, host,
                                                  (unsigned)strlen(host), GNUTLS_FSAN_APPEND);
    if (rc == 0)
        rc = gnutls_x509_crt_set_subject_alt_name(crt, GNUTLS_SAN_IPADDRESS, v4, sizeof(v4),
                                                  GNUTLS_FSAN_APPEND);
    if (rc == 0)
        rc = gnutls_x509_crt_set_subject_alt_name(crt, GNUTLS_SAN_IPADDRESS, &in6addr_loopback,
                                                  sizeof(in6addr_loopback), GNUTLS_FSAN_APPEND);
    return rc < 0 ? tls_error(err, rc, "name the certificate") : 0;
}

/* The fields of a self-signed server certificate for key. */
static int fill_certificate(gnutls_x509_crt_t crt, gnutls_x509_privkey_t key, struct bg_error *err)
{
    uint8_t serial[SERIAL_BYTES];
    time_t now = time(NULL);
    int rc;

    if ((rc = gnutls_rnd(GNUTLS_RND_NONCE, serial, sizeof(serial))) < 0)
        return tls_error(err, rc, "make a serial number");
    serial[0] &= 0x7f; /* a positive integer */
    if ((rc = gnutls_x509_crt_set_version(crt, 3)) < 0 ||
        (rc = gnutls_x509_crt_set_serial(crt, serial, sizeof(serial))) < 0 ||
        (rc = gnutls_x509_crt_set_activation_time(crt, now - 3600)) < 0 ||
        (rc = gnutls_x509_crt_set_expiration_time(crt, now + CERT_LIFETIME_S)) < 0 ||
        (rc = gnutls_x509_crt_set_dn_by_oid(crt, GNUTLS_OID_X520_COMMON_NAME, 0, "bangerd", 7)) <
            0 ||
        (rc = gnutls_x509_crt_set_key(crt, key)) < 0 ||
        (rc = gnutls_x509_crt_set_basic_constraints(crt, 0, -1)) < 0 ||
        (rc = gnutls_x509_crt_set_key_usage(crt, GNUTLS_KEY_DIGITAL_SIGNATURE)) < 0 ||
        (rc = gnutls_x509_crt_set_key_purpose_oid(crt, GNUTLS_KP_TLS_WWW_SERVER, 0)) < 0)
        return tls_error(err, rc, "fill the certificate");
    return add_names(crt, err);
}

/* Make a key and a self-signed certificate as PEM text. */
static int generate(gnutls_datum_t *ret_cert, gnutls_datum_t *ret_key, struct bg_error *err)
{
    bg_auto(key_deinitp) gnutls_x509_privkey_t key = NULL;
    bg_auto(crt_deinitp) gnutls_x509_crt_t crt = NULL;
    int rc, r;

    if ((rc = gnutls_x509_privkey_init(&key)) < 0 ||
        (rc = gnutls_x509_privkey_generate(
             key, GNUTLS_PK_ECDSA, GNUTLS_CURVE_TO_BITS(GNUTLS_ECC_CURVE_SECP256R1), 0)) < 0)
        return tls_error(err, rc, "make the server key");
    if ((rc = gnutls_x509_crt_init(&crt)) < 0)
        return tls_error(err, rc, "make the certificate");
    if ((r = fill_certificate(crt, key, err)) < 0)
        return r;
    if ((rc = gnutls_x509_crt_sign2(crt, crt, key, GNUTLS_DIG_SHA256, 0)) < 0)
        return tls_error(err, rc, "sign the certificate");
    if ((rc = gnutls_x509_crt_export2(crt, GNUTLS_X509_FMT_PEM, ret_cert)) < 0)
        return tls_error(err, rc, "write the certificate");
    if ((rc = gnutls_x509_privkey_export2(key, GNUTLS_X509_FMT_PEM, ret_key)) < 0) {
        gnutls_free(ret_cert->data);
        return tls_error(err, rc, "write the server key");
    }
    return 0;
}

/* Make the pair under dir: the key first, so a certificate is never left without its key. */
static int generate_files(const char *dir, const char *cert_path, const char *key_path,
                          struct bg_error *err)
{
    gnutls_datum_t cert = {0}, key = {0};
    int r = bg_mkdir_p(dir, 0700, err);

    if (r < 0 || (r = generate(&cert, &key, err)) < 0)
        return r;
    r = bg_file_write_atomic(key_path, key.data, key.size, 0600, err);
    if (r == 0)
        r = bg_file_write_atomic(cert_path, cert.data, cert.size, 0644, err);
    datum_freep(&key);
    gnutls_free(cert.data);
    return r;
}

/* The fingerprint of the first certificate in pem (path for messages). */
static int leaf_fingerprint(const char *pem, size_t len, const char *path,
                            uint8_t fp[BG_FINGERPRINT_BYTES], struct bg_error *err)
{
    bg_auto(crt_deinitp) gnutls_x509_crt_t crt = NULL;
    gnutls_datum_t d = {.data = (unsigned char *)pem, .size = (unsigned)len};
    size_t n = BG_FINGERPRINT_BYTES;
    int rc;

    if ((rc = gnutls_x509_crt_init(&crt)) < 0 ||
        (rc = gnutls_x509_crt_import(crt, &d, GNUTLS_X509_FMT_PEM)) < 0)
        return bg_error_set(err, -EINVAL, "'%s' is not a PEM certificate: %s", path,
                            gnutls_strerror(rc));
    if ((rc = gnutls_x509_crt_get_fingerprint(crt, GNUTLS_DIG_SHA256, fp, &n)) < 0 ||
        n != BG_FINGERPRINT_BYTES)
        return tls_error(err, rc, "fingerprint the certificate");
    return 0;
}

/* The key must be the certificate's: GnuTLS checks the pair as the server will use it. */
static int check_pair(const struct bg_tls_identity *id, const char *key_path, struct bg_error *err)
{
    gnutls_certificate_credentials_t cred = NULL;
    gnutls_datum_t c = {.data = (unsigned char *)id->cert_pem,
                        .size = (unsigned)strlen(id->cert_pem)};
    gnutls_datum_t k = {.data = (unsigned char *)id->key_pem,
                        .size = (unsigned)strlen(id->key_pem)};
    int rc = gnutls_certificate_allocate_credentials(&cred);

    if (rc == 0)
        rc = gnutls_certificate_set_x509_key_mem(cred, &c, &k, GNUTLS_X509_FMT_PEM);
    if (cred)
        gnutls_certificate_free_credentials(cred);
    if (rc < 0)
        return bg_error_set(err, -EINVAL, "'%s' is not the key of the certificate '%s': %s",
                            key_path, id->cert_path, gnutls_strerror(rc));
    return 0;
}

static int load_files(const char *cert_path, const char *key_path, struct bg_tls_identity *id,
                      struct bg_error *err)
{
    size_t cert_len, key_len;
    int r = bg_file_read(cert_path, BG_CERT_FILE_MAX, &id->cert_pem, &cert_len, err);

    if (r < 0)
        return bg_error_prefix(err, r, "TLS certificate");
    if ((r = bg_file_read(key_path, BG_CERT_FILE_MAX, &id->key_pem, &key_len, err)) < 0)
        return bg_error_prefix(err, r, "TLS key");
    id->cert_path = bg_strdup(cert_path);
    if (strlen(id->cert_pem) != cert_len || strlen(id->key_pem) != key_len)
        return bg_error_set(err, -EINVAL, "'%s' or '%s' holds a NUL byte: not PEM", cert_path,
                            key_path);
    if ((r = leaf_fingerprint(id->cert_pem, cert_len, cert_path, id->fingerprint, err)) < 0)
        return r;
    return check_pair(id, key_path, err);
}

int bg_tls_identity_load(const char *cert_path, const char *key_path, const char *state_dir,
                         struct bg_tls_identity *ret, struct bg_error *err)
{
    struct bg_tls_identity id = {0};
    bg_autofree char *dir = NULL, *gen_cert = NULL, *gen_key = NULL;
    struct stat st;
    int r;

    if (!cert_path) {
        dir = bg_asprintf("%s/%s", state_dir, BG_CERT_DIR);
        cert_path = gen_cert = bg_asprintf("%s/%s", dir, BG_CERT_FILE);
        key_path = gen_key = bg_asprintf("%s/%s", dir, BG_CERT_KEY_FILE);
        id.generated = true;
        if (stat(cert_path, &st) < 0 && errno == ENOENT) {
            if ((r = generate_files(dir, cert_path, key_path, err)) < 0)
                return bg_error_prefix(err, r, "make the TLS certificate");
            id.created = true;
        }
    }
    if ((r = load_files(cert_path, key_path, &id, err)) < 0) {
        bg_tls_identity_done(&id);
        return r;
    }
    *ret = id;
    return 0;
}

void bg_tls_identity_done(struct bg_tls_identity *id)
{
    if (!id)
        return;
    if (id->key_pem) {
        gnutls_memset(id->key_pem, 0, strlen(id->key_pem));
        free(id->key_pem);
    }
    free(id->cert_pem);
    free(id->cert_path);
    memset(id, 0, sizeof(*id));
}
