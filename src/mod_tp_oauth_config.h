/* SPDX-License-Identifier: Apache-2.0
 * Licensed under the Apache License, Version 2.0 (see LICENSE). */
/* Configuration: directives, defaults, merging and the check_config pass
 * that refuses incomplete or contradictory provider definitions. */
#ifndef MOD_TP_OAUTH_CONFIG_H
#define MOD_TP_OAUTH_CONFIG_H

#include <httpd.h>
#include <http_config.h>
#include <apr_hash.h>
#include "tpo_token.h"
#include "tpo_cache_redis.h"
#include "tpo_stepup.h"

/* The one "not set" marker of every int and size field of the configuration
 * records (pointers: NULL). */
#define TPO_UNSET -1

struct tpa_provider_rt;
struct tpo_provider_meta;
struct tpo_jwks;
struct tpo_http_opts;

/* A <TPOAuthProvider name> block. Values still TPO_UNSET/NULL after parsing
 * get their defaults in tpo_config_finalize_provider(). */
typedef struct tpa_provider_conf {
    const char *name;
    const char *defined_at; /* "file:line" for messages */

    const char *issuer;
    int discovery;             /* 1 on, 0 off */
    const char *discovery_url; /* explicit URL, or derived from issuer */
    const char *authorization_endpoint;
    const char *token_endpoint;
    const char *userinfo_endpoint;
    const char *jwks_uri;

    const char *client_id;
    const char *client_secret;
    int client_auth; /* tpo_client_auth */
    /* key-based client authentication (tpo_client_keys.h) */
    apr_array_header_t *client_keys; /* TPOAuthClientSigningKey: tpo_client_key*, the
                                        first signs; NULL: none */
    const char *client_jwks;         /* their public JWK Set (JSON), NULL: none */
    int client_assertion_aud;        /* TPO_CLIENT_AUD_* (TPOAuthClientAssertionAudience) */
    const char *client_cert_file;    /* TPOAuthClientCertificate: PEM certificate (chain) */
    const char *client_cert_pem;     /* its content, read at configuration time */
    const char *client_cert_key_pem; /* the content of its PEM private key file */
    int token_encoding;              /* tpo_token_encoding */
    const char *scope;
    apr_array_header_t *auth_params; /* const char* pairs */
    const char *redirect_uri;        /* as configured: path or absolute URL */
    const char *redirect_path;       /* its path */

    const char **id_token_algs; /* NULL-terminated */
    int clock_skew;             /* seconds */
    int metadata_refresh;       /* seconds; 0: only after a failure */
    int connect_timeout_ms, timeout_ms;
    apr_off_t max_response;
    const char *ca_file;
    const char *outgoing_proxy;    /* TPOAuthOutgoingProxy URL, NULL: none */
    const char *outgoing_no_proxy; /* its no-proxy list (curl's syntax), NULL: none */

    const char *cookie_name;
    const char *cookie_path;
    const char *cookie_domain;
    const char *cookie_samesite;
    int cookie_secure;   /* TPO_COOKIE_SECURE_*; __Host-/__Secure- names: on */
    int session_max_age; /* seconds */
    int login_timeout;   /* seconds a pending login lives */
    int max_pending_per_browser;
    const char *remote_user_claim;
    void *remote_user_regex; /* ap_regex_t*, optional rewrite */
    const char *remote_user_replace;
    const char *claim_prefix;
    const char *header_prefix;   /* "X-TPO-" */
    const char *user_header;     /* NULL: <header_prefix>User */
    const char *claim_separator; /* nested objects */
    const char *claim_delimiter; /* arrays */
    const char **claims_allow;   /* NULL-terminated or NULL */
    const char **claims_deny;
    int userinfo;                     /* fetch userinfo at login when available */
    int refresh_before;               /* seconds before expiry to refresh */
    int default_token_lifetime;       /* when the provider says nothing */
    int refresh_failure;              /* TPO_REFRESH_FAIL_502 / _LOGIN */
    int refresh_retry_after;          /* seconds a failed refresh is not retried */
    int inactivity_timeout;           /* seconds; 0: none */
    const char *end_session_endpoint; /* explicit; else from discovery */
    const char *revocation_endpoint;
    int provider_logout;              /* RP-initiated logout when possible */
    apr_array_header_t *logout_allow; /* absolute URLs allowed after logout */
    int info_access_token;            /* the info endpoint shows the access token */
    /* bearer tokens (mod_tp_oauth_bearer.c) */
    const char **bearer_audiences;      /* TPOAuthBearerAudience, NULL-terminated */
    const char *bearer_token_type;      /* TPOAuthBearerTokenType: required JOSE typ, or NULL */
    int bearer_validation;              /* TPO_BEARER_VALIDATE_* */
    const char *introspection_endpoint; /* explicit; else from discovery */
    int introspection_cache_max;        /* seconds an active answer is kept, at most */
    int introspection_inactive_cache;   /* seconds an inactive answer is kept */
    int jwks_refetch_interval;          /* seconds between refetches for unknown kids */
    int dpop;                           /* TPOAuthDPoP: DPoP-bound tokens (RFC 9449) */
    /* Pushed Authorization Requests (RFC 9126) */
    int par_mode;             /* tpo_par_mode (TPOAuthPushedAuthorization) */
    const char *par_endpoint; /* TPOAuthPAREndpoint; else from discovery */

    struct tpa_provider_rt *rt; /* per-process runtime, set in child_init */
} tpa_provider_conf;

#define TPO_CACHE_SHM 0
#define TPO_CACHE_MEMCACHE 1
#define TPO_CACHE_REDIS 2

#define TPO_COOKIE_SECURE_OFF 0
#define TPO_COOKIE_SECURE_ON 1
#define TPO_COOKIE_SECURE_AUTO 2 /* Secure when the request came over https */

/* TPOAuthClientAssertionAudience: the aud of client assertions */
#define TPO_CLIENT_AUD_TOKEN 1    /* the token endpoint (OIDC Core 9) */
#define TPO_CLIENT_AUD_ISSUER 2   /* the issuer identifier (RFC 7523bis, FAPI 2.0) */
#define TPO_CLIENT_AUD_ENDPOINT 3 /* the URL of the endpoint called */

#define TPO_REFRESH_FAIL_502 1
#define TPO_REFRESH_FAIL_LOGIN 2

typedef struct tpa_server_conf {
    apr_hash_t *providers;     /* name -> tpa_provider_conf* */
    apr_array_header_t *strip; /* normalised header prefixes/names never
                                          accepted from clients (set in check_config) */
    apr_off_t cache_size;      /* bytes; TPO_UNSET */
    int cache_type;            /* TPO_CACHE_SHM (0), _MEMCACHE, _REDIS */
    const char *cache_servers;
    int cache_timeout_ms; /* TPO_UNSET: TPO_DEF_CACHE_TIMEOUT_MS */

    /* the local tier (TPOAuthSessionCacheLocal*) */
    int cache_local;            /* TPO_UNSET: off */
    apr_off_t cache_local_size; /* TPO_UNSET: TPO_DEF_CACHE_LOCAL_SIZE_M */
    int cache_local_lifetime;   /* seconds; TPO_UNSET: TPO_DEF_CACHE_LOCAL_LIFETIME */

    const char *cache_passphrase;
    const char *cache_passphrase_prev;
    const char *cache_key_file;  /* TPOAuthCacheKeyFile (path, for messages) */
    const char *cache_key_bytes; /* its content, read at configuration time */
    apr_size_t cache_key_len;
    const char *cache_key_file_prev; /* the previous key file, optional */
    const char *cache_key_prev_bytes;
    apr_size_t cache_key_prev_len;
    struct tpo_crypt_key *cache_key;      /* derived once per start (post_config) */
    struct tpo_crypt_key *cache_key_prev; /* NULL: no previous key */
    const char *cache_redis_password;
    const char *cache_redis_user;
    int cache_redis_database; /* TPO_UNSET: TPO_DEF_CACHE_REDIS_DATABASE */
    const char *cache_redis_sentinel_master;
    const char *cache_redis_sentinel_password;
    int cache_redis_wait; /* TPO_UNSET: TPO_DEF_CACHE_REDIS_WAIT */
    int cache_redis_tls;  /* TPO_UNSET: off */
    const char *cache_redis_tls_ca_file;
    const char *cache_redis_tls_cert_file;
    const char *cache_redis_tls_key_file;
    const char *cache_redis_tls_server_name;
    const char *cache_set_at;          /* where TPOAuthCache was set */
    int cache_entries;                 /* TPO_UNSET: derived */
    int pending_capacity;              /* TPOAuthPendingLogins: consumed-state markers
                                          the shared-memory store holds */
    const unsigned char *login_secret; /* TPOAuthLoginCookieKeyFile contents, or NULL */
    apr_size_t login_secret_len;
    const char *login_secret_at;         /* where it was set */
    apr_array_header_t *trusted_proxies; /* TPOAuthTrustedProxies: tpo_cidr; NULL: none */
} tpa_server_conf;

typedef enum {
    TPO_EXPORT_ENV = 1,
    TPO_EXPORT_HEADERS = 2,
    TPO_EXPORT_BOTH = 3,
    TPO_EXPORT_NONE = 4
} tpa_export_mode;
typedef enum { TPO_UNAUTH_LOGIN = 1, TPO_UNAUTH_401, TPO_UNAUTH_PASS } tpa_unauth_action;
typedef enum { TPO_AUTHZ_403 = 1, TPO_AUTHZ_401, TPO_AUTHZ_LOGIN } tpa_authz_action;
typedef enum { TPO_BEARER_OFF = 1, TPO_BEARER_ON, TPO_BEARER_ONLY } tpa_bearer_mode;
typedef enum {
    TPO_BEARER_VALIDATE_AUTO = 1, /* JWTs locally, other tokens by introspection */
    TPO_BEARER_VALIDATE_JWT,
    TPO_BEARER_VALIDATE_INTROSPECT
} tpa_bearer_validation;

/* A header name stripped from client requests, normalised (lowercase,
 * '_' as '-') with its length. */
typedef struct tpa_strip_name {
    const char *name;
    apr_size_t len;
} tpa_strip_name;

typedef struct tpa_dir_conf {
    const char *provider;             /* TPOAuthProvider name */
    const char *provider_ref_at;      /* where it was set */
    int export_mode;                  /* TPO_UNSET: TPO_DEF_EXPORT */
    int unauth_action;                /* TPO_UNSET: TPO_DEF_UNAUTHENTICATED */
    int authz_action;                 /* TPO_UNSET: TPO_DEF_AUTHZ_FAILURE */
    apr_array_header_t *cors_origins; /* TPOAuthCORSAllowOrigin; NULL: unset (none) */
    int cors_any;                     /* `*`: any origin is echoed */
    apr_array_header_t *strip_ops;    /* TPOAuthStripHeaders of this section, in order
                                          ("+name" / "-name", normalised); NULL: none */
    const apr_array_header_t *strip;  /* the effective list (tpa_strip_name),
                                          defaults + ops, computed at create/merge */
    /* tokens for backends (mod_tp_oauth_backend.c) */
    int backend_token;              /* TPOAuthBackendToken: TPO_BACKEND_TOKEN_*;
                                          TPO_UNSET: TPO_DEF_BACKEND_TOKEN */
    const char *backend_scope;      /* TPOAuthBackendScope */
    const char *backend_resource;   /* TPOAuthBackendResource (RFC 8707) */
    const char *backend_audience;   /* TPOAuthBackendAudience */
    const char *backend_idt_header; /* TPOAuthBackendIDToken header name */
    int backend_idt_form;           /* TPO_BACKEND_IDT_JWT / _PAYLOAD */
    int bearer_mode;                /* TPOAuthBearer; TPO_UNSET: TPO_DEF_BEARER */
    const char *bearer_scope;       /* TPOAuthBearerScope: required scopes, or NULL */
    int bearer_query;               /* TPOAuthBearerQuery; TPO_UNSET: off */
    long post_preserve;             /* TPOAuthPreservePost: bytes, 0 off;
                                          TPO_UNSET: TPO_DEF_PRESERVE_POST */
    const char *dpop_proof;         /* TPOAuthDPoPProof: NULL unset, "off", "on" or the
                                          backend's URL base (htu of the DPoP proof) */
    /* per-location authorization requests and step-up (mod_tp_oauth_stepup.c) */
    const char *auth_req[TPO_AR_COUNT]; /* TPOAuthAuthRequestParam values by
                                           tpo_ar_param; NULL: not set here */
    const char **require_acr;           /* TPOAuthRequireACR, NULL-terminated; NULL: none */
    int max_auth_age;                   /* TPOAuthMaxAuthAge; TPO_UNSET: none */
} tpa_dir_conf;

#define TPO_BACKEND_TOKEN_NONE 1
#define TPO_BACKEND_TOKEN_USER 2
#define TPO_BACKEND_TOKEN_CLIENT 3
#define TPO_BACKEND_IDT_JWT 1
#define TPO_BACKEND_IDT_PAYLOAD 2

/* TPO_CORS_MAX_AGE: in tpo_defaults.h */

void tpa_config_strip_apply(apr_pool_t *p, apr_array_header_t *list, const char *op);

int tpa_dir_export(const tpa_dir_conf *dc);
int tpa_dir_unauth(const tpa_dir_conf *dc);
int tpa_dir_authz(const tpa_dir_conf *dc);
int tpa_dir_backend_token(const tpa_dir_conf *dc);
int tpa_dir_bearer(const tpa_dir_conf *dc);
int tpa_dir_bearer_query(const tpa_dir_conf *dc);
/* TPOAuthPreservePost: the largest body kept, 0 when off */
long tpa_dir_post_preserve(const tpa_dir_conf *dc);
/* The location's step-up demand (TPOAuthRequireACR, TPOAuthMaxAuthAge). */
void tpa_dir_stepup(const tpa_dir_conf *dc, tpo_stepup_req *req);

extern const command_rec tpa_cmds[];

/* Where a directive is used (the ctx column of mod_tp_oauth_directive_table.h). */
typedef enum {
    TPO_CTX_SERVER,    /* main server config: tpa_server_conf */
    TPO_CTX_PROVIDER,  /* inside <TPOAuthProvider>: tpa_provider_conf */
    TPO_CTX_DIR,       /* <Location>, <Directory>: tpa_dir_conf */
    TPO_CTX_SECTION,   /* the <TPOAuthProvider> section itself */
    TPO_CTX_SERVER_DIR /* server, virtual host or directory */
} tpa_dir_ctx;

/* Every field of the table's directives of ctx in conf set to "not set". */
void tpa_directives_unset(tpa_dir_ctx ctx, void *conf);
/* Every field still not set gets the table's default (tpo_defaults.h),
 * parsed like the directive's argument. NULL, or what went wrong. */
const char *tpa_directives_defaults(apr_pool_t *p, tpa_dir_ctx ctx, void *conf);
/* Resolves the defaults tpa_dir_export/_unauth/_authz fall back to (from
 * check_config). NULL, or what went wrong. */
const char *tpa_config_dir_defaults(apr_pool_t *p);

void *tpa_config_create_server(apr_pool_t *p, server_rec *s);
void *tpa_config_merge_server(apr_pool_t *p, void *base, void *add);
void *tpa_config_create_dir(apr_pool_t *p, char *dir);
void *tpa_config_merge_dir(apr_pool_t *p, void *base, void *add);

/* check_config hook: validates every provider and every reference. */
int tpa_config_check(apr_pool_t *pconf, apr_pool_t *plog, apr_pool_t *ptemp, server_rec *s);
/* pre_config: forget the provider references of the previous configuration pass. */
void tpa_config_reset_refs(void);
/* The largest TPOAuthPreservePost of this configuration pass (0: none on):
 * sizes the store of kept POSTs. */
void tpa_config_note_post_preserve(long bytes);
long tpa_config_post_preserve_max(void);

/* Internal (directives -> check): records a `TPOAuthProvider name` reference
 * made at `where`, checked by tpa_config_check once all providers are known. */
void tpa_config_note_provider_ref(apr_pool_t *p, server_rec *s, const char *name,
                                  const char *where);

tpa_provider_conf *tpa_config_provider(server_rec *s, const char *name);
tpa_server_conf *tpa_config_server(server_rec *s);
tpa_dir_conf *tpa_config_dir(request_rec *r);

char *tpa_config_header_norm(apr_pool_t *p, const char *name);

/* The Redis client's settings from the server's (files relative to
 * ServerRoot). */
void tpa_config_redis(apr_pool_t *p, const tpa_server_conf *sc, apr_interval_time_t timeout,
                      tpo_redis_conf *rc);

/* Sizes of the global caches (main server) */
apr_off_t tpa_config_cache_size(server_rec *main_s);
int tpa_config_pending_capacity(server_rec *main_s);

#endif
