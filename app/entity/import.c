/*
 * The importer: rows of any entity through the engine's ordinary create
 * and update (validation, duplicate check, link names, indexes), in large
 * transactions.  It owns the import modes (create, update, upsert) and
 * matching, the reject file, rows whose links point to records not there
 * yet (kept in the store's meta table and retried at the end, so that a
 * resumed migration keeps them too), counters that continue after the
 * highest imported number, progress and the summary.
 */
#include <sys/time.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fastcrm/conf.h"
#include "fastcrm/entity.h"
#include "fastcrm/error.h"
#include "fastcrm/store.h"
#include "fastcrm/util.h"
#include "engine.h"
#include "import.h"
#include "normal.h"

#define BATCH		20000
#define SHOWN_REJECTS	20

/* What happened to a row. */
enum outcome {
	ROW_CREATED,
	ROW_UPDATED,
	ROW_UNCHANGED,
	ROW_DUPLICATE,
	ROW_REJECTED,
	ROW_DEFERRED,
};

/* How a row's missing links are handled. */
enum pass {
	PASS_FIRST,	/* defer the row */
	PASS_RETRY,	/* leave it deferred */
	PASS_LAST,	/* reject it */
};

struct estat {
	size_t	 n[ROW_DEFERRED + 1];
};

struct importer {
	const struct conf	*conf;
	struct import_opts	 o;
	char			 tag[64];
	struct store		*st;
	struct store_txn	*t;
	struct arena		*la;		/* one row */
	struct principal	 who;
	int			 meta;
	int			 counters;
	struct estat		*stats;		/* per entity_at() index */
	size_t			 inbatch, rows, nrejected, committed;
	unsigned long long	 seq;		/* deferred rows' keys */
	FILE			*rej;
	char			*rejpath;
	double			 t0, last;
	int			 tty;
	/* strict mode's stop: where and why */
	char			 stop[512];
};

static size_t
eidx(const struct entity *e)
{
	size_t	 i;

	for (i = 0; i < entity_count(); i++)
		if (entity_at(i) == e)
			return i;
	return 0;
}

static void
setup_ctx(struct importer *imp, struct ectx *c)
{
	entity_ctx(c, imp->la, imp->conf, imp->st);
	c->system = 0;		/* the system principal, by who */
	c->who = &imp->who;
	c->import = 1;
	c->import_dups = !imp->o.no_dup_check;
	c->trusted = 1;
}

struct importer *
importer_open(const struct conf *conf, const struct import_opts *o,
    const char *tag, const char **why)
{
	struct importer	*imp;

	*why = NULL;
	if ((imp = calloc(1, sizeof(*imp))) == NULL) {
		*why = "out of memory";
		return NULL;
	}
	imp->conf = conf;
	imp->o = *o;
	if (imp->o.mode == NULL)
		imp->o.mode = "create";
	if (imp->o.match == NULL)
		imp->o.match = "id";
	if (strcmp(imp->o.mode, "create") != 0 &&
	    strcmp(imp->o.mode, "update") != 0 &&
	    strcmp(imp->o.mode, "upsert") != 0) {
		*why = "--mode is create, update or upsert";
		free(imp);
		return NULL;
	}
	snprintf(imp->tag, sizeof(imp->tag), "%s", tag);
	if (entity_init(conf, why) != 0) {
		free(imp);
		return NULL;
	}
	if (entity_store_open(conf, NULL, &imp->st, why) != 0) {
		free(imp);
		return NULL;
	}
	imp->meta = engine_db_meta;
	imp->counters = engine_db_counters;
	imp->stats = calloc(entity_count(), sizeof(*imp->stats));
	imp->la = arena_new();
	imp->who.id = "00000000000000000";
	imp->who.name = "system";
	imp->who.user_name = "system";
	imp->who.type = "system";
	imp->who.admin = 1;
	imp->tty = isatty(STDERR_FILENO);
	imp->t0 = util_seconds();
	if (imp->stats == NULL || store_begin(imp->st, 1, &imp->t) != 0) {
		*why = "cannot begin a transaction";
		importer_abort(imp);
		return NULL;
	}
	return imp;
}

struct arena *
importer_arena(struct importer *imp)
{
	return imp->la;
}

struct store_txn *
importer_txn(struct importer *imp)
{
	return imp->t;
}

size_t
importer_rejected(const struct importer *imp)
{
	return imp->nrejected;
}

int
importer_commit(struct importer *imp, const char **why)
{
	int	 rc;

	rc = store_commit(imp->t);
	imp->t = NULL;
	if (rc == 0) {
		imp->committed += imp->inbatch;
		rc = store_begin(imp->st, 1, &imp->t);
	}
	if (rc != 0) {
		*why = rc == FCRM_MAP_FULL ? "the store is full; raise "
		    "map_size" : "cannot commit the batch";
		return rc;
	}
	imp->inbatch = 0;
	return 0;
}

void
importer_abort(struct importer *imp)
{
	if (imp == NULL)
		return;
	store_abort(imp->t);
	entity_store_close(imp->st);
	if (imp->rej != NULL)
		fclose(imp->rej);
	free(imp->rejpath);
	arena_free(imp->la);
	free(imp->stats);
	free(imp);
}

void
importer_stopped(const struct importer *imp)
{
	fprintf(stderr, "%sstopped at %s: the %zu record(s) written since the "
	    "last commit were NOT imported (their batch was rolled back), nor "
	    "anything after; %zu record(s) were committed before\n",
	    imp->tty ? "\n" : "", imp->stop[0] != '\0' ? imp->stop :
	    "an error", imp->inbatch, imp->committed);
}

static void
progress(struct importer *imp)
{
	size_t	 i, c = 0, u = 0;

	if (!imp->tty || util_seconds() - imp->last < 0.5)
		return;
	imp->last = util_seconds();
	for (i = 0; i < entity_count(); i++) {
		c += imp->stats[i].n[ROW_CREATED];
		u += imp->stats[i].n[ROW_UPDATED];
	}
	fprintf(stderr, "\r%s: %zu rows, %zu created, %zu updated, %zu "
	    "rejected, %.0f rows/s   ", imp->tag, imp->rows, c, u,
	    imp->nrejected, imp->rows / (imp->last - imp->t0 + 1e-9));
}

/* Writes a reject line: the file, the line, the reason, the row. */
static int
reject(struct importer *imp, const struct entity *e, const char *src,
    size_t line, const char *reason, const struct json *body,
    const char *text, const char **why)
{
	struct buf	 b;
	struct json	*o;
	struct arena	*a = imp->la;

	imp->nrejected++;
	imp->stats[eidx(e)].n[ROW_REJECTED]++;
	if (imp->nrejected <= SHOWN_REJECTS)
		fprintf(stderr, "%s%s: %s line %zu: %s\n", imp->tty ? "\n" : "",
		    e->name, src, line, reason);
	if (imp->o.strict) {
		snprintf(imp->stop, sizeof(imp->stop), "%s line %zu: %s", src,
		    line, reason);
		*why = imp->stop;
		return FCRM_BAD_REQUEST;
	}
	if (imp->rej == NULL && imp->o.rejects != NULL) {
		if ((imp->rej = fopen(imp->o.rejects, "w")) == NULL) {
			*why = "cannot write the reject file";
			return FCRM_IO;
		}
		imp->rejpath = strdup(imp->o.rejects);
	}
	if (imp->rej == NULL)
		return 0;
	o = json_obj(a);
	json_set(a, o, "file", json_str(a, src));
	json_set(a, o, "line", json_int(a, (long long)line));
	json_set(a, o, "entity", json_str(a, e->name));
	json_set(a, o, "reason", json_str(a, reason));
	if (body != NULL)
		json_set(a, o, "row", json_copy(a, body));
	else
		json_set(a, o, "text", json_strn(a, text, strlen(text) > 4096 ?
		    4096 : strlen(text)));
	buf_init(&b, a);
	json_write(&b, o);
	buf_addc(&b, '\n');
	if (fwrite(b.p, 1, b.len, imp->rej) != b.len) {
		*why = "cannot write the reject file";
		return FCRM_IO;
	}
	return 0;
}

int
importer_reject(struct importer *imp, const struct entity *e,
    const char *src, size_t line, const char *reason, const char *text,
    const char **why)
{
	int	 rc;

	rc = reject(imp, e, src, line, reason, NULL, text, why);
	arena_reset(imp->la);
	return rc;
}

/* 1 if record id of target exists (a configured principal for User). */
static int
exists(struct importer *imp, struct ectx *c, const char *target,
    const char *id, int *rc)
{
	const struct entity	*te;
	struct json		*rec;
	size_t			 i;

	*rc = 0;
	if (strcmp(target, "User") == 0 && strcmp(id, imp->who.id) == 0)
		return 1;
	if (strcmp(target, "User") == 0)
		for (i = 0; i < imp->conf->nusers; i++)
			if (strcmp(imp->conf->users[i].id, id) == 0)
				return 1;
	if ((te = entity_find(target)) == NULL)
		return 1;	/* the engine names the bad type */
	*rc = entity_load(c, imp->t, te, id, ACT_NONE, &rec, NULL);
	if (*rc == FCRM_NOT_FOUND) {
		*rc = 0;
		return 0;
	}
	return *rc == 0;
}

/*
 * Links of body to records that are not there: 0 when none, 1 with
 * *what naming the first, or a store error.  A read-only link to a User
 * who is not there (createdById: EspoCRM's "system") is dropped instead.
 */
static int
missing_links(struct importer *imp, struct ectx *c, const struct entity *e,
    struct json *body, const char **what)
{
	const struct field	*f;
	struct json		*v;
	const char		*ptype;
	size_t			 i, j;
	int			 rc;

	for (i = 0; i < e->nfields; i++) {
		f = &e->fields[i];
		if ((v = json_get(body, f->name)) == NULL)
			continue;
		if (f->type == FT_LINK && v->type == JSON_STRING &&
		    v->len > 0) {
			if (exists(imp, c, f->target, v->s, &rc))
				continue;
			if (rc != 0)
				return rc;
			if (((f->flags & F_READONLY) ||
			    imp->o.drop_missing_users) &&
			    strcmp(f->target, "User") == 0) {
				json_del(body, f->name);
				continue;
			}
			*what = arena_printf(c->arena, "%s '%.64s' (%s)",
			    f->target, v->s, f->name);
			return 1;
		}
		if (f->type == FT_LINKMULTI && v->type == JSON_ARRAY) {
			for (j = 0; j < v->n; j++) {
				if (v->v[j]->type != JSON_STRING ||
				    exists(imp, c, f->target, v->v[j]->s, &rc))
					continue;
				if (rc != 0)
					return rc;
				*what = arena_printf(c->arena, "%s '%.64s' "
				    "(%s)", f->target, v->v[j]->s, f->name);
				return 1;
			}
		}
		if (f->type == FT_PARENT && v->type == JSON_STRING &&
		    v->len > 0 && (ptype = json_gets(body, "parentType")) !=
		    NULL && strstr(f->target, ptype) != NULL &&
		    !exists(imp, c, ptype, v->s, &rc)) {
			if (rc != 0)
				return rc;
			*what = arena_printf(c->arena, "%s '%.64s' (parentId)",
			    ptype, v->s);
			return 1;
		}
	}
	return 0;
}

/* Stores a row whose links are not there yet, to retry at the end. */
static int
defer(struct importer *imp, const struct entity *e, const struct json *body,
    const char *src, size_t line)
{
	struct buf	 b;
	char		 key[128];

	buf_init(&b, imp->la);
	buf_printf(&b, "%s\n%s\n%zu\n", e->name, src, line);
	json_write(&b, body);
	snprintf(key, sizeof(key), "defer:%s:%020llu", imp->tag,
	    ++imp->seq);
	imp->stats[eidx(e)].n[ROW_DEFERRED]++;
	return store_put(imp->t, imp->meta, key, strlen(key), b.p, b.len);
}

/* The normalised index key of a --match value. */
static const char *
match_key(struct importer *imp, const struct field *f, const char *v)
{
	const char	*e164;

	if (f->type == FT_PHONE && (e164 = util_phone_e164(imp->la, v,
	    imp->conf->default_country_code)) != NULL)
		v = e164;
	return normal_key(imp->la, f, v);
}

/*
 * The existing record the row is about: 0 none, 1 with *id, 2 when
 * several match (*what says so), or an error.
 */
static int
find_match(struct importer *imp, struct ectx *c, const struct entity *e,
    const struct json *body, const char **id, const char **what)
{
	const struct field	*f;
	struct json		*rec;
	const char		*v, **ids;
	size_t			 fi, n;
	int			 rc;

	*id = NULL;
	if (strcmp(imp->o.match, "id") == 0) {
		if ((v = json_gets(body, "id")) == NULL || !util_id_valid(v))
			return 0;
		rc = entity_load(c, imp->t, e, v, ACT_NONE, &rec, NULL);
		if (rc == FCRM_NOT_FOUND)
			return 0;
		if (rc != 0)
			return rc;
		*id = v;
		return 1;
	}
	if ((f = entity_field(e, imp->o.match)) == NULL ||
	    e->db_ix[fi = (size_t)(f - e->fields)] < 0) {
		*what = arena_printf(c->arena, "--match %s: %s has no such "
		    "indexed attribute", imp->o.match, e->name);
		return 3;
	}
	if (f->type == FT_PHONE || f->type == FT_EMAIL) {
		v = json_gets(body, f->name);
		if (v == NULL) {
			struct json	*d = json_get(body, arena_printf(c->arena,
			    "%sData", f->name));

			if (d != NULL && d->type == JSON_ARRAY && d->n > 0)
				v = json_gets(d->v[0], f->type == FT_PHONE ?
				    "phoneNumber" : "emailAddress");
		}
	} else
		v = json_gets(body, f->name);
	if (v == NULL || *v == '\0')
		return 0;
	if ((rc = engine_index_ids(c->arena, imp->t, e->db_ix[fi],
	    match_key(imp, f, v), &ids, &n)) != 0)
		return rc;
	if (n == 0)
		return 0;
	if (n > 1) {
		*what = arena_printf(c->arena, "%zu %s records match %s "
		    "'%.100s'", n, e->name, f->name, v);
		return 2;
	}
	*id = ids[0];
	return 1;
}

/* Raises e's counter to the row's number when that is higher. */
static int
raise_counter(struct importer *imp, const struct entity *e,
    const struct json *rec)
{
	struct store_val	 sv;
	const struct json	*v;
	long long		 cur = 0, n;
	int			 rc;

	if (e->counter == NULL || (v = json_get(rec, "number")) == NULL ||
	    v->type != JSON_NUMBER)
		return 0;
	n = strtoll(v->s, NULL, 10);
	rc = store_get(imp->t, imp->counters, e->counter, strlen(e->counter),
	    &sv);
	if (rc == 0 && sv.len == sizeof(cur))
		memcpy(&cur, sv.p, sizeof(cur));
	else if (rc != 0 && rc != FCRM_NOT_FOUND)
		return rc;
	if (n <= cur)
		return 0;
	return store_put(imp->t, imp->counters, e->counter,
	    strlen(e->counter), &n, sizeof(n));
}

static int
fatal(int rc)
{
	return rc == FCRM_MAP_FULL || rc == FCRM_STORE || rc == FCRM_IO ||
	    rc == FCRM_CONFIG;
}

/* Create or update by the mode; the outcome in *oc. */
static int
apply(struct importer *imp, struct ectx *c, const struct entity *e,
    struct json *body, enum outcome *oc, const char **reason)
{
	struct json	*out, *old;
	const char	*id = NULL, *what = NULL;
	size_t		 before, after;
	int		 rc, m = 0;

	*reason = NULL;
	if (strcmp(imp->o.mode, "create") != 0) {
		m = find_match(imp, c, e, body, &id, &what);
		if (m == 2 || m == 3) {
			*oc = ROW_REJECTED;
			*reason = what;
			return m == 3 ? FCRM_BAD_REQUEST : 0;
		}
		if (m != 0 && m != 1)
			return m;
	}
	if (m == 1) {
		if ((rc = entity_load(c, imp->t, e, id, ACT_NONE, &old, NULL)) != 0)
			return rc;
		if (engine_same_as_body(c, e, body, old)) {
			*oc = ROW_UNCHANGED;
			return 0;
		}
		json_del(body, "id");
		rc = entity_update_in(c, imp->t, e, id, body, &out);
		if (rc == 0) {
			*oc = ROW_UPDATED;
			return raise_counter(imp, e, out);
		}
	} else if (strcmp(imp->o.mode, "update") == 0) {
		*oc = ROW_REJECTED;
		*reason = arena_printf(c->arena, "no %s matches this row (on "
		    "%s)", e->name, imp->o.match);
		return 0;
	} else {
		if ((rc = store_count(imp->t, e->db_rec, &before)) != 0)
			return rc;
		rc = entity_create_in(c, imp->t, e, body, &out);
		if (rc == 0) {
			if ((rc = store_count(imp->t, e->db_rec, &after)) != 0)
				return rc;
			/* The same record exists: a POST's idempotent retry. */
			*oc = after > before ? ROW_CREATED : ROW_DUPLICATE;
			return *oc == ROW_CREATED ? raise_counter(imp, e, out) :
			    0;
		}
		if (rc == FCRM_CONFLICT && c->fault.reason != NULL &&
		    strncasecmp(c->fault.reason, "duplicate", 9) == 0) {
			*oc = ROW_DUPLICATE;
			*reason = arena_printf(c->arena, "skipped as a duplicate:"
			    " %s", c->fault.reason);
			return 0;
		}
	}
	if (fatal(rc))
		return rc;
	*oc = ROW_REJECTED;
	*reason = c->fault.reason != NULL ? c->fault.reason : error_reason(rc);
	return 0;
}

static int
row(struct importer *imp, const struct entity *e, struct json *body,
    const char *src, size_t line, enum pass pass, int *still,
    const char **why)
{
	struct ectx	 c;
	enum outcome	 oc;
	const char	*what = NULL, *reason;
	int		 rc;

	*why = NULL;
	*still = 0;
	setup_ctx(imp, &c);
	if ((rc = missing_links(imp, &c, e, body, &what)) == 1) {
		if (pass == PASS_RETRY) {
			*still = 1;
			return 0;
		}
		if (pass == PASS_FIRST) {
			if ((rc = defer(imp, e, body, src, line)) != 0)
				goto store_err;
			return 0;
		}
		return reject(imp, e, src, line, arena_printf(imp->la, "links "
		    "to %s, which does not exist", what), body, NULL, why);
	}
	if (rc != 0)
		goto store_err;
	if ((rc = apply(imp, &c, e, body, &oc, &reason)) != 0) {
		if (reason != NULL) {
			*why = reason;
			return rc;
		}
		goto store_err;
	}
	imp->rows++;
	if (oc == ROW_REJECTED)
		return reject(imp, e, src, line, reason, body, NULL, why);
	if (oc == ROW_DUPLICATE && reason != NULL &&
	    (rc = reject(imp, e, src, line, reason, body, NULL, why)) != 0)
		return rc;
	if (oc == ROW_DUPLICATE && reason != NULL) {
		/* Counted as a duplicate, not as a bad row. */
		imp->nrejected--;
		imp->stats[eidx(e)].n[ROW_REJECTED]--;
	}
	imp->stats[eidx(e)].n[oc]++;
	if (oc == ROW_CREATED || oc == ROW_UPDATED)
		imp->inbatch++;
	if (imp->inbatch >= BATCH && (rc = importer_commit(imp, why)) != 0)
		return rc;
	progress(imp);
	return 0;
store_err:
	*why = rc == FCRM_MAP_FULL ? "the store is full; raise map_size" :
	    error_reason(rc);
	return rc;
}

int
importer_row(struct importer *imp, const struct entity *e,
    struct json *body, const char *src, size_t line, const char **why)
{
	int	 rc, still;

	rc = row(imp, e, body, src, line, PASS_FIRST, &still, why);
	if (rc != 0 && *why != NULL && *why != imp->stop) {
		snprintf(imp->stop, sizeof(imp->stop), "%s", *why);
		*why = imp->stop;
	}
	arena_reset(imp->la);
	return rc;
}

int
importer_by_name(struct importer *imp, const struct entity *te,
    const char *name, const char **id, const char **why)
{
	const struct field	*f;
	const char		**ids, *key;
	struct json		*body, *out;
	struct ectx		 c;
	size_t			 n;
	int			 rc;

	*id = NULL;
	if ((f = entity_field(te, "name")) == NULL ||
	    te->db_ix[f - te->fields] < 0) {
		*why = arena_printf(imp->la, "%s cannot be found by name",
		    te->name);
		return -1;
	}
	key = util_lower(imp->la, name);
	if (strlen(key) > 400)
		key = arena_strndup(imp->la, key, 400);
	if ((rc = engine_index_ids(imp->la, imp->t, te->db_ix[f - te->fields],
	    key, &ids, &n)) != 0) {
		*why = error_reason(rc);
		return -1;
	}
	if (n == 1) {
		*id = ids[0];
		return 0;
	}
	if (n > 1) {
		*why = arena_printf(imp->la, "%zu %s records are named "
		    "'%.100s'", n, te->name, name);
		return -1;
	}
	if (strcmp(te->name, "Account") != 0) {
		*why = arena_printf(imp->la, "no %s is named '%.100s'",
		    te->name, name);
		return -1;
	}
	setup_ctx(imp, &c);
	body = json_obj(imp->la);
	json_set(imp->la, body, "name", json_str(imp->la, name));
	if ((rc = entity_create_in(&c, imp->t, te, body, &out)) != 0) {
		*why = c.fault.reason != NULL ? c.fault.reason : error_reason(rc);
		return -1;
	}
	imp->stats[eidx(te)].n[ROW_CREATED]++;
	imp->inbatch++;
	*id = json_gets(out, "id");
	return 0;
}

struct deferred {
	char	*key;
	size_t	 klen;
	char	*val;
	size_t	 vlen;
};

struct dlist {
	struct deferred	*v;
	size_t		 n, cap;
};

static int
collect(void *arg, struct store_val k, struct store_val v)
{
	struct dlist	*d = arg;
	struct deferred	*nv;

	if (d->n == d->cap) {
		d->cap = d->cap == 0 ? 64 : d->cap * 2;
		if ((nv = realloc(d->v, d->cap * sizeof(*nv))) == NULL)
			return FCRM_STORE;
		d->v = nv;
	}
	d->v[d->n].key = malloc(k.len);
	d->v[d->n].val = malloc(v.len + 1);
	if (d->v[d->n].key == NULL || d->v[d->n].val == NULL)
		return FCRM_STORE;
	memcpy(d->v[d->n].key, k.p, k.len);
	memcpy(d->v[d->n].val, v.p, v.len);
	d->v[d->n].val[v.len] = '\0';
	d->v[d->n].klen = k.len;
	d->v[d->n].vlen = v.len;
	d->n++;
	return 0;
}

static void
dlist_free(struct dlist *d)
{
	size_t	 i;

	for (i = 0; i < d->n; i++) {
		free(d->v[i].key);
		free(d->v[i].val);
	}
	free(d->v);
	memset(d, 0, sizeof(*d));
}

/* One pass over the deferred rows; *done counts those that left. */
static int
retry_pass(struct importer *imp, enum pass pass, size_t *done, size_t *left,
    const char **why)
{
	struct dlist		 d;
	const struct entity	*e;
	struct json		*body;
	char			*p, *ename, *src, *ln, *js, prefix[80];
	const char		*jwhy;
	size_t			 i;
	int			 rc = 0, still;

	memset(&d, 0, sizeof(d));
	*done = *left = 0;
	snprintf(prefix, sizeof(prefix), "defer:%s:", imp->tag);
	if ((rc = store_iter(imp->t, imp->meta, 1, prefix, strlen(prefix),
	    collect, &d)) != 0) {
		*why = "cannot read the deferred rows";
		dlist_free(&d);
		return rc;
	}
	for (i = 0; i < d.n && rc == 0; i++) {
		p = d.v[i].val;
		ename = strsep(&p, "\n");
		src = strsep(&p, "\n");
		ln = strsep(&p, "\n");
		js = p;
		if (js == NULL || (e = entity_find(ename)) == NULL ||
		    json_parse(imp->la, js, strlen(js), &body, &jwhy) != 0) {
			rc = store_del(imp->t, imp->meta, d.v[i].key,
			    d.v[i].klen, NULL, 0);
			continue;
		}
		rc = row(imp, e, body, src, strtoul(ln, NULL, 10), pass, &still,
		    why);
		if (rc == 0 && !still) {
			imp->stats[eidx(e)].n[ROW_DEFERRED]--;
			rc = store_del(imp->t, imp->meta, d.v[i].key,
			    d.v[i].klen, NULL, 0);
			(*done)++;
		} else if (rc == 0)
			(*left)++;
		arena_reset(imp->la);
	}
	if (rc != 0 && *why == NULL)
		*why = error_reason(rc);
	dlist_free(&d);
	return rc;
}

/* Deferred rows, until a pass resolves nothing; then the rest fail. */
static int
retry_deferred(struct importer *imp, const char **why)
{
	size_t	 done, left;
	int	 rc;

	do {
		if ((rc = retry_pass(imp, PASS_RETRY, &done, &left, why)) != 0)
			return rc;
	} while (done > 0 && left > 0);
	if (left == 0)
		return 0;
	return retry_pass(imp, PASS_LAST, &done, &left, why);
}

static void
summary(struct importer *imp)
{
	const struct estat	*s;
	double			 secs = util_seconds() - imp->t0;
	size_t			 i, in;

	for (i = 0; i < entity_count(); i++) {
		s = &imp->stats[i];
		in = s->n[ROW_CREATED] + s->n[ROW_UPDATED];
		if (in + s->n[ROW_UNCHANGED] + s->n[ROW_DUPLICATE] +
		    s->n[ROW_REJECTED] + s->n[ROW_DEFERRED] == 0)
			continue;
		fprintf(stderr, "%s: imported %zu records (%zu created, %zu "
		    "updated, %zu unchanged, %zu skipped as duplicates, %zu "
		    "rejected) in %.1f s (%.0f records/s)\n",
		    entity_at(i)->name, in, s->n[ROW_CREATED],
		    s->n[ROW_UPDATED], s->n[ROW_UNCHANGED],
		    s->n[ROW_DUPLICATE], s->n[ROW_REJECTED], secs,
		    in / (secs + 1e-9));
	}
	if (imp->nrejected > 0)
		fprintf(stderr, "%zu row(s) NOT imported%s%s\n",
		    imp->nrejected, imp->rejpath != NULL ? "; they are in " :
		    "", imp->rejpath != NULL ? imp->rejpath : "");
}

int
importer_finish(struct importer *imp, const char **why)
{
	int	 rc;

	*why = NULL;
	if ((rc = retry_deferred(imp, why)) == 0)
		rc = store_commit(imp->t);
	else
		store_abort(imp->t);
	imp->t = NULL;
	if (imp->tty)
		fputc('\n', stderr);
	if (rc == 0)
		summary(imp);
	else if (*why == NULL)
		*why = rc == FCRM_MAP_FULL ? "the store is full; raise "
		    "map_size" : "cannot commit";
	if (*why != NULL && *why != imp->stop) {
		snprintf(imp->stop, sizeof(imp->stop), "%s", *why);
		*why = imp->stop;
	}
	return rc;
}

int
importer_clear(struct importer *imp, const char **why)
{
	struct dlist	 d;
	char		 prefix[80];
	size_t		 i;
	int		 rc;

	memset(&d, 0, sizeof(d));
	snprintf(prefix, sizeof(prefix), "defer:%s:", imp->tag);
	rc = store_iter(imp->t, imp->meta, 1, prefix, strlen(prefix), collect,
	    &d);
	for (i = 0; rc == 0 && i < d.n; i++)
		rc = store_del(imp->t, imp->meta, d.v[i].key, d.v[i].klen,
		    NULL, 0);
	dlist_free(&d);
	if (rc != 0)
		*why = "cannot clear the deferred rows";
	return rc;
}

int
importer_set(struct importer *imp, const struct entity *e, const char *id,
    struct json *body, const char **why)
{
	struct ectx	 c;
	struct json	*out;
	int		 rc;

	setup_ctx(imp, &c);
	rc = entity_update_in(&c, imp->t, e, id, body, &out);
	if (rc != 0 && !fatal(rc)) {
		*why = c.fault.reason != NULL ? c.fault.reason : error_reason(rc);
		imp->stats[eidx(e)].n[ROW_REJECTED]++;
		imp->nrejected++;
		fprintf(stderr, "%s %s: %s\n", e->name, id, *why);
		rc = imp->o.strict ? rc : 0;
	} else if (rc != 0)
		*why = error_reason(rc);
	else
		imp->inbatch++;
	arena_reset(imp->la);
	return rc;
}
