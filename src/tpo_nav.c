/* SPDX-License-Identifier: Apache-2.0
 * Licensed under the Apache License, Version 2.0 (see LICENSE). */
/* Navigation vs XHR/fetch detection. */
#include <string.h>
#include <strings.h>
#include "tpo_nav.h"

static int is_ows(char c)
{
    return c == ' ' || c == '\t';
}

/* Does one media range [s, e) (parameters included) name the type t with a
 * quality above zero? */
static int range_is(const char *s, const char *e, const char *t)
{
    size_t tl = strlen(t);
    const char *te, *q;

    while (s < e && is_ows(*s)) {
        s++;
    }
    te = s;
    while (te < e && *te != ';' && !is_ows(*te)) {
        te++;
    }
    if ((size_t)(te - s) != tl || strncasecmp(s, t, tl) != 0) {
        return 0;
    }
    /* "text/html;q=0" says the client does not want HTML */
    for (q = te; q < e; q++) {
        if (*q == ';') {
            const char *v = q + 1;
            while (v < e && is_ows(*v)) {
                v++;
            }
            if (e - v >= 2 && (v[0] == 'q' || v[0] == 'Q') && v[1] == '=') {
                const char *d = v + 2;
                int nonzero = 0;
                for (; d < e && *d != ';' && !is_ows(*d); d++) {
                    if (*d >= '1' && *d <= '9') {
                        nonzero = 1;
                    }
                }
                if (!nonzero) {
                    return 0;
                }
            }
        }
    }
    return 1;
}

static int accept_lists_html(const char *accept)
{
    const char *s = accept;

    while (*s) {
        const char *e = strchr(s, ',');
        if (e == NULL) {
            e = s + strlen(s);
        }
        if (range_is(s, e, "text/html") || range_is(s, e, "application/xhtml+xml")) {
            return 1;
        }
        if (*e == '\0') {
            break;
        }
        s = e + 1;
    }
    return 0;
}

int tpo_is_navigation(const char *method, const char *x_requested_with, const char *sec_fetch_mode,
                      const char *sec_fetch_dest, const char *accept)
{
    if (method == NULL || strcmp(method, "GET") != 0) {
        return 0;
    }
    return tpo_is_form_navigation(x_requested_with, sec_fetch_mode, sec_fetch_dest, accept);
}

int tpo_is_form_navigation(const char *x_requested_with, const char *sec_fetch_mode,
                           const char *sec_fetch_dest, const char *accept)
{
    if (x_requested_with != NULL) {
        return 0;
    }
    if (sec_fetch_mode != NULL && strcasecmp(sec_fetch_mode, "navigate") != 0) {
        return 0;
    }
    if (sec_fetch_dest != NULL && strcasecmp(sec_fetch_dest, "document") != 0 &&
        strcasecmp(sec_fetch_dest, "iframe") != 0) {
        return 0;
    }
    if (accept == NULL || !accept_lists_html(accept)) {
        return 0;
    }
    return 1;
}
