/* SPDX-License-Identifier: Apache-2.0
 * Licensed under the Apache License, Version 2.0 (see LICENSE). */
/* Keys for the JOSE targets, generated fresh in every fuzzing process: the
 * fuzzer (and the seed corpus) cannot know them, so no input it makes can
 * carry a valid signature by them. The forgery oracles rest on that. */
#ifndef FUZZ_KEYS_H
#define FUZZ_KEYS_H

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include "fuzz_common.h"
#include "tpo_b64.h"
#include "tpo_jose.h"

#define NKEYS 5
typedef struct {
    const char *kid;
    const char *alg; /* the alg its genuine tokens use */
    EVP_PKEY *priv;  /* NULL for the oct key */
    const char *jwk; /* public JWK, JSON text */
} fuzz_key;

static fuzz_key fkeys[NKEYS] = {
    {"r1", "RS256", NULL, NULL}, {"e1", "ES256", NULL, NULL}, {"e2", "ES384", NULL, NULL},
    {"d1", "EdDSA", NULL, NULL}, {"o1", "HS256", NULL, NULL}, /* an oct key published in the set */
};
static unsigned char oct_secret[32];    /* the set's oct key */
static unsigned char client_secret[32]; /* the HS key given as hs_key */
static const char *fuzz_jwks_json;
static tpo_jwks *fuzz_set;
static tpo_jwk *fuzz_hs_key;
static apr_pool_t *keys_pool;

/* The attacker's own keys (a token they sign must never validate). */
static EVP_PKEY *atk_rsa, *atk_p256, *atk_p384, *atk_ed;

static const char *const FUZZ_ALGS[] = {"RS256", "RS384", "RS512", "PS256", "PS384",
                                        "PS512", "ES256", "ES384", "ES512", "EdDSA",
                                        "HS256", "HS384", "HS512", NULL};
#define NALGS 13

/* APR's allocator takes its memory with mmap, which LeakSanitizer does not
 * scan: keys that live as long as the process are also referenced from here
 * so that they are not reported as leaks. */
static EVP_PKEY *volatile kept_pkeys[64];
static int nkept;

static void fuzz_keep_pkeys(const tpo_jwks *set)
{
    int i;

    for (i = 0; i < set->keys->nelts && nkept < 64; i++) {
        kept_pkeys[nkept++] = APR_ARRAY_IDX(set->keys, i, tpo_jwk *)->pkey;
    }
}

static const char *b64(const void *d, size_t n)
{
    return tpo_b64url_encode(keys_pool, d, n);
}

static const char *public_jwk(EVP_PKEY *pk, const char *kid)
{
    if (EVP_PKEY_is_a(pk, "RSA")) {
        BIGNUM *n = NULL, *e = NULL;
        unsigned char nb[1024], eb[16];
        int nl, el;

        CHECK(EVP_PKEY_get_bn_param(pk, OSSL_PKEY_PARAM_RSA_N, &n));
        CHECK(EVP_PKEY_get_bn_param(pk, OSSL_PKEY_PARAM_RSA_E, &e));
        nl = BN_bn2bin(n, nb);
        el = BN_bn2bin(e, eb);
        BN_free(n);
        BN_free(e);
        return apr_psprintf(keys_pool,
                            "{\"kty\":\"RSA\",\"kid\":\"%s\",\"use\":\"sig\","
                            "\"n\":\"%s\",\"e\":\"%s\"}",
                            kid, b64(nb, (size_t)nl), b64(eb, (size_t)el));
    }
    if (EVP_PKEY_is_a(pk, "EC")) {
        unsigned char pt[200];
        size_t len = 0, c;
        char group[64];

        CHECK(EVP_PKEY_get_group_name(pk, group, sizeof(group), NULL));
        CHECK(EVP_PKEY_get_octet_string_param(pk, OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, pt,
                                              sizeof(pt), &len));
        c = (len - 1) / 2;
        return apr_psprintf(keys_pool,
                            "{\"kty\":\"EC\",\"kid\":\"%s\",\"crv\":\"%s\","
                            "\"x\":\"%s\",\"y\":\"%s\"}",
                            kid, strcmp(group, "prime256v1") == 0 ? "P-256" : "P-384",
                            b64(pt + 1, c), b64(pt + 1 + c, c));
    }
    {
        unsigned char raw[64];
        size_t len = sizeof(raw);

        CHECK(EVP_PKEY_get_raw_public_key(pk, raw, &len));
        return apr_psprintf(keys_pool,
                            "{\"kty\":\"OKP\",\"kid\":\"%s\",\"crv\":\"Ed25519\","
                            "\"x\":\"%s\"}",
                            kid, b64(raw, len));
    }
}

/* A genuine token: payload signed by key i of the set. */
static char *genuine(apr_pool_t *p, int i, const char *payload)
{
    const char *err = NULL;
    char *t;

    if (fkeys[i].priv) {
        t = tpo_jws_sign(p, fkeys[i].alg, fkeys[i].kid, payload, fkeys[i].priv, NULL, 0, &err);
    }
    else {
        t = tpo_jws_sign(p, "HS256", fkeys[i].kid, payload, NULL, oct_secret, sizeof(oct_secret),
                         &err);
    }
    CHECK(t != NULL);
    return t;
}

static void fuzz_keys_init(void)
{
    const char *err = NULL;
    int i;

    if (keys_pool)
        return;
    fuzz_once_begin();
    fuzz_init_apr();
    apr_pool_create(&keys_pool, fuzz_root);
    fkeys[0].priv = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
    fkeys[1].priv = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    fkeys[2].priv = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-384");
    fkeys[3].priv = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
    atk_rsa = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
    atk_p256 = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    atk_p384 = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-384");
    atk_ed = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
    CHECK(fkeys[0].priv && fkeys[1].priv && fkeys[2].priv && fkeys[3].priv);
    CHECK(atk_rsa && atk_p256 && atk_p384 && atk_ed);
    CHECK(RAND_bytes(oct_secret, sizeof(oct_secret)) == 1);
    CHECK(RAND_bytes(client_secret, sizeof(client_secret)) == 1);
    for (i = 0; i < 4; i++)
        fkeys[i].jwk = public_jwk(fkeys[i].priv, fkeys[i].kid);
    fkeys[4].jwk = apr_psprintf(keys_pool, "{\"kty\":\"oct\",\"kid\":\"o1\",\"k\":\"%s\"}",
                                b64(oct_secret, sizeof(oct_secret)));
    fuzz_jwks_json = apr_psprintf(keys_pool, "{\"keys\":[%s,%s,%s,%s,%s]}", fkeys[0].jwk,
                                  fkeys[1].jwk, fkeys[2].jwk, fkeys[3].jwk, fkeys[4].jwk);
    CHECK(tpo_jwks_parse(keys_pool, fuzz_jwks_json, strlen(fuzz_jwks_json), &fuzz_set, &err) ==
          APR_SUCCESS);
    fuzz_keep_pkeys(fuzz_set);
    fuzz_hs_key =
        tpo_jwk_from_secret(keys_pool, (const char *)client_secret, sizeof(client_secret));
    CHECK(fuzz_hs_key != NULL);
    fuzz_once_end();
}

/* Public material of the set that an alg-confusion attack would use as an
 * HMAC secret: the JWK text, the raw public key, its DER and the JWKS. */
static inline const unsigned char *public_material(apr_pool_t *p, unsigned which, size_t *len)
{
    int k = (int)(which % 4);
    unsigned char *der = NULL;
    int n;

    switch ((which / 4) % 4) {
    case 0:
        *len = strlen(fkeys[k].jwk);
        return (const unsigned char *)fkeys[k].jwk;
    case 1:
        *len = strlen(fuzz_jwks_json);
        return (const unsigned char *)fuzz_jwks_json;
    case 2:
        n = i2d_PUBKEY(fkeys[k].priv, &der);
        CHECK(n > 0);
        *len = (size_t)n;
        {
            unsigned char *copy = apr_pmemdup(p, der, (size_t)n);
            OPENSSL_free(der);
            return copy;
        }
    default: {
        unsigned char *raw = apr_palloc(p, 600);
        size_t l = 600;
        if (EVP_PKEY_is_a(fkeys[k].priv, "RSA")) {
            BIGNUM *bn = NULL;
            CHECK(EVP_PKEY_get_bn_param(fkeys[k].priv, OSSL_PKEY_PARAM_RSA_N, &bn));
            l = (size_t)BN_bn2bin(bn, raw);
            BN_free(bn);
        }
        else if (EVP_PKEY_is_a(fkeys[k].priv, "EC")) {
            CHECK(EVP_PKEY_get_octet_string_param(fkeys[k].priv, OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY,
                                                  raw, 600, &l));
        }
        else {
            CHECK(EVP_PKEY_get_raw_public_key(fkeys[k].priv, raw, &l));
        }
        *len = l;
        return raw;
    }
    }
}

/* A token the attacker can make: signed with their own key (of the type
 * the alg wants) or, for HS*, with public material of the set as the secret;
 * the header names a kid of the set. NULL if signing is impossible. */
static inline char *attacker_token(apr_pool_t *p, fuzz_in *in, const char *payload)
{
    const char *alg = FUZZ_ALGS[fuzz_byte(in) % NALGS];
    const char *kid = fkeys[fuzz_byte(in) % NKEYS].kid;
    unsigned which = fuzz_byte(in);
    const char *err = NULL;
    EVP_PKEY *k = NULL;
    const unsigned char *secret = NULL;
    size_t slen = 0;

    if (which & 0x80)
        kid = NULL;
    if (alg[0] == 'H') {
        secret = public_material(p, which, &slen);
    }
    else if (alg[0] == 'R' || alg[0] == 'P') {
        if (which & 0x70)
            return NULL; /* RSA signing is slow: 1 in 8 */
        k = atk_rsa;
    }
    else if (strcmp(alg, "ES256") == 0) {
        k = atk_p256;
    }
    else if (strcmp(alg, "ES384") == 0) {
        k = atk_p384;
    }
    else if (strcmp(alg, "EdDSA") == 0) {
        k = atk_ed;
    }
    else {
        return NULL; /* ES512: no P-521 attacker key (none in the set either) */
    }
    return tpo_jws_sign(p, alg, kid, payload, k, secret, slen, &err);
}

/* "<header>\0<payload>\0<signature bytes>" from the input, each part
 * base64url-encoded by us, so the fuzzer works on the JSON directly. */
static inline char *structured_token(apr_pool_t *p, fuzz_in *in)
{
    size_t hl, pl, sl;
    const char *h = fuzz_part(in, p, 0, &hl);
    const char *pay = fuzz_part(in, p, 0, &pl);
    const char *sig = fuzz_rest(in, p, &sl);

    return apr_pstrcat(p, tpo_b64url_encode(p, (const unsigned char *)h, hl), ".",
                       tpo_b64url_encode(p, (const unsigned char *)pay, pl), ".",
                       tpo_b64url_encode(p, (const unsigned char *)sig, sl), NULL);
}

#endif
