/*
 * Unit tests of the engine's one door to the store (app/entity/door.c),
 * in-process on a real LMDB environment in a temporary directory: no
 * store opens before the entity set is built; a module's registered
 * tables are opened with the rest and their handles set (a second
 * registration of the same array changes nothing; too many are refused);
 * values written through the handles and meta survive a close and a new
 * open; entity_meta_get copies and measures a value, and tells a missing
 * key; entity_lookup finds a record by an indexed attribute as the index
 * normalises it (case, phone digits), refuses an attribute that is not
 * indexed with a fault naming it, and does not find a deleted record.
 * Prints TAP.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fastcrm/arena.h"
#include "fastcrm/conf.h"
#include "fastcrm/entity.h"
#include "fastcrm/error.h"
#include "fastcrm/json.h"
#include "fastcrm/resources.h"
#include "fastcrm/store.h"
#include "tap.h"

static char	 dir[] = "/tmp/fastcrm-unit-door.XXXXXX";

static int	 h_one = -1, h_two = -1;
static const struct entity_table tabs[] = {
	{ .name = "door.one", .handle = &h_one,
	  .flags = ENTITY_TABLE_TRANSIENT },
	{ .name = "door.two", .handle = &h_two },
	{ .name = NULL },
};

static void
cleanup(void)
{
	tap_rm_store(dir);
}

/* Creates a record of entity from JSON text; its id, or NULL. */
static const char *
create(struct ectx *c, const char *entity, const char *text)
{
	struct json	*body, *out;
	const char	*why;

	if (json_parse(c->arena, text, strlen(text), &body, &why) != 0 ||
	    entity_create(c, entity_find(entity), body, &out) != 0)
		return NULL;
	return json_gets(out, "id");
}

/* The id entity_lookup finds (NULL when none) and its code in *rc. */
static const char *
lookup(struct ectx *c, const char *entity, const char *attr,
    const char *value, int *rc)
{
	struct store_txn	**t;
	struct json		 *rec = NULL;
	const char		 *id = NULL;

	if ((*rc = entity_begin(c, 0, &t)) != 0)
		return NULL;
	*rc = entity_lookup(c, *t, entity_find(entity), attr, value,
	    ACT_NONE, &rec);
	if (*rc == 0)
		id = json_gets(rec, "id");
	entity_end(t);
	return id;
}

static void
tables(struct conf *conf, struct arena *a)
{
	static const struct entity_table many[8][2];
	struct store		 *st = NULL;
	struct store_txn	**t;
	struct store_val	  v;
	struct ectx		  c;
	const char		 *why = NULL, *val;
	size_t			  len, i;
	int			  rc, one, two, added = 0;

	ok(entity_tables_add(tabs) == 0, "a module registers its tables");
	ok(entity_tables_add(tabs) == 0, "the same tables again: no change");
	rc = entity_store_open(conf, NULL, &st, &why);
	ok(rc == 0 && st != NULL, "the store opens with them%s%s",
	    rc != 0 ? ": " : "", rc != 0 ? why : "");
	if (st == NULL)
		return;
	ok(h_one >= 0 && h_two >= 0 && h_one != h_two,
	    "their handles are set, one each (%d, %d)", h_one, h_two);
	one = h_one;
	two = h_two;
	entity_ctx(&c, a, conf, st);
	ok(entity_begin(&c, 1, &t) == 0 &&
	    store_put(*t, h_one, "k", 1, "one", 3) == 0 &&
	    store_put(*t, h_two, "k", 1, "two", 3) == 0 &&
	    entity_meta_put(&c, *t, "door:x", "a\0b", 3) == 0 &&
	    entity_commit(&c, t) == 0, "written through the handles and meta");
	entity_store_close(st);
	h_one = h_two = -1;

	ok(entity_store_open(conf, NULL, &st, &why) == 0 && h_one == one &&
	    h_two == two, "a new open resolves the same handles");
	if (st == NULL)
		return;
	entity_ctx(&c, a, conf, st);
	if (entity_begin(&c, 0, &t) != 0) {
		ok(0, "a read txn");
		entity_store_close(st);
		return;
	}
	ok(store_get(*t, h_one, "k", 1, &v) == 0 && v.len == 3 &&
	    memcmp(v.p, "one", 3) == 0 && store_get(*t, h_two, "k", 1,
	    &v) == 0 && memcmp(v.p, "two", 3) == 0,
	    "each table keeps its own value");
	rc = entity_meta_get(&c, *t, "door:x", &val, &len);
	ok(rc == 0 && len == 3 && memcmp(val, "a\0b", 4) == 0,
	    "entity_meta_get: the value, its length, a NUL after it");
	rc = entity_meta_get(&c, *t, "door:none", &val, NULL);
	ok(rc == FCRM_NOT_FOUND && val == NULL,
	    "entity_meta_get: a missing key is FCRM_NOT_FOUND");
	entity_end(t);
	entity_store_close(st);

	/* Room for 8 modules: this one and 7 more; the next is refused. */
	for (i = 0; i < 8; i++)
		if (entity_tables_add(many[i]) == 0)
			added++;
	ok(added == 7 && entity_tables_add(many[7]) == -1,
	    "registrations past the limit are refused (%d added)", added);
}

static void
lookups(struct conf *conf, struct arena *a)
{
	struct store	*st = NULL;
	struct principal who = { .id = ENTITY_SYSTEM_ID, .name = "system",
			    .user_name = "system", .type = "system",
			    .admin = 1 };
	struct ectx	 c;
	const char	*why, *u, *k, *id;
	int		 rc;

	if (entity_store_open(conf, NULL, &st, &why) != 0) {
		ok(0, "the store opens: %s", why);
		return;
	}
	entity_ctx(&c, a, conf, st);
	c.trusted = 1;
	c.who = &who;
	u = create(&c, "User", "{\"userName\":\"Alice.Smith\","
	    "\"lastName\":\"Smith\"}");
	k = create(&c, "Contact", "{\"lastName\":\"Jones\","
	    "\"phoneNumber\":\"+15550102030\","
	    "\"emailAddress\":\"Bob.Jones@Example.com\"}");
	ok(u != NULL && k != NULL, "a User and a Contact created");
	if (u == NULL || k == NULL) {
		entity_store_close(st);
		return;
	}
	id = lookup(&c, "User", "userName", "alice.smith", &rc);
	ok(rc == 0 && id != NULL && strcmp(id, u) == 0,
	    "entity_lookup: the User by userName, lower case");
	id = lookup(&c, "User", "userName", "ALICE.SMITH", &rc);
	ok(rc == 0 && id != NULL && strcmp(id, u) == 0,
	    "entity_lookup: and upper case");
	id = lookup(&c, "User", "userName", "nobody", &rc);
	ok(rc == FCRM_NOT_FOUND && id == NULL,
	    "entity_lookup: an unknown name is FCRM_NOT_FOUND");
	id = lookup(&c, "Contact", "emailAddress", "BOB.JONES@example.COM",
	    &rc);
	ok(rc == 0 && id != NULL && strcmp(id, k) == 0,
	    "entity_lookup: a Contact by email, any case");
	id = lookup(&c, "Contact", "phoneNumber", "+1 555 010 2030", &rc);
	ok(rc == 0 && id != NULL && strcmp(id, k) == 0,
	    "entity_lookup: a Contact by phone, its digits");
	id = lookup(&c, "User", "lastName", "Smith", &rc);
	ok(rc == FCRM_BAD_REQUEST && id == NULL && c.fault.reason != NULL &&
	    strstr(c.fault.reason, "User.lastName") != NULL,
	    "entity_lookup: an attribute without an index is refused: %s",
	    c.fault.reason != NULL ? c.fault.reason : "(no reason)");
	ok(entity_delete(&c, entity_find("Contact"), k) == 0,
	    "the Contact deleted");
	id = lookup(&c, "Contact", "emailAddress", "bob.jones@example.com",
	    &rc);
	ok(rc == FCRM_NOT_FOUND && id == NULL,
	    "entity_lookup: a deleted record is not found");
	entity_store_close(st);
}

int
main(void)
{
	struct conf	 conf;
	struct store	*st = NULL;
	struct arena	*a;
	const char	*why = NULL;
	int		 rc;

	if (mkdtemp(dir) == NULL) {
		printf("Bail out! mkdtemp %s\n", dir);
		return 1;
	}
	atexit(cleanup);
	memset(&conf, 0, sizeof(conf));
	conf.data_dir = dir;
	conf.map_size = 1 << 24;
	conf.default_country_code = (char *)"1";
	a = arena_new();

	rc = entity_store_open(&conf, NULL, &st, &why);
	ok(rc == FCRM_CONFIG && st == NULL && why != NULL,
	    "no store opens before the entity set is built: %s",
	    why != NULL ? why : "(no reason)");
	entity_register(resources);
	if (entity_init(NULL, &why) != 0) {
		printf("Bail out! entity_init: %s\n", why);
		return 1;
	}
	tables(&conf, a);
	arena_reset(a);
	lookups(&conf, a);
	arena_free(a);
	return tap_done();
}
