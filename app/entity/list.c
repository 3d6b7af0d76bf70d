/*
 * Lists: EspoCRM's list parameters, answered from an index when a filter
 * names an indexed attribute, from an ordered index when the order allows,
 * and by a scan only otherwise.  What a primaryFilter means is the
 * resource's to say (its primary_filter hook).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fastcrm/conf.h"
#include "fastcrm/error.h"
#include "fastcrm/store.h"
#include "fastcrm/util.h"
#include "engine.h"
#include "where.h"

#define LIST_MAX_SIZE	200
#define LIST_MAX_SCAN	100000

struct row {
	const char	*id;
	struct json	*rec;		/* parsed, or NULL */
	struct store_val raw;		/* stored bytes, valid in the txn */
	const char	*key;		/* sort value (run_ids, run_scan) */
};

struct lq {
	struct ectx		*c;
	const struct list_args	*args;
	struct buf		*out;
	struct store_txn	*t;
	const struct entity	*e;
	struct wnode		*where;
	const struct field	*order;
	int			 desc;
	size_t			 offset, max;
	int			 no_total;
	const char		**select;
	size_t			 nselect;
	const char		*parent_type;	/* related via parentId */
	struct arena		*scratch;	/* one candidate's parse */
	int			 exact;		/* the index answers where */
	/* results */
	struct row		*rows;
	size_t			 nrows, cap;
	long long		 total;
	int			 more;
	int			 err;
};

static void
push_row(struct lq *q, const struct row *row)
{
	struct row	*n;

	if (q->nrows == q->cap) {
		q->cap = q->cap == 0 ? 32 : q->cap * 2;
		n = arena_alloc(q->c->arena, q->cap * sizeof(*n));
		if (q->nrows > 0)
			memcpy(n, q->rows, q->nrows * sizeof(*n));
		q->rows = n;
	}
	q->rows[q->nrows++] = *row;
}

static void
scratch_free(void *arg)
{

	arena_free(arg);
}

/* The scratch arena, emptied. */
static struct arena *
scratch(struct lq *q)
{
	if (q->scratch == NULL) {
		if ((q->scratch = arena_new()) == NULL)
			return NULL;
		arena_cleanup(q->c->arena, scratch_free, q->scratch);
	}
	arena_reset(q->scratch);
	return q->scratch;
}

/*
 * Loads the candidate id (len bytes, borrowed) and checks the filters; 1
 * when it matches.  With parse, or when a filter needs it, row->rec is the
 * parsed record: it lives in q->scratch, which the next candidate reuses,
 * and so do the filters' allocations.  A scan of N records thus holds only
 * the rows it keeps, not N parsed records.  row->id is left NULL for the
 * caller to copy when it keeps the row.
 */
static int
candidate(struct lq *q, const char *id, size_t len, struct row *row,
    int parse)
{
	struct arena	*a = q->c->arena;
	const char	*why, *pt;
	int		 rc, match;

	memset(row, 0, sizeof(*row));
	/* Past the request's memory ceiling the list stops here. */
	if (arena_over(a)) {
		q->err = FCRM_TOO_LARGE;
		return 0;
	}
	rc = store_get(q->t, q->e->db_rec, id, len, &row->raw);
	if (rc == FCRM_NOT_FOUND)
		return 0;
	if (rc != 0) {
		q->err = rc;
		return 0;
	}
	if (!parse && ((q->where == NULL && q->parent_type == NULL) ||
	    q->exact))
		return 1;
	if (scratch(q) == NULL) {
		q->err = FCRM_STORE;
		return 0;
	}
	if (json_parse(q->scratch, row->raw.p, row->raw.len, &row->rec,
	    &why) != 0) {
		q->err = FCRM_STORE;
		return 0;
	}
	if (json_truthy(json_get(row->rec, "deleted")))
		return 0;
	if (q->parent_type != NULL && ((pt = json_gets(row->rec,
	    "parentType")) == NULL || strcmp(pt, q->parent_type) != 0))
		return 0;
	/* where_eval allocates from the request's arena: lend it the scratch. */
	q->c->arena = q->scratch;
	match = where_eval(q->c, q->t, q->e, q->where, row->rec);
	q->c->arena = a;
	return match;
}

/*
 * A matching row to keep for sorting: its id and sort value copied into
 * the request's arena, the scratch record dropped.
 */
static int
keep_sorted(struct lq *q, struct row *row, const char *id, size_t len)
{
	const struct json	*v;
	const char		*why, *s;

	row->id = arena_strndup(q->c->arena, id, len);
	if (row->rec == NULL) {
		/* Not parsed (an exact index answer): read the sort value
		   from the stored bytes, or parse them if that cannot. */
		if (json_raw_get(q->c->arena, row->raw.p, row->raw.len,
		    q->order->name, &s) >= 0) {
			if (s != NULL && q->order->type != FT_INT &&
			    q->order->type != FT_FLOAT)
				s = util_lower(q->c->arena, s);
			row->key = s;
			return 0;
		}
		if (scratch(q) == NULL || json_parse(q->scratch, row->raw.p,
		    row->raw.len, &row->rec, &why) != 0)
			return FCRM_STORE;
	}
	v = json_get(row->rec, q->order->name);
	if (v == NULL || (v->type != JSON_STRING && v->type != JSON_NUMBER))
		row->key = NULL;
	else if (q->order->type == FT_INT || q->order->type == FT_FLOAT)
		row->key = arena_strdup(q->c->arena, v->s);
	else
		row->key = util_lower(q->c->arena, v->s);
	row->rec = NULL;
	return 0;
}

static int
ordered_step(void *arg, struct store_val k, struct store_val v)
{
	struct lq	*q = arg;
	struct row	 row;

	(void)k;
	if (!candidate(q, v.p, v.len, &row, 0))
		return q->err != 0 ? q->err : 0;
	q->total++;
	if ((size_t)q->total > q->offset &&
	    (size_t)q->total <= q->offset + q->max) {
		row.id = arena_strndup(q->c->arena, v.p, v.len);
		row.rec = NULL;
		push_row(q, &row);
	}
	if ((size_t)q->total > q->offset + q->max) {
		q->more = 1;
		if (q->no_total)
			return -1;
	}
	if (q->total > LIST_MAX_SCAN)
		return -1;
	return 0;
}

/* Typed comparison of the order attribute, nulls first, ties by id. */
static struct lq *sort_q;

static int
row_cmp(const void *pa, const void *pb)
{
	const struct row	*a = pa, *b = pb;
	const struct field	*f = sort_q->order;
	const char		*x, *y;
	double			 dx, dy;
	int			 c;

	x = a->key;
	y = b->key;
	if (x == NULL || y == NULL)
		c = (x == NULL) - (y == NULL) == 0 ? 0 :
		    x == NULL ? -1 : 1;
	else if (f->type == FT_INT || f->type == FT_FLOAT) {
		dx = strtod(x, NULL);
		dy = strtod(y, NULL);
		c = dx < dy ? -1 : dx > dy;
	} else
		c = strcmp(x, y);
	if (c == 0)
		c = strcmp(a->id, b->id);
	return sort_q->desc ? -c : c;
}

static int
id_cmp(const void *a, const void *b)
{

	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Filters, sorts and slices a set of candidate ids (reordered here). */
static int
run_ids(struct lq *q, const char **ids, size_t n)
{
	struct row	*all, row;
	size_t		 i, na = 0, distinct = n > 0;
	int		 rc;

	all = arena_alloc(q->c->arena, (n + 1) * sizeof(*all));
	/* Several index keys may name one record: sort, then skip repeats. */
	if (n > 1)
		qsort(ids, n, sizeof(*ids), id_cmp);
	for (i = 1; i < n; i++)
		distinct += strcmp(ids[i - 1], ids[i]) != 0;
	for (i = 0; i < n; i++) {
		if (i > 0 && strcmp(ids[i - 1], ids[i]) == 0)
			continue;
		/* Exact matches need no filtering, and are sorted on
		   values read from the stored bytes, which are sent as
		   they are. */
		if (!candidate(q, ids[i], strlen(ids[i]), &row, !q->exact)) {
			if (q->err != 0)
				return q->err;
			continue;
		}
		/* One record (the usual phone look-up): nothing to sort. */
		if (distinct > 1 && (rc = keep_sorted(q, &row, ids[i],
		    strlen(ids[i]))) != 0)
			return rc;
		if (row.id == NULL)
			row.id = ids[i];
		all[na++] = row;
	}
	sort_q = q;
	qsort(all, na, sizeof(*all), row_cmp);
	q->total = (long long)na;
	q->more = na > q->offset + q->max;
	for (i = q->offset; i < na && i < q->offset + q->max; i++)
		push_row(q, &all[i]);
	return 0;
}

/* An equality on an indexed attribute among the top-level filters. */
static int
index_candidates(struct lq *q, const char ***ids, size_t *n, int *found)
{
	const struct wnode	*w, *k;
	const char		**got, **acc, **m;
	size_t			  i, j, ngot, fi, cap;
	int			  rc;

	*ids = NULL;
	*n = 0;
	*found = 0;
	if ((w = q->where) == NULL || w->type != W_AND)
		return 0;
	for (i = 0; i < w->nkids; i++) {
		k = w->kids[i];
		if ((k->type != W_EQUALS && k->type != W_IN) || k->f == NULL)
			continue;
		fi = (size_t)(k->f - q->e->fields);
		if (q->e->db_ix[fi] < 0)
			continue;
		/* k->vals has no repeats (where.c); acc grows by doubling. */
		cap = 16;
		acc = arena_alloc(q->c->arena, cap * sizeof(*acc));
		*n = 0;
		for (j = 0; j < k->nvals; j++) {
			if (*k->vals[j] == '\0')
				continue;
			rc = engine_index_ids(q->c->arena, q->t,
			    q->e->db_ix[fi], k->vals[j], &got, &ngot);
			if (rc != 0)
				return rc;
			if (ngot == 0)
				continue;
			if (*n + ngot > LIST_MAX_SCAN) {
				/* Too many to hold: a scan answers instead. */
				*ids = NULL;
				*n = 0;
				return 0;
			}
			if (*n + ngot > cap) {
				while (cap < *n + ngot)
					cap *= 2;
				m = arena_alloc(q->c->arena, cap * sizeof(*m));
				if (*n > 0)
					memcpy(m, acc, *n * sizeof(*m));
				acc = m;
			}
			memcpy(acc + *n, got, ngot * sizeof(*acc));
			*n += ngot;
		}
		*ids = acc;
		*found = 1;
		/*
		 * A lone equality on a phone, an email or a link is answered
		 * by its index exactly: the index holds the same digits,
		 * lower-cased address or id that where_eval compares, and
		 * deleted records have no index entries.
		 */
		q->exact = w->nkids == 1 && k->type == W_EQUALS &&
		    q->parent_type == NULL && (k->f->type == FT_PHONE ||
		    k->f->type == FT_EMAIL || k->f->type == FT_LINK);
		return 0;
	}
	return 0;
}

static int
scan_all(void *arg, struct store_val k, struct store_val v)
{
	struct lq	*q = arg;
	struct row	 row;
	int		 rc;

	(void)k;
	if (!candidate(q, v.p, v.len, &row, 1))
		return q->err != 0 ? q->err : 0;
	if ((rc = keep_sorted(q, &row, v.p, v.len)) != 0)
		return rc;
	push_row(q, &row);
	return q->nrows >= LIST_MAX_SCAN ? -1 : 0;
}

static int
run_scan(struct lq *q)
{
	size_t		 fi, i, n;
	struct row	*all;
	int		 rc;

	fi = (size_t)(q->order - q->e->fields);
	if (q->e->db_ox[fi] >= 0) {
		/* Walk the ordered index: no sort, early stop. */
		if (q->where == NULL && q->parent_type == NULL) {
			int	 asked = q->no_total;

			if ((rc = store_count(q->t, q->e->db_ox[fi], &n)) != 0)
				return rc;
			q->no_total = 1;
			rc = store_iter(q->t, q->e->db_ox[fi], q->desc ? -1 : 1,
			    NULL, 0, ordered_step, q);
			q->no_total = asked;
			q->total = (long long)n;
			q->more = n > q->offset + q->max;
			return rc;
		}
		return store_iter(q->t, q->e->db_ox[fi], q->desc ? -1 : 1,
		    NULL, 0, ordered_step, q);
	}
	/* Any other order: filter everything, then sort. */
	fi = (size_t)(entity_field(q->e, "createdAt") - q->e->fields);
	if ((rc = store_iter(q->t, q->e->db_ox[fi], 1, NULL, 0, scan_all,
	    q)) != 0)
		return rc;
	all = q->rows;
	n = q->nrows;
	sort_q = q;
	qsort(all, n, sizeof(*all), row_cmp);
	q->rows = NULL;
	q->nrows = q->cap = 0;
	q->total = (long long)n;
	q->more = n > q->offset + q->max;
	for (i = q->offset; i < n && i < q->offset + q->max; i++)
		push_row(q, &all[i]);
	return 0;
}

/* Reads a non-negative integer parameter. */
static int
param_uint(struct ectx *c, const struct json *p, const char *name,
    size_t def, size_t *out)
{
	const struct json	*v;
	const char		*s;
	char			*end;
	unsigned long long	 n;

	*out = def;
	if ((v = json_get(p, name)) == NULL || v->type == JSON_NULL)
		return 0;
	if (v->type != JSON_STRING && v->type != JSON_NUMBER)
		return entity_fail(c, FCRM_BAD_REQUEST, "Parameter '%s' must be "
		    "a number.", name);
	s = v->s;
	if (*s == '\0')
		return 0;
	n = strtoull(s, &end, 10);
	if (*end != '\0' || *s == '-' || n > 1000000000ULL)
		return entity_fail(c, FCRM_BAD_REQUEST, "Parameter '%s' must be "
		    "a non-negative number.", name);
	*out = (size_t)n;
	return 0;
}

/* The parameters: searchParams JSON replaces the query's. */
static int
list_params(struct ectx *c, const struct json *params, struct json **out)
{
	const char	*sp, *why;
	struct json	*p;

	*out = (struct json *)params;
	if ((sp = json_gets(params, "searchParams")) == NULL)
		return 0;
	if (sp[strspn(sp, " \t\n\v\f\r")] != '{')
		return entity_fail(c, FCRM_BAD_REQUEST, "searchParams must be a "
		    "JSON object.");
	if (json_parse_body(c->arena, sp, strlen(sp), &p, &why) != 0)
		return entity_fail(c, FCRM_BAD_REQUEST, "searchParams: %s", why);
	if (p->type != JSON_OBJECT)
		return entity_fail(c, FCRM_BAD_REQUEST, "searchParams must be a "
		    "JSON object.");
	*out = p;
	return 0;
}

/*
 * The entity's primaryFilter pf (NULL: none asked) as a where node in
 * *out, NULL when nothing is filtered: the resource's primary_filter
 * hook says what it means; without the hook only no filter is known.
 */
static int
primary_filter(struct ectx *c, const struct entity *e, const char *pf,
    const struct json *where, struct wnode **out)
{
	struct json	*items;
	int		 rc;

	*out = NULL;
	if (e->hooks == NULL || e->hooks->primary_filter == NULL) {
		if (pf != NULL && *pf != '\0')
			return entity_fail(c, FCRM_BAD_REQUEST, "Unknown "
			    "primaryFilter '%.64s'.", pf);
		return 0;
	}
	if ((rc = e->hooks->primary_filter(c, e, pf, where, &items)) != 0)
		return rc;
	return items != NULL ? where_build(c, e, items, out) : 0;
}

static int
prepare(struct ectx *c, const struct entity *e, int own,
    const struct list_args *args, struct buf *out, struct lq *q)
{
	struct json		*p, *sel;
	const char		*ob, *ord, *asc, *tf, *pf;
	struct wnode		*w;
	char			*s, *tok, *save;
	size_t			 i;
	int			 rc;

	memset(q, 0, sizeof(*q));
	q->c = c;
	q->e = e;
	q->args = args;
	q->out = out;
	if ((rc = list_params(c, args->params, &p)) != 0)
		return rc;
	if ((rc = param_uint(c, p, "maxSize", LIST_MAX_SIZE, &q->max)) != 0)
		return rc;
	if (q->max > LIST_MAX_SIZE)
		return entity_fail(c, FCRM_FORBIDDEN, "Max size should not exceed "
		    "%d. Use offset and limit.", LIST_MAX_SIZE);
	if ((rc = param_uint(c, p, "offset", 0, &q->offset)) != 0)
		return rc;
	if ((rc = where_build(c, e, json_get(p, "where"), &q->where)) != 0)
		return rc;
	ob = json_gets(p, "orderBy");
	if (ob == NULL || *ob == '\0')
		ob = json_gets(p, "sortBy");
	q->desc = e->order_desc;
	if (ob == NULL || *ob == '\0')
		ob = e->order_by;
	else
		q->desc = 0;
	if ((q->order = entity_field(e, ob)) == NULL ||
	    (q->order->flags & F_SECRET))
		return entity_fail(c, FCRM_BAD_REQUEST, "Not existing attribute "
		    "'%.64s' in orderBy.", ob);
	if ((ord = json_gets(p, "order")) != NULL && *ord != '\0') {
		if (strcasecmp(ord, "desc") == 0)
			q->desc = 1;
		else if (strcasecmp(ord, "asc") == 0)
			q->desc = 0;
		else
			return entity_fail(c, FCRM_BAD_REQUEST, "Parameter "
			    "'order' must be asc or desc.");
	} else if ((asc = json_gets(p, "asc")) != NULL && *asc != '\0')
		q->desc = strcmp(asc, "false") == 0 || strcmp(asc, "0") == 0;
	else if (json_get(p, "asc") != NULL &&
	    json_get(p, "asc")->type == JSON_BOOL)
		q->desc = !json_get(p, "asc")->b;
	sel = json_get(p, "select");
	if (sel != NULL && sel->type == JSON_STRING && sel->len > 0) {
		s = arena_strdup(c->arena, sel->s);
		q->select = arena_calloc(c->arena, sel->len + 2,
		    sizeof(*q->select));
		for (tok = strtok_r(s, ",", &save); tok != NULL;
		    tok = strtok_r(NULL, ",", &save))
			q->select[q->nselect++] = tok;
	} else if ((sel = json_as_list(c->arena, sel)) != NULL) {
		q->select = arena_calloc(c->arena, sel->n + 1,
		    sizeof(*q->select));
		for (i = 0; i < sel->n; i++)
			if (sel->v[i]->type == JSON_STRING)
				q->select[q->nselect++] = sel->v[i]->s;
	}
	tf = json_gets(p, "textFilter");
	if (tf == NULL || *tf == '\0')
		tf = json_gets(p, "q");
	if (tf != NULL && *tf != '\0')
		q->where = where_and(c, q->where, where_text_filter(c, e, tf));
	pf = json_gets(p, "primaryFilter");
	if ((rc = primary_filter(c, e, pf, json_get(p, "where"), &w)) != 0)
		return rc;
	q->where = where_and(c, q->where, w);
	if (own) {
		w = arena_calloc(c->arena, 1, sizeof(*w));
		w->type = W_OWN;
		q->where = where_and(c, q->where, w);
	}
	if (q->where != NULL && q->where->type != W_AND) {
		w = arena_calloc(c->arena, 1, sizeof(*w));
		w->type = W_AND;
		w->kids = arena_calloc(c->arena, 1, sizeof(*w->kids));
		w->kids[0] = q->where;
		w->nkids = 1;
		q->where = w;
	}
	q->no_total = args->no_total;
	return 0;
}

/* {"total":N,"list":[...]} */
static void
render(struct lq *q)
{
	struct buf	*b = q->out;
	const char	*why;
	struct json	*rec, *o, *v;
	size_t		 i, j;
	long long	 total;

	total = q->total;
	if (q->no_total)
		total = q->more ? -1 : -2;
	b->len = 0;
	buf_adds(b, "{\"total\":");
	buf_addi(b, total);
	buf_adds(b, ",\"list\":[");
	for (i = 0; i < q->nrows; i++) {
		if (i > 0)
			buf_addc(b, ',');
		if (q->nselect == 0) {
			buf_add(b, q->rows[i].raw.p, q->rows[i].raw.len);
			continue;
		}
		rec = q->rows[i].rec;
		if (rec == NULL && json_parse(q->c->arena, q->rows[i].raw.p,
		    q->rows[i].raw.len, &rec, &why) != 0)
			rec = json_obj(q->c->arena);
		o = json_obj(q->c->arena);
		json_set(q->c->arena, o, "id", json_get(rec, "id"));
		for (j = 0; j < q->nselect; j++) {
			const struct field *f = entity_field(q->e,
			    q->select[j]);

			if (f == NULL || (f->flags & F_SECRET))
				continue;
			v = json_get(rec, q->select[j]);
			json_set(q->c->arena, o, q->select[j],
			    v != NULL ? v : json_null(q->c->arena));
		}
		json_write(b, o);
	}
	buf_add(b, "]}", 2);
}

static int
list_fail(struct ectx *c, int rc)
{
	if (c->fault.reason != NULL)
		return rc;
	return entity_fail(c, rc, "%s", error_reason(rc));
}

int
entity_list(struct ectx *c, const struct entity *e,
    const struct list_args *args, struct buf *out)
{
	struct store_txn	**t;
	struct lq		  q;
	const char		**ids;
	size_t			  n;
	int			  rc, found, own;

	if ((rc = entity_authorize(c, e, ACT_READ, &own)) != 0 ||
	    (rc = prepare(c, e, own, args, out, &q)) != 0)
		return rc;
	if ((rc = entity_begin(c, 0, &t)) != 0)
		return rc;
	q.t = *t;
	where_prepare(c, q.t, q.where);
	if ((rc = index_candidates(&q, &ids, &n, &found)) != 0)
		return list_fail(c, rc);
	if (found)
		rc = run_ids(&q, ids, n);
	else
		rc = run_scan(&q);
	if (rc == 0)
		rc = q.err;
	if (rc != 0)
		return list_fail(c, rc);
	render(&q);
	return 0;
}

int
entity_list_related(struct ectx *c, const struct entity *e, const char *id,
    const struct link *l, const struct list_args *args, struct buf *out)
{
	struct store_txn	**t;
	const struct entity	 *fe;
	const struct field	 *ff;
	struct json		 *self, *v;
	struct lq		  q;
	const char		**ids;
	size_t			  n = 0, i;
	int			  rc, own;

	if ((fe = entity_find(l->foreign)) == NULL)
		return entity_fail(c, FCRM_NOT_FOUND, "Link '%s' not found.",
		    l->name);
	/* The related records are read too (a stream reads Notes). */
	if ((rc = entity_authorize(c, fe, ACT_READ, &own)) != 0 ||
	    (rc = prepare(c, fe, own, args, out, &q)) != 0)
		return rc;
	if ((rc = entity_begin(c, 0, &t)) != 0)
		return rc;
	q.t = *t;
	where_prepare(c, q.t, q.where);
	rc = entity_load(c, *t, e, id, ACT_READ, &self, NULL);
	if (rc == FCRM_NOT_FOUND)
		return entity_fail(c, rc, "Record %s '%.64s' not found.",
		    e->name, id);
	if (rc != 0)
		return c->fault.reason != NULL ? rc : list_fail(c, rc);
	if (l->kind == LINK_SELF_MULTI) {
		v = json_get(self, l->attr);
		ids = arena_calloc(c->arena, v != NULL ? v->n + 1 : 1,
		    sizeof(*ids));
		for (i = 0; v != NULL && v->type == JSON_ARRAY && i < v->n; i++)
			if (v->v[i]->type == JSON_STRING)
				ids[n++] = v->v[i]->s;
	} else {
		ff = entity_field(fe, l->attr);
		if (ff == NULL)
			return entity_fail(c, FCRM_NOT_FOUND, "Link '%s' not "
			    "found.", l->name);
		if (ff->type == FT_PARENT)
			q.parent_type = e->name;
		rc = engine_index_ids(c->arena, *t,
		    fe->db_ix[ff - fe->fields], id, &ids, &n);
		if (rc != 0)
			return list_fail(c, rc);
	}
	if ((rc = run_ids(&q, ids, n)) != 0 || (rc = q.err) != 0)
		return list_fail(c, rc);
	render(&q);
	return 0;
}

int
entity_stream(struct ectx *c, const struct entity *e, const char *id,
    const struct list_args *args, struct buf *out)
{
	static const struct link	 stream = {
		"stream", "Note", LINK_FOREIGN, "parentId", NULL
	};

	return entity_list_related(c, e, id, &stream, args, out);
}
