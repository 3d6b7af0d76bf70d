/*
 * A write's body made into a record: the conversion and validation of
 * every attribute it sends (types, enum options, lengths, the configured
 * aliases), phone and email data, defaults, required attributes and the
 * validate hook, the stored form of a record (engine_normalise), and the
 * comparison of a body with a stored record (engine_same_as_body).  CPU
 * only: nothing here reads or writes the store, so a write does this
 * before its transaction opens (record.c).
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fastcrm/conf.h"
#include "fastcrm/entity.h"
#include "fastcrm/error.h"
#include "fastcrm/log.h"
#include "fastcrm/util.h"
#include "engine.h"
#include "normal.h"

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
	s = normal_scalar(v);
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
		val = normal_scalar(in);
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

/*
 * Converts every known, writable attribute of body but the phone and
 * email pairs (engine_apply_points) and sets it on rec.
 */
int
engine_convert_body(struct ectx *c, const struct entity *e, struct json *rec,
    const struct json *body)
{
	const struct field	*f;
	struct json		*v;
	const char		*etype;
	size_t			 i;

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
	return 0;
}

/* Sets every attribute of vals (engine_convert_body's) on rec. */
void
engine_merge(struct arena *a, struct json *rec, const struct json *vals)
{
	size_t	 i;

	for (i = 0; i < vals->n; i++)
		json_set(a, rec, vals->keys[i], vals->v[i]);
}

/* Applies the body's phone and email pairs to rec (its data merged). */
int
engine_apply_points(struct ectx *c, const struct entity *e, struct json *rec,
    const struct json *body)
{
	const struct field	*f;
	size_t			 i;
	int			 rc;

	for (i = 0; i < e->nfields; i++) {
		f = &e->fields[i];
		if (f->type != FT_PHONE && f->type != FT_EMAIL)
			continue;
		if ((rc = apply_points(c, e, f, rec, body)) != 0)
			return rc;
	}
	return 0;
}

/* Applies every known, writable attribute of body to rec. */
int
engine_apply_body(struct ectx *c, const struct entity *e, struct json *rec,
    const struct json *body)
{
	int	 rc;

	if ((rc = engine_convert_body(c, e, rec, body)) != 0)
		return rc;
	return engine_apply_points(c, e, rec, body);
}

static int
is_empty(const struct json *v)
{
	return v == NULL || v->type == JSON_NULL ||
	    (v->type == JSON_STRING && v->len == 0) ||
	    (v->type == JSON_ARRAY && v->n == 0);
}

/* Required attributes and hook validation. */
int
engine_check_required(struct ectx *c, const struct entity *e, const struct json *rec)
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

/* Typed defaults of a new record. */
void
engine_set_defaults(struct ectx *c, const struct entity *e, struct json *rec)
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

/* The record with every attribute, in table order; secrets dropped. */
struct json *
engine_normalise(struct arena *a, const struct entity *e, const struct json *rec)
{
	struct json		*out, *v;
	const struct field	*f;
	size_t			 i, at = 0;

	/* Field names are unique (entity_init), so out appends unlooked. */
	out = json_obj(a);
	for (i = 0; i < e->nfields; i++) {
		f = &e->fields[i];
		if (f->flags & F_SECRET)
			continue;
		v = json_get_next(rec, f->name, &at);
		if (v == NULL) {
			if (f->type == FT_LINKMULTI || f->type == FT_DATA)
				v = json_arr(a);
			else if (f->type == FT_NAME &&
			    strcmp(f->name + strlen(f->name) - 5, "Names") == 0)
				v = json_obj(a);
			else
				v = json_null(a);
		}
		json_append(a, out, f->name, v);
	}
	return out;
}

/* 1 if every attribute given in body has the same value in rec. */
int
engine_same_as_body(struct ectx *c, const struct entity *e, const struct json *body,
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
