/*
 * libFuzzer target for the streamed multipart/form-data reader
 * (app/http/multipart.c).  Every input is read two ways.
 *
 *  - Raw: the first byte picks a Content-Type (a boundary from the table
 *    below, or the input's first line as the whole header value), the next
 *    four seed the chunk sizes, the rest is the body.  The body is fed
 *    whole, one byte at a time and in random chunks (some empty), as the
 *    upload handler does; the three readings must agree exactly (status,
 *    reason, file bytes, filename, type), the file bytes must be one
 *    contiguous piece of the body, and a refusal is FCRM_BAD_REQUEST with
 *    a one-line reason.  Some readings get a sink that fails after a few
 *    bytes, which must stop the reader the same way however it was fed.
 *  - Built: the input describes a well-formed body (boundary, preamble,
 *    parts with names, filenames, types and contents, some repeated past
 *    the reader's 64 KiB buffer, epilogue).  The target writes it out,
 *    splits it itself (a content that holds the delimiter is the one thing
 *    it cannot send) and feeds it in random chunks: the reader must accept
 *    it and hand over exactly the first file part's content, filename and
 *    type, or say "no file part" when there is none.
 *
 * Seeds: tests/corpus/multipart/ (raw bodies; byte 0 = 0 is boundary "X").
 *
 *	tests/fuzz.sh multipart
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fastcrm/arena.h"
#include "fastcrm/error.h"
#include "fastcrm/multipart.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

/* The reader's output buffer: no sink call is larger. */
#define SINK_MAX	65536
/* Built bodies stay below this. */
#define BUILT_MAX	(256 * 1024)

static const char *const ctypes[] = {
	"multipart/form-data; boundary=X",
	"multipart/form-data; boundary=----WebKitFormBoundary7MA4YWxkTrZu0gW",
	"multipart/form-data; boundary=\"a b:c\"",
	"Multipart/Form-Data; charset=utf-8; BOUNDARY=--",
	"multipart/form-data; boundary=-",
	"multipart/form-data; boundary=aaab",
	"multipart/form-data; boundary=abab",
	"multipart/form-data; boundary=\r\n--",
	"multipart/form-data; name=\"boundary=no\"; boundary=yes",
	"multipart/form-data",
	"multipart/form-data; boundary=\"unterminated",
};
#define NCTYPES	(sizeof(ctypes) / sizeof(ctypes[0]))

/* RFC 2046 bchars. */
static const char bchars[] = "0123456789abcdefghijklmnopqrstuvwxyz"
    "ABCDEFGHIJKLMNOPQRSTUVWXYZ'()+_,-./:=? ";

static const char *const types[] = {
	"audio/wav", "audio/mpeg", "application/octet-stream",
	"  text/plain; charset=utf-8", "",
};

struct sinkbuf {
	struct buf	 b;
	size_t		 limit;		/* refuse bytes past this */
};

struct result {
	int		 rc;		/* of the first failing call, or 0 */
	int		 ended;		/* rc is http_multipart_end's */
	const char	*why;
	const char	*file;
	size_t		 len;
	const char	*filename;
	const char	*type;
};

static struct arena	*a;
static uint32_t		 rnd;

static uint32_t
next(void)
{
	rnd ^= rnd << 13;
	rnd ^= rnd >> 17;
	rnd ^= rnd << 5;
	return rnd;
}

static int
sink(void *arg, const char *p, size_t n)
{
	struct sinkbuf	*s = arg;

	if (n == 0 || n > SINK_MAX)
		abort();
	if (s->b.len + n > s->limit)
		return FCRM_IO;
	buf_add(&s->b, p, n);
	return 0;
}

static void
check_why(int rc, const char *why)
{
	const char	*p;

	if (rc != FCRM_BAD_REQUEST || why == NULL || *why == '\0')
		abort();
	for (p = why; *p != '\0'; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			abort();
}

/*
 * Reads body as the upload handler does.  step: 0 whole, 1 one byte at a
 * time, 2 random chunks from seed.  Returns -1 when the Content-Type has
 * no usable boundary.
 */
static int
readall(const char *ctype, const char *body, size_t len, int step,
    uint32_t seed, size_t limit, struct result *res)
{
	struct multipart	*m;
	struct sinkbuf		 s;
	const char		*why = NULL;
	size_t			 off = 0, n;
	int			 rc = 0;

	memset(res, 0, sizeof(*res));
	buf_init(&s.b, a);
	s.limit = limit;
	if ((m = http_multipart_new(a, ctype, sink, &s, &why)) == NULL) {
		if (why == NULL || *why == '\0')
			abort();
		return -1;
	}
	rnd = seed | 1;
	while (off < len) {
		if (step == 0)
			n = len;
		else if (step == 1)
			n = 1;
		else {
			n = next();
			switch (n % 4) {
			case 0:
				n = 0;
				break;
			case 1:
				n = 1 + (n >> 2) % 8;
				break;
			case 2:
				n = 1 + (n >> 2) % 200;
				break;
			default:
				n = 1 + (n >> 2) % 20000;
				break;
			}
		}
		if (n > len - off)
			n = len - off;
		if ((rc = http_multipart_feed(m, body + off, n, &why)) != 0)
			break;
		off += n;
	}
	if (rc == 0) {
		res->ended = 1;
		rc = http_multipart_end(m, &why);
	}
	res->rc = rc;
	res->why = rc != 0 ? why : NULL;
	if (rc != 0)
		check_why(rc, why);
	res->file = s.b.p;
	res->len = s.b.len;
	res->filename = http_multipart_filename(m);
	res->type = http_multipart_type(m);
	if (res->filename == NULL || res->type == NULL)
		abort();
	return 0;
}

static void
same(const struct result *x, const struct result *y)
{
	if (x->rc != y->rc || x->ended != y->ended || x->len != y->len ||
	    memcmp(x->file, y->file, x->len) != 0 ||
	    strcmp(x->filename, y->filename) != 0 ||
	    strcmp(x->type, y->type) != 0)
		abort();
	if (x->rc != 0 && strcmp(x->why, y->why) != 0)
		abort();
}

static void
raw(const uint8_t *data, size_t size)
{
	struct result	 r[3];
	const char	*ctype, *body, *nl;
	size_t		 len, limit;
	uint32_t	 seed;
	int		 i;

	if (size < 5)
		return;
	seed = (uint32_t)data[1] | (uint32_t)data[2] << 8 |
	    (uint32_t)data[3] << 16 | (uint32_t)data[4] << 24;
	body = (const char *)data + 5;
	len = size - 5;
	if (data[0] % (NCTYPES + 1) < NCTYPES)
		ctype = ctypes[data[0] % (NCTYPES + 1)];
	else {
		/* The first line is the header value (a C string). */
		nl = memchr(body, '\n', len);
		if (nl == NULL)
			return;
		ctype = arena_strndup(a, body, (size_t)(nl - body));
		len -= (size_t)(nl - body) + 1;
		body = nl + 1;
	}
	/* One reading in four gets a sink that fills up early. */
	limit = (seed >> 24) % 4 == 0 ? (seed >> 8) % 64 : SIZE_MAX;
	for (i = 0; i < 3; i++)
		if (readall(ctype, body, len, i, seed, limit, &r[i]) != 0)
			return;
	same(&r[0], &r[1]);
	same(&r[0], &r[2]);
	if (r[0].len > len || r[0].len > limit)
		abort();
	if (r[0].len > 0 && memmem(body, len, r[0].file, r[0].len) == NULL)
		abort();
}

/* The built mode's input, consumed from the front. */
struct in {
	const uint8_t	*p;
	size_t		 n;
};

static unsigned
byte(struct in *in)
{
	if (in->n == 0)
		return 0;
	in->n--;
	return *in->p++;
}

/* Up to n bytes of input as they are. */
static const char *
bytes(struct in *in, size_t n, size_t *got)
{
	const char	*p = (const char *)in->p;

	if (n > in->n)
		n = in->n;
	in->p += n;
	in->n -= n;
	*got = n;
	return p;
}

/*
 * Up to max bytes of input with quotes, backslashes, CR, LF, NUL and
 * non-ASCII bytes as '_' (the reader refuses part headers that are not
 * UTF-8: a well-formed body's are).
 */
static char *
text(struct in *in, size_t max)
{
	const char	*p;
	char		*s;
	size_t		 n, i;

	p = bytes(in, byte(in) % (max + 1), &n);
	s = arena_strndup(a, p, n);
	for (i = 0; i < n; i++)
		if (strchr("\"\\\r\n", s[i]) != NULL || s[i] == '\0' ||
		    (unsigned char)s[i] >= 0x80)
			s[i] = '_';
	return s;
}

/* Whether the reader, scanning seg for the delimiter, finds it only at
   the end where the body builder puts it. */
static int
clean(const char *seg, size_t n, const char *delim, size_t dlen)
{
	char	*s;

	s = arena_alloc(a, n + dlen);
	memcpy(s, seg, n);
	memcpy(s + n, delim, dlen);
	return (char *)memmem(s, n + dlen, delim, dlen) == s + n;
}

static void
built(const uint8_t *data, size_t size)
{
	struct in	 in = { data, size };
	struct result	 r;
	struct buf	 body, file;
	const char	*p, *ctype, *delim, *filename = NULL, *type = "";
	char		*b, *name, *fn, *t;
	size_t		 n, i, dlen, rep;
	unsigned	 flags, nparts, k, c;
	uint32_t	 seed;
	int		 ok = 1, have = 0;

	/* The boundary: from the table's good ones, or 1-70 bchars. */
	c = byte(&in);
	if (c < 128) {
		static const char *const good[] = { "X", "--", "-", "aaab",
		    "abab", "----WebKitFormBoundary7MA4YWxkTrZu0gW", "a b:c" };

		b = arena_strdup(a, good[c % (sizeof(good) / sizeof(good[0]))]);
	} else {
		n = 1 + byte(&in) % 70;
		b = arena_alloc(a, n + 1);
		for (i = 0; i < n; i++)
			b[i] = bchars[byte(&in) % (sizeof(bchars) - 1)];
		if (b[n - 1] == ' ')
			b[n - 1] = '_';
		b[n] = '\0';
	}
	c = byte(&in);
	if (strpbrk(b, "()<>@,;:\\\"/[]?= ") != NULL || c % 3 == 0)
		ctype = arena_printf(a, "multipart/form-data; boundary=\"%s\"%s",
		    b, c % 2 ? "; charset=utf-8" : "");
	else
		ctype = arena_printf(a, "%s;%sboundary=%s",
		    c % 2 ? "Multipart/Form-Data" : "multipart/form-data",
		    c % 5 == 0 ? "" : " ", b);
	delim = arena_printf(a, "\r\n--%s", b);
	dlen = strlen(delim);
	seed = byte(&in);
	seed |= byte(&in) << 8;
	seed |= byte(&in) << 16;

	buf_init(&body, a);
	buf_init(&file, a);
	/* The preamble is scanned as if "\r\n" came before it. */
	p = bytes(&in, byte(&in) % 40, &n);
	if (n > 0) {
		buf_add(&body, "\r\n", 2);
		buf_add(&body, p, n);
		ok &= clean(body.p, body.len, delim, dlen);
		buf_add(&body, delim, dlen);
		memmove(body.p, body.p + 2, body.len - 2);
		body.len -= 2;
	} else
		buf_adds(&body, delim + 2);

	nparts = 1 + byte(&in) % 4;
	for (k = 0; k < nparts; k++) {
		flags = byte(&in);
		buf_adds(&body, "\r\n");
		if (flags & 0x08)
			buf_adds(&body, "Content-Transfer-Encoding: binary\r\n");
		name = text(&in, 40);
		buf_printf(&body, "%s: form-data; name=\"%s\"",
		    flags & 0x04 ? "content-disposition" :
		    "Content-Disposition", name);
		fn = NULL;
		if (flags & 0x01) {
			fn = text(&in, 60);
			buf_printf(&body, "; filename=\"%s\"", fn);
		}
		buf_adds(&body, "\r\n");
		t = (char *)"";
		if (flags & 0x02) {
			c = byte(&in);
			t = c < 200 ? (char *)types[c % (sizeof(types) /
			    sizeof(types[0]))] : text(&in, 60);
			buf_printf(&body, "Content-Type: %s\r\n", t);
		}
		if (flags & 0x10)
			buf_adds(&body, "X-Other: 1\r\n");
		buf_adds(&body, "\r\n");

		n = byte(&in);
		n |= byte(&in) << 8;
		p = bytes(&in, n % 4096, &n);
		rep = flags & 0x20 ? 1 + byte(&in) % 40 : 1;
		if (body.len + rep * n + dlen + 256 > BUILT_MAX)
			rep = 1;
		ok &= clean(p, n, delim, dlen);
		/* Repeating a clean content can make a delimiter across the
		   seams: check the whole. */
		if (rep > 1) {
			struct buf	 whole;

			buf_init(&whole, a);
			for (i = 0; i < rep; i++)
				buf_add(&whole, p, n);
			ok &= clean(whole.p, whole.len, delim, dlen);
		}
		for (i = 0; i < rep; i++) {
			buf_add(&body, p, n);
			if (fn != NULL && !have)
				buf_add(&file, p, n);
		}
		if (fn != NULL && !have) {
			have = 1;
			filename = fn;
			type = t;
		}
		buf_add(&body, delim, dlen);
	}
	buf_adds(&body, "--");
	p = bytes(&in, byte(&in) % 64, &n);
	buf_add(&body, p, n);

	if (!ok)
		return;
	if (readall(ctype, body.p, body.len, 2, seed, SIZE_MAX, &r) != 0)
		abort();
	if (!have) {
		if (r.rc != FCRM_BAD_REQUEST || !r.ended || r.len != 0 ||
		    strcmp(r.why, "multipart body has no file part.") != 0)
			abort();
		return;
	}
	while (*type == ' ')
		type++;
	if (r.rc != 0 || r.len != file.len ||
	    memcmp(r.file, file.p, file.len) != 0 ||
	    strcmp(r.filename, filename) != 0 || strcmp(r.type, type) != 0)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (a == NULL && (a = arena_new()) == NULL)
		abort();
	raw(data, size);
	arena_reset(a);
	built(data, size);
	arena_reset(a);
	return 0;
}
