/* SPDX-License-Identifier: Apache-2.0
 * Licensed under the Apache License, Version 2.0 (see LICENSE). */
/* Origins, CORS preflight values and same-origin tests (tpo_origin.c). */
#include <string.h>
#include <apr_strings.h>
#include <apr_tables.h>
#include "tpo_test.h"
#include "tpo_origin.h"

static int tok(const char *s)
{
    return tpo_http_token(s, strlen(s));
}

START_TEST(http_token_cases)
{
    char big[70];

    ck_assert_int_eq(tok("GET"), 1);
    ck_assert_int_eq(tok("X-Requested-With"), 1);
    ck_assert_int_eq(tok("a!#$%&'*+-.^_`|~9"), 1);
    ck_assert_int_eq(tok(""), 0);
    ck_assert_int_eq(tok("GET DELETE"), 0);
    ck_assert_int_eq(tok("GET,PUT"), 0);
    ck_assert_int_eq(tok("GET\r\nX-Injected: 1"), 0);
    ck_assert_int_eq(tok("a\tb"), 0);
    ck_assert_int_eq(tok("<script>"), 0);
    ck_assert_int_eq(tok("a\"b"), 0);
    ck_assert_int_eq(tok("x;y=1"), 0);
    ck_assert_int_eq(tok("caf\xc3\xa9"), 0);
    ck_assert_int_eq(tpo_http_token(NULL, 0), 0);
    /* len bounds the input: the NUL inside is never looked at */
    ck_assert_int_eq(tpo_http_token("GET\0junk", 3), 1);
    memset(big, 'a', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    ck_assert_int_eq(tpo_http_token(big, 64), 1);
    ck_assert_int_eq(tpo_http_token(big, 65), 0);
}
END_TEST

START_TEST(token_list_cases)
{
    apr_pool_t *p = tpo_test_pool;
    char *many;
    int i;

    ck_assert_str_eq(tpo_cors_token_list(p, "x-a"), "x-a");
    ck_assert_str_eq(tpo_cors_token_list(p, "X-Requested-With,content-type"),
                     "X-Requested-With, content-type");
    ck_assert_str_eq(tpo_cors_token_list(p, "  a ,\tb,, c  "), "a, b, c");
    ck_assert_str_eq(tpo_cors_token_list(p, ""), "");
    ck_assert_str_eq(tpo_cors_token_list(p, " , ,"), "");
    ck_assert_ptr_null(tpo_cors_token_list(p, NULL));
    ck_assert_ptr_null(tpo_cors_token_list(p, "a, <script>"));
    ck_assert_ptr_null(tpo_cors_token_list(p, "a, bad header"));
    ck_assert_ptr_null(tpo_cors_token_list(p, "a;x-injected=1"));
    ck_assert_ptr_null(tpo_cors_token_list(p, "a\r\nSet-Cookie: x=1"));
    /* at most 32 names */
    many = "";
    for (i = 0; i < 32; i++) {
        many = apr_psprintf(p, "%s%sh%d", many, i ? "," : "", i);
    }
    ck_assert_ptr_nonnull(tpo_cors_token_list(p, many));
    ck_assert_ptr_null(tpo_cors_token_list(p, apr_pstrcat(p, many, ",h32", NULL)));
}
END_TEST

START_TEST(origin_valid_cases)
{
    ck_assert_int_eq(tpo_origin_valid("http://a.example"), 1);
    ck_assert_int_eq(tpo_origin_valid("https://app2.example:8443"), 1);
    ck_assert_int_eq(tpo_origin_valid("http://127.0.0.1:9"), 1);
    ck_assert_int_eq(tpo_origin_valid("http://[::1]:8080"), 1);
    ck_assert_int_eq(tpo_origin_valid("HTTPS://A.example"), 1);
    ck_assert_int_eq(tpo_origin_valid("null"), 0);
    ck_assert_int_eq(tpo_origin_valid(NULL), 0);
    ck_assert_int_eq(tpo_origin_valid(""), 0);
    ck_assert_int_eq(tpo_origin_valid("http://"), 0);
    ck_assert_int_eq(tpo_origin_valid("http://:80"), 0);
    ck_assert_int_eq(tpo_origin_valid("http://a.example/"), 0);
    ck_assert_int_eq(tpo_origin_valid("http://a.example/path"), 0);
    ck_assert_int_eq(tpo_origin_valid("http://u@a.example"), 0);
    ck_assert_int_eq(tpo_origin_valid("http://a.example:1:2"), 0);
    ck_assert_int_eq(tpo_origin_valid("http://a.example x"), 0);
    ck_assert_int_eq(tpo_origin_valid("http://a.example\r\nX-Injected: 1"), 0);
    ck_assert_int_eq(tpo_origin_valid("http://a.example\"onload=x"), 0);
    ck_assert_int_eq(tpo_origin_valid("ftp://a.example"), 0);
    ck_assert_int_eq(tpo_origin_valid("javascript:alert(1)"), 0);
    ck_assert_int_eq(tpo_origin_valid("*"), 0);
    ck_assert_int_eq(tpo_origin_valid("http://a.example:"), 0);
    ck_assert_int_eq(tpo_origin_valid("http://a.example:8x"), 0);
    ck_assert_int_eq(tpo_origin_valid("http://a.example:123456"), 0);
    ck_assert_int_eq(tpo_origin_valid("http://[::1"), 0);
    ck_assert_int_eq(tpo_origin_valid("http://[]"), 0);
    ck_assert_int_eq(tpo_origin_valid("http://[::1]x"), 0);
    ck_assert_int_eq(tpo_origin_valid("http://[::1]"), 1);
}
END_TEST

START_TEST(origin_allowed_cases)
{
    apr_array_header_t *list = apr_array_make(tpo_test_pool, 2, sizeof(const char *));

    APR_ARRAY_PUSH(list, const char *) = "http://allowed.example";
    APR_ARRAY_PUSH(list, const char *) = "https://app2.example:8443";
    ck_assert_int_eq(tpo_origin_allowed("http://allowed.example", list, 0), 1);
    ck_assert_int_eq(tpo_origin_allowed("HTTP://Allowed.Example", list, 0), 1);
    ck_assert_int_eq(tpo_origin_allowed("https://app2.example:8443", list, 0), 1);
    ck_assert_int_eq(tpo_origin_allowed("https://app2.example", list, 0), 0);
    ck_assert_int_eq(tpo_origin_allowed("http://allowed.example:80", list, 0), 0);
    ck_assert_int_eq(tpo_origin_allowed("http://allowed.example.evil", list, 0), 0);
    ck_assert_int_eq(tpo_origin_allowed("https://allowed.example", list, 0), 0);
    /* `*`: any valid origin, never an invalid or opaque one */
    ck_assert_int_eq(tpo_origin_allowed("http://any.example", list, 1), 1);
    ck_assert_int_eq(tpo_origin_allowed("http://any.example", NULL, 1), 1);
    ck_assert_int_eq(tpo_origin_allowed("null", list, 1), 0);
    ck_assert_int_eq(tpo_origin_allowed("http://a.example/x", NULL, 1), 0);
    ck_assert_int_eq(tpo_origin_allowed("http://any.example", NULL, 0), 0);
}
END_TEST

START_TEST(url_on_origin_cases)
{
    const char *o = "http://127.0.0.1:8080";

    ck_assert_str_eq(tpo_url_on_origin("http://127.0.0.1:8080/x?y=1", o), "/x?y=1");
    ck_assert_str_eq(tpo_url_on_origin("HTTP://127.0.0.1:8080/", o), "/");
    /* the local part is returned as is: the caller checks it ("//evil") */
    ck_assert_str_eq(tpo_url_on_origin("http://127.0.0.1:8080//evil", o), "//evil");
    ck_assert_ptr_null(tpo_url_on_origin("http://127.0.0.1:8080", o));
    ck_assert_ptr_null(tpo_url_on_origin("http://127.0.0.1:80801/x", o));
    ck_assert_ptr_null(tpo_url_on_origin("http://127.0.0.1:8080@evil.example/", o));
    ck_assert_ptr_null(tpo_url_on_origin("http://127.0.0.1:8080.evil.example/", o));
    ck_assert_ptr_null(tpo_url_on_origin("https://127.0.0.1:8080/x", o));
    ck_assert_ptr_null(tpo_url_on_origin("/x", o));
    ck_assert_ptr_null(tpo_url_on_origin(NULL, o));
    ck_assert_ptr_null(tpo_url_on_origin("/x", ""));
}
END_TEST

START_TEST(url_same_origin_cases)
{
    const char *o = "http://rp.example";

    ck_assert_int_eq(tpo_url_same_origin("http://rp.example", o), 1);
    ck_assert_int_eq(tpo_url_same_origin("http://rp.example/page", o), 1);
    ck_assert_int_eq(tpo_url_same_origin("http://rp.example?x", o), 1);
    ck_assert_int_eq(tpo_url_same_origin("http://rp.example#f", o), 1);
    ck_assert_int_eq(tpo_url_same_origin("http://rp.example.evil/", o), 0);
    ck_assert_int_eq(tpo_url_same_origin("http://rp.example:81/", o), 0);
    ck_assert_int_eq(tpo_url_same_origin("http://rp.example@evil/", o), 0);
    ck_assert_int_eq(tpo_url_same_origin("https://rp.example/", o), 0);
    ck_assert_int_eq(tpo_url_same_origin(NULL, o), 0);
    ck_assert_int_eq(tpo_url_same_origin("x", ""), 0);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("origin");
    TCase *tc = tcase_create("core");
    tcase_add_checked_fixture(tc, tpo_test_setup, tpo_test_teardown);
    tcase_add_test(tc, http_token_cases);
    tcase_add_test(tc, token_list_cases);
    tcase_add_test(tc, origin_valid_cases);
    tcase_add_test(tc, origin_allowed_cases);
    tcase_add_test(tc, url_on_origin_cases);
    tcase_add_test(tc, url_same_origin_cases);
    suite_add_tcase(s, tc);
    return tpo_test_run(s);
}
