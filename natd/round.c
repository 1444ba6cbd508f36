/* round.c - one round of NAT discovery over real sockets: resolve each
 * logical server's members, give every member a UDP socket of its own on
 * the local address its route uses (plus one for the hairpinning test),
 * and drive the probe engines of all logical servers in parallel with
 * poll() until each has its verdict. */
#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <pbxedge/log.h>

#include "round.h"

int64_t natd_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The members' addresses: IP addresses as written, or every address a DNS
 * name resolves to (at most NATD_MAX_MEMBERS). */
static int resolve(const struct natd_logical *l, struct natd_entry *e)
{
	for (size_t i = 0; i < l->n; i++) {
		const struct natd_member *m = &l->m[i];
		if (!m->is_name) {
			if (e->n_addrs < NATD_MAX_MEMBERS)
				e->addrs[e->n_addrs++] = m->addr;
			continue;
		}
		struct addrinfo hints = { .ai_socktype = SOCK_DGRAM,
					  .ai_flags = AI_ADDRCONFIG | AI_NUMERICSERV };
		struct addrinfo *res = NULL;
		char port[8];
		snprintf(port, sizeof port, "%u", m->port);
		int rc = getaddrinfo(m->host, port, &hints, &res);
		if (rc) {
			snprintf(e->dns_error, sizeof e->dns_error, "%s: %s", m->host,
				 gai_strerror(rc));
			continue;
		}
		for (struct addrinfo *ai = res; ai && e->n_addrs < NATD_MAX_MEMBERS; ai = ai->ai_next) {
			struct pbx_addr a;
			if (pbx_addr_from_sockaddr(&a, ai->ai_addr, ai->ai_addrlen))
				continue;
			bool dup = false;
			for (size_t k = 0; k < e->n_addrs; k++)
				dup |= pbx_addr_equal(&a, &e->addrs[k]);
			if (!dup)
				e->addrs[e->n_addrs++] = a;
		}
		freeaddrinfo(res);
	}
	return e->n_addrs ? 0 : -1;
}

/* A non-blocking UDP socket on the local address the route to `to` uses
 * (so that a mapped address equal to it means: no NAT), any port. */
static int open_socket(const struct pbx_addr *to, struct pbx_addr *local)
{
	int family = pbx_addr_family(to);
	struct pbx_addr bind_to;
	memset(&bind_to, 0, sizeof bind_to);
	bind_to.u.sa.sa_family = (sa_family_t)family;
	bind_to.len = family == AF_INET6 ? sizeof(struct sockaddr_in6)
					 : sizeof(struct sockaddr_in);
	struct sockaddr_storage ss;
	socklen_t len = sizeof ss;
	int probe = socket(family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (probe >= 0) {
		struct pbx_addr a;
		if (connect(probe, &to->u.sa, to->len) == 0 &&
		    getsockname(probe, (struct sockaddr *)&ss, &len) == 0 &&
		    pbx_addr_from_sockaddr(&a, (struct sockaddr *)&ss, len) == 0) {
			bind_to = a;
			pbx_addr_set_port(&bind_to, 0);
		}
		close(probe);
	}
	int fd = socket(family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	len = sizeof ss;
	if (bind(fd, &bind_to.u.sa, bind_to.len) || getsockname(fd, (struct sockaddr *)&ss, &len) ||
	    pbx_addr_from_sockaddr(local, (struct sockaddr *)&ss, len)) {
		int rc = -errno;
		close(fd);
		return rc ? rc : -EINVAL;
	}
	return fd;
}

static void close_entry(struct natd_entry *e)
{
	for (size_t i = 0; i < e->n_socks; i++)
		if (e->socks[i] >= 0)
			close(e->socks[i]);
	e->n_socks = 0;
}

static int start_entry(const struct natd_logical *l, struct natd_entry *e, int64_t now)
{
	struct pbx_addr local[NATD_MAX_SOCKS];
	uint8_t tids[NATD_MAX_TX][STUN_TID_LEN_CLASSIC];
	snprintf(e->server, sizeof e->server, "%s", l->text);
	if (resolve(l, e))
		return -1;
	for (size_t i = 0; i <= e->n_addrs; i++) {
		/* The last socket, for hairpinning, on member 0's address. */
		const struct pbx_addr *to = &e->addrs[i < e->n_addrs ? i : 0];
		int fd = open_socket(to, &local[i]);
		if (fd < 0) {
			snprintf(e->dns_error, sizeof e->dns_error, "cannot open a UDP socket: %s",
				 strerror(-fd));
			close_entry(e);
			return -1;
		}
		e->socks[e->n_socks++] = fd;
	}
	if (getrandom(tids, sizeof tids, 0) != (ssize_t)sizeof tids) {
		snprintf(e->dns_error, sizeof e->dns_error, "no random transaction IDs");
		close_entry(e);
		return -1;
	}
	natd_probe_init(&e->probe, e->addrs, e->n_addrs, local, tids, now);
	e->running = true;
	return 0;
}

static void send_all(struct natd_entry *e, int64_t now)
{
	struct natd_send s;
	while (natd_probe_next(&e->probe, now, &s)) {
		if (s.sock >= e->n_socks)
			continue;
		/* A failed send is a lost datagram: the retransmissions and
		 * the time limit deal with it. */
		if (sendto(e->socks[s.sock], s.buf, s.len, 0, &s.to.u.sa, s.to.len) < 0)
			pbx_log_debug("nat-send-failed server=%s error=\"%s\"", e->server,
				      strerror(errno));
	}
	if (natd_probe_done(&e->probe) && e->running) {
		e->running = false;
		close_entry(e);
	}
}

static void receive(struct natd_entry *e, size_t sock, int64_t now)
{
	uint8_t buf[2048];
	for (int k = 0; k < 64 && e->running; k++) {
		struct pbx_addr from;
		struct sockaddr_storage ss;
		socklen_t len = sizeof ss;
		ssize_t n = recvfrom(e->socks[sock], buf, sizeof buf, MSG_TRUNC,
				     (struct sockaddr *)&ss, &len);
		if (n < 0)
			return;
		if (pbx_addr_from_sockaddr(&from, (struct sockaddr *)&ss, len))
			continue;
		/* A datagram longer than the buffer is no answer of ours. */
		natd_probe_input(&e->probe, sock, &from, buf,
				 (size_t)n > sizeof buf ? 0 : (size_t)n, now);
		send_all(e, now);
	}
}

static void evidence(struct natd_entry *e)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	if (!f)
		return;
	if (e->probe.n_members) {
		natd_evidence_json(&e->probe, f);
	} else {
		fputs("{\"mapping\":\"no server to ask\",\"filtering\":\"no server to ask\","
		      "\"hairpinning\":\"no server to ask\",\"rfc3489\":\"no server to ask\","
		      "\"error\":", f);
		natd_json_str(f, e->dns_error);
		fputs(",\"probes\":[]}", f);
	}
	fclose(f);
	e->evidence = text;
}

int natd_round_run(const struct natd_list *list, const atomic_bool *stop,
		   struct natd_round *r)
{
	memset(r, 0, sizeof *r);
	r->at = time(NULL);
	if (list->n == 0)
		return 0;
	r->e = calloc(list->n, sizeof *r->e);
	if (!r->e)
		return -ENOMEM;
	r->n = list->n;
	int64_t now = natd_now_ms();
	for (size_t i = 0; i < r->n; i++) {
		struct natd_entry *e = &r->e[i];
		for (size_t k = 0; k < NATD_MAX_SOCKS; k++)
			e->socks[k] = -1;
		if (start_entry(&list->l[i], e, now))
			pbx_log_warn("nat-server-failed server=%s reason=%s detail=\"%s\"",
				     list->l[i].text,
				     e->n_addrs ? "socket-error" : "dns-error", e->dns_error);
		else
			send_all(e, now);
	}
	for (;;) {
		struct pollfd pfd[NATD_MAX_LOGICAL * NATD_MAX_SOCKS];
		size_t owner[NATD_MAX_LOGICAL * NATD_MAX_SOCKS][2];
		size_t n = 0;
		int64_t wake = -1;
		now = natd_now_ms();
		for (size_t i = 0; i < r->n; i++) {
			struct natd_entry *e = &r->e[i];
			if (!e->running)
				continue;
			int64_t w = natd_probe_wakeup(&e->probe);
			if (w >= 0 && (wake < 0 || w < wake))
				wake = w;
			for (size_t k = 0; k < e->n_socks; k++) {
				pfd[n] = (struct pollfd){ .fd = e->socks[k], .events = POLLIN };
				owner[n][0] = i;
				owner[n][1] = k;
				n++;
			}
		}
		if (n == 0)
			break;
		if (stop && atomic_load(stop)) {
			for (size_t i = 0; i < r->n; i++)
				close_entry(&r->e[i]);
			return -EINTR;
		}
		/* At most 100 ms, so that a stop request is seen soon. */
		int64_t wait = wake < 0 ? 100 : wake - now;
		if (wait > 100)
			wait = 100;
		if (wait < 0)
			wait = 0;
		int rc = poll(pfd, n, (int)wait);
		now = natd_now_ms();
		if (rc < 0 && errno != EINTR) {
			for (size_t i = 0; i < r->n; i++)
				close_entry(&r->e[i]);
			return -errno;
		}
		for (size_t k = 0; rc > 0 && k < n; k++)
			if (pfd[k].revents & (POLLIN | POLLERR))
				receive(&r->e[owner[k][0]], owner[k][1], now);
		for (size_t i = 0; i < r->n; i++)
			if (r->e[i].running)
				send_all(&r->e[i], now);
	}
	for (size_t i = 0; i < r->n; i++)
		evidence(&r->e[i]);
	return 0;
}

void natd_round_free(struct natd_round *r)
{
	for (size_t i = 0; i < r->n; i++) {
		close_entry(&r->e[i]);
		free(r->e[i].evidence);
	}
	free(r->e);
	memset(r, 0, sizeof *r);
}

bool natd_entry_answered(const struct natd_entry *e)
{
	return e->probe.n_members && e->probe.v.answered;
}

void natd_entry_external(const struct natd_entry *e, char *buf, size_t n)
{
	buf[0] = '\0';
	if (natd_entry_answered(e))
		pbx_addr_format_ip(&e->probe.v.mapped, buf, n);
}

void natd_entry_answered_by(const struct natd_entry *e, char *buf, size_t n)
{
	buf[0] = '\0';
	if (natd_entry_answered(e))
		pbx_addr_format(&e->probe.member[e->probe.v.answered_by], buf, n);
}

enum natd_classic natd_entry_classic(const struct natd_entry *e)
{
	return e->probe.n_members ? e->probe.v.classic : NATD_C_UNKNOWN;
}
