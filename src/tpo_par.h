/* SPDX-License-Identifier: Apache-2.0
 * Licensed under the Apache License, Version 2.0 (see LICENSE). */
/* Pushed Authorization Requests (RFC 9126): when a login pushes its
 * authorization request, and the provider's answer (request_uri,
 * expires_in), parsed as hostile input. */
#ifndef TPO_PAR_H
#define TPO_PAR_H

#include <apr_pools.h>

/* TPOAuthPushedAuthorization */
typedef enum {
    TPO_PAR_OFF = 0, /* never */
    TPO_PAR_ON,      /* whenever the provider has a PAR endpoint */
    TPO_PAR_AUTO     /* when the provider requires it (the default) */
} tpo_par_mode;

typedef enum {
    TPO_PAR_UNUSED = 0, /* the browser carries the whole request */
    TPO_PAR_USE,        /* push it to the endpoint */
    TPO_PAR_NO_ENDPOINT /* it must be pushed, but there is no endpoint */
} tpo_par_decision;

/* Whether a login pushes its request. mode: tpo_par_mode; endpoint: the
 * provider's pushed_authorization_request_endpoint (or the configured one),
 * NULL when none; required: its metadata's
 * require_pushed_authorization_requests. OFF: never. ON: USE with an
 * endpoint, else NO_ENDPOINT. AUTO: USE when required and there is an
 * endpoint, NO_ENDPOINT when required without one, else UNUSED. */
tpo_par_decision tpo_par_decide(int mode, const char *endpoint, int required);

typedef struct tpo_par_response {
    const char *request_uri;       /* OK: 1..TPO_PAR_REQUEST_URI_MAX of %x21-7E, with a scheme */
    long expires_in;               /* OK: 1..TPO_PAR_EXPIRES_MAX seconds */
    const char *error;             /* ERROR_RESPONSE: "error", else "http_<status>" */
    const char *error_description; /* ERROR_RESPONSE: printable ASCII, bounded, or NULL */
} tpo_par_response;

typedef enum {
    TPO_PAR_OK = 0,
    TPO_PAR_ERROR_RESPONSE, /* the provider refused (out->error set) */
    TPO_PAR_MALFORMED       /* unusable answer; *detail says why */
} tpo_par_result;

/* Parse the PAR endpoint's answer with its HTTP status. Success is HTTP 201
 * (or 200) with a JSON object holding request_uri (a string of visible
 * ASCII starting with a URI scheme, at most TPO_PAR_REQUEST_URI_MAX bytes)
 * and expires_in (an integer, 1..TPO_PAR_EXPIRES_MAX); a body beyond
 * TPO_PAR_BODY_MAX, duplicate members or any other type is MALFORMED. An
 * error status, or an "error" member, is ERROR_RESPONSE. *detail (never a
 * value from the body other than error names, sanitized) says what
 * happened; out's members are set only for the result they belong to. */
tpo_par_result tpo_par_response_parse(apr_pool_t *p, const char *body, apr_size_t len,
                                      int http_status, tpo_par_response *out, const char **detail);

#endif
