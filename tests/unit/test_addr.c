/* test_addr.c - unit tests for addresses and CIDR networks (lib/base/addr.c). */
#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>

#include <pbxedge/addr.h>
#include <pbxedge/err.h>

static struct pbx_span span_n(const char *p, size_t n)
{
	struct pbx_span s = { p, n };
	return s;
}

static int parse(const char *text, uint16_t port, int flags, struct pbx_addr *a,
		 struct pbx_err *err)
{
	pbx_err_clear(err);
	return pbx_addr_parse(pbx_span_cstr(text), port, flags, a, err);
}

/* Parse text that must be accepted; return its "addr:port" form in buf. */
#define ck_addr_ok(text, port, flags, want)                                        \
	do {                                                                       \
		struct pbx_addr a_;                                                \
		struct pbx_err e_;                                                 \
		char f_[PBX_ADDRSTRLEN];                                           \
		ck_assert_msg(parse((text), (port), (flags), &a_, &e_) == 0,       \
			      "'%s' refused: %s", (text), e_.msg);                 \
		ck_assert_int_eq(pbx_addr_format(&a_, f_, sizeof f_), 0);          \
		ck_assert_str_eq(f_, (want));                                      \
	} while (0)

/* Text that must be refused with a message containing word. */
#define ck_addr_bad_n(p, n, flags, word)                                           \
	do {                                                                       \
		struct pbx_addr a_;                                                \
		struct pbx_err e_;                                                 \
		pbx_err_clear(&e_);                                                \
		memset(&a_, 0x5a, sizeof a_);                                      \
		int rc_ = pbx_addr_parse(span_n((p), (n)), 5060, (flags), &a_, &e_); \
		ck_assert_msg(rc_ == PBX_E_INVALID, "'%.*s' not refused (rc %d)",  \
			      (int)(n), (p), rc_);                                 \
		ck_assert_int_eq(e_.code, PBX_E_INVALID);                          \
		ck_assert_msg(e_.msg[0] != '\0', "'%.*s': empty message", (int)(n), (p)); \
		ck_assert_msg(strstr(e_.msg, (word)) != NULL,                      \
			      "'%.*s': message '%s' does not say '%s'", (int)(n), (p), \
			      e_.msg, (word));                                     \
		ck_assert_int_eq(pbx_addr_family(&a_), AF_UNSPEC);                 \
	} while (0)

#define ck_addr_bad(text, flags, word) ck_addr_bad_n((text), strlen(text), (flags), (word))

static void cidr_ok(const char *text, struct pbx_cidr *c)
{
	struct pbx_err e;
	pbx_err_clear(&e);
	ck_assert_msg(pbx_cidr_parse(pbx_span_cstr(text), c, &e) == 0, "'%s' refused: %s",
		      text, e.msg);
}

static struct pbx_addr addr_of(const char *text)
{
	struct pbx_addr a;
	struct pbx_err e;
	ck_assert_msg(parse(text, 5060, 0, &a, &e) == 0, "'%s' refused: %s", text, e.msg);
	return a;
}

/* Canonical text of a CIDR given as text. */
#define ck_cidr_canon(text, want)                                                  \
	do {                                                                       \
		struct pbx_cidr c_;                                                \
		char f_[PBX_CIDRSTRLEN];                                           \
		cidr_ok((text), &c_);                                              \
		ck_assert_int_eq(pbx_cidr_format(&c_, f_, sizeof f_), 0);          \
		ck_assert_str_eq(f_, (want));                                      \
	} while (0)

#define ck_cidr_bad(text, word)                                                    \
	do {                                                                       \
		struct pbx_cidr c_;                                                \
		struct pbx_err e_;                                                 \
		pbx_err_clear(&e_);                                                \
		memset(&c_, 0x5a, sizeof c_);                                      \
		int rc_ = pbx_cidr_parse(pbx_span_cstr(text), &c_, &e_);           \
		ck_assert_msg(rc_ == PBX_E_INVALID, "'%s' not refused (rc %d)", (text), rc_); \
		ck_assert_int_eq(e_.code, PBX_E_INVALID);                          \
		ck_assert_msg(strstr(e_.msg, (word)) != NULL,                      \
			      "'%s': message '%s' does not say '%s'", (text), e_.msg, (word)); \
		ck_assert_int_eq(c_.family, 0);                                    \
	} while (0)

static bool contains(const char *net, const char *addr)
{
	struct pbx_cidr c;
	cidr_ok(net, &c);
	struct pbx_addr a = addr_of(addr);
	return pbx_cidr_contains(&c, &a);
}

static bool overlaps(const char *x, const char *y)
{
	struct pbx_cidr a, b;
	cidr_ok(x, &a);
	cidr_ok(y, &b);
	bool r = pbx_cidr_overlaps(&a, &b);
	ck_assert_msg(r == pbx_cidr_overlaps(&b, &a), "overlaps(%s, %s) is not symmetric", x, y);
	return r;
}

/* ---- addresses ---- */

START_TEST(test_pbx_addr_parse_ipv4)
{
	struct pbx_addr a;
	struct pbx_err e;

	ck_assert_int_eq(parse("192.0.2.1", 5060, 0, &a, &e), 0);
	ck_assert_int_eq(pbx_addr_family(&a), AF_INET);
	ck_assert_uint_eq(pbx_addr_port(&a), 5060);
	ck_assert_uint_eq(a.len, sizeof(struct sockaddr_in));
	ck_assert_uint_eq(ntohl(a.u.sin.sin_addr.s_addr), 0xc0000201u);

	ck_addr_ok("192.0.2.1:80", 5060, 0, "192.0.2.1:80");
	ck_addr_ok("0.0.0.0", 1, 0, "0.0.0.0:1");
	ck_addr_ok("255.255.255.255:65535", 1, 0, "255.255.255.255:65535");
	ck_addr_ok("10.0.0.1:1", 5060, 0, "10.0.0.1:1");
	ck_addr_ok("10.100.0.200", 443, PBX_ADDR_NO_PORT, "10.100.0.200:443");
}
END_TEST

START_TEST(test_pbx_addr_parse_ipv6)
{
	struct pbx_addr a;
	struct pbx_err e;

	ck_assert_int_eq(parse("2001:db8::1", 5061, 0, &a, &e), 0);
	ck_assert_int_eq(pbx_addr_family(&a), AF_INET6);
	ck_assert_uint_eq(pbx_addr_port(&a), 5061);
	ck_assert_uint_eq(a.len, sizeof(struct sockaddr_in6));

	ck_addr_ok("::1", 80, 0, "[::1]:80");
	ck_addr_ok("::", 80, 0, "[::]:80");
	ck_addr_ok("[2001:db8::1]", 5060, 0, "[2001:db8::1]:5060");
	ck_addr_ok("[2001:db8::1]:443", 5060, 0, "[2001:db8::1]:443");
	ck_addr_ok("[::ffff:192.0.2.1]:5061", 5060, 0, "[::ffff:192.0.2.1]:5061");
	ck_addr_ok("2001:DB8:0:0:0:0:0:A", 1, 0, "[2001:db8::a]:1");
	ck_addr_ok("[fe80::1]:65535", 1, 0, "[fe80::1]:65535");
}
END_TEST

START_TEST(test_pbx_addr_parse_port_flags)
{
	ck_addr_ok("192.0.2.1:80", 0, PBX_ADDR_NEED_PORT, "192.0.2.1:80");
	ck_addr_ok("[::1]:80", 0, PBX_ADDR_NEED_PORT, "[::1]:80");
	ck_addr_bad("192.0.2.1", PBX_ADDR_NEED_PORT, "port is required");
	ck_addr_bad("[::1]", PBX_ADDR_NEED_PORT, "port is required");
	/* A bare IPv6 address has no port, whatever its last group. */
	ck_addr_bad("2001:db8::80", PBX_ADDR_NEED_PORT, "port is required");

	ck_addr_ok("192.0.2.1", 7, PBX_ADDR_NO_PORT, "192.0.2.1:7");
	ck_addr_ok("::1", 7, PBX_ADDR_NO_PORT, "[::1]:7");
	ck_addr_ok("[::1]", 7, PBX_ADDR_NO_PORT, "[::1]:7");
	ck_addr_bad("192.0.2.1:80", PBX_ADDR_NO_PORT, "port is not allowed");
	ck_addr_bad("[::1]:80", PBX_ADDR_NO_PORT, "port is not allowed");
}
END_TEST

START_TEST(test_pbx_addr_parse_port_range)
{
	ck_addr_ok("192.0.2.1:1", 9, 0, "192.0.2.1:1");
	ck_addr_ok("192.0.2.1:65535", 9, 0, "192.0.2.1:65535");
	ck_addr_bad("192.0.2.1:0", 0, "out of range");
	ck_addr_bad("192.0.2.1:65536", 0, "out of range");
	ck_addr_bad("[::1]:0", 0, "out of range");
	ck_addr_bad("[::1]:65536", 0, "out of range");
	ck_addr_bad("192.0.2.1:4294967376", 0, "out of range");
	ck_addr_bad("192.0.2.1:-1", 0, "port");
	ck_addr_bad("192.0.2.1:+80", 0, "port");
	ck_addr_bad("192.0.2.1: 80", 0, "port");
	ck_addr_bad("192.0.2.1:80a", 0, "not a number");
	ck_addr_bad("192.0.2.1:http", 0, "not a number");
	ck_addr_bad("1.2.3.4:", 0, "port");
	ck_addr_bad("[::1]:", 0, "port");
}
END_TEST

START_TEST(test_pbx_addr_parse_leading_zero)
{
	ck_addr_bad("010.1.1.1", 0, "leading zeros");
	ck_addr_bad("10.01.1.1", 0, "leading zeros");
	ck_addr_bad("1.2.3.04", 0, "leading zeros");
	ck_addr_bad("1.2.3.00:80", 0, "leading zeros");
	ck_addr_bad("00.0.0.0", 0, "leading zeros");
	ck_addr_ok("10.0.0.0", 1, 0, "10.0.0.0:1");
	ck_addr_ok("100.0.10.0", 1, 0, "100.0.10.0:1");
	/* Ports too: "0080" is refused like an octet "080". */
	ck_addr_bad("192.0.2.1:0080", 0, "leading zeros");
	ck_addr_bad("[::1]:05060", 0, "leading zeros");
	ck_addr_ok("192.0.2.1:8000", 1, 0, "192.0.2.1:8000");
	/* Leading zeros of IPv6 groups are ordinary. */
	ck_addr_ok("2001:0db8::0001", 1, 0, "[2001:db8::1]:1");
}
END_TEST

START_TEST(test_pbx_addr_parse_zone)
{
	ck_addr_bad("fe80::1%eth0", 0, "zone");
	ck_addr_bad("[fe80::1%eth0]:5060", 0, "zone");
	ck_addr_bad("[fe80::1%25eth0]", 0, "zone");
}
END_TEST

START_TEST(test_pbx_addr_parse_garbage)
{
	ck_addr_bad("", 0, "empty");
	struct pbx_addr a;
	struct pbx_err e;
	ck_assert_int_eq(pbx_addr_parse(span_n(NULL, 0), 1, 0, &a, &e), PBX_E_INVALID);
	ck_assert_ptr_nonnull(strstr(e.msg, "empty"));
	ck_addr_bad("[::1", 0, "missing ']'");
	ck_addr_bad("[", 0, "missing ']'");
	ck_addr_bad("[1.2.3.4]", 0, "only for IPv6");
	ck_addr_bad("[1.2.3.4]:80", 0, "only for IPv6");
	ck_addr_bad("[]", 0, "only for IPv6");
	ck_addr_bad("[::1]x", 0, "expected ':PORT'");
	ck_addr_bad("[::1]]:80", 0, "expected ':PORT'");
	ck_addr_bad("pbx.example.com", 0, "not an IPv4 or IPv6 address");
	ck_addr_bad("pbx.example.com:5060", 0, "not an IPv4 or IPv6 address");
	ck_addr_bad(" 1.2.3.4", 0, "not an IPv4 or IPv6 address");
	ck_addr_bad("1.2.3.4 ", 0, "not an IPv4 or IPv6 address");
	ck_addr_bad("1.2.3", 0, "not a valid IPv4 address");
	ck_addr_bad("1.2.3.4.5", 0, "not a valid IPv4 address");
	ck_addr_bad("256.1.1.1", 0, "not a valid IPv4 address");
	ck_addr_bad("1..2.3", 0, "not a valid IPv4 address");
	ck_addr_bad(":::", 0, "not a valid IPv6 address");
	ck_addr_bad("1::2::3", 0, "not a valid IPv6 address");
	ck_addr_bad("1.2.3.4:80:90", 0, "not a valid IPv6 address");
	ck_addr_bad("[1::2::3]:80", 0, "not a valid IPv6 address");
	ck_addr_bad(":80", 0, "empty");
	ck_addr_bad("0x7f.0.0.1", 0, "not an IPv4 or IPv6 address");
	ck_addr_bad("2001:db8::1/64", 0, "not an IPv4 or IPv6 address");
	ck_addr_bad("1234567890123456789012345678901234567890123456789", 0, "too long");
	ck_addr_bad("[1234:5678:9012:3456:7890:1234:5678:9012:3456:7890]:80", 0, "too long");
}
END_TEST

START_TEST(test_pbx_addr_parse_embedded_nul)
{
	/* A NUL inside the span is a byte like any other: it must not cut
	 * the text short into something valid. */
	ck_addr_bad_n("1.2.3.4\0", 8, 0, "not an IPv4 or IPv6 address");
	ck_addr_bad_n("1.2.3.4\0:80", 10, 0, "not an IPv4 or IPv6 address");
	ck_addr_bad_n("1.2.3.4:8\0", 10, 0, "not a number");
	ck_addr_bad_n("::1\0", 4, 0, "not an IPv4 or IPv6 address");
	ck_addr_bad_n("[::1\0]:80", 9, 0, "not an IPv4 or IPv6 address");
	ck_addr_bad_n("\0", 1, 0, "not an IPv4 or IPv6 address");
	/* ...but bytes after the span's end are not part of it. */
	struct pbx_addr a;
	struct pbx_err e;
	ck_assert_int_eq(pbx_addr_parse(span_n("1.2.3.4:80garbage", 10), 0, 0, &a, &e), 0);
	ck_assert_uint_eq(pbx_addr_port(&a), 80);
}
END_TEST

START_TEST(test_pbx_addr_parse_heap_bounds)
{
	/* Each text at the very end of a heap block: ASan reports any read
	 * past the span. */
	static const char *const texts[] = {
		"1.2.3.4", "1.2.3.4:", "[::1", "[::1]", "[::1]:", "[", "::", "1.2.3.4:80",
		"[2001:db8::1]:65535", "010.1.1.1", "fe80::1%eth0", "x",
	};
	for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
		size_t n = strlen(texts[i]);
		char *p = malloc(n);
		ck_assert_ptr_nonnull(p);
		memcpy(p, texts[i], n);
		struct pbx_addr a;
		struct pbx_cidr c;
		pbx_addr_parse(span_n(p, n), 1, 0, &a, NULL);
		pbx_cidr_parse(span_n(p, n), &c, NULL);
		free(p);
	}
}
END_TEST

START_TEST(test_pbx_addr_format)
{
	struct pbx_addr a = addr_of("192.0.2.1:80");
	char buf[PBX_ADDRSTRLEN];

	/* "192.0.2.1:80" is 12 characters. */
	ck_assert_int_eq(pbx_addr_format(&a, buf, 13), 0);
	ck_assert_str_eq(buf, "192.0.2.1:80");
	ck_assert_int_eq(pbx_addr_format(&a, buf, 12), PBX_E_NOSPACE);
	ck_assert_int_eq(pbx_addr_format(&a, buf, 0), PBX_E_NOSPACE);

	/* The longest text fits PBX_ADDRSTRLEN. */
	a = addr_of("[ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff]:65535");
	ck_assert_int_eq(pbx_addr_format(&a, buf, sizeof buf), 0);
	ck_assert_str_eq(buf, "[ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff]:65535");
	a = addr_of("[::ffff:255.255.255.255]:65535");
	ck_assert_int_eq(pbx_addr_format(&a, buf, sizeof buf), 0);
	ck_assert_str_eq(buf, "[::ffff:255.255.255.255]:65535");

	struct pbx_addr none;
	memset(&none, 0, sizeof none);
	ck_assert_int_eq(pbx_addr_format(&none, buf, sizeof buf), 0);
	ck_assert_str_eq(buf, "-");
}
END_TEST

START_TEST(test_pbx_addr_format_ip)
{
	char buf[INET6_ADDRSTRLEN];
	struct pbx_addr a = addr_of("192.0.2.1:80");

	ck_assert_int_eq(pbx_addr_format_ip(&a, buf, sizeof buf), 0);
	ck_assert_str_eq(buf, "192.0.2.1");
	ck_assert_int_eq(pbx_addr_format_ip(&a, buf, 9), PBX_E_NOSPACE);
	a = addr_of("[2001:0DB8:0:0:0:0:0:1]:80");
	ck_assert_int_eq(pbx_addr_format_ip(&a, buf, sizeof buf), 0);
	ck_assert_str_eq(buf, "2001:db8::1");

	struct pbx_addr none;
	memset(&none, 0, sizeof none);
	ck_assert_int_eq(pbx_addr_format_ip(&none, buf, sizeof buf), 0);
	ck_assert_str_eq(buf, "-");
	ck_assert_int_eq(pbx_addr_format_ip(&none, buf, 1), PBX_E_NOSPACE);
}
END_TEST

START_TEST(test_pbx_addr_format_round_trip)
{
	static const char *const texts[] = {
		"192.0.2.1", "192.0.2.1:5060", "0.0.0.0:1", "::", "::1", "[::1]:443",
		"2001:db8::1", "[2001:db8:0:0:1:0:0:1]:5061", "::ffff:192.0.2.1",
		"[fe80::1]:65535", "1:2:3:4:5:6:7:8", "[::102:304]:80",
	};
	for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
		struct pbx_addr a = addr_of(texts[i]), b, c;
		struct pbx_err e;
		char full[PBX_ADDRSTRLEN], ip[PBX_ADDRSTRLEN], again[PBX_ADDRSTRLEN];

		ck_assert_int_eq(pbx_addr_format(&a, full, sizeof full), 0);
		ck_assert_msg(parse(full, 1, PBX_ADDR_NEED_PORT, &b, &e) == 0,
			      "'%s' -> '%s' does not parse: %s", texts[i], full, e.msg);
		ck_assert_msg(pbx_addr_equal(&a, &b), "'%s' -> '%s' differs", texts[i], full);
		ck_assert_int_eq(pbx_addr_format(&b, again, sizeof again), 0);
		ck_assert_str_eq(again, full);

		ck_assert_int_eq(pbx_addr_format_ip(&a, ip, sizeof ip), 0);
		ck_assert_msg(parse(ip, pbx_addr_port(&a), PBX_ADDR_NO_PORT, &c, &e) == 0,
			      "'%s' -> '%s' does not parse: %s", texts[i], ip, e.msg);
		ck_assert_msg(pbx_addr_equal(&a, &c), "'%s' -> '%s' differs", texts[i], ip);
	}
}
END_TEST

START_TEST(test_pbx_addr_from_sockaddr)
{
	struct sockaddr_in sin;
	struct sockaddr_in6 sin6;
	struct sockaddr_un sa_un;
	struct pbx_addr a;
	char buf[PBX_ADDRSTRLEN];

	memset(&sin, 0, sizeof sin);
	sin.sin_family = AF_INET;
	sin.sin_port = htons(3478);
	sin.sin_addr.s_addr = htonl(0xc6336401u);
	ck_assert_int_eq(pbx_addr_from_sockaddr(&a, (struct sockaddr *)&sin, sizeof sin), 0);
	ck_assert_int_eq(pbx_addr_format(&a, buf, sizeof buf), 0);
	ck_assert_str_eq(buf, "198.51.100.1:3478");
	ck_assert_int_eq(pbx_addr_from_sockaddr(&a, (struct sockaddr *)&sin, sizeof sin - 1),
			 -EAFNOSUPPORT);
	ck_assert_int_eq(pbx_addr_family(&a), AF_UNSPEC);

	memset(&sin6, 0, sizeof sin6);
	sin6.sin6_family = AF_INET6;
	sin6.sin6_port = htons(5349);
	sin6.sin6_addr.s6_addr[15] = 1;
	ck_assert_int_eq(pbx_addr_from_sockaddr(&a, (struct sockaddr *)&sin6, sizeof sin6), 0);
	ck_assert_int_eq(pbx_addr_format(&a, buf, sizeof buf), 0);
	ck_assert_str_eq(buf, "[::1]:5349");
	ck_assert_int_eq(pbx_addr_from_sockaddr(&a, (struct sockaddr *)&sin6, sizeof sin),
			 -EAFNOSUPPORT);

	memset(&sa_un, 0, sizeof sa_un);
	sa_un.sun_family = AF_UNIX;
	ck_assert_int_eq(pbx_addr_from_sockaddr(&a, (struct sockaddr *)&sa_un, sizeof sa_un),
			 -EAFNOSUPPORT);
}
END_TEST

START_TEST(test_pbx_addr_set_port)
{
	struct pbx_addr a = addr_of("192.0.2.1:80");
	pbx_addr_set_port(&a, 8080);
	ck_assert_uint_eq(pbx_addr_port(&a), 8080);
	a = addr_of("[::1]:80");
	pbx_addr_set_port(&a, 65535);
	ck_assert_uint_eq(pbx_addr_port(&a), 65535);

	struct pbx_addr none;
	memset(&none, 0, sizeof none);
	pbx_addr_set_port(&none, 80);
	ck_assert_uint_eq(pbx_addr_port(&none), 0);
	ck_assert_int_eq(pbx_addr_family(&none), AF_UNSPEC);
}
END_TEST

START_TEST(test_pbx_addr_unmap)
{
	char buf[PBX_ADDRSTRLEN];
	struct pbx_addr in = addr_of("[::ffff:1.2.3.4]:5060"), out;

	pbx_addr_unmap(&in, &out);
	ck_assert_int_eq(pbx_addr_family(&out), AF_INET);
	ck_assert_uint_eq(out.len, sizeof(struct sockaddr_in));
	ck_assert_int_eq(pbx_addr_format(&out, buf, sizeof buf), 0);
	ck_assert_str_eq(buf, "1.2.3.4:5060");
	struct pbx_addr want = addr_of("1.2.3.4:5060");
	ck_assert(pbx_addr_equal(&out, &want));

	/* In place. */
	pbx_addr_unmap(&in, &in);
	ck_assert_int_eq(pbx_addr_format(&in, buf, sizeof buf), 0);
	ck_assert_str_eq(buf, "1.2.3.4:5060");

	/* Anything else is copied unchanged. */
	static const char *const same[] = {
		"[::1]:80", "[2001:db8::ffff:1.2.3.4]:80", "[::1.2.3.4]:80",
		"[::fffe:1.2.3.4]:80", "1.2.3.4:80",
	};
	for (size_t i = 0; i < sizeof same / sizeof same[0]; i++) {
		in = addr_of(same[i]);
		pbx_addr_unmap(&in, &out);
		ck_assert_msg(pbx_addr_equal(&in, &out), "'%s' changed by unmap", same[i]);
		ck_assert_int_eq(pbx_addr_family(&in), pbx_addr_family(&out));
	}
}
END_TEST

START_TEST(test_pbx_addr_equal)
{
	struct pbx_addr a = addr_of("192.0.2.1:80"), b = addr_of("192.0.2.1:80");
	ck_assert(pbx_addr_equal(&a, &b));
	b = addr_of("192.0.2.1:81");
	ck_assert(!pbx_addr_equal(&a, &b));
	b = addr_of("192.0.2.2:80");
	ck_assert(!pbx_addr_equal(&a, &b));
	b = addr_of("[::ffff:192.0.2.1]:80");
	ck_assert(!pbx_addr_equal(&a, &b));

	a = addr_of("[2001:db8::1]:80");
	b = addr_of("[2001:DB8:0::1]:80");
	ck_assert(pbx_addr_equal(&a, &b));
	b = addr_of("[2001:db8::2]:80");
	ck_assert(!pbx_addr_equal(&a, &b));
	b = addr_of("[2001:db8::1]:8080");
	ck_assert(!pbx_addr_equal(&a, &b));

	struct pbx_addr n1, n2;
	memset(&n1, 0, sizeof n1);
	memset(&n2, 0, sizeof n2);
	ck_assert(pbx_addr_equal(&n1, &n2));
	ck_assert(!pbx_addr_equal(&n1, &a));
}
END_TEST

START_TEST(test_pbx_addr_is_any)
{
	struct pbx_addr a = addr_of("0.0.0.0:80");
	ck_assert(pbx_addr_is_any(&a));
	a = addr_of("[::]:80");
	ck_assert(pbx_addr_is_any(&a));
	a = addr_of("0.0.0.1");
	ck_assert(!pbx_addr_is_any(&a));
	a = addr_of("::1");
	ck_assert(!pbx_addr_is_any(&a));
	a = addr_of("::ffff:0.0.0.0");
	ck_assert(!pbx_addr_is_any(&a));
	memset(&a, 0, sizeof a);
	ck_assert(!pbx_addr_is_any(&a));
}
END_TEST

/* ---- CIDR ---- */

START_TEST(test_pbx_cidr_parse_v4)
{
	struct pbx_cidr c;

	cidr_ok("10.0.0.0/8", &c);
	ck_assert_int_eq(c.family, AF_INET);
	ck_assert_uint_eq(c.prefix, 8);
	ck_assert_mem_eq(c.ip, "\x0a\0\0\0", 4);
	ck_assert(!pbx_cidr_is_host(&c));

	cidr_ok("192.0.2.1", &c);
	ck_assert_int_eq(c.family, AF_INET);
	ck_assert_uint_eq(c.prefix, 32);
	ck_assert(pbx_cidr_is_host(&c));

	ck_cidr_canon("10.0.0.0/8", "10.0.0.0/8");
	ck_cidr_canon("192.0.2.1", "192.0.2.1");
	ck_cidr_canon("192.0.2.1/32", "192.0.2.1");
	ck_cidr_canon("0.0.0.0/0", "0.0.0.0/0");
	ck_cidr_canon("192.168.1.76/30", "192.168.1.76/30");
	ck_cidr_canon("172.16.0.0/12", "172.16.0.0/12");
	ck_cidr_canon("192.0.2.0/31", "192.0.2.0/31");
}
END_TEST

START_TEST(test_pbx_cidr_parse_v6)
{
	struct pbx_cidr c;

	cidr_ok("2001:db8::/32", &c);
	ck_assert_int_eq(c.family, AF_INET6);
	ck_assert_uint_eq(c.prefix, 32);
	ck_assert_mem_eq(c.ip, "\x20\x01\x0d\xb8\0\0\0\0\0\0\0\0\0\0\0\0", 16);

	cidr_ok("::1", &c);
	ck_assert_uint_eq(c.prefix, 128);
	ck_assert(pbx_cidr_is_host(&c));

	/* RFC 5952: lower case, no leading zeros, the longest run of zero
	 * groups (the first on a tie) as "::", never "::" for one group. */
	ck_cidr_canon("2001:db8::/32", "2001:db8::/32");
	ck_cidr_canon("2001:DB8:0:0:0:0:0:1", "2001:db8::1");
	ck_cidr_canon("2001:0db8:0000:0000:0000:0000:0000:0001/128", "2001:db8::1");
	ck_cidr_canon("2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1");
	ck_cidr_canon("2001:0:0:1:0:0:0:1", "2001:0:0:1::1");
	ck_cidr_canon("2001:db8:0:1:1:1:1:1", "2001:db8:0:1:1:1:1:1");
	ck_cidr_canon("2001:db8::/64", "2001:db8::/64");
	ck_cidr_canon("fe80::/10", "fe80::/10");
	ck_cidr_canon("::/0", "::/0");
	ck_cidr_canon("::", "::");
	/* IPv4-mapped networks mean IPv4 clients (see test_pbx_cidr_contains_mapped). */
	ck_cidr_canon("::ffff:192.0.2.1", "192.0.2.1");
	/* Mixed notation only for IPv4-mapped addresses (RFC 5952 section 5):
	 * the first 96 bits zero is not enough. */
	ck_cidr_canon("::102:304", "::102:304");
	ck_cidr_canon("::1:2/128", "::1:2");
	ck_cidr_canon("::1.2.3.4", "::102:304");
}
END_TEST

START_TEST(test_pbx_cidr_parse_host_bits)
{
	ck_cidr_bad("10.1.2.3/8", "the network is 10.0.0.0/8");
	ck_cidr_bad("192.168.1.77/30", "the network is 192.168.1.76/30");
	ck_cidr_bad("10.0.0.1/31", "the network is 10.0.0.0/31");
	ck_cidr_bad("172.31.0.0/12", "the network is 172.16.0.0/12");
	ck_cidr_bad("1.0.0.0/0", "the network is 0.0.0.0/0");
	ck_cidr_bad("2001:db8::1/32", "the network is 2001:db8::/32");
	ck_cidr_bad("::1/127", "the network is ::/127");
	ck_cidr_bad("2001:db8:0:0:4000::/65", "the network is 2001:db8::/65");
	ck_cidr_bad("2001:db8:0:0:c000::/65", "the network is 2001:db8:0:0:8000::/65");
	ck_cidr_bad("::1/0", "the network is ::/0");
	ck_cidr_bad("10.1.2.3/8", "/8");
}
END_TEST

START_TEST(test_pbx_cidr_parse_prefix)
{
	ck_cidr_bad("10.0.0.0/33", "exceeds 32");
	ck_cidr_bad("10.0.0.0/4294967296", "exceeds 32");
	ck_cidr_bad("::/129", "exceeds 128");
	ck_cidr_bad("10.0.0.0/08", "0-32");
	ck_cidr_bad("10.0.0.0/00", "0-32");
	ck_cidr_bad("2001:db8::/032", "0-128");
	ck_cidr_bad("10.0.0.0/", "0-32");
	ck_cidr_bad("10.0.0.0/+8", "0-32");
	ck_cidr_bad("10.0.0.0/-8", "0-32");
	ck_cidr_bad("10.0.0.0/ 8", "0-32");
	ck_cidr_bad("10.0.0.0/8 ", "0-32");
	ck_cidr_bad("10.0.0.0/8/8", "0-32");
	ck_cidr_bad("10.0.0.0/255.0.0.0", "prefix length");

	struct pbx_cidr c;
	cidr_ok("10.0.0.0/32", &c);
	ck_assert_uint_eq(c.prefix, 32);
	cidr_ok("::/128", &c);
	ck_assert_uint_eq(c.prefix, 128);
	cidr_ok("0.0.0.0/0", &c);
	ck_assert_uint_eq(c.prefix, 0);
}
END_TEST

START_TEST(test_pbx_cidr_parse_refused)
{
	ck_cidr_bad("", "empty");
	ck_cidr_bad("/8", "empty");
	ck_cidr_bad("fe80::1%eth0", "zone");
	ck_cidr_bad("fe80::%eth0/64", "zone");
	ck_cidr_bad("010.0.0.0/8", "leading zeros");
	ck_cidr_bad("10.0.0.01", "leading zeros");
	ck_cidr_bad("10/8", "not a valid IPv4 address");
	ck_cidr_bad("10.0/16", "not a valid IPv4 address");
	ck_cidr_bad("[::1]", "not an IPv4 or IPv6 address");
	ck_cidr_bad("[::]/0", "not an IPv4 or IPv6 address");
	ck_cidr_bad("1.2.3.4:80", "not a valid IPv6 address");
	ck_cidr_bad("example.com", "not an IPv4 or IPv6 address");
	ck_cidr_bad("10.0.0.0-10.0.0.255", "not an IPv4 or IPv6 address");

	struct pbx_cidr c;
	struct pbx_err e;
	pbx_err_clear(&e);
	ck_assert_int_eq(pbx_cidr_parse(span_n("10.0.0.0/8\0", 11), &c, &e), PBX_E_INVALID);
	ck_assert_int_eq(pbx_cidr_parse(span_n("10.0.0\0.0/8", 11), &c, &e), PBX_E_INVALID);
	ck_assert_int_eq(pbx_cidr_parse(span_n(NULL, 0), &c, NULL), PBX_E_INVALID);
	/* Bytes after the span are not part of it. */
	ck_assert_int_eq(pbx_cidr_parse(span_n("10.0.0.0/8x", 10), &c, &e), 0);
	ck_assert_uint_eq(c.prefix, 8);
}
END_TEST

START_TEST(test_pbx_cidr_format)
{
	struct pbx_cidr c;
	char buf[PBX_CIDRSTRLEN];

	cidr_ok("10.0.0.0/8", &c);
	ck_assert_int_eq(pbx_cidr_format(&c, buf, 11), 0);
	ck_assert_str_eq(buf, "10.0.0.0/8");
	ck_assert_int_eq(pbx_cidr_format(&c, buf, 10), PBX_E_NOSPACE);

	cidr_ok("ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe/127", &c);
	ck_assert_int_eq(pbx_cidr_format(&c, buf, sizeof buf), 0);
	ck_assert_str_eq(buf, "ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe/127");

	memset(&c, 0, sizeof c);
	ck_assert_int_eq(pbx_cidr_format(&c, buf, sizeof buf), PBX_E_INVALID);
}
END_TEST

START_TEST(test_pbx_cidr_format_round_trip)
{
	static const char *const texts[] = {
		"10.0.0.0/8", "192.0.2.1", "0.0.0.0/0", "192.0.2.128/25", "2001:db8::/32",
		"::/0", "::1", "fe80::/10", "2001:db8:0:0:1::/80", "::ffff:192.0.2.0/120",
		"::102:304", "1:2:3:4:5:6:7:8", "2001:db8::8000:0:0:0/65",
	};
	for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
		struct pbx_cidr a, b;
		char f[PBX_CIDRSTRLEN], g[PBX_CIDRSTRLEN];
		cidr_ok(texts[i], &a);
		ck_assert_int_eq(pbx_cidr_format(&a, f, sizeof f), 0);
		cidr_ok(f, &b);
		ck_assert_msg(pbx_cidr_equal(&a, &b), "'%s' -> '%s' differs", texts[i], f);
		ck_assert_int_eq(pbx_cidr_format(&b, g, sizeof g), 0);
		ck_assert_str_eq(f, g);
	}
}
END_TEST

START_TEST(test_pbx_cidr_contains)
{
	ck_assert(contains("10.0.0.0/8", "10.0.0.0"));
	ck_assert(contains("10.0.0.0/8", "10.255.255.255:5060"));
	ck_assert(!contains("10.0.0.0/8", "11.0.0.0"));
	ck_assert(!contains("10.0.0.0/8", "9.255.255.255"));
	ck_assert(contains("192.0.2.1", "192.0.2.1:1"));
	ck_assert(!contains("192.0.2.1", "192.0.2.2"));
	/* Prefixes that do not end on a byte. */
	ck_assert(contains("172.16.0.0/12", "172.31.255.255"));
	ck_assert(!contains("172.16.0.0/12", "172.32.0.0"));
	ck_assert(contains("192.168.0.0/23", "192.168.1.200"));
	ck_assert(!contains("192.168.0.0/23", "192.168.2.0"));
	ck_assert(contains("2001:db8::/65", "2001:db8::7fff:ffff:ffff:ffff"));
	ck_assert(!contains("2001:db8::/65", "2001:db8::8000:0:0:0"));
	ck_assert(contains("2001:db8::/32", "[2001:db8:ffff::1]:443"));
	ck_assert(!contains("2001:db8::/32", "2001:db9::"));
}
END_TEST

START_TEST(test_pbx_cidr_contains_edges)
{
	/* /0 holds its whole family. */
	ck_assert(contains("0.0.0.0/0", "0.0.0.0"));
	ck_assert(contains("0.0.0.0/0", "255.255.255.255"));
	ck_assert(contains("::/0", "::"));
	ck_assert(contains("::/0", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"));
	/* /31 and /127: two addresses each. */
	ck_assert(contains("192.0.2.0/31", "192.0.2.0"));
	ck_assert(contains("192.0.2.0/31", "192.0.2.1"));
	ck_assert(!contains("192.0.2.0/31", "192.0.2.2"));
	ck_assert(!contains("192.0.2.2/31", "192.0.2.1"));
	ck_assert(contains("2001:db8::/127", "2001:db8::"));
	ck_assert(contains("2001:db8::/127", "2001:db8::1"));
	ck_assert(!contains("2001:db8::/127", "2001:db8::2"));
	ck_assert(contains("::/128", "::"));
	ck_assert(!contains("::/128", "::1"));
	/* Family mismatch. */
	ck_assert(!contains("0.0.0.0/0", "::1"));
	ck_assert(!contains("0.0.0.0/0", "2001:db8::1"));
	ck_assert(!contains("::/0", "192.0.2.1"));
	ck_assert(!contains("::/96", "0.0.0.1"));

	struct pbx_cidr c;
	struct pbx_addr none;
	memset(&none, 0, sizeof none);
	cidr_ok("0.0.0.0/0", &c);
	ck_assert(!pbx_cidr_contains(&c, &none));
}
END_TEST

START_TEST(test_pbx_cidr_contains_mapped)
{
	/* A dual-stack socket reports IPv4 clients as ::ffff:a.b.c.d. */
	ck_assert(contains("192.0.2.0/24", "[::ffff:192.0.2.9]:5060"));
	ck_assert(contains("192.0.2.9", "::ffff:192.0.2.9"));
	ck_assert(contains("0.0.0.0/0", "::ffff:0.0.0.0"));
	ck_assert(!contains("192.0.2.0/24", "::ffff:198.51.100.1"));
	ck_assert(!contains("192.0.2.0/25", "::ffff:192.0.2.128"));
	/* Not mapped: no IPv4 meaning. */
	ck_assert(!contains("192.0.2.0/24", "::192.0.2.9"));
	ck_assert(!contains("192.0.2.0/24", "2001:db8::192.0.2.9"));
	/* A mapped network written by an administrator is the IPv4 network
	 * it means, so it matches IPv4 clients however they arrive. */
	ck_cidr_canon("::ffff:192.0.2.0/120", "192.0.2.0/24");
	ck_cidr_canon("::ffff:192.0.2.1", "192.0.2.1");
	ck_cidr_canon("::ffff:0.0.0.0/96", "0.0.0.0/0");
	ck_assert(contains("::ffff:192.0.2.0/120", "192.0.2.77"));
	ck_assert(contains("::ffff:192.0.2.0/120", "::ffff:192.0.2.77"));
	ck_assert(!contains("::ffff:192.0.2.0/120", "192.0.3.1"));
	/* Shorter than /96 it reaches beyond the mapped range: stays IPv6. */
	ck_cidr_canon("::/95", "::/95");
}
END_TEST

START_TEST(test_pbx_cidr_overlaps)
{
	ck_assert(overlaps("10.0.0.0/8", "10.1.0.0/16"));
	ck_assert(overlaps("10.0.0.0/8", "10.0.0.0/8"));
	ck_assert(overlaps("10.0.0.0/8", "10.200.3.4"));
	ck_assert(!overlaps("10.0.0.0/8", "11.0.0.0/8"));
	ck_assert(!overlaps("192.0.2.0/25", "192.0.2.128/25"));
	ck_assert(overlaps("192.0.2.0/24", "192.0.2.128/25"));
	ck_assert(overlaps("0.0.0.0/0", "203.0.113.7"));
	ck_assert(!overlaps("192.0.2.1", "192.0.2.2"));
	ck_assert(overlaps("2001:db8::/32", "2001:db8:1::/48"));
	ck_assert(!overlaps("2001:db8::/32", "2001:db9::/32"));
	ck_assert(overlaps("::/0", "2001:db8::1"));
	ck_assert(!overlaps("2001:db8::/127", "2001:db8::2/127"));
	/* Families never overlap. */
	ck_assert(!overlaps("0.0.0.0/0", "::/0"));
	/* ... but an IPv4-mapped network is the IPv4 network it means. */
	ck_assert(overlaps("10.0.0.0/8", "::ffff:10.0.0.0/104"));
}
END_TEST

START_TEST(test_pbx_cidr_equal)
{
	struct pbx_cidr a, b;

	cidr_ok("10.0.0.1", &a);
	cidr_ok("10.0.0.1/32", &b);
	ck_assert(pbx_cidr_equal(&a, &b));
	cidr_ok("10.0.0.0/8", &a);
	cidr_ok("10.0.0.0/9", &b);
	ck_assert(!pbx_cidr_equal(&a, &b));
	cidr_ok("11.0.0.0/8", &b);
	ck_assert(!pbx_cidr_equal(&a, &b));
	cidr_ok("::/0", &a);
	cidr_ok("0.0.0.0/0", &b);
	ck_assert(!pbx_cidr_equal(&a, &b));
	cidr_ok("2001:db8::/32", &a);
	cidr_ok("2001:DB8:0::/32", &b);
	ck_assert(pbx_cidr_equal(&a, &b));
}
END_TEST

START_TEST(test_pbx_cidr_from_addr)
{
	struct pbx_cidr c, want;
	struct pbx_addr a = addr_of("192.0.2.7:5060");

	ck_assert_int_eq(pbx_cidr_from_addr(&a, &c), 0);
	cidr_ok("192.0.2.7", &want);
	ck_assert(pbx_cidr_equal(&c, &want));
	ck_assert(pbx_cidr_contains(&c, &a));

	a = addr_of("[2001:db8::7]:5060");
	ck_assert_int_eq(pbx_cidr_from_addr(&a, &c), 0);
	ck_assert_uint_eq(c.prefix, 128);
	cidr_ok("2001:db8::7", &want);
	ck_assert(pbx_cidr_equal(&c, &want));

	a = addr_of("[::ffff:192.0.2.7]:5060");
	ck_assert_int_eq(pbx_cidr_from_addr(&a, &c), 0);
	ck_assert_int_eq(c.family, AF_INET);
	ck_assert_uint_eq(c.prefix, 32);
	cidr_ok("192.0.2.7", &want);
	ck_assert(pbx_cidr_equal(&c, &want));
	ck_assert(pbx_cidr_contains(&c, &a));

	memset(&a, 0, sizeof a);
	ck_assert_int_eq(pbx_cidr_from_addr(&a, &c), -EAFNOSUPPORT);
}
END_TEST

static Suite *addr_suite(void)
{
	Suite *s = suite_create("addr");
	TCase *tc = tcase_create("addr");
	tcase_add_test(tc, test_pbx_addr_parse_ipv4);
	tcase_add_test(tc, test_pbx_addr_parse_ipv6);
	tcase_add_test(tc, test_pbx_addr_parse_port_flags);
	tcase_add_test(tc, test_pbx_addr_parse_port_range);
	tcase_add_test(tc, test_pbx_addr_parse_leading_zero);
	tcase_add_test(tc, test_pbx_addr_parse_zone);
	tcase_add_test(tc, test_pbx_addr_parse_garbage);
	tcase_add_test(tc, test_pbx_addr_parse_embedded_nul);
	tcase_add_test(tc, test_pbx_addr_parse_heap_bounds);
	tcase_add_test(tc, test_pbx_addr_format);
	tcase_add_test(tc, test_pbx_addr_format_ip);
	tcase_add_test(tc, test_pbx_addr_format_round_trip);
	tcase_add_test(tc, test_pbx_addr_from_sockaddr);
	tcase_add_test(tc, test_pbx_addr_set_port);
	tcase_add_test(tc, test_pbx_addr_unmap);
	tcase_add_test(tc, test_pbx_addr_equal);
	tcase_add_test(tc, test_pbx_addr_is_any);
	suite_add_tcase(s, tc);

	tc = tcase_create("cidr");
	tcase_add_test(tc, test_pbx_cidr_parse_v4);
	tcase_add_test(tc, test_pbx_cidr_parse_v6);
	tcase_add_test(tc, test_pbx_cidr_parse_host_bits);
	tcase_add_test(tc, test_pbx_cidr_parse_prefix);
	tcase_add_test(tc, test_pbx_cidr_parse_refused);
	tcase_add_test(tc, test_pbx_cidr_format);
	tcase_add_test(tc, test_pbx_cidr_format_round_trip);
	tcase_add_test(tc, test_pbx_cidr_contains);
	tcase_add_test(tc, test_pbx_cidr_contains_edges);
	tcase_add_test(tc, test_pbx_cidr_contains_mapped);
	tcase_add_test(tc, test_pbx_cidr_overlaps);
	tcase_add_test(tc, test_pbx_cidr_equal);
	tcase_add_test(tc, test_pbx_cidr_from_addr);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(addr_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
