/* SPDX-License-Identifier: Apache-2.0
 * Licensed under the Apache License, Version 2.0 (see LICENSE). */
/* Configuration records: creation and merging of the server and directory
 * configurations, and the typed getters the rest of the module reads them
 * through. The directives live in mod_tp_oauth_directives.c, the
 * check_config pass in mod_tp_oauth_config_check.c. */
#include <string.h>
#include <apr_lib.h>
#include <apr_strings.h>
#include "mod_tp_oauth_base.h"
#include "tpo_defaults.h"

/* ------------------------------------------------------------ create/merge */

void *tpa_config_create_server(apr_pool_t *p, server_rec *s)
{
    tpa_server_conf *c = apr_pcalloc(p, sizeof(*c));
    c->providers = apr_hash_make(p);
    tpa_directives_unset(TPO_CTX_SERVER, c);
    c->cache_entries = TPO_UNSET;
    c->cache_type = TPO_CACHE_SHM; /* TPO_DEF_CACHE */
    return c;
}

void *tpa_config_merge_server(apr_pool_t *p, void *basev, void *addv)
{
    tpa_server_conf *base = basev, *add = addv;
    tpa_server_conf *c = apr_pcalloc(p, sizeof(*c));

    /* providers of the main server are visible in every virtual host; a
     * virtual host's own definition of the same name wins there */
    c->providers = apr_hash_overlay(p, add->providers, base->providers);
    c->cache_size = add->cache_size != TPO_UNSET ? add->cache_size : base->cache_size;
    c->cache_entries = add->cache_entries != TPO_UNSET ? add->cache_entries : base->cache_entries;
    c->pending_capacity =
        add->pending_capacity != TPO_UNSET ? add->pending_capacity : base->pending_capacity;
    /* the cache is global: virtual hosts use the main server's */
    c->cache_type = base->cache_type;
    c->trusted_proxies = base->trusted_proxies; /* main server only */
    c->cache_servers = base->cache_servers;
    c->cache_timeout_ms = base->cache_timeout_ms;
    c->cache_passphrase = base->cache_passphrase;
    c->cache_passphrase_prev = base->cache_passphrase_prev;
    c->cache_key_file = base->cache_key_file;
    c->cache_key_bytes = base->cache_key_bytes;
    c->cache_key_len = base->cache_key_len;
    c->cache_key_file_prev = base->cache_key_file_prev;
    c->cache_key_prev_bytes = base->cache_key_prev_bytes;
    c->cache_key_prev_len = base->cache_key_prev_len;
    c->cache_redis_password = base->cache_redis_password;
    c->cache_redis_user = base->cache_redis_user;
    c->cache_redis_database = base->cache_redis_database;
    c->cache_redis_sentinel_master = base->cache_redis_sentinel_master;
    c->cache_redis_sentinel_password = base->cache_redis_sentinel_password;
    c->cache_redis_wait = base->cache_redis_wait;
    c->cache_redis_tls = base->cache_redis_tls;
    c->cache_redis_tls_ca_file = base->cache_redis_tls_ca_file;
    c->cache_redis_tls_cert_file = base->cache_redis_tls_cert_file;
    c->cache_redis_tls_key_file = base->cache_redis_tls_key_file;
    c->cache_redis_tls_server_name = base->cache_redis_tls_server_name;
    c->cache_set_at = base->cache_set_at;
    c->login_secret = base->login_secret;
    c->login_secret_len = base->login_secret_len;
    c->login_secret_at = base->login_secret_at;
    return c;
}

/* A configured file: relative to ServerRoot; NULL stays NULL. */
static const char *file_path(apr_pool_t *p, const char *f)
{
    return f ? ap_server_root_relative(p, f) : NULL;
}

void tpa_config_redis(apr_pool_t *p, const tpa_server_conf *sc, apr_interval_time_t timeout,
                      tpo_redis_conf *rc)
{
    memset(rc, 0, sizeof(*rc));
    rc->servers = sc->cache_servers;
    rc->sentinel_master = sc->cache_redis_sentinel_master;
    rc->sentinel_password = sc->cache_redis_sentinel_password;
    rc->user = sc->cache_redis_user;
    rc->password = sc->cache_redis_password;
    rc->database = sc->cache_redis_database != TPO_UNSET ? sc->cache_redis_database
                                                         : TPO_DEF_CACHE_REDIS_DATABASE;
    rc->wait_replicas =
        sc->cache_redis_wait != TPO_UNSET ? sc->cache_redis_wait : TPO_DEF_CACHE_REDIS_WAIT;
    rc->tls = sc->cache_redis_tls == 1;
    rc->tls_ca_file = file_path(p, sc->cache_redis_tls_ca_file);
    rc->tls_cert_file = file_path(p, sc->cache_redis_tls_cert_file);
    rc->tls_key_file = file_path(p, sc->cache_redis_tls_key_file);
    rc->tls_name = sc->cache_redis_tls_server_name;
    rc->timeout = timeout;
}

/* op: "+name" or "-name", name normalised. */
void tpa_config_strip_apply(apr_pool_t *p, apr_array_header_t *list, const char *op)
{
    const char *name = op + 1;
    apr_size_t len = strlen(name);
    int i;

    for (i = 0; i < list->nelts; i++) {
        tpa_strip_name *e = &APR_ARRAY_IDX(list, i, tpa_strip_name);
        if (e->len == len && !memcmp(e->name, name, len)) {
            if (op[0] == '-') {
                /* keep the order: move the tail down */
                memmove(e, e + 1, (list->nelts - i - 1) * sizeof(*e));
                list->nelts--;
            }
            return;
        }
    }
    if (op[0] == '+') {
        tpa_strip_name *e = apr_array_push(list);
        e->name = apr_pstrdup(p, name);
        e->len = len;
    }
}

/* The defaults of the directory directives, resolved from the table by
 * tpa_config_dir_defaults (check_config, before any request). */
static tpa_dir_conf dir_defaults;

const char *tpa_config_dir_defaults(apr_pool_t *p)
{
    tpa_directives_unset(TPO_CTX_DIR, &dir_defaults);
    return tpa_directives_defaults(p, TPO_CTX_DIR, &dir_defaults);
}

/* The identity headers never accepted from clients by default
 * (TPO_DEF_STRIP_HEADERS, normalised), built once per pool. */
static const apr_array_header_t *default_strip(apr_pool_t *p)
{
    apr_array_header_t *strip = apr_array_make(p, 10, sizeof(tpa_strip_name));
    char *list = apr_pstrdup(p, TPO_DEF_STRIP_HEADERS), *last, *name;

    for (name = apr_strtok(list, " ", &last); name; name = apr_strtok(NULL, " ", &last)) {
        tpa_strip_name *e = apr_array_push(strip);
        e->name = tpa_config_header_norm(p, name);
        e->len = strlen(e->name);
    }
    return strip;
}

void *tpa_config_create_dir(apr_pool_t *p, char *dir)
{
    tpa_dir_conf *c = apr_pcalloc(p, sizeof(tpa_dir_conf));

    tpa_directives_unset(TPO_CTX_DIR, c);
    c->strip = default_strip(p);
    return c;
}

void *tpa_config_merge_dir(apr_pool_t *p, void *basev, void *addv)
{
    tpa_dir_conf *base = basev, *add = addv;
    tpa_dir_conf *c = apr_pcalloc(p, sizeof(*c));
    int k;

    c->provider = add->provider ? add->provider : base->provider;
    c->provider_ref_at = add->provider ? add->provider_ref_at : base->provider_ref_at;
    c->export_mode = add->export_mode != TPO_UNSET ? add->export_mode : base->export_mode;
    c->unauth_action = add->unauth_action != TPO_UNSET ? add->unauth_action : base->unauth_action;
    c->authz_action = add->authz_action != TPO_UNSET ? add->authz_action : base->authz_action;
    c->bearer_mode = add->bearer_mode != TPO_UNSET ? add->bearer_mode : base->bearer_mode;
    c->bearer_scope = add->bearer_scope ? add->bearer_scope : base->bearer_scope;
    c->bearer_query = add->bearer_query != TPO_UNSET ? add->bearer_query : base->bearer_query;
    c->dpop_proof = add->dpop_proof ? add->dpop_proof : base->dpop_proof;
    if (add->cors_origins) {
        c->cors_origins = add->cors_origins;
        c->cors_any = add->cors_any;
    }
    else {
        c->cors_origins = base->cors_origins;
        c->cors_any = base->cors_any;
    }
    /* the effective strip list is computed here, once per merge, never per header */
    if (add->strip_ops) {
        apr_array_header_t *strip = apr_array_copy(p, base->strip);
        int i;
        for (i = 0; i < add->strip_ops->nelts; i++) {
            tpa_config_strip_apply(p, strip, APR_ARRAY_IDX(add->strip_ops, i, const char *));
        }
        c->strip = strip;
        c->strip_ops = add->strip_ops;
    }
    else {
        c->strip = base->strip;
        c->strip_ops = base->strip_ops;
    }
    c->backend_token = add->backend_token != TPO_UNSET ? add->backend_token : base->backend_token;
    c->backend_scope = add->backend_scope ? add->backend_scope : base->backend_scope;
    c->backend_resource = add->backend_resource ? add->backend_resource : base->backend_resource;
    c->backend_audience = add->backend_audience ? add->backend_audience : base->backend_audience;
    if (add->backend_idt_header) {
        c->backend_idt_header = add->backend_idt_header;
        c->backend_idt_form = add->backend_idt_form;
    }
    else {
        c->backend_idt_header = base->backend_idt_header;
        c->backend_idt_form = base->backend_idt_form;
    }
    /* each authorization-request parameter on its own: a sub-location
     * that sets prompt keeps the scope of its parent */
    for (k = 0; k < TPO_AR_COUNT; k++) {
        c->auth_req[k] = add->auth_req[k] ? add->auth_req[k] : base->auth_req[k];
    }
    c->require_acr = add->require_acr ? add->require_acr : base->require_acr;
    c->max_auth_age = add->max_auth_age != TPO_UNSET ? add->max_auth_age : base->max_auth_age;
    return c;
}

int tpa_dir_backend_token(const tpa_dir_conf *dc)
{
    return dc->backend_token != TPO_UNSET ? dc->backend_token : dir_defaults.backend_token;
}

int tpa_dir_export(const tpa_dir_conf *dc)
{
    return dc->export_mode != TPO_UNSET ? dc->export_mode : dir_defaults.export_mode;
}

int tpa_dir_bearer(const tpa_dir_conf *dc)
{
    return dc->bearer_mode != TPO_UNSET ? dc->bearer_mode : dir_defaults.bearer_mode;
}

int tpa_dir_bearer_query(const tpa_dir_conf *dc)
{
    return dc->bearer_query != TPO_UNSET ? dc->bearer_query : dir_defaults.bearer_query;
}

void tpa_dir_stepup(const tpa_dir_conf *dc, tpo_stepup_req *req)
{
    req->acr = dc->require_acr;
    req->max_auth_age = dc->max_auth_age != TPO_UNSET ? dc->max_auth_age : -1;
}

int tpa_dir_unauth(const tpa_dir_conf *dc)
{
    return dc->unauth_action != TPO_UNSET ? dc->unauth_action : dir_defaults.unauth_action;
}

int tpa_dir_authz(const tpa_dir_conf *dc)
{
    return dc->authz_action != TPO_UNSET ? dc->authz_action : dir_defaults.authz_action;
}

tpa_server_conf *tpa_config_server(server_rec *s)
{
    return ap_get_module_config(s->module_config, &tp_oauth_module);
}

tpa_dir_conf *tpa_config_dir(request_rec *r)
{
    return ap_get_module_config(r->per_dir_config, &tp_oauth_module);
}

tpa_provider_conf *tpa_config_provider(server_rec *s, const char *name)
{
    tpa_server_conf *sc = tpa_config_server(s);
    return name ? apr_hash_get(sc->providers, name, APR_HASH_KEY_STRING) : NULL;
}

apr_off_t tpa_config_cache_size(server_rec *main_s)
{
    tpa_server_conf *sc = tpa_config_server(main_s);
    return sc->cache_size != TPO_UNSET ? sc->cache_size : (apr_off_t)TPO_DEF_CACHE_SIZE_BYTES;
}

int tpa_config_pending_capacity(server_rec *main_s)
{
    tpa_server_conf *sc = tpa_config_server(main_s);
    return sc->pending_capacity != TPO_UNSET ? sc->pending_capacity : TPO_DEF_PENDING_LOGINS;
}

/* Lowercase, '_' as '-': how a header name is compared for stripping. */
char *tpa_config_header_norm(apr_pool_t *p, const char *name)
{
    char *n = apr_pstrdup(p, name), *c;
    for (c = n; *c; c++) {
        *c = *c == '_' ? '-' : (char)apr_tolower(*c);
    }
    return n;
}
