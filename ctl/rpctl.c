/* rpctl.c - the administrator's tool: global options, command lookup in
 * the per-group tables, option parsing, and --help generated from the
 * tables. */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"
#include "pbx-config.h"

static const struct ctl_group *const groups[] = {
	&ctl_group_store, &ctl_group_settings, &ctl_group_listen, &ctl_group_names,
	&ctl_group_access, &ctl_group_status, &ctl_group_export,
	&ctl_group_nat,
	&ctl_group_turn,
	&ctl_group_ice,
};
#define N_GROUPS (sizeof groups / sizeof groups[0])

static const struct {
	enum ctl_opt bit;
	const char *name;
	bool value;
	const char *meta;
} options[] = {
	{ OPT_PLAIN, "--plain", true, "PORT" },
	{ OPT_TLS, "--tls", true, "PORT" },
	{ OPT_CHECK_CERT, "--check-cert", false, NULL },
	{ OPT_ADDR, "--addr", true, "ADDR" },
	{ OPT_MINUTES, "--minutes", true, "N" },
	{ OPT_REASON, "--reason", true, "TEXT" },
	{ OPT_UNTIL, "--until", true, "TIME" },
};
#define N_OPTIONS (sizeof options / sizeof options[0])

int ctl_fail(struct ctl *c, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(c->err.msg, sizeof c->err.msg, fmt, ap);
	va_end(ap);
	c->err.code = PBX_E_INVALID;
	return ctl_fail_err(c);
}

int ctl_fail_err(struct ctl *c)
{
	/* Inside an import the caller adds the file and line. */
	if (!c->importing) {
		if (c->cmd)
			fprintf(stderr, "rpctl %s: %s\n", c->cmd->words, pbx_err_text(&c->err));
		else
			fprintf(stderr, "rpctl: %s\n", pbx_err_text(&c->err));
	}
	return 1;
}

int ctl_port(struct ctl *c, const char *what, const char *text, uint32_t *port)
{
	if (pbx_span_to_u32(pbx_span_cstr(text), 65535, port) || *port == 0)
		return ctl_fail(c, "%s '%s' is not a port number (1-65535)", what, text);
	return 0;
}

const struct ctl_cmd *ctl_find(int argc, char **argv, int *consumed)
{
	const struct ctl_cmd *best = NULL;
	int best_words = 0;
	for (size_t g = 0; g < N_GROUPS; g++) {
		for (size_t i = 0; i < groups[g]->n; i++) {
			const struct ctl_cmd *cmd = &groups[g]->cmds[i];
			/* Match the command's words one by one. */
			const char *p = cmd->words;
			int k = 0;
			bool ok = true;
			while (*p && ok) {
				size_t len = strcspn(p, " ");
				ok = k < argc && strlen(argv[k]) == len && strncmp(argv[k], p, len) == 0;
				p += len;
				while (*p == ' ')
					p++;
				k++;
			}
			if (ok && k > best_words) {
				best = cmd;
				best_words = k;
			}
		}
	}
	*consumed = best_words;
	return best;
}

static void print_usage_line(FILE *out, const struct ctl_cmd *cmd)
{
	fprintf(out, "rpctl %s%s%s", cmd->words, cmd->args ? " " : "", cmd->args ? cmd->args : "");
	for (size_t i = 0; i < N_OPTIONS; i++) {
		if (!(cmd->opts & options[i].bit))
			continue;
		fprintf(out, " [%s%s%s]", options[i].name, options[i].value ? " " : "",
			options[i].value ? options[i].meta : "");
	}
}

static void help(FILE *out)
{
	fprintf(out,
		"Usage: rpctl [--db PATH] [--json] COMMAND [ARGS]\n"
		"Administer pbxedge: configuration, blacklist and whitelist, status.\n\n"
		"Global options (anywhere on the line):\n"
		"  --db PATH   the store (also --db=PATH; default $PBXEDGE_DB, else\n"
		"              %s)\n"
		"  --json      print results as JSON\n"
		"  -h, --help  this text; 'rpctl COMMAND --help' for one command\n"
		"  --version   print the version\n",
		PBX_DEFAULT_DB);
	for (size_t g = 0; g < N_GROUPS; g++) {
		fprintf(out, "\n%s:\n", groups[g]->title);
		for (size_t i = 0; i < groups[g]->n; i++) {
			const struct ctl_cmd *cmd = &groups[g]->cmds[i];
			fprintf(out, "  ");
			print_usage_line(out, cmd);
			fprintf(out, "\n      %s\n", cmd->help);
		}
	}
	fprintf(out, "\nExit status: 0 done, 1 refused or failed (nothing changed), "
		     "2 bad usage.\nSee rpctl(8).\n");
}

static int usage_error(struct ctl *c, const char *fmt, const char *arg)
{
	if (c->importing) {
		char what[128];
		snprintf(what, sizeof what, fmt, arg);
		snprintf(c->err.msg, sizeof c->err.msg, "%s: %s", c->cmd->words, what);
		return 2;
	}
	fprintf(stderr, "rpctl%s%s: ", c->cmd ? " " : "", c->cmd ? c->cmd->words : "");
	fprintf(stderr, fmt, arg);
	if (c->cmd) {
		fprintf(stderr, " (usage: ");
		print_usage_line(stderr, c->cmd);
		fprintf(stderr, ")");
	}
	fprintf(stderr, "\n");
	return 2;
}

/* Suggest what the first word can be followed by. */
static int unknown_command(int argc, char **argv)
{
	char known[512] = "";
	size_t o = 0;
	for (size_t g = 0; g < N_GROUPS; g++) {
		for (size_t i = 0; i < groups[g]->n; i++) {
			const char *w = groups[g]->cmds[i].words;
			size_t len = strcspn(w, " ");
			if (strlen(argv[0]) == len && strncmp(w, argv[0], len) == 0 && w[len]) {
				int n = snprintf(known + o, sizeof known - o, " %s", w + len + 1);
				if (n > 0 && (size_t)n < sizeof known - o)
					o += (size_t)n;
			}
		}
	}
	if (o)
		fprintf(stderr, "rpctl: unknown command '%s%s%s'; '%s' is followed by one of:%s\n",
			argv[0], argc > 1 ? " " : "", argc > 1 ? argv[1] : "", argv[0], known);
	else
		fprintf(stderr, "rpctl: unknown command '%s' ('rpctl --help' lists the commands)\n",
			argv[0]);
	return 2;
}

static const char **opt_slot(struct ctl_opts *o, enum ctl_opt bit)
{
	switch (bit) {
	case OPT_PLAIN: return &o->plain;
	case OPT_TLS: return &o->tls;
	case OPT_ADDR: return &o->addr;
	case OPT_MINUTES: return &o->minutes;
	case OPT_REASON: return &o->reason;
	case OPT_UNTIL: return &o->until;
	default: return NULL;
	}
}

int ctl_dispatch(struct ctl *c, int argc, char **argv)
{
	int consumed;
	c->cmd = NULL;
	if (argc == 0) {
		fprintf(stderr, "rpctl: no command given ('rpctl --help' lists the commands)\n");
		return 2;
	}
	const struct ctl_cmd *cmd = ctl_find(argc, argv, &consumed);
	if (!cmd && c->importing) {
		snprintf(c->err.msg, sizeof c->err.msg, "unknown command '%s'", argv[0]);
		return 2;
	}
	if (!cmd)
		return unknown_command(argc, argv);
	c->cmd = cmd;
	memset(&c->o, 0, sizeof c->o);
	if (cmd->flags & CTL_OWN_OPTS) {
		for (int i = consumed; i < argc && strcmp(argv[i], "--") != 0; i++) {
			if (strcmp(argv[i], "--help") == 0) {
				print_usage_line(stdout, cmd);
				printf("\n  %s\n", cmd->help);
				return 0;
			}
		}
		if (c->importing) {
			snprintf(c->err.msg, sizeof c->err.msg, "'%s' cannot appear in an import file",
				 cmd->words);
			return 1;
		}
		return cmd->run(c, argc - consumed, argv + consumed);
	}

	/* Positional arguments and the command's options, in any order. */
	char *args[16];
	int nargs = 0;
	bool only_args = false;
	for (int i = consumed; i < argc; i++) {
		const char *a = argv[i];
		if (!only_args && strcmp(a, "--help") == 0) {
			print_usage_line(stdout, cmd);
			printf("\n  %s\n", cmd->help);
			return 0;
		}
		if (!only_args && strcmp(a, "--") == 0) {
			only_args = true;
			continue;
		}
		if (!only_args && a[0] == '-' && a[1] == '-') {
			size_t k = 0;
			while (k < N_OPTIONS && strcmp(options[k].name, a) != 0)
				k++;
			if (k == N_OPTIONS || !(cmd->opts & options[k].bit))
				return usage_error(c, "unknown option '%s'", a);
			if (c->o.given & options[k].bit)
				return usage_error(c, "option '%s' given twice", a);
			c->o.given |= options[k].bit;
			if (options[k].value) {
				if (i + 1 >= argc)
					return usage_error(c, "option '%s' needs a value", a);
				*opt_slot(&c->o, options[k].bit) = argv[++i];
			}
			continue;
		}
		if (nargs == (int)(sizeof args / sizeof args[0]))
			return usage_error(c, "too many arguments%s", "");
		args[nargs++] = argv[i];
	}
	if (nargs < cmd->min_args)
		return usage_error(c, "missing argument%s", cmd->min_args - nargs > 1 ? "s" : "");
	if (nargs > cmd->max_args)
		return usage_error(c, "unexpected argument '%s'", args[cmd->max_args]);
	if (c->importing && !(cmd->flags & CTL_IMPORT)) {
		snprintf(c->err.msg, sizeof c->err.msg, "'%s' cannot appear in an import file",
			 cmd->words);
		return 1;
	}

	bool opened = false;
	if (!c->st && !(cmd->flags & CTL_NO_STORE)) {
		int flags = (cmd->flags & CTL_READ) ? STORE_READONLY : STORE_MIGRATE;
		if (store_open(c->db, flags, &c->st, &c->err))
			return ctl_fail_err(c);
		opened = true;
	}
	int rc = cmd->run(c, nargs, args);
	if (opened) {
		store_close(c->st);
		c->st = NULL;
	}
	return rc;
}

int main(int argc, char **argv)
{
	struct ctl c = { .out = stdout };
	char *rest[64];
	int nrest = 0;
	bool only_args = false;

	c.db = getenv("PBXEDGE_DB");
	c.db_given = c.db && *c.db;
	if (!c.db_given)
		c.db = PBX_DEFAULT_DB;
	/* Global options may stand anywhere; "--" ends option parsing. */
	for (int i = 1; i < argc; i++) {
		if (!only_args && strcmp(argv[i], "--db") == 0) {
			if (i + 1 >= argc) {
				fprintf(stderr, "rpctl: option '--db' needs a value\n");
				return 2;
			}
			c.db = argv[++i];
			c.db_given = true;
		} else if (!only_args && strncmp(argv[i], "--db=", 5) == 0) {
			c.db = argv[i] + 5;
			c.db_given = true;
		} else if (!only_args && strcmp(argv[i], "--json") == 0) {
			c.json = true;
		} else if (!only_args && strcmp(argv[i], "--version") == 0) {
			printf("rpctl %s\n", PBX_VERSION);
			return 0;
		} else if (!only_args && (strcmp(argv[i], "--help") == 0 ||
					  strcmp(argv[i], "-h") == 0) && nrest == 0) {
			help(stdout);
			return 0;
		} else if (nrest == (int)(sizeof rest / sizeof rest[0])) {
			fprintf(stderr, "rpctl: too many arguments\n");
			return 2;
		} else {
			if (strcmp(argv[i], "--") == 0)
				only_args = true;
			rest[nrest++] = argv[i];
		}
	}
	if (nrest == 1 && strcmp(rest[0], "help") == 0) {
		help(stdout);
		return 0;
	}
	return ctl_dispatch(&c, nrest, rest);
}
