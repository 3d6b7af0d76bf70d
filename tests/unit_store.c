/*
 * Unit tests of the store's transaction rules, in-process on a real LMDB
 * environment in a temporary directory: write batching (a child's commit
 * is seen only inside the batch until store_batch_commit; an aborted child
 * takes only its own changes; the batch commit reaches another process
 * with its own environment, as another worker), the read txn kept
 * within a request (the next reader takes it over; a write makes later
 * reads see it; store_idle resets it), walks of one database nested in a
 * read txn (the kept cursor, and one of its own), store_db by name,
 * json_raw_span on stored bytes, and the batch gate between workers.
 * Prints TAP.
 */
#include <sys/resource.h>
#include <sys/wait.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "fastcrm/error.h"
#include "fastcrm/json.h"
#include "fastcrm/store.h"
#include "tap.h"


static const char *const dbs[] = { "rec", "ix.a", "authfail", NULL };
static char	 dir[] = "/tmp/fastcrm-unit-store.XXXXXX";
static const char *self;	/* this program, to run it as a peer */

/* 1 if key is in db, as a fresh read txn of st sees it. */
static int
seen(struct store *st, const char *key)
{
	struct store_txn	*t;
	struct store_val	 v;
	int			 rc;

	if (store_begin(st, 0, &t) != 0)
		return -1;
	rc = store_get(t, 0, key, strlen(key), &v);
	store_abort(t);
	store_idle(st);
	return rc == 0;
}

static int put(struct store *, const char *, int);

/*
 * Another process (a worker) with its own environment: this program run
 * again as "--peer DIR KEY r|w".  1 if it sees key (w: commits key
 * first), 0 if not, -1 on failure.
 */
static int
elsewhere(const char *key, int write)
{
	pid_t	 pid;
	int	 status;

	fflush(stdout);
	if ((pid = fork()) == -1)
		return -1;
	if (pid == 0) {
		execl(self, self, "--peer", dir, key,
		    write ? "w" : "r", (char *)NULL);
		_exit(3);
	}
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) ||
	    WEXITSTATUS(status) > 1)
		return -1;
	return WEXITSTATUS(status);
}

static int
peer(const char *d, const char *key, int write)
{
	struct store	*st;
	int		 rc;

	if (store_open(d, 1 << 24, dbs, &st) != 0)
		return 3;
	rc = write ? (put(st, key, 1) == 0 && seen(st, key) == 1) :
	    seen(st, key);
	store_close(st);
	return rc == 1 ? 1 : rc == 0 ? 0 : 3;
}

static int
put(struct store *st, const char *key, int commit)
{
	struct store_txn	*t;

	if (store_begin(st, 1, &t) != 0)
		return -1;
	if (store_put(t, 0, key, strlen(key), "v", 1) != 0) {
		store_abort(t);
		return -1;
	}
	if (!commit) {
		store_abort(t);
		return 0;
	}
	return store_commit(t);
}

static void
test_batch(struct store *st)
{
	struct store_txn	*t;
	struct store_val	 v;
	unsigned long		 j0;

	store_batch(st, 1);
	j0 = store_batch_joined(st);
	ok(!store_batch_open(st), "no batch before a write");
	ok(put(st, "a", 1) == 0, "first write commits into the batch");
	ok(store_batch_open(st), "the write opened a batch");
	ok(store_batch_joined(st) == j0 + 1, "the write counts as joined");
	ok(put(st, "b", 0) == 0 && put(st, "c", 1) == 0,
	    "an aborted and a committed write in the same batch");
	ok(store_begin(st, 1, &t) == 0 &&
	    store_get(t, 0, "a", 1, &v) == 0 &&
	    store_get(t, 0, "b", 1, &v) == FCRM_NOT_FOUND &&
	    store_get(t, 0, "c", 1, &v) == 0,
	    "a later write in the batch sees the committed ones, not the "
	    "aborted one");
	store_abort(t);
	/* (Another process could not even open the environment now: that
	   takes the writer lock, which the open batch holds.) */
	ok(seen(st, "a") == 0 && seen(st, "c") == 0,
	    "before the batch commit a reader does not see its writes");
	ok(store_batch_age_us(st) >= 0, "an open batch has an age");
	usleep(20000);
	ok(store_batch_age_us(st) >= 20000,
	    "the batch's age grows while it is open (%lld us after 20 ms)",
	    store_batch_age_us(st));
	ok(store_batch_commit(st) == 0, "the batch commits");
	ok(!store_batch_open(st), "no batch after the commit");
	ok(store_batch_age_us(st) == 0, "no batch, no age");
	ok(elsewhere("a", 0) == 1 && elsewhere("c", 0) == 1 &&
	    elsewhere("b", 0) == 0,
	    "after it, another process sees exactly the committed writes");
	ok(store_batch_commit(st) == 0, "committing with no batch is a no-op");
	store_batch(st, 0);
	ok(put(st, "d", 1) == 0 && !store_batch_open(st) &&
	    elsewhere("d", 0) == 1, "batching off: a write commits alone");
}

static void
test_kept_read(struct store *st)
{
	struct store_txn	*t;
	struct store_val	 v;

	ok(store_begin(st, 0, &t) == 0 && store_get(t, 0, "e", 1, &v) ==
	    FCRM_NOT_FOUND, "a reader does not see e");
	store_abort(t);
	ok(elsewhere("e", 1) == 1, "another process commits e");
	ok(store_begin(st, 0, &t) == 0 && store_get(t, 0, "e", 1, &v) ==
	    FCRM_NOT_FOUND, "the next reader of the same request takes over "
	    "the same snapshot");
	store_abort(t);
	store_idle(st);
	ok(store_begin(st, 0, &t) == 0 && store_get(t, 0, "e", 1, &v) == 0,
	    "after store_idle a reader sees the newer commit");
	store_abort(t);
	ok(put(st, "f", 1) == 0, "a write in the same request");
	ok(store_begin(st, 0, &t) == 0 && store_get(t, 0, "f", 1, &v) == 0,
	    "a read after the write sees it");
	store_abort(t);
	store_idle(st);
}

/* A walk of ix.a's "k" that walks it again inside, for each value. */
struct nest {
	struct store_txn	*t;
	int			 outer, inner, depth;
};

static int
nest_step(void *arg, struct store_val k, struct store_val v)
{
	struct nest	*n = arg;

	(void)k;
	(void)v;
	if (n->depth > 0) {
		n->inner++;
		return 0;
	}
	n->outer++;
	n->depth++;
	(void)store_iter_dups(n->t, 1, "k", 1, nest_step, n);
	n->depth--;
	return 0;
}

static void
test_nested_walk(struct store *st)
{
	struct store_txn	*t;
	struct nest		 n;
	int			 rc;

	ok(store_begin(st, 1, &t) == 0 &&
	    store_put(t, 1, "k", 1, "1", 1) == 0 &&
	    store_put(t, 1, "k", 1, "2", 1) == 0 &&
	    store_put(t, 1, "k", 1, "3", 1) == 0 && store_commit(t) == 0,
	    "three values under one key of a dupsort database");
	store_idle(st);
	memset(&n, 0, sizeof(n));
	ok(store_begin(st, 0, &t) == 0, "a read txn");
	n.t = t;
	rc = store_iter_dups(t, 1, "k", 1, nest_step, &n);
	ok(rc == 0 && n.outer == 3 && n.inner == 9, "a walk with a walk of "
	    "the same database inside (the kept cursor busy): outer %d, "
	    "inner %d", n.outer, n.inner);
	n.outer = n.inner = 0;
	n.depth = 1;
	rc = store_iter_dups(t, 1, "k", 1, nest_step, &n);
	ok(rc == 0 && n.inner == 3, "the next walk takes the kept cursor "
	    "again: %d values", n.inner);
	store_abort(t);
	store_idle(st);
	n.inner = 0;
	rc = store_begin(st, 0, &t);
	n.t = t;
	if (rc == 0)
		rc = store_iter_dups(t, 1, "k", 1, nest_step, &n);
	ok(rc == 0 && n.inner == 3, "and in the next read txn (renewed): %d "
	    "values", n.inner);
	store_abort(t);
	store_idle(st);
}

static long
minor_faults(void)
{
	struct rusage	 ru;

	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_minflt;
}

/*
 * How many of the first len bytes' pages of this process's mapping of
 * file are in its page tables (/proc/self/pagemap's "present" bit); -1
 * if the mapping is not found.  Not a count of faults: under ASan every
 * first read of a record also faults in its shadow memory.
 */
static long
present_pages(const char *file, size_t len)
{
	FILE		*f;
	char		 line[512], path[256];
	unsigned long	 lo = 0, hi, pg = (unsigned long)sysconf(_SC_PAGESIZE);
	unsigned long long e;
	long		 n = -1;
	size_t		 i;
	int		 fd, found = 0;

	if ((f = fopen("/proc/self/maps", "r")) == NULL)
		return -1;
	while (!found && fgets(line, sizeof(line), f) != NULL)
		found = sscanf(line, "%lx-%lx %*s %*s %*s %*s %255s", &lo, &hi,
		    path) == 3 && strcmp(path, file) == 0;
	fclose(f);
	if (!found || (fd = open("/proc/self/pagemap", O_RDONLY)) < 0)
		return -1;
	for (n = 0, i = 0; i < (len + pg - 1) / pg && lo + i * pg < hi; i++)
		if (pread(fd, &e, sizeof(e), (off_t)((lo / pg + i) *
		    sizeof(e))) == (ssize_t)sizeof(e) && (e >> 63) & 1)
			n++;
	close(fd);
	return n;
}

/* Reads every record of test_prefault's store; the faults it took. */
static long
read_all(struct store *st, int n)
{
	struct store_txn	*t;
	struct store_val	 v;
	char			 key[16];
	long			 f0;
	int			 i, found = 0;
	volatile char		 sink = 0;

	if (store_begin(st, 0, &t) != 0)
		return -1;
	f0 = minor_faults();
	for (i = 0; i < n; i++) {
		snprintf(key, sizeof(key), "k%07d", i * 7919 % n);
		if (store_get(t, 0, key, strlen(key), &v) == 0) {
			sink ^= ((const char *)v.p)[v.len - 1];
			found++;
		}
	}
	f0 = minor_faults() - f0;
	store_abort(t);
	store_idle(st);
	return found == n ? f0 : -1;
}

/*
 * A store opened anew maps its pages on first read: a fault each (or
 * each few, with the kernel's fault-around).  After store_prefault the
 * same reads take almost none.  Above the limit nothing is mapped.
 */
static void
test_prefault(void)
{
	static char		 pdir[] = "/tmp/fastcrm-unit-prefault.XXXXXX";
	struct store		*st;
	struct store_txn	*t;
	char			 key[16], val[400], path[64];
	long			 cold, warm, before, after;
	size_t			 used;
	int			 fd;
	size_t			 mapped;
	int			 i, n = 20000, rc = 0;

	if (mkdtemp(pdir) == NULL || store_open(pdir, 1 << 26, dbs, &st) != 0) {
		ok(0, "prefault: a store");
		return;
	}
	memset(val, 'v', sizeof(val));
	if (store_begin(st, 1, &t) != 0)
		rc = -1;
	for (i = 0; i < n && rc == 0; i++) {
		snprintf(key, sizeof(key), "k%07d", i);
		rc = store_put(t, 0, key, strlen(key), val, sizeof(val));
	}
	ok(rc == 0 && store_commit(t) == 0, "prefault: %d records of %zu "
	    "bytes written", n, sizeof(val));
	store_close(st);
	rc = store_open(pdir, 1 << 26, dbs, &st);
	snprintf(path, sizeof(path), "%s/data.mdb", pdir);
	used = (size_t)n * sizeof(val) / (size_t)sysconf(_SC_PAGESIZE);
	before = rc == 0 ? present_pages(path, (size_t)n * sizeof(val)) : -1;
	ok(before >= 0 && before * 4 < (long)used, "prefault: a store just "
	    "opened has %ld of its %zu record pages in the page tables",
	    before, used);
	cold = rc == 0 ? read_all(st, n) : -1;
	ok(cold >= 50, "prefault: reading its records took %ld page faults",
	    cold);
	ok(rc == 0 && store_prefault(st, 4096) == 0, "prefault: none over "
	    "the limit");
	if (rc == 0)
		store_close(st);
	rc = store_open(pdir, 1 << 26, dbs, &st);
	mapped = rc == 0 ? store_prefault(st, (size_t)1 << 30) : 0;
	ok(mapped >= (size_t)n * sizeof(val), "prefault: opened again, the "
	    "used part mapped (%zu kB)", mapped >> 10);
	after = mapped > 0 ? present_pages(path, (size_t)n * sizeof(val)) : -1;
	ok(after >= (long)used, "prefault: then %ld pages are in the page "
	    "tables", after);
	warm = mapped > 0 ? read_all(st, n) : -1;
	ok(warm >= 0 && warm < cold, "prefault: the same reads then took "
	    "%ld page faults (%ld without)", warm, cold);
	if (rc == 0)
		store_close(st);
	/* Out of the page cache (clean pages, after fsync): not mapped
	   ahead, which would read them from disk first. */
	if ((fd = open(path, O_RDONLY)) >= 0) {
		(void)fsync(fd);
		(void)posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
		close(fd);
	}
	rc = store_open(pdir, 1 << 26, dbs, &st);
	mapped = rc == 0 ? store_prefault(st, (size_t)1 << 30) : 0;
	ok(rc == 0 && mapped < (size_t)n * sizeof(val) / 2, "prefault: pages "
	    "not in the page cache are not mapped ahead (%zu kB mapped)",
	    mapped >> 10);
	if (rc == 0)
		store_close(st);
	tap_rm_store(pdir);
}

static void
test_db_names(struct store *st)
{
	ok(store_db(st, "rec") == 0 && store_db(st, "ix.a") == 1 &&
	    store_db(st, "authfail") == 2, "store_db finds each name");
	ok(store_db(st, "nope") == -1 && store_db(st, "") == -1,
	    "store_db: unknown names are -1");
}

static void
test_raw_span(void)
{
	const char	*s = "{\"a\":\"x\\\"y\",\"n\":[1,\"]\"],\"deleted\":false,"
	    "\"o\":{\"deleted\":true},\"k\\\"\":1}";
	const char	*v;
	size_t		 n;

	ok(json_raw_span(s, strlen(s), "deleted", &v, &n) == 1 && n == 5 &&
	    memcmp(v, "false", 5) == 0, "raw span: a top-level boolean, not "
	    "the nested one");
	ok(json_raw_span(s, strlen(s), "a", &v, &n) == 1 && n == 6 &&
	    memcmp(v, "\"x\\\"y\"", 6) == 0, "raw span: a string with an "
	    "escaped quote, quotes included");
	ok(json_raw_span(s, strlen(s), "missing", &v, &n) == 0,
	    "raw span: a missing key is 0");
	ok(json_raw_span("{\"a\":\"open", 10, "b", &v, &n) == -1,
	    "raw span: a truncated text cannot tell");
}

/*
 * The batch gate: a forked process (a worker) that holds a batch and keeps
 * committing keeps this one waiting in store_batch_wait until it lets go.
 * The holder writes 'R' to a pipe just before it lets go: found there
 * when the wait returns, the wait lasted until the release.
 *
 * The wait lets go early, by design, of a holder that commits nothing for
 * a tick (STORE_GATE_TICK_MS).  Under valgrind on a loaded machine the
 * holder can be off the CPU that long, so it also sends the monotonic
 * time just before and just after each batch commit: an early return is
 * right only if, inside the wait, the holder went a tick with no commit
 * even by the widest reading (from before one commit to after the next).
 */
static long long
mono_us(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* The longest stretch of [t0, t1] with no commit in [at[i][0], at[i][1]]. */
static long long
longest_quiet(long long at[][2], int n, long long t0, long long t1)
{
	long long	 best = 0, from = t0, to;
	int		 i;

	for (i = 0; i <= n; i++) {
		to = i < n ? at[i][1] : t1;
		if (to > t1)
			to = t1;
		if (to - from > best)
			best = to - from;
		if (i < n && at[i][0] > from)
			from = at[i][0];
		if (from >= t1)
			break;
	}
	return best;
}

static void
test_gate(void)
{
	struct store		*st = NULL, *cst;
	char			 gdir[] = "/dev/shm/fastcrm-unit-gate.XXXXXX";
	const char		*d;
	struct store_txn	*t;
	int			 ready[2], done[2], beats[2], status, i, n;
	int			 ok_child = 1;
	long long		 at[101][2], mark[2], t0, t1, quiet;
	char			 c = 0;
	pid_t			 pid;

	/* In memory where there is /dev/shm: a commit's fsync costs nothing,
	   so the holder's commits come far more often than the waiter's
	   tick even on a loaded machine. */
	d = mkdtemp(gdir) != NULL ? gdir : dir;
	if (pipe(ready) != 0 || pipe(done) != 0 || pipe(beats) != 0) {
		ok(0, "gate: pipes");
		return;
	}
	fflush(stdout);
	if ((pid = fork()) == -1) {
		ok(0, "gate: fork");
		return;
	}
	if (pid == 0) {
		/* As a worker: its own environment, batching on. */
		if (store_open(d, 1 << 24, dbs, &cst) != 0)
			_exit(3);
		store_batch(cst, 1);
		ok_child = put(cst, "gate-0", 1) == 0 &&
		    store_batch_leading(cst);
		(void)write(ready[1], ok_child ? "1" : "0", 1);
		for (i = 1; i <= 100; i++) {
			usleep(2000);
			mark[0] = mono_us();
			if (store_batch_commit(cst) != 0)
				_exit(4);
			mark[1] = mono_us();
			/* 16 bytes a commit: the pipe never fills. */
			(void)write(beats[1], mark, sizeof(mark));
			if (store_begin(cst, 1, &t) != 0 ||
			    store_put(t, 0, "gate-n", 6, "v", 1) != 0 ||
			    store_commit(t) != 0)
				_exit(5);
		}
		if (store_batch_commit(cst) != 0)
			_exit(6);
		(void)write(done[1], "R", 1);
		store_batch_release(cst);
		store_close(cst);
		_exit(0);
	}
	close(ready[1]);
	close(done[1]);
	close(beats[1]);
	/* This process's own environment, opened after the fork as a
	   worker's is (the gate's page came from the first open). */
	if (store_open(d, 1 << 24, dbs, &st) != 0) {
		ok(0, "gate: store_open");
		return;
	}
	ok(read(ready[0], &c, 1) == 1 && c == '1',
	    "gate: a process that opens a batch holds the gate");
	ok(!store_batch_leading(st), "gate: ... and this one does not");
	t0 = mono_us();
	store_batch_wait(st, 5000);
	t1 = mono_us();
	/* Not blocking: what is there the moment the wait returned. */
	(void)fcntl(done[0], F_SETFL, O_NONBLOCK);
	c = 0;
	(void)read(done[0], &c, 1);
	ok(waitpid(pid, &status, 0) == pid && WIFEXITED(status) &&
	    WEXITSTATUS(status) == 0, "gate: the holder's batches committed");
	for (n = 0; n < 100 && read(beats[0], at[n], sizeof(at[n])) ==
	    (ssize_t)sizeof(at[n]); n++)
		;
	quiet = longest_quiet(at, n, t0, t1);
	if (c == 'R')
		ok(1, "gate: the wait lasted while the holder kept committing, "
		    "until it let go (%lld ms, %d commits)", (t1 - t0) / 1000,
		    n);
	else
		ok(quiet >= STORE_GATE_TICK_MS * 1000LL, "gate: the wait "
		    "returned before the holder let go only after a tick "
		    "with no commit (%lld ms quiet of %lld ms waited; the "
		    "tick is %d ms)", quiet / 1000, (t1 - t0) / 1000,
		    STORE_GATE_TICK_MS);
	ok(seen(st, "gate-n") == 1, "gate: its writes are durable and seen");
	store_close(st);
	if (d == gdir)
		tap_rm_store(gdir);
	close(ready[0]);
	close(done[0]);
	close(beats[0]);
}

int
main(int argc, char *argv[])
{
	struct store	*st = NULL;
	char		 cmd[128];

	if (argc == 5 && strcmp(argv[1], "--peer") == 0)
		return peer(argv[2], argv[3], strcmp(argv[4], "w") == 0);
	self = argv[0];

	if (mkdtemp(dir) == NULL) {
		printf("Bail out! mkdtemp\n");
		return 1;
	}
	if (store_open(dir, 1 << 24, dbs, &st) != 0) {
		printf("Bail out! store_open %s\n", dir);
		return 1;
	}
	test_db_names(st);
	test_batch(st);
	test_kept_read(st);
	test_nested_walk(st);
	test_raw_span();
	test_prefault();
	/* Closed first: the gate's processes each open their own, and the
	   one forked must not inherit an open environment. */
	store_close(st);
	test_gate();
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (system(cmd) != 0)
		printf("# could not remove %s\n", dir);
	return tap_done();
}
