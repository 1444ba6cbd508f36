/* peers.c - one allocation's permissions (RFC 8656 section 9, by IP
 * address) and channels (section 12, by number and by peer transport
 * address) in one open-addressing table: the data path finds either in
 * constant time and allocates nothing; the table grows only when a
 * permission or channel is added. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "turnd.h"

enum { E_EMPTY = 0, E_PERM, E_PEER, E_CHAN, E_DEAD };

struct peer_ent {
	uint8_t kind;
	uint8_t fam;           /* 4 or 6 */
	uint16_t port;         /* E_PEER, E_CHAN */
	uint16_t ch;           /* E_PEER, E_CHAN */
	uint8_t ip[16];        /* E_PERM, E_PEER, E_CHAN */
	int64_t expires;
};

#define INITIAL_CAP 8u

void peers_init(struct peer_table *t)
{
	memset(t, 0, sizeof *t);
}

void peers_cleanup(struct peer_table *t)
{
	free(t->e);
	memset(t, 0, sizeof *t);
}

static void key_of(const struct pbx_addr *a, uint8_t *fam, uint8_t ip[16], uint16_t *port)
{
	struct pbx_addr u;
	pbx_addr_unmap(a, &u);
	memset(ip, 0, 16);
	if (pbx_addr_family(&u) == AF_INET) {
		*fam = 4;
		memcpy(ip, &u.u.sin.sin_addr, 4);
	} else {
		*fam = 6;
		memcpy(ip, &u.u.sin6.sin6_addr, 16);
	}
	*port = pbx_addr_port(&u);
}

static uint32_t hash(uint8_t kind, uint8_t fam, const uint8_t ip[16], uint16_t port, uint16_t ch)
{
	uint32_t h = 2166136261u ^ kind;
	h = (h ^ fam) * 16777619u;
	for (int i = 0; i < 16; i++)
		h = (h ^ ip[i]) * 16777619u;
	h = (h ^ (port & 0xff)) * 16777619u;
	h = (h ^ (port >> 8)) * 16777619u;
	h = (h ^ (ch & 0xff)) * 16777619u;
	h = (h ^ (ch >> 8)) * 16777619u;
	return h;
}

static bool same(const struct peer_ent *e, uint8_t kind, uint8_t fam, const uint8_t ip[16],
		 uint16_t port, uint16_t ch)
{
	if (e->kind != kind)
		return false;
	if (kind == E_CHAN)
		return e->ch == ch;
	return e->fam == fam && memcmp(e->ip, ip, 16) == 0 && (kind == E_PERM || e->port == port);
}

/* The slot of the entry, or NULL. */
static struct peer_ent *find(const struct peer_table *t, uint8_t kind, uint8_t fam,
			     const uint8_t ip[16], uint16_t port, uint16_t ch)
{
	if (!t->cap)
		return NULL;
	uint32_t mask = t->cap - 1;
	uint8_t zero[16] = { 0 };
	if (kind == E_CHAN) {
		fam = 0;
		ip = zero;
		port = 0;
	}
	for (uint32_t i = hash(kind, fam, ip, port, ch) & mask, k = 0; k < t->cap;
	     i = (i + 1) & mask, k++) {
		struct peer_ent *e = &t->e[i];
		if (e->kind == E_EMPTY)
			return NULL;
		if (same(e, kind, fam, ip, port, ch))
			return e;
	}
	return NULL;
}

static void place(struct peer_ent *tab, uint32_t cap, const struct peer_ent *src)
{
	uint8_t zero[16] = { 0 };
	bool chan = src->kind == E_CHAN;
	uint32_t mask = cap - 1;
	/* Hashed on the key find() looks it up by: the number for a channel,
	 * the address for a peer or a permission. */
	for (uint32_t i = hash(src->kind, chan ? 0 : src->fam, chan ? zero : src->ip,
			       chan ? 0 : src->port, chan ? src->ch : 0) & mask;;
	     i = (i + 1) & mask) {
		if (tab[i].kind == E_EMPTY) {
			tab[i] = *src;
			return;
		}
	}
}

/* Room for one more entry: rebuild (without dead slots) at 3/4 full. */
static int room(struct peer_table *t)
{
	if (t->cap && (t->used + 1) * 4 <= t->cap * 3)
		return 0;
	/* Every entry that moves over: live ones and reserved channel
	 * bindings (the counts may be a sweep old). */
	uint32_t live = 0;
	for (uint32_t i = 0; i < t->cap; i++)
		live += t->e[i].kind != E_EMPTY && t->e[i].kind != E_DEAD;
	uint32_t cap = t->cap ? t->cap : INITIAL_CAP;
	while ((live + 1) * 2 > cap)
		cap *= 2;
	struct peer_ent *tab = calloc(cap, sizeof *tab);
	if (!tab)
		return -ENOMEM;
	uint32_t used = 0;
	for (uint32_t i = 0; i < t->cap; i++) {
		if (t->e[i].kind == E_EMPTY || t->e[i].kind == E_DEAD)
			continue;
		place(tab, cap, &t->e[i]);
		used++;
	}
	free(t->e);
	t->e = tab;
	t->cap = cap;
	t->used = used;
	return 0;
}

static int insert(struct peer_table *t, const struct peer_ent *n)
{
	int rc = room(t);
	if (rc)
		return rc;
	place(t->e, t->cap, n);
	t->used++;
	return 0;
}

int peers_permit(struct peer_table *t, const struct pbx_addr *peer, int64_t expires,
		 int64_t now)
{
	(void)now;
	struct peer_ent n = { .kind = E_PERM, .expires = expires };
	key_of(peer, &n.fam, n.ip, &n.port);
	n.port = 0;
	struct peer_ent *e = find(t, E_PERM, n.fam, n.ip, 0, 0);
	if (e) {
		/* Expired but not swept yet: still counted, live again. */
		e->expires = expires;
		return 0;
	}
	if (t->n_perm >= PEERS_MAX_PERM)
		return PBX_E_NOSPACE;
	int rc = insert(t, &n);
	if (rc == 0)
		t->n_perm++;
	return rc;
}

bool peers_permitted(const struct peer_table *t, const struct pbx_addr *peer, int64_t now)
{
	uint8_t fam, ip[16];
	uint16_t port;
	key_of(peer, &fam, ip, &port);
	const struct peer_ent *e = find(t, E_PERM, fam, ip, 0, 0);
	return e && e->expires > now;
}

int peers_bind(struct peer_table *t, uint16_t ch, const struct pbx_addr *peer, int64_t expires,
	       int64_t now)
{
	(void)now;
	struct peer_ent p = { .kind = E_PEER, .ch = ch, .expires = expires };
	key_of(peer, &p.fam, p.ip, &p.port);
	struct peer_ent *byc = find(t, E_CHAN, 0, NULL, 0, ch);
	struct peer_ent *byp = find(t, E_PEER, p.fam, p.ip, p.port, 0);
	/* A binding that expired stays reserved for TURND_CHANNEL_PAUSE_S
	 * (see peers_expire): until then its number belongs to its old
	 * peer and the peer to its number, as RFC 8656 12 wants; the same
	 * pair may be bound again. */
	if (byc && (byc->fam != p.fam || memcmp(byc->ip, p.ip, 16) || byc->port != p.port))
		return PBX_E_EXISTS;
	if (byp && byp->ch != ch)
		return PBX_E_EXISTS;
	if (byc && byp) {
		byc->expires = byp->expires = expires;
		return 0;
	}
	if (t->n_chan + t->n_cooling >= PEERS_MAX_CHAN)
		return PBX_E_NOSPACE;
	struct peer_ent c = p;
	c.kind = E_CHAN;
	int rc = insert(t, &p);
	if (rc == 0 && (rc = insert(t, &c))) {
		struct peer_ent *e = find(t, E_PEER, p.fam, p.ip, p.port, 0);
		if (e)
			e->kind = E_DEAD;
	}
	if (rc == 0)
		t->n_chan++;
	return rc;
}

static void addr_of(const struct peer_ent *e, struct pbx_addr *out)
{
	memset(out, 0, sizeof *out);
	if (e->fam == 4) {
		out->u.sin.sin_family = AF_INET;
		memcpy(&out->u.sin.sin_addr, e->ip, 4);
		out->u.sin.sin_port = htons(e->port);
		out->len = sizeof out->u.sin;
	} else {
		out->u.sin6.sin6_family = AF_INET6;
		memcpy(&out->u.sin6.sin6_addr, e->ip, 16);
		out->u.sin6.sin6_port = htons(e->port);
		out->len = sizeof out->u.sin6;
	}
}

int peers_channel_peer(const struct peer_table *t, uint16_t ch, int64_t now,
		       struct pbx_addr *peer)
{
	const struct peer_ent *e = find(t, E_CHAN, 0, NULL, 0, ch);
	if (!e || e->expires <= now)
		return PBX_E_NOTFOUND;
	addr_of(e, peer);
	return 0;
}

int peers_peer_channel(const struct peer_table *t, const struct pbx_addr *peer, int64_t now,
		       uint16_t *ch)
{
	uint8_t fam, ip[16];
	uint16_t port;
	key_of(peer, &fam, ip, &port);
	const struct peer_ent *e = find(t, E_PEER, fam, ip, port, 0);
	if (!e || e->expires <= now)
		return PBX_E_NOTFOUND;
	*ch = e->ch;
	return 0;
}

void peers_expire(struct peer_table *t, int64_t now)
{
	uint32_t perm = 0, chan = 0, cooling = 0;
	for (uint32_t i = 0; i < t->cap; i++) {
		struct peer_ent *e = &t->e[i];
		if (e->kind == E_EMPTY || e->kind == E_DEAD)
			continue;
		if (e->expires <= now) {
			bool binding = e->kind == E_CHAN || e->kind == E_PEER;
			if (binding && e->expires > now - TURND_CHANNEL_PAUSE_S)
				cooling += e->kind == E_CHAN;
			else
				e->kind = E_DEAD;
			continue;
		}
		perm += e->kind == E_PERM;
		chan += e->kind == E_CHAN;
	}
	t->n_perm = perm;
	t->n_chan = chan;
	t->n_cooling = cooling;
}
