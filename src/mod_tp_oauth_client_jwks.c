/* SPDX-License-Identifier: Apache-2.0
 * Licensed under the Apache License, Version 2.0 (see LICENSE). */
/* <redirect URI>/jwks: the public keys of TPOAuthClientSigningKey as a JWK
 * Set, for a provider that verifies our private_key_jwt assertions through a
 * jwks_uri. Rendered once at configuration time; public, no session needed. */
#include <string.h>
#include <apr_strings.h>
#include "mod_tp_oauth_flows.h"
#include "tpo_defaults.h"

int tpa_client_jwks_endpoint(request_rec *r, tpa_provider_conf *pc)
{
    if (r->method_number != M_GET) {
        apr_table_setn(r->err_headers_out, "Allow", "GET, HEAD");
        return tpa_page_error(r, HTTP_METHOD_NOT_ALLOWED, "Method not allowed",
                              "The key set is read with GET.");
    }
    if (!pc->client_jwks) {
        return tpa_page_error(r, HTTP_NOT_FOUND, "Not found",
                              "This provider has no TPOAuthClientSigningKey.");
    }
    /* short: a rotation reaches the provider within minutes */
    apr_table_setn(r->headers_out, "Cache-Control",
                   apr_psprintf(r->pool, "public, max-age=%d", TPO_CLIENT_JWKS_MAX_AGE));
    apr_table_setn(r->headers_out, "X-Content-Type-Options", "nosniff");
    apr_table_setn(r->headers_out, "Access-Control-Allow-Origin", "*");
    ap_set_content_type(r, "application/jwk-set+json");
    ap_set_content_length(r, (apr_off_t)strlen(pc->client_jwks));
    if (!r->header_only) {
        ap_rputs(pc->client_jwks, r);
    }
    return DONE;
}
