/* SPDX-License-Identifier: Apache-2.0
 * Licensed under the Apache License, Version 2.0 (see LICENSE). */
/* A form POST kept across a login (see mod_tp_oauth_post.h): keep it when
 * a login starts, bind it to the new session at the callback, put it in
 * place of the replay body, once. */
#include <string.h>
#include <apr_strings.h>
#include "mod_tp_oauth_post.h"
#include "tpo_nav.h"
#include "tpo_pending_cookie.h"
#include "tpo_pkce.h"
#include "tpo_post.h"
#include "tpo_url.h"

tpo_cache *tpa_post_cache;

#define READ_CHUNK 8192

static tpa_post_result failed(tpa_answer *fail, int status, const char *title, const char *detail)
{
    fail->status = status;
    fail->title = title;
    fail->detail = detail;
    return TPA_POST_FAILED;
}

static const char *post_key(request_rec *r, const char *id)
{
    return apr_pstrcat(r->pool, TPO_KEY_POST, id, NULL);
}

/* The request body, at most `limit` bytes: APR_SUCCESS with *buf (NUL
 * added) and *len, APR_ENOSPC when it is longer, else the read error. */
static apr_status_t read_body(request_rec *r, apr_size_t limit, char **buf, apr_size_t *len)
{
    apr_bucket_brigade *bb = apr_brigade_create(r->pool, r->connection->bucket_alloc);
    apr_size_t cap = 1024, n = 0;
    char *out = apr_palloc(r->pool, cap + 1);
    int eos = 0;
    apr_status_t rv;

    while (!eos) {
        apr_bucket *b;

        rv = ap_get_brigade(r->input_filters, bb, AP_MODE_READBYTES, APR_BLOCK_READ, READ_CHUNK);
        if (rv != APR_SUCCESS) {
            return rv;
        }
        if (APR_BRIGADE_EMPTY(bb)) {
            return APR_EGENERAL; /* a filter must return data or an error */
        }
        for (b = APR_BRIGADE_FIRST(bb); b != APR_BRIGADE_SENTINEL(bb); b = APR_BUCKET_NEXT(b)) {
            const char *data;
            apr_size_t dlen;

            if (APR_BUCKET_IS_EOS(b)) {
                eos = 1;
                break;
            }
            if (APR_BUCKET_IS_METADATA(b)) {
                continue;
            }
            if ((rv = apr_bucket_read(b, &data, &dlen, APR_BLOCK_READ)) != APR_SUCCESS) {
                return rv;
            }
            if (dlen > limit - n) {
                apr_brigade_cleanup(bb);
                return APR_ENOSPC;
            }
            if (n + dlen > cap) {
                char *bigger;
                while (n + dlen > cap) {
                    cap *= 2;
                }
                cap = cap > limit ? limit : cap;
                bigger = apr_palloc(r->pool, cap + 1);
                memcpy(bigger, out, n);
                out = bigger;
            }
            memcpy(out + n, data, dlen);
            n += dlen;
        }
        apr_brigade_cleanup(bb);
    }
    out[n] = '\0';
    *buf = out;
    *len = n;
    return APR_SUCCESS;
}

/* What the input filter still has to hand out. */
typedef struct body_left {
    const char *data;
    apr_size_t len;
} body_left;

/* The application reads `data` as the request's body. */
static void body_replace(request_rec *r, const char *data, apr_size_t len)
{
    body_left *ctx = apr_palloc(r->pool, sizeof(*ctx));

    ctx->data = data;
    ctx->len = len;
    apr_table_setn(r->headers_in, "Content-Length", apr_psprintf(r->pool, "%" APR_SIZE_T_FMT, len));
    apr_table_unset(r->headers_in, "Transfer-Encoding");
    ap_add_input_filter(TPA_POST_FILTER, ctx, r, r->connection);
}

apr_status_t tpa_post_body_filter(ap_filter_t *f, apr_bucket_brigade *bb, ap_input_mode_t mode,
                                  apr_read_type_e block, apr_off_t readbytes)
{
    body_left *ctx = f->ctx;
    apr_size_t n;

    if (!ctx) {
        ap_remove_input_filter(f);
        return ap_get_brigade(f->next, bb, mode, block, readbytes);
    }
    if (mode != AP_MODE_READBYTES && mode != AP_MODE_SPECULATIVE) {
        return APR_ENOTIMPL;
    }
    n = ctx->len;
    if (readbytes > 0 && (apr_off_t)n > readbytes) {
        n = (apr_size_t)readbytes;
    }
    if (n) {
        APR_BRIGADE_INSERT_TAIL(bb, apr_bucket_heap_create(ctx->data, n, NULL, f->c->bucket_alloc));
    }
    if (mode == AP_MODE_READBYTES) {
        ctx->data += n;
        ctx->len -= n;
        if (ctx->len == 0) {
            APR_BRIGADE_INSERT_TAIL(bb, apr_bucket_eos_create(f->c->bucket_alloc));
        }
    }
    else if (n == 0) {
        APR_BRIGADE_INSERT_TAIL(bb, apr_bucket_eos_create(f->c->bucket_alloc));
    }
    return APR_SUCCESS;
}

/* A number in Content-Length, or -1 (absent or not a number) */
static apr_off_t content_length(request_rec *r)
{
    const char *cl = apr_table_get(r->headers_in, "Content-Length");
    apr_off_t v;
    char *end;

    if (!cl || apr_strtoff(&v, cl, &end, 10) != APR_SUCCESS || end == cl || *end || v < 0) {
        return -1;
    }
    return v;
}

tpa_post_result tpa_post_keep(request_rec *r, tpa_provider_conf *pc, long limit, tpa_answer *fail)
{
    const char *ct = apr_table_get(r->headers_in, "Content-Type");
    apr_off_t cl = content_length(r);
    tpo_post_rec rec;
    char *body, *id, *val;
    apr_size_t len, vlen;
    apr_status_t rv;

    if (r->method_number != M_POST || !tpa_post_cache || !ap_is_initial_req(r) ||
        !tpo_is_form_navigation(apr_table_get(r->headers_in, "X-Requested-With"),
                                apr_table_get(r->headers_in, "Sec-Fetch-Mode"),
                                apr_table_get(r->headers_in, "Sec-Fetch-Dest"),
                                apr_table_get(r->headers_in, "Accept"))) {
        return TPA_POST_NONE;
    }
    if (!tpo_post_same_origin(apr_table_get(r->headers_in, "Sec-Fetch-Site"),
                              apr_table_get(r->headers_in, "Origin"),
                              apr_table_get(r->headers_in, "Referer"), tpa_request_url(r, ""))) {
        /* a form another site sent: if kept, it would come back with the session */
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r,
                      TPO_APLOGNO(01015) "POST without a session is not kept across the login: it "
                                         "was not sent from a page of this server's origin "
                                         "(Sec-Fetch-Site, Origin, Referer)");
        return TPA_POST_NONE;
    }
    if (tpo_post_form_type(ct) == TPO_POST_FORM_NONE) {
        ap_log_rerror(
            APLOG_MARK, APLOG_INFO, 0, r,
            TPO_APLOGNO(01000) "POST without a session is not kept across the login: "
                               "Content-Type %s is not a form (TPOAuthPreservePost keeps "
                               "application/x-www-form-urlencoded and multipart/form-data)",
            ct ? ap_escape_logitem(r->pool, ct) : "(none)");
        return TPA_POST_NONE;
    }
    if (!tpo_return_url_is_local(r->unparsed_uri)) {
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r,
                      TPO_APLOGNO(01001) "POST without a session is not kept across the login: its "
                                         "URL is not a local path");
        return TPA_POST_NONE;
    }
    if (cl > limit) {
        rv = APR_ENOSPC;
    }
    else {
        rv = read_body(r, (apr_size_t)limit, &body, &len);
    }
    if (rv == APR_ENOSPC) {
        ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r,
                      TPO_APLOGNO(01002) "POST without a session refused: its body is larger than "
                                         "TPOAuthPreservePost (%ld bytes), so it cannot be kept "
                                         "across the login",
                      limit);
        return failed(fail, HTTP_REQUEST_ENTITY_TOO_LARGE, "Form too large",
                      "You need to log in again, and the form you sent is too large to be "
                      "kept until then. Please log in, then fill in the form again.");
    }
    if (rv != APR_SUCCESS) {
        ap_log_rerror(APLOG_MARK, APLOG_INFO, rv, r,
                      TPO_APLOGNO(01003) "POST without a session: its body could not be read");
        return failed(fail, HTTP_BAD_REQUEST, "Bad request", "The form could not be read.");
    }
    if (tpo_post_marker_id(r->pool, body, len)) {
        /* a replay that lost its session on the way: nothing to keep */
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r,
                      TPO_APLOGNO(01004) "replay of a kept POST without a session (the session "
                                         "cookie did not come back): not kept again");
        return TPA_POST_NONE;
    }
    if (tpo_random_token(r->pool, 32, &id) != APR_SUCCESS) {
        return failed(fail, HTTP_INTERNAL_SERVER_ERROR, "Login unavailable",
                      "No randomness available.");
    }
    memset(&rec, 0, sizeof(rec));
    rec.created = r->request_time;
    /* as long as the pending login, and its cookie's grace */
    rec.expires =
        r->request_time + apr_time_from_sec(pc->login_timeout + TPO_PENDING_COOKIE_GRACE_SEC);
    rec.url = r->unparsed_uri;
    rec.content_type = ct;
    rec.body = body;
    rec.body_len = len;
    val = tpo_post_encode(r->pool, &rec, &vlen);
    rv = tpo_cache_set(tpa_post_cache, post_key(r, id), val, vlen, rec.expires);
    if (rv == APR_ENOSPC) {
        ap_log_rerror(
            APLOG_MARK, APLOG_WARNING, 0, r,
            TPO_APLOGNO(01005) "POST without a session refused: its body (%" APR_SIZE_T_FMT
                               " bytes) does not fit in the store of kept POSTs",
            len);
        return failed(fail, HTTP_REQUEST_ENTITY_TOO_LARGE, "Form too large",
                      "You need to log in again, and the form you sent is too large to be "
                      "kept until then. Please log in, then fill in the form again.");
    }
    if (rv != APR_SUCCESS) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, rv, r,
                      TPO_APLOGNO(01006) "POST without a session: cannot keep it across the login "
                                         "(cache write failed)");
        return failed(fail, HTTP_SERVICE_UNAVAILABLE, "Session store unavailable",
                      "Your form cannot be kept right now. Please try again in a moment.");
    }
    ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r,
                  TPO_APLOGNO(01007) "POST without a session: %" APR_SIZE_T_FMT
                                     " bytes kept for after the login",
                  len);
    apr_table_setn(r->notes, TPO_NOTE_POST_ID, id);
    return TPA_POST_KEPT;
}

/* The kept POST under id (APR_NOTFOUND when absent, expired or unreadable) */
static apr_status_t post_load(request_rec *r, const char *id, tpo_post_rec *rec)
{
    char *val;
    apr_size_t vlen;
    apr_status_t rv;

    if (!tpa_post_cache || !tpo_post_id_ok(id)) {
        return APR_NOTFOUND;
    }
    rv = tpo_cache_get(tpa_post_cache, post_key(r, id), r->pool, &val, &vlen);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    if (tpo_post_decode(r->pool, val, vlen, rec) != APR_SUCCESS ||
        rec->expires <= r->request_time) {
        return APR_NOTFOUND;
    }
    return APR_SUCCESS;
}

apr_status_t tpa_post_resume(request_rec *r, tpa_provider_conf *pc, const char *id, const char *sid,
                             const char **html, const char **csp)
{
    tpo_post_rec rec;
    tpo_form_field field;
    char *val, *nonce;
    apr_size_t vlen;
    apr_status_t rv;

    rv = post_load(r, id, &rec);
    if (rv == APR_SUCCESS && !rec.session) {
        rec.session = tpa_session_handle(r->pool, sid);
        /* time to press the button when scripts are off */
        rec.expires = apr_time_now() + apr_time_from_sec(pc->login_timeout);
        val = tpo_post_encode(r->pool, &rec, &vlen);
        rv = rec.session ? tpo_cache_set(tpa_post_cache, post_key(r, id), val, vlen, rec.expires)
                         : APR_EGENERAL;
    }
    else if (rv == APR_SUCCESS) {
        rv = APR_EEXIST; /* bound already: not by this login */
    }
    if (rv == APR_SUCCESS && tpo_random_token(r->pool, 16, &nonce) != APR_SUCCESS) {
        rv = APR_EGENERAL;
    }
    if (rv != APR_SUCCESS) {
        ap_log_rerror(
            APLOG_MARK, rv == APR_NOTFOUND ? APLOG_WARNING : APLOG_ERR, rv, r,
            TPO_APLOGNO(01008) "provider %s: the form POST kept for this login is %s: the "
                               "browser goes back to the page without it",
            pc->name,
            rv == APR_NOTFOUND ? "gone (expired, or pushed out of the store)"
                               : "unusable (store failure)");
        return rv;
    }
    field.name = TPO_POST_FIELD;
    field.value = id;
    *html = tpo_post_page(r->pool, rec.url, &field, 1, nonce);
    *csp = tpo_post_page_csp(r->pool, nonce);
    ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r,
                  TPO_APLOGNO(01009) "provider %s: replaying the form POST kept for this login "
                                     "(%" APR_SIZE_T_FMT " bytes)",
                  pc->name, rec.body_len);
    return APR_SUCCESS;
}

static int refuse(request_rec *r, tpa_answer *fail, const char *why)
{
    ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r,
                  TPO_APLOGNO(01010) "replay of a kept form POST refused: %s", why);
    failed(fail, HTTP_BAD_REQUEST, "Form already sent",
           "This form was already sent after your login, or it has expired. Please go back "
           "and fill it in again.");
    return HTTP_BAD_REQUEST;
}

int tpa_post_replay(request_rec *r, tpa_answer *fail)
{
    apr_off_t cl = content_length(r);
    const char *id, *sid = tpa_req_get(r)->sid, *handle;
    tpo_post_rec rec;
    char *body;
    apr_size_t len;
    apr_status_t rv;

    /* only a body of exactly the replay's size and type is looked at */
    if (r->method_number != M_POST || !ap_is_initial_req(r) ||
        cl != (apr_off_t)TPO_POST_MARKER_LEN || apr_table_get(r->headers_in, "Transfer-Encoding") ||
        tpo_post_form_type(apr_table_get(r->headers_in, "Content-Type")) !=
            TPO_POST_FORM_URLENCODED) {
        return OK;
    }
    rv = read_body(r, TPO_POST_MARKER_LEN, &body, &len);
    if (rv != APR_SUCCESS) {
        ap_log_rerror(APLOG_MARK, APLOG_INFO, rv, r,
                      TPO_APLOGNO(01011) "POST body could not be read");
        failed(fail, HTTP_BAD_REQUEST, "Bad request", "The form could not be read.");
        return HTTP_BAD_REQUEST;
    }
    id = tpo_post_marker_id(r->pool, body, len);
    if (!id) {
        /* the application's own body: given back untouched */
        body_replace(r, body, len);
        return OK;
    }
    rv = post_load(r, id, &rec);
    if (rv == APR_NOTFOUND) {
        return refuse(r, fail, "unknown, expired or already replayed");
    }
    if (rv != APR_SUCCESS) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, rv, r,
                      TPO_APLOGNO(01012) "replay of a kept form POST: the store cannot be read");
        failed(fail, HTTP_SERVICE_UNAVAILABLE, "Session store unavailable",
               "Your form cannot be sent right now. Please reload this page in a moment.");
        return HTTP_SERVICE_UNAVAILABLE;
    }
    handle = sid ? tpa_session_handle(r->pool, sid) : NULL;
    if (!rec.session || !handle || strcmp(rec.session, handle) != 0) {
        return refuse(r, fail, "it was kept for another session");
    }
    if (strcmp(rec.url, r->unparsed_uri) != 0) {
        return refuse(r, fail, "it was kept for another URL");
    }
    /* one use: whoever removes it replays it */
    rv = tpo_cache_del(tpa_post_cache, post_key(r, id));
    if (rv == APR_NOTFOUND) {
        return refuse(r, fail, "already replayed");
    }
    if (rv != APR_SUCCESS) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, rv, r,
                      TPO_APLOGNO(01013) "replay of a kept form POST: the store cannot be written");
        failed(fail, HTTP_SERVICE_UNAVAILABLE, "Session store unavailable",
               "Your form cannot be sent right now. Please reload this page in a moment.");
        return HTTP_SERVICE_UNAVAILABLE;
    }
    apr_table_setn(r->headers_in, "Content-Type", rec.content_type);
    body_replace(r, rec.body, rec.body_len);
    ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r,
                  TPO_APLOGNO(01014) "form POST kept across the login replayed (%" APR_SIZE_T_FMT
                                     " bytes)",
                  rec.body_len);
    return OK;
}
