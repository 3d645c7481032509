/* SPDX-License-Identifier: Apache-2.0
 * Licensed under the Apache License, Version 2.0 (see LICENSE). */
/* Token endpoint requests and responses, with the providers' accents
 * (listed in tpo_token.h; README.md, TPOAuthTokenRequestEncoding). Token values never reach a detail string or the
 * log. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <math.h>
#include <apr_strings.h>
#include <apr_base64.h>
#include "tpo_json.h"
#include "tpo_json_load.h"
#include "tpo_token.h"
#include "tpo_url.h"
#include "tpo_log.h"
#include "tpo_defaults.h" /* TPO_TOKEN_BODY_MAX */
#include "tpo_client_assertion.h"

#define TPO_TOKEN_MAX_LIFETIME (10LL * 366 * 24 * 3600) /* "absurd" beyond this */
#define TPO_TOKEN_ERROR_MAX 128
#define TPO_TOKEN_ERROR_DESC_MAX 512

/* ------------------------------------------------------------------ request */

static void form_append(apr_pool_t *p, apr_array_header_t *parts, const char *name,
                        const char *value)
{
    APR_ARRAY_PUSH(parts, const char *) =
        apr_pstrcat(p, tpo_url_encode(p, name), "=", tpo_url_encode(p, value), NULL);
}

static int json_append(json_t *obj, const char *name, const char *value)
{
    json_t *s = json_string(value); /* NULL on invalid UTF-8 */

    if (s == NULL) {
        return -1;
    }
    return json_object_set_new(obj, name, s);
}

const char *tpo_client_auth_name(tpo_client_auth auth)
{
    switch (auth) {
    case TPO_CLIENT_AUTH_BASIC:
        return "client_secret_basic";
    case TPO_CLIENT_AUTH_POST:
        return "client_secret_post";
    case TPO_CLIENT_AUTH_NONE:
        return "none";
    case TPO_CLIENT_AUTH_SECRET_JWT:
        return "client_secret_jwt";
    case TPO_CLIENT_AUTH_PRIVATE_KEY_JWT:
        return "private_key_jwt";
    case TPO_CLIENT_AUTH_TLS:
        return "tls_client_auth";
    case TPO_CLIENT_AUTH_SELF_SIGNED_TLS:
        return "self_signed_tls_client_auth";
    }
    return "unknown";
}

static void push_pair(apr_array_header_t *a, const char *n, const char *v)
{
    APR_ARRAY_PUSH(a, const char *) = n;
    APR_ARRAY_PUSH(a, const char *) = v;
}

int tpo_client_auth_build(apr_pool_t *p, const tpo_client_cred *cred, apr_array_header_t *params,
                          const char **authorization, const char **err)
{
    const char *id = cred->client_id ? cred->client_id : "";
    const char *assertion;

    *authorization = NULL;
    *err = NULL;
    switch (cred->auth) {
    case TPO_CLIENT_AUTH_BASIC: {
        const char *c =
            apr_pstrcat(p, tpo_url_encode(p, id), ":",
                        tpo_url_encode(p, cred->client_secret ? cred->client_secret : ""), NULL);
        int clen = (int)strlen(c);
        char *b64 = apr_palloc(p, (apr_size_t)apr_base64_encode_len(clen));
        apr_base64_encode(b64, c, clen);
        *authorization = apr_pstrcat(p, "Basic ", b64, NULL);
        return 0;
    }
    case TPO_CLIENT_AUTH_POST:
        if (cred->client_id) {
            push_pair(params, "client_id", cred->client_id);
        }
        if (cred->client_secret) {
            push_pair(params, "client_secret", cred->client_secret);
        }
        return 0;
    case TPO_CLIENT_AUTH_SECRET_JWT:
    case TPO_CLIENT_AUTH_PRIVATE_KEY_JWT:
        if (cred->auth == TPO_CLIENT_AUTH_PRIVATE_KEY_JWT && !cred->key) {
            *err = "private_key_jwt: no signing key";
            return -1;
        }
        assertion = tpo_client_assertion_build(
            p, cred->client_id, cred->audience, cred->now ? cred->now : apr_time_now(),
            cred->assertion_lifetime > 0 ? cred->assertion_lifetime
                                         : TPO_DEF_CLIENT_ASSERTION_LIFETIME,
            cred->auth == TPO_CLIENT_AUTH_PRIVATE_KEY_JWT ? cred->key : NULL, cred->client_secret,
            err);
        if (!assertion) {
            return -1;
        }
        /* client_id too (RFC 7521 4.2 allows it; some servers want it) */
        if (cred->client_id) {
            push_pair(params, "client_id", cred->client_id);
        }
        push_pair(params, "client_assertion_type", TPO_CLIENT_ASSERTION_TYPE);
        push_pair(params, "client_assertion", assertion);
        return 0;
    case TPO_CLIENT_AUTH_NONE:
    case TPO_CLIENT_AUTH_TLS:
    case TPO_CLIENT_AUTH_SELF_SIGNED_TLS:
        if (cred->client_id) {
            push_pair(params, "client_id", cred->client_id);
        }
        return 0;
    }
    *err = "unknown client authentication method";
    return -1;
}

void tpo_token_request_build(apr_pool_t *p, tpo_token_encoding enc, tpo_client_auth auth,
                             const char *client_id, const char *client_secret,
                             const apr_array_header_t *params, tpo_token_request *out)
{
    tpo_client_cred cred;

    memset(&cred, 0, sizeof(cred));
    cred.auth = auth;
    cred.client_id = client_id;
    cred.client_secret = client_secret;
    tpo_token_request_build_cred(p, enc, &cred, params, out);
}

void tpo_token_request_build_cred(apr_pool_t *p, tpo_token_encoding enc,
                                  const tpo_client_cred *cred, const apr_array_header_t *params,
                                  tpo_token_request *out)
{
    const char **names, **values;
    int nparams = params ? params->nelts / 2 : 0;
    apr_array_header_t *authp = apr_array_make(p, 6, sizeof(const char *));
    const char *aerr = NULL;
    int total, i, have_id = 0;

    memset(out, 0, sizeof(*out));
    if (tpo_client_auth_build(p, cred, authp, &out->authorization, &aerr) != 0) {
        out->authorization = NULL;
        out->error = aerr;
        return;
    }

    /* collect name/value pairs: params (NULL values skipped), then the
     * client authentication's */
    total = nparams + authp->nelts / 2;
    names = apr_pcalloc(p, sizeof(char *) * (apr_size_t)(total + 1));
    values = apr_pcalloc(p, sizeof(char *) * (apr_size_t)(total + 1));
    total = 0;
    for (i = 0; i < nparams; i++) {
        const char *n = APR_ARRAY_IDX(params, 2 * i, const char *);
        const char *v = APR_ARRAY_IDX(params, 2 * i + 1, const char *);
        if (n == NULL || v == NULL) {
            continue;
        }
        names[total] = n;
        values[total++] = v;
        have_id |= !strcmp(n, "client_id");
    }
    for (i = 0; i < authp->nelts; i += 2) {
        const char *n = APR_ARRAY_IDX(authp, i, const char *);
        /* once only: a pushed authorization request names it already */
        if (have_id && !strcmp(n, "client_id")) {
            continue;
        }
        names[total] = n;
        values[total++] = APR_ARRAY_IDX(authp, i + 1, const char *);
    }

    if (enc == TPO_TOKEN_ENC_JSON) {
        json_t *obj = json_object();
        char *dump;
        if (obj == NULL) {
            out->authorization = NULL;
            out->error = "out of memory";
            return;
        }
        apr_pool_cleanup_register(p, obj, tpo_json_cleanup, apr_pool_cleanup_null);
        for (i = 0; i < total; i++) {
            if (json_append(obj, names[i], values[i]) != 0) {
                /* a value that is not valid UTF-8 (e.g. a hostile "code"):
                 * no body rather than a silently incomplete one */
                tpo_log(TPO_LOG_MARK, TPO_LOG_DEBUG,
                        TPO_APLOGNO(00074) "token request: parameter %s is not valid UTF-8",
                        names[i]);
                out->authorization = NULL;
                out->error = "a parameter cannot be encoded (not UTF-8)";
                return;
            }
        }
        dump = json_dumps(obj, JSON_COMPACT);
        if (dump == NULL) {
            out->authorization = NULL;
            out->error = "out of memory";
            return;
        }
        out->body = apr_pstrdup(p, dump);
        free(dump);
        out->content_type = "application/json";
    }
    else {
        apr_array_header_t *parts = apr_array_make(p, total > 0 ? total : 1, sizeof(char *));
        for (i = 0; i < total; i++) {
            form_append(p, parts, names[i], values[i]);
        }
        out->body = apr_array_pstrcat(p, parts, '&');
        out->content_type = "application/x-www-form-urlencoded";
    }
    out->body_len = strlen(out->body);
}

/* ----------------------------------------------------------------- parsers */

long long tpo_token_parse_duration(const char *s)
{
    long long v = 0, mult = 1;
    const char *c;
    int digits = 0;

    if (s == NULL) {
        return -1;
    }
    for (c = s; *c >= '0' && *c <= '9'; c++) {
        if (++digits > 12) {
            return -1; /* far beyond any sane lifetime; no overflow */
        }
        v = v * 10 + (*c - '0');
    }
    if (digits == 0) {
        return -1;
    }
    switch (*c) {
    case '\0':
        return v;
    case 's':
        mult = 1;
        break;
    case 'm':
        mult = 60;
        break;
    case 'h':
        mult = 3600;
        break;
    case 'd':
        mult = 86400;
        break;
    default:
        return -1;
    }
    if (c[1] != '\0') {
        return -1;
    }
    return v * mult;
}

static int parse_digits(const char **sp, int n, int *out)
{
    const char *s = *sp;
    int i, v = 0;

    for (i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') {
            return -1;
        }
        v = v * 10 + (s[i] - '0');
    }
    *sp = s + n;
    *out = v;
    return 0;
}

static int is_leap(int y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int days_in_month(int y, int m)
{
    static const int dm[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return m == 2 && is_leap(y) ? 29 : dm[m - 1];
}

/* days since 1970-01-01 for a valid date with y >= 1970 */
static long long days_since_epoch(int y, int m, int d)
{
    long long days = 0;
    int i;

    for (i = 1970; i < y; i++) {
        days += is_leap(i) ? 366 : 365;
    }
    for (i = 1; i < m; i++) {
        days += days_in_month(y, i);
    }
    return days + d - 1;
}

apr_time_t tpo_token_parse_iso8601(const char *s)
{
    int y, mo, d, h, mi, sec, oh = 0, om = 0;
    long usec = 0;
    long long t;
    int sign = 0;

    if (s == NULL) {
        return 0;
    }
    if (parse_digits(&s, 4, &y) || *s++ != '-' || parse_digits(&s, 2, &mo) || *s++ != '-' ||
        parse_digits(&s, 2, &d)) {
        return 0;
    }
    if (*s != 'T' && *s != 't' && *s != ' ') {
        return 0;
    }
    s++;
    if (parse_digits(&s, 2, &h) || *s++ != ':' || parse_digits(&s, 2, &mi) || *s++ != ':' ||
        parse_digits(&s, 2, &sec)) {
        return 0;
    }
    if (y < 1970 || mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo) || h > 23 || mi > 59 ||
        sec > 60) {
        return 0;
    }
    if (sec == 60) {
        sec = 59; /* leap second */
    }
    if (*s == '.' || *s == ',') {
        int n = 0;
        s++;
        if (*s < '0' || *s > '9') {
            return 0;
        }
        while (*s >= '0' && *s <= '9') {
            if (n < 6) {
                usec = usec * 10 + (*s - '0');
            }
            n++;
            s++;
            if (n > 9) {
                return 0;
            }
        }
        for (; n < 6; n++) {
            usec *= 10;
        }
    }
    if (*s == 'Z' || *s == 'z') {
        s++;
    }
    else if (*s == '+' || *s == '-') {
        sign = *s == '+' ? 1 : -1;
        s++;
        if (parse_digits(&s, 2, &oh)) {
            return 0;
        }
        if (*s == ':') {
            s++;
            if (parse_digits(&s, 2, &om)) {
                return 0;
            }
        }
        else if (*s >= '0' && *s <= '9') {
            if (parse_digits(&s, 2, &om)) {
                return 0;
            }
        }
        if (oh > 23 || om > 59) {
            return 0;
        }
    }
    if (*s != '\0') {
        return 0;
    }
    t = days_since_epoch(y, mo, d) * 86400LL + h * 3600LL + mi * 60LL + sec;
    /* local time = UTC + offset, so UTC = local - offset */
    t -= sign * (oh * 3600LL + om * 60LL);
    if (t <= 0) {
        return 0;
    }
    return apr_time_from_sec(t) + usec;
}

/* -------------------------------------------------------------- response */

/* IdP words for logs and pages: printable ASCII only, bounded. */
static const char *sanitize(apr_pool_t *p, const char *s, apr_size_t max)
{
    apr_size_t n = strlen(s), i;
    char *o;

    if (n > max) {
        n = max;
    }
    o = apr_pstrmemdup(p, s, n);
    for (i = 0; i < n; i++) {
        if ((unsigned char)o[i] < 0x20 || (unsigned char)o[i] > 0x7e) {
            o[i] = '?';
        }
    }
    return o;
}

/* VSCHAR (RFC 6749 Appendix A): %x20-7E, and no embedded NUL */
static int vschar_string(json_t *v)
{
    const char *s = json_string_value(v);
    apr_size_t n = json_string_length(v), i;

    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c > 0x7e) {
            return 0;
        }
    }
    return 1;
}

/* Optional string member: absent/null -> NULL; wrong type -> -1. */
static int opt_string(json_t *obj, const char *name, int vschar, const char **out)
{
    json_t *v = json_object_get(obj, name);

    *out = NULL;
    if (v == NULL || json_is_null(v)) {
        return 0;
    }
    if (!json_is_string(v) || json_string_length(v) == 0) {
        return -1;
    }
    if (vschar ? !vschar_string(v) : strlen(json_string_value(v)) != json_string_length(v)) {
        return -1;
    }
    *out = json_string_value(v);
    return 0;
}

/* Scope as a string or an array of strings; joined with spaces. */
static int scope_value(apr_pool_t *p, json_t *v, const char **out)
{
    apr_array_header_t *parts;
    json_t *e;
    size_t i;

    *out = NULL;
    if (v == NULL || json_is_null(v)) {
        return 0;
    }
    if (json_is_string(v)) {
        if (!vschar_string(v)) {
            return -1;
        }
        *out = json_string_value(v);
        return 0;
    }
    if (!json_is_array(v)) {
        return -1;
    }
    parts = apr_array_make(p, (int)json_array_size(v) + 1, sizeof(char *));
    json_array_foreach(v, i, e)
    {
        if (!json_is_string(e) || json_string_length(e) == 0 || !vschar_string(e)) {
            return -1;
        }
        APR_ARRAY_PUSH(parts, const char *) = json_string_value(e);
    }
    *out = apr_array_pstrcat(p, parts, ' ');
    return 0;
}

/* A number or a numeric string -> integer seconds. 1 ok, 0 not numeric,
 * -1 numeric but unusable. */
static int number_value(json_t *v, long long *out)
{
    if (json_is_integer(v)) {
        *out = (long long)json_integer_value(v);
        return 1;
    }
    if (json_is_real(v)) {
        double d = json_real_value(v);
        if (!isfinite(d) || d < -1e15 || d > 1e15) {
            return -1;
        }
        *out = (long long)d; /* truncation; negative values are refused later */
        return 1;
    }
    if (json_is_string(v)) {
        const char *s = json_string_value(v);
        apr_size_t n = json_string_length(v), i;
        long long r = 0;
        if (n == 0 || strspn(s, "0123456789") != n) {
            return 0;
        }
        if (n > 15) {
            return -1;
        }
        for (i = 0; i < n; i++) {
            if (s[i] < '0' || s[i] > '9') {
                return 0;
            }
            r = r * 10 + (s[i] - '0');
        }
        *out = r;
        return 1;
    }
    return 0;
}

/* Compute the absolute expiry. Returns NULL on success, or a detail. */
static const char *expiry(json_t *root, apr_time_t now, apr_time_t *out)
{
    long long now_sec = (long long)apr_time_sec(now);
    long long exp_sec = 0, n;
    json_t *v;
    int r;

    *out = 0;
    v = json_object_get(root, "expires_in");
    if (v && !json_is_null(v)) {
        r = number_value(v, &n);
        if (r < 0) {
            return "expires_in is out of range";
        }
        if (r == 1) {
            if (n > now_sec) {
                exp_sec = n; /* an absolute epoch (TropiPay) */
            }
            else {
                if (n <= 0) {
                    return "expires_in is not positive";
                }
                exp_sec = now_sec + n;
            }
        }
        else if (json_is_string(v)) {
            n = tpo_token_parse_duration(json_string_value(v));
            if (n < 0 || strlen(json_string_value(v)) != json_string_length(v)) {
                return "expires_in is neither a number nor a duration";
            }
            if (n == 0) {
                return "expires_in is not positive";
            }
            if (n > TPO_TOKEN_MAX_LIFETIME) {
                return "expires_in is more than 10 years";
            }
            exp_sec = now_sec + n;
        }
        else {
            return "expires_in has a wrong type";
        }
    }
    else if ((v = json_object_get(root, "expires_at")) != NULL && !json_is_null(v)) {
        r = number_value(v, &n);
        if (r < 0) {
            return "expires_at is out of range";
        }
        if (r == 1) {
            exp_sec = n;
        }
        else if (json_is_string(v)) {
            apr_time_t t = tpo_token_parse_iso8601(json_string_value(v));
            if (t == 0 || strlen(json_string_value(v)) != json_string_length(v)) {
                return "expires_at is not an ISO-8601 date-time";
            }
            if (t <= now) {
                return "expires_at is not in the future";
            }
            if (apr_time_sec(t - now) > TPO_TOKEN_MAX_LIFETIME) {
                return "expires_at is more than 10 years away";
            }
            *out = t;
            return NULL;
        }
        else {
            return "expires_at has a wrong type";
        }
    }
    else {
        return NULL;
    }
    if (exp_sec <= now_sec) {
        return "token lifetime is not positive";
    }
    if (exp_sec - now_sec > TPO_TOKEN_MAX_LIFETIME) {
        return "token lifetime is more than 10 years";
    }
    *out = apr_time_from_sec(exp_sec);
    return NULL;
}

static tpo_token_result http_error(apr_pool_t *p, int http_status, tpo_token_response *out,
                                   const char **detail, const char *what)
{
    out->error = apr_psprintf(p, "http_%d", http_status);
    *detail = apr_psprintf(p, "token endpoint answered HTTP %d%s", http_status, what);
    return TPO_TOKEN_ERROR_RESPONSE;
}

static tpo_token_result response_parse(apr_pool_t *p, const char *body, apr_size_t len,
                                       int http_status, apr_time_t now, tpo_token_response *out,
                                       const char **detail)
{
    json_error_t jerr;
    json_t *root, *v;
    const char *d, *dummy;
    const char *err_name = NULL, *desc_name = NULL;
    int http_failed = http_status >= 300;

    if (detail == NULL) {
        detail = &dummy;
    }
    *detail = NULL;
    memset(out, 0, sizeof(*out));
    if (now <= 0) {
        now = apr_time_now();
    }

    if (len > TPO_TOKEN_BODY_MAX) {
        *detail = "token response is larger than 1 MiB";
        return TPO_TOKEN_MALFORMED;
    }
    if (body == NULL || len == 0) {
        if (http_failed) {
            return http_error(p, http_status, out, detail, " with an empty body");
        }
        *detail = "token response is empty";
        return TPO_TOKEN_MALFORMED;
    }
    root = tpo_json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
    if (root == NULL) {
        /* jerr.text can quote the body (a token): report the position only */
        if (http_failed) {
            return http_error(p, http_status, out, detail, " with a non-JSON body");
        }
        *detail = apr_psprintf(p, "token response is not valid JSON (line %d, column %d)",
                               jerr.line, jerr.column);
        return TPO_TOKEN_MALFORMED;
    }
    apr_pool_cleanup_register(p, root, tpo_json_cleanup, apr_pool_cleanup_null);
    out->json = root;
    if (!json_is_object(root)) {
        if (http_failed) {
            return http_error(p, http_status, out, detail, " with a non-object body");
        }
        *detail = "token response is not a JSON object";
        return TPO_TOKEN_MALFORMED;
    }

    /* errors: RFC 6749 5.2 "error"/"error_description" (PayoutID:
     * "errorDescription"), Xendit "error_code"/"message" */
    v = json_object_get(root, "error");
    if (v && !json_is_null(v)) {
        err_name = "error";
        desc_name = "error_description";
    }
    else if ((v = json_object_get(root, "error_code")) != NULL && !json_is_null(v)) {
        err_name = "error_code";
        desc_name = "message";
    }
    if (err_name) {
        json_t *dv;
        if (!json_is_string(v) || json_string_length(v) == 0) {
            if (http_failed) {
                return http_error(p, http_status, out, detail, " with an unreadable error");
            }
            *detail = apr_psprintf(p, "token response: %s is not a non-empty string", err_name);
            return TPO_TOKEN_MALFORMED;
        }
        out->error = sanitize(p, json_string_value(v), TPO_TOKEN_ERROR_MAX);
        dv = json_object_get(root, desc_name);
        if (!json_is_string(dv) && !strcmp(desc_name, "error_description")) {
            dv = json_object_get(root, "errorDescription"); /* PayoutID */
        }
        if (json_is_string(dv)) {
            out->error_description = sanitize(p, json_string_value(dv), TPO_TOKEN_ERROR_DESC_MAX);
        }
        *detail = apr_psprintf(p, "token endpoint returned error '%s' (HTTP %d)", out->error,
                               http_status);
        return TPO_TOKEN_ERROR_RESPONSE;
    }
    if (http_failed) {
        return http_error(p, http_status, out, detail, " without an error code");
    }

    /* success */
    v = json_object_get(root, "access_token");
    if (v == NULL || json_is_null(v)) {
        *detail = "token response has no access_token";
        return TPO_TOKEN_MALFORMED;
    }
    if (opt_string(root, "access_token", 1, &out->access_token) != 0) {
        *detail = "token response: access_token is not a string of visible characters";
        return TPO_TOKEN_MALFORMED;
    }
    if (opt_string(root, "refresh_token", 1, &out->refresh_token) != 0) {
        *detail = "token response: refresh_token is not a string of visible characters";
        return TPO_TOKEN_MALFORMED;
    }
    if (opt_string(root, "id_token", 1, &out->id_token) != 0) {
        *detail = "token response: id_token is not a string of visible characters";
        return TPO_TOKEN_MALFORMED;
    }
    if (opt_string(root, "token_type", 1, &out->token_type) != 0) {
        *detail = "token response: token_type is not a string";
        return TPO_TOKEN_MALFORMED;
    }
    if (out->token_type && strcasecmp(out->token_type, "DPoP") == 0) {
        out->token_type = "DPoP"; /* RFC 9449 5: a DPoP-bound token */
    }
    else if (out->token_type) {
        if (strcasecmp(out->token_type, "Bearer") != 0) {
            *detail = apr_psprintf(p, "token response: unsupported token_type '%s'",
                                   sanitize(p, out->token_type, 32));
            out->token_type = NULL;
            return TPO_TOKEN_MALFORMED;
        }
        out->token_type = "Bearer";
    }
    v = json_object_get(root, "scope");
    if (v == NULL || json_is_null(v)) {
        v = json_object_get(root, "scopes"); /* PayoutID */
    }
    if (scope_value(p, v, &out->scope) != 0) {
        *detail = "token response: scope is neither a string nor an array of strings";
        return TPO_TOKEN_MALFORMED;
    }
    d = expiry(root, now, &out->expires_at);
    if (d) {
        *detail = apr_pstrcat(p, "token response: ", d, NULL);
        return TPO_TOKEN_MALFORMED;
    }
    return TPO_TOKEN_OK;
}

tpo_token_result tpo_token_response_parse(apr_pool_t *p, const char *body, apr_size_t len,
                                          int http_status, apr_time_t now, tpo_token_response *out,
                                          const char **detail)
{
    const char *dummy;
    tpo_token_result r;

    if (detail == NULL) {
        detail = &dummy;
    }
    r = response_parse(p, body, len, http_status, now, out, detail);
    if (r != TPO_TOKEN_OK) {
        /* nothing half-parsed for a caller that forgets to check */
        out->access_token = NULL;
        out->refresh_token = NULL;
        out->id_token = NULL;
        out->token_type = NULL;
        out->scope = NULL;
        out->expires_at = 0;
    }
    if (r == TPO_TOKEN_MALFORMED) {
        out->error = NULL;
        out->error_description = NULL;
    }
    if (r == TPO_TOKEN_OK) {
        tpo_log(
            TPO_LOG_MARK, TPO_LOG_DEBUG,
            TPO_APLOGNO(
                00075) "token response: refresh_token %s, id_token %s, expires_at %" APR_TIME_T_FMT,
            out->refresh_token ? "present" : "absent", out->id_token ? "present" : "absent",
            apr_time_sec(out->expires_at));
    }
    else {
        tpo_log(TPO_LOG_MARK, TPO_LOG_DEBUG, TPO_APLOGNO(00076) "%s", *detail);
    }
    return r;
}

int tpo_token_refresh_refused(int http_status, const char *error)
{
    static const char *const definitive[] = {"invalid_grant", "invalid_request",
                                             "unauthorized_client", NULL};
    int i;

    if ((http_status != 400 && http_status != 401) || error == NULL) {
        return 0;
    }
    for (i = 0; definitive[i]; i++) {
        if (strcasecmp(error, definitive[i]) == 0) {
            return 1;
        }
    }
    return 0;
}

int tpo_scope_has(const char *scope, const char *word)
{
    apr_size_t n = word ? strlen(word) : 0;
    const char *s = scope;

    if (!s || n == 0) {
        return 0;
    }
    while (*s) {
        while (*s == ' ') {
            s++;
        }
        if (!strncmp(s, word, n) && (s[n] == ' ' || s[n] == '\0')) {
            return 1;
        }
        while (*s && *s != ' ') {
            s++;
        }
    }
    return 0;
}
