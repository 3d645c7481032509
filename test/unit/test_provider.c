/* SPDX-License-Identifier: Apache-2.0
 * Licensed under the Apache License, Version 2.0 (see LICENSE). */
/* Discovery document parsing and URL checks. */
#include <string.h>
#include <apr_strings.h>
#include "tpo_test.h"
#include "tpo_provider.h"

#define ISS "https://idp.example/realms/r1"

static const char *FULL_DOC =
    "{\"issuer\":\"" ISS "\","
    "\"authorization_endpoint\":\"" ISS "/auth\","
    "\"token_endpoint\":\"" ISS "/token\","
    "\"userinfo_endpoint\":\"" ISS "/userinfo\","
    "\"jwks_uri\":\"" ISS "/certs\","
    "\"end_session_endpoint\":\"" ISS "/logout\","
    "\"revocation_endpoint\":\"" ISS "/revoke\","
    "\"introspection_endpoint\":\"" ISS "/introspect\","
    "\"pushed_authorization_request_endpoint\":\"" ISS "/par\","
    "\"require_pushed_authorization_requests\":true,"
    "\"authorization_response_iss_parameter_supported\":true,"
    "\"backchannel_logout_supported\":true,"
    "\"backchannel_logout_session_supported\":true,"
    "\"code_challenge_methods_supported\":[\"plain\",\"S256\"],"
    "\"response_types_supported\":[\"code\"],"
    "\"grant_types_supported\":[\"authorization_code\",\"refresh_token\"]}";

static apr_status_t parse(const char *doc, const char *expected, tpo_provider_meta *m,
                          const char **err)
{
    return tpo_provider_meta_parse(tpo_test_pool, doc, strlen(doc), expected, m, err);
}

START_TEST(discovery_url)
{
    apr_pool_t *p = tpo_test_pool;
    ck_assert_str_eq(tpo_provider_discovery_url(p, "https://idp.example"),
                     "https://idp.example/.well-known/openid-configuration");
    ck_assert_str_eq(tpo_provider_discovery_url(p, "https://idp.example/"),
                     "https://idp.example/.well-known/openid-configuration");
    ck_assert_str_eq(tpo_provider_discovery_url(p, ISS), ISS "/.well-known/openid-configuration");
    /* only one trailing slash is removed */
    ck_assert_str_eq(tpo_provider_discovery_url(p, "https://idp.example/t//"),
                     "https://idp.example/t//.well-known/openid-configuration");
}
END_TEST

START_TEST(parse_full)
{
    tpo_provider_meta m;
    const char *err = NULL;
    ck_assert_int_eq(parse(FULL_DOC, ISS, &m, &err), APR_SUCCESS);
    ck_assert_ptr_null(err);
    ck_assert_str_eq(m.issuer, ISS);
    ck_assert_str_eq(m.authorization_endpoint, ISS "/auth");
    ck_assert_str_eq(m.token_endpoint, ISS "/token");
    ck_assert_str_eq(m.userinfo_endpoint, ISS "/userinfo");
    ck_assert_str_eq(m.jwks_uri, ISS "/certs");
    ck_assert_str_eq(m.end_session_endpoint, ISS "/logout");
    ck_assert_str_eq(m.revocation_endpoint, ISS "/revoke");
    ck_assert_str_eq(m.introspection_endpoint, ISS "/introspect");
    ck_assert_str_eq(m.par_endpoint, ISS "/par");
    ck_assert_int_eq(m.require_par, 1);
    ck_assert_int_eq(m.iss_parameter_supported, 1);
    ck_assert_int_eq(m.pkce_s256_supported, 1);
    ck_assert_int_eq(m.backchannel_logout, 1);
    ck_assert_int_eq(m.backchannel_logout_session, 1);
}
END_TEST

START_TEST(parse_strings_copied)
{
    tpo_provider_meta m;
    const char *err = NULL;
    char *doc = apr_pstrdup(tpo_test_pool, FULL_DOC);
    ck_assert_int_eq(parse(doc, NULL, &m, &err), APR_SUCCESS);
    memset(doc, 'x', strlen(doc));
    ck_assert_str_eq(m.token_endpoint, ISS "/token");
}
END_TEST

START_TEST(parse_minimal)
{
    tpo_provider_meta m;
    const char *err = NULL;
    const char *doc = "{\"issuer\":\"https://as.example\","
                      "\"authorization_endpoint\":\"https://as.example/authorize\","
                      "\"token_endpoint\":\"http://as.example:8080/token\"}";
    ck_assert_int_eq(parse(doc, "https://as.example", &m, &err), APR_SUCCESS);
    ck_assert_str_eq(m.token_endpoint, "http://as.example:8080/token");
    ck_assert_ptr_null(m.userinfo_endpoint);
    ck_assert_ptr_null(m.jwks_uri);
    ck_assert_ptr_null(m.end_session_endpoint);
    ck_assert_ptr_null(m.revocation_endpoint);
    ck_assert_ptr_null(m.introspection_endpoint);
    ck_assert_ptr_null(m.par_endpoint);
    ck_assert_int_eq(m.require_par, 0);
    ck_assert_int_eq(m.iss_parameter_supported, 0);
    ck_assert_int_eq(m.pkce_s256_supported, -1);
    /* absent: not supported (OpenID Connect Back-Channel Logout 1.0, 2.1) */
    ck_assert_int_eq(m.backchannel_logout, 0);
    ck_assert_int_eq(m.backchannel_logout_session, 0);
}
END_TEST

START_TEST(parse_pkce_without_s256)
{
    tpo_provider_meta m;
    const char *err = NULL;
    const char *doc = "{\"issuer\":\"https://as.example\","
                      "\"authorization_endpoint\":\"https://as.example/a\","
                      "\"token_endpoint\":\"https://as.example/t\","
                      "\"code_challenge_methods_supported\":[\"plain\"],"
                      "\"authorization_response_iss_parameter_supported\":false}";
    ck_assert_int_eq(parse(doc, NULL, &m, &err), APR_SUCCESS);
    ck_assert_int_eq(m.pkce_s256_supported, 0);
    ck_assert_int_eq(m.iss_parameter_supported, 0);
    doc = "{\"issuer\":\"https://as.example\","
          "\"authorization_endpoint\":\"https://as.example/a\","
          "\"token_endpoint\":\"https://as.example/t\","
          "\"code_challenge_methods_supported\":[]}";
    ck_assert_int_eq(parse(doc, NULL, &m, &err), APR_SUCCESS);
    ck_assert_int_eq(m.pkce_s256_supported, 0);
    /* exact match: "s256" is not "S256" */
    doc = "{\"issuer\":\"https://as.example\","
          "\"authorization_endpoint\":\"https://as.example/a\","
          "\"token_endpoint\":\"https://as.example/t\","
          "\"code_challenge_methods_supported\":[\"s256\", 5]}";
    ck_assert_int_eq(parse(doc, NULL, &m, &err), APR_SUCCESS);
    ck_assert_int_eq(m.pkce_s256_supported, 0);
}
END_TEST

START_TEST(parse_issuer_mismatch)
{
    tpo_provider_meta m;
    const char *err = NULL;
    ck_assert_int_ne(parse(FULL_DOC, "https://other.example", &m, &err), APR_SUCCESS);
    ck_assert_ptr_nonnull(err);
    ck_assert_ptr_nonnull(strstr(err, "https://other.example"));
    ck_assert_ptr_nonnull(strstr(err, ISS));
    ck_assert_ptr_null(m.token_endpoint);
    /* exact comparison: a trailing slash differs */
    err = NULL;
    ck_assert_int_ne(parse(FULL_DOC, ISS "/", &m, &err), APR_SUCCESS);
    ck_assert_ptr_nonnull(err);
}
END_TEST

START_TEST(parse_missing_required)
{
    tpo_provider_meta m;
    const char *err = NULL;
    const char *no_auth = "{\"issuer\":\"https://as.example\","
                          "\"token_endpoint\":\"https://as.example/t\"}";
    const char *no_token = "{\"issuer\":\"https://as.example\","
                           "\"authorization_endpoint\":\"https://as.example/a\"}";
    const char *no_issuer = "{\"authorization_endpoint\":\"https://as.example/a\","
                            "\"token_endpoint\":\"https://as.example/t\"}";
    ck_assert_int_ne(parse(no_auth, NULL, &m, &err), APR_SUCCESS);
    ck_assert_ptr_nonnull(strstr(err, "authorization_endpoint"));
    ck_assert_int_ne(parse(no_token, NULL, &m, &err), APR_SUCCESS);
    ck_assert_ptr_nonnull(strstr(err, "token_endpoint"));
    ck_assert_int_ne(parse(no_issuer, NULL, &m, &err), APR_SUCCESS);
    ck_assert_ptr_nonnull(strstr(err, "issuer"));
    ck_assert_int_ne(parse(no_issuer, "https://as.example", &m, &err), APR_SUCCESS);
}
END_TEST

START_TEST(parse_bad_endpoints)
{
    tpo_provider_meta m;
    const char *err = NULL;
    static const char *docs[] = {
        "{\"issuer\":\"i\",\"authorization_endpoint\":\"ftp://as.example/a\","
        "\"token_endpoint\":\"https://as.example/t\"}",
        "{\"issuer\":\"i\",\"authorization_endpoint\":\"https://as.example/a\","
        "\"token_endpoint\":\"/token\"}",
        "{\"issuer\":\"i\",\"authorization_endpoint\":\"https://as.example/a\","
        "\"token_endpoint\":\"javascript:alert(1)\"}",
        "{\"issuer\":\"i\",\"authorization_endpoint\":\"https://as.example/a\","
        "\"token_endpoint\":\"https://as.example/t\",\"jwks_uri\":\"file:///etc/passwd\"}",
        "{\"issuer\":\"i\",\"authorization_endpoint\":\"https://as.example/a\","
        "\"token_endpoint\":\"https://as.example/t\",\"userinfo_endpoint\":42}",
        "{\"issuer\":\"i\",\"authorization_endpoint\":\"https://as.example/a\","
        "\"token_endpoint\":\"https:///t\"}",
        "{\"issuer\":\"i\",\"authorization_endpoint\":[\"https://as.example/a\"],"
        "\"token_endpoint\":\"https://as.example/t\"}",
        "{\"issuer\":\"i\",\"authorization_endpoint\":\"https://as.example/a\","
        "\"token_endpoint\":\"https://as.example/t\",\"end_session_endpoint\":\"data:x\"}",
        "{\"issuer\":\"i\",\"authorization_endpoint\":\"https://as.example/a\","
        "\"token_endpoint\":\"https://as.example/t\","
        "\"code_challenge_methods_supported\":\"S256\"}",
        "{\"issuer\":\"i\",\"authorization_endpoint\":\"https://as.example/a\","
        "\"token_endpoint\":\"https://as.example/t\","
        "\"authorization_response_iss_parameter_supported\":\"true\"}",
        "{\"issuer\":\"i\",\"authorization_endpoint\":\"https://as.example/a\","
        "\"token_endpoint\":\"https://as.example/t\","
        "\"backchannel_logout_supported\":1}",
        "{\"issuer\":5,\"authorization_endpoint\":\"https://as.example/a\","
        "\"token_endpoint\":\"https://as.example/t\"}",
    };
    size_t i;
    for (i = 0; i < sizeof(docs) / sizeof(docs[0]); i++) {
        err = NULL;
        ck_assert_msg(parse(docs[i], NULL, &m, &err) != APR_SUCCESS, "doc #%zu accepted", i);
        ck_assert_msg(err != NULL, "doc #%zu: no error", i);
    }
}
END_TEST

START_TEST(parse_not_json)
{
    tpo_provider_meta m;
    const char *err = NULL;
    ck_assert_int_ne(parse("<html>hi</html>", NULL, &m, &err), APR_SUCCESS);
    ck_assert_ptr_nonnull(err);
    ck_assert_int_ne(parse("[1,2]", NULL, &m, &err), APR_SUCCESS);
    ck_assert_int_ne(parse("\"str\"", NULL, &m, &err), APR_SUCCESS);
    ck_assert_int_ne(parse("{\"issuer\":\"a\",\"issuer\":\"b\"}", NULL, &m, &err), APR_SUCCESS);
    ck_assert_int_ne(tpo_provider_meta_parse(tpo_test_pool, "", 0, NULL, &m, &err), APR_SUCCESS);
    ck_assert_int_ne(
        tpo_provider_meta_parse(tpo_test_pool, FULL_DOC, strlen(FULL_DOC) - 1, NULL, &m, &err),
        APR_SUCCESS);
}
END_TEST

START_TEST(parse_too_large)
{
    tpo_provider_meta m;
    const char *err = NULL;
    apr_size_t n = 1024 * 1024 + 16;
    char *big = apr_palloc(tpo_test_pool, n + 1);
    memset(big, ' ', n);
    memcpy(big, FULL_DOC, strlen(FULL_DOC));
    big[n] = '\0';
    ck_assert_int_ne(tpo_provider_meta_parse(tpo_test_pool, big, n, NULL, &m, &err), APR_SUCCESS);
    ck_assert_ptr_nonnull(err);
    /* the same document with little padding parses */
    ck_assert_int_eq(
        tpo_provider_meta_parse(tpo_test_pool, big, strlen(FULL_DOC) + 100, NULL, &m, &err),
        APR_SUCCESS);
}
END_TEST

START_TEST(url_is_http)
{
    ck_assert_int_eq(tpo_url_is_http("https://idp.example"), 1);
    ck_assert_int_eq(tpo_url_is_http("https://idp.example/"), 1);
    ck_assert_int_eq(tpo_url_is_http("http://127.0.0.1:8080/token?x=1"), 1);
    ck_assert_int_eq(tpo_url_is_http("HTTPS://IDP.EXAMPLE/a"), 1);
    ck_assert_int_eq(tpo_url_is_http("https://[::1]:8443/t"), 1);
    ck_assert_int_eq(tpo_url_is_http(NULL), 0);
    ck_assert_int_eq(tpo_url_is_http(""), 0);
    ck_assert_int_eq(tpo_url_is_http("ftp://idp.example/"), 0);
    ck_assert_int_eq(tpo_url_is_http("https:idp.example"), 0);
    ck_assert_int_eq(tpo_url_is_http("https://"), 0);
    ck_assert_int_eq(tpo_url_is_http("https:///path"), 0);
    ck_assert_int_eq(tpo_url_is_http("https://:443/path"), 0);
    ck_assert_int_eq(tpo_url_is_http("https://idp.example:/"), 0);
    ck_assert_int_eq(tpo_url_is_http("https://idp.example:44a/"), 0);
    ck_assert_int_eq(tpo_url_is_http("https://user:pw@idp.example/"), 0);
    ck_assert_int_eq(tpo_url_is_http("https://idp.example/a b"), 0);
    ck_assert_int_eq(tpo_url_is_http("https://idp.example/a\r\n"), 0);
    ck_assert_int_eq(tpo_url_is_http("https://idp.example\\@evil/"), 0);
    ck_assert_int_eq(tpo_url_is_http("https://[::1/t"), 0);
    ck_assert_int_eq(tpo_url_is_http("//idp.example/"), 0);
    ck_assert_int_eq(tpo_url_is_http("/token"), 0);
}
END_TEST

/* RFC 9126 5: the PAR endpoint is an absolute http(s) URL, the flag a boolean */
START_TEST(parse_par_members)
{
    tpo_provider_meta m;
    const char *err = NULL;
    static const char *const bad[] = {
        "\"pushed_authorization_request_endpoint\":\"/par\"",
        "\"pushed_authorization_request_endpoint\":\"javascript:alert(1)\"",
        "\"pushed_authorization_request_endpoint\":42",
        "\"pushed_authorization_request_endpoint\":\"https://as.example/p ar\"",
        "\"require_pushed_authorization_requests\":\"true\"",
        "\"require_pushed_authorization_requests\":1",
        NULL};
    int i;

    for (i = 0; bad[i]; i++) {
        const char *doc = apr_pstrcat(tpo_test_pool,
                                      "{\"issuer\":\"https://as.example\","
                                      "\"authorization_endpoint\":\"https://as.example/a\","
                                      "\"token_endpoint\":\"https://as.example/t\",",
                                      bad[i], "}", NULL);
        err = NULL;
        ck_assert_msg(parse(doc, NULL, &m, &err) == APR_EINVAL, "accepted: %s", bad[i]);
        ck_assert_ptr_nonnull(err);
        ck_assert_ptr_null(m.par_endpoint);
        ck_assert_int_eq(m.require_par, 0);
    }
    ck_assert_int_eq(parse("{\"issuer\":\"https://as.example\","
                           "\"authorization_endpoint\":\"https://as.example/a\","
                           "\"token_endpoint\":\"https://as.example/t\","
                           "\"pushed_authorization_request_endpoint\":\"https://as.example/par\","
                           "\"require_pushed_authorization_requests\":false}",
                           NULL, &m, &err),
                     APR_SUCCESS);
    ck_assert_str_eq(m.par_endpoint, "https://as.example/par");
    ck_assert_int_eq(m.require_par, 0);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("provider");
    TCase *tc = tcase_create("core");
    tcase_add_checked_fixture(tc, tpo_test_setup, tpo_test_teardown);
    tcase_add_test(tc, discovery_url);
    tcase_add_test(tc, parse_full);
    tcase_add_test(tc, parse_strings_copied);
    tcase_add_test(tc, parse_minimal);
    tcase_add_test(tc, parse_par_members);
    tcase_add_test(tc, parse_pkce_without_s256);
    tcase_add_test(tc, parse_issuer_mismatch);
    tcase_add_test(tc, parse_missing_required);
    tcase_add_test(tc, parse_bad_endpoints);
    tcase_add_test(tc, parse_not_json);
    tcase_add_test(tc, parse_too_large);
    tcase_add_test(tc, url_is_http);
    suite_add_tcase(s, tc);
    return tpo_test_run(s);
}
