/*
 * companies: the Account entity (Ringotel's "Organizations").
 */
#include "common.h"

static const char *const types[] = {
	"", "Customer", "Investor", "Partner", "Reseller", NULL
};

static const struct field fields[] = {
	ROW_ID,
	{ "name", FT_VARCHAR, F_REQUIRED | F_INDEXED | F_TEXT, NULL, 249, NULL, NULL },
	{ "website", FT_VARCHAR, 0, NULL, 255, NULL, NULL },
	ROWS_EMAIL,
	ROWS_PHONE,
	{ "type", FT_ENUM, 0, types, 0, "", NULL },
	{ "industry", FT_VARCHAR, 0, NULL, 100, NULL, NULL },
	{ "description", FT_TEXT, 0, NULL, 0, NULL, NULL },
	ROWS_ADDRESS("billingAddress"),
	ROWS_SYSTEM,
	ROWS_ASSIGNED,
	ROW_END
};

static const struct link links[] = {
	{ "contacts", "Contact", LINK_FOREIGN, "accountsIds", NULL },
	{ "cases", "Case", LINK_FOREIGN, "accountId", NULL },
	{ "calls", "Call", LINK_FOREIGN, "parentId", NULL },
	LINK_END
};

static const char *const dups[] = { "name", "emailAddress", NULL };

const struct entity_def companies_def = {
	"Account", "companies", fields, links, NULL, 1, "createdAt", 1,
	dups, NULL
};
