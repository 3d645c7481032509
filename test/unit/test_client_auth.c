/* SPDX-License-Identifier: Apache-2.0
 * Licensed under the Apache License, Version 2.0 (see LICENSE). */
/* Key-based client authentication: the module's signing keys (PEM loading,
 * algorithm checks, RFC 7638 thumbprints, the public JWK Set), client
 * assertions (RFC 7523, checked with the module's own JWS verification) and
 * tpo_client_auth_build for every method. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <apr_strings.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include "tpo_test.h"
#include "tpo_b64.h"
#include "tpo_client_assertion.h"
#include "tpo_client_keys.h"
#include "tpo_defaults.h"
#include "tpo_jose.h"
#include "tpo_token.h"

#define NOW_SEC 1700000000LL
#define NOW apr_time_from_sec(NOW_SEC)
#define TOKEN_EP "https://op.example.test/token"

/* ------------------------------------------------------------- helpers */

static EVP_PKEY *gen(const char *type)
{
    EVP_PKEY *k = NULL;

    if (!strcmp(type, "RSA")) {
        k = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
    }
    else if (!strcmp(type, "RSA1024")) {
        k = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)1024);
    }
    else if (!strncmp(type, "P-", 2)) {
        k = EVP_PKEY_Q_keygen(NULL, NULL, "EC",
                              !strcmp(type, "P-256")   ? "P-256"
                              : !strcmp(type, "P-384") ? "P-384"
                                                       : "P-521");
    }
    else {
        k = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
    }
    ck_assert_ptr_nonnull(k);
    return k;
}

/* a temporary file (removed when the pool goes) */
static apr_status_t unlink_file(void *data)
{
    unlink(data);
    return APR_SUCCESS;
}

static const char *tmp_path(void)
{
    char *path = apr_pstrdup(tpo_test_pool, "/tmp/tpo-client-auth-XXXXXX");
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    close(fd);
    apr_pool_cleanup_register(tpo_test_pool, path, unlink_file, apr_pool_cleanup_null);
    return path;
}

static const char *write_key(EVP_PKEY *k, const char *pass)
{
    const char *path = tmp_path();
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    if (pass) {
        ck_assert_int_eq(PEM_write_PrivateKey(f, k, EVP_aes_128_cbc(), (unsigned char *)pass,
                                              (int)strlen(pass), NULL, NULL),
                         1);
    }
    else {
        ck_assert_int_eq(PEM_write_PrivateKey(f, k, NULL, NULL, 0, NULL, NULL), 1);
    }
    fclose(f);
    return path;
}

static const char *write_text(const char *text)
{
    const char *path = tmp_path();
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    fclose(f);
    return path;
}

/* a self-signed certificate of k */
static const char *write_cert(EVP_PKEY *k)
{
    X509 *x = X509_new();
    X509_NAME *name;
    const char *path = tmp_path();
    FILE *f;

    ck_assert_ptr_nonnull(x);
    ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
    X509_gmtime_adj(X509_getm_notBefore(x), 0);
    X509_gmtime_adj(X509_getm_notAfter(x), 3600);
    X509_set_pubkey(x, k);
    name = X509_get_subject_name(x);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)"tpo-test", -1, -1,
                               0);
    X509_set_issuer_name(x, name);
    ck_assert_int_gt(X509_sign(x, k, EVP_sha256()), 0);
    f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    PEM_write_X509(f, x);
    fclose(f);
    X509_free(x);
    return path;
}

/* Parse and verify an assertion with the module's own JOSE code against the
 * published JWK Set (or the secret); returns its claims. */
static json_t *verify_assertion(const char *jwt, const char *jwks_json, const char *secret,
                                const char *alg)
{
    tpo_jws *jws = NULL;
    tpo_jwks *jwks = NULL;
    const tpo_jwk *hs = NULL;
    const char *err = NULL;
    const char *algs[] = {alg, NULL};
    json_t *claims;

    ck_assert_ptr_nonnull(jwt);
    ck_assert_int_eq(tpo_jws_parse(tpo_test_pool, jwt, &jws, &err), APR_SUCCESS);
    ck_assert_str_eq(jws->alg, alg);
    if (jwks_json) {
        ck_assert_int_eq(tpo_jwks_parse(tpo_test_pool, jwks_json, strlen(jwks_json), &jwks, &err),
                         APR_SUCCESS);
    }
    else {
        hs = tpo_jwk_from_secret(tpo_test_pool, secret, strlen(secret));
        jwks = apr_pcalloc(tpo_test_pool, sizeof(*jwks));
        jwks->keys = apr_array_make(tpo_test_pool, 1, sizeof(tpo_jwk *));
    }
    ck_assert_msg(tpo_jws_verify(tpo_test_pool, jws, jwks, hs, algs, &err) == APR_SUCCESS,
                  "verify: %s", err ? err : "");
    claims = tpo_jws_payload_json(tpo_test_pool, jws, &err);
    ck_assert_ptr_nonnull(claims);
    return claims;
}

static void check_claims(json_t *c, const char *client_id, const char *aud, int lifetime)
{
    ck_assert_str_eq(json_string_value(json_object_get(c, "iss")), client_id);
    ck_assert_str_eq(json_string_value(json_object_get(c, "sub")), client_id);
    ck_assert_str_eq(json_string_value(json_object_get(c, "aud")), aud);
    ck_assert_int_eq(json_integer_value(json_object_get(c, "iat")), NOW_SEC);
    ck_assert_int_eq(json_integer_value(json_object_get(c, "exp")), NOW_SEC + lifetime);
    /* 128 random bits, base64url */
    ck_assert_uint_eq(strlen(json_string_value(json_object_get(c, "jti"))), 22);
}

/* ------------------------------------------------------------- thumbprint */

/* RFC 7638 3.1: the example RSA key and its thumbprint */
#define RFC7638_N                                                                                  \
    "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECP" \
    "ebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY" \
    "368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0f" \
    "M4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw"

START_TEST(thumbprint_rfc7638_example)
{
    const char *json = "{\"keys\":[{\"kty\":\"RSA\",\"n\":\"" RFC7638_N "\",\"e\":\"AQAB\","
                       "\"alg\":\"RS256\",\"kid\":\"2011-04-29\"}]}";
    tpo_jwks *jwks = NULL;
    const char *err = NULL, *tp;

    ck_assert_int_eq(tpo_jwks_parse(tpo_test_pool, json, strlen(json), &jwks, &err), APR_SUCCESS);
    tp = tpo_jwk_thumbprint(tpo_test_pool, APR_ARRAY_IDX(jwks->keys, 0, tpo_jwk *)->pkey, &err);
    ck_assert_ptr_nonnull(tp);
    ck_assert_str_eq(tp, "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs");
}
END_TEST

/* The thumbprint is the kid when none is configured, and is stable: the
 * same key loaded twice gets the same kid; another key another. */
START_TEST(thumbprint_is_default_kid)
{
    EVP_PKEY *k = gen("P-256");
    const char *path = write_key(k, NULL), *err = NULL;
    tpo_client_key *a = tpo_client_key_load(tpo_test_pool, path, NULL, NULL, &err);
    tpo_client_key *b = tpo_client_key_load(tpo_test_pool, path, NULL, NULL, &err);
    EVP_PKEY *other = gen("P-256");
    tpo_client_key *c =
        tpo_client_key_load(tpo_test_pool, write_key(other, NULL), NULL, NULL, &err);

    ck_assert_ptr_nonnull(a);
    ck_assert_ptr_nonnull(b);
    ck_assert_ptr_nonnull(c);
    ck_assert_str_eq(a->kid, tpo_jwk_thumbprint(tpo_test_pool, k, &err));
    ck_assert_str_eq(a->kid, b->kid);
    ck_assert_str_ne(a->kid, c->kid);
    ck_assert_str_eq(a->alg, "ES256");
    EVP_PKEY_free(k);
    EVP_PKEY_free(other);
}
END_TEST

/* ------------------------------------------------------------- keys, JWKS */

/* Each key type: loaded from PEM, published with the right members (and no
 * private part), and an assertion it signs verifies against that JWKS. */
static void roundtrip(const char *type, const char *alg, const char *want_alg, const char *kty,
                      const char *crv)
{
    EVP_PKEY *k = gen(type);
    const char *path = write_key(k, NULL), *err = NULL, *jwks_json, *jwt;
    apr_array_header_t *keys = apr_array_make(tpo_test_pool, 1, sizeof(tpo_client_key *));
    tpo_client_key *key = tpo_client_key_load(tpo_test_pool, path, "key-1", alg, &err);
    json_t *doc, *jwk;

    EVP_PKEY_free(k);
    ck_assert_msg(key != NULL, "%s: %s", type, err ? err : "");
    ck_assert_str_eq(key->alg, want_alg);
    ck_assert_str_eq(key->kid, "key-1");
    APR_ARRAY_PUSH(keys, tpo_client_key *) = key;
    jwks_json = tpo_client_keys_jwks(tpo_test_pool, keys);
    doc = json_loads(jwks_json, 0, NULL);
    ck_assert_ptr_nonnull(doc);
    ck_assert_int_eq(json_array_size(json_object_get(doc, "keys")), 1);
    jwk = json_array_get(json_object_get(doc, "keys"), 0);
    ck_assert_str_eq(json_string_value(json_object_get(jwk, "kty")), kty);
    ck_assert_str_eq(json_string_value(json_object_get(jwk, "kid")), "key-1");
    ck_assert_str_eq(json_string_value(json_object_get(jwk, "alg")), want_alg);
    ck_assert_str_eq(json_string_value(json_object_get(jwk, "use")), "sig");
    if (crv) {
        ck_assert_str_eq(json_string_value(json_object_get(jwk, "crv")), crv);
    }
    /* public only */
    ck_assert_ptr_null(json_object_get(jwk, "d"));
    ck_assert_ptr_null(json_object_get(jwk, "p"));
    ck_assert_ptr_null(json_object_get(jwk, "q"));
    json_decref(doc);

    jwt =
        tpo_client_assertion_build(tpo_test_pool, "my-client", TOKEN_EP, NOW, 60, key, NULL, &err);
    ck_assert_msg(jwt != NULL, "%s", err ? err : "");
    check_claims(verify_assertion(jwt, jwks_json, NULL, want_alg), "my-client", TOKEN_EP, 60);
}

START_TEST(rsa_rs256_roundtrip)
{
    roundtrip("RSA", NULL, "RS256", "RSA", NULL);
}
END_TEST

START_TEST(rsa_ps256_roundtrip)
{
    roundtrip("RSA", "PS256", "PS256", "RSA", NULL);
}
END_TEST

START_TEST(ec_es256_roundtrip)
{
    roundtrip("P-256", NULL, "ES256", "EC", "P-256");
}
END_TEST

START_TEST(ec_es384_roundtrip)
{
    roundtrip("P-384", "ES384", "ES384", "EC", "P-384");
}
END_TEST

START_TEST(ed25519_roundtrip)
{
    roundtrip("ED25519", NULL, "EdDSA", "OKP", "Ed25519");
}
END_TEST

/* Several keys: all published in order, the JWK Set parses, and an
 * assertion of the second verifies too (rotation: the provider knows the
 * next key before it signs). */
START_TEST(jwks_lists_every_key_in_order)
{
    const char *err = NULL, *json, *jwt;
    apr_array_header_t *keys = apr_array_make(tpo_test_pool, 3, sizeof(tpo_client_key *));
    tpo_client_key *k1, *k2, *k3;
    json_t *doc;

    k1 = tpo_client_key_make(tpo_test_pool, gen("RSA"), NULL, NULL, &err);
    k2 = tpo_client_key_make(tpo_test_pool, gen("P-256"), "ec", NULL, &err);
    k3 = tpo_client_key_make(tpo_test_pool, gen("ED25519"), "ed", NULL, &err);
    ck_assert_ptr_nonnull(k1);
    ck_assert_ptr_nonnull(k2);
    ck_assert_ptr_nonnull(k3);
    APR_ARRAY_PUSH(keys, tpo_client_key *) = k1;
    APR_ARRAY_PUSH(keys, tpo_client_key *) = k2;
    APR_ARRAY_PUSH(keys, tpo_client_key *) = k3;
    json = tpo_client_keys_jwks(tpo_test_pool, keys);
    doc = json_loads(json, 0, NULL);
    ck_assert_ptr_nonnull(doc);
    ck_assert_int_eq(json_array_size(json_object_get(doc, "keys")), 3);
    ck_assert_str_eq(
        json_string_value(json_object_get(json_array_get(json_object_get(doc, "keys"), 0), "kid")),
        k1->kid);
    ck_assert_str_eq(
        json_string_value(json_object_get(json_array_get(json_object_get(doc, "keys"), 2), "kid")),
        "ed");
    json_decref(doc);
    jwt = tpo_client_assertion_build(tpo_test_pool, "c", TOKEN_EP, NOW, 30, k2, NULL, &err);
    check_claims(verify_assertion(jwt, json, NULL, "ES256"), "c", TOKEN_EP, 30);
}
END_TEST

/* ------------------------------------------------------------- refusals */

START_TEST(alg_must_fit_the_key)
{
    const char *err = NULL;

    ck_assert_ptr_null(tpo_client_key_make(tpo_test_pool, gen("RSA"), NULL, "ES256", &err));
    ck_assert_ptr_nonnull(strstr(err, "ES256 needs an EC key"));
    ck_assert_ptr_null(tpo_client_key_make(tpo_test_pool, gen("P-256"), NULL, "RS256", &err));
    ck_assert_ptr_nonnull(strstr(err, "RS256 needs an RSA key"));
    ck_assert_ptr_null(tpo_client_key_make(tpo_test_pool, gen("P-256"), NULL, "ES384", &err));
    ck_assert_ptr_nonnull(strstr(err, "P-384"));
    ck_assert_ptr_null(tpo_client_key_make(tpo_test_pool, gen("P-256"), NULL, "EdDSA", &err));
    ck_assert_ptr_nonnull(strstr(err, "Ed25519"));
    ck_assert_ptr_null(tpo_client_key_make(tpo_test_pool, gen("RSA"), NULL, "HS256", &err));
    ck_assert_ptr_nonnull(strstr(err, "not an algorithm for a signing key"));
    ck_assert_ptr_null(tpo_client_key_make(tpo_test_pool, gen("RSA"), NULL, "none", &err));
    ck_assert_ptr_null(tpo_client_key_make(tpo_test_pool, gen("RSA1024"), NULL, NULL, &err));
    ck_assert_ptr_nonnull(strstr(err, "1024 bits"));
}
END_TEST

START_TEST(unreadable_or_unusable_files)
{
    const char *err = NULL;

    ck_assert_ptr_null(
        tpo_client_key_load(tpo_test_pool, "/nonexistent/key.pem", NULL, NULL, &err));
    ck_assert_ptr_nonnull(strstr(err, "cannot open /nonexistent/key.pem"));
    ck_assert_ptr_null(
        tpo_client_key_load(tpo_test_pool, write_text("not a key\n"), NULL, NULL, &err));
    ck_assert_ptr_nonnull(strstr(err, "holds no PEM private key"));
    EVP_PKEY *k = gen("P-256");
    const char *enc = write_key(k, "passphrase");

    EVP_PKEY_free(k);
    ck_assert_ptr_null(tpo_client_key_load(tpo_test_pool, enc, NULL, NULL, &err));
    ck_assert_ptr_nonnull(strstr(err, "encrypted"));
}
END_TEST

START_TEST(client_certificate_checks)
{
    EVP_PKEY *k = gen("P-256"), *other = gen("P-256");
    const char *cert = write_cert(k), *key = write_key(k, NULL), *err, *cpem = NULL, *kpem = NULL;

    ck_assert_ptr_null(tpo_client_cert_load(tpo_test_pool, cert, key, &cpem, &kpem));
    ck_assert_ptr_nonnull(strstr(cpem, "-----BEGIN CERTIFICATE-----"));
    ck_assert_ptr_nonnull(strstr(kpem, "PRIVATE KEY-----"));
    err = tpo_client_cert_load(tpo_test_pool, cert, write_key(other, NULL), &cpem, &kpem);
    ck_assert_ptr_nonnull(err);
    ck_assert_ptr_nonnull(strstr(err, "is not the private key of the certificate"));
    err = tpo_client_cert_load(tpo_test_pool, key, key, &cpem, &kpem);
    ck_assert_ptr_nonnull(strstr(err, "holds no PEM certificate"));
    err = tpo_client_cert_load(tpo_test_pool, "/nonexistent/c.pem", key, &cpem, &kpem);
    ck_assert_ptr_nonnull(strstr(err, "cannot open"));
    err = tpo_client_cert_load(tpo_test_pool, cert, "/nonexistent/k.pem", &cpem, &kpem);
    ck_assert_ptr_nonnull(strstr(err, "cannot open"));
    EVP_PKEY_free(k);
    EVP_PKEY_free(other);
}
END_TEST

/* ------------------------------------------------------------- assertions */

START_TEST(secret_jwt_hs256)
{
    const char *err = NULL;
    const char *jwt = tpo_client_assertion_build(tpo_test_pool, "sec-client", TOKEN_EP, NOW, 60,
                                                 NULL, "a-shared-secret", &err);
    tpo_jws *jws = NULL;
    tpo_jwks empty = {apr_array_make(tpo_test_pool, 1, sizeof(tpo_jwk *))};
    const char *algs[] = {"HS256", NULL};

    check_claims(verify_assertion(jwt, NULL, "a-shared-secret", "HS256"), "sec-client", TOKEN_EP,
                 60);
    /* another secret does not verify it */
    ck_assert_int_eq(tpo_jws_parse(tpo_test_pool, jwt, &jws, &err), APR_SUCCESS);
    ck_assert_int_ne(tpo_jws_verify(tpo_test_pool, jws, &empty,
                                    tpo_jwk_from_secret(tpo_test_pool, "other", 5), algs, &err),
                     APR_SUCCESS);
    /* no secret, no key: no assertion */
    ck_assert_ptr_null(
        tpo_client_assertion_build(tpo_test_pool, "c", TOKEN_EP, NOW, 60, NULL, NULL, &err));
}
END_TEST

START_TEST(jti_is_unique)
{
    const char *err = NULL, *seen[64];
    tpo_client_key *k = tpo_client_key_make(tpo_test_pool, gen("P-256"), NULL, NULL, &err);
    int i, j;

    for (i = 0; i < 64; i++) {
        const char *jwt =
            tpo_client_assertion_build(tpo_test_pool, "c", TOKEN_EP, NOW, 60, k, NULL, &err);
        tpo_jws *jws = NULL;
        json_t *c;
        ck_assert_int_eq(tpo_jws_parse(tpo_test_pool, jwt, &jws, &err), APR_SUCCESS);
        c = tpo_jws_payload_json(tpo_test_pool, jws, &err);
        seen[i] = apr_pstrdup(tpo_test_pool, json_string_value(json_object_get(c, "jti")));
        for (j = 0; j < i; j++) {
            ck_assert_str_ne(seen[i], seen[j]);
        }
    }
}
END_TEST

/* ------------------------------------------------------------- tpo_client_auth_build */

static const char *param(const apr_array_header_t *a, const char *name)
{
    int i;
    for (i = 0; i + 1 < a->nelts; i += 2) {
        if (!strcmp(APR_ARRAY_IDX(a, i, const char *), name)) {
            return APR_ARRAY_IDX(a, i + 1, const char *);
        }
    }
    return NULL;
}

START_TEST(auth_build_every_method)
{
    const char *err = NULL, *authz = NULL;
    tpo_client_cred cred;
    apr_array_header_t *a;
    tpo_client_key *k = tpo_client_key_make(tpo_test_pool, gen("P-256"), "k1", NULL, &err);
    apr_array_header_t *keys = apr_array_make(tpo_test_pool, 1, sizeof(tpo_client_key *));

    APR_ARRAY_PUSH(keys, tpo_client_key *) = k;
    memset(&cred, 0, sizeof(cred));
    cred.client_id = "cid";
    cred.client_secret = "csecret";
    cred.key = k;
    cred.audience = TOKEN_EP;
    cred.now = NOW;

    /* private_key_jwt: assertion + type + client_id, no header, no secret */
    cred.auth = TPO_CLIENT_AUTH_PRIVATE_KEY_JWT;
    a = apr_array_make(tpo_test_pool, 6, sizeof(const char *));
    ck_assert_int_eq(tpo_client_auth_build(tpo_test_pool, &cred, a, &authz, &err), 0);
    ck_assert_ptr_null(authz);
    ck_assert_str_eq(param(a, "client_assertion_type"),
                     "urn:ietf:params:oauth:client-assertion-type:jwt-bearer");
    ck_assert_str_eq(param(a, "client_id"), "cid");
    ck_assert_ptr_null(param(a, "client_secret"));
    check_claims(verify_assertion(param(a, "client_assertion"),
                                  tpo_client_keys_jwks(tpo_test_pool, keys), NULL, "ES256"),
                 "cid", TOKEN_EP, TPO_DEF_CLIENT_ASSERTION_LIFETIME);

    /* client_secret_jwt */
    cred.auth = TPO_CLIENT_AUTH_SECRET_JWT;
    a = apr_array_make(tpo_test_pool, 6, sizeof(const char *));
    ck_assert_int_eq(tpo_client_auth_build(tpo_test_pool, &cred, a, &authz, &err), 0);
    ck_assert_ptr_null(authz);
    ck_assert_ptr_null(param(a, "client_secret"));
    verify_assertion(param(a, "client_assertion"), NULL, "csecret", "HS256");

    /* TLS methods: the client is named, nothing else */
    cred.auth = TPO_CLIENT_AUTH_TLS;
    a = apr_array_make(tpo_test_pool, 6, sizeof(const char *));
    ck_assert_int_eq(tpo_client_auth_build(tpo_test_pool, &cred, a, &authz, &err), 0);
    ck_assert_ptr_null(authz);
    ck_assert_int_eq(a->nelts, 2);
    ck_assert_str_eq(param(a, "client_id"), "cid");
    cred.auth = TPO_CLIENT_AUTH_SELF_SIGNED_TLS;
    a = apr_array_make(tpo_test_pool, 6, sizeof(const char *));
    ck_assert_int_eq(tpo_client_auth_build(tpo_test_pool, &cred, a, &authz, &err), 0);
    ck_assert_int_eq(a->nelts, 2);

    /* basic: the header only */
    cred.auth = TPO_CLIENT_AUTH_BASIC;
    a = apr_array_make(tpo_test_pool, 6, sizeof(const char *));
    ck_assert_int_eq(tpo_client_auth_build(tpo_test_pool, &cred, a, &authz, &err), 0);
    ck_assert_str_eq(authz, "Basic Y2lkOmNzZWNyZXQ=");
    ck_assert_int_eq(a->nelts, 0);

    /* private_key_jwt without a key: an error, no request */
    cred.auth = TPO_CLIENT_AUTH_PRIVATE_KEY_JWT;
    cred.key = NULL;
    a = apr_array_make(tpo_test_pool, 6, sizeof(const char *));
    ck_assert_int_eq(tpo_client_auth_build(tpo_test_pool, &cred, a, &authz, &err), -1);
    ck_assert_ptr_nonnull(err);
}
END_TEST

/* The token request carries the assertion in a form or a JSON body; two
 * requests never share a jti. */
START_TEST(token_request_with_assertion)
{
    const char *err = NULL;
    tpo_client_cred cred;
    tpo_token_request r1, r2;
    apr_array_header_t *params = apr_array_make(tpo_test_pool, 4, sizeof(const char *));
    json_t *body;

    APR_ARRAY_PUSH(params, const char *) = "grant_type";
    APR_ARRAY_PUSH(params, const char *) = "refresh_token";
    APR_ARRAY_PUSH(params, const char *) = "refresh_token";
    APR_ARRAY_PUSH(params, const char *) = "rt";
    memset(&cred, 0, sizeof(cred));
    cred.auth = TPO_CLIENT_AUTH_PRIVATE_KEY_JWT;
    cred.client_id = "cid";
    cred.key = tpo_client_key_make(tpo_test_pool, gen("ED25519"), NULL, NULL, &err);
    cred.audience = TOKEN_EP;
    tpo_token_request_build_cred(tpo_test_pool, TPO_TOKEN_ENC_FORM, &cred, params, &r1);
    ck_assert_ptr_nonnull(r1.body);
    ck_assert_ptr_null(r1.authorization);
    ck_assert_ptr_nonnull(strstr(r1.body, "grant_type=refresh_token&refresh_token=rt&client_id=cid"
                                          "&client_assertion_type=urn%3Aietf%3Aparams%3Aoauth%3A"
                                          "client-assertion-type%3Ajwt-bearer&client_assertion="));
    tpo_token_request_build_cred(tpo_test_pool, TPO_TOKEN_ENC_JSON, &cred, params, &r2);
    ck_assert_ptr_nonnull(r2.body);
    body = json_loads(r2.body, 0, NULL);
    ck_assert_ptr_nonnull(body);
    ck_assert_ptr_nonnull(json_string_value(json_object_get(body, "client_assertion")));
    ck_assert_ptr_null(
        strstr(r1.body, json_string_value(json_object_get(body, "client_assertion"))));
    json_decref(body);

    /* no key: no body, and a reason */
    cred.key = NULL;
    tpo_token_request_build_cred(tpo_test_pool, TPO_TOKEN_ENC_FORM, &cred, params, &r1);
    ck_assert_ptr_null(r1.body);
    ck_assert_ptr_nonnull(r1.error);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("client_auth");
    TCase *tc = tcase_create("core");

    tcase_set_timeout(tc, 60);
    tcase_add_checked_fixture(tc, tpo_test_setup, tpo_test_teardown);
    tcase_add_test(tc, thumbprint_rfc7638_example);
    tcase_add_test(tc, thumbprint_is_default_kid);
    tcase_add_test(tc, rsa_rs256_roundtrip);
    tcase_add_test(tc, rsa_ps256_roundtrip);
    tcase_add_test(tc, ec_es256_roundtrip);
    tcase_add_test(tc, ec_es384_roundtrip);
    tcase_add_test(tc, ed25519_roundtrip);
    tcase_add_test(tc, jwks_lists_every_key_in_order);
    tcase_add_test(tc, alg_must_fit_the_key);
    tcase_add_test(tc, unreadable_or_unusable_files);
    tcase_add_test(tc, client_certificate_checks);
    tcase_add_test(tc, secret_jwt_hs256);
    tcase_add_test(tc, jti_is_unique);
    tcase_add_test(tc, auth_build_every_method);
    tcase_add_test(tc, token_request_with_assertion);
    suite_add_tcase(s, tc);
    return tpo_test_run(s);
}
