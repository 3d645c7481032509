/* SPDX-License-Identifier: Apache-2.0
 * Licensed under the Apache License, Version 2.0 (see LICENSE). */
/* Layer 5 (hooks): the request hooks that decide who the user is and what
 * they may do (mod_tp_oauth_authn.c, mod_tp_oauth_authz.c). Only
 * mod_tp_oauth.c (layer 6) includes this. */
#ifndef MOD_TP_OAUTH_HOOKS_H
#define MOD_TP_OAUTH_HOOKS_H

#include "mod_tp_oauth_endpoint.h"

/* mod_tp_oauth_authn.c */
int tpa_check_authn(request_rec *r);

/* mod_tp_oauth_authz.c: Require oauth-claim / oauth-scope */
void tpa_authz_register(apr_pool_t *p);
int tpa_authz_note_failure(request_rec *r);

#endif
