/* SPDX-License-Identifier: Apache-2.0
 * Licensed under the Apache License, Version 2.0 (see LICENSE). */
/* DPoP proofs (RFC 9449) with an ephemeral ES256 or EdDSA key. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <apr_strings.h>
#include <jansson.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include "tpo_b64.h"
#include "tpo_dpop.h"
#include "tpo_jose.h"
#include "tpo_json.h"
#include "tpo_pkce.h"
#include "tpo_provider.h" /* tpo_url_is_http */

#define DPOP_KEY_TEXT_MAX 1024 /* an exported P-256 or Ed25519 key is < 200 characters */

static apr_status_t pkey_cleanup(void *data)
{
    EVP_PKEY_free(data);
    return APR_SUCCESS;
}

/* Is word one of the space-separated words of list? */
static int listed(const char *list, const char *word)
{
    apr_size_t n = strlen(word);
    const char *c = list;

    while (*c) {
        const char *e;
        while (*c == ' ') {
            c++;
        }
        e = c;
        while (*e && *e != ' ') {
            e++;
        }
        if ((apr_size_t)(e - c) == n && strncmp(c, word, n) == 0) {
            return 1;
        }
        c = e;
    }
    return 0;
}

const char *tpo_dpop_alg_choose(const char *supported)
{
    if (!supported || listed(supported, "ES256")) {
        return "ES256";
    }
    if (listed(supported, "EdDSA") || listed(supported, "Ed25519")) {
        return "EdDSA";
    }
    return NULL;
}

char *tpo_dpop_jwk_thumbprint(apr_pool_t *p, const char *jwk_json)
{
    json_error_t jerr;
    json_t *j = jwk_json ? json_loads(jwk_json, JSON_REJECT_DUPLICATES, &jerr) : NULL, *c = NULL;
    const char *kty, *crv, *x, *y;
    char *canon = NULL, *out = NULL;
    unsigned char digest[32];
    unsigned int dlen = 0;

    kty = json_string_value(json_object_get(j, "kty"));
    crv = json_string_value(json_object_get(j, "crv"));
    x = json_string_value(json_object_get(j, "x"));
    y = json_string_value(json_object_get(j, "y"));
    if (kty && crv && x && !strcmp(kty, "EC") && y) {
        c = json_pack("{s:s, s:s, s:s, s:s}", "crv", crv, "kty", kty, "x", x, "y", y);
    }
    else if (kty && crv && x && !strcmp(kty, "OKP")) {
        c = json_pack("{s:s, s:s, s:s}", "crv", crv, "kty", kty, "x", x);
    }
    canon = c ? json_dumps(c, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    json_decref(c);
    json_decref(j);
    if (canon && EVP_Digest(canon, strlen(canon), digest, &dlen, EVP_sha256(), NULL) == 1) {
        out = tpo_b64url_encode(p, digest, dlen);
    }
    free(canon);
    return out;
}

/* The public JWK (RFC 7638 member order) and its thumbprint of k->pkey. */
static int describe(apr_pool_t *p, tpo_dpop_key *k)
{
    const char *jwk = NULL;

    if (strcmp(k->alg, "ES256") == 0) {
        unsigned char x[32], y[32];
        BIGNUM *bx = NULL, *by = NULL;
        int ok = EVP_PKEY_get_bn_param(k->pkey, OSSL_PKEY_PARAM_EC_PUB_X, &bx) == 1 &&
                 EVP_PKEY_get_bn_param(k->pkey, OSSL_PKEY_PARAM_EC_PUB_Y, &by) == 1 &&
                 BN_bn2binpad(bx, x, sizeof(x)) == (int)sizeof(x) &&
                 BN_bn2binpad(by, y, sizeof(y)) == (int)sizeof(y);
        BN_free(bx);
        BN_free(by);
        if (!ok) {
            return 0;
        }
        jwk = apr_psprintf(p, "{\"crv\":\"P-256\",\"kty\":\"EC\",\"x\":\"%s\",\"y\":\"%s\"}",
                           tpo_b64url_encode(p, x, sizeof(x)), tpo_b64url_encode(p, y, sizeof(y)));
    }
    else {
        unsigned char x[32];
        size_t xlen = sizeof(x);
        if (EVP_PKEY_get_raw_public_key(k->pkey, x, &xlen) != 1 || xlen != sizeof(x)) {
            return 0;
        }
        jwk = apr_psprintf(p, "{\"crv\":\"Ed25519\",\"kty\":\"OKP\",\"x\":\"%s\"}",
                           tpo_b64url_encode(p, x, sizeof(x)));
    }
    k->jwk = jwk;
    k->jkt = tpo_dpop_jwk_thumbprint(p, jwk);
    return k->jkt != NULL;
}

/* Does pkey fit alg (P-256 for ES256, Ed25519 for EdDSA)? */
static int fits(EVP_PKEY *pkey, const char *alg)
{
    if (strcmp(alg, "ES256") == 0) {
        char group[32];
        return EVP_PKEY_is_a(pkey, "EC") &&
               EVP_PKEY_get_group_name(pkey, group, sizeof(group), NULL) == 1 &&
               strcmp(group, "prime256v1") == 0;
    }
    return strcmp(alg, "EdDSA") == 0 && EVP_PKEY_is_a(pkey, "ED25519");
}

static apr_status_t wrap(apr_pool_t *p, const char *alg, EVP_PKEY *pkey, tpo_dpop_key **out,
                         const char **err)
{
    tpo_dpop_key *k = apr_pcalloc(p, sizeof(*k));

    apr_pool_cleanup_register(p, pkey, pkey_cleanup, apr_pool_cleanup_null);
    k->alg = strcmp(alg, "ES256") == 0 ? "ES256" : "EdDSA";
    k->pkey = pkey;
    if (!fits(pkey, k->alg) || !describe(p, k)) {
        *err = "the key does not fit its algorithm";
        return APR_EINVAL;
    }
    *out = k;
    return APR_SUCCESS;
}

apr_status_t tpo_dpop_key_generate(apr_pool_t *p, const char *alg, tpo_dpop_key **out,
                                   const char **err)
{
    EVP_PKEY *pkey = NULL;

    *out = NULL;
    *err = NULL;
    if (alg && strcmp(alg, "ES256") == 0) {
        pkey = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    }
    else if (alg && strcmp(alg, "EdDSA") == 0) {
        pkey = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
    }
    else {
        *err = "unsupported DPoP algorithm";
        return APR_EINVAL;
    }
    if (!pkey) {
        ERR_clear_error();
        *err = "key generation failed";
        return APR_EGENERAL;
    }
    return wrap(p, alg, pkey, out, err);
}

char *tpo_dpop_key_export(apr_pool_t *p, const tpo_dpop_key *k)
{
    unsigned char *der = NULL;
    int n = i2d_PrivateKey(k->pkey, &der);
    char *text;

    if (n <= 0) {
        ERR_clear_error();
        return NULL;
    }
    text = apr_pstrcat(p, k->alg, ":", tpo_b64url_encode(p, der, (apr_size_t)n), NULL);
    OPENSSL_clear_free(der, (size_t)n);
    return text;
}

apr_status_t tpo_dpop_key_import(apr_pool_t *p, const char *text, tpo_dpop_key **out,
                                 const char **err)
{
    const char *colon;
    const unsigned char *der, *c;
    apr_size_t dlen;
    EVP_PKEY *pkey;
    char *alg;

    *out = NULL;
    *err = "malformed DPoP key";
    if (!text || strlen(text) > DPOP_KEY_TEXT_MAX || !(colon = strchr(text, ':'))) {
        return APR_EINVAL;
    }
    alg = apr_pstrmemdup(p, text, (apr_size_t)(colon - text));
    if (strcmp(alg, "ES256") != 0 && strcmp(alg, "EdDSA") != 0) {
        return APR_EINVAL;
    }
    der = tpo_b64url_decode(p, colon + 1, strlen(colon + 1), &dlen);
    if (!der || dlen == 0 || dlen > 512) {
        return APR_EINVAL;
    }
    c = der;
    pkey = d2i_AutoPrivateKey(NULL, &c, (long)dlen);
    OPENSSL_cleanse((void *)der, dlen);
    if (!pkey) {
        ERR_clear_error();
        return APR_EINVAL;
    }
    if (c != der + dlen) {
        EVP_PKEY_free(pkey);
        return APR_EINVAL;
    }
    *err = NULL;
    return wrap(p, alg, pkey, out, err);
}

char *tpo_dpop_ath(apr_pool_t *p, const char *access_token)
{
    unsigned char digest[32];
    unsigned int dlen = 0;

    if (EVP_Digest(access_token, strlen(access_token), digest, &dlen, EVP_sha256(), NULL) != 1) {
        return NULL;
    }
    return tpo_b64url_encode(p, digest, dlen);
}

char *tpo_dpop_htu(apr_pool_t *p, const char *url)
{
    if (!url || !tpo_url_is_http(url)) {
        return NULL;
    }
    return apr_pstrmemdup(p, url, strcspn(url, "?#"));
}

char *tpo_dpop_proof(apr_pool_t *p, const tpo_dpop_key *k, const char *htm, const char *htu,
                     const char *access_token, const char *nonce, apr_time_t now, const char **err)
{
    json_t *hdr = NULL, *jwk = NULL, *claims = NULL;
    json_error_t jerr;
    char *jti = NULL, *payload = NULL, *out = NULL;
    const char *u = tpo_dpop_htu(p, htu);

    *err = NULL;
    if (!k || !htm || !*htm || !u) {
        *err = "no key, method or http(s) URL for the DPoP proof";
        return NULL;
    }
    if (nonce && !tpo_dpop_nonce_ok(nonce)) {
        *err = "unusable DPoP nonce";
        return NULL;
    }
    if (tpo_random_token(p, 16, &jti) != APR_SUCCESS) {
        *err = "no randomness for the jti";
        return NULL;
    }
    jwk = json_loads(k->jwk, 0, &jerr);
    hdr = jwk ? json_pack("{s:s, s:s, s:O}", "typ", "dpop+jwt", "alg", k->alg, "jwk", jwk) : NULL;
    claims = json_pack("{s:s, s:s, s:s, s:I}", "jti", jti, "htm", htm, "htu", u, "iat",
                       (json_int_t)apr_time_sec(now));
    if (!hdr || !claims) {
        *err = "cannot build the DPoP proof";
        goto done;
    }
    if (access_token) {
        const char *ath = tpo_dpop_ath(p, access_token);
        if (!ath || json_object_set_new(claims, "ath", json_string(ath)) != 0) {
            *err = "cannot build the DPoP proof";
            goto done;
        }
    }
    if (nonce && json_object_set_new(claims, "nonce", json_string(nonce)) != 0) {
        *err = "cannot build the DPoP proof";
        goto done;
    }
    payload = json_dumps(claims, JSON_COMPACT | JSON_PRESERVE_ORDER);
    if (!payload) {
        *err = "cannot build the DPoP proof";
        goto done;
    }
    out = tpo_jws_sign_header(p, hdr, payload, k->pkey, err);
done:
    free(payload);
    json_decref(jwk);
    json_decref(hdr);
    json_decref(claims);
    return out;
}

int tpo_dpop_nonce_ok(const char *v)
{
    apr_size_t n = 0;

    if (!v || !*v) {
        return 0;
    }
    for (; *v; v++, n++) {
        unsigned char c = (unsigned char)*v;
        if (n >= TPO_DPOP_NONCE_MAX || c < 0x21 || c > 0x7e || c == 0x22 || c == 0x5c) {
            return 0;
        }
    }
    return 1;
}

/* ------------------------------------------------ WWW-Authenticate (RFC 9110 11.6.1) */

static int is_tchar(unsigned char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

static const char *skip_ows(const char *c, const char *e)
{
    while (c < e && (*c == ' ' || *c == '\t')) {
        c++;
    }
    return c;
}

/* Reads challenges: a scheme (a token not followed by '='), then
 * comma-separated auth-params (token = token / quoted-string) or a token68.
 * Sets *hit when a DPoP challenge has error=use_dpop_nonce. 0 when the text
 * is malformed. */
static int scan_challenges(const char *c, const char *e, int *hit)
{
    int in_dpop = 0;
    static const char want[] = "use_dpop_nonce";

    *hit = 0;
    for (;;) {
        const char *t0, *t1, *v0, *v1;
        int quoted = 0;

        c = skip_ows(c, e);
        while (c < e && *c == ',') {
            c = skip_ows(c + 1, e);
        }
        if (c >= e) {
            return 1;
        }
        t0 = c;
        while (c < e && is_tchar((unsigned char)*c)) {
            c++;
        }
        t1 = c;
        if (t1 == t0) {
            return 0;
        }
        c = skip_ows(c, e);
        if (c < e && *c == '=') {
            /* an auth-param of the current challenge (or a token68's padding) */
            c = skip_ows(c + 1, e);
            if (c < e && *c == '"') {
                quoted = 1;
                v0 = ++c;
                while (c < e && *c != '"') {
                    if (*c == '\\') {
                        c++;
                    }
                    c++;
                }
                if (c >= e) {
                    return 0;
                }
                v1 = c++;
            }
            else {
                v0 = c;
                while (c < e && is_tchar((unsigned char)*c)) {
                    c++;
                }
                v1 = c;
            }
            if (in_dpop && t1 - t0 == 5 && strncasecmp(t0, "error", 5) == 0 &&
                (apr_size_t)(v1 - v0) == sizeof(want) - 1 &&
                memcmp(v0, want, sizeof(want) - 1) == 0 && (quoted || v1 > v0)) {
                *hit = 1;
            }
            c = skip_ows(c, e);
            if (c < e && *c != ',') {
                return 0;
            }
            continue;
        }
        /* a new challenge: its scheme */
        in_dpop = t1 - t0 == 4 && strncasecmp(t0, "DPoP", 4) == 0;
        if (c < e && *c != ',') {
            /* the first auth-param follows the scheme after a space, or a token68 */
            const char *save = c;
            while (c < e && (is_tchar((unsigned char)*c) || *c == '/')) {
                c++;
            }
            {
                const char *d = skip_ows(c, e), *nx = d < e ? skip_ows(d + 1, e) : e;
                if (c > save && d < e && *d == '=' && nx < e && *nx != '=' && *nx != ',') {
                    c = save; /* name=value: read as an auth-param */
                    continue;
                }
            }
            /* token68: letters, digits, -._~+/ and trailing '=' */
            while (c < e && *c == '=') {
                c++;
            }
            c = skip_ows(c, e);
            if (c < e && *c != ',') {
                return 0;
            }
        }
    }
}

int tpo_dpop_www_auth_wants_nonce(const char *www_authenticate)
{
    apr_size_t n;
    int hit = 0;

    if (!www_authenticate) {
        return 0;
    }
    n = strnlen(www_authenticate, TPO_DPOP_WWW_AUTH_MAX + 1);
    if (n > TPO_DPOP_WWW_AUTH_MAX) {
        return 0;
    }
    return scan_challenges(www_authenticate, www_authenticate + n, &hit) && hit;
}
