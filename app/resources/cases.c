/*
 * cases: the Case entity, one per call or chat session; its primary
 * contact is one of its contacts, and lists know the open and closed
 * cases (primaryFilter).
 */
#include <string.h>

#include "common.h"
#include "fastcrm/error.h"

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
	{ .name = "name", .type = FT_VARCHAR, .flags = F_REQUIRED | F_TEXT,
	    .max_length = 255 },
	{ .name = "number", .type = FT_INT,
	    .flags = F_READONLY | F_ORDERED | F_TEXT },
	{ .name = "status", .type = FT_ENUM, .options = statuses,
	    .def = "New" },
	{ .name = "priority", .type = FT_ENUM, .options = priorities,
	    .def = "Normal" },
	{ .name = "type", .type = FT_ENUM, .options = types, .def = "" },
	{ .name = "description", .type = FT_TEXT, .flags = F_TEXT },
	{ .name = "accountId", .type = FT_LINK, .flags = F_INDEXED,
	    .target = "Account" },
	{ .name = "accountName", .type = FT_NAME, .flags = F_READONLY },
	{ .name = "contactId", .type = FT_LINK, .flags = F_INDEXED,
	    .target = "Contact" },
	{ .name = "contactName", .type = FT_NAME, .flags = F_READONLY },
	{ .name = "contactsIds", .type = FT_LINKMULTI, .flags = F_INDEXED,
	    .target = "Contact" },
	{ .name = "contactsNames", .type = FT_NAME, .flags = F_READONLY },
	ROWS_SYSTEM,
	ROWS_ASSIGNED,
	ROW_END
};

static const struct link links[] = {
	{ .name = "contacts", .foreign = "Contact", .kind = LINK_SELF_MULTI,
	    .attr = "contactsIds" },
	{ .name = "calls", .foreign = "Call", .kind = LINK_FOREIGN,
	    .attr = "parentId" },
	{ .name = "tasks", .foreign = "Task", .kind = LINK_FOREIGN,
	    .attr = "parentId" },
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

/* primaryFilter open / closed: by status, as EspoCRM's Case. */
static int
case_primary_filter(struct ectx *c, const struct entity *e, const char *pf,
    const struct json *where, struct json **items)
{
	struct arena	*a = c->arena;
	struct json	*vals;

	(void)e;
	(void)where;
	*items = NULL;
	if (pf == NULL || *pf == '\0')
		return 0;
	if (strcmp(pf, "open") != 0 && strcmp(pf, "closed") != 0)
		return entity_fail(c, FCRM_BAD_REQUEST, "Unknown "
		    "primaryFilter '%.64s'.", pf);
	vals = json_arr(a);
	json_push(a, vals, json_str(a, "Closed"));
	json_push(a, vals, json_str(a, "Rejected"));
	json_push(a, vals, json_str(a, "Duplicate"));
	*items = json_arr(a);
	resource_where_add(a, *items, strcmp(pf, "open") == 0 ? "notIn" : "in",
	    "status", vals);
	return 0;
}

static const struct entity_hooks hooks = {
	.compute = case_compute,
	.primary_filter = case_primary_filter,
};

const struct entity_def cases_def = {
	.name = "Case",
	.module = "cases",
	.fields = fields,
	.links = links,
	.hooks = &hooks,
	.has_assignee = 1,
	.order_by = "number",
	.order_desc = 1,
	.counter = "Case",
};
