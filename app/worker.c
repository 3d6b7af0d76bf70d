/*
 * A worker: opens its own LMDB environment (after fork, as LMDB requires),
 * then loops: wait for a connection, accept it through libfcgi, parse,
 * dispatch through the route table, respond, log one line, reset the
 * arena.  A request that wrote opens a batch (group commit, app/batch.c):
 * the worker serves the connections already waiting too, commits once,
 * then answers; while it holds a batch and connections are queued, the
 * other workers wait before taking new ones (the batch gate,
 * entity_store_batch_wait).  Read this file and app/http/route.c to
 * follow a request.
 */
#include <sys/time.h>

#include <errno.h>
#include <malloc.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <fcgiapp.h>

/*
 * In an AddressSanitizer build the leak check runs at exit(), which a
 * worker never calls (a forked child must not run the parent's atexit
 * handlers): worker_run runs it before _exit(), once it freed what it
 * owns, so that memory a request leaked is reported.
 */
#if defined(__SANITIZE_ADDRESS__)
#define WORKER_LEAK_CHECK
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define WORKER_LEAK_CHECK
#endif
#endif
#ifdef WORKER_LEAK_CHECK
#include <sanitizer/lsan_interface.h>
#endif

#include "fastcrm/arena.h"
#include "fastcrm/batch.h"
#include "fastcrm/conf.h"
#include "fastcrm/entity.h"
#include "fastcrm/error.h"
#include "fastcrm/http.h"
#include "fastcrm/log.h"
#include "fastcrm/metrics.h"
#include "fastcrm/route.h"
#include "fastcrm/worker.h"

/*
 * After a request that used more than this, the freed memory goes back to
 * the system (malloc_trim): glibc would otherwise keep the pages of one
 * large body resident for the life of the worker.
 */
#define WORKER_TRIM	((size_t)4 << 20)

/* The longest wait for other workers' batches before taking a connection. */
#define WORKER_GATE_MS	1000

static volatile sig_atomic_t	 stop;
int				 worker_baseline;
size_t				 worker_baseline_bytes;
int				 worker_ready_fd = -1;

/*
 * The baseline's answer: 300 bytes of JSON, as a small contact would be,
 * or that padded to worker_baseline_bytes in its last string.
 */
static char	*baseline;
static size_t	 baseline_len;
static const char baseline_body[] =
    "{\"id\":\"00000000000000000\",\"name\":\"Baseline Contact\","
    "\"firstName\":\"Baseline\",\"lastName\":\"Contact\","
    "\"emailAddress\":\"baseline@example.com\","
    "\"phoneNumber\":\"+15550000000\",\"accountId\":null,"
    "\"accountName\":null,\"description\":"
    "\"fixed answer, no work done.\","
    "\"createdAt\":\"2026-01-01 00:00:00\",\"deleted\":false,\"x\":\"\"}";

/* The baseline's answer, built once. */
static void
baseline_init(void)
{
	size_t	 n = sizeof(baseline_body) - 1, want = worker_baseline_bytes;

	if (want < n)
		want = n;
	if ((baseline = malloc(want)) == NULL)
		_exit(2);
	/* Up to the closing quote of "x", the padding, then "\"}". */
	memcpy(baseline, baseline_body, n - 2);
	memset(baseline + n - 2, 'x', want - n);
	memcpy(baseline + want - 2, "\"}", 2);
	baseline_len = want;
}

static void
on_term(int sig)
{
	(void)sig;
	stop = 1;
}

static int
fcgi_read(void *in, char *p, int n)
{
	return FCGX_GetStr(p, n, in);
}

void
worker_finish(FCGX_Request *fr)
{
	char	 c;
	int	 fd = fr->ipcFd;

	/*
	 * libfcgi's own close shuts the connection for writing, then waits
	 * until nginx closes its end, reading whatever nginx still sends (so
	 * that a TCP reset cannot lose the answer): the worker sits idle for
	 * a round trip through nginx after every answer.  When the request
	 * was read to its end (the empty record that closes its body), nginx
	 * sends nothing more, and the connection is closed at once.
	 */
	if (fr->keepConnection || fd < 0 || fr->in == NULL ||
	    FCGX_GetStr(&c, 1, fr->in) != 0 || FCGX_GetError(fr->in) != 0) {
		FCGX_Finish_r(fr);
		return;
	}
	fr->keepConnection = 1;
	FCGX_Finish_r(fr);
	fr->keepConnection = 0;
	if (fr->ipcFd == fd) {
		close(fd);
		fr->ipcFd = -1;
	}
}

/* Is a connection waiting on the listening socket? */
static int
queued(int fd)
{
	struct pollfd	 pfd;

	pfd.fd = fd;
	pfd.events = POLLIN;
	pfd.revents = 0;
	return poll(&pfd, 1, 0) == 1;
}

/* Serves the request on fr; 1 when its answer waits for the batch (b). */
static int
serve_one(struct req *r, FCGX_Request *fr, struct buf *resp, struct batch *b)
{
	struct timeval	 t0, t1;
	long long	 us;
	unsigned long	 joined;

	gettimeofday(&t0, NULL);
	joined = entity_store_batch_joined(r->store);
	r->env = fr->envp;
	r->in = fr->in;
	r->in_read = fcgi_read;
	r->body = "";
	r->status = 0;
	buf_init(&r->hdrs, r->arena);
	buf_init(&r->out, r->arena);
	if (worker_baseline) {
		r->status = 200;
		buf_add(&r->out, baseline, baseline_len);
	} else if (http_request_parse(r) == 0) {
		route_dispatch(r);
		http_check_memory(r);
	}
	buf_init(resp, r->arena);
	http_response(r, resp);
	/* It saw or made uncommitted writes: answered after the commit. */
	if (b != NULL && entity_store_batch_joined(r->store) != joined) {
		batch_hold(b, fr, r, resp, &t0);
		return 1;
	}
	FCGX_PutStr(resp->p, (int)resp->len, fr->out);
	gettimeofday(&t1, NULL);
	us = (t1.tv_sec - t0.tv_sec) * 1000000LL + (t1.tv_usec - t0.tv_usec);
	metrics_request(r, us);
	worker_log_request(r->method, r->path, r->status, us,
	    r->who != NULL ? r->who->name : NULL, r->reason, r->remote, 0);
	return 0;
}

void
worker_log_request(const char *method, const char *path, int status,
    long long us, const char *who, const char *reason, const char *remote,
    int batch)
{
	struct log_text	 t;

	/* "GET /api/v1/Contact 200 184us alice batch=3 reason=... client=..." */
	t.n = 0;
	log_add(&t, method != NULL ? method : "-");
	log_add(&t, " ");
	log_addn(&t, path != NULL ? path : "-", 200);
	log_add(&t, " ");
	log_addi(&t, status);
	log_add(&t, " ");
	log_addi(&t, us);
	log_add(&t, "us ");
	log_add(&t, who != NULL ? who : "-");
	if (batch > 0) {
		log_add(&t, " batch=");
		log_addi(&t, batch);
	}
	if (status >= 400) {
		log_add(&t, " reason=");
		log_add(&t, reason != NULL ? reason : "");
	}
	if (status == 401 || status >= 500) {
		log_add(&t, " client=");
		log_add(&t, remote != NULL ? remote : "-");
	}
	/* Internal and storage errors at error; failed sign-ins at warn. */
	log_emit(status >= 500 ? LOG_ERROR : status == 401 ? LOG_WARN :
	    LOG_INFO, &t);
}

/*
 * The next connection to serve: a parked one (kept by nginx) that has a
 * request, else a free slot when a connection waits on the listening
 * socket fd (*fresh = 1; FCGX_Accept_r takes it, unless another worker
 * was first).  With wait, it waits for one (the signals of wait let in),
 * watching life (the master's pipe: *gone = 1 when it closes); without,
 * it takes only what is ready now.  NULL when there is none, or the
 * batch is full.
 */
static FCGX_Request *
next_conn(struct batch *b, int fd, int life, const sigset_t *wait,
    int *fresh, int *gone)
{
	struct pollfd	 pfd[BATCH_MAX + 2];
	FCGX_Request	*slot;
	int		 n, np, i, rc;

	*fresh = *gone = 0;
	if (batch_full(b))
		return NULL;
	slot = batch_slot(b);
	n = np = batch_parked_fds(b, pfd, BATCH_MAX);
	if (slot != NULL) {
		pfd[n].fd = fd;
		pfd[n].events = POLLIN;
		pfd[n++].revents = 0;
	}
	if (wait != NULL) {
		pfd[n].fd = life;
		pfd[n].events = POLLIN;
		pfd[n++].revents = 0;
		rc = ppoll(pfd, (nfds_t)n, NULL, wait);
	} else
		rc = n > 0 ? poll(pfd, (nfds_t)n, 0) : 0;
	if (rc <= 0)
		return NULL;
	if (wait != NULL && pfd[n - 1].revents != 0) {
		*gone = 1;
		return NULL;
	}
	for (i = 0; i < np; i++)
		if (pfd[i].revents != 0)
			return batch_take(b, pfd[i].fd);
	if (slot != NULL && pfd[np].revents != 0) {
		*fresh = 1;
		return slot;
	}
	return NULL;
}

/*
 * The request just served wrote into the open batch txn, which holds
 * LMDB's writer lock: serve the requests already waiting too — on the
 * socket, or on connections nginx keeps open — their writes join the
 * batch; then commit the batch once and answer every request that wrote
 * in it (app/batch.c).  Requests that did not write are answered at once.
 */
static void
drain(struct batch *b, int fd, const struct conf *conf, struct store *st,
    struct arena *arena)
{
	struct req	 r;
	struct buf	 resp;
	FCGX_Request	*fr;
	int		 fresh, gone;

	while (entity_store_batch_open(st) &&
	    (fr = next_conn(b, fd, -1, NULL, &fresh, &gone)) != NULL) {
		if (FCGX_Accept_r(fr) < 0) {
			batch_done(b, fr);
			break;
		}
		memset(&r, 0, sizeof(r));
		r.arena = arena;
		r.conf = conf;
		r.store = st;
		if (!serve_one(&r, fr, &resp, b)) {
			batch_done(b, fr);
		}
		arena_reset(arena);
		entity_store_idle(st);
	}
	batch_finish(b, st, conf, arena);
	arena_reset(arena);
}

/* This machine's RAM in bytes. */
static size_t
phys_bytes(void)
{
	long	 pages = sysconf(_SC_PHYS_PAGES), size = sysconf(_SC_PAGESIZE);

	return pages > 0 && size > 0 ? (size_t)pages * (size_t)size : 0;
}

void
worker_run(const struct conf *conf, int fd, int life, int gen)
{
	struct store		*st = NULL;
	struct batch		*batch;
	struct arena		*arena;
	struct req		 r;
	struct buf		 resp;
	struct sigaction	 sa;
	sigset_t		 block, waitmask;
	FCGX_Request		*fr;
	struct timespec		 t0, t1;
	const char		*why;
	size_t			 mapped;
	int			 rc, big, fresh, gone;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_term;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sa.sa_handler = SIG_IGN;
	sigaction(SIGHUP, &sa, NULL);
	sigaction(SIGPIPE, &sa, NULL);
	sa.sa_handler = SIG_DFL;
	sigaction(SIGCHLD, &sa, NULL);
	sigaction(SIGALRM, &sa, NULL);
	/* SIGTERM is only let in while waiting for a connection. */
	sigemptyset(&block);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGINT);
	sigprocmask(SIG_SETMASK, &block, NULL);
	sigemptyset(&waitmask);

	if (entity_init(conf, &why) != 0) {
		log_error("worker: %s", why);
		_exit(2);
	}
	if ((rc = entity_store_open(conf, NULL, &st, &why)) != 0) {
		log_error("worker: cannot open the store in %s: %s",
		    conf->data_dir, error_reason(rc));
		_exit(2);
	}
	/* The store's pages in the page cache, mapped before the first
	   connection; not for a store over half the RAM (page tables). */
	clock_gettime(CLOCK_MONOTONIC, &t0);
	if (!worker_baseline &&
	    (mapped = entity_store_prefault(st, phys_bytes() / 2)) > 0) {
		clock_gettime(CLOCK_MONOTONIC, &t1);
		log_info("worker: mapped the store's %zu MiB in %ld ms",
		    mapped >> 20, (long)((t1.tv_sec - t0.tv_sec) * 1000 +
		    (t1.tv_nsec - t0.tv_nsec) / 1000000));
	}
	if (worker_baseline)
		baseline_init();
	if ((arena = arena_new()) == NULL ||
	    (batch = batch_new(fd, conf->write_batch)) == NULL)
		_exit(2);
	entity_store_batch(st, conf->write_batch > 1);
	FCGX_Init();
	if (worker_ready_fd >= 0) {
		/* Tells the master this worker takes connections. */
		(void)!write(worker_ready_fd, "r", 1);
		close(worker_ready_fd);
	}
	log_debug("worker generation %d ready", gen);
	while (!stop) {
		/*
		 * A worker that held a batch keeps the others waiting while
		 * connections are queued (it serves them, in order); with the
		 * queue empty it lets them take the next ones.
		 */
		if (entity_store_batch_leading(st) && !queued(fd))
			entity_store_batch_release(st);
		/*
		 * The next request: on a new connection, or — with nginx's
		 * fastcgi_keep_conn, not shipped — on one kept open after
		 * its last answer (parked in the batch's pool).
		 */
		fr = next_conn(batch, fd, life, &waitmask, &fresh, &gone);
		if (gone) {
			log_warn("worker %d: the master is gone; exiting",
			    (int)getpid());
			break;
		}
		if (fr == NULL)
			continue;
		/*
		 * Another worker holds a batch and serves the queue: let it
		 * (a write taken here would wait on its writer lock).
		 */
		if (fresh)
			entity_store_batch_wait(st, WORKER_GATE_MS);
		/* Non-blocking socket: another worker may have taken it. */
		if (FCGX_Accept_r(fr) < 0) {
			batch_done(batch, fr);
			continue;
		}
		memset(&r, 0, sizeof(r));
		r.arena = arena;
		r.conf = conf;
		r.store = st;
		if (!serve_one(&r, fr, &resp, batch)) {
			batch_done(batch, fr);
		}
		big = arena_used(arena) > WORKER_TRIM;
		arena_reset(arena);
		if (entity_store_batch_open(st))
			drain(batch, fd, conf, st, arena);
		entity_store_idle(st);
		if (big)
			malloc_trim(0);
	}
	free(baseline);
	batch_free(batch);
	arena_free(arena);
	entity_store_close(st);
#ifdef WORKER_LEAK_CHECK
	__lsan_do_leak_check();
#endif
	_exit(0);
}
