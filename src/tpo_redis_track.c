/* SPDX-License-Identifier: Apache-2.0
 * Licensed under the Apache License, Version 2.0 (see LICENSE). */
/* Invalidation messages in RESP2 (see tpo_redis_track.h):
 *   *3 $9 subscribe $20 __redis__:invalidate :1
 *   *2 $4 pong $0 ""                       (PING while subscribed)
 *   *3 $7 message $20 __redis__:invalidate *N $k key ...   (N >= 0)
 *   *3 $7 message $20 __redis__:invalidate *-1              (flush) */
#include <string.h>
#include "tpo_redis_track.h"
#include "tpo_log.h"

static int is(const rs_reply *r, const char *word)
{
    apr_size_t n = strlen(word);

    return r->type == R_BULK && r->len == n && memcmp(r->bulk, word, n) == 0;
}

static apr_status_t read_keys(tpo_netconn *conn, apr_pool_t *scratch, const rs_reply *arr,
                              const tpo_redis_push_cb *cb)
{
    apr_int64_t i;

    for (i = 0; i < arr->num; i++) {
        rs_reply k;
        apr_status_t rv = tpo_resp_read(conn, scratch, &k);
        if (rv != APR_SUCCESS)
            return rv;
        if (k.type != R_BULK)
            return tpo_netconn_proto_error(conn, "invalidation message: a key is not a string");
        if (cb->key)
            cb->key(cb->baton, k.bulk, k.len);
    }
    return APR_SUCCESS;
}

apr_status_t tpo_redis_push_read(tpo_netconn *conn, apr_pool_t *scratch,
                                 const tpo_redis_push_cb *cb)
{
    rs_reply head, kind, chan, last;
    apr_status_t rv = tpo_resp_read(conn, NULL, &head);

    if (rv != APR_SUCCESS)
        return rv;
    if (head.type == R_ERROR)
        return tpo_resp_error(conn, "SUBSCRIBE", &head);
    if (head.type != R_ARRAY || head.num < 2 || head.num > 3)
        return tpo_netconn_proto_error(conn, "subscribed connection: not a message");
    if ((rv = tpo_resp_read(conn, NULL, &kind)) != APR_SUCCESS)
        return rv;
    if (head.num == 2) {
        if (!is(&kind, "pong"))
            return tpo_netconn_proto_error(conn, "subscribed connection: unknown message");
        if ((rv = tpo_resp_read(conn, NULL, &last)) != APR_SUCCESS)
            return rv;
        if (last.type != R_BULK)
            return tpo_netconn_proto_error(conn, "subscribed connection: bad pong");
        if (cb->pong)
            cb->pong(cb->baton);
        return APR_SUCCESS;
    }
    if ((rv = tpo_resp_read(conn, NULL, &chan)) != APR_SUCCESS)
        return rv;
    if (!is(&chan, TPO_REDIS_INVALIDATE))
        return tpo_netconn_proto_error(conn, "subscribed connection: another channel");
    if (is(&kind, "subscribe")) {
        if ((rv = tpo_resp_read(conn, NULL, &last)) != APR_SUCCESS)
            return rv;
        if (last.type != R_INT || last.num != 1)
            return tpo_netconn_proto_error(conn, "subscribed connection: bad subscribe count");
        if (cb->subscribed)
            cb->subscribed(cb->baton);
        return APR_SUCCESS;
    }
    if (!is(&kind, "message"))
        return tpo_netconn_proto_error(conn, "subscribed connection: unknown message");
    if ((rv = tpo_resp_read(conn, scratch, &last)) != APR_SUCCESS)
        return rv;
    if (last.type == R_NIL || (last.type == R_ARRAY && last.num < 0)) {
        if (cb->flush)
            cb->flush(cb->baton);
        return APR_SUCCESS;
    }
    if (last.type == R_BULK) { /* a single key */
        if (cb->key)
            cb->key(cb->baton, last.bulk, last.len);
        return APR_SUCCESS;
    }
    if (last.type != R_ARRAY)
        return tpo_netconn_proto_error(conn, "invalidation message: no keys");
    return read_keys(conn, scratch, &last, cb);
}
