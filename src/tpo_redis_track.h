/* SPDX-License-Identifier: Apache-2.0
 * Licensed under the Apache License, Version 2.0 (see LICENSE). */
/* The messages of a RESP2 connection subscribed to Redis's invalidation
 * channel (server-assisted client-side caching, CLIENT TRACKING ... REDIRECT
 * to itself): parsed as hostile input, bounded like every reply
 * (tpo_redis_resp.c). Used by the local tier's subscriber. */
#ifndef TPO_REDIS_TRACK_H
#define TPO_REDIS_TRACK_H

#include "tpo_redis_resp.h"

#define TPO_REDIS_INVALIDATE "__redis__:invalidate"

typedef struct tpo_redis_push_cb {
    void (*subscribed)(void *baton);                            /* SUBSCRIBE acknowledged */
    void (*pong)(void *baton);                                  /* the keep-alive's answer */
    void (*key)(void *baton, const char *name, apr_size_t len); /* one key invalidated */
    void (*flush)(void *baton);                                 /* every key invalidated */
    void *baton;
} tpo_redis_push_cb;

/* Read one message (after SUBSCRIBE): a subscribe acknowledgement, a PING
 * answer or an invalidation message (an array of keys, or nil: all keys),
 * calling cb for it. Key names are read into scratch (the caller clears it
 * between messages; each at most RS_MAX_BULK bytes, at most RS_MAX_ELEMS of
 * them). Anything else, a message of another channel included, is a
 * protocol error: the connection must be dropped (and the tier emptied). */
apr_status_t tpo_redis_push_read(tpo_netconn *conn, apr_pool_t *scratch,
                                 const tpo_redis_push_cb *cb);

#endif
