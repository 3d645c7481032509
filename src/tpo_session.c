/* SPDX-License-Identifier: Apache-2.0
 * Licensed under the Apache License, Version 2.0 (see LICENSE). */
#include <string.h>
#include "tpo_session.h"

/* ---------------------------------------------------------------- TLV */

static void tlv_reserve(tpo_tlv_writer *w, apr_size_t more)
{
    char *nbuf;
    apr_size_t ncap;

    if (w->len + more <= w->cap) {
        return;
    }
    ncap = w->cap ? w->cap : 256;
    while (ncap < w->len + more) {
        ncap *= 2;
    }
    nbuf = apr_palloc(w->p, ncap);
    if (w->len) {
        memcpy(nbuf, w->buf, w->len);
    }
    w->buf = nbuf;
    w->cap = ncap;
}

static void put_u32(char *dst, apr_uint32_t v)
{
    dst[0] = (char)(v & 0xff);
    dst[1] = (char)((v >> 8) & 0xff);
    dst[2] = (char)((v >> 16) & 0xff);
    dst[3] = (char)((v >> 24) & 0xff);
}

static apr_uint32_t get_u32(const char *src)
{
    const unsigned char *s = (const unsigned char *)src;
    return (apr_uint32_t)s[0] | ((apr_uint32_t)s[1] << 8) | ((apr_uint32_t)s[2] << 16) |
           ((apr_uint32_t)s[3] << 24);
}

static void tlv_put(tpo_tlv_writer *w, unsigned char tag, const void *data, apr_size_t len)
{
    tlv_reserve(w, 5 + len);
    w->buf[w->len] = (char)tag;
    put_u32(w->buf + w->len + 1, (apr_uint32_t)len);
    if (len) {
        memcpy(w->buf + w->len + 5, data, len);
    }
    w->len += 5 + len;
}

void tpo_tlv_init(tpo_tlv_writer *w, apr_pool_t *p, const char magic[3], unsigned char version)
{
    memset(w, 0, sizeof(*w));
    w->p = p;
    tlv_reserve(w, 512);
    memcpy(w->buf, magic, 3);
    w->buf[3] = (char)version;
    w->len = 4;
}

void tpo_tlv_put_str(tpo_tlv_writer *w, unsigned char tag, const char *s)
{
    if (s) {
        tlv_put(w, tag, s, strlen(s) + 1);
    }
}

void tpo_tlv_put_time(tpo_tlv_writer *w, unsigned char tag, apr_time_t t)
{
    char b[8];
    apr_uint64_t v = (apr_uint64_t)t;
    int i;

    for (i = 0; i < 8; i++) {
        b[i] = (char)((v >> (8 * i)) & 0xff);
    }
    tlv_put(w, tag, b, 8);
}

apr_status_t tpo_tlv_open(tpo_tlv_reader *r, const char *buf, apr_size_t len, const char magic[3],
                          unsigned char version)
{
    if (!buf || len < 4 || memcmp(buf, magic, 3) != 0 || (unsigned char)buf[3] != version) {
        return APR_EINVAL;
    }
    r->buf = buf;
    r->len = len;
    r->pos = 4;
    return APR_SUCCESS;
}

static APR_INLINE int tlv_next(tpo_tlv_reader *r, unsigned char *tag, const char **data,
                               apr_size_t *dlen)
{
    apr_uint32_t n;

    if (r->pos == r->len) {
        return 0;
    }
    if (r->len - r->pos < 5) {
        return -1;
    }
    n = get_u32(r->buf + r->pos + 1);
    if (n > r->len - r->pos - 5) {
        return -1;
    }
    *tag = (unsigned char)r->buf[r->pos];
    *data = r->buf + r->pos + 5;
    *dlen = n;
    r->pos += 5 + n;
    return 1;
}

int tpo_tlv_next(tpo_tlv_reader *r, unsigned char *tag, const char **data, apr_size_t *dlen)
{
    return tlv_next(r, tag, data, dlen);
}

apr_status_t tpo_tlv_str(const char *data, apr_size_t dlen, const char **out)
{
    if (dlen == 0 || data[dlen - 1] != '\0') {
        return APR_EINVAL;
    }
    *out = data;
    return APR_SUCCESS;
}

apr_status_t tpo_tlv_time(const char *data, apr_size_t dlen, apr_time_t *out)
{
    apr_uint64_t v = 0;
    int i;

    if (dlen != 8) {
        return APR_EINVAL;
    }
    for (i = 0; i < 8; i++) {
        v |= (apr_uint64_t)(unsigned char)data[i] << (8 * i);
    }
    *out = (apr_time_t)v;
    return APR_SUCCESS;
}

/* ---------------------------------------------------------------- session */

enum {
    S_CREATED = 1,
    S_EXPIRES,
    S_LAST_SEEN,
    S_AT_EXPIRES,
    S_AT_OBTAINED,
    S_PROVIDER = 16,
    S_USER,
    S_SUB,
    S_ACCESS_TOKEN,
    S_REFRESH_TOKEN,
    S_ID_TOKEN,
    S_SCOPE,
    S_CLAIMS,
    S_OP_SID,
    S_DPOP_KEY,
    /* step-up (TPOAuthRequireACR, TPOAuthMaxAuthAge): numbered apart from
     * the runs above so that fields added there do not collide */
    S_AUTH_TIME = 12,
    S_ACR = 28,
    S_ENV_NAME = 32,
    S_ENV_VALUE,
    S_HDR_NAME,
    S_HDR_VALUE
};

static const char SESSION_MAGIC[3] = {'T', 'P', 'S'};

static void put_pairs(tpo_tlv_writer *w, const apr_array_header_t *a, unsigned char tn,
                      unsigned char tv)
{
    const char **kv;
    int i;

    if (!a) {
        return;
    }
    kv = (const char **)a->elts;
    for (i = 0; i + 1 < a->nelts; i += 2) {
        tpo_tlv_put_str(w, tn, kv[i]);
        tpo_tlv_put_str(w, tv, kv[i + 1] ? kv[i + 1] : "");
    }
}

char *tpo_session_encode(apr_pool_t *p, const tpo_session *s, apr_size_t *len)
{
    tpo_tlv_writer w;

    tpo_tlv_init(&w, p, SESSION_MAGIC, TPO_SESSION_VERSION);
    tpo_tlv_put_time(&w, S_CREATED, s->created);
    tpo_tlv_put_time(&w, S_EXPIRES, s->expires);
    tpo_tlv_put_time(&w, S_LAST_SEEN, s->last_seen);
    tpo_tlv_put_time(&w, S_AT_EXPIRES, s->at_expires);
    tpo_tlv_put_time(&w, S_AT_OBTAINED, s->at_obtained);
    tpo_tlv_put_str(&w, S_PROVIDER, s->provider);
    tpo_tlv_put_str(&w, S_USER, s->user);
    tpo_tlv_put_str(&w, S_SUB, s->sub);
    tpo_tlv_put_str(&w, S_ACCESS_TOKEN, s->access_token);
    tpo_tlv_put_str(&w, S_REFRESH_TOKEN, s->refresh_token);
    tpo_tlv_put_str(&w, S_ID_TOKEN, s->id_token);
    tpo_tlv_put_str(&w, S_SCOPE, s->scope);
    tpo_tlv_put_str(&w, S_CLAIMS, s->claims);
    tpo_tlv_put_str(&w, S_OP_SID, s->op_sid);
    tpo_tlv_put_str(&w, S_DPOP_KEY, s->dpop_key);
    tpo_tlv_put_str(&w, S_ACR, s->acr);
    if (s->auth_time) {
        tpo_tlv_put_time(&w, S_AUTH_TIME, s->auth_time);
    }
    if (s->env || s->headers || !s->pairs) {
        put_pairs(&w, s->env, S_ENV_NAME, S_ENV_VALUE);
        put_pairs(&w, s->headers, S_HDR_NAME, S_HDR_VALUE);
    }
    else {
        /* a decoded record written back unchanged: copy its pairs as they are */
        tlv_reserve(&w, s->pairs_len);
        memcpy(w.buf + w.len, s->pairs, s->pairs_len);
        w.len += s->pairs_len;
    }
    *len = w.len;
    return w.buf;
}

apr_status_t tpo_session_decode(apr_pool_t *p, const char *buf, apr_size_t len, tpo_session *out)
{
    tpo_tlv_reader r;
    unsigned char tag;
    const char *data, *pending_name = NULL, *pending_hdr = NULL;
    apr_size_t dlen;
    int rc;
    apr_status_t st = APR_SUCCESS;

    memset(out, 0, sizeof(*out));
    if (tpo_tlv_open(&r, buf, len, SESSION_MAGIC, TPO_SESSION_VERSION) != APR_SUCCESS) {
        return APR_EINVAL;
    }
    while ((rc = tlv_next(&r, &tag, &data, &dlen)) == 1) {
        switch (tag) {
        case S_CREATED:
            st = tpo_tlv_time(data, dlen, &out->created);
            break;
        case S_EXPIRES:
            st = tpo_tlv_time(data, dlen, &out->expires);
            break;
        case S_LAST_SEEN:
            st = tpo_tlv_time(data, dlen, &out->last_seen);
            break;
        case S_AT_EXPIRES:
            st = tpo_tlv_time(data, dlen, &out->at_expires);
            break;
        case S_AT_OBTAINED:
            st = tpo_tlv_time(data, dlen, &out->at_obtained);
            break;
        case S_PROVIDER:
            st = tpo_tlv_str(data, dlen, &out->provider);
            break;
        case S_USER:
            st = tpo_tlv_str(data, dlen, &out->user);
            break;
        case S_SUB:
            st = tpo_tlv_str(data, dlen, &out->sub);
            break;
        case S_ACCESS_TOKEN:
            st = tpo_tlv_str(data, dlen, &out->access_token);
            break;
        case S_REFRESH_TOKEN:
            st = tpo_tlv_str(data, dlen, &out->refresh_token);
            break;
        case S_ID_TOKEN:
            st = tpo_tlv_str(data, dlen, &out->id_token);
            break;
        case S_SCOPE:
            st = tpo_tlv_str(data, dlen, &out->scope);
            break;
        case S_CLAIMS:
            st = tpo_tlv_str(data, dlen, &out->claims);
            break;
        case S_OP_SID:
            st = tpo_tlv_str(data, dlen, &out->op_sid);
            break;
        case S_DPOP_KEY:
            st = tpo_tlv_str(data, dlen, &out->dpop_key);
            break;
        case S_ACR:
            st = tpo_tlv_str(data, dlen, &out->acr);
            break;
        case S_AUTH_TIME:
            st = tpo_tlv_time(data, dlen, &out->auth_time);
            break;
        case S_ENV_NAME:
        case S_HDR_NAME: {
            const char **slot = tag == S_ENV_NAME ? &pending_name : &pending_hdr;
            if (*slot) {
                return APR_EINVAL;
            }
            if (!out->pairs) {
                out->pairs = data - 5; /* the pairs start here, to the end */
            }
            st = tpo_tlv_str(data, dlen, slot);
            break;
        }
        case S_ENV_VALUE:
        case S_HDR_VALUE: {
            const char **slot = tag == S_ENV_VALUE ? &pending_name : &pending_hdr;
            const char *v;
            if (!*slot) {
                return APR_EINVAL;
            }
            st = tpo_tlv_str(data, dlen, &v);
            *slot = NULL;
            break;
        }
        default:
            break; /* unknown field of a newer writer: skip */
        }
        if (st != APR_SUCCESS) {
            return APR_EINVAL;
        }
    }
    if (rc < 0 || pending_name || pending_hdr || !out->user || !out->provider) {
        return APR_EINVAL;
    }
    if (out->pairs) {
        out->pairs_len = (apr_size_t)(buf + len - out->pairs);
    }
    return APR_SUCCESS;
}

/* The pairs region holds only pair fields (the encoder writes them last);
 * anything else inside it (a newer writer's field) is skipped. */
void tpo_session_pairs_each(const tpo_session *s, int kind,
                            void (*fn)(void *baton, const char *name, const char *value),
                            void *baton)
{
    tpo_tlv_reader r;
    unsigned char tag, want_n = kind == TPO_SESSION_PAIRS_ENV ? S_ENV_NAME : S_HDR_NAME;
    const char *data, *name = NULL;
    apr_size_t dlen;

    if (!s->pairs) {
        return;
    }
    r.buf = s->pairs;
    r.len = s->pairs_len;
    r.pos = 0;
    while (tlv_next(&r, &tag, &data, &dlen) == 1) {
        if (tag == want_n) {
            name = data;
        }
        else if (tag == want_n + 1 && name) {
            fn(baton, name, data);
            name = NULL;
        }
    }
}

static void push_pair(void *baton, const char *name, const char *value)
{
    apr_array_header_t *a = baton;
    APR_ARRAY_PUSH(a, const char *) = name;
    APR_ARRAY_PUSH(a, const char *) = value;
}

apr_array_header_t *tpo_session_pairs(const tpo_session *s, int kind, apr_pool_t *p)
{
    apr_array_header_t *a;

    if (kind == TPO_SESSION_PAIRS_ENV && s->env) {
        return s->env;
    }
    if (kind == TPO_SESSION_PAIRS_HEADERS && s->headers) {
        return s->headers;
    }
    a = apr_array_make(p, 16, sizeof(const char *));
    tpo_session_pairs_each(s, kind, push_pair, a);
    return a;
}
