/* SPDX-License-Identifier: Apache-2.0
 * Licensed under the Apache License, Version 2.0 (see LICENSE). */
/* base64url (RFC 4648 section 5) without padding, as JOSE uses it. */
#include <string.h>
#include "tpo_b64.h"

static const char b64url_alphabet[64] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/* Value of each byte as a base64url character, or -1 ('+', '/', '=',
 * whitespace and everything else outside the url alphabet). */
static const signed char b64url_values[256] = {
    -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
    -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, 62, -1, -1,
    52, 53, 54, 55, 56, 57, 58, 59, 60, 61, -1, -1, -1, -1, -1, -1, -1, 0,  1,  2,  3,  4,  5,  6,
    7,  8,  9,  10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, -1, -1, -1, -1, 63,
    -1, 26, 27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 37, 38, 39, 40, 41, 42, 43, 44, 45, 46, 47, 48,
    49, 50, 51, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
    -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
    -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
    -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
    -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
    -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
};

static APR_INLINE int b64url_value(unsigned char c)
{
    return b64url_values[c];
}

char *tpo_b64url_encode(apr_pool_t *p, const unsigned char *in, apr_size_t len)
{
    apr_size_t full = len / 3, rest = len % 3, i, o = 0;
    char *out = apr_palloc(p, full * 4 + (rest ? rest + 1 : 0) + 1);

    for (i = 0; i < full * 3; i += 3) {
        apr_uint32_t v = ((apr_uint32_t)in[i] << 16) | ((apr_uint32_t)in[i + 1] << 8) | in[i + 2];
        out[o++] = b64url_alphabet[(v >> 18) & 0x3f];
        out[o++] = b64url_alphabet[(v >> 12) & 0x3f];
        out[o++] = b64url_alphabet[(v >> 6) & 0x3f];
        out[o++] = b64url_alphabet[v & 0x3f];
    }
    if (rest == 1) {
        apr_uint32_t v = (apr_uint32_t)in[i] << 16;
        out[o++] = b64url_alphabet[(v >> 18) & 0x3f];
        out[o++] = b64url_alphabet[(v >> 12) & 0x3f];
    }
    else if (rest == 2) {
        apr_uint32_t v = ((apr_uint32_t)in[i] << 16) | ((apr_uint32_t)in[i + 1] << 8);
        out[o++] = b64url_alphabet[(v >> 18) & 0x3f];
        out[o++] = b64url_alphabet[(v >> 12) & 0x3f];
        out[o++] = b64url_alphabet[(v >> 6) & 0x3f];
    }
    out[o] = '\0';
    return out;
}

unsigned char *tpo_b64url_decode(apr_pool_t *p, const char *in, apr_size_t inlen,
                                 apr_size_t *outlen)
{
    const unsigned char *s = (const unsigned char *)in;
    apr_size_t n = inlen, pad = 0, full, rest, i, o = 0;
    unsigned char *out;
    int v[4];

    if (outlen) {
        *outlen = 0;
    }
    if (!in && inlen) {
        return NULL;
    }
    /* Padding: at most two '=', only at the very end, and exactly as many as
     * make the whole input a multiple of four characters. */
    while (n > 0 && s[n - 1] == '=' && pad < 2) {
        n--;
        pad++;
    }
    rest = n % 4;
    if (rest == 1 || (pad && pad != 4 - rest)) {
        return NULL;
    }
    full = n / 4;
    out = apr_palloc(p, full * 3 + (rest ? rest - 1 : 0) + 1);

    for (i = 0; i < full * 4; i += 4) {
        v[0] = b64url_value(s[i]);
        v[1] = b64url_value(s[i + 1]);
        v[2] = b64url_value(s[i + 2]);
        v[3] = b64url_value(s[i + 3]);
        if ((v[0] | v[1] | v[2] | v[3]) < 0) {
            return NULL;
        }
        out[o++] = (unsigned char)((v[0] << 2) | (v[1] >> 4));
        out[o++] = (unsigned char)(((v[1] & 0x0f) << 4) | (v[2] >> 2));
        out[o++] = (unsigned char)(((v[2] & 0x03) << 6) | v[3]);
    }
    if (rest == 2) {
        v[0] = b64url_value(s[i]);
        v[1] = b64url_value(s[i + 1]);
        /* canonical form only: the unused low bits must be zero, otherwise
         * several encodings would decode to the same bytes */
        if ((v[0] | v[1]) < 0 || (v[1] & 0x0f) != 0) {
            return NULL;
        }
        out[o++] = (unsigned char)((v[0] << 2) | (v[1] >> 4));
    }
    else if (rest == 3) {
        v[0] = b64url_value(s[i]);
        v[1] = b64url_value(s[i + 1]);
        v[2] = b64url_value(s[i + 2]);
        if ((v[0] | v[1] | v[2]) < 0 || (v[2] & 0x03) != 0) {
            return NULL;
        }
        out[o++] = (unsigned char)((v[0] << 2) | (v[1] >> 4));
        out[o++] = (unsigned char)(((v[1] & 0x0f) << 4) | (v[2] >> 2));
    }
    out[o] = '\0';
    if (outlen) {
        *outlen = o;
    }
    return out;
}
