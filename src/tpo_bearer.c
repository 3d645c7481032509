/* SPDX-License-Identifier: Apache-2.0
 * Licensed under the Apache License, Version 2.0 (see LICENSE). */
/* Bearer tokens at a resource server (see tpo_bearer.h). */
#include <pthread.h>
#include <string.h>
#include <apr_lib.h>
#include <apr_strings.h>
#include <openssl/evp.h>
#include "tpo_jwt_claim.h"
#include "tpo_b64.h"
#include "tpo_bearer.h"

#define DETAIL_MAX_VALUE 80 /* claim values quoted in *detail, at most */
#define DESC_MAX 200        /* error_description in a challenge, at most */
#define INTROSPECTION_MAX (1024 * 1024)

const char *tpo_bearer_result_name(tpo_bearer_result r)
{
    switch (r) {
    case TPO_BT_OK:
        return "ok";
    case TPO_BT_MALFORMED:
        return "malformed";
    case TPO_BT_ALG:
        return "alg";
    case TPO_BT_NOKEY:
        return "nokey";
    case TPO_BT_SIGNATURE:
        return "signature";
    case TPO_BT_TYP:
        return "typ";
    case TPO_BT_ISS:
        return "iss";
    case TPO_BT_AUD:
        return "aud";
    case TPO_BT_EXP:
        return "exp";
    case TPO_BT_NBF:
        return "nbf";
    case TPO_BT_IAT:
        return "iat";
    case TPO_BT_INACTIVE:
        return "inactive";
    }
    return "unknown";
}

/* Character classes of the hot path, by table (a bearer token is read on
 * every request): 1 base64url (A-Z a-z 0-9 - _), 2 the other b64token
 * characters of RFC 6750 2.1 (. ~ + /). */
#define CC_B64URL 1
#define CC_B64TOKEN 2
static unsigned char char_class[256];
static pthread_once_t char_class_once = PTHREAD_ONCE_INIT;

static void char_class_init(void)
{
    const char *b64url = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    const char *s;

    for (s = b64url; *s; s++) {
        char_class[(unsigned char)*s] = CC_B64URL;
    }
    for (s = ".~+/"; *s; s++) {
        char_class[(unsigned char)*s] = CC_B64TOKEN;
    }
}

/* b64token = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"=" */
static int b64token_char(char c)
{
    return char_class[(unsigned char)c] != 0;
}

int tpo_bearer_from_header(apr_pool_t *p, const char *hdr, const char **tok)
{
    const char *s, *t;
    apr_size_t n;

    *tok = NULL;
    if (!hdr) {
        return 0;
    }
    pthread_once(&char_class_once, char_class_init);
    s = hdr;
    while (*s == ' ' || *s == '\t') {
        s++;
    }
    if (strncasecmp(s, "Bearer", 6) != 0 || (s[6] != ' ' && s[6] != '\t' && s[6] != '\0')) {
        return 0;
    }
    s += 6;
    while (*s == ' ' || *s == '\t') {
        s++;
    }
    t = s;
    while (b64token_char(*t)) {
        t++;
    }
    if (t == s) {
        return -1;
    }
    while (*t == '=') {
        t++;
    }
    n = (apr_size_t)(t - s);
    while (*t == ' ' || *t == '\t') {
        t++;
    }
    if (*t != '\0' || n > TPO_BEARER_MAX_TOKEN) {
        return -1;
    }
    *tok = apr_pstrmemdup(p, s, n);
    return 1;
}

int tpo_bearer_token_ok(const char *tok)
{
    const char *t = tok;

    if (!tok) {
        return 0;
    }
    pthread_once(&char_class_once, char_class_init);
    while (b64token_char(*t)) {
        t++;
    }
    if (t == tok) {
        return 0;
    }
    while (*t == '=') {
        t++;
    }
    return *t == '\0' && (apr_size_t)(t - tok) <= TPO_BEARER_MAX_TOKEN;
}

int tpo_bearer_looks_like_jwt(const char *tok)
{
    const unsigned char *s = (const unsigned char *)tok, *b;
    int part;

    if (!tok) {
        return 0;
    }
    pthread_once(&char_class_once, char_class_init);
    for (part = 0; part < 3; part++) {
        for (b = s; char_class[*s] == CC_B64URL; s++) {
        }
        if (part < 2) {
            if (s == b || *s != '.') {
                return 0; /* header and payload are never empty */
            }
            s++;
        }
    }
    return *s == '\0';
}


#define FAIL(code, ...)                                                                            \
    do {                                                                                           \
        *detail = apr_psprintf(p, __VA_ARGS__);                                                    \
        return (code);                                                                             \
    } while (0)


static int audience_listed(const tpo_bearer_expect *e, json_t *v)
{
    const char *const *a;

    if (!json_is_string(v) || strlen(json_string_value(v)) != json_string_length(v)) {
        return 0;
    }
    for (a = e->audiences; a && *a; a++) {
        if (strcmp(*a, json_string_value(v)) == 0) {
            return 1;
        }
    }
    return 0;
}

/* aud: a string or an array of strings holding one of the audiences.
 * required: an absent aud fails. */
static tpo_bearer_result check_aud(apr_pool_t *p, json_t *c, const tpo_bearer_expect *e,
                                   int required, const char **detail)
{
    json_t *aud = json_object_get(c, "aud"), *v;
    size_t i;

    if (!aud) {
        if (required) {
            FAIL(TPO_BT_AUD, "aud is missing");
        }
        return TPO_BT_OK;
    }
    if (json_is_string(aud)) {
        if (audience_listed(e, aud)) {
            return TPO_BT_OK;
        }
        FAIL(TPO_BT_AUD, "aud %s is not an audience of this server (TPOAuthBearerAudience)",
             tpo_jwt_quote(p, DETAIL_MAX_VALUE, json_string_value(aud)));
    }
    if (!json_is_array(aud)) {
        FAIL(TPO_BT_AUD, "aud is neither a string nor an array");
    }
    json_array_foreach(aud, i, v)
    {
        if (!json_is_string(v)) {
            FAIL(TPO_BT_AUD, "aud holds a value that is not a string");
        }
        if (audience_listed(e, v)) {
            return TPO_BT_OK;
        }
    }
    FAIL(TPO_BT_AUD, "aud holds no audience of this server (TPOAuthBearerAudience)");
}

/* exp (required when exp_required), nbf, iat with the skew. */
static tpo_bearer_result check_times(apr_pool_t *p, json_t *c, const tpo_bearer_expect *e,
                                     int exp_required, const char **detail)
{
    double now = (double)apr_time_sec(e->now);
    double skew = e->skew_sec > 0 ? (double)e->skew_sec : 0.0;
    double t;
    int rc;

    rc = tpo_jwt_claim_time(c, "exp", &t);
    if (rc == 0 && exp_required) {
        FAIL(TPO_BT_EXP, "exp is missing");
    }
    if (rc < 0) {
        FAIL(TPO_BT_EXP, "exp is not a number");
    }
    if (rc > 0 && now - skew >= t) {
        FAIL(TPO_BT_EXP, "the token expired %.0f seconds ago (allowed clock skew %.0f s)", now - t,
             skew);
    }
    rc = tpo_jwt_claim_time(c, "nbf", &t);
    if (rc < 0) {
        FAIL(TPO_BT_NBF, "nbf is not a number");
    }
    if (rc > 0 && t - skew > now) {
        FAIL(TPO_BT_NBF,
             "the token is not valid before %.0f seconds from now (allowed clock skew %.0f s)",
             t - now, skew);
    }
    rc = tpo_jwt_claim_time(c, "iat", &t);
    if (rc < 0) {
        FAIL(TPO_BT_IAT, "iat is not a number");
    }
    if (rc > 0 && t - skew > now) {
        FAIL(TPO_BT_IAT, "iat is %.0f seconds in the future (allowed clock skew %.0f s)", t - now,
             skew);
    }
    return TPO_BT_OK;
}

/* The media type in typ (RFC 7515 4.1.9: "application/" may be left out). */
static int typ_matches(const char *typ, const char *want)
{
    if (strncasecmp(typ, "application/", 12) == 0) {
        typ += 12;
    }
    if (strncasecmp(want, "application/", 12) == 0) {
        want += 12;
    }
    return strcasecmp(typ, want) == 0;
}

tpo_bearer_result tpo_bearer_jwt_validate(apr_pool_t *p, const char *token, const tpo_jwks *jwks,
                                          const tpo_bearer_expect *e, json_t **claims,
                                          const char **detail)
{
    tpo_jws *jws = NULL;
    const char *err = NULL, *iss;
    const char *const *a;
    json_t *c;
    apr_status_t rv;
    tpo_bearer_result res;
    int allowed = 0, rc;

    *claims = NULL;
    *detail = NULL;
    if (!e || !e->issuer) {
        FAIL(TPO_BT_ISS, "no expected issuer is configured");
    }
    if (!e->audiences || !e->audiences[0]) {
        FAIL(TPO_BT_AUD, "no audience is configured (TPOAuthBearerAudience)");
    }
    if (!token || tpo_jws_parse(p, token, &jws, &err) != APR_SUCCESS) {
        FAIL(TPO_BT_MALFORMED, "the token is not a valid JWS: %s", err ? err : "no token");
    }
    for (a = e->allowed_algs; a && *a; a++) {
        if (strcmp(*a, jws->alg) == 0) {
            allowed = 1;
            break;
        }
    }
    /* no shared key for access tokens: an HS* token would be checked
     * against nothing, or (the attack) against a public key's bytes */
    if (strcmp(jws->alg, "none") == 0 || !tpo_jws_alg_supported(jws->alg) || !allowed ||
        strncmp(jws->alg, "HS", 2) == 0) {
        FAIL(TPO_BT_ALG, "alg %s is not allowed for access tokens",
             tpo_jwt_quote(p, DETAIL_MAX_VALUE, jws->alg));
    }
    if (e->typ && (!jws->typ || !typ_matches(jws->typ, e->typ))) {
        FAIL(TPO_BT_TYP, "typ %s is not %s",
             jws->typ ? tpo_jwt_quote(p, DETAIL_MAX_VALUE, jws->typ) : "(none)",
             tpo_jwt_quote(p, DETAIL_MAX_VALUE, e->typ));
    }
    rv = tpo_jws_verify(p, jws, jwks, NULL, e->allowed_algs, &err);
    if (rv == APR_ENOENT) {
        FAIL(TPO_BT_NOKEY, "no key for kid %s and alg %s",
             jws->kid ? tpo_jwt_quote(p, DETAIL_MAX_VALUE, jws->kid) : "(none)", jws->alg);
    }
    if (rv != APR_SUCCESS) {
        FAIL(TPO_BT_SIGNATURE, "the signature is not valid: %s", err ? err : "bad signature");
    }
    c = tpo_jws_payload_json(p, jws, &err);
    if (!c) {
        FAIL(TPO_BT_MALFORMED, "the payload is unusable: %s", err);
    }
    rc = tpo_jwt_claim_string(c, "iss", &iss);
    if (rc == 0) {
        FAIL(TPO_BT_ISS, "iss is missing");
    }
    if (rc < 0) {
        FAIL(TPO_BT_ISS, "iss is not a string");
    }
    if (strcmp(iss, e->issuer) != 0) {
        FAIL(TPO_BT_ISS, "iss %s is not the expected issuer %s",
             tpo_jwt_quote(p, DETAIL_MAX_VALUE, iss),
             tpo_jwt_quote(p, DETAIL_MAX_VALUE, e->issuer));
    }
    if ((res = check_aud(p, c, e, 1, detail)) != TPO_BT_OK) {
        return res;
    }
    if ((res = check_times(p, c, e, 1, detail)) != TPO_BT_OK) {
        return res;
    }
    *claims = c;
    return TPO_BT_OK;
}

/* A scope token (RFC 6749 3.3): %x21 / %x23-5B / %x5D-7E */
static int scope_char(unsigned char c)
{
    return c == 0x21 || (c >= 0x23 && c <= 0x5b) || (c >= 0x5d && c <= 0x7e);
}

static int scope_word_ok(const char *s)
{
    if (!*s) {
        return 0;
    }
    for (; *s; s++) {
        if (!scope_char((unsigned char)*s)) {
            return 0;
        }
    }
    return 1;
}

const char *tpo_bearer_scope(apr_pool_t *p, json_t *claims)
{
    json_t *v = json_object_get(claims, "scope"), *e;
    const char *out = NULL;
    size_t i;

    if (!v) {
        v = json_object_get(claims, "scp");
    }
    if (json_is_string(v)) {
        return strlen(json_string_value(v)) == json_string_length(v)
                   ? apr_pstrdup(p, json_string_value(v))
                   : NULL;
    }
    if (!json_is_array(v)) {
        return NULL;
    }
    json_array_foreach(v, i, e)
    {
        const char *w = json_string_value(e);
        if (!w || strlen(w) != json_string_length(e) || !scope_word_ok(w)) {
            continue; /* not a scope token: never granted */
        }
        out = out ? apr_pstrcat(p, out, " ", w, NULL) : apr_pstrdup(p, w);
    }
    return out;
}

static int scope_has(const char *scope, const char *w, apr_size_t wl)
{
    const char *s = scope;

    while (s && *s) {
        const char *end;
        while (*s == ' ') {
            s++;
        }
        end = s;
        while (*end && *end != ' ') {
            end++;
        }
        if ((apr_size_t)(end - s) == wl && wl && memcmp(s, w, wl) == 0) {
            return 1;
        }
        s = end;
    }
    return 0;
}

const char *tpo_bearer_scope_missing(apr_pool_t *p, const char *granted, const char *required)
{
    const char *s = required, *out = NULL;

    while (s && *s) {
        const char *end;
        while (*s == ' ') {
            s++;
        }
        end = s;
        while (*end && *end != ' ') {
            end++;
        }
        if (end > s && !scope_has(granted, s, (apr_size_t)(end - s))) {
            const char *w = apr_pstrmemdup(p, s, (apr_size_t)(end - s));
            out = out ? apr_pstrcat(p, out, " ", w, NULL) : w;
        }
        s = end;
    }
    return out;
}

static apr_status_t json_cleanup(void *j)
{
    json_decref(j);
    return APR_SUCCESS;
}

tpo_bearer_result tpo_introspection_parse(apr_pool_t *p, const char *body, apr_size_t len,
                                          int http_status, const tpo_bearer_expect *e,
                                          tpo_introspection *out, const char **detail)
{
    json_t *j, *active;
    json_error_t jerr;
    const char *iss, *tt;
    double exp;
    tpo_bearer_result res;
    int rc;

    memset(out, 0, sizeof(*out));
    *detail = NULL;
    if (http_status == 400 && body && len > 0 && len <= INTROSPECTION_MAX &&
        (j = json_loadb(body, len, 0, &jerr)) != NULL) {
        /* RFC 7009 2.2.1 (which RFC 7662 2.3 refers to): this provider does
         * not introspect tokens of this kind (e.g. its JWT access tokens) */
        apr_pool_cleanup_register(p, j, json_cleanup, apr_pool_cleanup_null);
        if (json_is_object(j) && json_is_string(json_object_get(j, "error")) &&
            strcmp(json_string_value(json_object_get(j, "error")), "unsupported_token_type") == 0) {
            out->json = j;
            FAIL(TPO_BT_MALFORMED, "the provider cannot introspect this token "
                                   "(unsupported_token_type)");
        }
    }
    if (http_status != 200) {
        FAIL(TPO_BT_MALFORMED, "the introspection endpoint answered HTTP %d", http_status);
    }
    if (!body || len == 0 || len > INTROSPECTION_MAX) {
        FAIL(TPO_BT_MALFORMED, "the introspection answer is empty or too large");
    }
    j = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!j) {
        FAIL(TPO_BT_MALFORMED, "the introspection answer is not JSON");
    }
    apr_pool_cleanup_register(p, j, json_cleanup, apr_pool_cleanup_null);
    if (!json_is_object(j)) {
        FAIL(TPO_BT_MALFORMED, "the introspection answer is not a JSON object");
    }
    active = json_object_get(j, "active");
    if (!json_is_boolean(active)) {
        FAIL(TPO_BT_MALFORMED, "the introspection answer has no boolean \"active\"");
    }
    out->json = j;
    if (!json_is_true(active)) {
        FAIL(TPO_BT_INACTIVE, "the provider says the token is not active");
    }
    out->active = 1;
    rc = tpo_jwt_claim_string(j, "iss", &iss);
    if (rc < 0) {
        FAIL(TPO_BT_ISS, "iss is not a string");
    }
    if (rc > 0 && (!e || !e->issuer || strcmp(iss, e->issuer) != 0)) {
        FAIL(TPO_BT_ISS, "iss %s is not the expected issuer",
             tpo_jwt_quote(p, DETAIL_MAX_VALUE, iss));
    }
    rc = tpo_jwt_claim_string(j, "token_type", &tt);
    if (rc < 0) {
        FAIL(TPO_BT_MALFORMED, "token_type is not a string");
    }
    if (rc > 0 && strcasecmp(tt, "Bearer") != 0 && strcasecmp(tt, "access_token") != 0 &&
        strcmp(tt, "urn:ietf:params:oauth:token-type:access_token") != 0) {
        FAIL(TPO_BT_MALFORMED, "token_type %s is not an access token's",
             tpo_jwt_quote(p, DETAIL_MAX_VALUE, tt));
    }
    if (e && e->audiences && e->audiences[0] &&
        (res = check_aud(p, j, e, 0, detail)) != TPO_BT_OK) {
        return res;
    }
    if (e && (res = check_times(p, j, e, 0, detail)) != TPO_BT_OK) {
        return res;
    }
    if (tpo_jwt_claim_time(j, "exp", &exp) > 0 && exp > 0 && exp < 1e11) {
        out->exp = apr_time_from_sec((apr_time_t)exp);
    }
    out->scope = tpo_bearer_scope(p, j);
    return TPO_BT_OK;
}

/* Append s to the buffer keeping only chars allowed by keep(), others as
 * repl (0: dropped); at most max chars. */
static char *append_filtered(char *o, const char *s, int (*keep)(unsigned char), char repl,
                             apr_size_t max)
{
    apr_size_t n = 0;

    for (; *s && n < max; s++) {
        unsigned char c = (unsigned char)*s;
        if (keep(c)) {
            *o++ = (char)c;
            n++;
        }
        else if (repl) {
            *o++ = repl;
            n++;
        }
    }
    return o;
}

/* error, error_description: %x20-21 / %x23-5B / %x5D-7E */
static int desc_char(unsigned char c)
{
    return c == 0x20 || scope_char(c);
}

static int error_char(unsigned char c)
{
    return scope_char(c);
}

/* realm: anything printable, quotes and backslashes escaped */
static char *append_quoted(char *o, const char *s)
{
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') {
            *o++ = '\\';
        }
        *o++ = (c < 0x20 || c == 0x7f) ? ' ' : (char)c;
    }
    return o;
}

const char *tpo_bearer_challenge(apr_pool_t *p, const char *realm, const char *error,
                                 const char *desc, const char *scope)
{
    apr_size_t cap = 64 + (realm ? strlen(realm) * 2 : 0) + (error ? strlen(error) : 0) + DESC_MAX +
                     (scope ? strlen(scope) : 0);
    char *out = apr_palloc(p, cap), *o = out;

    memcpy(o, "Bearer realm=\"", 14);
    o += 14;
    o = append_quoted(o, realm ? realm : "");
    *o++ = '"';
    if (error) {
        memcpy(o, ", error=\"", 9);
        o += 9;
        o = append_filtered(o, error, error_char, 0, 64);
        *o++ = '"';
    }
    if (error && desc) {
        memcpy(o, ", error_description=\"", 21);
        o += 21;
        o = append_filtered(o, desc, desc_char, '?', DESC_MAX);
        *o++ = '"';
    }
    if (scope) {
        memcpy(o, ", scope=\"", 9);
        o += 9;
        o = append_filtered(o, scope, desc_char, 0, strlen(scope));
        *o++ = '"';
    }
    *o = '\0';
    return out;
}

/* SHA-256 fetched once: an implicit fetch on every EVP_DigestInit costs more
 * than hashing the token (OpenSSL 3). Kept for the life of the process. */
static EVP_MD *sha256_md;
static pthread_once_t sha256_once = PTHREAD_ONCE_INIT;

static void sha256_init(void)
{
    sha256_md = EVP_MD_fetch(NULL, "SHA256", NULL);
}

const char *tpo_bearer_key(apr_pool_t *p, const char *prefix, const char *context,
                           const char *token)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    EVP_MD_CTX *ctx;
    int ok;

    pthread_once(&sha256_once, sha256_init);
    if (!sha256_md || !(ctx = EVP_MD_CTX_new())) {
        return NULL;
    }
    ok = EVP_DigestInit_ex(ctx, sha256_md, NULL) == 1 &&
         EVP_DigestUpdate(ctx, context, strlen(context) + 1) == 1 &&
         EVP_DigestUpdate(ctx, token, strlen(token)) == 1 &&
         EVP_DigestFinal_ex(ctx, md, &mdlen) == 1;
    EVP_MD_CTX_free(ctx);
    if (!ok) {
        return NULL;
    }
    return apr_pstrcat(p, prefix, tpo_b64url_encode(p, md, mdlen), NULL);
}
