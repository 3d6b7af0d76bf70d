/*
 * OAuth2 (RFC 6749) authorization-code and refresh-token grants, for
 * Ringotel's "web server flow".  Codes and tokens are random; LMDB keeps
 * only their SHA-256 with kind, client, principal and expiry (auth's
 * "tokens" table, tables.c).  Codes are single-use; refresh tokens
 * rotate; access tokens act with the role of the client.  Each keeps the
 * signed-in principal's type, id and credential generation, and works
 * only while auth_current still finds that principal so (a password
 * change, deactivation or deletion ends it).  The endpoints' pages,
 * redirects and RFC 6749 error bodies are app/http/oauth2.c's.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fastcrm/auth.h"
#include "fastcrm/conf.h"
#include "fastcrm/entity.h"
#include "fastcrm/error.h"
#include "fastcrm/store.h"
#include "fastcrm/util.h"
#include "tables.h"

#define CODE_TTL	600
#define ACCESS_TTL	OAUTH2_ACCESS_TTL
#define REFRESH_TTL	(30 * 86400)

const struct conf_client *
oauth2_client(const struct conf *c, const char *id)
{
	size_t	 i;

	for (i = 0; id != NULL && i < c->nclients; i++)
		if (strcmp(c->clients[i].client_id, id) == 0)
			return &c->clients[i];
	return NULL;
}

int
oauth2_redirect_ok(const struct conf_client *cl, const char *uri)
{
	size_t	 i;

	for (i = 0; uri != NULL && i < cl->nredirect_uris; i++)
		if (strcmp(cl->redirect_uris[i], uri) == 0)
			return 1;
	return 0;
}

/* Stores a new random token of kind; returns it (hex) in the arena. */
static char *
issue(struct ectx *c, struct store_txn *t, const char *kind,
    const char *client, const struct auth_login *who,
    const char *redirect, long long ttl)
{
	struct arena	*a = c->arena;
	unsigned char	 rnd[32];
	char		*tok, key[65];
	struct json	*o;
	struct buf	 b;

	util_random(rnd, sizeof(rnd));
	tok = arena_alloc(a, 65);
	util_hex(rnd, sizeof(rnd), tok);
	o = json_obj(a);
	json_set(a, o, "kind", json_str(a, kind));
	json_set(a, o, "client", json_str(a, client));
	json_set(a, o, "uid", json_str(a, who->id));
	json_set(a, o, "utype", json_str(a, who->type));
	json_set(a, o, "gen", json_str(a, who->gen));
	if (redirect != NULL)
		json_set(a, o, "redirect", json_str(a, redirect));
	json_set(a, o, "exp", json_int(a, (long long)time(NULL) + ttl));
	buf_init(&b, a);
	json_write(&b, o);
	util_sha256_hex(tok, 64, key);
	if (auth_purge_expired(c, t, auth_db_tokens, "tokens") != 0 ||
	    store_put(t, auth_db_tokens, key, 64, b.p, b.len) != 0)
		return NULL;
	return tok;
}

/* The live token of kind, or NULL. */
static struct json *
lookup(struct ectx *c, struct store_txn *t, const char *tok, const char *kind,
    char key[65])
{
	struct store_val	 v;
	struct json		*o;
	const char		*why, *k;
	double			 exp;

	if (tok == NULL || strlen(tok) != 64)
		return NULL;
	util_sha256_hex(tok, 64, key);
	if (store_get(t, auth_db_tokens, key, 64, &v) != 0 ||
	    json_parse(c->arena, v.p, v.len, &o, &why) != 0)
		return NULL;
	k = json_gets(o, "kind");
	if (k == NULL || strcmp(k, kind) != 0 ||
	    !json_tonum(json_get(o, "exp"), &exp) || exp < (double)time(NULL))
		return NULL;
	return o;
}

const char *
oauth2_code_issue(struct ectx *c, struct store_txn *t,
    const struct conf_client *cl, const struct auth_login *who,
    const char *uri)
{
	return issue(c, t, "code", cl->client_id, who, uri, CODE_TTL);
}

/* An RFC 6749 error: the fault's reason is its description. */
static int
grant_error(struct ectx *c, struct oauth2_tokens *out, int code,
    const char *error, const char *desc)
{
	out->error = error;
	return entity_fail(c, code, "%s", desc);
}

/* Failed client authentication: counted and logged like any other. */
static int
client_error(struct ectx *c, const char *remote, struct oauth2_tokens *out,
    const char *why)
{
	auth_fail_count(c, remote, why);
	return grant_error(c, out, FCRM_UNAUTHORIZED, "invalid_client", why);
}

int
oauth2_token(struct ectx *c, const char *remote, const struct oauth2_grant *g,
    struct oauth2_tokens *out)
{
	const struct conf_client *cl;
	struct store_txn	**t;
	struct json		 *tok;
	const char		 *grant, *uri;
	struct auth_login	  who;
	char			  key[65];
	unsigned char		  got[UTIL_SHA256_LEN];
	int			  rc;

	memset(out, 0, sizeof(*out));
	cl = oauth2_client(c->conf, g->client_id);
	if (cl == NULL || g->client_secret == NULL) {
		out->challenge = g->basic;
		return client_error(c, remote, out, "Unknown client or no "
		    "client secret.");
	}
	util_sha256(g->client_secret, strlen(g->client_secret), got);
	if (!util_ct_equal(got, cl->secret_sha256, sizeof(got)))
		return client_error(c, remote, out, "Wrong client secret.");
	grant = g->grant_type;
	if (grant == NULL)
		return grant_error(c, out, FCRM_BAD_REQUEST, "invalid_request",
		    "grant_type is missing.");
	if (strcmp(grant, "authorization_code") != 0 &&
	    strcmp(grant, "refresh_token") != 0)
		return grant_error(c, out, FCRM_BAD_REQUEST,
		    "unsupported_grant_type", "Only authorization_code and "
		    "refresh_token are supported.");
	if ((rc = entity_begin(c, 1, &t)) != 0)
		return rc;
	if (strcmp(grant, "authorization_code") == 0) {
		uri = g->redirect_uri;
		tok = lookup(c, *t, g->code, "code", key);
		if (tok == NULL || strcmp(json_gets(tok, "client"),
		    cl->client_id) != 0)
			return grant_error(c, out, FCRM_BAD_REQUEST,
			    "invalid_grant", "The code is unknown, used, "
			    "expired or not this client's.");
		if (uri == NULL || json_gets(tok, "redirect") == NULL ||
		    strcmp(uri, json_gets(tok, "redirect")) != 0)
			return grant_error(c, out, FCRM_BAD_REQUEST,
			    "invalid_grant", "redirect_uri does not match the "
			    "authorization request.");
	} else {
		tok = lookup(c, *t, g->refresh_token, "refresh", key);
		if (tok == NULL || strcmp(json_gets(tok, "client"),
		    cl->client_id) != 0)
			return grant_error(c, out, FCRM_BAD_REQUEST,
			    "invalid_grant", "The refresh token is unknown, "
			    "used, expired or not this client's.");
	}
	/* The user as it is now: the same credentials, still active. */
	if (auth_current(c, *t, json_gets(tok, "utype"), json_gets(tok, "uid"),
	    json_gets(tok, "gen"), &who) != 0) {
		/* It goes: it can never be good again. */
		if (store_del(*t, auth_db_tokens, key, 64, NULL, 0) == 0)
			(void)entity_commit(c, t);
		return grant_error(c, out, FCRM_BAD_REQUEST, "invalid_grant",
		    "The user's password, status or rights changed since "
		    "this grant; authorize again.");
	}
	/* Single use: the code or refresh token goes now. */
	if (store_del(*t, auth_db_tokens, key, 64, NULL, 0) != 0)
		return entity_fail(c, FCRM_STORE, "Cannot update tokens.");
	out->access = issue(c, *t, "access", cl->client_id, &who, NULL,
	    ACCESS_TTL);
	out->refresh = issue(c, *t, "refresh", cl->client_id, &who, NULL,
	    REFRESH_TTL);
	if (out->access == NULL || out->refresh == NULL)
		return entity_fail(c, FCRM_STORE, "Cannot store tokens.");
	return entity_commit(c, t);
}

int
oauth2_bearer(struct ectx *c, const char *token, struct principal **who_p)
{
	struct store_txn	**tp, *t;
	const struct conf_client *cl;
	struct principal	*p;
	struct auth_login	 who;
	struct json		*o;
	char			 key[65];

	if (strlen(token) != 64 || entity_begin(c, 0, &tp) != 0)
		return -1;
	t = *tp;
	o = lookup(c, t, token, "access", key);
	if (o != NULL && auth_current(c, t, json_gets(o, "utype"),
	    json_gets(o, "uid"), json_gets(o, "gen"), &who) != 0)
		o = NULL;
	entity_end(tp);
	if (o == NULL || (cl = oauth2_client(c->conf, json_gets(o, "client")))
	    == NULL)
		return -1;
	p = arena_calloc(c->arena, 1, sizeof(*p));
	p->id = who.id;
	p->name = who.name;
	p->user_name = who.user_name;
	p->type = "api";
	p->role = conf_role_find(c->conf, cl->role);
	p->empty_absent = cl->empty_means_absent;
	if (p->id == NULL || p->name == NULL)
		return -1;
	*who_p = p;
	return 0;
}

struct revoke {
	struct arena	*a;
	const char	*client;
	char		**keys;
	size_t		 n, cap;
};

static int
collect(void *arg, struct store_val k, struct store_val v)
{
	struct revoke	*rv = arg;
	struct json	*o;
	const char	*why, *c;
	char		**nk;

	if (json_parse(rv->a, v.p, v.len, &o, &why) != 0 ||
	    (c = json_gets(o, "client")) == NULL || strcmp(c, rv->client) != 0)
		return 0;
	if (rv->n == rv->cap) {
		rv->cap = rv->cap == 0 ? 16 : rv->cap * 2;
		nk = arena_alloc(rv->a, rv->cap * sizeof(*nk));
		if (rv->n > 0)
			memcpy(nk, rv->keys, rv->n * sizeof(*nk));
		rv->keys = nk;
	}
	rv->keys[rv->n++] = arena_strndup(rv->a, k.p, k.len);
	return 0;
}

int
oauth2_revoke(const struct conf *conf, const char *token, const char *client,
    int *count, const char **why)
{
	struct store		*st = NULL;
	struct store_txn	**tp, *t = NULL;
	struct ectx		 c;
	struct arena		*a;
	struct revoke		 rv;
	char			 key[65];
	int			 rc, db;
	size_t			 i;

	*count = 0;
	*why = NULL;
	if (entity_init(conf, why) != 0)
		return FCRM_CONFIG;
	if ((rc = entity_store_open(conf, NULL, &st, why)) != 0)
		return rc;
	a = arena_new();
	db = auth_db_tokens;
	entity_ctx(&c, a, conf, st);
	if ((rc = entity_begin(&c, 1, &tp)) != 0)
		goto out;
	t = *tp;
	if (token != NULL) {
		util_sha256_hex(token, strlen(token), key);
		if (store_get(t, db, key, 64, &(struct store_val){ 0 }) == 0) {
			rc = store_del(t, db, key, 64, NULL, 0);
			*count = 1;
		}
	} else {
		memset(&rv, 0, sizeof(rv));
		rv.a = a;
		rv.client = client;
		if ((rc = store_iter(t, db, 1, NULL, 0, collect, &rv)) != 0)
			goto out;
		for (i = 0; i < rv.n && rc == 0; i++)
			rc = store_del(t, db, rv.keys[i], strlen(rv.keys[i]),
			    NULL, 0);
		*count = (int)rv.n;
	}
	if (rc == 0)
		rc = entity_commit(&c, tp);
out:
	if (rc != 0 && *why == NULL)
		*why = error_reason(rc);
	arena_free(a);
	entity_store_close(st);
	return rc;
}
