/*
 * Attachment records: the record of a file already on disk, and the
 * parent's field that links to it (a Call's recordingId for a recording),
 * in one transaction: both or neither.
 */
#include <string.h>

#include "fastcrm/entity.h"
#include "fastcrm/error.h"

int
entity_attach(struct ectx *c, const struct attach_in *in, struct json **out)
{
	struct arena		 *a = c->arena;
	const struct entity	 *ae = entity_find("Attachment");
	const struct entity	 *pe;
	const struct field	 *pf;
	struct store_txn	**t;
	struct json		 *body, *prec, *upd;
	char			 *attr;
	int			  rc, trusted;

	if (ae == NULL)
		return entity_fail(c, FCRM_NOT_FOUND, "No Attachment entity.");
	body = json_obj(a);
	json_set(a, body, "id", json_str(a, in->id));
	json_set(a, body, "name", json_str(a, in->name));
	json_set(a, body, "type", json_str(a, in->type));
	json_set(a, body, "size", json_int(a, (long long)in->size));
	json_set(a, body, "field", json_str(a, in->field));
	json_set(a, body, "role", json_str(a, "Attachment"));
	if (in->parent_type != NULL && in->parent_id != NULL) {
		json_set(a, body, "parentType", json_str(a, in->parent_type));
		json_set(a, body, "parentId", json_str(a, in->parent_id));
	}
	if ((rc = entity_begin(c, 1, &t)) != 0)
		return rc;
	/*
	 * Trusted: the engine sets the read-only attributes (size, and the
	 * parent's link).  Access is not trusted: creating the attachment
	 * needs read on its parent (a link), and a field of the parent that
	 * links to it (Call's recordingId for field "recording") is an edit
	 * of the parent, checked as such by entity_update_in.
	 */
	pe = in->parent_type != NULL ? entity_find(in->parent_type) : NULL;
	attr = arena_printf(a, "%sId", in->field);
	pf = pe != NULL ? entity_field(pe, attr) : NULL;
	trusted = c->trusted;
	c->trusted = 1;
	rc = entity_create_in(c, *t, ae, body, out);
	if (rc == 0 && pf != NULL && pf->type == FT_LINK &&
	    pf->target != NULL && strcmp(pf->target, "Attachment") == 0) {
		upd = json_obj(a);
		json_set(a, upd, attr, json_str(a, in->id));
		rc = entity_update_in(c, *t, pe, in->parent_id, upd, &prec);
	}
	c->trusted = trusted;
	if (rc != 0)
		return rc;
	return entity_commit(c, t);
}
