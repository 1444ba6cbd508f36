/* cmd_name.c - rpctl name, target, allow-ip and allow-url: service names,
 * where their requests go, and who may reach them. */
#include <string.h>

#include "ctl.h"

static int cmd_name_add(struct ctl *c, int argc, char **argv)
{
	(void)argc;
	return store_name_add(c->st, argv[0], &c->err) ? ctl_fail_err(c) : 0;
}

static int cmd_name_del(struct ctl *c, int argc, char **argv)
{
	(void)argc;
	return store_name_del(c->st, argv[0], &c->err) ? ctl_fail_err(c) : 0;
}

static int cmd_name_list(struct ctl *c, int argc, char **argv)
{
	(void)argc;
	(void)argv;
	return ctl_print_query(c, STORE_Q_NAMES, NULL);
}

/* name show, text form: one line per target, network and URL. */
static int show_row(void *arg, const struct store_col *cols, int ncols)
{
	struct ctl *c = arg;
	if (ncols == 6) { /* target */
		fprintf(c->out, "  target    %-5s %s", cols[1].s, cols[2].s);
		if (cols[3].type == STORE_COL_INT)
			fprintf(c->out, " plain %lld", (long long)cols[3].i);
		if (cols[4].type == STORE_COL_INT)
			fprintf(c->out, " tls %lld", (long long)cols[4].i);
		fprintf(c->out, "%s\n", cols[5].i ? " check-cert" : "");
	} else if (ncols == 3) {
		fprintf(c->out, "  allow-ip  %-5s %s\n", cols[1].s, cols[2].s);
	} else if (ncols == 2) {
		fprintf(c->out, "  allow-url %s\n", cols[1].s);
	}
	return 0;
}

/* name show, JSON form: each row an object without the name column. */
static int show_json_row(void *arg, const struct store_col *cols, int ncols)
{
	struct json *j = arg;
	json_obj(j);
	for (int i = 1; i < ncols; i++) {
		json_key(j, cols[i].name);
		if (strcmp(cols[i].name, "check_cert") == 0)
			json_bool(j, cols[i].i != 0);
		else
			json_col(j, &cols[i]);
	}
	json_end_obj(j);
	return 0;
}

static int stored_name(void *arg, const struct store_col *cols, int ncols)
{
	(void)ncols;
	snprintf(arg, 256, "%s", cols[0].s);
	return 0;
}

static int cmd_name_show(struct ctl *c, int argc, char **argv)
{
	static const struct { const char *key; enum store_query q; } parts[] = {
		{ "targets", STORE_Q_TARGETS },
		{ "allow_ip", STORE_Q_ALLOW_IP },
		{ "allow_url", STORE_Q_ALLOW_URL },
	};
	char name[256] = "";
	(void)argc;
	/* The name as stored, whatever case it was asked for in. */
	if (store_name_exists(c->st, argv[0], &c->err) ||
	    store_query(c->st, STORE_Q_NAMES, argv[0], stored_name, name, &c->err))
		return ctl_fail_err(c);
	struct json j;
	json_init(&j, c->out);
	if (c->json) {
		json_obj(&j);
		json_key(&j, "name");
		json_str(&j, name);
	} else {
		fprintf(c->out, "name %s\n", name);
	}
	for (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++) {
		int rc;
		if (c->json) {
			json_key(&j, parts[i].key);
			json_arr(&j);
			rc = store_query(c->st, parts[i].q, argv[0], show_json_row, &j, &c->err);
			json_end_arr(&j);
		} else {
			rc = store_query(c->st, parts[i].q, argv[0], show_row, c, &c->err);
		}
		if (rc)
			return ctl_fail_err(c);
	}
	if (c->json) {
		json_end_obj(&j);
		json_done(&j);
	}
	return 0;
}

static int cmd_target(struct ctl *c, int argc, char **argv)
{
	enum store_family f;
	struct store_target_spec spec = { .host = argv[2],
					  .check_cert = c->o.given & OPT_CHECK_CERT };
	(void)argc;
	if (store_family_parse(argv[1], &f, &c->err))
		return ctl_fail_err(c);
	if (c->o.plain && ctl_port(c, "--plain", c->o.plain, &spec.plain_port))
		return 1;
	if (c->o.tls && ctl_port(c, "--tls", c->o.tls, &spec.tls_port))
		return 1;
	return store_target_set(c->st, argv[0], f, &spec, &c->err) ? ctl_fail_err(c) : 0;
}

static int cmd_target_del(struct ctl *c, int argc, char **argv)
{
	enum store_family f;
	(void)argc;
	if (store_family_parse(argv[1], &f, &c->err))
		return ctl_fail_err(c);
	return store_target_del(c->st, argv[0], f, &c->err) ? ctl_fail_err(c) : 0;
}

static int cmd_allow_ip(struct ctl *c, int argc, char **argv)
{
	enum store_family f;
	(void)argc;
	if (store_family_parse(argv[1], &f, &c->err))
		return ctl_fail_err(c);
	return store_allow_ip_add(c->st, argv[0], f, argv[2], &c->err) ? ctl_fail_err(c) : 0;
}

static int cmd_allow_ip_del(struct ctl *c, int argc, char **argv)
{
	enum store_family f;
	(void)argc;
	if (store_family_parse(argv[1], &f, &c->err))
		return ctl_fail_err(c);
	return store_allow_ip_del(c->st, argv[0], f, argv[2], &c->err) ? ctl_fail_err(c) : 0;
}

static int cmd_allow_url(struct ctl *c, int argc, char **argv)
{
	(void)argc;
	return store_allow_url_add(c->st, argv[0], argv[1], &c->err) ? ctl_fail_err(c) : 0;
}

static int cmd_allow_url_del(struct ctl *c, int argc, char **argv)
{
	(void)argc;
	return store_allow_url_del(c->st, argv[0], argv[1], &c->err) ? ctl_fail_err(c) : 0;
}

static const struct ctl_cmd cmds[] = {
	{ "name add", "NAME", 1, 1, 0, CTL_IMPORT, cmd_name_add,
	  "add a service name: a domain (example.com), or domain/location for an "
	  "H.323 registration location (example.com/branch)" },
	{ "name del", "NAME", 1, 1, 0, 0, cmd_name_del,
	  "delete a service name with its targets and access limits" },
	{ "name list", NULL, 0, 0, 0, CTL_READ, cmd_name_list,
	  "list service names with how many targets and limits each has" },
	{ "name show", "NAME", 1, 1, 0, CTL_READ, cmd_name_show,
	  "show a name's targets, allowed networks and allowed URLs" },
	{ "target", "NAME FAMILY HOST", 3, 3, OPT_PLAIN | OPT_TLS | OPT_CHECK_CERT, CTL_IMPORT,
	  cmd_target,
	  "send FAMILY (http sip h323 ldap) requests for NAME to HOST; with both ports "
	  "the encryption is kept, with one every request uses it; --check-cert (h323): "
	  "the TLS port only for registrations whose client certificate verifies and "
	  "names one of their aliases, the plain port for all others" },
	{ "target del", "NAME FAMILY", 2, 2, 0, 0, cmd_target_del,
	  "stop forwarding FAMILY requests for NAME" },
	{ "allow-ip", "NAME FAMILY CIDR", 3, 3, 0, CTL_IMPORT, cmd_allow_ip,
	  "allow FAMILY requests for NAME from CIDR (a host or a network); once a "
	  "name/family has any, other sources are refused" },
	{ "allow-ip del", "NAME FAMILY CIDR", 3, 3, 0, 0, cmd_allow_ip_del,
	  "remove an allowed network" },
	{ "allow-url", "NAME URL", 2, 2, 0, CTL_IMPORT, cmd_allow_url,
	  "allow HTTP requests for NAME whose URL starts with URL (case-sensitive; a URL "
	  "ending in '/' allows no further '/'); once a name has any, other URLs are refused" },
	{ "allow-url del", "NAME URL", 2, 2, 0, 0, cmd_allow_url_del,
	  "remove an allowed URL" },
};

const struct ctl_group ctl_group_names = { "Service names", cmds, sizeof cmds / sizeof cmds[0] };
