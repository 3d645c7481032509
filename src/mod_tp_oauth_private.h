/* SPDX-License-Identifier: Apache-2.0
 * Licensed under the Apache License, Version 2.0 (see LICENSE). */
/* Private declarations shared by the Apache glue files (mod_tp_oauth*.c).
 * The protocol core (tpo_*.c) never includes this. */
#ifndef MOD_TP_OAUTH_PRIVATE_H
#define MOD_TP_OAUTH_PRIVATE_H

#include <httpd.h>
#include <http_config.h>
#include <http_core.h>
#include <http_log.h>
#include <http_protocol.h>
#include <http_request.h>

#include "tpo_cache.h"
#include "tpo_log.h"
#include "mod_tp_oauth_config.h"
#include "tpo_defaults.h"

/* mod_tp_oauth.c declares the module record with AP_DECLARE_MODULE, which
 * does this itself */
#ifndef TPO_MODULE_RECORD
APLOG_USE_MODULE(tp_oauth);
#endif
extern module AP_MODULE_DECLARE_DATA tp_oauth_module;

#define TPO_AUTH_TYPE "tp-oauth"

/* The caches, created by the parent in post_config (inherited by children). */
extern tpo_cache *tpo_session_cache;
extern tpo_cache *tpo_pending_cache; /* consumed-state markers */
/* The key login cookies are sealed with (TPOAuthLoginCookieKeyFile, or
 * random per server start), set in post_config. */
extern struct tpo_pending_key tpo_login_key;
void tpo_cache_note_pressure(request_rec *r);
/* Binds r to this thread for the core's log lines; returns the previous
 * binding, to be restored when the hook returns. */
request_rec *tpo_log_bind(request_rec *r);

/* mod_tp_oauth_page.c: one page and one log line per failure. Returns DONE
 * (the response is written) so hooks can `return tpo_page_error(...)`. */
int tpo_page_error(request_rec *r, int status, const char *title, const char *detail);
void tpo_set_cookie(request_rec *r, const tpo_provider_conf *pc, const char *name,
                    const char *value, long max_age);
/* A login cookie: as tpo_set_cookie, but always SameSite=Lax (Strict would
 * keep it from the provider's cross-site redirect back, None needs https). */
void tpo_set_login_cookie(request_rec *r, const tpo_provider_conf *pc, const char *name,
                          const char *value, long max_age);
int tpo_request_is_https(request_rec *r);
/* The module's one WWW-Authenticate: TP-OAuth realm="<AuthName, else the
 * provider's name>" (a quoted-string), with error="<error>" unless NULL. */
void tpo_www_authenticate(request_rec *r, const tpo_provider_conf *pc, const char *error);
/* The headers of every page the module writes (no caching, no framing, no
 * active content). */
void tpo_page_headers(request_rec *r);
/* The module's one HTML page template: title and heading are text (escaped
 * here), body_html is markup the caller has escaped. */
const char *tpo_page_html(apr_pool_t *p, const char *title, const char *heading,
                          const char *body_html);
/* Writes such a page with the page headers; returns DONE. */
int tpo_page_write(request_rec *r, int status, const char *title, const char *heading,
                   const char *body_html);

/* mod_tp_oauth_provider.c: per-process provider state (metadata, JWKS). */
typedef enum { TPO_RT_OK = 0, TPO_RT_UNAVAILABLE, TPO_RT_TIMEOUT } tpo_rt_status;
void tpo_provider_child_init(apr_pool_t *pchild, server_rec *s);
/* Effective endpoints: from configuration, else from discovery (fetched once
 * per process, refetched after a failure with a back-off). */
tpo_rt_status tpo_provider_meta_get(request_rec *r, tpo_provider_conf *pc,
                                    const struct tpo_provider_meta **meta);
/* The provider's JWKS, fetched on first use; force_refresh asks for a refetch
 * (rate-limited). Release with tpo_provider_jwks_release. */
tpo_rt_status tpo_provider_jwks_acquire(request_rec *r, tpo_provider_conf *pc, int force_refresh,
                                        const struct tpo_jwks **jwks, void **handle);
void tpo_provider_jwks_release(tpo_provider_conf *pc, void *handle);
void tpo_provider_http_opts(const tpo_provider_conf *pc, struct tpo_http_opts *o);
struct tpo_http_response;
int tpo_provider_client_post(request_rec *r, tpo_provider_conf *pc, const char *url,
                             const apr_array_header_t *params, struct tpo_http_response *resp);

/* mod_tp_oauth_authn.c */
int tpo_check_authn(request_rec *r);
int tpo_login_start(request_rec *r, tpo_provider_conf *pc);
/* What this provider's login cookies are bound to on this virtual host. */
struct tpo_pending_binding;
apr_status_t tpo_login_binding(request_rec *r, const tpo_provider_conf *pc,
                               struct tpo_pending_binding *out);
struct tpo_session;
typedef enum { TPO_SESS_NONE, TPO_SESS_OK, TPO_SESS_ENDED, TPO_SESS_CACHE_DOWN } tpo_sess_result;
tpo_sess_result tpo_session_load(request_rec *r, tpo_provider_conf *pc, struct tpo_session *s);
int tpo_is_redirect_uri(request_rec *r, tpo_provider_conf *pc, const char **sub);
int tpo_endpoint_handle(request_rec *r, tpo_provider_conf *pc, const char *sub);

/* mod_tp_oauth_identity.c: what the application sees. */
typedef struct tpo_req {
    const char *sid;             /* the session id from the cookie (when valid) */
    struct tpo_session *session; /* the request's session, when authenticated */
    tpo_provider_conf *pc;
    struct json_t *claims; /* parsed lazily (authz rules, info) */
} tpo_req;
tpo_req *tpo_req_get(request_rec *r);
void tpo_identity_export(request_rec *r, tpo_provider_conf *pc, struct tpo_session *s);
int tpo_strip_headers(request_rec *r);
int tpo_strip_dir_headers(request_rec *r);
int tpo_pass_fixups(request_rec *r);
int tpo_info_handle(request_rec *r, tpo_provider_conf *pc);
int tpo_json_response(request_rec *r, int status, struct json_t *body);
int tpo_json_error(request_rec *r, int status, const char *error);
struct json_t *tpo_req_claims(request_rec *r);

/* mod_tp_oauth_authz.c: Require oauth-claim / oauth-scope */
void tpo_authz_register(apr_pool_t *p);
int tpo_authz_note_failure(request_rec *r);

/* mod_tp_oauth_callback.c: the redirect URI. */
int tpo_callback_handle(request_rec *r, tpo_provider_conf *pc);
void tpo_session_render(apr_pool_t *p, tpo_provider_conf *pc, struct tpo_session *s,
                        struct json_t *claims);
int tpo_validate_id_token(request_rec *r, tpo_provider_conf *pc,
                          const struct tpo_provider_meta *meta, const char *id_token,
                          const char *nonce, struct json_t **claims);

/* mod_tp_oauth_refresh.c: single-flight refresh. OK with *s replaced by the
 * current session (refreshed or not), or a status for the caller to return
 * (DONE for a page already written). force: refresh now (the app asked);
 * with force nothing is ever written: the caller answers every result. */
#define TPO_REFRESH_ENDED (-100) /* the session is over: log in again */
int tpo_refresh_if_needed(request_rec *r, tpo_provider_conf *pc, struct tpo_session **s, int force,
                          int *refreshed);
int tpo_refresh_endpoint(request_rec *r, tpo_provider_conf *pc);
void tpo_session_touch(request_rec *r, tpo_provider_conf *pc, const char *sid);
void tpo_session_delete(request_rec *r, tpo_provider_conf *pc, const char *sid);

/* mod_tp_oauth_logout.c: <redirect URI>/logout */
int tpo_logout_handle(request_rec *r, tpo_provider_conf *pc);

/* mod_tp_oauth_channel_logout.c: <redirect URI>/backchannel-logout and
 * /frontchannel-logout (logout initiated by the provider) */
int tpo_backchannel_logout_endpoint(request_rec *r, tpo_provider_conf *pc);
int tpo_frontchannel_logout_endpoint(request_rec *r, tpo_provider_conf *pc);

/* mod_tp_oauth_admin.c: SetHandler tp-oauth-admin */
int tpo_admin_handler(request_rec *r);

/* Keys in the caches */
#define TPO_KEY_SESSION "s:"
#define TPO_KEY_CONSUMED "sc:" /* + state: the callback took this login (one use) */
#define TPO_KEY_REFRESH_LOCK "rl:"
#define TPO_KEY_REFRESH_FAIL "rf:"
#define TPO_KEY_REFRESH_NOTE "rn:" /* the failure answers of this window are logged */

/* Refresh timing (TPO_REFRESH_RETRY_AFTER_MAX, TPO_REFRESH_MARGIN_MS) and
 * the other fixed values are in tpo_defaults.h. */
#define TPO_SESSION_GRACE apr_time_from_sec(TPO_SESSION_GRACE_S)

#endif
