/* SPDX-License-Identifier: Apache-2.0
 * Licensed under the Apache License, Version 2.0 (see LICENSE). */
/* tpo_evp.h: the OpenSSL algorithms the hot paths use, fetched once per
 * process (EVP_sha256() or EVP_aes_256_gcm() passed to an init call is
 * fetched again at every call). */
#ifndef TPO_EVP_H
#define TPO_EVP_H

#include <openssl/evp.h>

const EVP_MD *tpo_evp_sha256(void);
const EVP_CIPHER *tpo_evp_aes256gcm(void);

#endif
