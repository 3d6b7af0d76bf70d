/*
 * EspoCRM's App routes: GET /api/v1/App/user (the principal's User
 * record, its acl table, preferences and settings, and the auth token an
 * Espo-Authorization sign-in is issued) and POST
 * /api/v1/App/destroyAuthToken.  The tokens are auth's
 * (app/auth/authtoken.c: authtoken_issue, authtoken_destroy).
 */
#include <string.h>

#include "fastcrm/auth.h"
#include "fastcrm/conf.h"
#include "fastcrm/entity.h"
#include "fastcrm/error.h"
#include "fastcrm/http.h"
#include "fastcrm/route.h"

static const char *
perm_word(enum conf_perm p)
{
	return p == CONF_ALL ? "all" : p == CONF_OWN ? "own" : "no";
}

/*
 * EspoCRM's acl data: table.{Entity}.{create,read,edit,delete,stream}
 * ("yes"/"no", "all"/"own"/"no"); an entity the role may do nothing on
 * is false.
 */
static struct json *
acl_data(struct req *r)
{
	struct arena		*a = r->arena;
	struct json		*acl, *table, *ent;
	const struct entity	*e;
	struct conf_acl		 c;
	size_t			 i;

	acl = json_obj(a);
	table = json_obj(a);
	for (i = 0; i < entity_count(); i++) {
		e = entity_at(i);
		c = conf_role_acl(r->who->role, e->name);
		if (!c.create && c.read == CONF_NO && c.edit == CONF_NO &&
		    c.del == CONF_NO) {
			json_set(a, table, e->name, json_bool(a, 0));
			continue;
		}
		ent = json_obj(a);
		json_set(a, ent, "create", json_str(a, c.create ? "yes" : "no"));
		json_set(a, ent, "read", json_str(a, perm_word(c.read)));
		json_set(a, ent, "edit", json_str(a, perm_word(c.edit)));
		json_set(a, ent, "delete", json_str(a, perm_word(c.del)));
		json_set(a, ent, "stream", json_str(a, perm_word(c.read)));
		json_set(a, table, e->name, ent);
	}
	json_set(a, acl, "table", table);
	json_set(a, acl, "fieldTable", json_obj(a));
	json_set(a, acl, "fieldTableQuickAccess", json_obj(a));
	json_set(a, acl, "assignmentPermission", json_str(a, "all"));
	json_set(a, acl, "userPermission", json_str(a, "all"));
	json_set(a, acl, "portalPermission", json_str(a, "no"));
	json_set(a, acl, "exportPermission", json_str(a, "no"));
	json_set(a, acl, "massUpdatePermission", json_str(a, "no"));
	return acl;
}

/* The principal's User record (without secrets), or a minimal one. */
static struct json *
user_data(struct req *r)
{
	struct arena		*a = r->arena;
	const struct entity	*e;
	struct store_txn	**t;
	struct json		 *u = NULL, *rec;
	struct ectx		  c;

	http_ectx(r, &c);
	if ((e = entity_find("User")) != NULL && r->store != NULL &&
	    entity_begin(&c, 0, &t) == 0) {
		if (entity_load(&c, *t, e, r->who->id, ACT_NONE, &rec,
		    NULL) == 0)
			u = json_copy(a, rec);
		entity_end(t);
	}
	if (u == NULL)
		u = json_obj(a);
	json_set(a, u, "id", json_str(a, r->who->id));
	json_set(a, u, "userName", json_str(a, r->who->user_name != NULL ?
	    r->who->user_name : r->who->name));
	json_set(a, u, "name", json_str(a, r->who->name));
	json_set(a, u, "type", json_str(a, r->who->type));
	json_set(a, u, "isAdmin", json_bool(a, r->who->admin));
	return u;
}

int
appuser_h_user(struct req *r)
{
	struct json	*o, *pref, *set, *ap;
	struct arena	*a = r->arena;
	const char	*tok = r->who->token;
	struct ectx	 c;
	int		 rc;

	/* EspoCRM issues the token on an Espo-Authorization sign-in. */
	http_ectx(r, &c);
	if (tok == NULL && r->who->espo_password &&
	    (rc = authtoken_issue(&c, &tok)) != 0)
		return http_fault(r, &c, rc);
	o = json_obj(a);
	json_set(a, o, "user", user_data(r));
	json_set(a, o, "acl", acl_data(r));
	pref = json_obj(a);
	json_set(a, pref, "id", json_str(a, r->who->id));
	json_set(a, pref, "timeZone", json_str(a, "UTC"));
	json_set(a, pref, "language", json_str(a, "en_US"));
	json_set(a, pref, "dateFormat", json_str(a, "YYYY-MM-DD"));
	json_set(a, pref, "timeFormat", json_str(a, "HH:mm:ss"));
	json_set(a, pref, "weekStart", json_int(a, 1));
	json_set(a, o, "preferences", pref);
	json_set(a, o, "token", tok != NULL ? json_str(a, tok) : json_null(a));
	set = json_obj(a);
	json_set(a, set, "timeZone", json_str(a, "UTC"));
	json_set(a, set, "dateFormat", json_str(a, "YYYY-MM-DD"));
	json_set(a, set, "timeFormat", json_str(a, "HH:mm:ss"));
	json_set(a, set, "language", json_str(a, "en_US"));
	json_set(a, set, "recordsPerPage", json_int(a, 20));
	json_set(a, set, "recordListMaxSizeLimit", json_int(a, 200));
	json_set(a, set, "applicationName", json_str(a, "fastcrm"));
	json_set(a, o, "settings", set);
	json_set(a, o, "language", json_str(a, "en_US"));
	ap = json_obj(a);
	json_set(a, ap, "maxUploadSize", json_num(a, r->conf != NULL ?
	    (double)r->conf->max_body / 1048576.0 : 0));
	json_set(a, ap, "isRestrictedMode", json_bool(a, 0));
	json_set(a, ap, "passwordChangeForNonAdminDisabled", json_bool(a, 1));
	json_set(a, ap, "timeZoneList", json_arr(a));
	json_set(a, ap, "auth2FARequired", json_bool(a, 0));
	json_set(a, ap, "logoutWait", json_bool(a, 0));
	json_set(a, o, "appParams", ap);
	if (r->who->csrf != NULL)
		json_set(a, o, "csrfToken", json_str(a, r->who->csrf));
	json_write(&r->out, o);
	return 0;
}

int
appuser_h_destroy_token(struct req *r)
{
	struct json	*body;
	const char	*tok;
	int		 rc;
	struct ectx	 c;

	http_ectx(r, &c);
	if ((rc = http_body_object(r, &body)) != 0)
		return rc;
	if ((tok = json_gets(body, "token")) == NULL || *tok == '\0')
		return http_fail(r, FCRM_BAD_REQUEST, "No 'token' in the "
		    "body.");
	if ((rc = authtoken_destroy(&c, tok)) != 0)
		return http_fault(r, &c, rc);
	buf_adds(&r->out, "true");
	return 0;
}
