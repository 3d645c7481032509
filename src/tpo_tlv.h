/* A generic tag-length-value record codec, shared by the session record
 * (tpo_session.h) and the pending-login record (tpo_pending.h): "MMM"
 * magic(3) version(1), then fields tag(1) length(4, little-endian)
 * data(length). Implemented in tpo_session.c. */
#ifndef TPO_TLV_H
#define TPO_TLV_H

#include <apr_pools.h>
#include <apr_time.h>
#include <apr_errno.h>

typedef struct tpo_tlv_writer {
    apr_pool_t *p;
    char *buf;
    apr_size_t len, cap;
} tpo_tlv_writer;

void tpo_tlv_init(tpo_tlv_writer *w, apr_pool_t *p, const char magic[3], unsigned char version);
void tpo_tlv_put_str(tpo_tlv_writer *w, unsigned char tag, const char *s); /* NULL: omitted */
void tpo_tlv_put_time(tpo_tlv_writer *w, unsigned char tag, apr_time_t t);
/* len raw bytes (any byte; read back with tpo_tlv_next's data and dlen). */
void tpo_tlv_put_bytes(tpo_tlv_writer *w, unsigned char tag, const void *data, apr_size_t len);

typedef struct tpo_tlv_reader {
    const char *buf;
    apr_size_t len, pos;
} tpo_tlv_reader;

/* APR_EINVAL when the magic/version does not match. */
apr_status_t tpo_tlv_open(tpo_tlv_reader *r, const char *buf, apr_size_t len, const char magic[3],
                          unsigned char version);
/* Next field: 1 and sets tag/data/dlen; 0 at the end; -1 on a bad record. */
int tpo_tlv_next(tpo_tlv_reader *r, unsigned char *tag, const char **data, apr_size_t *dlen);
/* Field as string (must end in NUL; a NUL inside just ends the C string
 * early) or time (8 bytes); APR_EINVAL otherwise. */
apr_status_t tpo_tlv_str(const char *data, apr_size_t dlen, const char **out);
apr_status_t tpo_tlv_time(const char *data, apr_size_t dlen, apr_time_t *out);

#endif
