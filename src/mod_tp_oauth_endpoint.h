/* SPDX-License-Identifier: Apache-2.0
 * Licensed under the Apache License, Version 2.0 (see LICENSE). */
/* Layer 4 (endpoint): the one dispatcher of the redirect URI and the
 * endpoints under it (mod_tp_oauth_endpoint.c). */
#ifndef MOD_TP_OAUTH_ENDPOINT_H
#define MOD_TP_OAUTH_ENDPOINT_H

#include "mod_tp_oauth_flows.h"

/* The endpoint of pc this request is for (the redirect URI: the callback;
 * <redirect URI>/info, /refresh, /logout; else a 404 page): its result (OK,
 * DONE or a status, see mod_tp_oauth_base.h); DECLINED when the request is
 * not under pc's redirect URI. */
int tpa_endpoint_route(request_rec *r, tpa_provider_conf *pc);
/* The handler hook: the redirect URI of any provider of this server, also
 * outside protected locations. */
int tpa_endpoint_handler(request_rec *r);

#endif
