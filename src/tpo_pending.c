/* SPDX-License-Identifier: Apache-2.0
 * Licensed under the Apache License, Version 2.0 (see LICENSE). */
#include <string.h>
#include "tpo_pending.h"
#include "tpo_session.h"

enum {
    P_CREATED = 1,
    P_EXPIRES,
    P_PROVIDER = 16,
    P_STATE,
    P_NONCE,
    P_VERIFIER,
    P_REDIRECT_URI,
    P_RETURN_URL,
    /* step-up: numbered apart so that fields added above do not collide */
    P_ACR_REQUIRED = 40,
    P_MAX_AUTH_AGE
};

static const char PENDING_MAGIC[3] = {'T', 'P', 'L'};

char *tpo_pending_encode(apr_pool_t *p, const tpo_pending *pl, apr_size_t *len)
{
    tpo_tlv_writer w;

    tpo_tlv_init(&w, p, PENDING_MAGIC, TPO_PENDING_VERSION);
    tpo_tlv_put_time(&w, P_CREATED, pl->created);
    tpo_tlv_put_time(&w, P_EXPIRES, pl->expires);
    tpo_tlv_put_str(&w, P_PROVIDER, pl->provider);
    tpo_tlv_put_str(&w, P_STATE, pl->state);
    tpo_tlv_put_str(&w, P_NONCE, pl->nonce);
    tpo_tlv_put_str(&w, P_VERIFIER, pl->code_verifier);
    tpo_tlv_put_str(&w, P_REDIRECT_URI, pl->redirect_uri);
    tpo_tlv_put_str(&w, P_RETURN_URL, pl->return_url);
    tpo_tlv_put_str(&w, P_ACR_REQUIRED, pl->acr_required);
    if (pl->max_auth_age > 0) {
        tpo_tlv_put_time(&w, P_MAX_AUTH_AGE, (apr_time_t)pl->max_auth_age);
    }
    *len = w.len;
    return w.buf;
}

apr_status_t tpo_pending_decode(apr_pool_t *p, const char *buf, apr_size_t len, tpo_pending *out)
{
    tpo_tlv_reader r;
    unsigned char tag;
    const char *data;
    apr_size_t dlen;
    int rc;
    apr_status_t st = APR_SUCCESS;

    (void)p;
    memset(out, 0, sizeof(*out));
    if (tpo_tlv_open(&r, buf, len, PENDING_MAGIC, TPO_PENDING_VERSION) != APR_SUCCESS) {
        return APR_EINVAL;
    }
    while ((rc = tpo_tlv_next(&r, &tag, &data, &dlen)) == 1) {
        switch (tag) {
        case P_CREATED:
            st = tpo_tlv_time(data, dlen, &out->created);
            break;
        case P_EXPIRES:
            st = tpo_tlv_time(data, dlen, &out->expires);
            break;
        case P_PROVIDER:
            st = tpo_tlv_str(data, dlen, &out->provider);
            break;
        case P_STATE:
            st = tpo_tlv_str(data, dlen, &out->state);
            break;
        case P_NONCE:
            st = tpo_tlv_str(data, dlen, &out->nonce);
            break;
        case P_VERIFIER:
            st = tpo_tlv_str(data, dlen, &out->code_verifier);
            break;
        case P_REDIRECT_URI:
            st = tpo_tlv_str(data, dlen, &out->redirect_uri);
            break;
        case P_RETURN_URL:
            st = tpo_tlv_str(data, dlen, &out->return_url);
            break;
        case P_ACR_REQUIRED:
            st = tpo_tlv_str(data, dlen, &out->acr_required);
            break;
        case P_MAX_AUTH_AGE: {
            apr_time_t v;
            st = tpo_tlv_time(data, dlen, &v);
            if (st == APR_SUCCESS && (v < 1 || v > 0x7fffffff)) {
                st = APR_EINVAL;
            }
            out->max_auth_age = (int)v;
            break;
        }
        default:
            break;
        }
        if (st != APR_SUCCESS) {
            return APR_EINVAL;
        }
    }
    if (rc < 0 || !out->provider || !out->state || !out->code_verifier || !out->redirect_uri ||
        !out->return_url) {
        return APR_EINVAL;
    }
    return APR_SUCCESS;
}
