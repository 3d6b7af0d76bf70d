/*
 * Link twins: a one-side link field and the many-side field that records
 * the same relationship (Contact.accountId and Contact.accountsIds, whose
 * ids Account's `contacts` lists; Case.contactId and Case.contactsIds;
 * Call.parentId of type Contact and Call.contactsIds).  As in EspoCRM they
 * are one truth: setting the one side relates it on the many side,
 * changing or unsetting it unrelates the old one, and unrelating the
 * one-side record on the many side unsets a link field (a parent stays:
 * EspoCRM keeps a call's parent apart from its contacts).
 *
 * The pairs are found from the entity's table, not listed: a link field
 * xId (target T) pairs with the link-multiple xsIds of the same target; a
 * parent field pairs with the link-multiple whose target is the parent's
 * type.
 */
#include <string.h>

#include "fastcrm/entity.h"
#include "fastcrm/json.h"
#include "engine.h"

/* The many-side twin of field f of e, or NULL. */
static const struct field *
twin_of(const struct entity *e, const struct field *f)
{
	const struct field	*m;
	size_t			 i, n;

	if (f->type == FT_PARENT) {
		for (i = 0; i < e->nfields; i++)
			if (e->fields[i].type == FT_LINKMULTI)
				return &e->fields[i];
		return NULL;
	}
	if (f->type != FT_LINK || (f->flags & F_READONLY) || f->target == NULL)
		return NULL;
	n = strlen(f->name);
	if (n < 3 || strcmp(f->name + n - 2, "Id") != 0)
		return NULL;
	for (i = 0; i < e->nfields; i++) {
		m = &e->fields[i];
		if (m->type == FT_LINKMULTI && m->target != NULL &&
		    strcmp(m->target, f->target) == 0 &&
		    strlen(m->name) == n + 2 &&
		    strncmp(m->name, f->name, n - 2) == 0 &&
		    strcmp(m->name + n - 2, "sIds") == 0)
			return m;
	}
	return NULL;
}

/* The one-side id of f in rec (for a parent: only of the twin's type). */
static const char *
one_id(const struct field *f, const struct field *m, const struct json *rec)
{
	const char	*id, *pt;

	if (rec == NULL || (id = json_gets(rec, f->name)) == NULL ||
	    *id == '\0')
		return NULL;
	if (f->type == FT_PARENT && ((pt = json_gets(rec, "parentType")) ==
	    NULL || m->target == NULL || strcmp(pt, m->target) != 0))
		return NULL;
	return id;
}

static int
has_id(const struct json *ids, const char *id)
{
	size_t	 i;

	for (i = 0; ids != NULL && ids->type == JSON_ARRAY && i < ids->n; i++)
		if (ids->v[i]->type == JSON_STRING &&
		    strcmp(ids->v[i]->s, id) == 0)
			return 1;
	return 0;
}

/* rec's many-side array attr with id added (add) or removed. */
static void
edit_ids(struct arena *a, struct json *rec, const char *attr, const char *id,
    int add)
{
	struct json	*ids, *n;
	size_t		 i;

	ids = json_get(rec, attr);
	if (add == has_id(ids, id))
		return;
	n = json_arr(a);
	for (i = 0; ids != NULL && ids->type == JSON_ARRAY && i < ids->n; i++)
		if (add || ids->v[i]->type != JSON_STRING ||
		    strcmp(ids->v[i]->s, id) != 0)
			json_push(a, n, ids->v[i]);
	if (add)
		json_push(a, n, json_str(a, id));
	json_set(a, rec, attr, n);
}

void
engine_link_twins(struct arena *a, const struct entity *e, struct json *rec,
    const struct json *old)
{
	const struct field	*f, *m;
	const char		*now, *was;
	size_t			 i;

	for (i = 0; i < e->nfields; i++) {
		f = &e->fields[i];
		if ((m = twin_of(e, f)) == NULL)
			continue;
		now = one_id(f, m, rec);
		was = one_id(f, m, old);
		if (was != NULL && (now == NULL || strcmp(now, was) != 0)) {
			/* Changed or unset: the old one is unrelated. */
			edit_ids(a, rec, m->name, was, 0);
		} else if (now != NULL && old != NULL && f->type == FT_LINK &&
		    has_id(json_get(old, m->name), now) &&
		    !has_id(json_get(rec, m->name), now)) {
			/* Unrelated on the many side: the one side goes. */
			json_set(a, rec, f->name, json_null(a));
			if (f->type == FT_PARENT)
				json_set(a, rec, "parentType", json_null(a));
			continue;
		}
		if (now != NULL)
			edit_ids(a, rec, m->name, now, 1);
	}
}

size_t
engine_twin_problems(const struct entity *e, const struct json *rec,
    const char **field)
{
	const struct field	*f, *m;
	const char		*id;
	size_t			 i, n = 0;

	for (i = 0; i < e->nfields; i++) {
		f = &e->fields[i];
		if ((m = twin_of(e, f)) == NULL ||
		    (id = one_id(f, m, rec)) == NULL)
			continue;
		if (!has_id(json_get(rec, m->name), id)) {
			*field = f->name;
			n++;
		}
	}
	return n;
}
