/*
 * An in-process FastCGI harness for the C unit tests: one real worker
 * (worker_run, libfcgi's accept loop, LMDB files in a temporary
 * directory) forked from the test program, and a FastCGI client written
 * here that speaks to it over a unix socket as nginx would.  A route is
 * tested in milliseconds, without nginx.
 *
 *	struct fh	*h;
 *	struct fh_resp	 r;
 *
 *	if (fh_start(&h, NULL, &why) != 0) ...
 *	fh_request(h, &r, &(struct fh_req){ .method = "GET",
 *	    .uri = "/api/v1/Contact", .key = FH_KEY });
 *	... r.status, fh_header(&r, "Content-Type"), r.body ...
 *	fh_resp_free(&r);
 *	fh_stop(h);
 */
#ifndef FASTCRM_TESTS_FCGI_HARNESS_H
#define FASTCRM_TESTS_FCGI_HARNESS_H

#include <sys/types.h>

#include <stddef.h>

struct fh;

/* For fh_req.key: send the harness's own API key. */
#define FH_KEY	((const char *)1)

/* One request, as nginx would pass it (see nginx/fastcrm.conf.in). */
struct fh_req {
	const char	*method;	/* REQUEST_METHOD; NULL: GET */
	const char	*uri;		/* REQUEST_URI: $request_uri, raw */
	const char	*key;		/* HTTP_X_API_KEY: FH_KEY, a key or
					   NULL (none) */
	const char	*ctype;		/* CONTENT_TYPE; NULL: application/json
					   when there is a body, else none */
	const char	*body;		/* STDIN, or NULL */
	size_t		 bodylen;	/* 0: strlen(body) */
	const char	*remote;	/* REMOTE_ADDR; NULL: 127.0.0.1 */
	/* More parameters: name, value, ..., NULL ("HTTP_X_NO_TOTAL", ...). */
	const char *const *params;
};

struct fh_hdr {
	char		*name;
	char		*value;
};

/* The worker's answer: the CGI response in its STDOUT stream, parsed. */
struct fh_resp {
	int		 status;	/* from "Status:"; 200 without one */
	struct fh_hdr	*hdrs;		/* in order, Status: included */
	size_t		 nhdrs;
	char		*body;		/* NUL-terminated */
	size_t		 bodylen;
	char		*err;		/* the FCGI_STDERR stream, or "" */
	unsigned int	 app_status;	/* FCGI_END_REQUEST's appStatus */
};

/*
 * Writes a minimal fastcrm.yaml into a new temporary directory (a unix
 * socket, one worker, data_dir and log_file in that directory, a role
 * `admin` that may do everything, an API user `demo` of that role with a
 * new key) followed by extra_yaml (top-level YAML text, or NULL), loads
 * it, prepares the store as the master does, binds the socket, forks one
 * worker and waits until it takes connections.  0 and *out, or -1 and
 * *why (a static or harness-owned message; nothing is left behind).
 */
int		 fh_start(struct fh **out, const char *extra_yaml,
		    const char **why);
/*
 * Sends one request on a new connection (BEGIN_REQUEST as a responder,
 * PARAMS, STDIN) and reads the answer until END_REQUEST.  0 and *out
 * (free with fh_resp_free), or -1 with *out zeroed and fh_error() saying
 * what failed (connect, framing, a timeout of ten seconds...).
 */
int		 fh_request(struct fh *, struct fh_resp *out,
		    const struct fh_req *);
void		 fh_resp_free(struct fh_resp *);
/* The first header named name (any case), or NULL. */
const char	*fh_header(const struct fh_resp *, const char *name);

/* The harness's API key (user `demo`), its temp dir, the worker's pid. */
const char	*fh_key(const struct fh *);
const char	*fh_dir(const struct fh *);
pid_t		 fh_pid(const struct fh *);
/* Why the last fh_request failed. */
const char	*fh_error(const struct fh *);
/* The worker's log so far (log_file), NUL-terminated; free() it. */
char		*fh_log(const struct fh *);

/*
 * Stops the worker (SIGTERM, waitpid; SIGKILL after ten seconds),
 * removes the temporary directory (kept, and named on stderr, when
 * KEEP_TMP is set) and frees h.  Returns the worker's wait status, or -1
 * if it could not be reaped.
 */
int		 fh_stop(struct fh *);

#endif
