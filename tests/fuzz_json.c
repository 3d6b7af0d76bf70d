/*
 * libFuzzer target for the JSON reader and writer.  A document that
 * json_parse() accepts is written with json_write(); that text must parse
 * again into an equal tree (json_equal) and write back to the same bytes.
 * A deep copy must be equal too.  A refused document must come back as
 * FCRM_BAD_JSON with a reason and no tree.  Seeds: tests/corpus/json/.
 *
 * It also holds json_parse() to json.h's promise that every string and
 * key is valid UTF-8 (as http_utf8_valid() defines it: no overlong forms,
 * no surrogates, nothing above U+10FFFF); FUZZ_JSON_UTF8=0 turns that off.
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
#include "fastcrm/query.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static int	 strict_utf8;

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
		if (strict_utf8 && !http_utf8_valid(j->s, j->len))
			abort();
	}
	for (i = 0; i < j->n; i++) {
		if (j->type == JSON_OBJECT && (j->keys[i] == NULL ||
		    (strict_utf8 && !http_utf8_valid(j->keys[i],
		    strlen(j->keys[i])))))
			abort();
		check_strings(j->v[i]);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct arena	*a;
	struct json		*j = NULL, *again = NULL;
	const char		*why = NULL;
	struct buf		 b1, b2;
	int			 rc;

	if (a == NULL) {
		if ((a = arena_new()) == NULL)
			abort();
		strict_utf8 = getenv("FUZZ_JSON_UTF8") == NULL ||
		    strcmp(getenv("FUZZ_JSON_UTF8"), "0") != 0;
	}
	rc = json_parse(a, (const char *)data, size, &j, &why);
	if (rc != FCRM_OK) {
		if (rc != FCRM_BAD_JSON || j != NULL || why == NULL)
			abort();
		arena_reset(a);
		return 0;
	}
	if (j == NULL)
		abort();
	check_strings(j);

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
