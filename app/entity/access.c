/*
 * Access: the one place where the caller's role meets a record.  The
 * route table checks the route's (entity, action) with entity_authorize;
 * every record the engine then reads or changes on the caller's behalf —
 * the route's own record, a link's target, a duplicate, an idempotent
 * answer, an attachment's parent — comes through entity_load, which names
 * the action and checks it against the role, `own` scope included.  A
 * handler has no other way to reach a record.
 */
#include <stdio.h>
#include <string.h>

#include "fastcrm/conf.h"
#include "fastcrm/entity.h"
#include "fastcrm/error.h"
#include "fastcrm/log.h"
#include "fastcrm/store.h"
#include "fastcrm/util.h"

static const char *
action_word(enum action act)
{
	switch (act) {
	case ACT_CREATE:
		return "create";
	case ACT_READ:
		return "read";
	case ACT_EDIT:
		return "edit";
	case ACT_DELETE:
		return "delete";
	default:
		return "access";
	}
}

/*
 * Work the engine does for itself — the command line (import, migrate,
 * erase), the start-up User sync — acts as the system principal (type
 * "system", which no credential yields): no role applies.
 */
static int
is_system(const struct ectx *c)
{
	return c->who == NULL || c->import || c->system ||
	    (c->who->type != NULL && strcmp(c->who->type, "system") == 0);
}

/* The role's permission for act on e: CONF_NO, CONF_OWN or CONF_ALL. */
static enum conf_perm
permission(const struct ectx *c, const struct entity *e, enum action act)
{
	struct conf_acl	 acl;

	if (act == ACT_NONE || act == ACT_PUBLIC || is_system(c))
		return CONF_ALL;
	if (c->who->role == NULL)
		return CONF_NO;
	acl = conf_role_acl(c->who->role, e->name);
	switch (act) {
	case ACT_CREATE:
		return acl.create ? CONF_ALL : CONF_NO;
	case ACT_READ:
		return acl.read;
	case ACT_EDIT:
		return acl.edit;
	default:
		return acl.del;
	}
}

int
entity_owns(const struct ectx *c, const struct json *rec)
{
	const char	*owner;

	owner = json_gets(rec, "assignedUserId");
	if (owner == NULL || *owner == '\0')
		owner = json_gets(rec, "createdById");
	return owner != NULL && c->who != NULL && strcmp(owner, c->who->id) == 0;
}

int
entity_authorize(struct ectx *c, const struct entity *e, enum action act,
    int *own)
{
	enum conf_perm	 p;

	*own = 0;
	if (act == ACT_NONE || act == ACT_PUBLIC)
		return 0;
	if (c->who == NULL || c->who->role == NULL)
		return entity_fail(c, FCRM_FORBIDDEN, "No role.");
	if ((p = permission(c, e, act)) == CONF_NO)
		return entity_fail(c, FCRM_FORBIDDEN, "No %s access.",
		    action_word(act));
	*own = p == CONF_OWN;
	return 0;
}

int
entity_may(const struct ectx *c, const struct entity *e, enum action act,
    const struct json *rec)
{
	switch (permission(c, e, act)) {
	case CONF_ALL:
		return 1;
	case CONF_OWN:
		return rec == NULL || entity_owns(c, rec);
	default:
		return 0;
	}
}

/*
 * A top-level value of stored bytes that is a string (*s, not
 * NUL-terminated, n bytes), null or missing (*s NULL): 0; anything else,
 * or an escape: -1 (parse instead).
 */
static int
raw_string(struct store_val v, const char *key, const char **s, size_t *n)
{
	const char	*p;
	size_t		 len;
	int		 rc;

	*s = NULL;
	*n = 0;
	if ((rc = json_raw_span(v.p, v.len, key, &p, &len)) <= 0)
		return rc;
	if (len == 4 && memcmp(p, "null", 4) == 0)
		return 0;
	if (len < 2 || *p != '"' || memchr(p, '\\', len) != NULL)
		return -1;
	*s = p + 1;
	*n = len - 2;
	return 0;
}

/*
 * entity_load's checks on the stored bytes, without parsing: 0 (live,
 * allowed), FCRM_NOT_FOUND (deleted), FCRM_FORBIDDEN, or -1 when the
 * bytes cannot tell cheaply.  The same rules as the parsed path: deleted
 * is a true boolean (anything but true, false or null is left to
 * json_truthy), the owner the assigned user, else the creator.
 */
static int
raw_check(struct ectx *c, const struct entity *e, enum action act,
    struct store_val v)
{
	const char	*d, *owner;
	size_t		 n;
	int		 rc;

	if ((rc = json_raw_span(v.p, v.len, "deleted", &d, &n)) < 0)
		return -1;
	if (rc == 1 && n == 4 && memcmp(d, "true", 4) == 0)
		return FCRM_NOT_FOUND;
	if (rc == 1 && !(n == 5 && memcmp(d, "false", 5) == 0) &&
	    !(n == 4 && memcmp(d, "null", 4) == 0))
		return -1;
	switch (permission(c, e, act)) {
	case CONF_ALL:
		return 0;
	case CONF_OWN:
		if (raw_string(v, "assignedUserId", &owner, &n) != 0)
			return -1;
		if ((owner == NULL || n == 0) &&
		    raw_string(v, "createdById", &owner, &n) != 0)
			return -1;
		return owner != NULL && c->who != NULL &&
		    strlen(c->who->id) == n && memcmp(owner, c->who->id,
		    n) == 0 ? 0 : FCRM_FORBIDDEN;
	default:
		return FCRM_FORBIDDEN;
	}
}

int
entity_load(struct ectx *c, struct store_txn *t, const struct entity *e,
    const char *id, enum action act, struct json **rec,
    struct store_val *raw)
{
	struct store_val	 v;
	struct json		*parsed = NULL;
	const char		*why;
	int			 rc;

	if (rec != NULL)
		*rec = NULL;
	if (!util_id_valid(id))
		return FCRM_NOT_FOUND;
	if ((rc = store_get(t, e->db_rec, id, UTIL_ID_LEN, &v)) != 0)
		return rc;
	if (rec == NULL && (rc = raw_check(c, e, act, v)) >= 0) {
		if (rc == FCRM_FORBIDDEN)
			return entity_fail(c, FCRM_FORBIDDEN, "No %s access.",
			    action_word(act));
		if (rc == 0 && raw != NULL)
			*raw = v;
		return rc;
	}
	if (rec == NULL)
		rec = &parsed;
	if ((rc = json_parse(c->arena, v.p, v.len, rec, &why)) != 0) {
		log_warn("record %s %s is corrupt: %s", e->name, id, why);
		*rec = NULL;
		return FCRM_STORE;
	}
	if (json_truthy(json_get(*rec, "deleted"))) {
		*rec = NULL;
		return FCRM_NOT_FOUND;
	}
	if (!entity_may(c, e, act, *rec)) {
		*rec = NULL;
		return entity_fail(c, FCRM_FORBIDDEN, "No %s access.",
		    action_word(act));
	}
	if (raw != NULL)
		*raw = v;
	return FCRM_OK;
}

/* EspoCRM's 403 of a relation: its label, the foreign entity, the action. */
static int
fail_translated(struct ectx *c, const char *label, const char *foreign,
    enum action act, const char *reason)
{
	entity_fail(c, FCRM_FORBIDDEN, "%s", reason);
	c->fault.kind = FAULT_RELATE;
	c->fault.label = label;
	c->fault.foreign = foreign;
	c->fault.action = act != ACT_NONE ? action_word(act) : NULL;
	return FCRM_FORBIDDEN;
}

int
entity_load_target(struct ectx *c, struct store_txn *t,
    const struct entity *te, const char *id, enum action act,
    struct json **rec, struct store_val *raw)
{
	int	 rc;

	rc = entity_load(c, t, te, id, act, rec, raw);
	if (rc == FCRM_NOT_FOUND)
		return fail_translated(c, "cannotRelateNonExisting", te->name,
		    ACT_NONE, arena_printf(c->arena, "Record %s with id "
		    "'%.64s' does not exist.", te->name, id));
	/* EspoCRM: a link field wants read on its target
	   (cannotRelateForbidden); relating through a link route changes
	   the foreign record and wants edit (noAccessToForeignRecord). */
	if (rc == FCRM_FORBIDDEN)
		return fail_translated(c, act == ACT_READ ?
		    "cannotRelateForbidden" : "noAccessToForeignRecord",
		    te->name, act, arena_printf(c->arena, "No %s access to %s "
		    "'%.64s'.", action_word(act), te->name, id));
	return rc;
}
