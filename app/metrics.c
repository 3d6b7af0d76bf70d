/*
 * The service's metrics: one shared anonymous mapping (MAP_SHARED) made by
 * the master before it forks, so that every worker, present and future,
 * adds to the same counters with atomic increments; the Prometheus text
 * rendering of them; and the metrics_allow address check.
 */
#include <sys/mman.h>
#include <sys/wait.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fastcrm/arena.h"
#include "fastcrm/http.h"
#include "fastcrm/metrics.h"
#include "fastcrm/route.h"
#include "fastcrm/store.h"

/* The fuzz build (tests/fuzz.sh) compiles without configure's DEFS. */
#ifndef PACKAGE_VERSION
#define PACKAGE_VERSION	"unknown"
#endif

enum family {
	FAM_UNMATCHED, FAM_UI, FAM_OAUTH2, FAM_APP, FAM_ATTACHMENT,
	FAM_RECORD, FAM_HEALTH, FAM_METRICS, FAM_MAX
};
static const char *const families[FAM_MAX] = {
	"unmatched", "ui", "oauth2", "app", "attachment", "record", "health",
	"metrics"
};

enum method { M_GET, M_POST, M_PUT, M_PATCH, M_DELETE, M_OTHER, M_MAX };
static const char *const methods[M_MAX] = {
	"GET", "POST", "PUT", "PATCH", "DELETE", "other"
};

#define ST_MIN	100
#define ST_MAX	600	/* statuses 100..599, one counter each */

/* Upper bounds of the duration buckets, in microseconds; then +Inf. */
static const long long bounds[] = {
	250, 500, 1000, 2500, 5000, 10000, 25000, 50000, 100000, 250000,
	500000, 1000000, 2500000, 5000000, 10000000
};
#define NBOUNDS	(sizeof(bounds) / sizeof(bounds[0]))

/* Restart causes: exit 0, exit non-zero, then signal 1..64. */
#define C_CLEAN		0
#define C_STATUS	1
#define C_SIGNAL	2
#define C_MAX		(C_SIGNAL + 65)

struct segment {
	uint64_t	 requests[FAM_MAX][M_MAX][ST_MAX - ST_MIN];
	uint64_t	 buckets[FAM_MAX][NBOUNDS + 1];
	uint64_t	 dur_us[FAM_MAX];	/* the count is the buckets' sum */
	uint64_t	 auth_failures;
	uint64_t	 map_full;
	uint64_t	 readers_cleared;
	uint64_t	 restarts[C_MAX];
	/* Write batches (group commit): commits by result, their durations,
	   the requests they answered, the time they were open. */
	uint64_t	 commits[2];		/* ok, failed */
	uint64_t	 commit_buckets[NBOUNDS + 1];
	uint64_t	 commit_us;
	uint64_t	 batch_requests;
	uint64_t	 batch_open_us;
	int64_t		 started;	/* the master's start, epoch s */
};

static struct segment	*seg;

#define ADD(x, n)	__atomic_fetch_add(&(x), (n), __ATOMIC_RELAXED)
#define GET(x)		__atomic_load_n(&(x), __ATOMIC_RELAXED)

int
metrics_init(void)
{
	void	*p;

	if (seg != NULL)
		return 0;
	p = mmap(NULL, sizeof(*seg), PROT_READ | PROT_WRITE,
	    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return -1;
	seg = p;
	seg->started = (int64_t)time(NULL);
	return 0;
}

static enum family
family(const struct req *r)
{
	const char	*p;

	if (r->route == NULL)
		return FAM_UNMATCHED;
	p = r->route->pattern;
	if (strcmp(p, "/") == 0)
		return FAM_UI;
	if (strcmp(p, "/healthz") == 0)
		return FAM_HEALTH;
	if (strcmp(p, "/metrics") == 0)
		return FAM_METRICS;
	if (strncmp(p, "/oauth2/", 8) == 0)
		return FAM_OAUTH2;
	if (strncmp(p, "/api/v1/App/", 12) == 0)
		return FAM_APP;
	if (strncmp(p, "/api/v1/Attachment", 18) == 0 ||
	    strstr(p, "/recording") != NULL)
		return FAM_ATTACHMENT;
	return FAM_RECORD;
}

static enum method
method(const char *m)
{
	if (m == NULL)
		return M_OTHER;
	switch (m[0]) {
	case 'G':
		return strcmp(m, "GET") == 0 ? M_GET : M_OTHER;
	case 'P':
		return strcmp(m, "POST") == 0 ? M_POST : strcmp(m, "PUT") == 0 ?
		    M_PUT : strcmp(m, "PATCH") == 0 ? M_PATCH : M_OTHER;
	case 'D':
		return strcmp(m, "DELETE") == 0 ? M_DELETE : M_OTHER;
	default:
		return M_OTHER;
	}
}

/* The histogram bucket of a duration of us microseconds. */
static size_t
bucket(long long us)
{
	size_t	 b;

	for (b = 0; b < NBOUNDS && us > bounds[b]; b++)
		continue;
	return b;
}

void
metrics_request(const struct req *r, long long us)
{
	enum family	 f;
	int		 st;

	if (seg == NULL)
		return;
	f = family(r);
	st = r->status;
	if (st < ST_MIN || st >= ST_MAX)
		st = 500;
	ADD(seg->requests[f][method(r->method)][st - ST_MIN], 1);
	if (us < 0)
		us = 0;
	ADD(seg->buckets[f][bucket(us)], 1);
	ADD(seg->dur_us[f], (uint64_t)us);
	if (st == 401)
		ADD(seg->auth_failures, 1);
	else if (st == 507)
		ADD(seg->map_full, 1);
}

void
metrics_commit(int requests, long long open_us, long long commit_us,
    int failed)
{
	if (seg == NULL)
		return;
	if (open_us < 0)
		open_us = 0;
	if (commit_us < 0)
		commit_us = 0;
	ADD(seg->commits[failed != 0], 1);
	ADD(seg->commit_buckets[bucket(commit_us)], 1);
	ADD(seg->commit_us, (uint64_t)commit_us);
	ADD(seg->batch_requests, (uint64_t)(requests > 0 ? requests : 0));
	ADD(seg->batch_open_us, (uint64_t)open_us);
}

void
metrics_worker_restart(int status)
{
	int	 c;

	if (seg == NULL)
		return;
	if (WIFSIGNALED(status))
		c = WTERMSIG(status) > 0 && WTERMSIG(status) <= 64 ?
		    C_SIGNAL + WTERMSIG(status) : C_SIGNAL;
	else
		c = WIFEXITED(status) && WEXITSTATUS(status) == 0 ? C_CLEAN :
		    C_STATUS;
	ADD(seg->restarts[c], 1);
}

void
metrics_readers_cleared(int n)
{
	if (seg != NULL && n > 0)
		ADD(seg->readers_cleared, (uint64_t)n);
}

static uint64_t
get(const uint64_t *p)
{
	return seg == NULL ? 0 : GET(*p);
}

static void
help(struct buf *o, const char *name, const char *type, const char *text)
{
	buf_printf(o, "# HELP %s %s\n# TYPE %s %s\n", name, text, name, type);
}

/*
 * The series of one histogram of durations (buckets: NBOUNDS + 1 counts,
 * NULL for zeros; sum_us their total), with the label family="fam"
 * unless fam is NULL.
 */
static void
render_histogram(struct buf *o, const char *name, const char *fam,
    const uint64_t *buckets, uint64_t sum_us)
{
	char		 lab[64];
	size_t		 b;
	uint64_t	 cum = 0;

	if (fam != NULL)
		snprintf(lab, sizeof(lab), "family=\"%s\",", fam);
	else
		lab[0] = '\0';
	for (b = 0; b <= NBOUNDS; b++) {
		cum += buckets != NULL ? GET(buckets[b]) : 0;
		if (b < NBOUNDS)
			buf_printf(o, "%s_bucket{%sle=\"%g\"} %llu\n", name,
			    lab, bounds[b] / 1e6, (unsigned long long)cum);
		else
			buf_printf(o, "%s_bucket{%sle=\"+Inf\"} %llu\n", name,
			    lab, (unsigned long long)cum);
	}
	/* Without a label: no braces, as Prometheus writes them. */
	if (fam != NULL)
		snprintf(lab, sizeof(lab), "{family=\"%s\"}", fam);
	buf_printf(o, "%s_sum%s %.6f\n", name, lab, sum_us / 1e6);
	/* The count is the +Inf bucket, as Prometheus requires. */
	buf_printf(o, "%s_count%s %llu\n", name, lab, (unsigned long long)cum);
}

static void
render_requests(struct buf *o)
{
	size_t	 f, m, s;
	uint64_t n;

	help(o, "fastcrm_http_requests_total", "counter",
	    "Requests answered, by route family, method and status.");
	for (f = 0; f < FAM_MAX; f++)
		for (m = 0; m < M_MAX; m++)
			for (s = 0; s < ST_MAX - ST_MIN; s++)
				if (seg != NULL &&
				    (n = GET(seg->requests[f][m][s])) > 0)
					buf_printf(o, "fastcrm_http_requests_total"
					    "{family=\"%s\",method=\"%s\","
					    "code=\"%zu\"} %llu\n", families[f],
					    methods[m], s + ST_MIN,
					    (unsigned long long)n);
	help(o, "fastcrm_http_request_duration_seconds", "histogram",
	    "Time from accepting a request to writing its answer.");
	for (f = 0; f < FAM_MAX; f++)
		render_histogram(o, "fastcrm_http_request_duration_seconds",
		    families[f], seg != NULL ? seg->buckets[f] : NULL,
		    seg != NULL ? GET(seg->dur_us[f]) : 0);
}

static void
render_commits(struct buf *o)
{
	help(o, "fastcrm_write_commits_total", "counter",
	    "Durable commits of write batches (group commit), by result.");
	buf_printf(o, "fastcrm_write_commits_total{result=\"ok\"} %llu\n",
	    (unsigned long long)get(seg != NULL ? &seg->commits[0] : NULL));
	buf_printf(o, "fastcrm_write_commits_total{result=\"failed\"} %llu\n",
	    (unsigned long long)get(seg != NULL ? &seg->commits[1] : NULL));
	help(o, "fastcrm_write_commit_duration_seconds", "histogram",
	    "Time one durable commit of a write batch took (the disk's "
	    "flushes).");
	render_histogram(o, "fastcrm_write_commit_duration_seconds", NULL,
	    seg != NULL ? seg->commit_buckets : NULL,
	    seg != NULL ? GET(seg->commit_us) : 0);
	help(o, "fastcrm_write_batch_requests_total", "counter",
	    "Requests whose answers waited for a batch's commit.");
	buf_printf(o, "fastcrm_write_batch_requests_total %llu\n",
	    (unsigned long long)get(seg != NULL ? &seg->batch_requests : NULL));
	help(o, "fastcrm_write_batch_open_seconds_total", "counter",
	    "Time write batches held the store's one writer lock before "
	    "their commits, serving their requests.");
	buf_printf(o, "fastcrm_write_batch_open_seconds_total %.6f\n",
	    seg != NULL ? GET(seg->batch_open_us) / 1e6 : 0.0);
}

static void
render_restarts(struct buf *o)
{
	const char	*name;
	char		 sig[32];
	size_t		 c;
	uint64_t	 n;

	help(o, "fastcrm_worker_restarts_total", "counter",
	    "Workers that died and were replaced, by cause.");
	buf_printf(o, "fastcrm_worker_restarts_total{cause=\"exit_status\"} "
	    "%llu\n", (unsigned long long)get(seg != NULL ?
	    &seg->restarts[C_STATUS] : NULL));
	for (c = 0; c < C_MAX; c++) {
		if (c == C_STATUS || seg == NULL ||
		    (n = GET(seg->restarts[c])) == 0)
			continue;
		if (c == C_CLEAN)
			name = "exit_clean";
		else if (c > C_SIGNAL && sigabbrev_np((int)(c - C_SIGNAL)) !=
		    NULL) {
			snprintf(sig, sizeof(sig), "SIG%s",
			    sigabbrev_np((int)(c - C_SIGNAL)));
			name = sig;
		} else {
			snprintf(sig, sizeof(sig), "signal_%zu", c - C_SIGNAL);
			name = sig;
		}
		buf_printf(o, "fastcrm_worker_restarts_total{cause=\"%s\"} "
		    "%llu\n", name, (unsigned long long)n);
	}
}

static void
render_store(struct buf *o, const struct store_info *si)
{
	help(o, "fastcrm_lmdb_map_size_bytes", "gauge",
	    "LMDB map size (map_size): the most the store can hold.");
	buf_printf(o, "fastcrm_lmdb_map_size_bytes %zu\n", si->map_size);
	help(o, "fastcrm_lmdb_used_bytes", "gauge",
	    "LMDB bytes up to the last page in use (the high-water mark).");
	buf_printf(o, "fastcrm_lmdb_used_bytes %zu\n", si->used);
	help(o, "fastcrm_lmdb_map_fill_ratio", "gauge",
	    "Used bytes over map size; writes fail with 507 near 1.");
	buf_printf(o, "fastcrm_lmdb_map_fill_ratio %.6f\n", si->map_size > 0 ?
	    (double)si->used / (double)si->map_size : 0.0);
	help(o, "fastcrm_lmdb_readers", "gauge",
	    "LMDB reader slots held by a process (each worker keeps one).");
	buf_printf(o, "fastcrm_lmdb_readers %d\n", si->readers);
	help(o, "fastcrm_lmdb_stale_readers", "gauge",
	    "Reader slots held by processes that no longer exist.");
	buf_printf(o, "fastcrm_lmdb_stale_readers %d\n", si->stale);
}

void
metrics_render(struct buf *o, const struct store_info *si)
{
	render_requests(o);
	help(o, "fastcrm_auth_failures_total", "counter",
	    "Requests refused for missing or wrong credentials (401).");
	buf_printf(o, "fastcrm_auth_failures_total %llu\n",
	    (unsigned long long)get(seg != NULL ? &seg->auth_failures : NULL));
	help(o, "fastcrm_storage_full_total", "counter",
	    "Requests refused because the store is full (507).");
	buf_printf(o, "fastcrm_storage_full_total %llu\n",
	    (unsigned long long)get(seg != NULL ? &seg->map_full : NULL));
	help(o, "fastcrm_lmdb_stale_readers_cleared_total", "counter",
	    "Reader slots of dead processes cleared by the master.");
	buf_printf(o, "fastcrm_lmdb_stale_readers_cleared_total %llu\n",
	    (unsigned long long)get(seg != NULL ? &seg->readers_cleared :
	    NULL));
	render_restarts(o);
	render_commits(o);
	help(o, "fastcrm_lmdb_readable", "gauge",
	    "1 when a read transaction on the store succeeded for this scrape.");
	buf_printf(o, "fastcrm_lmdb_readable %d\n", si != NULL);
	if (si != NULL)
		render_store(o, si);
	help(o, "fastcrm_start_time_seconds", "gauge",
	    "When the master started, in seconds since the epoch.");
	buf_printf(o, "fastcrm_start_time_seconds %lld\n",
	    seg != NULL ? (long long)seg->started : 0LL);
	help(o, "fastcrm_build_info", "gauge",
	    "Always 1; the version is the label.");
	buf_printf(o, "fastcrm_build_info{version=\"%s\"} 1\n",
	    PACKAGE_VERSION);
}

/* An address or prefix: family, 16 bytes, prefix length; -1 if neither. */
static int
parse_prefix(const char *s, int *fam, unsigned char a[16], int *bits)
{
	char		 host[INET6_ADDRSTRLEN + 8], *slash, *end;
	long		 b;
	size_t		 n;

	n = strlen(s);
	if (n == 0 || n >= sizeof(host))
		return -1;
	memcpy(host, s, n + 1);
	memset(a, 0, 16);
	if ((slash = strchr(host, '/')) != NULL)
		*slash++ = '\0';
	if (inet_pton(AF_INET, host, a) == 1)
		*fam = AF_INET, *bits = 32;
	else if (inet_pton(AF_INET6, host, a) == 1)
		*fam = AF_INET6, *bits = 128;
	else
		return -1;
	/* ::ffff:a.b.c.d is the IPv4 address a.b.c.d. */
	if (*fam == AF_INET6 && memcmp(a, "\0\0\0\0\0\0\0\0\0\0\xff\xff",
	    12) == 0 && slash == NULL) {
		memmove(a, a + 12, 4);
		memset(a + 4, 0, 12);
		*fam = AF_INET, *bits = 32;
	}
	if (slash != NULL) {
		if (*slash < '0' || *slash > '9')
			return -1;
		b = strtol(slash, &end, 10);
		if (*end != '\0' || b < 0 || b > *bits)
			return -1;
		*bits = (int)b;
	}
	return 0;
}

static int
in_prefix(const unsigned char *a, const unsigned char *p, int bits)
{
	int	 full = bits / 8, rest = bits % 8;

	if (memcmp(a, p, (size_t)full) != 0)
		return 0;
	return rest == 0 || ((a[full] ^ p[full]) & (0xff00 >> rest) & 0xff) ==
	    0;
}

const char *
metrics_cidr_check(const char *s)
{
	unsigned char	 a[16];
	int		 fam, bits;

	if (parse_prefix(s, &fam, a, &bits) != 0)
		return "must be an IPv4 or IPv6 address, optionally with a "
		    "/prefix length (127.0.0.1, 10.0.0.0/8, ::1)";
	return NULL;
}

int
metrics_addr_allowed(char *const *list, size_t n, const char *addr)
{
	static char		 lo4[] = "127.0.0.0/8", lo6[] = "::1";
	static char *const	 loopback[] = { lo4, lo6 };
	unsigned char		 a[16], p[16];
	int			 fa, fp, ba, bp;
	size_t			 i;

	if (addr == NULL || parse_prefix(addr, &fa, a, &ba) != 0 ||
	    strchr(addr, '/') != NULL)
		return 0;
	if (list == NULL) {
		list = loopback;
		n = 2;
	}
	for (i = 0; i < n; i++)
		if (parse_prefix(list[i], &fp, p, &bp) == 0 && fp == fa &&
		    in_prefix(a, p, bp))
			return 1;
	return 0;
}
