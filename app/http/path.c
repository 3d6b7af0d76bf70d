/*
 * The request path exactly as the client sent it (nginx's $request_uri,
 * not its decoded and normalised $uri): split on literal '/', then each
 * segment percent-decoded on its own.  A segment that is "." or "..", or
 * that decodes to hold '/', '\' or NUL, is refused here, so that no
 * encoding can make the path name a route the client's bytes did not.
 */
#include <string.h>

#include "fastcrm/error.h"
#include "fastcrm/query.h"
#include "fastcrm/util.h"

/* Decodes one segment of len bytes into the arena; NULL with *why. */
static char *
segment(struct arena *a, const char *s, size_t len, const char **why)
{
	char	*out;
	size_t	 i, o = 0;
	int	 hi, lo;

	out = arena_alloc(a, len + 1);
	for (i = 0; i < len; i++) {
		if (s[i] != '%') {
			out[o++] = s[i];
			continue;
		}
		if (len - i < 3 ||
		    (hi = http_hex((unsigned char)s[i + 1])) < 0 ||
		    (lo = http_hex((unsigned char)s[i + 2])) < 0) {
			*why = "Path has a '%' that is not followed by two hex "
			    "digits.";
			return NULL;
		}
		out[o++] = (char)(hi << 4 | lo);
		i += 2;
	}
	out[o] = '\0';
	if (memchr(out, '\0', o) != NULL || memchr(out, '/', o) != NULL ||
	    memchr(out, '\\', o) != NULL) {
		*why = "Path segment holds an encoded '/', '\\' or NUL.";
		return NULL;
	}
	if (strcmp(out, ".") == 0 || strcmp(out, "..") == 0) {
		*why = "Path segment '.' or '..' is not allowed.";
		return NULL;
	}
	if (!util_utf8_valid(out, o)) {
		*why = "Path segment is not UTF-8.";
		return NULL;
	}
	return out;
}

int
http_path_split(struct arena *a, const char *raw, size_t len, char **segs,
    size_t max, size_t *nsegs, const char **why)
{
	size_t	 i = 0, start;

	*nsegs = 0;
	*why = NULL;
	if (len == 0 || raw[0] != '/') {
		*why = "Request target must be a path starting with '/'.";
		return FCRM_BAD_REQUEST;
	}
	while (i < len) {
		while (i < len && raw[i] == '/')
			i++;
		if (i == len)
			break;
		start = i;
		while (i < len && raw[i] != '/')
			i++;
		if (*nsegs == max) {
			*why = "Path has too many segments.";
			return FCRM_NOT_FOUND;
		}
		if ((segs[*nsegs] = segment(a, raw + start, i - start,
		    why)) == NULL)
			return FCRM_BAD_REQUEST;
		(*nsegs)++;
	}
	return FCRM_OK;
}
