/* fuzz_ice_gather.c - fuzzes the gatherer's input paths (lib/ice/gather.c,
 * through lib/turn) in each state: a scripted set of servers (a STUN
 * server, a TURN server over UDP for both families, so one relay over a
 * UDP socket of its own, and one over TCP; answers built with the STUN
 * codec) brings the gatherer to the state, then the input's chunks are
 * fed as datagrams, stream bytes, ICMP errors, stream events and time,
 * with the gatherer polled, its records and candidates checked, and the
 * diagnosis drawn after each.
 *
 * Input: byte 0 picks the state (bits 0-2: started, streams connected,
 * every request challenged, every server answered, releasing, timed out,
 * started then released at once, started) and helpers (bit 5: a chunk
 * that looks like STUN gets the transaction ID of the last request sent
 * on its path; bit 6: a chunk that decodes is re-signed with the
 * long-term key, so answers reach the code behind the integrity check).
 * Then chunks: an op byte (bits 0-1: datagram, stream bytes, ICMP or
 * stream event, time; bits 2-3: which path), a 2-byte length and that
 * many bytes. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <pbxedge/ice.h>

#include "stun_resign.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(x)                                                                   \
	do {                                                                       \
		if (!(x))                                                          \
			abort();                                                   \
	} while (0)

/* Paths: 0 the STUN server, 1 the TURN server over UDP (host socket),
 * then the streams 0..3 as paths 2..5. */
#define PATHS 6

struct last {                  /* the last request sent on a path */
	bool have;
	uint8_t buf[ICE_GATHER_PACKET_MAX];
	size_t len;
};

struct harness {
	struct ice_gather *g;
	struct stun_key key;
	uint8_t out[ICE_GATHER_PACKET_MAX];
	struct last last[PATHS];
	bool opened[4];
	uint8_t ans[2048];
	unsigned rnd;
	int64_t now;
	struct pbx_addr stun, turn_udp, turn_tcp;
};

static void fake_random(void *arg, void *buf, size_t n)
{
	struct harness *h = arg;
	uint8_t *b = buf;
	for (size_t i = 0; i < n; i++)
		b[i] = (uint8_t)(++h->rnd * 53u);
}

static struct pbx_addr parse(const char *t)
{
	struct pbx_addr a;
	CHECK(pbx_addr_parse(pbx_span_cstr(t), 3478, 0, &a, NULL) == 0);
	return a;
}

static void check_state(struct harness *h)
{
	struct ice_diag d;
	size_t nr = ice_gather_n_records(h->g), nc = ice_gather_n_cands(h->g);
	CHECK(nr <= ICE_GATHER_RECORDS_MAX && nc <= ICE_GATHER_CANDS_MAX);
	for (size_t i = 0; i < nr; i++) {
		const struct ice_server_record *r = ice_gather_record(h->g, i);
		CHECK(r->result < ICE_SR_COUNT && r->n_relayed <= 2);
		CHECK(r->retransmitted <= r->sent);
	}
	for (size_t i = 0; i < nc; i++) {
		const struct ice_gathered *c = ice_gather_cand(h->g, i);
		char line[ICE_CAND_LINE_MAX];
		CHECK(ice_cand_format(&c->cand, line, sizeof line) == 0);
	}
	CHECK(ice_diag_servers(ice_gather_record(h->g, 0), nr, ICE_POLICY_ALL,
			       ice_gather_cand(h->g, 0), nc, &d) == 0);
	CHECK(d.code < ICE_DIAG_COUNT && strlen(d.reason) < ICE_DIAG_TEXT_MAX);
	CHECK(!strstr(d.reason, "fuzz-pw"));
}

/* Poll everything due; keep the last request per path. */
static void drain(struct harness *h)
{
	for (int k = 0; k < 64; k++) {
		struct ice_gather_out o;
		CHECK(ice_gather_poll(h->g, h->now, h->out, sizeof h->out, &o) == 0);
		if (o.type == ICE_OUT_NONE)
			break;
		int path = -1;
		switch (o.type) {
		case ICE_OUT_DATAGRAM:
			CHECK(o.len <= sizeof h->out);
			path = pbx_addr_equal(&o.to, &h->stun) ? 0 : 1;
			break;
		case ICE_OUT_STREAM:
			CHECK(o.stream < 4 && o.len <= sizeof h->out);
			path = 2 + (int)o.stream;
			break;
		case ICE_OUT_OPEN:
			CHECK(o.stream < 4);
			h->opened[o.stream] = true;
			break;
		case ICE_OUT_CLOSE:
			CHECK(o.stream < 4);
			break;
		default:
			abort();
		}
		if (path >= 0) {
			struct stun_msg m;
			CHECK(stun_msg_decode(&m, h->out, o.len) == 0);
			CHECK(!memmem(h->out, o.len, "fuzz-pw", 7));
			memcpy(h->last[path].buf, h->out, o.len);
			h->last[path].len = o.len;
			h->last[path].have = true;
		}
	}
	CHECK(ice_gather_deadline(h->g) >= -1);
	check_state(h);
}

/* Feed bytes on a path. */
static void feed(struct harness *h, int path, const uint8_t *p, size_t len)
{
	struct ice_gather_in in;
	if (path < 2) {
		const struct pbx_addr *from = path == 0 ? &h->stun : &h->turn_udp;
		CHECK(ice_gather_datagram(h->g, 1, from, p, len, h->now, &in) == 0);
		CHECK(in.used == len);
		return;
	}
	size_t off = 0;
	do {
		int rc = ice_gather_stream_input(h->g, (unsigned)(path - 2), p + off, len - off,
						 h->now, &in);
		CHECK(rc == 0 || rc == PBX_E_MALFORMED || rc == PBX_E_INVALID);
		CHECK(in.used <= len - off);
		if (in.turn.data && !in.turn.icmp) {
			volatile uint8_t sum = 0;
			for (size_t i = 0; i < in.turn.len; i++)
				sum ^= in.turn.p[i];
			(void)sum;
		}
		if (rc || in.used == 0)
			break;
		off += in.used;
	} while (off < len);
}

/* Answer the last request on path: a 401 challenge or a success. */
static void answer(struct harness *h, int path, bool challenge)
{
	struct stun_msg req;
	struct stun_enc e;
	size_t len;
	if (!h->last[path].have || stun_msg_decode(&req, h->last[path].buf, h->last[path].len))
		return;
	stun_msg_init_reply(&e, h->ans, sizeof h->ans, &req, challenge ? STUN_ERROR : STUN_SUCCESS);
	struct pbx_addr mapped = parse("198.51.100.7:40000");
	if (challenge) {
		stun_attr_put_error(&e, 401, NULL);
		stun_attr_put_text(&e, STUN_A_REALM, "fuzz", 4);
		stun_attr_put_text(&e, STUN_A_NONCE, "nonce", 5);
	} else if (req.method == STUN_BINDING) {
		stun_attr_put_addr(&e, STUN_A_XOR_MAPPED_ADDRESS, &mapped);
	} else {
		if (req.method == STUN_ALLOCATE) {
			size_t i;
			bool v6 = stun_msg_find(&req, STUN_A_REQUESTED_ADDRESS_FAMILY, 0, &i) == 0;
			struct pbx_addr r = parse(v6 ? "[2001:db8::20]:50000" : "192.0.2.20:50000");
			stun_attr_put_addr(&e, STUN_A_XOR_RELAYED_ADDRESS, &r);
			stun_attr_put_u32(&e, STUN_A_LIFETIME, 600);
			stun_attr_put_addr(&e, STUN_A_XOR_MAPPED_ADDRESS, &mapped);
		}
		stun_integrity_put(&e, &h->key);
	}
	CHECK(stun_msg_finish(&e, &len) == 0);
	h->last[path].have = false;
	feed(h, path, h->ans, len);
	drain(h);
}

static void connect_all(struct harness *h)
{
	for (unsigned k = 0; k < 4; k++)
		if (h->opened[k])
			ice_gather_stream_event(h->g, k, ICE_STREAM_CONNECTED, h->now);
	drain(h);
}

static void to_state(struct harness *h, unsigned state)
{
	CHECK(ice_gather_start(h->g, h->now) == 0);
	drain(h);
	if (state == 0 || state == 7)
		return;
	if (state == 6) {
		CHECK(ice_gather_release(h->g, h->now) == 0);
		drain(h);
		return;
	}
	if (state == 5) {
		h->now += 60000;
		drain(h);
		CHECK(ice_gather_done(h->g));
		return;
	}
	connect_all(h);
	if (state == 1)
		return;
	for (int p = 1; p < PATHS; p++)
		answer(h, p, true);
	if (state == 2)
		return;
	for (int p = 0; p < PATHS; p++)
		answer(h, p, false);
	CHECK(ice_gather_done(h->g));
	if (state == 3)
		return;
	CHECK(ice_gather_release(h->g, h->now) == 0);
	drain(h);
}

static void patch_tid(struct harness *h, int path, uint8_t *p, size_t len)
{
	if (len < STUN_HDR_LEN || p[0] > 3 || !h->last[path].have)
		return;
	memcpy(p + 4, h->last[path].buf + 4, 4 + STUN_TID_LEN);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	static struct harness hs;
	struct harness *h = &hs;
	memset(h, 0, sizeof *h);
	unsigned sel = data[0];
	h->stun = parse("192.0.2.10:3478");
	h->turn_udp = parse("192.0.2.20:3478");
	h->turn_tcp = parse("192.0.2.21:3478");
	struct ice_gather_host hosts[2] = { { parse("10.0.0.1:5000"), 1 },
					    { parse("[2001:db8::1]:5001"), 2 } };
	struct ice_gather_server servers[3];
	memset(servers, 0, sizeof servers);
	const char *uris[3] = { "stun:192.0.2.10", "turn:192.0.2.20",
				"turn:192.0.2.21?transport=tcp" };
	const struct pbx_addr *addrs[3] = { &h->stun, &h->turn_udp, &h->turn_tcp };
	for (int i = 0; i < 3; i++) {
		CHECK(stun_uri_parse(pbx_span_cstr(uris[i]), STUN_URI_STUN, &servers[i].uri,
				     NULL) == 0);
		servers[i].addr = *addrs[i];
		servers[i].user = pbx_span_cstr("fuzzer");
		servers[i].password = pbx_span_cstr("fuzz-pw");
	}
	struct ice_gather_config cfg = {
		.hosts = hosts,
		.n_hosts = 2,
		.servers = servers,
		.n_servers = 3,
		.timeout_ms = 5000,
		.random = fake_random,
		.random_arg = h,
	};
	CHECK(ice_gather_new(&cfg, &h->g) == 0);
	CHECK(stun_integrity_key_long(&h->key, STUN_PWALG_MD5, pbx_span_cstr("fuzzer"),
				      pbx_span_cstr("fuzz"), pbx_span_cstr("fuzz-pw")) == 0);
	to_state(h, sel & 7);

	static uint8_t chunk[65536 + 64], signed_chunk[65536 + 256];
	size_t off = 1;
	while (off + 3 <= size) {
		unsigned op = data[off];
		size_t len = (size_t)data[off + 1] << 8 | data[off + 2];
		off += 3;
		if (len > size - off)
			len = size - off;
		memcpy(chunk, data + off, len);
		off += len;
		int path = (int)(op >> 2 & 3);
		switch (op & 3) {
		case 0: /* a datagram from the STUN or the TURN server */
		case 1: /* stream bytes (paths 2..5) */
			if ((op & 3) == 1)
				path += 2;
			else
				path &= 1;
			if (sel & 0x20)
				patch_tid(h, path, chunk, len);
			const uint8_t *p = chunk;
			if (sel & 0x40) {
				size_t n = stun_resign(&h->key, chunk, len, signed_chunk, sizeof signed_chunk);
				if (n) {
					p = signed_chunk;
					len = n;
				}
			}
			feed(h, path, p, len);
			break;
		case 2: /* ICMP on a path, or a stream event */
			if (op & 0x10)
				ice_gather_stream_event(h->g, (unsigned)path,
							(enum ice_stream_event)(1 + len % 6), h->now);
			else if (op & 0x20)
				ice_gather_stream_icmp(h->g, (unsigned)path, 3, 3, h->now);
			else
				ice_gather_icmp(h->g, 1, path & 1 ? &h->turn_udp : &h->stun, 3,
						(uint8_t)len, h->now);
			break;
		default: /* time */
			h->now += (int64_t)len * 13;
			break;
		}
		drain(h);
	}
	/* Every timer runs out, then a release comes to rest in its bound. */
	for (int k = 0; k < 256 && ice_gather_deadline(h->g) >= 0 && !ice_gather_done(h->g); k++) {
		int64_t d = ice_gather_deadline(h->g);
		if (d > h->now)
			h->now = d;
		drain(h);
	}
	CHECK(ice_gather_done(h->g));
	int rc = ice_gather_release(h->g, h->now);
	CHECK(rc == 0 || rc == PBX_E_INVALID);
	int64_t bound = h->now + ICE_GATHER_RELEASE_MS;
	for (int k = 0; k < 256 && !ice_gather_released(h->g); k++) {
		int64_t d = ice_gather_deadline(h->g);
		if (d > h->now)
			h->now = d;
		drain(h);
		for (unsigned s = 0; s < 4; s++) /* streams the caller never answers */
			ice_gather_stream_event(h->g, s, ICE_STREAM_CLOSED, h->now);
	}
	CHECK(ice_gather_released(h->g));
	CHECK(rc != 0 || h->now <= bound); /* a release started now ends in time */
	ice_gather_free(h->g);
	return 0;
}
