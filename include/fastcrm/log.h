/*
 * Logging: one line per event to stderr, prefixed with time, level and
 * pid.  The worker writes one line per request; library modules return
 * errors and do not log, except for the warnings an administrator must see.
 */
#ifndef FASTCRM_LOG_H
#define FASTCRM_LOG_H

#include <stddef.h>

void	 log_info(const char *, ...) __attribute__((format(printf, 1, 2)));
void	 log_warn(const char *, ...) __attribute__((format(printf, 1, 2)));
void	 log_error(const char *, ...) __attribute__((format(printf, 1, 2)));
/* Enables debug lines. */
void	 log_set_debug(int);
void	 log_debug(const char *, ...) __attribute__((format(printf, 1, 2)));
/*
 * What every line's text goes through: copies n bytes of in to out
 * (cap bytes), each control character (C0, DEL, C1) and each byte that
 * is not part of well-formed UTF-8 written as \xNN, stopping before what
 * does not fit whole.  Returns the bytes written (< cap; no NUL added).
 */
size_t	 log_escape(const char *in, size_t n, char *out, size_t cap);

/*
 * A line's text put together without printf (the request line, written
 * for every request): log_add appends a string, log_addn at most max
 * bytes of one, log_addi a number, each cut at LOG_TEXT bytes; log_emit
 * escapes and writes it as log_info and the others do.
 */
#define LOG_TEXT	2048	/* a line's text, before escaping */
enum log_level { LOG_DEBUG, LOG_INFO, LOG_WARN, LOG_ERROR };
struct log_text {
	size_t	 n;
	char	 p[LOG_TEXT];
};
void	 log_add(struct log_text *, const char *);
void	 log_addn(struct log_text *, const char *, size_t max);
void	 log_addi(struct log_text *, long long);
void	 log_emit(enum log_level, const struct log_text *);

/* The log file (stderr goes there), and reopening it (signal-safe). */
int	 log_set_file(const char *);
int	 log_reopen(void);

#endif
