/* limit.c - per-source limits shared by stund's workers: a token bucket
 * of messages per source address, and the TCP/TLS connections a source
 * holds.  SO_REUSEPORT spreads one source's datagrams over every worker
 * (by the 4-tuple hash, so a flood from many source ports reaches all of
 * them): per-worker buckets would grant a flood the rate once per worker.
 * One table bounds it once, in fixed memory. */
#include <stdlib.h>
#include <string.h>

#include "stund.h"

#define SETS 16384          /* sets of WAYS buckets: 64k sources tracked */
#define WAYS 4
#define CONN_SLOTS 65536
#define MILLI 1000

struct bucket {
	uint64_t key;        /* the source: IPv4 address, or an IPv6 /64 */
	uint8_t family;      /* 0: free */
	uint64_t milli;      /* tokens times 1000 */
	uint64_t last_ms;
};

struct set {
	atomic_flag lock;
	struct bucket b[WAYS];
};

struct stund_limit {
	_Atomic unsigned refs;
	struct set sets[SETS];
	_Atomic uint16_t conns[CONN_SLOTS];
};

/* IPv6 sources are tracked per /64: one customer line usually gets a
 * whole /64, so per address a single host could take 2^64 buckets. */
static bool source_key(const struct pbx_addr *a, uint8_t *family, uint64_t *key)
{
	struct pbx_cidr c;
	if (pbx_cidr_from_addr(a, &c))
		return false;
	uint64_t k = 0;
	size_t n = c.family == AF_INET ? 4 : 8;
	for (size_t i = 0; i < n; i++)
		k = k << 8 | c.ip[i];
	*family = (uint8_t)c.family;
	*key = k;
	return true;
}

static uint64_t mix(uint64_t k, uint8_t family)
{
	k ^= family;
	k ^= k >> 33;
	k *= 0xff51afd7ed558ccdULL;
	k ^= k >> 33;
	k *= 0xc4ceb9fe1a85ec53ULL;
	k ^= k >> 33;
	return k;
}

struct stund_limit *limit_new(void)
{
	struct stund_limit *l = calloc(1, sizeof *l);
	if (!l)
		return NULL;
	atomic_init(&l->refs, 1);
	for (size_t i = 0; i < SETS; i++)
		atomic_flag_clear(&l->sets[i].lock);
	return l;
}

struct stund_limit *limit_ref(struct stund_limit *l)
{
	atomic_fetch_add(&l->refs, 1);
	return l;
}

void limit_unref(struct stund_limit *l)
{
	if (l && atomic_fetch_sub(&l->refs, 1) == 1)
		free(l);
}

bool limit_take(struct stund_limit *l, const struct pbx_addr *src, uint64_t now_ms,
		uint32_t rate, uint32_t burst)
{
	uint8_t family;
	uint64_t key;
	if (rate == 0 || !source_key(src, &family, &key))
		return true;
	struct set *s = &l->sets[mix(key, family) % SETS];
	while (atomic_flag_test_and_set_explicit(&s->lock, memory_order_acquire))
		; /* held for a few instructions by another worker */
	struct bucket *b = NULL, *oldest = &s->b[0];
	for (int i = 0; i < WAYS && !b; i++) {
		struct bucket *x = &s->b[i];
		if (x->family == family && x->key == key)
			b = x;
		else if (oldest->family && (!x->family || x->last_ms < oldest->last_ms))
			oldest = x;
	}
	uint64_t cap = (uint64_t)burst * MILLI;
	if (!b) {
		/* A new source replaces the longest idle one in its set: a
		 * spoofed flood from many addresses only makes others start
		 * afresh with a full bucket, it never blocks them. */
		b = oldest;
		b->family = family;
		b->key = key;
		b->milli = cap;
		b->last_ms = now_ms;
	} else if (now_ms > b->last_ms) {
		uint64_t add = (now_ms - b->last_ms) * rate;
		b->milli = b->milli + add > cap || add > cap ? cap : b->milli + add;
		b->last_ms = now_ms;
	}
	bool ok = b->milli >= MILLI;
	if (ok)
		b->milli -= MILLI;
	atomic_flag_clear_explicit(&s->lock, memory_order_release);
	return ok;
}

/* Connection counts are kept per hash slot, not per source: two sources
 * that share a slot (rarely, with 65536 of them) share the limit too. */
static _Atomic uint16_t *conn_slot(struct stund_limit *l, const struct pbx_addr *src)
{
	uint8_t family;
	uint64_t key;
	if (!source_key(src, &family, &key))
		return NULL;
	return &l->conns[mix(key, family) % CONN_SLOTS];
}

bool limit_conn_open(struct stund_limit *l, const struct pbx_addr *src, unsigned max)
{
	_Atomic uint16_t *c = conn_slot(l, src);
	if (!c)
		return false;
	unsigned n = atomic_fetch_add(c, 1);
	if (n >= max || n >= 65535) {
		atomic_fetch_sub(c, 1);
		return false;
	}
	return true;
}

void limit_conn_close(struct stund_limit *l, const struct pbx_addr *src)
{
	_Atomic uint16_t *c = conn_slot(l, src);
	if (c)
		atomic_fetch_sub(c, 1);
}
