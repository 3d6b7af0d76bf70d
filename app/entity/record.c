/*
 * Record writes: input conversion and validation, computed attributes,
 * link names, unique and duplicate checks, and index maintenance.  A
 * write is one LMDB transaction: the record and every index entry change
 * together or not at all.
 */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fastcrm/conf.h"
#include "fastcrm/entity.h"
#include "fastcrm/error.h"
#include "fastcrm/log.h"
#include "fastcrm/store.h"
#include "fastcrm/util.h"
#include "engine.h"
#include "where.h"

/*
 * EspoCRM's 409: the records in the way (one record is sent as a
 * one-element list).
 */
static int fail_conflict(struct ectx *, const struct json *, const char *, ...)
    __attribute__((format(printf, 3, 4)));

static int
fail_conflict(struct ectx *c, const struct json *recs, const char *fmt, ...)
{
	struct json	*list;
	va_list		 ap;

	memset(&c->fault, 0, sizeof(c->fault));
	c->fault.code = FCRM_CONFLICT;
	va_start(ap, fmt);
	c->fault.reason = arena_vprintf(c->arena, fmt, ap);
	va_end(ap);
	if (recs->type != JSON_ARRAY) {
		list = json_arr(c->arena);
		json_push(c->arena, list, (struct json *)recs);
		recs = list;
	}
	c->fault.kind = FAULT_CONFLICT;
	c->fault.records = recs;
	return FCRM_CONFLICT;
}

/* Logs an unknown attribute once per worker, entity and name. */
static void
warn_unknown(const struct entity *e, const char *attr)
{
	static char	*seen[256];
	static size_t	 nseen;
	char		 key[200];
	size_t		 i;

	snprintf(key, sizeof(key), "%s.%s", e->name, attr);
	for (i = 0; i < nseen; i++)
		if (strcmp(seen[i], key) == 0)
			return;
	if (nseen < sizeof(seen) / sizeof(seen[0]))
		seen[nseen++] = strdup(key);
	log_warn("ignoring unknown attribute '%.80s' on %s (logged once per "
	    "worker)", attr, e->name);
}

/* Text form of a scalar, or NULL. */
static const char *
scalar_text(const struct json *v)
{
	if (v == NULL)
		return NULL;
	if (v->type == JSON_STRING || v->type == JSON_NUMBER)
		return v->s;
	if (v->type == JSON_BOOL)
		return v->b ? "true" : "false";
	return NULL;
}

static size_t
utf8_chars(const char *s, size_t len)
{
	size_t	 i, n = 0;

	for (i = 0; i < len; i++)
		if (((unsigned char)s[i] & 0xc0) != 0x80)
			n++;
	return n;
}

/*
 * Converts one input value to the stored form.  NULL *out means null.
 * Returns 0, or -1 with *etype set to EspoCRM's validation type.
 */
int
engine_convert(struct arena *a, const struct field *f, const struct json *v,
    struct json **out, const char **etype)
{
	const char	*s;
	char		 dt[20], d[11], *end;
	double		 num;
	long long	 ll;
	size_t		 i;
	struct json	*arr;

	*out = NULL;
	*etype = "valid";
	if (v == NULL || v->type == JSON_NULL)
		return 0;
	s = scalar_text(v);
	if (s != NULL && *s == '\0' && f->type != FT_VARCHAR &&
	    f->type != FT_TEXT && !(f->type == FT_ENUM && f->options != NULL &&
	    f->options[0] != NULL && f->options[0][0] == '\0'))
		return 0;
	switch (f->type) {
	case FT_VARCHAR:
	case FT_TEXT:
	case FT_PASSWORD:
		if (s == NULL)
			return -1;
		if (f->max_length > 0 && utf8_chars(s, strlen(s)) > f->max_length) {
			*etype = "maxLength";
			return -1;
		}
		*out = json_str(a, s);
		return 0;
	case FT_INT:
		if (s == NULL)
			return -1;
		errno = 0;
		ll = strtoll(s, &end, 10);
		if (errno == ERANGE)
			return -1;
		if (*end != '\0' || end == s) {
			/* The cast is defined only inside the range. */
			if (json_tonum(v, &num) && num >= (double)LLONG_MIN &&
			    num < (double)LLONG_MAX &&
			    num == (double)(long long)num)
				ll = (long long)num;
			else
				return -1;
		}
		*out = json_int(a, ll);
		return 0;
	case FT_FLOAT:
		if (!json_tonum(v, &num))
			return -1;
		*out = json_num(a, num);
		return 0;
	case FT_BOOL:
		if (v->type == JSON_BOOL)
			*out = json_bool(a, v->b);
		else if (s != NULL && (strcmp(s, "true") == 0 ||
		    strcmp(s, "1") == 0))
			*out = json_bool(a, 1);
		else if (s != NULL && (strcmp(s, "false") == 0 ||
		    strcmp(s, "0") == 0))
			*out = json_bool(a, 0);
		else
			return -1;
		return 0;
	case FT_ENUM:
		if (s == NULL || f->options == NULL)
			return -1;
		for (i = 0; f->options[i] != NULL; i++)
			if (strcmp(f->options[i], s) == 0) {
				*out = json_str(a, f->options[i]);
				return 0;
			}
		for (i = 0; f->options[i] != NULL; i++)
			if (strcasecmp(f->options[i], s) == 0) {
				*out = json_str(a, f->options[i]);
				return 0;
			}
		return -1;
	case FT_DATETIME:
		if (s == NULL || util_datetime_parse(s, dt) != 0)
			return -1;
		*out = json_str(a, dt);
		return 0;
	case FT_DATE:
		if (s == NULL || util_date_parse(s, d) != 0)
			return -1;
		*out = json_str(a, d);
		return 0;
	case FT_LINK:
	case FT_PARENT:
		if (v->type != JSON_STRING || strlen(s) > 64)
			return -1;
		*out = json_str(a, s);
		return 0;
	case FT_LINKMULTI:
		arr = json_arr(a);
		if (v->type == JSON_OBJECT)	/* form body: xsIds[0]=.. */
			v = json_as_list(a, v);
		if (v == NULL)
			return -1;
		if (v->type == JSON_STRING) {
			json_push(a, arr, json_str(a, s));
		} else if (v->type == JSON_ARRAY) {
			for (i = 0; i < v->n; i++) {
				if (v->v[i]->type != JSON_STRING ||
				    v->v[i]->len > 64)
					return -1;
				json_push(a, arr, json_str(a, v->v[i]->s));
			}
		} else
			return -1;
		*out = arr;
		return 0;
	default:
		return -1;
	}
}

/* Does "" in a body mean "not given" for this caller? */
static int
empty_absent(const struct ectx *c)
{
	return c->who != NULL && c->who->empty_absent;
}

/* One phone or email entry, normalised; NULL when unusable. */
static const char *
contact_point(struct ectx *c, const struct field *f, const char *s)
{
	const char	*n, *at;

	while (*s == ' ' && f->type == FT_EMAIL)
		s++;
	if (*s == '\0')
		return NULL;
	if (f->type == FT_EMAIL) {
		at = strchr(s, '@');
		if (at == NULL || at == s || strchr(at + 1, '.') == NULL ||
		    strchr(s, ' ') != NULL || strlen(s) > 255)
			return NULL;
		return s;
	}
	n = util_phone_e164(c->arena, s, c->conf->default_country_code);
	if (n != NULL)
		return n;
	if (strlen(util_digits(c->arena, s)) < 3 || strlen(s) > 36)
		return NULL;
	return s;
}

/*
 * Applies phoneNumber / phoneNumberData (or the email pair) from body to
 * rec.  The data array is the truth; the plain attribute is its primary.
 */
static int
apply_points(struct ectx *c, const struct entity *e, const struct field *f,
    struct json *rec, const struct json *body)
{
	struct arena	*a = c->arena;
	char		 dname[64];
	const char	*key, *val, *pv;
	const struct json *in, *item;
	struct json	*data, *old, *ent, *nd;
	size_t		 i, j, primary;

	snprintf(dname, sizeof(dname), "%sData", f->name);
	key = f->type == FT_PHONE ? "phoneNumber" : "emailAddress";
	old = json_get(rec, dname);
	data = json_arr(a);
	if (old != NULL && old->type == JSON_ARRAY)
		for (i = 0; i < old->n; i++)
			json_push(a, data, json_copy(a, old->v[i]));
	if ((in = json_get(body, dname)) != NULL && in->type != JSON_NULL) {
		if (in->type != JSON_ARRAY || in->n > 10)
			return entity_fail_validation(c, e, f->name,
			    "valid");
		data = json_arr(a);
		for (i = 0; i < in->n; i++) {
			item = in->v[i];
			if (item->type != JSON_OBJECT ||
			    (val = json_gets(item, key)) == NULL)
				return entity_fail_validation(c, e, f->name,
				    "valid");
			if ((val = contact_point(c, f, val)) == NULL)
				return entity_fail_validation(c, e, f->name,
				    "valid");
			ent = json_obj(a);
			json_set(a, ent, key, json_str(a, val));
			if (f->type == FT_PHONE) {
				pv = json_gets(item, "type");
				json_set(a, ent, "type", json_str(a,
				    pv != NULL ? pv : "Mobile"));
			} else
				json_set(a, ent, "lower",
				    json_str(a, util_lower(a, val)));
			json_set(a, ent, "primary",
			    json_bool(a, json_truthy(json_get(item, "primary"))));
			json_set(a, ent, "optOut",
			    json_bool(a, json_truthy(json_get(item, "optOut"))));
			json_set(a, ent, "invalid",
			    json_bool(a, json_truthy(json_get(item, "invalid"))));
			json_push(a, data, ent);
		}
	} else if ((in = json_get(body, f->name)) != NULL &&
	    !(in->type == JSON_STRING && in->len == 0 && empty_absent(c))) {
		val = scalar_text(in);
		primary = data->n;
		for (i = 0; i < data->n; i++)
			if (json_truthy(json_get(data->v[i], "primary")))
				primary = i;
		if (val == NULL || *val == '\0') {
			if (in->type != JSON_NULL && val == NULL)
				return entity_fail_validation(c, e, f->name,
				    "valid");
			if (primary < data->n) {
				nd = json_arr(a);
				for (i = 0; i < data->n; i++)
					if (i != primary)
						json_push(a, nd, data->v[i]);
				data = nd;
			}
		} else {
			if ((val = contact_point(c, f, val)) == NULL)
				return entity_fail_validation(c, e, f->name,
				    "valid");
			for (j = 0; j < data->n; j++)
				if (strcasecmp(json_gets(data->v[j], key), val)
				    == 0)
					break;
			if (j < data->n) {
				for (i = 0; i < data->n; i++)
					json_set(a, data->v[i], "primary",
					    json_bool(a, i == j));
			} else if (primary < data->n) {
				json_set(a, data->v[primary], key,
				    json_str(a, val));
				if (f->type == FT_EMAIL)
					json_set(a, data->v[primary], "lower",
					    json_str(a, util_lower(a, val)));
			} else {
				if (data->n >= 10)
					return entity_fail_validation(c, e,
					    f->name, "valid");
				ent = json_obj(a);
				json_set(a, ent, key, json_str(a, val));
				if (f->type == FT_PHONE)
					json_set(a, ent, "type", json_str(a,
					    e->phone_type));
				else
					json_set(a, ent, "lower", json_str(a,
					    util_lower(a, val)));
				json_set(a, ent, "primary", json_bool(a, 1));
				json_set(a, ent, "optOut", json_bool(a, 0));
				json_set(a, ent, "invalid", json_bool(a, 0));
				json_push(a, data, ent);
			}
		}
	} else
		return 0;
	/* Exactly one primary: the first flagged, else the first. */
	primary = data->n;
	for (i = 0; i < data->n; i++)
		if (primary == data->n &&
		    json_truthy(json_get(data->v[i], "primary")))
			primary = i;
	if (primary == data->n && data->n > 0)
		primary = 0;
	for (i = 0; i < data->n; i++)
		json_set(a, data->v[i], "primary", json_bool(a, i == primary));
	json_set(a, rec, arena_strdup(a, dname), data);
	json_set(a, rec, f->name, primary < data->n ?
	    json_copy(a, json_get(data->v[primary], key)) : json_null(a));
	return 0;
}

/*
 * The configured alias of a word for field f (entities: E: aliases:), any
 * case, or v itself.
 */
static const struct json *
alias(struct ectx *c, const struct entity *e, const struct field *f,
    const struct json *v)
{
	const struct conf_alias	*al;
	size_t			 i;

	if (v->type != JSON_STRING || c->conf == NULL)
		return v;
	for (i = 0; i < c->conf->naliases; i++) {
		al = &c->conf->aliases[i];
		if (strcasecmp(al->from, v->s) == 0 &&
		    strcmp(al->field, f->name) == 0 &&
		    strcmp(al->entity, e->name) == 0)
			return json_str(c->arena, al->to);
	}
	return v;
}

/* Applies every known, writable attribute of body to rec. */
static int
apply_body(struct ectx *c, const struct entity *e, struct json *rec,
    const struct json *body)
{
	const struct field	*f;
	struct json		*v;
	const char		*etype;
	size_t			 i;
	int			 rc;

	for (i = 0; i < body->n; i++) {
		f = entity_field(e, body->keys[i]);
		if (f == NULL) {
			warn_unknown(e, body->keys[i]);
			continue;
		}
		if (((f->flags & F_READONLY) && !(c->trusted &&
		    (f->type == FT_LINK || f->type == FT_INT))) ||
		    f->type == FT_DATA ||
		    f->type == FT_PHONE || f->type == FT_EMAIL ||
		    f->type == FT_PASSWORD)
			continue;
		if (engine_convert(c->arena, f, alias(c, e, f, body->v[i]), &v,
		    &etype) != 0)
			return entity_fail_validation(c, e, f->name, etype);
		/*
		 * EspoCRM's rules: "" clears an optional attribute and fails
		 * a required one (check_required).  A principal with
		 * empty_means_absent (Ringotel fills every variable it lacks
		 * with "") has "" mean "not given", except where "" is a
		 * value: a text that is not required.
		 */
		if (empty_absent(c) && body->v[i]->type == JSON_STRING &&
		    body->v[i]->len == 0 &&
		    (v == NULL || (f->flags & F_REQUIRED)))
			continue;
		json_set(c->arena, rec, f->name,
		    v != NULL ? v : json_null(c->arena));
	}
	for (i = 0; i < e->nfields; i++) {
		f = &e->fields[i];
		if (f->type != FT_PHONE && f->type != FT_EMAIL)
			continue;
		if ((rc = apply_points(c, e, f, rec, body)) != 0)
			return rc;
	}
	return 0;
}

static int
is_empty(const struct json *v)
{
	return v == NULL || v->type == JSON_NULL ||
	    (v->type == JSON_STRING && v->len == 0) ||
	    (v->type == JSON_ARRAY && v->n == 0);
}

/* Required attributes and hook validation. */
static int
check_required(struct ectx *c, const struct entity *e, const struct json *rec)
{
	const char	*field, *type;
	size_t		 i;

	for (i = 0; i < e->nfields; i++)
		if ((e->fields[i].flags & F_REQUIRED) &&
		    is_empty(json_get(rec, e->fields[i].name)))
			return entity_fail_validation(c, e, e->fields[i].name,
			    "required");
	if (e->hooks != NULL && e->hooks->validate != NULL &&
	    e->hooks->validate(e, rec, &field, &type) != 0)
		return entity_fail_validation(c, e, field, type);
	return 0;
}

/* The name of a configured principal with this id, or NULL. */
static const char *
principal_name(const struct conf *conf, const char *id)
{
	size_t	 i;

	/* The command line's own principal (import, migrate, erase). */
	if (strcmp(id, "00000000000000000") == 0)
		return "system";
	for (i = 0; i < conf->nusers; i++)
		if (strcmp(conf->users[i].id, id) == 0)
			return conf->users[i].name;
	return NULL;
}

/*
 * The display name of record id of entity target, for a link the caller
 * sets.  A link that the record already held (kept != NULL: its stored
 * name) is not the caller's doing and is not checked again; a new one
 * needs `read` on its target (EspoCRM's link check).  Principals (User)
 * are the exception: assigning a record to someone is not reading them,
 * and a configured principal is named by the configuration.
 */
static int
link_name(struct ectx *c, struct store_txn *t, const char *target,
    const char *id, const struct json *kept, const char **name)
{
	const struct entity	*te;
	struct json		*rec;
	const char		*n;
	int			 rc;

	if ((te = entity_find(target)) == NULL)
		return entity_fail(c, FCRM_FORBIDDEN, "Record %s with id "
		    "'%.64s' does not exist.", target, id);
	if (te->principals && (n = principal_name(c->conf, id)) != NULL) {
		*name = n;
		return 0;
	}
	if (kept != NULL || te->principals) {
		rc = entity_load(c, t, te, id, ACT_NONE, &rec, NULL);
		if (rc == FCRM_NOT_FOUND && kept != NULL) {
			/* The target went away since: keep what we had. */
			*name = kept->type == JSON_STRING ? kept->s : "";
			return 0;
		}
		if (rc == FCRM_NOT_FOUND)
			rc = entity_load_target(c, t, te, id, ACT_NONE, &rec);
	} else
		rc = entity_load_target(c, t, te, id, ACT_READ, &rec);
	if (rc != 0)
		return rc;
	n = json_gets(rec, "name");
	*name = n != NULL ? n : "";
	return 0;
}

/* The stored name of link id in old (NULL when old did not hold it). */
static const struct json *
kept_name(struct arena *a, const struct json *old, const char *attr,
    const char *nattr, const char *id)
{
	const struct json	*v, *names;
	size_t			 i;

	if (old == NULL || (v = json_get(old, attr)) == NULL)
		return NULL;
	if (v->type == JSON_STRING)
		return strcmp(v->s, id) == 0 ? json_get(old, nattr) : NULL;
	if (v->type != JSON_ARRAY)
		return NULL;
	for (i = 0; i < v->n; i++)
		if (v->v[i]->type == JSON_STRING && strcmp(v->v[i]->s, id) == 0) {
			names = json_get(old, nattr);
			v = names != NULL ? json_get(names, id) : NULL;
			return v != NULL ? v : json_str(a, "");
		}
	return NULL;
}

/* "xId" → "xName", "xsIds" → "xsNames". */
char *
engine_name_attr(struct arena *a, const char *attr)
{
	size_t	 n = strlen(attr);

	if (n > 3 && strcmp(attr + n - 3, "Ids") == 0)
		return arena_printf(a, "%.*sNames", (int)(n - 3), attr);
	if (n > 2 && strcmp(attr + n - 2, "Id") == 0)
		return arena_printf(a, "%.*sName", (int)(n - 2), attr);
	return arena_printf(a, "%sName", attr);
}

/*
 * Fills every link's name attribute.  Links that differ from old (every
 * link of a new record) must name a record the caller may read.
 */
static int
resolve_links(struct ectx *c, struct store_txn *t, const struct entity *e,
    struct json *rec, const struct json *old)
{
	struct arena		*a = c->arena;
	const struct field	*f;
	const char		*id, *name, *ptype, *nattr;
	struct json		*ids, *names;
	char			 allowed[128], *tok, *save;
	size_t			 i, j;
	int			 rc, ok;

	for (i = 0; i < e->nfields; i++) {
		f = &e->fields[i];
		if (f->type == FT_LINK) {
			nattr = engine_name_attr(a, f->name);
			if ((id = json_gets(rec, f->name)) == NULL ||
			    *id == '\0') {
				/* No link, no name (an unset link kept its
				   old name before). */
				if (json_get(rec, nattr) != NULL)
					json_set(a, rec, nattr, json_null(a));
				continue;
			}
			if ((rc = link_name(c, t, f->target, id, kept_name(a,
			    old, f->name, nattr, id), &name)) != 0)
				return rc;
			json_set(a, rec, nattr, json_str(a, name));
		} else if (f->type == FT_LINKMULTI) {
			ids = json_get(rec, f->name);
			names = json_obj(a);
			nattr = engine_name_attr(a, f->name);
			for (j = 0; ids != NULL && ids->type == JSON_ARRAY &&
			    j < ids->n; j++) {
				id = ids->v[j]->s;
				if ((rc = link_name(c, t, f->target, id,
				    kept_name(a, old, f->name, nattr, id),
				    &name)) != 0)
					return rc;
				json_set(a, names, id, json_str(a, name));
			}
			json_set(a, rec, nattr, names);
		} else if (f->type == FT_PARENT) {
			id = json_gets(rec, "parentId");
			ptype = json_gets(rec, "parentType");
			if (id == NULL || *id == '\0') {
				json_set(a, rec, "parentType", json_null(a));
				json_set(a, rec, "parentName", json_null(a));
				continue;
			}
			if (ptype == NULL || *ptype == '\0')
				return entity_fail_validation(c, e,
				    "parentType", "required");
			snprintf(allowed, sizeof(allowed), "%s", f->target);
			ok = 0;
			for (tok = strtok_r(allowed, ",", &save); tok != NULL;
			    tok = strtok_r(NULL, ",", &save))
				if (strcmp(tok, ptype) == 0)
					ok = 1;
			if (!ok)
				return entity_fail_validation(c, e,
				    "parentType", "valid");
			if ((rc = link_name(c, t, ptype, id, old != NULL &&
			    json_gets(old, "parentType") != NULL &&
			    strcmp(json_gets(old, "parentType"), ptype) == 0 ?
			    kept_name(a, old, "parentId", "parentName", id) :
			    NULL, &name)) != 0)
				return rc;
			json_set(a, rec, "parentName", json_str(a, name));
		}
	}
	return 0;
}

/* The record with every attribute, in table order; secrets dropped. */
static struct json *
normalise(struct arena *a, const struct entity *e, const struct json *rec)
{
	struct json		*out, *v;
	const struct field	*f;
	size_t			 i;

	out = json_obj(a);
	for (i = 0; i < e->nfields; i++) {
		f = &e->fields[i];
		if (f->flags & F_SECRET)
			continue;
		v = json_get(rec, f->name);
		if (v == NULL) {
			if (f->type == FT_LINKMULTI || f->type == FT_DATA)
				v = json_arr(a);
			else if (f->type == FT_NAME &&
			    strcmp(f->name + strlen(f->name) - 5, "Names") == 0)
				v = json_obj(a);
			else
				v = json_null(a);
		}
		json_set(a, out, f->name, v);
	}
	return out;
}

/* Index keys of field fi of rec (normalised values), in the arena. */
size_t
engine_index_keys(struct arena *a, const struct entity *e, size_t fi,
    const struct json *rec, const char ***keys)
{
	const struct field	*f = &e->fields[fi];
	const struct json	*v, *item;
	const char		**k, *s;
	char			 dname[64];
	size_t			 i, n = 0;

	*keys = NULL;
	if (f->type == FT_PHONE || f->type == FT_EMAIL) {
		snprintf(dname, sizeof(dname), "%sData", f->name);
		v = json_get(rec, dname);
		if (v == NULL || v->type != JSON_ARRAY || v->n == 0)
			return 0;
		k = arena_alloc(a, v->n * sizeof(*k));
		for (i = 0; i < v->n; i++) {
			item = v->v[i];
			s = json_gets(item, f->type == FT_PHONE ?
			    "phoneNumber" : "emailAddress");
			if (s == NULL)
				continue;
			s = f->type == FT_PHONE ? util_digits(a, s) :
			    util_lower(a, s);
			if (*s != '\0')
				k[n++] = s;
		}
		*keys = k;
		return n;
	}
	v = json_get(rec, f->name);
	if (v == NULL || v->type == JSON_NULL)
		return 0;
	if (v->type == JSON_ARRAY) {
		k = arena_alloc(a, (v->n + 1) * sizeof(*k));
		for (i = 0; i < v->n; i++)
			if (v->v[i]->type == JSON_STRING && v->v[i]->len > 0)
				k[n++] = v->v[i]->s;
		*keys = k;
		return n;
	}
	if ((s = scalar_text(v)) == NULL || *s == '\0')
		return 0;
	k = arena_alloc(a, sizeof(*k));
	k[0] = (f->type == FT_LINK || f->type == FT_PARENT) ? s :
	    util_lower(a, s);
	if (strlen(k[0]) > 400)
		k[0] = arena_strndup(a, k[0], 400);
	*keys = k;
	return 1;
}

/* The ordered-index key: a sortable form of the value, NUL, the id. */
char *
engine_order_key(struct arena *a, const struct field *f,
    const struct json *v, const char *id, size_t *len)
{
	struct buf	 b;
	const char	*s;
	long long	 n;

	buf_init(&b, a);
	s = scalar_text(v);
	if (s != NULL && f->type == FT_INT) {
		n = strtoll(s, NULL, 10);
		buf_printf(&b, "%020llu", (unsigned long long)n +
		    9223372036854775808ULL);
	} else if (s != NULL) {
		s = util_lower(a, s);
		buf_add(&b, s, strlen(s) > 200 ? 200 : strlen(s));
	}
	buf_addc(&b, '\0');
	buf_adds(&b, id);
	*len = b.len;
	return b.p;
}

/* Adds (add != 0) or removes the index entries of rec. */
static int
index_apply(struct ectx *c, struct store_txn *t, const struct entity *e,
    const struct json *rec, int add)
{
	const char	**keys, *id;
	char		 *ok;
	size_t		  i, j, n, oklen;
	int		  rc;

	id = json_gets(rec, "id");
	for (i = 0; i < e->nfields; i++) {
		if (e->db_ix[i] >= 0) {
			n = engine_index_keys(c->arena, e, i, rec, &keys);
			for (j = 0; j < n; j++) {
				rc = add ? store_put(t, e->db_ix[i], keys[j],
				    strlen(keys[j]), id, UTIL_ID_LEN) :
				    store_del(t, e->db_ix[i], keys[j],
				    strlen(keys[j]), id, UTIL_ID_LEN);
				if (rc != 0)
					return rc;
			}
		}
		if (e->db_ox[i] >= 0) {
			ok = engine_order_key(c->arena, &e->fields[i],
			    json_get(rec, e->fields[i].name), id, &oklen);
			rc = add ? store_put(t, e->db_ox[i], ok, oklen, id,
			    UTIL_ID_LEN) : store_del(t, e->db_ox[i], ok, oklen,
			    NULL, 0);
			if (rc != 0)
				return rc;
		}
	}
	return 0;
}

/* Stores rec (replacing old, if any) with its index entries. */
static int
store_record(struct ectx *c, struct store_txn *t, const struct entity *e,
    const struct json *old, const struct json *rec)
{
	struct buf	 b;
	const char	*id;
	int		 rc;

	if (old != NULL && (rc = index_apply(c, t, e, old, 0)) != 0)
		return rc;
	if (!json_truthy(json_get(rec, "deleted")) &&
	    (rc = index_apply(c, t, e, rec, 1)) != 0)
		return rc;
	buf_init(&b, c->arena);
	json_write(&b, rec);
	id = json_gets(rec, "id");
	return store_put(t, e->db_rec, id, strlen(id), b.p, b.len);
}

/* Begins a txn that the arena aborts unless it was committed. */
int
entity_begin(struct ectx *c, int write, struct store_txn ***tp)
{
	struct store_txn	**t;
	int			  rc;

	t = arena_calloc(c->arena, 1, sizeof(*t));
	if ((rc = store_begin(c->store, write, t)) != 0)
		return entity_fail(c, rc, "%s", rc == FCRM_MAP_FULL ?
		    "Storage is full; raise map_size." :
		    "Cannot open a storage transaction.");
	arena_cleanup(c->arena, store_abort_cleanup, t);
	*tp = t;
	return 0;
}

int
entity_commit(struct ectx *c, struct store_txn **t)
{
	int	 rc;

	/* Past its memory ceiling a request writes nothing. */
	if (arena_over(c->arena)) {
		store_abort(*t);
		*t = NULL;
		return entity_fail(c, FCRM_TOO_LARGE, "The request passed "
		    "its memory ceiling (%zu bytes).", arena_limit(c->arena));
	}
	rc = store_commit(*t);
	*t = NULL;
	if (rc == FCRM_MAP_FULL)
		return entity_fail(c, rc, "Storage is full; raise map_size.");
	if (rc != 0)
		return entity_fail(c, rc, "Storage commit failed.");
	return 0;
}

void
entity_end(struct store_txn **t)
{
	store_abort(*t);
	*t = NULL;
}

int
entity_meta_put(struct ectx *c, struct store_txn *t, const char *key,
    const void *val, size_t len)
{
	int	 db;

	if ((db = store_db(c->store, "meta")) < 0)
		return FCRM_STORE;
	return store_put(t, db, key, strlen(key), val, len);
}

static int
store_fail(struct ectx *c, int rc)
{
	if (rc == FCRM_MAP_FULL)
		return entity_fail(c, rc, "Storage is full; raise map_size.");
	if (c->fault.reason == NULL)
		return entity_fail(c, rc, "%s", error_reason(rc));
	return rc;
}

/* The route's record for act: 404 naming it, 403, or a store error. */
static int
load_for(struct ectx *c, struct store_txn *t, const struct entity *e,
    const char *id, enum action act, struct json **rec)
{
	int	 rc;

	rc = entity_load(c, t, e, id, act, rec, NULL);
	if (rc == FCRM_NOT_FOUND)
		return entity_fail(c, rc, "Record %s '%.64s' not found.",
		    e->name, id);
	return rc != 0 ? store_fail(c, rc) : 0;
}

struct ids {
	struct arena	 *a;
	const char	**v;
	size_t		  n, cap;
};

static int
collect_id(void *arg, struct store_val k, struct store_val v)
{
	struct ids	 *ids = arg;
	const char	**nv;

	(void)k;
	if (ids->n == ids->cap) {
		ids->cap = ids->cap == 0 ? 8 : ids->cap * 2;
		nv = arena_alloc(ids->a, ids->cap * sizeof(*nv));
		if (ids->n > 0)
			memcpy(nv, ids->v, ids->n * sizeof(*nv));
		ids->v = nv;
	}
	ids->v[ids->n++] = arena_strndup(ids->a, v.p, v.len);
	return ids->n >= 100000 ? -1 : 0;
}

/* Ids under one key of an equality index (at most 100000). */
int
engine_index_ids(struct arena *a, struct store_txn *t, int db,
    const char *key, const char ***out, size_t *n)
{
	struct ids	 ids;
	int		 rc;

	memset(&ids, 0, sizeof(ids));
	ids.a = a;
	rc = store_iter_dups(t, db, key, strlen(key), collect_id, &ids);
	*out = ids.v;
	*n = ids.n;
	return rc;
}

/*
 * Unique attributes: FCRM_OK, or the existing record in *dup with
 * *ret = 1 when the field returns the existing record, 0 for a 409.  A
 * holder the caller may not read is a 409 without its data: *dup stays
 * NULL and *hidden names the attribute.
 */
static int
check_unique(struct ectx *c, struct store_txn *t, const struct entity *e,
    const struct json *rec, struct json **dup, int *ret, const char **hidden)
{
	const char	**keys, **ids, *self;
	size_t		  i, j, n, nids;
	int		  rc;

	*dup = NULL;
	*hidden = NULL;
	self = json_gets(rec, "id");
	for (i = 0; i < e->nfields; i++) {
		if (!(e->fields[i].flags & F_UNIQUE) || e->db_ix[i] < 0)
			continue;
		n = engine_index_keys(c->arena, e, i, rec, &keys);
		for (j = 0; j < n; j++) {
			if ((rc = engine_index_ids(c->arena, t, e->db_ix[i],
			    keys[j], &ids, &nids)) != 0)
				return rc;
			if (nids == 0 || (self != NULL &&
			    strcmp(ids[0], self) == 0 && nids == 1))
				continue;
			if (self != NULL && strcmp(ids[0], self) == 0)
				ids++;
			rc = entity_load(c, t, e, ids[0], ACT_NONE, dup, NULL);
			if (rc != 0)
				return rc == FCRM_NOT_FOUND ? 0 : rc;
			if (!entity_may(c, e, ACT_READ, *dup)) {
				*dup = NULL;
				*hidden = e->fields[i].name;
				return 0;
			}
			*ret = (e->fields[i].flags & F_RETURN) != 0;
			return 0;
		}
	}
	return 0;
}

/* 1 if every attribute given in body has the same value in rec. */
static int
same_as_body(struct ectx *c, const struct entity *e, const struct json *body,
    const struct json *rec)
{
	const struct field	*f;
	struct json		*v, *tmp;
	const char		*etype;
	size_t			 i;

	for (i = 0; i < body->n; i++) {
		f = entity_field(e, body->keys[i]);
		if (f == NULL || (f->flags & F_READONLY) ||
		    f->type == FT_DATA)
			continue;
		if (f->type == FT_PHONE || f->type == FT_EMAIL) {
			tmp = json_obj(c->arena);
			json_set(c->arena, tmp, f->name, body->v[i]);
			v = json_obj(c->arena);
			if (apply_points(c, e, f, v, tmp) != 0) {
				c->fault.reason = NULL;
				return 0;
			}
			v = json_get(v, f->name);
		} else if (engine_convert(c->arena, f, alias(c, e, f,
		    body->v[i]), &v, &etype) != 0)
			return 0;
		if (v == NULL)
			v = json_null(c->arena);
		tmp = json_get(rec, f->name);
		if (tmp == NULL)
			tmp = json_null(c->arena);
		if (!json_equal(v, tmp))
			return 0;
	}
	return 1;
}

/* EspoCRM's duplicate check: records that look like rec. */
static int
find_duplicates(struct ectx *c, struct store_txn *t, const struct entity *e,
    const struct json *rec, struct json **list)
{
	const struct field	*f;
	const char		**keys, **ids;
	struct json		*dup;
	size_t			  i, j, k, n, nids, fi;
	int			  rc;

	*list = json_arr(c->arena);
	for (i = 0; e->dup_attrs != NULL && e->dup_attrs[i] != NULL; i++) {
		f = entity_field(e, e->dup_attrs[i]);
		fi = (size_t)(f - e->fields);
		if (e->db_ix[fi] < 0)
			continue;
		n = engine_index_keys(c->arena, e, fi, rec, &keys);
		for (j = 0; j < n; j++) {
			if ((rc = engine_index_ids(c->arena, t, e->db_ix[fi],
			    keys[j], &ids, &nids)) != 0)
				return rc;
			for (k = 0; k < nids && (*list)->n < 20; k++) {
				/* EspoCRM's duplicate finder applies access
				   control: what the caller may not read is
				   no duplicate of theirs. */
				rc = entity_load(c, t, e, ids[k], ACT_NONE,
				    &dup, NULL);
				if (rc == FCRM_NOT_FOUND ||
				    (rc == 0 && !entity_may(c, e, ACT_READ, dup)))
					continue;
				if (rc != 0)
					return rc;
				json_push(c->arena, *list, dup);
			}
		}
	}
	return 0;
}

static void
set_system(struct ectx *c, struct json *rec, int create)
{
	struct arena	*a = c->arena;
	char		 now[20];

	util_now(now);
	if (create) {
		json_set(a, rec, "createdAt", json_str(a, now));
		json_set(a, rec, "createdById", json_str(a, c->who->id));
		json_set(a, rec, "createdByName", json_str(a, c->who->name));
	}
	json_set(a, rec, "modifiedAt", json_str(a, now));
	json_set(a, rec, "modifiedById", json_str(a, c->who->id));
	json_set(a, rec, "modifiedByName", json_str(a, c->who->name));
}

/* Typed defaults of a new record. */
static void
set_defaults(struct ectx *c, const struct entity *e, struct json *rec)
{
	const struct field	*f;
	struct json		*v;
	const char		*etype;
	size_t			 i;

	for (i = 0; i < e->nfields; i++) {
		f = &e->fields[i];
		if (f->def == NULL)
			continue;
		if (engine_convert(c->arena, f, json_str(c->arena, f->def), &v,
		    &etype) == 0 && v != NULL)
			json_set(c->arena, rec, f->name, v);
		else if (f->type == FT_ENUM && *f->def == '\0')
			json_set(c->arena, rec, f->name, json_str(c->arena, ""));
	}
}

/*
 * The entity's prepare hook on body, before any write txn: *state for its
 * store hook (NULL when it has none).
 */
static int
hook_prepare(struct ectx *c, const struct entity *e, const struct json *body,
    void **state)
{
	*state = NULL;
	if (e->hooks == NULL || e->hooks->prepare == NULL)
		return 0;
	return e->hooks->prepare(c, e, body, state);
}

/* The entity's store hook, in t once rec is stored. */
static int
hook_store(struct ectx *c, struct store_txn *t, const struct entity *e,
    const struct json *rec, void *state)
{
	if (e->hooks == NULL || e->hooks->store == NULL)
		return 0;
	return e->hooks->store(c, t, e, rec, state);
}

/* Attributes an import keeps as exported (system values). */
static const char *const kept[] = {
	"createdAt", "modifiedAt", "createdById", "createdByName",
	"modifiedById", "modifiedByName", "number", NULL
};

/* Creates from body in t; state is the prepare hook's. */
static int
create_in(struct ectx *c, struct store_txn *t, const struct entity *e,
    const struct json *body, void *state, struct json **out)
{
	struct arena		 *a = c->arena;
	struct json		 *rec, *dup, *dups, *v;
	const char		 *hidden;
	char			  id[UTIL_ID_LEN + 1];
	long long		  num;
	size_t			  i;
	int			  rc, ret = 0;

	rec = json_obj(a);
	set_defaults(c, e, rec);
	if ((rc = apply_body(c, e, rec, body)) != 0)
		return rc;
	if (e->hooks != NULL && e->hooks->compute != NULL)
		e->hooks->compute(a, e, rec, NULL);
	engine_link_twins(a, e, rec, NULL);
	if ((rc = check_required(c, e, rec)) != 0)
		return rc;
	if ((rc = check_unique(c, t, e, rec, &dup, &ret, &hidden)) != 0)
		return store_fail(c, rc);
	if (hidden != NULL)
		return entity_fail(c, FCRM_CONFLICT, "Duplicate: a %s you may "
		    "not read has this %s.", e->name, hidden);
	if (dup != NULL) {
		if (ret || same_as_body(c, e, body, dup)) {
			*out = dup;
			return 0;
		}
		return fail_conflict(c, dup, "Duplicate: a %s with this "
		    "unique value exists.", e->name);
	}
	if (e->dup_attrs != NULL && (!c->import || c->import_dups) &&
	    !c->skip_dups) {
		if ((rc = find_duplicates(c, t, e, rec, &dups)) != 0)
			return store_fail(c, rc);
		for (i = 0; i < dups->n; i++)
			if (same_as_body(c, e, body, dups->v[i])) {
				*out = dups->v[i];
				return 0;
			}
		if (dups->n > 0) {
			/* EspoCRM's reason, exactly; the way out goes to the
			   log (and the API notes). */
			log_info("409 duplicate: a similar %s exists; the "
			    "client may send X-Skip-Duplicate-Check: true to "
			    "create it anyway", e->name);
			return fail_conflict(c, dups, "duplicate");
		}
	}
	if ((rc = resolve_links(c, t, e, rec, NULL)) != 0)
		return rc;
	if ((c->trusted || c->import) && json_gets(body, "id") != NULL &&
	    util_id_valid(json_gets(body, "id")))
		snprintf(id, sizeof(id), "%s", json_gets(body, "id"));
	else
		util_id_new(id);
	if (c->import) {
		struct store_val sv;

		if (store_get(t, e->db_rec, id, UTIL_ID_LEN, &sv) == 0)
			return entity_fail(c, FCRM_CONFLICT, "A %s with id %s "
			    "exists already.", e->name, id);
	}
	json_set(a, rec, "id", json_str(a, id));
	json_set(a, rec, "deleted", json_bool(a, 0));
	set_system(c, rec, 1);
	if (e->counter != NULL) {
		v = c->import ? json_get(body, "number") : NULL;
		if (v != NULL && json_tonum(v, &(double){ 0 })) {
			json_set(a, rec, "number", json_int(a,
			    strtoll(v->s, NULL, 10)));
		} else {
			if ((rc = store_counter_next(t, store_db(c->store,
			    "counters"), e->counter, &num)) != 0)
				return store_fail(c, rc);
			json_set(a, rec, "number", json_int(a, num));
		}
	}
	for (i = 0; c->import && kept[i] != NULL; i++)
		if ((v = json_get(body, kept[i])) != NULL &&
		    v->type == JSON_STRING && entity_field(e, kept[i]) != NULL)
			json_set(a, rec, kept[i], v);
	rec = normalise(a, e, rec);
	if (e->hooks != NULL && e->hooks->guard != NULL &&
	    (rc = e->hooks->guard(c, t, e, NULL, rec, body)) != 0)
		return rc;
	if ((rc = store_record(c, t, e, NULL, rec)) != 0 ||
	    (rc = hook_store(c, t, e, rec, state)) != 0)
		return store_fail(c, rc);
	*out = rec;
	return 0;
}

int
entity_create_in(struct ectx *c, struct store_txn *t, const struct entity *e,
    const struct json *body, struct json **out)
{
	void	*state;
	int	 rc;

	if ((rc = hook_prepare(c, e, body, &state)) != 0)
		return rc;
	return create_in(c, t, e, body, state, out);
}

int
entity_create(struct ectx *c, const struct entity *e, const struct json *body,
    struct json **out)
{
	struct store_txn	**t;
	void			 *state;
	int			  rc;

	if ((rc = hook_prepare(c, e, body, &state)) != 0)
		return rc;
	if ((rc = entity_begin(c, 1, &t)) != 0)
		return rc;
	if ((rc = create_in(c, *t, e, body, state, out)) != 0)
		return rc;
	return entity_commit(c, t);
}

/* Updates record id from body in t; state is the prepare hook's. */
static int
update_in(struct ectx *c, struct store_txn *t, const struct entity *e,
    const char *id, const struct json *body, void *state, struct json **out)
{
	struct arena		 *a = c->arena;
	struct json		 *old, *rec, *dup;
	const char		 *hidden;
	int			  rc, ret = 0;

	if ((rc = load_for(c, t, e, id, ACT_EDIT, &old)) != 0)
		return rc;
	rec = json_copy(a, old);
	if ((rc = apply_body(c, e, rec, body)) != 0)
		return rc;
	if (e->hooks != NULL && e->hooks->compute != NULL)
		e->hooks->compute(a, e, rec, old);
	engine_link_twins(a, e, rec, old);
	if ((rc = check_required(c, e, rec)) != 0)
		return rc;
	if ((rc = check_unique(c, t, e, rec, &dup, &ret, &hidden)) != 0)
		return store_fail(c, rc);
	if (hidden != NULL)
		return entity_fail(c, FCRM_CONFLICT, "Duplicate: a %s you may "
		    "not read has this %s.", e->name, hidden);
	if (dup != NULL)
		return fail_conflict(c, dup, "Duplicate: another %s has this "
		    "unique value.", e->name);
	if ((rc = resolve_links(c, t, e, rec, old)) != 0)
		return rc;
	set_system(c, rec, 0);
	rec = normalise(a, e, rec);
	if (e->hooks != NULL && e->hooks->guard != NULL &&
	    (rc = e->hooks->guard(c, t, e, old, rec, body)) != 0)
		return rc;
	if ((rc = store_record(c, t, e, old, rec)) != 0 ||
	    (rc = hook_store(c, t, e, rec, state)) != 0)
		return store_fail(c, rc);
	*out = rec;
	return 0;
}

int
entity_update_in(struct ectx *c, struct store_txn *t, const struct entity *e,
    const char *id, const struct json *body, struct json **out)
{
	void	*state;
	int	 rc;

	if ((rc = hook_prepare(c, e, body, &state)) != 0)
		return rc;
	return update_in(c, t, e, id, body, state, out);
}

int
entity_update(struct ectx *c, const struct entity *e, const char *id,
    const struct json *body, struct json **out)
{
	struct store_txn	**t;
	void			 *state;
	int			  rc;

	if ((rc = hook_prepare(c, e, body, &state)) != 0)
		return rc;
	if ((rc = entity_begin(c, 1, &t)) != 0)
		return rc;
	if ((rc = update_in(c, *t, e, id, body, state, out)) != 0)
		return rc;
	return entity_commit(c, t);
}

int
entity_delete(struct ectx *c, const struct entity *e, const char *id)
{
	struct store_txn	**t;
	struct json		 *old, *rec;
	int			  rc;

	if ((rc = entity_begin(c, 1, &t)) != 0)
		return rc;
	if ((rc = load_for(c, *t, e, id, ACT_DELETE, &old)) != 0)
		return rc;
	rec = json_copy(c->arena, old);
	json_set(c->arena, rec, "deleted", json_bool(c->arena, 1));
	set_system(c, rec, 0);
	if ((rc = store_record(c, *t, e, old, rec)) != 0)
		return store_fail(c, rc);
	return entity_commit(c, t);
}

/* Adds or removes id in the array attribute attr of rec; 1 if changed. */
static int
ids_edit(struct arena *a, struct json *rec, const char *attr,
    const char *id, int add)
{
	struct json	*ids, *n;
	size_t		 i;
	int		 found = 0;

	ids = json_get(rec, attr);
	n = json_arr(a);
	for (i = 0; ids != NULL && ids->type == JSON_ARRAY && i < ids->n; i++) {
		if (ids->v[i]->type == JSON_STRING &&
		    strcmp(ids->v[i]->s, id) == 0) {
			found = 1;
			if (!add)
				continue;
		}
		json_push(a, n, ids->v[i]);
	}
	if (add && !found)
		json_push(a, n, json_str(a, id));
	json_set(a, rec, attr, n);
	return add != found;
}

/* Rewrites one record after a relation change. */
static int
rewrite(struct ectx *c, struct store_txn *t, const struct entity *e,
    const struct json *old, struct json *rec)
{
	int	 rc;

	if (e->hooks != NULL && e->hooks->compute != NULL)
		e->hooks->compute(c->arena, e, rec, old);
	engine_link_twins(c->arena, e, rec, old);
	if ((rc = resolve_links(c, t, e, rec, old)) != 0)
		return rc;
	set_system(c, rec, 0);
	rec = normalise(c->arena, e, rec);
	if ((rc = store_record(c, t, e, old, rec)) != 0)
		return store_fail(c, rc);
	return 0;
}

int
entity_relate(struct ectx *c, const struct entity *e, const char *id,
    const struct link *l, const struct json *ids, int add)
{
	struct arena		 *a = c->arena;
	struct store_txn	**t;
	const struct entity	 *fe;
	const struct field	 *ff;
	struct json		 *self, *rec, *frec, *old;
	const char		 *fid;
	size_t			  i;
	int			  rc;

	if ((fe = entity_find(l->foreign)) == NULL)
		return entity_fail(c, FCRM_NOT_FOUND, "Link '%s' not found.",
		    l->name);
	if ((rc = entity_begin(c, 1, &t)) != 0)
		return rc;
	if ((rc = load_for(c, *t, e, id, ACT_EDIT, &self)) != 0)
		return rc;
	rec = json_copy(a, self);
	for (i = 0; i < ids->n; i++) {
		/* Relating changes the foreign record too: EspoCRM's link
		   check wants edit on both. */
		fid = ids->v[i]->s;
		if ((rc = entity_load_target(c, *t, fe, fid, ACT_EDIT,
		    &frec)) != 0)
			return store_fail(c, rc);
		if (l->kind == LINK_SELF_MULTI) {
			ids_edit(a, rec, l->attr, fid, add);
			continue;
		}
		ff = entity_field(fe, l->attr);
		old = frec;
		frec = json_copy(a, old);
		if (ff->type == FT_LINKMULTI) {
			if (!ids_edit(a, frec, l->attr, id, add))
				continue;
		} else if (add) {
			json_set(a, frec, l->attr, json_str(a, id));
			if (ff->type == FT_PARENT)
				json_set(a, frec, "parentType",
				    json_str(a, e->name));
		} else {
			if (json_gets(frec, l->attr) == NULL ||
			    strcmp(json_gets(frec, l->attr), id) != 0)
				continue;
			json_set(a, frec, l->attr, json_null(a));
			if (ff->type == FT_PARENT)
				json_set(a, frec, "parentType", json_null(a));
		}
		if ((rc = rewrite(c, *t, fe, old, frec)) != 0)
			return rc;
	}
	if (l->kind == LINK_SELF_MULTI &&
	    (rc = rewrite(c, *t, e, self, rec)) != 0)
		return rc;
	return entity_commit(c, t);
}

/* same_as_body for the importer (import.c): an unchanged row is no write. */
int
engine_same_as_body(struct ectx *c, const struct entity *e,
    const struct json *body, const struct json *rec)
{
	return same_as_body(c, e, body, rec);
}

/* Removes rec for good with its index entries (purge, erase: erase.c). */
int
engine_remove(struct ectx *c, struct store_txn *t, const struct entity *e,
    const struct json *rec)
{
	const char	*id;
	int		 rc;

	if (!json_truthy(json_get(rec, "deleted")) &&
	    (rc = index_apply(c, t, e, rec, 0)) != 0)
		return rc;
	id = json_gets(rec, "id");
	return store_del(t, e->db_rec, id, strlen(id), NULL, 0);
}
