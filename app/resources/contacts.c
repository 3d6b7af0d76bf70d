/*
 * contacts: the Contact entity, the callers.  A number given as
 * phoneNumber alone is a mobile's.
 */
#include "common.h"

static const char *const salutations[] = {
	"", "Mr.", "Ms.", "Mrs.", "Dr.", NULL
};

static const struct field fields[] = {
	ROW_ID,
	{ .name = "name", .type = FT_NAME,
	    .flags = F_READONLY | F_INDEXED | F_TEXT },
	{ .name = "salutationName", .type = FT_ENUM, .options = salutations,
	    .def = "" },
	{ .name = "firstName", .type = FT_VARCHAR, .flags = F_TEXT,
	    .max_length = 100 },
	{ .name = "lastName", .type = FT_VARCHAR, .flags = F_REQUIRED | F_TEXT,
	    .max_length = 100 },
	{ .name = "title", .type = FT_VARCHAR, .max_length = 100 },
	{ .name = "description", .type = FT_TEXT },
	ROWS_EMAIL,
	ROWS_PHONE,
	{ .name = "doNotCall", .type = FT_BOOL, .def = "false" },
	ROWS_ADDRESS("address"),
	{ .name = "accountId", .type = FT_LINK, .flags = F_INDEXED,
	    .target = "Account" },
	{ .name = "accountName", .type = FT_NAME, .flags = F_READONLY },
	{ .name = "accountsIds", .type = FT_LINKMULTI, .flags = F_INDEXED,
	    .target = "Account" },
	{ .name = "accountsNames", .type = FT_NAME, .flags = F_READONLY },
	ROWS_SYSTEM,
	ROWS_ASSIGNED,
	ROW_END
};

static const struct link links[] = {
	{ .name = "cases", .foreign = "Case", .kind = LINK_FOREIGN,
	    .attr = "contactsIds" },
	{ .name = "calls", .foreign = "Call", .kind = LINK_FOREIGN,
	    .attr = "contactsIds" },
	{ .name = "tasks", .foreign = "Task", .kind = LINK_FOREIGN,
	    .attr = "parentId" },
	{ .name = "accounts", .foreign = "Account", .kind = LINK_SELF_MULTI,
	    .attr = "accountsIds" },
	LINK_END
};

static const struct entity_hooks hooks = {
	.compute = resource_person_name,
};

static const char *const dups[] = { "name", "emailAddress", NULL };

const struct entity_def contacts_def = {
	.name = "Contact",
	.module = "contacts",
	.fields = fields,
	.links = links,
	.hooks = &hooks,
	.has_assignee = 1,
	.order_by = "createdAt",
	.order_desc = 1,
	.dup_attrs = dups,
	.phone_type = "Mobile",
};
