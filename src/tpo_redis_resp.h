/* SPDX-License-Identifier: Apache-2.0
 * Licensed under the Apache License, Version 2.0 (see LICENSE). */
/* RESP2, the Redis protocol, over a pooled connection (tpo_netconn.h):
 * commands out, replies in, every reply bounded (size, nesting, elements).
 * Used by the Redis cache backend (tpo_cache_redis.c) only. */
#ifndef TPO_REDIS_RESP_H
#define TPO_REDIS_RESP_H

#include <apr_pools.h>
#include "tpo_netconn.h"

#define RS_MAX_BULK (16u * 1024 * 1024) /* largest value read or written */
#define RS_MAX_ARGS 6
#define RS_MAX_NEST 4 /* arrays in arrays (ROLE) */
#define RS_MAX_ELEMS 4096

/* A parsed reply. */
enum { R_SIMPLE, R_ERROR, R_INT, R_BULK, R_NIL, R_ARRAY };
typedef struct {
    int type;
    apr_int64_t num; /* R_INT; R_ARRAY: the number of elements (-1: nil) */
    char word[32];   /* R_SIMPLE: the status; R_ERROR: the error code only */
    char *bulk;      /* R_BULK, in the caller's pool or in small */
    apr_size_t len;
    char small[256]; /* short bulk strings when there is no pool */
} rs_reply;

/* Send one command: argc arguments (argv[i] of argl[i] bytes), at most
 * RS_MAX_ARGS. */
apr_status_t tpo_resp_send(tpo_netconn *conn, int argc, const void *const *argv,
                           const apr_size_t *argl);
/* A decimal integer of exactly n bytes (a sign only with allow_neg): 1 and
 * *out, or 0. */
int tpo_resp_parse_int(const char *s, apr_size_t n, int allow_neg, apr_int64_t *out);
/* The first word of s[0..n) into out (NUL-terminated, cut at outsz - 1). */
void tpo_resp_first_word(const char *s, apr_size_t n, char *out, apr_size_t outsz);
/* Read one reply's head (an array's elements are read by the caller); bulk
 * strings into p, or into r->small when p is NULL and they fit. */
apr_status_t tpo_resp_read(tpo_netconn *conn, apr_pool_t *p, rs_reply *r);
/* Read and drop the elements of array reply r (nested up to RS_MAX_NEST). */
apr_status_t tpo_resp_skip(tpo_netconn *conn, const rs_reply *r, int depth);
/* An error reply to cmd: logged; the connection is not reused. */
apr_status_t tpo_resp_error(tpo_netconn *conn, const char *cmd, const rs_reply *r);

#endif
