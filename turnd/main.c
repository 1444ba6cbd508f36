/* main.c - turnd, the TURN server: runs on the shared daemon skeleton, which loads
 * the store, follows its changes and reports status. */
#include <pbxedge/daemon.h>

static const struct pbx_daemon_def turnd_def = {
	.name = "turnd",
	.summary = "pbxedge TURN server (RFC 8656) for phones and browsers.",
	.max_workers = 1,
};

int main(int argc, char **argv)
{
	return pbx_daemon_main(&turnd_def, argc, argv);
}
