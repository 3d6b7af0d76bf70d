/*
 * Internal to the record engine (app/entity): shared between its files,
 * not part of its interface; no file outside app/entity/ includes it
 * (tests/unit_engine.c aside, which tests the internals).
 */
#ifndef FASTCRM_ENGINE_H
#define FASTCRM_ENGINE_H

#include "fastcrm/entity.h"
#include "fastcrm/store.h"

struct conf;
struct ectx;

/* entity.c: the entity set's database names (NULL before entity_init),
   and their handles resolved in st (door.c's open calls both). */
const char *const *entity_db_names(void);
int	 entity_open_dbs(const struct store *);
/* door.c: the engine's own tables, resolved by entity_store_open. */
extern int	 engine_db_counters;
extern int	 engine_db_meta;
/* The n-th registered ENTITY_TABLE_TRANSIENT table's handle, or -1 past
   the last (a backup empties them in its copy). */
int	 engine_transient_db(size_t n);

int	 engine_convert(struct arena *, const struct field *,
	    const struct json *, struct json **, const char **);
size_t	 engine_index_keys(struct arena *, const struct entity *, size_t,
	    const struct json *, const char ***);
char	*engine_order_key(struct arena *, const struct field *,
	    const struct json *, const char *, size_t *);
int	 engine_index_ids(struct arena *, struct store_txn *, int,
	    const char *, const char ***, size_t *);
/* verify: Attachment records against the files in attachments/ (ops.c). */
int	 engine_verify_files(const struct conf *, struct store_txn *,
	    size_t *problems);

/* twins.c: keeps link fields and their many-side twins one truth in rec
   (old: the stored record, or NULL on create). */
void	 engine_link_twins(struct arena *, const struct entity *,
	    struct json *, const struct json *);
/* The number of twin pairs of rec that disagree; *field names one. */
size_t	 engine_twin_problems(const struct entity *, const struct json *,
	    const char **);
int	 engine_same_as_body(struct ectx *, const struct entity *,
	    const struct json *, const struct json *);
int	 engine_remove(struct ectx *, struct store_txn *,
	    const struct entity *, const struct json *);

/* The name attribute of a link attribute: "xId" → "xName",
   "xsIds" → "xsNames" (record.c). */
char	*engine_name_attr(struct arena *, const char *attr);

#endif
