/*
 * fastcrm's command line: serve, check-config, key, user, token, import,
 * export, verify, migrate, purge, erase.
 */
#include <errno.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <string.h>
#include <unistd.h>

#include "fastcrm/auth.h"
#include "fastcrm/check.h"
#include "fastcrm/conf.h"
#include "fastcrm/entity.h"
#include "fastcrm/resources.h"
#include "fastcrm/worker.h"

/* -c FILE when none is given (the Debian package's configuration). */
#ifndef FASTCRM_CONF_DEFAULT
#define FASTCRM_CONF_DEFAULT	"/etc/fastcrm/fastcrm.yaml"
#endif
/* The package's service user and nginx site, checked with its file. */
#define SERVICE_USER		"fastcrm"
#define NGINX_SITE		"/etc/nginx/sites-available/fastcrm"

/* serve -b: the baseline answer's length, 300 to 1 MiB. */
static int
baseline_bytes(const char *s)
{
	char		*end;
	unsigned long	 n;

	errno = 0;
	n = strtoul(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || n < 300 ||
	    n > (1ul << 20))
		return -1;
	worker_baseline_bytes = n;
	return 0;
}

static void
usage(void)
{
	fputs("usage: fastcrm serve [-B [-b BYTES]] [-c FILE]\n"
	    "       fastcrm check-config [[-c] FILE] [-u USER] [-n NGINX_FILE]\n"
	    "       fastcrm key\n"
	    "       fastcrm user passwd NAME -c FILE   (password on stdin)\n"
	    "       fastcrm import [--mode create|update|upsert] [--match ATTR]\n"
	    "              [--skip-duplicate-check] [--strict] [--rejects FILE]\n"
	    "              [--format csv|json] [--map 'Column=attribute']...\n"
	    "              --entity NAME FILE [--entity NAME FILE]... -c FILE\n"
	    "       fastcrm import --fields NAME -c FILE\n"
	    "       fastcrm migrate --from URL (--key KEY | --hmac KEY:SECRET |\n"
	    "              --user NAME [--password PW]) [--cacert FILE | --insecure]\n"
	    "              [--limit N] [--page-size N] [--restart]\n"
	    "              [--rejects FILE] -c FILE\n"
	    "       fastcrm purge --deleted-before DURATION -c FILE\n"
	    "       fastcrm erase --entity NAME ID -c FILE\n"
	    "       fastcrm export --entity NAME -c FILE\n"
	    "       fastcrm verify -c FILE\n"
	    "       fastcrm backup DIR -c FILE\n"
	    "       fastcrm restore DIR [--force] -c FILE\n"
	    "       fastcrm token revoke (TOKEN | --client ID) -c FILE\n"
	    "       fastcrm token list -c FILE   (auth tokens)\n"
	    "       fastcrm token revoke (--id ID | --user NAME) -c FILE\n"
	    "       fastcrm version\n"
	    "-c defaults to " FASTCRM_CONF_DEFAULT "\n", stderr);
	exit(2);
}

/*
 * data_dir writable by the service user, nginx's body limit: checked
 * with -u and -n, and for the package's own file by default.
 */
static int
check_around(const struct conf *conf, const char *path, const char *user,
    const char *nginx)
{
	char	 msg[PATH_MAX + 256];
	int	 bad = 0;

	if (user == NULL && strcmp(path, FASTCRM_CONF_DEFAULT) == 0 &&
	    geteuid() == 0 && getpwnam(SERVICE_USER) != NULL)
		user = SERVICE_USER;
	if (check_data_dir(conf, user, msg, sizeof(msg)) != 0) {
		fprintf(stderr, "error: %s\n", msg);
		bad = 1;
	}
	if (nginx == NULL && strcmp(path, FASTCRM_CONF_DEFAULT) == 0 &&
	    access(NGINX_SITE, F_OK) == 0)
		nginx = NGINX_SITE;
	if (nginx != NULL && check_nginx_body(conf, nginx, msg,
	    sizeof(msg)) != 0) {
		fprintf(stderr, "error: %s\n", msg);
		bad = 1;
	}
	return bad;
}

/*
 * Errors make it exit 1; warnings (a world-readable file holding secrets)
 * are printed and it still exits 0, as serve starts with them.
 */
static int
cmd_check_config(int argc, char *argv[])
{
	struct conf		*conf = NULL;
	struct conf_diag	 diag;
	const char		*path = NULL, *user = NULL, *nginx = NULL, *why;
	size_t			 i;
	int			 rc, a;

	for (a = 1; a < argc; a++) {
		if (strcmp(argv[a], "-c") == 0 && a + 1 < argc && !path)
			path = argv[++a];
		else if (strcmp(argv[a], "-u") == 0 && a + 1 < argc)
			user = argv[++a];
		else if (strcmp(argv[a], "-n") == 0 && a + 1 < argc)
			nginx = argv[++a];
		else if (argv[a][0] != '-' && path == NULL)
			path = argv[a];
		else
			usage();
	}
	if (path == NULL)
		path = FASTCRM_CONF_DEFAULT;
	memset(&diag, 0, sizeof(diag));
	rc = conf_load(path, &conf, &diag);
	for (i = 0; i < diag.nerrors; i++)
		fprintf(stderr, "error: %s\n", diag.errors[i]);
	for (i = 0; i < diag.nwarnings; i++)
		fprintf(stderr, "warning: %s\n", diag.warnings[i]);
	conf_diag_free(&diag);
	/* What needs the entity tables too (aliases name their fields). */
	if (rc == 0 && entity_init(conf, &why) != 0) {
		if (strncmp(why, "line ", 5) == 0)
			fprintf(stderr, "error: %s:%s\n", path, why + 5);
		else
			fprintf(stderr, "error: %s: %s\n", path, why);
		conf_free(conf);
		rc = -1;
	}
	if (rc != 0) {
		fprintf(stderr, "%s: invalid\n", path);
		return 1;
	}
	if (check_around(conf, path, user, nginx) != 0) {
		fprintf(stderr, "%s: invalid\n", path);
		conf_free(conf);
		return 1;
	}
	printf("%s: ok\n", path);
	conf_free(conf);
	return 0;
}

static int
cmd_key(void)
{
	char	 key[33], sha[65];

	if (conf_key_generate(key, sha) != 0) {
		fputs("fastcrm: cannot generate a key\n", stderr);
		return 1;
	}
	printf("%s\napi_key_sha256: \"%s\"\n", key, sha);
	return 0;
}

/* Loads -c FILE for the commands that work on the store; NULL after printing errors. */
static struct conf *
load_or_die(const char *path)
{
	struct conf		*conf = NULL;
	struct conf_diag	 diag;
	size_t			 n;

	if (path == NULL)
		path = FASTCRM_CONF_DEFAULT;
	memset(&diag, 0, sizeof(diag));
	if (conf_load(path, &conf, &diag) != 0) {
		for (n = 0; n < diag.nerrors; n++)
			fprintf(stderr, "error: %s\n", diag.errors[n]);
		conf_diag_free(&diag);
		exit(1);
	}
	conf_diag_free(&diag);
	return conf;
}

/* Reads the new password from stdin, sets it on the User record NAME. */
static int
cmd_user_passwd(int argc, char *argv[])
{
	struct conf		*conf = NULL;
	const char		*path = NULL, *name, *why;
	char			 pw[256];
	size_t			 n;
	int			 c;

	if (argc < 3 || strcmp(argv[1], "passwd") != 0)
		usage();
	name = argv[2];
	optind = 3;
	while ((c = getopt(argc, argv, "c:")) != -1) {
		if (c == 'c')
			path = optarg;
		else
			usage();
	}
	conf = load_or_die(path);
	if (isatty(STDIN_FILENO))
		fputs("New password: ", stderr);
	if (fgets(pw, sizeof(pw), stdin) == NULL) {
		fputs("fastcrm: no password given\n", stderr);
		return 1;
	}
	n = strcspn(pw, "\r\n");
	pw[n] = '\0';
	if (n < 8) {
		fputs("fastcrm: the password must have 8 characters or more\n",
		    stderr);
		return 1;
	}
	if (auth_user_passwd(conf, name, pw, &why) != 0) {
		fprintf(stderr, "fastcrm: %s: %s\n", name, why);
		conf_free(conf);
		return 1;
	}
	explicit_bzero(pw, sizeof(pw));
	printf("password set for %s\n", name);
	conf_free(conf);
	return 0;
}

/* Revokes an OAuth2 token, or every token of a client. */
static int
cmd_token_revoke(int argc, char *argv[])
{
	struct conf		*conf = NULL;
	const char		*path = NULL, *token = NULL, *client = NULL;
	const char		*why;
	int			 i, count;

	if (argc < 2 || strcmp(argv[1], "revoke") != 0)
		usage();
	for (i = 2; i < argc; i++) {
		if (strcmp(argv[i], "-c") == 0 && i + 1 < argc)
			path = argv[++i];
		else if (strcmp(argv[i], "--client") == 0 && i + 1 < argc)
			client = argv[++i];
		else if (token == NULL && argv[i][0] != '-')
			token = argv[i];
		else
			usage();
	}
	if ((token == NULL) == (client == NULL))
		usage();
	conf = load_or_die(path);
	if (oauth2_revoke(conf, token, client, &count, &why) != 0) {
		fprintf(stderr, "fastcrm: %s\n", why);
		conf_free(conf);
		return 1;
	}
	printf("%d token(s) revoked\n", count);
	conf_free(conf);
	return 0;
}

/*
 * Auth tokens: `token list`, `token revoke --id ID | --user NAME`; a clear
 * TOKEN is revoked whichever kind it is.  Anything else is OAuth2's.
 */
static int
cmd_authtoken(int argc, char *argv[])
{
	struct conf	*conf;
	const char	*path = NULL, *id = NULL, *user = NULL, *token = NULL;
	const char	*why;
	int		 i, count = 0, n2 = 0, rc;

	if (argc < 2 || (strcmp(argv[1], "list") != 0 &&
	    strcmp(argv[1], "revoke") != 0))
		usage();
	for (i = 2; i < argc; i++) {
		if (strcmp(argv[i], "-c") == 0 && i + 1 < argc)
			path = argv[++i];
		else if (strcmp(argv[i], "--id") == 0 && i + 1 < argc)
			id = argv[++i];
		else if (strcmp(argv[i], "--user") == 0 && i + 1 < argc)
			user = argv[++i];
		else if (strcmp(argv[i], "--client") == 0)
			return cmd_token_revoke(argc, argv);
		else if (token == NULL && argv[i][0] != '-')
			token = argv[i];
		else
			usage();
	}
	conf = load_or_die(path);
	if (strcmp(argv[1], "list") == 0) {
		if (id != NULL || user != NULL || token != NULL)
			usage();
		rc = authtoken_list(conf, stdout, &why);
	} else {
		if ((id != NULL) + (user != NULL) + (token != NULL) != 1)
			usage();
		rc = authtoken_revoke(conf, token, id, user, &count, &why);
		/* A clear token may be an OAuth2 one. */
		if (rc == 0 && token != NULL && count == 0 &&
		    oauth2_revoke(conf, token, NULL, &n2, &why) == 0)
			count = n2;
		if (rc == 0)
			printf("%d token(s) revoked\n", count);
	}
	if (rc != 0)
		fprintf(stderr, "fastcrm: %s\n", why);
	conf_free(conf);
	return rc != 0;
}

/* import: files into entities, with a mode; or --fields NAME. */
static int
cmd_import(int argc, char *argv[])
{
	struct conf		*conf;
	struct import_opts	 o;
	struct import_input	*in;
	const char		*path = NULL, *entity = NULL, *fields = NULL;
	const char		*why = NULL, **maps;
	size_t			 nin = 0;
	int			 i, rc;

	memset(&o, 0, sizeof(o));
	if ((in = calloc((size_t)argc, sizeof(*in))) == NULL ||
	    (maps = calloc((size_t)argc, sizeof(*maps))) == NULL)
		return 1;
	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "-c") == 0 && i + 1 < argc)
			path = argv[++i];
		else if (strcmp(argv[i], "--entity") == 0 && i + 1 < argc)
			entity = argv[++i];
		else if (strcmp(argv[i], "--fields") == 0 && i + 1 < argc)
			fields = argv[++i];
		else if (strcmp(argv[i], "--mode") == 0 && i + 1 < argc)
			o.mode = argv[++i];
		else if (strcmp(argv[i], "--match") == 0 && i + 1 < argc)
			o.match = argv[++i];
		else if (strcmp(argv[i], "--rejects") == 0 && i + 1 < argc)
			o.rejects = argv[++i];
		else if (strcmp(argv[i], "--format") == 0 && i + 1 < argc)
			o.format = argv[++i];
		else if (strcmp(argv[i], "--map") == 0 && i + 1 < argc &&
		    strchr(argv[i + 1], '=') != NULL)
			maps[o.nmaps++] = argv[++i];
		else if (strcmp(argv[i], "--strict") == 0)
			o.strict = 1;
		else if (strcmp(argv[i], "--skip-duplicate-check") == 0)
			o.no_dup_check = 1;
		else if (entity != NULL && (argv[i][0] != '-' ||
		    strcmp(argv[i], "-") == 0)) {
			in[nin].entity = entity;
			in[nin++].path = argv[i];
		} else
			usage();
	}
	o.maps = maps;
	if (fields == NULL && nin == 0 && entity != NULL) {
		in[nin].entity = entity;	/* stdin */
		in[nin++].path = "-";
	}
	if (fields == NULL && nin == 0)
		usage();
	conf = load_or_die(path);
	if (fields != NULL)
		rc = entity_import_fields(conf, fields, stdout, &why);
	else
		rc = entity_import_files(conf, in, nin, &o, &why);
	if (rc != 0 && rc != 3)
		fprintf(stderr, "fastcrm: import: %s\n", why != NULL ? why :
		    "failed");
	conf_free(conf);
	free(in);
	free(maps);
	return rc == 3 ? 3 : rc != 0;
}

/* A secret from stdin (one line), so that it stays out of `ps`. */
static const char *
read_secret(const char *what)
{
	static char	 buf[3][512];
	static int	 n;
	char		*b;

	if (n == 3)
		return NULL;
	b = buf[n++];
	if (isatty(STDIN_FILENO))
		fprintf(stderr, "%s: ", what);
	if (fgets(b, sizeof(buf[0]), stdin) == NULL)
		return NULL;
	b[strcspn(b, "\r\n")] = '\0';
	return b;
}

/* migrate, purge, erase: options into the engine's commands. */
static int
cmd_data(int argc, char *argv[])
{
	struct conf		*conf;
	struct migrate_opts	 m;
	const char		*path = NULL, *entity = NULL, *id = NULL;
	const char		*before = NULL, *why = NULL;
	int			 i, rc;

	memset(&m, 0, sizeof(m));
	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "-c") == 0 && i + 1 < argc)
			path = argv[++i];
		else if (strcmp(argv[i], "--entity") == 0 && i + 1 < argc)
			entity = argv[++i];
		else if (strcmp(argv[i], "--deleted-before") == 0 &&
		    i + 1 < argc)
			before = argv[++i];
		else if (strcmp(argv[i], "--from") == 0 && i + 1 < argc)
			m.url = argv[++i];
		else if (strcmp(argv[i], "--key") == 0 && i + 1 < argc)
			m.key = argv[++i];
		else if (strcmp(argv[i], "--hmac") == 0 && i + 1 < argc)
			m.hmac = argv[++i];
		else if (strcmp(argv[i], "--user") == 0 && i + 1 < argc)
			m.user = argv[++i];
		else if (strcmp(argv[i], "--password") == 0 && i + 1 < argc)
			m.password = argv[++i];
		else if (strcmp(argv[i], "--cacert") == 0 && i + 1 < argc)
			m.cacert = argv[++i];
		else if (strcmp(argv[i], "--insecure") == 0)
			m.insecure = 1;
		else if (strcmp(argv[i], "--restart") == 0)
			m.restart = 1;
		else if (strcmp(argv[i], "--rejects") == 0 && i + 1 < argc)
			m.rejects = argv[++i];
		else if (strcmp(argv[i], "--limit") == 0 && i + 1 < argc)
			m.limit = strtoul(argv[++i], NULL, 10);
		else if (strcmp(argv[i], "--page-size") == 0 && i + 1 < argc)
			m.page = strtoul(argv[++i], NULL, 10);
		else if (id == NULL && argv[i][0] != '-')
			id = argv[i];
		else
			usage();
	}
	if (strcmp(argv[0], "purge") == 0 && before == NULL)
		usage();
	if (strcmp(argv[0], "erase") == 0 && (entity == NULL || id == NULL))
		usage();
	if (strcmp(argv[0], "migrate") == 0 && (m.url == NULL ||
	    (m.key == NULL && m.hmac == NULL && m.user == NULL)))
		usage();
	if (m.key != NULL && strcmp(m.key, "-") == 0)
		m.key = read_secret("API key");
	if (m.hmac != NULL && strcmp(m.hmac, "-") == 0)
		m.hmac = read_secret("KEY:SECRET");
	if (m.user != NULL && (m.password == NULL ||
	    strcmp(m.password, "-") == 0))
		m.password = read_secret("Password");
	if (strcmp(argv[0], "migrate") == 0 && m.key == NULL &&
	    m.hmac == NULL && m.password == NULL) {
		fputs("fastcrm: migrate: no credentials on stdin\n", stderr);
		return 1;
	}
	conf = load_or_die(path);
	if (strcmp(argv[0], "purge") == 0)
		rc = entity_purge(conf, before, &why);
	else if (strcmp(argv[0], "erase") == 0)
		rc = entity_erase(conf, entity, id, &why);
	else
		rc = entity_migrate(conf, &m, &why);
	if (rc != 0 && rc != 3)
		fprintf(stderr, "fastcrm: %s: %s\n", argv[0], why != NULL ?
		    why : "failed");
	conf_free(conf);
	return rc == 3 ? 3 : rc != 0;
}

/* export, verify: work on the store while it may be serving. */
static int
cmd_store(int argc, char *argv[])
{
	struct conf	*conf;
	const char	*path = NULL, *entity = NULL, *why = NULL;
	size_t		 problems;
	int		 i, rc;

	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "-c") == 0 && i + 1 < argc)
			path = argv[++i];
		else if (strcmp(argv[i], "--entity") == 0 && i + 1 < argc)
			entity = argv[++i];
		else
			usage();
	}
	conf = load_or_die(path);
	if (strcmp(argv[0], "verify") == 0) {
		rc = entity_verify(conf, &problems, &why);
		if (rc == 0)
			printf("verify: %zu problem(s)\n", problems);
		else
			fprintf(stderr, "fastcrm: verify: %s\n", why);
		conf_free(conf);
		return rc != 0 || problems > 0;
	}
	if (entity == NULL)
		usage();
	rc = entity_export(conf, entity, stdout, &why);
	if (rc != 0)
		fprintf(stderr, "fastcrm: %s: %s\n", argv[0], why);
	conf_free(conf);
	return rc != 0;
}

/*
 * backup DIR, restore DIR [--force]: the files made hold password hashes
 * and every record, so nobody but the owner may read them (umask 077).
 */
static int
cmd_backup(int argc, char *argv[])
{
	struct entity_backup_stats	 bs;
	struct conf			*conf;
	const char			*path = NULL, *dir = NULL, *why = NULL;
	int				 i, force = 0, rc;

	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "-c") == 0 && i + 1 < argc)
			path = argv[++i];
		else if (strcmp(argv[i], "--force") == 0 &&
		    strcmp(argv[0], "restore") == 0)
			force = 1;
		else if (dir == NULL && argv[i][0] != '-')
			dir = argv[i];
		else
			usage();
	}
	if (dir == NULL)
		usage();
	conf = load_or_die(path);
	umask(077);
	if (strcmp(argv[0], "backup") == 0) {
		rc = entity_backup(conf, dir, &bs, &why);
		if (rc == 0)
			printf("backup: %s: %zu records, %zu attachment "
			    "file(s)%s, %llu bytes in %.2f s (LMDB snapshot "
			    "copied in %.2f s; writers are not paused)\n", dir,
			    bs.records, bs.files, bs.missing > 0 ?
			    " (some missing, see above)" : "", bs.bytes,
			    bs.seconds, bs.snapshot_seconds);
	} else {
		rc = entity_restore(conf, dir, force, &bs, &why);
		if (rc == 0)
			printf("restore: %s: %zu records, %zu attachment "
			    "file(s), %llu bytes, checksums match; run "
			    "`fastcrm verify` next\n", conf->data_dir,
			    bs.records, bs.files, bs.bytes);
	}
	if (rc != 0)
		fprintf(stderr, "fastcrm: %s: %s\n", argv[0], why);
	conf_free(conf);
	return rc != 0;
}

int
main(int argc, char *argv[])
{
	const char	*path = NULL;
	int		 c;

	if (argc < 2)
		usage();
	/* Every command's engine (master and workers too) knows these. */
	entity_register(resources);
	/* Auth's tables go into every store opened from here on. */
	if (auth_init() != 0)
		return 1;
	if (strcmp(argv[1], "serve") == 0) {
		optind = 2;
		while ((c = getopt(argc, argv, "Bb:c:")) != -1) {
			if (c == 'c')
				path = optarg;
			else if (c == 'B')
				worker_baseline = 1;
			else if (c == 'b' && baseline_bytes(optarg) == 0)
				continue;
			else
				usage();
		}
		if (path == NULL)
			path = FASTCRM_CONF_DEFAULT;
		return master_run(path);
	}
	if (strcmp(argv[1], "check-config") == 0)
		return cmd_check_config(argc - 1, argv + 1);
	if (strcmp(argv[1], "key") == 0)
		return cmd_key();
	if (strcmp(argv[1], "import") == 0)
		return cmd_import(argc - 1, argv + 1);
	if (strcmp(argv[1], "migrate") == 0 || strcmp(argv[1], "purge") == 0 ||
	    strcmp(argv[1], "erase") == 0)
		return cmd_data(argc - 1, argv + 1);
	if (strcmp(argv[1], "export") == 0 || strcmp(argv[1], "verify") == 0)
		return cmd_store(argc - 1, argv + 1);
	if (strcmp(argv[1], "backup") == 0 || strcmp(argv[1], "restore") == 0)
		return cmd_backup(argc - 1, argv + 1);
	if (strcmp(argv[1], "token") == 0)
		return cmd_authtoken(argc - 1, argv + 1);
	if (strcmp(argv[1], "user") == 0)
		return cmd_user_passwd(argc - 1, argv + 1);
	if (strcmp(argv[1], "version") == 0) {
		puts("fastcrm " PACKAGE_VERSION);
		return 0;
	}
	usage();
	return 2;
}
