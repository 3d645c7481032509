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
 *    same): the operation fails with APR_EACCES, logged once per 10 s;
 *    so is a rejected SELECT;
 *  - TLS (tpo_tls.c, tpo_netconn.c): the server's certificate is verified
 *    and must name the server (or TPOAuthCacheRedisTLSServerName).
 *
 * New connection: AUTH [user] password, SELECT db (when > 0), and with
 * Sentinel ROLE, which must say "master".
 *
 * Sentinel: the configured servers are the sentinels; the master's address
 * comes from SENTINEL get-master-addr-by-name, asked of the sentinels in
 * order until one answers, and is the only server of the data pool. It is
 * asked again (at most once per RS_RESOLVE_MIN per process, one thread at a
 * time; the others keep the address they have):
 *  - before the first operation;
 *  - when an operation failed for want of a connection or an answer (the
 *    master died), when the server answered READONLY (it was demoted), or
 *    when a new connection found a replica behind the address (ROLE); if
 *    the address moved, the operation is tried once more on the new master
 *    (a SET NX retried there may answer "exists" for its own first try: the
 *    safe direction, a refused one-use marker or a lock left to expire);
 *  - every RS_RECHECK in the background of an operation (try-lock: no
 *    request waits for it);
 *  - and at once when a sentinel announces +switch-master: one thread per
 *    process (started by the first operation) stays subscribed to a
 *    sentinel (PING every second, another sentinel when it fails, the
 *    master asked again after each new subscription), so that a failover
 *    whose old master stays reachable is followed within milliseconds, not
 *    after the old master was demoted.
 * Writes therefore never go to a replica: a replica refuses them (READONLY)
 * and is recognised at connect (ROLE). Nobody is logged out by a failover:
 * the sessions are on the new master (Redis replication; a write in the
 * last moments before the master died may be lost with it, as Redis
 * documents), and requests during the switch get 503, not a login page.
 *
 * Expiry: PX with the milliseconds left, rounded up. A set() whose expiry
 * has already passed is a DEL (the entry it replaces is gone); such an add()
 * is sent as NX PX 1, which keeps its answer exact (EEXIST when a live entry
 * is there) while storing nothing that stays readable beyond 1 ms. (PXAT
 * would be exact but needs Redis 6.2.)
 *
 * The process must ignore SIGPIPE (httpd does). */
#include <string.h>
#include <apr_atomic.h>
#include <apr_strings.h>
#include <apr_thread_mutex.h>
#include <apr_thread_proc.h>
#include "tpo_cache_redis.h"
#include "tpo_redis_resp.h"
#include "tpo_redis_track.h"
#include "tpo_netconn.h"
#include "tpo_tls.h"
#include "tpo_log.h"

#define RS_DEFAULT_PORT 6379
#define RS_AUTH_LOG_EVERY apr_time_from_sec(10)
#define RS_RESOLVE_MIN apr_time_from_msec(200) /* between two questions to the sentinels */
#define RS_RECHECK apr_time_from_sec(5)        /* the master is asked for this often */
#define RS_SUB_PING apr_time_from_sec(1)       /* the subscriber's keep-alive */

typedef struct {
    tpo_cache pub;
    tpo_netpool *pool;    /* the servers; with Sentinel, the master only */
    const char *user;     /* NULL: AUTH password */
    const char *password; /* NULL: no AUTH */
    apr_size_t pwlen;
    int database;
    int wait_n; /* TPOAuthCacheRedisWaitReplicas */
    apr_int64_t wait_ms;
    /* Sentinel */
    const char *master_name;       /* NULL: no Sentinel */
    const char *sentinel_password; /* NULL: no AUTH at the sentinels */
    tpo_netpool *sentinels;
    apr_thread_mutex_t *rmu;           /* one question to the sentinels at a time */
    volatile apr_uint64_t resolved_at; /* last question (apr_time_t; written under rmu) */
    volatile apr_uint32_t epoch;       /* moves of the master; 0: not known yet */
    /* the +switch-master subscriber: one thread per process, started by
     * the first operation (not in the parent that only checks settings) */
    apr_pool_t *sub_p;
    apr_thread_t *sub_thread; /* under rmu */
    volatile apr_uint32_t sub_stop;
} rs_cache;


/* ------------------------------------------------------------ connections */

/* AUTH [user] password on a new connection. */
static apr_status_t conn_auth(tpo_netconn *conn, rs_cache *c)
{
    const void *argv[3] = {"AUTH"};
    apr_size_t argl[3] = {4};
    int argc = 1;
    rs_reply r;
    apr_status_t rv;

    if (c->user) {
        argv[argc] = c->user;
        argl[argc++] = strlen(c->user);
    }
    argv[argc] = c->password;
    argl[argc++] = c->pwlen;
    rv = tpo_resp_send(conn, argc, argv, argl);
    if (rv == APR_SUCCESS)
        rv = tpo_resp_read(conn, NULL, &r);
    if (rv != APR_SUCCESS)
        return rv;
    if (r.type == R_SIMPLE && strcmp(r.word, "OK") == 0)
        return APR_SUCCESS;
    if (r.type == R_ERROR) {
        if (tpo_netconn_log_due(conn, RS_AUTH_LOG_EVERY)) {
            tpo_log(TPO_LOG_MARK, TPO_LOG_ERR,
                    TPO_APLOGNO(00067) "redis %s rejected AUTH (%s): check the %spassword",
                    tpo_netconn_name(conn), r.word[0] ? r.word : "error",
                    c->user ? "user name and the " : "");
        }
        return APR_EACCES;
    }
    return tpo_netconn_proto_error(conn, "AUTH");
}

/* SELECT db on a new connection. */
static apr_status_t conn_select(tpo_netconn *conn, rs_cache *c)
{
    char db[16];
    const void *argv[2] = {"SELECT", db};
    apr_size_t argl[2] = {6, 0};
    rs_reply r;
    apr_status_t rv;

    argl[1] = (apr_size_t)apr_snprintf(db, sizeof(db), "%d", c->database);
    rv = tpo_resp_send(conn, 2, argv, argl);
    if (rv == APR_SUCCESS)
        rv = tpo_resp_read(conn, NULL, &r);
    if (rv != APR_SUCCESS)
        return rv;
    if (r.type == R_SIMPLE && strcmp(r.word, "OK") == 0)
        return APR_SUCCESS;
    if (r.type == R_ERROR) {
        if (tpo_netconn_log_due(conn, RS_AUTH_LOG_EVERY)) {
            tpo_log(TPO_LOG_MARK, TPO_LOG_ERR,
                    TPO_APLOGNO(00502) "redis %s rejected SELECT %d (%s): check "
                                       "TPOAuthCacheRedisDatabase and the server's databases",
                    tpo_netconn_name(conn), c->database, r.word[0] ? r.word : "error");
        }
        return APR_EACCES;
    }
    return tpo_netconn_proto_error(conn, "SELECT");
}

/* ROLE on a new connection (Sentinel): APR_EACCES unless "master". */
static apr_status_t conn_role(tpo_netconn *conn, rs_cache *c)
{
    const void *argv[1] = {"ROLE"};
    apr_size_t argl[1] = {4};
    rs_reply r, role;
    apr_status_t rv = tpo_resp_send(conn, 1, argv, argl);
    int master;

    if (rv == APR_SUCCESS)
        rv = tpo_resp_read(conn, NULL, &r);
    if (rv != APR_SUCCESS)
        return rv;
    if (r.type == R_ERROR)
        return tpo_resp_error(conn, "ROLE", &r);
    if (r.type != R_ARRAY || r.num < 1)
        return tpo_netconn_proto_error(conn, "ROLE");
    rv = tpo_resp_read(conn, NULL, &role);
    if (rv != APR_SUCCESS)
        return rv;
    if (role.type != R_BULK)
        return tpo_netconn_proto_error(conn, "ROLE");
    master = role.len == 6 && memcmp(role.bulk, "master", 6) == 0;
    r.num--;
    rv = tpo_resp_skip(conn, &r, 0);
    if (rv != APR_SUCCESS)
        return rv;
    if (!master) {
        if (tpo_netconn_log_due(conn, RS_AUTH_LOG_EVERY)) {
            tpo_resp_first_word(role.bulk, role.len, r.word, sizeof(r.word));
            tpo_log(TPO_LOG_MARK, TPO_LOG_WARN,
                    TPO_APLOGNO(00503) "redis %s is a %s, not the master of %s: asking the "
                                       "sentinels again",
                    tpo_netconn_name(conn), r.word, c->master_name);
        }
        tpo_netconn_retire(conn);
        return APR_EACCES;
    }
    return APR_SUCCESS;
}

/* AUTH on a new connection to a sentinel. */
static apr_status_t sentinel_auth(tpo_netconn *conn, void *baton)
{
    rs_cache *c = baton;
    const void *argv[2] = {"AUTH", c->sentinel_password};
    apr_size_t argl[2] = {4, strlen(c->sentinel_password)};
    rs_reply r;
    apr_status_t rv = tpo_resp_send(conn, 2, argv, argl);

    if (rv == APR_SUCCESS)
        rv = tpo_resp_read(conn, NULL, &r);
    if (rv != APR_SUCCESS)
        return rv;
    if (r.type == R_SIMPLE && strcmp(r.word, "OK") == 0)
        return APR_SUCCESS;
    if (r.type == R_ERROR) {
        if (tpo_netconn_log_due(conn, RS_AUTH_LOG_EVERY)) {
            tpo_log(TPO_LOG_MARK, TPO_LOG_ERR,
                    TPO_APLOGNO(00512) "redis sentinel %s rejected AUTH (%s): check "
                                       "TPOAuthCacheRedisSentinelPassword",
                    tpo_netconn_name(conn), r.word[0] ? r.word : "error");
        }
        return APR_EACCES;
    }
    return tpo_netconn_proto_error(conn, "AUTH");
}

/* A new connection to a data server (the pool's on_connect). */
static apr_status_t conn_setup(tpo_netconn *conn, void *baton)
{
    rs_cache *c = baton;
    apr_status_t rv = APR_SUCCESS;

    if (c->password)
        rv = conn_auth(conn, c);
    if (rv == APR_SUCCESS && c->database > 0)
        rv = conn_select(conn, c);
    if (rv == APR_SUCCESS && c->master_name)
        rv = conn_role(conn, c);
    return rv;
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
    int readonly; /* the server said READONLY: a demoted master */
    int wait_n;   /* > 0: a write must reach this many replicas (WAIT) */
    apr_int64_t wait_ms;
} rs_op;

/* The WAIT after a write: its reply, APR_SUCCESS when enough replicas
 * have the write. */
static apr_status_t rd_wait(tpo_netconn *conn, const rs_op *op)
{
    rs_reply r;
    apr_status_t rv = tpo_resp_read(conn, NULL, &r);

    if (rv != APR_SUCCESS)
        return rv;
    if (r.type == R_ERROR)
        return tpo_resp_error(conn, "WAIT", &r);
    if (r.type != R_INT)
        return tpo_netconn_proto_error(conn, "WAIT");
    if (r.num >= op->wait_n)
        return APR_SUCCESS;
    if (tpo_netconn_log_due(conn, RS_AUTH_LOG_EVERY)) {
        tpo_log(TPO_LOG_MARK, TPO_LOG_ERR,
                TPO_APLOGNO(00509) "redis %s: a write reached %d of the %d replicas "
                                   "TPOAuthCacheRedisWaitReplicas asks for within %d ms: answered "
                                   "as a failure",
                tpo_netconn_name(conn), (int)r.num, op->wait_n, (int)op->wait_ms);
    }
    return APR_EGENERAL;
}

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
    rv = tpo_resp_send(conn, argc, argv, argl);
    if (rv == APR_SUCCESS && op->kind != OP_GET && op->wait_n > 0) {
        /* pipelined: WAIT n ms right behind the write */
        char nbuf[16], msbuf[24];
        const void *wv[3] = {"WAIT", nbuf, msbuf};
        apr_size_t wl[3] = {4, 0, 0};
        wl[1] = (apr_size_t)apr_snprintf(nbuf, sizeof(nbuf), "%d", op->wait_n);
        wl[2] = (apr_size_t)apr_snprintf(msbuf, sizeof(msbuf), "%" APR_INT64_T_FMT, op->wait_ms);
        rv = tpo_resp_send(conn, 3, wv, wl);
    }
    if (rv == APR_SUCCESS)
        rv = tpo_resp_read(conn, op->kind == OP_GET ? op->p : NULL, &r);
    if (rv != APR_SUCCESS)
        return rv;
    if (op->kind != OP_GET && op->wait_n > 0 && r.type != R_ERROR) {
        apr_status_t wrv = rd_wait(conn, op);
        if (wrv != APR_SUCCESS)
            return wrv;
    }
    if (r.type == R_ERROR) {
        if (strcmp(r.word, "READONLY") == 0)
            op->readonly = 1;
        return tpo_resp_error(conn,
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

/* ------------------------------------------------------------ Sentinel */

int tpo_redis_master_addr_ok(const char *host, apr_size_t hlen, const char *port, apr_size_t plen,
                             apr_port_t *port_out)
{
    apr_size_t i;
    unsigned v = 0;

    if (hlen == 0 || hlen > 255 || plen == 0 || plen > 5)
        return 0;
    for (i = 0; i < hlen; i++) {
        char ch = host[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
              ch == '.' || ch == '-' || ch == '_' || ch == ':')) {
            return 0;
        }
    }
    for (i = 0; i < plen; i++) {
        if (port[i] < '0' || port[i] > '9')
            return 0;
        v = v * 10 + (unsigned)(port[i] - '0');
    }
    if (v == 0 || v > 65535 || port[0] == '0')
        return 0;
    *port_out = (apr_port_t)v;
    return 1;
}

typedef struct {
    rs_cache *c;
    char host[256];
    apr_port_t port;
} rs_ask;

/* SENTINEL get-master-addr-by-name (a tpo_netconn_fn on a sentinel):
 * APR_SUCCESS with the address, APR_NOTFOUND when the sentinel does not
 * know the master. */
static apr_status_t sentinel_ask(tpo_netconn *conn, void *baton)
{
    rs_ask *q = baton;
    const void *argv[3] = {"SENTINEL", "get-master-addr-by-name", q->c->master_name};
    apr_size_t argl[3] = {8, 23, strlen(q->c->master_name)};
    rs_reply r, h, pt;
    apr_status_t rv = tpo_resp_send(conn, 3, argv, argl);

    if (rv == APR_SUCCESS)
        rv = tpo_resp_read(conn, NULL, &r);
    if (rv != APR_SUCCESS)
        return rv;
    if (r.type == R_ERROR)
        return tpo_resp_error(conn, "SENTINEL get-master-addr-by-name", &r);
    if (r.type == R_NIL || (r.type == R_ARRAY && r.num == -1))
        return APR_NOTFOUND;
    if (r.type != R_ARRAY || r.num != 2)
        return tpo_netconn_proto_error(conn, "SENTINEL reply is not [host, port]");
    rv = tpo_resp_read(conn, NULL, &h);
    if (rv == APR_SUCCESS && h.type == R_BULK)
        memcpy(q->host, h.bulk, h.len + 1);
    if (rv == APR_SUCCESS)
        rv = tpo_resp_read(conn, NULL, &pt);
    if (rv != APR_SUCCESS)
        return rv;
    if (h.type != R_BULK || pt.type != R_BULK ||
        !tpo_redis_master_addr_ok(q->host, h.len, pt.bulk, pt.len, &q->port)) {
        return tpo_netconn_proto_error(conn, "SENTINEL master address");
    }
    return APR_SUCCESS;
}

static void sub_start(rs_cache *c);

/* Ask the sentinels where the master is, and point the data pool there.
 * force: after a failure (waits for a question in progress; at most one
 * per RS_RESOLVE_MIN); else the periodic check (skipped when due not yet
 * or another thread is asking). */
static void resolve(rs_cache *c, int force)
{
    apr_time_t now;
    unsigned k, n = tpo_netpool_size(c->sentinels);
    rs_ask q;
    apr_status_t rv = APR_EGENERAL;

    if (force) {
        apr_thread_mutex_lock(c->rmu);
    }
    else if (apr_time_now() - (apr_time_t)apr_atomic_read64(&c->resolved_at) < RS_RECHECK &&
             apr_atomic_read32(&c->epoch) != 0) {
        return; /* the common case: no lock at all */
    }
    else if (apr_thread_mutex_trylock(c->rmu) != APR_SUCCESS) {
        return;
    }
    now = apr_time_now();
    if (now - (apr_time_t)apr_atomic_read64(&c->resolved_at) <
        (force ? RS_RESOLVE_MIN : RS_RECHECK)) {
        /* asked a moment ago (also when nobody answered: no storm) */
        apr_thread_mutex_unlock(c->rmu);
        return;
    }
    apr_atomic_set64(&c->resolved_at, (apr_uint64_t)now);
    sub_start(c);
    memset(&q, 0, sizeof(q));
    q.c = c;
    for (k = 0; k < n && rv != APR_SUCCESS; k++)
        rv = tpo_netpool_run(c->sentinels, k, sentinel_ask, &q);
    if (rv == APR_SUCCESS) {
        int moved = tpo_netpool_set_server(c->pool, 0, q.host, q.port);
        if (moved || apr_atomic_read32(&c->epoch) == 0) {
            apr_atomic_inc32(&c->epoch);
            tpo_log(TPO_LOG_MARK, TPO_LOG_NOTICE,
                    TPO_APLOGNO(00504) "redis: the sentinels name %s:%u the master of %s", q.host,
                    (unsigned)q.port, c->master_name);
        }
    }
    else {
        tpo_log(TPO_LOG_MARK, TPO_LOG_ERR,
                TPO_APLOGNO(00505) "redis: no sentinel named the master of %s (%s)", c->master_name,
                rv == APR_NOTFOUND ? "unknown master name" : "no sentinel answered");
    }
    apr_thread_mutex_unlock(c->rmu);
}

/* A +switch-master message: "<name> <old ip> <old port> <new ip> <new port>". */
static void on_switch(rs_cache *c, const char *msg, apr_size_t len)
{
    const char *w[5];
    apr_size_t wl[5], i = 0;
    int k = 0;
    apr_port_t port;
    char host[256];

    while (k < 5 && i < len) {
        w[k] = msg + i;
        while (i < len && msg[i] != ' ')
            i++;
        wl[k] = (apr_size_t)(msg + i - w[k]);
        k++;
        i++;
    }
    if (k != 5 || i < len || wl[0] != strlen(c->master_name) ||
        memcmp(w[0], c->master_name, wl[0]) != 0) {
        return; /* another master's, or not understood */
    }
    if (!tpo_redis_master_addr_ok(w[3], wl[3], w[4], wl[4], &port))
        return;
    memcpy(host, w[3], wl[3]);
    host[wl[3]] = '\0';
    apr_thread_mutex_lock(c->rmu);
    if (tpo_netpool_set_server(c->pool, 0, host, port)) {
        apr_atomic_inc32(&c->epoch);
        tpo_log(TPO_LOG_MARK, TPO_LOG_NOTICE,
                TPO_APLOGNO(00507) "redis: a sentinel announced +switch-master: %s:%u is the "
                                   "master of %s",
                host, (unsigned)port, c->master_name);
    }
    apr_atomic_set64(&c->resolved_at, (apr_uint64_t)apr_time_now());
    apr_thread_mutex_unlock(c->rmu);
}

/* Subscribed to +switch-master on one sentinel until it fails or the
 * process ends (a tpo_netconn_fn). */
static apr_status_t sub_loop(tpo_netconn *conn, void *baton)
{
    rs_cache *c = baton;
    const void *sub[2] = {"SUBSCRIBE", "+switch-master"};
    apr_size_t subl[2] = {9, 14};
    const void *ping[1] = {"PING"};
    apr_size_t pingl[1] = {4};
    rs_reply r, e[3];
    apr_status_t rv;
    int i, pings = 0, ack = 0;
    apr_time_t quiet_since = apr_time_now();

    tpo_netconn_retire(conn); /* never back to the pool */
    rv = tpo_resp_send(conn, 2, sub, subl);
    while (rv == APR_SUCCESS && !apr_atomic_read32(&c->sub_stop)) {
        tpo_netconn_extend(conn, RS_SUB_PING + apr_time_from_sec(2));
        /* short waits: the process's end is noticed within 0.2 s */
        rv = tpo_netconn_wait(conn, apr_time_from_msec(200));
        if (rv == APR_TIMEUP) {
            if (apr_time_now() - quiet_since < RS_SUB_PING) {
                rv = APR_SUCCESS;
                continue;
            }
            if (pings > 1) /* two keep-alives unanswered */
                return APR_TIMEUP;
            pings++;
            quiet_since = apr_time_now();
            rv = tpo_resp_send(conn, 1, ping, pingl);
            continue;
        }
        quiet_since = apr_time_now();
        if (rv == APR_SUCCESS)
            rv = tpo_resp_read(conn, NULL, &r);
        if (rv != APR_SUCCESS)
            break;
        if (r.type == R_ERROR)
            return tpo_resp_error(conn, "SUBSCRIBE", &r);
        if (r.type != R_ARRAY || r.num < 2 || r.num > 3)
            return tpo_netconn_proto_error(conn, "SUBSCRIBE reply");
        for (i = 0; i < r.num && rv == APR_SUCCESS; i++)
            rv = tpo_resp_read(conn, NULL, &e[i]);
        if (rv != APR_SUCCESS)
            break;
        if (e[0].type != R_BULK)
            return tpo_netconn_proto_error(conn, "SUBSCRIBE reply");
        if (e[0].len == 4 && !memcmp(e[0].bulk, "pong", 4)) {
            pings = 0;
        }
        else if (r.num == 3 && e[0].len == 9 && !memcmp(e[0].bulk, "subscribe", 9)) {
            if (!ack) {
                ack = 1;
                /* a switch may have been missed while not subscribed */
                resolve(c, 1);
            }
        }
        else if (r.num == 3 && e[0].len == 7 && !memcmp(e[0].bulk, "message", 7) &&
                 e[2].type == R_BULK) {
            on_switch(c, e[2].bulk, e[2].len);
        }
    }
    return rv == APR_SUCCESS ? APR_EOF : rv;
}

static void *APR_THREAD_FUNC sub_main(apr_thread_t *t, void *data)
{
    rs_cache *c = data;
    unsigned k = 0, n = tpo_netpool_size(c->sentinels);

    while (!apr_atomic_read32(&c->sub_stop)) {
        int i;
        tpo_netpool_run(c->sentinels, k++ % n, sub_loop, c);
        for (i = 0; i < 4 && !apr_atomic_read32(&c->sub_stop); i++)
            apr_sleep(apr_time_from_msec(50));
    }
    apr_thread_exit(t, APR_SUCCESS);
    return NULL;
}

/* Under rmu. */
static void sub_start(rs_cache *c)
{
    apr_threadattr_t *attr;

    if (c->sub_thread || apr_atomic_read32(&c->sub_stop))
        return;
    if (apr_threadattr_create(&attr, c->sub_p) != APR_SUCCESS ||
        apr_thread_create(&c->sub_thread, attr, sub_main, c, c->sub_p) != APR_SUCCESS) {
        c->sub_thread = NULL;
        apr_atomic_set32(&c->sub_stop, 1); /* no second try: the re-checks remain */
        tpo_log(TPO_LOG_MARK, TPO_LOG_WARN,
                TPO_APLOGNO(00508) "redis: cannot start the +switch-master subscriber; a failover "
                                   "is followed through the periodic checks only");
    }
}

static apr_status_t sub_stop(void *data)
{
    rs_cache *c = data;
    apr_status_t trv;

    apr_atomic_set32(&c->sub_stop, 1);
    if (c->sub_thread)
        apr_thread_join(&trv, c->sub_thread);
    c->sub_thread = NULL;
    return APR_SUCCESS;
}

/* An answer of the contract, not a failure to get one. */
static int answered(apr_status_t rv)
{
    return rv == APR_SUCCESS || rv == APR_NOTFOUND || rv == APR_EEXIST;
}

static apr_status_t run(rs_cache *c, rs_op *op)
{
    apr_uint32_t epoch;
    apr_status_t rv;

    op->wait_n = c->wait_n;
    op->wait_ms = c->wait_ms;
    if (c->master_name == NULL)
        return tpo_netpool_run(c->pool, 0, rs_exec, op);
    resolve(c, apr_atomic_read32(&c->epoch) == 0);
    epoch = apr_atomic_read32(&c->epoch);
    if (epoch == 0)
        return APR_EGENERAL; /* no master known */
    op->readonly = 0;
    rv = tpo_netpool_run(c->pool, 0, rs_exec, op);
    if (answered(rv) && !op->readonly)
        return rv;
    /* the master died, was demoted, or is a replica now: ask again, and
     * try once more when it moved */
    resolve(c, 1);
    if (apr_atomic_read32(&c->epoch) != epoch) {
        op->readonly = 0;
        rv = tpo_netpool_run(c->pool, 0, rs_exec, op);
    }
    return op->readonly ? APR_EGENERAL : rv;
}

/* ------------------------------------------------------------ tracking */

typedef struct {
    const tpo_redis_push_cb *user;
    volatile apr_uint32_t *stop;
    apr_pool_t *scratch;
    int pings;
} rs_track;

static void tk_subscribed(void *baton)
{
    rs_track *t = baton;
    if (t->user->subscribed)
        t->user->subscribed(t->user->baton);
}
static void tk_pong(void *baton)
{
    ((rs_track *)baton)->pings = 0;
}
static void tk_key(void *baton, const char *name, apr_size_t len)
{
    rs_track *t = baton;
    if (t->user->key)
        t->user->key(t->user->baton, name, len);
}
static void tk_flush(void *baton)
{
    rs_track *t = baton;
    if (t->user->flush)
        t->user->flush(t->user->baton);
}

/* CLIENT ID, CLIENT TRACKING on REDIRECT <itself> BCAST, SUBSCRIBE to the
 * invalidation channel, then the messages until the connection fails or
 * *stop (a tpo_netconn_fn). */
static apr_status_t track_loop(tpo_netconn *conn, void *baton)
{
    rs_track *t = baton;
    const void *idv[2] = {"CLIENT", "ID"};
    apr_size_t idl[2] = {6, 2};
    const void *bcv[6] = {"CLIENT", "TRACKING", "on", "REDIRECT", NULL, "BCAST"};
    apr_size_t bcl[6] = {6, 8, 2, 8, 0, 5};
    const void *sub[2] = {"SUBSCRIBE", TPO_REDIS_INVALIDATE};
    apr_size_t subl[2] = {9, sizeof(TPO_REDIS_INVALIDATE) - 1};
    const void *ping[1] = {"PING"};
    apr_size_t pingl[1] = {4};
    tpo_redis_push_cb cb = {tk_subscribed, tk_pong, tk_key, tk_flush, t};
    char idbuf[24];
    rs_reply r;
    apr_status_t rv;
    apr_time_t quiet_since;

    tpo_netconn_retire(conn); /* never back to the pool */
    if ((rv = tpo_resp_send(conn, 2, idv, idl)) != APR_SUCCESS ||
        (rv = tpo_resp_read(conn, NULL, &r)) != APR_SUCCESS)
        return rv;
    if (r.type == R_ERROR)
        return tpo_resp_error(conn, "CLIENT ID", &r);
    if (r.type != R_INT || r.num <= 0)
        return tpo_netconn_proto_error(conn, "CLIENT ID");
    apr_snprintf(idbuf, sizeof(idbuf), "%" APR_INT64_T_FMT, r.num);
    bcv[4] = idbuf;
    bcl[4] = strlen(idbuf);
    if ((rv = tpo_resp_send(conn, 6, bcv, bcl)) != APR_SUCCESS ||
        (rv = tpo_resp_read(conn, NULL, &r)) != APR_SUCCESS)
        return rv;
    if (r.type == R_ERROR)
        return tpo_resp_error(conn, "CLIENT TRACKING", &r);
    if (r.type != R_SIMPLE || strcmp(r.word, "OK") != 0)
        return tpo_netconn_proto_error(conn, "CLIENT TRACKING");
    if ((rv = tpo_resp_send(conn, 2, sub, subl)) != APR_SUCCESS)
        return rv;
    t->pings = 0;
    quiet_since = apr_time_now();
    while (!apr_atomic_read32(t->stop)) {
        tpo_netconn_extend(conn, RS_SUB_PING + apr_time_from_sec(2));
        rv = tpo_netconn_wait(conn, apr_time_from_msec(200));
        if (rv == APR_TIMEUP) {
            if (apr_time_now() - quiet_since < RS_SUB_PING)
                continue;
            if (t->pings > 1) /* two keep-alives unanswered */
                return APR_TIMEUP;
            t->pings++;
            quiet_since = apr_time_now();
            if ((rv = tpo_resp_send(conn, 1, ping, pingl)) != APR_SUCCESS)
                return rv;
            continue;
        }
        if (rv != APR_SUCCESS)
            return rv;
        quiet_since = apr_time_now();
        apr_pool_clear(t->scratch);
        if ((rv = tpo_redis_push_read(conn, t->scratch, &cb)) != APR_SUCCESS)
            return rv;
    }
    return APR_EOF;
}

apr_status_t tpo_redis_track_run(tpo_cache *tc, const tpo_redis_push_cb *cb,
                                 volatile apr_uint32_t *stop, apr_pool_t *p)
{
    rs_cache *c = tc->impl;
    rs_track t;
    apr_status_t rv;

    memset(&t, 0, sizeof(t));
    t.user = cb;
    t.stop = stop;
    if ((rv = apr_pool_create(&t.scratch, p)) != APR_SUCCESS)
        return rv;
    if (c->master_name) {
        resolve(c, 1);
        if (apr_atomic_read32(&c->epoch) == 0) {
            apr_pool_destroy(t.scratch);
            return APR_EGENERAL;
        }
    }
    rv = tpo_netpool_run(c->pool, 0, track_loop, &t);
    apr_pool_destroy(t.scratch);
    return rv;
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

apr_status_t tpo_redis_cache_create_conf(apr_pool_t *p, const tpo_redis_conf *rc, tpo_cache **out,
                                         const char **err)
{
    tpo_netpool_conf conf = {
        "redis", "protocol error", RS_DEFAULT_PORT, rc->timeout, NULL, NULL, NULL, NULL};
    rs_cache *c = apr_pcalloc(p, sizeof(*c));
    apr_status_t rv;

    *out = NULL;
    *err = NULL;
    if (rc->database < 0) {
        *err = "the redis database number must not be negative";
        return APR_EINVAL;
    }
    if (rc->sentinel_password && !rc->sentinel_master) {
        *err = "a redis sentinel password without a sentinel master name";
        return APR_EINVAL;
    }
    if (rc->user && !(rc->password && *rc->password)) {
        *err = "a redis user name needs a password";
        return APR_EINVAL;
    }
    if (rc->sentinel_master &&
        !tpo_redis_master_addr_ok(rc->sentinel_master, strlen(rc->sentinel_master), "1", 1,
                                  &conf.default_port)) {
        *err = "bad redis sentinel master name (letters, digits, '.', '-', '_')";
        return APR_EINVAL;
    }
    conf.default_port = RS_DEFAULT_PORT;
    if (rc->tls) {
        rv = tpo_tls_client_ctx(p, rc->tls_ca_file, rc->tls_cert_file, rc->tls_key_file, &conf.tls,
                                err);
        if (rv != APR_SUCCESS) {
            *err = apr_pstrcat(p, "redis TLS: ", *err, NULL);
            return rv;
        }
        conf.tls_name = rc->tls_name;
    }
    else if (rc->tls_ca_file || rc->tls_cert_file || rc->tls_key_file || rc->tls_name) {
        *err = "redis TLS files or server name given, but TLS is off";
        return APR_EINVAL;
    }
    c->database = rc->database;
    if (rc->wait_replicas < 0) {
        *err = "the number of redis replicas to wait for must not be negative";
        return APR_EINVAL;
    }
    c->wait_n = rc->wait_replicas;
    /* half the operation's time, so the answer comes within it */
    c->wait_ms = apr_time_as_msec(rc->timeout) / 2 > 0 ? apr_time_as_msec(rc->timeout) / 2 : 1;
    if (rc->password && *rc->password) {
        c->password = apr_pstrdup(p, rc->password);
        c->pwlen = strlen(rc->password);
        c->user = rc->user ? apr_pstrdup(p, rc->user) : NULL;
    }
    if (rc->sentinel_master) {
        tpo_netpool_conf sconf = conf;
        char *first, *last;

        c->master_name = apr_pstrdup(p, rc->sentinel_master);
        sconf.label = "redis sentinel";
        sconf.default_port = 26379;
        if (rc->sentinel_password && *rc->sentinel_password) {
            c->sentinel_password = apr_pstrdup(p, rc->sentinel_password);
            sconf.on_connect = sentinel_auth;
            sconf.baton = c;
        }
        rv = tpo_netpool_create(p, rc->servers, &sconf, &c->sentinels, err);
        if (rv != APR_SUCCESS)
            return rv;
        rv = apr_thread_mutex_create(&c->rmu, APR_THREAD_MUTEX_DEFAULT, p);
        if (rv == APR_SUCCESS)
            rv = apr_pool_create(&c->sub_p, p);
        if (rv != APR_SUCCESS) {
            *err = "cannot create the redis sentinel mutex";
            return rv;
        }
        /* the data pool's one server is a stand-in until the sentinels
         * name the master (never used before: epoch 0) */
        first = apr_strtok(apr_pstrdup(p, rc->servers), ", \t", &last);
        conf.on_connect = conn_setup;
        conf.baton = c;
        rv = tpo_netpool_create(p, first, &conf, &c->pool, err);
    }
    else {
        if (c->password || c->database > 0) {
            conf.on_connect = conn_setup;
            conf.baton = c;
        }
        rv = tpo_netpool_create(p, rc->servers, &conf, &c->pool, err);
    }
    if (rv != APR_SUCCESS)
        return rv;
    if (c->master_name) {
        /* before the pools go (and the subscriber's pool with them) */
        apr_pool_pre_cleanup_register(p, c, sub_stop);
    }
    c->pub.ops = &rs_ops;
    c->pub.impl = c;
    *out = &c->pub;
    return APR_SUCCESS;
}

apr_status_t tpo_redis_cache_create(apr_pool_t *p, const char *servers, const char *password,
                                    apr_interval_time_t timeout, tpo_cache **out, const char **err)
{
    tpo_redis_conf rc;
    const char *e = NULL;
    apr_status_t rv;

    memset(&rc, 0, sizeof(rc));
    rc.servers = servers;
    rc.password = password;
    rc.timeout = timeout;
    rv = tpo_redis_cache_create_conf(p, &rc, out, &e);
    if (err)
        *err = e;
    return rv;
}
