/*
 * Unit tests of auth as a floor below HTTP (app/auth/): its calls take a
 * struct auth_in and a struct ectx, no request, and answer a code with the
 * fault, in-process on a real LMDB environment in a temporary directory.
 * No credentials is 401 with the challenge flag (not for
 * XMLHttpRequest); each scheme lets the right credentials in with the
 * principal and refuses the wrong ones with its code and reason (401 for
 * X-Api-Key, HMAC and Espo-Authorization, 403 for Basic and Bearer, 400
 * for a bad Espo-Authorization string); a session opened with a password
 * is found by its cookie, needs its CSRF token to write or to end, and is
 * gone once ended; the limiter refuses an address after its failures
 * (403, whatever the credential) and not another address, and an address
 * it let in (the answer kept, app/auth/auth.c) is refused once another
 * process, forked alike, commits its failures.
 * Prints TAP.
 */
#include <crypt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "fastcrm/arena.h"
#include "fastcrm/auth.h"
#include "fastcrm/conf.h"
#include "fastcrm/entity.h"
#include "fastcrm/error.h"
#include "fastcrm/resources.h"
#include "fastcrm/util.h"
#include "tap.h"

#define KEY		"unit-auth-key-0001"
#define HKEY		"unit-auth-key-hmac"
#define HSECRET		"unit-auth-hmac-secret"
#define PASSWORD	"unit-auth-password"
#define LIMIT		3

static char		 dir[] = "/tmp/fastcrm-unit-auth.XXXXXX";
static struct conf	 conf;
static struct conf_role	 role;
static struct conf_acl	 acl;
static struct conf_user	 users[3];

static void
cleanup(void)
{
	tap_rm_store(dir);
}

static const char *
reason(const struct ectx *c, int rc)
{
	return rc == 0 ? "(none)" : entity_reason(c, rc);
}

static int
is(const char *a, const char *b)
{
	return a != NULL && b != NULL && strcmp(a, b) == 0;
}

/* A request's credentials from remote: only what the test sets. */
static void
in_init(struct auth_in *in, const char *method, const char *remote)
{
	memset(in, 0, sizeof(*in));
	in->method = method;
	in->path = "/api/v1/Contact";
	in->remote = remote;
}

/* base64 of s, in a. */
static char *
b64(struct arena *a, const void *s, size_t n)
{
	char	*out;

	out = arena_alloc(a, (n + 2) / 3 * 4 + 1);
	EVP_EncodeBlock((unsigned char *)out, s, (int)n);
	return out;
}

/* X-Hmac-Authorization for "GET " path, in a. */
static char *
hmac_value(struct arena *a, const char *path)
{
	unsigned char	 mac[EVP_MAX_MD_SIZE];
	unsigned int	 maclen = 0;
	char		 hex[EVP_MAX_MD_SIZE * 2 + 1], *msg, *pair;

	msg = arena_printf(a, "GET %s", path);
	HMAC(EVP_sha256(), HSECRET, (int)strlen(HSECRET),
	    (unsigned char *)msg, strlen(msg), mac, &maclen);
	util_hex(mac, maclen, hex);
	pair = arena_printf(a, "%s:%s", HKEY, hex);
	return b64(a, pair, strlen(pair));
}

static void
setup_conf(void)
{
	struct crypt_data	*cd;
	char			 salt[CRYPT_GENSALT_OUTPUT_SIZE];
	const char		*h;

	acl.entity = (char *)"*";
	acl.create = 1;
	acl.read = acl.edit = acl.del = CONF_ALL;
	role.name = (char *)"api";
	role.acls = &acl;
	role.nacls = 1;
	users[0].name = (char *)"keyed";
	users[0].id = (char *)"0123456789abcdef0";
	users[0].role = (char *)"api";
	users[0].has_key = 1;
	util_sha256(KEY, strlen(KEY), users[0].key_sha256);
	users[1].name = (char *)"signer";
	users[1].id = (char *)"0123456789abcdef1";
	users[1].role = (char *)"api";
	users[1].has_key = 1;
	util_sha256(HKEY, strlen(HKEY), users[1].key_sha256);
	users[1].hmac_secret = (char *)HSECRET;
	/* The cheapest yescrypt: the test checks logic, not cost. */
	users[2].name = (char *)"ringo";
	users[2].id = (char *)"0123456789abcdef2";
	users[2].role = (char *)"api";
	if ((cd = calloc(1, sizeof(*cd))) == NULL ||
	    crypt_gensalt_rn("$y$", 1, NULL, 0, salt, sizeof(salt)) == NULL ||
	    (h = crypt_r(PASSWORD, salt, cd)) == NULL || *h == '*' ||
	    (users[2].password_hash = strdup(h)) == NULL) {
		printf("Bail out! crypt(3)\n");
		exit(1);
	}
	free(cd);
	conf.data_dir = dir;
	conf.map_size = 1 << 24;
	conf.default_country_code = (char *)"1";
	/* The limiter's own test lowers it to LIMIT. */
	conf.auth_fail_limit = 1000;
	conf.auth_fail_window = 60;
	conf.roles = &role;
	conf.nroles = 1;
	conf.users = users;
	conf.nusers = 3;
}

static void
schemes(struct ectx *c)
{
	struct auth_in	 in;
	struct auth_out	 out;
	const char	*good, *bad;
	int		 rc;

	in_init(&in, "GET", "192.0.2.1");
	rc = auth_authenticate(c, &in, &out);
	ok(rc == FCRM_UNAUTHORIZED && out.challenge && out.who == NULL &&
	    is(c->fault.reason, "No credentials: send X-Api-Key or an "
	    "Authorization header."), "no credentials: 401, challenge: %s",
	    reason(c, rc));
	in.requested_with = "XMLHttpRequest";
	rc = auth_authenticate(c, &in, &out);
	ok(rc == FCRM_UNAUTHORIZED && !out.challenge,
	    "no credentials from XMLHttpRequest: 401, no challenge");

	in_init(&in, "GET", "192.0.2.1");
	in.api_key = KEY;
	rc = auth_authenticate(c, &in, &out);
	ok(rc == 0 && out.who != NULL && is(out.who->name, "keyed") &&
	    is(out.who->type, "api") && out.who->role == &role,
	    "X-Api-Key: the principal with its role");
	in.api_key = "not-the-key";
	rc = auth_authenticate(c, &in, &out);
	ok(rc == FCRM_UNAUTHORIZED && !out.challenge &&
	    is(c->fault.reason, "Wrong API key."), "a wrong key: 401: %s",
	    reason(c, rc));
	in.api_key = HKEY;
	rc = auth_authenticate(c, &in, &out);
	ok(rc == FCRM_UNAUTHORIZED && c->fault.reason != NULL &&
	    strstr(c->fault.reason, "X-Hmac-Authorization") != NULL,
	    "the key of a user with an HMAC secret alone: 401: %s",
	    reason(c, rc));

	in_init(&in, "GET", "192.0.2.1");
	in.hmac = hmac_value(c->arena, "/Contact");
	rc = auth_authenticate(c, &in, &out);
	ok(rc == 0 && out.who != NULL && is(out.who->name, "signer"),
	    "X-Hmac-Authorization over the method and path without /api/v1");
	in.hmac = hmac_value(c->arena, "/Case");
	rc = auth_authenticate(c, &in, &out);
	ok(rc == FCRM_UNAUTHORIZED &&
	    is(c->fault.reason, "Wrong HMAC authorization."),
	    "a signature of another path: 401: %s", reason(c, rc));

	good = b64(c->arena, "ringo:" PASSWORD, strlen("ringo:" PASSWORD));
	bad = b64(c->arena, "ringo:wrong", strlen("ringo:wrong"));
	in_init(&in, "GET", "192.0.2.1");
	in.authorization = arena_printf(c->arena, "Basic %s", good);
	rc = auth_authenticate(c, &in, &out);
	ok(rc == 0 && out.who != NULL && is(out.who->name, "ringo"),
	    "Basic with the password");
	in.authorization = arena_printf(c->arena, "Basic %s", bad);
	rc = auth_authenticate(c, &in, &out);
	ok(rc == FCRM_FORBIDDEN &&
	    is(c->fault.reason, "Wrong username or password."),
	    "Basic with a wrong password: 403: %s", reason(c, rc));
	in.authorization = "Bearer " KEY;
	rc = auth_authenticate(c, &in, &out);
	ok(rc == 0 && out.who != NULL && is(out.who->name, "keyed"),
	    "Bearer with an API key");
	in.authorization = "Bearer no-such-token";
	rc = auth_authenticate(c, &in, &out);
	ok(rc == FCRM_FORBIDDEN &&
	    is(c->fault.reason, "Wrong or expired token."),
	    "Bearer with a wrong token: 403: %s", reason(c, rc));
	in.authorization = "Digest x";
	rc = auth_authenticate(c, &in, &out);
	ok(rc == FCRM_FORBIDDEN && !out.challenge &&
	    is(c->fault.reason, "Unsupported authorization scheme."),
	    "another scheme: 403: %s", reason(c, rc));

	in_init(&in, "GET", "192.0.2.1");
	in.espo = good;
	rc = auth_authenticate(c, &in, &out);
	ok(rc == 0 && out.who != NULL && out.who->espo_password,
	    "Espo-Authorization with the password (App/user issues a token)");
	in.espo = bad;
	rc = auth_authenticate(c, &in, &out);
	ok(rc == FCRM_UNAUTHORIZED, "Espo-Authorization, a wrong password: "
	    "401: %s", reason(c, rc));
	in.espo = b64(c->arena, "nocolon", 7);
	rc = auth_authenticate(c, &in, &out);
	ok(rc == FCRM_BAD_REQUEST && is(c->fault.reason, "Auth: Bad "
	    "authorization string provided."),
	    "Espo-Authorization without a colon: 400: %s", reason(c, rc));
}

static void
sessions(struct ectx *c)
{
	struct auth_session	 s;
	struct auth_in		 in;
	struct auth_out		 out;
	int			 rc;

	rc = auth_session_open(c, "192.0.2.2", "ringo", "wrong", &s);
	ok(rc == FCRM_UNAUTHORIZED, "no session for a wrong password: %s",
	    reason(c, rc));
	rc = auth_session_open(c, "192.0.2.2", "ringo", PASSWORD, &s);
	ok(rc == 0 && strlen(s.token) == 64 && strlen(s.csrf) == 64 &&
	    is(s.who.name, "ringo") && is(s.who.type, "api"),
	    "a session for the password: %s", reason(c, rc));
	if (rc != 0)
		return;
	in_init(&in, "GET", "192.0.2.2");
	in.cookie = arena_printf(c->arena, "a=b; %s=%s", AUTH_COOKIE,
	    s.token);
	rc = auth_authenticate(c, &in, &out);
	ok(rc == 0 && out.who != NULL && is(out.who->name, "ringo") &&
	    is(out.who->csrf, s.csrf), "its cookie signs a GET in");
	in.method = "POST";
	rc = auth_authenticate(c, &in, &out);
	ok(rc == FCRM_FORBIDDEN && is(c->fault.reason, "CSRF token missing "
	    "or wrong."), "a POST without its CSRF token: 403: %s",
	    reason(c, rc));
	in.csrf = s.csrf;
	rc = auth_authenticate(c, &in, &out);
	ok(rc == 0 && out.who != NULL, "a POST with it");
	in.csrf = NULL;
	rc = auth_session_close(c, &in);
	ok(rc == FCRM_FORBIDDEN, "ending it needs the CSRF token: %s",
	    reason(c, rc));
	in.csrf = s.csrf;
	ok(auth_session_close(c, &in) == 0, "with it, it ends");
	in.method = "GET";
	rc = auth_authenticate(c, &in, &out);
	ok(rc == FCRM_UNAUTHORIZED && out.who == NULL &&
	    is(c->fault.reason, "Session expired or unknown; sign in again."),
	    "then its cookie is unknown: 401: %s", reason(c, rc));
}

static void
limiter(struct ectx *c)
{
	struct auth_in	 in;
	struct auth_out	 out;
	int		 i, rc;

	conf.auth_fail_limit = LIMIT;
	ok(auth_limited(c, "192.0.2.3") == 0, "a new address is not limited");
	in_init(&in, "GET", "192.0.2.3");
	in.api_key = "wrong";
	for (i = 0; i <= LIMIT; i++)
		(void)auth_authenticate(c, &in, &out);
	rc = auth_limited(c, "192.0.2.3");
	ok(rc == FCRM_FORBIDDEN && is(c->fault.reason, "Too many failed "
	    "logins from this address; try again later."),
	    "after %d failures the address is limited: %s", LIMIT + 1,
	    reason(c, rc));
	in.api_key = KEY;
	rc = auth_authenticate(c, &in, &out);
	ok(rc == FCRM_FORBIDDEN && out.who == NULL,
	    "even the right key from it: 403");
	in.remote = "192.0.2.4";
	rc = auth_authenticate(c, &in, &out);
	ok(rc == 0 && out.who != NULL, "another address is not limited");
}

#define SHARED_ADDR	"192.0.2.5"

/*
 * The other worker of limiter_shared: forked before this process opens
 * the store it tests with, so that it inherits the batch gate's page (as
 * workers do from the master) and no environment.  Told to, it opens its
 * own store, records LIMIT + 1 failures from SHARED_ADDR and exits 0.
 */
static pid_t	 helper = -1;
static int	 helper_go = -1;

static void
helper_start(void)
{
	struct auth_in	 in;
	struct auth_out	 out;
	struct store	*st;
	struct arena	*a;
	struct ectx	 c;
	const char	*why = NULL;
	int		 fds[2], i;
	char		 go;

	if (pipe(fds) == -1)
		return;
	fflush(stdout);
	if ((helper = fork()) != 0) {
		close(fds[0]);
		helper_go = fds[1];
		return;
	}
	close(fds[1]);
	if (read(fds[0], &go, 1) != 1)
		_exit(3);
	if (entity_store_open(&conf, NULL, &st, &why) != 0)
		_exit(2);
	a = arena_new();
	entity_ctx(&c, a, &conf, st);
	c.system = 0;
	in_init(&in, "GET", SHARED_ADDR);
	in.api_key = "wrong";
	for (i = 0; i <= LIMIT; i++) {
		(void)auth_authenticate(&c, &in, &out);
		arena_reset(a);
	}
	arena_free(a);
	entity_store_close(st);
	_exit(0);
}

/*
 * A worker keeps "under the limit" for an address it let in; failures
 * that another worker (a process forked alike) commits must end that.
 */
static void
limiter_shared(struct ectx *c)
{
	struct auth_in	 in;
	struct auth_out	 out;
	int		 rc, status;

	in_init(&in, "GET", SHARED_ADDR);
	in.api_key = KEY;
	rc = auth_authenticate(c, &in, &out);
	ok(rc == 0, "shared limiter: the right key from a new address: %s",
	    reason(c, rc));
	entity_store_idle(c->store);
	rc = auth_authenticate(c, &in, &out);
	ok(rc == 0, "shared limiter: ... and again (the answer kept): %s",
	    reason(c, rc));
	ok(helper > 0 && write(helper_go, "g", 1) == 1 &&
	    waitpid(helper, &status, 0) == helper && WIFEXITED(status) &&
	    WEXITSTATUS(status) == 0,
	    "shared limiter: another process records %d failures", LIMIT + 1);
	/* The next request, as a worker begins it: a fresh snapshot. */
	entity_store_idle(c->store);
	in.api_key = KEY;
	rc = auth_authenticate(c, &in, &out);
	ok(rc == FCRM_FORBIDDEN && out.who == NULL,
	    "shared limiter: then the right key from it here: 403: %s",
	    reason(c, rc));
}

int
main(void)
{
	struct store	*st = NULL;
	struct arena	*a;
	struct ectx	 c;
	const char	*why = NULL;

	if (mkdtemp(dir) == NULL) {
		printf("Bail out! mkdtemp %s\n", dir);
		return 1;
	}
	atexit(cleanup);
	setup_conf();
	entity_register(resources);
	if (entity_init(NULL, &why) != 0 || auth_init() != 0 ||
	    entity_store_open(&conf, NULL, &st, &why) != 0) {
		printf("Bail out! store: %s\n", why != NULL ? why : "?");
		return 1;
	}
	/* That first open made the gate's page; the helper forks with it
	   and nothing else open, then this process opens its store again. */
	entity_store_close(st);
	helper_start();
	if (entity_store_open(&conf, NULL, &st, &why) != 0) {
		printf("Bail out! store: %s\n", why != NULL ? why : "?");
		return 1;
	}
	a = arena_new();
	entity_ctx(&c, a, &conf, st);
	c.system = 0;
	schemes(&c);
	sessions(&c);
	limiter(&c);
	limiter_shared(&c);
	arena_free(a);
	entity_store_close(st);
	return tap_done();
}
