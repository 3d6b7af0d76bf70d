/*
 * Authentication's HTTP side: what auth reads of a request (struct
 * auth_in, from its FastCGI parameters), the principal it found set on
 * the request (r->who), and a refusal rendered as today's answer: the
 * fault's status and X-Status-Reason, plus WWW-Authenticate when a
 * browser sent no credentials.  The schemes themselves are app/auth/'s.
 */
#include <string.h>

#include "fastcrm/auth.h"
#include "fastcrm/entity.h"
#include "fastcrm/http.h"
#include "fastcrm/route.h"

void
http_auth_in(const struct req *r, struct auth_in *in)
{
	memset(in, 0, sizeof(*in));
	in->method = r->method;
	in->path = r->path;
	in->remote = r->remote;
	if ((in->espo = http_param(r, HP_ESPO_AUTHORIZATION)) != NULL)
		in->espo_by_token = http_param(r, HP_ESPO_AUTHORIZATION_BY_TOKEN);
	in->api_key = http_param(r, HP_X_API_KEY);
	in->hmac = http_param(r, HP_X_HMAC_AUTHORIZATION);
	in->authorization = http_param(r, HP_AUTHORIZATION);
	in->cookie = http_param(r, HP_COOKIE);
	in->csrf = http_param(r, HP_X_CSRF_TOKEN);
	in->requested_with = http_param(r, HP_X_REQUESTED_WITH);
}

int
http_authenticate(struct req *r)
{
	struct auth_in	 in;
	struct auth_out	 out;
	struct ectx	 c;
	int		 rc;

	if (r->route != NULL && r->route->action == ACT_PUBLIC)
		return 0;
	http_auth_in(r, &in);
	http_ectx(r, &c);
	if ((rc = auth_authenticate(&c, &in, &out)) != 0) {
		if (out.challenge)
			http_add_header(r, "WWW-Authenticate",
			    "Basic realm=\"fastcrm\"");
		return http_fault(r, &c, rc);
	}
	r->who = out.who;
	return 0;
}
