/* test_turnd.c - turnd's pure parts: the peer policy (policy_check,
 * policy_relayed), the relay port pool (ports_take, ports_take_reserved,
 * ports_give, ports_held), one allocation's permissions and channels
 * (peers_*) and nonces (auth_nonce_*); TURN REST credentials are tested in
 * test_turn_rest.c. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "turnd.h"

static struct pbx_addr addr(const char *text)
{
	struct pbx_addr a;
	ck_assert_int_eq(pbx_addr_parse(pbx_span_cstr(text), 3478, 0, &a, NULL), 0);
	return a;
}

static struct pbx_cidr net(const char *text)
{
	struct pbx_cidr c;
	ck_assert_int_eq(pbx_cidr_parse(pbx_span_cstr(text), &c, NULL), 0);
	return c;
}

static enum turnd_policy verdict(const char *peer)
{
	struct pbx_addr a = addr(peer);
	return policy_check(&a, NULL, 0, NULL, 0, NULL, 0);
}

START_TEST(test_policy_check_defaults)
{
	ck_assert_int_eq(verdict("127.0.0.1:5000"), POLICY_LOOPBACK);
	ck_assert_int_eq(verdict("[::1]:5000"), POLICY_LOOPBACK);
	ck_assert_int_eq(verdict("0.0.0.0:5000"), POLICY_UNSPECIFIED);
	ck_assert_int_eq(verdict("[::]:5000"), POLICY_UNSPECIFIED);
	ck_assert_int_eq(verdict("169.254.1.1:5000"), POLICY_LINK_LOCAL);
	ck_assert_int_eq(verdict("[fe80::1]:5000"), POLICY_LINK_LOCAL);
	ck_assert_int_eq(verdict("224.0.0.1:5000"), POLICY_MULTICAST);
	ck_assert_int_eq(verdict("[ff02::1]:5000"), POLICY_MULTICAST);
	ck_assert_int_eq(verdict("10.1.2.3:5000"), POLICY_PRIVATE);
	ck_assert_int_eq(verdict("172.31.255.255:5000"), POLICY_PRIVATE);
	ck_assert_int_eq(verdict("192.168.1.1:5000"), POLICY_PRIVATE);
	ck_assert_int_eq(verdict("100.64.0.1:5000"), POLICY_PRIVATE);
	ck_assert_int_eq(verdict("[fd00::1]:5000"), POLICY_PRIVATE);
	ck_assert_int_eq(verdict("255.255.255.255:5000"), POLICY_PRIVATE);
	/* Public addresses, and the edges of the ranges. */
	ck_assert_int_eq(verdict("8.8.8.8:5000"), POLICY_OK);
	ck_assert_int_eq(verdict("172.32.0.1:5000"), POLICY_OK);
	ck_assert_int_eq(verdict("11.0.0.1:5000"), POLICY_OK);
	ck_assert_int_eq(verdict("[2a00:1450::1]:5000"), POLICY_OK);
	/* An IPv4-mapped peer is judged as the IPv4 address it is. */
	ck_assert_int_eq(verdict("[::ffff:127.0.0.1]:5000"), POLICY_LOOPBACK);
	ck_assert_int_eq(verdict("[::ffff:8.8.8.8]:5000"), POLICY_OK);
	ck_assert_str_eq(policy_name(POLICY_LOOPBACK), "loopback");
}
END_TEST

START_TEST(test_policy_check_lists)
{
	struct pbx_cidr allow[2] = { net("127.0.0.0/8"), net("10.0.0.0/8") };
	struct pbx_cidr deny[2] = { net("10.9.0.0/16"), net("8.8.8.8") };
	struct pbx_addr own[1] = { addr("203.0.113.5:3478") };
	struct pbx_addr a;
	a = addr("127.0.0.1:5000");
	ck_assert_int_eq(policy_check(&a, allow, 2, deny, 2, own, 1), POLICY_OK);
	a = addr("10.1.1.1:5000");
	ck_assert_int_eq(policy_check(&a, allow, 2, deny, 2, own, 1), POLICY_OK);
	/* deny-peer wins over allow-peer. */
	a = addr("10.9.1.1:5000");
	ck_assert_int_eq(policy_check(&a, allow, 2, deny, 2, own, 1), POLICY_DENIED);
	a = addr("8.8.8.8:53");
	ck_assert_int_eq(policy_check(&a, allow, 2, deny, 2, own, 1), POLICY_DENIED);
	/* turnd's own public address, any port. */
	a = addr("203.0.113.5:40000");
	ck_assert_int_eq(policy_check(&a, allow, 2, deny, 2, own, 1), POLICY_OWN);
	a = addr("203.0.113.6:40000");
	ck_assert_int_eq(policy_check(&a, allow, 2, deny, 2, own, 1), POLICY_OK);
	/* Port 0 is nobody, allowed range or not. */
	a = addr("127.0.0.1:1");
	pbx_addr_set_port(&a, 0);
	ck_assert_int_eq(policy_check(&a, allow, 2, deny, 2, own, 1), POLICY_PORT_ZERO);
}
END_TEST

START_TEST(test_policy_relayed)
{
	/* Listening on a private address and on a wildcard, and the address a
	 * client reached behind it (with the listening port). */
	struct pbx_addr own[3] = { addr("198.18.1.1:3478"), addr("0.0.0.0:5349"),
				   addr("10.0.0.7:5349") };
	struct pbx_addr a;
	a = addr("198.18.1.1:49500");
	ck_assert(policy_relayed(&a, own, 3));
	a = addr("10.0.0.7:49500");
	ck_assert(policy_relayed(&a, own, 3));
	/* Listening ports are never relays, on any of our addresses. */
	a = addr("198.18.1.1:3478");
	ck_assert(!policy_relayed(&a, own, 3));
	a = addr("198.18.1.1:5349");
	ck_assert(!policy_relayed(&a, own, 3));
	/* Not ours; and a wildcard is no address of ours. */
	a = addr("198.18.1.2:49500");
	ck_assert(!policy_relayed(&a, own, 3));
	a = addr("0.0.0.0:49500");
	ck_assert(!policy_relayed(&a, own, 3));
	ck_assert(!policy_relayed(&a, NULL, 0));
}
END_TEST

START_TEST(test_ports_held)
{
	struct turnd_ports *p = ports_new(50000, 50001);
	uint16_t port, other;
	uint64_t tok;
	ck_assert_ptr_nonnull(p);
	ck_assert(!ports_held(p, 50000) && !ports_held(p, 50001));
	ck_assert(!ports_held(p, 3478));
	ck_assert_int_eq(ports_take(p, false, false, 100, &port, &tok), 0);
	ck_assert(ports_held(p, port));
	other = port == 50000 ? 50001 : 50000;
	ck_assert(!ports_held(p, other));
	ports_give(p, port);
	ck_assert(!ports_held(p, port));
	/* A reserved port is no relay yet. */
	ck_assert_int_eq(ports_take(p, true, true, 100, &port, &tok), 0);
	ck_assert(ports_held(p, 50000) && !ports_held(p, 50001));
	ports_free(p);
}
END_TEST

START_TEST(test_ports_take_range)
{
	struct turnd_ports *p = ports_new(50000, 50009);
	uint16_t port, seen[10];
	uint64_t tok;
	ck_assert_ptr_nonnull(p);
	for (int i = 0; i < 10; i++) {
		ck_assert_int_eq(ports_take(p, false, false, 100, &port, &tok), 0);
		ck_assert(port >= 50000 && port <= 50009);
		for (int k = 0; k < i; k++)
			ck_assert_uint_ne(seen[k], port);
		seen[i] = port;
	}
	ck_assert_uint_eq(ports_in_use(p), 10);
	ck_assert_int_eq(ports_take(p, false, false, 100, &port, &tok), PBX_E_NOSPACE);
	ports_give(p, seen[3]);
	ports_give(p, 1234); /* outside: ignored */
	ck_assert_int_eq(ports_take(p, false, false, 100, &port, &tok), 0);
	ck_assert_uint_eq(port, seen[3]);
	ports_free(p);
}
END_TEST

START_TEST(test_ports_take_reserved)
{
	struct turnd_ports *p = ports_new(50000, 50003);
	uint16_t port, port2;
	uint64_t tok = 0;
	ck_assert_int_eq(ports_take(p, true, true, 100, &port, &tok), 0);
	ck_assert_uint_eq(port % 2, 0);
	ck_assert(tok != 0);
	ck_assert_uint_eq(ports_in_use(p), 2);
	ck_assert_int_eq(ports_take_reserved(p, tok + 1, 101, &port2), PBX_E_NOTFOUND);
	ck_assert_int_eq(ports_take_reserved(p, tok, 101, &port2), 0);
	ck_assert_uint_eq(port2, port + 1);
	/* Redeemed once only. */
	ck_assert_int_eq(ports_take_reserved(p, tok, 101, &port2), PBX_E_NOTFOUND);
	/* A reservation not redeemed in time frees its port. */
	uint16_t p3;
	ck_assert_int_eq(ports_take(p, true, true, 200, &p3, &tok), 0);
	ck_assert_uint_eq(ports_in_use(p), 4);
	ck_assert_int_eq(ports_take_reserved(p, tok, 200 + TURND_RESERVATION_S, &port2),
			 PBX_E_NOTFOUND);
	ck_assert_uint_eq(ports_in_use(p), 3);
	/* Only odd ports are left: EVEN-PORT finds none. */
	ports_give(p, port);
	ck_assert_int_eq(ports_take(p, true, false, 300, &port2, &tok), 0);
	ck_assert_uint_eq(port2 % 2, 0);
	ck_assert_int_eq(ports_take(p, true, false, 300, &port2, &tok), PBX_E_NOSPACE);
	ports_free(p);
	ck_assert_ptr_null(ports_new(5, 4));
}
END_TEST

START_TEST(test_peers_permit)
{
	struct peer_table t;
	peers_init(&t);
	struct pbx_addr a = addr("192.0.2.1:1000"), b = addr("192.0.2.1:2000"),
			c = addr("[2001:db8::1]:1000");
	ck_assert(!peers_permitted(&t, &a, 0));
	ck_assert_int_eq(peers_permit(&t, &a, 300, 0), 0);
	/* Permissions are per IP address: any port. */
	ck_assert(peers_permitted(&t, &b, 299));
	ck_assert(!peers_permitted(&t, &b, 300));
	ck_assert(!peers_permitted(&t, &c, 0));
	ck_assert_int_eq(peers_permit(&t, &a, 600, 299), 0);
	ck_assert(peers_permitted(&t, &a, 599));
	ck_assert_uint_eq(t.n_perm, 1);
	/* Many: the table grows, every one is found. */
	for (int i = 0; i < PEERS_MAX_PERM - 1; i++) {
		char text[64];
		snprintf(text, sizeof text, "198.51.100.%d:1", i);
		struct pbx_addr x = addr(text);
		ck_assert_int_eq(peers_permit(&t, &x, 300, 0), 0);
	}
	ck_assert_uint_eq(t.n_perm, PEERS_MAX_PERM);
	struct pbx_addr over = addr("203.0.113.1:1");
	ck_assert_int_eq(peers_permit(&t, &over, 300, 0), PBX_E_NOSPACE);
	for (int i = 0; i < PEERS_MAX_PERM - 1; i++) {
		char text[64];
		snprintf(text, sizeof text, "198.51.100.%d:9", i);
		struct pbx_addr x = addr(text);
		ck_assert(peers_permitted(&t, &x, 1));
	}
	/* Expiry sweeps them; a swept one can come back. */
	peers_expire(&t, 300);
	ck_assert_uint_eq(t.n_perm, 1);
	ck_assert(peers_permitted(&t, &a, 300));
	ck_assert_int_eq(peers_permit(&t, &over, 900, 300), 0);
	ck_assert(peers_permitted(&t, &over, 301));
	peers_cleanup(&t);
}
END_TEST

START_TEST(test_peers_bind)
{
	struct peer_table t;
	peers_init(&t);
	struct pbx_addr a = addr("192.0.2.1:1000"), b = addr("192.0.2.1:2000"), got;
	uint16_t ch;
	ck_assert_int_eq(peers_channel_peer(&t, 0x4000, 0, &got), PBX_E_NOTFOUND);
	ck_assert_int_eq(peers_bind(&t, 0x4000, &a, 600, 0), 0);
	ck_assert_int_eq(peers_channel_peer(&t, 0x4000, 1, &got), 0);
	ck_assert(pbx_addr_equal(&got, &a));
	ck_assert_int_eq(peers_peer_channel(&t, &a, 1, &ch), 0);
	ck_assert_uint_eq(ch, 0x4000);
	/* Channels are per transport address. */
	ck_assert_int_eq(peers_peer_channel(&t, &b, 1, &ch), PBX_E_NOTFOUND);
	/* RFC 8656 11.2: a number bound to another peer, or a peer bound to
	 * another number, is refused; the same pair refreshes. */
	ck_assert_int_eq(peers_bind(&t, 0x4000, &b, 600, 1), PBX_E_EXISTS);
	ck_assert_int_eq(peers_bind(&t, 0x4001, &a, 600, 1), PBX_E_EXISTS);
	ck_assert_int_eq(peers_bind(&t, 0x4000, &a, 1200, 500), 0);
	ck_assert_int_eq(peers_channel_peer(&t, 0x4000, 1100, &got), 0);
	ck_assert_int_eq(peers_bind(&t, 0x4001, &b, 600, 1), 0);
	ck_assert_uint_eq(t.n_chan, 2);
	/* Expired: not found; RFC 8656 12: for 5 minutes more neither the
	 * number nor the peer is bound to anything else, while the same pair
	 * may come back. */
	ck_assert_int_eq(peers_channel_peer(&t, 0x4001, 600, &got), PBX_E_NOTFOUND);
	peers_expire(&t, 600);
	ck_assert_uint_eq(t.n_chan, 1);
	ck_assert_uint_eq(t.n_cooling, 1);
	struct pbx_addr c = addr("[2001:db8::7]:7");
	ck_assert_int_eq(peers_bind(&t, 0x4001, &a, 900, 600), PBX_E_EXISTS);
	ck_assert_int_eq(peers_bind(&t, 0x4001, &c, 1500, 899), PBX_E_EXISTS);
	ck_assert_int_eq(peers_bind(&t, 0x4002, &b, 1500, 899), PBX_E_EXISTS);
	peers_expire(&t, 899);
	ck_assert_uint_eq(t.n_cooling, 1);
	ck_assert_int_eq(peers_bind(&t, 0x4001, &c, 1500, 899), PBX_E_EXISTS);
	/* After the pause the number is free. */
	peers_expire(&t, 900);
	ck_assert_uint_eq(t.n_cooling, 0);
	ck_assert_int_eq(peers_bind(&t, 0x4001, &c, 1500, 900), 0);
	ck_assert_int_eq(peers_channel_peer(&t, 0x4001, 901, &got), 0);
	ck_assert(pbx_addr_equal(&got, &c));
	/* The same pair, bound again while reserved, is live again. */
	ck_assert_int_eq(peers_bind(&t, 0x4000, &a, 1200, 500), 0);
	peers_expire(&t, 1200);
	ck_assert_int_eq(peers_channel_peer(&t, 0x4000, 1300, &got), PBX_E_NOTFOUND);
	ck_assert_int_eq(peers_bind(&t, 0x4000, &a, 1900, 1300), 0);
	ck_assert_int_eq(peers_channel_peer(&t, 0x4000, 1301, &got), 0);
	ck_assert(pbx_addr_equal(&got, &a));
	peers_cleanup(&t);
}
END_TEST

/* Every binding is found both ways, whatever the table's size: by number
 * and by peer (the peer-to-channel lookup sends ChannelData to the
 * client). */
START_TEST(test_peers_bind_many)
{
	struct peer_table t;
	peers_init(&t);
	for (int i = 0; i < PEERS_MAX_CHAN; i++) {
		char text[64];
		snprintf(text, sizeof text, "198.51.100.%d:%d", i % 200, 1000 + i);
		struct pbx_addr x = addr(text);
		ck_assert_int_eq(peers_bind(&t, (uint16_t)(0x4000 + i), &x, 600, 0), 0);
	}
	for (int i = 0; i < PEERS_MAX_CHAN; i++) {
		char text[64];
		snprintf(text, sizeof text, "198.51.100.%d:%d", i % 200, 1000 + i);
		struct pbx_addr x = addr(text), got;
		uint16_t ch = 0;
		ck_assert_int_eq(peers_peer_channel(&t, &x, 1, &ch), 0);
		ck_assert_uint_eq(ch, 0x4000 + i);
		ck_assert_int_eq(peers_channel_peer(&t, (uint16_t)(0x4000 + i), 1, &got), 0);
		ck_assert(pbx_addr_equal(&got, &x));
		/* A peer bound to one number cannot take another. */
		ck_assert_int_eq(peers_bind(&t, 0x4fff, &x, 600, 1), PBX_E_EXISTS);
	}
	peers_cleanup(&t);
}
END_TEST

/* Reserved bindings count against the cap, and a table full of them and
 * of permissions still takes what fits (no endless probing). */
START_TEST(test_peers_cooling_bounded)
{
	struct peer_table t;
	peers_init(&t);
	char text[64];
	for (int i = 0; i < PEERS_MAX_CHAN; i++) {
		snprintf(text, sizeof text, "198.51.100.%d:%d", i % 200, 2000 + i);
		struct pbx_addr x = addr(text);
		ck_assert_int_eq(peers_bind(&t, (uint16_t)(0x4000 + i), &x, 600, 0), 0);
	}
	peers_expire(&t, 600);
	ck_assert_uint_eq(t.n_chan, 0);
	ck_assert_uint_eq(t.n_cooling, PEERS_MAX_CHAN);
	struct pbx_addr y = addr("203.0.113.5:5");
	ck_assert_int_eq(peers_bind(&t, 0x4100, &y, 1200, 600), PBX_E_NOSPACE);
	for (int i = 0; i < PEERS_MAX_PERM; i++) {
		snprintf(text, sizeof text, "192.0.2.%d:1", i);
		struct pbx_addr x = addr(text);
		ck_assert_int_eq(peers_permit(&t, &x, 2000, 600), 0);
	}
	peers_expire(&t, 900);
	ck_assert_uint_eq(t.n_cooling, 0);
	ck_assert_uint_eq(t.n_perm, PEERS_MAX_PERM);
	for (int i = 0; i < PEERS_MAX_CHAN; i++) {
		snprintf(text, sizeof text, "203.0.113.%d:%d", i % 200, 3000 + i);
		struct pbx_addr x = addr(text);
		ck_assert_int_eq(peers_bind(&t, (uint16_t)(0x4200 + i), &x, 1500, 900), 0);
	}
	ck_assert(peers_permitted(&t, &y, 901) == false);
	peers_cleanup(&t);
}
END_TEST

START_TEST(test_auth_nonce)
{
	uint8_t secret[16] = { 1, 2, 3 }, other[16] = { 9 };
	struct pbx_addr c = addr("192.0.2.1:1000"), c2 = addr("192.0.2.1:2000"),
			d = addr("192.0.2.2:1000");
	char n[32];
	auth_nonce_make(secret, &c, 1000, n, sizeof n);
	ck_assert_uint_eq(strlen(n), 24);
	ck_assert_int_eq(auth_nonce_check(secret, &c, 1000, pbx_span_cstr(n)), 0);
	/* Bound to the address, not the port (TCP reconnects). */
	ck_assert_int_eq(auth_nonce_check(secret, &c2, 1000, pbx_span_cstr(n)), 0);
	ck_assert_int_eq(auth_nonce_check(secret, &d, 1000, pbx_span_cstr(n)), PBX_E_MALFORMED);
	ck_assert_int_eq(auth_nonce_check(other, &c, 1000, pbx_span_cstr(n)), PBX_E_MALFORMED);
	ck_assert_int_eq(auth_nonce_check(secret, &c, 1000 + TURND_NONCE_S, pbx_span_cstr(n)),
			 PBX_E_TOOLONG);
	n[23] = n[23] == 'a' ? 'b' : 'a';
	ck_assert_int_eq(auth_nonce_check(secret, &c, 1000, pbx_span_cstr(n)), PBX_E_MALFORMED);
	ck_assert_int_eq(auth_nonce_check(secret, &c, 1000, pbx_span_cstr("short")),
			 PBX_E_MALFORMED);
	ck_assert_int_eq(auth_nonce_check(secret, &c, 1000,
					  pbx_span_cstr("zz0000000000000000000000")),
			 PBX_E_MALFORMED);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("turnd");
	TCase *tc = tcase_create("turnd");
	tcase_add_test(tc, test_policy_check_defaults);
	tcase_add_test(tc, test_policy_check_lists);
	tcase_add_test(tc, test_policy_relayed);
	tcase_add_test(tc, test_ports_held);
	tcase_add_test(tc, test_ports_take_range);
	tcase_add_test(tc, test_ports_take_reserved);
	tcase_add_test(tc, test_peers_permit);
	tcase_add_test(tc, test_peers_bind);
	tcase_add_test(tc, test_peers_bind_many);
	tcase_add_test(tc, test_peers_cooling_bounded);
	tcase_add_test(tc, test_auth_nonce);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
