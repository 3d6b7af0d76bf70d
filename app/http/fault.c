/*
 * The one place an engine fault becomes an HTTP answer: the status from
 * the error table, the reason as X-Status-Reason, and for EspoCRM's
 * structured errors the body its clients read (validationFailure, the
 * records of a 409, the labels of a refused relation).
 */
#include <string.h>

#include "fastcrm/entity.h"
#include "fastcrm/error.h"
#include "fastcrm/http.h"

void
http_ectx(struct req *r, struct ectx *c)
{
	memset(c, 0, sizeof(*c));
	c->arena = r->arena;
	c->conf = r->conf;
	c->store = r->store;
	c->who = r->who;
}

/* {"messageTranslation":{"label":L,"scope":null,"data":data}} */
static void
translated(struct req *r, const char *label, struct json *data)
{
	struct arena	*a = r->arena;
	struct json	*body, *mt;

	body = json_obj(a);
	mt = json_obj(a);
	json_set(a, mt, "label", json_str(a, label));
	json_set(a, mt, "scope", json_null(a));
	json_set(a, mt, "data", data);
	json_set(a, body, "messageTranslation", mt);
	r->out.len = 0;
	json_write(&r->out, body);
	r->error_body = 1;
}

int
http_fault(struct req *r, const struct ectx *c, int code)
{
	const struct fault	*f = &c->fault;
	struct arena		*a = r->arena;
	struct json		*data;

	if (f->code == code && f->reason != NULL)
		http_fail(r, code, "%s", f->reason);
	else
		http_fail(r, code, "%s", error_reason(code));
	if (f->code != code)
		return code;
	switch (f->kind) {
	case FAULT_VALIDATION:
		data = json_obj(a);
		json_set(a, data, "field", json_str(a, f->field));
		json_set(a, data, "type", json_str(a, f->type));
		translated(r, "validationFailure", data);
		break;
	case FAULT_RELATE:
		data = json_obj(a);
		json_set(a, data, "foreignEntityType", json_str(a, f->foreign));
		if (f->action != NULL)
			json_set(a, data, "action", json_str(a, f->action));
		translated(r, f->label, data);
		break;
	case FAULT_CONFLICT:
		r->out.len = 0;
		json_write(&r->out, f->records);
		r->error_body = 1;
		break;
	default:
		break;
	}
	return code;
}
