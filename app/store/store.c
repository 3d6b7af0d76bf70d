/*
 * LMDB behind the store_ interface.  LMDB codes are translated here, once:
 * MDB_NOTFOUND is FCRM_NOT_FOUND, MDB_MAP_FULL is FCRM_MAP_FULL, anything
 * else is FCRM_STORE.
 *
 * The environment records its format in the database "store", key
 * "format" (decimal text); an environment without it is format 1.  A
 * binary refuses an environment of a format newer than STORE_FORMAT.
 *
 * Two things a worker asks for (store_idle, store_batch): the read
 * transaction of a request is kept, not reset, when its user ends it, so
 * that the next reader of the same request (the failed-login limiter,
 * then the handler) takes it over without renewing it; and writes may be
 * batched: with batching on, a write txn is a child of one batch txn that
 * the worker commits (durably, one commit for all) with
 * store_batch_commit before it answers any request that wrote in it.
 *
 * The batch gate: a page shared by the processes forked from the one
 * that first opened a store (the master, so: by its workers) says which
 * process holds an open batch.  The others wait (store_batch_wait) before
 * they take a new connection, instead of taking one whose write would
 * wait on LMDB's writer lock for that batch and maybe for the next ones
 * (the lock is not first come, first served): the holder serves what is
 * queued, in order.  Without the page (a process that opened no store
 * before forking) nothing waits.
 */
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/syscall.h>
#include <linux/futex.h>

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <lmdb.h>

#include "fastcrm/error.h"
#include "fastcrm/log.h"
#include "fastcrm/store.h"

#define STORE_MAXDBS	512
#define STORE_FORMAT	1
#define STORE_MARKS	64	/* change-mark slots (a database: db % 64) */

struct store {
	MDB_env		*env;
	int		 ntxn;		/* open in this process */
	size_t		 ndbs;
	char		*names[STORE_MAXDBS];
	MDB_dbi		 dbis[STORE_MAXDBS];
	/* store_db's table: name hash -> index + 1 (0 empty), open addressing. */
	unsigned short	 byname[STORE_MAXDBS * 2];
	/* A reset read-only txn: the next read renews it, keeping its
	   reader slot, instead of beginning (and locking) anew.  live: it
	   was not reset (a snapshot of this request; store_idle resets). */
	struct store_txn *spare;
	int		 live;
	/* A cursor per database kept for read txns: renewed (no malloc)
	   rather than opened each time; busy while a store_ call uses it. */
	MDB_cursor	*rcur[STORE_MAXDBS];
	unsigned char	 rbusy[STORE_MAXDBS];
	/* Mark slots written by txns not committed yet (bit: db % 64). */
	unsigned long long pending;
	unsigned long	 serial;	/* of the stores this process opened */
	/* Write batching: on, the open batch txn, children begun so far. */
	int		 batching;
	MDB_txn		*batch;
	struct timespec	 batch_t0;	/* when it began (CLOCK_MONOTONIC) */
	unsigned long	 joined;
	int		 pid;		/* this process, for the gate */
};

/* The batch gate's page (MAP_SHARED, inherited across fork). */
struct gate {
	_Atomic int		 holder;	/* pid holding a batch, or 0 */
	_Atomic unsigned int	 seq;		/* futex word: bumped on release */
	_Atomic int		 waiting;	/* processes in store_batch_wait */
	_Atomic unsigned long	 commits;	/* batches committed */
	/* Change marks: the newest txn id that wrote into a slot's
	   databases (store_changed_since). */
	_Atomic size_t		 marks[STORE_MARKS];
};
static struct gate	*gate;
static unsigned long	 opened;	/* stores opened by this process */

struct store_txn {
	MDB_txn		*txn;
	struct store	*st;
	int		 rdonly;
	int		 child;		/* of the batch txn */
};

static int
store_err(int rc)
{
	switch (rc) {
	case 0:
		return FCRM_OK;
	case MDB_NOTFOUND:
		return FCRM_NOT_FOUND;
	case MDB_MAP_FULL:
	case MDB_TXN_FULL:
		return FCRM_MAP_FULL;
	default:
		log_error("lmdb: %s", mdb_strerror(rc));
		return FCRM_STORE;
	}
}

/* Records the format in a new environment; refuses a newer one. */
static int
check_format(MDB_txn *txn, const char *dir)
{
	MDB_dbi	 dbi;
	MDB_val	 k, v;
	char	 b[16];
	long	 f;
	int	 rc;

	if ((rc = mdb_dbi_open(txn, "store", MDB_CREATE, &dbi)) != 0)
		return rc;
	k.mv_data = (void *)"format";
	k.mv_size = 6;
	if ((rc = mdb_get(txn, dbi, &k, &v)) == MDB_NOTFOUND) {
		snprintf(b, sizeof(b), "%d", STORE_FORMAT);
		v.mv_data = b;
		v.mv_size = strlen(b);
		return mdb_put(txn, dbi, &k, &v, 0);
	}
	if (rc != 0)
		return rc;
	f = 0;
	if (v.mv_size > 0 && v.mv_size < sizeof(b)) {
		memcpy(b, v.mv_data, v.mv_size);
		b[v.mv_size] = '\0';
		f = strtol(b, NULL, 10);
	}
	if (f < 1 || f > STORE_FORMAT) {
		log_error("the store in %s has format %ld, written by a newer "
		    "fastcrm; this one reads format %d and older: run the "
		    "newer fastcrm, or restore a backup made by this one", dir,
		    f, STORE_FORMAT);
		return EPROTO;
	}
	return 0;
}

/* FNV-1a: a slot of byname for name. */
static size_t
name_slot(const char *name)
{
	unsigned int	 h = 2166136261u;

	for (; *name != '\0'; name++)
		h = (h ^ (unsigned char)*name) * 16777619u;
	return h % (STORE_MAXDBS * 2);
}

static void
name_add(struct store *st, size_t i)
{
	size_t	 k;

	for (k = name_slot(st->names[i]); st->byname[k] != 0;
	    k = (k + 1) % (STORE_MAXDBS * 2))
		;
	st->byname[k] = (unsigned short)(i + 1);
}

int
store_db(const struct store *st, const char *name)
{
	size_t	 k, i;

	for (k = name_slot(name); (i = st->byname[k]) != 0;
	    k = (k + 1) % (STORE_MAXDBS * 2))
		if (strcmp(st->names[i - 1], name) == 0)
			return (int)i - 1;
	return -1;
}

/* The gate's page, once per process tree: made before the workers fork. */
static void
gate_init(void)
{
	void	*p;

	if (gate != NULL)
		return;
	p = mmap(NULL, sizeof(*gate), PROT_READ | PROT_WRITE,
	    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (p != MAP_FAILED)
		gate = p;
}

int
store_batch_leading(const struct store *st)
{
	return gate != NULL && atomic_load(&gate->holder) == st->pid;
}

void
store_batch_release(struct store *st)
{
	if (!store_batch_leading(st))
		return;
	atomic_store(&gate->holder, 0);
	atomic_fetch_add(&gate->seq, 1);
	if (atomic_load(&gate->waiting) > 0)
		syscall(SYS_futex, &gate->seq, FUTEX_WAKE, INT_MAX, NULL,
		    NULL, 0);
}

void
store_batch_wait(const struct store *st, int ms)
{
	struct timespec	 ts;
	unsigned long	 done;
	unsigned int	 seq;
	int		 pid, waited;

	if (gate == NULL)
		return;
	ts.tv_sec = 0;
	ts.tv_nsec = STORE_GATE_TICK_MS * 1000000L;
	for (waited = 0; waited < ms; waited += STORE_GATE_TICK_MS) {
		seq = atomic_load(&gate->seq);
		pid = atomic_load(&gate->holder);
		if (pid == 0 || pid == st->pid)
			return;
		/* A holder that died (killed in a batch) holds nothing. */
		if (kill(pid, 0) == -1 && errno == ESRCH) {
			atomic_compare_exchange_strong(&gate->holder, &pid, 0);
			return;
		}
		done = atomic_load(&gate->commits);
		atomic_fetch_add(&gate->waiting, 1);
		syscall(SYS_futex, &gate->seq, FUTEX_WAIT, seq, &ts, NULL, 0);
		atomic_fetch_sub(&gate->waiting, 1);
		/* A holder that commits nothing in a tick (a slow disk, or
		   only reads queued): no reason to keep waiting. */
		if (atomic_load(&gate->seq) == seq &&
		    atomic_load(&gate->commits) == done)
			return;
	}
}

int
store_open(const char *dir, size_t map_size, const char *const *dbs,
    struct store **out)
{
	struct store	*st;
	MDB_txn		*txn = NULL;
	unsigned int	 flags;
	int		 rc;
	size_t		 i, n;

	*out = NULL;
	if (mkdir(dir, 0700) == -1 && errno != EEXIST)
		return FCRM_IO;
	gate_init();
	if ((st = calloc(1, sizeof(*st))) == NULL)
		return FCRM_STORE;
	st->pid = (int)getpid();
	st->serial = ++opened;
	if ((rc = mdb_env_create(&st->env)) != 0)
		goto out;
	/*
	 * Room for the databases named and check_format's "store", no more:
	 * every write txn nested in a batch allocates and clears a slot per
	 * possible database.
	 */
	for (n = 0; dbs[n] != NULL && n < STORE_MAXDBS; n++)
		;
	if ((rc = mdb_env_set_maxdbs(st->env, (MDB_dbi)n + 1)) != 0)
		goto out;
	if ((rc = mdb_env_set_mapsize(st->env, map_size)) != 0)
		goto out;
	if ((rc = mdb_env_set_maxreaders(st->env, 1024)) != 0)
		goto out;
	if ((rc = mdb_env_open(st->env, dir, MDB_NOTLS | MDB_NORDAHEAD,
	    0600)) != 0)
		goto out;
	if ((rc = mdb_txn_begin(st->env, NULL, 0, &txn)) != 0)
		goto out;
	if ((rc = check_format(txn, dir)) != 0)
		goto out;
	for (i = 0; dbs[i] != NULL && i < STORE_MAXDBS; i++) {
		flags = MDB_CREATE;
		if (strncmp(dbs[i], "ix.", 3) == 0)
			flags |= MDB_DUPSORT;
		if ((rc = mdb_dbi_open(txn, dbs[i], flags, &st->dbis[i])) != 0)
			goto out;
		if ((st->names[i] = strdup(dbs[i])) == NULL) {
			rc = ENOMEM;
			goto out;
		}
		st->ndbs = i + 1;
		if (store_db(st, dbs[i]) < 0)
			name_add(st, i);
	}
	rc = mdb_txn_commit(txn);
	txn = NULL;
	if (rc != 0)
		goto out;
	*out = st;
	return FCRM_OK;
out:
	if (txn != NULL)
		mdb_txn_abort(txn);
	store_close(st);
	/* A newer format was reported by check_format already. */
	return rc == EPROTO ? FCRM_STORE : store_err(rc);
}

void
store_close(struct store *st)
{
	size_t	 i;

	if (st == NULL)
		return;
	if (st->batch != NULL) {
		mdb_txn_abort(st->batch);
		st->batch = NULL;
	}
	store_batch_release(st);
	if (st->spare != NULL) {
		mdb_txn_abort(st->spare->txn);
		free(st->spare);
	}
	for (i = 0; i < st->ndbs; i++)
		if (st->rcur[i] != NULL)
			mdb_cursor_close(st->rcur[i]);
	if (st->env != NULL)
		mdb_env_close(st->env);
	for (i = 0; i < st->ndbs; i++)
		free(st->names[i]);
	free(st);
}

int
store_reader_check(const char *dir, int *dead)
{
	MDB_env	*env;
	int	 rc;

	*dead = 0;
	if ((rc = mdb_env_create(&env)) != 0)
		return store_err(rc);
	mdb_env_set_maxdbs(env, STORE_MAXDBS);
	mdb_env_set_maxreaders(env, 1024);
	if ((rc = mdb_env_open(env, dir, MDB_NOTLS | MDB_RDONLY, 0600)) == 0)
		rc = mdb_reader_check(env, dead);
	mdb_env_close(env);
	return store_err(rc);
}

struct stale {
	int	*pids;
	int	 max, n;
};

/* One line of mdb_reader_list: "pid thread txnid", or a header. */
static int
stale_line(const char *msg, void *arg)
{
	struct stale	*s = arg;
	int		 pid;

	if (sscanf(msg, "%d", &pid) != 1 || pid <= 0)
		return 0;
	if (kill(pid, 0) == 0 || errno != ESRCH)
		return 0;
	if (s->n < s->max)
		s->pids[s->n] = pid;
	s->n++;
	return 0;
}

int
store_reader_stale(struct store *st, int *pids, int max, int *n)
{
	struct stale	 s;

	s.pids = pids;
	s.max = max;
	s.n = 0;
	*n = 0;
	if (mdb_reader_list(st->env, stale_line, &s) < 0)
		return FCRM_STORE;
	*n = s.n;
	return FCRM_OK;
}

/* One line of mdb_reader_list: counts the slots and the dead ones. */
static int
count_line(const char *msg, void *arg)
{
	struct store_info	*si = arg;
	int			 pid;

	if (sscanf(msg, "%d", &pid) != 1 || pid <= 0)
		return 0;
	si->readers++;
	if (kill(pid, 0) != 0 && errno == ESRCH)
		si->stale++;
	return 0;
}

int
store_info(struct store *st, struct store_info *si, int readers)
{
	MDB_envinfo	 ei;
	MDB_stat	 ms;

	memset(si, 0, sizeof(*si));
	if (mdb_env_info(st->env, &ei) != 0 || mdb_env_stat(st->env, &ms) != 0)
		return FCRM_STORE;
	si->map_size = ei.me_mapsize;
	si->used = (ei.me_last_pgno + 1) * (size_t)ms.ms_psize;
	if (readers && mdb_reader_list(st->env, count_line, si) < 0)
		return FCRM_STORE;
	return FCRM_OK;
}


#ifndef MADV_POPULATE_READ
#define MADV_POPULATE_READ	22	/* Linux 5.14 */
#endif

/*
 * Where this process maps the store's data file (LMDB tells only with
 * MDB_FIXEDMAP): its line in /proc/self/maps, found by the file's inode.
 */
static char *
map_base(struct store *st, size_t *len)
{
	struct stat		 sb;
	FILE			*f;
	char			 line[512];
	unsigned long		 lo, hi, off, ino;
	unsigned int		 maj, min;
	char			*base = NULL;
	int			 fd;

	if (mdb_env_get_fd(st->env, &fd) != 0 || fstat(fd, &sb) != 0 ||
	    (f = fopen("/proc/self/maps", "re")) == NULL)
		return NULL;
	while (base == NULL && fgets(line, sizeof(line), f) != NULL)
		if (sscanf(line, "%lx-%lx %*s %lx %x:%x %lu", &lo, &hi, &off,
		    &maj, &min, &ino) == 6 && off == 0 &&
		    ino == (unsigned long)sb.st_ino &&
		    major(sb.st_dev) == maj && minor(sb.st_dev) == min) {
			base = (char *)lo;
			*len = hi - lo;
		}
	fclose(f);
	return base;
}

size_t
store_prefault(struct store *st, size_t limit)
{
	struct store_info si;
	unsigned char	*in;
	char		*base;
	size_t		 used, len = 0, pg, npg, i, j, mapped = 0;

	/*
	 * A process maps a page of the store on its first read of it: a
	 * page fault per page and per worker (fork does not copy a shared
	 * file mapping's page tables, and each worker opens its own).  On a
	 * large store that is a fault in most reads for a long time after a
	 * start.  Only pages already in the page cache are mapped ahead
	 * (mincore tells which): one not there would be read from disk
	 * before the worker takes its first connection, and after a cold
	 * boot that could be the whole file.  The page tables cost 8 bytes
	 * a page: up to limit bytes of store.
	 */
	if (store_info(st, &si, 0) != 0)
		return 0;
	used = si.used;
	if (used > limit || (base = map_base(st, &len)) == NULL || used > len)
		return 0;
	pg = (size_t)sysconf(_SC_PAGESIZE);
	npg = (used + pg - 1) / pg;
	if ((in = malloc(npg)) == NULL)
		return 0;
	if (mincore(base, npg * pg, in) != 0) {
		free(in);
		return 0;
	}
	/* Each run of resident pages in one call. */
	for (i = 0; i < npg; i = j) {
		for (; i < npg && !(in[i] & 1); i++)
			;
		for (j = i; j < npg && (in[j] & 1); j++)
			;
		if (j > i && madvise(base + i * pg, (j - i) * pg,
		    MADV_POPULATE_READ) != 0)
			break;	/* an older kernel: pages map on first read */
		mapped += (j - i) * pg;
	}
	free(in);
	return mapped;
}

/* A kept read txn is reset: the next reader renews it (a newer snapshot). */
static void
spare_reset(struct store *st)
{
	if (st->spare != NULL && st->live)
		mdb_txn_reset(st->spare->txn);
	st->live = 0;
}

void
store_idle(struct store *st)
{
	spare_reset(st);
}

static int
txn_begin(struct store *st, MDB_txn *parent, unsigned int flags,
    MDB_txn **txn)
{
	int	 rc;

	rc = mdb_txn_begin(st->env, parent, flags, txn);
	/*
	 * Another process with a larger map_size (a newer generation of
	 * workers after a reload) grew the file past our map: adopt its
	 * size.  LMDB allows that only while this process has no txn open.
	 */
	if (rc == MDB_MAP_RESIZED && st->ntxn == 0 &&
	    (rc = mdb_env_set_mapsize(st->env, 0)) == 0)
		rc = mdb_txn_begin(st->env, parent, flags, txn);
	return rc;
}

int
store_begin(struct store *st, int write, struct store_txn **out)
{
	struct store_txn	*t;
	int			 rc;

	*out = NULL;
	if (!write && (t = st->spare) != NULL) {
		st->spare = NULL;
		if (st->live || mdb_txn_renew(t->txn) == 0) {
			st->live = 0;
			st->ntxn++;
			*out = t;
			return FCRM_OK;
		}
		/* MDB_MAP_RESIZED, say: begin afresh below. */
		mdb_txn_abort(t->txn);
		free(t);
	}
	/* Reads after this write see it (or, batched, the last commit). */
	if (write)
		spare_reset(st);
	if ((t = malloc(sizeof(*t))) == NULL)
		return FCRM_STORE;
	t->st = st;
	t->rdonly = !write;
	t->child = 0;
	if (write && st->batching) {
		/* Counted first: whatever happens, the request waits for the
		   batch it may have opened. */
		st->joined++;
		if (st->batch == NULL) {
			if ((rc = txn_begin(st, NULL, 0, &st->batch)) != 0) {
				st->batch = NULL;
				free(t);
				return store_err(rc);
			}
			st->ntxn++;
			clock_gettime(CLOCK_MONOTONIC, &st->batch_t0);
			if (gate != NULL)
				atomic_store(&gate->holder, st->pid);
		}
		t->child = 1;
		if ((rc = mdb_txn_begin(st->env, st->batch, 0,
		    &t->txn)) != 0) {
			free(t);
			return store_err(rc);
		}
	} else if ((rc = txn_begin(st, NULL, write ? 0 : MDB_RDONLY,
	    &t->txn)) != 0) {
		free(t);
		return store_err(rc);
	}
	st->ntxn++;
	*out = t;
	return FCRM_OK;
}

/* Marks the slots written by txn id (just committed) in the gate. */
static void
publish(struct store *st, size_t id)
{
	size_t	 cur;
	int	 i;

	for (i = 0; gate != NULL && i < STORE_MARKS; i++) {
		if ((st->pending & (1ULL << i)) == 0)
			continue;
		cur = atomic_load(&gate->marks[i]);
		while (cur < id &&
		    !atomic_compare_exchange_weak(&gate->marks[i], &cur, id))
			;
	}
	st->pending = 0;
}

void
store_snapshot(const struct store_txn *t, struct store_snap *snap)
{
	snap->store = t->st->serial;
	snap->txn = mdb_txn_id(t->txn);
}

int
store_changed_since(const struct store *st, int db,
    const struct store_snap *snap)
{
	if (gate == NULL || db < 0 || snap->store != st->serial)
		return 1;
	return atomic_load(&gate->marks[db % STORE_MARKS]) > snap->txn;
}

void
store_batch(struct store *st, int on)
{
	st->batching = on;
}

unsigned long
store_batch_joined(const struct store *st)
{
	return st->joined;
}

int
store_batch_open(const struct store *st)
{
	return st->batch != NULL;
}

long long
store_batch_age_us(const struct store *st)
{
	struct timespec	 now;

	if (st->batch == NULL)
		return 0;
	clock_gettime(CLOCK_MONOTONIC, &now);
	return (now.tv_sec - st->batch_t0.tv_sec) * 1000000LL +
	    (now.tv_nsec - st->batch_t0.tv_nsec) / 1000;
}

int
store_batch_commit(struct store *st)
{
	size_t	 id;
	int	 rc;

	if (st->batch == NULL)
		return FCRM_OK;
	id = mdb_txn_id(st->batch);
	rc = mdb_txn_commit(st->batch);
	st->batch = NULL;
	st->ntxn--;
	if (rc == 0)
		publish(st, id);
	if (gate != NULL)
		atomic_fetch_add(&gate->commits, 1);
	return store_err(rc);
}

int
store_commit(struct store_txn *t)
{
	size_t	 id;
	int	 rc;

	if (t->rdonly) {
		store_abort(t);
		return FCRM_OK;
	}
	id = mdb_txn_id(t->txn);
	rc = mdb_txn_commit(t->txn);
	t->st->ntxn--;
	/* A batch's child reaches other processes with the batch. */
	if (rc == 0 && !t->child)
		publish(t->st, id);
	free(t);
	return store_err(rc);
}

void
store_abort(struct store_txn *t)
{
	if (t == NULL)
		return;
	t->st->ntxn--;
	if (t->rdonly && t->st->spare == NULL) {
		/* Kept as it is for the next reader (store_idle resets). */
		t->st->spare = t;
		t->st->live = 1;
		return;
	}
	mdb_txn_abort(t->txn);
	free(t);
}

void
store_abort_cleanup(void *arg)
{
	struct store_txn	**tp = arg;

	store_abort(*tp);
	*tp = NULL;
}

int
store_get(struct store_txn *t, int db, const char *key, size_t klen,
    struct store_val *out)
{
	MDB_val	 k, v;
	int	 rc;

	k.mv_data = (void *)key;
	k.mv_size = klen;
	if ((rc = mdb_get(t->txn, t->st->dbis[db], &k, &v)) != 0)
		return store_err(rc);
	out->p = v.mv_data;
	out->len = v.mv_size;
	return FCRM_OK;
}

int
store_put(struct store_txn *t, int db, const char *key, size_t klen,
    const void *val, size_t vlen)
{
	MDB_val	 k, v;
	int	 rc;

	if (klen == 0 || klen > 511)
		return FCRM_BAD_REQUEST;
	k.mv_data = (void *)key;
	k.mv_size = klen;
	v.mv_data = (void *)val;
	v.mv_size = vlen;
	rc = mdb_put(t->txn, t->st->dbis[db], &k, &v, 0);
	t->st->pending |= 1ULL << (db % STORE_MARKS);
	if (rc == MDB_KEYEXIST)
		return FCRM_OK;
	return store_err(rc);
}

int
store_del(struct store_txn *t, int db, const char *key, size_t klen,
    const void *val, size_t vlen)
{
	MDB_val	 k, v;
	int	 rc;

	if (klen == 0 || klen > 511)
		return FCRM_OK;
	k.mv_data = (void *)key;
	k.mv_size = klen;
	v.mv_data = (void *)val;
	v.mv_size = vlen;
	rc = mdb_del(t->txn, t->st->dbis[db], &k, val != NULL ? &v : NULL);
	t->st->pending |= 1ULL << (db % STORE_MARKS);
	if (rc == MDB_NOTFOUND)
		return FCRM_OK;
	return store_err(rc);
}

/* The cursor of one store_ call (cur_open, closed by cur_close). */
struct cur {
	MDB_cursor	*c;
	struct store	*st;
	int		 db;
};

#define CUR	struct cur cu __attribute__((cleanup(cur_close))) = { 0 }

static void
cur_close(struct cur *k)
{
	if (k->c == NULL)
		return;
	if (k->st->rcur[k->db] == k->c)
		k->st->rbusy[k->db] = 0;
	else
		mdb_cursor_close(k->c);
}

/*
 * A cursor on db in t: in a read txn, db's kept cursor when no other call
 * holds it (renewed, or opened and kept the first time); otherwise one of
 * its own.  An LMDB code.
 */
static int
cur_open(struct store_txn *t, int db, struct cur *k)
{
	struct store	*st = t->st;
	int		 rc;

	k->st = st;
	k->db = db;
	if (!t->rdonly || st->rbusy[db])
		return mdb_cursor_open(t->txn, st->dbis[db], &k->c);
	if (st->rcur[db] != NULL &&
	    mdb_cursor_renew(t->txn, st->rcur[db]) != 0) {
		mdb_cursor_close(st->rcur[db]);
		st->rcur[db] = NULL;
	}
	if (st->rcur[db] == NULL && (rc = mdb_cursor_open(t->txn,
	    st->dbis[db], &st->rcur[db])) != 0) {
		st->rcur[db] = NULL;
		return rc;
	}
	st->rbusy[db] = 1;
	k->c = st->rcur[db];
	return 0;
}

int
store_has(struct store_txn *t, int db, const char *key, size_t klen,
    const void *val, size_t vlen)
{
	CUR;
	MDB_val		 k, v;
	int		 rc;

	if (klen == 0 || klen > 511)
		return FCRM_NOT_FOUND;
	if ((rc = cur_open(t, db, &cu)) != 0)
		return store_err(rc);
	k.mv_data = (void *)key;
	k.mv_size = klen;
	v.mv_data = (void *)val;
	v.mv_size = vlen;
	return store_err(mdb_cursor_get(cu.c, &k, &v, MDB_GET_BOTH));
}

int
store_count(struct store_txn *t, int db, size_t *n)
{
	MDB_stat	 ms;
	int		 rc;

	if ((rc = mdb_stat(t->txn, t->st->dbis[db], &ms)) != 0)
		return store_err(rc);
	*n = ms.ms_entries;
	return FCRM_OK;
}

int
store_counter_next(struct store_txn *t, int db, const char *name,
    long long *out)
{
	struct store_val	 v = { NULL, 0 };
	long long		 n = 0;
	int			 rc;

	rc = store_get(t, db, name, strlen(name), &v);
	if (rc == FCRM_OK && v.len == sizeof(n))
		memcpy(&n, v.p, sizeof(n));
	else if (rc != FCRM_OK && rc != FCRM_NOT_FOUND)
		return rc;
	n++;
	if ((rc = store_put(t, db, name, strlen(name), &n, sizeof(n))) != 0)
		return rc;
	*out = n;
	return FCRM_OK;
}


/*
 * Calls fn for the cursor's entry (rc is how positioning it went) and the
 * ones after it in direction step, while their keys start with prefix;
 * fn returns 0 to go on, < 0 to stop, > 0 to fail with that code.
 */
static int
walk(MDB_cursor *c, MDB_val *k, MDB_val *v, int rc, MDB_cursor_op step,
    const char *prefix, size_t plen, store_iter_fn fn, void *arg)
{
	struct store_val	 sk, sv;
	int			 r;

	for (; rc == 0; rc = mdb_cursor_get(c, k, v, step)) {
		if (plen > 0 && (k->mv_size < plen ||
		    memcmp(k->mv_data, prefix, plen) != 0))
			break;
		sk.p = k->mv_data;
		sk.len = k->mv_size;
		sv.p = v->mv_data;
		sv.len = v->mv_size;
		if ((r = fn(arg, sk, sv)) != 0)
			return r < 0 ? FCRM_OK : r;
	}
	if (rc != 0 && rc != MDB_NOTFOUND)
		return store_err(rc);
	return FCRM_OK;
}

int
store_iter(struct store_txn *t, int db, int dir, const char *prefix,
    size_t plen, store_iter_fn fn, void *arg)
{
	CUR;
	MDB_cursor		*c;
	MDB_val			 k, v;
	MDB_cursor_op		 op, step;
	char			 end[512];
	int			 rc;

	if ((rc = cur_open(t, db, &cu)) != 0)
		return store_err(rc);
	c = cu.c;
	step = dir > 0 ? MDB_NEXT : MDB_PREV;
	if (plen == 0) {
		op = dir > 0 ? MDB_FIRST : MDB_LAST;
		rc = mdb_cursor_get(c, &k, &v, op);
	} else if (dir > 0) {
		k.mv_data = (void *)prefix;
		k.mv_size = plen;
		rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE);
	} else {
		/* Position after the last key with the prefix, then step back. */
		if (plen >= sizeof(end))
			return FCRM_BAD_REQUEST;
		memcpy(end, prefix, plen);
		end[plen] = (char)0xff;
		k.mv_data = end;
		k.mv_size = plen + 1;
		rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE);
		if (rc == 0)
			rc = mdb_cursor_get(c, &k, &v, MDB_PREV);
		else if (rc == MDB_NOTFOUND)
			rc = mdb_cursor_get(c, &k, &v, MDB_LAST);
	}
	return walk(c, &k, &v, rc, step, prefix, plen, fn, arg);
}

int
store_iter_from(struct store_txn *t, int db, const char *from, size_t flen,
    store_iter_fn fn, void *arg)
{
	CUR;
	MDB_cursor		*c;
	MDB_val			 k, v;
	int			 rc;

	if ((rc = cur_open(t, db, &cu)) != 0)
		return store_err(rc);
	c = cu.c;
	if (flen == 0)
		rc = mdb_cursor_get(c, &k, &v, MDB_FIRST);
	else {
		k.mv_data = (void *)from;
		k.mv_size = flen;
		rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE);
	}
	return walk(c, &k, &v, rc, MDB_NEXT, NULL, 0, fn, arg);
}

int
store_iter_dups(struct store_txn *t, int db, const char *key, size_t klen,
    store_iter_fn fn, void *arg)
{
	CUR;
	MDB_cursor		*c;
	MDB_val			 k, v;
	int			 rc;

	if (klen == 0 || klen > 511)
		return FCRM_OK;
	if ((rc = cur_open(t, db, &cu)) != 0)
		return store_err(rc);
	c = cu.c;
	k.mv_data = (void *)key;
	k.mv_size = klen;
	rc = mdb_cursor_get(c, &k, &v, MDB_SET_KEY);
	return walk(c, &k, &v, rc, MDB_NEXT_DUP, NULL, 0, fn, arg);
}

/* Pages on LMDB's free list (pages of older snapshots): a read txn. */
static int
free_pages(MDB_txn *txn, size_t *n)
{
	MDB_cursor	*c;
	MDB_val		 k, v;
	int		 rc;

	*n = 0;
	if ((rc = mdb_cursor_open(txn, 0, &c)) != 0)	/* FREE_DBI */
		return store_err(rc);
	for (rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); rc == 0;
	    rc = mdb_cursor_get(c, &k, &v, MDB_NEXT))
		if (v.mv_size >= sizeof(size_t))
			*n += *(const size_t *)v.mv_data;	/* IDL count */
	mdb_cursor_close(c);
	return rc == MDB_NOTFOUND ? FCRM_OK : store_err(rc);
}

#define WIPE_CHUNK	16384	/* entries (half pages) per wipe txn */
#define TOUCH_CHUNK	20000	/* entries rewritten per txn */

/* Puts (or deletes) the scratch entries 0..n of db, a chunk per txn. */
static int
scratch(struct store *st, int db, size_t n, const char *zero, size_t vlen,
    int put)
{
	struct store_txn	*t;
	char			 key[32];
	size_t			 i, klen;
	int			 rc = 0;

	for (i = 0; i < n && rc == 0; ) {
		if ((rc = store_begin(st, 1, &t)) != 0)
			return rc;
		do {
			klen = (size_t)snprintf(key, sizeof(key),
			    "~wipe:%012zu", i);
			rc = put ? store_put(t, db, key, klen, zero, vlen) :
			    store_del(t, db, key, klen, NULL, 0);
			if (rc == FCRM_NOT_FOUND)
				rc = 0;
		} while (rc == 0 && ++i < n && i % WIPE_CHUNK != 0);
		if (rc != 0) {
			store_abort(t);
			return rc;
		}
		rc = store_commit(t);
	}
	return rc;
}

/*
 * Overwrites the free pages: LMDB frees the pages of a record's old
 * versions but leaves their bytes in the file until they are reused.
 * Fills them with zeroed entries under scratch keys of db, a chunk per
 * txn (a chunk reuses what the one before the last freed: at least two
 * chunks), then deletes those.  The pages this frees hold zeros and
 * scratch keys only.
 */
int
store_wipe_free(struct store *st, int db, size_t *wiped)
{
	struct store_txn	*t;
	MDB_stat		 ms;
	char			*zero;
	size_t			 n, vlen;
	int			 rc;

	*wiped = 0;
	mdb_env_stat(st->env, &ms);
	vlen = ms.ms_psize / 2 - 64;
	if ((rc = store_begin(st, 0, &t)) != 0)
		return rc;
	rc = free_pages(t->txn, &n);
	store_abort(t);
	if (rc != 0 || n == 0)
		return rc;
	if ((zero = calloc(1, vlen)) == NULL)
		return FCRM_IO;
	*wiped = n;
	n = 2 * n + 2 * WIPE_CHUNK;	/* two to a page; two chunks at least */
	if ((rc = scratch(st, db, n, zero, vlen, 1)) == 0)
		rc = scratch(st, db, n, zero, vlen, 0);
	free(zero);
	return rc;
}

/*
 * Rewrites every entry of db in place, a chunk per txn: each page is
 * copied to a fresh one (LMDB copies the used part only), so the gap of
 * no live page keeps bytes of removed entries.  Best in an environment
 * opened for it: LMDB reuses a process's page buffers without clearing.
 */
int
store_rebuild(struct store *st, int db)
{
	MDB_txn		*txn;
	MDB_cursor	*c;
	MDB_val		 k, v;
	char		*lk = NULL, *lv = NULL, *copy = NULL;
	size_t		 lkn = 0, lvn = 0, i, cap = 0;
	unsigned int	 fl;
	int		 rc, more = 1;

	if (db < 0 || (size_t)db >= st->ndbs)
		return FCRM_STORE;
	while (more) {
		if ((rc = mdb_txn_begin(st->env, NULL, 0, &txn)) != 0)
			break;
		if ((rc = mdb_dbi_flags(txn, st->dbis[db], &fl)) != 0 ||
		    (rc = mdb_cursor_open(txn, st->dbis[db], &c)) != 0) {
			mdb_txn_abort(txn);
			break;
		}
		if (lk == NULL)
			rc = mdb_cursor_get(c, &k, &v, MDB_FIRST);
		else {
			k.mv_data = lk;
			k.mv_size = lkn;
			v.mv_data = lv;
			v.mv_size = lvn;
			rc = mdb_cursor_get(c, &k, &v, (fl & MDB_DUPSORT) ?
			    MDB_GET_BOTH : MDB_SET_KEY);
			if (rc == 0)
				rc = mdb_cursor_get(c, &k, &v, MDB_NEXT);
		}
		for (i = 0; rc == 0 && i < TOUCH_CHUNK; i++) {
			/* A copy: v may point into the page being written. */
			if (v.mv_size > cap) {
				free(copy);
				cap = v.mv_size;
				if ((copy = malloc(cap)) == NULL) {
					rc = ENOMEM;
					break;
				}
			}
			memcpy(copy, v.mv_data, v.mv_size);
			v.mv_data = copy;
			if ((rc = mdb_cursor_put(c, &k, &v, MDB_CURRENT)) != 0)
				break;
			if ((rc = mdb_cursor_get(c, &k, &v, MDB_GET_CURRENT)) !=
			    0)
				break;
			if (i + 1 == TOUCH_CHUNK)
				break;
			rc = mdb_cursor_get(c, &k, &v, MDB_NEXT);
		}
		more = rc == 0;
		if (more) {		/* where the next txn goes on */
			free(lk);
			free(lv);
			lk = malloc(k.mv_size + 1);
			lv = malloc(v.mv_size + 1);
			if (lk == NULL || lv == NULL) {
				mdb_cursor_close(c);
				mdb_txn_abort(txn);
				rc = ENOMEM;
				break;
			}
			memcpy(lk, k.mv_data, lkn = k.mv_size);
			memcpy(lv, v.mv_data, lvn = v.mv_size);
		}
		mdb_cursor_close(c);
		if (rc != 0 && rc != MDB_NOTFOUND) {
			mdb_txn_abort(txn);
			break;
		}
		if ((rc = mdb_txn_commit(txn)) != 0)
			break;
	}
	free(lk);
	free(lv);
	free(copy);
	return rc == 0 || rc == MDB_NOTFOUND ? FCRM_OK : store_err(rc);
}

int
store_scour(struct store *st, int scratch_db, size_t *wiped)
{
	size_t	 i;
	int	 rc;

	for (i = 0; i < st->ndbs; i++)
		if ((rc = store_rebuild(st, (int)i)) != 0)
			return rc;
	return store_wipe_free(st, scratch_db, wiped);
}
