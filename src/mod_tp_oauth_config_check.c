/* SPDX-License-Identifier: Apache-2.0
 * Licensed under the Apache License, Version 2.0 (see LICENSE). */
/* The check_config pass that makes `apachectl configtest` refuse an
 * incomplete or contradictory setup: provider defaults and validation, the
 * list of headers stripped from requests, and the check that every
 * `TPOAuthProvider name` reference names a defined provider. */
#include <apr_lib.h>
#include <apr_strings.h>
#include "mod_tp_oauth_base.h"
#include "tpo_claims.h"
#include "tpo_defaults.h"
#include "tpo_par.h"
#include "tpo_provider.h"
#include "tpo_token.h"

/* The default session cookie: tp_oauth_<provider>, so that providers on one
 * host keep their sessions apart; characters a cookie name cannot hold
 * become '_'. */
static const char *default_cookie_name(apr_pool_t *p, const char *provider)
{
    char *name = apr_pstrcat(p, TPO_DEF_COOKIE_NAME_PREFIX, provider, NULL);
    char *c;

    for (c = name; *c; c++) {
        if (!apr_isalnum(*c) && !strchr("!#$%&'*+-.^_`|~", *c)) {
            *c = '_';
        }
    }
    return name;
}

/* TPO_DEF_ID_TOKEN_ALGS as a NULL-terminated list */
static const char **default_algs(apr_pool_t *p)
{
    apr_array_header_t *a = apr_array_make(p, 12, sizeof(const char *));
    char *list = apr_pstrdup(p, TPO_DEF_ID_TOKEN_ALGS), *last, *alg;

    for (alg = apr_strtok(list, " ", &last); alg; alg = apr_strtok(NULL, " ", &last)) {
        APR_ARRAY_PUSH(a, const char *) = alg;
    }
    APR_ARRAY_PUSH(a, const char *) = NULL;
    return (const char **)a->elts;
}

/* ------------------------------------------------------------ provider references */

/* Every `TPOAuthProvider name` reference in the configuration, checked in
 * check_config once all providers are known. */
typedef struct provider_ref {
    server_rec *s;
    const char *name;
    const char *where;
} provider_ref;
static apr_array_header_t *provider_refs;
static long post_preserve_max; /* the largest TPOAuthPreservePost of this pass */

void tpa_config_note_provider_ref(apr_pool_t *p, server_rec *s, const char *name, const char *where)
{
    provider_ref *ref;

    if (!provider_refs) {
        provider_refs = apr_array_make(p, 8, sizeof(provider_ref));
    }
    ref = apr_array_push(provider_refs);
    ref->s = s;
    ref->name = name;
    ref->where = where;
}

/* ------------------------------------------------------------ check_config */

/* Defaults (the table's from tpo_defaults.h, then those computed from other
 * settings), then the checks; returns an error message naming the directive. */
static const char *finalize_provider(apr_pool_t *p, tpa_provider_conf *pc)
{
    const char *at = apr_psprintf(p, "<TPOAuthProvider %s> (%s)", pc->name, pc->defined_at);
    int explicit_endpoints = pc->authorization_endpoint && pc->token_endpoint;
    const char *perr;

    if ((perr = tpa_directives_defaults(p, TPO_CTX_PROVIDER, pc)) != NULL) {
        return apr_psprintf(p, "%s: %s", at, perr);
    }
    /* TPOAuthHTTPTimeout connect [total]: two fields */
    if (pc->connect_timeout_ms == TPO_UNSET)
        pc->connect_timeout_ms = TPO_DEF_HTTP_CONNECT_MS;
    if (pc->timeout_ms == TPO_UNSET)
        pc->timeout_ms = TPO_DEF_HTTP_TIMEOUT_MS;

    if (pc->discovery == TPO_UNSET) {
        pc->discovery = explicit_endpoints ? 0 : 1;
    }
    if (pc->discovery && !pc->discovery_url) {
        if (!pc->issuer) {
            return apr_psprintf(p,
                                "%s: TPOAuthIssuer is missing (needed for discovery; or "
                                "set TPOAuthDiscovery off with TPOAuthAuthorizationEndpoint "
                                "and TPOAuthTokenEndpoint)",
                                at);
        }
        pc->discovery_url = tpo_provider_discovery_url(p, pc->issuer);
    }
    if (!pc->discovery) {
        if (!pc->authorization_endpoint) {
            return apr_psprintf(p,
                                "%s: TPOAuthDiscovery is off and TPOAuthAuthorizationEndpoint "
                                "is missing",
                                at);
        }
        if (!pc->token_endpoint) {
            return apr_psprintf(p,
                                "%s: TPOAuthDiscovery is off and TPOAuthTokenEndpoint "
                                "is missing",
                                at);
        }
    }
    if (!pc->discovery && pc->par_mode == TPO_PAR_ON && !pc->par_endpoint) {
        return apr_psprintf(p,
                            "%s: TPOAuthPushedAuthorization is on and TPOAuthDiscovery is off: "
                            "TPOAuthPAREndpoint is missing",
                            at);
    }
    if (!pc->client_id) {
        return apr_psprintf(p, "%s: TPOAuthClientID is missing", at);
    }
    if (!pc->redirect_uri) {
        return apr_psprintf(p, "%s: TPOAuthRedirectURI is missing", at);
    }
    if (pc->client_auth == TPO_UNSET) {
        /* the credential configured decides: a secret, a signing key, a
         * certificate (both TLS methods look the same from this side) */
        pc->client_auth = pc->client_secret      ? TPO_CLIENT_AUTH_BASIC
                          : pc->client_keys      ? TPO_CLIENT_AUTH_PRIVATE_KEY_JWT
                          : pc->client_cert_file ? TPO_CLIENT_AUTH_TLS
                                                 : TPO_CLIENT_AUTH_NONE;
    }
    switch (pc->client_auth) {
    case TPO_CLIENT_AUTH_BASIC:
    case TPO_CLIENT_AUTH_POST:
    case TPO_CLIENT_AUTH_SECRET_JWT:
        if (!pc->client_secret) {
            return apr_psprintf(p, "%s: TPOAuthClientAuth %s needs TPOAuthClientSecret", at,
                                tpo_client_auth_name(pc->client_auth));
        }
        break;
    case TPO_CLIENT_AUTH_PRIVATE_KEY_JWT:
        if (!pc->client_keys) {
            return apr_psprintf(p,
                                "%s: TPOAuthClientAuth private_key_jwt needs "
                                "TPOAuthClientSigningKey",
                                at);
        }
        break;
    case TPO_CLIENT_AUTH_TLS:
    case TPO_CLIENT_AUTH_SELF_SIGNED_TLS:
        if (!pc->client_cert_file) {
            return apr_psprintf(p, "%s: TPOAuthClientAuth %s needs TPOAuthClientCertificate", at,
                                tpo_client_auth_name(pc->client_auth));
        }
        break;
    default:
        break;
    }
    if (tpo_scope_has(pc->scope, "openid") && !pc->discovery) {
        if (!pc->issuer) {
            return apr_psprintf(p,
                                "%s: TPOAuthScope has openid, so ID tokens must be validated: "
                                "TPOAuthIssuer is missing",
                                at);
        }
        if (!pc->jwks_uri) {
            return apr_psprintf(p,
                                "%s: TPOAuthScope has openid and TPOAuthDiscovery is off: "
                                "TPOAuthJWKSURI is missing (needed to validate ID tokens)",
                                at);
        }
    }
    if (!tpo_scope_has(pc->scope, "openid") && !pc->userinfo_endpoint) {
        return apr_psprintf(p,
                            "%s: without openid in TPOAuthScope there is no ID token: "
                            "set TPOAuthUserinfoEndpoint so the user can be identified",
                            at);
    }
    if (!pc->id_token_algs) {
        pc->id_token_algs = default_algs(p);
    }
    else {
        int i;
        for (i = 0; pc->id_token_algs[i]; i++) {
            if (!strncmp(pc->id_token_algs[i], "HS", 2) && !pc->client_secret) {
                return apr_psprintf(p,
                                    "%s: TPOAuthIDTokenAlgorithms %s needs "
                                    "TPOAuthClientSecret (HMAC key)",
                                    at, pc->id_token_algs[i]);
            }
        }
    }
    if (pc->connect_timeout_ms > pc->timeout_ms) {
        return apr_psprintf(p,
                            "%s: TPOAuthHTTPTimeout: the connect timeout is longer than "
                            "the total timeout",
                            at);
    }
    if (!pc->cookie_name)
        pc->cookie_name = default_cookie_name(p, pc->name);
    if ((perr = tpo_claims_env_prefix_problem(p, pc->claim_prefix)) != NULL) {
        return apr_psprintf(p, "%s: TPOAuthClaimPrefix %s: %s", at, pc->claim_prefix, perr);
    }
    if ((perr = tpo_claims_header_prefix_problem(p, pc->header_prefix)) != NULL) {
        return apr_psprintf(p, "%s: TPOAuthHeaderPrefix %s: %s", at, pc->header_prefix, perr);
    }
    /* Cookie name prefixes (RFC 6265bis 4.1.3): browsers refuse a __Secure-
     * cookie without Secure, and a __Host- cookie also with a Domain or a
     * Path other than /. The login cookie (<name>_login) has the same prefix. */
    if (!strncasecmp(pc->cookie_name, "__Host-", 7)) {
        if (pc->cookie_domain) {
            return apr_psprintf(p,
                                "%s: TPOAuthCookieDomain cannot be used with the cookie "
                                "name %s (a __Host- cookie has no Domain)",
                                at, pc->cookie_name);
        }
        if (strcmp(pc->cookie_path, "/") != 0) {
            return apr_psprintf(p,
                                "%s: TPOAuthCookiePath %s cannot be used with the cookie "
                                "name %s (a __Host- cookie has Path=/)",
                                at, pc->cookie_path, pc->cookie_name);
        }
    }
    if (!strncasecmp(pc->cookie_name, "__Host-", 7) ||
        !strncasecmp(pc->cookie_name, "__Secure-", 9)) {
        if (pc->cookie_secure == TPO_COOKIE_SECURE_OFF) {
            return apr_psprintf(p,
                                "%s: TPOAuthCookieSecure off cannot be used with the cookie "
                                "name %s (browsers require Secure for it)",
                                at, pc->cookie_name);
        }
        /* auto would leave Secure out on http behind a TLS proxy: the
         * browser would drop the cookie */
        pc->cookie_secure = TPO_COOKIE_SECURE_ON;
    }
    if (!strcasecmp(pc->cookie_samesite, "None")) {
        ap_log_perror(
            APLOG_MARK, APLOG_WARNING, 0, p,
            TPO_APLOGNO(00034) "%s: TPOAuthCookieSameSite None: the session cookie is sent on "
                               "cross-site requests (only on https)",
            at);
    }
    return NULL;
}

/* Two providers of one host with one cookie name would overwrite each
 * other's sessions (the default name includes the provider's name, so only
 * an explicit TPOAuthCookieName can do this). */
static void warn_shared_cookie_names(apr_pool_t *p, server_rec *vs)
{
    tpa_server_conf *sc = tpa_config_server(vs);
    apr_hash_t *seen = apr_hash_make(p);
    apr_hash_index_t *hi;

    for (hi = apr_hash_first(p, sc->providers); hi; hi = apr_hash_next(hi)) {
        tpa_provider_conf *pc = apr_hash_this_val(hi);
        tpa_provider_conf *other = apr_hash_get(seen, pc->cookie_name, APR_HASH_KEY_STRING);

        if (other && other != pc) {
            ap_log_error(
                APLOG_MARK, APLOG_STARTUP | APLOG_WARNING, 0, vs,
                TPO_APLOGNO(00077) "providers %s and %s of %s:%u share the cookie name %s: a login "
                                   "through one ends the other's session; give each its own "
                                   "TPOAuthCookieName",
                other->name, pc->name, vs->server_hostname ? vs->server_hostname : "(this server)",
                vs->port, pc->cookie_name);
        }
        apr_hash_set(seen, pc->cookie_name, APR_HASH_KEY_STRING, pc);
    }
}

static void build_strip_list(apr_pool_t *p, server_rec *vs)
{
    tpa_server_conf *sc = tpa_config_server(vs);
    apr_hash_index_t *hi;

    sc->strip = apr_array_make(p, 4, sizeof(const char *));
    for (hi = apr_hash_first(p, sc->providers); hi; hi = apr_hash_next(hi)) {
        tpa_provider_conf *pc = apr_hash_this_val(hi);
        APR_ARRAY_PUSH(sc->strip, const char *) = tpa_config_header_norm(p, pc->header_prefix);
        if (pc->user_header) {
            APR_ARRAY_PUSH(sc->strip, const char *) = tpa_config_header_norm(p, pc->user_header);
        }
    }
}

int tpa_config_check(apr_pool_t *pconf, apr_pool_t *plog, apr_pool_t *ptemp, server_rec *s)
{
    apr_hash_t *done = apr_hash_make(ptemp);
    server_rec *vs;
    int i;
    const char *derr;

    if ((derr = tpa_config_dir_defaults(pconf)) != NULL) {
        ap_log_error(APLOG_MARK, APLOG_STARTUP | APLOG_EMERG, 0, s, TPO_APLOGNO(00080) "%s", derr);
        return !OK;
    }

    for (vs = s; vs; vs = vs->next) {
        tpa_server_conf *sc = tpa_config_server(vs);
        apr_hash_index_t *hi;

        for (hi = apr_hash_first(ptemp, sc->providers); hi; hi = apr_hash_next(hi)) {
            tpa_provider_conf *pc = apr_hash_this_val(hi);
            const char *err;

            if (apr_hash_get(done, &pc, sizeof(pc))) {
                continue;
            }
            apr_hash_set(done, apr_pmemdup(ptemp, &pc, sizeof(pc)), sizeof(pc), pc);
            if ((err = finalize_provider(pconf, pc)) != NULL) {
                ap_log_error(APLOG_MARK, APLOG_STARTUP | APLOG_EMERG, 0, vs,
                             TPO_APLOGNO(00035) "%s", err);
                return !OK;
            }
        }
    }
    for (vs = s; vs; vs = vs->next) {
        build_strip_list(pconf, vs);
        warn_shared_cookie_names(ptemp, vs);
    }
    {
        tpa_server_conf *sc = tpa_config_server(s);
        if (sc->cache_type != TPO_CACHE_SHM && !sc->cache_passphrase && !sc->cache_key_file) {
            ap_log_error(
                APLOG_MARK, APLOG_STARTUP | APLOG_EMERG, 0, s,
                TPO_APLOGNO(
                    00036) "TPOAuthCache %s (%s): TPOAuthCacheKeyFile or TPOAuthCachePassphrase "
                           "is missing (sessions in a distributed cache are always encrypted)",
                sc->cache_type == TPO_CACHE_REDIS ? "redis" : "memcache", sc->cache_set_at);
            return !OK;
        }
        if (sc->cache_type != TPO_CACHE_SHM && !sc->login_secret) {
            ap_log_error(
                APLOG_MARK, APLOG_STARTUP | APLOG_WARNING, 0, s,
                TPO_APLOGNO(
                    00037) "TPOAuthCache %s (%s) without TPOAuthLoginCookieKeyFile: the login "
                           "cookies are sealed with a random key of this server, so a login "
                           "started here cannot finish on another server; give every server "
                           "the same key file",
                sc->cache_type == TPO_CACHE_REDIS ? "redis" : "memcache", sc->cache_set_at);
        }
        if (sc->cache_type == TPO_CACHE_REDIS) {
            /* the files and settings are checked now, not at the first
             * request: a client built and dropped */
            tpo_redis_conf rc;
            tpo_cache *probe;
            const char *err = NULL;
            tpa_config_redis(ptemp, sc, apr_time_from_sec(1), &rc);
            if (tpo_redis_cache_create_conf(ptemp, &rc, &probe, &err) != APR_SUCCESS) {
                ap_log_error(APLOG_MARK, APLOG_STARTUP | APLOG_EMERG, 0, s,
                             TPO_APLOGNO(00500) "TPOAuthCache redis (%s): %s", sc->cache_set_at,
                             err ? err : "bad settings");
                return !OK;
            }
        }
        else if (sc->cache_redis_sentinel_master || sc->cache_redis_sentinel_password ||
                 sc->cache_redis_tls == 1 || sc->cache_redis_user) {
            ap_log_error(
                APLOG_MARK, APLOG_STARTUP | APLOG_EMERG, 0, s,
                TPO_APLOGNO(00501) "TPOAuthCacheRedis* settings without TPOAuthCache redis");
            return !OK;
        }
        /* both: the key file writes, the passphrase is only read (moving
         * from a passphrase to a key file); one previous key at most */
        if (sc->cache_key_file && sc->cache_passphrase &&
            (sc->cache_key_file_prev || sc->cache_passphrase_prev)) {
            ap_log_error(
                APLOG_MARK, APLOG_STARTUP | APLOG_EMERG, 0, s,
                TPO_APLOGNO(00038) "TPOAuthCacheKeyFile and TPOAuthCachePassphrase together: the "
                                   "passphrase is the previous key, so neither may name another "
                                   "previous one");
            return !OK;
        }
    }
    if (provider_refs) {
        for (i = 0; i < provider_refs->nelts; i++) {
            provider_ref *ref = &APR_ARRAY_IDX(provider_refs, i, provider_ref);
            if (!tpa_config_provider(ref->s, ref->name)) {
                ap_log_error(
                    APLOG_MARK, APLOG_STARTUP | APLOG_EMERG, 0, ref->s,
                    TPO_APLOGNO(
                        00039) "TPOAuthProvider %s (%s): no <TPOAuthProvider %s> is defined for "
                               "this server",
                    ref->name, ref->where, ref->name);
                return !OK;
            }
        }
    }
    return OK;
}

/* Called from pre_config: references of the previous generation are gone
 * with its pool. */
void tpa_config_reset_refs(void)
{
    provider_refs = NULL;
    post_preserve_max = 0;
}

void tpa_config_note_post_preserve(long bytes)
{
    if (bytes > post_preserve_max) {
        post_preserve_max = bytes;
    }
}

long tpa_config_post_preserve_max(void)
{
    return post_preserve_max;
}
