/*
 * One request: everything parsed for it hangs off struct req, and all of
 * it lives in r->arena until the response is sent.
 */
#ifndef FASTCRM_HTTP_H
#define FASTCRM_HTTP_H

#include <stddef.h>

#include "fastcrm/arena.h"
#include "fastcrm/entity.h"
#include "fastcrm/json.h"

struct conf;
struct conf_user;
struct entity;
struct link;
struct store;
struct route;

/*
 * The FastCGI parameters fastcrm reads, found in one pass over the
 * environment (http_request_parse) and then read by index (http_param).
 */
enum http_param {
	HP_REQUEST_METHOD,
	HP_REQUEST_URI,
	HP_QUERY_STRING,
	HP_CONTENT_TYPE,
	HP_CONTENT_LENGTH,
	HP_REMOTE_ADDR,
	HP_X_API_KEY,
	HP_ESPO_AUTHORIZATION,
	HP_ESPO_AUTHORIZATION_BY_TOKEN,
	HP_X_HMAC_AUTHORIZATION,
	HP_AUTHORIZATION,
	HP_COOKIE,
	HP_X_CSRF_TOKEN,
	HP_X_REQUESTED_WITH,
	HP_X_NO_TOTAL,
	HP_X_SKIP_DUPLICATE_CHECK,
	HP_COUNT
};

struct req {
	struct arena		*arena;
	const struct conf	*conf;
	struct store		*store;
	char			**env;		/* FastCGI parameters */
	/* The parameters fastcrm reads (enum http_param), found in one
	   pass over env (request.c); hv_done once that pass ran. */
	const char		*hv[HP_COUNT];
	int			 hv_done;

	/* Parsed input; strings borrowed from the arena. */
	const char		*method;
	const char		*path;		/* raw, as sent; without query */
	const char		*query;
	const char		*remote;
	const char		*ctype;		/* Content-Type, or "" */
	void			*in;		/* body stream (FCGX_Stream) */
	int			(*in_read)(void *, char *, int);
	const char		*body;		/* NUL-terminated */
	size_t			 bodylen;
	struct json		*params;	/* query (PHP rules) */
	const char		*reqid;

	/* Routing. */
	const struct route	*route;
	const struct entity	*ent;
	const char		*id;
	const struct link	*link;
	struct principal	*who;

	/* Response. */
	int			 status;
	const char		*reason;	/* X-Status-Reason, one line */
	struct buf		 hdrs;		/* extra header lines */
	struct buf		 out;		/* body */
	const char		*out_type;	/* default application/json */
	int			 error_body;	/* out holds the error's body */
};

/*
 * Fills method, path, query, content type and params from r->env.
 * Returns 0, or an error set on r.
 */
int		 http_request_parse(struct req *);
/*
 * Writes the status line, headers and body of r's response into out (the
 * FastCGI stdout stream), as one buffer.
 */
void		 http_response(struct req *, struct buf *out);

/*
 * Reads the whole body into r->body (at most http_body_limit bytes).
 * Returns 0, or an error set on r (413, 400).
 */
int		 http_read_body(struct req *);
/*
 * Content-Length, checked against the route's body limit; -1 with an
 * error set on r (413 naming the limit).
 */
long long	 http_content_length(struct req *);
/*
 * The body limit of r's route (route.h's flags): max_body for the upload
 * routes, max_login_body for sign-in, OAuth2 and /, max_json_body for the
 * rest, never more than max_body.  *name is the setting's name.
 */
size_t		 http_body_limit(const struct req *, const char **name);
/*
 * The ceiling of r's arena: 4 x the body limit + request_memory (4 MiB
 * instead on the ROUTE_LOGIN routes).
 */
size_t		 http_memory_limit(const struct req *);
/* 413: the request passed its memory ceiling.  Returns the code. */
int		 http_fail_memory(struct req *);
/*
 * After the handler: when r's arena passed its ceiling, whatever was
 * answered becomes that 413 (engine_commit has refused every write).
 */
void		 http_check_memory(struct req *);

/* A request header by CGI name ("HTTP_X_API_KEY"), or NULL. */
const char	*http_header(const struct req *, const char *cgi_name);
/* One of the parameters fastcrm reads (enum http_param), or NULL. */
const char	*http_param(const struct req *, enum http_param);
/* Adds "Name: value\r\n" to the response headers. */
void		 http_add_header(struct req *, const char *name,
		    const char *value);
/*
 * Records an error for the response: status from the error table, reason
 * (one line; a printf format).  Returns code so that handlers can write
 * `return http_fail(r, FCRM_NOT_FOUND, "...")`.
 */
int		 http_fail(struct req *, int code, const char *fmt, ...)
		    __attribute__((format(printf, 3, 4)));
/*
 * The body as a JSON object: JSON, or a form-encoded body decoded the PHP
 * way.  A scalar or array body, bad JSON or another content type is a 4xx.
 */
int		 http_body_object(struct req *, struct json **);

/*
 * The engine's side of a request (fault.c): http_ectx fills c with r's
 * arena, configuration, store and principal; http_fault renders c's fault
 * (an engine call returned code) as r's answer: status, reason and, for
 * EspoCRM's structured errors, the body.  Returns code.
 */
void		 http_ectx(struct req *, struct ectx *c);
int		 http_fault(struct req *, const struct ectx *c, int code);

#endif
