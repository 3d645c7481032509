/* SPDX-License-Identifier: Apache-2.0
 * Licensed under the Apache License, Version 2.0 (see LICENSE). */
/* DPoP (RFC 9449) readers of what a hostile server sends: WWW-Authenticate
 * challenges and DPoP-Nonce values; and the session record's DPoP key text
 * (tpo_dpop_key_import). A challenge is read as asking for a nonce only when
 * it names DPoP and use_dpop_nonce; a nonce is accepted only when it is
 * 1..TPO_DPOP_NONCE_MAX NQCHARs, and then goes into a proof that carries it
 * unchanged; an imported key exports and imports again to the same key. */
#include <strings.h>
#include <jansson.h>
#include "fuzz_common.h"
#include "tpo_b64.h"
#include "tpo_dpop.h"

static tpo_dpop_key *key;

/* a case-insensitive substring search */
static int has(const char *s, const char *w)
{
    size_t n = strlen(w);
    for (; *s; s++) {
        if (strncasecmp(s, w, n) == 0) {
            return 1;
        }
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apr_pool_t *p = fuzz_pool();
    fuzz_in in = {data, size, 0};
    unsigned mode = fuzz_byte(&in) % 3;
    size_t len;
    const char *text = fuzz_rest(&in, p, &len), *err = NULL;

    if (!key) {
        fuzz_once_begin();
        CHECK(tpo_dpop_key_generate(fuzz_root, "ES256", &key, &err) == APR_SUCCESS);
        fuzz_once_end();
    }
    if (mode == 0) {
        if (tpo_dpop_www_auth_wants_nonce(text)) {
            CHECK(strlen(text) <= TPO_DPOP_WWW_AUTH_MAX);
            CHECK(has(text, "dpop") && strstr(text, "use_dpop_nonce") != NULL);
        }
    }
    else if (mode == 1) {
        if (tpo_dpop_nonce_ok(text)) {
            const unsigned char *c;
            char *proof;
            const char *dot1, *dot2;
            unsigned char *pl;
            apr_size_t pllen;
            json_t *j;
            json_error_t jerr;

            CHECK(strlen(text) > 0 && strlen(text) <= TPO_DPOP_NONCE_MAX);
            for (c = (const unsigned char *)text; *c; c++) {
                CHECK(*c > 0x20 && *c < 0x7f && *c != '"' && *c != '\\');
            }
            proof = tpo_dpop_proof(p, key, "GET", "https://rs.example/x", "at", text, 0, &err);
            CHECK(proof != NULL);
            dot1 = strchr(proof, '.');
            dot2 = dot1 ? strchr(dot1 + 1, '.') : NULL;
            CHECK(dot2 != NULL);
            pl = tpo_b64url_decode(p, dot1 + 1, (apr_size_t)(dot2 - dot1 - 1), &pllen);
            CHECK(pl != NULL);
            j = json_loadb((const char *)pl, pllen, 0, &jerr);
            CHECK(j != NULL && json_is_string(json_object_get(j, "nonce")) &&
                  strcmp(json_string_value(json_object_get(j, "nonce")), text) == 0);
            json_decref(j);
        }
        else {
            CHECK(tpo_dpop_proof(p, key, "GET", "https://rs.example/x", NULL, text, 0, &err) ==
                  NULL);
        }
    }
    else {
        tpo_dpop_key *k = NULL, *k2 = NULL;
        if (tpo_dpop_key_import(p, text, &k, &err) == APR_SUCCESS) {
            char *again = tpo_dpop_key_export(p, k);
            CHECK(again != NULL);
            CHECK(tpo_dpop_key_import(p, again, &k2, &err) == APR_SUCCESS);
            CHECK(strcmp(k->jkt, k2->jkt) == 0 && strcmp(k->alg, k2->alg) == 0);
        }
        else {
            CHECK(err != NULL && k == NULL);
        }
        (void)tpo_dpop_alg_choose(text);
    }
    apr_pool_destroy(p);
    return 0;
}
