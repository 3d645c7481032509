/* SPDX-License-Identifier: Apache-2.0
 * Licensed under the Apache License, Version 2.0 (see LICENSE). */
/* Pending logins: what the module holds between the redirect to the
 * authorization server and the callback. The record travels in the browser's
 * own login cookie, sealed (tpo_pending_cookie.h), so a login in progress
 * takes no room on the server and no other client can push it out. The
 * server keeps only a one-use "consumed" marker per state, written when the
 * callback takes the login. */
#ifndef TPO_PENDING_H
#define TPO_PENDING_H

#include <apr_pools.h>
#include <apr_time.h>
#include <apr_errno.h>

#define TPO_PENDING_VERSION 2

typedef struct tpo_pending {
    apr_time_t created;
    apr_time_t expires;
    const char *state;    /* the state sent to the authorization server */
    const char *provider; /* provider name it was started for */
    const char *nonce;    /* may be NULL (no openid scope) */
    const char *code_verifier;
    const char *redirect_uri; /* exact redirect_uri sent (token request needs it) */
    const char *return_url;   /* local URL to go back to */
    /* step-up: what the location demanded (TPOAuthRequireACR,
     * TPOAuthMaxAuthAge), checked against the new ID token at the callback */
    const char *acr_required; /* accepted acr values, space-separated; NULL: any */
    int max_auth_age;         /* seconds; 0: any age */
} tpo_pending;

char *tpo_pending_encode(apr_pool_t *p, const tpo_pending *pl, apr_size_t *len);
/* buf must stay alive (strings point into it). APR_EINVAL on a bad record
 * or a missing required field. */
apr_status_t tpo_pending_decode(apr_pool_t *p, const char *buf, apr_size_t len, tpo_pending *out);

#endif
