/* SPDX-License-Identifier: Apache-2.0
 * Licensed under the Apache License, Version 2.0 (see LICENSE). */
/* The encrypting cache wrapper (tpo_cache_crypt.c) over an in-memory inner
 * cache that an attacker controls (as one with read/write access to
 * memcached or Redis would):
 *   mode 0: any bytes stored under the inner key of a session: get() must
 *           not return them (no forgery without the key);
 *   mode 1: a value stored through the wrapper, then changed by the input
 *           (bytes overwritten, truncated or extended): get() returns the
 *           original exactly when nothing changed, else NOTFOUND;
 *   mode 2: a value sealed under the previous passphrase, read after a
 *           rotation, and then the stored bytes moved to another key:
 *           readable under its own key only. */
#include "fuzz_common.h"
#include "tpo_cache_crypt.h"

/* ------------------------------------------------ the inner cache: one slot
 * per key, in malloc'd memory that the harness can tamper with */
#define SLOTS 8
typedef struct {
    char key[TPO_CACHE_MAX_KEY + 1];
    unsigned char *val;
    apr_size_t vlen;
    int used;
} slot;
static slot slots[SLOTS];

static slot *find(const char *key, int create)
{
    int i;

    for (i = 0; i < SLOTS; i++) {
        if (slots[i].used && strcmp(slots[i].key, key) == 0)
            return &slots[i];
    }
    if (!create)
        return NULL;
    for (i = 0; i < SLOTS; i++) {
        if (!slots[i].used) {
            slots[i].used = 1;
            apr_cpystrn(slots[i].key, key, sizeof(slots[i].key));
            return &slots[i];
        }
    }
    abort();
}

static void clear_slots(void)
{
    int i;

    for (i = 0; i < SLOTS; i++) {
        free(slots[i].val);
        memset(&slots[i], 0, sizeof(slots[i]));
    }
}

static void put(slot *s, const void *v, apr_size_t n)
{
    free(s->val);
    s->val = malloc(n ? n : 1);
    if (s->val == NULL)
        abort();
    if (n)
        memcpy(s->val, v, n);
    s->vlen = n;
}

static apr_status_t m_get(tpo_cache *c, const char *key, apr_pool_t *p, char **val,
                          apr_size_t *vlen)
{
    slot *s = find(key, 0);

    if (s == NULL)
        return APR_NOTFOUND;
    /* an exact-size copy, like the backends (plus their NUL) */
    *val = apr_palloc(p, s->vlen + 1);
    memcpy(*val, s->val, s->vlen);
    (*val)[s->vlen] = '\0';
    *vlen = s->vlen;
    return APR_SUCCESS;
}

static apr_status_t m_set(tpo_cache *c, const char *key, const void *val, apr_size_t vlen,
                          apr_time_t expiry)
{
    put(find(key, 1), val, vlen);
    return APR_SUCCESS;
}

static apr_status_t m_add(tpo_cache *c, const char *key, const void *val, apr_size_t vlen,
                          apr_time_t expiry)
{
    if (find(key, 0))
        return APR_EEXIST;
    return m_set(c, key, val, vlen, expiry);
}

static apr_status_t m_del(tpo_cache *c, const char *key)
{
    slot *s = find(key, 0);

    if (s == NULL)
        return APR_NOTFOUND;
    free(s->val);
    memset(s, 0, sizeof(*s));
    return APR_SUCCESS;
}

static const tpo_cache_ops mem_ops = {"mem", m_get, m_set, m_add, m_del};
static tpo_cache mem = {&mem_ops, NULL};

static tpo_cache *cur, *rotated; /* "passphrase A"; "B" with A as previous */
static apr_pool_t *cpool;

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    const char *err = NULL;

    fuzz_once_begin();
    fuzz_init_apr();
    apr_pool_create(&cpool, fuzz_root);
    /* two key-file keys (fast; the passphrase path adds only scrypt before
     * the same derivation, which the unit tests check) */
    static tpo_crypt_key ka, kb;
    CHECK(tpo_crypt_key_from_bytes("correct horse battery staple A, 32+ bytes", 41, &ka, &err) ==
          APR_SUCCESS);
    CHECK(tpo_crypt_key_from_bytes("correct horse battery staple B, 32+ bytes", 41, &kb, &err) ==
          APR_SUCCESS);
    CHECK(tpo_crypt_cache_create(cpool, &mem, &ka, NULL, &cur, &err) == APR_SUCCESS);
    CHECK(tpo_crypt_cache_create(cpool, &mem, &kb, &ka, &rotated, &err) == APR_SUCCESS);
    fuzz_once_end();
    return 0;
}

/* The one slot the wrapper wrote (its inner key is an HMAC we cannot name). */
static slot *only_slot(void)
{
    int i;
    slot *s = NULL;

    for (i = 0; i < SLOTS; i++) {
        if (slots[i].used) {
            CHECK(s == NULL);
            s = &slots[i];
        }
    }
    CHECK(s != NULL);
    return s;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apr_pool_t *p = fuzz_pool();
    fuzz_in in = {data, size, 0};
    apr_time_t exp = apr_time_now() + apr_time_from_sec(600);
    char *val = NULL;
    apr_size_t vlen = 0, plen;
    unsigned mode = fuzz_byte(&in) % 3;
    const char *plain;
    slot *s;
    apr_status_t rv;

    clear_slots();
    switch (mode) {
    case 0: {
        /* learn the inner key by storing once, then replace the bytes */
        size_t n;
        const char *raw;

        CHECK(tpo_cache_set(cur, "sess:victim", "x", 1, exp) == APR_SUCCESS);
        s = only_slot();
        raw = fuzz_rest(&in, p, &n);
        put(s, raw, n);
        rv = tpo_cache_get(cur, "sess:victim", p, &val, &vlen);
        CHECK(rv == APR_NOTFOUND);
        rv = tpo_cache_get(rotated, "sess:victim", p, &val, &vlen);
        CHECK(rv == APR_NOTFOUND);
        /* add() sees the slot taken whatever it holds, or takes it if junk */
        rv = tpo_cache_add(rotated, "sess:victim", "y", 1, exp);
        CHECK(rv == APR_SUCCESS || rv == APR_EEXIST);
        break;
    }
    case 1: {
        unsigned char *orig;
        apr_size_t olen;
        unsigned nedits, i;

        plain = fuzz_part(&in, p, 0, &plen);
        CHECK(tpo_cache_set(cur, "sess:1", plain, plen, exp) == APR_SUCCESS);
        s = only_slot();
        orig = apr_pmemdup(p, s->val, s->vlen);
        olen = s->vlen;
        nedits = fuzz_byte(&in) % 4;
        for (i = 0; i < nedits; i++) {
            unsigned op = fuzz_byte(&in), pos = fuzz_byte(&in);
            unsigned char b = (unsigned char)fuzz_byte(&in);

            if (op % 3 == 0 && s->vlen) {
                s->val[pos % s->vlen] = b;
            }
            else if (op % 3 == 1) {
                s->vlen = s->vlen ? pos % s->vlen : 0;
            }
            else {
                unsigned char *nv = malloc(s->vlen + 1);
                if (nv == NULL)
                    abort();
                memcpy(nv, s->val, s->vlen);
                nv[s->vlen] = b;
                free(s->val);
                s->val = nv;
                s->vlen++;
            }
        }
        rv = tpo_cache_get(cur, "sess:1", p, &val, &vlen);
        if (s->vlen == olen && memcmp(s->val, orig, olen) == 0) {
            CHECK(rv == APR_SUCCESS && vlen == plen && memcmp(val, plain, plen) == 0);
            CHECK(val[vlen] == '\0');
        }
        else {
            CHECK(rv == APR_NOTFOUND);
        }
        break;
    }
    default: {
        slot *t;

        plain = fuzz_rest(&in, p, &plen);
        CHECK(tpo_cache_set(cur, "sess:old", plain, plen, exp) == APR_SUCCESS);
        rv = tpo_cache_get(rotated, "sess:old", p, &val, &vlen);
        CHECK(rv == APR_SUCCESS && vlen == plen && memcmp(val, plain, plen) == 0);
        /* the same bytes moved to another key's slot: not readable there */
        s = only_slot();
        CHECK(tpo_cache_set(cur, "sess:other", "z", 1, exp) == APR_SUCCESS);
        t = find(s->key, 0);
        CHECK(t == s);
        {
            int i;
            for (i = 0; i < SLOTS; i++) {
                if (slots[i].used && &slots[i] != s)
                    put(&slots[i], s->val, s->vlen);
            }
        }
        CHECK(tpo_cache_get(cur, "sess:other", p, &val, &vlen) == APR_NOTFOUND);
        CHECK(tpo_cache_get(rotated, "sess:other", p, &val, &vlen) == APR_NOTFOUND);
        break;
    }
    }
    clear_slots();
    apr_pool_destroy(p);
    return 0;
}
