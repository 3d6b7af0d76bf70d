/*
 * The OAuth2 endpoints (RFC 6749, for Ringotel's "web server flow"):
 * GET and POST /oauth2/authorize (the sign-in page, the redirect with the
 * code or the error) and POST /oauth2/token (the grants, RFC 6749's JSON
 * error answers).  Clients, codes and tokens are auth's
 * (app/auth/oauth2.c); this file reads the request and writes the HTML,
 * the redirects and the JSON.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "fastcrm/auth.h"
#include "fastcrm/conf.h"
#include "fastcrm/entity.h"
#include "fastcrm/error.h"
#include "fastcrm/http.h"
#include "fastcrm/query.h"
#include "fastcrm/route.h"

/* HTML-escaped copy. */
static char *
esc(struct arena *a, const char *s)
{
	struct buf	 b;

	buf_init(&b, a);
	for (; s != NULL && *s != '\0'; s++) {
		switch (*s) {
		case '<':
			buf_adds(&b, "&lt;");
			break;
		case '>':
			buf_adds(&b, "&gt;");
			break;
		case '&':
			buf_adds(&b, "&amp;");
			break;
		case '"':
			buf_adds(&b, "&quot;");
			break;
		case '\'':
			buf_adds(&b, "&#39;");
			break;
		default:
			buf_addc(&b, *s);
		}
	}
	return b.p;
}

/* Percent-encoded copy for a query string. */
static char *
qenc(struct arena *a, const char *s)
{
	struct buf	 b;

	buf_init(&b, a);
	for (; *s != '\0'; s++) {
		if ((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		    (*s >= '0' && *s <= '9') || strchr("-_.~", *s) != NULL)
			buf_addc(&b, *s);
		else
			buf_printf(&b, "%%%02X", (unsigned char)*s);
	}
	return b.p;
}

static void
page(struct req *r, int status, const char *title, const char *msg,
    const struct json *p, int form)
{
	static const char *const keep[] = {
		"response_type", "client_id", "redirect_uri", "state", "scope",
		NULL
	};
	struct buf	*b = &r->out;
	const char	*v;
	size_t		 i;

	r->status = status;
	if (status >= 300)
		r->reason = msg != NULL ? msg : title;
	r->error_body = 1;
	r->out_type = "text/html; charset=utf-8";
	http_add_header(r, "Cache-Control", "no-store");
	http_add_header(r, "Content-Security-Policy", "frame-ancestors 'none'");
	b->len = 0;
	buf_printf(b, "<!doctype html><html><head><meta charset=\"utf-8\">"
	    "<meta name=\"viewport\" content=\"width=device-width\">"
	    "<title>fastcrm — %s</title><style>body{font:15px sans-serif;"
	    "max-width:22em;margin:3em auto}input{display:block;width:100%%;"
	    "margin:.3em 0 1em;padding:.4em}.err{color:#a00}</style></head>"
	    "<body><h1>%s</h1>", esc(r->arena, title), esc(r->arena, title));
	if (msg != NULL)
		buf_printf(b, "<p class=\"err\">%s</p>", esc(r->arena, msg));
	if (form) {
		buf_adds(b, "<form method=\"post\" action=\"/oauth2/authorize\">");
		for (i = 0; keep[i] != NULL; i++)
			if ((v = json_gets(p, keep[i])) != NULL)
				buf_printf(b, "<input type=\"hidden\" name=\"%s\" "
				    "value=\"%s\">", keep[i], esc(r->arena, v));
		buf_printf(b, "<p>%s asks to use fastcrm as you.</p>"
		    "<label>User name<input name=\"userName\" "
		    "autocomplete=\"username\" required></label>"
		    "<label>Password<input name=\"password\" type=\"password\" "
		    "autocomplete=\"current-password\" required></label>"
		    "<button type=\"submit\">Sign in and allow</button></form>",
		    esc(r->arena, json_gets(p, "client_id")));
	}
	buf_adds(b, "</body></html>");
}

int
oauth2_h_authorize(struct req *r)
{
	const struct conf_client *cl;
	struct store_txn	**t;
	struct json		 *p = r->params;
	struct auth_login	  who;
	const char		 *rt, *uri, *state, *user, *pass, *code;
	int			  rc;
	struct ectx		 c;

	http_ectx(r, &c);
	if (strcmp(r->method, "POST") == 0 &&
	    (rc = http_body_object(r, &p)) != 0) {
		page(r, 400, "Bad request", r->reason, NULL, 0);
		return rc;
	}
	cl = oauth2_client(r->conf, json_gets(p, "client_id"));
	uri = json_gets(p, "redirect_uri");
	if (cl == NULL || !oauth2_redirect_ok(cl, uri)) {
		page(r, 400, "Invalid client or redirect URI", "The application "
		    "is not registered with this redirect URI; nothing was "
		    "sent back to it.", p, 0);
		return FCRM_BAD_REQUEST;
	}
	state = json_gets(p, "state");
	rt = json_gets(p, "response_type");
	if (rt == NULL || strcmp(rt, "code") != 0) {
		r->status = 302;
		r->error_body = 1;
		http_add_header(r, "Location", arena_printf(r->arena,
		    "%s%serror=unsupported_response_type%s%s", uri,
		    strchr(uri, '?') != NULL ? "&" : "?",
		    state != NULL ? "&state=" : "",
		    state != NULL ? qenc(r->arena, state) : ""));
		return 0;
	}
	if (strcmp(r->method, "GET") == 0) {
		page(r, 200, "Sign in", NULL, p, 1);
		return 0;
	}
	user = json_gets(p, "userName");
	pass = json_gets(p, "password");
	rc = user == NULL || pass == NULL ? FCRM_UNAUTHORIZED :
	    auth_login(&c, r->remote, user, pass, &who);
	if (rc != 0) {
		/* The limiter's 403 says why; any other refusal is one. */
		page(r, 200, "Sign in", error_status(rc) == 403 ?
		    entity_reason(&c, rc) : "Wrong user name or password.", p,
		    1);
		r->reason = NULL;
		return 0;
	}
	if ((rc = entity_begin(&c, 1, &t)) != 0)
		return http_fault(r, &c, rc);
	code = oauth2_code_issue(&c, *t, cl, &who, uri);
	if (code == NULL || entity_commit(&c, t) != 0) {
		page(r, 500, "Server error", "Cannot store the code.", p, 0);
		return FCRM_STORE;
	}
	r->status = 302;
	r->error_body = 1;
	http_add_header(r, "Location", arena_printf(r->arena, "%s%scode=%s%s%s",
	    uri, strchr(uri, '?') != NULL ? "&" : "?", code,
	    state != NULL ? "&state=" : "",
	    state != NULL ? qenc(r->arena, state) : ""));
	return 0;
}

/* RFC 6749 section 5.2 error answer. */
static int
token_error(struct req *r, int status, const char *error, const char *desc)
{
	struct json	*o;

	o = json_obj(r->arena);
	json_set(r->arena, o, "error", json_str(r->arena, error));
	json_set(r->arena, o, "error_description", json_str(r->arena, desc));
	r->out.len = 0;
	json_write(&r->out, o);
	r->error_body = 1;
	r->status = status;
	r->reason = arena_printf(r->arena, "%s: %s", error, desc);
	http_add_header(r, "Cache-Control", "no-store");
	return status == 401 ? FCRM_UNAUTHORIZED : FCRM_BAD_REQUEST;
}

int
oauth2_h_token(struct req *r)
{
	struct oauth2_grant	 g;
	struct oauth2_tokens	 tk;
	struct json		*body, *o;
	const char		*h, *why;
	int			 rc;
	struct ectx		 c;

	http_ectx(r, &c);
	if ((rc = http_body_object(r, &body)) != 0)
		return token_error(r, 400, "invalid_request", r->reason);
	if (auth_limited(&c, r->remote) != 0)
		return token_error(r, 403, "invalid_client", "Too many failed "
		    "logins from this address; try again later.");
	memset(&g, 0, sizeof(g));
	g.client_id = json_gets(body, "client_id");
	g.client_secret = json_gets(body, "client_secret");
	if ((h = http_param(r, HP_AUTHORIZATION)) != NULL &&
	    strncasecmp(h, "Basic ", 6) == 0) {
		char	*dec, *colon;
		size_t	 n;

		g.basic = 1;
		dec = auth_base64_decode(r->arena, h + 6, &n);
		if (dec == NULL || (colon = strchr(dec, ':')) == NULL) {
			/* Counted and logged like any other failure. */
			why = "Bad Basic client credentials.";
			auth_fail_count(&c, r->remote, why);
			return token_error(r, 401, "invalid_client", why);
		}
		*colon = '\0';
		g.client_id = http_urldecode(r->arena, dec, strlen(dec), 1,
		    NULL);
		g.client_secret = http_urldecode(r->arena, colon + 1,
		    strlen(colon + 1), 1, NULL);
	}
	g.grant_type = json_gets(body, "grant_type");
	g.code = json_gets(body, "code");
	g.redirect_uri = json_gets(body, "redirect_uri");
	g.refresh_token = json_gets(body, "refresh_token");
	if ((rc = oauth2_token(&c, r->remote, &g, &tk)) != 0) {
		if (tk.error == NULL)
			return http_fault(r, &c, rc);
		if (tk.challenge)
			http_add_header(r, "WWW-Authenticate",
			    "Basic realm=\"fastcrm\"");
		return token_error(r, rc == FCRM_UNAUTHORIZED ? 401 : 400,
		    tk.error, entity_reason(&c, rc));
	}
	o = json_obj(r->arena);
	json_set(r->arena, o, "access_token", json_str(r->arena, tk.access));
	json_set(r->arena, o, "token_type", json_str(r->arena, "Bearer"));
	json_set(r->arena, o, "expires_in", json_int(r->arena,
	    OAUTH2_ACCESS_TTL));
	json_set(r->arena, o, "refresh_token", json_str(r->arena, tk.refresh));
	http_add_header(r, "Cache-Control", "no-store");
	http_add_header(r, "Pragma", "no-cache");
	json_write(&r->out, o);
	return 0;
}
