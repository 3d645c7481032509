/* SPDX-License-Identifier: Apache-2.0
 * Licensed under the Apache License, Version 2.0 (see LICENSE). */
/* Bearer tokens (TPOAuthBearer on|only): the access token of an
 * `Authorization: Bearer` request, validated locally when it is a JWT
 * (against the provider's JWK Set) or by the provider's introspection
 * endpoint, and answered as RFC 6750 says: never a redirect, never a cookie.
 *
 * A verified token becomes the same flat record a session has (rendered
 * once: user, claims as variables and headers, scope), kept in the session
 * cache under a hash of the token until the token expires (JWT: its exp;
 * introspection: exp, at most TPOAuthIntrospectionCacheMax; an inactive
 * answer TPOAuthIntrospectionInactiveCache). A client that sends the same
 * token again costs one hash and one cache lookup, like a session. */
#include <string.h>
#include <apr_strings.h>
#include <jansson.h>
#include "mod_tp_oauth_flows.h"
#include "tpo_bearer.h"
#include "tpo_claims.h"
#include "tpo_http.h"
#include "tpo_jose.h"
#include "tpo_jwt_claim.h"
#include "tpo_provider.h"
#include "tpo_session.h"
#include "tpo_stepup.h"
#include "tpo_url.h"

#define KEY_JWT "bt:"   /* + hash: a verified JWT */
#define KEY_INTRO "bi:" /* + hash: an introspection answer */
#define INACTIVE_MARK "-"

/* The RFC 6750 answer: status, WWW-Authenticate, no caching (nothing is
 * written: Apache writes its error document for the status). */
static int answer(request_rec *r, const tpa_provider_conf *pc, int status, const char *error,
                  const char *desc, const char *scope)
{
    tpa_www_authenticate_bearer(r, pc, error, desc, scope, 0);
    apr_table_setn(r->err_headers_out, "Cache-Control", "no-store");
    return status;
}

static int invalid_token(request_rec *r, const tpa_provider_conf *pc, const char *check,
                         const char *detail)
{
    ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r,
                  TPO_APLOGNO(00200) "provider %s: bearer token refused (%s): %s", pc->name, check,
                  detail ? detail : "invalid");
    return answer(r, pc, HTTP_UNAUTHORIZED, "invalid_token", detail, NULL);
}

int tpa_bearer_unauthenticated(request_rec *r, tpa_provider_conf *pc)
{
    ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r,
                  TPO_APLOGNO(00201) "provider %s: no bearer token (TPOAuthBearer only): 401",
                  pc->name);
    return answer(r, pc, HTTP_UNAUTHORIZED, NULL, NULL, NULL);
}

/* A record for the token's claims, rendered as a session's. NULL with
 * *detail when the claims name no user. */
static tpo_session *record_of(request_rec *r, tpa_provider_conf *pc, json_t *claims,
                              const char *scope, apr_time_t exp, const char **detail)
{
    tpo_session *s = apr_pcalloc(r->pool, sizeof(*s));
    json_t *uv = json_object_get(claims, pc->remote_user_claim);
    const char *user = tpo_claims_scalar(r->pool, uv);
    const char *sub = json_string_value(json_object_get(claims, "sub"));
    char *text;

    if (!uv && !sub) {
        /* a token of the client itself (client credentials; an
         * introspection answer has no sub then): the client is the user */
        uv = json_object_get(claims, "client_id");
        user = json_is_string(uv) ? tpo_claims_scalar(r->pool, uv) : NULL;
    }
    if (!user || !*user || json_is_boolean(uv)) {
        *detail = apr_psprintf(r->pool,
                               "the token has no claim '%s' (TPOAuthRemoteUserClaim) to name "
                               "the user",
                               pc->remote_user_claim);
        return NULL;
    }
    if (pc->remote_user_regex) {
        ap_regmatch_t m[AP_MAX_REG_MATCH];
        if (!ap_regexec(pc->remote_user_regex, user, AP_MAX_REG_MATCH, m, 0)) {
            user = ap_pregsub(r->pool, pc->remote_user_replace, user, AP_MAX_REG_MATCH, m);
        }
        if (!user || !*user) {
            *detail = "the TPOAuthRemoteUserClaim rewrite gave an empty user name";
            return NULL;
        }
    }
    s->sub = sub ? apr_pstrdup(r->pool, sub) : NULL;
    /* the user's authentication (RFC 9470: TPOAuthRequireACR, TPOAuthMaxAuthAge) */
    {
        const char *acr;
        double at;
        if (tpo_jwt_claim_string(claims, "acr", &acr) == 1 && *acr) {
            s->acr = apr_pstrdup(r->pool, acr);
        }
        if (tpo_jwt_claim_time(claims, "auth_time", &at) == 1 && at > 0 && at < 1e11) {
            s->auth_time = apr_time_from_sec((apr_time_t)at);
        }
    }
    tpo_claims_filter(claims, pc->claims_allow, pc->claims_deny);
    s->created = r->request_time;
    s->last_seen = r->request_time;
    s->expires = exp;
    s->at_obtained = r->request_time;
    s->at_expires = exp;
    s->provider = pc->name;
    s->user = tpo_claims_env_value(r->pool, user);
    s->scope = scope;
    if ((text = json_dumps(claims, JSON_COMPACT)) != NULL) {
        s->claims = apr_pstrdup(r->pool, text);
        free(text);
    }
    /* the application has the token already (Authorization): not exported again */
    tpa_session_render(r->pool, pc, s, claims);
    return s;
}

static void remember(request_rec *r, const char *key, tpo_session *s, apr_time_t until)
{
    apr_size_t len;
    char *rec = tpo_session_encode(r->pool, s, &len);
    apr_status_t rv;

    if (!key || !rec || until <= r->request_time) {
        return;
    }
    rv = tpo_cache_set(tpa_session_cache, key, rec, len, until);
    if (rv != APR_SUCCESS) {
        ap_log_rerror(APLOG_MARK, APLOG_DEBUG, rv, r,
                      TPO_APLOGNO(00202) "bearer token not remembered (cache write failed): it "
                                         "will be checked again on its next use");
    }
}

/* The remembered record for key: 1 found (in *s), 0 not, -1 remembered as
 * inactive. */
static int recall(request_rec *r, const char *key, tpo_session *s, int skew)
{
    char *val;
    apr_size_t vlen;

    if (!key || tpo_cache_get(tpa_session_cache, key, r->pool, &val, &vlen) != APR_SUCCESS) {
        return 0;
    }
    if (vlen == 1 && val[0] == INACTIVE_MARK[0]) {
        return -1;
    }
    if (tpo_session_decode(r->pool, val, vlen, s) != APR_SUCCESS || !s->user ||
        (s->at_expires && r->request_time >= s->at_expires + apr_time_from_sec(skew))) {
        return 0;
    }
    return 1;
}

static void expect_of(request_rec *r, tpa_provider_conf *pc, const tpo_provider_meta *meta,
                      tpo_bearer_expect *e)
{
    memset(e, 0, sizeof(*e));
    e->issuer = pc->issuer ? pc->issuer : meta->issuer;
    e->audiences = pc->bearer_audiences;
    e->now = r->request_time;
    e->skew_sec = pc->clock_skew;
    e->allowed_algs = pc->id_token_algs;
    e->typ = pc->bearer_token_type;
}

/* A JWT validated against the JWK Set; an unknown kid refetches it (rate
 * limited across processes: TPOAuthJWKSRefetchInterval). */
static int check_jwt(request_rec *r, tpa_provider_conf *pc, const tpo_provider_meta *meta,
                     const char *token, const char *key, tpo_session **out)
{
    tpo_bearer_expect e;
    const tpo_jwks *jwks;
    void *handle;
    json_t *claims = NULL;
    const char *detail = NULL;
    tpo_bearer_result res = TPO_BT_NOKEY;
    tpa_rt_status rs;
    int pass;

    expect_of(r, pc, meta, &e);
    for (pass = 0; pass < 2 && res == TPO_BT_NOKEY; pass++) {
        rs = tpa_provider_jwks_acquire(r, pc, pass, &jwks, &handle);
        if (rs != TPA_RT_OK) {
            ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                          TPO_APLOGNO(00203) "provider %s: bearer token not checked: the JWK Set "
                                             "is unavailable",
                          pc->name);
            return rs == TPA_RT_TIMEOUT ? HTTP_GATEWAY_TIME_OUT : HTTP_SERVICE_UNAVAILABLE;
        }
        res = tpo_bearer_jwt_validate(r->pool, token, jwks, &e, &claims, &detail);
        tpa_provider_jwks_release(pc, handle);
    }
    if (res != TPO_BT_OK) {
        return invalid_token(r, pc, tpo_bearer_result_name(res), detail);
    }
    {
        json_t *ev = json_object_get(claims, "exp");
        apr_time_t exp = apr_time_from_sec((apr_time_t)json_number_value(ev));
        tpo_session *s = record_of(r, pc, claims, tpo_bearer_scope(r->pool, claims), exp, &detail);
        if (!s) {
            return invalid_token(r, pc, "user", detail);
        }
        remember(r, key, s, exp);
        ap_log_rerror(
            APLOG_MARK, APLOG_DEBUG, 0, r,
            TPO_APLOGNO(00212) "provider %s: bearer JWT of %s verified (signature checked; "
                               "remembered until its exp)",
            pc->name, ap_escape_logitem(r->pool, s->user));
        *out = s;
    }
    return OK;
}

/* Ask the provider (RFC 7662), remembering the answer. */
static int check_introspection(request_rec *r, tpa_provider_conf *pc, const tpo_provider_meta *meta,
                               const char *token, tpo_session **out)
{
    const char *key = tpo_bearer_key(r->pool, KEY_INTRO, pc->name, token);
    apr_array_header_t *params = apr_array_make(r->pool, 4, sizeof(const char *));
    tpo_bearer_expect e;
    tpo_introspection in;
    tpo_http_response resp;
    tpo_bearer_result res;
    const char *detail = NULL;
    tpo_session *s = apr_pcalloc(r->pool, sizeof(*s));
    apr_time_t until;
    int hr, known = recall(r, key, s, pc->clock_skew);

    if (known < 0) {
        return invalid_token(r, pc, "inactive", "the provider says the token is not active");
    }
    if (known > 0) {
        *out = s;
        return OK;
    }
    if (!meta->introspection_endpoint) {
        ap_log_rerror(
            APLOG_MARK, APLOG_ERR, 0, r,
            TPO_APLOGNO(00204) "provider %s: an opaque bearer token cannot be checked: no "
                               "introspection endpoint (TPOAuthIntrospectionEndpoint)",
            pc->name);
        return invalid_token(r, pc, "introspection",
                             "this server cannot check tokens that are not JWTs");
    }
    APR_ARRAY_PUSH(params, const char *) = "token";
    APR_ARRAY_PUSH(params, const char *) = token;
    APR_ARRAY_PUSH(params, const char *) = "token_type_hint";
    APR_ARRAY_PUSH(params, const char *) = "access_token";
    hr = tpa_provider_client_post(r, pc, meta->introspection_endpoint, params, &resp);
    if (hr != TPO_HTTP_OK) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                      TPO_APLOGNO(00205) "provider %s: introspection endpoint %s unreachable: %s",
                      pc->name, meta->introspection_endpoint, resp.error ? resp.error : "error");
        return hr == TPO_HTTP_TIMEOUT ? HTTP_GATEWAY_TIME_OUT : HTTP_BAD_GATEWAY;
    }
    expect_of(r, pc, meta, &e);
    res = tpo_introspection_parse(r->pool, resp.body, resp.len, resp.status, &e, &in, &detail);
    if (res == TPO_BT_MALFORMED && !in.json) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                      TPO_APLOGNO(00206) "provider %s: introspection answer unusable: %s", pc->name,
                      detail);
        return HTTP_BAD_GATEWAY;
    }
    if (res == TPO_BT_INACTIVE) {
        if (pc->introspection_inactive_cache > 0 && key) {
            tpo_cache_set(tpa_session_cache, key, INACTIVE_MARK, 1,
                          r->request_time + apr_time_from_sec(pc->introspection_inactive_cache));
        }
        return invalid_token(r, pc, "inactive", detail);
    }
    if (res != TPO_BT_OK) {
        return invalid_token(r, pc, tpo_bearer_result_name(res), detail);
    }
    until = r->request_time + apr_time_from_sec(pc->introspection_cache_max);
    if (in.exp && in.exp < until) {
        until = in.exp;
    }
    s = record_of(r, pc, in.json, in.scope, in.exp, &detail);
    if (!s) {
        return invalid_token(r, pc, "user", detail);
    }
    remember(r, key, s, until);
    ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r,
                  TPO_APLOGNO(00213) "provider %s: bearer token of %s active (introspection; "
                                     "remembered for %" APR_TIME_T_FMT " s)",
                  pc->name, ap_escape_logitem(r->pool, s->user),
                  apr_time_sec(until - r->request_time));
    *out = s;
    return OK;
}

/* DECLINED (no token), OK, or the status of the answer (headers set). */
static int authn(request_rec *r, tpa_provider_conf *pc, tpa_dir_conf *dc)
{
    const char *token = NULL, *key = NULL, *missing;
    const tpo_provider_meta *meta;
    tpo_session *s = apr_pcalloc(r->pool, sizeof(*s));
    tpa_rt_status rs;
    int rc, jwt;

    rc = tpo_bearer_from_header(r->pool, apr_table_get(r->headers_in, "Authorization"), &token);
    if (tpa_dir_bearer_query(dc) == 1 && r->args && rc >= 0) {
        /* RFC 6750 2.3, only where enabled: ?access_token=..., once, and
         * never together with the header (one method per request) */
        apr_table_t *q = tpo_query_parse(r->pool, r->args, 100);
        const char *qt;
        int dup = 0;

        qt = q ? tpo_query_get_unique(q, "access_token", &dup) : NULL;
        if (!q || dup || (qt && (rc > 0 || !tpo_bearer_token_ok(qt)))) {
            ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r,
                          TPO_APLOGNO(00214) "provider %s: access_token query parameter refused "
                                             "(malformed, repeated, or next to an Authorization "
                                             "header)",
                          pc->name);
            return answer(r, pc, HTTP_BAD_REQUEST, "invalid_request",
                          "one bearer token, in one place, is expected", NULL);
        }
        if (qt) {
            token = qt;
            rc = 1;
            apr_table_setn(r->err_headers_out, "Cache-Control", "private");
        }
    }
    if (rc == 0) {
        return DECLINED;
    }
    if (rc < 0) {
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r,
                      TPO_APLOGNO(00207) "provider %s: malformed Authorization: Bearer header",
                      pc->name);
        return answer(r, pc, HTTP_BAD_REQUEST, "invalid_request",
                      "the Authorization header is not Bearer followed by a token", NULL);
    }
    jwt = tpo_bearer_looks_like_jwt(token);
    if (jwt && pc->bearer_validation != TPO_BEARER_VALIDATE_INTROSPECT) {
        /* the memo: a token verified before, until its exp */
        key = tpo_bearer_key(r->pool, KEY_JWT, pc->name, token);
        if (recall(r, key, s, 0) <= 0) {
            s = NULL;
        }
    }
    else {
        s = NULL;
    }
    if (!s) {
        if (!jwt && pc->bearer_validation == TPO_BEARER_VALIDATE_JWT) {
            return invalid_token(r, pc, "malformed", "the token is not a JWT");
        }
        if (!pc->bearer_audiences && jwt &&
            pc->bearer_validation != TPO_BEARER_VALIDATE_INTROSPECT) {
            /* refuse rather than accept any audience */
            return invalid_token(r, pc, "aud", "no audience is configured (TPOAuthBearerAudience)");
        }
        rs = tpa_provider_meta_get(r, pc, &meta);
        if (rs != TPA_RT_OK) {
            return rs == TPA_RT_TIMEOUT ? HTTP_GATEWAY_TIME_OUT : HTTP_SERVICE_UNAVAILABLE;
        }
        rc = jwt && pc->bearer_validation != TPO_BEARER_VALIDATE_INTROSPECT
                 ? check_jwt(r, pc, meta, token, key, &s)
                 : check_introspection(r, pc, meta, token, &s);
        if (rc != OK) {
            return rc;
        }
    }
    if (dc->bearer_scope &&
        (missing = tpo_bearer_scope_missing(r->pool, s->scope, dc->bearer_scope)) != NULL) {
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r,
                      TPO_APLOGNO(00208) "provider %s: bearer token of %s lacks scope %s "
                                         "(TPOAuthBearerScope): 403",
                      pc->name, ap_escape_logitem(r->pool, s->user),
                      ap_escape_logitem(r->pool, missing));
        return answer(r, pc, HTTP_FORBIDDEN, "insufficient_scope",
                      "the token lacks a scope this resource requires", dc->bearer_scope);
    }
    if (dc->require_acr || dc->max_auth_age != TPO_UNSET) {
        /* RFC 9470: the token's acr / auth_time against the location's demand */
        tpo_stepup_req req;
        int lacks;

        tpa_dir_stepup(dc, &req);
        lacks = tpo_stepup_check(&req, s->acr, s->auth_time, r->request_time,
                                 apr_time_from_sec(pc->clock_skew));
        if (lacks) {
            ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r,
                          TPO_APLOGNO(00953) "provider %s: bearer token of %s lacks the "
                                             "authentication this location demands (%s%s%s): 401 "
                                             "insufficient_user_authentication",
                          pc->name, ap_escape_logitem(r->pool, s->user),
                          lacks & TPO_STEPUP_ACR ? "acr" : "",
                          (lacks & TPO_STEPUP_ACR) && (lacks & TPO_STEPUP_AGE) ? ", " : "",
                          lacks & TPO_STEPUP_AGE ? "auth_time" : "");
            tpa_www_authenticate_stepup(r, pc, &req, lacks);
            apr_table_setn(r->err_headers_out, "Cache-Control", "no-store");
            return HTTP_UNAUTHORIZED;
        }
    }
    tpa_identity_export(r, pc, s);
    r->ap_auth_type = TPO_AUTH_TYPE_BEARER;
    ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r,
                  TPO_APLOGNO(00209) "provider %s: bearer token of %s accepted", pc->name,
                  ap_escape_logitem(r->pool, s->user));
    return OK;
}

tpa_bearer_result tpa_bearer_authn(request_rec *r, tpa_provider_conf *pc, tpa_dir_conf *dc,
                                   int *status)
{
    int rc = authn(r, pc, dc);

    *status = rc;
    return rc == DECLINED ? TPA_BEARER_NONE : rc == OK ? TPA_BEARER_OK : TPA_BEARER_REFUSED;
}

void tpa_bearer_authz_failure(request_rec *r, tpa_provider_conf *pc)
{
    const char *scope = apr_table_get(r->notes, TPO_NOTE_BEARER_SCOPE);

    apr_table_unset(r->err_headers_out, "WWW-Authenticate");
    apr_table_setn(r->notes, TPO_NOTE_BEARER_CHALLENGE,
                   tpa_bearer_challenge_value(r, pc, "insufficient_scope",
                                              scope ? "the token lacks a scope this resource "
                                                      "requires"
                                                    : "the token does not allow this request",
                                              scope));
}
