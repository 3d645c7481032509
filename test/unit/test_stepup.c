/* SPDX-License-Identifier: Apache-2.0
 * Licensed under the Apache License, Version 2.0 (see LICENSE). */
/* Per-location authorization-request parameters and step-up (tpo_stepup.c):
 * value checks, the enough/step-up decision, the parameter list of the
 * authorization request and the RFC 9470 challenge; the step-up fields of
 * the session record and the pending login. */
#include <string.h>
#include <apr_strings.h>
#include <apr_tables.h>
#include "tpo_test.h"
#include "tpo_pending.h"
#include "tpo_session.h"
#include "tpo_stepup.h"

#define NOW apr_time_from_sec(1800000000)

static const char *ck(int i, const char *v)
{
    return tpo_ar_check(tpo_test_pool, i, v);
}

START_TEST(names)
{
    int i;

    for (i = 0; i < TPO_AR_COUNT; i++) {
        ck_assert_int_eq(tpo_ar_index(tpo_ar_name(i)), i);
    }
    ck_assert_int_eq(tpo_ar_index("scope"), TPO_AR_SCOPE);
    ck_assert_int_eq(tpo_ar_index("ui_locales"), TPO_AR_UI_LOCALES);
    ck_assert_int_eq(tpo_ar_index("state"), -1);
    ck_assert_int_eq(tpo_ar_index("Scope"), -1);
    ck_assert_int_eq(tpo_ar_index(""), -1);
    ck_assert_int_eq(tpo_ar_index(NULL), -1);
    ck_assert_ptr_null(tpo_ar_name(TPO_AR_COUNT));
    ck_assert_ptr_null(tpo_ar_name(-1));
}
END_TEST

START_TEST(value_checks)
{
    char big[600];

    ck_assert_ptr_null(ck(TPO_AR_SCOPE, "openid"));
    ck_assert_ptr_null(ck(TPO_AR_SCOPE, "openid email https://api.example/read"));
    ck_assert_ptr_nonnull(ck(TPO_AR_SCOPE, ""));
    ck_assert_ptr_nonnull(ck(TPO_AR_SCOPE, " openid"));
    ck_assert_ptr_nonnull(ck(TPO_AR_SCOPE, "openid  email"));
    ck_assert_ptr_nonnull(ck(TPO_AR_SCOPE, "openid "));
    ck_assert_ptr_nonnull(ck(TPO_AR_SCOPE, "open\"id"));
    ck_assert_ptr_nonnull(ck(TPO_AR_SCOPE, "a\\b"));
    ck_assert_ptr_nonnull(ck(TPO_AR_SCOPE, "openid\temail"));
    ck_assert_ptr_nonnull(ck(TPO_AR_SCOPE, "caf\xc3\xa9"));

    ck_assert_ptr_null(ck(TPO_AR_ACR_VALUES, "gold"));
    ck_assert_ptr_null(ck(TPO_AR_ACR_VALUES, "urn:mace:incommon:iap:silver gold"));
    ck_assert_ptr_nonnull(ck(TPO_AR_ACR_VALUES, "gold\r\nX: y"));
    ck_assert_ptr_nonnull(ck(TPO_AR_ACR_VALUES, "\"gold\""));

    ck_assert_ptr_null(ck(TPO_AR_MAX_AGE, "0"));
    ck_assert_ptr_null(ck(TPO_AR_MAX_AGE, "300"));
    ck_assert_ptr_null(ck(TPO_AR_MAX_AGE, "999999999"));
    ck_assert_ptr_nonnull(ck(TPO_AR_MAX_AGE, "1000000000"));
    ck_assert_ptr_nonnull(ck(TPO_AR_MAX_AGE, "-1"));
    ck_assert_ptr_nonnull(ck(TPO_AR_MAX_AGE, "+5"));
    ck_assert_ptr_nonnull(ck(TPO_AR_MAX_AGE, "5m"));
    ck_assert_ptr_nonnull(ck(TPO_AR_MAX_AGE, ""));
    ck_assert_ptr_nonnull(ck(TPO_AR_MAX_AGE, " 5"));

    ck_assert_ptr_null(ck(TPO_AR_PROMPT, "none"));
    ck_assert_ptr_null(ck(TPO_AR_PROMPT, "login"));
    ck_assert_ptr_null(ck(TPO_AR_PROMPT, "login consent"));
    ck_assert_ptr_null(ck(TPO_AR_PROMPT, "select_account"));
    ck_assert_ptr_null(ck(TPO_AR_PROMPT, "create"));
    ck_assert_ptr_nonnull(ck(TPO_AR_PROMPT, "none login"));
    ck_assert_ptr_nonnull(ck(TPO_AR_PROMPT, "consent none"));
    ck_assert_ptr_nonnull(ck(TPO_AR_PROMPT, "login login"));
    ck_assert_ptr_nonnull(ck(TPO_AR_PROMPT, "Login"));
    ck_assert_ptr_nonnull(ck(TPO_AR_PROMPT, "logins"));
    ck_assert_ptr_nonnull(ck(TPO_AR_PROMPT, "log"));
    ck_assert_ptr_nonnull(ck(TPO_AR_PROMPT, ""));
    ck_assert_ptr_nonnull(ck(TPO_AR_PROMPT, "login  consent"));
    ck_assert_ptr_nonnull(strstr(ck(TPO_AR_PROMPT, "login silent"), "'silent'"));

    ck_assert_ptr_null(ck(TPO_AR_LOGIN_HINT, "alice@example.test"));
    ck_assert_ptr_null(ck(TPO_AR_LOGIN_HINT, "Jos\xc3\xa9 M\xc3\xbcller"));
    ck_assert_ptr_nonnull(ck(TPO_AR_LOGIN_HINT, ""));
    ck_assert_ptr_nonnull(ck(TPO_AR_LOGIN_HINT, "a\nb"));
    ck_assert_ptr_nonnull(ck(TPO_AR_LOGIN_HINT, "a\x7f"));
    memset(big, 'a', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    ck_assert_ptr_nonnull(ck(TPO_AR_LOGIN_HINT, big));
    big[512] = '\0';
    ck_assert_ptr_null(ck(TPO_AR_LOGIN_HINT, big));

    ck_assert_ptr_null(ck(TPO_AR_UI_LOCALES, "de"));
    ck_assert_ptr_null(ck(TPO_AR_UI_LOCALES, "de-CH fr-CA en"));
    ck_assert_ptr_nonnull(ck(TPO_AR_UI_LOCALES, "de_CH"));
    ck_assert_ptr_nonnull(ck(TPO_AR_UI_LOCALES, "de,en"));
    ck_assert_ptr_nonnull(ck(TPO_AR_UI_LOCALES, ""));

    ck_assert_ptr_nonnull(ck(TPO_AR_COUNT, "x"));
}
END_TEST

static const char *const acr_gold_silver[] = {"gold", "silver", NULL};

START_TEST(decision)
{
    tpo_stepup_req none = {NULL, -1}, acr = {acr_gold_silver, -1}, age = {NULL, 300},
                   both = {acr_gold_silver, 300};
    apr_interval_time_t skew = apr_time_from_sec(60);

    /* nothing demanded: always enough */
    ck_assert_int_eq(tpo_stepup_demands(&none), 0);
    ck_assert_int_eq(tpo_stepup_demands(NULL), 0);
    ck_assert_int_eq(tpo_stepup_check(&none, NULL, 0, NOW, skew), 0);
    ck_assert_int_eq(tpo_stepup_check(NULL, NULL, 0, NOW, skew), 0);
    ck_assert_int_eq(tpo_stepup_demands(&acr), 1);
    ck_assert_int_eq(tpo_stepup_demands(&age), 1);

    /* acr: any of the list, compared exactly */
    ck_assert_int_eq(tpo_stepup_check(&acr, "gold", 0, NOW, skew), 0);
    ck_assert_int_eq(tpo_stepup_check(&acr, "silver", 0, NOW, skew), 0);
    ck_assert_int_eq(tpo_stepup_check(&acr, "bronze", 0, NOW, skew), TPO_STEPUP_ACR);
    ck_assert_int_eq(tpo_stepup_check(&acr, "Gold", 0, NOW, skew), TPO_STEPUP_ACR);
    ck_assert_int_eq(tpo_stepup_check(&acr, "gol", 0, NOW, skew), TPO_STEPUP_ACR);
    ck_assert_int_eq(tpo_stepup_check(&acr, "", 0, NOW, skew), TPO_STEPUP_ACR);
    ck_assert_int_eq(tpo_stepup_check(&acr, NULL, 0, NOW, skew), TPO_STEPUP_ACR);

    /* age: auth_time within max_auth_age (+ skew); unknown is too old */
    ck_assert_int_eq(tpo_stepup_check(&age, NULL, NOW - apr_time_from_sec(10), NOW, skew), 0);
    ck_assert_int_eq(tpo_stepup_check(&age, NULL, NOW - apr_time_from_sec(360), NOW, skew), 0);
    ck_assert_int_eq(tpo_stepup_check(&age, NULL, NOW - apr_time_from_sec(361), NOW, skew),
                     TPO_STEPUP_AGE);
    ck_assert_int_eq(tpo_stepup_check(&age, NULL, NOW - apr_time_from_sec(301), NOW, 0),
                     TPO_STEPUP_AGE);
    ck_assert_int_eq(tpo_stepup_check(&age, NULL, NOW - apr_time_from_sec(300), NOW, 0), 0);
    ck_assert_int_eq(tpo_stepup_check(&age, NULL, 0, NOW, skew), TPO_STEPUP_AGE);
    /* an auth_time in the future (clock difference) is fresh */
    ck_assert_int_eq(tpo_stepup_check(&age, NULL, NOW + apr_time_from_sec(5), NOW, skew), 0);
    /* acr is not looked at when only an age is demanded */
    ck_assert_int_eq(tpo_stepup_check(&age, "bronze", NOW, NOW, skew), 0);

    /* both */
    ck_assert_int_eq(tpo_stepup_check(&both, "gold", NOW, NOW, skew), 0);
    ck_assert_int_eq(tpo_stepup_check(&both, "bronze", NOW, NOW, skew), TPO_STEPUP_ACR);
    ck_assert_int_eq(tpo_stepup_check(&both, "gold", 0, NOW, skew), TPO_STEPUP_AGE);
    ck_assert_int_eq(tpo_stepup_check(&both, NULL, 0, NOW, skew), TPO_STEPUP_ACR | TPO_STEPUP_AGE);
}
END_TEST

START_TEST(req_text_roundtrip)
{
    apr_pool_t *p = tpo_test_pool;
    tpo_stepup_req req = {acr_gold_silver, 120}, back;

    ck_assert_str_eq(tpo_stepup_acr_text(p, &req), "gold silver");
    tpo_stepup_req_parse(p, "gold silver", 120, &back);
    ck_assert_str_eq(back.acr[0], "gold");
    ck_assert_str_eq(back.acr[1], "silver");
    ck_assert_ptr_null(back.acr[2]);
    ck_assert_int_eq(back.max_auth_age, 120);
    tpo_stepup_req_parse(p, NULL, -1, &back);
    ck_assert_ptr_null(back.acr);
    ck_assert_int_eq(tpo_stepup_demands(&back), 0);
    ck_assert_ptr_null(tpo_stepup_acr_text(p, &back));
    tpo_stepup_req_parse(p, "", 5, &back);
    ck_assert_ptr_null(back.acr);
    ck_assert_int_eq(tpo_stepup_demands(&back), 1);
}
END_TEST

/* "name=value&..." of a pair list, for compact assertions */
static const char *flat(const apr_array_header_t *pairs)
{
    const char *out = "";
    int i;

    for (i = 0; i + 1 < pairs->nelts; i += 2) {
        out = apr_pstrcat(tpo_test_pool, out, i ? "&" : "", APR_ARRAY_IDX(pairs, i, const char *),
                          "=", APR_ARRAY_IDX(pairs, i + 1, const char *), NULL);
    }
    return out;
}

START_TEST(params_precedence)
{
    apr_pool_t *p = tpo_test_pool;
    apr_array_header_t *prov = apr_array_make(p, 4, sizeof(const char *));
    const char *loc[TPO_AR_COUNT] = {NULL};
    tpo_stepup_req none = {NULL, -1}, acr = {acr_gold_silver, -1}, age = {NULL, 60},
                   both = {acr_gold_silver, 60};

    /* the provider only */
    ck_assert_str_eq(flat(tpo_authreq_params(p, "openid email", NULL, NULL, NULL, 0)),
                     "scope=openid email");
    APR_ARRAY_PUSH(prov, const char *) = "prompt";
    APR_ARRAY_PUSH(prov, const char *) = "consent";
    APR_ARRAY_PUSH(prov, const char *) = "audience";
    APR_ARRAY_PUSH(prov, const char *) = "api";
    ck_assert_str_eq(flat(tpo_authreq_params(p, "openid", prov, loc, &none, 0)),
                     "scope=openid&prompt=consent&audience=api");

    /* the location replaces values in place and adds its own */
    loc[TPO_AR_SCOPE] = "openid admin";
    loc[TPO_AR_PROMPT] = "login";
    loc[TPO_AR_LOGIN_HINT] = "alice@example.test";
    loc[TPO_AR_UI_LOCALES] = "de en";
    loc[TPO_AR_MAX_AGE] = "900";
    loc[TPO_AR_ACR_VALUES] = "silver";
    ck_assert_str_eq(flat(tpo_authreq_params(p, "openid", prov, loc, &none, 0)),
                     "scope=openid admin&prompt=login&audience=api&acr_values=silver&max_age=900&"
                     "login_hint=alice@example.test&ui_locales=de en");

    /* a step-up demand replaces acr_values and max_age; prompt=login only
     * when the session is too old */
    memset(loc, 0, sizeof(loc));
    ck_assert_str_eq(flat(tpo_authreq_params(p, "openid", NULL, loc, &acr, TPO_STEPUP_ACR)),
                     "scope=openid&acr_values=gold silver");
    ck_assert_str_eq(flat(tpo_authreq_params(p, "openid", NULL, loc, &age, TPO_STEPUP_AGE)),
                     "scope=openid&max_age=60&prompt=login");
    /* a first login on a location that demands an age: max_age, no prompt */
    ck_assert_str_eq(flat(tpo_authreq_params(p, "openid", NULL, loc, &age, 0)),
                     "scope=openid&max_age=60");
    loc[TPO_AR_ACR_VALUES] = "bronze";
    loc[TPO_AR_MAX_AGE] = "9999";
    ck_assert_str_eq(
        flat(tpo_authreq_params(p, "openid", NULL, loc, &both, TPO_STEPUP_ACR | TPO_STEPUP_AGE)),
        "scope=openid&acr_values=gold silver&max_age=60&prompt=login");
    /* prompt=login joins the location's other prompt values, never none */
    loc[TPO_AR_PROMPT] = "consent select_account";
    ck_assert_str_eq(flat(tpo_authreq_params(p, "openid", NULL, loc, &age, TPO_STEPUP_AGE)),
                     "scope=openid&acr_values=bronze&max_age=60&prompt=login consent "
                     "select_account");
    loc[TPO_AR_PROMPT] = "none";
    ck_assert_str_eq(flat(tpo_authreq_params(p, "openid", NULL, loc, &age, TPO_STEPUP_AGE)),
                     "scope=openid&acr_values=bronze&max_age=60&prompt=login");
    loc[TPO_AR_PROMPT] = "login";
    ck_assert_str_eq(flat(tpo_authreq_params(p, "openid", NULL, loc, &age, TPO_STEPUP_AGE)),
                     "scope=openid&acr_values=bronze&max_age=60&prompt=login");
    /* the provider's prompt, too */
    ck_assert_str_eq(flat(tpo_authreq_params(p, "openid", prov, NULL, &age, TPO_STEPUP_AGE)),
                     "scope=openid&prompt=login consent&audience=api&max_age=60");
}
END_TEST

START_TEST(challenge)
{
    apr_pool_t *p = tpo_test_pool;
    tpo_stepup_req acr = {acr_gold_silver, -1}, age = {NULL, 300}, both = {acr_gold_silver, 300};

    ck_assert_str_eq(tpo_stepup_challenge(p, "test", &acr, TPO_STEPUP_ACR),
                     "Bearer realm=\"test\", error=\"insufficient_user_authentication\", "
                     "error_description=\"A different authentication level is required\", "
                     "acr_values=\"gold silver\"");
    ck_assert_str_eq(tpo_stepup_challenge(p, "test", &age, TPO_STEPUP_AGE),
                     "Bearer realm=\"test\", error=\"insufficient_user_authentication\", "
                     "error_description=\"More recent authentication is required\", "
                     "max_age=\"300\"");
    /* both demands are named, whichever failed */
    ck_assert_str_eq(tpo_stepup_challenge(p, "a \"q\" \\", &both, TPO_STEPUP_AGE),
                     "Bearer realm=\"a \\\"q\\\" \\\\\", "
                     "error=\"insufficient_user_authentication\", "
                     "error_description=\"More recent authentication is required\", "
                     "acr_values=\"gold silver\", max_age=\"300\"");
    ck_assert_str_eq(tpo_stepup_challenge(p, NULL, &both, TPO_STEPUP_AGE | TPO_STEPUP_ACR),
                     "Bearer realm=\"\", error=\"insufficient_user_authentication\", "
                     "error_description=\"A different and more recent authentication is "
                     "required\", acr_values=\"gold silver\", max_age=\"300\"");
}
END_TEST

/* The session record keeps acr and auth_time; a record without them
 * decodes with none (older writers). */
START_TEST(session_fields)
{
    apr_pool_t *p = tpo_test_pool;
    tpo_session s, d;
    apr_size_t len;
    char *rec;

    memset(&s, 0, sizeof(s));
    s.created = NOW;
    s.expires = NOW + apr_time_from_sec(3600);
    s.provider = "idp";
    s.user = "alice";
    s.sub = "alice";
    s.acr = "gold";
    s.auth_time = NOW - apr_time_from_sec(5);
    rec = tpo_session_encode(p, &s, &len);
    ck_assert_int_eq(tpo_session_decode(p, rec, len, &d), APR_SUCCESS);
    ck_assert_str_eq(d.acr, "gold");
    ck_assert_int_eq(d.auth_time, NOW - apr_time_from_sec(5));
    ck_assert_str_eq(d.user, "alice");

    s.acr = NULL;
    s.auth_time = 0;
    rec = tpo_session_encode(p, &s, &len);
    ck_assert_int_eq(tpo_session_decode(p, rec, len, &d), APR_SUCCESS);
    ck_assert_ptr_null(d.acr);
    ck_assert_int_eq(d.auth_time, 0);
}
END_TEST

START_TEST(pending_fields)
{
    apr_pool_t *p = tpo_test_pool;
    tpo_pending pl, d;
    apr_size_t len;
    char *rec;

    memset(&pl, 0, sizeof(pl));
    pl.created = NOW;
    pl.expires = NOW + apr_time_from_sec(300);
    pl.state = "st";
    pl.provider = "idp";
    pl.code_verifier = "v";
    pl.redirect_uri = "http://127.0.0.1/r";
    pl.return_url = "/gold/";
    rec = tpo_pending_encode(p, &pl, &len);
    ck_assert_int_eq(tpo_pending_decode(p, rec, len, &d), APR_SUCCESS);
    ck_assert_ptr_null(d.acr_required);
    ck_assert_int_eq(d.max_auth_age, 0);

    pl.acr_required = "gold silver";
    pl.max_auth_age = 300;
    rec = tpo_pending_encode(p, &pl, &len);
    ck_assert_int_eq(tpo_pending_decode(p, rec, len, &d), APR_SUCCESS);
    ck_assert_str_eq(d.acr_required, "gold silver");
    ck_assert_int_eq(d.max_auth_age, 300);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("stepup");
    TCase *tc = tcase_create("core");

    tcase_add_checked_fixture(tc, tpo_test_setup, tpo_test_teardown);
    tcase_add_test(tc, names);
    tcase_add_test(tc, value_checks);
    tcase_add_test(tc, decision);
    tcase_add_test(tc, req_text_roundtrip);
    tcase_add_test(tc, params_precedence);
    tcase_add_test(tc, challenge);
    tcase_add_test(tc, session_fields);
    tcase_add_test(tc, pending_fields);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return tpo_test_run(suite());
}
