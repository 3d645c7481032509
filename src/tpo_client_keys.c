/* SPDX-License-Identifier: Apache-2.0
 * Licensed under the Apache License, Version 2.0 (see LICENSE). */
/* The module's signing keys for private_key_jwt: PEM loading, algorithm
 * checks, RFC 7638 thumbprints and the public JWK Set (tpo_client_keys.h).
 * OpenSSL 3 EVP only. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <apr_strings.h>
#include <jansson.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include "tpo_b64.h"
#include "tpo_client_keys.h"

#define TPO_CLIENT_KEY_MIN_RSA_BITS 2048

static apr_status_t pkey_free(void *data)
{
    EVP_PKEY_free(data);
    return APR_SUCCESS;
}

/* The JWK curve name of an EC key, or NULL. */
static const char *ec_curve(EVP_PKEY *pkey, apr_size_t *coord)
{
    char group[64];

    if (EVP_PKEY_get_group_name(pkey, group, sizeof(group), NULL) != 1) {
        return NULL;
    }
    if (!strcmp(group, "prime256v1") || !strcmp(group, "P-256")) {
        *coord = 32;
        return "P-256";
    }
    if (!strcmp(group, "secp384r1") || !strcmp(group, "P-384")) {
        *coord = 48;
        return "P-384";
    }
    if (!strcmp(group, "secp521r1") || !strcmp(group, "P-521")) {
        *coord = 66;
        return "P-521";
    }
    return NULL;
}

const char *tpo_client_key_default_alg(EVP_PKEY *pkey)
{
    apr_size_t coord;
    const char *crv;

    if (EVP_PKEY_is_a(pkey, "RSA")) {
        return "RS256";
    }
    if (EVP_PKEY_is_a(pkey, "EC") && (crv = ec_curve(pkey, &coord)) != NULL) {
        return !strcmp(crv, "P-256") ? "ES256" : !strcmp(crv, "P-384") ? "ES384" : "ES512";
    }
    if (EVP_PKEY_is_a(pkey, "ED25519")) {
        return "EdDSA";
    }
    return NULL;
}

const char *tpo_client_key_alg_problem(apr_pool_t *p, EVP_PKEY *pkey, const char *alg)
{
    static const char *const rsa_algs[] = {"RS256", "RS384", "RS512", "PS256",
                                           "PS384", "PS512", NULL};
    apr_size_t coord;
    const char *crv;
    int i;

    for (i = 0; rsa_algs[i]; i++) {
        if (!strcmp(alg, rsa_algs[i])) {
            if (!EVP_PKEY_is_a(pkey, "RSA")) {
                return apr_psprintf(p, "%s needs an RSA key", alg);
            }
            if (EVP_PKEY_get_bits(pkey) < TPO_CLIENT_KEY_MIN_RSA_BITS) {
                return apr_psprintf(p, "the RSA key has %d bits; %s needs at least %d",
                                    EVP_PKEY_get_bits(pkey), alg, TPO_CLIENT_KEY_MIN_RSA_BITS);
            }
            return NULL;
        }
    }
    if (!strcmp(alg, "ES256") || !strcmp(alg, "ES384") || !strcmp(alg, "ES512")) {
        const char *want = alg[2] == '2' ? "P-256" : alg[2] == '3' ? "P-384" : "P-521";
        if (!EVP_PKEY_is_a(pkey, "EC") || (crv = ec_curve(pkey, &coord)) == NULL) {
            return apr_psprintf(p, "%s needs an EC key on %s", alg, want);
        }
        if (strcmp(crv, want) != 0) {
            return apr_psprintf(p, "%s needs an EC key on %s, the key is on %s", alg, want, crv);
        }
        return NULL;
    }
    if (!strcmp(alg, "EdDSA")) {
        return EVP_PKEY_is_a(pkey, "ED25519") ? NULL : "EdDSA needs an Ed25519 key";
    }
    return apr_psprintf(p,
                        "'%s' is not an algorithm for a signing key (RS256, RS384, RS512, "
                        "PS256, PS384, PS512, ES256, ES384, ES512 or EdDSA)",
                        alg);
}

static const char *bn_b64(apr_pool_t *p, EVP_PKEY *pkey, const char *name, apr_size_t pad)
{
    BIGNUM *bn = NULL;
    unsigned char *buf;
    int len;
    const char *out = NULL;

    if (EVP_PKEY_get_bn_param(pkey, name, &bn) != 1) {
        ERR_clear_error();
        return NULL;
    }
    len = pad ? (int)pad : BN_num_bytes(bn);
    buf = apr_palloc(p, (apr_size_t)(len > 0 ? len : 1));
    if (BN_bn2binpad(bn, buf, len) == len) {
        out = tpo_b64url_encode(p, buf, (apr_size_t)len);
    }
    BN_free(bn);
    return out;
}

/* The public key's required JWK members (RFC 7638 3.2) in a new object. */
static json_t *public_members(apr_pool_t *p, EVP_PKEY *pkey)
{
    if (EVP_PKEY_is_a(pkey, "RSA")) {
        const char *n = bn_b64(p, pkey, OSSL_PKEY_PARAM_RSA_N, 0);
        const char *e = bn_b64(p, pkey, OSSL_PKEY_PARAM_RSA_E, 0);
        return n && e ? json_pack("{s:s, s:s, s:s}", "e", e, "kty", "RSA", "n", n) : NULL;
    }
    if (EVP_PKEY_is_a(pkey, "EC")) {
        apr_size_t coord = 0;
        const char *crv = ec_curve(pkey, &coord), *x, *y;
        if (!crv) {
            return NULL;
        }
        x = bn_b64(p, pkey, OSSL_PKEY_PARAM_EC_PUB_X, coord);
        y = bn_b64(p, pkey, OSSL_PKEY_PARAM_EC_PUB_Y, coord);
        return x && y ? json_pack("{s:s, s:s, s:s, s:s}", "crv", crv, "kty", "EC", "x", x, "y", y)
                      : NULL;
    }
    if (EVP_PKEY_is_a(pkey, "ED25519")) {
        unsigned char raw[32];
        size_t len = sizeof(raw);
        if (EVP_PKEY_get_raw_public_key(pkey, raw, &len) != 1 || len != sizeof(raw)) {
            ERR_clear_error();
            return NULL;
        }
        return json_pack("{s:s, s:s, s:s}", "crv", "Ed25519", "kty", "OKP", "x",
                         tpo_b64url_encode(p, raw, len));
    }
    return NULL;
}

const char *tpo_jwk_thumbprint(apr_pool_t *p, EVP_PKEY *pkey, const char **err)
{
    json_t *m = public_members(p, pkey);
    unsigned char md[32];
    unsigned int mdlen = 0;
    char *txt;
    int ok;

    if (!m) {
        *err = "the key is not RSA, EC (P-256, P-384, P-521) or Ed25519";
        return NULL;
    }
    /* RFC 7638 3.3: the required members only, sorted, no whitespace */
    txt = json_dumps(m, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(m);
    if (!txt) {
        *err = "out of memory";
        return NULL;
    }
    ok = EVP_Digest(txt, strlen(txt), md, &mdlen, EVP_sha256(), NULL) == 1;
    free(txt);
    if (!ok || mdlen != sizeof(md)) {
        *err = "SHA-256 failed";
        return NULL;
    }
    return tpo_b64url_encode(p, md, mdlen);
}

tpo_client_key *tpo_client_key_make(apr_pool_t *p, EVP_PKEY *pkey, const char *kid, const char *alg,
                                    const char **err)
{
    tpo_client_key *k;
    const char *why;
    json_t *jwk;
    char *txt;

    apr_pool_cleanup_register(p, pkey, pkey_free, apr_pool_cleanup_null);
    if (!alg && (alg = tpo_client_key_default_alg(pkey)) == NULL) {
        *err = "the key is not RSA, EC (P-256, P-384, P-521) or Ed25519";
        return NULL;
    }
    if ((why = tpo_client_key_alg_problem(p, pkey, alg)) != NULL) {
        *err = why;
        return NULL;
    }
    if (!kid && (kid = tpo_jwk_thumbprint(p, pkey, err)) == NULL) {
        return NULL;
    }
    jwk = public_members(p, pkey);
    if (!jwk || json_object_set_new(jwk, "kid", json_string(kid)) != 0 ||
        json_object_set_new(jwk, "alg", json_string(alg)) != 0 ||
        json_object_set_new(jwk, "use", json_string("sig")) != 0) {
        json_decref(jwk);
        *err = "the kid is not valid UTF-8, or out of memory";
        return NULL;
    }
    txt = json_dumps(jwk, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(jwk);
    if (!txt) {
        *err = "out of memory";
        return NULL;
    }
    k = apr_pcalloc(p, sizeof(*k));
    k->pkey = pkey;
    k->kid = apr_pstrdup(p, kid);
    k->alg = apr_pstrdup(p, alg);
    k->jwk_public = apr_pstrdup(p, txt);
    free(txt);
    *err = NULL;
    return k;
}

/* A passphrase callback that refuses: an encrypted key cannot be loaded
 * unattended (and no prompt may block the server's start). */
static int no_passphrase(char *buf, int size, int rwflag, void *u)
{
    (void)buf;
    (void)size;
    (void)rwflag;
    *(int *)u = 1;
    return -1;
}

tpo_client_key *tpo_client_key_load(apr_pool_t *p, const char *path, const char *kid,
                                    const char *alg, const char **err)
{
    FILE *f = fopen(path, "r");
    EVP_PKEY *pkey;
    int asked = 0;

    if (!f) {
        *err = apr_psprintf(p, "cannot open %s: %s", path, strerror(errno));
        return NULL;
    }
    pkey = PEM_read_PrivateKey(f, NULL, no_passphrase, &asked);
    fclose(f);
    ERR_clear_error();
    if (!pkey) {
        *err = asked ? apr_psprintf(p,
                                    "%s holds an encrypted private key (use an unencrypted "
                                    "one, readable by root only)",
                                    path)
                     : apr_psprintf(p, "%s holds no PEM private key", path);
        return NULL;
    }
    return tpo_client_key_make(p, pkey, kid, alg, err);
}

const char *tpo_client_keys_jwks(apr_pool_t *p, const apr_array_header_t *keys)
{
    apr_array_header_t *parts = apr_array_make(p, keys ? keys->nelts : 1, sizeof(const char *));
    int i;

    for (i = 0; keys && i < keys->nelts; i++) {
        APR_ARRAY_PUSH(parts, const char *) =
            APR_ARRAY_IDX(keys, i, const tpo_client_key *)->jwk_public;
    }
    return apr_pstrcat(p, "{\"keys\":[", apr_array_pstrcat(p, parts, ','), "]}", NULL);
}

#define TPO_CLIENT_CERT_MAX_FILE (256 * 1024)

/* A whole (small) file as a NUL-terminated string in the pool. */
static const char *read_small_file(apr_pool_t *p, const char *path, const char **err)
{
    FILE *f = fopen(path, "rb");
    char *buf;
    size_t n;

    if (!f) {
        *err = apr_psprintf(p, "cannot open %s: %s", path, strerror(errno));
        return NULL;
    }
    buf = apr_palloc(p, TPO_CLIENT_CERT_MAX_FILE + 1);
    n = fread(buf, 1, TPO_CLIENT_CERT_MAX_FILE + 1, f);
    fclose(f);
    if (n > TPO_CLIENT_CERT_MAX_FILE) {
        *err = apr_psprintf(p, "%s is larger than %d bytes", path, TPO_CLIENT_CERT_MAX_FILE);
        return NULL;
    }
    buf[n] = '\0';
    return buf;
}

const char *tpo_client_cert_load(apr_pool_t *p, const char *cert_path, const char *key_path,
                                 const char **cert_pem, const char **key_pem)
{
    const char *cpem, *kpem, *why = NULL;
    BIO *bio;
    X509 *x = NULL;
    EVP_PKEY *pkey = NULL;
    int asked = 0;

    if ((cpem = read_small_file(p, cert_path, &why)) == NULL ||
        (kpem = read_small_file(p, key_path, &why)) == NULL) {
        return why;
    }
    if ((bio = BIO_new_mem_buf(cpem, -1)) != NULL) {
        x = PEM_read_bio_X509(bio, NULL, NULL, NULL);
        BIO_free(bio);
    }
    if ((bio = BIO_new_mem_buf(kpem, -1)) != NULL) {
        pkey = PEM_read_bio_PrivateKey(bio, NULL, no_passphrase, &asked);
        BIO_free(bio);
    }
    if (!x) {
        why = apr_psprintf(p, "%s holds no PEM certificate", cert_path);
    }
    else if (!pkey) {
        why = asked ? apr_psprintf(p, "%s holds an encrypted private key", key_path)
                    : apr_psprintf(p, "%s holds no PEM private key", key_path);
    }
    else if (X509_check_private_key(x, pkey) != 1) {
        why = apr_psprintf(p, "%s is not the private key of the certificate in %s", key_path,
                           cert_path);
    }
    X509_free(x);
    EVP_PKEY_free(pkey);
    ERR_clear_error();
    if (!why) {
        *cert_pem = cpem;
        *key_pem = kpem;
    }
    return why;
}
