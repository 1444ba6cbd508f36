/* cmd_listen.c - rpctl listen: which service types rpd serves, where. */
#include <string.h>

#include "ctl.h"

static int cmd_listen(struct ctl *c, int argc, char **argv)
{
	enum store_proto proto;
	uint32_t port;
	(void)argc;
	if (store_proto_parse(argv[0], &proto, &c->err))
		return ctl_fail_err(c);
	if (strcmp(argv[1], "off") == 0) {
		if (c->o.given & OPT_ADDR)
			return ctl_fail(c, "--addr does not go with 'off'");
		if (store_listen_off(c->st, proto, &c->err))
			return ctl_fail_err(c);
		return 0;
	}
	if (ctl_port(c, "port", argv[1], &port))
		return 1;
	if (store_listen_set(c->st, proto, port, c->o.addr, &c->err))
		return ctl_fail_err(c);
	return 0;
}

static int cmd_listen_list(struct ctl *c, int argc, char **argv)
{
	(void)argc;
	(void)argv;
	return ctl_print_query(c, STORE_Q_LISTENERS, NULL);
}

static const struct ctl_cmd cmds[] = {
	{ "listen", "PROTO PORT|off", 2, 2, OPT_ADDR, CTL_IMPORT, cmd_listen,
	  "serve PROTO (http https sip sips h323 h323s ldap ldaps) on PORT, "
	  "on ADDR only if given; 'off' stops serving it" },
	{ "listen list", NULL, 0, 0, 0, CTL_READ, cmd_listen_list,
	  "list the service types served, with port and address" },
};

const struct ctl_group ctl_group_listen = { "Service types", cmds, sizeof cmds / sizeof cmds[0] };
