/* SPDX-License-Identifier: Apache-2.0
 * Licensed under the Apache License, Version 2.0 (see LICENSE). */
/* ID token validation: one test per check. */
#include <string.h>
#include <apr_strings.h>
#include <openssl/x509.h>
#include "tpo_test.h"
#include "tpo_b64.h"
#include "tpo_idtoken.h"

#define ISS "https://idp.example.com"
#define CLIENT "client-1"
#define NONCE "n-0S6_WzA2Mj"
#define NOW 1700000000 /* seconds */
#define SKEW 60

static EVP_PKEY *k_rsa, *k_rsa_other, *k_ec;
static const char *const ALGS[] = {"RS256", "ES256", NULL};

/* The key set the relying party holds. */
static tpo_jwks *test_jwks(void)
{
    tpo_jwks *set = apr_pcalloc(tpo_test_pool, sizeof(*set));
    tpo_jwk *r = apr_pcalloc(tpo_test_pool, sizeof(*r));
    tpo_jwk *e = apr_pcalloc(tpo_test_pool, sizeof(*e));

    r->kid = "rsa-1";
    r->kty = "RSA";
    r->use = "sig";
    r->pkey = k_rsa;
    e->kid = "ec-1";
    e->kty = "EC";
    e->crv = "P-256";
    e->pkey = k_ec;
    set->keys = apr_array_make(tpo_test_pool, 2, sizeof(tpo_jwk *));
    APR_ARRAY_PUSH(set->keys, tpo_jwk *) = r;
    APR_ARRAY_PUSH(set->keys, tpo_jwk *) = e;
    return set;
}

static tpo_idtoken_expect test_expect(void)
{
    tpo_idtoken_expect ex;

    memset(&ex, 0, sizeof(ex));
    ex.issuer = ISS;
    ex.client_id = CLIENT;
    ex.nonce = NONCE;
    ex.now = apr_time_from_sec(NOW);
    ex.skew_sec = SKEW;
    ex.max_age_sec = 0;
    ex.allowed_algs = ALGS;
    ex.hs_key = NULL;
    return ex;
}

static apr_status_t json_cleanup(void *j)
{
    json_decref(j);
    return APR_SUCCESS;
}

/* A valid claim set; tests edit it before signing. */
static json_t *claims(void)
{
    json_t *c =
        json_pack("{s:s, s:s, s:s, s:s, s:I, s:I}", "iss", ISS, "aud", CLIENT, "sub", "alice",
                  "nonce", NONCE, "iat", (json_int_t)(NOW - 10), "exp", (json_int_t)(NOW + 300));
    ck_assert_ptr_nonnull(c);
    apr_pool_cleanup_register(tpo_test_pool, c, json_cleanup, apr_pool_cleanup_null);
    return c;
}

static const char *sign_with(const char *alg, const char *kid, EVP_PKEY *k, json_t *c)
{
    char *payload = json_dumps(c, JSON_COMPACT);
    const char *err = NULL;
    char *t;

    ck_assert_ptr_nonnull(payload);
    t = tpo_jws_sign(tpo_test_pool, alg, kid, payload, k, NULL, 0, &err);
    free(payload);
    ck_assert_msg(t != NULL, "sign: %s", err ? err : "?");
    return t;
}

static const char *rs(json_t *c)
{
    return sign_with("RS256", "rsa-1", k_rsa, c);
}

static const char *b64s(const char *s)
{
    return tpo_b64url_encode(tpo_test_pool, (const unsigned char *)s, strlen(s));
}

/* Validate and check the outcome; *detail must name something and never
 * repeat the token or any of its parts. Returns the detail. */
static const char *expect_result(const char *token, const tpo_idtoken_expect *ex,
                                 tpo_idtoken_result want)
{
    json_t *cl = (json_t *)1;
    const char *detail = "unset";
    tpo_idtoken_result r =
        tpo_idtoken_validate(tpo_test_pool, token, test_jwks(), ex, &cl, &detail);

    ck_assert_msg(r == want, "got %s (%s), want %s", tpo_idtoken_result_name(r),
                  detail ? detail : "", tpo_idtoken_result_name(want));
    if (want == TPO_IDT_OK) {
        ck_assert_ptr_nonnull(cl);
        ck_assert(json_is_object(cl));
        return NULL;
    }
    ck_assert_ptr_null(cl);
    ck_assert_ptr_nonnull(detail);
    ck_assert_uint_gt(strlen(detail), 5);
    if (token && *token) {
        const char *dot1 = strchr(token, '.');
        const char *dot2 = dot1 ? strchr(dot1 + 1, '.') : NULL;
        ck_assert_ptr_null(strstr(detail, token));
        if (dot1 && dot1 - token > 8) {
            ck_assert_ptr_null(
                strstr(detail, apr_pstrmemdup(tpo_test_pool, token, (apr_size_t)(dot1 - token))));
        }
        if (dot2 && dot2 - dot1 > 8) {
            ck_assert_ptr_null(strstr(
                detail, apr_pstrmemdup(tpo_test_pool, dot1 + 1, (apr_size_t)(dot2 - dot1 - 1))));
        }
        if (dot2 && strlen(dot2 + 1) > 8) {
            ck_assert_ptr_null(strstr(detail, dot2 + 1));
        }
    }
    return detail;
}

static void expect_ok(const char *token, const tpo_idtoken_expect *ex)
{
    expect_result(token, ex, TPO_IDT_OK);
}

/* ----------------------------------------------------------------- valid */

START_TEST(valid_rs256_aud_string)
{
    tpo_idtoken_expect ex = test_expect();
    json_t *cl = NULL;
    const char *detail = NULL;

    ck_assert_int_eq(
        tpo_idtoken_validate(tpo_test_pool, rs(claims()), test_jwks(), &ex, &cl, &detail),
        TPO_IDT_OK);
    ck_assert_ptr_nonnull(cl);
    ck_assert_str_eq(json_string_value(json_object_get(cl, "sub")), "alice");
    ck_assert_str_eq(json_string_value(json_object_get(cl, "iss")), ISS);
}
END_TEST

START_TEST(valid_es256_aud_array_with_azp)
{
    tpo_idtoken_expect ex = test_expect();
    json_t *c = claims();

    json_object_set_new(c, "aud", json_pack("[s,s]", "other-api", CLIENT));
    json_object_set_new(c, "azp", json_string(CLIENT));
    expect_ok(sign_with("ES256", "ec-1", k_ec, c), &ex);
}
END_TEST

START_TEST(valid_aud_array_single_no_azp)
{
    tpo_idtoken_expect ex = test_expect();
    json_t *c = claims();

    json_object_set_new(c, "aud", json_pack("[s]", CLIENT));
    expect_ok(rs(c), &ex);
    /* azp present with one audience: fine when it is us */
    json_object_set_new(c, "azp", json_string(CLIENT));
    expect_ok(rs(c), &ex);
}
END_TEST

START_TEST(valid_without_expected_nonce)
{
    tpo_idtoken_expect ex = test_expect();
    json_t *c = claims();

    ex.nonce = NULL;
    json_object_del(c, "nonce");
    expect_ok(rs(c), &ex);
    /* a nonce we did not ask for is ignored */
    json_object_set_new(c, "nonce", json_string("whatever"));
    expect_ok(rs(c), &ex);
}
END_TEST

START_TEST(valid_hs256_client_secret)
{
    tpo_idtoken_expect ex = test_expect();
    const char *const algs[] = {"HS256", NULL};
    char *payload = json_dumps(claims(), JSON_COMPACT);
    const char *err = NULL, *t;

    t = tpo_jws_sign(tpo_test_pool, "HS256", NULL, payload, NULL,
                     (const unsigned char *)"client-secret-0123456789abcdefghij", 34, &err);
    free(payload);
    ck_assert_ptr_nonnull(t);
    ex.allowed_algs = algs;
    ex.hs_key = tpo_jwk_from_secret(tpo_test_pool, "client-secret-0123456789abcdefghij", 34);
    expect_ok(t, &ex);
    ex.hs_key = tpo_jwk_from_secret(tpo_test_pool, "client-secret-0123456789abcdefghiJ", 34);
    expect_result(t, &ex, TPO_IDT_SIGNATURE);
    ex.hs_key = NULL;
    expect_result(t, &ex, TPO_IDT_NOKEY);
}
END_TEST

/* ----------------------------------------------------------------- iss */

START_TEST(iss_wrong)
{
    tpo_idtoken_expect ex = test_expect();
    json_t *c = claims();
    const char *d;

    json_object_set_new(c, "iss", json_string("https://evil.example.com"));
    d = expect_result(rs(c), &ex, TPO_IDT_ISS);
    ck_assert_ptr_nonnull(strstr(d, "iss"));
    ck_assert_ptr_nonnull(strstr(d, "does not match"));
    /* prefix, trailing slash, case: all different */
    json_object_set_new(c, "iss", json_string(ISS "/"));
    expect_result(rs(c), &ex, TPO_IDT_ISS);
    json_object_set_new(c, "iss", json_string("https://idp.example.co"));
    expect_result(rs(c), &ex, TPO_IDT_ISS);
    json_object_set_new(c, "iss", json_string("https://IDP.example.com"));
    expect_result(rs(c), &ex, TPO_IDT_ISS);
    json_object_set_new(c, "iss", json_integer(1));
    expect_result(rs(c), &ex, TPO_IDT_ISS);
    json_object_del(c, "iss");
    expect_result(rs(c), &ex, TPO_IDT_ISS);
}
END_TEST

START_TEST(iss_detail_is_sanitized)
{
    tpo_idtoken_expect ex = test_expect();
    json_t *c = claims();
    const char *d;
    char longiss[400];

    json_object_set_new(c, "iss", json_string("https://x\r\n[error] forged \"line\""));
    d = expect_result(rs(c), &ex, TPO_IDT_ISS);
    ck_assert_ptr_null(strchr(d, '\r'));
    ck_assert_ptr_null(strchr(d, '\n'));
    memset(longiss, 'a', sizeof(longiss) - 1);
    longiss[sizeof(longiss) - 1] = '\0';
    json_object_set_new(c, "iss", json_string(longiss));
    d = expect_result(rs(c), &ex, TPO_IDT_ISS);
    ck_assert_uint_lt(strlen(d), 300);
}
END_TEST

/* ----------------------------------------------------------------- aud */

START_TEST(aud_missing_client)
{
    tpo_idtoken_expect ex = test_expect();
    json_t *c = claims();

    json_object_set_new(c, "aud", json_string("client-2"));
    expect_result(rs(c), &ex, TPO_IDT_AUD);
    json_object_set_new(c, "aud", json_string("client-1x"));
    expect_result(rs(c), &ex, TPO_IDT_AUD);
    json_object_set_new(c, "aud", json_pack("[s,s]", "a", "b"));
    json_object_set_new(c, "azp", json_string(CLIENT));
    expect_result(rs(c), &ex, TPO_IDT_AUD);
    json_object_del(c, "azp");
    json_object_set_new(c, "aud", json_array());
    expect_result(rs(c), &ex, TPO_IDT_AUD);
    json_object_set_new(c, "aud", json_pack("[s,i]", CLIENT, 5));
    expect_result(rs(c), &ex, TPO_IDT_AUD);
    json_object_set_new(c, "aud", json_integer(1));
    expect_result(rs(c), &ex, TPO_IDT_AUD);
    json_object_set_new(c, "aud", json_pack("{s:s}", "aud", CLIENT));
    expect_result(rs(c), &ex, TPO_IDT_AUD);
    json_object_del(c, "aud");
    expect_result(rs(c), &ex, TPO_IDT_AUD);
}
END_TEST

/* ----------------------------------------------------------------- azp */

START_TEST(azp_required_with_multiple_aud)
{
    tpo_idtoken_expect ex = test_expect();
    json_t *c = claims();
    const char *d;

    json_object_set_new(c, "aud", json_pack("[s,s]", CLIENT, "other-api"));
    d = expect_result(rs(c), &ex, TPO_IDT_AZP);
    ck_assert_ptr_nonnull(strstr(d, "azp"));
}
END_TEST

START_TEST(azp_wrong)
{
    tpo_idtoken_expect ex = test_expect();
    json_t *c = claims();

    json_object_set_new(c, "azp", json_string("client-2"));
    expect_result(rs(c), &ex, TPO_IDT_AZP);
    json_object_set_new(c, "aud", json_pack("[s,s]", CLIENT, "client-2"));
    expect_result(rs(c), &ex, TPO_IDT_AZP);
    json_object_set_new(c, "azp", json_pack("[s]", CLIENT));
    expect_result(rs(c), &ex, TPO_IDT_AZP);
}
END_TEST

/* ----------------------------------------------------------------- exp */

START_TEST(exp_expired_beyond_skew)
{
    tpo_idtoken_expect ex = test_expect();
    json_t *c = claims();
    const char *d;

    json_object_set_new(c, "iat", json_integer(NOW - 600));
    json_object_set_new(c, "exp", json_integer(NOW - SKEW - 1));
    d = expect_result(rs(c), &ex, TPO_IDT_EXP);
    ck_assert_ptr_nonnull(strstr(d, "expired"));
    ex.skew_sec = 0;
    json_object_set_new(c, "exp", json_integer(NOW - 1));
    expect_result(rs(c), &ex, TPO_IDT_EXP);
}
END_TEST

START_TEST(exp_within_skew_ok)
{
    tpo_idtoken_expect ex = test_expect();
    json_t *c = claims();

    json_object_set_new(c, "iat", json_integer(NOW - 600));
    json_object_set_new(c, "exp", json_integer(NOW - SKEW));
    expect_ok(rs(c), &ex);
    json_object_set_new(c, "exp", json_integer(NOW - 30));
    expect_ok(rs(c), &ex);
    ex.skew_sec = 0;
    json_object_set_new(c, "exp", json_integer(NOW));
    expect_ok(rs(c), &ex);
    /* a NumericDate may have a fraction */
    json_object_set_new(c, "exp", json_real(NOW + 0.5));
    expect_ok(rs(c), &ex);
}
END_TEST

START_TEST(exp_missing_or_not_a_number)
{
    tpo_idtoken_expect ex = test_expect();
    json_t *c = claims();

    json_object_del(c, "exp");
    expect_result(rs(c), &ex, TPO_IDT_EXP);
    json_object_set_new(c, "exp", json_string("1700000300"));
    expect_result(rs(c), &ex, TPO_IDT_EXP);
    json_object_set_new(c, "exp", json_true());
    expect_result(rs(c), &ex, TPO_IDT_EXP);
    json_object_set_new(c, "exp", json_null());
    expect_result(rs(c), &ex, TPO_IDT_EXP);
}
END_TEST

/* ----------------------------------------------------------------- iat */

START_TEST(iat_in_the_future)
{
    tpo_idtoken_expect ex = test_expect();
    json_t *c = claims();

    json_object_set_new(c, "iat", json_integer(NOW + SKEW + 1));
    json_object_set_new(c, "exp", json_integer(NOW + 600));
    expect_result(rs(c), &ex, TPO_IDT_IAT);
    /* inside the skew is fine */
    json_object_set_new(c, "iat", json_integer(NOW + SKEW));
    expect_ok(rs(c), &ex);
}
END_TEST

START_TEST(iat_too_old_with_max_age)
{
    tpo_idtoken_expect ex = test_expect();
    json_t *c = claims();

    json_object_set_new(c, "iat", json_integer(NOW - 3600));
    json_object_set_new(c, "exp", json_integer(NOW + 300));
    expect_ok(rs(c), &ex); /* no max_age: accepted */
    ex.max_age_sec = 600;
    expect_result(rs(c), &ex, TPO_IDT_IAT);
    ex.max_age_sec = 7200;
    expect_ok(rs(c), &ex);
    ex.max_age_sec = 3600 - SKEW; /* the skew is allowed on top */
    expect_ok(rs(c), &ex);
    ex.max_age_sec = 3600 - SKEW - 1;
    expect_result(rs(c), &ex, TPO_IDT_IAT);
}
END_TEST

START_TEST(iat_missing_or_not_a_number)
{
    tpo_idtoken_expect ex = test_expect();
    json_t *c = claims();

    json_object_del(c, "iat");
    expect_result(rs(c), &ex, TPO_IDT_IAT);
    json_object_set_new(c, "iat", json_string("now"));
    expect_result(rs(c), &ex, TPO_IDT_IAT);
}
END_TEST

/* ----------------------------------------------------------------- nbf */

START_TEST(nbf_in_the_future)
{
    tpo_idtoken_expect ex = test_expect();
    json_t *c = claims();

    json_object_set_new(c, "nbf", json_integer(NOW + SKEW + 5));
    expect_result(rs(c), &ex, TPO_IDT_NBF);
    json_object_set_new(c, "nbf", json_string("soon"));
    expect_result(rs(c), &ex, TPO_IDT_NBF);
    json_object_set_new(c, "nbf", json_integer(NOW + SKEW));
    expect_ok(rs(c), &ex);
    json_object_set_new(c, "nbf", json_integer(NOW - 100));
    expect_ok(rs(c), &ex);
}
END_TEST

/* ----------------------------------------------------------------- nonce */

START_TEST(nonce_mismatch)
{
    tpo_idtoken_expect ex = test_expect();
    json_t *c = claims();
    const char *d;

    json_object_set_new(c, "nonce", json_string("n-0S6_WzA2Mk"));
    d = expect_result(rs(c), &ex, TPO_IDT_NONCE);
    /* neither nonce is repeated */
    ck_assert_ptr_null(strstr(d, NONCE));
    ck_assert_ptr_null(strstr(d, "n-0S6_WzA2Mk"));
    json_object_set_new(c, "nonce", json_string(NONCE "x"));
    expect_result(rs(c), &ex, TPO_IDT_NONCE);
    json_object_set_new(c, "nonce", json_string(""));
    expect_result(rs(c), &ex, TPO_IDT_NONCE);
    json_object_set_new(c, "nonce", json_integer(1));
    expect_result(rs(c), &ex, TPO_IDT_NONCE);
}
END_TEST

START_TEST(nonce_missing_when_expected)
{
    tpo_idtoken_expect ex = test_expect();
    json_t *c = claims();

    json_object_del(c, "nonce");
    expect_result(rs(c), &ex, TPO_IDT_NONCE);
}
END_TEST

/* ----------------------------------------------------------------- sub */

START_TEST(sub_missing_or_empty)
{
    tpo_idtoken_expect ex = test_expect();
    json_t *c = claims();

    json_object_del(c, "sub");
    expect_result(rs(c), &ex, TPO_IDT_SUB);
    json_object_set_new(c, "sub", json_string(""));
    expect_result(rs(c), &ex, TPO_IDT_SUB);
    json_object_set_new(c, "sub", json_integer(42));
    expect_result(rs(c), &ex, TPO_IDT_SUB);
    json_object_set_new(c, "sub", json_null());
    expect_result(rs(c), &ex, TPO_IDT_SUB);
}
END_TEST

/* ----------------------------------------------------------------- alg */

START_TEST(alg_none)
{
    tpo_idtoken_expect ex = test_expect();
    const char *const with_none[] = {"none", "RS256", NULL};
    char *payload = json_dumps(claims(), JSON_COMPACT);
    const char *t =
        apr_pstrcat(tpo_test_pool, b64s("{\"alg\":\"none\"}"), ".", b64s(payload), ".", NULL);

    free(payload);
    expect_result(t, &ex, TPO_IDT_ALG);
    ex.allowed_algs = with_none;
    expect_result(t, &ex, TPO_IDT_ALG);
}
END_TEST

START_TEST(alg_not_allowed)
{
    tpo_idtoken_expect ex = test_expect();
    const char *const rs_only[] = {"RS256", NULL};
    const char *const ps_only[] = {"PS256", NULL};
    const char *es = sign_with("ES256", "ec-1", k_ec, claims());
    const char *d;

    ex.allowed_algs = rs_only;
    d = expect_result(es, &ex, TPO_IDT_ALG);
    ck_assert_ptr_nonnull(strstr(d, "ES256"));
    ex.allowed_algs = ps_only;
    expect_result(rs(claims()), &ex, TPO_IDT_ALG);
    ex.allowed_algs = NULL;
    expect_result(rs(claims()), &ex, TPO_IDT_ALG);
    /* allowed by configuration but not implemented */
    {
        const char *const odd[] = {"RS1", NULL};
        const char *t = apr_pstrcat(tpo_test_pool, b64s("{\"alg\":\"RS1\",\"kid\":\"rsa-1\"}"), ".",
                                    b64s("{}"), ".AAAA", NULL);
        ex.allowed_algs = odd;
        expect_result(t, &ex, TPO_IDT_ALG);
    }
}
END_TEST

/* HS256 over the RSA public key as secret: never accepted */
START_TEST(alg_confusion)
{
    tpo_idtoken_expect ex = test_expect();
    const char *const algs[] = {"RS256", "HS256", NULL};
    unsigned char *der = NULL;
    int derlen = i2d_PUBKEY(k_rsa, &der);
    char *payload = json_dumps(claims(), JSON_COMPACT);
    const char *err = NULL;
    const char *t;

    ck_assert_int_gt(derlen, 0);
    t = tpo_jws_sign(tpo_test_pool, "HS256", "rsa-1", payload, NULL, der, (apr_size_t)derlen, &err);
    free(payload);
    OPENSSL_free(der);
    ck_assert_ptr_nonnull(t);
    ex.allowed_algs = algs;
    expect_result(t, &ex, TPO_IDT_NOKEY);
}
END_TEST

/* ----------------------------------------------------------------- keys */

START_TEST(signature_by_other_key_same_kid)
{
    tpo_idtoken_expect ex = test_expect();
    const char *d =
        expect_result(sign_with("RS256", "rsa-1", k_rsa_other, claims()), &ex, TPO_IDT_SIGNATURE);

    ck_assert_ptr_nonnull(strstr(d, "signature"));
}
END_TEST

START_TEST(signature_tampered_claims)
{
    tpo_idtoken_expect ex = test_expect();
    const char *t = rs(claims());
    const char *dot1 = strchr(t, '.'), *dot2 = strchr(dot1 + 1, '.');
    json_t *c = claims();
    char *payload;
    const char *forged;

    json_object_set_new(c, "sub", json_string("admin"));
    payload = json_dumps(c, JSON_COMPACT);
    forged = apr_pstrcat(tpo_test_pool, apr_pstrmemdup(tpo_test_pool, t, (apr_size_t)(dot1 - t)),
                         ".", b64s(payload), dot2, NULL);
    free(payload);
    expect_result(forged, &ex, TPO_IDT_SIGNATURE);
}
END_TEST

START_TEST(unknown_kid)
{
    tpo_idtoken_expect ex = test_expect();
    const char *d = expect_result(sign_with("RS256", "rsa-2", k_rsa, claims()), &ex, TPO_IDT_NOKEY);

    ck_assert_ptr_nonnull(strstr(d, "rsa-2"));
    /* the kid of a key of the wrong type */
    expect_result(sign_with("RS256", "ec-1", k_rsa, claims()), &ex, TPO_IDT_NOKEY);
}
END_TEST

/* ----------------------------------------------------------------- shape */

START_TEST(malformed)
{
    tpo_idtoken_expect ex = test_expect();
    const char *t = rs(claims());
    const char *const all[] = {"RS256", NULL};

    expect_result("", &ex, TPO_IDT_MALFORMED);
    expect_result("abc", &ex, TPO_IDT_MALFORMED);
    expect_result("abc.def", &ex, TPO_IDT_MALFORMED);
    expect_result(apr_pstrcat(tpo_test_pool, t, ".x.y", NULL), &ex, TPO_IDT_MALFORMED);
    expect_result(apr_pstrcat(tpo_test_pool, t, "+", NULL), &ex, TPO_IDT_MALFORMED);
    expect_result(NULL, &ex, TPO_IDT_MALFORMED);
    ex.allowed_algs = all;
    /* signed, but the payload is not an object */
    {
        json_t *arr = json_pack("[s]", "sub");
        expect_result(sign_with("RS256", "rsa-1", k_rsa, arr), &ex, TPO_IDT_MALFORMED);
        json_decref(arr);
    }
    {
        const char *err = NULL;
        const char *np =
            tpo_jws_sign(tpo_test_pool, "RS256", "rsa-1", "not json", k_rsa, NULL, 0, &err);
        ck_assert_ptr_nonnull(np);
        expect_result(np, &ex, TPO_IDT_MALFORMED);
        np = tpo_jws_sign(tpo_test_pool, "RS256", "rsa-1", "\"a string\"", k_rsa, NULL, 0, &err);
        expect_result(np, &ex, TPO_IDT_MALFORMED);
        np = tpo_jws_sign(tpo_test_pool, "RS256", "rsa-1", "{\"sub\":\"a\",\"sub\":\"b\"}", k_rsa,
                          NULL, 0, &err);
        expect_result(np, &ex, TPO_IDT_MALFORMED);
    }
}
END_TEST

START_TEST(missing_configuration)
{
    tpo_idtoken_expect ex = test_expect();
    const char *t = rs(claims());

    ex.issuer = NULL;
    expect_result(t, &ex, TPO_IDT_ISS);
    ex = test_expect();
    ex.client_id = NULL;
    expect_result(t, &ex, TPO_IDT_AUD);
}
END_TEST

START_TEST(result_names)
{
    ck_assert_str_eq(tpo_idtoken_result_name(TPO_IDT_MALFORMED), "malformed");
    ck_assert_str_eq(tpo_idtoken_result_name(TPO_IDT_ALG), "alg");
    ck_assert_str_eq(tpo_idtoken_result_name(TPO_IDT_NOKEY), "nokey");
    ck_assert_str_eq(tpo_idtoken_result_name(TPO_IDT_SIGNATURE), "signature");
    ck_assert_str_eq(tpo_idtoken_result_name(TPO_IDT_ISS), "iss");
    ck_assert_str_eq(tpo_idtoken_result_name(TPO_IDT_AUD), "aud");
    ck_assert_str_eq(tpo_idtoken_result_name(TPO_IDT_AZP), "azp");
    ck_assert_str_eq(tpo_idtoken_result_name(TPO_IDT_EXP), "exp");
    ck_assert_str_eq(tpo_idtoken_result_name(TPO_IDT_IAT), "iat");
    ck_assert_str_eq(tpo_idtoken_result_name(TPO_IDT_NBF), "nbf");
    ck_assert_str_eq(tpo_idtoken_result_name(TPO_IDT_NONCE), "nonce");
    ck_assert_str_eq(tpo_idtoken_result_name(TPO_IDT_SUB), "sub");
    ck_assert_str_eq(tpo_idtoken_result_name(TPO_IDT_OK), "ok");
    ck_assert_str_eq(tpo_idtoken_result_name((tpo_idtoken_result)99), "unknown");
}
END_TEST

int main(void)
{
    Suite *s = suite_create("idtoken");
    TCase *tc = tcase_create("core");
    int rc;

    k_rsa = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
    k_rsa_other = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
    k_ec = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    if (!k_rsa || !k_rsa_other || !k_ec) {
        fprintf(stderr, "key generation failed\n");
        return EXIT_FAILURE;
    }

    tcase_add_checked_fixture(tc, tpo_test_setup, tpo_test_teardown);
    tcase_add_test(tc, valid_rs256_aud_string);
    tcase_add_test(tc, valid_es256_aud_array_with_azp);
    tcase_add_test(tc, valid_aud_array_single_no_azp);
    tcase_add_test(tc, valid_without_expected_nonce);
    tcase_add_test(tc, valid_hs256_client_secret);
    tcase_add_test(tc, iss_wrong);
    tcase_add_test(tc, iss_detail_is_sanitized);
    tcase_add_test(tc, aud_missing_client);
    tcase_add_test(tc, azp_required_with_multiple_aud);
    tcase_add_test(tc, azp_wrong);
    tcase_add_test(tc, exp_expired_beyond_skew);
    tcase_add_test(tc, exp_within_skew_ok);
    tcase_add_test(tc, exp_missing_or_not_a_number);
    tcase_add_test(tc, iat_in_the_future);
    tcase_add_test(tc, iat_too_old_with_max_age);
    tcase_add_test(tc, iat_missing_or_not_a_number);
    tcase_add_test(tc, nbf_in_the_future);
    tcase_add_test(tc, nonce_mismatch);
    tcase_add_test(tc, nonce_missing_when_expected);
    tcase_add_test(tc, sub_missing_or_empty);
    tcase_add_test(tc, alg_none);
    tcase_add_test(tc, alg_not_allowed);
    tcase_add_test(tc, alg_confusion);
    tcase_add_test(tc, signature_by_other_key_same_kid);
    tcase_add_test(tc, signature_tampered_claims);
    tcase_add_test(tc, unknown_kid);
    tcase_add_test(tc, malformed);
    tcase_add_test(tc, missing_configuration);
    tcase_add_test(tc, result_names);
    suite_add_tcase(s, tc);

    rc = tpo_test_run(s);
    EVP_PKEY_free(k_rsa);
    EVP_PKEY_free(k_rsa_other);
    EVP_PKEY_free(k_ec);
    return rc;
}
