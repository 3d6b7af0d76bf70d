/*
 * Internal to the record engine (app/entity): what its files share, not
 * part of its interface; no file outside app/entity/ includes it
 * (tests/unit_engine.c aside, which tests the internals).  Everything
 * allocates from the arena given (or c's); a struct store_txn is the
 * caller's, never ended here.
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

/*
 * convert.c: a body made into a record, CPU only (a write does it before
 * its txn opens).
 *
 * engine_convert: one input value to the stored form of field f; *out
 * NULL means null.  0, or -1 with *etype EspoCRM's validation type.
 * engine_convert_body: every known, writable attribute of body but the
 * phone and email pairs, converted and set on rec; 0 or a validation
 * fault.  engine_merge sets what it set on one object on another.
 * engine_apply_points: the body's phone and email pairs (and their Data
 * arrays) merged into rec's.  engine_apply_body: both.
 * engine_set_defaults: the typed defaults of a new record.
 * engine_check_required: required attributes and the validate hook.
 * engine_normalise: rec with every attribute, in table order, secrets
 * dropped.
 * engine_same_as_body: 1 if every attribute body gives has the same value
 * in rec (an idempotent retry; an unchanged import row).
 */
int	 engine_convert(struct arena *, const struct field *,
	    const struct json *, struct json **, const char **);
int	 engine_convert_body(struct ectx *, const struct entity *,
	    struct json *rec, const struct json *body);
void	 engine_merge(struct arena *, struct json *rec,
	    const struct json *vals);
int	 engine_apply_points(struct ectx *, const struct entity *,
	    struct json *rec, const struct json *body);
int	 engine_apply_body(struct ectx *, const struct entity *,
	    struct json *rec, const struct json *body);
void	 engine_set_defaults(struct ectx *, const struct entity *,
	    struct json *rec);
int	 engine_check_required(struct ectx *, const struct entity *,
	    const struct json *rec);
struct json *engine_normalise(struct arena *, const struct entity *,
	    const struct json *rec);
int	 engine_same_as_body(struct ectx *, const struct entity *,
	    const struct json *body, const struct json *rec);

/*
 * links.c: fills every link's name attribute of rec in t; links that
 * differ from old (every link of a new record) must name a record the
 * caller may read.  engine_name_attr: "xId" → "xName", "xsIds" →
 * "xsNames".
 */
int	 engine_resolve_links(struct ectx *, struct store_txn *,
	    const struct entity *, struct json *rec, const struct json *old);
char	*engine_name_attr(struct arena *, const char *attr);

/*
 * index.c: index keys (field fi of rec, normalised), the ordered-index
 * key (sortable value, NUL, id), the ids under a key (at most 100000),
 * adding (add != 0) or removing a record's entries, storing rec
 * (replacing old, if any) with its entries, removing rec for good with
 * them (purge, erase); the unique check (the holder in *dup, *ret when
 * it is to be returned, *hidden naming the attribute when the caller may
 * not read it) and EspoCRM's duplicate check (an array of look-alikes).
 */
size_t	 engine_index_keys(struct arena *, const struct entity *, size_t,
	    const struct json *, const char ***);
char	*engine_order_key(struct arena *, const struct field *,
	    const struct json *, const char *, size_t *);
int	 engine_index_ids(struct arena *, struct store_txn *, int,
	    const char *, const char ***, size_t *);
int	 engine_index_apply(struct ectx *, struct store_txn *,
	    const struct entity *, const struct json *rec, int add);
int	 engine_store_record(struct ectx *, struct store_txn *,
	    const struct entity *, const struct json *old,
	    const struct json *rec);
int	 engine_remove(struct ectx *, struct store_txn *,
	    const struct entity *, const struct json *);
int	 engine_check_unique(struct ectx *, struct store_txn *,
	    const struct entity *, const struct json *rec, struct json **dup,
	    int *ret, const char **hidden);
int	 engine_find_duplicates(struct ectx *, struct store_txn *,
	    const struct entity *, const struct json *rec,
	    struct json **list);

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

#endif
