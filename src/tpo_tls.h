/* SPDX-License-Identifier: Apache-2.0
 * Licensed under the Apache License, Version 2.0 (see LICENSE). */
/* TLS client settings for the connections to a cache server (Redis): one
 * OpenSSL context per process, built from the configured files and checked
 * here, so that a bad file is a clear message at startup rather than a
 * failed handshake on every request. */
#ifndef TPO_TLS_H
#define TPO_TLS_H

#include <apr_pools.h>
#include <openssl/ssl.h>

/* A client context that verifies the server's certificate: against the CAs
 * in ca_file (PEM), or the system's when NULL; TLS 1.2 at least. cert_file
 * and key_file (PEM): the client certificate and its key, both or neither;
 * the key must match the certificate. The context lives as long as p. On
 * error *err names the file and OpenSSL's reason. */
apr_status_t tpo_tls_client_ctx(apr_pool_t *p, const char *ca_file, const char *cert_file,
                                const char *key_file, SSL_CTX **out, const char **err);

#endif
