/*
 * Agent sessions and passwords.  The page at `/` signs an agent in with a
 * User record's password (or a configured principal's) through
 * app/http/session.c, which calls auth_session_open; the session lives
 * in LMDB as SHA-256(token) → {principal, expiry, CSRF token} (auth's
 * "sessions" table, tables.c), so every worker sees it and a restart
 * keeps it.  Password hashes ("pw:<id>") and credential nonces
 * ("gen:<id>") sit in the engine's meta (entity_meta_get/put); a User is
 * found by userName with entity_lookup.
 */
#include <crypt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "fastcrm/auth.h"
#include "fastcrm/conf.h"
#include "fastcrm/entity.h"
#include "fastcrm/error.h"
#include "fastcrm/log.h"
#include "fastcrm/store.h"
#include "fastcrm/util.h"
#include "tables.h"

void
auth_password_dummy(struct arena *a, const char *pass)
{
	static char		 setting[CRYPT_GENSALT_OUTPUT_SIZE];
	struct crypt_data	*cd;

	/* A yescrypt setting with util_password_hash's cost: crypt(3)
	   does all the work of a check against it. */
	if (*setting == '\0' && crypt_gensalt_rn("$y$", 0, NULL, 0, setting,
	    sizeof(setting)) == NULL)
		return;
	cd = arena_calloc(a, 1, sizeof(*cd));
	(void)crypt_r(pass, setting, cd);
}

void
auth_gen(const char *type, const char *hash, const char *nonce,
    char out[65])
{
	char	*s;
	size_t	 n;

	n = strlen(type) + strlen(hash) + strlen(nonce) + 3;
	if ((s = malloc(n)) == NULL) {
		/* Matches no stored generation. */
		memset(out, 'x', 64);
		out[64] = '\0';
		return;
	}
	snprintf(s, n, "%s\n%s\n%s", type, hash, nonce);
	util_sha256_hex(s, strlen(s), out);
	free(s);
}

/* The meta value of "prefix:id" in c's arena, or NULL. */
static const char *
meta_get(struct ectx *c, struct store_txn *t, const char *prefix,
    const char *id)
{
	const char	*v;
	char		 key[64];

	snprintf(key, sizeof(key), "%s:%s", prefix, id);
	if (entity_meta_get(c, t, key, &v, NULL) != 0)
		return NULL;
	return v;
}

/* The current state of User record id; 0 or -1. */
static int
current_user(struct ectx *c, struct store_txn *t, const char *id,
    struct auth_login *out)
{
	const struct entity	*e = entity_find("User");
	struct json		*rec;
	const char		*hash, *nonce, *type;

	if (e == NULL || entity_load(c, t, e, id, ACT_NONE, &rec, NULL) != 0 ||
	    !json_truthy(json_get(rec, "isActive")) ||
	    (hash = meta_get(c, t, "pw", id)) == NULL)
		return -1;
	if ((nonce = meta_get(c, t, "gen", id)) == NULL)
		nonce = "";
	type = json_gets(rec, "type");
	out->id = json_gets(rec, "id");
	out->name = json_gets(rec, "name");
	out->user_name = json_gets(rec, "userName");
	out->role = c->conf->agent_role;
	out->type = "regular";
	out->admin = type != NULL && strcmp(type, "admin") == 0;
	if (out->name == NULL || *out->name == '\0')
		out->name = out->user_name;
	auth_gen("regular", hash, nonce, out->gen);
	return out->id != NULL && out->user_name != NULL ? 0 : -1;
}

/* The current state of configured principal id; 0 or -1. */
static int
current_principal(const struct conf *conf, const char *id,
    struct auth_login *out)
{
	const struct conf_user	*cu = NULL;
	size_t			 i;

	for (i = 0; i < conf->nusers; i++)
		if (strcmp(conf->users[i].id, id) == 0)
			cu = &conf->users[i];
	if (cu == NULL || cu->password_hash == NULL)
		return -1;
	out->id = cu->id;
	out->name = cu->name;
	out->user_name = cu->name;
	out->role = cu->role;
	out->type = "api";
	out->admin = cu->admin;
	auth_gen("api", cu->password_hash, "", out->gen);
	return 0;
}

int
auth_current(struct ectx *c, struct store_txn *t, const char *type,
    const char *id, const char *gen, struct auth_login *out)
{
	int	 rc;

	memset(out, 0, sizeof(*out));
	if (type == NULL || id == NULL || (gen != NULL && strlen(gen) != 64))
		return -1;
	if (strcmp(type, "regular") == 0)
		rc = current_user(c, t, id, out);
	else if (strcmp(type, "api") == 0)
		rc = current_principal(c->conf, id, out);
	else
		rc = -1;
	if (rc != 0 || (gen != NULL && !util_ct_equal(out->gen, gen, 64)))
		return -1;
	return 0;
}

#define PURGE_STEP	16	/* entries looked at per sign-in or token */
#define PURGE_KEY	64	/* the tables' keys: SHA-256 hex */

struct purge {
	struct arena	*a;
	double		 now;
	const char	*stop;		/* the wrapped lap ends here */
	size_t		 seen, n;
	char		 last[PURGE_KEY];
	char		 keys[PURGE_STEP][PURGE_KEY];
};

static int
purge_step(void *arg, struct store_val k, struct store_val v)
{
	struct purge	*p = arg;
	struct json	*o;
	const char	*why;
	double		 exp;

	if (p->seen == PURGE_STEP)
		return -1;
	if (k.len != PURGE_KEY)
		return 0;
	if (p->stop != NULL && memcmp(k.p, p->stop, PURGE_KEY) >= 0)
		return -1;
	p->seen++;
	memcpy(p->last, k.p, PURGE_KEY);
	if (json_parse(p->a, v.p, v.len, &o, &why) == 0 &&
	    json_tonum(json_get(o, "exp"), &exp) && exp < p->now)
		memcpy(p->keys[p->n++], k.p, PURGE_KEY);
	return 0;
}

int
auth_purge_expired(struct ectx *c, struct store_txn *t, int db,
    const char *name)
{
	struct purge		 p;
	const char		*v;
	char			 mkey[32], from[PURGE_KEY + 1];
	size_t			 flen = 0, vlen, i;
	int			 rc;

	memset(&p, 0, sizeof(p));
	p.a = c->arena;
	p.now = (double)time(NULL);
	snprintf(mkey, sizeof(mkey), "purge.%s", name);
	/* Resume after the last key looked at: that key plus a NUL byte. */
	if (entity_meta_get(c, t, mkey, &v, &vlen) == 0 &&
	    vlen == PURGE_KEY) {
		memcpy(from, v, PURGE_KEY);
		from[PURGE_KEY] = '\0';
		flen = PURGE_KEY + 1;
	}
	if ((rc = store_iter_from(t, db, from, flen, purge_step, &p)) != 0)
		return rc;
	if (p.seen < PURGE_STEP && flen > 0) {
		/* The end of the table: on from the start, up to from. */
		p.stop = from;
		if ((rc = store_iter_from(t, db, NULL, 0, purge_step, &p)) != 0)
			return rc;
	}
	for (i = 0; i < p.n; i++)
		if ((rc = store_del(t, db, p.keys[i], PURGE_KEY, NULL, 0)) != 0)
			return rc;
	if (p.seen == 0)
		return FCRM_OK;
	return entity_meta_put(c, t, mkey, p.last, PURGE_KEY);
}

/* The value of cookie name in the Cookie header c, or NULL. */
static char *
cookie(struct arena *a, const char *c, const char *name)
{
	const char	*p;
	size_t		 n = strlen(name), len;

	if (c == NULL)
		return NULL;
	for (p = c; *p != '\0'; ) {
		while (*p == ' ' || *p == ';')
			p++;
		len = strcspn(p, ";");
		if (len > n && strncmp(p, name, n) == 0 && p[n] == '=')
			return arena_strndup(a, p + n + 1, len - n - 1);
		p += len;
	}
	return NULL;
}

/* The stored session of token, parsed; NULL when unknown or expired. */
static struct json *
session_load(struct ectx *c, const char *token, char key[65])
{
	struct store_txn	**tp, *t;
	struct store_val	 v;
	struct json		*s = NULL;
	const char		*why;
	double			 exp;

	util_sha256_hex(token, strlen(token), key);
	if (entity_begin(c, 0, &tp) != 0)
		return NULL;
	t = *tp;
	if (store_get(t, auth_db_sessions, key, 64, &v) == 0 &&
	    json_parse(c->arena, v.p, v.len, &s, &why) == 0 &&
	    (!json_tonum(json_get(s, "exp"), &exp) ||
	    exp < (double)time(NULL)))
		s = NULL;
	entity_end(tp);
	return s;
}

/* Does the request carry the session's CSRF token? */
static int
csrf_ok(const struct auth_in *in, const struct json *s)
{
	const char	*csrf, *mine;

	csrf = in->csrf;
	mine = json_gets(s, "csrf");
	return csrf != NULL && mine != NULL && strlen(csrf) == strlen(mine) &&
	    util_ct_equal(csrf, mine, strlen(mine));
}

/* The session's principal as it is now; 0 or -1. */
static int
session_current(struct ectx *c, const struct json *s,
    struct auth_login *who)
{
	struct store_txn	**tp;
	int			 rc;

	if (entity_begin(c, 0, &tp) != 0)
		return -1;
	rc = auth_current(c, *tp, json_gets(s, "type"), json_gets(s, "uid"),
	    json_gets(s, "gen"), who);
	entity_end(tp);
	return rc;
}

int
auth_session(struct ectx *c, const struct auth_in *in, struct principal **pp)
{
	struct principal	*p;
	struct auth_login	 who;
	struct json		*s;
	const char		*tok;
	char			 key[65];

	if ((tok = cookie(c->arena, in->cookie, AUTH_COOKIE)) == NULL ||
	    *tok == '\0')
		return 1;
	if ((s = session_load(c, tok, key)) == NULL)
		return entity_fail(c, FCRM_UNAUTHORIZED, "Session expired or "
		    "unknown; sign in again.");
	if (strcmp(in->method, "GET") != 0 &&
	    strcmp(in->method, "HEAD") != 0 && !csrf_ok(in, s))
		return entity_fail(c, FCRM_FORBIDDEN, "CSRF token missing or "
		    "wrong.");
	/* The user as it is now: a password change, deactivation,
	   deletion or a change of type ends the session. */
	if (session_current(c, s, &who) != 0)
		return entity_fail(c, FCRM_UNAUTHORIZED, "Session ended: the "
		    "user's password, status or rights changed; sign in again.");
	p = arena_calloc(c->arena, 1, sizeof(*p));
	p->id = who.id;
	p->name = who.name;
	p->user_name = who.user_name;
	p->type = who.type;
	p->role = who.role != NULL ? conf_role_find(c->conf, who.role) : NULL;
	p->admin = who.admin;
	p->csrf = json_gets(s, "csrf");
	if (p->csrf == NULL)
		return entity_fail(c, FCRM_UNAUTHORIZED, "Session is damaged; "
		    "sign in again.");
	*pp = p;
	return 0;
}

/* A User record by userName, with its stored password hash. */
static int
find_user(struct ectx *c, struct store_txn *t, const char *name,
    struct json **rec, const char **hash)
{
	const struct entity	*e = entity_find("User");
	int			 rc;

	*rec = NULL;
	*hash = NULL;
	if (e == NULL)
		return FCRM_NOT_FOUND;
	if ((rc = entity_lookup(c, t, e, "userName", name, ACT_NONE,
	    rec)) != 0)
		return rc;
	*hash = meta_get(c, t, "pw", json_gets(*rec, "id"));
	return 0;
}

int
auth_login(struct ectx *c, const char *remote, const char *name,
    const char *pass, struct auth_login *out)
{
	struct store_txn	**t;
	struct json		 *rec;
	const struct conf_user	 *cu = NULL;
	const char		 *hash, *type, *nonce = "";
	size_t			  i;
	int			  rc, active = 0, checked = 0, ok = 0;

	memset(out, 0, sizeof(*out));
	if ((rc = auth_limited(c, remote)) != 0)
		return rc;
	/* Look the user up, then hash outside any transaction. */
	if ((rc = entity_begin(c, 0, &t)) != 0)
		return rc;
	rc = find_user(c, *t, name, &rec, &hash);
	if (rc == 0) {
		out->id = json_gets(rec, "id");
		out->name = json_gets(rec, "name");
		out->user_name = json_gets(rec, "userName");
		active = json_truthy(json_get(rec, "isActive"));
		type = json_gets(rec, "type");
		out->admin = type != NULL && strcmp(type, "admin") == 0;
		out->role = c->conf->agent_role;
		out->type = "regular";
		if ((nonce = meta_get(c, *t, "gen", out->id)) == NULL)
			nonce = "";
	}
	entity_end(t);
	/*
	 * One crypt(3) whatever the name: an unknown user, one without a
	 * password or an inactive one takes the time of a wrong password.
	 */
	if (rc == 0 && hash != NULL) {
		checked = 1;
		if (util_password_check(c->arena, pass, hash) && active) {
			auth_gen("regular", hash, nonce, out->gen);
			return 0;
		}
	}
	for (i = 0; i < c->conf->nusers; i++)
		if (strcmp(c->conf->users[i].name, name) == 0)
			cu = &c->conf->users[i];
	if (cu != NULL && cu->password_hash != NULL) {
		checked = 1;
		if (util_password_check(c->arena, pass, cu->password_hash))
			ok = 1;
	}
	if (!checked)
		auth_password_dummy(c->arena, pass);
	if (!ok)
		return auth_fail_login(c, remote, "Wrong username or "
		    "password.");
	out->id = cu->id;
	out->name = cu->name;
	out->user_name = cu->name;
	out->role = cu->role;
	out->admin = cu->admin;
	out->type = "api";
	auth_gen("api", cu->password_hash, "", out->gen);
	return 0;
}

int
auth_session_open(struct ectx *c, const char *remote, const char *name,
    const char *pass, struct auth_session *ses)
{
	struct arena		 *a = c->arena;
	struct store_txn	**t;
	struct json		 *s;
	struct auth_login	 *who = &ses->who;
	unsigned char		  rnd[32];
	char			  key[65];
	struct buf		  b;
	int			  rc;

	if ((rc = auth_login(c, remote, name, pass, who)) != 0)
		return rc;
	if (who->name == NULL)
		who->name = name;
	if (who->role == NULL || conf_role_find(c->conf, who->role) == NULL)
		return entity_fail(c, FCRM_FORBIDDEN, "No role for signed-in "
		    "agents: set agent_role in the configuration.");
	util_random(rnd, sizeof(rnd));
	util_hex(rnd, 32, ses->token);
	util_random(rnd, sizeof(rnd));
	util_hex(rnd, 32, ses->csrf);
	/* Who, not what they may: that is read from the user on each use. */
	s = json_obj(a);
	json_set(a, s, "uid", json_str(a, who->id));
	json_set(a, s, "type", json_str(a, who->type));
	json_set(a, s, "gen", json_str(a, who->gen));
	json_set(a, s, "csrf", json_str(a, ses->csrf));
	json_set(a, s, "exp", json_int(a, (long long)time(NULL) +
	    AUTH_SESSION_TTL));
	buf_init(&b, a);
	json_write(&b, s);
	util_sha256_hex(ses->token, 64, key);
	if ((rc = entity_begin(c, 1, &t)) != 0)
		return rc;
	if ((rc = auth_purge_expired(c, *t, auth_db_sessions,
	    "sessions")) != 0 ||
	    (rc = store_put(*t, auth_db_sessions, key, 64, b.p, b.len)) != 0)
		return entity_fail(c, rc, "Cannot store the session.");
	return entity_commit(c, t);
}

int
auth_session_close(struct ectx *c, const struct auth_in *in)
{
	struct store_txn	**t;
	struct json		 *s;
	const char		 *tok;
	char			  key[65];
	int			  rc;

	if ((tok = cookie(c->arena, in->cookie, AUTH_COOKIE)) == NULL ||
	    *tok == '\0')
		return 0;
	/* Signing out is a write: a live session needs its token. */
	if ((s = session_load(c, tok, key)) != NULL && !csrf_ok(in, s))
		return entity_fail(c, FCRM_FORBIDDEN, "CSRF token missing or "
		    "wrong.");
	if ((rc = entity_begin(c, 1, &t)) != 0)
		return rc;
	if ((rc = store_del(*t, auth_db_sessions, key, 64, NULL, 0)) != 0)
		return entity_fail(c, rc, "Cannot end the session.");
	return entity_commit(c, t);
}

int
auth_user_passwd(const struct conf *conf, const char *name,
    const char *password, const char **why)
{
	struct store	*st = NULL;
	struct arena	*a;
	struct ectx	 c;
	struct store_txn **t;
	struct json	*rec;
	const char	*hash, *old;
	char		 key[40];
	int		 rc;

	*why = NULL;
	if (entity_init(conf, why) != 0)
		return FCRM_CONFIG;
	if ((rc = entity_store_open(conf, NULL, &st, why)) != 0)
		return rc;
	a = arena_new();
	entity_ctx(&c, a, conf, st);
	c.system = 0;
	if ((rc = entity_begin(&c, 1, &t)) != 0)
		goto out;
	if ((rc = find_user(&c, *t, name, &rec, &old)) != 0) {
		*why = rc == FCRM_NOT_FOUND ? "no User record with that "
		    "userName" : "cannot read the store";
		goto out;
	}
	if ((hash = util_password_hash(a, password)) == NULL) {
		rc = FCRM_IO;
		*why = "crypt(3) failed";
		goto out;
	}
	snprintf(key, sizeof(key), "pw:%s", json_gets(rec, "id"));
	if ((rc = entity_meta_put(&c, *t, key, hash, strlen(hash))) != 0)
		goto out;
	rc = entity_commit(&c, t);
out:
	if (rc != 0 && *why == NULL)
		*why = entity_reason(&c, rc);
	arena_free(a);
	entity_store_close(st);
	return rc;
}
