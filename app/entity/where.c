/*
 * EspoCRM's where clauses: built once per request into a checked tree,
 * then evaluated against each candidate record.  String comparisons are
 * case-insensitive; phone numbers compare by digits.
 */
#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fastcrm/conf.h"
#include "fastcrm/error.h"
#include "fastcrm/store.h"
#include "fastcrm/util.h"
#include "engine.h"
#include "normal.h"
#include "where.h"

#define WHERE_MAX_ITEMS	500
#define WHERE_MAX_VALUES 1000	/* values of one in / notIn / linkedWith */

enum wval {
	V_ONE,		/* a scalar value */
	V_LIST,		/* a list of scalars */
	V_NONE,		/* no value */
	V_ITEMS,	/* nested items */
	V_DAYS,		/* a number of days */
	V_PAIR,		/* [from, to] */
	V_LINK,		/* ids, attribute is a link */
	V_ISLINK,	/* no value, attribute is a link */
};

static const struct {
	const char	*name;
	enum wtype	 type;
	enum wval	 val;
} wtypes[] = {
	{ "equals", W_EQUALS, V_ONE },
	{ "notEquals", W_NOT_EQUALS, V_ONE },
	{ "like", W_LIKE, V_ONE },
	{ "notLike", W_NOT_LIKE, V_ONE },
	{ "contains", W_CONTAINS, V_ONE },
	{ "notContains", W_NOT_CONTAINS, V_ONE },
	{ "startsWith", W_STARTS_WITH, V_ONE },
	{ "endsWith", W_ENDS_WITH, V_ONE },
	{ "in", W_IN, V_LIST },
	{ "notIn", W_NOT_IN, V_LIST },
	{ "isNull", W_IS_NULL, V_NONE },
	{ "isNotNull", W_IS_NOT_NULL, V_NONE },
	{ "isTrue", W_IS_TRUE, V_NONE },
	{ "isFalse", W_IS_FALSE, V_NONE },
	{ "greaterThan", W_GT, V_ONE },
	{ "lessThan", W_LT, V_ONE },
	{ "greaterThanOrEquals", W_GTE, V_ONE },
	{ "lessThanOrEquals", W_LTE, V_ONE },
	{ "between", W_BETWEEN, V_PAIR },
	{ "and", W_AND, V_ITEMS },
	{ "or", W_OR, V_ITEMS },
	{ "today", W_TODAY, V_NONE },
	{ "past", W_PAST, V_NONE },
	{ "future", W_FUTURE, V_NONE },
	{ "lastSevenDays", W_LAST_SEVEN_DAYS, V_NONE },
	{ "lastXDays", W_LAST_X_DAYS, V_DAYS },
	{ "nextXDays", W_NEXT_X_DAYS, V_DAYS },
	{ "olderThanXDays", W_OLDER_THAN_X_DAYS, V_DAYS },
	{ "afterXDays", W_AFTER_X_DAYS, V_DAYS },
	{ "currentMonth", W_CURRENT_MONTH, V_NONE },
	{ "lastMonth", W_LAST_MONTH, V_NONE },
	{ "currentYear", W_CURRENT_YEAR, V_NONE },
	{ "linkedWith", W_LINKED_WITH, V_LINK },
	{ "notLinkedWith", W_NOT_LINKED_WITH, V_LINK },
	{ "isLinked", W_IS_LINKED, V_ISLINK },
	{ "isNotLinked", W_IS_NOT_LINKED, V_ISLINK },
};

static void
day_bound(char out[20], long long day_offset, int end_of_day)
{
	long long	 now, day;

	now = (long long)time(NULL);
	day = (now / 86400 + day_offset) * 86400;
	util_datetime_fmt(end_of_day ? day + 86399 : day, out);
}

/* The [lo, hi] datetime range of a date type; open ends are NULL. */
static void
date_range(struct ectx *c, struct wnode *n, long long days)
{
	char		 lo[40], hi[40], now[20];
	struct tm	 tm;
	time_t		 t;
	int		 y, m;

	util_now(now);
	t = time(NULL);
	gmtime_r(&t, &tm);
	y = tm.tm_year + 1900;
	m = tm.tm_mon + 1;
	switch (n->type) {
	case W_TODAY:
		day_bound(lo, 0, 0);
		day_bound(hi, 0, 1);
		break;
	case W_PAST:
		n->hi = arena_strdup(c->arena, now);
		return;
	case W_FUTURE:
		n->lo = arena_strdup(c->arena, now);
		return;
	case W_LAST_SEVEN_DAYS:
		day_bound(lo, -7, 0);
		memcpy(hi, now, 20);
		break;
	case W_LAST_X_DAYS:
		day_bound(lo, -days, 0);
		memcpy(hi, now, 20);
		break;
	case W_NEXT_X_DAYS:
		memcpy(lo, now, 20);
		day_bound(hi, days, 1);
		break;
	case W_OLDER_THAN_X_DAYS:
		day_bound(hi, -days - 1, 1);
		n->hi = arena_strdup(c->arena, hi);
		return;
	case W_AFTER_X_DAYS:
		day_bound(lo, days + 1, 0);
		n->lo = arena_strdup(c->arena, lo);
		return;
	case W_CURRENT_MONTH:
		snprintf(lo, sizeof(lo), "%04d-%02d-01 00:00:00", y, m);
		snprintf(hi, sizeof(hi), "%04d-%02d-31 23:59:59", y, m);
		break;
	case W_LAST_MONTH:
		if (--m == 0) {
			m = 12;
			y--;
		}
		snprintf(lo, sizeof(lo), "%04d-%02d-01 00:00:00", y, m);
		snprintf(hi, sizeof(hi), "%04d-%02d-31 23:59:59", y, m);
		break;
	case W_CURRENT_YEAR:
		snprintf(lo, sizeof(lo), "%04d-01-01 00:00:00", y);
		snprintf(hi, sizeof(hi), "%04d-12-31 23:59:59", y);
		break;
	default:
		return;
	}
	n->lo = arena_strdup(c->arena, lo);
	n->hi = arena_strdup(c->arena, hi);
}

static int	 numeric(const struct field *);

static int
str_cmp(const void *a, const void *b)
{

	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* By numeric value; NaN first and equal only to NaN (a total order). */
static int
num_cmp(const void *a, const void *b)
{
	double	 x, y;

	x = strtod(*(const char *const *)a, NULL);
	y = strtod(*(const char *const *)b, NULL);
	if (isnan(x) || isnan(y))
		return !isnan(x) - !isnan(y);
	return x < y ? -1 : x > y;
}

typedef int	(*cmp_fn)(const void *, const void *);

static cmp_fn
vals_cmp(const struct wnode *n)
{

	return n->f != NULL && numeric(n->f) ? num_cmp : str_cmp;
}

/*
 * Sorts a list node's values and drops repeats, so that a record is
 * tested with one binary search (vals_has): in, notIn and linkedWith cost
 * O(values log values) once and O(log values) per record text.
 */
static void
vals_sort(struct wnode *n)
{
	cmp_fn	 c = vals_cmp(n);
	size_t	 i, k;

	if (n->nvals > 1)
		qsort(n->vals, n->nvals, sizeof(*n->vals), c);
	for (i = k = 0; i < n->nvals; i++)
		if (k == 0 || c(&n->vals[k - 1], &n->vals[i]) != 0)
			n->vals[k++] = n->vals[i];
	n->nvals = k;
	n->sorted = 1;
}

static int
vals_has(const struct wnode *n, const char *s)
{

	if (n->nvals == 0)
		return 0;
	return bsearch(&s, n->vals, n->nvals, sizeof(*n->vals),
	    vals_cmp(n)) != NULL;
}

/* Lower-cased comparison texts for a node's value(s). */
static void
node_vals(struct ectx *c, struct wnode *n, const struct json *list)
{
	const char	*s;
	size_t		 i, k = 0;

	n->vals = arena_calloc(c->arena, list->n * 2 + 1, sizeof(*n->vals));
	for (i = 0; i < list->n; i++) {
		if ((s = normal_scalar(list->v[i])) == NULL)
			continue;
		if (n->f != NULL && n->f->type == FT_PHONE)
			k += normal_phone_query(c->arena, s,
			    c->conf->default_country_code, n->vals + k);
		else
			n->vals[k++] = util_lower(c->arena, s);
	}
	n->nvals = k;
}

static int bad(struct ectx *, const char *, ...)
    __attribute__((format(printf, 2, 3)));

static int
bad(struct ectx *c, const char *fmt, ...)
{
	va_list	 ap;
	char	*s;

	va_start(ap, fmt);
	s = arena_vprintf(c->arena, fmt, ap);
	va_end(ap);
	return entity_fail(c, FCRM_BAD_REQUEST, "%s", s);
}

/*
 * isLinked / isNotLinked: the attribute names a link ("accounts"), or a
 * link field ("accountsIds", "accountId", or "account" for it).
 */
static int
build_is_linked(struct ectx *c, const struct entity *e, struct wnode *n,
    const char *attr, struct wnode **out)
{
	const struct field	*f;

	if ((n->link = entity_link(e, attr)) != NULL) {
		*out = n;
		return 0;
	}
	f = entity_field(e, attr);
	if (f == NULL)
		f = entity_field(e, arena_printf(c->arena, "%sIds", attr));
	if (f == NULL)
		f = entity_field(e, arena_printf(c->arena, "%sId", attr));
	if (f == NULL || (f->type != FT_LINK && f->type != FT_LINKMULTI &&
	    f->type != FT_PARENT))
		return bad(c, "Where '%s' needs a link, and '%.64s' is none.",
		    n->type == W_IS_LINKED ? "isLinked" : "isNotLinked", attr);
	n->f = f;
	*out = n;
	return 0;
}

static int
build(struct ectx *c, const struct entity *e, const struct json *item,
    struct wnode **out, size_t *count, int depth)
{
	struct wnode		*n;
	const char		*type, *attr;
	const struct json	*value, *list, *pair;
	size_t			 i;
	double			 days = 0;
	int			 rc;
	enum wval		 val = V_NONE;

	if (++*count > WHERE_MAX_ITEMS)
		return entity_fail(c, FCRM_BAD_REQUEST, "Too many where items "
		    "(more than %d).", WHERE_MAX_ITEMS);
	if (depth > 10)
		return entity_fail(c, FCRM_BAD_REQUEST, "Where is nested too "
		    "deeply.");
	if (item == NULL || item->type != JSON_OBJECT)
		return entity_fail(c, FCRM_BAD_REQUEST, "Bad where item: not an "
		    "object.");
	for (i = 0; i < item->n; i++)
		if (strcmp(item->keys[i], "type") != 0 &&
		    strcmp(item->keys[i], "attribute") != 0 &&
		    strcmp(item->keys[i], "field") != 0 &&
		    strcmp(item->keys[i], "value") != 0 &&
		    strcmp(item->keys[i], "dateTime") != 0 &&
		    strcmp(item->keys[i], "timeZone") != 0)
			return bad(c, "Unknown key '%.64s' in where item.",
			    item->keys[i]);
	if ((type = json_gets(item, "type")) == NULL)
		return entity_fail(c, FCRM_BAD_REQUEST, "Where item has no "
		    "type.");
	n = arena_calloc(c->arena, 1, sizeof(*n));
	for (i = 0; i < sizeof(wtypes) / sizeof(wtypes[0]); i++)
		if (strcmp(wtypes[i].name, type) == 0) {
			n->type = wtypes[i].type;
			val = wtypes[i].val;
			break;
		}
	if (i == sizeof(wtypes) / sizeof(wtypes[0]))
		return bad(c, "Unknown where type '%.64s'.", type);
	value = json_get(item, "value");
	n->value = value;
	attr = json_gets(item, "attribute");
	if (attr == NULL)
		attr = json_gets(item, "field");
	if (val == V_ITEMS) {
		if ((list = json_as_list(c->arena, value)) == NULL)
			return bad(c, "Where '%s' needs a list of items.", type);
		n->kids = arena_calloc(c->arena, list->n + 1, sizeof(*n->kids));
		for (i = 0; i < list->n; i++) {
			rc = build(c, e, list->v[i], &n->kids[n->nkids],
			    count, depth + 1);
			if (rc != 0)
				return rc;
			n->nkids++;
		}
		*out = n;
		return 0;
	}
	if (attr == NULL)
		return bad(c, "Where '%s' needs an attribute.", type);
	if (val == V_ISLINK)
		return build_is_linked(c, e, n, attr, out);
	if (val == V_LINK) {
		n->link = entity_link(e, attr);
		if (n->link == NULL && ((n->f = entity_field(e, attr)) == NULL ||
		    (n->f->flags & F_SECRET))) {
			char	*idattr = arena_printf(c->arena, "%sId", attr);

			if ((n->f = entity_field(e, idattr)) == NULL)
				return bad(c, "Not existing attribute '%.64s' "
				    "in where.", attr);
		}
		if ((list = json_as_list(c->arena, value)) == NULL) {
			if (normal_scalar(value) == NULL)
				return bad(c, "Where '%s' needs an id or a "
				    "list of ids.", type);
			list = json_arr(c->arena);
			json_push(c->arena, (struct json *)list,
			    (struct json *)value);
		}
		if (list->n > WHERE_MAX_VALUES)
			return bad(c, "Where '%s' has more than %d values.",
			    type, WHERE_MAX_VALUES);
		n->value = list;
		node_vals(c, n, list);
		vals_sort(n);
		*out = n;
		return 0;
	}
	if ((n->f = entity_field(e, attr)) == NULL ||
	    (n->f->flags & F_SECRET))
		return bad(c, "Not existing attribute '%.64s' in where.", attr);
	switch (val) {
	case V_ONE:
		if (normal_scalar(value) == NULL)
			return bad(c, "Where '%s' needs a value.", type);
		list = json_arr(c->arena);
		json_push(c->arena, (struct json *)list, (struct json *)value);
		node_vals(c, n, list);
		break;
	case V_LIST:
		/* As EspoCRM: a list, never a lone value. */
		if ((list = json_as_list(c->arena, value)) == NULL)
			return bad(c, "Where '%s' needs a list of values, "
			    "not %s.", type, value == NULL ? "none" :
			    "a single value");
		if (list->n > WHERE_MAX_VALUES)
			return bad(c, "Where '%s' has more than %d values.",
			    type, WHERE_MAX_VALUES);
		node_vals(c, n, list);
		vals_sort(n);
		break;
	case V_PAIR:
		pair = json_as_list(c->arena, value);
		if (pair == NULL || pair->n != 2 ||
		    normal_scalar(pair->v[0]) == NULL ||
		    normal_scalar(pair->v[1]) == NULL)
			return bad(c, "Where '%s' needs two values, as a list "
			    "[from, to].", type);
		node_vals(c, n, pair);
		break;
	case V_DAYS:
		if (!json_tonum(value, &days) || days < 0 || days > 100000)
			return bad(c, "Where '%s' needs a number of days.",
			    type);
		date_range(c, n, (long long)days);
		break;
	default:
		date_range(c, n, 0);
		break;
	}
	*out = n;
	return 0;
}

int
where_build(struct ectx *c, const struct entity *e, const struct json *items,
    struct wnode **out)
{
	struct json	*list;
	struct wnode	*n;
	size_t		 i, count = 0;
	int		 rc;

	*out = NULL;
	if (items == NULL)
		return 0;
	if ((list = json_as_list(c->arena, items)) == NULL)
		return entity_fail(c, FCRM_BAD_REQUEST, "Bad where: expected a "
		    "list of items.");
	if (list->n == 0)
		return 0;
	n = arena_calloc(c->arena, 1, sizeof(*n));
	n->type = W_AND;
	n->kids = arena_calloc(c->arena, list->n, sizeof(*n->kids));
	for (i = 0; i < list->n; i++) {
		if ((rc = build(c, e, list->v[i], &n->kids[i], &count, 0)) != 0)
			return rc;
		n->nkids++;
	}
	*out = n;
	return 0;
}

struct wnode *
where_and(struct ectx *c, struct wnode *a, struct wnode *b)
{
	struct wnode	*n;

	if (a == NULL)
		return b;
	if (b == NULL)
		return a;
	n = arena_calloc(c->arena, 1, sizeof(*n));
	n->type = W_AND;
	n->kids = arena_calloc(c->arena, 2, sizeof(*n->kids));
	n->kids[0] = a;
	n->kids[1] = b;
	n->nkids = 2;
	return n;
}

struct wnode *
where_text_filter(struct ectx *c, const struct entity *e, const char *text)
{
	struct wnode	*or, *k;
	struct json	*list;
	const char	*digits;
	size_t		 i, ndig;

	or = arena_calloc(c->arena, 1, sizeof(*or));
	or->type = W_OR;
	or->kids = arena_calloc(c->arena, e->nfields + 1, sizeof(*or->kids));
	list = json_arr(c->arena);
	json_push(c->arena, list, json_str(c->arena, text));
	for (i = 0; i < e->nfields; i++) {
		if (!(e->fields[i].flags & F_TEXT))
			continue;
		k = arena_calloc(c->arena, 1, sizeof(*k));
		k->type = W_STARTS_WITH;
		k->f = &e->fields[i];
		node_vals(c, k, list);
		or->kids[or->nkids++] = k;
	}
	/* A phone-looking text also matches numbers by digits. */
	digits = util_digits(c->arena, text);
	ndig = strlen(digits);
	if (ndig >= 3 && strspn(text, "0123456789+ -().") == strlen(text) &&
	    (e->nfields > 0)) {
		const struct field *pf = entity_field(e, "phoneNumber");

		if (pf != NULL) {
			k = arena_calloc(c->arena, 1, sizeof(*k));
			k->type = W_PHONE_PREFIX;
			k->f = pf;
			node_vals(c, k, list);
			or->kids[or->nkids++] = k;
		}
	}
	return or;
}

/* The record's comparison texts for attribute f (lower-cased). */
static size_t
rec_texts(struct ectx *c, const struct field *f, const struct json *rec,
    const char ***out)
{
	const struct json	*v;
	const char		**t, *s;
	size_t			  i, n = 0;

	*out = NULL;
	if (f->type == FT_PHONE || f->type == FT_EMAIL)
		return normal_points(c->arena, f, rec, out);
	v = json_get(rec, f->name);
	if (v == NULL || v->type == JSON_NULL)
		return 0;
	if (v->type == JSON_ARRAY) {
		t = arena_alloc(c->arena, (v->n + 1) * sizeof(*t));
		for (i = 0; i < v->n; i++)
			if ((s = normal_scalar(v->v[i])) != NULL)
				t[n++] = util_lower(c->arena, s);
		*out = t;
		return n;
	}
	if ((s = normal_scalar(v)) == NULL)
		return 0;
	t = arena_alloc(c->arena, sizeof(*t));
	t[0] = util_lower(c->arena, s);
	*out = t;
	return 1;
}

/*
 * SQL LIKE with % and _, on lower-cased text.  Iterative: on a mismatch
 * it backtracks only to the last %, so the cost is O(len(s) * len(p)).
 * _ matches one UTF-8 character.
 */
static int
like(const char *s, const char *p)
{
	const char	*star = NULL, *resume = NULL;

	while (*s != '\0') {
		if (*p == '%') {
			while (*p == '%')
				p++;
			if (*p == '\0')
				return 1;
			star = p;
			resume = s;
		} else if (*p == '_' || *p == *s) {
			if (*p == '_')
				while (((unsigned char)s[1] & 0xc0) == 0x80)
					s++;
			p++;
			s++;
		} else if (star != NULL) {
			p = star;
			s = ++resume;
		} else
			return 0;
	}
	while (*p == '%')
		p++;
	return *p == '\0';
}

static int
numeric(const struct field *f)
{
	return f->type == FT_INT || f->type == FT_FLOAT;
}

static int
cmp(const struct field *f, const char *a, const char *b)
{
	double	 x, y;

	if (numeric(f)) {
		x = strtod(a, NULL);
		y = strtod(b, NULL);
		return x < y ? -1 : x > y;
	}
	return strcmp(a, b);
}

static int
ends_with(const char *s, const char *suf)
{
	size_t	 n = strlen(s), m = strlen(suf);

	return n >= m && strcmp(s + n - m, suf) == 0;
}

/* Any record text t and any node value v with test(t, v). */
static int
any(const struct wnode *n, const char **t, size_t nt, int op)
{
	size_t	 i, j;

	if (op == W_IN && n->sorted) {
		for (i = 0; i < nt; i++)
			if (vals_has(n, t[i]))
				return 1;
		return 0;
	}
	for (i = 0; i < nt; i++)
		for (j = 0; j < n->nvals; j++) {
			const char *v = n->vals[j];

			switch (op) {
			case W_EQUALS:
			case W_IN:
				if (n->f->type == FT_INT || n->f->type ==
				    FT_FLOAT ? cmp(n->f, t[i], v) == 0 :
				    strcmp(t[i], v) == 0)
					return 1;
				break;
			case W_LIKE:
				if (like(t[i], v))
					return 1;
				break;
			case W_CONTAINS:
				if (strstr(t[i], v) != NULL)
					return 1;
				break;
			case W_STARTS_WITH:
			case W_PHONE_PREFIX:
				if (strncmp(t[i], v, strlen(v)) == 0)
					return 1;
				break;
			case W_ENDS_WITH:
				if (ends_with(t[i], v))
					return 1;
				break;
			case W_GT:
				if (cmp(n->f, t[i], v) > 0)
					return 1;
				break;
			case W_LT:
				if (cmp(n->f, t[i], v) < 0)
					return 1;
				break;
			case W_GTE:
				if (cmp(n->f, t[i], v) >= 0)
					return 1;
				break;
			case W_LTE:
				if (cmp(n->f, t[i], v) <= 0)
					return 1;
				break;
			}
		}
	return 0;
}

static int
in_range(const struct wnode *n, const char **t, size_t nt)
{
	size_t	 i;
	char	 lo[20], hi[20];

	for (i = 0; i < nt; i++) {
		if (n->f->type == FT_DATE) {
			/* Dates compare by their day. */
			snprintf(lo, sizeof(lo), "%.10s", n->lo != NULL ?
			    n->lo : "");
			snprintf(hi, sizeof(hi), "%.10s", n->hi != NULL ?
			    n->hi : "");
			if ((n->lo == NULL || strcmp(t[i], lo) >= 0) &&
			    (n->hi == NULL || strcmp(t[i], hi) <= 0))
				return 1;
			continue;
		}
		if ((n->lo == NULL || strcmp(t[i], n->lo) >= 0) &&
		    (n->hi == NULL || strcmp(t[i], n->hi) <= 0))
			return 1;
	}
	return 0;
}

static int
linked(struct ectx *c, struct store_txn *t, const struct entity *e,
    const struct wnode *n, const struct json *rec)
{
	const struct entity	*fe;
	const struct json	*frec, *v;
	const char		**texts, *id;
	size_t			  i, j, nt;

	if (n->f != NULL) {
		nt = rec_texts(c, n->f, rec, &texts);
		return any(n, texts, nt, W_IN);
	}
	if (n->link->kind == LINK_SELF_MULTI) {
		v = json_get(rec, n->link->attr);
		for (i = 0; v != NULL && v->type == JSON_ARRAY && i < v->n; i++)
			if (v->v[i]->type == JSON_STRING &&
			    vals_has(n, v->v[i]->s))
				return 1;
		return 0;
	}
	(void)e;
	if (n->prepared) {
		id = json_gets(rec, "id");
		return id != NULL && n->nlinked > 0 && bsearch(&id, n->linked,
		    n->nlinked, sizeof(*n->linked), str_cmp) != NULL;
	}
	/* Foreign links read other records: no transaction, no match. */
	if (t == NULL || (fe = entity_find(n->link->foreign)) == NULL)
		return 0;
	id = json_gets(rec, "id");
	for (j = 0; j < n->nvals; j++) {
		struct json *fr;

		if (entity_load(c, t, fe, n->vals[j], ACT_NONE, &fr,
		    NULL) != 0 || !entity_may(c, fe, ACT_READ, fr))
			continue;
		frec = fr;
		v = json_get(frec, n->link->attr);
		if (v == NULL)
			continue;
		if (v->type == JSON_STRING && strcmp(v->s, id) == 0)
			return 1;
		for (i = 0; v->type == JSON_ARRAY && i < v->n; i++)
			if (v->v[i]->type == JSON_STRING &&
			    strcmp(v->v[i]->s, id) == 0)
				return 1;
	}
	return 0;
}

/* Has rec any record on the other side of n's link or link field? */
static int
is_linked(struct ectx *c, struct store_txn *t, const struct entity *e,
    const struct wnode *n, const struct json *rec)
{
	const struct entity	*fe;
	const struct field	*ff;
	const struct json	*v;
	struct json		*fr;
	const char		**ids, *id;
	size_t			  i, nids;

	(void)e;
	if (n->f != NULL || n->link->kind == LINK_SELF_MULTI) {
		v = json_get(rec, n->f != NULL ? n->f->name : n->link->attr);
		if (v == NULL)
			return 0;
		if (v->type == JSON_ARRAY)
			return v->n > 0;
		return v->type == JSON_STRING && v->len > 0;
	}
	/* Foreign records that hold our id, through their index. */
	if (t == NULL || (fe = entity_find(n->link->foreign)) == NULL ||
	    (ff = entity_field(fe, n->link->attr)) == NULL ||
	    fe->db_ix[ff - fe->fields] < 0 || (id = json_gets(rec, "id")) == NULL)
		return 0;
	if (engine_index_ids(c->arena, t, fe->db_ix[ff - fe->fields], id, &ids,
	    &nids) != 0)
		return 0;
	for (i = 0; i < nids; i++)
		if (entity_load(c, t, fe, ids[i], ACT_NONE, &fr, NULL) == 0)
			return 1;
	return 0;
}

/* Adds the id strings of v (a string or an array) to n->linked. */
static void
add_linked(struct arena *a, struct wnode *n, size_t *cap,
    const struct json *v)
{
	const char	**nv;
	size_t		  i;

	for (i = 0; i < (v->type == JSON_ARRAY ? v->n : 1); i++) {
		const struct json *s = v->type == JSON_ARRAY ? v->v[i] : v;

		if (s->type != JSON_STRING)
			continue;
		if (n->nlinked == *cap) {
			*cap = *cap == 0 ? 16 : *cap * 2;
			nv = arena_alloc(a, *cap * sizeof(*nv));
			if (n->nlinked > 0)
				memcpy(nv, n->linked, n->nlinked *
				    sizeof(*nv));
			n->linked = nv;
		}
		n->linked[n->nlinked++] = arena_strndup(a, s->s, s->len);
	}
}

/* where_prepare for one foreign linkedWith node. */
static void
prepare_foreign(struct ectx *c, struct store_txn *t, struct wnode *n)
{
	const struct entity	*fe;
	struct arena		*a = c->arena, *tmp;
	struct json		*fr;
	const struct json	*v;
	size_t			 j, k, cap = 0;

	n->prepared = 1;
	if ((fe = entity_find(n->link->foreign)) == NULL ||
	    (tmp = arena_new()) == NULL)
		return;
	/* Each foreign record is parsed into tmp, its ids kept in a. */
	for (j = 0; j < n->nvals; j++) {
		arena_reset(tmp);
		c->arena = tmp;
		/* Only a foreign record the caller may read links. */
		if (entity_load(c, t, fe, n->vals[j], ACT_NONE, &fr,
		    NULL) == 0 && entity_may(c, fe, ACT_READ, fr) &&
		    (v = json_get(fr, n->link->attr)) != NULL)
			add_linked(a, n, &cap, v);
		c->arena = a;
	}
	arena_free(tmp);
	if (n->nlinked > 1)
		qsort(n->linked, n->nlinked, sizeof(*n->linked), str_cmp);
	for (j = k = 0; j < n->nlinked; j++)
		if (k == 0 || strcmp(n->linked[k - 1], n->linked[j]) != 0)
			n->linked[k++] = n->linked[j];
	n->nlinked = k;
}

void
where_prepare(struct ectx *c, struct store_txn *t, struct wnode *n)
{
	size_t	 i;

	if (n == NULL || t == NULL)
		return;
	for (i = 0; i < n->nkids; i++)
		where_prepare(c, t, n->kids[i]);
	if ((n->type == W_LINKED_WITH || n->type == W_NOT_LINKED_WITH) &&
	    n->f == NULL && n->link != NULL &&
	    n->link->kind != LINK_SELF_MULTI && !n->prepared)
		prepare_foreign(c, t, n);
}

int
where_eval(struct ectx *c, struct store_txn *t, const struct entity *e,
    const struct wnode *n, const struct json *rec)
{
	const char		**texts;
	const struct json	*v;
	size_t			  i, nt;

	if (n == NULL)
		return 1;
	switch (n->type) {
	case W_AND:
		for (i = 0; i < n->nkids; i++)
			if (!where_eval(c, t, e, n->kids[i], rec))
				return 0;
		return 1;
	case W_OR:
		for (i = 0; i < n->nkids; i++)
			if (where_eval(c, t, e, n->kids[i], rec))
				return 1;
		return 0;
	case W_OWN:
		return entity_owns(c, rec);
	case W_LINKED_WITH:
		return linked(c, t, e, n, rec);
	case W_NOT_LINKED_WITH:
		return !linked(c, t, e, n, rec);
	case W_IS_LINKED:
		return is_linked(c, t, e, n, rec);
	case W_IS_NOT_LINKED:
		return !is_linked(c, t, e, n, rec);
	default:
		break;
	}
	nt = rec_texts(c, n->f, rec, &texts);
	switch (n->type) {
	case W_EQUALS:
	case W_IN:
	case W_LIKE:
	case W_CONTAINS:
	case W_STARTS_WITH:
	case W_ENDS_WITH:
	case W_GT:
	case W_LT:
	case W_GTE:
	case W_LTE:
	case W_PHONE_PREFIX:
		return any(n, texts, nt, n->type);
	case W_NOT_EQUALS:
	case W_NOT_IN:
		return nt > 0 && !any(n, texts, nt, W_IN);
	case W_NOT_LIKE:
		return nt > 0 && !any(n, texts, nt, W_LIKE);
	case W_NOT_CONTAINS:
		return nt > 0 && !any(n, texts, nt, W_CONTAINS);
	case W_IS_NULL:
		return nt == 0 || (nt == 1 && *texts[0] == '\0');
	case W_IS_NOT_NULL:
		return nt > 0 && !(nt == 1 && *texts[0] == '\0');
	case W_IS_TRUE:
		v = json_get(rec, n->f->name);
		return json_truthy(v);
	case W_IS_FALSE:
		v = json_get(rec, n->f->name);
		return v != NULL && v->type == JSON_BOOL && !v->b;
	case W_BETWEEN:
		for (i = 0; i < nt; i++)
			if (cmp(n->f, texts[i], n->vals[0]) >= 0 &&
			    cmp(n->f, texts[i], n->vals[1]) <= 0)
				return 1;
		return 0;
	default:
		return in_range(n, texts, nt);
	}
}
