/* SPDX-License-Identifier: Apache-2.0
 * Licensed under the Apache License, Version 2.0 (see LICENSE). */
/* Pending logins: what the module holds between the redirect to the
 * authorization server and the callback. Stored in the cache under
 * "st:" + state (single use: taken with an atomic delete), bound to the
 * browser by a random browser id kept in one small cookie that all tabs share.
 * Per browser, the list of its outstanding states ("br:" + browser id) is
 * bounded; globally the cache's capacity and the login timeout bound them. */
#ifndef TPO_PENDING_H
#define TPO_PENDING_H

#include <apr_pools.h>
#include <apr_time.h>
#include <apr_errno.h>

#define TPO_PENDING_VERSION 1

typedef struct tpo_pending {
    apr_time_t created;
    apr_time_t expires;
    const char *provider;       /* provider name it was started for */
    const char *browser;        /* browser id (from the binding cookie) */
    const char *nonce;          /* may be NULL (no openid scope) */
    const char *code_verifier;
    const char *redirect_uri;   /* exact redirect_uri sent (token request needs it) */
    const char *return_url;     /* local URL to go back to */
} tpo_pending;

char *tpo_pending_encode(apr_pool_t *p, const tpo_pending *pl, apr_size_t *len);
apr_status_t tpo_pending_decode(apr_pool_t *p, const char *buf, apr_size_t len,
                                tpo_pending *out);

/* The per-browser list: states separated by ' ', oldest first. Adds `state`;
 * when more than `max` remain, the oldest are returned in *dropped (space
 * separated, NULL if none) for the caller to delete. */
char *tpo_pending_list_add(apr_pool_t *p, const char *list, const char *state,
                           int max, const char **dropped);
/* Remove state from the list (returns the new list, may be ""). */
char *tpo_pending_list_remove(apr_pool_t *p, const char *list, const char *state);

#endif
