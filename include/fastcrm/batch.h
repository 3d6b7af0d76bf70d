/*
 * Write batching in a worker (group commit): the answers of requests that
 * wrote into the open batch txn (store_batch), kept until one durable
 * commit covers them all.  app/batch.c; the worker loop (app/worker.c)
 * decides which requests join.
 */
#ifndef FASTCRM_BATCH_H
#define FASTCRM_BATCH_H

#include <sys/time.h>

#include <fcgiapp.h>

/* Requests one batch holds at most (the first one and BATCH_MAX - 1 more). */
#define BATCH_MAX	32

struct arena;
struct batch;
struct pollfd;
struct buf;
struct conf;
struct req;
struct store;

/*
 * The batch state of a worker listening on fd, holding at most max
 * (1 to BATCH_MAX) answers; NULL when out of memory.
 */
struct batch	*batch_new(int fd, int max);
void		 batch_free(struct batch *);
/*
 * The pool of FastCGI request structs is every connection the worker has
 * open.  batch_slot: a free one to accept the next connection into, or
 * NULL when the batch is full or every slot is in use.  batch_done ends
 * fr's request (worker_finish; also after a failed FCGX_Accept_r): a
 * connection nginx keeps (fastcgi_keep_conn) stays open, parked, else the
 * slot is free again.
 * batch_parked_fds puts up to n parked connections into pfd (POLLIN) and
 * returns how many; batch_take takes the parked one on fd to serve its
 * next request (NULL if none is).
 */
FCGX_Request	*batch_slot(struct batch *);
int		 batch_full(const struct batch *);
void		 batch_done(struct batch *, FCGX_Request *fr);
int		 batch_parked_fds(const struct batch *, struct pollfd *pfd,
		    int n);
FCGX_Request	*batch_take(struct batch *, int fd);
/*
 * Keeps r's rendered answer resp (copied) and what its log line says, to
 * send on fr once the batch commits; t0 is when the request began.
 */
void		 batch_hold(struct batch *, FCGX_Request *fr,
		    const struct req *r, const struct buf *resp,
		    const struct timeval *t0);
/* Answers held; batch_full: as many as the batch takes. */
int		 batch_held(const struct batch *);
/*
 * Commits the batch (store_batch_commit), then sends every held answer —
 * or, when the commit failed, an error answer in its place — logs each
 * request's line and finishes its FastCGI request.  a is scratch memory
 * for the error answers (reset by the caller).
 */
void		 batch_finish(struct batch *, struct store *,
		    const struct conf *, struct arena *a);

#endif
