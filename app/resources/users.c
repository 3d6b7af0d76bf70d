/*
 * users: the User entity, the CRM's people (agents) and the principals
 * that sign in.  Secrets never leave: a password is hashed before the
 * write (user_prepare) and kept beside the record in meta "pw:<id>"
 * (user_store).  Only an admin makes an admin: the User's type, activity,
 * user name and password are an admin's to set, and a change of any of
 * them ends the user's sessions and OAuth2 tokens (user_guard, through
 * the nonce meta "gen:<id>").  Lists hide API and system users unless
 * asked (user_primary_filter).
 */
#include <stdio.h>
#include <string.h>

#include "common.h"
#include "fastcrm/error.h"
#include "fastcrm/util.h"

static const char *const types[] = {
	"regular", "admin", "api", "portal", "system", NULL
};

static const struct field fields[] = {
	ROW_ID,
	{ .name = "userName", .type = FT_VARCHAR,
	    .flags = F_REQUIRED | F_INDEXED | F_UNIQUE | F_ORDERED | F_TEXT,
	    .max_length = 50 },
	{ .name = "name", .type = FT_NAME, .flags = F_READONLY | F_TEXT },
	{ .name = "firstName", .type = FT_VARCHAR, .max_length = 100 },
	{ .name = "lastName", .type = FT_VARCHAR, .flags = F_REQUIRED,
	    .max_length = 100 },
	{ .name = "title", .type = FT_VARCHAR, .max_length = 100 },
	{ .name = "type", .type = FT_ENUM, .options = types,
	    .def = "regular" },
	{ .name = "isActive", .type = FT_BOOL, .def = "true" },
	ROWS_EMAIL,
	ROWS_PHONE,
	{ .name = "password", .type = FT_PASSWORD, .flags = F_SECRET },
	ROWS_SYSTEM,
	ROW_END
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

/*
 * A new nonce in meta "gen:<id>": every session and OAuth2 token of the
 * user carries the old one in its credential generation (auth_current),
 * so all of them end.  In the caller's write txn.
 */
static int
user_revoke(struct ectx *c, struct store_txn *t, const char *id)
{
	unsigned char	 rnd[16];
	char		 key[64], nonce[33];
	size_t		 i;

	util_random(rnd, sizeof(rnd));
	for (i = 0; i < sizeof(rnd); i++)
		snprintf(nonce + i * 2, 3, "%02x", rnd[i]);
	snprintf(key, sizeof(key), "gen:%s", id);
	return entity_meta_put(c, t, key, nonce, 32);
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
	    user_revoke(c, t, json_gets(rec, "id")) != 0)
		return entity_fail(c, FCRM_STORE, "Cannot end the user's "
		    "sessions.");
	return 0;
}

/*
 * A password in the body: only an admin may set one; it is hashed here,
 * before the write transaction, because hashing is slow on purpose.
 * *state becomes the hash.
 */
static int
user_prepare(struct ectx *c, const struct entity *e, const struct json *body,
    void **state)
{
	const char	*pw, *hash;

	pw = json_gets(body, "password");
	if (pw == NULL || *pw == '\0')
		return 0;
	if (c->who == NULL || !c->who->admin)
		return entity_fail(c, FCRM_FORBIDDEN, "Only an admin may "
		    "set 'password' of a %s.", e->name);
	if (strlen(pw) < 8 || strlen(pw) > 200)
		return entity_fail_validation(c, e, "password", "valid");
	if ((hash = util_password_hash(c->arena, pw)) == NULL)
		return entity_fail(c, FCRM_IO, "Cannot hash the password.");
	*state = (void *)hash;
	return 0;
}

/* Stores prepare's hash beside the record (never in it): meta "pw:<id>". */
static int
user_store(struct ectx *c, struct store_txn *t, const struct entity *e,
    const struct json *rec, void *state)
{
	const char	*hash = state;
	char		 key[40];

	(void)e;
	if (hash == NULL)
		return 0;
	snprintf(key, sizeof(key), "pw:%s", json_gets(rec, "id"));
	return entity_meta_put(c, t, key, hash, strlen(hash));
}

/* Does a top-level item of where name the attribute attr? */
static int
where_names(struct arena *a, const struct json *where, const char *attr)
{
	const struct json	*list;
	const char		*s;
	size_t			 i;

	if ((list = json_as_list(a, where)) == NULL)
		return 0;
	for (i = 0; i < list->n; i++)
		if ((s = json_gets(list->v[i], "attribute")) != NULL &&
		    strcmp(s, attr) == 0)
			return 1;
	return 0;
}

/*
 * User lists, as EspoCRM: API users (type "api") and the system user
 * stay out unless asked for, by primaryFilter api/activeApi or a where on
 * `type`; primaryFilter active (active regular and admin users) and
 * internal (no api, portal, system users).
 */
static int
user_primary_filter(struct ectx *c, const struct entity *e, const char *pf,
    const struct json *where, struct json **items)
{
	struct arena	*a = c->arena;
	struct json	*v;

	(void)e;
	*items = NULL;
	if ((pf == NULL || *pf == '\0') && where_names(a, where, "type"))
		return 0;
	*items = json_arr(a);
	if (pf == NULL || *pf == '\0') {
		v = json_arr(a);
		json_push(a, v, json_str(a, "api"));
		json_push(a, v, json_str(a, "system"));
		resource_where_add(a, *items, "notIn", "type", v);
	} else if (strcmp(pf, "api") == 0 || strcmp(pf, "activeApi") == 0) {
		resource_where_add(a, *items, "equals", "type",
		    json_str(a, "api"));
		if (strcmp(pf, "activeApi") == 0)
			resource_where_add(a, *items, "isTrue", "isActive",
			    NULL);
	} else if (strcmp(pf, "active") == 0) {
		v = json_arr(a);
		json_push(a, v, json_str(a, "regular"));
		json_push(a, v, json_str(a, "admin"));
		resource_where_add(a, *items, "in", "type", v);
		resource_where_add(a, *items, "isTrue", "isActive", NULL);
	} else if (strcmp(pf, "internal") == 0) {
		v = json_arr(a);
		json_push(a, v, json_str(a, "api"));
		json_push(a, v, json_str(a, "portal"));
		json_push(a, v, json_str(a, "system"));
		resource_where_add(a, *items, "notIn", "type", v);
	} else {
		*items = NULL;
		return entity_fail(c, FCRM_BAD_REQUEST, "Unknown primaryFilter "
		    "'%.64s' for User (api, activeApi, active, internal).", pf);
	}
	return 0;
}

static const struct entity_hooks hooks = {
	.compute = resource_person_name,
	.prepare = user_prepare,
	.guard = user_guard,
	.store = user_store,
	.primary_filter = user_primary_filter,
};

const struct entity_def users_def = {
	.name = "User",
	.module = "users",
	.fields = fields,
	.hooks = &hooks,
	.order_by = "userName",
	.principals = 1,
};
