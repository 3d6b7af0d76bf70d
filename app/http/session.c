/*
 * POST and DELETE /api/v1/App/session: the agent's sign-in for the page
 * at `/` (JSON only) and sign-out.  The session itself is auth's
 * (app/auth/session.c: auth_session_open, auth_session_close); here its
 * cookie is set and cleared and the answer written.
 */
#include <string.h>
#include <strings.h>

#include "fastcrm/auth.h"
#include "fastcrm/entity.h"
#include "fastcrm/error.h"
#include "fastcrm/http.h"
#include "fastcrm/route.h"

/* Is the Content-Type application/json (parameters aside)? */
static int
is_json(const char *ctype)
{
	static const char	 mt[] = "application/json";
	const char		*p = ctype + sizeof(mt) - 1;

	if (strncasecmp(ctype, mt, sizeof(mt) - 1) != 0)
		return 0;
	while (*p == ' ' || *p == '\t')
		p++;
	return *p == '\0' || *p == ';';
}

int
session_h_create(struct req *r)
{
	struct arena		*a = r->arena;
	struct auth_session	 s;
	struct json		*body, *out, *u;
	const char		*name, *pass;
	int			 rc;
	struct ectx		 c;

	http_ectx(r, &c);
	/* JSON only: a page of another site can post a form or text/plain
	   without asking, but not application/json. */
	if (!is_json(r->ctype))
		return http_fail(r, FCRM_MEDIA_TYPE, "Sign-in takes only "
		    "application/json (content type '%.64s').", r->ctype);
	if ((rc = http_body_object(r, &body)) != 0)
		return rc;
	name = json_gets(body, "userName");
	pass = json_gets(body, "password");
	if (name == NULL || pass == NULL || *name == '\0')
		return http_fail(r, FCRM_BAD_REQUEST, "Sign-in needs userName "
		    "and password.");
	if ((rc = auth_session_open(&c, r->remote, name, pass, &s)) != 0)
		return http_fault(r, &c, rc);
	http_add_header(r, "Set-Cookie", arena_printf(a, "%s=%s; Path=/; "
	    "HttpOnly; Secure; SameSite=None; Partitioned; Max-Age=%d",
	    AUTH_COOKIE, s.token, AUTH_SESSION_TTL));
	out = json_obj(a);
	u = json_obj(a);
	json_set(a, u, "id", json_str(a, s.who.id));
	json_set(a, u, "userName", json_str(a, s.who.user_name != NULL ?
	    s.who.user_name : name));
	json_set(a, u, "name", json_str(a, s.who.name));
	json_set(a, u, "type", json_str(a, s.who.type));
	json_set(a, out, "user", u);
	json_set(a, out, "csrfToken", json_str(a, s.csrf));
	json_write(&r->out, out);
	return 0;
}

int
session_h_delete(struct req *r)
{
	struct auth_in	 in;
	struct ectx	 c;
	int		 rc;

	http_ectx(r, &c);
	http_auth_in(r, &in);
	if ((rc = auth_session_close(&c, &in)) != 0)
		return http_fault(r, &c, rc);
	http_add_header(r, "Set-Cookie", AUTH_COOKIE "=; Path=/; HttpOnly; "
	    "Secure; SameSite=None; Partitioned; Max-Age=0");
	buf_adds(&r->out, "true");
	return 0;
}
