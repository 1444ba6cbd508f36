/* main.c - rpd, the reverse proxy for HTTP(S), SIP(S) and LDAP(S): one TCP
 * listener per configured service type whose family has an inspector;
 * every accepted connection goes to conn.c. */
#include <event2/listener.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <pbxedge/daemon.h>
#include <pbxedge/log.h>

#include "conn.h"
#include "ctx.h"
#include "route.h"

struct rpd_listener {
	struct pbx_worker *w;
	struct evconnlistener *l;
	enum store_proto proto;
};

static size_t rpd_listeners(const struct store_snapshot *snap, struct pbx_listen_spec *specs)
{
	size_t n = 0;
	for (int p = 0; p < STORE_PROTO_COUNT; p++) {
		if (!snap->listener[p].on || !pbx_inspector_for(store_proto_family(p)))
			continue;
		struct pbx_listen_spec *s = &specs[n++];
		snprintf(s->key, sizeof s->key, "%s", store_proto_name((enum store_proto)p));
		s->kind = PBX_SOCK_TCP;
		s->addr = snap->listener[p].addr;
		s->tag = p;
	}
	return n;
}

static struct rpd_worker *worker_state(struct pbx_worker *w)
{
	struct rpd_worker *rw = pbx_worker_data(w);
	if (!rw && (rw = calloc(1, sizeof *rw))) {
		rw->w = w;
		pbx_worker_set_data(w, rw);
	}
	return rw;
}

static void on_accept(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa,
		      int len, void *arg)
{
	struct rpd_listener *rl = arg;
	struct pbx_addr peer;
	struct rpd_worker *rw = worker_state(rl->w);
	(void)l;
	if (!rw || pbx_addr_from_sockaddr(&peer, sa, (socklen_t)len)) {
		close(fd);
		return;
	}
	pbx_addr_unmap(&peer, &peer);
	conn_accept(rw, rl->proto, fd, &peer);
}

static void *rpd_socket_open(struct pbx_worker *w, const struct pbx_listen_spec *spec, int fd)
{
	struct rpd_listener *rl = calloc(1, sizeof *rl);
	if (!rl || !worker_state(w)) {
		free(rl);
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

static void rpd_worker_stop(struct pbx_worker *w)
{
	struct rpd_worker *rw = pbx_worker_data(w);
	if (!rw)
		return;
	conn_close_all(rw);
	pool_free(&rw->pool);
	free(rw);
	pbx_worker_set_data(w, NULL);
}

int main(int argc, char **argv)
{
	/* Counter names: fixed ones, then one per refusal reason. */
	static char refused[PBX_R_COUNT][48];
	static const char *counters[C_COUNT] = {
		[C_ACCEPTED] = "connections-accepted",
		[C_BLACKLISTED] = "connections-blacklisted",
		[C_ROUTED] = "connections-routed",
		[C_REQUESTS] = "requests-routed",
		[C_SUSPICIOUS] = "suspicious",
		[C_BLACKLIST_ADDED] = "blacklist-added",
		[C_BYTES_UP] = "bytes-up",
		[C_BYTES_DOWN] = "bytes-down",
	};
	for (int r = 0; r < PBX_R_COUNT; r++) {
		if (r == PBX_R_NONE)
			continue; /* no counter: nothing is refused for no reason */
		snprintf(refused[r], sizeof refused[r], "refused-%s", pbx_reason_name(r));
		counters[C_REFUSED_BASE + r] = refused[r];
	}
	static const struct pbx_daemon_def rpd_def = {
		.name = "rpd",
		.summary = "pbxedge reverse proxy for HTTP(S), SIP(S) and LDAP(S).",
		.counters = counters,
		.n_counters = C_COUNT,
		.listeners = rpd_listeners,
		.check = route_check,
		.socket_open = rpd_socket_open,
		.socket_close = rpd_socket_close,
		.prepare = ctx_prepare,
		.ctx_ref = ctx_ref,
		.ctx_unref = ctx_unref,
		.worker_stop = rpd_worker_stop,
	};
	return pbx_daemon_main(&rpd_def, argc, argv);
}
