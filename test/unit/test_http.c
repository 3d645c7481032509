/* SPDX-License-Identifier: Apache-2.0
 * Licensed under the Apache License, Version 2.0 (see LICENSE). */
/* libcurl client against tiny HTTP servers on 127.0.0.1 (a thread with
 * plain sockets per test; every wait is bounded and every socket closed).
 *
 * URL policy under test: a URL that is not an absolute http(s) URL (ftp://,
 * file://, relative, NULL, CR/LF inside) is TPO_HTTP_BAD_URL, decided before
 * libcurl is involved. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* memmem, strcasestr */
#endif
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <unistd.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <apr_strings.h>
#include <apr_tables.h>
#include "tpo_test.h"
#include "tpo_http.h"

enum srv_mode { SRV_RESPOND, SRV_SILENT };

typedef struct srv {
    int lfd;
    int port;
    enum srv_mode mode;
    const char *response; /* raw bytes to send */
    size_t response_len;
    char req[65536]; /* what the client sent */
    size_t req_len;
    int accepted;
    pthread_t th;
} srv;

static int wait_fd(int fd, short ev, int ms)
{
    struct pollfd pfd = {fd, ev, 0};
    return poll(&pfd, 1, ms) == 1;
}

/* Request complete: headers end, then Content-Length bytes of body. */
static int request_complete(const srv *s)
{
    const char *end = memmem(s->req, s->req_len, "\r\n\r\n", 4);
    const char *cl;
    size_t head, want = 0;

    if (end == NULL) {
        return 0;
    }
    head = (size_t)(end - s->req) + 4;
    cl = strcasestr(s->req, "\r\nContent-Length:");
    if (cl && cl < end) {
        want = strtoul(cl + 17, NULL, 10);
    }
    return s->req_len >= head + want;
}

static void *srv_main(void *arg)
{
    srv *s = arg;
    int fd;
    size_t off = 0;

    if (!wait_fd(s->lfd, POLLIN, 5000)) {
        return NULL;
    }
    fd = accept(s->lfd, NULL, NULL);
    if (fd < 0) {
        return NULL;
    }
    s->accepted = 1;
    while (!request_complete(s) && s->req_len < sizeof(s->req) - 1 && wait_fd(fd, POLLIN, 3000)) {
        ssize_t n = recv(fd, s->req + s->req_len, sizeof(s->req) - 1 - s->req_len, 0);
        if (n <= 0) {
            break;
        }
        s->req_len += (size_t)n;
        s->req[s->req_len] = '\0';
    }
    if (s->mode == SRV_SILENT) {
        char buf[256];
        /* say nothing; leave when the client gives up (bounded) */
        while (wait_fd(fd, POLLIN, 3000) && recv(fd, buf, sizeof(buf), 0) > 0) {
        }
        close(fd);
        return NULL;
    }
    while (off < s->response_len && wait_fd(fd, POLLOUT, 3000)) {
        ssize_t n = send(fd, s->response + off, s->response_len - off, MSG_NOSIGNAL);
        if (n <= 0) {
            break; /* the client hung up (e.g. response too large) */
        }
        off += (size_t)n;
    }
    shutdown(fd, SHUT_WR);
    close(fd);
    return NULL;
}

static int listen_socket(int *port, int do_listen)
{
    struct sockaddr_in sa;
    socklen_t sl = sizeof(sa);
    int fd = socket(AF_INET, SOCK_STREAM, 0);

    ck_assert_int_ge(fd, 0);
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    sa.sin_port = 0;
    ck_assert_int_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    if (do_listen) {
        ck_assert_int_eq(listen(fd, 4), 0);
    }
    ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&sa, &sl), 0);
    *port = ntohs(sa.sin_port);
    return fd;
}

static srv *srv_start(enum srv_mode mode, const char *response, size_t len)
{
    srv *s = apr_pcalloc(tpo_test_pool, sizeof(*s));
    s->mode = mode;
    s->response = response;
    s->response_len = len;
    s->lfd = listen_socket(&s->port, 1);
    ck_assert_int_eq(pthread_create(&s->th, NULL, srv_main, s), 0);
    return s;
}

static void srv_stop(srv *s)
{
    pthread_join(s->th, NULL);
    close(s->lfd);
}

static const char *url(const srv *s, const char *path)
{
    return apr_psprintf(tpo_test_pool, "http://127.0.0.1:%d%s", s->port, path);
}

static apr_array_header_t *hdrs(const char *a, const char *b)
{
    apr_array_header_t *h = apr_array_make(tpo_test_pool, 2, sizeof(const char *));
    if (a) {
        APR_ARRAY_PUSH(h, const char *) = a;
    }
    if (b) {
        APR_ARRAY_PUSH(h, const char *) = b;
    }
    return h;
}

/* ---------------------------------------------------------------- tests */

START_TEST(post_json_ok)
{
    static const char resp_text[] = "HTTP/1.1 200 OK\r\n"
                                    "Content-Type: application/json; charset=utf-8\r\n"
                                    "Content-Length: 28\r\n"
                                    "Connection: close\r\n\r\n"
                                    "{\"access_token\":\"abc\",\"x\":1}";
    const char *body = "{\"grant_type\":\"authorization_code\",\"code\":\"c\"}";
    tpo_http_opts o;
    tpo_http_response r;
    srv *s = srv_start(SRV_RESPOND, resp_text, sizeof(resp_text) - 1);

    tpo_http_opts_default(&o);
    o.user_agent = "tpo-test/1.0";
    ck_assert_int_eq(tpo_http_request(tpo_test_pool, "POST", url(s, "/token?x=1"),
                                      hdrs("Content-Type: application/json", "X-Test: yes"), body,
                                      strlen(body), &o, &r),
                     TPO_HTTP_OK);
    srv_stop(s);

    ck_assert_int_eq(r.status, 200);
    ck_assert_str_eq(r.content_type, "application/json; charset=utf-8");
    ck_assert_uint_eq(r.len, 28);
    ck_assert_str_eq(r.body, "{\"access_token\":\"abc\",\"x\":1}");
    ck_assert_ptr_null(r.error);
    ck_assert(r.elapsed > 0);

    /* what the server received */
    ck_assert_msg(strncmp(s->req, "POST /token?x=1 HTTP/1.1\r\n", 26) == 0, "%s", s->req);
    ck_assert_ptr_nonnull(strstr(s->req, "\r\nContent-Type: application/json\r\n"));
    ck_assert_ptr_nonnull(strstr(s->req, "\r\nX-Test: yes\r\n"));
    ck_assert_ptr_nonnull(strstr(s->req, "\r\nAccept: application/json\r\n"));
    ck_assert_ptr_nonnull(strstr(s->req, "\r\nUser-Agent: tpo-test/1.0\r\n"));
    ck_assert_ptr_null(strcasestr(s->req, "\r\nExpect:"));
    ck_assert_ptr_nonnull(
        strstr(s->req, apr_psprintf(tpo_test_pool, "\r\nContent-Length: %" APR_SIZE_T_FMT "\r\n",
                                    strlen(body))));
    ck_assert_str_eq(strstr(s->req, "\r\n\r\n") + 4, body);
}
END_TEST

START_TEST(get_with_caller_accept)
{
    static const char resp_text[] = "HTTP/1.1 500 Internal Server Error\r\n"
                                    "Content-Type: text/html\r\n"
                                    "Content-Length: 5\r\n\r\n"
                                    "oops!";
    tpo_http_response r;
    srv *s = srv_start(SRV_RESPOND, resp_text, sizeof(resp_text) - 1);

    /* opts NULL: defaults */
    ck_assert_int_eq(tpo_http_request(tpo_test_pool, "GET", url(s, "/userinfo"),
                                      hdrs("Accept: text/plain", "Authorization: Bearer zzz"), NULL,
                                      0, NULL, &r),
                     TPO_HTTP_OK);
    srv_stop(s);
    ck_assert_int_eq(r.status, 500);
    ck_assert_str_eq(r.content_type, "text/html");
    ck_assert_str_eq(r.body, "oops!");
    ck_assert_msg(strncmp(s->req, "GET /userinfo HTTP/1.1\r\n", 24) == 0, "%s", s->req);
    ck_assert_ptr_nonnull(strstr(s->req, "\r\nAccept: text/plain\r\n"));
    ck_assert_ptr_null(strstr(s->req, "application/json"));
    ck_assert_ptr_nonnull(strstr(s->req, "\r\nAuthorization: Bearer zzz\r\n"));
}
END_TEST

START_TEST(no_content_type_empty_body)
{
    static const char resp_text[] = "HTTP/1.1 204 No Content\r\n\r\n";
    tpo_http_response r;
    srv *s = srv_start(SRV_RESPOND, resp_text, sizeof(resp_text) - 1);

    ck_assert_int_eq(
        tpo_http_request(tpo_test_pool, "POST", url(s, "/revoke"), NULL, NULL, 0, NULL, &r),
        TPO_HTTP_OK);
    srv_stop(s);
    ck_assert_int_eq(r.status, 204);
    ck_assert_ptr_null(r.content_type);
    ck_assert_ptr_nonnull(r.body);
    ck_assert_str_eq(r.body, "");
    ck_assert_uint_eq(r.len, 0);
    ck_assert_msg(strncmp(s->req, "POST /revoke HTTP/1.1\r\n", 23) == 0, "%s", s->req);
}
END_TEST

static char *big_response(int with_length, size_t body_len, size_t *total)
{
    const char *head =
        with_length
            ? apr_psprintf(tpo_test_pool,
                           "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                           "Content-Length: %" APR_SIZE_T_FMT "\r\nConnection: close\r\n\r\n",
                           body_len)
            : "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n";
    size_t hl = strlen(head);
    char *buf = apr_palloc(tpo_test_pool, hl + body_len);
    memcpy(buf, head, hl);
    memset(buf + hl, 'a', body_len);
    *total = hl + body_len;
    return buf;
}

START_TEST(too_large_with_length)
{
    tpo_http_opts o;
    tpo_http_response r;
    size_t n;
    char *resp_text = big_response(1, 200000, &n);
    srv *s = srv_start(SRV_RESPOND, resp_text, n);

    tpo_http_opts_default(&o);
    o.max_response = 65536;
    ck_assert_int_eq(tpo_http_request(tpo_test_pool, "GET", url(s, "/big"), NULL, NULL, 0, &o, &r),
                     TPO_HTTP_TOO_LARGE);
    srv_stop(s);
    ck_assert_ptr_nonnull(r.error);
}
END_TEST

START_TEST(too_large_streamed)
{
    tpo_http_opts o;
    tpo_http_response r;
    size_t n;
    char *resp_text = big_response(0, 2 * 1024 * 1024, &n);
    srv *s = srv_start(SRV_RESPOND, resp_text, n);

    tpo_http_opts_default(&o);
    o.max_response = 65536;
    ck_assert_int_eq(tpo_http_request(tpo_test_pool, "GET", url(s, "/big"), NULL, NULL, 0, &o, &r),
                     TPO_HTTP_TOO_LARGE);
    srv_stop(s);
    ck_assert_ptr_nonnull(r.error);
    ck_assert_uint_eq(r.len, 0);
}
END_TEST

START_TEST(exactly_max_is_fine)
{
    tpo_http_opts o;
    tpo_http_response r;
    size_t n;
    char *resp_text = big_response(0, 65536, &n);
    srv *s = srv_start(SRV_RESPOND, resp_text, n);

    tpo_http_opts_default(&o);
    o.max_response = 65536;
    ck_assert_int_eq(tpo_http_request(tpo_test_pool, "GET", url(s, "/big"), NULL, NULL, 0, &o, &r),
                     TPO_HTTP_OK);
    srv_stop(s);
    ck_assert_uint_eq(r.len, 65536);
    ck_assert_uint_eq(strlen(r.body), 65536);
}
END_TEST

START_TEST(silent_server_times_out)
{
    tpo_http_opts o;
    tpo_http_response r;
    apr_time_t start;
    srv *s = srv_start(SRV_SILENT, NULL, 0);

    tpo_http_opts_default(&o);
    o.timeout_ms = 300;
    start = apr_time_now();
    ck_assert_int_eq(tpo_http_request(tpo_test_pool, "GET", url(s, "/slow"), NULL, NULL, 0, &o, &r),
                     TPO_HTTP_TIMEOUT);
    ck_assert_msg(apr_time_now() - start < apr_time_from_msec(1000), "took %" APR_TIME_T_FMT " us",
                  apr_time_now() - start);
    ck_assert(r.elapsed >= apr_time_from_msec(250));
    ck_assert(r.elapsed < apr_time_from_msec(1000));
    ck_assert_ptr_nonnull(r.error);
    srv_stop(s);
    ck_assert_int_eq(s->accepted, 1);
}
END_TEST

START_TEST(closed_port_connect)
{
    tpo_http_response r;
    int port;
    int fd = listen_socket(&port, 0); /* bound, never listening */
    const char *u = apr_psprintf(tpo_test_pool, "http://127.0.0.1:%d/token", port);

    ck_assert_int_eq(tpo_http_request(tpo_test_pool, "GET", u, NULL, NULL, 0, NULL, &r),
                     TPO_HTTP_CONNECT);
    close(fd);
    ck_assert_ptr_nonnull(r.error);
    ck_assert_int_eq(r.status, 0);
}
END_TEST

START_TEST(redirect_not_followed)
{
    static const char resp_text[] = "HTTP/1.1 302 Found\r\n"
                                    "Location: http://127.0.0.1:1/elsewhere\r\n"
                                    "Content-Length: 0\r\n\r\n";
    tpo_http_response r;
    srv *s = srv_start(SRV_RESPOND, resp_text, sizeof(resp_text) - 1);

    ck_assert_int_eq(tpo_http_request(tpo_test_pool, "GET", url(s, "/a"), NULL, NULL, 0, NULL, &r),
                     TPO_HTTP_OK);
    srv_stop(s);
    ck_assert_int_eq(r.status, 302);
}
END_TEST

START_TEST(not_http_is_failed)
{
    static const char resp_text[] = "garbage without a status line\r\n\r\n";
    tpo_http_response r;
    srv *s = srv_start(SRV_RESPOND, resp_text, sizeof(resp_text) - 1);

    ck_assert_int_eq(tpo_http_request(tpo_test_pool, "GET", url(s, "/a"), NULL, NULL, 0, NULL, &r),
                     TPO_HTTP_FAILED);
    srv_stop(s);
    ck_assert_ptr_nonnull(r.error);
}
END_TEST

START_TEST(bad_urls)
{
    tpo_http_response r;
    static const char *const bad[] = {
        "ftp://127.0.0.1/file",
        "file:///etc/passwd",
        "gopher://127.0.0.1/",
        "/relative",
        "127.0.0.1:80/x",
        "http://",
        "http://127.0.0.1/a b",
        "http://127.0.0.1/\r\nX: y",
        "dict://127.0.0.1:11211/stat",
    };
    size_t i;
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        ck_assert_msg(tpo_http_request(tpo_test_pool, "GET", bad[i], NULL, NULL, 0, NULL, &r) ==
                          TPO_HTTP_BAD_URL,
                      "'%s' not refused", bad[i]);
        ck_assert_ptr_nonnull(r.error);
    }
    ck_assert_int_eq(tpo_http_request(tpo_test_pool, "GET", NULL, NULL, NULL, 0, NULL, &r),
                     TPO_HTTP_BAD_URL);
}
END_TEST

START_TEST(header_injection_refused)
{
    tpo_http_response r;
    ck_assert_int_eq(tpo_http_request(tpo_test_pool, "GET", "http://127.0.0.1:1/",
                                      hdrs("X-A: b\r\nX-Evil: 1", NULL), NULL, 0, NULL, &r),
                     TPO_HTTP_FAILED);
    ck_assert_int_eq(tpo_http_request(tpo_test_pool, "GET", "http://127.0.0.1:1/",
                                      hdrs("no colon", NULL), NULL, 0, NULL, &r),
                     TPO_HTTP_FAILED);
}
END_TEST

START_TEST(retry_after_header_kept)
{
    static const char resp_text[] = "HTTP/1.1 429 Too Many Requests\r\n"
                                    "Content-Type: application/json\r\n"
                                    "retry-after:  17 \r\n"
                                    "Content-Length: 36\r\n"
                                    "Connection: close\r\n\r\n"
                                    "{\"error\":\"slow_down\",\"x\":\"12345678\"}";
    static const char plain[] =
        "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
    tpo_http_opts o;
    tpo_http_response r;
    srv *s = srv_start(SRV_RESPOND, resp_text, sizeof(resp_text) - 1);

    tpo_http_opts_default(&o);
    ck_assert_int_eq(
        tpo_http_request(tpo_test_pool, "POST", url(s, "/token"), NULL, "a=b", 3, &o, &r),
        TPO_HTTP_OK);
    srv_stop(s);
    ck_assert_int_eq(r.status, 429);
    ck_assert_str_eq(r.retry_after, "17");
    ck_assert_uint_eq(r.len, 36);

    s = srv_start(SRV_RESPOND, plain, sizeof(plain) - 1);
    ck_assert_int_eq(tpo_http_request(tpo_test_pool, "GET", url(s, "/"), NULL, NULL, 0, &o, &r),
                     TPO_HTTP_OK);
    srv_stop(s);
    ck_assert_int_eq(r.status, 503);
    ck_assert_ptr_null(r.retry_after);
}
END_TEST

START_TEST(retry_after_values)
{
    apr_time_t now = apr_time_from_sec(1445412480); /* Wed, 21 Oct 2015 07:28:00 GMT */

    ck_assert_int_eq(tpo_http_retry_after("120", now), 120);
    ck_assert_int_eq(tpo_http_retry_after("0", now), 0);
    ck_assert_int_eq(tpo_http_retry_after("Wed, 21 Oct 2015 07:29:00 GMT", now), 60);
    ck_assert_int_eq(tpo_http_retry_after("Wed, 21 Oct 2015 07:00:00 GMT", now), 0);
    ck_assert_int_eq(tpo_http_retry_after(NULL, now), -1);
    ck_assert_int_eq(tpo_http_retry_after("", now), -1);
    ck_assert_int_eq(tpo_http_retry_after("-5", now), -1);
    ck_assert_int_eq(tpo_http_retry_after("1.5", now), -1);
    ck_assert_int_eq(tpo_http_retry_after("10s", now), -1);
    ck_assert_int_eq(tpo_http_retry_after("99999999999999999999", now), -1);
    ck_assert_int_eq(tpo_http_retry_after("soon", now), -1);
}
END_TEST

START_TEST(opts_defaults)
{
    tpo_http_opts o;
    memset(&o, 0x5a, sizeof(o));
    tpo_http_opts_default(&o);
    ck_assert_int_eq(o.connect_timeout_ms, 3000);
    ck_assert_int_eq(o.timeout_ms, 10000);
    ck_assert_uint_eq(o.max_response, 1024 * 1024);
    ck_assert_int_eq(o.verify_tls, 1);
    ck_assert_ptr_null(o.ca_file);
    /* the version is in the default User-Agent */
    ck_assert_str_eq(o.user_agent, "mod_tp_oauth/" TPO_VERSION);
    ck_assert_str_eq(TPO_VERSION, PACKAGE_VERSION);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("http");
    TCase *tc = tcase_create("core");
    static const char *const proxies[] = {
        "http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY",
    };
    size_t i;

    /* only 127.0.0.1, never through a proxy from the environment */
    for (i = 0; i < sizeof(proxies) / sizeof(proxies[0]); i++) {
        unsetenv(proxies[i]);
    }
    tpo_http_global_init();
    tpo_http_global_init(); /* idempotent */
    tcase_add_checked_fixture(tc, tpo_test_setup, tpo_test_teardown);
    tcase_set_timeout(tc, 10);
    tcase_add_test(tc, post_json_ok);
    tcase_add_test(tc, get_with_caller_accept);
    tcase_add_test(tc, no_content_type_empty_body);
    tcase_add_test(tc, too_large_with_length);
    tcase_add_test(tc, too_large_streamed);
    tcase_add_test(tc, exactly_max_is_fine);
    tcase_add_test(tc, silent_server_times_out);
    tcase_add_test(tc, closed_port_connect);
    tcase_add_test(tc, redirect_not_followed);
    tcase_add_test(tc, not_http_is_failed);
    tcase_add_test(tc, bad_urls);
    tcase_add_test(tc, header_injection_refused);
    tcase_add_test(tc, opts_defaults);
    tcase_add_test(tc, retry_after_header_kept);
    tcase_add_test(tc, retry_after_values);
    suite_add_tcase(s, tc);
    return tpo_test_run(s);
}
