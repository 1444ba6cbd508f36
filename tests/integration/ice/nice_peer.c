/* nice_peer.c - one libnice ICE agent (RFC 8445) behind the ICE test line
 * protocol: once gathering is done it prints its RFC 8839 attribute block
 * (a=ice-ufrag, a=ice-pwd, a=candidate lines, a=end-of-candidates) on
 * stdout, reads the peer's block from stdin and runs the checks.  The
 * controlling side sends "hello over ICE" every 100 ms until the echo comes
 * back; the controlled side echoes what it receives, holding data that
 * arrives before its component is READY (libnice cannot send before then).
 * Progress goes to stderr as "TAG state ...", "TAG selected TYPE A:P ->
 * TYPE A:P", "TAG Conclusion SUCCESS|FAILED".
 *
 * Exit status: 0 echo received (controlling) or sent (controlled); 1 ICE
 * failed; 2 timeout; 3 usage or set-up; 4 the peer went away (stdin closed
 * before its block ended, or before the controlled side echoed).
 *
 * A test peer, not part of pbxedge: built by the tests with the system
 * compiler against libnice 0.1.x and GLib. */
#include <agent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define HELLO "hello over ICE"

static GMainLoop *loop;
static NiceAgent *agent;
static guint sid;
static gboolean controlling, done_remote, ready, echoed;
static GString *remote;
static GPtrArray *held; /* data received before READY (controlled side) */
static guint hello_timer, linger_timer, in_watch, limit_timer;
static int rc = 2;
static const char *tag = "N";

static const char *ctype(NiceCandidateType t)
{
	switch (t) {
	case NICE_CANDIDATE_TYPE_HOST: return "host";
	case NICE_CANDIDATE_TYPE_SERVER_REFLEXIVE: return "srflx";
	case NICE_CANDIDATE_TYPE_PEER_REFLEXIVE: return "prflx";
	case NICE_CANDIDATE_TYPE_RELAYED: return "relay";
	default: return "?";
	}
}

static void finish(int code)
{
	rc = code;
	g_main_loop_quit(loop);
}

static void on_gathered(NiceAgent *a, guint stream, gpointer d)
{
	(void)d;
	gchar *sdp = nice_agent_generate_local_stream_sdp(a, stream, FALSE);
	fprintf(stderr, "%s gathering done\n", tag);
	printf("%sa=end-of-candidates\n", sdp);
	fflush(stdout);
	g_free(sdp);
}

static gboolean send_hello(gpointer d)
{
	(void)d;
	nice_agent_send(agent, sid, 1, sizeof HELLO - 1, HELLO);
	return G_SOURCE_CONTINUE;
}

/* The controlled side leaves a second after its last echo: the controlling
 * side repeats its hello until one echo arrives, so more may follow. */
static gboolean linger_done(gpointer d)
{
	(void)d;
	linger_timer = 0;
	finish(0);
	return G_SOURCE_REMOVE;
}

static void echo(const gchar *buf, guint len)
{
	if (nice_agent_send(agent, sid, 1, len, buf) != (gint)len) {
		fprintf(stderr, "%s echo not sent\n", tag);
		return;
	}
	if (!echoed)
		fprintf(stderr, "%s echoed\n", tag);
	echoed = TRUE;
	if (linger_timer)
		g_source_remove(linger_timer);
	linger_timer = g_timeout_add(1000, linger_done, NULL);
}

static void print_selected(NiceAgent *a, guint s, guint c)
{
	NiceCandidate *l = NULL, *r = NULL;
	if (!nice_agent_get_selected_pair(a, s, c, &l, &r))
		return;
	gchar la[NICE_ADDRESS_STRING_LEN], ra[NICE_ADDRESS_STRING_LEN];
	nice_address_to_string(&l->addr, la);
	nice_address_to_string(&r->addr, ra);
	fprintf(stderr, "%s selected %s %s:%u -> %s %s:%u\n", tag, ctype(l->type), la,
		nice_address_get_port(&l->addr), ctype(r->type), ra,
		nice_address_get_port(&r->addr));
}

static void on_state(NiceAgent *a, guint s, guint c, guint state, gpointer d)
{
	(void)d;
	fprintf(stderr, "%s state %s\n", tag, nice_component_state_to_string(state));
	if (state == NICE_COMPONENT_STATE_READY && !ready) {
		ready = TRUE;
		print_selected(a, s, c);
		if (controlling) {
			send_hello(NULL);
			hello_timer = g_timeout_add(100, send_hello, NULL);
		}
		for (guint i = 0; i < held->len; i++) {
			GBytes *b = g_ptr_array_index(held, i);
			gsize n;
			const gchar *p = g_bytes_get_data(b, &n);
			echo(p, (guint)n);
		}
		g_ptr_array_set_size(held, 0);
	} else if (state == NICE_COMPONENT_STATE_FAILED) {
		fprintf(stderr, "%s Conclusion FAILED\n", tag);
		finish(1);
	}
}

static void on_recv(NiceAgent *a, guint s, guint c, guint len, gchar *buf, gpointer d)
{
	(void)a, (void)s, (void)c, (void)d;
	fprintf(stderr, "%s received: %.*s\n", tag, (int)len, buf);
	if (controlling) {
		if (rc == 0)
			return;
		fprintf(stderr, "%s Conclusion SUCCESS\n", tag);
		finish(0);
	} else if (!ready) {
		g_ptr_array_add(held, g_bytes_new(buf, len));
	} else {
		echo(buf, len);
	}
}

static void take_remote(void)
{
	gchar *uf = NULL, *pw = NULL;
	GSList *cands = nice_agent_parse_remote_stream_sdp(agent, sid, remote->str, &uf, &pw);
	done_remote = TRUE;
	if (!uf || !pw) {
		fprintf(stderr, "%s bad remote block\n", tag);
		finish(3);
	} else {
		nice_agent_set_remote_credentials(agent, sid, uf, pw);
		int k = cands ? nice_agent_set_remote_candidates(agent, sid, 1, cands) : 0;
		nice_agent_peer_candidate_gathering_done(agent, sid);
		fprintf(stderr, "%s remote candidates: %d\n", tag, k);
	}
	g_slist_free_full(cands, (GDestroyNotify)nice_candidate_free);
	g_free(uf);
	g_free(pw);
}

static gboolean on_stdin(GIOChannel *ch, GIOCondition cond, gpointer d)
{
	(void)cond, (void)d;
	gchar *line = NULL;
	gsize n;
	GIOStatus st = g_io_channel_read_line(ch, &line, &n, NULL, NULL);
	if (st == G_IO_STATUS_NORMAL && line) {
		if (!done_remote) {
			g_string_append(remote, line);
			if (g_str_has_prefix(line, "a=end-of-candidates"))
				take_remote();
		}
		g_free(line);
		return G_SOURCE_CONTINUE;
	}
	g_free(line);
	if (st == G_IO_STATUS_AGAIN)
		return G_SOURCE_CONTINUE;
	/* End of input: the other side is gone.  A controlled side that has
	 * echoed is done; anything else was aborted. */
	if (!controlling && echoed) {
		finish(0);
	} else if (rc != 0) {
		fprintf(stderr, "%s Conclusion ABORTED (peer went away)\n", tag);
		finish(4);
	}
	in_watch = 0;
	return G_SOURCE_REMOVE;
}

static gboolean on_timeout(gpointer d)
{
	(void)d;
	fprintf(stderr, "%s timeout\n", tag);
	limit_timer = 0;
	finish(2);
	return G_SOURCE_REMOVE;
}

static void closed_cb(GObject *src, GAsyncResult *res, gpointer d)
{
	(void)src, (void)res, (void)d;
	g_main_loop_quit(loop);
}

static gboolean close_timeout(gpointer d)
{
	(void)d;
	fprintf(stderr, "%s close timed out\n", tag);
	g_main_loop_quit(loop);
	return G_SOURCE_REMOVE;
}

/* "host:port", "[v6]:port" or a bare host (port 3478). */
static void split_hostport(const char *s, gchar **host, guint *port)
{
	const char *colon = strrchr(s, ':');
	*port = 3478;
	if (s[0] == '[') {
		const char *end = strchr(s, ']');
		*host = g_strndup(s + 1, end ? (gsize)(end - s - 1) : strlen(s + 1));
		if (end && end[1] == ':')
			*port = (guint)atoi(end + 2);
	} else if (colon && strchr(s, ':') == colon) {
		*host = g_strndup(s, (gsize)(colon - s));
		*port = (guint)atoi(colon + 1);
	} else {
		*host = g_strdup(s);
	}
}

static int usage(const char *argv0)
{
	fprintf(stderr,
		"usage: %s [--controlling] [--stun H:P] [--turn H:P --user U --pass P "
		"[--turn-tcp|--turn-tls]] [--relay-only] [--local ADDR]... [--tag T] [--timeout S]\n",
		argv0);
	return 3;
}

int main(int argc, char **argv)
{
	const char *turn = NULL, *user = "", *pass = "", *stun = NULL;
	const char *local[4] = { "127.0.0.1" }; /* --local again adds one */
	int n_local = 0;
	gboolean relay_only = FALSE, turn_tcp = FALSE, turn_tls = FALSE;
	int timeout_s = 20;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--controlling"))
			controlling = TRUE;
		else if (!strcmp(argv[i], "--relay-only"))
			relay_only = TRUE;
		else if (!strcmp(argv[i], "--turn-tcp"))
			turn_tcp = TRUE;
		else if (!strcmp(argv[i], "--turn-tls"))
			turn_tls = TRUE;
		else if (!strcmp(argv[i], "--turn") && i + 1 < argc)
			turn = argv[++i];
		else if (!strcmp(argv[i], "--stun") && i + 1 < argc)
			stun = argv[++i];
		else if (!strcmp(argv[i], "--user") && i + 1 < argc)
			user = argv[++i];
		else if (!strcmp(argv[i], "--pass") && i + 1 < argc)
			pass = argv[++i];
		else if (!strcmp(argv[i], "--local") && i + 1 < argc && n_local < 4)
			local[n_local++] = argv[++i];
		else if (!strcmp(argv[i], "--tag") && i + 1 < argc)
			tag = argv[++i];
		else if (!strcmp(argv[i], "--timeout") && i + 1 < argc)
			timeout_s = atoi(argv[++i]);
		else
			return usage(argv[0]);
	}
	if (timeout_s <= 0)
		return usage(argv[0]);
	loop = g_main_loop_new(NULL, FALSE);
	remote = g_string_new(NULL);
	held = g_ptr_array_new_with_free_func((GDestroyNotify)g_bytes_unref);
	agent = nice_agent_new(g_main_loop_get_context(loop), NICE_COMPATIBILITY_RFC5245);
	g_object_set(agent, "controlling-mode", controlling, "upnp", FALSE, "force-relay",
		     relay_only, "ice-tcp", FALSE, NULL);
	for (int i = 0; i < (n_local ? n_local : 1); i++) {
		NiceAddress la;
		if (!nice_address_set_from_string(&la, local[i]))
			return usage(argv[0]);
		nice_agent_add_local_address(agent, &la);
	}
	if (stun) {
		gchar *h;
		guint p;
		split_hostport(stun, &h, &p);
		g_object_set(agent, "stun-server", h, "stun-server-port", p, NULL);
		g_free(h);
	}
	g_signal_connect(agent, "candidate-gathering-done", G_CALLBACK(on_gathered), NULL);
	g_signal_connect(agent, "component-state-changed", G_CALLBACK(on_state), NULL);
	sid = nice_agent_add_stream(agent, 1);
	if (turn) {
		gchar *h;
		guint p;
		split_hostport(turn, &h, &p);
		nice_agent_set_relay_info(agent, sid, 1, h, p, user, pass,
					  turn_tls   ? NICE_RELAY_TYPE_TURN_TLS
					  : turn_tcp ? NICE_RELAY_TYPE_TURN_TCP
						     : NICE_RELAY_TYPE_TURN_UDP);
		g_free(h);
	}
	nice_agent_attach_recv(agent, sid, 1, g_main_loop_get_context(loop), on_recv, NULL);
	GIOChannel *in = g_io_channel_unix_new(0);
	in_watch = g_io_add_watch(in, G_IO_IN | G_IO_HUP, on_stdin, NULL);
	limit_timer = g_timeout_add_seconds((guint)timeout_s, on_timeout, NULL);
	if (!nice_agent_gather_candidates(agent, sid)) {
		fprintf(stderr, "%s gather failed\n", tag);
		return 3;
	}
	g_main_loop_run(loop);
	if (hello_timer)
		g_source_remove(hello_timer);
	if (linger_timer)
		g_source_remove(linger_timer);
	if (limit_timer)
		g_source_remove(limit_timer);
	if (in_watch)
		g_source_remove(in_watch);
	/* Releases the TURN allocations (Refresh with LIFETIME 0); bounded. */
	nice_agent_close_async(agent, closed_cb, NULL);
	guint bound = g_timeout_add(3000, close_timeout, NULL);
	g_main_loop_run(loop);
	g_source_remove(bound);
	g_io_channel_unref(in);
	g_object_unref(agent);
	g_main_loop_unref(loop);
	g_ptr_array_unref(held);
	g_string_free(remote, TRUE);
	return rc;
}
