/* cmd_access.c - rpctl blacklist and whitelist. */
#include "ctl.h"

#define MAX_MINUTES 5256000u /* ten years */

static int cmd_bl_list(struct ctl *c, int argc, char **argv)
{
	(void)argc;
	(void)argv;
	return ctl_print_query(c, STORE_Q_BLACKLIST, NULL);
}

static int cmd_wl_list(struct ctl *c, int argc, char **argv)
{
	(void)argc;
	(void)argv;
	return ctl_print_query(c, STORE_Q_WHITELIST, NULL);
}

static int cmd_bl_add(struct ctl *c, int argc, char **argv)
{
	int64_t expires = 0, now = store_now();
	(void)argc;
	if (c->o.minutes && c->o.until)
		return ctl_fail(c, "give --minutes or --until, not both");
	if (c->o.minutes) {
		uint32_t m;
		if (pbx_span_to_u32(pbx_span_cstr(c->o.minutes), MAX_MINUTES, &m) || m == 0)
			return ctl_fail(c, "--minutes '%s' is not a number of minutes (1-%u)",
					c->o.minutes, MAX_MINUTES);
		expires = now + 60 * (int64_t)m;
	}
	if (c->o.until) {
		if (ctl_parse_time(c->o.until, &expires))
			return ctl_fail(c, "--until '%s' is not a time like 2026-12-31T23:59:59Z (UTC)",
					c->o.until);
		if (expires <= now && c->importing) {
			/* An old export: the entry has run out since. */
			fprintf(stderr, "rpctl import: note: blacklist entry %s expired at %s; "
				"not imported\n", argv[0], c->o.until);
			return 0;
		}
	}
	if (store_access_add(c->st, STORE_BLACKLIST, argv[0], expires, false,
			     c->o.reason ? c->o.reason : "", &c->err))
		return ctl_fail_err(c);
	return 0;
}

static int cmd_wl_add(struct ctl *c, int argc, char **argv)
{
	(void)argc;
	if (store_access_add(c->st, STORE_WHITELIST, argv[0], 0, false,
			     c->o.reason ? c->o.reason : "", &c->err))
		return ctl_fail_err(c);
	return 0;
}

static int cmd_bl_del(struct ctl *c, int argc, char **argv)
{
	(void)argc;
	return store_access_del(c->st, STORE_BLACKLIST, argv[0], &c->err) ? ctl_fail_err(c) : 0;
}

static int cmd_wl_del(struct ctl *c, int argc, char **argv)
{
	(void)argc;
	return store_access_del(c->st, STORE_WHITELIST, argv[0], &c->err) ? ctl_fail_err(c) : 0;
}

static int cmd_bl_promote(struct ctl *c, int argc, char **argv)
{
	(void)argc;
	return store_blacklist_promote(c->st, argv[0], &c->err) ? ctl_fail_err(c) : 0;
}

static const struct ctl_cmd cmds[] = {
	{ "blacklist list", NULL, 0, 0, 0, CTL_READ, cmd_bl_list,
	  "list active blacklist entries (manual and automatic)" },
	{ "blacklist add", "ADDR", 1, 1, OPT_MINUTES | OPT_UNTIL | OPT_REASON, CTL_IMPORT,
	  cmd_bl_add,
	  "block a host or network (CIDR) for N minutes, until a UTC time, or for good; "
	  "replaces an earlier entry for it" },
	{ "blacklist del", "ADDR", 1, 1, 0, 0, cmd_bl_del, "remove a blacklist entry" },
	{ "blacklist promote", "ADDR", 1, 1, 0, 0, cmd_bl_promote,
	  "turn a blacklist entry into a whitelist entry" },
	{ "whitelist list", NULL, 0, 0, 0, CTL_READ, cmd_wl_list, "list whitelist entries" },
	{ "whitelist add", "ADDR", 1, 1, OPT_REASON, CTL_IMPORT, cmd_wl_add,
	  "never block a host or network (CIDR), however suspicious its requests" },
	{ "whitelist del", "ADDR", 1, 1, 0, 0, cmd_wl_del, "remove a whitelist entry" },
};

const struct ctl_group ctl_group_access = { "Blacklist and whitelist", cmds,
					    sizeof cmds / sizeof cmds[0] };
