/* SPDX-License-Identifier: Apache-2.0
 * Licensed under the Apache License, Version 2.0 (see LICENSE). */
/* The directive table: one row per directive. Include it after defining
 *
 *   TPO_DIR(id, name, args, handler, ctx, type, field, min, max, kw, def, help)
 *
 *   id       identifier of the row (TPO_DI_<id> is its index)
 *   name     the directive
 *   args     how httpd splits its arguments: TAKE1, TAKE2, TAKE12, FLAG,
 *            ITERATE, TAKE_ARGV, RAW_ARGS (AP_INIT_<args>)
 *   handler  set_value (one argument, parsed by type), set_url (a set_value
 *            that must be an http(s) URL), set_flag (On|Off), all driven by
 *            the row; or a cmd_* function for the directives with their own
 *            syntax (which may still store into a typed field)
 *   ctx      SERVER (main server only), PROVIDER (inside <TPOAuthProvider>),
 *            DIR (<Location>, <Directory>), SECTION (server or virtual host),
 *            SERVER_DIR (server, virtual host or directory)
 *   type     of the field: STR, INT, FLAG, ENUM, SIZE, MS, or NONE (the
 *            handler keeps its own fields, or stores into `field` in its
 *            own way). Every INT/FLAG/ENUM/SIZE/MS field starts as
 *            TPO_UNSET (the one "not set" marker), every STR as NULL.
 *   field    TPO_PC(member), TPO_SC(member), TPO_DC(member) or TPO_NOFIELD
 *   min,max  the range of INT (and the minimum of SIZE)
 *   kw       the keyword table of ENUM (and FLAG-like keyword) fields, or NULL
 *   def      the default as the directive's own argument text (from
 *            tpo_defaults.h), applied to an unset field by the same parser;
 *            NULL: none, or computed in mod_tp_oauth_config_check.c from
 *            other settings (documented in README.md)
 *   help     httpd's help text
 *
 * Adding a directive is one row here (plus its field and its README
 * section); `make check` compares this table with README.md and
 * conf/tp_oauth.conf (test/unit/check_directives.py). */
#include "tpo_defaults.h"

#ifndef TPO_XSTR
#define TPO_STR_(x) #x
#define TPO_XSTR(x) TPO_STR_(x)
#endif

#ifndef TPO_MAX_SECONDS
#define TPO_MAX_SECONDS (365 * 24 * 3600)
#endif

/* ------------------------------------------------------------ server config */
TPO_DIR(cache_size, "TPOAuthCacheSize", TAKE1, set_value, SERVER, SIZE, TPO_SC(cache_size),
        1024 * 1024, 0, NULL, TPO_XSTR(TPO_DEF_CACHE_SIZE_M) "M",
        "Bytes of shared memory for sessions (e.g. 64M)")
TPO_DIR(
    cache, "TPOAuthCache", TAKE12, cmd_cache, SERVER, NONE, TPO_NOFIELD, 0, 0, NULL, TPO_DEF_CACHE,
    "Session store: shm, memcache HOST:PORT[,...] or redis HOST:PORT[,...] (default " TPO_DEF_CACHE
    ")")
TPO_DIR(cache_passphrase, "TPOAuthCachePassphrase", TAKE12, cmd_cache_passphrase, SERVER, NONE,
        TPO_NOFIELD, 0, 0, NULL, NULL,
        "Encryption passphrase for a distributed cache [previous passphrase]")
TPO_DIR(cache_key_file, "TPOAuthCacheKeyFile", TAKE12, cmd_cache_key_file, SERVER, NONE,
        TPO_NOFIELD, 0, 0, NULL, NULL,
        "File with >= 32 random bytes: the distributed cache's key [previous file]")
TPO_DIR(cache_timeout, "TPOAuthCacheTimeout", TAKE1, set_value, SERVER, MS,
        TPO_SC(cache_timeout_ms), 0, 0, NULL, TPO_XSTR(TPO_DEF_CACHE_TIMEOUT_S),
        "Timeout in seconds of one operation on a distributed cache (default " TPO_XSTR(
            TPO_DEF_CACHE_TIMEOUT_S) ")")
TPO_DIR(
    cache_local, "TPOAuthSessionCacheLocal", FLAG, set_flag, SERVER, FLAG, TPO_SC(cache_local), 0,
    0, NULL, TPO_DEF_CACHE_LOCAL,
    "Keep session records read from memcache/redis in shared memory (default " TPO_DEF_CACHE_LOCAL
    ")")
TPO_DIR(cache_local_size, "TPOAuthSessionCacheLocalSize", TAKE1, set_value, SERVER, SIZE,
        TPO_SC(cache_local_size), 1024 * 1024, 0, NULL, TPO_XSTR(TPO_DEF_CACHE_LOCAL_SIZE_M) "M",
        "Bytes of shared memory for the local copies of sessions (default " TPO_XSTR(
            TPO_DEF_CACHE_LOCAL_SIZE_M) "M)")
TPO_DIR(cache_local_lifetime, "TPOAuthSessionCacheLocalLifetime", TAKE1, set_value, SERVER, INT,
        TPO_SC(cache_local_lifetime), 1, 3600, NULL, TPO_XSTR(TPO_DEF_CACHE_LOCAL_LIFETIME),
        "Seconds a local copy of a memcache session is used: how long a logout elsewhere may take "
        "to arrive (default " TPO_XSTR(TPO_DEF_CACHE_LOCAL_LIFETIME) ")")
TPO_DIR(cache_redis_password, "TPOAuthCacheRedisPassword", TAKE1, set_value, SERVER, STR,
        TPO_SC(cache_redis_password), 0, 0, NULL, NULL, "Password (AUTH) of the Redis server")
TPO_DIR(cache_redis_user, "TPOAuthCacheRedisUser", TAKE1, set_value, SERVER, STR,
        TPO_SC(cache_redis_user), 0, 0, NULL, NULL,
        "ACL user name (AUTH user password) at the Redis server")
TPO_DIR(cache_redis_database, "TPOAuthCacheRedisDatabase", TAKE1, set_value, SERVER, INT,
        TPO_SC(cache_redis_database), 0, 1000000, NULL, TPO_XSTR(TPO_DEF_CACHE_REDIS_DATABASE),
        "Redis database number (SELECT; default " TPO_XSTR(TPO_DEF_CACHE_REDIS_DATABASE) ")")
TPO_DIR(cache_redis_sentinel_master, "TPOAuthCacheRedisSentinelMaster", TAKE1, set_value, SERVER,
        STR, TPO_SC(cache_redis_sentinel_master), 0, 0, NULL, NULL,
        "Name of the master the Redis sentinels watch; TPOAuthCache redis then lists the "
        "sentinels")
TPO_DIR(cache_redis_sentinel_password, "TPOAuthCacheRedisSentinelPassword", TAKE1, set_value,
        SERVER, STR, TPO_SC(cache_redis_sentinel_password), 0, 0, NULL, NULL,
        "Password (AUTH) of the Redis sentinels")
TPO_DIR(cache_redis_wait, "TPOAuthCacheRedisWaitReplicas", TAKE1, set_value, SERVER, INT,
        TPO_SC(cache_redis_wait), 0, 64, NULL, TPO_XSTR(TPO_DEF_CACHE_REDIS_WAIT),
        "A write to Redis counts once this many replicas have it (WAIT; default " TPO_XSTR(
            TPO_DEF_CACHE_REDIS_WAIT) ")")
TPO_DIR(cache_redis_tls, "TPOAuthCacheRedisTLS", FLAG, set_flag, SERVER, FLAG,
        TPO_SC(cache_redis_tls), 0, 0, NULL, TPO_DEF_CACHE_REDIS_TLS,
        "On: TLS to Redis (and to the sentinels)")
TPO_DIR(cache_redis_tls_ca_file, "TPOAuthCacheRedisTLSCAFile", TAKE1, set_value, SERVER, STR,
        TPO_SC(cache_redis_tls_ca_file), 0, 0, NULL, NULL,
        "PEM file of the CAs that sign the Redis server's certificate (default: the system's)")
TPO_DIR(cache_redis_tls_cert_file, "TPOAuthCacheRedisTLSCertFile", TAKE1, set_value, SERVER, STR,
        TPO_SC(cache_redis_tls_cert_file), 0, 0, NULL, NULL,
        "PEM file of the client certificate shown to Redis")
TPO_DIR(cache_redis_tls_key_file, "TPOAuthCacheRedisTLSKeyFile", TAKE1, set_value, SERVER, STR,
        TPO_SC(cache_redis_tls_key_file), 0, 0, NULL, NULL,
        "PEM file of the client certificate's key")
TPO_DIR(cache_redis_tls_server_name, "TPOAuthCacheRedisTLSServerName", TAKE1, set_value, SERVER,
        STR, TPO_SC(cache_redis_tls_server_name), 0, 0, NULL, NULL,
        "Name the Redis server's certificate must carry (default: the host it is reached at)")
TPO_DIR(trusted_proxies, "TPOAuthTrustedProxies", ITERATE, cmd_trusted_proxies, SERVER, NONE,
        TPO_NOFIELD, 0, 0, NULL, NULL,
        "Peers (addresses or CIDRs) whose Forwarded/X-Forwarded-* headers are believed")
TPO_DIR(pending_logins, "TPOAuthPendingLogins", TAKE1, set_value, SERVER, INT,
        TPO_SC(pending_capacity), 16, 10000000, NULL, TPO_XSTR(TPO_DEF_PENDING_LOGINS),
        "How many consumed-login markers the shared-memory store keeps (replay "
        "protection of the callback)")
TPO_DIR(login_key_file, "TPOAuthLoginCookieKeyFile", TAKE1, cmd_login_key_file, SERVER, NONE,
        TPO_NOFIELD, 0, 0, NULL, NULL,
        "File with >= 32 random bytes the login cookies' key is derived from "
        "(the same file on every server behind a load balancer)")
TPO_DIR(provider_section, "<TPOAuthProvider", RAW_ARGS, cmd_provider_section, SECTION, NONE,
        TPO_NOFIELD, 0, 0, NULL, NULL,
        "Defines an authorization server and this server's client at it")

/* ------------------------------------------------------------ <TPOAuthProvider> */
TPO_DIR(issuer, "TPOAuthIssuer", TAKE1, set_url, PROVIDER, STR, TPO_PC(issuer), 0, 0, NULL, NULL,
        "The provider's issuer identifier (URL)")
TPO_DIR(discovery, "TPOAuthDiscovery", TAKE1, cmd_discovery, PROVIDER, FLAG, TPO_PC(discovery), 0,
        0, NULL, NULL, "on (default), off, or the URL of the metadata document")
TPO_DIR(authorization_endpoint, "TPOAuthAuthorizationEndpoint", TAKE1, set_url, PROVIDER, STR,
        TPO_PC(authorization_endpoint), 0, 0, NULL, NULL, "Authorization endpoint URL")
TPO_DIR(token_endpoint, "TPOAuthTokenEndpoint", TAKE1, set_url, PROVIDER, STR,
        TPO_PC(token_endpoint), 0, 0, NULL, NULL, "Token endpoint URL")
TPO_DIR(userinfo_endpoint, "TPOAuthUserinfoEndpoint", TAKE1, set_url, PROVIDER, STR,
        TPO_PC(userinfo_endpoint), 0, 0, NULL, NULL, "Userinfo (or profile) endpoint URL")
TPO_DIR(jwks_uri, "TPOAuthJWKSURI", TAKE1, set_url, PROVIDER, STR, TPO_PC(jwks_uri), 0, 0, NULL,
        NULL, "URL of the provider's JWK Set")
TPO_DIR(client_id, "TPOAuthClientID", TAKE1, set_value, PROVIDER, STR, TPO_PC(client_id), 0, 0,
        NULL, NULL, "This server's client_id at the provider")
TPO_DIR(client_secret, "TPOAuthClientSecret", TAKE1, set_value, PROVIDER, STR,
        TPO_PC(client_secret), 0, 0, NULL, NULL, "The client secret")
TPO_DIR(client_auth, "TPOAuthClientAuth", TAKE1, set_value, PROVIDER, ENUM, TPO_PC(client_auth), 0,
        0, kw_client_auth, NULL,
        "client_secret_basic (default with a secret), client_secret_post, client_secret_jwt, "
        "private_key_jwt, tls_client_auth, self_signed_tls_client_auth or none")
TPO_DIR(client_signing_key, "TPOAuthClientSigningKey", TAKE123, cmd_client_signing_key, PROVIDER,
        NONE, TPO_NOFIELD, 0, 0, NULL, NULL,
        "A PEM private key for private_key_jwt [kid [alg]]; repeatable: the first signs, all "
        "are published")
TPO_DIR(client_assertion_aud, "TPOAuthClientAssertionAudience", TAKE1, set_value, PROVIDER, ENUM,
        TPO_PC(client_assertion_aud), 0, 0, kw_client_assertion_aud,
        TPO_DEF_CLIENT_ASSERTION_AUDIENCE,
        "aud of client assertions: token (endpoint), issuer or endpoint (the one called; "
        "default " TPO_DEF_CLIENT_ASSERTION_AUDIENCE ")")
TPO_DIR(client_certificate, "TPOAuthClientCertificate", TAKE2, cmd_client_certificate, PROVIDER,
        NONE, TPO_NOFIELD, 0, 0, NULL, NULL,
        "PEM client certificate and key presented on every call to the provider (RFC 8705)")
TPO_DIR(token_encoding, "TPOAuthTokenRequestEncoding", TAKE1, set_value, PROVIDER, ENUM,
        TPO_PC(token_encoding), 0, 0, kw_token_encoding, TPO_DEF_TOKEN_ENCODING,
        "form or json (default " TPO_DEF_TOKEN_ENCODING ")")
TPO_DIR(scope, "TPOAuthScope", TAKE1, set_value, PROVIDER, STR, TPO_PC(scope), 0, 0, NULL,
        TPO_DEF_SCOPE, "Scopes to request, space separated")
TPO_DIR(auth_param, "TPOAuthAuthParam", TAKE2, cmd_auth_param, PROVIDER, NONE, TPO_NOFIELD, 0, 0,
        NULL, NULL, "An extra authorization-request parameter: name value")
TPO_DIR(redirect_uri, "TPOAuthRedirectURI", TAKE1, cmd_redirect_uri, PROVIDER, STR,
        TPO_PC(redirect_uri), 0, 0, NULL, NULL, "The redirect URI: a local path or an absolute URL")
TPO_DIR(id_token_algs, "TPOAuthIDTokenAlgorithms", TAKE_ARGV, cmd_algs, PROVIDER, NONE, TPO_NOFIELD,
        0, 0, NULL, TPO_DEF_ID_TOKEN_ALGS, "JWS algorithms accepted for ID tokens")
TPO_DIR(clock_skew, "TPOAuthClockSkew", TAKE1, set_value, PROVIDER, INT, TPO_PC(clock_skew), 0,
        TPO_MAX_SECONDS, NULL, TPO_XSTR(TPO_DEF_CLOCK_SKEW), "Allowed clock skew in seconds")
TPO_DIR(metadata_refresh, "TPOAuthMetadataRefresh", TAKE1, set_value, PROVIDER, INT,
        TPO_PC(metadata_refresh), 0, TPO_MAX_SECONDS, NULL, TPO_XSTR(TPO_DEF_METADATA_REFRESH_S),
        "Seconds after which the discovery document and the JWK Set are fetched again (0: only "
        "after a failure or an unknown key)")
TPO_DIR(http_timeout, "TPOAuthHTTPTimeout", TAKE12, cmd_http_timeout, PROVIDER, NONE, TPO_NOFIELD,
        0, 0, NULL, TPO_XSTR(TPO_DEF_HTTP_CONNECT_S) " " TPO_XSTR(TPO_DEF_HTTP_TIMEOUT_S),
        "Connect and total timeouts in seconds for calls to the provider")
TPO_DIR(http_max_response, "TPOAuthHTTPMaxResponse", TAKE1, set_value, PROVIDER, SIZE,
        TPO_PC(max_response), 0, 0, NULL, TPO_XSTR(TPO_DEF_HTTP_MAX_RESPONSE_M) "M",
        "Largest response accepted from the provider (e.g. 1M)")
TPO_DIR(ca_file, "TPOAuthCACertificate", TAKE1, set_value, PROVIDER, STR, TPO_PC(ca_file), 0, 0,
        NULL, NULL, "CA bundle for TLS to the provider")
TPO_DIR(outgoing_proxy, "TPOAuthOutgoingProxy", TAKE12, cmd_outgoing_proxy, PROVIDER, NONE,
        TPO_NOFIELD, 0, 0, NULL, NULL,
        "HTTP(S) proxy URL for calls to the provider [no-proxy list: host,.domain,addr/len]")
TPO_DIR(cookie_name, "TPOAuthCookieName", TAKE1, cmd_cookie_name, PROVIDER, STR,
        TPO_PC(cookie_name), 0, 0, NULL, NULL,
        "Name of the session cookie (default: " TPO_DEF_COOKIE_NAME_PREFIX "<provider>)")
TPO_DIR(cookie_path, "TPOAuthCookiePath", TAKE1, set_value, PROVIDER, STR, TPO_PC(cookie_path), 0,
        0, NULL, TPO_DEF_COOKIE_PATH, "Path attribute of the cookies")
TPO_DIR(cookie_domain, "TPOAuthCookieDomain", TAKE1, set_value, PROVIDER, STR,
        TPO_PC(cookie_domain), 0, 0, NULL, NULL, "Domain attribute of the cookies")
TPO_DIR(cookie_samesite, "TPOAuthCookieSameSite", TAKE1, cmd_samesite, PROVIDER, STR,
        TPO_PC(cookie_samesite), 0, 0, NULL, TPO_DEF_COOKIE_SAMESITE,
        "SameSite attribute of the session cookie: Lax, Strict or None "
        "(default " TPO_DEF_COOKIE_SAMESITE ")")
TPO_DIR(
    cookie_secure, "TPOAuthCookieSecure", TAKE1, set_value, PROVIDER, ENUM, TPO_PC(cookie_secure),
    0, 0, kw_cookie_secure, TPO_DEF_COOKIE_SECURE,
    "Secure attribute of the cookies: auto (on https), on or off (default " TPO_DEF_COOKIE_SECURE
    ")")
TPO_DIR(session_max_age, "TPOAuthSessionMaxAge", TAKE1, set_value, PROVIDER, INT,
        TPO_PC(session_max_age), 1, TPO_MAX_SECONDS, NULL, TPO_XSTR(TPO_DEF_SESSION_MAX_AGE),
        "Maximum session lifetime in seconds")
TPO_DIR(login_timeout, "TPOAuthLoginTimeout", TAKE1, set_value, PROVIDER, INT,
        TPO_PC(login_timeout), 1, TPO_MAX_SECONDS, NULL, TPO_XSTR(TPO_DEF_LOGIN_TIMEOUT),
        "Seconds a user has to complete a login at the provider")
TPO_DIR(pending_per_browser, "TPOAuthPendingLoginsPerBrowser", TAKE1, set_value, PROVIDER, INT,
        TPO_PC(max_pending_per_browser), 1, 64, NULL, TPO_XSTR(TPO_DEF_PENDING_PER_BROWSER),
        "Logins one browser may have in progress at once (tabs)")
TPO_DIR(remote_user_claim, "TPOAuthRemoteUserClaim", TAKE_ARGV, cmd_remote_user, PROVIDER, STR,
        TPO_PC(remote_user_claim), 0, 0, NULL, TPO_DEF_REMOTE_USER_CLAIM,
        "Claim that becomes REMOTE_USER [regex replacement]")
TPO_DIR(claim_prefix, "TPOAuthClaimPrefix", TAKE1, set_value, PROVIDER, STR, TPO_PC(claim_prefix),
        0, 0, NULL, TPO_DEF_CLAIM_PREFIX, "Prefix of the claim environment variables")
TPO_DIR(header_prefix, "TPOAuthHeaderPrefix", TAKE1, cmd_header_name, PROVIDER, STR,
        TPO_PC(header_prefix), 0, 0, NULL, TPO_DEF_HEADER_PREFIX,
        "Prefix of the identity request headers (default " TPO_DEF_HEADER_PREFIX ")")
TPO_DIR(user_header, "TPOAuthUserHeader", TAKE1, cmd_header_name, PROVIDER, STR,
        TPO_PC(user_header), 0, 0, NULL, NULL,
        "Request header carrying the user name (default <prefix>User)")
TPO_DIR(claim_separator, "TPOAuthClaimSeparator", TAKE1, set_value, PROVIDER, STR,
        TPO_PC(claim_separator), 0, 0, NULL, TPO_DEF_CLAIM_SEPARATOR,
        "Joins nested claim names (default " TPO_DEF_CLAIM_SEPARATOR ")")
TPO_DIR(claim_delimiter, "TPOAuthClaimDelimiter", TAKE1, set_value, PROVIDER, STR,
        TPO_PC(claim_delimiter), 0, 0, NULL, TPO_DEF_CLAIM_DELIMITER,
        "Joins array elements (default " TPO_DEF_CLAIM_DELIMITER ")")
TPO_DIR(claims_allow, "TPOAuthClaimsAllow", TAKE_ARGV, cmd_claim_list, PROVIDER, NONE,
        TPO_PC(claims_allow), 0, 0, NULL, NULL, "Only these claims are kept in the session")
TPO_DIR(claims_deny, "TPOAuthClaimsDeny", TAKE_ARGV, cmd_claim_list, PROVIDER, NONE,
        TPO_PC(claims_deny), 0, 0, NULL, NULL,
        "These claims are dropped before the session is stored")
TPO_DIR(userinfo, "TPOAuthUserinfo", FLAG, set_flag, PROVIDER, FLAG, TPO_PC(userinfo), 0, 0, NULL,
        TPO_DEF_USERINFO,
        "Fetch userinfo at login when the provider has an endpoint (default " TPO_DEF_USERINFO ")")
TPO_DIR(
    info_access_token, "TPOAuthInfoAccessToken", FLAG, set_flag, PROVIDER, FLAG,
    TPO_PC(info_access_token), 0, 0, NULL, TPO_DEF_INFO_ACCESS_TOKEN,
    "The session info endpoint also returns the access token (default " TPO_DEF_INFO_ACCESS_TOKEN
    ")")
TPO_DIR(inactivity_timeout, "TPOAuthSessionInactivityTimeout", TAKE1, set_value, PROVIDER, INT,
        TPO_PC(inactivity_timeout), 0, TPO_MAX_SECONDS, NULL, TPO_XSTR(TPO_DEF_INACTIVITY_TIMEOUT),
        "Seconds without a request after which a session ends (0: never)")
TPO_DIR(end_session_endpoint, "TPOAuthEndSessionEndpoint", TAKE1, set_url, PROVIDER, STR,
        TPO_PC(end_session_endpoint), 0, 0, NULL, NULL,
        "The provider's end_session_endpoint (RP-initiated logout)")
TPO_DIR(revocation_endpoint, "TPOAuthRevocationEndpoint", TAKE1, set_url, PROVIDER, STR,
        TPO_PC(revocation_endpoint), 0, 0, NULL, NULL,
        "The provider's token revocation endpoint (RFC 7009)")
TPO_DIR(provider_logout, "TPOAuthProviderLogout", FLAG, set_flag, PROVIDER, FLAG,
        TPO_PC(provider_logout), 0, 0, NULL, TPO_DEF_PROVIDER_LOGOUT,
        "Log out at the provider too when it has an end_session_endpoint "
        "(default " TPO_DEF_PROVIDER_LOGOUT ")")
TPO_DIR(logout_allow, "TPOAuthLogoutRedirectAllow", ITERATE, cmd_logout_allow, PROVIDER, NONE,
        TPO_NOFIELD, 0, 0, NULL, NULL,
        "Absolute URLs (or prefixes ending in /) allowed as return after logout")
TPO_DIR(refresh_before, "TPOAuthRefreshBefore", TAKE1, set_value, PROVIDER, INT,
        TPO_PC(refresh_before), 1, TPO_MAX_SECONDS, NULL, TPO_XSTR(TPO_DEF_REFRESH_BEFORE),
        "Refresh the access token this many seconds before it expires (default " TPO_XSTR(
            TPO_DEF_REFRESH_BEFORE) ")")
TPO_DIR(default_token_lifetime, "TPOAuthDefaultTokenLifetime", TAKE1, set_value, PROVIDER, INT,
        TPO_PC(default_token_lifetime), 1, TPO_MAX_SECONDS, NULL,
        TPO_XSTR(TPO_DEF_DEFAULT_TOKEN_LIFETIME),
        "Access-token lifetime assumed when the provider gives none (default " TPO_XSTR(
            TPO_DEF_DEFAULT_TOKEN_LIFETIME) ")")
TPO_DIR(
    refresh_failure, "TPOAuthRefreshFailure", TAKE1, set_value, PROVIDER, ENUM,
    TPO_PC(refresh_failure), 0, 0, kw_refresh_failure, TPO_DEF_REFRESH_FAILURE,
    "When a refresh fails and the token has expired: 502 or login (default " TPO_DEF_REFRESH_FAILURE
    ")")
TPO_DIR(
    refresh_retry_after, "TPOAuthRefreshRetryAfter", TAKE1, set_value, PROVIDER, INT,
    TPO_PC(refresh_retry_after), 1, TPO_MAX_SECONDS, NULL, TPO_XSTR(TPO_DEF_REFRESH_RETRY_AFTER),
    "Seconds a failed refresh is not retried (default " TPO_XSTR(TPO_DEF_REFRESH_RETRY_AFTER) ")")
TPO_DIR(bearer_audience, "TPOAuthBearerAudience", TAKE_ARGV, cmd_claim_list, PROVIDER, NONE,
        TPO_PC(bearer_audiences), 0, 0, NULL, NULL,
        "Audiences (aud) of this server: a bearer token must name one (required for bearer "
        "tokens)")
TPO_DIR(bearer_token_type, "TPOAuthBearerTokenType", TAKE1, set_value, PROVIDER, STR,
        TPO_PC(bearer_token_type), 0, 0, NULL, NULL,
        "The typ a JWT access token must have in its header (e.g. at+jwt; default: any)")
TPO_DIR(bearer_validation, "TPOAuthBearerValidation", TAKE1, set_value, PROVIDER, ENUM,
        TPO_PC(bearer_validation), 0, 0, kw_bearer_validation, TPO_DEF_BEARER_VALIDATION,
        "How bearer tokens are checked: auto (JWTs locally, others by introspection), jwt or "
        "introspection (default " TPO_DEF_BEARER_VALIDATION ")")
TPO_DIR(introspection_endpoint, "TPOAuthIntrospectionEndpoint", TAKE1, set_url, PROVIDER, STR,
        TPO_PC(introspection_endpoint), 0, 0, NULL, NULL,
        "The provider's token introspection endpoint (RFC 7662)")
TPO_DIR(introspection_cache_max, "TPOAuthIntrospectionCacheMax", TAKE1, set_value, PROVIDER, INT,
        TPO_PC(introspection_cache_max), 0, TPO_MAX_SECONDS, NULL,
        TPO_XSTR(TPO_DEF_INTROSPECTION_CACHE_MAX),
        "Seconds an active introspection answer is kept at most (default " TPO_XSTR(
            TPO_DEF_INTROSPECTION_CACHE_MAX) ")")
TPO_DIR(introspection_inactive_cache, "TPOAuthIntrospectionInactiveCache", TAKE1, set_value,
        PROVIDER, INT, TPO_PC(introspection_inactive_cache), 0, 3600, NULL,
        TPO_XSTR(TPO_DEF_INTROSPECTION_INACTIVE_CACHE),
        "Seconds an inactive introspection answer is kept (default " TPO_XSTR(
            TPO_DEF_INTROSPECTION_INACTIVE_CACHE) ")")
TPO_DIR(jwks_refetch_interval, "TPOAuthJWKSRefetchInterval", TAKE1, set_value, PROVIDER, INT,
        TPO_PC(jwks_refetch_interval), 1, 86400, NULL, TPO_XSTR(TPO_DEF_JWKS_REFETCH_INTERVAL),
        "Seconds between two refetches of the JWK Set for unknown key ids, across all "
        "processes (default " TPO_XSTR(TPO_DEF_JWKS_REFETCH_INTERVAL) ")")
TPO_DIR(dpop, "TPOAuthDPoP", FLAG, set_flag, PROVIDER, FLAG, TPO_PC(dpop), 0, 0, NULL, TPO_DEF_DPOP,
        "DPoP-bound tokens (RFC 9449): an ephemeral key per session, proofs on the token and "
        "userinfo calls (default " TPO_DEF_DPOP ")")
TPO_DIR(pushed_authorization, "TPOAuthPushedAuthorization", TAKE1, set_value, PROVIDER, ENUM,
        TPO_PC(par_mode), 0, 0, kw_par, TPO_DEF_PUSHED_AUTHORIZATION,
        "Pushed Authorization Requests (RFC 9126): auto (when the provider requires them), on or "
        "off (default " TPO_DEF_PUSHED_AUTHORIZATION ")")
TPO_DIR(par_endpoint, "TPOAuthPAREndpoint", TAKE1, set_url, PROVIDER, STR, TPO_PC(par_endpoint), 0,
        0, NULL, NULL, "The provider's pushed authorization request endpoint (RFC 9126)")

/* ------------------------------------------------------------ directory */
TPO_DIR(provider_ref, "TPOAuthProvider", TAKE1, cmd_dir_provider, DIR, NONE, TPO_NOFIELD, 0, 0,
        NULL, NULL, "The <TPOAuthProvider> that protects this location")
TPO_DIR(export, "TPOAuthExport", TAKE1, set_value, DIR, ENUM, TPO_DC(export_mode), 0, 0, kw_export,
        TPO_DEF_EXPORT,
        "Where the identity goes: env, headers, both or none (default " TPO_DEF_EXPORT ")")
TPO_DIR(unauthenticated, "TPOAuthUnauthenticated", TAKE1, set_value, DIR, ENUM,
        TPO_DC(unauth_action), 0, 0, kw_unauth, TPO_DEF_UNAUTHENTICATED,
        "Requests without a session: login, 401 or pass (default " TPO_DEF_UNAUTHENTICATED ")")
TPO_DIR(authz_failure, "TPOAuthAuthzFailure", TAKE1, set_value, DIR, ENUM, TPO_DC(authz_action), 0,
        0, kw_authz, TPO_DEF_AUTHZ_FAILURE,
        "A Require rule that fails: 403, 401 or login (default " TPO_DEF_AUTHZ_FAILURE ")")
TPO_DIR(bearer, "TPOAuthBearer", TAKE1, set_value, DIR, ENUM, TPO_DC(bearer_mode), 0, 0, kw_bearer,
        TPO_DEF_BEARER,
        "Bearer tokens (Authorization: Bearer): off, on (as well as sessions) or only "
        "(default " TPO_DEF_BEARER ")")
TPO_DIR(bearer_query, "TPOAuthBearerQuery", FLAG, set_flag, DIR, FLAG, TPO_DC(bearer_query), 0, 0,
        NULL, TPO_DEF_BEARER_QUERY,
        "Also take the bearer token from the access_token query parameter (RFC 6750 2.3; "
        "default " TPO_DEF_BEARER_QUERY ")")
TPO_DIR(bearer_scope, "TPOAuthBearerScope", TAKE1, set_value, DIR, STR, TPO_DC(bearer_scope), 0, 0,
        NULL, NULL, "Scopes a bearer token must all have here (space-separated)")
TPO_DIR(cors_allow_origin, "TPOAuthCORSAllowOrigin", ITERATE, cmd_cors_origin, DIR, NONE,
        TPO_NOFIELD, 0, 0, NULL, NULL,
        "Origins (scheme://host[:port], or * for any) whose CORS preflights "
        "the module answers with 204 on this location")
TPO_DIR(backend_token, "TPOAuthBackendToken", TAKE1, set_value, DIR, ENUM, TPO_DC(backend_token), 0,
        0, kw_backend_token, TPO_DEF_BACKEND_TOKEN,
        "Authorization: Bearer on the proxied request: none, user (the user's access token) or "
        "client (the gateway's client-credentials token) (default " TPO_DEF_BACKEND_TOKEN ")")
TPO_DIR(backend_scope, "TPOAuthBackendScope", TAKE1, cmd_backend_str, DIR, STR,
        TPO_DC(backend_scope), 0, 0, NULL, NULL,
        "Scopes asked for the gateway's client-credentials token on this location")
TPO_DIR(backend_resource, "TPOAuthBackendResource", TAKE1, cmd_backend_str, DIR, STR,
        TPO_DC(backend_resource), 0, 0, NULL, NULL,
        "The resource (RFC 8707) the gateway's token is asked for on this location")
TPO_DIR(backend_audience, "TPOAuthBackendAudience", TAKE1, cmd_backend_str, DIR, STR,
        TPO_DC(backend_audience), 0, 0, NULL, NULL,
        "The audience parameter of the gateway's token request on this location")
TPO_DIR(backend_id_token, "TPOAuthBackendIDToken", TAKE12, cmd_backend_id_token, DIR, NONE,
        TPO_NOFIELD, 0, 0, NULL, NULL,
        "Request header that carries the user's ID token to the backend [jwt|payload] (jwt: "
        "the serialized token, payload: its claims as JSON)")
TPO_DIR(preserve_post, "TPOAuthPreservePost", TAKE1, cmd_preserve_post, DIR, NONE, TPO_NOFIELD, 0,
        0, NULL, TPO_DEF_PRESERVE_POST,
        "Keep a form POST that needs a login and replay it after the login: off or the largest "
        "body in bytes (K/M suffix; at most 512K; default " TPO_DEF_PRESERVE_POST ")")
TPO_DIR(dpop_proof, "TPOAuthDPoPProof", TAKE1, cmd_dpop_proof, DIR, STR, TPO_DC(dpop_proof), 0, 0,
        NULL, NULL,
        "TPOAuthBackendToken user with a DPoP-bound token: Authorization: DPoP and a fresh DPoP "
        "proof for the backend: off, on (htu from the proxied URL) or the backend's URL base")
TPO_DIR(auth_request_param, "TPOAuthAuthRequestParam", TAKE2, cmd_auth_request_param, DIR, NONE,
        TPO_NOFIELD, 0, 0, NULL, NULL,
        "An authorization-request parameter of the logins started here: scope, acr_values, "
        "max_age, prompt, login_hint or ui_locales, and its value")
TPO_DIR(require_acr, "TPOAuthRequireACR", TAKE_ARGV, cmd_require_acr, DIR, NONE, TPO_NOFIELD, 0, 0,
        NULL, NULL,
        "acr values (any of) the session's ID token must carry here, else the user logs in "
        "again with acr_values (step-up)")
TPO_DIR(max_auth_age, "TPOAuthMaxAuthAge", TAKE1, set_value, DIR, INT, TPO_DC(max_auth_age), 1,
        TPO_MAX_SECONDS, NULL, NULL,
        "Seconds since the user's authentication (auth_time) at most here, else the user logs "
        "in again (max_age, prompt=login)")
TPO_DIR(strip_headers, "TPOAuthStripHeaders", ITERATE, cmd_strip_headers, SERVER_DIR, NONE,
        TPO_NOFIELD, 0, 0, NULL, TPO_DEF_STRIP_HEADERS,
        "Request headers removed from every client request (Name adds, "
        "-Name removes one of the defaults)")
