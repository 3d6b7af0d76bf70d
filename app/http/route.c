/*
 * The route table and the one path every request takes through it:
 * match → authenticate → authorize (role × entity × action) → handler.
 */
#include <stdio.h>
#include <string.h>

#include "fastcrm/entity.h"
#include "fastcrm/error.h"
#include "fastcrm/query.h"
#include "fastcrm/route.h"

#define MAX_SEGS	8

static const struct route routes[] = {
	{ "GET",	"/",				ACT_PUBLIC,	ui_h_page, NULL, ROUTE_LOGIN },
	{ "GET",	"/oauth2/authorize",		ACT_PUBLIC,	oauth2_h_authorize, NULL, ROUTE_LOGIN },
	{ "POST",	"/oauth2/authorize",		ACT_PUBLIC,	oauth2_h_authorize, NULL, ROUTE_LOGIN },
	{ "POST",	"/oauth2/token",		ACT_PUBLIC,	oauth2_h_token, NULL, ROUTE_LOGIN },
	{ "GET",	"/api/v1/App/user",		ACT_NONE,	appuser_h_user, NULL, 0 },
	{ "POST",	"/api/v1/App/session",		ACT_PUBLIC,	session_h_create, NULL, ROUTE_LOGIN },
	{ "DELETE",	"/api/v1/App/session",		ACT_PUBLIC,	session_h_delete, NULL, ROUTE_LOGIN },
	{ "POST",	"/api/v1/App/destroyAuthToken",	ACT_NONE,	appuser_h_destroy_token, NULL, 0 },
	{ "POST",	"/api/v1/Call/:id/recording",	ACT_EDIT,	attachment_h_recording, "Call", ROUTE_STREAM | ROUTE_UPLOAD },
	{ "GET",	"/api/v1/Attachment",		ACT_READ,	entity_h_list, "Attachment", 0 },
	{ "POST",	"/api/v1/Attachment",		ACT_CREATE,	attachment_h_create, "Attachment", ROUTE_UPLOAD },
	{ "GET",	"/api/v1/Attachment/file/:id",	ACT_READ,	attachment_h_file, "Attachment", 0 },
	{ "GET",	"/api/v1/:entity",		ACT_READ,	entity_h_list, NULL, 0 },
	{ "POST",	"/api/v1/:entity",		ACT_CREATE,	entity_h_create, NULL, 0 },
	{ "PUT",	"/api/v1/:entity",		ACT_NONE,	entity_h_collection_put, NULL, 0 },
	{ "PATCH",	"/api/v1/:entity",		ACT_NONE,	entity_h_collection_put, NULL, 0 },
	{ "GET",	"/api/v1/:entity/:id",		ACT_READ,	entity_h_read, NULL, 0 },
	{ "PUT",	"/api/v1/:entity/:id",		ACT_EDIT,	entity_h_update, NULL, 0 },
	{ "PATCH",	"/api/v1/:entity/:id",		ACT_EDIT,	entity_h_update, NULL, 0 },
	{ "DELETE",	"/api/v1/:entity/:id",		ACT_DELETE,	entity_h_delete, NULL, 0 },
	{ "GET",	"/api/v1/:entity/:id/stream",	ACT_READ,	entity_h_stream, NULL, 0 },
	{ "GET",	"/api/v1/:entity/:id/:link",	ACT_READ,	entity_h_related, NULL, 0 },
	{ "POST",	"/api/v1/:entity/:id/:link",	ACT_EDIT,	entity_h_link, NULL, 0 },
	{ "DELETE",	"/api/v1/:entity/:id/:link",	ACT_EDIT,	entity_h_unlink, NULL, 0 },
	/* Last: the API's rows are matched first, at no extra cost. */
	{ "GET",	"/healthz",			ACT_PUBLIC,	ops_h_healthz, NULL, 0 },
	{ "HEAD",	"/healthz",			ACT_PUBLIC,	ops_h_healthz, NULL, 0 },
	{ "GET",	"/metrics",			ACT_PUBLIC,	ops_h_metrics, NULL, 0 },
};
#define NROUTES	(sizeof(routes) / sizeof(routes[0]))

struct match {
	const char	*entity;
	const char	*id;
	const char	*link;
};

/* A pattern's segments, split once per process. */
enum seg_kind { SEG_LITERAL, SEG_ENTITY, SEG_ID, SEG_LINK };
struct pattern {
	struct {
		enum seg_kind	 kind;
		const char	*p;
		size_t		 len;
	}		 seg[MAX_SEGS];
	size_t		 n;
};
static struct pattern	 patterns[NROUTES];
/* Per route: the first route of its pattern, and that pattern's methods
   ("GET, POST"), for the Allow header. */
static size_t		 shape_of[NROUTES];
static char		 allowed[NROUTES][64];
static int		 compiled;

/* Which routes share a pattern, and their methods: once per process. */
static void
compile_shapes(void)
{
	size_t	 i, j, len;

	for (i = 0; i < NROUTES; i++) {
		for (j = 0; j < i; j++)
			if (strcmp(routes[j].pattern, routes[i].pattern) == 0)
				break;
		shape_of[i] = j;
		len = strlen(allowed[j]);
		snprintf(allowed[j] + len, sizeof(allowed[j]) - len, "%s%s",
		    len > 0 ? ", " : "", routes[i].method);
	}
}

static void
compile(void)
{
	struct pattern	*pt;
	const char	*s, *e;
	size_t		 i, len;

	for (i = 0; i < NROUTES; i++) {
		pt = &patterns[i];
		for (s = routes[i].pattern; *s != '\0'; s = e) {
			while (*s == '/')
				s++;
			if (*s == '\0')
				break;
			e = s + strcspn(s, "/");
			len = (size_t)(e - s);
			pt->seg[pt->n].p = s;
			pt->seg[pt->n].len = len;
			if (len == 7 && strncmp(s, ":entity", 7) == 0)
				pt->seg[pt->n].kind = SEG_ENTITY;
			else if (len == 3 && strncmp(s, ":id", 3) == 0)
				pt->seg[pt->n].kind = SEG_ID;
			else if (len == 5 && strncmp(s, ":link", 5) == 0)
				pt->seg[pt->n].kind = SEG_LINK;
			else
				pt->seg[pt->n].kind = SEG_LITERAL;
			pt->n++;
		}
	}
	compile_shapes();
	compiled = 1;
}

/* Does route i fit the decoded segments (of lengths lens)?  Fills m with
   the captures. */
static int
match(size_t i, char **segs, const size_t *lens, size_t n, struct match *m)
{
	const struct pattern	*pt = &patterns[i];
	size_t			 k;

	if (pt->n != n)
		return 0;
	memset(m, 0, sizeof(*m));
	for (k = 0; k < n; k++) {
		switch (pt->seg[k].kind) {
		case SEG_ENTITY:
			m->entity = segs[k];
			break;
		case SEG_ID:
			m->id = segs[k];
			break;
		case SEG_LINK:
			m->link = segs[k];
			break;
		default:
			if (lens[k] != pt->seg[k].len ||
			    segs[k][0] != pt->seg[k].p[0] ||
			    memcmp(segs[k], pt->seg[k].p, lens[k]) != 0)
				return 0;
		}
	}
	return 1;
}

void
route_dispatch(struct req *r)
{
	const struct route	*rt = NULL, *shape = NULL;
	const struct entity	*fe;
	struct match		 found;
	struct ectx		 c;
	char			*segs[MAX_SEGS];
	const char		*why;
	size_t			 lens[MAX_SEGS], i, n, si = 0;
	int			 rc, own;

	if (!compiled)
		compile();
	/* The raw path, split before decoding: what the client's bytes
	   name is what is routed. */
	if ((rc = http_path_split(r->arena, r->path, strlen(r->path), segs,
	    MAX_SEGS, &n, &why)) != 0) {
		http_fail(r, rc, "%s", why);
		return;
	}
	for (i = 0; i < n; i++)
		lens[i] = strlen(segs[i]);
	/* The first pattern that fits names the resource; methods follow.
	   A route whose pattern an earlier one has was tried with it. */
	for (i = 0; i < NROUTES && shape == NULL; i++)
		if (shape_of[i] == i && match(i, segs, lens, n, &found)) {
			shape = &routes[i];
			si = i;
		}
	if (shape == NULL) {
		http_fail(r, FCRM_NOT_FOUND, "No route for %.200s.", r->path);
		return;
	}
	for (i = si; i < NROUTES && rt == NULL; i++)
		if (shape_of[i] == si && strcmp(routes[i].method,
		    r->method) == 0)
			rt = &routes[i];
	if (shape->entity != NULL)
		found.entity = shape->entity;
	if (found.entity != NULL &&
	    (r->ent = entity_find(found.entity)) == NULL) {
		http_fail(r, FCRM_NOT_FOUND, "Controller '%.64s' does not "
		    "exist.", found.entity);
		return;
	}
	if (rt == NULL) {
		http_add_header(r, "Allow", allowed[si]);
		http_fail(r, FCRM_NO_METHOD, "Method %.16s is not allowed on "
		    "%.200s; allowed: %s.", r->method, r->path, allowed[si]);
		return;
	}
	r->route = rt;
	r->id = found.id;
	if (found.link != NULL && shape->entity == NULL &&
	    (r->link = entity_link(r->ent, found.link)) == NULL) {
		http_fail(r, FCRM_NOT_FOUND, "Link '%.64s' does not exist on "
		    "%s.", found.link, r->ent->name);
		return;
	}
	if (http_authenticate(r) != 0)
		return;
	/* The route's check; each record is checked again as it is reached
	   (entity_load), with `own` scope. */
	http_ectx(r, &c);
	if (r->ent != NULL &&
	    (rc = entity_authorize(&c, r->ent, rt->action, &own)) != 0) {
		http_fault(r, &c, rc);
		return;
	}
	if (r->link != NULL) {
		if ((fe = entity_find(r->link->foreign)) == NULL) {
			http_fail(r, FCRM_NOT_FOUND, "Link '%.64s' does not "
			    "exist on %s.", r->link->name, r->ent->name);
			return;
		}
		if ((rc = entity_authorize(&c, fe, ACT_READ, &own)) != 0) {
			http_fault(r, &c, rc);
			return;
		}
	}
	/* The request's memory ceiling follows from its body limit. */
	arena_set_limit(r->arena, http_memory_limit(r));
	if (!(rt->flags & ROUTE_STREAM) && http_read_body(r) != 0)
		return;
	/* A handler that failed without saying why still answers an error,
	   never an empty 200. */
	if ((rc = rt->handler(r)) != 0 && r->status == 0)
		http_fail(r, rc, "%s", error_reason(rc));
}
