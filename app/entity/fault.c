/*
 * The engine's calling context and its faults: what an engine call
 * returns besides its code.  Nothing here knows HTTP; app/http/fault.c
 * renders a fault for a client, the command line prints its reason.
 */
#include <stdarg.h>
#include <string.h>

#include "fastcrm/entity.h"
#include "fastcrm/error.h"

void
entity_ctx(struct ectx *c, struct arena *a, const struct conf *conf,
    struct store *st)
{
	memset(c, 0, sizeof(*c));
	c->arena = a;
	c->conf = conf;
	c->store = st;
	c->system = 1;
}

/* A new fault of code with the formatted reason; the rest cleared. */
static int
vfail(struct ectx *c, int code, const char *fmt, va_list ap)
{
	memset(&c->fault, 0, sizeof(c->fault));
	c->fault.code = code;
	c->fault.reason = arena_vprintf(c->arena, fmt, ap);
	return code;
}

int
entity_fail(struct ectx *c, int code, const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	vfail(c, code, fmt, ap);
	va_end(ap);
	return code;
}

int
entity_fail_conflict(struct ectx *c, const struct json *recs,
    const char *fmt, ...)
{
	struct json	*list;
	va_list		 ap;

	va_start(ap, fmt);
	vfail(c, FCRM_CONFLICT, fmt, ap);
	va_end(ap);
	if (recs->type != JSON_ARRAY) {
		list = json_arr(c->arena);
		json_push(c->arena, list, (struct json *)recs);
		recs = list;
	}
	c->fault.kind = FAULT_CONFLICT;
	c->fault.records = recs;
	return FCRM_CONFLICT;
}

int
entity_fail_validation(struct ectx *c, const struct entity *e,
    const char *field, const char *type)
{
	entity_fail(c, FCRM_VALIDATION, "Field validation failure; "
	    "entityType: %s, field: %s, type: %s.", e->name, field, type);
	c->fault.kind = FAULT_VALIDATION;
	c->fault.entity = e->name;
	c->fault.field = field;
	c->fault.type = type;
	return FCRM_VALIDATION;
}

const char *
entity_reason(const struct ectx *c, int code)
{
	if (c->fault.code == code && c->fault.reason != NULL)
		return c->fault.reason;
	return error_reason(code);
}
