/* SPDX-License-Identifier: Apache-2.0
 * Licensed under the Apache License, Version 2.0 (see LICENSE). */
/* base64url (RFC 4648 section 5) without padding, as JOSE uses it. */
#ifndef TPO_B64_H
#define TPO_B64_H

#include <apr_pools.h>

/* Encode len bytes; never fails. Result is NUL-terminated, no '=' padding. */
char *tpo_b64url_encode(apr_pool_t *p, const unsigned char *in, apr_size_t len);

/* Decode inlen chars of base64url (padding '=' tolerated only at the end,
 * no whitespace, no '+' '/'). Returns NULL on any invalid input. The result
 * is NUL-terminated (not counted in *outlen) so decoded JSON can be used as a
 * C string. */
unsigned char *tpo_b64url_decode(apr_pool_t *p, const char *in, apr_size_t inlen,
                                 apr_size_t *outlen);

#endif
