/*
 * Indexes: the keys of the equality (ix.Entity.attr) and ordered
 * (ox.Entity.attr) indexes of a record, writing a record together with
 * its index entries (engine_store_record) or removing both for good, the
 * ids under a key, and the checks that read the indexes: unique
 * attributes and EspoCRM's duplicate check.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fastcrm/entity.h"
#include "fastcrm/error.h"
#include "fastcrm/store.h"
#include "fastcrm/util.h"
#include "engine.h"
#include "normal.h"

/* Index keys of field fi of rec (normalised values), in the arena. */
size_t
engine_index_keys(struct arena *a, const struct entity *e, size_t fi,
    const struct json *rec, const char ***keys)
{
	const struct field	*f = &e->fields[fi];
	const struct json	*v;
	const char		**k, *s;
	size_t			 i, n = 0, m;

	*keys = NULL;
	if (f->type == FT_PHONE || f->type == FT_EMAIL) {
		/* An entry with nothing to compare by is not indexed. */
		m = normal_points(a, f, rec, &k);
		for (i = 0; i < m; i++)
			if (*k[i] != '\0')
				k[n++] = k[i];
		*keys = k;
		return n;
	}
	v = json_get(rec, f->name);
	if (v == NULL || v->type == JSON_NULL)
		return 0;
	if (v->type == JSON_ARRAY) {
		k = arena_alloc(a, (v->n + 1) * sizeof(*k));
		for (i = 0; i < v->n; i++)
			if (v->v[i]->type == JSON_STRING && v->v[i]->len > 0)
				k[n++] = v->v[i]->s;
		*keys = k;
		return n;
	}
	if ((s = normal_scalar(v)) == NULL || *s == '\0')
		return 0;
	k = arena_alloc(a, sizeof(*k));
	k[0] = normal_key(a, f, s);
	*keys = k;
	return 1;
}

/* The ordered-index key: a sortable form of the value, NUL, the id. */
char *
engine_order_key(struct arena *a, const struct field *f,
    const struct json *v, const char *id, size_t *len)
{
	struct buf	 b;
	const char	*s;
	long long	 n;

	buf_init(&b, a);
	s = normal_scalar(v);
	if (s != NULL && f->type == FT_INT) {
		n = strtoll(s, NULL, 10);
		buf_printf(&b, "%020llu", (unsigned long long)n +
		    9223372036854775808ULL);
	} else if (s != NULL) {
		s = util_lower(a, s);
		buf_add(&b, s, strlen(s) > 200 ? 200 : strlen(s));
	}
	buf_addc(&b, '\0');
	buf_adds(&b, id);
	*len = b.len;
	return b.p;
}

/* Adds (add != 0) or removes the index entries of rec. */
int
engine_index_apply(struct ectx *c, struct store_txn *t, const struct entity *e,
    const struct json *rec, int add)
{
	const char	**keys, *id;
	char		 *ok;
	size_t		  i, j, n, oklen;
	int		  rc;

	id = json_gets(rec, "id");
	for (i = 0; i < e->nfields; i++) {
		if (e->db_ix[i] >= 0) {
			n = engine_index_keys(c->arena, e, i, rec, &keys);
			for (j = 0; j < n; j++) {
				rc = add ? store_put(t, e->db_ix[i], keys[j],
				    strlen(keys[j]), id, UTIL_ID_LEN) :
				    store_del(t, e->db_ix[i], keys[j],
				    strlen(keys[j]), id, UTIL_ID_LEN);
				if (rc != 0)
					return rc;
			}
		}
		if (e->db_ox[i] >= 0) {
			ok = engine_order_key(c->arena, &e->fields[i],
			    json_get(rec, e->fields[i].name), id, &oklen);
			rc = add ? store_put(t, e->db_ox[i], ok, oklen, id,
			    UTIL_ID_LEN) : store_del(t, e->db_ox[i], ok, oklen,
			    NULL, 0);
			if (rc != 0)
				return rc;
		}
	}
	return 0;
}

/* Stores rec (replacing old, if any) with its index entries. */
int
engine_store_record(struct ectx *c, struct store_txn *t, const struct entity *e,
    const struct json *old, const struct json *rec)
{
	struct buf	 b;
	const char	*id;
	int		 rc;

	if (old != NULL && (rc = engine_index_apply(c, t, e, old, 0)) != 0)
		return rc;
	if (!json_truthy(json_get(rec, "deleted")) &&
	    (rc = engine_index_apply(c, t, e, rec, 1)) != 0)
		return rc;
	buf_init(&b, c->arena);
	json_write(&b, rec);
	id = json_gets(rec, "id");
	if ((rc = store_put(t, e->db_rec, id, strlen(id), b.p, b.len)) != 0)
		return rc;
	c->stored = rec;
	c->stored_raw = b.p;
	c->stored_len = b.len;
	return 0;
}

struct ids {
	struct arena	 *a;
	const char	**v;
	size_t		  n, cap;
};

static int
collect_id(void *arg, struct store_val k, struct store_val v)
{
	struct ids	 *ids = arg;
	const char	**nv;

	(void)k;
	if (ids->n == ids->cap) {
		ids->cap = ids->cap == 0 ? 8 : ids->cap * 2;
		nv = arena_alloc(ids->a, ids->cap * sizeof(*nv));
		if (ids->n > 0)
			memcpy(nv, ids->v, ids->n * sizeof(*nv));
		ids->v = nv;
	}
	ids->v[ids->n++] = arena_strndup(ids->a, v.p, v.len);
	return ids->n >= 100000 ? -1 : 0;
}

/* Ids under one key of an equality index (at most 100000). */
int
engine_index_ids(struct arena *a, struct store_txn *t, int db,
    const char *key, const char ***out, size_t *n)
{
	struct ids	 ids;
	int		 rc;

	memset(&ids, 0, sizeof(ids));
	ids.a = a;
	rc = store_iter_dups(t, db, key, strlen(key), collect_id, &ids);
	*out = ids.v;
	*n = ids.n;
	return rc;
}

/*
 * Unique attributes: FCRM_OK, or the existing record in *dup with
 * *ret = 1 when the field returns the existing record, 0 for a 409.  A
 * holder the caller may not read is a 409 without its data: *dup stays
 * NULL and *hidden names the attribute.
 */
int
engine_check_unique(struct ectx *c, struct store_txn *t, const struct entity *e,
    const struct json *rec, struct json **dup, int *ret, const char **hidden)
{
	const char	**keys, **ids, *self;
	size_t		  i, j, n, nids;
	int		  rc;

	*dup = NULL;
	*hidden = NULL;
	self = json_gets(rec, "id");
	for (i = 0; i < e->nfields; i++) {
		if (!(e->fields[i].flags & F_UNIQUE) || e->db_ix[i] < 0)
			continue;
		n = engine_index_keys(c->arena, e, i, rec, &keys);
		for (j = 0; j < n; j++) {
			if ((rc = engine_index_ids(c->arena, t, e->db_ix[i],
			    keys[j], &ids, &nids)) != 0)
				return rc;
			if (nids == 0 || (self != NULL &&
			    strcmp(ids[0], self) == 0 && nids == 1))
				continue;
			if (self != NULL && strcmp(ids[0], self) == 0)
				ids++;
			rc = entity_load(c, t, e, ids[0], ACT_NONE, dup, NULL);
			if (rc != 0)
				return rc == FCRM_NOT_FOUND ? 0 : rc;
			if (!entity_may(c, e, ACT_READ, *dup)) {
				*dup = NULL;
				*hidden = e->fields[i].name;
				return 0;
			}
			*ret = (e->fields[i].flags & F_RETURN) != 0;
			return 0;
		}
	}
	return 0;
}

/* EspoCRM's duplicate check: records that look like rec. */
int
engine_find_duplicates(struct ectx *c, struct store_txn *t, const struct entity *e,
    const struct json *rec, struct json **list)
{
	const struct field	*f;
	const char		**keys, **ids;
	struct json		*dup;
	size_t			  i, j, k, n, nids, fi;
	int			  rc;

	*list = json_arr(c->arena);
	for (i = 0; e->dup_attrs != NULL && e->dup_attrs[i] != NULL; i++) {
		f = entity_field(e, e->dup_attrs[i]);
		fi = (size_t)(f - e->fields);
		if (e->db_ix[fi] < 0)
			continue;
		n = engine_index_keys(c->arena, e, fi, rec, &keys);
		for (j = 0; j < n; j++) {
			if ((rc = engine_index_ids(c->arena, t, e->db_ix[fi],
			    keys[j], &ids, &nids)) != 0)
				return rc;
			for (k = 0; k < nids && (*list)->n < 20; k++) {
				/* EspoCRM's duplicate finder applies access
				   control: what the caller may not read is
				   no duplicate of theirs. */
				rc = entity_load(c, t, e, ids[k], ACT_NONE,
				    &dup, NULL);
				if (rc == FCRM_NOT_FOUND ||
				    (rc == 0 && !entity_may(c, e, ACT_READ, dup)))
					continue;
				if (rc != 0)
					return rc;
				json_push(c->arena, *list, dup);
			}
		}
	}
	return 0;
}

/* Removes rec for good with its index entries (purge, erase: erase.c). */
int
engine_remove(struct ectx *c, struct store_txn *t, const struct entity *e,
    const struct json *rec)
{
	const char	*id;
	int		 rc;

	if (!json_truthy(json_get(rec, "deleted")) &&
	    (rc = engine_index_apply(c, t, e, rec, 0)) != 0)
		return rc;
	id = json_gets(rec, "id");
	return store_del(t, e->db_rec, id, strlen(id), NULL, 0);
}
