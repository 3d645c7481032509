/* SPDX-License-Identifier: Apache-2.0
 * Licensed under the Apache License, Version 2.0 (see LICENSE). */
#include <string.h>
#include <stdlib.h>
#include <apr_strings.h>
#include "tpo_stepup.h"
#include "tpo_url.h"

#define LOGIN_HINT_MAX 512
#define LOCALE_MAX 35
#define MAX_AGE_DIGITS 9

static const char *const ar_names[TPO_AR_COUNT] = {"scope",  "acr_values", "max_age",
                                                   "prompt", "login_hint", "ui_locales"};

static const char *const prompt_values[] = {"none",           "login",  "consent",
                                            "select_account", "create", NULL};

const char *tpo_ar_name(int i)
{
    return i >= 0 && i < TPO_AR_COUNT ? ar_names[i] : NULL;
}

int tpo_ar_index(const char *name)
{
    int i;

    for (i = 0; name && i < TPO_AR_COUNT; i++) {
        if (!strcmp(name, ar_names[i])) {
            return i;
        }
    }
    return -1;
}

/* RFC 6749 NQCHAR: %x21 / %x23-5B / %x5D-7E */
static int nqchar(unsigned char c)
{
    return c >= 0x21 && c <= 0x7e && c != '"' && c != '\\';
}

/* Space-separated words of characters accepted by ok(); at least one word,
 * no empty word (no leading, trailing or double spaces). */
static int word_list(const char *s, int (*ok)(unsigned char), apr_size_t max_word)
{
    apr_size_t n = 0;

    if (!s || !*s) {
        return 0;
    }
    for (; *s; s++) {
        if (*s == ' ') {
            if (n == 0) {
                return 0;
            }
            n = 0;
            continue;
        }
        if (!ok((unsigned char)*s) || ++n > max_word) {
            return 0;
        }
    }
    return n > 0;
}

static int locale_char(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-';
}

static int prompt_index(const char *w, apr_size_t len)
{
    int i;

    for (i = 0; prompt_values[i]; i++) {
        if (strlen(prompt_values[i]) == len && !memcmp(prompt_values[i], w, len)) {
            return i;
        }
    }
    return -1;
}

static const char *check_prompt(apr_pool_t *p, const char *v)
{
    unsigned seen = 0;
    const char *w = v, *e;

    if (!word_list(v, nqchar, 64)) {
        return "prompt: expected space-separated values";
    }
    while (*w) {
        int i;
        e = strchr(w, ' ');
        if (!e) {
            e = w + strlen(w);
        }
        i = prompt_index(w, (apr_size_t)(e - w));
        if (i < 0) {
            return apr_psprintf(p,
                                "prompt: '%.*s' is not one of none, login, consent, "
                                "select_account, create",
                                (int)(e - w), w);
        }
        if (seen & (1u << i)) {
            return apr_psprintf(p, "prompt: '%s' is named twice", prompt_values[i]);
        }
        seen |= 1u << i;
        w = *e ? e + 1 : e;
    }
    if ((seen & 1u) && seen != 1u) {
        return "prompt: none cannot be combined with other values";
    }
    return NULL;
}

const char *tpo_ar_check(apr_pool_t *p, int i, const char *v)
{
    const unsigned char *c;

    switch (i) {
    case TPO_AR_SCOPE:
        return word_list(v, nqchar, 256) ? NULL
                                         : "scope: expected space-separated scope names "
                                           "(printable ASCII without '\"' and '\\')";
    case TPO_AR_ACR_VALUES:
        return word_list(v, nqchar, 256) ? NULL
                                         : "acr_values: expected space-separated values "
                                           "(printable ASCII without '\"' and '\\')";
    case TPO_AR_MAX_AGE:
        if (!v || !*v || strlen(v) > MAX_AGE_DIGITS) {
            return "max_age: expected a whole number of seconds (0 to 999999999)";
        }
        for (c = (const unsigned char *)v; *c; c++) {
            if (*c < '0' || *c > '9') {
                return "max_age: expected a whole number of seconds (0 to 999999999)";
            }
        }
        return NULL;
    case TPO_AR_PROMPT:
        return check_prompt(p, v);
    case TPO_AR_LOGIN_HINT:
        if (!v || !*v || strlen(v) > LOGIN_HINT_MAX) {
            return "login_hint: expected 1 to 512 bytes";
        }
        for (c = (const unsigned char *)v; *c; c++) {
            if (*c < 0x20 || *c == 0x7f) {
                return "login_hint: control characters are not allowed";
            }
        }
        return NULL;
    case TPO_AR_UI_LOCALES:
        return word_list(v, locale_char, LOCALE_MAX) ? NULL
                                                     : "ui_locales: expected space-separated "
                                                       "language tags (e.g. \"de-CH en\")";
    default:
        return "unknown parameter";
    }
}

int tpo_stepup_demands(const tpo_stepup_req *req)
{
    return req && ((req->acr && req->acr[0]) || req->max_auth_age >= 0);
}

int tpo_stepup_check(const tpo_stepup_req *req, const char *acr, apr_time_t auth_time,
                     apr_time_t now, apr_interval_time_t skew)
{
    int flags = 0;

    if (!req) {
        return 0;
    }
    if (req->acr && req->acr[0]) {
        const char *const *a;
        int ok = 0;
        for (a = req->acr; acr && *a; a++) {
            if (!strcmp(*a, acr)) {
                ok = 1;
                break;
            }
        }
        if (!ok) {
            flags |= TPO_STEPUP_ACR;
        }
    }
    if (req->max_auth_age >= 0) {
        if (auth_time <= 0 ||
            now - auth_time > apr_time_from_sec(req->max_auth_age) + (skew > 0 ? skew : 0)) {
            flags |= TPO_STEPUP_AGE;
        }
    }
    return flags;
}

const char *tpo_stepup_acr_text(apr_pool_t *p, const tpo_stepup_req *req)
{
    const char *out = NULL;
    const char *const *a;

    if (!req || !req->acr) {
        return NULL;
    }
    for (a = req->acr; *a; a++) {
        out = out ? apr_pstrcat(p, out, " ", *a, NULL) : *a;
    }
    return out;
}

void tpo_stepup_req_parse(apr_pool_t *p, const char *acr_text, int max_auth_age,
                          tpo_stepup_req *req)
{
    req->acr = NULL;
    req->max_auth_age = max_auth_age;
    if (acr_text && *acr_text) {
        apr_array_header_t *a = apr_array_make(p, 4, sizeof(const char *));
        char *copy = apr_pstrdup(p, acr_text), *last, *w;
        for (w = apr_strtok(copy, " ", &last); w; w = apr_strtok(NULL, " ", &last)) {
            APR_ARRAY_PUSH(a, const char *) = w;
        }
        APR_ARRAY_PUSH(a, const char *) = NULL;
        req->acr = (const char *const *)a->elts;
    }
}

/* Set name to value in the pair list: replace the value where the name
 * already is, else append. */
static void pair_set(apr_array_header_t *pairs, const char *name, const char *value)
{
    int i;

    for (i = 0; i + 1 < pairs->nelts; i += 2) {
        if (!strcmp(APR_ARRAY_IDX(pairs, i, const char *), name)) {
            APR_ARRAY_IDX(pairs, i + 1, const char *) = value;
            return;
        }
    }
    APR_ARRAY_PUSH(pairs, const char *) = name;
    APR_ARRAY_PUSH(pairs, const char *) = value;
}

static const char *pair_get(const apr_array_header_t *pairs, const char *name)
{
    int i;

    for (i = 0; i + 1 < pairs->nelts; i += 2) {
        if (!strcmp(APR_ARRAY_IDX(pairs, i, const char *), name)) {
            return APR_ARRAY_IDX(pairs, i + 1, const char *);
        }
    }
    return NULL;
}

/* "login" followed by the other values of prompt (never none, login once). */
static const char *prompt_with_login(apr_pool_t *p, const char *prompt)
{
    const char *out = "login";
    char *copy, *last, *w;

    if (!prompt) {
        return out;
    }
    copy = apr_pstrdup(p, prompt);
    for (w = apr_strtok(copy, " ", &last); w; w = apr_strtok(NULL, " ", &last)) {
        if (strcmp(w, "none") != 0 && strcmp(w, "login") != 0) {
            out = apr_pstrcat(p, out, " ", w, NULL);
        }
    }
    return out;
}

apr_array_header_t *tpo_authreq_params(apr_pool_t *p, const char *scope,
                                       const apr_array_header_t *provider_params,
                                       const char *const *loc, const tpo_stepup_req *req, int flags)
{
    apr_array_header_t *pairs = apr_array_make(p, 16, sizeof(const char *));
    int i;

    if (scope) {
        pair_set(pairs, "scope", scope);
    }
    for (i = 0; provider_params && i + 1 < provider_params->nelts; i += 2) {
        pair_set(pairs, APR_ARRAY_IDX(provider_params, i, const char *),
                 APR_ARRAY_IDX(provider_params, i + 1, const char *));
    }
    for (i = 0; loc && i < TPO_AR_COUNT; i++) {
        if (loc[i]) {
            pair_set(pairs, ar_names[i], loc[i]);
        }
    }
    if (tpo_stepup_demands(req)) {
        const char *acr = tpo_stepup_acr_text(p, req);
        if (acr) {
            pair_set(pairs, "acr_values", acr);
        }
        if (req->max_auth_age >= 0) {
            pair_set(pairs, "max_age", apr_itoa(p, req->max_auth_age));
        }
        if (flags & TPO_STEPUP_AGE) {
            pair_set(pairs, "prompt", prompt_with_login(p, pair_get(pairs, "prompt")));
        }
    }
    return pairs;
}

const char *tpo_stepup_challenge(apr_pool_t *p, const char *realm, const tpo_stepup_req *req,
                                 int flags)
{
    const char *desc, *acr = req ? tpo_stepup_acr_text(p, req) : NULL;

    if ((flags & TPO_STEPUP_ACR) && (flags & TPO_STEPUP_AGE)) {
        desc = "A different and more recent authentication is required";
    }
    else if (flags & TPO_STEPUP_AGE) {
        desc = "More recent authentication is required";
    }
    else {
        desc = "A different authentication level is required";
    }
    /* acr values are NQCHAR words (checked at configuration time): no
     * escaping needed inside the quotes */
    return apr_pstrcat(p, "Bearer realm=", tpo_quoted_string(p, realm ? realm : ""),
                       ", error=\"insufficient_user_authentication\", error_description=\"", desc,
                       "\"", acr ? ", acr_values=\"" : "", acr ? acr : "", acr ? "\"" : "",
                       req && req->max_auth_age >= 0 ? ", max_age=\"" : "",
                       req && req->max_auth_age >= 0 ? apr_itoa(p, req->max_auth_age) : "",
                       req && req->max_auth_age >= 0 ? "\"" : "", NULL);
}
