/* SPDX-License-Identifier: Apache-2.0
 * Licensed under the Apache License, Version 2.0 (see LICENSE). */
/* Layer 2 (services): the session service (mod_tp_oauth_session.c): the
 * caches and their keys, the request's state, and every read and write of a
 * session record. Nothing here writes a response. */
#ifndef MOD_TP_OAUTH_SESSION_H
#define MOD_TP_OAUTH_SESSION_H

#include "mod_tp_oauth_page.h"

/* The caches, created by the parent in post_config (inherited by children). */
extern tpo_cache *tpa_session_cache;
extern tpo_cache *tpa_pending_cache; /* consumed-state markers */
/* The distributed cache itself when a local tier is in front of it (for
 * the reads of read-modify-writes), else NULL. */
extern tpo_cache *tpa_session_cache_fresh;
/* The key login cookies are sealed with (TPOAuthLoginCookieKeyFile, or
 * random per server start), set in post_config. */
extern struct tpo_pending_key tpa_login_key;
/* mod_tp_oauth_session_caches.c: post_config (the shared-memory caches, the
 * login-cookie key, the distributed cache's keys; OK or a status for the
 * hook) and child_init (a distributed cache's connections). */
int tpa_session_caches_post_config(server_rec *s, apr_pool_t *ptemp);
void tpa_session_caches_child_init(apr_pool_t *pchild, server_rec *s);
/* A shared-memory cache kept in the process pool across restarts (tag names
 * it; re-created only when its size changes). */
apr_status_t tpa_session_cache_shm(server_rec *s, const char *tag, apr_size_t bytes,
                                   apr_size_t entries, tpo_cache **out);
/* mod_tp_oauth_local_tier.c: the local tier in front of a distributed cache
 * (TPOAuthSessionCacheLocal): its shared memory and, with Redis, its
 * invalidation subscriber (post_config); the wrapper around the encrypting
 * cache (child_init; returns crypt itself when the tier is off). */
int tpa_local_tier_post_config(server_rec *s, apr_pool_t *pconf);
tpo_cache *tpa_local_tier_wrap(apr_pool_t *pchild, server_rec *s, tpo_cache *crypt);
/* A rate-limited warning when the shared-memory cache evicts sessions. */
void tpa_session_cache_note_pressure(request_rec *r);

/* Keys in the caches */
#define TPO_KEY_SESSION "s:"
#define TPO_KEY_CONSUMED "sc:" /* + state: the callback took this login (one use) */
#define TPO_KEY_REFRESH_LOCK "rl:"
#define TPO_KEY_REFRESH_FAIL "rf:"
#define TPO_KEY_REFRESH_NOTE "rn:" /* the failure answers of this window are logged */

/* Refresh timing (TPO_REFRESH_RETRY_AFTER_MAX, TPO_REFRESH_MARGIN_MS) and
 * the other fixed values are in tpo_defaults.h. */
#define TPO_SESSION_GRACE apr_time_from_sec(TPO_SESSION_GRACE_S)

/* The request's state (what the application sees, for authz and info). */
struct tpo_session;
typedef struct tpa_req {
    const char *sid;             /* the session id from the cookie (when valid) */
    struct tpo_session *session; /* the request's session, when authenticated */
    tpa_provider_conf *pc;
    struct json_t *claims; /* parsed lazily (authz rules, info) */
} tpa_req;
tpa_req *tpa_req_get(request_rec *r);
struct json_t *tpa_req_claims(request_rec *r);

/* The session of the request's cookie (the hot path: one cache lookup). */
typedef enum { TPA_SESS_NONE, TPA_SESS_OK, TPA_SESS_ENDED, TPA_SESS_CACHE_DOWN } tpa_sess_result;
tpa_sess_result tpa_session_load(request_rec *r, tpa_provider_conf *pc, struct tpo_session *s);
/* The current record of session sid (NULL with *rv on failure). */
struct tpo_session *tpa_session_reload(request_rec *r, const char *sid, apr_status_t *rv);
/* The session's lock: every writer of a session record holds it (so that
 * no writer puts back a copy another has just replaced). APR_SUCCESS: taken
 * (until `until` at the latest); APR_EEXIST: someone holds it. */
apr_status_t tpa_session_lock(request_rec *r, const char *sid, apr_time_t until);
void tpa_session_unlock(request_rec *r, const char *sid);
/* Writes session sid's record (the caller holds the lock). */
apr_status_t tpa_session_store(request_rec *r, const char *sid, const struct tpo_session *s);
/* Removes session sid's record (the caller holds the lock). */
void tpa_session_remove(request_rec *r, const char *sid);
/* Record activity (under the session's lock; skipped when it is busy). */
void tpa_session_touch(request_rec *r, tpa_provider_conf *pc, const char *sid);
/* End a session (under its lock, bounded wait). */
void tpa_session_delete(request_rec *r, tpa_provider_conf *pc, const char *sid);
/* Stores a new session under a fresh id (*sid); *rec_len is the record's
 * size. APR_EGENERAL: no randomness; APR_ENOSPC: the record does not fit;
 * else the cache's status. */
apr_status_t tpa_session_create(request_rec *r, const struct tpo_session *s, const char **sid,
                                apr_size_t *rec_len);
/* Marks a login's state as used (one use, until `until`): APR_EEXIST when it
 * already was. */
apr_status_t tpa_login_consume(request_rec *r, const char *state, apr_time_t until);
/* The variables and headers the application will see, rendered once. */
void tpa_session_render(apr_pool_t *p, tpa_provider_conf *pc, struct tpo_session *s,
                        struct json_t *claims);

/* mod_tp_oauth_session_index.c: the index from a user (sub) and from a
 * provider session (sid) to every session (src/tpo_session_index.c), in the
 * session cache: written at login, kept at the activity mark, read to end
 * every session of a user or of a provider session. */
/* After a login stored session sid: record it under its sub and its sid.
 * A failure is logged; the caller must not hand out the session then (it
 * could not be ended by a logout elsewhere). */
apr_status_t tpa_session_index_note(request_rec *r, tpa_provider_conf *pc, const char *sid,
                                    const struct tpo_session *s);

/* At a session's activity mark: keep its index entries (re-adding them when
 * the index was evicted). Best effort. */
void tpa_session_index_keep(request_rec *r, tpa_provider_conf *pc, const char *sid,
                            const struct tpo_session *s);

/* A public name of a session (for the admin handler): not its id, which is
 * the cookie's secret. */
const char *tpa_session_handle(apr_pool_t *p, const char *sid);

typedef struct tpa_listed_session {
    const char *sid; /* never shown */
    const char *handle;
    struct tpo_session *session;
} tpa_listed_session;

/* The live sessions of user sub (array of tpa_listed_session). */
apr_status_t tpa_sessions_list(request_rec *r, tpa_provider_conf *pc, const char *sub,
                               apr_array_header_t **out);

/* End every session of sub (when not NULL) and of the provider session
 * op_sid (when not NULL; with sub too, only those of sub). *ended counts
 * the sessions ended. A cache failure returns its status. */
apr_status_t tpa_sessions_end(request_rec *r, tpa_provider_conf *pc, const char *sub,
                              const char *op_sid, int *ended);

/* End the session of sub whose handle is `handle`. */
apr_status_t tpa_sessions_end_one(request_rec *r, tpa_provider_conf *pc, const char *sub,
                                  const char *handle, int *ended);

#endif
