/*
 * libFuzzer target for the CSV reader (app/entity/import_csv.c): the input
 * fed whole and again in pieces cut where its first byte says.  Both runs
 * must give the same rows and the same verdict; every field handed out is
 * NUL-terminated, of the length said, UTF-8 checked, within the bounds.
 * Seeds: tests/corpus/csv/.
 *
 *	tests/fuzz.sh csv
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fastcrm/csvin.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

struct sum {
	unsigned long	 h;
	size_t		 rows, last_line;
};

static int
row(void *arg, size_t line, char **fields, const size_t *lens, size_t n)
{
	struct sum	*s = arg;
	size_t		 i, j;

	if (n > CSVIN_MAX_FIELDS || line < s->last_line)
		abort();
	s->last_line = line;
	s->rows++;
	s->h = s->h * 31 + n + line * 7;
	for (i = 0; i < n; i++) {
		if (lens[i] > CSVIN_MAX_FIELD || fields[i][lens[i]] != '\0' ||
		    strlen(fields[i]) != lens[i])
			abort();
		for (j = 0; j < lens[i]; j++)
			s->h = s->h * 131 + (unsigned char)fields[i][j];
	}
	return 0;
}

static int
run(const uint8_t *p, size_t n, size_t step, struct sum *s)
{
	struct csvin	*c;
	const char	*why;
	size_t		 off, k, line;
	int		 rc = 0;

	memset(s, 0, sizeof(*s));
	if ((c = csvin_new(row, s)) == NULL)
		return -2;
	for (off = 0; rc == 0 && off < n; off += k) {
		k = n - off < step ? n - off : step;
		rc = csvin_feed(c, (const char *)p + off, k, &why, &line);
		if (rc == -1 && (why == NULL || *why == '\0'))
			abort();
	}
	if (rc == 0)
		rc = csvin_finish(c, &why, &line);
	if (rc == -1 && (why == NULL || *why == '\0'))
		abort();
	csvin_free(c);
	return rc;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sum	 whole, cut;
	int		 r1, r2;

	if (size == 0)
		return 0;
	r1 = run(data, size, size, &whole);
	r2 = run(data, size, 1 + data[0] % 17, &cut);
	if (r1 != r2 || whole.rows != cut.rows || whole.h != cut.h)
		abort();
	return 0;
}
