/* JOSE: JWK / JWK Set parsing (RFC 7517, 7518, 8037) and JWS compact
 * verification and signing (RFC 7515). OpenSSL 3 EVP only; jansson for JSON. */
#include <string.h>
#include <strings.h>
#include <apr_strings.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/param_build.h>
#include <openssl/rsa.h>
#include "tpo_b64.h"
#include "tpo_jose.h"

#define JWKS_MAX_KEYS      128    /* entries looked at in a JWK Set */
#define RSA_MIN_BITS       2048   /* RFC 7518 3.3 */
#define RSA_MAX_BITS       8192   /* verification cost bound */
#define RSA_MAX_E_BYTES    8
#define JWS_MAX_HEADER     8192   /* decoded protected header */

/* ------------------------------------------------------------------ algs */

typedef enum {
    FAM_RSA_PKCS1,
    FAM_RSA_PSS,
    FAM_EC,
    FAM_EDDSA,
    FAM_HMAC
} alg_family;

typedef struct {
    const char *name;
    alg_family fam;
    const char *md;        /* digest name (NULL for EdDSA) */
    const char *crv;       /* EC: JWK curve name */
    apr_size_t coord;      /* EC: bytes per coordinate / per R and S */
    apr_size_t hlen;       /* HMAC: output length */
} alg_info;

static const alg_info alg_table[] = {
    { "RS256", FAM_RSA_PKCS1, "SHA256", NULL, 0, 0 },
    { "RS384", FAM_RSA_PKCS1, "SHA384", NULL, 0, 0 },
    { "RS512", FAM_RSA_PKCS1, "SHA512", NULL, 0, 0 },
    { "PS256", FAM_RSA_PSS,   "SHA256", NULL, 0, 0 },
    { "PS384", FAM_RSA_PSS,   "SHA384", NULL, 0, 0 },
    { "PS512", FAM_RSA_PSS,   "SHA512", NULL, 0, 0 },
    { "ES256", FAM_EC,        "SHA256", "P-256", 32, 0 },
    { "ES384", FAM_EC,        "SHA384", "P-384", 48, 0 },
    { "ES512", FAM_EC,        "SHA512", "P-521", 66, 0 },
    { "EdDSA", FAM_EDDSA,     NULL,     "Ed25519", 0, 0 },
    { "HS256", FAM_HMAC,      "SHA256", NULL, 0, 32 },
    { "HS384", FAM_HMAC,      "SHA384", NULL, 0, 48 },
    { "HS512", FAM_HMAC,      "SHA512", NULL, 0, 64 },
};

static const alg_info *alg_lookup(const char *alg)
{
    apr_size_t i;

    if (!alg) {
        return NULL;
    }
    for (i = 0; i < sizeof(alg_table) / sizeof(alg_table[0]); i++) {
        if (strcmp(alg_table[i].name, alg) == 0) {
            return &alg_table[i];
        }
    }
    return NULL;
}

int tpo_jws_alg_supported(const char *alg)
{
    return alg_lookup(alg) != NULL;
}

typedef struct {
    const char *jwk_crv;
    const char *group;     /* OpenSSL group name */
    apr_size_t coord;
} ec_curve;

static const ec_curve ec_curves[] = {
    { "P-256", "prime256v1", 32 },
    { "P-384", "secp384r1", 48 },
    { "P-521", "secp521r1", 66 },
};

static const ec_curve *curve_lookup(const char *crv)
{
    apr_size_t i;

    for (i = 0; i < sizeof(ec_curves) / sizeof(ec_curves[0]); i++) {
        if (strcmp(ec_curves[i].jwk_crv, crv) == 0) {
            return &ec_curves[i];
        }
    }
    return NULL;
}

/* -------------------------------------------------------------- cleanups */

static apr_status_t pkey_cleanup(void *data)
{
    EVP_PKEY_free(data);
    return APR_SUCCESS;
}

static apr_status_t json_cleanup(void *data)
{
    json_decref(data);
    return APR_SUCCESS;
}

typedef struct {
    void *buf;
    apr_size_t len;
} secret_buf;

static apr_status_t secret_cleanup(void *data)
{
    secret_buf *sb = data;
    OPENSSL_cleanse(sb->buf, sb->len);
    return APR_SUCCESS;
}

/* Wipe len bytes at buf when p goes away. */
static void wipe_on_cleanup(apr_pool_t *p, void *buf, apr_size_t len)
{
    secret_buf *sb = apr_palloc(p, sizeof(*sb));
    sb->buf = buf;
    sb->len = len;
    apr_pool_cleanup_register(p, sb, secret_cleanup, apr_pool_cleanup_null);
}

static void pool_own_pkey(apr_pool_t *p, EVP_PKEY *pkey)
{
    apr_pool_cleanup_register(p, pkey, pkey_cleanup, apr_pool_cleanup_null);
}

static void pool_own_json(apr_pool_t *p, json_t *j)
{
    apr_pool_cleanup_register(p, j, json_cleanup, apr_pool_cleanup_null);
}

/* ------------------------------------------------------------ JSON bits */

/* A JSON string member as a C string. Returns 1 when absent (*out NULL),
 * 1 with *out set when a string without embedded NUL, 0 otherwise. */
static int json_opt_string(json_t *obj, const char *name, const char **out)
{
    json_t *v = json_object_get(obj, name);

    *out = NULL;
    if (!v) {
        return 1;
    }
    if (!json_is_string(v) || strlen(json_string_value(v)) != json_string_length(v)) {
        return 0;
    }
    *out = json_string_value(v);
    return 1;
}

/* Decode a required base64url member; NULL when absent, not a string, bad
 * base64url or empty. */
static unsigned char *json_b64_member(apr_pool_t *p, json_t *obj, const char *name,
                                      apr_size_t *len)
{
    json_t *v = json_object_get(obj, name);
    unsigned char *out;

    if (!v || !json_is_string(v)) {
        return NULL;
    }
    out = tpo_b64url_decode(p, json_string_value(v), json_string_length(v), len);
    if (!out || *len == 0) {
        return NULL;
    }
    return out;
}

/* ------------------------------------------------------------ key loading */

static EVP_PKEY *pkey_from_params(const char *type, OSSL_PARAM_BLD *bld)
{
    OSSL_PARAM *params = NULL;
    EVP_PKEY_CTX *ctx = NULL;
    EVP_PKEY *pkey = NULL;

    params = OSSL_PARAM_BLD_to_param(bld);
    if (!params) {
        goto out;
    }
    ctx = EVP_PKEY_CTX_new_from_name(NULL, type, NULL);
    if (!ctx || EVP_PKEY_fromdata_init(ctx) != 1
        || EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) != 1) {
        EVP_PKEY_free(pkey);
        pkey = NULL;
    }
out:
    EVP_PKEY_CTX_free(ctx);
    OSSL_PARAM_free(params);
    return pkey;
}

static EVP_PKEY *load_rsa(apr_pool_t *tmp, json_t *jk)
{
    unsigned char *n, *e;
    apr_size_t nlen, elen;
    BIGNUM *bn_n = NULL, *bn_e = NULL;
    OSSL_PARAM_BLD *bld = NULL;
    EVP_PKEY *pkey = NULL;
    int bits;

    n = json_b64_member(tmp, jk, "n", &nlen);
    e = json_b64_member(tmp, jk, "e", &elen);
    if (!n || !e || elen > RSA_MAX_E_BYTES || nlen > RSA_MAX_BITS / 8 + 1) {
        return NULL;
    }
    bn_n = BN_bin2bn(n, (int)nlen, NULL);
    bn_e = BN_bin2bn(e, (int)elen, NULL);
    if (!bn_n || !bn_e) {
        goto out;
    }
    bits = BN_num_bits(bn_n);
    /* e must be odd and > 1 */
    if (bits < RSA_MIN_BITS || bits > RSA_MAX_BITS || !BN_is_odd(bn_e) || BN_is_one(bn_e)) {
        goto out;
    }
    bld = OSSL_PARAM_BLD_new();
    if (!bld || !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, bn_n)
        || !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, bn_e)) {
        goto out;
    }
    pkey = pkey_from_params("RSA", bld);
out:
    OSSL_PARAM_BLD_free(bld);
    BN_free(bn_n);
    BN_free(bn_e);
    return pkey;
}

static EVP_PKEY *load_ec(apr_pool_t *tmp, json_t *jk, const ec_curve *cv)
{
    unsigned char *x, *y, *pt;
    apr_size_t xlen, ylen;
    OSSL_PARAM_BLD *bld = NULL;
    EVP_PKEY *pkey = NULL;
    EVP_PKEY_CTX *chk = NULL;

    x = json_b64_member(tmp, jk, "x", &xlen);
    y = json_b64_member(tmp, jk, "y", &ylen);
    /* RFC 7518 6.2.1.2: the full coordinate size, leading zeros included */
    if (!x || !y || xlen != cv->coord || ylen != cv->coord) {
        return NULL;
    }
    pt = apr_palloc(tmp, 1 + 2 * cv->coord);
    pt[0] = 0x04; /* uncompressed point */
    memcpy(pt + 1, x, cv->coord);
    memcpy(pt + 1 + cv->coord, y, cv->coord);

    bld = OSSL_PARAM_BLD_new();
    if (!bld
        || !OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, cv->group, 0)
        || !OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, pt,
                                             1 + 2 * cv->coord)) {
        goto out;
    }
    pkey = pkey_from_params("EC", bld);
    if (pkey) {
        /* the point must be on the curve and in the right subgroup */
        chk = EVP_PKEY_CTX_new_from_pkey(NULL, pkey, NULL);
        if (!chk || EVP_PKEY_public_check(chk) != 1) {
            EVP_PKEY_free(pkey);
            pkey = NULL;
        }
    }
out:
    EVP_PKEY_CTX_free(chk);
    OSSL_PARAM_BLD_free(bld);
    return pkey;
}

static EVP_PKEY *load_ed25519(apr_pool_t *tmp, json_t *jk)
{
    unsigned char *x;
    apr_size_t xlen;

    x = json_b64_member(tmp, jk, "x", &xlen);
    if (!x || xlen != 32) {
        return NULL;
    }
    return EVP_PKEY_new_raw_public_key_ex(NULL, "ED25519", NULL, x, xlen);
}

/* key_ops, when present, must allow "verify". */
static int key_ops_allow_verify(json_t *jk)
{
    json_t *ops = json_object_get(jk, "key_ops"), *v;
    size_t i;

    if (!ops) {
        return 1;
    }
    if (!json_is_array(ops)) {
        return 0;
    }
    json_array_foreach(ops, i, v) {
        if (json_is_string(v) && strcmp(json_string_value(v), "verify") == 0) {
            return 1;
        }
    }
    return 0;
}

/* One JWK from a set; NULL when it is to be skipped. */
static tpo_jwk *jwk_from_json(apr_pool_t *p, apr_pool_t *tmp, json_t *jk)
{
    const char *kty, *kid, *alg, *use, *crv;
    tpo_jwk *k;
    EVP_PKEY *pkey = NULL;

    if (!json_is_object(jk)
        || !json_opt_string(jk, "kty", &kty) || !kty
        || !json_opt_string(jk, "kid", &kid)
        || !json_opt_string(jk, "alg", &alg)
        || !json_opt_string(jk, "use", &use)
        || !json_opt_string(jk, "crv", &crv)) {
        return NULL;
    }
    if ((use && strcmp(use, "sig") != 0) || !key_ops_allow_verify(jk)) {
        return NULL;
    }
    /* a key bound to an algorithm we do not implement is of no use */
    if (alg && !alg_lookup(alg)) {
        return NULL;
    }

    k = apr_pcalloc(p, sizeof(*k));
    if (strcmp(kty, "RSA") == 0) {
        if (alg && strncmp(alg, "RS", 2) != 0 && strncmp(alg, "PS", 2) != 0) {
            return NULL;
        }
        pkey = load_rsa(tmp, jk);
        k->kty = "RSA";
    }
    else if (strcmp(kty, "EC") == 0) {
        const ec_curve *cv = crv ? curve_lookup(crv) : NULL;
        const alg_info *ai = alg ? alg_lookup(alg) : NULL;
        if (!cv || (ai && (ai->fam != FAM_EC || strcmp(ai->crv, cv->jwk_crv) != 0))) {
            return NULL;
        }
        pkey = load_ec(tmp, jk, cv);
        k->kty = "EC";
        k->crv = cv->jwk_crv;
    }
    else if (strcmp(kty, "OKP") == 0) {
        if (!crv || strcmp(crv, "Ed25519") != 0 || (alg && strcmp(alg, "EdDSA") != 0)) {
            return NULL;
        }
        pkey = load_ed25519(tmp, jk);
        k->kty = "OKP";
        k->crv = "Ed25519";
    }
    else if (strcmp(kty, "oct") == 0) {
        unsigned char *sec;
        apr_size_t slen;
        if (alg && strncmp(alg, "HS", 2) != 0) {
            return NULL;
        }
        sec = json_b64_member(tmp, jk, "k", &slen);
        if (!sec) {
            return NULL;
        }
        k->kty = "oct";
        k->secret = apr_pmemdup(p, sec, slen);
        k->secret_len = slen;
        wipe_on_cleanup(p, (void *)k->secret, slen);
        OPENSSL_cleanse(sec, slen);
    }
    else {
        return NULL;
    }

    if (strcmp(k->kty, "oct") != 0) {
        if (!pkey) {
            return NULL;
        }
        pool_own_pkey(p, pkey);
        k->pkey = pkey;
    }
    k->kid = kid ? apr_pstrdup(p, kid) : NULL;
    k->alg = alg ? apr_pstrdup(p, alg) : NULL;
    k->use = use ? apr_pstrdup(p, use) : NULL;
    return k;
}

apr_status_t tpo_jwks_parse(apr_pool_t *p, const char *json, apr_size_t len,
                            tpo_jwks **out, const char **err)
{
    apr_pool_t *tmp;
    json_t *root, *keys, *jk;
    json_error_t jerr;
    tpo_jwks *set;
    size_t i;
    apr_status_t rv = APR_EINVAL;

    *out = NULL;
    *err = NULL;
    if (!json || len == 0) {
        *err = "empty JWK Set";
        return APR_EINVAL;
    }
    if (len > TPO_JOSE_MAX_JWKS) {
        *err = "JWK Set too large";
        return APR_EINVAL;
    }
    if (apr_pool_create(&tmp, p) != APR_SUCCESS) {
        *err = "out of memory";
        return APR_ENOMEM;
    }
    root = json_loadb(json, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!root) {
        *err = "JWK Set is not valid JSON";
        goto out;
    }
    pool_own_json(tmp, root);
    keys = json_object_get(root, "keys");
    if (!json_is_object(root) || !json_is_array(keys)) {
        *err = "JWK Set has no \"keys\" array";
        goto out;
    }

    set = apr_pcalloc(p, sizeof(*set));
    set->keys = apr_array_make(p, 4, sizeof(tpo_jwk *));
    json_array_foreach(keys, i, jk) {
        tpo_jwk *k;
        if (i >= JWKS_MAX_KEYS) {
            break;
        }
        k = jwk_from_json(p, tmp, jk);
        if (k) {
            APR_ARRAY_PUSH(set->keys, tpo_jwk *) = k;
        }
    }
    ERR_clear_error(); /* rejected keys leave OpenSSL errors behind */
    if (set->keys->nelts == 0) {
        *err = "JWK Set has no usable signature key";
        goto out;
    }
    *out = set;
    rv = APR_SUCCESS;
out:
    apr_pool_destroy(tmp);
    return rv;
}

tpo_jwk *tpo_jwk_from_secret(apr_pool_t *p, const char *secret, apr_size_t len)
{
    tpo_jwk *k;
    unsigned char *copy;

    if (!secret || len == 0) {
        return NULL;
    }
    k = apr_pcalloc(p, sizeof(*k));
    copy = apr_palloc(p, len);
    memcpy(copy, secret, len);
    wipe_on_cleanup(p, copy, len);
    k->kty = "oct";
    k->use = "sig";
    k->secret = copy;
    k->secret_len = len;
    return k;
}

/* ------------------------------------------------------------- JWS parse */

apr_status_t tpo_jws_parse(apr_pool_t *p, const char *compact, tpo_jws **out,
                           const char **err)
{
    const char *d1, *d2, *end, *s;
    apr_size_t len, hlen, plen;
    unsigned char *hdr, *payload, *sig;
    json_t *header, *crit;
    json_error_t jerr;
    tpo_jws *jws;
    int dots = 0;

    *out = NULL;
    *err = NULL;
    if (!compact) {
        *err = "no JWS";
        return APR_EINVAL;
    }
    len = strnlen(compact, TPO_JOSE_MAX_COMPACT + 1);
    if (len > TPO_JOSE_MAX_COMPACT) {
        *err = "JWS too large";
        return APR_EINVAL;
    }
    end = compact + len;
    d1 = d2 = NULL;
    for (s = compact; s < end; s++) {
        if (*s == '.') {
            dots++;
            if (dots == 1) {
                d1 = s;
            }
            else if (dots == 2) {
                d2 = s;
            }
        }
    }
    if (dots == 4) {
        *err = "JWE (encrypted token) not supported";
        return APR_EINVAL;
    }
    if (dots != 2) {
        *err = "not a compact JWS (expected three parts)";
        return APR_EINVAL;
    }
    if (d1 == compact) {
        *err = "JWS header is empty";
        return APR_EINVAL;
    }
    if ((apr_size_t)(d1 - compact) > (JWS_MAX_HEADER / 3 + 1) * 4) {
        *err = "JWS header too large";
        return APR_EINVAL;
    }
    hdr = tpo_b64url_decode(p, compact, (apr_size_t)(d1 - compact), &hlen);
    if (!hdr) {
        *err = "JWS header is not base64url";
        return APR_EINVAL;
    }
    payload = tpo_b64url_decode(p, d1 + 1, (apr_size_t)(d2 - d1 - 1), &plen);
    if (!payload) {
        *err = "JWS payload is not base64url";
        return APR_EINVAL;
    }
    jws = apr_pcalloc(p, sizeof(*jws));
    sig = tpo_b64url_decode(p, d2 + 1, (apr_size_t)(end - d2 - 1), &jws->sig_len);
    if (!sig) {
        *err = "JWS signature is not base64url";
        return APR_EINVAL;
    }

    header = json_loadb((const char *)hdr, hlen, JSON_REJECT_DUPLICATES, &jerr);
    if (!header) {
        *err = "JWS header is not valid JSON";
        return APR_EINVAL;
    }
    pool_own_json(p, header);
    if (!json_is_object(header)) {
        *err = "JWS header is not a JSON object";
        return APR_EINVAL;
    }
    if (!json_opt_string(header, "alg", &jws->alg) || !jws->alg || !*jws->alg) {
        *err = "JWS header has no valid \"alg\"";
        return APR_EINVAL;
    }
    if (!json_opt_string(header, "kid", &jws->kid)) {
        *err = "JWS header \"kid\" is not a string";
        return APR_EINVAL;
    }
    if (!json_opt_string(header, "typ", &jws->typ)) {
        *err = "JWS header \"typ\" is not a string";
        return APR_EINVAL;
    }
    crit = json_object_get(header, "crit");
    if (crit) {
        /* we understand no extension, so any "crit" is fatal (RFC 7515 4.1.11) */
        *err = "JWS header has \"crit\" extensions (not supported)";
        return APR_EINVAL;
    }
    if (json_object_get(header, "enc")) {
        *err = "JWE (encrypted token) not supported";
        return APR_EINVAL;
    }
    jws->header = header;
    jws->payload = (const char *)payload;
    jws->payload_len = plen;
    jws->signing_input = apr_pstrmemdup(p, compact, (apr_size_t)(d2 - compact));
    jws->signing_input_len = (apr_size_t)(d2 - compact);
    jws->sig = sig;
    *out = jws;
    return APR_SUCCESS;
}

json_t *tpo_jws_payload_json(apr_pool_t *p, const tpo_jws *jws, const char **err)
{
    json_t *j;
    json_error_t jerr;

    *err = NULL;
    if (!jws || !jws->payload || jws->payload_len == 0) {
        *err = "JWS payload is empty";
        return NULL;
    }
    j = json_loadb(jws->payload, jws->payload_len, JSON_REJECT_DUPLICATES, &jerr);
    if (!j) {
        *err = "JWS payload is not valid JSON";
        return NULL;
    }
    if (!json_is_object(j)) {
        json_decref(j);
        *err = "JWS payload is not a JSON object";
        return NULL;
    }
    pool_own_json(p, j);
    return j;
}

/* ------------------------------------------------------- signature math */

static int hmac_compute(const alg_info *ai, const unsigned char *key, apr_size_t keylen,
                        const void *data, apr_size_t datalen, unsigned char *out)
{
    size_t outlen = 0;

    if (!key || keylen == 0) {
        return 0;
    }
    if (!EVP_Q_mac(NULL, "HMAC", NULL, ai->md, NULL, key, keylen, data, datalen,
                   out, EVP_MAX_MD_SIZE, &outlen)) {
        return 0;
    }
    return outlen == ai->hlen;
}

/* Set up md ctx for RSA (PKCS#1 or PSS), EC or EdDSA; sign or verify. */
static int digest_init(EVP_MD_CTX *mctx, const alg_info *ai, EVP_PKEY *pkey, int sign)
{
    EVP_PKEY_CTX *pctx = NULL;
    const char *md = ai->fam == FAM_EDDSA ? NULL : ai->md;
    int ok;

    ok = sign ? EVP_DigestSignInit_ex(mctx, &pctx, md, NULL, NULL, pkey, NULL)
              : EVP_DigestVerifyInit_ex(mctx, &pctx, md, NULL, NULL, pkey, NULL);
    if (ok != 1) {
        return 0;
    }
    if (ai->fam == FAM_RSA_PKCS1) {
        return EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PADDING) > 0;
    }
    if (ai->fam == FAM_RSA_PSS) {
        /* RFC 7518 3.5: MGF1 with the same hash, salt as long as the hash */
        return EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) > 0
               && EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST) > 0
               && EVP_PKEY_CTX_set_rsa_mgf1_md_name(pctx, ai->md, NULL) > 0;
    }
    return 1;
}

/* R||S (fixed length) to a DER ECDSA-Sig-Value. */
static unsigned char *ec_raw_to_der(apr_pool_t *p, const unsigned char *raw, apr_size_t coord,
                                    apr_size_t *derlen)
{
    ECDSA_SIG *es = ECDSA_SIG_new();
    BIGNUM *r = BN_bin2bn(raw, (int)coord, NULL);
    BIGNUM *s = BN_bin2bn(raw + coord, (int)coord, NULL);
    unsigned char *der = NULL, *tmp = NULL;
    int n;

    if (!es || !r || !s || ECDSA_SIG_set0(es, r, s) != 1) {
        BN_free(r);
        BN_free(s);
        ECDSA_SIG_free(es);
        return NULL;
    }
    n = i2d_ECDSA_SIG(es, &tmp);
    if (n > 0) {
        der = apr_pmemdup(p, tmp, (apr_size_t)n);
        *derlen = (apr_size_t)n;
    }
    OPENSSL_free(tmp);
    ECDSA_SIG_free(es);
    return der;
}

/* DER ECDSA-Sig-Value to R||S of 2*coord bytes. */
static unsigned char *ec_der_to_raw(apr_pool_t *p, const unsigned char *der, apr_size_t derlen,
                                    apr_size_t coord)
{
    const unsigned char *q = der;
    ECDSA_SIG *es = d2i_ECDSA_SIG(NULL, &q, (long)derlen);
    const BIGNUM *r, *s;
    unsigned char *raw = NULL;

    if (!es) {
        return NULL;
    }
    ECDSA_SIG_get0(es, &r, &s);
    raw = apr_palloc(p, 2 * coord);
    if (BN_bn2binpad(r, raw, (int)coord) != (int)coord
        || BN_bn2binpad(s, raw + coord, (int)coord) != (int)coord) {
        raw = NULL;
    }
    ECDSA_SIG_free(es);
    return raw;
}

/* 1 when jwk may be used for ai at all (type, curve, own alg). */
static int jwk_fits(const tpo_jwk *k, const alg_info *ai)
{
    if (!k || !k->kty) {
        return 0;
    }
    if (k->alg && strcmp(k->alg, ai->name) != 0) {
        return 0;
    }
    switch (ai->fam) {
    case FAM_RSA_PKCS1:
    case FAM_RSA_PSS:
        return strcmp(k->kty, "RSA") == 0 && k->pkey && EVP_PKEY_is_a(k->pkey, "RSA");
    case FAM_EC:
        return strcmp(k->kty, "EC") == 0 && k->crv && strcmp(k->crv, ai->crv) == 0
               && k->pkey && EVP_PKEY_is_a(k->pkey, "EC");
    case FAM_EDDSA:
        return strcmp(k->kty, "OKP") == 0 && k->crv && strcmp(k->crv, "Ed25519") == 0
               && k->pkey && EVP_PKEY_is_a(k->pkey, "ED25519");
    case FAM_HMAC:
        /* never a public key: that is the alg confusion attack */
        return strcmp(k->kty, "oct") == 0 && !k->pkey && k->secret && k->secret_len > 0;
    }
    return 0;
}

/* 1 valid, 0 invalid. */
static int verify_with(apr_pool_t *p, const tpo_jws *jws, const alg_info *ai, const tpo_jwk *k)
{
    EVP_MD_CTX *mctx;
    const unsigned char *sig = jws->sig;
    apr_size_t siglen = jws->sig_len;
    int ok = 0;

    if (ai->fam == FAM_HMAC) {
        unsigned char mac[EVP_MAX_MD_SIZE];
        if (siglen != ai->hlen) {
            return 0;
        }
        ok = hmac_compute(ai, k->secret, k->secret_len, jws->signing_input,
                          jws->signing_input_len, mac)
             && CRYPTO_memcmp(mac, sig, ai->hlen) == 0;
        OPENSSL_cleanse(mac, sizeof(mac));
        return ok;
    }
    if (ai->fam == FAM_EC) {
        if (siglen != 2 * ai->coord) {
            return 0;
        }
        sig = ec_raw_to_der(p, jws->sig, ai->coord, &siglen);
        if (!sig) {
            return 0;
        }
    }
    else if (ai->fam == FAM_EDDSA) {
        if (siglen != 64) {
            return 0;
        }
    }
    else if (siglen != (apr_size_t)EVP_PKEY_get_size(k->pkey)) {
        return 0;   /* RSA: exactly the modulus length */
    }

    mctx = EVP_MD_CTX_new();
    if (mctx && digest_init(mctx, ai, k->pkey, 0)) {
        ok = EVP_DigestVerify(mctx, sig, siglen, (const unsigned char *)jws->signing_input,
                              jws->signing_input_len) == 1;
    }
    EVP_MD_CTX_free(mctx);
    ERR_clear_error();
    return ok;
}

static int alg_allowed(const char *alg, const char *const *allowed)
{
    if (!allowed) {
        return 0;
    }
    for (; *allowed; allowed++) {
        if (strcmp(*allowed, alg) == 0) {
            return 1;
        }
    }
    return 0;
}

apr_status_t tpo_jws_verify(apr_pool_t *p, const tpo_jws *jws, const tpo_jwks *jwks,
                            const tpo_jwk *hs_key, const char *const *allowed_algs,
                            const char **err)
{
    const alg_info *ai;
    const tpo_jwk *cands[JWKS_MAX_KEYS + 1];
    int ncands = 0, nfit = 0, i;
    const tpo_jwk *sole_kidless = NULL;

    *err = NULL;
    if (!jws || !jws->alg || !jws->sig) {
        *err = "no JWS";
        return APR_EINVAL;
    }
    if (strcasecmp(jws->alg, "none") == 0) {
        *err = "alg \"none\" is never accepted";
        return APR_EINVAL;
    }
    if (!alg_allowed(jws->alg, allowed_algs)) {
        *err = "alg is not in the allowed list";
        return APR_EINVAL;
    }
    ai = alg_lookup(jws->alg);
    if (!ai) {
        *err = "alg is not supported";
        return APR_EINVAL;
    }

    /* candidates from the set: type-compatible keys, narrowed by kid */
    if (jwks && jwks->keys) {
        for (i = 0; i < jwks->keys->nelts && ncands < JWKS_MAX_KEYS; i++) {
            const tpo_jwk *k = APR_ARRAY_IDX(jwks->keys, i, const tpo_jwk *);
            if (!jwk_fits(k, ai)) {
                continue;
            }
            nfit++;
            if (!k->kid) {
                sole_kidless = k;
            }
            if (!jws->kid || (k->kid && strcmp(k->kid, jws->kid) == 0)) {
                cands[ncands++] = k;
            }
        }
        /* token names a kid nobody has: a lone kid-less key may still be it */
        if (jws->kid && ncands == 0 && nfit == 1 && sole_kidless) {
            cands[ncands++] = sole_kidless;
        }
    }
    /* the client secret is always a candidate for HS*, whatever the kid */
    if (ai->fam == FAM_HMAC && hs_key && jwk_fits(hs_key, ai)) {
        cands[ncands++] = hs_key;
    }
    if (ncands == 0) {
        *err = jws->kid ? "no key in the JWK Set matches the token's kid and alg"
                        : "no key in the JWK Set fits the token's alg";
        return APR_ENOENT;
    }
    for (i = 0; i < ncands; i++) {
        if (verify_with(p, jws, ai, cands[i])) {
            return APR_SUCCESS;
        }
    }
    *err = "signature verification failed";
    return APR_EINVAL;
}

/* -------------------------------------------------------------- signing */

char *tpo_jws_sign(apr_pool_t *p, const char *alg, const char *kid,
                   const char *payload_json, EVP_PKEY *priv,
                   const unsigned char *secret, apr_size_t secret_len,
                   const char **err)
{
    const alg_info *ai = alg_lookup(alg);
    json_t *hdr;
    char *hdr_json, *input;
    const char *h64, *p64;
    unsigned char *sig = NULL;
    apr_size_t siglen = 0;

    *err = NULL;
    if (!ai) {
        *err = "unsupported alg";
        return NULL;
    }
    if (!payload_json) {
        *err = "no payload";
        return NULL;
    }
    hdr = kid ? json_pack("{s:s, s:s}", "alg", ai->name, "kid", kid)
              : json_pack("{s:s}", "alg", ai->name);
    if (!hdr) {
        *err = "cannot build the header";
        return NULL;
    }
    hdr_json = json_dumps(hdr, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(hdr);
    if (!hdr_json) {
        *err = "cannot build the header";
        return NULL;
    }
    h64 = tpo_b64url_encode(p, (const unsigned char *)hdr_json, strlen(hdr_json));
    free(hdr_json);
    p64 = tpo_b64url_encode(p, (const unsigned char *)payload_json, strlen(payload_json));
    input = apr_pstrcat(p, h64, ".", p64, NULL);

    if (ai->fam == FAM_HMAC) {
        unsigned char mac[EVP_MAX_MD_SIZE];
        if (!hmac_compute(ai, secret, secret_len, input, strlen(input), mac)) {
            *err = "HMAC failed (no secret?)";
            return NULL;
        }
        sig = apr_pmemdup(p, mac, ai->hlen);
        siglen = ai->hlen;
        OPENSSL_cleanse(mac, sizeof(mac));
    }
    else {
        EVP_MD_CTX *mctx;
        size_t slen = 0;
        int ok = 0;
        const char *type = ai->fam == FAM_EC ? "EC" : ai->fam == FAM_EDDSA ? "ED25519" : "RSA";

        if (!priv || !EVP_PKEY_is_a(priv, type)) {
            *err = "private key does not fit the alg";
            return NULL;
        }
        if (ai->fam == FAM_EC) {
            char group[64];
            if (EVP_PKEY_get_group_name(priv, group, sizeof(group), NULL) != 1
                || strcmp(group, curve_lookup(ai->crv)->group) != 0) {
                *err = "private key curve does not fit the alg";
                return NULL;
            }
        }
        mctx = EVP_MD_CTX_new();
        if (mctx && digest_init(mctx, ai, priv, 1)
            && EVP_DigestSign(mctx, NULL, &slen, (unsigned char *)input, strlen(input)) == 1) {
            sig = apr_palloc(p, slen);
            ok = EVP_DigestSign(mctx, sig, &slen, (unsigned char *)input, strlen(input)) == 1;
        }
        EVP_MD_CTX_free(mctx);
        ERR_clear_error();
        if (!ok) {
            *err = "signing failed";
            return NULL;
        }
        siglen = slen;
        if (ai->fam == FAM_EC) {
            sig = ec_der_to_raw(p, sig, siglen, ai->coord);
            siglen = 2 * ai->coord;
            if (!sig) {
                *err = "signing failed";
                return NULL;
            }
        }
    }
    return apr_pstrcat(p, input, ".", tpo_b64url_encode(p, sig, siglen), NULL);
}
