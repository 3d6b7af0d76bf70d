/*
 * users: the User entity, the CRM's people (agents).  Secrets never leave.
 */
#include "common.h"

static const char *const types[] = {
	"regular", "admin", "api", "portal", "system", NULL
};

static const struct field fields[] = {
	ROW_ID,
	{ "userName", FT_VARCHAR, F_REQUIRED | F_INDEXED | F_UNIQUE | F_ORDERED | F_TEXT,
	    NULL, 50, NULL, NULL },
	{ "name", FT_NAME, F_READONLY | F_TEXT, NULL, 0, NULL, NULL },
	{ "firstName", FT_VARCHAR, 0, NULL, 100, NULL, NULL },
	{ "lastName", FT_VARCHAR, F_REQUIRED, NULL, 100, NULL, NULL },
	{ "title", FT_VARCHAR, 0, NULL, 100, NULL, NULL },
	{ "type", FT_ENUM, 0, types, 0, "regular", NULL },
	{ "isActive", FT_BOOL, 0, NULL, 0, "true", NULL },
	ROWS_EMAIL,
	ROWS_PHONE,
	{ "password", FT_PASSWORD, F_SECRET, NULL, 0, NULL, NULL },
	ROWS_SYSTEM,
	ROW_END
};

static const struct link links[] = {
	LINK_END
};

static const struct entity_hooks hooks = {
	resource_person_name, NULL
};

const struct entity_def users_def = {
	"User", "users", fields, links, &hooks, 0, "userName", 0, NULL, NULL
};
