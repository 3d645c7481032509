/* SPDX-License-Identifier: Apache-2.0
 * Licensed under the Apache License, Version 2.0 (see LICENSE). */
/* Token endpoint requests and responses (RFC 6749 sections 4.1.3, 5, 6)
 * with the accents of providers that do not follow it to the letter
 * (README.md, TPOAuthTokenRequestEncoding): JSON request bodies, expires_in as a string,
 * a duration ("1d") or an absolute epoch, expires_at as ISO-8601,
 * error_code/message errors, scopes as an array. */
#ifndef TPO_TOKEN_H
#define TPO_TOKEN_H

#include <apr_pools.h>
#include <apr_tables.h>
#include <apr_time.h>
#include <jansson.h>

typedef enum {
    TPO_TOKEN_ENC_FORM = 0, /* application/x-www-form-urlencoded (default) */
    TPO_TOKEN_ENC_JSON      /* application/json */
} tpo_token_encoding;

typedef enum {
    TPO_CLIENT_AUTH_BASIC = 0,       /* client_secret_basic (default) */
    TPO_CLIENT_AUTH_POST,            /* client_secret_post: id + secret in the body */
    TPO_CLIENT_AUTH_NONE,            /* public client: client_id in the body only */
    TPO_CLIENT_AUTH_SECRET_JWT,      /* client_secret_jwt: HS256 assertion (RFC 7523) */
    TPO_CLIENT_AUTH_PRIVATE_KEY_JWT, /* private_key_jwt: assertion signed with our key */
    TPO_CLIENT_AUTH_TLS,             /* tls_client_auth (RFC 8705 2.1): PKI certificate */
    TPO_CLIENT_AUTH_SELF_SIGNED_TLS  /* self_signed_tls_client_auth (RFC 8705 2.2) */
} tpo_client_auth;

/* The protocol name of a method ("client_secret_basic", ...). */
const char *tpo_client_auth_name(tpo_client_auth auth);

struct tpo_client_key;

/* Everything the client authentication of one request needs: the one input
 * of tpo_client_auth_build, for every client-authenticated call to the
 * provider (token, refresh, revocation, introspection, client credentials,
 * pushed authorization requests). */
typedef struct tpo_client_cred {
    tpo_client_auth auth;
    const char *client_id;
    const char *client_secret;        /* basic, post, client_secret_jwt */
    const struct tpo_client_key *key; /* private_key_jwt: the key that signs */
    const char *audience;             /* *_jwt: the assertion's aud */
    int assertion_lifetime;           /* *_jwt: seconds until exp */
    apr_time_t now;                   /* *_jwt: iat (0: apr_time_now()) */
} tpo_client_cred;

/* Client authentication for one request: body parameters (name/value pairs
 * appended to params: client_id, client_secret, client_assertion_type,
 * client_assertion) and/or the Authorization header value (*authorization,
 * "Basic ..." or NULL). The TLS methods only name the client in the body:
 * the certificate goes with the connection (tpo_http_opts). Each JWT method
 * call makes a new assertion (a new jti). 0, or -1 with *err. */
int tpo_client_auth_build(apr_pool_t *p, const tpo_client_cred *cred, apr_array_header_t *params,
                          const char **authorization, const char **err);

typedef struct tpo_token_request {
    const char *content_type; /* "application/x-www-form-urlencoded" or "application/json" */
    const char *body;         /* NULL when the request cannot be built (error says why) */
    apr_size_t body_len;
    const char *authorization; /* "Basic ..." or NULL */
    const char *error;         /* why body is NULL */
} tpo_token_request;

/* Build a token request.
 * params: name/value pairs in order (grant_type, code, redirect_uri,
 *   code_verifier, refresh_token, scope, ...), values NULL are skipped.
 * With JSON encoding, client credentials go into the body unless auth is
 * BASIC (then header too and not in body). With BASIC, id and secret are
 * form-urlencoded before base64 (RFC 6749 2.3.1). A client_id among params
 * (a pushed authorization request's) is not added a second time. */
void tpo_token_request_build(
    apr_pool_t *p, tpo_token_encoding enc, tpo_client_auth auth, const char *client_id,
    const char *client_secret,
    const apr_array_header_t *params, /* of const char* pairs: n0,v0,n1,v1,... */
    tpo_token_request *out);

/* The same with every client authentication method (tpo_client_auth_build). */
void tpo_token_request_build_cred(apr_pool_t *p, tpo_token_encoding enc,
                                  const tpo_client_cred *cred, const apr_array_header_t *params,
                                  tpo_token_request *out);

typedef struct tpo_token_response {
    const char *access_token;
    const char *refresh_token; /* NULL when absent */
    const char *id_token;      /* NULL when absent */
    const char *token_type;    /* "Bearer", "DPoP" (RFC 9449) or NULL when absent */
    const char *scope;         /* space-separated; from "scope" string or "scope"/"scopes" array */
    apr_time_t expires_at;     /* absolute; 0 when the response says nothing */
    const char *error;         /* "error" or "error_code" when the response is an error */
    const char *error_description; /* "error_description", "errorDescription" or "message" */
    json_t *json;                  /* whole response (decref'd by pool cleanup) */
} tpo_token_response;

typedef enum {
    TPO_TOKEN_OK = 0,
    TPO_TOKEN_ERROR_RESPONSE, /* provider said error (out->error set) */
    TPO_TOKEN_MALFORMED       /* not JSON / no access_token / wrong types; *detail says */
} tpo_token_result;

/* Parse a token endpoint response body with its HTTP status.
 * Expiry rules, first match wins:
 *   expires_in: number or numeric string: if larger than now (seconds since
 *     epoch), an absolute epoch; else a duration in seconds;
 *   expires_in: duration string "<n>[smhd]" (e.g. "1d", "30m");
 *   expires_at: number (epoch seconds) or ISO-8601 "YYYY-MM-DDTHH:MM:SS[.fff][Z|+hh:mm]"
 *     (no zone means UTC);
 *   otherwise 0.
 * A negative, zero-length or absurd (> 10 years) lifetime is MALFORMED. */
tpo_token_result tpo_token_response_parse(apr_pool_t *p, const char *body, apr_size_t len,
                                          int http_status, apr_time_t now, tpo_token_response *out,
                                          const char **detail);

/* Whether an error answer to a refresh-token grant refuses the refresh token
 * for good (the session ends) rather than for now: HTTP 400 or 401 with
 * error invalid_grant, invalid_request or unauthorized_client (compared
 * without case: Xendit says INVALID_GRANT). Providers answer an unknown,
 * expired, revoked or reused refresh token with these. Anything else (408,
 * 429, 5xx whatever the body says, invalid_client, temporarily_unavailable,
 * an unreadable answer) is temporary: the session stays. */
int tpo_token_refresh_refused(int http_status, const char *error);

/* Whether the space-separated scope list (RFC 6749 3.3) holds word as a
 * whole scope token (case-sensitive). NULL scope: no. */
int tpo_scope_has(const char *scope, const char *word);

/* Parse "<n>[smhd]" or plain digits into seconds; -1 if invalid. */
long long tpo_token_parse_duration(const char *s);

/* Parse ISO-8601 date-time into apr_time_t; 0 if invalid. */
apr_time_t tpo_token_parse_iso8601(const char *s);

#endif
