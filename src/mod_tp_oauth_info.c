/* SPDX-License-Identifier: Apache-2.0
 * Licensed under the Apache License, Version 2.0 (see LICENSE). */
/* <redirect URI>/info: the session as JSON for single-page apps. An
 * endpoint: it writes its answer (DONE). */
#include <string.h>
#include <jansson.h>
#include "mod_tp_oauth_flows.h"
#include "tpo_session.h"

/* <redirect URI>/info: the session as JSON for single-page apps. */
int tpa_info_endpoint(request_rec *r, tpa_provider_conf *pc)
{
    tpo_session *s = apr_pcalloc(r->pool, sizeof(*s));
    json_t *o, *claims = NULL;
    tpa_sess_result sr;

    if (strcmp(r->method, "GET") != 0) {
        return tpa_json_response(r, HTTP_METHOD_NOT_ALLOWED,
                                 json_pack("{s:s}", "error", "method_not_allowed"));
    }
    sr = tpa_session_load(r, pc, s);
    if (sr == TPA_SESS_CACHE_DOWN) {
        return tpa_json_response(r, HTTP_SERVICE_UNAVAILABLE,
                                 json_pack("{s:s}", "error", "session_store_unavailable"));
    }
    if (sr != TPA_SESS_OK) {
        tpa_www_authenticate(r, pc, NULL);
        return tpa_json_response(r, HTTP_UNAUTHORIZED, json_pack("{s:s}", "error", "no_session"));
    }
    if (s->claims) {
        json_error_t err;
        claims = json_loads(s->claims, 0, &err);
    }
    o = json_object();
    json_object_set_new(o, "user", json_string(s->user));
    if (s->sub) {
        json_object_set_new(o, "sub", json_string(s->sub));
    }
    json_object_set_new(o, "provider", json_string(s->provider));
    json_object_set_new(o, "claims", claims ? claims : json_object());
    json_object_set_new(o, "session_created", json_integer(apr_time_sec(s->created)));
    json_object_set_new(o, "session_expires", json_integer(apr_time_sec(s->expires)));
    if (s->at_expires) {
        json_object_set_new(o, "access_token_expires", json_integer(apr_time_sec(s->at_expires)));
    }
    if (s->scope) {
        json_object_set_new(o, "scope", json_string(s->scope));
    }
    /* RFC 9449: a session with a DPoP key holds a DPoP-bound token */
    json_object_set_new(o, "token_type", json_string(s->dpop_key ? "DPoP" : "Bearer"));
    if (pc->info_access_token && s->access_token) {
        json_object_set_new(o, "access_token", json_string(s->access_token));
    }
    return tpa_json_response(r, HTTP_OK, o);
}
