/*
 * OAuth2 (RFC 6749) authorization-code and refresh-token grants, for
 * Ringotel's "web server flow".  Codes and tokens are random; LMDB keeps
 * only their SHA-256 with kind, client, principal and expiry (auth's
 * "tokens" table, tables.c).  Codes are single-use; refresh tokens
 * rotate; access tokens act with the role of the client.  Each keeps the
 * signed-in principal's type, id and credential generation, and works
 * only while auth_current still finds that principal so (a password
 * change, deactivation or deletion ends it).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fastcrm/auth.h"
#include "fastcrm/conf.h"
#include "fastcrm/entity.h"
#include "fastcrm/error.h"
#include "fastcrm/query.h"
#include "fastcrm/store.h"
#include "fastcrm/util.h"
#include "tables.h"

#define CODE_TTL	600
#define ACCESS_TTL	3600
#define REFRESH_TTL	(30 * 86400)

static const struct conf_client *
client_find(const struct conf *c, const char *id)
{
	size_t	 i;

	for (i = 0; id != NULL && i < c->nclients; i++)
		if (strcmp(c->clients[i].client_id, id) == 0)
			return &c->clients[i];
	return NULL;
}

static int
redirect_ok(const struct conf_client *cl, const char *uri)
{
	size_t	 i;

	for (i = 0; uri != NULL && i < cl->nredirect_uris; i++)
		if (strcmp(cl->redirect_uris[i], uri) == 0)
			return 1;
	return 0;
}

/* HTML-escaped copy. */
static char *
esc(struct arena *a, const char *s)
{
	struct buf	 b;

	buf_init(&b, a);
	for (; s != NULL && *s != '\0'; s++) {
		switch (*s) {
		case '<':
			buf_adds(&b, "&lt;");
			break;
		case '>':
			buf_adds(&b, "&gt;");
			break;
		case '&':
			buf_adds(&b, "&amp;");
			break;
		case '"':
			buf_adds(&b, "&quot;");
			break;
		case '\'':
			buf_adds(&b, "&#39;");
			break;
		default:
			buf_addc(&b, *s);
		}
	}
	return b.p;
}

/* Percent-encoded copy for a query string. */
static char *
qenc(struct arena *a, const char *s)
{
	struct buf	 b;

	buf_init(&b, a);
	for (; *s != '\0'; s++) {
		if ((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		    (*s >= '0' && *s <= '9') || strchr("-_.~", *s) != NULL)
			buf_addc(&b, *s);
		else
			buf_printf(&b, "%%%02X", (unsigned char)*s);
	}
	return b.p;
}

static void
page(struct req *r, int status, const char *title, const char *msg,
    const struct json *p, int form)
{
	static const char *const keep[] = {
		"response_type", "client_id", "redirect_uri", "state", "scope",
		NULL
	};
	struct buf	*b = &r->out;
	const char	*v;
	size_t		 i;

	r->status = status;
	if (status >= 300)
		r->reason = msg != NULL ? msg : title;
	r->error_body = 1;
	r->out_type = "text/html; charset=utf-8";
	http_add_header(r, "Cache-Control", "no-store");
	http_add_header(r, "Content-Security-Policy", "frame-ancestors 'none'");
	b->len = 0;
	buf_printf(b, "<!doctype html><html><head><meta charset=\"utf-8\">"
	    "<meta name=\"viewport\" content=\"width=device-width\">"
	    "<title>fastcrm — %s</title><style>body{font:15px sans-serif;"
	    "max-width:22em;margin:3em auto}input{display:block;width:100%%;"
	    "margin:.3em 0 1em;padding:.4em}.err{color:#a00}</style></head>"
	    "<body><h1>%s</h1>", esc(r->arena, title), esc(r->arena, title));
	if (msg != NULL)
		buf_printf(b, "<p class=\"err\">%s</p>", esc(r->arena, msg));
	if (form) {
		buf_adds(b, "<form method=\"post\" action=\"/oauth2/authorize\">");
		for (i = 0; keep[i] != NULL; i++)
			if ((v = json_gets(p, keep[i])) != NULL)
				buf_printf(b, "<input type=\"hidden\" name=\"%s\" "
				    "value=\"%s\">", keep[i], esc(r->arena, v));
		buf_printf(b, "<p>%s asks to use fastcrm as you.</p>"
		    "<label>User name<input name=\"userName\" "
		    "autocomplete=\"username\" required></label>"
		    "<label>Password<input name=\"password\" type=\"password\" "
		    "autocomplete=\"current-password\" required></label>"
		    "<button type=\"submit\">Sign in and allow</button></form>",
		    esc(r->arena, json_gets(p, "client_id")));
	}
	buf_adds(b, "</body></html>");
}

/* Stores a new random token of kind; returns it (hex) in the arena. */
static char *
issue(struct req *r, struct store_txn *t, const char *kind,
    const char *client, const struct auth_login *who,
    const char *redirect, long long ttl)
{
	struct arena	*a = r->arena;
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
	if (auth_purge_expired(r, t, auth_db_tokens, "tokens") != 0 ||
	    store_put(t, auth_db_tokens, key, 64, b.p, b.len) != 0)
		return NULL;
	return tok;
}

/* The live token of kind, or NULL. */
static struct json *
lookup(struct req *r, struct store_txn *t, const char *tok, const char *kind,
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
	    json_parse(r->arena, v.p, v.len, &o, &why) != 0)
		return NULL;
	k = json_gets(o, "kind");
	if (k == NULL || strcmp(k, kind) != 0 ||
	    !json_tonum(json_get(o, "exp"), &exp) || exp < (double)time(NULL))
		return NULL;
	return o;
}

int
oauth2_h_authorize(struct req *r)
{
	const struct conf_client *cl;
	struct store_txn	**t;
	struct json		 *p = r->params;
	struct auth_login	  who;
	const char		 *rt, *uri, *state, *user, *pass, *code;
	int			  rc;
	struct ectx		 c;

	http_ectx(r, &c);
	if (strcmp(r->method, "POST") == 0 &&
	    (rc = http_body_object(r, &p)) != 0) {
		page(r, 400, "Bad request", r->reason, NULL, 0);
		return rc;
	}
	cl = client_find(r->conf, json_gets(p, "client_id"));
	uri = json_gets(p, "redirect_uri");
	if (cl == NULL || !redirect_ok(cl, uri)) {
		page(r, 400, "Invalid client or redirect URI", "The application "
		    "is not registered with this redirect URI; nothing was "
		    "sent back to it.", p, 0);
		return FCRM_BAD_REQUEST;
	}
	state = json_gets(p, "state");
	rt = json_gets(p, "response_type");
	if (rt == NULL || strcmp(rt, "code") != 0) {
		r->status = 302;
		r->error_body = 1;
		http_add_header(r, "Location", arena_printf(r->arena,
		    "%s%serror=unsupported_response_type%s%s", uri,
		    strchr(uri, '?') != NULL ? "&" : "?",
		    state != NULL ? "&state=" : "",
		    state != NULL ? qenc(r->arena, state) : ""));
		return 0;
	}
	if (strcmp(r->method, "GET") == 0) {
		page(r, 200, "Sign in", NULL, p, 1);
		return 0;
	}
	user = json_gets(p, "userName");
	pass = json_gets(p, "password");
	if (user == NULL || pass == NULL ||
	    auth_login(r, user, pass, &who) != 0) {
		page(r, 200, "Sign in", r->status == 403 ? r->reason :
		    "Wrong user name or password.", p, 1);
		r->reason = NULL;
		return 0;
	}
	if ((rc = entity_begin(&c, 1, &t)) != 0)
		return http_fault(r, &c, rc);
	code = issue(r, *t, "code", cl->client_id, &who, uri, CODE_TTL);
	if (code == NULL || entity_commit(&c, t) != 0) {
		page(r, 500, "Server error", "Cannot store the code.", p, 0);
		return FCRM_STORE;
	}
	r->status = 302;
	r->error_body = 1;
	http_add_header(r, "Location", arena_printf(r->arena, "%s%scode=%s%s%s",
	    uri, strchr(uri, '?') != NULL ? "&" : "?", code,
	    state != NULL ? "&state=" : "",
	    state != NULL ? qenc(r->arena, state) : ""));
	return 0;
}

/* RFC 6749 section 5.2 error answer. */
static int
token_error(struct req *r, int status, const char *error, const char *desc)
{
	struct json	*o;

	o = json_obj(r->arena);
	json_set(r->arena, o, "error", json_str(r->arena, error));
	json_set(r->arena, o, "error_description", json_str(r->arena, desc));
	r->out.len = 0;
	json_write(&r->out, o);
	r->error_body = 1;
	r->status = status;
	r->reason = arena_printf(r->arena, "%s: %s", error, desc);
	http_add_header(r, "Cache-Control", "no-store");
	return status == 401 ? FCRM_UNAUTHORIZED : FCRM_BAD_REQUEST;
}

/* Failed client authentication: counted and logged like any other. */
static int
client_error(struct req *r, const char *why)
{
	auth_fail_count(r, why);
	return token_error(r, 401, "invalid_client", why);
}

int
oauth2_h_token(struct req *r)
{
	const struct conf_client *cl;
	struct store_txn	**t;
	struct json		 *body, *tok, *o;
	const char		 *id, *secret, *grant, *h, *user, *pass, *uri;
	const char		 *access, *refresh;
	struct auth_login	  who;
	char			  key[65];
	unsigned char		  got[UTIL_SHA256_LEN];
	int			  rc, basic = 0;
	struct ectx		 c;

	http_ectx(r, &c);
	if ((rc = http_body_object(r, &body)) != 0)
		return token_error(r, 400, "invalid_request", r->reason);
	if (auth_limited(r) != 0)
		return token_error(r, 403, "invalid_client", "Too many failed "
		    "logins from this address; try again later.");
	id = json_gets(body, "client_id");
	secret = json_gets(body, "client_secret");
	if ((h = http_header(r, "HTTP_AUTHORIZATION")) != NULL &&
	    strncasecmp(h, "Basic ", 6) == 0) {
		char	*dec, *colon;
		size_t	 n;

		basic = 1;
		dec = auth_base64_decode(r->arena, h + 6, &n);
		if (dec == NULL || (colon = strchr(dec, ':')) == NULL)
			return client_error(r, "Bad Basic client "
			    "credentials.");
		*colon = '\0';
		user = http_urldecode(r->arena, dec, strlen(dec), 1, NULL);
		pass = http_urldecode(r->arena, colon + 1, strlen(colon + 1), 1,
		    NULL);
		id = user;
		secret = pass;
	}
	cl = client_find(r->conf, id);
	if (cl == NULL || secret == NULL) {
		if (basic)
			http_add_header(r, "WWW-Authenticate",
			    "Basic realm=\"fastcrm\"");
		return client_error(r, "Unknown client or no client "
		    "secret.");
	}
	util_sha256(secret, strlen(secret), got);
	if (!util_ct_equal(got, cl->secret_sha256, sizeof(got)))
		return client_error(r, "Wrong client secret.");
	grant = json_gets(body, "grant_type");
	if (grant == NULL)
		return token_error(r, 400, "invalid_request", "grant_type is "
		    "missing.");
	if (strcmp(grant, "authorization_code") != 0 &&
	    strcmp(grant, "refresh_token") != 0)
		return token_error(r, 400, "unsupported_grant_type", "Only "
		    "authorization_code and refresh_token are supported.");
	if ((rc = entity_begin(&c, 1, &t)) != 0)
		return http_fault(r, &c, rc);
	if (strcmp(grant, "authorization_code") == 0) {
		uri = json_gets(body, "redirect_uri");
		tok = lookup(r, *t, json_gets(body, "code"), "code", key);
		if (tok == NULL || strcmp(json_gets(tok, "client"),
		    cl->client_id) != 0)
			return token_error(r, 400, "invalid_grant", "The code is "
			    "unknown, used, expired or not this client's.");
		if (uri == NULL || json_gets(tok, "redirect") == NULL ||
		    strcmp(uri, json_gets(tok, "redirect")) != 0)
			return token_error(r, 400, "invalid_grant",
			    "redirect_uri does not match the authorization "
			    "request.");
	} else {
		tok = lookup(r, *t, json_gets(body, "refresh_token"), "refresh",
		    key);
		if (tok == NULL || strcmp(json_gets(tok, "client"),
		    cl->client_id) != 0)
			return token_error(r, 400, "invalid_grant", "The refresh "
			    "token is unknown, used, expired or not this "
			    "client's.");
	}
	/* The user as it is now: the same credentials, still active. */
	if (auth_current(r, *t, json_gets(tok, "utype"), json_gets(tok, "uid"),
	    json_gets(tok, "gen"), &who) != 0) {
		/* It goes: it can never be good again. */
		if (store_del(*t, auth_db_tokens, key, 64, NULL, 0) == 0)
			(void)entity_commit(&c, t);
		return token_error(r, 400, "invalid_grant", "The user's "
		    "password, status or rights changed since this grant; "
		    "authorize again.");
	}
	/* Single use: the code or refresh token goes now. */
	if (store_del(*t, auth_db_tokens, key, 64, NULL, 0) != 0)
		return http_fail(r, FCRM_STORE, "Cannot update tokens.");
	access = issue(r, *t, "access", cl->client_id, &who, NULL, ACCESS_TTL);
	refresh = issue(r, *t, "refresh", cl->client_id, &who, NULL,
	    REFRESH_TTL);
	if (access == NULL || refresh == NULL)
		return http_fail(r, FCRM_STORE, "Cannot store tokens.");
	if ((rc = entity_commit(&c, t)) != 0)
		return http_fault(r, &c, rc);
	o = json_obj(r->arena);
	json_set(r->arena, o, "access_token", json_str(r->arena, access));
	json_set(r->arena, o, "token_type", json_str(r->arena, "Bearer"));
	json_set(r->arena, o, "expires_in", json_int(r->arena, ACCESS_TTL));
	json_set(r->arena, o, "refresh_token", json_str(r->arena, refresh));
	http_add_header(r, "Cache-Control", "no-store");
	http_add_header(r, "Pragma", "no-cache");
	json_write(&r->out, o);
	return 0;
}

int
oauth2_bearer(struct req *r, const char *token)
{
	struct store_txn	*t = NULL;
	const struct conf_client *cl;
	struct principal	*p;
	struct auth_login	 who;
	struct json		*o;
	char			 key[65];

	if (strlen(token) != 64 || store_begin(r->store, 0, &t) != 0)
		return -1;
	o = lookup(r, t, token, "access", key);
	if (o != NULL && auth_current(r, t, json_gets(o, "utype"),
	    json_gets(o, "uid"), json_gets(o, "gen"), &who) != 0)
		o = NULL;
	store_abort(t);
	if (o == NULL || (cl = client_find(r->conf, json_gets(o, "client")))
	    == NULL)
		return -1;
	p = arena_calloc(r->arena, 1, sizeof(*p));
	p->id = who.id;
	p->name = who.name;
	p->user_name = who.user_name;
	p->type = "api";
	p->role = conf_role_find(r->conf, cl->role);
	p->empty_absent = cl->empty_means_absent;
	if (p->id == NULL || p->name == NULL)
		return -1;
	r->who = p;
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
	struct store_txn	*t = NULL;
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
	if ((rc = store_begin(st, 1, &t)) != 0)
		goto out;
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
	if (rc == 0) {
		rc = store_commit(t);
		t = NULL;
	}
out:
	store_abort(t);
	if (rc != 0 && *why == NULL)
		*why = error_reason(rc);
	arena_free(a);
	entity_store_close(st);
	return rc;
}
