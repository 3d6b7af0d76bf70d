/*
 * Record writes: the create, update, delete and relate flows, and the
 * engine's transaction helpers (entity_begin, entity_commit,
 * entity_meta_put).  A write makes and checks its record from the body
 * before the write transaction opens (convert.c: CPU work, outside LMDB's
 * single writer); inside it does only what needs the stored records: the
 * merge with the old record, unique and duplicate checks, link names and
 * counters, then the record and every index entry change together or not
 * at all (index.c).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fastcrm/entity.h"
#include "fastcrm/error.h"
#include "fastcrm/log.h"
#include "fastcrm/store.h"
#include "fastcrm/util.h"
#include "engine.h"

/* Begins a txn that the arena aborts unless it was committed. */
int
entity_begin(struct ectx *c, int write, struct store_txn ***tp)
{
	struct store_txn	**t;
	int			  rc;

	t = arena_calloc(c->arena, 1, sizeof(*t));
	if ((rc = store_begin(c->store, write, t)) != 0)
		return entity_fail(c, rc, "%s", rc == FCRM_MAP_FULL ?
		    "Storage is full; raise map_size." :
		    "Cannot open a storage transaction.");
	arena_cleanup(c->arena, store_abort_cleanup, t);
	*tp = t;
	return 0;
}

int
entity_commit(struct ectx *c, struct store_txn **t)
{
	int	 rc;

	/* Past its memory ceiling a request writes nothing. */
	if (arena_over(c->arena)) {
		store_abort(*t);
		*t = NULL;
		return entity_fail(c, FCRM_TOO_LARGE, "The request passed "
		    "its memory ceiling (%zu bytes).", arena_limit(c->arena));
	}
	rc = store_commit(*t);
	*t = NULL;
	if (rc == FCRM_MAP_FULL)
		return entity_fail(c, rc, "Storage is full; raise map_size.");
	if (rc != 0)
		return entity_fail(c, rc, "Storage commit failed.");
	return 0;
}

void
entity_end(struct store_txn **t)
{
	store_abort(*t);
	*t = NULL;
}

static int
store_fail(struct ectx *c, int rc)
{
	if (rc == FCRM_MAP_FULL)
		return entity_fail(c, rc, "Storage is full; raise map_size.");
	if (c->fault.reason == NULL)
		return entity_fail(c, rc, "%s", error_reason(rc));
	return rc;
}

/* The route's record for act: 404 naming it, 403, or a store error. */
static int
load_for(struct ectx *c, struct store_txn *t, const struct entity *e,
    const char *id, enum action act, struct json **rec)
{
	int	 rc;

	rc = entity_load(c, t, e, id, act, rec, NULL);
	if (rc == FCRM_NOT_FOUND)
		return entity_fail(c, rc, "Record %s '%.64s' not found.",
		    e->name, id);
	return rc != 0 ? store_fail(c, rc) : 0;
}

static void
set_system(struct ectx *c, struct json *rec, int create)
{
	struct arena	*a = c->arena;
	const char	*id, *name;
	char		 now[20];

	/* No principal: the system user (apiusers.c) writes. */
	id = c->who != NULL ? c->who->id : ENTITY_SYSTEM_ID;
	name = c->who != NULL ? c->who->name : "system";
	util_now(now);
	if (create) {
		json_set(a, rec, "createdAt", json_str(a, now));
		json_set(a, rec, "createdById", json_str(a, id));
		json_set(a, rec, "createdByName", json_str(a, name));
	}
	json_set(a, rec, "modifiedAt", json_str(a, now));
	json_set(a, rec, "modifiedById", json_str(a, id));
	json_set(a, rec, "modifiedByName", json_str(a, name));
}

/*
 * The entity's prepare hook on body, before any write txn: *state for its
 * store hook (NULL when it has none).
 */
static int
hook_prepare(struct ectx *c, const struct entity *e, const struct json *body,
    void **state)
{
	*state = NULL;
	if (e->hooks == NULL || e->hooks->prepare == NULL)
		return 0;
	return e->hooks->prepare(c, e, body, state);
}

/* The entity's store hook, in t once rec is stored. */
static int
hook_store(struct ectx *c, struct store_txn *t, const struct entity *e,
    const struct json *rec, void *state)
{
	if (e->hooks == NULL || e->hooks->store == NULL)
		return 0;
	return e->hooks->store(c, t, e, rec, state);
}

/* Attributes an import keeps as exported (system values). */
static const char *const kept[] = {
	"createdAt", "modifiedAt", "createdById", "createdByName",
	"modifiedById", "modifiedByName", "number", NULL
};

/*
 * What a write makes of its body before the write txn opens: the prepare
 * hook's state and, for a create, the whole record made and checked; for
 * an update, the body's converted attributes and the validation fault
 * they gave, if any, answered once the record is known (a missing or
 * forbidden record is answered first, as EspoCRM does).
 */
struct draft {
	void		*state;		/* the prepare hook's */
	struct json	*rec;		/* create: the new record */
	struct json	*vals;		/* update: the body's attributes */
	struct fault	 bad;		/* update: code 0, or the fault */
};

/*
 * A create's work before its txn: the prepare hook, then the record from
 * defaults and body, its computed attributes and link twins, checked for
 * required attributes and by the validate hook.
 */
static int
create_draft(struct ectx *c, const struct entity *e, const struct json *body,
    struct draft *d)
{
	struct arena	*a = c->arena;
	struct json	*rec;
	int		 rc;

	memset(d, 0, sizeof(*d));
	if ((rc = hook_prepare(c, e, body, &d->state)) != 0)
		return rc;
	rec = json_obj(a);
	engine_set_defaults(c, e, rec);
	if ((rc = engine_apply_body(c, e, rec, body)) != 0)
		return rc;
	if (e->hooks != NULL && e->hooks->compute != NULL)
		e->hooks->compute(a, e, rec, NULL);
	engine_link_twins(a, e, rec, NULL);
	if ((rc = engine_check_required(c, e, rec)) != 0)
		return rc;
	d->rec = rec;
	return 0;
}

/*
 * Stores d's record in t: what needs the store (unique values,
 * duplicates, link names, the id, the counter) and the write.
 */
static int
create_in(struct ectx *c, struct store_txn *t, const struct entity *e,
    const struct json *body, const struct draft *d, struct json **out)
{
	struct arena		 *a = c->arena;
	struct json		 *rec = d->rec, *dup, *dups, *v;
	const char		 *hidden;
	char			  id[UTIL_ID_LEN + 1];
	long long		  num;
	size_t			  i;
	int			  rc, ret = 0;

	if ((rc = engine_check_unique(c, t, e, rec, &dup, &ret, &hidden)) != 0)
		return store_fail(c, rc);
	if (hidden != NULL)
		return entity_fail(c, FCRM_CONFLICT, "Duplicate: a %s you may "
		    "not read has this %s.", e->name, hidden);
	if (dup != NULL) {
		if (ret || engine_same_as_body(c, e, body, dup)) {
			*out = dup;
			return 0;
		}
		return entity_fail_conflict(c, dup, "Duplicate: a %s with "
		    "this unique value exists.", e->name);
	}
	if (e->dup_attrs != NULL && (!c->import || c->import_dups) &&
	    !c->skip_dups) {
		if ((rc = engine_find_duplicates(c, t, e, rec, &dups)) != 0)
			return store_fail(c, rc);
		for (i = 0; i < dups->n; i++)
			if (engine_same_as_body(c, e, body, dups->v[i])) {
				*out = dups->v[i];
				return 0;
			}
		if (dups->n > 0) {
			/* EspoCRM's reason, exactly; the way out goes to the
			   log (and the API notes). */
			log_info("409 duplicate: a similar %s exists; the "
			    "client may send X-Skip-Duplicate-Check: true to "
			    "create it anyway", e->name);
			return entity_fail_conflict(c, dups, "duplicate");
		}
	}
	if ((rc = engine_resolve_links(c, t, e, rec, NULL)) != 0)
		return rc;
	if ((c->trusted || c->import) && json_gets(body, "id") != NULL &&
	    util_id_valid(json_gets(body, "id")))
		snprintf(id, sizeof(id), "%s", json_gets(body, "id"));
	else
		util_id_new(id);
	if (c->import) {
		struct store_val sv;

		if (store_get(t, e->db_rec, id, UTIL_ID_LEN, &sv) == 0)
			return entity_fail(c, FCRM_CONFLICT, "A %s with id %s "
			    "exists already.", e->name, id);
	}
	json_set(a, rec, "id", json_str(a, id));
	json_set(a, rec, "deleted", json_bool(a, 0));
	set_system(c, rec, 1);
	if (e->counter != NULL) {
		v = c->import ? json_get(body, "number") : NULL;
		if (v != NULL && json_tonum(v, &(double){ 0 })) {
			json_set(a, rec, "number", json_int(a,
			    strtoll(v->s, NULL, 10)));
		} else {
			if ((rc = store_counter_next(t, engine_db_counters,
			    e->counter, &num)) != 0)
				return store_fail(c, rc);
			json_set(a, rec, "number", json_int(a, num));
		}
	}
	for (i = 0; c->import && kept[i] != NULL; i++)
		if ((v = json_get(body, kept[i])) != NULL &&
		    v->type == JSON_STRING && entity_field(e, kept[i]) != NULL)
			json_set(a, rec, kept[i], v);
	rec = engine_normalise(a, e, rec);
	if (e->hooks != NULL && e->hooks->guard != NULL &&
	    (rc = e->hooks->guard(c, t, e, NULL, rec, body)) != 0)
		return rc;
	if ((rc = engine_store_record(c, t, e, NULL, rec)) != 0 ||
	    (rc = hook_store(c, t, e, rec, d->state)) != 0)
		return store_fail(c, rc);
	*out = rec;
	return 0;
}

int
entity_create_in(struct ectx *c, struct store_txn *t, const struct entity *e,
    const struct json *body, struct json **out)
{
	struct draft	 d;
	int		 rc;

	if ((rc = create_draft(c, e, body, &d)) != 0)
		return rc;
	return create_in(c, t, e, body, &d, out);
}

void
entity_write_rec(const struct ectx *c, const struct json *rec, struct buf *out)
{

	if (rec != NULL && rec == c->stored)
		buf_add(out, c->stored_raw, c->stored_len);
	else
		json_write(out, rec);
}

int
entity_create(struct ectx *c, const struct entity *e, const struct json *body,
    struct json **out)
{
	struct store_txn	**t;
	struct draft		  d;
	int			  rc;

	if ((rc = create_draft(c, e, body, &d)) != 0)
		return rc;
	if ((rc = entity_begin(c, 1, &t)) != 0)
		return rc;
	if ((rc = create_in(c, *t, e, body, &d, out)) != 0)
		return rc;
	return entity_commit(c, t);
}

/*
 * An update's work before its txn: the prepare hook, then the body's
 * attributes converted and checked (the phone and email pairs merge with
 * the stored ones, in the txn).
 */
static int
update_draft(struct ectx *c, const struct entity *e, const struct json *body,
    struct draft *d)
{
	int	 rc;

	memset(d, 0, sizeof(*d));
	if ((rc = hook_prepare(c, e, body, &d->state)) != 0)
		return rc;
	d->vals = json_obj(c->arena);
	if (engine_convert_body(c, e, d->vals, body) != 0) {
		d->bad = c->fault;
		memset(&c->fault, 0, sizeof(c->fault));
	}
	return 0;
}

/*
 * Updates record id in t with d: the merge with the stored record, what
 * is checked on the merged record, and the write.
 */
static int
update_in(struct ectx *c, struct store_txn *t, const struct entity *e,
    const char *id, const struct json *body, const struct draft *d,
    struct json **out)
{
	struct arena		 *a = c->arena;
	struct json		 *old, *rec, *dup;
	const char		 *hidden;
	int			  rc, ret = 0;

	if ((rc = load_for(c, t, e, id, ACT_EDIT, &old)) != 0)
		return rc;
	if (d->bad.code != 0) {
		c->fault = d->bad;
		return d->bad.code;
	}
	rec = json_copy(a, old);
	engine_merge(a, rec, d->vals);
	if ((rc = engine_apply_points(c, e, rec, body)) != 0)
		return rc;
	if (e->hooks != NULL && e->hooks->compute != NULL)
		e->hooks->compute(a, e, rec, old);
	engine_link_twins(a, e, rec, old);
	if ((rc = engine_check_required(c, e, rec)) != 0)
		return rc;
	if ((rc = engine_check_unique(c, t, e, rec, &dup, &ret, &hidden)) != 0)
		return store_fail(c, rc);
	if (hidden != NULL)
		return entity_fail(c, FCRM_CONFLICT, "Duplicate: a %s you may "
		    "not read has this %s.", e->name, hidden);
	if (dup != NULL)
		return entity_fail_conflict(c, dup, "Duplicate: another %s "
		    "has this unique value.", e->name);
	if ((rc = engine_resolve_links(c, t, e, rec, old)) != 0)
		return rc;
	set_system(c, rec, 0);
	rec = engine_normalise(a, e, rec);
	if (e->hooks != NULL && e->hooks->guard != NULL &&
	    (rc = e->hooks->guard(c, t, e, old, rec, body)) != 0)
		return rc;
	if ((rc = engine_store_record(c, t, e, old, rec)) != 0 ||
	    (rc = hook_store(c, t, e, rec, d->state)) != 0)
		return store_fail(c, rc);
	*out = rec;
	return 0;
}

int
entity_update_in(struct ectx *c, struct store_txn *t, const struct entity *e,
    const char *id, const struct json *body, struct json **out)
{
	struct draft	 d;
	int		 rc;

	if ((rc = update_draft(c, e, body, &d)) != 0)
		return rc;
	return update_in(c, t, e, id, body, &d, out);
}

int
entity_update(struct ectx *c, const struct entity *e, const char *id,
    const struct json *body, struct json **out)
{
	struct store_txn	**t;
	struct draft		  d;
	int			  rc;

	if ((rc = update_draft(c, e, body, &d)) != 0)
		return rc;
	if ((rc = entity_begin(c, 1, &t)) != 0)
		return rc;
	if ((rc = update_in(c, *t, e, id, body, &d, out)) != 0)
		return rc;
	return entity_commit(c, t);
}

int
entity_delete(struct ectx *c, const struct entity *e, const char *id)
{
	struct store_txn	**t;
	struct json		 *old, *rec;
	int			  rc;

	if ((rc = entity_begin(c, 1, &t)) != 0)
		return rc;
	if ((rc = load_for(c, *t, e, id, ACT_DELETE, &old)) != 0)
		return rc;
	rec = json_copy(c->arena, old);
	json_set(c->arena, rec, "deleted", json_bool(c->arena, 1));
	set_system(c, rec, 0);
	if ((rc = engine_store_record(c, *t, e, old, rec)) != 0)
		return store_fail(c, rc);
	return entity_commit(c, t);
}

/* Adds or removes id in the array attribute attr of rec; 1 if changed. */
static int
ids_edit(struct arena *a, struct json *rec, const char *attr,
    const char *id, int add)
{
	struct json	*ids, *n;
	size_t		 i;
	int		 found = 0;

	ids = json_get(rec, attr);
	n = json_arr(a);
	for (i = 0; ids != NULL && ids->type == JSON_ARRAY && i < ids->n; i++) {
		if (ids->v[i]->type == JSON_STRING &&
		    strcmp(ids->v[i]->s, id) == 0) {
			found = 1;
			if (!add)
				continue;
		}
		json_push(a, n, ids->v[i]);
	}
	if (add && !found)
		json_push(a, n, json_str(a, id));
	json_set(a, rec, attr, n);
	return add != found;
}

/* Rewrites one record after a relation change. */
static int
rewrite(struct ectx *c, struct store_txn *t, const struct entity *e,
    const struct json *old, struct json *rec)
{
	int	 rc;

	if (e->hooks != NULL && e->hooks->compute != NULL)
		e->hooks->compute(c->arena, e, rec, old);
	engine_link_twins(c->arena, e, rec, old);
	if ((rc = engine_resolve_links(c, t, e, rec, old)) != 0)
		return rc;
	set_system(c, rec, 0);
	rec = engine_normalise(c->arena, e, rec);
	if ((rc = engine_store_record(c, t, e, old, rec)) != 0)
		return store_fail(c, rc);
	return 0;
}

int
entity_relate(struct ectx *c, const struct entity *e, const char *id,
    const struct link *l, const struct json *ids, int add)
{
	struct arena		 *a = c->arena;
	struct store_txn	**t;
	const struct entity	 *fe;
	const struct field	 *ff;
	struct json		 *self, *rec, *frec, *old;
	const char		 *fid;
	size_t			  i;
	int			  rc;

	if ((fe = entity_find(l->foreign)) == NULL)
		return entity_fail(c, FCRM_NOT_FOUND, "Link '%s' not found.",
		    l->name);
	if ((rc = entity_begin(c, 1, &t)) != 0)
		return rc;
	if ((rc = load_for(c, *t, e, id, ACT_EDIT, &self)) != 0)
		return rc;
	rec = json_copy(a, self);
	for (i = 0; i < ids->n; i++) {
		/* Relating changes the foreign record too: EspoCRM's link
		   check wants edit on both. */
		fid = ids->v[i]->s;
		if ((rc = entity_load_target(c, *t, fe, fid, ACT_EDIT,
		    &frec, NULL)) != 0)
			return store_fail(c, rc);
		if (l->kind == LINK_SELF_MULTI) {
			ids_edit(a, rec, l->attr, fid, add);
			continue;
		}
		ff = entity_field(fe, l->attr);
		old = frec;
		frec = json_copy(a, old);
		if (ff->type == FT_LINKMULTI) {
			if (!ids_edit(a, frec, l->attr, id, add))
				continue;
		} else if (add) {
			json_set(a, frec, l->attr, json_str(a, id));
			if (ff->type == FT_PARENT)
				json_set(a, frec, "parentType",
				    json_str(a, e->name));
		} else {
			if (json_gets(frec, l->attr) == NULL ||
			    strcmp(json_gets(frec, l->attr), id) != 0)
				continue;
			json_set(a, frec, l->attr, json_null(a));
			if (ff->type == FT_PARENT)
				json_set(a, frec, "parentType", json_null(a));
		}
		if ((rc = rewrite(c, *t, fe, old, frec)) != 0)
			return rc;
	}
	if (l->kind == LINK_SELF_MULTI &&
	    (rc = rewrite(c, *t, e, self, rec)) != 0)
		return rc;
	return entity_commit(c, t);
}
