/* fraud.c - suspicious requests per source per minute, and the decision to
 * blacklist: one table behind a mutex, shared by a daemon's workers (a
 * per-worker count would let a source spread its attempts over workers). */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <pbxedge/fraud.h>

#define WINDOW_S 60

struct entry {
	bool used;
	struct pbx_cidr key;
	int64_t window_start;
	unsigned count;
	int64_t blocked_until;
};

struct fraud {
	pthread_mutex_t lock;
	struct entry *slots;
	size_t cap, used, max;
	int64_t last_expire;
};

int fraud_new(size_t max_sources, struct fraud **out)
{
	struct fraud *f = calloc(1, sizeof *f);
	*out = NULL;
	if (!f)
		return -ENOMEM;
	size_t cap = 64;
	while (cap < 2 * max_sources)
		cap *= 2;
	f->slots = calloc(cap, sizeof *f->slots);
	if (!f->slots) {
		free(f);
		return -ENOMEM;
	}
	f->cap = cap;
	f->max = max_sources;
	pthread_mutex_init(&f->lock, NULL);
	*out = f;
	return 0;
}

void fraud_free(struct fraud *f)
{
	if (!f)
		return;
	pthread_mutex_destroy(&f->lock);
	free(f->slots);
	free(f);
}

void fraud_source(const struct pbx_addr *a, unsigned v6prefix, struct pbx_cidr *out)
{
	if (pbx_cidr_from_addr(a, out))
		return;
	if (out->family == AF_INET6 && v6prefix < 128) {
		unsigned full = v6prefix / 8, rest = v6prefix % 8;
		if (rest)
			out->ip[full] &= (uint8_t)(0xff << (8 - rest));
		for (unsigned i = full + (rest ? 1 : 0); i < 16; i++)
			out->ip[i] = 0;
		out->prefix = (uint8_t)v6prefix;
	}
}

static size_t hash(const struct pbx_cidr *k)
{
	uint64_t h = 1469598103934665603ULL ^ k->family ^ ((uint64_t)k->prefix << 8);
	for (int i = 0; i < 16; i++) {
		h ^= k->ip[i];
		h *= 1099511628211ULL;
	}
	return (size_t)h;
}

static struct entry *find(struct fraud *f, const struct pbx_cidr *k, bool create)
{
	size_t mask = f->cap - 1;
	struct entry *tomb = NULL;
	for (size_t i = hash(k) & mask, n = 0; n < f->cap; i = (i + 1) & mask, n++) {
		struct entry *e = &f->slots[i];
		if (!e->used) {
			/* Linear probing with deletions done by rehash (below), so
			 * an empty slot ends the search. */
			tomb = tomb ? tomb : e;
			break;
		}
		if (pbx_cidr_equal(&e->key, k))
			return e;
	}
	if (!create || !tomb || f->used >= f->max)
		return NULL;
	memset(tomb, 0, sizeof *tomb);
	tomb->used = true;
	tomb->key = *k;
	f->used++;
	return tomb;
}

/* Drop entries that have nothing left to say (window over, not blocked),
 * re-inserting the rest so that probe chains stay intact. */
static void expire(struct fraud *f, int64_t now)
{
	struct entry *old = f->slots;
	struct entry *fresh = calloc(f->cap, sizeof *fresh);
	if (!fresh)
		return;
	f->slots = fresh;
	f->used = 0;
	for (size_t i = 0; i < f->cap; i++) {
		struct entry *e = &old[i];
		if (!e->used || (now >= e->window_start + WINDOW_S && now >= e->blocked_until))
			continue;
		struct entry *n = find(f, &e->key, true);
		if (n)
			*n = *e;
	}
	free(old);
}

bool fraud_count(struct fraud *f, const struct pbx_cidr *source, int64_t now, unsigned threshold,
		 unsigned *count)
{
	bool blacklist = false;
	pthread_mutex_lock(&f->lock);
	struct entry *e = find(f, source, false);
	if (!e) {
		/* A full table is swept at most once a second: a flood of
		 * distinct sources must not make every count a full sweep. */
		if (f->used >= f->max && now != f->last_expire) {
			f->last_expire = now;
			expire(f, now);
		}
		e = find(f, source, true);
	}
	if (e) {
		if (now >= e->window_start + WINDOW_S) {
			e->window_start = now;
			e->count = 0;
		}
		e->count++;
		if (e->count > threshold && now >= e->blocked_until) {
			blacklist = true;
			e->blocked_until = now + FRAUD_LOCAL_BLOCK_S;
		}
		if (count)
			*count = e->count;
	} else if (count) {
		/* The table is full of live sources: this one goes uncounted
		 * rather than evicting one that is being counted. */
		*count = 0;
	}
	pthread_mutex_unlock(&f->lock);
	return blacklist;
}

bool fraud_blocked(struct fraud *f, const struct pbx_cidr *source, int64_t now)
{
	pthread_mutex_lock(&f->lock);
	struct entry *e = find(f, source, false);
	bool blocked = e && now < e->blocked_until;
	pthread_mutex_unlock(&f->lock);
	return blocked;
}
