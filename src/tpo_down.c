/* SPDX-License-Identifier: Apache-2.0
 * Licensed under the Apache License, Version 2.0 (see LICENSE). */
/* The shared "provider down" record and the login decision (tpo_down.h). */
#include <stdio.h>
#include <string.h>
#include <apr_strings.h>
#include <apr_lib.h>
#include "tpo_down.h"

char *tpo_down_encode(apr_pool_t *p, const tpo_down *d, apr_size_t *len)
{
    char *s = apr_psprintf(p, "d1 %" APR_INT64_T_FMT " %" APR_INT64_T_FMT " %lu",
                           (apr_int64_t)d->since, (apr_int64_t)d->last_failure, d->failures);

    if (len) {
        *len = strlen(s);
    }
    return s;
}

/* digits (1..19) at *c, advancing; 0 on anything else */
static int num(const char **c, const char *end, apr_uint64_t *out)
{
    apr_uint64_t v = 0;
    int n = 0;

    while (*c < end && apr_isdigit(**c)) {
        if (++n > 19) {
            return 0;
        }
        v = v * 10 + (apr_uint64_t)(**c - '0');
        (*c)++;
    }
    *out = v;
    return n > 0;
}

int tpo_down_decode(const char *v, apr_size_t len, tpo_down *d)
{
    const char *c = v, *end = v + len;
    apr_uint64_t since, last, fails;

    memset(d, 0, sizeof(*d));
    if (!v || len < 3 || memcmp(v, "d1 ", 3) != 0) {
        return 0;
    }
    c += 3;
    if (!num(&c, end, &since) || c >= end || *c++ != ' ' || !num(&c, end, &last) || c >= end ||
        *c++ != ' ' || !num(&c, end, &fails) || c != end) {
        return 0;
    }
    if (since == 0 || last < since || since > (apr_uint64_t)APR_INT64_MAX ||
        last > (apr_uint64_t)APR_INT64_MAX || fails > 0xffffffffUL) {
        return 0;
    }
    d->since = (apr_time_t)since;
    d->last_failure = (apr_time_t)last;
    d->failures = (unsigned long)fails;
    return 1;
}

void tpo_down_fail(tpo_down *d, apr_time_t now)
{
    if (d->since == 0 || d->since > now) {
        d->since = now;
        d->failures = 0;
    }
    d->last_failure = now > d->last_failure ? now : d->last_failure;
    if (d->failures < 0xffffffffUL) {
        d->failures++;
    }
}

tpo_down_action tpo_down_decide(const tpo_down *d, apr_time_t now, apr_interval_time_t interval)
{
    apr_time_t last;

    if (!d || d->since == 0) {
        return TPO_DOWN_GO;
    }
    last = d->last_failure > now ? now : d->last_failure;
    return now - last >= interval ? TPO_DOWN_PROBE : TPO_DOWN_REFUSE;
}

long tpo_down_retry_after(const tpo_down *d, apr_time_t now, apr_interval_time_t interval,
                          apr_interval_time_t probe_limit)
{
    apr_time_t last;
    apr_interval_time_t wait;
    long s;

    if (!d || d->since == 0) {
        return 1;
    }
    last = d->last_failure > now ? now : d->last_failure;
    wait = now - last >= interval ? probe_limit : interval - (now - last);
    s = (long)((wait + APR_USEC_PER_SEC - 1) / APR_USEC_PER_SEC);
    return s < 1 ? 1 : s;
}
