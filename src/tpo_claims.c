/* SPDX-License-Identifier: Apache-2.0
 * Licensed under the Apache License, Version 2.0 (see LICENSE). */
#include <ctype.h>
#include <string.h>
#include <apr_strings.h>
#include "tpo_claims.h"

static const char *const protocol_claims[] = {
    "iss", "sub", "aud", "exp", "iat", "nbf", "nonce", "azp", "auth_time",
    "at_hash", "c_hash", "acr", "amr", "sid", "jti", NULL
};

/* Claims that mean nothing to an application and are not exported. */
static const char *const hidden_claims[] = { "nonce", "at_hash", "c_hash", NULL };

static int in_list(const char *const *list, const char *s)
{
    int i;
    for (i = 0; list && list[i]; i++) {
        if (!strcmp(list[i], s)) {
            return 1;
        }
    }
    return 0;
}

const char *tpo_claims_scalar(apr_pool_t *p, json_t *v)
{
    if (json_is_string(v)) {
        return json_string_value(v);
    }
    if (json_is_integer(v)) {
        return apr_psprintf(p, "%" APR_INT64_T_FMT, (apr_int64_t)json_integer_value(v));
    }
    if (json_is_real(v)) {
        return apr_psprintf(p, "%.17g", json_real_value(v));
    }
    if (json_is_true(v)) {
        return "true";
    }
    if (json_is_false(v)) {
        return "false";
    }
    return NULL;
}

char *tpo_claims_header_value(apr_pool_t *p, const char *v)
{
    static const char hex[] = "0123456789ABCDEF";
    apr_size_t n = 0;
    const unsigned char *s;
    char *out, *o;

    for (s = (const unsigned char *)v; *s; s++) {
        n += (*s < 0x20 || *s >= 0x7f || *s == '%') ? 3 : 1;
    }
    out = o = apr_palloc(p, n + 1);
    for (s = (const unsigned char *)v; *s; s++) {
        if (*s < 0x20 || *s >= 0x7f || *s == '%') {
            *o++ = '%';
            *o++ = hex[*s >> 4];
            *o++ = hex[*s & 15];
        }
        else {
            *o++ = (char)*s;
        }
    }
    *o = '\0';
    return out;
}

char *tpo_claims_env_value(apr_pool_t *p, const char *v)
{
    char *s = apr_pstrdup(p, v), *c;
    for (c = s; *c; c++) {
        if ((unsigned char)*c < 0x20 || *c == 0x7f) {
            *c = ' ';
        }
    }
    return s;
}

static char *name_chars(apr_pool_t *p, const char *prefix, const char *path, char repl,
                        int allow_underscore, int allow_dash)
{
    char *n = apr_pstrcat(p, prefix, path, NULL), *c;
    for (c = n + strlen(prefix); *c; c++) {
        if (isalnum((unsigned char)*c) || (*c == '_' && allow_underscore)
            || (*c == '-' && allow_dash)) {
            continue;
        }
        *c = repl;
    }
    return n;
}

static void push(apr_array_header_t *a, const char *n, const char *v)
{
    APR_ARRAY_PUSH(a, const char *) = n;
    APR_ARRAY_PUSH(a, const char *) = v;
}

static void emit(apr_pool_t *p, const tpo_claims_render *cfg, tpo_claims_out *out,
                 const char *env_name, const char *hdr_name, const char *value)
{
    push(out->env, env_name, tpo_claims_env_value(p, value));
    push(out->headers, hdr_name, tpo_claims_header_value(p, value));
}

/* Join an array of scalars; escape the delimiter and backslashes inside
 * elements. NULL if the array holds anything but scalars. */
static const char *join_array(apr_pool_t *p, json_t *arr, const char *delim)
{
    apr_size_t i, dl = strlen(delim);
    json_t *e;
    char *res = "";

    json_array_foreach(arr, i, e) {
        const char *s = tpo_claims_scalar(p, e), *c;
        char *esc, *o;
        if (!s) {
            return NULL;
        }
        esc = o = apr_palloc(p, 2 * strlen(s) + 1);
        for (c = s; *c; c++) {
            if (*c == '\\' || (dl && !strncmp(c, delim, dl))) {
                *o++ = '\\';
            }
            *o++ = *c;
        }
        *o = '\0';
        res = i ? apr_pstrcat(p, res, delim, esc, NULL) : esc;
    }
    return res;
}

static void render_value(apr_pool_t *p, const tpo_claims_render *cfg, tpo_claims_out *out,
                         const char *path, json_t *v, int depth)
{
    const char *s = tpo_claims_scalar(p, v);

    if (!s && json_is_array(v)) {
        s = join_array(p, v, cfg->delimiter);
        if (!s) {
            char *j = json_dumps(v, JSON_COMPACT);
            if (j) {
                s = apr_pstrdup(p, j);
                free(j);
            }
        }
    }
    else if (!s && json_is_object(v) && depth < 8) {
        const char *k;
        json_t *c;
        json_object_foreach(v, k, c) {
            render_value(p, cfg, out, apr_pstrcat(p, path, cfg->separator, k, NULL), c,
                         depth + 1);
        }
        return;
    }
    if (s) {
        emit(p, cfg, out, name_chars(p, cfg->claim_prefix, path, '_', 1, 0),
             name_chars(p, apr_pstrcat(p, cfg->header_prefix, "Claim-", NULL), path, '-', 0, 1),
             s);
    }
}

void tpo_claims_render_all(apr_pool_t *p, const tpo_claims_render *cfg, const char *user,
                           json_t *claims, const char *access_token, long long at_expires,
                           const char *scope, tpo_claims_out *out)
{
    const char *k;
    json_t *v;
    const char *hp = cfg->header_prefix;

    out->env = apr_array_make(p, 32, sizeof(const char *));
    out->headers = apr_array_make(p, 32, sizeof(const char *));
    if (user) {
        /* REMOTE_USER itself is r->user; the header carries it for proxies */
        push(out->headers, cfg->user_header ? cfg->user_header
                                            : apr_pstrcat(p, hp, "User", NULL),
             tpo_claims_header_value(p, user));
    }
    if (claims) {
        json_object_foreach(claims, k, v) {
            if (!in_list(hidden_claims, k)) {
                render_value(p, cfg, out, k, v, 0);
            }
        }
        {
            char *j = json_dumps(claims, JSON_COMPACT);
            if (j) {
                emit(p, cfg, out, "TPO_CLAIMS", apr_pstrcat(p, hp, "Claims", NULL), j);
                free(j);
            }
        }
    }
    if (access_token) {
        emit(p, cfg, out, "TPO_ACCESS_TOKEN", apr_pstrcat(p, hp, "Access-Token", NULL),
             access_token);
        if (at_expires > 0) {
            emit(p, cfg, out, "TPO_ACCESS_TOKEN_EXPIRES",
                 apr_pstrcat(p, hp, "Access-Token-Expires", NULL),
                 apr_psprintf(p, "%" APR_INT64_T_FMT, (apr_int64_t)at_expires));
        }
    }
    if (scope) {
        emit(p, cfg, out, "TPO_SCOPE", apr_pstrcat(p, hp, "Scope", NULL), scope);
    }
}

json_t *tpo_claims_path(json_t *claims, const char *path)
{
    const char *dot;
    char seg[256];
    json_t *cur = claims;

    while (cur && path) {
        apr_size_t n;
        dot = strchr(path, '.');
        n = dot ? (apr_size_t)(dot - path) : strlen(path);
        if (n == 0 || n >= sizeof(seg) || !json_is_object(cur)) {
            return NULL;
        }
        memcpy(seg, path, n);
        seg[n] = '\0';
        cur = json_object_get(cur, seg);
        path = dot ? dot + 1 : NULL;
    }
    return cur;
}

static int scalar_eq(json_t *v, const char *value)
{
    char buf[64];

    if (json_is_string(v)) {
        return !strcmp(json_string_value(v), value);
    }
    if (json_is_integer(v)) {
        snprintf(buf, sizeof(buf), "%lld", (long long)json_integer_value(v));
        return !strcmp(buf, value);
    }
    if (json_is_true(v)) {
        return !strcmp(value, "true");
    }
    if (json_is_false(v)) {
        return !strcmp(value, "false");
    }
    return 0;
}

int tpo_claims_match(json_t *claims, const char *path, const char *value)
{
    json_t *v = tpo_claims_path(claims, path), *e;
    apr_size_t i;

    if (!v) {
        return 0;
    }
    if (json_is_array(v)) {
        json_array_foreach(v, i, e) {
            if (scalar_eq(e, value)) {
                return 1;
            }
        }
        return 0;
    }
    return scalar_eq(v, value);
}

int tpo_claims_merge(json_t *idt, json_t *userinfo)
{
    const char *k;
    json_t *v, *a, *b;

    if (!idt) {
        return 1;
    }
    a = json_object_get(idt, "sub");
    b = json_object_get(userinfo, "sub");
    if (a && b && !json_equal(a, b)) {
        return 0;
    }
    json_object_foreach(userinfo, k, v) {
        if (!in_list(protocol_claims, k)) {
            json_object_set(idt, k, v);
        }
    }
    return 1;
}

void tpo_claims_filter(json_t *claims, const char *const *allow, const char *const *deny)
{
    const char *k;
    json_t *v;
    void *tmp;

    json_object_foreach_safe(claims, tmp, k, v) {
        int keep = (!allow || !allow[0] || in_list(allow, k) || !strcmp(k, "sub"))
                   && (!in_list(deny, k) || !strcmp(k, "sub"));
        if (!keep) {
            json_object_del(claims, k);
        }
    }
}
