/*
 * libFuzzer target for the raw request path splitter (http_path_split):
 * whatever the bytes, it either refuses them with a reason or yields
 * segments that are non-empty, hold no '/', '\' or NUL, are not "." or
 * "..", and are UTF-8 — the promises route_dispatch relies on.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fastcrm/arena.h"
#include "fastcrm/error.h"
#include "fastcrm/query.h"
#include "fastcrm/util.h"

#define MAX_SEGS	8

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct arena	*a;
	char			*segs[MAX_SEGS], *raw;
	const char		*why = NULL;
	size_t			 n = 0, i, len;
	int			 rc;

	if (a == NULL && (a = arena_new()) == NULL)
		abort();
	/* The path arrives as a C string (a FastCGI parameter). */
	raw = arena_strndup(a, (const char *)data, size);
	len = strlen(raw);
	rc = http_path_split(a, raw, len, segs, MAX_SEGS, &n, &why);
	if (rc == FCRM_OK) {
		if (why != NULL || n > MAX_SEGS)
			abort();
		for (i = 0; i < n; i++) {
			len = strlen(segs[i]);
			if (len == 0 || strchr(segs[i], '/') != NULL ||
			    strchr(segs[i], '\\') != NULL ||
			    strcmp(segs[i], ".") == 0 ||
			    strcmp(segs[i], "..") == 0 ||
			    !util_utf8_valid(segs[i], len))
				abort();
		}
	} else if ((rc != FCRM_BAD_REQUEST && rc != FCRM_NOT_FOUND) ||
	    why == NULL)
		abort();
	arena_reset(a);
	return 0;
}
