/* fuzz_turn_client.c - fuzzes the TURN client's receive path
 * (lib/turn/client.c, data.c) in each of its states: a scripted server
 * (answers built with the STUN codec) brings a client to the state, then
 * the input's bytes are fed as datagrams or as a stream, with time moving
 * on, the client polled, data sent and events read after each.
 *
 * Input: byte 0 picks the transport (bits 0-1: UDP, TCP, TLS, UDP), the
 * state (bits 2-4: idle, allocating, allocating after the 401, allocated
 * with a permission and a channel in flight, allocated with both
 * installed, releasing, released, failed) and helpers (bit 5: a chunk
 * that looks like STUN gets the transaction ID of a request in flight;
 * bit 6: a chunk that decodes as STUN is re-signed with the client's key,
 * so that answers reach the code behind the integrity check).  Then
 * chunks, each a 2-byte length and that many bytes: one datagram, or the
 * next bytes of the stream. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <pbxedge/turn.h>

#include "stun_resign.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(x)                                                                   \
	do {                                                                       \
		if (!(x))                                                          \
			abort();                                                   \
	} while (0)

struct harness {
	struct turn_client c;
	struct stun_key key;
	uint8_t out[TURN_REQ_MAX];
	size_t out_len;
	struct stun_msg req;   /* the last request sent */
	bool have_req;
	uint8_t ans[2048];
	unsigned rnd;
	int64_t now;
};

static void fake_random(void *arg, void *buf, size_t n)
{
	struct harness *h = arg;
	uint8_t *b = buf;
	for (size_t i = 0; i < n; i++)
		b[i] = (uint8_t)(++h->rnd * 53u);
}

/* Poll everything due; the last request stays decoded in h->req. */
static void drain(struct harness *h)
{
	for (int k = 0; k < 4 * TURN_MAX_TX; k++) {
		CHECK(turn_client_poll(&h->c, h->now, h->out, sizeof h->out, &h->out_len) == 0);
		if (h->out_len == 0)
			break;
		h->have_req = stun_msg_decode(&h->req, h->out, h->out_len) == 0;
		CHECK(h->have_req);
	}
	struct turn_event ev;
	while (turn_client_event(&h->c, &ev))
		CHECK(ev.result.reason < TURN_R_COUNT && ev.type >= TURN_EV_ALLOCATED &&
		      ev.type <= TURN_EV_RELEASED);
}

static void feed(struct harness *h, const uint8_t *p, size_t len)
{
	struct turn_input in;
	size_t off = 0;
	do {
		int rc = turn_client_input(&h->c, p + off, len - off, h->now, &in);
		CHECK(rc == 0 || rc == PBX_E_MALFORMED);
		CHECK(in.used <= len - off);
		CHECK(in.drop < TURN_DROP_COUNT);
		if (in.data && !in.icmp) {
			CHECK(in.len <= 0xffff);
			/* Touch the data: ASan says if it points anywhere wrong. */
			volatile uint8_t sum = 0;
			for (size_t i = 0; i < in.len; i++)
				sum ^= in.p[i];
			(void)sum;
		}
		if (rc || (in.used == 0 && len > off))
			break;
		off += in.used;
	} while (off < len);
}

/* Answer the last request: success (signed) or an error. */
static void answer(struct harness *h, int code)
{
	struct stun_enc e;
	size_t len;
	CHECK(h->have_req);
	stun_msg_init_reply(&e, h->ans, sizeof h->ans, &h->req, code ? STUN_ERROR : STUN_SUCCESS);
	if (code == 401) {
		stun_attr_put_error(&e, code, NULL);
		stun_attr_put_text(&e, STUN_A_REALM, "fuzz", 4);
		stun_attr_put_text(&e, STUN_A_NONCE, "nonce", 5);
	} else if (code) {
		stun_attr_put_error(&e, code, NULL);
		stun_integrity_put(&e, &h->key);
	} else {
		if (h->req.method == STUN_ALLOCATE) {
			struct pbx_addr a;
			pbx_addr_parse(pbx_span_cstr("192.0.2.1:50000"), 0, 0, &a, NULL);
			stun_attr_put_addr(&e, STUN_A_XOR_RELAYED_ADDRESS, &a);
			stun_attr_put_u32(&e, STUN_A_LIFETIME, 600);
		}
		stun_integrity_put(&e, &h->key);
	}
	CHECK(stun_msg_finish(&e, &len) == 0);
	feed(h, h->ans, len);
	drain(h);
}

static const char *const peer_text[] = { "203.0.113.5:7000", "203.0.113.6:7002",
					 "[2001:db8::5]:7004" };

static void to_state(struct harness *h, unsigned state, struct pbx_addr *peers)
{
	if (state == 0)
		return;
	CHECK(turn_client_allocate(&h->c, h->now) == 0);
	drain(h);
	if (state == 1)
		return;
	answer(h, 401);
	if (state == 2)
		return;
	if (state == 7) {
		answer(h, 486);
		return;
	}
	answer(h, 0);
	CHECK(turn_client_state(&h->c) == TURN_S_ALLOCATED);
	CHECK(turn_client_permit(&h->c, &peers[0], h->now) == 0);
	CHECK(turn_client_bind(&h->c, &peers[1], h->now) == 0);
	drain(h);
	if (state == 3)
		return;
	/* Both requests are in flight: answer each by its ID. */
	for (size_t i = 0; i < TURN_MAX_TX; i++) {
		if (!h->c.tx[i].used)
			continue;
		CHECK(stun_msg_decode(&h->req, h->c.tx[i].buf, h->c.tx[i].len) == 0);
		answer(h, 0);
		i = (size_t)-1;
	}
	if (state == 4)
		return;
	CHECK(turn_client_release(&h->c, h->now) == 0);
	drain(h);
	if (state == 5)
		return;
	answer(h, 0);
	CHECK(turn_client_state(&h->c) == TURN_S_RELEASED);
}

/* A STUN-looking chunk gets the transaction ID of a request in flight. */
static void patch_tid(struct harness *h, uint8_t *p, size_t len, unsigned pick)
{
	if (len < STUN_HDR_LEN || p[0] > 3)
		return;
	for (size_t k = 0; k < TURN_MAX_TX; k++) {
		const struct turn_tx *t = &h->c.tx[(k + pick) % TURN_MAX_TX];
		if (t->used) {
			memcpy(p + 8, t->tid, STUN_TID_LEN);
			p[4] = 0x21, p[5] = 0x12, p[6] = 0xa4, p[7] = 0x42;
			return;
		}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	static struct harness hs;
	struct harness *h = &hs;
	memset(h, 0, sizeof *h);
	unsigned sel = data[0];
	uint8_t transport = (uint8_t)(sel & 3);
	if (transport == 3)
		transport = TURN_UDP;
	struct turn_client_config cfg = {
		.transport = transport,
		.families = TURN_AF_IPV4,
		.user = pbx_span_cstr("fuzzer"),
		.password = pbx_span_cstr("pw"),
		.tx_cap_ms = 5000,
		.random = fake_random,
		.random_arg = h,
	};
	CHECK(turn_client_init(&h->c, &cfg) == 0);
	CHECK(stun_integrity_key_long(&h->key, STUN_PWALG_MD5, pbx_span_cstr("fuzzer"),
				      pbx_span_cstr("fuzz"), pbx_span_cstr("pw")) == 0);
	struct pbx_addr peers[3];
	for (size_t i = 0; i < 3; i++)
		CHECK(pbx_addr_parse(pbx_span_cstr(peer_text[i]), 0, 0, &peers[i], NULL) == 0);
	to_state(h, sel >> 2 & 7, peers);

	static uint8_t chunk[65536 + 64], signed_chunk[65536 + 256];
	size_t off = 1;
	unsigned round = 0;
	while (off + 2 <= size) {
		size_t len = (size_t)data[off] << 8 | data[off + 1];
		off += 2;
		if (len > size - off)
			len = size - off;
		memcpy(chunk, data + off, len);
		off += len;
		if (sel & 0x20)
			patch_tid(h, chunk, len, round);
		const uint8_t *p = chunk;
		if (sel & 0x40) {
			size_t n = stun_resign(&h->key, chunk, len, signed_chunk, sizeof signed_chunk);
			if (n) {
				p = signed_chunk;
				len = n;
			}
		}
		feed(h, p, len);
		/* Time moves on by an amount the input picks. */
		h->now += (int64_t)(len % 7) * 997;
		drain(h);
		uint8_t out[256];
		size_t n;
		int rc = turn_client_send(&h->c, &peers[round % 3], "ping", 4, out, sizeof out, &n);
		CHECK(rc == 0 || rc == PBX_E_INVALID);
		CHECK(turn_client_deadline(&h->c) == -1 || turn_client_deadline(&h->c) >= 0);
		round++;
	}
	/* Let every timer run out: the client must come to rest. */
	for (int k = 0; k < 64 && turn_client_deadline(&h->c) >= 0; k++) {
		int64_t d = turn_client_deadline(&h->c);
		if (d > h->now)
			h->now = d;
		drain(h);
	}
	CHECK(turn_client_state(&h->c) <= TURN_S_RELEASED);
	turn_client_cleanup(&h->c);
	return 0;
}
