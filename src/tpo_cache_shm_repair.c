/* SPDX-License-Identifier: Apache-2.0
 * Licensed under the Apache License, Version 2.0 (see LICENSE). */
/* Shared-memory cache: recovery from a process that died holding one of the
 * segment's robust locks (see the locking notes in tpo_cache_shm.c). The
 * next locker gets EOWNERDEAD and flags the segment; before anyone touches
 * the structures again, tpo_shm_repair() takes every lock and rebuilds the
 * chains, lists and counts from the entry table, keeping every intact entry.
 * Also the lock-entry helpers that make every operation wait for a due
 * repair. */
#include <stdlib.h>
#include "tpo_cache_shm_private.h"

/* ----------------------------------------------------------------- locks */

void tpo_shm_owner_died(shm_cache *c, shm_lock *l)
{
    pthread_mutex_consistent(&l->m);
    __atomic_store_n(&c->h->repair_needed, 1, __ATOMIC_RELEASE);
}

/* --------------------------------------------------------------- repair */

/* Is live entry e intact? Marks its blocks in `claimed` if so. */
static int entry_check_claim(shm_cache *c, shm_entry *e, unsigned char *claimed)
{
    uint32_t nblk = c->h->nblocks, b, n;

    if (e->klen > TPO_CACHE_MAX_KEY || e->first >= nblk ||
        (uint64_t)e->klen + e->vlen > (uint64_t)c->h->max_value_blocks * BLOCK_SIZE ||
        e->nblocks != blocks_for((apr_size_t)e->klen + e->vlen)) {
        return 0;
    }
    if (tpo_shm_siphash(c->h->seed, blk(c, e->first), e->klen) != e->hash) {
        return 0;
    }
    for (b = e->first, n = 0;;) {
        if (b >= nblk || claimed[b])
            break;
        claimed[b] = 2;
        if (++n == e->nblocks)
            break;
        b = c->bnext[b];
    }
    if (n != e->nblocks) { /* broken chain: undo */
        for (b = e->first; b < nblk && claimed[b] == 2; b = c->bnext[b]) {
            claimed[b] = 0;
        }
        return 0;
    }
    for (b = e->first, n = 0; n < e->nblocks; n++, b = c->bnext[b]) {
        claimed[b] = 1;
        if (n + 1 == e->nblocks)
            c->bnext[b] = NIL;
    }
    return 1;
}

/* Rebuild every chain, list and count from the entry table. All locks held. */
static void rebuild(shm_cache *c)
{
    shm_hdr *h = c->h;
    uint32_t me = h->max_entries, nblk = h->nblocks, i, n = 0, cur;
    unsigned char *claimed = calloc(nblk, 1), *seen = calloc(me, 1);
    uint32_t *order = malloc((apr_size_t)me * sizeof(*order));

    if (!claimed || !seen || !order) { /* no memory: start empty */
        for (i = 0; i < me; i++)
            c->ent[i].state = E_FREE;
    }
    else {
        /* oldest first, following the old list as far as it is sound */
        for (cur = h->lru_tail; cur < me && !seen[cur] && n < me; cur = c->ent[cur].lprev) {
            seen[cur] = 1;
            order[n++] = cur;
        }
        for (i = 0; i < me; i++) {
            if (!seen[i])
                order[n++] = i;
        }
    }
    for (i = 0; i < h->nbuckets; i++)
        c->buckets[i] = NIL;
    h->lru_head = h->lru_tail = NIL;
    h->nentries = 0;
    for (i = 0; claimed && seen && order && i < n; i++) {
        uint32_t idx = order[i], dup, *link;
        shm_entry *e = &c->ent[idx];

        if (e->state != E_LIVE)
            continue;
        if (!entry_check_claim(c, e, claimed)) {
            e->state = E_FREE;
            continue;
        }
        dup = tpo_shm_find(c, e->hash, (const char *)blk(c, e->first), e->klen, &link);
        if (dup != NIL) { /* keep the newer one */
            c->ent[dup].state = E_FREE;
            *link = c->ent[dup].bnext;
            tpo_shm_lru_unlink(c, dup);
            h->nentries--;
            for (cur = c->ent[dup].first; cur < nblk && claimed[cur]; cur = c->bnext[cur]) {
                claimed[cur] = 0;
            }
        }
        e->bnext = c->buckets[bucket_of(c, e->hash)];
        c->buckets[bucket_of(c, e->hash)] = idx;
        tpo_shm_lru_push_head(c, idx);
        h->nentries++;
    }
    h->free_slot = NIL;
    for (i = me; i-- > 0;) {
        if (c->ent[i].state != E_LIVE) {
            c->ent[i].state = E_FREE;
            c->ent[i].bnext = h->free_slot;
            h->free_slot = i;
        }
    }
    h->free_block = NIL;
    h->nfree_blocks = 0;
    for (i = nblk; i-- > 0;) {
        if (!claimed || !claimed[i]) {
            c->bnext[i] = h->free_block;
            h->free_block = i;
            h->nfree_blocks++;
        }
    }
    h->sweep = 0;
    free(claimed);
    free(seen);
    free(order);
}

/* A process died holding a lock: take all of them (stripes in order, then
 * the allocator) and rebuild, unless someone else already did. */
void tpo_shm_repair(shm_cache *c)
{
    shm_hdr *h = c->h;
    uint32_t s, locked = 0;
    int alloc_locked;

    for (s = 0; s < NSTRIPES; s++, locked++) {
        if (lk(c, &h->stripe[s]) != 0)
            break;
    }
    alloc_locked = locked == NSTRIPES && lk(c, &h->alloc) == 0;
    if (alloc_locked && repair_pending(c)) {
        rebuild(c);
        count(&h->repairs);
        __atomic_store_n(&h->repair_needed, 0, __ATOMIC_RELEASE);
    }
    if (alloc_locked)
        unlk(&h->alloc);
    while (locked-- > 0)
        unlk(&h->stripe[locked]);
}

/* Lock stripe s with no repair due. */
apr_status_t tpo_shm_stripe_enter(shm_cache *c, uint32_t s)
{
    int attempt;

    for (attempt = 0; attempt < 8; attempt++) {
        int rv = lk(c, &c->h->stripe[s]);

        if (rv != 0)
            return APR_FROM_OS_ERROR(rv);
        if (!repair_pending(c))
            return APR_SUCCESS;
        unlk(&c->h->stripe[s]);
        tpo_shm_repair(c);
    }
    return APR_EGENERAL;
}

/* Take the allocator lock while holding a stripe. APR_EAGAIN: a repair is
 * due (the lock is not held then). */
apr_status_t tpo_shm_alloc_enter(shm_cache *c)
{
    int rv = lk(c, &c->h->alloc);

    if (rv != 0)
        return APR_FROM_OS_ERROR(rv);
    if (repair_pending(c)) {
        unlk(&c->h->alloc);
        return APR_EAGAIN;
    }
    return APR_SUCCESS;
}
