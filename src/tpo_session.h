/* SPDX-License-Identifier: Apache-2.0
 * Licensed under the Apache License, Version 2.0 (see LICENSE). */
/* The session record: a flat, versioned binary layout (not JSON) so that the
 * per-request path decodes it without parsing: a struct whose strings point
 * into the bytes read from the cache.
 *
 * Layout (all integers little-endian):
 *   "TPS" version(1)
 *   then fields: tag(1) length(4) data(length)
 *   strings carry their terminating NUL inside length, so decoded pointers
 *   can be used as C strings without copying.
 * Unknown tags are skipped (forward compatible); a truncated or inconsistent
 * record is rejected. */
#ifndef TPO_SESSION_H
#define TPO_SESSION_H

#include <apr_pools.h>
#include <apr_tables.h>
#include <apr_time.h>
#include <apr_errno.h>
#include "tpo_tlv.h"

#define TPO_SESSION_VERSION 1

typedef struct tpo_session {
    apr_time_t created;     /* login time */
    apr_time_t expires;     /* absolute end (maximum lifetime) */
    apr_time_t last_seen;   /* last activity (coarse) */
    apr_time_t at_expires;  /* access token expiry; 0 unknown */
    apr_time_t at_obtained; /* when the access token was issued to us */
    const char *provider;   /* provider name (config) */
    const char *user;       /* REMOTE_USER */
    const char *sub;
    const char *access_token;
    const char *refresh_token; /* may be NULL */
    const char *id_token;      /* may be NULL */
    const char *scope;         /* granted scope, may be NULL */
    const char *claims;        /* JSON object text, may be NULL */
    const char *op_sid;        /* the ID token's "sid" (the provider's session), may be NULL */
    const char *dpop_key;      /* the session's DPoP key (tpo_dpop_key_export): the access
                                  token is DPoP-bound; NULL: a Bearer token. A secret. */
    const char *acr;           /* the ID token's "acr" at login (step-up), may be NULL */
    apr_time_t auth_time;      /* the ID token's "auth_time"; 0 unknown */
    /* Pre-rendered environment: name,value,name,value,... (const char*),
     * computed once at login/refresh. Set when encoding; after decoding they
     * are NULL and the pairs stay in the record (see below), so that the
     * per-request path never builds arrays it may not need. */
    apr_array_header_t *env;
    /* Pre-rendered request headers for proxied applications: name,value,... */
    apr_array_header_t *headers;
    /* After decoding: the pairs' bytes inside the record (validated). */
    const char *pairs;
    apr_size_t pairs_len;
} tpo_session;

#define TPO_SESSION_PAIRS_ENV 1
#define TPO_SESSION_PAIRS_HEADERS 2

/* Call fn for every decoded pair of the kind asked for (env or headers), in
 * order, without allocating. */
void tpo_session_pairs_each(const tpo_session *s, int kind,
                            void (*fn)(void *baton, const char *name, const char *value),
                            void *baton);

/* The decoded pairs of one kind as a name,value array (allocates in p). */
apr_array_header_t *tpo_session_pairs(const tpo_session *s, int kind, apr_pool_t *p);

/* Encode into a fresh buffer in p. */
char *tpo_session_encode(apr_pool_t *p, const tpo_session *s, apr_size_t *len);

/* Decode buf (which must stay alive: strings point into it). Returns
 * APR_EINVAL on a bad magic, version, or truncated/inconsistent record. */
apr_status_t tpo_session_decode(apr_pool_t *p, const char *buf, apr_size_t len, tpo_session *out);

#endif
