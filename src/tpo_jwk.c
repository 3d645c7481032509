/* SPDX-License-Identifier: Apache-2.0
 * Licensed under the Apache License, Version 2.0 (see LICENSE). */
/* JOSE keys: JWK / JWK Set parsing (RFC 7517, 7518, 8037), symmetric keys
 * from a client secret, and the key-loading helpers. OpenSSL 3 EVP only;
 * jansson for JSON. Signatures are in tpo_jws.c. */
#include <string.h>
#include <strings.h>
#include <apr_strings.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/param_build.h>
#include <openssl/rsa.h>
#include "tpo_json.h"
#include "tpo_b64.h"
#include "tpo_jose.h"
#include "tpo_jose_private.h"

#define RSA_MIN_BITS 2048 /* RFC 7518 3.3 */
#define RSA_MAX_BITS 8192 /* verification cost bound */
#define RSA_MAX_E_BYTES 8

/* ---------------------------------------------------------------- curves */

static const ec_curve ec_curves[] = {
    {"P-256", "prime256v1", 32},
    {"P-384", "secp384r1", 48},
    {"P-521", "secp521r1", 66},
};

const ec_curve *tpo_jose_curve_lookup(const char *crv)
{
    apr_size_t i;

    for (i = 0; i < sizeof(ec_curves) / sizeof(ec_curves[0]); i++) {
        if (strcmp(ec_curves[i].jwk_crv, crv) == 0) {
            return &ec_curves[i];
        }
    }
    return NULL;
}

/* -------------------------------------------------------------- cleanups */

static apr_status_t pkey_cleanup(void *data)
{
    EVP_PKEY_free(data);
    return APR_SUCCESS;
}

typedef struct {
    void *buf;
    apr_size_t len;
} secret_buf;

static apr_status_t secret_cleanup(void *data)
{
    secret_buf *sb = data;
    OPENSSL_cleanse(sb->buf, sb->len);
    return APR_SUCCESS;
}

/* Wipe len bytes at buf when p goes away. */
static void wipe_on_cleanup(apr_pool_t *p, void *buf, apr_size_t len)
{
    secret_buf *sb = apr_palloc(p, sizeof(*sb));
    sb->buf = buf;
    sb->len = len;
    apr_pool_cleanup_register(p, sb, secret_cleanup, apr_pool_cleanup_null);
}

static apr_status_t pctx_cleanup(void *data)
{
    EVP_PKEY_CTX_free(data);
    return APR_SUCCESS;
}

/* The RS256 verification context of an RSA key (tpo_jwk.rs256_verify), or
 * NULL (then every check sets one up). */
static EVP_PKEY_CTX *rs256_context(apr_pool_t *p, EVP_PKEY *pkey)
{
    EVP_PKEY_CTX *c = EVP_PKEY_CTX_new_from_pkey(NULL, pkey, NULL);
    EVP_MD *md = EVP_MD_fetch(NULL, "SHA256", NULL);

    if (!c || !md || EVP_PKEY_verify_init(c) != 1 ||
        EVP_PKEY_CTX_set_rsa_padding(c, RSA_PKCS1_PADDING) <= 0 ||
        EVP_PKEY_CTX_set_signature_md(c, md) <= 0) {
        EVP_PKEY_CTX_free(c);
        EVP_MD_free(md);
        ERR_clear_error();
        return NULL;
    }
    EVP_MD_free(md); /* the context holds its own reference */
    apr_pool_cleanup_register(p, c, pctx_cleanup, apr_pool_cleanup_null);
    return c;
}

static void pool_own_pkey(apr_pool_t *p, EVP_PKEY *pkey)
{
    apr_pool_cleanup_register(p, pkey, pkey_cleanup, apr_pool_cleanup_null);
}

void tpo_jose_pool_own_json(apr_pool_t *p, json_t *j)
{
    apr_pool_cleanup_register(p, j, tpo_json_cleanup, apr_pool_cleanup_null);
}

/* ------------------------------------------------------------ JSON bits */

/* A JSON string member as a C string. Returns 1 when absent (*out NULL),
 * 1 with *out set when a string without embedded NUL, 0 otherwise. */
int tpo_jose_json_opt_string(json_t *obj, const char *name, const char **out)
{
    json_t *v = json_object_get(obj, name);

    *out = NULL;
    if (!v) {
        return 1;
    }
    if (!json_is_string(v) || strlen(json_string_value(v)) != json_string_length(v)) {
        return 0;
    }
    *out = json_string_value(v);
    return 1;
}

/* Decode a required base64url member; NULL when absent, not a string, bad
 * base64url or empty. */
static unsigned char *json_b64_member(apr_pool_t *p, json_t *obj, const char *name, apr_size_t *len)
{
    json_t *v = json_object_get(obj, name);
    unsigned char *out;

    if (!v || !json_is_string(v)) {
        return NULL;
    }
    out = tpo_b64url_decode(p, json_string_value(v), json_string_length(v), len);
    if (!out || *len == 0) {
        return NULL;
    }
    return out;
}

/* ------------------------------------------------------------ key loading */

static EVP_PKEY *pkey_from_params(const char *type, OSSL_PARAM_BLD *bld)
{
    OSSL_PARAM *params = NULL;
    EVP_PKEY_CTX *ctx = NULL;
    EVP_PKEY *pkey = NULL;

    params = OSSL_PARAM_BLD_to_param(bld);
    if (!params) {
        goto out;
    }
    ctx = EVP_PKEY_CTX_new_from_name(NULL, type, NULL);
    if (!ctx || EVP_PKEY_fromdata_init(ctx) != 1 ||
        EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) != 1) {
        EVP_PKEY_free(pkey);
        pkey = NULL;
    }
out:
    EVP_PKEY_CTX_free(ctx);
    OSSL_PARAM_free(params);
    return pkey;
}

static EVP_PKEY *load_rsa(apr_pool_t *tmp, json_t *jk)
{
    unsigned char *n, *e;
    apr_size_t nlen, elen;
    BIGNUM *bn_n = NULL, *bn_e = NULL;
    OSSL_PARAM_BLD *bld = NULL;
    EVP_PKEY *pkey = NULL;
    int bits;

    n = json_b64_member(tmp, jk, "n", &nlen);
    e = json_b64_member(tmp, jk, "e", &elen);
    if (!n || !e || elen > RSA_MAX_E_BYTES || nlen > RSA_MAX_BITS / 8 + 1) {
        return NULL;
    }
    bn_n = BN_bin2bn(n, (int)nlen, NULL);
    bn_e = BN_bin2bn(e, (int)elen, NULL);
    if (!bn_n || !bn_e) {
        goto out;
    }
    bits = BN_num_bits(bn_n);
    /* e must be odd and > 1 */
    if (bits < RSA_MIN_BITS || bits > RSA_MAX_BITS || !BN_is_odd(bn_e) || BN_is_one(bn_e)) {
        goto out;
    }
    bld = OSSL_PARAM_BLD_new();
    if (!bld || !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, bn_n) ||
        !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, bn_e)) {
        goto out;
    }
    pkey = pkey_from_params("RSA", bld);
out:
    OSSL_PARAM_BLD_free(bld);
    BN_free(bn_n);
    BN_free(bn_e);
    return pkey;
}

static EVP_PKEY *load_ec(apr_pool_t *tmp, json_t *jk, const ec_curve *cv)
{
    unsigned char *x, *y, *pt;
    apr_size_t xlen, ylen;
    OSSL_PARAM_BLD *bld = NULL;
    EVP_PKEY *pkey = NULL;
    EVP_PKEY_CTX *chk = NULL;

    x = json_b64_member(tmp, jk, "x", &xlen);
    y = json_b64_member(tmp, jk, "y", &ylen);
    /* RFC 7518 6.2.1.2: the full coordinate size, leading zeros included */
    if (!x || !y || xlen != cv->coord || ylen != cv->coord) {
        return NULL;
    }
    pt = apr_palloc(tmp, 1 + 2 * cv->coord);
    pt[0] = 0x04; /* uncompressed point */
    memcpy(pt + 1, x, cv->coord);
    memcpy(pt + 1 + cv->coord, y, cv->coord);

    bld = OSSL_PARAM_BLD_new();
    if (!bld || !OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, cv->group, 0) ||
        !OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, pt, 1 + 2 * cv->coord)) {
        goto out;
    }
    pkey = pkey_from_params("EC", bld);
    if (pkey) {
        /* the point must be on the curve and in the right subgroup */
        chk = EVP_PKEY_CTX_new_from_pkey(NULL, pkey, NULL);
        if (!chk || EVP_PKEY_public_check(chk) != 1) {
            EVP_PKEY_free(pkey);
            pkey = NULL;
        }
    }
out:
    EVP_PKEY_CTX_free(chk);
    OSSL_PARAM_BLD_free(bld);
    return pkey;
}

static EVP_PKEY *load_ed25519(apr_pool_t *tmp, json_t *jk)
{
    unsigned char *x;
    apr_size_t xlen;

    x = json_b64_member(tmp, jk, "x", &xlen);
    if (!x || xlen != 32) {
        return NULL;
    }
    return EVP_PKEY_new_raw_public_key_ex(NULL, "ED25519", NULL, x, xlen);
}

/* key_ops, when present, must allow "verify". */
static int key_ops_allow_verify(json_t *jk)
{
    json_t *ops = json_object_get(jk, "key_ops"), *v;
    size_t i;

    if (!ops) {
        return 1;
    }
    if (!json_is_array(ops)) {
        return 0;
    }
    json_array_foreach(ops, i, v)
    {
        if (json_is_string(v) && strcmp(json_string_value(v), "verify") == 0) {
            return 1;
        }
    }
    return 0;
}

/* One JWK from a set; NULL when it is to be skipped. */
static tpo_jwk *jwk_from_json(apr_pool_t *p, apr_pool_t *tmp, json_t *jk)
{
    const char *kty, *kid, *alg, *use, *crv;
    tpo_jwk *k;
    EVP_PKEY *pkey = NULL;

    if (!json_is_object(jk) || !tpo_jose_json_opt_string(jk, "kty", &kty) || !kty ||
        !tpo_jose_json_opt_string(jk, "kid", &kid) || !tpo_jose_json_opt_string(jk, "alg", &alg) ||
        !tpo_jose_json_opt_string(jk, "use", &use) || !tpo_jose_json_opt_string(jk, "crv", &crv)) {
        return NULL;
    }
    if ((use && strcmp(use, "sig") != 0) || !key_ops_allow_verify(jk)) {
        return NULL;
    }
    /* a key bound to an algorithm we do not implement is of no use */
    if (alg && !tpo_jose_alg_lookup(alg)) {
        return NULL;
    }

    k = apr_pcalloc(p, sizeof(*k));
    if (strcmp(kty, "RSA") == 0) {
        if (alg && strncmp(alg, "RS", 2) != 0 && strncmp(alg, "PS", 2) != 0) {
            return NULL;
        }
        pkey = load_rsa(tmp, jk);
        k->kty = "RSA";
    }
    else if (strcmp(kty, "EC") == 0) {
        const ec_curve *cv = crv ? tpo_jose_curve_lookup(crv) : NULL;
        const alg_info *ai = alg ? tpo_jose_alg_lookup(alg) : NULL;
        if (!cv || (ai && (ai->fam != FAM_EC || strcmp(ai->crv, cv->jwk_crv) != 0))) {
            return NULL;
        }
        pkey = load_ec(tmp, jk, cv);
        k->kty = "EC";
        k->crv = cv->jwk_crv;
    }
    else if (strcmp(kty, "OKP") == 0) {
        if (!crv || strcmp(crv, "Ed25519") != 0 || (alg && strcmp(alg, "EdDSA") != 0)) {
            return NULL;
        }
        pkey = load_ed25519(tmp, jk);
        k->kty = "OKP";
        k->crv = "Ed25519";
    }
    else if (strcmp(kty, "oct") == 0) {
        unsigned char *sec;
        apr_size_t slen;
        if (alg && strncmp(alg, "HS", 2) != 0) {
            return NULL;
        }
        sec = json_b64_member(tmp, jk, "k", &slen);
        if (!sec) {
            return NULL;
        }
        k->kty = "oct";
        k->secret = apr_pmemdup(p, sec, slen);
        k->secret_len = slen;
        wipe_on_cleanup(p, (void *)k->secret, slen);
        OPENSSL_cleanse(sec, slen);
    }
    else {
        return NULL;
    }

    if (strcmp(k->kty, "oct") != 0) {
        if (!pkey) {
            return NULL;
        }
        pool_own_pkey(p, pkey);
        k->pkey = pkey;
        if (!strcmp(k->kty, "RSA") && (!alg || !strcmp(alg, "RS256"))) {
            k->rs256_verify = rs256_context(p, pkey);
        }
    }
    k->kid = kid ? apr_pstrdup(p, kid) : NULL;
    k->alg = alg ? apr_pstrdup(p, alg) : NULL;
    k->use = use ? apr_pstrdup(p, use) : NULL;
    return k;
}

apr_status_t tpo_jwks_parse(apr_pool_t *p, const char *json, apr_size_t len, tpo_jwks **out,
                            const char **err)
{
    apr_pool_t *tmp;
    json_t *root, *keys, *jk;
    json_error_t jerr;
    tpo_jwks *set;
    size_t i;
    apr_status_t rv = APR_EINVAL;

    *out = NULL;
    *err = NULL;
    if (!json || len == 0) {
        *err = "empty JWK Set";
        return APR_EINVAL;
    }
    if (len > TPO_JOSE_MAX_JWKS) {
        *err = "JWK Set too large";
        return APR_EINVAL;
    }
    if (apr_pool_create(&tmp, p) != APR_SUCCESS) {
        *err = "out of memory";
        return APR_ENOMEM;
    }
    root = json_loadb(json, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!root) {
        *err = "JWK Set is not valid JSON";
        goto out;
    }
    tpo_jose_pool_own_json(tmp, root);
    keys = json_object_get(root, "keys");
    if (!json_is_object(root) || !json_is_array(keys)) {
        *err = "JWK Set has no \"keys\" array";
        goto out;
    }

    set = apr_pcalloc(p, sizeof(*set));
    set->keys = apr_array_make(p, 4, sizeof(tpo_jwk *));
    json_array_foreach(keys, i, jk)
    {
        tpo_jwk *k;
        if (i >= JWKS_MAX_KEYS) {
            break;
        }
        k = jwk_from_json(p, tmp, jk);
        if (k) {
            APR_ARRAY_PUSH(set->keys, tpo_jwk *) = k;
        }
    }
    ERR_clear_error(); /* rejected keys leave OpenSSL errors behind */
    if (set->keys->nelts == 0) {
        *err = "JWK Set has no usable signature key";
        goto out;
    }
    *out = set;
    rv = APR_SUCCESS;
out:
    apr_pool_destroy(tmp);
    return rv;
}

tpo_jwk *tpo_jwk_from_secret(apr_pool_t *p, const char *secret, apr_size_t len)
{
    tpo_jwk *k;
    unsigned char *copy;

    if (!secret || len == 0) {
        return NULL;
    }
    k = apr_pcalloc(p, sizeof(*k));
    copy = apr_palloc(p, len);
    memcpy(copy, secret, len);
    wipe_on_cleanup(p, copy, len);
    k->kty = "oct";
    k->use = "sig";
    k->secret = copy;
    k->secret_len = len;
    return k;
}
