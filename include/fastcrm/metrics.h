/*
 * The service's counters for GET /metrics.  They live in one shared
 * anonymous mapping that the master creates before it forks the workers,
 * so they are the whole service's (every worker adds to the same ones,
 * with atomic increments) and survive a worker's restart or a reload.
 * Without metrics_init (the command line, unit tests) every call is a
 * no-op and the rendering shows zeros.
 */
#ifndef FASTCRM_METRICS_H
#define FASTCRM_METRICS_H

#include <stddef.h>

struct buf;
struct conf;
struct req;
struct store_info;

/* Maps the shared segment (master, once, before forking); 0 or -1. */
int		 metrics_init(void);
/*
 * Counts one answered request of r (route family, method, status, 401s,
 * 507s) and its duration us in the histogram.  A few atomic adds; no
 * system call.
 */
void		 metrics_request(const struct req *r, long long us);
/*
 * A worker committed a write batch: requests answered after it, the
 * microseconds it held the writer lock before the commit (open_us) and the
 * commit's own (commit_us); failed when the commit did not happen.
 */
void		 metrics_commit(int requests, long long open_us,
		    long long commit_us, int failed);
/* The master: a worker of the current generation died (waitpid status). */
void		 metrics_worker_restart(int status);
/* The master: n stale LMDB reader slots cleared. */
void		 metrics_readers_cleared(int n);
/*
 * Appends the Prometheus text exposition (format 0.0.4) of every counter,
 * with the store's gauges from si (NULL: not shown), to out.
 */
void		 metrics_render(struct buf *out, const struct store_info *si);

/*
 * Whether the address addr (REMOTE_ADDR, IPv4 or IPv6 text) is in the
 * list of addresses / CIDR prefixes (n entries; NULL with 0: loopback,
 * 127.0.0.0/8 and ::1).  1 or 0.
 */
int		 metrics_addr_allowed(char *const *list, size_t n,
		    const char *addr);
/* NULL when s is an address or prefix metrics_allow takes, else why not. */
const char	*metrics_cidr_check(const char *s);

#endif
