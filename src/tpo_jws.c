/* SPDX-License-Identifier: Apache-2.0
 * Licensed under the Apache License, Version 2.0 (see LICENSE). */
/* JOSE signatures: JWS compact parsing, verification and signing
 * (RFC 7515, 7518, 8037) and the algorithm table. OpenSSL 3 EVP only;
 * jansson for JSON. Keys come from tpo_jwk.c. */
#include <string.h>
#include <strings.h>
#include <apr_strings.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/param_build.h>
#include <openssl/rsa.h>
#include "tpo_b64.h"
#include "tpo_evp.h"
#include "tpo_jose.h"
#include "tpo_jose_private.h"
#include "tpo_json_load.h"

#define JWS_MAX_HEADER 8192 /* decoded protected header */

/* ------------------------------------------------------------------ algs */

static const alg_info alg_table[] = {
    {"RS256", FAM_RSA_PKCS1, "SHA256", NULL, 0, 0}, {"RS384", FAM_RSA_PKCS1, "SHA384", NULL, 0, 0},
    {"RS512", FAM_RSA_PKCS1, "SHA512", NULL, 0, 0}, {"PS256", FAM_RSA_PSS, "SHA256", NULL, 0, 0},
    {"PS384", FAM_RSA_PSS, "SHA384", NULL, 0, 0},   {"PS512", FAM_RSA_PSS, "SHA512", NULL, 0, 0},
    {"ES256", FAM_EC, "SHA256", "P-256", 32, 0},    {"ES384", FAM_EC, "SHA384", "P-384", 48, 0},
    {"ES512", FAM_EC, "SHA512", "P-521", 66, 0},    {"EdDSA", FAM_EDDSA, NULL, "Ed25519", 0, 0},
    {"HS256", FAM_HMAC, "SHA256", NULL, 0, 32},     {"HS384", FAM_HMAC, "SHA384", NULL, 0, 48},
    {"HS512", FAM_HMAC, "SHA512", NULL, 0, 64},
};

const alg_info *tpo_jose_alg_lookup(const char *alg)
{
    apr_size_t i;

    if (!alg) {
        return NULL;
    }
    for (i = 0; i < sizeof(alg_table) / sizeof(alg_table[0]); i++) {
        if (strcmp(alg_table[i].name, alg) == 0) {
            return &alg_table[i];
        }
    }
    return NULL;
}

int tpo_jws_alg_supported(const char *alg)
{
    return tpo_jose_alg_lookup(alg) != NULL;
}

/* ------------------------------------------------------------- JWS parse */

apr_status_t tpo_jws_parse(apr_pool_t *p, const char *compact, tpo_jws **out, const char **err)
{
    const char *d1, *d2, *end, *s;
    apr_size_t len, hlen, plen;
    unsigned char *hdr, *payload, *sig;
    json_t *header, *crit;
    json_error_t jerr;
    tpo_jws *jws;
    int dots = 0;

    *out = NULL;
    *err = NULL;
    if (!compact) {
        *err = "no JWS";
        return APR_EINVAL;
    }
    len = strnlen(compact, TPO_JOSE_MAX_COMPACT + 1);
    if (len > TPO_JOSE_MAX_COMPACT) {
        *err = "JWS too large";
        return APR_EINVAL;
    }
    end = compact + len;
    d1 = d2 = NULL;
    for (s = compact; s < end; s++) {
        if (*s == '.') {
            dots++;
            if (dots == 1) {
                d1 = s;
            }
            else if (dots == 2) {
                d2 = s;
            }
        }
    }
    if (dots == 4) {
        *err = "JWE (encrypted token) not supported";
        return APR_EINVAL;
    }
    if (dots != 2) {
        *err = "not a compact JWS (expected three parts)";
        return APR_EINVAL;
    }
    if (d1 == compact) {
        *err = "JWS header is empty";
        return APR_EINVAL;
    }
    if ((apr_size_t)(d1 - compact) > (JWS_MAX_HEADER / 3 + 1) * 4) {
        *err = "JWS header too large";
        return APR_EINVAL;
    }
    hdr = tpo_b64url_decode(p, compact, (apr_size_t)(d1 - compact), &hlen);
    if (!hdr) {
        *err = "JWS header is not base64url";
        return APR_EINVAL;
    }
    payload = tpo_b64url_decode(p, d1 + 1, (apr_size_t)(d2 - d1 - 1), &plen);
    if (!payload) {
        *err = "JWS payload is not base64url";
        return APR_EINVAL;
    }
    jws = apr_pcalloc(p, sizeof(*jws));
    sig = tpo_b64url_decode(p, d2 + 1, (apr_size_t)(end - d2 - 1), &jws->sig_len);
    if (!sig) {
        *err = "JWS signature is not base64url";
        return APR_EINVAL;
    }

    header = tpo_json_loadb((const char *)hdr, hlen, JSON_REJECT_DUPLICATES, &jerr);
    if (!header) {
        *err = "JWS header is not valid JSON";
        return APR_EINVAL;
    }
    tpo_jose_pool_own_json(p, header);
    if (!json_is_object(header)) {
        *err = "JWS header is not a JSON object";
        return APR_EINVAL;
    }
    if (!tpo_jose_json_opt_string(header, "alg", &jws->alg) || !jws->alg || !*jws->alg) {
        *err = "JWS header has no valid \"alg\"";
        return APR_EINVAL;
    }
    if (!tpo_jose_json_opt_string(header, "kid", &jws->kid)) {
        *err = "JWS header \"kid\" is not a string";
        return APR_EINVAL;
    }
    if (!tpo_jose_json_opt_string(header, "typ", &jws->typ)) {
        *err = "JWS header \"typ\" is not a string";
        return APR_EINVAL;
    }
    crit = json_object_get(header, "crit");
    if (crit) {
        /* we understand no extension, so any "crit" is fatal (RFC 7515 4.1.11) */
        *err = "JWS header has \"crit\" extensions (not supported)";
        return APR_EINVAL;
    }
    if (json_object_get(header, "enc")) {
        *err = "JWE (encrypted token) not supported";
        return APR_EINVAL;
    }
    jws->header = header;
    jws->payload = (const char *)payload;
    jws->payload_len = plen;
    jws->signing_input = apr_pstrmemdup(p, compact, (apr_size_t)(d2 - compact));
    jws->signing_input_len = (apr_size_t)(d2 - compact);
    jws->sig = sig;
    *out = jws;
    return APR_SUCCESS;
}

json_t *tpo_jws_payload_json(apr_pool_t *p, const tpo_jws *jws, const char **err)
{
    json_t *j;
    json_error_t jerr;

    *err = NULL;
    if (!jws || !jws->payload || jws->payload_len == 0) {
        *err = "JWS payload is empty";
        return NULL;
    }
    j = tpo_json_loadb(jws->payload, jws->payload_len, JSON_REJECT_DUPLICATES, &jerr);
    if (!j) {
        *err = "JWS payload is not valid JSON";
        return NULL;
    }
    if (!json_is_object(j)) {
        json_decref(j);
        *err = "JWS payload is not a JSON object";
        return NULL;
    }
    tpo_jose_pool_own_json(p, j);
    return j;
}

/* ------------------------------------------------------- signature math */

static int hmac_compute(const alg_info *ai, const unsigned char *key, apr_size_t keylen,
                        const void *data, apr_size_t datalen, unsigned char *out)
{
    size_t outlen = 0;

    if (!key || keylen == 0) {
        return 0;
    }
    if (!EVP_Q_mac(NULL, "HMAC", NULL, ai->md, NULL, key, keylen, data, datalen, out,
                   EVP_MAX_MD_SIZE, &outlen)) {
        return 0;
    }
    return outlen == ai->hlen;
}

/* Set up md ctx for RSA (PKCS#1 or PSS), EC or EdDSA; sign or verify. */
static int digest_init(EVP_MD_CTX *mctx, const alg_info *ai, EVP_PKEY *pkey, int sign)
{
    EVP_PKEY_CTX *pctx = NULL;
    const char *md = ai->fam == FAM_EDDSA ? NULL : ai->md;
    int ok;

    ok = sign ? EVP_DigestSignInit_ex(mctx, &pctx, md, NULL, NULL, pkey, NULL)
              : EVP_DigestVerifyInit_ex(mctx, &pctx, md, NULL, NULL, pkey, NULL);
    if (ok != 1) {
        return 0;
    }
    if (ai->fam == FAM_RSA_PKCS1) {
        return EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PADDING) > 0;
    }
    if (ai->fam == FAM_RSA_PSS) {
        /* RFC 7518 3.5: MGF1 with the same hash, salt as long as the hash */
        return EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) > 0 &&
               EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST) > 0 &&
               EVP_PKEY_CTX_set_rsa_mgf1_md_name(pctx, ai->md, NULL) > 0;
    }
    return 1;
}

/* R||S (fixed length) to a DER ECDSA-Sig-Value. */
static unsigned char *ec_raw_to_der(apr_pool_t *p, const unsigned char *raw, apr_size_t coord,
                                    apr_size_t *derlen)
{
    ECDSA_SIG *es = ECDSA_SIG_new();
    BIGNUM *r = BN_bin2bn(raw, (int)coord, NULL);
    BIGNUM *s = BN_bin2bn(raw + coord, (int)coord, NULL);
    unsigned char *der = NULL, *tmp = NULL;
    int n;

    if (!es || !r || !s || ECDSA_SIG_set0(es, r, s) != 1) {
        BN_free(r);
        BN_free(s);
        ECDSA_SIG_free(es);
        return NULL;
    }
    n = i2d_ECDSA_SIG(es, &tmp);
    if (n > 0) {
        der = apr_pmemdup(p, tmp, (apr_size_t)n);
        *derlen = (apr_size_t)n;
    }
    OPENSSL_free(tmp);
    ECDSA_SIG_free(es);
    return der;
}

/* DER ECDSA-Sig-Value to R||S of 2*coord bytes. */
static unsigned char *ec_der_to_raw(apr_pool_t *p, const unsigned char *der, apr_size_t derlen,
                                    apr_size_t coord)
{
    const unsigned char *q = der;
    ECDSA_SIG *es = d2i_ECDSA_SIG(NULL, &q, (long)derlen);
    const BIGNUM *r, *s;
    unsigned char *raw = NULL;

    if (!es) {
        return NULL;
    }
    ECDSA_SIG_get0(es, &r, &s);
    raw = apr_palloc(p, 2 * coord);
    if (BN_bn2binpad(r, raw, (int)coord) != (int)coord ||
        BN_bn2binpad(s, raw + coord, (int)coord) != (int)coord) {
        raw = NULL;
    }
    ECDSA_SIG_free(es);
    return raw;
}

/* 1 when jwk may be used for ai at all (type, curve, own alg). */
static int jwk_fits(const tpo_jwk *k, const alg_info *ai)
{
    if (!k || !k->kty) {
        return 0;
    }
    if (k->alg && strcmp(k->alg, ai->name) != 0) {
        return 0;
    }
    switch (ai->fam) {
    case FAM_RSA_PKCS1:
    case FAM_RSA_PSS:
        return strcmp(k->kty, "RSA") == 0 && k->pkey && EVP_PKEY_is_a(k->pkey, "RSA");
    case FAM_EC:
        return strcmp(k->kty, "EC") == 0 && k->crv && strcmp(k->crv, ai->crv) == 0 && k->pkey &&
               EVP_PKEY_is_a(k->pkey, "EC");
    case FAM_EDDSA:
        return strcmp(k->kty, "OKP") == 0 && k->crv && strcmp(k->crv, "Ed25519") == 0 && k->pkey &&
               EVP_PKEY_is_a(k->pkey, "ED25519");
    case FAM_HMAC:
        /* never a public key: that is the alg confusion attack */
        return strcmp(k->kty, "oct") == 0 && !k->pkey && k->secret && k->secret_len > 0;
    }
    return 0;
}

/* 1 valid, 0 invalid. */
static int verify_with(apr_pool_t *p, const tpo_jws *jws, const alg_info *ai, const tpo_jwk *k)
{
    EVP_MD_CTX *mctx;
    const unsigned char *sig = jws->sig;
    apr_size_t siglen = jws->sig_len;
    int ok = 0;

    if (ai->fam == FAM_HMAC) {
        unsigned char mac[EVP_MAX_MD_SIZE];
        if (siglen != ai->hlen) {
            return 0;
        }
        ok = hmac_compute(ai, k->secret, k->secret_len, jws->signing_input, jws->signing_input_len,
                          mac) &&
             CRYPTO_memcmp(mac, sig, ai->hlen) == 0;
        OPENSSL_cleanse(mac, sizeof(mac));
        return ok;
    }
    if (ai->fam == FAM_EC) {
        if (siglen != 2 * ai->coord) {
            return 0;
        }
        sig = ec_raw_to_der(p, jws->sig, ai->coord, &siglen);
        if (!sig) {
            return 0;
        }
    }
    else if (ai->fam == FAM_EDDSA) {
        if (siglen != 64) {
            return 0;
        }
    }
    else if (siglen != (apr_size_t)EVP_PKEY_get_size(k->pkey)) {
        return 0; /* RSA: exactly the modulus length */
    }

    if (ai->fam == FAM_RSA_PKCS1 && k->rs256_verify && !strcmp(ai->md, "SHA256")) {
        /* the key's RS256 context, set up with the set: hash, then check */
        unsigned char dg[EVP_MAX_MD_SIZE];
        unsigned int dlen = 0;
        EVP_PKEY_CTX *c;

        if (EVP_Digest(jws->signing_input, jws->signing_input_len, dg, &dlen, tpo_evp_sha256(),
                       NULL) == 1 &&
            (c = EVP_PKEY_CTX_dup(k->rs256_verify)) != NULL) {
            ok = EVP_PKEY_verify(c, sig, siglen, dg, dlen) == 1;
            EVP_PKEY_CTX_free(c);
            ERR_clear_error();
            return ok;
        }
        ERR_clear_error();
    }
    mctx = EVP_MD_CTX_new();
    if (mctx && digest_init(mctx, ai, k->pkey, 0)) {
        ok = EVP_DigestVerify(mctx, sig, siglen, (const unsigned char *)jws->signing_input,
                              jws->signing_input_len) == 1;
    }
    EVP_MD_CTX_free(mctx);
    ERR_clear_error();
    return ok;
}

static int alg_allowed(const char *alg, const char *const *allowed)
{
    if (!allowed) {
        return 0;
    }
    for (; *allowed; allowed++) {
        if (strcmp(*allowed, alg) == 0) {
            return 1;
        }
    }
    return 0;
}

apr_status_t tpo_jws_verify(apr_pool_t *p, const tpo_jws *jws, const tpo_jwks *jwks,
                            const tpo_jwk *hs_key, const char *const *allowed_algs,
                            const char **err)
{
    const alg_info *ai;
    const tpo_jwk *cands[JWKS_MAX_KEYS + 1];
    int ncands = 0, nfit = 0, i;
    const tpo_jwk *sole_kidless = NULL;

    *err = NULL;
    if (!jws || !jws->alg || !jws->sig) {
        *err = "no JWS";
        return APR_EINVAL;
    }
    if (strcasecmp(jws->alg, "none") == 0) {
        *err = "alg \"none\" is never accepted";
        return APR_EINVAL;
    }
    if (!alg_allowed(jws->alg, allowed_algs)) {
        *err = "alg is not in the allowed list";
        return APR_EINVAL;
    }
    ai = tpo_jose_alg_lookup(jws->alg);
    if (!ai) {
        *err = "alg is not supported";
        return APR_EINVAL;
    }

    /* candidates from the set: type-compatible keys, narrowed by kid */
    if (jwks && jwks->keys) {
        for (i = 0; i < jwks->keys->nelts && ncands < JWKS_MAX_KEYS; i++) {
            const tpo_jwk *k = APR_ARRAY_IDX(jwks->keys, i, const tpo_jwk *);
            /* a JWK Set is public: a symmetric ("oct") key published there
             * is known to everybody and proves nothing. HS* is verified with
             * the client secret (hs_key) only. */
            if (!jwk_fits(k, ai) || ai->fam == FAM_HMAC || strcmp(k->kty, "oct") == 0) {
                continue;
            }
            nfit++;
            if (!k->kid) {
                sole_kidless = k;
            }
            if (!jws->kid || (k->kid && strcmp(k->kid, jws->kid) == 0)) {
                cands[ncands++] = k;
            }
        }
        /* token names a kid nobody has: a lone kid-less key may still be it */
        if (jws->kid && ncands == 0 && nfit == 1 && sole_kidless) {
            cands[ncands++] = sole_kidless;
        }
    }
    /* the client secret is always a candidate for HS*, whatever the kid */
    if (ai->fam == FAM_HMAC && hs_key && jwk_fits(hs_key, ai)) {
        cands[ncands++] = hs_key;
    }
    if (ncands == 0) {
        *err = jws->kid ? "no key in the JWK Set matches the token's kid and alg"
                        : "no key in the JWK Set fits the token's alg";
        return APR_ENOENT;
    }
    for (i = 0; i < ncands; i++) {
        if (verify_with(p, jws, ai, cands[i])) {
            return APR_SUCCESS;
        }
    }
    *err = "signature verification failed";
    return APR_EINVAL;
}

/* -------------------------------------------------------------- signing */

/* The compact JWS of header (a JSON object naming its alg) and payload,
 * signed with priv (or secret for HS*). */
static char *sign_compact(apr_pool_t *p, const alg_info *ai, json_t *hdr, const char *payload_json,
                          EVP_PKEY *priv, const unsigned char *secret, apr_size_t secret_len,
                          const char **err)
{
    char *hdr_json, *input;
    const char *h64, *p64;
    unsigned char *sig = NULL;
    apr_size_t siglen = 0;

    hdr_json = json_dumps(hdr, JSON_COMPACT | JSON_PRESERVE_ORDER);
    if (!hdr_json) {
        *err = "cannot build the header";
        return NULL;
    }
    h64 = tpo_b64url_encode(p, (const unsigned char *)hdr_json, strlen(hdr_json));
    free(hdr_json);
    p64 = tpo_b64url_encode(p, (const unsigned char *)payload_json, strlen(payload_json));
    input = apr_pstrcat(p, h64, ".", p64, NULL);
    if (ai->fam == FAM_HMAC) {
        unsigned char mac[EVP_MAX_MD_SIZE];
        if (!hmac_compute(ai, secret, secret_len, input, strlen(input), mac)) {
            *err = "HMAC failed (no secret?)";
            return NULL;
        }
        sig = apr_pmemdup(p, mac, ai->hlen);
        siglen = ai->hlen;
        OPENSSL_cleanse(mac, sizeof(mac));
    }
    else {
        EVP_MD_CTX *mctx;
        size_t slen = 0;
        int ok = 0;
        const char *type = ai->fam == FAM_EC ? "EC" : ai->fam == FAM_EDDSA ? "ED25519" : "RSA";

        if (!priv || !EVP_PKEY_is_a(priv, type)) {
            *err = "private key does not fit the alg";
            return NULL;
        }
        if (ai->fam == FAM_EC) {
            char group[64];
            if (EVP_PKEY_get_group_name(priv, group, sizeof(group), NULL) != 1 ||
                strcmp(group, tpo_jose_curve_lookup(ai->crv)->group) != 0) {
                *err = "private key curve does not fit the alg";
                return NULL;
            }
        }
        mctx = EVP_MD_CTX_new();
        if (mctx && digest_init(mctx, ai, priv, 1) &&
            EVP_DigestSign(mctx, NULL, &slen, (unsigned char *)input, strlen(input)) == 1) {
            sig = apr_palloc(p, slen);
            ok = EVP_DigestSign(mctx, sig, &slen, (unsigned char *)input, strlen(input)) == 1;
        }
        EVP_MD_CTX_free(mctx);
        ERR_clear_error();
        if (!ok) {
            *err = "signing failed";
            return NULL;
        }
        siglen = slen;
        if (ai->fam == FAM_EC) {
            sig = ec_der_to_raw(p, sig, siglen, ai->coord);
            siglen = 2 * ai->coord;
            if (!sig) {
                *err = "signing failed";
                return NULL;
            }
        }
    }
    return apr_pstrcat(p, input, ".", tpo_b64url_encode(p, sig, siglen), NULL);
}

char *tpo_jws_sign(apr_pool_t *p, const char *alg, const char *kid, const char *payload_json,
                   EVP_PKEY *priv, const unsigned char *secret, apr_size_t secret_len,
                   const char **err)
{
    const alg_info *ai = tpo_jose_alg_lookup(alg);
    json_t *hdr;
    char *out;

    *err = NULL;
    if (!ai) {
        *err = "unsupported alg";
        return NULL;
    }
    if (!payload_json) {
        *err = "no payload";
        return NULL;
    }
    hdr = kid ? json_pack("{s:s, s:s}", "alg", ai->name, "kid", kid)
              : json_pack("{s:s}", "alg", ai->name);
    if (!hdr) {
        *err = "cannot build the header";
        return NULL;
    }
    out = sign_compact(p, ai, hdr, payload_json, priv, secret, secret_len, err);
    json_decref(hdr);
    return out;
}

char *tpo_jws_sign_header(apr_pool_t *p, json_t *header, const char *payload_json, EVP_PKEY *priv,
                          const char **err)
{
    const alg_info *ai;

    *err = NULL;
    ai = tpo_jose_alg_lookup(json_string_value(json_object_get(header, "alg")));
    if (!ai || ai->fam == FAM_HMAC) {
        *err = "unsupported alg";
        return NULL;
    }
    if (!payload_json) {
        *err = "no payload";
        return NULL;
    }
    return sign_compact(p, ai, header, payload_json, priv, NULL, 0, err);
}
