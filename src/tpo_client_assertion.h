/* SPDX-License-Identifier: Apache-2.0
 * Licensed under the Apache License, Version 2.0 (see LICENSE). */
/* Client assertions (RFC 7523 2.2, OIDC Core 9): the JWT a client
 * authenticates with under private_key_jwt (signed with one of the module's
 * keys) and client_secret_jwt (HS256 with the client secret). */
#ifndef TPO_CLIENT_ASSERTION_H
#define TPO_CLIENT_ASSERTION_H

#include <apr_pools.h>
#include <apr_time.h>
#include "tpo_client_keys.h"

/* client_assertion_type of both methods */
#define TPO_CLIENT_ASSERTION_TYPE "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"

/* A fresh assertion: iss = sub = client_id, aud = audience, a random jti
 * (128 bits), iat = now, exp = now + lifetime_sec. Signed with key (its alg
 * and kid) or, when key is NULL, with HS256 and secret. NULL with *err. */
char *tpo_client_assertion_build(apr_pool_t *p, const char *client_id, const char *audience,
                                 apr_time_t now, int lifetime_sec, const tpo_client_key *key,
                                 const char *secret, const char **err);

#endif
