/*
 * contacts: the Contact entity, the callers.
 */
#include <string.h>

#include "common.h"

static const char *const salutations[] = {
	"", "Mr.", "Ms.", "Mrs.", "Dr.", NULL
};

static const struct field fields[] = {
	ROW_ID,
	{ "name", FT_NAME, F_READONLY | F_INDEXED | F_TEXT, NULL, 0, NULL, NULL },
	{ "salutationName", FT_ENUM, 0, salutations, 0, "", NULL },
	{ "firstName", FT_VARCHAR, F_TEXT, NULL, 100, NULL, NULL },
	{ "lastName", FT_VARCHAR, F_REQUIRED | F_TEXT, NULL, 100, NULL, NULL },
	{ "title", FT_VARCHAR, 0, NULL, 100, NULL, NULL },
	{ "description", FT_TEXT, 0, NULL, 0, NULL, NULL },
	ROWS_EMAIL,
	ROWS_PHONE,
	{ "doNotCall", FT_BOOL, 0, NULL, 0, "false", NULL },
	ROWS_ADDRESS("address"),
	{ "accountId", FT_LINK, F_INDEXED, NULL, 0, NULL, "Account" },
	{ "accountName", FT_NAME, F_READONLY, NULL, 0, NULL, NULL },
	{ "accountsIds", FT_LINKMULTI, F_INDEXED, NULL, 0, NULL, "Account" },
	{ "accountsNames", FT_NAME, F_READONLY, NULL, 0, NULL, NULL },
	ROWS_SYSTEM,
	ROWS_ASSIGNED,
	ROW_END
};

static const struct link links[] = {
	{ "cases", "Case", LINK_FOREIGN, "contactsIds", NULL },
	{ "calls", "Call", LINK_FOREIGN, "contactsIds", NULL },
	{ "tasks", "Task", LINK_FOREIGN, "parentId", NULL },
	{ "accounts", "Account", LINK_SELF_MULTI, "accountsIds", NULL },
	LINK_END
};

static const struct entity_hooks hooks = {
	resource_person_name, NULL, NULL
};

static const char *const dups[] = { "name", "emailAddress", NULL };

const struct entity_def contacts_def = {
	"Contact", "contacts", fields, links, &hooks, 1, "createdAt", 1,
	dups, NULL
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
