/*
 * libFuzzer target for the JSON reader and writer.  A document that
 * json_parse() accepts is written with json_write(); that text must parse
 * again into an equal tree (json_equal) and write back to the same bytes.
 * A deep copy must be equal too.  A refused document must come back as
 * FCRM_BAD_JSON with a reason and no tree.  Seeds: tests/corpus/json/.
 *
 * It also holds json_parse() to json.h's promise that every string and
 * key is valid UTF-8 (as util_utf8_valid() defines it: no overlong forms,
 * no surrogates, nothing above U+10FFFF); FUZZ_JSON_UTF8=0 turns that off.
 *
 * json_parse_body() (request bodies, searchParams) gets the same input:
 * it accepts exactly what json_parse() accepts that has an object at the
 * top, at most JSON_MAX_ITEMS items in every array and JSON_MAX_NODES
 * values in all, and then builds an equal tree.  Under an arena ceiling
 * (a small one, so that it is reached) it either builds that same tree or
 * refuses with FCRM_BAD_JSON and the arena marked over; it never crashes.
 *
 *	tests/fuzz.sh fuzz_json
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fastcrm/arena.h"
#include "fastcrm/error.h"
#include "fastcrm/json.h"
#include "fastcrm/util.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static int	 strict_utf8;

/* Values in j (itself included); 0 when an array is over JSON_MAX_ITEMS. */
static size_t
count_nodes(const struct json *j, int *items_ok)
{
	size_t	 i, n = 1;

	if (j->type == JSON_ARRAY && j->n > JSON_MAX_ITEMS)
		*items_ok = 0;
	for (i = 0; i < j->n; i++)
		n += count_nodes(j->v[i], items_ok);
	return n;
}

/* json_parse_body against json_parse's answer j (NULL: refused). */
static void
check_body(struct arena *c, const uint8_t *data, size_t size,
    const struct json *j)
{
	struct json	*b = NULL;
	const char	*why = NULL;
	int		 rc, items_ok = 1, want;

	want = j != NULL && j->type == JSON_OBJECT &&
	    count_nodes(j, &items_ok) <= JSON_MAX_NODES && items_ok;
	rc = json_parse_body(c, (const char *)data, size, &b, &why);
	if (rc == FCRM_OK) {
		if (!want || b == NULL || b->type != JSON_OBJECT ||
		    !json_equal(j, b))
			abort();
	} else if (rc != FCRM_BAD_JSON || b != NULL || why == NULL || want)
		abort();
	arena_reset(c);

	/* Under a ceiling: the same tree, or a refusal with the mark. */
	arena_set_limit(c, 16 * 1024 + size);
	b = NULL;
	why = NULL;
	rc = json_parse_body(c, (const char *)data, size, &b, &why);
	if (rc == FCRM_OK) {
		if (!want || !json_equal(j, b))
			abort();
	} else if (rc != FCRM_BAD_JSON || why == NULL ||
	    (want && !arena_over(c)))
		abort();
	arena_reset(c);
}

/*
 * Every string and key is NUL-terminated at its length, without NULs, and
 * (when strict) valid UTF-8.
 */
static void
check_strings(const struct json *j)
{
	size_t	 i;

	if (j->type == JSON_STRING || j->type == JSON_NUMBER) {
		if (j->s == NULL || strlen(j->s) != j->len)
			abort();
		if (strict_utf8 && !util_utf8_valid(j->s, j->len))
			abort();
	}
	for (i = 0; i < j->n; i++) {
		if (j->type == JSON_OBJECT && (j->keys[i] == NULL ||
		    (strict_utf8 && !util_utf8_valid(j->keys[i],
		    strlen(j->keys[i])))))
			abort();
		check_strings(j->v[i]);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct arena	*a, *c;
	struct json		*j = NULL, *again = NULL;
	const char		*why = NULL;
	struct buf		 b1, b2;
	int			 rc;

	if (a == NULL) {
		if ((a = arena_new()) == NULL || (c = arena_new()) == NULL)
			abort();
		strict_utf8 = getenv("FUZZ_JSON_UTF8") == NULL ||
		    strcmp(getenv("FUZZ_JSON_UTF8"), "0") != 0;
	}
	rc = json_parse(a, (const char *)data, size, &j, &why);
	if (rc != FCRM_OK) {
		if (rc != FCRM_BAD_JSON || j != NULL || why == NULL)
			abort();
		check_body(c, data, size, NULL);
		arena_reset(a);
		return 0;
	}
	if (j == NULL)
		abort();
	check_strings(j);
	check_body(c, data, size, j);

	buf_init(&b1, a);
	json_write(&b1, j);
	why = NULL;
	if (json_parse(a, b1.p, b1.len, &again, &why) != FCRM_OK)
		abort();
	if (!json_equal(j, again) || !json_equal(again, j))
		abort();
	buf_init(&b2, a);
	json_write(&b2, again);
	if (b1.len != b2.len || memcmp(b1.p, b2.p, b1.len) != 0)
		abort();
	if (!json_equal(j, json_copy(a, j)))
		abort();
	arena_reset(a);
	return 0;
}
