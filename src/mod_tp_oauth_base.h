/* SPDX-License-Identifier: Apache-2.0
 * Licensed under the Apache License, Version 2.0 (see LICENSE). */
/* Layer 1 (base) of the Apache glue: what every glue file shares. The glue
 * is in layers, each calling only downwards (tools/check-layers enforces the
 * #includes; README.md "Source map" lists the files):
 *   6 top       mod_tp_oauth.c: the module record and the hooks
 *   5 hooks     mod_tp_oauth_hooks.h: check_authn, the authz providers
 *   4 endpoint  mod_tp_oauth_endpoint.h: the one dispatcher of the
 *               endpoints under the redirect URI
 *   3 flows     mod_tp_oauth_flows.h: login (start + callback), refresh,
 *               logout, info
 *   2 services  mod_tp_oauth_session.h (session service),
 *               mod_tp_oauth_provider.h (per-process provider state),
 *               mod_tp_oauth_identity.h (what the application sees)
 *   1 base      this file, mod_tp_oauth_config.h, mod_tp_oauth_page.h
 *   0 core      src/tpo_*.c: the protocol, no httpd headers
 * The protocol core (tpo_*.c) never includes a glue header. Glue names
 * start with tpa_ (tpo_ is the core).
 *
 * Who writes the response (one convention, every glue file):
 * - Only the hooks (layers 5-6, e.g. check_authn, the CORS preflight) and
 *   the endpoints (the functions the dispatcher calls: callback, info,
 *   refresh, logout) write a response. Everything they call (the flows
 *   tpa_login_start and tpa_refresh_if_needed, the services, the core)
 *   never writes a body: it returns a result (an enum, or a status with a
 *   tpa_answer describing the page) and the caller renders it. Such
 *   functions may set the headers of the answer they describe (Location,
 *   Set-Cookie, Retry-After, WWW-Authenticate).
 * - A function that returns int for the request returns one of: OK (go on;
 *   for check_authn: authenticated), DONE (the answer is complete, a body
 *   may have been written: return DONE at once and write nothing more), or
 *   an HTTP status (nothing written: returned up to Apache, which writes its
 *   error document, or rendered by the caller). No other values. The
 *   handler hook maps DONE to OK.
 * - Every page goes through mod_tp_oauth_page.h (tpa_page_error,
 *   tpa_page_answer, tpa_page_write, tpa_json_response), which returns
 *   DONE. */
#ifndef MOD_TP_OAUTH_BASE_H
#define MOD_TP_OAUTH_BASE_H

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
/* AUTH_TYPE of a request authenticated by a bearer token (sessions: TPO_AUTH_TYPE) */
#define TPO_AUTH_TYPE_BEARER "Bearer"

/* Binds r to this thread for the core's log lines; returns the previous
 * binding, to be restored when the hook returns (mod_tp_oauth.c). */
request_rec *tpa_log_bind(request_rec *r);

#endif
