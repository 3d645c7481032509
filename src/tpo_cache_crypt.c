/* SPDX-License-Identifier: Apache-2.0
 * Licensed under the Apache License, Version 2.0 (see LICENSE). */
/* Encryption at rest for any cache backend (see tpo_cache_crypt.h).
 *
 * Keys. A secret becomes a 32-byte master key once, at start-up (see
 * tpo_cache_crypt.h): a passphrase through scrypt (memory-hard, so that a
 * guess costs ~32 MiB and tens of milliseconds), a key file (>= 32 random
 * bytes) through HMAC-SHA256. From each master key, HKDF-SHA256 (fixed salt,
 * one label each) derives k_mac and k_enc, 32 bytes each. The inner key of an outer key K is
 * base64url(HMAC-SHA256(k_mac, K)): 43 characters of [A-Za-z0-9_-], which
 * every backend accepts (memcached's key rules included) and which reveal
 * nothing about K (a session id, a state value).
 *
 * Values. version byte 0x02 | 12-byte random nonce | AES-256-GCM ciphertext
 * | 16-byte tag, with AAD = version byte | inner key. A value moved to
 * another key, altered, truncated, or written under another passphrase
 * fails to authenticate and reads as absent (APR_NOTFOUND), with a debug
 * line that names no key and no value. Random 96-bit nonces are safe for
 * well beyond 2^32 writes per passphrase; rotate before that.
 *
 * Version 0x01 (keys from one HKDF of the passphrase) is no longer read:
 * such entries are absent, so an upgrade ends the sessions kept in a
 * distributed cache once.
 *
 * Rotation (an optional previous key):
 *  - get: the current inner key first, then the previous one (decrypted with
 *    the previous k_enc);
 *  - set: writes under the current key, then deletes the previous copy, so
 *    an older value cannot resurface through the fallback once the newer
 *    one expires or is deleted;
 *  - add: fails with EEXIST when a valid entry exists under the previous
 *    key; otherwise it is the inner backend's atomic add under the current
 *    key. The check of the previous key and the add are two steps, so while
 *    a rotation is being rolled out, an add can succeed although an entry
 *    was written under the previous key by a server (or process) that still
 *    runs with the old passphrase alone after the check. That is accepted:
 *    servers on different passphrases cannot see each other's entries at
 *    all (neither can read the other's current key), so no scheme makes add
 *    atomic across them; what add guards (a refresh lock, a one-use marker)
 *    is short-lived, and the worst case is one duplicate refresh per
 *    session during the roll-out, not a replayed one-use value: takes go
 *    through get+del, and del removes both keys atomically per key;
 *  - del: deletes both inner keys; APR_NOTFOUND only if neither existed.
 *
 * Thread safety: the derived keys and the HMAC template are read-only after
 * creation; each operation uses its own EVP contexts. */
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/params.h>
#include <openssl/rand.h>
#include <apr_file_io.h>
#include <apr_strings.h>
#include "tpo_cache_crypt.h"
#include "tpo_log.h"

#define CK_VERSION 0x02
#define CK_NONCE 12
#define CK_TAG 16
#define CK_OVERHEAD (1 + CK_NONCE + CK_TAG)
#define CK_IKEY_LEN 43                   /* base64url of 32 bytes, no padding */
#define CK_MAX_VALUE (64u * 1024 * 1024) /* plaintext; inner backends refuse far less */
#define CK_SALT "mod_tp_oauth cache encryption v2"
/* scrypt's salt: a fixed context string, the same on every server (see
 * tpo_cache_crypt.h for why not a random one) */
#define CK_SCRYPT_SALT "mod_tp_oauth cache passphrase scrypt v2"
#define CK_FILE_LABEL "mod_tp_oauth cache key file v2"
#define CK_LABEL_MAC "mod_tp_oauth cache key hmac"
#define CK_LABEL_ENC "mod_tp_oauth cache value aes-256-gcm"

typedef struct {
    unsigned char enc[32];
    EVP_MAC_CTX *mac; /* HMAC-SHA256 initialised with k_mac; duplicated per use */
} ck_keyset;

typedef struct {
    tpo_cache pub;
    tpo_cache *inner;
    EVP_CIPHER *cipher;
    ck_keyset cur, prev;
    int has_prev;
} ck_cache;

/* An inner key, NUL-terminated. */
typedef struct {
    char s[CK_IKEY_LEN + 1];
} ck_ikey;

/* ------------------------------------------------------------ keys */

int tpo_crypt_scrypt(const void *pass, apr_size_t passlen, const void *salt, apr_size_t saltlen,
                     uint64_t n, uint32_t r, uint32_t p, unsigned char *out, apr_size_t outlen)
{
    EVP_KDF *kdf = EVP_KDF_fetch(NULL, "SCRYPT", NULL);
    EVP_KDF_CTX *kctx = kdf ? EVP_KDF_CTX_new(kdf) : NULL;
    /* 128 * r * (n + p + 2) bytes, plus slack; OpenSSL's default cap is lower */
    uint64_t maxmem = 128u * (uint64_t)r * (n + p + 2) + 1024 * 1024;
    OSSL_PARAM params[7];
    int ok = 0;

    if (kctx) {
        params[0] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_PASSWORD,
                                                      (void *)(pass ? pass : ""), passlen);
        params[1] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT,
                                                      (void *)(salt ? salt : ""), saltlen);
        params[2] = OSSL_PARAM_construct_uint64(OSSL_KDF_PARAM_SCRYPT_N, &n);
        params[3] = OSSL_PARAM_construct_uint32(OSSL_KDF_PARAM_SCRYPT_R, &r);
        params[4] = OSSL_PARAM_construct_uint32(OSSL_KDF_PARAM_SCRYPT_P, &p);
        params[5] = OSSL_PARAM_construct_uint64(OSSL_KDF_PARAM_SCRYPT_MAXMEM, &maxmem);
        params[6] = OSSL_PARAM_construct_end();
        ok = EVP_KDF_derive(kctx, out, outlen, params) == 1;
    }
    EVP_KDF_CTX_free(kctx);
    EVP_KDF_free(kdf);
    return ok;
}

apr_status_t tpo_crypt_key_from_passphrase(const char *pass, tpo_crypt_key *out, const char **err)
{
    if (err)
        *err = NULL;
    if (pass == NULL || strlen(pass) < TPO_CRYPT_MIN_PASSPHRASE) {
        if (err)
            *err = "the cache passphrase is shorter than 16 characters";
        return APR_EINVAL;
    }
    if (!tpo_crypt_scrypt(pass, strlen(pass), CK_SCRYPT_SALT, sizeof(CK_SCRYPT_SALT) - 1,
                          TPO_CRYPT_SCRYPT_N, TPO_CRYPT_SCRYPT_R, TPO_CRYPT_SCRYPT_P, out->k,
                          sizeof(out->k))) {
        if (err)
            *err = "scrypt failed (OpenSSL)";
        return APR_EGENERAL;
    }
    return APR_SUCCESS;
}

/* HMAC-SHA256(label, data): the extract step of HKDF, also used for tags. */
static int hmac256(const char *label, const void *data, apr_size_t n, unsigned char out[32])
{
    EVP_MAC *mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
    EVP_MAC_CTX *m = mac ? EVP_MAC_CTX_new(mac) : NULL;
    OSSL_PARAM params[2];
    size_t outlen = 0;
    int ok;

    params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)"SHA256", 0);
    params[1] = OSSL_PARAM_construct_end();
    ok = m && EVP_MAC_init(m, (const unsigned char *)label, strlen(label), params) == 1 &&
         EVP_MAC_update(m, data, n) == 1 && EVP_MAC_final(m, out, &outlen, 32) == 1 && outlen == 32;
    EVP_MAC_CTX_free(m);
    EVP_MAC_free(mac);
    return ok;
}

apr_status_t tpo_crypt_key_from_bytes(const void *bytes, apr_size_t n, tpo_crypt_key *out,
                                      const char **err)
{
    if (err)
        *err = NULL;
    if (bytes == NULL || n < TPO_CRYPT_MIN_KEY_FILE) {
        if (err)
            *err = "the cache key is shorter than 32 bytes";
        return APR_EINVAL;
    }
    if (n > TPO_CRYPT_MAX_KEY_FILE) {
        if (err)
            *err = "the cache key is longer than 4096 bytes";
        return APR_EINVAL;
    }
    if (!hmac256(CK_FILE_LABEL, bytes, n, out->k)) {
        if (err)
            *err = "HMAC failed (OpenSSL)";
        return APR_EGENERAL;
    }
    return APR_SUCCESS;
}

apr_status_t tpo_crypt_key_file_read(apr_pool_t *p, const char *path, const char **bytes,
                                     apr_size_t *n, const char **err)
{
    apr_file_t *f = NULL;
    char *buf = apr_palloc(p, TPO_CRYPT_MAX_KEY_FILE + 1);
    apr_size_t got = TPO_CRYPT_MAX_KEY_FILE + 1;
    apr_status_t rv;

    *bytes = NULL;
    *n = 0;
    if (err)
        *err = NULL;
    rv = apr_file_open(&f, path, APR_FOPEN_READ | APR_FOPEN_BINARY, 0, p);
    if (rv != APR_SUCCESS) {
        if (err)
            *err = "cannot open the key file";
        return rv;
    }
    rv = apr_file_read_full(f, buf, got, &got);
    apr_file_close(f);
    if (rv != APR_SUCCESS && rv != APR_EOF) {
        OPENSSL_cleanse(buf, TPO_CRYPT_MAX_KEY_FILE + 1);
        if (err)
            *err = "cannot read the key file";
        return rv;
    }
    if (got < TPO_CRYPT_MIN_KEY_FILE || got > TPO_CRYPT_MAX_KEY_FILE) {
        OPENSSL_cleanse(buf, TPO_CRYPT_MAX_KEY_FILE + 1);
        if (err)
            *err = got < TPO_CRYPT_MIN_KEY_FILE
                       ? "the key file holds fewer than 32 bytes (make one with: "
                         "openssl rand 32 > FILE)"
                       : "the key file is longer than 4096 bytes";
        return APR_EINVAL;
    }
    *bytes = buf;
    *n = got;
    return APR_SUCCESS;
}

const char *tpo_crypt_secret_tag(apr_pool_t *p, const void *secret, apr_size_t n)
{
    static const char hex[] = "0123456789abcdef";
    unsigned char md[32];
    char *out;
    int i;

    if (!hmac256("mod_tp_oauth cache secret tag", secret, n, md))
        return NULL;
    out = apr_palloc(p, 65);
    for (i = 0; i < 32; i++) {
        out[2 * i] = hex[md[i] >> 4];
        out[2 * i + 1] = hex[md[i] & 15];
    }
    out[64] = '\0';
    OPENSSL_cleanse(md, sizeof(md));
    return out;
}

static int hkdf(const unsigned char *ikm, apr_size_t ikmlen, const char *label,
                unsigned char out[32])
{
    EVP_KDF *kdf = EVP_KDF_fetch(NULL, "HKDF", NULL);
    EVP_KDF_CTX *kctx = kdf ? EVP_KDF_CTX_new(kdf) : NULL;
    OSSL_PARAM params[5];
    int ok = 0;

    if (kctx) {
        params[0] = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, (char *)"SHA256", 0);
        params[1] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, (void *)ikm, ikmlen);
        params[2] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, (void *)CK_SALT,
                                                      sizeof(CK_SALT) - 1);
        params[3] =
            OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, (void *)label, strlen(label));
        params[4] = OSSL_PARAM_construct_end();
        ok = EVP_KDF_derive(kctx, out, 32, params) == 1;
    }
    EVP_KDF_CTX_free(kctx);
    EVP_KDF_free(kdf);
    return ok;
}

static int keyset_init(ck_keyset *ks, const tpo_crypt_key *key)
{
    unsigned char kmac[32];
    EVP_MAC *mac = NULL;
    OSSL_PARAM params[2];
    int ok = 0;

    if (!hkdf(key->k, sizeof(key->k), CK_LABEL_MAC, kmac) ||
        !hkdf(key->k, sizeof(key->k), CK_LABEL_ENC, ks->enc))
        goto done;
    mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
    if (mac == NULL || (ks->mac = EVP_MAC_CTX_new(mac)) == NULL)
        goto done;
    params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)"SHA256", 0);
    params[1] = OSSL_PARAM_construct_end();
    ok = EVP_MAC_init(ks->mac, kmac, sizeof(kmac), params) == 1;
done:
    EVP_MAC_free(mac);
    OPENSSL_cleanse(kmac, sizeof(kmac));
    return ok;
}

static void keyset_free(ck_keyset *ks)
{
    EVP_MAC_CTX_free(ks->mac);
    ks->mac = NULL;
    OPENSSL_cleanse(ks->enc, sizeof(ks->enc));
}

static void b64url32(const unsigned char in[32], char out[CK_IKEY_LEN + 1])
{
    static const char tbl[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    int i, o = 0;

    for (i = 0; i + 3 <= 30; i += 3) {
        unsigned v = ((unsigned)in[i] << 16) | ((unsigned)in[i + 1] << 8) | in[i + 2];
        out[o++] = tbl[(v >> 18) & 63];
        out[o++] = tbl[(v >> 12) & 63];
        out[o++] = tbl[(v >> 6) & 63];
        out[o++] = tbl[v & 63];
    }
    { /* the last 2 bytes: 3 characters */
        unsigned v = ((unsigned)in[30] << 16) | ((unsigned)in[31] << 8);
        out[o++] = tbl[(v >> 18) & 63];
        out[o++] = tbl[(v >> 12) & 63];
        out[o++] = tbl[(v >> 6) & 63];
    }
    out[o] = '\0';
}

static int inner_key(const ck_keyset *ks, const char *key, apr_size_t klen, ck_ikey *ik)
{
    EVP_MAC_CTX *m = EVP_MAC_CTX_dup(ks->mac);
    unsigned char md[32];
    size_t mdlen = 0;
    int ok = m && EVP_MAC_update(m, (const unsigned char *)key, klen) == 1 &&
             EVP_MAC_final(m, md, &mdlen, sizeof(md)) == 1 && mdlen == sizeof(md);

    EVP_MAC_CTX_free(m);
    if (ok)
        b64url32(md, ik->s);
    return ok;
}


/* ------------------------------------------------------------ values */

static void make_aad(unsigned char aad[1 + CK_IKEY_LEN], const ck_ikey *ik)
{
    aad[0] = CK_VERSION;
    memcpy(aad + 1, ik->s, CK_IKEY_LEN);
}

/* out: CK_OVERHEAD + vlen bytes. */
static int seal(ck_cache *c, const ck_keyset *ks, const ck_ikey *ik, const void *val,
                apr_size_t vlen, unsigned char *out)
{
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    unsigned char aad[1 + CK_IKEY_LEN];
    unsigned char *nonce = out + 1, *ct = out + 1 + CK_NONCE;
    int len = 0, fin = 0, ok;

    make_aad(aad, ik);
    out[0] = CK_VERSION;
    ok = ctx != NULL && RAND_bytes(nonce, CK_NONCE) == 1 &&
         EVP_EncryptInit_ex2(ctx, c->cipher, ks->enc, nonce, NULL) == 1 &&
         EVP_EncryptUpdate(ctx, NULL, &len, aad, sizeof(aad)) == 1 &&
         EVP_EncryptUpdate(ctx, ct, &len, val ? val : (const void *)"", (int)vlen) == 1 &&
         EVP_EncryptFinal_ex(ctx, ct + len, &fin) == 1 &&
         (apr_size_t)len + (apr_size_t)fin == vlen &&
         EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_GET_TAG, CK_TAG, ct + vlen) == 1;
    EVP_CIPHER_CTX_free(ctx);
    return ok;
}

/* Decrypt raw in place. 1: ok (*val, *vlen point into raw, NUL-terminated);
 * 0: not authentic (raw is wiped). */
static int open_value(ck_cache *c, const ck_keyset *ks, const ck_ikey *ik, char *raw,
                      apr_size_t rawlen, char **val, apr_size_t *vlen)
{
    EVP_CIPHER_CTX *ctx;
    unsigned char aad[1 + CK_IKEY_LEN], tag[CK_TAG];
    unsigned char *nonce, *ct;
    apr_size_t ctlen;
    int len = 0, fin = 0, ok;

    if (rawlen < CK_OVERHEAD || (unsigned char)raw[0] != CK_VERSION ||
        rawlen - CK_OVERHEAD > CK_MAX_VALUE) {
        return 0;
    }
    nonce = (unsigned char *)raw + 1;
    ct = nonce + CK_NONCE;
    ctlen = rawlen - CK_OVERHEAD;
    memcpy(tag, ct + ctlen, CK_TAG);
    make_aad(aad, ik);
    ctx = EVP_CIPHER_CTX_new();
    ok = ctx != NULL && EVP_DecryptInit_ex2(ctx, c->cipher, ks->enc, nonce, NULL) == 1 &&
         EVP_DecryptUpdate(ctx, NULL, &len, aad, sizeof(aad)) == 1 &&
         EVP_DecryptUpdate(ctx, ct, &len, ct, (int)ctlen) == 1 /* in place */
         && EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_TAG, CK_TAG, tag) == 1 &&
         EVP_DecryptFinal_ex(ctx, ct + len, &fin) == 1 &&
         (apr_size_t)len + (apr_size_t)fin == ctlen;
    EVP_CIPHER_CTX_free(ctx);
    if (!ok) {
        OPENSSL_cleanse(raw, rawlen); /* unauthenticated plaintext */
        return 0;
    }
    ct[ctlen] = '\0'; /* over the tag's first byte, copied above */
    *val = (char *)ct;
    *vlen = ctlen;
    return 1;
}

/* get under one key set: SUCCESS, NOTFOUND (absent or not authentic), or
 * the inner backend's failure. */
static apr_status_t get_with(ck_cache *c, const ck_keyset *ks, const char *which, const char *key,
                             apr_size_t klen, apr_pool_t *p, char **val, apr_size_t *vlen)
{
    ck_ikey ik;
    char *raw = NULL;
    apr_size_t rawlen = 0;
    apr_status_t rv;

    if (!inner_key(ks, key, klen, &ik))
        return APR_EGENERAL;
    rv = tpo_cache_get(c->inner, ik.s, p, &raw, &rawlen);
    if (rv != APR_SUCCESS)
        return rv;
    if (!open_value(c, ks, &ik, raw, rawlen, val, vlen)) {
        tpo_log(TPO_LOG_MARK, TPO_LOG_DEBUG,
                TPO_APLOGNO(
                    00065) "encrypted cache: an entry (%" APR_SIZE_T_FMT " bytes, %s key) failed "
                           "authentication (other key, tampered or corrupt): treated as absent",
                rawlen, which);
        return APR_NOTFOUND;
    }
    return APR_SUCCESS;
}

/* ------------------------------------------------------------ contract */

static apr_status_t ck_get(tpo_cache *tc, const char *key, apr_pool_t *p, char **val,
                           apr_size_t *vlen)
{
    ck_cache *c = tc->impl;
    apr_size_t klen;
    apr_status_t rv;

    if (!tpo_cache_key_ok(key, &klen))
        return APR_NOTFOUND;
    rv = get_with(c, &c->cur, "current", key, klen, p, val, vlen);
    if (rv != APR_NOTFOUND || !c->has_prev)
        return rv;
    return get_with(c, &c->prev, "previous", key, klen, p, val, vlen);
}

static apr_status_t ck_del(tpo_cache *tc, const char *key);

static apr_status_t ck_store(tpo_cache *tc, const char *key, const void *val, apr_size_t vlen,
                             apr_time_t expiry, int only_if_absent)
{
    ck_cache *c = tc->impl;
    apr_size_t klen;
    ck_ikey ik;
    unsigned char *buf;
    apr_status_t rv;

    if (!tpo_cache_key_ok(key, &klen) || (val == NULL && vlen > 0))
        return APR_EINVAL;
    if (vlen > CK_MAX_VALUE) {
        /* a set that cannot be stored removes the old value (as memcached does) */
        if (!only_if_absent) {
            rv = ck_del(tc, key);
            if (rv != APR_SUCCESS && rv != APR_NOTFOUND)
                return rv;
        }
        return APR_ENOSPC;
    }
    if (only_if_absent && c->has_prev) {
        /* see the comment at the top: not atomic with the add below */
        apr_pool_t *tmp;
        char *old;
        apr_size_t oldlen;

        rv = apr_pool_create_unmanaged_ex(&tmp, NULL, NULL);
        if (rv != APR_SUCCESS)
            return rv;
        rv = get_with(c, &c->prev, "previous", key, klen, tmp, &old, &oldlen);
        apr_pool_destroy(tmp);
        if (rv == APR_SUCCESS)
            return APR_EEXIST;
        if (rv != APR_NOTFOUND)
            return rv;
    }
    if (!inner_key(&c->cur, key, klen, &ik))
        return APR_EGENERAL;
    buf = malloc(CK_OVERHEAD + vlen);
    if (buf == NULL)
        return APR_ENOMEM;
    if (!seal(c, &c->cur, &ik, val, vlen, buf)) {
        free(buf);
        return APR_EGENERAL;
    }
    rv = only_if_absent ? tpo_cache_add(c->inner, ik.s, buf, CK_OVERHEAD + vlen, expiry)
                        : tpo_cache_set(c->inner, ik.s, buf, CK_OVERHEAD + vlen, expiry);
    free(buf);
    if (rv == APR_SUCCESS && !only_if_absent && c->has_prev) {
        apr_status_t rv2;

        if (!inner_key(&c->prev, key, klen, &ik))
            return APR_EGENERAL;
        rv2 = tpo_cache_del(c->inner, ik.s);
        if (rv2 != APR_SUCCESS && rv2 != APR_NOTFOUND)
            return rv2;
    }
    return rv;
}

static apr_status_t ck_set(tpo_cache *tc, const char *key, const void *val, apr_size_t vlen,
                           apr_time_t expiry)
{
    return ck_store(tc, key, val, vlen, expiry, 0);
}

static apr_status_t ck_add(tpo_cache *tc, const char *key, const void *val, apr_size_t vlen,
                           apr_time_t expiry)
{
    return ck_store(tc, key, val, vlen, expiry, 1);
}

static apr_status_t ck_del(tpo_cache *tc, const char *key)
{
    ck_cache *c = tc->impl;
    apr_size_t klen;
    ck_ikey ik;
    apr_status_t rv1, rv2 = APR_NOTFOUND;

    if (!tpo_cache_key_ok(key, &klen))
        return APR_NOTFOUND;
    if (!inner_key(&c->cur, key, klen, &ik))
        return APR_EGENERAL;
    rv1 = tpo_cache_del(c->inner, ik.s);
    if (c->has_prev) {
        if (!inner_key(&c->prev, key, klen, &ik))
            return APR_EGENERAL;
        rv2 = tpo_cache_del(c->inner, ik.s);
    }
    /* a failure wins: a copy may be left that the fallback would still read */
    if (rv1 != APR_SUCCESS && rv1 != APR_NOTFOUND)
        return rv1;
    if (rv2 != APR_SUCCESS && rv2 != APR_NOTFOUND)
        return rv2;
    return (rv1 == APR_SUCCESS || rv2 == APR_SUCCESS) ? APR_SUCCESS : APR_NOTFOUND;
}

static const tpo_cache_ops ck_ops = {"crypt", ck_get, ck_set, ck_add, ck_del};

static apr_status_t ck_cleanup(void *data)
{
    ck_cache *c = data;

    keyset_free(&c->cur);
    keyset_free(&c->prev);
    EVP_CIPHER_free(c->cipher);
    c->cipher = NULL;
    return APR_SUCCESS;
}

apr_status_t tpo_crypt_cache_create(apr_pool_t *p, tpo_cache *inner, const tpo_crypt_key *key,
                                    const tpo_crypt_key *previous, tpo_cache **out,
                                    const char **err)
{
    ck_cache *c;

    *out = NULL;
    if (err)
        *err = NULL;
    if (inner == NULL) {
        if (err)
            *err = "no cache to encrypt";
        return APR_EINVAL;
    }
    if (key == NULL) {
        if (err)
            *err = "no cache encryption key";
        return APR_EINVAL;
    }
    c = apr_pcalloc(p, sizeof(*c));
    c->inner = inner;
    apr_pool_cleanup_register(p, c, ck_cleanup, apr_pool_cleanup_null);
    c->cipher = EVP_CIPHER_fetch(NULL, "AES-256-GCM", NULL);
    if (c->cipher == NULL || !keyset_init(&c->cur, key)) {
        if (err)
            *err = "cannot set up AES-256-GCM / HKDF / HMAC (OpenSSL)";
        return APR_EGENERAL;
    }
    /* the same key twice would make set() delete what it just wrote */
    if (previous && CRYPTO_memcmp(previous->k, key->k, sizeof(key->k)) != 0) {
        if (!keyset_init(&c->prev, previous)) {
            if (err)
                *err = "cannot derive keys from the previous cache key (OpenSSL)";
            return APR_EGENERAL;
        }
        c->has_prev = 1;
    }
    c->pub.ops = &ck_ops;
    c->pub.impl = c;
    *out = &c->pub;
    return APR_SUCCESS;
}

int tpo_crypt_cache_names(void *crypt_cache, const char *key, apr_size_t klen,
                          char names[2][TPO_LOCAL_NAME_MAX], int *n)
{
    ck_cache *c = ((tpo_cache *)crypt_cache)->impl;
    ck_ikey ik;

    *n = 0;
    if (!inner_key(&c->cur, key, klen, &ik))
        return 0;
    memcpy(names[(*n)++], ik.s, sizeof(ik.s));
    if (c->has_prev) {
        if (!inner_key(&c->prev, key, klen, &ik))
            return 0;
        memcpy(names[(*n)++], ik.s, sizeof(ik.s));
    }
    return 1;
}
