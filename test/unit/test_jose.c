/* SPDX-License-Identifier: Apache-2.0
 * Licensed under the Apache License, Version 2.0 (see LICENSE). */
/* JOSE: JWK Sets, JWS parsing, verification and signing. */
#include <string.h>
#include <apr_strings.h>
#include <openssl/bio.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include "tpo_test.h"
#include "tpo_b64.h"
#include "tpo_jose.h"

/* ===================================================== published vectors */

/* RFC 7515 A.1..A.3 share this payload:
 * {"iss":"joe",\r\n "exp":1300819380,\r\n "http://example.com/is_root":true} */
#define JOE_PAYLOAD                                                                                \
    "eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVl" \
    "fQ"

/* RFC 7515 A.1: HS256 */
#define A1_JWS                                                                                     \
    "eyJ0eXAiOiJKV1QiLA0KICJhbGciOiJIUzI1NiJ9." JOE_PAYLOAD                                        \
    ".dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
#define A1_K                                                                                       \
    "AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ-EstJQLr_T-1qS0gZH75aKtMN3Yj0iPS4hcgUuTwjAzZr1Z9CAow"
#define A1_JWKS "{\"keys\":[{\"kty\":\"oct\",\"k\":\"" A1_K "\"}]}"

/* RFC 7515 A.2: RS256 */
#define A2_JWS                                                                                     \
    "eyJhbGciOiJSUzI1NiJ9." JOE_PAYLOAD "."                                                        \
    "cC4hiUPoj9Eetdgtv3hF80EGrhuB__dzERat0XF9g2VtQgr9PJbu3XOiZj5RZmh7AAuHIm4Bh-0Qc_lF5YKt_O8W2Fp5" \
    "jujGbds9uJdbF9CUAr7t1dnZcAcQjbKBYNX4BAynRFdiuB--f_nZLgrnbyTyWzO75vRK5h6xBArLIARNPvkSjtQBMHlb" \
    "1L07Qe7K0GarZRmB_eSN9383LcOLn6_dO--xi12jzDwusC-eOkHWEsqtFZESc6BfI7noOPqvhJ1phCnvWh6IeYI2w9QO" \
    "YEUipUTI8np6LbgGY9Fs98rqVt5AXLIhWkWywlVmtVrBp0igcN_IoypGlUPQGe77Rw"
#define A2_N                                                                                       \
    "ofgWCuLjybRlzo0tZWJjNiuSfb4p4fAkd_wWJcyQoTbji9k0l8W26mPddxHmfHQp-Vaw-"                        \
    "4qPCJrcS2mJPMEzP1Pt0Bm4d4Ql"                                                                  \
    "L-yRT-SFd2lZS-pCgNMsD1W_YpRPEwOWvG6b32690r2jZ47soMZo9wGzjb_7OMg0LOL-"                         \
    "bSf63kpaSHSXndS5z5rexMdbBYUs"                                                                 \
    "LA9e-KXBdQOS-UTo7WTBEMa2R2CapHg665xsmtdVMTBQY4uDZlxvb3qCo5ZwKh9kG4LT6_I5IhlJH7aGhyxXFvUK-"    \
    "DWNmoud"                                                                                      \
    "F8NAco9_h9iaGNj8q2ethFkMLs91kzk2PAcDTW9gb54h4FRWyuXpoQ"
#define A2_JWK "{\"kty\":\"RSA\",\"n\":\"" A2_N "\",\"e\":\"AQAB\"}"
#define A2_JWKS "{\"keys\":[" A2_JWK "]}"

/* RFC 7515 A.3: ES256 */
#define A3_JWS                                                                                     \
    "eyJhbGciOiJFUzI1NiJ9." JOE_PAYLOAD "."                                                        \
    "DtEhU3ljbEg8L38VWAfUAqOyKAM6-Xx-F4GawxaepmXFCgfTjDxw5djxLa8ISlSApmWQxfKTUJqPP3-Kg6NU1Q"
#define A3_X "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU"
#define A3_Y "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"
#define A3_JWK "{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"" A3_X "\",\"y\":\"" A3_Y "\"}"
#define A3_JWKS "{\"keys\":[" A3_JWK "]}"

/* RFC 7515 A.4: ES512 */
#define A4_JWS                                                                                     \
    "eyJhbGciOiJFUzUxMiJ9.UGF5bG9hZA."                                                             \
    "AWflgP1EaMjD8wn0_zbfv-ig7HqR_fIPutaspBmLdEA-4jq_lJSiXVScImGj9H15HwnQCV9rEqz_1IY7L07REF7rAGbY" \
    "03ZbfpKy8sFRybi12kMjsgU8vGKHJPZl6BT9G930CnEfL7MpSJiZEpxO-CeMyQQFOxPvVh4N6n20NSK9Tlho"
#define A4_JWKS                                                                                    \
    "{\"keys\":[{\"kty\":\"EC\",\"crv\":\"P-521\","                                                \
    "\"x\":\"AekpBQ8ST8a8VcfVOTNl353vSrDCLLJXmPk06wTjxrrjcBpXp5EOnYG_"                             \
    "NjFZ6OvLFV1jSfS9tsz4qUxcWceqwQGk\","                                                          \
    "\"y\":\"ADSmRA43Z1DSNx_RvcLI87cdL07l6jQyyBXMoxVg_l2Th-"                                       \
    "x3S1WDhjDly79ajL4Kkd0AZMaZmh9ubmf63e3kyMj2\"}]}"

/* RFC 7520 section 4: "It's a dangerous business, Frodo, ..." */
#define FRODO_PAYLOAD                                                                              \
    "SXTigJlzIGEgZGFuZ2Vyb3VzIGJ1c2luZXNzLCBGcm9kbywgZ29pbmcgb3V0IHlvdXIgZG9vci4gWW91IHN0ZXAgb250" \
    "byB0"                                                                                         \
    "aGUgcm9hZCwgYW5kIGlmIHlvdSBkb24ndCBrZWVwIHlvdXIgZmVldCwgdGhlcmXigJlzIG5vIGtub3dpbmcgd2hlcmUg" \
    "eW91"                                                                                         \
    "IG1pZ2h0IGJlIHN3ZXB0IG9mZiB0by4"
#define BILBO "bilbo.baggins@hobbiton.example"

/* RFC 7520 4.1: RS256 */
#define R41_JWS                                                                                    \
    "eyJhbGciOiJSUzI1NiIsImtpZCI6ImJpbGJvLmJhZ2dpbnNAaG9iYml0b24uZXhhbXBsZSJ9." FRODO_PAYLOAD "."  \
    "MRjdkly7_-"                                                                                   \
    "oTPTS3AXP41iQIGKa80A0ZmTuV5MEaHoxnW2e5CZ5NlKtainoFmKZopdHM1O2U4mwzJdQx996ivp83xuglII"         \
    "7PNDi84wnB-BDkoBwA78185hX-Es4JIwmDLJK3lfWRa-XtL0RnltuYv746iYTh_"                              \
    "qHRD68BNt1uSNCrUCTJDt5aAE6x8wW1"                                                              \
    "Kt9eRo4QPocSadnHXFxnt8Is9UzpERV0ePPQdLuW3IS_de3xyIrDaLGdjluPxUAhb6L2aXic1U12podGU0KLUQSE_oI-" \
    "Zn"                                                                                           \
    "mKJ3F4uOZDnd6QZWJushZ41Axf_fcIe8u9ipH84ogoree7vjbU5y18kDquDg"

/* RFC 7520 4.2: PS384 (randomized; the published one must verify) */
#define R42_JWS                                                                                    \
    "eyJhbGciOiJQUzM4NCIsImtpZCI6ImJpbGJvLmJhZ2dpbnNAaG9iYml0b24uZXhhbXBsZSJ9." FRODO_PAYLOAD "."  \
    "cu22eBqkYDKgIlTpzDXGvaFfz6WGoz7fUDcfT0kkOy42miAh2qyBzk1xEsnk2IpN6-"                           \
    "tPid6VrklHkqsGqDqHCdP6O8TTB5"                                                                 \
    "dDDItllVo6_1OLPpcbUrhiUSMxbbXUvdvWXzg-"                                                       \
    "UD8biiReQFlfz28zGWVsdiNAUf8ZnyPEgVFn442ZdNqiVJRmBqrYRXe8"                                     \
    "P_ijQ7p8Vdz0TTrxUeT3lm8d9shnr2lfJT8ImUjvAA2Xez2Mlp8cBE5awDzT0qI0n6uiP1aCN_2_"                 \
    "jLAeQTlqRHtfa64QQS"                                                                           \
    "UmFAAjVKPbByi7xho0uTOcbH510a6GYmJUAfmWjwZ6oD4ifKo8DYM-X72Eaw"

/* RFC 7520 4.3: ES512 */
#define R43_JWS                                                                                    \
    "eyJhbGciOiJFUzUxMiIsImtpZCI6ImJpbGJvLmJhZ2dpbnNAaG9iYml0b24uZXhhbXBsZSJ9." FRODO_PAYLOAD "."  \
    "AE_R_YZCChjn4791jSQCrdPZCNYqHXCTZH0-"                                                         \
    "JZGYNlaAjP2kqaluUIIUnC9qvbu9Plon7KRTzoNEuT4Va2cmL1eJAQy3mt"                                   \
    "PBu_u_sDDyYjnAMDxXPn7XrT0lw-kvAD890jl8e2puQens_IEKBpHABlsbEPX6sFY8OcGDqoRuBomu9xQ2"

/* RFC 7520 3.2 (EC P-521) and 3.3 (RSA) public keys, both kid bilbo */
#define R3_EC_JWK                                                                                  \
    "{\"kty\":\"EC\",\"kid\":\"" BILBO "\",\"use\":\"sig\",\"crv\":\"P-521\","                     \
    "\"x\":\"AHKZLLOsCOzz5cY97ewNUajB957y-C-U88c3v13nmGZx6sYl_oJXu9A5RkTKqjqvjyekWF-"              \
    "7ytDyRXYgCF5cj0Kt\","                                                                         \
    "\"y\":\"AdymlHvOiLxXkEhayXQnNCvDX4h9htZaCJN34kfmC6pV5OhQHiraVySsUdaQkAgDPrwQrJmbnX9cwlGfP-"   \
    "HqHZR1\"}"
#define R3_RSA_N                                                                                   \
    "n4EPtAOCc9AlkeQHPzHStgAbgs7bTZLwUBZdR8_KuKPEHLd4rHVTeT-O-XV2jRojdNhxJWTDvNd7nqQ0VEiZQHz_"     \
    "AJmSCpMa"                                                                                     \
    "JMRBSFKrKb2wqVwGU_NsYOYL-QtiWN2lbzcEe6XC0dApr5ydQLrHqkHHig3RBordaZ6Aj-oBHqFEHYpPe7Tpe-"       \
    "OfVfHd1E6c"                                                                                   \
    "S6M1FZcD1NNLYD5lFHpPI9bTwJlsde3uhGqC0ZCuEHg8lhzwOHrtIQbS0FVbb9k3-tVTU4fg_3L_"                 \
    "vniUFAKwuCLqKnS2BYwd"                                                                         \
    "q_mzSnbLY7h_qixoR7jig3__kRhuaxwUkRz5iaiQkqgc5gHdrNP5zw"
#define R3_RSA_JWK                                                                                 \
    "{\"kty\":\"RSA\",\"kid\":\"" BILBO "\",\"use\":\"sig\",\"n\":\"" R3_RSA_N "\",\"e\":"         \
    "\"AQAB\"}"
#define R3_JWKS "{\"keys\":[" R3_EC_JWK "," R3_RSA_JWK "]}"

/* RFC 8037 A.4: Ed25519 */
#define ED_JWS                                                                                     \
    "eyJhbGciOiJFZERTQSJ9.RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmc."                                    \
    "hgyY0il_MGCjP0JzlnLWG1PPOt7-09PGcvMg3AIbQR6dWbhijcNR4ki4iylGjg5BhVsPt9g7sVvpAr_MuM0KAg"
#define ED_JWKS                                                                                    \
    "{\"keys\":[{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"x\":\"11qYAYKxCrfVS_"                       \
    "7TyWQHOg7hcvPapiMlrwIaaPcHURo\"}]}"

typedef struct {
    const char *name;
    const char *jws;
    const char *jwks;
    const char *alg;
    const char *other_alg; /* header alg swapped to this must fail */
    const char *payload;   /* expected decoded payload prefix */
} vector;

static const vector vectors[] = {
    {"RFC7515 A.1 HS256", A1_JWS, A1_JWKS, "HS256", "HS512", "{\"iss\":\"joe\""},
    {"RFC7515 A.2 RS256", A2_JWS, A2_JWKS, "RS256", "PS256", "{\"iss\":\"joe\""},
    {"RFC7515 A.3 ES256", A3_JWS, A3_JWKS, "ES256", "ES384", "{\"iss\":\"joe\""},
    {"RFC7515 A.4 ES512", A4_JWS, A4_JWKS, "ES512", "ES256", "Payload"},
    {"RFC7520 4.1 RS256", R41_JWS, R3_JWKS, "RS256", "RS512", "It\xe2\x80\x99s a dangerous"},
    {"RFC7520 4.2 PS384", R42_JWS, R3_JWKS, "PS384", "RS384", "It\xe2\x80\x99s a dangerous"},
    {"RFC7520 4.3 ES512", R43_JWS, R3_JWKS, "ES512", "ES384", "It\xe2\x80\x99s a dangerous"},
    {"RFC8037 A.4 EdDSA", ED_JWS, ED_JWKS, "EdDSA", "HS256", "Example of Ed25519 signing"},
};
#define NVECTORS ((int)(sizeof(vectors) / sizeof(vectors[0])))

static const char *const ALL_ALGS[] = {"RS256", "RS384", "RS512", "PS256", "PS384",
                                       "PS512", "ES256", "ES384", "ES512", "EdDSA",
                                       "HS256", "HS384", "HS512", NULL};
static const char *const ALL_ALGS_AND_NONE[] = {
    "none",  "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384",
    "ES512", "EdDSA", "HS256", "HS384", "HS512", "None",  "NONE",  NULL};

/* ================================================================ helpers */

static tpo_jwks *jwks_of(const char *json)
{
    tpo_jwks *set = NULL;
    const char *err = NULL;
    apr_status_t rv = tpo_jwks_parse(tpo_test_pool, json, strlen(json), &set, &err);

    ck_assert_msg(rv == APR_SUCCESS, "JWKS refused: %s", err ? err : "?");
    ck_assert_ptr_nonnull(set);
    return set;
}

/* The test vectors give HMAC keys as oct JWKs. A set's keys are never used
 * for HS* (a JWK Set is public), so the tests hand the set's first oct key
 * to the verifier as the client secret, which is the only HS* key. */
static const tpo_jwk *oct_as_secret(const tpo_jwks *set)
{
    int i;

    for (i = 0; set && set->keys && i < set->keys->nelts; i++) {
        const tpo_jwk *k = APR_ARRAY_IDX(set->keys, i, const tpo_jwk *);
        if (strcmp(k->kty, "oct") == 0) {
            return tpo_jwk_from_secret(tpo_test_pool, (const char *)k->secret, k->secret_len);
        }
    }
    return NULL;
}

/* parse + verify, exactly with the given keys; APR_EGENERAL when parsing fails */
static apr_status_t check_exact(const char *compact, const tpo_jwks *set, const tpo_jwk *hs_key,
                                const char *const *algs, const char **errp)
{
    tpo_jws *jws = NULL;
    const char *err = NULL;
    apr_status_t rv;

    if (tpo_jws_parse(tpo_test_pool, compact, &jws, &err) != APR_SUCCESS) {
        ck_assert_ptr_nonnull(err);
        if (errp) {
            *errp = err;
        }
        return APR_EGENERAL;
    }
    rv = tpo_jws_verify(tpo_test_pool, jws, set, hs_key, algs, &err);
    if (rv != APR_SUCCESS) {
        ck_assert_ptr_nonnull(err);
    }
    if (errp) {
        *errp = err;
    }
    return rv;
}

/* the same, with the set's oct key as the client secret when none is given */
static apr_status_t check(const char *compact, const tpo_jwks *set, const tpo_jwk *hs_key,
                          const char *const *algs, const char **errp)
{
    return check_exact(compact, set, hs_key ? hs_key : oct_as_secret(set), algs, errp);
}

static const char *part(const char *compact, int n)
{
    const char *s = compact, *e;
    while (n-- > 0) {
        s = strchr(s, '.');
        ck_assert_ptr_nonnull(s);
        s++;
    }
    e = strchr(s, '.');
    return e ? apr_pstrmemdup(tpo_test_pool, s, (apr_size_t)(e - s)) : s;
}

static unsigned char *unb64(const char *s, apr_size_t *len)
{
    unsigned char *d = tpo_b64url_decode(tpo_test_pool, s, strlen(s), len);
    ck_assert_ptr_nonnull(d);
    return d;
}

static const char *b64(const void *d, apr_size_t len)
{
    return tpo_b64url_encode(tpo_test_pool, d, len);
}

static const char *b64s(const char *s)
{
    return b64(s, strlen(s));
}

static const char *join3(const char *a, const char *b, const char *c)
{
    return apr_pstrcat(tpo_test_pool, a, ".", b, ".", c, NULL);
}

/* replace the first occurrence of from by to */
static const char *replace(const char *s, const char *from, const char *to)
{
    const char *at = strstr(s, from);
    ck_assert_ptr_nonnull(at);
    return apr_pstrcat(tpo_test_pool, apr_pstrmemdup(tpo_test_pool, s, (apr_size_t)(at - s)), to,
                       at + strlen(from), NULL);
}

/* the decoded header of compact with from replaced by to, re-encoded */
static const char *with_header_edit(const char *compact, const char *from, const char *to)
{
    apr_size_t n;
    const char *hdr = (const char *)unb64(part(compact, 0), &n);
    return join3(b64s(replace(hdr, from, to)), part(compact, 1), part(compact, 2));
}

static const char *flip_sig_bit(const char *compact, apr_size_t byte, int bit)
{
    apr_size_t n;
    unsigned char *sig = unb64(part(compact, 2), &n);
    ck_assert_uint_gt(n, byte);
    sig[byte] ^= (unsigned char)(1u << bit);
    return join3(part(compact, 0), part(compact, 1), b64(sig, n));
}

static const char *with_sig(const char *compact, const unsigned char *sig, apr_size_t n)
{
    return join3(part(compact, 0), part(compact, 1), b64(sig, n));
}

/* ---------------------------------------------------- keys for the tests */

static EVP_PKEY *k_rsa, *k_rsa2, *k_p256, *k_p384, *k_p521, *k_ed, *k_p256b, *k_ed2;

static void make_keys(void)
{
    k_rsa = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
    k_rsa2 = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
    k_p256 = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    k_p256b = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    k_p384 = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-384");
    k_p521 = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-521");
    k_ed = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
    k_ed2 = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
    if (!k_rsa || !k_rsa2 || !k_p256 || !k_p256b || !k_p384 || !k_p521 || !k_ed || !k_ed2) {
        fprintf(stderr, "key generation failed\n");
        exit(EXIT_FAILURE);
    }
}

static void free_keys(void)
{
    EVP_PKEY_free(k_rsa);
    EVP_PKEY_free(k_rsa2);
    EVP_PKEY_free(k_p256);
    EVP_PKEY_free(k_p256b);
    EVP_PKEY_free(k_p384);
    EVP_PKEY_free(k_p521);
    EVP_PKEY_free(k_ed);
    EVP_PKEY_free(k_ed2);
}

/* A public JWK (JSON text) for a generated key. */
static const char *jwk_json(EVP_PKEY *pk, const char *kid)
{
    const char *kidm = kid ? apr_psprintf(tpo_test_pool, "\"kid\":\"%s\",", kid) : "";

    if (EVP_PKEY_is_a(pk, "RSA")) {
        BIGNUM *n = NULL, *e = NULL;
        unsigned char nb[1024], eb[16];
        int nl, el;
        ck_assert(EVP_PKEY_get_bn_param(pk, OSSL_PKEY_PARAM_RSA_N, &n));
        ck_assert(EVP_PKEY_get_bn_param(pk, OSSL_PKEY_PARAM_RSA_E, &e));
        nl = BN_bn2bin(n, nb);
        el = BN_bn2bin(e, eb);
        BN_free(n);
        BN_free(e);
        return apr_psprintf(tpo_test_pool, "{\"kty\":\"RSA\",%s\"n\":\"%s\",\"e\":\"%s\"}", kidm,
                            b64(nb, (apr_size_t)nl), b64(eb, (apr_size_t)el));
    }
    if (EVP_PKEY_is_a(pk, "EC")) {
        unsigned char pt[200];
        size_t len = 0, c;
        char group[64];
        const char *crv;
        ck_assert(EVP_PKEY_get_group_name(pk, group, sizeof(group), NULL));
        crv = strcmp(group, "prime256v1") == 0  ? "P-256"
              : strcmp(group, "secp384r1") == 0 ? "P-384"
                                                : "P-521";
        ck_assert(
            EVP_PKEY_get_octet_string_param(pk, OSSL_PKEY_PARAM_PUB_KEY, pt, sizeof(pt), &len));
        ck_assert_int_eq(pt[0], 4);
        c = (len - 1) / 2;
        return apr_psprintf(tpo_test_pool,
                            "{\"kty\":\"EC\",%s\"crv\":\"%s\",\"x\":\"%s\",\"y\":\"%s\"}", kidm,
                            crv, b64(pt + 1, c), b64(pt + 1 + c, c));
    }
    {
        unsigned char raw[32];
        size_t len = sizeof(raw);
        ck_assert(EVP_PKEY_get_raw_public_key(pk, raw, &len));
        return apr_psprintf(tpo_test_pool, "{\"kty\":\"OKP\",%s\"crv\":\"Ed25519\",\"x\":\"%s\"}",
                            kidm, b64(raw, len));
    }
}

static const char *set_of(const char *jwk1, const char *jwk2)
{
    return jwk2 ? apr_psprintf(tpo_test_pool, "{\"keys\":[%s,%s]}", jwk1, jwk2)
                : apr_psprintf(tpo_test_pool, "{\"keys\":[%s]}", jwk1);
}

static const char *sign(const char *alg, const char *kid, const char *payload, EVP_PKEY *k,
                        const unsigned char *secret, apr_size_t slen)
{
    const char *err = NULL;
    char *jws = tpo_jws_sign(tpo_test_pool, alg, kid, payload, k, secret, slen, &err);
    ck_assert_msg(jws != NULL, "sign %s: %s", alg, err ? err : "?");
    return jws;
}

/* ======================================================= vector tests */

START_TEST(vector_verifies)
{
    const vector *v = &vectors[_i];
    const tpo_jwks *set = jwks_of(v->jwks);
    const char *const algs[] = {v->alg, NULL};
    tpo_jws *jws = NULL;
    const char *err = NULL;

    ck_assert_int_eq(tpo_jws_parse(tpo_test_pool, v->jws, &jws, &err), APR_SUCCESS);
    ck_assert_str_eq(jws->alg, v->alg);
    ck_assert_msg(tpo_jws_verify(tpo_test_pool, jws, set, oct_as_secret(set), algs, &err) ==
                      APR_SUCCESS,
                  "%s: %s", v->name, err ? err : "?");
    ck_assert_msg(strncmp(jws->payload, v->payload, strlen(v->payload)) == 0, "%s payload",
                  v->name);
    /* the same with the full list */
    ck_assert_int_eq(check(v->jws, set, NULL, ALL_ALGS, NULL), APR_SUCCESS);
    if (!strcmp(v->alg, "RS256")) {
        /* checked with the RSA key's RS256 context, set up when the set was parsed */
        int i, seen = 0;
        for (i = 0; i < set->keys->nelts; i++) {
            const tpo_jwk *k = APR_ARRAY_IDX(set->keys, i, const tpo_jwk *);
            seen |= !strcmp(k->kty, "RSA") && k->rs256_verify != NULL;
        }
        ck_assert(seen);
    }
}
END_TEST

START_TEST(vector_payload_changed)
{
    const vector *v = &vectors[_i];
    const tpo_jwks *set = jwks_of(v->jwks);
    apr_size_t n;
    unsigned char *pl = unb64(part(v->jws, 1), &n);
    const char *t;

    pl[0] ^= 0x01;
    t = join3(part(v->jws, 0), b64(pl, n), part(v->jws, 2));
    ck_assert_int_eq(check(t, set, NULL, ALL_ALGS, NULL), APR_EINVAL);
    /* one byte more at the end */
    pl[0] ^= 0x01;
    t = join3(part(v->jws, 0), b64s(apr_pstrcat(tpo_test_pool, (char *)pl, " ", NULL)),
              part(v->jws, 2));
    ck_assert_int_eq(check(t, set, NULL, ALL_ALGS, NULL), APR_EINVAL);
}
END_TEST

START_TEST(vector_signature_bit_flipped)
{
    const vector *v = &vectors[_i];
    const tpo_jwks *set = jwks_of(v->jwks);
    apr_size_t n;

    unb64(part(v->jws, 2), &n);
    ck_assert_int_eq(check(flip_sig_bit(v->jws, 0, 0), set, NULL, ALL_ALGS, NULL), APR_EINVAL);
    ck_assert_int_eq(check(flip_sig_bit(v->jws, n / 2, 3), set, NULL, ALL_ALGS, NULL), APR_EINVAL);
    ck_assert_int_eq(check(flip_sig_bit(v->jws, n - 1, 7), set, NULL, ALL_ALGS, NULL), APR_EINVAL);
    /* truncated and extended signatures */
    {
        unsigned char *sig = unb64(part(v->jws, 2), &n);
        unsigned char *longer = apr_pcalloc(tpo_test_pool, n + 1);
        memcpy(longer + 1, sig, n);
        ck_assert_int_eq(check(with_sig(v->jws, sig, n - 1), set, NULL, ALL_ALGS, NULL),
                         APR_EINVAL);
        ck_assert_int_eq(check(with_sig(v->jws, longer, n + 1), set, NULL, ALL_ALGS, NULL),
                         APR_EINVAL);
        ck_assert_int_eq(check(with_sig(v->jws, sig, 0), set, NULL, ALL_ALGS, NULL), APR_EINVAL);
        /* the valid signature with a byte appended */
        memcpy(longer, sig, n);
        longer[n] = 0;
        ck_assert_int_eq(check(with_sig(v->jws, longer, n + 1), set, NULL, ALL_ALGS, NULL),
                         APR_EINVAL);
        longer[n] = 0x5a;
        ck_assert_int_eq(check(with_sig(v->jws, longer, n + 1), set, NULL, ALL_ALGS, NULL),
                         APR_EINVAL);
    }
}
END_TEST

START_TEST(vector_header_alg_changed)
{
    const vector *v = &vectors[_i];
    const tpo_jwks *set = jwks_of(v->jwks);
    const char *from = apr_psprintf(tpo_test_pool, "\"%s\"", v->alg);
    const char *to = apr_psprintf(tpo_test_pool, "\"%s\"", v->other_alg);
    const char *t = with_header_edit(v->jws, from, to);
    apr_status_t rv = check(t, set, NULL, ALL_ALGS, NULL);

    ck_assert_msg(rv == APR_EINVAL || rv == APR_ENOENT, "%s -> %s: %d", v->alg, v->other_alg, rv);
}
END_TEST

START_TEST(vector_alg_not_allowed)
{
    const vector *v = &vectors[_i];
    const tpo_jwks *set = jwks_of(v->jwks);
    const char *algs[16];
    const char *err = NULL;
    int i, n = 0;

    for (i = 0; ALL_ALGS[i]; i++) {
        if (strcmp(ALL_ALGS[i], v->alg) != 0) {
            algs[n++] = ALL_ALGS[i];
        }
    }
    algs[n] = NULL;
    ck_assert_int_eq(check(v->jws, set, NULL, algs, &err), APR_EINVAL);
    ck_assert_ptr_nonnull(strstr(err, "allowed"));
    /* empty and NULL lists allow nothing */
    algs[0] = NULL;
    ck_assert_int_eq(check(v->jws, set, NULL, algs, NULL), APR_EINVAL);
    ck_assert_int_eq(check(v->jws, set, NULL, NULL, NULL), APR_EINVAL);
}
END_TEST

START_TEST(vector_alg_none)
{
    const vector *v = &vectors[_i];
    const tpo_jwks *set = jwks_of(v->jwks);
    const tpo_jwk *hs = tpo_jwk_from_secret(tpo_test_pool, "secret", 6);
    const char *hdrs[] = {"{\"alg\":\"none\"}", "{\"alg\":\"None\"}", "{\"alg\":\"NONE\"}",
                          "{\"alg\":\"none\",\"kid\":\"" BILBO "\"}"};
    apr_size_t i;

    for (i = 0; i < sizeof(hdrs) / sizeof(hdrs[0]); i++) {
        /* empty signature, as RFC 7515 A.5 */
        const char *t = join3(b64s(hdrs[i]), part(v->jws, 1), ""), *err = NULL;
        ck_assert_int_eq(check(t, set, hs, ALL_ALGS_AND_NONE, &err), APR_EINVAL);
        ck_assert_ptr_nonnull(strstr(err, "none"));
        /* and with the original signature left in place */
        t = join3(b64s(hdrs[i]), part(v->jws, 1), part(v->jws, 2));
        ck_assert_int_eq(check(t, set, hs, ALL_ALGS_AND_NONE, NULL), APR_EINVAL);
    }
}
END_TEST

/* A token whose kid is in no key of the set: APR_ENOENT (caller refetches). */
START_TEST(vector_kid_not_in_set)
{
    const vector *v = &vectors[_i];
    const char *t, *err = NULL;
    const tpo_jwks *set;

    if (strncmp(v->alg, "HS", 2) == 0) {
        /* HS*: the client secret is tried whatever the kid, and the set's
         * (public) oct keys never are */
        set = jwks_of(replace(v->jwks, "{\"kty\"", "{\"kid\":\"k1\",\"kty\""));
        ck_assert_int_eq(check(v->jws, set, NULL, ALL_ALGS, &err), APR_SUCCESS);
        ck_assert_int_eq(check_exact(v->jws, set, NULL, ALL_ALGS, &err), APR_ENOENT);
        return;
    }
    if (!strstr(v->jwks, "\"kid\"")) {
        /* give the single key a kid so that the lone-kid-less fallback is off */
        set = jwks_of(replace(v->jwks, "{\"kty\"", "{\"kid\":\"k1\",\"kty\""));
        ck_assert_int_eq(check(v->jws, set, NULL, ALL_ALGS, &err), APR_SUCCESS);
        t = with_header_edit(v->jws, "{", "{\"kid\":\"k2\",");
    }
    else {
        set = jwks_of(v->jwks);
        t = with_header_edit(v->jws, BILBO, "frodo@hobbiton.example");
    }
    ck_assert_int_eq(check(t, set, NULL, ALL_ALGS, &err), APR_ENOENT);
    ck_assert_ptr_nonnull(strstr(err, "kid"));
}
END_TEST

/* ======================================================= parse tests */

START_TEST(parse_fields)
{
    tpo_jws *jws = NULL;
    const char *err = NULL;

    ck_assert_int_eq(tpo_jws_parse(tpo_test_pool, R41_JWS, &jws, &err), APR_SUCCESS);
    ck_assert_str_eq(jws->alg, "RS256");
    ck_assert_str_eq(jws->kid, BILBO);
    ck_assert_ptr_null(jws->typ);
    ck_assert(json_is_object(jws->header));
    ck_assert_uint_eq(jws->payload_len, strlen(jws->payload));
    ck_assert_ptr_nonnull(strstr(jws->payload, "Frodo"));
    ck_assert_uint_eq(jws->signing_input_len, strlen(jws->signing_input));
    ck_assert_int_eq(strncmp(jws->signing_input, R41_JWS, jws->signing_input_len), 0);
    ck_assert_int_eq(R41_JWS[jws->signing_input_len], '.');
    ck_assert_uint_eq(jws->sig_len, 256);

    ck_assert_int_eq(tpo_jws_parse(tpo_test_pool, A1_JWS, &jws, &err), APR_SUCCESS);
    ck_assert_str_eq(jws->typ, "JWT");
    ck_assert_ptr_null(jws->kid);
}
END_TEST

static void parse_fails(const char *compact, const char *needle)
{
    tpo_jws *jws = (tpo_jws *)1;
    const char *err = NULL;

    ck_assert_int_eq(tpo_jws_parse(tpo_test_pool, compact, &jws, &err), APR_EINVAL);
    ck_assert_ptr_null(jws);
    ck_assert_ptr_nonnull(err);
    if (needle) {
        ck_assert_msg(strstr(err, needle) != NULL, "error \"%s\" lacks \"%s\"", err, needle);
    }
}

START_TEST(parse_rejects_shapes)
{
    const char *h = b64s("{\"alg\":\"RS256\"}");

    parse_fails(NULL, NULL);
    parse_fails("", NULL);
    parse_fails("abc", "three parts");
    parse_fails(apr_pstrcat(tpo_test_pool, h, ".", JOE_PAYLOAD, NULL), "three parts");
    parse_fails(apr_pstrcat(tpo_test_pool, h, ".a.b.c", NULL), "three parts");
    /* JWE compact: five parts */
    parse_fails("eyJhbGciOiJSU0EtT0FFUCIsImVuYyI6IkEyNTZHQ00ifQ.OKOawDo13gRp2ojaHV7LFpZcgV7T6DVZ"
                ".48V1_ALb6US04U3b.5eym8TW_c8SuK0ltJ3rpYIzOeDQz7TALvtu6UG9oMo4vpzs9tX_EFShS8iB7j6ji"
                ".XFBoMYUZodetZdvTiFvSkQ",
                "JWE");
    parse_fails(".e30.", "header");
}
END_TEST

START_TEST(parse_rejects_bad_base64)
{
    const char *h = b64s("{\"alg\":\"HS256\"}");

    parse_fails(apr_pstrcat(tpo_test_pool, "eyJhbGciOiJIUzI1NiJ9+", ".e30.AAAA", NULL), "header");
    parse_fails(apr_pstrcat(tpo_test_pool, h, ".e3+0.AAAA", NULL), "payload");
    parse_fails(apr_pstrcat(tpo_test_pool, h, ".e30.AA/A", NULL), "signature");
    parse_fails(apr_pstrcat(tpo_test_pool, h, ".e30.A", NULL), "signature");
    parse_fails(apr_pstrcat(tpo_test_pool, h, ".e30 .AAAA", NULL), "payload");
    parse_fails(apr_pstrcat(tpo_test_pool, h, ".e30.AAAA\n", NULL), "signature");
}
END_TEST

START_TEST(parse_rejects_bad_header)
{
    const char *rest = ".e30.AAAA";

    parse_fails(apr_pstrcat(tpo_test_pool, b64s("not json"), rest, NULL), "JSON");
    parse_fails(apr_pstrcat(tpo_test_pool, b64s("[\"alg\",\"RS256\"]"), rest, NULL), "object");
    parse_fails(apr_pstrcat(tpo_test_pool, b64s("\"RS256\""), rest, NULL), NULL);
    parse_fails(apr_pstrcat(tpo_test_pool, b64s("{}"), rest, NULL), "alg");
    parse_fails(apr_pstrcat(tpo_test_pool, b64s("{\"alg\":256}"), rest, NULL), "alg");
    parse_fails(apr_pstrcat(tpo_test_pool, b64s("{\"alg\":null}"), rest, NULL), "alg");
    parse_fails(apr_pstrcat(tpo_test_pool, b64s("{\"alg\":\"\"}"), rest, NULL), "alg");
    parse_fails(apr_pstrcat(tpo_test_pool, b64s("{\"alg\":\"RS256\",\"kid\":7}"), rest, NULL),
                "kid");
    parse_fails(apr_pstrcat(tpo_test_pool, b64s("{\"alg\":\"RS256\",\"typ\":[]}"), rest, NULL),
                "typ");
    /* duplicate members: which alg would win? */
    parse_fails(
        apr_pstrcat(tpo_test_pool, b64s("{\"alg\":\"RS256\",\"alg\":\"none\"}"), rest, NULL),
        "JSON");
    /* trailing garbage after the object */
    parse_fails(apr_pstrcat(tpo_test_pool, b64s("{\"alg\":\"RS256\"}x"), rest, NULL), "JSON");
    /* an embedded NUL in alg */
    parse_fails(apr_pstrcat(tpo_test_pool, b64s("{\"alg\":\"RS256\\u0000x\"}"), rest, NULL), NULL);
}
END_TEST

START_TEST(parse_rejects_crit)
{
    parse_fails(apr_pstrcat(tpo_test_pool,
                            b64s("{\"alg\":\"RS256\",\"crit\":[\"exp\"],\"exp\":1363284000}"),
                            ".e30.AAAA", NULL),
                "crit");
    parse_fails(apr_pstrcat(tpo_test_pool,
                            b64s("{\"alg\":\"HS256\",\"b64\":false,"
                                 "\"crit\":[\"b64\"]}"),
                            ".e30.AAAA", NULL),
                "crit");
    parse_fails(
        apr_pstrcat(tpo_test_pool, b64s("{\"alg\":\"HS256\",\"crit\":[]}"), ".e30.AAAA", NULL),
        "crit");
}
END_TEST

START_TEST(parse_rejects_oversized)
{
    apr_size_t n = TPO_JOSE_MAX_COMPACT, hl, plen;
    char *big = apr_palloc(tpo_test_pool, n + 2);
    const char *h = b64s("{\"alg\":\"HS256\"}");
    tpo_jws *jws = NULL;
    const char *err = NULL;

    /* header "." payload(all 'A') ".AAAA", exactly at the limit */
    hl = strlen(h);
    plen = n - hl - 1 - 5;
    ck_assert_uint_ne(plen % 4, 1);
    memcpy(big, h, hl);
    big[hl] = '.';
    memset(big + hl + 1, 'A', plen);
    memcpy(big + n - 5, ".AAAA", 6);
    ck_assert_uint_eq(strlen(big), n);
    ck_assert_int_eq(tpo_jws_parse(tpo_test_pool, big, &jws, &err), APR_SUCCESS);
    ck_assert_uint_eq(jws->payload_len, plen / 4 * 3 + (plen % 4 ? plen % 4 - 1 : 0));

    /* one byte over */
    big[n] = 'A';
    big[n + 1] = '\0';
    parse_fails(big, "large");

    /* a huge (but valid) header alone */
    {
        char *pad = apr_palloc(tpo_test_pool, 10001);
        memset(pad, 'a', 10000);
        pad[10000] = '\0';
        parse_fails(
            apr_pstrcat(tpo_test_pool,
                        b64s(apr_psprintf(tpo_test_pool, "{\"alg\":\"RS256\",\"x\":\"%s\"}", pad)),
                        ".e30.AAAA", NULL),
            "large");
        pad[6000] = '\0';
        ck_assert_int_eq(
            tpo_jws_parse(tpo_test_pool,
                          apr_pstrcat(tpo_test_pool,
                                      b64s(apr_psprintf(tpo_test_pool,
                                                        "{\"alg\":\"RS256\",\"x\":\"%s\"}", pad)),
                                      ".e30.AAAA", NULL),
                          &jws, &err),
            APR_SUCCESS);
    }
}
END_TEST

START_TEST(payload_json_checks)
{
    tpo_jws *jws = NULL;
    const char *err = NULL;
    const char *h = b64s("{\"alg\":\"HS256\"}");
    json_t *j;

    ck_assert_int_eq(tpo_jws_parse(tpo_test_pool, A1_JWS, &jws, &err), APR_SUCCESS);
    j = tpo_jws_payload_json(tpo_test_pool, jws, &err);
    ck_assert_ptr_nonnull(j);
    ck_assert_str_eq(json_string_value(json_object_get(j, "iss")), "joe");

    ck_assert_int_eq(tpo_jws_parse(tpo_test_pool, join3(h, b64s("[1,2]"), "AAAA"), &jws, &err),
                     APR_SUCCESS);
    ck_assert_ptr_null(tpo_jws_payload_json(tpo_test_pool, jws, &err));
    ck_assert_ptr_nonnull(err);
    ck_assert_int_eq(tpo_jws_parse(tpo_test_pool, join3(h, b64s("{\"a\":1"), "AAAA"), &jws, &err),
                     APR_SUCCESS);
    ck_assert_ptr_null(tpo_jws_payload_json(tpo_test_pool, jws, &err));
    ck_assert_int_eq(
        tpo_jws_parse(tpo_test_pool, join3(h, b64s("{\"a\":1,\"a\":2}"), "AAAA"), &jws, &err),
        APR_SUCCESS);
    ck_assert_ptr_null(tpo_jws_payload_json(tpo_test_pool, jws, &err));
    ck_assert_int_eq(tpo_jws_parse(tpo_test_pool, join3(h, "", "AAAA"), &jws, &err), APR_SUCCESS);
    ck_assert_ptr_null(tpo_jws_payload_json(tpo_test_pool, jws, &err));
}
END_TEST

/* ======================================================= JWKS tests */

static apr_status_t jwks_try(const char *json, tpo_jwks **set, const char **err)
{
    *set = NULL;
    *err = NULL;
    return tpo_jwks_parse(tpo_test_pool, json, strlen(json), set, err);
}

static const tpo_jwk *find_kid(const tpo_jwks *set, const char *kid)
{
    int i;
    for (i = 0; i < set->keys->nelts; i++) {
        const tpo_jwk *k = APR_ARRAY_IDX(set->keys, i, const tpo_jwk *);
        if (k->kid && strcmp(k->kid, kid) == 0) {
            return k;
        }
    }
    return NULL;
}

START_TEST(jwks_mixed_set)
{
    unsigned char ff[128];
    apr_size_t n;
    unsigned char *y = unb64(A3_Y, &n), *x;
    const char *bad_y, *short_x, *long_x, *trail_x, *json;
    tpo_jwks *set;
    const char *err;
    const tpo_jwk *k;

    memset(ff, 0xff, sizeof(ff));
    y[n - 1] ^= 0x01;
    bad_y = b64(y, n);
    x = unb64(A3_X, &n);
    short_x = b64(x + 1, n - 1);
    {
        unsigned char *lx = apr_pcalloc(tpo_test_pool, n + 1);
        memcpy(lx + 1, x, n);
        long_x = b64(lx, n + 1);
        memcpy(lx, x, n);
        lx[n] = 0;
        trail_x = b64(lx, n + 1);
    }

    json = apr_pstrcat(
        tpo_test_pool, "{\"keys\":[",
        /* usable */
        "{\"kty\":\"RSA\",\"kid\":\"rsa\",\"use\":\"sig\",\"alg\":\"RS256\",\"n\":\"", A2_N,
        "\",\"e\":\"AQAB\"},", "{\"kty\":\"EC\",\"kid\":\"ec\",\"crv\":\"P-256\",\"x\":\"", A3_X,
        "\",\"y\":\"", A3_Y, "\"},",
        "{\"kty\":\"OKP\",\"kid\":\"ed\",\"crv\":\"Ed25519\","
        "\"x\":\"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo\"},",
        "{\"kty\":\"oct\",\"kid\":\"hs\",\"k\":\"", A1_K, "\"},",
        "{\"kty\":\"EC\",\"kid\":\"p521\",\"crv\":\"P-521\",\"key_ops\":[\"verify\"],"
        "\"x\":\"AHKZLLOsCOzz5cY97ewNUajB957y-C-U88c3v13nmGZx6sYl_oJXu9A5RkTKqjqvjyekWF-7ytDyRXYg"
        "CF5cj0Kt\",\"y\":\"AdymlHvOiLxXkEhayXQnNCvDX4h9htZaCJN34kfmC6pV5OhQHiraVySsUdaQkAgDPrwQ"
        "rJmbnX9cwlGfP-HqHZR1\"},",
        /* skipped */
        "{\"kty\":\"RSA\",\"kid\":\"enc\",\"use\":\"enc\",\"n\":\"", A2_N, "\",\"e\":\"AQAB\"},",
        "{\"kty\":\"RSA\",\"kid\":\"ops\",\"key_ops\":[\"encrypt\"],\"n\":\"", A2_N,
        "\",\"e\":\"AQAB\"},", "{\"kty\":\"RSA\",\"kid\":\"b64\",\"n\":\"", replace(A2_N, "-", "+"),
        "\",\"e\":\"AQAB\"},", "{\"kty\":\"RSA\",\"kid\":\"small\",\"n\":\"", b64(ff, sizeof(ff)),
        "\",\"e\":\"AQAB\"},", "{\"kty\":\"RSA\",\"kid\":\"evene\",\"n\":\"", A2_N,
        "\",\"e\":\"AQAA\"},", "{\"kty\":\"RSA\",\"kid\":\"noe\",\"n\":\"", A2_N, "\"},",
        "{\"kty\":\"RSA\",\"kid\":\"bige\",\"n\":\"", A2_N, "\",\"e\":\"AQAAAAAAAAAB\"},",
        "{\"kty\":\"EC\",\"kid\":\"ecalg\",\"alg\":\"ES384\",\"crv\":\"P-256\",\"x\":\"", A3_X,
        "\",\"y\":\"", A3_Y, "\"},",
        "{\"kty\":\"EC\",\"kid\":\"ecrs\",\"alg\":\"RS256\",\"crv\":\"P-256\",\"x\":\"", A3_X,
        "\",\"y\":\"", A3_Y, "\"},",
        "{\"kty\":\"OKP\",\"kid\":\"edalg\",\"alg\":\"ES256\",\"crv\":\"Ed25519\","
        "\"x\":\"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo\"},",
        "{\"kty\":\"RSA\",\"kid\":\"oaep\",\"alg\":\"RSA-OAEP\",\"n\":\"", A2_N,
        "\",\"e\":\"AQAB\"},", "{\"kty\":\"RSA\",\"kid\":\"wrongalg\",\"alg\":\"ES256\",\"n\":\"",
        A2_N, "\",\"e\":\"AQAB\"},",
        "{\"kty\":\"EC\",\"kid\":\"p192\",\"crv\":\"P-192\",\"x\":\"AAAA\",\"y\":\"AAAA\"},",
        "{\"kty\":\"EC\",\"kid\":\"secp256k1\",\"crv\":\"secp256k1\",\"x\":\"", A3_X, "\",\"y\":\"",
        A3_Y, "\"},", "{\"kty\":\"EC\",\"kid\":\"offcurve\",\"crv\":\"P-256\",\"x\":\"", A3_X,
        "\",\"y\":\"", bad_y, "\"},",
        "{\"kty\":\"EC\",\"kid\":\"shortx\",\"crv\":\"P-256\",\"x\":\"", short_x, "\",\"y\":\"",
        A3_Y, "\"},", "{\"kty\":\"EC\",\"kid\":\"longx\",\"crv\":\"P-256\",\"x\":\"", long_x,
        "\",\"y\":\"", A3_Y, "\"},",
        "{\"kty\":\"EC\",\"kid\":\"trailx\",\"crv\":\"P-256\",\"x\":\"", trail_x, "\",\"y\":\"",
        A3_Y, "\"},", "{\"kty\":\"EC\",\"kid\":\"p384crv\",\"crv\":\"P-384\",\"x\":\"", A3_X,
        "\",\"y\":\"", A3_Y, "\"},", "{\"kty\":\"EC\",\"kid\":\"nocrv\",\"x\":\"", A3_X,
        "\",\"y\":\"", A3_Y, "\"},",
        "{\"kty\":\"OKP\",\"kid\":\"x25519\",\"crv\":\"X25519\","
        "\"x\":\"hSDwCYkwp1R0i33ctD73Wg2_Og0mOBr066SpjqqbTmo\"},",
        "{\"kty\":\"OKP\",\"kid\":\"ed448\",\"crv\":\"Ed448\",\"x\":\"AAAA\"},",
        "{\"kty\":\"OKP\",\"kid\":\"edshort\",\"crv\":\"Ed25519\",\"x\":\"AAAA\"},",
        "{\"kty\":\"oct\",\"kid\":\"emptyk\",\"k\":\"\"},",
        "{\"kty\":\"oct\",\"kid\":\"hsrs\",\"alg\":\"RS256\",\"k\":\"", A1_K, "\"},",
        "{\"kty\":\"foo\",\"kid\":\"foo\"},", "{\"kid\":\"nokty\"},",
        "{\"kty\":7,\"kid\":\"numkty\"},", "{\"kty\":\"RSA\",\"kid\":5,\"n\":\"", A2_N,
        "\",\"e\":\"AQAB\"},", "{\"kty\":\"RSA\",\"kid\":\"usenum\",\"use\":1,\"n\":\"", A2_N,
        "\",\"e\":\"AQAB\"},", "\"not an object\",", "42,", "null", "]}", NULL);

    ck_assert_msg(jwks_try(json, &set, &err) == APR_SUCCESS, "%s", err ? err : "?");
    ck_assert_int_eq(set->keys->nelts, 5);
    k = find_kid(set, "rsa");
    ck_assert_ptr_nonnull(k);
    ck_assert_str_eq(k->kty, "RSA");
    ck_assert_str_eq(k->alg, "RS256");
    ck_assert_str_eq(k->use, "sig");
    ck_assert_ptr_nonnull(k->pkey);
    k = find_kid(set, "ec");
    ck_assert_ptr_nonnull(k);
    ck_assert_str_eq(k->kty, "EC");
    ck_assert_str_eq(k->crv, "P-256");
    ck_assert_ptr_null(k->alg);
    ck_assert_ptr_null(k->use);
    k = find_kid(set, "ed");
    ck_assert_ptr_nonnull(k);
    ck_assert_str_eq(k->kty, "OKP");
    ck_assert_str_eq(k->crv, "Ed25519");
    k = find_kid(set, "hs");
    ck_assert_ptr_nonnull(k);
    ck_assert_str_eq(k->kty, "oct");
    ck_assert_ptr_null(k->pkey);
    ck_assert_uint_eq(k->secret_len, 64);
    k = find_kid(set, "p521");
    ck_assert_ptr_nonnull(k);
    ck_assert_str_eq(k->crv, "P-521");

    /* the set is usable: the vectors verify with it */
    {
        const char *t;
        ck_assert_int_eq(
            check(with_header_edit(A2_JWS, "{", "{\"kid\":\"rsa\","), set, NULL, ALL_ALGS, NULL),
            APR_EINVAL); /* header changed: bad sig */
        ck_assert_int_eq(check(A2_JWS, set, NULL, ALL_ALGS, NULL), APR_SUCCESS);
        ck_assert_int_eq(check(A3_JWS, set, NULL, ALL_ALGS, NULL), APR_SUCCESS);
        ck_assert_int_eq(check(ED_JWS, set, NULL, ALL_ALGS, NULL), APR_SUCCESS);
        ck_assert_int_eq(check(A1_JWS, set, NULL, ALL_ALGS, NULL), APR_SUCCESS);
        ck_assert_int_eq(check(R43_JWS, set, NULL, ALL_ALGS, NULL), APR_ENOENT); /* kid */
        t = with_header_edit(R43_JWS, BILBO, "p521");
        ck_assert_int_eq(check(t, set, NULL, ALL_ALGS, NULL), APR_EINVAL);
    }
}
END_TEST

START_TEST(jwks_errors)
{
    tpo_jwks *set;
    const char *err;

    ck_assert_int_eq(jwks_try("{\"keys\":[]}", &set, &err), APR_EINVAL);
    ck_assert_ptr_null(set);
    ck_assert_ptr_nonnull(err);
    ck_assert_int_eq(jwks_try("not json at all", &set, &err), APR_EINVAL);
    ck_assert_ptr_nonnull(strstr(err, "JSON"));
    ck_assert_int_eq(jwks_try("{\"keys\":[" A2_JWK "]", &set, &err), APR_EINVAL);
    ck_assert_int_eq(jwks_try("", &set, &err), APR_EINVAL);
    ck_assert_int_eq(jwks_try("[" A2_JWK "]", &set, &err), APR_EINVAL);
    ck_assert_int_eq(jwks_try(A2_JWK, &set, &err), APR_EINVAL); /* a JWK, not a set */
    ck_assert_int_eq(jwks_try("{\"keys\":{}}", &set, &err), APR_EINVAL);
    ck_assert_int_eq(jwks_try("{\"keys\":[" A2_JWK "],\"keys\":[]}", &set, &err), APR_EINVAL);
    ck_assert_int_eq(jwks_try("{\"keys\":[],\"keys\":[" A2_JWK "]}", &set, &err), APR_EINVAL);
    ck_assert_int_eq(jwks_try("{\"keys\":[" A2_JWK "]}", &set, &err), APR_SUCCESS);
    ck_assert_int_eq(jwks_try("{\"keys\":[{\"kty\":\"RSA\",\"use\":\"enc\",\"n\":\"" A2_N
                              "\",\"e\":\"AQAB\"}]}",
                              &set, &err),
                     APR_EINVAL);
    ck_assert_ptr_nonnull(strstr(err, "usable"));
    ck_assert_int_eq(tpo_jwks_parse(tpo_test_pool, NULL, 0, &set, &err), APR_EINVAL);
    /* too large, even if valid */
    {
        apr_size_t n = TPO_JOSE_MAX_JWKS + 1, hl = strlen("{\"keys\":[" A2_JWK "],\"x\":\"");
        char *big = apr_palloc(tpo_test_pool, n + 1);
        memcpy(big, "{\"keys\":[" A2_JWK "],\"x\":\"", hl);
        memset(big + hl, 'a', n - hl - 2);
        memcpy(big + n - 2, "\"}", 3);
        ck_assert_uint_eq(strlen(big), n);
        ck_assert_int_eq(jwks_try(big, &set, &err), APR_EINVAL);
        ck_assert_ptr_nonnull(strstr(err, "large"));
        big[n - 3] = '"';
        big[n - 2] = '}';
        big[n - 1] = '\0';
        ck_assert_int_eq(jwks_try(big, &set, &err), APR_SUCCESS);
    }
}
END_TEST

START_TEST(jwks_length_is_respected)
{
    tpo_jwks *set;
    const char *err;
    const char *json = A2_JWKS "trailing garbage";

    ck_assert_int_eq(tpo_jwks_parse(tpo_test_pool, json, strlen(A2_JWKS), &set, &err), APR_SUCCESS);
    ck_assert_int_eq(tpo_jwks_parse(tpo_test_pool, json, strlen(json), &set, &err), APR_EINVAL);
}
END_TEST

/* keys outlive nothing: destroying the pool frees them (run under ASan/valgrind) */
START_TEST(jwks_pool_lifetime)
{
    apr_pool_t *sp;
    tpo_jwks *set;
    const char *err;
    int i;

    for (i = 0; i < 20; i++) {
        apr_pool_create(&sp, tpo_test_pool);
        ck_assert_int_eq(tpo_jwks_parse(sp, R3_JWKS, strlen(R3_JWKS), &set, &err), APR_SUCCESS);
        ck_assert_int_eq(set->keys->nelts, 2);
        apr_pool_destroy(sp);
    }
}
END_TEST

/* ======================================================= key selection */

START_TEST(select_by_kid_and_type)
{
    /* R3 set: EC and RSA under the same kid; each alg finds its own */
    const tpo_jwks *set = jwks_of(R3_JWKS);
    const char *t;

    ck_assert_int_eq(check(R41_JWS, set, NULL, ALL_ALGS, NULL), APR_SUCCESS);
    ck_assert_int_eq(check(R43_JWS, set, NULL, ALL_ALGS, NULL), APR_SUCCESS);
    /* no Ed25519 key in the set */
    t = sign("EdDSA", BILBO, "{}", k_ed, NULL, 0);
    ck_assert_int_eq(check(t, set, NULL, ALL_ALGS, NULL), APR_ENOENT);
    /* P-256 token, only a P-521 key */
    t = sign("ES256", BILBO, "{}", k_p256, NULL, 0);
    ck_assert_int_eq(check(t, set, NULL, ALL_ALGS, NULL), APR_ENOENT);
}
END_TEST

START_TEST(select_kidless_fallback)
{
    const char *t = sign("RS256", "some-kid", "{\"a\":1}", k_rsa, NULL, 0);
    const char *t2 = sign("RS256", NULL, "{\"a\":1}", k_rsa, NULL, 0);

    /* one kid-less RSA key: used even though the token names a kid */
    ck_assert_int_eq(check(t, jwks_of(set_of(jwk_json(k_rsa, NULL), NULL)), NULL, ALL_ALGS, NULL),
                     APR_SUCCESS);
    /* ... also next to keys of other types */
    ck_assert_int_eq(check(t, jwks_of(set_of(jwk_json(k_rsa, NULL), jwk_json(k_p256, "e"))), NULL,
                           ALL_ALGS, NULL),
                     APR_SUCCESS);
    /* two kid-less RSA keys: ambiguous, so not used */
    ck_assert_int_eq(check(t, jwks_of(set_of(jwk_json(k_rsa, NULL), jwk_json(k_rsa2, NULL))), NULL,
                           ALL_ALGS, NULL),
                     APR_ENOENT);
    /* the one RSA key has another kid: no */
    ck_assert_int_eq(
        check(t, jwks_of(set_of(jwk_json(k_rsa, "other"), NULL)), NULL, ALL_ALGS, NULL),
        APR_ENOENT);
    /* token without kid: every RSA key is tried */
    ck_assert_int_eq(check(t2, jwks_of(set_of(jwk_json(k_rsa2, "a"), jwk_json(k_rsa, "b"))), NULL,
                           ALL_ALGS, NULL),
                     APR_SUCCESS);
    ck_assert_int_eq(check(t2, jwks_of(set_of(jwk_json(k_rsa2, "a"), NULL)), NULL, ALL_ALGS, NULL),
                     APR_EINVAL);
    /* the right kid, the wrong key */
    ck_assert_int_eq(
        check(t, jwks_of(set_of(jwk_json(k_rsa2, "some-kid"), NULL)), NULL, ALL_ALGS, NULL),
        APR_EINVAL);
}
END_TEST

START_TEST(select_key_alg_must_match)
{
    const char *rs = sign("RS256", "k", "{}", k_rsa, NULL, 0);
    const char *ps = sign("PS256", "k", "{}", k_rsa, NULL, 0);
    const char *jwk = replace(jwk_json(k_rsa, "k"), "{", "{\"alg\":\"RS256\",");
    const tpo_jwks *set = jwks_of(set_of(jwk, NULL));

    ck_assert_int_eq(check(rs, set, NULL, ALL_ALGS, NULL), APR_SUCCESS);
    ck_assert_int_eq(check(ps, set, NULL, ALL_ALGS, NULL), APR_ENOENT);
    set = jwks_of(set_of(replace(jwk_json(k_rsa, "k"), "{", "{\"alg\":\"PS256\","), NULL));
    ck_assert_int_eq(check(ps, set, NULL, ALL_ALGS, NULL), APR_SUCCESS);
    ck_assert_int_eq(check(rs, set, NULL, ALL_ALGS, NULL), APR_ENOENT);
}
END_TEST

/* ======================================================= HMAC */

START_TEST(hs_with_client_secret)
{
    apr_size_t klen;
    unsigned char *k = unb64(A1_K, &klen);
    const tpo_jwk *hs = tpo_jwk_from_secret(tpo_test_pool, (const char *)k, klen);
    const tpo_jwk *wrong = tpo_jwk_from_secret(tpo_test_pool, "not the key", 11);
    const tpo_jwks *rsa = jwks_of(A2_JWKS);

    ck_assert_ptr_nonnull(hs);
    ck_assert_str_eq(hs->kty, "oct");
    ck_assert_ptr_null(hs->pkey);
    ck_assert_ptr_null(tpo_jwk_from_secret(tpo_test_pool, "", 0));
    ck_assert_ptr_null(tpo_jwk_from_secret(tpo_test_pool, NULL, 3));

    ck_assert_int_eq(check(A1_JWS, NULL, hs, ALL_ALGS, NULL), APR_SUCCESS);
    ck_assert_int_eq(check(A1_JWS, rsa, hs, ALL_ALGS, NULL), APR_SUCCESS);
    ck_assert_int_eq(check(A1_JWS, rsa, wrong, ALL_ALGS, NULL), APR_EINVAL);
    ck_assert_int_eq(check(A1_JWS, rsa, NULL, ALL_ALGS, NULL), APR_ENOENT);
    ck_assert_int_eq(check(A1_JWS, NULL, NULL, ALL_ALGS, NULL), APR_ENOENT);
    /* the client secret does not verify RS256 */
    ck_assert_int_eq(check(A2_JWS, NULL, hs, ALL_ALGS, NULL), APR_ENOENT);
    /* a kid in an HS token does not stop the client secret */
    ck_assert_int_eq(check(sign("HS256", "whatever", "{}", NULL, k, klen), rsa, hs, ALL_ALGS, NULL),
                     APR_SUCCESS);
}
END_TEST

/* The classic attack: the RSA public key (as the verifier would hold it) used
 * as an HMAC secret. Must never verify. */
START_TEST(hs_alg_confusion_refused)
{
    const tpo_jwks *set = jwks_of(A2_JWKS);
    const tpo_jwks *kset =
        jwks_of(apr_pstrcat(tpo_test_pool, "{\"keys\":[{\"kid\":\"k1\",", A2_JWK + 1, "]}", NULL));
    EVP_PKEY *pub = APR_ARRAY_IDX(set->keys, 0, tpo_jwk *)->pkey;
    const char *const rs_hs[] = {"RS256", "HS256", "HS384", "HS512", NULL};
    BIO *bio = BIO_new(BIO_s_mem());
    char *pem = NULL;
    long pemlen;
    unsigned char *der = NULL;
    int derlen;
    apr_size_t nlen;
    unsigned char *nraw = unb64(A2_N, &nlen);
    struct {
        const unsigned char *s;
        apr_size_t len;
    } secrets[5];
    apr_size_t i;
    const char *algs[] = {"HS256", "HS384", "HS512"};

    ck_assert(PEM_write_bio_PUBKEY(bio, pub));
    pemlen = BIO_get_mem_data(bio, &pem);
    ck_assert_int_gt(pemlen, 100);
    derlen = i2d_PUBKEY(pub, &der);
    ck_assert_int_gt(derlen, 100);
    secrets[0].s = (const unsigned char *)pem;
    secrets[0].len = (apr_size_t)pemlen;
    secrets[1].s = der;
    secrets[1].len = (apr_size_t)derlen;
    secrets[2].s = nraw;
    secrets[2].len = nlen;
    secrets[3].s = (const unsigned char *)A2_JWK;
    secrets[3].len = strlen(A2_JWK);
    secrets[4].s = (const unsigned char *)A2_N;
    secrets[4].len = strlen(A2_N);

    for (i = 0; i < 5; i++) {
        apr_size_t a;
        for (a = 0; a < 3; a++) {
            const char *t =
                sign(algs[a], NULL, "{\"iss\":\"joe\"}", NULL, secrets[i].s, secrets[i].len);
            const char *tk =
                sign(algs[a], "k1", "{\"iss\":\"joe\"}", NULL, secrets[i].s, secrets[i].len);
            ck_assert_int_ne(check(t, set, NULL, rs_hs, NULL), APR_SUCCESS);
            ck_assert_int_ne(check(t, set, NULL, ALL_ALGS, NULL), APR_SUCCESS);
            ck_assert_int_ne(check(tk, kset, NULL, rs_hs, NULL), APR_SUCCESS);
            ck_assert_int_eq(check(tk, kset, NULL, rs_hs, NULL), APR_ENOENT);
        }
    }
    /* and a key claiming kty oct with the RSA public key inside still only
     * helps HS, never RS: the RS256 vector does not verify against it */
    {
        const char *oct = apr_psprintf(tpo_test_pool, "{\"keys\":[{\"kty\":\"oct\",\"k\":\"%s\"}]}",
                                       b64(der, (apr_size_t)derlen));
        ck_assert_int_eq(check(A2_JWS, jwks_of(oct), NULL, ALL_ALGS, NULL), APR_ENOENT);
    }
    OPENSSL_free(der);
    BIO_free(bio);
}
END_TEST

/* An oct key published in a JWK Set is public: never used to verify, with
 * or without a kid, whatever the alg; only the client secret verifies HS*. */
START_TEST(hs_jwks_oct_never_used)
{
    const tpo_jwks *set = jwks_of(A1_JWKS);
    const tpo_jwks *kset = jwks_of("{\"keys\":[{\"kty\":\"oct\",\"kid\":\"pub\",\"alg\":\"HS256\","
                                   "\"k\":\"" A1_K "\"}]}");
    const tpo_jwk *other = tpo_jwk_from_secret(tpo_test_pool, "the-real-client-secret", 22);
    unsigned char key[64];
    apr_size_t klen = 0;
    const char *err = NULL, *tk;

    /* A1 is signed with the set's oct key */
    ck_assert_int_eq(check_exact(A1_JWS, set, NULL, ALL_ALGS, &err), APR_ENOENT);
    ck_assert_int_eq(check_exact(A1_JWS, set, other, ALL_ALGS, &err), APR_EINVAL);
    ck_assert_int_eq(check_exact(A1_JWS, kset, other, ALL_ALGS, &err), APR_EINVAL);
    tk = with_header_edit(A1_JWS, "{", "{\"kid\":\"pub\",");
    ck_assert_int_eq(check_exact(tk, kset, NULL, ALL_ALGS, &err), APR_ENOENT);
    ck_assert_int_eq(check_exact(tk, kset, other, ALL_ALGS, &err), APR_EINVAL);
    /* a token freshly signed with the published key and its kid */
    {
        unsigned char *k = unb64(A1_K, &klen);
        memcpy(key, k, klen);
        tk = sign("HS256", "pub", "{\"iss\":\"joe\"}", NULL, key, klen);
        ck_assert_int_eq(check_exact(tk, kset, NULL, ALL_ALGS, &err), APR_ENOENT);
        ck_assert_int_eq(check_exact(tk, kset, other, ALL_ALGS, &err), APR_EINVAL);
        /* the same key given as the client secret does verify */
        ck_assert_int_eq(check_exact(tk, kset,
                                     tpo_jwk_from_secret(tpo_test_pool, (char *)key, klen),
                                     ALL_ALGS, &err),
                         APR_SUCCESS);
    }
}
END_TEST

/* ======================================================= algorithm details */

/* PS*: salt length must be the hash length */
START_TEST(pss_salt_length_enforced)
{
    const tpo_jwks *set = jwks_of(set_of(jwk_json(k_rsa, NULL), NULL));
    const char *input =
        apr_pstrcat(tpo_test_pool, b64s("{\"alg\":\"PS256\"}"), ".", b64s("{\"x\":1}"), NULL);
    int salts[] = {RSA_PSS_SALTLEN_DIGEST, RSA_PSS_SALTLEN_MAX, 0, 20, 33};
    apr_size_t i;

    for (i = 0; i < sizeof(salts) / sizeof(salts[0]); i++) {
        EVP_MD_CTX *m = EVP_MD_CTX_new();
        EVP_PKEY_CTX *pc = NULL;
        unsigned char sig[512];
        size_t slen = sizeof(sig);
        const char *t;

        ck_assert(EVP_DigestSignInit_ex(m, &pc, "SHA256", NULL, NULL, k_rsa, NULL) == 1);
        ck_assert(EVP_PKEY_CTX_set_rsa_padding(pc, RSA_PKCS1_PSS_PADDING) > 0);
        ck_assert(EVP_PKEY_CTX_set_rsa_pss_saltlen(pc, salts[i]) > 0);
        ck_assert(EVP_DigestSign(m, sig, &slen, (const unsigned char *)input, strlen(input)) == 1);
        EVP_MD_CTX_free(m);
        t = apr_pstrcat(tpo_test_pool, input, ".", b64(sig, slen), NULL);
        if (i == 0) {
            ck_assert_int_eq(check(t, set, NULL, ALL_ALGS, NULL), APR_SUCCESS);
        }
        else {
            ck_assert_msg(check(t, set, NULL, ALL_ALGS, NULL) == APR_EINVAL, "salt %d", salts[i]);
        }
    }
}
END_TEST

/* RS*: the signature is exactly as long as the modulus (RFC 7518 3.3): one
 * that begins with a zero byte may not be shortened. */
START_TEST(rsa_signature_length)
{
    const tpo_jwks *set = jwks_of(set_of(jwk_json(k_rsa, NULL), NULL));
    int i;

    for (i = 0; i < 20000; i++) {
        const char *t =
            sign("RS256", NULL, apr_psprintf(tpo_test_pool, "{\"i\":%d}", i), k_rsa, NULL, 0);
        apr_size_t n;
        unsigned char *sig = unb64(part(t, 2), &n);
        ck_assert_uint_eq(n, 256);
        if (sig[0] == 0) {
            ck_assert_int_eq(check(t, set, NULL, ALL_ALGS, NULL), APR_SUCCESS);
            ck_assert_int_eq(check(with_sig(t, sig + 1, n - 1), set, NULL, ALL_ALGS, NULL),
                             APR_EINVAL);
            return;
        }
    }
    ck_abort_msg("no signature with a leading zero byte found");
}
END_TEST

/* ES*: raw R||S of exactly 2*coord bytes; DER is refused */
START_TEST(ecdsa_signature_format)
{
    const tpo_jwks *set = jwks_of(set_of(jwk_json(k_p256, NULL), NULL));
    const char *input =
        apr_pstrcat(tpo_test_pool, b64s("{\"alg\":\"ES256\"}"), ".", b64s("{\"x\":1}"), NULL);
    EVP_MD_CTX *m = EVP_MD_CTX_new();
    unsigned char der[128], raw[64];
    size_t dlen = sizeof(der);
    const char *good;

    ck_assert(EVP_DigestSignInit_ex(m, NULL, "SHA256", NULL, NULL, k_p256, NULL) == 1);
    ck_assert(EVP_DigestSign(m, der, &dlen, (const unsigned char *)input, strlen(input)) == 1);
    EVP_MD_CTX_free(m);
    /* the DER form as the JWS signature */
    ck_assert_int_eq(check(apr_pstrcat(tpo_test_pool, input, ".", b64(der, dlen), NULL), set, NULL,
                           ALL_ALGS, NULL),
                     APR_EINVAL);
    /* converted to R||S it verifies */
    {
        const unsigned char *q = der;
        ECDSA_SIG *es = d2i_ECDSA_SIG(NULL, &q, (long)dlen);
        const BIGNUM *r, *s;
        ck_assert_ptr_nonnull(es);
        ECDSA_SIG_get0(es, &r, &s);
        ck_assert_int_eq(BN_bn2binpad(r, raw, 32), 32);
        ck_assert_int_eq(BN_bn2binpad(s, raw + 32, 32), 32);
        ECDSA_SIG_free(es);
    }
    good = apr_pstrcat(tpo_test_pool, input, ".", b64(raw, 64), NULL);
    ck_assert_int_eq(check(good, set, NULL, ALL_ALGS, NULL), APR_SUCCESS);
    /* zero R or S */
    {
        unsigned char z[64];
        memcpy(z, raw, 64);
        memset(z, 0, 32);
        ck_assert_int_eq(check(apr_pstrcat(tpo_test_pool, input, ".", b64(z, 64), NULL), set, NULL,
                               ALL_ALGS, NULL),
                         APR_EINVAL);
        memcpy(z, raw, 64);
        memset(z + 32, 0, 32);
        ck_assert_int_eq(check(apr_pstrcat(tpo_test_pool, input, ".", b64(z, 64), NULL), set, NULL,
                               ALL_ALGS, NULL),
                         APR_EINVAL);
        memset(z, 0, 64);
        ck_assert_int_eq(check(apr_pstrcat(tpo_test_pool, input, ".", b64(z, 64), NULL), set, NULL,
                               ALL_ALGS, NULL),
                         APR_EINVAL);
    }
    /* R||S with one more byte */
    {
        unsigned char l[65];
        memcpy(l, raw, 64);
        l[64] = 0;
        ck_assert_int_eq(check(apr_pstrcat(tpo_test_pool, input, ".", b64(l, 65), NULL), set, NULL,
                               ALL_ALGS, NULL),
                         APR_EINVAL);
    }
    /* 66 bytes (P-521 size) for ES256 */
    {
        unsigned char l[66];
        memset(l, 0, 1);
        memcpy(l + 1, raw, 32);
        memset(l + 33, 0, 1);
        memcpy(l + 34, raw + 32, 32);
        ck_assert_int_eq(check(apr_pstrcat(tpo_test_pool, input, ".", b64(l, 66), NULL), set, NULL,
                               ALL_ALGS, NULL),
                         APR_EINVAL);
    }
}
END_TEST

/* ======================================================= round trips */

typedef struct {
    const char *alg;
    EVP_PKEY **key;
    EVP_PKEY **other;  /* same type, different key */
    apr_size_t secret; /* HS: secret length */
} rt_case;

static const rt_case rt_cases[] = {
    {"RS256", &k_rsa, &k_rsa2, 0},   {"RS384", &k_rsa, &k_rsa2, 0}, {"RS512", &k_rsa, &k_rsa2, 0},
    {"PS256", &k_rsa, &k_rsa2, 0},   {"PS384", &k_rsa, &k_rsa2, 0}, {"PS512", &k_rsa, &k_rsa2, 0},
    {"ES256", &k_p256, &k_p256b, 0}, {"ES384", &k_p384, NULL, 0},   {"ES512", &k_p521, NULL, 0},
    {"EdDSA", &k_ed, &k_ed2, 0},     {"HS256", NULL, NULL, 32},     {"HS384", NULL, NULL, 48},
    {"HS512", NULL, NULL, 64},
};

START_TEST(roundtrip_every_alg)
{
    const rt_case *c = &rt_cases[_i];
    const char *payload = "{\"sub\":\"alice\",\"n\":[1,2,3],\"s\":\"\\u00e9\"}";
    const char *const only[] = {c->alg, NULL};
    const char *t, *err = NULL;
    const tpo_jwks *set;
    tpo_jws *jws;
    json_t *j;

    if (c->key) {
        t = sign(c->alg, "kid-1", payload, *c->key, NULL, 0);
        set = jwks_of(set_of(jwk_json(*c->key, "kid-1"), NULL));
    }
    else {
        unsigned char secret[64];
        memset(secret, 0x5a, sizeof(secret));
        secret[0] = (unsigned char)c->secret;
        t = sign(c->alg, "kid-1", payload, NULL, secret, c->secret);
        set = jwks_of(apr_psprintf(tpo_test_pool,
                                   "{\"keys\":[{\"kty\":\"oct\",\"kid\":\"kid-1\",\"k\":\"%s\"}]}",
                                   b64(secret, c->secret)));
        ck_assert_int_eq(check(t, NULL,
                               tpo_jwk_from_secret(tpo_test_pool, (char *)secret, c->secret), only,
                               NULL),
                         APR_SUCCESS);
        secret[5] ^= 1;
        ck_assert_int_eq(check(t, NULL,
                               tpo_jwk_from_secret(tpo_test_pool, (char *)secret, c->secret), only,
                               NULL),
                         APR_EINVAL);
    }
    ck_assert_int_eq(tpo_jws_parse(tpo_test_pool, t, &jws, &err), APR_SUCCESS);
    ck_assert_str_eq(jws->alg, c->alg);
    ck_assert_str_eq(jws->kid, "kid-1");
    ck_assert_str_eq(jws->payload, payload);
    ck_assert_msg(tpo_jws_verify(tpo_test_pool, jws, set, oct_as_secret(set), only, &err) ==
                      APR_SUCCESS,
                  "%s: %s", c->alg, err);
    j = tpo_jws_payload_json(tpo_test_pool, jws, &err);
    ck_assert_ptr_nonnull(j);
    ck_assert_str_eq(json_string_value(json_object_get(j, "sub")), "alice");

    /* tampering */
    ck_assert_int_eq(check(flip_sig_bit(t, 1, 1), set, NULL, only, NULL), APR_EINVAL);
    ck_assert_int_eq(
        check(join3(part(t, 0), b64s("{\"sub\":\"mallory\"}"), part(t, 2)), set, NULL, only, NULL),
        APR_EINVAL);
    /* same kid, other key */
    if (c->other) {
        const tpo_jwks *oset = jwks_of(set_of(jwk_json(*c->other, "kid-1"), NULL));
        ck_assert_int_eq(check(t, oset, NULL, only, NULL), APR_EINVAL);
    }
}
END_TEST

START_TEST(sign_refuses_misuse)
{
    const char *err = NULL;

    ck_assert_ptr_null(tpo_jws_sign(tpo_test_pool, "none", NULL, "{}", k_rsa, NULL, 0, &err));
    ck_assert_ptr_nonnull(err);
    ck_assert_ptr_null(tpo_jws_sign(tpo_test_pool, "RS256", NULL, "{}", k_p256, NULL, 0, &err));
    ck_assert_ptr_null(tpo_jws_sign(tpo_test_pool, "ES256", NULL, "{}", k_p384, NULL, 0, &err));
    ck_assert_ptr_null(tpo_jws_sign(tpo_test_pool, "ES384", NULL, "{}", k_rsa, NULL, 0, &err));
    ck_assert_ptr_null(tpo_jws_sign(tpo_test_pool, "EdDSA", NULL, "{}", k_p256, NULL, 0, &err));
    ck_assert_ptr_null(tpo_jws_sign(tpo_test_pool, "HS256", NULL, "{}", NULL, NULL, 0, &err));
    ck_assert_ptr_null(tpo_jws_sign(tpo_test_pool, "RS256", NULL, "{}", NULL, NULL, 0, &err));
    ck_assert_ptr_null(tpo_jws_sign(tpo_test_pool, "XX256", NULL, "{}", k_rsa, NULL, 0, &err));
    ck_assert(tpo_jws_alg_supported("RS256"));
    ck_assert(tpo_jws_alg_supported("EdDSA"));
    ck_assert(!tpo_jws_alg_supported("none"));
    ck_assert(!tpo_jws_alg_supported("rs256"));
    ck_assert(!tpo_jws_alg_supported(NULL));
}
END_TEST

/* errors never carry key material or the token */
START_TEST(errors_carry_no_secrets)
{
    const tpo_jwks *set = jwks_of(A2_JWKS);
    const char *err = NULL;
    const char *t = flip_sig_bit(A2_JWS, 3, 3);

    ck_assert_int_eq(check(t, set, NULL, ALL_ALGS, &err), APR_EINVAL);
    ck_assert_ptr_null(strstr(err, part(t, 2)));
    ck_assert_ptr_null(strstr(err, JOE_PAYLOAD));
    ck_assert_ptr_null(strstr(err, "ofgWCuLj"));
}
END_TEST

int main(void)
{
    Suite *s = suite_create("jose");
    TCase *tv = tcase_create("vectors");
    TCase *tp = tcase_create("parse");
    TCase *tk = tcase_create("jwks");
    TCase *ta = tcase_create("algs");
    int rc;

    make_keys();

    tcase_add_checked_fixture(tv, tpo_test_setup, tpo_test_teardown);
    tcase_add_loop_test(tv, vector_verifies, 0, NVECTORS);
    tcase_add_loop_test(tv, vector_payload_changed, 0, NVECTORS);
    tcase_add_loop_test(tv, vector_signature_bit_flipped, 0, NVECTORS);
    tcase_add_loop_test(tv, vector_header_alg_changed, 0, NVECTORS);
    tcase_add_loop_test(tv, vector_alg_not_allowed, 0, NVECTORS);
    tcase_add_loop_test(tv, vector_alg_none, 0, NVECTORS);
    tcase_add_loop_test(tv, vector_kid_not_in_set, 0, NVECTORS);
    suite_add_tcase(s, tv);

    tcase_add_checked_fixture(tp, tpo_test_setup, tpo_test_teardown);
    tcase_add_test(tp, parse_fields);
    tcase_add_test(tp, parse_rejects_shapes);
    tcase_add_test(tp, parse_rejects_bad_base64);
    tcase_add_test(tp, parse_rejects_bad_header);
    tcase_add_test(tp, parse_rejects_crit);
    tcase_add_test(tp, parse_rejects_oversized);
    tcase_add_test(tp, payload_json_checks);
    suite_add_tcase(s, tp);

    tcase_add_checked_fixture(tk, tpo_test_setup, tpo_test_teardown);
    tcase_add_test(tk, jwks_mixed_set);
    tcase_add_test(tk, jwks_errors);
    tcase_add_test(tk, jwks_length_is_respected);
    tcase_add_test(tk, jwks_pool_lifetime);
    tcase_add_test(tk, select_by_kid_and_type);
    tcase_add_test(tk, select_kidless_fallback);
    tcase_add_test(tk, select_key_alg_must_match);
    suite_add_tcase(s, tk);

    tcase_add_checked_fixture(ta, tpo_test_setup, tpo_test_teardown);
    tcase_add_test(ta, hs_with_client_secret);
    tcase_add_test(ta, hs_alg_confusion_refused);
    tcase_add_test(ta, hs_jwks_oct_never_used);
    tcase_add_test(ta, pss_salt_length_enforced);
    tcase_add_test(ta, rsa_signature_length);
    tcase_add_test(ta, ecdsa_signature_format);
    tcase_add_loop_test(ta, roundtrip_every_alg, 0, (int)(sizeof(rt_cases) / sizeof(rt_cases[0])));
    tcase_add_test(ta, sign_refuses_misuse);
    tcase_add_test(ta, errors_carry_no_secrets);
    suite_add_tcase(s, ta);

    rc = tpo_test_run(s);
    free_keys();
    return rc;
}
