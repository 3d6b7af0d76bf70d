/*
 * Per-request memory: one arena owns every allocation made while a request
 * is served; arena_reset() gives it all back at once.  Non-memory resources
 * (an LMDB read transaction, a yajl handle) hang a cleanup on the arena so
 * that no error path can leak them.
 */
#ifndef FASTCRM_ARENA_H
#define FASTCRM_ARENA_H

#include <stdarg.h>
#include <stddef.h>

struct arena;

/* A new arena; caller frees with arena_free().  NULL on out of memory. */
struct arena	*arena_new(void);
/* Runs the cleanups (last registered first), then frees every block. */
void		 arena_free(struct arena *);
/* Runs the cleanups and forgets every allocation; keeps the first block. */
void		 arena_reset(struct arena *);
/* Bytes handed out since the last reset (for limits and statistics). */
size_t		 arena_used(const struct arena *);
/*
 * The ceiling: once the bytes handed out since the last reset pass limit
 * (0: no ceiling), the arena is marked "over".  Allocation goes on
 * succeeding, so that no caller ever sees NULL; whoever set the ceiling
 * checks arena_over() at its checkpoints and abandons the work (for a
 * request: the JSON parser, the body reader, engine_commit and the
 * worker after the handler; see app/http/request.c).  What is allocated
 * past the ceiling is therefore only what runs until the next checkpoint.
 * arena_reset() clears the ceiling and the mark.
 */
void		 arena_set_limit(struct arena *, size_t limit);
size_t		 arena_limit(const struct arena *);
/* 1 once an allocation passed the ceiling (until the next reset). */
int		 arena_over(const struct arena *);

/*
 * Allocation never fails: out of memory aborts the process (the master
 * replaces the worker).  Memory lives until the next arena_reset().
 */
void		*arena_alloc(struct arena *, size_t);
void		*arena_calloc(struct arena *, size_t, size_t);
char		*arena_strdup(struct arena *, const char *);
char		*arena_strndup(struct arena *, const char *, size_t);
/* The first n bytes of s followed by tail, as one string. */
char		*arena_join(struct arena *, const char *s, size_t n,
		    const char *tail);
char		*arena_printf(struct arena *, const char *, ...)
		    __attribute__((format(printf, 2, 3)));
char		*arena_vprintf(struct arena *, const char *, va_list);

/* Calls fn(arg) at the next reset or free, in reverse order of adding. */
void		 arena_cleanup(struct arena *, void (*fn)(void *), void *arg);

/*
 * A growable byte buffer whose storage comes from an arena.  The bytes are
 * always NUL-terminated (not counted in len).  Valid until the arena resets.
 */
struct buf {
	struct arena	*a;
	char		*p;
	size_t		 len;
	size_t		 cap;
};

void		 buf_init(struct buf *, struct arena *);
void		 buf_add(struct buf *, const void *, size_t);
void		 buf_adds(struct buf *, const char *);
void		 buf_addc(struct buf *, char);
/* Room for n more bytes, counted in len and NUL-terminated; the caller
 * fills the n bytes it returns. */
char		*buf_extend(struct buf *, size_t n);
/* A decimal integer, as printf's "%lld" writes it (without printf). */
/* v in decimal into out, no NUL; returns its length. */
#define BUF_DEC_MAX	24
size_t		 buf_dec(char out[BUF_DEC_MAX], long long v);
void		 buf_addi(struct buf *, long long);
void		 buf_printf(struct buf *, const char *, ...)
		    __attribute__((format(printf, 2, 3)));

#endif
