/* SPDX-License-Identifier: Apache-2.0
 * Licensed under the Apache License, Version 2.0 (see LICENSE). */
/* OpenID Connect ID token validation (OIDC Core 3.1.3.7). */
#include <string.h>
#include <apr_strings.h>
#include <openssl/crypto.h>
#include "tpo_jwt_claim.h"
#include "tpo_idtoken.h"

#define DETAIL_MAX_VALUE 80 /* claim values quoted in *detail, at most */

const char *tpo_idtoken_result_name(tpo_idtoken_result r)
{
    switch (r) {
    case TPO_IDT_OK:
        return "ok";
    case TPO_IDT_MALFORMED:
        return "malformed";
    case TPO_IDT_ALG:
        return "alg";
    case TPO_IDT_NOKEY:
        return "nokey";
    case TPO_IDT_SIGNATURE:
        return "signature";
    case TPO_IDT_ISS:
        return "iss";
    case TPO_IDT_AUD:
        return "aud";
    case TPO_IDT_AZP:
        return "azp";
    case TPO_IDT_EXP:
        return "exp";
    case TPO_IDT_IAT:
        return "iat";
    case TPO_IDT_NBF:
        return "nbf";
    case TPO_IDT_NONCE:
        return "nonce";
    case TPO_IDT_SUB:
        return "sub";
    }
    return "unknown";
}


static int str_eq(const char *a, const char *b)
{
    apr_size_t la = strlen(a), lb = strlen(b);
    return la == lb && CRYPTO_memcmp(a, b, la) == 0;
}

#define FAIL(code, ...)                                                                            \
    do {                                                                                           \
        *detail = apr_psprintf(p, __VA_ARGS__);                                                    \
        return (code);                                                                             \
    } while (0)

static tpo_idtoken_result check_claims(apr_pool_t *p, json_t *c, const tpo_idtoken_expect *e,
                                       const char **detail)
{
    const char *iss, *azp, *nonce, *sub;
    json_t *aud;
    double exp, iat, nbf;
    double now = (double)apr_time_sec(e->now);
    double skew = e->skew_sec > 0 ? (double)e->skew_sec : 0.0;
    apr_size_t naud = 0;
    int rc, found = 0;

    /* iss: exact */
    rc = tpo_jwt_claim_string(c, "iss", &iss);
    if (rc == 0) {
        FAIL(TPO_IDT_ISS, "iss is missing");
    }
    if (rc < 0) {
        FAIL(TPO_IDT_ISS, "iss is not a string");
    }
    if (strcmp(iss, e->issuer) != 0) {
        FAIL(TPO_IDT_ISS, "iss %s does not match the expected issuer %s",
             tpo_jwt_quote(p, DETAIL_MAX_VALUE, iss),
             tpo_jwt_quote(p, DETAIL_MAX_VALUE, e->issuer));
    }

    /* aud: a string or a non-empty array of strings holding client_id */
    aud = json_object_get(c, "aud");
    if (!aud) {
        FAIL(TPO_IDT_AUD, "aud is missing");
    }
    if (json_is_string(aud)) {
        naud = 1;
        found = strcmp(json_string_value(aud), e->client_id) == 0 &&
                strlen(json_string_value(aud)) == json_string_length(aud);
    }
    else if (json_is_array(aud)) {
        size_t i;
        json_t *v;
        json_array_foreach(aud, i, v)
        {
            if (!json_is_string(v)) {
                FAIL(TPO_IDT_AUD, "aud holds a value that is not a string");
            }
            if (strcmp(json_string_value(v), e->client_id) == 0 &&
                strlen(json_string_value(v)) == json_string_length(v)) {
                found = 1;
            }
        }
        naud = json_array_size(aud);
    }
    else {
        FAIL(TPO_IDT_AUD, "aud is neither a string nor an array");
    }
    if (!found) {
        FAIL(TPO_IDT_AUD, "aud does not contain the client_id %s",
             tpo_jwt_quote(p, DETAIL_MAX_VALUE, e->client_id));
    }

    /* azp: required with several audiences; when present, our client_id */
    rc = tpo_jwt_claim_string(c, "azp", &azp);
    if (rc < 0) {
        FAIL(TPO_IDT_AZP, "azp is not a string");
    }
    if (rc == 0 && naud > 1) {
        FAIL(TPO_IDT_AZP, "azp is missing although aud has %lu values", (unsigned long)naud);
    }
    if (rc > 0 && strcmp(azp, e->client_id) != 0) {
        FAIL(TPO_IDT_AZP, "azp %s is not the client_id %s", tpo_jwt_quote(p, DETAIL_MAX_VALUE, azp),
             tpo_jwt_quote(p, DETAIL_MAX_VALUE, e->client_id));
    }

    /* exp: required, now <= exp + skew */
    rc = tpo_jwt_claim_time(c, "exp", &exp);
    if (rc == 0) {
        FAIL(TPO_IDT_EXP, "exp is missing");
    }
    if (rc < 0) {
        FAIL(TPO_IDT_EXP, "exp is not a number");
    }
    if (now - skew > exp) {
        FAIL(TPO_IDT_EXP, "the token expired %.0f seconds ago (allowed clock skew %.0f s)",
             now - exp, skew);
    }

    /* iat: required, not in the future, not older than max_age */
    rc = tpo_jwt_claim_time(c, "iat", &iat);
    if (rc == 0) {
        FAIL(TPO_IDT_IAT, "iat is missing");
    }
    if (rc < 0) {
        FAIL(TPO_IDT_IAT, "iat is not a number");
    }
    if (iat - skew > now) {
        FAIL(TPO_IDT_IAT, "iat is %.0f seconds in the future (allowed clock skew %.0f s)",
             iat - now, skew);
    }
    if (e->max_age_sec > 0 && now - iat > (double)e->max_age_sec + skew) {
        FAIL(TPO_IDT_IAT,
             "the token was issued %.0f seconds ago, more than the maximum "
             "age of %d s",
             now - iat, e->max_age_sec);
    }

    /* nbf: optional */
    rc = tpo_jwt_claim_time(c, "nbf", &nbf);
    if (rc < 0) {
        FAIL(TPO_IDT_NBF, "nbf is not a number");
    }
    if (rc > 0 && nbf - skew > now) {
        FAIL(TPO_IDT_NBF,
             "the token is not valid before %.0f seconds from now "
             "(allowed clock skew %.0f s)",
             nbf - now, skew);
    }

    /* nonce: must be ours when we sent one */
    if (e->nonce) {
        rc = tpo_jwt_claim_string(c, "nonce", &nonce);
        if (rc == 0) {
            FAIL(TPO_IDT_NONCE, "nonce is missing but one was sent in the request");
        }
        if (rc < 0) {
            FAIL(TPO_IDT_NONCE, "nonce is not a string");
        }
        if (!str_eq(nonce, e->nonce)) {
            FAIL(TPO_IDT_NONCE, "nonce does not match the one sent in the request");
        }
    }

    /* sub: required, non-empty */
    rc = tpo_jwt_claim_string(c, "sub", &sub);
    if (rc == 0) {
        FAIL(TPO_IDT_SUB, "sub is missing");
    }
    if (rc < 0) {
        FAIL(TPO_IDT_SUB, "sub is not a string");
    }
    if (!*sub) {
        FAIL(TPO_IDT_SUB, "sub is empty");
    }
    return TPO_IDT_OK;
}

tpo_idtoken_result tpo_idtoken_validate(apr_pool_t *p, const char *id_token, const tpo_jwks *jwks,
                                        const tpo_idtoken_expect *expect, json_t **claims,
                                        const char **detail)
{
    tpo_jws *jws = NULL;
    const char *err = NULL;
    json_t *c;
    apr_status_t rv;
    tpo_idtoken_result res;
    const char *const *a;
    int allowed = 0;

    *claims = NULL;
    *detail = NULL;
    if (!expect || !expect->issuer) {
        FAIL(TPO_IDT_ISS, "no expected issuer is configured");
    }
    if (!expect->client_id) {
        FAIL(TPO_IDT_AUD, "no client_id is configured");
    }
    if (!id_token) {
        FAIL(TPO_IDT_MALFORMED, "no ID token");
    }

    if (tpo_jws_parse(p, id_token, &jws, &err) != APR_SUCCESS) {
        FAIL(TPO_IDT_MALFORMED, "the ID token is not a valid JWS: %s", err);
    }

    /* alg first, so that "not allowed" is told apart from a bad signature */
    for (a = expect->allowed_algs; a && *a; a++) {
        if (strcmp(*a, jws->alg) == 0) {
            allowed = 1;
            break;
        }
    }
    if (strcmp(jws->alg, "none") == 0 || !tpo_jws_alg_supported(jws->alg) || !allowed) {
        FAIL(TPO_IDT_ALG, "alg %s is not allowed for ID tokens",
             tpo_jwt_quote(p, DETAIL_MAX_VALUE, jws->alg));
    }

    rv = tpo_jws_verify(p, jws, jwks, expect->hs_key, expect->allowed_algs, &err);
    if (rv == APR_ENOENT) {
        if (jws->kid) {
            FAIL(TPO_IDT_NOKEY, "no key for kid %s and alg %s: %s",
                 tpo_jwt_quote(p, DETAIL_MAX_VALUE, jws->kid), jws->alg, err);
        }
        FAIL(TPO_IDT_NOKEY, "no key for alg %s: %s", jws->alg, err);
    }
    if (rv != APR_SUCCESS) {
        FAIL(TPO_IDT_SIGNATURE, "the ID token signature is not valid: %s", err);
    }

    c = tpo_jws_payload_json(p, jws, &err);
    if (!c) {
        FAIL(TPO_IDT_MALFORMED, "the ID token payload is unusable: %s", err);
    }
    res = check_claims(p, c, expect, detail);
    if (res == TPO_IDT_OK) {
        *claims = c;
    }
    return res;
}
