/* turn_client_drive.c - drives libpbxedge-core's TURN client (pbxedge/turn.h)
 * over real sockets against a real TURN server, for tests/integration:
 * allocate, a permission toward an echo peer, data through Send/Data
 * indications, a channel and data through it, then release.  Prints one
 * key=value line per step ("allocate=ok relayed=...", "allocate=auth
 * code=401 ...") and exits 0 only if every step asked for succeeded.
 *
 * Usage: turn_client_drive --server IP:PORT [--tcp | --tls CA.pem] --user U
 *        --password P [--peer IP:PORT] [--count N] [--cap-ms MS] [--icmp]
 *        [--hold-ms MS]
 * --tls runs the stream through the library's TLS (pbxedge/tls.h), the
 * server verified against CA.pem.  Without --peer it only allocates and
 * releases.  --icmp reports ICMP
 * errors (a connected UDP socket's ECONNREFUSED) to the client.
 * --hold-ms keeps the allocation that long before releasing it. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <pbxedge/tls.h>
#include <pbxedge/turn.h>

struct drv {
	struct turn_client c;
	int fd;
	bool tcp, icmp;
	struct pbx_tls *tls;
	struct pbx_addr server;
	int64_t t0;
	struct pbx_addr peer;
	unsigned echoed_ind, echoed_chan;
	unsigned count;
	bool closed;
};

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void lost(struct drv *d)
{
	d->closed = true;
	turn_client_closed(&d->c, now_ms() - d->t0);
}

/* Wait (at most a second) for what TLS asked for after -EAGAIN. */
static void tls_wait(struct drv *d)
{
	struct pollfd pfd = { d->fd, pbx_tls_want_write(d->tls) ? POLLOUT : POLLIN, 0 };
	poll(&pfd, 1, 1000);
}

static void send_all(struct drv *d, const uint8_t *p, size_t len)
{
	if (d->tls) {
		size_t off = 0, put;
		for (int tries = 0; off < len && tries < 100; tries++) {
			int rc = pbx_tls_write(d->tls, p + off, len - off, &put);
			if (rc == -EAGAIN) {
				tls_wait(d);
				continue;
			}
			if (rc) {
				lost(d);
				return;
			}
			off += put;
		}
		if (off < len)
			lost(d);
		return;
	}
	if (d->tcp) {
		size_t off = 0;
		while (off < len) {
			ssize_t n = write(d->fd, p + off, len - off);
			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0) {
				d->closed = true;
				turn_client_closed(&d->c, now_ms() - d->t0);
				return;
			}
			off += (size_t)n;
		}
		return;
	}
	ssize_t n = d->icmp ? send(d->fd, p, len, 0)
			    : sendto(d->fd, p, len, 0, &d->server.u.sa, d->server.len);
	if (n < 0 && errno == ECONNREFUSED && d->icmp)
		turn_client_icmp(&d->c, 3, 3, now_ms() - d->t0);
}

static void flush(struct drv *d)
{
	uint8_t buf[TURN_REQ_MAX];
	size_t len;
	for (;;) {
		if (turn_client_poll(&d->c, now_ms() - d->t0, buf, sizeof buf, &len) || len == 0)
			return;
		send_all(d, buf, len);
	}
}

static void on_data(struct drv *d, const struct turn_input *in)
{
	char want[32];
	if (!in->data || in->icmp || !pbx_addr_equal(&in->peer, &d->peer))
		return;
	snprintf(want, sizeof want, "%s-", in->channel ? "chan" : "ind");
	if (in->len > strlen(want) && memcmp(in->p, want, strlen(want)) == 0) {
		if (in->channel)
			d->echoed_chan++;
		else
			d->echoed_ind++;
	}
}

static void feed(struct drv *d, const uint8_t *buf, size_t n, int64_t now)
{
	size_t off = 0;
	do {
		struct turn_input in;
		if (turn_client_input(&d->c, buf + off, n - off, now, &in)) {
			d->closed = true;
			return;
		}
		on_data(d, &in);
		off += in.used;
	} while (off < n);
}

static void receive_tls(struct drv *d)
{
	static uint8_t buf[16384];
	do {
		size_t got;
		int rc = pbx_tls_read(d->tls, buf, sizeof buf, &got);
		if (rc == -EAGAIN)
			return;
		if (rc || got == 0) {
			lost(d);
			return;
		}
		feed(d, buf, got, now_ms() - d->t0);
	} while (!d->closed && pbx_tls_pending(d->tls) > 0);
}

static void receive(struct drv *d)
{
	static uint8_t buf[70000];
	if (d->tls) {
		receive_tls(d);
		return;
	}
	ssize_t n = d->tcp ? read(d->fd, buf, sizeof buf) : recv(d->fd, buf, sizeof buf, 0);
	int64_t now = now_ms() - d->t0;
	if (n < 0 && errno == ECONNREFUSED && d->icmp) {
		turn_client_icmp(&d->c, 3, 3, now);
		return;
	}
	if (n < 0)
		return;
	if (n == 0 && d->tcp) {
		lost(d);
		return;
	}
	feed(d, buf, (size_t)n, now);
}

/* Run the client until done() or limit ms (the caller's clock) pass. */
static bool run_until(struct drv *d, bool (*done)(struct drv *), int64_t limit)
{
	for (;;) {
		flush(d);
		if (done(d))
			return true;
		int64_t now = now_ms() - d->t0;
		if (now >= limit || d->closed)
			return false;
		int64_t dl = turn_client_deadline(&d->c);
		int64_t until = dl >= 0 && dl < limit ? dl : limit;
		int wait = until > now ? (int)(until - now) : 0;
		struct pollfd pfd = { d->fd, POLLIN, 0 };
		if ((d->tls && pbx_tls_pending(d->tls) > 0) || poll(&pfd, 1, wait) > 0)
			receive(d);
	}
}

static bool settled_alloc(struct drv *d)
{
	enum turn_state s = turn_client_state(&d->c);
	return s != TURN_S_ALLOCATING;
}

static bool settled_perm(struct drv *d)
{
	enum turn_peer_state s = turn_client_permission(&d->c, &d->peer, NULL);
	return s == TURN_P_OK || s == TURN_P_FAILED;
}

static bool settled_chan(struct drv *d)
{
	enum turn_peer_state s = turn_client_channel(&d->c, &d->peer, NULL, NULL);
	return s == TURN_P_OK || s == TURN_P_FAILED;
}

static bool all_ind(struct drv *d)
{
	return d->echoed_ind >= d->count;
}

static bool all_chan(struct drv *d)
{
	return d->echoed_chan >= d->count;
}

static bool released(struct drv *d)
{
	return turn_client_state(&d->c) == TURN_S_RELEASED;
}

static bool never(struct drv *d)
{
	(void)d;
	return false;
}

static void print_result(const char *step, const struct turn_result *r)
{
	char peer[PBX_ADDRSTRLEN] = "-";
	if (r->peer.len)
		pbx_addr_format(&r->peer, peer, sizeof peer);
	printf("%s=%s code=%d sends=%u ms=%lld peer=%s phrase=\"%s\"\n", step,
	       turn_reason_name(r->reason), r->code, r->sends, (long long)(r->settled - r->started),
	       peer, r->phrase);
}

/* Send count data messages to the peer, the way the client picks. */
static void send_burst(struct drv *d, const char *tag)
{
	uint8_t buf[256];
	char text[64];
	size_t len;
	for (unsigned i = 0; i < d->count; i++) {
		int n = snprintf(text, sizeof text, "%s-%u", tag, i);
		if (turn_client_send(&d->c, &d->peer, text, (size_t)n, buf, sizeof buf, &len) == 0)
			send_all(d, buf, len);
	}
}

/* TLS over the connected socket, made non-blocking: the handshake, within
 * five seconds. */
static int start_tls(struct drv *d, const char *ca, const char *host)
{
	struct pbx_tls_creds *creds;
	struct pbx_err err;
	int rc = pbx_tls_client_creds_new(ca, NULL, &creds, &err);
	if (rc) {
		fprintf(stderr, "tls: %s\n", pbx_err_text(&err));
		return rc;
	}
	fcntl(d->fd, F_SETFL, fcntl(d->fd, F_GETFL) | O_NONBLOCK);
	rc = pbx_tls_connect(creds, d->fd, host, &d->tls);
	pbx_tls_creds_unref(creds);
	int64_t until = now_ms() + 5000;
	while (rc == 0) {
		rc = pbx_tls_handshake(d->tls);
		if (rc != -EAGAIN)
			break;
		if (now_ms() > until) {
			rc = -ETIMEDOUT;
			break;
		}
		tls_wait(d);
		rc = 0;
	}
	if (rc)
		fprintf(stderr, "tls: %s\n", d->tls ? pbx_tls_error(d->tls) : pbx_strerror(rc));
	return rc;
}

static int open_socket(struct drv *d)
{
	d->fd = socket(pbx_addr_family(&d->server), (d->tcp ? SOCK_STREAM : SOCK_DGRAM) | SOCK_CLOEXEC,
		       0);
	if (d->fd < 0)
		return -errno;
	if ((d->tcp || d->icmp) && connect(d->fd, &d->server.u.sa, d->server.len) < 0)
		return -errno;
	return 0;
}

static int usage(void)
{
	fprintf(stderr, "usage: turn_client_drive --server IP:PORT [--tcp | --tls CA.pem] --user U "
			"--password P [--peer IP:PORT] [--count N] [--cap-ms MS] [--icmp] "
			"[--hold-ms MS]\n");
	return 2;
}

int main(int argc, char **argv)
{
	static struct drv d;
	const char *server = NULL, *user = NULL, *password = "", *peer = NULL, *ca = NULL;
	long cap = 0, hold = 0;
	d.count = 10;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (!strcmp(a, "--tcp"))
			d.tcp = true;
		else if (!strcmp(a, "--icmp"))
			d.icmp = true;
		else if (!v)
			return usage();
		else if (!strcmp(a, "--tls"))
			ca = v, d.tcp = true, i++;
		else if (!strcmp(a, "--server"))
			server = v, i++;
		else if (!strcmp(a, "--user"))
			user = v, i++;
		else if (!strcmp(a, "--password"))
			password = v, i++;
		else if (!strcmp(a, "--peer"))
			peer = v, i++;
		else if (!strcmp(a, "--count"))
			d.count = (unsigned)atoi(v), i++;
		else if (!strcmp(a, "--cap-ms"))
			cap = atol(v), i++;
		else if (!strcmp(a, "--hold-ms"))
			hold = atol(v), i++;
		else
			return usage();
	}
	if (!server || !user ||
	    pbx_addr_parse(pbx_span_cstr(server), 3478, PBX_ADDR_NEED_PORT, &d.server, NULL) ||
	    (peer && pbx_addr_parse(pbx_span_cstr(peer), 0, PBX_ADDR_NEED_PORT, &d.peer, NULL)))
		return usage();
	struct turn_client_config cfg = {
		.transport = ca ? TURN_TLS : d.tcp ? TURN_TCP : TURN_UDP,
		.user = pbx_span_cstr(user),
		.password = pbx_span_cstr(password),
		.tx_cap_ms = (uint32_t)cap,
	};
	if (turn_client_init(&d.c, &cfg))
		return usage();
	d.t0 = now_ms();
	int rc = open_socket(&d);
	if (rc == 0 && ca) {
		char host[PBX_ADDRSTRLEN];
		pbx_addr_format_ip(&d.server, host, sizeof host);
		rc = start_tls(&d, ca, host);
	}
	if (rc) {
		printf("allocate=closed connect=\"%s\"\n", pbx_strerror(rc));
		return 1;
	}
	bool ok = true;
	struct turn_result r;
	struct turn_allocation a;
	turn_client_allocate(&d.c, 0);
	run_until(&d, settled_alloc, 60000);
	turn_client_allocation(&d.c, &a, &r);
	if (turn_client_state(&d.c) != TURN_S_ALLOCATED) {
		print_result("allocate", &r);
		turn_client_cleanup(&d.c);
		return 1;
	}
	char relayed[PBX_ADDRSTRLEN], mapped[PBX_ADDRSTRLEN] = "-";
	pbx_addr_format(&a.relayed[0], relayed, sizeof relayed);
	if (a.mapped.len)
		pbx_addr_format(&a.mapped, mapped, sizeof mapped);
	printf("allocate=ok relayed=%s mapped=%s lifetime=%u ms=%lld\n", relayed, mapped,
	       a.lifetime, (long long)(r.settled - r.started));

	if (peer) {
		turn_client_permit(&d.c, &d.peer, now_ms() - d.t0);
		run_until(&d, settled_perm, now_ms() - d.t0 + 60000);
		turn_client_permission(&d.c, &d.peer, &r);
		print_result("permission", &r);
		ok &= r.reason == TURN_R_OK;
		if (ok) {
			send_burst(&d, "ind");
			run_until(&d, all_ind, now_ms() - d.t0 + 3000);
			printf("indications=%u/%u\n", d.echoed_ind, d.count);
			ok &= d.echoed_ind == d.count;
			turn_client_bind(&d.c, &d.peer, now_ms() - d.t0);
			run_until(&d, settled_chan, now_ms() - d.t0 + 60000);
			uint16_t ch = 0;
			turn_client_channel(&d.c, &d.peer, &ch, &r);
			print_result("channel", &r);
			ok &= r.reason == TURN_R_OK;
			send_burst(&d, "chan");
			run_until(&d, all_chan, now_ms() - d.t0 + 3000);
			printf("channel_data=%u/%u number=0x%04x\n", d.echoed_chan, d.count, ch);
			ok &= d.echoed_chan == d.count;
		}
	}
	if (hold > 0)
		run_until(&d, never, now_ms() - d.t0 + hold);
	turn_client_release(&d.c, now_ms() - d.t0);
	run_until(&d, released, now_ms() - d.t0 + 60000);
	turn_client_release_result(&d.c, &r);
	print_result("release", &r);
	ok &= r.reason == TURN_R_OK;
	const struct turn_stats *st = turn_client_stats(&d.c);
	printf("stats sent-allocate=%llu sent-permission=%llu sent-channel=%llu sent-release=%llu "
	       "data-out-send=%llu data-out-channel=%llu data-in-data=%llu data-in-channel=%llu\n",
	       (unsigned long long)st->sent[0], (unsigned long long)st->sent[2],
	       (unsigned long long)st->sent[3], (unsigned long long)st->sent[4],
	       (unsigned long long)st->data_out_send, (unsigned long long)st->data_out_channel,
	       (unsigned long long)st->data_in_data, (unsigned long long)st->data_in_channel);
	turn_client_cleanup(&d.c);
	if (d.tls) {
		pbx_tls_bye(d.tls);
		pbx_tls_free(d.tls);
	}
	close(d.fd);
	return ok ? 0 : 1;
}
