/*
 * JSON values in an arena: yajl parses, we build the tree and write it
 * back out.  A yajl handle is released through an arena cleanup so that no
 * error path leaks it.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yajl/yajl_parse.h>

#include "fastcrm/json.h"
#include "fastcrm/util.h"

struct jparse {
	struct arena	*a;
	struct json	*stack[JSON_MAX_DEPTH + 1];
	size_t		 depth;
	const char	*key;		/* pending object key */
	struct json	*root;
	const char	*why;
	int		 body;		/* json_parse_body's caps apply */
	size_t		 nodes;
};

static struct json *
json_new(struct arena *a, enum json_type t)
{
	struct json	*j;

	j = arena_calloc(a, 1, sizeof(*j));
	j->type = t;
	return j;
}

struct json *
json_null(struct arena *a)
{
	return json_new(a, JSON_NULL);
}

struct json *
json_bool(struct arena *a, int b)
{
	struct json	*j;

	j = json_new(a, JSON_BOOL);
	j->b = b != 0;
	return j;
}

struct json *
json_strn(struct arena *a, const char *s, size_t len)
{
	struct json	*j;

	j = json_new(a, JSON_STRING);
	j->s = arena_strndup(a, s, len);
	j->len = len;
	return j;
}

struct json *
json_str_over(struct arena *a, const char *s, size_t len)
{
	struct json	*j;

	j = json_new(a, JSON_STRING);
	j->s = s;
	j->len = len;
	return j;
}

struct json *
json_str(struct arena *a, const char *s)
{
	return json_strn(a, s, strlen(s));
}

struct json *
json_numtext(struct arena *a, const char *s)
{
	struct json	*j;

	j = json_new(a, JSON_NUMBER);
	j->s = arena_strdup(a, s);
	j->len = strlen(s);
	return j;
}

struct json *
json_int(struct arena *a, long long v)
{
	char	 tmp[32];

	snprintf(tmp, sizeof(tmp), "%lld", v);
	return json_numtext(a, tmp);
}

struct json *
json_num(struct arena *a, double v)
{
	char	 tmp[64];

	if (!isfinite(v))
		return json_null(a);
	if (v == (double)(long long)v && fabs(v) < 1e15)
		snprintf(tmp, sizeof(tmp), "%lld", (long long)v);
	else
		snprintf(tmp, sizeof(tmp), "%.17g", v);
	return json_numtext(a, tmp);
}

struct json *
json_arr(struct arena *a)
{
	return json_new(a, JSON_ARRAY);
}

struct json *
json_obj(struct arena *a)
{
	return json_new(a, JSON_OBJECT);
}

static void
json_grow(struct arena *a, struct json *c)
{
	size_t		  ncap;
	struct json	**nv;
	const char	**nk;

	if (c->n < c->cap)
		return;
	ncap = c->cap == 0 ? 8 : c->cap * 2;
	nv = arena_alloc(a, ncap * sizeof(*nv));
	if (c->n > 0)
		memcpy(nv, c->v, c->n * sizeof(*nv));
	c->v = nv;
	if (c->type == JSON_OBJECT) {
		nk = arena_alloc(a, ncap * sizeof(*nk));
		if (c->n > 0)
			memcpy(nk, c->keys, c->n * sizeof(*nk));
		c->keys = nk;
	}
	c->cap = ncap;
}

void
json_push(struct arena *a, struct json *arr, struct json *v)
{
	json_grow(a, arr);
	arr->v[arr->n++] = v;
}

void
json_set(struct arena *a, struct json *obj, const char *key, struct json *v)
{
	size_t	 i;

	/* The first byte first: most keys differ there, without a call. */
	for (i = 0; i < obj->n; i++)
		if (obj->keys[i][0] == key[0] && strcmp(obj->keys[i], key) == 0) {
			obj->v[i] = v;
			return;
		}
	json_append(a, obj, key, v);
}

void
json_append(struct arena *a, struct json *obj, const char *key, struct json *v)
{
	json_grow(a, obj);
	obj->keys[obj->n] = key;
	obj->v[obj->n++] = v;
}

void
json_del(struct json *obj, const char *key)
{
	size_t	 i;

	if (obj == NULL || obj->type != JSON_OBJECT)
		return;
	for (i = 0; i < obj->n; i++)
		if (strcmp(obj->keys[i], key) == 0) {
			memmove(&obj->keys[i], &obj->keys[i + 1],
			    (obj->n - i - 1) * sizeof(*obj->keys));
			memmove(&obj->v[i], &obj->v[i + 1],
			    (obj->n - i - 1) * sizeof(*obj->v));
			obj->n--;
			return;
		}
}

struct json *
json_copy(struct arena *a, const struct json *j)
{
	struct json	*c;
	size_t		 i;

	c = json_new(a, j->type);
	c->b = j->b;
	if (j->s != NULL) {
		c->s = arena_strndup(a, j->s, j->len);
		c->len = j->len;
	}
	for (i = 0; i < j->n; i++) {
		if (j->type == JSON_OBJECT)
			json_set(a, c, arena_strdup(a, j->keys[i]),
			    json_copy(a, j->v[i]));
		else
			json_push(a, c, json_copy(a, j->v[i]));
	}
	return c;
}

struct json *
json_get(const struct json *obj, const char *key)
{
	size_t	 i;

	if (obj == NULL || obj->type != JSON_OBJECT)
		return NULL;
	for (i = 0; i < obj->n; i++)
		if (obj->keys[i][0] == key[0] && strcmp(obj->keys[i], key) == 0)
			return obj->v[i];
	return NULL;
}

struct json *
json_get_next(const struct json *obj, const char *key, size_t *at)
{
	size_t	 i;

	if (obj == NULL || obj->type != JSON_OBJECT)
		return NULL;
	i = *at;
	if (i < obj->n && obj->keys[i][0] == key[0] &&
	    strcmp(obj->keys[i], key) == 0) {
		*at = i + 1;
		return obj->v[i];
	}
	for (i = 0; i < obj->n; i++)
		if (obj->keys[i][0] == key[0] && strcmp(obj->keys[i], key) == 0) {
			*at = i + 1;
			return obj->v[i];
		}
	return NULL;
}

/* Bytes that matter inside a container: strings and brackets. */
static const unsigned char	raw_in_container[256] = {
	['"'] = 1, ['{'] = 1, ['['] = 1, ['}'] = 1, [']'] = 1
};

/* The end of the JSON string starting at p ('"'), or NULL. */
static const char *
raw_string_end(const char *p, const char *end, int *escaped)
{
	const char	*q, *bs;

	for (p++; p < end; p = bs + 2) {
		if ((q = memchr(p, '"', (size_t)(end - p))) == NULL)
			return NULL;
		if ((bs = memchr(p, '\\', (size_t)(q - p))) == NULL)
			return q + 1;
		/* An escape: the quote may be escaped; go on after it. */
		*escaped = 1;
	}
	return NULL;
}

/* The end of the JSON value starting at p, or NULL. */
static const char *
raw_value_end(const char *p, const char *end)
{
	int	 depth = 0, esc;

	do {
		if (p >= end)
			return NULL;
		if (*p == '"') {
			if ((p = raw_string_end(p, end, &esc)) == NULL)
				return NULL;
			continue;
		}
		if (*p == '{' || *p == '[')
			depth++;
		else if (*p == '}' || *p == ']')
			depth--;
		else if (depth == 0) {
			/* A scalar at the top: up to a delimiter. */
			while (p < end && *p != ',' && *p != '}' &&
			    *p != ']' && *p != ' ' && *p != '\n')
				p++;
			return p;
		}
		p++;
		/* Inside a container only strings and brackets matter. */
		while (depth > 0 && p < end &&
		    !raw_in_container[(unsigned char)*p])
			p++;
	} while (depth > 0);
	return p;
}

int
json_raw_span(const char *buf, size_t len, const char *key, const char **vp,
    size_t *vlen)
{
	const char	*p = buf, *end = buf + len, *k, *v, *ve;
	size_t		 klen = strlen(key);
	int		 esc, same;

	*vp = NULL;
	*vlen = 0;
	while (p < end && *p != '{')
		p++;
	for (p++; p < end; ) {
		while (p < end && (*p == ' ' || *p == '\n' || *p == ','))
			p++;
		if (p < end && *p == '}')
			return 0;
		if (p >= end || *p != '"')
			return -1;
		esc = 0;
		k = p + 1;
		if ((p = raw_string_end(p, end, &esc)) == NULL)
			return -1;
		/* The key as it is written: p is past its closing quote. */
		same = (size_t)(p - 1 - k) == klen && memcmp(k, key, klen) == 0;
		while (p < end && (*p == ' ' || *p == ':'))
			p++;
		if ((ve = raw_value_end(p, end)) == NULL || ve == p)
			return -1;
		v = p;
		p = ve;
		if (!same)
			continue;
		if (esc)
			return -1;
		*vp = v;
		*vlen = (size_t)(ve - v);
		return 1;
	}
	return -1;
}

int
json_raw_get(struct arena *a, const char *buf, size_t len, const char *key,
    const char **out)
{
	const char	*v;
	size_t		 n;
	int		 rc, esc = 0;

	*out = NULL;
	if ((rc = json_raw_span(buf, len, key, &v, &n)) != 1)
		return rc;
	if (*v == '{' || *v == '[')
		return -1;
	if (*v == 'n' || *v == 't' || *v == 'f')
		return 1;
	if (*v != '"') {
		*out = arena_strndup(a, v, n);
		return 1;
	}
	raw_string_end(v, v + n, &esc);
	if (esc)
		return -1;
	*out = arena_strndup(a, v + 1, n - 2);
	return 1;
}

const char *
json_gets(const struct json *obj, const char *key)
{
	const struct json	*v;

	v = json_get(obj, key);
	if (v == NULL || v->type != JSON_STRING)
		return NULL;
	return v->s;
}

int
json_truthy(const struct json *j)
{
	if (j == NULL)
		return 0;
	switch (j->type) {
	case JSON_BOOL:
		return j->b;
	case JSON_NUMBER:
		return strtod(j->s, NULL) != 0;
	case JSON_STRING:
		return strcmp(j->s, "true") == 0 || strcmp(j->s, "1") == 0;
	default:
		return 0;
	}
}

int
json_tonum(const struct json *j, double *out)
{
	char	*end;

	if (j == NULL || (j->type != JSON_NUMBER && j->type != JSON_STRING))
		return 0;
	if (j->len == 0)
		return 0;
	*out = strtod(j->s, &end);
	return *end == '\0' && isfinite(*out);
}

int
json_equal(const struct json *x, const struct json *y)
{
	size_t		 i;
	struct json	*o;

	if (x == NULL || y == NULL)
		return x == y;
	if (x->type != y->type)
		return 0;
	switch (x->type) {
	case JSON_NULL:
		return 1;
	case JSON_BOOL:
		return x->b == y->b;
	case JSON_NUMBER:
		return strtod(x->s, NULL) == strtod(y->s, NULL);
	case JSON_STRING:
		return x->len == y->len && memcmp(x->s, y->s, x->len) == 0;
	case JSON_ARRAY:
		if (x->n != y->n)
			return 0;
		for (i = 0; i < x->n; i++)
			if (!json_equal(x->v[i], y->v[i]))
				return 0;
		return 1;
	case JSON_OBJECT:
		if (x->n != y->n)
			return 0;
		for (i = 0; i < x->n; i++) {
			o = json_get(y, x->keys[i]);
			if (o == NULL || !json_equal(x->v[i], o))
				return 0;
		}
		return 1;
	}
	return 0;
}

/* Parsing. */

/*
 * json_parse_body's checks, before a value is built: the top is an object,
 * arrays and the whole document stay under their caps, and the arena is
 * under its ceiling.  Returns 0 (with p->why) to stop yajl.
 */
static int
jp_check(struct jparse *p, int is_object)
{
	struct json	*top;

	if (!p->body)
		return 1;
	if (p->depth == 0 && !is_object) {
		p->why = "Body must be a JSON object.";
		return 0;
	}
	if (++p->nodes > JSON_MAX_NODES) {
		p->why = "JSON has too many values (more than "
		    JSON_STR(JSON_MAX_NODES) ").";
		return 0;
	}
	if (p->depth > 0 && (top = p->stack[p->depth - 1])->type ==
	    JSON_ARRAY && top->n >= JSON_MAX_ITEMS) {
		p->why = "JSON array is too long (more than "
		    JSON_STR(JSON_MAX_ITEMS) " items).";
		return 0;
	}
	if (arena_over(p->a)) {
		p->why = "JSON body needs more memory than a request may use.";
		return 0;
	}
	return 1;
}

static int
jp_add(struct jparse *p, struct json *v)
{
	struct json	*top;

	if (p->depth == 0) {
		p->root = v;
		return 1;
	}
	top = p->stack[p->depth - 1];
	if (top->type == JSON_ARRAY)
		json_push(p->a, top, v);
	else {
		/* Appended; jp_end_map folds repeated keys. */
		json_grow(p->a, top);
		top->keys[top->n] = p->key;
		top->v[top->n++] = v;
	}
	return 1;
}

/* jp_fold_keys' table: a power of two, at least twice the keys. */
#define JP_SLOTS	4096
_Static_assert(2 * JSON_MAX_KEYS <= JP_SLOTS, "JP_SLOTS too small");

static uint32_t
jp_hash(const char *s)
{
	uint32_t	 h = 2166136261u;

	while (*s != '\0')
		h = (h ^ (unsigned char)*s++) * 16777619u;
	return h;
}

/*
 * A repeated key keeps its first place and takes the last value, as
 * json_set would have done; linear in the number of keys (a hash table
 * of key positions), so a hostile object with many keys costs no more
 * than its size.
 */
static void
jp_fold_keys(struct json *o)
{
	uint16_t	 slot[JP_SLOTS];
	size_t		 size, mask, i, j, out;
	uint32_t	 h;

	if (o->n < 2)
		return;
	for (size = 4; size < 2 * o->n; size *= 2)
		continue;
	mask = size - 1;
	memset(slot, 0, size * sizeof(*slot));
	for (i = 0, out = 0; i < o->n; i++) {
		h = jp_hash(o->keys[i]);
		for (j = h & mask; slot[j] != 0; j = (j + 1) & mask)
			if (strcmp(o->keys[slot[j] - 1], o->keys[i]) == 0)
				break;
		if (slot[j] != 0) {
			o->v[slot[j] - 1] = o->v[i];
			continue;
		}
		o->keys[out] = o->keys[i];
		o->v[out] = o->v[i];
		slot[j] = (uint16_t)(++out);
	}
	o->n = out;
}

static int
jp_open(struct jparse *p, struct json *v)
{
	if (p->depth >= JSON_MAX_DEPTH) {
		p->why = "JSON is nested too deeply.";
		return 0;
	}
	jp_add(p, v);
	p->stack[p->depth++] = v;
	return 1;
}

static int
jp_null(void *ctx)
{
	struct jparse	*p = ctx;

	if (!jp_check(p, 0))
		return 0;
	return jp_add(p, json_null(p->a));
}

static int
jp_boolean(void *ctx, int b)
{
	struct jparse	*p = ctx;

	if (!jp_check(p, 0))
		return 0;
	return jp_add(p, json_bool(p->a, b));
}

static int
jp_number(void *ctx, const char *s, size_t len)
{
	struct jparse	*p = ctx;
	struct json	*j;
	char		 tmp[80];

	if (!jp_check(p, 0))
		return 0;
	if (len > 64) {
		p->why = "JSON number is too long.";
		return 0;
	}
	memcpy(tmp, s, len);
	tmp[len] = '\0';
	if (!isfinite(strtod(tmp, NULL))) {
		p->why = "JSON number is out of range.";
		return 0;
	}
	j = json_new(p->a, JSON_NUMBER);
	j->s = arena_strndup(p->a, s, len);
	j->len = len;
	return jp_add(p, j);
}

static int
jp_string(void *ctx, const unsigned char *s, size_t len)
{
	struct jparse	*p = ctx;

	if (!jp_check(p, 0))
		return 0;
	if (memchr(s, '\0', len) != NULL) {
		p->why = "JSON string contains a NUL character.";
		return 0;
	}
	/* yajl checks byte structure only: surrogates, overlongs, > U+10FFFF */
	if (!util_utf8_valid((const char *)s, len)) {
		p->why = "JSON string is not valid UTF-8.";
		return 0;
	}
	return jp_add(p, json_strn(p->a, (const char *)s, len));
}

static int
jp_start_map(void *ctx)
{
	struct jparse	*p = ctx;

	if (!jp_check(p, 1))
		return 0;
	return jp_open(p, json_obj(p->a));
}

static int
jp_map_key(void *ctx, const unsigned char *s, size_t len)
{
	struct jparse	*p = ctx;

	if (memchr(s, '\0', len) != NULL) {
		p->why = "JSON key contains a NUL character.";
		return 0;
	}
	if (!util_utf8_valid((const char *)s, len)) {
		p->why = "JSON key is not valid UTF-8.";
		return 0;
	}
	/* Bounds the work per object (and jp_fold_keys' table). */
	if (p->stack[p->depth - 1]->n >= JSON_MAX_KEYS) {
		p->why = "JSON object has too many keys.";
		return 0;
	}
	p->key = arena_strndup(p->a, (const char *)s, len);
	return 1;
}

static int
jp_end(void *ctx)
{
	struct jparse	*p = ctx;

	p->depth--;
	return 1;
}

static int
jp_end_map(void *ctx)
{
	struct jparse	*p = ctx;

	jp_fold_keys(p->stack[p->depth - 1]);
	return jp_end(ctx);
}

static int
jp_start_array(void *ctx)
{
	struct jparse	*p = ctx;

	if (!jp_check(p, 0))
		return 0;
	return jp_open(p, json_arr(p->a));
}

static const yajl_callbacks jp_callbacks = {
	jp_null, jp_boolean, NULL, NULL, jp_number, jp_string,
	jp_start_map, jp_map_key, jp_end_map, jp_start_array, jp_end
};

static void
jp_free(void *h)
{
	yajl_free(h);
}

static int
parse(struct arena *a, const char *buf, size_t len, int body,
    struct json **out, const char **why)
{
	struct jparse	 p;
	yajl_handle	 h;
	yajl_status	 st;
	unsigned char	*msg;
	char		*m, *nl;
	size_t		 i;

	memset(&p, 0, sizeof(p));
	p.a = a;
	p.body = body;
	*out = NULL;
	if (body) {
		/* Refused before yajl or the arena see anything (yajl's
		   white space). */
		for (i = 0; i < len && memchr(" \t\n\v\f\r", buf[i], 6) !=
		    NULL; i++)
			continue;
		if (i < len && buf[i] != '{') {
			*why = "Body must be a JSON object.";
			return FCRM_BAD_JSON;
		}
	}
	if ((h = yajl_alloc(&jp_callbacks, NULL, &p)) == NULL) {
		*why = "Out of memory.";
		return FCRM_BAD_JSON;
	}
	arena_cleanup(a, jp_free, h);
	st = yajl_parse(h, (const unsigned char *)buf, len);
	if (st == yajl_status_ok)
		st = yajl_complete_parse(h);
	if (st == yajl_status_ok && p.root != NULL) {
		*out = p.root;
		return FCRM_OK;
	}
	if (p.why != NULL) {
		*why = p.why;
		return FCRM_BAD_JSON;
	}
	if (st == yajl_status_ok) {
		*why = "Empty JSON body.";
		return FCRM_BAD_JSON;
	}
	msg = yajl_get_error(h, 0, (const unsigned char *)buf, len);
	m = arena_printf(a, "Bad JSON: %s.", msg != NULL ?
	    (const char *)msg : "parse error");
	if (msg != NULL)
		yajl_free_error(h, msg);
	while ((nl = strchr(m, '\n')) != NULL)
		*nl = ' ';
	*why = m;
	return FCRM_BAD_JSON;
}

int
json_parse(struct arena *a, const char *buf, size_t len, struct json **out,
    const char **why)
{
	return parse(a, buf, len, 0, out, why);
}

int
json_parse_body(struct arena *a, const char *buf, size_t len,
    struct json **out, const char **why)
{
	return parse(a, buf, len, 1, out, why);
}

/* Writing. */

/* Bytes a JSON string cannot carry as they are. */
static const unsigned char	json_escaped[256] = {
	[0x00 ... 0x1f] = 1, ['"'] = 1, ['\\'] = 1
};

/* The length of s's first run that needs no escape. */
static size_t
plain_run(const char *s, size_t len)
{
	size_t	 i;

	for (i = 0; i < len; i++)
		if (json_escaped[(unsigned char)s[i]])
			break;
	return i;
}

/* s, quoted, from its first byte that needs an escape (at i). */
static void
write_str_escaped(struct buf *b, const char *s, size_t len, size_t i)
{
	static const char	 hex[] = "0123456789abcdef";
	size_t			 run;
	unsigned char		 c;

	buf_addc(b, '"');
	buf_add(b, s, i);
	for (run = i; i < len; i++) {
		c = (unsigned char)s[i];
		if (!json_escaped[c])
			continue;
		buf_add(b, s + run, i - run);
		run = i + 1;
		switch (c) {
		case '"':
			buf_add(b, "\\\"", 2);
			break;
		case '\\':
			buf_add(b, "\\\\", 2);
			break;
		case '\n':
			buf_add(b, "\\n", 2);
			break;
		case '\r':
			buf_add(b, "\\r", 2);
			break;
		case '\t':
			buf_add(b, "\\t", 2);
			break;
		default:
			buf_add(b, "\\u00", 4);
			buf_addc(b, hex[c >> 4]);
			buf_addc(b, hex[c & 0xf]);
			break;
		}
	}
	buf_add(b, s + run, len - run);
	buf_addc(b, '"');
}

/*
 * Most strings need no escape: one scan, then one copy into room made
 * once, quotes included. pre and post (either may be NUL) go around it:
 * an object member is written as pre '"' key '"' post in one piece.
 */
static void
write_str(struct buf *b, char pre, const char *s, size_t len, char post)
{
	size_t	 i, n;
	char	*d;

	if ((i = plain_run(s, len)) < len) {
		if (pre != '\0')
			buf_addc(b, pre);
		write_str_escaped(b, s, len, i);
		if (post != '\0')
			buf_addc(b, post);
		return;
	}
	n = len + 2 + (pre != '\0') + (post != '\0');
	d = buf_extend(b, n);
	if (pre != '\0')
		*d++ = pre;
	*d++ = '"';
	memcpy(d, s, len);
	d += len;
	*d++ = '"';
	if (post != '\0')
		*d = post;
}

void
json_write_str(struct buf *b, const char *s, size_t len)
{
	write_str(b, '\0', s, len, '\0');
}

void
json_write(struct buf *b, const struct json *j)
{
	size_t	 i;

	if (j == NULL) {
		buf_add(b, "null", 4);
		return;
	}
	switch (j->type) {
	case JSON_NULL:
		buf_add(b, "null", 4);
		break;
	case JSON_BOOL:
		if (j->b)
			buf_add(b, "true", 4);
		else
			buf_add(b, "false", 5);
		break;
	case JSON_NUMBER:
		buf_add(b, j->s, j->len);
		break;
	case JSON_STRING:
		write_str(b, '\0', j->s, j->len, '\0');
		break;
	case JSON_ARRAY:
		buf_addc(b, '[');
		for (i = 0; i < j->n; i++) {
			if (i > 0)
				buf_addc(b, ',');
			json_write(b, j->v[i]);
		}
		buf_addc(b, ']');
		break;
	case JSON_OBJECT:
		if (j->n == 0) {
			buf_add(b, "{}", 2);
			break;
		}
		for (i = 0; i < j->n; i++) {
			write_str(b, i == 0 ? '{' : ',', j->keys[i],
			    strlen(j->keys[i]), ':');
			json_write(b, j->v[i]);
		}
		buf_addc(b, '}');
		break;
	}
}

/* PHP arrays from a query string: integer keys, in numeric order. */
struct kv {
	long		 k;
	struct json	*v;
};

static int
kv_cmp(const void *a, const void *b)
{
	const struct kv	*x = a, *y = b;

	return x->k < y->k ? -1 : x->k > y->k;
}

struct json *
json_as_list(struct arena *a, const struct json *v)
{
	struct json	*out;
	struct kv	*kv;
	size_t		 i;
	char		*end;

	if (v == NULL)
		return NULL;
	if (v->type == JSON_ARRAY)
		return (struct json *)v;
	if (v->type != JSON_OBJECT)
		return NULL;
	/* PHP arrays from a query: integer keys, taken in numeric order. */
	kv = arena_alloc(a, (v->n + 1) * sizeof(*kv));
	for (i = 0; i < v->n; i++) {
		kv[i].k = strtol(v->keys[i], &end, 10);
		if (*end != '\0' || end == v->keys[i] || kv[i].k < 0)
			return NULL;
		kv[i].v = v->v[i];
	}
	qsort(kv, v->n, sizeof(*kv), kv_cmp);
	out = json_arr(a);
	for (i = 0; i < v->n; i++)
		json_push(a, out, kv[i].v);
	return out;
}
