/* SPDX-License-Identifier: Apache-2.0
 * Licensed under the Apache License, Version 2.0 (see LICENSE). */
/* Tokens for backends: the pure parts (tpo_backend_token.h). */
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <apr_strings.h>
#include <jansson.h>
#include <openssl/evp.h>
#include "tpo_b64.h"
#include "tpo_backend_token.h"
#include "tpo_defaults.h"
#include "tpo_token.h"

static int set(const char *s)
{
    return s && *s;
}

apr_array_header_t *tpo_bt_params(apr_pool_t *p, const char *scope, const char *resource,
                                  const char *audience)
{
    apr_array_header_t *a = apr_array_make(p, 8, sizeof(const char *));

    APR_ARRAY_PUSH(a, const char *) = "grant_type";
    APR_ARRAY_PUSH(a, const char *) = "client_credentials";
    if (set(scope)) {
        APR_ARRAY_PUSH(a, const char *) = "scope";
        APR_ARRAY_PUSH(a, const char *) = scope;
    }
    if (set(resource)) {
        APR_ARRAY_PUSH(a, const char *) = "resource";
        APR_ARRAY_PUSH(a, const char *) = resource;
    }
    if (set(audience)) {
        APR_ARRAY_PUSH(a, const char *) = "audience";
        APR_ARRAY_PUSH(a, const char *) = audience;
    }
    return a;
}

static int cmp_words(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The scope's words sorted and single-space separated ("" for none). */
static const char *scope_norm(apr_pool_t *p, const char *scope)
{
    apr_array_header_t *w = apr_array_make(p, 4, sizeof(const char *));
    char *copy, *last, *tok;

    if (!scope) {
        return "";
    }
    copy = apr_pstrdup(p, scope);
    for (tok = apr_strtok(copy, " \t", &last); tok; tok = apr_strtok(NULL, " \t", &last)) {
        APR_ARRAY_PUSH(w, const char *) = tok;
    }
    qsort(w->elts, (size_t)w->nelts, sizeof(const char *), cmp_words);
    return apr_array_pstrcat(p, w, ' ');
}

const char *tpo_bt_key_hash(apr_pool_t *p, const char *provider, const char *token_endpoint,
                            const char *client_id, const char *scope, const char *resource,
                            const char *audience)
{
    const char *parts[6];
    unsigned char md[32];
    unsigned int mdlen = 0;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    int i, ok;

    parts[0] = provider;
    parts[1] = token_endpoint;
    parts[2] = client_id;
    parts[3] = scope_norm(p, scope);
    parts[4] = resource;
    parts[5] = audience;
    ok = ctx && EVP_DigestInit_ex(ctx, EVP_sha256(), NULL);
    for (i = 0; ok && i < 6; i++) {
        /* each part with its terminating NUL (NULL as one NUL too): no two
         * different tuples hash the same bytes */
        const char *s = parts[i] ? parts[i] : "";
        ok = EVP_DigestUpdate(ctx, s, strlen(s) + 1);
    }
    ok = ok && EVP_DigestFinal_ex(ctx, md, &mdlen) && mdlen == sizeof(md);
    EVP_MD_CTX_free(ctx);
    if (!ok) {
        return NULL;
    }
    return tpo_b64url_encode(p, md, sizeof(md));
}

int tpo_bt_token_ok(const char *tok)
{
    apr_size_t n = 0;

    if (!tok) {
        return 0;
    }
    for (; tok[n]; n++) {
        unsigned char c = (unsigned char)tok[n];
        if (c < 0x21 || c > 0x7e || n >= TPO_BT_MAX_TOKEN) {
            return 0;
        }
    }
    return n > 0;
}

const char *tpo_bt_encode(apr_pool_t *p, const tpo_bt_token *t, apr_size_t *len)
{
    const char *v = apr_psprintf(p, "1 %" APR_TIME_T_FMT " %" APR_TIME_T_FMT " %s", t->obtained,
                                 t->expires, t->access_token);
    *len = strlen(v);
    return v;
}

/* A decimal number of at most 18 digits at *s, followed by one space. */
static int number(const char **s, const char *end, apr_time_t *out)
{
    const char *q = *s;
    apr_time_t v = 0;
    int digits = 0;

    while (q < end && *q >= '0' && *q <= '9' && digits < 18) {
        v = v * 10 + (*q - '0');
        q++;
        digits++;
    }
    if (!digits || q >= end || *q != ' ') {
        return 0;
    }
    *s = q + 1;
    *out = v;
    return 1;
}

apr_status_t tpo_bt_decode(apr_pool_t *p, const char *val, apr_size_t len, tpo_bt_token *out)
{
    const char *s = val, *end = val + len;
    char *tok;

    if (!val || len < 3 || s[0] != '1' || s[1] != ' ') {
        return APR_EINVAL;
    }
    s += 2;
    if (!number(&s, end, &out->obtained) || !number(&s, end, &out->expires) ||
        out->expires <= out->obtained || s >= end) {
        return APR_EINVAL;
    }
    tok = apr_pstrmemdup(p, s, (apr_size_t)(end - s));
    if (strlen(tok) != (apr_size_t)(end - s) || !tpo_bt_token_ok(tok)) {
        return APR_EINVAL;
    }
    out->access_token = tok;
    return APR_SUCCESS;
}

apr_time_t tpo_bt_renew_at(const tpo_bt_token *t, apr_interval_time_t before)
{
    apr_interval_time_t life = t->expires - t->obtained;

    if (before > life / 4) {
        before = life / 4;
    }
    return t->expires - before;
}

apr_time_t tpo_bt_usable_until(const tpo_bt_token *t)
{
    apr_interval_time_t life = t->expires - t->obtained;
    apr_interval_time_t margin = apr_time_from_sec(TPO_BT_MIN_REMAINING_S);

    if (margin > life / 4) {
        margin = life / 4;
    }
    return t->expires - margin;
}

tpo_bt_decision tpo_bt_decide(const tpo_bt_token *t, apr_time_t now, apr_interval_time_t before)
{
    if (!t || now >= tpo_bt_usable_until(t) || now < t->obtained - apr_time_from_sec(300)) {
        /* absent, too close to its end, or from the future (a clock that
         * jumped back: trust it no longer) */
        return TPO_BT_FETCH;
    }
    return now >= tpo_bt_renew_at(t, before) ? TPO_BT_RENEW : TPO_BT_USE;
}

tpo_bt_result tpo_bt_response(apr_pool_t *p, const char *body, apr_size_t len, int http_status,
                              apr_time_t now, long default_lifetime_s, tpo_bt_token *out,
                              const char **error, const char **detail)
{
    tpo_token_response tr;
    tpo_token_result res;

    *error = NULL;
    *detail = NULL;
    res = tpo_token_response_parse(p, body, len, http_status, now, &tr, detail);
    if (res == TPO_TOKEN_ERROR_RESPONSE) {
        *error = tr.error;
        *detail = tr.error_description;
        return TPO_BT_REFUSED;
    }
    if (res != TPO_TOKEN_OK) {
        if (!*detail) {
            *detail = "unreadable token response";
        }
        return TPO_BT_BAD;
    }
    if (tr.token_type && strcasecmp(tr.token_type, "Bearer") != 0) {
        *detail = "token_type is not Bearer";
        return TPO_BT_BAD;
    }
    if (!tpo_bt_token_ok(tr.access_token)) {
        *detail = "access_token has characters a header cannot carry, or is too long";
        return TPO_BT_BAD;
    }
    out->access_token = tr.access_token;
    out->obtained = now;
    out->expires = tr.expires_at ? tr.expires_at : now + apr_time_from_sec(default_lifetime_s);
    if (out->expires - now <= apr_time_from_sec(TPO_BT_MIN_REMAINING_S)) {
        *detail = "the token expires too soon to be used";
        return TPO_BT_BAD;
    }
    return TPO_BT_OK;
}

/* JSON_ENSURE_ASCII leaves DEL (0x7f) as is, and a header value must not carry it:
 * DEL can only sit inside a JSON string, where its escape keeps the text valid JSON. */
static const char *tpo_bt_escape_del(apr_pool_t *p, const char *text)
{
    apr_size_t n = 0, len = strlen(text);
    const char *s;
    char *out, *o;

    for (s = text; *s; s++) {
        n += (*s == 0x7f);
    }
    if (!n) {
        return apr_pstrmemdup(p, text, len);
    }
    o = out = apr_palloc(p, len + 5 * n + 1);
    for (s = text; *s; s++) {
        if (*s == 0x7f) {
            memcpy(o, "\\u007f", 6);
            o += 6;
        }
        else {
            *o++ = *s;
        }
    }
    *o = '\0';
    return out;
}

const char *tpo_bt_jwt_payload_json(apr_pool_t *p, const char *jwt)
{
    const char *dot1, *dot2;
    unsigned char *raw;
    apr_size_t rawlen;
    json_t *o;
    json_error_t err;
    char *text;
    const char *out;

    if (!jwt || !(dot1 = strchr(jwt, '.')) || !(dot2 = strchr(dot1 + 1, '.')) ||
        strchr(dot2 + 1, '.')) {
        return NULL;
    }
    raw = tpo_b64url_decode(p, dot1 + 1, (apr_size_t)(dot2 - dot1 - 1), &rawlen);
    if (!raw) {
        return NULL;
    }
    o = json_loadb((const char *)raw, rawlen, JSON_REJECT_DUPLICATES, &err);
    if (!o || !json_is_object(o)) {
        json_decref(o);
        return NULL;
    }
    text = json_dumps(o, JSON_COMPACT | JSON_ENSURE_ASCII);
    json_decref(o);
    if (!text) {
        return NULL;
    }
    out = tpo_bt_escape_del(p, text);
    free(text);
    return out;
}
