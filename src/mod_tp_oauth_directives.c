/* SPDX-License-Identifier: Apache-2.0
 * Licensed under the Apache License, Version 2.0 (see LICENSE). */
/* The directives: the typed handlers driven by the directive table
 * (mod_tp_oauth_directive_table.h), the handlers of the directives with
 * their own syntax, and tpa_cmds[] generated from the table. Defaults come
 * from tpo_defaults.h through the table; defaults computed from other
 * settings and the cross-directive checks are in mod_tp_oauth_config_check.c. */
#include <stddef.h>
#include <stdlib.h>
#include <apr_lib.h>
#include <apr_strings.h>
#include <openssl/crypto.h>
#include "mod_tp_oauth_base.h"
#include "tpo_cache_crypt.h"
#include "tpo_defaults.h"
#include "tpo_cookie.h"
#include "tpo_pending_cookie.h"
#include "tpo_origin.h"
#include "tpo_post.h"
#include "tpo_par.h"
#include "tpo_provider.h"
#include "tpo_forwarded.h"
#include "tpo_client_keys.h"

static const char *const known_algs[] = {"RS256", "RS384", "RS512", "PS256", "PS384",
                                         "PS512", "ES256", "ES384", "ES512", "EdDSA",
                                         "HS256", "HS384", "HS512", NULL};

/* ------------------------------------------------------------ helpers */

static const char *where(cmd_parms *cmd)
{
    return apr_psprintf(cmd->pool, "%s:%d", cmd->directive->filename, cmd->directive->line_num);
}

/* Provider directives are valid only inside <TPOAuthProvider>; mconfig is
 * then the provider being defined. */
static tpa_provider_conf *in_provider(cmd_parms *cmd, void *mconfig, const char **err)
{
    const ap_directive_t *parent = cmd->directive ? cmd->directive->parent : NULL;

    if (!parent || strcasecmp(parent->directive, "<TPOAuthProvider") != 0) {
        *err = apr_psprintf(cmd->pool, "%s is only valid inside a <TPOAuthProvider> section",
                            cmd->cmd->name);
        return NULL;
    }
    *err = NULL;
    return mconfig;
}

static const char *parse_size(apr_pool_t *p, const char *name, const char *arg, apr_off_t *out)
{
    char *end;
    apr_off_t v;

    if (apr_strtoff(&v, arg, &end, 10) != APR_SUCCESS || v <= 0) {
        return apr_psprintf(p, "%s: '%s' is not a size (e.g. 1048576, 512K, 64M, 1G)", name, arg);
    }
    switch (*end) {
    case '\0':
        break;
    case 'k':
    case 'K':
        v *= 1024;
        end++;
        break;
    case 'm':
    case 'M':
        v *= 1024 * 1024;
        end++;
        break;
    case 'g':
    case 'G':
        v *= 1024 * 1024 * 1024;
        end++;
        break;
    default:
        end = "x";
        break;
    }
    if (*end != '\0') {
        return apr_psprintf(p, "%s: '%s' is not a size (e.g. 1048576, 512K, 64M, 1G)", name, arg);
    }
    *out = v;
    return NULL;
}

static const char *parse_seconds(apr_pool_t *p, const char *name, const char *arg, int min, int max,
                                 int *out)
{
    char *end;
    long v = strtol(arg, &end, 10);

    if (*arg == '\0' || *end != '\0' || v < min || v > max) {
        return apr_psprintf(p, "%s: '%s' must be a whole number from %d to %d", name, arg, min,
                            max);
    }
    *out = (int)v;
    return NULL;
}

/* seconds with an optional fraction ("0.5") -> milliseconds */
static const char *parse_ms(apr_pool_t *p, const char *name, const char *arg, int *out)
{
    char *end;
    double v = strtod(arg, &end);

    if (*arg == '\0' || *end != '\0' || !(v > 0.0) || v > 600.0) {
        return apr_psprintf(p, "%s: '%s' must be a number of seconds from 0.001 to 600", name, arg);
    }
    *out = (int)(v * 1000.0 + 0.5);
    if (*out < 1) {
        *out = 1;
    }
    return NULL;
}

static const char *check_http_url(cmd_parms *cmd, const char *arg)
{
    if (!tpo_url_is_http(arg)) {
        return apr_psprintf(cmd->pool, "%s: '%s' is not an absolute http:// or https:// URL",
                            cmd->cmd->name, arg);
    }
    return NULL;
}

/* ------------------------------------------------------------ the table */

/* A keyword of an ENUM directive and the value it stores. */
typedef struct tpa_kw {
    const char *word;
    int value;
} tpa_kw;

static const tpa_kw kw_client_auth[] = {
    {"client_secret_basic", TPO_CLIENT_AUTH_BASIC},
    {"client_secret_post", TPO_CLIENT_AUTH_POST},
    {"client_secret_jwt", TPO_CLIENT_AUTH_SECRET_JWT},
    {"private_key_jwt", TPO_CLIENT_AUTH_PRIVATE_KEY_JWT},
    {"tls_client_auth", TPO_CLIENT_AUTH_TLS},
    {"self_signed_tls_client_auth", TPO_CLIENT_AUTH_SELF_SIGNED_TLS},
    {"none", TPO_CLIENT_AUTH_NONE},
    {NULL, 0}};
static const tpa_kw kw_client_assertion_aud[] = {{"token", TPO_CLIENT_AUD_TOKEN},
                                                 {"issuer", TPO_CLIENT_AUD_ISSUER},
                                                 {"endpoint", TPO_CLIENT_AUD_ENDPOINT},
                                                 {NULL, 0}};
static const tpa_kw kw_token_encoding[] = {
    {"form", TPO_TOKEN_ENC_FORM}, {"json", TPO_TOKEN_ENC_JSON}, {NULL, 0}};
static const tpa_kw kw_cookie_secure[] = {{"on", TPO_COOKIE_SECURE_ON},
                                          {"off", TPO_COOKIE_SECURE_OFF},
                                          {"auto", TPO_COOKIE_SECURE_AUTO},
                                          {NULL, 0}};
static const tpa_kw kw_refresh_failure[] = {
    {"502", TPO_REFRESH_FAIL_502}, {"login", TPO_REFRESH_FAIL_LOGIN}, {NULL, 0}};
static const tpa_kw kw_export[] = {{"env", TPO_EXPORT_ENV},
                                   {"headers", TPO_EXPORT_HEADERS},
                                   {"both", TPO_EXPORT_BOTH},
                                   {"none", TPO_EXPORT_NONE},
                                   {NULL, 0}};
static const tpa_kw kw_unauth[] = {
    {"login", TPO_UNAUTH_LOGIN}, {"401", TPO_UNAUTH_401}, {"pass", TPO_UNAUTH_PASS}, {NULL, 0}};
static const tpa_kw kw_backend_token[] = {{"none", TPO_BACKEND_TOKEN_NONE},
                                          {"user", TPO_BACKEND_TOKEN_USER},
                                          {"client", TPO_BACKEND_TOKEN_CLIENT},
                                          {NULL, 0}};
static const tpa_kw kw_authz[] = {
    {"403", TPO_AUTHZ_403}, {"401", TPO_AUTHZ_401}, {"login", TPO_AUTHZ_LOGIN}, {NULL, 0}};
static const tpa_kw kw_bearer[] = {
    {"off", TPO_BEARER_OFF}, {"on", TPO_BEARER_ON}, {"only", TPO_BEARER_ONLY}, {NULL, 0}};
static const tpa_kw kw_par[] = {
    {"off", TPO_PAR_OFF}, {"on", TPO_PAR_ON}, {"auto", TPO_PAR_AUTO}, {NULL, 0}};
static const tpa_kw kw_bearer_validation[] = {{"auto", TPO_BEARER_VALIDATE_AUTO},
                                              {"jwt", TPO_BEARER_VALIDATE_JWT},
                                              {"introspection", TPO_BEARER_VALIDATE_INTROSPECT},
                                              {NULL, 0}};

typedef enum { T_NONE, T_STR, T_INT, T_FLAG, T_ENUM, T_SIZE, T_MS } tpa_dir_type;

/* One row of the directive table. */
typedef struct tpa_directive {
    const char *name;
    tpa_dir_ctx ctx;
    tpa_dir_type type;
    apr_size_t offset; /* of the field in the context's record */
    int min, max;
    const tpa_kw *kw;
    const char *def; /* the default, as argument text; NULL: none/computed */
} tpa_directive;

#define TPO_NOFIELD ((apr_size_t)-1)
#define TPO_PC(m) APR_OFFSETOF(tpa_provider_conf, m)
#define TPO_SC(m) APR_OFFSETOF(tpa_server_conf, m)
#define TPO_DC(m) APR_OFFSETOF(tpa_dir_conf, m)

/* TPO_DI_<id>: the index of each row */
enum {
#define TPO_DIR(id, name, args, handler, ctx, type, field, min, max, kw, def, help) TPO_DI_##id,
#include "mod_tp_oauth_directive_table.h"
#undef TPO_DIR
    TPO_DI_COUNT
};

static const tpa_directive table[] = {
#define TPO_DIR(id, name, args, handler, ctx, type, field, min, max, kw, def, help)                \
    {name, TPO_CTX_##ctx, T_##type, field, min, max, kw, def},
#include "mod_tp_oauth_directive_table.h"
#undef TPO_DIR
};

#define ROW(cmd) ((const tpa_directive *)(cmd)->info)
#define FIELD(base, row, T) ((T *)((char *)(base) + (row)->offset))

static const char *kw_lookup(const tpa_kw *kw, const char *arg, int *out)
{
    for (; kw->word; kw++) {
        if (!strcasecmp(arg, kw->word)) {
            *out = kw->value;
            return NULL;
        }
    }
    return "";
}

/* "NAME takes a, b or c" */
static const char *kw_error(apr_pool_t *p, const char *name, const tpa_kw *kw)
{
    const char *msg = apr_pstrcat(p, name, " takes ", kw->word, NULL);

    for (kw++; kw->word; kw++) {
        msg = apr_pstrcat(p, msg, kw[1].word ? ", " : " or ", kw->word, NULL);
    }
    return msg;
}

/* The row's value from argument text (a directive's or the default). */
static const char *parse_into(apr_pool_t *p, const tpa_directive *d, void *base, const char *arg)
{
    const char *err;
    apr_off_t size = 0;
    int v;

    switch (d->type) {
    case T_STR:
        *FIELD(base, d, const char *) = arg;
        return NULL;
    case T_INT:
        return parse_seconds(p, d->name, arg, d->min, d->max, FIELD(base, d, int));
    case T_FLAG:
        if (!strcasecmp(arg, "on") || !strcasecmp(arg, "off")) {
            *FIELD(base, d, int) = !strcasecmp(arg, "on");
            return NULL;
        }
        return apr_psprintf(p, "%s must be On or Off", d->name);
    case T_ENUM:
        if (kw_lookup(d->kw, arg, &v)) {
            return kw_error(p, d->name, d->kw);
        }
        *FIELD(base, d, int) = v;
        return NULL;
    case T_SIZE:
        if ((err = parse_size(p, d->name, arg, &size)) != NULL) {
            return err;
        }
        if (size < d->min) {
            return apr_psprintf(p, "%s must be at least %dM", d->name, d->min / (1024 * 1024));
        }
        *FIELD(base, d, apr_off_t) = size;
        return NULL;
    case T_MS:
        return parse_ms(p, d->name, arg, FIELD(base, d, int));
    default:
        return apr_psprintf(p, "%s: no typed handler", d->name);
    }
}

static int is_unset(const tpa_directive *d, const void *base)
{
    switch (d->type) {
    case T_STR:
        return *FIELD(base, d, const char *const) == NULL;
    case T_INT:
    case T_FLAG:
    case T_ENUM:
    case T_MS:
        return *FIELD(base, d, const int) == TPO_UNSET;
    case T_SIZE:
        return *FIELD(base, d, const apr_off_t) == TPO_UNSET;
    default:
        return 0;
    }
}

void tpa_directives_unset(tpa_dir_ctx ctx, void *conf)
{
    int i;

    for (i = 0; i < TPO_DI_COUNT; i++) {
        const tpa_directive *d = &table[i];
        if (d->ctx != ctx || d->offset == TPO_NOFIELD) {
            continue;
        }
        switch (d->type) {
        case T_STR:
            *FIELD(conf, d, const char *) = NULL;
            break;
        case T_INT:
        case T_FLAG:
        case T_ENUM:
        case T_MS:
            *FIELD(conf, d, int) = TPO_UNSET;
            break;
        case T_SIZE:
            *FIELD(conf, d, apr_off_t) = TPO_UNSET;
            break;
        default:
            break;
        }
    }
}

const char *tpa_directives_defaults(apr_pool_t *p, tpa_dir_ctx ctx, void *conf)
{
    const char *err;
    int i;

    for (i = 0; i < TPO_DI_COUNT; i++) {
        const tpa_directive *d = &table[i];
        if (d->ctx != ctx || d->offset == TPO_NOFIELD || !d->def || !is_unset(d, conf)) {
            continue;
        }
        if ((err = parse_into(p, d, conf, d->def)) != NULL) {
            return apr_psprintf(p, "the default of %s: %s", d->name, err);
        }
    }
    return NULL;
}

/* The record a typed directive writes into, after the context check. */
static void *target(cmd_parms *cmd, void *mconfig, const char **err)
{
    switch (ROW(cmd)->ctx) {
    case TPO_CTX_SERVER:
        *err = ap_check_cmd_context(cmd, GLOBAL_ONLY);
        return *err ? NULL : tpa_config_server(cmd->server);
    case TPO_CTX_PROVIDER:
        return in_provider(cmd, mconfig, err);
    default:
        *err = NULL;
        return mconfig;
    }
}

/* set_value: one argument, parsed by the row's type into its field */
static const char *set_value(cmd_parms *cmd, void *mconfig, const char *arg)
{
    const char *err;
    void *base = target(cmd, mconfig, &err);

    return base ? parse_into(cmd->pool, ROW(cmd), base, arg) : err;
}

static const char *set_url(cmd_parms *cmd, void *mconfig, const char *arg)
{
    const char *err = check_http_url(cmd, arg);
    return err ? err : set_value(cmd, mconfig, arg);
}

static const char *set_flag(cmd_parms *cmd, void *mconfig, int on)
{
    return set_value(cmd, mconfig, on ? "on" : "off");
}

/* ------------------------------------------------------------ server directives */

static const char *cmd_cache(cmd_parms *cmd, void *mconfig, const char *type, const char *servers)
{
    tpa_server_conf *sc = tpa_config_server(cmd->server);
    const char *err = ap_check_cmd_context(cmd, GLOBAL_ONLY);

    if (err) {
        return err;
    }
    if (!strcasecmp(type, "shm")) {
        if (servers) {
            return "TPOAuthCache shm takes no server list";
        }
        sc->cache_type = TPO_CACHE_SHM;
    }
    else if (!strcasecmp(type, "memcache") || !strcasecmp(type, "redis")) {
        if (!servers) {
            return apr_psprintf(cmd->pool,
                                "TPOAuthCache %s needs a server list, e.g. "
                                "127.0.0.1:%s",
                                type, strcasecmp(type, "redis") ? "11211" : "6379");
        }
        sc->cache_type = strcasecmp(type, "redis") ? TPO_CACHE_MEMCACHE : TPO_CACHE_REDIS;
        sc->cache_servers = servers;
    }
    else {
        return "TPOAuthCache takes shm, memcache SERVERS or redis SERVERS";
    }
    sc->cache_set_at = where(cmd);
    return NULL;
}

static const char *cmd_cache_passphrase(cmd_parms *cmd, void *mconfig, const char *pass,
                                        const char *prev)
{
    tpa_server_conf *sc = tpa_config_server(cmd->server);
    const char *err = ap_check_cmd_context(cmd, GLOBAL_ONLY);

    if (err) {
        return err;
    }
    if (strlen(pass) < TPO_CRYPT_MIN_PASSPHRASE ||
        (prev && strlen(prev) < TPO_CRYPT_MIN_PASSPHRASE)) {
        return "TPOAuthCachePassphrase: use at least 16 characters";
    }
    sc->cache_passphrase = pass;
    sc->cache_passphrase_prev = prev;
    return NULL;
}

/* The key files are read here, so that configtest refuses a missing or
 * short one. */
static const char *cmd_cache_key_file(cmd_parms *cmd, void *mconfig, const char *file,
                                      const char *prev)
{
    tpa_server_conf *sc = tpa_config_server(cmd->server);
    const char *err = ap_check_cmd_context(cmd, GLOBAL_ONLY), *why = NULL, *path;
    apr_status_t rv;

    if (err) {
        return err;
    }
    path = ap_server_root_relative(cmd->pool, file);
    if (!path) {
        return apr_psprintf(cmd->pool, "TPOAuthCacheKeyFile: bad path %s", file);
    }
    rv = tpo_crypt_key_file_read(cmd->pool, path, &sc->cache_key_bytes, &sc->cache_key_len, &why);
    if (rv != APR_SUCCESS) {
        return apr_psprintf(cmd->pool, "TPOAuthCacheKeyFile %s: %s", path, why);
    }
    sc->cache_key_file = path;
    sc->cache_key_file_prev = NULL;
    sc->cache_key_prev_bytes = NULL;
    sc->cache_key_prev_len = 0;
    if (prev) {
        path = ap_server_root_relative(cmd->pool, prev);
        if (!path) {
            return apr_psprintf(cmd->pool, "TPOAuthCacheKeyFile: bad path %s", prev);
        }
        rv = tpo_crypt_key_file_read(cmd->pool, path, &sc->cache_key_prev_bytes,
                                     &sc->cache_key_prev_len, &why);
        if (rv != APR_SUCCESS) {
            return apr_psprintf(cmd->pool, "TPOAuthCacheKeyFile %s (previous): %s", path, why);
        }
        sc->cache_key_file_prev = path;
    }
    return NULL;
}

/* The secret the login cookies' key is derived from: read at configuration
 * time, so a missing or short file fails configtest. */
static const char *cmd_trusted_proxies(cmd_parms *cmd, void *mconfig, const char *arg)
{
    tpa_server_conf *sc = tpa_config_server(cmd->server);
    const char *err = ap_check_cmd_context(cmd, GLOBAL_ONLY);
    tpo_cidr *c;

    if (err) {
        return err;
    }
    if (!sc->trusted_proxies) {
        sc->trusted_proxies = apr_array_make(cmd->pool, 4, sizeof(tpo_cidr));
    }
    c = apr_array_push(sc->trusted_proxies);
    if (!tpo_cidr_parse(arg, c)) {
        return apr_psprintf(cmd->pool,
                            "%s: '%s' is not an IPv4/IPv6 address or address/prefix-length",
                            cmd->cmd->name, arg);
    }
    return NULL;
}

static const char *cmd_login_key_file(cmd_parms *cmd, void *mconfig, const char *arg)
{
    tpa_server_conf *sc = tpa_config_server(cmd->server);
    const char *err = ap_check_cmd_context(cmd, GLOBAL_ONLY);
    const char *path;
    unsigned char *buf;
    apr_file_t *f;
    apr_finfo_t fi;
    apr_size_t n = 0;
    apr_status_t rv;
    const char *why;

    if (err) {
        return err;
    }
    path = ap_server_root_relative(cmd->pool, arg);
    if (!path) {
        return apr_psprintf(cmd->pool, "%s: invalid path %s", cmd->cmd->name, arg);
    }
    rv = apr_file_open(&f, path, APR_FOPEN_READ | APR_FOPEN_BINARY, APR_OS_DEFAULT, cmd->temp_pool);
    if (rv != APR_SUCCESS) {
        char msg[120];
        return apr_psprintf(cmd->pool, "%s: cannot open %s: %s", cmd->cmd->name, path,
                            apr_strerror(rv, msg, sizeof(msg)));
    }
    buf = apr_palloc(cmd->pool, TPO_PENDING_SECRET_MAX + 1);
    rv = apr_file_read_full(f, buf, TPO_PENDING_SECRET_MAX + 1, &n);
    apr_file_close(f);
    if (rv != APR_SUCCESS && rv != APR_EOF) {
        return apr_psprintf(cmd->pool, "%s: cannot read %s", cmd->cmd->name, path);
    }
    if (n < TPO_PENDING_SECRET_MIN || n > TPO_PENDING_SECRET_MAX) {
        return apr_psprintf(cmd->pool,
                            "%s: %s must hold %d to %d bytes of random data "
                            "(e.g. openssl rand -out FILE 32), it has %" APR_SIZE_T_FMT,
                            cmd->cmd->name, path, TPO_PENDING_SECRET_MIN, TPO_PENDING_SECRET_MAX,
                            n);
    }
    if ((why = tpo_pending_secret_problem(buf, n)) != NULL) {
        OPENSSL_cleanse(buf, n);
        return apr_psprintf(cmd->pool,
                            "%s: %s: %s; make a random key with: "
                            "openssl rand -out %s 32 (and chmod 600 it)",
                            cmd->cmd->name, path, why, path);
    }
    /* anyone who reads it can forge login cookies (or read them) */
    if (apr_stat(&fi, path, APR_FINFO_PROT, cmd->temp_pool) == APR_SUCCESS &&
        (fi.protection & (APR_GREAD | APR_GWRITE | APR_WREAD | APR_WWRITE))) {
        ap_log_error(APLOG_MARK, APLOG_STARTUP | APLOG_WARNING, 0, NULL,
                     TPO_APLOGNO(00081) "%s (%s): %s is readable or writable by group or others; "
                                        "make it readable by its owner only (chmod 600)",
                     cmd->cmd->name, where(cmd), path);
    }
    sc->login_secret = buf;
    sc->login_secret_len = n;
    sc->login_secret_at = where(cmd);
    return NULL;
}

static tpa_provider_conf *provider_new(apr_pool_t *p)
{
    tpa_provider_conf *pc = apr_pcalloc(p, sizeof(*pc));

    tpa_directives_unset(TPO_CTX_PROVIDER, pc);
    /* TPOAuthHTTPTimeout sets two fields */
    pc->connect_timeout_ms = TPO_UNSET;
    pc->timeout_ms = TPO_UNSET;
    pc->auth_params = apr_array_make(p, 4, sizeof(const char *));
    return pc;
}

static const char *cmd_provider_section(cmd_parms *cmd, void *mconfig, const char *arg)
{
    tpa_server_conf *sc = tpa_config_server(cmd->server);
    const char *err = ap_check_cmd_context(cmd, NOT_IN_DIR_CONTEXT);
    const char *endp = ap_strrchr_c(arg, '>');
    const ap_directive_t *d;
    tpa_provider_conf *pc, *prev;
    ap_conf_vector_t *vec;
    char *name;

    if (err) {
        return err;
    }
    if (!endp) {
        return "<TPOAuthProvider> section is missing its closing '>'";
    }
    name = apr_pstrndup(cmd->pool, arg, endp - arg);
    name = ap_getword_conf(cmd->pool, (const char **)&name);
    if (!*name) {
        return "<TPOAuthProvider> needs a name, e.g. <TPOAuthProvider corp>";
    }
    prev = apr_hash_get(sc->providers, name, APR_HASH_KEY_STRING);
    if (prev) {
        return apr_psprintf(cmd->pool, "<TPOAuthProvider %s> is defined twice (first at %s)", name,
                            prev->defined_at);
    }
    for (d = cmd->directive->first_child; d; d = d->next) {
        if (strncasecmp(d->directive, "TPOAuth", 7) != 0) {
            return apr_psprintf(cmd->pool,
                                "%s is not allowed inside <TPOAuthProvider %s> "
                                "(%s:%d)",
                                d->directive, name, d->filename, d->line_num);
        }
    }
    pc = provider_new(cmd->pool);
    pc->name = name;
    pc->defined_at = where(cmd);
    vec = ap_create_per_dir_config(cmd->pool);
    ap_set_module_config(vec, &tp_oauth_module, pc);
    err = ap_walk_config(cmd->directive->first_child, cmd, vec);
    if (err) {
        return err;
    }
    apr_hash_set(sc->providers, name, APR_HASH_KEY_STRING, pc);
    return NULL;
}

/* ------------------------------------------------------------ per-directory */

static const char *cmd_dir_provider(cmd_parms *cmd, void *mconfig, const char *arg)
{
    tpa_dir_conf *dc = mconfig;

    if (cmd->directive->parent &&
        strcasecmp(cmd->directive->parent->directive, "<TPOAuthProvider") == 0) {
        return "TPOAuthProvider (selecting a provider) cannot be used inside <TPOAuthProvider>";
    }
    dc->provider = arg;
    dc->provider_ref_at = where(cmd);
    tpa_config_note_provider_ref(cmd->pool, cmd->server, arg, dc->provider_ref_at);
    return NULL;
}

/* Per-directory directives must not appear inside <TPOAuthProvider> (their
 * configuration record is not the provider's). */
static const char *not_in_provider(cmd_parms *cmd)
{
    if (cmd->directive->parent &&
        strcasecmp(cmd->directive->parent->directive, "<TPOAuthProvider") == 0) {
        return apr_psprintf(cmd->pool, "%s cannot be used inside <TPOAuthProvider>",
                            cmd->cmd->name);
    }
    return NULL;
}

static const char *cmd_cors_origin(cmd_parms *cmd, void *mconfig, const char *arg)
{
    tpa_dir_conf *dc = mconfig;
    const char *err = not_in_provider(cmd);

    if (err) {
        return err;
    }
    if (!dc->cors_origins) {
        dc->cors_origins = apr_array_make(cmd->pool, 2, sizeof(const char *));
    }
    if (!strcmp(arg, "*")) {
        dc->cors_any = 1;
        return NULL;
    }
    if (!tpo_origin_valid(arg)) {
        return apr_psprintf(cmd->pool,
                            "TPOAuthCORSAllowOrigin: '%s' is not an origin "
                            "(scheme://host[:port], no path) or *",
                            arg);
    }
    APR_ARRAY_PUSH(dc->cors_origins, const char *) = arg;
    return NULL;
}

/* TPOAuthBackendScope, -Resource, -Audience: one value, not inside a
 * <TPOAuthProvider>; no control characters (they go into a request body). */
static const char *cmd_backend_str(cmd_parms *cmd, void *mconfig, const char *arg)
{
    const char *err = not_in_provider(cmd), *c;

    if (err) {
        return err;
    }
    for (c = arg; *c; c++) {
        if (apr_iscntrl(*c)) {
            return apr_psprintf(cmd->pool, "%s: control characters are not allowed",
                                cmd->cmd->name);
        }
    }
    return set_value(cmd, mconfig, arg);
}

/* TPOAuthDPoPProof off|on|URL */
static const char *cmd_dpop_proof(cmd_parms *cmd, void *mconfig, const char *arg)
{
    tpa_dir_conf *dc = mconfig;
    const char *err = not_in_provider(cmd);

    if (err) {
        return err;
    }
    if (!strcasecmp(arg, "off") || !strcasecmp(arg, "on")) {
        dc->dpop_proof = apr_pstrdup(cmd->pool, arg);
        ap_str_tolower((char *)dc->dpop_proof);
        return NULL;
    }
    if (!tpo_url_is_http(arg) || strpbrk(arg, "?# \t") != NULL) {
        return apr_psprintf(cmd->pool,
                            "%s: '%s' is neither off, on nor an http(s) URL without query "
                            "or fragment",
                            cmd->cmd->name, arg);
    }
    /* the URL base without its trailing slashes: the request's path follows */
    dc->dpop_proof = apr_pstrdup(cmd->pool, arg);
    {
        char *e = (char *)dc->dpop_proof + strlen(dc->dpop_proof);
        while (e > dc->dpop_proof + 8 && e[-1] == '/') {
            *--e = '\0';
        }
    }
    return NULL;
}

/* TPOAuthBackendIDToken Header [jwt|payload] */
static const char *cmd_backend_id_token(cmd_parms *cmd, void *mconfig, const char *name,
                                        const char *form)
{
    tpa_dir_conf *dc = mconfig;
    const char *err = not_in_provider(cmd), *c;

    if (err) {
        return err;
    }
    if (strlen(name) < 2) {
        return apr_psprintf(cmd->pool, "%s: '%s' is too short", cmd->cmd->name, name);
    }
    for (c = name; *c; c++) {
        if (!apr_isalnum(*c) && *c != '-' && *c != '_') {
            return apr_psprintf(cmd->pool, "%s: '%s' is not a header name", cmd->cmd->name, name);
        }
    }
    if (!strcasecmp(name, "Authorization") || !strcasecmp(name, "Cookie") ||
        !strcasecmp(name, "Host")) {
        return apr_psprintf(cmd->pool, "%s: '%s' cannot carry the ID token", cmd->cmd->name, name);
    }
    if (!form) {
        form = TPO_DEF_BACKEND_ID_TOKEN_FORM;
    }
    if (!strcasecmp(form, "jwt")) {
        dc->backend_idt_form = TPO_BACKEND_IDT_JWT;
    }
    else if (!strcasecmp(form, "payload")) {
        dc->backend_idt_form = TPO_BACKEND_IDT_PAYLOAD;
    }
    else {
        return apr_psprintf(cmd->pool, "%s: '%s' is neither jwt nor payload", cmd->cmd->name, form);
    }
    dc->backend_idt_header = name;
    return NULL;
}

/* TPOAuthPreservePost off|<bytes> */
static const char *cmd_preserve_post(cmd_parms *cmd, void *mconfig, const char *arg)
{
    tpa_dir_conf *dc = mconfig;
    const char *err = not_in_provider(cmd);
    long v = 0;

    if (err) {
        return err;
    }
    if ((err = tpo_post_limit_parse(arg, &v)) != NULL) {
        return apr_psprintf(cmd->pool, "TPOAuthPreservePost %s: %s", arg, err);
    }
    dc->post_preserve = v;
    tpa_config_note_post_preserve(v);
    return NULL;
}

static const char *cmd_strip_headers(cmd_parms *cmd, void *mconfig, const char *arg)
{
    tpa_dir_conf *dc = mconfig;
    const char *err = not_in_provider(cmd), *name = arg, *c, *op;

    if (err) {
        return err;
    }
    if (*name == '-' || *name == '+') {
        name++;
    }
    if (!*name) {
        return apr_psprintf(cmd->pool, "TPOAuthStripHeaders: '%s' is not a header name", arg);
    }
    for (c = name; *c; c++) {
        if (!apr_isalnum(*c) && *c != '-' && *c != '_') {
            return apr_psprintf(cmd->pool, "TPOAuthStripHeaders: '%s' is not a header name", arg);
        }
    }
    op = apr_pstrcat(cmd->pool, *arg == '-' ? "-" : "+", tpa_config_header_norm(cmd->pool, name),
                     NULL);
    if (!dc->strip_ops) {
        dc->strip_ops = apr_array_make(cmd->pool, 4, sizeof(const char *));
    }
    APR_ARRAY_PUSH(dc->strip_ops, const char *) = op;
    /* this section's own list (the server's when not merged) */
    tpa_config_strip_apply(cmd->pool, (apr_array_header_t *)dc->strip, op);
    return NULL;
}

/* TPOAuthAuthRequestParam name value: one of the parameters a location may
 * set (tpo_stepup.h), its value checked here. */
static const char *cmd_auth_request_param(cmd_parms *cmd, void *mconfig, const char *name,
                                          const char *value)
{
    tpa_dir_conf *dc = mconfig;
    const char *err = not_in_provider(cmd);
    int i;

    if (err) {
        return err;
    }
    i = tpo_ar_index(name);
    if (i < 0) {
        return apr_psprintf(cmd->pool,
                            "TPOAuthAuthRequestParam: '%s' is not one of scope, acr_values, "
                            "max_age, prompt, login_hint, ui_locales (others: TPOAuthAuthParam "
                            "in the <TPOAuthProvider>)",
                            name);
    }
    if ((err = tpo_ar_check(cmd->pool, i, value)) != NULL) {
        return apr_psprintf(cmd->pool, "TPOAuthAuthRequestParam %s", err);
    }
    dc->auth_req[i] = value;
    return NULL;
}

/* TPOAuthRequireACR value [value ...]: any of them is enough. */
static const char *cmd_require_acr(cmd_parms *cmd, void *mconfig, int argc, char *const argv[])
{
    tpa_dir_conf *dc = mconfig;
    const char *err = not_in_provider(cmd);
    const char **list;
    int i;

    if (err) {
        return err;
    }
    if (argc < 1) {
        return "TPOAuthRequireACR needs at least one acr value";
    }
    list = apr_pcalloc(cmd->pool, sizeof(char *) * (argc + 1));
    for (i = 0; i < argc; i++) {
        if (strchr(argv[i], ' ') || tpo_ar_check(cmd->pool, TPO_AR_ACR_VALUES, argv[i])) {
            return apr_psprintf(cmd->pool,
                                "TPOAuthRequireACR: '%s' is not an acr value (printable ASCII "
                                "without spaces, '\"' and '\\')",
                                argv[i]);
        }
        list[i] = argv[i];
    }
    dc->require_acr = list;
    return NULL;
}

/* ------------------------------------------------------------ provider directives */

static const char *cmd_discovery(cmd_parms *cmd, void *mconfig, const char *arg)
{
    const char *err;
    tpa_provider_conf *pc = in_provider(cmd, mconfig, &err);

    if (!pc) {
        return err;
    }
    if (!strcasecmp(arg, "on")) {
        pc->discovery = 1;
    }
    else if (!strcasecmp(arg, "off")) {
        pc->discovery = 0;
    }
    else if (tpo_url_is_http(arg)) {
        pc->discovery = 1;
        pc->discovery_url = arg;
    }
    else {
        return "TPOAuthDiscovery takes on, off, or the URL of a metadata document";
    }
    return NULL;
}

static const char *cmd_auth_param(cmd_parms *cmd, void *mconfig, const char *name,
                                  const char *value)
{
    static const char *const reserved[] = {"response_type",
                                           "client_id",
                                           "redirect_uri",
                                           "state",
                                           "nonce",
                                           "code_challenge",
                                           "code_challenge_method",
                                           "scope",
                                           NULL};
    const char *err;
    tpa_provider_conf *pc = in_provider(cmd, mconfig, &err);
    int i;

    if (!pc) {
        return err;
    }
    for (i = 0; reserved[i]; i++) {
        if (!strcmp(name, reserved[i])) {
            return apr_psprintf(cmd->pool,
                                "TPOAuthAuthParam: '%s' is set by the module "
                                "and cannot be overridden",
                                name);
        }
    }
    APR_ARRAY_PUSH(pc->auth_params, const char *) = name;
    APR_ARRAY_PUSH(pc->auth_params, const char *) = value;
    return NULL;
}

static const char *cmd_redirect_uri(cmd_parms *cmd, void *mconfig, const char *arg)
{
    const char *err;
    tpa_provider_conf *pc = in_provider(cmd, mconfig, &err);
    apr_uri_t u;

    if (!pc) {
        return err;
    }
    if (arg[0] == '/') {
        if (arg[1] == '/') {
            return "TPOAuthRedirectURI: a path must not start with //";
        }
        pc->redirect_path = arg;
    }
    else if (tpo_url_is_http(arg) && apr_uri_parse(cmd->pool, arg, &u) == APR_SUCCESS && u.path &&
             u.path[0] == '/' && !u.query && !u.fragment) {
        pc->redirect_path = u.path;
    }
    else {
        return "TPOAuthRedirectURI takes a local path (/app/redirect_uri) or an absolute "
               "http(s) URL with a path and no query";
    }
    pc->redirect_uri = arg;
    return NULL;
}

static const char *cmd_algs(cmd_parms *cmd, void *mconfig, int argc, char *const argv[])
{
    const char *err;
    tpa_provider_conf *pc = in_provider(cmd, mconfig, &err);
    const char **algs;
    int i, k;

    if (!pc) {
        return err;
    }
    if (argc < 1) {
        return "TPOAuthIDTokenAlgorithms needs at least one algorithm";
    }
    algs = apr_pcalloc(cmd->pool, sizeof(char *) * (argc + 1));
    for (i = 0; i < argc; i++) {
        for (k = 0; known_algs[k] && strcmp(known_algs[k], argv[i]); k++)
            ;
        if (!known_algs[k]) {
            return apr_psprintf(cmd->pool,
                                "TPOAuthIDTokenAlgorithms: '%s' is not supported "
                                "('none' never is)",
                                argv[i]);
        }
        algs[i] = argv[i];
    }
    pc->id_token_algs = algs;
    return NULL;
}

static const char *cmd_http_timeout(cmd_parms *cmd, void *mconfig, const char *connect,
                                    const char *total)
{
    const char *err;
    tpa_provider_conf *pc = in_provider(cmd, mconfig, &err);

    if (!pc) {
        return err;
    }
    if ((err = parse_ms(cmd->pool, cmd->cmd->name, connect, &pc->connect_timeout_ms))) {
        return err;
    }
    if (total && (err = parse_ms(cmd->pool, cmd->cmd->name, total, &pc->timeout_ms))) {
        return err;
    }
    return NULL;
}

static const char *cmd_outgoing_proxy(cmd_parms *cmd, void *mconfig, const char *url,
                                      const char *no_proxy)
{
    const char *err;
    tpa_provider_conf *pc = in_provider(cmd, mconfig, &err);
    const char *c;

    if (!pc) {
        return err;
    }
    if (!tpo_url_is_http(url)) {
        return apr_psprintf(cmd->pool, "%s: '%s' is not an http:// or https:// URL", cmd->cmd->name,
                            url);
    }
    for (c = no_proxy; c && *c; c++) {
        if (!apr_isalnum(*c) && !strchr(".-_:,/*[]", *c)) {
            return apr_psprintf(cmd->pool,
                                "%s: the no-proxy list '%s' holds '%c' (host names, "
                                ".domains, addresses and addr/len, separated by ',')",
                                cmd->cmd->name, no_proxy, *c);
        }
    }
    pc->outgoing_proxy = url;
    pc->outgoing_no_proxy = no_proxy;
    return NULL;
}

static const char *cmd_remote_user(cmd_parms *cmd, void *mconfig, int argc, char *const argv[])
{
    const char *err;
    tpa_provider_conf *pc = in_provider(cmd, mconfig, &err);

    if (!pc) {
        return err;
    }
    if (argc != 1 && argc != 3) {
        return "TPOAuthRemoteUserClaim takes a claim, optionally followed by a regular "
               "expression and a replacement (e.g. sub ^(.*)$ $1@corp)";
    }
    pc->remote_user_claim = argv[0];
    if (argc == 3) {
        pc->remote_user_regex = ap_pregcomp(cmd->pool, argv[1], 0);
        if (!pc->remote_user_regex) {
            return apr_psprintf(cmd->pool,
                                "TPOAuthRemoteUserClaim: '%s' is not a valid "
                                "regular expression",
                                argv[1]);
        }
        pc->remote_user_replace = argv[2];
    }
    return NULL;
}

static const char *cmd_claim_list(cmd_parms *cmd, void *mconfig, int argc, char *const argv[])
{
    const char *err;
    tpa_provider_conf *pc = in_provider(cmd, mconfig, &err);
    const char **list;
    int i;

    if (!pc) {
        return err;
    }
    if (argc < 1) {
        return apr_psprintf(cmd->pool, "%s needs at least one claim name", cmd->cmd->name);
    }
    list = apr_pcalloc(cmd->pool, sizeof(char *) * (argc + 1));
    for (i = 0; i < argc; i++) {
        list[i] = argv[i];
    }
    *FIELD(pc, ROW(cmd), const char **) = list; /* claims_allow or claims_deny */
    return NULL;
}

static const char *cmd_header_name(cmd_parms *cmd, void *mconfig, const char *arg)
{
    const char *c;

    if (strlen(arg) < 2) {
        return apr_psprintf(cmd->pool, "%s: '%s' is too short", cmd->cmd->name, arg);
    }
    for (c = arg; *c; c++) {
        if (!apr_isalnum(*c) && *c != '-' && *c != '_') {
            return apr_psprintf(cmd->pool, "%s: '%s' is not a header name", cmd->cmd->name, arg);
        }
    }
    return set_value(cmd, mconfig, arg);
}

static const char *cmd_logout_allow(cmd_parms *cmd, void *mconfig, const char *arg)
{
    const char *err;
    tpa_provider_conf *pc = in_provider(cmd, mconfig, &err);

    if (!pc) {
        return err;
    }
    if (!tpo_url_is_http(arg)) {
        return apr_psprintf(cmd->pool,
                            "TPOAuthLogoutRedirectAllow: '%s' is not an absolute "
                            "http(s) URL",
                            arg);
    }
    if (!pc->logout_allow) {
        pc->logout_allow = apr_array_make(cmd->pool, 2, sizeof(const char *));
    }
    APR_ARRAY_PUSH(pc->logout_allow, const char *) = arg;
    return NULL;
}

static const char *cmd_cookie_name(cmd_parms *cmd, void *mconfig, const char *arg)
{
    if (!tpo_cookie_name_valid(arg)) {
        return apr_psprintf(cmd->pool, "TPOAuthCookieName: '%s' is not a valid cookie name", arg);
    }
    return set_value(cmd, mconfig, arg);
}

static const char *cmd_samesite(cmd_parms *cmd, void *mconfig, const char *arg)
{
    if (strcasecmp(arg, "Lax") && strcasecmp(arg, "Strict") && strcasecmp(arg, "None")) {
        return "TPOAuthCookieSameSite takes Lax, Strict or None";
    }
    return set_value(cmd, mconfig, arg);
}

/* A private key file anyone but its owner can read: a warning at start. */
static void warn_if_exposed(cmd_parms *cmd, const char *path)
{
    apr_finfo_t fi;

    if (apr_stat(&fi, path, APR_FINFO_PROT, cmd->temp_pool) == APR_SUCCESS &&
        (fi.protection & (APR_GREAD | APR_GWRITE | APR_WREAD | APR_WWRITE))) {
        ap_log_error(APLOG_MARK, APLOG_STARTUP | APLOG_WARNING, 0, NULL,
                     TPO_APLOGNO(00801) "%s (%s): %s is readable or writable by group or others; "
                                        "make it readable by its owner only (chmod 600)",
                     cmd->cmd->name, where(cmd), path);
    }
}

/* TPOAuthClientSigningKey file [kid [alg]]: loaded and checked here, so that
 * configtest refuses an unreadable key or an alg that does not fit it. */
static const char *cmd_client_signing_key(cmd_parms *cmd, void *mconfig, const char *file,
                                          const char *kid, const char *alg)
{
    const char *err, *path;
    tpa_provider_conf *pc = in_provider(cmd, mconfig, &err);
    tpo_client_key *key;
    int i;

    if (!pc) {
        return err;
    }
    path = ap_server_root_relative(cmd->pool, file);
    if (!path) {
        return apr_psprintf(cmd->pool, "%s: bad path %s", cmd->cmd->name, file);
    }
    if (kid && (!*kid || !strcmp(kid, "-"))) {
        kid = NULL; /* "-": the thumbprint, so that an alg can follow */
    }
    key = tpo_client_key_load(cmd->pool, path, kid, alg, &err);
    if (!key) {
        return apr_psprintf(cmd->pool, "%s (%s): %s", cmd->cmd->name, where(cmd), err);
    }
    if (!pc->client_keys) {
        pc->client_keys = apr_array_make(cmd->pool, 2, sizeof(tpo_client_key *));
    }
    for (i = 0; i < pc->client_keys->nelts; i++) {
        if (!strcmp(APR_ARRAY_IDX(pc->client_keys, i, tpo_client_key *)->kid, key->kid)) {
            return apr_psprintf(cmd->pool, "%s (%s): the kid %s is used by two keys",
                                cmd->cmd->name, where(cmd), key->kid);
        }
    }
    warn_if_exposed(cmd, path);
    APR_ARRAY_PUSH(pc->client_keys, tpo_client_key *) = key;
    pc->client_jwks = tpo_client_keys_jwks(cmd->pool, pc->client_keys);
    return NULL;
}

/* TPOAuthClientCertificate cert.pem key.pem: both read now (the key file may
 * be readable by root only), the key the certificate's. */
static const char *cmd_client_certificate(cmd_parms *cmd, void *mconfig, const char *cert,
                                          const char *key)
{
    const char *err, *cpath, *kpath;
    tpa_provider_conf *pc = in_provider(cmd, mconfig, &err);

    if (!pc) {
        return err;
    }
    cpath = ap_server_root_relative(cmd->pool, cert);
    kpath = ap_server_root_relative(cmd->pool, key);
    if (!cpath || !kpath) {
        return apr_psprintf(cmd->pool, "%s: bad path", cmd->cmd->name);
    }
    if ((err = tpo_client_cert_load(cmd->pool, cpath, kpath, &pc->client_cert_pem,
                                    &pc->client_cert_key_pem)) != NULL) {
        return apr_psprintf(cmd->pool, "%s (%s): %s", cmd->cmd->name, where(cmd), err);
    }
    warn_if_exposed(cmd, kpath);
    pc->client_cert_file = cpath;
    return NULL;
}

/* ------------------------------------------------------------ tpa_cmds[] */

#define WHERE_SERVER RSRC_CONF
#define WHERE_PROVIDER RSRC_CONF
#define WHERE_SECTION RSRC_CONF
#define WHERE_DIR ACCESS_CONF
#define WHERE_SERVER_DIR (RSRC_CONF | ACCESS_CONF)

const command_rec tpa_cmds[] = {
#define TPO_DIR(id, name, args, handler, ctx, type, field, min, max, kw, def, help)                \
    AP_INIT_##args(name, handler, (void *)&table[TPO_DI_##id], WHERE_##ctx, help),
#include "mod_tp_oauth_directive_table.h"
#undef TPO_DIR
    {NULL}};
