/* SPDX-License-Identifier: Apache-2.0
 * Licensed under the Apache License, Version 2.0 (see LICENSE). */
/* The sealed login cookie: round trip, tamper, wrong key, truncation,
 * expiry, state/provider binding, and the per-browser bound. */
#include <string.h>
#include <apr_strings.h>
#include "tpo_test.h"
#include "tpo_pending_cookie.h"

#define STATE "Zq3v9aG0m1Xc8Q2pLr7tY4uW6eB5nH1jK0sD3fA9gTz"
#define SECRET "0123456789abcdef0123456789abcdef"
#define NOW ((apr_time_t)1700000000 * APR_USEC_PER_SEC)

/* the provider binding most tests use */
static tpo_pending_binding B;

static void key_from(const char *secret, tpo_pending_key *k)
{
    ck_assert_int_eq(tpo_pending_key_derive(secret, strlen(secret), k), APR_SUCCESS);
    ck_assert_int_eq(tpo_pending_binding_make("https://idp.example", "client", "/redirect_uri",
                                              "app.example", &B),
                     APR_SUCCESS);
}

/* the login cookies of one provider (base) */
static apr_array_header_t *cookies_of(const tpo_pending_key *k, const char *hdr, const char *base,
                                      apr_time_t now)
{
    tpo_pending_base b;

    b.name = base;
    b.bind = &B;
    b.own = 1;
    b.ctx = NULL;
    return tpo_pending_cookies(tpo_test_pool, k, hdr, &b, 1, now);
}

static tpo_pending sample(const char *state, apr_time_t created)
{
    tpo_pending pl;

    memset(&pl, 0, sizeof(pl));
    pl.created = created;
    pl.expires = created + apr_time_from_sec(300);
    pl.state = state;
    pl.provider = "idp";
    pl.nonce = "nonce-1";
    pl.code_verifier = "verifier-verifier-verifier-verifier-verifier";
    pl.redirect_uri = "http://127.0.0.1:8080/redirect_uri";
    pl.return_url = "/app/page?x=1";
    return pl;
}

/* "name=value" as a Cookie header */
static const char *header_for(const char *base, const char *state, const char *val)
{
    return apr_pstrcat(tpo_test_pool, "other=1; ",
                       tpo_pending_cookie_name(tpo_test_pool, base, state), "=", val, "; x=y",
                       NULL);
}

START_TEST(seal_open_roundtrip)
{
    tpo_pending_key k;
    tpo_pending pl = sample(STATE, NOW), d;
    const char *v, *name;

    key_from(SECRET, &k);
    v = tpo_pending_seal(tpo_test_pool, &k, &B, &pl);
    ck_assert_ptr_nonnull(v);
    ck_assert(strlen(v) < 600);
    /* nothing readable in the cookie */
    ck_assert_ptr_null(strstr(v, "verifier"));
    ck_assert_int_eq(tpo_pending_open(tpo_test_pool, &k, &B, v, strlen(v), &d), APR_SUCCESS);
    ck_assert_str_eq(d.state, STATE);
    ck_assert_str_eq(d.provider, "idp");
    ck_assert_str_eq(d.nonce, "nonce-1");
    ck_assert_str_eq(d.code_verifier, pl.code_verifier);
    ck_assert_str_eq(d.redirect_uri, pl.redirect_uri);
    ck_assert_str_eq(d.return_url, "/app/page?x=1");
    ck_assert(d.expires == pl.expires && d.created == NOW);
    /* two seals of the same login differ (random IV) */
    ck_assert_str_ne(v, tpo_pending_seal(tpo_test_pool, &k, &B, &pl));
    ck_assert_int_eq(tpo_pending_find(tpo_test_pool, &k, &B, header_for("tpo", STATE, v), "tpo",
                                      STATE, "idp", NOW + 1, &d, &name),
                     TPO_PENDING_OK);
    ck_assert_str_eq(d.code_verifier, pl.code_verifier);
    ck_assert_ptr_nonnull(strstr(name, "tpo_login_"));
    ck_assert_uint_eq(strlen(name), strlen("tpo_login_") + TPO_PENDING_TAG_LEN);
}
END_TEST

START_TEST(tampered_every_byte_refused)
{
    tpo_pending_key k;
    tpo_pending pl = sample(STATE, NOW), d;
    char *v;
    apr_size_t i, n;

    key_from(SECRET, &k);
    v = apr_pstrdup(tpo_test_pool, tpo_pending_seal(tpo_test_pool, &k, &B, &pl));
    n = strlen(v);
    for (i = 0; i < n; i++) {
        char c = v[i];
        v[i] = c == 'A' ? 'B' : 'A';
        /* the last character may only carry padding bits: then the bytes are unchanged */
        if (i + 1 < n) {
            ck_assert_int_eq(tpo_pending_open(tpo_test_pool, &k, &B, v, n, &d), APR_EINVAL);
        }
        v[i] = c;
    }
    ck_assert_int_eq(tpo_pending_open(tpo_test_pool, &k, &B, v, n, &d), APR_SUCCESS);
    ck_assert_int_eq(tpo_pending_open(tpo_test_pool, &k, &B, "not base64!", 11, &d), APR_EINVAL);
    ck_assert_int_eq(tpo_pending_open(tpo_test_pool, &k, &B, "", 0, &d), APR_EINVAL);
    {
        const char *name;
        ck_assert_int_eq(tpo_pending_find(tpo_test_pool, &k, &B, header_for("tpo", STATE, "AAAA"),
                                          "tpo", STATE, "idp", NOW, &d, &name),
                         TPO_PENDING_BAD_COOKIE);
    }
}
END_TEST

START_TEST(truncated_refused)
{
    tpo_pending_key k;
    tpo_pending pl = sample(STATE, NOW), d;
    const char *v;
    apr_size_t i, n;

    key_from(SECRET, &k);
    v = tpo_pending_seal(tpo_test_pool, &k, &B, &pl);
    n = strlen(v);
    for (i = 0; i < n; i++) {
        ck_assert_int_eq(tpo_pending_open(tpo_test_pool, &k, &B, v, i, &d), APR_EINVAL);
    }
    /* longer (a byte appended) is refused too */
    ck_assert_int_eq(tpo_pending_open(tpo_test_pool, &k, &B,
                                      apr_pstrcat(tpo_test_pool, v, "AA", NULL), n + 2, &d),
                     APR_EINVAL);
}
END_TEST

START_TEST(wrong_key_refused)
{
    tpo_pending_key k1, k2, r1;
    tpo_pending pl = sample(STATE, NOW), d;
    const char *v, *name;

    key_from(SECRET, &k1);
    key_from("another-secret-another-secret-0123", &k2);
    ck_assert_int_eq(tpo_pending_key_random(&r1), APR_SUCCESS);
    v = tpo_pending_seal(tpo_test_pool, &k1, &B, &pl);
    ck_assert_int_eq(tpo_pending_open(tpo_test_pool, &k2, &B, v, strlen(v), &d), APR_EINVAL);
    ck_assert_int_eq(tpo_pending_open(tpo_test_pool, &r1, &B, v, strlen(v), &d), APR_EINVAL);
    ck_assert_int_eq(tpo_pending_find(tpo_test_pool, &k2, &B, header_for("tpo", STATE, v), "tpo",
                                      STATE, "idp", NOW, &d, &name),
                     TPO_PENDING_BAD_COOKIE);
    /* the same secret gives the same key (two servers sharing a key file) */
    key_from(SECRET, &k2);
    ck_assert_int_eq(tpo_pending_open(tpo_test_pool, &k2, &B, v, strlen(v), &d), APR_SUCCESS);
    /* secrets shorter than 32 bytes are refused */
    ck_assert_int_eq(tpo_pending_key_derive("short", 5, &k2), APR_EINVAL);
    ck_assert_int_eq(tpo_pending_key_derive(SECRET, 31, &k2), APR_EINVAL);
}
END_TEST

START_TEST(expiry_state_provider_and_absence)
{
    tpo_pending_key k;
    tpo_pending pl = sample(STATE, NOW), d;
    const char *v, *name, *hdr;
    const char *other = "A" STATE; /* another well-formed state */

    key_from(SECRET, &k);
    v = tpo_pending_seal(tpo_test_pool, &k, &B, &pl);
    hdr = header_for("tpo", STATE, v);
    ck_assert_int_eq(
        tpo_pending_find(tpo_test_pool, &k, &B, hdr, "tpo", STATE, "idp", pl.expires, &d, &name),
        TPO_PENDING_OK);
    ck_assert_int_eq(tpo_pending_find(tpo_test_pool, &k, &B, hdr, "tpo", STATE, "idp",
                                      pl.expires + 1, &d, &name),
                     TPO_PENDING_EXPIRED);
    ck_assert_int_eq(
        tpo_pending_find(tpo_test_pool, &k, &B, hdr, "tpo", STATE, "other", NOW, &d, &name),
        TPO_PENDING_OTHER_PROVIDER);
    /* a stranger with the state but not the cookie */
    ck_assert_int_eq(
        tpo_pending_find(tpo_test_pool, &k, &B, "tpo=abc", "tpo", STATE, "idp", NOW, &d, &name),
        TPO_PENDING_NO_COOKIE);
    ck_assert_int_eq(
        tpo_pending_find(tpo_test_pool, &k, &B, NULL, "tpo", STATE, "idp", NOW, &d, &name),
        TPO_PENDING_NO_COOKIE);
    /* another state: its cookie name differs */
    ck_assert_int_eq(
        tpo_pending_find(tpo_test_pool, &k, &B, hdr, "tpo", other, "idp", NOW, &d, &name),
        TPO_PENDING_NO_COOKIE);
    /* a cookie copied under the other state's name still holds its own state */
    hdr = header_for("tpo", other, v);
    ck_assert_int_eq(
        tpo_pending_find(tpo_test_pool, &k, &B, hdr, "tpo", other, "idp", NOW, &d, &name),
        TPO_PENDING_OTHER_STATE);
    /* states we never issue */
    ck_assert_int_eq(
        tpo_pending_find(tpo_test_pool, &k, &B, hdr, "tpo", "a;b", "idp", NOW, &d, &name),
        TPO_PENDING_NO_COOKIE);
    ck_assert_int_eq(tpo_pending_find(tpo_test_pool, &k, &B, hdr, "tpo", "", "idp", NOW, &d, &name),
                     TPO_PENDING_NO_COOKIE);
    ck_assert_ptr_nonnull(tpo_pending_result_text(TPO_PENDING_BAD_COOKIE));
}
END_TEST

static const char *state_n(int i)
{
    return apr_psprintf(tpo_test_pool, "state%038d", i);
}

START_TEST(too_many_per_browser_oldest_dropped)
{
    tpo_pending_key k;
    const char *hdr = "tpo=sid; unrelated_login_ABCDEFGH=x", *name, *v;
    apr_array_header_t *slots;
    tpo_pending pl, d;
    int i, n;

    key_from(SECRET, &k);
    /* 10 logins, started one second apart, in shuffled cookie order */
    for (i = 0; i < 10; i++) {
        int j = (i * 7) % 10;
        pl = sample(state_n(j), NOW + apr_time_from_sec(j));
        v = tpo_pending_seal(tpo_test_pool, &k, &B, &pl);
        hdr = apr_pstrcat(tpo_test_pool, hdr, "; ",
                          tpo_pending_cookie_name(tpo_test_pool, "tpo", state_n(j)), "=", v, NULL);
    }
    /* a cookie under our prefix that does not open, and a duplicate name */
    hdr = apr_pstrcat(tpo_test_pool, hdr, "; tpo_login_ZZZZZZZZ=garbage; ",
                      tpo_pending_cookie_name(tpo_test_pool, "tpo", state_n(0)), "=dup", NULL);
    slots = cookies_of(&k, hdr, "tpo", NOW + apr_time_from_sec(20));
    ck_assert_int_eq(slots->nelts, 11);
    n = tpo_pending_cookies_trim(slots, 8, 400, 1000000, NULL);
    /* the garbage one, then the oldest three: 7 kept + the new one = 8 */
    ck_assert_int_eq(n, 4);
    for (i = 0; i < slots->nelts; i++) {
        tpo_pending_slot *s = &APR_ARRAY_IDX(slots, i, tpo_pending_slot);
        if (!strcmp(s->name, "tpo_login_ZZZZZZZZ")) {
            ck_assert_int_eq(s->drop, TPO_PENDING_DROP_UNUSABLE);
            continue;
        }
        ck_assert(s->created > 0);
        ck_assert_int_eq(s->drop != 0, s->created < NOW + apr_time_from_sec(3));
    }
    /* the byte budget drops more */
    n = tpo_pending_cookies_trim(slots, 8, 400, 400 + 2 * 600, NULL);
    ck_assert_int_ge(n, 8);
    /* max 1: everything goes */
    ck_assert_int_eq(tpo_pending_cookies_trim(slots, 1, 400, 1000000, NULL), 11);
    /* expired cookies count as unusable */
    slots = cookies_of(&k, hdr, "tpo", NOW + apr_time_from_sec(1000));
    ck_assert_int_eq(tpo_pending_cookies_trim(slots, 8, 400, 1000000, NULL), 11);
    /* the newest one is still findable among all the others */
    ck_assert_int_eq(tpo_pending_find(tpo_test_pool, &k, &B, hdr, "tpo", state_n(9), "idp",
                                      NOW + apr_time_from_sec(20), &d, &name),
                     TPO_PENDING_OK);
    /* no header, no cookies */
    ck_assert_int_eq(cookies_of(&k, NULL, "tpo", NOW)->nelts, 0);
}
END_TEST

START_TEST(cookie_size_bounded)
{
    tpo_pending_key k;
    tpo_pending pl = sample(STATE, NOW);
    char *url = apr_palloc(tpo_test_pool, TPO_PENDING_RETURN_URL_MAX + 1);
    const char *v;

    key_from(SECRET, &k);
    memset(url, 'a', TPO_PENDING_RETURN_URL_MAX);
    url[0] = '/';
    url[TPO_PENDING_RETURN_URL_MAX] = '\0';
    pl.return_url = url;
    v = tpo_pending_seal(tpo_test_pool, &k, &B, &pl);
    /* a few of the largest fit the host's byte budget (review finding 1) */
    ck_assert_int_le(TPO_PENDING_RETURN_URL_MAX, 512);
    /* the largest login cookie fits a browser's 4096 bytes and the byte budget */
    ck_assert(strlen(v) + 40 < 4096);
    ck_assert(strlen(v) + 40 <= TPO_PENDING_COOKIES_MAX_BYTES);
}
END_TEST


/* Review finding 7: a cookie is bound to the provider configuration (issuer,
 * client_id, redirect URI, virtual host), not only to the provider's name. */
START_TEST(binding_other_provider_configuration_refused)
{
    tpo_pending_key k;
    tpo_pending_binding other[6];
    tpo_pending pl = sample(STATE, NOW), d;
    const char *v, *name;
    int i;

    key_from(SECRET, &k);
    v = tpo_pending_seal(tpo_test_pool, &k, &B, &pl);
    ck_assert_int_eq(tpo_pending_open(tpo_test_pool, &k, &B, v, strlen(v), &d), APR_SUCCESS);
    ck_assert_int_eq(tpo_pending_binding_make("https://idp.example/other", "client",
                                              "/redirect_uri", "app.example", &other[0]),
                     0);
    ck_assert_int_eq(tpo_pending_binding_make("https://idp.example", "client2", "/redirect_uri",
                                              "app.example", &other[1]),
                     0);
    ck_assert_int_eq(tpo_pending_binding_make("https://idp.example", "client",
                                              "/other/redirect_uri", "app.example", &other[2]),
                     0);
    /* same provider block on another virtual host (shared TPOAuthCookieDomain) */
    ck_assert_int_eq(tpo_pending_binding_make("https://idp.example", "client", "/redirect_uri",
                                              "other.example", &other[3]),
                     0);
    ck_assert_int_eq(
        tpo_pending_binding_make("https://idp.example", "client", "/redirect_uri", NULL, &other[4]),
        0);
    /* fields do not run into each other */
    ck_assert_int_eq(tpo_pending_binding_make("https://idp.examplec", "lient", "/redirect_uri",
                                              "app.example", &other[5]),
                     0);
    for (i = 0; i < 6; i++) {
        ck_assert(memcmp(other[i].b, B.b, sizeof(B.b)) != 0);
        ck_assert_int_eq(tpo_pending_open(tpo_test_pool, &k, &other[i], v, strlen(v), &d),
                         APR_EINVAL);
        ck_assert_int_eq(tpo_pending_find(tpo_test_pool, &k, &other[i], header_for("tpo", STATE, v),
                                          "tpo", STATE, "idp", NOW, &d, &name),
                         TPO_PENDING_BAD_COOKIE);
    }
}
END_TEST

/* Review finding 4: a key file that looks like a passphrase is refused. */
START_TEST(secret_passphrase_refused)
{
    unsigned char bin[32];
    int i;

    ck_assert_ptr_nonnull(
        tpo_pending_secret_problem((const unsigned char *)"kkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkk", 32));
    ck_assert_ptr_nonnull(tpo_pending_secret_problem(
        (const unsigned char *)"correct horse battery staple and more!!!!!", 42));
    ck_assert_ptr_nonnull(tpo_pending_secret_problem(
        (const unsigned char *)"correct horse battery staple and more!!!!!\n", 43));
    ck_assert_ptr_nonnull(tpo_pending_secret_problem(
        (const unsigned char *)"correct horse battery staple and more!!!!!\r\n", 44));
    ck_assert_ptr_nonnull(tpo_pending_secret_problem((const unsigned char *)"short", 5));
    ck_assert_ptr_nonnull(tpo_pending_secret_problem(NULL, 0));
    /* openssl rand -base64 32 (44 characters and a newline), -hex 32: long enough */
    ck_assert_ptr_null(tpo_pending_secret_problem(
        (const unsigned char *)"q0ZbE2z1m8l3mW0n9v6d5sJ8T1bCq4xH2e7Yk9o3PpA=\n", 45));
    ck_assert_ptr_null(tpo_pending_secret_problem(
        (const unsigned char *)"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
        64));
    /* binary (openssl rand -out FILE 32) */
    for (i = 0; i < 32; i++) {
        bin[i] = (unsigned char)('a' + i % 26);
    }
    bin[7] = 0x00;
    ck_assert_ptr_null(tpo_pending_secret_problem(bin, 32));
    bin[7] = 0xc3;
    ck_assert_ptr_null(tpo_pending_secret_problem(bin, 32));
}
END_TEST

/* Review finding 1: the login cookies of all the providers of a host share
 * one byte budget (they travel in one Cookie header), the count limit stays
 * per provider, and the caller learns why cookies were dropped. */
START_TEST(budget_shared_by_all_providers)
{
    static const char *names[3] = {"tpo_pa", "tpo_pb", "tpo_pc"};
    tpo_pending_key k;
    tpo_pending_binding bind[3];
    tpo_pending_base bases[3];
    tpo_pending_trim_stats st;
    apr_array_header_t *slots;
    char *url = apr_palloc(tpo_test_pool, TPO_PENDING_RETURN_URL_MAX + 1);
    const char *hdr = "app=1";
    apr_size_t total, kept, own_kept;
    int i, j, n, ctx_ok;

    key_from(SECRET, &k);
    memset(url, 'a', TPO_PENDING_RETURN_URL_MAX);
    url[0] = '/';
    url[TPO_PENDING_RETURN_URL_MAX] = '\0';
    for (j = 0; j < 3; j++) {
        ck_assert_int_eq(tpo_pending_binding_make("https://idp.example", names[j], "/cb",
                                                  "app.example", &bind[j]),
                         APR_SUCCESS);
        bases[j].name = names[j];
        bases[j].bind = &bind[j];
        bases[j].own = j == 0;
        bases[j].ctx = names[j];
    }
    /* 4 logins per provider with the longest return URL kept */
    for (j = 0; j < 3; j++) {
        for (i = 0; i < 4; i++) {
            const char *st8 = apr_psprintf(tpo_test_pool, "state%d%037d", j, i);
            tpo_pending pl = sample(st8, NOW + apr_time_from_sec(j * 10 + i));
            pl.return_url = url;
            hdr = apr_pstrcat(tpo_test_pool, hdr, "; ",
                              tpo_pending_cookie_name(tpo_test_pool, names[j], st8), "=",
                              tpo_pending_seal(tpo_test_pool, &k, &bind[j], &pl), NULL);
        }
    }
    slots = tpo_pending_cookies(tpo_test_pool, &k, hdr, bases, 3, NOW + apr_time_from_sec(60));
    ck_assert_int_eq(slots->nelts, 12);
    for (i = 0, total = 0, ctx_ok = 1; i < slots->nelts; i++) {
        tpo_pending_slot *s = &APR_ARRAY_IDX(slots, i, tpo_pending_slot);
        ck_assert(s->created > 0);
        total += s->size;
        /* each opened under its own provider */
        ctx_ok &=
            !strncmp(s->name, (const char *)s->ctx, 6) && s->own == !strncmp(s->name, "tpo_pa", 6);
    }
    ck_assert(ctx_ok);
    ck_assert(total > TPO_PENDING_COOKIES_MAX_BYTES);
    n = tpo_pending_cookies_trim(slots, 8, 600, TPO_PENDING_COOKIES_MAX_BYTES, &st);
    ck_assert_int_gt(n, 0);
    ck_assert_int_eq(st.size, n);
    ck_assert_int_eq(st.count + st.unusable, 0);
    for (i = 0, kept = 600, own_kept = 0; i < slots->nelts; i++) {
        tpo_pending_slot *s = &APR_ARRAY_IDX(slots, i, tpo_pending_slot);
        if (!s->drop) {
            kept += s->size;
            own_kept += s->own;
        }
        else {
            ck_assert_int_eq(s->drop, TPO_PENDING_DROP_SIZE);
        }
    }
    ck_assert(kept <= TPO_PENDING_COOKIES_MAX_BYTES);
    /* the oldest went first: provider pa's (started first) */
    ck_assert_uint_eq(own_kept, 0);
    /* the count limit is per provider: 4 of pa, max 3 -> 2 of pa go, none of the others */
    n = tpo_pending_cookies_trim(slots, 3, 1, 1000000, &st);
    ck_assert_int_eq(n, 2);
    ck_assert_int_eq(st.count, 2);
    ck_assert_int_eq(st.size, 0);
    for (i = 0; i < slots->nelts; i++) {
        tpo_pending_slot *s = &APR_ARRAY_IDX(slots, i, tpo_pending_slot);
        ck_assert_int_eq(s->drop != 0, s->own && s->created < NOW + apr_time_from_sec(2));
    }
    /* a cookie of pb under a name pa shares (same cookie name): opens as pb's */
    bases[1].name = "tpo_pa";
    {
        tpo_pending pl = sample(STATE, NOW);
        hdr = apr_pstrcat(tpo_test_pool, tpo_pending_cookie_name(tpo_test_pool, "tpo_pa", STATE),
                          "=", tpo_pending_seal(tpo_test_pool, &k, &bind[1], &pl), NULL);
    }
    slots = tpo_pending_cookies(tpo_test_pool, &k, hdr, bases, 3, NOW);
    ck_assert_int_eq(slots->nelts, 1);
    ck_assert(APR_ARRAY_IDX(slots, 0, tpo_pending_slot).created == NOW);
    ck_assert_int_eq(APR_ARRAY_IDX(slots, 0, tpo_pending_slot).own, 0);
    ck_assert_ptr_eq(APR_ARRAY_IDX(slots, 0, tpo_pending_slot).ctx, names[1]);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("pending_cookie");
    TCase *tc = tcase_create("core");
    tcase_add_checked_fixture(tc, tpo_test_setup, tpo_test_teardown);
    tcase_add_test(tc, seal_open_roundtrip);
    tcase_add_test(tc, tampered_every_byte_refused);
    tcase_add_test(tc, truncated_refused);
    tcase_add_test(tc, wrong_key_refused);
    tcase_add_test(tc, expiry_state_provider_and_absence);
    tcase_add_test(tc, too_many_per_browser_oldest_dropped);
    tcase_add_test(tc, cookie_size_bounded);
    tcase_add_test(tc, binding_other_provider_configuration_refused);
    tcase_add_test(tc, secret_passphrase_refused);
    tcase_add_test(tc, budget_shared_by_all_providers);
    suite_add_tcase(s, tc);
    return tpo_test_run(s);
}
