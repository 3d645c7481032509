/* SPDX-License-Identifier: Apache-2.0
 * Licensed under the Apache License, Version 2.0 (see LICENSE). */
/* The flat session record and the pending-login record. */
#include <string.h>
#include <apr_strings.h>
#include "tpo_test.h"
#include "tpo_session.h"
#include "tpo_pending.h"

static tpo_session sample_session(apr_pool_t *p)
{
    tpo_session s;
    memset(&s, 0, sizeof(s));
    s.created = APR_TIME_C(1700000000000000);
    s.expires = s.created + apr_time_from_sec(28800);
    s.last_seen = s.created + 5;
    s.at_expires = s.created + apr_time_from_sec(300);
    s.provider = "idp";
    s.user = "alice";
    s.sub = "alice";
    s.access_token = "at-123";
    s.refresh_token = "rt-456";
    s.id_token = NULL;
    s.scope = "openid email";
    s.claims = "{\"sub\":\"alice\",\"name\":\"Jos\xc3\xa9\"}";
    s.op_sid = "op-session-7";
    s.env = apr_array_make(p, 4, sizeof(const char *));
    APR_ARRAY_PUSH(s.env, const char *) = "TPO_CLAIM_sub";
    APR_ARRAY_PUSH(s.env, const char *) = "alice";
    APR_ARRAY_PUSH(s.env, const char *) = "TPO_CLAIM_empty";
    APR_ARRAY_PUSH(s.env, const char *) = "";
    s.headers = apr_array_make(p, 2, sizeof(const char *));
    APR_ARRAY_PUSH(s.headers, const char *) = "X-TPO-User";
    APR_ARRAY_PUSH(s.headers, const char *) = "alice";
    return s;
}

START_TEST(session_roundtrip)
{
    tpo_session s = sample_session(tpo_test_pool), d;
    apr_size_t len;
    char *buf = tpo_session_encode(tpo_test_pool, &s, &len);

    ck_assert_int_eq(tpo_session_decode(tpo_test_pool, buf, len, &d), APR_SUCCESS);
    ck_assert(d.created == s.created);
    ck_assert(d.expires == s.expires);
    ck_assert(d.last_seen == s.last_seen);
    ck_assert(d.at_expires == s.at_expires);
    ck_assert_str_eq(d.provider, "idp");
    ck_assert_str_eq(d.user, "alice");
    ck_assert_str_eq(d.access_token, "at-123");
    ck_assert_str_eq(d.refresh_token, "rt-456");
    ck_assert_ptr_null(d.id_token);
    ck_assert_str_eq(d.claims, s.claims);
    ck_assert_str_eq(d.op_sid, "op-session-7");
    {
        apr_array_header_t *env = tpo_session_pairs(&d, TPO_SESSION_PAIRS_ENV, tpo_test_pool);
        apr_array_header_t *hdr = tpo_session_pairs(&d, TPO_SESSION_PAIRS_HEADERS, tpo_test_pool);
        tpo_session again;
        apr_size_t len2;
        char *buf2;

        ck_assert_int_eq(env->nelts, 4);
        ck_assert_str_eq(APR_ARRAY_IDX(env, 0, const char *), "TPO_CLAIM_sub");
        ck_assert_str_eq(APR_ARRAY_IDX(env, 3, const char *), "");
        ck_assert_int_eq(hdr->nelts, 2);
        ck_assert_str_eq(APR_ARRAY_IDX(hdr, 0, const char *), "X-TPO-User");
        ck_assert_str_eq(APR_ARRAY_IDX(hdr, 1, const char *), "alice");
        /* a decoded record written back keeps its pairs */
        d.last_seen += 1;
        buf2 = tpo_session_encode(tpo_test_pool, &d, &len2);
        ck_assert_int_eq(tpo_session_decode(tpo_test_pool, buf2, len2, &again), APR_SUCCESS);
        ck_assert(again.last_seen == d.last_seen);
        env = tpo_session_pairs(&again, TPO_SESSION_PAIRS_ENV, tpo_test_pool);
        ck_assert_int_eq(env->nelts, 4);
        ck_assert_str_eq(APR_ARRAY_IDX(env, 1, const char *), "alice");
        ck_assert_int_eq(tpo_session_pairs(&again, TPO_SESSION_PAIRS_HEADERS, tpo_test_pool)->nelts,
                         2);
    }
    /* decoded strings point into the buffer: no copies on the hot path */
    ck_assert(d.user > buf && d.user < buf + len);
}
END_TEST

START_TEST(session_truncated_every_length)
{
    tpo_session s = sample_session(tpo_test_pool), d;
    apr_size_t len, cut;
    char *buf = tpo_session_encode(tpo_test_pool, &s, &len);

    for (cut = 0; cut < len; cut++) {
        char *copy = apr_pmemdup(tpo_test_pool, buf, cut ? cut : 1);
        apr_status_t st = tpo_session_decode(tpo_test_pool, copy, cut, &d);
        /* a prefix that ends exactly on a field boundary after all required
         * fields is still a record; anything else must be refused */
        if (st == APR_SUCCESS) {
            ck_assert_ptr_nonnull(d.user);
            ck_assert_ptr_nonnull(d.provider);
        }
    }
    ck_assert_int_ne(tpo_session_decode(tpo_test_pool, buf, len - 1, &d), APR_SUCCESS);
}
END_TEST

START_TEST(session_bad_magic_version_and_lengths)
{
    tpo_session s = sample_session(tpo_test_pool), d;
    apr_size_t len;
    char *buf = tpo_session_encode(tpo_test_pool, &s, &len);
    char *bad = apr_pmemdup(tpo_test_pool, buf, len);

    bad[0] = 'X';
    ck_assert_int_eq(tpo_session_decode(tpo_test_pool, bad, len, &d), APR_EINVAL);
    bad = apr_pmemdup(tpo_test_pool, buf, len);
    bad[3] = 99;
    ck_assert_int_eq(tpo_session_decode(tpo_test_pool, bad, len, &d), APR_EINVAL);
    /* first field length claims more than the buffer */
    bad = apr_pmemdup(tpo_test_pool, buf, len);
    bad[5] = (char)0xff;
    bad[6] = (char)0xff;
    bad[7] = (char)0xff;
    bad[8] = (char)0x7f;
    ck_assert_int_eq(tpo_session_decode(tpo_test_pool, bad, len, &d), APR_EINVAL);
    /* a time field of the wrong size */
    bad = apr_pmemdup(tpo_test_pool, buf, len);
    bad[5] = 7;
    ck_assert_int_eq(tpo_session_decode(tpo_test_pool, bad, len, &d), APR_EINVAL);
    ck_assert_int_eq(tpo_session_decode(tpo_test_pool, NULL, 0, &d), APR_EINVAL);
}
END_TEST

START_TEST(session_string_without_nul_refused)
{
    tpo_tlv_writer w;
    tpo_session d;
    static const char magic[3] = {'T', 'P', 'S'};

    tpo_tlv_init(&w, tpo_test_pool, magic, TPO_SESSION_VERSION);
    tpo_tlv_put_str(&w, 16, "idp");
    tpo_tlv_put_str(&w, 17, "alice");
    ck_assert_int_eq(tpo_session_decode(tpo_test_pool, w.buf, w.len, &d), APR_SUCCESS);
    /* drop the NUL of the last string: not a C string any more */
    w.buf[w.len - 10] = 5; /* length byte of the last field: 6 -> 5 */
    ck_assert_int_eq(tpo_session_decode(tpo_test_pool, w.buf, w.len - 1, &d), APR_EINVAL);
}
END_TEST

START_TEST(session_unknown_field_skipped)
{
    tpo_tlv_writer w;
    tpo_session d;
    static const char magic[3] = {'T', 'P', 'S'};

    tpo_tlv_init(&w, tpo_test_pool, magic, TPO_SESSION_VERSION);
    tpo_tlv_put_str(&w, 16, "idp");
    tpo_tlv_put_str(&w, 200, "from a newer version");
    tpo_tlv_put_str(&w, 17, "bob");
    ck_assert_int_eq(tpo_session_decode(tpo_test_pool, w.buf, w.len, &d), APR_SUCCESS);
    ck_assert_str_eq(d.user, "bob");
}
END_TEST

START_TEST(session_missing_user_refused)
{
    tpo_tlv_writer w;
    tpo_session d;
    static const char magic[3] = {'T', 'P', 'S'};

    tpo_tlv_init(&w, tpo_test_pool, magic, TPO_SESSION_VERSION);
    tpo_tlv_put_str(&w, 16, "idp");
    ck_assert_int_eq(tpo_session_decode(tpo_test_pool, w.buf, w.len, &d), APR_EINVAL);
}
END_TEST

START_TEST(pending_roundtrip_and_required)
{
    tpo_pending pl, d;
    apr_size_t len;
    char *buf;

    memset(&pl, 0, sizeof(pl));
    pl.created = 1;
    pl.expires = 2;
    pl.provider = "idp";
    pl.state = "s-1";
    pl.nonce = "n-1";
    pl.code_verifier = "v-1";
    pl.redirect_uri = "http://127.0.0.1/cb";
    pl.return_url = "/app/?x=1";
    buf = tpo_pending_encode(tpo_test_pool, &pl, &len);
    ck_assert_int_eq(tpo_pending_decode(tpo_test_pool, buf, len, &d), APR_SUCCESS);
    ck_assert(d.expires == 2);
    ck_assert_str_eq(d.state, "s-1");
    ck_assert_str_eq(d.nonce, "n-1");
    ck_assert_str_eq(d.code_verifier, "v-1");
    ck_assert_str_eq(d.return_url, "/app/?x=1");

    pl.nonce = NULL; /* optional */
    buf = tpo_pending_encode(tpo_test_pool, &pl, &len);
    ck_assert_int_eq(tpo_pending_decode(tpo_test_pool, buf, len, &d), APR_SUCCESS);
    ck_assert_ptr_null(d.nonce);

    pl.code_verifier = NULL; /* required */
    buf = tpo_pending_encode(tpo_test_pool, &pl, &len);
    ck_assert_int_eq(tpo_pending_decode(tpo_test_pool, buf, len, &d), APR_EINVAL);

    /* a session record is not a pending record */
    {
        tpo_session s = sample_session(tpo_test_pool);
        buf = tpo_session_encode(tpo_test_pool, &s, &len);
        ck_assert_int_eq(tpo_pending_decode(tpo_test_pool, buf, len, &d), APR_EINVAL);
    }
}
END_TEST

int main(void)
{
    Suite *s = suite_create("session");
    TCase *tc = tcase_create("core");
    tcase_add_checked_fixture(tc, tpo_test_setup, tpo_test_teardown);
    tcase_add_test(tc, session_roundtrip);
    tcase_add_test(tc, session_truncated_every_length);
    tcase_add_test(tc, session_bad_magic_version_and_lengths);
    tcase_add_test(tc, session_string_without_nul_refused);
    tcase_add_test(tc, session_unknown_field_skipped);
    tcase_add_test(tc, session_missing_user_refused);
    tcase_add_test(tc, pending_roundtrip_and_required);
    suite_add_tcase(s, tc);
    return tpo_test_run(s);
}
