/* SPDX-License-Identifier: Apache-2.0
 * Licensed under the Apache License, Version 2.0 (see LICENSE). */
/* TLS client contexts for cache connections (see tpo_tls.h). */
#include <openssl/err.h>
#include <apr_strings.h>
#include "tpo_tls.h"

static apr_status_t ctx_free(void *data)
{
    SSL_CTX_free(data);
    return APR_SUCCESS;
}

/* OpenSSL's reason for the last failure, for a message. */
static const char *ossl_reason(apr_pool_t *p)
{
    unsigned long e = ERR_peek_last_error();
    char buf[200];

    if (e == 0)
        return "unknown error";
    ERR_error_string_n(e, buf, sizeof(buf));
    return apr_pstrdup(p, buf);
}

apr_status_t tpo_tls_client_ctx(apr_pool_t *p, const char *ca_file, const char *cert_file,
                                const char *key_file, SSL_CTX **out, const char **err)
{
    SSL_CTX *ctx;

    *out = NULL;
    *err = NULL;
    if ((cert_file == NULL) != (key_file == NULL)) {
        *err = cert_file ? "a client certificate needs its key file"
                         : "a client key needs its certificate file";
        return APR_EINVAL;
    }
    ERR_clear_error();
    ctx = SSL_CTX_new(TLS_client_method());
    if (ctx == NULL) {
        *err = apr_psprintf(p, "cannot create a TLS context: %s", ossl_reason(p));
        return APR_ENOMEM;
    }
    apr_pool_cleanup_register(p, ctx, ctx_free, apr_pool_cleanup_null);
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    /* a server that closed an idle connection without close_notify is an
     * EOF like in plain TCP (RESP replies are self-delimiting) */
    SSL_CTX_set_options(ctx, SSL_OP_IGNORE_UNEXPECTED_EOF);
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
    if (ca_file) {
        if (SSL_CTX_load_verify_locations(ctx, ca_file, NULL) != 1) {
            *err = apr_psprintf(p, "cannot load the CA file %s: %s", ca_file, ossl_reason(p));
            return APR_EINVAL;
        }
    }
    else if (SSL_CTX_set_default_verify_paths(ctx) != 1) {
        *err = apr_psprintf(p, "cannot load the system's CAs: %s", ossl_reason(p));
        return APR_EINVAL;
    }
    if (cert_file) {
        if (SSL_CTX_use_certificate_chain_file(ctx, cert_file) != 1) {
            *err = apr_psprintf(p, "cannot load the client certificate %s: %s", cert_file,
                                ossl_reason(p));
            return APR_EINVAL;
        }
        if (SSL_CTX_use_PrivateKey_file(ctx, key_file, SSL_FILETYPE_PEM) != 1) {
            *err = apr_psprintf(p, "cannot load the client key %s: %s", key_file, ossl_reason(p));
            return APR_EINVAL;
        }
        if (SSL_CTX_check_private_key(ctx) != 1) {
            *err = apr_psprintf(p, "the client key %s does not match the certificate %s", key_file,
                                cert_file);
            return APR_EINVAL;
        }
    }
    *out = ctx;
    return APR_SUCCESS;
}
