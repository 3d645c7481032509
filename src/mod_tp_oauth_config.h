/* Configuration: directives, defaults, merging and the check_config pass
 * that refuses incomplete or contradictory provider definitions. */
#ifndef MOD_TP_OAUTH_CONFIG_H
#define MOD_TP_OAUTH_CONFIG_H

#include <httpd.h>
#include <http_config.h>
#include <apr_hash.h>
#include "tpo_token.h"

#define TPO_UNSET -1

struct tpo_provider_rt;
struct tpo_provider_meta;
struct tpo_jwks;
struct tpo_http_opts;

/* A <TPOAuthProvider name> block. Values still TPO_UNSET/NULL after parsing
 * get their defaults in tpo_config_finalize_provider(). */
typedef struct tpo_provider_conf {
    const char *name;
    const char *defined_at;            /* "file:line" for messages */

    const char *issuer;
    int discovery;                     /* 1 on, 0 off */
    const char *discovery_url;         /* explicit URL, or derived from issuer */
    const char *authorization_endpoint;
    const char *token_endpoint;
    const char *userinfo_endpoint;
    const char *jwks_uri;

    const char *client_id;
    const char *client_secret;
    int client_auth;                   /* tpo_client_auth */
    int token_encoding;                /* tpo_token_encoding */
    const char *scope;
    apr_array_header_t *auth_params;   /* const char* pairs */
    const char *redirect_uri;          /* as configured: path or absolute URL */
    const char *redirect_path;         /* its path */

    const char **id_token_algs;        /* NULL-terminated */
    int clock_skew;                    /* seconds */
    int connect_timeout_ms, timeout_ms;
    apr_off_t max_response;
    const char *ca_file;

    const char *cookie_name;
    const char *cookie_path;
    const char *cookie_domain;
    const char *cookie_samesite;
    int session_max_age;               /* seconds */
    int login_timeout;                 /* seconds a pending login lives */
    int max_pending_per_browser;
    const char *remote_user_claim;
    const char *claim_prefix;

    struct tpo_provider_rt *rt;        /* per-process runtime, set in child_init */
} tpo_provider_conf;

typedef struct tpo_server_conf {
    apr_hash_t *providers;             /* name -> tpo_provider_conf* */
    apr_off_t cache_size;              /* bytes; TPO_UNSET */
    int cache_entries;                 /* TPO_UNSET: derived */
    int pending_capacity;              /* pending logins at most */
} tpo_server_conf;

typedef struct tpo_dir_conf {
    const char *provider;              /* TPOAuthProvider name */
    const char *provider_ref_at;       /* where it was set */
} tpo_dir_conf;

extern const command_rec tpo_cmds[];

void *tpo_config_create_server(apr_pool_t *p, server_rec *s);
void *tpo_config_merge_server(apr_pool_t *p, void *base, void *add);
void *tpo_config_create_dir(apr_pool_t *p, char *dir);
void *tpo_config_merge_dir(apr_pool_t *p, void *base, void *add);

/* check_config hook: validates every provider and every reference. */
int tpo_config_check(apr_pool_t *pconf, apr_pool_t *plog, apr_pool_t *ptemp, server_rec *s);

tpo_provider_conf *tpo_config_provider(server_rec *s, const char *name);
tpo_server_conf *tpo_config_server(server_rec *s);
tpo_dir_conf *tpo_config_dir(request_rec *r);

/* Sizes of the global caches (main server) */
apr_off_t tpo_config_cache_size(server_rec *main_s);
int tpo_config_pending_capacity(server_rec *main_s);

#endif
