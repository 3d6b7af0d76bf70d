/*
 * fastcrm's command line: serve, check-config, key.
 */
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <string.h>
#include <unistd.h>

#include "fastcrm/auth.h"
#include "fastcrm/conf.h"
#include "fastcrm/entity.h"
#include "fastcrm/worker.h"

static void
usage(void)
{
	fputs("usage: fastcrm serve [-B] -c FILE\n"
	    "       fastcrm check-config [-c] FILE\n"
	    "       fastcrm key\n"
	    "       fastcrm user passwd NAME -c FILE   (password on stdin)\n"
	    "       fastcrm import --entity NAME FILE -c FILE\n"
	    "       fastcrm export --entity NAME -c FILE\n"
	    "       fastcrm verify -c FILE\n"
	    "       fastcrm backup DIR -c FILE\n"
	    "       fastcrm restore DIR [--force] -c FILE\n"
	    "       fastcrm token revoke (TOKEN | --client ID) -c FILE\n"
	    "       fastcrm token list -c FILE   (auth tokens)\n"
	    "       fastcrm token revoke (--id ID | --user NAME) -c FILE\n"
	    "       fastcrm version\n", stderr);
	exit(2);
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
	const char		*path, *why;
	size_t			 i;
	int			 rc;

	if (argc == 3 && strcmp(argv[1], "-c") == 0)
		path = argv[2];
	else if (argc == 2 && argv[1][0] != '-')
		path = argv[1];
	else
		usage();
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
		usage();
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
			usage();
		return master_run(path);
	}
	if (strcmp(argv[1], "check-config") == 0)
		return cmd_check_config(argc - 1, argv + 1);
	if (strcmp(argv[1], "key") == 0)
		return cmd_key();
	if (strcmp(argv[1], "import") == 0 || strcmp(argv[1], "export") == 0 ||
	    strcmp(argv[1], "verify") == 0)
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
