/* SPDX-License-Identifier: MIT */
/* The TCP listener's TLS identity: the operator's certificate and key, or a self-signed pair
 * made at the first start and kept in the state directory; its SHA-256 fingerprint is what
 * clients pin. GnuTLS (which libmicrohttpd uses too). */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "banger/error.h"
#include "banger/fingerprint.h"

#define BG_CERT_DIR "tls"             /* in the state directory, mode 0700 */
#define BG_CERT_FILE "server.crt"     /* the generated certificate, PEM */
#define BG_CERT_KEY_FILE "server.key" /* its key, PEM, mode 0600 */
#define BG_CERT_FILE_MAX (256 * 1024)

/* A certificate and its key, ready for the HTTP server. Strings owned. */
struct bg_tls_identity {
    char *cert_pem;                            /* the chain, leaf first */
    char *key_pem;                             /* the leaf's private key */
    char *cert_path;                           /* where the certificate is */
    uint8_t fingerprint[BG_FINGERPRINT_BYTES]; /* SHA-256 of the leaf's DER */
    bool generated;                            /* bangerd's own pair in the state dir */
    bool created;                              /* ... made by this start */
};

/* Load cert_path and key_path (both, or both NULL for the generated pair under
 * state_dir/tls/, made when absent: ECDSA P-256, ten years, self-signed, the host's name and
 * localhost). The key must belong to the certificate. -EINVAL with err naming the file for a
 * certificate or key that does not parse or does not match; -errno from the files. */
int bg_tls_identity_load(const char *cert_path, const char *key_path, const char *state_dir,
                         struct bg_tls_identity *ret, struct bg_error *err);

/* Free what id owns (the key wiped) and zero it. Accepts a zeroed id. */
void bg_tls_identity_done(struct bg_tls_identity *id);
