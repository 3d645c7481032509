/* SPDX-License-Identifier: Apache-2.0
 * Licensed under the Apache License, Version 2.0 (see LICENSE). */
/* Redis as operators run it: TLS (a test CA made here with the openssl
 * CLI), ACL user and password, database number, and Sentinel (one master,
 * one replica, three sentinels, all real servers on loopback ports), plus
 * the pure parts: the sentinel's address check, the TLS settings' checks,
 * hostile sentinel replies from a fake sentinel.
 *
 * Every server is a child with PDEATHSIG=SIGKILL and is killed at exit
 * (the approach of test_cache_remote.c). */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <apr_strings.h>
#include "tpo_test.h"
#include "tpo_cache_redis.h"
#include "tpo_tls.h"
#include "tpo_log.h"

#define REDIS "/usr/bin/redis-server"
#define SENTINEL "/usr/bin/redis-sentinel"
#define TIMEOUT apr_time_from_msec(500)
#define FAR (apr_time_now() + apr_time_from_sec(3600))
#define MASTER "tpomaster"

#define ck_assert_failure(rv)                                                                      \
    do {                                                                                           \
        apr_status_t rv_ = (rv);                                                                   \
        ck_assert_msg(rv_ != APR_SUCCESS && rv_ != APR_NOTFOUND && rv_ != APR_EEXIST,              \
                      "expected a backend failure, got status %d", rv_);                           \
    } while (0)

static char dir[256]; /* certificates, sentinel configurations */

/* ------------------------------------------------------------ processes */

#define MAX_SPAWNED 32
static pid_t spawned[MAX_SPAWNED];

static int free_port(void)
{
    struct sockaddr_in a;
    socklen_t alen = sizeof(a);
    int fd = socket(AF_INET, SOCK_STREAM, 0), port = 0;

    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0 &&
        getsockname(fd, (struct sockaddr *)&a, &alen) == 0) {
        port = ntohs(a.sin_port);
    }
    if (fd >= 0)
        close(fd);
    return port;
}

static pid_t spawn(char *const argv[])
{
    pid_t parent = getpid(), pid = fork();
    int i;

    if (pid == 0) {
        int fd = open("/dev/null", O_RDWR);

        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent)
            _exit(127);
        dup2(fd, 0);
        dup2(fd, 1);
        dup2(fd, 2);
        for (i = 3; i < 1024; i++)
            close(i);
        signal(SIGPIPE, SIG_DFL);
        execv(argv[0], argv);
        _exit(127);
    }
    for (i = 0; pid > 0 && i < MAX_SPAWNED; i++) {
        if (spawned[i] == 0) {
            spawned[i] = pid;
            break;
        }
    }
    return pid;
}

static void stop(pid_t pid)
{
    int i;

    if (pid <= 0)
        return;
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    for (i = 0; i < MAX_SPAWNED; i++) {
        if (spawned[i] == pid)
            spawned[i] = 0;
    }
}

static void kill_spawned(void)
{
    int i;

    for (i = 0; i < MAX_SPAWNED; i++)
        stop(spawned[i]);
}

/* One command over plain TCP (redis-cli style), its first reply line. */
static int cmd(int port, const char *req, char *out, size_t outsz)
{
    struct sockaddr_in a;
    struct timeval tv = {0, 300000};
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    ssize_t n;

    out[0] = '\0';
    if (fd < 0)
        return 0;
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_port = htons((unsigned short)port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0 ||
        send(fd, req, strlen(req), MSG_NOSIGNAL) != (ssize_t)strlen(req)) {
        close(fd);
        return 0;
    }
    n = recv(fd, out, outsz - 1, 0);
    close(fd);
    if (n <= 0)
        return 0;
    out[n] = '\0';
    return 1;
}

/* Wait until the (plain) server on port answers PING; 0 after 5 s. */
static int wait_ping(int port)
{
    char buf[256];
    int i;

    for (i = 0; i < 250; i++) {
        if (cmd(port, "PING\r\n", buf, sizeof(buf)) && buf[0] == '+')
            return 1;
        usleep(20000);
    }
    return 0;
}

static pid_t redis_start(int port, const char *const *extra)
{
    char *argv[40];
    char ps[16];
    int n = 0;
    pid_t pid;

    snprintf(ps, sizeof(ps), "%d", port);
    argv[n++] = REDIS;
    argv[n++] = "--port";
    argv[n++] = ps;
    argv[n++] = "--bind";
    argv[n++] = "127.0.0.1";
    argv[n++] = "--save";
    argv[n++] = "";
    argv[n++] = "--appendonly";
    argv[n++] = "no";
    argv[n++] = "--daemonize";
    argv[n++] = "no";
    argv[n++] = "--dir"; /* a replica writes the RDB it syncs from: not in the build tree */
    argv[n++] = dir;
    while (extra && *extra && n < 38)
        argv[n++] = (char *)*extra++;
    argv[n] = NULL;
    pid = spawn(argv);
    ck_assert_int_gt(pid, 0);
    return pid;
}

/* ------------------------------------------------------------ log capture */

static pthread_mutex_t log_mu = PTHREAD_MUTEX_INITIALIZER;
static char logbuf[65536];
static size_t loglen;

static void capture(const char *file, int line, int level, const char *msg)
{
    size_t n = strlen(msg);
    (void)file;
    (void)line;
    (void)level;
    pthread_mutex_lock(&log_mu);
    if (loglen + n + 2 < sizeof(logbuf)) {
        memcpy(logbuf + loglen, msg, n);
        loglen += n;
        logbuf[loglen++] = '\n';
        logbuf[loglen] = '\0';
    }
    pthread_mutex_unlock(&log_mu);
}

static void log_clear(void)
{
    pthread_mutex_lock(&log_mu);
    loglen = 0;
    logbuf[0] = '\0';
    pthread_mutex_unlock(&log_mu);
}

static int logged(const char *s)
{
    int found;
    pthread_mutex_lock(&log_mu);
    found = strstr(logbuf, s) != NULL;
    pthread_mutex_unlock(&log_mu);
    return found;
}

/* ------------------------------------------------------------ helpers */

static const char *path(const char *name)
{
    return apr_pstrcat(tpo_test_pool, dir, "/", name, NULL);
}

static tpo_cache *mk(const tpo_redis_conf *rc)
{
    tpo_cache *c = NULL;
    const char *err = NULL;
    apr_status_t rv = tpo_redis_cache_create_conf(tpo_test_pool, rc, &c, &err);

    ck_assert_msg(rv == APR_SUCCESS, "create: %s", err ? err : "?");
    return c;
}

static apr_status_t put(tpo_cache *c, const char *k, const char *v)
{
    return tpo_cache_set(c, k, v, strlen(v), FAR);
}

static const char *getv(tpo_cache *c, const char *k)
{
    char *v = NULL;
    apr_size_t n = 0;
    apr_status_t rv = tpo_cache_get(c, k, tpo_test_pool, &v, &n);
    return rv == APR_SUCCESS ? v : NULL;
}

static double since(apr_time_t t0)
{
    return (double)(apr_time_now() - t0) / APR_USEC_PER_SEC;
}

/* The test CA, a second CA, a server certificate for 127.0.0.1/localhost
 * and a client certificate, made with the openssl CLI. */
static int make_certs(void)
{
    char *sh = apr_psprintf(
        tpo_test_pool,
        "set -e; cd '%s'; exec >openssl.log 2>&1\n"
        "for ca in ca ca2; do\n"
        "  openssl req -x509 -newkey rsa:2048 -nodes -keyout $ca.key -out $ca.crt -days 2 "
        "    -subj /CN=tpo-test-$ca\n"
        "done\n"
        "printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\\n' >srv.ext\n"
        "openssl req -newkey rsa:2048 -nodes -keyout server.key -out server.csr -subj /CN=redis\n"
        "openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 2 "
        "  -extfile srv.ext -out server.crt\n"
        "openssl req -newkey rsa:2048 -nodes -keyout client.key -out client.csr -subj /CN=tpo\n"
        "openssl x509 -req -in client.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 2 "
        "  -out client.crt\n"
        "printf 'not a certificate\\n' >junk.pem\n",
        dir);
    return system(sh) == 0;
}

/* ------------------------------------------------------------ pure parts */

START_TEST(master_addr_check)
{
    apr_port_t port = 0;

    ck_assert_int_eq(tpo_redis_master_addr_ok("127.0.0.1", 9, "6379", 4, &port), 1);
    ck_assert_uint_eq(port, 6379);
    ck_assert_int_eq(tpo_redis_master_addr_ok("redis-1.example", 15, "1", 1, &port), 1);
    ck_assert_int_eq(tpo_redis_master_addr_ok("::1", 3, "65535", 5, &port), 1);
    ck_assert_uint_eq(port, 65535);
    ck_assert_int_eq(tpo_redis_master_addr_ok("", 0, "6379", 4, &port), 0);
    ck_assert_int_eq(tpo_redis_master_addr_ok("a b", 3, "6379", 4, &port), 0);
    ck_assert_int_eq(tpo_redis_master_addr_ok("a\r\n", 3, "6379", 4, &port), 0);
    ck_assert_int_eq(tpo_redis_master_addr_ok("h/x", 3, "6379", 4, &port), 0);
    ck_assert_int_eq(tpo_redis_master_addr_ok("h", 1, "0", 1, &port), 0);
    ck_assert_int_eq(tpo_redis_master_addr_ok("h", 1, "65536", 5, &port), 0);
    ck_assert_int_eq(tpo_redis_master_addr_ok("h", 1, "-1", 2, &port), 0);
    ck_assert_int_eq(tpo_redis_master_addr_ok("h", 1, "", 0, &port), 0);
    ck_assert_int_eq(tpo_redis_master_addr_ok("h", 1, "123456", 6, &port), 0);
    ck_assert_int_eq(tpo_redis_master_addr_ok("h", 1, "08", 2, &port), 0);
    {
        char big[300];
        memset(big, 'a', sizeof(big));
        ck_assert_int_eq(tpo_redis_master_addr_ok(big, 256, "1", 1, &port), 0);
        ck_assert_int_eq(tpo_redis_master_addr_ok(big, 255, "1", 1, &port), 1);
    }
}
END_TEST

START_TEST(tls_settings_checked)
{
    SSL_CTX *ctx = NULL;
    const char *err = NULL;

    ck_assert_int_eq(tpo_tls_client_ctx(tpo_test_pool, path("ca.crt"), NULL, NULL, &ctx, &err),
                     APR_SUCCESS);
    ck_assert_ptr_nonnull(ctx);
    ck_assert_int_eq(tpo_tls_client_ctx(tpo_test_pool, path("ca.crt"), path("client.crt"),
                                        path("client.key"), &ctx, &err),
                     APR_SUCCESS);
    ck_assert_int_eq(tpo_tls_client_ctx(tpo_test_pool, NULL, NULL, NULL, &ctx, &err), APR_SUCCESS);
    /* a certificate without its key, and the other way round */
    ck_assert_int_ne(
        tpo_tls_client_ctx(tpo_test_pool, path("ca.crt"), path("client.crt"), NULL, &ctx, &err),
        APR_SUCCESS);
    ck_assert_ptr_nonnull(strstr(err, "needs its key"));
    ck_assert_int_ne(
        tpo_tls_client_ctx(tpo_test_pool, path("ca.crt"), NULL, path("client.key"), &ctx, &err),
        APR_SUCCESS);
    /* missing and unreadable files are named */
    ck_assert_int_ne(tpo_tls_client_ctx(tpo_test_pool, path("nope.crt"), NULL, NULL, &ctx, &err),
                     APR_SUCCESS);
    ck_assert_ptr_nonnull(strstr(err, "nope.crt"));
    ck_assert_int_ne(tpo_tls_client_ctx(tpo_test_pool, path("junk.pem"), NULL, NULL, &ctx, &err),
                     APR_SUCCESS);
    ck_assert_ptr_nonnull(strstr(err, "CA file"));
    ck_assert_int_ne(tpo_tls_client_ctx(tpo_test_pool, path("ca.crt"), path("junk.pem"),
                                        path("client.key"), &ctx, &err),
                     APR_SUCCESS);
    ck_assert_ptr_nonnull(strstr(err, "client certificate"));
    /* a key that is not the certificate's */
    ck_assert_int_ne(tpo_tls_client_ctx(tpo_test_pool, path("ca.crt"), path("client.crt"),
                                        path("server.key"), &ctx, &err),
                     APR_SUCCESS);
    ck_assert_ptr_nonnull(strstr(err, "server.key")); /* OpenSSL's check, or ours */
    ck_assert_ptr_null(ctx);
}
END_TEST

START_TEST(create_conf_checked)
{
    tpo_redis_conf rc;
    tpo_cache *c = NULL;
    const char *err = NULL;

    memset(&rc, 0, sizeof(rc));
    rc.servers = "127.0.0.1:6379";
    rc.timeout = TIMEOUT;
    rc.database = -1;
    ck_assert_int_eq(tpo_redis_cache_create_conf(tpo_test_pool, &rc, &c, &err), APR_EINVAL);
    ck_assert_ptr_nonnull(strstr(err, "database"));
    rc.database = 2;
    rc.user = "alice";
    ck_assert_int_eq(tpo_redis_cache_create_conf(tpo_test_pool, &rc, &c, &err), APR_EINVAL);
    ck_assert_ptr_nonnull(strstr(err, "needs a password"));
    rc.user = NULL;
    rc.tls_ca_file = path("ca.crt");
    ck_assert_int_eq(tpo_redis_cache_create_conf(tpo_test_pool, &rc, &c, &err), APR_EINVAL);
    ck_assert_ptr_nonnull(strstr(err, "TLS is off"));
    rc.tls = 1;
    rc.tls_cert_file = path("client.crt");
    ck_assert_int_ne(tpo_redis_cache_create_conf(tpo_test_pool, &rc, &c, &err), APR_SUCCESS);
    ck_assert_ptr_nonnull(strstr(err, "redis TLS"));
    rc.tls_key_file = path("client.key");
    ck_assert_int_eq(tpo_redis_cache_create_conf(tpo_test_pool, &rc, &c, &err), APR_SUCCESS);
    rc.sentinel_master = "bad name";
    ck_assert_int_eq(tpo_redis_cache_create_conf(tpo_test_pool, &rc, &c, &err), APR_EINVAL);
    rc.sentinel_master = "mymaster";
    rc.servers = "127.0.0.1:99999";
    ck_assert_int_eq(tpo_redis_cache_create_conf(tpo_test_pool, &rc, &c, &err), APR_EINVAL);
    ck_assert_ptr_nonnull(strstr(err, "sentinel"));
}
END_TEST

/* ------------------------------------------------------------ ACL, database */

START_TEST(acl_user_and_database)
{
    int port = free_port();
    const char *extra[] = {"--user", "default",        "off", "--user", "tpo",
                           "on",     ">tpo-pass word", "~*",  "+@all",  NULL};
    pid_t pid = redis_start(port, extra);
    tpo_redis_conf rc;
    tpo_cache *db3, *db0, *wrong, *nouser, *baddb;
    char *v;
    apr_size_t n;
    int i;

    ck_assert(wait_ping(port) || 1); /* PING needs AUTH: any answer will do */
    usleep(300000);
    memset(&rc, 0, sizeof(rc));
    rc.servers = apr_psprintf(tpo_test_pool, "127.0.0.1:%d", port);
    rc.timeout = TIMEOUT;
    rc.user = "tpo";
    rc.password = "tpo-pass word";
    rc.database = 3;
    db3 = mk(&rc);
    rc.database = 0;
    db0 = mk(&rc);
    rc.database = 99; /* the server has 16 */
    baddb = mk(&rc);
    rc.database = 3;
    rc.password = "not the password";
    wrong = mk(&rc);
    rc.user = NULL;
    rc.password = "tpo-pass word"; /* right password, default user (off) */
    nouser = mk(&rc);

    log_clear();
    ck_assert_int_eq(put(db3, "k", "in db 3"), APR_SUCCESS);
    ck_assert_str_eq(getv(db3, "k"), "in db 3");
    ck_assert_int_eq(tpo_cache_get(db0, "k", tpo_test_pool, &v, &n), APR_NOTFOUND);
    ck_assert_int_eq(put(db0, "k", "in db 0"), APR_SUCCESS);
    ck_assert_str_eq(getv(db3, "k"), "in db 3");
    for (i = 0; i < 3; i++) {
        ck_assert_int_eq(tpo_cache_get(wrong, "k", tpo_test_pool, &v, &n), APR_EACCES);
        ck_assert_failure(tpo_cache_get(nouser, "k", tpo_test_pool, &v, &n));
        ck_assert_failure(tpo_cache_get(baddb, "k", tpo_test_pool, &v, &n));
    }
    ck_assert(logged("rejected AUTH"));
    ck_assert(logged("check the user name and the password"));
    ck_assert(logged("rejected SELECT 99"));
    ck_assert(!logged("not the password"));
    ck_assert(!logged("tpo-pass"));
    /* still fine after the refusals */
    ck_assert_str_eq(getv(db3, "k"), "in db 3");
    stop(pid);
}
END_TEST

/* ------------------------------------------------------------ TLS */

START_TEST(tls_verified)
{
    int port = free_port();
    char ps[16];
    const char *extra[] = {"--tls-port",
                           ps,
                           "--tls-cert-file",
                           path("server.crt"),
                           "--tls-key-file",
                           path("server.key"),
                           "--tls-ca-cert-file",
                           path("ca.crt"),
                           "--tls-auth-clients",
                           "optional",
                           NULL};
    int plain = free_port();
    pid_t pid;
    tpo_redis_conf rc;
    tpo_cache *good, *bycert, *otherca, *badname, *byname, *notls;
    char *v;
    apr_size_t n;

    snprintf(ps, sizeof(ps), "%d", port);
    pid = redis_start(plain, extra);
    ck_assert(wait_ping(plain));
    memset(&rc, 0, sizeof(rc));
    rc.servers = apr_psprintf(tpo_test_pool, "127.0.0.1:%d", port);
    rc.timeout = apr_time_from_sec(2); /* handshakes on a loaded machine */
    rc.tls = 1;
    rc.tls_ca_file = path("ca.crt");
    good = mk(&rc);
    rc.tls_cert_file = path("client.crt");
    rc.tls_key_file = path("client.key");
    bycert = mk(&rc);
    rc.tls_name = "localhost";
    byname = mk(&rc);
    rc.tls_name = "redis.elsewhere.example";
    badname = mk(&rc);
    rc.tls_name = NULL;
    rc.tls_ca_file = path("ca2.crt");
    otherca = mk(&rc);
    rc.tls = 0;
    rc.tls_ca_file = rc.tls_cert_file = rc.tls_key_file = NULL;
    notls = mk(&rc); /* plain RESP to the TLS port */

    log_clear();
    ck_assert_msg(put(good, "t", "over TLS") == APR_SUCCESS, "%s", logbuf);
    ck_assert_str_eq(getv(good, "t"), "over TLS");
    ck_assert_str_eq(getv(bycert, "t"), "over TLS");
    ck_assert_str_eq(getv(byname, "t"), "over TLS");
    {
        /* a value larger than the read buffer and than a TLS record */
        apr_size_t big = 200000, i;
        char *val = apr_palloc(tpo_test_pool, big + 1);
        for (i = 0; i < big; i++)
            val[i] = (char)('a' + i % 26);
        val[big] = '\0';
        ck_assert_int_eq(put(good, "big", val), APR_SUCCESS);
        ck_assert_str_eq(getv(bycert, "big"), val);
    }
    ck_assert(!logged("refused"));
    ck_assert_failure(tpo_cache_get(otherca, "t", tpo_test_pool, &v, &n));
    ck_assert(logged("the server's certificate is refused"));
    ck_assert_msg(logged("(checked for 127.0.0.1)"), "%s", logbuf);
    log_clear();
    ck_assert_failure(tpo_cache_get(badname, "t", tpo_test_pool, &v, &n));
    ck_assert(logged("the server's certificate is refused"));
    ck_assert(logged("redis.elsewhere.example"));
    {
        apr_time_t t0 = apr_time_now();
        ck_assert_failure(tpo_cache_get(notls, "t", tpo_test_pool, &v, &n));
        ck_assert(since(t0) < 1.0);
    }
    /* the refused ones do not spoil the good ones */
    ck_assert_str_eq(getv(good, "t"), "over TLS");
    stop(pid);

    /* a server that asks for a client certificate */
    {
        const char *extra2[] = {"--tls-port",
                                ps,
                                "--tls-cert-file",
                                path("server.crt"),
                                "--tls-key-file",
                                path("server.key"),
                                "--tls-ca-cert-file",
                                path("ca.crt"),
                                "--tls-auth-clients",
                                "yes",
                                NULL};
        pid = redis_start(plain, extra2);
        ck_assert(wait_ping(plain));
        ck_assert_int_eq(put(bycert, "c", "with a client certificate"), APR_SUCCESS);
        ck_assert_str_eq(getv(bycert, "c"), "with a client certificate");
        ck_assert_failure(tpo_cache_get(good, "c", tpo_test_pool, &v, &n));
        stop(pid);
    }
}
END_TEST

/* ------------------------------------------------------------ Sentinel */

typedef struct {
    int master, replica, sent[3];
    pid_t mpid, rpid, spid[3];
} topo;

static pid_t sentinel_start(int port, int master_port, int idx)
{
    const char *conf = apr_psprintf(tpo_test_pool, "%s/sentinel-%d-%d.conf", dir, port, idx);
    FILE *f = fopen(conf, "w");
    char *argv[] = {SENTINEL, (char *)conf, NULL};

    ck_assert_ptr_nonnull(f);
    fprintf(f,
            "port %d\nbind 127.0.0.1\ndaemonize no\n"
            "sentinel monitor " MASTER " 127.0.0.1 %d 2\n"
            "sentinel down-after-milliseconds " MASTER " 1000\n"
            "sentinel failover-timeout " MASTER " 10000\n"
            "sentinel parallel-syncs " MASTER " 1\n",
            port, master_port);
    fclose(f);
    return spawn(argv);
}

/* The sentinels' idea of the master: its port, or 0. */
static int sentinel_master_port(int sport)
{
    char buf[512], *p;
    const char *q =
        "*3\r\n$8\r\nSENTINEL\r\n$23\r\nget-master-addr-by-name\r\n$9\r\n" MASTER "\r\n";

    if (!cmd(sport, q, buf, sizeof(buf)) || buf[0] != '*')
        return 0;
    p = strstr(buf, "127.0.0.1\r\n$");
    if (!p)
        return 0;
    p = strchr(p + 12, '\n');
    return p ? atoi(p + 1) : 0;
}

static int replica_synced(int rport)
{
    char buf[4096];
    return cmd(rport, "INFO replication\r\n", buf, sizeof(buf)) &&
           strstr(buf, "master_link_status:up") != NULL;
}

static void topo_start(topo *t)
{
    char mp[16];
    const char *rextra[] = {"--replicaof", "127.0.0.1", mp, NULL};
    int i;

    t->master = free_port();
    t->replica = free_port();
    snprintf(mp, sizeof(mp), "%d", t->master);
    t->mpid = redis_start(t->master, NULL);
    ck_assert(wait_ping(t->master));
    t->rpid = redis_start(t->replica, rextra);
    ck_assert(wait_ping(t->replica));
    for (i = 0; i < 3; i++) {
        t->sent[i] = free_port();
        t->spid[i] = sentinel_start(t->sent[i], t->master, i);
    }
    for (i = 0; i < 3; i++)
        ck_assert(wait_ping(t->sent[i]));
    for (i = 0; i < 1500 && !replica_synced(t->replica); i++) /* up to 30 s: a loaded machine */
        usleep(20000);
    ck_assert_msg(replica_synced(t->replica), "the replica did not sync");
}

static void topo_stop(topo *t)
{
    int i;
    for (i = 0; i < 3; i++)
        stop(t->spid[i]);
    stop(t->mpid);
    stop(t->rpid);
}

static tpo_cache *mk_sentinel(const topo *t, int dead_first, int wait)
{
    tpo_redis_conf rc;

    memset(&rc, 0, sizeof(rc));
    rc.wait_replicas = wait;
    /* WAIT gets half of it: room for a loaded test machine */
    rc.servers =
        apr_psprintf(tpo_test_pool, "%s127.0.0.1:%d,127.0.0.1:%d,127.0.0.1:%d",
                     dead_first ? apr_psprintf(tpo_test_pool, "127.0.0.1:%d,", free_port()) : "",
                     t->sent[0], t->sent[1], t->sent[2]);
    rc.sentinel_master = MASTER;
    rc.timeout = wait ? apr_time_from_sec(2) : TIMEOUT;
    return mk(&rc);
}

/* Keep writing and reading until a full round works, for at most `within`
 * seconds: the longest run of failures (s). */
static double until_ok(tpo_cache *c, const char *k, double within)
{
    apr_time_t t0 = apr_time_now();
    while (since(t0) < within) {
        if (put(c, k, "after") == APR_SUCCESS && getv(c, k) != NULL)
            return since(t0);
        usleep(50000);
    }
    return -1;
}

START_TEST(sentinel_failover_master_killed)
{
    topo t;
    tpo_cache *c;
    int i, newport = 0;
    double gap;
    char key[32];

    topo_start(&t);
    c = mk_sentinel(&t, 1, 0);
    log_clear();
    for (i = 0; i < 200; i++) {
        snprintf(key, sizeof(key), "s%d", i);
        ck_assert_int_eq(put(c, key, key), APR_SUCCESS);
    }
    ck_assert(logged("the sentinels name 127.0.0.1"));
    /* the writes reached the replica before the master dies */
    {
        char buf[256];
        for (i = 0; i < 100; i++) {
            if (cmd(t.replica, "EXISTS s199\r\n", buf, sizeof(buf)) && !strcmp(buf, ":1\r\n"))
                break;
            usleep(20000);
        }
        ck_assert_str_eq(buf, ":1\r\n");
    }
    stop(t.mpid);
    t.mpid = 0;
    gap = until_ok(c, "after", 20.0);
    ck_assert_msg(gap >= 0, "no new master within 20 s");
    fprintf(stderr, "sentinel failover (master killed): %.2f s without an answer\n", gap);
    newport = sentinel_master_port(t.sent[0]);
    ck_assert_int_eq(newport, t.replica);
    ck_assert_msg(logged(apr_psprintf(tpo_test_pool, "name 127.0.0.1:%d the master", t.replica)) ||
                      logged(apr_psprintf(tpo_test_pool,
                                          "+switch-master: 127.0.0.1:%d is the master", t.replica)),
                  "%s", logbuf);
    for (i = 0; i < 200; i++) { /* nothing written before is lost */
        snprintf(key, sizeof(key), "s%d", i);
        ck_assert_str_eq(getv(c, key), key);
    }
    topo_stop(&t);
}
END_TEST

START_TEST(sentinel_failover_old_master_alive)
{
    /* a manual failover: the old master stays up and becomes a replica;
     * the client must follow without writing to it */
    topo t;
    tpo_cache *c;
    char buf[4096];
    double gap;
    int i, nwrites, nacked = 0;
    static int acked[1500];

    topo_start(&t);
    /* WAIT 1: an acknowledged write is on the replica that gets promoted */
    c = mk_sentinel(&t, 0, 1);
    ck_assert_int_eq(put(c, "before", "x"), APR_SUCCESS);
    for (i = 0; i < 100 &&
                !(cmd(t.replica, "EXISTS before\r\n", buf, sizeof(buf)) && !strcmp(buf, ":1\r\n"));
         i++) {
        usleep(20000);
    }
    log_clear();
    /* the sentinels learn about the replica some seconds after they start */
    for (i = 0; i < 150; i++) {
        if (cmd(t.sent[1], "SENTINEL FAILOVER " MASTER "\r\n", buf, sizeof(buf)) &&
            !strcmp(buf, "+OK\r\n")) {
            break;
        }
        usleep(100000);
    }
    ck_assert_str_eq(buf, "+OK\r\n");
    /* keep writing until the old master is a replica of the new one (the
     * sentinels reconfigure it some seconds after the switch): every write
     * that was acknowledged must survive (none went to the old master) */
    for (i = 0; i < 1500; i++) {
        char k[32];
        snprintf(k, sizeof(k), "w%d", i);
        acked[i] = put(c, k, k) == APR_SUCCESS;
        nacked += acked[i];
        if (cmd(t.master, "ROLE\r\n", buf, sizeof(buf)) && strstr(buf, "slave"))
            break;
        usleep(10000);
    }
    ck_assert_msg(strstr(buf, "slave") != NULL, "old master: %s", buf);
    nwrites = i + 1;
    usleep(500000); /* the old master's resync from the new one */
    for (i = 0; i < nwrites; i++) {
        char k[32];
        snprintf(k, sizeof(k), "w%d", i);
        if (acked[i])
            ck_assert_msg(getv(c, k) != NULL, "acknowledged write %s lost", k);
    }
    fprintf(stderr, "manual failover: %d writes during the switch, %d acknowledged, all kept\n",
            nwrites, nacked);
    ck_assert_int_gt(nacked, 0);
    gap = until_ok(c, "after", 10.0);
    ck_assert(gap >= 0);
    fprintf(stderr, "sentinel failover (manual, old master alive): %.2f s\n", gap);
    ck_assert_str_eq(getv(c, "before"), "x");
    /* the write went to the new master, and the old one is its replica */
    ck_assert(cmd(t.replica, "ROLE\r\n", buf, sizeof(buf)));
    ck_assert_ptr_nonnull(strstr(buf, "master"));
    ck_assert(cmd(t.replica, "EXISTS after\r\n", buf, sizeof(buf)));
    ck_assert_str_eq(buf, ":1\r\n");
    /* followed through the sentinels' announcement, or by asking them after
     * a refused write (whichever came first) */
    ck_assert_msg(
        logged(
            apr_psprintf(tpo_test_pool, "+switch-master: 127.0.0.1:%d is the master", t.replica)) ||
            logged(apr_psprintf(tpo_test_pool, "name 127.0.0.1:%d the master", t.replica)),
        "%s", logbuf);
    topo_stop(&t);
}
END_TEST

START_TEST(sentinel_password)
{
    int mport = free_port(), sport = free_port();
    const char *conf = apr_psprintf(tpo_test_pool, "%s/sentinel-auth-%d.conf", dir, sport);
    char *argv[] = {SENTINEL, (char *)conf, NULL};
    tpo_redis_conf rc;
    tpo_cache *good, *wrong, *none;
    pid_t mpid, spid;
    FILE *f;
    char *v;
    apr_size_t n;

    mpid = redis_start(mport, NULL);
    ck_assert(wait_ping(mport));
    f = fopen(conf, "w");
    ck_assert_ptr_nonnull(f);
    fprintf(f,
            "port %d\nbind 127.0.0.1\ndaemonize no\nrequirepass sentinel-secret\n"
            "sentinel monitor " MASTER " 127.0.0.1 %d 1\n",
            sport, mport);
    fclose(f);
    spid = spawn(argv);
    {
        int i;
        char buf[64];
        for (i = 0; i < 250 && !cmd(sport, "PING\r\n", buf, sizeof(buf)); i++)
            usleep(20000);
    }
    memset(&rc, 0, sizeof(rc));
    rc.servers = apr_psprintf(tpo_test_pool, "127.0.0.1:%d", sport);
    rc.sentinel_master = MASTER;
    rc.timeout = TIMEOUT;
    rc.sentinel_password = "sentinel-secret";
    good = mk(&rc);
    rc.sentinel_password = "not-it";
    wrong = mk(&rc);
    rc.sentinel_password = NULL;
    none = mk(&rc);
    log_clear();
    ck_assert_int_eq(put(good, "sp", "via an authenticated sentinel"), APR_SUCCESS);
    ck_assert_str_eq(getv(good, "sp"), "via an authenticated sentinel");
    ck_assert_failure(tpo_cache_get(wrong, "sp", tpo_test_pool, &v, &n));
    ck_assert(logged("rejected AUTH"));
    ck_assert(logged("TPOAuthCacheRedisSentinelPassword"));
    ck_assert(!logged("not-it"));
    ck_assert(!logged("sentinel-secret"));
    ck_assert_failure(tpo_cache_get(none, "sp", tpo_test_pool, &v, &n));
    stop(spid);
    stop(mpid);
}
END_TEST

/* -- a fake sentinel (or server): one canned reply per connection */

typedef struct {
    int lfd, port;
    const char *reply;
    int stop;
    pthread_t th;
} fake;

static void *fake_main(void *p)
{
    fake *f = p;

    for (;;) {
        char buf[4096];
        int fd = accept(f->lfd, NULL, NULL);
        if (fd < 0)
            break;
        if (recv(fd, buf, sizeof(buf), 0) > 0)
            send(fd, f->reply, strlen(f->reply), MSG_NOSIGNAL);
        close(fd);
    }
    return NULL;
}

static void fake_start(fake *f, const char *reply)
{
    struct sockaddr_in a;
    socklen_t alen = sizeof(a);
    int one = 1;

    f->lfd = socket(AF_INET, SOCK_STREAM, 0);
    setsockopt(f->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ck_assert_int_eq(bind(f->lfd, (struct sockaddr *)&a, sizeof(a)), 0);
    ck_assert_int_eq(listen(f->lfd, 16), 0);
    getsockname(f->lfd, (struct sockaddr *)&a, &alen);
    f->port = ntohs(a.sin_port);
    f->reply = reply;
    pthread_create(&f->th, NULL, fake_main, f);
}

static void fake_stop(fake *f)
{
    shutdown(f->lfd, SHUT_RDWR);
    close(f->lfd);
    pthread_join(f->th, NULL);
}

static tpo_cache *mk_fake_sentinel(int port)
{
    tpo_redis_conf rc;

    memset(&rc, 0, sizeof(rc));
    rc.servers = apr_psprintf(tpo_test_pool, "127.0.0.1:%d", port);
    rc.sentinel_master = MASTER;
    rc.timeout = apr_time_from_msec(300);
    return mk(&rc);
}

START_TEST(sentinel_hostile_replies)
{
    static const char *const replies[] = {
        "*2\r\n$9\r\n127.0.0.1\r\n$5\r\n99999\r\n",           /* port out of range */
        "*2\r\n$9\r\n127.0.0.1\r\n:6379\r\n",                 /* port not a bulk */
        "*2\r\n$11\r\n127.0.0.1 x\r\n$4\r\n6379\r\n",         /* blank in the host */
        "*3\r\n$9\r\n127.0.0.1\r\n$4\r\n6379\r\n$1\r\nx\r\n", /* three elements */
        "*1\r\n$9\r\n127.0.0.1\r\n",
        "*2\r\n$300\r\n", /* host too long */
        "*99999999\r\n",
        "-IDONTKNOW No such master\r\n",
        "*-1\r\n", /* unknown master name */
        "$-1\r\n",
        "+OK\r\n",
        "*2\r\n$9\r\n127.0.0.1\r\n$4\r\n6379", /* then EOF */
    };
    size_t i;

    for (i = 0; i < sizeof(replies) / sizeof(replies[0]); i++) {
        fake f;
        tpo_cache *c;
        char *v;
        apr_size_t n;
        apr_time_t t0;

        fake_start(&f, replies[i]);
        c = mk_fake_sentinel(f.port);
        log_clear();
        t0 = apr_time_now();
        ck_assert_failure(tpo_cache_get(c, "k", tpo_test_pool, &v, &n));
        ck_assert_failure(tpo_cache_set(c, "k", "v", 1, FAR));
        ck_assert_msg(since(t0) < 1.5, "reply %zu took %.2f s", i, since(t0));
        ck_assert_msg(logged("no sentinel named the master"), "reply %zu: %s", i, logbuf);
        fake_stop(&f);
    }
}
END_TEST

START_TEST(sentinel_names_a_replica)
{
    /* a sentinel (stale, or lying) names a replica: ROLE refuses it, no
     * write reaches it */
    int mport = free_port(), rport = free_port();
    char mp[16], buf[256];
    const char *rextra[] = {"--replicaof", "127.0.0.1", mp, NULL};
    pid_t mpid, rpid;
    fake f;
    tpo_cache *c;
    char *reply;
    int i;

    snprintf(mp, sizeof(mp), "%d", mport);
    mpid = redis_start(mport, NULL);
    ck_assert(wait_ping(mport));
    rpid = redis_start(rport, rextra);
    ck_assert(wait_ping(rport));
    reply = apr_psprintf(tpo_test_pool, "*2\r\n$9\r\n127.0.0.1\r\n$%d\r\n%d\r\n",
                         (int)strlen(apr_itoa(tpo_test_pool, rport)), rport);
    fake_start(&f, reply);
    c = mk_fake_sentinel(f.port);
    log_clear();
    for (i = 0; i < 3; i++)
        ck_assert_failure(tpo_cache_set(c, "k", "v", 1, FAR));
    ck_assert(logged("is a slave, not the master of " MASTER));
    ck_assert(cmd(rport, "EXISTS k\r\n", buf, sizeof(buf)));
    ck_assert_str_eq(buf, ":0\r\n");
    ck_assert(cmd(mport, "EXISTS k\r\n", buf, sizeof(buf)));
    ck_assert_str_eq(buf, ":0\r\n");
    fake_stop(&f);
    stop(rpid);
    stop(mpid);
}
END_TEST

/* ------------------------------------------------------------ runner */

int main(void)
{
    Suite *s = suite_create("cache_redis_ops");
    TCase *tp = tcase_create("pure");
    TCase *ts = tcase_create("servers");
    int rc;

    signal(SIGPIPE, SIG_IGN); /* as in httpd */
    tpo_log_set(capture, TPO_LOG_DEBUG);
    atexit(kill_spawned);
    apr_initialize();
    snprintf(dir, sizeof(dir), "/tmp/tpo-redis-ops-XXXXXX");
    if (mkdtemp(dir) == NULL) {
        perror("mkdtemp");
        return EXIT_FAILURE;
    }
    apr_pool_create(&tpo_test_pool, NULL);
    if (!make_certs()) {
        fprintf(stderr, "cannot make the test certificates (openssl CLI) in %s\n", dir);
        return EXIT_FAILURE;
    }
    apr_pool_destroy(tpo_test_pool);
    tpo_test_pool = NULL;

    tcase_add_checked_fixture(tp, tpo_test_setup, tpo_test_teardown);
    tcase_add_test(tp, master_addr_check);
    tcase_add_test(tp, tls_settings_checked);
    tcase_add_test(tp, create_conf_checked);
    tcase_add_test(tp, sentinel_hostile_replies);
    suite_add_tcase(s, tp);

    tcase_add_checked_fixture(ts, tpo_test_setup, tpo_test_teardown);
    tcase_set_timeout(ts, 120); /* failovers on a loaded machine */
    tcase_add_test(ts, acl_user_and_database);
    tcase_add_test(ts, tls_verified);
    tcase_add_test(ts, sentinel_names_a_replica);
    tcase_add_test(ts, sentinel_password);
    tcase_add_test(ts, sentinel_failover_master_killed);
    tcase_add_test(ts, sentinel_failover_old_master_alive);
    suite_add_tcase(s, ts);

    rc = tpo_test_run(s);
    kill_spawned();
    {
        char rm[300];
        snprintf(rm, sizeof(rm), "rm -rf '%s'", dir);
        if (system(rm) != 0)
            fprintf(stderr, "could not remove %s\n", dir);
    }
    return rc;
}
