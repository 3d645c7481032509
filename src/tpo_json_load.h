/* SPDX-License-Identifier: Apache-2.0
 * Licensed under the Apache License, Version 2.0 (see LICENSE). */
/* JSON documents of the login path (token responses, JOSE headers and
 * payloads, userinfo) parsed, and the session's claims written, at a
 * fraction of jansson's cost per byte.
 *
 * tpo_json_loadb() is json_loadb() for what providers send: a fast parser
 * handles the common subset (objects, arrays, strings with the short escapes
 * \" \\ \/ \b \f \n \r \t and valid UTF-8, integers of up to 18 digits, true,
 * false, null, nesting up to 64) and builds the same jansson values; any
 * other input (\u escapes, reals, longer integers, deeper nesting, a
 * duplicate key with JSON_REJECT_DUPLICATES, anything malformed) goes to
 * json_loadb() itself, which decides and words the error. So the result is
 * always json_loadb()'s (fuzz/fuzz_json.c compares the two). Only flags 0 and
 * JSON_REJECT_DUPLICATES take the fast path; others go to json_loadb(). */
#ifndef TPO_JSON_LOAD_H
#define TPO_JSON_LOAD_H

#include <stddef.h>
#include <apr_pools.h>
#include <jansson.h>

json_t *tpo_json_loadb(const char *buf, size_t len, size_t flags, json_error_t *error);

/* The fast parser alone: NULL where tpo_json_loadb() would ask jansson
 * (for the tests). */
json_t *tpo_json_fast_loadb(const char *buf, size_t len, size_t flags);

/* json_dumps(v, JSON_COMPACT) into p: the same text (fuzz/fuzz_json.c
 * compares them), written directly for objects, arrays, strings, integers,
 * true, false and null nested up to 64 deep; a document with a real (or
 * deeper) is left to json_dumps. NULL where json_dumps fails. */
char *tpo_json_dump_compact(apr_pool_t *p, const json_t *v);

#endif
