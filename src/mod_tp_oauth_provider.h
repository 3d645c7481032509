/* SPDX-License-Identifier: Apache-2.0
 * Licensed under the Apache License, Version 2.0 (see LICENSE). */
/* Layer 2 (services): per-process provider state (mod_tp_oauth_provider.c):
 * metadata, JWKS, the client's requests to the provider. */
#ifndef MOD_TP_OAUTH_PROVIDER_H
#define MOD_TP_OAUTH_PROVIDER_H

#include "mod_tp_oauth_page.h"

struct tpo_http_opts;
struct tpo_http_response;
struct tpo_provider_meta;
struct tpo_jwks;
struct json_t;
struct tpo_dpop_key;

typedef enum { TPA_RT_OK = 0, TPA_RT_UNAVAILABLE, TPA_RT_TIMEOUT } tpa_rt_status;
void tpa_provider_child_init(apr_pool_t *pchild, server_rec *s);
/* Effective endpoints: from configuration, else from discovery (fetched once
 * per process, refetched after a failure with a back-off). */
tpa_rt_status tpa_provider_meta_get(request_rec *r, tpa_provider_conf *pc,
                                    const struct tpo_provider_meta **meta);
/* The provider's JWKS, fetched on first use; force_refresh asks for a refetch
 * (rate-limited). Release with tpa_provider_jwks_release. */
tpa_rt_status tpa_provider_jwks_acquire(request_rec *r, tpa_provider_conf *pc, int force_refresh,
                                        const struct tpo_jwks **jwks, void **handle);
void tpa_provider_jwks_release(tpa_provider_conf *pc, void *handle);
/* mod_tp_oauth_jwks_share.c: the JWK Set shared by the processes through
 * the session cache (keyed by a hash of the JWKS URI), so that unknown kids
 * make at most one fetch per TPOAuthJWKSRefetchInterval in all. get: APR_SUCCESS with the document when
 * one fetched after `newer_than` is there; gate: 1 when this process may
 * fetch now (no process did within the interval); put: store a fetched one. */
apr_status_t tpa_provider_jwks_shared_get(request_rec *r, tpa_provider_conf *pc, const char *uri,
                                          apr_time_t newer_than, char **json, apr_size_t *len,
                                          apr_time_t *fetched_at);
int tpa_provider_jwks_shared_gate(request_rec *r, tpa_provider_conf *pc, const char *uri);
void tpa_provider_jwks_shared_put(request_rec *r, tpa_provider_conf *pc, const char *uri,
                                  const char *json, apr_size_t len, apr_time_t fetched_at);
void tpa_provider_http_opts(const tpa_provider_conf *pc, struct tpo_http_opts *o);
/* The client authentication of a call to the provider's url (token,
 * revocation, introspection, PAR, ...): the one place that turns the
 * provider's configuration into a tpo_client_cred; tpo_client_auth_build
 * makes the body parameters and the Authorization header from it (a fresh
 * assertion each time), tpa_provider_http_opts the client certificate. */
struct tpo_client_cred;
void tpa_provider_client_cred(request_rec *r, tpa_provider_conf *pc, const char *url,
                              struct tpo_client_cred *cred);
/* A POST with the client's authentication (tpa_provider_client_cred). */
int tpa_provider_client_post(request_rec *r, tpa_provider_conf *pc, const char *url,
                             const apr_array_header_t *params, struct tpo_http_response *resp);
/* A token request (tpa_provider_client_post) with a DPoP proof of dpop's
 * (NULL: none); a use_dpop_nonce answer is tried once more with the nonce the
 * provider sent (RFC 9449 8). */
int tpa_provider_token_post(request_rec *r, tpa_provider_conf *pc, const char *url,
                            const apr_array_header_t *params, const struct tpo_dpop_key *dpop,
                            struct tpo_http_response *resp);
/* A GET to a resource of the provider (userinfo) with the access token:
 * Authorization: Bearer, or DPoP with a proof of dpop's; a 401 asking for a
 * DPoP nonce (WWW-Authenticate error=use_dpop_nonce) is tried once more with
 * the nonce the server sent. */
int tpa_provider_resource_get(request_rec *r, tpa_provider_conf *pc, const char *url,
                              const char *access_token, const struct tpo_dpop_key *dpop,
                              struct tpo_http_response *resp);
/* The latest DPoP-Nonce of the provider's authorization server (token
 * endpoint) or resource server (userinfo), per process; NULL none. note
 * keeps a usable one. */
typedef enum { TPA_DPOP_AS = 0, TPA_DPOP_RS = 1 } tpa_dpop_server;
const char *tpa_provider_dpop_nonce(request_rec *r, tpa_provider_conf *pc, tpa_dpop_server srv);
void tpa_provider_dpop_nonce_note(tpa_provider_conf *pc, tpa_dpop_server srv, const char *nonce);
/* mod_tp_oauth_par.c: a pushed authorization request (RFC 9126): params
 * (the authorization request's name,value pairs) POSTed to endpoint with the
 * client's authentication. OK with *request_uri; else the status (502, or
 * 504 on a timeout) with *fail describing the page (logged; nothing
 * written). */
int tpa_provider_par(request_rec *r, tpa_provider_conf *pc, const char *endpoint,
                     const apr_array_header_t *params, const char **request_uri, tpa_answer *fail);
/* Validates an ID token with the provider's keys (refetched once when none
 * fits). OK, or a status (logged; nothing written): 401 rejected, 502/504
 * keys unavailable. */
int tpa_provider_validate_id_token(request_rec *r, tpa_provider_conf *pc,
                                   const struct tpo_provider_meta *meta, const char *id_token,
                                   const char *nonce, struct json_t **claims);

/* A provider that is down (mod_tp_oauth_provider_down.c). A failed call to
 * the provider's back channel (unreachable, timeout, 5xx; discovery, JWKS or
 * a client POST) reports failed = 1; a client POST that got an answer below
 * 500 (and the probe) report 0, which ends the outage. The state is shared
 * through the session cache. */
void tpa_provider_down_note(request_rec *r, tpa_provider_conf *pc, int failed);
/* Before a new login: 0 go on; 1 the provider is down (set Retry-After to
 * *retry_after seconds and answer 503). May probe the provider (bounded by
 * TPOAuthHTTPTimeout, at most one probe per TPO_DOWN_PROBE_INTERVAL_S). */
int tpa_provider_down_check(request_rec *r, tpa_provider_conf *pc, long *retry_after);

#endif
