/* SPDX-License-Identifier: Apache-2.0
 * Licensed under the Apache License, Version 2.0 (see LICENSE). */
/* Layer 3 (flows): one file per flow or endpoint. A flow never calls
 * another flow. The endpoints here (callback, refresh, logout, info, back- and
 * front-channel logout, the admin handler) write
 * their answers; the flows the hooks call (tpa_login_start,
 * tpa_refresh_if_needed) never write (see mod_tp_oauth_base.h). */
#ifndef MOD_TP_OAUTH_FLOWS_H
#define MOD_TP_OAUTH_FLOWS_H

#include "mod_tp_oauth_identity.h"
#include "mod_tp_oauth_provider.h"
#include "mod_tp_oauth_session.h"

/* mod_tp_oauth_login.c: login start and the callback at the redirect URI.
 * tpa_login_start is a flow for the hooks: it writes nothing; it returns
 * HTTP_MOVED_TEMPORARILY (Location and the login cookie set), or a failure
 * status with *fail describing the page for the caller to write. */
int tpa_login_start(request_rec *r, tpa_provider_conf *pc, tpa_answer *fail);
/* The same for a session that lacks the authentication the location demands
 * (TPOAuthRequireACR, TPOAuthMaxAuthAge): `lacks` are the TPO_STEPUP_* flags
 * (tpo_stepup.h) that failed; 0 is a login without a session. Either way the
 * location's TPOAuthAuthRequestParam and step-up demand go into the
 * authorization request, and the demand into the pending login (checked
 * at the callback, where the session of the same user is replaced). */
int tpa_login_start_stepup(request_rec *r, tpa_provider_conf *pc, int lacks, tpa_answer *fail);
/* The callback endpoint (writes its failure pages). */
int tpa_login_callback(request_rec *r, tpa_provider_conf *pc);
/* <redirect URI>/initiate-login: a third-party-initiated login (OpenID
 * Connect Core 1.0 section 4; writes its failure pages). */
int tpa_login_initiate_endpoint(request_rec *r, tpa_provider_conf *pc);

/* mod_tp_oauth_refresh.c: single-flight refresh, a flow for check_authn and
 * the refresh endpoint; it writes nothing. TPA_REFRESH_OK: *s is the current
 * session (refreshed or not, *refreshed says). TPA_REFRESH_ENDED: the
 * session is over (the caller treats the request as having none: login, 401
 * or JSON). TPA_REFRESH_FAILED: *fail has the status (502/504, or 503 with
 * no page: the session store) and the page text; Retry-After may be set.
 * force: refresh now (the app asked). */
typedef enum { TPA_REFRESH_OK, TPA_REFRESH_ENDED, TPA_REFRESH_FAILED } tpa_refresh_result;
tpa_refresh_result tpa_refresh_if_needed(request_rec *r, tpa_provider_conf *pc,
                                         struct tpo_session **s, int force, int *refreshed,
                                         tpa_answer *fail);
/* POST <redirect URI>/refresh (an endpoint: writes its JSON). */
int tpa_refresh_endpoint(request_rec *r, tpa_provider_conf *pc);

/* mod_tp_oauth_backend.c: tokens for backends, for the fixups hook; it
 * writes nothing. Sets the Authorization (TPOAuthBackendToken) and ID-token
 * (TPOAuthBackendIDToken) request headers and returns OK, or returns a
 * failure status with *fail describing the page (title NULL: none). */
int tpa_backend_prepare(request_rec *r, tpa_answer *fail);

/* mod_tp_oauth_logout.c: <redirect URI>/logout */
int tpa_logout_endpoint(request_rec *r, tpa_provider_conf *pc);

/* mod_tp_oauth_channel_logout.c: <redirect URI>/backchannel-logout and
 * /frontchannel-logout (logout initiated by the provider) */
int tpa_backchannel_logout_endpoint(request_rec *r, tpa_provider_conf *pc);
int tpa_frontchannel_logout_endpoint(request_rec *r, tpa_provider_conf *pc);

/* mod_tp_oauth_admin.c: the admin handler (SetHandler tp-oauth-admin);
 * DECLINED for other handlers, else DONE with the answer written. */
int tpa_admin_handler(request_rec *r);

/* mod_tp_oauth_client_jwks.c: <redirect URI>/jwks (the public keys of
 * TPOAuthClientSigningKey) */
int tpa_client_jwks_endpoint(request_rec *r, tpa_provider_conf *pc);

/* mod_tp_oauth_info.c: <redirect URI>/info */
int tpa_info_endpoint(request_rec *r, tpa_provider_conf *pc);

/* mod_tp_oauth_bearer.c: Authorization: Bearer (TPOAuthBearer), a flow for
 * check_authn; it writes nothing. TPA_BEARER_NONE: the request carries no
 * bearer token. TPA_BEARER_OK: the token's identity is exported.
 * TPA_BEARER_REFUSED: *status is the RFC 6750 answer's status
 * (WWW-Authenticate set; Apache writes its error document), or 502/503/504
 * when the provider cannot be asked. */
typedef enum { TPA_BEARER_NONE, TPA_BEARER_OK, TPA_BEARER_REFUSED } tpa_bearer_result;
tpa_bearer_result tpa_bearer_authn(request_rec *r, tpa_provider_conf *pc, tpa_dir_conf *dc,
                                   int *status);
/* The 401 without error for a request without any token (TPOAuthBearer
 * only): sets the challenge, returns the status. */
int tpa_bearer_unauthenticated(request_rec *r, tpa_provider_conf *pc);
/* A Require rule failed for a bearer request: the insufficient_scope
 * challenge goes into the note TPO_NOTE_BEARER_CHALLENGE (the authz error
 * filter sets it on the 403). */
void tpa_bearer_authz_failure(request_rec *r, tpa_provider_conf *pc);
#define TPO_NOTE_BEARER_SCOPE "tpo-bearer-scope"         /* the scopes a Require wanted */
#define TPO_NOTE_BEARER_CHALLENGE "tpo-bearer-challenge" /* WWW-Authenticate of the 403 */

#endif
