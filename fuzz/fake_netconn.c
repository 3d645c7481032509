/* SPDX-License-Identifier: Apache-2.0
 * Licensed under the Apache License, Version 2.0 (see LICENSE). */
/* A socket-free stand-in for tpo_netconn.c (see fake_netconn.h), linked into
 * the memcached and Redis targets in its place. It keeps the contract of
 * tpo_netconn.h that the reply parsers depend on: lines end in CRLF (a bare
 * LF or a line of 1 KiB without LF is a protocol error), a line is a
 * NUL-terminated writable copy, reads are exact, any error breaks the
 * connection and a broken or retired connection is never reused. Lines and
 * reads are copied into buffers of their exact size so that ASan catches a
 * parser that reads past them. */
#include <stdlib.h>
#include <string.h>
#include <apr_strings.h>
#include "tpo_netconn.h"
#include "fake_netconn.h"

#define FAKE_MAX_LINE 1024

struct tpo_netpool {
    tpo_netpool_conf conf;
    apr_pool_t *p;
    tpo_netconn *idle;
};

struct tpo_netconn {
    tpo_netpool *pool;
    int broken, retired;
    char *line; /* the last line (malloc'd, freed on the next one) */
};

static const uint8_t *feed;
static size_t feed_len, feed_pos;
static unsigned opened, broken;

void fake_netconn_feed(const uint8_t *data, size_t size)
{
    feed = data;
    feed_len = size;
    feed_pos = 0;
    opened = broken = 0;
}

unsigned fake_netconn_opened(void)
{
    return opened;
}
unsigned fake_netconn_broken(void)
{
    return broken;
}

static void conn_free(tpo_netconn *c)
{
    if (c) {
        free(c->line);
        free(c);
    }
}

static apr_status_t pool_cleanup(void *data)
{
    tpo_netpool *np = data;

    conn_free(np->idle);
    np->idle = NULL;
    return APR_SUCCESS;
}

apr_status_t tpo_netpool_create(apr_pool_t *p, const char *servers, const tpo_netpool_conf *conf,
                                tpo_netpool **out, const char **err)
{
    tpo_netpool *np = apr_pcalloc(p, sizeof(*np));

    np->conf = *conf;
    np->p = p;
    apr_pool_cleanup_register(p, np, pool_cleanup, apr_pool_cleanup_null);
    *out = np;
    if (err)
        *err = NULL;
    return APR_SUCCESS;
}

apr_status_t tpo_netpool_run(tpo_netpool *np, unsigned start, tpo_netconn_fn *fn, void *baton)
{
    tpo_netconn *c = np->idle;
    apr_status_t rv;

    np->idle = NULL;
    if (c == NULL) {
        if (feed_pos >= feed_len)
            return APR_ECONNREFUSED; /* the server is gone */
        c = calloc(1, sizeof(*c));
        if (c == NULL)
            abort();
        c->pool = np;
        opened++;
        if (np->conf.on_connect) {
            rv = np->conf.on_connect(c, np->conf.baton);
            if (rv != APR_SUCCESS) {
                conn_free(c);
                broken++;
                return rv == APR_EACCES ? APR_EACCES : APR_ECONNREFUSED;
            }
        }
    }
    rv = fn(c, baton);
    if (c->broken || c->retired) {
        int was_broken = c->broken;

        conn_free(c);
        if (was_broken) {
            broken++;
            /* like tpo_netconn.c: a broken connection's operation fails with
             * an error that cannot be taken for an answer */
            if (rv == APR_SUCCESS || rv == APR_NOTFOUND || rv == APR_EEXIST || rv == APR_ENOSPC ||
                rv == APR_EINVAL) {
                return APR_EGENERAL;
            }
        }
        return rv;
    }
    np->idle = c;
    return rv;
}

apr_status_t tpo_netconn_send(tpo_netconn *conn, struct iovec *v, int n)
{
    int i;

    for (i = 0; i < n; i++) {
        if (v[i].iov_len && v[i].iov_base == NULL)
            abort();
    }
    return APR_SUCCESS;
}

apr_status_t tpo_netconn_line(tpo_netconn *conn, char **line, apr_size_t *len)
{
    const uint8_t *s = feed + feed_pos, *nl;
    size_t avail = feed_len - feed_pos, n;

    nl = memchr(s, '\n', avail < FAKE_MAX_LINE + 2 ? avail : FAKE_MAX_LINE + 2);
    if (nl == NULL) {
        if (avail >= FAKE_MAX_LINE)
            return tpo_netconn_proto_error(conn, "line too long");
        conn->broken = 1;
        feed_pos = feed_len;
        return APR_EOF;
    }
    if (nl == s || nl[-1] != '\r')
        return tpo_netconn_proto_error(conn, "bare LF");
    n = (size_t)(nl - 1 - s);
    free(conn->line);
    conn->line = malloc(n + 1);
    if (conn->line == NULL)
        abort();
    memcpy(conn->line, s, n);
    conn->line[n] = '\0';
    feed_pos += n + 2;
    *line = conn->line;
    *len = n;
    return APR_SUCCESS;
}

apr_status_t tpo_netconn_read(tpo_netconn *conn, void *dst, apr_size_t n)
{
    if (feed_len - feed_pos < n) {
        feed_pos = feed_len;
        conn->broken = 1;
        return APR_EOF;
    }
    memcpy(dst, feed + feed_pos, n);
    feed_pos += n;
    return APR_SUCCESS;
}

apr_status_t tpo_netconn_proto_error(tpo_netconn *conn, const char *what)
{
    conn->broken = 1;
    return APR_EGENERAL;
}

void tpo_netconn_retire(tpo_netconn *conn)
{
    conn->retired = 1;
}

const char *tpo_netconn_name(const tpo_netconn *conn)
{
    return "127.0.0.1:0";
}

int tpo_netconn_log_due(tpo_netconn *conn, apr_interval_time_t every)
{
    return feed_pos & 1;
}

/* One fuzzed server that never moves (the Sentinel paths are not fuzzed
 * here: the master lookup's replies go through the same parsers). */
unsigned tpo_netpool_size(const tpo_netpool *pool)
{
    (void)pool;
    return 1;
}

int tpo_netpool_set_server(tpo_netpool *pool, unsigned i, const char *host, apr_port_t port)
{
    (void)pool;
    (void)i;
    (void)host;
    (void)port;
    return 0;
}

void tpo_netconn_extend(tpo_netconn *conn, apr_interval_time_t t)
{
    (void)conn;
    (void)t;
}

/* Bytes are there while the feed lasts; then nothing comes. */
apr_status_t tpo_netconn_wait(tpo_netconn *conn, apr_interval_time_t t)
{
    (void)t;
    if (conn->broken) {
        return APR_EGENERAL;
    }
    return feed_pos < feed_len ? APR_SUCCESS : APR_TIMEUP;
}
