/*
 * companies: the Account entity (Ringotel's "Organizations").
 */
#include "common.h"

static const char *const types[] = {
	"", "Customer", "Investor", "Partner", "Reseller", NULL
};

static const struct field fields[] = {
	ROW_ID,
	{ .name = "name", .type = FT_VARCHAR,
	    .flags = F_REQUIRED | F_INDEXED | F_TEXT, .max_length = 249 },
	{ .name = "website", .type = FT_VARCHAR, .max_length = 255 },
	ROWS_EMAIL,
	ROWS_PHONE,
	{ .name = "type", .type = FT_ENUM, .options = types, .def = "" },
	{ .name = "industry", .type = FT_VARCHAR, .max_length = 100 },
	{ .name = "description", .type = FT_TEXT },
	ROWS_ADDRESS("billingAddress"),
	ROWS_SYSTEM,
	ROWS_ASSIGNED,
	ROW_END
};

static const struct link links[] = {
	{ .name = "contacts", .foreign = "Contact", .kind = LINK_FOREIGN,
	    .attr = "accountsIds" },
	{ .name = "cases", .foreign = "Case", .kind = LINK_FOREIGN,
	    .attr = "accountId" },
	{ .name = "calls", .foreign = "Call", .kind = LINK_FOREIGN,
	    .attr = "parentId" },
	LINK_END
};

static const char *const dups[] = { "name", "emailAddress", NULL };

const struct entity_def companies_def = {
	.name = "Account",
	.module = "companies",
	.fields = fields,
	.links = links,
	.has_assignee = 1,
	.order_by = "createdAt",
	.order_desc = 1,
	.dup_attrs = dups,
};
