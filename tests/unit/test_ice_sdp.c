/* test_ice_sdp.c - unit tests for the RFC 8839 candidate and ICE attribute
 * parser and formatter and the SDP body reader (lib/ice/sdp.c), over the
 * lines libnice, werift, Pion and libwebrtc printed. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include <pbxedge/ice.h>

#include "vectors.h"

static struct pbx_span sp(const char *s)
{
	return pbx_span_cstr(s);
}

static struct ice_desc *desc_new(void)
{
	struct ice_desc *d = malloc(sizeof *d);
	ck_assert_ptr_nonnull(d);
	return d;
}

/* Parse a line that must be accepted. */
static void cand_ok(const char *line, struct ice_cand *c)
{
	struct pbx_err e;
	pbx_err_clear(&e);
	int rc = ice_cand_parse(sp(line), c, &e);
	ck_assert_msg(rc == 0, "'%s' refused (%d): %s", line, rc, e.msg);
}

/* Format c; the text must be want. */
static void cand_formats_as(const struct ice_cand *c, const char *want)
{
	char buf[ICE_CAND_LINE_MAX];
	ck_assert_int_eq(ice_cand_format(c, buf, sizeof buf), 0);
	ck_assert_str_eq(buf, want);
}

static void addr_is(const struct pbx_addr *a, const char *want)
{
	char buf[PBX_ADDRSTRLEN];
	ck_assert_int_eq(pbx_addr_format(a, buf, sizeof buf), 0);
	ck_assert_str_eq(buf, want);
}

/* Two candidates hold the same values. */
static void cand_same(const struct ice_cand *a, const struct ice_cand *b)
{
	ck_assert_str_eq(a->foundation, b->foundation);
	ck_assert_uint_eq(a->component, b->component);
	ck_assert_int_eq(a->transport, b->transport);
	ck_assert_int_eq(a->tcptype, b->tcptype);
	ck_assert_uint_eq(a->priority, b->priority);
	ck_assert_int_eq(a->type, b->type);
	ck_assert_int_eq(a->unresolved, b->unresolved);
	ck_assert_str_eq(a->hostname, b->hostname);
	ck_assert_uint_eq(a->port, b->port);
	if (!a->unresolved)
		ck_assert(pbx_addr_equal(&a->addr, &b->addr));
	ck_assert_int_eq(a->has_raddr, b->has_raddr);
	ck_assert_int_eq(a->has_rport, b->has_rport);
	ck_assert_uint_eq(a->rport, b->rport);
	ck_assert_int_eq(pbx_addr_family(&a->raddr), pbx_addr_family(&b->raddr));
	if (pbx_addr_family(&a->raddr) != AF_UNSPEC)
		ck_assert(pbx_addr_equal(&a->raddr, &b->raddr));
	ck_assert_int_eq(a->has_generation, b->has_generation);
	ck_assert_uint_eq(a->generation, b->generation);
	ck_assert_int_eq(a->has_network_id, b->has_network_id);
	ck_assert_uint_eq(a->network_id, b->network_id);
	ck_assert_int_eq(a->has_network_cost, b->has_network_cost);
	ck_assert_uint_eq(a->network_cost, b->network_cost);
	ck_assert_str_eq(a->ufrag, b->ufrag);
}

/* parse -> format -> parse gives the same candidate, and the second
 * formatting the same text. */
static void cand_round_trip(const struct ice_cand *c)
{
	char one[ICE_CAND_LINE_MAX], two[ICE_CAND_LINE_MAX];
	struct ice_cand again;
	ck_assert_int_eq(ice_cand_format(c, one, sizeof one), 0);
	cand_ok(one, &again);
	cand_same(c, &again);
	ck_assert_int_eq(ice_cand_format(&again, two, sizeof two), 0);
	ck_assert_str_eq(one, two);
}

START_TEST(test_ice_cand_parse_libnice)
{
	struct ice_cand c;
	cand_ok("a=candidate:2 1 UDP 505414655 127.0.0.1 49793 typ relay raddr 127.0.0.1 rport 49353", &c);
	ck_assert_str_eq(c.foundation, "2");
	ck_assert_uint_eq(c.component, 1);
	ck_assert_int_eq(c.transport, ICE_UDP);
	ck_assert_uint_eq(c.priority, 505414655u);
	addr_is(&c.addr, "127.0.0.1:49793");
	ck_assert_uint_eq(c.port, 49793);
	ck_assert(!c.unresolved);
	ck_assert_int_eq(c.type, ICE_RELAY);
	ck_assert(c.has_raddr && c.has_rport);
	addr_is(&c.raddr, "127.0.0.1:49353");
	ck_assert_uint_eq(c.rport, 49353);
	ck_assert(!c.has_generation && c.ufrag[0] == '\0');
	/* Our formatter writes the RFC's lower-case transport. */
	cand_formats_as(&c, "a=candidate:2 1 udp 505414655 127.0.0.1 49793 typ relay raddr 127.0.0.1 rport 49353");
	cand_round_trip(&c);

	/* TCP relay: the relayed candidate is UDP, rport 9 (discard) for the
	 * TCP connection to the server. */
	cand_ok("a=candidate:2 1 UDP 337642495 127.0.0.1 49934 typ relay raddr 127.0.0.1 rport 9", &c);
	ck_assert_int_eq(c.transport, ICE_UDP);
	ck_assert_uint_eq(c.rport, 9);
	cand_round_trip(&c);
}
END_TEST

START_TEST(test_ice_cand_parse_werift_pion_libwebrtc)
{
	struct ice_cand c;
	cand_ok("a=candidate:ba04efb4b632c146cfc811f40 1 udp 16777215 127.0.0.1 49767 typ relay raddr 127.0.0.1 rport 60298 generation 0 ufrag 6f07", &c);
	ck_assert_str_eq(c.foundation, "ba04efb4b632c146cfc811f40");
	ck_assert_uint_eq(strlen(c.foundation), 25);
	ck_assert(c.has_generation);
	ck_assert_uint_eq(c.generation, 0);
	ck_assert_str_eq(c.ufrag, "6f07");
	cand_formats_as(&c, "a=candidate:ba04efb4b632c146cfc811f40 1 udp 16777215 127.0.0.1 49767 typ relay raddr 127.0.0.1 rport 60298 generation 0 ufrag 6f07");
	cand_round_trip(&c);

	cand_ok("a=candidate:2847320077 1 udp 16777215 127.0.0.1 49750 typ relay raddr 0.0.0.0 rport 50984", &c);
	ck_assert(c.has_raddr);
	ck_assert(pbx_addr_is_any(&c.raddr));
	addr_is(&c.raddr, "0.0.0.0:50984");
	cand_formats_as(&c, "a=candidate:2847320077 1 udp 16777215 127.0.0.1 49750 typ relay raddr 0.0.0.0 rport 50984");
	cand_round_trip(&c);

	/* As the Trickle ICE page prints it: no "a=". */
	cand_ok("candidate:213309110 1 udp 41819903 127.0.0.1 49782 typ relay raddr 0.0.0.0 rport 0 generation 0 ufrag XePl network-id 1", &c);
	ck_assert_str_eq(c.foundation, "213309110");
	ck_assert_uint_eq(c.rport, 0);
	ck_assert_str_eq(c.ufrag, "XePl");
	ck_assert(c.has_network_id);
	ck_assert_uint_eq(c.network_id, 1);
	ck_assert(!c.has_network_cost);
	cand_formats_as(&c, "a=candidate:213309110 1 udp 41819903 127.0.0.1 49782 typ relay raddr 0.0.0.0 rport 0 generation 0 ufrag XePl network-id 1");
	cand_round_trip(&c);

	/* The bare attribute value, as werift's toSdp() returns it. */
	cand_ok("1 2 udp 2130706430 192.0.2.1 5000 typ host network-cost 50 unknown-ext value", &c);
	ck_assert_uint_eq(c.component, 2);
	ck_assert(c.has_network_cost);
	ck_assert_uint_eq(c.network_cost, 50);
	cand_formats_as(&c, "a=candidate:1 2 udp 2130706430 192.0.2.1 5000 typ host network-cost 50");
	cand_round_trip(&c);
}
END_TEST

START_TEST(test_ice_cand_parse_whitespace)
{
	struct ice_cand a, b;
	cand_ok("a=candidate:1 1 udp 2130706431 192.0.2.1 5000 typ srflx raddr 10.0.0.1 rport 6000", &a);
	/* Surrounding blanks, CRLF, LF, runs of spaces and tabs. */
	static const char *const variants[] = {
		"  a=candidate:1 1 udp 2130706431 192.0.2.1 5000 typ srflx raddr 10.0.0.1 rport 6000  ",
		"a=candidate:1 1 udp 2130706431 192.0.2.1 5000 typ srflx raddr 10.0.0.1 rport 6000\r\n",
		"a=candidate:1 1 udp 2130706431 192.0.2.1 5000 typ srflx raddr 10.0.0.1 rport 6000\n",
		"a=candidate:1   1\tudp  2130706431 \t192.0.2.1 5000 typ  srflx raddr   10.0.0.1 rport 6000 \r\n",
		"\ta=candidate:1 1 UdP 2130706431 192.0.2.1 5000 TYP SRFLX RADDR 10.0.0.1 RPORT 6000",
	};
	for (size_t i = 0; i < sizeof variants / sizeof variants[0]; i++) {
		cand_ok(variants[i], &b);
		cand_same(&a, &b);
	}
}
END_TEST

START_TEST(test_ice_cand_parse_names_and_tcp)
{
	struct ice_cand c;
	/* mDNS and FQDN addresses: kept, marked unresolved. */
	cand_ok("a=candidate:4 1 udp 2122262783 1f4712db-ea17-4bcf-a596-105139dfd8bf.local 54402 typ host generation 0", &c);
	ck_assert(c.unresolved);
	ck_assert_str_eq(c.hostname, "1f4712db-ea17-4bcf-a596-105139dfd8bf.local");
	ck_assert_uint_eq(c.port, 54402);
	ck_assert_int_eq(pbx_addr_family(&c.addr), AF_UNSPEC);
	cand_formats_as(&c, "a=candidate:4 1 udp 2122262783 1f4712db-ea17-4bcf-a596-105139dfd8bf.local 54402 typ host generation 0");
	cand_round_trip(&c);

	cand_ok("a=candidate:9 1 udp 1686052607 turn.example.org 3478 typ srflx raddr host.example.org rport 1", &c);
	ck_assert(c.unresolved);
	ck_assert_str_eq(c.hostname, "turn.example.org");
	ck_assert(c.has_raddr);
	ck_assert_int_eq(pbx_addr_family(&c.raddr), AF_UNSPEC);
	/* A related address given as a name is written as 0.0.0.0. */
	cand_formats_as(&c, "a=candidate:9 1 udp 1686052607 turn.example.org 3478 typ srflx raddr 0.0.0.0 rport 1");

	/* IPv6. */
	cand_ok("a=candidate:2 1 udp 2122194687 2001:db8::10 54401 typ host", &c);
	addr_is(&c.addr, "[2001:db8::10]:54401");
	cand_round_trip(&c);

	/* RFC 6544: TCP candidates are kept and marked. */
	cand_ok("a=candidate:5 1 tcp 1518280447 192.0.2.10 9 typ host tcptype active generation 0", &c);
	ck_assert_int_eq(c.transport, ICE_TCP);
	ck_assert_int_eq(c.tcptype, ICE_TCPTYPE_ACTIVE);
	ck_assert_uint_eq(c.port, 9);
	cand_formats_as(&c, "a=candidate:5 1 tcp 1518280447 192.0.2.10 9 typ host tcptype active generation 0");
	cand_round_trip(&c);
	cand_ok("a=candidate:6 1 TCP 1015021823 192.0.2.10 54403 typ host tcptype passive", &c);
	ck_assert_int_eq(c.tcptype, ICE_TCPTYPE_PASSIVE);
	cand_round_trip(&c);
	cand_ok("a=candidate:6 1 tcp 1015021823 192.0.2.10 54403 typ host tcptype so", &c);
	ck_assert_int_eq(c.tcptype, ICE_TCPTYPE_SO);
	cand_round_trip(&c);
	/* tcptype on UDP means nothing and is dropped. */
	cand_ok("a=candidate:6 1 udp 1015021823 192.0.2.10 54403 typ host tcptype so", &c);
	ck_assert_int_eq(c.tcptype, ICE_TCPTYPE_NONE);

	/* Bounds that are accepted. */
	cand_ok("a=candidate:abcdefghijklmnopqrstuvwxyz+/0123 256 udp 2147483647 192.0.2.1 65535 typ prflx", &c);
	ck_assert_uint_eq(strlen(c.foundation), 32);
	ck_assert_uint_eq(c.component, 256);
	ck_assert_uint_eq(c.priority, 2147483647u);
	ck_assert_int_eq(c.type, ICE_PRFLX);
	cand_round_trip(&c);
}
END_TEST

/* A refusal: code rc, a message containing word, and a zeroed result. */
static void cand_bad(const char *line, int rc, const char *word)
{
	struct ice_cand c;
	struct pbx_err e;
	pbx_err_clear(&e);
	int got = ice_cand_parse(sp(line), &c, &e);
	ck_assert_msg(got == rc, "'%s': rc %d, want %d (%s)", line, got, rc, e.msg);
	ck_assert_int_eq(e.code, rc);
	ck_assert_msg(strstr(e.msg, word) != NULL, "'%s': message '%s' lacks '%s'", line, e.msg, word);
	ck_assert_msg(strncmp(e.msg, "a=candidate: ", 13) == 0, "message '%s'", e.msg);
	ck_assert_uint_eq(c.priority, 0);
	ck_assert_str_eq(c.foundation, "");
	/* Without an error record too. */
	ck_assert_int_eq(ice_cand_parse(sp(line), &c, NULL), rc);
}

START_TEST(test_ice_cand_parse_refused)
{
	cand_bad("", PBX_E_TRUNCATED, "foundation missing");
	cand_bad("a=candidate:", PBX_E_TRUNCATED, "foundation missing");
	cand_bad("a=candidate:1", PBX_E_TRUNCATED, "component missing");
	cand_bad("a=candidate:1 1", PBX_E_TRUNCATED, "transport missing");
	cand_bad("a=candidate:1 1 udp", PBX_E_TRUNCATED, "priority missing");
	cand_bad("a=candidate:1 1 udp 1", PBX_E_TRUNCATED, "connection-address missing");
	cand_bad("a=candidate:1 1 udp 1 192.0.2.1", PBX_E_TRUNCATED, "port missing");
	cand_bad("a=candidate:1 1 udp 1 192.0.2.1 5000", PBX_E_TRUNCATED, "'typ' missing");
	cand_bad("a=candidate:1 1 udp 1 192.0.2.1 5000 typ", PBX_E_TRUNCATED, "type missing");
	cand_bad("a=candidate:1 1 udp 1 192.0.2.1 5000 host", PBX_E_MALFORMED, "'typ' expected");
	cand_bad("a=candidate:1 1 udp 1 192.0.2.1 5000 typ turn", PBX_E_INVALID, "candidate type 'turn'");
	cand_bad("a=candidate:abcdefghijklmnopqrstuvwxyz+/01234 1 udp 1 192.0.2.1 5000 typ host",
		 PBX_E_MALFORMED, "foundation");
	cand_bad("a=candidate:a-b 1 udp 1 192.0.2.1 5000 typ host", PBX_E_MALFORMED, "foundation 'a-b'");
	cand_bad("a=candidate:1 0 udp 1 192.0.2.1 5000 typ host", PBX_E_INVALID, "component '0' is not in 1..256");
	cand_bad("a=candidate:1 257 udp 1 192.0.2.1 5000 typ host", PBX_E_INVALID, "component '257'");
	cand_bad("a=candidate:1 x udp 1 192.0.2.1 5000 typ host", PBX_E_MALFORMED, "component 'x'");
	cand_bad("a=candidate:1 -1 udp 1 192.0.2.1 5000 typ host", PBX_E_MALFORMED, "component '-1'");
	cand_bad("a=candidate:1 1 sctp 1 192.0.2.1 5000 typ host", PBX_E_INVALID, "transport 'sctp'");
	cand_bad("a=candidate:1 1 udp 0 192.0.2.1 5000 typ host", PBX_E_INVALID, "priority '0'");
	cand_bad("a=candidate:1 1 udp 2147483648 192.0.2.1 5000 typ host", PBX_E_INVALID,
		 "priority '2147483648' is not in 1..2147483647");
	cand_bad("a=candidate:1 1 udp 4294967296 192.0.2.1 5000 typ host", PBX_E_INVALID, "priority");
	cand_bad("a=candidate:1 1 udp 99999999999999999999999 192.0.2.1 5000 typ host", PBX_E_INVALID,
		 "priority");
	cand_bad("a=candidate:1 1 udp 1 192.0.2.256 5000 typ host", PBX_E_MALFORMED,
		 "connection-address '192.0.2.256'");
	cand_bad("a=candidate:1 1 udp 1 2001:db8::zz 5000 typ host", PBX_E_MALFORMED, "connection-address");
	cand_bad("a=candidate:1 1 udp 1 192.0.2.1:5000 5000 typ host", PBX_E_MALFORMED, "connection-address");
	cand_bad("a=candidate:1 1 udp 1 bad..name 5000 typ host", PBX_E_MALFORMED, "connection-address");
	cand_bad("a=candidate:1 1 udp 1 192.0.2.1 65536 typ host", PBX_E_INVALID, "port '65536' is not in 0..65535");
	cand_bad("a=candidate:1 1 udp 1 192.0.2.1 50x typ host", PBX_E_MALFORMED, "port '50x'");
	cand_bad("a=candidate:1 1 udp 1 192.0.2.1 5000 typ host raddr", PBX_E_TRUNCATED,
		 "extension attribute 'raddr' has no value");
	cand_bad("a=candidate:1 1 udp 1 192.0.2.1 5000 typ host generation", PBX_E_TRUNCATED, "'generation'");
	cand_bad("a=candidate:1 1 udp 1 192.0.2.1 5000 typ host raddr x..y rport 1", PBX_E_MALFORMED, "raddr");
	cand_bad("a=candidate:1 1 udp 1 192.0.2.1 5000 typ host raddr 1.2.3.4 rport 70000", PBX_E_INVALID, "rport");
	cand_bad("a=candidate:1 1 tcp 1 192.0.2.1 9 typ host tcptype sideways", PBX_E_INVALID, "tcptype 'sideways'");
	cand_bad("a=candidate:1 1 udp 1 192.0.2.1 5000 typ host generation -1", PBX_E_MALFORMED, "generation");
	cand_bad("a=candidate:1 1 udp 1 192.0.2.1 5000 typ host ufrag a:b", PBX_E_MALFORMED, "ufrag");
	cand_bad("a=candidate:1 1 udp 1 192.0.2.1 5000 typ host network-id 4294967296", PBX_E_INVALID, "network-id");
	/* Text from the wire is escaped in the message. */
	cand_bad("a=candidate:1 1 udp 1 192.0.2.1 5000 typ h\x1b[2Jost", PBX_E_INVALID, "h\\x1b[2Jost");
}
END_TEST

START_TEST(test_ice_cand_format_refused)
{
	struct ice_cand c;
	char buf[ICE_CAND_LINE_MAX];
	cand_ok("a=candidate:1 1 udp 2130706431 192.0.2.1 5000 typ host", &c);
	ck_assert_int_eq(ice_cand_format(&c, buf, 20), PBX_E_NOSPACE);
	ck_assert_str_eq(buf, "");
	struct ice_cand bad = c;
	bad.component = 0;
	ck_assert_int_eq(ice_cand_format(&bad, buf, sizeof buf), PBX_E_INVALID);
	bad = c;
	bad.priority = 0x80000000u;
	ck_assert_int_eq(ice_cand_format(&bad, buf, sizeof buf), PBX_E_INVALID);
	bad = c;
	strcpy(bad.foundation, "a b");
	ck_assert_int_eq(ice_cand_format(&bad, buf, sizeof buf), PBX_E_INVALID);
	bad = c;
	memset(&bad.addr, 0, sizeof bad.addr);
	ck_assert_int_eq(ice_cand_format(&bad, buf, sizeof buf), PBX_E_INVALID);
	bad = c;
	bad.unresolved = true;
	strcpy(bad.hostname, "not a name");
	ck_assert_int_eq(ice_cand_format(&bad, buf, sizeof buf), PBX_E_INVALID);
}
END_TEST

/* Load vector FILE and parse it as a block. */
static int parse_block_file(const char *file, struct ice_desc *d, struct pbx_err *e)
{
	size_t len;
	uint8_t *text = vector_load("ice", file, &len);
	pbx_err_clear(e);
	int rc = ice_desc_parse(d, (struct pbx_span){ (const char *)text, len }, e);
	free(text);
	return rc;
}

/* Parse, format, parse again: same description, same text. */
static void desc_round_trip(const struct ice_desc *d)
{
	char *one = malloc(64 * 1024), *two = malloc(64 * 1024);
	struct ice_desc *again = desc_new();
	struct pbx_err e;
	size_t len;
	ck_assert_int_eq(ice_desc_format(d, false, one, 64 * 1024, &len), 0);
	ck_assert_uint_eq(len, strlen(one));
	pbx_err_clear(&e);
	ck_assert_msg(ice_desc_parse(again, sp(one), &e) == 0, "%s", e.msg);
	ck_assert_str_eq(d->ufrag, again->ufrag);
	ck_assert_str_eq(d->pwd, again->pwd);
	ck_assert_uint_eq(d->n_options, again->n_options);
	for (size_t i = 0; i < d->n_options; i++)
		ck_assert_str_eq(d->options[i], again->options[i]);
	ck_assert_int_eq(d->lite, again->lite);
	ck_assert_int_eq(d->end_of_candidates, again->end_of_candidates);
	ck_assert_uint_eq(d->n_cands, again->n_cands);
	for (size_t i = 0; i < d->n_cands; i++)
		cand_same(&d->cands[i], &again->cands[i]);
	ck_assert_int_eq(ice_desc_format(again, false, two, 64 * 1024, NULL), 0);
	ck_assert_str_eq(one, two);
	/* And in CRLF form. */
	ck_assert_int_eq(ice_desc_format(again, true, two, 64 * 1024, NULL), 0);
	ck_assert_ptr_nonnull(strstr(two, "\r\n"));
	ck_assert_msg(ice_desc_parse(again, sp(two), &e) == 0, "%s", e.msg);
	ck_assert_uint_eq(d->n_cands, again->n_cands);
	free(again);
	free(one);
	free(two);
}

START_TEST(test_ice_desc_parse_peer_blocks)
{
	static const struct {
		const char *file;
		const char *ufrag;
		size_t n_cands;
	} blocks[] = {
		{ "reference-sample-block.txt", "IB2b", 4 },
		{ "libnice-udp-relay.txt", "IB2b", 1 },
		{ "libnice-tcp-relay.txt", "IB2b", 1 },
		{ "werift-relay.txt", "6f07", 1 },
		{ "pion-relay.txt", "IB2b", 1 },
		{ "mixed-crlf.txt", "F7gI", 6 },
		{ "lite-no-final-eol.txt", "IB2b", 1 },
	};
	struct ice_desc *d = desc_new();
	struct pbx_err e;
	for (size_t i = 0; i < sizeof blocks / sizeof blocks[0]; i++) {
		ck_assert_msg(parse_block_file(blocks[i].file, d, &e) == 0, "%s: %s", blocks[i].file, e.msg);
		ck_assert_str_eq(d->ufrag, blocks[i].ufrag);
		ck_assert_uint_eq(strlen(d->pwd), 22);
		ck_assert_uint_eq(d->n_cands, blocks[i].n_cands);
		ck_assert(d->end_of_candidates);
		desc_round_trip(d);
	}

	ck_assert_int_eq(parse_block_file("mixed-crlf.txt", d, &e), 0);
	ck_assert_uint_eq(d->n_options, 2);
	ck_assert_str_eq(d->options[0], "trickle");
	ck_assert_str_eq(d->options[1], "ice2");
	ck_assert(!d->lite);
	ck_assert(d->cands[3].unresolved);
	ck_assert_int_eq(d->cands[4].transport, ICE_TCP);
	ck_assert_uint_eq(d->cands[0].network_cost, 10);

	ck_assert_int_eq(parse_block_file("lite-no-final-eol.txt", d, &e), 0);
	ck_assert(d->lite);
	ck_assert(d->end_of_candidates);
	free(d);
}
END_TEST

START_TEST(test_ice_desc_format)
{
	struct ice_desc *d = desc_new();
	struct pbx_err e;
	char buf[1024];
	size_t len;

	ck_assert_int_eq(parse_block_file("lite-no-final-eol.txt", d, &e), 0);
	ck_assert_int_eq(ice_desc_format(d, false, buf, sizeof buf, &len), 0);
	ck_assert_str_eq(buf, "a=ice-ufrag:IB2b\na=ice-pwd:97sPiOPSHc4/BKZPQdhomv\na=ice-lite\n"
			      "a=candidate:1 1 udp 2130706431 198.51.100.20 3478 typ host\n"
			      "a=end-of-candidates\n");
	ck_assert_uint_eq(len, strlen(buf));
	d->n_options = 2;
	strcpy(d->options[0], "trickle");
	strcpy(d->options[1], "ice2");
	d->lite = false;
	d->end_of_candidates = false;
	ck_assert_int_eq(ice_desc_format(d, true, buf, sizeof buf, &len), 0);
	ck_assert_str_eq(buf, "a=ice-ufrag:IB2b\r\na=ice-pwd:97sPiOPSHc4/BKZPQdhomv\r\n"
			      "a=ice-options:trickle ice2\r\n"
			      "a=candidate:1 1 udp 2130706431 198.51.100.20 3478 typ host\r\n");
	ck_assert_int_eq(ice_desc_format(d, true, buf, 40, &len), PBX_E_NOSPACE);
	ck_assert_str_eq(buf, "");
	ck_assert_uint_eq(len, 0);
	d->pwd[0] = '\0';
	ck_assert_int_eq(ice_desc_format(d, true, buf, sizeof buf, &len), PBX_E_INVALID);
	ice_desc_init(d);
	ck_assert_int_eq(ice_desc_format(d, true, buf, sizeof buf, &len), PBX_E_INVALID);
	free(d);
}
END_TEST

START_TEST(test_ice_desc_parse_line)
{
	struct ice_desc *d = desc_new();
	struct pbx_err e;
	ice_desc_init(d);
	pbx_err_clear(&e);
	/* Lines that are not about ICE are ignored. */
	ck_assert_int_eq(ice_desc_parse_line(d, sp("a=mid:0"), &e), 0);
	ck_assert_int_eq(ice_desc_parse_line(d, sp("v=0"), &e), 0);
	ck_assert_int_eq(ice_desc_parse_line(d, sp("   "), &e), 0);
	ck_assert_int_eq(ice_desc_parse_line(d, sp("hello over ICE"), &e), 0);
	ck_assert_int_eq(ice_desc_parse_line(d, sp("a=ice-ufrag: abcd \r\n"), &e), 0);
	ck_assert_str_eq(d->ufrag, "abcd");
	ck_assert_int_eq(ice_desc_parse_line(d, sp("a=ice-ufrag:abcd"), &e), PBX_E_MALFORMED);
	ck_assert_ptr_nonnull(strstr(e.msg, "given twice"));
	ck_assert_int_eq(ice_desc_parse_line(d, sp("a=ice-pwd:" "0123456789012345678901"), &e), 0);
	ck_assert_int_eq(ice_desc_parse_line(d, sp("a=ice-options:trickle"), &e), 0);
	ck_assert_int_eq(ice_desc_parse_line(d, sp("a=ice-lite"), &e), 0);
	ck_assert(d->lite);
	ck_assert_int_eq(ice_desc_parse_line(d, sp("a=candidate:1 1 udp 1 192.0.2.1 1 typ host"), &e), 0);
	ck_assert_int_eq(ice_desc_parse_line(d, sp("a=end-of-candidates"), &e), 0);
	ck_assert(d->end_of_candidates);
	ck_assert_int_eq(ice_desc_parse_line(d, sp("a=candidate:1 1 udp 1 192.0.2.1 2 typ host"), &e),
			 PBX_E_MALFORMED);
	ck_assert_ptr_nonnull(strstr(e.msg, "after a=end-of-candidates"));
	ck_assert_uint_eq(d->n_cands, 1);

	/* Credentials: lengths and characters, never echoed. */
	ice_desc_init(d);
	ck_assert_int_eq(ice_desc_parse_line(d, sp("a=ice-ufrag:abc"), &e), PBX_E_INVALID);
	ck_assert_str_eq(e.msg, "a=ice-ufrag: 3 characters, needs 4..256");
	ck_assert_int_eq(ice_desc_parse_line(d, sp("a=ice-pwd:secret-password-123456"), &e), PBX_E_MALFORMED);
	ck_assert_ptr_nonnull(strstr(e.msg, "character 7 is not an ice-char"));
	ck_assert_ptr_null(strstr(e.msg, "secret"));
	char longpwd[300] = "a=ice-pwd:";
	memset(longpwd + 10, 'x', 257);
	longpwd[267] = '\0';
	ck_assert_int_eq(ice_desc_parse_line(d, sp(longpwd), &e), PBX_E_TOOLONG);
	ck_assert_str_eq(e.msg, "a=ice-pwd: 257 characters, needs 22..256");
	longpwd[266] = '\0';
	ck_assert_int_eq(ice_desc_parse_line(d, sp(longpwd), &e), 0);
	ck_assert_uint_eq(strlen(d->pwd), 256);
	ck_assert_int_eq(ice_desc_parse_line(d, sp("a=ice-pwd:"), &e), PBX_E_MALFORMED);

	/* Options. */
	ice_desc_init(d);
	ck_assert_int_eq(ice_desc_parse_line(d, sp("a=ice-options:"), &e), PBX_E_MALFORMED);
	ck_assert_int_eq(ice_desc_parse_line(d, sp("a=ice-options:trick-le"), &e), PBX_E_MALFORMED);
	ck_assert_ptr_nonnull(strstr(e.msg, "'trick-le'"));
	ck_assert_uint_eq(d->n_options, 0);
	ck_assert_int_eq(ice_desc_parse_line(d, sp("a=ice-options:a b c d e f g h i"), &e), PBX_E_TOOLONG);
	ck_assert_uint_eq(d->n_options, 0);
	ck_assert_int_eq(ice_desc_parse_line(d, sp("a=ice-options:a b c d e f g h"), &e), 0);
	ck_assert_uint_eq(d->n_options, 8);
	free(d);
}
END_TEST

/* Every refusal vector: its code, the line it names and the field. */
START_TEST(test_ice_desc_parse_refused)
{
	static const struct {
		const char *file;
		int rc;
		const char *msg;
	} bad[] = {
		{ "bad-component-0.txt", PBX_E_INVALID, "line 3: a=candidate: component '0' is not in 1..256" },
		{ "bad-component-257.txt", PBX_E_INVALID, "line 3: a=candidate: component '257' is not in 1..256" },
		{ "bad-priority-overflow.txt", PBX_E_INVALID,
		  "line 3: a=candidate: priority '2147483648' is not in 1..2147483647" },
		{ "bad-priority-huge.txt", PBX_E_INVALID,
		  "line 3: a=candidate: priority '99999999999999999999' is not in 1..2147483647" },
		{ "bad-missing-typ.txt", PBX_E_MALFORMED,
		  "line 3: a=candidate: 'typ' expected after the port, not 'relay'" },
		{ "bad-unknown-type.txt", PBX_E_INVALID,
		  "line 3: a=candidate: candidate type 'turn' is not host, srflx, prflx or relay" },
		{ "bad-port-65536.txt", PBX_E_INVALID, "line 3: a=candidate: port '65536' is not in 0..65535" },
		{ "bad-pwd-short.txt", PBX_E_INVALID, "line 2: a=ice-pwd: 21 characters, needs 22..256" },
		{ "bad-ufrag-short.txt", PBX_E_INVALID, "line 1: a=ice-ufrag: 3 characters, needs 4..256" },
		{ "bad-truncated.txt", PBX_E_TRUNCATED, "line 3: a=candidate: port missing" },
		{ "bad-raddr-no-value.txt", PBX_E_TRUNCATED,
		  "line 3: a=candidate: extension attribute 'raddr' has no value" },
		{ "bad-address.txt", PBX_E_MALFORMED,
		  "line 3: a=candidate: connection-address '127.0.0.300' is not an IP address or name" },
		{ "bad-after-end.txt", PBX_E_MALFORMED, "line 4: a=candidate: after a=end-of-candidates" },
		{ "bad-too-many-candidates.txt", PBX_E_TOOLONG, "line 67: a=candidate: more than 64 candidates" },
	};
	struct ice_desc *d = desc_new();
	struct pbx_err e;
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		int rc = parse_block_file(bad[i].file, d, &e);
		ck_assert_msg(rc == bad[i].rc, "%s: rc %d, want %d (%s)", bad[i].file, rc, bad[i].rc, e.msg);
		ck_assert_int_eq(e.code, rc);
		ck_assert_str_eq(e.msg, bad[i].msg);
	}
	/* A candidate with a transport other than UDP or TCP is ignored (RFC
	 * 8839 5.1), and the rest of the description is kept. */
	ck_assert_int_eq(parse_block_file("other-transport.txt", d, &e), 0);
	ck_assert_uint_eq(d->n_cands, 1);
	ck_assert_uint_eq(d->n_ignored, 1);
	ck_assert_int_eq(d->cands[0].transport, ICE_UDP);
	ck_assert(d->end_of_candidates);

	/* 64 candidates are fine: the bound is exact. */
	ck_assert_int_eq(parse_block_file("bad-too-many-candidates.txt", d, &e), PBX_E_TOOLONG);
	ck_assert_uint_eq(d->n_cands, ICE_DESC_CANDS_MAX);

	/* A line longer than the bound, also as the last line without LF;
	 * one within the bound is read. */
	size_t n = ICE_LINE_MAX + 100;
	char *big = malloc(n + 1);
	memset(big, 'a', n);
	memcpy(big, "a=ice-ufrag:abcd\n", 17);
	big[n] = '\0';
	ck_assert_int_eq(ice_desc_parse(d, sp(big), &e), PBX_E_TOOLONG);
	ck_assert_str_eq(e.msg, "line 2: longer than 2048 bytes");
	big[17 + ICE_LINE_MAX] = '\n';
	ck_assert_int_eq(ice_desc_parse(d, sp(big), &e), PBX_E_TOOLONG);
	ck_assert_str_eq(e.msg, "line 2: longer than 2048 bytes");
	big[17 + ICE_LINE_MAX - 1] = '\n';
	big[17 + ICE_LINE_MAX] = 'a';
	ck_assert_int_eq(ice_desc_parse(d, sp(big), &e), 0);
	ck_assert_str_eq(d->ufrag, "abcd");
	free(big);
	free(d);
}
END_TEST

static struct ice_sdp *parse_sdp_file(const char *file, int *rc, struct pbx_err *e)
{
	size_t len;
	uint8_t *text = vector_load("ice", file, &len);
	struct ice_sdp *s;
	ck_assert_int_eq(ice_sdp_new(&s), 0);
	pbx_err_clear(e);
	*rc = ice_sdp_parse(s, (struct pbx_span){ (const char *)text, len }, e);
	free(text);
	return s;
}

START_TEST(test_ice_sdp_parse_default_match)
{
	struct pbx_err e;
	int rc;
	struct ice_sdp *s = parse_sdp_file("sdp-default-match.sdp", &rc, &e);
	ck_assert_msg(rc == 0, "%s", e.msg);
	ck_assert_uint_eq(s->n_media, 2);

	struct ice_sdp_media *a = &s->media[0], *v = &s->media[1];
	ck_assert_str_eq(a->kind, "audio");
	ck_assert_uint_eq(a->port, 54400);
	/* Session-level credentials and options apply to audio. */
	ck_assert_str_eq(a->ice.ufrag, "F7gI");
	ck_assert_str_eq(a->ice.pwd, "x9cml/YzichV2+XlhiMu8g");
	ck_assert_uint_eq(a->ice.n_options, 1);
	ck_assert_str_eq(a->ice.options[0], "trickle");
	ck_assert_uint_eq(a->ice.n_cands, 2);
	ck_assert(!a->ice.end_of_candidates);
	ck_assert(a->ice.has_default);
	addr_is(&a->ice.default_addr, "192.0.2.10:54400");
	ck_assert_int_eq(ice_desc_check_default(&a->ice), ICE_DEFAULT_MATCH);

	/* Video has its own credentials and c=. */
	ck_assert_str_eq(v->kind, "video");
	ck_assert_str_eq(v->ice.ufrag, "Vid0");
	ck_assert_str_eq(v->ice.pwd, "vvvvvvvvvvvvvvvvvvvvvvvv");
	ck_assert_uint_eq(v->ice.n_cands, 1);
	ck_assert(v->ice.end_of_candidates);
	addr_is(&v->ice.default_addr, "203.0.113.5:61002");
	ck_assert_int_eq(ice_desc_check_default(&v->ice), ICE_DEFAULT_MATCH);
	ice_sdp_free(s);
}
END_TEST

START_TEST(test_ice_sdp_parse_mangled_and_placeholder)
{
	struct pbx_err e;
	int rc;
	struct ice_sdp *s = parse_sdp_file("sdp-mangled.sdp", &rc, &e);
	ck_assert_msg(rc == 0, "%s", e.msg);
	ck_assert_uint_eq(s->n_media, 1);
	ck_assert_uint_eq(s->media[0].ice.n_cands, 2);
	/* Session-level c= rewritten by an ALG: not a candidate. */
	addr_is(&s->media[0].ice.default_addr, "198.51.100.99:20000");
	ck_assert_int_eq(ice_desc_check_default(&s->media[0].ice), ICE_DEFAULT_MANGLED);
	ck_assert_str_eq(ice_default_check_name(ICE_DEFAULT_MANGLED), "mangled");
	ice_sdp_free(s);

	s = parse_sdp_file("sdp-trickle-placeholder.sdp", &rc, &e);
	ck_assert_msg(rc == 0, "%s", e.msg);
	ck_assert_str_eq(s->media[0].kind, "application");
	ck_assert_uint_eq(s->media[0].ice.n_cands, 0);
	ck_assert_int_eq(ice_desc_check_default(&s->media[0].ice), ICE_DEFAULT_PLACEHOLDER);
	ck_assert_str_eq(ice_default_check_name(ICE_DEFAULT_PLACEHOLDER), "placeholder");
	ice_sdp_free(s);

	/* The same default with a port other than 9 is no placeholder. */
	struct ice_desc *d = desc_new();
	ice_desc_init(d);
	ck_assert_int_eq(ice_desc_check_default(d), ICE_DEFAULT_NONE);
	struct pbx_err pe;
	ck_assert_int_eq(pbx_addr_parse(sp("0.0.0.0:10"), 1, 0, &d->default_addr, &pe), 0);
	d->has_default = true;
	ck_assert_int_eq(ice_desc_check_default(d), ICE_DEFAULT_MANGLED);
	/* A component-2 candidate at the default does not count. */
	ck_assert_int_eq(ice_desc_parse_line(d, sp("a=candidate:1 2 udp 1 0.0.0.0 10 typ host"), &pe), 0);
	ck_assert_int_eq(ice_desc_check_default(d), ICE_DEFAULT_MANGLED);
	ck_assert_int_eq(ice_desc_parse_line(d, sp("a=candidate:1 1 udp 1 0.0.0.0 10 typ host"), &pe), 0);
	ck_assert_int_eq(ice_desc_check_default(d), ICE_DEFAULT_MATCH);
	ck_assert_str_eq(ice_default_check_name(ICE_DEFAULT_MATCH), "match");
	ck_assert_str_eq(ice_default_check_name(ICE_DEFAULT_NONE), "none");
	free(d);
}
END_TEST

static void sdp_bad(const char *text, int want, const char *msg)
{
	struct ice_sdp *s;
	struct pbx_err e;
	ck_assert_int_eq(ice_sdp_new(&s), 0);
	pbx_err_clear(&e);
	int rc = ice_sdp_parse(s, sp(text), &e);
	ck_assert_msg(rc == want, "rc %d, want %d (%s)", rc, want, e.msg);
	ck_assert_str_eq(e.msg, msg);
	ice_sdp_free(s);
}

START_TEST(test_ice_sdp_parse_refused)
{
	static const struct {
		const char *file;
		int rc;
		const char *msg;
	} bad[] = {
		{ "bad-sdp-session-candidate.sdp", PBX_E_MALFORMED,
		  "line 3: a=candidate: at session level (before the first m= line)" },
		{ "bad-sdp-m-port.sdp", PBX_E_INVALID, "line 3: m=: port '70000' is not in 0..65535" },
		{ "bad-sdp-c-family.sdp", PBX_E_MALFORMED, "line 4: c=: address '2001:db8::1' is not of type IP4" },
	};
	struct pbx_err e;
	int rc;
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		struct ice_sdp *s = parse_sdp_file(bad[i].file, &rc, &e);
		ck_assert_msg(rc == bad[i].rc, "%s: rc %d (%s)", bad[i].file, rc, e.msg);
		ck_assert_str_eq(e.msg, bad[i].msg);
		ice_sdp_free(s);
	}
	sdp_bad("a=ice-ufrag:abcd\n", PBX_E_MALFORMED, "no m= line: not an SDP body");
	sdp_bad("", PBX_E_MALFORMED, "no m= line: not an SDP body");
	sdp_bad("v=0\nm=audio\n", PBX_E_TRUNCATED, "line 2: m=: media or port missing");
	sdp_bad("v=0\nm=au/dio 5 RTP/AVP 0\n", PBX_E_MALFORMED, "line 2: m=: media 'au/dio' is not a token");
	sdp_bad("v=0\nc=IN IP4\nm=audio 5 RTP/AVP 0\n", PBX_E_TRUNCATED,
		"line 2: c=: network type, address type or address missing");
	sdp_bad("v=0\nc=ATM NSAP 1\nm=audio 5 RTP/AVP 0\n", PBX_E_MALFORMED,
		"line 2: c=: 'IN IP4' or 'IN IP6' expected, not 'ATM NSAP 1'");
	sdp_bad("v=0\nm=audio 5 RTP/AVP 0\nc=IN IP4 1.2.3.999\n", PBX_E_MALFORMED,
		"line 3: c=: address '1.2.3.999' is not an IP address or name");
	sdp_bad("v=0\nm=audio 5 RTP/AVP 0\na=ice-pwd:short\n", PBX_E_INVALID,
		"line 3: a=ice-pwd: 5 characters, needs 22..256");
	/* More m= sections than the bound. */
	char body[1024] = "v=0\n";
	for (int i = 0; i < ICE_SDP_MEDIA_MAX + 1; i++)
		strcat(body, "m=audio 5000 RTP/AVP 0\n");
	sdp_bad(body, PBX_E_TOOLONG, "line 10: m=: more than 8 media sections");
}
END_TEST

START_TEST(test_ice_sdp_parse_details)
{
	struct ice_sdp *s;
	struct pbx_err e;
	ck_assert_int_eq(ice_sdp_new(&s), 0);
	/* Session c= with TTL, a name at media level overriding it, port
	 * with a count, LF endings, ice-lite at session level, no final LF. */
	const char *body = "v=0\ns=-\nc=IN IP4 192.0.2.1/127\na=ice-lite\nt=0 0\n"
			   "m=audio 5000/2 RTP/AVP 0\na=candidate:1 1 udp 2130706431 192.0.2.1 5000 typ host\n"
			   "m=verylongmediakindname 6000 RTP/AVP 0\nc=IN IP4 media.example.org\n"
			   "a=ice-ufrag:abcd";
	pbx_err_clear(&e);
	ck_assert_msg(ice_sdp_parse(s, sp(body), &e) == 0, "%s", e.msg);
	ck_assert_uint_eq(s->n_media, 2);
	ck_assert_uint_eq(s->media[0].port, 5000);
	ck_assert(s->media[0].ice.lite);
	ck_assert(s->media[1].ice.lite);
	addr_is(&s->media[0].ice.default_addr, "192.0.2.1:5000");
	ck_assert_int_eq(ice_desc_check_default(&s->media[0].ice), ICE_DEFAULT_MATCH);
	ck_assert_str_eq(s->media[1].kind, "verylongmediaki");
	ck_assert(!s->media[1].ice.has_default);
	ck_assert_int_eq(ice_desc_check_default(&s->media[1].ice), ICE_DEFAULT_NONE);
	ck_assert_str_eq(s->media[1].ice.ufrag, "abcd");
	ck_assert_str_eq(s->media[0].ice.ufrag, "");

	/* Parsing again resets. */
	ck_assert_int_eq(ice_sdp_parse(s, sp("v=0\r\nm=audio 9 RTP/AVP 0\r\n"), &e), 0);
	ck_assert_uint_eq(s->n_media, 1);
	ck_assert(!s->media[0].ice.lite);
	ck_assert_uint_eq(s->media[0].ice.n_cands, 0);
	ice_sdp_free(s);
	ice_sdp_free(NULL);
}
END_TEST

static Suite *ice_sdp_suite(void)
{
	Suite *s = suite_create("ice_sdp");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, test_ice_cand_parse_libnice);
	tcase_add_test(tc, test_ice_cand_parse_werift_pion_libwebrtc);
	tcase_add_test(tc, test_ice_cand_parse_whitespace);
	tcase_add_test(tc, test_ice_cand_parse_names_and_tcp);
	tcase_add_test(tc, test_ice_cand_parse_refused);
	tcase_add_test(tc, test_ice_cand_format_refused);
	tcase_add_test(tc, test_ice_desc_parse_peer_blocks);
	tcase_add_test(tc, test_ice_desc_format);
	tcase_add_test(tc, test_ice_desc_parse_line);
	tcase_add_test(tc, test_ice_desc_parse_refused);
	tcase_add_test(tc, test_ice_sdp_parse_default_match);
	tcase_add_test(tc, test_ice_sdp_parse_mangled_and_placeholder);
	tcase_add_test(tc, test_ice_sdp_parse_refused);
	tcase_add_test(tc, test_ice_sdp_parse_details);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(ice_sdp_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
