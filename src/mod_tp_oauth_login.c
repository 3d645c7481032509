/* SPDX-License-Identifier: Apache-2.0
 * Licensed under the Apache License, Version 2.0 (see LICENSE). */
/* The login flow. Start: a login cookie (sealed pending login) and the
 * redirect to the provider's authorization endpoint. Callback, at the
 * redirect URI: take the pending login (one use), exchange the code
 * with its code_verifier, validate the ID token, open a session and send the
 * browser back to the page it asked for. Every failure: one status, one page,
 * one log line naming the cause (never a token). */
#include <string.h>
#include <ctype.h>
#include <apr_strings.h>
#include "tpo_json.h"
#include "tpo_json_load.h"
#include "mod_tp_oauth_flows.h"
#include "mod_tp_oauth_metrics.h"
#include "tpo_claims.h"
#include "tpo_cookie.h"
#include "tpo_http.h"
#include "tpo_idtoken.h"
#include "tpo_jose.h"
#include "tpo_pending_cookie.h"
#include "tpo_pkce.h"
#include "tpo_provider.h"
#include "tpo_session.h"
#include "tpo_token.h"
#include "tpo_url.h"

#define MAX_CALLBACK_PARAMS 32
/* the provider's error= at the callback: d (access_denied), e (another) */
#define LOGIN_ERROR_NOTE "tpo-login-error"

/* The redirect_uri to send: configured absolute URL, or the configured path
 * on this server. */
static const char *redirect_uri_for(request_rec *r, tpa_provider_conf *pc)
{
    if (pc->redirect_uri[0] == '/') {
        return tpa_request_url(r, pc->redirect_uri);
    }
    return pc->redirect_uri;
}

static apr_status_t login_binding(request_rec *r, const tpa_provider_conf *pc,
                                  tpo_pending_binding *out)
{
    const char *issuer = pc->issuer          ? pc->issuer
                         : pc->discovery_url ? pc->discovery_url
                                             : pc->authorization_endpoint;

    /* a relative redirect URI is on whichever virtual host serves it: its
     * ServerName (configuration, not the Host header) tells them apart */
    return tpo_pending_binding_make(issuer, pc->client_id, pc->redirect_uri,
                                    pc->redirect_uri[0] == '/' ? r->server->server_hostname : NULL,
                                    out);
}

/* The login cookies of every provider of this virtual host: one byte budget
 * for all of them (they all travel in the same Cookie header). */
static apr_array_header_t *host_login_cookies(request_rec *r, tpa_provider_conf *own,
                                              const tpo_pending_binding *own_bind)
{
    tpa_server_conf *sc = tpa_config_server(r->server);
    apr_array_header_t *bases = apr_array_make(r->pool, 4, sizeof(tpo_pending_base));
    tpo_pending_base *b = apr_array_push(bases);
    apr_hash_index_t *hi;

    b->name = own->cookie_name;
    b->bind = own_bind;
    b->own = 1;
    b->ctx = own;
    for (hi = apr_hash_first(r->pool, sc->providers); hi; hi = apr_hash_next(hi)) {
        tpa_provider_conf *pc = apr_hash_this_val(hi);
        tpo_pending_binding *bind;

        if (pc == own) {
            continue;
        }
        bind = apr_palloc(r->pool, sizeof(*bind));
        if (login_binding(r, pc, bind) != APR_SUCCESS) {
            continue;
        }
        b = apr_array_push(bases);
        b->name = pc->cookie_name;
        b->bind = bind;
        b->own = 0;
        b->ctx = pc;
    }
    return tpo_pending_cookies(r->pool, &tpa_login_key, apr_table_get(r->headers_in, "Cookie"),
                               (const tpo_pending_base *)bases->elts, bases->nelts,
                               r->request_time);
}

/* A failure of the login start, for the caller to write. */
static int answer(tpa_answer *fail, int status, const char *title, const char *detail)
{
    fail->status = status;
    fail->title = title;
    fail->detail = detail;
    return status;
}

/* Start a login (writes no response: see mod_tp_oauth_flows.h). Nothing is
 * written on the server: the pending login goes into this browser's own
 * login cookie, sealed, so no other client's
 * requests can push it out. Per browser the oldest logins beyond
 * TPOAuthPendingLoginsPerBrowser, or beyond the byte budget of the login
 * cookies of all the host's providers together, are dropped. */
int tpa_login_start(request_rec *r, tpa_provider_conf *pc, tpa_answer *fail)
{
    const tpo_provider_meta *meta;
    tpa_rt_status rs;
    tpo_pending pl;
    tpo_pending_binding bind;
    tpo_pending_trim_stats st;
    const char *url, *name;
    char *state, *sealed;
    apr_array_header_t *slots;
    apr_size_t new_size;
    int i, dropped;
    long retry;

    rs = tpa_provider_meta_get(r, pc, &meta);
    /* a provider whose back channel failed gets no new users (issue 16) */
    if (tpa_provider_down_check(r, pc, &retry)) {
        apr_table_setn(r->err_headers_out, "Retry-After", apr_ltoa(r->pool, retry));
        return answer(fail, HTTP_SERVICE_UNAVAILABLE, "Login unavailable",
                      "The authorization server cannot be reached at the moment. "
                      "Please try again in a moment.");
    }
    if (rs != TPA_RT_OK) {
        return answer(fail, rs == TPA_RT_TIMEOUT ? HTTP_GATEWAY_TIME_OUT : HTTP_BAD_GATEWAY,
                      "Login unavailable",
                      "The authorization server's metadata could not be loaded. "
                      "Please try again in a moment.");
    }
    memset(&pl, 0, sizeof(pl));
    {
        /* state, the PKCE verifier (32 bytes, RFC 7636 4.1) and the nonce: one draw */
        char *tok[3];
        if (tpo_random_tokens(r->pool, 32, 3, tok) != APR_SUCCESS) {
            return answer(fail, HTTP_INTERNAL_SERVER_ERROR, "Login unavailable",
                          "No randomness available.");
        }
        state = tok[0];
        pl.code_verifier = tok[1];
        if (tpo_scope_has(pc->scope, "openid")) {
            pl.nonce = tok[2];
        }
    }
    pl.created = r->request_time;
    pl.expires = r->request_time + apr_time_from_sec(pc->login_timeout);
    pl.state = state;
    pl.provider = pc->name;
    pl.redirect_uri = redirect_uri_for(r, pc);
    pl.return_url = tpo_return_url_is_local(r->unparsed_uri) ? r->unparsed_uri : "/";
    if (strlen(pl.return_url) > TPO_PENDING_RETURN_URL_MAX) {
        ap_log_rerror(
            APLOG_MARK, APLOG_INFO, 0, r,
            TPO_APLOGNO(00015) "return URL longer than %d bytes: this login will return to /",
            TPO_PENDING_RETURN_URL_MAX);
        pl.return_url = "/";
    }
    name = tpo_pending_cookie_name(r->pool, pc->cookie_name, state);
    sealed = name && login_binding(r, pc, &bind) == APR_SUCCESS
                 ? tpo_pending_seal(r->pool, &tpa_login_key, &bind, &pl)
                 : NULL;
    if (!sealed) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                      TPO_APLOGNO(00016) "provider %s: cannot seal the login cookie (OpenSSL)",
                      pc->name);
        return answer(fail, HTTP_INTERNAL_SERVER_ERROR, "Login unavailable",
                      "The login could not be started. Please try again later.");
    }
    /* at most TPOAuthPendingLoginsPerBrowser, and a bounded Cookie header */
    new_size = strlen(name) + 1 + strlen(sealed);
    slots = host_login_cookies(r, pc, &bind);
    dropped = tpo_pending_cookies_trim(slots, pc->max_pending_per_browser, new_size,
                                       TPO_PENDING_COOKIES_MAX_BYTES, &st);
    for (i = 0; i < slots->nelts; i++) {
        tpo_pending_slot *sl = &APR_ARRAY_IDX(slots, i, tpo_pending_slot);
        if (sl->drop) {
            /* with the attributes of the provider it belongs to */
            tpa_set_login_cookie(r, (const tpa_provider_conf *)sl->ctx, sl->name, "", 0);
        }
    }
    if (dropped) {
        ap_log_rerror(
            APLOG_MARK, APLOG_INFO, 0, r,
            TPO_APLOGNO(
                00017) "provider %s: login cookies dropped for a new login: %d unusable "
                       "(expired, or do not open), %d for count (more than %d logins in "
                       "progress: TPOAuthPendingLoginsPerBrowser), %d for size (all providers' "
                       "login cookies together over %d bytes); the oldest first",
            pc->name, st.unusable, st.count, pc->max_pending_per_browser, st.size,
            TPO_PENDING_COOKIES_MAX_BYTES);
    }
    tpa_set_login_cookie(r, pc, name, sealed, pc->login_timeout + TPO_PENDING_COOKIE_GRACE_SEC);

    {
        /* the authorization request's parameters, added to the endpoint at once */
        apr_array_header_t *nv =
            apr_array_make(r->pool, 16 + pc->auth_params->nelts, sizeof(const char *));
        const char *challenge = tpo_pkce_challenge_s256(r->pool, pl.code_verifier);
#define PARAM(n, v)                                                                                \
    do {                                                                                           \
        APR_ARRAY_PUSH(nv, const char *) = (n);                                                    \
        APR_ARRAY_PUSH(nv, const char *) = (v) ? (v) : "";                                         \
    } while (0)
        PARAM("response_type", "code");
        PARAM("client_id", pc->client_id);
        PARAM("redirect_uri", pl.redirect_uri);
        PARAM("scope", pc->scope);
        PARAM("state", state);
        if (pl.nonce) {
            PARAM("nonce", pl.nonce);
        }
        PARAM("code_challenge", challenge);
        PARAM("code_challenge_method", "S256");
        for (i = 0; i + 1 < pc->auth_params->nelts; i += 2) {
            PARAM(APR_ARRAY_IDX(pc->auth_params, i, const char *),
                  APR_ARRAY_IDX(pc->auth_params, i + 1, const char *));
        }
#undef PARAM
        url = tpo_url_add_params(r->pool, meta->authorization_endpoint, nv);
    }
    ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r,
                  TPO_APLOGNO(00018) "no session: sending the browser to provider %s to log in",
                  pc->name);
    apr_table_setn(r->err_headers_out, "Cache-Control", "no-store");
    apr_table_setn(r->headers_out, "Location", url);
    tpa_count(TPO_M_LOGIN_STARTED);
    return HTTP_MOVED_TEMPORARILY;
}

static int fail(request_rec *r, const tpa_provider_conf *pc, int status, int level,
                const char *title, const char *page_detail, const char *log_msg)
{
    ap_log_rerror(APLOG_MARK, level, 0, r, TPO_APLOGNO(00025) "provider %s: login failed: %s",
                  pc->name, log_msg);
    return tpa_page_error(r, status, title, page_detail);
}

/* The pending login for `state`, in this order: it must be in this
 * browser's login cookie and open (so a stranger who only knows the state
 * changes nothing), then it is consumed: a one-use marker added atomically
 * under the state, kept until no server could still accept the cookie
 * (its expiry plus the clock skew, at least TPO_PENDING_COOKIE_GRACE_SEC).
 * This provider's login cookie for the state is deleted when it cannot be
 * used, or once the marker is written (or was already there); when the
 * store is unavailable it stays, so the same callback can be retried. */
static int take_pending(request_rec *r, tpa_provider_conf *pc, const char *state, tpo_pending *pl)
{
    const char *name = NULL;
    tpo_pending_result res;
    tpo_pending_binding bind;
    apr_interval_time_t keep;
    apr_status_t rv;

    if (login_binding(r, pc, &bind) != APR_SUCCESS) {
        ap_log_rerror(
            APLOG_MARK, APLOG_ERR, 0, r,
            TPO_APLOGNO(00079) "provider %s: login failed: cannot compute the login cookie binding "
                               "(OpenSSL)",
            pc->name);
        return tpa_page_error(r, HTTP_INTERNAL_SERVER_ERROR, "Login failed",
                              "The login could not be completed. Please try again later.");
    }
    res = tpo_pending_find(r->pool, &tpa_login_key, &bind, apr_table_get(r->headers_in, "Cookie"),
                           pc->cookie_name, state, pc->name, r->request_time, pl, &name);
    /* a login of another provider (same cookie name) may still finish there */
    if (res != TPO_PENDING_OK && res != TPO_PENDING_NO_COOKIE &&
        res != TPO_PENDING_OTHER_PROVIDER && name) {
        tpa_set_login_cookie(r, pc, name, "", 0);
    }
    switch (res) {
    case TPO_PENDING_OK:
        break;
    case TPO_PENDING_NO_COOKIE:
        return fail(r, pc, HTTP_BAD_REQUEST, APLOG_WARNING, "Login started elsewhere",
                    "This login was started in another browser (or this browser's cookies "
                    "were cleared, or too many logins were started at once). Please start "
                    "again from the page you wanted to open.",
                    tpo_pending_result_text(res));
    case TPO_PENDING_EXPIRED:
        return fail(r, pc, HTTP_BAD_REQUEST, APLOG_WARNING, "Login expired",
                    "The login took too long. Please start again.", tpo_pending_result_text(res));
    case TPO_PENDING_OTHER_PROVIDER:
        return fail(r, pc, HTTP_BAD_REQUEST, APLOG_WARNING, "Bad login response",
                    "This login belongs to another provider.",
                    apr_psprintf(r->pool, "state was issued for provider %s, callback of %s",
                                 ap_escape_logitem(r->pool, pl->provider), pc->name));
    default:
        return fail(r, pc, HTTP_BAD_REQUEST, APLOG_WARNING, "Bad login response",
                    "The login data in this browser is not valid. Please start again from "
                    "the page you wanted to open.",
                    tpo_pending_result_text(res));
    }
    /* a server whose clock is behind still accepts the cookie a while after
     * pl->expires: the marker outlives that */
    keep = apr_time_from_sec(pc->clock_skew > TPO_PENDING_COOKIE_GRACE_SEC
                                 ? pc->clock_skew
                                 : TPO_PENDING_COOKIE_GRACE_SEC);
    rv = tpa_login_consume(r, state, pl->expires + keep);
    if (rv == APR_EEXIST) {
        tpa_set_login_cookie(r, pc, name, "", 0);
        return fail(r, pc, HTTP_BAD_REQUEST, APLOG_WARNING, "Login expired or already used",
                    "This login link was already used. Please start again from the page "
                    "you wanted to open.",
                    "state already used (replay of the callback?)");
    }
    if (rv != APR_SUCCESS) {
        ap_log_rerror(
            APLOG_MARK, APLOG_ERR, rv, r,
            TPO_APLOGNO(
                00026) "provider %s: login failed: cannot record the state as used "
                       "(pending-login cache); the login cookie is kept, the callback can be "
                       "retried",
            pc->name);
        return tpa_page_error(r, HTTP_SERVICE_UNAVAILABLE, "Session store unavailable",
                              "The login cannot be completed right now. Please reload this "
                              "page in a moment.");
    }
    tpa_set_login_cookie(r, pc, name, "", 0);
    return OK;
}

/* Fetch userinfo with the access token (providers without ID tokens). */
static int fetch_userinfo(request_rec *r, tpa_provider_conf *pc, const char *url,
                          const char *access_token, json_t **claims)
{
    tpo_http_opts o;
    tpo_http_response resp;
    tpo_http_result res;
    apr_array_header_t *hdrs = apr_array_make(r->pool, 1, sizeof(const char *));
    json_error_t jerr;
    json_t *j;
    apr_time_t t0 = apr_time_now();

    tpa_provider_http_opts(pc, &o);
    APR_ARRAY_PUSH(hdrs, const char *) =
        apr_pstrcat(r->pool, "Authorization: Bearer ", access_token, NULL);
    res = tpo_http_request(r->pool, "GET", url, hdrs, NULL, 0, &o, &resp);
    tpa_count_call(TPO_EP_USERINFO, t0, res != TPO_HTTP_OK || resp.status >= 500);
    if (res != TPO_HTTP_OK) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                      TPO_APLOGNO(00027) "provider %s: login failed: userinfo endpoint %s: %s",
                      pc->name, url, resp.error ? resp.error : "unreachable");
        return res == TPO_HTTP_TIMEOUT ? HTTP_GATEWAY_TIME_OUT : HTTP_BAD_GATEWAY;
    }
    if (resp.status != 200) {
        ap_log_rerror(
            APLOG_MARK, APLOG_ERR, 0, r,
            TPO_APLOGNO(00028) "provider %s: login failed: userinfo endpoint %s answered HTTP %d",
            pc->name, url, resp.status);
        return HTTP_BAD_GATEWAY;
    }
    j = tpo_json_loadb(resp.body, resp.len, JSON_REJECT_DUPLICATES, &jerr);
    if (!j || !json_is_object(j)) {
        json_decref(j);
        ap_log_rerror(
            APLOG_MARK, APLOG_ERR, 0, r,
            TPO_APLOGNO(
                00029) "provider %s: login failed: userinfo endpoint %s did not return a JSON "
                       "object",
            pc->name, url);
        return HTTP_BAD_GATEWAY;
    }
    apr_pool_cleanup_register(r->pool, j, tpo_json_cleanup, apr_pool_cleanup_null);
    *claims = j;
    return OK;
}

/* Step 1, tokens: the token request for the code (with the login's
 * code_verifier and redirect_uri), and its response parsed into *tres. A
 * timeout answers 504, an unreachable endpoint, an error response or an
 * unusable response 502; each writes its page and returns DONE. */
static int request_tokens(request_rec *r, tpa_provider_conf *pc, const tpo_provider_meta *meta,
                          const tpo_pending *pl, const char *code, tpo_token_response *tres)
{
    apr_array_header_t *params = apr_array_make(r->pool, 8, sizeof(const char *));
    tpo_http_response resp;
    tpo_http_result hr;
    tpo_token_result tr;
    const char *detail = NULL;

#define PARAM(n, v)                                                                                \
    do {                                                                                           \
        APR_ARRAY_PUSH(params, const char *) = (n);                                                \
        APR_ARRAY_PUSH(params, const char *) = (v);                                                \
    } while (0)
    PARAM("grant_type", "authorization_code");
    PARAM("code", code);
    PARAM("redirect_uri", pl->redirect_uri);
    PARAM("code_verifier", pl->code_verifier);
#undef PARAM
    hr = tpa_provider_client_post(r, pc, meta->token_endpoint, params, &resp);
    if (hr == TPO_HTTP_TIMEOUT) {
        return fail(r, pc, HTTP_GATEWAY_TIME_OUT, APLOG_ERR, "Login timed out",
                    "The authorization server did not answer in time. Please try again.",
                    apr_psprintf(r->pool, "token endpoint %s did not answer within %d ms",
                                 meta->token_endpoint, pc->timeout_ms));
    }
    if (hr != TPO_HTTP_OK) {
        return fail(r, pc, HTTP_BAD_GATEWAY, APLOG_ERR, "Login failed",
                    "The authorization server could not be reached. Please try again later.",
                    apr_psprintf(r->pool, "token endpoint %s unreachable: %s", meta->token_endpoint,
                                 resp.error ? resp.error : "error"));
    }
    tr = tpo_token_response_parse(r->pool, resp.body, resp.len, resp.status, apr_time_now(), tres,
                                  &detail);
    if (tr == TPO_TOKEN_ERROR_RESPONSE) {
        return fail(r, pc, HTTP_BAD_GATEWAY, APLOG_ERR, "Login failed",
                    apr_psprintf(r->pool, "The authorization server refused to issue tokens: %s",
                                 tres->error),
                    apr_psprintf(r->pool, "token endpoint answered HTTP %d error=%s%s%s",
                                 resp.status, ap_escape_logitem(r->pool, tres->error),
                                 tres->error_description ? ": " : "",
                                 tres->error_description
                                     ? ap_escape_logitem(r->pool, tres->error_description)
                                     : ""));
    }
    if (tr != TPO_TOKEN_OK) {
        return fail(r, pc, HTTP_BAD_GATEWAY, APLOG_ERR, "Login failed",
                    "The authorization server sent an unusable token response.",
                    apr_psprintf(r->pool, "token response (HTTP %d) unusable: %s", resp.status,
                                 detail ? detail : "malformed"));
    }
    return OK;
}

/* Step 2, claims: the validated ID token's claims (required when openid was
 * asked for, i.e. the login has a nonce), merged with userinfo when the
 * provider has a userinfo endpoint and TPOAuthUserinfo asks for it or there
 * is no ID token; userinfo must name the same subject. OK with *claims, or
 * DONE with the failure page written. */
static int collect_claims(request_rec *r, tpa_provider_conf *pc, const tpo_provider_meta *meta,
                          const tpo_pending *pl, const tpo_token_response *tres, json_t **claims,
                          const char **op_sid)
{
    json_t *uclaims = NULL;
    int rc;

    *claims = NULL;
    *op_sid = NULL;
    if (tres->id_token) {
        rc = tpa_provider_validate_id_token(r, pc, meta, tres->id_token, pl->nonce, claims);
        if (rc != OK) {
            return tpa_page_error(r, rc, "Login failed",
                                  rc == HTTP_UNAUTHORIZED
                                      ? "The identity token from the authorization server is not "
                                        "valid. Please try again."
                                      : "The authorization server's keys could not be loaded.");
        }
        /* the provider's session (for a logout from the provider): from the
         * ID token only, before userinfo or the claim filters touch it */
        *op_sid = json_string_value(json_object_get(*claims, "sid"));
        *op_sid = *op_sid && **op_sid ? apr_pstrdup(r->pool, *op_sid) : NULL;
    }
    else if (pl->nonce) {
        return fail(r, pc, HTTP_BAD_GATEWAY, APLOG_ERR, "Login failed",
                    "The authorization server sent no identity token.",
                    "token response has no id_token although openid was requested");
    }
    if (meta->userinfo_endpoint && (pc->userinfo || !*claims)) {
        if ((rc = fetch_userinfo(r, pc, meta->userinfo_endpoint, tres->access_token, &uclaims)) !=
            OK) {
            return tpa_page_error(r, rc, "Login failed",
                                  "The user's profile could not be loaded from the "
                                  "authorization server.");
        }
        if (!*claims) {
            *claims = uclaims;
        }
        else if (!tpo_claims_merge(*claims, uclaims)) {
            return fail(r, pc, HTTP_UNAUTHORIZED, APLOG_ERR, "Login failed",
                        "The user could not be identified.",
                        "userinfo sub differs from the ID token's sub");
        }
    }
    if (!*claims) {
        return fail(r, pc, HTTP_BAD_GATEWAY, APLOG_ERR, "Login failed",
                    "The user could not be identified.",
                    "no ID token and no userinfo endpoint (TPOAuthUserinfoEndpoint)");
    }
    return OK;
}

/* Step 3, user: the user name from TPOAuthRemoteUserClaim (a non-empty
 * scalar, not a boolean), rewritten by its regex when one is configured;
 * then the claims are filtered (TPOAuthClaimsAllow/Deny) for the session.
 * OK with *user, or DONE (401 page: the user cannot be identified). */
static int map_user(request_rec *r, tpa_provider_conf *pc, json_t *claims, const char **user)
{
    json_t *uv = json_object_get(claims, pc->remote_user_claim);

    *user = tpo_claims_scalar(r->pool, uv);
    if (!*user || !**user || json_is_boolean(uv)) {
        return fail(r, pc, HTTP_UNAUTHORIZED, APLOG_ERR, "Login failed",
                    "The user could not be identified.",
                    apr_psprintf(r->pool,
                                 "claim '%s' (TPOAuthRemoteUserClaim) is missing or "
                                 "not a string",
                                 pc->remote_user_claim));
    }
    if (pc->remote_user_regex) {
        ap_regmatch_t m[AP_MAX_REG_MATCH];
        if (!ap_regexec(pc->remote_user_regex, *user, AP_MAX_REG_MATCH, m, 0)) {
            *user = ap_pregsub(r->pool, pc->remote_user_replace, *user, AP_MAX_REG_MATCH, m);
        }
        if (!*user || !**user) {
            return fail(r, pc, HTTP_UNAUTHORIZED, APLOG_ERR, "Login failed",
                        "The user could not be identified.",
                        "TPOAuthRemoteUserClaim rewrite gave an empty user name");
        }
    }
    tpo_claims_filter(claims, pc->claims_allow, pc->claims_deny);
    return OK;
}

/* Step 4, session: the session record (times, tokens, claims, the
 * pre-rendered identity) stored under a fresh id by the session service,
 * the session cookie, and the redirect back to the page the login started
 * from (302). A record too large for the cache answers 500, a store
 * failure 503 (DONE, page written). */
static int open_session(request_rec *r, tpa_provider_conf *pc, const tpo_pending *pl,
                        const tpo_token_response *tres, json_t *claims, const char *user,
                        const char *op_sid)
{
    tpo_session s;
    const char *sid;
    apr_size_t rec_len = 0;
    apr_status_t rv;

    memset(&s, 0, sizeof(s));
    s.created = apr_time_now();
    s.last_seen = s.created;
    s.expires = s.created + apr_time_from_sec(pc->session_max_age);
    s.at_obtained = s.created;
    s.at_expires = tres->expires_at ? tres->expires_at
                                    : s.created + apr_time_from_sec(pc->default_token_lifetime);
    s.provider = pc->name;
    s.user = tpo_claims_env_value(r->pool, user);
    s.sub = json_string_value(json_object_get(claims, "sub"));
    s.op_sid = op_sid;
    s.access_token = tres->access_token;
    s.refresh_token = tres->refresh_token;
    s.id_token = tres->id_token;
    s.scope = tres->scope;
    s.claims = tpo_json_dump_compact(r->pool, claims);
    tpa_session_render(r->pool, pc, &s, claims);
    rv = tpa_session_create(r, &s, &sid, &rec_len);
    if (rv == APR_ENOSPC) {
        return fail(r, pc, HTTP_INTERNAL_SERVER_ERROR, APLOG_ERR, "Session too large",
                    "Your session is too large to be stored. The administrator has been told.",
                    apr_psprintf(r->pool,
                                 "session of %s (%" APR_SIZE_T_FMT " bytes) does not "
                                 "fit in the session cache: raise TPOAuthCacheSize",
                                 s.user, rec_len));
    }
    if (rv == APR_EGENERAL) {
        return fail(r, pc, HTTP_INTERNAL_SERVER_ERROR, APLOG_ERR, "Login failed",
                    "No randomness available.", "RAND_bytes failed");
    }
    if (rv != APR_SUCCESS) {
        return fail(r, pc, HTTP_SERVICE_UNAVAILABLE, APLOG_ERR, "Session store unavailable",
                    "Your session could not be stored. Please try again later.",
                    "session cache write failed");
    }
    /* every session is reachable by a logout elsewhere, or it is not handed out */
    if (tpa_session_index_note(r, pc, sid, &s) != APR_SUCCESS) {
        tpa_session_delete(r, pc, sid);
        return fail(r, pc, HTTP_SERVICE_UNAVAILABLE, APLOG_ERR, "Session store unavailable",
                    "Your session could not be stored. Please try again later.",
                    "session index write failed");
    }
    /* a fresh id at every login; the browser only ever holds this id */
    tpa_set_cookie(r, pc, pc->cookie_name, sid, -1);
    ap_log_rerror(
        APLOG_MARK, APLOG_INFO, 0, r,
        TPO_APLOGNO(00032) "login of %s through provider %s (session record: %" APR_SIZE_T_FMT
                           " bytes)",
        ap_escape_logitem(r->pool, s.user), pc->name, rec_len);
    apr_table_setn(r->err_headers_out, "Cache-Control", "no-store");
    apr_table_setn(r->headers_out, "Location",
                   tpo_return_url_is_local(pl->return_url) ? pl->return_url : "/");
    return HTTP_MOVED_TEMPORARILY;
}

/* The code of an accepted callback becomes a session: tokens -> claims ->
 * user -> session. Each step writes its own failure page (DONE). */
static int exchange_code(request_rec *r, tpa_provider_conf *pc, const tpo_provider_meta *meta,
                         const tpo_pending *pl, const char *code)
{
    tpo_token_response tres;
    json_t *claims;
    const char *user, *op_sid;
    int rc;

    if ((rc = request_tokens(r, pc, meta, pl, code, &tres)) != OK ||
        (rc = collect_claims(r, pc, meta, pl, &tres, &claims, &op_sid)) != OK ||
        (rc = map_user(r, pc, claims, &user)) != OK) {
        return rc;
    }
    return open_session(r, pc, pl, &tres, claims, user, op_sid);
}

static int callback(request_rec *r, tpa_provider_conf *pc)
{
    apr_table_t *q;
    const char *state, *code, *err, *iss;
    int dup = 0, dup2 = 0, rc;
    tpo_pending pl;
    const tpo_provider_meta *meta;
    tpa_rt_status rs;

    if (strcmp(r->method, "GET") != 0) {
        return fail(r, pc, HTTP_METHOD_NOT_ALLOWED, APLOG_WARNING, "Method not allowed",
                    "The login callback only accepts GET.",
                    apr_psprintf(r->pool, "callback with method %s", r->method));
    }
    q = tpo_query_parse(r->pool, r->args ? r->args : "", MAX_CALLBACK_PARAMS);
    if (!q) {
        return fail(r, pc, HTTP_BAD_REQUEST, APLOG_WARNING, "Bad login response",
                    "The login response could not be read.",
                    "malformed query string at the redirect URI");
    }
    state = tpo_query_get_unique(q, "state", &dup);
    if (!state || dup || !*state) {
        return fail(r, pc, HTTP_BAD_REQUEST, APLOG_WARNING, "Bad login response",
                    "The login response has no state. Please start again from the page "
                    "you wanted to open.",
                    dup ? "state parameter repeated" : "state parameter missing");
    }
    /* a response with neither a code nor an error cannot finish the login:
     * refused before the state is spent, so the real answer still can */
    code = tpo_query_get_unique(q, "code", &dup);
    if (!tpo_query_get_unique(q, "error", &dup2) && !dup2 && (!code || dup || !*code)) {
        return fail(r, pc, HTTP_BAD_REQUEST, APLOG_WARNING, "Bad login response",
                    "The login response has no authorization code.",
                    dup ? "code parameter repeated" : "code parameter missing");
    }
    if ((rc = take_pending(r, pc, state, &pl)) != OK) {
        return rc;
    }
    tpa_count(TPO_M_LOGIN_TAKEN); /* a started login ends here, one way or another */
    rs = tpa_provider_meta_get(r, pc, &meta);
    if (rs != TPA_RT_OK) {
        return fail(r, pc, rs == TPA_RT_TIMEOUT ? HTTP_GATEWAY_TIME_OUT : HTTP_BAD_GATEWAY,
                    APLOG_ERR, "Login unavailable",
                    "The authorization server's metadata could not be loaded.",
                    "provider metadata unavailable");
    }
    /* RFC 9207: the response names its issuer; a mismatch is a mix-up */
    iss = tpo_query_get_unique(q, "iss", &dup);
    if (dup || (iss && meta->issuer && strcmp(iss, meta->issuer) != 0) ||
        (!iss && meta->iss_parameter_supported)) {
        return fail(r, pc, HTTP_BAD_REQUEST, APLOG_WARNING, "Bad login response",
                    "The login response came from an unexpected issuer.",
                    iss ? "iss parameter does not match the provider's issuer"
                        : "iss parameter missing though the provider announces it");
    }
    err = tpo_query_get_unique(q, "error", &dup);
    if (err) {
        const char *desc = tpo_query_get_unique(q, "error_description", &dup);
        if (!desc) {
            desc = tpo_query_get_unique(q, "errorDescription", &dup); /* PayoutID */
        }
        int status = !strcmp(err, "access_denied") ? HTTP_FORBIDDEN : HTTP_UNAUTHORIZED;
        apr_table_setn(r->notes, LOGIN_ERROR_NOTE, status == HTTP_FORBIDDEN ? "d" : "e");
        ap_log_rerror(
            APLOG_MARK, APLOG_WARNING, 0, r,
            TPO_APLOGNO(
                00033) "provider %s: login failed: the authorization server answered error=%s%s%s",
            pc->name, ap_escape_logitem(r->pool, err), desc ? ": " : "",
            desc ? ap_escape_logitem(r->pool, desc) : "");
        return tpa_page_error(r, status, "Login refused",
                              apr_psprintf(r->pool,
                                           "The authorization server refused the "
                                           "login: %s%s%s",
                                           err, desc ? " (" : "",
                                           desc ? apr_pstrcat(r->pool, desc, ")", NULL) : ""));
    }
    code = tpo_query_get_unique(q, "code", &dup);
    if (code) {
        const unsigned char *c;
        for (c = (const unsigned char *)code; *c; c++) {
            if (*c < 0x21 || *c > 0x7e) {
                return fail(r, pc, HTTP_BAD_REQUEST, APLOG_WARNING, "Bad login response",
                            "The login response could not be used.",
                            "code parameter has characters outside printable ASCII");
            }
        }
    }
    if (!code || dup || !*code) {
        return fail(r, pc, HTTP_BAD_REQUEST, APLOG_WARNING, "Bad login response",
                    "The login response has no authorization code.",
                    dup ? "code parameter repeated" : "code parameter missing");
    }
    return exchange_code(r, pc, meta, &pl, code);
}

/* Why a callback failed, for the metrics: the provider's error, else what
 * the answer's status says. */
static tpo_login_fail fail_cause(request_rec *r, int rc)
{
    const char *err = apr_table_get(r->notes, LOGIN_ERROR_NOTE);
    int status = rc == DONE ? r->status : rc;

    if (err) {
        return *err == 'd' ? TPO_LF_ACCESS_DENIED : TPO_LF_PROVIDER_ERROR;
    }
    switch (status) {
    case HTTP_BAD_REQUEST:
    case HTTP_METHOD_NOT_ALLOWED:
        return TPO_LF_BAD_CALLBACK;
    case HTTP_FORBIDDEN:
        return TPO_LF_REFUSED;
    case HTTP_UNAUTHORIZED:
        return TPO_LF_TOKEN;
    case HTTP_BAD_GATEWAY:
    case HTTP_GATEWAY_TIME_OUT:
        return TPO_LF_PROVIDER;
    case HTTP_SERVICE_UNAVAILABLE:
        return TPO_LF_SESSION_STORE;
    default:
        return TPO_LF_OTHER;
    }
}

int tpa_login_callback(request_rec *r, tpa_provider_conf *pc)
{
    int rc = callback(r, pc);

    if (rc == HTTP_MOVED_TEMPORARILY) {
        tpa_count(TPO_M_LOGIN_COMPLETED);
    }
    else {
        tpa_count((tpo_metric)(TPO_M_LOGIN_FAILED + fail_cause(r, rc)));
    }
    return rc;
}
