/*
 * The importer (import.c), internal to app/entity: rows (JSON objects) of
 * any entity go through the engine's ordinary create and update in large
 * transactions, with a mode (create, update, upsert), a match attribute,
 * the duplicate check, a reject file, deferred links and counters.  The
 * command-line import (JSON lines, CSV) and migrate feed it.
 */
#ifndef FASTCRM_IMPORT_H
#define FASTCRM_IMPORT_H

#include <stdio.h>

#include "fastcrm/entity.h"

struct importer;
struct store;
struct store_txn;

struct importer	*importer_open(const struct conf *,
		    const struct import_opts *, const char *tag,
		    const char **why);
/*
 * One row of entity e: body is changed (links to missing system users
 * dropped).  src and line name it in the reject file.  Returns 0 (the row
 * was written, skipped, deferred or rejected), or an error that ends the
 * run (a store failure; any reject in strict mode) with *why set.
 */
int		 importer_row(struct importer *, const struct entity *,
		    struct json *body, const char *src, size_t line,
		    const char **why);
/* Updates record id of e with body as it is (migrate's second links). */
int		 importer_set(struct importer *, const struct entity *,
		    const char *id, struct json *body, const char **why);
/* A rejected row that never became a body (bad JSON, bad CSV). */
int		 importer_reject(struct importer *, const struct entity *,
		    const char *src, size_t line, const char *reason,
		    const char *text, const char **why);
/*
 * The id of the record of entity target named name (equality index of
 * `name`), creating an Account when there is none.  0, or -1 with the
 * reason in *why (none or several).
 */
int		 importer_by_name(struct importer *, const struct entity *target,
		    const char *name, const char **id, const char **why);
/* The row arena (reset after each row) and the open write txn. */
struct arena	*importer_arena(struct importer *);
struct store_txn *importer_txn(struct importer *);
/* Commits the batch so far (and begins the next). */
int		 importer_commit(struct importer *, const char **why);
/* Retries deferred rows, commits, prints the summary. */
int		 importer_finish(struct importer *, const char **why);
/* Aborts the open batch, if any, and closes. */
void		 importer_abort(struct importer *);
/* After a failure: says where it stopped and what was not imported. */
void		 importer_stopped(const struct importer *);
/* Drops the deferred rows an earlier run of the tag left behind. */
int		 importer_clear(struct importer *, const char **why);
/* Rows rejected so far (all entities). */
size_t		 importer_rejected(const struct importer *);

#endif
