/* SPDX-License-Identifier: Apache-2.0
 * Licensed under the Apache License, Version 2.0 (see LICENSE). */
#include <ctype.h>
#include <string.h>
#include <strings.h>
#include <apr_hash.h>
#include <apr_strings.h>
#include "tpo_claims.h"
#include "tpo_log.h"

/* Environment variables a claim must never set, whatever the IdP sends:
 * they steer the dynamic linker, shells, interpreters, or are CGI variables
 * an application trusts. Compared without regard to case. */
static const char *const dangerous_env[] = {"PATH",
                                            "HOME",
                                            "SHELL",
                                            "IFS",
                                            "ENV",
                                            "BASH_ENV",
                                            "CDPATH",
                                            "PS4",
                                            "TMPDIR",
                                            "TZ",
                                            "LANG",
                                            "LANGUAGE",
                                            "LOCPATH",
                                            "NLSPATH",
                                            "GCONV_PATH",
                                            "HOSTALIASES",
                                            "RES_OPTIONS",
                                            "LOCALDOMAIN",
                                            "PERL5LIB",
                                            "PERL5OPT",
                                            "PERLLIB",
                                            "PYTHONPATH",
                                            "PYTHONHOME",
                                            "PYTHONSTARTUP",
                                            "RUBYLIB",
                                            "RUBYOPT",
                                            "NODE_OPTIONS",
                                            "NODE_PATH",
                                            "PHPRC",
                                            "CLASSPATH",
                                            "JAVA_TOOL_OPTIONS",
                                            "_JAVA_OPTIONS",
                                            "REMOTE_USER",
                                            "AUTH_TYPE",
                                            "DOCUMENT_ROOT",
                                            "QUERY_STRING",
                                            "CONTENT_TYPE",
                                            "CONTENT_LENGTH",
                                            "GATEWAY_INTERFACE",
                                            "HTTPS",
                                            NULL};
static const char *const dangerous_env_prefixes[] = {
    "LD_",   "DYLD_",   "BASH_FUNC_", "MALLOC_", "GLIBC_",  "LC_",
    "HTTP_", "SERVER_", "REQUEST_",   "SCRIPT_", "REMOTE_", "REDIRECT_",
    "SSL_",  "PATH_",   "CONTEXT_",   "GIT_",    NULL};

int tpo_claims_env_name_dangerous(const char *name)
{
    int i;

    for (i = 0; dangerous_env[i]; i++) {
        if (!strcasecmp(name, dangerous_env[i]))
            return 1;
    }
    for (i = 0; dangerous_env_prefixes[i]; i++) {
        if (!strncasecmp(name, dangerous_env_prefixes[i], strlen(dangerous_env_prefixes[i]))) {
            return 1;
        }
    }
    return 0;
}

const char *tpo_claims_env_prefix_problem(apr_pool_t *p, const char *prefix)
{
    const char *c;
    apr_size_t n;
    int i;

    if (!prefix || !*prefix)
        return "must not be empty";
    if (isdigit((unsigned char)*prefix))
        return "must not begin with a digit";
    for (c = prefix; *c; c++) {
        if (!isalnum((unsigned char)*c) && *c != '_') {
            return "may contain only A-Z, a-z, 0-9 and _";
        }
    }
    /* a claim name completes the prefix: refuse any prefix that some claim
     * could turn into a dangerous name */
    n = strlen(prefix);
    for (i = 0; dangerous_env[i]; i++) {
        if (!strncasecmp(dangerous_env[i], prefix, n)) {
            return apr_psprintf(p, "a claim could turn it into %s", dangerous_env[i]);
        }
    }
    for (i = 0; dangerous_env_prefixes[i]; i++) {
        const char *d = dangerous_env_prefixes[i];
        apr_size_t dn = strlen(d);
        if (!strncasecmp(prefix, d, dn < n ? dn : n)) {
            return apr_psprintf(p, "a claim could turn it into %s...", d);
        }
    }
    return NULL;
}

const char *tpo_claims_header_prefix_problem(apr_pool_t *p, const char *prefix)
{
    const char *c;

    (void)p;
    if (!prefix || !*prefix)
        return "must not be empty";
    for (c = prefix; *c; c++) {
        if (!isalnum((unsigned char)*c) && *c != '-') {
            return "may contain only A-Z, a-z, 0-9 and -";
        }
    }
    return NULL;
}

static const char *const protocol_claims[] = {
    "iss",       "sub",     "aud",    "exp", "iat", "nbf", "nonce", "azp",
    "auth_time", "at_hash", "c_hash", "acr", "amr", "sid", "jti",   NULL};

/* Claims that mean nothing to an application and are not exported. */
static const char *const hidden_claims[] = {"nonce", "at_hash", "c_hash", NULL};

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
        /* decimal, as %lld would write it */
        char buf[24], *e = buf + sizeof(buf), *d = e;
        apr_int64_t i = (apr_int64_t)json_integer_value(v);
        apr_uint64_t u = i < 0 ? 0 - (apr_uint64_t)i : (apr_uint64_t)i;
        do {
            *--d = (char)('0' + u % 10);
            u /= 10;
        } while (u);
        if (i < 0) {
            *--d = '-';
        }
        return apr_pstrmemdup(p, d, (apr_size_t)(e - d));
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
    apr_size_t pl = strlen(prefix), n = strlen(path);
    char *out = apr_palloc(p, pl + n + 1), *c;

    memcpy(out, prefix, pl);
    memcpy(out + pl, path, n + 1);
    for (c = out + pl; *c; c++) {
        /* ASCII letters and digits, whatever the locale */
        if ((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') ||
            (*c == '_' && allow_underscore) || (*c == '-' && allow_dash)) {
            continue;
        }
        *c = repl;
    }
    return out;
}

static void push(apr_array_header_t *a, const char *n, const char *v)
{
    APR_ARRAY_PUSH(a, const char *) = n;
    APR_ARRAY_PUSH(a, const char *) = v;
}

/* Printable ASCII without '%': the variable's and the header's value are
 * the value as it is (one copy for both: the value may live in a JSON tree
 * that goes before the rendering). */
static int plain_value(const char *v)
{
    const unsigned char *s;

    for (s = (const unsigned char *)v; *s; s++) {
        if (*s < 0x20 || *s >= 0x7f || *s == '%') {
            return 0;
        }
    }
    return 1;
}

static void emit(apr_pool_t *p, const tpo_claims_render *cfg, tpo_claims_out *out,
                 const char *env_name, const char *hdr_name, const char *value)
{
    if (plain_value(value)) {
        const char *v = apr_pstrdup(p, value);
        push(out->env, env_name, v);
        push(out->headers, hdr_name, v);
        return;
    }
    push(out->env, env_name, tpo_claims_env_value(p, value));
    push(out->headers, hdr_name, tpo_claims_header_value(p, value));
}

/* Names already given out in this rendering (variables and headers, both
 * compared without regard to case, as httpd's tables do), and what is the
 * same for every claim of the rendering. */
typedef struct {
    apr_hash_t *env, *hdr;
    const char *claim_hdr_prefix; /* <header prefix>Claim- */
    int prefix_safe; /* the variable prefix passes tpo_claims_env_prefix_problem: no claim
                      * can complete it to a dangerous name */
} taken_names;

static const char *lower(apr_pool_t *p, const char *s)
{
    char *l = apr_pstrdup(p, s), *c;
    for (c = l; *c; c++) {
        if (*c >= 'A' && *c <= 'Z') {
            *c = (char)(*c - 'A' + 'a');
        }
    }
    return l;
}

static void take(apr_pool_t *p, apr_hash_t *h, const char *name)
{
    apr_hash_set(h, lower(p, name), APR_HASH_KEY_STRING, "");
}

/* A claim's variable and header: both exported, or neither (a name taken
 * by an earlier claim, or a dangerous variable name). */
static void emit_claim(apr_pool_t *p, const tpo_claims_render *cfg, tpo_claims_out *out,
                       taken_names *taken, const char *env_name, const char *hdr_name,
                       const char *value)
{
    const char *env_l, *hdr_l;

    if (!taken->prefix_safe && tpo_claims_env_name_dangerous(env_name)) {
        tpo_log(TPO_LOG_MARK, TPO_LOG_WARN,
                TPO_APLOGNO(00068) "claims: variable %s is not allowed; that claim "
                                   "is not exported (check TPOAuthClaimPrefix)",
                env_name);
        return;
    }
    env_l = lower(p, env_name);
    hdr_l = lower(p, hdr_name);
    if (apr_hash_get(taken->env, env_l, APR_HASH_KEY_STRING) ||
        apr_hash_get(taken->hdr, hdr_l, APR_HASH_KEY_STRING)) {
        tpo_log(
            TPO_LOG_MARK, TPO_LOG_WARN,
            TPO_APLOGNO(
                00069) "claims: variable %s / header %s is already "
                       "taken by an earlier claim; the later claim with that name is not exported",
            env_name, hdr_name);
        return;
    }
    apr_hash_set(taken->env, env_l, APR_HASH_KEY_STRING, "");
    apr_hash_set(taken->hdr, hdr_l, APR_HASH_KEY_STRING, "");
    emit(p, cfg, out, env_name, hdr_name, value);
}

/* Join an array of scalars; escape the delimiter and backslashes inside
 * elements. NULL if the array holds anything but scalars. */
static const char *join_array(apr_pool_t *p, json_t *arr, const char *delim)
{
    apr_size_t i, dl = strlen(delim);
    json_t *e;
    char *res = "";

    json_array_foreach(arr, i, e)
    {
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
                         taken_names *taken, const char *path, json_t *v, int depth)
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
        json_object_foreach(v, k, c)
        {
            render_value(p, cfg, out, taken, apr_pstrcat(p, path, cfg->separator, k, NULL), c,
                         depth + 1);
        }
        return;
    }
    if (s) {
        emit_claim(p, cfg, out, taken, name_chars(p, cfg->claim_prefix, path, '_', 1, 0),
                   name_chars(p, taken->claim_hdr_prefix, path, '-', 0, 1), s);
    }
}

void tpo_claims_render_all(apr_pool_t *p, const tpo_claims_render *cfg, const char *user,
                           json_t *claims, const char *access_token, long long at_expires,
                           const char *scope, tpo_claims_out *out)
{
    const char *k;
    json_t *v;
    const char *hp = cfg->header_prefix;
    taken_names taken;

    out->env = apr_array_make(p, 32, sizeof(const char *));
    out->headers = apr_array_make(p, 32, sizeof(const char *));
    /* the module's own names are never a claim's */
    taken.env = apr_hash_make(p);
    taken.hdr = apr_hash_make(p);
    taken.claim_hdr_prefix = apr_pstrcat(p, hp, "Claim-", NULL);
    taken.prefix_safe = cfg->claim_prefix && cfg->claim_prefix[0] &&
                        !tpo_claims_env_prefix_problem(p, cfg->claim_prefix);
    take(p, taken.env, "TPO_CLAIMS");
    take(p, taken.env, "TPO_ACCESS_TOKEN");
    take(p, taken.env, "TPO_ACCESS_TOKEN_EXPIRES");
    take(p, taken.env, "TPO_SCOPE");
    take(p, taken.hdr, cfg->user_header ? cfg->user_header : apr_pstrcat(p, hp, "User", NULL));
    take(p, taken.hdr, apr_pstrcat(p, hp, "Claims", NULL));
    take(p, taken.hdr, apr_pstrcat(p, hp, "Access-Token", NULL));
    take(p, taken.hdr, apr_pstrcat(p, hp, "Access-Token-Expires", NULL));
    take(p, taken.hdr, apr_pstrcat(p, hp, "Scope", NULL));
    if (user) {
        /* REMOTE_USER itself is r->user; the header carries it for proxies */
        push(out->headers, cfg->user_header ? cfg->user_header : apr_pstrcat(p, hp, "User", NULL),
             tpo_claims_header_value(p, user));
    }
    if (claims) {
        json_object_foreach(claims, k, v)
        {
            if (!in_list(hidden_claims, k)) {
                render_value(p, cfg, out, &taken, k, v, 0);
            }
        }
        if (cfg->claims_text) {
            emit(p, cfg, out, "TPO_CLAIMS", apr_pstrcat(p, hp, "Claims", NULL), cfg->claims_text);
        }
        else {
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
        json_array_foreach(v, i, e)
        {
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
    json_object_foreach(userinfo, k, v)
    {
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

    json_object_foreach_safe(claims, tmp, k, v)
    {
        int keep = (!allow || !allow[0] || in_list(allow, k) || !strcmp(k, "sub")) &&
                   (!in_list(deny, k) || !strcmp(k, "sub"));
        if (!keep) {
            json_object_del(claims, k);
        }
    }
}
