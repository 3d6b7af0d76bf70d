/*
 * Unit tests for the query string and form body decoder and the
 * multipart/form-data reader; prints TAP.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fastcrm/arena.h"
#include "fastcrm/error.h"
#include "fastcrm/json.h"
#include "fastcrm/multipart.h"
#include "fastcrm/query.h"
#include "fastcrm/util.h"
#include "tap.h"

static struct arena	*a;

/* Parses a NUL-terminated query; NULL on error (reason in *why). */
static struct json *
parse(const char *qs, int *rc, const char **why)
{
	struct json	*j = NULL;

	*why = NULL;
	*rc = http_query_parse(a, qs, strlen(qs), &j, why);
	return j;
}

/* 1 if s parses to the compact JSON text want. */
static int
parses_to(const char *qs, const char *want)
{
	struct json	*j;
	struct buf	 b;
	const char	*why;
	int		 rc;

	j = parse(qs, &rc, &why);
	if (rc != FCRM_OK || j == NULL)
		return 0;
	buf_init(&b, a);
	json_write(&b, j);
	if (strcmp(b.p, want) != 0) {
		printf("# got  %s\n# want %s\n", b.p, want);
		return 0;
	}
	return 1;
}

/* 1 if s fails with FCRM_BAD_REQUEST and exactly the reason want. */
static int
fails_with(const char *qs, size_t len, const char *want)
{
	struct json	*j = NULL;
	const char	*why = NULL;
	int		 rc;

	rc = http_query_parse(a, qs, len, &j, &why);
	if (rc != FCRM_BAD_REQUEST || j != NULL || why == NULL)
		return 0;
	if (strcmp(why, want) != 0) {
		printf("# got  %s\n# want %s\n", why, want);
		return 0;
	}
	return 1;
}

static int
streq(const char *got, const char *want)
{

	if (got == NULL)
		return 0;
	return strcmp(got, want) == 0;
}

static void
test_ccai(void)
{
	struct json	*j, *w0;
	const char	*why;
	int		 rc;

	j = parse("where[0][attribute]=phoneNumber&where[0][type]=equals"
	    "&where[0][value]=+15551234567&sortBy=createdAt&asc=false",
	    &rc, &why);
	ok(rc == FCRM_OK && j != NULL, "CCAI query parses");
	w0 = json_get(json_get(j, "where"), "0");
	ok(w0 != NULL && w0->type == JSON_OBJECT,
	    "CCAI where[0] is an object");
	ok(streq(json_gets(w0, "attribute"), "phoneNumber"),
	    "CCAI where[0][attribute]");
	ok(streq(json_gets(w0, "type"), "equals"), "CCAI where[0][type]");
	ok(streq(json_gets(w0, "value"), " 15551234567"),
	    "CCAI literal + in value decodes to a space");
	ok(streq(json_gets(j, "sortBy"), "createdAt") &&
	    streq(json_gets(j, "asc"), "false"), "CCAI sortBy and asc");
	ok(parses_to("where[0][attribute]=phoneNumber&where[0][type]=equals"
	    "&where[0][value]=+15551234567&sortBy=createdAt&asc=false",
	    "{\"where\":{\"0\":{\"attribute\":\"phoneNumber\","
	    "\"type\":\"equals\",\"value\":\" 15551234567\"}},"
	    "\"sortBy\":\"createdAt\",\"asc\":\"false\"}"),
	    "CCAI query whole result, key order kept");
}

static void
test_encoded(void)
{
	struct json	*j, *w0;
	const char	*why;
	int		 rc;

	j = parse("where%5B0%5D%5Btype%5D=equals"
	    "&where%5b0%5d%5battribute%5d=phoneNumber"
	    "&where%5B0%5D%5Bvalue%5D=%2B15551234567", &rc, &why);
	w0 = json_get(json_get(j, "where"), "0");
	ok(rc == FCRM_OK && streq(json_gets(w0, "type"), "equals") &&
	    streq(json_gets(w0, "attribute"), "phoneNumber"),
	    "percent-encoded brackets nest (both cases of hex)");
	ok(streq(json_gets(w0, "value"), "+15551234567"),
	    "%%2B decodes to a literal +");
	ok(parses_to("where%5B0%5D%5Btype%5D=a&where[0][type]=b",
	    "{\"where\":{\"0\":{\"type\":\"b\"}}}"),
	    "encoded and literal brackets are the same key");
	ok(parses_to("a%3Db=c%26d", "{\"a=b\":\"c&d\"}"),
	    "encoded = and & are data, not separators");
}

static void
test_append(void)
{

	ok(parses_to("a[]=1&a[]=2", "{\"a\":{\"0\":\"1\",\"1\":\"2\"}}"),
	    "a[]=1&a[]=2 appends 0 and 1");
	ok(parses_to("a[5]=x&a[]=y", "{\"a\":{\"5\":\"x\",\"6\":\"y\"}}"),
	    "a[5]=x&a[]=y gives keys 5 and 6");
	ok(parses_to("a[x]=1&a[]=2&a[3]=3&a[1]=4&a[]=5",
	    "{\"a\":{\"x\":\"1\",\"0\":\"2\",\"3\":\"3\",\"1\":\"4\","
	    "\"4\":\"5\"}}"),
	    "next index is one past the highest integer key");
	ok(parses_to("a[05]=x&a[1.0]=y&a[]=z",
	    "{\"a\":{\"05\":\"x\",\"1.0\":\"y\",\"0\":\"z\"}}"),
	    "non-canonical numbers are string keys");
	ok(parses_to("a[-3]=x&a[]=y", "{\"a\":{\"-3\":\"x\",\"-2\":\"y\"}}"),
	    "after a negative key [] continues from it (PHP 8.3)");
	ok(parses_to("a[9223372036854775807]=x&a[]=y",
	    "{\"a\":{\"9223372036854775807\":\"x\"}}"),
	    "[] after the largest integer key is dropped");
	ok(parses_to("a[9223372036854775808]=x&a[]=y",
	    "{\"a\":{\"9223372036854775808\":\"x\",\"0\":\"y\"}}"),
	    "an out-of-range number is a string key");
	ok(parses_to("a[][b]=1&a[][b]=2",
	    "{\"a\":{\"0\":{\"b\":\"1\"},\"1\":{\"b\":\"2\"}}}"),
	    "a[][b] makes a new element each time");
	ok(parses_to("a[ ]=1&a[ ]=2", "{\"a\":{\"0\":\"1\",\"1\":\"2\"}}"),
	    "a[ ] appends like a[] (PHP skips one space)");
}

static void
test_nesting(void)
{
	struct json	*j;
	const char	*why;
	char		 q[256];
	int		 rc, i;

	j = parse("a[b][c][d]=v&a[b][x]=w", &rc, &why);
	ok(rc == FCRM_OK && streq(json_gets(json_get(json_get(json_get(j,
	    "a"), "b"), "c"), "d"), "v") &&
	    streq(json_gets(json_get(json_get(j, "a"), "b"), "x"), "w"),
	    "three levels of nesting");

	strcpy(q, "a");
	for (i = 0; i < 16; i++)
		strcat(q, "[x]");
	strcat(q, "=v");
	j = parse(q, &rc, &why);
	ok(rc == FCRM_OK && j != NULL, "16 levels of brackets are allowed");
	strcpy(q, "a");
	for (i = 0; i < 17; i++)
		strcat(q, "[x]");
	strcat(q, "=v");
	ok(fails_with(q, strlen(q),
	    "Query parameter nesting is too deep (more than 16 levels)."),
	    "17 levels of brackets are refused");
	ok(parses_to("a[x]junk=1&b[y]junk[z]=2",
	    "{\"a\":{\"x\":\"1\"},\"b\":{\"y\":\"2\"}}"),
	    "text after ] that is not [ is ignored");
}

static void
test_overwrite(void)
{

	ok(parses_to("a=1&b=2&a=3", "{\"a\":\"3\",\"b\":\"2\"}"),
	    "later duplicate overwrites in place");
	ok(parses_to("a=1&a[x]=2", "{\"a\":{\"x\":\"2\"}}"),
	    "container replaces an earlier scalar");
	ok(parses_to("a[x]=2&a=3", "{\"a\":\"3\"}"),
	    "scalar replaces an earlier container");
	ok(parses_to("a[0]=x&a[0][b]=y&a[1][c]=z&a[1]=w",
	    "{\"a\":{\"0\":{\"b\":\"y\"},\"1\":\"w\"}}"),
	    "replacement works below the top level");
	ok(parses_to("a[5]=x&a=s&a[]=y", "{\"a\":{\"0\":\"y\"}}"),
	    "a replaced container forgets its indices");
}

static void
test_shapes(void)
{
	struct buf	 b;
	struct json	*j = NULL;
	const char	*why = NULL;
	int		 rc;

	ok(parses_to("flag&x=1&y=", "{\"flag\":\"\",\"x\":\"1\",\"y\":\"\"}"),
	    "a pair without = has the empty value");
	ok(parses_to("&&a=1&&&b=2&", "{\"a\":\"1\",\"b\":\"2\"}"),
	    "empty pairs are skipped");
	ok(parses_to("&&&", "{}"), "only separators give an empty object");
	ok(parses_to("", "{}"), "empty input gives an empty object");
	rc = http_query_parse(a, NULL, 0, &j, &why);
	if (rc == FCRM_OK && j != NULL) {
		buf_init(&b, a);
		json_write(&b, j);
	}
	ok(rc == FCRM_OK && j != NULL && strcmp(b.p, "{}") == 0,
	    "NULL input of length 0 gives an empty object");
	ok(parses_to("=x&[a]=1&%5Bb%5D=2&c=3", "{\"c\":\"3\"}"),
	    "names with an empty base are dropped (PHP)");
	ok(parses_to("a=b=c", "{\"a\":\"b=c\"}"),
	    "only the first = splits name from value");
	ok(parses_to("a.b+c=1", "{\"a.b c\":\"1\"}"),
	    "dots and spaces in names are kept");
	ok(parses_to("q=a&q", "{\"q\":\"\"}"),
	    "a bare name overwrites an earlier value");
}

static void
test_escapes(void)
{

	ok(parses_to("a=%zz&b=100%&c=%4&d=%%41&e=%g1",
	    "{\"a\":\"%zz\",\"b\":\"100%\",\"c\":\"%4\",\"d\":\"%A\","
	    "\"e\":\"%g1\"}"), "bad percent escapes are kept literally");
	ok(parses_to("%zz=1", "{\"%zz\":\"1\"}"),
	    "bad escapes in names are kept literally");
	ok(parses_to("n=%C3%A9t%C3%A9&e=%F0%9F%98%80",
	    "{\"n\":\"\xc3\xa9t\xc3\xa9\",\"e\":\"\xf0\x9f\x98\x80\"}"),
	    "encoded UTF-8 decodes");
}

static void
test_utf8(void)
{
	static const char	 nulraw[] = "a=x\0y";

	ok(fails_with("a=%C3%28", 8, "Query parameter is not valid UTF-8."),
	    "invalid UTF-8 in a value is refused");
	ok(fails_with("%FF=1", 5, "Query parameter is not valid UTF-8."),
	    "invalid UTF-8 in a name is refused");
	ok(fails_with("a=\xe9t\xe9", 5, "Query parameter is not valid UTF-8."),
	    "raw Latin-1 bytes are refused");
	ok(fails_with("a=%C0%AF", 8, "Query parameter is not valid UTF-8."),
	    "overlong encoding is refused");
	ok(fails_with("a=%ED%A0%80", 11,
	    "Query parameter is not valid UTF-8."), "surrogate is refused");
	ok(fails_with("a=%F4%90%80%80", 14,
	    "Query parameter is not valid UTF-8."),
	    "code point above U+10FFFF is refused");
	ok(fails_with("a=%E2%82", 8, "Query parameter is not valid UTF-8."),
	    "truncated sequence is refused");
	ok(fails_with("a=%00", 5, "Query parameter contains a NUL byte."),
	    "encoded NUL in a value is refused");
	ok(fails_with("a%00b=1", 7, "Query parameter contains a NUL byte."),
	    "encoded NUL in a name is refused");
	ok(fails_with(nulraw, sizeof(nulraw) - 1,
	    "Query parameter contains a NUL byte."),
	    "raw NUL byte is refused");

	ok(util_utf8_valid("\xf4\x8f\xbf\xbf", 4) == 1 &&
	    util_utf8_valid("\xef\xbf\xbf", 3) == 1 &&
	    util_utf8_valid("\xed\x9f\xbf", 3) == 1 &&
	    util_utf8_valid("", 0) == 1, "util_utf8_valid accepts edges");
	ok(util_utf8_valid("\xe0\x9f\xbf", 3) == 0 &&
	    util_utf8_valid("\xf0\x8f\xbf\xbf", 4) == 0 &&
	    util_utf8_valid("\xc1\xbf", 2) == 0 &&
	    util_utf8_valid("\xf5\x80\x80\x80", 4) == 0 &&
	    util_utf8_valid("\x80", 1) == 0,
	    "util_utf8_valid rejects overlongs, stray bytes, F5+");
}

static void
test_limits(void)
{
	struct buf	 b;
	struct json	*j;
	const char	*why;
	int		 i, rc;

	buf_init(&b, a);
	for (i = 0; i < 1000; i++)
		buf_printf(&b, "%sp%d=%d", i == 0 ? "" : "&", i, i);
	j = parse(b.p, &rc, &why);
	ok(rc == FCRM_OK && streq(json_gets(j, "p999"), "999"),
	    "1000 parameters are allowed");
	buf_adds(&b, "&&p1000=1000");
	ok(fails_with(b.p, b.len,
	    "Too many query parameters (more than 1000)."),
	    "1001 parameters are refused");

	buf_init(&b, a);
	for (i = 0; i < 1024; i++)
		buf_addc(&b, 'k');
	buf_adds(&b, "=v");
	j = parse(b.p, &rc, &why);
	ok(rc == FCRM_OK && j != NULL, "a 1024-byte name is allowed");
	buf_init(&b, a);
	for (i = 0; i < 1025; i++)
		buf_addc(&b, 'k');
	buf_adds(&b, "=v");
	ok(fails_with(b.p, b.len,
	    "Query parameter name is too long (more than 1024 bytes)."),
	    "a 1025-byte name is refused");
	buf_init(&b, a);
	for (i = 0; i < 1000; i++)
		buf_adds(&b, "%41");
	buf_adds(&b, "=v");
	j = parse(b.p, &rc, &why);
	ok(rc == FCRM_OK && j != NULL,
	    "the name limit counts decoded bytes");
}

static void
test_unclosed(void)
{

	ok(parses_to("a[b=1", "{\"a_b\":\"1\"}"),
	    "unclosed [ becomes _ and the name is literal");
	ok(parses_to("a%5Bb=1", "{\"a_b\":\"1\"}"),
	    "encoded unclosed [ too");
	ok(parses_to("a[b[c=1", "{\"a_b_c\":\"1\"}"),
	    "every [ of an unclosed name becomes _");
	ok(parses_to("a[=1", "{\"a_\":\"1\"}"), "a[ alone becomes a_");
	ok(parses_to("a[b.c d=1", "{\"a_b.c d\":\"1\"}"),
	    "dots and spaces after an unclosed [ are kept");
	ok(parses_to("a[x][y=1", "{\"a\":{\"x\":\"1\"}}"),
	    "unclosed [ after a closed one is ignored (PHP)");
	ok(parses_to("a]b[c]=1", "{\"a]b\":{\"c\":\"1\"}}"),
	    "] in the base name is literal");
}

static void
test_form(void)
{
	struct json	*j;
	const char	*why;
	int		 rc;

	j = parse("name=John+Smith&description=First+line%0ASecond+line"
	    "%0D%0Athird&emailAddress=john%40example.com&tags[]=a+b"
	    "&tags[]=c%2Bd", &rc, &why);
	ok(rc == FCRM_OK && streq(json_gets(j, "name"), "John Smith"),
	    "form body: + is a space");
	ok(streq(json_gets(j, "description"),
	    "First line\nSecond line\r\nthird"),
	    "form body: multiline %%0A and %%0D%%0A");
	ok(streq(json_gets(j, "emailAddress"), "john@example.com"),
	    "form body: %%40");
	ok(streq(json_gets(json_get(j, "tags"), "0"), "a b") &&
	    streq(json_gets(json_get(j, "tags"), "1"), "c+d"),
	    "form body: appended list");
}

static void
test_urldecode(void)
{
	char	*s;
	size_t	 n;

	s = http_urldecode(a, "a+b%20c%2b%zz", 13, 1, &n);
	ok(n == 9 && strcmp(s, "a b c+%zz") == 0,
	    "http_urldecode with plus_is_space");
	s = http_urldecode(a, "a+b%20c", 7, 0, &n);
	ok(n == 5 && strcmp(s, "a+b c") == 0,
	    "http_urldecode without plus_is_space");
	s = http_urldecode(a, "x%00y", 5, 1, &n);
	ok(n == 3 && s[1] == '\0' && s[2] == 'y' && s[3] == '\0',
	    "http_urldecode keeps NUL bytes, length says so");
	s = http_urldecode(a, "%4", 2, 1, NULL);
	ok(strcmp(s, "%4") == 0, "http_urldecode with NULL outlen");
}

static int
mp_sink(void *arg, const char *p, size_t n)
{
	buf_add(arg, p, n);
	return 0;
}

/*
 * Reads body with the reader for ctype, fed in pieces of step bytes;
 * returns http_multipart_end's code (or the feed's), the file bytes in
 * *file and the filename in *name.
 */
static int
mp_read(const char *ctype, const char *body, size_t step, struct buf *file,
    const char **name)
{
	struct multipart	*m;
	const char		*why;
	size_t			 off, n, len = strlen(body);
	int			 rc = 0;

	buf_init(file, a);
	*name = NULL;
	if ((m = http_multipart_new(a, ctype, mp_sink, file, &why)) == NULL)
		return -1;
	for (off = 0; off < len && rc == 0; off += n) {
		n = len - off < step ? len - off : step;
		rc = http_multipart_feed(m, body + off, n, &why);
	}
	if (rc == 0)
		rc = http_multipart_end(m, &why);
	*name = http_multipart_filename(m);
	return rc;
}

static void
test_multipart(void)
{
	struct buf	 f;
	const char	*name, *why;
	size_t		 step;
	int		 good = 1;

	for (step = 1; step <= 8; step++)
		good &= mp_read("multipart/form-data; boundary=ab", "--ab\r\n"
		    "Content-Disposition: form-data; name=\"f\"; "
		    "filename=\"r.wav\"\r\n\r\n\r\n-\r\n--a\r\n--a"
		    "\r\n--ab--", step, &f, &name) == 0 &&
		    strcmp(f.p, "\r\n-\r\n--a\r\n--a") == 0 &&
		    strcmp(name, "r.wav") == 0;
	ok(good, "multipart: delimiter prefixes in the file are kept, "
	    "however the body is split");
	ok(mp_read("multipart/form-data; boundary=b", "--b\r\n"
	    "Content-Disposition: form-data; name=\"x; filename=evil\"\r\n"
	    "\r\nnot a file\r\n--b\r\nContent-Disposition: form-data; "
	    "name=\"file\"; filename=\"a.mp3\"\r\n\r\nID3\r\n--b--", 64,
	    &f, &name) == 0 && strcmp(f.p, "ID3") == 0 &&
	    strcmp(name, "a.mp3") == 0,
	    "multipart: \"filename=\" inside a quoted name is not a parameter");
	ok(mp_read("multipart/form-data; name=\"x; boundary=no\"; "
	    "boundary=yes", "--yes\r\nContent-Disposition: form-data; "
	    "filename=\"a\"\r\n\r\n1\r\n--yes--", 64, &f, &name) == 0 &&
	    strcmp(f.p, "1") == 0,
	    "multipart: the boundary is the boundary parameter, not text in "
	    "another one");
	ok(http_multipart_new(a, "multipart/form-data; boundary=\"open", mp_sink,
	    &f, &why) == NULL && http_multipart_new(a, "boundary=x", mp_sink,
	    &f, &why) == NULL, "multipart: unterminated quote or no media "
	    "type: no boundary");
	ok(mp_read("multipart/form-data; boundary=b", "--b\r\n"
	    "Content-Disposition: form-data; name=\"a\"\r\n\r\n1\r\n--b--",
	    3, &f, &name) == FCRM_BAD_REQUEST, "multipart: no file part is "
	    "400");
}

int
main(void)
{

	if ((a = arena_new()) == NULL) {
		printf("Bail out! arena_new\n");
		return 1;
	}
	test_ccai();
	test_encoded();
	test_append();
	test_nesting();
	test_overwrite();
	test_shapes();
	test_escapes();
	test_utf8();
	test_limits();
	test_unclosed();
	test_form();
	test_urldecode();
	test_multipart();
	arena_free(a);
	return tap_done();
}
