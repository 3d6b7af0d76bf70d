/*
 * Group commit in a worker: the answers of the requests whose writes are
 * in the open batch txn, held until one durable commit covers them all.
 *
 * A worker whose request began a write txn holds LMDB's writer lock in a
 * batch txn (store_batch).  Before it commits, the worker loop serves the
 * connections already waiting on the socket; their write txns are child
 * txns of the same batch.  Then batch_finish commits the batch once — an
 * ordinary durable LMDB commit: the data pages flushed, then the meta page
 * written and flushed — and only after that sends the held answers.  A
 * request is answered only after its write is on disk; if the commit
 * fails, none of the batch's writes happened and every held request is
 * answered with the error instead.  tests/RELIABILITY.md has the argument.
 */
#include <sys/time.h>

#include <poll.h>

#include <stdlib.h>
#include <string.h>

#include <fcgiapp.h>

#include "fastcrm/arena.h"
#include "fastcrm/batch.h"
#include "fastcrm/entity.h"
#include "fastcrm/error.h"
#include "fastcrm/http.h"
#include "fastcrm/log.h"
#include "fastcrm/metrics.h"
#include "fastcrm/worker.h"

struct held {
	FCGX_Request	*fr;
	char		*resp;		/* the rendered answer, or NULL */
	size_t		 len;
	char		*line;		/* the path, for the log line */
	char		*meth;		/* the method, for the log line */
	char		*remote;	/* the client's address */
	char		*who;		/* principal */
	char		*reason;	/* for 4xx and 5xx, or NULL */
	int		 status;
	struct timeval	 t0;
	const struct route *route;	/* for the metrics (static table) */
	const char	*method;	/* in fr's parameters, kept till
					   FCGX_Finish_r */
};

/* A pool slot: free, serving or holding a request, or parked (a
   connection nginx keeps open, idle until it sends the next request). */
enum slot { SLOT_FREE, SLOT_BUSY, SLOT_PARKED };

struct batch {
	FCGX_Request	 pool[BATCH_MAX];
	enum slot	 state[BATCH_MAX];
	struct held	 held[BATCH_MAX + 1];
	int		 nheld, max;
};

struct batch *
batch_new(int fd, int max)
{
	struct batch	*b;
	size_t		 i;

	if ((b = calloc(1, sizeof(*b))) == NULL)
		return NULL;
	b->max = max < 1 ? 1 : max > BATCH_MAX ? BATCH_MAX : max;
	for (i = 0; i < BATCH_MAX; i++)
		FCGX_InitRequest(&b->pool[i], fd, FCGI_FAIL_ACCEPT_ON_INTR);
	return b;
}

void
batch_free(struct batch *b)
{
	size_t	 i;

	if (b == NULL)
		return;
	for (i = 0; i < BATCH_MAX; i++)
		if (b->pool[i].ipcFd >= 0)
			FCGX_Free(&b->pool[i], 1);
	free(b);
}

FCGX_Request *
batch_slot(struct batch *b)
{
	size_t	 i;

	if (b->nheld >= b->max)
		return NULL;
	for (i = 0; i < BATCH_MAX; i++)
		if (b->state[i] == SLOT_FREE)
			return &b->pool[i];
	return NULL;
}

static void
mark(struct batch *b, FCGX_Request *fr, enum slot state)
{
	if (fr >= b->pool && fr < b->pool + BATCH_MAX)
		b->state[fr - b->pool] = state;
}

int
batch_full(const struct batch *b)
{
	return b->nheld >= b->max;
}

void
batch_done(struct batch *b, FCGX_Request *fr)
{
	worker_finish(fr);
	mark(b, fr, fr->ipcFd >= 0 ? SLOT_PARKED : SLOT_FREE);
}

int
batch_parked_fds(const struct batch *b, struct pollfd *pfd, int n)
{
	int	 i, k = 0;

	for (i = 0; i < BATCH_MAX && k < n; i++)
		if (b->state[i] == SLOT_PARKED) {
			pfd[k].fd = b->pool[i].ipcFd;
			pfd[k].events = POLLIN;
			pfd[k].revents = 0;
			k++;
		}
	return k;
}

FCGX_Request *
batch_take(struct batch *b, int fd)
{
	int	 i;

	for (i = 0; i < BATCH_MAX; i++)
		if (b->state[i] == SLOT_PARKED && b->pool[i].ipcFd == fd) {
			b->state[i] = SLOT_BUSY;
			return &b->pool[i];
		}
	return NULL;
}

static char *
copy(const void *p, size_t n)
{
	char	*s;

	if ((s = malloc(n + 1)) == NULL)
		return NULL;
	memcpy(s, p, n);
	s[n] = '\0';
	return s;
}

void
batch_hold(struct batch *b, FCGX_Request *fr, const struct req *r,
    const struct buf *resp, const struct timeval *t0)
{
	struct held	*h = &b->held[b->nheld++];
	const char	*s;

	memset(h, 0, sizeof(*h));
	h->fr = fr;
	h->t0 = *t0;
	h->status = r->status;
	h->route = r->route;
	h->method = r->method;
	/* Out of memory: the request gets a 500 after the commit. */
	if ((h->resp = copy(resp->p, resp->len)) != NULL)
		h->len = resp->len;
	s = r->path != NULL ? r->path : "-";
	h->line = copy(s, strlen(s));
	s = r->method != NULL ? r->method : "-";
	h->meth = copy(s, strlen(s));
	s = r->remote != NULL ? r->remote : "-";
	h->remote = copy(s, strlen(s));
	s = r->who != NULL ? r->who->name : "-";
	h->who = copy(s, strlen(s));
	if (r->status >= 400 && r->reason != NULL)
		h->reason = copy(r->reason, strlen(r->reason));
	mark(b, fr, SLOT_BUSY);
}

int
batch_held(const struct batch *b)
{
	return b->nheld;
}

/* Microseconds from a to b. */
static long long
elapsed(const struct timeval *a, const struct timeval *b)
{
	return (b->tv_sec - a->tv_sec) * 1000000LL + (b->tv_usec - a->tv_usec);
}

/* The answer of a request whose write the failed commit lost. */
static void
error_answer(struct held *h, const struct conf *conf, struct arena *a,
    int rc)
{
	struct req	 r;
	struct buf	 out;

	memset(&r, 0, sizeof(r));
	r.arena = a;
	r.conf = conf;
	buf_init(&r.hdrs, a);
	buf_init(&r.out, a);
	if (rc == FCRM_MAP_FULL)
		http_fail(&r, rc, "Storage is full; raise map_size.");
	else if (rc != 0)
		http_fail(&r, rc, "Storage commit failed.");
	else
		http_fail(&r, FCRM_STORE, "Out of memory holding the answer.");
	buf_init(&out, a);
	http_response(&r, &out);
	free(h->resp);
	free(h->reason);
	h->resp = copy(out.p, out.len);
	h->len = h->resp != NULL ? out.len : 0;
	h->status = r.status;
	h->reason = copy(r.reason, strlen(r.reason));
}

void
batch_finish(struct batch *b, struct store *st, const struct conf *conf,
    struct arena *a)
{
	struct timeval	 t1, tc;
	struct held	*h;
	struct req	 mr;
	long long	 us;
	long long	 age;
	int		 i, rc, open;

	/* How long the batch held the writer lock, and its commit. */
	open = entity_store_batch_open(st);
	age = entity_store_batch_age_us(st);
	gettimeofday(&tc, NULL);
	rc = entity_store_batch_commit(st);
	gettimeofday(&t1, NULL);
	if (open)
		metrics_commit(b->nheld, age, elapsed(&tc, &t1), rc != 0);
	if (rc != 0)
		log_error("worker: the commit of a batch of %d requests "
		    "failed: %s", b->nheld, error_reason(rc));
	for (i = 0; i < b->nheld; i++) {
		h = &b->held[i];
		if (rc != 0 || h->resp == NULL)
			error_answer(h, conf, a, rc);
		if (h->resp != NULL)
			FCGX_PutStr(h->resp, (int)h->len, h->fr->out);
		gettimeofday(&t1, NULL);
		us = elapsed(&h->t0, &t1);
		/* Counted as serve_one counts an answer sent at once. */
		memset(&mr, 0, sizeof(mr));
		mr.route = h->route;
		mr.method = h->method;
		mr.status = h->status;
		metrics_request(&mr, us);
		/* A connection nginx keeps stays open, parked. */
		batch_done(b, h->fr);
		worker_log_request(h->meth, h->line, h->status, us, h->who,
		    h->reason, h->remote, b->nheld);
		free(h->resp);
		free(h->line);
		free(h->meth);
		free(h->remote);
		free(h->who);
		free(h->reason);
	}
	b->nheld = 0;
}
