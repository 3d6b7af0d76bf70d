/*
 * A streaming multipart/form-data reader: bytes go in as they arrive, the
 * first file part's content comes out through a sink, and nothing is held
 * whole in memory.
 */
#ifndef FASTCRM_MULTIPART_H
#define FASTCRM_MULTIPART_H

#include <stddef.h>

#include "fastcrm/arena.h"

struct multipart;

/* Receives file bytes; returns 0 or an error code to stop. */
typedef int	(*multipart_sink)(void *arg, const char *p, size_t n);

/*
 * A reader for the boundary given in content_type (the whole header
 * value); NULL with *why when it has none.  Lives in the arena.
 */
struct multipart *http_multipart_new(struct arena *, const char *content_type,
		    multipart_sink, void *arg, const char **why);
/* Feeds n bytes; 0, or an error code (FCRM_BAD_REQUEST with *why). */
int		 http_multipart_feed(struct multipart *, const char *, size_t,
		    const char **why);
/* After the last byte: 0 when a whole file part was read. */
int		 http_multipart_end(struct multipart *, const char **why);
/* The file part's filename and Content-Type ("" when not given). */
const char	*http_multipart_filename(const struct multipart *);
const char	*http_multipart_type(const struct multipart *);

#endif
