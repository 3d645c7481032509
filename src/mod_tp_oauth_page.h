/* SPDX-License-Identifier: Apache-2.0
 * Licensed under the Apache License, Version 2.0 (see LICENSE). */
/* Layer 1 (base): the response writers (mod_tp_oauth_page.c). */
#ifndef MOD_TP_OAUTH_PAGE_H
#define MOD_TP_OAUTH_PAGE_H

#include "mod_tp_oauth_base.h"

struct json_t;

/* A failure page described, not yet written: what a flow returns for its
 * caller (an endpoint or a hook) to write with tpa_page_answer. title NULL:
 * no page, the caller returns the bare status (Apache's error document). */
typedef struct tpa_answer {
    int status;
    const char *title;
    const char *detail;
} tpa_answer;
/* Writes a's page (DONE), or returns a->status when it has none. */
int tpa_page_answer(request_rec *r, const tpa_answer *a);

/* One page and one log line per failure. Returns DONE (the response is
 * written) so hooks can `return tpa_page_error(...)`. */
int tpa_page_error(request_rec *r, int status, const char *title, const char *detail);
void tpa_set_cookie(request_rec *r, const tpa_provider_conf *pc, const char *name,
                    const char *value, long max_age);
/* A login cookie: as tpa_set_cookie, but always SameSite=Lax (Strict would
 * keep it from the provider's cross-site redirect back, None needs https). */
void tpa_set_login_cookie(request_rec *r, const tpa_provider_conf *pc, const char *name,
                          const char *value, long max_age);
/* 1 if the client's URL is https (as tpa_request_url sees it) */
int tpa_request_is_https(request_rec *r);
/* The absolute URL of uri ("" or a path) on this server as the client sees
 * it: scheme://host[:port]uri, from a trusted proxy's Forwarded or
 * X-Forwarded-* headers when there are any (mod_tp_oauth_forwarded.c), else
 * as ap_construct_url. */
const char *tpa_request_url(request_rec *r, const char *uri);
/* The module's one WWW-Authenticate: TP-OAuth realm="<AuthName, else the
 * provider's name>" (a quoted-string), with error="<error>" unless NULL. */
void tpa_www_authenticate(request_rec *r, const tpa_provider_conf *pc, const char *error);
/* The bearer challenge (RFC 6750 3; tpo_bearer_challenge): Bearer
 * realm="<the same realm>"[, error, error_description, scope]. add: next to
 * a WWW-Authenticate already set (the session's), else replacing it. */
void tpa_www_authenticate_bearer(request_rec *r, const tpa_provider_conf *pc, const char *error,
                                 const char *desc, const char *scope, int add);
/* The step-up challenge (RFC 9470 3; tpo_stepup_challenge) for a session
 * that lacks (`lacks`: TPO_STEPUP_* flags) the authentication req demands:
 * Bearer realm="<the same realm>", error="insufficient_user_authentication",
 * error_description, acr_values, max_age. */
void tpa_www_authenticate_stepup(request_rec *r, const tpa_provider_conf *pc,
                                 const struct tpo_stepup_req *req, int lacks);
/* That challenge's value, for an answer rewritten later (authz failure). */
const char *tpa_bearer_challenge_value(request_rec *r, const tpa_provider_conf *pc,
                                       const char *error, const char *desc, const char *scope);
/* The headers of every page the module writes (no caching, no framing, no
 * active content). */
void tpa_page_headers(request_rec *r);
/* The module's one HTML page template: title and heading are text (escaped
 * here), body_html is markup the caller has escaped. */
const char *tpa_page_html(apr_pool_t *p, const char *title, const char *heading,
                          const char *body_html);
/* Writes such a page with the page headers; returns DONE. */
int tpa_page_write(request_rec *r, int status, const char *title, const char *heading,
                   const char *body_html);
/* A JSON answer (takes the reference to body); returns DONE. */
int tpa_json_response(request_rec *r, int status, struct json_t *body);
/* {"error": error}; returns DONE. */
int tpa_json_error(request_rec *r, int status, const char *error);

#endif
