/* SPDX-License-Identifier: Apache-2.0
 * Licensed under the Apache License, Version 2.0 (see LICENSE). */
/* Shared bits of the libFuzzer targets: APR set up once, one pool per input
 * (destroyed after it, so its cleanups run and LeakSanitizer sees the rest),
 * a small reader over the input bytes, and CHECK() for the oracles. */
#ifndef FUZZ_COMMON_H
#define FUZZ_COMMON_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <apr_general.h>
#include <apr_pools.h>
#include <apr_strings.h>
#include <sanitizer/lsan_interface.h>

/* An oracle failed: say which and abort (libFuzzer saves the input). */
#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond);               \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

static apr_pool_t *fuzz_root;

static inline void fuzz_init_apr(void)
{
    if (fuzz_root == NULL) {
        __lsan_disable();
        apr_initialize();
        apr_pool_create(&fuzz_root, NULL);
        __lsan_enable();
    }
}

static inline apr_pool_t *fuzz_pool(void)
{
    apr_pool_t *p;

    fuzz_init_apr();
    apr_pool_create(&p, fuzz_root);
    return p;
}

/* Objects made once for the whole run (keys, caches) live in APR pools,
 * whose memory APR takes with mmap: LeakSanitizer cannot see the pointers
 * in there, so what is allocated between these two calls is not reported. */
static inline void fuzz_once_begin(void)
{
    __lsan_disable();
}
static inline void fuzz_once_end(void)
{
    __lsan_enable();
}

/* Consumes the input front to back. */
typedef struct {
    const uint8_t *d;
    size_t n, pos;
} fuzz_in;

static inline unsigned fuzz_byte(fuzz_in *in)
{
    return in->pos < in->n ? in->d[in->pos++] : 0;
}

/* The bytes up to the next `sep` (or the end) as a NUL-terminated copy in p
 * (embedded NULs stay, *len says how long). */
static inline char *fuzz_part(fuzz_in *in, apr_pool_t *p, uint8_t sep, size_t *len)
{
    size_t st = in->pos, e = st;
    char *s;

    while (e < in->n && in->d[e] != sep)
        e++;
    s = apr_palloc(p, e - st + 1);
    if (e > st)
        memcpy(s, in->d + st, e - st);
    s[e - st] = '\0';
    if (len)
        *len = e - st;
    in->pos = e < in->n ? e + 1 : e;
    return s;
}

/* The rest of the input, NUL-terminated, in p. */
static inline char *fuzz_rest(fuzz_in *in, apr_pool_t *p, size_t *len)
{
    size_t n = in->n - in->pos;
    char *s = apr_palloc(p, n + 1);

    if (n)
        memcpy(s, in->d + in->pos, n);
    s[n] = '\0';
    in->pos = in->n;
    if (len)
        *len = n;
    return s;
}

#endif
