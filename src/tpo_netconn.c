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
 *    inherited (they stay the parent's) and opens its own;
 *  - TLS (OpenSSL) when the pool has a context: the handshake follows the
 *    TCP connect under the same deadline; the socket is non-blocking and
 *    every SSL call that wants to read or write waits in poll() for what
 *    is left of the deadline;
 *  - a server's address may change (tpo_netpool_set_server, for Sentinel):
 *    its generation moves on, so its connections to the old address are
 *    never reused. The old address strings stay in the pool (a few bytes
 *    per failover). */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <string.h>
#include <unistd.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>
#include <apr_portable.h>
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
#define NC_TLS_LOG_EVERY apr_time_from_sec(10)

struct tpo_netconn {
    tpo_netconn *next;
    tpo_netpool *pool;
    apr_pool_t *p; /* unmanaged: owns the socket */
    apr_socket_t *sock;
    SSL *ssl;         /* NULL: plain TCP */
    int fd;           /* the socket's, for TLS */
    const char *name; /* "host:port" when connected, for log lines */
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
    pid_t pid;     /* idle connections belong to this process */
    apr_pool_t *p; /* for server addresses that change (only under mu) */
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
    if (conn->ssl)
        SSL_free(conn->ssl); /* no close_notify: it could block */
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
static apr_status_t tls_open(tpo_netconn *conn, const char *host);

/* host, port, name: the server's address when the operation began. */
static apr_status_t conn_open(tpo_netpool *np, unsigned si, const char *host, apr_port_t port,
                              const char *name, apr_time_t deadline, tpo_netconn **out,
                              int *refused)
{
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
    conn->name = name;
    conn->deadline = deadline;
    conn->fd = -1;
    rv = apr_sockaddr_info_get(&sa, host, APR_UNSPEC, port, 0, cp);
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
        if (np->conf.tls) {
            rv = tls_open(conn, np->conf.tls_name ? np->conf.tls_name : host);
            *refused = rv == APR_EACCES;
        }
        if (rv == APR_SUCCESS && np->conf.on_connect) {
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
        const char *host, *name;
        apr_port_t port;
        apr_time_t now = apr_time_now();
        apr_status_t rv;
        int probing = 0, refused;

        apr_thread_mutex_lock(np->mu);
        drop = check_pid(np);
        host = s->host;
        port = s->port;
        name = s->name;
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

        rv = conn_open(np, si, host, port, name, deadline, &found, &refused);
        apr_thread_mutex_lock(np->mu);
        if (host != s->host) {
            /* moved meanwhile: this says nothing of the new address */
        }
        else if (rv == APR_SUCCESS || refused)
            mark_up(np, s);
        else
            mark_down(np, s, rv);
        if (rv == APR_SUCCESS)
            found->gen = host == s->host ? s->gen : s->gen - 1;
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

/* ------------------------------------------------------------ TLS */

/* Wait until the socket can do what SSL asked for, within the deadline. */
static apr_status_t tls_wait(tpo_netconn *conn, int want)
{
    struct pollfd pfd;
    apr_interval_time_t left = conn->deadline - apr_time_now();
    int n;

    if (left <= 0)
        return APR_TIMEUP;
    pfd.fd = conn->fd;
    pfd.events = want == SSL_ERROR_WANT_WRITE ? POLLOUT : POLLIN;
    pfd.revents = 0;
    n = poll(&pfd, 1, (int)((left + 999) / 1000));
    if (n == 0)
        return APR_TIMEUP;
    if (n < 0 && errno != EINTR)
        return APR_FROM_OS_ERROR(errno);
    return APR_SUCCESS;
}

/* What an SSL call's failure means: APR_SUCCESS to call it again (after
 * waiting), else the error. */
static apr_status_t tls_failed(tpo_netconn *conn, int ret)
{
    int e = SSL_get_error(conn->ssl, ret);

    switch (e) {
    case SSL_ERROR_WANT_READ:
    case SSL_ERROR_WANT_WRITE:
        return tls_wait(conn, e);
    case SSL_ERROR_ZERO_RETURN:
        return APR_EOF;
    case SSL_ERROR_SYSCALL:
        return errno && errno != EAGAIN ? APR_FROM_OS_ERROR(errno) : APR_EOF;
    default:
        return APR_EGENERAL;
    }
}

/* The handshake; APR_EACCES when the server answers but is refused (its
 * certificate, or it does not speak TLS), with a log line naming why. */
static apr_status_t tls_open(tpo_netconn *conn, const char *host)
{
    tpo_netpool *np = conn->pool;
    apr_os_sock_t fd;
    unsigned long e;
    apr_status_t rv;
    char why[256];
    long vr;
    int ret, err, is_ip;

    if (apr_os_sock_get(&fd, conn->sock) != APR_SUCCESS)
        return APR_EGENERAL;
    conn->fd = fd;
    if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) != 0)
        return APR_FROM_OS_ERROR(errno);
    ERR_clear_error();
    conn->ssl = SSL_new(np->conf.tls);
    if (conn->ssl == NULL || SSL_set_fd(conn->ssl, fd) != 1)
        return APR_ENOMEM;
    {
        ASN1_OCTET_STRING *ip = a2i_IPADDRESS(host);
        is_ip = ip != NULL;
        ASN1_OCTET_STRING_free(ip);
    }
    ERR_clear_error();
    if (is_ip) {
        if (X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(conn->ssl), host) != 1)
            return APR_EGENERAL;
    }
    else if (SSL_set_tlsext_host_name(conn->ssl, host) != 1 ||
             SSL_set1_host(conn->ssl, host) != 1) {
        return APR_EGENERAL;
    }
    SSL_set_verify(conn->ssl, SSL_VERIFY_PEER, NULL);
    for (;;) {
        ERR_clear_error();
        ret = SSL_connect(conn->ssl);
        if (ret == 1)
            return APR_SUCCESS;
        err = SSL_get_error(conn->ssl, ret);
        if (err != SSL_ERROR_WANT_READ && err != SSL_ERROR_WANT_WRITE)
            break;
        rv = tls_wait(conn, err);
        if (rv != APR_SUCCESS)
            return rv;
    }
    e = ERR_peek_error();
    vr = SSL_get_verify_result(conn->ssl);
    if (err == SSL_ERROR_SSL) {
        if (vr != X509_V_OK) {
            apr_snprintf(why, sizeof(why),
                         "the server's certificate is refused: %s (checked for %s)",
                         X509_verify_cert_error_string(vr), host);
        }
        else {
            char es[160];
            ERR_error_string_n(e, es, sizeof(es));
            apr_snprintf(why, sizeof(why), "the TLS handshake failed: %s", es);
        }
        if (tpo_netconn_log_due(conn, NC_TLS_LOG_EVERY)) {
            tpo_log(TPO_LOG_MARK, TPO_LOG_ERR, TPO_APLOGNO(00506) "%s %s: %s", np->conf.label,
                    conn->name, why);
        }
        return APR_EACCES;
    }
    rv = tls_failed(conn, ret);
    return rv == APR_SUCCESS ? APR_EGENERAL : rv;
}

/* ------------------------------------------------------------ I/O */

static apr_status_t tls_send(tpo_netconn *conn, struct iovec *v, int n)
{
    struct iovec one;
    char buf[8192];
    apr_size_t total = 0;
    int i;

    for (i = 0; i < n; i++)
        total += v[i].iov_len;
    if (total <= sizeof(buf)) { /* one record for a whole command */
        char *d = buf;
        for (i = 0; i < n; i++) {
            memcpy(d, v[i].iov_base, v[i].iov_len);
            d += v[i].iov_len;
        }
        one.iov_base = buf;
        one.iov_len = total;
        v = &one;
        n = 1;
    }
    for (i = 0; i < n; i++) {
        while (v[i].iov_len > 0) {
            int len = v[i].iov_len > 65536 ? 65536 : (int)v[i].iov_len;
            int ret;
            ERR_clear_error();
            ret = SSL_write(conn->ssl, v[i].iov_base, len);
            if (ret > 0) {
                v[i].iov_base = (char *)v[i].iov_base + ret;
                v[i].iov_len -= (apr_size_t)ret;
            }
            else {
                apr_status_t rv = tls_failed(conn, ret);
                if (rv != APR_SUCCESS)
                    return rv;
            }
        }
    }
    return APR_SUCCESS;
}

/* Up to *len bytes (at least one), within the deadline. */
static apr_status_t conn_recv(tpo_netconn *conn, char *dst, apr_size_t *len)
{
    apr_status_t rv;

    if (conn->ssl == NULL) {
        rv = time_left(conn->sock, conn->deadline);
        if (rv == APR_SUCCESS)
            return apr_socket_recv(conn->sock, dst, len);
        *len = 0;
        return rv;
    }
    for (;;) {
        int want = *len > 65536 ? 65536 : (int)*len, ret;
        ERR_clear_error();
        ret = SSL_read(conn->ssl, dst, want);
        if (ret > 0) {
            *len = (apr_size_t)ret;
            return APR_SUCCESS;
        }
        rv = tls_failed(conn, ret);
        if (rv != APR_SUCCESS) {
            *len = 0;
            return rv;
        }
    }
}

apr_status_t tpo_netconn_send(tpo_netconn *conn, struct iovec *v, int n)
{
    if (conn->ssl) {
        apr_status_t rv = tls_send(conn, v, n);
        if (rv != APR_SUCCESS)
            conn->broken = 1;
        return rv;
    }
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
    len = sizeof(conn->rbuf) - conn->rlen;
    rv = conn_recv(conn, conn->rbuf + conn->rlen, &len);
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
        apr_status_t rv = conn_recv(conn, d, &len);

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

void tpo_netconn_extend(tpo_netconn *conn, apr_interval_time_t t)
{
    conn->deadline = apr_time_now() + t;
}

apr_status_t tpo_netconn_wait(tpo_netconn *conn, apr_interval_time_t t)
{
    struct pollfd pfd;
    apr_os_sock_t fd;
    int n;

    if (conn->rpos < conn->rlen || (conn->ssl && SSL_pending(conn->ssl) > 0))
        return APR_SUCCESS;
    if (apr_os_sock_get(&fd, conn->sock) != APR_SUCCESS) {
        conn->broken = 1;
        return APR_EGENERAL;
    }
    pfd.fd = fd;
    pfd.events = POLLIN;
    pfd.revents = 0;
    n = poll(&pfd, 1, (int)(t / 1000));
    if (n == 0 || (n < 0 && errno == EINTR))
        return APR_TIMEUP;
    if (n < 0) {
        conn->broken = 1;
        return APR_FROM_OS_ERROR(errno);
    }
    return APR_SUCCESS;
}

const char *tpo_netconn_name(const tpo_netconn *conn)
{
    return conn->name;
}

unsigned tpo_netpool_size(const tpo_netpool *np)
{
    return np->nsrv;
}

int tpo_netpool_set_server(tpo_netpool *np, unsigned i, const char *host, apr_port_t port)
{
    nc_server *s = &np->srv[i % np->nsrv];
    tpo_netconn *drop = NULL;
    int moved = 0;

    apr_thread_mutex_lock(np->mu);
    if (port != s->port || strcmp(host, s->host) != 0) {
        moved = 1;
        s->host = apr_pstrdup(np->p, host);
        s->port = port;
        s->name = apr_psprintf(np->p, strchr(host, ':') ? "[%s]:%u" : "%s:%u", host, port);
        s->gen++;
        s->down = 0;
        s->logged = 0;
        drop = s->idle;
        s->idle = NULL;
        s->nidle = 0;
    }
    apr_thread_mutex_unlock(np->mu);
    if (np->pid == getpid())
        close_list(drop);
    return moved;
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
    rv = apr_pool_create(&np->p, p);
    if (rv != APR_SUCCESS)
        return rv;
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
