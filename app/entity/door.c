/*
 * The one door to the store.  entity_store_open is the only place an LMDB
 * environment is opened: with the entity set's databases (entity.c), the
 * engine's own tables (counters, meta) and the tables other modules
 * registered with entity_tables_add (auth's), every handle resolved once,
 * so that no database is looked up by name after that.  Above the
 * engine, the master's and the worker's calls on an open store go
 * through the thin wrappers here (idle, group commit, reader slots), and
 * a module's reads of meta and of a record by an indexed attribute
 * through entity_meta_get/put and entity_lookup.  Transactions are
 * entity_begin/entity_commit (record.c).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fastcrm/conf.h"
#include "fastcrm/entity.h"
#include "fastcrm/error.h"
#include "fastcrm/store.h"
#include "engine.h"

#define MAXREGS	8

int			 engine_db_counters = -1;
int			 engine_db_meta = -1;

static const struct entity_table own[] = {
	{ .name = "counters", .handle = &engine_db_counters },
	{ .name = "meta", .handle = &engine_db_meta },
	{ .name = NULL },
};

static const struct entity_table	*regs[MAXREGS];
static size_t				 nregs;

int
entity_tables_add(const struct entity_table *tabs)
{
	size_t	 i;

	for (i = 0; i < nregs; i++)
		if (regs[i] == tabs)
			return 0;
	if (nregs == MAXREGS)
		return -1;
	regs[nregs++] = tabs;
	return 0;
}

static size_t
ntabs(const struct entity_table *tabs)
{
	size_t	 n;

	for (n = 0; tabs[n].name != NULL; n++)
		continue;
	return n;
}

/* Sets the handles of tabs in st; -1 if one was not opened. */
static int
resolve(const struct store *st, const struct entity_table *tabs)
{
	size_t	 i;

	for (i = 0; tabs[i].name != NULL; i++)
		if ((*tabs[i].handle = store_db(st, tabs[i].name)) < 0)
			return -1;
	return 0;
}

/* Every database name: the entity set's, the engine's, the modules'. */
static const char **
all_names(void)
{
	const char *const	*ent = entity_db_names();
	const char		**v;
	size_t			 n, i, j, k = 0;

	for (n = 0; ent[n] != NULL; n++)
		continue;
	n += ntabs(own);
	for (i = 0; i < nregs; i++)
		n += ntabs(regs[i]);
	if ((v = calloc(n + 1, sizeof(*v))) == NULL)
		return NULL;
	for (j = 0; ent[j] != NULL; j++)
		v[k++] = ent[j];
	for (j = 0; own[j].name != NULL; j++)
		v[k++] = own[j].name;
	for (i = 0; i < nregs; i++)
		for (j = 0; regs[i][j].name != NULL; j++)
			v[k++] = regs[i][j].name;
	v[k] = NULL;
	return v;
}

int
entity_store_open(const struct conf *conf, const char *dir,
    struct store **st, const char **why)
{
	static char	 msg[128];
	const char	**names;
	size_t		 i;
	int		 rc;

	*st = NULL;
	if (entity_db_names() == NULL) {
		*why = "the entity set is not built (entity_init)";
		return FCRM_CONFIG;
	}
	if ((names = all_names()) == NULL) {
		*why = "out of memory";
		return FCRM_IO;
	}
	rc = store_open(dir != NULL ? dir : conf->data_dir, conf->map_size,
	    names, st);
	free(names);
	if (rc != 0) {
		snprintf(msg, sizeof(msg), "cannot open the store: %s",
		    error_reason(rc));
		*why = msg;
		return rc;
	}
	rc = entity_open_dbs(*st) != 0 || resolve(*st, own) != 0;
	for (i = 0; i < nregs && rc == 0; i++)
		rc = resolve(*st, regs[i]) != 0;
	if (rc != 0) {
		store_close(*st);
		*st = NULL;
		*why = "cannot open the store's databases";
		return FCRM_STORE;
	}
	return 0;
}

void
entity_store_close(struct store *st)
{
	store_close(st);
}

int
engine_transient_db(size_t n)
{
	size_t	 i, j;

	for (i = 0; i < nregs; i++)
		for (j = 0; regs[i][j].name != NULL; j++)
			if ((regs[i][j].flags & ENTITY_TABLE_TRANSIENT) &&
			    n-- == 0)
				return *regs[i][j].handle;
	return -1;
}

void
entity_store_idle(struct store *st)
{
	store_idle(st);
}

size_t
entity_store_prefault(struct store *st, size_t limit)
{
	return store_prefault(st, limit);
}

void
entity_store_batch(struct store *st, int on)
{
	store_batch(st, on);
}

unsigned long
entity_store_batch_joined(const struct store *st)
{
	return store_batch_joined(st);
}

int
entity_store_batch_open(const struct store *st)
{
	return store_batch_open(st);
}

long long
entity_store_batch_age_us(const struct store *st)
{
	return store_batch_age_us(st);
}

int
entity_store_batch_commit(struct store *st)
{
	return store_batch_commit(st);
}

int
entity_store_batch_leading(const struct store *st)
{
	return store_batch_leading(st);
}

void
entity_store_batch_release(struct store *st)
{
	store_batch_release(st);
}

void
entity_store_batch_wait(const struct store *st, int ms)
{
	store_batch_wait(st, ms);
}

int
entity_store_reader_check(const struct conf *conf, int *dead)
{
	return store_reader_check(conf->data_dir, dead);
}

int
entity_meta_get(struct ectx *c, struct store_txn *t, const char *key,
    const char **val, size_t *len)
{
	struct store_val	 v;
	int			 rc;

	*val = NULL;
	if (len != NULL)
		*len = 0;
	if ((rc = store_get(t, engine_db_meta, key, strlen(key), &v)) != 0)
		return rc;
	*val = arena_strndup(c->arena, v.p, v.len);
	if (len != NULL)
		*len = v.len;
	return 0;
}

int
entity_meta_put(struct ectx *c, struct store_txn *t, const char *key,
    const void *val, size_t len)
{
	(void)c;
	return store_put(t, engine_db_meta, key, strlen(key), val, len);
}

/*
 * The index keys of value for field f, made the way a record's are
 * (engine_index_keys): from a record holding only that value.
 */
static size_t
lookup_keys(struct arena *a, const struct entity *e, size_t fi,
    const char *value, const char ***keys)
{
	const struct field	*f = &e->fields[fi];
	struct json		*rec, *item, *arr;
	char			 dname[64];

	rec = json_obj(a);
	if (f->type == FT_PHONE || f->type == FT_EMAIL) {
		item = json_obj(a);
		json_set(a, item, f->type == FT_PHONE ? "phoneNumber" :
		    "emailAddress", json_str(a, value));
		arr = json_arr(a);
		json_push(a, arr, item);
		snprintf(dname, sizeof(dname), "%sData", f->name);
		json_set(a, rec, dname, arr);
	} else if (f->type == FT_LINKMULTI) {
		arr = json_arr(a);
		json_push(a, arr, json_str(a, value));
		json_set(a, rec, f->name, arr);
	} else
		json_set(a, rec, f->name, json_str(a, value));
	return engine_index_keys(a, e, fi, rec, keys);
}

int
entity_lookup(struct ectx *c, struct store_txn *t, const struct entity *e,
    const char *attr, const char *value, enum action act, struct json **rec)
{
	const struct field	*f;
	const char		**keys, **ids;
	size_t			  fi, i, n;
	int			  rc;

	*rec = NULL;
	if ((f = entity_field(e, attr)) == NULL ||
	    e->db_ix[fi = (size_t)(f - e->fields)] < 0)
		return entity_fail(c, FCRM_BAD_REQUEST, "%s.%s is not an "
		    "indexed attribute.", e->name, attr);
	if (lookup_keys(c->arena, e, fi, value, &keys) == 0)
		return FCRM_NOT_FOUND;
	if ((rc = engine_index_ids(c->arena, t, e->db_ix[fi], keys[0], &ids,
	    &n)) != 0)
		return rc;
	for (i = 0; i < n; i++)
		if ((rc = entity_load(c, t, e, ids[i], act, rec, NULL)) !=
		    FCRM_NOT_FOUND)
			return rc;
	return FCRM_NOT_FOUND;
}
