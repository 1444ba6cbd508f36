/* output.c - rpctl's text tables, JSON writer, times and quoting. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ctl.h"

/* ---- JSON ---- */

void json_init(struct json *j, FILE *out)
{
	j->out = out;
	j->depth = 0;
	j->first[0] = true;
}

/* A value is about to be written: a comma unless first in its container. */
static void sep(struct json *j)
{
	if (!j->first[j->depth])
		fputc(',', j->out);
	j->first[j->depth] = false;
}

static void open_container(struct json *j, char c)
{
	sep(j);
	fputc(c, j->out);
	if (j->depth < 15)
		j->depth++;
	j->first[j->depth] = true;
}

void json_obj(struct json *j)
{
	open_container(j, '{');
}

void json_arr(struct json *j)
{
	open_container(j, '[');
}

void json_end_obj(struct json *j)
{
	fputc('}', j->out);
	if (j->depth)
		j->depth--;
}

void json_end_arr(struct json *j)
{
	fputc(']', j->out);
	if (j->depth)
		j->depth--;
}

/* Length of the valid UTF-8 sequence at p (1-4), or 0 if it is not one
 * (overlong forms, surrogates and values past U+10FFFF included). */
static int utf8_len(const unsigned char *p)
{
	unsigned c = p[0];
	int n;
	unsigned min, cp;
	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf) {
		n = 2;
		min = 0x80;
		cp = c & 0x1f;
	} else if (c >= 0xe0 && c <= 0xef) {
		n = 3;
		min = 0x800;
		cp = c & 0x0f;
	} else if (c >= 0xf0 && c <= 0xf4) {
		n = 4;
		min = 0x10000;
		cp = c & 0x07;
	} else {
		return 0;
	}
	for (int i = 1; i < n; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (p[i] & 0x3f);
	}
	if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return n;
}

static void raw_str(FILE *out, const char *s)
{
	fputc('"', out);
	for (const unsigned char *p = (const unsigned char *)s; *p;) {
		int n = utf8_len(p);
		if (n == 0) {
			/* Not UTF-8: JSON cannot carry it; say so visibly. */
			fputs("\\ufffd", out);
			p++;
			continue;
		}
		if (n > 1) {
			fwrite(p, 1, (size_t)n, out);
			p += n;
			continue;
		}
		switch (*p) {
		case '"': fputs("\\\"", out); break;
		case '\\': fputs("\\\\", out); break;
		case '\n': fputs("\\n", out); break;
		case '\r': fputs("\\r", out); break;
		case '\t': fputs("\\t", out); break;
		default:
			if (*p < 0x20 || *p == 0x7f)
				fprintf(out, "\\u%04x", *p);
			else
				fputc(*p, out);
		}
		p++;
	}
	fputc('"', out);
}

void json_key(struct json *j, const char *key)
{
	sep(j);
	raw_str(j->out, key);
	fputc(':', j->out);
	/* The value that follows belongs to this key: no comma before it. */
	j->first[j->depth] = true;
}

void json_str(struct json *j, const char *s)
{
	sep(j);
	raw_str(j->out, s ? s : "");
}

void json_int(struct json *j, int64_t v)
{
	sep(j);
	fprintf(j->out, "%lld", (long long)v);
}

void json_fixed(struct json *j, int64_t v, unsigned scale)
{
	sep(j);
	if (scale <= 1) {
		fprintf(j->out, "%lld", (long long)v);
		return;
	}
	unsigned digits = 0;
	for (unsigned s = scale; s > 1; s /= 10)
		digits++;
	fprintf(j->out, "%s%lld.%0*lld", v < 0 ? "-" : "", (long long)(llabs(v) / scale),
		(int)digits, (long long)(llabs(v) % scale));
}

void json_bool(struct json *j, bool v)
{
	sep(j);
	fputs(v ? "true" : "false", j->out);
}

void json_null(struct json *j)
{
	sep(j);
	fputs("null", j->out);
}

void json_col(struct json *j, const struct store_col *col)
{
	switch (col->type) {
	case STORE_COL_NULL: json_null(j); break;
	case STORE_COL_INT: json_int(j, col->i); break;
	case STORE_COL_TEXT: json_str(j, col->s); break;
	}
}

void json_row(struct json *j, const struct store_col *cols, int ncols)
{
	json_obj(j);
	for (int i = 0; i < ncols; i++) {
		json_key(j, cols[i].name);
		json_col(j, &cols[i]);
	}
	json_end_obj(j);
}

void json_done(struct json *j)
{
	fputc('\n', j->out);
}

/* ---- times ---- */

void ctl_time(int64_t t, char *buf, size_t n)
{
	time_t tt = (time_t)t;
	struct tm tm;
	gmtime_r(&tt, &tm);
	strftime(buf, n, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

int ctl_parse_time(const char *s, int64_t *t)
{
	struct tm tm = { 0 };
	const char *end = strptime(s, "%Y-%m-%dT%H:%M:%SZ", &tm);
	if (!end || *end)
		return -1;
	time_t tt = timegm(&tm);
	if (tt == (time_t)-1)
		return -1;
	/* Round-trip to refuse impossible dates that timegm normalises. */
	char back[32];
	ctl_time((int64_t)tt, back, sizeof back);
	if (strcmp(back, s) != 0)
		return -1;
	*t = (int64_t)tt;
	return 0;
}

/* ---- tables ---- */

#define MAX_COLS 16

struct table {
	struct ctl *c;
	struct json j;
	int ncols;
	char *names[MAX_COLS];
	char **cells;     /* rows * ncols */
	size_t rows, cap;
};

static bool is_time_col(const char *name)
{
	static const char *const names[] = { "created", "expires", "at", "started",
					     "heartbeat", "updated" };
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
		if (strcmp(name, names[i]) == 0)
			return true;
	return false;
}

static char *cell_text(const struct store_col *col)
{
	char buf[64];
	switch (col->type) {
	case STORE_COL_NULL:
		return strdup(strcmp(col->name, "expires") == 0 ? "never" : "-");
	case STORE_COL_INT:
		if (is_time_col(col->name))
			ctl_time(col->i, buf, sizeof buf);
		else
			snprintf(buf, sizeof buf, "%lld", (long long)col->i);
		return strdup(buf);
	case STORE_COL_TEXT:
		return strdup(col->s && *col->s ? col->s : "-");
	}
	return strdup("?");
}

static int table_row(void *arg, const struct store_col *cols, int ncols)
{
	struct table *t = arg;
	if (t->c->json) {
		json_row(&t->j, cols, ncols);
		return 0;
	}
	if (t->rows == 0 && t->ncols == 0) {
		t->ncols = ncols;
		for (int i = 0; i < ncols; i++) {
			t->names[i] = strdup(cols[i].name);
			for (char *p = t->names[i]; p && *p; p++)
				*p = *p == '_' ? '-' : (char)toupper((unsigned char)*p);
		}
	}
	if (t->rows == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 32;
		char **cells = realloc(t->cells, cap * (size_t)t->ncols * sizeof *cells);
		if (!cells)
			return -1;
		t->cells = cells;
		t->cap = cap;
	}
	for (int i = 0; i < t->ncols; i++)
		t->cells[t->rows * (size_t)t->ncols + (size_t)i] = cell_text(&cols[i]);
	t->rows++;
	return 0;
}

static void table_print(struct table *t, FILE *out)
{
	size_t width[MAX_COLS] = { 0 };
	for (int i = 0; i < t->ncols; i++) {
		width[i] = strlen(t->names[i] ? t->names[i] : "");
		for (size_t r = 0; r < t->rows; r++) {
			const char *s = t->cells[r * (size_t)t->ncols + (size_t)i];
			size_t n = s ? strlen(s) : 0;
			if (n > width[i])
				width[i] = n;
		}
	}
	for (size_t r = 0; r <= t->rows; r++) {
		for (int i = 0; i < t->ncols; i++) {
			const char *s = r == 0 ? t->names[i] : t->cells[(r - 1) * (size_t)t->ncols + (size_t)i];
			if (i == t->ncols - 1)
				fprintf(out, "%s\n", s ? s : "");
			else
				fprintf(out, "%-*s  ", (int)width[i], s ? s : "");
		}
	}
}

void ctl_print_table(FILE *out, const char *const *names, int ncols, char *const *cells,
		     size_t rows)
{
	struct table t = { .ncols = ncols < MAX_COLS ? ncols : MAX_COLS, .rows = rows,
			   .cells = (char **)cells };
	for (int i = 0; i < t.ncols; i++)
		t.names[i] = (char *)names[i];
	table_print(&t, out);
}

int ctl_print_query(struct ctl *c, enum store_query q, const char *filter)
{
	struct table t = { .c = c };
	json_init(&t.j, c->out);
	if (c->json)
		json_arr(&t.j);
	int rc = store_query(c->st, q, filter, table_row, &t, &c->err);
	if (c->json) {
		json_end_arr(&t.j);
		json_done(&t.j);
	} else if (rc == 0) {
		table_print(&t, c->out);
	}
	for (size_t i = 0; i < t.rows * (size_t)t.ncols; i++)
		free(t.cells[i]);
	free(t.cells);
	for (int i = 0; i < t.ncols; i++)
		free(t.names[i]);
	if (rc < 0 && rc != -1)
		return ctl_fail_err(c);
	return rc ? ctl_fail(c, "out of memory") : 0;
}

/* ---- quoting and splitting (the export/import line format) ---- */

void ctl_quote(FILE *out, const char *w)
{
	bool plain = *w != '\0' && *w != '#';
	for (const char *p = w; *p && plain; p++)
		plain = isalnum((unsigned char)*p) || strchr("._/:@%+=,-[]", *p);
	if (plain) {
		fputs(w, out);
		return;
	}
	fputc('\'', out);
	for (const char *p = w; *p; p++) {
		if (*p == '\'')
			fputs("'\\''", out);
		else
			fputc(*p, out);
	}
	fputc('\'', out);
}

int ctl_split(char *line, char **words, int max, const char **why)
{
	int n = 0;
	char *r = line, *w = line;
	for (;;) {
		while (*r == ' ' || *r == '\t' || *r == '\r')
			r++;
		if (*r == '\0' || *r == '#')
			return n;
		if (n == max) {
			*why = "too many words";
			return -1;
		}
		words[n++] = w;
		while (*r && *r != ' ' && *r != '\t' && *r != '\r') {
			if (*r == '\'') {
				for (r++; *r && *r != '\''; )
					*w++ = *r++;
				if (!*r) {
					*why = "unterminated ' quote";
					return -1;
				}
				r++;
			} else if (*r == '"') {
				for (r++; *r && *r != '"'; ) {
					if (*r == '\\' && (r[1] == '"' || r[1] == '\\'))
						r++;
					*w++ = *r++;
				}
				if (!*r) {
					*why = "unterminated \" quote";
					return -1;
				}
				r++;
			} else if (*r == '\\' && r[1]) {
				r++;
				*w++ = *r++;
			} else {
				*w++ = *r++;
			}
		}
		bool end = *r == '\0';
		if (!end)
			r++;
		*w++ = '\0';
		if (end)
			return n;
	}
}
