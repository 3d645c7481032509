/* SPDX-License-Identifier: Apache-2.0
 * Licensed under the Apache License, Version 2.0 (see LICENSE). */
/* Bearer tokens: the Authorization header, JWT access-token checks (RFC
 * 9068), introspection answers (RFC 7662), RFC 6750 challenges, the memo key. */
#include <string.h>
#include <apr_strings.h>
#include <openssl/x509.h>
#include "tpo_test.h"
#include "tpo_b64.h"
#include "tpo_bearer.h"

#define ISS "https://idp.example.com"
#define AUD "https://api.example.com"
#define NOW 1700000000 /* seconds */
#define SKEW 60

static EVP_PKEY *k_rsa, *k_rsa_other, *k_ec;
static const char *const ALGS[] = {"RS256", "ES256", NULL};
static const char *const AUDS[] = {"https://other.example.com", AUD, NULL};

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

static tpo_bearer_expect test_expect(void)
{
    tpo_bearer_expect ex;

    memset(&ex, 0, sizeof(ex));
    ex.issuer = ISS;
    ex.audiences = AUDS;
    ex.now = apr_time_from_sec(NOW);
    ex.skew_sec = SKEW;
    ex.allowed_algs = ALGS;
    return ex;
}

static apr_status_t json_cleanup(void *j)
{
    json_decref(j);
    return APR_SUCCESS;
}

static json_t *claims(void)
{
    json_t *c = json_pack("{s:s, s:s, s:s, s:s, s:s, s:I, s:I}", "iss", ISS, "aud", AUD, "sub",
                          "alice", "client_id", "app-1", "scope", "read write", "iat",
                          (json_int_t)(NOW - 10), "exp", (json_int_t)(NOW + 300));
    ck_assert_ptr_nonnull(c);
    apr_pool_cleanup_register(tpo_test_pool, c, json_cleanup, apr_pool_cleanup_null);
    return c;
}

static const char *b64s(const char *s)
{
    return tpo_b64url_encode(tpo_test_pool, (const unsigned char *)s, strlen(s));
}

/* RS256 with any header (typ, crit, ...): the core's signer writes alg and kid only. */
static const char *sign_header(const char *header_json, EVP_PKEY *k, json_t *c)
{
    char *payload = json_dumps(c, JSON_COMPACT | JSON_ENCODE_ANY);
    const char *input = apr_pstrcat(tpo_test_pool, b64s(header_json), ".", b64s(payload), NULL);
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    unsigned char sig[512];
    size_t siglen = sizeof(sig);

    free(payload);
    ck_assert_int_eq(EVP_DigestSignInit(ctx, NULL, EVP_sha256(), NULL, k), 1);
    ck_assert_int_eq(EVP_DigestSign(ctx, sig, &siglen, (const unsigned char *)input, strlen(input)),
                     1);
    EVP_MD_CTX_free(ctx);
    return apr_pstrcat(tpo_test_pool, input, ".", tpo_b64url_encode(tpo_test_pool, sig, siglen),
                       NULL);
}

static const char *sign_with(const char *alg, const char *kid, EVP_PKEY *k, json_t *c)
{
    char *payload = json_dumps(c, JSON_COMPACT);
    const char *err = NULL;
    char *t;

    t = tpo_jws_sign(tpo_test_pool, alg, kid, payload, k, NULL, 0, &err);
    free(payload);
    ck_assert_msg(t != NULL, "sign: %s", err ? err : "?");
    return t;
}

static const char *rs(json_t *c)
{
    return sign_header("{\"alg\":\"RS256\",\"kid\":\"rsa-1\",\"typ\":\"at+jwt\"}", k_rsa, c);
}

/* Validate; the detail never repeats the token or a part of it. */
static const char *expect_result(const char *token, const tpo_bearer_expect *ex,
                                 tpo_bearer_result want)
{
    json_t *cl = (json_t *)1;
    const char *detail = "unset";
    tpo_bearer_result r =
        tpo_bearer_jwt_validate(tpo_test_pool, token, test_jwks(), ex, &cl, &detail);

    ck_assert_msg(r == want, "got %s (%s), want %s", tpo_bearer_result_name(r),
                  detail ? detail : "", tpo_bearer_result_name(want));
    if (want == TPO_BT_OK) {
        ck_assert(json_is_object(cl));
        return NULL;
    }
    ck_assert_ptr_null(cl);
    ck_assert_ptr_nonnull(detail);
    if (token && strchr(token, '.')) {
        const char *dot1 = strchr(token, '.');
        const char *dot2 = strchr(dot1 + 1, '.');
        ck_assert_ptr_null(strstr(detail, token));
        ck_assert_ptr_null(strstr(detail, apr_pstrmemdup(tpo_test_pool, token, dot1 - token)));
        if (dot2) {
            ck_assert_ptr_null(
                strstr(detail, apr_pstrmemdup(tpo_test_pool, dot1 + 1, dot2 - dot1 - 1)));
        }
    }
    return detail;
}

/* ----------------------------------------------------------------- header */

START_TEST(header_parsing)
{
    const char *t;

    ck_assert_int_eq(tpo_bearer_from_header(tpo_test_pool, "Bearer abc.DEF-_~+/=", &t), 1);
    ck_assert_str_eq(t, "abc.DEF-_~+/=");
    ck_assert_int_eq(tpo_bearer_from_header(tpo_test_pool, "bearer   x  ", &t), 1);
    ck_assert_str_eq(t, "x");
    ck_assert_int_eq(tpo_bearer_from_header(tpo_test_pool, NULL, &t), 0);
    ck_assert_int_eq(tpo_bearer_from_header(tpo_test_pool, "Basic Zm9vOmJhcg==", &t), 0);
    ck_assert_int_eq(tpo_bearer_from_header(tpo_test_pool, "Bearerx", &t), 0);
    ck_assert_ptr_null(t);
    ck_assert_int_eq(tpo_bearer_from_header(tpo_test_pool, "Bearer", &t), -1);
    ck_assert_int_eq(tpo_bearer_from_header(tpo_test_pool, "Bearer ", &t), -1);
    ck_assert_int_eq(tpo_bearer_from_header(tpo_test_pool, "Bearer a b", &t), -1);
    ck_assert_int_eq(tpo_bearer_from_header(tpo_test_pool, "Bearer a\"b", &t), -1);
    ck_assert_int_eq(tpo_bearer_from_header(tpo_test_pool, "Bearer ==", &t), -1);
    ck_assert_int_eq(tpo_bearer_from_header(tpo_test_pool, "Bearer a=b", &t), -1);
    {
        char *big = apr_palloc(tpo_test_pool, TPO_BEARER_MAX_TOKEN + 10);
        memcpy(big, "Bearer ", 7);
        memset(big + 7, 'a', TPO_BEARER_MAX_TOKEN + 1);
        big[7 + TPO_BEARER_MAX_TOKEN + 1] = '\0';
        ck_assert_int_eq(tpo_bearer_from_header(tpo_test_pool, big, &t), -1);
    }
}
END_TEST

START_TEST(token_syntax)
{
    ck_assert(tpo_bearer_token_ok("abc.DEF-_~+/=="));
    ck_assert(!tpo_bearer_token_ok(""));
    ck_assert(!tpo_bearer_token_ok(NULL));
    ck_assert(!tpo_bearer_token_ok("a b"));
    ck_assert(!tpo_bearer_token_ok("=abc"));
    ck_assert(!tpo_bearer_token_ok("a=b"));
    ck_assert(!tpo_bearer_token_ok("a\r\n"));
}
END_TEST

START_TEST(jwt_shape)
{
    ck_assert(tpo_bearer_looks_like_jwt("a.b.c"));
    ck_assert(tpo_bearer_looks_like_jwt("eyJ-_.eyJ.sig_-"));
    ck_assert(tpo_bearer_looks_like_jwt("a.b.")); /* alg none: a JWT, refused as one */
    ck_assert(!tpo_bearer_looks_like_jwt(".b.c"));
    ck_assert(!tpo_bearer_looks_like_jwt("a..c"));
    ck_assert(!tpo_bearer_looks_like_jwt("a.b.c.d.e"));
    ck_assert(!tpo_bearer_looks_like_jwt("opaque-token_123"));
    ck_assert(!tpo_bearer_looks_like_jwt("a+b.c.d"));
    ck_assert(!tpo_bearer_looks_like_jwt(""));
    ck_assert(!tpo_bearer_looks_like_jwt(NULL));
}
END_TEST

/* ----------------------------------------------------------------- JWT checks */

START_TEST(valid_at_jwt)
{
    tpo_bearer_expect ex = test_expect();

    ex.typ = "at+jwt";
    expect_result(rs(claims()), &ex, TPO_BT_OK);
    ex.typ = "application/AT+JWT";
    expect_result(rs(claims()), &ex, TPO_BT_OK);
}
END_TEST

START_TEST(valid_plain_jwt_es256_aud_array)
{
    tpo_bearer_expect ex = test_expect();
    json_t *c = claims();

    json_object_set_new(c, "aud", json_pack("[s,s]", "x", AUD));
    json_object_del(c, "iat");
    expect_result(sign_with("ES256", "ec-1", k_ec, c), &ex, TPO_BT_OK);
}
END_TEST

START_TEST(typ_required)
{
    tpo_bearer_expect ex = test_expect();
    const char *d;

    ex.typ = "at+jwt";
    d = expect_result(sign_with("RS256", "rsa-1", k_rsa, claims()), &ex, TPO_BT_TYP);
    ck_assert_ptr_nonnull(strstr(d, "typ"));
    expect_result(
        sign_header("{\"alg\":\"RS256\",\"kid\":\"rsa-1\",\"typ\":\"JWT\"}", k_rsa, claims()), &ex,
        TPO_BT_TYP);
}
END_TEST

START_TEST(iss_wrong)
{
    tpo_bearer_expect ex = test_expect();
    json_t *c = claims();

    json_object_set_new(c, "iss", json_string("https://evil.example.com\"\n"));
    ck_assert_ptr_null(strchr(expect_result(rs(c), &ex, TPO_BT_ISS), '\n'));
    json_object_del(c, "iss");
    expect_result(rs(c), &ex, TPO_BT_ISS);
    json_object_set_new(c, "iss", json_integer(1));
    expect_result(rs(c), &ex, TPO_BT_ISS);
}
END_TEST

START_TEST(aud_wrong_or_missing)
{
    tpo_bearer_expect ex = test_expect();
    json_t *c = claims();

    json_object_set_new(c, "aud", json_string("https://other-api.example.com"));
    expect_result(rs(c), &ex, TPO_BT_AUD);
    json_object_set_new(c, "aud", json_pack("[s,s]", "a", "b"));
    expect_result(rs(c), &ex, TPO_BT_AUD);
    json_object_set_new(c, "aud", json_pack("[i]", 1));
    expect_result(rs(c), &ex, TPO_BT_AUD);
    json_object_del(c, "aud");
    expect_result(rs(c), &ex, TPO_BT_AUD);
    /* no audience configured: every token is refused */
    ex.audiences = NULL;
    expect_result(rs(claims()), &ex, TPO_BT_AUD);
}
END_TEST

START_TEST(times)
{
    tpo_bearer_expect ex = test_expect();
    json_t *c = claims();

    json_object_set_new(c, "exp", json_integer(NOW - SKEW - 1));
    expect_result(rs(c), &ex, TPO_BT_EXP);
    json_object_set_new(c, "exp", json_integer(NOW - SKEW + 5)); /* within the skew */
    expect_result(rs(c), &ex, TPO_BT_OK);
    json_object_del(c, "exp");
    expect_result(rs(c), &ex, TPO_BT_EXP);
    json_object_set_new(c, "exp", json_string("soon"));
    expect_result(rs(c), &ex, TPO_BT_EXP);

    c = claims();
    json_object_set_new(c, "nbf", json_integer(NOW + SKEW + 10));
    expect_result(rs(c), &ex, TPO_BT_NBF);
    json_object_set_new(c, "nbf", json_integer(NOW + SKEW - 10));
    expect_result(rs(c), &ex, TPO_BT_OK);

    c = claims();
    json_object_set_new(c, "iat", json_integer(NOW + SKEW + 10));
    expect_result(rs(c), &ex, TPO_BT_IAT);
    json_object_set_new(c, "iat", json_true());
    expect_result(rs(c), &ex, TPO_BT_IAT);
}
END_TEST

START_TEST(alg_none_and_unsupported)
{
    tpo_bearer_expect ex = test_expect();
    char *payload = json_dumps(claims(), JSON_COMPACT);
    const char *t =
        apr_pstrcat(tpo_test_pool, b64s("{\"alg\":\"none\"}"), ".", b64s(payload), ".", NULL);
    const char *t2 = apr_pstrcat(tpo_test_pool, b64s("{\"alg\":\"none\",\"kid\":\"rsa-1\"}"), ".",
                                 b64s(payload), ".", b64s("x"), NULL);

    free(payload);
    /* an empty signature part is not even a JWS to the parser */
    ck_assert_int_ne(tpo_bearer_jwt_validate(tpo_test_pool, t, test_jwks(), &ex, &(json_t *){NULL},
                                             &(const char *){NULL}),
                     TPO_BT_OK);
    expect_result(t2, &ex, TPO_BT_ALG);
    /* RS512 is implemented but not on the list */
    expect_result(sign_with("RS512", "rsa-1", k_rsa, claims()), &ex, TPO_BT_ALG);
}
END_TEST

/* The classic confusion: HS256 keyed with the bytes of the RSA public key. */
START_TEST(hmac_with_public_key)
{
    tpo_bearer_expect ex = test_expect();
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
    expect_result(t, &ex, TPO_BT_ALG);
    ex.allowed_algs = algs; /* even when the list names HS256 */
    expect_result(t, &ex, TPO_BT_ALG);
}
END_TEST

START_TEST(signature_and_keys)
{
    tpo_bearer_expect ex = test_expect();
    const char *t = rs(claims());
    char *bad = apr_pstrdup(tpo_test_pool, t);
    char *dot = strchr(bad, '.');
    json_t *c = claims();

    /* other key, same kid */
    expect_result(sign_header("{\"alg\":\"RS256\",\"kid\":\"rsa-1\"}", k_rsa_other, claims()), &ex,
                  TPO_BT_SIGNATURE);
    /* tampered payload: sub changed, signature kept */
    json_object_set_new(c, "sub", json_string("mallory"));
    {
        const char *other = rs(c);
        const char *d1 = strchr(other, '.'), *d2 = strchr(d1 + 1, '.');
        const char *o1 = strchr(t, '.'), *o2 = strchr(o1 + 1, '.');
        const char *forged =
            apr_pstrcat(tpo_test_pool, apr_pstrmemdup(tpo_test_pool, t, o1 - t + 1),
                        apr_pstrmemdup(tpo_test_pool, d1 + 1, d2 - d1 - 1), o2, NULL);
        expect_result(forged, &ex, TPO_BT_SIGNATURE);
    }
    /* unknown kid */
    expect_result(sign_header("{\"alg\":\"RS256\",\"kid\":\"nope\"}", k_rsa, claims()), &ex,
                  TPO_BT_NOKEY);
    /* malformed */
    dot[1] = '!';
    expect_result(bad, &ex, TPO_BT_MALFORMED);
    expect_result("not-a-jwt", &ex, TPO_BT_MALFORMED);
    expect_result(NULL, &ex, TPO_BT_MALFORMED);
    /* a payload that is not an object */
    {
        json_t *str = json_string("x");
        expect_result(sign_header("{\"alg\":\"RS256\",\"kid\":\"rsa-1\"}", k_rsa, str), &ex,
                      TPO_BT_MALFORMED);
        json_decref(str);
    }
}
END_TEST

/* ----------------------------------------------------------------- scopes */

START_TEST(scopes)
{
    json_t *c = json_pack("{s:s}", "scope", "read write");
    json_t *scp = json_pack("{s:[s,s,i,s]}", "scp", "a", "b", 3, "bad word");

    ck_assert_str_eq(tpo_bearer_scope(tpo_test_pool, c), "read write");
    ck_assert_str_eq(tpo_bearer_scope(tpo_test_pool, scp), "a b");
    json_decref(c);
    json_decref(scp);
    c = json_pack("{s:i}", "scope", 1);
    ck_assert_ptr_null(tpo_bearer_scope(tpo_test_pool, c));
    json_decref(c);

    ck_assert_ptr_null(tpo_bearer_scope_missing(tpo_test_pool, "read write", "write"));
    ck_assert_ptr_null(tpo_bearer_scope_missing(tpo_test_pool, "read write", " read  write "));
    ck_assert_ptr_null(tpo_bearer_scope_missing(tpo_test_pool, NULL, ""));
    ck_assert_str_eq(tpo_bearer_scope_missing(tpo_test_pool, "read", "read write admin"),
                     "write admin");
    ck_assert_str_eq(tpo_bearer_scope_missing(tpo_test_pool, "readwrite", "read"), "read");
    ck_assert_str_eq(tpo_bearer_scope_missing(tpo_test_pool, NULL, "read"), "read");
}
END_TEST

/* ----------------------------------------------------------------- introspection */

static tpo_bearer_result intro(const char *body, int status, tpo_introspection *out)
{
    tpo_bearer_expect ex = test_expect();
    const char *d = NULL;
    tpo_bearer_result r =
        tpo_introspection_parse(tpo_test_pool, body, body ? strlen(body) : 0, status, &ex, out, &d);
    if (r != TPO_BT_OK) {
        ck_assert_ptr_nonnull(d);
    }
    return r;
}

START_TEST(introspection_answers)
{
    tpo_introspection in;
    const char *ok = apr_psprintf(tpo_test_pool,
                                  "{\"active\":true,\"sub\":\"bob\",\"scope\":\"read\","
                                  "\"client_id\":\"c\",\"iss\":\"" ISS "\",\"exp\":%d,"
                                  "\"token_type\":\"Bearer\",\"aud\":\"" AUD "\"}",
                                  NOW + 100);

    ck_assert_int_eq(intro(ok, 200, &in), TPO_BT_OK);
    ck_assert_int_eq(in.active, 1);
    ck_assert(in.exp == apr_time_from_sec(NOW + 100));
    ck_assert_str_eq(in.scope, "read");
    ck_assert_str_eq(json_string_value(json_object_get(in.json, "sub")), "bob");
    /* minimal answer: no exp, no aud */
    ck_assert_int_eq(intro("{\"active\":true}", 200, &in), TPO_BT_OK);
    ck_assert(in.exp == 0);
    ck_assert_int_eq(intro("{\"active\":false}", 200, &in), TPO_BT_INACTIVE);
    ck_assert_int_eq(in.active, 0);
    ck_assert_int_eq(intro("{\"active\":\"true\"}", 200, &in), TPO_BT_MALFORMED);
    ck_assert_int_eq(intro("{}", 200, &in), TPO_BT_MALFORMED);
    ck_assert_int_eq(intro("[true]", 200, &in), TPO_BT_MALFORMED);
    ck_assert_int_eq(intro("not json", 200, &in), TPO_BT_MALFORMED);
    ck_assert_int_eq(intro("", 200, &in), TPO_BT_MALFORMED);
    ck_assert_int_eq(intro("{\"active\":true}", 401, &in), TPO_BT_MALFORMED);
    ck_assert_ptr_null(in.json);
    ck_assert_int_eq(intro("{\"error\":\"unsupported_token_type\"}", 400, &in), TPO_BT_MALFORMED);
    ck_assert_ptr_nonnull(in.json);
    ck_assert_int_eq(intro("{\"error\":\"invalid_client\"}", 400, &in), TPO_BT_MALFORMED);
    ck_assert_ptr_null(in.json);
    ck_assert_int_eq(intro("{\"active\":true,\"active\":false}", 200, &in), TPO_BT_MALFORMED);
    ck_assert_int_eq(intro("{\"active\":true,\"iss\":\"https://evil\"}", 200, &in), TPO_BT_ISS);
    ck_assert_int_eq(intro("{\"active\":true,\"aud\":\"https://evil\"}", 200, &in), TPO_BT_AUD);
    ck_assert_int_eq(intro("{\"active\":true,\"token_type\":\"refresh_token\"}", 200, &in),
                     TPO_BT_MALFORMED);
    ck_assert_int_eq(
        intro(apr_psprintf(tpo_test_pool, "{\"active\":true,\"exp\":%d}", NOW - SKEW - 5), 200,
              &in),
        TPO_BT_EXP);
    ck_assert_int_eq(
        intro(apr_psprintf(tpo_test_pool, "{\"active\":true,\"nbf\":%d}", NOW + SKEW + 5), 200,
              &in),
        TPO_BT_NBF);
}
END_TEST

/* ----------------------------------------------------------------- challenges */

START_TEST(challenges)
{
    ck_assert_str_eq(tpo_bearer_challenge(tpo_test_pool, "api", NULL, NULL, NULL),
                     "Bearer realm=\"api\"");
    ck_assert_str_eq(tpo_bearer_challenge(tpo_test_pool, "my \"api\"\\", "invalid_token",
                                          "the token expired", NULL),
                     "Bearer realm=\"my \\\"api\\\"\\\\\", error=\"invalid_token\", "
                     "error_description=\"the token expired\"");
    ck_assert_str_eq(
        tpo_bearer_challenge(tpo_test_pool, "api", "insufficient_scope", "need more", "read write"),
        "Bearer realm=\"api\", error=\"insufficient_scope\", "
        "error_description=\"need more\", scope=\"read write\"");
    /* quotes, backslashes, CR/LF and non-ASCII never reach the header */
    ck_assert_str_eq(tpo_bearer_challenge(tpo_test_pool, "a\r\nb", "invalid_token",
                                          "iss 'x\"\\\r\n\xc3\xa9'", NULL),
                     "Bearer realm=\"a  b\", error=\"invalid_token\", "
                     "error_description=\"iss 'x\?\?\?\?\?\?'\"");
    /* a long description is cut */
    {
        char *d = apr_palloc(tpo_test_pool, 1001);
        const char *h;
        memset(d, 'x', 1000);
        d[1000] = '\0';
        h = tpo_bearer_challenge(tpo_test_pool, "api", "invalid_token", d, NULL);
        ck_assert_uint_lt(strlen(h), 300);
    }
}
END_TEST

START_TEST(memo_key)
{
    const char *k1 = tpo_bearer_key(tpo_test_pool, "bt:", "idp", "token-1");
    const char *k2 = tpo_bearer_key(tpo_test_pool, "bt:", "idp", "token-2");
    const char *k3 = tpo_bearer_key(tpo_test_pool, "bt:", "idp2", "token-1");

    ck_assert_ptr_nonnull(k1);
    ck_assert_uint_eq(strlen(k1), 3 + 43);
    ck_assert_str_ne(k1, k2);
    ck_assert_str_ne(k1, k3);
    ck_assert_str_eq(k1, tpo_bearer_key(tpo_test_pool, "bt:", "idp", "token-1"));
    ck_assert_ptr_null(strstr(k1, "token"));
}
END_TEST

START_TEST(result_names)
{
    ck_assert_str_eq(tpo_bearer_result_name(TPO_BT_OK), "ok");
    ck_assert_str_eq(tpo_bearer_result_name(TPO_BT_TYP), "typ");
    ck_assert_str_eq(tpo_bearer_result_name(TPO_BT_INACTIVE), "inactive");
    ck_assert_str_eq(tpo_bearer_result_name(TPO_BT_NOKEY), "nokey");
    ck_assert_str_eq(tpo_bearer_result_name((tpo_bearer_result)99), "unknown");
}
END_TEST

int main(void)
{
    Suite *s = suite_create("bearer");
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
    tcase_add_test(tc, header_parsing);
    tcase_add_test(tc, token_syntax);
    tcase_add_test(tc, jwt_shape);
    tcase_add_test(tc, valid_at_jwt);
    tcase_add_test(tc, valid_plain_jwt_es256_aud_array);
    tcase_add_test(tc, typ_required);
    tcase_add_test(tc, iss_wrong);
    tcase_add_test(tc, aud_wrong_or_missing);
    tcase_add_test(tc, times);
    tcase_add_test(tc, alg_none_and_unsupported);
    tcase_add_test(tc, hmac_with_public_key);
    tcase_add_test(tc, signature_and_keys);
    tcase_add_test(tc, scopes);
    tcase_add_test(tc, introspection_answers);
    tcase_add_test(tc, challenges);
    tcase_add_test(tc, memo_key);
    tcase_add_test(tc, result_names);
    suite_add_tcase(s, tc);

    rc = tpo_test_run(s);
    EVP_PKEY_free(k_rsa);
    EVP_PKEY_free(k_rsa_other);
    EVP_PKEY_free(k_ec);
    return rc;
}
