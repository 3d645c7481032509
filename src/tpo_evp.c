/* SPDX-License-Identifier: Apache-2.0
 * Licensed under the Apache License, Version 2.0 (see LICENSE). */
/* tpo_evp.c: algorithms fetched once per process (see tpo_evp.h). */
#include "tpo_evp.h"

const EVP_MD *tpo_evp_sha256(void)
{
    static EVP_MD *cached;
    EVP_MD *m = __atomic_load_n(&cached, __ATOMIC_ACQUIRE), *none = NULL;

    if (m) {
        return m;
    }
    m = EVP_MD_fetch(NULL, "SHA256", NULL);
    if (!m) {
        return EVP_sha256();
    }
    if (!__atomic_compare_exchange_n(&cached, &none, m, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
        EVP_MD_free(m);
        return none;
    }
    return m;
}

const EVP_CIPHER *tpo_evp_aes256gcm(void)
{
    static EVP_CIPHER *cached;
    EVP_CIPHER *c = __atomic_load_n(&cached, __ATOMIC_ACQUIRE), *none = NULL;

    if (c) {
        return c;
    }
    c = EVP_CIPHER_fetch(NULL, "AES-256-GCM", NULL);
    if (!c) {
        return EVP_aes_256_gcm();
    }
    if (!__atomic_compare_exchange_n(&cached, &none, c, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
        EVP_CIPHER_free(c);
        return none;
    }
    return c;
}
