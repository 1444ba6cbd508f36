/* fuzz_addr.c - fuzzes pbx_addr_parse and pbx_cidr_parse, with format/parse round trips. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <pbxedge/addr.h>
#include <pbxedge/err.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A refusal must say why, and leave no half-parsed result behind. */
static void check_refusal(int rc, const struct pbx_err *err)
{
	if (rc != PBX_E_INVALID || err->code != PBX_E_INVALID || err->msg[0] == '\0' ||
	    !memchr(err->msg, '\0', sizeof err->msg))
		abort();
}

static void check_addr(struct pbx_span text, uint16_t default_port, int flags)
{
	struct pbx_addr a, b, c;
	struct pbx_cidr host;
	struct pbx_err err;
	char full[PBX_ADDRSTRLEN], ip[PBX_ADDRSTRLEN];

	pbx_err_clear(&err);
	int rc = pbx_addr_parse(text, default_port, flags, &a, &err);
	if (rc) {
		check_refusal(rc, &err);
		if (pbx_addr_family(&a) != AF_UNSPEC)
			abort();
		return;
	}
	/* Both flags together can never be satisfied. */
	if ((flags & PBX_ADDR_NEED_PORT) && (flags & PBX_ADDR_NO_PORT))
		abort();
	int family = pbx_addr_family(&a);
	if (family != AF_INET && family != AF_INET6)
		abort();
	uint16_t port = pbx_addr_port(&a);
	if (port == 0 || ((flags & PBX_ADDR_NO_PORT) && port != default_port))
		abort();

	/* "addr:port" parses back to the same address and port. */
	if (pbx_addr_format(&a, full, sizeof full))
		abort();
	pbx_err_clear(&err);
	if (pbx_addr_parse(pbx_span_cstr(full), 1, PBX_ADDR_NEED_PORT, &b, &err))
		abort();
	if (!pbx_addr_equal(&a, &b))
		abort();

	/* The bare address too, with the port given separately. */
	if (pbx_addr_format_ip(&a, ip, sizeof ip))
		abort();
	if (pbx_addr_parse(pbx_span_cstr(ip), port, PBX_ADDR_NO_PORT, &c, &err))
		abort();
	if (!pbx_addr_equal(&a, &c))
		abort();

	/* Its host network holds it. */
	if (pbx_cidr_from_addr(&a, &host) || !pbx_cidr_is_host(&host) ||
	    !pbx_cidr_contains(&host, &a))
		abort();
}

static void check_cidr(struct pbx_span text)
{
	struct pbx_cidr c, d;
	struct pbx_err err;
	char canon[PBX_CIDRSTRLEN], again[PBX_CIDRSTRLEN];

	pbx_err_clear(&err);
	int rc = pbx_cidr_parse(text, &c, &err);
	if (rc) {
		check_refusal(rc, &err);
		if (c.family != 0)
			abort();
		return;
	}
	if (!(c.family == AF_INET && c.prefix <= 32) &&
	    !(c.family == AF_INET6 && c.prefix <= 128))
		abort();
	if (c.family == AF_INET)
		for (size_t i = 4; i < sizeof c.ip; i++)
			if (c.ip[i])
				abort();

	/* The canonical text parses to the same network and is a fixed
	 * point of parse + format. */
	if (pbx_cidr_format(&c, canon, sizeof canon))
		abort();
	pbx_err_clear(&err);
	if (pbx_cidr_parse(pbx_span_cstr(canon), &d, &err))
		abort();
	if (!pbx_cidr_equal(&c, &d))
		abort();
	if (pbx_cidr_format(&d, again, sizeof again) || strcmp(canon, again) != 0)
		abort();
	if (!pbx_cidr_overlaps(&c, &d))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* The span points into the fuzzer's buffer itself: a read past size
	 * is caught by ASan. */
	struct pbx_span text = { (const char *)data, size };

	check_addr(text, 5060, 0);
	check_addr(text, 1, PBX_ADDR_NEED_PORT);
	check_addr(text, 65535, PBX_ADDR_NO_PORT);
	check_addr(text, 3478, PBX_ADDR_NEED_PORT | PBX_ADDR_NO_PORT);
	check_cidr(text);
	return 0;
}
