/*
 * The request from FastCGI parameters, and the response back: headers,
 * errors (X-Status-Reason always), bodies.
 */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fastcrm/conf.h"
#include "fastcrm/error.h"
#include "fastcrm/http.h"
#include "fastcrm/query.h"
#include "fastcrm/route.h"
#include "fastcrm/util.h"

/* What a request may allocate beyond 4x its body limit, on ROUTE_LOGIN. */
#define LOGIN_MEMORY	((size_t)4 << 20)

/*
 * The FastCGI parameters fastcrm reads (nginx/fastcrm.conf.in passes
 * these and a few more), with their lengths: http_request_parse finds
 * them all in one pass over the environment; http_param then reads one
 * by index, and http_header a name among these few, instead of scanning
 * the environment again.
 */
static const struct {
	const char	*name;
	size_t		 len;
} known[HP_COUNT] = {
#define K(e, s)	[e] = { s, sizeof(s) - 1 }
	K(HP_REQUEST_METHOD, "REQUEST_METHOD"),
	K(HP_REQUEST_URI, "REQUEST_URI"),
	K(HP_QUERY_STRING, "QUERY_STRING"),
	K(HP_CONTENT_TYPE, "CONTENT_TYPE"),
	K(HP_CONTENT_LENGTH, "CONTENT_LENGTH"),
	K(HP_REMOTE_ADDR, "REMOTE_ADDR"),
	K(HP_X_API_KEY, "HTTP_X_API_KEY"),
	K(HP_ESPO_AUTHORIZATION, "HTTP_ESPO_AUTHORIZATION"),
	K(HP_ESPO_AUTHORIZATION_BY_TOKEN, "HTTP_ESPO_AUTHORIZATION_BY_TOKEN"),
	K(HP_X_HMAC_AUTHORIZATION, "HTTP_X_HMAC_AUTHORIZATION"),
	K(HP_AUTHORIZATION, "HTTP_AUTHORIZATION"),
	K(HP_COOKIE, "HTTP_COOKIE"),
	K(HP_X_CSRF_TOKEN, "HTTP_X_CSRF_TOKEN"),
	K(HP_X_REQUESTED_WITH, "HTTP_X_REQUESTED_WITH"),
	K(HP_X_NO_TOTAL, "HTTP_X_NO_TOTAL"),
	K(HP_X_SKIP_DUPLICATE_CHECK, "HTTP_X_SKIP_DUPLICATE_CHECK"),
#undef K
};
_Static_assert(HP_COUNT <=
    sizeof(((struct req *)0)->hv) / sizeof(((struct req *)0)->hv[0]),
    "struct req's hv has room for every known parameter");

/*
 * The known parameters by length, at most KNOWN_SAME of one length:
 * most of the parameters nginx passes have no known name of their
 * length, and the rest are compared with one to three names.
 */
#define KNOWN_LEN	40
#define KNOWN_SAME	4
static signed char	 by_len[KNOWN_LEN][KNOWN_SAME];
static int		 by_len_done;

static void
known_init(void)
{
	size_t	 i, j;

	if (by_len_done)
		return;
	by_len_done = 1;
	memset(by_len, -1, sizeof(by_len));
	for (i = 0; i < HP_COUNT; i++) {
		for (j = 0; j < KNOWN_SAME && known[i].len < KNOWN_LEN &&
		    by_len[known[i].len][j] != -1; j++)
			;
		/* A name added to known[] that does not fit (known_index
		   compares eight bytes at a time): fail loudly. */
		if (j == KNOWN_SAME || known[i].len >= KNOWN_LEN ||
		    known[i].len < 8)
			abort();
		by_len[known[i].len][j] = (signed char)i;
	}
}

/* Are n bytes (n >= 8) of a and b the same?  Eight at a time, inline:
   these names are 11 to 32 bytes, and most of them match. */
static int
same_words(const char *a, const char *b, size_t n)
{
	uint64_t	 x, y;
	size_t		 i;

	for (i = 0; i + 8 < n; i += 8) {
		memcpy(&x, a + i, 8);
		memcpy(&y, b + i, 8);
		if (x != y)
			return 0;
	}
	memcpy(&x, a + n - 8, 8);
	memcpy(&y, b + n - 8, 8);
	return x == y;
}

static int
known_index(const char *name, size_t n)
{
	const signed char	*c;
	const char		*k;
	size_t			 j;

	if (n >= KNOWN_LEN || n < 8)
		return -1;
	known_init();
	c = by_len[n];
	/* The last byte first: it tells most names of a length apart. */
	for (j = 0; j < KNOWN_SAME && c[j] >= 0; j++) {
		k = known[c[j]].name;
		if (k[n - 1] == name[n - 1] && same_words(k, name, n))
			return c[j];
	}
	return -1;
}

/* One pass over r->env: the first value of each known parameter. */
static void
header_index(struct req *r)
{
	char	**e;
	char	 *eq;
	int	   k;

	memset(r->hv, 0, sizeof(r->hv));
	for (e = r->env; e != NULL && *e != NULL; e++)
		if ((eq = strchr(*e, '=')) != NULL &&
		    (k = known_index(*e, (size_t)(eq - *e))) >= 0 &&
		    r->hv[k] == NULL)
			r->hv[k] = eq + 1;
	r->hv_done = 1;
}

const char *
http_param(const struct req *r, enum http_param k)
{

	if (r->hv_done)
		return r->hv[k];
	return http_header(r, known[k].name);
}

const char *
http_header(const struct req *r, const char *name)
{
	size_t	 n;
	char	**e;
	int	   k;

	if (r->env == NULL)
		return NULL;
	n = strlen(name);
	if (r->hv_done && (k = known_index(name, n)) >= 0)
		return r->hv[k];
	for (e = r->env; *e != NULL; e++)
		if (strncmp(*e, name, n) == 0 && (*e)[n] == '=')
			return *e + n + 1;
	return NULL;
}

void
http_add_header(struct req *r, const char *name, const char *value)
{
	buf_printf(&r->hdrs, "%s: %s\r\n", name, value);
}

int
http_fail(struct req *r, int code, const char *fmt, ...)
{
	va_list	 ap;
	char	*s, *p;

	va_start(ap, fmt);
	s = arena_vprintf(r->arena, fmt, ap);
	va_end(ap);
	/* One line, printable: it travels in a header. */
	for (p = s; *p != '\0'; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = ' ';
	/* A reason may echo input that is not UTF-8; the JSON body must be. */
	if (!util_utf8_valid(s, strlen(s)))
		for (p = s; *p != '\0'; p++)
			if ((unsigned char)*p >= 0x80)
				*p = '?';
	r->status = error_status(code);
	r->reason = s;
	return code;
}

int
http_request_parse(struct req *r)
{
	const char	*uri, *q, *why;
	size_t		 n;

	header_index(r);
	r->method = http_param(r, HP_REQUEST_METHOD);
	if (r->method == NULL)
		r->method = "GET";
	/*
	 * The request target as the client sent it (nginx's $request_uri):
	 * the path stays raw — routing splits it before decoding, and HMAC
	 * signs it as sent — and the query follows the first '?'.
	 */
	uri = http_param(r, HP_REQUEST_URI);
	if (uri == NULL)
		uri = "/";
	n = strcspn(uri, "?");
	r->path = arena_strndup(r->arena, uri, n);
	if ((q = http_param(r, HP_QUERY_STRING)) == NULL)
		q = uri[n] == '?' ? uri + n + 1 : "";
	r->query = q;
	r->ctype = http_param(r, HP_CONTENT_TYPE);
	if (r->ctype == NULL)
		r->ctype = "";
	r->remote = http_param(r, HP_REMOTE_ADDR);
	if (r->remote == NULL)
		r->remote = "-";
	if (http_query_parse(r->arena, r->query, strlen(r->query), &r->params,
	    &why) != 0)
		return http_fail(r, FCRM_BAD_REQUEST, "%s", why);
	return 0;
}

size_t
http_body_limit(const struct req *r, const char **name)
{
	const struct conf	*c = r->conf;
	unsigned int		 flags;
	size_t			 lim;

	flags = r->route != NULL ? r->route->flags : 0;
	if (flags & ROUTE_UPLOAD) {
		*name = "max_body";
		return c->max_body;
	}
	if (flags & ROUTE_LOGIN) {
		*name = "max_login_body";
		lim = c->max_login_body;
	} else {
		*name = "max_json_body";
		lim = c->max_json_body;
	}
	if (lim > c->max_body) {
		*name = "max_body";
		lim = c->max_body;
	}
	return lim;
}

size_t
http_memory_limit(const struct req *r)
{
	const char	*name;
	size_t		 body, extra;

	body = http_body_limit(r, &name);
	extra = r->route != NULL && (r->route->flags & ROUTE_LOGIN) ?
	    LOGIN_MEMORY : r->conf->request_memory;
	if (body > (SIZE_MAX - extra) / 4)
		return SIZE_MAX;
	return 4 * body + extra;
}

int
http_fail_memory(struct req *r)
{
	return http_fail(r, FCRM_TOO_LARGE, "The request needs more memory "
	    "than one request may use (%zu bytes, from the route's body "
	    "limit and request_memory); send a smaller body or a narrower "
	    "query.", arena_limit(r->arena));
}

void
http_check_memory(struct req *r)
{
	if (!arena_over(r->arena))
		return;
	/* Whatever the handler answered is dropped, its headers too. */
	r->status = 0;
	r->reason = NULL;
	r->error_body = 0;
	r->out_type = NULL;
	r->hdrs.len = 0;
	r->hdrs.p[0] = '\0';
	r->out.len = 0;
	r->out.p[0] = '\0';
	http_fail_memory(r);
}

long long
http_content_length(struct req *r)
{
	const char		*cl, *name;
	char			*end;
	unsigned long long	 n;
	size_t			 lim;

	if ((cl = http_param(r, HP_CONTENT_LENGTH)) == NULL || *cl == '\0')
		return 0;
	n = strtoull(cl, &end, 10);
	if (*end != '\0' || *cl == '-') {
		http_fail(r, FCRM_BAD_REQUEST, "Bad Content-Length.");
		return -1;
	}
	lim = http_body_limit(r, &name);
	if (n > lim) {
		http_fail(r, FCRM_TOO_LARGE, "Request body is too large for "
		    "this route: more than %s (%zu bytes).", name, lim);
		return -1;
	}
	return (long long)n;
}

int
http_read_body(struct req *r)
{
	long long	 n;
	size_t		 have = 0;
	char		*p;
	int		 got;

	r->body = "";
	r->bodylen = 0;
	if ((n = http_content_length(r)) < 0)
		return -1;
	if (n == 0)
		return 0;
	p = arena_alloc(r->arena, (size_t)n + 1);
	while (have < (size_t)n && r->in_read != NULL) {
		got = r->in_read(r->in, p + have, (int)((size_t)n - have));
		if (got <= 0)
			break;
		have += (size_t)got;
	}
	if (have < (size_t)n)
		return http_fail(r, FCRM_BAD_REQUEST, "Request body is "
		    "shorter than Content-Length.");
	p[n] = '\0';
	r->body = p;
	r->bodylen = (size_t)n;
	return 0;
}

/* The media type without parameters, lower-cased, in the arena. */
static char *
media_type(struct req *r)
{
	char	*t, *p;

	t = arena_strndup(r->arena, r->ctype, strcspn(r->ctype, ";"));
	for (p = t; *p != '\0'; p++)
		if (*p >= 'A' && *p <= 'Z')
			*p = (char)(*p - 'A' + 'a');
	while (p > t && (p[-1] == ' ' || p[-1] == '\t'))
		*--p = '\0';
	return t;
}

int
http_body_object(struct req *r, struct json **out)
{
	const char	*why, *s;
	char		*mt;
	struct json	*j;
	size_t		 i;

	*out = NULL;
	mt = media_type(r);
	for (s = r->body, i = 0; i < r->bodylen; i++)
		if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r' && s[i] != '\n')
			break;
	if (i == r->bodylen) {
		*out = json_obj(r->arena);
		return 0;
	}
	/* A JSON object sent under the form type (curl -d does) is JSON. */
	if (strcmp(mt, "application/x-www-form-urlencoded") == 0 &&
	    s[i] != '{') {
		if (http_query_parse(r->arena, r->body, r->bodylen, &j,
		    &why) != 0)
			return http_fail(r, FCRM_BAD_REQUEST, "Form body: %s",
			    why);
		*out = j;
		return 0;
	}
	if (*mt != '\0' && strcmp(mt, "application/json") != 0 &&
	    strcmp(mt, "application/x-www-form-urlencoded") != 0 &&
	    strcmp(mt, "text/json") != 0 && strcmp(mt, "text/plain") != 0)
		return http_fail(r, FCRM_MEDIA_TYPE, "Unsupported content type "
		    "'%.64s'; send application/json or "
		    "application/x-www-form-urlencoded.", mt);
	if (json_parse_body(r->arena, r->body, r->bodylen, &j, &why) != 0)
		return arena_over(r->arena) ? http_fail_memory(r) :
		    http_fail(r, FCRM_BAD_JSON, "%s", why);
	if (arena_over(r->arena))
		return http_fail_memory(r);
	if (j->type != JSON_OBJECT)
		return http_fail(r, FCRM_BAD_JSON, "Body must be a JSON "
		    "object.");
	*out = j;
	return 0;
}

static const char *
status_text(int status)
{
	switch (status) {
	case 200:
		return "OK";
	case 302:
		return "Found";
	case 400:
		return "Bad Request";
	case 401:
		return "Unauthorized";
	case 403:
		return "Forbidden";
	case 404:
		return "Not Found";
	case 405:
		return "Method Not Allowed";
	case 409:
		return "Conflict";
	case 413:
		return "Payload Too Large";
	case 415:
		return "Unsupported Media Type";
	case 429:
		return "Too Many Requests";
	case 503:
		return "Service Unavailable";
	case 507:
		return "Insufficient Storage";
	default:
		return status >= 500 ? "Internal Server Error" : "Error";
	}
}

void
http_response(struct req *r, struct buf *out)
{
	struct buf	 body;

	if (r->status == 0)
		r->status = 200;
	if (r->status >= 300 && !r->error_body) {
		buf_init(&body, r->arena);
		buf_printf(&body, "{\"status\":%d,\"reason\":", r->status);
		json_write_str(&body, r->reason != NULL ? r->reason : "",
		    r->reason != NULL ? strlen(r->reason) : 0);
		buf_addc(&body, '}');
		r->out = body;
	}
	/* The three lines every answer has, without printf. */
	buf_adds(out, "Status: ");
	buf_addi(out, r->status);
	buf_addc(out, ' ');
	buf_adds(out, status_text(r->status));
	buf_adds(out, "\r\nContent-Type: ");
	buf_adds(out, r->out_type != NULL ? r->out_type : "application/json");
	buf_adds(out, "\r\nContent-Length: ");
	buf_addi(out, (long long)r->out.len);
	buf_adds(out, "\r\n");
	if (r->status >= 400 || (r->status >= 300 && r->reason != NULL))
		buf_printf(out, "X-Status-Reason: %s\r\n", r->reason != NULL ?
		    r->reason : "Error.");
	buf_add(out, r->hdrs.p, r->hdrs.len);
	buf_add(out, "\r\n", 2);
	buf_add(out, r->out.p, r->out.len);
}
