/* ports.c - the relay port pool (RFC 8656 section 7.2: ports from
 * turnd.min-port..turnd.max-port only; EVEN-PORT and RESERVATION-TOKEN,
 * section 14.6 and 14.9), shared by the workers under one lock: it is
 * touched once per allocation, never per packet. */
#include <errno.h>
#include <gnutls/crypto.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "turnd.h"

#define MAX_RESERVATIONS 1024

struct reservation {
	uint64_t token;
	uint16_t port;
	int64_t until;
};

struct turnd_ports {
	pthread_mutex_t lock;
	uint16_t min, max;
	uint32_t n;           /* ports in the range */
	uint32_t cursor;      /* where the next search starts */
	uint32_t in_use;
	uint8_t *taken;       /* one byte per port: 0 free, 1 taken, 2 reserved */
	struct reservation res[MAX_RESERVATIONS];
	size_t n_res;
};

struct turnd_ports *ports_new(uint16_t min, uint16_t max)
{
	if (min > max)
		return NULL;
	struct turnd_ports *p = calloc(1, sizeof *p);
	if (!p)
		return NULL;
	p->min = min;
	p->max = max;
	p->n = (uint32_t)max - min + 1;
	if (!(p->taken = calloc(p->n, 1))) {
		free(p);
		return NULL;
	}
	/* Start at a random place: ports are then hard to guess. */
	uint32_t r = 0;
	gnutls_rnd(GNUTLS_RND_NONCE, &r, sizeof r);
	p->cursor = r % p->n;
	pthread_mutex_init(&p->lock, NULL);
	return p;
}

void ports_free(struct turnd_ports *p)
{
	if (!p)
		return;
	pthread_mutex_destroy(&p->lock);
	free(p->taken);
	free(p);
}

/* Drop expired reservations, freeing their ports; under the lock. */
static void expire(struct turnd_ports *p, int64_t now_s)
{
	for (size_t i = 0; i < p->n_res;) {
		if (p->res[i].until > now_s) {
			i++;
			continue;
		}
		p->taken[p->res[i].port - p->min] = 0;
		p->in_use--;
		p->res[i] = p->res[--p->n_res];
	}
}

int ports_take(struct turnd_ports *p, bool even, bool reserve, int64_t now_s, uint16_t *port,
	       uint64_t *token)
{
	int rc = PBX_E_NOSPACE;
	pthread_mutex_lock(&p->lock);
	expire(p, now_s);
	if (reserve && p->n_res == MAX_RESERVATIONS)
		goto out;
	for (uint32_t k = 0; k < p->n; k++) {
		uint32_t i = (p->cursor + k) % p->n;
		uint32_t pt = p->min + i;
		if (p->taken[i] || ((even || reserve) && (pt & 1)))
			continue;
		if (reserve && (pt + 1 > p->max || p->taken[i + 1]))
			continue;
		p->taken[i] = 1;
		p->in_use++;
		*port = (uint16_t)pt;
		p->cursor = (i + 1 + reserve) % p->n;
		if (reserve) {
			uint64_t t = 0;
			while (t == 0)
				gnutls_rnd(GNUTLS_RND_NONCE, &t, sizeof t);
			p->taken[i + 1] = 2;
			p->in_use++;
			p->res[p->n_res++] = (struct reservation){ t, (uint16_t)(pt + 1),
								   now_s + TURND_RESERVATION_S };
			*token = t;
		}
		rc = 0;
		break;
	}
out:
	pthread_mutex_unlock(&p->lock);
	return rc;
}

int ports_take_reserved(struct turnd_ports *p, uint64_t token, int64_t now_s, uint16_t *port)
{
	int rc = PBX_E_NOTFOUND;
	pthread_mutex_lock(&p->lock);
	expire(p, now_s);
	for (size_t i = 0; i < p->n_res; i++) {
		if (p->res[i].token != token)
			continue;
		*port = p->res[i].port;
		p->taken[*port - p->min] = 1;
		p->res[i] = p->res[--p->n_res];
		rc = 0;
		break;
	}
	pthread_mutex_unlock(&p->lock);
	return rc;
}

void ports_give(struct turnd_ports *p, uint16_t port)
{
	if (port < p->min || port > p->max)
		return;
	pthread_mutex_lock(&p->lock);
	if (p->taken[port - p->min]) {
		p->taken[port - p->min] = 0;
		p->in_use--;
	}
	pthread_mutex_unlock(&p->lock);
}

bool ports_held(struct turnd_ports *p, uint16_t port)
{
	if (port < p->min || port > p->max)
		return false;
	pthread_mutex_lock(&p->lock);
	bool held = p->taken[port - p->min] == 1;
	pthread_mutex_unlock(&p->lock);
	return held;
}

size_t ports_in_use(struct turnd_ports *p)
{
	pthread_mutex_lock(&p->lock);
	size_t n = p->in_use;
	pthread_mutex_unlock(&p->lock);
	return n;
}
