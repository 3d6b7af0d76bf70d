/*
 * Small helpers shared by every floor: ids, time, phone numbers, hex,
 * SHA-256, UTF-8.  All pure functions; no allocation unless an arena is
 * passed (or a SHA-256 in pieces is begun).
 */
#ifndef FASTCRM_UTIL_H
#define FASTCRM_UTIL_H

#include <stddef.h>

#include "fastcrm/arena.h"

#define UTIL_ID_LEN	17
#define UTIL_SHA256_LEN	32	/* bytes; its hex takes twice that and a NUL */

/* A new record id: 17 lowercase hex chars, time-ordered, plus NUL. */
void	 util_id_new(char out[UTIL_ID_LEN + 1]);
/* 1 if s is a well-formed id (17 lowercase hex). */
int	 util_id_valid(const char *s);
/* Fills out with n random bytes; 0 on success. */
int	 util_random(void *out, size_t n);
/* Now as "YYYY-MM-DD HH:MM:SS" UTC. */
void	 util_now(char out[20]);
/* Seconds since the epoch for "YYYY-MM-DD HH:MM:SS" (UTC); 0 on success. */
int	 util_datetime_epoch(const char *, long long *);
/* Epoch seconds to "YYYY-MM-DD HH:MM:SS". */
void	 util_datetime_fmt(long long, char out[20]);
/*
 * Reads a datetime as EspoCRM's "YYYY-MM-DD HH:MM[:SS]", ISO-8601 with
 * optional fraction and zone, or epoch seconds / milliseconds, and writes
 * EspoCRM's form.  0 on success, -1 when it is none of those.
 */
int	 util_datetime_parse(const char *, char out[20]);
/* "YYYY-MM-DD" check; 0 when valid. */
int	 util_date_parse(const char *, char out[11]);
/* ASCII lower-case copy in the arena. */
char	*util_lower(struct arena *, const char *);
/* Constant-time comparison; 1 when equal. */
int	 util_ct_equal(const void *, const void *, size_t);

/*
 * Normalises a phone number to E.164 ("+15550102000") with the default
 * country code cc for national numbers.  A leading space counts as a `+`
 * (an unencoded `+` in a query string).  Returns the E.164 form, or NULL
 * when the text has no usable digits (caller keeps it as given).
 */
char	*util_phone_e164(struct arena *, const char *, const char *cc);
/* The digits of s, in the arena. */
char	*util_digits(struct arena *, const char *);

/*
 * A copy of message s in static storage (one per process, overwritten by
 * the next call), so that a reason outlives the arena it pointed into;
 * NULL for NULL.
 */
const char	*util_kept(const char *s);

/* The wall clock in seconds, with microseconds (progress and timings). */
double		 util_seconds(void);

/* n bytes of p as 2n lowercase hex digits and a NUL in out. */
void		 util_hex(const void *p, size_t n, char *out);

/* SHA-256 of n bytes of p, as bytes or as 64 hex digits and a NUL. */
void		 util_sha256(const void *p, size_t n,
		    unsigned char md[UTIL_SHA256_LEN]);
void		 util_sha256_hex(const void *p, size_t n,
		    char out[UTIL_SHA256_LEN * 2 + 1]);

/*
 * A SHA-256 taken in pieces (a file read in chunks): init, update for
 * each piece, final for the hex digest; the calls return 0 on success.
 * util_sha256_free releases it, after final or after a failure (also
 * of init).
 */
struct util_sha256 {
	void	*ctx;		/* OpenSSL's EVP_MD_CTX */
};
int		 util_sha256_init(struct util_sha256 *);
int		 util_sha256_update(struct util_sha256 *, const void *, size_t);
int		 util_sha256_final(struct util_sha256 *,
		    char out[UTIL_SHA256_LEN * 2 + 1]);
void		 util_sha256_free(struct util_sha256 *);

/*
 * Returns 1 if n bytes of s are well-formed UTF-8 (no overlong forms,
 * no surrogates, nothing above U+10FFFF), 0 otherwise.  NUL bytes are
 * valid UTF-8 here; callers that mind must check for them.
 */
int		 util_utf8_valid(const char *s, size_t n);
/*
 * The length of the well-formed UTF-8 sequence at p (at most n bytes),
 * with its code point in *cp; 0 when it is malformed or cut short.
 */
size_t		 util_utf8_char(const unsigned char *p, size_t n,
		    unsigned long *cp);
/*
 * crypt(3) hash of a new password (yescrypt, the library's default cost),
 * in the arena; NULL on error.  Slow on purpose: never inside a write
 * transaction.
 */
const char	*util_password_hash(struct arena *, const char *pass);
/* 1 if pass matches the crypt(3) hash (constant-time compare), else 0. */
int		 util_password_check(struct arena *, const char *pass,
		    const char *hash);

#endif
