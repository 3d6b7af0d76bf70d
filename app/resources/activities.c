/*
 * activities: Call, Task, Note and Attachment — what happens around a
 * contact or a case.
 */
#include <string.h>
#include <time.h>

#include "common.h"
#include "fastcrm/util.h"

#define PARENTS	"Account,Contact,Case"

static const char *const call_statuses[] = {
	"Planned", "Held", "Not Held", NULL
};
static const char *const directions[] = { "Outbound", "Inbound", NULL };

static const struct field call_fields[] = {
	ROW_ID,
	{ .name = "name", .type = FT_VARCHAR, .flags = F_REQUIRED | F_TEXT,
	    .max_length = 255 },
	{ .name = "status", .type = FT_ENUM, .options = call_statuses,
	    .def = "Planned" },
	{ .name = "dateStart", .type = FT_DATETIME,
	    .flags = F_REQUIRED | F_ORDERED },
	{ .name = "dateEnd", .type = FT_DATETIME, .flags = F_REQUIRED },
	{ .name = "duration", .type = FT_INT, .flags = F_READONLY },
	{ .name = "direction", .type = FT_ENUM, .options = directions,
	    .def = "Outbound" },
	{ .name = "description", .type = FT_TEXT },
	ROWS_PARENT(PARENTS),
	{ .name = "contactsIds", .type = FT_LINKMULTI, .flags = F_INDEXED,
	    .target = "Contact" },
	{ .name = "contactsNames", .type = FT_NAME, .flags = F_READONLY },
	{ .name = "uid", .type = FT_VARCHAR,
	    .flags = F_INDEXED | F_UNIQUE | F_RETURN, .max_length = 255 },
	{ .name = "recordingId", .type = FT_LINK, .flags = F_READONLY,
	    .target = "Attachment" },
	{ .name = "recordingName", .type = FT_NAME, .flags = F_READONLY },
	ROWS_SYSTEM,
	ROWS_ASSIGNED,
	ROW_END
};

static const struct link call_links[] = {
	{ .name = "contacts", .foreign = "Contact", .kind = LINK_SELF_MULTI,
	    .attr = "contactsIds" },
	LINK_END
};

/* duration = dateEnd - dateStart, in seconds, never negative. */
static void
call_compute(struct arena *a, const struct entity *e, struct json *rec,
    const struct json *old)
{
	const char	*s, *t;
	long long	 ds, de;

	(void)e;
	(void)old;
	s = json_gets(rec, "dateStart");
	t = json_gets(rec, "dateEnd");
	/* A call logged while it rings has no end yet. */
	if (s != NULL && (t == NULL || *t == '\0')) {
		json_set(a, rec, "dateEnd", json_str(a, s));
		t = s;
	}
	/* A call whose parent is a contact is one of its calls, as EspoCRM. */
	{
		const char	*pt = json_gets(rec, "parentType");
		const char	*pid = json_gets(rec, "parentId");
		struct json	*ids = json_get(rec, "contactsIds");
		size_t		 i;

		if (pt != NULL && pid != NULL && strcmp(pt, "Contact") == 0) {
			if (ids == NULL || ids->type != JSON_ARRAY) {
				ids = json_arr(a);
				json_set(a, rec, "contactsIds", ids);
			}
			for (i = 0; i < ids->n; i++)
				if (ids->v[i]->type == JSON_STRING &&
				    strcmp(ids->v[i]->s, pid) == 0)
					break;
			if (i == ids->n)
				json_push(a, ids, json_str(a, pid));
		}
	}
	if (s == NULL || t == NULL || util_datetime_epoch(s, &ds) != 0 ||
	    util_datetime_epoch(t, &de) != 0)
		return;
	json_set(a, rec, "duration", json_int(a, de > ds ? de - ds : 0));
}

static const struct entity_hooks call_hooks = {
	.compute = call_compute,
};

const struct entity_def calls_def = {
	.name = "Call",
	.module = "activities",
	.fields = call_fields,
	.links = call_links,
	.hooks = &call_hooks,
	.has_assignee = 1,
	.order_by = "dateStart",
	.order_desc = 1,
};

static const char *const task_statuses[] = {
	"Not Started", "Started", "Completed", "Canceled", "Deferred", NULL
};
static const char *const priorities[] = {
	"Low", "Normal", "High", "Urgent", NULL
};

static const struct field task_fields[] = {
	ROW_ID,
	{ .name = "name", .type = FT_VARCHAR, .flags = F_REQUIRED | F_TEXT,
	    .max_length = 255 },
	{ .name = "status", .type = FT_ENUM, .options = task_statuses,
	    .def = "Not Started" },
	{ .name = "priority", .type = FT_ENUM, .options = priorities,
	    .def = "Normal" },
	{ .name = "dateStart", .type = FT_DATETIME },
	{ .name = "dateEnd", .type = FT_DATETIME },
	{ .name = "description", .type = FT_TEXT },
	ROWS_PARENT(PARENTS),
	ROWS_SYSTEM,
	ROWS_ASSIGNED,
	ROW_END
};

const struct entity_def tasks_def = {
	.name = "Task",
	.module = "activities",
	.fields = task_fields,
	.has_assignee = 1,
	.order_by = "createdAt",
	.order_desc = 1,
};

static const char *const note_types[] = {
	"Post", "Create", "Update", "Status", "Relate", NULL
};

static const struct field note_fields[] = {
	ROW_ID,
	{ .name = "post", .type = FT_TEXT, .flags = F_TEXT },
	{ .name = "type", .type = FT_ENUM, .options = note_types,
	    .def = "Post" },
	{ .name = "number", .type = FT_INT, .flags = F_READONLY },
	ROWS_PARENT(PARENTS ",Call,Task"),
	ROWS_SYSTEM,
	ROW_END
};

/* A Post needs its text. */
static int
note_validate(const struct entity *e, const struct json *rec,
    const char **field, const char **type)
{
	const char	*t, *post;

	(void)e;
	t = json_gets(rec, "type");
	post = json_gets(rec, "post");
	if ((t == NULL || strcmp(t, "Post") == 0) &&
	    (post == NULL || *post == '\0')) {
		*field = "post";
		*type = "required";
		return -1;
	}
	return 0;
}

static const struct entity_hooks note_hooks = {
	.validate = note_validate,
};

const struct entity_def notes_def = {
	.name = "Note",
	.module = "activities",
	.fields = note_fields,
	.hooks = &note_hooks,
	.order_by = "createdAt",
	.order_desc = 1,
	.counter = "Note",
};

static const struct field attachment_fields[] = {
	ROW_ID,
	{ .name = "name", .type = FT_VARCHAR, .flags = F_TEXT,
	    .max_length = 255 },
	{ .name = "type", .type = FT_VARCHAR, .max_length = 100 },
	{ .name = "size", .type = FT_INT, .flags = F_READONLY },
	{ .name = "field", .type = FT_VARCHAR, .max_length = 100 },
	{ .name = "role", .type = FT_VARCHAR, .max_length = 100,
	    .def = "Attachment" },
	{ .name = "relatedType", .type = FT_VARCHAR, .max_length = 100 },
	ROWS_PARENT(PARENTS ",Call,Note"),
	ROWS_SYSTEM,
	ROW_END
};

const struct entity_def attachments_def = {
	.name = "Attachment",
	.module = "activities",
	.fields = attachment_fields,
	.order_by = "createdAt",
	.order_desc = 1,
};
