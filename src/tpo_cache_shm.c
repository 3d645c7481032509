/* SPDX-License-Identifier: Apache-2.0
 * Licensed under the Apache License, Version 2.0 (see LICENSE). */
/* Shared-memory cache backend (see tpo_cache_shm.h): hashing, the index,
 * allocation and eviction, the operations and the segment setup. The segment
 * layout is in tpo_cache_shm_private.h, crash repair in tpo_cache_shm_repair.c.
 *
 * Locking. Bucket b belongs to stripe b % NSTRIPES; a stripe lock guards the
 * hash chains of its buckets and the contents of the entries in them. The
 * allocator lock guards the free lists, the LRU list and the counts. Order:
 * stripe, then allocator. Eviction holds its own stripe and the allocator
 * and only *try*-locks the victim's stripe (skipping busy ones), so two
 * stripes are never waited for at once. get() takes one stripe lock only.
 * All locks are process-shared robust pthread mutexes: when a process dies
 * holding one, the next locker gets EOWNERDEAD, marks it consistent and
 * flags the segment; before anyone touches the structures again, tpo_shm_repair()
 * takes every lock and rebuilds the chains, lists and counts from the entry
 * table, keeping every intact entry (a value being written when the process
 * died is dropped, never returned torn).
 *
 * Eviction is CLOCK ("second chance" over a list in insertion order), an
 * LRU approximation that keeps the read path off the global lock: get()
 * only sets the entry's referenced bit under its stripe lock. When room is
 * needed, expired entries are reclaimed first (a bounded incremental sweep
 * plus any met at the tail), then the list is walked from the oldest end:
 * referenced entries get their bit cleared and move to the newest end,
 * unreferenced ones are evicted. */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <apr_general.h>
#include <apr_shm.h>
#include <apr_strings.h>
#include "tpo_cache_shm_private.h"

#define SHM_MAGIC 0x54504f43u /* "TPOC" */
#define SHM_VERSION 1u
#define SWEEP_SLOTS 32u /* entry slots examined per sweep for expired ones */
#define MIN_BLOCKS 16u
#define MIN_ENTRIES 16u
#define BYTES_PER_ENTRY 512u /* max_entries = bytes / this when not given */
#define MAX_ATTEMPTS 200

#ifdef TPO_TESTING
static int crash_point; /* test hook, see tpo_shm_cache_test_crash_at() */

static void crash_if(int point)
{
    if (crash_point == point) {
        if (point == TPO_SHM_CRASH_HOLDING_STRIPE) {
            usleep(100000); /* let others queue up on the lock */
        }
        _exit(TPO_SHM_CRASH_EXIT);
    }
}
#else
#define crash_if(point) ((void)0) /* the hooks exist in the unit-test build only */
#endif

/* ------------------------------------------------------------------ hash */

#define ROTL(x, b) (uint64_t)(((x) << (b)) | ((x) >> (64 - (b))))
#define SIPROUND                                                                                   \
    do {                                                                                           \
        v0 += v1;                                                                                  \
        v1 = ROTL(v1, 13);                                                                         \
        v1 ^= v0;                                                                                  \
        v0 = ROTL(v0, 32);                                                                         \
        v2 += v3;                                                                                  \
        v3 = ROTL(v3, 16);                                                                         \
        v3 ^= v2;                                                                                  \
        v0 += v3;                                                                                  \
        v3 = ROTL(v3, 21);                                                                         \
        v3 ^= v0;                                                                                  \
        v2 += v1;                                                                                  \
        v1 = ROTL(v1, 17);                                                                         \
        v1 ^= v2;                                                                                  \
        v2 = ROTL(v2, 32);                                                                         \
    } while (0)

/* SipHash-2-4 with the segment's random key: chains stay short even for
 * keys an attacker picks. */
uint64_t tpo_shm_siphash(const uint64_t k[2], const unsigned char *in, size_t len)
{
    uint64_t v0 = 0x736f6d6570736575ULL ^ k[0], v1 = 0x646f72616e646f6dULL ^ k[1];
    uint64_t v2 = 0x6c7967656e657261ULL ^ k[0], v3 = 0x7465646279746573ULL ^ k[1];
    uint64_t b = ((uint64_t)len) << 56, m;
    size_t i, full = len & ~(size_t)7;

    for (i = 0; i < full; i += 8) {
        memcpy(&m, in + i, 8);
        v3 ^= m;
        SIPROUND;
        SIPROUND;
        v0 ^= m;
    }
    for (i = 0; i < (len & 7); i++) {
        b |= ((uint64_t)in[full + i]) << (8 * i);
    }
    v3 ^= b;
    SIPROUND;
    SIPROUND;
    v0 ^= b;
    v2 ^= 0xff;
    SIPROUND;
    SIPROUND;
    SIPROUND;
    SIPROUND;
    return v0 ^ v1 ^ v2 ^ v3;
}

/* ----------------------------------------------------------------- locks */

static void backoff(int attempt)
{
    if (attempt < 10) {
        sched_yield();
    }
    else {
        apr_sleep(1000);
    }
}

/* ---------------------------------------------------------------- index */

static APR_INLINE int have_room(shm_cache *c, uint32_t need)
{
    return c->h->free_slot != NIL && c->h->nfree_blocks >= need;
}

/* Find key in its bucket (stripe lock held). Returns the entry index or NIL;
 * *linkp is the reference that points at it. */
uint32_t tpo_shm_find(shm_cache *c, uint64_t hash, const char *key, uint16_t klen, uint32_t **linkp)
{
    uint32_t *link = &c->buckets[bucket_of(c, hash)];
    uint32_t i, steps = 0;

    while ((i = *link) != NIL) {
        shm_entry *e;

        if (i >= c->h->max_entries || ++steps > c->h->max_entries) {
            __atomic_store_n(&c->h->repair_needed, 1, __ATOMIC_RELEASE);
            return NIL;
        }
        e = &c->ent[i];
        if (e->hash == hash && e->klen == klen && memcmp(blk(c, e->first), key, klen) == 0) {
            *linkp = link;
            return i;
        }
        link = &e->bnext;
    }
    return NIL;
}

static void unlink_bucket(shm_cache *c, uint32_t idx)
{
    uint32_t *link = &c->buckets[bucket_of(c, c->ent[idx].hash)];
    uint32_t steps = 0;

    while (*link != NIL && *link < c->h->max_entries && steps++ < c->h->max_entries) {
        if (*link == idx) {
            *link = c->ent[idx].bnext;
            return;
        }
        link = &c->ent[*link].bnext;
    }
}

void tpo_shm_lru_unlink(shm_cache *c, uint32_t idx)
{
    shm_entry *e = &c->ent[idx];

    if (e->lprev != NIL)
        c->ent[e->lprev].lnext = e->lnext;
    else
        c->h->lru_head = e->lnext;
    if (e->lnext != NIL)
        c->ent[e->lnext].lprev = e->lprev;
    else
        c->h->lru_tail = e->lprev;
    e->lprev = e->lnext = NIL;
}

/* The list runs from lru_head (newest) through lnext to lru_tail (oldest). */
void tpo_shm_lru_push_head(shm_cache *c, uint32_t idx)
{
    shm_entry *e = &c->ent[idx];

    e->lprev = NIL;
    e->lnext = c->h->lru_head;
    if (c->h->lru_head != NIL)
        c->ent[c->h->lru_head].lprev = idx;
    c->h->lru_head = idx;
    if (c->h->lru_tail == NIL)
        c->h->lru_tail = idx;
}

/* Return an entry's slot and blocks (allocator lock held; the caller has
 * already set state = E_FREE and taken it off its hash chain). */
static void entry_release(shm_cache *c, uint32_t idx)
{
    shm_entry *e = &c->ent[idx];
    uint32_t last = e->first, n;

    for (n = 1; n < e->nblocks; n++) {
        last = c->bnext[last];
    }
    c->bnext[last] = c->h->free_block;
    c->h->free_block = e->first;
    c->h->nfree_blocks += e->nblocks;
    tpo_shm_lru_unlink(c, idx);
    e->bnext = c->h->free_slot;
    c->h->free_slot = idx;
    c->h->nentries--;
}

/* Remove a live entry: its stripe lock and the allocator lock are held. */
static void entry_remove(shm_cache *c, uint32_t *link, uint32_t idx)
{
    shm_entry *e = &c->ent[idx];

    e->state = E_FREE;
    if (link)
        *link = e->bnext;
    else
        unlink_bucket(c, idx);
    entry_release(c, idx);
}

/* Lock the stripe of victim `idx` unless it is ours. 0: locked (or ours),
 * otherwise busy or a repair is due (then nothing is held). */
static int victim_lock(shm_cache *c, uint32_t idx, uint32_t own)
{
    uint32_t s = stripe_of(c, c->ent[idx].hash);

    if (s == own)
        return 0;
    if (trylk(c, &c->h->stripe[s]) != 0)
        return -1;
    if (repair_pending(c)) {
        unlk(&c->h->stripe[s]);
        return -1;
    }
    return 0;
}

static void victim_unlock(shm_cache *c, uint32_t idx, uint32_t own)
{
    uint32_t s = stripe_of(c, c->ent[idx].hash);

    if (s != own)
        unlk(&c->h->stripe[s]);
}

/* Reclaim expired entries met by an incremental sweep over the entry table. */
static void sweep_expired(shm_cache *c, uint32_t own, apr_time_t now)
{
    uint32_t n;

    for (n = 0; n < SWEEP_SLOTS && n < c->h->max_entries; n++) {
        uint32_t idx = c->h->sweep;
        shm_entry *e = &c->ent[idx];

        c->h->sweep = idx + 1 < c->h->max_entries ? idx + 1 : 0;
        if (__atomic_load_n(&e->state, __ATOMIC_ACQUIRE) != E_LIVE || e->expiry > now)
            continue;
        if (victim_lock(c, idx, own) != 0) {
            if (repair_pending(c))
                return;
            continue;
        }
        entry_remove(c, NULL, idx);
        count(&c->h->expired);
        victim_unlock(c, idx, own);
    }
}

/* Make room for one entry of `need` blocks: stripe `own` and the allocator
 * lock are held. APR_EAGAIN: could not (victims busy, or a repair is due). */
static apr_status_t make_room(shm_cache *c, uint32_t own, uint32_t need, apr_time_t now)
{
    uint64_t budget;
    uint32_t cur;

    if (have_room(c, need))
        return APR_SUCCESS;
    sweep_expired(c, own, now);
    if (repair_pending(c))
        return APR_EAGAIN;
    budget = 2 * (uint64_t)c->h->nentries + 2 * NSTRIPES + 8;
    cur = c->h->lru_tail;
    while (!have_room(c, need)) {
        shm_entry *e;
        uint32_t prev;

        if (budget-- == 0)
            return APR_EAGAIN;
        if (cur == NIL) {
            cur = c->h->lru_tail; /* wrapped around: start again */
            if (cur == NIL)
                return APR_EAGAIN;
        }
        e = &c->ent[cur];
        prev = e->lprev;
        if (__atomic_load_n(&e->state, __ATOMIC_ACQUIRE) != E_LIVE) { /* being written */
            cur = prev;
            continue;
        }
        if (e->expiry > now && __atomic_load_n(&e->ref, __ATOMIC_RELAXED)) {
            __atomic_store_n(&e->ref, 0, __ATOMIC_RELAXED); /* second chance */
            tpo_shm_lru_unlink(c, cur);
            tpo_shm_lru_push_head(c, cur);
            cur = prev;
            continue;
        }
        if (victim_lock(c, cur, own) != 0) {
            if (repair_pending(c))
                return APR_EAGAIN;
            cur = prev;
            continue;
        }
        count(e->expiry > now ? &c->h->evictions : &c->h->expired);
        entry_remove(c, NULL, cur);
        victim_unlock(c, cur, own);
        cur = prev;
    }
    return APR_SUCCESS;
}

/* Take a slot and a chain of `need` blocks (room is there; allocator lock
 * held), as an entry in state E_WRITING at the newest end of the list. */
static uint32_t entry_alloc(shm_cache *c, uint32_t need, uint64_t hash, uint16_t klen,
                            apr_size_t vlen, apr_time_t expiry)
{
    uint32_t idx = c->h->free_slot, last, n;
    shm_entry *e = &c->ent[idx];

    c->h->free_slot = e->bnext;
    crash_if(TPO_SHM_CRASH_HOLDING_ALLOC);
    e->first = last = c->h->free_block;
    for (n = 1; n < need; n++) {
        last = c->bnext[last];
    }
    c->h->free_block = c->bnext[last];
    c->bnext[last] = NIL;
    c->h->nfree_blocks -= need;
    e->nblocks = need;
    e->hash = hash;
    e->klen = klen;
    e->vlen = (uint32_t)vlen;
    e->expiry = expiry;
    e->ref = 0;
    e->bnext = NIL;
    e->state = E_WRITING;
    tpo_shm_lru_push_head(c, idx);
    c->h->nentries++;
    return idx;
}

static void chain_write(shm_cache *c, const shm_entry *e, const char *key, const unsigned char *val,
                        apr_size_t vlen)
{
    uint32_t b = e->first;
    apr_size_t pos = e->klen, done = 0;

    memcpy(blk(c, b), key, e->klen);
    while (done < vlen) {
        apr_size_t n;

        if (pos == BLOCK_SIZE) {
            b = c->bnext[b];
            pos = 0;
            if (done >= vlen / 2)
                crash_if(TPO_SHM_CRASH_MID_WRITE);
        }
        n = BLOCK_SIZE - pos;
        if (n > vlen - done)
            n = vlen - done;
        memcpy(blk(c, b) + pos, val + done, n);
        pos += n;
        done += n;
    }
}

static void chain_read(shm_cache *c, const shm_entry *e, unsigned char *out)
{
    uint32_t b = e->first;
    apr_size_t pos = e->klen, done = 0, vlen = e->vlen;

    while (done < vlen) {
        apr_size_t n;

        if (pos == BLOCK_SIZE) {
            b = c->bnext[b];
            pos = 0;
        }
        n = BLOCK_SIZE - pos;
        if (n > vlen - done)
            n = vlen - done;
        memcpy(out + done, blk(c, b) + pos, n);
        pos += n;
        done += n;
    }
}

/* ------------------------------------------------------------ operations */

static int key_len(const char *key, uint16_t *klen)
{
    apr_size_t n;

    if (!key)
        return 0;
    n = strnlen(key, TPO_CACHE_MAX_KEY + 1);
    if (n > TPO_CACHE_MAX_KEY)
        return 0;
    *klen = (uint16_t)n;
    return 1;
}

/* Remove the entry named by key: del() and the expired branch of get(). */
static apr_status_t shm_remove(shm_cache *c, const char *key, int only_expired, apr_status_t *found)
{
    uint16_t klen;
    uint64_t hash;
    uint32_t s;
    int attempt;

    *found = APR_NOTFOUND;
    if (!key_len(key, &klen))
        return APR_SUCCESS;
    hash = tpo_shm_siphash(c->h->seed, (const unsigned char *)key, klen);
    s = stripe_of(c, hash);
    for (attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
        uint32_t *link = NULL, idx;
        apr_status_t rv = tpo_shm_stripe_enter(c, s);
        apr_time_t now = apr_time_now();

        if (rv != APR_SUCCESS)
            return rv;
        idx = tpo_shm_find(c, hash, key, klen, &link);
        if (idx == NIL || (only_expired && c->ent[idx].expiry > now)) {
            unlk(&c->h->stripe[s]);
            if (repair_pending(c)) {
                tpo_shm_repair(c);
                continue;
            }
            return APR_SUCCESS;
        }
        rv = tpo_shm_alloc_enter(c);
        if (rv != APR_SUCCESS) {
            unlk(&c->h->stripe[s]);
            if (rv != APR_EAGAIN)
                return rv;
            tpo_shm_repair(c);
            continue;
        }
        if (c->ent[idx].expiry <= now)
            count(&c->h->expired);
        else
            *found = APR_SUCCESS;
        entry_remove(c, link, idx);
        unlk(&c->h->alloc);
        unlk(&c->h->stripe[s]);
        return APR_SUCCESS;
    }
    return APR_EGENERAL;
}

static apr_status_t shm_get(tpo_cache *tc, const char *key, apr_pool_t *p, char **val,
                            apr_size_t *vlen)
{
    shm_cache *c = tc->impl;
    uint16_t klen;
    uint64_t hash;
    uint32_t s;
    int attempt;

    if (!key_len(key, &klen))
        return APR_NOTFOUND;
    hash = tpo_shm_siphash(c->h->seed, (const unsigned char *)key, klen);
    s = stripe_of(c, hash);
    for (attempt = 0; attempt < 8; attempt++) {
        uint32_t idx, *link = NULL;
        apr_status_t rv = tpo_shm_stripe_enter(c, s), found;
        shm_entry *e;

        if (rv != APR_SUCCESS)
            return rv;
        crash_if(TPO_SHM_CRASH_HOLDING_STRIPE);
        idx = tpo_shm_find(c, hash, key, klen, &link);
        if (idx == NIL) {
            unlk(&c->h->stripe[s]);
            if (repair_pending(c)) { /* tpo_shm_find() met a broken chain */
                tpo_shm_repair(c);
                continue;
            }
            return APR_NOTFOUND;
        }
        e = &c->ent[idx];
        if (e->expiry <= apr_time_now()) {
            unlk(&c->h->stripe[s]);
            rv = shm_remove(c, key, 1, &found);
            return rv == APR_SUCCESS ? APR_NOTFOUND : rv;
        }
        *val = apr_palloc(p, (apr_size_t)e->vlen + 1);
        chain_read(c, e, (unsigned char *)*val);
        (*val)[e->vlen] = '\0';
        if (vlen)
            *vlen = e->vlen;
        if (!__atomic_load_n(&e->ref, __ATOMIC_RELAXED)) {
            __atomic_store_n(&e->ref, 1, __ATOMIC_RELAXED);
        }
        unlk(&c->h->stripe[s]);
        return APR_SUCCESS;
    }
    return APR_EGENERAL;
}

static apr_status_t shm_store(tpo_cache *tc, const char *key, const void *val, apr_size_t vlen,
                              apr_time_t expiry, int only_if_absent)
{
    shm_cache *c = tc->impl;
    uint16_t klen;
    uint64_t hash;
    uint32_t s, need;
    int attempt;

    if (!key_len(key, &klen))
        return APR_EINVAL;
    if (vlen > c->max_value) {
        count(&c->h->refused);
        if (!only_if_absent) {
            /* as memcached does: a set that cannot be stored removes the old
             * value, so a stale record (a rotated-out refresh token) is never
             * served after a failed update */
            apr_status_t found, rv = shm_remove(c, key, 0, &found);
            if (rv != APR_SUCCESS)
                return rv;
        }
        return APR_ENOSPC;
    }
    hash = tpo_shm_siphash(c->h->seed, (const unsigned char *)key, klen);
    s = stripe_of(c, hash);
    need = blocks_for((apr_size_t)klen + vlen);
    for (attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
        uint32_t *link = NULL, idx;
        apr_time_t now;
        apr_status_t rv = tpo_shm_stripe_enter(c, s);
        shm_entry *e;

        if (rv != APR_SUCCESS)
            return rv;
        now = apr_time_now();
        idx = tpo_shm_find(c, hash, key, klen, &link);
        if (idx != NIL && only_if_absent && c->ent[idx].expiry > now) {
            unlk(&c->h->stripe[s]);
            return APR_EEXIST;
        }
        rv = tpo_shm_alloc_enter(c);
        if (rv != APR_SUCCESS) {
            unlk(&c->h->stripe[s]);
            if (rv != APR_EAGAIN)
                return rv;
            tpo_shm_repair(c);
            continue;
        }
        if (idx != NIL) {
            if (c->ent[idx].expiry <= now)
                count(&c->h->expired);
            entry_remove(c, link, idx);
        }
        rv = make_room(c, s, need, now);
        if (rv != APR_SUCCESS) {
            unlk(&c->h->alloc);
            unlk(&c->h->stripe[s]);
            if (repair_pending(c))
                tpo_shm_repair(c);
            else
                backoff(attempt);
            continue;
        }
        idx = entry_alloc(c, need, hash, klen, vlen, expiry);
        unlk(&c->h->alloc);
        e = &c->ent[idx];
        chain_write(c, e, key, val, vlen);
        e->bnext = c->buckets[bucket_of(c, hash)];
        c->buckets[bucket_of(c, hash)] = idx;
        __atomic_store_n(&e->state, E_LIVE, __ATOMIC_RELEASE);
        unlk(&c->h->stripe[s]);
        return APR_SUCCESS;
    }
    return APR_EAGAIN;
}

static apr_status_t shm_set(tpo_cache *tc, const char *key, const void *val, apr_size_t vlen,
                            apr_time_t expiry)
{
    return shm_store(tc, key, val, vlen, expiry, 0);
}

static apr_status_t shm_add(tpo_cache *tc, const char *key, const void *val, apr_size_t vlen,
                            apr_time_t expiry)
{
    return shm_store(tc, key, val, vlen, expiry, 1);
}

static apr_status_t shm_del(tpo_cache *tc, const char *key)
{
    apr_status_t found, rv = shm_remove(tc->impl, key, 0, &found);

    return rv == APR_SUCCESS ? found : rv;
}

static const tpo_cache_ops shm_ops = {"shm", shm_get, shm_set, shm_add, shm_del};

/* ---------------------------------------------------------------- setup */

static apr_size_t align64(apr_size_t n)
{
    return (n + 63) & ~(apr_size_t)63;
}

apr_status_t tpo_shm_cache_create(apr_pool_t *p, apr_size_t bytes, apr_size_t max_entries,
                                  tpo_cache **out, const char **err)
{
    apr_size_t me = max_entries ? max_entries : bytes / BYTES_PER_ENTRY;
    apr_size_t nbuckets = NSTRIPES, off_entries, off_bnext, off_data, nblocks, size, i;
    pthread_mutexattr_t ma;
    shm_cache *c;
    shm_hdr *h;
    char *base;
    apr_status_t rv;
    int prv;

    if (err)
        *err = NULL;
    if (me < MIN_ENTRIES)
        me = MIN_ENTRIES;
    if (me > (1u << 30)) {
        if (err)
            *err = "too many cache entries (at most 2^30)";
        return APR_EINVAL;
    }
    while (nbuckets < me)
        nbuckets <<= 1;
    off_entries = align64(align64(sizeof(shm_hdr)) + nbuckets * sizeof(uint32_t));
    off_bnext = align64(off_entries + me * sizeof(shm_entry));
    nblocks =
        bytes > off_bnext + 64 ? (bytes - off_bnext - 64) / (BLOCK_SIZE + sizeof(uint32_t)) : 0;
    if (nblocks < MIN_BLOCKS)
        nblocks = MIN_BLOCKS; /* too small: grow to a minimum */
    if (nblocks >= NIL / 2)
        nblocks = NIL / 2 - 1;
    off_data = align64(off_bnext + nblocks * sizeof(uint32_t));
    size = off_data + nblocks * BLOCK_SIZE;

    c = apr_pcalloc(p, sizeof(*c));
    rv = apr_shm_create(&c->shm, size + 64, NULL, p);
    if (rv != APR_SUCCESS) {
        if (err)
            *err = apr_psprintf(
                p, "cannot create an anonymous shared-memory segment of %" APR_SIZE_T_FMT " bytes",
                size);
        return rv;
    }
    base = (char *)align64((apr_size_t)apr_shm_baseaddr_get(c->shm));
    memset(base, 0, size);
    c->h = h = (shm_hdr *)base;
    c->buckets = (uint32_t *)(base + align64(sizeof(shm_hdr)));
    c->ent = (shm_entry *)(base + off_entries);
    c->bnext = (uint32_t *)(base + off_bnext);
    c->data = (unsigned char *)base + off_data;
    c->bytes = size;

    h->magic = SHM_MAGIC;
    h->version = SHM_VERSION;
    h->size = size;
    if (apr_generate_random_bytes((unsigned char *)h->seed, sizeof(h->seed)) != APR_SUCCESS) {
        h->seed[0] = (uint64_t)apr_time_now() ^ ((uint64_t)getpid() << 32);
        h->seed[1] = (uint64_t)(apr_size_t)c ^ 0x9e3779b97f4a7c15ULL;
    }
    h->nbuckets = (uint32_t)nbuckets;
    h->max_entries = (uint32_t)me;
    h->nblocks = (uint32_t)nblocks;
    h->block_size = BLOCK_SIZE;
    h->max_value_blocks = (uint32_t)(nblocks / 2);
    h->off_buckets = align64(sizeof(shm_hdr));
    h->off_entries = off_entries;
    h->off_bnext = off_bnext;
    h->off_data = off_data;
    c->max_value = (apr_size_t)h->max_value_blocks * BLOCK_SIZE - TPO_CACHE_MAX_KEY;
    if (c->max_value > UINT32_MAX / 2)
        c->max_value = UINT32_MAX / 2;

    if ((prv = pthread_mutexattr_init(&ma)) != 0 ||
        (prv = pthread_mutexattr_setpshared(&ma, PTHREAD_PROCESS_SHARED)) != 0 ||
        (prv = pthread_mutexattr_setrobust(&ma, PTHREAD_MUTEX_ROBUST)) != 0) {
        if (err)
            *err = "process-shared robust mutexes are not supported";
        return APR_FROM_OS_ERROR(prv);
    }
    prv = pthread_mutex_init(&h->alloc.m, &ma);
    for (i = 0; prv == 0 && i < NSTRIPES; i++) {
        prv = pthread_mutex_init(&h->stripe[i].m, &ma);
    }
    pthread_mutexattr_destroy(&ma);
    if (prv != 0) {
        if (err)
            *err = "cannot initialise the cache locks";
        return APR_FROM_OS_ERROR(prv);
    }

    for (i = 0; i < nbuckets; i++)
        c->buckets[i] = NIL;
    for (i = 0; i < me; i++) {
        c->ent[i].state = E_FREE;
        c->ent[i].bnext = i + 1 < me ? (uint32_t)(i + 1) : NIL;
        c->ent[i].lprev = c->ent[i].lnext = NIL;
    }
    for (i = 0; i < nblocks; i++) {
        c->bnext[i] = i + 1 < nblocks ? (uint32_t)(i + 1) : NIL;
    }
    h->free_slot = 0;
    h->free_block = 0;
    h->nfree_blocks = (uint32_t)nblocks;
    h->lru_head = h->lru_tail = NIL;

    *out = apr_pcalloc(p, sizeof(**out));
    (*out)->ops = &shm_ops;
    (*out)->impl = c;
    return APR_SUCCESS;
}

void tpo_shm_cache_rebind(tpo_cache *c)
{
    c->ops = &shm_ops;
}

void tpo_shm_cache_get_stats(tpo_cache *tc, tpo_shm_cache_stats *st)
{
    shm_cache *c = tc->impl;
    shm_hdr *h = c->h;
    int locked = 0, attempt;

    for (attempt = 0; attempt < 8 && !locked; attempt++) {
        if (lk(c, &h->alloc) != 0)
            break;
        if (!repair_pending(c)) {
            locked = 1;
            break;
        }
        unlk(&h->alloc);
        tpo_shm_repair(c);
    }
    memset(st, 0, sizeof(*st));
    st->bytes = c->bytes;
    st->entries = h->nentries;
    st->max_entries = h->max_entries;
    st->blocks_total = h->nblocks;
    st->blocks_free = h->nfree_blocks;
    st->block_size = h->block_size;
    if (locked)
        unlk(&h->alloc);
    st->evictions = __atomic_load_n(&h->evictions, __ATOMIC_RELAXED);
    st->expired = __atomic_load_n(&h->expired, __ATOMIC_RELAXED);
    st->refused = __atomic_load_n(&h->refused, __ATOMIC_RELAXED);
}

apr_size_t tpo_shm_cache_max_value(tpo_cache *tc)
{
    return ((shm_cache *)tc->impl)->max_value;
}

apr_uint64_t tpo_shm_cache_repairs(tpo_cache *tc)
{
    return __atomic_load_n(&((shm_cache *)tc->impl)->h->repairs, __ATOMIC_RELAXED);
}

#ifdef TPO_TESTING
void tpo_shm_cache_test_crash_at(int point)
{
    crash_point = point;
}
#endif
