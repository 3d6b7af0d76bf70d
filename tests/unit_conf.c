/*
 * Unit tests for app/config.c, in TAP: YAML files are written into a
 * mkdtemp(3) directory and loaded through conf_load().
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fastcrm/conf.h"
#include "fastcrm/util.h"
#include "tap.h"

static char	 dir[] = "/tmp/unit_conf.XXXXXX";
static char	 path[256];
static char	*made[32];	/* files put() wrote, for the cleanup */
static size_t	 nmade;


/* Shows the diagnostics when the last test failed. */
static void
dump(const struct conf_diag *d)
{
	size_t	 i;

	if (tap_last)
		return;
	for (i = 0; i < d->nerrors; i++)
		printf("# error: %s\n", d->errors[i]);
	for (i = 0; i < d->nwarnings; i++)
		printf("# warning: %s\n", d->warnings[i]);
}

/* Writes text to dir/name with mode; path holds the file's name. */
static void
put(const char *name, const char *text, mode_t mode)
{
	int	 fd;
	size_t	 len = strlen(text);

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if (unlink(path) == -1 && nmade < sizeof(made) / sizeof(made[0]))
		made[nmade++] = strdup(path);
	if ((fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600)) == -1 ||
	    write(fd, text, len) != (ssize_t)len || fchmod(fd, mode) == -1) {
		printf("Bail out! cannot write %s: %s\n", path,
		    strerror(errno));
		exit(1);
	}
	close(fd);
}

/* Whether one message of v is "path:line: ...frag...". */
static int
has(char **v, size_t n, int line, const char *frag)
{
	char	 pre[300];
	size_t	 i;

	if (line > 0)
		snprintf(pre, sizeof(pre), "%s:%d: ", path, line);
	else
		snprintf(pre, sizeof(pre), "%s: ", path);
	for (i = 0; i < n; i++)
		if (strncmp(v[i], pre, strlen(pre)) == 0 &&
		    strstr(v[i], frag) != NULL)
			return 1;
	return 0;
}

/* The LINE of "path:LINE: text". */
static unsigned long
line_of(const char *msg)
{

	return strtoul(msg + strlen(path) + 1, NULL, 10);
}

#define BASE	"listen: unix:/run/fastcrm.sock\ndata_dir: /var/lib/fastcrm\n"

/*
 * Loads text (after BASE, so its first line is line 3) and expects
 * failure with exactly nerr errors, one of them at line naming frag.
 */
static void
bad(const char *desc, const char *text, int nerr, int line, const char *frag)
{
	struct conf		*c = (struct conf *)1;
	struct conf_diag	 d;
	char			*full;
	int			 rc;

	memset(&d, 0, sizeof(d));
	if (asprintf(&full, "%s%s", BASE, text) == -1)
		exit(1);
	put("bad.yaml", full, 0600);
	free(full);
	rc = conf_load(path, &c, &d);
	ok(rc == -1 && c == NULL && d.nerrors == (size_t)nerr &&
	    has(d.errors, d.nerrors, line, frag),
	    "%s: line %d '%s'", desc, line, frag);
	dump(&d);
	conf_free(c == (struct conf *)1 ? NULL : c);
	conf_diag_free(&d);
}

static const char full_yaml[] =
	"# fastcrm example\n"						/* 1 */
	"listen: 127.0.0.1:9000\n"
	"workers: 4\n"
	"data_dir: /var/lib/fastcrm\n"
	"map_size: 4GiB\n"						/* 5 */
	"max_body: 32MiB\n"
	"default_country_code: \"1\"\n"
	"auth_fail_limit: 5\n"
	"auth_fail_window: 120\n"
	"log_level: debug\n"						/* 10 */
	"frame_ancestors: [\"'self'\", \"https://*.example.com\"]\n"
	"roles:\n"
	"  ccai:\n"
	"    Contact: {create: yes, read: all, edit: all, delete: no}\n"
	"    Case:    {create: yes, read: all, edit: own, delete: no}\n"	/* 15 */
	"  telephony:\n"
	"    '*': {create: true, read: own}\n"
	"    Call: {create: on, read: yes, edit: all, delete: all}\n"
	"  viewer: {}\n"
	"api_users:\n"							/* 20 */
	"  - name: google_integration_user\n"
	"    role: ccai\n"
	"    api_key_sha256: "
	"\"3eb1bd439947eb762998e566ccc2e099c791118b2f40579cc4f7da2b5061b7f9\"\n"
	"    hmac_secret: s3cr3t-hmac\n"
	"  - name: ringotel\n"						/* 25 */
	"    role: telephony\n"
	"    password_hash: \"$y$j9T$abc$def\"\n"
	"    admin: yes\n"
	"  - name: fixed\n"
	"    id: 0123456789abcdef0\n"					/* 30 */
	"    role: viewer\n"
	"    password_hash: \"$6$salt$hash\"\n"
	"oauth2_clients:\n"
	"  - client_id: ringotel\n"
	"    client_secret_sha256: "					/* 35 */
	"fdce8e4a65b70d186bd77cba2e0c580dcf1c6497da9f1b70eed849497e1f8ba2\n"
	"    redirect_uris: [\"https://app.ringotel.co/oauth\", "
	"\"http://127.0.0.1:8080/cb\"]\n"
	"    role: telephony\n"
	"entities:\n"
	"  Case:\n"
	"    fields:\n"							/* 40 */
	"      cchatId:  {type: varchar}\n"
	"      ccallId:  {type: varchar, unique: true, "
	"on_duplicate: return_existing}\n"
	"      cChannel: {type: varchar, maxLength: 32, default: voice}\n"
	"  Call:\n"
	"    fields:\n"							/* 45 */
	"      mood:\n"
	"        type: enum\n"
	"        options: [happy, sad, \"\"]\n"
	"        default: sad\n"
	"        required: on\n"					/* 50 */
	"      score: {type: int, indexed: yes, default: -3}\n"
	"      vip: {type: bool, default: yes}\n"
	"      seen: {type: datetime, default: \"2024-01-31 23:59:00\"}\n"
	"      notes: {type: text}\n"
	"agent_role: viewer\n";

static const struct conf_field *
field(const struct conf *c, const char *entity, const char *name)
{
	size_t	 i;

	for (i = 0; i < c->nfields; i++)
		if (strcmp(c->fields[i].entity, entity) == 0 &&
		    strcmp(c->fields[i].name, name) == 0)
			return &c->fields[i];
	return NULL;
}

static void
test_full(void)
{
	struct conf			*c = NULL;
	struct conf_diag		 d;
	const struct conf_role		*r;
	const struct conf_field		*f;
	struct conf_acl			 a;
	static const unsigned char	 k0[4] = { 0x3e, 0xb1, 0xbd, 0x43 };
	int				 rc;

	memset(&d, 0, sizeof(d));
	put("full.yaml", full_yaml, 0600);
	rc = conf_load(path, &c, &d);
	ok(rc == 0 && c != NULL, "full config loads");
	ok(d.nerrors == 0 && d.nwarnings == 0, "full config: no diagnostics");
	dump(&d);
	conf_diag_free(&d);
	if (c == NULL) {
		printf("Bail out! full config did not load\n");
		exit(1);
	}
	ok(strcmp(c->path, path) == 0, "path kept");
	ok(strcmp(c->listen, "127.0.0.1:9000") == 0, "listen");
	ok(c->workers == 4, "workers 4");
	ok(strcmp(c->data_dir, "/var/lib/fastcrm") == 0, "data_dir");
	ok(c->map_size == (size_t)4 << 30, "map_size 4GiB");
	ok(c->max_body == (size_t)32 << 20, "max_body 32MiB");
	ok(strcmp(c->default_country_code, "1") == 0, "default_country_code");
	ok(c->auth_fail_limit == 5 && c->auth_fail_window == 120,
	    "auth_fail_limit, auth_fail_window");
	ok(strcmp(c->log_level, "debug") == 0, "log_level");
	ok(c->nframe_ancestors == 2 &&
	    strcmp(c->frame_ancestors[0], "'self'") == 0 &&
	    strcmp(c->frame_ancestors[1], "https://*.example.com") == 0,
	    "frame_ancestors");

	ok(c->nroles == 3, "three roles");
	ok(c->agent_role != NULL && strcmp(c->agent_role, "viewer") == 0,
	    "agent_role");
	r = conf_role_find(c, "ccai");
	ok(r != NULL && r->nacls == 2, "role ccai has two entries");
	a = conf_role_acl(r, "Case");
	ok(a.create == 1 && a.read == CONF_ALL && a.edit == CONF_OWN &&
	    a.del == CONF_NO && strcmp(a.entity, "Case") == 0,
	    "ccai on Case: yes all own no");
	a = conf_role_acl(r, "Call");
	ok(a.create == 0 && a.read == CONF_NO && a.edit == CONF_NO &&
	    a.del == CONF_NO && a.entity == NULL,
	    "ccai on Call (no entry, no '*'): all no");
	r = conf_role_find(c, "telephony");
	a = conf_role_acl(r, "Contact");
	ok(a.create == 1 && a.read == CONF_OWN && a.edit == CONF_NO &&
	    a.del == CONF_NO && strcmp(a.entity, "*") == 0,
	    "telephony on Contact falls back to '*'; missing actions are no");
	a = conf_role_acl(r, "Call");
	ok(a.create == 1 && a.read == CONF_ALL && a.edit == CONF_ALL &&
	    a.del == CONF_ALL && strcmp(a.entity, "Call") == 0,
	    "telephony on Call: exact entry wins over '*'; yes = all");
	r = conf_role_find(c, "viewer");
	ok(r != NULL && r->nacls == 0 && conf_role_acl(r, "Case").read ==
	    CONF_NO, "empty role denies everything");
	ok(conf_role_find(c, "nobody") == NULL, "unknown role not found");
	a = conf_role_acl(NULL, "Case");
	ok(a.create == 0 && a.read == CONF_NO && a.entity == NULL,
	    "NULL role: all no");

	ok(c->nusers == 3, "three users");
	ok(strcmp(c->users[0].name, "google_integration_user") == 0 &&
	    strcmp(c->users[0].role, "ccai") == 0 && c->users[0].has_key &&
	    memcmp(c->users[0].key_sha256, k0, sizeof(k0)) == 0 &&
	    c->users[0].key_sha256[31] == 0xf9 &&
	    c->users[0].password_hash == NULL &&
	    strcmp(c->users[0].hmac_secret, "s3cr3t-hmac") == 0 &&
	    c->users[0].admin == 0, "user 0: key, hmac, not admin");
	ok(strcmp(c->users[0].id, "88a9d622c7a31b1cd") == 0,
	    "user 0: id derived from SHA-256(\"user:\" + name)");
	ok(strcmp(c->users[1].id, "36d4f7d5e65ee729f") == 0 &&
	    c->users[1].has_key == 0 &&
	    strcmp(c->users[1].password_hash, "$y$j9T$abc$def") == 0 &&
	    c->users[1].admin == 1, "user 1: password, admin, derived id");
	ok(strcmp(c->users[2].id, "0123456789abcdef0") == 0,
	    "user 2: explicit id kept");

	ok(c->nclients == 1 && strcmp(c->clients[0].client_id,
	    "ringotel") == 0 && c->clients[0].secret_sha256[0] == 0xfd &&
	    c->clients[0].nredirect_uris == 2 &&
	    strcmp(c->clients[0].redirect_uris[1],
	    "http://127.0.0.1:8080/cb") == 0 &&
	    strcmp(c->clients[0].role, "telephony") == 0, "oauth2 client");

	ok(c->nfields == 8, "eight custom fields");
	f = field(c, "Case", "cchatId");
	ok(f != NULL && f->type == CONF_FT_VARCHAR && f->unique == 0 &&
	    f->indexed == 0 && f->def == NULL, "Case.cchatId varchar");
	f = field(c, "Case", "ccallId");
	ok(f != NULL && f->unique == 1 && f->indexed == 1 &&
	    f->return_existing == 1,
	    "Case.ccallId unique implies indexed, return_existing");
	f = field(c, "Case", "cChannel");
	ok(f != NULL && f->max_length == 32 && strcmp(f->def, "voice") == 0,
	    "Case.cChannel maxLength and default");
	f = field(c, "Call", "mood");
	ok(f != NULL && f->type == CONF_FT_ENUM && f->noptions == 3 &&
	    strcmp(f->options[2], "") == 0 && strcmp(f->def, "sad") == 0 &&
	    f->required == 1, "Call.mood enum with options and default");
	f = field(c, "Call", "score");
	ok(f != NULL && f->type == CONF_FT_INT && f->indexed == 1 &&
	    strcmp(f->def, "-3") == 0, "Call.score int");
	f = field(c, "Call", "vip");
	ok(f != NULL && f->type == CONF_FT_BOOL && strcmp(f->def, "true") == 0,
	    "Call.vip bool default normalised to true");
	f = field(c, "Call", "seen");
	ok(f != NULL && f->type == CONF_FT_DATETIME, "Call.seen datetime");
	f = field(c, "Call", "notes");
	ok(f != NULL && f->type == CONF_FT_TEXT, "Call.notes text");
	conf_free(c);
}

static void
test_defaults(void)
{
	struct conf		*c = NULL;
	struct conf_diag	 d;
	long			 cpus;

	memset(&d, 0, sizeof(d));
	put("min.yaml", BASE, 0644);
	ok(conf_load(path, &c, &d) == 0 && c != NULL, "minimal config loads");
	ok(d.nerrors == 0 && d.nwarnings == 0,
	    "no secrets: no warning even at 0644");
	dump(&d);
	conf_diag_free(&d);
	if (c == NULL)
		return;
	cpus = sysconf(_SC_NPROCESSORS_ONLN);
	ok(c->workers == (cpus < 1 ? 1 : cpus > 256 ? 256 : cpus),
	    "workers defaults to the CPU count");
	ok(c->map_size == (size_t)1 << 30, "map_size defaults to 1GiB");
	ok(c->max_body == (size_t)64 << 20, "max_body defaults to 64MiB");
	ok(c->max_json_body == (size_t)1 << 20 &&
	    c->max_login_body == (size_t)8 << 10 &&
	    c->request_memory == (size_t)64 << 20,
	    "max_json_body 1MiB, max_login_body 8KiB, request_memory 64MiB "
	    "by default");
	ok(strcmp(c->default_country_code, "") == 0,
	    "default_country_code defaults to \"\"");
	ok(c->auth_fail_limit == 10 && c->auth_fail_window == 60,
	    "auth failure defaults 10 per 60 s");
	ok(strcmp(c->log_level, "info") == 0, "log_level defaults to info");
	ok(c->nframe_ancestors == 4 &&
	    strcmp(c->frame_ancestors[0], "'self'") == 0 &&
	    strcmp(c->frame_ancestors[3], "https://*.ujet.com") == 0,
	    "frame_ancestors default");
	ok(c->agent_role == NULL, "agent_role defaults to none");
	ok(c->nroles == 0 && c->nusers == 0 && c->nclients == 0 &&
	    c->nfields == 0, "no roles, users, clients, fields");
	conf_free(c);

	put("auto.yaml", BASE "workers: auto\ndefault_country_code: 44\n"
	    "frame_ancestors: []\n", 0600);
	c = NULL;
	ok(conf_load(path, &c, &d) == 0 && c != NULL &&
	    c->workers == (cpus < 1 ? 1 : cpus > 256 ? 256 : cpus),
	    "workers: auto is the CPU count");
	ok(c != NULL && strcmp(c->default_country_code, "44") == 0,
	    "default_country_code as an integer");
	ok(c != NULL && c->nframe_ancestors == 0,
	    "frame_ancestors: [] is kept empty");
	conf_free(c);
	conf_diag_free(&d);

	put("relative.yaml", "listen: unix:run/fastcrm.sock\n"
	    "data_dir: data\n", 0600);
	c = NULL;
	ok(conf_load(path, &c, &d) == 0 && c != NULL &&
	    strcmp(c->listen, "unix:run/fastcrm.sock") == 0 &&
	    strcmp(c->data_dir, "data") == 0, "relative paths kept as given");
	conf_free(c);
	conf_diag_free(&d);

	put("v6.yaml", "listen: \"[::1]:9000\"\ndata_dir: d\n", 0600);
	c = NULL;
	ok(conf_load(path, &c, &d) == 0 && d.nwarnings == 0,
	    "listen [::1]:9000");
	conf_free(c);
	conf_diag_free(&d);

	put("remote.yaml", "listen: 0.0.0.0:9000\ndata_dir: d\n", 0600);
	c = NULL;
	ok(conf_load(path, &c, &d) == 0 &&
	    has(d.warnings, d.nwarnings, 1, "not a loopback address"),
	    "non-loopback listen: a warning, not an error");
	conf_free(c);
	conf_diag_free(&d);
}

static void
test_mistakes(void)
{

	bad("unknown key", "lisen: x\n", 1, 3,
	    "unknown key 'lisen' (did you mean 'listen'?)");
	/* The last of more than 16 top-level keys (a stack over-read once). */
	bad("unknown key near the last", "entitie: x\n", 1, 3,
	    "unknown key 'entitie' (did you mean 'entities'?)");
	bad("metrics_allow entry", "metrics_allow: [\"10.0.0.0/40\"]\n", 1, 3,
	    "'metrics_allow' entry '10.0.0.0/40': must be an IPv4 or IPv6 "
	    "address");
	bad("health_max_fill range", "health_max_fill: 101\n", 1, 3,
	    "'health_max_fill' must be an integer from 1 to 100");
	bad("workers zero", "workers: 0\n", 1, 3,
	    "'workers' must be auto or an integer from 1 to 256");
	bad("workers word", "workers: many\n", 1, 3, "not 'many'");
	bad("workers overflow", "workers: 99999999999999999999999\n", 1, 3,
	    "'workers' must be auto or an integer");
	bad("map_size too small", "map_size: 512KiB\n", 1, 3,
	    "'map_size' must be at least 1048576 bytes");
	bad("max_body garbage", "max_body: lots\n", 1, 3,
	    "'max_body' must be a size");
	bad("max_json_body garbage", "max_json_body: lots\n", 1, 3,
	    "'max_json_body' must be a size");
	bad("max_login_body too small", "max_login_body: 100\n", 1, 3,
	    "'max_login_body' must be at least 1024 bytes");
	bad("request_memory too small", "request_memory: 64KiB\n", 1, 3,
	    "'request_memory' must be at least 1048576 bytes");
	bad("typo of the last top-level key", "request_memroy: 1MiB\n", 1, 3,
	    "did you mean 'request_memory'");
	bad("country code", "default_country_code: \"1234\"\n", 1, 3,
	    "'default_country_code' must be 1 to 3 digits");
	bad("log_level", "log_level: verbose\n", 1, 3,
	    "'log_level' must be info or debug");
	bad("auth_fail_limit", "auth_fail_limit: -1\n", 1, 3,
	    "'auth_fail_limit' must be an integer from 1");
	bad("frame_ancestors not a list", "frame_ancestors: \"'self'\"\n", 1,
	    3, "'frame_ancestors' must be a list");
	bad("frame_ancestors injection",
	    "frame_ancestors:\n  - \"'self'\"\n  - \"x; script-src *\"\n", 1, 5,
	    "must be one CSP source");
	bad("acl value",
	    "roles:\n  r:\n    Contact: {create: yes, read: some}\n", 1, 5,
	    "'read' must be all, own or no, not 'some'");
	bad("acl create",
	    "roles:\n  r:\n    Contact:\n      create: all\n", 1, 6,
	    "'create' must be yes or no");
	bad("acl unknown entity",
	    "roles:\n  r:\n    Contcat: {read: all}\n", 1, 5,
	    "unknown entity 'Contcat' in role 'r' (did you mean 'Contact'?)");
	bad("acl unknown action",
	    "roles:\n  r:\n    Case: {read: all, remove: no}\n", 1, 5,
	    "unknown key 'remove' in role 'r' for Case");
	bad("user without role",
	    "roles: {r: {}}\napi_users:\n  - name: a\n    password_hash: "
	    "\"$6$x$y\"\n", 1, 5, "missing required key 'role' in api_users");
	bad("user with unknown role",
	    "roles: {ccai: {}}\napi_users:\n  - name: a\n    role: ccia\n"
	    "    password_hash: \"$6$x$y\"\n", 1, 6,
	    "user 'a': unknown role 'ccia' (did you mean 'ccai'?)");
	bad("agent_role unknown", "roles: {agent: {}}\nagent_role: agnet\n",
	    1, 4, "agent_role: unknown role 'agnet' (did you mean 'agent'?)");
	bad("duplicate user name",
	    "roles: {r: {}}\napi_users:\n"
	    "  - {name: a, role: r, password_hash: \"$6$x$y\"}\n"
	    "  - {name: b, role: r, password_hash: \"$6$x$y\"}\n"
	    "  - {name: a, role: r, password_hash: \"$6$x$y\"}\n", 1, 7,
	    "duplicate user name 'a' (first at line 5)");
	bad("api key length",
	    "roles: {r: {}}\napi_users:\n  - name: a\n    role: r\n"
	    "    api_key_sha256: abc123\n", 1, 7,
	    "'api_key_sha256' must be 64 hex digits");
	bad("user without credentials",
	    "roles: {r: {}}\napi_users:\n  - name: a\n    role: r\n"
	    "    admin: yes\n", 1, 5,
	    "api_users entry 'a' needs api_key_sha256 or password_hash");
	bad("user id",
	    "roles: {r: {}}\napi_users:\n  - name: a\n    role: r\n"
	    "    id: 0123456789ABCDEF0\n    password_hash: \"$6$x$y\"\n", 1, 7,
	    "'id' must be 17 lowercase hex digits");
	bad("password hash", "roles: {r: {}}\napi_users:\n  - name: a\n"
	    "    role: r\n    password_hash: hunter2\n", 1, 7,
	    "'password_hash' must be a crypt(3) hash");
	bad("admin not a bool", "roles: {r: {}}\napi_users:\n  - name: a\n"
	    "    role: r\n    password_hash: \"$6$x$y\"\n    admin: maybe\n",
	    1, 8, "'admin' must be yes or no");
	bad("redirect uri",
	    "roles: {r: {}}\noauth2_clients:\n  - client_id: c\n"
	    "    client_secret_sha256: "
	    "fdce8e4a65b70d186bd77cba2e0c580dcf1c6497da9f1b70eed849497e1f8ba2\n"
	    "    redirect_uris:\n      - https://ok.example/cb\n"
	    "      - http://example.com/cb\n    role: r\n", 1, 9,
	    "'redirect_uris' entry 'http://example.com/cb': must start with");
	bad("client unknown role",
	    "oauth2_clients:\n  - client_id: c\n"
	    "    client_secret_sha256: "
	    "fdce8e4a65b70d186bd77cba2e0c580dcf1c6497da9f1b70eed849497e1f8ba2\n"
	    "    redirect_uris: [\"https://a.example/\"]\n    role: r\n", 1, 7,
	    "client 'c': unknown role 'r'");
	bad("unknown entity",
	    "entities:\n  Ticket:\n    fields: {a: {type: text}}\n", 1, 4,
	    "unknown entity 'Ticket'");
	bad("field name",
	    "entities:\n  Case:\n    fields:\n      1bad: {type: text}\n", 1,
	    6, "field name '1bad' must match");
	bad("system field",
	    "entities:\n  Case:\n    fields:\n      createdAt: {type: text}\n",
	    1, 6, "'createdAt' is a system attribute");
	bad("enum without options",
	    "entities:\n  Case:\n    fields:\n      kind:\n        type: enum\n",
	    1, 7, "field Case.kind is an enum and needs 'options'");
	bad("options on varchar",
	    "entities:\n  Case:\n    fields:\n      kind:\n        type: varchar\n"
	    "        options: [a, b]\n", 1, 8,
	    "'options' is only for enum fields");
	bad("on_duplicate without unique",
	    "entities:\n  Call:\n    fields:\n      u: {type: varchar,\n"
	    "        on_duplicate: return_existing}\n", 1, 7,
	    "'on_duplicate' needs 'unique: true'");
	bad("field without type",
	    "entities:\n  Call:\n    fields:\n      u: {indexed: yes}\n", 1, 6,
	    "missing required key 'type' in field Call.u");
	bad("field type",
	    "entities:\n  Call:\n    fields:\n      u: {type: string}\n", 1, 6,
	    "'type' must be varchar, text, int, bool, enum or datetime");
	bad("enum default not an option",
	    "entities:\n  Call:\n    fields:\n      u: {type: enum, "
	    "options: [a], default: b}\n", 1, 6, "'default' 'b' is not one of");
	bad("maxLength on int",
	    "entities:\n  Call:\n    fields:\n      n:\n        type: int\n"
	    "        maxLength: 10\n", 1, 8, "'maxLength' is only for varchar");
	bad("duplicate top-level key", "log_level: info\nlog_level: debug\n",
	    1, 4, "duplicate key 'log_level' (first at line 3)");
	bad("duplicate field",
	    "entities:\n  Case:\n    fields:\n      a: {type: text}\n"
	    "      a: {type: int}\n", 1, 7, "duplicate key 'a' (first at line 6)");
	bad("YAML syntax: unclosed flow", "roles: {r: {}\nworkers: 2\n", 1, 4,
	    "did not find expected ',' or '}'");
	bad("YAML syntax: tab indentation", "roles:\n\tccai: {}\n", 1, 4,
	    "found character that cannot start any token");
	bad("YAML syntax: bad mapping", "workers: 2\n  max_body: 1: 2\n", 1, 4,
	    "mapping values are not allowed");
	bad("two documents", "---\nworkers: 2\n", 1, 4,
	    "only one YAML document");
	bad("NUL in a value", "log_level: \"in\\0fo\"\n", 1, 3,
	    "'log_level' contains a NUL byte");
}

/* Cases whose text cannot start with BASE. */
static void
test_mistakes_raw(void)
{
	struct conf		*c;
	struct conf_diag	 d;

	memset(&d, 0, sizeof(d));
	put("raw.yaml", "# comment\n\nworkers: 2\n", 0600);
	c = NULL;
	ok(conf_load(path, &c, &d) == -1 && c == NULL && d.nerrors == 2 &&
	    has(d.errors, d.nerrors, 3, "missing required key 'listen'") &&
	    has(d.errors, d.nerrors, 3, "missing required key 'data_dir'"),
	    "missing listen and data_dir reported at the mapping's line");
	dump(&d);
	conf_diag_free(&d);

	put("raw.yaml", "listen: example.com:80\ndata_dir: d\n", 0600);
	ok(conf_load(path, &c, &d) == -1 && d.nerrors == 1 &&
	    has(d.errors, d.nerrors, 1, "HOST must be an IP address"),
	    "listen with a host name");
	conf_diag_free(&d);

	put("raw.yaml", "listen: 127.0.0.1:99999\ndata_dir: d\n", 0600);
	ok(conf_load(path, &c, &d) == -1 && d.nerrors == 1 &&
	    has(d.errors, d.nerrors, 1, "PORT must be a number"),
	    "listen with a bad port");
	conf_diag_free(&d);

	put("raw.yaml", "- listen\n- data_dir\n", 0600);
	ok(conf_load(path, &c, &d) == -1 && d.nerrors == 1 &&
	    has(d.errors, d.nerrors, 1, "the file must be a mapping"),
	    "a list at the top");
	conf_diag_free(&d);

	put("raw.yaml", "", 0600);
	ok(conf_load(path, &c, &d) == -1 && d.nerrors == 1 &&
	    has(d.errors, d.nerrors, 1, "the file is empty"), "empty file");
	conf_diag_free(&d);

	put("raw.yaml", "listen: \"unclosed\ndata_dir: d\n", 0600);
	ok(conf_load(path, &c, &d) == -1 && d.nerrors == 1 &&
	    has(d.errors, d.nerrors, 3, "found unexpected end of stream") &&
	    has(d.errors, d.nerrors, 3, "while scanning a quoted scalar at "
	    "line 1"), "unclosed quote: libyaml's text, line and context");
	dump(&d);
	conf_diag_free(&d);

	put("raw.yaml", "listen: unix:/s\ndata_dir: \"\\xff\\xfe\"\n\xff\n",
	    0600);
	ok(conf_load(path, &c, &d) == -1 && d.nerrors == 1 &&
	    has(d.errors, d.nerrors, 3, "invalid leading UTF-8 octet"),
	    "invalid UTF-8 reported with its line");
	dump(&d);
	conf_diag_free(&d);

	snprintf(path, sizeof(path), "%s/missing.yaml", dir);
	c = (struct conf *)1;
	ok(conf_load(path, &c, &d) == -1 && c == NULL && d.nerrors == 1 &&
	    has(d.errors, d.nerrors, 0, "cannot open: No such file or "
	    "directory"), "missing file: one error");
	conf_diag_free(&d);

	ok(conf_load(dir, &c, &d) == -1 && d.nerrors == 1,
	    "a directory: one error");
	conf_diag_free(&d);
}

static void
test_many(void)
{
	struct conf		*c = NULL;
	struct conf_diag	 d;
	static const char	 text[] =
	    "listen: nowhere\n"					/* 1 */
	    "workers: 1000\n"
	    "map_size: 4 GB\n"
	    "roles:\n"
	    "  ccai:\n"						/* 5 */
	    "    Contact: {create: maybe}\n"
	    "api_users:\n"
	    "  - name: a\n"
	    "    role: nope\n"
	    "    api_key_sha256: xyz\n"				/* 10 */
	    "  - name: a\n"
	    "    role: ccai\n"
	    "    password_hash: \"$6$a$b\"\n"
	    "    colour: blue\n"
	    "entities:\n"					/* 15 */
	    "  Case:\n"
	    "    fields:\n"
	    "      bad-name: {type: text}\n"
	    "      kind: {type: enum}\n"
	    "      ok: {type: varchar, unique: maybe}\n"	/* 20 */
	    "  Task:\n"
	    "    field: {}\n";
	static const struct {
		int		 line;
		const char	*frag;
	} want[] = {
		{ 1, "'listen' 'nowhere'" },
		{ 2, "'workers' must be auto" },
		{ 3, "'map_size' must be a size" },
		{ 6, "'create' must be yes or no" },
		{ 9, "unknown role 'nope'" },
		{ 10, "'api_key_sha256' must be 64 hex" },
		{ 11, "duplicate user name 'a'" },
		{ 14, "unknown key 'colour' in api_users entry" },
		{ 18, "field name 'bad-name'" },
		{ 19, "needs 'options'" },
		{ 20, "'unique' must be yes or no" },
		{ 22, "unknown key 'field' in entity Task (did you mean "
		    "'fields'?)" },
		{ 1, "missing required key 'data_dir'" },
	};
	size_t			 i, found = 0;

	memset(&d, 0, sizeof(d));
	put("many.yaml", text, 0600);
	ok(conf_load(path, &c, &d) == -1 && c == NULL,
	    "many mistakes: the file is refused");
	for (i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		if (has(d.errors, d.nerrors, want[i].line, want[i].frag))
			found++;
		else
			printf("# missing: line %d %s\n", want[i].line,
			    want[i].frag);
	}
	ok(found == sizeof(want) / sizeof(want[0]),
	    "many mistakes: all %zu reported", found);
	ok(d.nerrors == sizeof(want) / sizeof(want[0]),
	    "many mistakes: no extra errors (%zu)", d.nerrors);
	dump(&d);
	for (i = 1; i < d.nerrors; i++)
		if (line_of(d.errors[i - 1]) > line_of(d.errors[i]))
			break;
	ok(d.nerrors > 0 && i == d.nerrors, "many mistakes: in line order");
	conf_diag_free(&d);
}

static void
test_secrets(void)
{
	struct conf		*c = NULL;
	struct conf_diag	 d;
	static const char	 text[] = BASE
	    "roles: {r: {}}\n"
	    "api_users:\n"
	    "  - {name: a, role: r, api_key_sha256: "
	    "3eb1bd439947eb762998e566ccc2e099c791118b2f40579cc4f7da2b5061b7f9}\n";
	char			 want[400];

	memset(&d, 0, sizeof(d));
	put("secret.yaml", text, 0644);
	ok(conf_load(path, &c, &d) == 0 && c != NULL && d.nerrors == 0,
	    "0644 with secrets still loads");
	snprintf(want, sizeof(want), "%s: holds secrets but is readable by "
	    "others (mode 0644); chmod 600 it", path);
	ok(d.nwarnings == 1 && strcmp(d.warnings[0], want) == 0,
	    "0644 with secrets: the warning");
	dump(&d);
	conf_free(c);
	conf_diag_free(&d);

	put("secret.yaml", text, 0640);
	c = NULL;
	ok(conf_load(path, &c, &d) == 0 && d.nwarnings == 1 &&
	    strstr(d.warnings[0], "(mode 0640)") != NULL,
	    "0640 with secrets: warned too");
	conf_free(c);
	conf_diag_free(&d);

	put("secret.yaml", text, 0600);
	c = NULL;
	ok(conf_load(path, &c, &d) == 0 && d.nwarnings == 0,
	    "0600 with secrets: no warning");
	conf_free(c);
	conf_diag_free(&d);

	c = NULL;
	ok(conf_load_mem("mem", text, strlen(text), &c, &d) == 0 &&
	    c != NULL && d.nwarnings == 0 && c->nusers == 1 &&
	    strcmp(c->path, "mem") == 0, "conf_load_mem");
	conf_free(c);
	conf_diag_free(&d);

	c = NULL;
	ok(conf_load_mem("mem", "workers: [\n", 11, &c, &d) == -1 &&
	    d.nerrors == 1 && strncmp(d.errors[0], "mem:2: ", 7) == 0,
	    "conf_load_mem names the buffer in messages");
	dump(&d);
	conf_diag_free(&d);
}

static void
test_size(void)
{
	static const struct {
		const char	*s;
		int		 rc;
		size_t		 v;
	} t[] = {
		{ "1048576", 0, 1048576 },
		{ "0", 0, 0 },
		{ "512KiB", 0, 512 * 1024 },
		{ "64MiB", 0, (size_t)64 << 20 },
		{ "4GiB", 0, (size_t)4 << 30 },
		{ "2TiB", 0, (size_t)2 << 40 },
		{ "1g", 0, (size_t)1 << 30 },
		{ "16M", 0, (size_t)16 << 20 },
		{ "10kb", 0, 10000 },
		{ "3GB", 0, (size_t)3000000000 },
		{ "100B", 0, 100 },
		{ "", -1, 0 },
		{ "GiB", -1, 0 },
		{ "4 GiB", -1, 0 },
		{ "-1", -1, 0 },
		{ "1.5GiB", -1, 0 },
		{ "4PiB", -1, 0 },
		{ "18446744073709551616", -1, 0 },
		{ "99999999999TiB", -1, 0 },
	};
	size_t	 i, v;
	int	 rc;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		v = 12345;
		rc = conf_parse_size(t[i].s, &v);
		ok(rc == t[i].rc && (rc != 0 || v == t[i].v) &&
		    (rc == 0 || v == 12345), "conf_parse_size(\"%s\")",
		    t[i].s);
	}
}

static void
test_keys(void)
{
	char	 key[33], sha[65], key2[33], sha2[65], check[65];
	size_t	 i;
	int	 hex = 1;

	ok(conf_key_generate(key, sha) == 0 &&
	    conf_key_generate(key2, sha2) == 0, "conf_key_generate");
	for (i = 0; i < 32; i++)
		if (!((key[i] >= '0' && key[i] <= '9') ||
		    (key[i] >= 'a' && key[i] <= 'f')))
			hex = 0;
	ok(strlen(key) == 32 && hex, "key is 32 lowercase hex digits");
	util_sha256_hex(key, 32, check);
	ok(strcmp(check, sha) == 0 && strlen(sha) == 64,
	    "sha_hex is the key's SHA-256");
	ok(strcmp(key, key2) != 0, "two keys differ");
}

int
main(void)
{

	if (mkdtemp(dir) == NULL) {
		printf("Bail out! mkdtemp: %s\n", strerror(errno));
		return 1;
	}
	test_full();
	test_defaults();
	test_mistakes();
	test_mistakes_raw();
	test_many();
	test_secrets();
	test_size();
	test_keys();
	printf("1..%d\n", tap_ntest);
	while (nmade > 0) {
		if (made[--nmade] != NULL)
			unlink(made[nmade]);
		free(made[nmade]);
	}
	if (rmdir(dir) == -1)
		printf("# could not remove %s: %s\n", dir, strerror(errno));
	return tap_nfail == 0 ? 0 : 1;
}
