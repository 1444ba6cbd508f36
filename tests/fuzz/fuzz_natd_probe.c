/* fuzz_natd_probe.c - fuzzes natd's handling of STUN answers
 * (natd_probe_input and the verdicts and evidence built from them).
 *
 * The input is a sequence of datagrams, each: one control byte, a 16-bit
 * length, the bytes.  Control bits 0-1 pick the socket it arrives on,
 * bits 2-3 the source address (member 0, member 1, the alternate, a
 * stranger), bit 6 advances the clock by 700 ms first, and bit 7 patches
 * the datagram's magic cookie and transaction ID to those of a pending
 * transaction (bits 4-5 pick which; a classic request's 16-byte ID), so
 * that the fuzzer reaches the answer handling without guessing random
 * IDs.  Whatever arrives, the round must end within its bound with a
 * verdict and evidence. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <pbxedge/buf.h>
#include <pbxedge/stun.h>

#include "natd.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct pbx_addr addr(const char *text)
{
	struct pbx_addr a;
	if (pbx_addr_parse(pbx_span_cstr(text), 3478, 0, &a, NULL))
		abort();
	return a;
}

static void drain(struct natd_probe *p, int64_t now)
{
	struct natd_send s;
	int n = 0;
	while (natd_probe_next(p, now, &s)) {
		if (s.sock > p->n_members || s.len < STUN_HDR_LEN || s.len > sizeof s.buf ||
		    ++n > 64)
			abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct natd_probe p;
	struct pbx_addr members[2] = { addr("192.0.2.1:3478"), addr("192.0.2.3:3478") };
	struct pbx_addr from[4] = { members[0], members[1], addr("192.0.2.2:3479"),
				    addr("203.0.113.7:9") };
	struct pbx_addr local[NATD_MAX_SOCKS];
	uint8_t tids[NATD_MAX_TX][STUN_TID_LEN_CLASSIC];
	static uint8_t buf[65536];

	for (size_t i = 0; i < NATD_MAX_SOCKS; i++) {
		local[i] = addr("10.0.0.2:5000");
		pbx_addr_set_port(&local[i], (uint16_t)(5000 + i));
	}
	for (size_t i = 0; i < NATD_MAX_TX; i++)
		memset(tids[i], (int)(i + 1), STUN_TID_LEN_CLASSIC);
	int64_t now = 0;
	if (natd_probe_init(&p, members, 2, local, tids, now))
		abort();
	drain(&p, now);

	struct pbx_reader r;
	pbx_reader_init(&r, data, size);
	while (pbx_reader_left(&r) >= 3 && !natd_probe_done(&p)) {
		uint8_t ctl;
		uint16_t len;
		pbx_read_u8(&r, &ctl);
		pbx_read_u16(&r, &len);
		if (len > pbx_reader_left(&r))
			len = (uint16_t)pbx_reader_left(&r);
		pbx_read_bytes(&r, buf, len);
		if (ctl & 0x40)
			now += 700;
		if ((ctl & 0x80) && len >= STUN_HDR_LEN) {
			/* Answer a pending transaction, if there is one. */
			size_t want = (ctl >> 4) & 3, seen = 0;
			for (size_t i = 0; i < p.n_tx; i++) {
				if (p.tx[i].state != NATD_TX_PENDING || seen++ != want)
					continue;
				static const uint8_t cookie[4] = { 0x21, 0x12, 0xA4, 0x42 };
				if (p.tx[i].kind == STUN_KIND_RFC3489) {
					memcpy(buf + 4, p.tx[i].tid, STUN_TID_LEN_CLASSIC);
				} else {
					memcpy(buf + 4, cookie, 4);
					memcpy(buf + 8, p.tx[i].tid, STUN_TID_LEN);
				}
				break;
			}
		}
		drain(&p, now);
		natd_probe_input(&p, ctl & 3 ? (size_t)(ctl & 3) % (p.n_members + 1) : 0,
				 &from[(ctl >> 2) & 3], buf, len, now);
		drain(&p, now);
	}
	/* Let the time run out: the round ends within its bound (each of its
	 * three phases may overrun by one clock step of this harness). */
	for (int i = 0; i < 100 && !natd_probe_done(&p); i++) {
		int64_t w = natd_probe_wakeup(&p);
		if (w < now)
			abort();
		now = w;
		drain(&p, now);
	}
	if (!natd_probe_done(&p) || p.end - p.start > NATD_ROUND_LIMIT_MS + 3 * 700)
		abort();
	if ((unsigned)p.v.classic > NATD_C_UDP_BLOCKED || (unsigned)p.v.mapping > NATD_B_APD ||
	    (unsigned)p.v.filtering > NATD_B_APD)
		abort();
	if (p.v.answered && (p.v.answered_by < 0 || (size_t)p.v.answered_by >= p.n_members))
		abort();

	char *text = NULL;
	size_t tlen = 0;
	FILE *f = open_memstream(&text, &tlen);
	if (!f)
		abort();
	if (natd_evidence_json(&p, f))
		abort();
	fclose(f);
	/* The evidence is one line of printable ASCII, whatever came in. */
	for (size_t i = 0; i < tlen; i++)
		if ((unsigned char)text[i] < 0x20 || (unsigned char)text[i] > 0x7e)
			abort();
	free(text);
	return 0;
}
