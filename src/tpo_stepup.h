/* SPDX-License-Identifier: Apache-2.0
 * Licensed under the Apache License, Version 2.0 (see LICENSE). */
/* Per-location authorization requests and step-up authentication:
 *
 * - the authorization-request parameters a location may set
 *   (TPOAuthAuthRequestParam: scope, acr_values, max_age, prompt,
 *   login_hint, ui_locales), checked at configuration time;
 * - what a location demands of the session's authentication
 *   (TPOAuthRequireACR, TPOAuthMaxAuthAge) and whether a session's ID-token
 *   acr / auth_time is enough;
 * - the parameter list of the authorization request (one builder: the
 *   provider's, the location's, then the step-up's parameters);
 * - the RFC 9470 challenge for requests that cannot be redirected. */
#ifndef TPO_STEPUP_H
#define TPO_STEPUP_H

#include <apr_pools.h>
#include <apr_tables.h>
#include <apr_time.h>

/* The parameters a location may set, in the order they are sent. */
typedef enum {
    TPO_AR_SCOPE,
    TPO_AR_ACR_VALUES,
    TPO_AR_MAX_AGE,
    TPO_AR_PROMPT,
    TPO_AR_LOGIN_HINT,
    TPO_AR_UI_LOCALES,
    TPO_AR_COUNT
} tpo_ar_param;

/* The name of parameter i ("scope", ...). */
const char *tpo_ar_name(int i);
/* The index of a parameter name, or -1 when a location cannot set it. */
int tpo_ar_index(const char *name);
/* NULL when value is a valid value of parameter i, else what is wrong
 * (for a configuration error message):
 *   scope, acr_values  space-separated words of printable ASCII without '"'
 *                      and '\' (RFC 6749 NQCHAR)
 *   max_age            a whole number of seconds, 0 to 999999999
 *   prompt             none, or one or more of login, consent,
 *                      select_account, create (no repeats)
 *   login_hint         1 to 512 bytes, no control characters
 *   ui_locales         space-separated language tags (letters, digits, '-') */
const char *tpo_ar_check(apr_pool_t *p, int i, const char *value);

/* What a location demands of the session's authentication. */
typedef struct tpo_stepup_req {
    const char *const *acr; /* accepted acr values (any of), NULL-terminated;
                               NULL: any acr */
    int max_auth_age;       /* seconds since auth_time at most; < 0: any age */
} tpo_stepup_req;

#define TPO_STEPUP_ACR 1 /* the acr is none of the accepted ones (or unknown) */
#define TPO_STEPUP_AGE                                                                             \
    2 /* the authentication is older than max_auth_age (or
                            its time unknown) */

/* Does a req demand anything at all? */
int tpo_stepup_demands(const tpo_stepup_req *req);

/* 0 when acr / auth_time (0: unknown) satisfy req at `now`, allowing `skew`
 * of clock difference for the age; else the TPO_STEPUP_* flags that fail. */
int tpo_stepup_check(const tpo_stepup_req *req, const char *acr, apr_time_t auth_time,
                     apr_time_t now, apr_interval_time_t skew);

/* The accepted acr values as one space-separated string (NULL: none). */
const char *tpo_stepup_acr_text(apr_pool_t *p, const tpo_stepup_req *req);
/* req from the text form (as kept in the pending login): acr_text NULL or
 * empty: any acr. */
void tpo_stepup_req_parse(apr_pool_t *p, const char *acr_text, int max_auth_age,
                          tpo_stepup_req *req);

/* The authorization request's parameters after the protocol's own
 * (response_type, client_id, redirect_uri, state, nonce, PKCE), as
 * name,value pairs (const char *) in order: scope, then the provider's
 * TPOAuthAuthParam. A later source replaces the value of an earlier one:
 *   1. the provider: scope, TPOAuthAuthParam pairs (provider_params);
 *   2. the location: loc[TPO_AR_*] (NULL entries or loc NULL: not set);
 *   3. a step-up demand (req, when it demands something): acr_values = the
 *      accepted values, max_age = max_auth_age, and, when `flags` has
 *      TPO_STEPUP_AGE (a session too old), prompt=login (with the location's
 *      other prompt values, never none).
 * Parameters keep the position of their first appearance. */
apr_array_header_t *tpo_authreq_params(apr_pool_t *p, const char *scope,
                                       const apr_array_header_t *provider_params,
                                       const char *const *loc, const tpo_stepup_req *req,
                                       int flags);

/* The WWW-Authenticate value of a request that lacks the authentication
 * req demands (RFC 9470 3):
 *   Bearer realm="<realm>", error="insufficient_user_authentication",
 *   error_description="...", acr_values="...", max_age="..."
 * acr_values when req demands acr values, max_age when it demands an age;
 * the description names what `flags` says is missing. */
const char *tpo_stepup_challenge(apr_pool_t *p, const char *realm, const tpo_stepup_req *req,
                                 int flags);

#endif
