/* SPDX-License-Identifier: Apache-2.0
 * Licensed under the Apache License, Version 2.0 (see LICENSE). */
/* Provider metadata: OpenID Connect Discovery 1.0 / RFC 8414 documents. */
#include <string.h>
#include <strings.h>
#include <apr_strings.h>
#include <jansson.h>
#include "tpo_provider.h"

#define TPO_DISCOVERY_MAX (1024 * 1024)
#define TPO_URL_MAX 4096

/* A provider-supplied string fit for an error message: printable ASCII,
 * at most 200 characters. */
static const char *printable(apr_pool_t *p, const char *s)
{
    apr_size_t n = strlen(s), i;
    char *o;

    if (n > 200) {
        n = 200;
    }
    o = apr_pstrmemdup(p, s, n);
    for (i = 0; i < n; i++) {
        if ((unsigned char)o[i] < 0x20 || (unsigned char)o[i] > 0x7e) {
            o[i] = '?';
        }
    }
    return n < strlen(s) ? apr_pstrcat(p, o, "...", NULL) : o;
}

int tpo_url_is_http(const char *s)
{
    const char *auth, *ae, *host_end, *c;
    apr_size_t n;

    if (s == NULL) {
        return 0;
    }
    if (strncasecmp(s, "https://", 8) == 0) {
        auth = s + 8;
    }
    else if (strncasecmp(s, "http://", 7) == 0) {
        auth = s + 7;
    }
    else {
        return 0;
    }
    n = strlen(s);
    if (n > TPO_URL_MAX) {
        return 0;
    }
    for (c = s; *c; c++) {
        unsigned char u = (unsigned char)*c;
        if (u <= 0x20 || u >= 0x7f || u == '\\') {
            return 0;
        }
    }
    ae = auth + strcspn(auth, "/?#");
    if (ae == auth) {
        return 0;
    }
    if (memchr(auth, '@', (apr_size_t)(ae - auth))) {
        return 0; /* no userinfo in endpoint URLs */
    }
    if (*auth == '[') {
        host_end = memchr(auth, ']', (apr_size_t)(ae - auth));
        if (host_end == NULL || host_end == auth + 1) {
            return 0;
        }
        host_end++;
    }
    else {
        host_end = auth;
        while (host_end < ae && *host_end != ':') {
            host_end++;
        }
        if (host_end == auth) {
            return 0;
        }
    }
    if (host_end < ae) {
        /* a port: ":" followed by 1-5 digits */
        if (*host_end != ':' || ae - host_end < 2 || ae - host_end > 6) {
            return 0;
        }
        for (c = host_end + 1; c < ae; c++) {
            if (*c < '0' || *c > '9') {
                return 0;
            }
        }
    }
    return 1;
}

const char *tpo_provider_discovery_url(apr_pool_t *p, const char *issuer)
{
    apr_size_t n;

    if (issuer == NULL) {
        return NULL;
    }
    n = strlen(issuer);
    if (n > 0 && issuer[n - 1] == '/') {
        n--;
    }
    return apr_pstrcat(p, apr_pstrmemdup(p, issuer, n), "/.well-known/openid-configuration", NULL);
}

/* Read an optional URL member. Returns 0 on success (absent or valid). */
static int get_url(apr_pool_t *p, json_t *doc, const char *name, int required, const char **out,
                   const char **err)
{
    json_t *v = json_object_get(doc, name);

    *out = NULL;
    if (v == NULL || json_is_null(v)) {
        if (required) {
            *err = apr_psprintf(p, "discovery document has no %s", name);
            return -1;
        }
        return 0;
    }
    if (!json_is_string(v)) {
        *err = apr_psprintf(p, "discovery document: %s is not a string", name);
        return -1;
    }
    if (!tpo_url_is_http(json_string_value(v))) {
        *err = apr_psprintf(p, "discovery document: %s is not an absolute http(s) URL: '%s'", name,
                            printable(p, json_string_value(v)));
        return -1;
    }
    *out = apr_pstrdup(p, json_string_value(v));
    return 0;
}

/* An optional boolean member: 1 when true, else 0; non-zero (and *err) when
 * it is there but not a boolean. */
static int get_flag(json_t *doc, const char *name, int *out, const char **err)
{
    json_t *v = json_object_get(doc, name);

    *out = 0;
    if (!v || json_is_null(v)) {
        return 0;
    }
    if (!json_is_boolean(v)) {
        *err = "discovery document: a *_supported or require_* member is not a boolean";
        return 1;
    }
    *out = json_is_true(v) ? 1 : 0;
    return 0;
}

static apr_status_t parse_doc(apr_pool_t *p, json_t *doc, const char *expected_issuer,
                              tpo_provider_meta *out, const char **err)
{
    json_t *v;
    const char *issuer;

    if (!json_is_object(doc)) {
        *err = "discovery document is not a JSON object";
        return APR_EINVAL;
    }
    v = json_object_get(doc, "issuer");
    if (!json_is_string(v) || json_string_length(v) == 0) {
        *err = "discovery document has no issuer string";
        return APR_EINVAL;
    }
    issuer = json_string_value(v);
    if (strlen(issuer) != json_string_length(v)) {
        *err = "discovery document: issuer contains NUL";
        return APR_EINVAL;
    }
    if (expected_issuer && strcmp(expected_issuer, issuer) != 0) {
        *err = apr_psprintf(p, "issuer mismatch: expected '%s', discovery document says '%s'",
                            printable(p, expected_issuer), printable(p, issuer));
        return APR_EINVAL;
    }
    out->issuer = apr_pstrdup(p, issuer);

    if (get_url(p, doc, "authorization_endpoint", 1, &out->authorization_endpoint, err) ||
        get_url(p, doc, "token_endpoint", 1, &out->token_endpoint, err) ||
        get_url(p, doc, "userinfo_endpoint", 0, &out->userinfo_endpoint, err) ||
        get_url(p, doc, "jwks_uri", 0, &out->jwks_uri, err) ||
        get_url(p, doc, "end_session_endpoint", 0, &out->end_session_endpoint, err) ||
        get_url(p, doc, "revocation_endpoint", 0, &out->revocation_endpoint, err) ||
        get_url(p, doc, "introspection_endpoint", 0, &out->introspection_endpoint, err) ||
        get_url(p, doc, "pushed_authorization_request_endpoint", 0, &out->par_endpoint, err)) {
        return APR_EINVAL;
    }

    v = json_object_get(doc, "authorization_response_iss_parameter_supported");
    if (v && !json_is_null(v)) {
        if (!json_is_boolean(v)) {
            *err = "discovery document: authorization_response_iss_parameter_supported "
                   "is not a boolean";
            return APR_EINVAL;
        }
        out->iss_parameter_supported = json_is_true(v) ? 1 : 0;
    }

    if (get_flag(doc, "backchannel_logout_supported", &out->backchannel_logout, err) ||
        get_flag(doc, "backchannel_logout_session_supported", &out->backchannel_logout_session,
                 err) ||
        get_flag(doc, "require_pushed_authorization_requests", &out->require_par, err)) {
        return APR_EINVAL;
    }

    v = json_object_get(doc, "dpop_signing_alg_values_supported");
    if (v && !json_is_null(v)) {
        size_t i;
        json_t *m;
        const char *list = "";
        if (!json_is_array(v)) {
            *err = "discovery document: dpop_signing_alg_values_supported is not an array";
            return APR_EINVAL;
        }
        json_array_foreach(v, i, m)
        {
            const char *a = json_string_value(m);
            /* algorithm names only (no spaces, printable, short); others are skipped */
            if (i < 64 && a && *a && strlen(a) < 32 &&
                strspn(a, "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
                          "abcdefghijklmnopqrstuvwxyz"
                          "0123456789-_+.") == strlen(a)) {
                list = *list ? apr_pstrcat(p, list, " ", a, NULL) : apr_pstrdup(p, a);
            }
        }
        out->dpop_algs = list;
    }

    v = json_object_get(doc, "code_challenge_methods_supported");
    if (v && !json_is_null(v)) {
        size_t i;
        json_t *m;
        if (!json_is_array(v)) {
            *err = "discovery document: code_challenge_methods_supported is not an array";
            return APR_EINVAL;
        }
        out->pkce_s256_supported = 0;
        json_array_foreach(v, i, m)
        {
            if (json_is_string(m) && strcmp(json_string_value(m), "S256") == 0) {
                out->pkce_s256_supported = 1;
            }
        }
    }
    return APR_SUCCESS;
}

apr_status_t tpo_provider_meta_parse(apr_pool_t *p, const char *json, apr_size_t len,
                                     const char *expected_issuer, tpo_provider_meta *out,
                                     const char **err)
{
    json_error_t jerr;
    json_t *doc;
    apr_status_t rv;
    const char *dummy;

    if (err == NULL) {
        err = &dummy;
    }
    *err = NULL;
    memset(out, 0, sizeof(*out));
    out->pkce_s256_supported = -1;
    if (json == NULL || len == 0) {
        *err = "discovery document is empty";
        return APR_EINVAL;
    }
    if (len > TPO_DISCOVERY_MAX) {
        *err = "discovery document is larger than 1 MiB";
        return APR_EINVAL;
    }
    doc = json_loadb(json, len, JSON_REJECT_DUPLICATES, &jerr);
    if (doc == NULL) {
        /* jerr.text may quote the document; position is enough */
        *err = apr_psprintf(p, "discovery document is not valid JSON (line %d, column %d)",
                            jerr.line, jerr.column);
        return APR_EINVAL;
    }
    rv = parse_doc(p, doc, expected_issuer, out, err);
    json_decref(doc);
    if (rv != APR_SUCCESS) {
        tpo_provider_meta empty;
        memset(&empty, 0, sizeof(empty));
        empty.pkce_s256_supported = -1;
        *out = empty;
    }
    return rv;
}
