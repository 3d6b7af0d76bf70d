/*
 * Unit tests, in TAP, for check-config's checks of the surroundings
 * (app/check.c), the log_file setting and reopening the log (app/log.c),
 * and the store's format check (app/store/store.c).  Files go into a
 * mkdtemp(3) directory.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <lmdb.h>

#include "fastcrm/check.h"
#include "fastcrm/conf.h"
#include "fastcrm/error.h"
#include "fastcrm/log.h"
#include "fastcrm/store.h"
#include "tap.h"

static char	 dir[] = "/tmp/unit_check.XXXXXX";
static char	 msg[4096];

static void
put(const char *name, const char *text)
{
	char	 p[512];
	FILE	*f;

	snprintf(p, sizeof(p), "%s/%s", dir, name);
	if ((f = fopen(p, "w")) == NULL) {
		printf("Bail out! %s: %s\n", p, strerror(errno));
		exit(1);
	}
	fputs(text, f);
	fclose(f);
}

static char *
slurp(const char *p)
{
	static char	 b[8192];
	FILE		*f;
	size_t		 n;

	b[0] = '\0';
	if ((f = fopen(p, "r")) == NULL)
		return b;
	n = fread(b, 1, sizeof(b) - 1, f);
	b[n] = '\0';
	fclose(f);
	return b;
}

static void
test_data_dir(void)
{
	struct conf	 c;
	char		 p[512];
	struct passwd	*nobody;

	memset(&c, 0, sizeof(c));
	c.data_dir = p;
	snprintf(p, sizeof(p), "%s", dir);
	msg[0] = '\0';
	ok(check_data_dir(&c, NULL, msg, sizeof(msg)) == 0,
	    "an existing writable data_dir passes");
	snprintf(p, sizeof(p), "%s/new", dir);
	ok(check_data_dir(&c, NULL, msg, sizeof(msg)) == 0,
	    "a data_dir that can be created passes");
	snprintf(p, sizeof(p), "%s/no/new", dir);
	ok(check_data_dir(&c, NULL, msg, sizeof(msg)) == -1 &&
	    strstr(msg, "neither does its parent") != NULL,
	    "a data_dir whose parent is missing fails, saying so");
	put("file", "x");
	snprintf(p, sizeof(p), "%s/file", dir);
	ok(check_data_dir(&c, NULL, msg, sizeof(msg)) == -1 &&
	    strstr(msg, "is not a directory") != NULL,
	    "a data_dir that is a file fails");
	snprintf(p, sizeof(p), "%s/ro", dir);
	mkdir(p, 0500);
	if (geteuid() == 0 && (nobody = getpwnam("nobody")) != NULL) {
		ok(check_data_dir(&c, "nobody", msg, sizeof(msg)) == -1 &&
		    strstr(msg, "not writable by user nobody") != NULL,
		    "a data_dir the service user cannot write fails, naming "
		    "the user");
		ok(check_data_dir(&c, NULL, msg, sizeof(msg)) == 0,
		    "root may write it");
		snprintf(p, sizeof(p), "%s/ro/sub", dir);
		ok(check_data_dir(&c, "nobody", msg, sizeof(msg)) == -1 &&
		    strstr(msg, "cannot create it") != NULL,
		    "nor create one in a directory it cannot write");
		ok(check_data_dir(&c, "no-such-user-x", msg, sizeof(msg)) ==
		    -1 && strstr(msg, "no user") != NULL,
		    "an unknown user is an error");
	} else {
		ok(check_data_dir(&c, NULL, msg, sizeof(msg)) == -1,
		    "a data_dir this user cannot write fails");
	}
	snprintf(p, sizeof(p), "%s/ro", dir);
	rmdir(p);
	snprintf(p, sizeof(p), "%s/file", dir);
	unlink(p);
}

static void
test_nginx(void)
{
	struct conf	 c;
	char		 p[512];

	memset(&c, 0, sizeof(c));
	c.max_body = (size_t)64 << 20;
	snprintf(p, sizeof(p), "%s/site", dir);
	put("site", "server {\n    client_max_body_size 64m;\n}\n");
	ok(check_nginx_body(&c, p, msg, sizeof(msg)) == 0,
	    "64m agrees with max_body 64MiB");
	put("site", "server {\n  # client_max_body_size 1g;\n"
	    "  client_max_body_size 1m;\n"
	    "  location /r { client_max_body_size 65536k; }\n"
	    "  location /a {\n\tclient_max_body_size\t64M ;\n  }\n}\n");
	ok(check_nginx_body(&c, p, msg, sizeof(msg)) == 0,
	    "the largest of several limits counts; comments do not");
	put("site", "server {\n  location /r { client_max_body_size 128m; }\n"
	    "  client_max_body_size 64m;\n  # x_client_max_body_size 1g;\n}\n");
	ok(check_nginx_body(&c, p, msg, sizeof(msg)) == -1 &&
	    strstr(msg, "site:2:") != NULL,
	    "a limit inside a one-line location is seen (128m: too large)");
	put("site", "server {\n\n    client_max_body_size 32m;\n}\n");
	ok(check_nginx_body(&c, p, msg, sizeof(msg)) == -1 &&
	    strstr(msg, "site:3:") != NULL &&
	    strstr(msg, "33554432") != NULL,
	    "32m disagrees, naming file, line and both sizes");
	put("site", "server {\n}\n");
	ok(check_nginx_body(&c, p, msg, sizeof(msg)) == -1 &&
	    strstr(msg, "no client_max_body_size") != NULL,
	    "no limit at all (nginx's 1m) disagrees");
	put("site", "client_max_body_size 0;\n");
	ok(check_nginx_body(&c, p, msg, sizeof(msg)) == -1 &&
	    strstr(msg, "no limit") != NULL, "0 (unlimited) disagrees");
	put("site", "client_max_body_size 64x;\n");
	ok(check_nginx_body(&c, p, msg, sizeof(msg)) == -1 &&
	    strstr(msg, "not a size") != NULL, "a size with a bad unit fails");
	put("site", "client_max_body_size 99999999999999999999999g;\n");
	ok(check_nginx_body(&c, p, msg, sizeof(msg)) == -1,
	    "an overflowing size fails");
	snprintf(p, sizeof(p), "%s/missing", dir);
	ok(check_nginx_body(&c, p, msg, sizeof(msg)) == -1 &&
	    strstr(msg, "No such file") != NULL, "a missing file fails");
	snprintf(p, sizeof(p), "%s/site", dir);
	unlink(p);
}

static void
test_log_file(void)
{
	struct conf		*c = NULL;
	struct conf_diag	 d;
	char			 p[512], log[512], old[512];
	int			 rc, saved;

	snprintf(p, sizeof(p), "%s/c.yaml", dir);
	put("c.yaml", "listen: unix:/tmp/unit_check.sock\n"
	    "data_dir: /tmp/unit_check-data\nlog_file: fastcrm.log\n");
	memset(&d, 0, sizeof(d));
	rc = conf_load(p, &c, &d);
	ok(rc != 0 && d.nerrors == 1 &&
	    strstr(d.errors[0], "c.yaml:3:") != NULL &&
	    strstr(d.errors[0], "absolute path") != NULL,
	    "a relative log_file is refused at its line");
	conf_diag_free(&d);
	snprintf(log, sizeof(log), "%s/fastcrm.log", dir);
	snprintf(old, sizeof(old), "%s/fastcrm.log.1", dir);
	{
		char	 text[1024];

		snprintf(text, sizeof(text), "listen: unix:/tmp/x.sock\n"
		    "data_dir: /tmp/unit_check-data\nlog_file: %s\n", log);
		put("c.yaml", text);
	}
	memset(&d, 0, sizeof(d));
	rc = conf_load(p, &c, &d);
	ok(rc == 0 && c != NULL && c->log_file != NULL &&
	    strcmp(c->log_file, log) == 0, "an absolute log_file is taken");
	conf_diag_free(&d);
	conf_free(c);

	/* stderr into the file, moved away, reopened. */
	fflush(stderr);
	saved = dup(STDERR_FILENO);
	ok(log_set_file(log) == 0, "log_set_file opens it");
	log_info("first line");
	rename(log, old);
	log_info("second line");
	ok(log_reopen() == 0, "log_reopen after it was moved");
	log_info("third line");
	dup2(saved, STDERR_FILENO);
	close(saved);
	ok(strstr(slurp(old), "first line") != NULL &&
	    strstr(slurp(old), "second line") != NULL &&
	    strstr(slurp(old), "third line") == NULL,
	    "the moved file has the lines before the reopen");
	ok(strstr(slurp(log), "third line") != NULL &&
	    strstr(slurp(log), "second line") == NULL,
	    "the new file the lines after it");
	ok(log_set_file("/nonexistent-dir-x/f.log") == -1,
	    "a log file that cannot be opened is an error");
	saved = dup(STDERR_FILENO);
	ok(log_set_file(log) == 0, "log_set_file again");
	ok(log_set_file(NULL) == 0 && log_reopen() == 0,
	    "without a log file, reopening does nothing");
	log_info("fourth line");
	fflush(stderr);
	ok(strstr(slurp(log), "fourth line") == NULL,
	    "and stderr is the one from before the log file again");
	dup2(saved, STDERR_FILENO);
	close(saved);
	unlink(log);
	unlink(old);
	unlink(p);
}

/* Writes value under "format" in the database "store", with LMDB itself. */
static int
set_format(const char *data, const char *value)
{
	MDB_env	*env;
	MDB_txn	*txn;
	MDB_dbi	 dbi;
	MDB_val	 k, v;
	int	 rc;

	if ((rc = mdb_env_create(&env)) != 0)
		return rc;
	mdb_env_set_maxdbs(env, 8);
	if ((rc = mdb_env_open(env, data, 0, 0600)) == 0 &&
	    (rc = mdb_txn_begin(env, NULL, 0, &txn)) == 0) {
		k.mv_data = (void *)"format";
		k.mv_size = 6;
		v.mv_data = (void *)value;
		v.mv_size = strlen(value);
		if ((rc = mdb_dbi_open(txn, "store", 0, &dbi)) == 0 &&
		    (rc = mdb_put(txn, dbi, &k, &v, 0)) == 0)
			rc = mdb_txn_commit(txn);
		else
			mdb_txn_abort(txn);
	}
	mdb_env_close(env);
	return rc;
}

static void
test_store_format(void)
{
	static const char *const dbs[] = { "rec.X", NULL };
	struct store	*st = NULL;
	char		 data[512], p[600], log[512];
	int		 saved;

	snprintf(data, sizeof(data), "%s/data", dir);
	ok(store_open(data, 1 << 20, dbs, &st) == FCRM_OK,
	    "a new store opens (and records format 1)");
	store_close(st);
	ok(set_format(data, "2") == 0, "format 2 written behind its back");
	snprintf(log, sizeof(log), "%s/store.log", dir);
	fflush(stderr);
	saved = dup(STDERR_FILENO);
	log_set_file(log);
	st = NULL;
	ok(store_open(data, 1 << 20, dbs, &st) == FCRM_STORE && st == NULL,
	    "a store of a newer format is refused");
	log_set_file(NULL);
	dup2(saved, STDERR_FILENO);
	close(saved);
	ok(strstr(slurp(log), "has format 2, written by a newer fastcrm") !=
	    NULL && strstr(slurp(log), "lmdb:") == NULL,
	    "with one clear error line");
	ok(set_format(data, "1") == 0 &&
	    store_open(data, 1 << 20, dbs, &st) == FCRM_OK,
	    "format 1 opens again");
	store_close(st);
	unlink(log);
	snprintf(p, sizeof(p), "%s/data.mdb", data);
	unlink(p);
	snprintf(p, sizeof(p), "%s/lock.mdb", data);
	unlink(p);
	rmdir(data);
}

int
main(void)
{

	tap_diag = msg;
	if (mkdtemp(dir) == NULL) {
		printf("Bail out! mkdtemp: %s\n", strerror(errno));
		return 1;
	}
	test_data_dir();
	test_nginx();
	test_log_file();
	test_store_format();
	printf("1..%d\n", tap_ntest);
	if (rmdir(dir) == -1)
		printf("# could not remove %s: %s\n", dir, strerror(errno));
	return tap_nfail == 0 ? 0 : 1;
}
