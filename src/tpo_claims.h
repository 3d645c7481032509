/* SPDX-License-Identifier: Apache-2.0
 * Licensed under the Apache License, Version 2.0 (see LICENSE). */
/* Claims: from the ID token and userinfo to what the application sees.
 *
 * Everything here runs once per login (or userinfo refresh), never per
 * request: the results are stored pre-rendered in the session record.
 *
 * Variables (CGI environment) and request headers (proxied apps) carry the
 * same set:
 *   REMOTE_USER                 <-> <header prefix>User (or TPOAuthUserHeader)
 *   <claim prefix><path>        <-> <header prefix>Claim-<path>
 *   TPO_ACCESS_TOKEN            <-> <header prefix>Access-Token
 *   TPO_ACCESS_TOKEN_EXPIRES    <-> <header prefix>Access-Token-Expires
 *   TPO_SCOPE                   <-> <header prefix>Scope
 *   TPO_CLAIMS (all, JSON)      <-> <header prefix>Claims
 * <path>: nested objects flattened with the separator ("address_country");
 * in variable names characters outside [A-Za-z0-9_] become '_', in header
 * names characters outside [A-Za-z0-9-] become '-'.
 * Arrays of scalars are joined with the delimiter; a delimiter or backslash
 * inside an element is escaped with a backslash. Arrays holding objects are
 * given as JSON.
 * Values: variables keep UTF-8 but control characters become spaces; header
 * values are made of printable ASCII only: '%', control characters and
 * every byte >= 0x80 are percent-encoded (%XX, uppercase), so a header value
 * is decoded exactly like a URL component. */
#ifndef TPO_CLAIMS_H
#define TPO_CLAIMS_H

#include <apr_pools.h>
#include <apr_tables.h>
#include <jansson.h>

typedef struct tpo_claims_render {
    const char *claim_prefix;  /* "TPO_CLAIM_" */
    const char *header_prefix; /* "X-TPO-" */
    const char *user_header;   /* NULL: <header_prefix>User */
    const char *separator;     /* nested objects: "_" */
    const char *delimiter;     /* arrays: "," */
    const char *claims_text;   /* the claims as compact JSON when the caller has it (the
                                * session's copy): TPO_CLAIMS then needs no second dump */
} tpo_claims_render;

typedef struct tpo_claims_out {
    apr_array_header_t *env;     /* name,value pairs (const char*) */
    apr_array_header_t *headers; /* name,value pairs (const char*) */
} tpo_claims_out;

/* Render user, claims, access token, its expiry (epoch seconds, 0 unknown)
 * and scope into variables and headers. access_token NULL: not exported. */
void tpo_claims_render_all(apr_pool_t *p, const tpo_claims_render *cfg, const char *user,
                           json_t *claims, const char *access_token, long long at_expires,
                           const char *scope, tpo_claims_out *out);

/* Names. Two claims that flatten to the same variable or header name (as
 * {"a":{"b":1}} and "a_b") are not both exported: the first keeps it, the
 * later one is left out (both its variable and its header) with a warning.
 * A claim never takes one of the module's own names (TPO_CLAIMS, ...), and
 * a variable name that steers programs (tpo_claims_env_name_dangerous) is
 * never set. */

/* 1 for PATH, HOME, SHELL, IFS, LD_*, HTTP_*, REMOTE_USER and the like
 * (any case). */
int tpo_claims_env_name_dangerous(const char *name);

/* Configuration checks: NULL when the prefix is fine, else the reason.
 * A variable prefix is non-empty, [A-Za-z0-9_] not starting with a digit,
 * and no claim name can complete it to a dangerous name (so "LD_", "P",
 * "HTTP_" are refused). A header prefix is non-empty, [A-Za-z0-9-]. */
const char *tpo_claims_env_prefix_problem(apr_pool_t *p, const char *prefix);
const char *tpo_claims_header_prefix_problem(apr_pool_t *p, const char *prefix);

/* Percent-encode a header value as described above. */
char *tpo_claims_header_value(apr_pool_t *p, const char *v);
/* Control characters -> ' ' */
char *tpo_claims_env_value(apr_pool_t *p, const char *v);

/* The claim at a dotted path ("address.country"), or NULL. */
json_t *tpo_claims_path(json_t *claims, const char *path);

/* 1 if the claim at path equals value (a string, or a number/boolean in
 * its JSON text), or is an array with such an element. */
int tpo_claims_match(json_t *claims, const char *path, const char *value);

/* Merge userinfo into the ID token's claims: userinfo adds and overrides
 * profile claims; the protocol claims (iss sub aud exp iat nbf nonce azp
 * auth_time at_hash c_hash acr amr sid jti) always stay the ID token's.
 * Returns 0 when both have "sub" and they differ (OIDC Core 5.3.2: the
 * userinfo must then not be used), else 1. idt may be NULL. */
int tpo_claims_merge(json_t *idt, json_t *userinfo);

/* Keep only the allowed claims (allow NULL or empty: all), then drop the
 * denied ones. "sub" is always kept. Lists are NULL-terminated. */
void tpo_claims_filter(json_t *claims, const char *const *allow, const char *const *deny);

/* The scalar's text ("true", "42", the string) or NULL for objects/arrays/null. */
const char *tpo_claims_scalar(apr_pool_t *p, json_t *v);

#endif
