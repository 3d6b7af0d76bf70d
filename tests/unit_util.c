/*
 * Unit tests, in TAP, for the helpers written once and used by several
 * floors: SHA-256 and hex (app/util.c) against published vectors, UTF-8
 * checks, and the comparison forms of phone numbers and email addresses
 * (app/entity/normal.c) that the index keys and the where clauses share.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fastcrm/arena.h"
#include "fastcrm/entity.h"
#include "fastcrm/json.h"
#include "fastcrm/util.h"
#include "../app/entity/engine.h"
#include "../app/entity/normal.h"
#include "tap.h"

static struct arena	*A;

/* SHA-256 test vectors of FIPS 180-2 (and the empty string). */
#define SHA_EMPTY	"e3b0c44298fc1c149afbf4c8996fb924" \
			"27ae41e4649b934ca495991b7852b855"
#define SHA_ABC		"ba7816bf8f01cfea414140de5dae2223" \
			"b00361a396177a9cb410ff61f20015ad"
#define SHA_448		"248d6a61d20638b8e5c026930c3e6039" \
			"a33ce45964ff2167f6ecedd419db06c1"
#define SHA_MILLION_A	"cdc76e5c9914fb9281a1c7e284d73e67" \
			"f1809a48a497200e046d39ccc7112cd0"

static int
is(const char *got, const char *want, const char *what)
{
	tap_diag = arena_printf(A, "got '%s', want '%s'",
	    got != NULL ? got : "(null)", want != NULL ? want : "(null)");
	return ok(got == want || (got != NULL && want != NULL &&
	    strcmp(got, want) == 0), "%s", what);
}

static void
test_hex(void)
{
	char	 out[9];

	util_hex("\x00\x01\xab\xff", 4, out);
	is(out, "0001abff", "hex: four bytes, lowercase");
	util_hex("", 0, out);
	is(out, "", "hex: nothing is the empty string");
}

static void
test_sha256(void)
{
	const char	*msg448 = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmn"
	    "lmnomnopnopq";
	struct util_sha256 h = { NULL };
	unsigned char	 md[UTIL_SHA256_LEN];
	char		 hex[UTIL_SHA256_LEN * 2 + 1], *a;
	size_t		 i;
	int		 rc;

	util_sha256_hex("", 0, hex);
	is(hex, SHA_EMPTY, "sha256: the empty string");
	util_sha256_hex("abc", 3, hex);
	is(hex, SHA_ABC, "sha256: \"abc\"");
	util_sha256_hex(msg448, strlen(msg448), hex);
	is(hex, SHA_448, "sha256: the 448-bit message (two blocks)");
	util_sha256("abc", 3, md);
	ok(md[0] == 0xba && md[1] == 0x78 && md[31] == 0xad,
	    "sha256: the raw digest of \"abc\" is its hex's bytes");
	/* Twice in a row: the digest context is kept between calls. */
	util_sha256_hex("abc", 3, hex);
	is(hex, SHA_ABC, "sha256: \"abc\" again, same digest");

	rc = util_sha256_init(&h);
	rc |= util_sha256_update(&h, "a", 1);
	rc |= util_sha256_update(&h, "", 0);
	rc |= util_sha256_update(&h, "bc", 2);
	rc |= util_sha256_final(&h, hex);
	util_sha256_free(&h);
	ok(rc == 0 && h.ctx == NULL, "sha256 in pieces: calls succeed");
	is(hex, SHA_ABC, "sha256 in pieces: \"a\" + \"\" + \"bc\"");

	/* A million "a" in chunks of 1000, as a file is read. */
	a = malloc(1000);
	memset(a, 'a', 1000);
	rc = util_sha256_init(&h);
	for (i = 0; i < 1000; i++)
		rc |= util_sha256_update(&h, a, 1000);
	rc |= util_sha256_final(&h, hex);
	util_sha256_free(&h);
	free(a);
	ok(rc == 0, "sha256 in pieces: a million bytes");
	is(hex, SHA_MILLION_A, "sha256 in pieces: one million \"a\"");

	util_sha256_init(&h);
	util_sha256_free(&h);
	util_sha256_free(&h);
	ok(h.ctx == NULL, "sha256 in pieces: free without final, twice");
}

static void
test_utf8(void)
{
	unsigned long	 cp = 0;

	ok(util_utf8_char((const unsigned char *)"\xe2\x82\xac", 3, &cp) == 3 &&
	    cp == 0x20ac, "utf8: the euro sign is U+20AC, 3 bytes");
	ok(util_utf8_char((const unsigned char *)"A", 1, &cp) == 1 &&
	    cp == 'A', "utf8: ASCII is one byte");
	ok(util_utf8_char((const unsigned char *)"\xf0\x9f\x98\x80", 4,
	    &cp) == 4 && cp == 0x1f600, "utf8: U+1F600, 4 bytes");
	ok(util_utf8_char((const unsigned char *)"\xe2\x82\xac", 2, &cp) == 0,
	    "utf8: a sequence cut short is malformed");
	ok(util_utf8_char((const unsigned char *)"\xed\xa0\x80", 3, &cp) == 0,
	    "utf8: a surrogate is malformed");
	ok(util_utf8_char((const unsigned char *)"\xc0\xaf", 2, &cp) == 0,
	    "utf8: an overlong '/' is malformed");
	ok(util_utf8_char((const unsigned char *)"", 0, &cp) == 0,
	    "utf8: no bytes, no character");
	ok(util_utf8_valid("caf\xc3\xa9 \xe2\x82\xac", 9) == 1,
	    "utf8: a valid text");
	ok(util_utf8_valid("caf\xc3", 4) == 0,
	    "utf8: a text ending inside a character");
	ok(util_utf8_valid("a\0b", 3) == 1, "utf8: a NUL byte is UTF-8");
}

static struct json *
parse(const char *s)
{
	struct json	*j;
	const char	*why;

	if (json_parse(A, s, strlen(s), &j, &why) != 0) {
		printf("Bail out! %s: %s\n", s, why);
		exit(1);
	}
	return j;
}

static struct field	 fields[] = {
	{ .name = "phoneNumber", .type = FT_PHONE },
	{ .name = "emailAddress", .type = FT_EMAIL },
	{ .name = "accountId", .type = FT_LINK },
	{ .name = "lastName", .type = FT_VARCHAR },
};
static struct entity	 contact = {
	.name = "Contact",
	.fields = fields,
	.nfields = sizeof(fields) / sizeof(fields[0]),
};

static void
test_normal(void)
{
	struct json	*rec;
	const char	**k, *q[2], *s;
	char		 long_name[NORMAL_KEY_MAX + 50];
	size_t		 n;

	is(normal_point(A, FT_PHONE, "+1 (555) 010-0199"), "15550100199",
	    "normal: a phone number by its digits");
	is(normal_point(A, FT_PHONE, "ext."), "",
	    "normal: a phone number without digits is empty");
	is(normal_point(A, FT_EMAIL, "Ann.Lee@Example.COM"),
	    "ann.lee@example.com", "normal: an email address case-folded");
	is(normal_point(A, FT_EMAIL, "ann@example.com"), "ann@example.com",
	    "normal: a lowercase address is unchanged");

	rec = parse("{\"phoneNumber\":\"+15550100199\","
	    "\"phoneNumberData\":[{\"phoneNumber\":\"+1 (555) 010-0199\"},"
	    "{\"phoneNumber\":\"ext.\"},{\"type\":\"Office\"},"
	    "{\"phoneNumber\":\"+44 20 7946 0000\"}],"
	    "\"emailAddressData\":[{\"emailAddress\":\"Ann@EXAMPLE.com\"}],"
	    "\"accountId\":\"6b0f40b19fc571c6e\",\"lastName\":\"O'Neil\"}");
	n = normal_points(A, &fields[0], rec, &k);
	ok(n == 3 && strcmp(k[0], "15550100199") == 0 && *k[1] == '\0' &&
	    strcmp(k[2], "442079460000") == 0,
	    "normal: every phone entry by digits, the empty one kept");
	n = normal_points(A, &fields[1], rec, &k);
	ok(n == 1 && strcmp(k[0], "ann@example.com") == 0,
	    "normal: the email entries case-folded");
	n = normal_points(A, &fields[1], parse("{\"emailAddressData\":[]}"),
	    &k);
	ok(n == 0 && k == NULL, "normal: an empty data array, no forms");
	n = normal_points(A, &fields[0], parse("{\"phoneNumberData\":7}"),
	    &k);
	ok(n == 0 && k == NULL, "normal: a data value that is no array");

	/* The index keys are those forms, less the empty ones. */
	n = engine_index_keys(A, &contact, 0, rec, &k);
	ok(n == 2 && strcmp(k[0], "15550100199") == 0 &&
	    strcmp(k[1], "442079460000") == 0,
	    "index keys: phone digits, no key for an entry without digits");
	n = engine_index_keys(A, &contact, 1, rec, &k);
	ok(n == 1 && strcmp(k[0], "ann@example.com") == 0,
	    "index keys: the email address case-folded");
	n = engine_index_keys(A, &contact, 2, rec, &k);
	ok(n == 1 && strcmp(k[0], "6b0f40b19fc571c6e") == 0,
	    "index keys: a link id as given");
	n = engine_index_keys(A, &contact, 3, rec, &k);
	ok(n == 1 && strcmp(k[0], "o'neil") == 0,
	    "index keys: other text case-folded");

	/* A query value finds what the index holds. */
	n = normal_phone_query(A, "(555) 010-0199", "1", q);
	ok(n == 2 && strcmp(q[0], "5550100199") == 0 &&
	    strcmp(q[1], "15550100199") == 0,
	    "query: a national number by its digits and its E.164 digits");
	n = normal_phone_query(A, "ext. 12", "1", q);
	ok(n == 1 && strcmp(q[0], "12") == 0,
	    "query: no E.164 form, only the digits");

	is(normal_key(A, &fields[3], "McDonald"), "mcdonald",
	    "key: text case-folded");
	is(normal_key(A, &fields[2], "6B0F40B19FC571C6E"), "6B0F40B19FC571C6E",
	    "key: a link id is not folded");
	is(normal_key(A, &fields[0], "+1 555 010 0199"), "15550100199",
	    "key: a phone number by its digits");
	memset(long_name, 'X', sizeof(long_name) - 1);
	long_name[sizeof(long_name) - 1] = '\0';
	s = normal_key(A, &fields[3], long_name);
	ok(strlen(s) == NORMAL_KEY_MAX && s[0] == 'x',
	    "key: long text is cut to %d bytes", NORMAL_KEY_MAX);

	is(normal_scalar(parse("\"x\"")), "x", "scalar: a string");
	is(normal_scalar(parse("12.5")), "12.5", "scalar: a number's text");
	is(normal_scalar(parse("true")), "true", "scalar: true");
	is(normal_scalar(parse("false")), "false", "scalar: false");
	is(normal_scalar(parse("null")), NULL, "scalar: null is none");
	is(normal_scalar(parse("[1]")), NULL, "scalar: an array is none");
	is(normal_scalar(NULL), NULL, "scalar: nothing is none");
}

/* Ids and time stamps, formatted without printf. */
static void
test_ids(void)
{
	char		 id[UTIL_ID_LEN + 1], now[20], want[20], sec[9];
	struct buf	 b;
	time_t		 t0, t1;

	t0 = time(NULL);
	util_id_new(id);
	t1 = time(NULL);
	ok(util_id_valid(id), "id_new: 17 lowercase hex digits (%s)", id);
	snprintf(sec, sizeof(sec), "%08llx",
	    (unsigned long long)t0 & 0xffffffffULL);
	ok(strncmp(id, sec, 8) == 0 || t1 != t0,
	    "id_new: the first 8 digits are the seconds (%s, %s)", id, sec);
	util_now(now);
	util_datetime_fmt((long long)time(NULL), want);
	ok(strcmp(now, want) == 0 || time(NULL) != t1,
	    "now: as util_datetime_fmt writes the time (%s)", now);
	buf_init(&b, A);
	buf_addi(&b, 0);
	buf_addc(&b, ' ');
	buf_addi(&b, -42);
	buf_addc(&b, ' ');
	buf_addi(&b, LLONG_MIN);
	buf_addc(&b, ' ');
	buf_addi(&b, LLONG_MAX);
	ok(strcmp(b.p, "0 -42 -9223372036854775808 9223372036854775807") == 0,
	    "buf_addi: as %%lld (%s)", b.p);
}

int
main(void)
{
	if ((A = arena_new()) == NULL) {
		printf("Bail out! no memory\n");
		return 1;
	}
	test_hex();
	test_sha256();
	test_utf8();
	test_normal();
	test_ids();
	arena_free(A);
	return tap_done();
}
