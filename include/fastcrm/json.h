/*
 * JSON values, arena-allocated.  Parsing goes through yajl; every string is
 * validated UTF-8, NUL-terminated and free of NUL bytes.  Objects keep the
 * order of their keys.
 */
#ifndef FASTCRM_JSON_H
#define FASTCRM_JSON_H

#include <stddef.h>

#include "fastcrm/arena.h"
#include "fastcrm/error.h"

enum json_type {
	JSON_NULL,
	JSON_BOOL,
	JSON_NUMBER,
	JSON_STRING,
	JSON_ARRAY,
	JSON_OBJECT,
};

struct json {
	enum json_type	  type;
	int		  b;		/* JSON_BOOL */
	const char	 *s;		/* JSON_STRING, or a number's text */
	size_t		  len;		/* length of s */
	size_t		  n;		/* members of an array or object */
	size_t		  cap;
	const char	**keys;		/* object keys, n of them */
	struct json	**v;		/* array items or object values */
};

#define JSON_MAX_DEPTH	32
#define JSON_MAX_KEYS	2000	/* members of one object */
/* json_parse_body only: */
#define JSON_MAX_ITEMS	10000	/* items of one array */
#define JSON_MAX_NODES	100000	/* values in the whole document */
#define JSON_STR_(x)	#x
#define JSON_STR(x)	JSON_STR_(x)

/*
 * Parses buf into *out.  On error returns FCRM_BAD_JSON and writes a
 * one-line reason into the arena (*why).  Nesting deeper than
 * JSON_MAX_DEPTH is an error.  Everything lives in the arena.
 */
int		 json_parse(struct arena *, const char *buf, size_t len,
		    struct json **out, const char **why);
/*
 * json_parse for input from a client (request bodies, searchParams): the
 * text must be an object (anything else is refused before a value is
 * built), arrays hold at most JSON_MAX_ITEMS items, the document at most
 * JSON_MAX_NODES values, and parsing stops at the first value once the
 * arena passed its ceiling (arena_over).  The same FCRM_BAD_JSON and
 * reason on a refusal.
 */
int		 json_parse_body(struct arena *, const char *buf, size_t len,
		    struct json **out, const char **why);

/* Constructors; all allocate in the arena. */
struct json	*json_null(struct arena *);
struct json	*json_bool(struct arena *, int);
struct json	*json_str(struct arena *, const char *);
struct json	*json_strn(struct arena *, const char *, size_t);
/* A string over s itself, not copied: s (NUL at len) must outlive it. */
struct json	*json_str_over(struct arena *, const char *, size_t);
struct json	*json_int(struct arena *, long long);
struct json	*json_num(struct arena *, double);
struct json	*json_numtext(struct arena *, const char *);
struct json	*json_arr(struct arena *);
struct json	*json_obj(struct arena *);
void		 json_push(struct arena *, struct json *arr, struct json *);
/* Sets key (replacing an existing member in place); key is borrowed. */
void		 json_set(struct arena *, struct json *obj, const char *key,
		    struct json *);
/* Adds key, which obj does not have yet, without looking. */
void		 json_append(struct arena *, struct json *obj, const char *key,
		    struct json *);
void		 json_del(struct json *obj, const char *key);
/* Deep copy into the arena. */
struct json	*json_copy(struct arena *, const struct json *);

/* Member of an object, or NULL (also when obj is NULL or not an object). */
struct json	*json_get(const struct json *obj, const char *key);
/*
 * The same, looking at member *at first and leaving *at after the member
 * found: keys asked for in the object's own order cost one comparison.
 */
struct json	*json_get_next(const struct json *obj, const char *key,
		    size_t *at);
/*
 * A top-level string or number of a JSON object given as text, without
 * parsing it: 1 with *out the text (a string without its quotes; NULL for
 * null and booleans), 0 when the key is missing, -1 when it cannot tell
 * cheaply (an object or array, an escape in the string: parse instead).
 * For text that json_write produced.
 */
int		 json_raw_get(struct arena *, const char *buf, size_t len,
		    const char *key, const char **out);
/*
 * The same lookup giving the value's text as stored (quotes included, vlen
 * bytes at *v): 1 found, 0 missing, -1 cannot tell cheaply.
 */
int		 json_raw_span(const char *buf, size_t len, const char *key,
		    const char **v, size_t *vlen);
/* String member, or NULL when missing or not a string. */
const char	*json_gets(const struct json *obj, const char *key);
/* 1 for a true bool, "true" or "1" string, or non-zero number. */
int		 json_truthy(const struct json *);
/* 1 if two values are equal (object key order ignored). */
int		 json_equal(const struct json *, const struct json *);
/* Numeric value of a number or numeric string; returns 0 if not numeric. */
int		 json_tonum(const struct json *, double *);

/* Appends the compact JSON text of v. */
void		 json_write(struct buf *, const struct json *);
/* Appends s as a quoted, escaped JSON string. */
void		 json_write_str(struct buf *, const char *s, size_t len);

/* A list-like value (an array, or an object of integer keys as PHP
   decodes a query) as an array; NULL if it is neither. */
struct json	*json_as_list(struct arena *, const struct json *);

#endif
