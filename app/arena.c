/*
 * Per-request arena: a chain of blocks, bump allocation, cleanups run on
 * reset.  The first block is kept across resets so a worker's steady state
 * makes no system calls for memory.  An optional ceiling marks the arena
 * when a request asks for more than it was allowed (see arena.h).
 */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fastcrm/arena.h"

#define ARENA_BLOCK	(64 * 1024)
#define ARENA_ALIGN	16

struct block {
	struct block	*next;
	size_t		 size;
	size_t		 used;
	/* data follows, aligned */
};

struct cleanup {
	struct cleanup	*next;
	void		(*fn)(void *);
	void		*arg;
};

struct arena {
	struct block	*head;		/* current block, first in chain */
	struct block	*first;		/* kept across resets */
	struct cleanup	*cleanups;
	size_t		 total;
	size_t		 limit;		/* 0: none */
	int		 over;		/* an allocation passed limit */
};

#define BLOCK_HDR	((sizeof(struct block) + ARENA_ALIGN - 1) & \
			    ~(size_t)(ARENA_ALIGN - 1))

static struct block *
block_new(size_t size)
{
	struct block	*b;

	if ((b = malloc(BLOCK_HDR + size)) == NULL) {
		fputs("fastcrm: out of memory\n", stderr);
		abort();
	}
	b->next = NULL;
	b->size = size;
	b->used = 0;
	return b;
}

struct arena *
arena_new(void)
{
	struct arena	*a;

	if ((a = calloc(1, sizeof(*a))) == NULL)
		return NULL;
	a->first = a->head = block_new(ARENA_BLOCK);
	return a;
}

static void
arena_run_cleanups(struct arena *a)
{
	struct cleanup	*c;

	while ((c = a->cleanups) != NULL) {
		a->cleanups = c->next;
		c->fn(c->arg);
	}
}

void
arena_reset(struct arena *a)
{
	struct block	*b, *next;

	arena_run_cleanups(a);
	for (b = a->head; b != NULL && b != a->first; b = next) {
		next = b->next;
		free(b);
	}
	a->head = a->first;
	a->first->used = 0;
	a->first->next = NULL;
	a->total = 0;
	a->limit = 0;
	a->over = 0;
}

void
arena_free(struct arena *a)
{
	if (a == NULL)
		return;
	arena_reset(a);
	free(a->first);
	free(a);
}

size_t
arena_used(const struct arena *a)
{
	return a->total;
}

void
arena_set_limit(struct arena *a, size_t limit)
{
	a->limit = limit;
	if (limit != 0 && a->total > limit)
		a->over = 1;
}

size_t
arena_limit(const struct arena *a)
{
	return a->limit;
}

int
arena_over(const struct arena *a)
{
	return a->over;
}

void *
arena_alloc(struct arena *a, size_t n)
{
	struct block	*b;
	void		*p;

	if (n > SIZE_MAX - ARENA_BLOCK) {
		fputs("fastcrm: allocation size overflow\n", stderr);
		abort();
	}
	n = (n + ARENA_ALIGN - 1) & ~(size_t)(ARENA_ALIGN - 1);
	if (n == 0)
		n = ARENA_ALIGN;
	/* Past the ceiling: still served, but the request is marked. */
	if (a->limit != 0 && a->total + n > a->limit)
		a->over = 1;
	b = a->head;
	if (b->size - b->used < n) {
		b = block_new(n > ARENA_BLOCK / 4 ? n : ARENA_BLOCK);
		if (n > ARENA_BLOCK / 4 && a->head != a->first) {
			/* A big allocation: keep the current block current. */
			b->next = a->head->next;
			a->head->next = b;
		} else {
			b->next = a->head;
			a->head = b;
		}
	}
	p = (char *)b + BLOCK_HDR + b->used;
	b->used += n;
	a->total += n;
	return p;
}

void *
arena_calloc(struct arena *a, size_t nmemb, size_t size)
{
	void	*p;

	if (size != 0 && nmemb > SIZE_MAX / size)
		abort();
	p = arena_alloc(a, nmemb * size);
	memset(p, 0, nmemb * size);
	return p;
}

char *
arena_strndup(struct arena *a, const char *s, size_t n)
{
	char	*p;

	p = arena_alloc(a, n + 1);
	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

char *
arena_join(struct arena *a, const char *s, size_t n, const char *tail)
{
	size_t	 tn = strlen(tail);
	char	*p;

	p = arena_alloc(a, n + tn + 1);
	memcpy(p, s, n);
	memcpy(p + n, tail, tn + 1);
	return p;
}

char *
arena_strdup(struct arena *a, const char *s)
{
	return arena_strndup(a, s, strlen(s));
}

char *
arena_vprintf(struct arena *a, const char *fmt, va_list ap)
{
	va_list	 ap2;
	int	 n;
	char	*p;

	va_copy(ap2, ap);
	n = vsnprintf(NULL, 0, fmt, ap2);
	va_end(ap2);
	if (n < 0)
		n = 0;
	p = arena_alloc(a, (size_t)n + 1);
	vsnprintf(p, (size_t)n + 1, fmt, ap);
	return p;
}

char *
arena_printf(struct arena *a, const char *fmt, ...)
{
	va_list	 ap;
	char	*p;

	va_start(ap, fmt);
	p = arena_vprintf(a, fmt, ap);
	va_end(ap);
	return p;
}

void
arena_cleanup(struct arena *a, void (*fn)(void *), void *arg)
{
	struct cleanup	*c;

	c = arena_alloc(a, sizeof(*c));
	c->fn = fn;
	c->arg = arg;
	c->next = a->cleanups;
	a->cleanups = c;
}

void
buf_init(struct buf *b, struct arena *a)
{
	b->a = a;
	b->cap = 256;
	b->p = arena_alloc(a, b->cap);
	b->len = 0;
	b->p[0] = '\0';
}

/* Makes room for need more bytes and the NUL: a larger block, copied. */
static void
buf_grow_slow(struct buf *b, size_t need)
{
	size_t	 ncap;
	char	*np;

	ncap = b->cap * 2;
	while (ncap < b->len + need + 1)
		ncap *= 2;
	np = arena_alloc(b->a, ncap);
	memcpy(np, b->p, b->len);
	b->p = np;
	b->cap = ncap;
}

/* The common case, room already there, without a call. */
static inline void
buf_grow(struct buf *b, size_t need)
{

	if (b->len + need + 1 > b->cap)
		buf_grow_slow(b, need);
}

void
buf_add(struct buf *b, const void *p, size_t n)
{
	buf_grow(b, n);
	memcpy(b->p + b->len, p, n);
	b->len += n;
	b->p[b->len] = '\0';
}

char *
buf_extend(struct buf *b, size_t n)
{
	char	*p;

	buf_grow(b, n);
	p = b->p + b->len;
	b->len += n;
	b->p[b->len] = '\0';
	return p;
}

void
buf_adds(struct buf *b, const char *s)
{
	buf_add(b, s, strlen(s));
}

void
buf_addc(struct buf *b, char c)
{
	buf_grow(b, 1);
	b->p[b->len++] = c;
	b->p[b->len] = '\0';
}

size_t
buf_dec(char out[BUF_DEC_MAX], long long v)
{
	char			 t[BUF_DEC_MAX];
	size_t			 n = sizeof(t);
	unsigned long long	 u;

	u = v < 0 ? 0 - (unsigned long long)v : (unsigned long long)v;
	do {
		t[--n] = (char)('0' + u % 10);
		u /= 10;
	} while (u != 0);
	if (v < 0)
		t[--n] = '-';
	memcpy(out, t + n, sizeof(t) - n);
	return sizeof(t) - n;
}

void
buf_addi(struct buf *b, long long v)
{
	char	 t[BUF_DEC_MAX];

	buf_add(b, t, buf_dec(t, v));
}

void
buf_printf(struct buf *b, const char *fmt, ...)
{
	va_list	 ap;
	int	 n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n <= 0)
		return;
	buf_grow(b, (size_t)n);
	va_start(ap, fmt);
	vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
}
