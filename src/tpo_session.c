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

void tpo_tlv_put_bytes(tpo_tlv_writer *w, unsigned char tag, const void *data, apr_size_t len)
{
    tlv_put(w, tag, data, len);
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
    S_HDR_VALUE,
    S_IDENTITY = 40 /* format 2: every variable and header in one field (below) */
};

/* The identity field (format 2): items, variables first, then headers:
 *   flags(1) name-length(varint) name NUL value
 * where value is, by the flags,
 *   ID_FIELD: tag(1)  the record's field of that tag (user, sub, access
 *                     token, scope, claims): a value equal to one is not
 *                     stored twice
 *   ID_BACK:  varint  offset (from the field's start) of an earlier item's
 *                     inline value: a header's value equal to its variable's
 *   neither:  length(varint) bytes NUL
 * Lengths and offsets are LEB128 varints of at most 4 bytes. */
#define ID_HDR 0x01
#define ID_FIELD 0x02
#define ID_BACK 0x04
#define ID_FLAGS (ID_HDR | ID_FIELD | ID_BACK)

static const char SESSION_MAGIC[3] = {'T', 'P', 'S'};

static void raw_put(tpo_tlv_writer *w, const void *data, apr_size_t len)
{
    tlv_reserve(w, len);
    if (len) {
        memcpy(w->buf + w->len, data, len);
    }
    w->len += len;
}

static apr_size_t varint_len(apr_size_t v)
{
    apr_size_t n = 1;
    while (v >= 0x80) {
        v >>= 7;
        n++;
    }
    return n;
}

static void varint_put(tpo_tlv_writer *w, apr_size_t v)
{
    unsigned char b[8];
    apr_size_t n = 0;

    do {
        b[n] = (unsigned char)(v & 0x7f);
        v >>= 7;
        if (v) {
            b[n] |= 0x80;
        }
        n++;
    } while (v && n < sizeof(b));
    raw_put(w, b, n);
}

/* 1 and *v; 0 past the end or longer than 4 bytes */
static APR_INLINE int varint_get(const unsigned char *b, apr_size_t len, apr_size_t *pos,
                                 apr_size_t *v)
{
    apr_size_t r = 0;
    int i;

    for (i = 0; i < 4; i++) {
        unsigned char c;
        if (*pos >= len) {
            return 0;
        }
        c = b[(*pos)++];
        r |= (apr_size_t)(c & 0x7f) << (7 * i);
        if (!(c & 0x80)) {
            *v = r;
            return 1;
        }
    }
    return 0;
}

/* Where an identity value is already stored: a field (tag) or an earlier
 * inline value of the identity field (offset). A short list, searched by
 * length first: a rendering has a few dozen values. */
typedef struct id_ref {
    const char *v;
    apr_size_t len;
    unsigned char tag;
    apr_size_t off;
} id_ref;

typedef struct id_refs {
    apr_array_header_t *a;
} id_refs;

static const id_ref *id_find(const id_refs *refs, const char *v, apr_size_t len)
{
    const id_ref *r = (const id_ref *)refs->a->elts;
    int i;

    for (i = 0; i < refs->a->nelts; i++) {
        if (r[i].len == len && r[i].v[0] == v[0] && !memcmp(r[i].v, v, len)) {
            return &r[i];
        }
    }
    return NULL;
}

static void id_add(id_refs *refs, const char *v, apr_size_t len, unsigned char tag, apr_size_t off)
{
    id_ref *r;

    if (!v || !len || id_find(refs, v, len)) {
        return; /* the first one of equal values wins */
    }
    r = apr_array_push(refs->a);
    r->v = v;
    r->len = len;
    r->tag = tag;
    r->off = off;
}

static void id_put(tpo_tlv_writer *b, apr_size_t base, id_refs *refs, unsigned char kind,
                   const char *name, const char *value)
{
    apr_size_t nlen = strlen(name), vlen = strlen(value);
    const id_ref *r = vlen ? id_find(refs, value, vlen) : NULL;
    unsigned char flags = kind;

    if (r && r->tag) {
        flags |= ID_FIELD;
    }
    else if (r && varint_len(r->off) < varint_len(vlen) + vlen + 1) {
        flags |= ID_BACK;
    }
    tlv_reserve(b, 1 + 5 + nlen + 1 + 5 + vlen + 1);
    b->buf[b->len++] = (char)flags;
    varint_put(b, nlen);
    memcpy(b->buf + b->len, name, nlen + 1);
    b->len += nlen + 1;
    if (flags & ID_FIELD) {
        b->buf[b->len++] = (char)r->tag;
    }
    else if (flags & ID_BACK) {
        varint_put(b, r->off);
    }
    else {
        varint_put(b, vlen);
        if (!r) {
            id_add(refs, value, vlen, 0, b->len - base);
        }
        memcpy(b->buf + b->len, value, vlen + 1);
        b->len += vlen + 1;
    }
}

/* The identity field, written in place (its length filled in at the end). */
static void put_identity(tpo_tlv_writer *w, const tpo_session *s)
{
    id_refs refs;
    apr_size_t start, base;
    int k;

    refs.a = apr_array_make(w->p, 48, sizeof(id_ref));
    /* the fields a value may name */
    id_add(&refs, s->user, s->user ? strlen(s->user) : 0, S_USER, 0);
    id_add(&refs, s->sub, s->sub ? strlen(s->sub) : 0, S_SUB, 0);
    id_add(&refs, s->access_token, s->access_token ? strlen(s->access_token) : 0, S_ACCESS_TOKEN,
           0);
    id_add(&refs, s->scope, s->scope ? strlen(s->scope) : 0, S_SCOPE, 0);
    id_add(&refs, s->claims, s->claims ? strlen(s->claims) : 0, S_CLAIMS, 0);
    tlv_reserve(w, 5);
    start = w->len;
    w->buf[w->len] = (char)S_IDENTITY;
    w->len += 5;
    base = w->len;
    for (k = 0; k < 2; k++) {
        const apr_array_header_t *a = k ? s->headers : s->env;
        const char **kv;
        int i;

        if (!a) {
            continue;
        }
        kv = (const char **)a->elts;
        for (i = 0; i + 1 < a->nelts; i += 2) {
            id_put(w, base, &refs, k ? ID_HDR : 0, kv[i], kv[i + 1] ? kv[i + 1] : "");
        }
    }
    if (w->len == base) {
        w->len = start; /* nothing to export: no field */
        return;
    }
    put_u32(w->buf + start + 1, (apr_uint32_t)(w->len - base));
}

/* A field a value may name, or NULL. */
static const char *id_field_value(const tpo_session *s, unsigned char tag)
{
    switch (tag) {
    case S_USER:
        return s->user;
    case S_SUB:
        return s->sub;
    case S_ACCESS_TOKEN:
        return s->access_token;
    case S_SCOPE:
        return s->scope;
    case S_CLAIMS:
        return s->claims;
    default:
        return NULL;
    }
}

/* The next item of the identity field at *pos: 1 (and kind, name, value),
 * 0 at the end, -1 on a malformed item. Every string returned ends inside
 * the record. */
static APR_INLINE int id_next(const tpo_session *s, apr_size_t *pos, int *hdr, const char **name,
                              const char **value)
{
    const unsigned char *b = (const unsigned char *)s->ident;
    apr_size_t len = s->ident_len, start = *pos, n;
    unsigned char flags;

    if (start == len) {
        return 0;
    }
    flags = b[(*pos)++];
    if ((flags & ~ID_FLAGS) || ((flags & ID_FIELD) && (flags & ID_BACK)) ||
        !varint_get(b, len, pos, &n) || n >= len - *pos || b[*pos + n] != '\0') {
        return -1;
    }
    *hdr = flags & ID_HDR;
    *name = (const char *)b + *pos;
    *pos += n + 1;
    if (flags & ID_FIELD) {
        if (*pos >= len || !(*value = id_field_value(s, b[*pos]))) {
            return -1;
        }
        (*pos)++;
    }
    else if (flags & ID_BACK) {
        /* an earlier inline value: it ends before this item starts */
        if (!varint_get(b, len, pos, &n) || n >= start || !memchr(b + n, 0, start - n)) {
            return -1;
        }
        *value = (const char *)b + n;
    }
    else {
        if (!varint_get(b, len, pos, &n) || n >= len - *pos || b[*pos + n] != '\0') {
            return -1;
        }
        *value = (const char *)b + *pos;
        *pos += n + 1;
    }
    return 1;
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
    if (s->env || s->headers) {
        put_identity(&w, s);
    }
    else if (s->ident) {
        /* a decoded record written back: its identity as it is */
        tlv_put(&w, S_IDENTITY, s->ident, s->ident_len);
    }
    else if (s->pairs) {
        /* a format-1 record written back: its pairs as they are (read by
         * this reader as well), last */
        raw_put(&w, s->pairs, s->pairs_len);
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
    /* format 1 (pairs in tag 32-35 fields) is read as well */
    if (tpo_tlv_open(&r, buf, len, SESSION_MAGIC, TPO_SESSION_VERSION) != APR_SUCCESS &&
        tpo_tlv_open(&r, buf, len, SESSION_MAGIC, 1) != APR_SUCCESS) {
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
        case S_IDENTITY:
            if (out->ident) {
                return APR_EINVAL;
            }
            out->ident = data;
            out->ident_len = dlen;
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
        if (out->ident) {
            return APR_EINVAL; /* one or the other */
        }
    }
    if (out->ident) {
        apr_size_t pos = 0;
        const char *n, *v;
        int hdr;
        while ((rc = id_next(out, &pos, &hdr, &n, &v)) == 1) {
        }
        if (rc < 0) {
            return APR_EINVAL;
        }
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

    if (s->ident) {
        apr_size_t pos = 0;
        const char *n, *v;
        int hdr, want_hdr = kind == TPO_SESSION_PAIRS_HEADERS;
        while (id_next(s, &pos, &hdr, &n, &v) == 1) {
            if (hdr == want_hdr) {
                fn(baton, n, v);
            }
            else if (!want_hdr) {
                break; /* the variables come first */
            }
        }
        return;
    }
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
