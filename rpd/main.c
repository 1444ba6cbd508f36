/* main.c - rpd, the reverse proxy: one TCP listener per configured service
 * type, connections checked against the blacklist as they are accepted. */
#include <event2/listener.h>
#include <stdlib.h>
#include <unistd.h>

#include <pbxedge/daemon.h>
#include <pbxedge/log.h>

#include "route.h"

enum rpd_counter {
	C_ACCEPTED,
	C_BLACKLISTED,
	C_REFUSED,
	C_COUNT
};

static const char *const counters[C_COUNT] = {
	[C_ACCEPTED] = "connections-accepted",
	[C_BLACKLISTED] = "connections-blacklisted",
	[C_REFUSED] = "connections-refused",
};

struct rpd_listener {
	struct pbx_worker *w;
	struct evconnlistener *l;
	enum store_proto proto;
};

static size_t rpd_listeners(const struct store_snapshot *snap, struct pbx_listen_spec *specs)
{
	size_t n = 0;
	for (int p = 0; p < STORE_PROTO_COUNT; p++) {
		if (!snap->listener[p].on)
			continue;
		struct pbx_listen_spec *s = &specs[n++];
		snprintf(s->key, sizeof s->key, "%s", store_proto_name((enum store_proto)p));
		s->kind = PBX_SOCK_TCP;
		s->addr = snap->listener[p].addr;
		s->tag = p;
	}
	return n;
}

static void on_accept(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa,
		      int len, void *arg)
{
	struct rpd_listener *rl = arg;
	struct pbx_addr peer;
	char text[PBX_ADDRSTRLEN] = "?";
	(void)l;
	pbx_worker_count(rl->w, C_ACCEPTED, 1);
	if (pbx_addr_from_sockaddr(&peer, sa, (socklen_t)len) == 0) {
		pbx_addr_unmap(&peer, &peer);
		pbx_addr_format(&peer, text, sizeof text);
		if (store_snapshot_blacklisted(pbx_worker_snapshot(rl->w), &peer, store_now())) {
			pbx_worker_count(rl->w, C_BLACKLISTED, 1);
			pbx_log_debug("connection-dropped service=%s client=%s reason=blacklisted",
				      store_proto_name(rl->proto), text);
			close(fd);
			return;
		}
	}
	/* No protocol inspector is wired to the listeners yet: every
	 * connection is closed at once, and says so. */
	pbx_worker_count(rl->w, C_REFUSED, 1);
	pbx_log_info("connection-refused service=%s client=%s reason=no-inspector",
		     store_proto_name(rl->proto), text);
	close(fd);
}

static void *rpd_socket_open(struct pbx_worker *w, const struct pbx_listen_spec *spec, int fd)
{
	struct rpd_listener *rl = calloc(1, sizeof *rl);
	if (!rl) {
		close(fd);
		return NULL;
	}
	rl->w = w;
	rl->proto = (enum store_proto)spec->tag;
	rl->l = evconnlistener_new(pbx_worker_base(w), on_accept, rl,
				   LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC, -1, fd);
	if (!rl->l) {
		pbx_log_error("listener-failed service=%s reason=event-setup-failed", spec->key);
		close(fd);
		free(rl);
		return NULL;
	}
	return rl;
}

static void rpd_socket_close(struct pbx_worker *w, void *handle)
{
	struct rpd_listener *rl = handle;
	(void)w;
	evconnlistener_free(rl->l);
	free(rl);
}

static const struct pbx_daemon_def rpd_def = {
	.name = "rpd",
	.summary = "pbxedge reverse proxy for HTTP(S), SIP(S), H.323(/TLS) and LDAP(S).",
	.counters = counters,
	.n_counters = C_COUNT,
	.listeners = rpd_listeners,
	.check = route_check,
	.socket_open = rpd_socket_open,
	.socket_close = rpd_socket_close,
};

int main(int argc, char **argv)
{
	return pbx_daemon_main(&rpd_def, argc, argv);
}
