/*
 * Handlers of the record routes: each reads what the route captured and
 * the body, calls the engine with the request's context, and renders the
 * answer or the engine's fault (http_fault).  The route's role check has
 * happened in route_dispatch; every record is reached through entity_load,
 * which checks it (app/entity/access.c).
 */
#include <string.h>
#include <strings.h>

#include "fastcrm/entity.h"
#include "fastcrm/error.h"
#include "fastcrm/route.h"
#include "fastcrm/store.h"

/* "true" or "1" in a header or a query parameter. */
static int
yes(const char *v)
{
	return v != NULL && (strcasecmp(v, "true") == 0 || strcmp(v, "1") == 0);
}

enum list_kind { LIST_ALL, LIST_RELATED, LIST_STREAM };

/* A list answered: the query string's parameters and X-No-Total. */
static int
list_answer(struct req *r, enum list_kind kind)
{
	struct ectx		 c;
	struct list_args	 la;
	int			 rc;

	http_ectx(r, &c);
	la.params = r->params;
	la.no_total = yes(http_param(r, HP_X_NO_TOTAL));
	if (kind == LIST_RELATED)
		rc = entity_list_related(&c, r->ent, r->id, r->link, &la,
		    &r->out);
	else if (kind == LIST_STREAM)
		rc = entity_stream(&c, r->ent, r->id, &la, &r->out);
	else
		rc = entity_list(&c, r->ent, &la, &r->out);
	return rc != 0 ? http_fault(r, &c, rc) : 0;
}

int
entity_h_list(struct req *r)
{
	return list_answer(r, LIST_ALL);
}

/* 404 naming the route's record, or the fault. */
static int
record_fault(struct req *r, struct ectx *c, int rc)
{
	if (rc == FCRM_NOT_FOUND && c->fault.code != rc)
		return http_fail(r, rc, "Record %s '%.64s' not found.",
		    r->ent->name, r->id);
	return http_fault(r, c, rc);
}

int
entity_h_read(struct req *r)
{
	struct store_txn	**t;
	struct store_val	  raw;
	struct ectx		  c;
	int			  rc;

	http_ectx(r, &c);
	if ((rc = entity_begin(&c, 0, &t)) != 0 ||
	    (rc = entity_load(&c, *t, r->ent, r->id, ACT_READ, NULL,
	    &raw)) != 0)
		return record_fault(r, &c, rc);
	/* The stored bytes are the answer: no re-encoding. */
	buf_add(&r->out, raw.p, raw.len);
	return 0;
}

int
entity_h_create(struct req *r)
{
	struct json	*body, *rec;
	struct ectx	 c;
	const char	*skip;
	int		 rc;

	if ((rc = http_body_object(r, &body)) != 0)
		return rc;
	http_ectx(r, &c);
	/* The header, or (beyond EspoCRM) a query parameter for clients
	   that cannot send headers, such as Ringotel's hooks. */
	if ((skip = http_param(r, HP_X_SKIP_DUPLICATE_CHECK)) == NULL)
		skip = json_gets(r->params, "skipDuplicateCheck");
	c.skip_dups = yes(skip);
	if ((rc = entity_create(&c, r->ent, body, &rec)) != 0)
		return http_fault(r, &c, rc);
	entity_write_rec(&c, rec, &r->out);
	return 0;
}

int
entity_h_update(struct req *r)
{
	struct json	*body, *rec;
	struct ectx	 c;
	int		 rc;

	if ((rc = http_body_object(r, &body)) != 0)
		return rc;
	http_ectx(r, &c);
	if ((rc = entity_update(&c, r->ent, r->id, body, &rec)) != 0)
		return http_fault(r, &c, rc);
	entity_write_rec(&c, rec, &r->out);
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
	struct ectx	 c;
	int		 rc;

	http_ectx(r, &c);
	if ((rc = entity_delete(&c, r->ent, r->id)) != 0)
		return http_fault(r, &c, rc);
	buf_adds(&r->out, "true");
	return 0;
}

int
entity_h_related(struct req *r)
{
	return list_answer(r, LIST_RELATED);
}

int
entity_h_stream(struct req *r)
{
	return list_answer(r, LIST_STREAM);
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
	if ((v = json_as_list(r->arena, json_get(body, "ids"))) != NULL)
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
	struct ectx	 c;
	int		 rc;

	if ((rc = link_ids(r, &ids)) != 0)
		return rc;
	http_ectx(r, &c);
	if ((rc = entity_relate(&c, r->ent, r->id, r->link, ids, add)) != 0)
		return http_fault(r, &c, rc);
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
