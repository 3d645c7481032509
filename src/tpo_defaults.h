/* SPDX-License-Identifier: Apache-2.0
 * Licensed under the Apache License, Version 2.0 (see LICENSE). */
/* Every default of mod_tp_oauth, in one place: the directive table
 * (src/mod_tp_oauth_directive_table.h) takes its defaults from here, the
 * core (tpo_http.c, tpo_token.c) its fallbacks, and the documentation is
 * checked against them (test/unit/check_directives.py compares README.md with
 * what test/unit/directive_dump prints from the table).
 *
 * Plain C, no includes: the core and the dump program use it too.
 *
 * Numbers are in the unit the directive takes (seconds, megabytes), so the
 * documented value is the number itself; *_MS / *_BYTES are derived. Enum
 * and on/off defaults are the directive's keyword: they are parsed by the
 * directive's own keyword table, so they cannot name a value it refuses. */
#ifndef TPO_DEFAULTS_H
#define TPO_DEFAULTS_H

/* ---- server config */
#define TPO_DEF_CACHE "shm"
#define TPO_DEF_CACHE_SIZE_M 32 /* TPOAuthCacheSize 32M */
#define TPO_DEF_CACHE_SIZE_BYTES ((long long)TPO_DEF_CACHE_SIZE_M * 1024 * 1024)
#define TPO_DEF_CACHE_TIMEOUT_S 1 /* TPOAuthCacheTimeout */
#define TPO_DEF_CACHE_TIMEOUT_MS (TPO_DEF_CACHE_TIMEOUT_S * 1000)
#define TPO_DEF_CACHE_REDIS_DATABASE 0 /* TPOAuthCacheRedisDatabase */
#define TPO_DEF_CACHE_REDIS_TLS "Off"  /* TPOAuthCacheRedisTLS */
#define TPO_DEF_CACHE_REDIS_WAIT 0     /* TPOAuthCacheRedisWaitReplicas */
#define TPO_DEF_PENDING_LOGINS 10000   /* TPOAuthPendingLogins */

/* the local tier in front of memcached/Redis */
#define TPO_DEF_CACHE_LOCAL "Off"              /* TPOAuthSessionCacheLocal */
#define TPO_DEF_CACHE_LOCAL_SIZE_M 16          /* TPOAuthSessionCacheLocalSize 16M */
#define TPO_DEF_CACHE_LOCAL_LIFETIME 2         /* TPOAuthSessionCacheLocalLifetime (memcache) */
#define TPO_DEF_CACHE_LOCAL_REDIS_LIFETIME 300 /* a Redis-invalidated local copy, at most (s) */

/* ---- <TPOAuthProvider> */
#define TPO_DEF_TOKEN_ENCODING "form"
#define TPO_DEF_SCOPE "openid"
#define TPO_DEF_ID_TOKEN_ALGS                                                                      \
    "RS256 RS384 RS512 PS256 PS384 PS512 "                                                         \
    "ES256 ES384 ES512 EdDSA"
#define TPO_DEF_CLOCK_SKEW 60
#define TPO_DEF_METADATA_REFRESH_S 10800 /* TPOAuthMetadataRefresh: 3 hours */
#define TPO_DEF_HTTP_CONNECT_S 3         /* TPOAuthHTTPTimeout 3 10 */
#define TPO_DEF_HTTP_TIMEOUT_S 10
#define TPO_DEF_HTTP_CONNECT_MS (TPO_DEF_HTTP_CONNECT_S * 1000L)
#define TPO_DEF_HTTP_TIMEOUT_MS (TPO_DEF_HTTP_TIMEOUT_S * 1000L)
/* A provider that is down (tpo_down.c): new logins get 503 + Retry-After;
 * one probe per TPO_DOWN_PROBE_INTERVAL_S over all processes; the shared
 * record lives TPO_DOWN_RECORD_TTL_S after the last failure (then the next
 * real call decides) */
#define TPO_DOWN_PROBE_INTERVAL_S 5
#define TPO_DOWN_RECORD_TTL_S 300
#define TPO_DEF_HTTP_MAX_RESPONSE_M 1 /* TPOAuthHTTPMaxResponse 1M */
#define TPO_DEF_HTTP_MAX_RESPONSE_BYTES ((long long)TPO_DEF_HTTP_MAX_RESPONSE_M * 1024 * 1024)
#define TPO_DEF_COOKIE_NAME_PREFIX "tp_oauth_" /* + the provider's name */
#define TPO_DEF_COOKIE_PATH "/"
#define TPO_DEF_COOKIE_SAMESITE "Lax"
#define TPO_DEF_COOKIE_SECURE "auto"
#define TPO_DEF_SESSION_MAX_AGE 28800 /* 8 hours */
#define TPO_DEF_LOGIN_TIMEOUT 300
#define TPO_DEF_PENDING_PER_BROWSER 8
#define TPO_DEF_REMOTE_USER_CLAIM "sub"
#define TPO_DEF_CLAIM_PREFIX "TPO_CLAIM_"
#define TPO_DEF_HEADER_PREFIX "X-TPO-"
#define TPO_DEF_CLAIM_SEPARATOR "_"
#define TPO_DEF_CLAIM_DELIMITER ","
#define TPO_DEF_USERINFO "on"
#define TPO_DEF_INFO_ACCESS_TOKEN "off"
#define TPO_DEF_INACTIVITY_TIMEOUT 3600
#define TPO_DEF_PROVIDER_LOGOUT "on"
#define TPO_DEF_REFRESH_BEFORE 60
#define TPO_DEF_DEFAULT_TOKEN_LIFETIME 3600
#define TPO_DEF_REFRESH_FAILURE "502"
#define TPO_DEF_REFRESH_RETRY_AFTER 30
/* client authentication (private_key_jwt, client_secret_jwt) */
#define TPO_DEF_CLIENT_ASSERTION_LIFETIME 60      /* seconds from iat to exp */
#define TPO_DEF_CLIENT_ASSERTION_AUDIENCE "token" /* TPOAuthClientAssertionAudience */
#define TPO_CLIENT_JWKS_MAX_AGE 300               /* seconds <redirect URI>/jwks may be cached */
/* bearer tokens */
#define TPO_DEF_BEARER_VALIDATION "auto"
#define TPO_DEF_INTROSPECTION_CACHE_MAX 300
#define TPO_DEF_INTROSPECTION_INACTIVE_CACHE 10
#define TPO_DEF_JWKS_REFETCH_INTERVAL 10
/* DPoP (RFC 9449) */
#define TPO_DEF_DPOP "off" /* TPOAuthDPoP */
/* Pushed Authorization Requests (RFC 9126): TPOAuthPushedAuthorization */
#define TPO_DEF_PUSHED_AUTHORIZATION "auto"

/* ---- directory (TPOAuthStripHeaders also server config) */
/* Identity headers that backends commonly trust, never accepted from
 * clients (in addition to the module's own prefix and user header). */
#define TPO_DEF_STRIP_HEADERS                                                                      \
    "Remote-User X-Remote-User X-Forwarded-User "                                                  \
    "X-Forwarded-Email X-Forwarded-Preferred-Username X-Auth-Request-User "                        \
    "X-Auth-Request-Email X-Auth-Request-Groups"
#define TPO_DEF_EXPORT "env"
#define TPO_DEF_UNAUTHENTICATED "login"
#define TPO_DEF_BACKEND_TOKEN "none"        /* TPOAuthBackendToken */
#define TPO_DEF_BACKEND_ID_TOKEN_FORM "jwt" /* TPOAuthBackendIDToken Header [jwt|payload] */
#define TPO_DEF_AUTHZ_FAILURE "403"
#define TPO_DEF_BEARER "off"
#define TPO_DEF_BEARER_QUERY "off"
#define TPO_DEF_PRESERVE_POST "off" /* TPOAuthPreservePost */
#define TPO_DEF_DPOP_PROOF "off"    /* TPOAuthDPoPProof */

/* ---- fixed values (no directive; README.md documents them) */
/* Refresh timing (mod_tp_oauth_refresh.c). A provider's Retry-After is
 * honoured up to this many seconds; a refresh starts early enough to take
 * the whole TPOAuthHTTPTimeout plus this margin before the token expires
 * (at most half the token's lifetime early). */
#define TPO_REFRESH_RETRY_AFTER_MAX 600
#define TPO_REFRESH_MARGIN_MS 250
/* Cache entries of sessions outlive the session's end by this much (s). */
#define TPO_SESSION_GRACE_S 300
/* Tokens for backends (mod_tp_oauth_backend.c, tpo_backend_token.c): a
 * gateway token is sent only while it has this many seconds left (at most
 * a quarter of its lifetime); a request that finds none waits at most
 * TPOAuthHTTPTimeout plus this many milliseconds for another request's
 * fetch. */
#define TPO_BT_MIN_REMAINING_S 2
#define TPO_BT_WAIT_MARGIN_MS 2000
/* Preflight answers may be cached by the browser this long (seconds). */
#define TPO_CORS_MAX_AGE 600

/* The session index (logout everywhere): at most this many sessions per
 * user and per provider session (the oldest ends beyond); an index record's
 * lock is held at most this long (s). */
#define TPO_SESSIONS_PER_USER_MAX 64
#define TPO_SESSION_INDEX_LEASE_S 2
/* A back-channel logout token is accepted this long after its iat (s, plus
 * TPOAuthClockSkew); its jti is remembered as long. */
#define TPO_LOGOUT_TOKEN_MAX_AGE_S 300

/* Kept form POSTs (TPOAuthPreservePost) with the shared-memory cache live
 * in their own segment, so that anonymous requests can never push sessions
 * out: this many times the largest configured limit, at least
 * TPO_POST_STORE_MIN_M megabytes. */
#define TPO_POST_STORE_FACTOR 32
#define TPO_POST_STORE_MIN_M 4

/* ---- core limits (not directives) */
/* The largest token response tpo_token parses. */
#define TPO_TOKEN_BODY_MAX (1024 * 1024)
/* A pushed-authorization response (tpo_par.c): its largest body, the
 * longest request_uri, the longest expires_in (s) accepted. */
#define TPO_PAR_BODY_MAX (64 * 1024)
#define TPO_PAR_REQUEST_URI_MAX 2048
#define TPO_PAR_EXPIRES_MAX 86400

#endif
