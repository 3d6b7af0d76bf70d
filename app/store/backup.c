/*
 * The store's side of backup and restore: LMDB's own compacting copy of
 * an environment, and whether some other process has an environment open.
 * Works on directories, not on an open struct store: the copy is taken by
 * the command line while workers go on serving.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <lmdb.h>

#include "fastcrm/error.h"
#include "fastcrm/store.h"

/*
 * mdb_env_copy2 with MDB_CP_COMPACT reads one snapshot in a read-only
 * transaction and writes only the pages in use (no free pages), without
 * taking the writer's lock: writers are not paused.  The copy is
 * dst_dir/data.mdb, created with LMDB's mode 0666 filtered by the umask
 * (the backup command sets 077).
 */
int
store_copy(const char *dir, const char *dst_dir)
{
	MDB_env	*env;
	int	 rc;

	if ((rc = mdb_env_create(&env)) != 0)
		return FCRM_STORE;
	mdb_env_set_maxdbs(env, 512);
	mdb_env_set_maxreaders(env, 1024);
	if ((rc = mdb_env_open(env, dir, MDB_NOTLS | MDB_RDONLY, 0600)) == 0)
		rc = mdb_env_copy2(env, dst_dir, MDB_CP_COMPACT);
	mdb_env_close(env);
	if (rc == ENOSPC)
		return FCRM_MAP_FULL;
	return rc == 0 ? FCRM_OK : rc == ENOENT ? FCRM_NOT_FOUND : FCRM_IO;
}

/*
 * Every process that has an LMDB environment open holds a shared lock on
 * the first byte of its lock.mdb (LMDB's own way to tell whether it is the
 * first user): if an exclusive lock cannot be had, someone has it open.
 */
int
store_in_use(const char *dir)
{
	struct flock	 fl;
	char		 path[4096];
	int		 fd, rc;

	if ((size_t)snprintf(path, sizeof(path), "%s/lock.mdb", dir) >=
	    sizeof(path))
		return -1;
	if ((fd = open(path, O_RDWR | O_CLOEXEC)) < 0)
		return errno == ENOENT ? 0 : -1;
	memset(&fl, 0, sizeof(fl));
	fl.l_type = F_WRLCK;
	fl.l_whence = SEEK_SET;
	fl.l_start = 0;
	fl.l_len = 1;
	rc = fcntl(fd, F_GETLK, &fl);
	close(fd);
	if (rc != 0)
		return -1;
	return fl.l_type != F_UNLCK;
}
