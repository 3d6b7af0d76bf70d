/*
 * Unit tests for app/metrics.c: the metrics_allow address matching and
 * the counters' rendering (one process; the sharing between workers is
 * tested end to end by tests/e2e_metrics.py); prints TAP.
 */
#include <sys/wait.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fastcrm/arena.h"
#include "fastcrm/http.h"
#include "fastcrm/metrics.h"
#include "fastcrm/route.h"
#include "fastcrm/store.h"
#include "tap.h"


static int
allowed(const char *list, const char *addr)
{
	char	*v[8], *copy, *s, *save;
	size_t	 n = 0;
	int	 rc;

	if (list == NULL)
		return metrics_addr_allowed(NULL, 0, addr);
	copy = strdup(list);
	for (s = strtok_r(copy, " ", &save); s != NULL && n < 8;
	    s = strtok_r(NULL, " ", &save))
		v[n++] = s;
	rc = metrics_addr_allowed(v, n, addr);
	free(copy);
	return rc;
}

static void
test_allow(void)
{
	ok(allowed(NULL, "127.0.0.1"), "default: 127.0.0.1 allowed");
	ok(allowed(NULL, "127.3.2.1"), "default: 127.0.0.0/8 allowed");
	ok(allowed(NULL, "::1"), "default: ::1 allowed");
	ok(allowed(NULL, "::ffff:127.0.0.1"), "default: v4-mapped loopback");
	ok(!allowed(NULL, "10.0.0.1"), "default: 10.0.0.1 refused");
	ok(!allowed(NULL, "::2"), "default: ::2 refused");
	ok(!allowed(NULL, "-"), "no address: refused");
	ok(!allowed(NULL, NULL), "NULL address: refused");
	ok(!allowed(NULL, "127.0.0.1/8"), "a prefix is not an address");
	ok(allowed("127.0.0.1", "127.0.0.1"), "exact address");
	ok(!allowed("127.0.0.1", "127.0.0.2"), "exact address only");
	ok(allowed("10.0.0.0/8 192.168.1.0/24", "10.200.3.4"), "in /8");
	ok(allowed("10.0.0.0/8 192.168.1.0/24", "192.168.1.77"), "in /24");
	ok(!allowed("10.0.0.0/8 192.168.1.0/24", "192.168.2.1"), "not in /24");
	ok(allowed("192.168.1.128/25", "192.168.1.200"), "in /25");
	ok(!allowed("192.168.1.128/25", "192.168.1.127"), "not in /25");
	ok(allowed("0.0.0.0/0", "8.8.8.8"), "/0 takes every IPv4 address");
	ok(!allowed("0.0.0.0/0", "::1"), "an IPv4 prefix takes no IPv6 one");
	ok(allowed("2001:db8::/32", "2001:db8:1::5"), "in an IPv6 /32");
	ok(!allowed("2001:db8::/32", "2001:db9::5"), "not in an IPv6 /32");
	ok(allowed("fe80::/10", "febf::1"), "in an IPv6 /10");
	ok(!allowed("fe80::/10", "fec0::1"), "not in an IPv6 /10");
	ok(metrics_cidr_check("10.0.0.0/8") == NULL, "check: 10.0.0.0/8");
	ok(metrics_cidr_check("::1") == NULL, "check: ::1");
	ok(metrics_cidr_check("10.0.0.0/33") != NULL, "check: /33 refused");
	ok(metrics_cidr_check("::/129") != NULL, "check: /129 refused");
	ok(metrics_cidr_check("10.0.0.0/") != NULL, "check: empty prefix");
	ok(metrics_cidr_check("10.0.0.0/-1") != NULL, "check: negative");
	ok(metrics_cidr_check("10.0.0.0/8x") != NULL, "check: junk after");
	ok(metrics_cidr_check("localhost") != NULL, "check: a name refused");
	ok(metrics_cidr_check("") != NULL, "check: empty refused");
}

static int
has(const struct buf *b, const char *line)
{
	const char	*p = b->p;
	size_t		 n = strlen(line);

	while ((p = strstr(p, line)) != NULL) {
		if ((p == b->p || p[-1] == '\n') && p[n] == '\n')
			return 1;
		p += n;
	}
	printf("# missing: %s\n", line);
	return 0;
}

static void
test_render(void)
{
	static const struct route rec = { "GET", "/api/v1/:entity", ACT_READ,
	    NULL, NULL, 0 };
	struct store_info	 si = { 1000, 250, 2, 0 };
	struct arena		*a = arena_new();
	struct req		 r;
	struct buf		 b;
	pid_t			 pid;
	int			 status, i;

	buf_init(&b, a);
	memset(&r, 0, sizeof(r));
	metrics_render(&b, NULL);
	ok(has(&b, "fastcrm_auth_failures_total 0"), "no segment: zeros");
	ok(has(&b, "fastcrm_lmdb_readable 0"), "no store info: not readable");
	ok(strstr(b.p, "fastcrm_lmdb_map_size_bytes") == NULL,
	    "no store info: no map gauges");

	ok(metrics_init() == 0, "metrics_init maps the segment");
	r.route = &rec;
	r.method = "GET";
	for (i = 0; i < 3; i++) {
		r.status = 200;
		metrics_request(&r, 300);
	}
	r.status = 401;
	metrics_request(&r, 20000000);
	r.route = NULL;
	r.method = "BREW";
	r.status = 404;
	metrics_request(&r, 10);
	/* A child, as a worker is: its counts land in the same segment. */
	if ((pid = fork()) == 0) {
		r.route = &rec;
		r.method = "POST";
		r.status = 507;
		metrics_request(&r, 1000);
		_exit(0);
	}
	waitpid(pid, &status, 0);
	metrics_worker_restart(status);
	if ((pid = fork()) == 0) {
		raise(SIGTERM);
		_exit(0);
	}
	waitpid(pid, &status, 0);
	metrics_worker_restart(status);
	metrics_readers_cleared(2);
	metrics_commit(3, 1500, 2000, 0);
	metrics_commit(1, -5, 30000, 1);

	buf_init(&b, a);
	metrics_render(&b, &si);
	ok(has(&b, "fastcrm_http_requests_total{family=\"record\","
	    "method=\"GET\",code=\"200\"} 3"), "3 GET 200 record");
	ok(has(&b, "fastcrm_http_requests_total{family=\"record\","
	    "method=\"GET\",code=\"401\"} 1"), "1 GET 401 record");
	ok(has(&b, "fastcrm_http_requests_total{family=\"unmatched\","
	    "method=\"other\",code=\"404\"} 1"), "an unknown method: other");
	ok(has(&b, "fastcrm_http_requests_total{family=\"record\","
	    "method=\"POST\",code=\"507\"} 1"), "a child's count is seen");
	ok(has(&b, "fastcrm_storage_full_total 1"), "one 507");
	ok(has(&b, "fastcrm_auth_failures_total 1"), "one 401");
	ok(has(&b, "fastcrm_http_request_duration_seconds_bucket{family="
	    "\"record\",le=\"0.00025\"} 0"), "300 us is above 0.25 ms");
	ok(has(&b, "fastcrm_http_request_duration_seconds_bucket{family="
	    "\"record\",le=\"0.0005\"} 3"), "three at or below 0.5 ms");
	ok(has(&b, "fastcrm_http_request_duration_seconds_bucket{family="
	    "\"record\",le=\"10\"} 4"), "cumulative buckets");
	ok(has(&b, "fastcrm_http_request_duration_seconds_bucket{family="
	    "\"record\",le=\"+Inf\"} 5"), "20 s lands in +Inf only");
	ok(has(&b, "fastcrm_http_request_duration_seconds_count{family="
	    "\"record\"} 5"), "count = +Inf bucket");
	ok(has(&b, "fastcrm_http_request_duration_seconds_sum{family="
	    "\"record\"} 20.001900"), "sum in seconds");
	ok(has(&b, "fastcrm_worker_restarts_total{cause=\"exit_clean\"} 1"),
	    "a clean exit is a cause");
	ok(has(&b, "fastcrm_worker_restarts_total{cause=\"SIGTERM\"} 1"),
	    "a signal is a cause, by name");
	ok(has(&b, "fastcrm_worker_restarts_total{cause=\"exit_status\"} 0"),
	    "exit_status is always shown");
	ok(has(&b, "fastcrm_lmdb_stale_readers_cleared_total 2"),
	    "stale readers cleared");
	ok(has(&b, "fastcrm_write_commits_total{result=\"ok\"} 1"),
	    "one commit done");
	ok(has(&b, "fastcrm_write_commits_total{result=\"failed\"} 1"),
	    "one commit failed");
	ok(has(&b, "fastcrm_write_commit_duration_seconds_bucket{le="
	    "\"0.001\"} 0"), "commit histogram: 2 ms is above 1 ms");
	ok(has(&b, "fastcrm_write_commit_duration_seconds_bucket{le="
	    "\"0.0025\"} 1"), "commit histogram: 2 ms at or below 2.5 ms");
	ok(has(&b, "fastcrm_write_commit_duration_seconds_bucket{le="
	    "\"+Inf\"} 2"), "commit histogram: both");
	ok(has(&b, "fastcrm_write_commit_duration_seconds_sum 0.032000"),
	    "commit histogram: no labels, sum in seconds");
	ok(has(&b, "fastcrm_write_commit_duration_seconds_count 2"),
	    "commit histogram: count");
	ok(has(&b, "fastcrm_write_batch_requests_total 4"),
	    "requests answered after commits");
	ok(has(&b, "fastcrm_write_batch_open_seconds_total 0.001500"),
	    "time open; a negative span counts as none");
	ok(has(&b, "fastcrm_lmdb_map_fill_ratio 0.250000"), "fill ratio");
	ok(has(&b, "fastcrm_lmdb_readers 2"), "readers");
	arena_free(a);
}

int
main(void)
{
	test_allow();
	test_render();
	return tap_done();
}
