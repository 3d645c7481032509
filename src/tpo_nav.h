/* SPDX-License-Identifier: Apache-2.0
 * Licensed under the Apache License, Version 2.0 (see LICENSE). */
/* Is this request a top-level page navigation (that may be redirected to a
 * login page) or an API call / XHR / fetch (that must get a 401)? */
#ifndef TPO_NAV_H
#define TPO_NAV_H

/* Navigation when all of: method is GET; no X-Requested-With; Sec-Fetch-Mode
 * absent or "navigate"; Sec-Fetch-Dest absent, "document" or "iframe"; Accept
 * present and lists text/html (or application/xhtml+xml). Any argument may be
 * NULL (header absent). Returns 1 for a navigation. */
int tpo_is_navigation(const char *method, const char *x_requested_with, const char *sec_fetch_mode,
                      const char *sec_fetch_dest, const char *accept);
/* The same test without the method: a request of any method that a page
 * navigation made (a form POST submitted by the browser: Sec-Fetch-Mode
 * navigate, Accept lists HTML), not a script's. */
int tpo_is_form_navigation(const char *x_requested_with, const char *sec_fetch_mode,
                           const char *sec_fetch_dest, const char *accept);

#endif
