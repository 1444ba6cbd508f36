/* main.c - stund, the STUN server: runs on the shared daemon skeleton, which loads
 * the store, follows its changes and reports status. */
#include <pbxedge/daemon.h>

static const struct pbx_daemon_def stund_def = {
	.name = "stund",
	.summary = "pbxedge STUN server (RFC 8489, RFC 5780 NAT behaviour discovery).",
	.max_workers = 1,
};

int main(int argc, char **argv)
{
	return pbx_daemon_main(&stund_def, argc, argv);
}
