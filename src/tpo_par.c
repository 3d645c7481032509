/* SPDX-License-Identifier: Apache-2.0
 * Licensed under the Apache License, Version 2.0 (see LICENSE). */
/* Pushed Authorization Requests (RFC 9126): the decision and the answer of
 * the PAR endpoint (tpo_par.h). The request itself is the login's
 * authorization parameters, sent like a token request (tpo_token.c's client
 * authentication). */
#include <string.h>
#include <apr_strings.h>
#include "tpo_json.h"
#include "tpo_par.h"
#include "tpo_log.h"
#include "tpo_defaults.h"

#define PAR_ERROR_MAX 128
#define PAR_ERROR_DESC_MAX 512

tpo_par_decision tpo_par_decide(int mode, const char *endpoint, int required)
{
    int has = endpoint && *endpoint;

    switch (mode) {
    case TPO_PAR_ON:
        return has ? TPO_PAR_USE : TPO_PAR_NO_ENDPOINT;
    case TPO_PAR_AUTO:
        if (!required) {
            return TPO_PAR_UNUSED;
        }
        return has ? TPO_PAR_USE : TPO_PAR_NO_ENDPOINT;
    default:
        return TPO_PAR_UNUSED;
    }
}

/* A provider's word for a log line or a page: printable ASCII, at most max
 * bytes, the rest '?'. */
static const char *printable(apr_pool_t *p, const char *s, apr_size_t n, apr_size_t max)
{
    char *o;
    apr_size_t i;

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

/* request_uri: visible ASCII, bounded, "scheme:" first (RFC 3986 3.1). */
static int request_uri_ok(const char *s, apr_size_t n)
{
    apr_size_t i;

    if (n == 0 || n > TPO_PAR_REQUEST_URI_MAX || strlen(s) != n) {
        return 0;
    }
    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x21 || c > 0x7e) {
            return 0;
        }
    }
    if (!((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= 'A' && s[0] <= 'Z'))) {
        return 0;
    }
    for (i = 1; i < n; i++) {
        char c = s[i];
        if (c == ':') {
            return i + 1 < n;
        }
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '+' || c == '-' || c == '.')) {
            return 0;
        }
    }
    return 0;
}

static tpo_par_result error_answer(apr_pool_t *p, json_t *root, int http_status,
                                   tpo_par_response *out, const char **detail)
{
    json_t *e = root ? json_object_get(root, "error") : NULL;
    json_t *d = root ? json_object_get(root, "error_description") : NULL;

    if (json_is_string(e) && json_string_length(e) > 0) {
        out->error = printable(p, json_string_value(e), json_string_length(e), PAR_ERROR_MAX);
        if (json_is_string(d)) {
            out->error_description =
                printable(p, json_string_value(d), json_string_length(d), PAR_ERROR_DESC_MAX);
        }
        *detail =
            apr_psprintf(p, "PAR endpoint answered HTTP %d error=%s", http_status, out->error);
    }
    else {
        out->error = apr_psprintf(p, "http_%d", http_status);
        *detail =
            apr_psprintf(p, "PAR endpoint answered HTTP %d without an error code", http_status);
    }
    return TPO_PAR_ERROR_RESPONSE;
}

static tpo_par_result parse(apr_pool_t *p, const char *body, apr_size_t len, int http_status,
                            tpo_par_response *out, const char **detail)
{
    int ok_status = http_status == 201 || http_status == 200;
    json_error_t jerr;
    json_t *root, *v;
    json_int_t n;

    if (len > TPO_PAR_BODY_MAX) {
        *detail = apr_psprintf(p, "PAR response (HTTP %d) is larger than %d bytes", http_status,
                               TPO_PAR_BODY_MAX);
        return TPO_PAR_MALFORMED;
    }
    root = body && len ? json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr) : NULL;
    if (root) {
        apr_pool_cleanup_register(p, root, tpo_json_cleanup, apr_pool_cleanup_null);
    }
    if (!root || !json_is_object(root)) {
        if (!ok_status) {
            return error_answer(p, NULL, http_status, out, detail);
        }
        /* jerr.text can quote the body: the position only */
        *detail = !body || !len ? "PAR response is empty"
                  : !root ? apr_psprintf(p, "PAR response is not valid JSON (line %d, column %d)",
                                         jerr.line, jerr.column)
                          : "PAR response is not a JSON object";
        return TPO_PAR_MALFORMED;
    }
    v = json_object_get(root, "error");
    if (!ok_status || (v && !json_is_null(v))) {
        return error_answer(p, root, http_status, out, detail);
    }
    v = json_object_get(root, "request_uri");
    if (!v || json_is_null(v)) {
        *detail = "PAR response has no request_uri";
        return TPO_PAR_MALFORMED;
    }
    if (!json_is_string(v) || !request_uri_ok(json_string_value(v), json_string_length(v))) {
        *detail = apr_psprintf(p,
                               "PAR response: request_uri is not a URI of at most %d visible "
                               "characters",
                               TPO_PAR_REQUEST_URI_MAX);
        return TPO_PAR_MALFORMED;
    }
    out->request_uri = apr_pstrdup(p, json_string_value(v));
    v = json_object_get(root, "expires_in");
    if (!v || json_is_null(v)) {
        *detail = "PAR response has no expires_in";
        return TPO_PAR_MALFORMED;
    }
    if (!json_is_integer(v)) {
        *detail = "PAR response: expires_in is not an integer";
        return TPO_PAR_MALFORMED;
    }
    n = json_integer_value(v);
    if (n < 1 || n > TPO_PAR_EXPIRES_MAX) {
        *detail = apr_psprintf(p, "PAR response: expires_in is not between 1 and %d seconds",
                               TPO_PAR_EXPIRES_MAX);
        return TPO_PAR_MALFORMED;
    }
    out->expires_in = (long)n;
    return TPO_PAR_OK;
}

tpo_par_result tpo_par_response_parse(apr_pool_t *p, const char *body, apr_size_t len,
                                      int http_status, tpo_par_response *out, const char **detail)
{
    const char *dummy;
    tpo_par_result r;

    if (!detail) {
        detail = &dummy;
    }
    *detail = NULL;
    memset(out, 0, sizeof(*out));
    r = parse(p, body, len, http_status, out, detail);
    if (r != TPO_PAR_OK) {
        out->request_uri = NULL;
        out->expires_in = 0;
    }
    if (r == TPO_PAR_OK) {
        tpo_log(TPO_LOG_MARK, TPO_LOG_DEBUG,
                TPO_APLOGNO(00856) "PAR response: request_uri of %d bytes, expires_in %ld",
                (int)strlen(out->request_uri), out->expires_in);
    }
    return r;
}
