/*
 * A reader of CSV files as spreadsheet programs write them (RFC 4180 by
 * libcsv): UTF-8 with or without a byte-order mark, fields separated by
 * `,`, `;` or a tab (detected on the first line), quoted fields that hold
 * separators, quotes and newlines.  Input is untrusted: fields, rows and
 * the number of fields are bounded, and every field must be UTF-8.
 */
#ifndef FASTCRM_CSVIN_H
#define FASTCRM_CSVIN_H

#include <stddef.h>

#define CSVIN_MAX_FIELD		(1024 * 1024)	/* bytes in one field */
#define CSVIN_MAX_FIELDS	512		/* fields in one row */

struct csvin;

/*
 * Called once per row (the header too): line is the physical line the row
 * starts on (1-based); fields[i] is NUL-terminated, lens[i] its length.
 * Returns 0 to go on, anything else to stop (csvin_feed returns it).
 */
typedef int	(*csvin_row_fn)(void *arg, size_t line, char **fields,
		    const size_t *lens, size_t n);

struct csvin	*csvin_new(csvin_row_fn, void *arg);
void		 csvin_free(struct csvin *);
/*
 * Feeds the next n bytes.  Returns 0, the callback's non-zero value, or -1
 * with *why set when the input is not CSV this reader takes (the line it
 * happened on in *line).
 */
int		 csvin_feed(struct csvin *, const char *p, size_t n,
		    const char **why, size_t *line);
/* The end of the input: flushes the last row; as csvin_feed. */
int		 csvin_finish(struct csvin *, const char **why, size_t *line);
/* The separator found (',' before the first line is complete). */
char		 csvin_delim(const struct csvin *);

#endif
