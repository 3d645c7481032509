/* SPDX-License-Identifier: Apache-2.0
 * Licensed under the Apache License, Version 2.0 (see LICENSE). */
/* Pooled TCP connections to a list of servers (see tpo_netconn.h).
 *
 *  - every operation has one deadline (now + timeout) that bounds connect,
 *    on_connect, send and receive together; the socket timeout is set to
 *    what is left before each system call;
 *  - idle connections are kept per server in a LIFO list under one mutex;
 *    a connection that saw any error or unexpected reply is closed, never
 *    put back; idle ones older than IDLE_TTL are dropped;
 *  - a server whose connect fails (or that times out) is marked down and
 *    skipped for BACKOFF; then exactly one operation probes it (the others
 *    keep skipping it), and a successful connect marks it up again: a dead
 *    or hung server costs at most one timeout per BACKOFF, not one per
 *    request, and recovery needs no restart;
 *  - a pooled connection that turns out to be closed by the server (EOF or
 *    reset before any reply byte: the server restarted, or closed it for
 *    idleness) is retried once on a new connection, and every idle
 *    connection to that server is dropped (generation counter);
 *  - after fork, the child closes its copies of the idle connections it
 *    inherited (they stay the parent's) and opens its own. */
#include <string.h>
#include <unistd.h>
#include <apr_strings.h>
#include <apr_thread_mutex.h>
#include "tpo_netconn.h"
#include "tpo_log.h"

#define NC_MAX_SERVERS 16
#define NC_RBUF 4096
#define NC_MAX_LINE 1024
#define NC_MAX_IDLE 64 /* idle connections kept per server */
#define NC_IDLE_TTL apr_time_from_sec(30)
#define NC_BACKOFF apr_time_from_msec(500)

struct tpo_netconn {
    tpo_netconn *next;
    tpo_netpool *pool;
    apr_pool_t *p; /* unmanaged: owns the socket */
    apr_socket_t *sock;
    unsigned srv;
    apr_uint32_t gen; /* server generation when connected */
    apr_time_t idle_since;
    apr_time_t deadline; /* of the current operation */
    int reused;          /* taken from the idle list for this operation */
    int broken;          /* must be closed, never reused */
    int retired;         /* answered, but not to be reused */
    apr_size_t rx;       /* bytes received during this operation */
    apr_size_t rpos, rlen;
    char rbuf[NC_RBUF];
};

typedef struct {
    const char *host;
    const char *name; /* "host:port" for log lines */
    apr_port_t port;
    apr_uint32_t gen;
    int down;
    apr_time_t retry_at; /* while down: when the next probe may go */
    apr_status_t last_err;
    apr_time_t logged; /* for tpo_netconn_log_due() */
    tpo_netconn *idle;
    unsigned nidle;
} nc_server;

struct tpo_netpool {
    tpo_netpool_conf conf;
    apr_thread_mutex_t *mu; /* guards every nc_server and pid */
    nc_server *srv;
    unsigned nsrv;
    pid_t pid; /* idle connections belong to this process */
};

/* ------------------------------------------------------------ helpers */

/* Never let a failure read as an answer (see tpo_netpool_run). */
static apr_status_t failure(apr_status_t rv)
{
    if (rv == APR_SUCCESS || rv == APR_NOTFOUND || rv == APR_EEXIST || rv == APR_ENOSPC ||
        rv == APR_EINVAL) {
        return APR_EGENERAL;
    }
    return rv;
}

static int conn_lost(apr_status_t rv)
{
    return rv == APR_EOF || APR_STATUS_IS_ECONNRESET(rv) || APR_STATUS_IS_EPIPE(rv) ||
           APR_STATUS_IS_ECONNABORTED(rv);
}

static apr_status_t time_left(apr_socket_t *s, apr_time_t deadline)
{
    apr_interval_time_t left = deadline - apr_time_now();

    if (left <= 0)
        return APR_TIMEUP;
    return apr_socket_timeout_set(s, left);
}

static void conn_close(tpo_netconn *conn)
{
    if (conn->sock)
        apr_socket_close(conn->sock);
    apr_pool_destroy(conn->p);
}

static void close_list(tpo_netconn *list)
{
    while (list) {
        tpo_netconn *next = list->next;
        conn_close(list);
        list = next;
    }
}

/* Under the mutex. */
static void mark_down(tpo_netpool *np, nc_server *s, apr_status_t rv)
{
    s->gen++;
    s->retry_at = apr_time_now() + NC_BACKOFF;
    s->last_err = failure(rv);
    if (!s->down) {
        char buf[120];
        s->down = 1;
        tpo_log(TPO_LOG_MARK, TPO_LOG_ERR, TPO_APLOGNO(00071) "%s %s unavailable: %s",
                np->conf.label, s->name, apr_strerror(rv, buf, sizeof(buf)));
    }
}

/* Under the mutex. */
static void mark_up(tpo_netpool *np, nc_server *s)
{
    if (s->down) {
        s->down = 0;
        tpo_log(TPO_LOG_MARK, TPO_LOG_NOTICE, TPO_APLOGNO(00072) "%s %s is back", np->conf.label,
                s->name);
    }
}

/* Under the mutex: after fork, idle connections are the parent's. */
static tpo_netconn *check_pid(tpo_netpool *np)
{
    tpo_netconn *drop = NULL;
    unsigned i;

    if (np->pid == getpid())
        return NULL;
    np->pid = getpid();
    for (i = 0; i < np->nsrv; i++) {
        while (np->srv[i].idle) {
            tpo_netconn *x = np->srv[i].idle;
            np->srv[i].idle = x->next;
            x->next = drop;
            drop = x;
        }
        np->srv[i].nidle = 0;
        np->srv[i].gen++;
    }
    return drop;
}

/* ------------------------------------------------------------ connections */

/* *refused: on_connect answered APR_EACCES (the server is up). */
static apr_status_t conn_open(tpo_netpool *np, unsigned si, apr_time_t deadline, tpo_netconn **out,
                              int *refused)
{
    nc_server *s = &np->srv[si];
    apr_pool_t *cp;
    apr_sockaddr_t *sa;
    tpo_netconn *conn;
    apr_status_t rv;

    *refused = 0;
    rv = apr_pool_create_unmanaged_ex(&cp, NULL, NULL);
    if (rv != APR_SUCCESS)
        return rv;
    conn = apr_pcalloc(cp, sizeof(*conn));
    conn->pool = np;
    conn->p = cp;
    conn->srv = si;
    conn->deadline = deadline;
    rv = apr_sockaddr_info_get(&sa, s->host, APR_UNSPEC, s->port, 0, cp);
    for (; rv == APR_SUCCESS && sa; sa = sa->next) {
        rv = apr_socket_create(&conn->sock, sa->family, SOCK_STREAM, APR_PROTO_TCP, cp);
        if (rv != APR_SUCCESS)
            break;
        rv = time_left(conn->sock, deadline);
        if (rv == APR_SUCCESS)
            rv = apr_socket_connect(conn->sock, sa);
        if (rv == APR_SUCCESS)
            break;
        apr_socket_close(conn->sock);
        conn->sock = NULL;
        if (APR_STATUS_IS_TIMEUP(rv))
            break;
    }
    if (rv == APR_SUCCESS && conn->sock == NULL)
        rv = APR_EGENERAL;
    if (rv == APR_SUCCESS) {
        apr_socket_opt_set(conn->sock, APR_TCP_NODELAY, 1);
        if (np->conf.on_connect) {
            rv = np->conf.on_connect(conn, np->conf.baton);
            *refused = rv == APR_EACCES;
        }
    }
    if (rv != APR_SUCCESS) {
        conn_close(conn);
        return rv;
    }
    *out = conn;
    return APR_SUCCESS;
}

/* A connection to server start, or to the next one up. */
static apr_status_t acquire(tpo_netpool *np, unsigned start, apr_time_t deadline, tpo_netconn **out)
{
    apr_status_t last = APR_ECONNREFUSED;
    unsigned k;

    for (k = 0; k < np->nsrv; k++) {
        unsigned si = (start + k) % np->nsrv;
        nc_server *s = &np->srv[si];
        tpo_netconn *found = NULL, *drop;
        apr_time_t now = apr_time_now();
        apr_status_t rv;
        int probing = 0, refused;

        apr_thread_mutex_lock(np->mu);
        drop = check_pid(np);
        if (s->down) {
            if (now < s->retry_at) {
                last = s->last_err;
                apr_thread_mutex_unlock(np->mu);
                close_list(drop);
                continue;
            }
            /* this operation probes; the others keep skipping it meanwhile */
            probing = 1;
            s->retry_at = now + np->conf.timeout + NC_BACKOFF;
        }
        while (!probing && s->idle) {
            tpo_netconn *x = s->idle;
            s->idle = x->next;
            s->nidle--;
            if (x->gen == s->gen && now - x->idle_since < NC_IDLE_TTL) {
                found = x;
                break;
            }
            x->next = drop;
            drop = x;
        }
        apr_thread_mutex_unlock(np->mu);
        close_list(drop);
        if (found) {
            found->next = NULL;
            found->reused = 1;
            *out = found;
            return APR_SUCCESS;
        }

        rv = conn_open(np, si, deadline, &found, &refused);
        apr_thread_mutex_lock(np->mu);
        if (rv == APR_SUCCESS || refused)
            mark_up(np, s);
        else
            mark_down(np, s, rv);
        if (rv == APR_SUCCESS)
            found->gen = s->gen;
        apr_thread_mutex_unlock(np->mu);
        if (refused)
            return rv; /* the next server would refuse us too */
        if (rv == APR_SUCCESS) {
            *out = found;
            return APR_SUCCESS;
        }
        last = rv;
        if (apr_time_now() >= deadline)
            break;
    }
    return failure(last);
}

static void release(tpo_netpool *np, tpo_netconn *conn)
{
    nc_server *s = &np->srv[conn->srv];
    int keep = 0;

    apr_thread_mutex_lock(np->mu);
    if (!conn->broken && !conn->retired && conn->gen == s->gen && s->nidle < NC_MAX_IDLE &&
        np->pid == getpid() && conn->rpos == conn->rlen) {
        conn->idle_since = apr_time_now();
        conn->reused = 0;
        conn->rpos = conn->rlen = 0;
        conn->next = s->idle;
        s->idle = conn;
        s->nidle++;
        keep = 1;
    }
    apr_thread_mutex_unlock(np->mu);
    if (!keep)
        conn_close(conn);
}

/* A failed connection: close it. A timeout with not one byte received
 * marks the server down (a server that was sending, only slowly, is alive);
 * a lost connection drops the other idle ones (they are likely lost too). */
static void discard(tpo_netpool *np, tpo_netconn *conn, apr_status_t rv)
{
    nc_server *s = &np->srv[conn->srv];

    apr_thread_mutex_lock(np->mu);
    if (APR_STATUS_IS_TIMEUP(rv) && conn->rx == 0) {
        mark_down(np, s, rv);
    }
    else if (conn_lost(rv) || APR_STATUS_IS_TIMEUP(rv)) {
        s->gen++;
    }
    apr_thread_mutex_unlock(np->mu);
    conn_close(conn);
}

apr_status_t tpo_netpool_run(tpo_netpool *np, unsigned start, tpo_netconn_fn *fn, void *baton)
{
    apr_time_t deadline = apr_time_now() + np->conf.timeout;
    apr_status_t rv = APR_EGENERAL;
    int attempt;

    start %= np->nsrv;
    for (attempt = 0; attempt < 2; attempt++) {
        tpo_netconn *conn = NULL;
        int stale;

        rv = acquire(np, start, deadline, &conn);
        if (rv != APR_SUCCESS)
            return rv;
        conn->deadline = deadline;
        conn->rx = 0;
        conn->broken = 0;
        rv = fn(conn, baton);
        if (!conn->broken) {
            release(np, conn);
            return rv;
        }
        /* the server closed an idle connection (restart, idle timeout):
         * nothing of this command was answered, try once more afresh */
        stale = conn->reused && conn->rx == 0 && conn_lost(rv);
        discard(np, conn, rv);
        if (!stale)
            break;
    }
    return failure(rv);
}

/* ------------------------------------------------------------ I/O */

apr_status_t tpo_netconn_send(tpo_netconn *conn, struct iovec *v, int n)
{
    while (n > 0) {
        apr_size_t w = 0;
        apr_status_t rv = time_left(conn->sock, conn->deadline);

        if (rv == APR_SUCCESS)
            rv = apr_socket_sendv(conn->sock, v, n, &w);
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

static apr_status_t rd_fill(tpo_netconn *conn)
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
    rv = time_left(conn->sock, conn->deadline);
    len = sizeof(conn->rbuf) - conn->rlen;
    if (rv == APR_SUCCESS)
        rv = apr_socket_recv(conn->sock, conn->rbuf + conn->rlen, &len);
    else
        len = 0;
    if (len > 0) {
        conn->rlen += len;
        conn->rx += len;
        return APR_SUCCESS;
    }
    conn->broken = 1;
    return rv == APR_SUCCESS ? APR_EOF : rv;
}

apr_status_t tpo_netconn_proto_error(tpo_netconn *conn, const char *what)
{
    tpo_netpool *np = conn->pool;

    conn->broken = 1;
    tpo_log(TPO_LOG_MARK, TPO_LOG_WARN, TPO_APLOGNO(00073) "%s %s: %s (%s)", np->conf.label,
            np->srv[conn->srv].name, np->conf.proto_phrase, what);
    return APR_EGENERAL;
}

apr_status_t tpo_netconn_line(tpo_netconn *conn, char **line, apr_size_t *len)
{
    for (;;) {
        char *s = conn->rbuf + conn->rpos;
        apr_size_t avail = conn->rlen - conn->rpos;
        char *nl = memchr(s, '\n', avail);
        apr_status_t rv;

        if (nl) {
            if (nl == s || nl[-1] != '\r')
                return tpo_netconn_proto_error(conn, "bare LF");
            nl[-1] = '\0';
            *line = s;
            *len = (apr_size_t)(nl - 1 - s);
            conn->rpos += (apr_size_t)(nl - s) + 1;
            return APR_SUCCESS;
        }
        if (avail >= NC_MAX_LINE)
            return tpo_netconn_proto_error(conn, "line too long");
        rv = rd_fill(conn);
        if (rv != APR_SUCCESS)
            return rv;
    }
}

apr_status_t tpo_netconn_read(tpo_netconn *conn, void *dst, apr_size_t n)
{
    char *d = dst;
    apr_size_t avail = conn->rlen - conn->rpos, take = avail < n ? avail : n;

    memcpy(d, conn->rbuf + conn->rpos, take);
    conn->rpos += take;
    d += take;
    n -= take;
    while (n > 0) {
        apr_size_t len = n;
        apr_status_t rv = time_left(conn->sock, conn->deadline);

        if (rv == APR_SUCCESS)
            rv = apr_socket_recv(conn->sock, d, &len);
        else
            len = 0;
        if (len == 0) {
            conn->broken = 1;
            return rv == APR_SUCCESS ? APR_EOF : rv;
        }
        conn->rx += len;
        d += len;
        n -= len;
    }
    return APR_SUCCESS;
}

void tpo_netconn_retire(tpo_netconn *conn)
{
    conn->retired = 1;
}

const char *tpo_netconn_name(const tpo_netconn *conn)
{
    return conn->pool->srv[conn->srv].name;
}

int tpo_netconn_log_due(tpo_netconn *conn, apr_interval_time_t every)
{
    tpo_netpool *np = conn->pool;
    nc_server *s = &np->srv[conn->srv];
    apr_time_t now = apr_time_now();
    int due;

    apr_thread_mutex_lock(np->mu);
    due = now - s->logged >= every || s->logged == 0;
    if (due)
        s->logged = now;
    apr_thread_mutex_unlock(np->mu);
    return due;
}

/* ------------------------------------------------------------ setup */

static apr_status_t pool_cleanup(void *data)
{
    tpo_netpool *np = data;
    unsigned i;

    for (i = 0; i < np->nsrv; i++) {
        tpo_netconn *list = np->srv[i].idle;
        np->srv[i].idle = NULL;
        np->srv[i].nidle = 0;
        if (np->pid == getpid())
            close_list(list);
    }
    return APR_SUCCESS;
}

apr_status_t tpo_netpool_create(apr_pool_t *p, const char *servers, const tpo_netpool_conf *conf,
                                tpo_netpool **out, const char **err)
{
    const char *label = conf->label;
    tpo_netpool *np;
    char *list, *tok, *last;
    apr_status_t rv;

    *out = NULL;
    if (err)
        *err = NULL;
    if (servers == NULL || *servers == '\0') {
        if (err)
            *err = apr_psprintf(p, "no %s server given", label);
        return APR_EINVAL;
    }
    if (conf->timeout <= 0) {
        if (err)
            *err = apr_psprintf(p, "the %s timeout must be positive", label);
        return APR_EINVAL;
    }
    np = apr_pcalloc(p, sizeof(*np));
    np->conf = *conf;
    np->srv = apr_pcalloc(p, NC_MAX_SERVERS * sizeof(nc_server));
    np->pid = getpid();
    list = apr_pstrdup(p, servers);
    for (tok = apr_strtok(list, ", \t", &last); tok; tok = apr_strtok(NULL, ", \t", &last)) {
        char *host = NULL, *scope = NULL;
        apr_port_t port = 0;
        nc_server *s;

        if (np->nsrv == NC_MAX_SERVERS) {
            if (err)
                *err = apr_psprintf(p, "too many %s servers (at most %d)", label, NC_MAX_SERVERS);
            return APR_EINVAL;
        }
        rv = apr_parse_addr_port(&host, &scope, &port, tok, p);
        /* APR takes "a:b" without brackets for an IPv6 host: not here */
        if (rv != APR_SUCCESS || host == NULL || scope != NULL ||
            (strchr(host, ':') && tok[0] != '[')) {
            if (err)
                *err = apr_psprintf(p, "bad %s server '%s' (host:port)", label, tok);
            return APR_EINVAL;
        }
        s = &np->srv[np->nsrv++];
        s->host = host;
        s->port = port ? port : conf->default_port;
        s->name = apr_psprintf(p, strchr(host, ':') ? "[%s]:%u" : "%s:%u", host, s->port);
    }
    if (np->nsrv == 0) {
        if (err)
            *err = apr_psprintf(p, "no %s server given", label);
        return APR_EINVAL;
    }
    rv = apr_thread_mutex_create(&np->mu, APR_THREAD_MUTEX_DEFAULT, p);
    if (rv != APR_SUCCESS) {
        if (err)
            *err = apr_psprintf(p, "cannot create the %s client mutex", label);
        return rv;
    }
    apr_pool_cleanup_register(p, np, pool_cleanup, apr_pool_cleanup_null);
    *out = np;
    return APR_SUCCESS;
}
