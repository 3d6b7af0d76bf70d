/*
 * Handlers of the record routes: each reads what the route captured,
 * calls the engine, and renders.  The route's role check has happened in
 * route_dispatch; every record is reached through entity_load, which
 * checks it (access.c).
 */
#include <string.h>

#include "fastcrm/entity.h"
#include "fastcrm/error.h"
#include "fastcrm/route.h"
#include "fastcrm/store.h"
#include "engine.h"
#include "where.h"

int
entity_h_list(struct req *r)
{
	return entity_list(r, r->ent);
}

int
entity_h_read(struct req *r)
{
	struct store_txn	**t;
	struct store_val	  raw;
	int			  rc;

	if ((rc = engine_begin(r, 0, &t)) != 0)
		return rc;
	rc = entity_load(r, *t, r->ent, r->id, ACT_READ, NULL, &raw);
	if (rc == FCRM_NOT_FOUND)
		return http_fail(r, rc, "Record %s '%.64s' not found.",
		    r->ent->name, r->id);
	if (rc != 0)
		return r->reason != NULL ? rc :
		    http_fail(r, rc, "%s", error_reason(rc));
	/* The stored bytes are the answer: no re-encoding. */
	buf_add(&r->out, raw.p, raw.len);
	return 0;
}

int
entity_h_create(struct req *r)
{
	struct json	*body, *rec;
	int		 rc;

	if ((rc = http_body_object(r, &body)) != 0)
		return rc;
	if ((rc = entity_create(r, r->ent, body, &rec)) != 0)
		return rc;
	json_write(&r->out, rec);
	return 0;
}

int
entity_h_update(struct req *r)
{
	struct json	*body, *rec;
	int		 rc;

	if ((rc = http_body_object(r, &body)) != 0)
		return rc;
	if ((rc = entity_update(r, r->ent, r->id, body, &rec)) != 0)
		return rc;
	json_write(&r->out, rec);
	return 0;
}

/*
 * PUT/PATCH on a collection: EspoCRM answers 405.  CCAI's "Update an
 * account" row is printed that way, so the reason names the fix.
 */
int
entity_h_collection_put(struct req *r)
{
	http_add_header(r, "Allow", "GET, POST");
	return http_fail(r, FCRM_NO_METHOD, "%s needs a record id: send %s "
	    "/api/v1/%s/{id} (for CCAI's 'Update an account' row use "
	    "/api/v1/%s/{ACCOUNT_ID}).", r->method, r->method, r->ent->name,
	    r->ent->name);
}

int
entity_h_delete(struct req *r)
{
	int	 rc;

	if ((rc = entity_delete(r, r->ent, r->id)) != 0)
		return rc;
	buf_adds(&r->out, "true");
	return 0;
}

int
entity_h_related(struct req *r)
{
	return entity_list_related(r, r->ent, r->id, r->link);
}

int
entity_h_stream(struct req *r)
{
	return entity_stream(r, r->ent, r->id);
}

/* The ids of a link body: {"id": ".."} or {"ids": [..]}. */
static int
link_ids(struct req *r, struct json **ids)
{
	struct json	*body, *v;
	size_t		 i;
	int		 rc;

	if ((rc = http_body_object(r, &body)) != 0)
		return rc;
	*ids = json_arr(r->arena);
	if ((v = json_get(body, "id")) != NULL && v->type == JSON_STRING)
		json_push(r->arena, *ids, v);
	if ((v = where_as_list(r->arena, json_get(body, "ids"))) != NULL)
		for (i = 0; i < v->n; i++) {
			if (v->v[i]->type != JSON_STRING)
				return http_fail(r, FCRM_BAD_REQUEST, "Link "
				    "ids must be strings.");
			json_push(r->arena, *ids, v->v[i]);
		}
	if ((*ids)->n == 0)
		return http_fail(r, FCRM_BAD_REQUEST, "Link body needs 'id' or "
		    "'ids'.");
	if ((*ids)->n > 200)
		return http_fail(r, FCRM_BAD_REQUEST, "Too many ids (more than "
		    "200).");
	return 0;
}

static int
relate(struct req *r, int add)
{
	struct json	*ids;
	int		 rc;

	if ((rc = link_ids(r, &ids)) != 0)
		return rc;
	if ((rc = entity_relate(r, r->ent, r->id, r->link, ids, add)) != 0)
		return rc;
	buf_adds(&r->out, "true");
	return 0;
}

int
entity_h_link(struct req *r)
{
	return relate(r, 1);
}

int
entity_h_unlink(struct req *r)
{
	return relate(r, 0);
}
