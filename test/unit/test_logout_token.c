/* SPDX-License-Identifier: Apache-2.0
 * Licensed under the Apache License, Version 2.0 (see LICENSE). */
/* Back-channel logout tokens: valid ones pass; forged, replayed, wrong-audience,
 * expired, nonce-carrying and event-less ones are refused, each naming its check. */
#include <string.h>
#include <apr_strings.h>
#include "tpo_test.h"
#include "tpo_cache_shm.h"
#include "tpo_logout_token.h"

#define ISS "https://idp.example.com"
#define CLIENT "client-1"
#define NOW 1700000000 /* seconds */
#define SKEW 60
#define MAX_AGE 300

static EVP_PKEY *k_rsa, *k_rsa_other, *k_ec;
static const char *const ALGS[] = {"RS256", "ES256", NULL};

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

static tpo_logout_expect expect(void)
{
    tpo_logout_expect ex;

    memset(&ex, 0, sizeof(ex));
    ex.issuer = ISS;
    ex.client_id = CLIENT;
    ex.now = apr_time_from_sec(NOW);
    ex.skew_sec = SKEW;
    ex.max_age_sec = MAX_AGE;
    ex.allowed_algs = ALGS;
    return ex;
}

static apr_status_t json_cleanup(void *j)
{
    json_decref(j);
    return APR_SUCCESS;
}

/* A valid logout token's claims (OIDC Back-Channel Logout 1.0, 2.4). */
static json_t *claims(void)
{
    json_t *c =
        json_pack("{s:s, s:s, s:s, s:s, s:s, s:I, s:I, s:{s:{}}}", "iss", ISS, "aud", CLIENT, "sub",
                  "alice", "sid", "op-sid-1", "jti", "jti-0001", "iat", (json_int_t)(NOW - 5),
                  "exp", (json_int_t)(NOW + 115), "events", TPO_BACKCHANNEL_EVENT);

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

static tpo_logout_claims check(const char *token, const tpo_logout_expect *ex, tpo_lt_result want)
{
    tpo_logout_claims lc;
    const char *detail = NULL;
    tpo_lt_result r =
        tpo_logout_token_validate(tpo_test_pool, token, test_jwks(), ex, &lc, &detail);

    ck_assert_msg(r == want, "got %s (%s), want %s", tpo_lt_result_name(r), detail ? detail : "",
                  tpo_lt_result_name(want));
    if (want != TPO_LT_OK) {
        const char *dot = strchr(token ? token : "", '.');
        ck_assert_ptr_nonnull(detail);
        ck_assert_uint_gt(strlen(detail), 5);
        if (dot && dot - token > 8) {
            ck_assert_ptr_null(
                strstr(detail, apr_pstrmemdup(tpo_test_pool, token, (apr_size_t)(dot - token))));
        }
    }
    return lc;
}

START_TEST(valid_rs256_and_es256)
{
    tpo_logout_expect ex = expect();
    json_t *c = claims();
    tpo_logout_claims lc = check(rs(c), &ex, TPO_LT_OK);

    ck_assert_str_eq(lc.sub, "alice");
    ck_assert_str_eq(lc.sid, "op-sid-1");
    ck_assert_str_eq(lc.jti, "jti-0001");
    /* the jti is remembered until the token's exp + skew, not longer */
    ck_assert(lc.until == apr_time_from_sec(NOW + 115 + SKEW + 1));
    json_object_set_new(c, "aud", json_pack("[s,s]", "other", CLIENT));
    check(sign_with("ES256", "ec-1", k_ec, c), &ex, TPO_LT_OK);
}
END_TEST

START_TEST(valid_sub_only_sid_only_no_exp)
{
    tpo_logout_expect ex = expect();
    json_t *c = claims();
    tpo_logout_claims lc;

    json_object_del(c, "sid");
    lc = check(rs(c), &ex, TPO_LT_OK);
    ck_assert_ptr_null(lc.sid);
    c = claims();
    json_object_del(c, "sub");
    json_object_del(c, "exp");
    lc = check(rs(c), &ex, TPO_LT_OK);
    ck_assert_ptr_null(lc.sub);
    /* without exp: remembered for the whole window an iat is accepted in */
    ck_assert(lc.until == apr_time_from_sec(NOW - 5 + MAX_AGE + 2 * SKEW + 1));
}
END_TEST

START_TEST(forged_signature)
{
    tpo_logout_expect ex = expect();
    const char *good = rs(claims()), *forged;
    json_t *c = claims();

    /* signed by a key the provider does not publish, under its kid */
    check(sign_with("RS256", "rsa-1", k_rsa_other, c), &ex, TPO_LT_SIGNATURE);
    /* a payload swapped under a genuine signature */
    json_object_set_new(c, "sub", json_string("mallory"));
    {
        const char *other = rs(c);
        const char *d1 = strchr(good, '.'), *d2 = strchr(d1 + 1, '.');
        const char *o1 = strchr(other, '.'), *o2 = strchr(o1 + 1, '.');
        forged = apr_pstrcat(tpo_test_pool, apr_pstrmemdup(tpo_test_pool, good, d1 - good),
                             apr_pstrmemdup(tpo_test_pool, o1, o2 - o1), d2, NULL);
    }
    check(forged, &ex, TPO_LT_SIGNATURE);
    /* alg none, HS256 with the public key, and an alg off the list */
    check(apr_pstrcat(tpo_test_pool, "eyJhbGciOiJub25lIn0.", strchr(good, '.') + 1, NULL), &ex,
          TPO_LT_ALG);
    check(sign_with("RS384", "rsa-1", k_rsa, claims()), &ex, TPO_LT_ALG);
    check(sign_with("RS256", "unknown-kid", k_rsa_other, claims()), &ex, TPO_LT_NOKEY);
    check("not-a-jwt", &ex, TPO_LT_MALFORMED);
    check("", &ex, TPO_LT_MALFORMED);
}
END_TEST

START_TEST(wrong_iss_and_aud)
{
    tpo_logout_expect ex = expect();
    json_t *c = claims();

    json_object_set_new(c, "aud", json_string("another-client"));
    check(rs(c), &ex, TPO_LT_AUD);
    json_object_del(c, "aud");
    check(rs(c), &ex, TPO_LT_AUD);
    c = claims();
    json_object_set_new(c, "iss", json_string("https://evil.example.com"));
    check(rs(c), &ex, TPO_LT_ISS);
}
END_TEST

START_TEST(expired_and_iat_outside_window)
{
    tpo_logout_expect ex = expect();
    json_t *c = claims();

    json_object_set_new(c, "exp", json_integer(NOW - SKEW - 1));
    check(rs(c), &ex, TPO_LT_EXP);
    c = claims();
    json_object_set_new(c, "iat", json_integer(NOW - MAX_AGE - SKEW - 1));
    json_object_del(c, "exp");
    check(rs(c), &ex, TPO_LT_IAT);
    json_object_set_new(c, "iat", json_integer(NOW + SKEW + 5));
    check(rs(c), &ex, TPO_LT_IAT);
    json_object_del(c, "iat");
    check(rs(c), &ex, TPO_LT_IAT);
    json_object_set_new(c, "iat", json_string("now"));
    check(rs(c), &ex, TPO_LT_IAT);
    /* within the skew: accepted */
    c = claims();
    json_object_set_new(c, "exp", json_integer(NOW - SKEW + 1));
    check(rs(c), &ex, TPO_LT_OK);
}
END_TEST

START_TEST(nonce_refused)
{
    tpo_logout_expect ex = expect();
    json_t *c = claims();

    json_object_set_new(c, "nonce", json_string("n-123"));
    check(rs(c), &ex, TPO_LT_NONCE);
}
END_TEST

START_TEST(events_required)
{
    tpo_logout_expect ex = expect();
    json_t *c = claims();

    json_object_del(c, "events");
    check(rs(c), &ex, TPO_LT_EVENTS); /* an ID token is not a logout token */
    json_object_set_new(c, "events", json_pack("{s:{}}", "http://example.com/other-event"));
    check(rs(c), &ex, TPO_LT_EVENTS);
    json_object_set_new(c, "events", json_pack("{s:s}", TPO_BACKCHANNEL_EVENT, "yes"));
    check(rs(c), &ex, TPO_LT_EVENTS);
    json_object_set_new(c, "events", json_pack("[s]", TPO_BACKCHANNEL_EVENT));
    check(rs(c), &ex, TPO_LT_EVENTS);
}
END_TEST

START_TEST(sub_sid_jti_typ)
{
    tpo_logout_expect ex = expect();
    json_t *c = claims();

    json_object_del(c, "sub");
    json_object_del(c, "sid");
    check(rs(c), &ex, TPO_LT_SUBSID);
    json_object_set_new(c, "sub", json_string(""));
    check(rs(c), &ex, TPO_LT_SUBSID);
    json_object_set_new(c, "sub", json_integer(5));
    check(rs(c), &ex, TPO_LT_SUBSID);
    c = claims();
    json_object_del(c, "jti");
    check(rs(c), &ex, TPO_LT_JTI);
    json_object_set_new(c, "jti", json_string(""));
    check(rs(c), &ex, TPO_LT_JTI);
    {
        char big[TPO_LT_MAX_JTI + 2];
        memset(big, 'j', sizeof(big) - 1);
        big[sizeof(big) - 1] = '\0';
        json_object_set_new(c, "jti", json_string(big));
        check(rs(c), &ex, TPO_LT_JTI);
    }
}
END_TEST

START_TEST(replay_refused)
{
    tpo_logout_expect ex = expect();
    tpo_cache *cache;
    const char *err = NULL;
    apr_status_t rv;
    tpo_logout_claims lc;
    json_t *c = claims();

    ck_assert_int_eq(tpo_shm_cache_create(tpo_test_pool, 1024 * 1024, 256, &cache, &err),
                     APR_SUCCESS);
    /* real time here: the cache expires entries against the clock */
    ex.now = apr_time_now();
    json_object_set_new(c, "iat", json_integer(apr_time_sec(ex.now)));
    json_object_set_new(c, "exp", json_integer(apr_time_sec(ex.now) + 120));
    lc = check(rs(c), &ex, TPO_LT_OK);
    ck_assert_int_eq(tpo_logout_token_consume(cache, tpo_test_pool, ISS, &lc, &rv), TPO_LT_OK);
    ck_assert_int_eq(rv, APR_SUCCESS);
    lc = check(rs(c), &ex, TPO_LT_OK);
    ck_assert_int_eq(tpo_logout_token_consume(cache, tpo_test_pool, ISS, &lc, &rv), TPO_LT_REPLAY);
    ck_assert_int_eq(rv, APR_SUCCESS);
    /* the same jti from another issuer is another token */
    ck_assert_int_eq(tpo_logout_token_consume(cache, tpo_test_pool, "https://other", &lc, &rv),
                     TPO_LT_OK);
    /* released (the logout could not be carried out): the retry passes once */
    tpo_logout_token_release(cache, tpo_test_pool, ISS, &lc);
    ck_assert_int_eq(tpo_logout_token_consume(cache, tpo_test_pool, ISS, &lc, &rv), TPO_LT_OK);
    ck_assert_int_eq(tpo_logout_token_consume(cache, tpo_test_pool, ISS, &lc, &rv), TPO_LT_REPLAY);
    /* a new jti passes */
    json_object_set_new(c, "jti", json_string("jti-0002"));
    lc = check(rs(c), &ex, TPO_LT_OK);
    ck_assert_int_eq(tpo_logout_token_consume(cache, tpo_test_pool, ISS, &lc, &rv), TPO_LT_OK);
}
END_TEST

START_TEST(result_names)
{
    ck_assert_str_eq(tpo_lt_result_name(TPO_LT_OK), "ok");
    ck_assert_str_eq(tpo_lt_result_name(TPO_LT_EVENTS), "events");
    ck_assert_str_eq(tpo_lt_result_name(TPO_LT_NONCE), "nonce");
    ck_assert_str_eq(tpo_lt_result_name(TPO_LT_REPLAY), "replay");
    ck_assert_str_eq(tpo_lt_result_name((tpo_lt_result)99), "unknown");
}
END_TEST

int main(void)
{
    Suite *s = suite_create("logout_token");
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
    tcase_add_test(tc, valid_rs256_and_es256);
    tcase_add_test(tc, valid_sub_only_sid_only_no_exp);
    tcase_add_test(tc, forged_signature);
    tcase_add_test(tc, wrong_iss_and_aud);
    tcase_add_test(tc, expired_and_iat_outside_window);
    tcase_add_test(tc, nonce_refused);
    tcase_add_test(tc, events_required);
    tcase_add_test(tc, sub_sid_jti_typ);
    tcase_add_test(tc, replay_refused);
    tcase_add_test(tc, result_names);
    suite_add_tcase(s, tc);
    rc = tpo_test_run(s);
    EVP_PKEY_free(k_rsa);
    EVP_PKEY_free(k_rsa_other);
    EVP_PKEY_free(k_ec);
    return rc;
}
