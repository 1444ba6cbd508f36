/* cmd_settings.c - rpctl set, unset, get, settings. */
#include <string.h>

#include "ctl.h"

static int cmd_set(struct ctl *c, int argc, char **argv)
{
	(void)argc;
	if (store_setting_set(c->st, argv[0], argv[1], &c->err))
		return ctl_fail_err(c);
	return 0;
}

static int cmd_unset(struct ctl *c, int argc, char **argv)
{
	(void)argc;
	if (store_setting_unset(c->st, argv[0], &c->err))
		return ctl_fail_err(c);
	return 0;
}

static int cmd_get(struct ctl *c, int argc, char **argv)
{
	char value[4096];
	bool def;
	(void)argc;
	if (store_setting_get(c->st, argv[0], value, sizeof value, &def, &c->err))
		return ctl_fail_err(c);
	if (c->json) {
		struct json j;
		json_init(&j, c->out);
		json_obj(&j);
		json_key(&j, "key");
		json_str(&j, argv[0]);
		json_key(&j, "value");
		json_str(&j, value);
		json_key(&j, "default");
		json_bool(&j, def);
		json_end_obj(&j);
		json_done(&j);
	} else {
		fprintf(c->out, "%s\n", value);
	}
	return 0;
}

static const char *type_name(enum store_setting_type t)
{
	switch (t) {
	case STORE_SETTING_INT: return "integer";
	case STORE_SETTING_BOOL: return "boolean";
	case STORE_SETTING_STRING: return "text";
	case STORE_SETTING_PATH: return "path";
	case STORE_SETTING_TLS_PRIORITY: return "tls-priority";
	case STORE_SETTING_STUN_SERVERS: return "stun-servers";
	case STORE_SETTING_ADDRPORT: return "address";
	case STORE_SETTING_ADDRPORTS: return "address-list";
	case STORE_SETTING_CIDRS: return "network-list";
	case STORE_SETTING_ADDR_AUTO: return "address-or-auto";
	}
	return "?";
}

static int cmd_settings(struct ctl *c, int argc, char **argv)
{
	(void)argc;
	(void)argv;
	struct json j;
	json_init(&j, c->out);
	if (c->json)
		json_arr(&j);
	else
		fprintf(c->out, "%-28s %-12s %s\n", "KEY", "VALUE", "DESCRIPTION");
	for (int i = 0; i < STORE_SETTING_COUNT; i++) {
		const struct store_setting_info *in = store_setting_info((enum store_setting)i);
		char value[4096];
		bool def;
		if (store_setting_get(c->st, in->key, value, sizeof value, &def, &c->err))
			return ctl_fail_err(c);
		if (c->json) {
			json_obj(&j);
			json_key(&j, "key");
			json_str(&j, in->key);
			json_key(&j, "value");
			json_str(&j, value);
			json_key(&j, "default");
			json_bool(&j, def);
			json_key(&j, "default_value");
			json_str(&j, in->def);
			json_key(&j, "type");
			json_str(&j, type_name(in->type));
			if (in->type == STORE_SETTING_INT) {
				json_key(&j, "min");
				json_int(&j, in->min);
				json_key(&j, "max");
				json_int(&j, in->max);
			}
			json_key(&j, "unit");
			if (in->unit)
				json_str(&j, in->unit);
			else
				json_null(&j);
			json_key(&j, "description");
			json_str(&j, in->help);
			json_end_obj(&j);
		} else {
			fprintf(c->out, "%-28s %-12s %s%s\n", in->key, *value ? value : "(none)",
				in->help, def ? "" : " [set]");
		}
	}
	if (c->json) {
		json_end_arr(&j);
		json_done(&j);
	}
	return 0;
}

static const struct ctl_cmd cmds[] = {
	{ "set", "KEY VALUE", 2, 2, 0, CTL_IMPORT, cmd_set,
	  "set a setting (validated against its type and range)" },
	{ "unset", "KEY", 1, 1, 0, 0, cmd_unset, "return a setting to its default" },
	{ "get", "KEY", 1, 1, 0, CTL_READ, cmd_get, "print a setting's effective value" },
	{ "settings", NULL, 0, 0, 0, CTL_READ, cmd_settings,
	  "list every setting with its value and meaning ([set]: not the default)" },
};

const struct ctl_group ctl_group_settings = { "Settings", cmds, sizeof cmds / sizeof cmds[0] };
