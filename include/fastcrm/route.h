/*
 * The route table: method, path pattern, the action the role check needs,
 * and the handler.  Patterns are segments; ":entity", ":id" and ":link"
 * capture.  Authentication, the role check and error rendering happen
 * once, in route_dispatch, never in a handler.
 */
#ifndef FASTCRM_ROUTE_H
#define FASTCRM_ROUTE_H

#include "fastcrm/http.h"

typedef int	(*route_fn)(struct req *);

#define ROUTE_STREAM	0x01	/* the handler reads the body itself */
/*
 * The body limit (http_body_limit): max_body for ROUTE_UPLOAD,
 * max_login_body for ROUTE_LOGIN, max_json_body for every other route.
 * nginx/fastcrm.conf.in sets the same limits per location.
 */
#define ROUTE_UPLOAD	0x02
#define ROUTE_LOGIN	0x04

struct route {
	const char	*method;
	const char	*pattern;
	enum action	 action;
	route_fn	 handler;
	const char	*entity;	/* for patterns without :entity */
	unsigned int	 flags;
};

/* Matches, authenticates, authorizes and runs the handler for r. */
void		 route_dispatch(struct req *);

/*
 * Authentication's HTTP side (app/http/authn.c): http_auth_in fills in
 * with what auth reads of r (credential headers, method, path, address);
 * http_authenticate runs auth_authenticate on it and sets r->who (nothing
 * to do on an ACT_PUBLIC route): 0, or the refusal set on r (status,
 * reason, WWW-Authenticate when a browser sent no credentials).
 */
struct auth_in;
void		 http_auth_in(const struct req *, struct auth_in *);
int		 http_authenticate(struct req *);

/* Handlers of the record routes (app/http/records.c). */
int		 entity_h_list(struct req *);
int		 entity_h_read(struct req *);
int		 entity_h_create(struct req *);
int		 entity_h_update(struct req *);
int		 entity_h_delete(struct req *);
int		 entity_h_related(struct req *);
int		 entity_h_link(struct req *);
int		 entity_h_unlink(struct req *);
int		 entity_h_stream(struct req *);
int		 entity_h_collection_put(struct req *);
/* Attachments and recordings (app/http/attachments.c). */
int		 attachment_h_recording(struct req *);
int		 attachment_h_create(struct req *);
int		 attachment_h_file(struct req *);
/* GET / : the agent's page (app/ui/ui.c). */
int		 ui_h_page(struct req *);
/* GET /healthz and GET /metrics (app/http/ops.c). */
int		 ops_h_healthz(struct req *);
int		 ops_h_metrics(struct req *);
/* GET /App/user and POST /App/destroyAuthToken (app/http/appuser.c). */
int		 appuser_h_user(struct req *);
int		 appuser_h_destroy_token(struct req *);
/* POST and DELETE /App/session: agents' sign-in (app/http/session.c). */
int		 session_h_create(struct req *);
int		 session_h_delete(struct req *);
/* GET and POST /oauth2/authorize, POST /oauth2/token (app/http/oauth2.c). */
int		 oauth2_h_authorize(struct req *);
int		 oauth2_h_token(struct req *);

#endif
