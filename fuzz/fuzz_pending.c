/* The pending-login record decoder on hostile bytes (round trip when
 * accepted, strings inside the record) and the per-browser state list:
 * after add the state is the newest entry and at most `max` remain, every
 * other entry kept or reported dropped; after remove the state is gone. */
#include "fuzz_common.h"
#include "tpo_pending.h"

static int same(const char *a, const char *b)
{
    return (a == NULL && b == NULL) || (a && b && strcmp(a, b) == 0);
}

static int count_tokens(const char *s, const char *not_this)
{
    int n = 0;
    size_t l;

    if (s == NULL) return 0;
    while (*s) {
        while (*s == ' ') s++;
        l = strcspn(s, " ");
        if (l && (not_this == NULL || strlen(not_this) != l || memcmp(s, not_this, l) != 0)) n++;
        s += l;
    }
    return n;
}

static int has_token(const char *s, const char *tok)
{
    size_t l, tl = strlen(tok);

    while (*s) {
        while (*s == ' ') s++;
        l = strcspn(s, " ");
        if (l && l == tl && memcmp(s, tok, l) == 0) return 1;
        s += l;
    }
    return 0;
}

static void lists(apr_pool_t *p, const char *list, const char *state, int max)
{
    const char *dropped = NULL, *tail;
    char *r;
    int before = count_tokens(list, state), after, ndrop;

    if (*state == '\0' || strchr(state, ' ')) return;   /* states are base64url */
    r = tpo_pending_list_add(p, list, state, max, &dropped);
    CHECK(r != NULL);
    after = count_tokens(r, NULL);
    ndrop = count_tokens(dropped, NULL);
    CHECK(after <= max);
    CHECK(after + ndrop == before + 1);
    tail = strrchr(r, ' ');
    CHECK(strcmp(tail ? tail + 1 : r, state) == 0);
    r = tpo_pending_list_remove(p, r, state);
    CHECK(r != NULL && !has_token(r, state));
    CHECK(count_tokens(r, NULL) == after - 1);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apr_pool_t *p = fuzz_pool();
    char *buf = size ? apr_pmemdup(p, data, size) : NULL;
    tpo_pending pl, again;
    apr_size_t len;
    char *enc;

    if (tpo_pending_decode(p, buf, size, &pl) == APR_SUCCESS) {
        const char *f[] = { pl.provider, pl.browser, pl.nonce, pl.code_verifier,
                            pl.redirect_uri, pl.return_url };
        size_t i;

        for (i = 0; i < sizeof(f) / sizeof(f[0]); i++) {
            if (f[i]) CHECK(f[i] >= buf && f[i] < buf + size
                            && memchr(f[i], '\0', (size_t)(buf + size - f[i])) != NULL);
        }
        enc = tpo_pending_encode(p, &pl, &len);
        CHECK(tpo_pending_decode(p, enc, len, &again) == APR_SUCCESS);
        CHECK(pl.created == again.created && pl.expires == again.expires);
        CHECK(same(pl.provider, again.provider) && same(pl.browser, again.browser));
        CHECK(same(pl.nonce, again.nonce) && same(pl.code_verifier, again.code_verifier));
        CHECK(same(pl.redirect_uri, again.redirect_uri) && same(pl.return_url, again.return_url));
    }
    else {
        /* as list text: "<max><state>\n<list>" */
        fuzz_in in = { data, size, 0 };
        int max = (int)(fuzz_byte(&in) % 8) + 1;
        const char *state = fuzz_part(&in, p, '\n', NULL);
        const char *list = fuzz_rest(&in, p, NULL);

        lists(p, list, state, max);
    }
    apr_pool_destroy(p);
    return 0;
}
