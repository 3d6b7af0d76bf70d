/*
 * EspoCRM's auth tokens: `Espo-Authorization: base64(user:password)` on
 * GET /App/user issues one (the answer's `token`); the client then sends
 * `Espo-Authorization: base64(user:token)` with
 * `Espo-Authorization-By-Token: true`, and POST /App/destroyAuthToken ends
 * it (app/http/appuser.c serves both routes).  A token is 32 random hex
 * characters (OpenSSL's generator); LMDB's "authtokens" (auth's table,
 * tables.c) keeps only SHA-256(token) → {principal, created, expiry}.
 * `fastcrm token list` and `fastcrm token revoke` manage them offline.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/rand.h>

#include "fastcrm/auth.h"
#include "fastcrm/conf.h"
#include "fastcrm/entity.h"
#include "fastcrm/error.h"
#include "fastcrm/log.h"
#include "fastcrm/store.h"
#include "fastcrm/util.h"
#include "tables.h"

static const struct conf_user *
conf_user_by_id(const struct conf *c, const char *id)
{
	size_t	 i;

	for (i = 0; i < c->nusers; i++)
		if (strcmp(c->users[i].id, id) == 0)
			return &c->users[i];
	return NULL;
}

int
authtoken_issue(struct ectx *c, const char **out)
{
	struct arena		 *a = c->arena;
	const struct principal	 *who = c->who;
	struct store_txn	**t;
	struct json		 *o;
	struct auth_login	  cur;
	struct buf		  b;
	unsigned char		  rnd[16];
	char			  tok[33], key[65], now[20];
	int			  rc;

	*out = NULL;
	if (RAND_bytes(rnd, sizeof(rnd)) != 1)
		return entity_fail(c, FCRM_IO, "No randomness for a token.");
	util_hex(rnd, sizeof(rnd), tok);
	o = json_obj(a);
	util_now(now);
	json_set(a, o, "uid", json_str(a, who->id));
	json_set(a, o, "name", json_str(a, who->name));
	json_set(a, o, "userName", json_str(a, who->user_name != NULL ?
	    who->user_name : who->name));
	json_set(a, o, "type", json_str(a, who->type));
	json_set(a, o, "created", json_str(a, now));
	json_set(a, o, "exp", json_int(a, (long long)time(NULL) +
	    AUTH_TOKEN_TTL));
	buf_init(&b, a);
	json_write(&b, o);
	util_sha256_hex(tok, 32, key);
	if ((rc = entity_begin(c, 1, &t)) != 0)
		return rc;
	/* The credential generation: a password change, deactivation or
	   demotion ends the token as it ends sessions (auth_current). */
	if (auth_current(c, *t, who->type, who->id, NULL, &cur) == 0) {
		json_set(a, o, "gen", json_str(a, cur.gen));
		b.len = 0;
		json_write(&b, o);
	}
	if ((rc = auth_purge_expired(c, *t, auth_db_authtokens,
	    "authtokens")) != 0 ||
	    (rc = store_put(*t, auth_db_authtokens, key, 64, b.p,
	    b.len)) != 0)
		return entity_fail(c, rc, "Cannot store the auth token.");
	if ((rc = entity_commit(c, t)) != 0)
		return rc;
	*out = arena_strdup(a, tok);
	return 0;
}

/*
 * The principal of a stored token, as it is now: a configured principal
 * keeps its configured role; a User record acts with agent_role and only
 * while it is active.
 */
static int
token_principal(struct ectx *c, struct store_txn *t, const struct json *o,
    struct principal *p)
{
	const struct conf_user	*cu;
	const struct entity	*e;
	struct auth_login	 cur;
	struct json		*rec;
	const char		*type;

	p->id = json_gets(o, "uid");
	p->name = json_gets(o, "name");
	p->user_name = json_gets(o, "userName");
	if (p->id == NULL || p->name == NULL || p->user_name == NULL ||
	    json_gets(o, "gen") == NULL || auth_current(c, t,
	    json_gets(o, "type"), p->id, json_gets(o, "gen"), &cur) != 0)
		return -1;
	if ((cu = conf_user_by_id(c->conf, p->id)) != NULL) {
		p->type = "api";
		p->role = conf_role_find(c->conf, cu->role);
		p->admin = cu->admin;
		p->empty_absent = cu->empty_means_absent;
		return 0;
	}
	if ((e = entity_find("User")) == NULL ||
	    entity_load(c, t, e, p->id, ACT_NONE, &rec, NULL) != 0 ||
	    !json_truthy(json_get(rec, "isActive")))
		return -1;
	type = json_gets(rec, "type");
	p->type = "regular";
	p->admin = type != NULL && strcmp(type, "admin") == 0;
	p->role = c->conf->agent_role != NULL ?
	    conf_role_find(c->conf, c->conf->agent_role) : NULL;
	return 0;
}

int
authtoken_auth(struct ectx *c, const char *user, const char *token,
    struct principal **who)
{
	struct store_txn	**tp, *t;
	struct store_val	 v;
	struct principal	*p;
	struct json		*o;
	const char		*why, *un;
	char			 key[65];
	double			 exp;
	int			 ok = -1;

	if (strlen(token) != 32)
		return -1;
	util_sha256_hex(token, 32, key);
	if (entity_begin(c, 0, &tp) != 0)
		return -1;
	t = *tp;
	p = arena_calloc(c->arena, 1, sizeof(*p));
	if (store_get(t, auth_db_authtokens, key, 64, &v) == 0 &&
	    json_parse(c->arena, v.p, v.len, &o, &why) == 0 &&
	    json_tonum(json_get(o, "exp"), &exp) &&
	    exp >= (double)time(NULL) &&
	    (un = json_gets(o, "userName")) != NULL &&
	    strcasecmp(un, user) == 0 &&
	    token_principal(c, t, o, p) == 0)
		ok = 0;
	entity_end(tp);
	if (ok != 0)
		return -1;
	p->token = arena_strdup(c->arena, token);
	*who = p;
	return 0;
}

int
authtoken_destroy(struct ectx *c, const char *tok)
{
	struct store_txn	**t;
	struct store_val	  v;
	char			  key[65];
	int			  rc, db = auth_db_authtokens;

	util_sha256_hex(tok, strlen(tok), key);
	if ((rc = entity_begin(c, 1, &t)) != 0)
		return rc;
	if (store_get(*t, db, key, 64, &v) != 0)
		return entity_fail(c, FCRM_NOT_FOUND, "Auth token not found.");
	if ((rc = store_del(*t, db, key, 64, NULL, 0)) != 0)
		return entity_fail(c, rc, "Cannot end the auth token.");
	return entity_commit(c, t);
}

/* The offline commands: the store opened beside a running server. */

struct walk {
	struct arena	*a;
	FILE		*fp;
	const char	*id;		/* revoke: this listed id */
	const char	*user;		/* revoke: every token of this user */
	char		 (*del)[65];
	size_t		 n, cap;
	int		 list;
};

static int
walk_one(void *arg, struct store_val k, struct store_val v)
{
	struct walk	*w = arg;
	struct json	*o;
	const char	*why, *un, *cr;
	double		 exp = 0;
	char		 id[17], until[20];

	if (k.len != 64 || json_parse(w->a, v.p, v.len, &o, &why) != 0)
		return 0;
	/* The listed id: the first 16 hex of SHA-256(token); it cannot
	   sign in, it only names the token. */
	memcpy(id, k.p, 16);
	id[16] = '\0';
	un = json_gets(o, "userName");
	cr = json_gets(o, "created");
	(void)json_tonum(json_get(o, "exp"), &exp);
	if (w->list) {
		util_datetime_fmt((long long)exp, until);
		fprintf(w->fp, "%s  %-20s  %-8s  created %s  expires %s%s\n",
		    id, un != NULL ? un : "?", json_gets(o, "type") != NULL ?
		    json_gets(o, "type") : "?", cr != NULL ? cr : "?", until,
		    exp < (double)time(NULL) ? " (expired)" : "");
		return 0;
	}
	if (!((w->id != NULL && strcmp(w->id, id) == 0) ||
	    (w->user != NULL && un != NULL && strcasecmp(w->user, un) == 0)))
		return 0;
	if (w->n == w->cap) {
		w->cap = w->cap == 0 ? 16 : w->cap * 2;
		w->del = realloc(w->del, w->cap * sizeof(*w->del));
		if (w->del == NULL)
			return FCRM_IO;
	}
	memcpy(w->del[w->n], k.p, 64);
	w->del[w->n++][64] = '\0';
	return 0;
}

/* Lists (fp != NULL) or revokes tokens matching id, user or token. */
static int
offline(const struct conf *conf, FILE *fp, const char *token, const char *id,
    const char *user, int *count, const char **why)
{
	struct store	*st = NULL;
	struct store_txn **tp, *t = NULL;
	struct ectx	 c;
	struct walk	 w;
	struct store_val sv;
	char		 key[65];
	size_t		 i;
	int		 rc, db;

	*why = NULL;
	memset(&w, 0, sizeof(w));
	if (entity_init(conf, why) != 0)
		return FCRM_CONFIG;
	if ((rc = entity_store_open(conf, NULL, &st, why)) != 0)
		return rc;
	db = auth_db_authtokens;
	w.a = arena_new();
	w.fp = fp;
	w.list = fp != NULL;
	w.id = id;
	w.user = user;
	entity_ctx(&c, w.a, conf, st);
	if ((rc = entity_begin(&c, fp == NULL, &tp)) != 0)
		goto out;
	t = *tp;
	if (token != NULL) {
		util_sha256_hex(token, strlen(token), key);
		w.del = calloc(1, sizeof(*w.del));
		if (w.del == NULL) {
			rc = FCRM_IO;
			goto out;
		}
		memcpy(w.del[0], key, 65);
		w.n = 1;
	} else if ((rc = store_iter_from(t, db, NULL, 0, walk_one, &w)) != 0)
		goto out;
	for (i = 0; fp == NULL && i < w.n; i++) {
		if (store_get(t, db, w.del[i], 64, &sv) != 0)
			continue;
		if ((rc = store_del(t, db, w.del[i], 64, NULL, 0)) != 0)
			goto out;
		(*count)++;
	}
	if (fp == NULL)
		rc = entity_commit(&c, tp);
out:
	if (rc != 0 && *why == NULL)
		*why = error_reason(rc);
	free(w.del);
	arena_free(w.a);
	entity_store_close(st);
	return rc;
}

int
authtoken_list(const struct conf *conf, FILE *fp, const char **why)
{
	int	 n = 0;

	return offline(conf, fp, NULL, NULL, NULL, &n, why);
}

int
authtoken_revoke(const struct conf *conf, const char *token, const char *id,
    const char *user, int *count, const char **why)
{
	*count = 0;
	return offline(conf, NULL, token, id, user, count, why);
}
