/*
 * One line per event on stderr: "2026-01-02T03:04:05Z LEVEL [pid] text".
 * A single write(2) per line keeps lines from different workers whole.
 * The text is the one place where what a client sent (paths, names,
 * reasons) meets the log, so it is escaped here: every control character
 * (C0, DEL, C1) and every byte that is not UTF-8 is written as \xNN.
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
#include "fastcrm/util.h"

static int	 debug;
static char	 log_path[PATH_MAX];	/* "" : stderr as inherited */
static int	 saved_stderr = -1;	/* the inherited one, once replaced */

#define LOG_TEXT	2048	/* the formatted text, before escaping */

/* Length of the UTF-8 sequence at p (at most n bytes) that is neither a
   control character nor malformed; 0 when p[0] must be escaped. */
static size_t
utf8_ok(const unsigned char *p, size_t n)
{
	unsigned long	 cp;
	size_t		 len;

	if ((len = util_utf8_char(p, n, &cp)) == 0 || cp < 0x20 ||
	    cp == 0x7f || (cp >= 0x80 && cp <= 0x9f))
		return 0;
	return len;
}

size_t
log_escape(const char *in, size_t n, char *out, size_t cap)
{
	const unsigned char	*text = (const unsigned char *)in;
	size_t			 i = 0, o = 0, k;

	while (i < n) {
		if ((k = utf8_ok(text + i, n - i)) > 0) {
			if (o + k >= cap)
				break;
			memcpy(out + o, text + i, k);
			o += k;
			i += k;
			continue;
		}
		if (o + 4 >= cap)
			break;
		snprintf(out + o, 5, "\\x%02x", text[i++]);
		o += 4;
	}
	return o;
}

static void
log_line(const char *level, const char *fmt, va_list ap)
{
	char		 text[LOG_TEXT], line[LOG_TEXT * 4 + 64];
	struct tm	 tm;
	time_t		 now;
	size_t		 n, tn;
	int		 m;

	now = time(NULL);
	gmtime_r(&now, &tm);
	n = strftime(line, sizeof(line), "%Y-%m-%dT%H:%M:%SZ ", &tm);
	m = snprintf(line + n, sizeof(line) - n, "%s [%d] ", level,
	    (int)getpid());
	if (m > 0)
		n += (size_t)m;
	m = vsnprintf(text, sizeof(text), fmt, ap);
	tn = m < 0 ? 0 : (size_t)m < sizeof(text) ? (size_t)m :
	    sizeof(text) - 1;
	n += log_escape(text, tn, line + n, sizeof(line) - n - 1);
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
