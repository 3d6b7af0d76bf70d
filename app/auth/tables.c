/*
 * Auth's own tables in the store.  auth owns their names and handles; the
 * engine only opens them with the rest (entity_tables_add): auth_init
 * registers them once at start, before any store is opened.  Sessions
 * and failed sign-ins are not carried into a backup (transient).
 */
#include <stddef.h>

#include "fastcrm/auth.h"
#include "fastcrm/entity.h"
#include "tables.h"

int	 auth_db_sessions = -1;
int	 auth_db_tokens = -1;
int	 auth_db_authfail = -1;
int	 auth_db_authtokens = -1;

static const struct entity_table tables[] = {
	{ .name = "sessions", .handle = &auth_db_sessions,
	  .flags = ENTITY_TABLE_TRANSIENT },
	{ .name = "tokens", .handle = &auth_db_tokens },
	{ .name = "authfail", .handle = &auth_db_authfail,
	  .flags = ENTITY_TABLE_TRANSIENT },
	{ .name = "authtokens", .handle = &auth_db_authtokens },
	{ .name = NULL },
};

int
auth_init(void)
{
	return entity_tables_add(tables);
}
