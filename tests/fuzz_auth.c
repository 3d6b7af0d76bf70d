/*
 * libFuzzer target for the credential parsers (app/auth/, reached through
 * app/http/'s authentication glue and sign-in handlers).  The input is
 *
 *  - decoded with auth_base64_decode(), which must undo OpenSSL's encoding
 *    of any bytes exactly and give back what it decoded when that is
 *    encoded again;
 *  - sent, as a C string, through http_authenticate() (app/http/authn.c,
 *    which hands the request's credentials to auth_authenticate()) as
 *    X-Api-Key, Espo-Authorization, X-Hmac-Authorization, "Authorization:
 *    Basic ", "Authorization: Bearer ", a bare Authorization, the Cookie
 *    header (GET, and POST with the right CSRF token) and the X-CSRF-Token
 *    of a live session.  A request is let in only with the right
 *    credentials (never with the bare API key: the user has an HMAC
 *    secret, so it must sign), and a refusal is an error status with a
 *    one-line reason;
 *  - sent to the handlers that take credentials in a body: the OAuth2
 *    token endpoint with the input as its form (or JSON) body, as its
 *    "Authorization: Basic" client credentials, and as the body after good
 *    client credentials; the sign-in form (POST /App/session); and the
 *    OAuth2 authorize endpoint (POST form, GET query).  Tokens, codes and
 *    sessions are issued only for the right client secret, password, code
 *    or refresh token; a refusal is 400, 401 or 403 with a one-line reason
 *    (and the RFC 6749 error body at the token endpoint); a redirect goes
 *    only to the registered redirect URI; the HTML pages carry no markup
 *    from the input.  What a success issued is deleted again and the code
 *    and refresh token are put back, so every run starts from one store.
 *
 * The configuration has one API user ("fuzzer", key fuzz-api-key-0001,
 * password fuzz-password, HMAC secret fuzz-hmac-secret) and one OAuth2
 * client (fuzz-client, secret fuzz-client-secret, redirect URI REDIRECT);
 * the store is a real LMDB environment in a fresh directory under
 * $TMPDIR (removed at exit) holding a few sessions (fuzz-session-live with
 * CSRF token fuzz-csrf-token, -expired, -damaged, -badjson, -stale with
 * another credential generation), two OAuth2 tokens and a code (ACCESS,
 * REFRESH and CODE below, 64 characters), all of the API user, with its
 * credential generation (auth_gen).
 * Seeds: tests/corpus/auth/.
 *
 *	tests/fuzz.sh auth
 */
#include <crypt.h>
#include <limits.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>

#include "fastcrm/arena.h"
#include "fastcrm/auth.h"
#include "fastcrm/conf.h"
#include "fastcrm/entity.h"
#include "fastcrm/resources.h"
#include "fastcrm/error.h"
#include "fastcrm/http.h"
#include "fastcrm/json.h"
#include "fastcrm/query.h"
#include "fastcrm/route.h"
#include "fastcrm/store.h"
#include "fastcrm/util.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

#define API_KEY		"fuzz-api-key-0001"
#define USER_NAME	"fuzzer"
#define PASSWORD	"fuzz-password"
#define CSRF		"fuzz-csrf-token"
#define LIVE		"fuzz-session-live"
#define HMAC_SECRET	"fuzz-hmac-secret"
#define ACCESS		"fuzz-oauth2-access-token-000000000000000000000000000000000000000"
#define REFRESH		"fuzz-oauth2-refresh-token-00000000000000000000000000000000000000"
#define CODE		"fuzz-oauth2-code-00000000000000000000000000000000000000000000000"
#define CLIENT		"fuzz-client"
#define CLIENT_SECRET	"fuzz-client-secret"
#define REDIRECT	"https://ringotel.example/cb"
/* Base64 of CLIENT ":" CLIENT_SECRET. */
#define CLIENT_BASIC	"ZnV6ei1jbGllbnQ6ZnV6ei1jbGllbnQtc2VjcmV0"

/* How the input is sent: header name, the value's prefix, the method, and
   one more header (or NULL). */
static const struct mode {
	const char	*name;
	const char	*prefix;
	const char	*method;
	const char	*extra;
} modes[] = {
	{ "HTTP_X_API_KEY", "", "GET", NULL },
	{ "HTTP_ESPO_AUTHORIZATION", "", "GET", NULL },
	{ "HTTP_X_HMAC_AUTHORIZATION", "", "GET", NULL },
	{ "HTTP_AUTHORIZATION", "Basic ", "GET", NULL },
	{ "HTTP_AUTHORIZATION", "Bearer ", "POST", NULL },
	{ "HTTP_AUTHORIZATION", "", "GET", NULL },
	{ "HTTP_COOKIE", "", "GET", NULL },
	{ "HTTP_COOKIE", "", "POST", "HTTP_X_CSRF_TOKEN=" CSRF },
	{ "HTTP_X_CSRF_TOKEN", "", "PUT",
	    "HTTP_COOKIE=a=b; " AUTH_COOKIE "=" LIVE },
};

/* The handlers that read credentials from a body. */
enum hkind {
	H_TOKEN_FORM,		/* the input is the token request's body */
	H_TOKEN_BASIC,		/* ... its Basic client credentials */
	H_TOKEN_GRANT,		/* ... the body after good client credentials */
	H_SESSION,		/* POST /api/v1/App/session */
	H_AUTHORIZE_POST,	/* POST /oauth2/authorize */
	H_AUTHORIZE_GET,	/* GET /oauth2/authorize?input */
	H_MAX
};

/* Tokens and sessions a success issued, deleted after the run. */
#define ISSUED_MAX	8
static struct {
	char		 tok[65];
	const char	*db;
} issued[ISSUED_MAX];
static size_t		 nissued;
static int		 restore;	/* CODE or REFRESH were used */

static struct arena	*a;
static struct arena	*ra;		/* one handler request */
static char		 code_json[512], refresh_json[512];
static char		*redirects[] = { (char *)REDIRECT };
static struct conf	 conf;
static struct conf_role	 role;
static struct conf_acl	 acl;
static struct conf_user	 user;
static struct conf_client client;
static struct store	*st;
static char		 dir[PATH_MAX];
static char		 hmac_pair[128];	/* API_KEY ":" hex HMAC */
static char		 hmac_raw[128];		/* API_KEY ":" raw HMAC (0.1.x) */
static size_t		 hmac_rawlen;

static void
cleanup(void)
{
	char	 path[PATH_MAX + 16];

	entity_store_close(st);
	st = NULL;
	snprintf(path, sizeof(path), "%s/data.mdb", dir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/lock.mdb", dir);
	unlink(path);
	rmdir(dir);
}

/* Stores value under the SHA-256 of token, as sessions and tokens are. */
static void
put_hashed(struct store_txn *t, const char *db, const char *token,
    const char *value)
{
	char	 key[65];

	util_sha256_hex(token, strlen(token), key);
	if (store_put(t, store_db(st, db), key, 64, value,
	    strlen(value)) != 0)
		abort();
}

static void
setup(void)
{
	struct crypt_data	*cd;
	struct store_txn	*t;
	const char		*why, *tmp, *h;
	char			 salt[CRYPT_GENSALT_OUTPUT_SIZE], gen[65];
	long long		 exp;
	unsigned char		 mac[EVP_MAX_MD_SIZE];
	unsigned int		 maclen = 0, i;
	int			 n;

	if ((a = arena_new()) == NULL || (ra = arena_new()) == NULL)
		abort();

	acl.entity = (char *)"*";
	acl.create = 1;
	acl.read = acl.edit = acl.del = CONF_ALL;
	role.name = (char *)"api";
	role.acls = &acl;
	role.nacls = 1;
	user.name = (char *)USER_NAME;
	user.id = (char *)"0123456789abcdef0";
	user.role = (char *)"api";
	user.has_key = 1;
	SHA256((const unsigned char *)API_KEY, strlen(API_KEY),
	    user.key_sha256);
	user.hmac_secret = (char *)HMAC_SECRET;
	/* The one good signature, of "GET /Contact". */
	HMAC(EVP_sha256(), HMAC_SECRET, (int)strlen(HMAC_SECRET),
	    (const unsigned char *)"GET /Contact", 12, mac, &maclen);
	n = snprintf(hmac_pair, sizeof(hmac_pair), "%s:", API_KEY);
	for (i = 0; i < maclen; i++)
		n += snprintf(hmac_pair + n, sizeof(hmac_pair) - (size_t)n,
		    "%02x", mac[i]);
	/* The older official client's form: the binary digest itself. */
	hmac_rawlen = (size_t)snprintf(hmac_raw, sizeof(hmac_raw), "%s:",
	    API_KEY);
	memcpy(hmac_raw + hmac_rawlen, mac, maclen);
	hmac_rawlen += maclen;
	/* The cheapest yescrypt: a password is hashed on every guess. */
	if ((cd = calloc(1, sizeof(*cd))) == NULL ||
	    crypt_gensalt_rn("$y$", 1, NULL, 0, salt, sizeof(salt)) == NULL ||
	    (h = crypt_r(PASSWORD, salt, cd)) == NULL || *h == '*' ||
	    (user.password_hash = strdup(h)) == NULL)
		abort();
	free(cd);
	conf.default_country_code = (char *)"1";
	/* The limiter runs, but never locks the fuzzer out. */
	conf.auth_fail_limit = INT_MAX - 1;
	conf.auth_fail_window = 60;
	conf.map_size = 64 << 20;
	conf.roles = &role;
	conf.nroles = 1;
	conf.users = &user;
	conf.nusers = 1;
	client.client_id = (char *)CLIENT;
	client.role = (char *)"api";
	SHA256((const unsigned char *)CLIENT_SECRET, strlen(CLIENT_SECRET),
	    client.secret_sha256);
	client.redirect_uris = redirects;
	client.nredirect_uris = 1;
	conf.clients = &client;
	conf.nclients = 1;

	entity_register(resources);
	if (entity_init(NULL, &why) != 0)
		abort();
	if ((tmp = getenv("TMPDIR")) == NULL || *tmp == '\0')
		tmp = "/tmp";
	snprintf(dir, sizeof(dir), "%s/fuzz_auth.XXXXXX", tmp);
	if (mkdtemp(dir) == NULL) {
		perror(dir);
		abort();
	}
	atexit(cleanup);
	if (auth_init() != 0 || entity_store_open(&conf, dir, &st, &why) != 0)
		abort();
	conf.data_dir = dir;

	if (strlen(ACCESS) != 64 || strlen(REFRESH) != 64 ||
	    strlen(CODE) != 64)
		abort();
	exp = (long long)time(NULL) + 30 * 86400;
	auth_gen("api", user.password_hash, "", gen);
	if (store_begin(st, 1, &t) != 0)
		abort();
	put_hashed(t, "sessions", LIVE, arena_printf(a, "{\"uid\":"
	    "\"0123456789abcdef0\",\"type\":\"api\",\"gen\":\"%s\","
	    "\"csrf\":\"" CSRF "\",\"exp\":%lld}", gen, exp));
	put_hashed(t, "sessions", "fuzz-session-expired", arena_printf(a,
	    "{\"uid\":\"0123456789abcdef0\",\"type\":\"api\",\"gen\":"
	    "\"%s\",\"csrf\":\"x\",\"exp\":1}", gen));
	put_hashed(t, "sessions", "fuzz-session-stale", arena_printf(a,
	    "{\"uid\":\"0123456789abcdef0\",\"type\":\"api\",\"gen\":"
	    "\"%064d\",\"csrf\":\"" CSRF "\",\"exp\":%lld}", 0, exp));
	put_hashed(t, "sessions", "fuzz-session-damaged",
	    "{\"exp\":\"99999999999\"}");
	put_hashed(t, "sessions", "fuzz-session-badjson", "{\"uid\":");
	put_hashed(t, "tokens", ACCESS, arena_printf(a, "{\"kind\":\"access\","
	    "\"client\":\"fuzz-client\",\"uid\":\"0123456789abcdef0\","
	    "\"utype\":\"api\",\"gen\":\"%s\",\"exp\":%lld}", gen, exp));
	snprintf(refresh_json, sizeof(refresh_json), "{\"kind\":\"refresh\","
	    "\"client\":\"" CLIENT "\",\"uid\":\"0123456789abcdef0\","
	    "\"utype\":\"api\",\"gen\":\"%s\",\"exp\":%lld}", gen, exp);
	snprintf(code_json, sizeof(code_json), "{\"kind\":\"code\",\"client\":"
	    "\"" CLIENT "\",\"uid\":\"0123456789abcdef0\",\"utype\":\"api\","
	    "\"gen\":\"%s\",\"redirect\":\"" REDIRECT "\",\"exp\":%lld}",
	    gen, exp);
	put_hashed(t, "tokens", REFRESH, refresh_json);
	put_hashed(t, "tokens", CODE, code_json);
	if (store_commit(t) != 0)
		abort();
	arena_reset(a);
}

/* Base64 of n bytes, with OpenSSL's encoder, in the arena. */
static char *
encode(const unsigned char *p, size_t n)
{
	char	*out;

	out = arena_alloc(a, (n + 2) / 3 * 4 + 1);
	EVP_EncodeBlock((unsigned char *)out, p, (int)n);
	return out;
}

static void
check_base64(const uint8_t *data, size_t size, const char *s)
{
	char	*dec, *again;
	size_t	 n, m;

	/* Anything OpenSSL encodes decodes back to the same bytes. */
	if ((dec = auth_base64_decode(a, encode(data, size), &n)) == NULL ||
	    n != size || memcmp(dec, data, size) != 0 || dec[n] != '\0')
		abort();

	/* What the input decodes to encodes and decodes to itself. */
	if ((dec = auth_base64_decode(a, s, &n)) == NULL)
		return;
	if (n > strlen(s) / 4 * 3 + 2 || dec[n] != '\0')
		abort();
	again = auth_base64_decode(a, encode((unsigned char *)dec, n), &m);
	if (again == NULL || m != n || memcmp(again, dec, n) != 0)
		abort();
}

/* The value, base64-decoded after leading spaces, is exactly want. */
static int
decodes_to(const char *v, const char *want)
{
	char	*dec;
	size_t	 n;

	while (*v == ' ')
		v++;
	dec = auth_base64_decode(a, v, &n);
	return dec != NULL && n == strlen(want) && memcmp(dec, want, n) == 0;
}

/* As decodes_to(), for bytes that may hold NUL. */
static int
decodes_to_bytes(const char *v, const char *want, size_t wlen)
{
	char	*dec;
	size_t	 n;

	while (*v == ' ')
		v++;
	dec = auth_base64_decode(a, v, &n);
	return dec != NULL && n == wlen && memcmp(dec, want, n) == 0;
}

static int
is_password(const char *v)
{
	return decodes_to(v, USER_NAME ":" PASSWORD);
}

/* The value, after leading spaces, is exactly want. */
static int
is_exactly(const char *v, const char *want)
{
	while (*v == ' ')
		v++;
	return strcmp(v, want) == 0;
}

static void
check_reason(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			abort();
}

static void
attempt(const struct mode *m, const char *input)
{
	struct req	 r;
	struct buf	 out;
	const char	*v;
	char		*env[5];
	int		 rc, n = 0;

	v = arena_printf(a, "%s%s", m->prefix, input);
	env[n++] = (char *)"HTTP_X_API_KEYS=decoy";
	env[n++] = arena_printf(a, "%s=%s", m->name, v);
	if (m->extra != NULL)
		env[n++] = (char *)m->extra;
	env[n++] = (char *)"REMOTE_ADDR=192.0.2.1";
	env[n] = NULL;

	memset(&r, 0, sizeof(r));
	r.arena = a;
	r.conf = &conf;
	r.store = st;
	r.env = env;
	r.method = m->method;
	r.path = "/api/v1/Contact";
	r.query = "";
	r.ctype = "";
	r.remote = "192.0.2.1";
	r.body = "";
	buf_init(&r.hdrs, a);
	buf_init(&r.out, a);

	rc = http_authenticate(&r);
	if (rc == 0) {
		if (r.who == NULL || r.who->id == NULL ||
		    r.who->name == NULL || r.who->type == NULL)
			abort();
		/* Only the right credentials get in; the key alone never
		   does, its user must sign. */
		if (strcmp(m->name, "HTTP_X_API_KEY") == 0)
			abort();
		if (strcmp(m->prefix, "Bearer ") == 0 &&
		    !is_exactly(input, ACCESS))
			abort();
		if ((strcmp(m->name, "HTTP_ESPO_AUTHORIZATION") == 0 &&
		    !is_password(v)) || (strcmp(m->prefix, "Basic ") == 0 &&
		    !is_password(input)))
			abort();
		if (strcmp(m->name, "HTTP_X_HMAC_AUTHORIZATION") == 0 &&
		    !decodes_to(v, hmac_pair) &&
		    !decodes_to_bytes(v, hmac_raw, hmac_rawlen))
			abort();
		if (strcmp(m->name, "HTTP_X_CSRF_TOKEN") == 0 &&
		    strcmp(input, CSRF) != 0)
			abort();
	} else {
		if (r.who != NULL || r.reason == NULL ||
		    (r.status != 400 && r.status != 401 && r.status != 403))
			abort();
		check_reason(r.reason);
	}
	buf_init(&out, a);
	http_response(&r, &out);
	if (out.len < 8 || memcmp(out.p, "Status: ", 8) != 0)
		abort();
}

/* The value of response header name (without "\r\n"), or NULL. */
static const char *
header(const struct req *r, const char *name)
{
	const char	*p, *e;
	size_t		 n = strlen(name);

	for (p = r->hdrs.p; p != NULL && *p != '\0'; p = e + 2) {
		if ((e = strstr(p, "\r\n")) == NULL)
			abort();
		if (strncasecmp(p, name, n) == 0 && p[n] == ':' &&
		    p[n + 1] == ' ')
			return arena_strndup(ra, p + n + 2,
			    (size_t)(e - p - n - 2));
	}
	return NULL;
}

/* Remembers a token a success issued (64 hex digits), for deletion. */
static void
remember(const char *db, const char *tok)
{
	size_t	 i;

	if (tok == NULL || strlen(tok) < 64 || nissued == ISSUED_MAX)
		abort();
	for (i = 0; i < 64; i++)
		if (strchr("0123456789abcdef", tok[i]) == NULL)
			abort();
	memcpy(issued[nissued].tok, tok, 64);
	issued[nissued].tok[64] = '\0';
	issued[nissued++].db = db;
}

/* Every '<' of an HTML page opens one of the page's own tags. */
static void
check_html(const char *p)
{
	static const char *const tags[] = { "<!doctype html>", "<html>",
	    "<head>", "<meta ", "<title>", "<style>", "<body>", "<h1>",
	    "<p>", "<p class=\"err\">", "<form ", "<input ", "<label>",
	    "<button ", "</", NULL };
	size_t		 i;

	while ((p = strchr(p, '<')) != NULL) {
		for (i = 0; tags[i] != NULL; i++)
			if (strncmp(p, tags[i], strlen(tags[i])) == 0)
				break;
		if (tags[i] == NULL)
			abort();
		p++;
	}
}

/* The body as the handler parsed it (the input's form or JSON). */
static struct json *
body_of(struct req *r)
{
	struct req	 c = *r;
	struct json	*o = NULL;

	buf_init(&c.hdrs, ra);
	buf_init(&c.out, ra);
	if (http_body_object(&c, &o) != 0)
		abort();
	return o;
}

static int
field_is(const struct json *o, const char *name, const char *want)
{
	const char	*v = json_gets(o, name);

	return v != NULL && strcmp(v, want) == 0;
}

/* The grant in o is the stored code or refresh token. */
static int
good_grant(const struct json *o)
{
	return (field_is(o, "grant_type", "refresh_token") &&
	    field_is(o, "refresh_token", REFRESH)) ||
	    (field_is(o, "grant_type", "authorization_code") &&
	    field_is(o, "code", CODE) && field_is(o, "redirect_uri", REDIRECT));
}

/* The Basic client credentials v are CLIENT and CLIENT_SECRET. */
static int
good_basic(const char *v)
{
	char	*dec, *colon;
	size_t	 n;

	if ((dec = auth_base64_decode(ra, v, &n)) == NULL ||
	    (colon = strchr(dec, ':')) == NULL)
		return 0;
	*colon = '\0';
	return strcmp(http_urldecode(ra, dec, strlen(dec), 1, NULL),
	    CLIENT) == 0 && strcmp(http_urldecode(ra, colon + 1,
	    strlen(colon + 1), 1, NULL), CLIENT_SECRET) == 0;
}

static void
check_token(struct req *r, enum hkind k, int rc, const char *input)
{
	struct json	*o, *b;
	const char	*why;

	if (rc != 0) {
		if (r->status != 400 && r->status != 401)
			abort();
		if (json_parse(ra, r->out.p, r->out.len, &o, &why) != 0 ||
		    json_gets(o, "error") == NULL)
			abort();
		return;
	}
	if (r->status != 0 && r->status != 200)
		abort();
	b = body_of(r);
	if (!good_grant(b))
		abort();
	if ((k == H_TOKEN_FORM && (!field_is(b, "client_id", CLIENT) ||
	    !field_is(b, "client_secret", CLIENT_SECRET))) ||
	    (k == H_TOKEN_BASIC && !good_basic(input)))
		abort();
	if (json_parse(ra, r->out.p, r->out.len, &o, &why) != 0)
		abort();
	remember("tokens", json_gets(o, "access_token"));
	remember("tokens", json_gets(o, "refresh_token"));
	restore = 1;
}

static void
check_session(struct req *r, int rc)
{
	const char	*c;
	struct json	*b;

	if (rc != 0) {
		/* 415 for anything but JSON: no sign-in from a form. */
		if (r->status != 400 && r->status != 401 && r->status != 403 &&
		    (r->status != 415 || strcmp(r->ctype, "application/json") ==
		    0))
			abort();
		return;
	}
	if (strcmp(r->ctype, "application/json") != 0)
		abort();
	b = body_of(r);
	if (!field_is(b, "userName", USER_NAME) ||
	    !field_is(b, "password", PASSWORD))
		abort();
	if ((c = header(r, "Set-Cookie")) == NULL ||
	    strncmp(c, AUTH_COOKIE "=", strlen(AUTH_COOKIE) + 1) != 0)
		abort();
	remember("sessions", c + strlen(AUTH_COOKIE) + 1);
}

static void
check_authorize(struct req *r, enum hkind k, int rc)
{
	const char	*loc, *c;
	struct json	*p;

	if (r->out_type != NULL)
		check_html(r->out.p);
	if (rc != 0) {
		if (r->status != 400)
			abort();
		return;
	}
	if (r->status == 200)
		return;
	if (r->status != 302 || (loc = header(r, "Location")) == NULL ||
	    strncmp(loc, REDIRECT "?", strlen(REDIRECT) + 1) != 0)
		abort();
	if ((c = strstr(loc, "?code=")) == NULL)
		return;
	/* A code: only for a POST with the password. */
	p = k == H_AUTHORIZE_POST ? body_of(r) : NULL;
	if (p == NULL || !field_is(p, "userName", USER_NAME) ||
	    !field_is(p, "password", PASSWORD) ||
	    !field_is(p, "client_id", CLIENT) ||
	    !field_is(p, "response_type", "code"))
		abort();
	remember("tokens", c + 6);
}

/* input (len bytes) through handler k, on the arena ra. */
static void
handle(enum hkind k, const char *input, size_t len)
{
	struct req	 r;
	struct buf	 out;
	char		*env[4], *body;
	const char	*why;
	int		 rc, n = 0;

	memset(&r, 0, sizeof(r));
	r.arena = ra;
	r.conf = &conf;
	r.store = st;
	r.remote = "192.0.2.2";
	r.method = "POST";
	r.query = "";
	body = arena_alloc(ra, len + 1);
	memcpy(body, input, len);
	body[len] = '\0';
	input = body;		/* as a C string: up to its first NUL */
	r.body = body;
	r.bodylen = len;
	r.ctype = len > 0 && input[0] == '{' ? "application/json" :
	    "application/x-www-form-urlencoded";
	env[n++] = (char *)"REMOTE_ADDR=192.0.2.2";
	switch (k) {
	case H_TOKEN_BASIC:
		env[n++] = arena_printf(ra, "HTTP_AUTHORIZATION=Basic %s",
		    input);
		r.body = "grant_type=refresh_token&refresh_token=" REFRESH;
		r.bodylen = strlen(r.body);
		r.ctype = "application/x-www-form-urlencoded";
		break;
	case H_TOKEN_GRANT:
		env[n++] = (char *)"HTTP_AUTHORIZATION=Basic " CLIENT_BASIC;
		break;
	case H_AUTHORIZE_GET:
		r.method = "GET";
		r.query = body;
		r.body = "";
		r.bodylen = 0;
		r.ctype = "";
		if (http_query_parse(ra, body, len, &r.params, &why) != 0)
			goto out;
		break;
	default:
		break;
	}
	env[n] = NULL;
	r.env = env;
	r.path = k == H_SESSION ? "/api/v1/App/session" : k <= H_TOKEN_GRANT ?
	    "/oauth2/token" : "/oauth2/authorize";
	if (r.params == NULL)
		r.params = json_obj(ra);
	buf_init(&r.hdrs, ra);
	buf_init(&r.out, ra);

	switch (k) {
	case H_TOKEN_FORM:
	case H_TOKEN_BASIC:
	case H_TOKEN_GRANT:
		rc = oauth2_h_token(&r);
		check_token(&r, k, rc, input);
		break;
	case H_SESSION:
		rc = session_h_create(&r);
		check_session(&r, rc);
		break;
	default:
		rc = oauth2_h_authorize(&r);
		check_authorize(&r, k, rc);
		break;
	}
	if (rc != 0)
		check_reason(r.reason);
	buf_init(&out, ra);
	http_response(&r, &out);
	if (out.len < 8 || memcmp(out.p, "Status: ", 8) != 0)
		abort();
out:
	/* Aborts a write transaction a refusal left open. */
	arena_reset(ra);
}

/* Deletes what the run issued and puts back the code and refresh token. */
static void
put_back(void)
{
	struct store_txn	*t;
	char			 key[65];
	size_t			 i;

	if (nissued == 0 && !restore)
		return;
	if (store_begin(st, 1, &t) != 0)
		abort();
	for (i = 0; i < nissued; i++) {
		util_sha256_hex(issued[i].tok, 64, key);
		if (store_del(t, store_db(st, issued[i].db), key, 64, NULL,
		    0) != 0)
			abort();
	}
	put_hashed(t, "tokens", REFRESH, refresh_json);
	put_hashed(t, "tokens", CODE, code_json);
	if (store_commit(t) != 0)
		abort();
	nissued = 0;
	restore = 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char	*s;
	size_t	 i;

	if (a == NULL)
		setup();
	/* Header values are C strings: the input up to its first NUL. */
	s = arena_strndup(a, (const char *)data, size);
	check_base64(data, size, s);
	for (i = 0; i < sizeof(modes) / sizeof(modes[0]); i++)
		attempt(&modes[i], s);
	for (i = 0; i < H_MAX; i++) {
		handle((enum hkind)i, (const char *)data, size);
		put_back();
	}
	arena_reset(a);
	return 0;
}
