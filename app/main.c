/*
 * fastcrm's command line: serve, check-config, key.
 */
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fastcrm/auth.h"
#include "fastcrm/check.h"
#include "fastcrm/conf.h"
#include "fastcrm/entity.h"
#include "fastcrm/worker.h"

/* -c FILE when none is given (the Debian package's configuration). */
#ifndef FASTCRM_CONF_DEFAULT
#define FASTCRM_CONF_DEFAULT	"/etc/fastcrm/fastcrm.yaml"
#endif
/* The package's service user and nginx site, checked with its file. */
#define SERVICE_USER		"fastcrm"
#define NGINX_SITE		"/etc/nginx/sites-available/fastcrm"

static void
usage(void)
{
	fputs("usage: fastcrm serve [-B] [-c FILE]\n"
	    "       fastcrm check-config [[-c] FILE] [-u USER] [-n NGINX_FILE]\n"
	    "       fastcrm key\n"
	    "       fastcrm user passwd NAME -c FILE   (password on stdin)\n"
	    "       fastcrm import --entity NAME FILE -c FILE\n"
	    "       fastcrm export --entity NAME -c FILE\n"
	    "       fastcrm verify -c FILE\n"
	    "       fastcrm token revoke (TOKEN | --client ID) -c FILE\n"
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
	const char		*path = NULL, *user = NULL, *nginx = NULL;
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

/* import, export, verify: work on the store while it may be serving. */
static int
cmd_store(int argc, char *argv[])
{
	struct conf	*conf;
	const char	*path = NULL, *entity = NULL, *file = NULL, *why = NULL;
	FILE		*f;
	size_t		 problems;
	int		 i, rc;

	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "-c") == 0 && i + 1 < argc)
			path = argv[++i];
		else if (strcmp(argv[i], "--entity") == 0 && i + 1 < argc)
			entity = argv[++i];
		else if (file == NULL && (argv[i][0] != '-' ||
		    strcmp(argv[i], "-") == 0))
			file = argv[i];
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
	if (strcmp(argv[0], "export") == 0) {
		rc = entity_export(conf, entity, stdout, &why);
	} else {
		if (file == NULL || strcmp(file, "-") == 0)
			f = stdin;
		else if ((f = fopen(file, "r")) == NULL) {
			perror(file);
			conf_free(conf);
			return 1;
		}
		rc = entity_import(conf, entity, f, &why);
		if (f != stdin)
			fclose(f);
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
	if (strcmp(argv[1], "serve") == 0) {
		optind = 2;
		while ((c = getopt(argc, argv, "Bc:")) != -1) {
			if (c == 'c')
				path = optarg;
			else if (c == 'B')
				worker_baseline = 1;
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
	if (strcmp(argv[1], "import") == 0 || strcmp(argv[1], "export") == 0 ||
	    strcmp(argv[1], "verify") == 0)
		return cmd_store(argc - 1, argv + 1);
	if (strcmp(argv[1], "token") == 0)
		return cmd_token_revoke(argc - 1, argv + 1);
	if (strcmp(argv[1], "user") == 0)
		return cmd_user_passwd(argc - 1, argv + 1);
	if (strcmp(argv[1], "version") == 0) {
		puts("fastcrm " PACKAGE_VERSION);
		return 0;
	}
	usage();
	return 2;
}
