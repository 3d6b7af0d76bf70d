/*
 * The resource table: one row per entity, in the order lists and exports
 * walk them.  Adding an entity is one file in app/resources/ declaring its
 * entity_def, its extern in common.h, and one row here.  Also the
 * helpers the resource modules share.
 */
#include "common.h"
#include "fastcrm/resources.h"

const struct entity_def *const resources[] = {
	&contacts_def,
	&companies_def,
	&cases_def,
	&users_def,
	&calls_def,
	&tasks_def,
	&notes_def,
	&attachments_def,
	NULL
};

void
resource_person_name(struct arena *a, const struct entity *e,
    struct json *rec, const struct json *old)
{
	const char	*first, *last;

	(void)e;
	(void)old;
	first = json_gets(rec, "firstName");
	last = json_gets(rec, "lastName");
	if (first == NULL || *first == '\0')
		json_set(a, rec, "name", json_str(a, last != NULL ? last : ""));
	else if (last == NULL || *last == '\0')
		json_set(a, rec, "name", json_str(a, first));
	else
		json_set(a, rec, "name",
		    json_str(a, arena_printf(a, "%s %s", first, last)));
}

void
resource_where_add(struct arena *a, struct json *items, const char *type,
    const char *attr, struct json *value)
{
	struct json	*it;

	it = json_obj(a);
	json_set(a, it, "type", json_str(a, type));
	json_set(a, it, "attribute", json_str(a, attr));
	if (value != NULL)
		json_set(a, it, "value", value);
	json_push(a, items, it);
}
