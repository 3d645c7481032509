/* SPDX-License-Identifier: Apache-2.0
 * Licensed under the Apache License, Version 2.0 (see LICENSE). */
/* The shared-memory cache (tpo_cache_shm.c) against a model: the input is a
 * sequence of get/set/add/del operations (and expired sets, oversized sets,
 * over-long keys) on a few short keys with values of up to a few blocks, in
 * a segment small enough to fill up. The model is a plain table. A get must
 * return the model's value byte for byte, or NOTFOUND where the model has
 * none; once the cache has evicted anything (its own counter says so), a
 * value the model still has may also be missing, never different. add, del
 * and set answers must agree with the model in the same way. */
#include "fuzz_common.h"
#include "tpo_cache_shm.h"

#define NKEYS 6
#define VMAX 700

enum { ABSENT, PRESENT, MAYBE }; /* MAYBE: the old value or absent */
typedef struct {
    int state;
    unsigned char val[VMAX];
    apr_size_t vlen;
} model_entry;

static const char *const KEYS[NKEYS] = {"a", "b", "sess:c", "st:d", "br:e", ""};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apr_pool_t *p = fuzz_pool();
    fuzz_in in = {data, size, 0};
    model_entry m[NKEYS];
    tpo_cache *c = NULL;
    const char *err = NULL;
    tpo_shm_cache_stats st;
    apr_time_t future = apr_time_now() + apr_time_from_sec(3600);
    apr_time_t past = apr_time_now() - apr_time_from_sec(1);
    char longkey[TPO_CACHE_MAX_KEY + 2];
    unsigned char vbuf[VMAX];
    int ops = 0;

    memset(m, 0, sizeof(m));
    memset(longkey, 'k', sizeof(longkey) - 1);
    longkey[sizeof(longkey) - 1] = '\0';
    CHECK(tpo_shm_cache_create(p, 8192 + (fuzz_byte(&in) % 4) * 4096, 0, &c, &err) == APR_SUCCESS);
    while (in.pos < in.n && ops++ < 200) {
        unsigned op = fuzz_byte(&in), k = (op >> 3) % NKEYS;
        const char *key = KEYS[k];
        apr_size_t vlen = fuzz_byte(&in);
        char *val = NULL;
        apr_size_t got = 0;
        apr_status_t rv;
        int evicted, gone_ok;

        if (vlen >= 200)
            vlen = (vlen - 200) * 12; /* up to ~650: several blocks */
        if (vlen > VMAX)
            vlen = VMAX;
        {
            unsigned char fill = (unsigned char)fuzz_byte(&in);
            apr_size_t i;
            for (i = 0; i < vlen; i++)
                vbuf[i] = (unsigned char)(fill + i * 7 + ops);
        }
        switch (op & 7) {
        case 0:
        case 1: /* get */
            rv = tpo_cache_get(c, key, p, &val, &got);
            break;
        case 2: /* set */
            rv = tpo_cache_set(c, key, vbuf, vlen, future);
            break;
        case 3: /* add */
            rv = tpo_cache_add(c, key, vbuf, vlen, future);
            break;
        case 4: /* del */
            rv = tpo_cache_del(c, key);
            break;
        case 5: /* set, already expired */
            rv = tpo_cache_set(c, key, vbuf, vlen, past);
            break;
        case 6: /* set of a value that can never fit */
            rv = tpo_cache_set(c, key, vbuf, tpo_shm_cache_max_value(c) + 1 + vlen, future);
            break;
        default: /* a key that is too long */
            CHECK(tpo_cache_set(c, longkey, vbuf, vlen, future) == APR_EINVAL);
            CHECK(tpo_cache_get(c, longkey, p, &val, &got) == APR_NOTFOUND);
            CHECK(tpo_cache_del(c, longkey) == APR_NOTFOUND);
            continue;
        }
        tpo_shm_cache_get_stats(c, &st);
        evicted = st.evictions > 0;
        gone_ok = m[k].state == MAYBE || (m[k].state == PRESENT && evicted);
        switch (op & 7) {
        case 0:
        case 1:
            if (rv == APR_SUCCESS) {
                CHECK(m[k].state != ABSENT);
                CHECK(got == m[k].vlen && memcmp(val, m[k].val, got) == 0 && val[got] == '\0');
                m[k].state = PRESENT;
            }
            else {
                CHECK(rv == APR_NOTFOUND);
                CHECK(m[k].state == ABSENT || gone_ok);
                m[k].state = ABSENT;
            }
            break;
        case 2:
            CHECK(rv == APR_SUCCESS);
            m[k].state = PRESENT;
            memcpy(m[k].val, vbuf, vlen);
            m[k].vlen = vlen;
            break;
        case 3:
            if (rv == APR_SUCCESS) {
                CHECK(m[k].state == ABSENT || gone_ok);
                m[k].state = PRESENT;
                memcpy(m[k].val, vbuf, vlen);
                m[k].vlen = vlen;
            }
            else {
                CHECK(rv == APR_EEXIST);
                CHECK(m[k].state != ABSENT);
                /* it is there: still its old value (MAYBE resolved) */
                m[k].state = PRESENT;
            }
            break;
        case 4:
            if (rv == APR_SUCCESS)
                CHECK(m[k].state != ABSENT);
            else
                CHECK(rv == APR_NOTFOUND && (m[k].state == ABSENT || gone_ok));
            m[k].state = ABSENT;
            break;
        case 5:
            CHECK(rv == APR_SUCCESS);
            m[k].state = ABSENT;
            break;
        case 6:
            CHECK(rv == APR_ENOSPC);
            /* the old value is kept or dropped (dropping it is what memcached
             * does and what issue 10 item 11 asks for); never another */
            if (m[k].state == PRESENT)
                m[k].state = MAYBE;
            break;
        }
    }
    apr_pool_destroy(p);
    return 0;
}
