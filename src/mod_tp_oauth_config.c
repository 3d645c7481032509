/* SPDX-License-Identifier: Apache-2.0
 * Licensed under the Apache License, Version 2.0 (see LICENSE). */
/* Configuration records: creation and merging of the server and directory
 * configurations, and the typed getters the rest of the module reads them
 * through. The directives live in mod_tp_oauth_directives.c, the
 * check_config pass in mod_tp_oauth_config_check.c. */
#include <apr_lib.h>
#include <apr_strings.h>
#include "mod_tp_oauth_private.h"

/* ------------------------------------------------------------ create/merge */

void *tpo_config_create_server(apr_pool_t *p, server_rec *s)
{
    tpo_server_conf *c = apr_pcalloc(p, sizeof(*c));
    c->providers = apr_hash_make(p);
    c->cache_size = TPO_UNSET;
    c->cache_entries = TPO_UNSET;
    c->pending_capacity = TPO_UNSET;
    c->cache_timeout_ms = TPO_UNSET;
    return c;
}

void *tpo_config_merge_server(apr_pool_t *p, void *basev, void *addv)
{
    tpo_server_conf *base = basev, *add = addv;
    tpo_server_conf *c = apr_pcalloc(p, sizeof(*c));

    /* providers of the main server are visible in every virtual host; a
     * virtual host's own definition of the same name wins there */
    c->providers = apr_hash_overlay(p, add->providers, base->providers);
    c->cache_size = add->cache_size != TPO_UNSET ? add->cache_size : base->cache_size;
    c->cache_entries = add->cache_entries != TPO_UNSET ? add->cache_entries : base->cache_entries;
    c->pending_capacity = add->pending_capacity != TPO_UNSET
                          ? add->pending_capacity : base->pending_capacity;
    /* the cache is global: virtual hosts use the main server's */
    c->cache_type = base->cache_type;
    c->cache_servers = base->cache_servers;
    c->cache_timeout_ms = base->cache_timeout_ms;
    c->cache_passphrase = base->cache_passphrase;
    c->cache_passphrase_prev = base->cache_passphrase_prev;
    c->cache_redis_password = base->cache_redis_password;
    c->cache_set_at = base->cache_set_at;
    return c;
}

void *tpo_config_create_dir(apr_pool_t *p, char *dir)
{
    return apr_pcalloc(p, sizeof(tpo_dir_conf));
}

void *tpo_config_merge_dir(apr_pool_t *p, void *basev, void *addv)
{
    tpo_dir_conf *base = basev, *add = addv;
    tpo_dir_conf *c = apr_pcalloc(p, sizeof(*c));

    c->provider = add->provider ? add->provider : base->provider;
    c->provider_ref_at = add->provider ? add->provider_ref_at : base->provider_ref_at;
    c->export_mode = add->export_mode ? add->export_mode : base->export_mode;
    c->unauth_action = add->unauth_action ? add->unauth_action : base->unauth_action;
    c->authz_action = add->authz_action ? add->authz_action : base->authz_action;
    return c;
}

int tpo_dir_export(const tpo_dir_conf *dc)
{
    return dc->export_mode ? dc->export_mode : TPO_EXPORT_ENV;
}

int tpo_dir_unauth(const tpo_dir_conf *dc)
{
    return dc->unauth_action ? dc->unauth_action : TPO_UNAUTH_LOGIN;
}

int tpo_dir_authz(const tpo_dir_conf *dc)
{
    return dc->authz_action ? dc->authz_action : TPO_AUTHZ_403;
}

tpo_server_conf *tpo_config_server(server_rec *s)
{
    return ap_get_module_config(s->module_config, &tp_oauth_module);
}

tpo_dir_conf *tpo_config_dir(request_rec *r)
{
    return ap_get_module_config(r->per_dir_config, &tp_oauth_module);
}

tpo_provider_conf *tpo_config_provider(server_rec *s, const char *name)
{
    tpo_server_conf *sc = tpo_config_server(s);
    return name ? apr_hash_get(sc->providers, name, APR_HASH_KEY_STRING) : NULL;
}

apr_off_t tpo_config_cache_size(server_rec *main_s)
{
    tpo_server_conf *sc = tpo_config_server(main_s);
    return sc->cache_size != TPO_UNSET ? sc->cache_size : (apr_off_t)32 * 1024 * 1024;
}

int tpo_config_pending_capacity(server_rec *main_s)
{
    tpo_server_conf *sc = tpo_config_server(main_s);
    return sc->pending_capacity != TPO_UNSET ? sc->pending_capacity : 10000;
}

/* Lowercase, '_' as '-': how a header name is compared for stripping. */
char *tpo_config_header_norm(apr_pool_t *p, const char *name)
{
    char *n = apr_pstrdup(p, name), *c;
    for (c = n; *c; c++) {
        *c = *c == '_' ? '-' : (char)apr_tolower(*c);
    }
    return n;
}
