/*
 * fastcrm's command line: serve, check-config, key.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fastcrm/auth.h"
#include "fastcrm/conf.h"
#include "fastcrm/worker.h"

static void
usage(void)
{
	fputs("usage: fastcrm serve -c FILE\n"
	    "       fastcrm check-config FILE\n"
	    "       fastcrm key\n"
	    "       fastcrm user passwd NAME -c FILE   (password on stdin)\n"
	    "       fastcrm token revoke (TOKEN | --client ID) -c FILE\n"
	    "       fastcrm version\n", stderr);
	exit(2);
}

static int
cmd_check_config(int argc, char *argv[])
{
	struct conf		*conf = NULL;
	struct conf_diag	 diag;
	size_t			 i;
	int			 rc;

	if (argc != 2)
		usage();
	memset(&diag, 0, sizeof(diag));
	rc = conf_load(argv[1], &conf, &diag);
	for (i = 0; i < diag.nerrors; i++)
		fprintf(stderr, "error: %s\n", diag.errors[i]);
	for (i = 0; i < diag.nwarnings; i++)
		fprintf(stderr, "warning: %s\n", diag.warnings[i]);
	conf_diag_free(&diag);
	if (rc != 0) {
		fprintf(stderr, "%s: invalid\n", argv[1]);
		return 1;
	}
	printf("%s: ok\n", argv[1]);
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

/* Reads the new password from stdin, sets it on the User record NAME. */
static int
cmd_user_passwd(int argc, char *argv[])
{
	struct conf		*conf = NULL;
	struct conf_diag	 diag;
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
	if (path == NULL)
		usage();
	memset(&diag, 0, sizeof(diag));
	if (conf_load(path, &conf, &diag) != 0) {
		for (n = 0; n < diag.nerrors; n++)
			fprintf(stderr, "error: %s\n", diag.errors[n]);
		conf_diag_free(&diag);
		return 1;
	}
	conf_diag_free(&diag);
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
	struct conf_diag	 diag;
	const char		*path = NULL, *token = NULL, *client = NULL;
	const char		*why;
	size_t			 n;
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
	if (path == NULL || (token == NULL) == (client == NULL))
		usage();
	memset(&diag, 0, sizeof(diag));
	if (conf_load(path, &conf, &diag) != 0) {
		for (n = 0; n < diag.nerrors; n++)
			fprintf(stderr, "error: %s\n", diag.errors[n]);
		conf_diag_free(&diag);
		return 1;
	}
	conf_diag_free(&diag);
	if (oauth2_revoke(conf, token, client, &count, &why) != 0) {
		fprintf(stderr, "fastcrm: %s\n", why);
		conf_free(conf);
		return 1;
	}
	printf("%d token(s) revoked\n", count);
	conf_free(conf);
	return 0;
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
		while ((c = getopt(argc, argv, "c:")) != -1) {
			if (c == 'c')
				path = optarg;
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
