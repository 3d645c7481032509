/* SPDX-License-Identifier: Apache-2.0
 * Licensed under the Apache License, Version 2.0 (see LICENSE). */
/* URL, query, HTML escape, return-URL, cookie and navigation tests. */
#include <string.h>
#include <apr_strings.h>
#include <apr_tables.h>
#include "tpo_test.h"
#include "tpo_url.h"
#include "tpo_cookie.h"
#include "tpo_nav.h"

/* ------------------------------------------------------------ encoding */

START_TEST(url_encode_unreserved_and_reserved)
{
    apr_pool_t *p = tpo_test_pool;
    ck_assert_str_eq(tpo_url_encode(p, "AZaz09-._~"), "AZaz09-._~");
    ck_assert_str_eq(tpo_url_encode(p, "a b+c&d=e/f?g#h%"), "a%20b%2Bc%26d%3De%2Ff%3Fg%23h%25");
    ck_assert_str_eq(tpo_url_encode(p, "\xc3\xa9"), "%C3%A9");
    ck_assert_str_eq(tpo_url_encode(p, ""), "");
    ck_assert_str_eq(tpo_url_encode(p, NULL), "");
    ck_assert_str_eq(tpo_url_encode(p, "https://rp.example/cb"), "https%3A%2F%2Frp.example%2Fcb");
}
END_TEST

START_TEST(url_decode_valid)
{
    apr_pool_t *p = tpo_test_pool;
    const char *s = "a%20b+c%2b%2F%c3%A9";
    ck_assert_str_eq(tpo_url_decode(p, s, strlen(s)), "a b c+/\xc3\xa9");
    ck_assert_str_eq(tpo_url_decode(p, "", 0), "");
    /* len bounds the input */
    ck_assert_str_eq(tpo_url_decode(p, "abc%41", 3), "abc");
}
END_TEST

START_TEST(url_decode_invalid)
{
    apr_pool_t *p = tpo_test_pool;
    ck_assert_ptr_null(tpo_url_decode(p, "%", 1));
    ck_assert_ptr_null(tpo_url_decode(p, "a%4", 3));
    ck_assert_ptr_null(tpo_url_decode(p, "%zz", 3));
    ck_assert_ptr_null(tpo_url_decode(p, "%4g", 3));
    ck_assert_ptr_null(tpo_url_decode(p, "a%00b", 5));
    /* an escape cut by len is incomplete */
    ck_assert_ptr_null(tpo_url_decode(p, "ab%41", 4));
    ck_assert_ptr_null(tpo_url_decode(p, NULL, 0));
}
END_TEST

START_TEST(url_encode_decode_roundtrip)
{
    apr_pool_t *p = tpo_test_pool;
    char all[256];
    char *enc, *dec;
    int i;
    for (i = 1; i < 256; i++) {
        all[i - 1] = (char)i;
    }
    all[255] = '\0';
    enc = tpo_url_encode(p, all);
    dec = tpo_url_decode(p, enc, strlen(enc));
    ck_assert_ptr_nonnull(dec);
    ck_assert_str_eq(dec, all);
}
END_TEST

/* --------------------------------------------------------------- query */

START_TEST(query_parse_basic)
{
    apr_pool_t *p = tpo_test_pool;
    int dup = 7;
    apr_table_t *t = tpo_query_parse(p, "code=abc%2Fdef&state=x+y&flag&empty=&q=a=b", 10);
    ck_assert_ptr_nonnull(t);
    ck_assert_str_eq(tpo_query_get_unique(t, "code", &dup), "abc/def");
    ck_assert_int_eq(dup, 0);
    ck_assert_str_eq(tpo_query_get_unique(t, "state", NULL), "x y");
    ck_assert_str_eq(tpo_query_get_unique(t, "flag", NULL), "");
    ck_assert_str_eq(tpo_query_get_unique(t, "empty", NULL), "");
    ck_assert_str_eq(tpo_query_get_unique(t, "q", NULL), "a=b");
    ck_assert_ptr_null(tpo_query_get_unique(t, "missing", &dup));
    ck_assert_int_eq(dup, 0);
    ck_assert_int_eq(apr_table_elts(t)->nelts, 5);
}
END_TEST

START_TEST(query_parse_only_ampersand)
{
    apr_pool_t *p = tpo_test_pool;
    apr_table_t *t = tpo_query_parse(p, "a=1;b=2", 10);
    ck_assert_ptr_nonnull(t);
    ck_assert_str_eq(tpo_query_get_unique(t, "a", NULL), "1;b=2");
    ck_assert_ptr_null(tpo_query_get_unique(t, "b", NULL));
}
END_TEST

START_TEST(query_parse_empty_segments)
{
    apr_pool_t *p = tpo_test_pool;
    apr_table_t *t = tpo_query_parse(p, "&&a=1&&", 1);
    ck_assert_ptr_nonnull(t);
    ck_assert_str_eq(tpo_query_get_unique(t, "a", NULL), "1");
    t = tpo_query_parse(p, "", 5);
    ck_assert_ptr_nonnull(t);
    ck_assert_int_eq(apr_table_elts(t)->nelts, 0);
    t = tpo_query_parse(p, NULL, 5);
    ck_assert_ptr_nonnull(t);
    ck_assert_int_eq(apr_table_elts(t)->nelts, 0);
}
END_TEST

START_TEST(query_parse_bad_escape)
{
    apr_pool_t *p = tpo_test_pool;
    ck_assert_ptr_null(tpo_query_parse(p, "a=1&b=%zz", 10));
    ck_assert_ptr_null(tpo_query_parse(p, "a=1&b=%4", 10));
    ck_assert_ptr_null(tpo_query_parse(p, "a=%00", 10));
    ck_assert_ptr_null(tpo_query_parse(p, "a%00=1", 10));
    ck_assert_ptr_null(tpo_query_parse(p, "a%=1", 10));
}
END_TEST

START_TEST(query_parse_max_params)
{
    apr_pool_t *p = tpo_test_pool;
    ck_assert_ptr_nonnull(tpo_query_parse(p, "a=1&b=2&c=3", 3));
    ck_assert_ptr_null(tpo_query_parse(p, "a=1&b=2&c=3&d=4", 3));
    ck_assert_ptr_null(tpo_query_parse(p, "a&a&a&a", 3));
}
END_TEST

START_TEST(query_duplicates)
{
    apr_pool_t *p = tpo_test_pool;
    int dup = 0;
    apr_table_t *t = tpo_query_parse(p, "state=1&code=c&state=2", 10);
    ck_assert_ptr_nonnull(t);
    ck_assert_ptr_null(tpo_query_get_unique(t, "state", &dup));
    ck_assert_int_eq(dup, 1);
    ck_assert_str_eq(tpo_query_get_unique(t, "code", &dup), "c");
    ck_assert_int_eq(dup, 0);
    /* names are case-sensitive: "State" is another parameter */
    t = tpo_query_parse(p, "state=1&State=2", 10);
    ck_assert_str_eq(tpo_query_get_unique(t, "state", &dup), "1");
    ck_assert_int_eq(dup, 0);
    ck_assert_str_eq(tpo_query_get_unique(t, "State", &dup), "2");
    ck_assert_ptr_null(tpo_query_get_unique(t, "STATE", &dup));
}
END_TEST

START_TEST(url_add_param_cases)
{
    apr_pool_t *p = tpo_test_pool;
    ck_assert_str_eq(tpo_url_add_param(p, "https://idp/auth", "state", "a b"),
                     "https://idp/auth?state=a%20b");
    ck_assert_str_eq(tpo_url_add_param(p, "https://idp/auth?x=1", "r", "https://rp/cb"),
                     "https://idp/auth?x=1&r=https%3A%2F%2Frp%2Fcb");
    ck_assert_str_eq(tpo_url_add_param(p, "https://idp/auth?", "a", "1"), "https://idp/auth?a=1");
    ck_assert_str_eq(tpo_url_add_param(p, "https://idp/auth?x=1&", "a", "1"),
                     "https://idp/auth?x=1&a=1");
    ck_assert_str_eq(tpo_url_add_param(p, "/p#frag", "a", "1"), "/p?a=1#frag");
    ck_assert_str_eq(tpo_url_add_param(p, "/p?x=1#f?g", "a&b", "="), "/p?x=1&a%26b=%3D#f?g");
}
END_TEST

START_TEST(html_escape_cases)
{
    apr_pool_t *p = tpo_test_pool;
    ck_assert_str_eq(tpo_html_escape(p, "<a href=\"x\">'&'</a>"),
                     "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;");
    ck_assert_str_eq(tpo_html_escape(p, "plain text"), "plain text");
    ck_assert_str_eq(tpo_html_escape(p, ""), "");
    ck_assert_str_eq(tpo_html_escape(p, NULL), "");
}
END_TEST

START_TEST(quoted_string_cases)
{
    apr_pool_t *p = tpo_test_pool;
    ck_assert_str_eq(tpo_quoted_string(p, "Staff area"), "\"Staff area\"");
    ck_assert_str_eq(tpo_quoted_string(p, "say \"hi\""), "\"say \\\"hi\\\"\"");
    ck_assert_str_eq(tpo_quoted_string(p, "a\\\"b"), "\"a\\\\\\\"b\"");
    ck_assert_str_eq(tpo_quoted_string(p, "tab\there\r\nx\x7f"), "\"tab\there??x?\"");
    ck_assert_str_eq(tpo_quoted_string(p, ""), "\"\"");
    ck_assert_str_eq(tpo_quoted_string(p, NULL), "\"\"");
    /* httpd's escaped AuthName, decoded and quoted again */
    ck_assert_str_eq(tpo_quoted_pairs_decode(p, "a \\\"b\\\" \\\\ c\\"), "a \"b\" \\ c\\");
    ck_assert_str_eq(tpo_quoted_pairs_decode(p, "plain"), "plain");
    ck_assert_str_eq(tpo_quoted_pairs_decode(p, NULL), "");
    ck_assert_str_eq(tpo_quoted_string(p, tpo_quoted_pairs_decode(p, "A \\\"x\\\"")),
                     "\"A \\\"x\\\"\"");
}
END_TEST

/* ---------------------------------------------------------- return URL */

START_TEST(return_url_accepts_local)
{
    ck_assert_int_eq(tpo_return_url_is_local("/"), 1);
    ck_assert_int_eq(tpo_return_url_is_local("/a/b?x=1#f"), 1);
    ck_assert_int_eq(tpo_return_url_is_local("/app/?next=%2F%2Fnot-a-redirect"), 1);
    ck_assert_int_eq(tpo_return_url_is_local("/a%20b/c"), 1);
    ck_assert_int_eq(tpo_return_url_is_local("/a//b"), 1);
    ck_assert_int_eq(tpo_return_url_is_local("/https://evil.example"), 1);
}
END_TEST

START_TEST(return_url_refuses)
{
    static const char *bad[] = {
        "",
        "//evil.example",
        "///evil",
        "/\\evil",
        "\\/evil",
        "https://evil",
        "https:evil",
        "javascript:alert(1)",
        "/%2F%2Fevil",
        "/%2f%2fevil",
        "/%5Cevil",
        "/%5cevil",
        "%2F%2Fevil",
        "/%252F%252Fevil",
        "/a\\b",
        "/a?x=\\",
        "/\r\nSet-Cookie:x",
        "/a\rb",
        "/a\nb",
        "/\t/evil.example",
        "/a\tb",
        "/a\x01",
        "/a\x7f",
        "/a b",
        "/a\xc3\xa9",
        "evil.example",
        "./a",
        "?x=1",
        "#f",
        "/%09/evil.example",
        "/%0d%0a",
    };
    size_t i;
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        ck_assert_msg(tpo_return_url_is_local(bad[i]) == 0, "accepted bad return URL #%zu", i);
    }
    ck_assert_int_eq(tpo_return_url_is_local(NULL), 0);
}
END_TEST

/* -------------------------------------------------------------- cookie */

static const char *find(const char *h, const char *n)
{
    const char *v = NULL;
    apr_size_t len = 0;
    if (!tpo_cookie_find(h, n, &v, &len)) {
        return NULL;
    }
    return apr_pstrmemdup(tpo_test_pool, v, len);
}

START_TEST(cookie_find_basic)
{
    ck_assert_str_eq(find("a=1; b=2", "a"), "1");
    ck_assert_str_eq(find("a=1; b=2", "b"), "2");
    ck_assert_str_eq(find("a=1;b=2", "b"), "2");
    ck_assert_str_eq(find("  a=1 ;  b=2  ", "a"), "1");
    ck_assert_str_eq(find("  a=1 ;  b=2  ", "b"), "2");
    ck_assert_str_eq(find("a = 1; b=2", "a"), "1");
    ck_assert_str_eq(find("a=1;;; b=2;", "b"), "2");
    ck_assert_ptr_null(find("a=1; b=2", "c"));
    ck_assert_ptr_null(find("", "a"));
    ck_assert_ptr_null(find(NULL, "a"));
    ck_assert_ptr_null(find("a=1", ""));
}
END_TEST

START_TEST(cookie_find_points_into_header)
{
    const char *h = "x=1; session=abc.def; y=2";
    const char *v = NULL;
    apr_size_t len = 0;
    ck_assert_int_eq(tpo_cookie_find(h, "session", &v, &len), 1);
    ck_assert_ptr_eq(v, h + 13);
    ck_assert_uint_eq(len, 7);
}
END_TEST

START_TEST(cookie_find_prefix_suffix_names)
{
    ck_assert_str_eq(find("xsession=1; session=2", "session"), "2");
    ck_assert_str_eq(find("session_x=1; session=2", "session"), "2");
    ck_assert_str_eq(find("sessionx=1;session=2", "session"), "2");
    ck_assert_ptr_null(find("xsession=1; sessionx=2", "session"));
    ck_assert_str_eq(find("a=session=1; session=2", "session"), "2");
    /* exact, case-sensitive */
    ck_assert_ptr_null(find("Session=1", "session"));
    ck_assert_str_eq(find("Session=1; session=2", "session"), "2");
}
END_TEST

START_TEST(cookie_find_values)
{
    ck_assert_str_eq(find("a=; b=2", "a"), "");
    ck_assert_str_eq(find("a=", "a"), "");
    ck_assert_str_eq(find("a=\"quoted\"; b=2", "a"), "quoted");
    ck_assert_str_eq(find("a=\"\"", "a"), "");
    ck_assert_str_eq(find("a=\"", "a"), "\"");
    ck_assert_str_eq(find("a=x=y", "a"), "x=y");
    /* the first one wins */
    ck_assert_str_eq(find("a=1; a=2", "a"), "1");
    /* a pair without '=' is not a cookie called "a" */
    ck_assert_ptr_null(find("a; b=2", "a"));
    ck_assert_str_eq(find("a; b=2", "b"), "2");
}
END_TEST

START_TEST(cookie_build_attrs)
{
    apr_pool_t *p = tpo_test_pool;
    tpo_cookie_attrs a = {NULL, NULL, -1, 0, 0, NULL};
    ck_assert_str_eq(tpo_cookie_build(p, "s", "v", &a), "s=v; Path=/");
    ck_assert_str_eq(tpo_cookie_build(p, "s", "v", NULL), "s=v; Path=/");

    a.path = "/app";
    a.domain = "example.com";
    a.max_age = 3600;
    a.secure = 1;
    a.http_only = 1;
    a.same_site = "Lax";
    ck_assert_str_eq(tpo_cookie_build(p, "tpo_session", "abc-_DEF", &a),
                     "tpo_session=abc-_DEF; Path=/app; Domain=example.com; Max-Age=3600; "
                     "Secure; HttpOnly; SameSite=Lax");
    a.same_site = "None";
    a.domain = NULL;
    a.http_only = 0;
    ck_assert_str_eq(tpo_cookie_build(p, "s", "v", &a),
                     "s=v; Path=/app; Max-Age=3600; Secure; SameSite=None");
    a.same_site = "Strict";
    a.secure = 0;
    ck_assert_str_eq(tpo_cookie_build(p, "s", "v", &a),
                     "s=v; Path=/app; Max-Age=3600; SameSite=Strict");
}
END_TEST

START_TEST(cookie_build_delete)
{
    apr_pool_t *p = tpo_test_pool;
    tpo_cookie_attrs a = {"/", NULL, 0, 1, 1, "Lax"};
    ck_assert_str_eq(tpo_cookie_build(p, "s", "", &a),
                     "s=; Path=/; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Secure; "
                     "HttpOnly; SameSite=Lax");
}
END_TEST

START_TEST(cookie_build_refuses_injection)
{
    apr_pool_t *p = tpo_test_pool;
    tpo_cookie_attrs a = {NULL, NULL, -1, 0, 0, NULL};
    ck_assert_ptr_null(tpo_cookie_build(p, "s", "v; Domain=evil", &a));
    ck_assert_ptr_null(tpo_cookie_build(p, "s", "v\r\nX: y", &a));
    ck_assert_ptr_null(tpo_cookie_build(p, "s", "a b", &a));
    ck_assert_ptr_null(tpo_cookie_build(p, "s=x", "v", &a));
    ck_assert_ptr_null(tpo_cookie_build(p, "", "v", &a));
    ck_assert_ptr_null(tpo_cookie_build(p, NULL, "v", &a));
    a.path = "/a; Domain=evil";
    ck_assert_ptr_null(tpo_cookie_build(p, "s", "v", &a));
    a.path = NULL;
    a.domain = "x\n";
    ck_assert_ptr_null(tpo_cookie_build(p, "s", "v", &a));
    a.domain = NULL;
    a.same_site = "lax; x";
    ck_assert_ptr_null(tpo_cookie_build(p, "s", "v", &a));
}
END_TEST

START_TEST(cookie_name_validity)
{
    ck_assert_int_eq(tpo_cookie_name_valid("tpo_session"), 1);
    ck_assert_int_eq(tpo_cookie_name_valid("__Host-tpo"), 1);
    ck_assert_int_eq(tpo_cookie_name_valid("a!#$%&'*+-.^_`|~9"), 1);
    ck_assert_int_eq(tpo_cookie_name_valid(""), 0);
    ck_assert_int_eq(tpo_cookie_name_valid(NULL), 0);
    ck_assert_int_eq(tpo_cookie_name_valid("a b"), 0);
    ck_assert_int_eq(tpo_cookie_name_valid("a=b"), 0);
    ck_assert_int_eq(tpo_cookie_name_valid("a;b"), 0);
    ck_assert_int_eq(tpo_cookie_name_valid("a\"b"), 0);
    ck_assert_int_eq(tpo_cookie_name_valid("a(b)"), 0);
    ck_assert_int_eq(tpo_cookie_name_valid("a\xc3\xa9"), 0);
}
END_TEST

/* ---------------------------------------------------------- navigation */

#define BROWSER_ACCEPT "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"

START_TEST(nav_browser)
{
    ck_assert_int_eq(tpo_is_navigation("GET", NULL, NULL, NULL, BROWSER_ACCEPT), 1);
    ck_assert_int_eq(tpo_is_navigation("GET", NULL, "navigate", "document", BROWSER_ACCEPT), 1);
    ck_assert_int_eq(tpo_is_navigation("GET", NULL, "navigate", "iframe", BROWSER_ACCEPT), 1);
    ck_assert_int_eq(tpo_is_navigation("GET", NULL, NULL, NULL, "application/xhtml+xml"), 1);
    ck_assert_int_eq(tpo_is_navigation("GET", NULL, NULL, NULL, " Text/HTML ; charset=utf-8"), 1);
    ck_assert_int_eq(tpo_is_navigation("GET", NULL, NULL, NULL, "*/*, text/html;q=0.5"), 1);
}
END_TEST

START_TEST(nav_not_navigation)
{
    /* method */
    ck_assert_int_eq(tpo_is_navigation("POST", NULL, NULL, NULL, BROWSER_ACCEPT), 0);
    ck_assert_int_eq(tpo_is_navigation("OPTIONS", NULL, NULL, NULL, BROWSER_ACCEPT), 0);
    ck_assert_int_eq(tpo_is_navigation("HEAD", NULL, NULL, NULL, BROWSER_ACCEPT), 0);
    ck_assert_int_eq(tpo_is_navigation(NULL, NULL, NULL, NULL, BROWSER_ACCEPT), 0);
    /* XHR */
    ck_assert_int_eq(tpo_is_navigation("GET", "XMLHttpRequest", NULL, NULL, BROWSER_ACCEPT), 0);
    /* fetch */
    ck_assert_int_eq(tpo_is_navigation("GET", NULL, "cors", "empty", BROWSER_ACCEPT), 0);
    ck_assert_int_eq(tpo_is_navigation("GET", NULL, "no-cors", NULL, BROWSER_ACCEPT), 0);
    ck_assert_int_eq(tpo_is_navigation("GET", NULL, "same-origin", NULL, BROWSER_ACCEPT), 0);
    ck_assert_int_eq(tpo_is_navigation("GET", NULL, "navigate", "image", BROWSER_ACCEPT), 0);
    ck_assert_int_eq(tpo_is_navigation("GET", NULL, NULL, "script", BROWSER_ACCEPT), 0);
    /* Accept */
    ck_assert_int_eq(tpo_is_navigation("GET", NULL, NULL, NULL, NULL), 0);
    ck_assert_int_eq(tpo_is_navigation("GET", NULL, NULL, NULL, "*/*"), 0);
    ck_assert_int_eq(tpo_is_navigation("GET", NULL, NULL, NULL, "application/json"), 0);
    ck_assert_int_eq(tpo_is_navigation("GET", NULL, NULL, NULL, "text/htmlx"), 0);
    ck_assert_int_eq(tpo_is_navigation("GET", NULL, NULL, NULL, "text/html;q=0"), 0);
    ck_assert_int_eq(tpo_is_navigation("GET", NULL, NULL, NULL, "text/html;q=0.0, */*"), 0);
    ck_assert_int_eq(tpo_is_navigation("GET", NULL, NULL, NULL, ""), 0);
}
END_TEST

START_TEST(url_add_params_as_one_by_one)
{
    static const char *const urls[] = {"https://op.example/auth",
                                       "https://op.example/auth?x=1",
                                       "https://op.example/auth?",
                                       "https://op.example/auth?x=1&",
                                       "https://op.example/auth#frag",
                                       "https://op.example/auth?x=1#f?g",
                                       "",
                                       NULL};
    static const char *const nv[] = {
        "response_type", "code", "scope", "openid email", "state", "a/b+c=d&e", "empty", "", NULL};
    int u, i;

    for (u = 0; urls[u]; u++) {
        apr_array_header_t *a = apr_array_make(tpo_test_pool, 8, sizeof(const char *));
        char *one = (char *)urls[u];
        for (i = 0; nv[i]; i += 2) {
            APR_ARRAY_PUSH(a, const char *) = nv[i];
            APR_ARRAY_PUSH(a, const char *) = nv[i + 1];
            one = tpo_url_add_param(tpo_test_pool, one, nv[i], nv[i + 1]);
        }
        ck_assert_str_eq(tpo_url_add_params(tpo_test_pool, urls[u], a), one);
    }
}
END_TEST

int main(void)
{
    Suite *s = suite_create("url_cookie");
    TCase *tc = tcase_create("core");
    tcase_add_checked_fixture(tc, tpo_test_setup, tpo_test_teardown);
    tcase_add_test(tc, url_encode_unreserved_and_reserved);
    tcase_add_test(tc, url_add_params_as_one_by_one);
    tcase_add_test(tc, url_decode_valid);
    tcase_add_test(tc, url_decode_invalid);
    tcase_add_test(tc, url_encode_decode_roundtrip);
    tcase_add_test(tc, query_parse_basic);
    tcase_add_test(tc, query_parse_only_ampersand);
    tcase_add_test(tc, query_parse_empty_segments);
    tcase_add_test(tc, query_parse_bad_escape);
    tcase_add_test(tc, query_parse_max_params);
    tcase_add_test(tc, query_duplicates);
    tcase_add_test(tc, url_add_param_cases);
    tcase_add_test(tc, html_escape_cases);
    tcase_add_test(tc, quoted_string_cases);
    tcase_add_test(tc, return_url_accepts_local);
    tcase_add_test(tc, return_url_refuses);
    tcase_add_test(tc, cookie_find_basic);
    tcase_add_test(tc, cookie_find_points_into_header);
    tcase_add_test(tc, cookie_find_prefix_suffix_names);
    tcase_add_test(tc, cookie_find_values);
    tcase_add_test(tc, cookie_build_attrs);
    tcase_add_test(tc, cookie_build_delete);
    tcase_add_test(tc, cookie_build_refuses_injection);
    tcase_add_test(tc, cookie_name_validity);
    tcase_add_test(tc, nav_browser);
    tcase_add_test(tc, nav_not_navigation);
    suite_add_tcase(s, tc);
    return tpo_test_run(s);
}
