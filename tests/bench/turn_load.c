/* turn_load.c - the load generator of tests/bench/turnd_vs_coturn.sh: TURN
 * over UDP (RFC 8656) from many clients at a fixed offered rate, sent and
 * received in batches with sendmmsg/recvmmsg, messages encoded and decoded
 * with pbxedge's STUN codec; and the batched UDP echo that stands for the
 * peer.
 *
 *   turn_load load SERVER SECONDS [options]
 *       CLIENTS clients (one UDP socket each) Allocate with long-term
 *       credentials (the 401 brings realm and nonce), CreatePermission and
 *       ChannelBind toward PEER, then send RATE datagrams a second in all
 *       (LEN bytes of application data each, as ChannelData, or as Send
 *       indications with --send and no channel) for SECONDS; the peer
 *       echoes them to the relayed address and they come back through the
 *       server.  Then it waits DRAIN seconds for stragglers and ends every
 *       allocation with a Refresh of lifetime 0.  RATE 0 is a closed loop
 *       instead: every client keeps WINDOW datagrams in flight (the
 *       server's maximum).  Prints one line:
 *         sent N offered/s N delivered/s N loss% P rtt-us p50 N p90 N p99 N max N
 *       (offered/s: what was really sent a second; delivered/s: what came
 *       back a second; loss: the share of what was sent that never came
 *       back).  --direct skips TURN and sends the same datagrams to PEER
 *       straight: the ceiling of client, echo and kernel alone.
 *   turn_load echo ADDR
 *       echo every datagram back with recvmmsg/sendmmsg until killed.
 *
 * Options: --user U --password P --peer ADDR (required for load),
 *   --clients N (20), --rate PPS (20000), --len BYTES (160), --window N
 *   (8), --burst N (1: datagrams a client sends at a time in the open
 *   loop), --send (Send/Data indications instead of channels), --direct,
 *   --drain SECONDS (0.5).
 *
 * Each datagram's data starts with the client's number, a sequence number
 * and the time it was sent; round trips are measured from that time to
 * the time of the receive batch that brought it back. */
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <pbxedge/addr.h>
#include <pbxedge/buf.h>
#include <pbxedge/stun.h>

#include "load_util.h"

#define BATCH LOAD_BATCH
#define MAX_CLIENTS 1024
#define MAX_LEN 1200
#define PKT_MAX 1500
#define CHANNEL 0x4000
#define HIST_BUCKETS 16384  /* round trips in steps of HIST_STEP_US... */
#define HIST_STEP_US 10     /* ... up to about 164 ms, the rest in the last */
#define STAMP_LEN 16        /* client, sequence, send time in microseconds */

struct opts {
	struct pbx_addr server, peer;
	double seconds, drain;
	const char *user, *password;
	int clients, window, burst;
	double rate;
	size_t len;
	bool send_ind, direct;
};

struct client {
	int fd;
	struct pbx_addr relayed;
	struct stun_key key;
	char realm[STUN_TEXT_MAX + 1], nonce[STUN_TEXT_MAX + 1];
	uint32_t seq;           /* next sequence number */
	uint64_t back;          /* datagrams that came back */
	int inflight;           /* closed loop */
	double last_back;
};

struct stats {
	uint64_t sent, send_failed, back, invalid;
	uint64_t late;          /* of back: arrived after the end */
	uint64_t hist[HIST_BUCKETS];
	uint64_t max_us;
};

static int parse_addr(const char *s, struct pbx_addr *a)
{
	struct pbx_err err;
	if (pbx_addr_parse(pbx_span_cstr(s), 0, PBX_ADDR_NEED_PORT, a, &err)) {
		fprintf(stderr, "turn_load: bad address %s\n", s);
		return -1;
	}
	return 0;
}

/* ---- the echo ---- */

static int echo(const char *where)
{
	struct pbx_addr a;
	if (parse_addr(where, &a))
		return 2;
	int fd = load_udp_socket(pbx_addr_family(&a));
	if (fd < 0 || bind(fd, &a.u.sa, a.len)) {
		perror("turn_load echo: bind");
		return 1;
	}
	load_echo(fd);
	return 0;
}

/* ---- setting up and ending allocations ---- */

static void random_tid(uint8_t tid[STUN_TID_LEN])
{
	static uint64_t counter;
	uint64_t c = ++counter;
	uint32_t t = (uint32_t)(load_now() * 1e6);
	memcpy(tid, &c, 8);
	memcpy(tid + 8, &t, 4);
}

/* Send the request in buf (len bytes) from c until an answer with its
 * transaction ID arrives (three tries, 500 ms each); decode it into *m
 * over ans. */
static int rpc(struct client *c, const uint8_t *buf, size_t len, uint8_t *ans, size_t cap,
	       struct stun_msg *m)
{
	for (int tries = 0; tries < 3; tries++) {
		if (send(c->fd, buf, len, 0) < 0)
			return -errno;
		double until = load_now() + 0.5;
		for (double t = load_now(); t < until; t = load_now()) {
			struct pollfd pf = { c->fd, POLLIN, 0 };
			if (poll(&pf, 1, (int)((until - t) * 1000) + 1) <= 0)
				continue;
			ssize_t n = recv(c->fd, ans, cap, 0);
			if (n <= 0 || stun_msg_decode(m, ans, (size_t)n))
				continue;
			if (memcmp(m->tid, buf + 8, STUN_TID_LEN) == 0)
				return 0;
		}
	}
	return -ETIMEDOUT;
}

static int error_code(const struct stun_msg *m)
{
	size_t i;
	struct stun_error e;
	if (m->cls != STUN_ERROR)
		return 0;
	if (stun_msg_find(m, STUN_A_ERROR_CODE, 0, &i) || stun_attr_error(m, i, &e))
		return 500;
	return e.code;
}

static void copy_text(const struct stun_msg *m, uint16_t type, char *out)
{
	size_t i;
	struct pbx_span v = { 0 };
	out[0] = 0;
	if (stun_msg_find(m, type, 0, &i) == 0 && stun_attr_text(m, i, &v) == 0)
		pbx_span_copy(v, out, STUN_TEXT_MAX + 1);
}

/* One authenticated request of method on c: the attributes put by add,
 * then USERNAME, REALM, NONCE and MESSAGE-INTEGRITY; a 438 (stale nonce)
 * is retried once with the new nonce.  Returns 0 with the answer in *m
 * (over ans), or -1. */
static int signed_rpc(const struct opts *o, struct client *c, uint16_t method,
		      void (*add)(struct stun_enc *, const struct opts *), uint8_t *ans,
		      size_t cap, struct stun_msg *m)
{
	for (int round = 0; round < 2; round++) {
		uint8_t buf[1024], tid[STUN_TID_LEN];
		struct stun_enc e;
		size_t len;
		random_tid(tid);
		stun_msg_init(&e, buf, sizeof buf, stun_hdr_type(method, STUN_REQUEST), tid,
			      STUN_KIND_RFC5389);
		add(&e, o);
		stun_attr_put_text(&e, STUN_A_USERNAME, o->user, strlen(o->user));
		stun_attr_put_text(&e, STUN_A_REALM, c->realm, strlen(c->realm));
		stun_attr_put_text(&e, STUN_A_NONCE, c->nonce, strlen(c->nonce));
		stun_integrity_put(&e, &c->key);
		stun_integrity_put_fingerprint(&e);
		if (stun_msg_finish(&e, &len) || rpc(c, buf, len, ans, cap, m))
			return -1;
		if (error_code(m) != 438)
			return 0;
		copy_text(m, STUN_A_NONCE, c->nonce);
	}
	return -1;
}

static void add_transport(struct stun_enc *e, const struct opts *o)
{
	(void)o;
	stun_attr_put_transport(e, STUN_TRANSPORT_UDP);
}

static void add_peer(struct stun_enc *e, const struct opts *o)
{
	stun_attr_put_addr(e, STUN_A_XOR_PEER_ADDRESS, &o->peer);
}

static void add_channel(struct stun_enc *e, const struct opts *o)
{
	stun_attr_put_channel(e, CHANNEL);
	stun_attr_put_addr(e, STUN_A_XOR_PEER_ADDRESS, &o->peer);
}

static void add_lifetime_0(struct stun_enc *e, const struct opts *o)
{
	(void)o;
	stun_attr_put_u32(e, STUN_A_LIFETIME, 0);
}

static int fail_step(int k, const char *step, const struct stun_msg *m)
{
	fprintf(stderr, "turn_load: client %d: %s failed (%s %d)\n", k, step,
		m ? "error" : "no answer", m ? error_code(m) : 0);
	return -1;
}

/* Allocate (after the 401), CreatePermission and, unless Send
 * indications are asked for, ChannelBind for client k. */
static int setup(const struct opts *o, struct client *c, int k)
{
	uint8_t buf[256], ans[2048], tid[STUN_TID_LEN];
	struct stun_enc e;
	struct stun_msg m;
	size_t len, i;
	random_tid(tid);
	stun_msg_init(&e, buf, sizeof buf, stun_hdr_type(STUN_ALLOCATE, STUN_REQUEST), tid,
		      STUN_KIND_RFC5389);
	stun_attr_put_transport(&e, STUN_TRANSPORT_UDP);
	if (stun_msg_finish(&e, &len) || rpc(c, buf, len, ans, sizeof ans, &m))
		return fail_step(k, "first Allocate", NULL);
	if (error_code(&m) != 401)
		return fail_step(k, "first Allocate (401 expected)", &m);
	copy_text(&m, STUN_A_REALM, c->realm);
	copy_text(&m, STUN_A_NONCE, c->nonce);
	if (stun_integrity_key_long(&c->key, STUN_PWALG_MD5, pbx_span_cstr(o->user),
				    pbx_span_cstr(c->realm), pbx_span_cstr(o->password)))
		return fail_step(k, "key", NULL);
	if (signed_rpc(o, c, STUN_ALLOCATE, add_transport, ans, sizeof ans, &m))
		return fail_step(k, "Allocate", NULL);
	if (m.cls != STUN_SUCCESS || stun_msg_find(&m, STUN_A_XOR_RELAYED_ADDRESS, 0, &i) ||
	    stun_attr_addr(&m, i, &c->relayed))
		return fail_step(k, "Allocate", &m);
	if (signed_rpc(o, c, STUN_CREATE_PERMISSION, add_peer, ans, sizeof ans, &m) ||
	    m.cls != STUN_SUCCESS)
		return fail_step(k, "CreatePermission", &m);
	if (!o->send_ind &&
	    (signed_rpc(o, c, STUN_CHANNEL_BIND, add_channel, ans, sizeof ans, &m) ||
	     m.cls != STUN_SUCCESS))
		return fail_step(k, "ChannelBind", &m);
	return 0;
}

static int release(const struct opts *o, struct client *c)
{
	uint8_t ans[2048];
	struct stun_msg m;
	if (signed_rpc(o, c, STUN_REFRESH, add_lifetime_0, ans, sizeof ans, &m) ||
	    m.cls != STUN_SUCCESS)
		return -1;
	return 0;
}

/* ---- the load ---- */

/* The datagram of client k's next sequence number into p (cap bytes), as
 * ChannelData, a Send indication, or (direct) ChannelData framing sent
 * straight to the peer.  Returns its length, 0 on error. */
static size_t build(const struct opts *o, struct client *c, int k, uint64_t t_us, uint8_t *p,
		    size_t cap)
{
	uint8_t data[MAX_LEN];
	memset(data, 0x5a, o->len);
	load_put32(data, (uint32_t)k);
	load_put32(data + 4, c->seq++);
	load_put32(data + 8, (uint32_t)(t_us >> 32));
	load_put32(data + 12, (uint32_t)t_us);
	if (o->send_ind) {
		struct stun_enc e;
		uint8_t tid[STUN_TID_LEN] = { 0 };
		size_t len;
		memcpy(tid, data, 8);
		stun_msg_init(&e, p, cap, stun_hdr_type(STUN_SEND, STUN_INDICATION), tid,
			      STUN_KIND_RFC5389);
		stun_attr_put_addr(&e, STUN_A_XOR_PEER_ADDRESS, &o->peer);
		stun_attr_put_text(&e, STUN_A_DATA, data, o->len);
		return stun_msg_finish(&e, &len) ? 0 : len;
	}
	struct pbx_writer w;
	pbx_writer_init(&w, p, cap);
	if (stun_hdr_chandata_encode(&w, CHANNEL, data, o->len, 0))
		return 0;
	return pbx_writer_len(&w);
}

/* The application data of a datagram that came back, or NULL. */
static const uint8_t *unwrap(const struct opts *o, const uint8_t *p, size_t len, size_t *n)
{
	if (!o->send_ind) {
		struct stun_chandata cd;
		if (stun_hdr_chandata_decode(p, len, 0, &cd) ||
		    (!o->direct && cd.channel != CHANNEL))
			return NULL;
		*n = cd.len;
		return cd.data;
	}
	struct stun_msg m;
	size_t i;
	struct pbx_span v;
	if (stun_msg_decode(&m, p, len) || m.method != STUN_DATA || m.cls != STUN_INDICATION ||
	    stun_msg_find(&m, STUN_A_DATA, 0, &i) || stun_attr_text(&m, i, &v))
		return NULL;
	*n = v.len;
	return (const uint8_t *)v.p;
}

static void take(const struct opts *o, struct client *cl, int k, const uint8_t *p, size_t len,
		 uint64_t t_us, struct stats *st)
{
	size_t n = 0;
	const uint8_t *d = unwrap(o, p, len, &n);
	if (!d || n != o->len || load_get32(d) != (uint32_t)k || load_get32(d + 4) >= cl->seq) {
		st->invalid++;
		return;
	}
	uint64_t sent_us = (uint64_t)load_get32(d + 8) << 32 | load_get32(d + 12);
	uint64_t rtt = t_us > sent_us ? t_us - sent_us : 0;
	cl->back++;
	if (cl->inflight)
		cl->inflight--;
	st->back++;
	st->hist[rtt / HIST_STEP_US < HIST_BUCKETS ? rtt / HIST_STEP_US : HIST_BUCKETS - 1]++;
	if (rtt > st->max_us)
		st->max_us = rtt;
}

static uint64_t percentile(const struct stats *st, double q)
{
	uint64_t want = (uint64_t)((double)st->back * q), seen = 0;
	for (int i = 0; i < HIST_BUCKETS; i++) {
		seen += st->hist[i];
		if (seen > want)
			return (uint64_t)(i + 1) * HIST_STEP_US;
	}
	return st->max_us;
}

/* Send up to n datagrams from client k in one sendmmsg. */
static int send_burst(const struct opts *o, struct client *c, int k, int n, double t,
		      struct stats *st)
{
	static uint8_t out[BATCH][PKT_MAX];
	static struct mmsghdr om[BATCH];
	static struct iovec oiov[BATCH];
	uint64_t t_us = (uint64_t)(t * 1e6);
	if (n > BATCH)
		n = BATCH;
	uint32_t seq0 = c->seq;
	for (int i = 0; i < n; i++) {
		size_t len = build(o, c, k, t_us, out[i], sizeof out[i]);
		oiov[i] = (struct iovec){ out[i], len };
		om[i].msg_hdr = (struct msghdr){ .msg_iov = &oiov[i], .msg_iovlen = 1 };
	}
	int sent = sendmmsg(c->fd, om, (unsigned)n, MSG_DONTWAIT);
	if (sent < 0)
		sent = 0;
	/* What the kernel did not take was never offered: reuse the numbers. */
	c->seq = seq0 + (uint32_t)sent;
	st->sent += (uint64_t)sent;
	st->send_failed += (uint64_t)(n - sent);
	return sent;
}

static void receive(const struct opts *o, struct client *cl, struct pollfd *pf, int n_cl,
		    struct stats *st)
{
	static uint8_t in[BATCH][PKT_MAX];
	static struct mmsghdr im[BATCH];
	static struct iovec iiov[BATCH];
	double t = load_now();
	uint64_t t_us = (uint64_t)(t * 1e6);
	for (int k = 0; k < n_cl; k++) {
		if (!(pf[k].revents & POLLIN))
			continue;
		for (;;) {
			for (int i = 0; i < BATCH; i++) {
				iiov[i] = (struct iovec){ in[i], sizeof in[i] };
				im[i].msg_hdr = (struct msghdr){ .msg_iov = &iiov[i],
								 .msg_iovlen = 1 };
			}
			int n = recvmmsg(cl[k].fd, im, BATCH, MSG_DONTWAIT, NULL);
			for (int i = 0; i < n; i++)
				take(o, &cl[k], k, in[i], im[i].msg_len, t_us, st);
			if (n > 0)
				cl[k].last_back = t;
			if (n < BATCH)
				break;
		}
	}
}

static void run(const struct opts *o, struct client *cl, struct stats *st)
{
	static struct pollfd pf[MAX_CLIENTS];
	int n = o->clients, next = 0;
	for (int k = 0; k < n; k++)
		pf[k] = (struct pollfd){ cl[k].fd, POLLIN, 0 };
	double start = load_now(), end = start + o->seconds, t = start;
	for (int k = 0; k < n; k++)
		cl[k].last_back = start;
	while (t < end) {
		if (o->rate > 0) {
			/* Open loop: whatever is due by now, round robin, BURST
			 * datagrams from a client at a time (1: the clients
			 * interleave as independent senders of media do). */
			int64_t due = (int64_t)(o->rate * (t - start)) -
				      (int64_t)(st->sent + st->send_failed);
			while (due > 0) {
				int k = next++ % n;
				int b = due > o->burst ? o->burst : (int)due;
				send_burst(o, &cl[k], k, b, t, st);
				due -= b;
			}
		} else {
			/* Closed loop: keep every window full; one that saw
			 * nothing come back for 50 ms lost its datagrams. */
			for (int k = 0; k < n; k++) {
				struct client *c = &cl[k];
				if (c->inflight && t - c->last_back > 0.05)
					c->inflight = 0;
				if (c->inflight == 0)
					c->last_back = t;
				if (c->inflight < o->window)
					c->inflight += send_burst(o, c, k, o->window - c->inflight, t, st);
			}
		}
		int timeout = o->rate > 0 ? 1 : 10;
		if (poll(pf, (nfds_t)n, timeout) > 0)
			receive(o, cl, pf, n, st);
		t = load_now();
	}
	/* Stragglers: counted as delivered, not as part of the rate. */
	double until = load_now() + o->drain;
	uint64_t in_time = st->back;
	while (load_now() < until) {
		if (poll(pf, (nfds_t)n, 10) > 0)
			receive(o, cl, pf, n, st);
	}
	st->late = st->back - in_time;
}

static int load(int argc, char **argv)
{
	struct opts o = { .clients = 20, .rate = 20000, .len = 160, .window = 8, .burst = 1,
			 .drain = 0.5 };
	if (argc < 4 || parse_addr(argv[2], &o.server))
		return 2;
	o.seconds = atof(argv[3]);
	for (int i = 4; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (strcmp(a, "--send") == 0) {
			o.send_ind = true;
			continue;
		}
		if (strcmp(a, "--direct") == 0) {
			o.direct = true;
			continue;
		}
		if (!v)
			return 2;
		i++;
		if (strcmp(a, "--user") == 0)
			o.user = v;
		else if (strcmp(a, "--password") == 0)
			o.password = v;
		else if (strcmp(a, "--peer") == 0) {
			if (parse_addr(v, &o.peer))
				return 2;
		} else if (strcmp(a, "--clients") == 0)
			o.clients = atoi(v);
		else if (strcmp(a, "--rate") == 0)
			o.rate = atof(v);
		else if (strcmp(a, "--len") == 0)
			o.len = (size_t)atoi(v);
		else if (strcmp(a, "--window") == 0)
			o.window = atoi(v);
		else if (strcmp(a, "--burst") == 0)
			o.burst = atoi(v);
		else if (strcmp(a, "--drain") == 0)
			o.drain = atof(v);
		else
			return 2;
	}
	if (!o.peer.len || (!o.direct && (!o.user || !o.password)) || o.clients < 1 ||
	    o.clients > MAX_CLIENTS || o.len < STAMP_LEN || o.len > MAX_LEN || o.window < 1 ||
	    o.burst < 1 || o.burst > BATCH || o.seconds <= 0 || (o.direct && o.send_ind))
		return 2;
	static struct client cl[MAX_CLIENTS];
	static struct stats st;
	const struct pbx_addr *dst = o.direct ? &o.peer : &o.server;
	for (int k = 0; k < o.clients; k++) {
		cl[k].fd = load_udp_socket(pbx_addr_family(dst));
		if (cl[k].fd < 0 || connect(cl[k].fd, &dst->u.sa, dst->len)) {
			perror("turn_load: socket");
			return 1;
		}
		if (!o.direct && setup(&o, &cl[k], k))
			return 1;
	}
	run(&o, cl, &st);
	int released = 0;
	for (int k = 0; k < o.clients && !o.direct; k++)
		released += release(&o, &cl[k]) == 0;
	printf("sent %" PRIu64 " offered/s %.0f delivered/s %.0f loss%% %.3f rtt-us p50 %" PRIu64
	       " p90 %" PRIu64 " p99 %" PRIu64 " max %" PRIu64 "\n",
	       st.sent, (double)st.sent / o.seconds, (double)(st.back - st.late) / o.seconds,
	       st.sent ? 100.0 * (double)(st.sent - (st.back < st.sent ? st.back : st.sent)) /
				 (double)st.sent : 0.0,
	       percentile(&st, 0.5), percentile(&st, 0.9), percentile(&st, 0.99), st.max_us);
	fprintf(stderr,
		"turn_load: %d clients, %s, %zu bytes, sent %" PRIu64 " (kernel refused %" PRIu64
		"), back %" PRIu64 " (%" PRIu64 " after the end), invalid %" PRIu64
		", released %d\n",
		o.clients, o.direct ? "direct" : o.send_ind ? "Send indications" : "channels",
		o.len, st.sent, st.send_failed, st.back, st.late, st.invalid, released);
	return !o.direct && released != o.clients;
}

int main(int argc, char **argv)
{
	int rc = 2;
	if (argc == 3 && strcmp(argv[1], "echo") == 0)
		rc = echo(argv[2]);
	else if (argc >= 4 && strcmp(argv[1], "load") == 0)
		rc = load(argc, argv);
	if (rc == 2)
		fprintf(stderr, "usage: turn_load load SERVER SECONDS --peer ADDR [--user U "
				"--password P] [--clients N] [--rate PPS] [--len BYTES] "
				"[--window N] [--burst N] [--send] [--direct] [--drain SECONDS]\n"
				"       turn_load echo ADDR\n");
	return rc;
}
