/* SPDX-License-Identifier: Apache-2.0
 * Licensed under the Apache License, Version 2.0 (see LICENSE). */
/* Logout token validation (OpenID Connect Back-Channel Logout 1.0, 2.6). */
#include <string.h>
#include <apr_strings.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include "tpo_jwt_claim.h"
#include "tpo_logout_token.h"
#include "tpo_b64.h"

#define DETAIL_MAX_VALUE 64

const char *tpo_lt_result_name(tpo_lt_result r)
{
    static const char *const names[] = {"ok",     "malformed", "alg",     "nokey", "signature",
                                        "iss",    "aud",       "iat",     "exp",   "jti",
                                        "events", "nonce",     "sub/sid", "replay"};

    return (unsigned)r < sizeof(names) / sizeof(names[0]) ? names[r] : "unknown";
}


#define FAIL(code, ...)                                                                            \
    do {                                                                                           \
        *detail = apr_psprintf(p, __VA_ARGS__);                                                    \
        return (code);                                                                             \
    } while (0)

static int aud_has(json_t *aud, const char *client_id)
{
    size_t i;
    json_t *v;

    if (json_is_string(aud)) {
        return strcmp(json_string_value(aud), client_id) == 0 &&
               strlen(json_string_value(aud)) == json_string_length(aud);
    }
    if (!json_is_array(aud)) {
        return 0;
    }
    json_array_foreach(aud, i, v)
    {
        if (json_is_string(v) && strcmp(json_string_value(v), client_id) == 0 &&
            strlen(json_string_value(v)) == json_string_length(v)) {
            return 1;
        }
    }
    return 0;
}

static tpo_lt_result check_claims(apr_pool_t *p, json_t *c, const tpo_logout_expect *e,
                                  tpo_logout_claims *out, const char **detail)
{
    const char *iss, *s;
    json_t *events, *ev;
    double iat, exp = 0;
    double now = (double)apr_time_sec(e->now);
    double skew = e->skew_sec > 0 ? (double)e->skew_sec : 0.0;
    double until;
    int rc, has_exp;

    rc = tpo_jwt_claim_string(c, "iss", &iss);
    if (rc <= 0) {
        FAIL(TPO_LT_ISS, "iss is missing or not a string");
    }
    if (strcmp(iss, e->issuer) != 0) {
        FAIL(TPO_LT_ISS, "iss %s does not match the expected issuer %s",
             tpo_jwt_quote(p, DETAIL_MAX_VALUE, iss),
             tpo_jwt_quote(p, DETAIL_MAX_VALUE, e->issuer));
    }
    if (!json_object_get(c, "aud")) {
        FAIL(TPO_LT_AUD, "aud is missing");
    }
    if (!aud_has(json_object_get(c, "aud"), e->client_id)) {
        FAIL(TPO_LT_AUD, "aud does not contain the client_id %s",
             tpo_jwt_quote(p, DETAIL_MAX_VALUE, e->client_id));
    }
    rc = tpo_jwt_claim_time(c, "iat", &iat);
    if (rc <= 0) {
        FAIL(TPO_LT_IAT, "iat is missing or not a number");
    }
    if (iat - skew > now) {
        FAIL(TPO_LT_IAT, "iat is %.0f seconds in the future (allowed clock skew %.0f s)", iat - now,
             skew);
    }
    if (now - iat > (double)e->max_age_sec + skew) {
        FAIL(TPO_LT_IAT, "the token was issued %.0f seconds ago, more than %d s (+ skew) ago",
             now - iat, e->max_age_sec);
    }
    has_exp = tpo_jwt_claim_time(c, "exp", &exp);
    if (has_exp < 0) {
        FAIL(TPO_LT_EXP, "exp is not a number");
    }
    if (has_exp > 0 && now - skew > exp) {
        FAIL(TPO_LT_EXP, "the token expired %.0f seconds ago (allowed clock skew %.0f s)",
             now - exp, skew);
    }
    rc = tpo_jwt_claim_string(c, "jti", &s);
    if (rc <= 0 || !*s) {
        FAIL(TPO_LT_JTI, "jti is missing, empty or not a string");
    }
    if (strlen(s) > TPO_LT_MAX_JTI) {
        FAIL(TPO_LT_JTI, "jti is longer than %d bytes", TPO_LT_MAX_JTI);
    }
    out->jti = s;
    events = json_object_get(c, "events");
    if (!json_is_object(events)) {
        FAIL(TPO_LT_EVENTS, "events is missing or not an object");
    }
    ev = json_object_get(events, TPO_BACKCHANNEL_EVENT);
    if (!json_is_object(ev)) {
        FAIL(TPO_LT_EVENTS, "events has no back-channel logout member (an object)");
    }
    if (json_object_get(c, "nonce")) {
        FAIL(TPO_LT_NONCE, "a logout token must not carry a nonce");
    }
    if (tpo_jwt_claim_string(c, "sub", &out->sub) < 0 ||
        tpo_jwt_claim_string(c, "sid", &out->sid) < 0) {
        FAIL(TPO_LT_SUBSID, "sub or sid is not a string");
    }
    if (out->sub && !*out->sub) {
        out->sub = NULL;
    }
    if (out->sid && !*out->sid) {
        out->sid = NULL;
    }
    if (!out->sub && !out->sid) {
        FAIL(TPO_LT_SUBSID, "neither sub nor sid is present");
    }
    /* the jti must be remembered as long as the token could still be accepted */
    until = iat + (double)e->max_age_sec + 2 * skew + 1;
    if (has_exp > 0 && exp + skew + 1 < until) {
        until = exp + skew + 1;
    }
    out->iat = apr_time_from_sec((apr_time_t)iat);
    out->until = apr_time_from_sec((apr_time_t)until);
    return TPO_LT_OK;
}

tpo_lt_result tpo_logout_token_validate(apr_pool_t *p, const char *token, const tpo_jwks *jwks,
                                        const tpo_logout_expect *ex, tpo_logout_claims *out,
                                        const char **detail)
{
    tpo_jws *jws = NULL;
    const char *err = NULL;
    const char *const *a;
    json_t *c;
    apr_status_t rv;
    int allowed = 0;

    memset(out, 0, sizeof(*out));
    *detail = NULL;
    if (!ex || !ex->issuer || !ex->client_id) {
        FAIL(TPO_LT_ISS, "no expected issuer or client_id is configured");
    }
    if (!token || !*token) {
        FAIL(TPO_LT_MALFORMED, "no logout token");
    }
    if (tpo_jws_parse(p, token, &jws, &err) != APR_SUCCESS) {
        FAIL(TPO_LT_MALFORMED, "the logout token is not a valid JWS: %s", err);
    }
    /* an explicit typ must say logout token (no ID token or access token here) */
    if (jws->typ && strcasecmp(jws->typ, "logout+jwt") != 0 &&
        strcasecmp(jws->typ, "application/logout+jwt") != 0 && strcasecmp(jws->typ, "JWT") != 0) {
        FAIL(TPO_LT_MALFORMED, "typ %s is not a logout token's",
             tpo_jwt_quote(p, DETAIL_MAX_VALUE, jws->typ));
    }
    for (a = ex->allowed_algs; a && *a; a++) {
        if (strcmp(*a, jws->alg) == 0) {
            allowed = 1;
            break;
        }
    }
    if (strcmp(jws->alg, "none") == 0 || !tpo_jws_alg_supported(jws->alg) || !allowed) {
        FAIL(TPO_LT_ALG, "alg %s is not allowed", tpo_jwt_quote(p, DETAIL_MAX_VALUE, jws->alg));
    }
    rv = tpo_jws_verify(p, jws, jwks, ex->hs_key, ex->allowed_algs, &err);
    if (rv == APR_ENOENT) {
        FAIL(TPO_LT_NOKEY, "no key for kid %s and alg %s: %s",
             jws->kid ? tpo_jwt_quote(p, DETAIL_MAX_VALUE, jws->kid) : "(none)", jws->alg, err);
    }
    if (rv != APR_SUCCESS) {
        FAIL(TPO_LT_SIGNATURE, "the logout token signature is not valid: %s", err);
    }
    c = tpo_jws_payload_json(p, jws, &err);
    if (!c) {
        FAIL(TPO_LT_MALFORMED, "the logout token payload is unusable: %s", err);
    }
    return check_claims(p, c, ex, out, detail);
}

/* The cache key of the one-use marker of (issuer, jti); NULL on failure. */
static const char *jti_key(apr_pool_t *p, const char *issuer, const char *jti)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    int ok;

    if (!ctx) {
        return NULL;
    }
    ok = EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) == 1 &&
         EVP_DigestUpdate(ctx, issuer, strlen(issuer) + 1) == 1 &&
         EVP_DigestUpdate(ctx, jti, strlen(jti)) == 1 && EVP_DigestFinal_ex(ctx, md, &mdlen) == 1;
    EVP_MD_CTX_free(ctx);
    return ok ? apr_pstrcat(p, "lj:", tpo_b64url_encode(p, md, mdlen), NULL) : NULL;
}

tpo_lt_result tpo_logout_token_consume(tpo_cache *c, apr_pool_t *p, const char *issuer,
                                       const tpo_logout_claims *lc, apr_status_t *rv)
{
    const char *k = jti_key(p, issuer, lc->jti);

    if (!k) {
        *rv = APR_EGENERAL;
        return TPO_LT_REPLAY;
    }
    *rv = tpo_cache_add(c, k, "1", 1, lc->until);
    if (*rv == APR_SUCCESS) {
        return TPO_LT_OK;
    }
    if (*rv == APR_EEXIST) {
        *rv = APR_SUCCESS;
    }
    return TPO_LT_REPLAY;
}

void tpo_logout_token_release(tpo_cache *c, apr_pool_t *p, const char *issuer,
                              const tpo_logout_claims *lc)
{
    const char *k = jti_key(p, issuer, lc->jti);

    if (k) {
        tpo_cache_del(c, k);
    }
}
