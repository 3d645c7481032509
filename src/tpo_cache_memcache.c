/* SPDX-License-Identifier: Apache-2.0
 * Licensed under the Apache License, Version 2.0 (see LICENSE). */
/* memcached backend of the cache contract (see tpo_cache_memcache.h).
 *
 * Why not APR-util's apr_memcache: in apr-util 1.6 (Debian 12) it
 *  - sets the socket timeout back to "block forever" after connecting, so
 *    one hung server (SIGSTOP, a full network path) hangs every thread
 *    that touches it, with no way to set an I/O timeout through its API;
 *  - returns APR_NOTFOUND when no server is alive (a down cache would read
 *    as "no session" and start logins in a loop, LESSONS 7);
 *  - desynchronises a connection on a zero-length value (the data's CRLF
 *    is left unread and taken for the next reply);
 *  - probes a dead server only every 5 s, with a blocking ping under a lock.
 * So this file speaks the memcached text protocol itself (get, set, add,
 * delete: four commands), over the connection layer it shares with the
 * Redis backend (tpo_netconn.c: one deadline per operation, pooled idle
 * connections, a down server skipped and probed again, one retry on a
 * stale pooled connection).
 *
 * Keys map to servers by hash; when a key's server is down the next one up
 * is used (like apr_memcache and mod_socache_memcache), so with several
 * servers a dead one costs its share of entries, not a 503. While servers
 * flap, two processes can disagree on a key's server, so add() is atomic
 * per server only.
 *
 * A set() that memcached refuses as too large (above its -I item size)
 * returns APR_ENOSPC; memcached itself then drops the entry that the set
 * was to replace (it never serves data a failed set meant to overwrite).
 *
 * Expiry: memcached takes a relative number of seconds up to 30 days and an
 * absolute Unix time beyond; an expiry already reached is sent as -1
 * ("expired at once"), which keeps add()'s answer exact (EEXIST when a live
 * entry is there) while storing nothing readable.
 *
 * The process must ignore SIGPIPE (httpd does). */
#include <string.h>
#include <apr_strings.h>
#include "tpo_cache_memcache.h"
#include "tpo_netconn.h"

#define MC_DEFAULT_PORT 11211
#define MC_MAX_VALUE (16u * 1024 * 1024) /* refused above (set: ENOSPC; get: protocol error) */
#define MC_REL_MAX 2592000               /* 30 days: beyond, memcached wants absolute time */

typedef struct {
    tpo_cache pub;
    tpo_netpool *pool;
} mc_cache;

/* ------------------------------------------------------------ helpers */

/* memcached text-protocol keys: 1..250 bytes (ours: TPO_CACHE_MAX_KEY), no
 * space or control character. */
static int key_ok(const char *key, apr_size_t *klen)
{
    apr_size_t n;

    if (key == NULL)
        return 0;
    for (n = 0; key[n]; n++) {
        unsigned char ch = (unsigned char)key[n];
        if (n >= TPO_CACHE_MAX_KEY || ch <= 0x20 || ch == 0x7f)
            return 0;
    }
    *klen = n;
    return n > 0;
}

static long exptime(apr_time_t expiry)
{
    apr_time_t now = apr_time_now();
    apr_int64_t secs;

    if (expiry <= now)
        return -1;
    secs = (expiry - now + APR_USEC_PER_SEC - 1) / APR_USEC_PER_SEC;
    if (secs <= MC_REL_MAX)
        return (long)secs;
    secs = (expiry + APR_USEC_PER_SEC - 1) / APR_USEC_PER_SEC; /* absolute */
    return secs > 0x7fffffffL ? 0x7fffffffL : (long)secs;
}

static apr_uint32_t key_hash(const char *key, apr_size_t klen)
{
    apr_uint32_t h = 2166136261u; /* FNV-1a */
    apr_size_t i;

    for (i = 0; i < klen; i++) {
        h ^= (unsigned char)key[i];
        h *= 16777619u;
    }
    return h;
}

/* Strict unsigned decimal: digits only, no sign, no overflow past max. */
static int parse_uint(const char *s, apr_size_t n, apr_uint64_t max, apr_uint64_t *out)
{
    apr_uint64_t v = 0;
    apr_size_t i;

    if (n == 0 || n > 20)
        return 0;
    for (i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return 0;
        v = v * 10 + (apr_uint64_t)(s[i] - '0');
        if (v > max)
            return 0;
    }
    *out = v;
    return 1;
}

/* ------------------------------------------------------------ commands */

enum { OP_GET, OP_SET, OP_ADD, OP_DEL };

typedef struct {
    int kind;
    const char *key;
    apr_size_t klen;
    const void *val;
    apr_size_t vlen;
    long exptime;
    apr_pool_t *p;
    char **out;
    apr_size_t *outlen;
} mc_op;

/* "VALUE <key> <flags> <bytes>[ <cas>]" */
static apr_status_t parse_value_line(tpo_netconn *conn, const mc_op *op, char *line, apr_size_t len,
                                     apr_size_t *bytes)
{
    char *f[5];
    apr_size_t flen[5];
    int nf = 0;
    apr_size_t i = 0;
    apr_uint64_t v;

    while (i < len && nf < 5) {
        apr_size_t st = i;
        while (i < len && line[i] != ' ')
            i++;
        f[nf] = line + st;
        flen[nf++] = i - st;
        if (i < len)
            i++; /* the single space */
    }
    if (i < len || nf < 4 || flen[0] != 5 || memcmp(f[0], "VALUE", 5) != 0 || flen[1] != op->klen ||
        memcmp(f[1], op->key, op->klen) != 0 || !parse_uint(f[2], flen[2], 0xffffffffu, &v) ||
        (nf == 5 && !parse_uint(f[4], flen[4], APR_UINT64_MAX, &v))) {
        return tpo_netconn_proto_error(conn, "bad VALUE line");
    }
    if (!parse_uint(f[3], flen[3], MC_MAX_VALUE, &v)) {
        return tpo_netconn_proto_error(conn, "value length out of bounds");
    }
    *bytes = (apr_size_t)v;
    return APR_SUCCESS;
}

static int line_is(const char *line, apr_size_t len, const char *lit)
{
    apr_size_t n = strlen(lit);
    return len == n && memcmp(line, lit, n) == 0;
}

/* One command and its reply (a tpo_netconn_fn). */
static apr_status_t mc_exec(tpo_netconn *conn, void *baton)
{
    mc_op *op = baton;
    struct iovec v[6];
    char hdr[96];
    char *line;
    apr_size_t len;
    int n = 0;
    apr_status_t rv;

    switch (op->kind) {
    case OP_GET:
        v[n].iov_base = (void *)"get ";
        v[n++].iov_len = 4;
        break;
    case OP_SET:
        v[n].iov_base = (void *)"set ";
        v[n++].iov_len = 4;
        break;
    case OP_ADD:
        v[n].iov_base = (void *)"add ";
        v[n++].iov_len = 4;
        break;
    default:
        v[n].iov_base = (void *)"delete ";
        v[n++].iov_len = 7;
        break;
    }
    v[n].iov_base = (void *)op->key;
    v[n++].iov_len = op->klen;
    if (op->kind == OP_SET || op->kind == OP_ADD) {
        int h =
            apr_snprintf(hdr, sizeof(hdr), " 0 %ld %" APR_SIZE_T_FMT "\r\n", op->exptime, op->vlen);
        v[n].iov_base = hdr;
        v[n++].iov_len = (apr_size_t)h;
        v[n].iov_base = (void *)op->val;
        v[n++].iov_len = op->vlen;
    }
    v[n].iov_base = (void *)"\r\n";
    v[n++].iov_len = 2;
    rv = tpo_netconn_send(conn, v, n);
    if (rv != APR_SUCCESS)
        return rv;

    rv = tpo_netconn_line(conn, &line, &len);
    if (rv != APR_SUCCESS)
        return rv;

    switch (op->kind) {
    case OP_GET: {
        apr_size_t bytes = 0;
        char *buf, crlf[2];

        if (line_is(line, len, "END"))
            return APR_NOTFOUND;
        if (len < 6 || memcmp(line, "VALUE ", 6) != 0) {
            return tpo_netconn_proto_error(conn, "get");
        }
        rv = parse_value_line(conn, op, line, len, &bytes);
        if (rv != APR_SUCCESS)
            return rv;
        buf = apr_palloc(op->p, bytes + 1);
        rv = tpo_netconn_read(conn, buf, bytes);
        if (rv == APR_SUCCESS)
            rv = tpo_netconn_read(conn, crlf, 2);
        if (rv != APR_SUCCESS)
            return rv;
        if (crlf[0] != '\r' || crlf[1] != '\n') {
            return tpo_netconn_proto_error(conn, "data not CRLF-terminated");
        }
        rv = tpo_netconn_line(conn, &line, &len);
        if (rv != APR_SUCCESS)
            return rv;
        if (!line_is(line, len, "END"))
            return tpo_netconn_proto_error(conn, "no END after value");
        buf[bytes] = '\0';
        *op->out = buf;
        *op->outlen = bytes;
        return APR_SUCCESS;
    }
    case OP_SET:
    case OP_ADD:
        if (line_is(line, len, "STORED"))
            return APR_SUCCESS;
        if (op->kind == OP_ADD && line_is(line, len, "NOT_STORED"))
            return APR_EEXIST;
        if (line_is(line, len, "SERVER_ERROR object too large for cache")) {
            tpo_netconn_retire(conn); /* the server swallows the data; do not bet on it */
            return APR_ENOSPC;
        }
        return tpo_netconn_proto_error(conn, op->kind == OP_SET ? "set" : "add");
    default:
        if (line_is(line, len, "DELETED"))
            return APR_SUCCESS;
        if (line_is(line, len, "NOT_FOUND"))
            return APR_NOTFOUND;
        return tpo_netconn_proto_error(conn, "delete");
    }
}

static apr_status_t run(mc_cache *c, mc_op *op)
{
    return tpo_netpool_run(c->pool, key_hash(op->key, op->klen), mc_exec, op);
}

/* ------------------------------------------------------------ contract */

static apr_status_t mc_get(tpo_cache *tc, const char *key, apr_pool_t *p, char **val,
                           apr_size_t *vlen)
{
    mc_op op = {OP_GET, key, 0, NULL, 0, 0, p, val, vlen};

    if (!key_ok(key, &op.klen))
        return APR_NOTFOUND; /* can never have been stored */
    return run(tc->impl, &op);
}

static apr_status_t mc_store(tpo_cache *tc, int kind, const char *key, const void *val,
                             apr_size_t vlen, apr_time_t expiry)
{
    mc_op op = {kind, key, 0, val, vlen, 0, NULL, NULL, NULL};

    if (!key_ok(key, &op.klen) || (val == NULL && vlen > 0))
        return APR_EINVAL;
    if (vlen > MC_MAX_VALUE)
        return APR_ENOSPC;
    if (val == NULL)
        op.val = "";
    op.exptime = exptime(expiry);
    return run(tc->impl, &op);
}

static apr_status_t mc_set(tpo_cache *tc, const char *key, const void *val, apr_size_t vlen,
                           apr_time_t expiry)
{
    return mc_store(tc, OP_SET, key, val, vlen, expiry);
}

static apr_status_t mc_add(tpo_cache *tc, const char *key, const void *val, apr_size_t vlen,
                           apr_time_t expiry)
{
    return mc_store(tc, OP_ADD, key, val, vlen, expiry);
}

static apr_status_t mc_del(tpo_cache *tc, const char *key)
{
    mc_op op = {OP_DEL, key, 0, NULL, 0, 0, NULL, NULL, NULL};

    if (!key_ok(key, &op.klen))
        return APR_NOTFOUND;
    return run(tc->impl, &op);
}

static const tpo_cache_ops mc_ops = {"memcache", mc_get, mc_set, mc_add, mc_del};

apr_status_t tpo_memcache_cache_create(apr_pool_t *p, const char *servers,
                                       apr_interval_time_t timeout, tpo_cache **out,
                                       const char **err)
{
    tpo_netpool_conf conf = {"memcached", "unexpected reply", MC_DEFAULT_PORT, timeout, NULL, NULL};
    mc_cache *c = apr_pcalloc(p, sizeof(*c));
    apr_status_t rv;

    *out = NULL;
    rv = tpo_netpool_create(p, servers, &conf, &c->pool, err);
    if (rv != APR_SUCCESS)
        return rv;
    c->pub.ops = &mc_ops;
    c->pub.impl = c;
    *out = &c->pub;
    return APR_SUCCESS;
}
