/*
 * Unit tests of the engine's pure parts, in-process: JSON reading and
 * writing, phone and datetime normalisation, where building and
 * evaluation, field conversion, and on a real LMDB store in a temporary
 * directory the order of a write: its body is checked before the write
 * transaction opens.  Prints TAP.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fastcrm/arena.h"
#include "fastcrm/conf.h"
#include "fastcrm/entity.h"
#include "fastcrm/error.h"
#include "fastcrm/resources.h"
#include "fastcrm/http.h"
#include "fastcrm/json.h"
#include "fastcrm/store.h"
#include "fastcrm/util.h"
#include "fastcrm/error.h"
#include "../app/entity/engine.h"
#include "../app/entity/where.h"
#include "tap.h"


static void
is(const char *got, const char *want, const char *desc)
{
	int	 same = (got == NULL && want == NULL) ||
	    (got != NULL && want != NULL && strcmp(got, want) == 0);

	ok(same, "%s", desc);
	if (!same)
		printf("#   got '%s', want '%s'\n", got ? got : "(null)",
		    want ? want : "(null)");
}

static struct arena	*A;

static const char *
roundtrip(const char *in)
{
	struct json	*j;
	struct buf	 b;
	const char	*why;

	if (json_parse(A, in, strlen(in), &j, &why) != 0)
		return why;
	buf_init(&b, A);
	json_write(&b, j);
	return b.p;
}

static void
test_json(void)
{
	struct json	*j;
	const char	*why;
	char		 deep[200];
	int		 i;

	is(roundtrip("{\"a\":[1,2.5,-3e2,true,false,null],\"b\":\"x\\ny\\u00e9\"}"),
	    "{\"a\":[1,2.5,-3e2,true,false,null],\"b\":\"x\\ny\xc3\xa9\"}",
	    "json: round trip keeps numbers' text and decodes escapes");
	ok(json_parse(A, "{\"a\":1", 6, &j, &why) != 0, "json: truncated is an error");
	ok(json_parse(A, "{} {}", 5, &j, &why) != 0, "json: trailing value is an error");
	ok(json_parse(A, "\"\xff\"", 3, &j, &why) != 0, "json: invalid UTF-8 is an error");
	ok(json_parse(A, "{\"a\":\"x\\u0000y\"}", 15, &j, &why) != 0,
	    "json: NUL inside a string is an error");
	ok(json_parse(A, "", 0, &j, &why) != 0, "json: empty input is an error");
	for (i = 0; i < 40; i++)
		deep[i] = '[';
	for (i = 0; i < 40; i++)
		deep[40 + i] = ']';
	deep[80] = '\0';
	ok(json_parse(A, deep, 80, &j, &why) != 0 &&
	    strstr(why, "deeply") != NULL, "json: 40 levels of nesting refused");
	ok(json_parse(A, "[[[1]]]", 7, &j, &why) == 0, "json: shallow nesting fine");
	ok(json_parse(A, "[\"\\udc00\"]", 10, &j, &why) != 0,
	    "json: a lone surrogate escape is refused");
	ok(json_parse(A, "[\"\xc0\x80\"]", 6, &j, &why) != 0,
	    "json: an overlong encoding is refused");
	ok(json_parse(A, "[\"\xf5\x80\x80\x80\"]", 8, &j, &why) != 0,
	    "json: a code point above U+10FFFF is refused");
	{
		struct buf	 b;
		int		 k;

		buf_init(&b, A);
		buf_addc(&b, '{');
		for (k = 0; k < JSON_MAX_KEYS + 1; k++)
			buf_printf(&b, "%s\"k%d\":0", k ? "," : "", k);
		buf_addc(&b, '}');
		ok(json_parse(A, b.p, b.len, &j, &why) != 0 &&
		    strstr(why, "too many keys") != NULL,
		    "json: an object with too many keys is refused");
	}
	is(roundtrip("{\"a\":1,\"b\":2,\"a\":3,\"c\":{\"x\":1,\"x\":[2]},\"b\":4}"),
	    "{\"a\":3,\"b\":4,\"c\":{\"x\":[2]}}",
	    "json: a repeated key keeps its first place and its last value");
	{
		struct buf	 b;
		int		 k;

		/* The most keys allowed, every one twice: linear folding. */
		buf_init(&b, A);
		buf_addc(&b, '{');
		for (k = 0; k < JSON_MAX_KEYS; k++)
			buf_printf(&b, "%s\"k%d\":%d", k ? "," : "", k % 1000,
			    k);
		buf_addc(&b, '}');
		ok(json_parse(A, b.p, b.len, &j, &why) == 0 && j->n == 1000 &&
		    strcmp(json_get(j, "k999")->s, "1999") == 0 &&
		    strcmp(j->keys[0], "k0") == 0,
		    "json: 2,000 keys, 1,000 distinct, fold to 1,000");
	}
	{
		static const char rec[] = "{\"a\":{\"createdAt\":\"x\"},"
		    "\"b\":[\"]\",{\"c\":1}],\"s\":\"q\\\"createdAt\\\":\","
		    "\"n\":-1.5e3,\"z\":null,\"t\":true,\"e\":\"a\\nb\","
		    "\"createdAt\":\"2026-01-02 03:04:05\"}";
		const char	*v;

		ok(json_raw_get(A, rec, strlen(rec), "createdAt", &v) == 1 &&
		    strcmp(v, "2026-01-02 03:04:05") == 0,
		    "json_raw_get: the top-level key, not a nested or quoted one");
		ok(json_raw_get(A, rec, strlen(rec), "n", &v) == 1 &&
		    strcmp(v, "-1.5e3") == 0, "json_raw_get: a number's text");
		ok(json_raw_get(A, rec, strlen(rec), "z", &v) == 1 && v == NULL,
		    "json_raw_get: null is NULL");
		ok(json_raw_get(A, rec, strlen(rec), "e", &v) == -1,
		    "json_raw_get: an escaped string asks for a parse");
		ok(json_raw_get(A, rec, strlen(rec), "a", &v) == -1,
		    "json_raw_get: an object asks for a parse");
		ok(json_raw_get(A, rec, strlen(rec), "nope", &v) == 0,
		    "json_raw_get: a missing key is 0");
		ok(json_raw_get(A, rec, 30, "createdAt", &v) == -1,
		    "json_raw_get: truncated text asks for a parse");
	}
	j = json_obj(A);
	json_set(A, j, "k", json_str(A, "a\"b\\c\x01"));
	{
		struct buf b;

		buf_init(&b, A);
		json_write(&b, j);
		is(b.p, "{\"k\":\"a\\\"b\\\\c\\u0001\"}", "json: writer escapes");
	}
}

/*
 * An object's members, looked up in any order: each lookup finds its own
 * member, a set replaces in place, and a member deleted or added is found
 * or not as it should be; a copy keeps them and their order.
 */
static void
test_json_lookup(void)
{
	static const char *const names[] = {
		"contactId", "contactName", "contactsIds", "createdAt",
		"createdById", "c", "cc", "ccallId", "deleted", "id"
	};
	const size_t	 n = sizeof(names) / sizeof(names[0]);
	struct json	*o, *c, *v[10];
	struct buf	 b;
	const char	*text;
	size_t		 i, k, step;
	int		 good = 1;

	o = json_obj(A);
	for (i = 0; i < n; i++)
		json_set(A, o, names[i], v[i] = json_num(A, (double)i));
	/* Every stride through the keys, forwards and from the middle. */
	for (step = 1; step <= n; step++)
		for (k = 0; k < n; k++) {
			i = (k * step + n / 2) % n;
			if (json_get(o, names[i]) != v[i])
				good = 0;
		}
	ok(good, "json: a lookup in any order finds its own member");
	/* The same strides through json_get_next, its position carried. */
	good = 1;
	for (step = 1; step <= n; step++) {
		size_t	 at = step % n;

		for (k = 0; k < n; k++) {
			i = (k * step + n / 2) % n;
			if (json_get_next(o, names[i], &at) != v[i] ||
			    at != i + 1)
				good = 0;
		}
		if (json_get_next(o, "nope", &at) != NULL)
			good = 0;
	}
	ok(good, "json: json_get_next finds its member from any position");
	ok(json_get(o, "contact") == NULL && json_get(o, "ids") == NULL &&
	    json_get(o, "") == NULL, "json: a key not there is not found");
	(void)json_get(o, "createdAt");
	json_set(A, o, "contactId", json_str(A, "x"));
	ok(o->n == n && json_gets(o, "contactId") != NULL &&
	    strcmp(json_gets(o, "contactId"), "x") == 0 &&
	    strcmp(o->keys[0], "contactId") == 0,
	    "json: a set after a lookup replaces in place");
	json_del(o, "ccallId");
	ok(json_get(o, "ccallId") == NULL && json_get(o, "id") == v[9] &&
	    json_get(o, "deleted") == v[8] && o->n == n - 1,
	    "json: after a delete the others are still found");
	json_set(A, o, "ccallId", v[7]);
	ok(json_get(o, "ccallId") == v[7] && o->n == n &&
	    strcmp(o->keys[n - 1], "ccallId") == 0,
	    "json: a new key is added at the end");
	c = json_copy(A, o);
	buf_init(&b, A);
	json_write(&b, o);
	text = b.p;
	buf_init(&b, A);
	json_write(&b, c);
	is(b.p, text, "json: a copy keeps the members and their order");
	ok(c->n == o->n && json_get(c, "createdById") != NULL &&
	    json_get(c, "createdById") != json_get(o, "createdById") &&
	    json_get(c, "nope") == NULL, "json: a copy's members are its own");
}

/*
 * The writer against the parser: objects whose keys and strings hold
 * every ASCII byte, escapes at the start, middle and end, and strings
 * longer than the buffer's first block, read back equal and in order.
 */
static void
test_json_writer(void)
{
	struct json	*o, *back, *arr;
	struct buf	 b;
	const char	*why;
	char		 s[700], key[8];
	size_t		 i, len, round;
	unsigned int	 seed = 17;
	int		 good = 1;

	for (round = 0; round < 200; round++) {
		o = json_obj(A);
		for (i = 0; i < 6; i++) {
			len = (round * 7 + i * 131) % sizeof(s);
			for (size_t k = 0; k < len; k++) {
				seed = seed * 1103515245u + 12345u;
				s[k] = (char)(1 + (seed >> 16) % 127);
			}
			snprintf(key, sizeof(key), "%c%zu", round % 2 ?
			    '"' : 'k', i);
			json_set(A, o, arena_strdup(A, key),
			    json_strn(A, s, len));
		}
		arr = json_arr(A);
		json_push(A, arr, json_obj(A));
		json_push(A, arr, json_bool(A, (int)(round % 2)));
		json_set(A, o, "\\\n", arr);
		buf_init(&b, A);
		json_write(&b, o);
		if (strlen(b.p) != b.len ||
		    json_parse(A, b.p, b.len, &back, &why) != 0 ||
		    !json_equal(o, back) || back->n != o->n) {
			good = 0;
			continue;
		}
		for (i = 0; i < o->n; i++)
			if (strcmp(o->keys[i], back->keys[i]) != 0)
				good = 0;
	}
	ok(good, "json: what the writer writes parses back equal, in order");
	o = json_obj(A);
	json_set(A, o, "a\"b", json_obj(A));
	json_set(A, o, "t", json_bool(A, 1));
	json_set(A, o, "f", json_bool(A, 0));
	json_set(A, o, "\x1f", json_arr(A));
	buf_init(&b, A);
	json_write(&b, o);
	is(b.p, "{\"a\\\"b\":{},\"t\":true,\"f\":false,\"\\u001f\":[]}",
	    "json: escaped keys, empty containers and booleans");
}

/* A document of n items: {"x":[1,1,...]} built in the arena. */
static struct buf
items(size_t n)
{
	struct buf	 b;
	size_t		 k;

	buf_init(&b, A);
	buf_adds(&b, "{\"x\":[");
	for (k = 0; k < n; k++)
		buf_adds(&b, k ? ",1" : "1");
	buf_adds(&b, "]}");
	return b;
}

static void
test_json_body(void)
{
	struct arena	*c;
	struct json	*j;
	struct buf	 b;
	const char	*why;
	size_t		 k;
	int		 rc;

	ok(json_parse_body(A, "[1,2]", 5, &j, &why) != 0 &&
	    strcmp(why, "Body must be a JSON object.") == 0 &&
	    json_parse_body(A, " \n\v\"x\"", 6, &j, &why) != 0 &&
	    json_parse_body(A, "{\"a\":[1]}", 9, &j, &why) == 0,
	    "json body: only an object at the top");
	b = items(JSON_MAX_ITEMS);
	ok(json_parse_body(A, b.p, b.len, &j, &why) == 0 &&
	    json_get(j, "x")->n == JSON_MAX_ITEMS,
	    "json body: an array of JSON_MAX_ITEMS items is taken");
	b = items(JSON_MAX_ITEMS + 1);
	ok(json_parse_body(A, b.p, b.len, &j, &why) != 0 &&
	    strstr(why, "array is too long") != NULL &&
	    json_parse(A, b.p, b.len, &j, &why) == 0,
	    "json body: one item more is refused (json_parse still takes it)");
	/* 11 arrays of 9,999 items: 110,001 values in all. */
	buf_init(&b, A);
	buf_adds(&b, "{\"x\":[");
	for (k = 0; k < 11; k++) {
		struct buf	 i = items(9999);

		if (k > 0)
			buf_addc(&b, ',');
		buf_add(&b, i.p + 5, i.len - 6);
	}
	buf_adds(&b, "]}");
	ok(json_parse_body(A, b.p, b.len, &j, &why) != 0 &&
	    strstr(why, "too many values") != NULL,
	    "json body: more than JSON_MAX_NODES values are refused");
	if ((c = arena_new()) == NULL)
		exit(2);
	b = items(5000);
	arena_set_limit(c, 64 * 1024);
	rc = json_parse_body(c, b.p, b.len, &j, &why);
	ok(rc != 0 && arena_over(c) && strstr(why, "more memory") != NULL &&
	    arena_used(c) < 64 * 1024 + 4096,
	    "json body: the parse stops at the first value past the ceiling");
	arena_reset(c);
	ok(!arena_over(c) && arena_limit(c) == 0 &&
	    json_parse_body(c, b.p, b.len, &j, &why) == 0,
	    "arena: a reset clears the ceiling and the mark");
	arena_set_limit(c, 1024);
	ok(arena_over(c) && arena_alloc(c, 1 << 20) != NULL,
	    "arena: past the ceiling allocation still succeeds, marked");
	arena_free(c);
}

static void
test_phone(void)
{
	is(util_phone_e164(A, "+1 555 010 2000", "1"), "+15550102000", "phone: spaced E.164");
	is(util_phone_e164(A, " 15550102000", "1"), "+15550102000", "phone: '+' decoded as space");
	is(util_phone_e164(A, "15550102000", "1"), "+15550102000", "phone: 11 digits with cc 1");
	is(util_phone_e164(A, "(555) 010-2000", "1"), "+15550102000", "phone: national NANP");
	is(util_phone_e164(A, "0044 20 7946 0000", "1"), "+442079460000", "phone: 00 prefix");
	is(util_phone_e164(A, "020 7946 0000", "44"), "+442079460000", "phone: trunk 0 with cc 44");
	is(util_phone_e164(A, "New Caller", "1"), NULL, "phone: text is not a number");
	is(util_phone_e164(A, "+12", "1"), NULL, "phone: too short");
	is(util_digits(A, "+1 (555) 010-2000"), "15550102000", "digits");
}

static void
test_datetime(void)
{
	char		 out[20];
	long long	 t;

	ok(util_datetime_parse("2026-03-04 05:06:07", out) == 0 &&
	    strcmp(out, "2026-03-04 05:06:07") == 0, "datetime: EspoCRM form");
	ok(util_datetime_parse("2026-03-04 05:06", out) == 0 &&
	    strcmp(out, "2026-03-04 05:06:00") == 0, "datetime: without seconds");
	ok(util_datetime_parse("2026-03-04T05:06:07Z", out) == 0 &&
	    strcmp(out, "2026-03-04 05:06:07") == 0, "datetime: ISO Z");
	ok(util_datetime_parse("2026-03-04T05:06:07.123+02:00", out) == 0 &&
	    strcmp(out, "2026-03-04 03:06:07") == 0, "datetime: ISO offset");
	ok(util_datetime_parse("1700000000", out) == 0 &&
	    strcmp(out, "2023-11-14 22:13:20") == 0, "datetime: epoch seconds");
	ok(util_datetime_parse("1700000000000", out) == 0 &&
	    strcmp(out, "2023-11-14 22:13:20") == 0, "datetime: epoch ms");
	ok(util_datetime_parse("2026-02-30 00:00:00", out) != 0, "datetime: Feb 30 refused");
	ok(util_datetime_parse("yesterday", out) != 0, "datetime: words refused");
	ok(util_datetime_parse("253402300800000", out) != 0 &&
	    util_datetime_parse("9999-12-31T23:59:59-14:00", out) != 0,
	    "datetime: years past 9999 refused");
	ok(util_datetime_parse("9999-12-31 23:59:59", out) == 0,
	    "datetime: 9999-12-31 accepted");
	ok(util_datetime_epoch("1970-01-02 00:00:00", &t) == 0 && t == 86400,
	    "datetime: epoch of a day");
	ok(util_id_valid("0123456789abcdef0") && !util_id_valid("0123456789ABCDEF0") &&
	    !util_id_valid("../../etc/passwd0") && !util_id_valid("0123"),
	    "id: shape check");
}

static struct json *
parse(const char *s)
{
	struct json	*j;
	const char	*why;

	if (json_parse(A, s, strlen(s), &j, &why) != 0) {
		printf("# bad test JSON: %s\n", why);
		exit(2);
	}
	return j;
}

static int
where_on(struct ectx *r, const char *entity, const char *where,
    const char *rec)
{
	struct wnode	*w;

	if (where_build(r, entity_find(entity), parse(where), &w) != 0)
		return -1;
	return where_eval(r, NULL, entity_find(entity), w, parse(rec));
}

static void
test_where(void)
{
	struct conf	 conf;
	struct ectx	 r;
	const char	*contact =
	    "{\"id\":\"00000000000000001\",\"firstName\":\"John\","
	    "\"lastName\":\"Smith\",\"name\":\"John Smith\",\"doNotCall\":true,"
	    "\"phoneNumber\":\"+15550102000\",\"phoneNumberData\":["
	    "{\"phoneNumber\":\"+15550102000\",\"primary\":true},"
	    "{\"phoneNumber\":\"+442079460000\",\"primary\":false}],"
	    "\"emailAddress\":\"John@Example.com\",\"emailAddressData\":["
	    "{\"emailAddress\":\"John@Example.com\",\"primary\":true}],"
	    "\"createdAt\":\"2020-01-01 10:00:00\",\"accountsIds\":[\"a1\"]}";
	const char	*kase = "{\"id\":\"00000000000000002\",\"name\":\"x\","
	    "\"number\":42,\"status\":\"Pending\"}";

	memset(&conf, 0, sizeof(conf));
	conf.default_country_code = (char *)"1";
	entity_ctx(&r, A, &conf, NULL);
	ok(where_on(&r, "Contact", "[{\"type\":\"equals\",\"attribute\":"
	    "\"phoneNumber\",\"value\":\" 15550102000\"}]", contact) == 1,
	    "where: phone equals, '+' as space");
	ok(where_on(&r, "Contact", "[{\"type\":\"equals\",\"attribute\":"
	    "\"phoneNumber\",\"value\":\"(555) 010-2000\"}]", contact) == 1,
	    "where: national phone");
	ok(where_on(&r, "Contact", "[{\"type\":\"equals\",\"attribute\":"
	    "\"phoneNumber\",\"value\":\"+44 20 7946 0000\"}]", contact) == 1,
	    "where: second number matches");
	ok(where_on(&r, "Contact", "[{\"type\":\"equals\",\"attribute\":"
	    "\"phoneNumber\",\"value\":\"+15550102001\"}]", contact) == 0,
	    "where: other number does not");
	ok(where_on(&r, "Contact", "[{\"type\":\"equals\",\"attribute\":"
	    "\"emailAddress\",\"value\":\"JOHN@EXAMPLE.COM\"}]", contact) == 1,
	    "where: email case-insensitive");
	ok(where_on(&r, "Contact", "[{\"type\":\"like\",\"attribute\":"
	    "\"name\",\"value\":\"jo%th\"}]", contact) == 1, "where: like");
	ok(where_on(&r, "Contact", "[{\"type\":\"or\",\"value\":["
	    "{\"type\":\"startsWith\",\"attribute\":\"lastName\",\"value\":\"x\"},"
	    "{\"type\":\"and\",\"value\":[{\"type\":\"isTrue\",\"attribute\":"
	    "\"doNotCall\"},{\"type\":\"endsWith\",\"attribute\":\"firstName\","
	    "\"value\":\"HN\"}]}]}]", contact) == 1, "where: nested or/and");
	ok(where_on(&r, "Contact", "[{\"type\":\"like\",\"attribute\":"
	    "\"name\",\"value\":\"%o%n%s%i%h\"}]", contact) == 1 &&
	    where_on(&r, "Contact", "[{\"type\":\"like\",\"attribute\":"
	    "\"name\",\"value\":\"%o%n%x%\"}]", contact) == 0 &&
	    where_on(&r, "Contact", "[{\"type\":\"like\",\"attribute\":"
	    "\"name\",\"value\":\"j_hn smit_\"}]", contact) == 1,
	    "where: like backtracks and _ is one character");
	{
		struct json	*l;

		l = json_as_list(A, parse("{\"100000\":\"b\",\"5\":\"a\"}"));
		ok(l != NULL && l->n == 2 && strcmp(l->v[0]->s, "a") == 0,
		    "where: sparse integer keys taken in numeric order");
	}
	ok(where_on(&r, "Contact", "[{\"type\":\"linkedWith\",\"attribute\":"
	    "\"cases\",\"value\":\"0123456789abcdef4\"}]", contact) == 0,
	    "where: a foreign linkedWith without a transaction is no match");
	ok(where_on(&r, "Contact", "[{\"type\":\"past\",\"attribute\":"
	    "\"createdAt\"}]", contact) == 1, "where: past");
	ok(where_on(&r, "Contact", "[{\"type\":\"linkedWith\",\"attribute\":"
	    "\"accounts\",\"value\":[\"a1\"]}]", contact) == 1,
	    "where: linkedWith on own ids");
	ok(where_on(&r, "Case", "[{\"type\":\"between\",\"attribute\":"
	    "\"number\",\"value\":[\"9\",\"100\"]}]", kase) == 1,
	    "where: between is numeric for int");
	ok(where_on(&r, "Case", "{\"0\":{\"type\":\"notIn\",\"attribute\":"
	    "\"status\",\"value\":{\"0\":\"Closed\",\"1\":\"New\"}}}", kase) == 1,
	    "where: PHP-array shaped items and values");
	ok(where_on(&r, "Case", "[{\"type\":\"greaterThan\",\"attribute\":"
	    "\"number\",\"value\":\"100\"}]", kase) == 0,
	    "where: greaterThan numeric");
	ok(where_on(&r, "Case", "[{\"type\":\"equals\",\"attribute\":"
	    "\"nope\",\"value\":\"1\"}]", kase) == -1 && r.fault.code == FCRM_BAD_REQUEST &&
	    strcmp(r.fault.reason, "Not existing attribute 'nope' in where.") == 0,
	    "where: unknown attribute is 400");
	ok(where_on(&r, "Case", "[{\"type\":\"sortOf\",\"attribute\":"
	    "\"name\",\"value\":\"1\"}]", kase) == -1 && r.fault.code == FCRM_BAD_REQUEST,
	    "where: unknown type is 400");
	ok(where_on(&r, "Case", "[{\"type\":\"equals\",\"attribute\":"
	    "\"name\",\"value\":\"1\",\"evil\":1}]", kase) == -1 &&
	    r.fault.code == FCRM_BAD_REQUEST, "where: unknown key is 400");
	ok(where_on(&r, "Case", "[{\"type\":\"in\",\"attribute\":"
	    "\"number\",\"value\":[\"7\",\"42.0\",\"nan\",\"7\",\"1e9\"]}]",
	    kase) == 1 && where_on(&r, "Case", "[{\"type\":\"notIn\","
	    "\"attribute\":\"number\",\"value\":[\"7\",\"nan\",\"7\"]}]",
	    kase) == 1, "where: in / notIn on an int compare numbers");
	ok(where_on(&r, "Case", "[{\"type\":\"in\",\"attribute\":"
	    "\"status\",\"value\":[\"Closed\",\"pending\",\"Closed\",\"a\"]}]",
	    kase) == 1 && where_on(&r, "Case", "[{\"type\":\"in\","
	    "\"attribute\":\"status\",\"value\":[\"Closed\",\"New\",\"New\"]}]",
	    kase) == 0, "where: in with repeats, case-insensitive");
	ok(where_on(&r, "Contact", "[{\"type\":\"linkedWith\",\"attribute\":"
	    "\"accounts\",\"value\":[\"z9\",\"a1\",\"z9\",\"b2\"]}]",
	    contact) == 1, "where: linkedWith own ids among repeats");
	{
		struct buf	 b;
		int		 k;

		buf_init(&b, A);
		buf_adds(&b, "[{\"type\":\"in\",\"attribute\":\"status\","
		    "\"value\":[");
		for (k = 0; k < 1001; k++)
			buf_adds(&b, k ? ",\"x\"" : "\"x\"");
		buf_adds(&b, "]}]");
		ok(where_on(&r, "Case", b.p, kase) == -1 && r.fault.code == FCRM_BAD_REQUEST &&
		    strstr(r.fault.reason, "more than 1000 values") != NULL,
		    "where: 1,001 values in one list are refused");
	}
}

static void
test_convert(void)
{
	const struct entity	*call = entity_find("Call");
	const struct field	*f;
	struct json		*v;
	const char		*etype;

	f = entity_field(call, "direction");
	ok(engine_convert(A, f, json_str(A, "inbound"), &v, &etype) == 0 &&
	    strcmp(v->s, "Inbound") == 0, "convert: enum case-insensitive");
	ok(engine_convert(A, f, json_str(A, "sideways"), &v, &etype) != 0 &&
	    strcmp(etype, "valid") == 0, "convert: bad enum");
	ok(engine_convert(A, f, json_str(A, ""), &v, &etype) == 0 && v == NULL,
	    "convert: empty string is not given");
	f = entity_field(call, "dateStart");
	ok(engine_convert(A, f, json_numtext(A, "1700000000000"), &v, &etype)
	    == 0 && strcmp(v->s, "2023-11-14 22:13:20") == 0,
	    "convert: epoch ms number to datetime");
	f = entity_field(entity_find("Contact"), "lastName");
	{
		char	big[200];

		memset(big, 'x', sizeof(big) - 1);
		big[sizeof(big) - 1] = '\0';
		ok(engine_convert(A, f, json_str(A, big), &v, &etype) != 0 &&
		    strcmp(etype, "maxLength") == 0, "convert: maxLength");
	}
}

/*
 * The engine's faults through a real LMDB store in a temp dir: each call
 * returns its code and describes the fault in the context (the field and
 * type of a validation failure, the records of a conflict, the label of a
 * refused relation); nothing of HTTP is involved.
 */
static void
test_faults(void)
{
	struct conf		 conf;
	struct store		*st = NULL;
	struct ectx		 c;
	struct arena		*R;
	struct json		*out, *first;
	char			 id[32], oid[32];
	const struct entity	*ce, *ke;
	const char		*why;
	char			 dir[] = "/tmp/unit-engine-XXXXXX";
	int			 rc;

	memset(&conf, 0, sizeof(conf));
	conf.default_country_code = (char *)"1";
	if (mkdtemp(dir) == NULL) {
		ok(0, "faults: mkdtemp");
		return;
	}
	conf.data_dir = dir;
	conf.map_size = 64UL << 20;
	rc = entity_store_open(&conf, NULL, &st, &why);
	ok(rc == 0, "faults: a store in %s (%s)", dir, rc == 0 ? "open" : why);
	if (rc != 0)
		return;
	ce = entity_find("Contact");
	ke = entity_find("Case");
	R = arena_new();

	arena_reset(R);
	entity_ctx(&c, R, &conf, st);
	rc = entity_create(&c, ce, parse("{\"firstName\":\"Ann\"}"), &out);
	ok(rc == FCRM_VALIDATION && c.fault.code == rc &&
	    c.fault.kind == FAULT_VALIDATION &&
	    strcmp(c.fault.entity, "Contact") == 0 &&
	    strcmp(c.fault.field, "lastName") == 0 &&
	    strcmp(c.fault.type, "required") == 0,
	    "faults: a missing lastName is validation/lastName/required");
	ok(c.fault.reason != NULL && strstr(c.fault.reason, "lastName") != NULL,
	    "faults: ... and the reason names the field (%s)",
	    c.fault.reason != NULL ? c.fault.reason : "none");

	arena_reset(R);
	entity_ctx(&c, R, &conf, st);
	rc = entity_create(&c, ce, parse("{\"lastName\":\"Lee\","
	    "\"emailAddress\":\"not an address\"}"), &out);
	ok(rc == FCRM_VALIDATION && c.fault.kind == FAULT_VALIDATION &&
	    strcmp(c.fault.field, "emailAddress") == 0,
	    "faults: a bad emailAddress names emailAddress (%s)",
	    c.fault.reason != NULL ? c.fault.reason : "none");

	arena_reset(R);
	entity_ctx(&c, R, &conf, st);
	rc = entity_create(&c, ce, parse("{\"lastName\":\"Lee\","
	    "\"phoneNumber\":\"+15550100001\"}"), &first);
	ok(rc == 0 && json_gets(first, "id") != NULL,
	    "faults: a valid Contact is created");
	snprintf(id, sizeof(id), "%s", rc == 0 ? json_gets(first, "id") : "");
	arena_reset(R);
	entity_ctx(&c, R, &conf, st);
	rc = entity_create(&c, ce, parse("{\"lastName\":\"Lee\","
	    "\"phoneNumber\":\"+15550100001\"}"), &out);
	ok(rc == 0 && json_gets(out, "id") != NULL &&
	    strcmp(json_gets(out, "id"), id) == 0,
	    "faults: the same body again is the existing record (a retry)");
	arena_reset(R);
	entity_ctx(&c, R, &conf, st);
	rc = entity_create(&c, ce, parse("{\"lastName\":\"Lee\","
	    "\"phoneNumber\":\"+15550100002\"}"), &out);
	ok(rc == FCRM_CONFLICT && c.fault.kind == FAULT_CONFLICT &&
	    c.fault.records != NULL && c.fault.records->type == JSON_ARRAY &&
	    c.fault.records->n == 1 &&
	    json_gets(c.fault.records->v[0], "id") != NULL &&
	    strcmp(json_gets(c.fault.records->v[0], "id"), id) == 0,
	    "faults: a duplicate is a conflict listing the existing record");
	arena_reset(R);
	entity_ctx(&c, R, &conf, st);
	c.skip_dups = 1;
	rc = entity_create(&c, ce, parse("{\"lastName\":\"Lee\","
	    "\"phoneNumber\":\"+15550100001\"}"), &out);
	ok(rc == 0 && json_gets(out, "id") != NULL &&
	    strcmp(json_gets(out, "id"), id) != 0,
	    "faults: skip_dups creates it anyway");

	arena_reset(R);
	entity_ctx(&c, R, &conf, st);
	rc = entity_create(&c, ke, parse("{\"name\":\"Broken line\","
	    "\"contactId\":\"0123456789abcdef0\"}"), &out);
	ok(rc == FCRM_FORBIDDEN && c.fault.kind == FAULT_RELATE &&
	    strcmp(c.fault.label, "cannotRelateNonExisting") == 0 &&
	    strcmp(c.fault.foreign, "Contact") == 0,
	    "faults: a link to a missing Contact is cannotRelateNonExisting");

	/* A link's name is read from the stored bytes; a name with an
	   escape in it takes the parse. */
	arena_reset(R);
	entity_ctx(&c, R, &conf, st);
	c.skip_dups = 1;
	rc = entity_create(&c, ce, parse("{\"firstName\":\"Ann\","
	    "\"lastName\":\"O\\\"Neil \\\\ x\"}"), &out);
	snprintf(oid, sizeof(oid), "%s", rc == 0 ? json_gets(out, "id") : "");
	ok(rc == 0, "faults: a Contact named with a quote and a backslash");
	arena_reset(R);
	entity_ctx(&c, R, &conf, st);
	rc = entity_create(&c, ke, parse(arena_printf(A, "{\"name\":\"Q\","
	    "\"contactId\":\"%s\"}", oid)), &out);
	ok(rc == 0 && json_gets(out, "contactName") != NULL &&
	    strcmp(json_gets(out, "contactName"), "Ann O\"Neil \\ x") == 0,
	    "faults: a Case's contactName with the escapes kept (%s)",
	    rc == 0 && json_gets(out, "contactName") != NULL ?
	    json_gets(out, "contactName") : "none");
	arena_reset(R);
	entity_ctx(&c, R, &conf, st);
	rc = entity_create(&c, ke, parse(arena_printf(A, "{\"name\":\"P\","
	    "\"contactId\":\"%s\"}", id)), &out);
	ok(rc == 0 && json_gets(out, "contactName") != NULL &&
	    strcmp(json_gets(out, "contactName"), "Lee") == 0,
	    "faults: a Case's contactName read from the stored bytes");

	arena_reset(R);
	entity_ctx(&c, R, &conf, st);
	rc = entity_update(&c, ce, "0123456789abcdef0",
	    parse("{\"lastName\":\"X\"}"), &out);
	ok(rc == FCRM_NOT_FOUND, "faults: an update of a missing id is "
	    "not found");
	arena_reset(R);
	entity_ctx(&c, R, &conf, st);
	rc = entity_update(&c, ce, id,
	    parse("{\"lastName\":\"\"}"), &out);
	ok(rc == FCRM_VALIDATION && strcmp(c.fault.field, "lastName") == 0,
	    "faults: clearing a required field is a validation failure");
	arena_reset(R);
	entity_ctx(&c, R, &conf, st);
	rc = entity_delete(&c, ce, id);
	ok(rc == 0, "faults: delete");
	arena_reset(R);
	entity_ctx(&c, R, &conf, st);
	rc = entity_delete(&c, ce, id);
	ok(rc == FCRM_NOT_FOUND, "faults: deleting it again is not found");

	arena_reset(R);
	arena_free(R);
	entity_store_close(st);
	tap_rm_store(dir);
}

/*
 * A write checks its body before the write transaction opens (LMDB's
 * single writer): with write batching on, store_batch_joined counts the
 * write txns begun, so a body refused by validation must not move it.
 */
static void
test_write_order(void)
{
	char			 dir[] = "/tmp/fastcrm-unit-engine.XXXXXX";
	struct conf		 conf;
	struct principal	 who;
	struct ectx		 c;
	struct store		*st = NULL;
	struct arena		*wa;
	const struct entity	*e;
	struct json		*body, *out = NULL;
	unsigned long		 n0;
	int			 rc;

	if (mkdtemp(dir) == NULL) {
		ok(0, "write order: a temporary directory");
		return;
	}
	memset(&conf, 0, sizeof(conf));
	conf.default_country_code = (char *)"1";
	if (!ok(store_open(dir, 1 << 24, entity_db_names(), &st) == 0 &&
	    entity_open_dbs(st) == 0, "write order: a store")) {
		tap_rm_store(dir);
		return;
	}
	memset(&who, 0, sizeof(who));
	who.id = ENTITY_SYSTEM_ID;
	who.name = who.user_name = who.type = "system";
	who.admin = 1;
	/* Its own arena: a txn left on it is aborted before the store
	   closes. */
	wa = arena_new();
	entity_ctx(&c, wa, &conf, st);
	c.system = 0;
	c.who = &who;
	store_batch(st, 1);
	e = entity_find("Contact");
	n0 = store_batch_joined(st);
	body = parse("{\"firstName\":\"No\",\"salutationName\":\"Sir\"}");
	rc = entity_create(&c, e, body, &out);
	ok(rc == FCRM_VALIDATION && c.fault.field != NULL &&
	    strcmp(c.fault.field, "salutationName") == 0 &&
	    store_batch_joined(st) == n0 && !store_batch_open(st),
	    "write order: an enum refused before any write txn (%d, %lu "
	    "txns)", rc, store_batch_joined(st) - n0);
	body = parse("{\"firstName\":\"No\"}");
	rc = entity_create(&c, e, body, &out);
	ok(rc == FCRM_VALIDATION && c.fault.field != NULL &&
	    strcmp(c.fault.field, "lastName") == 0 &&
	    store_batch_joined(st) == n0 && !store_batch_open(st),
	    "write order: a missing required attribute refused before any "
	    "write txn (%d, %lu txns)", rc, store_batch_joined(st) - n0);
	body = parse("{\"lastName\":\"Order\"}");
	rc = entity_create(&c, e, body, &out);
	ok(rc == 0 && out != NULL && store_batch_joined(st) == n0 + 1,
	    "write order: a valid create takes one write txn (%d, %lu txns)",
	    rc, store_batch_joined(st) - n0);
	body = parse("{\"lastName\":\"Order\",\"password\":\"x\"}");
	rc = entity_create(&c, entity_find("User"), body, &out);
	ok(rc == FCRM_VALIDATION && c.fault.field != NULL &&
	    strcmp(c.fault.field, "password") == 0 &&
	    store_batch_joined(st) == n0 + 1,
	    "write order: a User's bad password refused before any write "
	    "txn (%d)", rc);
	/* An update answers a missing record first (EspoCRM's order), then
	   the body's fault it found before the txn. */
	body = parse("{\"salutationName\":\"Sir\"}");
	rc = entity_update(&c, e, "00000000000000099", body, &out);
	ok(rc == FCRM_NOT_FOUND, "write order: an update of a missing "
	    "record with a bad body is a 404 (%d)", rc);
	arena_free(wa);
	store_batch(st, 0);
	store_close(st);
	tap_rm_store(dir);
}

int
main(void)
{
	const char	*why;

	A = arena_new();
	entity_register(resources);
	if (entity_init(NULL, &why) != 0) {
		printf("Bail out! entity_init: %s\n", why);
		return 1;
	}
	test_json();
	test_json_lookup();
	test_json_writer();
	test_json_body();
	test_phone();
	test_datetime();
	test_where();
	test_convert();
	test_faults();
	test_write_order();
	arena_free(A);
	return tap_done();
}
