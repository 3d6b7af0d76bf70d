/*
 * Whole-store operations: backup (a compacted LMDB snapshot plus every
 * attachment file it references, with a manifest of record counts and
 * SHA-256 checksums, built under a temporary name and renamed when
 * complete), restore (every file checked against that manifest before the
 * store appears in data_dir), verify's check of the attachment files, and
 * the health probe of GET /healthz.
 */
#include <sys/stat.h>
#include <sys/time.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "fastcrm/conf.h"
#include "fastcrm/entity.h"
#include "fastcrm/error.h"
#include "fastcrm/store.h"
#include "fastcrm/util.h"
#include "engine.h"

/* The fuzz build (tests/fuzz.sh) compiles without configure's DEFS. */
#ifndef PACKAGE_VERSION
#define PACKAGE_VERSION	"unknown"
#endif

#define BACKUP_FORMAT	1
#define MANIFEST	"manifest.json"
#define MANIFEST_MAX	((size_t)1 << 30)	/* ~8 million files */
#define CHUNK		(1 << 16)
/* An unreferenced file younger than this may be an upload in flight. */
#define UPLOAD_GRACE	60

static void
fsync_path(const char *path)
{
	int	 fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) >= 0) {
		fsync(fd);
		close(fd);
	}
}

/*
 * Copies src to dst (created, mode), or only reads src when dst is NULL,
 * hashing the bytes: SHA-256 hex in sha, byte count in size.  The copy is
 * fsynced.  FCRM_NOT_FOUND when src does not exist.
 */
static int
copy_hash(const char *src, const char *dst, mode_t mode, char sha[65],
    unsigned long long *size)
{
	struct util_sha256 h = { NULL };
	char		*buf = NULL;
	ssize_t		 n, w, off;
	int		 in = -1, out = -1, rc = FCRM_IO;

	*size = 0;
	if ((in = open(src, O_RDONLY | O_CLOEXEC)) < 0)
		return errno == ENOENT ? FCRM_NOT_FOUND : FCRM_IO;
	if ((buf = malloc(CHUNK)) == NULL || util_sha256_init(&h) != 0)
		goto out;
	if (dst != NULL && (out = open(dst, O_WRONLY | O_CREAT | O_EXCL |
	    O_CLOEXEC, mode)) < 0)
		goto out;
	for (;;) {
		if ((n = read(in, buf, CHUNK)) < 0) {
			if (errno == EINTR)
				continue;
			goto out;
		}
		if (n == 0)
			break;
		if (util_sha256_update(&h, buf, (size_t)n) != 0)
			goto out;
		*size += (unsigned long long)n;
		for (off = 0; out >= 0 && off < n; off += w)
			if ((w = write(out, buf + off, (size_t)(n - off))) < 0) {
				if (errno == EINTR) {
					w = 0;
					continue;
				}
				if (errno == ENOSPC)
					rc = FCRM_MAP_FULL;
				goto out;
			}
	}
	if (out >= 0 && (fchmod(out, mode) != 0 || fsync(out) != 0))
		goto out;
	if (util_sha256_final(&h, sha) != 0)
		goto out;
	rc = FCRM_OK;
out:
	if (out >= 0 && close(out) != 0 && rc == FCRM_OK)
		rc = FCRM_IO;
	if (rc != FCRM_OK && out >= 0)
		unlink(dst);
	if (in >= 0)
		close(in);
	util_sha256_free(&h);
	free(buf);
	return rc;
}

static int
rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	remove(path);
	return 0;
}

/* Removes a temporary tree this module made. */
static void
rm_tree(const char *path)
{
	nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* One file of a backup, as the manifest lists it. */
struct bfile {
	char			*path;		/* "data.mdb", "attachments/ID" */
	unsigned long long	 size;
	char			 sha[65];
};

struct bk {
	struct arena		*a;
	const struct conf	*conf;
	struct buf		 man;		/* the manifest being written */
	char			**ids;		/* attachments referenced */
	size_t			 nids, capids;
	struct bfile		*files;
	size_t			 nfiles, capfiles;
	size_t			 records, missing;
	unsigned long long	 bytes;
	const struct entity	*e;
	size_t			 live, all;
};

static void
add_id(struct bk *b, const char *p, size_t n)
{
	char	**nv;

	if (b->nids == b->capids) {
		b->capids = b->capids == 0 ? 256 : b->capids * 2;
		nv = arena_alloc(b->a, b->capids * sizeof(*nv));
		if (b->nids > 0)
			memcpy(nv, b->ids, b->nids * sizeof(*nv));
		b->ids = nv;
	}
	b->ids[b->nids++] = arena_strndup(b->a, p, n);
}

static struct bfile *
add_file(struct bk *b, const char *path)
{
	struct bfile	*nv;

	if (b->nfiles == b->capfiles) {
		b->capfiles = b->capfiles == 0 ? 64 : b->capfiles * 2;
		nv = arena_alloc(b->a, b->capfiles * sizeof(*nv));
		if (b->nfiles > 0)
			memcpy(nv, b->files, b->nfiles * sizeof(*nv));
		b->files = nv;
	}
	nv = &b->files[b->nfiles++];
	memset(nv, 0, sizeof(*nv));
	nv->path = arena_strdup(b->a, path);
	return nv;
}

/* Counts a record (live or deleted); an Attachment's id is kept. */
static int
count_rec(void *arg, struct store_val k, struct store_val v)
{
	struct bk	*b = arg;

	b->all++;
	if (memmem(v.p, v.len, "\"deleted\":true", 14) == NULL)
		b->live++;
	if (strcmp(b->e->name, "Attachment") == 0 && util_id_valid(
	    arena_strndup(b->a, k.p, k.len)))
		add_id(b, k.p, k.len);
	return 0;
}

struct keys {
	struct arena	*a;
	char		**v;
	size_t		*len;
	size_t		 n, cap;
};

static int
collect_key(void *arg, struct store_val k, struct store_val v)
{
	struct keys	*ks = arg;
	char		**nv;
	size_t		*nl;

	(void)v;
	if (ks->n == ks->cap) {
		ks->cap = ks->cap == 0 ? 64 : ks->cap * 2;
		nv = arena_alloc(ks->a, ks->cap * sizeof(*nv));
		nl = arena_alloc(ks->a, ks->cap * sizeof(*nl));
		if (ks->n > 0) {
			memcpy(nv, ks->v, ks->n * sizeof(*nv));
			memcpy(nl, ks->len, ks->n * sizeof(*nl));
		}
		ks->v = nv;
		ks->len = nl;
	}
	ks->v[ks->n] = arena_strndup(ks->a, k.p, k.len);
	ks->len[ks->n++] = k.len;
	return 0;
}

/* Empties a table of the copy (a transient one: sessions, say). */
static int
clear_table(struct bk *b, struct store_txn *t, int db)
{
	struct keys	 ks;
	size_t		 i;
	int		 rc;

	memset(&ks, 0, sizeof(ks));
	ks.a = b->a;
	if (db < 0)
		return 0;
	if ((rc = store_iter(t, db, 1, NULL, 0, collect_key, &ks)) != 0)
		return rc;
	for (i = 0; i < ks.n; i++)
		if ((rc = store_del(t, db, ks.v[i], ks.len[i], NULL, 0)) != 0)
			return rc;
	return 0;
}

static int
counter_out(void *arg, struct store_val k, struct store_val v)
{
	struct bk	*b = arg;
	long long	 n = 0;

	if (v.len == sizeof(n))
		memcpy(&n, v.p, sizeof(n));
	buf_adds(&b->man, b->man.p[b->man.len - 1] == '{' ? "" : ",");
	json_write_str(&b->man, k.p, k.len);
	buf_printf(&b->man, ":%lld", n);
	return 0;
}

/*
 * In the fresh copy: empties the transient tables (ENTITY_TABLE_TRANSIENT:
 * auth's sessions and failed-login table), counts the records and
 * collects the Attachment ids; writes the counts and counters into the
 * manifest.
 */
static int
scan_copy(struct bk *b, const char *tmp)
{
	struct store		*st = NULL;
	struct store_txn	*t = NULL;
	struct buf		 counts;
	const char		*why;
	size_t			 i;
	int			 rc, db;

	if ((rc = entity_store_open(b->conf, tmp, &st, &why)) != 0)
		goto out;
	if ((rc = store_begin(st, 1, &t)) != 0)
		goto out;
	for (i = 0; (db = engine_transient_db(i)) >= 0; i++)
		if ((rc = clear_table(b, t, db)) != 0)
			goto out;
	rc = store_commit(t);
	t = NULL;
	if (rc != 0 || (rc = store_begin(st, 0, &t)) != 0)
		goto out;
	buf_init(&counts, b->a);
	buf_adds(&b->man, "\"records\":{");
	buf_adds(&counts, "\"stored\":{");
	for (i = 0; i < entity_count(); i++) {
		b->e = entity_at(i);
		b->live = b->all = 0;
		if ((rc = store_iter(t, b->e->db_rec, 1, NULL, 0, count_rec,
		    b)) != 0)
			goto out;
		buf_printf(&b->man, "%s\"%s\":%zu", i > 0 ? "," : "",
		    b->e->name, b->live);
		buf_printf(&counts, "%s\"%s\":%zu", i > 0 ? "," : "",
		    b->e->name, b->all);
		b->records += b->live;
	}
	buf_printf(&b->man, "},%s},\"counters\":{", counts.p);
	rc = store_iter(t, engine_db_counters, 1, NULL, 0, counter_out, b);
	buf_adds(&b->man, "},");
out:
	store_abort(t);
	entity_store_close(st);
	return rc;
}

/* Copies each referenced attachment file into tmp/attachments/. */
static int
copy_attachments(struct bk *b, const char *tmp)
{
	struct bfile	*f;
	char		*src, *dst;
	size_t		 i;
	int		 rc;

	if (mkdir(arena_printf(b->a, "%s/attachments", tmp), 0700) != 0)
		return FCRM_IO;
	for (i = 0; i < b->nids; i++) {
		src = arena_printf(b->a, "%s/attachments/%s",
		    b->conf->data_dir, b->ids[i]);
		dst = arena_printf(b->a, "%s/attachments/%s", tmp, b->ids[i]);
		f = add_file(b, arena_printf(b->a, "attachments/%s",
		    b->ids[i]));
		rc = copy_hash(src, dst, 0600, f->sha, &f->size);
		if (rc == FCRM_NOT_FOUND) {
			fprintf(stderr, "backup: warning: Attachment %s has "
			    "no file %s (fastcrm verify reports it too)\n",
			    b->ids[i], src);
			b->nfiles--;
			b->missing++;
			continue;
		}
		if (rc != 0)
			return rc;
		b->bytes += f->size;
	}
	fsync_path(arena_printf(b->a, "%s/attachments", tmp));
	return 0;
}

static int
write_manifest(struct bk *b, const char *tmp)
{
	char		 when[20], *path;
	size_t		 i;
	ssize_t		 w;
	int		 fd, rc = 0;

	util_now(when);
	buf_adds(&b->man, "\"files\":[");
	for (i = 0; i < b->nfiles; i++) {
		buf_adds(&b->man, i > 0 ? ",\n" : "\n");
		buf_adds(&b->man, "{\"path\":");
		json_write_str(&b->man, b->files[i].path,
		    strlen(b->files[i].path));
		buf_printf(&b->man, ",\"size\":%llu,\"sha256\":\"%s\"}",
		    b->files[i].size, b->files[i].sha);
	}
	buf_printf(&b->man, "],\"missing_files\":%zu,\"created\":\"%s\"}\n",
	    b->missing, when);
	path = arena_printf(b->a, "%s/%s", tmp, MANIFEST);
	if ((fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC,
	    0600)) < 0)
		return FCRM_IO;
	if ((w = write(fd, b->man.p, b->man.len)) < 0 ||
	    (size_t)w != b->man.len || fsync(fd) != 0)
		rc = FCRM_IO;
	if (close(fd) != 0)
		rc = FCRM_IO;
	return rc;
}

static char *
parent_of(struct arena *a, const char *path)
{
	char	*p, *s;

	p = arena_strdup(a, path);
	if ((s = strrchr(p, '/')) == NULL)
		return arena_strdup(a, ".");
	if (s == p)
		s[1] = '\0';
	else
		*s = '\0';
	return p;
}

int
entity_backup(const struct conf *conf, const char *dir,
    struct entity_backup_stats *bs, const char **why)
{
	struct bk	 b;
	struct bfile	*f;
	struct stat	 sb;
	char		*tmp, *d;
	double		 t0;
	size_t		 n;
	int		 rc, dead;

	memset(bs, 0, sizeof(*bs));
	*why = NULL;
	if (entity_init(conf, why) != 0)
		return FCRM_CONFIG;
	if (stat(dir, &sb) == 0 || errno != ENOENT) {
		*why = "the backup directory already exists; name a new one";
		return FCRM_CONFLICT;
	}
	memset(&b, 0, sizeof(b));
	if ((b.a = arena_new()) == NULL)
		return FCRM_IO;
	b.conf = conf;
	buf_init(&b.man, b.a);
	t0 = util_seconds();
	/* "DIR/" names DIR: the temporary name is its sibling. */
	d = arena_strdup(b.a, dir);
	for (n = strlen(d); n > 1 && d[n - 1] == '/'; n--)
		d[n - 1] = '\0';
	dir = d;
	tmp = arena_printf(b.a, "%s.partial-%d", dir, (int)getpid());
	if (mkdir(tmp, 0700) != 0) {
		*why = "cannot create the temporary backup directory";
		arena_free(b.a);
		return FCRM_IO;
	}
	buf_printf(&b.man, "{\"format\":%d,\"fastcrm\":\"%s\",\"data_dir\":",
	    BACKUP_FORMAT, PACKAGE_VERSION);
	json_write_str(&b.man, conf->data_dir, strlen(conf->data_dir));
	buf_printf(&b.man, ",\"map_size\":%zu,", conf->map_size);
	/* A backup killed earlier left its reader slot, which pins pages. */
	if (store_reader_check(conf->data_dir, &dead) == 0 && dead > 0)
		fprintf(stderr, "backup: cleared %d stale LMDB reader slot(s)\n",
		    dead);
	if ((rc = store_copy(conf->data_dir, tmp)) != 0) {
		*why = rc == FCRM_NOT_FOUND ? "there is no store in data_dir" :
		    "the LMDB copy failed";
		goto out;
	}
	bs->snapshot_seconds = util_seconds() - t0;
	if ((rc = scan_copy(&b, tmp)) != 0) {
		*why = "cannot read the copy";
		goto out;
	}
	unlink(arena_printf(b.a, "%s/lock.mdb", tmp));
	f = add_file(&b, "data.mdb");
	if ((rc = copy_hash(arena_printf(b.a, "%s/data.mdb", tmp), NULL, 0,
	    f->sha, &f->size)) != 0) {
		*why = "cannot read the copy";
		goto out;
	}
	b.bytes += f->size;
	if ((rc = copy_attachments(&b, tmp)) != 0) {
		*why = "cannot copy an attachment file";
		goto out;
	}
	if ((rc = write_manifest(&b, tmp)) != 0) {
		*why = "cannot write the manifest";
		goto out;
	}
	/* LMDB writes the copy without an fsync of its own. */
	fsync_path(arena_printf(b.a, "%s/data.mdb", tmp));
	fsync_path(tmp);
	if (rename(tmp, dir) != 0) {
		*why = "cannot rename the finished backup into place";
		rc = FCRM_IO;
		goto out;
	}
	d = parent_of(b.a, dir);
	fsync_path(d);
	bs->records = b.records;
	bs->files = b.nfiles - 1;
	bs->missing = b.missing;
	bs->bytes = b.bytes;
	bs->seconds = util_seconds() - t0;
out:
	if (rc != 0)
		rm_tree(tmp);
	*why = util_kept(*why);
	arena_free(b.a);
	if (rc != 0 && *why == NULL)
		*why = error_reason(rc);
	return rc;
}

static int
cmp_bfile(const void *a, const void *b)
{
	return strcmp(((const struct bfile *)a)->path,
	    ((const struct bfile *)b)->path);
}

/* The manifest's file list, checked: known names only, no path tricks. */
static int
manifest_files(struct bk *b, const struct json *m, const char **why)
{
	const struct json	*fl, *f, *sz;
	const char		*path, *sha;
	struct bfile		*bf;
	double			 n;
	size_t			 i, ndata = 0;

	fl = json_get(m, "files");
	if (fl == NULL || fl->type != JSON_ARRAY) {
		*why = "the manifest has no file list";
		return FCRM_BAD_JSON;
	}
	for (i = 0; i < fl->n; i++) {
		f = fl->v[i];
		path = json_gets(f, "path");
		sha = json_gets(f, "sha256");
		sz = json_get(f, "size");
		if (path == NULL || sha == NULL || strlen(sha) != 64 ||
		    strspn(sha, "0123456789abcdef") != 64 || sz == NULL ||
		    sz->type != JSON_NUMBER || !json_tonum(sz, &n) || n < 0 ||
		    n > 1e18 || n != (double)(unsigned long long)n) {
			*why = "a file entry of the manifest lacks its path, "
			    "size or sha256";
			return FCRM_BAD_JSON;
		}
		if (strcmp(path, "data.mdb") == 0)
			ndata++;
		else if (strncmp(path, "attachments/", 12) != 0 ||
		    !util_id_valid(path + 12)) {
			*why = "the manifest names a file that is neither "
			    "data.mdb nor attachments/<id>";
			return FCRM_BAD_JSON;
		}
		bf = add_file(b, path);
		bf->size = (unsigned long long)n;
		memcpy(bf->sha, sha, 65);
	}
	if (ndata != 1) {
		*why = ndata == 0 ? "the manifest does not list data.mdb" :
		    "the manifest lists a file twice";
		return FCRM_BAD_JSON;
	}
	if (b->nfiles > 1)
		qsort(b->files, b->nfiles, sizeof(*b->files), cmp_bfile);
	for (i = 1; i < b->nfiles; i++)
		if (strcmp(b->files[i - 1].path, b->files[i].path) == 0) {
			*why = "the manifest lists a file twice";
			return FCRM_BAD_JSON;
		}
	return 0;
}

/* Parses and checks the manifest's text into m and b's file list. */
static int
manifest_parse(struct bk *b, const char *buf, size_t len, struct json **m,
    const char **why)
{
	const struct json	*fmt;
	double			 v;

	if (json_parse(b->a, buf, len, m, why) != 0 ||
	    (*m)->type != JSON_OBJECT) {
		*why = "manifest.json is not a JSON object";
		return FCRM_BAD_JSON;
	}
	fmt = json_get(*m, "format");
	if (fmt == NULL || fmt->type != JSON_NUMBER || !json_tonum(fmt, &v) ||
	    v != BACKUP_FORMAT) {
		*why = "the manifest's format is not one this fastcrm reads "
		    "(format 1)";
		return FCRM_BAD_JSON;
	}
	return manifest_files(b, *m, why);
}

int
entity_manifest_check(struct arena *a, const char *buf, size_t len,
    size_t *nfiles, const char **why)
{
	struct bk	 b;
	struct json	*m;
	int		 rc;

	memset(&b, 0, sizeof(b));
	b.a = a;
	*why = NULL;
	rc = manifest_parse(&b, buf, len, &m, why);
	*nfiles = b.nfiles;
	return rc;
}

static int
read_manifest(struct bk *b, const char *dir, struct json **m,
    const char **why)
{
	struct stat		 sb;
	char			*buf, *path;
	ssize_t			 n;
	size_t			 have = 0;
	int			 fd;

	path = arena_printf(b->a, "%s/%s", dir, MANIFEST);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
		*why = "no manifest.json: not a fastcrm backup, or an "
		    "unfinished one";
		return FCRM_NOT_FOUND;
	}
	if (fstat(fd, &sb) != 0 || (size_t)sb.st_size > MANIFEST_MAX) {
		close(fd);
		*why = "manifest.json is too large";
		return FCRM_BAD_JSON;
	}
	buf = arena_alloc(b->a, (size_t)sb.st_size + 1);
	while (have < (size_t)sb.st_size && (n = read(fd, buf + have,
	    (size_t)sb.st_size - have)) > 0)
		have += (size_t)n;
	close(fd);
	return manifest_parse(b, buf, have, m, why);
}

/* 1 when dir has entries, 0 when empty or missing, -1 on error. */
static int
dir_has_entries(const char *dir)
{
	DIR		*d;
	struct dirent	*de;
	int		 n = 0;

	if ((d = opendir(dir)) == NULL)
		return errno == ENOENT ? 0 : -1;
	while ((de = readdir(d)) != NULL)
		if (strcmp(de->d_name, ".") != 0 &&
		    strcmp(de->d_name, "..") != 0)
			n = 1;
	closedir(d);
	return n;
}

/* --force: moves the store that is there into data_dir/pre-restore-TIME. */
static int
move_aside(struct bk *b, const char **why)
{
	static const char *const names[] = { "data.mdb", "lock.mdb",
	    "attachments" };
	struct tm	 tm;
	time_t		 t;
	char		 stamp[32], *aside, *src;
	size_t		 i;

	t = time(NULL);
	gmtime_r(&t, &tm);
	strftime(stamp, sizeof(stamp), "%Y%m%dT%H%M%SZ", &tm);
	aside = arena_printf(b->a, "%s/pre-restore-%s", b->conf->data_dir,
	    stamp);
	if (mkdir(aside, 0700) != 0) {
		*why = "cannot create the directory to move the old store to";
		return FCRM_IO;
	}
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		src = arena_printf(b->a, "%s/%s", b->conf->data_dir, names[i]);
		if (rename(src, arena_printf(b->a, "%s/%s", aside, names[i]))
		    != 0 && errno != ENOENT) {
			*why = "cannot move the old store aside";
			return FCRM_IO;
		}
	}
	fprintf(stderr, "restore: the store that was in %s is now in %s\n",
	    b->conf->data_dir, aside);
	return 0;
}

/* Copies and checks every file of the manifest into staging/. */
static int
stage(struct bk *b, const char *dir, const char *staging, uid_t uid,
    gid_t gid, const char **why)
{
	struct bfile		*f;
	unsigned long long	 size;
	char			 sha[65], *dst;
	size_t			 i;
	int			 rc;

	/* The modes uploads get (the umask of restore is 077). */
	if (mkdir(arena_printf(b->a, "%s/attachments", staging), 0750) != 0 ||
	    chmod(arena_printf(b->a, "%s/attachments", staging), 0750) != 0)
		return FCRM_IO;
	for (i = 0; i < b->nfiles; i++) {
		f = &b->files[i];
		dst = arena_printf(b->a, "%s/%s", staging, f->path);
		rc = copy_hash(arena_printf(b->a, "%s/%s", dir, f->path), dst,
		    strcmp(f->path, "data.mdb") == 0 ? 0600 : 0640, sha, &size);
		if (rc != 0) {
			*why = arena_printf(b->a, "%s: %s", f->path, rc ==
			    FCRM_NOT_FOUND ? "missing from the backup" :
			    "cannot copy it");
			return rc;
		}
		if (size != f->size || strcmp(sha, f->sha) != 0) {
			*why = arena_printf(b->a, "%s: its checksum or size "
			    "does not match the manifest (damaged backup)",
			    f->path);
			return FCRM_CONFLICT;
		}
		if (geteuid() == 0 && chown(dst, uid, gid) != 0)
			return FCRM_IO;
		b->bytes += size;
	}
	if (geteuid() == 0 && chown(arena_printf(b->a, "%s/attachments",
	    staging), uid, gid) != 0)
		return FCRM_IO;
	fsync_path(arena_printf(b->a, "%s/attachments", staging));
	return 0;
}

/* The restored store: every entity has the manifest's record count. */
static int
check_counts(struct bk *b, const struct json *m, const char **why)
{
	struct store		*st = NULL;
	struct store_txn	*t = NULL;
	const struct json	*want = json_get(m, "records"), *w;
	double			 n;
	size_t			 i;
	int			 rc;

	if ((rc = entity_store_open(b->conf, NULL, &st, why)) != 0) {
		*why = "the restored store does not open";
		goto out;
	}
	if ((rc = store_begin(st, 0, &t)) != 0)
		goto out;
	for (i = 0; i < entity_count(); i++) {
		b->e = entity_at(i);
		b->live = b->all = 0;
		if ((rc = store_iter(t, b->e->db_rec, 1, NULL, 0, count_rec,
		    b)) != 0)
			goto out;
		w = json_get(want, b->e->name);
		if (w != NULL && (!json_tonum(w, &n) || n != (double)b->live)) {
			*why = arena_printf(b->a, "the restored store has %zu "
			    "%s records; the manifest says %.0f", b->live,
			    b->e->name, n);
			rc = FCRM_CONFLICT;
			goto out;
		}
		b->records += b->live;
	}
out:
	store_abort(t);
	entity_store_close(st);
	return rc;
}

int
entity_restore(const struct conf *conf, const char *dir, int force,
    struct entity_backup_stats *bs, const char **why)
{
	struct bk	 b;
	struct json	*m;
	struct stat	 sb;
	char		*staging = NULL;
	int		 rc, has;

	memset(bs, 0, sizeof(*bs));
	*why = NULL;
	if (entity_init(conf, why) != 0)
		return FCRM_CONFIG;
	memset(&b, 0, sizeof(b));
	if ((b.a = arena_new()) == NULL)
		return FCRM_IO;
	b.conf = conf;
	if ((rc = read_manifest(&b, dir, &m, why)) != 0)
		goto out;
	if (store_in_use(conf->data_dir) != 0) {
		*why = "the store in data_dir is open in another process "
		    "(fastcrm is serving?); stop it first";
		rc = FCRM_CONFLICT;
		goto out;
	}
	if ((has = dir_has_entries(conf->data_dir)) < 0) {
		*why = "cannot read data_dir";
		rc = FCRM_IO;
		goto out;
	}
	if (has && !force) {
		*why = "data_dir is not empty; restore into an empty "
		    "directory, or give --force to move the store that is "
		    "there aside";
		rc = FCRM_CONFLICT;
		goto out;
	}
	if (mkdir(conf->data_dir, 0700) != 0 && errno != EEXIST) {
		*why = "cannot create data_dir";
		rc = FCRM_IO;
		goto out;
	}
	if (stat(conf->data_dir, &sb) != 0) {
		rc = FCRM_IO;
		goto out;
	}
	staging = arena_printf(b.a, "%s/.restore-%d", conf->data_dir,
	    (int)getpid());
	if (mkdir(staging, 0700) != 0) {
		*why = "cannot create a staging directory in data_dir";
		rc = FCRM_IO;
		goto out;
	}
	if ((rc = stage(&b, dir, staging, sb.st_uid, sb.st_gid, why)) != 0)
		goto out;
	if (has && (rc = move_aside(&b, why)) != 0)
		goto out;
	/* The attachments first: the store appears only when complete. */
	if (rename(arena_printf(b.a, "%s/attachments", staging),
	    arena_printf(b.a, "%s/attachments", conf->data_dir)) != 0 ||
	    rename(arena_printf(b.a, "%s/data.mdb", staging),
	    arena_printf(b.a, "%s/data.mdb", conf->data_dir)) != 0) {
		*why = "cannot move the restored files into data_dir";
		rc = FCRM_IO;
		goto out;
	}
	fsync_path(conf->data_dir);
	rc = check_counts(&b, m, why);
	if (rc == 0 && geteuid() == 0 && chown(arena_printf(b.a,
	    "%s/lock.mdb", conf->data_dir), sb.st_uid, sb.st_gid) != 0)
		rc = FCRM_IO;
	bs->records = b.records;
	bs->files = b.nfiles - 1;
	bs->bytes = b.bytes;
out:
	if (staging != NULL)
		rm_tree(staging);
	*why = util_kept(*why);
	arena_free(b.a);
	if (rc != 0 && *why == NULL)
		*why = error_reason(rc);
	return rc;
}

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

struct fck {
	struct bk	 b;
	struct arena	*a;
	struct arena	*tmp;		/* one record's parse */
	const char	*dir;
	size_t		 problems;
};

static void
fproblem(struct fck *c, const char *msg)
{
	c->problems++;
	if (c->problems <= 50)
		fprintf(stderr, "verify: attachments: %s\n", msg);
}

/* An Attachment record: its file is there, with the recorded size. */
static int
check_rec(void *arg, struct store_val k, struct store_val v)
{
	struct fck	*c = arg;
	struct json	*rec;
	struct stat	 sb;
	const char	*id, *s, *why;
	double		 size;

	arena_reset(c->tmp);
	id = arena_strndup(c->tmp, k.p, k.len);
	if (!util_id_valid(id))
		return 0;
	add_id(&c->b, k.p, k.len);
	if (json_parse(c->tmp, v.p, v.len, &rec, &why) != 0)
		return 0;
	if (stat(arena_printf(c->tmp, "%s/%s", c->dir, id), &sb) != 0) {
		fproblem(c, arena_printf(c->tmp, "Attachment %s: its file "
		    "attachments/%s is missing", id, id));
		return 0;
	}
	s = json_gets(rec, "name");
	if (json_tonum(json_get(rec, "size"), &size) &&
	    (double)sb.st_size != size)
		fproblem(c, arena_printf(c->tmp, "Attachment %s (%s): the "
		    "file has %lld bytes, the record says %.0f", id, s != NULL ?
		    s : "", (long long)sb.st_size, size));
	return 0;
}

int
engine_verify_files(const struct conf *conf, struct store_txn *t,
    size_t *problems)
{
	const struct entity	*ae;
	struct fck		 c;
	struct dirent		*de;
	struct stat		 sb;
	DIR			*d;
	time_t			 t0 = time(NULL);
	char			*name;
	int			 rc;

	*problems = 0;
	if ((ae = entity_find("Attachment")) == NULL)
		return 0;
	memset(&c, 0, sizeof(c));
	if ((c.a = arena_new()) == NULL || (c.tmp = arena_new()) == NULL) {
		arena_free(c.a);
		return FCRM_IO;
	}
	c.b.a = c.a;
	c.dir = arena_printf(c.a, "%s/attachments", conf->data_dir);
	if ((rc = store_iter(t, ae->db_rec, 1, NULL, 0, check_rec, &c)) != 0)
		goto out;
	if (c.b.nids > 1)
		qsort(c.b.ids, c.b.nids, sizeof(*c.b.ids), cmp_str);
	if ((d = opendir(c.dir)) == NULL)
		goto out;
	while ((de = readdir(d)) != NULL) {
		/* Dot files: uploads being written (.tmp-*), . and .. */
		if (de->d_name[0] == '.')
			continue;
		name = de->d_name;
		if (c.b.nids > 0 && bsearch(&name, c.b.ids, c.b.nids,
		    sizeof(*c.b.ids), cmp_str) != NULL)
			continue;
		/* A file renamed into place whose record is not committed
		   yet is an upload in flight, not an orphan. */
		if (fstatat(dirfd(d), name, &sb, AT_SYMLINK_NOFOLLOW) == 0 &&
		    sb.st_mtime > t0 - UPLOAD_GRACE)
			continue;
		fproblem(&c, arena_printf(c.a, "file attachments/%s belongs "
		    "to no Attachment record", name));
	}
	closedir(d);
	fprintf(stderr, "verify: attachments: %zu files checked\n", c.b.nids);
out:
	*problems = c.problems;
	arena_free(c.tmp);
	arena_free(c.a);
	return rc;
}

int
entity_probe(struct ectx *c, struct store_info *si, int readers)
{
	struct store_txn	**t;
	size_t			  n;
	int			  rc;

	t = arena_calloc(c->arena, 1, sizeof(*t));
	if ((rc = store_begin(c->store, 0, t)) != 0)
		return rc;
	arena_cleanup(c->arena, store_abort_cleanup, t);
	if ((rc = store_count(*t, engine_db_meta, &n)) != 0)
		return rc;
	store_abort(*t);
	*t = NULL;
	return store_info(c->store, si, readers);
}
