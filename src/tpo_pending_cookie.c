/* SPDX-License-Identifier: Apache-2.0
 * Licensed under the Apache License, Version 2.0 (see LICENSE). */
/* Sealing pending logins into the browser's login cookie (AES-256-GCM). */
#include <stdint.h>
#include <string.h>
#include <apr_strings.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include "tpo_b64.h"
#include "tpo_evp.h"
#include "tpo_pending_cookie.h"
#include "tpo_pkce.h"

#define PC_VERSION 0x01
#define PC_IV 12
#define PC_TAG 16
#define PC_SALT "mod_tp_oauth pending-login salt v1"
#define PC_LABEL "mod_tp_oauth login cookie AES-256-GCM v1"
#define PC_AAD "tpo-login-v1"
#define PC_BIND_LABEL "mod_tp_oauth login cookie binding v1"
#define PC_SCAN_MAX 64
#define LOGIN_INFIX "_login_"

apr_status_t tpo_pending_key_derive(const void *secret, apr_size_t len, tpo_pending_key *key)
{
    EVP_KDF *kdf;
    EVP_KDF_CTX *kctx;
    OSSL_PARAM params[5];
    int ok = 0;

    if (!secret || len < TPO_PENDING_SECRET_MIN || len > TPO_PENDING_SECRET_MAX) {
        return APR_EINVAL;
    }
    kdf = EVP_KDF_fetch(NULL, "HKDF", NULL);
    kctx = kdf ? EVP_KDF_CTX_new(kdf) : NULL;
    if (kctx) {
        params[0] = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, (char *)"SHA256", 0);
        params[1] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, (void *)secret, len);
        params[2] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, (void *)PC_SALT,
                                                      sizeof(PC_SALT) - 1);
        params[3] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, (void *)PC_LABEL,
                                                      sizeof(PC_LABEL) - 1);
        params[4] = OSSL_PARAM_construct_end();
        ok = EVP_KDF_derive(kctx, key->k, sizeof(key->k), params) == 1;
    }
    EVP_KDF_CTX_free(kctx);
    EVP_KDF_free(kdf);
    return ok ? APR_SUCCESS : APR_EGENERAL;
}

apr_status_t tpo_pending_key_random(tpo_pending_key *key)
{
    return tpo_random_bytes(key->k, sizeof(key->k));
}

const char *tpo_pending_secret_problem(const unsigned char *buf, apr_size_t len)
{
    apr_size_t i, n = len;

    if (!buf || len < TPO_PENDING_SECRET_MIN || len > TPO_PENDING_SECRET_MAX) {
        return "it must hold 32 to 4096 bytes of random data";
    }
    /* a final newline (echo, an editor) says nothing about the rest */
    if (n && buf[n - 1] == '\n')
        n--;
    if (n && buf[n - 1] == '\r')
        n--;
    for (i = 0; i < n; i++) {
        if (buf[i] < 0x20 || buf[i] > 0x7e) {
            return NULL;
        }
    }
    if (n < TPO_PENDING_SECRET_TEXT_MIN) {
        return "it looks like a passphrase (printable text shorter than 43 characters), "
               "which can be guessed offline from any login cookie";
    }
    return NULL;
}

static void bind_field(EVP_MD_CTX *md, const char *s, int *ok)
{
    unsigned char len[4];
    apr_size_t n = s ? strlen(s) : 0;
    uint32_t v = s ? (uint32_t)n : 0xffffffffu;

    len[0] = (unsigned char)(v >> 24);
    len[1] = (unsigned char)(v >> 16);
    len[2] = (unsigned char)(v >> 8);
    len[3] = (unsigned char)v;
    *ok = *ok && EVP_DigestUpdate(md, len, 4) == 1 && (!n || EVP_DigestUpdate(md, s, n) == 1);
}

apr_status_t tpo_pending_binding_make(const char *issuer, const char *client_id,
                                      const char *redirect_uri, const char *server_name,
                                      tpo_pending_binding *out)
{
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    unsigned int olen = 0;
    int ok = md && EVP_DigestInit_ex(md, tpo_evp_sha256(), NULL) == 1 &&
             EVP_DigestUpdate(md, PC_BIND_LABEL, sizeof(PC_BIND_LABEL)) == 1;

    bind_field(md, issuer, &ok);
    bind_field(md, client_id, &ok);
    bind_field(md, redirect_uri, &ok);
    bind_field(md, server_name, &ok);
    ok = ok && EVP_DigestFinal_ex(md, out->b, &olen) == 1 && olen == sizeof(out->b);
    EVP_MD_CTX_free(md);
    return ok ? APR_SUCCESS : APR_EGENERAL;
}

char *tpo_pending_seal(apr_pool_t *p, const tpo_pending_key *key, const tpo_pending_binding *bind,
                       const tpo_pending *pl)
{
    apr_size_t plen;
    const char *plain = tpo_pending_encode(p, pl, &plen);
    unsigned char *out = apr_palloc(p, 1 + PC_IV + plen + PC_TAG);
    unsigned char *ct = out + 1 + PC_IV;
    EVP_CIPHER_CTX *ctx;
    int len = 0, fin = 0, ok;

    out[0] = PC_VERSION;
    if (tpo_random_bytes(out + 1, PC_IV) != APR_SUCCESS) {
        return NULL;
    }
    ctx = EVP_CIPHER_CTX_new();
    ok = ctx && EVP_EncryptInit_ex2(ctx, tpo_evp_aes256gcm(), key->k, out + 1, NULL) == 1 &&
         EVP_EncryptUpdate(ctx, NULL, &len, (const unsigned char *)PC_AAD, sizeof(PC_AAD) - 1) ==
             1 &&
         EVP_EncryptUpdate(ctx, NULL, &len, bind->b, sizeof(bind->b)) == 1 &&
         EVP_EncryptUpdate(ctx, NULL, &len, out, 1) == 1 &&
         EVP_EncryptUpdate(ctx, ct, &len, (const unsigned char *)plain, (int)plen) == 1 &&
         EVP_EncryptFinal_ex(ctx, ct + len, &fin) == 1 && (apr_size_t)(len + fin) == plen &&
         EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_GET_TAG, PC_TAG, ct + plen) == 1;
    EVP_CIPHER_CTX_free(ctx);
    OPENSSL_cleanse((void *)plain, plen); /* it holds the code_verifier */
    if (!ok) {
        return NULL;
    }
    return tpo_b64url_encode(p, out, 1 + PC_IV + plen + PC_TAG);
}

apr_status_t tpo_pending_open(apr_pool_t *p, const tpo_pending_key *key,
                              const tpo_pending_binding *bind, const char *val, apr_size_t vlen,
                              tpo_pending *out)
{
    unsigned char *raw, *ct, *plain;
    apr_size_t rlen, ctlen;
    EVP_CIPHER_CTX *ctx;
    int len = 0, fin = 0, ok;

    memset(out, 0, sizeof(*out));
    /* a login cookie is a few hundred bytes; anything near 4 KB is not ours */
    if (!val || vlen > 4096) {
        return APR_EINVAL;
    }
    raw = tpo_b64url_decode(p, val, vlen, &rlen);
    if (!raw || rlen < 1 + PC_IV + PC_TAG + 1 || raw[0] != PC_VERSION) {
        return APR_EINVAL;
    }
    ct = raw + 1 + PC_IV;
    ctlen = rlen - 1 - PC_IV - PC_TAG;
    plain = apr_palloc(p, ctlen + 1);
    ctx = EVP_CIPHER_CTX_new();
    ok = ctx && EVP_DecryptInit_ex2(ctx, tpo_evp_aes256gcm(), key->k, raw + 1, NULL) == 1 &&
         EVP_DecryptUpdate(ctx, NULL, &len, (const unsigned char *)PC_AAD, sizeof(PC_AAD) - 1) ==
             1 &&
         EVP_DecryptUpdate(ctx, NULL, &len, bind->b, sizeof(bind->b)) == 1 &&
         EVP_DecryptUpdate(ctx, NULL, &len, raw, 1) == 1 &&
         EVP_DecryptUpdate(ctx, plain, &len, ct, (int)ctlen) == 1 &&
         EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_TAG, PC_TAG, ct + ctlen) == 1 &&
         EVP_DecryptFinal_ex(ctx, plain + len, &fin) == 1 && (apr_size_t)(len + fin) == ctlen;
    EVP_CIPHER_CTX_free(ctx);
    if (!ok) {
        OPENSSL_cleanse(plain, ctlen);
        return APR_EINVAL;
    }
    plain[ctlen] = '\0';
    return tpo_pending_decode(p, (const char *)plain, ctlen, out);
}

/* 8 characters of base64url(SHA-256(state)): 48 bits tell apart the few
 * logins one browser has in progress. */
static int state_tag(apr_pool_t *p, const char *state, char tag[TPO_PENDING_TAG_LEN + 1])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    char *b;

    if (EVP_Digest(state, strlen(state), md, &mdlen, tpo_evp_sha256(), NULL) != 1 || mdlen < 6) {
        return 0;
    }
    b = tpo_b64url_encode(p, md, 6);
    if (!b || strlen(b) != TPO_PENDING_TAG_LEN) {
        return 0;
    }
    memcpy(tag, b, TPO_PENDING_TAG_LEN + 1);
    return 1;
}

char *tpo_pending_cookie_name(apr_pool_t *p, const char *base, const char *state)
{
    char tag[TPO_PENDING_TAG_LEN + 1];

    if (!state_tag(p, state, tag)) {
        return NULL;
    }
    return apr_pstrcat(p, base, LOGIN_INFIX, tag, NULL);
}

/* Cookie header iteration: name/value pairs separated by ';'. */
static const char *next_pair(const char *s, const char **name, apr_size_t *nlen, const char **val,
                             apr_size_t *vlen)
{
    const char *e, *eq;

    while (*s == ' ' || *s == '\t' || *s == ';') {
        s++;
    }
    if (!*s) {
        return NULL;
    }
    e = strchr(s, ';');
    if (!e) {
        e = s + strlen(s);
    }
    eq = memchr(s, '=', (apr_size_t)(e - s));
    *name = s;
    *nlen = eq ? (apr_size_t)(eq - s) : 0;
    *val = eq ? eq + 1 : e;
    *vlen = eq ? (apr_size_t)(e - eq - 1) : 0;
    while (*vlen && ((*val)[*vlen - 1] == ' ' || (*val)[*vlen - 1] == '\t')) {
        (*vlen)--;
    }
    return e;
}

static int is_login_cookie(const char *name, apr_size_t nlen, const char *base)
{
    apr_size_t blen = strlen(base), ilen = sizeof(LOGIN_INFIX) - 1;

    return nlen == blen + ilen + TPO_PENDING_TAG_LEN && !strncmp(name, base, blen) &&
           !strncmp(name + blen, LOGIN_INFIX, ilen);
}

static int b64url_ok(const char *s)
{
    for (; *s; s++) {
        char c = *s;
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_')) {
            return 0;
        }
    }
    return 1;
}

tpo_pending_result tpo_pending_find(apr_pool_t *p, const tpo_pending_key *key,
                                    const tpo_pending_binding *bind, const char *header,
                                    const char *base, const char *state, const char *provider,
                                    apr_time_t now, tpo_pending *out, const char **cookie_name)
{
    const char *name, *val, *s;
    apr_size_t nlen, vlen;
    const char *want;

    *cookie_name = NULL;
    memset(out, 0, sizeof(*out));
    /* our states are 43 base64url characters; anything else was never issued */
    if (!state || !*state || strlen(state) > 128 || !b64url_ok(state)) {
        return TPO_PENDING_NO_COOKIE;
    }
    want = tpo_pending_cookie_name(p, base, state);
    if (!want) {
        return TPO_PENDING_NO_COOKIE;
    }
    *cookie_name = want;
    for (s = header; s && (s = next_pair(s, &name, &nlen, &val, &vlen)) != NULL;) {
        if (nlen == strlen(want) && !strncmp(name, want, nlen)) {
            break;
        }
    }
    if (!s) {
        return TPO_PENDING_NO_COOKIE;
    }
    if (tpo_pending_open(p, key, bind, val, vlen, out) != APR_SUCCESS) {
        return TPO_PENDING_BAD_COOKIE;
    }
    if (strcmp(out->state, state) != 0) {
        return TPO_PENDING_OTHER_STATE;
    }
    if (strcmp(out->provider, provider) != 0) {
        return TPO_PENDING_OTHER_PROVIDER;
    }
    if (now > out->expires) {
        return TPO_PENDING_EXPIRED;
    }
    return TPO_PENDING_OK;
}

const char *tpo_pending_result_text(tpo_pending_result res)
{
    switch (res) {
    case TPO_PENDING_OK:
        return "ok";
    case TPO_PENDING_NO_COOKIE:
        return "state does not belong to this browser: no login cookie for it (login "
               "started in another browser, cookies cleared, or dropped as the oldest of "
               "TPOAuthPendingLoginsPerBrowser)";
    case TPO_PENDING_BAD_COOKIE:
        return "login cookie does not open (tampered, truncated, sealed with another "
               "TPOAuthLoginCookieKeyFile key, or for another provider configuration: "
               "issuer, client_id, redirect URI or virtual host)";
    case TPO_PENDING_OTHER_STATE:
        return "login cookie holds another state";
    case TPO_PENDING_OTHER_PROVIDER:
        return "login was started for another provider";
    case TPO_PENDING_EXPIRED:
        return "pending login expired (TPOAuthLoginTimeout)";
    }
    return "unknown";
}

apr_array_header_t *tpo_pending_cookies(apr_pool_t *p, const tpo_pending_key *key,
                                        const char *header, const tpo_pending_base *bases,
                                        int nbases, apr_time_t now)
{
    apr_array_header_t *a = apr_array_make(p, 8, sizeof(tpo_pending_slot));
    const char *name, *val, *s;
    apr_size_t nlen, vlen;
    int i, b, seen;

    for (s = header;
         s && a->nelts < PC_SCAN_MAX && (s = next_pair(s, &name, &nlen, &val, &vlen)) != NULL;) {
        tpo_pending_slot *slot;
        tpo_pending pl;
        char *n;

        for (b = 0; b < nbases && !is_login_cookie(name, nlen, bases[b].name); b++)
            ;
        if (b == nbases) {
            continue;
        }
        n = apr_pstrmemdup(p, name, nlen);
        for (i = 0, seen = 0; i < a->nelts && !seen; i++) {
            seen = !strcmp(APR_ARRAY_IDX(a, i, tpo_pending_slot).name, n);
        }
        if (seen) {
            continue;
        }
        slot = apr_array_push(a);
        slot->name = n;
        slot->size = nlen + 1 + vlen;
        slot->drop = 0;
        slot->created = 0;
        slot->own = bases[b].own;
        slot->ctx = bases[b].ctx;
        /* the providers sharing this cookie name, until one opens it */
        for (; b < nbases; b++) {
            if (!is_login_cookie(name, nlen, bases[b].name)) {
                continue;
            }
            if (bases[b].own && !slot->own) {
                slot->own = 1;
                slot->ctx = bases[b].ctx;
            }
            if (tpo_pending_open(p, key, bases[b].bind, val, vlen, &pl) == APR_SUCCESS) {
                slot->own = bases[b].own;
                slot->ctx = bases[b].ctx;
                if (now <= pl.expires && pl.created > 0) {
                    slot->created = pl.created;
                }
                break;
            }
        }
    }
    return a;
}

int tpo_pending_cookies_trim(apr_array_header_t *slots, int max, apr_size_t new_size,
                             apr_size_t max_bytes, tpo_pending_trim_stats *st)
{
    apr_size_t total = new_size;
    int i, n = 0, kept = 0, kept_own = 0;
    tpo_pending_trim_stats dummy;

    if (!st) {
        st = &dummy;
    }
    memset(st, 0, sizeof(*st));
    for (i = 0; i < slots->nelts; i++) {
        tpo_pending_slot *s = &APR_ARRAY_IDX(slots, i, tpo_pending_slot);
        s->drop = 0;
        if (s->created == 0) { /* does not open or expired: always goes */
            s->drop = TPO_PENDING_DROP_UNUSABLE;
            st->unusable++;
            n++;
        }
        else {
            total += s->size;
            kept++;
            kept_own += s->own != 0;
        }
    }
    if (max < 1) {
        max = 1;
    }
    /* the oldest of this provider's own beyond the count, then the oldest of
     * any provider beyond the host's byte budget */
    while (kept > 0 && ((kept_own > 0 && kept_own + 1 > max) || total > max_bytes)) {
        int by_count = kept_own > 0 && kept_own + 1 > max;
        tpo_pending_slot *oldest = NULL;
        for (i = 0; i < slots->nelts; i++) {
            tpo_pending_slot *s = &APR_ARRAY_IDX(slots, i, tpo_pending_slot);
            if (!s->drop && (!by_count || s->own) && (!oldest || s->created < oldest->created)) {
                oldest = s;
            }
        }
        oldest->drop = by_count ? TPO_PENDING_DROP_COUNT : TPO_PENDING_DROP_SIZE;
        if (by_count) {
            st->count++;
        }
        else {
            st->size++;
        }
        total -= oldest->size;
        kept--;
        kept_own -= oldest->own != 0;
        n++;
    }
    return n;
}
