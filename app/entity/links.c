/*
 * Link attributes' display names (xName, xsNames, parentName) and
 * EspoCRM's link check: a link the caller sets must name a record they
 * may read; principals (User) are named without one, a configured
 * principal by the configuration.  Reads the store in the write's txn.
 */
#include <stdio.h>
#include <string.h>

#include "fastcrm/conf.h"
#include "fastcrm/entity.h"
#include "fastcrm/error.h"
#include "engine.h"

/* The name of a configured principal with this id, or NULL. */
static const char *
principal_name(const struct conf *conf, const char *id)
{
	size_t	 i;

	/* The command line's own principal (import, migrate, erase). */
	if (strcmp(id, "00000000000000000") == 0)
		return "system";
	for (i = 0; i < conf->nusers; i++)
		if (strcmp(conf->users[i].id, id) == 0)
			return conf->users[i].name;
	return NULL;
}

/*
 * The display name of record id of entity target, for a link the caller
 * sets.  A link that the record already held (kept != NULL: its stored
 * name) is not the caller's doing and is not checked again; a new one
 * needs `read` on its target (EspoCRM's link check).  Principals (User)
 * are the exception: assigning a record to someone is not reading them,
 * and a configured principal is named by the configuration.
 */
static int
link_name(struct ectx *c, struct store_txn *t, const char *target,
    const char *id, const struct json *kept, const char **name)
{
	const struct entity	*te;
	struct store_val	 raw;
	struct json		*rec;
	const char		*n, *why;
	int			 rc;

	if ((te = entity_find(target)) == NULL)
		return entity_fail(c, FCRM_FORBIDDEN, "Record %s with id "
		    "'%.64s' does not exist.", target, id);
	if (te->principals && (n = principal_name(c->conf, id)) != NULL) {
		*name = n;
		return 0;
	}
	/* The stored bytes, checked without parsing where they can be:
	   only the name is wanted. */
	if (kept != NULL || te->principals) {
		rc = entity_load(c, t, te, id, ACT_NONE, NULL, &raw);
		if (rc == FCRM_NOT_FOUND && kept != NULL) {
			/* The target went away since: keep what we had. */
			*name = kept->type == JSON_STRING ? kept->s : "";
			return 0;
		}
		if (rc == FCRM_NOT_FOUND)
			rc = entity_load_target(c, t, te, id, ACT_NONE, NULL,
			    &raw);
	} else
		rc = entity_load_target(c, t, te, id, ACT_READ, NULL, &raw);
	if (rc != 0)
		return rc;
	switch (json_raw_get(c->arena, raw.p, raw.len, "name", &n)) {
	case 1:
		break;
	case 0:
		n = NULL;
		break;
	default:
		/* An escape in the name: parse the record. */
		if (json_parse(c->arena, raw.p, raw.len, &rec, &why) != 0)
			return entity_fail(c, FCRM_STORE, "A stored %s cannot "
			    "be read: %s", te->name, why);
		n = json_gets(rec, "name");
	}
	*name = n != NULL ? n : "";
	return 0;
}

/* The stored name of link id in old (NULL when old did not hold it). */
static const struct json *
kept_name(struct arena *a, const struct json *old, const char *attr,
    const char *nattr, const char *id)
{
	const struct json	*v, *names;
	size_t			 i;

	if (old == NULL || (v = json_get(old, attr)) == NULL)
		return NULL;
	if (v->type == JSON_STRING)
		return strcmp(v->s, id) == 0 ? json_get(old, nattr) : NULL;
	if (v->type != JSON_ARRAY)
		return NULL;
	for (i = 0; i < v->n; i++)
		if (v->v[i]->type == JSON_STRING && strcmp(v->v[i]->s, id) == 0) {
			names = json_get(old, nattr);
			v = names != NULL ? json_get(names, id) : NULL;
			return v != NULL ? v : json_str(a, "");
		}
	return NULL;
}

/* "xId" → "xName", "xsIds" → "xsNames". */
char *
engine_name_attr(struct arena *a, const char *attr)
{
	size_t	 n = strlen(attr);

	if (n > 3 && strcmp(attr + n - 3, "Ids") == 0)
		return arena_join(a, attr, n - 3, "Names");
	if (n > 2 && strcmp(attr + n - 2, "Id") == 0)
		return arena_join(a, attr, n - 2, "Name");
	return arena_join(a, attr, n, "Name");
}

/*
 * Fills every link's name attribute.  Links that differ from old (every
 * link of a new record) must name a record the caller may read.
 */
int
engine_resolve_links(struct ectx *c, struct store_txn *t, const struct entity *e,
    struct json *rec, const struct json *old)
{
	struct arena		*a = c->arena;
	const struct field	*f;
	const char		*id, *name, *ptype, *nattr;
	struct json		*ids, *names;
	char			 allowed[128], *tok, *save;
	size_t			 i, j;
	int			 rc, ok;

	for (i = 0; i < e->nfields; i++) {
		f = &e->fields[i];
		if (f->type == FT_LINK) {
			nattr = engine_name_attr(a, f->name);
			if ((id = json_gets(rec, f->name)) == NULL ||
			    *id == '\0') {
				/* No link, no name (an unset link kept its
				   old name before). */
				if (json_get(rec, nattr) != NULL)
					json_set(a, rec, nattr, json_null(a));
				continue;
			}
			if ((rc = link_name(c, t, f->target, id, kept_name(a,
			    old, f->name, nattr, id), &name)) != 0)
				return rc;
			json_set(a, rec, nattr, json_str(a, name));
		} else if (f->type == FT_LINKMULTI) {
			ids = json_get(rec, f->name);
			names = json_obj(a);
			nattr = engine_name_attr(a, f->name);
			for (j = 0; ids != NULL && ids->type == JSON_ARRAY &&
			    j < ids->n; j++) {
				id = ids->v[j]->s;
				if ((rc = link_name(c, t, f->target, id,
				    kept_name(a, old, f->name, nattr, id),
				    &name)) != 0)
					return rc;
				json_set(a, names, id, json_str(a, name));
			}
			json_set(a, rec, nattr, names);
		} else if (f->type == FT_PARENT) {
			id = json_gets(rec, "parentId");
			ptype = json_gets(rec, "parentType");
			if (id == NULL || *id == '\0') {
				json_set(a, rec, "parentType", json_null(a));
				json_set(a, rec, "parentName", json_null(a));
				continue;
			}
			if (ptype == NULL || *ptype == '\0')
				return entity_fail_validation(c, e,
				    "parentType", "required");
			snprintf(allowed, sizeof(allowed), "%s", f->target);
			ok = 0;
			for (tok = strtok_r(allowed, ",", &save); tok != NULL;
			    tok = strtok_r(NULL, ",", &save))
				if (strcmp(tok, ptype) == 0)
					ok = 1;
			if (!ok)
				return entity_fail_validation(c, e,
				    "parentType", "valid");
			if ((rc = link_name(c, t, ptype, id, old != NULL &&
			    json_gets(old, "parentType") != NULL &&
			    strcmp(json_gets(old, "parentType"), ptype) == 0 ?
			    kept_name(a, old, "parentId", "parentName", id) :
			    NULL, &name)) != 0)
				return rc;
			json_set(a, rec, "parentName", json_str(a, name));
		}
	}
	return 0;
}
