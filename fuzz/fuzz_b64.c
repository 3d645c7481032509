/* SPDX-License-Identifier: Apache-2.0
 * Licensed under the Apache License, Version 2.0 (see LICENSE). */
/* base64url: decode hostile text; whatever decodes re-encodes to the same
 * text (canonical form only, padding aside), and every byte string survives
 * encode then decode. */
#include "fuzz_common.h"
#include "tpo_b64.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apr_pool_t *p = fuzz_pool();
    apr_size_t olen = 0, n = size, back = 0;
    unsigned char *out = tpo_b64url_decode(p, (const char *)data, size, &olen);
    char *enc;

    if (out) {
        CHECK(out[olen] == '\0');
        enc = tpo_b64url_encode(p, out, olen);
        while (n > 0 && data[n - 1] == '=')
            n--;
        CHECK(strlen(enc) == n && memcmp(enc, data, n) == 0);
    }
    else {
        CHECK(olen == 0);
    }
    /* the input as bytes */
    enc = tpo_b64url_encode(p, data, size);
    CHECK(strspn(enc, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") ==
          strlen(enc));
    out = tpo_b64url_decode(p, enc, strlen(enc), &back);
    CHECK(out != NULL && back == size && memcmp(out, data, size) == 0);
    apr_pool_destroy(p);
    return 0;
}
