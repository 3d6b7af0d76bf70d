/*
 * libFuzzer target for the query string and form body decoder: parses the
 * input, writes the result as JSON, and resets the arena.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "fastcrm/arena.h"
#include "fastcrm/error.h"
#include "fastcrm/json.h"
#include "fastcrm/query.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct arena	*a;
	struct json		*j = NULL;
	const char		*why = NULL;
	struct buf		 b;
	int			 rc;

	if (a == NULL && (a = arena_new()) == NULL)
		abort();
	rc = http_query_parse(a, (const char *)data, size, &j, &why);
	if (rc == FCRM_OK) {
		if (j == NULL || j->type != JSON_OBJECT)
			abort();
		buf_init(&b, a);
		json_write(&b, j);
	} else if (rc != FCRM_BAD_REQUEST || j != NULL || why == NULL)
		abort();
	arena_reset(a);
	return 0;
}
