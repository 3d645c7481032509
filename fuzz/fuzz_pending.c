/* SPDX-License-Identifier: Apache-2.0
 * Licensed under the Apache License, Version 2.0 (see LICENSE). */
/* What is untrusted about pending logins today: the record decoder (round
 * trip when accepted, strings inside the record) and the login cookies of a
 * hostile Cookie header. A key and two provider bindings are made at start,
 * with a genuine sealed login cookie that must open (so the oracle is not
 * vacuous). Oracles: no value the fuzzer makes ever opens (directly, through
 * tpo_pending_find or tpo_pending_cookies); the genuine cookie with bytes
 * changed opens if and only if nothing changed; trimming drops every
 * unusable slot, then only the oldest, until the limits hold.
 * First input byte picks the mode:
 *   0 record   "<record bytes>"
 *   1 header   "<state>\n<Cookie header>"             (fuzzer-made only)
 *   2 genuine  "<nmut><mutations (4 bytes each)><prefix>\n<suffix>"
 *   3 forge    "<raw cookie value bytes>" (as given, and base64url of 0x01|bytes)
 *   4 trim     "<max><new_size><max_bytes><slots: created, size, own (3 bytes each)>" */
#include "fuzz_common.h"
#include "tpo_b64.h"
#include "tpo_pending.h"
#include "tpo_pending_cookie.h"

#define BASE "tpo"
#define T0 ((apr_time_t)1700000000 * APR_USEC_PER_SEC)
#define NOW (T0 + APR_USEC_PER_SEC)
#define GSTATE "af0ifjsldkjAbC-123_xyzAbC-123_xyzAbC-123_x"

static apr_pool_t *gpool;
static tpo_pending_key key;
static tpo_pending_binding bind_a, bind_b;
static const char *gname, *gval; /* the genuine login cookie */
static tpo_pending_base bases[3];

static int same(const char *a, const char *b)
{
    return (a == NULL && b == NULL) || (a && b && strcmp(a, b) == 0);
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    tpo_pending pl = {T0,
                      T0 + 300 * APR_USEC_PER_SEC,
                      GSTATE,
                      "idp",
                      "n-0S6",
                      "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk",
                      "https://app.example/redirect_uri",
                      "/app/page?x=1"};
    tpo_pending out;
    tpo_pending_key other;
    const char *name;
    char *hdr;

    fuzz_once_begin();
    fuzz_init_apr();
    apr_pool_create(&gpool, fuzz_root);
    CHECK(tpo_pending_key_random(&key) == APR_SUCCESS);
    CHECK(tpo_pending_key_random(&other) == APR_SUCCESS);
    CHECK(tpo_pending_binding_make("https://idp.example", "client-1",
                                   "https://app.example/redirect_uri", NULL,
                                   &bind_a) == APR_SUCCESS);
    CHECK(tpo_pending_binding_make("https://idp.example", "client-2",
                                   "https://app.example/redirect_uri", NULL,
                                   &bind_b) == APR_SUCCESS);
    gval = tpo_pending_seal(gpool, &key, &bind_a, &pl);
    gname = tpo_pending_cookie_name(gpool, BASE, GSTATE);
    CHECK(gval != NULL && gname != NULL);
    /* the genuine cookie opens, and only under its key and binding */
    CHECK(tpo_pending_open(gpool, &key, &bind_a, gval, strlen(gval), &out) == APR_SUCCESS);
    CHECK(same(out.state, GSTATE) && same(out.provider, "idp") && out.created == T0);
    CHECK(tpo_pending_open(gpool, &key, &bind_b, gval, strlen(gval), &out) == APR_EINVAL);
    CHECK(tpo_pending_open(gpool, &other, &bind_a, gval, strlen(gval), &out) == APR_EINVAL);
    hdr = apr_pstrcat(gpool, "a=b; ", gname, "=", gval, "; c=d", NULL);
    CHECK(tpo_pending_find(gpool, &key, &bind_a, hdr, BASE, GSTATE, "idp", NOW, &out, &name) ==
              TPO_PENDING_OK &&
          same(name, gname));
    bases[0] = (tpo_pending_base){BASE, &bind_b, 0, "b"};
    bases[1] = (tpo_pending_base){BASE, &bind_a, 1, "a"};
    bases[2] = (tpo_pending_base){"app", &bind_a, 0, "c"};
    {
        apr_array_header_t *s = tpo_pending_cookies(gpool, &key, hdr, bases, 3, NOW);
        CHECK(s->nelts == 1 && APR_ARRAY_IDX(s, 0, tpo_pending_slot).created == T0);
    }
    fuzz_once_end();
    return 0;
}

static void record(apr_pool_t *p, const uint8_t *data, size_t size)
{
    char *buf = size ? apr_pmemdup(p, data, size) : NULL;
    tpo_pending pl, again;
    apr_size_t len;
    char *enc;
    size_t i;

    if (tpo_pending_decode(p, buf, size, &pl) != APR_SUCCESS) {
        return;
    }
    const char *f[] = {pl.state,        pl.provider,   pl.nonce,       pl.code_verifier,
                       pl.redirect_uri, pl.return_url, pl.acr_required};
    for (i = 0; i < sizeof(f) / sizeof(f[0]); i++) {
        if (f[i])
            CHECK(f[i] >= buf && f[i] < buf + size &&
                  memchr(f[i], '\0', (size_t)(buf + size - f[i])) != NULL);
    }
    enc = tpo_pending_encode(p, &pl, &len);
    CHECK(tpo_pending_decode(p, enc, len, &again) == APR_SUCCESS);
    CHECK(pl.created == again.created && pl.expires == again.expires);
    CHECK(same(pl.state, again.state) && same(pl.provider, again.provider));
    CHECK(same(pl.nonce, again.nonce) && same(pl.code_verifier, again.code_verifier));
    CHECK(same(pl.redirect_uri, again.redirect_uri) && same(pl.return_url, again.return_url));
    CHECK(same(pl.acr_required, again.acr_required) && pl.max_auth_age == again.max_auth_age);
}

/* Slots from tpo_pending_cookies: names unique, each a login cookie name
 * found in the header; only the genuine one (when `genuine`; -1: it may
 * not open) has an age. */
static void check_slots(apr_array_header_t *s, const char *header, int genuine)
{
    int i, j, found = 0;

    CHECK(s->nelts <= 64);
    for (i = 0; i < s->nelts; i++) {
        tpo_pending_slot *x = &APR_ARRAY_IDX(s, i, tpo_pending_slot);
        CHECK(strstr(header, x->name) != NULL && x->size > strlen(x->name));
        CHECK(strncmp(x->name, BASE "_login_", 10) == 0 || strncmp(x->name, "app_login_", 10) == 0);
        for (j = 0; j < i; j++) {
            CHECK(strcmp(APR_ARRAY_IDX(s, j, tpo_pending_slot).name, x->name) != 0);
        }
        if (genuine && strcmp(x->name, gname) == 0) {
            CHECK(x->created == T0 ? x->own == 1 : (genuine < 0 && x->created == 0));
            found = 1;
        }
        else {
            CHECK(x->created == 0);
        }
    }
    CHECK(!genuine || found);
}

static void trim_check(apr_array_header_t *s, int max, apr_size_t new_size, apr_size_t max_bytes)
{
    tpo_pending_trim_stats st;
    apr_size_t total = new_size;
    int i, j, n, marked = 0, kept = 0, kept_own = 0;

    n = tpo_pending_cookies_trim(s, max, new_size, max_bytes, &st);
    if (max < 1)
        max = 1;
    CHECK(n == st.unusable + st.count + st.size);
    for (i = 0; i < s->nelts; i++) {
        tpo_pending_slot *x = &APR_ARRAY_IDX(s, i, tpo_pending_slot);
        CHECK(x->drop >= 0 && x->drop <= TPO_PENDING_DROP_SIZE);
        CHECK((x->created == 0) == (x->drop == TPO_PENDING_DROP_UNUSABLE));
        CHECK(x->drop != TPO_PENDING_DROP_COUNT || x->own);
        if (x->drop) {
            marked++;
            continue;
        }
        kept++;
        kept_own += x->own != 0;
        total += x->size;
        /* everything dropped for age is no younger than what is kept */
        for (j = 0; j < s->nelts; j++) {
            tpo_pending_slot *y = &APR_ARRAY_IDX(s, j, tpo_pending_slot);
            if (y->drop == TPO_PENDING_DROP_SIZE || (y->drop == TPO_PENDING_DROP_COUNT && x->own)) {
                CHECK(y->created <= x->created);
            }
        }
    }
    CHECK(marked == n);
    CHECK(kept == 0 || ((kept_own == 0 || kept_own + 1 <= max) && total <= max_bytes));
}

static void header(apr_pool_t *p, fuzz_in *in)
{
    const char *state = fuzz_part(in, p, '\n', NULL);
    const char *hdr = fuzz_rest(in, p, NULL);
    const char *name;
    tpo_pending out;
    tpo_pending_result r;
    apr_array_header_t *s;

    r = tpo_pending_find(p, &key, &bind_a, hdr, BASE, state, "idp", NOW, &out, &name);
    CHECK(r == TPO_PENDING_NO_COOKIE || r == TPO_PENDING_BAD_COOKIE);
    s = tpo_pending_cookies(p, &key, hdr, bases, 3, NOW);
    check_slots(s, hdr, 0);
    trim_check(s, 3, 300, TPO_PENDING_COOKIES_MAX_BYTES);
}

/* v is the genuine value, or it with the '=' padding that RFC 4648 allows
 * (tpo_b64url_decode accepts it; the bytes decoded are the same). */
static int is_genuine(const char *v, size_t n)
{
    size_t glen = strlen(gval), k;

    if (n < glen || memcmp(v, gval, glen) != 0)
        return 0;
    for (k = glen; k < n; k++) {
        if (v[k] != '=')
            return 0;
    }
    k = n - glen;
    return k == 0 || (k <= 2 && (glen + k) % 4 == 0);
}

/* The value the server reads for the cookie starting at v in a header:
 * up to ';' or the end, trailing blanks dropped. */
static int reads_as_genuine(const char *v)
{
    size_t n = strcspn(v, ";");

    while (n && (v[n - 1] == ' ' || v[n - 1] == '\t'))
        n--;
    return is_genuine(v, n);
}

static void genuine(apr_pool_t *p, fuzz_in *in)
{
    size_t glen = strlen(gval), vlen = glen, i, nmut = fuzz_byte(in) % 5;
    char *v = apr_palloc(p, glen + nmut + 1);
    const char *prefix, *suffix, *name;
    char *hdr;
    tpo_pending out;
    tpo_pending_result r;
    apr_array_header_t *s;
    int clean, dup, opens;

    memcpy(v, gval, glen + 1);
    for (i = 0; i < nmut; i++) {
        unsigned op = fuzz_byte(in) % 4, pos = fuzz_byte(in) << 8;
        unsigned char c;
        pos = (pos | fuzz_byte(in)) % (unsigned)(vlen + 1);
        c = (unsigned char)fuzz_byte(in);
        switch (op) {
        case 0:
            if (pos < vlen)
                v[pos] = (char)c;
            break;
        case 1:
            memmove(v + pos + 1, v + pos, vlen - pos + 1);
            v[pos] = (char)c;
            vlen++;
            break;
        case 2:
            if (pos < vlen) {
                memmove(v + pos, v + pos + 1, vlen - pos);
                vlen--;
            }
            break;
        default:
            vlen = pos;
            v[vlen] = '\0';
            break;
        }
    }
    /* tpo_pending_open sees the exact bytes */
    opens = tpo_pending_open(p, &key, &bind_a, v, vlen, &out) == APR_SUCCESS;
    CHECK(opens == is_genuine(v, vlen));
    CHECK(tpo_pending_open(p, &key, &bind_b, v, vlen, &out) != APR_SUCCESS);

    /* in a header, behind and before what the fuzzer wrote */
    prefix = fuzz_part(in, p, '\n', NULL);
    suffix = fuzz_rest(in, p, NULL);
    hdr = apr_pstrcat(p, prefix, "; ", gname, "=", v, "; ", suffix, NULL);
    /* the value as the header holds it (cut at a NUL) reads as genuine; the prefix may hold the same name again
     * (then only: whatever opens is the genuine login) */
    clean = reads_as_genuine(hdr + strlen(prefix) + 2 + strlen(gname) + 1);
    dup = strstr(prefix, gname) != NULL;
    r = tpo_pending_find(p, &key, &bind_a, hdr, BASE, GSTATE, "idp", NOW, &out, &name);
    if (clean && !dup) {
        CHECK(r == TPO_PENDING_OK && same(out.state, GSTATE) && out.created == T0);
    }
    else if (!clean) {
        CHECK(r == TPO_PENDING_NO_COOKIE || r == TPO_PENDING_BAD_COOKIE);
    }
    else {
        CHECK(r != TPO_PENDING_OK || (same(out.state, GSTATE) && out.created == T0));
        CHECK(r == TPO_PENDING_OK || r == TPO_PENDING_NO_COOKIE || r == TPO_PENDING_BAD_COOKIE);
    }
    s = tpo_pending_cookies(p, &key, hdr, bases, 3, NOW);
    check_slots(s, hdr, dup && clean ? -1 : clean);
    trim_check(s, 1 + (int)(vlen % 3), 300, 600);
}

static void forge(apr_pool_t *p, const uint8_t *data, size_t size)
{
    char *val = apr_pstrmemdup(p, (const char *)data, size);
    unsigned char *raw = apr_palloc(p, size + 1);
    const char *b, *hdr, *name;
    tpo_pending out;

    CHECK(tpo_pending_open(p, &key, &bind_a, val, size, &out) != APR_SUCCESS);
    raw[0] = 0x01;
    if (size)
        memcpy(raw + 1, data, size);
    b = tpo_b64url_encode(p, raw, size + 1);
    CHECK(b != NULL);
    CHECK(tpo_pending_open(p, &key, &bind_a, b, strlen(b), &out) != APR_SUCCESS);
    CHECK(tpo_pending_open(p, &key, &bind_b, b, strlen(b), &out) != APR_SUCCESS);
    hdr = apr_pstrcat(p, gname, "=", b, NULL);
    CHECK(tpo_pending_find(p, &key, &bind_a, hdr, BASE, GSTATE, "idp", NOW, &out, &name) ==
          TPO_PENDING_BAD_COOKIE);
}

static void trim(apr_pool_t *p, fuzz_in *in)
{
    int max = (int)(fuzz_byte(in) % 6);
    apr_size_t new_size = fuzz_byte(in) * 8, max_bytes = fuzz_byte(in) * 32;
    apr_array_header_t *s = apr_array_make(p, 8, sizeof(tpo_pending_slot));

    while (in->pos + 3 <= in->n && s->nelts < 64) {
        tpo_pending_slot *x = apr_array_push(s);
        memset(x, 0, sizeof(*x));
        x->name = "x";
        x->created = fuzz_byte(in) % 16; /* few ages: ties happen */
        x->size = fuzz_byte(in) * 4;
        x->own = fuzz_byte(in) & 1;
    }
    trim_check(s, max, new_size, max_bytes);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apr_pool_t *p = fuzz_pool();
    fuzz_in in = {data, size, 1};

    if (size > 0) {
        switch (data[0] % 5) {
        case 0:
            record(p, data + 1, size - 1);
            break;
        case 1:
            header(p, &in);
            break;
        case 2:
            genuine(p, &in);
            break;
        case 3:
            forge(p, data + 1, size - 1);
            break;
        default:
            trim(p, &in);
            break;
        }
    }
    apr_pool_destroy(p);
    return 0;
}
