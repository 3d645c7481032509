/* SPDX-License-Identifier: Apache-2.0
 * Licensed under the Apache License, Version 2.0 (see LICENSE). */
/* The session-index record decoder on hostile bytes (a tampered or corrupt
 * cache): it never reads outside the record, every id it returns is
 * non-empty, bounded and NUL-free, and an accepted record survives
 * encode/decode unchanged. */
#include "fuzz_common.h"
#include "tpo_session_index.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apr_pool_t *p = fuzz_pool();
    /* an exact-size copy: ASan sees any read past the record's end */
    char *buf = size ? apr_pmemdup(p, data, size) : NULL;
    apr_array_header_t *e, *again;
    apr_size_t len;
    char *enc;
    int i;

    if (tpo_sidx_decode(p, buf, size, &e) != APR_SUCCESS) {
        apr_pool_destroy(p);
        return 0;
    }
    for (i = 0; i < e->nelts; i++) {
        const tpo_sidx_entry *x = &APR_ARRAY_IDX(e, i, tpo_sidx_entry);
        CHECK(x->id && *x->id && strlen(x->id) <= TPO_SIDX_MAX_ID);
    }
    enc = tpo_sidx_encode(p, e, &len);
    CHECK(tpo_sidx_decode(p, enc, len, &again) == APR_SUCCESS);
    CHECK(again->nelts == e->nelts);
    for (i = 0; i < e->nelts; i++) {
        const tpo_sidx_entry *a = &APR_ARRAY_IDX(e, i, tpo_sidx_entry);
        const tpo_sidx_entry *b = &APR_ARRAY_IDX(again, i, tpo_sidx_entry);
        CHECK(strcmp(a->id, b->id) == 0 && a->created == b->created && a->expires == b->expires);
    }
    apr_pool_destroy(p);
    return 0;
}
