/* SPDX-License-Identifier: Apache-2.0
 * Licensed under the Apache License, Version 2.0 (see LICENSE). */
/* The session index: from a user (the ID token's "sub") and from the
 * provider's session (its "sid") to every session of ours that belongs to it
 * (several browsers and devices), so that a back-channel logout, a
 * front-channel logout or an administrator can end all of them.
 *
 * One index record per (provider, kind, value) in the session cache, under a
 * key that is a hash of the three (a sub or sid of any length and content
 * makes a fixed-size key that tells the cache nothing). The record is a short
 * list of entries (session id, created, expires). It is changed only under a
 * per-record lock built from the cache's atomic add() (a short lease, so a
 * crashed holder cannot block it longer): no global lock, two users never
 * wait for each other, and every server sharing a distributed cache sees the
 * same index.
 *
 * Consistency: a session that ends (logout, expiry, inactivity, eviction)
 * leaves its entry behind; such a stale entry names no session and is
 * harmless (ending a gone session is a no-op). Entries are pruned lazily:
 * expired ones at every update; ones whose session record is gone when the
 * record is full, and when it is listed. The record is bounded: when it is
 * still full after pruning, the oldest entry is dropped and returned to the
 * caller, which ends that session (a user's sessions are bounded).
 *
 * Plain C on the cache interface (tpo_cache.h): unit-tested with the
 * shared-memory backend, used by the glue with every backend. */
#ifndef TPO_SESSION_INDEX_H
#define TPO_SESSION_INDEX_H

#include <apr_pools.h>
#include <apr_tables.h>
#include <apr_time.h>
#include <apr_errno.h>
#include "tpo_cache.h"

#define TPO_SIDX_SUB 'u' /* index of a user (sub) */
#define TPO_SIDX_SID 'p' /* index of a provider session (sid) */

/* Longest session id an entry holds. */
#define TPO_SIDX_MAX_ID 64

typedef struct tpo_sidx_entry {
    const char *id; /* our session id (the cookie value: a secret, never shown) */
    apr_time_t created;
    apr_time_t expires; /* the session's end (its maximum lifetime) */
} tpo_sidx_entry;

/* How the index finds out whether a session still exists: the key of a
 * session record is session_prefix + id. */
typedef struct tpo_sidx {
    tpo_cache *cache;
    const char *session_prefix; /* e.g. "s:" */
    int max_entries;            /* per record (>= 1) */
    apr_interval_time_t lease;  /* lock lease; the wait for a busy lock is a little longer */
} tpo_sidx;

/* The cache key of an index record: "x<kind>:" + base64url(SHA-256(provider
 * NUL value)). NULL when value is NULL or empty. */
const char *tpo_sidx_key(apr_pool_t *p, char kind, const char *provider, const char *value);

/* Record session `id` (created, expires) in the index record `ikey`. Prunes
 * expired entries (relative to now); when the record is full, entries whose
 * session is gone; when still full, drops the oldest, returned in *dropped
 * (its id, for the caller to end; NULL when none). An entry for the same id
 * is replaced. APR_TIMEUP when the record's lock stayed busy; a cache error
 * otherwise. */
apr_status_t tpo_sidx_add(const tpo_sidx *x, apr_pool_t *p, const char *ikey, const char *id,
                          apr_time_t created, apr_time_t expires, apr_time_t now,
                          const char **dropped);

/* Make sure ikey names session id: a read of the record (which also keeps it
 * recently used in an LRU cache), and only when the entry is missing (the
 * record was evicted or lost) an add. For the periodic activity mark of a
 * session, so that an evicted index heals itself. */
apr_status_t tpo_sidx_ensure(const tpo_sidx *x, apr_pool_t *p, const char *ikey, const char *id,
                             apr_time_t created, apr_time_t expires, apr_time_t now,
                             const char **dropped);

/* The live entries of ikey (array of tpo_sidx_entry; empty when there is no
 * record). Entries whose session is gone or expired are left out, and the
 * record is rewritten without them (under its lock; skipped when busy). */
apr_status_t tpo_sidx_list(const tpo_sidx *x, apr_pool_t *p, const char *ikey, apr_time_t now,
                           apr_array_header_t **entries);

/* Take the whole record (under its lock: read and delete), for ending every
 * session it names: all entries, stale ones included (ending a gone session
 * is harmless). A session created after this returns starts a new record. */
apr_status_t tpo_sidx_take(const tpo_sidx *x, apr_pool_t *p, const char *ikey,
                           apr_array_header_t **entries);

/* Remove the entry for id, when present (under the lock). */
apr_status_t tpo_sidx_remove(const tpo_sidx *x, apr_pool_t *p, const char *ikey, const char *id);

/* Codec (exposed for tests and fuzzing): "TPX" version 1, one field per
 * entry: tag 1, created(8) expires(8) id NUL. Decoding rejects a bad magic,
 * a truncated record, an empty or over-long id; unknown tags are skipped. */
char *tpo_sidx_encode(apr_pool_t *p, const apr_array_header_t *entries, apr_size_t *len);
apr_status_t tpo_sidx_decode(apr_pool_t *p, const char *buf, apr_size_t len,
                             apr_array_header_t **entries);

#endif
