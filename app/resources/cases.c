/*
 * cases: the Case entity, one per call or chat session.
 */
#include "common.h"

static const char *const statuses[] = {
	"New", "Assigned", "Pending", "Closed", "Rejected", "Duplicate", NULL
};
static const char *const priorities[] = {
	"Low", "Normal", "High", "Urgent", NULL
};
static const char *const types[] = {
	"", "Question", "Incident", "Problem", NULL
};

static const struct field fields[] = {
	ROW_ID,
	{ "name", FT_VARCHAR, F_REQUIRED | F_TEXT, NULL, 255, NULL, NULL },
	{ "number", FT_INT, F_READONLY | F_ORDERED | F_TEXT, NULL, 0, NULL, NULL },
	{ "status", FT_ENUM, 0, statuses, 0, "New", NULL },
	{ "priority", FT_ENUM, 0, priorities, 0, "Normal", NULL },
	{ "type", FT_ENUM, 0, types, 0, "", NULL },
	{ "description", FT_TEXT, F_TEXT, NULL, 0, NULL, NULL },
	{ "accountId", FT_LINK, F_INDEXED, NULL, 0, NULL, "Account" },
	{ "accountName", FT_NAME, F_READONLY, NULL, 0, NULL, NULL },
	{ "contactId", FT_LINK, F_INDEXED, NULL, 0, NULL, "Contact" },
	{ "contactName", FT_NAME, F_READONLY, NULL, 0, NULL, NULL },
	{ "contactsIds", FT_LINKMULTI, F_INDEXED, NULL, 0, NULL, "Contact" },
	{ "contactsNames", FT_NAME, F_READONLY, NULL, 0, NULL, NULL },
	ROWS_SYSTEM,
	ROWS_ASSIGNED,
	ROW_END
};

static const struct link links[] = {
	{ "contacts", "Contact", LINK_SELF_MULTI, "contactsIds", NULL },
	{ "calls", "Call", LINK_FOREIGN, "parentId", NULL },
	{ "tasks", "Task", LINK_FOREIGN, "parentId", NULL },
	LINK_END
};

/* Setting the primary contact also links it in `contacts`, as EspoCRM. */
static void
case_compute(struct arena *a, const struct entity *e, struct json *rec,
    const struct json *old)
{
	const char	*cid;
	struct json	*ids;
	size_t		 i;

	(void)e;
	(void)old;
	if ((cid = json_gets(rec, "contactId")) == NULL || *cid == '\0')
		return;
	ids = json_get(rec, "contactsIds");
	if (ids == NULL || ids->type != JSON_ARRAY) {
		ids = json_arr(a);
		json_set(a, rec, "contactsIds", ids);
	}
	for (i = 0; i < ids->n; i++)
		if (ids->v[i]->type == JSON_STRING &&
		    json_equal(ids->v[i], json_get(rec, "contactId")))
			return;
	json_push(a, ids, json_str(a, cid));
}

static const struct entity_hooks hooks = { case_compute, NULL, NULL };

const struct entity_def cases_def = {
	"Case", "cases", fields, links, &hooks, 1, "number", 1, NULL, "Case"
};
