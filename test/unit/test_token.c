/* SPDX-License-Identifier: Apache-2.0
 * Licensed under the Apache License, Version 2.0 (see LICENSE). */
/* Token request encoding and token response parsing, with every provider
 * accent of shared/PROVIDERS.md. */
#include <string.h>
#include <strings.h>
#include <apr_strings.h>
#include <apr_tables.h>
#include "tpo_test.h"
#include "tpo_token.h"

#define NOW_SEC 1700000000LL /* 2023-11-14T22:13:20Z */
#define NOW apr_time_from_sec(NOW_SEC)

static apr_array_header_t *pairs(const char *const *kv, int n)
{
    apr_array_header_t *a = apr_array_make(tpo_test_pool, n, sizeof(const char *));
    int i;
    for (i = 0; i < n; i++) {
        APR_ARRAY_PUSH(a, const char *) = kv[i];
    }
    return a;
}

static const char *const CODE_PARAMS[] = {
    "grant_type",    "authorization_code",
    "code",          "Splx/lOk+XAZ",
    "redirect_uri",  "https://client.example.com/cb",
    "code_verifier", NULL, /* skipped */
};

/* ------------------------------------------------------------- request */

START_TEST(request_form_basic)
{
    tpo_token_request r;
    tpo_token_request_build(tpo_test_pool, TPO_TOKEN_ENC_FORM, TPO_CLIENT_AUTH_BASIC, "s6BhdRkqt3",
                            "gX1fBat3bV", pairs(CODE_PARAMS, 8), &r);
    ck_assert_str_eq(r.content_type, "application/x-www-form-urlencoded");
    ck_assert_str_eq(r.body, "grant_type=authorization_code&code=Splx%2FlOk%2BXAZ"
                             "&redirect_uri=https%3A%2F%2Fclient.example.com%2Fcb");
    ck_assert_uint_eq(r.body_len, strlen(r.body));
    /* RFC 6749 section 4.1.3 example credentials */
    ck_assert_str_eq(r.authorization, "Basic czZCaGRSa3F0MzpnWDFmQmF0M2JW");
    ck_assert_ptr_null(strstr(r.body, "client_id"));
    ck_assert_ptr_null(strstr(r.body, "s6BhdRkqt3"));
    ck_assert_ptr_null(strstr(r.body, "gX1fBat3bV"));
}
END_TEST

START_TEST(request_basic_urlencodes_credentials)
{
    tpo_token_request r;
    static const char *const kv[] = {"grant_type", "client_credentials"};
    tpo_token_request_build(tpo_test_pool, TPO_TOKEN_ENC_FORM, TPO_CLIENT_AUTH_BASIC, "my client:1",
                            "p@ss w/rd", pairs(kv, 2), &r);
    /* base64("my%20client%3A1:p%40ss%20w%2Frd") */
    ck_assert_str_eq(r.authorization, "Basic bXklMjBjbGllbnQlM0ExOnAlNDBzcyUyMHclMkZyZA==");
    ck_assert_str_eq(r.body, "grant_type=client_credentials");
}
END_TEST

START_TEST(request_form_post)
{
    tpo_token_request r;
    static const char *const kv[] = {
        "grant_type", "refresh_token", "refresh_token", "tGzv3JOkF0XG5Qx2TlKWIA",
        "scope",      "openid email",
    };
    tpo_token_request_build(tpo_test_pool, TPO_TOKEN_ENC_FORM, TPO_CLIENT_AUTH_POST, "client 1",
                            "s&cret=", pairs(kv, 6), &r);
    ck_assert_ptr_null(r.authorization);
    ck_assert_str_eq(r.content_type, "application/x-www-form-urlencoded");
    ck_assert_str_eq(r.body, "grant_type=refresh_token&refresh_token=tGzv3JOkF0XG5Qx2TlKWIA"
                             "&scope=openid%20email&client_id=client%201"
                             "&client_secret=s%26cret%3D");
    ck_assert_uint_eq(r.body_len, strlen(r.body));
}
END_TEST

START_TEST(request_form_none)
{
    tpo_token_request r;
    tpo_token_request_build(tpo_test_pool, TPO_TOKEN_ENC_FORM, TPO_CLIENT_AUTH_NONE, "public-app",
                            "ignored-secret", pairs(CODE_PARAMS, 8), &r);
    ck_assert_ptr_null(r.authorization);
    ck_assert_str_eq(r.body, "grant_type=authorization_code&code=Splx%2FlOk%2BXAZ"
                             "&redirect_uri=https%3A%2F%2Fclient.example.com%2Fcb"
                             "&client_id=public-app");
}
END_TEST

/* a pushed authorization request (RFC 9126) names client_id itself: once only */
START_TEST(request_client_id_once)
{
    tpo_token_request r;
    static const char *const kv[] = {"response_type", "code", "client_id", "c1", "state", "s"};
    tpo_token_request_build(tpo_test_pool, TPO_TOKEN_ENC_FORM, TPO_CLIENT_AUTH_POST, "c1", "sec",
                            pairs(kv, 6), &r);
    ck_assert_str_eq(r.body, "response_type=code&client_id=c1&state=s&client_secret=sec");
    tpo_token_request_build(tpo_test_pool, TPO_TOKEN_ENC_FORM, TPO_CLIENT_AUTH_NONE, "c1", NULL,
                            pairs(kv, 6), &r);
    ck_assert_str_eq(r.body, "response_type=code&client_id=c1&state=s");
    tpo_token_request_build(tpo_test_pool, TPO_TOKEN_ENC_FORM, TPO_CLIENT_AUTH_BASIC, "c1", "sec",
                            pairs(kv, 6), &r);
    ck_assert_str_eq(r.body, "response_type=code&client_id=c1&state=s");
    ck_assert_str_eq(r.authorization, "Basic YzE6c2Vj");
}
END_TEST

START_TEST(request_json_post)
{
    tpo_token_request r;
    static const char *const kv[] = {
        "grant_type",    "authorization_code",
        "code",          "c0de\"x",
        "redirect_uri",  "https://rp.example/cb",
        "code_verifier", "verif-123",
        "scope",         NULL,
    };
    tpo_token_request_build(tpo_test_pool, TPO_TOKEN_ENC_JSON, TPO_CLIENT_AUTH_POST, "tp-client",
                            "tp-secret", pairs(kv, 10), &r);
    ck_assert_str_eq(r.content_type, "application/json");
    ck_assert_ptr_null(r.authorization);
    ck_assert_str_eq(r.body, "{\"grant_type\":\"authorization_code\",\"code\":\"c0de\\\"x\","
                             "\"redirect_uri\":\"https://rp.example/cb\","
                             "\"code_verifier\":\"verif-123\",\"client_id\":\"tp-client\","
                             "\"client_secret\":\"tp-secret\"}");
    ck_assert_uint_eq(r.body_len, strlen(r.body));
}
END_TEST

START_TEST(request_json_basic_and_none)
{
    tpo_token_request r;
    static const char *const kv[] = {"grant_type", "client_credentials"};
    tpo_token_request_build(tpo_test_pool, TPO_TOKEN_ENC_JSON, TPO_CLIENT_AUTH_BASIC, "s6BhdRkqt3",
                            "gX1fBat3bV", pairs(kv, 2), &r);
    ck_assert_str_eq(r.body, "{\"grant_type\":\"client_credentials\"}");
    ck_assert_str_eq(r.authorization, "Basic czZCaGRSa3F0MzpnWDFmQmF0M2JW");

    tpo_token_request_build(tpo_test_pool, TPO_TOKEN_ENC_JSON, TPO_CLIENT_AUTH_NONE, "pub", "sec",
                            pairs(kv, 2), &r);
    ck_assert_str_eq(r.body, "{\"grant_type\":\"client_credentials\",\"client_id\":\"pub\"}");
    ck_assert_ptr_null(r.authorization);
}
END_TEST

START_TEST(request_json_invalid_utf8)
{
    tpo_token_request r;
    static const char *const kv[] = {"grant_type", "authorization_code", "code", "\xff\xfe"};
    tpo_token_request_build(tpo_test_pool, TPO_TOKEN_ENC_JSON, TPO_CLIENT_AUTH_POST, "c", "s",
                            pairs(kv, 4), &r);
    ck_assert_ptr_null(r.body);
    ck_assert_uint_eq(r.body_len, 0);
}
END_TEST

START_TEST(request_no_params)
{
    tpo_token_request r;
    tpo_token_request_build(tpo_test_pool, TPO_TOKEN_ENC_FORM, TPO_CLIENT_AUTH_POST, "c", "s", NULL,
                            &r);
    ck_assert_str_eq(r.body, "client_id=c&client_secret=s");
}
END_TEST

/* ------------------------------------------------------------ response */

static tpo_token_result parse_st(const char *body, int status, tpo_token_response *out,
                                 const char **detail)
{
    *detail = NULL;
    return tpo_token_response_parse(tpo_test_pool, body, strlen(body), status, NOW, out, detail);
}

static tpo_token_result parse(const char *body, tpo_token_response *out, const char **detail)
{
    return parse_st(body, 200, out, detail);
}

START_TEST(response_standard)
{
    tpo_token_response t;
    const char *d;
    ck_assert_int_eq(parse("{\"access_token\":\"2YotnFZFEjr1zCsicMWpAA\","
                           "\"token_type\":\"Bearer\",\"expires_in\":3600,"
                           "\"refresh_token\":\"tGzv3JOkF0XG5Qx2TlKWIA\","
                           "\"id_token\":\"eyJ.eyJ.sig\",\"scope\":\"openid email\","
                           "\"not-before-policy\":0}",
                           &t, &d),
                     TPO_TOKEN_OK);
    ck_assert_str_eq(t.access_token, "2YotnFZFEjr1zCsicMWpAA");
    ck_assert_str_eq(t.refresh_token, "tGzv3JOkF0XG5Qx2TlKWIA");
    ck_assert_str_eq(t.id_token, "eyJ.eyJ.sig");
    ck_assert_str_eq(t.token_type, "Bearer");
    ck_assert_str_eq(t.scope, "openid email");
    ck_assert(t.expires_at == apr_time_from_sec(NOW_SEC + 3600));
    ck_assert_ptr_null(t.error);
    ck_assert_ptr_nonnull(t.json);
    ck_assert(json_is_object(t.json));
}
END_TEST

START_TEST(response_minimal_and_bearer_case)
{
    tpo_token_response t;
    const char *d;
    ck_assert_int_eq(parse("{\"access_token\":\"at\"}", &t, &d), TPO_TOKEN_OK);
    ck_assert_str_eq(t.access_token, "at");
    ck_assert_ptr_null(t.refresh_token);
    ck_assert_ptr_null(t.id_token);
    ck_assert_ptr_null(t.token_type);
    ck_assert_ptr_null(t.scope);
    ck_assert(t.expires_at == 0);
    ck_assert_int_eq(parse("{\"access_token\":\"at\",\"token_type\":\"bearer\"}", &t, &d),
                     TPO_TOKEN_OK);
    ck_assert_ptr_nonnull(t.token_type);
    ck_assert_int_eq(strcasecmp(t.token_type, "bearer"), 0);
    ck_assert_int_eq(parse("{\"access_token\":\"at\",\"token_type\":\"BEARER\","
                           "\"refresh_token\":null}",
                           &t, &d),
                     TPO_TOKEN_OK);
    ck_assert_ptr_null(t.refresh_token);
    /* RFC 9449 5: a DPoP-bound token, its type spelled as the RFC does */
    ck_assert_int_eq(parse("{\"access_token\":\"at\",\"token_type\":\"dpop\"}", &t, &d),
                     TPO_TOKEN_OK);
    ck_assert_str_eq(t.token_type, "DPoP");
}
END_TEST

START_TEST(response_tropipay_expires_in_shapes)
{
    tpo_token_response t;
    const char *d;
    ck_assert_int_eq(parse("{\"access_token\":\"eyJh.eyJ.x\",\"refresh_token\":\"r\","
                           "\"token_type\":\"Bearer\",\"scope\":\"ALLOW_GET_PROFILE_DATA "
                           "ALLOW_GET_BALANCE\",\"expires_in\":\"1d\"}",
                           &t, &d),
                     TPO_TOKEN_OK);
    ck_assert(t.expires_at == apr_time_from_sec(NOW_SEC + 86400));
    ck_assert_str_eq(t.scope, "ALLOW_GET_PROFILE_DATA ALLOW_GET_BALANCE");

    ck_assert_int_eq(parse("{\"access_token\":\"a\",\"expires_in\":3600}", &t, &d), TPO_TOKEN_OK);
    ck_assert(t.expires_at == apr_time_from_sec(NOW_SEC + 3600));

    ck_assert_int_eq(parse("{\"access_token\":\"a\",\"expires_in\":\"3600\"}", &t, &d),
                     TPO_TOKEN_OK);
    ck_assert(t.expires_at == apr_time_from_sec(NOW_SEC + 3600));

    /* absolute epoch equal to the JWT exp */
    ck_assert_int_eq(parse("{\"access_token\":\"a\",\"expires_in\":1700007200}", &t, &d),
                     TPO_TOKEN_OK);
    ck_assert(t.expires_at == apr_time_from_sec(NOW_SEC + 7200));
    ck_assert_int_eq(parse("{\"access_token\":\"a\",\"expires_in\":\"1700007200\"}", &t, &d),
                     TPO_TOKEN_OK);
    ck_assert(t.expires_at == apr_time_from_sec(NOW_SEC + 7200));

    ck_assert_int_eq(parse("{\"access_token\":\"a\",\"expires_in\":\"30m\"}", &t, &d),
                     TPO_TOKEN_OK);
    ck_assert(t.expires_at == apr_time_from_sec(NOW_SEC + 1800));
    ck_assert_int_eq(parse("{\"access_token\":\"a\",\"expires_in\":\"2h\"}", &t, &d), TPO_TOKEN_OK);
    ck_assert(t.expires_at == apr_time_from_sec(NOW_SEC + 7200));
    ck_assert_int_eq(parse("{\"access_token\":\"a\",\"expires_in\":\"90s\"}", &t, &d),
                     TPO_TOKEN_OK);
    ck_assert(t.expires_at == apr_time_from_sec(NOW_SEC + 90));
    ck_assert_int_eq(parse("{\"access_token\":\"a\",\"expires_in\":300.0}", &t, &d), TPO_TOKEN_OK);
    ck_assert(t.expires_at == apr_time_from_sec(NOW_SEC + 300));
}
END_TEST

START_TEST(response_expires_in_wins_over_expires_at)
{
    tpo_token_response t;
    const char *d;
    ck_assert_int_eq(parse("{\"access_token\":\"a\",\"expires_in\":60,"
                           "\"expires_at\":\"2023-11-14T23:13:20Z\"}",
                           &t, &d),
                     TPO_TOKEN_OK);
    ck_assert(t.expires_at == apr_time_from_sec(NOW_SEC + 60));
}
END_TEST

START_TEST(response_payoutid_scopes_array)
{
    tpo_token_response t;
    const char *d;
    ck_assert_int_eq(parse("{\"access_token\":\"a\",\"expires_in\":3600,\"refresh_token\":\"r\","
                           "\"scopes\":[\"BLAISP\",\"BLIBAN\",\"verify\"]}",
                           &t, &d),
                     TPO_TOKEN_OK);
    ck_assert_str_eq(t.scope, "BLAISP BLIBAN verify");
    ck_assert_int_eq(parse("{\"access_token\":\"a\",\"scope\":[\"account_info\",\"aml\"]}", &t, &d),
                     TPO_TOKEN_OK);
    ck_assert_str_eq(t.scope, "account_info aml");
    ck_assert_int_eq(parse("{\"access_token\":\"a\",\"scopes\":[\"x\"]}", &t, &d), TPO_TOKEN_OK);
    ck_assert_str_eq(t.scope, "x");
    ck_assert_int_eq(parse("{\"access_token\":\"a\",\"scopes\":[]}", &t, &d), TPO_TOKEN_OK);
    ck_assert_str_eq(t.scope, "");
    /* "scope" is preferred when both are present */
    ck_assert_int_eq(parse("{\"access_token\":\"a\",\"scope\":\"s1\",\"scopes\":[\"s2\"]}", &t, &d),
                     TPO_TOKEN_OK);
    ck_assert_str_eq(t.scope, "s1");
}
END_TEST

START_TEST(response_xendit_expires_at)
{
    tpo_token_response t;
    const char *d;
    static const char *const shapes[] = {
        "2023-11-14T23:13:20Z",      "2023-11-14T23:13:20",      "2023-11-15T00:13:20+01:00",
        "2023-11-14T18:13:20-05:00", "2023-11-14T23:13:20.000Z",
    };
    size_t i;
    for (i = 0; i < sizeof(shapes) / sizeof(shapes[0]); i++) {
        const char *body =
            apr_psprintf(tpo_test_pool,
                         "{\"token_type\":\"Bearer\",\"access_token\":\"x\",\"scope\":\"a b\","
                         "\"refresh_token\":\"r\",\"expires_at\":\"%s\"}",
                         shapes[i]);
        ck_assert_msg(parse(body, &t, &d) == TPO_TOKEN_OK, "shape %s: %s", shapes[i], d ? d : "");
        ck_assert_msg(t.expires_at == apr_time_from_sec(NOW_SEC + 3600), "shape %s", shapes[i]);
    }
    ck_assert_int_eq(
        parse("{\"access_token\":\"x\",\"expires_at\":\"2023-11-14T23:13:20.250Z\"}", &t, &d),
        TPO_TOKEN_OK);
    ck_assert(t.expires_at == apr_time_from_sec(NOW_SEC + 3600) + 250000);
    /* epoch seconds */
    ck_assert_int_eq(parse("{\"access_token\":\"x\",\"expires_at\":1700003600}", &t, &d),
                     TPO_TOKEN_OK);
    ck_assert(t.expires_at == apr_time_from_sec(NOW_SEC + 3600));
}
END_TEST

START_TEST(response_xendit_error)
{
    tpo_token_response t;
    const char *d;
    ck_assert_int_eq(parse_st("{\"error_code\":\"INVALID_GRANT\","
                              "\"message\":\"The authorization code has expired\"}",
                              400, &t, &d),
                     TPO_TOKEN_ERROR_RESPONSE);
    ck_assert_str_eq(t.error, "INVALID_GRANT");
    ck_assert_str_eq(t.error_description, "The authorization code has expired");
    ck_assert_ptr_null(t.access_token);
    ck_assert_ptr_nonnull(d);
}
END_TEST

START_TEST(response_rfc_error)
{
    tpo_token_response t;
    const char *d;
    ck_assert_int_eq(parse_st("{\"error\":\"invalid_grant\","
                              "\"error_description\":\"Code not valid\"}",
                              400, &t, &d),
                     TPO_TOKEN_ERROR_RESPONSE);
    ck_assert_str_eq(t.error, "invalid_grant");
    ck_assert_str_eq(t.error_description, "Code not valid");
    ck_assert_ptr_nonnull(strstr(d, "invalid_grant"));
    /* without a description */
    ck_assert_int_eq(parse_st("{\"error\":\"invalid_client\"}", 401, &t, &d),
                     TPO_TOKEN_ERROR_RESPONSE);
    ck_assert_str_eq(t.error, "invalid_client");
    ck_assert_ptr_null(t.error_description);
    /* an error in a 200 is still an error */
    ck_assert_int_eq(
        parse_st("{\"error\":\"invalid_request\",\"access_token\":\"a\"}", 200, &t, &d),
        TPO_TOKEN_ERROR_RESPONSE);
    ck_assert_str_eq(t.error, "invalid_request");
    ck_assert_ptr_null(t.access_token);
    /* control characters in provider words are neutralized */
    ck_assert_int_eq(
        parse_st("{\"error\":\"bad\\nline\",\"error_description\":\"x\\r\\ny\"}", 400, &t, &d),
        TPO_TOKEN_ERROR_RESPONSE);
    ck_assert_str_eq(t.error, "bad?line");
    ck_assert_str_eq(t.error_description, "x??y");
}
END_TEST

START_TEST(response_payoutid_error_description)
{
    tpo_token_response t;
    const char *d;
    ck_assert_int_eq(parse_st("{\"error\":\"invalid_grant\","
                              "\"errorDescription\":\"Refresh token expired\"}",
                              400, &t, &d),
                     TPO_TOKEN_ERROR_RESPONSE);
    ck_assert_str_eq(t.error, "invalid_grant");
    ck_assert_str_eq(t.error_description, "Refresh token expired");
    /* the standard name wins when both are there */
    ck_assert_int_eq(parse_st("{\"error\":\"invalid_grant\",\"error_description\":\"std\","
                              "\"errorDescription\":\"payout\"}",
                              400, &t, &d),
                     TPO_TOKEN_ERROR_RESPONSE);
    ck_assert_str_eq(t.error_description, "std");
}
END_TEST

START_TEST(refresh_refusal_definitive_or_temporary)
{
    /* definitive: the refresh token is unknown, expired, revoked or reused */
    ck_assert_int_eq(tpo_token_refresh_refused(400, "invalid_grant"), 1);
    ck_assert_int_eq(tpo_token_refresh_refused(401, "invalid_grant"), 1);
    ck_assert_int_eq(tpo_token_refresh_refused(400, "INVALID_GRANT"), 1); /* Xendit */
    ck_assert_int_eq(tpo_token_refresh_refused(400, "invalid_request"), 1);
    ck_assert_int_eq(tpo_token_refresh_refused(400, "unauthorized_client"), 1);
    /* temporary, whatever the body says */
    ck_assert_int_eq(tpo_token_refresh_refused(429, "invalid_grant"), 0);
    ck_assert_int_eq(tpo_token_refresh_refused(408, "invalid_request"), 0);
    ck_assert_int_eq(tpo_token_refresh_refused(503, "invalid_grant"), 0);
    ck_assert_int_eq(tpo_token_refresh_refused(500, "unauthorized_client"), 0);
    ck_assert_int_eq(tpo_token_refresh_refused(200, "invalid_grant"), 0);
    ck_assert_int_eq(tpo_token_refresh_refused(403, "invalid_grant"), 0);
    /* not about the refresh token */
    ck_assert_int_eq(tpo_token_refresh_refused(400, "invalid_client"), 0);
    ck_assert_int_eq(tpo_token_refresh_refused(401, "invalid_client"), 0);
    ck_assert_int_eq(tpo_token_refresh_refused(400, "temporarily_unavailable"), 0);
    ck_assert_int_eq(tpo_token_refresh_refused(400, "http_400"), 0);
    ck_assert_int_eq(tpo_token_refresh_refused(400, NULL), 0);
}
END_TEST

START_TEST(response_http_error_without_error_field)
{
    tpo_token_response t;
    const char *d;
    ck_assert_int_eq(
        parse_st("<html><body><h1>500 Internal Server Error</h1></body></html>", 500, &t, &d),
        TPO_TOKEN_ERROR_RESPONSE);
    ck_assert_str_eq(t.error, "http_500");
    ck_assert_ptr_null(t.error_description);
    ck_assert_ptr_nonnull(d);
    ck_assert_int_eq(parse_st("{\"status\":\"down\"}", 503, &t, &d), TPO_TOKEN_ERROR_RESPONSE);
    ck_assert_str_eq(t.error, "http_503");
    ck_assert_int_eq(parse_st("", 502, &t, &d), TPO_TOKEN_ERROR_RESPONSE);
    ck_assert_str_eq(t.error, "http_502");
    ck_assert_int_eq(parse_st("[1]", 404, &t, &d), TPO_TOKEN_ERROR_RESPONSE);
    ck_assert_str_eq(t.error, "http_404");
    /* an access_token in a 4xx without error is not a success */
    ck_assert_int_eq(parse_st("{\"access_token\":\"a\"}", 401, &t, &d), TPO_TOKEN_ERROR_RESPONSE);
    ck_assert_str_eq(t.error, "http_401");
    ck_assert_ptr_null(t.access_token);
}
END_TEST

START_TEST(response_malformed)
{
    static const char *const bodies[] = {
        "",
        "not json",
        "[]",
        "\"access_token\"",
        "{}",
        "{\"token_type\":\"Bearer\",\"expires_in\":3600}",
        "{\"access_token\":null}",
        "{\"access_token\":42}",
        "{\"access_token\":\"\"}",
        "{\"access_token\":[\"a\"]}",
        "{\"access_token\":\"a\\nb\"}",
        "{\"access_token\":\"a\\u0000b\"}",
        "{\"access_token\":\"a\",\"token_type\":\"mac\"}",
        "{\"access_token\":\"a\",\"token_type\":\"MAC\"}",
        "{\"access_token\":\"a\",\"token_type\":1}",
        "{\"access_token\":\"a\",\"refresh_token\":5}",
        "{\"access_token\":\"a\",\"id_token\":{}}",
        "{\"access_token\":\"a\",\"scope\":7}",
        "{\"access_token\":\"a\",\"scopes\":[1,2]}",
        "{\"access_token\":\"a\",\"scopes\":\"x\\u0001\"}",
        "{\"access_token\":\"a\",\"expires_in\":-5}",
        "{\"access_token\":\"a\",\"expires_in\":0}",
        "{\"access_token\":\"a\",\"expires_in\":\"0\"}",
        "{\"access_token\":\"a\",\"expires_in\":\"-5\"}",
        "{\"access_token\":\"a\",\"expires_in\":\"abc\"}",
        "{\"access_token\":\"a\",\"expires_in\":\"1w\"}",
        "{\"access_token\":\"a\",\"expires_in\":\"\"}",
        "{\"access_token\":\"a\",\"expires_in\":true}",
        "{\"access_token\":\"a\",\"expires_in\":[3600]}",
        "{\"access_token\":\"a\",\"expires_in\":400000000}",  /* 12 years */
        "{\"access_token\":\"a\",\"expires_in\":\"4000d\"}",  /* 11 years */
        "{\"access_token\":\"a\",\"expires_in\":2100000000}", /* epoch, 12 years away */
        "{\"access_token\":\"a\",\"expires_in\":1600000000}", /* past epoch */
        "{\"access_token\":\"a\",\"expires_in\":1e300}",
        "{\"access_token\":\"a\",\"expires_in\":\"99999999999999999999\"}",
        "{\"access_token\":\"a\",\"expires_at\":\"2023-11-14T21:13:20Z\"}", /* past */
        "{\"access_token\":\"a\",\"expires_at\":\"2023-11-14T22:13:20Z\"}", /* now */
        "{\"access_token\":\"a\",\"expires_at\":\"2099-01-01T00:00:00Z\"}", /* absurd */
        "{\"access_token\":\"a\",\"expires_at\":\"tomorrow\"}",
        "{\"access_token\":\"a\",\"expires_at\":\"2023-11-15\"}",
        "{\"access_token\":\"a\",\"expires_at\":1600000000}",
        "{\"access_token\":\"a\",\"expires_at\":{}}",
        "{\"access_token\":\"a\",\"access_token\":\"b\"}",
        "{\"access_token\":\"a\"} trailing",
        "{\"error\":42}",
        "{\"error\":\"\"}",
        "{\"error_code\":false}",
    };
    size_t i;
    for (i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++) {
        tpo_token_response t;
        const char *d = NULL;
        tpo_token_result r = parse(bodies[i], &t, &d);
        ck_assert_msg(r == TPO_TOKEN_MALFORMED, "body #%zu (%s) gave %d", i, bodies[i], r);
        ck_assert_msg(d != NULL, "body #%zu: no detail", i);
        ck_assert_msg(t.access_token == NULL && t.expires_at == 0, "body #%zu: half-parsed output",
                      i);
    }
}
END_TEST

START_TEST(response_too_large)
{
    tpo_token_response t;
    const char *d = NULL;
    apr_size_t n = 1024 * 1024 + 1;
    char *big = apr_palloc(tpo_test_pool, n + 1);
    const char *head = "{\"access_token\":\"a\",\"pad\":\"";
    memset(big, 'x', n);
    memcpy(big, head, strlen(head));
    big[n - 2] = '"';
    big[n - 1] = '}';
    big[n] = '\0';
    ck_assert_int_eq(tpo_token_response_parse(tpo_test_pool, big, n, 200, NOW, &t, &d),
                     TPO_TOKEN_MALFORMED);
    ck_assert_ptr_nonnull(d);
    /* one byte less is parsed */
    big[n - 3] = '"';
    big[n - 2] = '}';
    ck_assert_int_eq(tpo_token_response_parse(tpo_test_pool, big, n - 1, 200, NOW, &t, &d),
                     TPO_TOKEN_OK);
}
END_TEST

START_TEST(response_detail_never_has_token)
{
    static const char *const bodies[] = {
        "{\"access_token\":SECRETTOKEN}",
        "{\"access_token\":\"SECRETTOKEN\",\"token_type\":\"mac\"}",
        "{\"access_token\":\"SECRETTOKEN\",\"expires_in\":\"SECRETTOKEN\"}",
        "{\"access_token\":\"SECRETTOKEN\",\"refresh_token\":\"SECRETTOKEN\\n\"}",
        "{\"access_token\":\"SECRETTOKEN\",\"expires_at\":\"SECRETTOKEN\"}",
        "{\"refresh_token\":\"SECRETTOKEN\"}",
        "{\"access_token\":\"SECRETTOKEN\",\"refresh_token\":\"SECRETTOKEN\",]",
    };
    size_t i;
    for (i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++) {
        tpo_token_response t;
        const char *d = NULL;
        ck_assert_int_eq(parse(bodies[i], &t, &d), TPO_TOKEN_MALFORMED);
        ck_assert_ptr_nonnull(d);
        ck_assert_msg(strstr(d, "SECRET") == NULL, "detail leaks a token: %s", d);
    }
}
END_TEST

START_TEST(response_json_lives_with_pool)
{
    tpo_token_response t;
    const char *d;
    char *body = apr_pstrdup(tpo_test_pool, "{\"access_token\":\"abc\",\"custom\":1}");
    ck_assert_int_eq(parse(body, &t, &d), TPO_TOKEN_OK);
    memset(body, 0, strlen(body));
    ck_assert_str_eq(t.access_token, "abc");
    ck_assert_int_eq(json_integer_value(json_object_get(t.json, "custom")), 1);
}
END_TEST

/* ------------------------------------------------------------- parsers */

START_TEST(scope_has_whole_tokens)
{
    ck_assert_int_eq(tpo_scope_has("openid email", "openid"), 1);
    ck_assert_int_eq(tpo_scope_has("email openid", "openid"), 1);
    ck_assert_int_eq(tpo_scope_has("  email   openid  ", "openid"), 1);
    ck_assert_int_eq(tpo_scope_has("openid", "openid"), 1);
    ck_assert_int_eq(tpo_scope_has("openidx email", "openid"), 0);
    ck_assert_int_eq(tpo_scope_has("xopenid email", "openid"), 0);
    ck_assert_int_eq(tpo_scope_has("email", "openid"), 0);
    ck_assert_int_eq(tpo_scope_has("OPENID", "openid"), 0);
    ck_assert_int_eq(tpo_scope_has("", "openid"), 0);
    ck_assert_int_eq(tpo_scope_has(NULL, "openid"), 0);
    ck_assert_int_eq(tpo_scope_has("a b", ""), 0);
    ck_assert_int_eq(tpo_scope_has("read:all read", "read"), 1);
}
END_TEST

START_TEST(duration_parser)
{
    ck_assert_int_eq(tpo_token_parse_duration("1d"), 86400);
    ck_assert_int_eq(tpo_token_parse_duration("30m"), 1800);
    ck_assert_int_eq(tpo_token_parse_duration("2h"), 7200);
    ck_assert_int_eq(tpo_token_parse_duration("45s"), 45);
    ck_assert_int_eq(tpo_token_parse_duration("3600"), 3600);
    ck_assert_int_eq(tpo_token_parse_duration("0"), 0);
    ck_assert_int_eq(tpo_token_parse_duration("007"), 7);
    ck_assert_int_eq(tpo_token_parse_duration("999999999999"), 999999999999LL);
    ck_assert_int_eq(tpo_token_parse_duration("9999999999999"), -1);
    ck_assert_int_eq(tpo_token_parse_duration(""), -1);
    ck_assert_int_eq(tpo_token_parse_duration(NULL), -1);
    ck_assert_int_eq(tpo_token_parse_duration("d"), -1);
    ck_assert_int_eq(tpo_token_parse_duration("1x"), -1);
    ck_assert_int_eq(tpo_token_parse_duration("1dd"), -1);
    ck_assert_int_eq(tpo_token_parse_duration("1d "), -1);
    ck_assert_int_eq(tpo_token_parse_duration(" 1d"), -1);
    ck_assert_int_eq(tpo_token_parse_duration("1 d"), -1);
    ck_assert_int_eq(tpo_token_parse_duration("-1"), -1);
    ck_assert_int_eq(tpo_token_parse_duration("+1"), -1);
    ck_assert_int_eq(tpo_token_parse_duration("1.5h"), -1);
}
END_TEST

START_TEST(iso8601_parser)
{
    ck_assert(tpo_token_parse_iso8601("2023-11-14T22:13:20Z") == apr_time_from_sec(NOW_SEC));
    ck_assert(tpo_token_parse_iso8601("2023-11-14T22:13:20") == apr_time_from_sec(NOW_SEC));
    ck_assert(tpo_token_parse_iso8601("2023-11-14t22:13:20z") == apr_time_from_sec(NOW_SEC));
    ck_assert(tpo_token_parse_iso8601("2023-11-14 22:13:20Z") == apr_time_from_sec(NOW_SEC));
    ck_assert(tpo_token_parse_iso8601("2023-11-14T23:13:20+01:00") == apr_time_from_sec(NOW_SEC));
    ck_assert(tpo_token_parse_iso8601("2023-11-14T23:13:20+0100") == apr_time_from_sec(NOW_SEC));
    ck_assert(tpo_token_parse_iso8601("2023-11-14T23:13:20+01") == apr_time_from_sec(NOW_SEC));
    ck_assert(tpo_token_parse_iso8601("2023-11-14T16:43:20-05:30") == apr_time_from_sec(NOW_SEC));
    ck_assert(tpo_token_parse_iso8601("2023-11-14T22:13:20+00:00") == apr_time_from_sec(NOW_SEC));
    ck_assert(tpo_token_parse_iso8601("2023-11-14T22:13:20.5Z") ==
              apr_time_from_sec(NOW_SEC) + 500000);
    ck_assert(tpo_token_parse_iso8601("2023-11-14T22:13:20.123456789Z") ==
              apr_time_from_sec(NOW_SEC) + 123456);
    ck_assert(tpo_token_parse_iso8601("2023-11-14T22:13:20.000001+00:00") ==
              apr_time_from_sec(NOW_SEC) + 1);
    ck_assert(tpo_token_parse_iso8601("2000-02-29T12:00:00Z") == apr_time_from_sec(951825600));
    ck_assert(tpo_token_parse_iso8601("2100-01-01T00:00:00Z") == apr_time_from_sec(4102444800LL));
}
END_TEST

START_TEST(iso8601_parser_invalid)
{
    static const char *const bad[] = {
        "",
        "x",
        "2023-11-14",
        "2023-11-14T22:13",
        "2023-11-14T22:13:20ZZ",
        "2023-11-14T22:13:20 ",
        " 2023-11-14T22:13:20Z",
        "2023-13-01T00:00:00Z",
        "2023-00-01T00:00:00Z",
        "2023-11-31T00:00:00Z",
        "2001-02-29T00:00:00Z",
        "2023-11-14T24:00:00Z",
        "2023-11-14T22:60:00Z",
        "2023-11-14T22:13:61Z",
        "2023-11-14T22:13:20+25:00",
        "2023-11-14T22:13:20+01:60",
        "2023-11-14T22:13:20.Z",
        "2023-11-14T22:13:20.1234567890Z",
        "2023-11-14T22:13:20+1",
        "2023-11-14X22:13:20Z",
        "23-11-14T22:13:20Z",
        "2023/11/14T22:13:20Z",
        "1969-12-31T23:59:59Z",
        "1970-01-01T00:00:00Z",
        "2023-11-14T22:13:20+01:00:00",
        "2023-1a-14T22:13:20Z",
    };
    size_t i;
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        ck_assert_msg(tpo_token_parse_iso8601(bad[i]) == 0, "accepted '%s'", bad[i]);
    }
    ck_assert(tpo_token_parse_iso8601(NULL) == 0);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("token");
    TCase *tc = tcase_create("core");
    tcase_add_checked_fixture(tc, tpo_test_setup, tpo_test_teardown);
    tcase_add_test(tc, request_form_basic);
    tcase_add_test(tc, request_basic_urlencodes_credentials);
    tcase_add_test(tc, request_form_post);
    tcase_add_test(tc, request_form_none);
    tcase_add_test(tc, request_client_id_once);
    tcase_add_test(tc, request_json_post);
    tcase_add_test(tc, request_json_basic_and_none);
    tcase_add_test(tc, request_json_invalid_utf8);
    tcase_add_test(tc, request_no_params);
    tcase_add_test(tc, response_standard);
    tcase_add_test(tc, response_minimal_and_bearer_case);
    tcase_add_test(tc, response_tropipay_expires_in_shapes);
    tcase_add_test(tc, response_expires_in_wins_over_expires_at);
    tcase_add_test(tc, response_payoutid_scopes_array);
    tcase_add_test(tc, response_xendit_expires_at);
    tcase_add_test(tc, response_xendit_error);
    tcase_add_test(tc, response_rfc_error);
    tcase_add_test(tc, response_http_error_without_error_field);
    tcase_add_test(tc, response_payoutid_error_description);
    tcase_add_test(tc, refresh_refusal_definitive_or_temporary);
    tcase_add_test(tc, response_malformed);
    tcase_add_test(tc, response_too_large);
    tcase_add_test(tc, response_detail_never_has_token);
    tcase_add_test(tc, response_json_lives_with_pool);
    tcase_add_test(tc, scope_has_whole_tokens);
    tcase_add_test(tc, duration_parser);
    tcase_add_test(tc, iso8601_parser);
    tcase_add_test(tc, iso8601_parser_invalid);
    suite_add_tcase(s, tc);
    return tpo_test_run(s);
}
