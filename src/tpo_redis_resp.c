/* SPDX-License-Identifier: Apache-2.0
 * Licensed under the Apache License, Version 2.0 (see LICENSE). */
/* RESP2 commands and replies for the Redis cache backend (see
 * tpo_redis_resp.h). */
#include <string.h>
#include <apr_strings.h>
#include "tpo_redis_resp.h"
#include "tpo_log.h"


/* Send one command as a RESP array of bulk strings. */
apr_status_t tpo_resp_send(tpo_netconn *conn, int argc, const void *const *argv,
                           const apr_size_t *argl)
{
    struct iovec v[1 + 3 * RS_MAX_ARGS];
    char hdr[RS_MAX_ARGS + 1][24];
    int i, n = 0;

    v[n].iov_base = hdr[0];
    v[n++].iov_len = (apr_size_t)apr_snprintf(hdr[0], sizeof(hdr[0]), "*%d\r\n", argc);
    for (i = 0; i < argc; i++) {
        v[n].iov_base = hdr[i + 1];
        v[n++].iov_len = (apr_size_t)apr_snprintf(hdr[i + 1], sizeof(hdr[i + 1]),
                                                  "$%" APR_SIZE_T_FMT "\r\n", argl[i]);
        v[n].iov_base = (void *)argv[i];
        v[n++].iov_len = argl[i];
        v[n].iov_base = (void *)"\r\n";
        v[n++].iov_len = 2;
    }
    return tpo_netconn_send(conn, v, n);
}

/* Strict decimal: optional '-' (when allowed), digits only, no overflow. */
int tpo_resp_parse_int(const char *s, apr_size_t n, int allow_neg, apr_int64_t *out)
{
    apr_int64_t v = 0;
    apr_size_t i = 0;
    int neg = 0;

    if (allow_neg && n > 0 && s[0] == '-') {
        neg = 1;
        i = 1;
    }
    if (i == n || n - i > 18)
        return 0;
    for (; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return 0;
        v = v * 10 + (s[i] - '0');
    }
    *out = neg ? -v : v;
    return 1;
}

/* The first word of a status or error line, printable ASCII only: Redis
 * errors can quote command arguments, so nothing past the code is kept. */
void tpo_resp_first_word(const char *s, apr_size_t n, char *out, apr_size_t outsz)
{
    apr_size_t i;

    for (i = 0; i < n && i + 1 < outsz; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch <= 0x20 || ch >= 0x7f)
            break;
        out[i] = (char)ch;
    }
    out[i] = '\0';
}

/* Read one reply; bulk strings of any size when p is given, else only
 * short ones (into r->small). An array is only its header (R_ARRAY and the
 * count): the caller reads the elements. */
apr_status_t tpo_resp_read(tpo_netconn *conn, apr_pool_t *p, rs_reply *r)
{
    char *line, crlf[2];
    apr_size_t len;
    apr_int64_t n;
    apr_status_t rv = tpo_netconn_line(conn, &line, &len);

    if (rv != APR_SUCCESS)
        return rv;
    if (len == 0)
        return tpo_netconn_proto_error(conn, "empty reply line");
    switch (line[0]) {
    case '+':
        r->type = R_SIMPLE;
        tpo_resp_first_word(line + 1, len - 1, r->word, sizeof(r->word));
        return APR_SUCCESS;
    case '-':
        r->type = R_ERROR;
        tpo_resp_first_word(line + 1, len - 1, r->word, sizeof(r->word));
        return APR_SUCCESS;
    case ':':
        if (!tpo_resp_parse_int(line + 1, len - 1, 1, &r->num)) {
            return tpo_netconn_proto_error(conn, "bad integer");
        }
        r->type = R_INT;
        return APR_SUCCESS;
    case '*':
        if (len == 3 && line[1] == '-' && line[2] == '1') {
            r->type = R_ARRAY;
            r->num = -1;
            return APR_SUCCESS;
        }
        if (!tpo_resp_parse_int(line + 1, len - 1, 0, &n) || n > RS_MAX_ELEMS) {
            return tpo_netconn_proto_error(conn, "array length out of bounds");
        }
        r->type = R_ARRAY;
        r->num = n;
        return APR_SUCCESS;
    case '$':
        if (len == 3 && line[1] == '-' && line[2] == '1') {
            r->type = R_NIL;
            return APR_SUCCESS;
        }
        if (!tpo_resp_parse_int(line + 1, len - 1, 0, &n) || n > (apr_int64_t)RS_MAX_BULK) {
            return tpo_netconn_proto_error(conn, "bulk length out of bounds");
        }
        if (p == NULL && n >= (apr_int64_t)sizeof(r->small))
            return tpo_netconn_proto_error(conn, "unexpected bulk reply");
        r->type = R_BULK;
        r->len = (apr_size_t)n;
        r->bulk = p ? apr_palloc(p, r->len + 1) : r->small;
        rv = tpo_netconn_read(conn, r->bulk, r->len);
        if (rv == APR_SUCCESS)
            rv = tpo_netconn_read(conn, crlf, 2);
        if (rv != APR_SUCCESS)
            return rv;
        if (crlf[0] != '\r' || crlf[1] != '\n') {
            return tpo_netconn_proto_error(conn, "bulk not CRLF-terminated");
        }
        r->bulk[r->len] = '\0';
        return APR_SUCCESS;
    default:
        return tpo_netconn_proto_error(conn, "unexpected reply type");
    }
}

/* Read and drop the elements of an array (its header read into r). */
apr_status_t tpo_resp_skip(tpo_netconn *conn, const rs_reply *r, int depth)
{
    apr_int64_t i;

    if (r->type != R_ARRAY || r->num <= 0)
        return APR_SUCCESS;
    if (depth >= RS_MAX_NEST)
        return tpo_netconn_proto_error(conn, "arrays nested too deep");
    for (i = 0; i < r->num; i++) {
        rs_reply e;
        apr_status_t rv = tpo_resp_read(conn, NULL, &e);
        if (rv == APR_SUCCESS)
            rv = tpo_resp_skip(conn, &e, depth + 1);
        if (rv != APR_SUCCESS)
            return rv;
    }
    return APR_SUCCESS;
}

/* An error reply: the server is fine, the connection is not reused. */
apr_status_t tpo_resp_error(tpo_netconn *conn, const char *cmd, const rs_reply *r)
{
    tpo_netconn_retire(conn);
    tpo_log(TPO_LOG_MARK, TPO_LOG_WARN, TPO_APLOGNO(00066) "redis %s: %s answered %s",
            tpo_netconn_name(conn), cmd, r->word[0] ? r->word : "an error");
    return APR_EGENERAL;
}
