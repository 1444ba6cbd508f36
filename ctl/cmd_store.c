/* cmd_store.c - rpctl init: create or migrate the store. */
#include <sys/stat.h>

#include "ctl.h"

static int cmd_init(struct ctl *c, int argc, char **argv)
{
	(void)argc;
	(void)argv;
	struct stat sb;
	bool existed = stat(c->db, &sb) == 0;
	int after = 0;
	if (store_open(c->db, STORE_CREATE | STORE_MIGRATE, &c->st, &c->err))
		return ctl_fail_err(c);
	int rc = store_schema_version(c->st, &after, &c->err);
	store_close(c->st);
	c->st = NULL;
	if (rc)
		return ctl_fail_err(c);
	if (c->json) {
		struct json j;
		json_init(&j, c->out);
		json_obj(&j);
		json_key(&j, "path");
		json_str(&j, c->db);
		json_key(&j, "created");
		json_bool(&j, !existed);
		json_key(&j, "schema");
		json_int(&j, after);
		json_end_obj(&j);
		json_done(&j);
	} else {
		fprintf(c->out, "%s store %s (schema %d)\n", existed ? "ready:" : "created:",
			c->db, after);
	}
	return 0;
}

static const struct ctl_cmd cmds[] = {
	{ "init", NULL, 0, 0, 0, CTL_NO_STORE, cmd_init,
	  "create the store, or migrate it to this version's schema (safe to repeat)" },
};

const struct ctl_group ctl_group_store = { "Store", cmds, sizeof cmds / sizeof cmds[0] };
