/* SPDX-License-Identifier: Apache-2.0
 * Licensed under the Apache License, Version 2.0 (see LICENSE). */
/* The distributed cache backends (memcached, Redis) against real servers
 * that this test starts on free loopback ports, and the encrypting wrapper
 * over the shared-memory cache and over Redis.
 *
 * Servers: one memcached, one Redis and one Redis with a password are
 * shared by the non-destructive tests; the tests that kill, stop or restart
 * a server start their own. Every server is a child with PDEATHSIG=SIGKILL
 * (it dies with whoever started it, even on a crash or a SIGKILL of the
 * test) and is also killed at exit. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
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
#include <apr_tables.h>
#include "tpo_test.h"
#include "tpo_cache_memcache.h"
#include "tpo_cache_redis.h"
#include "tpo_cache_crypt.h"
#include "tpo_cache_shm.h"
#include "tpo_log.h"

#define MEMCACHED "/usr/bin/memcached"
#define REDIS "/usr/bin/redis-server"
#define PASSWORD "s3cret pass"
#define TIMEOUT apr_time_from_msec(500)
#define FAR (apr_time_now() + apr_time_from_sec(3600))
#define NTHREADS 8

#define ck_assert_failure(rv)                                                                      \
    do {                                                                                           \
        apr_status_t rv_ = (rv);                                                                   \
        ck_assert_msg(rv_ != APR_SUCCESS && rv_ != APR_NOTFOUND && rv_ != APR_EEXIST,              \
                      "expected a backend failure, got status %d", rv_);                           \
    } while (0)

/* ------------------------------------------------------------ servers */

typedef struct {
    int kind;             /* 'm' memcached, 'r' redis */
    const char *password; /* redis --requirepass */
    int port;
    pid_t pid;
} server;

static server mc_srv = {'m', NULL, 0, 0};
static server rs_srv = {'r', NULL, 0, 0};
static server rs_auth_srv = {'r', PASSWORD, 0, 0};

#define MAX_SPAWNED 64
static struct {
    pid_t pid, owner;
} spawned[MAX_SPAWNED];

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
        if (spawned[i].pid == 0) {
            spawned[i].pid = pid;
            spawned[i].owner = parent;
            break;
        }
    }
    return pid;
}

static int tcp_connect(int port, int timeout_ms)
{
    struct sockaddr_in a;
    struct timeval tv = {timeout_ms / 1000, (timeout_ms % 1000) * 1000};
    int fd = socket(AF_INET, SOCK_STREAM, 0);

    if (fd < 0)
        return -1;
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_port = htons((unsigned short)port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

/* Does the server on port answer (anything) to a ping? */
static int answers(const server *s)
{
    const char *req = s->kind == 'm' ? "version\r\n" : "PING\r\n";
    char buf[64];
    int fd = tcp_connect(s->port, 300), ok = 0;

    if (fd < 0)
        return 0;
    if (send(fd, req, strlen(req), MSG_NOSIGNAL) == (ssize_t)strlen(req)) {
        ok = recv(fd, buf, sizeof(buf), 0) > 0;
    }
    close(fd);
    return ok;
}

static int srv_start(server *s)
{
    int attempt, pick = s->port == 0;

    for (attempt = 0; attempt < 5; attempt++) {
        char port[16];
        int i;

        if (pick)
            s->port = free_port();
        snprintf(port, sizeof(port), "%d", s->port);
        if (s->kind == 'm') {
            char *argv[] = {MEMCACHED, "-l", "127.0.0.1", "-p", port, "-U", "0",  "-m",
                            "64",      "-I", "4m",        "-t", "2",  NULL, NULL, NULL};
            if (geteuid() == 0) {
                argv[13] = "-u";
                argv[14] = "nobody";
            }
            s->pid = spawn(argv);
        }
        else {
            char *argv[] = {REDIS,    "--port", port,           "--bind", "127.0.0.1",
                            "--save", "",       "--appendonly", "no",     "--daemonize",
                            "no",     NULL,     NULL,           NULL};
            if (s->password) {
                argv[11] = "--requirepass";
                argv[12] = (char *)s->password;
            }
            s->pid = spawn(argv);
        }
        if (s->pid <= 0)
            return 0;
        for (i = 0; i < 250; i++) { /* up to 5 s */
            if (answers(s))
                return 1;
            if (waitpid(s->pid, NULL, WNOHANG) == s->pid)
                break; /* died: port taken? */
            usleep(20000);
        }
        kill(s->pid, SIGKILL);
        waitpid(s->pid, NULL, 0);
        s->pid = 0;
        if (!pick)
            usleep(200000);
    }
    return 0;
}

static void forget(pid_t pid)
{
    int i;

    for (i = 0; i < MAX_SPAWNED; i++) {
        if (spawned[i].pid == pid)
            spawned[i].pid = 0;
    }
}

static void srv_kill(server *s)
{
    if (s->pid > 0) {
        kill(s->pid, SIGKILL);
        waitpid(s->pid, NULL, 0);
        forget(s->pid);
        s->pid = 0;
    }
}

static void kill_spawned(void)
{
    int i;

    for (i = 0; i < MAX_SPAWNED; i++) {
        if (spawned[i].pid > 0 && spawned[i].owner == getpid()) {
            kill(spawned[i].pid, SIGCONT);
            kill(spawned[i].pid, SIGKILL);
            waitpid(spawned[i].pid, NULL, 0);
            spawned[i].pid = 0;
        }
    }
}

/* ------------------------------------------------------------ helpers */

static double since(apr_time_t t0)
{
    return (double)(apr_time_now() - t0) / APR_USEC_PER_SEC;
}

static const char *addr(int port)
{
    return apr_psprintf(tpo_test_pool, "127.0.0.1:%d", port);
}

static tpo_cache *mk_mc(const char *servers, apr_interval_time_t timeout)
{
    tpo_cache *c = NULL;
    const char *err = NULL;

    ck_assert_int_eq(tpo_memcache_cache_create(tpo_test_pool, servers, timeout, &c, &err),
                     APR_SUCCESS);
    ck_assert_ptr_nonnull(c);
    return c;
}

static tpo_cache *mk_rs(const char *servers, const char *password, apr_interval_time_t timeout)
{
    tpo_cache *c = NULL;
    const char *err = NULL;

    ck_assert_int_eq(tpo_redis_cache_create(tpo_test_pool, servers, password, timeout, &c, &err),
                     APR_SUCCESS);
    ck_assert_ptr_nonnull(c);
    return c;
}

static tpo_cache *mk_shared(int kind)
{
    return kind == 'm' ? mk_mc(addr(mc_srv.port), TIMEOUT)
                       : mk_rs(addr(rs_srv.port), NULL, TIMEOUT);
}

/* A key unique to this run and test. */
static const char *ukey(const char *name)
{
    static unsigned seq;
    return apr_psprintf(tpo_test_pool, "t%ld-%u-%s", (long)getpid(), ++seq, name);
}

static apr_status_t put(tpo_cache *c, const char *k, const char *v)
{
    return tpo_cache_set(c, k, v, strlen(v), FAR);
}

/* The value for k, or NULL when get says NOTFOUND (any other status fails). */
static const char *getv(tpo_cache *c, const char *k)
{
    char *v = NULL;
    apr_size_t n = 0;
    apr_status_t rv = tpo_cache_get(c, k, tpo_test_pool, &v, &n);

    if (rv == APR_NOTFOUND)
        return NULL;
    ck_assert_int_eq(rv, APR_SUCCESS);
    ck_assert_ptr_nonnull(v);
    ck_assert_uint_eq(strlen(v), n);
    return v;
}

static unsigned char *random_bytes(apr_size_t n)
{
    unsigned char *b = apr_palloc(tpo_test_pool, n);
    apr_uint64_t x = 0x9e3779b97f4a7c15ULL ^ (apr_uint64_t)n;
    apr_size_t i;

    for (i = 0; i < n; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        b[i] = (unsigned char)x;
    }
    return b;
}

/* ------------------------------------------------------------ log capture */

static pthread_mutex_t log_mu = PTHREAD_MUTEX_INITIALIZER;
static char logbuf[32768];
static size_t loglen;

static void capture(const char *file, int line, int level, const char *msg)
{
    pthread_mutex_lock(&log_mu);
    loglen += (size_t)snprintf(logbuf + loglen, sizeof(logbuf) - loglen, "<%d>%s\n", level, msg);
    if (loglen >= sizeof(logbuf))
        loglen = sizeof(logbuf) - 1;
    pthread_mutex_unlock(&log_mu);
}

static void log_clear(void)
{
    pthread_mutex_lock(&log_mu);
    loglen = 0;
    logbuf[0] = '\0';
    pthread_mutex_unlock(&log_mu);
}

/* ------------------------------------------------------------ shared checks */

static void check_semantics(tpo_cache *c)
{
    const char *k = ukey("sem"), *k2 = ukey("sem2");
    char *v = (char *)"x";
    apr_size_t n = 99;

    ck_assert_int_eq(tpo_cache_get(c, k, tpo_test_pool, &v, &n), APR_NOTFOUND);
    ck_assert_int_eq(tpo_cache_del(c, k), APR_NOTFOUND);
    ck_assert_int_eq(put(c, k, "one"), APR_SUCCESS);
    ck_assert_str_eq(getv(c, k), "one");
    ck_assert_int_eq(put(c, k, "two"), APR_SUCCESS); /* replace */
    ck_assert_str_eq(getv(c, k), "two");
    ck_assert_int_eq(tpo_cache_add(c, k, "three", 5, FAR), APR_EEXIST);
    ck_assert_str_eq(getv(c, k), "two"); /* add left it alone */
    ck_assert_int_eq(tpo_cache_del(c, k), APR_SUCCESS);
    ck_assert_int_eq(tpo_cache_del(c, k), APR_NOTFOUND); /* a one-time take */
    ck_assert_ptr_null(getv(c, k));
    ck_assert_int_eq(tpo_cache_add(c, k, "four", 4, FAR), APR_SUCCESS);
    ck_assert_str_eq(getv(c, k), "four");

    /* an empty value is a value */
    ck_assert_int_eq(tpo_cache_set(c, k2, "", 0, FAR), APR_SUCCESS);
    ck_assert_str_eq(getv(c, k2), "");
    ck_assert_int_eq(put(c, k2, "after-empty"), APR_SUCCESS); /* connection still in sync */
    ck_assert_str_eq(getv(c, k2), "after-empty");

    /* an expiry already past: stored as gone, but add still sees a live entry */
    ck_assert_int_eq(tpo_cache_add(c, k, "x", 1, apr_time_now() - 1), APR_EEXIST);
    ck_assert_str_eq(getv(c, k), "four");
    ck_assert_int_eq(tpo_cache_set(c, k, "x", 1, apr_time_now() - 1), APR_SUCCESS);
    ck_assert_ptr_null(getv(c, k));

    /* more than 30 days ahead (memcached: absolute time) */
    ck_assert_int_eq(tpo_cache_set(c, k, "long", 4, apr_time_now() + apr_time_from_sec(40 * 86400)),
                     APR_SUCCESS);
    ck_assert_str_eq(getv(c, k), "long");
    ck_assert_int_eq(tpo_cache_add(c, k2, "x", 1, apr_time_now() + apr_time_from_sec(31 * 86400)),
                     APR_EEXIST);

    /* keys: the contract's bound */
    {
        char *longkey = apr_palloc(tpo_test_pool, TPO_CACHE_MAX_KEY + 2);
        memset(longkey, 'k', TPO_CACHE_MAX_KEY + 1);
        longkey[TPO_CACHE_MAX_KEY + 1] = '\0';
        ck_assert_int_eq(put(c, longkey, "v"), APR_EINVAL);
        ck_assert_int_eq(tpo_cache_add(c, longkey, "v", 1, FAR), APR_EINVAL);
        ck_assert_int_eq(tpo_cache_get(c, longkey, tpo_test_pool, &v, &n), APR_NOTFOUND);
        ck_assert_int_eq(tpo_cache_del(c, longkey), APR_NOTFOUND);
        longkey[TPO_CACHE_MAX_KEY] = '\0';
        longkey[0] = 'L';
        ck_assert_int_eq(put(c, longkey, "at the bound"), APR_SUCCESS);
        ck_assert_str_eq(getv(c, longkey), "at the bound");
        ck_assert_int_eq(put(c, "", "v"), APR_EINVAL);
    }
}

static void check_binary(tpo_cache *c)
{
    const char *k = ukey("bin");
    static const char tricky[] = "\r\nEND\r\nVALUE x 0 5\r\n$-1\r\n+OK\r\n\0\0";
    apr_size_t n = 0, len = 256 + sizeof(tricky);
    unsigned char *val = apr_palloc(tpo_test_pool, len);
    char *got = NULL;
    int i;

    for (i = 0; i < 256; i++)
        val[i] = (unsigned char)i;
    memcpy(val + 256, tricky, sizeof(tricky));
    ck_assert_int_eq(tpo_cache_set(c, k, val, len, FAR), APR_SUCCESS);
    ck_assert_int_eq(tpo_cache_get(c, k, tpo_test_pool, &got, &n), APR_SUCCESS);
    ck_assert_uint_eq(n, len);
    ck_assert_int_eq(memcmp(got, val, len), 0);
    ck_assert_int_eq(got[n], '\0');
    /* the connection is still in sync */
    ck_assert_int_eq(put(c, k, "plain"), APR_SUCCESS);
    ck_assert_str_eq(getv(c, k), "plain");
    /* a value that is only a NUL */
    ck_assert_int_eq(tpo_cache_set(c, k, "\0", 1, FAR), APR_SUCCESS);
    ck_assert_int_eq(tpo_cache_get(c, k, tpo_test_pool, &got, &n), APR_SUCCESS);
    ck_assert_uint_eq(n, 1);
    ck_assert_int_eq(got[0], '\0');
}

/* old_kept: a refused set leaves the old entry (memcached drops it) */
static void check_large(tpo_cache *c, apr_size_t big_ok, apr_size_t too_big, int old_kept)
{
    const char *k = ukey("large");
    apr_size_t n = 0, mib = 1024 * 1024;
    unsigned char *val = random_bytes(big_ok);
    char *got = NULL;

    ck_assert_int_eq(tpo_cache_set(c, k, val, mib, FAR), APR_SUCCESS);
    ck_assert_int_eq(tpo_cache_get(c, k, tpo_test_pool, &got, &n), APR_SUCCESS);
    ck_assert_uint_eq(n, mib);
    ck_assert_int_eq(memcmp(got, val, mib), 0);

    ck_assert_int_eq(tpo_cache_set(c, k, val, big_ok, FAR), APR_SUCCESS);
    ck_assert_int_eq(tpo_cache_get(c, k, tpo_test_pool, &got, &n), APR_SUCCESS);
    ck_assert_uint_eq(n, big_ok);
    ck_assert_int_eq(memcmp(got, val, big_ok), 0);

    { /* a value that can never fit: ENOSPC, the old entry stays */
        unsigned char *huge = apr_pcalloc(tpo_test_pool, too_big);
        ck_assert_int_eq(tpo_cache_set(c, k, huge, too_big, FAR), APR_ENOSPC);
    }
    if (old_kept) {
        ck_assert_int_eq(tpo_cache_get(c, k, tpo_test_pool, &got, &n), APR_SUCCESS);
        ck_assert_uint_eq(n, big_ok);
    }
    else {
        ck_assert_int_eq(tpo_cache_get(c, k, tpo_test_pool, &got, &n), APR_NOTFOUND);
    }
    ck_assert_int_eq(put(c, k, "small again"), APR_SUCCESS);
    ck_assert_str_eq(getv(c, k), "small again");
}

static void check_expiry(tpo_cache *c)
{
    const char *k1 = ukey("exp1"), *k2 = ukey("exp2"), *k3 = ukey("exp3");
    apr_time_t now = apr_time_now();

    ck_assert_int_eq(tpo_cache_set(c, k1, "short", 5, now + apr_time_from_sec(1)), APR_SUCCESS);
    ck_assert_int_eq(tpo_cache_add(c, k3, "short", 5, now + apr_time_from_sec(1)), APR_SUCCESS);
    ck_assert_int_eq(tpo_cache_set(c, k2, "long", 4, now + apr_time_from_sec(5)), APR_SUCCESS);
    ck_assert_str_eq(getv(c, k1), "short");
    usleep(2200000);
    ck_assert_ptr_null(getv(c, k1));
    ck_assert_ptr_null(getv(c, k3));
    ck_assert_str_eq(getv(c, k2), "long");
    ck_assert_int_eq(tpo_cache_add(c, k3, "again", 5, FAR), APR_SUCCESS); /* expired = absent */
    ck_assert_str_eq(getv(c, k3), "again");
    ck_assert_int_eq(tpo_cache_del(c, k1), APR_NOTFOUND);
}

/* -- add race: exactly one winner per key */

typedef struct {
    tpo_cache *c;
    pthread_barrier_t *bar;
    const char *prefix;
    int id, rounds;
    int wins, losses, errors;
    int won[64];
} race_arg;

static void *race_thread(void *p)
{
    race_arg *a = p;
    int r;

    for (r = 0; r < a->rounds; r++) {
        char key[128], val[32];
        apr_status_t rv;

        snprintf(key, sizeof(key), "%s-%d", a->prefix, r);
        snprintf(val, sizeof(val), "winner-%d", a->id);
        pthread_barrier_wait(a->bar);
        rv = tpo_cache_add(a->c, key, val, strlen(val), FAR);
        if (rv == APR_SUCCESS) {
            a->wins++;
            a->won[r] = 1;
        }
        else if (rv == APR_EEXIST)
            a->losses++;
        else
            a->errors++;
    }
    return NULL;
}

static void check_add_race(tpo_cache *c)
{
    pthread_t th[NTHREADS];
    race_arg a[NTHREADS];
    pthread_barrier_t bar;
    const char *prefix = ukey("race");
    int rounds = 30, i, r, total = 0;

    pthread_barrier_init(&bar, NULL, NTHREADS);
    for (i = 0; i < NTHREADS; i++) {
        memset(&a[i], 0, sizeof(a[i]));
        a[i].c = c;
        a[i].bar = &bar;
        a[i].prefix = prefix;
        a[i].id = i;
        a[i].rounds = rounds;
        pthread_create(&th[i], NULL, race_thread, &a[i]);
    }
    for (i = 0; i < NTHREADS; i++)
        pthread_join(th[i], NULL);
    pthread_barrier_destroy(&bar);
    for (i = 0; i < NTHREADS; i++) {
        ck_assert_int_eq(a[i].errors, 0);
        total += a[i].wins;
    }
    ck_assert_int_eq(total, rounds);
    for (r = 0; r < rounds; r++) {
        int winners = 0, w = -1;
        char want[32];
        for (i = 0; i < NTHREADS; i++) {
            if (a[i].won[r]) {
                winners++;
                w = i;
            }
        }
        ck_assert_int_eq(winners, 1);
        snprintf(want, sizeof(want), "winner-%d", w);
        ck_assert_str_eq(getv(c, apr_psprintf(tpo_test_pool, "%s-%d", prefix, r)), want);
    }
}

/* -- concurrent get/set: values are self-describing, so torn or crossed
 *    replies are detected */

typedef struct {
    tpo_cache *c;
    const char *prefix;
    int id, ops;
    int errors, bad;
    char why[128];
} conc_arg;

static apr_size_t make_val(char *buf, int id, int seq)
{
    int n = snprintf(buf, 64, "T%02d:%06d:", id, seq);
    int fill = (seq * 37 + id * 11) % 700, i;

    for (i = 0; i < fill; i++)
        buf[n + i] = (char)('a' + (id + i) % 26);
    return (apr_size_t)(n + fill);
}

static int valid_val(const char *v, apr_size_t n, int *id, int *seq)
{
    char buf[1024];
    apr_size_t m;

    if (n < 11 || sscanf(v, "T%02d:%06d:", id, seq) != 2)
        return 0;
    m = make_val(buf, *id, *seq);
    return m == n && memcmp(buf, v, n) == 0;
}

static void *conc_thread(void *p)
{
    conc_arg *a = p;
    apr_pool_t *pool;
    char own[128], shared[128], buf[1024];
    int i, last = -1;

    apr_pool_create(&pool, NULL);
    snprintf(own, sizeof(own), "%s-own-%d", a->prefix, a->id);
    snprintf(shared, sizeof(shared), "%s-shared-%d", a->prefix, a->id % 3);
    for (i = 0; i < a->ops; i++) {
        const char *k = (i % 3 == 0) ? shared : own;
        apr_status_t rv;

        if (i % 2 == 0) {
            apr_size_t n = make_val(buf, a->id, i);
            rv = tpo_cache_set(a->c, k, buf, n, FAR);
            if (rv != APR_SUCCESS)
                a->errors++;
            else if (k == own)
                last = i;
        }
        else {
            char *v = NULL;
            apr_size_t n = 0;
            int id, seq;

            rv = tpo_cache_get(a->c, k, pool, &v, &n);
            if (rv == APR_NOTFOUND && (k == shared || last < 0))
                continue;
            if (rv != APR_SUCCESS) {
                a->errors++;
                continue;
            }
            if (!valid_val(v, n, &id, &seq)) {
                a->bad++;
                snprintf(a->why, sizeof(a->why), "malformed value of %zu bytes", (size_t)n);
            }
            else if (k == own && (id != a->id || seq != last)) {
                a->bad++;
                snprintf(a->why, sizeof(a->why), "own key: got T%d:%d, wrote T%d:%d", id, seq,
                         a->id, last);
            }
        }
        apr_pool_clear(pool);
    }
    apr_pool_destroy(pool);
    return NULL;
}

static void check_concurrent(tpo_cache *c)
{
    pthread_t th[NTHREADS];
    conc_arg a[NTHREADS];
    const char *prefix = ukey("conc");
    int i;

    for (i = 0; i < NTHREADS; i++) {
        memset(&a[i], 0, sizeof(a[i]));
        a[i].c = c;
        a[i].prefix = prefix;
        a[i].id = i;
        a[i].ops = 600;
        pthread_create(&th[i], NULL, conc_thread, &a[i]);
    }
    for (i = 0; i < NTHREADS; i++)
        pthread_join(th[i], NULL);
    for (i = 0; i < NTHREADS; i++) {
        ck_assert_msg(a[i].errors == 0, "thread %d: %d errors", i, a[i].errors);
        ck_assert_msg(a[i].bad == 0, "thread %d: %s", i, a[i].why);
    }
}

/* -- a server killed and restarted on the same port */

static void expect_all_fail(tpo_cache *c, const char *k, double within)
{
    char *v;
    apr_size_t n;
    apr_time_t t0 = apr_time_now();

    ck_assert_failure(tpo_cache_get(c, k, tpo_test_pool, &v, &n));
    ck_assert_failure(tpo_cache_set(c, k, "v", 1, FAR));
    ck_assert_failure(tpo_cache_add(c, k, "v", 1, FAR));
    ck_assert_failure(tpo_cache_del(c, k));
    ck_assert_msg(since(t0) < within, "four failing operations took %.2f s", since(t0));
}

/* Succeeds again within `within` seconds of trying. */
static void expect_recovery(tpo_cache *c, const char *k, double within)
{
    apr_time_t t0 = apr_time_now();
    apr_status_t rv;

    do {
        rv = put(c, k, "back");
        if (rv == APR_SUCCESS)
            break;
        ck_assert_failure(rv);
        usleep(50000);
    } while (since(t0) < within);
    ck_assert_msg(rv == APR_SUCCESS, "no recovery after %.1f s (status %d)", within, rv);
    ck_assert_str_eq(getv(c, k), "back");
}

static void check_down_and_back(int kind)
{
    server s = {kind, NULL, 0, 0};
    tpo_cache *c;
    const char *k = ukey("down");

    ck_assert(srv_start(&s));
    c = kind == 'm' ? mk_mc(addr(s.port), TIMEOUT) : mk_rs(addr(s.port), NULL, TIMEOUT);
    ck_assert_int_eq(put(c, k, "before"), APR_SUCCESS);
    ck_assert_str_eq(getv(c, k), "before");

    /* a restart between two operations: the pooled connection is dead, yet
     * the next operation just works (and finds the restarted server empty) */
    srv_kill(&s);
    ck_assert(srv_start(&s));
    ck_assert_ptr_null(getv(c, k));
    ck_assert_int_eq(put(c, k, "before"), APR_SUCCESS);
    srv_kill(&s);
    ck_assert(srv_start(&s));
    ck_assert_int_eq(put(c, k, "before"), APR_SUCCESS);
    ck_assert_str_eq(getv(c, k), "before");

    srv_kill(&s);               /* pooled connections now point at nothing */
    expect_all_fail(c, k, 1.0); /* refused: fast, and never "not found" */
    expect_all_fail(c, k, 1.0);

    ck_assert(srv_start(&s)); /* same port */
    expect_recovery(c, k, 3.0);
    ck_assert_int_eq(tpo_cache_del(c, k), APR_SUCCESS);
    ck_assert_ptr_null(getv(c, ukey("never-written"))); /* absent, not a failure */
    srv_kill(&s);
}

/* -- a server that hangs (SIGSTOP): bounded by the timeout, then recovery */

typedef struct {
    tpo_cache *c;
    const char *k;
    apr_status_t rv;
    double secs;
} hang_arg;

static void *hang_thread(void *p)
{
    hang_arg *a = p;
    char *v;
    apr_size_t n;
    apr_pool_t *pool;
    apr_time_t t0 = apr_time_now();

    apr_pool_create(&pool, NULL);
    a->rv = tpo_cache_get(a->c, a->k, pool, &v, &n);
    a->secs = since(t0);
    apr_pool_destroy(pool);
    return NULL;
}

static void check_hang(int kind)
{
    server s = {kind, NULL, 0, 0};
    tpo_cache *c;
    const char *k = ukey("hang");
    pthread_t th[4];
    hang_arg a[4];
    apr_time_t t0;
    char *v;
    apr_size_t n;
    int i;

    ck_assert(srv_start(&s));
    c = kind == 'm' ? mk_mc(addr(s.port), TIMEOUT) : mk_rs(addr(s.port), NULL, TIMEOUT);
    ck_assert_int_eq(put(c, k, "before"), APR_SUCCESS); /* a pooled connection */

    kill(s.pid, SIGSTOP);
    ck_assert_int_eq(waitpid(s.pid, NULL, WUNTRACED), s.pid); /* really stopped */
    t0 = apr_time_now();
    ck_assert_failure(tpo_cache_get(c, k, tpo_test_pool, &v, &n));
    ck_assert_msg(since(t0) >= 0.4 && since(t0) < 1.2, "hung get returned after %.2f s", since(t0));

    /* several threads at once: none waits longer than about the timeout */
    for (i = 0; i < 4; i++) {
        a[i].c = c;
        a[i].k = k;
        pthread_create(&th[i], NULL, hang_thread, &a[i]);
    }
    for (i = 0; i < 4; i++)
        pthread_join(th[i], NULL);
    for (i = 0; i < 4; i++) {
        ck_assert_failure(a[i].rv);
        ck_assert_msg(a[i].secs < 1.2, "thread %d waited %.2f s", i, a[i].secs);
    }
    t0 = apr_time_now();
    expect_all_fail(c, k, 2.5);

    kill(s.pid, SIGCONT);
    expect_recovery(c, k, 3.0);
    srv_kill(&s);
}

/* -- a fake server with hostile replies: strict parsing, bounded reads */

typedef struct {
    int lfd, port;
    const char *const *replies;
    int n;
    pthread_t th;
} fake;

static void *fake_main(void *p)
{
    fake *f = p;
    int i;

    for (i = 0; i < f->n; i++) {
        char buf[4096];
        const char *r = f->replies[i];
        int hang = strncmp(r, "HANG:", 5) == 0;
        int fd = accept(f->lfd, NULL, NULL);

        if (fd < 0)
            break;
        if (recv(fd, buf, sizeof(buf), 0) > 0) {
            if (hang)
                r += 5;
            if (strcmp(r, "LONGLINE") == 0) {
                memset(buf, 'A', sizeof(buf));
                send(fd, buf, 2000, MSG_NOSIGNAL);
            }
            else {
                send(fd, r, strlen(r), MSG_NOSIGNAL);
            }
            if (hang)
                usleep(1500000);
        }
        close(fd);
    }
    return NULL;
}

static void fake_start(fake *f, const char *const *replies, int n)
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
    f->replies = replies;
    f->n = n;
    pthread_create(&f->th, NULL, fake_main, f);
}

static void fake_stop(fake *f)
{
    shutdown(f->lfd, SHUT_RDWR);
    close(f->lfd);
    pthread_join(f->th, NULL);
}

/* expect[i]: 'S' success with value "abc", 'N' not found, 'F' failure */
static void check_hostile(tpo_cache *c, const char *expect, int n)
{
    int i;

    for (i = 0; i < n; i++) {
        char *v = NULL;
        apr_size_t len = 0;
        apr_time_t t0 = apr_time_now();
        apr_status_t rv = tpo_cache_get(c, "k", tpo_test_pool, &v, &len);

        if (expect[i] == 'S') {
            ck_assert_msg(rv == APR_SUCCESS, "reply %d: status %d", i, rv);
            ck_assert_uint_eq(len, 3);
            ck_assert_str_eq(v, "abc");
        }
        else if (expect[i] == 'N') {
            ck_assert_msg(rv == APR_NOTFOUND, "reply %d: status %d", i, rv);
        }
        else {
            ck_assert_msg(rv != APR_SUCCESS && rv != APR_NOTFOUND,
                          "reply %d: hostile reply taken (status %d)", i, rv);
        }
        ck_assert_msg(since(t0) < 1.0, "reply %d took %.2f s", i, since(t0));
    }
}

/* ------------------------------------------------------------ memcached */

START_TEST(mc_semantics)
{
    tpo_cache *c = mk_shared('m');

    ck_assert_str_eq(c->ops->name, "memcache");
    check_semantics(c);
    /* memcached key rules: no space, no control character */
    ck_assert_int_eq(put(c, "a b", "v"), APR_EINVAL);
    ck_assert_int_eq(put(c, "a\nb", "v"), APR_EINVAL);
    ck_assert_int_eq(put(c, "a\rb", "v"), APR_EINVAL);
    ck_assert_int_eq(put(c, "a\x7f", "v"), APR_EINVAL);
    ck_assert_int_eq(tpo_cache_add(c, "a\tb", "v", 1, FAR), APR_EINVAL);
    ck_assert_ptr_null(getv(c, "a b"));
    ck_assert_int_eq(tpo_cache_del(c, "a b"), APR_NOTFOUND);
    ck_assert_int_eq(put(c, "utf8-\xc3\xa9", "v"), APR_SUCCESS);
    ck_assert_str_eq(getv(c, "utf8-\xc3\xa9"), "v");
}
END_TEST

START_TEST(mc_binary)
{
    check_binary(mk_shared('m'));
}
END_TEST

START_TEST(mc_large)
{
    /* the server runs with -I 4m */
    check_large(mk_shared('m'), 3 * 1024 * 1024, 5 * 1024 * 1024, 0);
}
END_TEST

START_TEST(mc_expiry)
{
    check_expiry(mk_shared('m'));
}
END_TEST

START_TEST(mc_add_race)
{
    check_add_race(mk_shared('m'));
}
END_TEST

START_TEST(mc_concurrent)
{
    check_concurrent(mk_shared('m'));
}
END_TEST

START_TEST(mc_failover)
{
    /* a dead server next to a live one: every key still works */
    int dead = free_port(), i;
    tpo_cache *c = mk_mc(
        apr_psprintf(tpo_test_pool, "127.0.0.1:%d, 127.0.0.1:%d", dead, mc_srv.port), TIMEOUT);

    for (i = 0; i < 40; i++) {
        const char *k = apr_psprintf(tpo_test_pool, "fo-%ld-%d", (long)getpid(), i);
        ck_assert_int_eq(put(c, k, k), APR_SUCCESS);
        ck_assert_str_eq(getv(c, k), k);
    }
}
END_TEST

START_TEST(mc_down_and_back)
{
    check_down_and_back('m');
}
END_TEST

START_TEST(mc_hang)
{
    check_hang('m');
}
END_TEST

START_TEST(mc_hostile)
{
    static const char *const replies[] = {
        "VALUE k 0 3\r\nabc\r\nEND\r\n",
        "VALUE other 0 3\r\nabc\r\nEND\r\n",   /* another key */
        "VALUE k 0 99999999999999999999\r\n",  /* length overflow */
        "VALUE k 0 16777217\r\n",              /* above the bound */
        "VALUE k 0 999999999999999999\r\nabc", /* far above: never allocated */
        "VALUE k 0 -3\r\nabc\r\nEND\r\n",
        "VALUE k 0 3\r\nabcde\r\nEND\r\n", /* data not CRLF-terminated */
        "VALUE k 0 3\r\nabc\r\nXYZ\r\n",   /* no END */
        "VALUE k 0 5\r\nab",               /* EOF in the data */
        "VALUE  k 0 3\r\nabc\r\nEND\r\n",  /* double space */
        "SERVER_ERROR out of memory\r\n",
        "LONGLINE",                 /* no line end within bounds */
        "END\n",                    /* bare LF */
        "END\r\n",                  /* absent */
        "HANG:VALUE k 0 10\r\nabc", /* then silence */
    };
    fake f;
    tpo_cache *c;

    fake_start(&f, replies, (int)(sizeof(replies) / sizeof(replies[0])));
    c = mk_mc(addr(f.port), apr_time_from_msec(300));
    check_hostile(c, "SFFFFFFFFFFFFNF", 15);
    fake_stop(&f);
}
END_TEST

START_TEST(mc_create_errors)
{
    tpo_cache *c = NULL;
    const char *err = NULL;

    ck_assert_int_eq(tpo_memcache_cache_create(tpo_test_pool, "", TIMEOUT, &c, &err), APR_EINVAL);
    ck_assert_ptr_nonnull(err);
    ck_assert_ptr_null(c);
    err = NULL;
    ck_assert_int_eq(
        tpo_memcache_cache_create(tpo_test_pool, "127.0.0.1:notaport", TIMEOUT, &c, &err),
        APR_EINVAL);
    ck_assert_ptr_nonnull(err);
    ck_assert_int_eq(tpo_memcache_cache_create(tpo_test_pool, "127.0.0.1:11211", 0, &c, &err),
                     APR_EINVAL);
    ck_assert_int_eq(
        tpo_memcache_cache_create(tpo_test_pool, "[::1]:11211,localhost", TIMEOUT, &c, &err),
        APR_SUCCESS);
    ck_assert_ptr_nonnull(c);
}
END_TEST

/* ------------------------------------------------------------ redis */

START_TEST(rs_semantics)
{
    tpo_cache *c = mk_shared('r');

    ck_assert_str_eq(c->ops->name, "redis");
    check_semantics(c);
    /* Redis keys are binary-safe: spaces and CRLF are plain bytes */
    ck_assert_int_eq(put(c, "a b\r\n$3", "v"), APR_SUCCESS);
    ck_assert_str_eq(getv(c, "a b\r\n$3"), "v");
    ck_assert_int_eq(tpo_cache_del(c, "a b\r\n$3"), APR_SUCCESS);
}
END_TEST

START_TEST(rs_binary)
{
    check_binary(mk_shared('r'));
}
END_TEST

START_TEST(rs_large)
{
    check_large(mk_shared('r'), 10 * 1024 * 1024, 16 * 1024 * 1024 + 1, 1);
}
END_TEST

START_TEST(rs_expiry)
{
    check_expiry(mk_shared('r'));
}
END_TEST

START_TEST(rs_add_race)
{
    check_add_race(mk_shared('r'));
}
END_TEST

START_TEST(rs_concurrent)
{
    check_concurrent(mk_shared('r'));
}
END_TEST

START_TEST(rs_auth)
{
    tpo_cache *good = mk_rs(addr(rs_auth_srv.port), PASSWORD, TIMEOUT);
    tpo_cache *wrong = mk_rs(addr(rs_auth_srv.port), "not the password", TIMEOUT);
    tpo_cache *none = mk_rs(addr(rs_auth_srv.port), NULL, TIMEOUT);
    tpo_cache *needless = mk_rs(addr(rs_srv.port), "a password", TIMEOUT);
    const char *k = ukey("auth");
    char *v;
    apr_size_t n;
    int i;

    log_clear();
    check_semantics(good);
    ck_assert_int_eq(put(good, k, "secret"), APR_SUCCESS);
    ck_assert_str_eq(getv(good, k), "secret");
    for (i = 0; i < 3; i++) { /* every time: no connection is left half-authenticated */
        ck_assert_int_eq(tpo_cache_get(wrong, k, tpo_test_pool, &v, &n), APR_EACCES);
        ck_assert_failure(tpo_cache_set(wrong, k, "x", 1, FAR));
        ck_assert_failure(tpo_cache_del(wrong, k));
        ck_assert_failure(tpo_cache_get(none, k, tpo_test_pool, &v, &n)); /* NOAUTH */
        ck_assert_failure(tpo_cache_add(none, k, "x", 1, FAR));
    }
    ck_assert_failure(tpo_cache_get(needless, k, tpo_test_pool, &v, &n));
    ck_assert_str_eq(getv(good, k), "secret"); /* nothing was changed */
    ck_assert_ptr_nonnull(strstr(logbuf, "rejected AUTH"));
    ck_assert_ptr_null(strstr(logbuf, "not the password"));
    ck_assert_ptr_null(strstr(logbuf, PASSWORD));
}
END_TEST

START_TEST(rs_failover)
{
    /* the first server is dead: the second one serves */
    int dead = free_port(), i;
    tpo_cache *c = mk_rs(
        apr_psprintf(tpo_test_pool, "127.0.0.1:%d,127.0.0.1:%d", dead, rs_srv.port), NULL, TIMEOUT);

    for (i = 0; i < 20; i++) {
        const char *k = ukey("fo");
        ck_assert_int_eq(put(c, k, k), APR_SUCCESS);
        ck_assert_str_eq(getv(c, k), k);
    }
}
END_TEST

START_TEST(rs_down_and_back)
{
    check_down_and_back('r');
}
END_TEST

START_TEST(rs_hang)
{
    check_hang('r');
}
END_TEST

START_TEST(rs_hostile)
{
    static const char *const replies[] = {
        "$3\r\nabc\r\n",
        "$99999999999999999999\r\n",  /* length overflow */
        "$16777217\r\n",              /* above the bound */
        "$999999999999999999\r\nabc", /* far above: never allocated */
        "$5\r\nab",                   /* EOF in the bulk */
        "$3\r\nabcXY",                /* bulk not CRLF-terminated */
        ":12\r\n",                    /* wrong type for GET */
        ":12x\r\n",
        "*1\r\n$3\r\nabc\r\n", /* arrays are not ours */
        "LONGLINE",
        "+OK\n", /* bare LF */
        "$-2\r\n",
        "$+3\r\nabc\r\n",
        "-ERR something\r\n",
        "_\r\n",           /* RESP3 null: not spoken */
        "$-1\r\n",         /* absent */
        "HANG:$10\r\nabc", /* then silence */
    };
    fake f;
    tpo_cache *c;

    fake_start(&f, replies, (int)(sizeof(replies) / sizeof(replies[0])));
    c = mk_rs(addr(f.port), NULL, apr_time_from_msec(300));
    check_hostile(c, "SFFFFFFFFFFFFFFNF", 17);
    fake_stop(&f);
}
END_TEST

START_TEST(rs_create_errors)
{
    tpo_cache *c = NULL;
    const char *err = NULL;

    ck_assert_int_eq(tpo_redis_cache_create(tpo_test_pool, NULL, NULL, TIMEOUT, &c, &err),
                     APR_EINVAL);
    ck_assert_ptr_nonnull(err);
    ck_assert_int_eq(
        tpo_redis_cache_create(tpo_test_pool, "127.0.0.1:99999", NULL, TIMEOUT, &c, &err),
        APR_EINVAL);
    ck_assert_int_eq(tpo_redis_cache_create(tpo_test_pool, ",", NULL, TIMEOUT, &c, &err),
                     APR_EINVAL);
    ck_assert_int_eq(tpo_redis_cache_create(tpo_test_pool, "localhost", NULL, TIMEOUT, &c, &err),
                     APR_SUCCESS);
}
END_TEST

/* ------------------------------------------------------------ crypt */

/* A pass-through cache that remembers every key and value it was given. */
typedef struct {
    tpo_cache pub;
    tpo_cache *inner;
    apr_array_header_t *keys, *vals, *lens;
} spy;

static apr_status_t spy_get(tpo_cache *c, const char *k, apr_pool_t *p, char **v, apr_size_t *n)
{
    spy *s = c->impl;
    *(const char **)apr_array_push(s->keys) = apr_pstrdup(tpo_test_pool, k);
    return tpo_cache_get(s->inner, k, p, v, n);
}

static void spy_rec(spy *s, const char *k, const void *v, apr_size_t n)
{
    *(const char **)apr_array_push(s->keys) = apr_pstrdup(tpo_test_pool, k);
    *(const void **)apr_array_push(s->vals) = apr_pmemdup(tpo_test_pool, v, n ? n : 1);
    *(apr_size_t *)apr_array_push(s->lens) = n;
}

static apr_status_t spy_set(tpo_cache *c, const char *k, const void *v, apr_size_t n, apr_time_t e)
{
    spy *s = c->impl;
    spy_rec(s, k, v, n);
    return tpo_cache_set(s->inner, k, v, n, e);
}

static apr_status_t spy_add(tpo_cache *c, const char *k, const void *v, apr_size_t n, apr_time_t e)
{
    spy *s = c->impl;
    spy_rec(s, k, v, n);
    return tpo_cache_add(s->inner, k, v, n, e);
}

static apr_status_t spy_del(tpo_cache *c, const char *k)
{
    spy *s = c->impl;
    *(const char **)apr_array_push(s->keys) = apr_pstrdup(tpo_test_pool, k);
    return tpo_cache_del(s->inner, k);
}

static const tpo_cache_ops spy_ops = {"spy", spy_get, spy_set, spy_add, spy_del};

static spy *mk_spy(tpo_cache *inner)
{
    spy *s = apr_pcalloc(tpo_test_pool, sizeof(*s));

    s->inner = inner;
    s->keys = apr_array_make(tpo_test_pool, 8, sizeof(const char *));
    s->vals = apr_array_make(tpo_test_pool, 8, sizeof(const void *));
    s->lens = apr_array_make(tpo_test_pool, 8, sizeof(apr_size_t));
    s->pub.ops = &spy_ops;
    s->pub.impl = s;
    return s;
}

static tpo_cache *mk_shm(void)
{
    tpo_cache *c = NULL;
    const char *err = NULL;

    ck_assert_int_eq(tpo_shm_cache_create(tpo_test_pool, 1024 * 1024, 0, &c, &err), APR_SUCCESS);
    return c;
}

/* A key from a short test label (padded to the 32 bytes of a key file), so
 * that the tests need no scrypt run each; ck_passphrase_* test that path. */
static tpo_crypt_key *test_key(const char *label)
{
    tpo_crypt_key *k = apr_palloc(tpo_test_pool, sizeof(*k));
    char buf[33];
    const char *err = NULL;

    apr_snprintf(buf, sizeof(buf), "%-32s", label);
    ck_assert_int_eq(tpo_crypt_key_from_bytes(buf, 32, k, &err), APR_SUCCESS);
    return k;
}

static tpo_cache *mk_crypt_keys(tpo_cache *inner, const tpo_crypt_key *key,
                                const tpo_crypt_key *prev)
{
    tpo_cache *c = NULL;
    const char *err = NULL;

    ck_assert_int_eq(tpo_crypt_cache_create(tpo_test_pool, inner, key, prev, &c, &err),
                     APR_SUCCESS);
    ck_assert_ptr_nonnull(c);
    return c;
}

static tpo_cache *mk_crypt(tpo_cache *inner, const char *pass, const char *prev)
{
    return mk_crypt_keys(inner, test_key(pass), prev ? test_key(prev) : NULL);
}

static const char *last_key(spy *s)
{
    ck_assert_int_gt(s->keys->nelts, 0);
    return ((const char **)s->keys->elts)[s->keys->nelts - 1];
}

static int b64url_key(const char *k)
{
    size_t i, n = strlen(k);

    if (n != 43)
        return 0;
    for (i = 0; i < n; i++) {
        char ch = k[i];
        if (!((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
              ch == '-' || ch == '_'))
            return 0;
    }
    return 1;
}

#define PLAIN_KEY "session:SECRET-SESSION-ID-4711"
#define PLAIN_VALUE "PLAINTEXT-MARKER-sub=alice;email=alice@example.com"

START_TEST(ck_shm_roundtrip)
{
    tpo_cache *shm = mk_shm();
    spy *s = mk_spy(shm);
    tpo_cache *c = mk_crypt(&s->pub, "correct horse battery staple", NULL);
    const char *ik;
    char *raw;
    apr_size_t rawlen;
    int i;

    ck_assert_str_eq(c->ops->name, "crypt");
    check_semantics(c);
    check_binary(c);
    ck_assert_int_eq(put(c, PLAIN_KEY, PLAIN_VALUE), APR_SUCCESS);
    ck_assert_str_eq(getv(c, PLAIN_KEY), PLAIN_VALUE);

    /* what the inner cache holds */
    ik = last_key(s);
    ck_assert(b64url_key(ik));
    ck_assert_ptr_null(getv(shm, PLAIN_KEY));
    ck_assert_int_eq(tpo_cache_get(shm, ik, tpo_test_pool, &raw, &rawlen), APR_SUCCESS);
    ck_assert_uint_eq(rawlen, 1 + 12 + strlen(PLAIN_VALUE) + 16);
    ck_assert_int_eq((unsigned char)raw[0], 0x02);
    ck_assert_ptr_null(memmem(raw, rawlen, "PLAINTEXT", 9));
    for (i = 0; i < s->keys->nelts; i++) {
        const char *k = ((const char **)s->keys->elts)[i];
        ck_assert_msg(b64url_key(k), "inner key %d is not a MAC", i);
        ck_assert_ptr_null(strstr(k, "SECRET"));
    }
    for (i = 0; i < s->vals->nelts; i++) {
        const void *v = ((const void **)s->vals->elts)[i];
        apr_size_t n = ((apr_size_t *)s->lens->elts)[i];
        ck_assert_ptr_null(memmem(v, n, "PLAINTEXT", 9));
        ck_assert_ptr_null(memmem(v, n, "SECRET", 6));
    }
    /* same value twice: different ciphertexts (random nonce) */
    {
        char *raw2;
        apr_size_t rawlen2;
        ck_assert_int_eq(put(c, PLAIN_KEY, PLAIN_VALUE), APR_SUCCESS);
        ck_assert_int_eq(tpo_cache_get(shm, ik, tpo_test_pool, &raw2, &rawlen2), APR_SUCCESS);
        ck_assert_uint_eq(rawlen2, rawlen);
        ck_assert_int_ne(memcmp(raw, raw2, rawlen), 0);
    }
}
END_TEST

START_TEST(ck_tamper)
{
    tpo_cache *shm = mk_shm();
    spy *s = mk_spy(shm);
    tpo_cache *c = mk_crypt(&s->pub, "passphrase A", NULL);
    const char *ik;
    char *raw, *copy;
    apr_size_t rawlen, pos[5];
    int i;

    ck_assert_int_eq(put(c, PLAIN_KEY, PLAIN_VALUE), APR_SUCCESS);
    ik = last_key(s);
    ck_assert_int_eq(tpo_cache_get(shm, ik, tpo_test_pool, &raw, &rawlen), APR_SUCCESS);
    pos[0] = 0;           /* version */
    pos[1] = 5;           /* nonce */
    pos[2] = 13 + 7;      /* ciphertext */
    pos[3] = rawlen - 1;  /* tag */
    pos[4] = rawlen - 16; /* tag */
    for (i = 0; i < 5; i++) {
        copy = apr_pmemdup(tpo_test_pool, raw, rawlen);
        copy[pos[i]] ^= 0x04;
        ck_assert_int_eq(tpo_cache_set(shm, ik, copy, rawlen, FAR), APR_SUCCESS);
        log_clear();
        ck_assert_msg(getv(c, PLAIN_KEY) == NULL, "flipped bit at %zu accepted", (size_t)pos[i]);
        ck_assert_ptr_nonnull(strstr(logbuf, "failed authentication"));
        ck_assert_ptr_nonnull(strstr(logbuf, "<7>")); /* a debug line */
        ck_assert_ptr_null(strstr(logbuf, "SECRET"));
        ck_assert_ptr_null(strstr(logbuf, ik));
        ck_assert_ptr_null(strstr(logbuf, "PLAINTEXT"));
    }
    /* truncated, empty, only the header */
    ck_assert_int_eq(tpo_cache_set(shm, ik, raw, rawlen - 1, FAR), APR_SUCCESS);
    ck_assert_ptr_null(getv(c, PLAIN_KEY));
    ck_assert_int_eq(tpo_cache_set(shm, ik, raw, 0, FAR), APR_SUCCESS);
    ck_assert_ptr_null(getv(c, PLAIN_KEY));
    ck_assert_int_eq(tpo_cache_set(shm, ik, raw, 29, FAR), APR_SUCCESS);
    ck_assert_ptr_null(getv(c, PLAIN_KEY));
    /* the original bytes again: readable (the harness above is sound) */
    ck_assert_int_eq(tpo_cache_set(shm, ik, raw, rawlen, FAR), APR_SUCCESS);
    ck_assert_str_eq(getv(c, PLAIN_KEY), PLAIN_VALUE);
}
END_TEST

START_TEST(ck_moved_value)
{
    tpo_cache *shm = mk_shm();
    spy *s = mk_spy(shm);
    tpo_cache *c = mk_crypt(&s->pub, "passphrase A", NULL);
    const char *ik1, *ik2;
    char *raw;
    apr_size_t rawlen;

    ck_assert_int_eq(put(c, "user:alice", "role=admin"), APR_SUCCESS);
    ik1 = last_key(s);
    ck_assert_int_eq(put(c, "user:mallory", "role=guest"), APR_SUCCESS);
    ik2 = last_key(s);
    ck_assert_str_ne(ik1, ik2);
    /* copy alice's (valid) ciphertext over mallory's entry */
    ck_assert_int_eq(tpo_cache_get(shm, ik1, tpo_test_pool, &raw, &rawlen), APR_SUCCESS);
    ck_assert_int_eq(tpo_cache_set(shm, ik2, raw, rawlen, FAR), APR_SUCCESS);
    ck_assert_ptr_null(getv(c, "user:mallory"));
    ck_assert_str_eq(getv(c, "user:alice"), "role=admin");
}
END_TEST

START_TEST(ck_rotation)
{
    tpo_cache *shm = mk_shm();
    tpo_cache *a = mk_crypt(shm, "passphrase A", NULL);
    tpo_cache *ba = mk_crypt(shm, "passphrase B", "passphrase A");
    tpo_cache *b = mk_crypt(shm, "passphrase B", NULL);
    tpo_cache *aa = mk_crypt(shm, "passphrase A", "passphrase A"); /* previous == current */
    tpo_cache *shm2 = mk_shm();
    spy *s = mk_spy(shm2);
    tpo_cache *ba_spy = mk_crypt(&s->pub, "passphrase B", "passphrase A");
    tpo_cache *a_spy = mk_crypt(&s->pub, "passphrase A", NULL);

    /* written under A: read by (B, previous A), not by B alone */
    ck_assert_int_eq(put(a, "k1", "from A"), APR_SUCCESS);
    ck_assert_str_eq(getv(ba, "k1"), "from A");
    ck_assert_ptr_null(getv(b, "k1"));

    /* written by (B, A): not readable by A alone */
    ck_assert_int_eq(put(ba, "k2", "from BA"), APR_SUCCESS);
    ck_assert_ptr_null(getv(a, "k2"));
    ck_assert_str_eq(getv(b, "k2"), "from BA");
    ck_assert_str_eq(getv(ba, "k2"), "from BA");

    /* a set under B removes the copy under A (it could resurface later) */
    ck_assert_int_eq(put(a, "k3", "old"), APR_SUCCESS);
    ck_assert_int_eq(put(ba, "k3", "new"), APR_SUCCESS);
    ck_assert_ptr_null(getv(a, "k3"));
    ck_assert_str_eq(getv(ba, "k3"), "new");

    /* add sees an entry under the previous key */
    ck_assert_int_eq(put(a, "k4", "lock held by an A server"), APR_SUCCESS);
    ck_assert_int_eq(tpo_cache_add(ba, "k4", "mine", 4, FAR), APR_EEXIST);
    ck_assert_str_eq(getv(ba, "k4"), "lock held by an A server");
    ck_assert_int_eq(tpo_cache_add(ba, "k5", "mine", 4, FAR), APR_SUCCESS);
    ck_assert_int_eq(tpo_cache_add(ba, "k5", "again", 5, FAR), APR_EEXIST);

    /* del removes both copies; NOTFOUND only when neither was there */
    ck_assert_int_eq(put(ba, "k6", "under B"), APR_SUCCESS);
    ck_assert_int_eq(put(a, "k6", "under A"), APR_SUCCESS); /* both exist now */
    ck_assert_str_eq(getv(ba, "k6"), "under B");            /* current wins */
    ck_assert_int_eq(tpo_cache_del(ba, "k6"), APR_SUCCESS);
    ck_assert_ptr_null(getv(ba, "k6"));
    ck_assert_ptr_null(getv(a, "k6"));
    ck_assert_ptr_null(getv(b, "k6"));
    ck_assert_int_eq(tpo_cache_del(ba, "k6"), APR_NOTFOUND);
    ck_assert_int_eq(put(a, "k7", "only under A"), APR_SUCCESS);
    ck_assert_int_eq(tpo_cache_del(ba, "k7"), APR_SUCCESS); /* previous only */
    ck_assert_ptr_null(getv(a, "k7"));
    ck_assert_int_eq(tpo_cache_del(ba, "k7"), APR_NOTFOUND);

    /* both inner keys really are deleted (seen from the inner side) */
    ck_assert_int_eq(put(ba_spy, "k8", "B"), APR_SUCCESS);
    ck_assert_int_eq(put(a_spy, "k8", "A"), APR_SUCCESS);
    s->keys->nelts = 0;
    ck_assert_int_eq(tpo_cache_del(ba_spy, "k8"), APR_SUCCESS);
    ck_assert_int_eq(s->keys->nelts, 2);
    ck_assert_str_ne(((const char **)s->keys->elts)[0], ((const char **)s->keys->elts)[1]);
    ck_assert_ptr_null(getv(shm2, ((const char **)s->keys->elts)[0]));
    ck_assert_ptr_null(getv(shm2, ((const char **)s->keys->elts)[1]));

    /* previous == current is "no previous": a set does not delete itself */
    ck_assert_int_eq(put(aa, "k9", "same"), APR_SUCCESS);
    ck_assert_str_eq(getv(aa, "k9"), "same");
    ck_assert_str_eq(getv(a, "k9"), "same");
}
END_TEST

/* KEYS * on a Redis server, raw. */
static apr_array_header_t *redis_keys(int port)
{
    apr_array_header_t *keys = apr_array_make(tpo_test_pool, 16, sizeof(const char *));
    static const char req[] = "*2\r\n$4\r\nKEYS\r\n$1\r\n*\r\n";
    apr_size_t cap = 1 << 20, len = 0;
    char *buf = apr_palloc(tpo_test_pool, cap);
    int fd = tcp_connect(port, 2000);

    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(send(fd, req, sizeof(req) - 1, MSG_NOSIGNAL), (ssize_t)(sizeof(req) - 1));
    for (;;) {
        ssize_t r = recv(fd, buf + len, cap - len - 1, 0);
        long n, i;
        char *p, *end;
        int complete = 1;

        ck_assert_int_gt(r, 0);
        len += (apr_size_t)r;
        buf[len] = '\0';
        if (buf[0] != '*' || !strstr(buf, "\r\n"))
            continue;
        n = strtol(buf + 1, &end, 10);
        p = end + 2;
        keys->nelts = 0;
        for (i = 0; i < n; i++) {
            long kl;
            if (p >= buf + len || *p != '$' || !strstr(p, "\r\n")) {
                complete = 0;
                break;
            }
            kl = strtol(p + 1, &end, 10);
            p = end + 2;
            if (p + kl + 2 > buf + len) {
                complete = 0;
                break;
            }
            *(const char **)apr_array_push(keys) = apr_pstrmemdup(tpo_test_pool, p, (apr_size_t)kl);
            p += kl + 2;
        }
        if (complete)
            break;
    }
    close(fd);
    return keys;
}

START_TEST(ck_redis)
{
    tpo_cache *inner = mk_shared('r');
    tpo_cache *c = mk_crypt(inner, "redis passphrase", "older passphrase");
    tpo_cache *old = mk_crypt(inner, "older passphrase", NULL);
    const char *k = "session:SECRET-REDIS-ID-0815";
    apr_array_header_t *keys;
    int i, found_ours = 0;

    check_semantics(c);
    check_binary(c);
    ck_assert_int_eq(put(c, k, PLAIN_VALUE), APR_SUCCESS);
    ck_assert_str_eq(getv(c, k), PLAIN_VALUE);
    ck_assert_int_eq(put(old, "session:SECRET-OLD", PLAIN_VALUE), APR_SUCCESS);
    ck_assert_str_eq(getv(c, "session:SECRET-OLD"), PLAIN_VALUE); /* rotation over Redis */
    ck_assert_int_eq(tpo_cache_del(c, "session:SECRET-OLD"), APR_SUCCESS);
    ck_assert_ptr_null(getv(old, "session:SECRET-OLD"));

    /* look at everything the Redis server holds */
    keys = redis_keys(rs_srv.port);
    ck_assert_int_gt(keys->nelts, 0);
    for (i = 0; i < keys->nelts; i++) {
        const char *ik = ((const char **)keys->elts)[i];
        char *v;
        apr_size_t n;

        ck_assert_ptr_null(strstr(ik, "SECRET"));
        if (tpo_cache_get(inner, ik, tpo_test_pool, &v, &n) == APR_SUCCESS) {
            if (b64url_key(ik) && n == 29 + strlen(PLAIN_VALUE))
                found_ours++;
            if (b64url_key(ik))
                ck_assert_ptr_null(memmem(v, n, "PLAINTEXT-MARKER", 16));
        }
    }
    ck_assert_int_ge(found_ours, 1);

    /* many threads through the wrapper (shared OpenSSL state is read-only) */
    check_add_race(c);
    check_concurrent(c);

    /* encryption over memcached too: hashed keys meet memcached's key rules */
    {
        tpo_cache *m = mk_crypt(mk_shared('m'), "memcached passphrase", NULL);
        ck_assert_int_eq(put(m, "a key with spaces\r\nand CRLF", "v"), APR_SUCCESS);
        ck_assert_str_eq(getv(m, "a key with spaces\r\nand CRLF"), "v");
        check_large(m, 2 * 1024 * 1024, 5 * 1024 * 1024, 0);
    }
}
END_TEST

START_TEST(ck_inner_failure)
{
    /* a dead backend is a failure through the wrapper, never "absent" */
    tpo_cache *dead = mk_rs(addr(free_port()), NULL, TIMEOUT);
    tpo_cache *c = mk_crypt(dead, "p", "q");
    char *v;
    apr_size_t n;

    ck_assert_failure(tpo_cache_get(c, "k", tpo_test_pool, &v, &n));
    ck_assert_failure(tpo_cache_set(c, "k", "v", 1, FAR));
    ck_assert_failure(tpo_cache_add(c, "k", "v", 1, FAR));
    ck_assert_failure(tpo_cache_del(c, "k"));
}
END_TEST

START_TEST(ck_create_errors)
{
    tpo_cache *c = NULL;
    const char *err = NULL;

    ck_assert_int_eq(tpo_crypt_cache_create(tpo_test_pool, mk_shm(), NULL, NULL, &c, &err),
                     APR_EINVAL);
    ck_assert_ptr_nonnull(err);
    ck_assert_int_eq(tpo_crypt_cache_create(tpo_test_pool, NULL, test_key("p"), NULL, &c, &err),
                     APR_EINVAL);
}
END_TEST

static void hex_eq(const unsigned char *got, apr_size_t n, const char *want)
{
    char buf[257];
    apr_size_t i;

    ck_assert_uint_le(n * 2, sizeof(buf) - 1);
    for (i = 0; i < n; i++) {
        apr_snprintf(buf + 2 * i, 3, "%02x", got[i]);
    }
    ck_assert_str_eq(buf, want);
}

/* RFC 7914, section 12: scrypt test vectors through our function */
START_TEST(ck_scrypt_rfc7914)
{
    unsigned char out[64];

    ck_assert(tpo_crypt_scrypt("", 0, "", 0, 16, 1, 1, out, 64));
    hex_eq(out, 64,
           "77d6576238657b203b19ca42c18a0497f16b4844e3074ae8dfdffa3fede21442"
           "fcd0069ded0948f8326a753a0fc81f17e8d3e0fb2e0d3628cf35e20c38d18906");
    ck_assert(tpo_crypt_scrypt("password", 8, "NaCl", 4, 1024, 8, 16, out, 64));
    hex_eq(out, 64,
           "fdbabe1c9d3472007856e7190d01e9fe7c6ad7cbc8237830e77376634b373162"
           "2eaf30d92e22a3886ff109279d9830dac727afb94a83ee6d8360cbdfa2cc0640");
    ck_assert(tpo_crypt_scrypt("pleaseletmein", 13, "SodiumChloride", 14, 16384, 8, 1, out, 64));
    hex_eq(out, 64,
           "7023bdcb3afd7348461c06cd81fd38ebfda8fbba904f8e3ea9b543f6545da1f2"
           "d5432955613f0fcf62d49705242a9af9e61e85dc0d651e40dfcf017b45575887");
}
END_TEST

/* The passphrase path: scrypt with N = 2^15, r = 8, p = 1 and the documented
 * context string as salt (the expected value computed independently, with
 * Python's hashlib.scrypt); a short passphrase is refused. */
START_TEST(ck_passphrase_kdf)
{
    tpo_crypt_key k, k2, kf;
    unsigned char raw[32];
    const char *err = NULL;
    apr_time_t t0;
    int i;

    ck_assert_uint_eq(TPO_CRYPT_SCRYPT_N, 32768);
    t0 = apr_time_now();
    ck_assert_int_eq(tpo_crypt_key_from_passphrase("correct horse battery staple", &k, &err),
                     APR_SUCCESS);
    /* memory-hard and slow on purpose, but a start-up cost, not minutes */
    ck_assert_int_lt(apr_time_as_msec(apr_time_now() - t0), 5000);
    hex_eq(k.k, 32, "e6d79a808ff2f7cd43ee698fbf1c223ee10b6f97ea3f40bcb3c3e5c90de0a98c");
    ck_assert(tpo_crypt_scrypt("correct horse battery staple", 28,
                               "mod_tp_oauth cache passphrase scrypt v2", 39, 32768, 8, 1, k2.k,
                               32));
    ck_assert(memcmp(k.k, k2.k, 32) == 0);

    /* shorter than 16 characters: refused */
    ck_assert_int_eq(tpo_crypt_key_from_passphrase("fifteen chars!!", &k2, &err), APR_EINVAL);
    ck_assert_ptr_nonnull(strstr(err, "16"));
    ck_assert_int_eq(tpo_crypt_key_from_passphrase("", &k2, &err), APR_EINVAL);
    ck_assert_int_eq(tpo_crypt_key_from_passphrase(NULL, &k2, &err), APR_EINVAL);

    /* a key file's bytes: HMAC-SHA256 with the documented label */
    for (i = 0; i < 32; i++)
        raw[i] = (unsigned char)i;
    ck_assert_int_eq(tpo_crypt_key_from_bytes(raw, 32, &kf, &err), APR_SUCCESS);
    hex_eq(kf.k, 32, "ba6405f172dcde68c557c7398fd1e9e29a3cfbd550371af21b26b7ba081b10dd");
    ck_assert_int_eq(tpo_crypt_key_from_bytes(raw, 31, &kf, &err), APR_EINVAL);
    ck_assert_ptr_nonnull(strstr(err, "32"));

    /* tags: stable, one-way, distinct */
    ck_assert_str_eq(tpo_crypt_secret_tag(tpo_test_pool, "abc", 3),
                     tpo_crypt_secret_tag(tpo_test_pool, "abc", 3));
    ck_assert_str_ne(tpo_crypt_secret_tag(tpo_test_pool, "abc", 3),
                     tpo_crypt_secret_tag(tpo_test_pool, "abd", 3));
    ck_assert_ptr_null(strstr(tpo_crypt_secret_tag(tpo_test_pool, "abc", 3), "abc"));

    /* the passphrase key works in the wrapper, and only with itself */
    {
        tpo_cache *shm = mk_shm();
        tpo_cache *a = mk_crypt_keys(shm, &k, NULL), *f = mk_crypt_keys(shm, &kf, NULL);
        ck_assert_int_eq(put(a, "k", "v"), APR_SUCCESS);
        ck_assert_str_eq(getv(a, "k"), "v");
        ck_assert_ptr_null(getv(f, "k"));
    }
}
END_TEST

static const char *write_file(const void *data, apr_size_t n)
{
    const char *path =
        apr_psprintf(tpo_test_pool, "/tmp/tpo-keyfile-%ld-%d", (long)getpid(), rand());
    FILE *f = fopen(path, "wb");

    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fwrite(data, 1, n, f), n);
    fclose(f);
    return path;
}

/* Key files: fewer than 32 bytes, none, or too many are refused; a good
 * one is read as it is; rotation from one key file to the next, and from a
 * passphrase to a key file, keeps earlier entries readable. */
START_TEST(ck_key_file_and_rotation)
{
    unsigned char raw[4097];
    const char *bytes = NULL, *err = NULL, *p31, *p32, *p4097, *pB;
    apr_size_t n = 0;
    tpo_crypt_key ka, kb, kp;
    int i;

    for (i = 0; i < (int)sizeof(raw); i++)
        raw[i] = (unsigned char)(i * 7 + 3);
    p31 = write_file(raw, 31);
    p32 = write_file(raw, 32);
    p4097 = write_file(raw, 4097);
    pB = write_file(raw + 100, 48);

    ck_assert_int_eq(tpo_crypt_key_file_read(tpo_test_pool, p31, &bytes, &n, &err), APR_EINVAL);
    ck_assert_ptr_nonnull(strstr(err, "32 bytes"));
    ck_assert_ptr_null(bytes);
    ck_assert_int_eq(tpo_crypt_key_file_read(tpo_test_pool, p4097, &bytes, &n, &err), APR_EINVAL);
    ck_assert_int_ne(
        tpo_crypt_key_file_read(tpo_test_pool, "/nonexistent/tpo-key", &bytes, &n, &err),
        APR_SUCCESS);
    ck_assert_ptr_nonnull(err);
    ck_assert_int_eq(tpo_crypt_key_file_read(tpo_test_pool, p32, &bytes, &n, &err), APR_SUCCESS);
    ck_assert_uint_eq(n, 32);
    ck_assert(memcmp(bytes, raw, 32) == 0);
    ck_assert_int_eq(tpo_crypt_key_from_bytes(bytes, n, &ka, &err), APR_SUCCESS);
    ck_assert_int_eq(tpo_crypt_key_file_read(tpo_test_pool, pB, &bytes, &n, &err), APR_SUCCESS);
    ck_assert_uint_eq(n, 48);
    ck_assert_int_eq(tpo_crypt_key_from_bytes(bytes, n, &kb, &err), APR_SUCCESS);
    ck_assert_int_eq(tpo_crypt_key_from_passphrase("an old passphrase, 32 characters", &kp, &err),
                     APR_SUCCESS);
    unlink(p31);
    unlink(p32);
    unlink(p4097);
    unlink(pB);

    {
        tpo_cache *shm = mk_shm();
        tpo_cache *a = mk_crypt_keys(shm, &ka, NULL);
        tpo_cache *ba = mk_crypt_keys(shm, &kb, &ka);
        tpo_cache *b = mk_crypt_keys(shm, &kb, NULL);
        tpo_cache *p = mk_crypt_keys(shm, &kp, NULL);
        tpo_cache *ap = mk_crypt_keys(shm, &ka, &kp); /* passphrase -> key file */

        ck_assert_int_eq(put(a, "k1", "from A"), APR_SUCCESS);
        ck_assert_str_eq(getv(ba, "k1"), "from A");
        ck_assert_ptr_null(getv(b, "k1"));
        ck_assert_int_eq(put(ba, "k1", "from BA"), APR_SUCCESS); /* rewritten under B */
        ck_assert_str_eq(getv(b, "k1"), "from BA");
        ck_assert_ptr_null(getv(a, "k1"));

        ck_assert_int_eq(put(p, "k2", "from passphrase"), APR_SUCCESS);
        ck_assert_str_eq(getv(ap, "k2"), "from passphrase");
        ck_assert_ptr_null(getv(a, "k2"));
        ck_assert_int_eq(tpo_cache_add(ap, "k2", "x", 1, FAR), APR_EEXIST);
        ck_assert_int_eq(put(ap, "k2", "from A"), APR_SUCCESS);
        ck_assert_str_eq(getv(a, "k2"), "from A");
        ck_assert_ptr_null(getv(p, "k2"));
    }
}
END_TEST

/* ------------------------------------------------------------ runner */

int main(void)
{
    Suite *s = suite_create("cache_remote");
    TCase *tm = tcase_create("memcached");
    TCase *tr = tcase_create("redis");
    TCase *tc = tcase_create("crypt");
    int rc;

    signal(SIGPIPE, SIG_IGN); /* as in httpd */
    tpo_log_set(capture, TPO_LOG_DEBUG);
    atexit(kill_spawned);
    if (!srv_start(&mc_srv) || !srv_start(&rs_srv) || !srv_start(&rs_auth_srv)) {
        fprintf(stderr, "cannot start memcached/redis-server (%s, %s)\n", MEMCACHED, REDIS);
        return EXIT_FAILURE;
    }

    tcase_add_checked_fixture(tm, tpo_test_setup, tpo_test_teardown);
    tcase_set_timeout(tm, 30);
    tcase_add_test(tm, mc_semantics);
    tcase_add_test(tm, mc_binary);
    tcase_add_test(tm, mc_large);
    tcase_add_test(tm, mc_expiry);
    tcase_add_test(tm, mc_add_race);
    tcase_add_test(tm, mc_concurrent);
    tcase_add_test(tm, mc_failover);
    tcase_add_test(tm, mc_down_and_back);
    tcase_add_test(tm, mc_hang);
    tcase_add_test(tm, mc_hostile);
    tcase_add_test(tm, mc_create_errors);
    suite_add_tcase(s, tm);

    tcase_add_checked_fixture(tr, tpo_test_setup, tpo_test_teardown);
    tcase_set_timeout(tr, 30);
    tcase_add_test(tr, rs_semantics);
    tcase_add_test(tr, rs_binary);
    tcase_add_test(tr, rs_large);
    tcase_add_test(tr, rs_expiry);
    tcase_add_test(tr, rs_add_race);
    tcase_add_test(tr, rs_concurrent);
    tcase_add_test(tr, rs_auth);
    tcase_add_test(tr, rs_failover);
    tcase_add_test(tr, rs_down_and_back);
    tcase_add_test(tr, rs_hang);
    tcase_add_test(tr, rs_hostile);
    tcase_add_test(tr, rs_create_errors);
    suite_add_tcase(s, tr);

    tcase_add_checked_fixture(tc, tpo_test_setup, tpo_test_teardown);
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, ck_shm_roundtrip);
    tcase_add_test(tc, ck_tamper);
    tcase_add_test(tc, ck_moved_value);
    tcase_add_test(tc, ck_rotation);
    tcase_add_test(tc, ck_redis);
    tcase_add_test(tc, ck_inner_failure);
    tcase_add_test(tc, ck_create_errors);
    tcase_add_test(tc, ck_scrypt_rfc7914);
    tcase_add_test(tc, ck_passphrase_kdf);
    tcase_add_test(tc, ck_key_file_and_rotation);
    suite_add_tcase(s, tc);

    rc = tpo_test_run(s);
    kill_spawned();
    return rc;
}
