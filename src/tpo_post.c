/* SPDX-License-Identifier: Apache-2.0
 * Licensed under the Apache License, Version 2.0 (see LICENSE). */
/* A form POST kept across a login: limits, form types, the replay body,
 * the record codec and the replay page (see tpo_post.h). */
#include <string.h>
#include <strings.h>
#include <apr_strings.h>
#include "tpo_post.h"
#include "tpo_origin.h"
#include "tpo_tlv.h"
#include "tpo_url.h"

#define LIMIT_SYNTAX "expects off or a size in bytes (K and M suffixes allowed)"

const char *tpo_post_limit_parse(const char *arg, long *out)
{
    const char *s = arg;
    long long v = 0;
    int digits = 0;

    if (!arg || !*arg) {
        return LIMIT_SYNTAX;
    }
    if (!strcasecmp(arg, "off")) {
        *out = 0;
        return NULL;
    }
    for (; *s >= '0' && *s <= '9'; s++) {
        v = v * 10 + (*s - '0');
        digits++;
        if (v > TPO_POST_MAX_BYTES) {
            v = TPO_POST_MAX_BYTES + 1LL; /* stays too large whatever follows */
        }
    }
    if (!digits) {
        return LIMIT_SYNTAX;
    }
    if (*s == 'k' || *s == 'K') {
        v *= 1024;
        s++;
    }
    else if (*s == 'm' || *s == 'M') {
        v *= 1024 * 1024;
        s++;
    }
    if (*s) {
        return LIMIT_SYNTAX;
    }
    if (v < 1 || v > TPO_POST_MAX_BYTES) {
        return "the size must be between 1 byte and 512K";
    }
    *out = (long)v;
    return NULL;
}

/* Does Content-Type ct name media type t (case-insensitively; parameters
 * after ';' and spaces before it allowed)? */
static int media_type_is(const char *ct, const char *t)
{
    apr_size_t n = strlen(t);

    while (*ct == ' ' || *ct == '\t') {
        ct++;
    }
    if (strncasecmp(ct, t, n) != 0) {
        return 0;
    }
    ct += n;
    while (*ct == ' ' || *ct == '\t') {
        ct++;
    }
    return *ct == '\0' || *ct == ';';
}

int tpo_post_form_type(const char *content_type)
{
    if (!content_type) {
        return TPO_POST_FORM_NONE;
    }
    if (media_type_is(content_type, "application/x-www-form-urlencoded")) {
        return TPO_POST_FORM_URLENCODED;
    }
    if (media_type_is(content_type, "multipart/form-data")) {
        return TPO_POST_FORM_MULTIPART;
    }
    return TPO_POST_FORM_NONE;
}

int tpo_post_same_origin(const char *sec_fetch_site, const char *origin, const char *referer,
                         const char *own_origin)
{
    if (!own_origin || !*own_origin) {
        return 0;
    }
    if (sec_fetch_site) {
        return strcasecmp(sec_fetch_site, "same-origin") == 0;
    }
    if (origin) {
        return strcasecmp(origin, own_origin) == 0;
    }
    return referer && tpo_url_same_origin(referer, own_origin);
}

static int b64url_char(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_';
}

int tpo_post_id_ok(const char *id)
{
    apr_size_t i;

    if (!id) {
        return 0;
    }
    for (i = 0; i < TPO_POST_ID_LEN; i++) {
        if (!b64url_char(id[i])) {
            return 0;
        }
    }
    return id[TPO_POST_ID_LEN] == '\0';
}

char *tpo_post_marker_body(apr_pool_t *p, const char *id)
{
    return apr_pstrcat(p, TPO_POST_FIELD "=", id, NULL);
}

const char *tpo_post_marker_id(apr_pool_t *p, const char *body, apr_size_t len)
{
    static const char prefix[] = TPO_POST_FIELD "=";
    char *id;

    if (!body || len != TPO_POST_MARKER_LEN || memcmp(body, prefix, sizeof(prefix) - 1) != 0) {
        return NULL;
    }
    id = apr_pstrmemdup(p, body + sizeof(prefix) - 1, TPO_POST_ID_LEN);
    return tpo_post_id_ok(id) ? id : NULL;
}

/* ---- the record */
enum { R_CREATED = 1, R_EXPIRES, R_URL = 16, R_CONTENT_TYPE, R_SESSION, R_BODY };

#define POST_VERSION 1
static const char POST_MAGIC[3] = {'T', 'P', 'P'};

char *tpo_post_encode(apr_pool_t *p, const tpo_post_rec *rec, apr_size_t *len)
{
    tpo_tlv_writer w;

    tpo_tlv_init(&w, p, POST_MAGIC, POST_VERSION);
    tpo_tlv_put_time(&w, R_CREATED, rec->created);
    tpo_tlv_put_time(&w, R_EXPIRES, rec->expires);
    tpo_tlv_put_str(&w, R_URL, rec->url);
    tpo_tlv_put_str(&w, R_CONTENT_TYPE, rec->content_type);
    tpo_tlv_put_str(&w, R_SESSION, rec->session);
    tpo_tlv_put_bytes(&w, R_BODY, rec->body ? rec->body : "", rec->body ? rec->body_len : 0);
    *len = w.len;
    return w.buf;
}

apr_status_t tpo_post_decode(apr_pool_t *p, const char *buf, apr_size_t len, tpo_post_rec *out)
{
    tpo_tlv_reader r;
    unsigned char tag;
    const char *data;
    apr_size_t dlen;
    apr_status_t st = APR_SUCCESS;
    int rc, have_body = 0;

    memset(out, 0, sizeof(*out));
    if (tpo_tlv_open(&r, buf, len, POST_MAGIC, POST_VERSION) != APR_SUCCESS) {
        return APR_EINVAL;
    }
    while ((rc = tpo_tlv_next(&r, &tag, &data, &dlen)) == 1) {
        switch (tag) {
        case R_CREATED:
            st = tpo_tlv_time(data, dlen, &out->created);
            break;
        case R_EXPIRES:
            st = tpo_tlv_time(data, dlen, &out->expires);
            break;
        case R_URL:
            st = tpo_tlv_str(data, dlen, &out->url);
            break;
        case R_CONTENT_TYPE:
            st = tpo_tlv_str(data, dlen, &out->content_type);
            break;
        case R_SESSION:
            st = tpo_tlv_str(data, dlen, &out->session);
            break;
        case R_BODY:
            /* a NUL-terminated copy: the bytes are any bytes */
            out->body = apr_pstrmemdup(p, data, dlen);
            out->body_len = dlen;
            have_body = 1;
            break;
        default:
            break;
        }
        if (st != APR_SUCCESS) {
            return APR_EINVAL;
        }
    }
    if (rc < 0 || !out->url || !out->content_type || !have_body || !out->expires ||
        out->body_len > TPO_POST_MAX_BYTES) {
        return APR_EINVAL;
    }
    return APR_SUCCESS;
}

/* ---- the page */
static int nonce_ok(const char *nonce)
{
    const char *c;

    if (!nonce || !*nonce) {
        return 0;
    }
    for (c = nonce; *c; c++) {
        if (!b64url_char(*c)) {
            return 0;
        }
    }
    return 1;
}

char *tpo_post_page(apr_pool_t *p, const char *action, const tpo_form_field *fields, int nfields,
                    const char *nonce)
{
    char *inputs = "";
    const char *script = "";
    int i;

    if (nonce_ok(nonce)) {
        script = apr_pstrcat(p, "<script nonce=\"", nonce,
                             "\">HTMLFormElement.prototype.submit.call(document.forms[0]);"
                             "</script>\n",
                             NULL);
    }

    for (i = 0; i < nfields; i++) {
        inputs = apr_pstrcat(p, inputs, "<input type=\"hidden\" name=\"",
                             tpo_html_escape(p, fields[i].name), "\" value=\"",
                             tpo_html_escape(p, fields[i].value), "\">\n", NULL);
    }
    return apr_pstrcat(
        p,
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>Sending your form"
        "</title></head>\n<body>\n<h1>Sending your form</h1>\n"
        "<form method=\"post\" action=\"",
        tpo_html_escape(p, action), "\" enctype=\"application/x-www-form-urlencoded\">\n", inputs,
        "<p>You are logged in. The form you sent before the login is being sent again.</p>\n"
        "<p>If nothing happens, press the button.</p>\n"
        "<button type=\"submit\">Send the form</button>\n</form>\n",
        script, "</body></html>\n", NULL);
}

char *tpo_post_page_csp(apr_pool_t *p, const char *nonce)
{
    if (!nonce_ok(nonce)) {
        return apr_pstrdup(p, "default-src 'none'; base-uri 'none'; frame-ancestors 'none'");
    }
    return apr_pstrcat(p, "default-src 'none'; script-src 'nonce-", nonce,
                       "'; base-uri 'none'; frame-ancestors 'none'", NULL);
}
