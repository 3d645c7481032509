/* SPDX-License-Identifier: Apache-2.0
 * Licensed under the Apache License, Version 2.0 (see LICENSE). */
/* Encryption at rest for any cache backend (used for the distributed ones):
 *  - keys: the inner key is base64url(HMAC-SHA256(k_mac, key)), so reading
 *    the cache reveals no session id (no cookie);
 *  - values: AES-256-GCM with a random 96-bit nonce, the inner key as AAD
 *    (a value cannot be moved to another key), a version byte in front;
 *  - keys derived from a passphrase with HKDF-SHA256 (separate labels for the
 *    MAC and the encryption key);
 *  - rotation: an optional previous passphrase; reads fall back to it, writes
 *    use the current one. */
#ifndef TPO_CACHE_CRYPT_H
#define TPO_CACHE_CRYPT_H

#include "tpo_cache.h"

apr_status_t tpo_crypt_cache_create(apr_pool_t *p, tpo_cache *inner,
                                    const char *passphrase, const char *previous,
                                    tpo_cache **out, const char **err);

#endif
