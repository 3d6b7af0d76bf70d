/*
 * The in-process FastCGI harness (tests/fcgi_harness.h): a temporary
 * directory with a minimal configuration, the store prepared as the
 * master prepares it (master_prepare_store), one real worker forked on a
 * unix socket (worker_run), and the client side of FastCGI written here
 * from the specification: 8-byte record headers, name-value pairs with
 * 1- or 4-byte lengths, BEGIN_REQUEST / PARAMS / STDIN out, STDOUT /
 * STDERR / END_REQUEST back, then the CGI response (Status:, headers,
 * body) parsed.  The harness owns the processes and files it made and
 * nothing else: it stops its worker by pid.
 */
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "fastcrm/auth.h"
#include "fastcrm/conf.h"
#include "fastcrm/entity.h"
#include "fastcrm/log.h"
#include "fastcrm/resources.h"
#include "fastcrm/worker.h"
#include "fcgi_harness.h"

/* The FastCGI specification's record types and values. */
#define FCGI_VERSION_1		1
#define FCGI_BEGIN_REQUEST	1
#define FCGI_END_REQUEST	3
#define FCGI_PARAMS		4
#define FCGI_STDIN		5
#define FCGI_STDOUT		6
#define FCGI_STDERR		7
#define FCGI_RESPONDER		1
#define FCGI_REQUEST_COMPLETE	0
#define FCGI_HEADER_LEN		8

#define FH_REQUEST_ID	1
#define FH_CHUNK	32768	/* content bytes per PARAMS / STDIN record */
#define FH_TIMEOUT_MS	10000	/* per request, and to start and stop */

struct fh {
	char		 dir[256];
	char		 sock[sizeof(((struct sockaddr_un *)0)->sun_path)];
	char		 log[300];
	char		 key[33];
	struct conf	*conf;
	pid_t		 pid;
	int		 life;		/* write end; the worker reads */
	char		 err[512];
};

/* A growable byte string; oom set once an append failed. */
struct bytes {
	char		*p;
	size_t		 len, cap;
	int		 oom;
};

static char	 start_why[512];

static void
bytes_add(struct bytes *b, const void *p, size_t n)
{
	size_t	 cap;
	char	*np;

	if (b->oom)
		return;
	if (b->len + n + 1 > b->cap) {
		cap = b->cap ? b->cap : 256;
		while (cap < b->len + n + 1)
			cap *= 2;
		if ((np = realloc(b->p, cap)) == NULL) {
			b->oom = 1;
			return;
		}
		b->p = np;
		b->cap = cap;
	}
	if (n > 0)
		memcpy(b->p + b->len, p, n);
	b->len += n;
	b->p[b->len] = '\0';
}

static void
bytes_printf(struct bytes *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void
bytes_printf(struct bytes *b, const char *fmt, ...)
{
	va_list	 ap;
	char	*s;
	int	 n;

	va_start(ap, fmt);
	n = vasprintf(&s, fmt, ap);
	va_end(ap);
	if (n < 0) {
		b->oom = 1;
		return;
	}
	bytes_add(b, s, (size_t)n);
	free(s);
}

static long long
now_ms(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- FastCGI framing ---------------------------------------------------- */

/* One record: the 8-byte header, content, padding to a multiple of 8. */
static void
record(struct bytes *b, int type, const void *p, size_t n)
{
	unsigned char	 h[FCGI_HEADER_LEN];
	static const char zero[8];
	size_t		 pad = (8 - n % 8) % 8;

	h[0] = FCGI_VERSION_1;
	h[1] = (unsigned char)type;
	h[2] = (FH_REQUEST_ID >> 8) & 0xff;
	h[3] = FH_REQUEST_ID & 0xff;
	h[4] = (unsigned char)((n >> 8) & 0xff);
	h[5] = (unsigned char)(n & 0xff);
	h[6] = (unsigned char)pad;
	h[7] = 0;
	bytes_add(b, h, sizeof(h));
	bytes_add(b, p, n);
	bytes_add(b, zero, pad);
}

/* A stream (PARAMS, STDIN): records of at most FH_CHUNK, then an empty one. */
static void
stream(struct bytes *b, int type, const char *p, size_t n)
{
	size_t	 k;

	while (n > 0) {
		k = n < FH_CHUNK ? n : FH_CHUNK;
		record(b, type, p, k);
		p += k;
		n -= k;
	}
	record(b, type, NULL, 0);
}

/* A length of a name-value pair: 1 byte below 128, else 4 with bit 31. */
static void
pair_len(struct bytes *b, size_t n)
{
	unsigned char	 l[4];

	if (n < 128) {
		l[0] = (unsigned char)n;
		bytes_add(b, l, 1);
		return;
	}
	l[0] = (unsigned char)(((n >> 24) & 0x7f) | 0x80);
	l[1] = (unsigned char)((n >> 16) & 0xff);
	l[2] = (unsigned char)((n >> 8) & 0xff);
	l[3] = (unsigned char)(n & 0xff);
	bytes_add(b, l, 4);
}

static void
pair(struct bytes *b, const char *name, const char *value)
{
	size_t	 nl = strlen(name), vl = strlen(value);

	pair_len(b, nl);
	pair_len(b, vl);
	bytes_add(b, name, nl);
	bytes_add(b, value, vl);
}

/* The PARAMS nginx/fastcrm.conf.in passes, for this request. */
static void
params(struct bytes *pb, const struct fh *h, const struct fh_req *q,
    size_t bodylen)
{
	const char *const	*x;
	const char		*key;
	char			 cl[32] = "";

	if (q->body != NULL)
		snprintf(cl, sizeof(cl), "%zu", bodylen);
	pair(pb, "REQUEST_METHOD", q->method != NULL ? q->method : "GET");
	pair(pb, "CONTENT_TYPE", q->ctype != NULL ? q->ctype :
	    q->body != NULL ? "application/json" : "");
	pair(pb, "CONTENT_LENGTH", cl);
	pair(pb, "REQUEST_URI", q->uri != NULL ? q->uri : "/");
	pair(pb, "SERVER_PROTOCOL", "HTTP/1.1");
	pair(pb, "GATEWAY_INTERFACE", "CGI/1.1");
	pair(pb, "SERVER_SOFTWARE", "nginx");
	pair(pb, "REMOTE_ADDR", q->remote != NULL ? q->remote : "127.0.0.1");
	pair(pb, "REMOTE_PORT", "40000");
	pair(pb, "SERVER_ADDR", "127.0.0.1");
	pair(pb, "SERVER_NAME", "localhost");
	pair(pb, "SERVER_PORT", "443");
	pair(pb, "HTTPS", "on");
	pair(pb, "REQUEST_SCHEME", "https");
	key = q->key == FH_KEY ? h->key : q->key;
	/* nginx: if_not_empty. */
	if (key != NULL && *key != '\0')
		pair(pb, "HTTP_X_API_KEY", key);
	for (x = q->params; x != NULL && x[0] != NULL && x[1] != NULL; x += 2)
		pair(pb, x[0], x[1]);
}

/* ---- the response ------------------------------------------------------- */

static int
fail(struct fh *h, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static int
fail(struct fh *h, const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	vsnprintf(h->err, sizeof(h->err), fmt, ap);
	va_end(ap);
	return -1;
}

static int
add_hdr(struct fh_resp *r, const char *line, size_t n)
{
	const char	*colon, *v;
	struct fh_hdr	*nh;

	if ((colon = memchr(line, ':', n)) == NULL || colon == line)
		return -1;
	if ((nh = reallocarray(r->hdrs, r->nhdrs + 1, sizeof(*nh))) == NULL)
		return -1;
	r->hdrs = nh;
	v = colon + 1;
	while (v < line + n && (*v == ' ' || *v == '\t'))
		v++;
	nh[r->nhdrs].name = strndup(line, (size_t)(colon - line));
	nh[r->nhdrs].value = strndup(v, (size_t)(line + n - v));
	r->nhdrs++;
	if (nh[r->nhdrs - 1].name == NULL || nh[r->nhdrs - 1].value == NULL)
		return -1;
	return 0;
}

/* The CGI response in out: header lines, an empty line, the body. */
static int
parse_cgi(struct fh *h, const struct bytes *out, struct fh_resp *r)
{
	const char	*p = out->p != NULL ? out->p : "", *end, *eol;
	const char	*st;
	size_t		 n;

	end = p + out->len;
	r->status = 200;
	for (;;) {
		if ((eol = memchr(p, '\n', (size_t)(end - p))) == NULL)
			return fail(h, "the response has no end of headers "
			    "(%zu bytes of STDOUT)", out->len);
		n = (size_t)(eol - p);
		if (n > 0 && p[n - 1] == '\r')
			n--;
		if (n == 0)
			break;
		if (add_hdr(r, p, n) != 0)
			return fail(h, "bad response header line '%.*s'",
			    (int)(n > 80 ? 80 : n), p);
		p = eol + 1;
	}
	p = eol + 1;
	if ((st = fh_header(r, "Status")) != NULL) {
		r->status = atoi(st);
		if (r->status < 100 || r->status > 999)
			return fail(h, "bad Status: line '%s'", st);
	}
	r->bodylen = (size_t)(end - p);
	if ((r->body = malloc(r->bodylen + 1)) == NULL)
		return fail(h, "out of memory");
	memcpy(r->body, p, r->bodylen);
	r->body[r->bodylen] = '\0';
	return 0;
}

/*
 * Takes the whole records at the start of in; 1 once END_REQUEST came,
 * 0 for more, -1 on a protocol error.
 */
static int
take_records(struct fh *h, struct bytes *in, struct bytes *out,
    struct bytes *err, struct fh_resp *r)
{
	const unsigned char	*p;
	size_t			 off = 0, clen, plen;
	int			 type, id, done = 0;

	while (!done && in->len - off >= FCGI_HEADER_LEN) {
		p = (const unsigned char *)in->p + off;
		clen = (size_t)p[4] << 8 | p[5];
		plen = p[6];
		if (in->len - off < FCGI_HEADER_LEN + clen + plen)
			break;
		type = p[1];
		id = p[2] << 8 | p[3];
		if (p[0] != FCGI_VERSION_1)
			return fail(h, "record of version %d", p[0]);
		if (id != FH_REQUEST_ID)
			return fail(h, "record (type %d) for request id %d",
			    type, id);
		p += FCGI_HEADER_LEN;
		switch (type) {
		case FCGI_STDOUT:
			bytes_add(out, p, clen);
			break;
		case FCGI_STDERR:
			bytes_add(err, p, clen);
			break;
		case FCGI_END_REQUEST:
			if (clen != 8)
				return fail(h, "END_REQUEST of %zu bytes",
				    clen);
			r->app_status = (unsigned int)p[0] << 24 |
			    (unsigned int)p[1] << 16 |
			    (unsigned int)p[2] << 8 | p[3];
			if (p[4] != FCGI_REQUEST_COMPLETE)
				return fail(h, "END_REQUEST with "
				    "protocolStatus %d", p[4]);
			done = 1;
			break;
		default:
			return fail(h, "unexpected record type %d", type);
		}
		off += FCGI_HEADER_LEN + clen + plen;
	}
	memmove(in->p, in->p + off, in->len - off);
	in->len -= off;
	return done;
}

/*
 * Sends req and reads until END_REQUEST, both at once: a worker may answer
 * (a 413 say) before it read the whole body.
 */
static int
exchange(struct fh *h, int fd, const struct bytes *req, struct bytes *out,
    struct bytes *err, struct fh_resp *r)
{
	struct pollfd	 pfd;
	struct bytes	 in = { 0 };
	char		 buf[16384];
	size_t		 sent = 0;
	long long	 deadline = now_ms() + FH_TIMEOUT_MS, left;
	ssize_t		 n;
	int		 rc = 0;

	while (rc == 0) {
		if ((left = deadline - now_ms()) <= 0) {
			rc = fail(h, "no END_REQUEST within %d ms (%zu of %zu "
			    "bytes sent)", FH_TIMEOUT_MS, sent, req->len);
			break;
		}
		pfd.fd = fd;
		pfd.events = POLLIN | (sent < req->len ? POLLOUT : 0);
		pfd.revents = 0;
		if (poll(&pfd, 1, (int)left) < 0) {
			if (errno == EINTR)
				continue;
			rc = fail(h, "poll: %s", strerror(errno));
			break;
		}
		if ((pfd.revents & POLLOUT) && sent < req->len) {
			n = send(fd, req->p + sent, req->len - sent,
			    MSG_NOSIGNAL | MSG_DONTWAIT);
			if (n > 0)
				sent += (size_t)n;
			else if (n < 0 && (errno == EPIPE ||
			    errno == ECONNRESET))
				sent = req->len;	/* it stopped reading */
			else if (n < 0 && errno != EAGAIN && errno != EINTR) {
				rc = fail(h, "send: %s", strerror(errno));
				break;
			}
		}
		if (!(pfd.revents & (POLLIN | POLLHUP | POLLERR)))
			continue;
		n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			continue;
		if (n < 0) {
			rc = fail(h, "recv: %s", strerror(errno));
			break;
		}
		if (n == 0) {
			rc = fail(h, "the worker closed the connection before "
			    "END_REQUEST (%zu bytes of STDOUT)", out->len);
			break;
		}
		bytes_add(&in, buf, (size_t)n);
		if (in.oom) {
			rc = fail(h, "out of memory");
			break;
		}
		rc = take_records(h, &in, out, err, r);
	}
	free(in.p);
	return rc < 0 ? -1 : 0;
}

int
fh_request(struct fh *h, struct fh_resp *r, const struct fh_req *q)
{
	struct sockaddr_un	 sa;
	struct bytes		 req = { 0 }, pb = { 0 }, out = { 0 };
	struct bytes		 err = { 0 };
	unsigned char		 begin[8] = { 0 };
	size_t			 bodylen;
	int			 fd, rc = -1;

	memset(r, 0, sizeof(*r));
	h->err[0] = '\0';
	bodylen = q->body == NULL ? 0 : q->bodylen > 0 ? q->bodylen :
	    strlen(q->body);
	begin[1] = FCGI_RESPONDER;	/* role, big-endian; flags 0: close */
	record(&req, FCGI_BEGIN_REQUEST, begin, sizeof(begin));
	params(&pb, h, q, bodylen);
	stream(&req, FCGI_PARAMS, pb.p, pb.len);
	stream(&req, FCGI_STDIN, q->body, bodylen);
	if (req.oom || pb.oom) {
		fail(h, "out of memory");
		goto out;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	memcpy(sa.sun_path, h->sock, sizeof(sa.sun_path));
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1) {
		fail(h, "socket: %s", strerror(errno));
		goto out;
	}
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == -1) {
		fail(h, "connect %s: %s", h->sock, strerror(errno));
		close(fd);
		goto out;
	}
	rc = exchange(h, fd, &req, &out, &err, r);
	close(fd);
	if (rc == 0 && (out.oom || err.oom))
		rc = fail(h, "out of memory");
	if (rc == 0)
		rc = parse_cgi(h, &out, r);
	if (rc == 0 && (r->err = strdup(err.p != NULL ? err.p : "")) == NULL)
		rc = fail(h, "out of memory");
out:
	free(req.p);
	free(pb.p);
	free(out.p);
	free(err.p);
	if (rc != 0)
		fh_resp_free(r);
	return rc;
}

void
fh_resp_free(struct fh_resp *r)
{
	size_t	 i;

	for (i = 0; i < r->nhdrs; i++) {
		free(r->hdrs[i].name);
		free(r->hdrs[i].value);
	}
	free(r->hdrs);
	free(r->body);
	free(r->err);
	memset(r, 0, sizeof(*r));
}

const char *
fh_header(const struct fh_resp *r, const char *name)
{
	size_t	 i;

	for (i = 0; i < r->nhdrs; i++)
		if (r->hdrs[i].name != NULL &&
		    strcasecmp(r->hdrs[i].name, name) == 0)
			return r->hdrs[i].value;
	return NULL;
}

/* ---- the worker and its directory -------------------------------------- */

static int
rm_one(const char *path, const struct stat *st, int flag, struct FTW *f)
{
	(void)st;
	(void)f;
	return (flag == FTW_DP ? rmdir(path) : unlink(path)) == -1 ? -1 : 0;
}

static void
rm_dir(const char *dir)
{
	if (getenv("KEEP_TMP") != NULL && *getenv("KEEP_TMP") != '\0') {
		fprintf(stderr, "# kept %s\n", dir);
		return;
	}
	(void)nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static int
write_conf(struct fh *h, const char *path, const char *extra)
{
	struct bytes	 y = { 0 };
	char		 sha[65];
	ssize_t		 n;
	int		 fd;

	if (conf_key_generate(h->key, sha) != 0)
		return -1;
	bytes_printf(&y,
	    "# Written by tests/fcgi_harness.c\n"
	    "listen: unix:%s\n"
	    "workers: 1\n"
	    "data_dir: %s/data\n"
	    "map_size: 64MiB\n"
	    "max_body: 8MiB\n"
	    "default_country_code: \"1\"\n"
	    "log_file: %s\n"
	    "roles:\n"
	    "  admin:\n"
	    "    \"*\": {create: yes, read: all, edit: all, delete: all}\n"
	    "api_users:\n"
	    "  - name: demo\n"
	    "    role: admin\n"
	    "    admin: yes\n"
	    "    api_key_sha256: \"%s\"\n"
	    "%s\n", h->sock, h->dir, h->log, sha, extra != NULL ? extra : "");
	if (y.oom)
		return -1;
	if ((fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC,
	    0600)) == -1) {
		free(y.p);
		return -1;
	}
	n = write(fd, y.p, y.len);
	free(y.p);
	if (close(fd) == -1 || n < 0 || (size_t)n != y.len)
		return -1;
	return 0;
}

static int
load_conf(struct fh *h, const char *path, const char **why)
{
	struct conf_diag	 diag;

	memset(&diag, 0, sizeof(diag));
	if (conf_load(path, &h->conf, &diag) != 0) {
		snprintf(start_why, sizeof(start_why), "the configuration is "
		    "invalid: %s", diag.nerrors > 0 ? diag.errors[0] : "?");
		*why = start_why;
		conf_diag_free(&diag);
		return -1;
	}
	conf_diag_free(&diag);
	return 0;
}

/* The listening socket, non-blocking as the master makes it. */
static int
bind_socket(const struct fh *h)
{
	struct sockaddr_un	 sa;
	int			 fd, fl;

	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	memcpy(sa.sun_path, h->sock, sizeof(sa.sun_path));
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		return -1;
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == -1 ||
	    listen(fd, 64) == -1 || (fl = fcntl(fd, F_GETFL)) == -1 ||
	    fcntl(fd, F_SETFL, fl | O_NONBLOCK) == -1) {
		close(fd);
		return -1;
	}
	return fd;
}

/* Forks the worker on fd; 0 once it said it takes connections. */
static int
fork_worker(struct fh *h, int fd, const char **why)
{
	struct pollfd	 pfd;
	int		 life[2], ready[2], status;
	char		 c;
	ssize_t		 n;

	if (pipe2(life, O_CLOEXEC) == -1)
		return -1;
	if (pipe2(ready, O_CLOEXEC) == -1) {
		close(life[0]);
		close(life[1]);
		return -1;
	}
	fflush(stdout);
	fflush(stderr);
	if ((h->pid = fork()) == -1) {
		close(life[0]);
		close(life[1]);
		close(ready[0]);
		close(ready[1]);
		return -1;
	}
	if (h->pid == 0) {
		close(life[1]);
		close(ready[0]);
		if (log_set_file(h->conf->log_file) != 0)
			_exit(3);
		worker_ready_fd = ready[1];
		worker_run(h->conf, fd, life[0], 1);
	}
	close(life[0]);
	close(ready[1]);
	h->life = life[1];
	pfd.fd = ready[0];
	pfd.events = POLLIN;
	n = poll(&pfd, 1, FH_TIMEOUT_MS) == 1 ? read(ready[0], &c, 1) : -1;
	close(ready[0]);
	if (n == 1)
		return 0;
	if (n == 0 && waitpid(h->pid, &status, 0) == h->pid) {
		h->pid = 0;
		snprintf(start_why, sizeof(start_why), "the worker exited at "
		    "start (wait status %d); its log is %s", status, h->log);
	} else
		snprintf(start_why, sizeof(start_why), "the worker did not "
		    "get ready within %d ms", FH_TIMEOUT_MS);
	*why = start_why;
	return -1;
}

int
fh_start(struct fh **out, const char *extra_yaml, const char **why)
{
	struct fh	*h;
	const char	*tmp;
	char		 path[300];
	int		 fd;

	*out = NULL;
	*why = "out of memory";
	if ((h = calloc(1, sizeof(*h))) == NULL)
		return -1;
	h->life = -1;
	if ((tmp = getenv("TMPDIR")) == NULL || *tmp == '\0')
		tmp = "/tmp";
	if ((size_t)snprintf(h->dir, sizeof(h->dir), "%s/fastcrm-fh.XXXXXX",
	    tmp) >= sizeof(h->dir) - 40 || mkdtemp(h->dir) == NULL) {
		*why = "cannot create a temporary directory";
		free(h);
		return -1;
	}
	snprintf(h->log, sizeof(h->log), "%s/fastcrm.log", h->dir);
	snprintf(path, sizeof(path), "%s/fastcrm.yaml", h->dir);
	if ((size_t)snprintf(h->sock, sizeof(h->sock), "%s/fastcrm.sock",
	    h->dir) >= sizeof(h->sock)) {
		*why = "the temporary directory's path is too long for a "
		    "unix socket";
		goto fail;
	}
	if (write_conf(h, path, extra_yaml) != 0) {
		*why = "cannot write the configuration";
		goto fail;
	}
	if (load_conf(h, path, why) != 0)
		goto fail;
	/* As main() does: the engine's entities, for this process and the
	   worker it forks. */
	entity_register(resources);
	if (auth_init() != 0) {
		*why = "cannot register auth's tables";
		goto fail;
	}
	if (master_prepare_store(h->conf, why) != 0)
		goto fail;
	if ((fd = bind_socket(h)) == -1) {
		*why = "cannot listen on the unix socket";
		goto fail;
	}
	if (fork_worker(h, fd, why) != 0) {
		close(fd);
		goto fail;
	}
	/* Only the worker listens: if it dies, connect fails at once. */
	close(fd);
	*out = h;
	return 0;
fail:
	(void)fh_stop(h);
	return -1;
}

const char *
fh_key(const struct fh *h)
{
	return h->key;
}

const char *
fh_dir(const struct fh *h)
{
	return h->dir;
}

pid_t
fh_pid(const struct fh *h)
{
	return h->pid;
}

const char *
fh_error(const struct fh *h)
{
	return h->err;
}

char *
fh_log(const struct fh *h)
{
	struct bytes	 b = { 0 };
	char		 buf[8192];
	ssize_t		 n;
	int		 fd;

	bytes_add(&b, "", 0);
	if ((fd = open(h->log, O_RDONLY | O_CLOEXEC)) != -1) {
		while ((n = read(fd, buf, sizeof(buf))) > 0)
			bytes_add(&b, buf, (size_t)n);
		close(fd);
	}
	if (b.oom) {
		free(b.p);
		return NULL;
	}
	return b.p;
}

int
fh_stop(struct fh *h)
{
	long long	 deadline;
	int		 status = -1;
	pid_t		 got = 0;

	if (h == NULL)
		return -1;
	if (h->pid > 0) {
		kill(h->pid, SIGTERM);
		deadline = now_ms() + FH_TIMEOUT_MS;
		while ((got = waitpid(h->pid, &status, WNOHANG)) == 0 &&
		    now_ms() < deadline)
			usleep(2000);
		if (got == 0) {
			kill(h->pid, SIGKILL);
			got = waitpid(h->pid, &status, 0);
		}
		if (got != h->pid)
			status = -1;
	}
	if (h->life != -1)
		close(h->life);
	if (h->dir[0] != '\0')
		rm_dir(h->dir);
	conf_free(h->conf);
	free(h);
	return status;
}
