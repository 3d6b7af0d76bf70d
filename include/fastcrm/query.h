/*
 * URL query strings and application/x-www-form-urlencoded bodies, decoded
 * the way PHP fills $_GET and $_POST, since EspoCRM clients are written
 * against that: "where[0][type]=equals" nests, "a[]=x" appends, a later
 * duplicate overwrites.  Everything lives in the caller's arena.
 */
#ifndef FASTCRM_QUERY_H
#define FASTCRM_QUERY_H

#include <stddef.h>

#include "fastcrm/arena.h"
#include "fastcrm/json.h"

#define QUERY_MAX_PARAMS	1000	/* name=value pairs */
#define QUERY_MAX_DEPTH		16	/* bracket levels in one name */
#define QUERY_MAX_KEY		1024	/* bytes in one decoded name */

/*
 * Parses len bytes of qs (need not be NUL-terminated; NULL when len is 0)
 * into *out, a JSON_OBJECT whose values are JSON_STRING or, for bracketed
 * names, nested JSON_OBJECTs keyed "0", "1", ... for list-like
 * containers.  Returns FCRM_OK, or FCRM_BAD_REQUEST with *why set to a
 * one-line reason (too many pairs, nesting too deep, name too long, bytes
 * that are not UTF-8 or are NUL after decoding); *out is then NULL.  The
 * result, its keys and *why live in the arena until the next reset.
 */
int		 http_query_parse(struct arena *a, const char *qs, size_t len,
		    struct json **out, const char **why);

/*
 * Decodes len bytes of s: "%XX" becomes the byte, "+" becomes a space when
 * plus_is_space is non-zero, and a malformed "%" escape is kept literally.
 * Returns a NUL-terminated copy in the arena (it may hold NUL bytes of its
 * own) and, when outlen is not NULL, its length in *outlen.
 */
char		*http_urldecode(struct arena *a, const char *s, size_t len,
		    int plus_is_space, size_t *outlen);

/* The value of hex digit c, or -1. */
int		 http_hex(unsigned char c);

/*
 * Splits the raw request path (len bytes of raw, without the query) on
 * literal '/' into at most max segments, each percent-decoded on its own
 * into the arena; empty segments are skipped.  Returns FCRM_OK with
 * *nsegs set; FCRM_BAD_REQUEST with *why when the path does not start
 * with '/', a '%' is not followed by two hex digits, or a segment is "."
 * or "..", holds '/', '\' or NUL once decoded, or is not UTF-8;
 * FCRM_NOT_FOUND with *why when there are more than max segments.
 */
int		 http_path_split(struct arena *a, const char *raw, size_t len,
		    char **segs, size_t max, size_t *nsegs, const char **why);

#endif
