/* SPDX-License-Identifier: Apache-2.0
 * Licensed under the Apache License, Version 2.0 (see LICENSE). */
/* Session service: the index of every session of a user (sub) and of a
 * provider session (sid), mod_tp_oauth_session_index.c. */
#ifndef MOD_TP_OAUTH_SESSION_INDEX_H
#define MOD_TP_OAUTH_SESSION_INDEX_H

#include <apr_tables.h>

struct tpo_session;

/* After a login stored session sid: record it under its sub and its sid.
 * A failure is logged; the caller must not hand out the session then (it
 * could not be ended by a logout elsewhere). */
apr_status_t tpo_session_index_note(request_rec *r, tpo_provider_conf *pc, const char *sid,
                                    const struct tpo_session *s);

/* At a session's activity mark: keep its index entries (re-adding them when
 * the index was evicted). Best effort. */
void tpo_session_index_keep(request_rec *r, tpo_provider_conf *pc, const char *sid,
                            const struct tpo_session *s);

/* A public name of a session (for the admin handler): not its id, which is
 * the cookie's secret. */
const char *tpo_session_handle(apr_pool_t *p, const char *sid);

typedef struct tpo_listed_session {
    const char *sid; /* never shown */
    const char *handle;
    struct tpo_session *session;
} tpo_listed_session;

/* The live sessions of user sub (array of tpo_listed_session). */
apr_status_t tpo_sessions_list(request_rec *r, tpo_provider_conf *pc, const char *sub,
                               apr_array_header_t **out);

/* End every session of sub (when not NULL) and of the provider session
 * op_sid (when not NULL; with sub too, only those of sub). *ended counts
 * the sessions ended. A cache failure returns its status. */
apr_status_t tpo_sessions_end(request_rec *r, tpo_provider_conf *pc, const char *sub,
                              const char *op_sid, int *ended);

/* End the session of sub whose handle is `handle`. */
apr_status_t tpo_sessions_end_one(request_rec *r, tpo_provider_conf *pc, const char *sub,
                                  const char *handle, int *ended);

/* Drop sid from sub's index record (best effort). */
void tpo_sidx_remove_quiet(request_rec *r, tpo_provider_conf *pc, const char *sub, const char *sid);

#endif
