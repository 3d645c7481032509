/* SPDX-License-Identifier: Apache-2.0
 * Licensed under the Apache License, Version 2.0 (see LICENSE). */
/* Pushed Authorization Requests (RFC 9126), a service of the login start:
 * the authorization request's parameters are POSTed to the provider's PAR
 * endpoint with the client's authentication (tpa_provider_client_post, the
 * same as at the token endpoint), and the answer (tpo_par.c) gives the
 * request_uri the browser carries instead. Every failure: a described page
 * (502, 504 on a timeout) and one log line naming the cause. */
#include <apr_strings.h>
#include "mod_tp_oauth_provider.h"
#include "tpo_http.h"
#include "tpo_par.h"

static int par_fail(request_rec *r, const tpa_provider_conf *pc, tpa_answer *fail, int status,
                    const char *detail, const char *log_msg)
{
    ap_log_rerror(
        APLOG_MARK, APLOG_ERR, 0, r,
        TPO_APLOGNO(00854) "provider %s: login not started: pushed authorization request: %s",
        pc->name, log_msg);
    fail->status = status;
    fail->title = "Login unavailable";
    fail->detail = detail;
    return status;
}

int tpa_provider_par(request_rec *r, tpa_provider_conf *pc, const char *endpoint,
                     const apr_array_header_t *params, const char **request_uri, tpa_answer *fail)
{
    tpo_http_response resp;
    tpo_http_result hr;
    tpo_par_response pr;
    tpo_par_result res;
    const char *detail = NULL;

    *request_uri = NULL;
    hr = tpa_provider_client_post(r, pc, endpoint, params, &resp);
    if (hr == TPO_HTTP_TIMEOUT) {
        return par_fail(
            r, pc, fail, HTTP_GATEWAY_TIME_OUT,
            "The authorization server did not answer in time. Please try again.",
            apr_psprintf(r->pool, "%s did not answer within %d ms", endpoint, pc->timeout_ms));
    }
    if (hr != TPO_HTTP_OK) {
        return par_fail(r, pc, fail, HTTP_BAD_GATEWAY,
                        "The authorization server could not be reached. Please try again later.",
                        apr_psprintf(r->pool, "%s unreachable: %s", endpoint,
                                     resp.error ? resp.error : "error"));
    }
    res = tpo_par_response_parse(r->pool, resp.body, resp.len, resp.status, &pr, &detail);
    if (res == TPO_PAR_ERROR_RESPONSE) {
        return par_fail(
            r, pc, fail, HTTP_BAD_GATEWAY,
            apr_psprintf(r->pool, "The authorization server refused the login request: %s",
                         pr.error),
            apr_psprintf(r->pool, "%s answered HTTP %d error=%s%s%s", endpoint, resp.status,
                         ap_escape_logitem(r->pool, pr.error), pr.error_description ? ": " : "",
                         pr.error_description ? ap_escape_logitem(r->pool, pr.error_description)
                                              : ""));
    }
    if (res != TPO_PAR_OK) {
        return par_fail(r, pc, fail, HTTP_BAD_GATEWAY,
                        "The authorization server sent an unusable answer to the login request.",
                        apr_psprintf(r->pool, "%s: answer (HTTP %d) unusable: %s", endpoint,
                                     resp.status, detail ? detail : "malformed"));
    }
    ap_log_rerror(
        APLOG_MARK, APLOG_DEBUG, 0, r,
        TPO_APLOGNO(00855) "provider %s: authorization request pushed to %s (expires in %ld s)",
        pc->name, endpoint, pr.expires_in);
    *request_uri = pr.request_uri;
    return OK;
}
