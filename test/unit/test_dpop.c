/* SPDX-License-Identifier: Apache-2.0
 * Licensed under the Apache License, Version 2.0 (see LICENSE). */
/* DPoP (RFC 9449): keys, proofs checked with the module's own JWS code,
 * ath and thumbprint vectors, nonce and WWW-Authenticate readers. */
#include <string.h>
#include <apr_strings.h>
#include <jansson.h>
#include "tpo_test.h"
#include "tpo_dpop.h"
#include "tpo_jose.h"
#include "tpo_session.h"

/* A proof decoded and verified with the key in its own jwk header; returns
 * the payload. */
static json_t *verify_proof(const char *proof, const tpo_dpop_key *k, const char *alg)
{
    apr_pool_t *p = tpo_test_pool;
    tpo_jws *jws = NULL;
    tpo_jwks *jwks = NULL;
    const char *err = NULL, *allowed[] = {alg, NULL};
    json_t *jwk, *payload;
    char *set, *jwk_text;

    ck_assert_int_eq(tpo_jws_parse(p, proof, &jws, &err), APR_SUCCESS);
    ck_assert_str_eq(jws->alg, alg);
    ck_assert_ptr_nonnull(jws->typ);
    ck_assert_str_eq(jws->typ, "dpop+jwt");
    ck_assert_ptr_null(jws->kid);
    jwk = json_object_get(jws->header, "jwk");
    ck_assert(json_is_object(jwk));
    ck_assert_ptr_null(json_object_get(jwk, "d")); /* never the private part */
    jwk_text = json_dumps(jwk, JSON_COMPACT);
    ck_assert_str_eq(jwk_text, k->jwk);
    /* the thumbprint of the header's key is the key's */
    ck_assert_str_eq(tpo_dpop_jwk_thumbprint(p, jwk_text), k->jkt);
    set = apr_psprintf(p, "{\"keys\":[%s]}", jwk_text);
    free(jwk_text);
    ck_assert_int_eq(tpo_jwks_parse(p, set, strlen(set), &jwks, &err), APR_SUCCESS);
    ck_assert_int_eq(tpo_jws_verify(p, jws, jwks, NULL, allowed, &err), APR_SUCCESS);
    payload = tpo_jws_payload_json(p, jws, &err);
    ck_assert_ptr_nonnull(payload);
    return payload;
}

static void check_proof(const char *alg)
{
    apr_pool_t *p = tpo_test_pool;
    tpo_dpop_key *k = NULL;
    const char *err = NULL;
    apr_time_t now = apr_time_from_sec(1700000000);
    char *proof, *proof2;
    json_t *c, *c2;

    ck_assert_int_eq(tpo_dpop_key_generate(p, alg, &k, &err), APR_SUCCESS);
    ck_assert_str_eq(k->alg, alg);
    proof = tpo_dpop_proof(p, k, "GET", "https://rs.example/api/x?secret=1#frag", "tok-123", "n-1",
                           now, &err);
    ck_assert_msg(proof != NULL, "%s", err);
    c = verify_proof(proof, k, alg);
    ck_assert_str_eq(json_string_value(json_object_get(c, "htm")), "GET");
    ck_assert_str_eq(json_string_value(json_object_get(c, "htu")), "https://rs.example/api/x");
    ck_assert_int_eq(json_integer_value(json_object_get(c, "iat")), 1700000000);
    ck_assert_str_eq(json_string_value(json_object_get(c, "ath")), tpo_dpop_ath(p, "tok-123"));
    ck_assert_str_eq(json_string_value(json_object_get(c, "nonce")), "n-1");
    ck_assert_int_ge(strlen(json_string_value(json_object_get(c, "jti"))), 16);

    /* the token request's proof: no ath, no nonce; every jti differs */
    proof2 = tpo_dpop_proof(p, k, "POST", "http://127.0.0.1:9000/token", NULL, NULL, now, &err);
    ck_assert_ptr_nonnull(proof2);
    c2 = verify_proof(proof2, k, alg);
    ck_assert_ptr_null(json_object_get(c2, "ath"));
    ck_assert_ptr_null(json_object_get(c2, "nonce"));
    ck_assert_str_eq(json_string_value(json_object_get(c2, "htm")), "POST");
    ck_assert_str_ne(json_string_value(json_object_get(c, "jti")),
                     json_string_value(json_object_get(c2, "jti")));
}

START_TEST(proof_es256)
{
    check_proof("ES256");
}
END_TEST

START_TEST(proof_eddsa)
{
    check_proof("EdDSA");
}
END_TEST

START_TEST(proof_refuses_bad_input)
{
    apr_pool_t *p = tpo_test_pool;
    tpo_dpop_key *k = NULL;
    const char *err = NULL;

    ck_assert_int_eq(tpo_dpop_key_generate(p, "ES256", &k, &err), APR_SUCCESS);
    ck_assert_ptr_null(tpo_dpop_proof(p, k, "GET", "ftp://x/y", NULL, NULL, 0, &err));
    ck_assert_ptr_nonnull(err);
    ck_assert_ptr_null(tpo_dpop_proof(p, k, "GET", "/relative", NULL, NULL, 0, &err));
    ck_assert_ptr_null(tpo_dpop_proof(p, k, "", "https://a/", NULL, NULL, 0, &err));
    ck_assert_ptr_null(tpo_dpop_proof(p, NULL, "GET", "https://a/", NULL, NULL, 0, &err));
    /* a nonce with a quote or a space cannot go into the proof */
    ck_assert_ptr_null(tpo_dpop_proof(p, k, "GET", "https://a/", NULL, "a\"b", 0, &err));
    ck_assert_ptr_null(tpo_dpop_proof(p, k, "GET", "https://a/", NULL, "a b", 0, &err));
    ck_assert_int_ne(tpo_dpop_key_generate(p, "RS256", &k, &err), APR_SUCCESS);
    ck_assert_int_ne(tpo_dpop_key_generate(p, NULL, &k, &err), APR_SUCCESS);
}
END_TEST

/* RFC 9449 7.1's example access token and its ath */
START_TEST(ath_vector)
{
    ck_assert_str_eq(tpo_dpop_ath(tpo_test_pool, "Kz~8mXK1EalYznwH-LC-1fBAo.4Ljp~zsPE_NeO.gxU"),
                     "fUHyO2r2Z3DZ53EsNrWBb0xWXoaNy59IiKCAqksmQEo");
}
END_TEST

/* RFC 9449 4.1's example key and its jkt (6.1), members in any order */
START_TEST(thumbprint_vector)
{
    apr_pool_t *p = tpo_test_pool;
    const char *jwk = "{\"kty\":\"EC\",\"x\":\"l8tFrhx-34tV3hRICRDY9zCkDlpBhF42UQUfWVAWBFs\","
                      "\"y\":\"9VE4jf_Ok_o64zbTTlcuNJajHmt6v9TDVrU0CdvGRDA\",\"crv\":\"P-256\","
                      "\"use\":\"sig\"}";

    ck_assert_str_eq(tpo_dpop_jwk_thumbprint(p, jwk),
                     "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I");
    ck_assert_ptr_null(tpo_dpop_jwk_thumbprint(p, "{\"kty\":\"EC\",\"crv\":\"P-256\"}"));
    ck_assert_ptr_null(tpo_dpop_jwk_thumbprint(p, "{\"kty\":\"RSA\",\"n\":\"x\",\"e\":\"AQAB\"}"));
    ck_assert_ptr_null(tpo_dpop_jwk_thumbprint(p, "not json"));
    ck_assert_ptr_null(tpo_dpop_jwk_thumbprint(p, NULL));
}
END_TEST

/* the key survives the session record: same public key, proofs still verify */
START_TEST(key_roundtrip_through_session)
{
    apr_pool_t *p = tpo_test_pool;
    tpo_dpop_key *k = NULL, *k2 = NULL;
    const char *err = NULL;
    tpo_session s, d;
    char *rec, *text;
    apr_size_t len;
    int i;
    static const char *const algs[] = {"ES256", "EdDSA"};

    for (i = 0; i < 2; i++) {
        ck_assert_int_eq(tpo_dpop_key_generate(p, algs[i], &k, &err), APR_SUCCESS);
        text = tpo_dpop_key_export(p, k);
        ck_assert_ptr_nonnull(text);
        memset(&s, 0, sizeof(s));
        s.provider = "idp";
        s.user = "alice";
        s.access_token = "at";
        s.dpop_key = text;
        rec = tpo_session_encode(p, &s, &len);
        ck_assert_int_eq(tpo_session_decode(p, rec, len, &d), APR_SUCCESS);
        ck_assert_str_eq(d.dpop_key, text);
        ck_assert_int_eq(tpo_dpop_key_import(p, d.dpop_key, &k2, &err), APR_SUCCESS);
        ck_assert_str_eq(k2->alg, algs[i]);
        ck_assert_str_eq(k2->jwk, k->jwk);
        ck_assert_str_eq(k2->jkt, k->jkt);
        /* the payload belongs to the pool (tpo_jws_payload_json) */
        (void)verify_proof(tpo_dpop_proof(p, k2, "GET", "https://a/b", "at", NULL, 0, &err), k,
                           algs[i]);
    }
    /* a session without a key has none after decoding */
    s.dpop_key = NULL;
    rec = tpo_session_encode(p, &s, &len);
    ck_assert_int_eq(tpo_session_decode(p, rec, len, &d), APR_SUCCESS);
    ck_assert_ptr_null(d.dpop_key);
}
END_TEST

START_TEST(key_import_refuses_garbage)
{
    apr_pool_t *p = tpo_test_pool;
    tpo_dpop_key *k = NULL, *k2 = NULL;
    const char *err = NULL;
    char *text;

    ck_assert_int_ne(tpo_dpop_key_import(p, NULL, &k2, &err), APR_SUCCESS);
    ck_assert_int_ne(tpo_dpop_key_import(p, "", &k2, &err), APR_SUCCESS);
    ck_assert_int_ne(tpo_dpop_key_import(p, "ES256", &k2, &err), APR_SUCCESS);
    ck_assert_int_ne(tpo_dpop_key_import(p, "ES256:", &k2, &err), APR_SUCCESS);
    ck_assert_int_ne(tpo_dpop_key_import(p, "ES256:!!!", &k2, &err), APR_SUCCESS);
    ck_assert_int_ne(tpo_dpop_key_import(p, "ES256:AAAA", &k2, &err), APR_SUCCESS);
    ck_assert_ptr_null(k2);
    /* a key under the other algorithm's name */
    ck_assert_int_eq(tpo_dpop_key_generate(p, "EdDSA", &k, &err), APR_SUCCESS);
    text = tpo_dpop_key_export(p, k);
    ck_assert_int_ne(
        tpo_dpop_key_import(p, apr_pstrcat(p, "ES256", strchr(text, ':'), NULL), &k2, &err),
        APR_SUCCESS);
    ck_assert_int_ne(
        tpo_dpop_key_import(p, apr_pstrcat(p, "RS256", strchr(text, ':'), NULL), &k2, &err),
        APR_SUCCESS);
    /* trailing bytes after the key */
    ck_assert_int_ne(tpo_dpop_key_import(p, apr_pstrcat(p, text, "AAAA", NULL), &k2, &err),
                     APR_SUCCESS);
}
END_TEST

START_TEST(alg_choice)
{
    ck_assert_str_eq(tpo_dpop_alg_choose(NULL), "ES256");
    ck_assert_str_eq(tpo_dpop_alg_choose("ES256 Ed25519 EdDSA"), "ES256");
    ck_assert_str_eq(tpo_dpop_alg_choose("RS256 EdDSA"), "EdDSA");
    ck_assert_str_eq(tpo_dpop_alg_choose("Ed25519"), "EdDSA");
    ck_assert_ptr_null(tpo_dpop_alg_choose("RS256 PS256"));
    ck_assert_ptr_null(tpo_dpop_alg_choose("ES2566 XES256"));
    ck_assert_ptr_null(tpo_dpop_alg_choose(""));
}
END_TEST

START_TEST(htu_drops_query_and_fragment)
{
    apr_pool_t *p = tpo_test_pool;

    ck_assert_str_eq(tpo_dpop_htu(p, "https://a.example/p/q?x=1&y#f"), "https://a.example/p/q");
    ck_assert_str_eq(tpo_dpop_htu(p, "http://127.0.0.1:8080/x#f?y"), "http://127.0.0.1:8080/x");
    ck_assert_str_eq(tpo_dpop_htu(p, "https://a.example"), "https://a.example");
    ck_assert_ptr_null(tpo_dpop_htu(p, "javascript:alert(1)"));
    ck_assert_ptr_null(tpo_dpop_htu(p, NULL));
}
END_TEST

START_TEST(nonce_values)
{
    char big[TPO_DPOP_NONCE_MAX + 2];

    ck_assert(tpo_dpop_nonce_ok("eyJ7S_zG.eyJH0-Z.HX4w-7v"));
    ck_assert(tpo_dpop_nonce_ok("!#[]~"));
    ck_assert(!tpo_dpop_nonce_ok(NULL));
    ck_assert(!tpo_dpop_nonce_ok(""));
    ck_assert(!tpo_dpop_nonce_ok("a b"));
    ck_assert(!tpo_dpop_nonce_ok("a\"b"));
    ck_assert(!tpo_dpop_nonce_ok("a\\b"));
    ck_assert(!tpo_dpop_nonce_ok("a\r\nX: y"));
    ck_assert(!tpo_dpop_nonce_ok("caf\xc3\xa9"));
    memset(big, 'a', sizeof(big) - 1);
    big[TPO_DPOP_NONCE_MAX] = '\0';
    ck_assert(tpo_dpop_nonce_ok(big));
    big[TPO_DPOP_NONCE_MAX] = 'a';
    big[TPO_DPOP_NONCE_MAX + 1] = '\0';
    ck_assert(!tpo_dpop_nonce_ok(big));
}
END_TEST

START_TEST(www_authenticate)
{
    char *big;
    apr_size_t n;

    /* RFC 9449 9's example */
    ck_assert(tpo_dpop_www_auth_wants_nonce(
        "DPoP error=\"use_dpop_nonce\", error_description=\"Resource server requires nonce in "
        "DPoP proof\""));
    ck_assert(tpo_dpop_www_auth_wants_nonce("dpop algs=\"ES256 PS256\", error=use_dpop_nonce"));
    ck_assert(tpo_dpop_www_auth_wants_nonce(
        "Bearer realm=\"x\", error=\"invalid_token\", DPoP algs=\"ES256\", "
        "error=\"use_dpop_nonce\""));
    ck_assert(tpo_dpop_www_auth_wants_nonce("Basic abc==, DPoP error=\"use_dpop_nonce\""));
    /* the error of another scheme, another error, or no error */
    ck_assert(!tpo_dpop_www_auth_wants_nonce("Bearer error=\"use_dpop_nonce\""));
    ck_assert(!tpo_dpop_www_auth_wants_nonce("DPoP error=\"invalid_token\""));
    ck_assert(!tpo_dpop_www_auth_wants_nonce("DPoP algs=\"ES256\""));
    ck_assert(!tpo_dpop_www_auth_wants_nonce("DPoP error=\"use_dpop_nonce_x\""));
    ck_assert(!tpo_dpop_www_auth_wants_nonce("DPoPX error=\"use_dpop_nonce\""));
    ck_assert(!tpo_dpop_www_auth_wants_nonce("DPoP realm=\"a, error=\\\"use_dpop_nonce\\\"\""));
    /* malformed: no */
    ck_assert(!tpo_dpop_www_auth_wants_nonce("DPoP error=\"use_dpop_nonce"));
    ck_assert(!tpo_dpop_www_auth_wants_nonce("DPoP error=\"use_dpop_nonce\" junk\""));
    ck_assert(!tpo_dpop_www_auth_wants_nonce("\"DPoP\" error=\"use_dpop_nonce\""));
    ck_assert(!tpo_dpop_www_auth_wants_nonce(""));
    ck_assert(!tpo_dpop_www_auth_wants_nonce(NULL));
    /* too long: not read */
    n = TPO_DPOP_WWW_AUTH_MAX + 10;
    big = apr_palloc(tpo_test_pool, n + 1);
    memset(big, ' ', n);
    memcpy(big, "DPoP error=\"use_dpop_nonce\"", 27);
    big[n] = '\0';
    ck_assert(!tpo_dpop_www_auth_wants_nonce(big));
}
END_TEST

int main(void)
{
    Suite *s = suite_create("dpop");
    TCase *tc = tcase_create("dpop");

    tcase_add_checked_fixture(tc, tpo_test_setup, tpo_test_teardown);
    tcase_add_test(tc, proof_es256);
    tcase_add_test(tc, proof_eddsa);
    tcase_add_test(tc, proof_refuses_bad_input);
    tcase_add_test(tc, ath_vector);
    tcase_add_test(tc, thumbprint_vector);
    tcase_add_test(tc, key_roundtrip_through_session);
    tcase_add_test(tc, key_import_refuses_garbage);
    tcase_add_test(tc, alg_choice);
    tcase_add_test(tc, htu_drops_query_and_fragment);
    tcase_add_test(tc, nonce_values);
    tcase_add_test(tc, www_authenticate);
    suite_add_tcase(s, tc);
    return tpo_test_run(s);
}
