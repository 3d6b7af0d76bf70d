/*
 * The CSV reader (include/fastcrm/csvin.h): libcsv does RFC 4180; this
 * file finds the separator, drops a byte-order mark, counts physical lines
 * so that a row can be named, collects a row's fields and bounds them.
 */
#include <stdlib.h>
#include <string.h>

#include <csv.h>

#include "fastcrm/csvin.h"
#include "fastcrm/util.h"

#define HEAD_MAX	(64 * 1024)	/* bytes looked at for the separator */
#define ROW_NOT_BEGUN	0		/* libcsv's pstate before a row */

struct csvin {
	struct csv_parser	 p;
	int			 started;	/* parser initialised */
	int			 bom_done;
	char			 delim;
	char			*head;		/* bytes before the first line */
	size_t			 headlen;
	size_t			 line;		/* physical line being fed */
	size_t			 row_line;	/* where the current row began */
	char			*fields[CSVIN_MAX_FIELDS];
	size_t			 lens[CSVIN_MAX_FIELDS];
	size_t			 nfields;
	const char		*err;		/* a callback's refusal */
	int			 stop;		/* the row callback's value */
	csvin_row_fn		 fn;
	void			*arg;
};

/* libcsv grows its field buffer with this: a field has a ceiling. */
static void *
bounded_realloc(void *p, size_t n)
{
	if (n > CSVIN_MAX_FIELD + 1024)
		return NULL;
	return realloc(p, n);
}

static void
drop_fields(struct csvin *c)
{
	size_t	 i;

	for (i = 0; i < c->nfields; i++)
		free(c->fields[i]);
	c->nfields = 0;
}

static void
on_field(void *s, size_t len, void *arg)
{
	struct csvin	*c = arg;
	char		*f;

	if (c->err != NULL || c->stop != 0)
		return;
	if (c->nfields == CSVIN_MAX_FIELDS) {
		c->err = "too many fields in one row";
		return;
	}
	if (len > CSVIN_MAX_FIELD) {
		c->err = "a field is larger than 1 MiB";
		return;
	}
	if (!util_utf8_valid(s, len)) {
		c->err = "a field is not UTF-8 (save the file as CSV UTF-8)";
		return;
	}
	if (memchr(s, '\0', len) != NULL) {
		c->err = "a field holds a NUL byte";
		return;
	}
	if ((f = malloc(len + 1)) == NULL) {
		c->err = "out of memory";
		return;
	}
	if (len > 0)
		memcpy(f, s, len);
	f[len] = '\0';
	c->fields[c->nfields] = f;
	c->lens[c->nfields++] = len;
}

static void
on_row(int term, void *arg)
{
	struct csvin	*c = arg;

	(void)term;
	if (c->err == NULL && c->stop == 0)
		c->stop = c->fn(c->arg, c->row_line, c->fields, c->lens,
		    c->nfields);
	drop_fields(c);
	/* A row may end on a lone CR: the next begins on this line. */
	c->row_line = c->line;
}

struct csvin *
csvin_new(csvin_row_fn fn, void *arg)
{
	struct csvin	*c;

	if ((c = calloc(1, sizeof(*c))) == NULL)
		return NULL;
	c->fn = fn;
	c->arg = arg;
	c->delim = ',';
	c->line = 1;
	c->row_line = 1;
	return c;
}

void
csvin_free(struct csvin *c)
{
	if (c == NULL)
		return;
	if (c->started)
		csv_free(&c->p);
	drop_fields(c);
	free(c->head);
	free(c);
}

char
csvin_delim(const struct csvin *c)
{
	return c->delim;
}

/*
 * The separator that occurs most often outside quotes on the first line
 * (up to the first newline byte, quoted or not: the same bytes however
 * the input arrives).
 */
static char
find_delim(const char *p, size_t n)
{
	size_t	 i, comma = 0, semi = 0, tab = 0;
	int	 q = 0;

	for (i = 0; i < n; i++) {
		if (p[i] == '\n')
			break;
		if (p[i] == '"')
			q = !q;
		else if (!q && p[i] == ',')
			comma++;
		else if (!q && p[i] == ';')
			semi++;
		else if (!q && p[i] == '\t')
			tab++;
	}
	if (semi > comma && semi >= tab)
		return ';';
	if (tab > comma && tab > semi)
		return '\t';
	return ',';
}

static int
result(struct csvin *c, const char **why, size_t *line)
{
	*line = c->row_line;
	if (c->err != NULL) {
		*why = c->err;
		return -1;
	}
	if (c->stop != 0)
		return c->stop;
	if (c->started && csv_error(&c->p) != CSV_SUCCESS) {
		*why = csv_error(&c->p) == CSV_ENOMEM ?
		    "a field is larger than 1 MiB" : "malformed CSV";
		return -1;
	}
	return 0;
}

/* Feeds libcsv one physical line at a time, to know where rows begin. */
static int
parse(struct csvin *c, const char *p, size_t n, const char **why,
    size_t *line)
{
	const char	*nl;
	size_t		 k;
	int		 rc;

	while (n > 0) {
		nl = memchr(p, '\n', n);
		k = nl != NULL ? (size_t)(nl - p) + 1 : n;
		if (c->p.pstate == ROW_NOT_BEGUN)
			c->row_line = c->line;
		if (csv_parse(&c->p, p, k, on_field, on_row, c) != k &&
		    c->err == NULL)
			c->err = csv_error(&c->p) == CSV_ENOMEM ?
			    "a field is larger than 1 MiB" : "malformed CSV";
		if ((rc = result(c, why, line)) != 0)
			return rc;
		if (nl != NULL)
			c->line++;
		p += k;
		n -= k;
	}
	return 0;
}

/* Starts libcsv on the buffered first line. */
static int
start(struct csvin *c, const char **why, size_t *line)
{
	const char	*h = c->head;
	size_t		 n = c->headlen;
	int		 rc;

	if (n >= 3 && memcmp(h, "\xef\xbb\xbf", 3) == 0) {
		h += 3;
		n -= 3;
	}
	c->delim = find_delim(h, n);
	if (csv_init(&c->p, CSV_APPEND_NULL) != 0) {
		*why = "out of memory";
		return -1;
	}
	csv_set_delim(&c->p, (unsigned char)c->delim);
	csv_set_realloc_func(&c->p, bounded_realloc);
	c->started = 1;
	rc = parse(c, h, n, why, line);
	free(c->head);
	c->head = NULL;
	c->headlen = 0;
	return rc;
}

int
csvin_feed(struct csvin *c, const char *p, size_t n, const char **why,
    size_t *line)
{
	char	*nh;
	size_t	 take;

	*why = NULL;
	*line = c->row_line;
	if (c->started)
		return parse(c, p, n, why, line);
	/* Gather the first line (or HEAD_MAX bytes) to see the separator. */
	take = n;
	if (c->headlen + take > HEAD_MAX)
		take = HEAD_MAX - c->headlen;
	if ((nh = realloc(c->head, c->headlen + take + 1)) == NULL) {
		*why = "out of memory";
		return -1;
	}
	c->head = nh;
	memcpy(c->head + c->headlen, p, take);
	c->headlen += take;
	if (memchr(c->head, '\n', c->headlen) == NULL &&
	    c->headlen < HEAD_MAX)
		return 0;
	{
		int	 rc;

		if ((rc = start(c, why, line)) != 0)
			return rc;
	}
	return take < n ? parse(c, p + take, n - take, why, line) : 0;
}

int
csvin_finish(struct csvin *c, const char **why, size_t *line)
{
	int	 rc;

	*why = NULL;
	*line = c->row_line;
	if (!c->started && (rc = start(c, why, line)) != 0)
		return rc;
	if (c->err == NULL && c->stop == 0 &&
	    csv_fini(&c->p, on_field, on_row, c) != 0 && c->err == NULL)
		c->err = "malformed CSV";
	return result(c, why, line);
}
