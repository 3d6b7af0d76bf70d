/*
 * One line per event on stderr: "2026-01-02T03:04:05Z LEVEL [pid] text".
 * A single write(2) per line keeps lines from different workers whole.
 * With a log file, stderr is that file (opened for appending); SIGUSR1
 * makes every process reopen it by its name, after logrotate moved it.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "fastcrm/log.h"

static int	 debug;
static char	 log_path[PATH_MAX];	/* "" : stderr as inherited */
static int	 saved_stderr = -1;	/* the inherited one, once replaced */

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

/*
 * Opens the log file and makes it stderr; "" or NULL keeps stderr as it
 * is.  Returns -1 with errno set when the file cannot be opened.
 */
int
log_set_file(const char *path)
{
	if (path == NULL || *path == '\0') {
		log_path[0] = '\0';
		if (saved_stderr != -1)
			dup2(saved_stderr, STDERR_FILENO);
		return 0;
	}
	if (strlen(path) >= sizeof(log_path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	if (saved_stderr == -1 &&
	    (saved_stderr = fcntl(STDERR_FILENO, F_DUPFD_CLOEXEC, 3)) == -1)
		return -1;
	memcpy(log_path, path, strlen(path) + 1);
	if (log_reopen() == -1) {
		log_path[0] = '\0';
		return -1;
	}
	return 0;
}

/*
 * Reopens the log file onto stderr.  Only async-signal-safe calls, so a
 * SIGUSR1 handler may call it; a line being written goes whole to the old
 * file or the new one.  Without a log file it does nothing.
 */
int
log_reopen(void)
{
	int	 fd, saved;

	if (log_path[0] == '\0')
		return 0;
	fd = open(log_path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
	if (fd == -1)
		return -1;
	if (fd != STDERR_FILENO) {
		if (dup2(fd, STDERR_FILENO) == -1) {
			saved = errno;
			close(fd);
			errno = saved;
			return -1;
		}
		close(fd);
	}
	return 0;
}
