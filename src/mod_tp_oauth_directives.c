/* SPDX-License-Identifier: Apache-2.0
 * Licensed under the Apache License, Version 2.0 (see LICENSE). */
/* The directives: every TPOAuth* handler, the parsers of their arguments,
 * and the tpo_cmds[] table. Defaults and cross-directive checks are applied
 * later, in mod_tp_oauth_config_check.c. */
#include <stddef.h>
#include <stdlib.h>
#include <apr_lib.h>
#include <apr_strings.h>
#include "mod_tp_oauth_private.h"
#include "tpo_cookie.h"
#include "tpo_provider.h"

static const char *const known_algs[] = {
    "RS256", "RS384", "RS512", "PS256", "PS384", "PS512",
    "ES256", "ES384", "ES512", "EdDSA", "HS256", "HS384", "HS512", NULL
};

/* ------------------------------------------------------------ helpers */

static const char *where(cmd_parms *cmd)
{
    return apr_psprintf(cmd->pool, "%s:%d", cmd->directive->filename,
                        cmd->directive->line_num);
}

/* Provider directives are valid only inside <TPOAuthProvider>; mconfig is
 * then the provider being defined. */
static tpo_provider_conf *in_provider(cmd_parms *cmd, void *mconfig, const char **err)
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
    case '\0': break;
    case 'k': case 'K': v *= 1024; end++; break;
    case 'm': case 'M': v *= 1024 * 1024; end++; break;
    case 'g': case 'G': v *= 1024 * 1024 * 1024; end++; break;
    default: end = "x"; break;
    }
    if (*end != '\0') {
        return apr_psprintf(p, "%s: '%s' is not a size (e.g. 1048576, 512K, 64M, 1G)", name, arg);
    }
    *out = v;
    return NULL;
}

static const char *parse_seconds(apr_pool_t *p, const char *name, const char *arg,
                                 int min, int max, int *out)
{
    char *end;
    long v = strtol(arg, &end, 10);

    if (*arg == '\0' || *end != '\0' || v < min || v > max) {
        return apr_psprintf(p, "%s: '%s' must be a whole number from %d to %d", name, arg, min, max);
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

/* ------------------------------------------------------------ server directives */

static const char *cmd_cache_size(cmd_parms *cmd, void *mconfig, const char *arg)
{
    tpo_server_conf *sc = tpo_config_server(cmd->server);
    const char *err = ap_check_cmd_context(cmd, GLOBAL_ONLY);
    apr_off_t v;

    if (err) {
        return err;
    }
    if ((err = parse_size(cmd->pool, cmd->cmd->name, arg, &v)) != NULL) {
        return err;
    }
    if (v < 1024 * 1024) {
        return "TPOAuthCacheSize must be at least 1M";
    }
    sc->cache_size = v;
    return NULL;
}

static const char *cmd_cache(cmd_parms *cmd, void *mconfig, const char *type,
                             const char *servers)
{
    tpo_server_conf *sc = tpo_config_server(cmd->server);
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
            return apr_psprintf(cmd->pool, "TPOAuthCache %s needs a server list, e.g. "
                                "127.0.0.1:%s", type,
                                strcasecmp(type, "redis") ? "11211" : "6379");
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
    tpo_server_conf *sc = tpo_config_server(cmd->server);
    const char *err = ap_check_cmd_context(cmd, GLOBAL_ONLY);

    if (err) {
        return err;
    }
    if (strlen(pass) < 16 || (prev && strlen(prev) < 16)) {
        return "TPOAuthCachePassphrase: use at least 16 characters";
    }
    sc->cache_passphrase = pass;
    sc->cache_passphrase_prev = prev;
    return NULL;
}

static const char *cmd_cache_str(cmd_parms *cmd, void *mconfig, const char *arg)
{
    tpo_server_conf *sc = tpo_config_server(cmd->server);
    const char *err = ap_check_cmd_context(cmd, GLOBAL_ONLY);
    int ms;

    if (err) {
        return err;
    }
    if (!strcasecmp(cmd->cmd->name, "TPOAuthCacheTimeout")) {
        if ((err = parse_ms(cmd->pool, cmd->cmd->name, arg, &ms))) {
            return err;
        }
        sc->cache_timeout_ms = ms;
    }
    else {
        sc->cache_redis_password = arg;
    }
    return NULL;
}

static const char *cmd_pending_capacity(cmd_parms *cmd, void *mconfig, const char *arg)
{
    tpo_server_conf *sc = tpo_config_server(cmd->server);
    const char *err = ap_check_cmd_context(cmd, GLOBAL_ONLY);

    if (err) {
        return err;
    }
    return parse_seconds(cmd->pool, cmd->cmd->name, arg, 16, 10000000, &sc->pending_capacity);
}

static tpo_provider_conf *provider_new(apr_pool_t *p)
{
    tpo_provider_conf *pc = apr_pcalloc(p, sizeof(*pc));
    pc->discovery = TPO_UNSET;
    pc->client_auth = TPO_UNSET;
    pc->token_encoding = TPO_UNSET;
    pc->auth_params = apr_array_make(p, 4, sizeof(const char *));
    pc->clock_skew = TPO_UNSET;
    pc->connect_timeout_ms = TPO_UNSET;
    pc->timeout_ms = TPO_UNSET;
    pc->max_response = TPO_UNSET;
    pc->session_max_age = TPO_UNSET;
    pc->login_timeout = TPO_UNSET;
    pc->max_pending_per_browser = TPO_UNSET;
    pc->userinfo = TPO_UNSET;
    pc->info_access_token = TPO_UNSET;
    pc->refresh_before = TPO_UNSET;
    pc->default_token_lifetime = TPO_UNSET;
    pc->refresh_failure = TPO_UNSET;
    pc->refresh_retry_after = TPO_UNSET;
    pc->inactivity_timeout = TPO_UNSET;
    pc->provider_logout = TPO_UNSET;
    return pc;
}

static const char *cmd_provider_section(cmd_parms *cmd, void *mconfig, const char *arg)
{
    tpo_server_conf *sc = tpo_config_server(cmd->server);
    const char *err = ap_check_cmd_context(cmd, NOT_IN_DIR_CONTEXT);
    const char *endp = ap_strrchr_c(arg, '>');
    const ap_directive_t *d;
    tpo_provider_conf *pc, *prev;
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
        return apr_psprintf(cmd->pool, "<TPOAuthProvider %s> is defined twice (first at %s)",
                            name, prev->defined_at);
    }
    for (d = cmd->directive->first_child; d; d = d->next) {
        if (strncasecmp(d->directive, "TPOAuth", 7) != 0) {
            return apr_psprintf(cmd->pool, "%s is not allowed inside <TPOAuthProvider %s> "
                                "(%s:%d)", d->directive, name, d->filename, d->line_num);
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
    tpo_dir_conf *dc = mconfig;

    if (cmd->directive->parent
        && strcasecmp(cmd->directive->parent->directive, "<TPOAuthProvider") == 0) {
        return "TPOAuthProvider (selecting a provider) cannot be used inside <TPOAuthProvider>";
    }
    dc->provider = arg;
    dc->provider_ref_at = where(cmd);
    tpo_config_note_provider_ref(cmd->pool, cmd->server, arg, dc->provider_ref_at);
    return NULL;
}

static const char *cmd_dir_enum(cmd_parms *cmd, void *mconfig, const char *arg)
{
    tpo_dir_conf *dc = mconfig;
    const char *name = cmd->cmd->name;

    if (!strcasecmp(name, "TPOAuthExport")) {
        if (!strcasecmp(arg, "env")) dc->export_mode = TPO_EXPORT_ENV;
        else if (!strcasecmp(arg, "headers")) dc->export_mode = TPO_EXPORT_HEADERS;
        else if (!strcasecmp(arg, "both")) dc->export_mode = TPO_EXPORT_BOTH;
        else if (!strcasecmp(arg, "none")) dc->export_mode = TPO_EXPORT_NONE;
        else return "TPOAuthExport takes env, headers, both or none";
    }
    else if (!strcasecmp(name, "TPOAuthUnauthenticated")) {
        if (!strcasecmp(arg, "login")) dc->unauth_action = TPO_UNAUTH_LOGIN;
        else if (!strcasecmp(arg, "401")) dc->unauth_action = TPO_UNAUTH_401;
        else if (!strcasecmp(arg, "pass")) dc->unauth_action = TPO_UNAUTH_PASS;
        else return "TPOAuthUnauthenticated takes login, 401 or pass";
    }
    else {
        if (!strcasecmp(arg, "403")) dc->authz_action = TPO_AUTHZ_403;
        else if (!strcasecmp(arg, "401")) dc->authz_action = TPO_AUTHZ_401;
        else if (!strcasecmp(arg, "login")) dc->authz_action = TPO_AUTHZ_LOGIN;
        else return "TPOAuthAuthzFailure takes 403, 401 or login";
    }
    return NULL;
}

/* ------------------------------------------------------------ provider directives */

static const char *cmd_prov_str(cmd_parms *cmd, void *mconfig, const char *arg)
{
    const char *err;
    tpo_provider_conf *pc = in_provider(cmd, mconfig, &err);

    if (!pc) {
        return err;
    }
    *(const char **)((char *)pc + (apr_size_t)cmd->info) = arg;
    return NULL;
}

static const char *cmd_prov_url(cmd_parms *cmd, void *mconfig, const char *arg)
{
    const char *err = check_http_url(cmd, arg);
    return err ? err : cmd_prov_str(cmd, mconfig, arg);
}

static const char *cmd_issuer(cmd_parms *cmd, void *mconfig, const char *arg)
{
    const char *err = check_http_url(cmd, arg);
    return err ? err : cmd_prov_str(cmd, mconfig, arg);
}

static const char *cmd_discovery(cmd_parms *cmd, void *mconfig, const char *arg)
{
    const char *err;
    tpo_provider_conf *pc = in_provider(cmd, mconfig, &err);

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

static const char *cmd_client_auth(cmd_parms *cmd, void *mconfig, const char *arg)
{
    const char *err;
    tpo_provider_conf *pc = in_provider(cmd, mconfig, &err);

    if (!pc) {
        return err;
    }
    if (!strcasecmp(arg, "client_secret_basic")) {
        pc->client_auth = TPO_CLIENT_AUTH_BASIC;
    }
    else if (!strcasecmp(arg, "client_secret_post")) {
        pc->client_auth = TPO_CLIENT_AUTH_POST;
    }
    else if (!strcasecmp(arg, "none")) {
        pc->client_auth = TPO_CLIENT_AUTH_NONE;
    }
    else {
        return "TPOAuthClientAuth takes client_secret_basic, client_secret_post or none";
    }
    return NULL;
}

static const char *cmd_token_encoding(cmd_parms *cmd, void *mconfig, const char *arg)
{
    const char *err;
    tpo_provider_conf *pc = in_provider(cmd, mconfig, &err);

    if (!pc) {
        return err;
    }
    if (!strcasecmp(arg, "form")) {
        pc->token_encoding = TPO_TOKEN_ENC_FORM;
    }
    else if (!strcasecmp(arg, "json")) {
        pc->token_encoding = TPO_TOKEN_ENC_JSON;
    }
    else {
        return "TPOAuthTokenRequestEncoding takes form or json";
    }
    return NULL;
}

static const char *cmd_auth_param(cmd_parms *cmd, void *mconfig, const char *name,
                                  const char *value)
{
    static const char *const reserved[] = {
        "response_type", "client_id", "redirect_uri", "state", "nonce",
        "code_challenge", "code_challenge_method", "scope", NULL
    };
    const char *err;
    tpo_provider_conf *pc = in_provider(cmd, mconfig, &err);
    int i;

    if (!pc) {
        return err;
    }
    for (i = 0; reserved[i]; i++) {
        if (!strcmp(name, reserved[i])) {
            return apr_psprintf(cmd->pool, "TPOAuthAuthParam: '%s' is set by the module "
                                "and cannot be overridden", name);
        }
    }
    APR_ARRAY_PUSH(pc->auth_params, const char *) = name;
    APR_ARRAY_PUSH(pc->auth_params, const char *) = value;
    return NULL;
}

static const char *cmd_redirect_uri(cmd_parms *cmd, void *mconfig, const char *arg)
{
    const char *err;
    tpo_provider_conf *pc = in_provider(cmd, mconfig, &err);
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
    else if (tpo_url_is_http(arg) && apr_uri_parse(cmd->pool, arg, &u) == APR_SUCCESS
             && u.path && u.path[0] == '/' && !u.query && !u.fragment) {
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
    tpo_provider_conf *pc = in_provider(cmd, mconfig, &err);
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
            return apr_psprintf(cmd->pool, "TPOAuthIDTokenAlgorithms: '%s' is not supported "
                                "('none' never is)", argv[i]);
        }
        algs[i] = argv[i];
    }
    pc->id_token_algs = algs;
    return NULL;
}

static const char *cmd_prov_int(cmd_parms *cmd, void *mconfig, const char *arg)
{
    const char *err;
    tpo_provider_conf *pc = in_provider(cmd, mconfig, &err);
    int *field, max = 365 * 24 * 3600, min = 0;

    if (!pc) {
        return err;
    }
    field = (int *)((char *)pc + (apr_size_t)cmd->info);
    if (field == &pc->max_pending_per_browser) {
        min = 1;
        max = 64;
    }
    else if (field != &pc->clock_skew && field != &pc->inactivity_timeout) {
        min = 1;
    }
    return parse_seconds(cmd->pool, cmd->cmd->name, arg, min, max, field);
}

static const char *cmd_http_timeout(cmd_parms *cmd, void *mconfig, const char *connect,
                                    const char *total)
{
    const char *err;
    tpo_provider_conf *pc = in_provider(cmd, mconfig, &err);

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

static const char *cmd_max_response(cmd_parms *cmd, void *mconfig, const char *arg)
{
    const char *err;
    tpo_provider_conf *pc = in_provider(cmd, mconfig, &err);

    if (!pc) {
        return err;
    }
    return parse_size(cmd->pool, cmd->cmd->name, arg, &pc->max_response);
}

static const char *cmd_remote_user(cmd_parms *cmd, void *mconfig, int argc,
                                   char *const argv[])
{
    const char *err;
    tpo_provider_conf *pc = in_provider(cmd, mconfig, &err);

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
            return apr_psprintf(cmd->pool, "TPOAuthRemoteUserClaim: '%s' is not a valid "
                                "regular expression", argv[1]);
        }
        pc->remote_user_replace = argv[2];
    }
    return NULL;
}

static const char *cmd_claim_list(cmd_parms *cmd, void *mconfig, int argc, char *const argv[])
{
    const char *err;
    tpo_provider_conf *pc = in_provider(cmd, mconfig, &err);
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
    if (!strcasecmp(cmd->cmd->name, "TPOAuthClaimsAllow")) {
        pc->claims_allow = list;
    }
    else {
        pc->claims_deny = list;
    }
    return NULL;
}

static const char *cmd_prov_flag(cmd_parms *cmd, void *mconfig, int on)
{
    const char *err;
    tpo_provider_conf *pc = in_provider(cmd, mconfig, &err);

    if (!pc) {
        return err;
    }
    *(int *)((char *)pc + (apr_size_t)cmd->info) = on;
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
            return apr_psprintf(cmd->pool, "%s: '%s' is not a header name", cmd->cmd->name,
                                arg);
        }
    }
    return cmd_prov_str(cmd, mconfig, arg);
}

static const char *cmd_refresh_failure(cmd_parms *cmd, void *mconfig, const char *arg)
{
    const char *err;
    tpo_provider_conf *pc = in_provider(cmd, mconfig, &err);

    if (!pc) {
        return err;
    }
    if (!strcasecmp(arg, "502")) {
        pc->refresh_failure = TPO_REFRESH_FAIL_502;
    }
    else if (!strcasecmp(arg, "login")) {
        pc->refresh_failure = TPO_REFRESH_FAIL_LOGIN;
    }
    else {
        return "TPOAuthRefreshFailure takes 502 or login";
    }
    return NULL;
}

static const char *cmd_logout_allow(cmd_parms *cmd, void *mconfig, const char *arg)
{
    const char *err;
    tpo_provider_conf *pc = in_provider(cmd, mconfig, &err);

    if (!pc) {
        return err;
    }
    if (!tpo_url_is_http(arg)) {
        return apr_psprintf(cmd->pool, "TPOAuthLogoutRedirectAllow: '%s' is not an absolute "
                            "http(s) URL", arg);
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
    return cmd_prov_str(cmd, mconfig, arg);
}

static const char *cmd_samesite(cmd_parms *cmd, void *mconfig, const char *arg)
{
    if (strcasecmp(arg, "Lax") && strcasecmp(arg, "Strict") && strcasecmp(arg, "None")) {
        return "TPOAuthCookieSameSite takes Lax, Strict or None";
    }
    return cmd_prov_str(cmd, mconfig, arg);
}

#define PROV_STR(name, field, help) \
    AP_INIT_TAKE1(name, cmd_prov_str, (void *)APR_OFFSETOF(tpo_provider_conf, field), RSRC_CONF, help)
#define PROV_URL(name, field, help) \
    AP_INIT_TAKE1(name, cmd_prov_url, (void *)APR_OFFSETOF(tpo_provider_conf, field), RSRC_CONF, help)
#define PROV_INT(name, field, help) \
    AP_INIT_TAKE1(name, cmd_prov_int, (void *)APR_OFFSETOF(tpo_provider_conf, field), RSRC_CONF, help)

const command_rec tpo_cmds[] = {
    AP_INIT_TAKE1("TPOAuthCacheSize", cmd_cache_size, NULL, RSRC_CONF,
                  "Bytes of shared memory for sessions (e.g. 64M)"),
    AP_INIT_TAKE12("TPOAuthCache", cmd_cache, NULL, RSRC_CONF,
                   "Session store: shm (default), memcache HOST:PORT[,...], redis HOST:PORT[,...]"),
    AP_INIT_TAKE12("TPOAuthCachePassphrase", cmd_cache_passphrase, NULL, RSRC_CONF,
                   "Encryption passphrase for a distributed cache [previous passphrase]"),
    AP_INIT_TAKE1("TPOAuthCacheTimeout", cmd_cache_str, NULL, RSRC_CONF,
                  "Timeout in seconds of one operation on a distributed cache (default 1)"),
    AP_INIT_TAKE1("TPOAuthCacheRedisPassword", cmd_cache_str, NULL, RSRC_CONF,
                  "Password (AUTH) of the Redis server"),
    AP_INIT_TAKE1("TPOAuthPendingLogins", cmd_pending_capacity, NULL, RSRC_CONF,
                  "How many logins may be in progress at once, server-wide"),
    AP_INIT_RAW_ARGS("<TPOAuthProvider", cmd_provider_section, NULL, RSRC_CONF,
                     "Defines an authorization server and this server's client at it"),
    AP_INIT_TAKE1("TPOAuthProvider", cmd_dir_provider, NULL, ACCESS_CONF,
                  "The <TPOAuthProvider> that protects this location"),

    AP_INIT_TAKE1("TPOAuthIssuer", cmd_issuer, (void *)APR_OFFSETOF(tpo_provider_conf, issuer),
                  RSRC_CONF, "The provider's issuer identifier (URL)"),
    AP_INIT_TAKE1("TPOAuthDiscovery", cmd_discovery, NULL, RSRC_CONF,
                  "on (default), off, or the URL of the metadata document"),
    PROV_URL("TPOAuthAuthorizationEndpoint", authorization_endpoint, "Authorization endpoint URL"),
    PROV_URL("TPOAuthTokenEndpoint", token_endpoint, "Token endpoint URL"),
    PROV_URL("TPOAuthUserinfoEndpoint", userinfo_endpoint,
             "Userinfo (or profile) endpoint URL"),
    PROV_URL("TPOAuthJWKSURI", jwks_uri, "URL of the provider's JWK Set"),
    PROV_STR("TPOAuthClientID", client_id, "This server's client_id at the provider"),
    PROV_STR("TPOAuthClientSecret", client_secret, "The client secret"),
    AP_INIT_TAKE1("TPOAuthClientAuth", cmd_client_auth, NULL, RSRC_CONF,
                  "client_secret_basic (default with a secret), client_secret_post or none"),
    AP_INIT_TAKE1("TPOAuthTokenRequestEncoding", cmd_token_encoding, NULL, RSRC_CONF,
                  "form (default) or json"),
    PROV_STR("TPOAuthScope", scope, "Scopes to request, space separated"),
    AP_INIT_TAKE2("TPOAuthAuthParam", cmd_auth_param, NULL, RSRC_CONF,
                  "An extra authorization-request parameter: name value"),
    AP_INIT_TAKE1("TPOAuthRedirectURI", cmd_redirect_uri, NULL, RSRC_CONF,
                  "The redirect URI: a local path or an absolute URL"),
    AP_INIT_TAKE_ARGV("TPOAuthIDTokenAlgorithms", cmd_algs, NULL, RSRC_CONF,
                      "JWS algorithms accepted for ID tokens"),
    PROV_INT("TPOAuthClockSkew", clock_skew, "Allowed clock skew in seconds"),
    AP_INIT_TAKE12("TPOAuthHTTPTimeout", cmd_http_timeout, NULL, RSRC_CONF,
                   "Connect and total timeouts in seconds for calls to the provider"),
    AP_INIT_TAKE1("TPOAuthHTTPMaxResponse", cmd_max_response, NULL, RSRC_CONF,
                  "Largest response accepted from the provider (e.g. 1M)"),
    PROV_STR("TPOAuthCACertificate", ca_file, "CA bundle for TLS to the provider"),
    AP_INIT_TAKE1("TPOAuthCookieName", cmd_cookie_name,
                  (void *)APR_OFFSETOF(tpo_provider_conf, cookie_name), RSRC_CONF,
                  "Name of the session cookie"),
    PROV_STR("TPOAuthCookiePath", cookie_path, "Path attribute of the cookies"),
    PROV_STR("TPOAuthCookieDomain", cookie_domain, "Domain attribute of the cookies"),
    AP_INIT_TAKE1("TPOAuthCookieSameSite", cmd_samesite,
                  (void *)APR_OFFSETOF(tpo_provider_conf, cookie_samesite), RSRC_CONF,
                  "SameSite attribute of the session cookie: Lax (default), Strict, None"),
    PROV_INT("TPOAuthSessionMaxAge", session_max_age, "Maximum session lifetime in seconds"),
    PROV_INT("TPOAuthLoginTimeout", login_timeout,
             "Seconds a user has to complete a login at the provider"),
    PROV_INT("TPOAuthPendingLoginsPerBrowser", max_pending_per_browser,
             "Logins one browser may have in progress at once (tabs)"),
    AP_INIT_TAKE_ARGV("TPOAuthRemoteUserClaim", cmd_remote_user, NULL, RSRC_CONF,
                      "Claim that becomes REMOTE_USER [regex replacement]"),
    PROV_STR("TPOAuthClaimPrefix", claim_prefix, "Prefix of the claim environment variables"),
    AP_INIT_TAKE1("TPOAuthHeaderPrefix", cmd_header_name,
                  (void *)APR_OFFSETOF(tpo_provider_conf, header_prefix), RSRC_CONF,
                  "Prefix of the identity request headers (default X-TPO-)"),
    AP_INIT_TAKE1("TPOAuthUserHeader", cmd_header_name,
                  (void *)APR_OFFSETOF(tpo_provider_conf, user_header), RSRC_CONF,
                  "Request header carrying the user name (default <prefix>User)"),
    PROV_STR("TPOAuthClaimSeparator", claim_separator, "Joins nested claim names (default _)"),
    PROV_STR("TPOAuthClaimDelimiter", claim_delimiter, "Joins array elements (default ,)"),
    AP_INIT_TAKE_ARGV("TPOAuthClaimsAllow", cmd_claim_list, NULL, RSRC_CONF,
                      "Only these claims are kept in the session"),
    AP_INIT_TAKE_ARGV("TPOAuthClaimsDeny", cmd_claim_list, NULL, RSRC_CONF,
                      "These claims are dropped before the session is stored"),
    AP_INIT_FLAG("TPOAuthUserinfo", cmd_prov_flag,
                 (void *)APR_OFFSETOF(tpo_provider_conf, userinfo), RSRC_CONF,
                 "Fetch userinfo at login when the provider has an endpoint (default on)"),
    AP_INIT_FLAG("TPOAuthInfoAccessToken", cmd_prov_flag,
                 (void *)APR_OFFSETOF(tpo_provider_conf, info_access_token), RSRC_CONF,
                 "The session info endpoint also returns the access token (default off)"),
    AP_INIT_TAKE1("TPOAuthSessionInactivityTimeout", cmd_prov_int,
                  (void *)APR_OFFSETOF(tpo_provider_conf, inactivity_timeout), RSRC_CONF,
                  "Seconds without a request after which a session ends (0: never)"),
    PROV_URL("TPOAuthEndSessionEndpoint", end_session_endpoint,
             "The provider's end_session_endpoint (RP-initiated logout)"),
    PROV_URL("TPOAuthRevocationEndpoint", revocation_endpoint,
             "The provider's token revocation endpoint (RFC 7009)"),
    AP_INIT_FLAG("TPOAuthProviderLogout", cmd_prov_flag,
                 (void *)APR_OFFSETOF(tpo_provider_conf, provider_logout), RSRC_CONF,
                 "Log out at the provider too when it has an end_session_endpoint (default on)"),
    AP_INIT_ITERATE("TPOAuthLogoutRedirectAllow", cmd_logout_allow, NULL, RSRC_CONF,
                    "Absolute URLs (or prefixes ending in /) allowed as return after logout"),
    PROV_INT("TPOAuthRefreshBefore", refresh_before,
             "Refresh the access token this many seconds before it expires (default 60)"),
    PROV_INT("TPOAuthDefaultTokenLifetime", default_token_lifetime,
             "Access-token lifetime assumed when the provider gives none (default 3600)"),
    AP_INIT_TAKE1("TPOAuthRefreshFailure", cmd_refresh_failure, NULL, RSRC_CONF,
                  "When a refresh fails and the token has expired: 502 (default) or login"),
    PROV_INT("TPOAuthRefreshRetryAfter", refresh_retry_after,
             "Seconds a failed refresh is not retried (default 30)"),
    AP_INIT_TAKE1("TPOAuthExport", cmd_dir_enum, NULL, ACCESS_CONF,
                  "Where the identity goes: env (default), headers, both, none"),
    AP_INIT_TAKE1("TPOAuthUnauthenticated", cmd_dir_enum, NULL, ACCESS_CONF,
                  "Requests without a session: login (default), 401, pass"),
    AP_INIT_TAKE1("TPOAuthAuthzFailure", cmd_dir_enum, NULL, ACCESS_CONF,
                  "A Require rule that fails: 403 (default), 401, login"),
    { NULL }
};
