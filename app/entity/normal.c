/*
 * The comparison forms of attribute values (normal.h): phone numbers by
 * their digits, email addresses and text by their ASCII lower case, for
 * the index keys, the where clauses and import's --match alike.
 */
#include <string.h>

#include "fastcrm/util.h"
#include "normal.h"

const char *
normal_scalar(const struct json *v)
{
	if (v == NULL)
		return NULL;
	if (v->type == JSON_STRING || v->type == JSON_NUMBER)
		return v->s;
	if (v->type == JSON_BOOL)
		return v->b ? "true" : "false";
	return NULL;
}

const char *
normal_point(struct arena *a, enum ftype type, const char *s)
{
	return type == FT_PHONE ? util_digits(a, s) : util_lower(a, s);
}

size_t
normal_points(struct arena *a, const struct field *f, const struct json *rec,
    const char ***out)
{
	const struct json	*data;
	const char		**t, *s;
	size_t			  i, n = 0;

	*out = NULL;
	data = json_get(rec, f->type == FT_PHONE ? "phoneNumberData" :
	    "emailAddressData");
	if (data == NULL || data->type != JSON_ARRAY || data->n == 0)
		return 0;
	t = arena_alloc(a, (data->n + 1) * sizeof(*t));
	for (i = 0; i < data->n; i++) {
		s = json_gets(data->v[i], f->type == FT_PHONE ?
		    "phoneNumber" : "emailAddress");
		if (s != NULL)
			t[n++] = normal_point(a, f->type, s);
	}
	*out = t;
	return n;
}

const char *
normal_key(struct arena *a, const struct field *f, const char *s)
{
	if (f->type == FT_PHONE || f->type == FT_EMAIL)
		return normal_point(a, f->type, s);
	if (f->type != FT_LINK && f->type != FT_PARENT)
		s = util_lower(a, s);
	if (strlen(s) > NORMAL_KEY_MAX)
		s = arena_strndup(a, s, NORMAL_KEY_MAX);
	return s;
}

size_t
normal_phone_query(struct arena *a, const char *s, const char *cc,
    const char *out[2])
{
	const char	*e164;
	size_t		 n = 0;

	out[n++] = normal_point(a, FT_PHONE, s);
	if ((e164 = util_phone_e164(a, s, cc)) != NULL)
		out[n++] = normal_point(a, FT_PHONE, e164);
	return n;
}
