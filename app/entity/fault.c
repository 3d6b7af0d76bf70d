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

int
entity_fail(struct ectx *c, int code, const char *fmt, ...)
{
	va_list	 ap;

	memset(&c->fault, 0, sizeof(c->fault));
	c->fault.code = code;
	va_start(ap, fmt);
	c->fault.reason = arena_vprintf(c->arena, fmt, ap);
	va_end(ap);
	return code;
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
