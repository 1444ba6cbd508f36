/* cmd_export.c - rpctl export and import: the whole configuration as
 * rpctl command lines, and back, in one transaction.  Exporting, importing
 * into a new store and exporting again gives the same text. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"
#include "pbx-config.h"

#define IMPORT_MAX_BYTES (16u << 20)
#define IMPORT_MAX_WORDS 32

static void line(FILE *out, const char *const *words, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (i)
			fputc(' ', out);
		ctl_quote(out, words[i]);
	}
	fputc('\n', out);
}

static const char *col_s(const struct store_col *c, char *buf, size_t n)
{
	if (c->type == STORE_COL_TEXT)
		return c->s;
	snprintf(buf, n, "%lld", (long long)c->i);
	return buf;
}

static int export_listener(void *arg, const struct store_col *cols, int ncols)
{
	char port[16];
	const char *w[5] = { "listen", cols[0].s, col_s(&cols[1], port, sizeof port) };
	size_t n = 3;
	(void)ncols;
	if (cols[2].type == STORE_COL_TEXT) {
		w[n++] = "--addr";
		w[n++] = cols[2].s;
	}
	line(arg, w, n);
	return 0;
}

static int export_target(void *arg, const struct store_col *cols, int ncols)
{
	char plain[16], tls[16];
	const char *w[10] = { "target", cols[0].s, cols[1].s, cols[2].s };
	size_t n = 4;
	(void)ncols;
	if (cols[3].type == STORE_COL_INT) {
		w[n++] = "--plain";
		w[n++] = col_s(&cols[3], plain, sizeof plain);
	}
	if (cols[4].type == STORE_COL_INT) {
		w[n++] = "--tls";
		w[n++] = col_s(&cols[4], tls, sizeof tls);
	}
	if (cols[5].i)
		w[n++] = "--check-cert";
	line(arg, w, n);
	return 0;
}

static int export_allow_ip(void *arg, const struct store_col *cols, int ncols)
{
	const char *w[4] = { "allow-ip", cols[0].s, cols[1].s, cols[2].s };
	(void)ncols;
	line(arg, w, 4);
	return 0;
}

static int export_allow_url(void *arg, const struct store_col *cols, int ncols)
{
	const char *w[3] = { "allow-url", cols[0].s, cols[1].s };
	(void)ncols;
	line(arg, w, 3);
	return 0;
}

struct export_names {
	struct ctl *c;
	int rc;
};

static int export_name(void *arg, const struct store_col *cols, int ncols)
{
	struct export_names *e = arg;
	struct ctl *c = e->c;
	const char *w[3] = { "name", "add", cols[0].s };
	(void)ncols;
	line(c->out, w, 3);
	if ((e->rc = store_query(c->st, STORE_Q_TARGETS, cols[0].s, export_target, c->out,
				 &c->err)) ||
	    (e->rc = store_query(c->st, STORE_Q_ALLOW_IP, cols[0].s, export_allow_ip, c->out,
				 &c->err)) ||
	    (e->rc = store_query(c->st, STORE_Q_ALLOW_URL, cols[0].s, export_allow_url, c->out,
				 &c->err)))
		return 1;
	return 0;
}

static int export_whitelist(void *arg, const struct store_col *cols, int ncols)
{
	const char *w[5] = { "whitelist", "add", cols[0].s };
	size_t n = 3;
	(void)ncols;
	if (*cols[2].s) {
		w[n++] = "--reason";
		w[n++] = cols[2].s;
	}
	line(arg, w, n);
	return 0;
}

static int export_blacklist(void *arg, const struct store_col *cols, int ncols)
{
	char until[32];
	const char *w[7] = { "blacklist", "add", cols[0].s };
	size_t n = 3;
	(void)ncols;
	/* Automatic entries are state of the fraud detection, not
	 * configuration. */
	if (strcmp(cols[1].s, "manual") != 0)
		return 0;
	if (cols[4].type == STORE_COL_INT) {
		ctl_time(cols[4].i, until, sizeof until);
		w[n++] = "--until";
		w[n++] = until;
	}
	if (*cols[2].s) {
		w[n++] = "--reason";
		w[n++] = cols[2].s;
	}
	line(arg, w, n);
	return 0;
}

static int export_turn_key(void *arg, const struct store_col *cols, int ncols)
{
	const char *w[7] = { "turn", "user", "key", cols[0].s, cols[1].s, cols[2].s, cols[3].s };
	(void)ncols;
	line(arg, w, 7);
	return 0;
}

static int export_turn_secret(void *arg, const struct store_col *cols, int ncols)
{
	const char *w[4] = { "turn", "secret", "add", cols[1].s };
	(void)ncols;
	line(arg, w, 4);
	return 0;
}

static int cmd_export(struct ctl *c, int argc, char **argv)
{
	(void)argc;
	(void)argv;
	if (c->json)
		return ctl_fail(c, "the export is text for 'rpctl import'; it has no JSON form");
	FILE *out = c->out;
	fprintf(out, "# pbxedge configuration (rpctl export; load with rpctl import)\n");
	fprintf(out, "# schema %d\n", store_schema_latest());
	for (int i = 0; i < STORE_SETTING_COUNT; i++) {
		const struct store_setting_info *in = store_setting_info((enum store_setting)i);
		char value[4096];
		bool def;
		if (store_setting_get(c->st, in->key, value, sizeof value, &def, &c->err))
			return ctl_fail_err(c);
		if (!def) {
			const char *w[3] = { "set", in->key, value };
			line(out, w, 3);
		}
	}
	struct export_names e = { c, 0 };
	if (store_query(c->st, STORE_Q_LISTENERS, NULL, export_listener, out, &c->err) ||
	    store_query(c->st, STORE_Q_NAMES, NULL, export_name, &e, &c->err) < 0 || e.rc ||
	    /* Blacklist first: a whitelist entry added later may cover a
	     * blacklist entry, which the other order would refuse. */
	    store_query(c->st, STORE_Q_BLACKLIST, NULL, export_blacklist, out, &c->err) ||
	    store_query(c->st, STORE_Q_WHITELIST, NULL, export_whitelist, out, &c->err) ||
	    /* TURN accounts as their derived keys: the passwords are not known. */
	    store_query(c->st, STORE_Q_TURN_KEYS, NULL, export_turn_key, out, &c->err) ||
	    store_query(c->st, STORE_Q_TURN_SECRET_TEXT, NULL, export_turn_secret, out, &c->err))
		return ctl_fail_err(c);
	if (fflush(out) || ferror(out))
		return ctl_fail(c, "cannot write the export: %s", pbx_strerror(-errno));
	return 0;
}

static char *read_all(struct ctl *c, const char *path, size_t *len)
{
	FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
	if (!f) {
		ctl_fail(c, "cannot open %s: %s", path, pbx_strerror(-errno));
		return NULL;
	}
	size_t cap = 65536, n = 0;
	char *buf = malloc(cap + 1);
	while (buf) {
		size_t r = fread(buf + n, 1, cap - n, f);
		n += r;
		if (n > IMPORT_MAX_BYTES) {
			ctl_fail(c, "%s is larger than %u bytes", path, IMPORT_MAX_BYTES);
			free(buf);
			buf = NULL;
			break;
		}
		if (r == 0)
			break;
		if (n == cap) {
			char *nb = realloc(buf, cap * 2 + 1);
			if (!nb) {
				free(buf);
				buf = NULL;
				break;
			}
			buf = nb;
			cap *= 2;
		}
	}
	if (buf && ferror(f)) {
		ctl_fail(c, "cannot read %s: %s", path, pbx_strerror(-errno));
		free(buf);
		buf = NULL;
	}
	if (f != stdin)
		fclose(f);
	if (buf) {
		buf[n] = '\0';
		*len = n;
		if (memchr(buf, '\0', n)) {
			ctl_fail(c, "%s is not a text file (it holds NUL bytes)", path);
			free(buf);
			return NULL;
		}
	}
	return buf;
}

static int cmd_import(struct ctl *c, int argc, char **argv)
{
	(void)argc;
	const char *path = argv[0];
	const struct ctl_cmd *self = c->cmd;
	size_t len;
	char *text = read_all(c, path, &len);
	if (!text)
		return 1;
	if (store_begin(c->st, &c->err) || store_config_clear(c->st, &c->err)) {
		free(text);
		return ctl_fail_err(c);
	}
	int rc = 0, lineno = 0, commands = 0;
	char *p = text;
	while (rc == 0 && p && *p) {
		char *nl = strchr(p, '\n');
		if (nl)
			*nl = '\0';
		lineno++;
		char *words[IMPORT_MAX_WORDS];
		const char *why = NULL;
		int n = ctl_split(p, words, IMPORT_MAX_WORDS, &why);
		if (n < 0) {
			fprintf(stderr, "rpctl import: %s:%d: %s; nothing was changed\n", path,
				lineno, why);
			rc = 2;
		} else if (n > 0) {
			c->importing = true;
			pbx_err_clear(&c->err);
			rc = ctl_dispatch(c, n, words);
			c->importing = false;
			if (rc)
				fprintf(stderr, "rpctl import: %s:%d: %s; nothing was changed\n",
					path, lineno, pbx_err_text(&c->err));
			commands++;
		}
		p = nl ? nl + 1 : NULL;
	}
	c->cmd = self;
	free(text);
	if (rc) {
		store_rollback(c->st);
		return rc;
	}
	if (store_commit(c->st, &c->err))
		return ctl_fail_err(c);
	if (c->json) {
		struct json j;
		json_init(&j, c->out);
		json_obj(&j);
		json_key(&j, "file");
		json_str(&j, path);
		json_key(&j, "commands");
		json_int(&j, commands);
		json_end_obj(&j);
		json_done(&j);
	} else {
		fprintf(c->out, "imported %d commands from %s\n", commands, path);
	}
	return 0;
}

static const struct ctl_cmd cmds[] = {
	{ "export", NULL, 0, 0, 0, CTL_READ, cmd_export,
	  "print the whole configuration (settings, service types, names, whitelist, "
	  "manual blacklist entries) as rpctl command lines" },
	{ "import", "FILE", 1, 1, 0, 0, cmd_import,
	  "replace the configuration with the one in FILE ('-': stdin), all or nothing; "
	  "automatic blacklist entries, accounts and status are kept" },
};

const struct ctl_group ctl_group_export = { "Export and import", cmds,
					    sizeof cmds / sizeof cmds[0] };
