/* fuzz_turn.c - fuzzes turnd's request path (turnd/request.c and the
 * method files): decoding, Binding, authentication, and every method's
 * handling of its attributes, on a worker whose allocations are plain
 * memory (no sockets).  Each input is fed twice: as the datagram it is
 * (mostly refused before authentication), and as the attributes of a
 * request that the harness signs with a valid user, realm and nonce, so
 * that the methods' own checks are reached.
 *
 * Input: byte 0 picks the method (low three bits: Allocate, Refresh,
 * CreatePermission, ChannelBind, Send, Binding, Data, 0x00A) and flags (bit
 * 3: an indication; bit 4: an allocation exists for the client; bit 5:
 * MESSAGE-INTEGRITY-SHA256 with PASSWORD-ALGORITHM SHA-256 instead of
 * MESSAGE-INTEGRITY; bit 6: FINGERPRINT).  Then attributes, each a type (2
 * bytes), a length (1 byte) and that many value bytes. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "turnd.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(x)                                                                   \
	do {                                                                       \
		if (!(x))                                                          \
			abort();                                                   \
	} while (0)

/* ---- the worker's side, as plain memory ---- */

void worker_drop(struct turnd_worker *tw, enum turnd_counter c, const struct pbx_addr *src,
		 size_t offset, const void *bytes, size_t len)
{
	(void)src;
	(void)bytes;
	CHECK((unsigned)c < C_COUNT);
	CHECK(offset <= len || len == 0 || offset == 0);
	tw->count[c]++;
}

void worker_suspicious(struct turnd_worker *tw, const struct pbx_addr *src, const char *reason)
{
	(void)src;
	CHECK(reason && *reason);
	tw->count[C_SUSPICIOUS]++;
}

static struct turnd_shared shared;

int alloc_new(struct turnd_worker *tw, const struct turnd_from *from, const char *user,
	      int family, bool even, bool reserve, uint64_t token, uint32_t lifetime,
	      struct alloc **out)
{
	uint16_t port = 0;
	uint64_t tok = 0;
	CHECK(family == pbx_addr_family(&from->local));
	CHECK(lifetime >= 1 && lifetime <= TURND_LIFETIME_MAX);
	if (token ? ports_take_reserved(shared.ports, token, 0, &port)
		  : ports_take(shared.ports, even, reserve, 0, &port, &tok))
		return STUN_ERR_INSUFFICIENT_CAPACITY;
	struct alloc *a = calloc(1, sizeof *a);
	CHECK(a && (a->user = strdup(user)));
	a->tw = tw;
	a->fd = -1;
	a->client = from->client;
	a->from = *from;
	a->relay = from->local;
	pbx_addr_set_port(&a->relay, port);
	a->advertised = a->relay;
	a->port = port;
	a->token = tok;
	a->lifetime = lifetime;
	peers_init(&a->peers);
	*out = a;
	return 0;
}

void alloc_free(struct alloc *a, const char *reason)
{
	CHECK(reason);
	ports_give(shared.ports, a->port);
	peers_cleanup(&a->peers);
	free(a->user);
	free(a);
}

void relay_to_peer(struct alloc *a, const struct pbx_addr *peer, const void *p, size_t len,
		   int64_t now)
{
	(void)now;
	CHECK(pbx_addr_family(peer) == pbx_addr_family(&a->relay));
	CHECK(len == 0 || p);
	a->packets_in++;
	a->bytes_in += len;
}

/* ---- a snapshot with one account ---- */

static struct store_snapshot *snap;

static void setup(void)
{
	char dir[] = "/tmp/pbx-fuzz-turn-XXXXXX", path[64];
	struct store *st;
	struct pbx_err err;
	CHECK(mkdtemp(dir));
	snprintf(path, sizeof path, "%s/s.db", dir);
	CHECK(store_open(path, STORE_CREATE | STORE_MIGRATE, &st, &err) == 0);
	CHECK(store_turn_user_add(st, "alice", "pbxedge", "pw", &err) == 0);
	CHECK(store_turn_secret_add(st, "north", &err) == 0);
	CHECK(store_setting_set(st, "turnd.allow-peer", "192.0.2.0/24", &err) == 0);
	CHECK(store_snapshot_load(st, &snap, &err) == 0);
	store_close(st);
	char side[80];
	snprintf(side, sizeof side, "%s-wal", path);
	unlink(side);
	snprintf(side, sizeof side, "%s-shm", path);
	unlink(side);
	unlink(path);
	rmdir(dir);
	memset(shared.nonce_secret, 7, sizeof shared.nonce_secret);
}

static const uint16_t methods[8] = {
	STUN_ALLOCATE, STUN_REFRESH, STUN_CREATE_PERMISSION, STUN_CHANNEL_BIND,
	STUN_SEND, STUN_BINDING, STUN_DATA, 0x00A,
};

static uint8_t msg[4096], answer[TURND_UDP_MAX + TURND_HEADROOM];

static void run(struct turnd_req *r, const uint8_t *p, size_t len)
{
	request_message(r, p, len);
	CHECK(r->len <= r->cap);
	if (r->len) {
		struct stun_msg m;
		/* Every answer is a well-formed message of the same method. */
		CHECK(stun_msg_decode(&m, r->buf, r->len) == 0);
		CHECK(m.cls == STUN_SUCCESS || m.cls == STUN_ERROR);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!snap)
		setup();
	if (size < 1)
		return 0;
	/* A fresh pool per input: reservations (30 s) would outlive it. */
	ports_free(shared.ports);
	CHECK((shared.ports = ports_new(50000, 50009)));
	struct turnd_worker tw;
	struct turnd_ctx ctx;
	memset(&tw, 0, sizeof tw);
	memset(&ctx, 0, sizeof ctx);
	ctx.shared = &shared;
	CHECK(config_load(snap, &ctx.cfg) == 0);
	struct turnd_from from = { .t = T_UDP };
	CHECK(pbx_addr_parse(pbx_span_cstr("198.51.100.7:4000"), 1, 0, &from.client, NULL) == 0);
	CHECK(pbx_addr_parse(pbx_span_cstr("203.0.113.1:3478"), 1, 0, &from.local, NULL) == 0);
	struct turnd_req r = {
		.tw = &tw, .ctx = &ctx, .snap = snap, .from = &from,
		.now = 1000, .unix_now = 1800000000, .buf = answer, .cap = TURND_ANSWER_MAX,
	};
	uint8_t sel = data[0];
	struct alloc *a = NULL;
	if (sel & 0x10)
		CHECK(alloc_new(&tw, &from, "alice", AF_INET, false, false, 0, 600, &a) == 0 ||
		      !a);
	/* 1: the input as a datagram. */
	r.alloc = a;
	run(&r, data + 1, size - 1);
	a = r.alloc;

	/* 2: its attributes in a signed request. */
	struct stun_enc e;
	uint8_t tid[STUN_TID_LEN] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12 };
	uint16_t method = methods[sel & 7];
	bool indication = sel & 8;
	stun_msg_init(&e, msg, sizeof msg,
		      stun_hdr_type(method, indication ? STUN_INDICATION : STUN_REQUEST), tid,
		      STUN_KIND_RFC5389);
	size_t at = 1;
	while (at + 3 <= size) {
		uint16_t type = (uint16_t)(data[at] << 8 | data[at + 1]);
		size_t n = data[at + 2];
		at += 3;
		if (n > size - at)
			n = size - at;
		/* The harness writes the credentials itself. */
		if (type != STUN_A_MESSAGE_INTEGRITY && type != STUN_A_MESSAGE_INTEGRITY_SHA256 &&
		    type != STUN_A_FINGERPRINT && type != STUN_A_USERNAME && type != STUN_A_REALM &&
		    type != STUN_A_NONCE && type != STUN_A_PASSWORD_ALGORITHM)
			stun_attr_put_raw(&e, type, data + at, n);
		at += n;
	}
	char nonce[32];
	auth_nonce_make(shared.nonce_secret, &from.client, r.unix_now, nonce, sizeof nonce);
	stun_attr_put_text(&e, STUN_A_USERNAME, "alice", 5);
	stun_attr_put_text(&e, STUN_A_REALM, "pbxedge", 7);
	stun_attr_put_text(&e, STUN_A_NONCE, nonce, strlen(nonce));
	struct stun_key key;
	if (sel & 0x20) {
		struct stun_pwalg alg = { STUN_PWALG_SHA256, { NULL, 0 } };
		stun_attr_put_password_algorithm(&e, &alg);
		CHECK(stun_integrity_key_long(&key, STUN_PWALG_SHA256, pbx_span_cstr("alice"),
					      pbx_span_cstr("pbxedge"), pbx_span_cstr("pw")) == 0);
		stun_integrity_put_sha256(&e, &key, STUN_SHA256_FULL);
	} else {
		CHECK(stun_integrity_key_long(&key, STUN_PWALG_MD5, pbx_span_cstr("alice"),
					      pbx_span_cstr("pbxedge"), pbx_span_cstr("pw")) == 0);
		stun_integrity_put(&e, &key);
	}
	if (sel & 0x40)
		stun_integrity_put_fingerprint(&e);
	size_t len;
	if (stun_msg_finish(&e, &len) == 0) {
		r.alloc = a;
		run(&r, msg, len);
		a = r.alloc;
		/* An Allocate that succeeded made the client's allocation. */
		if (a && method == STUN_ALLOCATE && !indication && r.len)
			CHECK(a->user && strcmp(a->user, "alice") == 0);
	}
	if (a)
		alloc_free(a, "done");
	/* What an allocation took is back; only reservations remain. */
	CHECK(ports_in_use(shared.ports) <= 1);
	return 0;
}
