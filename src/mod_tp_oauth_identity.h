/* SPDX-License-Identifier: Apache-2.0
 * Licensed under the Apache License, Version 2.0 (see LICENSE). */
/* Layer 2 (services): what the application sees (mod_tp_oauth_identity.c):
 * the exported identity, the removal of client headers that could
 * impersonate it, the pass-through fixup. */
#ifndef MOD_TP_OAUTH_IDENTITY_H
#define MOD_TP_OAUTH_IDENTITY_H

#include "mod_tp_oauth_session.h"

void tpa_identity_export(request_rec *r, tpa_provider_conf *pc, struct tpo_session *s);
int tpa_strip_headers(request_rec *r);
int tpa_strip_dir_headers(request_rec *r);
int tpa_pass_fixups(request_rec *r);

#endif
