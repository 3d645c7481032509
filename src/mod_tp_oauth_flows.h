/* SPDX-License-Identifier: Apache-2.0
 * Licensed under the Apache License, Version 2.0 (see LICENSE). */
/* Layer 3 (flows): one file per flow or endpoint. A flow never calls
 * another flow. */
#ifndef MOD_TP_OAUTH_FLOWS_H
#define MOD_TP_OAUTH_FLOWS_H

#include "mod_tp_oauth_identity.h"
#include "mod_tp_oauth_provider.h"
#include "mod_tp_oauth_session.h"

/* mod_tp_oauth_login.c: login start and the callback at the redirect URI. */
int tpa_login_start(request_rec *r, tpa_provider_conf *pc);
int tpa_login_callback(request_rec *r, tpa_provider_conf *pc);

/* mod_tp_oauth_refresh.c: single-flight refresh. OK with *s replaced by the
 * current session (refreshed or not), or a status for the caller to return
 * (DONE for a page already written). force: refresh now (the app asked);
 * with force nothing is ever written: the caller answers every result. */
#define TPO_REFRESH_ENDED (-100) /* the session is over: log in again */
int tpa_refresh_if_needed(request_rec *r, tpa_provider_conf *pc, struct tpo_session **s, int force,
                          int *refreshed);
int tpa_refresh_endpoint(request_rec *r, tpa_provider_conf *pc);

/* mod_tp_oauth_logout.c: <redirect URI>/logout */
int tpa_logout_endpoint(request_rec *r, tpa_provider_conf *pc);

/* mod_tp_oauth_info.c: <redirect URI>/info */
int tpa_info_endpoint(request_rec *r, tpa_provider_conf *pc);

#endif
