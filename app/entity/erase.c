/*
 * Erasure: purge (soft-deleted records removed for good, with their index
 * entries, password hashes and attachment files) and erase (one person,
 * for a data subject's request: their record, the recordings of calls
 * with them, the notes and files about them, and every copy of their
 * name, numbers and emails in the records that point to them).  Both log
 * what they did by entity and count, never the erased values.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "fastcrm/conf.h"
#include "fastcrm/entity.h"
#include "fastcrm/error.h"
#include "fastcrm/log.h"
#include "fastcrm/store.h"
#include "fastcrm/util.h"
#include "engine.h"

#define PURGE_BATCH	10000

struct eraser {
	const struct conf	*conf;
	struct store		*st;
	struct store_txn	*t;
	struct arena		*a;
	struct principal	 who;
	char			**files;	/* unlinked after the commit */
	size_t			 nfiles;
};

/* Lists of ids (malloc'd). */
struct idlist {
	char	**v;
	size_t	  n, cap;
};

static int
idlist_add(struct idlist *l, const char *p, size_t n)
{
	char	**nv;

	if (l->n == l->cap) {
		l->cap = l->cap == 0 ? 64 : l->cap * 2;
		if ((nv = realloc(l->v, l->cap * sizeof(*nv))) == NULL)
			return FCRM_IO;
		l->v = nv;
	}
	if ((l->v[l->n] = malloc(n + 1)) == NULL)
		return FCRM_IO;
	memcpy(l->v[l->n], p, n);
	l->v[l->n][n] = '\0';
	l->n++;
	return 0;
}

static void
idlist_free(struct idlist *l)
{
	size_t	 i;

	for (i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
	memset(l, 0, sizeof(*l));
}

static int
eraser_open(struct eraser *x, const struct conf *conf, const char *who,
    const char **why)
{
	memset(x, 0, sizeof(*x));
	x->conf = conf;
	if (entity_init(conf, why) != 0)
		return FCRM_CONFIG;
	if (entity_store_open(conf, NULL, &x->st, why) != 0)
		return FCRM_STORE;
	x->a = arena_new();
	x->who.id = "00000000000000000";
	(void)who;
	x->who.name = "system";
	x->who.user_name = "system";
	x->who.type = "system";
	x->who.admin = 1;
	return 0;
}

static void
setup_ctx(struct eraser *x, struct ectx *c)
{
	entity_ctx(c, x->a, x->conf, x->st);
	c->system = 0;		/* the system principal, by who */
	c->who = &x->who;
	c->trusted = 1;
}

static void
eraser_close(struct eraser *x)
{
	size_t	 i;

	store_abort(x->t);
	for (i = 0; i < x->nfiles; i++)
		free(x->files[i]);
	free(x->files);
	arena_free(x->a);
	entity_store_close(x->st);
}

/* An attachment's file, to unlink once the removal is committed. */
static int
remember_file(struct eraser *x, const char *id)
{
	char	**nv;

	if ((nv = realloc(x->files, (x->nfiles + 1) * sizeof(*nv))) == NULL)
		return FCRM_IO;
	x->files = nv;
	if (asprintf(&x->files[x->nfiles], "%s/attachments/%s",
	    x->conf->data_dir, id) < 0)
		return FCRM_IO;
	x->nfiles++;
	return 0;
}

/* Unlinks the remembered files; counts those that were there. */
static size_t
unlink_files(struct eraser *x)
{
	size_t	 i, n = 0;
	char	*dir;
	int	 fd;

	for (i = 0; i < x->nfiles; i++)
		if (unlink(x->files[i]) == 0)
			n++;
	if (x->nfiles > 0 && asprintf(&dir, "%s/attachments",
	    x->conf->data_dir) >= 0) {
		if ((fd = open(dir, O_RDONLY | O_DIRECTORY)) >= 0) {
			fsync(fd);
			close(fd);
		}
		free(dir);
	}
	for (i = 0; i < x->nfiles; i++)
		free(x->files[i]);
	x->nfiles = 0;
	return n;
}

/* A stored record, deleted or not. */
static int
load_any(struct eraser *x, const struct entity *e, const char *id,
    struct json **rec)
{
	struct store_val	 v;
	const char		*why;
	int			 rc;

	*rec = NULL;
	if (!util_id_valid(id))
		return FCRM_NOT_FOUND;
	if ((rc = store_get(x->t, e->db_rec, id, strlen(id), &v)) != 0)
		return rc;
	if (json_parse(x->a, v.p, v.len, rec, &why) != 0)
		return FCRM_STORE;
	return 0;
}

/* Removes one record for good (and its file, its password hash). */
static int
remove_record(struct eraser *x, const struct entity *e, const char *id)
{
	struct json	*rec;
	struct ectx	 c;
	char		 key[40];
	int		 rc;

	if ((rc = load_any(x, e, id, &rec)) != 0)
		return rc == FCRM_NOT_FOUND ? 0 : rc;
	setup_ctx(x, &c);
	if ((rc = engine_remove(&c, x->t, e, rec)) != 0)
		return rc;
	if (strcmp(e->name, "Attachment") == 0 &&
	    (rc = remember_file(x, id)) != 0)
		return rc;
	snprintf(key, sizeof(key), "pw:%s", id);
	rc = store_del(x->t, engine_db_meta, key, strlen(key), NULL, 0);
	return rc == FCRM_NOT_FOUND ? 0 : rc;
}

/* "30d", "12h", "15m", "90s", "2w", or plain seconds. */
static int
parse_duration(const char *s, long long *secs)
{
	char		*end;
	long long	 n;

	n = strtoll(s, &end, 10);
	if (end == s || n < 0)
		return -1;
	switch (*end) {
	case '\0':
	case 's':
		break;
	case 'm':
		n *= 60;
		break;
	case 'h':
		n *= 3600;
		break;
	case 'd':
		n *= 86400;
		break;
	case 'w':
		n *= 7 * 86400;
		break;
	default:
		return -1;
	}
	if (*end != '\0' && end[1] != '\0')
		return -1;
	*secs = n;
	return 0;
}

struct pscan {
	struct arena	*a;
	const char	*cutoff;
	struct idlist	 ids;
	int		 rc;
};

/* Deleted records whose deletion (modifiedAt) is at or before cutoff. */
static int
purge_scan(void *arg, struct store_val k, struct store_val v)
{
	struct pscan	*p = arg;
	struct json	*rec;
	const char	*why, *at;

	if (memmem(v.p, v.len, "\"deleted\":true", 14) == NULL)
		return 0;
	if (json_parse(p->a, v.p, v.len, &rec, &why) == 0 &&
	    json_truthy(json_get(rec, "deleted"))) {
		at = json_gets(rec, "modifiedAt");
		if (at == NULL || strcmp(at, p->cutoff) <= 0)
			p->rc = idlist_add(&p->ids, k.p, k.len);
	}
	arena_reset(p->a);
	return p->rc;
}

int
entity_purge_older(const struct conf *conf, long long secs, size_t *total,
    const char **why)
{
	struct eraser		 x;
	struct pscan		 p;
	const struct entity	*e;
	char			 cutoff[20];
	size_t			 i, j, files = 0;
	int			 rc;

	*total = 0;
	if ((rc = eraser_open(&x, conf, "purge", why)) != 0)
		return rc;
	util_datetime_fmt((long long)time(NULL) - secs, cutoff);
	for (i = 0; rc == 0 && i < entity_count(); i++) {
		e = entity_at(i);
		memset(&p, 0, sizeof(p));
		p.a = x.a;
		p.cutoff = cutoff;
		if ((rc = store_begin(x.st, 0, &x.t)) != 0)
			break;
		rc = store_iter(x.t, e->db_rec, 1, NULL, 0, purge_scan, &p);
		store_abort(x.t);
		x.t = NULL;
		if (rc == 0)
			rc = p.rc;
		for (j = 0; rc == 0 && j < p.ids.n; j++) {
			if (x.t == NULL && (rc = store_begin(x.st, 1, &x.t)) != 0)
				break;
			rc = remove_record(&x, e, p.ids.v[j]);
			arena_reset(x.a);
			if (rc == 0 && ((j + 1) % PURGE_BATCH == 0 ||
			    j + 1 == p.ids.n)) {
				rc = store_commit(x.t);
				x.t = NULL;
				files += unlink_files(&x);
			}
		}
		if (rc == 0 && p.ids.n > 0)
			log_info("purge: %s: %zu soft-deleted record(s) removed "
			    "(deleted before %s UTC)", e->name, p.ids.n, cutoff);
		*total += rc == 0 ? p.ids.n : 0;
		idlist_free(&p.ids);
	}
	if (rc == 0 && files > 0)
		log_info("purge: %zu attachment file(s) removed", files);
	if (rc != 0)
		*why = rc == FCRM_MAP_FULL ? "the store is full" :
		    error_reason(rc);
	eraser_close(&x);
	return rc;
}

static volatile sig_atomic_t	 purge_stop;

static void
on_term(int sig)
{
	(void)sig;
	purge_stop = 1;
}

void
entity_purge_run(const struct conf *conf, int life)
{
	struct sigaction	 sa;
	struct pollfd		 pfd;
	const char		*why;
	long long		 period;
	size_t			 n;
	int			 rc;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_term;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	period = conf->purge_deleted_after < 3600 ?
	    conf->purge_deleted_after : 3600;
	if (period < 1)
		period = 1;
	log_info("purge: soft-deleted records older than %lld s are removed, "
	    "looking every %lld s", conf->purge_deleted_after, period);
	while (!purge_stop) {
		pfd.fd = life;
		pfd.events = POLLIN;
		pfd.revents = 0;
		rc = poll(&pfd, 1, (int)(period * 1000));
		if (rc > 0 || purge_stop)
			break;		/* the master is gone, or stops us */
		if (rc < 0 && errno != EINTR)
			break;
		if (rc < 0)
			continue;
		why = NULL;
		if (entity_purge_older(conf, conf->purge_deleted_after, &n,
		    &why) != 0)
			log_warn("purge: %s", why != NULL ? why : "failed");
	}
	_exit(0);
}

int
entity_purge(const struct conf *conf, const char *before, const char **why)
{
	long long	 secs;
	size_t		 n;
	int		 rc;

	if (parse_duration(before, &secs) != 0) {
		*why = "--deleted-before takes a duration: 30d, 12h, 15m, 90s";
		return FCRM_BAD_REQUEST;
	}
	if ((rc = entity_purge_older(conf, secs, &n, why)) == 0)
		printf("purge: %zu record(s) removed for good\n", n);
	return rc;
}

/* What identifies the person: name, numbers, emails (arena strings). */
struct person {
	const char	*v[64];
	size_t		 n;
};

static void
person_add(struct person *p, const char *s)
{
	size_t	 i;

	if (s == NULL || strlen(s) < 3 || p->n == 64)
		return;
	for (i = 0; i < p->n; i++)
		if (strcmp(p->v[i], s) == 0)
			return;
	p->v[p->n++] = s;
}

static void
person_points(struct arena *a, struct person *p, const struct json *rec,
    const char *data, const char *key)
{
	const struct json	*d = json_get(rec, data);
	const char		*s;
	size_t			 i;

	person_add(p, json_gets(rec, key));
	for (i = 0; d != NULL && d->type == JSON_ARRAY && i < d->n; i++) {
		s = json_gets(d->v[i], key);
		person_add(p, s);
		if (s != NULL && strcmp(key, "phoneNumber") == 0)
			person_add(p, util_digits(a, s));
	}
}

/* s with every copy of the person's values replaced; NULL if none. */
static char *
scrub(struct arena *a, const struct person *p, const char *s)
{
	struct buf	 b;
	const char	*hit, *best;
	size_t		 i, blen = 0;
	int		 changed = 0;

	buf_init(&b, a);
	for (;;) {
		best = NULL;
		for (i = 0; i < p->n; i++) {
			hit = strcasestr(s, p->v[i]);
			if (hit != NULL && (best == NULL || hit < best ||
			    (hit == best && strlen(p->v[i]) > blen))) {
				best = hit;
				blen = strlen(p->v[i]);
			}
		}
		if (best == NULL)
			break;
		buf_add(&b, s, (size_t)(best - s));
		buf_adds(&b, "[erased]");
		s = best + blen;
		changed = 1;
	}
	if (!changed)
		return NULL;
	buf_adds(&b, s);
	buf_addc(&b, '\0');
	return b.p;
}

/* 1 if rec points to the person (entity pe, id). */
static int
points_to(const struct entity *e, const struct json *rec,
    const struct entity *pe, const char *id)
{
	const struct field	*f;
	const struct json	*v;
	const char		*pt;
	size_t			 i, j;

	for (i = 0; i < e->nfields; i++) {
		f = &e->fields[i];
		v = json_get(rec, f->name);
		if (v == NULL)
			continue;
		if (f->type == FT_LINK && strcmp(f->target, pe->name) == 0 &&
		    v->type == JSON_STRING && strcmp(v->s, id) == 0)
			return 1;
		if (f->type == FT_LINKMULTI && strcmp(f->target, pe->name) == 0
		    && v->type == JSON_ARRAY)
			for (j = 0; j < v->n; j++)
				if (v->v[j]->type == JSON_STRING &&
				    strcmp(v->v[j]->s, id) == 0)
					return 1;
		if (f->type == FT_PARENT && v->type == JSON_STRING &&
		    strcmp(v->s, id) == 0 && (pt = json_gets(rec,
		    "parentType")) != NULL && strcmp(pt, pe->name) == 0)
			return 1;
	}
	return 0;
}

/*
 * The changes that take the person out of rec: links to them cleared,
 * copies of their values replaced.  Into body (the engine's update) and
 * into raw (a deleted record, rewritten as it is).
 */
static void
unlink_person(struct arena *a, const struct entity *e, struct json *rec,
    struct json *body, const struct entity *pe, const char *id,
    const struct person *p)
{
	const struct field	*f;
	struct json		*v, *nv, *names;
	const char		*pt;
	char			*s;
	size_t			 i, j;

	for (i = 0; i < e->nfields; i++) {
		f = &e->fields[i];
		v = json_get(rec, f->name);
		if (v == NULL)
			continue;
		if (f->type == FT_LINK && strcmp(f->target, pe->name) == 0 &&
		    v->type == JSON_STRING && strcmp(v->s, id) == 0) {
			json_set(a, body, f->name, json_null(a));
			json_set(a, rec, f->name, json_null(a));
			json_set(a, rec, engine_name_attr(a, f->name), json_null(a));
		} else if (f->type == FT_LINKMULTI &&
		    strcmp(f->target, pe->name) == 0 && v->type == JSON_ARRAY) {
			nv = json_arr(a);
			for (j = 0; j < v->n; j++)
				if (v->v[j]->type != JSON_STRING ||
				    strcmp(v->v[j]->s, id) != 0)
					json_push(a, nv, v->v[j]);
			if (nv->n != v->n) {
				json_set(a, body, f->name, nv);
				json_set(a, rec, f->name, nv);
				names = json_get(rec, engine_name_attr(a, f->name));
				if (names != NULL && names->type == JSON_OBJECT)
					json_del(names, id);
			}
		} else if (f->type == FT_PARENT && v->type == JSON_STRING &&
		    strcmp(v->s, id) == 0 && (pt = json_gets(rec,
		    "parentType")) != NULL && strcmp(pt, pe->name) == 0) {
			json_set(a, body, "parentId", json_null(a));
			json_set(a, body, "parentType", json_null(a));
			json_set(a, rec, "parentId", json_null(a));
			json_set(a, rec, "parentType", json_null(a));
			json_set(a, rec, "parentName", json_null(a));
		}
	}
	/* Copies in text: a call named after the caller's number. */
	for (i = 0; i < e->nfields; i++) {
		f = &e->fields[i];
		if ((f->type != FT_VARCHAR && f->type != FT_TEXT) ||
		    (f->flags & F_READONLY) ||
		    (s = (char *)json_gets(rec, f->name)) == NULL ||
		    (s = scrub(a, p, s)) == NULL)
			continue;
		json_set(a, body, f->name, json_str(a, s));
		json_set(a, rec, f->name, json_str(a, s));
	}
}

struct escan {
	struct arena		*a;
	const struct entity	*e, *pe;
	const char		*id;
	struct idlist		 ids;
	int			 rc;
};

static int
erase_scan(void *arg, struct store_val k, struct store_val v)
{
	struct escan	*s = arg;
	struct json	*rec;
	const char	*why;

	if (memmem(v.p, v.len, s->id, strlen(s->id)) == NULL)
		return 0;
	if (json_parse(s->a, v.p, v.len, &rec, &why) == 0 &&
	    points_to(s->e, rec, s->pe, s->id))
		s->rc = idlist_add(&s->ids, k.p, k.len);
	return s->rc;
}

/*
 * The link names of rec (the person's taken out) into the stored record
 * out, rewritten in place: names carry no index entries.
 */
static int
names_as(struct eraser *x, const struct entity *e, struct json *out,
    const struct json *rec)
{
	const struct field	*f;
	const struct json	*v;
	struct buf		 b;
	const char		*id;
	size_t			 i;
	int			 changed = 0;

	for (i = 0; i < e->nfields; i++) {
		f = &e->fields[i];
		if (f->type != FT_NAME || (f->flags & F_INDEXED) ||
		    strcmp(f->name, "name") == 0)
			continue;
		v = json_get(rec, f->name);
		if (v != NULL && !json_equal(v, json_get(out, f->name))) {
			json_set(x->a, out, f->name, json_copy(x->a, v));
			changed = 1;
		}
	}
	if (!changed)
		return 0;
	id = json_gets(out, "id");
	buf_init(&b, x->a);
	json_write(&b, out);
	return store_put(x->t, e->db_rec, id, strlen(id), b.p, b.len);
}

/*
 * Stores rec, the person taken out of it: a live record through the
 * engine's update with body (indexes, computed values), then its link
 * names as ours; a deleted one rewritten as it is.
 */
static int
write_back(struct eraser *x, const struct entity *e, const char *rid,
    const struct json *rec, const struct json *body, const char **why)
{
	struct json	*out;
	struct ectx	 c;
	struct buf	 b;
	int		 rc;

	if (!json_truthy(json_get(rec, "deleted"))) {
		setup_ctx(x, &c);
		if ((rc = entity_update_in(&c, x->t, e, rid, body, &out)) != 0) {
			*why = c.fault.reason;
			return rc;
		}
		/* The engine keeps xName when xId becomes null: copy ours. */
		return names_as(x, e, out, rec);
	}
	buf_init(&b, x->a);
	json_write(&b, rec);
	return store_put(x->t, e->db_rec, rid, strlen(rid), b.p, b.len);
}

/* Takes the person out of record rid of entity e. */
static int
clean_one(struct eraser *x, const struct entity *e, const char *rid,
    const struct entity *pe, const char *id, const struct person *p,
    size_t *recordings, size_t *removed, const char **why)
{
	struct json	*rec, *body;
	const char	*rec_id, *pt;
	int		 rc;

	if ((rc = load_any(x, e, rid, &rec)) != 0)
		return rc == FCRM_NOT_FOUND ? 0 : rc;
	pt = json_gets(rec, "parentType");
	/* Notes and files about the person go with them. */
	if ((strcmp(e->name, "Note") == 0 ||
	    strcmp(e->name, "Attachment") == 0) && pt != NULL &&
	    strcmp(pt, pe->name) == 0 && json_gets(rec, "parentId") != NULL &&
	    strcmp(json_gets(rec, "parentId"), id) == 0) {
		(*removed)++;
		return remove_record(x, e, rid);
	}
	body = json_obj(x->a);
	/* The recording of a call with them. */
	if ((rec_id = json_gets(rec, "recordingId")) != NULL &&
	    *rec_id != '\0') {
		if ((rc = remove_record(x, entity_find("Attachment"),
		    rec_id)) != 0)
			return rc;
		(*recordings)++;
		json_set(x->a, body, "recordingId", json_null(x->a));
		json_set(x->a, rec, "recordingId", json_null(x->a));
		json_set(x->a, rec, "recordingName", json_null(x->a));
	}
	unlink_person(x->a, e, rec, body, pe, id, p);
	return write_back(x, e, rid, rec, body, why);
}

struct vscan {
	const struct person	*p;
	struct idlist		 ids;
	char			*tmp;
	size_t			 cap;
	int			 rc;
};

/* Records whose text holds any of the person's values. */
static int
value_scan(void *arg, struct store_val k, struct store_val v)
{
	struct vscan	*s = arg;
	char		*n;
	size_t		 i;

	if (v.len + 1 > s->cap) {
		if ((n = realloc(s->tmp, v.len + 1)) == NULL)
			return FCRM_IO;
		s->tmp = n;
		s->cap = v.len + 1;
	}
	memcpy(s->tmp, v.p, v.len);
	s->tmp[v.len] = '\0';
	for (i = 0; i < s->p->n; i++)
		if (strcasestr(s->tmp, s->p->v[i]) != NULL) {
			s->rc = idlist_add(&s->ids, k.p, k.len);
			break;
		}
	return s->rc;
}

/*
 * Copies of copies: a note's parentName holds the case's name, which held
 * hers.  Every text and name attribute that still has one of her values
 * gets [erased] instead.
 */
static int
scrub_record(struct eraser *x, const struct entity *e, const char *rid,
    const struct person *p, int *changed, const char **why)
{
	const struct field	*f;
	struct json		*rec, *body;
	const char		*v;
	char			*sv;
	size_t			 i;
	int			 rc;

	*changed = 0;
	if ((rc = load_any(x, e, rid, &rec)) != 0)
		return rc == FCRM_NOT_FOUND ? 0 : rc;
	body = json_obj(x->a);
	for (i = 0; i < e->nfields; i++) {
		f = &e->fields[i];
		if ((f->type != FT_VARCHAR && f->type != FT_TEXT &&
		    f->type != FT_NAME) ||
		    (v = json_gets(rec, f->name)) == NULL ||
		    (sv = scrub(x->a, p, v)) == NULL)
			continue;
		if (f->type != FT_NAME && !(f->flags & F_READONLY))
			json_set(x->a, body, f->name, json_str(x->a, sv));
		json_set(x->a, rec, f->name, json_str(x->a, sv));
		*changed = 1;
	}
	if (!*changed)
		return 0;
	return write_back(x, e, rid, rec, body, why);
}

/* The second pass over every entity; *n records changed. */
static int
scrub_all(struct eraser *x, const struct person *p, size_t *n,
    const char **why)
{
	struct vscan		 s;
	const struct entity	*e;
	size_t			 i, j;
	int			 rc = 0, changed;

	*n = 0;
	for (i = 0; rc == 0 && i < entity_count(); i++) {
		e = entity_at(i);
		memset(&s, 0, sizeof(s));
		s.p = p;
		rc = store_iter(x->t, e->db_rec, 1, NULL, 0, value_scan, &s);
		if (rc == 0)
			rc = s.rc;
		for (j = 0; rc == 0 && j < s.ids.n; j++) {
			rc = scrub_record(x, e, s.ids.v[j], p, &changed, why);
			*n += changed;
		}
		free(s.tmp);
		idlist_free(&s.ids);
	}
	return rc;
}

/*
 * LMDB keeps bytes of what was changed: in free pages (old versions) and
 * in the gaps of live pages (removed entries; page buffers a process
 * reused without clearing them, in any database).  So, in a freshly
 * opened environment, every database is written anew and then the free
 * pages are overwritten (store_scour).
 */
static int
scour(struct eraser *x, size_t *wiped)
{
	const char	*why;

	entity_store_close(x->st);
	x->st = NULL;
	if (entity_store_open(x->conf, NULL, &x->st, &why) != 0)
		return FCRM_STORE;
	return store_scour(x->st, engine_db_meta, wiped);
}

int
entity_erase(const struct conf *conf, const char *entity, const char *id,
    const char **why)
{
	struct eraser		 x;
	struct escan		 s;
	struct person		 p;
	const struct entity	*pe, *e;
	struct json		*rec;
	size_t			 i, j, n, cleaned = 0, recordings = 0;
	size_t			 removed = 0;
	size_t			 files, copies = 0, wiped = 0;
	char			 what[1024];
	int			 rc;

	*why = NULL;
	if ((rc = eraser_open(&x, conf, "erase", why)) != 0)
		return rc;
	what[0] = '\0';
	if ((pe = entity_find(entity)) == NULL) {
		*why = "unknown entity";
		rc = FCRM_NOT_FOUND;
		goto out;
	}
	if ((rc = store_begin(x.st, 1, &x.t)) != 0)
		goto out;
	if ((rc = load_any(&x, pe, id, &rec)) != 0) {
		*why = rc == FCRM_NOT_FOUND ? "no such record" :
		    error_reason(rc);
		goto out;
	}
	memset(&p, 0, sizeof(p));
	person_add(&p, json_gets(rec, "name"));
	if (json_gets(rec, "firstName") != NULL &&
	    json_gets(rec, "lastName") != NULL)
		person_add(&p, arena_printf(x.a, "%s %s",
		    json_gets(rec, "lastName"), json_gets(rec, "firstName")));
	person_points(x.a, &p, rec, "phoneNumberData", "phoneNumber");
	person_points(x.a, &p, rec, "emailAddressData", "emailAddress");
	for (i = 0; i < entity_count(); i++) {
		e = entity_at(i);
		memset(&s, 0, sizeof(s));
		s.a = arena_new();
		s.e = e;
		s.pe = pe;
		s.id = id;
		rc = store_iter(x.t, e->db_rec, 1, NULL, 0, erase_scan, &s);
		arena_free(s.a);
		if (rc == 0)
			rc = s.rc;
		for (j = n = 0; rc == 0 && j < s.ids.n; j++)
			if (strcmp(s.ids.v[j], id) != 0 || e != pe) {
				rc = clean_one(&x, e, s.ids.v[j], pe, id, &p,
				    &recordings, &removed, why);
				n++;
			}
		if (rc == 0 && n > 0) {
			cleaned += n;
			snprintf(what + strlen(what), sizeof(what) -
			    strlen(what), "%s%zu %s", what[0] != '\0' ? ", " :
			    "", n, e->name);
		}
		idlist_free(&s.ids);
		if (rc != 0)
			goto out;
	}
	if ((rc = remove_record(&x, pe, id)) != 0 ||
	    (rc = scrub_all(&x, &p, &copies, why)) != 0)
		goto out;
	rc = store_commit(x.t);
	x.t = NULL;
	if (rc != 0)
		goto out;
	files = unlink_files(&x);
	if ((rc = scour(&x, &wiped)) != 0) {
		*why = "erased, but the old pages could not be overwritten";
		goto out;
	}
	log_info("erase: %s %s removed; %zu record(s) that pointed to it "
	    "cleaned (%s), %zu of them removed with it, %zu recording(s) and "
	    "%zu file(s) removed, %zu more record(s) with copies of the "
	    "values cleaned; %zu free page(s) overwritten", pe->name, id,
	    cleaned, what[0] != '\0' ? what : "none", removed, recordings,
	    files, copies, wiped);
	log_info("erase: reload fastcrm (kill -HUP <master pid>) so that its "
	    "workers drop page buffers that may still hold the erased values");
	printf("erase: %s %s removed; %zu record(s) cleaned\n", pe->name, id,
	    cleaned);
out:
	if (rc != 0 && *why == NULL)
		*why = rc == FCRM_MAP_FULL ? "the store is full" :
		    error_reason(rc);
	*why = util_kept(*why);
	eraser_close(&x);
	return rc;
}
