/*
 * The request path exactly as the client sent it (nginx's $request_uri,
 * not its decoded and normalised $uri): split on literal '/', then each
 * segment percent-decoded on its own.  A segment that is "." or "..", or
 * that decodes to hold '/', '\' or NUL, is refused here, so that no
 * encoding can make the path name a route the client's bytes did not.
 *
 * One copy of the path in the arena holds every segment: each is cut at
 * its '/' and decoded in place (decoding only shortens it).  One pass
 * over a segment's bytes finds its end and notes what it needs: a decode
 * only with a '%', a UTF-8 check only with a byte of 0x80 or more.
 */
#include <string.h>

#include "fastcrm/error.h"
#include "fastcrm/query.h"
#include "fastcrm/util.h"

/* What a byte asks of its segment (bytes of 0x80 and more: PB_HIGH). */
#define PB_PCT		1	/* '%': decode */
#define PB_BAD		2	/* NUL, '\': refused */
#define PB_SLASH	4	/* '/': the segment's end (decoded: refused) */
#define PB_HIGH		8	/* maybe not UTF-8 */

static const unsigned char	 pbyte[128] = {
	[0] = PB_BAD, ['\\'] = PB_BAD, ['%'] = PB_PCT, ['/'] = PB_SLASH
};

static unsigned int
what(unsigned char c)
{

	return c < 0x80 ? pbyte[c] : PB_HIGH;
}

/* Decodes segment s of len bytes in place; its new length, or -1. */
static long
decode(char *s, size_t len, const char **why)
{
	size_t	 i, o = 0;
	int	 hi, lo;

	for (i = 0; i < len; i++) {
		if (s[i] != '%') {
			s[o++] = s[i];
			continue;
		}
		if (len - i < 3 ||
		    (hi = http_hex((unsigned char)s[i + 1])) < 0 ||
		    (lo = http_hex((unsigned char)s[i + 2])) < 0) {
			*why = "Path has a '%' that is not followed by two hex "
			    "digits.";
			return -1;
		}
		s[o++] = (char)(hi << 4 | lo);
		i += 2;
	}
	s[o] = '\0';
	return (long)o;
}

/* Checks (and decodes) segment s of len bytes, saw what its bytes ask. */
static int
segment(char *s, size_t len, unsigned int saw, const char **why)
{
	long	 n;
	size_t	 i;

	if (saw & PB_PCT) {
		if ((n = decode(s, len, why)) < 0)
			return -1;
		len = (size_t)n;
		for (saw = 0, i = 0; i < len; i++)
			saw |= what((unsigned char)s[i]);
	}
	if (saw & (PB_BAD | PB_SLASH)) {
		*why = "Path segment holds an encoded '/', '\\' or NUL.";
		return -1;
	}
	if (s[0] == '.' && (len == 1 || (len == 2 && s[1] == '.'))) {
		*why = "Path segment '.' or '..' is not allowed.";
		return -1;
	}
	if ((saw & PB_HIGH) && !util_utf8_valid(s, len)) {
		*why = "Path segment is not UTF-8.";
		return -1;
	}
	return 0;
}

int
http_path_split(struct arena *a, const char *raw, size_t len, char **segs,
    size_t max, size_t *nsegs, const char **why)
{
	char		*p;
	size_t		 i = 0, start;
	unsigned int	 saw, w;

	*nsegs = 0;
	*why = NULL;
	if (len == 0 || raw[0] != '/') {
		*why = "Request target must be a path starting with '/'.";
		return FCRM_BAD_REQUEST;
	}
	p = arena_alloc(a, len + 1);
	memcpy(p, raw, len);
	p[len] = '\0';
	while (i < len) {
		while (i < len && p[i] == '/')
			i++;
		if (i == len)
			break;
		for (start = i, saw = 0; i < len; i++) {
			if ((w = what((unsigned char)p[i])) & PB_SLASH)
				break;
			saw |= w;
		}
		if (*nsegs == max) {
			*why = "Path has too many segments.";
			return FCRM_NOT_FOUND;
		}
		p[i] = '\0';
		if (segment(p + start, i - start, saw, why) != 0)
			return FCRM_BAD_REQUEST;
		segs[(*nsegs)++] = p + start;
		if (i < len)
			i++;
	}
	return FCRM_OK;
}
