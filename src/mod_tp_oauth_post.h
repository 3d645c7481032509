/* SPDX-License-Identifier: Apache-2.0
 * Licensed under the Apache License, Version 2.0 (see LICENSE). */
/* Layer 2 (services): a form POST kept across a login (TPOAuthPreservePost,
 * mod_tp_oauth_post.c; the core is src/tpo_post.c). A navigation POST that
 * needs a login is read (bounded), kept server-side under a random id that
 * the pending login carries, and after the login the callback answers with
 * a page whose form posts only TPO_POST_FIELD=<id> back to the same URL;
 * that request, now with the session, gets the kept bytes and Content-Type
 * in place of its body (an input filter), once. Nothing here writes a
 * response. */
#ifndef MOD_TP_OAUTH_POST_H
#define MOD_TP_OAUTH_POST_H

#include "mod_tp_oauth_session.h"

/* The store of kept POSTs: with the shared-memory cache its own segment
 * (anonymous requests never push sessions out), with a distributed cache
 * that cache (encrypted like the sessions). NULL: no location keeps POSTs. */
extern tpo_cache *tpa_post_cache;

/* The id of the POST kept for this request's login (tpa_login_start puts it
 * into the pending login). */
#define TPO_NOTE_POST_ID "tpo-post-id"
/* Cache keys: + the id */
#define TPO_KEY_POST "pp:"
/* The input filter that hands the kept body to the application. */
#define TPA_POST_FILTER "TPO_KEPT_POST"

typedef enum {
    TPA_POST_NONE,  /* not a POST to keep: go on as without TPOAuthPreservePost */
    TPA_POST_KEPT,  /* kept: its id is in the note TPO_NOTE_POST_ID, start the login */
    TPA_POST_FAILED /* *fail describes the answer (413, 400, 503) */
} tpa_post_result;

/* A request without a session on a location whose TPOAuthPreservePost is
 * `limit` (> 0) bytes. */
tpa_post_result tpa_post_keep(request_rec *r, tpa_provider_conf *pc, long limit, tpa_answer *fail);

/* At the callback of a login that kept POST `id`, once session sid is
 * open: binds the kept POST to that session and describes the replay page
 * (*html, and *csp its Content-Security-Policy). Any other status: the
 * POST is gone (expired, evicted, the store failed; logged), the caller
 * redirects as without it. */
apr_status_t tpa_post_resume(request_rec *r, tpa_provider_conf *pc, const char *id, const char *sid,
                             const char **html, const char **csp);

/* A POST with a session on a location that keeps POSTs: when its body is a
 * replay (TPO_POST_FIELD=<id>), the kept POST of this session and URL
 * takes its place (one use). OK: go on (the body is the kept one, or the
 * request's own, untouched); else a status with *fail (400: unknown,
 * already replayed or not this session's; 503: store down). */
int tpa_post_replay(request_rec *r, tpa_answer *fail);

/* The input filter TPA_POST_FILTER (registered by the module). */
apr_status_t tpa_post_body_filter(ap_filter_t *f, apr_bucket_brigade *bb, ap_input_mode_t mode,
                                  apr_read_type_e block, apr_off_t readbytes);

#endif
