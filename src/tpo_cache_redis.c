/* SPDX-License-Identifier: Apache-2.0
 * Licensed under the Apache License, Version 2.0 (see LICENSE). */
/* Redis backend of the cache contract (see tpo_cache_redis.h), with a RESP2
 * client of its own: APR-util's apr_redis has neither SET NX nor AUTH, and
 * hiredis brings no timeout-bounded connection pool.
 *
 * Commands: AUTH <password> (once per connection, right after connect),
 * GET k, SET k v PX ms, SET k v NX PX ms (add: a nil reply is APR_EEXIST),
 * DEL k (":0" is APR_NOTFOUND). Keys and values go as bulk strings, so
 * values are binary-safe.
 *
 * Replies are parsed strictly: a reply line is at most 1 KiB (tpo_netconn),
 * lengths are plain decimal without overflow, a bulk string is at most
 * RS_MAX_BULK bytes and must end in CRLF, and each command accepts only the
 * reply types it can produce. Anything else is a protocol error: the
 * connection is closed and the operation fails (never APR_NOTFOUND).
 *
 * Connections: the layer shared with the memcached backend (tpo_netconn.c:
 * one deadline per operation bounds connect, AUTH, send and receive
 * together; pooled idle connections; a connection that saw an error of any
 * kind (I/O, protocol, an error reply) is closed, never put back; a down
 * server is skipped and probed again; one retry on a stale pooled
 * connection). Here:
 *  - servers are tried in the order given; new connections always go to
 *    the first server that is up, so after a fail-back the connections to
 *    a fail-over server just age out of the idle list;
 *  - a rejected AUTH is not "server down" (the next server would say the
 *    same): the operation fails with APR_EACCES, logged once per 10 s.
 *
 * Expiry: PX with the milliseconds left, rounded up. A set() whose expiry
 * has already passed is a DEL (the entry it replaces is gone); such an add()
 * is sent as NX PX 1, which keeps its answer exact (EEXIST when a live entry
 * is there) while storing nothing that stays readable beyond 1 ms. (PXAT
 * would be exact but needs Redis 6.2.)
 *
 * The process must ignore SIGPIPE (httpd does). */
#include <string.h>
#include <apr_strings.h>
#include "tpo_cache_redis.h"
#include "tpo_netconn.h"
#include "tpo_log.h"

#define RS_DEFAULT_PORT 6379
#define RS_MAX_BULK (16u * 1024 * 1024) /* largest value read or written */
#define RS_AUTH_LOG_EVERY apr_time_from_sec(10)
#define RS_MAX_ARGS 6

typedef struct {
    tpo_cache pub;
    tpo_netpool *pool;
    const char *password; /* NULL: no AUTH */
    apr_size_t pwlen;
} rs_cache;

/* A parsed reply. */
enum { R_SIMPLE, R_ERROR, R_INT, R_BULK, R_NIL };
typedef struct {
    int type;
    apr_int64_t num;
    char word[32]; /* R_SIMPLE: the status; R_ERROR: the error code only */
    char *bulk;    /* R_BULK, allocated in the caller's pool */
    apr_size_t len;
} rs_reply;

/* ------------------------------------------------------------ helpers */


/* Send one command as a RESP array of bulk strings. */
static apr_status_t send_cmd(tpo_netconn *conn, int argc, const void *const *argv,
                             const apr_size_t *argl)
{
    struct iovec v[1 + 3 * RS_MAX_ARGS];
    char hdr[RS_MAX_ARGS + 1][24];
    int i, n = 0;

    v[n].iov_base = hdr[0];
    v[n++].iov_len = (apr_size_t)apr_snprintf(hdr[0], sizeof(hdr[0]), "*%d\r\n", argc);
    for (i = 0; i < argc; i++) {
        v[n].iov_base = hdr[i + 1];
        v[n++].iov_len = (apr_size_t)apr_snprintf(hdr[i + 1], sizeof(hdr[i + 1]),
                                                  "$%" APR_SIZE_T_FMT "\r\n", argl[i]);
        v[n].iov_base = (void *)argv[i];
        v[n++].iov_len = argl[i];
        v[n].iov_base = (void *)"\r\n";
        v[n++].iov_len = 2;
    }
    return tpo_netconn_send(conn, v, n);
}

/* Strict decimal: optional '-' (when allowed), digits only, no overflow. */
static int parse_int(const char *s, apr_size_t n, int allow_neg, apr_int64_t *out)
{
    apr_int64_t v = 0;
    apr_size_t i = 0;
    int neg = 0;

    if (allow_neg && n > 0 && s[0] == '-') {
        neg = 1;
        i = 1;
    }
    if (i == n || n - i > 18)
        return 0;
    for (; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return 0;
        v = v * 10 + (s[i] - '0');
    }
    *out = neg ? -v : v;
    return 1;
}

/* The first word of a status or error line, printable ASCII only: Redis
 * errors can quote command arguments, so nothing past the code is kept. */
static void first_word(const char *s, apr_size_t n, char *out, apr_size_t outsz)
{
    apr_size_t i;

    for (i = 0; i < n && i + 1 < outsz; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch <= 0x20 || ch >= 0x7f)
            break;
        out[i] = (char)ch;
    }
    out[i] = '\0';
}

/* Read one reply; bulk strings only when p is given (else protocol error). */
static apr_status_t rd_reply(tpo_netconn *conn, apr_pool_t *p, rs_reply *r)
{
    char *line, crlf[2];
    apr_size_t len;
    apr_int64_t n;
    apr_status_t rv = tpo_netconn_line(conn, &line, &len);

    if (rv != APR_SUCCESS)
        return rv;
    if (len == 0)
        return tpo_netconn_proto_error(conn, "empty reply line");
    switch (line[0]) {
    case '+':
        r->type = R_SIMPLE;
        first_word(line + 1, len - 1, r->word, sizeof(r->word));
        return APR_SUCCESS;
    case '-':
        r->type = R_ERROR;
        first_word(line + 1, len - 1, r->word, sizeof(r->word));
        return APR_SUCCESS;
    case ':':
        if (!parse_int(line + 1, len - 1, 1, &r->num)) {
            return tpo_netconn_proto_error(conn, "bad integer");
        }
        r->type = R_INT;
        return APR_SUCCESS;
    case '$':
        if (len == 3 && line[1] == '-' && line[2] == '1') {
            r->type = R_NIL;
            return APR_SUCCESS;
        }
        if (!parse_int(line + 1, len - 1, 0, &n) || n > (apr_int64_t)RS_MAX_BULK) {
            return tpo_netconn_proto_error(conn, "bulk length out of bounds");
        }
        if (p == NULL)
            return tpo_netconn_proto_error(conn, "unexpected bulk reply");
        r->type = R_BULK;
        r->len = (apr_size_t)n;
        r->bulk = apr_palloc(p, r->len + 1);
        rv = tpo_netconn_read(conn, r->bulk, r->len);
        if (rv == APR_SUCCESS)
            rv = tpo_netconn_read(conn, crlf, 2);
        if (rv != APR_SUCCESS)
            return rv;
        if (crlf[0] != '\r' || crlf[1] != '\n') {
            return tpo_netconn_proto_error(conn, "bulk not CRLF-terminated");
        }
        r->bulk[r->len] = '\0';
        return APR_SUCCESS;
    default:
        return tpo_netconn_proto_error(conn, "unexpected reply type");
    }
}

/* An error reply: the server is fine, the connection is not reused. */
static apr_status_t error_reply(tpo_netconn *conn, const char *cmd, const rs_reply *r)
{
    tpo_netconn_retire(conn);
    tpo_log(TPO_LOG_MARK, TPO_LOG_WARN, TPO_APLOGNO(00066) "redis %s: %s answered %s",
            tpo_netconn_name(conn), cmd, r->word[0] ? r->word : "an error");
    return APR_EGENERAL;
}

/* ------------------------------------------------------------ connections */

/* AUTH on a new connection (the pool's on_connect). */
static apr_status_t conn_auth(tpo_netconn *conn, void *baton)
{
    rs_cache *c = baton;
    const void *argv[2] = {"AUTH", c->password};
    apr_size_t argl[2] = {4, c->pwlen};
    rs_reply r;
    apr_status_t rv = send_cmd(conn, 2, argv, argl);

    if (rv == APR_SUCCESS)
        rv = rd_reply(conn, NULL, &r);
    if (rv != APR_SUCCESS)
        return rv;
    if (r.type == R_SIMPLE && strcmp(r.word, "OK") == 0)
        return APR_SUCCESS;
    if (r.type == R_ERROR) {
        if (tpo_netconn_log_due(conn, RS_AUTH_LOG_EVERY)) {
            tpo_log(TPO_LOG_MARK, TPO_LOG_ERR,
                    TPO_APLOGNO(00067) "redis %s rejected AUTH (%s): check the password",
                    tpo_netconn_name(conn), r.word[0] ? r.word : "error");
        }
        return APR_EACCES;
    }
    return tpo_netconn_proto_error(conn, "AUTH");
}

/* ------------------------------------------------------------ commands */

enum { OP_GET, OP_SET, OP_ADD, OP_DEL };

typedef struct {
    int kind;
    const char *key;
    apr_size_t klen;
    const void *val;
    apr_size_t vlen;
    apr_int64_t px;
    apr_pool_t *p;
    char **out;
    apr_size_t *outlen;
} rs_op;

/* One command and its reply (a tpo_netconn_fn). */
static apr_status_t rs_exec(tpo_netconn *conn, void *baton)
{
    rs_op *op = baton;
    const void *argv[RS_MAX_ARGS];
    apr_size_t argl[RS_MAX_ARGS];
    char pxbuf[24];
    int argc = 0;
    rs_reply r;
    apr_status_t rv;

    switch (op->kind) {
    case OP_GET:
        argv[argc] = "GET";
        argl[argc++] = 3;
        break;
    case OP_DEL:
        argv[argc] = "DEL";
        argl[argc++] = 3;
        break;
    default:
        argv[argc] = "SET";
        argl[argc++] = 3;
        break;
    }
    argv[argc] = op->key;
    argl[argc++] = op->klen;
    if (op->kind == OP_SET || op->kind == OP_ADD) {
        argv[argc] = op->val;
        argl[argc++] = op->vlen;
        if (op->kind == OP_ADD) {
            argv[argc] = "NX";
            argl[argc++] = 2;
        }
        argv[argc] = "PX";
        argl[argc++] = 2;
        argv[argc] = pxbuf;
        argl[argc++] = (apr_size_t)apr_snprintf(pxbuf, sizeof(pxbuf), "%" APR_INT64_T_FMT, op->px);
    }
    rv = send_cmd(conn, argc, argv, argl);
    if (rv == APR_SUCCESS)
        rv = rd_reply(conn, op->kind == OP_GET ? op->p : NULL, &r);
    if (rv != APR_SUCCESS)
        return rv;
    if (r.type == R_ERROR) {
        return error_reply(conn,
                           op->kind == OP_GET   ? "GET"
                           : op->kind == OP_DEL ? "DEL"
                                                : "SET",
                           &r);
    }

    switch (op->kind) {
    case OP_GET:
        if (r.type == R_NIL)
            return APR_NOTFOUND;
        if (r.type != R_BULK)
            return tpo_netconn_proto_error(conn, "GET");
        *op->out = r.bulk;
        *op->outlen = r.len;
        return APR_SUCCESS;
    case OP_SET:
    case OP_ADD:
        if (r.type == R_SIMPLE && strcmp(r.word, "OK") == 0)
            return APR_SUCCESS;
        if (op->kind == OP_ADD && r.type == R_NIL)
            return APR_EEXIST;
        return tpo_netconn_proto_error(conn, "SET");
    default:
        if (r.type == R_INT && r.num == 0)
            return APR_NOTFOUND;
        if (r.type == R_INT && r.num == 1)
            return APR_SUCCESS;
        return tpo_netconn_proto_error(conn, "DEL");
    }
}

static apr_status_t run(rs_cache *c, rs_op *op)
{
    return tpo_netpool_run(c->pool, 0, rs_exec, op);
}

/* ------------------------------------------------------------ contract */

static apr_status_t rs_get(tpo_cache *tc, const char *key, apr_pool_t *p, char **val,
                           apr_size_t *vlen)
{
    rs_op op = {OP_GET, key, 0, NULL, 0, 0, p, val, vlen};

    if (!tpo_cache_key_ok(key, &op.klen))
        return APR_NOTFOUND; /* can never have been stored */
    return run(tc->impl, &op);
}

static apr_status_t rs_store(tpo_cache *tc, int kind, const char *key, const void *val,
                             apr_size_t vlen, apr_time_t expiry)
{
    rs_op op = {kind, key, 0, val, vlen, 0, NULL, NULL, NULL};
    apr_time_t now = apr_time_now();
    apr_status_t rv;

    if (!tpo_cache_key_ok(key, &op.klen) || (val == NULL && vlen > 0))
        return APR_EINVAL;
    if (vlen > RS_MAX_BULK)
        return APR_ENOSPC;
    if (val == NULL)
        op.val = "";
    if (expiry <= now && kind == OP_SET) {
        /* replaced by something already gone: the key is gone */
        op.kind = OP_DEL;
        rv = run(tc->impl, &op);
        return rv == APR_NOTFOUND ? APR_SUCCESS : rv;
    }
    op.px = expiry <= now ? 1 : (expiry - now + 999) / 1000;
    return run(tc->impl, &op);
}

static apr_status_t rs_set(tpo_cache *tc, const char *key, const void *val, apr_size_t vlen,
                           apr_time_t expiry)
{
    return rs_store(tc, OP_SET, key, val, vlen, expiry);
}

static apr_status_t rs_add(tpo_cache *tc, const char *key, const void *val, apr_size_t vlen,
                           apr_time_t expiry)
{
    return rs_store(tc, OP_ADD, key, val, vlen, expiry);
}

static apr_status_t rs_del(tpo_cache *tc, const char *key)
{
    rs_op op = {OP_DEL, key, 0, NULL, 0, 0, NULL, NULL, NULL};

    if (!tpo_cache_key_ok(key, &op.klen))
        return APR_NOTFOUND;
    return run(tc->impl, &op);
}

static const tpo_cache_ops rs_ops = {"redis", rs_get, rs_set, rs_add, rs_del};

apr_status_t tpo_redis_cache_create(apr_pool_t *p, const char *servers, const char *password,
                                    apr_interval_time_t timeout, tpo_cache **out, const char **err)
{
    tpo_netpool_conf conf = {"redis", "protocol error", RS_DEFAULT_PORT, timeout, NULL, NULL};
    rs_cache *c = apr_pcalloc(p, sizeof(*c));
    apr_status_t rv;

    *out = NULL;
    if (password && *password) {
        c->password = apr_pstrdup(p, password);
        c->pwlen = strlen(password);
        conf.on_connect = conn_auth;
        conf.baton = c;
    }
    rv = tpo_netpool_create(p, servers, &conf, &c->pool, err);
    if (rv != APR_SUCCESS)
        return rv;
    c->pub.ops = &rs_ops;
    c->pub.impl = c;
    *out = &c->pub;
    return APR_SUCCESS;
}
