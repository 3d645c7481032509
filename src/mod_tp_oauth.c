/* SPDX-License-Identifier: Apache-2.0
 * Licensed under the Apache License, Version 2.0 (see LICENSE). */
/* mod_tp_oauth: the module record and the hooks. Thin on purpose: the
 * protocol lives in tpo_*.c, the request stages in mod_tp_oauth_*.c. */
#include <apr_strings.h>
#include <ap_provider.h>
#include <mod_auth.h>
#include <mod_status.h>
#define TPO_MODULE_RECORD /* AP_DECLARE_MODULE below: APLOG_USE_MODULE there */
#include "mod_tp_oauth_hooks.h"
#include "mod_tp_oauth_metrics.h"
#include "mod_tp_oauth_session.h"
#include "mod_tp_oauth_post.h"
#include "tpo_defaults.h"
#include "tpo_http.h"
#include "tpo_log.h"

static server_rec *log_server;

/* The request this thread is working on, so that the core's lines carry the
 * client and request like every other request line. Set by the hooks that
 * call into the core (a stack discipline within one thread: the previous
 * value is restored on the way out, so it never outlives the request). One
 * thread-local pointer: no lock, nothing allocated. */
static _Thread_local request_rec *log_req;

request_rec *tpa_log_bind(request_rec *r)
{
    request_rec *prev = log_req;
    log_req = r;
    return prev;
}

/* The core logs through this; LogLevel tp_oauth:... applies, per directory
 * within a request. */
static void core_log(const char *file, int line, int level, const char *msg)
{
    request_rec *r = log_req;

    /* core messages carry their own TPO_APLOGNO: no number here */
    if (r) {
        /* lognos: forwards */
        ap_log_rerror_(file, line, APLOG_MODULE_INDEX, level, 0, r, "%s", msg);
    }
    else {
        /* lognos: forwards */
        ap_log_error_(file, line, APLOG_MODULE_INDEX, level, 0, log_server, "%s", msg);
    }
}

/* The core asks before formatting a message. */
static int core_log_level(void)
{
    request_rec *r = log_req;
    int level = r ? ap_get_request_module_loglevel(r, APLOG_MODULE_INDEX)
                  : ap_get_server_module_loglevel(log_server, APLOG_MODULE_INDEX);

    return level > APLOG_DEBUG ? APLOG_DEBUG : level;
}

static int tpo_pre_config(apr_pool_t *pconf, apr_pool_t *plog, apr_pool_t *ptemp)
{
    tpa_config_reset_refs();
    return OK;
}

static int tpo_post_config(apr_pool_t *pconf, apr_pool_t *plog, apr_pool_t *ptemp, server_rec *s)
{
    log_server = s;
    tpo_log_set(core_log, TPO_LOG_DEBUG);
    tpo_log_set_level_fn(core_log_level);
    tpo_http_global_init();
    /* the version, once per start or restart (not on the first pass that only checks the config) */
    if (ap_state_query(AP_SQ_MAIN_STATE) != AP_SQ_MS_CREATE_PRE_CONFIG) {
        ap_log_error(APLOG_MARK, APLOG_NOTICE, 0, s, TPO_APLOGNO(00078) "mod_tp_oauth/%s loaded",
                     TPO_VERSION);
    }
    tpa_metrics_post_config(s);
    if (tpa_local_tier_post_config(s, pconf) != OK) {
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    return tpa_session_caches_post_config(s, ptemp);
}

static void tpo_child_init(apr_pool_t *pchild, server_rec *s)
{
    tpa_session_caches_child_init(pchild, s);
    tpa_provider_child_init(pchild, s);
    tpa_metrics_child_init(pchild, s);
}

/* The hooks that reach the core run with the request bound for its log lines. */
static int bound(request_rec *r, int (*hook)(request_rec *))
{
    request_rec *prev = tpa_log_bind(r);
    int rc = hook(r);

    tpa_log_bind(prev);
    return rc;
}

static int hook_check_authn(request_rec *r)
{
    return bound(r, tpa_check_authn);
}
static int hook_handler(request_rec *r)
{
    return bound(r, tpa_endpoint_handler);
}
static int ops_handler(request_rec *r)
{
    int rc = tpa_ops_handler(r);
    return rc == DONE ? OK : rc;
}

static int hook_ops_handler(request_rec *r)
{
    return bound(r, ops_handler);
}

/* mod_status's page: one line of figures (ExtendedStatus not needed). */
static int status_hook(request_rec *r, int flags)
{
    const char *line = tpa_metrics_summary(r->pool);

    if (flags & AP_STATUS_SHORT) {
        ap_rprintf(r, "TPOAuth: %s\n", line);
    }
    else {
        ap_rprintf(r, "<p>%s</p>\n", ap_escape_html(r->pool, line));
    }
    return OK;
}

static int hook_admin(request_rec *r)
{
    int rc = bound(r, tpa_admin_handler);
    return rc == DONE ? OK : rc;
}
static int hook_fixups(request_rec *r)
{
    return bound(r, tpa_pass_fixups);
}

/* Tokens for backends: the flow sets the headers or describes the failure
 * page, written here. */
static int backend_fixups(request_rec *r)
{
    tpa_answer fail;
    int rc = tpa_backend_prepare(r, &fail);

    return rc == OK ? DECLINED : tpa_page_answer(r, &fail);
}
static int hook_backend_fixups(request_rec *r)
{
    return bound(r, backend_fixups);
}

static int tpo_note_auth_failure(request_rec *r, const char *auth_type)
{
    if (strcasecmp(auth_type, TPO_AUTH_TYPE) != 0) {
        return DECLINED;
    }
    if (r->user && *r->user) {
        /* authenticated, but a Require rule failed */
        return bound(r, tpa_authz_note_failure);
    }
    /* check_authn already set WWW-Authenticate or started the login */
    return OK;
}

static void register_hooks(apr_pool_t *p)
{
    ap_hook_pre_config(tpo_pre_config, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_check_config(tpa_config_check, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_post_config(tpo_post_config, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_child_init(tpo_child_init, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_check_authn(hook_check_authn, NULL, NULL, APR_HOOK_MIDDLE, AP_AUTH_INTERNAL_PER_CONF);
    ap_hook_note_auth_failure(tpo_note_auth_failure, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_handler(hook_handler, NULL, NULL, APR_HOOK_FIRST);
    ap_hook_handler(hook_ops_handler, NULL, NULL, APR_HOOK_MIDDLE);
    APR_OPTIONAL_HOOK(ap, status_hook, status_hook, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_handler(hook_admin, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_post_read_request(tpa_strip_headers, NULL, NULL, APR_HOOK_REALLY_FIRST);
    ap_hook_header_parser(tpa_strip_dir_headers, NULL, NULL, APR_HOOK_REALLY_FIRST);
    ap_hook_fixups(hook_fixups, NULL, NULL, APR_HOOK_MIDDLE);
    /* after hook_fixups (a pass location's session) */
    ap_hook_fixups(hook_backend_fixups, NULL, NULL, APR_HOOK_LAST);
    tpa_authz_register(p);
    /* a form POST kept across a login, handed to the application */
    ap_register_input_filter(TPA_POST_FILTER, tpa_post_body_filter, NULL, AP_FTYPE_RESOURCE);
}

AP_DECLARE_MODULE(tp_oauth) = {
    STANDARD20_MODULE_STUFF,  /* API version, module index, name, ... */
    tpa_config_create_dir,    /* per-directory config: create */
    tpa_config_merge_dir,     /* per-directory config: merge (Location in server) */
    tpa_config_create_server, /* per-server config: create (providers live here) */
    tpa_config_merge_server,  /* per-server config: merge (virtual host in main) */
    tpa_cmds,                 /* the directives (mod_tp_oauth_directives.c) */
    register_hooks            /* the hooks above */
#if defined(AP_MODULE_FLAG_ALWAYS_MERGE)
    ,
    AP_MODULE_FLAG_NONE /* flags: merge only where configured */
#endif
};
