/*
 * TAP for the C unit tests, in one header (static functions: each test
 * program is one file).  ok(cond, fmt, ...) prints "ok N - ..." or
 * "not ok N - ..." followed by "# at FILE:LINE" and, when tap_diag is
 * set and not empty, "# msg: <tap_diag>"; tap_last is the last condition;
 * tap_done() prints the plan and returns the exit status.
 */
#ifndef FASTCRM_TESTS_TAP_H
#define FASTCRM_TESTS_TAP_H

#include <stdarg.h>
#include <stdio.h>
#include <unistd.h>

static int		 tap_ntest, tap_nfail, tap_last;
static const char	*tap_diag;

#define ok(cond, ...)	tap_ok((cond) != 0, __FILE__, __LINE__, __VA_ARGS__)

static int	tap_ok(int, const char *, int, const char *, ...)
		    __attribute__((format(printf, 4, 5), unused));

static int
tap_ok(int cond, const char *file, int line, const char *fmt, ...)
{
	va_list	 ap;

	tap_ntest++;
	if (!cond)
		tap_nfail++;
	printf("%sok %d - ", cond ? "" : "not ", tap_ntest);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	if (!cond) {
		printf("# at %s:%d\n", file, line);
		if (tap_diag != NULL && *tap_diag != '\0')
			printf("# msg: %s\n", tap_diag);
	}
	tap_last = cond;
	return cond;
}

static int	tap_done(void) __attribute__((unused));

/* The plan, a count of failures, and the exit status. */
static int
tap_done(void)
{
	printf("1..%d\n", tap_ntest);
	if (tap_nfail > 0)
		printf("# %d of %d failed\n", tap_nfail, tap_ntest);
	return tap_nfail != 0;
}

static void	tap_rm_store(const char *) __attribute__((unused));

/* Removes a temporary LMDB environment: its two files and the directory. */
static void
tap_rm_store(const char *dir)
{
	char	 p[512];

	snprintf(p, sizeof(p), "%s/data.mdb", dir);
	unlink(p);
	snprintf(p, sizeof(p), "%s/lock.mdb", dir);
	unlink(p);
	rmdir(dir);
}

#endif
