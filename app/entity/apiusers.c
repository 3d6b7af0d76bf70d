/*
 * API users as User records (EspoCRM's type "api"): every configured
 * principal (api_users) has a User record with its id, so that each
 * createdById, modifiedById and assignedUserId resolves with GET
 * /User/{id}.  The configuration stays the source of their credentials and
 * role; the record only mirrors the name, and is written at start and on
 * every reload.  A principal no longer configured keeps its record
 * (history still points at it), marked isActive false.  The system user
 * (type "system", the id imports are made by) gets one as well.
 */
#include <stdlib.h>
#include <string.h>

#include "fastcrm/conf.h"
#include "fastcrm/entity.h"
#include "fastcrm/error.h"
#include "fastcrm/log.h"
#include "fastcrm/store.h"
#include "engine.h"

struct stale {
	struct arena	 *a;
	const struct conf *conf;
	const char	**ids;
	size_t		  n, cap;
};

/* The configured principal with this id, or NULL. */
static const struct conf_user *
configured(const struct conf *conf, const char *id)
{
	size_t	 i;

	for (i = 0; i < conf->nusers; i++)
		if (strcmp(conf->users[i].id, id) == 0)
			return &conf->users[i];
	return NULL;
}

/* Collects active api-type User records that no principal backs. */
static int
collect_stale(void *arg, struct store_val k, struct store_val v)
{
	struct stale	 *s = arg;
	struct json	 *rec;
	const char	 *why, *type, *id, **nv;

	(void)k;
	if (json_parse(s->a, v.p, v.len, &rec, &why) != 0)
		return 0;
	type = json_gets(rec, "type");
	id = json_gets(rec, "id");
	if (type == NULL || id == NULL || strcmp(type, "api") != 0 ||
	    json_truthy(json_get(rec, "deleted")) ||
	    !json_truthy(json_get(rec, "isActive")) ||
	    configured(s->conf, id) != NULL)
		return 0;
	if (s->n == s->cap) {
		s->cap = s->cap == 0 ? 8 : s->cap * 2;
		nv = arena_alloc(s->a, s->cap * sizeof(*nv));
		if (s->n > 0)
			memcpy(nv, s->ids, s->n * sizeof(*nv));
		s->ids = nv;
	}
	s->ids[s->n++] = arena_strdup(s->a, id);
	return 0;
}

/*
 * Creates or refreshes the User record id (userName name, of type), made
 * by itself.
 */
static int
sync_one(struct ectx *c, struct store_txn *t, const struct entity *e,
    const char *id, const char *name, const char *type)
{
	struct arena		*a = c->arena;
	struct principal	*p;
	struct json		*old, *body, *out;
	const char		*un, *ty;
	int			 rc;

	p = arena_calloc(a, 1, sizeof(*p));
	p->id = id;
	p->name = name;
	p->user_name = name;
	p->type = type;
	p->admin = 1;
	c->who = p;
	memset(&c->fault, 0, sizeof(c->fault));
	body = json_obj(a);
	json_set(a, body, "userName", json_str(a, name));
	json_set(a, body, "type", json_str(a, type));
	json_set(a, body, "isActive", json_bool(a, 1));
	rc = entity_load(c, t, e, id, ACT_NONE, &old, NULL);
	if (rc == FCRM_NOT_FOUND) {
		json_set(a, body, "id", json_str(a, id));
		json_set(a, body, "lastName", json_str(a, name));
		rc = entity_create_in(c, t, e, body, &out);
	} else if (rc == 0) {
		un = json_gets(old, "userName");
		ty = json_gets(old, "type");
		if (un != NULL && strcmp(un, name) == 0 && ty != NULL &&
		    strcmp(ty, type) == 0 &&
		    json_truthy(json_get(old, "isActive")))
			return 0;
		rc = entity_update_in(c, t, e, id, body, &out);
	}
	if (rc == FCRM_CONFLICT || rc == FCRM_VALIDATION) {
		log_warn("%s user '%s' has no User record: %s", type, name,
		    c->fault.reason != NULL ? c->fault.reason : "refused");
		return 0;
	}
	return rc;
}

int
entity_sync_api_users(const struct conf *conf, struct store *st,
    const char **why)
{
	const struct entity	*e;
	struct store_txn	**t;
	struct arena		*a;
	struct json		*body, *out;
	struct stale		 s;
	struct principal	 sys;
	struct ectx		 c;
	size_t			 i;
	int			 rc;

	*why = NULL;
	if ((e = entity_find("User")) == NULL)
		return 0;
	a = arena_new();
	entity_ctx(&c, a, conf, st);
	c.trusted = 1;		/* the record takes the principal's id */
	if ((rc = entity_begin(&c, 1, &t)) != 0)
		goto out;
	for (i = 0; i < conf->nusers; i++)
		if ((rc = sync_one(&c, *t, e, conf->users[i].id,
		    conf->users[i].name, "api")) != 0)
			goto out;
	/* Who imports (bulk.c) and other system writes: EspoCRM's system
	   user. */
	if ((rc = sync_one(&c, *t, e, ENTITY_SYSTEM_ID, "system", "system"))
	    != 0)
		goto out;
	memset(&s, 0, sizeof(s));
	s.a = a;
	s.conf = conf;
	if ((rc = store_iter_from(*t, e->db_rec, NULL, 0, collect_stale,
	    &s)) != 0)
		goto out;
	for (i = 0; i < s.n; i++) {
		memset(&sys, 0, sizeof(sys));
		sys.id = s.ids[i];
		sys.name = "system";
		sys.type = "system";
		sys.admin = 1;
		c.who = &sys;
		body = json_obj(a);
		json_set(a, body, "isActive", json_bool(a, 0));
		if ((rc = entity_update_in(&c, *t, e, s.ids[i], body, &out))
		    != 0)
			goto out;
	}
	rc = entity_commit(&c, t);
out:
	if (rc != 0)
		*why = c.fault.reason != NULL ? "cannot write the api users' User "
		    "records" : error_reason(rc);
	arena_free(a);
	return rc;
}
