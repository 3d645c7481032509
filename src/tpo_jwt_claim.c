/* SPDX-License-Identifier: Apache-2.0
 * Licensed under the Apache License, Version 2.0 (see LICENSE). */
/* Claim readers shared by the ID-token, logout-token and access-token checks
 * (see tpo_jwt_claim.h). */
#include <string.h>
#include "tpo_jwt_claim.h"

const char *tpo_jwt_quote(apr_pool_t *p, apr_size_t max, const char *s)
{
    static const char hex[] = "0123456789abcdef";
    char *out = apr_palloc(p, max * 4 + 6), *o = out;
    apr_size_t n = 0;

    *o++ = '"';
    for (; *s && n < max; s++, n++) {
        unsigned char c = (unsigned char)*s;
        if (c < 0x20 || c >= 0x7f || c == '"' || c == '\\') {
            *o++ = '\\';
            *o++ = 'x';
            *o++ = hex[c >> 4];
            *o++ = hex[c & 0x0f];
        }
        else {
            *o++ = (char)c;
        }
    }
    *o++ = '"';
    if (*s) {
        memcpy(o, "...", 3);
        o += 3;
    }
    *o = '\0';
    return out;
}

int tpo_jwt_claim_time(json_t *claims, const char *name, double *out)
{
    json_t *v = json_object_get(claims, name);

    if (!v) {
        return 0;
    }
    if (!json_is_number(v)) {
        return -1;
    }
    *out = json_number_value(v);
    return 1;
}

int tpo_jwt_claim_string(json_t *claims, const char *name, const char **out)
{
    json_t *v = json_object_get(claims, name);

    *out = NULL;
    if (!v) {
        return 0;
    }
    if (!json_is_string(v) || strlen(json_string_value(v)) != json_string_length(v)) {
        return -1;
    }
    *out = json_string_value(v);
    return 1;
}
