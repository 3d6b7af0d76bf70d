/*
 * Bulk work from the command line, on the store directly: export (the
 * stored records, one per line) and verify (every record against every
 * index, and back).  Import is import.c and import_file.c.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fastcrm/conf.h"
#include "fastcrm/entity.h"
#include "fastcrm/error.h"
#include "fastcrm/store.h"
#include "fastcrm/util.h"
#include "engine.h"

static int
open_all(const struct conf *conf, struct store **st, const char **why)
{
	if (entity_init(conf, why) != 0)
		return FCRM_CONFIG;
	return entity_store_open(conf, NULL, st, why);
}

struct exp {
	FILE	*out;
	size_t	 n;
};

static int
export_one(void *arg, struct store_val k, struct store_val v)
{
	struct exp	*x = arg;

	(void)k;
	/* Deleted records stay in the store but leave the export. */
	if (memmem(v.p, v.len, "\"deleted\":true", 14) != NULL)
		return 0;
	fwrite(v.p, 1, v.len, x->out);
	fputc('\n', x->out);
	x->n++;
	return 0;
}

int
entity_export(const struct conf *conf, const char *entity, FILE *out,
    const char **why)
{
	struct store		*st = NULL;
	struct store_txn	*t = NULL;
	const struct entity	*e;
	struct exp		 x;
	int			 rc;

	if ((rc = open_all(conf, &st, why)) != 0)
		return rc;
	if ((e = entity_find(entity)) == NULL) {
		*why = "unknown entity";
		entity_store_close(st);
		return FCRM_NOT_FOUND;
	}
	x.out = out;
	x.n = 0;
	if ((rc = store_begin(st, 0, &t)) == 0)
		rc = store_iter(t, e->db_rec, 1, NULL, 0, export_one, &x);
	store_abort(t);
	entity_store_close(st);
	if (rc == 0)
		fprintf(stderr, "%s: exported %zu records\n", e->name, x.n);
	else
		*why = error_reason(rc);
	return rc;
}

struct vctx {
	struct ectx		*c;
	struct store_txn	*t;
	const struct entity	*e;
	size_t			 fi;
	size_t			 records, problems;
	int			 db_ix;
};

static void problem(struct vctx *, const char *, ...)
    __attribute__((format(printf, 2, 3)));

static void
problem(struct vctx *v, const char *fmt, ...)
{
	va_list	 ap;

	v->problems++;
	if (v->problems > 50)
		return;
	fprintf(stderr, "verify: %s: ", v->e->name);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* Each live record: every index key it should have is there. */
static int
verify_record(void *arg, struct store_val k, struct store_val val)
{
	struct vctx	*v = arg;
	struct json	*rec;
	const char	**keys, *why, *id;
	size_t		 i, j, n;
	char		*ok;
	size_t		 oklen;
	struct store_val got;

	(void)k;
	if (json_parse(v->c->arena, val.p, val.len, &rec, &why) != 0) {
		problem(v, "a record is not valid JSON");
		return 0;
	}
	if (json_truthy(json_get(rec, "deleted")))
		return 0;
	v->records++;
	id = json_gets(rec, "id");
	if (engine_twin_problems(v->e, rec, &why) > 0)
		problem(v, "record %s: %s is not in its many-side twin", id,
		    why);
	for (i = 0; i < v->e->nfields; i++) {
		if (v->e->db_ix[i] >= 0) {
			n = engine_index_keys(v->c->arena, v->e, i, rec, &keys);
			for (j = 0; j < n; j++)
				if (store_has(v->t, v->e->db_ix[i], keys[j],
				    strlen(keys[j]), id, strlen(id)) != 0)
					problem(v, "record %s misses index "
					    "entry %s", id, v->e->fields[i].name);
		}
		if (v->e->db_ox[i] >= 0) {
			ok = engine_order_key(v->c->arena, &v->e->fields[i],
			    json_get(rec, v->e->fields[i].name), id, &oklen);
			if (store_get(v->t, v->e->db_ox[i], ok, oklen, &got) != 0)
				problem(v, "record %s misses order entry %s",
				    id, v->e->fields[i].name);
		}
	}
	arena_reset(v->c->arena);
	return 0;
}

/* Each index entry: it names a live record that has that key. */
static int
verify_entry(void *arg, struct store_val k, struct store_val val)
{
	struct vctx	*v = arg;
	struct json	*rec;
	const char	**keys, *why;
	char		*id, *key;
	struct store_val sv;
	size_t		 j, n;

	id = arena_strndup(v->c->arena, val.p, val.len);
	key = arena_strndup(v->c->arena, k.p, k.len);
	if (store_get(v->t, v->e->db_rec, id, strlen(id), &sv) != 0 ||
	    json_parse(v->c->arena, sv.p, sv.len, &rec, &why) != 0 ||
	    json_truthy(json_get(rec, "deleted"))) {
		problem(v, "index %s points to missing or deleted record %s",
		    v->e->fields[v->fi].name, id);
		return 0;
	}
	if (v->db_ix >= 0) {
		n = engine_index_keys(v->c->arena, v->e, v->fi, rec, &keys);
		for (j = 0; j < n; j++)
			if (strcmp(keys[j], key) == 0)
				break;
		if (j == n)
			problem(v, "index %s has a stale key for record %s",
			    v->e->fields[v->fi].name, id);
	}
	arena_reset(v->c->arena);
	return 0;
}

int
entity_verify(const struct conf *conf, size_t *problems, const char **why)
{
	struct store		*st = NULL;
	struct store_txn	*t = NULL;
	struct arena		*a;
	struct ectx		 c;
	struct vctx		 v;
	size_t			 i, f;
	int			 rc, pids[8], nstale, k;

	*problems = 0;
	if ((rc = open_all(conf, &st, why)) != 0)
		return rc;
	/* A slot of a dead reader pins old pages until someone clears it. */
	if ((rc = store_reader_stale(st, pids, 8, &nstale)) != 0) {
		*why = "cannot read the LMDB reader table";
		entity_store_close(st);
		return rc;
	}
	for (k = 0; k < nstale && k < 8; k++)
		fprintf(stderr, "verify: LMDB reader slot held by dead process "
		    "%d\n", pids[k]);
	if (nstale > 0)
		fprintf(stderr, "verify: %d stale LMDB reader slot(s); the "
		    "master clears them when it starts or a worker dies\n",
		    nstale);
	*problems += (size_t)nstale;
	a = arena_new();
	entity_ctx(&c, a, conf, st);
	if ((rc = store_begin(st, 0, &t)) != 0)
		goto out;
	for (i = 0; i < entity_count(); i++) {
		memset(&v, 0, sizeof(v));
		v.c = &c;
		v.t = t;
		v.e = entity_at(i);
		if ((rc = store_iter(t, v.e->db_rec, 1, NULL, 0, verify_record,
		    &v)) != 0)
			goto out;
		for (f = 0; f < v.e->nfields; f++) {
			v.fi = f;
			if ((v.db_ix = v.e->db_ix[f]) >= 0 &&
			    (rc = store_iter(t, v.db_ix, 1, NULL, 0,
			    verify_entry, &v)) != 0)
				goto out;
			if (v.e->db_ox[f] >= 0) {
				size_t	 n;

				v.db_ix = -1;
				if ((rc = store_iter(t, v.e->db_ox[f], 1, NULL,
				    0, verify_entry, &v)) != 0)
					goto out;
				if ((rc = store_count(t, v.e->db_ox[f], &n))
				    != 0)
					goto out;
				if (n != v.records)
					problem(&v, "order index %s has %zu "
					    "entries for %zu records",
					    v.e->fields[f].name, n, v.records);
			}
		}
		fprintf(stderr, "verify: %s: %zu records checked\n",
		    v.e->name, v.records);
		*problems += v.problems;
	}
	if ((rc = engine_verify_files(conf, t, &f)) != 0)
		goto out;
	*problems += f;
out:
	store_abort(t);
	arena_free(a);
	entity_store_close(st);
	if (rc != 0 && *why == NULL)
		*why = error_reason(rc);
	return rc;
}
