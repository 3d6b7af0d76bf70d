/*
 * libFuzzer target for the backup manifest reader (entity_manifest_check,
 * what `fastcrm restore` trusts before it copies a file).  An accepted
 * manifest names at least data.mdb and gives no reason; a refused one is
 * FCRM_BAD_JSON with a reason.  Seeds: tests/corpus/manifest/.
 *
 *	tests/fuzz.sh fuzz_manifest
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "fastcrm/arena.h"
#include "fastcrm/entity.h"
#include "fastcrm/error.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct arena	*a;
	const char		*why = NULL;
	size_t			 n = 0;
	int			 rc;

	if (a == NULL && (a = arena_new()) == NULL)
		abort();
	rc = entity_manifest_check(a, (const char *)data, size, &n, &why);
	if (rc == FCRM_OK) {
		if (why != NULL || n == 0)
			abort();
	} else if (rc != FCRM_BAD_JSON || why == NULL)
		abort();
	arena_reset(a);
	return 0;
}
