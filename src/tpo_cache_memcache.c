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
 * delete: four commands), over the same small connection layer as the
 * Redis backend:
 *
 *  - every operation has one deadline (now + timeout) that bounds connect,
 *    send and receive together; the socket timeout is set to what is left
 *    before each system call;
 *  - idle connections are kept per server in a LIFO list under one mutex;
 *    a connection that saw any error or unexpected reply is closed, never
 *    put back; idle ones older than IDLE_TTL are dropped;
 *  - a server whose connect fails (or that times out) is marked down and
 *    skipped for BACKOFF; then exactly one operation probes it (the others
 *    keep skipping it), and a successful connect marks it up again: a dead
 *    or hung server costs at most one timeout per BACKOFF, not one per
 *    request, and recovery needs no restart;
 *  - a pooled connection that turns out to be closed by the server (EOF or
 *    reset before any reply byte: the server restarted) is retried once on
 *    a new connection, and every idle connection to that server is dropped
 *    (generation counter);
 *  - keys map to servers by hash; when a key's server is down the next one
 *    up is used (like apr_memcache and mod_socache_memcache), so with
 *    several servers a dead one costs its share of entries, not a 503.
 *    While servers flap, two processes can disagree on a key's server, so
 *    add() is atomic per server only.
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
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/uio.h>
#include <apr_network_io.h>
#include <apr_strings.h>
#include <apr_thread_mutex.h>
#include "tpo_cache_memcache.h"
#include "tpo_log.h"

#define MC_DEFAULT_PORT 11211
#define MC_MAX_SERVERS  16
#define MC_MAX_VALUE    (16u * 1024 * 1024)  /* refused above (set: ENOSPC; get: protocol error) */
#define MC_RBUF         4096
#define MC_MAX_LINE     1024                  /* reply lines; a VALUE line is < 300 */
#define MC_MAX_IDLE     64                    /* idle connections kept per server */
#define MC_IDLE_TTL     apr_time_from_sec(30)
#define MC_BACKOFF      apr_time_from_msec(500)
#define MC_REL_MAX      2592000               /* 30 days: beyond, memcached wants absolute time */

typedef struct mc_conn mc_conn;
struct mc_conn {
    mc_conn *next;
    apr_pool_t *p;          /* unmanaged: owns the socket */
    apr_socket_t *sock;
    unsigned srv;
    apr_uint32_t gen;       /* server generation when connected */
    apr_time_t idle_since;
    int reused;             /* taken from the idle list for this operation */
    int broken;             /* must be closed, never reused */
    apr_size_t rx;          /* bytes received during this operation */
    apr_size_t rpos, rlen;
    char rbuf[MC_RBUF];
};

typedef struct {
    const char *host;
    const char *name;       /* "host:port" for log lines */
    apr_port_t port;
    apr_uint32_t gen;
    int down;
    apr_time_t retry_at;    /* while down: when the next probe may go */
    apr_status_t last_err;
    mc_conn *idle;
    unsigned nidle;
} mc_server;

typedef struct {
    tpo_cache pub;
    apr_thread_mutex_t *mu; /* guards every mc_server and pid */
    mc_server *srv;
    unsigned nsrv;
    apr_interval_time_t timeout;
    pid_t pid;              /* idle connections belong to this process */
} mc_cache;

/* ------------------------------------------------------------ helpers */

/* Never let a failure read as one of the contract's answers. */
static apr_status_t failure(apr_status_t rv)
{
    if (rv == APR_SUCCESS || rv == APR_NOTFOUND || rv == APR_EEXIST
        || rv == APR_ENOSPC || rv == APR_EINVAL) {
        return APR_EGENERAL;
    }
    return rv;
}

static int conn_lost(apr_status_t rv)
{
    return rv == APR_EOF || APR_STATUS_IS_ECONNRESET(rv) || APR_STATUS_IS_EPIPE(rv)
        || APR_STATUS_IS_ECONNABORTED(rv);
}

static apr_status_t time_left(apr_socket_t *s, apr_time_t deadline)
{
    apr_interval_time_t left = deadline - apr_time_now();

    if (left <= 0) return APR_TIMEUP;
    return apr_socket_timeout_set(s, left);
}

/* memcached text-protocol keys: 1..250 bytes (ours: TPO_CACHE_MAX_KEY), no
 * space or control character. */
static int key_ok(const char *key, apr_size_t *klen)
{
    apr_size_t n;

    if (key == NULL) return 0;
    for (n = 0; key[n]; n++) {
        unsigned char ch = (unsigned char)key[n];
        if (n >= TPO_CACHE_MAX_KEY || ch <= 0x20 || ch == 0x7f) return 0;
    }
    *klen = n;
    return n > 0;
}

static long exptime(apr_time_t expiry)
{
    apr_time_t now = apr_time_now();
    apr_int64_t secs;

    if (expiry <= now) return -1;
    secs = (expiry - now + APR_USEC_PER_SEC - 1) / APR_USEC_PER_SEC;
    if (secs <= MC_REL_MAX) return (long)secs;
    secs = (expiry + APR_USEC_PER_SEC - 1) / APR_USEC_PER_SEC;   /* absolute */
    return secs > 0x7fffffffL ? 0x7fffffffL : (long)secs;
}

static apr_uint32_t key_hash(const char *key, apr_size_t klen)
{
    apr_uint32_t h = 2166136261u;   /* FNV-1a */
    apr_size_t i;

    for (i = 0; i < klen; i++) {
        h ^= (unsigned char)key[i];
        h *= 16777619u;
    }
    return h;
}

static void conn_close(mc_conn *conn)
{
    if (conn->sock) apr_socket_close(conn->sock);
    apr_pool_destroy(conn->p);
}

static void close_list(mc_conn *list)
{
    while (list) {
        mc_conn *next = list->next;
        conn_close(list);
        list = next;
    }
}

/* Under the mutex. */
static void mark_down(mc_server *s, apr_status_t rv)
{
    s->gen++;
    s->retry_at = apr_time_now() + MC_BACKOFF;
    s->last_err = failure(rv);
    if (!s->down) {
        char buf[120];
        s->down = 1;
        tpo_log(TPO_LOG_MARK, TPO_LOG_ERR, "memcached %s unavailable: %s",
                s->name, apr_strerror(rv, buf, sizeof(buf)));
    }
}

/* Under the mutex: after fork, idle connections are the parent's. */
static mc_conn *check_pid(mc_cache *c)
{
    mc_conn *drop = NULL;
    unsigned i;

    if (c->pid == getpid()) return NULL;
    c->pid = getpid();
    for (i = 0; i < c->nsrv; i++) {
        while (c->srv[i].idle) {
            mc_conn *x = c->srv[i].idle;
            c->srv[i].idle = x->next;
            x->next = drop;
            drop = x;
        }
        c->srv[i].nidle = 0;
        c->srv[i].gen++;
    }
    return drop;
}

/* ------------------------------------------------------------ connections */

static apr_status_t conn_open(mc_cache *c, unsigned si, apr_time_t deadline, mc_conn **out)
{
    mc_server *s = &c->srv[si];
    apr_pool_t *cp;
    apr_sockaddr_t *sa;
    mc_conn *conn;
    apr_status_t rv;

    rv = apr_pool_create_unmanaged_ex(&cp, NULL, NULL);
    if (rv != APR_SUCCESS) return rv;
    conn = apr_pcalloc(cp, sizeof(*conn));
    conn->p = cp;
    conn->srv = si;
    rv = apr_sockaddr_info_get(&sa, s->host, APR_UNSPEC, s->port, 0, cp);
    for (; rv == APR_SUCCESS && sa; sa = sa->next) {
        rv = apr_socket_create(&conn->sock, sa->family, SOCK_STREAM, APR_PROTO_TCP, cp);
        if (rv != APR_SUCCESS) break;
        rv = time_left(conn->sock, deadline);
        if (rv == APR_SUCCESS) rv = apr_socket_connect(conn->sock, sa);
        if (rv == APR_SUCCESS) break;
        apr_socket_close(conn->sock);
        conn->sock = NULL;
        if (APR_STATUS_IS_TIMEUP(rv)) break;
    }
    if (rv == APR_SUCCESS && conn->sock == NULL) rv = APR_EGENERAL;
    if (rv != APR_SUCCESS) {
        conn->sock = NULL;
        apr_pool_destroy(cp);
        return rv;
    }
    apr_socket_opt_set(conn->sock, APR_TCP_NODELAY, 1);
    *out = conn;
    return APR_SUCCESS;
}

/* A connection to the key's server, or to the next one up. */
static apr_status_t acquire(mc_cache *c, unsigned start, apr_time_t deadline, mc_conn **out)
{
    apr_status_t last = APR_ECONNREFUSED;
    unsigned k;

    for (k = 0; k < c->nsrv; k++) {
        unsigned si = (start + k) % c->nsrv;
        mc_server *s = &c->srv[si];
        mc_conn *found = NULL, *drop;
        apr_time_t now = apr_time_now();
        apr_status_t rv;
        int probing = 0;

        apr_thread_mutex_lock(c->mu);
        drop = check_pid(c);
        if (s->down) {
            if (now < s->retry_at) {
                last = s->last_err;
                apr_thread_mutex_unlock(c->mu);
                close_list(drop);
                continue;
            }
            /* this operation probes; the others keep skipping it meanwhile */
            probing = 1;
            s->retry_at = now + c->timeout + MC_BACKOFF;
        }
        while (!probing && s->idle) {
            mc_conn *x = s->idle;
            s->idle = x->next;
            s->nidle--;
            if (x->gen == s->gen && now - x->idle_since < MC_IDLE_TTL) {
                found = x;
                break;
            }
            x->next = drop;
            drop = x;
        }
        apr_thread_mutex_unlock(c->mu);
        close_list(drop);
        if (found) {
            found->next = NULL;
            found->reused = 1;
            *out = found;
            return APR_SUCCESS;
        }

        rv = conn_open(c, si, deadline, &found);
        apr_thread_mutex_lock(c->mu);
        if (rv == APR_SUCCESS) {
            if (s->down) {
                s->down = 0;
                tpo_log(TPO_LOG_MARK, TPO_LOG_NOTICE, "memcached %s is back", s->name);
            }
            found->gen = s->gen;
        }
        else {
            mark_down(s, rv);
        }
        apr_thread_mutex_unlock(c->mu);
        if (rv == APR_SUCCESS) {
            *out = found;
            return APR_SUCCESS;
        }
        last = rv;
        if (apr_time_now() >= deadline) break;
    }
    return failure(last);
}

static void release(mc_cache *c, mc_conn *conn)
{
    mc_server *s = &c->srv[conn->srv];
    int keep = 0;

    apr_thread_mutex_lock(c->mu);
    if (!conn->broken && conn->gen == s->gen && s->nidle < MC_MAX_IDLE
        && c->pid == getpid() && conn->rpos == conn->rlen) {
        conn->idle_since = apr_time_now();
        conn->reused = 0;
        conn->rpos = conn->rlen = 0;
        conn->next = s->idle;
        s->idle = conn;
        s->nidle++;
        keep = 1;
    }
    apr_thread_mutex_unlock(c->mu);
    if (!keep) conn_close(conn);
}

/* A failed connection: close it. A timeout with not one byte received
 * marks the server down (a server that was sending, only slowly, is alive);
 * a lost connection drops the other idle ones (they are likely lost too). */
static void discard(mc_cache *c, mc_conn *conn, apr_status_t rv)
{
    mc_server *s = &c->srv[conn->srv];

    apr_thread_mutex_lock(c->mu);
    if (APR_STATUS_IS_TIMEUP(rv) && conn->rx == 0) {
        mark_down(s, rv);
    }
    else if (conn_lost(rv) || APR_STATUS_IS_TIMEUP(rv)) {
        s->gen++;
    }
    apr_thread_mutex_unlock(c->mu);
    conn_close(conn);
}

/* ------------------------------------------------------------ I/O */

static apr_status_t send_iov(mc_conn *conn, struct iovec *v, int n, apr_time_t deadline)
{
    while (n > 0) {
        apr_size_t w = 0;
        apr_status_t rv = time_left(conn->sock, deadline);

        if (rv == APR_SUCCESS) rv = apr_socket_sendv(conn->sock, v, n, &w);
        if (rv != APR_SUCCESS) {
            conn->broken = 1;
            return rv;
        }
        while (n > 0 && w >= v->iov_len) {
            w -= v->iov_len;
            v++;
            n--;
        }
        if (n > 0) {
            v->iov_base = (char *)v->iov_base + w;
            v->iov_len -= w;
        }
    }
    return APR_SUCCESS;
}

static apr_status_t rd_fill(mc_conn *conn, apr_time_t deadline)
{
    apr_size_t len;
    apr_status_t rv;

    if (conn->rpos > 0) {
        memmove(conn->rbuf, conn->rbuf + conn->rpos, conn->rlen - conn->rpos);
        conn->rlen -= conn->rpos;
        conn->rpos = 0;
    }
    if (conn->rlen == sizeof(conn->rbuf)) {
        conn->broken = 1;
        return APR_EGENERAL;
    }
    rv = time_left(conn->sock, deadline);
    len = sizeof(conn->rbuf) - conn->rlen;
    if (rv == APR_SUCCESS) rv = apr_socket_recv(conn->sock, conn->rbuf + conn->rlen, &len);
    else len = 0;
    if (len > 0) {
        conn->rlen += len;
        conn->rx += len;
        return APR_SUCCESS;
    }
    conn->broken = 1;
    return rv == APR_SUCCESS ? APR_EOF : rv;
}

static apr_status_t proto_error(mc_cache *c, mc_conn *conn, const char *what)
{
    conn->broken = 1;
    tpo_log(TPO_LOG_MARK, TPO_LOG_WARN, "memcached %s: unexpected reply (%s)",
            c->srv[conn->srv].name, what);
    return APR_EGENERAL;
}

/* One CRLF-terminated line (CR LF stripped, NUL-terminated in the buffer;
 * valid until the next read). */
static apr_status_t rd_line(mc_cache *c, mc_conn *conn, apr_time_t deadline,
                            char **line, apr_size_t *len)
{
    for (;;) {
        char *s = conn->rbuf + conn->rpos;
        apr_size_t avail = conn->rlen - conn->rpos;
        char *nl = memchr(s, '\n', avail);
        apr_status_t rv;

        if (nl) {
            if (nl == s || nl[-1] != '\r') return proto_error(c, conn, "bare LF");
            nl[-1] = '\0';
            *line = s;
            *len = (apr_size_t)(nl - 1 - s);
            conn->rpos += (apr_size_t)(nl - s) + 1;
            return APR_SUCCESS;
        }
        if (avail >= MC_MAX_LINE) return proto_error(c, conn, "line too long");
        rv = rd_fill(conn, deadline);
        if (rv != APR_SUCCESS) return rv;
    }
}

static apr_status_t rd_exact(mc_conn *conn, apr_time_t deadline, char *dst, apr_size_t n)
{
    apr_size_t avail = conn->rlen - conn->rpos, take = avail < n ? avail : n;

    memcpy(dst, conn->rbuf + conn->rpos, take);
    conn->rpos += take;
    dst += take;
    n -= take;
    while (n > 0) {
        apr_size_t len = n;
        apr_status_t rv = time_left(conn->sock, deadline);

        if (rv == APR_SUCCESS) rv = apr_socket_recv(conn->sock, dst, &len);
        else len = 0;
        if (len == 0) {
            conn->broken = 1;
            return rv == APR_SUCCESS ? APR_EOF : rv;
        }
        conn->rx += len;
        dst += len;
        n -= len;
    }
    return APR_SUCCESS;
}

/* Strict unsigned decimal: digits only, no sign, no overflow past max. */
static int parse_uint(const char *s, apr_size_t n, apr_uint64_t max, apr_uint64_t *out)
{
    apr_uint64_t v = 0;
    apr_size_t i;

    if (n == 0 || n > 20) return 0;
    for (i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') return 0;
        v = v * 10 + (apr_uint64_t)(s[i] - '0');
        if (v > max) return 0;
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
static apr_status_t parse_value_line(mc_cache *c, mc_conn *conn, const mc_op *op,
                                     char *line, apr_size_t len, apr_size_t *bytes)
{
    char *f[5];
    apr_size_t flen[5];
    int nf = 0;
    apr_size_t i = 0;
    apr_uint64_t v;

    while (i < len && nf < 5) {
        apr_size_t st = i;
        while (i < len && line[i] != ' ') i++;
        f[nf] = line + st;
        flen[nf++] = i - st;
        if (i < len) i++;   /* the single space */
    }
    if (i < len || nf < 4 || flen[0] != 5 || memcmp(f[0], "VALUE", 5) != 0
        || flen[1] != op->klen || memcmp(f[1], op->key, op->klen) != 0
        || !parse_uint(f[2], flen[2], 0xffffffffu, &v)
        || (nf == 5 && !parse_uint(f[4], flen[4], APR_UINT64_MAX, &v))) {
        return proto_error(c, conn, "bad VALUE line");
    }
    if (!parse_uint(f[3], flen[3], MC_MAX_VALUE, &v)) {
        return proto_error(c, conn, "value length out of bounds");
    }
    *bytes = (apr_size_t)v;
    return APR_SUCCESS;
}

static int line_is(const char *line, apr_size_t len, const char *lit)
{
    apr_size_t n = strlen(lit);
    return len == n && memcmp(line, lit, n) == 0;
}

static apr_status_t mc_exec(mc_cache *c, mc_conn *conn, mc_op *op, apr_time_t deadline)
{
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
        int h = apr_snprintf(hdr, sizeof(hdr), " 0 %ld %" APR_SIZE_T_FMT "\r\n",
                             op->exptime, op->vlen);
        v[n].iov_base = hdr;
        v[n++].iov_len = (apr_size_t)h;
        v[n].iov_base = (void *)op->val;
        v[n++].iov_len = op->vlen;
    }
    v[n].iov_base = (void *)"\r\n";
    v[n++].iov_len = 2;
    rv = send_iov(conn, v, n, deadline);
    if (rv != APR_SUCCESS) return rv;

    rv = rd_line(c, conn, deadline, &line, &len);
    if (rv != APR_SUCCESS) return rv;

    switch (op->kind) {
    case OP_GET: {
        apr_size_t bytes;
        char *buf, crlf[2];

        if (line_is(line, len, "END")) return APR_NOTFOUND;
        if (len < 6 || memcmp(line, "VALUE ", 6) != 0) {
            return proto_error(c, conn, "get");
        }
        rv = parse_value_line(c, conn, op, line, len, &bytes);
        if (rv != APR_SUCCESS) return rv;
        buf = apr_palloc(op->p, bytes + 1);
        rv = rd_exact(conn, deadline, buf, bytes);
        if (rv == APR_SUCCESS) rv = rd_exact(conn, deadline, crlf, 2);
        if (rv != APR_SUCCESS) return rv;
        if (crlf[0] != '\r' || crlf[1] != '\n') return proto_error(c, conn, "data not CRLF-terminated");
        rv = rd_line(c, conn, deadline, &line, &len);
        if (rv != APR_SUCCESS) return rv;
        if (!line_is(line, len, "END")) return proto_error(c, conn, "no END after value");
        buf[bytes] = '\0';
        *op->out = buf;
        *op->outlen = bytes;
        return APR_SUCCESS;
    }
    case OP_SET:
    case OP_ADD:
        if (line_is(line, len, "STORED")) return APR_SUCCESS;
        if (op->kind == OP_ADD && line_is(line, len, "NOT_STORED")) return APR_EEXIST;
        if (line_is(line, len, "SERVER_ERROR object too large for cache")) {
            conn->broken = 1;   /* the server swallows the data; do not bet on it */
            return APR_ENOSPC;
        }
        return proto_error(c, conn, op->kind == OP_SET ? "set" : "add");
    default:
        if (line_is(line, len, "DELETED")) return APR_SUCCESS;
        if (line_is(line, len, "NOT_FOUND")) return APR_NOTFOUND;
        return proto_error(c, conn, "delete");
    }
}

static apr_status_t run(mc_cache *c, mc_op *op)
{
    apr_time_t deadline = apr_time_now() + c->timeout;
    unsigned start = c->nsrv > 1 ? key_hash(op->key, op->klen) % c->nsrv : 0;
    apr_status_t rv = APR_EGENERAL;
    int attempt;

    for (attempt = 0; attempt < 2; attempt++) {
        mc_conn *conn;
        int stale;

        rv = acquire(c, start, deadline, &conn);
        if (rv != APR_SUCCESS) return rv;
        conn->rx = 0;
        conn->broken = 0;
        rv = mc_exec(c, conn, op, deadline);
        if (!conn->broken) {
            release(c, conn);
            return rv;
        }
        if (rv == APR_ENOSPC) {
            conn_close(conn);
            return rv;
        }
        /* the server closed an idle connection (restart, idle timeout):
         * nothing of this command was answered, try once more afresh */
        stale = conn->reused && conn->rx == 0 && conn_lost(rv);
        discard(c, conn, rv);
        if (!stale) break;
    }
    return failure(rv);
}

/* ------------------------------------------------------------ contract */

static apr_status_t mc_get(tpo_cache *tc, const char *key, apr_pool_t *p,
                           char **val, apr_size_t *vlen)
{
    mc_op op = { OP_GET, key, 0, NULL, 0, 0, p, val, vlen };

    if (!key_ok(key, &op.klen)) return APR_NOTFOUND;  /* can never have been stored */
    return run(tc->impl, &op);
}

static apr_status_t mc_store(tpo_cache *tc, int kind, const char *key, const void *val,
                             apr_size_t vlen, apr_time_t expiry)
{
    mc_op op = { kind, key, 0, val, vlen, 0, NULL, NULL, NULL };

    if (!key_ok(key, &op.klen) || (val == NULL && vlen > 0)) return APR_EINVAL;
    if (vlen > MC_MAX_VALUE) return APR_ENOSPC;
    if (val == NULL) op.val = "";
    op.exptime = exptime(expiry);
    return run(tc->impl, &op);
}

static apr_status_t mc_set(tpo_cache *tc, const char *key, const void *val,
                           apr_size_t vlen, apr_time_t expiry)
{
    return mc_store(tc, OP_SET, key, val, vlen, expiry);
}

static apr_status_t mc_add(tpo_cache *tc, const char *key, const void *val,
                           apr_size_t vlen, apr_time_t expiry)
{
    return mc_store(tc, OP_ADD, key, val, vlen, expiry);
}

static apr_status_t mc_del(tpo_cache *tc, const char *key)
{
    mc_op op = { OP_DEL, key, 0, NULL, 0, 0, NULL, NULL, NULL };

    if (!key_ok(key, &op.klen)) return APR_NOTFOUND;
    return run(tc->impl, &op);
}

static const tpo_cache_ops mc_ops = { "memcache", mc_get, mc_set, mc_add, mc_del };

static apr_status_t mc_cleanup(void *data)
{
    mc_cache *c = data;
    unsigned i;

    for (i = 0; i < c->nsrv; i++) {
        mc_conn *list = c->srv[i].idle;
        c->srv[i].idle = NULL;
        c->srv[i].nidle = 0;
        if (c->pid == getpid()) close_list(list);
    }
    return APR_SUCCESS;
}

apr_status_t tpo_memcache_cache_create(apr_pool_t *p, const char *servers,
                                       apr_interval_time_t timeout,
                                       tpo_cache **out, const char **err)
{
    mc_cache *c;
    char *list, *tok, *last;
    apr_status_t rv;

    *out = NULL;
    if (err) *err = NULL;
    if (servers == NULL || *servers == '\0') {
        if (err) *err = "no memcached server given";
        return APR_EINVAL;
    }
    if (timeout <= 0) {
        if (err) *err = "the memcached timeout must be positive";
        return APR_EINVAL;
    }
    c = apr_pcalloc(p, sizeof(*c));
    c->srv = apr_pcalloc(p, MC_MAX_SERVERS * sizeof(mc_server));
    c->timeout = timeout;
    c->pid = getpid();
    list = apr_pstrdup(p, servers);
    for (tok = apr_strtok(list, ", \t", &last); tok; tok = apr_strtok(NULL, ", \t", &last)) {
        char *host = NULL, *scope = NULL;
        apr_port_t port = 0;
        mc_server *s;

        if (c->nsrv == MC_MAX_SERVERS) {
            if (err) *err = "too many memcached servers (at most 16)";
            return APR_EINVAL;
        }
        rv = apr_parse_addr_port(&host, &scope, &port, tok, p);
        /* APR takes "a:b" without brackets for an IPv6 host: not here */
        if (rv != APR_SUCCESS || host == NULL || scope != NULL
            || (strchr(host, ':') && tok[0] != '[')) {
            if (err) *err = apr_psprintf(p, "bad memcached server '%s' (host:port)", tok);
            return APR_EINVAL;
        }
        s = &c->srv[c->nsrv++];
        s->host = host;
        s->port = port ? port : MC_DEFAULT_PORT;
        s->name = apr_psprintf(p, strchr(host, ':') ? "[%s]:%u" : "%s:%u", host, s->port);
    }
    if (c->nsrv == 0) {
        if (err) *err = "no memcached server given";
        return APR_EINVAL;
    }
    rv = apr_thread_mutex_create(&c->mu, APR_THREAD_MUTEX_DEFAULT, p);
    if (rv != APR_SUCCESS) {
        if (err) *err = "cannot create the memcached client mutex";
        return rv;
    }
    apr_pool_cleanup_register(p, c, mc_cleanup, apr_pool_cleanup_null);
    c->pub.ops = &mc_ops;
    c->pub.impl = c;
    *out = &c->pub;
    return APR_SUCCESS;
}
