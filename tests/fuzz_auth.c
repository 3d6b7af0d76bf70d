/*
 * libFuzzer target for the credential parsers (app/auth/).  The input is
 *
 *  - decoded with auth_base64_decode(), which must undo OpenSSL's encoding
 *    of any bytes exactly and give back what it decoded when that is
 *    encoded again;
 *  - sent, as a C string, through auth_authenticate() as X-Api-Key,
 *    Espo-Authorization, X-Hmac-Authorization, "Authorization: Basic ",
 *    "Authorization: Bearer ", a bare Authorization, the Cookie header (GET,
 *    and POST with the right CSRF token) and the X-CSRF-Token of a live
 *    session.  A request is let in only with the right credentials, and a
 *    refusal is an error status with a one-line reason.
 *
 * The configuration has one API user ("fuzzer", key fuzz-api-key-0001,
 * password fuzz-password, HMAC secret fuzz-hmac-secret) and one OAuth2
 * client; the store is a real LMDB environment in a fresh directory under
 * $TMPDIR (removed at exit) holding a few sessions (fuzz-session-live with
 * CSRF token fuzz-csrf-token, -expired, -damaged, -badjson) and two OAuth2
 * tokens (ACCESS and REFRESH below, padded to 64 characters).
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
#include "fastcrm/error.h"
#include "fastcrm/http.h"
#include "fastcrm/store.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

#define API_KEY		"fuzz-api-key-0001"
#define USER_NAME	"fuzzer"
#define PASSWORD	"fuzz-password"
#define CSRF		"fuzz-csrf-token"
#define LIVE		"fuzz-session-live"
#define HMAC_SECRET	"fuzz-hmac-secret"
#define ACCESS		"fuzz-oauth2-access-token-000000000000000000000000000000000000000"
#define REFRESH		"fuzz-oauth2-refresh-token-00000000000000000000000000000000000000"

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

static struct arena	*a;
static struct conf	 conf;
static struct conf_role	 role;
static struct conf_acl	 acl;
static struct conf_user	 user;
static struct conf_client client;
static struct store	*st;
static char		 dir[PATH_MAX];
static char		 hmac_pair[128];	/* API_KEY ":" hex HMAC */

static void
cleanup(void)
{
	char	 path[PATH_MAX + 16];

	store_close(st);
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

	auth_sha256_hex(token, strlen(token), key);
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
	char			 salt[CRYPT_GENSALT_OUTPUT_SIZE];
	long long		 exp;
	unsigned char		 mac[EVP_MAX_MD_SIZE];
	unsigned int		 maclen = 0, i;
	int			 n;

	if ((a = arena_new()) == NULL)
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
	client.client_id = (char *)"fuzz-client";
	client.role = (char *)"api";
	conf.clients = &client;
	conf.nclients = 1;

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
	if (store_open(dir, conf.map_size, entity_db_names(), &st) != 0 ||
	    entity_open_dbs(st) != 0)
		abort();
	conf.data_dir = dir;

	if (strlen(ACCESS) != 64 || strlen(REFRESH) != 64)
		abort();
	exp = (long long)time(NULL) + 30 * 86400;
	if (store_begin(st, 1, &t) != 0)
		abort();
	put_hashed(t, "sessions", LIVE, arena_printf(a, "{\"uid\":"
	    "\"0123456789abcdef9\",\"name\":\"Agent\",\"userName\":\"agent\","
	    "\"type\":\"regular\",\"role\":\"api\",\"admin\":false,"
	    "\"csrf\":\"" CSRF "\",\"exp\":%lld}", exp));
	put_hashed(t, "sessions", "fuzz-session-expired", "{\"uid\":"
	    "\"0123456789abcdef9\",\"name\":\"Agent\",\"type\":\"regular\","
	    "\"csrf\":\"x\",\"exp\":1}");
	put_hashed(t, "sessions", "fuzz-session-damaged",
	    "{\"exp\":\"99999999999\"}");
	put_hashed(t, "sessions", "fuzz-session-badjson", "{\"uid\":");
	put_hashed(t, "tokens", ACCESS, arena_printf(a, "{\"kind\":\"access\","
	    "\"client\":\"fuzz-client\",\"uid\":\"0123456789abcdef0\","
	    "\"name\":\"" USER_NAME "\",\"exp\":%lld}", exp));
	put_hashed(t, "tokens", REFRESH, arena_printf(a, "{\"kind\":"
	    "\"refresh\",\"client\":\"fuzz-client\",\"uid\":"
	    "\"0123456789abcdef0\",\"name\":\"" USER_NAME "\",\"exp\":%lld}",
	    exp));
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

	rc = auth_authenticate(&r);
	if (rc == 0) {
		if (r.who == NULL || r.who->id == NULL ||
		    r.who->name == NULL || r.who->type == NULL)
			abort();
		/* Only the right credentials get in. */
		if (strcmp(m->name, "HTTP_X_API_KEY") == 0 &&
		    !is_exactly(v, API_KEY))
			abort();
		if (strcmp(m->prefix, "Bearer ") == 0 &&
		    !is_exactly(input, API_KEY) && !is_exactly(input, ACCESS))
			abort();
		if ((strcmp(m->name, "HTTP_ESPO_AUTHORIZATION") == 0 &&
		    !is_password(v)) || (strcmp(m->prefix, "Basic ") == 0 &&
		    !is_password(input)))
			abort();
		if (strcmp(m->name, "HTTP_X_HMAC_AUTHORIZATION") == 0 &&
		    !decodes_to(v, hmac_pair))
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
	arena_reset(a);
	return 0;
}
