/*
 * Query strings and form bodies, decoded as PHP's php_default_treat_data()
 * and php_register_variable_ex() do, minus the mangling of dots and spaces
 * in names (EspoCRM clients never send them and keeping them is kinder).
 */
#include <limits.h>
#include <stddef.h>
#include <string.h>

#include "fastcrm/arena.h"
#include "fastcrm/error.h"
#include "fastcrm/json.h"
#include "fastcrm/query.h"
#include "fastcrm/util.h"

/* One part of a name: the base, then one per bracket pair. */
struct qseg {
	const char	*s;		/* borrowed from the decoded name */
	size_t		 len;
	int		 append;	/* "[]": next integer index */
};

static int
query_fail(struct arena *a, const char **why, const char *reason)
{

	if (why != NULL)
		*why = arena_strdup(a, reason);
	return FCRM_BAD_REQUEST;
}

int
http_hex(unsigned char c)
{

	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* The whitespace PHP's isspace() skips in the "C" locale. */
static int
query_isspace(char c)
{

	return c == ' ' || c == '\t' || c == '\n' || c == '\v' ||
	    c == '\f' || c == '\r';
}

/* What unescape() saw among the bytes it wrote. */
#define SAW_HIGH	1	/* a byte of 0x80 or more: maybe not UTF-8 */
#define SAW_NUL		2	/* a NUL byte */

/*
 * Decodes len bytes of s into out (room for len + 1 bytes, NUL-terminated
 * after): "%XX" becomes the byte, "+" a space when plus_is_space, and a
 * malformed "%" escape stays as it is.  Returns the length written and
 * sets *saw.  One pass: the checks of a name or value need no other.
 */
static size_t
unescape(char *out, const char *s, size_t len, int plus_is_space, int *saw)
{
	/* ASCII the copy stops at (and at 0x80 and above). */
	static const unsigned char	 stop[128] = {
		[0] = 1, ['%'] = 1, ['+'] = 1
	};
	const unsigned char	*p = (const unsigned char *)s, *end = p + len;
	unsigned char		 c;
	size_t			 j = 0;
	int			 hi, lo;

	*saw = 0;
	while (p < end) {
		if ((c = *p++) < 0x80 && !stop[c]) {
			out[j++] = (char)c;
			continue;
		}
		if (c == '+' && plus_is_space)
			c = ' ';
		else if (c == '%' && end - p >= 2 &&
		    (hi = http_hex(p[0])) != -1 &&
		    (lo = http_hex(p[1])) != -1) {
			c = (unsigned char)(hi << 4 | lo);
			p += 2;
		}
		if (c >= 0x80)
			*saw |= SAW_HIGH;
		else if (c == '\0')
			*saw |= SAW_NUL;
		out[j++] = (char)c;
	}
	out[j] = '\0';
	return j;
}

char *
http_urldecode(struct arena *a, const char *s, size_t len, int plus_is_space,
    size_t *outlen)
{
	char	*out;
	size_t	 n;
	int	 saw;

	out = arena_alloc(a, len + 1);
	n = unescape(out, s, len, plus_is_space, &saw);
	if (outlen != NULL)
		*outlen = n;
	return out;
}

/*
 * PHP's integer array keys: "0", or an optional "-" and digits without a
 * leading zero, within the range of a 64-bit long.
 */
static int
query_intkey(const char *s, long long *v)
{
	unsigned long long	 u, lim;
	int			 neg = 0;

	if (*s == '-') {
		neg = 1;
		s++;
	}
	if (*s < '0' || *s > '9' || (*s == '0' && (neg || s[1] != '\0')))
		return 0;
	lim = neg ? (unsigned long long)LLONG_MAX + 1 : LLONG_MAX;
	for (u = 0; *s != '\0'; s++) {
		if (*s < '0' || *s > '9')
			return 0;
		if (u > (lim - (unsigned long long)(*s - '0')) / 10)
			return 0;
		u = u * 10 + (unsigned long long)(*s - '0');
	}
	if (neg)
		*v = u == (unsigned long long)LLONG_MAX + 1 ? LLONG_MIN :
		    -(long long)u;
	else
		*v = (long long)u;
	return 1;
}

/*
 * The key "[]" appends under: one past the highest integer key, or "0".
 * NULL when the highest is already LLONG_MAX (PHP drops the value).
 */
static const char *
query_nextkey(struct arena *a, const struct json *obj)
{
	long long	 v, max = 0;
	size_t		 i;
	int		 any = 0;

	for (i = 0; i < obj->n; i++) {
		if (query_intkey(obj->keys[i], &v) == 0)
			continue;
		if (any == 0 || v > max)
			max = v;
		any = 1;
	}
	if (any == 0)
		return arena_strdup(a, "0");
	if (max == LLONG_MAX)
		return NULL;
	return arena_printf(a, "%lld", max + 1);
}

/*
 * Splits a decoded name into its base and bracketed indices the way
 * php_register_variable_ex() does.  *nseg is 0 when PHP would drop the
 * pair (empty base name).  Text after a "]" that does not start another
 * "[" is ignored; an unclosed "[" right after the base makes the whole
 * name literal with its "[" characters turned into "_"; an unclosed "["
 * further on is ignored with what follows it.
 */
static int
query_split(struct arena *a, const char *k, size_t n, struct qseg *seg,
    size_t *nseg, const char **why)
{
	const char	*end = k + n, *lb, *ip, *idx, *rb;
	char		*name;
	size_t		 depth, i;

	*nseg = 0;
	if (n == 0)
		return FCRM_OK;
	if ((lb = memchr(k, '[', n)) == NULL) {
		seg[0].s = k;
		seg[0].len = n;
		seg[0].append = 0;
		*nseg = 1;
		return FCRM_OK;
	}
	if (lb == k)
		return FCRM_OK;

	seg[0].s = k;
	seg[0].len = (size_t)(lb - k);
	seg[0].append = 0;
	*nseg = 1;
	for (ip = lb, depth = 1; ; depth++) {
		if (depth > QUERY_MAX_DEPTH)
			return query_fail(a, why, "Query parameter nesting is "
			    "too deep (more than 16 levels).");
		idx = ip + 1;
		if (idx < end && query_isspace(*idx) &&
		    idx + 1 < end && idx[1] == ']') {
			seg[*nseg].s = NULL;
			seg[*nseg].len = 0;
			seg[*nseg].append = 1;
			rb = idx + 1;
		} else if (idx < end && *idx == ']') {
			seg[*nseg].s = NULL;
			seg[*nseg].len = 0;
			seg[*nseg].append = 1;
			rb = idx;
		} else if ((rb = memchr(idx, ']', (size_t)(end - idx))) ==
		    NULL) {
			if (depth > 1)
				return FCRM_OK;
			name = arena_strndup(a, k, n);
			for (i = (size_t)(lb - k); i < n; i++)
				if (name[i] == '[')
					name[i] = '_';
			seg[0].s = name;
			seg[0].len = n;
			*nseg = 1;
			return FCRM_OK;
		} else {
			seg[*nseg].s = idx;
			seg[*nseg].len = (size_t)(rb - idx);
			seg[*nseg].append = 0;
		}
		(*nseg)++;
		ip = rb + 1;
		if (ip >= end || *ip != '[')
			return FCRM_OK;
	}
}

/*
 * Stores val under the path seg[0..nseg) (each segment NUL-terminated:
 * the keys are the segments themselves).  Containers on the way are
 * created, and anything that is not an object is replaced by a new one,
 * as PHP does.
 */
static void
query_store(struct arena *a, struct json *root, const struct qseg *seg,
    size_t nseg, struct json *val)
{
	struct json	*cur = root, *next;
	const char	*key;
	size_t		 i;

	for (i = 0; i < nseg; i++) {
		if (seg[i].append) {
			if ((key = query_nextkey(a, cur)) == NULL)
				return;
			next = NULL;
		} else {
			key = seg[i].s;
			next = json_get(cur, key);
		}
		if (i + 1 == nseg) {
			json_set(a, cur, key, val);
			return;
		}
		if (next == NULL || next->type != JSON_OBJECT) {
			next = json_obj(a);
			json_set(a, cur, key, next);
		}
		cur = next;
	}
}

/* Decodes one name or value into the arena; *saw as unescape() sets it. */
static char *
query_decode(struct arena *a, const char *s, size_t len, size_t *outlen,
    int *saw)
{
	char	*out;

	out = arena_alloc(a, len + 1);
	*outlen = unescape(out, s, len, 1, saw);
	return out;
}

/* Checks one decoded name or value by what unescape() saw in it. */
static int
query_check(struct arena *a, const char *s, size_t len, int saw,
    const char **why)
{

	if (saw & SAW_NUL)
		return query_fail(a, why,
		    "Query parameter contains a NUL byte.");
	if ((saw & SAW_HIGH) && util_utf8_valid(s, len) == 0)
		return query_fail(a, why,
		    "Query parameter is not valid UTF-8.");
	return FCRM_OK;
}

/* One "name=value" or "name" pair, len > 0. */
static int
query_pair(struct arena *a, struct json *root, const char *p, size_t len,
    const char **why)
{
	struct qseg	 seg[QUERY_MAX_DEPTH + 1];
	const char	*eq, *val = "";
	char		*key;
	size_t		 klen, vlen = 0, nseg, i;
	int		 rc, ksaw, vsaw = 0;

	if ((eq = memchr(p, '=', len)) == NULL)
		eq = p + len;
	key = query_decode(a, p, (size_t)(eq - p), &klen, &ksaw);
	if (eq < p + len)
		val = query_decode(a, eq + 1, len - (size_t)(eq - p) - 1,
		    &vlen, &vsaw);

	if ((rc = query_check(a, key, klen, ksaw, why)) != FCRM_OK)
		return rc;
	if (klen > QUERY_MAX_KEY)
		return query_fail(a, why, "Query parameter name is too long "
		    "(more than 1024 bytes).");
	if ((rc = query_check(a, val, vlen, vsaw, why)) != FCRM_OK)
		return rc;
	if ((rc = query_split(a, key, klen, seg, &nseg, why)) != FCRM_OK)
		return rc;
	/* Each segment ends at a '[', a ']' or the name's end: NUL there. */
	for (i = 0; i < nseg; i++)
		if (!seg[i].append)
			((char *)seg[i].s)[seg[i].len] = '\0';
	if (nseg > 0)
		query_store(a, root, seg, nseg, json_str_over(a, val, vlen));
	return FCRM_OK;
}

int
http_query_parse(struct arena *a, const char *qs, size_t len,
    struct json **out, const char **why)
{
	struct json	*root;
	const char	*p, *end, *amp;
	size_t		 npairs = 0;
	int		 rc;

	*out = NULL;
	root = json_obj(a);
	if (len == 0) {
		*out = root;
		return FCRM_OK;
	}

	for (p = qs, end = qs + len; p < end; p = amp + 1) {
		if ((amp = memchr(p, '&', (size_t)(end - p))) == NULL)
			amp = end;
		if (amp > p) {
			if (++npairs > QUERY_MAX_PARAMS)
				return query_fail(a, why, "Too many query "
				    "parameters (more than 1000).");
			rc = query_pair(a, root, p, (size_t)(amp - p), why);
			if (rc != FCRM_OK)
				return rc;
		}
		if (amp == end)
			break;
	}
	*out = root;
	return FCRM_OK;
}
