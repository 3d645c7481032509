/* SPDX-License-Identifier: Apache-2.0
 * Licensed under the Apache License, Version 2.0 (see LICENSE). */
/* Pooled TCP connections (optionally TLS) to a list of servers, with one
 * deadline per operation: the connection layer under the memcached and
 * Redis backends. It knows nothing of their protocols.
 *
 *  - tpo_netpool_run() runs one operation: a callback that sends a request
 *    and reads the reply on a connection, within timeout from the start of
 *    the operation (connect included);
 *  - idle connections are kept and reused; a connection that saw any error
 *    is closed, never reused;
 *  - a server that cannot be reached is skipped for a while, then probed
 *    again by one operation at a time; operations go to the next server
 *    that is up;
 *  - a reused connection that the server had closed is retried once on a
 *    new one;
 *  - connections are not shared across fork (a child drops its parent's).
 *
 * Thread-safe. The process must ignore SIGPIPE (httpd does). */
#ifndef TPO_NETCONN_H
#define TPO_NETCONN_H

#include <sys/uio.h>
#include <apr_pools.h>
#include <apr_network_io.h>
#include <apr_time.h>
#include <openssl/ssl.h>

typedef struct tpo_netpool tpo_netpool;
typedef struct tpo_netconn tpo_netconn;

/* The protocol's part of an operation (or of a new connection). Returns the
 * operation's answer, or an error from the tpo_netconn_* calls below. */
typedef apr_status_t tpo_netconn_fn(tpo_netconn *conn, void *baton);

typedef struct {
    const char *label;        /* the kind of server, for messages: "redis" */
    const char *proto_phrase; /* logged for a protocol error: "protocol error" */
    apr_port_t default_port;
    apr_interval_time_t timeout; /* per operation; must be positive */
    /* NULL, or run on every new connection before its first use (e.g. a
     * login). APR_EACCES means "the server is up but refuses us": the
     * operation fails with it and the server is not marked down. Any other
     * error is a failed connect. */
    tpo_netconn_fn *on_connect;
    void *baton; /* for on_connect */
    /* NULL, or TLS on every connection (before on_connect): the context
     * carries the verification settings (tpo_tls_ctx_create). The server's
     * certificate must name tls_name, or when that is NULL the server's
     * host (an IP address is checked as one). A handshake that fails
     * (certificate refused, not TLS) is logged once per 10 s and answered
     * like on_connect's APR_EACCES: the server is up but we refuse it. */
    SSL_CTX *tls;
    const char *tls_name;
} tpo_netpool_conf;

/* servers: "host:port[,host:port...]" (also separated by blanks; IPv6 as
 * [::1]:port; at most 16). The pool lives as long as p, and closes its idle
 * connections with it. On error *err says why (with conf->label). */
apr_status_t tpo_netpool_create(apr_pool_t *p, const char *servers, const tpo_netpool_conf *conf,
                                tpo_netpool **out, const char **err);

/* Run fn on a connection to server start % n (of the n servers given), or,
 * when that one is down, to the next one up, in list order and wrapping.
 *
 * Returns fn's answer when the connection came through it intact (or was
 * retired by fn). Otherwise an error that is never APR_SUCCESS,
 * APR_NOTFOUND, APR_EEXIST, APR_ENOSPC or APR_EINVAL, so that it cannot be
 * taken for an answer: no server reachable, I/O error, timeout, protocol
 * error; or on_connect's APR_EACCES. */
apr_status_t tpo_netpool_run(tpo_netpool *pool, unsigned start, tpo_netconn_fn *fn, void *baton);

/* Number of servers in the pool. */
unsigned tpo_netpool_size(const tpo_netpool *pool);

/* Point server i at host:port (Sentinel: the master moved). Idle
 * connections to the old address are dropped, busy ones are closed after
 * their operation, and the server counts as up. A no-op (0) when it is
 * already there; 1 when it moved. */
int tpo_netpool_set_server(tpo_netpool *pool, unsigned i, const char *host, apr_port_t port);

/* I/O, bounded by the operation's deadline. Any error breaks the connection
 * (it is closed after the operation). */

/* Send all of v[0..n) (v is modified). */
apr_status_t tpo_netconn_send(tpo_netconn *conn, struct iovec *v, int n);

/* One CRLF-terminated line, without the CRLF: *line is NUL-terminated in
 * place of the CR and valid until the next read. A bare LF is a protocol
 * error, and so is a line still without its LF once 1 KiB is buffered. */
apr_status_t tpo_netconn_line(tpo_netconn *conn, char **line, apr_size_t *len);

/* Exactly n bytes. */
apr_status_t tpo_netconn_read(tpo_netconn *conn, void *dst, apr_size_t n);

/* The reply made no sense: log "<label> <server>: <proto_phrase> (<what>)",
 * break the connection, return APR_EGENERAL. */
apr_status_t tpo_netconn_proto_error(tpo_netconn *conn, const char *what);

/* The reply is a valid answer but the connection must not be reused (the
 * server's state is in doubt): it is closed after the operation, and
 * tpo_netpool_run() returns fn's answer as it is. */
void tpo_netconn_retire(tpo_netconn *conn);

/* For a long-lived operation (a subscription): the deadline becomes now +
 * t. */
void tpo_netconn_extend(tpo_netconn *conn, apr_interval_time_t t);

/* Wait up to t for reply bytes: APR_SUCCESS when some are there, APR_TIMEUP
 * when none came (the connection stays usable), else an error. */
apr_status_t tpo_netconn_wait(tpo_netconn *conn, apr_interval_time_t t);

/* The connection's server as "host:port", for log lines. */
const char *tpo_netconn_name(const tpo_netconn *conn);

/* 1 at most once per `every` for the connection's server, else 0: for a
 * log line that a misconfigured server would otherwise cause on every
 * operation. */
int tpo_netconn_log_due(tpo_netconn *conn, apr_interval_time_t every);

#endif
