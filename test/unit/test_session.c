/* SPDX-License-Identifier: Apache-2.0
 * Licensed under the Apache License, Version 2.0 (see LICENSE). */
/* The flat session record and the pending-login record. */
#include <string.h>
#include <apr_strings.h>
#include "tpo_test.h"
#include "tpo_session.h"
#include "tpo_pending.h"
#include "tpo_claims.h"

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

/* The harness's typical user (test/idp: "alice", scope openid email profile
 * groups): what the login stores, with the sizes of the real tokens (opaque
 * access and refresh tokens of 43 characters, an RS256 ID token of 836). */
static tpo_session typical_session(apr_pool_t *p, int groups)
{
    tpo_session s;
    tpo_claims_render cfg = {"TPO_CLAIM_", "X-TPO-", NULL, "_", ","};
    tpo_claims_out out;
    json_t *claims, *g;
    json_error_t err;
    char *idt = apr_palloc(p, 837);
    int i;

    memset(&s, 0, sizeof(s));
    s.created = APR_TIME_C(1796114775000000);
    s.expires = s.created + apr_time_from_sec(28800);
    s.last_seen = s.created;
    s.at_obtained = s.created;
    s.at_expires = s.created + apr_time_from_sec(3600);
    s.provider = "idp";
    s.user = "alice";
    s.sub = "alice";
    s.access_token = "Tu-kDHIF0GVQUEE8vvwMZSlrkIVdnRMUlZsbjllzxxU";
    s.refresh_token = "qVNW7_PpjO_C6SiM7g2c2erzq2hmUkFHUDb97AEfx46";
    memset(idt, 'e', 836);
    idt[836] = '\0';
    s.id_token = idt;
    s.scope = "openid email profile groups";
    claims = json_loads("{\"sub\":\"alice\",\"email\":\"alice@example.test\",\"email_verified\":"
                        "true,\"name\":\"alice Tester\",\"given_name\":\"alice\",\"family_name\":"
                        "\"Tester\",\"preferred_username\":\"alice\",\"groups\":[\"staff\","
                        "\"tpo-users\"],\"aud\":\"tpo-test\",\"exp\":1796118375,\"iat\":"
                        "1796114775,\"iss\":\"http://127.0.0.1:52159\"}",
                        0, &err);
    ck_assert_ptr_nonnull(claims);
    g = json_object_get(claims, "groups");
    for (i = 0; i < groups; i++) {
        json_array_append_new(
            g, json_string(apr_psprintf(p, "group-%03d-of-a-large-organisation", i)));
    }
    {
        char *j = json_dumps(claims, JSON_COMPACT);
        s.claims = apr_pstrdup(p, j);
        free(j);
    }
    tpo_claims_render_all(p, &cfg, s.user, claims, s.access_token, 1796118375LL, s.scope, &out);
    json_decref(claims);
    s.env = out.env;
    s.headers = out.headers;
    return s;
}

static void same_array(const apr_array_header_t *a, const apr_array_header_t *b)
{
    int i;

    ck_assert_int_eq(a->nelts, b->nelts);
    for (i = 0; i < a->nelts; i++) {
        ck_assert_str_eq(APR_ARRAY_IDX(a, i, const char *), APR_ARRAY_IDX(b, i, const char *));
    }
}

/* Issue 17: a typical session fits in 2,500 bytes of cache (it took 3,430
 * bytes in format 1), and every variable and header comes back as rendered. */
START_TEST(session_typical_size_bound)
{
    tpo_session s = typical_session(tpo_test_pool, 0), d, again;
    apr_size_t len, len2;
    char *buf = tpo_session_encode(tpo_test_pool, &s, &len), *buf2;

    ck_assert_uint_le(len, 2500);
    ck_assert_int_eq(tpo_session_decode(tpo_test_pool, buf, len, &d), APR_SUCCESS);
    same_array(tpo_session_pairs(&d, TPO_SESSION_PAIRS_ENV, tpo_test_pool), s.env);
    same_array(tpo_session_pairs(&d, TPO_SESSION_PAIRS_HEADERS, tpo_test_pool), s.headers);
    /* written back unchanged (a touch): the same bytes but the time */
    d.last_seen += 1;
    buf2 = tpo_session_encode(tpo_test_pool, &d, &len2);
    ck_assert_uint_eq(len2, len);
    ck_assert_int_eq(tpo_session_decode(tpo_test_pool, buf2, len2, &again), APR_SUCCESS);
    same_array(tpo_session_pairs(&again, TPO_SESSION_PAIRS_ENV, tpo_test_pool), s.env);
    same_array(tpo_session_pairs(&again, TPO_SESSION_PAIRS_HEADERS, tpo_test_pool), s.headers);
}
END_TEST

/* 200 groups: the joined list is stored once (not once per variable and
 * header), the claims JSON once (not again as TPO_CLAIMS and its header). */
START_TEST(session_many_groups_stored_once)
{
    tpo_session s = typical_session(tpo_test_pool, 200), d;
    apr_size_t len, claims_len = strlen(s.claims);
    char *buf = tpo_session_encode(tpo_test_pool, &s, &len);
    const char *joined = NULL;
    int i;

    for (i = 0; i + 1 < s.env->nelts; i += 2) {
        if (!strcmp(APR_ARRAY_IDX(s.env, i, const char *), "TPO_CLAIM_groups")) {
            joined = APR_ARRAY_IDX(s.env, i + 1, const char *);
        }
    }
    ck_assert_ptr_nonnull(joined);
    /* the ID token, the claims and the groups once, plus under 2,000 bytes */
    ck_assert_uint_lt(len, strlen(s.id_token) + claims_len + strlen(joined) + 2000);
    ck_assert_int_eq(tpo_session_decode(tpo_test_pool, buf, len, &d), APR_SUCCESS);
    same_array(tpo_session_pairs(&d, TPO_SESSION_PAIRS_ENV, tpo_test_pool), s.env);
    same_array(tpo_session_pairs(&d, TPO_SESSION_PAIRS_HEADERS, tpo_test_pool), s.headers);
}
END_TEST

/* A value that differs between the variable and the header (control
 * characters, non-ASCII, '%') keeps both forms. */
START_TEST(session_identity_distinct_values)
{
    tpo_session s = sample_session(tpo_test_pool), d;
    apr_array_header_t *env, *hdr;
    apr_size_t len;
    char *buf;

    s.env = apr_array_make(tpo_test_pool, 4, sizeof(const char *));
    APR_ARRAY_PUSH(s.env, const char *) = "TPO_CLAIM_name";
    APR_ARRAY_PUSH(s.env, const char *) = "Jos\xc3\xa9 100%";
    APR_ARRAY_PUSH(s.env, const char *) = "TPO_CLAIMS";
    APR_ARRAY_PUSH(s.env, const char *) = s.claims;
    s.headers = apr_array_make(tpo_test_pool, 4, sizeof(const char *));
    APR_ARRAY_PUSH(s.headers, const char *) = "X-TPO-Claim-name";
    APR_ARRAY_PUSH(s.headers, const char *) = "Jos%C3%A9 100%25";
    APR_ARRAY_PUSH(s.headers, const char *) = "X-TPO-Access-Token";
    APR_ARRAY_PUSH(s.headers, const char *) = "at-123";
    buf = tpo_session_encode(tpo_test_pool, &s, &len);
    ck_assert_int_eq(tpo_session_decode(tpo_test_pool, buf, len, &d), APR_SUCCESS);
    env = tpo_session_pairs(&d, TPO_SESSION_PAIRS_ENV, tpo_test_pool);
    hdr = tpo_session_pairs(&d, TPO_SESSION_PAIRS_HEADERS, tpo_test_pool);
    same_array(env, s.env);
    same_array(hdr, s.headers);
    /* values equal to a field point at the field: stored once */
    ck_assert_ptr_eq(APR_ARRAY_IDX(env, 3, const char *), d.claims);
    ck_assert_ptr_eq(APR_ARRAY_IDX(hdr, 3, const char *), d.access_token);
}
END_TEST

/* A record of format 1 (each variable and header name and value a field of
 * its own, tags 32-35) is still read, and written back as it is. */
START_TEST(session_format1_read)
{
    tpo_tlv_writer w;
    tpo_session d, again;
    apr_array_header_t *env, *hdr;
    apr_size_t len;
    char *buf;
    static const char magic[3] = {'T', 'P', 'S'};

    tpo_tlv_init(&w, tpo_test_pool, magic, 1);
    tpo_tlv_put_str(&w, 16, "idp");
    tpo_tlv_put_str(&w, 17, "alice");
    tpo_tlv_put_str(&w, 19, "at-1");
    tpo_tlv_put_str(&w, 32, "TPO_CLAIM_sub");
    tpo_tlv_put_str(&w, 33, "alice");
    tpo_tlv_put_str(&w, 34, "X-TPO-User");
    tpo_tlv_put_str(&w, 35, "alice");
    ck_assert_int_eq(tpo_session_decode(tpo_test_pool, w.buf, w.len, &d), APR_SUCCESS);
    env = tpo_session_pairs(&d, TPO_SESSION_PAIRS_ENV, tpo_test_pool);
    hdr = tpo_session_pairs(&d, TPO_SESSION_PAIRS_HEADERS, tpo_test_pool);
    ck_assert_int_eq(env->nelts, 2);
    ck_assert_str_eq(APR_ARRAY_IDX(env, 1, const char *), "alice");
    ck_assert_int_eq(hdr->nelts, 2);
    ck_assert_str_eq(APR_ARRAY_IDX(hdr, 0, const char *), "X-TPO-User");
    buf = tpo_session_encode(tpo_test_pool, &d, &len);
    ck_assert_int_eq((unsigned char)buf[3], TPO_SESSION_VERSION);
    ck_assert_int_eq(tpo_session_decode(tpo_test_pool, buf, len, &again), APR_SUCCESS);
    same_array(tpo_session_pairs(&again, TPO_SESSION_PAIRS_ENV, tpo_test_pool), env);
    same_array(tpo_session_pairs(&again, TPO_SESSION_PAIRS_HEADERS, tpo_test_pool), hdr);
}
END_TEST

/* Malformed identity fields are refused: a reference to a field the record
 * lacks, a back reference forward, unknown flags, a missing NUL. */
START_TEST(session_identity_malformed_refused)
{
    static const char magic[3] = {'T', 'P', 'S'};
    static const struct {
        const char *bytes;
        apr_size_t len;
    } bad[] = {
        {"\x02\x01n\0\x13", 5}, /* field ref to the access token: none in this record */
        {"\x02\x01n\0\x14", 5}, /* field ref to the refresh token: not nameable */
        {"\x04\x01n\0\x00", 5}, /* back reference to this very item */
        {"\x00\x01n\0\x01v\0\x04\x01m\0\x09", 12}, /* back reference past this item */
        {"\x08\x01n\0\x01v\0", 7},                 /* unknown flag */
        {"\x06\x01n\0\x11", 5},                    /* field and back reference at once */
        {"\x00\x01nX\x01v\0", 7},                  /* name without its NUL */
        {"\x00\x01n\0\x02v\0", 7},                 /* value longer than the field */
        {"\x00\x81\x80\x80\x80\x01n\0", 8},        /* a varint longer than 4 bytes */
    };
    apr_size_t i;

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        tpo_tlv_writer w;
        tpo_session d;
        char hdr[5];

        tpo_tlv_init(&w, tpo_test_pool, magic, TPO_SESSION_VERSION);
        tpo_tlv_put_str(&w, 16, "idp");
        tpo_tlv_put_str(&w, 17, "alice");
        hdr[0] = 40;
        hdr[1] = (char)bad[i].len;
        hdr[2] = hdr[3] = hdr[4] = 0;
        memcpy(w.buf + w.len, hdr, 5);
        memcpy(w.buf + w.len + 5, bad[i].bytes, bad[i].len);
        ck_assert_int_eq(tpo_session_decode(tpo_test_pool, w.buf, w.len + 5 + bad[i].len, &d),
                         APR_EINVAL);
    }
    /* and the good forms of the same */
    {
        tpo_tlv_writer w;
        tpo_session d;
        apr_array_header_t *env;
        static const char ok[] = "\x00\x01n\0\x01v\0\x02\x01u\0\x11\x05\x01h\0\x05";

        tpo_tlv_init(&w, tpo_test_pool, magic, TPO_SESSION_VERSION);
        tpo_tlv_put_str(&w, 16, "idp");
        tpo_tlv_put_str(&w, 17, "alice");
        w.buf[w.len] = 40;
        w.buf[w.len + 1] = (char)(sizeof(ok) - 1);
        w.buf[w.len + 2] = w.buf[w.len + 3] = w.buf[w.len + 4] = 0;
        memcpy(w.buf + w.len + 5, ok, sizeof(ok) - 1);
        ck_assert_int_eq(tpo_session_decode(tpo_test_pool, w.buf, w.len + 5 + sizeof(ok) - 1, &d),
                         APR_SUCCESS);
        env = tpo_session_pairs(&d, TPO_SESSION_PAIRS_ENV, tpo_test_pool);
        ck_assert_int_eq(env->nelts, 4);
        ck_assert_str_eq(APR_ARRAY_IDX(env, 1, const char *), "v");
        ck_assert_str_eq(APR_ARRAY_IDX(env, 3, const char *), "alice");
        env = tpo_session_pairs(&d, TPO_SESSION_PAIRS_HEADERS, tpo_test_pool);
        ck_assert_int_eq(env->nelts, 2);
        ck_assert_str_eq(APR_ARRAY_IDX(env, 0, const char *), "h");
        ck_assert_str_eq(APR_ARRAY_IDX(env, 1, const char *), "v");
    }
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
    tcase_add_test(tc, session_typical_size_bound);
    tcase_add_test(tc, session_many_groups_stored_once);
    tcase_add_test(tc, session_identity_distinct_values);
    tcase_add_test(tc, session_format1_read);
    tcase_add_test(tc, session_identity_malformed_refused);
    tcase_add_test(tc, pending_roundtrip_and_required);
    suite_add_tcase(s, tc);
    return tpo_test_run(s);
}
