/*
 * The write baseline of tests/bench: what a Case create costs LMDB alone.
 * One write transaction per record, with the same puts fastcrm makes for
 * a Case (a counter, the ~600-byte record, four duplicate-sorted index
 * entries and two ordered-index keys), then a durable commit; the same
 * environment flags as app/store/store.c.  First it loads PREFILL records
 * the same way in large transactions (untimed), so that its B-trees are as
 * deep as those of the dataset fastcrm is measured on.  Then it runs for
 * SECONDS and prints one JSON line: commits, records, commits per second,
 * mean, p50 and p99 commit latency.  With BATCH, each transaction holds
 * BATCH such records: what one group commit of BATCH creates costs LMDB.
 *
 *	lmdb_put DIR SECONDS [PREFILL [BATCH]]
 */
#include <sys/stat.h>
#include <sys/time.h>

#include <err.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lmdb.h>

#include "xorshift.h"

#define MAXLAT	(1 << 22)

static double
now(void)
{
	struct timeval	 tv;

	gettimeofday(&tv, NULL);
	return tv.tv_sec + tv.tv_usec / 1e6;
}

static int
cmp_double(const void *a, const void *b)
{
	double	 x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static void
put(MDB_txn *txn, MDB_dbi dbi, const char *k, size_t kl, const char *v,
    size_t vl)
{
	MDB_val	 key = { kl, (void *)k }, val = { vl, (void *)v };
	int	 rc;

	if ((rc = mdb_put(txn, dbi, &key, &val, 0)) != 0)
		errx(1, "mdb_put: %s", mdb_strerror(rc));
}

static MDB_dbi	 dbi[8];
static char	 rec[640];

/* The puts of one Case create, record number n. */
static void
one_case(MDB_txn *txn, size_t n, double t)
{
	char	 id[32], key[128], num[32];

	snprintf(id, sizeof(id), "%08lx%09zx", (long)t, n);
	snprintf(num, sizeof(num), "%020zu", n);
	memcpy(rec + 8, id, 17);
	put(txn, dbi[1], "Case", 4, num, 20);
	put(txn, dbi[0], id, 17, rec, sizeof(rec));
	snprintf(key, sizeof(key), "c%016zx", random_below(1000000));
	put(txn, dbi[2], key, 17, id, 17);
	put(txn, dbi[3], key, 17, id, 17);
	put(txn, dbi[4], "0000000000000adm", 16, id, 17);
	snprintf(key, sizeof(key), "bench-%zu", n);
	put(txn, dbi[5], key, strlen(key), id, 17);
	snprintf(key, sizeof(key), "%s%c%s", num, '\0', id);
	put(txn, dbi[6], key, 38, id, 17);
	snprintf(key, sizeof(key), "2026-11-21 10:00:00%c%s", '\0', id);
	put(txn, dbi[7], key, 37, id, 17);
}

int
main(int argc, char *argv[])
{
	static const char *const names[] = {
		"rec", "counters", "ix.contactId", "ix.contactsIds",
		"ix.createdById", "ix.ccallId", "ox.number", "ox.createdAt"
	};
	MDB_env		*env;
	MDB_txn		*txn;
	MDB_stat	 ms;
	double		*lat, t0, t1, end, seconds, sum = 0;
	size_t		 n = 0, i, prefill = 0, p, batch = 1, b;
	int		 rc;

	if (argc < 3 || argc > 5)
		errx(2, "usage: lmdb_put DIR SECONDS [PREFILL [BATCH]]");
	seconds = atof(argv[2]);
	if (argc >= 4)
		prefill = strtoul(argv[3], NULL, 10);
	if (argc == 5 && (batch = strtoul(argv[4], NULL, 10)) < 1)
		errx(2, "BATCH: at least 1");
	if (mkdir(argv[1], 0700) == -1 && errno != EEXIST)
		err(1, "%s", argv[1]);
	if ((lat = calloc(MAXLAT, sizeof(*lat))) == NULL)
		err(1, NULL);
	if ((rc = mdb_env_create(&env)) != 0 ||
	    (rc = mdb_env_set_maxdbs(env, 64)) != 0 ||
	    (rc = mdb_env_set_mapsize(env, 1UL << 34)) != 0 ||
	    (rc = mdb_env_open(env, argv[1], MDB_NOTLS | MDB_NORDAHEAD,
	    0600)) != 0)
		errx(1, "mdb_env: %s", mdb_strerror(rc));
	if ((rc = mdb_txn_begin(env, NULL, 0, &txn)) != 0)
		errx(1, "mdb_txn_begin: %s", mdb_strerror(rc));
	for (i = 0; i < 8; i++)
		if ((rc = mdb_dbi_open(txn, names[i], MDB_CREATE |
		    (strncmp(names[i], "ix.", 3) == 0 ? MDB_DUPSORT : 0),
		    &dbi[i])) != 0)
			errx(1, "mdb_dbi_open: %s", mdb_strerror(rc));
	if ((rc = mdb_txn_commit(txn)) != 0)
		errx(1, "mdb_txn_commit: %s", mdb_strerror(rc));

	memset(rec, 'x', sizeof(rec));
	/* A directory loaded by an earlier run is loaded only up to PREFILL. */
	if ((rc = mdb_txn_begin(env, NULL, MDB_RDONLY, &txn)) != 0 ||
	    (rc = mdb_stat(txn, dbi[0], &ms)) != 0)
		errx(1, "mdb_stat: %s", mdb_strerror(rc));
	mdb_txn_abort(txn);
	for (p = ms.ms_entries; p < prefill; ) {
		if ((rc = mdb_txn_begin(env, NULL, 0, &txn)) != 0)
			errx(1, "mdb_txn_begin: %s", mdb_strerror(rc));
		for (i = 0; i < 20000 && p < prefill; i++, p++)
			one_case(txn, p, 1.7e9 + p);
		if ((rc = mdb_txn_commit(txn)) != 0)
			errx(1, "mdb_txn_commit: %s", mdb_strerror(rc));
	}
	end = now() + seconds;
	while ((t0 = now()) < end && n < MAXLAT) {
		if ((rc = mdb_txn_begin(env, NULL, 0, &txn)) != 0)
			errx(1, "mdb_txn_begin: %s", mdb_strerror(rc));
		for (b = 0; b < batch; b++)
			one_case(txn, p + n * batch + b, t0);
		if ((rc = mdb_txn_commit(txn)) != 0)
			errx(1, "mdb_txn_commit: %s", mdb_strerror(rc));
		t1 = now();
		lat[n++] = t1 - t0;
		sum += t1 - t0;
	}
	qsort(lat, n, sizeof(*lat), cmp_double);
	printf("{\"commits\":%zu,\"records\":%zu,\"seconds\":%.3f,"
	    "\"per_s\":%.1f,\"mean_us\":%.0f,\"p50_us\":%.0f,"
	    "\"p99_us\":%.0f}\n", n, n * batch, seconds, n / seconds,
	    n ? sum / n * 1e6 : 0,
	    n ? lat[n / 2] * 1e6 : 0, n ? lat[n * 99 / 100] * 1e6 : 0);
	mdb_env_close(env);
	free(lat);
	return 0;
}
