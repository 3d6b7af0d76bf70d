/*
 * multipart/form-data, streamed.  The delimiter ("\r\n--" boundary) is
 * found with a KMP matcher byte by byte, so a delimiter split across two
 * reads is still found and no part is ever buffered whole.
 */
#include <ctype.h>
#include <string.h>

#include "fastcrm/error.h"
#include "fastcrm/multipart.h"
#include "fastcrm/query.h"
#include "fastcrm/util.h"

#define MP_HDR_MAX	8192
#define MP_OUT		65536

enum mp_state {
	MP_DATA,	/* part content (or the preamble), looking for delim */
	MP_AFTER,	/* after a delimiter: "\r\n" or "--" */
	MP_HEADERS,	/* part headers, until an empty line */
	MP_DONE,	/* the closing delimiter was seen */
};

struct multipart {
	enum mp_state	 state;
	char		*delim;
	size_t		 dlen;
	size_t		*fail;
	size_t		 j;		/* delimiter bytes matched */
	char		 after[2];
	size_t		 nafter;
	char		*hdr;
	size_t		 nhdr;
	int		 emitting;	/* this part is the file */
	int		 have_file;	/* a file part has started */
	int		 file_done;
	char		*out;
	size_t		 nout;
	char		*filename;
	char		*type;
	struct arena	*a;
	multipart_sink	 sink;
	void		*arg;
	int		 err;
};

static int
flush(struct multipart *m)
{
	int	 rc = 0;

	if (m->nout > 0 && m->emitting)
		rc = m->sink(m->arg, m->out, m->nout);
	m->nout = 0;
	return rc;
}

static int
emit(struct multipart *m, const char *p, size_t n)
{
	if (!m->emitting)
		return 0;
	while (n > 0) {
		size_t	 k = MP_OUT - m->nout;

		if (k > n)
			k = n;
		memcpy(m->out + m->nout, p, k);
		m->nout += k;
		p += k;
		n -= k;
		if (m->nout == MP_OUT && flush(m) != 0)
			return -1;
	}
	return 0;
}

/*
 * A parameter of a header value ("type; name=token; name=\"quoted\""),
 * copied into the arena, or NULL.  Parameters start only after a ';'
 * outside quotes: a field named "x; filename=y" is not a file.  Quoted
 * values end at the next quote (browsers send a quote in a filename as
 * %22, and old ones send Windows paths with backslashes).
 */
static char *
param(struct arena *a, const char *v, const char *name)
{
	const char	*p = v, *k, *e;
	size_t		 n = strlen(name), kn;

	for (;;) {
		while (*p != '\0' && *p != ';') {
			if (*p == '"' && (p = strchr(p + 1, '"')) == NULL)
				return NULL;
			p++;
		}
		if (*p == '\0')
			return NULL;
		p++;
		p += strspn(p, " \t");
		k = p;
		kn = strcspn(p, "=; \t\"");
		p += kn;
		if (*p != '=')
			continue;
		p++;
		if (*p == '"') {
			if ((e = strchr(++p, '"')) == NULL)
				return NULL;
		} else
			e = p + strcspn(p, "; \t");
		if (kn == n && strncasecmp(k, name, n) == 0)
			return arena_strndup(a, p, (size_t)(e - p));
		p = *e == '"' ? e + 1 : e;
	}
}

struct multipart *
http_multipart_new(struct arena *a, const char *ctype, multipart_sink sink,
    void *arg, const char **why)
{
	struct multipart	*m;
	char			*b;
	size_t			 i, k;

	b = param(a, ctype, "boundary");
	if (b == NULL || *b == '\0' || strlen(b) > 70) {
		*why = "multipart/form-data without a usable boundary.";
		return NULL;
	}
	m = arena_calloc(a, 1, sizeof(*m));
	m->a = a;
	m->sink = sink;
	m->arg = arg;
	m->delim = arena_printf(a, "\r\n--%s", b);
	m->dlen = strlen(m->delim);
	m->fail = arena_calloc(a, m->dlen, sizeof(*m->fail));
	for (i = 1, k = 0; i < m->dlen; i++) {
		while (k > 0 && m->delim[i] != m->delim[k])
			k = m->fail[k - 1];
		if (m->delim[i] == m->delim[k])
			k++;
		m->fail[i] = k;
	}
	m->hdr = arena_alloc(a, MP_HDR_MAX + 1);
	m->out = arena_alloc(a, MP_OUT);
	m->filename = m->type = (char *)"";
	m->state = MP_DATA;
	/* The first boundary has no CRLF before it: pretend it had. */
	m->j = 2;
	return m;
}

static int
bad(struct multipart *m, const char **why, const char *text)
{
	*why = text;
	m->err = FCRM_BAD_REQUEST;
	return m->err;
}

static int
headers_done(struct multipart *m, const char **why)
{
	char	*line, *save, *cd = NULL, *ct = NULL, *v;

	/* The file name ends up in a record, which is UTF-8 JSON. */
	if (!util_utf8_valid(m->hdr, m->nhdr))
		return bad(m, why, "multipart part headers are not valid "
		    "UTF-8.");
	m->hdr[m->nhdr] = '\0';
	for (line = strtok_r(m->hdr, "\r\n", &save); line != NULL;
	    line = strtok_r(NULL, "\r\n", &save)) {
		if (strncasecmp(line, "Content-Disposition:", 20) == 0)
			cd = line + 20;
		else if (strncasecmp(line, "Content-Type:", 13) == 0)
			ct = line + 13;
	}
	if (cd == NULL)
		return bad(m, why, "multipart part without Content-Disposition.");
	m->emitting = 0;
	if (!m->have_file && (v = param(m->a, cd, "filename")) != NULL) {
		m->emitting = 1;
		m->have_file = 1;
		m->filename = v;
		if (ct != NULL) {
			while (*ct == ' ')
				ct++;
			m->type = arena_strdup(m->a, ct);
		}
	}
	return 0;
}

int
http_multipart_feed(struct multipart *m, const char *p, size_t n,
    const char **why)
{
	size_t	 i, k;
	char	 c;

	if (m->err != 0)
		return m->err;
	for (i = 0; i < n; i++) {
		c = p[i];
		switch (m->state) {
		case MP_DATA:
			while (m->j > 0 && m->delim[m->j] != c) {
				k = m->fail[m->j - 1];
				if (emit(m, m->delim, m->j - k) != 0)
					return bad(m, why, "Cannot store the "
					    "file.");
				m->j = k;
			}
			if (m->delim[m->j] == c) {
				if (++m->j == m->dlen) {
					if (flush(m) != 0)
						return bad(m, why, "Cannot "
						    "store the file.");
					if (m->emitting)
						m->file_done = 1;
					m->emitting = 0;
					m->j = 0;
					m->nafter = 0;
					m->state = MP_AFTER;
				}
			} else if (emit(m, &c, 1) != 0)
				return bad(m, why, "Cannot store the file.");
			break;
		case MP_AFTER:
			m->after[m->nafter++] = c;
			if (m->nafter < 2)
				break;
			if (m->after[0] == '-' && m->after[1] == '-')
				m->state = MP_DONE;
			else if (m->after[0] == '\r' && m->after[1] == '\n') {
				m->nhdr = 0;
				m->state = MP_HEADERS;
			} else
				return bad(m, why, "Malformed multipart "
				    "boundary line.");
			break;
		case MP_HEADERS:
			if (m->nhdr == MP_HDR_MAX)
				return bad(m, why, "multipart part headers are "
				    "too long.");
			m->hdr[m->nhdr++] = c;
			if (m->nhdr >= 4 &&
			    memcmp(m->hdr + m->nhdr - 4, "\r\n\r\n", 4) == 0) {
				m->nhdr -= 4;
				if (headers_done(m, why) != 0)
					return m->err;
				m->state = MP_DATA;
			} else if (m->nhdr == 2 &&
			    memcmp(m->hdr, "\r\n", 2) == 0)
				return bad(m, why, "multipart part without "
				    "headers.");
			break;
		case MP_DONE:
			return 0;
		}
	}
	return 0;
}

int
http_multipart_end(struct multipart *m, const char **why)
{
	if (m->err != 0)
		return m->err;
	if (!m->have_file)
		return bad(m, why, "multipart body has no file part.");
	if (!m->file_done)
		return bad(m, why, "multipart body is truncated.");
	return 0;
}

const char *
http_multipart_filename(const struct multipart *m)
{
	return m->filename;
}

const char *
http_multipart_type(const struct multipart *m)
{
	return m->type;
}
