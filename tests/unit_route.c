/*
 * Unit tests of the routes through the FastCGI harness
 * (tests/fcgi_harness.c): one real worker on a unix socket in a
 * temporary directory, real LMDB files, requests framed as nginx frames
 * them.  Records (POST, GET, PUT, DELETE of a Contact), credentials
 * (401), unknown entities and routes (404), methods (405 and Allow),
 * EspoCRM's duplicate and validation answers, bad bodies (400 with a
 * reason, nothing created), a where list, what the resources decide
 * (a number's default phone type, primaryFilter, User's password),
 * /healthz, the exact
 * Content-Type, FastCGI streams of several records, and the worker's
 * clean stop.  Prints TAP and how long
 * the program took (not asserted: speed is tests/bench's).
 */
#include <sys/wait.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fastcrm/arena.h"
#include "fastcrm/json.h"
#include "fcgi_harness.h"
#include "tap.h"

static struct fh	*H;
static struct arena	*A;
static struct fh_resp	 R;		/* the last answer */
static struct json	*J;		/* its body, parsed, or NULL */

/* Sends a request; R and J hold the answer.  0, or -1 (a failed check). */
static int
req(const char *method, const char *uri, const char *key, const char *body,
    const char *const *params)
{
	struct fh_req	 q;
	const char	*why;

	fh_resp_free(&R);
	J = NULL;
	memset(&q, 0, sizeof(q));
	q.method = method;
	q.uri = uri;
	q.key = key;
	q.body = body;
	q.params = params;
	if (fh_request(H, &R, &q) != 0) {
		ok(0, "%s %s: the harness got an answer", method, uri);
		printf("#   %s\n", fh_error(H));
		return -1;
	}
	if (json_parse(A, R.body, R.bodylen, &J, &why) != 0)
		J = NULL;
	return 0;
}

/* Says what the last answer was, after a failed check. */
static void
show(void)
{
	const char	*reason = fh_header(&R, "X-Status-Reason");

	if (tap_last)
		return;
	printf("#   status %d, X-Status-Reason: %s\n#   body: %.300s\n",
	    R.status, reason != NULL ? reason : "(none)",
	    R.body != NULL ? R.body : "(none)");
}

static int
is_str(const struct json *j, const char *key, const char *want)
{
	const char	*got = json_gets(j, key);

	return got != NULL && strcmp(got, want) == 0;
}

static int
hex17(const char *s)
{
	size_t	 i;

	if (s == NULL || strlen(s) != 17)
		return 0;
	for (i = 0; i < 17; i++)
		if (strchr("0123456789abcdef", s[i]) == NULL)
			return 0;
	return 1;
}

/* The members of a list answer: {"total": N, "list": [...]}. */
static int
list_total(void)
{
	struct json	*t = json_get(J, "total");
	double		 d;

	return t != NULL && json_tonum(t, &d) ? (int)d : -1;
}

static const char *
list_id(size_t i)
{
	struct json	*l = json_get(J, "list");

	if (l == NULL || l->type != JSON_ARRAY || i >= l->n)
		return NULL;
	return json_gets(l->v[i], "id");
}

static void
test_healthz(void)
{
	const char	*v;

	if (req("GET", "/healthz", NULL, NULL, NULL) != 0)
		return;
	ok(R.status == 200 && is_str(J, "status", "ok"),
	    "GET /healthz without credentials: 200 {\"status\":\"ok\",...}");
	show();
	ok(fh_header(&R, "Content-Type") != NULL &&
	    strcmp(fh_header(&R, "Content-Type"), "application/json") == 0,
	    "/healthz: Content-Type is exactly application/json");
	ok(fh_header(&R, "Cache-Control") != NULL &&
	    strcmp(fh_header(&R, "Cache-Control"), "no-store") == 0,
	    "/healthz: Cache-Control: no-store");
	v = fh_header(&R, "Content-Length");
	ok(v != NULL && strtoul(v, NULL, 10) == R.bodylen && R.bodylen > 0,
	    "/healthz: Content-Length is the STDOUT body's length (%zu)",
	    R.bodylen);
	/* nginx drops a HEAD answer's body; the route must take HEAD. */
	if (req("HEAD", "/healthz", NULL, NULL, NULL) != 0)
		return;
	ok(R.status == 200 && is_str(J, "status", "ok"), "HEAD /healthz: 200");
	show();
}

static void
test_auth(void)
{
	if (req("POST", "/api/v1/Contact", NULL, "{\"lastName\":\"Nokey\"}",
	    NULL) != 0)
		return;
	ok(R.status == 401 && fh_header(&R, "X-Status-Reason") != NULL,
	    "POST /Contact without X-Api-Key: 401 with a reason");
	show();
	if (req("GET", "/api/v1/Contact", "0123456789abcdef0123456789abcdef",
	    NULL, NULL) != 0)
		return;
	ok(R.status == 401, "a wrong X-Api-Key: 401");
	show();
	if (req("GET", "/api/v1/App/user", FH_KEY, NULL, NULL) != 0)
		return;
	ok(R.status == 200 && is_str(json_get(J, "user"), "userName",
	    "demo"), "GET /App/user with the harness's key: user demo");
	show();
}

/* POST, GET, PUT, a where list, DELETE of one Contact. */
static void
test_contact(void)
{
	const char	*ct;
	char		 id[18], uri[256], *created;
	int		 before;

	if (req("GET", "/api/v1/Contact?maxSize=200", FH_KEY, NULL, NULL) != 0)
		return;
	before = list_total();
	if (req("POST", "/api/v1/Contact", FH_KEY, "{\"firstName\":\"Ada\","
	    "\"lastName\":\"Lovelace\",\"phoneNumber\":\"+44 20 7946 0000\","
	    "\"emailAddress\":\"ada@example.com\"}", NULL) != 0)
		return;
	ok(R.status == 200 && hex17(json_gets(J, "id")),
	    "POST /Contact: 200 with a 17-hex id");
	show();
	ct = fh_header(&R, "Content-Type");
	ok(ct != NULL && strcmp(ct, "application/json") == 0,
	    "POST /Contact: Content-Type is exactly application/json");
	ok(is_str(J, "name", "Ada Lovelace") &&
	    is_str(J, "phoneNumber", "+442079460000"),
	    "the answer has the computed name and the phone in E.164");
	show();
	if (!hex17(json_gets(J, "id")))
		return;
	memcpy(id, json_gets(J, "id"), sizeof(id));
	if ((created = strdup(R.body)) == NULL)
		return;

	snprintf(uri, sizeof(uri), "/api/v1/Contact/%s", id);
	if (req("GET", uri, FH_KEY, NULL, NULL) == 0) {
		ok(R.status == 200 && strcmp(R.body, created) == 0 &&
		    is_str(J, "id", id),
		    "GET /Contact/{id}: 200, the record as created");
		show();
	}
	free(created);
	if (req("PUT", uri, FH_KEY, "{\"title\":\"Countess\"}", NULL) == 0) {
		ok(R.status == 200 && is_str(J, "title", "Countess") &&
		    is_str(J, "firstName", "Ada"),
		    "PUT /Contact/{id}: 200, partial (title set, firstName "
		    "kept)");
		show();
	}
	if (req("GET", "/api/v1/Contact?where[0][type]=equals&"
	    "where[0][attribute]=lastName&where[0][value]=Lovelace", FH_KEY,
	    NULL, NULL) == 0) {
		ok(R.status == 200 && list_total() == 1 && list_id(0) != NULL &&
		    strcmp(list_id(0), id) == 0,
		    "GET /Contact where[0][type]=equals lastName=Lovelace: "
		    "the one record");
		show();
	}
	if (req("GET", "/api/v1/Contact?where[0][type]=equals&"
	    "where[0][attribute]=lastName&where[0][value]=Babbage", FH_KEY,
	    NULL, NULL) == 0) {
		ok(R.status == 200 && list_total() == 0 && list_id(0) == NULL,
		    "where equals lastName=Babbage: total 0, empty list");
		show();
	}
	if (req("GET", "/api/v1/Contact?maxSize=200", FH_KEY, NULL, NULL) ==
	    0) {
		ok(before >= 0 && list_total() == before + 1,
		    "the list's total grew by one (%d to %d)", before,
		    list_total());
		show();
	}
	if (req("DELETE", uri, FH_KEY, NULL, NULL) == 0) {
		ok(R.status == 200 && strcmp(R.body, "true") == 0,
		    "DELETE /Contact/{id}: 200 true");
		show();
	}
	if (req("GET", uri, FH_KEY, NULL, NULL) == 0) {
		ok(R.status == 404, "GET after DELETE: 404");
		show();
	}
}

static void
test_routes(void)
{
	const char	*v;

	if (req("GET", "/api/v1/Nope", FH_KEY, NULL, NULL) == 0) {
		v = fh_header(&R, "X-Status-Reason");
		ok(R.status == 404 && v != NULL &&
		    strcmp(v, "Controller 'Nope' does not exist.") == 0,
		    "GET /Nope: 404, Controller 'Nope' does not exist.");
		show();
	}
	if (req("GET", "/api/v2/Contact", FH_KEY, NULL, NULL) == 0) {
		ok(R.status == 404, "GET /api/v2/Contact (no route): 404");
		show();
	}
	if (req("POST", "/api/v1/Contact/00000000000000000", FH_KEY, "{}",
	    NULL) == 0) {
		v = fh_header(&R, "Allow");
		ok(R.status == 405 && v != NULL && strstr(v, "PUT") != NULL &&
		    strstr(v, "GET") != NULL,
		    "POST on a record: 405 with Allow listing GET and PUT "
		    "(%s)", v != NULL ? v : "none");
		show();
	}
	if (req("POST", "/healthz", NULL, NULL, NULL) == 0) {
		v = fh_header(&R, "Allow");
		ok(R.status == 405 && v != NULL && strstr(v, "GET") != NULL,
		    "POST /healthz: 405 with Allow: GET");
		show();
	}
}

static void
test_bad_input(void)
{
	const char	*v;
	struct json	*mt, *d;
	int		 before;

	if (req("GET", "/api/v1/Contact", FH_KEY, NULL, NULL) != 0)
		return;
	before = list_total();
	if (req("POST", "/api/v1/Contact", FH_KEY, "{\"lastName\": \"x\"",
	    NULL) == 0) {
		v = fh_header(&R, "X-Status-Reason");
		ok(R.status == 400 && v != NULL && strstr(v, "JSON") != NULL,
		    "a truncated JSON body: 400, the reason names JSON (%s)",
		    v != NULL ? v : "none");
		show();
	}
	if (req("POST", "/api/v1/Contact", FH_KEY, "[{\"lastName\":\"x\"}]",
	    NULL) == 0) {
		v = fh_header(&R, "X-Status-Reason");
		ok(R.status == 400 && v != NULL && strstr(v, "object") != NULL,
		    "a JSON array body: 400, the reason asks for an object "
		    "(%s)", v != NULL ? v : "none");
		show();
	}
	if (req("POST", "/api/v1/Contact", FH_KEY, "{\"firstName\":\"NoLast\"}",
	    NULL) == 0) {
		mt = json_get(J, "messageTranslation");
		d = json_get(mt, "data");
		ok(R.status == 400 &&
		    is_str(mt, "label", "validationFailure") &&
		    is_str(d, "field", "lastName") &&
		    is_str(d, "type", "required"),
		    "no lastName: 400 messageTranslation validationFailure, "
		    "field lastName, type required");
		show();
		v = fh_header(&R, "X-Status-Reason");
		ok(v != NULL && strcmp(v, "Field validation failure; "
		    "entityType: Contact, field: lastName, type: required.") ==
		    0, "the validation failure's X-Status-Reason, as "
		    "EspoCRM's");
		show();
	}
	if (req("POST", "/api/v1/Contact", FH_KEY,
	    "{\"lastName\":\"x\",\"emailAddress\":\"not an address\"}",
	    NULL) == 0) {
		d = json_get(json_get(J, "messageTranslation"), "data");
		ok(R.status == 400 && is_str(d, "field", "emailAddress"),
		    "a bad emailAddress: 400 naming the field emailAddress");
		show();
	}
	if (req("GET", "/api/v1/Contact", FH_KEY, NULL, NULL) == 0) {
		ok(before >= 0 && list_total() == before,
		    "the refused bodies created nothing (%d records, %d "
		    "before)", list_total(), before);
		show();
	}
}

static void
test_duplicate(void)
{
	static const char *const skip[] = {
		"HTTP_X_SKIP_DUPLICATE_CHECK", "true", NULL
	};
	static const char body2[] =
	    "{\"firstName\":\"Dup\",\"lastName\":\"Licate\",\"title\":\"b\"}";
	const char	*v, *first;
	char		 id[18], *log;
	struct json	*e;

	if (req("POST", "/api/v1/Contact", FH_KEY,
	    "{\"firstName\":\"Dup\",\"lastName\":\"Licate\",\"title\":\"a\"}",
	    NULL) != 0)
		return;
	first = json_gets(J, "id");
	ok(R.status == 200 && hex17(first) &&
	    is_str(J, "name", "Dup Licate"), "create Dup Licate: 200");
	show();
	if (!hex17(first))
		return;
	memcpy(id, first, sizeof(id));
	if (req("POST", "/api/v1/Contact", FH_KEY, body2, NULL) != 0)
		return;
	v = fh_header(&R, "X-Status-Reason");
	e = J != NULL && J->type == JSON_ARRAY && J->n == 1 ? J->v[0] : NULL;
	ok(R.status == 409 && v != NULL && strcmp(v, "duplicate") == 0,
	    "a look-alike: 409 with X-Status-Reason: duplicate");
	show();
	ok(e != NULL && is_str(e, "id", id),
	    "the 409 body is the array of the one existing record");
	show();
	log = fh_log(H);
	ok(log != NULL && strstr(log, "X-Skip-Duplicate-Check") != NULL,
	    "the worker's log hints at X-Skip-Duplicate-Check");
	free(log);
	if (req("POST", "/api/v1/Contact", FH_KEY, body2, skip) != 0)
		return;
	ok(R.status == 200 && hex17(json_gets(J, "id")) &&
	    strcmp(json_gets(J, "id"), id) != 0,
	    "with X-Skip-Duplicate-Check: true, a second record (200)");
	show();
}

/* STDIN of several records and a parameter of a 4-byte length. */
static void
test_framing(void)
{
	char	*body, *uri;
	size_t	 n = 100000, i;
	int	 k;

	if ((body = malloc(n + 64)) == NULL || (uri = malloc(400)) == NULL) {
		free(body);
		ok(0, "memory for the long body");
		return;
	}
	k = snprintf(body, 64, "{\"lastName\":\"Long\",\"description\":\"");
	for (i = 0; i < n; i++)
		body[k + i] = (char)('a' + i % 26);
	strcpy(body + k + n, "\"}");
	if (req("POST", "/api/v1/Contact", FH_KEY, body, NULL) == 0) {
		ok(R.status == 200 && json_gets(J, "description") != NULL &&
		    strlen(json_gets(J, "description")) == n &&
		    memcmp(json_gets(J, "description"), body + k, n) == 0,
		    "a 100 kB body in four STDIN records: stored whole");
		show();
	}
	/* A REQUEST_URI longer than 127 bytes: a 4-byte length. */
	snprintf(uri, 400, "/api/v1/Contact?where[0][type]=equals&"
	    "where[0][attribute]=lastName&where[0][value]=Long&select=id,"
	    "lastName&maxSize=5&offset=0&orderBy=createdAt&order=desc&x=%s",
	    "0123456789012345678901234567890123456789");
	if (req("GET", uri, FH_KEY, NULL, NULL) == 0) {
		ok(strlen(uri) > 127 && R.status == 200 && list_total() == 1,
		    "a %zu-byte REQUEST_URI (4-byte length): the record",
		    strlen(uri));
		show();
	}
	free(body);
	free(uri);
}

/* The type of the first phoneNumberData entry of J, or NULL. */
static const char *
phone_type(void)
{
	struct json	*d = json_get(J, "phoneNumberData");

	if (d == NULL || d->type != JSON_ARRAY || d->n == 0)
		return NULL;
	return json_gets(d->v[0], "type");
}

/* The last answer is a 400 whose X-Status-Reason is want. */
static int
refused(const char *want)
{
	const char	*v = fh_header(&R, "X-Status-Reason");

	return R.status == 400 && v != NULL && strcmp(v, want) == 0;
}

/*
 * What the resources' own data and hooks decide (app/resources/): the
 * phone type of a number given alone, primaryFilter, User's password.
 */
static void
test_resources(void)
{
	struct json	*l;
	size_t		 i;
	int		 api;

	if (req("POST", "/api/v1/Contact", FH_KEY, "{\"lastName\":\"Phone\","
	    "\"phoneNumber\":\"+1 555 010 9999\"}", NULL) != 0)
		return;
	ok(R.status == 200 && phone_type() != NULL &&
	    strcmp(phone_type(), "Mobile") == 0,
	    "a Contact's number given alone is a Mobile");
	show();
	if (req("POST", "/api/v1/Account", FH_KEY, "{\"name\":\"Phone Co\","
	    "\"phoneNumber\":\"+1 555 010 8888\"}", NULL) != 0)
		return;
	ok(R.status == 200 && phone_type() != NULL &&
	    strcmp(phone_type(), "Office") == 0,
	    "an Account's number given alone is an Office");
	show();
	if (req("GET", "/api/v1/Case?primaryFilter=open", FH_KEY, NULL,
	    NULL) != 0)
		return;
	ok(R.status == 200 && list_total() >= 0,
	    "Case primaryFilter=open: 200");
	show();
	if (req("GET", "/api/v1/Case?primaryFilter=bogus", FH_KEY, NULL,
	    NULL) != 0)
		return;
	ok(refused("Unknown primaryFilter 'bogus'."),
	    "Case primaryFilter=bogus: 400 naming it");
	show();
	if (req("GET", "/api/v1/Contact?primaryFilter=open", FH_KEY, NULL,
	    NULL) != 0)
		return;
	ok(refused("Unknown primaryFilter 'open'."),
	    "Contact has no primaryFilter open: 400");
	show();
	if (req("GET", "/api/v1/User?primaryFilter=bogus", FH_KEY, NULL,
	    NULL) != 0)
		return;
	ok(refused("Unknown primaryFilter 'bogus' for User (api, activeApi, "
	    "active, internal)."), "User primaryFilter=bogus: 400 naming "
	    "the known ones");
	show();
	/* The harness's principal `demo` is an API user: listed only when
	   asked for. */
	if (req("GET", "/api/v1/User?primaryFilter=api", FH_KEY, NULL,
	    NULL) != 0)
		return;
	l = json_get(J, "list");
	for (i = 0, api = 0; l != NULL && l->type == JSON_ARRAY && i < l->n;
	    i++)
		if (is_str(l->v[i], "type", "api") &&
		    is_str(l->v[i], "userName", "demo"))
			api++;
	ok(R.status == 200 && list_total() >= 1 && api == 1,
	    "User primaryFilter=api lists the API user demo");
	show();
	if (req("GET", "/api/v1/User", FH_KEY, NULL, NULL) != 0)
		return;
	l = json_get(J, "list");
	for (i = 0, api = 0; l != NULL && l->type == JSON_ARRAY && i < l->n;
	    i++)
		if (is_str(l->v[i], "type", "api"))
			api++;
	ok(R.status == 200 && l != NULL && api == 0,
	    "a plain User list leaves API users out");
	show();
	if (req("POST", "/api/v1/User", FH_KEY, "{\"userName\":\"agent7\","
	    "\"lastName\":\"Seven\",\"password\":\"short\"}", NULL) != 0)
		return;
	ok(R.status == 400 && J != NULL &&
	    strstr(R.body, "\"password\"") != NULL,
	    "a User password under 8 characters: 400 on field password");
	show();
	if (req("GET", "/api/v1/User?primaryFilter=active", FH_KEY, NULL,
	    NULL) != 0)
		return;
	l = json_get(J, "list");
	for (i = 0, api = 0; l != NULL && l->type == JSON_ARRAY && i < l->n;
	    i++)
		if (is_str(l->v[i], "userName", "agent7"))
			api++;
	ok(R.status == 200 && api == 0, "and no User agent7 was created");
	show();
	if (req("POST", "/api/v1/User", FH_KEY, "{\"userName\":\"agent8\","
	    "\"lastName\":\"Eight\",\"password\":\"long enough 8\"}",
	    NULL) != 0)
		return;
	ok(R.status == 200 && hex17(json_gets(J, "id")) &&
	    json_get(J, "password") == NULL,
	    "an admin creates a User with a password; it is never output");
	show();
}

int
main(void)
{
	struct timespec	 t0, t1;
	const char	*why;
	int		 st;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	if ((A = arena_new()) == NULL) {
		printf("Bail out! no memory\n");
		return 1;
	}
	if (!ok(fh_start(&H, NULL, &why) == 0, "the harness started a "
	    "worker")) {
		printf("#   %s\n", why);
		arena_free(A);
		return tap_done();
	}
	test_healthz();
	test_auth();
	test_contact();
	test_routes();
	test_duplicate();
	test_resources();
	test_bad_input();
	test_framing();
	fh_resp_free(&R);
	st = fh_stop(H);
	ok(st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 0,
	    "SIGTERM: the worker stopped with status 0 (%d)", st);
	arena_free(A);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	printf("# %d checks in %.0f ms (start, requests and stop)\n",
	    tap_ntest, (t1.tv_sec - t0.tv_sec) * 1e3 +
	    (t1.tv_nsec - t0.tv_nsec) / 1e6);
	return tap_done();
}
