/*
 * The where builder and evaluator: EspoCRM's `where` items (from the query
 * string or searchParams JSON) become a tree that is checked once against
 * the entity, then evaluated per record.
 */
#ifndef FASTCRM_WHERE_H
#define FASTCRM_WHERE_H

#include "fastcrm/entity.h"
#include "fastcrm/json.h"

struct ectx;
struct store_txn;

enum wtype {
	W_EQUALS, W_NOT_EQUALS, W_LIKE, W_NOT_LIKE, W_CONTAINS,
	W_NOT_CONTAINS, W_STARTS_WITH, W_ENDS_WITH, W_IN, W_NOT_IN,
	W_IS_NULL, W_IS_NOT_NULL, W_IS_TRUE, W_IS_FALSE, W_GT, W_LT, W_GTE,
	W_LTE, W_BETWEEN, W_AND, W_OR, W_TODAY, W_PAST, W_FUTURE,
	W_LAST_SEVEN_DAYS, W_LAST_X_DAYS, W_NEXT_X_DAYS, W_OLDER_THAN_X_DAYS,
	W_AFTER_X_DAYS, W_CURRENT_MONTH, W_LAST_MONTH, W_CURRENT_YEAR,
	W_LINKED_WITH, W_NOT_LINKED_WITH, W_IS_LINKED, W_IS_NOT_LINKED,
	W_PHONE_PREFIX,		/* internal: textFilter on phone digits */
	W_OWN,			/* internal: read `own` */
};

struct wnode {
	enum wtype		 type;
	const struct field	*f;		/* attribute, when one */
	const struct link	*link;		/* linkedWith */
	const struct json	*value;
	const char		**vals;		/* lower-cased texts of value */
	size_t			 nvals;
	struct wnode		**kids;		/* and / or */
	size_t			 nkids;
	const char		*lo, *hi;	/* computed date ranges */
	int			 sorted;	/* vals sorted, no repeats */
	const char		**linked;	/* where_prepare: sorted ids of
						   the records a foreign link
						   names */
	size_t			 nlinked;
	int			 prepared;
};

/*
 * Builds the tree from a list of items (JSON array, or object with
 * integer keys).  Returns 0, or FCRM_BAD_REQUEST with the fault recorded
 * on c.  *out is NULL for an empty list.
 */
int	 where_build(struct ectx *, const struct entity *, const struct json *,
	    struct wnode **out);
/* A node matching the record's prefix over the entity's text fields. */
struct wnode *where_text_filter(struct ectx *, const struct entity *,
	    const char *);
/*
 * Reads, once, what linkedWith / notLinkedWith on a foreign link needs
 * (the foreign records of its values) so that where_eval then costs a
 * binary search per record.  Call it with the list's transaction before
 * evaluating; without it such a node loads its foreign records per
 * record (and with no transaction matches nothing).
 */
void	 where_prepare(struct ectx *, struct store_txn *, struct wnode *);
/* 1 if rec satisfies n (NULL matches everything). */
int	 where_eval(struct ectx *, struct store_txn *, const struct entity *,
	    const struct wnode *, const struct json *rec);
struct wnode *where_and(struct ectx *, struct wnode *, struct wnode *);

#endif
