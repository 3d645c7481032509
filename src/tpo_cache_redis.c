/* Redis backend of the cache contract (see tpo_cache_redis.h), with a RESP2
 * client of its own: APR-util's apr_redis has neither SET NX nor AUTH, and
 * hiredis brings no timeout-bounded connection pool.
 *
 * Commands: AUTH <password> (once per connection, right after connect),
 * GET k, SET k v PX ms, SET k v NX PX ms (add: a nil reply is APR_EEXIST),
 * DEL k (":0" is APR_NOTFOUND). Keys and values go as bulk strings, so
 * values are binary-safe.
 *
 * Replies are parsed strictly: a reply line is at most RS_MAX_LINE bytes,
 * lengths are plain decimal without overflow, a bulk string is at most
 * RS_MAX_BULK bytes and must end in CRLF, and each command accepts only the
 * reply types it can produce. Anything else is a protocol error: the
 * connection is closed and the operation fails (never APR_NOTFOUND).
 *
 * Connections (the same small layer as the memcached backend):
 *  - one deadline per operation (now + timeout) bounds connect, AUTH, send
 *    and receive together; the socket timeout is set to what is left before
 *    each system call;
 *  - idle connections are kept per server in a LIFO list under one mutex;
 *    a connection that saw an error of any kind (I/O, protocol, an error
 *    reply) is closed, never put back; idle ones older than IDLE_TTL are
 *    dropped;
 *  - servers are tried in the order given: a server whose connect fails or
 *    that times out is marked down and skipped for BACKOFF, then exactly
 *    one operation probes it while the others keep skipping it. Recovery
 *    needs nothing but the server coming back. New connections always go
 *    to the first server that is up, so after a fail-back the connections
 *    to a fail-over server just age out of the idle list;
 *  - a pooled connection that turns out to be closed by the server (EOF or
 *    reset before any reply byte: the server restarted, or closed it for
 *    idleness) is retried once on a new connection, and every idle
 *    connection to that server is dropped (generation counter);
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
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/uio.h>
#include <apr_network_io.h>
#include <apr_strings.h>
#include <apr_thread_mutex.h>
#include "tpo_cache_redis.h"
#include "tpo_log.h"

#define RS_DEFAULT_PORT 6379
#define RS_MAX_SERVERS  16
#define RS_MAX_BULK     (16u * 1024 * 1024)   /* largest value read or written */
#define RS_RBUF         4096
#define RS_MAX_LINE     1024
#define RS_MAX_IDLE     64                     /* idle connections kept per server */
#define RS_IDLE_TTL     apr_time_from_sec(30)
#define RS_BACKOFF      apr_time_from_msec(500)
#define RS_AUTH_LOG_EVERY apr_time_from_sec(10)
#define RS_MAX_ARGS     6

typedef struct rs_conn rs_conn;
struct rs_conn {
    rs_conn *next;
    apr_pool_t *p;          /* unmanaged: owns the socket */
    apr_socket_t *sock;
    unsigned srv;
    apr_uint32_t gen;       /* server generation when connected */
    apr_time_t idle_since;
    int reused;             /* taken from the idle list for this operation */
    int broken;             /* must be closed, never reused */
    apr_size_t rx;          /* bytes received during this operation */
    apr_size_t rpos, rlen;
    char rbuf[RS_RBUF];
};

typedef struct {
    const char *host;
    const char *name;       /* "host:port" for log lines */
    apr_port_t port;
    apr_uint32_t gen;
    int down;
    apr_time_t retry_at;    /* while down: when the next probe may go */
    apr_status_t last_err;
    apr_time_t auth_logged;
    rs_conn *idle;
    unsigned nidle;
} rs_server;

typedef struct {
    tpo_cache pub;
    apr_thread_mutex_t *mu; /* guards every rs_server and pid */
    rs_server *srv;
    unsigned nsrv;
    const char *password;   /* NULL: no AUTH */
    apr_size_t pwlen;
    apr_interval_time_t timeout;
    pid_t pid;              /* idle connections belong to this process */
} rs_cache;

/* A parsed reply. */
enum { R_SIMPLE, R_ERROR, R_INT, R_BULK, R_NIL };
typedef struct {
    int type;
    apr_int64_t num;
    char word[32];          /* R_SIMPLE: the status; R_ERROR: the error code only */
    char *bulk;             /* R_BULK, allocated in the caller's pool */
    apr_size_t len;
} rs_reply;

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

static int key_ok(const char *key, apr_size_t *klen)
{
    apr_size_t n;

    if (key == NULL) return 0;
    n = strnlen(key, TPO_CACHE_MAX_KEY + 1);
    if (n == 0 || n > TPO_CACHE_MAX_KEY) return 0;
    *klen = n;
    return 1;
}

static void conn_close(rs_conn *conn)
{
    if (conn->sock) apr_socket_close(conn->sock);
    apr_pool_destroy(conn->p);
}

static void close_list(rs_conn *list)
{
    while (list) {
        rs_conn *next = list->next;
        conn_close(list);
        list = next;
    }
}

/* Under the mutex. */
static void mark_down(rs_server *s, apr_status_t rv)
{
    s->gen++;
    s->retry_at = apr_time_now() + RS_BACKOFF;
    s->last_err = failure(rv);
    if (!s->down) {
        char buf[120];
        s->down = 1;
        tpo_log(TPO_LOG_MARK, TPO_LOG_ERR, "redis %s unavailable: %s",
                s->name, apr_strerror(rv, buf, sizeof(buf)));
    }
}

/* Under the mutex: after fork, idle connections are the parent's. */
static rs_conn *check_pid(rs_cache *c)
{
    rs_conn *drop = NULL;
    unsigned i;

    if (c->pid == getpid()) return NULL;
    c->pid = getpid();
    for (i = 0; i < c->nsrv; i++) {
        while (c->srv[i].idle) {
            rs_conn *x = c->srv[i].idle;
            c->srv[i].idle = x->next;
            x->next = drop;
            drop = x;
        }
        c->srv[i].nidle = 0;
        c->srv[i].gen++;
    }
    return drop;
}

/* ------------------------------------------------------------ I/O */

static apr_status_t send_iov(rs_conn *conn, struct iovec *v, int n, apr_time_t deadline)
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

/* Send one command as a RESP array of bulk strings. */
static apr_status_t send_cmd(rs_conn *conn, apr_time_t deadline, int argc,
                             const void *const *argv, const apr_size_t *argl)
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
    return send_iov(conn, v, n, deadline);
}

static apr_status_t rd_fill(rs_conn *conn, apr_time_t deadline)
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

static apr_status_t proto_error(rs_cache *c, rs_conn *conn, const char *what)
{
    conn->broken = 1;
    tpo_log(TPO_LOG_MARK, TPO_LOG_WARN, "redis %s: protocol error (%s)",
            c->srv[conn->srv].name, what);
    return APR_EGENERAL;
}

/* One CRLF-terminated line (CR LF stripped, NUL-terminated in the buffer;
 * valid until the next read). */
static apr_status_t rd_line(rs_cache *c, rs_conn *conn, apr_time_t deadline,
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
        if (avail >= RS_MAX_LINE) return proto_error(c, conn, "line too long");
        rv = rd_fill(conn, deadline);
        if (rv != APR_SUCCESS) return rv;
    }
}

static apr_status_t rd_exact(rs_conn *conn, apr_time_t deadline, char *dst, apr_size_t n)
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
    if (i == n || n - i > 18) return 0;
    for (; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') return 0;
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
        if (ch <= 0x20 || ch >= 0x7f) break;
        out[i] = (char)ch;
    }
    out[i] = '\0';
}

/* Read one reply; bulk strings only when p is given (else protocol error). */
static apr_status_t rd_reply(rs_cache *c, rs_conn *conn, apr_time_t deadline,
                             apr_pool_t *p, rs_reply *r)
{
    char *line, crlf[2];
    apr_size_t len;
    apr_int64_t n;
    apr_status_t rv = rd_line(c, conn, deadline, &line, &len);

    if (rv != APR_SUCCESS) return rv;
    if (len == 0) return proto_error(c, conn, "empty reply line");
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
        if (!parse_int(line + 1, len - 1, 1, &r->num)) return proto_error(c, conn, "bad integer");
        r->type = R_INT;
        return APR_SUCCESS;
    case '$':
        if (len == 3 && line[1] == '-' && line[2] == '1') {
            r->type = R_NIL;
            return APR_SUCCESS;
        }
        if (!parse_int(line + 1, len - 1, 0, &n) || n > (apr_int64_t)RS_MAX_BULK) {
            return proto_error(c, conn, "bulk length out of bounds");
        }
        if (p == NULL) return proto_error(c, conn, "unexpected bulk reply");
        r->type = R_BULK;
        r->len = (apr_size_t)n;
        r->bulk = apr_palloc(p, r->len + 1);
        rv = rd_exact(conn, deadline, r->bulk, r->len);
        if (rv == APR_SUCCESS) rv = rd_exact(conn, deadline, crlf, 2);
        if (rv != APR_SUCCESS) return rv;
        if (crlf[0] != '\r' || crlf[1] != '\n') return proto_error(c, conn, "bulk not CRLF-terminated");
        r->bulk[r->len] = '\0';
        return APR_SUCCESS;
    default:
        return proto_error(c, conn, "unexpected reply type");
    }
}

static apr_status_t error_reply(rs_cache *c, rs_conn *conn, const char *cmd, const rs_reply *r)
{
    conn->broken = 1;
    tpo_log(TPO_LOG_MARK, TPO_LOG_WARN, "redis %s: %s answered %s",
            c->srv[conn->srv].name, cmd, r->word[0] ? r->word : "an error");
    return APR_EGENERAL;
}

/* ------------------------------------------------------------ connections */

static apr_status_t conn_auth(rs_cache *c, rs_conn *conn, apr_time_t deadline)
{
    const void *argv[2] = { "AUTH", c->password };
    apr_size_t argl[2] = { 4, c->pwlen };
    rs_reply r;
    apr_status_t rv = send_cmd(conn, deadline, 2, argv, argl);

    if (rv == APR_SUCCESS) rv = rd_reply(c, conn, deadline, NULL, &r);
    if (rv != APR_SUCCESS) return rv;
    if (r.type == R_SIMPLE && strcmp(r.word, "OK") == 0) return APR_SUCCESS;
    if (r.type == R_ERROR) {
        rs_server *s = &c->srv[conn->srv];
        apr_time_t now = apr_time_now();
        int log_it;

        apr_thread_mutex_lock(c->mu);
        log_it = now - s->auth_logged >= RS_AUTH_LOG_EVERY || s->auth_logged == 0;
        if (log_it) s->auth_logged = now;
        apr_thread_mutex_unlock(c->mu);
        if (log_it) {
            tpo_log(TPO_LOG_MARK, TPO_LOG_ERR, "redis %s rejected AUTH (%s): check the password",
                    s->name, r.word[0] ? r.word : "error");
        }
        conn->broken = 1;
        return APR_EACCES;
    }
    return proto_error(c, conn, "AUTH");
}

static apr_status_t conn_open(rs_cache *c, unsigned si, apr_time_t deadline, rs_conn **out)
{
    rs_server *s = &c->srv[si];
    apr_pool_t *cp;
    apr_sockaddr_t *sa;
    rs_conn *conn;
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
    if (rv == APR_SUCCESS) {
        apr_socket_opt_set(conn->sock, APR_TCP_NODELAY, 1);
        if (c->password) rv = conn_auth(c, conn, deadline);
    }
    if (rv != APR_SUCCESS) {
        conn_close(conn);
        return rv;
    }
    *out = conn;
    return APR_SUCCESS;
}

/* A connection to the first server that is up, in the order given. */
static apr_status_t acquire(rs_cache *c, apr_time_t deadline, rs_conn **out)
{
    apr_status_t last = APR_ECONNREFUSED;
    unsigned si;

    for (si = 0; si < c->nsrv; si++) {
        rs_server *s = &c->srv[si];
        rs_conn *found = NULL, *drop;
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
            s->retry_at = now + c->timeout + RS_BACKOFF;
        }
        while (!probing && s->idle) {
            rs_conn *x = s->idle;
            s->idle = x->next;
            s->nidle--;
            if (x->gen == s->gen && now - x->idle_since < RS_IDLE_TTL) {
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
        if (rv == APR_EACCES) {
            /* the server is up but refuses us; the next one would too */
            apr_thread_mutex_lock(c->mu);
            if (s->down) {
                s->down = 0;
                tpo_log(TPO_LOG_MARK, TPO_LOG_NOTICE, "redis %s is back", s->name);
            }
            apr_thread_mutex_unlock(c->mu);
            return rv;
        }
        apr_thread_mutex_lock(c->mu);
        if (rv == APR_SUCCESS) {
            if (s->down) {
                s->down = 0;
                tpo_log(TPO_LOG_MARK, TPO_LOG_NOTICE, "redis %s is back", s->name);
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

static void release(rs_cache *c, rs_conn *conn)
{
    rs_server *s = &c->srv[conn->srv];
    int keep = 0;

    apr_thread_mutex_lock(c->mu);
    if (!conn->broken && conn->gen == s->gen && s->nidle < RS_MAX_IDLE
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
static void discard(rs_cache *c, rs_conn *conn, apr_status_t rv)
{
    rs_server *s = &c->srv[conn->srv];

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

static apr_status_t rs_exec(rs_cache *c, rs_conn *conn, rs_op *op, apr_time_t deadline)
{
    const void *argv[RS_MAX_ARGS];
    apr_size_t argl[RS_MAX_ARGS];
    char pxbuf[24];
    int argc = 0;
    rs_reply r;
    apr_status_t rv;

    switch (op->kind) {
    case OP_GET: argv[argc] = "GET"; argl[argc++] = 3; break;
    case OP_DEL: argv[argc] = "DEL"; argl[argc++] = 3; break;
    default:     argv[argc] = "SET"; argl[argc++] = 3; break;
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
    rv = send_cmd(conn, deadline, argc, argv, argl);
    if (rv == APR_SUCCESS) rv = rd_reply(c, conn, deadline, op->kind == OP_GET ? op->p : NULL, &r);
    if (rv != APR_SUCCESS) return rv;
    if (r.type == R_ERROR) {
        return error_reply(c, conn, op->kind == OP_GET ? "GET" : op->kind == OP_DEL ? "DEL" : "SET", &r);
    }

    switch (op->kind) {
    case OP_GET:
        if (r.type == R_NIL) return APR_NOTFOUND;
        if (r.type != R_BULK) return proto_error(c, conn, "GET");
        *op->out = r.bulk;
        *op->outlen = r.len;
        return APR_SUCCESS;
    case OP_SET:
    case OP_ADD:
        if (r.type == R_SIMPLE && strcmp(r.word, "OK") == 0) return APR_SUCCESS;
        if (op->kind == OP_ADD && r.type == R_NIL) return APR_EEXIST;
        return proto_error(c, conn, "SET");
    default:
        if (r.type == R_INT && r.num == 0) return APR_NOTFOUND;
        if (r.type == R_INT && r.num == 1) return APR_SUCCESS;
        return proto_error(c, conn, "DEL");
    }
}

static apr_status_t run(rs_cache *c, rs_op *op)
{
    apr_time_t deadline = apr_time_now() + c->timeout;
    apr_status_t rv = APR_EGENERAL;
    int attempt;

    for (attempt = 0; attempt < 2; attempt++) {
        rs_conn *conn;
        int stale;

        rv = acquire(c, deadline, &conn);
        if (rv != APR_SUCCESS) return rv;
        conn->rx = 0;
        conn->broken = 0;
        rv = rs_exec(c, conn, op, deadline);
        if (!conn->broken) {
            release(c, conn);
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

static apr_status_t rs_get(tpo_cache *tc, const char *key, apr_pool_t *p,
                           char **val, apr_size_t *vlen)
{
    rs_op op = { OP_GET, key, 0, NULL, 0, 0, p, val, vlen };

    if (!key_ok(key, &op.klen)) return APR_NOTFOUND;  /* can never have been stored */
    return run(tc->impl, &op);
}

static apr_status_t rs_store(tpo_cache *tc, int kind, const char *key, const void *val,
                             apr_size_t vlen, apr_time_t expiry)
{
    rs_op op = { kind, key, 0, val, vlen, 0, NULL, NULL, NULL };
    apr_time_t now = apr_time_now();
    apr_status_t rv;

    if (!key_ok(key, &op.klen) || (val == NULL && vlen > 0)) return APR_EINVAL;
    if (vlen > RS_MAX_BULK) return APR_ENOSPC;
    if (val == NULL) op.val = "";
    if (expiry <= now && kind == OP_SET) {
        /* replaced by something already gone: the key is gone */
        op.kind = OP_DEL;
        rv = run(tc->impl, &op);
        return rv == APR_NOTFOUND ? APR_SUCCESS : rv;
    }
    op.px = expiry <= now ? 1 : (expiry - now + 999) / 1000;
    return run(tc->impl, &op);
}

static apr_status_t rs_set(tpo_cache *tc, const char *key, const void *val,
                           apr_size_t vlen, apr_time_t expiry)
{
    return rs_store(tc, OP_SET, key, val, vlen, expiry);
}

static apr_status_t rs_add(tpo_cache *tc, const char *key, const void *val,
                           apr_size_t vlen, apr_time_t expiry)
{
    return rs_store(tc, OP_ADD, key, val, vlen, expiry);
}

static apr_status_t rs_del(tpo_cache *tc, const char *key)
{
    rs_op op = { OP_DEL, key, 0, NULL, 0, 0, NULL, NULL, NULL };

    if (!key_ok(key, &op.klen)) return APR_NOTFOUND;
    return run(tc->impl, &op);
}

static const tpo_cache_ops rs_ops = { "redis", rs_get, rs_set, rs_add, rs_del };

static apr_status_t rs_cleanup(void *data)
{
    rs_cache *c = data;
    unsigned i;

    for (i = 0; i < c->nsrv; i++) {
        rs_conn *list = c->srv[i].idle;
        c->srv[i].idle = NULL;
        c->srv[i].nidle = 0;
        if (c->pid == getpid()) close_list(list);
    }
    return APR_SUCCESS;
}

apr_status_t tpo_redis_cache_create(apr_pool_t *p, const char *servers,
                                    const char *password, apr_interval_time_t timeout,
                                    tpo_cache **out, const char **err)
{
    rs_cache *c;
    char *list, *tok, *last;
    apr_status_t rv;

    *out = NULL;
    if (err) *err = NULL;
    if (servers == NULL || *servers == '\0') {
        if (err) *err = "no redis server given";
        return APR_EINVAL;
    }
    if (timeout <= 0) {
        if (err) *err = "the redis timeout must be positive";
        return APR_EINVAL;
    }
    c = apr_pcalloc(p, sizeof(*c));
    c->srv = apr_pcalloc(p, RS_MAX_SERVERS * sizeof(rs_server));
    c->timeout = timeout;
    c->pid = getpid();
    if (password && *password) {
        c->password = apr_pstrdup(p, password);
        c->pwlen = strlen(password);
    }
    list = apr_pstrdup(p, servers);
    for (tok = apr_strtok(list, ", \t", &last); tok; tok = apr_strtok(NULL, ", \t", &last)) {
        char *host = NULL, *scope = NULL;
        apr_port_t port = 0;
        rs_server *s;

        if (c->nsrv == RS_MAX_SERVERS) {
            if (err) *err = "too many redis servers (at most 16)";
            return APR_EINVAL;
        }
        rv = apr_parse_addr_port(&host, &scope, &port, tok, p);
        /* APR takes "a:b" without brackets for an IPv6 host: not here */
        if (rv != APR_SUCCESS || host == NULL || scope != NULL
            || (strchr(host, ':') && tok[0] != '[')) {
            if (err) *err = apr_psprintf(p, "bad redis server '%s' (host:port)", tok);
            return APR_EINVAL;
        }
        s = &c->srv[c->nsrv++];
        s->host = host;
        s->port = port ? port : RS_DEFAULT_PORT;
        s->name = apr_psprintf(p, strchr(host, ':') ? "[%s]:%u" : "%s:%u", host, s->port);
    }
    if (c->nsrv == 0) {
        if (err) *err = "no redis server given";
        return APR_EINVAL;
    }
    rv = apr_thread_mutex_create(&c->mu, APR_THREAD_MUTEX_DEFAULT, p);
    if (rv != APR_SUCCESS) {
        if (err) *err = "cannot create the redis client mutex";
        return rv;
    }
    apr_pool_cleanup_register(p, c, rs_cleanup, apr_pool_cleanup_null);
    c->pub.ops = &rs_ops;
    c->pub.impl = c;
    *out = &c->pub;
    return APR_SUCCESS;
}
