/* ctl.h - rpctl's command tables, options and output helpers. */
#ifndef RPCTL_CTL_H
#define RPCTL_CTL_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <pbxedge/err.h>
#include <pbxedge/store.h>

/* Options a command may take (each command lists the ones it accepts). */
enum ctl_opt {
	OPT_PLAIN = 1 << 0,      /* --plain PORT */
	OPT_TLS = 1 << 1,        /* --tls PORT */
	OPT_CHECK_CERT = 1 << 2, /* --check-cert */
	OPT_ADDR = 1 << 3,       /* --addr ADDR */
	OPT_MINUTES = 1 << 4,    /* --minutes N */
	OPT_REASON = 1 << 5,     /* --reason TEXT */
	OPT_UNTIL = 1 << 6,      /* --until YYYY-MM-DDTHH:MM:SSZ */
};

struct ctl_opts {
	unsigned given;  /* enum ctl_opt bits */
	const char *plain, *tls, *addr, *minutes, *reason, *until;
};

enum ctl_flags {
	CTL_NO_STORE = 1,   /* runs without opening the store (init opens it itself) */
	CTL_READ = 2,       /* only reads: the store is opened read-only */
	CTL_IMPORT = 4,     /* may appear in an import file */
	CTL_OWN_OPTS = 8,   /* parses its own options (repeatable ones): gets
			     * every word after its name; args is the usage */
};

struct ctl;

struct ctl_cmd {
	const char *words;   /* "name add" */
	const char *args;    /* "NAME" (usage text) */
	int min_args, max_args;
	unsigned opts;       /* accepted enum ctl_opt bits */
	unsigned flags;      /* enum ctl_flags */
	int (*run)(struct ctl *c, int argc, char **argv);
	const char *help;
};

struct ctl_group {
	const char *title;
	const struct ctl_cmd *cmds;
	size_t n;
};

struct ctl {
	const char *db;
	bool db_given;       /* --db or $PBXEDGE_DB, not the built-in default */
	bool json;
	bool importing;      /* running a line of an import file */
	struct store *st;
	struct ctl_opts o;
	const struct ctl_cmd *cmd;
	struct pbx_err err;
	FILE *out;
};

/* The command groups, one per cmd_*.c file. */
extern const struct ctl_group ctl_group_store, ctl_group_settings, ctl_group_listen,
	ctl_group_names, ctl_group_access, ctl_group_status, ctl_group_export, ctl_group_nat,
	ctl_group_turn, ctl_group_ice;

/* Report an error for the current command; returns 1 (the exit status). */
int ctl_fail(struct ctl *c, const char *fmt, ...) PBX_PRINTF(2, 3);
/* Report c->err (set by a library call) and return 1. */
int ctl_fail_err(struct ctl *c);

/* Parse a port option or argument (1-65535). */
int ctl_port(struct ctl *c, const char *what, const char *text, uint32_t *port);

/* Format a Unix time as "2026-11-30T18:29:24Z" into buf (size >= 24). */
void ctl_time(int64_t t, char *buf, size_t n);
/* Parse "2026-11-30T18:29:24Z" (UTC); returns 0 or -1. */
int ctl_parse_time(const char *s, int64_t *t);

/* Quote a word for an export line, so that ctl_split reads it back. */
void ctl_quote(FILE *out, const char *word);

/* Split a line into words (shell-like: '...', "...", backslash, # comment).
 * Words point into line, which is modified.  Returns the count, or -1 with
 * *why set (unterminated quote, too many words). */
int ctl_split(char *line, char **words, int max, const char **why);

/* Run a command given as words (after the global options).  Used by main
 * and by import.  Returns an exit status. */
int ctl_dispatch(struct ctl *c, int argc, char **argv);

/* Look up the command named by the leading words of argv; *consumed gets
 * how many words named it.  NULL if none. */
const struct ctl_cmd *ctl_find(int argc, char **argv, int *consumed);

/* ---- output: tables and JSON ---- */

/* Print the rows of a store query as an aligned text table (headers in
 * capitals, times formatted) or as a JSON array of objects. */
int ctl_print_query(struct ctl *c, enum store_query q, const char *filter);

/* Print rows x ncols cells (row-major, NULL shown empty) under the
 * headers names as an aligned text table. */
void ctl_print_table(FILE *out, const char *const *names, int ncols, char *const *cells,
		     size_t rows);

/* JSON writer: nesting and commas are tracked. */
struct json {
	FILE *out;
	int depth;
	bool first[16];
};
void json_init(struct json *j, FILE *out);
void json_obj(struct json *j);       /* { */
void json_arr(struct json *j);       /* [ */
void json_end_obj(struct json *j);   /* } */
void json_end_arr(struct json *j);   /* ] */
void json_key(struct json *j, const char *key);
void json_str(struct json *j, const char *s);
void json_int(struct json *j, int64_t v);
/* v / scale as a decimal number (scale a power of ten: 100 gives two
 * decimals). */
void json_fixed(struct json *j, int64_t v, unsigned scale);
void json_bool(struct json *j, bool v);
void json_null(struct json *j);
/* Write one store column's value. */
void json_col(struct json *j, const struct store_col *col);
/* Write a store row as an object, one key per column. */
void json_row(struct json *j, const struct store_col *cols, int ncols);
/* End the document with a newline. */
void json_done(struct json *j);

#endif
