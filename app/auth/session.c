/*
 * Agent sessions and passwords.  The page at `/` signs an agent in with a
 * User record's password (or a configured principal's); the session lives
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
current_user(struct req *r, struct store_txn *t, const char *id,
    struct auth_login *out)
{
	const struct entity	*e = entity_find("User");
	struct json		*rec;
	const char		*hash, *nonce, *type;
	struct ectx		 c;

	http_ectx(r, &c);
	if (e == NULL || entity_load(&c, t, e, id, ACT_NONE, &rec, NULL) != 0 ||
	    !json_truthy(json_get(rec, "isActive")) ||
	    (hash = meta_get(&c, t, "pw", id)) == NULL)
		return -1;
	if ((nonce = meta_get(&c, t, "gen", id)) == NULL)
		nonce = "";
	type = json_gets(rec, "type");
	out->id = json_gets(rec, "id");
	out->name = json_gets(rec, "name");
	out->user_name = json_gets(rec, "userName");
	out->role = r->conf->agent_role;
	out->type = "regular";
	out->admin = type != NULL && strcmp(type, "admin") == 0;
	if (out->name == NULL || *out->name == '\0')
		out->name = out->user_name;
	auth_gen("regular", hash, nonce, out->gen);
	return out->id != NULL && out->user_name != NULL ? 0 : -1;
}

/* The current state of configured principal id; 0 or -1. */
static int
current_principal(struct req *r, const char *id, struct auth_login *out)
{
	const struct conf_user	*cu = NULL;
	size_t			 i;

	for (i = 0; i < r->conf->nusers; i++)
		if (strcmp(r->conf->users[i].id, id) == 0)
			cu = &r->conf->users[i];
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
auth_current(struct req *r, struct store_txn *t, const char *type,
    const char *id, const char *gen, struct auth_login *out)
{
	int	 rc;

	memset(out, 0, sizeof(*out));
	if (type == NULL || id == NULL || (gen != NULL && strlen(gen) != 64))
		return -1;
	if (strcmp(type, "regular") == 0)
		rc = current_user(r, t, id, out);
	else if (strcmp(type, "api") == 0)
		rc = current_principal(r, id, out);
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
auth_purge_expired(struct req *r, struct store_txn *t, int db,
    const char *name)
{
	struct purge		 p;
	struct ectx		 c;
	const char		*v;
	char			 mkey[32], from[PURGE_KEY + 1];
	size_t			 flen = 0, vlen, i;
	int			 rc;

	http_ectx(r, &c);
	memset(&p, 0, sizeof(p));
	p.a = r->arena;
	p.now = (double)time(NULL);
	snprintf(mkey, sizeof(mkey), "purge.%s", name);
	/* Resume after the last key looked at: that key plus a NUL byte. */
	if (entity_meta_get(&c, t, mkey, &v, &vlen) == 0 &&
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
	return entity_meta_put(&c, t, mkey, p.last, PURGE_KEY);
}

/* Is the Content-Type application/json (parameters aside)? */
static int
is_json(const char *ctype)
{
	static const char	 mt[] = "application/json";
	const char		*p = ctype + sizeof(mt) - 1;

	if (strncasecmp(ctype, mt, sizeof(mt) - 1) != 0)
		return 0;
	while (*p == ' ' || *p == '\t')
		p++;
	return *p == '\0' || *p == ';';
}

/* The value of cookie name in the Cookie header, or NULL. */
static char *
cookie(struct req *r, const char *name)
{
	const char	*c, *p;
	size_t		 n = strlen(name), len;

	if ((c = http_header(r, "HTTP_COOKIE")) == NULL)
		return NULL;
	for (p = c; *p != '\0'; ) {
		while (*p == ' ' || *p == ';')
			p++;
		len = strcspn(p, ";");
		if (len > n && strncmp(p, name, n) == 0 && p[n] == '=')
			return arena_strndup(r->arena, p + n + 1, len - n - 1);
		p += len;
	}
	return NULL;
}

/* The stored session of token, parsed; NULL when unknown or expired. */
static struct json *
session_load(struct req *r, const char *token, char key[65])
{
	struct store_txn	*t = NULL;
	struct store_val	 v;
	struct json		*s = NULL;
	const char		*why;
	double			 exp;

	util_sha256_hex(token, strlen(token), key);
	if (store_begin(r->store, 0, &t) != 0)
		return NULL;
	if (store_get(t, auth_db_sessions, key, 64, &v) == 0 &&
	    json_parse(r->arena, v.p, v.len, &s, &why) == 0 &&
	    (!json_tonum(json_get(s, "exp"), &exp) ||
	    exp < (double)time(NULL)))
		s = NULL;
	store_abort(t);
	return s;
}

/* Does the request carry the session's CSRF token? */
static int
csrf_ok(struct req *r, const struct json *s)
{
	const char	*csrf, *mine;

	csrf = http_header(r, "HTTP_X_CSRF_TOKEN");
	mine = json_gets(s, "csrf");
	return csrf != NULL && mine != NULL && strlen(csrf) == strlen(mine) &&
	    util_ct_equal(csrf, mine, strlen(mine));
}

/* The session's principal as it is now; 0 or -1. */
static int
session_current(struct req *r, const struct json *s, struct auth_login *who)
{
	struct store_txn	*t = NULL;
	int			 rc;

	if (store_begin(r->store, 0, &t) != 0)
		return -1;
	rc = auth_current(r, t, json_gets(s, "type"), json_gets(s, "uid"),
	    json_gets(s, "gen"), who);
	store_abort(t);
	return rc;
}

int
auth_session(struct req *r)
{
	struct principal	*p;
	struct auth_login	 who;
	struct json		*s;
	const char		*tok;
	char			 key[65];

	if ((tok = cookie(r, AUTH_COOKIE)) == NULL || *tok == '\0')
		return 1;
	if ((s = session_load(r, tok, key)) == NULL)
		return http_fail(r, FCRM_UNAUTHORIZED, "Session expired or "
		    "unknown; sign in again.");
	if (strcmp(r->method, "GET") != 0 && strcmp(r->method, "HEAD") != 0 &&
	    !csrf_ok(r, s))
		return http_fail(r, FCRM_FORBIDDEN, "CSRF token missing or "
		    "wrong.");
	/* The user as it is now: a password change, deactivation,
	   deletion or a change of type ends the session. */
	if (session_current(r, s, &who) != 0)
		return http_fail(r, FCRM_UNAUTHORIZED, "Session ended: the "
		    "user's password, status or rights changed; sign in again.");
	p = arena_calloc(r->arena, 1, sizeof(*p));
	p->id = who.id;
	p->name = who.name;
	p->user_name = who.user_name;
	p->type = who.type;
	p->role = who.role != NULL ? conf_role_find(r->conf, who.role) : NULL;
	p->admin = who.admin;
	p->csrf = json_gets(s, "csrf");
	if (p->csrf == NULL)
		return http_fail(r, FCRM_UNAUTHORIZED, "Session is damaged; "
		    "sign in again.");
	r->who = p;
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
auth_login(struct req *r, const char *name, const char *pass,
    struct auth_login *out)
{
	struct store_txn	**t;
	struct json		 *rec;
	const struct conf_user	 *cu = NULL;
	const char		 *hash, *type, *nonce = "";
	size_t			  i;
	int			  rc, active = 0, checked = 0, ok = 0;
	struct ectx		 c;

	http_ectx(r, &c);
	memset(out, 0, sizeof(*out));
	if ((rc = auth_limited(r)) != 0)
		return rc;
	/* Look the user up, then hash outside any transaction. */
	if ((rc = entity_begin(&c, 0, &t)) != 0)
		return http_fault(r, &c, rc);
	rc = find_user(&c, *t, name, &rec, &hash);
	if (rc == 0) {
		out->id = json_gets(rec, "id");
		out->name = json_gets(rec, "name");
		out->user_name = json_gets(rec, "userName");
		active = json_truthy(json_get(rec, "isActive"));
		type = json_gets(rec, "type");
		out->admin = type != NULL && strcmp(type, "admin") == 0;
		out->role = r->conf->agent_role;
		out->type = "regular";
		if ((nonce = meta_get(&c, *t, "gen", out->id)) == NULL)
			nonce = "";
	}
	entity_end(t);
	/*
	 * One crypt(3) whatever the name: an unknown user, one without a
	 * password or an inactive one takes the time of a wrong password.
	 */
	if (rc == 0 && hash != NULL) {
		checked = 1;
		if (util_password_check(r->arena, pass, hash) && active) {
			auth_gen("regular", hash, nonce, out->gen);
			return 0;
		}
	}
	for (i = 0; i < r->conf->nusers; i++)
		if (strcmp(r->conf->users[i].name, name) == 0)
			cu = &r->conf->users[i];
	if (cu != NULL && cu->password_hash != NULL) {
		checked = 1;
		if (util_password_check(r->arena, pass, cu->password_hash))
			ok = 1;
	}
	if (!checked)
		auth_password_dummy(r->arena, pass);
	if (!ok)
		return auth_fail_login(r, "Wrong username or password.");
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
auth_h_session_create(struct req *r)
{
	struct arena		 *a = r->arena;
	struct store_txn	**t;
	struct json		 *body, *s, *out, *u;
	struct auth_login	  who;
	const char		 *name, *pass;
	unsigned char		  rnd[32];
	char			  tok[65], csrf[65], key[65];
	struct buf		  b;
	int			  rc;
	struct ectx		 c;

	http_ectx(r, &c);
	/* JSON only: a page of another site can post a form or text/plain
	   without asking, but not application/json. */
	if (!is_json(r->ctype))
		return http_fail(r, FCRM_MEDIA_TYPE, "Sign-in takes only "
		    "application/json (content type '%.64s').", r->ctype);
	if ((rc = http_body_object(r, &body)) != 0)
		return rc;
	name = json_gets(body, "userName");
	pass = json_gets(body, "password");
	if (name == NULL || pass == NULL || *name == '\0')
		return http_fail(r, FCRM_BAD_REQUEST, "Sign-in needs userName "
		    "and password.");
	if ((rc = auth_login(r, name, pass, &who)) != 0)
		return rc;
	if (who.name == NULL)
		who.name = name;
	if (who.role == NULL || conf_role_find(r->conf, who.role) == NULL)
		return http_fail(r, FCRM_FORBIDDEN, "No role for signed-in "
		    "agents: set agent_role in the configuration.");
	util_random(rnd, sizeof(rnd));
	util_hex(rnd, 32, tok);
	util_random(rnd, sizeof(rnd));
	util_hex(rnd, 32, csrf);
	/* Who, not what they may: that is read from the user on each use. */
	s = json_obj(a);
	json_set(a, s, "uid", json_str(a, who.id));
	json_set(a, s, "type", json_str(a, who.type));
	json_set(a, s, "gen", json_str(a, who.gen));
	json_set(a, s, "csrf", json_str(a, csrf));
	json_set(a, s, "exp", json_int(a, (long long)time(NULL) +
	    AUTH_SESSION_TTL));
	buf_init(&b, a);
	json_write(&b, s);
	util_sha256_hex(tok, 64, key);
	if ((rc = entity_begin(&c, 1, &t)) != 0)
		return http_fault(r, &c, rc);
	if ((rc = auth_purge_expired(r, *t, auth_db_sessions,
	    "sessions")) != 0 ||
	    (rc = store_put(*t, auth_db_sessions, key, 64, b.p, b.len)) != 0)
		return http_fail(r, rc, "Cannot store the session.");
	if ((rc = entity_commit(&c, t)) != 0)
		return http_fault(r, &c, rc);
	http_add_header(r, "Set-Cookie", arena_printf(a, "%s=%s; Path=/; "
	    "HttpOnly; Secure; SameSite=None; Partitioned; Max-Age=%d", AUTH_COOKIE,
	    tok,
	    AUTH_SESSION_TTL));
	out = json_obj(a);
	u = json_obj(a);
	json_set(a, u, "id", json_str(a, who.id));
	json_set(a, u, "userName", json_str(a, who.user_name != NULL ?
	    who.user_name : name));
	json_set(a, u, "name", json_str(a, who.name));
	json_set(a, u, "type", json_str(a, who.type));
	json_set(a, out, "user", u);
	json_set(a, out, "csrfToken", json_str(a, csrf));
	json_write(&r->out, out);
	return 0;
}

int
auth_h_session_delete(struct req *r)
{
	struct store_txn	**t;
	struct json		 *s;
	const char		 *tok;
	char			  key[65];
	int			  rc;
	struct ectx		 c;

	http_ectx(r, &c);
	if ((tok = cookie(r, AUTH_COOKIE)) != NULL && *tok != '\0') {
		/* Signing out is a write: a live session needs its token. */
		if ((s = session_load(r, tok, key)) != NULL && !csrf_ok(r, s))
			return http_fail(r, FCRM_FORBIDDEN, "CSRF token missing "
			    "or wrong.");
		if ((rc = entity_begin(&c, 1, &t)) != 0)
			return http_fault(r, &c, rc);
		if ((rc = store_del(*t, auth_db_sessions, key, 64, NULL,
		    0)) != 0)
			return http_fail(r, rc, "Cannot end the session.");
		if ((rc = entity_commit(&c, t)) != 0)
			return http_fault(r, &c, rc);
	}
	http_add_header(r, "Set-Cookie", AUTH_COOKIE "=; Path=/; HttpOnly; "
	    "Secure; SameSite=None; Partitioned; Max-Age=0");
	buf_adds(&r->out, "true");
	return 0;
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
