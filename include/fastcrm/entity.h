/*
 * The generic record engine.  An entity is data: a table of attributes
 * (struct field) plus a few named hooks.  Resource modules (contacts.c,
 * cases.c, ...) declare the tables; this engine validates, stores, indexes,
 * lists and links every entity the same way.
 */
#ifndef FASTCRM_ENTITY_H
#define FASTCRM_ENTITY_H

#include <stddef.h>
#include <stdio.h>

#include "fastcrm/arena.h"
#include "fastcrm/http.h"
#include "fastcrm/json.h"

struct conf;
struct req;
struct store;

enum ftype {
	FT_ID,		/* 17 hex */
	FT_VARCHAR,
	FT_TEXT,
	FT_INT,
	FT_FLOAT,
	FT_BOOL,
	FT_ENUM,
	FT_DATETIME,	/* "YYYY-MM-DD HH:MM:SS" UTC */
	FT_DATE,	/* "YYYY-MM-DD" */
	FT_LINK,	/* xId, with xName derived */
	FT_LINKMULTI,	/* xsIds, with xsNames derived */
	FT_PARENT,	/* parentId, with parentType and parentName */
	FT_PHONE,	/* phoneNumber, with phoneNumberData */
	FT_EMAIL,	/* emailAddress, with emailAddressData */
	FT_NAME,	/* varchar derived by a hook (link names too) */
	FT_DATA,	/* phoneNumberData etc.: arrays kept by the engine */
	FT_BOOLSYS,	/* deleted */
	FT_PASSWORD,	/* never output */
};

#define F_REQUIRED	0x0001u
#define F_READONLY	0x0002u	/* ignored on input */
#define F_INDEXED	0x0004u	/* equality index ix.Entity.attr */
#define F_UNIQUE	0x0008u
#define F_RETURN	0x0010u	/* unique + on_duplicate: return_existing */
#define F_ORDERED	0x0020u	/* ordered index ox.Entity.attr */
#define F_TEXT		0x0040u	/* searched by textFilter */
#define F_SECRET	0x0080u	/* never output */
#define F_CUSTOM	0x0100u	/* declared in the configuration */

struct field {
	const char		*name;
	enum ftype		 type;
	unsigned int		 flags;
	const char *const	*options;	/* enum options, NULL-terminated */
	size_t			 max_length;	/* 0: none */
	const char		*def;		/* default, as text */
	const char		*target;	/* linked entity; for FT_PARENT,
						   the allowed types "A,B" */
};

enum link_kind {
	LINK_SELF_MULTI,	/* ids held in this record's attribute */
	LINK_FOREIGN,		/* foreign records whose attr holds our id */
};

/* A relationship as seen from one entity: GET/POST/DELETE /E/{id}/{name}. */
struct link {
	const char	*name;		/* "cases" */
	const char	*foreign;	/* "Case" */
	enum link_kind	 kind;
	const char	*attr;		/* SELF: our xsIds; FOREIGN: their attr */
	const char	*foreign_attr;	/* SELF: their attr holding our id, or
					   NULL (only our side records it) */
};

struct entity;

/* Per-entity behaviour; every hook is optional. */
struct entity_hooks {
	/* Fills computed attributes of rec (new record when old is NULL). */
	void	(*compute)(struct arena *, const struct entity *,
		    struct json *rec, const struct json *old);
	/* Extra validation: 0, or -1 with the failing field and type set. */
	int	(*validate)(const struct entity *, const struct json *rec,
		    const char **field, const char **type);
};

struct entity {
	const char		*name;		/* "Contact" */
	const char		*module;	/* "contacts" */
	struct field		*fields;	/* built-in then custom */
	size_t			 nfields;
	const struct link	*links;
	size_t			 nlinks;
	const struct entity_hooks *hooks;
	int			 has_assignee;
	const char		*order_by;	/* default order attribute */
	int			 order_desc;
	const char *const	*dup_attrs;	/* duplicate check: "name", ... */
	const char		*counter;	/* autoincrement counter name */
	/* store database handles, set by entity_open_dbs() */
	int			 db_rec;
	int			*db_ix;		/* per field: -1 or the index */
	int			*db_ox;		/* per field: -1 or the order */
};

/* The resource modules' table declarations. */
struct entity_def {
	const char		*name;
	const char		*module;
	const struct field	*fields;
	const struct link	*links;
	const struct entity_hooks *hooks;
	int			 has_assignee;
	const char		*order_by;
	int			 order_desc;
	const char *const	*dup_attrs;
	const char		*counter;
};

extern const struct entity_def contacts_def;
extern const struct entity_def companies_def;
extern const struct entity_def cases_def;
extern const struct entity_def users_def;
extern const struct entity_def calls_def;
extern const struct entity_def tasks_def;
extern const struct entity_def notes_def;
extern const struct entity_def attachments_def;

/*
 * Builds the process's entity set from the built-in tables plus the custom
 * fields of conf.  Replaces any earlier set; lives until the next call.
 * Returns 0, or -1 with a message in *why (static or malloc'd text).
 */
int		 entity_init(const struct conf *, const char **why);
/* The NULL-terminated list of LMDB database names the entities need. */
const char *const *entity_db_names(void);
/* Resolves the database handles after the store is open. */
int		 entity_open_dbs(const struct store *);

const struct entity *entity_find(const char *name);
const struct field *entity_field(const struct entity *, const char *attr);
const struct link *entity_link(const struct entity *, const char *name);
size_t		 entity_count(void);
const struct entity *entity_at(size_t);

struct store_txn;
struct store_val;

/*
 * Record operations (record.c).  All memory comes from r->arena; records
 * are JSON objects with every attribute of the entity, in table order.
 */

/*
 * Access (access.c): the caller's role against an entity and its records.
 *
 * entity_authorize: the route's check, once per request: 0, or 403 set on
 * r; *own is set when the role allows act on own records only.
 *
 * entity_load: the one way to reach a record on the caller's behalf.  It
 * loads a live record and checks that the caller's role allows act on it
 * (`own` scope included).  Returns 0; FCRM_NOT_FOUND when absent, deleted
 * or id is not a valid id (no reason set: the caller names the record);
 * FCRM_FORBIDDEN with the reason set on r; or a store error.  act ACT_NONE
 * is the engine reading for itself (sign-in, the name of a link that did
 * not change), never an access on the caller's behalf.  raw, if not NULL,
 * receives the stored bytes (valid until the txn ends).  rec NULL (raw
 * then wanted): the checks read the stored bytes, parsing them only when
 * they cannot tell cheaply (a read by id sends them as they are).
 *
 * entity_load_target: entity_load for the target of a link the caller
 * sets; a missing or forbidden target is EspoCRM's 403 with the body
 * cannotRelateNonExisting or cannotRelateForbidden.
 *
 * entity_may: 1 if the role allows act on rec (rec NULL: on some record).
 * entity_owns: 1 if the principal owns rec (assigned user, else creator).
 */
int		 entity_authorize(struct req *, const struct entity *,
		    enum action, int *own);
int		 entity_load(struct req *, struct store_txn *,
		    const struct entity *, const char *id, enum action,
		    struct json **rec, struct store_val *raw);
int		 entity_load_target(struct req *, struct store_txn *,
		    const struct entity *, const char *id, enum action,
		    struct json **rec);
int		 entity_may(const struct req *, const struct entity *,
		    enum action, const struct json *rec);
int		 entity_owns(const struct req *, const struct json *rec);
/* Creates from body; *out is the stored record (or the existing one for
   an idempotent retry). */
int		 entity_create(struct req *, const struct entity *,
		    const struct json *body, struct json **out);
/* The same inside the caller's write txn, which it neither commits nor
   aborts (bulk import). */
int		 entity_create_in(struct req *, struct store_txn *,
		    const struct entity *, const struct json *body,
		    struct json **out);
/* Partial update by id. */
int		 entity_update(struct req *, const struct entity *,
		    const char *id, const struct json *body, struct json **out);
/* The same inside the caller's write txn, which it neither commits nor
   aborts. */
int		 entity_update_in(struct req *, struct store_txn *,
		    const struct entity *, const char *id,
		    const struct json *body, struct json **out);
/* Soft delete by id. */
int		 entity_delete(struct req *, const struct entity *,
		    const char *id);
/* Links (add != 0) or unlinks ids to record id through link l. */
int		 entity_relate(struct req *, const struct entity *,
		    const char *id, const struct link *l,
		    const struct json *ids, int add);

/*
 * Bulk (bulk.c), for the command line: import JSON lines into entity
 * (stops at the first bad line and says what was and was not loaded),
 * export live records as JSON lines, verify records against indexes.
 */
int		 entity_import(const struct conf *, const char *entity, FILE *,
		    const char **why);
int		 entity_export(const struct conf *, const char *entity, FILE *,
		    const char **why);
int		 entity_verify(const struct conf *, size_t *problems,
		    const char **why);

/* Lists (list.c): GET /E and GET /E/{id}/{link}, parameters in r. */
int		 entity_list(struct req *, const struct entity *);
int		 entity_list_related(struct req *, const struct entity *,
		    const char *id, const struct link *);
/* GET /E/{id}/stream: the record's Notes, newest first. */
int		 entity_stream(struct req *, const struct entity *,
		    const char *id);

#endif
