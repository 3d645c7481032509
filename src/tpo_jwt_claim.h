/* SPDX-License-Identifier: Apache-2.0
 * Licensed under the Apache License, Version 2.0 (see LICENSE). */
/* Reading the claims of a verified JWT (ID tokens, logout tokens, access
 * tokens) and quoting their values for failure details. */
#ifndef TPO_JWT_CLAIM_H
#define TPO_JWT_CLAIM_H

#include <apr_pools.h>
#include <jansson.h>

/* A value made safe for a log line or a failure detail: in double quotes,
 * printable ASCII only (the rest, quotes and backslashes as \xNN), at most
 * max bytes of s (then "..."). */
const char *tpo_jwt_quote(apr_pool_t *p, apr_size_t max, const char *s);

/* A NumericDate claim: 0 absent, 1 present (*out set), -1 not a number. */
int tpo_jwt_claim_time(json_t *claims, const char *name, double *out);

/* A string claim without embedded NUL: 0 absent, 1 present (*out set),
 * -1 another type. */
int tpo_jwt_claim_string(json_t *claims, const char *name, const char **out);

#endif
