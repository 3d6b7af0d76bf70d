/*
 * users: the User entity, the CRM's people (agents).  Secrets never leave.
 * Only an admin makes an admin: the User's type, activity, user name and
 * password are an admin's to set, and a change of any of them ends the
 * user's sessions and OAuth2 tokens (user_guard).
 */
#include <string.h>

#include "common.h"
#include "fastcrm/auth.h"
#include "fastcrm/error.h"

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

/* The attributes only an admin may set (the password is kept apart);
   isAdmin only if the configuration declares it. */
static const char *const admin_only[] = {
	"type", "isAdmin", "isActive", "userName", NULL
};

/* Does attr differ between old and rec (create: from the default)? */
static int
changed(const struct entity *e, const struct json *old,
    const struct json *rec, const char *attr)
{
	const struct field	*f = entity_field(e, attr);
	const struct json	*v = json_get(rec, attr);
	const char		*s;

	if (old != NULL)
		return !json_equal(json_get(old, attr), v);
	/* A new User: anything but the default needs an admin; its user
	   name does not (it is required). */
	if (f == NULL || strcmp(attr, "userName") == 0)
		return 0;
	if (f->type == FT_BOOL)
		return json_truthy(v) != (f->def != NULL &&
		    strcmp(f->def, "true") == 0);
	return (s = json_gets(rec, attr)) != NULL && *s != '\0' &&
	    strcmp(s, f->def != NULL ? f->def : "") != 0;
}

static int
user_guard(struct ectx *c, struct store_txn *t, const struct entity *e,
    const struct json *old, const struct json *rec, const struct json *body)
{
	const char	*pw;
	size_t		 i;
	int		 admin, revoke = 0;

	admin = c->import || (c->who != NULL && c->who->admin);
	for (i = 0; admin_only[i] != NULL; i++) {
		if (!changed(e, old, rec, admin_only[i]))
			continue;
		if (!admin)
			return entity_fail(c, FCRM_FORBIDDEN, "Only an admin may "
			    "set '%s' of a User.", admin_only[i]);
		revoke = 1;
	}
	if ((pw = json_gets(body, "password")) != NULL && *pw != '\0') {
		if (!admin)
			return entity_fail(c, FCRM_FORBIDDEN, "Only an admin may "
			    "set 'password' of a User.");
		revoke = 1;
	}
	/* A new User has no sessions; a changed one loses them all. */
	if (revoke && old != NULL &&
	    auth_user_revoke(c, t, json_gets(rec, "id")) != 0)
		return entity_fail(c, FCRM_STORE, "Cannot end the user's "
		    "sessions.");
	return 0;
}

static const struct entity_hooks hooks = {
	resource_person_name, NULL, user_guard
};

const struct entity_def users_def = {
	"User", "users", fields, links, &hooks, 0, "userName", 0, NULL, NULL
};
