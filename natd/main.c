/* main.c - natd, NAT discovery: runs on the shared daemon skeleton, which loads
 * the store, follows its changes and reports status. */
#include <pbxedge/daemon.h>

static const struct pbx_daemon_def natd_def = {
	.name = "natd",
	.summary = "pbxedge NAT discovery: this site's external address and NAT type.",
	.max_workers = 1,
};

int main(int argc, char **argv)
{
	return pbx_daemon_main(&natd_def, argc, argv);
}
