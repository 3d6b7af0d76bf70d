/*
 * What a read by key costs LMDB alone, at a data set's size: the floor
 * under S2 (a read by id) that the stack imposes, without nginx, libfcgi
 * or fastcrm.  Opens the environment DIR as a worker does (read-only txn,
 * the same flags), reads the keys of KEYFILE (one a line), and times
 * mdb_get of each, touching every byte of the value as fastcrm's answer
 * does: a first pass over the keys in random order (this process maps
 * the pages on first touch: minor page faults), then ROUNDS more passes
 * in new random orders (the mapping warm).  Prints one JSON line: keys,
 * the B-tree's depth and pages, ns per get and minor faults per get of
 * the first pass and of the warm passes.
 *
 *	lmdb_get DIR DB KEYFILE [ROUNDS]
 */
#include <sys/resource.h>
#include <sys/time.h>

#include <err.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <lmdb.h>

#include "xorshift.h"

static double
now(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static long
minflt(void)
{
	struct rusage	 ru;

	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_minflt;
}

static void
shuffle(char **keys, size_t n)
{
	size_t	 i, j;
	char	*t;

	for (i = n - 1; i > 0; i--) {
		j = random_below(i + 1);
		t = keys[i];
		keys[i] = keys[j];
		keys[j] = t;
	}
}

/* One pass: ns per get, faults per get; sum keeps the reads alive. */
static void
pass(MDB_txn *txn, MDB_dbi dbi, char **keys, size_t n, double *ns,
    double *faults, unsigned long *sum)
{
	MDB_val		 k, v;
	double		 t0;
	long		 f0;
	size_t		 i, j;
	int		 rc;

	f0 = minflt();
	t0 = now();
	for (i = 0; i < n; i++) {
		k.mv_data = keys[i];
		k.mv_size = strlen(keys[i]);
		if ((rc = mdb_get(txn, dbi, &k, &v)) != 0)
			errx(1, "mdb_get %s: %s", keys[i], mdb_strerror(rc));
		for (j = 0; j < v.mv_size; j += 64)
			*sum += ((const unsigned char *)v.mv_data)[j];
	}
	*ns = (now() - t0) * 1e9 / n;
	*faults = (double)(minflt() - f0) / n;
}

int
main(int argc, char *argv[])
{
	MDB_env		*env;
	MDB_txn		*txn;
	MDB_dbi		 dbi;
	MDB_stat	 ms;
	FILE		*f;
	char		**keys = NULL, line[512];
	size_t		 n = 0, cap = 0, len;
	double		 ns0, f0, ns, fl, sum_ns = 0, sum_f = 0;
	unsigned long	 sum = 0;
	int		 rc, rounds = 3, r;

	if (argc != 4 && argc != 5)
		errx(2, "usage: lmdb_get DIR DB KEYFILE [ROUNDS]");
	if (argc == 5)
		rounds = atoi(argv[4]);
	if (rounds < 1)
		rounds = 1;
	if ((f = fopen(argv[3], "r")) == NULL)
		err(1, "%s", argv[3]);
	while (fgets(line, sizeof(line), f) != NULL) {
		len = strcspn(line, "\r\n");
		if (len == 0)
			continue;
		line[len] = '\0';
		if (n == cap) {
			cap = cap ? cap * 2 : 1024;
			if ((keys = realloc(keys, cap * sizeof(*keys))) == NULL)
				err(1, NULL);
		}
		if ((keys[n++] = strdup(line)) == NULL)
			err(1, NULL);
	}
	fclose(f);
	if (n == 0)
		errx(1, "%s: no keys", argv[3]);
	if ((rc = mdb_env_create(&env)) != 0 ||
	    (rc = mdb_env_set_maxdbs(env, 512)) != 0 ||
	    (rc = mdb_env_set_mapsize(env, 1UL << 34)) != 0 ||
	    (rc = mdb_env_open(env, argv[1], MDB_RDONLY | MDB_NOTLS |
	    MDB_NORDAHEAD, 0600)) != 0)
		errx(1, "mdb_env: %s", mdb_strerror(rc));
	if ((rc = mdb_txn_begin(env, NULL, MDB_RDONLY, &txn)) != 0 ||
	    (rc = mdb_dbi_open(txn, argv[2], 0, &dbi)) != 0 ||
	    (rc = mdb_stat(txn, dbi, &ms)) != 0)
		errx(1, "%s: %s", argv[2], mdb_strerror(rc));
	shuffle(keys, n);
	pass(txn, dbi, keys, n, &ns0, &f0, &sum);
	for (r = 0; r < rounds; r++) {
		shuffle(keys, n);
		pass(txn, dbi, keys, n, &ns, &fl, &sum);
		sum_ns += ns;
		sum_f += fl;
	}
	printf("{\"keys\":%zu,\"entries\":%zu,\"depth\":%u,"
	    "\"branch_pages\":%zu,\"leaf_pages\":%zu,\"overflow_pages\":%zu,"
	    "\"first_ns\":%.0f,\"first_faults\":%.3f,\"warm_ns\":%.0f,"
	    "\"warm_faults\":%.4f,\"check\":%lu}\n", n, ms.ms_entries,
	    ms.ms_depth, ms.ms_branch_pages, ms.ms_leaf_pages,
	    ms.ms_overflow_pages, ns0, f0, sum_ns / rounds, sum_f / rounds,
	    sum % 1000);
	mdb_txn_abort(txn);
	mdb_env_close(env);
	while (n > 0)
		free(keys[--n]);
	free(keys);
	return 0;
}
