/* snapshot.c - the immutable in-memory view of configuration, blacklist
 * and whitelist that daemons consult on the hot path.  Loaded in one read
 * transaction; shared between threads by reference count. */
#include <errno.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/* ---- a bump allocator: one free for the whole snapshot ---- */

struct chunk {
	struct chunk *next;
	size_t used, cap;
	max_align_t data[];
};

struct arena {
	struct chunk *head;
	bool failed;
};

static void *arena_alloc(struct arena *a, size_t n)
{
	n = (n + sizeof(max_align_t) - 1) & ~(sizeof(max_align_t) - 1);
	if (!a->head || a->head->cap - a->head->used < n) {
		size_t cap = n > 16384 ? n : 16384;
		struct chunk *c = malloc(sizeof *c + cap);
		if (!c) {
			a->failed = true;
			return NULL;
		}
		c->next = a->head;
		c->used = 0;
		c->cap = cap;
		a->head = c;
	}
	void *p = (char *)a->head->data + a->head->used;
	a->head->used += n;
	memset(p, 0, n);
	return p;
}

static char *arena_strdup(struct arena *a, const char *s)
{
	size_t n = strlen(s) + 1;
	char *p = arena_alloc(a, n);
	if (p)
		memcpy(p, s, n);
	return p;
}

static void arena_free(struct arena *a)
{
	for (struct chunk *c = a->head, *next; c; c = next) {
		next = c->next;
		free(c);
	}
	a->head = NULL;
}

/* ---- access sets: hosts in an open-addressing table, networks in a list ---- */

struct access_host {
	bool used;
	uint8_t family;
	uint8_t ip[16];
	int64_t expires; /* 0: permanent */
};

struct access_net {
	struct pbx_cidr net;
	int64_t expires;
};

struct access_set {
	struct access_host *hosts;
	size_t cap, n_hosts;
	struct access_net *nets;
	size_t n_nets, cap_nets;
};

struct store_snapshot_priv {
	_Atomic unsigned refs;
	struct arena arena;
	struct access_set list[2]; /* by enum store_list_kind */
	char **problems;
	size_t n_problems, cap_problems;
	struct store_name *names;
};

static uint64_t host_hash(uint8_t family, const uint8_t ip[16])
{
	uint64_t h = 1469598103934665603ULL ^ family;
	for (int i = 0; i < 16; i++) {
		h ^= ip[i];
		h *= 1099511628211ULL;
	}
	return h;
}

static const struct access_host *host_find(const struct access_set *set, uint8_t family,
					   const uint8_t ip[16])
{
	if (!set->cap)
		return NULL;
	size_t mask = set->cap - 1;
	for (size_t i = host_hash(family, ip) & mask;; i = (i + 1) & mask) {
		const struct access_host *h = &set->hosts[i];
		if (!h->used)
			return NULL;
		if (h->family == family && memcmp(h->ip, ip, 16) == 0)
			return h;
	}
}

/* Size the host table for n entries (load factor at most 1/2). */
static int access_reserve(struct arena *a, struct access_set *set, size_t n)
{
	size_t cap = 16;
	while (cap < 2 * n)
		cap *= 2;
	set->hosts = arena_alloc(a, cap * sizeof *set->hosts);
	set->cap = set->hosts ? cap : 0;
	return set->hosts ? 0 : -ENOMEM;
}

static int access_insert(struct arena *a, struct access_set *set, const struct pbx_cidr *c,
			 int64_t expires)
{
	if (pbx_cidr_is_host(c)) {
		size_t mask = set->cap - 1;
		size_t i = host_hash(c->family, c->ip) & mask;
		while (set->hosts[i].used)
			i = (i + 1) & mask;
		set->hosts[i].used = true;
		set->hosts[i].family = c->family;
		memcpy(set->hosts[i].ip, c->ip, 16);
		set->hosts[i].expires = expires;
		set->n_hosts++;
		return 0;
	}
	if (set->n_nets == set->cap_nets) {
		size_t cap = set->cap_nets ? set->cap_nets * 2 : 16;
		struct access_net *nets = arena_alloc(a, cap * sizeof *nets);
		if (!nets)
			return -ENOMEM;
		if (set->n_nets)
			memcpy(nets, set->nets, set->n_nets * sizeof *nets);
		set->nets = nets;
		set->cap_nets = cap;
	}
	set->nets[set->n_nets].net = *c;
	set->nets[set->n_nets].expires = expires;
	set->n_nets++;
	return 0;
}

static bool live(int64_t expires, int64_t now)
{
	return expires == 0 || expires > now;
}

static bool access_match(const struct access_set *set, const struct pbx_addr *a, int64_t now,
			 struct pbx_cidr *entry)
{
	struct pbx_cidr host;
	if (pbx_cidr_from_addr(a, &host))
		return false;
	const struct access_host *h = host_find(set, host.family, host.ip);
	if (h && live(h->expires, now)) {
		if (entry)
			*entry = host;
		return true;
	}
	for (size_t i = 0; i < set->n_nets; i++) {
		if (live(set->nets[i].expires, now) && pbx_cidr_contains(&set->nets[i].net, a)) {
			if (entry)
				*entry = set->nets[i].net;
			return true;
		}
	}
	return false;
}

/* ---- loading ---- */

static void problem(struct store_snapshot_priv *p, const char *fmt, ...) PBX_PRINTF(2, 3);

static void problem(struct store_snapshot_priv *p, const char *fmt, ...)
{
	char buf[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	if (p->n_problems == p->cap_problems) {
		size_t cap = p->cap_problems ? p->cap_problems * 2 : 8;
		char **np = arena_alloc(&p->arena, cap * sizeof *np);
		if (!np)
			return;
		if (p->n_problems)
			memcpy(np, p->problems, p->n_problems * sizeof *np);
		p->problems = np;
		p->cap_problems = cap;
	}
	char *s = arena_strdup(&p->arena, buf);
	if (s)
		p->problems[p->n_problems++] = s;
}

static const char *col_text(sqlite3_stmt *stmt, int i)
{
	const char *s = (const char *)sqlite3_column_text(stmt, i);
	return s ? s : "";
}

static int load_settings(struct store *st, struct store_snapshot *s, struct pbx_err *err)
{
	struct store_snapshot_priv *p = s->priv;
	sqlite3_stmt *stmt;
	int rc = store_prepare(st, "SELECT key, value FROM setting", &stmt, err);
	if (rc)
		return rc;
	const char *values[STORE_SETTING_COUNT] = { 0 };
	int step;
	while ((step = sqlite3_step(stmt)) == SQLITE_ROW) {
		enum store_setting id;
		const char *key = col_text(stmt, 0);
		if (store_setting_find(key, &id, NULL)) {
			problem(p, "setting %s: unknown key, ignored", key);
			continue;
		}
		values[id] = arena_strdup(&p->arena, col_text(stmt, 1));
	}
	if (step != SQLITE_DONE)
		rc = store_sql_err(st, err, "settings");
	sqlite3_finalize(stmt);
	if (rc)
		return rc;
	for (int i = 0; i < STORE_SETTING_COUNT; i++) {
		const struct store_setting_info *in = store_setting_info((enum store_setting)i);
		char canon[4096];
		struct pbx_err e2;
		const char *v = values[i] ? values[i] : in->def;
		if (values[i] && store_setting_validate((enum store_setting)i, v, canon,
							sizeof canon, &e2)) {
			problem(p, "%s; using the default '%s'", pbx_err_text(&e2), in->def);
			v = in->def;
		}
		s->setting_str[i] = arena_strdup(&p->arena, v);
		if (in->type == STORE_SETTING_INT)
			s->setting_int[i] = strtoll(v, NULL, 10);
		else if (in->type == STORE_SETTING_BOOL)
			s->setting_int[i] = strcmp(v, "true") == 0;
	}
	return 0;
}

static int load_listeners(struct store *st, struct store_snapshot *s, struct pbx_err *err)
{
	sqlite3_stmt *stmt;
	int rc = store_prepare(st, "SELECT proto, port, addr FROM listener", &stmt, err);
	if (rc)
		return rc;
	int step;
	while ((step = sqlite3_step(stmt)) == SQLITE_ROW) {
		enum store_proto proto;
		struct pbx_err e2;
		const char *name = col_text(stmt, 0), *addr = col_text(stmt, 2);
		int port = sqlite3_column_int(stmt, 1);
		if (store_proto_parse(name, &proto, NULL))
			continue; /* the CHECK constraint keeps this from happening */
		struct store_listener *l = &s->listener[proto];
		if (*addr) {
			if (pbx_addr_parse(pbx_span_cstr(addr), (uint16_t)port, PBX_ADDR_NO_PORT,
					   &l->addr, &e2)) {
				problem(s->priv, "listener %s: %s; not served", name,
					pbx_err_text(&e2));
				continue;
			}
		} else {
			/* Every local address: one IPv6 socket, dual-stack. */
			pbx_addr_parse(pbx_span_cstr("::"), (uint16_t)port, 0, &l->addr, NULL);
		}
		l->on = true;
		l->port = (uint16_t)port;
	}
	if (step != SQLITE_DONE)
		rc = store_sql_err(st, err, "listeners");
	sqlite3_finalize(stmt);
	return rc;
}

static int ascii_casecmp(const char *a, size_t alen, const char *b, size_t blen)
{
	size_t n = alen < blen ? alen : blen;
	for (size_t i = 0; i < n; i++) {
		int x = (unsigned char)a[i], y = (unsigned char)b[i];
		if (x >= 'A' && x <= 'Z')
			x += 32;
		if (y >= 'A' && y <= 'Z')
			y += 32;
		if (x != y)
			return x - y;
	}
	return alen < blen ? -1 : alen > blen;
}

static int name_cmp(const void *a, const void *b)
{
	const struct store_name *x = a, *y = b;
	return ascii_casecmp(x->name, strlen(x->name), y->name, strlen(y->name));
}

/* Find the name with database id in ids (parallel to names, sorted by id). */
struct name_id {
	int64_t id;
	char *name;
};

static int id_cmp(const void *a, const void *b)
{
	const struct name_id *x = a, *y = b;
	return x->id < y->id ? -1 : x->id > y->id;
}

static struct store_name *by_id(struct store_snapshot *s, struct name_id *ids, int64_t id)
{
	struct name_id key = { id, NULL };
	struct name_id *hit = bsearch(&key, ids, s->n_names, sizeof *ids, id_cmp);
	if (!hit)
		return NULL;
	return (struct store_name *)store_snapshot_name(s, pbx_span_cstr(hit->name));
}

static int load_names(struct store *st, struct store_snapshot *s, struct pbx_err *err)
{
	struct store_snapshot_priv *p = s->priv;
	sqlite3_stmt *stmt;
	int64_t count = 0;
	int rc = store_prepare(st, "SELECT count(*) FROM service_name", &stmt, err);
	if (rc)
		return rc;
	if (sqlite3_step(stmt) == SQLITE_ROW)
		count = sqlite3_column_int64(stmt, 0);
	sqlite3_finalize(stmt);

	struct store_name *names = arena_alloc(&p->arena, (size_t)(count + 1) * sizeof *names);
	struct name_id *ids = arena_alloc(&p->arena, (size_t)(count + 1) * sizeof *ids);
	if (!names || !ids)
		return pbx_err_set(err, -ENOMEM, "out of memory loading the snapshot");
	if ((rc = store_prepare(st, "SELECT id, name FROM service_name ORDER BY id", &stmt, err)))
		return rc;
	size_t n = 0;
	while (n < (size_t)count && sqlite3_step(stmt) == SQLITE_ROW) {
		ids[n].id = sqlite3_column_int64(stmt, 0);
		ids[n].name = names[n].name = arena_strdup(&p->arena, col_text(stmt, 1));
		n++;
	}
	sqlite3_finalize(stmt);
	qsort(names, n, sizeof *names, name_cmp);
	s->names = p->names = names;
	s->n_names = n;

	/* Targets. */
	if ((rc = store_prepare(st, "SELECT name_id, family, host, plain_port, tls_port, "
				"check_cert FROM target", &stmt, err)))
		return rc;
	while (sqlite3_step(stmt) == SQLITE_ROW) {
		struct store_name *nm = by_id(s, ids, sqlite3_column_int64(stmt, 0));
		enum store_family f;
		if (!nm || store_family_parse(col_text(stmt, 1), &f, NULL))
			continue;
		struct store_target *t = &nm->target[f];
		t->host = arena_strdup(&p->arena, col_text(stmt, 2));
		t->plain_port = (uint16_t)sqlite3_column_int(stmt, 3);
		t->tls_port = (uint16_t)sqlite3_column_int(stmt, 4);
		t->check_cert = sqlite3_column_int(stmt, 5) != 0;
	}
	sqlite3_finalize(stmt);

	/* Allowed networks: counted per name and family first. */
	if ((rc = store_prepare(st, "SELECT name_id, family, network FROM allow_ip "
				"ORDER BY name_id, family", &stmt, err)))
		return rc;
	for (int pass = 0; pass < 2; pass++) {
		while (sqlite3_step(stmt) == SQLITE_ROW) {
			struct store_name *nm = by_id(s, ids, sqlite3_column_int64(stmt, 0));
			enum store_family f;
			struct pbx_cidr c;
			struct pbx_err e2;
			if (!nm || store_family_parse(col_text(stmt, 1), &f, NULL))
				continue;
			if (pbx_cidr_parse(pbx_span_cstr(col_text(stmt, 2)), &c, &e2)) {
				if (pass == 0)
					problem(p, "%s %s: allowed network ignored: %s", nm->name,
						store_family_name(f), pbx_err_text(&e2));
				continue;
			}
			if (pass == 0)
				nm->n_allow[f]++;
			else
				nm->allow[f][nm->n_allow[f]++] = c;
		}
		sqlite3_reset(stmt);
		if (pass == 0) {
			for (size_t i = 0; i < n; i++) {
				for (int f = 0; f < STORE_FAMILY_COUNT; f++) {
					if (!names[i].n_allow[f])
						continue;
					names[i].allow[f] = arena_alloc(
						&p->arena, names[i].n_allow[f] * sizeof(struct pbx_cidr));
					names[i].n_allow[f] = 0;
				}
			}
		}
	}
	sqlite3_finalize(stmt);

	/* Allowed URLs, likewise. */
	if ((rc = store_prepare(st, "SELECT name_id, url FROM allow_url ORDER BY name_id, url",
				&stmt, err)))
		return rc;
	for (int pass = 0; pass < 2; pass++) {
		while (sqlite3_step(stmt) == SQLITE_ROW) {
			struct store_name *nm = by_id(s, ids, sqlite3_column_int64(stmt, 0));
			if (!nm)
				continue;
			if (pass == 0)
				nm->n_urls++;
			else
				nm->urls[nm->n_urls++] = arena_strdup(&p->arena, col_text(stmt, 1));
		}
		sqlite3_reset(stmt);
		if (pass == 0) {
			for (size_t i = 0; i < n; i++) {
				if (!names[i].n_urls)
					continue;
				names[i].urls = arena_alloc(&p->arena, names[i].n_urls * sizeof(char *));
				names[i].n_urls = 0;
			}
		}
	}
	sqlite3_finalize(stmt);
	return p->arena.failed ? pbx_err_set(err, -ENOMEM, "out of memory loading the snapshot")
			       : 0;
}

static int load_access(struct store *st, struct store_snapshot *s, enum store_list_kind list,
		       struct pbx_err *err)
{
	struct store_snapshot_priv *p = s->priv;
	struct access_set *set = &p->list[list];
	const char *count_sql = list == STORE_BLACKLIST
		? "SELECT count(*) FROM blacklist WHERE expires IS NULL OR expires > ?1"
		: "SELECT count(*) FROM whitelist WHERE ?1 IS NOT NULL";
	const char *sql = list == STORE_BLACKLIST
		? "SELECT network, expires FROM blacklist WHERE expires IS NULL OR expires > ?1"
		: "SELECT network, NULL FROM whitelist WHERE ?1 IS NOT NULL";
	sqlite3_stmt *stmt;
	int rc = store_prepare(st, count_sql, &stmt, err);
	if (rc)
		return rc;
	sqlite3_bind_int64(stmt, 1, s->loaded);
	size_t count = sqlite3_step(stmt) == SQLITE_ROW ? (size_t)sqlite3_column_int64(stmt, 0) : 0;
	sqlite3_finalize(stmt);
	if (access_reserve(&p->arena, set, count))
		return pbx_err_set(err, -ENOMEM, "out of memory loading the %s",
				   list == STORE_BLACKLIST ? "blacklist" : "whitelist");
	if ((rc = store_prepare(st, sql, &stmt, err)))
		return rc;
	sqlite3_bind_int64(stmt, 1, s->loaded);
	size_t loaded = 0;
	while (loaded < count && sqlite3_step(stmt) == SQLITE_ROW) {
		struct pbx_cidr c;
		struct pbx_err e2;
		const char *text = col_text(stmt, 0);
		if (pbx_cidr_parse(pbx_span_cstr(text), &c, &e2)) {
			problem(p, "%s entry ignored: %s",
				list == STORE_BLACKLIST ? "blacklist" : "whitelist", pbx_err_text(&e2));
			continue;
		}
		if (access_insert(&p->arena, set, &c, sqlite3_column_int64(stmt, 1)))
			break;
		loaded++;
	}
	sqlite3_finalize(stmt);
	return p->arena.failed ? pbx_err_set(err, -ENOMEM, "out of memory loading the snapshot")
			       : 0;
}

static int64_t read_int(struct store *st, const char *sql);

static int turn_account_cmp(const void *a, const void *b)
{
	const struct store_turn_account *x = a, *y = b;
	return strcmp(x->user, y->user);
}

/* TURN accounts (derived keys only) and REST secrets, for turnd. */
static int load_turn(struct store *st, struct store_snapshot *s, struct pbx_err *err)
{
	struct store_snapshot_priv *p = s->priv;
	sqlite3_stmt *stmt;
	int64_t n = read_int(st, "SELECT count(*) FROM turn_account");
	int64_t m = read_int(st, "SELECT count(*) FROM turn_secret");
	struct store_turn_account *acc =
		n > 0 ? arena_alloc(&p->arena, (size_t)n * sizeof *acc) : NULL;
	const char **sec = m > 0 ? arena_alloc(&p->arena, (size_t)m * sizeof *sec) : NULL;
	if (p->arena.failed)
		return pbx_err_set(err, -ENOMEM, "out of memory loading the snapshot");
	int rc = store_prepare(st, "SELECT user, realm, key_md5, key_sha256 FROM turn_account "
			       "ORDER BY user", &stmt, err);
	if (rc)
		return rc;
	size_t k = 0;
	while (k < (size_t)(n > 0 ? n : 0) && sqlite3_step(stmt) == SQLITE_ROW) {
		if (sqlite3_column_bytes(stmt, 2) != 16 || sqlite3_column_bytes(stmt, 3) != 32)
			continue;
		acc[k].user = arena_strdup(&p->arena, col_text(stmt, 0));
		acc[k].realm = arena_strdup(&p->arena, col_text(stmt, 1));
		memcpy(acc[k].key_md5, sqlite3_column_blob(stmt, 2), 16);
		memcpy(acc[k].key_sha256, sqlite3_column_blob(stmt, 3), 32);
		k++;
	}
	sqlite3_finalize(stmt);
	/* strcmp order, whatever the database's collation. */
	if (k > 1)
		qsort(acc, k, sizeof *acc, turn_account_cmp);
	s->turn_accounts = acc;
	s->n_turn_accounts = k;
	if ((rc = store_prepare(st, "SELECT secret FROM turn_secret ORDER BY id", &stmt, err)))
		return rc;
	k = 0;
	while (k < (size_t)(m > 0 ? m : 0) && sqlite3_step(stmt) == SQLITE_ROW)
		sec[k++] = arena_strdup(&p->arena, col_text(stmt, 0));
	sqlite3_finalize(stmt);
	s->turn_secrets = sec;
	s->n_turn_secrets = k;
	return p->arena.failed ? pbx_err_set(err, -ENOMEM, "out of memory loading the snapshot")
			       : 0;
}

static int64_t read_int(struct store *st, const char *sql)
{
	sqlite3_stmt *stmt;
	int64_t v = -1;
	if (sqlite3_prepare_v2(st->db, sql, -1, &stmt, NULL) != SQLITE_OK)
		return -1;
	if (sqlite3_step(stmt) == SQLITE_ROW)
		v = sqlite3_column_int64(stmt, 0);
	sqlite3_finalize(stmt);
	return v;
}

int store_snapshot_load(struct store *st, struct store_snapshot **out, struct pbx_err *err)
{
	*out = NULL;
	struct store_snapshot *s = calloc(1, sizeof *s);
	struct store_snapshot_priv *p = calloc(1, sizeof *p);
	if (!s || !p) {
		free(s);
		free(p);
		return pbx_err_set(err, -ENOMEM, "out of memory loading the snapshot");
	}
	s->priv = p;
	atomic_init(&p->refs, 1);
	s->loaded = store_now();

	/* One read transaction: every table seen at the same instant. */
	int rc = store_exec(st, "BEGIN", err);
	if (rc)
		goto fail;
	s->generation = read_int(st, "SELECT value FROM meta WHERE key = 'config_generation'");
	int64_t dv = read_int(st, "PRAGMA data_version");
	if ((rc = load_settings(st, s, err)) || (rc = load_listeners(st, s, err)) ||
	    (rc = load_names(st, s, err)) || (rc = load_access(st, s, STORE_BLACKLIST, err)) ||
	    (rc = load_access(st, s, STORE_WHITELIST, err)) || (rc = load_turn(st, s, err))) {
		store_rollback(st);
		goto fail;
	}
	store_exec(st, "COMMIT", NULL);
	st->generation = s->generation;
	st->data_version = dv;
	s->problems = (const char *const *)p->problems;
	s->n_problems = p->n_problems;
	*out = s;
	return 0;
fail:
	arena_free(&p->arena);
	free(p);
	free(s);
	return rc;
}

struct store_snapshot *store_snapshot_ref(struct store_snapshot *s)
{
	atomic_fetch_add_explicit(&s->priv->refs, 1, memory_order_relaxed);
	return s;
}

void store_snapshot_unref(struct store_snapshot *s)
{
	if (!s)
		return;
	if (atomic_fetch_sub_explicit(&s->priv->refs, 1, memory_order_acq_rel) != 1)
		return;
	arena_free(&s->priv->arena);
	free(s->priv);
	free(s);
}

const struct store_name *store_snapshot_name(const struct store_snapshot *s,
					     struct pbx_span name)
{
	size_t lo = 0, hi = s->n_names;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const char *m = s->names[mid].name;
		int c = ascii_casecmp(name.p, name.len, m, strlen(m));
		if (c == 0)
			return &s->names[mid];
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return NULL;
}

const struct store_turn_account *store_snapshot_turn_account(const struct store_snapshot *s,
							     struct pbx_span user)
{
	size_t lo = 0, hi = s->n_turn_accounts;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const char *u = s->turn_accounts[mid].user;
		size_t ul = strlen(u);
		int c = memcmp(user.p, u, user.len < ul ? user.len : ul);
		if (c == 0)
			c = user.len < ul ? -1 : user.len > ul ? 1 : 0;
		if (c == 0)
			return &s->turn_accounts[mid];
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return NULL;
}

bool store_snapshot_whitelisted(const struct store_snapshot *s, const struct pbx_addr *a)
{
	return access_match(&s->priv->list[STORE_WHITELIST], a, 0, NULL);
}

bool store_snapshot_blacklist_entry(const struct store_snapshot *s, const struct pbx_addr *a,
				    int64_t now, struct pbx_cidr *entry)
{
	return access_match(&s->priv->list[STORE_BLACKLIST], a, now, entry) &&
	       !store_snapshot_whitelisted(s, a);
}

bool store_snapshot_blacklisted(const struct store_snapshot *s, const struct pbx_addr *a,
				int64_t now)
{
	return store_snapshot_blacklist_entry(s, a, now, NULL);
}

size_t store_snapshot_access_count(const struct store_snapshot *s, enum store_list_kind list)
{
	const struct access_set *set = &s->priv->list[list];
	return set->n_hosts + set->n_nets;
}
