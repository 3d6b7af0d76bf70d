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
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "fastcrm/arena.h"
#include "fastcrm/log.h"
#include "fastcrm/util.h"

static int	 debug;
static char	 log_path[PATH_MAX];	/* "" : stderr as inherited */
static int	 saved_stderr = -1;	/* the inherited one, once replaced */


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
	size_t			 i = 0, o = 0, j, k;
	char			 hex[3];

	if (cap == 0)
		return 0;
	while (i < n) {
		/* Printable ASCII, most of every line, a run at a time. */
		for (j = i; j < n && text[j] >= 0x20 && text[j] < 0x7f; j++)
			;
		if (j > i) {
			k = j - i;
			if (k > cap - 1 - o)
				k = cap - 1 - o;
			memcpy(out + o, text + i, k);
			o += k;
			i += k;
			if (i < j)
				break;
			continue;
		}
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
		out[o++] = '\\';
		out[o++] = 'x';
		util_hex(text + i++, 1, hex);
		out[o++] = hex[0];
		out[o++] = hex[1];
	}
	return o;
}

/* This process's pid as text: known until a fork (log_forked). */
static char	 pid_text[BUF_DEC_MAX + 4];
static size_t	 pid_len;

static void
log_forked(void)
{
	pid_len = 0;
}

/* "2026-01-02T03:04:05Z LEVEL [pid] " into out; its length. */
static size_t
prefix(const char *level, char *out)
{
	static time_t	 last = (time_t)-1;
	static char	 stamp[32];
	static size_t	 stamp_len;
	static int	 watching;
	struct tm	 tm;
	time_t		 now = time(NULL);
	size_t		 n, k;

	/* Formatted once a second. */
	if (now != last) {
		gmtime_r(&now, &tm);
		stamp_len = strftime(stamp, sizeof(stamp),
		    "%Y-%m-%dT%H:%M:%SZ ", &tm);
		last = now;
	}
	if (pid_len == 0) {
		if (!watching) {
			(void)pthread_atfork(NULL, NULL, log_forked);
			watching = 1;
		}
		pid_text[0] = '[';
		pid_len = 1 + buf_dec(pid_text + 1, (long long)getpid());
		pid_text[pid_len++] = ']';
		pid_text[pid_len++] = ' ';
	}
	memcpy(out, stamp, stamp_len);
	n = stamp_len;
	k = strlen(level);
	memcpy(out + n, level, k);
	n += k;
	out[n++] = ' ';
	memcpy(out + n, pid_text, pid_len);
	return n + pid_len;
}

static const char *const level_name[] = {
	[LOG_DEBUG] = "debug", [LOG_INFO] = "info", [LOG_WARN] = "warn",
	[LOG_ERROR] = "error",
};

static void
emit(enum log_level level, const char *text, size_t tn)
{
	char	 line[LOG_TEXT * 4 + 64];
	size_t	 n;

	n = prefix(level_name[level], line);
	n += log_escape(text, tn, line + n, sizeof(line) - n - 1);
	line[n++] = '\n';
	(void)!write(STDERR_FILENO, line, n);
}

static void
log_line(enum log_level level, const char *fmt, va_list ap)
{
	char	 text[LOG_TEXT];
	int	 m;

	m = vsnprintf(text, sizeof(text), fmt, ap);
	emit(level, text, m < 0 ? 0 : (size_t)m < sizeof(text) ? (size_t)m :
	    sizeof(text) - 1);
}

void
log_addn(struct log_text *t, const char *s, size_t max)
{
	size_t	 k;

	for (k = 0; k < max && s[k] != '\0'; k++)
		;
	if (k > sizeof(t->p) - t->n)
		k = sizeof(t->p) - t->n;
	memcpy(t->p + t->n, s, k);
	t->n += k;
}

void
log_add(struct log_text *t, const char *s)
{
	log_addn(t, s, sizeof(t->p));
}

void
log_addi(struct log_text *t, long long v)
{
	char	 d[BUF_DEC_MAX];
	size_t	 k = buf_dec(d, v);

	if (k <= sizeof(t->p) - t->n) {
		memcpy(t->p + t->n, d, k);
		t->n += k;
	}
}

void
log_emit(enum log_level level, const struct log_text *t)
{
	if (level != LOG_DEBUG || debug)
		emit(level, t->p, t->n);
}

void
log_info(const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	log_line(LOG_INFO, fmt, ap);
	va_end(ap);
}

void
log_warn(const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	log_line(LOG_WARN, fmt, ap);
	va_end(ap);
}

void
log_error(const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	log_line(LOG_ERROR, fmt, ap);
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
	log_line(LOG_DEBUG, fmt, ap);
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
