/* SPDX-License-Identifier: Apache-2.0
 * Licensed under the Apache License, Version 2.0 (see LICENSE). */
/* Claims to variables and headers, paths, matching, merging, filtering. */
#include <string.h>
#include "tpo_test.h"
#include "tpo_claims.h"

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

static const tpo_claims_render CFG = { "TPO_CLAIM_", "X-TPO-", NULL, "_", "," };

START_TEST(render_scalars_nested_arrays)
{
    json_t *c = J("{\"sub\":\"u1\",\"email\":\"a@b.c\",\"age\":42,\"ok\":true,"
                  "\"address\":{\"country\":\"DE\",\"geo\":{\"lat\":1}},"
                  "\"groups\":[\"staff\",\"a,b\",\"back\\\\slash\"],"
                  "\"objs\":[{\"x\":1}],\"nonce\":\"n\",\"at_hash\":\"h\","
                  "\"weird-name.x\":\"v\"}");
    tpo_claims_out out;

    tpo_claims_render_all(tpo_test_pool, &CFG, "u1", c, "AT", 1700000000LL, "openid email",
                          &out);
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
    const char *allow[] = { "email", "groups", NULL };
    const char *deny[] = { "groups", "sub", NULL };

    tpo_claims_filter(c, allow, deny);
    ck_assert_ptr_nonnull(json_object_get(c, "sub"));   /* always kept */
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
    tcase_add_test(tc, render_scalars_nested_arrays);
    tcase_add_test(tc, values_made_safe);
    tcase_add_test(tc, user_header_configurable);
    tcase_add_test(tc, paths_and_matching);
    tcase_add_test(tc, merge_precedence);
    tcase_add_test(tc, filter_allow_deny);
    suite_add_tcase(s, tc);
    return tpo_test_run(s);
}
