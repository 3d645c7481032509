/* SPDX-License-Identifier: Apache-2.0
 * Licensed under the Apache License, Version 2.0 (see LICENSE). */
/* tpo_json_loadb: the fast parser of the login path gives json_loadb's
 * result, and leaves everything outside its subset to jansson. */
#include <stdlib.h>
#include <string.h>
#include "tpo_test.h"
#include "tpo_json_load.h"

/* fast path taken, and the very same value (and key order) as jansson's */
static void same_as_jansson(const char *doc, size_t flags)
{
    json_error_t err;
    json_t *fast = tpo_json_fast_loadb(doc, strlen(doc), flags);
    json_t *ref = json_loadb(doc, strlen(doc), flags, &err);
    char *a, *b;

    ck_assert_msg(fast != NULL, "fast path refused %s", doc);
    ck_assert_msg(ref != NULL, "jansson refused %s", doc);
    ck_assert(json_equal(fast, ref));
    a = json_dumps(fast, JSON_COMPACT);
    b = json_dumps(ref, JSON_COMPACT);
    ck_assert_str_eq(a, b);
    free(a);
    free(b);
    json_decref(fast);
    json_decref(ref);
}

/* not taken by the fast path: tpo_json_loadb answers what jansson answers */
static void left_to_jansson(const char *doc, size_t flags, int valid)
{
    json_error_t err;
    json_t *v;

    ck_assert_msg(tpo_json_fast_loadb(doc, strlen(doc), flags) == NULL, "fast path took %s", doc);
    v = tpo_json_loadb(doc, strlen(doc), flags, &err);
    ck_assert_msg((v != NULL) == valid, "%s: %s", doc, v ? "accepted" : err.text);
    json_decref(v);
}

START_TEST(json_fast_path_values)
{
    same_as_jansson(
        "{\"access_token\":\"Tu-kDHIF0GVQUEE8vvwMZSlrkIVdnRMUlZsbjllzxxU\","
        "\"expires_in\":3600,\"id_token\":\"eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhIn0.c2ln\","
        "\"scope\":\"openid email\",\"token_type\":\"Bearer\"}",
        JSON_REJECT_DUPLICATES);
    same_as_jansson(" {\"a\" : [ 1 , -2 , 0 , -0 , true , false , null , \"\" , {} , [] ] }\n", 0);
    same_as_jansson("[\"esc \\\" \\\\ \\/ \\b \\f \\n \\r \\t end\"]", 0);
    same_as_jansson("{\"name\":\"Jos\xc3\xa9 M\xc3\xbcller \xe2\x82\xac \xf0\x9f\x98\x80\"}", 0);
    same_as_jansson("{\"n\":999999999999999999,\"m\":-999999999999999999}", 0);
    same_as_jansson("{\"dup\":1,\"x\":2,\"dup\":3}", 0); /* the later one wins, in place */
    same_as_jansson("{\"\":\"empty key\",\"nested\":{\"a\":{\"b\":[[[]]]}}}",
                    JSON_REJECT_DUPLICATES);
}
END_TEST

START_TEST(json_left_to_jansson)
{
    /* valid, outside the subset */
    left_to_jansson("{\"u\":\"\\u00e9\"}", 0, 1);
    left_to_jansson("{\"r\":1.5}", 0, 1);
    left_to_jansson("{\"e\":1e3}", 0, 1);
    left_to_jansson("{\"big\":1234567890123456789}", 0, 1);
    /* refused */
    left_to_jansson("{\"dup\":1,\"dup\":2}", JSON_REJECT_DUPLICATES, 0);
    left_to_jansson("{\"big\":99999999999999999999}", 0, 0);
    left_to_jansson("{\"a\":01}", 0, 0);
    left_to_jansson("{\"a\":-}", 0, 0);
    left_to_jansson("{\"a\":1,}", 0, 0);
    left_to_jansson("[1,]", 0, 0);
    left_to_jansson("{\"a\":tru}", 0, 0);
    left_to_jansson("{\"a\":truex}", 0, 0);
    left_to_jansson("{\"a\":\"ctl\x01\"}", 0, 0);
    left_to_jansson("{\"a\":\"\xc0\xaf\"}", 0, 0);         /* overlong */
    left_to_jansson("{\"a\":\"\xed\xa0\x80\"}", 0, 0);     /* a surrogate */
    left_to_jansson("{\"a\":\"\xf4\x90\x80\x80\"}", 0, 0); /* above U+10FFFF */
    left_to_jansson("{\"a\":\"\xe2\x82\"}", 0, 0);         /* cut short */
    left_to_jansson("{\"a\":\"\\x\"}", 0, 0);
    left_to_jansson("{\"a\":\"\\u0000\"}", 0, 0);
    left_to_jansson("{\"a\":1} x", 0, 0);
    left_to_jansson("{\"a\":1", 0, 0);
    left_to_jansson("\"top-level string\"", 0, 0);
    left_to_jansson("42", 0, 0);
    left_to_jansson("", 0, 0);
    /* other flags: jansson */
    left_to_jansson("\"any\"", JSON_DECODE_ANY, 1);
}
END_TEST

START_TEST(json_depth)
{
    char deep[4201];
    int i;

    /* 64 levels: fast; 65: jansson (which takes it) */
    for (i = 0; i < 64; i++) {
        deep[i] = '[';
        deep[64 + i] = ']';
    }
    deep[128] = '\0';
    same_as_jansson(deep, 0);
    for (i = 0; i < 65; i++) {
        deep[i] = '[';
        deep[65 + i] = ']';
    }
    deep[130] = '\0';
    left_to_jansson(deep, 0, 1);
    /* beyond jansson's limit: refused */
    for (i = 0; i < 2100; i++) {
        deep[i] = '[';
        deep[2100 + i] = ']';
    }
    deep[4200] = '\0';
    {
        json_error_t err;
        ck_assert_ptr_null(tpo_json_loadb(deep, 4200, 0, &err));
        ck_assert_ptr_nonnull(strstr(err.text, "depth"));
    }
}
END_TEST

START_TEST(json_dump_compact_as_jansson)
{
    static const char *const docs[] = {
        "{\"sub\":\"alice\",\"email_verified\":true,\"n\":-42,\"z\":null,\"f\":false,"
        "\"groups\":[\"staff\",\"tpo-users\"],\"address\":{\"country\":\"DE\"},\"e\":{},"
        "\"a\":[]}",
        "{\"ctl\":\"a\\n\\t\\b\\f\\r\\u0001\\u001f\\\"\\\\/x\",\"del\":\"\x7f\"}",
        "{\"name\":\"Jos\xc3\xa9 \xf0\x9f\x98\x80\",\"k\\\"ey\":1}",
        "{\"real\":1.5,\"x\":[0.1,1e300]}", /* reals: jansson's own text */
        "[[[[1]]],{\"\":\"\"}]",
        NULL};
    int i;

    for (i = 0; docs[i]; i++) {
        json_error_t err;
        json_t *v = json_loads(docs[i], 0, &err);
        char *ref;

        ck_assert_msg(v != NULL, "%s: %s", docs[i], err.text);
        ref = json_dumps(v, JSON_COMPACT);
        ck_assert_str_eq(tpo_json_dump_compact(tpo_test_pool, v), ref);
        free(ref);
        json_decref(v);
    }
    /* a string that is not UTF-8 (built without checks): refused, as jansson does */
    {
        json_t *o = json_object();
        json_object_set_new(o, "bad", json_stringn_nocheck("\xff", 1));
        ck_assert_ptr_null(json_dumps(o, JSON_COMPACT));
        ck_assert_ptr_null(tpo_json_dump_compact(tpo_test_pool, o));
        json_decref(o);
    }
}
END_TEST

int main(void)
{
    Suite *s = suite_create("json_load");
    TCase *tc = tcase_create("core");
    tcase_add_checked_fixture(tc, tpo_test_setup, tpo_test_teardown);
    tcase_add_test(tc, json_fast_path_values);
    tcase_add_test(tc, json_left_to_jansson);
    tcase_add_test(tc, json_depth);
    tcase_add_test(tc, json_dump_compact_as_jansson);
    suite_add_tcase(s, tc);
    return tpo_test_run(s);
}
