/* SPDX-License-Identifier: Apache-2.0
 * Licensed under the Apache License, Version 2.0 (see LICENSE). */
/* Tokens for backends (mod_proxy locations): the gateway's own access token
 * from the client-credentials grant (RFC 6749 4.4), with a scope and an
 * audience/resource (RFC 8707) per location, kept in the session cache and
 * shared by every process and server that uses the cache; the user's
 * token and ID token as request headers. The pure parts: the grant's
 * parameters, the answer's checks, the cache key and record, and when a
 * cached token is used, renewed or replaced. The single flight around them
 * is in the glue (mod_tp_oauth_backend.c). */
#ifndef TPO_BACKEND_TOKEN_H
#define TPO_BACKEND_TOKEN_H

#include <apr_pools.h>
#include <apr_tables.h>
#include <apr_time.h>

/* Cache key prefixes (+ tpo_bt_key_hash): the token, the fetch lease, the
 * remembered failure. */
#define TPO_KEY_BT_TOKEN "gt:"
#define TPO_KEY_BT_LEASE "gl:"
#define TPO_KEY_BT_FAIL "gf:"

/* A gateway token as cached. */
typedef struct tpo_bt_token {
    const char *access_token;
    apr_time_t obtained;
    apr_time_t expires; /* absolute, > obtained */
} tpo_bt_token;

/* The client-credentials grant's parameters for tpo_token_request_build
 * (name/value pairs): grant_type, then scope, resource and audience when
 * set (NULL or ""). */
apr_array_header_t *tpo_bt_params(apr_pool_t *p, const char *scope, const char *resource,
                                  const char *audience);

/* What identifies one gateway token: base64url(SHA-256) of the provider,
 * its token endpoint, the client, and the location's scope, resource and
 * audience (scope words in any order and spacing give the same key). 43
 * characters; prefix it with TPO_KEY_BT_*. */
const char *tpo_bt_key_hash(apr_pool_t *p, const char *provider, const char *token_endpoint,
                            const char *client_id, const char *scope, const char *resource,
                            const char *audience);

/* Whether tok may go into "Authorization: Bearer <tok>": 1..TPO_BT_MAX_TOKEN
 * visible ASCII characters (0x21-0x7E), so no CR/LF, space or NUL from a
 * provider or a cache can split or extend the header. */
#define TPO_BT_MAX_TOKEN 16384
int tpo_bt_token_ok(const char *tok);

/* The cache record: "1 <obtained> <expires> <token>" (microseconds). */
const char *tpo_bt_encode(apr_pool_t *p, const tpo_bt_token *t, apr_size_t *len);
/* APR_SUCCESS, or APR_EINVAL for anything that is not such a record (with
 * a token tpo_bt_token_ok accepts). */
apr_status_t tpo_bt_decode(apr_pool_t *p, const char *val, apr_size_t len, tpo_bt_token *out);

typedef enum {
    TPO_BT_USE,   /* good: use it */
    TPO_BT_RENEW, /* in its renewal window, still usable: renew it if this request wins
                     the lease, else use it */
    TPO_BT_FETCH  /* absent or no longer usable: a new one is needed first */
} tpo_bt_decision;

/* When a token gets renewed: `before` ahead of its expiry, but not before
 * 3/4 of its lifetime (a short-lived token would else be fetched on every
 * request): one grant per token lifetime. */
apr_time_t tpo_bt_renew_at(const tpo_bt_token *t, apr_interval_time_t before);
/* Until when a token may still be sent: TPO_BT_MIN_REMAINING_S before its
 * expiry (the backend must still accept it), at most a quarter of its
 * lifetime before. */
apr_time_t tpo_bt_usable_until(const tpo_bt_token *t);
/* t NULL: absent. */
tpo_bt_decision tpo_bt_decide(const tpo_bt_token *t, apr_time_t now, apr_interval_time_t before);

typedef enum {
    TPO_BT_OK,      /* *out is a token */
    TPO_BT_REFUSED, /* the provider answered an error: *error (and *detail) say which */
    TPO_BT_BAD      /* an unusable answer: *detail says why (never the token) */
} tpo_bt_result;

/* Checks the token endpoint's answer to the client-credentials grant:
 * tpo_token_response_parse (every provider accent), then a Bearer (or
 * absent) token_type, a token tpo_bt_token_ok accepts, and a lifetime
 * (default_lifetime_s when the answer has none) longer than
 * TPO_BT_MIN_REMAINING_S. */
tpo_bt_result tpo_bt_response(apr_pool_t *p, const char *body, apr_size_t len, int http_status,
                              apr_time_t now, long default_lifetime_s, tpo_bt_token *out,
                              const char **error, const char **detail);

/* The payload of a JWT (the ID token) as compact JSON with non-ASCII
 * escaped (a header value), or NULL if it is not a JWS compact
 * serialization with a JSON object payload. */
const char *tpo_bt_jwt_payload_json(apr_pool_t *p, const char *jwt);

#endif
