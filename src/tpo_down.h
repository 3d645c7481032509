/* SPDX-License-Identifier: Apache-2.0
 * Licensed under the Apache License, Version 2.0 (see LICENSE). */
/* A provider that is down: the small record every child process (and every
 * server sharing the cache) reads from the session cache, and the decision a
 * new login takes from it. The record is written after a failed back-channel
 * call (unreachable, timeout, 5xx) and removed after a successful one. */
#ifndef TPO_DOWN_H
#define TPO_DOWN_H

#include <apr_pools.h>
#include <apr_time.h>

typedef struct tpo_down {
    apr_time_t since;        /* first failure of this outage */
    apr_time_t last_failure; /* latest failure (a failed probe included) */
    unsigned long failures;  /* failures counted in this outage */
} tpo_down;

/* The record as cache bytes ("d1 <since> <last> <failures>"), NUL-terminated. */
char *tpo_down_encode(apr_pool_t *p, const tpo_down *d, apr_size_t *len);
/* 1 and *d from exactly what tpo_down_encode writes (since <= last, both
 * > 0), else 0 (the record is then treated as absent). */
int tpo_down_decode(const char *v, apr_size_t len, tpo_down *d);

/* A failure at now: a new outage when d is NULL-like (since == 0). */
void tpo_down_fail(tpo_down *d, apr_time_t now);

typedef enum {
    TPO_DOWN_GO = 0, /* no outage known: log in as usual */
    TPO_DOWN_PROBE,  /* down, and a probe is due: whoever claims it probes */
    TPO_DOWN_REFUSE  /* down, probed recently: 503 */
} tpo_down_action;

/* What a new login does; d NULL: no record. A last failure in the future
 * (clocks of several servers) counts as now. */
tpo_down_action tpo_down_decide(const tpo_down *d, apr_time_t now, apr_interval_time_t interval);

/* Seconds for Retry-After when refusing: until the next probe is due, or,
 * when one is due (another request is probing), the probe's time limit;
 * at least 1, at most interval + probe_limit rounded up. */
long tpo_down_retry_after(const tpo_down *d, apr_time_t now, apr_interval_time_t interval,
                          apr_interval_time_t probe_limit);

#endif
