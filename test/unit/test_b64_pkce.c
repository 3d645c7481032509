/* SPDX-License-Identifier: Apache-2.0
 * Licensed under the Apache License, Version 2.0 (see LICENSE). */
/* base64url, randomness and PKCE. */
#include <string.h>
#include <apr_hash.h>
#include "tpo_test.h"
#include "tpo_b64.h"
#include "tpo_pkce.h"

static const char *enc(const void *data, apr_size_t len)
{
    return tpo_b64url_encode(tpo_test_pool, data, len);
}

static int dec_ok(const char *in, const char *expect, apr_size_t expect_len)
{
    apr_size_t n = 12345;
    unsigned char *out = tpo_b64url_decode(tpo_test_pool, in, strlen(in), &n);
    return out && n == expect_len && memcmp(out, expect, n) == 0 && out[n] == '\0';
}

static int dec_fails(const char *in)
{
    apr_size_t n = 12345;
    return tpo_b64url_decode(tpo_test_pool, in, strlen(in), &n) == NULL;
}

/* RFC 4648 section 10, without the padding */
START_TEST(b64_rfc4648_vectors)
{
    static const struct {
        const char *in, *out;
    } v[] = {
        {"", ""},           {"f", "Zg"},          {"fo", "Zm8"},          {"foo", "Zm9v"},
        {"foob", "Zm9vYg"}, {"fooba", "Zm9vYmE"}, {"foobar", "Zm9vYmFy"},
    };
    apr_size_t i;

    for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
        ck_assert_str_eq(enc(v[i].in, strlen(v[i].in)), v[i].out);
        ck_assert_msg(dec_ok(v[i].out, v[i].in, strlen(v[i].in)), "decode %s", v[i].out);
    }
}
END_TEST

/* the two characters that differ from standard base64 */
START_TEST(b64_url_alphabet)
{
    static const unsigned char a[] = {0xfb, 0xff};       /* std "+/8=" */
    static const unsigned char b[] = {0xff, 0xff, 0xfe}; /* std "///+" */
    static const unsigned char c[] = {0x03, 0xef, 0xff}; /* std "A+//" */

    ck_assert_str_eq(enc(a, sizeof(a)), "-_8");
    ck_assert_str_eq(enc(b, sizeof(b)), "___-");
    ck_assert_str_eq(enc(c, sizeof(c)), "A-__");
    ck_assert(dec_ok("-_8", (const char *)a, sizeof(a)));
    ck_assert(dec_ok("___-", (const char *)b, sizeof(b)));
    ck_assert(dec_ok("A-__", (const char *)c, sizeof(c)));
}
END_TEST

START_TEST(b64_padding_only_at_end)
{
    ck_assert(dec_ok("Zg==", "f", 1));
    ck_assert(dec_ok("Zm8=", "fo", 2));
    ck_assert(dec_fails("Zg=")); /* padded but not a multiple of 4 */
    ck_assert(dec_fails("Zm8=="));
    ck_assert(dec_fails("Zm9v="));
    ck_assert(dec_fails("Z==="));
    ck_assert(dec_fails("===="));
    ck_assert(dec_fails("Zg==Zg=="));
    ck_assert(dec_fails("Zm=v"));
}
END_TEST

START_TEST(b64_invalid_rejected)
{
    ck_assert(dec_fails("Zm9+")); /* standard alphabet */
    ck_assert(dec_fails("Zm9/"));
    ck_assert(dec_fails("+/8"));
    ck_assert(dec_fails("Zm9v=Zm9"));
    ck_assert(dec_fails("Zm9v Zm9v"));
    ck_assert(dec_fails("Zm9v\nZm9v"));
    ck_assert(dec_fails(" Zm9v"));
    ck_assert(dec_fails("Zm9v\t"));
    ck_assert(dec_fails("Zm9vY")); /* length % 4 == 1 */
    ck_assert(dec_fails("Z"));
    ck_assert(dec_fails("Zm9v.mFy"));
    ck_assert(dec_fails("Zm9v\xc3\xa9"));
    /* non-canonical: unused low bits set */
    ck_assert(dec_fails("Zh"));
    ck_assert(dec_fails("Zm9"));
    ck_assert(dec_ok("Zm8", "fo", 2));
}
END_TEST

START_TEST(b64_length_is_respected)
{
    apr_size_t n;
    unsigned char *out;
    const char buf[] = "Zm9v\0Zm9v";

    out = tpo_b64url_decode(tpo_test_pool, "Zm9vYmFy", 4, &n);
    ck_assert_ptr_nonnull(out);
    ck_assert_uint_eq(n, 3);
    ck_assert_str_eq((char *)out, "foo");
    /* an embedded NUL inside the given length is invalid input */
    ck_assert_ptr_null(tpo_b64url_decode(tpo_test_pool, buf, 8, &n));
    out = tpo_b64url_decode(tpo_test_pool, "", 0, &n);
    ck_assert_ptr_nonnull(out);
    ck_assert_uint_eq(n, 0);
}
END_TEST

START_TEST(b64_roundtrip_all_lengths)
{
    unsigned char data[64];
    apr_size_t len, i, n;

    for (len = 0; len <= 64; len++) {
        const char *e;
        unsigned char *d;
        for (i = 0; i < len; i++) {
            data[i] = (unsigned char)(len * 37 + i * 101 + 0x80);
        }
        e = enc(data, len);
        ck_assert_uint_eq(strlen(e), (len * 4 + 2) / 3);
        ck_assert_ptr_null(strchr(e, '='));
        ck_assert_ptr_null(strchr(e, '+'));
        ck_assert_ptr_null(strchr(e, '/'));
        d = tpo_b64url_decode(tpo_test_pool, e, strlen(e), &n);
        ck_assert_ptr_nonnull(d);
        ck_assert_uint_eq(n, len);
        ck_assert(len == 0 || memcmp(d, data, len) == 0);
    }
    /* and every byte value */
    {
        unsigned char all[256];
        const char *e;
        unsigned char *d;
        for (i = 0; i < 256; i++) {
            all[i] = (unsigned char)i;
        }
        e = enc(all, sizeof(all));
        d = tpo_b64url_decode(tpo_test_pool, e, strlen(e), &n);
        ck_assert_ptr_nonnull(d);
        ck_assert_uint_eq(n, 256);
        ck_assert_int_eq(memcmp(d, all, 256), 0);
    }
}
END_TEST

START_TEST(random_bytes_and_tokens)
{
    unsigned char a[32], b[32];
    char *t1, *t2;

    memset(a, 0, sizeof(a));
    memset(b, 0, sizeof(b));
    ck_assert_int_eq(tpo_random_bytes(a, sizeof(a)), APR_SUCCESS);
    ck_assert_int_eq(tpo_random_bytes(b, sizeof(b)), APR_SUCCESS);
    ck_assert(memcmp(a, b, sizeof(a)) != 0);

    ck_assert_int_eq(tpo_random_token(tpo_test_pool, 32, &t1), APR_SUCCESS);
    ck_assert_int_eq(tpo_random_token(tpo_test_pool, 32, &t2), APR_SUCCESS);
    ck_assert_uint_eq(strlen(t1), 43);
    ck_assert_str_ne(t1, t2);
    ck_assert_int_eq(tpo_random_token(tpo_test_pool, 16, &t1), APR_SUCCESS);
    ck_assert_uint_eq(strlen(t1), 22);
    ck_assert_int_ne(tpo_random_token(tpo_test_pool, 0, &t1), APR_SUCCESS);
}
END_TEST

/* RFC 7636 Appendix B */
START_TEST(random_tokens_one_draw)
{
    char *t[3];
    int i, j;

    ck_assert_int_eq(tpo_random_tokens(tpo_test_pool, 32, 3, t), APR_SUCCESS);
    for (i = 0; i < 3; i++) {
        ck_assert_ptr_nonnull(t[i]);
        ck_assert_uint_eq(strlen(t[i]), 43); /* 32 bytes, base64url */
        ck_assert_int_eq(tpo_pkce_verifier_valid(t[i]), 1);
        for (j = 0; j < i; j++) {
            ck_assert_str_ne(t[i], t[j]); /* three distinct tokens */
        }
    }
    ck_assert_int_eq(tpo_random_tokens(tpo_test_pool, 0, 3, t), APR_EINVAL);
    ck_assert_ptr_null(t[0]);
    ck_assert_int_eq(tpo_random_tokens(tpo_test_pool, 4096, 2, t), APR_EINVAL);
}
END_TEST

START_TEST(pkce_rfc7636_vector)
{
    const char *v = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";

    ck_assert(tpo_pkce_verifier_valid(v));
    ck_assert_str_eq(tpo_pkce_challenge_s256(tpo_test_pool, v),
                     "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM");
    ck_assert_ptr_null(tpo_pkce_challenge_s256(tpo_test_pool, NULL));
}
END_TEST

START_TEST(pkce_generated_verifiers)
{
    apr_hash_t *seen = apr_hash_make(tpo_test_pool);
    int i;

    for (i = 0; i < 200; i++) {
        char *v = NULL;
        const char *ch;
        ck_assert_int_eq(tpo_pkce_verifier(tpo_test_pool, &v), APR_SUCCESS);
        ck_assert_uint_eq(strlen(v), 43);
        ck_assert(tpo_pkce_verifier_valid(v));
        ck_assert_ptr_null(apr_hash_get(seen, v, APR_HASH_KEY_STRING));
        apr_hash_set(seen, v, APR_HASH_KEY_STRING, v);
        ch = tpo_pkce_challenge_s256(tpo_test_pool, v);
        ck_assert_uint_eq(strlen(ch), 43);
        ck_assert_str_ne(ch, v);
    }
}
END_TEST

START_TEST(pkce_verifier_rules)
{
    char buf[200];

    ck_assert(!tpo_pkce_verifier_valid(NULL));
    ck_assert(!tpo_pkce_verifier_valid(""));
    memset(buf, 'a', sizeof(buf));
    buf[42] = '\0';
    ck_assert(!tpo_pkce_verifier_valid(buf)); /* 42: too short */
    buf[42] = 'a';
    buf[43] = '\0';
    ck_assert(tpo_pkce_verifier_valid(buf)); /* 43 */
    memset(buf, 'Z', sizeof(buf));
    buf[128] = '\0';
    ck_assert(tpo_pkce_verifier_valid(buf)); /* 128 */
    buf[128] = 'Z';
    buf[129] = '\0';
    ck_assert(!tpo_pkce_verifier_valid(buf)); /* 129: too long */

    /* the unreserved set: letters, digits, - . _ ~ */
    ck_assert(tpo_pkce_verifier_valid(
        "0123456789-._~abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"));
    strcpy(buf, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
    buf[10] = '+';
    ck_assert(!tpo_pkce_verifier_valid(buf));
    buf[10] = '/';
    ck_assert(!tpo_pkce_verifier_valid(buf));
    buf[10] = '=';
    ck_assert(!tpo_pkce_verifier_valid(buf));
    buf[10] = ' ';
    ck_assert(!tpo_pkce_verifier_valid(buf));
    buf[10] = '%';
    ck_assert(!tpo_pkce_verifier_valid(buf));
    buf[10] = '\xc3';
    ck_assert(!tpo_pkce_verifier_valid(buf));
    buf[10] = '~';
    ck_assert(tpo_pkce_verifier_valid(buf));
}
END_TEST

int main(void)
{
    Suite *s = suite_create("b64_pkce");
    TCase *tc = tcase_create("core");
    tcase_add_checked_fixture(tc, tpo_test_setup, tpo_test_teardown);
    tcase_add_test(tc, b64_rfc4648_vectors);
    tcase_add_test(tc, b64_url_alphabet);
    tcase_add_test(tc, b64_padding_only_at_end);
    tcase_add_test(tc, b64_invalid_rejected);
    tcase_add_test(tc, b64_length_is_respected);
    tcase_add_test(tc, b64_roundtrip_all_lengths);
    tcase_add_test(tc, random_bytes_and_tokens);
    tcase_add_test(tc, random_tokens_one_draw);
    tcase_add_test(tc, pkce_rfc7636_vector);
    tcase_add_test(tc, pkce_generated_verifiers);
    tcase_add_test(tc, pkce_verifier_rules);
    suite_add_tcase(s, tc);
    return tpo_test_run(s);
}
