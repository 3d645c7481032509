/* SPDX-License-Identifier: Apache-2.0
 * Licensed under the Apache License, Version 2.0 (see LICENSE). */
/* Layer 4 (endpoint): the one dispatcher of the redirect URI and the
 * endpoints under it (mod_tp_oauth_endpoint.c). */
#ifndef MOD_TP_OAUTH_ENDPOINT_H
#define MOD_TP_OAUTH_ENDPOINT_H

#include "mod_tp_oauth_flows.h"

/* 1 when the request is for the redirect URI (*sub = NULL) or a path under
 * it ("<redirect URI>/info": *sub = "info"). */
int tpa_is_redirect_uri(request_rec *r, tpa_provider_conf *pc, const char **sub);
/* The endpoint sub (NULL: the callback) of provider pc. */
int tpa_endpoint_dispatch(request_rec *r, tpa_provider_conf *pc, const char *sub);
/* The handler hook: the redirect URI of any provider of this server, also
 * outside protected locations. */
int tpa_endpoint_handler(request_rec *r);

#endif
