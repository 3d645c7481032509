/* SPDX-License-Identifier: Apache-2.0
 * Licensed under the Apache License, Version 2.0 (see LICENSE). */
/* The login cookie: a pending login sealed with AES-256-GCM under a key
 * derived from the server's secret, one cookie per login in progress, named
 * "<cookie name>_login_<tag>" where <tag> is a short hash of the state.
 *
 * Value: base64url( 0x01 | IV (12 random bytes) | ciphertext | GCM tag (16) ),
 * the version byte, a fixed label and the provider binding (a hash of the
 * provider's issuer, client_id and redirect URI, see tpo_pending_binding_make)
 * authenticated as associated data. A cookie altered, cut short, sealed under
 * another key, for another provider configuration or for another state does
 * not open. Per browser the cookies of all the providers of a host are
 * bounded together in bytes, each provider's in number: the oldest (and any
 * that do not open) are dropped first. */
#ifndef TPO_PENDING_COOKIE_H
#define TPO_PENDING_COOKIE_H

#include <apr_pools.h>
#include <apr_tables.h>
#include "tpo_pending.h"

#define TPO_PENDING_KEY_LEN 32
#define TPO_PENDING_SECRET_MIN 32 /* bytes of a configured secret at least */
#define TPO_PENDING_SECRET_MAX 4096
#define TPO_PENDING_TAG_LEN 8 /* characters of the cookie-name suffix */
/* A return URL longer than this is not kept (the login returns to "/"), so
 * one login cookie stays small next to the host's byte budget below. */
#define TPO_PENDING_RETURN_URL_MAX 512
/* All login cookies of all the providers of a host together (names and
 * values), so that the Cookie header stays far below httpd's 8190-byte
 * field limit (LimitRequestFieldSize) with the application's own cookies. */
#define TPO_PENDING_COOKIES_MAX_BYTES 4096
/* The browser keeps a login cookie this much longer than the login lives,
 * so a late callback is told "expired" rather than "unknown". */
#define TPO_PENDING_COOKIE_GRACE_SEC 60

typedef struct tpo_pending_key {
    unsigned char k[TPO_PENDING_KEY_LEN];
} tpo_pending_key;

/* What a login cookie is bound to besides the key: SHA-256 over the
 * provider's issuer (or discovery URL, or authorization endpoint), its
 * client_id, its redirect URI as configured and, for a relative redirect
 * URI, the virtual host's name. A cookie sealed for one binding does not
 * open under another. */
typedef struct tpo_pending_binding {
    unsigned char b[32];
} tpo_pending_binding;

/* Any argument may be NULL (it is hashed as absent, distinct from ""). */
apr_status_t tpo_pending_binding_make(const char *issuer, const char *client_id,
                                      const char *redirect_uri, const char *server_name,
                                      tpo_pending_binding *out);

/* NULL when a key file's content is fit to derive the key from, else why not.
 * Besides its length (TPO_PENDING_SECRET_MIN..MAX bytes), content that looks
 * like a passphrase (all printable, a final newline aside, and shorter than
 * TPO_PENDING_SECRET_TEXT_MIN) is refused: it could be guessed offline from
 * any login cookie. */
#define TPO_PENDING_SECRET_TEXT_MIN 43
const char *tpo_pending_secret_problem(const unsigned char *buf, apr_size_t len);

/* HKDF-SHA256 of a secret (>= TPO_PENDING_SECRET_MIN bytes) with its own label. */
apr_status_t tpo_pending_key_derive(const void *secret, apr_size_t len, tpo_pending_key *key);
/* A random key (valid until the server stops). */
apr_status_t tpo_pending_key_random(tpo_pending_key *key);

/* The sealed cookie value, or NULL (randomness or OpenSSL failure). */
char *tpo_pending_seal(apr_pool_t *p, const tpo_pending_key *key, const tpo_pending_binding *bind,
                       const tpo_pending *pl);
/* APR_EINVAL when the value does not open (tampered, truncated, other key,
 * other binding, bad record). Does not check expiry or state: see
 * tpo_pending_find(). */
apr_status_t tpo_pending_open(apr_pool_t *p, const tpo_pending_key *key,
                              const tpo_pending_binding *bind, const char *val, apr_size_t vlen,
                              tpo_pending *out);

/* "<base>_login_<tag>" for this state. */
char *tpo_pending_cookie_name(apr_pool_t *p, const char *base, const char *state);

typedef enum {
    TPO_PENDING_OK = 0,
    TPO_PENDING_NO_COOKIE,      /* this browser has no login cookie for the state */
    TPO_PENDING_BAD_COOKIE,     /* it does not open (tampered, other key, truncated) */
    TPO_PENDING_OTHER_STATE,    /* it opens but holds another state */
    TPO_PENDING_OTHER_PROVIDER, /* started for another provider */
    TPO_PENDING_EXPIRED         /* older than the login timeout */
} tpo_pending_result;

/* The pending login for `state` in a Cookie header, checked: it must be in
 * this browser's cookie, open, hold this state and provider and not be
 * expired at `now`. *cookie_name is set whenever the state is well formed
 * (the caller deletes that cookie). Nothing on the server is touched. */
tpo_pending_result tpo_pending_find(apr_pool_t *p, const tpo_pending_key *key,
                                    const tpo_pending_binding *bind, const char *header,
                                    const char *base, const char *state, const char *provider,
                                    apr_time_t now, tpo_pending *out, const char **cookie_name);
const char *tpo_pending_result_text(tpo_pending_result res);

/* One provider of the host whose login cookies are counted: its cookie name
 * (several providers may share one), its binding, whether it is the provider
 * starting the login, and the caller's handle (to delete a cookie with the
 * right attributes). */
typedef struct tpo_pending_base {
    const char *name;
    const tpo_pending_binding *bind;
    int own;
    const void *ctx;
} tpo_pending_base;

typedef struct tpo_pending_slot {
    const char *name;
    apr_size_t size;    /* bytes of name=value */
    apr_time_t created; /* 0 when it does not open or has expired */
    int own;            /* of the provider starting the login */
    const void *ctx;    /* the base it opened under (else the first of its name) */
    int drop;           /* 0, or why it goes: TPO_PENDING_DROP_* */
} tpo_pending_slot;

#define TPO_PENDING_DROP_UNUSABLE 1
#define TPO_PENDING_DROP_COUNT 2
#define TPO_PENDING_DROP_SIZE 3

/* The login cookies of all the given bases in a Cookie header (each name
 * once; at most 64), opened to learn their age. Array of tpo_pending_slot. */
apr_array_header_t *tpo_pending_cookies(apr_pool_t *p, const tpo_pending_key *key,
                                        const char *header, const tpo_pending_base *bases,
                                        int nbases, apr_time_t now);

typedef struct tpo_pending_trim_stats {
    int unusable; /* did not open or expired */
    int count;    /* oldest of the own provider beyond `max` */
    int size;     /* oldest of all beyond `max_bytes` */
} tpo_pending_trim_stats;

/* Marks slots to drop, unusable ones first, then the oldest, until one new
 * cookie of new_size fits: at most `max` cookies of the own provider, and
 * `max_bytes` for all of them together. Returns how many are marked; *st
 * (may be NULL) says why. */
int tpo_pending_cookies_trim(apr_array_header_t *slots, int max, apr_size_t new_size,
                             apr_size_t max_bytes, tpo_pending_trim_stats *st);

#endif
