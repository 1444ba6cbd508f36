/* test_ice_cand.c - unit tests for ICE priorities, local preferences,
 * foundations and pair priorities (lib/ice/cand.c), checked against the
 * formulas of RFC 8445 and RFC 8421 and the priorities real agents sent. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include <pbxedge/ice.h>

#include "ice_net.h"
#include "vectors.h"

START_TEST(test_ice_priority_formula)
{
	uint32_t p;
	/* RFC 8445 5.1.2.1: 2^24*type + 2^8*local + (256 - component). */
	ck_assert_int_eq(ice_priority(126, 65535, 1, &p), 0);
	ck_assert_uint_eq(p, 2130706431u);
	ck_assert_int_eq(ice_priority(126, 65535, 2, &p), 0);
	ck_assert_uint_eq(p, 2130706430u);
	ck_assert_int_eq(ice_priority(0, 0, 256, &p), 0);
	ck_assert_uint_eq(p, 0u);
	ck_assert_int_eq(ice_priority(1, 2, 3, &p), 0);
	ck_assert_uint_eq(p, (1u << 24) + (2u << 8) + 253u);
	/* The largest possible stays below 2^31, as RFC 8839 requires. */
	ck_assert_int_eq(ice_priority(126, 65535, 1, &p), 0);
	ck_assert_uint_le(p, ICE_PRIORITY_MAX);

	ck_assert_int_eq(ice_priority(127, 0, 1, &p), PBX_E_INVALID);
	ck_assert_uint_eq(p, 0u);
	ck_assert_int_eq(ice_priority(126, 0, 0, &p), PBX_E_INVALID);
	ck_assert_int_eq(ice_priority(126, 0, 257, &p), PBX_E_INVALID);
}
END_TEST

START_TEST(test_ice_cand_priority_prefs)
{
	struct ice_prefs prefs;
	uint32_t p;

	ice_prefs_default(&prefs);
	ck_assert_uint_eq(prefs.type_pref[ICE_HOST], 126);
	ck_assert_uint_eq(prefs.type_pref[ICE_PRFLX], 110);
	ck_assert_uint_eq(prefs.type_pref[ICE_SRFLX], 100);
	ck_assert_uint_eq(prefs.type_pref[ICE_RELAY], 0);

	ck_assert_int_eq(ice_cand_priority(NULL, ICE_SRFLX, 65535, 1, &p), 0);
	ck_assert_uint_eq(p, (100u << 24) + (65535u << 8) + 255);
	ck_assert_int_eq(ice_cand_priority(NULL, ICE_PRFLX, 0, 1, &p), 0);
	ck_assert_uint_eq(p, (110u << 24) + 255);

	/* werift and Pion: a relay with local preference 65535 (their
	 * 16777215 in the samples). */
	ck_assert_int_eq(ice_cand_priority(&prefs, ICE_RELAY, 65535, 1, &p), 0);
	ck_assert_uint_eq(p, 16777215u);

	/* Configurable per type: libnice's UDP relay preference 30 and TCP
	 * relay 20, with its local preference 8195, give the priorities it
	 * sent (505414655 and 337642495). */
	prefs.type_pref[ICE_RELAY] = 30;
	ck_assert_int_eq(ice_cand_priority(&prefs, ICE_RELAY, 8195, 1, &p), 0);
	ck_assert_uint_eq(p, 505414655u);
	prefs.type_pref[ICE_RELAY] = 20;
	ck_assert_int_eq(ice_cand_priority(&prefs, ICE_RELAY, 8195, 1, &p), 0);
	ck_assert_uint_eq(p, 337642495u);
	/* libwebrtc's relay: type preference 2, local 32286. */
	prefs.type_pref[ICE_RELAY] = 2;
	ck_assert_int_eq(ice_cand_priority(&prefs, ICE_RELAY, 32286, 1, &p), 0);
	ck_assert_uint_eq(p, 41819903u);

	prefs.type_pref[ICE_HOST] = 127;
	ck_assert_int_eq(ice_cand_priority(&prefs, ICE_HOST, 0, 1, &p), PBX_E_INVALID);
	ck_assert_int_eq(ice_cand_priority(NULL, (enum ice_cand_type)4, 0, 1, &p), PBX_E_INVALID);
}
END_TEST

/* Every candidate the peers printed: split its priority, recompute it
 * from the parts, and find the type preference each agent uses. */
START_TEST(test_ice_priority_samples_recomputed)
{
	static const unsigned want_type_pref[] = { 30, 20, 0, 0 };
	size_t len;
	uint8_t *text = vector_load("ice", "reference-sample-block.txt", &len);
	struct ice_desc *d = malloc(sizeof *d);
	struct pbx_err e;
	ck_assert_ptr_nonnull(d);
	pbx_err_clear(&e);
	ck_assert_msg(ice_desc_parse(d, (struct pbx_span){ (const char *)text, len }, &e) == 0,
		      "%s", e.msg);
	ck_assert_uint_eq(d->n_cands, 4);
	for (size_t i = 0; i < d->n_cands; i++) {
		unsigned type_pref, component;
		uint16_t local_pref;
		uint32_t again;
		ice_priority_split(d->cands[i].priority, &type_pref, &local_pref, &component);
		ck_assert_uint_eq(type_pref, want_type_pref[i]);
		ck_assert_uint_eq(component, d->cands[i].component);
		ck_assert_int_eq(ice_priority(type_pref, local_pref, component, &again), 0);
		ck_assert_uint_eq(again, d->cands[i].priority);
	}
	free(d);
	free(text);

	/* libwebrtc's Trickle ICE line. */
	text = vector_load("ice", "libwebrtc-trickle-line.txt", &len);
	struct ice_cand c;
	ck_assert_int_eq(ice_cand_parse((struct pbx_span){ (const char *)text, len }, &c, NULL), 0);
	unsigned type_pref, component;
	uint16_t local_pref;
	ice_priority_split(c.priority, &type_pref, &local_pref, &component);
	ck_assert_uint_eq(type_pref, 2);
	ck_assert_uint_eq(local_pref, 32286);
	ck_assert_uint_eq(component, 1);
	free(text);
}
END_TEST

START_TEST(test_ice_priority_format)
{
	char buf[ICE_PRIORITY_TEXT_MAX];
	ck_assert_int_eq(ice_priority_format(2130706431u, buf, sizeof buf), 0);
	ck_assert_str_eq(buf, "126|65535|1");
	ck_assert_int_eq(ice_priority_format(505414655u, buf, sizeof buf), 0);
	ck_assert_str_eq(buf, "30|8195|1");
	ck_assert_int_eq(ice_priority_format(16777214u, buf, sizeof buf), 0);
	ck_assert_str_eq(buf, "0|65535|2");
	ck_assert_int_eq(ice_priority_format(0xFFFFFF00u, buf, sizeof buf), 0);
	ck_assert_str_eq(buf, "255|65535|256");
	ck_assert_int_eq(ice_priority_format(2130706431u, buf, 5), PBX_E_NOSPACE);
	ck_assert_str_eq(buf, "");
}
END_TEST

/* RFC 8421 section 4: two IPv4 and two IPv6 host addresses alternate. */
START_TEST(test_ice_local_prefs_interleave)
{
	struct pbx_addr a[4] = { addr_of("192.0.2.1"), addr_of("198.51.100.1"),
				 addr_of("2001:db8::1"), addr_of("2001:db8:1::1") };
	uint16_t lp[4];

	ck_assert_int_eq(ice_local_prefs(a, 4, lp), 0);
	/* Order: v4 #1, v6 #1, v4 #2, v6 #2. */
	ck_assert_uint_eq(lp[0], 65535);
	ck_assert_uint_eq(lp[2], 65534);
	ck_assert_uint_eq(lp[1], 65533);
	ck_assert_uint_eq(lp[3], 65532);

	/* IPv6 first in the caller's order: IPv6 leads. */
	struct pbx_addr b[4] = { a[2], a[3], a[0], a[1] };
	ck_assert_int_eq(ice_local_prefs(b, 4, lp), 0);
	ck_assert_uint_eq(lp[0], 65535); /* 2001:db8::1 */
	ck_assert_uint_eq(lp[2], 65534); /* 192.0.2.1 */
	ck_assert_uint_eq(lp[1], 65533); /* 2001:db8:1::1 */
	ck_assert_uint_eq(lp[3], 65532); /* 198.51.100.1 */

	/* Already alternating: kept as given. */
	struct pbx_addr c[4] = { a[0], a[2], a[1], a[3] };
	ck_assert_int_eq(ice_local_prefs(c, 4, lp), 0);
	for (int i = 0; i < 4; i++)
		ck_assert_uint_eq(lp[i], 65535 - i);

	/* One family runs out: the rest follow in order. */
	struct pbx_addr d[4] = { a[0], a[1], addr_of("203.0.113.1"), a[2] };
	ck_assert_int_eq(ice_local_prefs(d, 4, lp), 0);
	ck_assert_uint_eq(lp[0], 65535);
	ck_assert_uint_eq(lp[3], 65534);
	ck_assert_uint_eq(lp[1], 65533);
	ck_assert_uint_eq(lp[2], 65532);

	/* Every preference distinct: the highest interleaved priority for the
	 * first address of each family. */
	uint32_t p0, p3;
	ck_assert_int_eq(ice_priority(126, lp[0], 1, &p0), 0);
	ck_assert_int_eq(ice_priority(126, lp[3], 1, &p3), 0);
	ck_assert_uint_gt(p0, p3);

	ck_assert_int_eq(ice_local_prefs(a, 0, lp), 0);
	struct pbx_addr bad[2] = { a[0] };
	memset(&bad[1], 0, sizeof bad[1]);
	ck_assert_int_eq(ice_local_prefs(bad, 2, lp), PBX_E_INVALID);
}
END_TEST

START_TEST(test_ice_foundation)
{
	struct pbx_addr base = addr_of("192.0.2.1:5000"), base_other_port = addr_of("192.0.2.1:6000");
	struct pbx_addr base2 = addr_of("192.0.2.2:5000"), base6 = addr_of("[2001:db8::1]:5000");
	struct pbx_addr stun1 = addr_of("198.51.100.1:3478"), stun2 = addr_of("198.51.100.2:3478");
	struct pbx_addr stun1_port = addr_of("198.51.100.1:3479");
	char f1[ICE_FOUNDATION_MAX + 1], f2[ICE_FOUNDATION_MAX + 1];

	/* Same type, base IP, server and transport: same foundation (the
	 * base's port does not count). */
	ck_assert_int_eq(ice_foundation(ICE_SRFLX, &base, &stun1, ICE_UDP, f1), 0);
	ck_assert_int_eq(ice_foundation(ICE_SRFLX, &base_other_port, &stun1, ICE_UDP, f2), 0);
	ck_assert_str_eq(f1, f2);
	ck_assert_uint_eq(strlen(f1), 8);
	for (size_t i = 0; i < 8; i++)
		ck_assert(strchr("0123456789abcdef", f1[i]) != NULL);

	/* Any difference: another foundation. */
	ck_assert_int_eq(ice_foundation(ICE_RELAY, &base, &stun1, ICE_UDP, f2), 0);
	ck_assert_str_ne(f1, f2);
	ck_assert_int_eq(ice_foundation(ICE_SRFLX, &base2, &stun1, ICE_UDP, f2), 0);
	ck_assert_str_ne(f1, f2);
	ck_assert_int_eq(ice_foundation(ICE_SRFLX, &base6, &stun1, ICE_UDP, f2), 0);
	ck_assert_str_ne(f1, f2);
	ck_assert_int_eq(ice_foundation(ICE_SRFLX, &base, &stun2, ICE_UDP, f2), 0);
	ck_assert_str_ne(f1, f2);
	ck_assert_int_eq(ice_foundation(ICE_SRFLX, &base, &stun1_port, ICE_UDP, f2), 0);
	ck_assert_str_ne(f1, f2);
	ck_assert_int_eq(ice_foundation(ICE_SRFLX, &base, &stun1, ICE_TCP, f2), 0);
	ck_assert_str_ne(f1, f2);
	ck_assert_int_eq(ice_foundation(ICE_SRFLX, &base, NULL, ICE_UDP, f2), 0);
	ck_assert_str_ne(f1, f2);

	/* Host candidates: no server; NULL and an empty address agree. */
	struct pbx_addr none;
	memset(&none, 0, sizeof none);
	ck_assert_int_eq(ice_foundation(ICE_HOST, &base, NULL, ICE_UDP, f1), 0);
	ck_assert_int_eq(ice_foundation(ICE_HOST, &base_other_port, &none, ICE_UDP, f2), 0);
	ck_assert_str_eq(f1, f2);

	/* Stable across runs and builds: FNV-1a over type 0, transport 0,
	 * AF_INET (2) and 192.0.2.1, computed independently. */
	ck_assert_int_eq(ice_foundation(ICE_HOST, &base, NULL, ICE_UDP, f1), 0);
	ck_assert_str_eq(f1, "fd4eb22c");

	ck_assert_int_eq(ice_foundation(ICE_HOST, &none, NULL, ICE_UDP, f1), PBX_E_INVALID);
	ck_assert_str_eq(f1, "");
}
END_TEST

START_TEST(test_ice_pair_priority)
{
	/* RFC 8445 6.1.2.3 with G the controlling side's priority. */
	uint32_t host = 2130706431u, relay = 16777215u;
	ck_assert_uint_eq(ice_pair_priority(host, relay),
			  ((uint64_t)relay << 32) + 2 * (uint64_t)host + 1);
	ck_assert_uint_eq(ice_pair_priority(relay, host),
			  ((uint64_t)relay << 32) + 2 * (uint64_t)host);
	ck_assert_uint_eq(ice_pair_priority(host, host), ((uint64_t)host << 32) + 2 * (uint64_t)host);
	ck_assert_uint_eq(ice_pair_priority(0x7FFFFFFFu, 0x7FFFFFFFu),
			  0x7FFFFFFFull * 0x100000000ull + 2 * 0x7FFFFFFFull);

	/* Ordering: the lower candidate priority dominates; the tie is
	 * broken by the higher one, then by which side is controlling. */
	uint64_t hh = ice_pair_priority(host, host);
	uint64_t hr = ice_pair_priority(host, relay);
	uint64_t rh = ice_pair_priority(relay, host);
	uint64_t rr = ice_pair_priority(relay, relay);
	uint32_t srflx;
	ck_assert_int_eq(ice_cand_priority(NULL, ICE_SRFLX, 65535, 1, &srflx), 0);
	uint64_t ss = ice_pair_priority(srflx, srflx);
	uint64_t hs = ice_pair_priority(host, srflx);
	ck_assert_uint_gt(hh, hs);
	ck_assert_uint_gt(hs, ss);
	ck_assert_uint_gt(ss, hr);
	ck_assert_uint_gt(hr, rh);
	ck_assert_uint_gt(rh, rr);
}
END_TEST

START_TEST(test_ice_cand_type_name)
{
	ck_assert_str_eq(ice_cand_type_name(ICE_HOST), "host");
	ck_assert_str_eq(ice_cand_type_name(ICE_SRFLX), "srflx");
	ck_assert_str_eq(ice_cand_type_name(ICE_PRFLX), "prflx");
	ck_assert_str_eq(ice_cand_type_name(ICE_RELAY), "relay");
	ck_assert_str_eq(ice_cand_type_name((enum ice_cand_type)9), "?");
}
END_TEST

static Suite *ice_cand_suite(void)
{
	Suite *s = suite_create("ice_cand");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, test_ice_priority_formula);
	tcase_add_test(tc, test_ice_cand_priority_prefs);
	tcase_add_test(tc, test_ice_priority_samples_recomputed);
	tcase_add_test(tc, test_ice_priority_format);
	tcase_add_test(tc, test_ice_local_prefs_interleave);
	tcase_add_test(tc, test_ice_foundation);
	tcase_add_test(tc, test_ice_pair_priority);
	tcase_add_test(tc, test_ice_cand_type_name);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(ice_cand_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
