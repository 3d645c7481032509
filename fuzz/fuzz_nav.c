/* SPDX-License-Identifier: Apache-2.0
 * Licensed under the Apache License, Version 2.0 (see LICENSE). */
/* Navigation detection on hostile header values: never a navigation unless
 * the method is GET, there is no X-Requested-With and Accept is present;
 * the answer does not depend on anything past the values' ends. */
#include "fuzz_common.h"
#include <strings.h>
#include "tpo_nav.h"

/* "\x01" as a whole field means "header absent" */
static const char *field(fuzz_in *in, apr_pool_t *p)
{
    const char *s = fuzz_part(in, p, '\n', NULL);
    return strcmp(s, "\x01") == 0 ? NULL : s;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apr_pool_t *p = fuzz_pool();
    fuzz_in in = {data, size, 0};
    const char *method = field(&in, p), *xrw = field(&in, p), *mode = field(&in, p);
    const char *dest = field(&in, p), *accept = field(&in, p);
    int nav = tpo_is_navigation(method, xrw, mode, dest, accept);

    CHECK(nav == 0 || nav == 1);
    if (nav) {
        CHECK(method != NULL && strcmp(method, "GET") == 0);
        CHECK(xrw == NULL);
        CHECK(accept != NULL);
        CHECK(mode == NULL || strcasecmp(mode, "navigate") == 0);
    }
    /* same answer on copies (no reads past the NUL) */
    CHECK(nav == tpo_is_navigation(
                     method ? apr_pstrdup(p, method) : NULL, xrw ? apr_pstrdup(p, xrw) : NULL,
                     mode ? apr_pstrdup(p, mode) : NULL, dest ? apr_pstrdup(p, dest) : NULL,
                     accept ? apr_pstrdup(p, accept) : NULL));
    apr_pool_destroy(p);
    return 0;
}
