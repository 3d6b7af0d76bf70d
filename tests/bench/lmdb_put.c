/*
 * The write baseline of tests/bench: what a Case create costs LMDB alone.
 * One write transaction per record, with the same puts fastcrm makes for
 * a Case (a counter, the ~600-byte record, four duplicate-sorted index
 * entries and two ordered-index keys), then a durable commit; the same
 * environment flags as app/store/store.c.  First it loads PREFILL records
 * the same way in large transactions (untimed), so that its B-trees are as
 * deep as those of the dataset fastcrm is measured on.  Then it runs for
 * SECONDS and prints one JSON line: commits, records, commits per second,
 * mean, p50 and p99 commit latency, and what a commit wrote (write calls
 * and pages, from /proc/self/io).  With BATCH, each transaction holds
 * BATCH such records: what one group commit of BATCH creates costs LMDB.
 *
 * With CLIENTS, the best group commit LMDB allows S4's clients: CLIENTS
 * threads each submit one create and wait for it to be durable, then
 * submit the next; one committer thread takes every create waiting (up
 * to BATCH) into one transaction and commits it durably, then wakes
 * their clients.  No HTTP and no application work: the latencies printed
 * are the clients' (submitted to durable), a floor under S4's.
 *
 *	lmdb_put DIR SECONDS [PREFILL [BATCH [CLIENTS]]]
 */
#include <sys/stat.h>
#include <sys/time.h>

#include <err.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lmdb.h>

#include "xorshift.h"

#define MAXLAT	(1 << 22)
#define MAXCLIENTS 256

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

/* /proc/self/io's write calls and bytes written. */
static void
io_counts(double *calls, double *bytes)
{
	FILE	*f;
	char	 line[128];

	*calls = *bytes = 0;
	if ((f = fopen("/proc/self/io", "r")) == NULL)
		return;
	while (fgets(line, sizeof(line), f) != NULL) {
		if (strncmp(line, "syscw: ", 7) == 0)
			*calls = atof(line + 7);
		else if (strncmp(line, "wchar: ", 7) == 0)
			*bytes = atof(line + 7);
	}
	fclose(f);
}

/* The group commit: clients queue their creates, one committer. */
static struct {
	pthread_mutex_t	 mu;
	pthread_cond_t	 more, done;
	int		 queue[MAXCLIENTS];	/* clients waiting, in order */
	size_t		 nq;
	unsigned long	 served[MAXCLIENTS];	/* creates made durable */
	int		 stop;
	double		*lat;			/* the clients' latencies */
	size_t		 nlat;
} g = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER,
    PTHREAD_COND_INITIALIZER, { 0 }, 0, { 0 }, 0, NULL, 0 };

static void *
client(void *arg)
{
	int		 i = (int)(size_t)arg;
	unsigned long	 want;
	double		 t0;

	pthread_mutex_lock(&g.mu);
	while (!g.stop) {
		t0 = now();
		want = g.served[i] + 1;
		g.queue[g.nq++] = i;
		pthread_cond_signal(&g.more);
		while (!g.stop && g.served[i] < want)
			pthread_cond_wait(&g.done, &g.mu);
		if (g.served[i] >= want && g.nlat < MAXLAT)
			g.lat[g.nlat++] = now() - t0;
	}
	pthread_mutex_unlock(&g.mu);
	return NULL;
}

/* Commits what the clients queue until end; the commits' latencies. */
static size_t
committer(MDB_env *env, size_t batch, size_t first, double end,
    double *clat, size_t *records)
{
	MDB_txn	*txn;
	int	 take[MAXCLIENTS];
	size_t	 n = 0, k, i;
	double	 t0;
	int	 rc;

	*records = 0;
	for (;;) {
		pthread_mutex_lock(&g.mu);
		while (g.nq == 0 && now() < end)
			pthread_cond_wait(&g.more, &g.mu);
		if (now() >= end || n >= MAXLAT) {
			g.stop = 1;
			pthread_cond_broadcast(&g.done);
			pthread_mutex_unlock(&g.mu);
			return n;
		}
		k = g.nq < batch ? g.nq : batch;
		memcpy(take, g.queue, k * sizeof(*take));
		memmove(g.queue, g.queue + k, (g.nq - k) * sizeof(*take));
		g.nq -= k;
		pthread_mutex_unlock(&g.mu);

		t0 = now();
		if ((rc = mdb_txn_begin(env, NULL, 0, &txn)) != 0)
			errx(1, "mdb_txn_begin: %s", mdb_strerror(rc));
		for (i = 0; i < k; i++)
			one_case(txn, first + *records + i, t0);
		if ((rc = mdb_txn_commit(txn)) != 0)
			errx(1, "mdb_txn_commit: %s", mdb_strerror(rc));
		clat[n++] = now() - t0;
		*records += k;

		pthread_mutex_lock(&g.mu);
		for (i = 0; i < k; i++)
			g.served[take[i]]++;
		pthread_cond_broadcast(&g.done);
		pthread_mutex_unlock(&g.mu);
	}
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
	pthread_t	 tid[MAXCLIENTS];
	double		*lat, t0, end, seconds, sum = 0;
	double		 calls0, bytes0, calls1, bytes1;
	size_t		 n = 0, i, prefill = 0, p, batch = 1, b, c;
	size_t		 clients = 0, records = 0;
	int		 rc;

	if (argc < 3 || argc > 6)
		errx(2, "usage: lmdb_put DIR SECONDS [PREFILL [BATCH "
		    "[CLIENTS]]]");
	seconds = atof(argv[2]);
	if (argc >= 4)
		prefill = strtoul(argv[3], NULL, 10);
	if (argc >= 5 && (batch = strtoul(argv[4], NULL, 10)) < 1)
		errx(2, "BATCH: at least 1");
	if (argc == 6 && ((clients = strtoul(argv[5], NULL, 10)) < 1 ||
	    clients > MAXCLIENTS || batch > clients))
		errx(2, "CLIENTS: 1 to %d, and at least BATCH", MAXCLIENTS);
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
	io_counts(&calls0, &bytes0);
	end = now() + seconds;
	if (clients > 0) {
		/* The clients' latencies; the commits' go to lat. */
		if ((g.lat = calloc(MAXLAT, sizeof(*g.lat))) == NULL)
			err(1, NULL);
		for (c = 0; c < clients; c++)
			if (pthread_create(&tid[c], NULL, client,
			    (void *)c) != 0)
				errx(1, "pthread_create");
		n = committer(env, batch, p, end, lat, &records);
		for (c = 0; c < clients; c++)
			pthread_join(tid[c], NULL);
	} else
		while ((t0 = now()) < end && n < MAXLAT) {
			if ((rc = mdb_txn_begin(env, NULL, 0, &txn)) != 0)
				errx(1, "mdb_txn_begin: %s", mdb_strerror(rc));
			for (b = 0; b < batch; b++)
				one_case(txn, p + n * batch + b, t0);
			if ((rc = mdb_txn_commit(txn)) != 0)
				errx(1, "mdb_txn_commit: %s", mdb_strerror(rc));
			lat[n++] = now() - t0;
			records += batch;
		}
	io_counts(&calls1, &bytes1);
	for (i = 0; i < n; i++)
		sum += lat[i];
	qsort(lat, n, sizeof(*lat), cmp_double);
	printf("{\"commits\":%zu,\"records\":%zu,\"seconds\":%.3f,"
	    "\"per_s\":%.1f,\"commit_mean_us\":%.0f,"
	    "\"commit_p50_us\":%.0f,\"commit_p99_us\":%.0f,"
	    "\"writes_per_commit\":%.1f,\"pages_per_commit\":%.1f",
	    n, records, seconds, n / seconds, n ? sum / n * 1e6 : 0,
	    n ? lat[n / 2] * 1e6 : 0, n ? lat[n * 99 / 100] * 1e6 : 0,
	    n ? (calls1 - calls0) / n : 0,
	    n ? (bytes1 - bytes0) / 4096 / n : 0);
	/* The latencies a client sees: its commit's, or its wait (CLIENTS). */
	if (clients > 0) {
		sum = 0;
		for (i = 0; i < g.nlat; i++)
			sum += g.lat[i];
		qsort(g.lat, g.nlat, sizeof(*g.lat), cmp_double);
		free(lat);
		lat = g.lat;
		n = g.nlat;
		g.lat = NULL;
	}
	printf(",\"mean_us\":%.0f,\"p50_us\":%.0f,\"p99_us\":%.0f}\n",
	    n ? sum / n * 1e6 : 0, n ? lat[n / 2] * 1e6 : 0,
	    n ? lat[n * 99 / 100] * 1e6 : 0);
	mdb_env_close(env);
	free(lat);
	return 0;
}
