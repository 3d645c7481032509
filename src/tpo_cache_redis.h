/* SPDX-License-Identifier: Apache-2.0
 * Licensed under the Apache License, Version 2.0 (see LICENSE). */
/* Redis backend of the cache contract, with a small RESP client of its own
 * (GET, SET PX, SET NX PX, DEL; AUTH, SELECT, ROLE on a new connection;
 * SENTINEL get-master-addr-by-name; APR sockets or OpenSSL, a per-process
 * connection pool guarded by a mutex). Create it per process (child_init).
 * When the server is down, operations return an error status (not
 * APR_NOTFOUND); the pool reconnects on the next operation once it is
 * back. */
#ifndef TPO_CACHE_REDIS_H
#define TPO_CACHE_REDIS_H

#include <apr_network_io.h>
#include "tpo_cache.h"
#include "tpo_redis_track.h"

typedef struct {
    /* "host:port[,host:port...]": the Redis servers (the first one that is
     * up is used, the others are fail-over candidates in order); with
     * sentinel_master, the sentinels instead. */
    const char *servers;
    const char *sentinel_master;   /* NULL: no Sentinel */
    const char *sentinel_password; /* AUTH at the sentinels, or NULL */
    const char *user;              /* ACL user for AUTH, or NULL (the default user) */
    const char *password;          /* NULL: no AUTH */
    int database;                  /* SELECT when > 0 */
    int wait_replicas;             /* > 0: WAIT after each write for this many replicas */
    int tls;                       /* 1: TLS to the servers (and to the sentinels) */
    const char *tls_ca_file;       /* NULL: the system's CAs */
    const char *tls_cert_file;     /* client certificate, or NULL */
    const char *tls_key_file;      /* its key (both or neither) */
    const char *tls_name;          /* name checked in the server's certificate; NULL: its host */
    apr_interval_time_t timeout;   /* per operation (connect, TLS and I/O) */
} tpo_redis_conf;

apr_status_t tpo_redis_cache_create_conf(apr_pool_t *p, const tpo_redis_conf *conf, tpo_cache **out,
                                         const char **err);

/* The same without Sentinel, TLS, ACL user or database. */
apr_status_t tpo_redis_cache_create(apr_pool_t *p, const char *servers, const char *password,
                                    apr_interval_time_t timeout, tpo_cache **out, const char **err);

/* A master address as a sentinel gives it (two bulk strings): 1 and *port
 * when host is a plausible host name or IP address (1..255 bytes of
 * letters, digits, '.', '-', '_', ':') and port a decimal 1..65535, else 0.
 * Exposed for the unit tests. */
int tpo_redis_master_addr_ok(const char *host, apr_size_t hlen, const char *port, apr_size_t plen,
                             apr_port_t *port_out);

/* Server-assisted client-side caching: one connection to the data server
 * (AUTH, SELECT, TLS as configured; with Sentinel, to the master) that
 * turns tracking on in broadcast mode redirected to itself (CLIENT TRACKING
 * on REDIRECT <its id> BCAST: every key written in the server is reported)
 * and subscribes to __redis__:invalidate; cb is called for every message
 * (subscribed once the subscription holds). Runs until the connection fails
 * (two PINGs a second apart unanswered, EOF, a protocol error) or *stop,
 * and returns why. Blocking: for a thread or process of its own. */
apr_status_t tpo_redis_track_run(tpo_cache *c, const tpo_redis_push_cb *cb,
                                 volatile apr_uint32_t *stop, apr_pool_t *p);

#endif
