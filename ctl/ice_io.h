/* ice_io.h - the sockets, streams and clock behind a struct ice_gather:
 * UDP host sockets (IP_RECVERR feeds ICMP errors to the gatherer), the
 * TCP, TLS (lib/tls) and UDP streams it asks for, and a poll() loop on
 * ice_gather_deadline.  Shared by the modes of rpctl ice-test. */
#ifndef RPCTL_ICE_IO_H
#define RPCTL_ICE_IO_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include <pbxedge/ice.h>
#include <pbxedge/tls.h>

struct ice_io_stream {
	int fd;                   /* -1: none */
	uint8_t transport;        /* enum stun_uri_transport */
	size_t server;            /* the server's index (TLS name) */
	int family;               /* AF_INET or AF_INET6 */
	bool connecting;          /* TCP connect in progress */
	bool handshaking;         /* TLS handshake in progress */
	struct pbx_tls *tls;
	uint8_t *wbuf;            /* bytes not written yet */
	size_t wlen;
};

struct ice_io {
	struct ice_gather *g;
	int host_fd[ICE_GATHER_HOSTS_MAX]; /* host socket id = index */
	size_t n_hosts;
	struct ice_io_stream st[ICE_GATHER_RELAYS_MAX];
	struct pbx_tls_creds *tls;  /* for TLS streams; NULL: none made */
	const char *sni;            /* TLS name; NULL: the server's URI host */
	const struct ice_gather_server *servers; /* for the URI host */
	int64_t t0;                 /* CLOCK_MONOTONIC ms at start */
	FILE *verbose;              /* transient events, or NULL */
	char tag[4];                /* before each verbose line ("A "), or "" */
	/* Packets that are not the gatherer's: on host socket i (sock = i),
	 * or relayed by TURN client r (sock = ICE_IO_RELAY_SOCK(r), from =
	 * the peer); NULL drops them. */
	void (*on_packet)(void *arg, int sock, const struct pbx_addr *from, const uint8_t *p,
			  size_t len);
	void *arg;
	/* An ICMP error (IP_RECVERR) for a datagram host socket sock sent
	 * to `to`, after the gatherer has had it; NULL: none. */
	void (*on_icmp)(void *arg, int sock, const struct pbx_addr *to, uint8_t type,
			uint8_t code);
	int extra_fd;               /* also polled for input, -1: none */
	bool extra_ready;           /* extra_fd was readable (caller clears) */
	bool releasing;
	int64_t release_end;
	uint8_t buf[ICE_GATHER_PACKET_MAX];
};

/* The socket id of TURN client r's relay, as on_packet and
 * ice_io_send name it. */
#define ICE_IO_RELAY_BASE 64
#define ICE_IO_RELAY_SOCK(r) (ICE_IO_RELAY_BASE + (r))

/* Milliseconds of CLOCK_MONOTONIC. */
int64_t ice_io_clock(void);

/* ice_io_bind_host - a UDP socket bound to addr (port 0 is chosen by the
 * kernel; addr gets it), non-blocking, with IP_RECVERR / IPV6_RECVERR.
 * Returns the descriptor or a negative errno. */
int ice_io_bind_host(struct pbx_addr *addr);

/* ice_io_init - io for gatherer g, over the host sockets fds (n, index =
 * socket id, owned by io from now on).  tls may be NULL (TLS streams then
 * fail as handshake failures). */
void ice_io_init(struct ice_io *io, struct ice_gather *g, const int *fds, size_t n,
		 struct pbx_tls_creds *tls, const char *sni,
		 const struct ice_gather_server *servers);

/* ice_io_run - start the gatherer and run it until it is done, then
 * release every allocation and close every stream.  Stops early (and
 * still releases) when *stop becomes non-zero or at limit_ms (ms since
 * start; < 0: none); *aborted then says so.  Returns 0 or a negative
 * error of the gatherer. */
int ice_io_run(struct ice_io *io, volatile sig_atomic_t *stop, int64_t limit_ms,
	       bool *aborted);

/* ice_io_start - start the gatherer (the time base: ice_io_now). */
int ice_io_start(struct ice_io *io);

/* ice_io_now - ms since ice_io_start. */
int64_t ice_io_now(const struct ice_io *io);

/* ice_io_step - carry out what the gatherer asks, wait for input until
 * until_ms at most (ms since start; sooner when the gatherer is due),
 * feed what came, and carry out what it asks again.  Returns 0 or a
 * negative error of the gatherer. */
int ice_io_step(struct ice_io *io, int64_t until_ms);

/* ice_io_step_many - ice_io_step for n (at most ICE_IO_MANY_MAX) ios
 * driven together, one poll() over all their descriptors; until_ms and
 * the gatherers' deadlines are on ios[0]'s clock.  Returns 0, -EINVAL or
 * a negative error of a gatherer. */
#define ICE_IO_MANY_MAX 2
int ice_io_step_many(struct ice_io *const *ios, size_t n, int64_t until_ms);

/* ice_io_send - len bytes to `to` from socket sock: a host socket, or a
 * relay (ICE_IO_RELAY_SOCK): asks the TURN client for a permission to
 * to's address (once) and sends through it.  Returns 0 or a negative
 * error (no such socket, the relay not allocated). */
int ice_io_send(struct ice_io *io, int sock, const struct pbx_addr *to, const void *p,
		size_t len);

/* ice_io_release - release every allocation (within
 * ICE_GATHER_RELEASE_MS) and close every socket and stream. */
void ice_io_release(struct ice_io *io);

/* ice_io_close - close every socket and stream (every exit path). */
void ice_io_close(struct ice_io *io);

#endif
