/* SPDX-License-Identifier: Apache-2.0
 * Licensed under the Apache License, Version 2.0 (see LICENSE). */
/* Claims to variables and headers, paths, matching, merging, filtering. */
#include <string.h>
#include <strings.h>
#include "tpo_test.h"
#include "tpo_claims.h"
#include "tpo_log.h"

static json_t *J(const char *text)
{
    json_error_t e;
    json_t *j = json_loads(text, 0, &e);
    ck_assert_ptr_nonnull(j);
    return j;
}

static const char *find(apr_array_header_t *a, const char *name)
{
    int i;
    for (i = 0; i + 1 < a->nelts; i += 2) {
        if (!strcmp(APR_ARRAY_IDX(a, i, const char *), name)) {
            return APR_ARRAY_IDX(a, i + 1, const char *);
        }
    }
    return NULL;
}

static const tpo_claims_render CFG = {"TPO_CLAIM_", "X-TPO-", NULL, "_", ","};

START_TEST(render_scalars_nested_arrays)
{
    json_t *c = J("{\"sub\":\"u1\",\"email\":\"a@b.c\",\"age\":42,\"ok\":true,"
                  "\"address\":{\"country\":\"DE\",\"geo\":{\"lat\":1}},"
                  "\"groups\":[\"staff\",\"a,b\",\"back\\\\slash\"],"
                  "\"objs\":[{\"x\":1}],\"nonce\":\"n\",\"at_hash\":\"h\","
                  "\"weird-name.x\":\"v\"}");
    tpo_claims_out out;

    tpo_claims_render_all(tpo_test_pool, &CFG, "u1", c, "AT", 1700000000LL, "openid email", &out);
    ck_assert_str_eq(find(out.env, "TPO_CLAIM_sub"), "u1");
    ck_assert_str_eq(find(out.env, "TPO_CLAIM_age"), "42");
    ck_assert_str_eq(find(out.env, "TPO_CLAIM_ok"), "true");
    ck_assert_str_eq(find(out.env, "TPO_CLAIM_address_country"), "DE");
    ck_assert_str_eq(find(out.env, "TPO_CLAIM_address_geo_lat"), "1");
    ck_assert_str_eq(find(out.env, "TPO_CLAIM_groups"), "staff,a\\,b,back\\\\slash");
    ck_assert_str_eq(find(out.env, "TPO_CLAIM_objs"), "[{\"x\":1}]");
    ck_assert_str_eq(find(out.env, "TPO_CLAIM_weird_name_x"), "v");
    ck_assert_ptr_null(find(out.env, "TPO_CLAIM_nonce"));
    ck_assert_ptr_null(find(out.env, "TPO_CLAIM_at_hash"));
    ck_assert_str_eq(find(out.env, "TPO_ACCESS_TOKEN"), "AT");
    ck_assert_str_eq(find(out.env, "TPO_ACCESS_TOKEN_EXPIRES"), "1700000000");
    ck_assert_str_eq(find(out.env, "TPO_SCOPE"), "openid email");
    ck_assert_ptr_nonnull(strstr(find(out.env, "TPO_CLAIMS"), "\"address\""));
    ck_assert_str_eq(find(out.headers, "X-TPO-User"), "u1");
    ck_assert_str_eq(find(out.headers, "X-TPO-Claim-email"), "a@b.c");
    ck_assert_str_eq(find(out.headers, "X-TPO-Claim-address-country"), "DE");
    ck_assert_str_eq(find(out.headers, "X-TPO-Claim-weird-name-x"), "v");
    ck_assert_str_eq(find(out.headers, "X-TPO-Access-Token"), "AT");
    json_decref(c);
}
END_TEST

START_TEST(values_made_safe)
{
    json_t *c = J("{\"sub\":\"u\",\"name\":\"Jos\\u00e9 M\\u00fcller\","
                  "\"evil\":\"a\\r\\nX-TPO-User: admin\",\"pct\":\"100%\"}");
    tpo_claims_out out;
    const char *h;

    tpo_claims_render_all(tpo_test_pool, &CFG, "u", c, NULL, 0, NULL, &out);
    /* env keeps UTF-8 */
    ck_assert_str_eq(find(out.env, "TPO_CLAIM_name"), "Jos\xc3\xa9 M\xc3\xbcller");
    ck_assert_str_eq(find(out.env, "TPO_CLAIM_evil"), "a  X-TPO-User: admin");
    /* headers: printable ASCII only, percent-encoded, reversible */
    ck_assert_str_eq(find(out.headers, "X-TPO-Claim-name"), "Jos%C3%A9 M%C3%BCller");
    h = find(out.headers, "X-TPO-Claim-evil");
    ck_assert_str_eq(h, "a%0D%0AX-TPO-User: admin");
    ck_assert_str_eq(find(out.headers, "X-TPO-Claim-pct"), "100%25");
    ck_assert_ptr_null(find(out.env, "TPO_ACCESS_TOKEN"));
    json_decref(c);
}
END_TEST

START_TEST(user_header_configurable)
{
    tpo_claims_render cfg = CFG;
    tpo_claims_out out;

    cfg.user_header = "X-Remote-User";
    cfg.header_prefix = "X-App-";
    cfg.claim_prefix = "OIDC_";
    tpo_claims_render_all(tpo_test_pool, &cfg, "bob", NULL, NULL, 0, NULL, &out);
    ck_assert_str_eq(find(out.headers, "X-Remote-User"), "bob");
    ck_assert_ptr_null(find(out.headers, "X-App-User"));
}
END_TEST

static int count_name(apr_array_header_t *a, const char *name)
{
    int i, n = 0;
    for (i = 0; i + 1 < a->nelts; i += 2) {
        if (!strcasecmp(APR_ARRAY_IDX(a, i, const char *), name)) {
            n++;
        }
    }
    return n;
}

static char logged[4096];
static void capture_log(const char *file, int line, int level, const char *msg)
{
    (void)file;
    (void)line;
    (void)level;
    strncat(logged, msg, sizeof(logged) - strlen(logged) - 2);
    strcat(logged, "\n");
}

/* The core asks the glue for the level in effect before formatting: with
 * the module at info, a debug message is neither formatted nor passed on. */
static int level_now;
static int level_asked;
static int current_level(void)
{
    level_asked++;
    return level_now;
}

START_TEST(log_level_gates_formatting)
{
    logged[0] = '\0';
    tpo_log_set(capture_log, TPO_LOG_DEBUG);
    tpo_log_set_level_fn(current_level);
    level_now = TPO_LOG_INFO;
    level_asked = 0;
    ck_assert_int_eq(tpo_log_enabled(TPO_LOG_DEBUG), 0);
    tpo_log(TPO_LOG_MARK, TPO_LOG_DEBUG, TPO_APLOGNO(99999) "hidden %d", 1);
    tpo_log(TPO_LOG_MARK, TPO_LOG_INFO, TPO_APLOGNO(99998) "shown %d", 2);
    ck_assert_int_eq(level_asked, 3);
    ck_assert_str_eq(logged, "TPO99998: shown 2\n");
    level_now = TPO_LOG_DEBUG;
    tpo_log(TPO_LOG_MARK, TPO_LOG_DEBUG, "now %s", "shown");
    ck_assert_str_eq(logged, "TPO99998: shown 2\nnow shown\n");
    tpo_log_set_level_fn(NULL);
    tpo_log_set(NULL, 0);
}
END_TEST

/* {"a":{"b":1}} and "a_b" flatten to the same names: the first is exported,
 * the later one not at all (neither variable nor header), with a warning */
START_TEST(colliding_names_first_wins)
{
    json_t *c = J("{\"sub\":\"u\",\"a\":{\"b\":\"nested\"},\"a_b\":\"flat\","
                  "\"a-b\":\"dash\",\"Email\":\"E\",\"email\":\"e\","
                  "\"x_y\":\"flat-first\",\"x\":{\"y\":\"nested-later\"}}");
    tpo_claims_out out;

    logged[0] = '\0';
    tpo_log_set(capture_log, TPO_LOG_DEBUG);
    tpo_claims_render_all(tpo_test_pool, &CFG, "u", c, NULL, 0, NULL, &out);
    tpo_log_set(NULL, 0);
    ck_assert_int_eq(count_name(out.env, "TPO_CLAIM_a_b"), 1);
    ck_assert_str_eq(find(out.env, "TPO_CLAIM_a_b"), "nested");
    ck_assert_int_eq(count_name(out.headers, "X-TPO-Claim-a-b"), 1);
    ck_assert_str_eq(find(out.headers, "X-TPO-Claim-a-b"), "nested");
    ck_assert_int_eq(count_name(out.env, "TPO_CLAIM_email"), 1);
    ck_assert_str_eq(find(out.env, "TPO_CLAIM_Email"), "E");
    ck_assert_int_eq(count_name(out.headers, "X-TPO-Claim-email"), 1);
    ck_assert_int_eq(count_name(out.env, "TPO_CLAIM_x_y"), 1);
    ck_assert_str_eq(find(out.env, "TPO_CLAIM_x_y"), "flat-first");
    ck_assert_str_eq(find(out.headers, "X-TPO-Claim-x-y"), "flat-first");
    ck_assert_ptr_nonnull(strstr(logged, "TPO_CLAIM_a_b"));
    ck_assert_ptr_nonnull(strstr(logged, "not exported"));
    ck_assert_ptr_null(strstr(logged, "flat")); /* no claim value in the log */
    json_decref(c);
}
END_TEST

/* a claim never takes the module's own names, nor a dangerous variable */
START_TEST(reserved_and_dangerous_names)
{
    tpo_claims_render cfg = CFG;
    json_t *c = J("{\"sub\":\"u\",\"CLAIMS\":\"x\",\"ACCESS_TOKEN\":\"forged\","
                  "\"PATH\":\"/tmp/evil\",\"LD_PRELOAD\":\"/tmp/evil.so\","
                  "\"HTTP_X\":\"h\",\"ok\":\"fine\"}");
    tpo_claims_out out;

    cfg.claim_prefix = "TPO_"; /* refused by the configuration check; still safe here */
    tpo_claims_render_all(tpo_test_pool, &cfg, "u", c, "AT", 0, NULL, &out);
    ck_assert_int_eq(count_name(out.env, "TPO_ACCESS_TOKEN"), 1);
    ck_assert_str_eq(find(out.env, "TPO_ACCESS_TOKEN"), "AT");
    ck_assert_int_eq(count_name(out.env, "TPO_CLAIMS"), 1);
    ck_assert_ptr_nonnull(strstr(find(out.env, "TPO_CLAIMS"), "\"sub\""));
    ck_assert_str_eq(find(out.env, "TPO_ok"), "fine");
    cfg.claim_prefix = "";
    tpo_claims_render_all(tpo_test_pool, &cfg, "u", c, NULL, 0, NULL, &out);
    ck_assert_ptr_null(find(out.env, "PATH"));
    ck_assert_ptr_null(find(out.env, "LD_PRELOAD"));
    ck_assert_ptr_null(find(out.env, "HTTP_X"));
    ck_assert_str_eq(find(out.env, "ok"), "fine");
    json_decref(c);
}
END_TEST

START_TEST(prefix_checks)
{
    static const char *const env_ok[] = {"TPO_CLAIM_", "OIDC_",  "OIDC_CLAIM_", "X",
                                         "A1_",        "claim_", NULL};
    static const char *const env_bad[] = {
        "",        "LD_",         "ld_",  "LD_X",  "L",   "LD", "P",     "PA",
        "PATH",    "HOME",        "H",    "SHELL", "IFS", "I",  "HTTP_", "HTTP_X_",
        "REMOTE_", "REMOTE_USER", "TPO-", "A B",   "A.",  "1A", "A=",    NULL};
    static const char *const hdr_ok[] = {"X-TPO-", "X-App-", "OIDC-", "x", NULL};
    static const char *const hdr_bad[] = {"", "X_TPO_", "X-TPO:", "X TPO", "X-\r\n", NULL};
    int i;

    for (i = 0; env_ok[i]; i++) {
        ck_assert_msg(tpo_claims_env_prefix_problem(tpo_test_pool, env_ok[i]) == NULL, "%s",
                      env_ok[i]);
    }
    for (i = 0; env_bad[i]; i++) {
        ck_assert_msg(tpo_claims_env_prefix_problem(tpo_test_pool, env_bad[i]) != NULL,
                      "'%s' accepted", env_bad[i]);
    }
    for (i = 0; hdr_ok[i]; i++) {
        ck_assert_msg(tpo_claims_header_prefix_problem(tpo_test_pool, hdr_ok[i]) == NULL, "%s",
                      hdr_ok[i]);
    }
    for (i = 0; hdr_bad[i]; i++) {
        ck_assert_msg(tpo_claims_header_prefix_problem(tpo_test_pool, hdr_bad[i]) != NULL,
                      "'%s' accepted", hdr_bad[i]);
    }
    ck_assert(tpo_claims_env_name_dangerous("LD_PRELOAD"));
    ck_assert(tpo_claims_env_name_dangerous("path"));
    ck_assert(tpo_claims_env_name_dangerous("IFS"));
    ck_assert(!tpo_claims_env_name_dangerous("TPO_CLAIM_PATH"));
}
END_TEST

START_TEST(paths_and_matching)
{
    json_t *c = J("{\"sub\":\"u\",\"groups\":[\"staff\",\"dev\"],\"level\":3,\"admin\":false,"
                  "\"address\":{\"country\":\"DE\"}}");

    ck_assert(tpo_claims_match(c, "groups", "staff"));
    ck_assert(tpo_claims_match(c, "groups", "dev"));
    ck_assert(!tpo_claims_match(c, "groups", "sta"));
    ck_assert(tpo_claims_match(c, "level", "3"));
    ck_assert(tpo_claims_match(c, "admin", "false"));
    ck_assert(!tpo_claims_match(c, "admin", "true"));
    ck_assert(tpo_claims_match(c, "address.country", "DE"));
    ck_assert(!tpo_claims_match(c, "address.country", "de"));
    ck_assert(!tpo_claims_match(c, "address.city", "x"));
    ck_assert(!tpo_claims_match(c, "address", "DE"));
    ck_assert(!tpo_claims_match(c, "", "x"));
    ck_assert(!tpo_claims_match(c, "groups.", "x"));
    ck_assert_ptr_null(tpo_claims_path(c, "a..b"));
    json_decref(c);
}
END_TEST

START_TEST(merge_precedence)
{
    json_t *idt = J("{\"iss\":\"I\",\"sub\":\"u\",\"aud\":\"c\",\"name\":\"old\"}");
    json_t *ui = J("{\"sub\":\"u\",\"iss\":\"EVIL\",\"name\":\"new\",\"email\":\"e\"}");
    json_t *other = J("{\"sub\":\"someone-else\",\"email\":\"x\"}");

    ck_assert(tpo_claims_merge(idt, ui));
    ck_assert_str_eq(json_string_value(json_object_get(idt, "iss")), "I");
    ck_assert_str_eq(json_string_value(json_object_get(idt, "name")), "new");
    ck_assert_str_eq(json_string_value(json_object_get(idt, "email")), "e");
    ck_assert(!tpo_claims_merge(idt, other));
    ck_assert_str_eq(json_string_value(json_object_get(idt, "email")), "e");
    json_decref(idt);
    json_decref(ui);
    json_decref(other);
}
END_TEST

START_TEST(filter_allow_deny)
{
    json_t *c = J("{\"sub\":\"u\",\"email\":\"e\",\"groups\":[1],\"big\":\"x\"}");
    const char *allow[] = {"email", "groups", NULL};
    const char *deny[] = {"groups", "sub", NULL};

    tpo_claims_filter(c, allow, deny);
    ck_assert_ptr_nonnull(json_object_get(c, "sub")); /* always kept */
    ck_assert_ptr_nonnull(json_object_get(c, "email"));
    ck_assert_ptr_null(json_object_get(c, "groups"));
    ck_assert_ptr_null(json_object_get(c, "big"));
    json_decref(c);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("claims");
    TCase *tc = tcase_create("core");
    tcase_add_checked_fixture(tc, tpo_test_setup, tpo_test_teardown);
    tcase_add_test(tc, log_level_gates_formatting);
    tcase_add_test(tc, render_scalars_nested_arrays);
    tcase_add_test(tc, values_made_safe);
    tcase_add_test(tc, user_header_configurable);
    tcase_add_test(tc, colliding_names_first_wins);
    tcase_add_test(tc, reserved_and_dangerous_names);
    tcase_add_test(tc, prefix_checks);
    tcase_add_test(tc, paths_and_matching);
    tcase_add_test(tc, merge_precedence);
    tcase_add_test(tc, filter_allow_deny);
    suite_add_tcase(s, tc);
    return tpo_test_run(s);
}
