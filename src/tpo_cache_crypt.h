/* SPDX-License-Identifier: Apache-2.0
 * Licensed under the Apache License, Version 2.0 (see LICENSE). */
/* Encryption at rest for any cache backend (used for the distributed ones):
 *  - keys: the inner key is base64url(HMAC-SHA256(k_mac, key)), so reading
 *    the cache reveals no session id (no cookie);
 *  - values: AES-256-GCM with a random 96-bit nonce, the inner key as AAD
 *    (a value cannot be moved to another key), a version byte in front;
 *  - k_mac and k_enc: HKDF-SHA256 (separate labels) from a 32-byte master
 *    key, made once at start-up (never per request, never per child) from
 *      . a passphrase (>= 16 characters) with scrypt, N = 2^15, r = 8, p = 1
 *        (32 MiB, ~50-100 ms on a current server core): every guess of an
 *        attacker who reads the cache costs as much. The salt is a fixed,
 *        documented context string ("mod_tp_oauth cache passphrase scrypt
 *        v2"): every server of a deployment must derive the same key from
 *        the passphrase alone, with nothing to share or keep in sync; a
 *        random salt would have to be distributed like a second secret. The
 *        price: one precomputed dictionary serves against every deployment,
 *        so a passphrase must not come from a dictionary; use a key file;
 *      . or a key file (>= 32 random bytes, e.g. `openssl rand 32`), taken
 *        as it is through HMAC-SHA256 (no stretching needed);
 *  - rotation: an optional previous key; reads fall back to it, writes use
 *    the current one. */
#ifndef TPO_CACHE_CRYPT_H
#define TPO_CACHE_CRYPT_H

#include <stdint.h>
#include "tpo_cache.h"
#include "tpo_cache_local.h"

#define TPO_CRYPT_SCRYPT_N (1u << 15)
#define TPO_CRYPT_SCRYPT_R 8u
#define TPO_CRYPT_SCRYPT_P 1u
#define TPO_CRYPT_MIN_PASSPHRASE 16 /* characters */
#define TPO_CRYPT_MIN_KEY_FILE 32   /* bytes */
#define TPO_CRYPT_MAX_KEY_FILE 4096

/* A master key, derived once. */
typedef struct tpo_crypt_key {
    unsigned char k[32];
} tpo_crypt_key;

/* scrypt (RFC 7914) through OpenSSL 3's EVP_KDF "SCRYPT". 1 on success. */
int tpo_crypt_scrypt(const void *pass, apr_size_t passlen, const void *salt, apr_size_t saltlen,
                     uint64_t n, uint32_t r, uint32_t p, unsigned char *out, apr_size_t outlen);

/* The master key of a passphrase (scrypt with the parameters above; slow on
 * purpose). APR_EINVAL for a passphrase shorter than 16 characters. */
apr_status_t tpo_crypt_key_from_passphrase(const char *pass, tpo_crypt_key *out, const char **err);

/* The master key of a key file's bytes (32 to 4096 bytes, else APR_EINVAL). */
apr_status_t tpo_crypt_key_from_bytes(const void *bytes, apr_size_t n, tpo_crypt_key *out,
                                      const char **err);

/* Read a key file whole (32 to 4096 bytes, taken as they are, a final
 * newline included); *err never holds key material. */
apr_status_t tpo_crypt_key_file_read(apr_pool_t *p, const char *path, const char **bytes,
                                     apr_size_t *n, const char **err);

/* A one-way tag of a secret (64 hex digits) to remember derived keys by,
 * across configuration generations, without keeping the secret. */
const char *tpo_crypt_secret_tag(apr_pool_t *p, const void *secret, apr_size_t n);

/* The encrypting wrapper; previous may be NULL (or equal to key: ignored). */
apr_status_t tpo_crypt_cache_create(apr_pool_t *p, tpo_cache *inner, const tpo_crypt_key *key,
                                    const tpo_crypt_key *previous, tpo_cache **out,
                                    const char **err);

/* The names under which the encrypting wrapper crypt_cache (a tpo_cache *)
 * stores key in its backend: the current key's, and the previous key's when
 * there is one (a tpo_local_names_fn, for the local tier's invalidation). */
int tpo_crypt_cache_names(void *crypt_cache, const char *key, apr_size_t klen,
                          char names[2][TPO_LOCAL_NAME_MAX], int *n);

#endif
