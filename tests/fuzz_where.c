/*
 * libFuzzer target for the where builder and evaluator (app/entity/where.c).
 * The input is a list request's parameters, in one of two forms:
 *
 *	where[0][type]=equals&where[0][attribute]=...	a query string,
 *	    decoded by http_query_parse() as PHP would;
 *	{"where":[{"type":"equals",...}],...}		searchParams JSON.
 *
 * Its "where" is built with where_build() for Contact and for Case, and a
 * "textFilter" (or "q") adds where_text_filter() as the list code does; a
 * tree that builds is evaluated with where_eval() against fixed sample
 * records.
 * There is no store and so no transaction: a tree that holds linkedWith or
 * notLinkedWith on a LINK_FOREIGN link is built but not evaluated, since
 * where_eval() loads the foreign records through the transaction.
 * The value lists of in, notIn, linkedWith and notLinkedWith must come out
 * sorted without repeats (where.c evaluates them by binary search), and
 * repeating and reversing every such list must not change any record's
 * result (nor whether the tree builds, within the cap on values).
 * searchParams JSON is read with json_parse_body, as the list code does.
 * Seeds: tests/corpus/where/.
 *
 *	tests/fuzz.sh where
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fastcrm/arena.h"
#include "fastcrm/conf.h"
#include "fastcrm/entity.h"
#include "fastcrm/resources.h"
#include "fastcrm/error.h"
#include "fastcrm/json.h"
#include "fastcrm/query.h"
#include "fastcrm/util.h"
#include "../app/entity/where.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

/* The sample records; "@NOW@" becomes the current time at start. */
static const char *const contact_recs[] = {
	"{\"id\":\"0123456789abcdef0\",\"deleted\":false,"
	"\"name\":\"Ada Lovelace\",\"salutationName\":\"Ms.\","
	"\"firstName\":\"Ada\",\"lastName\":\"Lovelace\","
	"\"title\":\"Countess\",\"description\":\"First programmer; 100% "
	"_Analytical_ Engine\",\"emailAddress\":\"ada@example.com\","
	"\"emailAddressData\":[{\"emailAddress\":\"Ada@Example.com\","
	"\"primary\":true},{\"emailAddress\":\"ada.l@example.org\","
	"\"primary\":false}],\"phoneNumber\":\"+15550102000\","
	"\"phoneNumberData\":[{\"phoneNumber\":\"+15550102000\","
	"\"primary\":true,\"type\":\"Mobile\"},{\"phoneNumber\":"
	"\"+442079460000\",\"primary\":false,\"type\":\"Office\"}],"
	"\"doNotCall\":false,\"addressStreet\":\"12 St James's Square\","
	"\"addressCity\":\"London\",\"addressState\":null,"
	"\"addressCountry\":\"United Kingdom\",\"addressPostalCode\":"
	"\"SW1Y 4JH\",\"accountId\":\"0123456789abcdef1\","
	"\"accountName\":\"Babbage & Co\",\"accountsIds\":"
	"[\"0123456789abcdef1\",\"0123456789abcdef2\"],\"accountsNames\":"
	"{\"0123456789abcdef1\":\"Babbage & Co\"},"
	"\"createdAt\":\"2026-03-04 05:06:07\",\"modifiedAt\":\"@NOW@\","
	"\"createdById\":\"00000000000000001\",\"createdByName\":\"Admin\","
	"\"modifiedById\":null,\"modifiedByName\":null,"
	"\"assignedUserId\":\"00000000000000001\","
	"\"assignedUserName\":\"Admin\"}",
	"{\"id\":\"0123456789abcdef3\",\"deleted\":false,"
	"\"name\":\"\xc3\x9cnal \xc3\x87""elik\",\"salutationName\":\"\","
	"\"firstName\":\"\",\"lastName\":\"\xc3\x87""elik\","
	"\"title\":null,\"description\":null,\"emailAddress\":null,"
	"\"emailAddressData\":[],\"phoneNumber\":\"5550102000\","
	"\"phoneNumberData\":[{\"phoneNumber\":\"5550102000\"},{}],"
	"\"doNotCall\":true,\"accountsIds\":[],\"accountsNames\":{},"
	"\"createdAt\":\"@NOW@\",\"modifiedAt\":null}",
};

static const char *const case_recs[] = {
	"{\"id\":\"0123456789abcdef4\",\"deleted\":false,"
	"\"name\":\"Caller cannot hear agent\",\"number\":42,"
	"\"status\":\"Assigned\",\"priority\":\"High\",\"type\":\"Incident\","
	"\"description\":\"Echo on the line\",\"accountId\":null,"
	"\"contactId\":\"0123456789abcdef0\",\"contactName\":\"Ada Lovelace\","
	"\"contactsIds\":[\"0123456789abcdef0\"],\"contactsNames\":"
	"{\"0123456789abcdef0\":\"Ada Lovelace\"},"
	"\"createdAt\":\"@NOW@\",\"assignedUserId\":null}",
	"{\"id\":\"0123456789abcdef5\",\"deleted\":false,\"name\":\"-7\","
	"\"number\":\"-7.5e1\",\"status\":\"Closed\",\"type\":\"\","
	"\"contactsIds\":[],\"createdAt\":\"1999-12-31 23:59:59\"}",
};

#define NRECS	(sizeof(contact_recs) / sizeof(contact_recs[0]))

static struct arena	*keep;		/* the sample records, for the run */
static struct arena	*a;		/* one input's, reset after it */
static struct conf	 conf;
static const struct entity *contact, *kase;
static struct json	*contacts[NRECS], *cases[NRECS];

static struct json *
sample(const char *text, const char *now)
{
	struct json	*j;
	struct buf	 b;
	const char	*p, *at, *why;

	buf_init(&b, keep);
	for (p = text; (at = strstr(p, "@NOW@")) != NULL; p = at + 5) {
		buf_add(&b, p, (size_t)(at - p));
		buf_adds(&b, now);
	}
	buf_adds(&b, p);
	if (json_parse(keep, b.p, b.len, &j, &why) != 0)
		abort();
	return j;
}

static void
setup(void)
{
	const char	*why;
	char		 now[20];
	size_t		 i;

	entity_register(resources);
	if (entity_init(NULL, &why) != 0)
		abort();
	if ((contact = entity_find("Contact")) == NULL ||
	    (kase = entity_find("Case")) == NULL)
		abort();
	if ((keep = arena_new()) == NULL || (a = arena_new()) == NULL)
		abort();
	conf.default_country_code = (char *)"1";
	conf.auth_fail_limit = 10;
	conf.auth_fail_window = 60;
	util_now(now);
	for (i = 0; i < NRECS; i++) {
		contacts[i] = sample(contact_recs[i], now);
		cases[i] = sample(case_recs[i], now);
	}
}

static int
is_list_type(const char *t)
{
	return t != NULL && (strcmp(t, "in") == 0 || strcmp(t, "notIn") == 0 ||
	    strcmp(t, "linkedWith") == 0 || strcmp(t, "notLinkedWith") == 0);
}

/*
 * A copy of v where the value list of every in / notIn / linkedWith /
 * notLinkedWith item is reversed and then repeated once more in order.
 */
static struct json *
doubled(const struct json *v)
{
	struct json	*c, *list, *d;
	size_t		 i;

	c = json_copy(a, v);
	if (c->type == JSON_OBJECT && is_list_type(json_gets(c, "type")) &&
	    (list = json_as_list(a, json_get(c, "value"))) != NULL) {
		d = json_arr(a);
		for (i = list->n; i > 0; i--)
			json_push(a, d, list->v[i - 1]);
		for (i = 0; i < list->n; i++)
			json_push(a, d, list->v[i]);
		json_set(a, c, "value", d);
		return c;
	}
	for (i = 0; i < c->n; i++)
		c->v[i] = doubled(c->v[i]);
	return c;
}

/* Every list node's values are in order, without repeats. */
static void
check_sorted(const struct wnode *n)
{
	size_t	 i;
	double	 x, y;
	int	 c;

	if (n == NULL)
		return;
	for (i = 0; i < n->nkids; i++)
		check_sorted(n->kids[i]);
	if (!n->sorted)
		return;
	/* 1,000 values at most; a phone's give two texts each. */
	if (n->nvals > 2000)
		abort();
	for (i = 1; i < n->nvals; i++) {
		if (n->f != NULL && (n->f->type == FT_INT ||
		    n->f->type == FT_FLOAT)) {
			x = strtod(n->vals[i - 1], NULL);
			y = strtod(n->vals[i], NULL);
			c = x != x ? (y != y ? 0 : -1) : y != y ? 1 :
			    x < y ? -1 : x > y;
		} else
			c = strcmp(n->vals[i - 1], n->vals[i]);
		if (c >= 0)
			abort();
	}
}

/* 1 if the tree needs a transaction to be evaluated. */
static int
needs_txn(const struct wnode *n)
{
	size_t	 i;

	if (n == NULL)
		return 0;
	if ((n->type == W_LINKED_WITH || n->type == W_NOT_LINKED_WITH) &&
	    n->f == NULL && n->link != NULL && n->link->kind == LINK_FOREIGN)
		return 1;
	for (i = 0; i < n->nkids; i++)
		if (needs_txn(n->kids[i]))
			return 1;
	return 0;
}

static int
one(struct json *params, const struct entity *e, struct json *const *recs,
    int *match)
{
	struct ectx	 c;
	struct wnode	*w = NULL;
	const char	*tf;
	size_t		 i;
	int		 rc, m;

	entity_ctx(&c, a, &conf, NULL);
	rc = where_build(&c, e, json_get(params, "where"), &w);
	if (rc != 0) {
		if (rc != FCRM_BAD_REQUEST || c.fault.code != FCRM_BAD_REQUEST ||
		    c.fault.reason == NULL || w != NULL)
			abort();
		return -1;
	}
	check_sorted(w);
	if ((tf = json_gets(params, "textFilter")) == NULL || *tf == '\0')
		tf = json_gets(params, "q");
	if (tf != NULL && *tf != '\0')
		w = where_and(&c, w, where_text_filter(&c, e, tf));
	if (needs_txn(w))
		return 0;
	for (i = 0; i < NRECS; i++) {
		m = where_eval(&c, NULL, e, w, recs[i]);
		if (m != 0 && m != 1)
			abort();
		match[i] = m;
	}
	return 1;
}

/* one() on params, then on its doubled lists: the same results. */
static void
both(struct json *params, const struct entity *e, struct json *const *recs)
{
	struct json	*p2;
	int		 m1[NRECS], m2[NRECS], r1, r2;
	size_t		 i;

	r1 = one(params, e, recs, m1);
	if (r1 < 0 || (p2 = json_copy(a, params)) == NULL)
		return;
	if (json_get(p2, "where") != NULL)
		json_set(a, p2, "where", doubled(json_get(p2, "where")));
	r2 = one(p2, e, recs, m2);
	/* Twice the values may pass the cap; anything else builds alike. */
	if (r2 < 0)
		return;
	if (r1 != r2)
		abort();
	for (i = 0; r1 == 1 && i < NRECS; i++)
		if (m1[i] != m2[i])
			abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct json	*params = NULL;
	const char	*why = NULL;
	int		 rc;

	if (keep == NULL)
		setup();
	if (size > 0 && data[0] == '{') {
		rc = json_parse_body(a, (const char *)data, size, &params,
		    &why);
		if (rc != FCRM_OK || params->type != JSON_OBJECT)
			goto out;
	} else {
		rc = http_query_parse(a, (const char *)data, size, &params,
		    &why);
		if (rc != FCRM_OK)
			goto out;
	}
	both(params, contact, contacts);
	both(params, kase, cases);
out:
	arena_reset(a);
	return 0;
}
