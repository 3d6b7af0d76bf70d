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
	{ "name", FT_VARCHAR, F_REQUIRED | F_TEXT, NULL, 255, NULL, NULL },
	{ "status", FT_ENUM, 0, call_statuses, 0, "Planned", NULL },
	{ "dateStart", FT_DATETIME, F_REQUIRED | F_ORDERED, NULL, 0, NULL, NULL },
	{ "dateEnd", FT_DATETIME, F_REQUIRED, NULL, 0, NULL, NULL },
	{ "duration", FT_INT, F_READONLY, NULL, 0, NULL, NULL },
	{ "direction", FT_ENUM, 0, directions, 0, "Outbound", NULL },
	{ "description", FT_TEXT, 0, NULL, 0, NULL, NULL },
	ROWS_PARENT(PARENTS),
	{ "contactsIds", FT_LINKMULTI, F_INDEXED, NULL, 0, NULL, "Contact" },
	{ "contactsNames", FT_NAME, F_READONLY, NULL, 0, NULL, NULL },
	{ "uid", FT_VARCHAR, F_INDEXED | F_UNIQUE | F_RETURN, NULL, 255, NULL, NULL },
	{ "recordingId", FT_LINK, F_READONLY, NULL, 0, NULL, "Attachment" },
	{ "recordingName", FT_NAME, F_READONLY, NULL, 0, NULL, NULL },
	ROWS_SYSTEM,
	ROWS_ASSIGNED,
	ROW_END
};

static const struct link call_links[] = {
	{ "contacts", "Contact", LINK_SELF_MULTI, "contactsIds", NULL },
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

static const struct entity_hooks call_hooks = { call_compute, NULL, NULL };

const struct entity_def calls_def = {
	"Call", "activities", call_fields, call_links, &call_hooks, 1,
	"dateStart", 1, NULL, NULL
};

static const char *const task_statuses[] = {
	"Not Started", "Started", "Completed", "Canceled", "Deferred", NULL
};
static const char *const priorities[] = {
	"Low", "Normal", "High", "Urgent", NULL
};

static const struct field task_fields[] = {
	ROW_ID,
	{ "name", FT_VARCHAR, F_REQUIRED | F_TEXT, NULL, 255, NULL, NULL },
	{ "status", FT_ENUM, 0, task_statuses, 0, "Not Started", NULL },
	{ "priority", FT_ENUM, 0, priorities, 0, "Normal", NULL },
	{ "dateStart", FT_DATETIME, 0, NULL, 0, NULL, NULL },
	{ "dateEnd", FT_DATETIME, 0, NULL, 0, NULL, NULL },
	{ "description", FT_TEXT, 0, NULL, 0, NULL, NULL },
	ROWS_PARENT(PARENTS),
	ROWS_SYSTEM,
	ROWS_ASSIGNED,
	ROW_END
};

static const struct link task_links[] = {
	LINK_END
};

const struct entity_def tasks_def = {
	"Task", "activities", task_fields, task_links, NULL, 1, "createdAt", 1,
	NULL, NULL
};

static const char *const note_types[] = {
	"Post", "Create", "Update", "Status", "Relate", NULL
};

static const struct field note_fields[] = {
	ROW_ID,
	{ "post", FT_TEXT, F_TEXT, NULL, 0, NULL, NULL },
	{ "type", FT_ENUM, 0, note_types, 0, "Post", NULL },
	{ "number", FT_INT, F_READONLY, NULL, 0, NULL, NULL },
	ROWS_PARENT(PARENTS ",Call,Task"),
	ROWS_SYSTEM,
	ROW_END
};

static const struct link note_links[] = {
	LINK_END
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

static const struct entity_hooks note_hooks = { NULL, note_validate, NULL };

const struct entity_def notes_def = {
	"Note", "activities", note_fields, note_links, &note_hooks, 0,
	"createdAt", 1, NULL, "Note"
};

static const struct field attachment_fields[] = {
	ROW_ID,
	{ "name", FT_VARCHAR, F_TEXT, NULL, 255, NULL, NULL },
	{ "type", FT_VARCHAR, 0, NULL, 100, NULL, NULL },
	{ "size", FT_INT, F_READONLY, NULL, 0, NULL, NULL },
	{ "field", FT_VARCHAR, 0, NULL, 100, NULL, NULL },
	{ "role", FT_VARCHAR, 0, NULL, 100, "Attachment", NULL },
	{ "relatedType", FT_VARCHAR, 0, NULL, 100, NULL, NULL },
	ROWS_PARENT(PARENTS ",Call,Note"),
	ROWS_SYSTEM,
	ROW_END
};

static const struct link attachment_links[] = {
	LINK_END
};

const struct entity_def attachments_def = {
	"Attachment", "activities", attachment_fields, attachment_links, NULL,
	0, "createdAt", 1, NULL, NULL
};
