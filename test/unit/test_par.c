/* SPDX-License-Identifier: Apache-2.0
 * Licensed under the Apache License, Version 2.0 (see LICENSE). */
/* Pushed Authorization Requests (RFC 9126): when a login pushes its request,
 * and the PAR endpoint's answer as hostile input. */
#include <string.h>
#include <apr_strings.h>
#include "tpo_test.h"
#include "tpo_par.h"
#include "tpo_defaults.h"

#define URN "urn:ietf:params:oauth:request_uri:6esc_11ACC5bwc014ltc14eY22c"

static tpo_par_result parse(const char *body, int status, tpo_par_response *out,
                            const char **detail)
{
    return tpo_par_response_parse(tpo_test_pool, body, body ? strlen(body) : 0, status, out,
                                  detail);
}

START_TEST(decide)
{
    const char *ep = "https://as.example/par";

    ck_assert_int_eq(tpo_par_decide(TPO_PAR_OFF, ep, 1), TPO_PAR_UNUSED);
    ck_assert_int_eq(tpo_par_decide(TPO_PAR_OFF, NULL, 1), TPO_PAR_UNUSED);
    ck_assert_int_eq(tpo_par_decide(TPO_PAR_ON, ep, 0), TPO_PAR_USE);
    ck_assert_int_eq(tpo_par_decide(TPO_PAR_ON, NULL, 0), TPO_PAR_NO_ENDPOINT);
    ck_assert_int_eq(tpo_par_decide(TPO_PAR_ON, "", 1), TPO_PAR_NO_ENDPOINT);
    ck_assert_int_eq(tpo_par_decide(TPO_PAR_AUTO, ep, 0), TPO_PAR_UNUSED);
    ck_assert_int_eq(tpo_par_decide(TPO_PAR_AUTO, ep, 1), TPO_PAR_USE);
    ck_assert_int_eq(tpo_par_decide(TPO_PAR_AUTO, NULL, 1), TPO_PAR_NO_ENDPOINT);
    ck_assert_int_eq(tpo_par_decide(TPO_PAR_AUTO, NULL, 0), TPO_PAR_UNUSED);
    ck_assert_int_eq(tpo_par_decide(-1, ep, 1), TPO_PAR_UNUSED);
}
END_TEST

START_TEST(ok_201_and_200)
{
    tpo_par_response r;
    const char *d = NULL;

    ck_assert_int_eq(parse("{\"request_uri\":\"" URN "\",\"expires_in\":60}", 201, &r, &d),
                     TPO_PAR_OK);
    ck_assert_str_eq(r.request_uri, URN);
    ck_assert_int_eq(r.expires_in, 60);
    ck_assert_ptr_null(r.error);
    ck_assert_int_eq(parse("{\"expires_in\":1,\"request_uri\":\"https://as.example/r/1\","
                           "\"extra\":[1,2]}",
                           200, &r, &d),
                     TPO_PAR_OK);
    ck_assert_str_eq(r.request_uri, "https://as.example/r/1");
    ck_assert_int_eq(r.expires_in, 1);
    ck_assert_int_eq(
        parse(apr_psprintf(tpo_test_pool, "{\"request_uri\":\"" URN "\",\"expires_in\":%d}",
                           TPO_PAR_EXPIRES_MAX),
              201, &r, &d),
        TPO_PAR_OK);
}
END_TEST

START_TEST(error_answers)
{
    tpo_par_response r;
    const char *d = NULL;

    ck_assert_int_eq(parse("{\"error\":\"invalid_client\",\"error_description\":\"no such "
                           "client\\r\\nX-Evil: 1\"}",
                           401, &r, &d),
                     TPO_PAR_ERROR_RESPONSE);
    ck_assert_str_eq(r.error, "invalid_client");
    ck_assert_str_eq(r.error_description, "no such client??X-Evil: 1");
    ck_assert_ptr_null(r.request_uri);
    ck_assert_ptr_nonnull(strstr(d, "HTTP 401"));
    /* an error member wins even with a success status */
    ck_assert_int_eq(parse("{\"error\":\"invalid_request\",\"request_uri\":\"" URN
                           "\",\"expires_in\":60}",
                           201, &r, &d),
                     TPO_PAR_ERROR_RESPONSE);
    ck_assert_str_eq(r.error, "invalid_request");
    ck_assert_ptr_null(r.request_uri);
    /* an error status without a readable error */
    ck_assert_int_eq(parse("<html>503</html>", 503, &r, &d), TPO_PAR_ERROR_RESPONSE);
    ck_assert_str_eq(r.error, "http_503");
    ck_assert_int_eq(parse(NULL, 500, &r, &d), TPO_PAR_ERROR_RESPONSE);
    ck_assert_str_eq(r.error, "http_500");
    ck_assert_int_eq(parse("{\"error\":42}", 400, &r, &d), TPO_PAR_ERROR_RESPONSE);
    ck_assert_str_eq(r.error, "http_400");
    /* a success status for a request_uri answer that is not 200/201 */
    ck_assert_int_eq(parse("{\"request_uri\":\"" URN "\",\"expires_in\":60}", 302, &r, &d),
                     TPO_PAR_ERROR_RESPONSE);
    ck_assert_ptr_null(r.request_uri);
    ck_assert_int_eq(parse("{\"request_uri\":\"" URN "\",\"expires_in\":60}", 204, &r, &d),
                     TPO_PAR_ERROR_RESPONSE);
    /* long error words are cut */
    {
        char big[2000];
        memset(big, 'e', sizeof(big) - 1);
        big[sizeof(big) - 1] = '\0';
        ck_assert_int_eq(parse(apr_pstrcat(tpo_test_pool, "{\"error\":\"", big,
                                           "\",\"error_description\":\"", big, "\"}", NULL),
                               400, &r, &d),
                         TPO_PAR_ERROR_RESPONSE);
        ck_assert_uint_le(strlen(r.error), 128);
        ck_assert_uint_le(strlen(r.error_description), 512);
    }
}
END_TEST

START_TEST(malformed)
{
    static const char *const bad[] = {
        "",
        "not json",
        "[\"" URN "\"]",
        "\"" URN "\"",
        "{}",
        "{\"expires_in\":60}",
        "{\"request_uri\":\"" URN "\"}",
        "{\"request_uri\":null,\"expires_in\":60}",
        "{\"request_uri\":42,\"expires_in\":60}",
        "{\"request_uri\":\"\",\"expires_in\":60}",
        "{\"request_uri\":\"no-scheme\",\"expires_in\":60}",
        "{\"request_uri\":\"urn:\",\"expires_in\":60}",
        "{\"request_uri\":\"1urn:x\",\"expires_in\":60}",
        "{\"request_uri\":\"ur n:x\",\"expires_in\":60}",
        "{\"request_uri\":\"urn:a b\",\"expires_in\":60}",
        "{\"request_uri\":\"urn:a\\r\\nLocation: x\",\"expires_in\":60}",
        "{\"request_uri\":\"urn:a\\u0000b\",\"expires_in\":60}",
        "{\"request_uri\":\"urn:\\u00e9\",\"expires_in\":60}",
        "{\"request_uri\":\"" URN "\",\"expires_in\":0}",
        "{\"request_uri\":\"" URN "\",\"expires_in\":-5}",
        "{\"request_uri\":\"" URN "\",\"expires_in\":86401}",
        "{\"request_uri\":\"" URN "\",\"expires_in\":99999999999999999999}",
        "{\"request_uri\":\"" URN "\",\"expires_in\":\"60\"}",
        "{\"request_uri\":\"" URN "\",\"expires_in\":60.5}",
        "{\"request_uri\":\"" URN "\",\"expires_in\":true}",
        "{\"request_uri\":\"" URN "\",\"expires_in\":null}",
        "{\"request_uri\":\"" URN "\",\"request_uri\":\"urn:x:y\",\"expires_in\":60}",
        "{\"request_uri\":\"" URN "\",\"expires_in\":60",
        NULL};
    tpo_par_response r;
    const char *d;
    int i;

    for (i = 0; bad[i]; i++) {
        d = NULL;
        ck_assert_msg(parse(bad[i], 201, &r, &d) == TPO_PAR_MALFORMED, "accepted: %s", bad[i]);
        ck_assert_ptr_nonnull(d);
        ck_assert_ptr_null(r.request_uri);
        ck_assert_int_eq(r.expires_in, 0);
        /* the detail never quotes the body */
        ck_assert_ptr_null(strstr(d, "6esc_11ACC5bwc014ltc14eY22c"));
    }
}
END_TEST

START_TEST(bounds)
{
    tpo_par_response r;
    const char *d = NULL;
    char *uri = apr_palloc(tpo_test_pool, TPO_PAR_REQUEST_URI_MAX + 2);
    char *body;

    memcpy(uri, "urn:", 4);
    memset(uri + 4, 'x', TPO_PAR_REQUEST_URI_MAX - 4);
    uri[TPO_PAR_REQUEST_URI_MAX] = '\0';
    body = apr_psprintf(tpo_test_pool, "{\"request_uri\":\"%s\",\"expires_in\":60}", uri);
    ck_assert_int_eq(parse(body, 201, &r, &d), TPO_PAR_OK);
    ck_assert_uint_eq(strlen(r.request_uri), TPO_PAR_REQUEST_URI_MAX);
    uri[TPO_PAR_REQUEST_URI_MAX] = 'x';
    uri[TPO_PAR_REQUEST_URI_MAX + 1] = '\0';
    body = apr_psprintf(tpo_test_pool, "{\"request_uri\":\"%s\",\"expires_in\":60}", uri);
    ck_assert_int_eq(parse(body, 201, &r, &d), TPO_PAR_MALFORMED);
    /* a body beyond TPO_PAR_BODY_MAX is not even parsed */
    body = apr_palloc(tpo_test_pool, TPO_PAR_BODY_MAX + 64);
    memset(body, ' ', TPO_PAR_BODY_MAX + 63);
    memcpy(body, "{\"request_uri\":\"" URN "\",\"expires_in\":60}",
           strlen("{\"request_uri\":\"" URN "\",\"expires_in\":60}"));
    body[TPO_PAR_BODY_MAX + 63] = '\0';
    ck_assert_int_eq(parse(body, 201, &r, &d), TPO_PAR_MALFORMED);
    ck_assert_ptr_nonnull(strstr(d, "larger"));
    /* detail may be NULL */
    ck_assert_int_eq(parse("{}", 201, &r, NULL), TPO_PAR_MALFORMED);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("par");
    TCase *tc = tcase_create("core");
    tcase_add_checked_fixture(tc, tpo_test_setup, tpo_test_teardown);
    tcase_add_test(tc, decide);
    tcase_add_test(tc, ok_201_and_200);
    tcase_add_test(tc, error_answers);
    tcase_add_test(tc, malformed);
    tcase_add_test(tc, bounds);
    suite_add_tcase(s, tc);
    return tpo_test_run(s);
}
