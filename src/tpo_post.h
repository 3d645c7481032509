/* SPDX-License-Identifier: Apache-2.0
 * Licensed under the Apache License, Version 2.0 (see LICENSE). */
/* A form POST kept across a login (TPOAuthPreservePost): what the core
 * knows of it. The body is kept server-side, byte for byte, in a record
 * (this codec) under a random id that the sealed pending login carries;
 * after the login the browser is given a page whose form posts only that
 * id back (one field, TPO_POST_FIELD=<id>, which every browser sends
 * unchanged), and the module puts the kept bytes and their Content-Type
 * in place of that body before the application reads it. So the
 * application receives exactly the bytes the browser first sent (field
 * order, '+' or %20, empty values, repeated names, any byte), whatever the
 * form's encoding: application/x-www-form-urlencoded and multipart/form-data
 * both. Nothing here touches httpd. */
#ifndef TPO_POST_H
#define TPO_POST_H

#include <apr_pools.h>
#include <apr_time.h>
#include <apr_errno.h>

/* The largest body TPOAuthPreservePost accepts as its limit: it must fit a
 * memcached item (1 MB by default) with the record's and the encryption's
 * overhead. */
#define TPO_POST_MAX_BYTES (512 * 1024)
/* The one field of the replay form, and its value: 32 random bytes,
 * base64url (43 characters, unchanged by any form encoding). */
#define TPO_POST_FIELD "tpo_post_replay"
#define TPO_POST_ID_LEN 43
/* The exact length of a replay body: TPO_POST_FIELD=<id> */
#define TPO_POST_MARKER_LEN (sizeof(TPO_POST_FIELD) - 1 + 1 + TPO_POST_ID_LEN)

/* "off" -> 0; else a byte count (digits, optional K or M suffix) between 1
 * and TPO_POST_MAX_BYTES. NULL on success, else what is wrong. */
const char *tpo_post_limit_parse(const char *arg, long *out);

/* The form encodings a kept POST may have (the media type of Content-Type,
 * case-insensitively, parameters ignored). */
#define TPO_POST_FORM_NONE 0
#define TPO_POST_FORM_URLENCODED 1 /* application/x-www-form-urlencoded */
#define TPO_POST_FORM_MULTIPART 2  /* multipart/form-data */
int tpo_post_form_type(const char *content_type);

/* Did a page of this server's own origin send the form? Only then is a POST
 * kept: a form another site submits (which a SameSite cookie keeps from
 * being sent with the session) must not come back after the login with
 * one. Sec-Fetch-Site decides when present (only "same-origin"); else
 * Origin (equal to own_origin, "scheme://host[:port]"); else Referer (on
 * own_origin). With none of them: 0 (nothing shows where it came from). */
int tpo_post_same_origin(const char *sec_fetch_site, const char *origin, const char *referer,
                         const char *own_origin);

/* The body of the replay form for id (TPO_POST_FIELD=<id>). */
char *tpo_post_marker_body(apr_pool_t *p, const char *id);
/* The id in a replay body, or NULL when body[0..len) is anything else. */
const char *tpo_post_marker_id(apr_pool_t *p, const char *body, apr_size_t len);
/* 1 when id has the shape of a kept POST's id (TPO_POST_ID_LEN base64url
 * characters). */
int tpo_post_id_ok(const char *id);

/* The kept POST. */
typedef struct tpo_post_rec {
    apr_time_t created;
    apr_time_t expires;
    const char *url;          /* the local URL (path and query) it was posted to */
    const char *content_type; /* as the browser sent it */
    const char *session;      /* handle of the session that may replay it; NULL
                                 until the login that kept it completed */
    const char *body;         /* body_len bytes, any byte (NUL-terminated copy) */
    apr_size_t body_len;
} tpo_post_rec;

char *tpo_post_encode(apr_pool_t *p, const tpo_post_rec *rec, apr_size_t *len);
/* buf must stay alive (the strings point into it, the body too). APR_EINVAL
 * on a bad record or a missing field. */
apr_status_t tpo_post_decode(apr_pool_t *p, const char *buf, apr_size_t len, tpo_post_rec *out);

/* One field of an HTML form: any bytes in name and value (escaped). */
typedef struct tpo_form_field {
    const char *name;
    const char *value;
} tpo_form_field;

/* The page that replays a kept POST: a form (method=post to action,
 * application/x-www-form-urlencoded) with the fields as hidden inputs, a
 * visible submit button (no JavaScript needed) and an inline script that
 * submits it at once, allowed by its nonce (the page's
 * Content-Security-Policy names it: tpo_post_page_csp). Everything that goes
 * in is HTML-escaped. nonce: base64url characters only, else NULL (no
 * script). */
char *tpo_post_page(apr_pool_t *p, const char *action, const tpo_form_field *fields, int nfields,
                    const char *nonce);
/* The Content-Security-Policy for that page. */
char *tpo_post_page_csp(apr_pool_t *p, const char *nonce);

#endif
