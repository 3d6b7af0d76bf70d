/*
 * The write baseline of tests/bench: what a Case create costs LMDB alone.
 * One write transaction per record, with the same puts fastcrm makes for
 * a Case (a counter, the ~600-byte record, four duplicate-sorted index
 * entries and two ordered-index keys), then a durable commit; the same
 * environment flags as app/store/store.c.  Runs for SECONDS and prints one
 * JSON line: commits, commits per second, p50 and p99 commit latency.
 *
 *	lmdb_put DIR SECONDS
 */
#include <sys/stat.h>
#include <sys/time.h>

#include <err.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lmdb.h>

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

int
main(int argc, char *argv[])
{
	static const char *const names[] = {
		"rec", "counters", "ix.contactId", "ix.contactsIds",
		"ix.createdById", "ix.ccallId", "ox.number", "ox.createdAt"
	};
	MDB_env		*env;
	MDB_txn		*txn;
	MDB_dbi		 dbi[8];
	char		 id[32], rec[640], key[128], num[32];
	double		*lat, t0, t1, end, seconds;
	size_t		 n = 0, i;
	int		 rc;

	if (argc != 3)
		errx(2, "usage: lmdb_put DIR SECONDS");
	seconds = atof(argv[2]);
	if (mkdir(argv[1], 0700) == -1 && errno != EEXIST)
		err(1, "%s", argv[1]);
	if ((lat = calloc(MAXLAT, sizeof(*lat))) == NULL)
		err(1, NULL);
	if ((rc = mdb_env_create(&env)) != 0 ||
	    (rc = mdb_env_set_maxdbs(env, 64)) != 0 ||
	    (rc = mdb_env_set_mapsize(env, 1UL << 32)) != 0 ||
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
	end = now() + seconds;
	while ((t0 = now()) < end && n < MAXLAT) {
		snprintf(id, sizeof(id), "%08lx%09zx", (long)t0, n);
		snprintf(num, sizeof(num), "%020zu", n);
		memcpy(rec + 8, id, 17);
		if ((rc = mdb_txn_begin(env, NULL, 0, &txn)) != 0)
			errx(1, "mdb_txn_begin: %s", mdb_strerror(rc));
		put(txn, dbi[1], "Case", 4, num, 20);
		put(txn, dbi[0], id, 17, rec, sizeof(rec));
		snprintf(key, sizeof(key), "6a%015zx", n % 1000003);
		put(txn, dbi[2], key, 17, id, 17);
		put(txn, dbi[3], key, 17, id, 17);
		put(txn, dbi[4], "0000000000000adm", 16, id, 17);
		snprintf(key, sizeof(key), "bench-%zu", n);
		put(txn, dbi[5], key, strlen(key), id, 17);
		snprintf(key, sizeof(key), "%s%c%s", num, '\0', id);
		put(txn, dbi[6], key, 38, id, 17);
		snprintf(key, sizeof(key), "2026-11-21 10:00:00%c%s", '\0', id);
		put(txn, dbi[7], key, 37, id, 17);
		if ((rc = mdb_txn_commit(txn)) != 0)
			errx(1, "mdb_txn_commit: %s", mdb_strerror(rc));
		t1 = now();
		lat[n++] = t1 - t0;
	}
	qsort(lat, n, sizeof(*lat), cmp_double);
	printf("{\"commits\":%zu,\"seconds\":%.3f,\"per_s\":%.1f,"
	    "\"p50_us\":%.0f,\"p99_us\":%.0f}\n", n, seconds, n / seconds,
	    n ? lat[n / 2] * 1e6 : 0, n ? lat[n * 99 / 100] * 1e6 : 0);
	mdb_env_close(env);
	free(lat);
	return 0;
}
