/* SPDX-License-Identifier: Apache-2.0
 * Licensed under the Apache License, Version 2.0 (see LICENSE). */
/* A form POST kept across a login (tpo_post.c): the limit, form types, the
 * replay body, the record codec (any byte survives) and the replay page
 * (everything escaped); the pending login carries the kept POST's id. */
#include <string.h>
#include <apr_strings.h>
#include "tpo_test.h"
#include "tpo_nav.h"
#include "tpo_pending.h"
#include "tpo_post.h"

static const char ID[] = "AbCdEfGhIjKlMnOpQrStUvWxYz0123456789-_abcde"; /* 43 */

START_TEST(limit_parse_cases)
{
    long v = -1;

    ck_assert_ptr_null(tpo_post_limit_parse("off", &v));
    ck_assert_int_eq(v, 0);
    ck_assert_ptr_null(tpo_post_limit_parse("OFF", &v));
    ck_assert_int_eq(v, 0);
    ck_assert_ptr_null(tpo_post_limit_parse("1", &v));
    ck_assert_int_eq(v, 1);
    ck_assert_ptr_null(tpo_post_limit_parse("65536", &v));
    ck_assert_int_eq(v, 65536);
    ck_assert_ptr_null(tpo_post_limit_parse("64K", &v));
    ck_assert_int_eq(v, 65536);
    ck_assert_ptr_null(tpo_post_limit_parse("512k", &v));
    ck_assert_int_eq(v, TPO_POST_MAX_BYTES);
    v = 7;
    ck_assert_ptr_nonnull(tpo_post_limit_parse("513K", &v));
    ck_assert_ptr_nonnull(tpo_post_limit_parse("1M", &v));
    ck_assert_ptr_nonnull(tpo_post_limit_parse("524289", &v));
    ck_assert_ptr_nonnull(tpo_post_limit_parse("99999999999999999999999", &v));
    ck_assert_ptr_nonnull(tpo_post_limit_parse("0", &v));
    ck_assert_ptr_nonnull(tpo_post_limit_parse("-1", &v));
    ck_assert_ptr_nonnull(tpo_post_limit_parse("on", &v));
    ck_assert_ptr_nonnull(tpo_post_limit_parse("", &v));
    ck_assert_ptr_nonnull(tpo_post_limit_parse("10KB", &v));
    ck_assert_ptr_nonnull(tpo_post_limit_parse("K", &v));
    ck_assert_int_eq(v, 7); /* untouched on error */
}
END_TEST

START_TEST(form_type_cases)
{
    ck_assert_int_eq(tpo_post_form_type("application/x-www-form-urlencoded"),
                     TPO_POST_FORM_URLENCODED);
    ck_assert_int_eq(tpo_post_form_type("Application/X-WWW-Form-Urlencoded; charset=UTF-8"),
                     TPO_POST_FORM_URLENCODED);
    ck_assert_int_eq(tpo_post_form_type("multipart/form-data; boundary=----x"),
                     TPO_POST_FORM_MULTIPART);
    ck_assert_int_eq(tpo_post_form_type(" multipart/form-data ;boundary=a"),
                     TPO_POST_FORM_MULTIPART);
    ck_assert_int_eq(tpo_post_form_type("application/x-www-form-urlencodedx"), TPO_POST_FORM_NONE);
    ck_assert_int_eq(tpo_post_form_type("application/json"), TPO_POST_FORM_NONE);
    ck_assert_int_eq(tpo_post_form_type("text/plain"), TPO_POST_FORM_NONE);
    ck_assert_int_eq(tpo_post_form_type("multipart/mixed; boundary=a"), TPO_POST_FORM_NONE);
    ck_assert_int_eq(tpo_post_form_type(""), TPO_POST_FORM_NONE);
    ck_assert_int_eq(tpo_post_form_type(NULL), TPO_POST_FORM_NONE);
}
END_TEST

START_TEST(marker_cases)
{
    apr_pool_t *p = tpo_test_pool;
    char *body = tpo_post_marker_body(p, ID);
    const char *id;

    ck_assert_uint_eq(strlen(body), TPO_POST_MARKER_LEN);
    id = tpo_post_marker_id(p, body, strlen(body));
    ck_assert_ptr_nonnull(id);
    ck_assert_str_eq(id, ID);
    ck_assert_int_eq(tpo_post_id_ok(ID), 1);
    /* anything else is the application's own body */
    ck_assert_ptr_null(tpo_post_marker_id(p, body, strlen(body) - 1));
    ck_assert_ptr_null(tpo_post_marker_id(p, "x", 1));
    ck_assert_ptr_null(tpo_post_marker_id(p, NULL, 0));
    body[3] = 'X';
    ck_assert_ptr_null(tpo_post_marker_id(p, body, strlen(body)));
    body = tpo_post_marker_body(p, ID);
    body[TPO_POST_MARKER_LEN - 1] = '%'; /* not base64url */
    ck_assert_ptr_null(tpo_post_marker_id(p, body, TPO_POST_MARKER_LEN));
    body = apr_pstrcat(p, "tpo_post_replaz=", ID, NULL);
    ck_assert_ptr_null(tpo_post_marker_id(p, body, strlen(body)));
    ck_assert_int_eq(tpo_post_id_ok("short"), 0);
    ck_assert_int_eq(tpo_post_id_ok(apr_pstrcat(p, ID, "x", NULL)), 0);
    ck_assert_int_eq(tpo_post_id_ok(NULL), 0);
}
END_TEST

START_TEST(record_roundtrip_any_bytes)
{
    apr_pool_t *p = tpo_test_pool;
    /* field order, '+' and %20, empty values, repeated names, NUL and
     * high bytes: kept as bytes, never re-encoded */
    static const char body[] = "b=2&a=1+2%202&empty=&a=&x=\0\xff\x80%00&&=v&a=3";
    tpo_post_rec in, out;
    char *enc;
    apr_size_t len;

    memset(&in, 0, sizeof(in));
    in.created = 1000;
    in.expires = 2000;
    in.url = "/app/form?x=1&y=%2F";
    in.content_type = "application/x-www-form-urlencoded";
    in.body = body;
    in.body_len = sizeof(body) - 1;
    enc = tpo_post_encode(p, &in, &len);
    ck_assert_int_eq(tpo_post_decode(p, enc, len, &out), APR_SUCCESS);
    ck_assert_int_eq(out.created, 1000);
    ck_assert_int_eq(out.expires, 2000);
    ck_assert_str_eq(out.url, in.url);
    ck_assert_str_eq(out.content_type, in.content_type);
    ck_assert_ptr_null(out.session);
    ck_assert_uint_eq(out.body_len, sizeof(body) - 1);
    ck_assert_int_eq(memcmp(out.body, body, sizeof(body) - 1), 0);

    /* bound to a session; an empty body is a body */
    in.session = "handle123";
    in.body = "";
    in.body_len = 0;
    enc = tpo_post_encode(p, &in, &len);
    ck_assert_int_eq(tpo_post_decode(p, enc, len, &out), APR_SUCCESS);
    ck_assert_str_eq(out.session, "handle123");
    ck_assert_uint_eq(out.body_len, 0);

    /* damaged records */
    ck_assert_int_eq(tpo_post_decode(p, enc, len - 1, &out), APR_EINVAL);
    ck_assert_int_eq(tpo_post_decode(p, enc, 3, &out), APR_EINVAL);
    ck_assert_int_eq(tpo_post_decode(p, "TPL\x02", 4, &out), APR_EINVAL);
    in.url = NULL;
    enc = tpo_post_encode(p, &in, &len);
    ck_assert_int_eq(tpo_post_decode(p, enc, len, &out), APR_EINVAL);
}
END_TEST

START_TEST(page_escapes_everything)
{
    apr_pool_t *p = tpo_test_pool;
    tpo_form_field f[2] = {{"\"><script>alert(1)</script>", "'\"><script>x</script>&amp;"},
                           {TPO_POST_FIELD, ID}};
    char *page = tpo_post_page(p, "/a?x=\"><script>alert(2)</script>&y='", f, 2, "Nonce_1-x");
    char *csp;

    ck_assert_ptr_nonnull(page);
    /* the only script is ours */
    ck_assert_ptr_null(strstr(page, "<script>"));
    ck_assert_ptr_null(strstr(page, "\"><script"));
    ck_assert_ptr_null(strstr(page, "alert(1)</script>"));
    ck_assert_ptr_nonnull(strstr(page, "<script nonce=\"Nonce_1-x\">"));
    ck_assert_ptr_nonnull(strstr(page, "name=\"&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;\""));
    ck_assert_ptr_nonnull(
        strstr(page, "value=\"&#39;&quot;&gt;&lt;script&gt;x&lt;/script&gt;&amp;amp;\""));
    ck_assert_ptr_nonnull(strstr(
        page, "action=\"/a?x=&quot;&gt;&lt;script&gt;alert(2)&lt;/script&gt;&amp;y=&#39;\""));
    ck_assert_ptr_nonnull(
        strstr(page, apr_pstrcat(p, "<input type=\"hidden\" name=\"" TPO_POST_FIELD "\" value=\"",
                                 ID, "\">", NULL)));
    ck_assert_ptr_nonnull(strstr(page, "method=\"post\""));
    ck_assert_ptr_nonnull(strstr(page, "<button type=\"submit\">"));
    ck_assert_ptr_nonnull(strstr(page, "</body></html>"));
    csp = tpo_post_page_csp(p, "Nonce_1-x");
    ck_assert_str_eq(csp, "default-src 'none'; script-src 'nonce-Nonce_1-x'; base-uri 'none'; "
                          "frame-ancestors 'none'");

    /* a nonce that could break out is refused: no script, a CSP without one */
    page = tpo_post_page(p, "/a", f, 2, "x\"><script>");
    ck_assert_ptr_null(strstr(page, "<script"));
    ck_assert_ptr_nonnull(strstr(page, "<button type=\"submit\">"));
    ck_assert_ptr_nonnull(strstr(page, "</body></html>"));
    csp = tpo_post_page_csp(p, "x'; script-src *");
    ck_assert_ptr_null(strstr(csp, "script-src"));
    ck_assert_ptr_null(strstr(tpo_post_page(p, "/a", f, 2, NULL), "<script"));
}
END_TEST

START_TEST(pending_carries_post_id)
{
    apr_pool_t *p = tpo_test_pool;
    tpo_pending in, out;
    char *enc;
    apr_size_t len;

    memset(&in, 0, sizeof(in));
    in.created = 1;
    in.expires = 2;
    in.state = "s";
    in.provider = "op";
    in.code_verifier = "v";
    in.redirect_uri = "/cb";
    in.return_url = "/form";
    enc = tpo_pending_encode(p, &in, &len);
    ck_assert_int_eq(tpo_pending_decode(p, enc, len, &out), APR_SUCCESS);
    ck_assert_ptr_null(out.post_id);
    in.post_id = ID;
    enc = tpo_pending_encode(p, &in, &len);
    ck_assert_int_eq(tpo_pending_decode(p, enc, len, &out), APR_SUCCESS);
    ck_assert_str_eq(out.post_id, ID);
}
END_TEST

START_TEST(form_navigation_cases)
{
    const char *acc = "text/html,application/xhtml+xml,*/*;q=0.8";

    /* a browser's form submission */
    ck_assert_int_eq(tpo_is_form_navigation(NULL, "navigate", "document", acc), 1);
    ck_assert_int_eq(tpo_is_form_navigation(NULL, NULL, NULL, acc), 1);
    /* scripts' requests: 401 as before */
    ck_assert_int_eq(tpo_is_form_navigation("XMLHttpRequest", NULL, NULL, acc), 0);
    ck_assert_int_eq(tpo_is_form_navigation(NULL, "cors", "empty", "*/*"), 0);
    ck_assert_int_eq(tpo_is_form_navigation(NULL, "same-origin", "empty", acc), 0);
    ck_assert_int_eq(tpo_is_form_navigation(NULL, NULL, NULL, "application/json"), 0);
    /* GET keeps its own rule */
    ck_assert_int_eq(tpo_is_navigation("POST", NULL, "navigate", "document", acc), 0);
    ck_assert_int_eq(tpo_is_navigation("GET", NULL, "navigate", "document", acc), 1);
}
END_TEST

START_TEST(same_origin_cases)
{
    const char *own = "http://127.0.0.1:8080";

    /* Sec-Fetch-Site decides */
    ck_assert_int_eq(tpo_post_same_origin("same-origin", NULL, NULL, own), 1);
    ck_assert_int_eq(tpo_post_same_origin("Same-Origin", "http://evil.example", NULL, own), 1);
    ck_assert_int_eq(tpo_post_same_origin("same-site", own, NULL, own), 0);
    ck_assert_int_eq(tpo_post_same_origin("cross-site", own, own, own), 0);
    ck_assert_int_eq(tpo_post_same_origin("none", own, NULL, own), 0);
    /* else Origin */
    ck_assert_int_eq(tpo_post_same_origin(NULL, own, NULL, own), 1);
    ck_assert_int_eq(tpo_post_same_origin(NULL, "HTTP://127.0.0.1:8080", NULL, own), 1);
    ck_assert_int_eq(tpo_post_same_origin(NULL, "null", own, own), 0);
    ck_assert_int_eq(tpo_post_same_origin(NULL, "http://127.0.0.1:8081", NULL, own), 0);
    ck_assert_int_eq(tpo_post_same_origin(NULL, "http://127.0.0.1:8080.evil", NULL, own), 0);
    /* else Referer */
    ck_assert_int_eq(tpo_post_same_origin(NULL, NULL, "http://127.0.0.1:8080/form?x", own), 1);
    ck_assert_int_eq(tpo_post_same_origin(NULL, NULL, "http://127.0.0.1:8080@evil/", own), 0);
    ck_assert_int_eq(tpo_post_same_origin(NULL, NULL, "http://evil.example/", own), 0);
    /* nothing shows where it came from */
    ck_assert_int_eq(tpo_post_same_origin(NULL, NULL, NULL, own), 0);
    ck_assert_int_eq(tpo_post_same_origin("same-origin", NULL, NULL, ""), 0);
    ck_assert_int_eq(tpo_post_same_origin("same-origin", NULL, NULL, NULL), 0);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("post");
    TCase *tc = tcase_create("core");
    tcase_add_checked_fixture(tc, tpo_test_setup, tpo_test_teardown);
    tcase_add_test(tc, limit_parse_cases);
    tcase_add_test(tc, form_type_cases);
    tcase_add_test(tc, marker_cases);
    tcase_add_test(tc, record_roundtrip_any_bytes);
    tcase_add_test(tc, page_escapes_everything);
    tcase_add_test(tc, pending_carries_post_id);
    tcase_add_test(tc, form_navigation_cases);
    tcase_add_test(tc, same_origin_cases);
    suite_add_tcase(s, tc);
    return tpo_test_run(s);
}
