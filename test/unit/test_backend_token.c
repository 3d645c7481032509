/* SPDX-License-Identifier: Apache-2.0
 * Licensed under the Apache License, Version 2.0 (see LICENSE). */
/* Tokens for backends: the client-credentials request and answer, the cache
 * key and record, and when a cached gateway token is used, renewed or
 * replaced. */
#include <string.h>
#include <apr_strings.h>
#include <apr_tables.h>
#include "tpo_test.h"
#include "tpo_backend_token.h"
#include "tpo_defaults.h"
#include "tpo_token.h"

#define NOW_SEC 1700000000LL
#define NOW apr_time_from_sec(NOW_SEC)
#define SEC(n) apr_time_from_sec(n)

/* ------------------------------------------------------------- request */

START_TEST(params_form_and_json)
{
    apr_array_header_t *a =
        tpo_bt_params(tpo_test_pool, "read:orders write", "https://api.test/", "orders-api");
    tpo_token_request r;

    ck_assert_int_eq(a->nelts, 8);
    tpo_token_request_build(tpo_test_pool, TPO_TOKEN_ENC_FORM, TPO_CLIENT_AUTH_BASIC, "gw",
                            "s3cret", a, &r);
    ck_assert_str_eq(r.content_type, "application/x-www-form-urlencoded");
    ck_assert_str_eq(r.body, "grant_type=client_credentials&scope=read%3Aorders%20write"
                             "&resource=https%3A%2F%2Fapi.test%2F&audience=orders-api");
    ck_assert_str_eq(r.authorization, "Basic Z3c6czNjcmV0");
    /* a provider with a JSON body (TropiPay, PayoutID, Xendit): credentials inside */
    tpo_token_request_build(tpo_test_pool, TPO_TOKEN_ENC_JSON, TPO_CLIENT_AUTH_POST, "gw", "s3cret",
                            a, &r);
    ck_assert_str_eq(r.content_type, "application/json");
    ck_assert_ptr_null(r.authorization);
    ck_assert_ptr_nonnull(strstr(r.body, "\"grant_type\":\"client_credentials\""));
    ck_assert_ptr_nonnull(strstr(r.body, "\"client_id\":\"gw\""));
    ck_assert_ptr_nonnull(strstr(r.body, "\"client_secret\":\"s3cret\""));
    ck_assert_ptr_nonnull(strstr(r.body, "\"audience\":\"orders-api\""));
}
END_TEST

START_TEST(params_only_what_is_set)
{
    apr_array_header_t *a = tpo_bt_params(tpo_test_pool, "", NULL, NULL);
    tpo_token_request r;

    ck_assert_int_eq(a->nelts, 2);
    tpo_token_request_build(tpo_test_pool, TPO_TOKEN_ENC_FORM, TPO_CLIENT_AUTH_POST, "gw", "x", a,
                            &r);
    ck_assert_str_eq(r.body, "grant_type=client_credentials&client_id=gw&client_secret=x");
}
END_TEST

/* ------------------------------------------------------------- response */

START_TEST(response_standard)
{
    const char *b = "{\"access_token\":\"gw-token-1\",\"token_type\":\"Bearer\","
                    "\"expires_in\":600,\"scope\":\"a b\"}";
    const char *err, *detail;
    tpo_bt_token t;

    ck_assert_int_eq(
        tpo_bt_response(tpo_test_pool, b, strlen(b), 200, NOW, 3600, &t, &err, &detail), TPO_BT_OK);
    ck_assert_str_eq(t.access_token, "gw-token-1");
    ck_assert(t.obtained == NOW);
    ck_assert(t.expires == NOW + SEC(600));
}
END_TEST

START_TEST(response_provider_accents)
{
    const char *err, *detail;
    tpo_bt_token t;
    /* TropiPay: expires_in as a duration string; no token_type */
    const char *trop = "{\"access_token\":\"t1\",\"expires_in\":\"1d\"}";
    /* Xendit: expires_at ISO-8601 */
    const char *xen = "{\"access_token\":\"t2\",\"token_type\":\"bearer\","
                      "\"expires_at\":\"2023-11-14T23:13:20Z\"}";
    /* nothing said: the provider's default lifetime */
    const char *none = "{\"access_token\":\"t3\"}";

    ck_assert_int_eq(
        tpo_bt_response(tpo_test_pool, trop, strlen(trop), 200, NOW, 3600, &t, &err, &detail),
        TPO_BT_OK);
    ck_assert(t.expires == NOW + SEC(86400));
    ck_assert_int_eq(
        tpo_bt_response(tpo_test_pool, xen, strlen(xen), 200, NOW, 3600, &t, &err, &detail),
        TPO_BT_OK);
    ck_assert(t.expires == NOW + SEC(3600));
    ck_assert_int_eq(
        tpo_bt_response(tpo_test_pool, none, strlen(none), 200, NOW, 120, &t, &err, &detail),
        TPO_BT_OK);
    ck_assert(t.expires == NOW + SEC(120));
}
END_TEST

START_TEST(response_refused)
{
    const char *rfc = "{\"error\":\"invalid_client\",\"error_description\":\"bad secret\"}";
    const char *xen = "{\"error_code\":\"INVALID_SCOPE\",\"message\":\"no such scope\"}";
    const char *err, *detail;
    tpo_bt_token t;

    ck_assert_int_eq(
        tpo_bt_response(tpo_test_pool, rfc, strlen(rfc), 401, NOW, 3600, &t, &err, &detail),
        TPO_BT_REFUSED);
    ck_assert_str_eq(err, "invalid_client");
    ck_assert_str_eq(detail, "bad secret");
    ck_assert_int_eq(
        tpo_bt_response(tpo_test_pool, xen, strlen(xen), 400, NOW, 3600, &t, &err, &detail),
        TPO_BT_REFUSED);
    ck_assert_str_eq(err, "INVALID_SCOPE");
}
END_TEST

START_TEST(response_unusable)
{
    static const char *const bad[] = {
        "not json",
        "{\"token_type\":\"Bearer\"}",                                        /* no token */
        "{\"access_token\":\"t\",\"token_type\":\"DPoP\",\"expires_in\":60}", /* not Bearer */
        "{\"access_token\":\"t\\r\\nX-Admin: 1\",\"expires_in\":60}",         /* header split */
        "{\"access_token\":\"a b\",\"expires_in\":60}",                       /* space */
        "{\"access_token\":\"\",\"expires_in\":60}",                          /* empty */
        "{\"access_token\":\"t\",\"expires_in\":1}",                          /* too short */
        "{\"access_token\":\"t\",\"expires_in\":-5}",
    };
    const char *err, *detail;
    tpo_bt_token t;
    apr_size_t i;

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        detail = NULL;
        ck_assert_msg(tpo_bt_response(tpo_test_pool, bad[i], strlen(bad[i]), 200, NOW, 3600, &t,
                                      &err, &detail) == TPO_BT_BAD,
                      "accepted: %s", bad[i]);
        ck_assert_ptr_nonnull(detail);
        ck_assert_ptr_null(strstr(detail, "X-Admin"));
    }
    /* an HTTP error without an error field is unusable too, never a token */
    ck_assert_int_ne(tpo_bt_response(tpo_test_pool, "{\"access_token\":\"t\"}", 20, 500, NOW, 3600,
                                     &t, &err, &detail),
                     TPO_BT_OK);
}
END_TEST

START_TEST(token_charset)
{
    char *big = apr_palloc(tpo_test_pool, TPO_BT_MAX_TOKEN + 2);

    ck_assert(tpo_bt_token_ok("eyJhbGciOi.J9-_~+/=="));
    ck_assert(!tpo_bt_token_ok(""));
    ck_assert(!tpo_bt_token_ok(NULL));
    ck_assert(!tpo_bt_token_ok("a b"));
    ck_assert(!tpo_bt_token_ok("a\tb"));
    ck_assert(!tpo_bt_token_ok("a\x7f"));
    ck_assert(!tpo_bt_token_ok("caf\xc3\xa9"));
    memset(big, 'a', TPO_BT_MAX_TOKEN);
    big[TPO_BT_MAX_TOKEN] = 0;
    ck_assert(tpo_bt_token_ok(big));
    big[TPO_BT_MAX_TOKEN] = 'a';
    big[TPO_BT_MAX_TOKEN + 1] = 0;
    ck_assert(!tpo_bt_token_ok(big));
}
END_TEST

/* ------------------------------------------------------------- cache key and record */

START_TEST(key_hash)
{
    const char *k1 =
        tpo_bt_key_hash(tpo_test_pool, "idp", "https://idp/token", "gw", "b a", NULL, NULL);
    const char *k2 =
        tpo_bt_key_hash(tpo_test_pool, "idp", "https://idp/token", "gw", " a  b ", NULL, NULL);
    const char *k3 = tpo_bt_key_hash(tpo_test_pool, "idp", "https://idp/token", "gw", "a b",
                                     "https://api/", NULL);
    const char *k4 = tpo_bt_key_hash(tpo_test_pool, "idp", "https://idp/token", "gw", "a b", NULL,
                                     "https://api/");
    const char *k5 =
        tpo_bt_key_hash(tpo_test_pool, "idp", "https://idp/token", "gw2", "a b", NULL, NULL);
    /* parts cannot slide into each other */
    const char *k6 =
        tpo_bt_key_hash(tpo_test_pool, "id", "phttps://idp/token", "gw", "a b", NULL, NULL);

    ck_assert_int_eq(strlen(k1), 43);
    ck_assert_str_eq(k1, k2); /* the same scope in another order and spacing */
    ck_assert_str_ne(k1, k3);
    ck_assert_str_ne(k3, k4); /* resource and audience are different things */
    ck_assert_str_ne(k1, k5);
    ck_assert_str_ne(k1, k6);
    ck_assert_ptr_null(strpbrk(k1, "+/= \r\n"));
}
END_TEST

START_TEST(record_roundtrip_and_hostile)
{
    tpo_bt_token t = {"tok.en-1", NOW, NOW + SEC(600)}, d;
    apr_size_t len;
    const char *v = tpo_bt_encode(tpo_test_pool, &t, &len);
    static const char *const bad[] = {
        "",
        "1",
        "2 1 2 tok",
        "1 5 4 tok",      /* expires before obtained */
        "1 1 2 ",         /* no token */
        "1 1 2 to k",     /* space */
        "1 1 2 tok\r\nX", /* header split */
        "1 x 2 tok",
        "1 1234567890123456789 1234567890123456790 tok", /* too many digits */
    };
    apr_size_t i;

    ck_assert_int_eq(tpo_bt_decode(tpo_test_pool, v, len, &d), APR_SUCCESS);
    ck_assert_str_eq(d.access_token, "tok.en-1");
    ck_assert(d.obtained == t.obtained && d.expires == t.expires);
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        ck_assert_msg(tpo_bt_decode(tpo_test_pool, bad[i], strlen(bad[i]), &d) == APR_EINVAL,
                      "decoded: %s", bad[i]);
    }
    /* a NUL inside */
    ck_assert_int_eq(tpo_bt_decode(tpo_test_pool, "1 1 2 a\0b", 9, &d), APR_EINVAL);
}
END_TEST

/* ------------------------------------------------------------- timing */

START_TEST(decide_long_lived)
{
    /* one hour, renew 60 s before: used for 59 minutes, then renewed by one
     * request while the others keep using it, replaced when 2 s are left */
    tpo_bt_token t = {"t", NOW, NOW + SEC(3600)};
    apr_interval_time_t before = SEC(60);

    ck_assert_int_eq(tpo_bt_decide(NULL, NOW, before), TPO_BT_FETCH);
    ck_assert_int_eq(tpo_bt_decide(&t, NOW, before), TPO_BT_USE);
    ck_assert_int_eq(tpo_bt_decide(&t, NOW + SEC(3539), before), TPO_BT_USE);
    ck_assert_int_eq(tpo_bt_decide(&t, NOW + SEC(3540), before), TPO_BT_RENEW);
    ck_assert_int_eq(tpo_bt_decide(&t, NOW + SEC(3597), before), TPO_BT_RENEW);
    ck_assert_int_eq(tpo_bt_decide(&t, NOW + SEC(3598), before), TPO_BT_FETCH);
    ck_assert_int_eq(tpo_bt_decide(&t, NOW + SEC(4000), before), TPO_BT_FETCH);
    /* a record from the future: the clock went back */
    ck_assert_int_eq(tpo_bt_decide(&t, NOW - SEC(301), before), TPO_BT_FETCH);
}
END_TEST

START_TEST(decide_short_lived)
{
    /* 8 s with "renew 60 s before": renewed after 6 s (3/4), usable until
     * 6 s (a quarter of the lifetime is less than 2 s? no: 2 s) */
    tpo_bt_token t = {"t", NOW, NOW + SEC(8)};
    apr_interval_time_t before = SEC(60);

    ck_assert(tpo_bt_renew_at(&t, before) == NOW + SEC(6));
    ck_assert(tpo_bt_usable_until(&t) == NOW + SEC(6));
    ck_assert_int_eq(tpo_bt_decide(&t, NOW + SEC(5), before), TPO_BT_USE);
    ck_assert_int_eq(tpo_bt_decide(&t, NOW + SEC(6), before), TPO_BT_FETCH);
    /* 4 s: renewal and the usable end both at 3 s */
    t.expires = NOW + SEC(4);
    ck_assert(tpo_bt_usable_until(&t) == NOW + SEC(3));
    ck_assert_int_eq(tpo_bt_decide(&t, NOW + apr_time_from_msec(2999), before), TPO_BT_USE);
    ck_assert_int_eq(tpo_bt_decide(&t, NOW + SEC(3), before), TPO_BT_FETCH);
    /* 20 s, renew 2 s before: window [18, 18) is empty, usable until 18 */
    t.expires = NOW + SEC(20);
    ck_assert(tpo_bt_renew_at(&t, SEC(2)) == NOW + SEC(18));
    ck_assert_int_eq(tpo_bt_decide(&t, NOW + SEC(17), SEC(2)), TPO_BT_USE);
    /* 20 s, renew 4 s before: renewed from 16 s, replaced from 18 s */
    ck_assert_int_eq(tpo_bt_decide(&t, NOW + SEC(16), SEC(4)), TPO_BT_RENEW);
    ck_assert_int_eq(tpo_bt_decide(&t, NOW + SEC(18), SEC(4)), TPO_BT_FETCH);
}
END_TEST

/* ------------------------------------------------------------- ID token payload */

START_TEST(jwt_payload)
{
    /* {"alg":"none"} . {"sub":"José","n":1} . sig */
    const char *jwt = "eyJhbGciOiJub25lIn0.eyJzdWIiOiJKb3PDqSIsIm4iOjF9.c2ln";
    const char *j = tpo_bt_jwt_payload_json(tpo_test_pool, jwt);

    ck_assert_ptr_nonnull(j);
    ck_assert_str_eq(j, "{\"sub\":\"Jos\\u00E9\",\"n\":1}");
    ck_assert_ptr_null(tpo_bt_jwt_payload_json(tpo_test_pool, "a.b"));
    ck_assert_ptr_null(tpo_bt_jwt_payload_json(tpo_test_pool, "a.b.c.d"));
    /* payload "[1]" (an array), "x" (not JSON), a duplicate key */
    ck_assert_ptr_null(tpo_bt_jwt_payload_json(tpo_test_pool, "e30.WzFd.c2ln"));
    ck_assert_ptr_null(tpo_bt_jwt_payload_json(tpo_test_pool, "e30.eA.c2ln"));
    ck_assert_ptr_null(tpo_bt_jwt_payload_json(tpo_test_pool, "e30.eyJhIjoxLCJhIjoyfQ.c2ln"));
    ck_assert_ptr_null(tpo_bt_jwt_payload_json(tpo_test_pool, NULL));
    /* {"sub":"J<DEL>s","n":1}: DEL is ASCII to jansson but not allowed in a header (a fuzz find) */
    j = tpo_bt_jwt_payload_json(tpo_test_pool, "e30.eyJzdWIiOiJKf3MiLCJuIjoxfQ.c2ln");
    ck_assert_ptr_nonnull(j);
    ck_assert_str_eq(j, "{\"sub\":\"J\\u007fs\",\"n\":1}");
}
END_TEST

int main(void)
{
    Suite *s = suite_create("backend_token");
    TCase *tc = tcase_create("core");

    tcase_add_checked_fixture(tc, tpo_test_setup, tpo_test_teardown);
    tcase_add_test(tc, params_form_and_json);
    tcase_add_test(tc, params_only_what_is_set);
    tcase_add_test(tc, response_standard);
    tcase_add_test(tc, response_provider_accents);
    tcase_add_test(tc, response_refused);
    tcase_add_test(tc, response_unusable);
    tcase_add_test(tc, token_charset);
    tcase_add_test(tc, key_hash);
    tcase_add_test(tc, record_roundtrip_and_hostile);
    tcase_add_test(tc, decide_long_lived);
    tcase_add_test(tc, decide_short_lived);
    tcase_add_test(tc, jwt_payload);
    suite_add_tcase(s, tc);
    return tpo_test_run(s);
}
