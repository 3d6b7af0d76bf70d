/*
 * LMDB storage.  One environment per process (opened after fork), named
 * databases for records, indexes, counters and the small tables of auth.
 * A transaction is always registered on a request arena by the caller so
 * that every path ends it.  No LMDB type or code leaves this module.
 * Only the engine (app/entity/door.c: entity_store_open) and auth call it.
 */
#ifndef FASTCRM_STORE_H
#define FASTCRM_STORE_H

#include <stddef.h>

struct store;
struct store_txn;

/* A byte string borrowed from the store: valid until the txn ends. */
struct store_val {
	const char	*p;
	size_t		 len;
};

/*
 * Opens (creating) the environment in dir with the map size given and
 * opens every database named in dbs (NULL-terminated list, created when
 * missing).  Caller frees with store_close.
 */
int		 store_open(const char *dir, size_t map_size,
		    const char *const *dbs, struct store **);
void		 store_close(struct store *);
/* Clears stale reader slots left by dead processes; returns how many. */
int		 store_reader_check(const char *dir, int *dead);
/*
 * Counts the reader slots held by processes that no longer exist, without
 * clearing them; the first max of their pids go to pids.
 */
int		 store_reader_stale(struct store *, int *pids, int max, int *n);

/* The map and the reader table, for /healthz and /metrics. */
struct store_info {
	size_t		 map_size;	/* bytes mapped */
	size_t		 used;		/* bytes up to the last page in use */
	int		 readers;	/* reader slots held by a process */
	int		 stale;		/* of those, by processes now dead */
};
/* Fills si; with readers == 0 the reader table is not walked (cheap). */
int		 store_info(struct store *, struct store_info *si,
		    int readers);

/*
 * Backup and restore helpers (app/store/backup.c), on a directory rather
 * than an open store.  store_copy writes a compacted copy of the
 * environment in dir to dst_dir/data.mdb through a read snapshot (writers
 * go on).  store_in_use tells whether another process has the
 * environment in dir open (1), not (0), or -1 on error.
 */
int		 store_copy(const char *dir, const char *dst_dir);
int		 store_in_use(const char *dir);

/* A database handle by name; -1 when it was not opened. */
int		 store_db(const struct store *, const char *name);

/*
 * A read txn that ends is kept as it is: the next store_begin for reading
 * takes it over (the same snapshot) until store_idle, or a write txn
 * begins.  A worker calls store_idle after each request.
 */
int		 store_begin(struct store *, int write, struct store_txn **);
void		 store_idle(struct store *);
/*
 * Maps the pages of the store's used part that are in the page cache
 * into this process's page tables now, if the used part is at most limit
 * bytes: a worker's reads of them then take no page fault.  Returns the
 * bytes mapped (0: none).
 */
size_t		 store_prefault(struct store *, size_t limit);
/*
 * Write batching (workers): with it on, every write txn is a child of one
 * batch txn, begun (taking LMDB's writer lock) by the first write txn;
 * committing a child hands its changes to the batch, which reaches the
 * disk only with store_batch_commit (one durable commit for the batch).
 * store_batch_joined counts the write txns begun in batches so far (a
 * request that began one has seen or made uncommitted changes: its
 * answer waits for the batch commit); store_batch_open says whether a
 * batch is open, store_batch_age_us for how long (since it took the
 * writer lock; 0 when none is).  store_close aborts an open batch.
 */
void		 store_batch(struct store *, int on);
unsigned long	 store_batch_joined(const struct store *);
int		 store_batch_open(const struct store *);
long long	 store_batch_age_us(const struct store *);
int		 store_batch_commit(struct store *);
/*
 * The batch gate (workers of one master): opening a batch makes this
 * process the holder; store_batch_release ends that (the holder calls it
 * once no connection is queued; store_close too).  store_batch_wait
 * waits, at most ms, while another live process holds the gate and keeps
 * committing: a worker calls it before it takes a new connection.  A
 * holder that commits nothing for a tick is not waited for any longer.
 */
#define STORE_GATE_TICK_MS	50
int		 store_batch_leading(const struct store *);
void		 store_batch_release(struct store *);
void		 store_batch_wait(const struct store *, int ms);
/*
 * Change marks (the processes forked from the one that first opened a
 * store: a master's workers): every commit records, in the batch gate's
 * page, its txn id for each database it wrote into (in one of 64 slots,
 * which databases may share).  store_snapshot names a txn's snapshot;
 * store_changed_since is 0 only when no commit after snapshot snap wrote
 * into db, so that what this process read from db in snap still holds;
 * 1 when one may have (always without the page, or for a snapshot of
 * another store).  Commits by processes outside the tree are not seen:
 * only workers may write a database read that way (auth's failed-login
 * table).
 */
struct store_snap {
	unsigned long	 store;		/* which store of this process */
	size_t		 txn;		/* LMDB's txn id */
};
void		 store_snapshot(const struct store_txn *, struct store_snap *);
int		 store_changed_since(const struct store *, int db,
		    const struct store_snap *snap);
/*
 * Commits (durable; batched, into the batch) and frees the txn; on error
 * the txn is aborted.
 */
int		 store_commit(struct store_txn *);
/* Aborts and frees; NULL is ignored.  Safe as an arena cleanup. */
void		 store_abort(struct store_txn *);
/* The same, in the shape of an arena cleanup (arg is a struct store_txn **). */
void		 store_abort_cleanup(void *);

int		 store_get(struct store_txn *, int db, const char *key,
		    size_t klen, struct store_val *);
int		 store_put(struct store_txn *, int db, const char *key,
		    size_t klen, const void *v, size_t vlen);
/* Deletes key (and for dupsort databases only the given value, if v). */
int		 store_del(struct store_txn *, int db, const char *key,
		    size_t klen, const void *v, size_t vlen);
/* 0 when key holds exactly val (dupsort databases), FCRM_NOT_FOUND if not. */
int		 store_has(struct store_txn *, int db, const char *key,
		    size_t klen, const void *val, size_t vlen);
/* Entries in a database. */
int		 store_count(struct store_txn *, int db, size_t *);
/* Next value of a named counter (starts at 1). */
int		 store_counter_next(struct store_txn *, int db,
		    const char *name, long long *);

/*
 * Iterates a database in key order (dir > 0) or reverse (dir < 0).
 * With prefix, only keys starting with it.  fn returns 0 to go on, -1 to
 * stop, or an error code (> 0).  Key and value are borrowed for the call only.
 */
typedef int	(*store_iter_fn)(void *arg, struct store_val key,
		    struct store_val val);
int		 store_iter(struct store_txn *, int db, int dir,
		    const char *prefix, size_t plen, store_iter_fn, void *arg);
/*
 * Iterates a database in key order from the first key >= from (flen
 * bytes; 0 for the first key) to the end; fn as for store_iter.
 */
int		 store_iter_from(struct store_txn *, int db, const char *from,
		    size_t flen, store_iter_fn, void *arg);
/* All values of one key in a dupsort database. */
int		 store_iter_dups(struct store_txn *, int db, const char *key,
		    size_t klen, store_iter_fn, void *arg);

/*
 * Overwrites LMDB's free pages (old versions of changed records) with
 * zeroed scratch entries of db, then removes those: erased values leave
 * the file.  *wiped: free pages found.
 */
int		 store_wipe_free(struct store *, int db, size_t *wiped);
/*
 * Writes db anew on fresh pages (no bytes of removed entries left in the
 * gaps of live pages); best in an environment opened for it.
 */
int		 store_rebuild(struct store *, int db);
/*
 * Every database written anew, then the free pages overwritten: no byte
 * of a removed or changed value is left in the file (erase).  Any page
 * may hold stale bytes in its gap (a process that wrote it reused a page
 * buffer), hence all of them.
 */
int		 store_scour(struct store *, int scratch_db, size_t *wiped);

#endif
