/*
 * The route table and the one path every request takes through it:
 * match → authenticate → authorize (role × entity × action) → handler.
 */
#include <stdio.h>
#include <string.h>

#include "fastcrm/auth.h"
#include "fastcrm/entity.h"
#include "fastcrm/error.h"
#include "fastcrm/route.h"

#define MAX_SEGS	8

static const struct route routes[] = {
	{ "GET",	"/",				ACT_PUBLIC,	ui_h_page, NULL, ROUTE_LOGIN },
	{ "GET",	"/oauth2/authorize",		ACT_PUBLIC,	oauth2_h_authorize, NULL, ROUTE_LOGIN },
	{ "POST",	"/oauth2/authorize",		ACT_PUBLIC,	oauth2_h_authorize, NULL, ROUTE_LOGIN },
	{ "POST",	"/oauth2/token",		ACT_PUBLIC,	oauth2_h_token, NULL, ROUTE_LOGIN },
	{ "GET",	"/api/v1/App/user",		ACT_NONE,	auth_h_app_user, NULL, 0 },
	{ "POST",	"/api/v1/App/session",		ACT_PUBLIC,	auth_h_session_create, NULL, ROUTE_LOGIN },
	{ "DELETE",	"/api/v1/App/session",		ACT_PUBLIC,	auth_h_session_delete, NULL, ROUTE_LOGIN },
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
};
#define NROUTES	(sizeof(routes) / sizeof(routes[0]))

struct match {
	const char	*entity;
	const char	*id;
	const char	*link;
};

/* Splits path on '/' into the arena; returns the count or -1. */
static int
split(struct req *r, const char *path, char **segs)
{
	char	*p, *s, *save;
	int	 n = 0;

	p = arena_strdup(r->arena, path);
	for (s = strtok_r(p, "/", &save); s != NULL;
	    s = strtok_r(NULL, "/", &save)) {
		if (n == MAX_SEGS)
			return -1;
		segs[n++] = s;
	}
	return n;
}

static int
match(const struct route *rt, char **segs, int n, struct req *r,
    struct match *m)
{
	char	*psegs[MAX_SEGS];
	int	 i, np;

	if ((np = split(r, rt->pattern, psegs)) != n)
		return 0;
	memset(m, 0, sizeof(*m));
	for (i = 0; i < n; i++) {
		if (strcmp(psegs[i], ":entity") == 0)
			m->entity = segs[i];
		else if (strcmp(psegs[i], ":id") == 0)
			m->id = segs[i];
		else if (strcmp(psegs[i], ":link") == 0)
			m->link = segs[i];
		else if (strcmp(psegs[i], segs[i]) != 0)
			return 0;
	}
	return 1;
}

void
route_dispatch(struct req *r)
{
	const struct route	*rt = NULL, *shape = NULL;
	const struct entity	*fe;
	struct match		 found;
	struct buf		 allow;
	char			*segs[MAX_SEGS];
	size_t			 i;
	int			 n, rc;

	if ((n = split(r, r->path, segs)) < 0) {
		http_fail(r, FCRM_NOT_FOUND, "No route for this path.");
		return;
	}
	/* The first pattern that fits names the resource; methods follow. */
	for (i = 0; i < NROUTES && shape == NULL; i++)
		if (match(&routes[i], segs, n, r, &found))
			shape = &routes[i];
	if (shape == NULL) {
		http_fail(r, FCRM_NOT_FOUND, "No route for %.200s.", r->path);
		return;
	}
	buf_init(&allow, r->arena);
	for (i = 0; i < NROUTES; i++) {
		if (strcmp(routes[i].pattern, shape->pattern) != 0)
			continue;
		if (allow.len > 0)
			buf_adds(&allow, ", ");
		buf_adds(&allow, routes[i].method);
		if (rt == NULL && strcmp(routes[i].method, r->method) == 0)
			rt = &routes[i];
	}
	if (shape->entity != NULL)
		found.entity = shape->entity;
	if (found.entity != NULL &&
	    (r->ent = entity_find(found.entity)) == NULL) {
		http_fail(r, FCRM_NOT_FOUND, "Controller '%.64s' does not "
		    "exist.", found.entity);
		return;
	}
	if (rt == NULL) {
		http_add_header(r, "Allow", allow.p);
		http_fail(r, FCRM_NO_METHOD, "Method %.16s is not allowed on "
		    "%.200s; allowed: %s.", r->method, r->path, allow.p);
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
	if (auth_authenticate(r) != 0)
		return;
	if (r->ent != NULL &&
	    auth_authorize(r, r->ent, rt->action, &r->own_only) != 0)
		return;
	if (r->link != NULL) {
		fe = entity_find(r->link->foreign);
		if (fe == NULL ||
		    auth_authorize(r, fe, ACT_READ, &r->foreign_own) != 0)
			return;
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
