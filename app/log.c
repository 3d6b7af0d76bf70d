/*
 * One line per event on stderr: "2026-01-02T03:04:05Z LEVEL [pid] text".
 * A single write(2) per line keeps lines from different workers whole.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "fastcrm/log.h"

static int	 debug;

static void
log_line(const char *level, const char *fmt, va_list ap)
{
	char		 line[2048];
	struct tm	 tm;
	time_t		 now;
	size_t		 n;
	int		 m;
	char		*p;

	now = time(NULL);
	gmtime_r(&now, &tm);
	n = strftime(line, sizeof(line), "%Y-%m-%dT%H:%M:%SZ ", &tm);
	m = snprintf(line + n, sizeof(line) - n, "%s [%d] ", level,
	    (int)getpid());
	if (m > 0)
		n += (size_t)m;
	m = vsnprintf(line + n, sizeof(line) - n - 1, fmt, ap);
	if (m > 0)
		n += (size_t)m < sizeof(line) - n - 1 ? (size_t)m :
		    sizeof(line) - n - 2;
	/* Keep the line one line. */
	for (p = line; p < line + n; p++)
		if (*p == '\n' || *p == '\r')
			*p = ' ';
	line[n++] = '\n';
	(void)!write(STDERR_FILENO, line, n);
}

void
log_info(const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	log_line("info", fmt, ap);
	va_end(ap);
}

void
log_warn(const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	log_line("warn", fmt, ap);
	va_end(ap);
}

void
log_error(const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	log_line("error", fmt, ap);
	va_end(ap);
}

void
log_set_debug(int on)
{
	debug = on;
}

void
log_debug(const char *fmt, ...)
{
	va_list	 ap;

	if (!debug)
		return;
	va_start(ap, fmt);
	log_line("debug", fmt, ap);
	va_end(ap);
}
