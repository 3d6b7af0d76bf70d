/*
 * The generic record engine.  An entity is data: a table of attributes
 * (struct field) plus a few named hooks.  The resource modules
 * (app/resources/) declare the tables and hand them to the engine at start
 * (entity_register); this engine names none of them, and validates,
 * stores, indexes, lists and links every entity the same way.  It is also
 * the one door to the store for everything above it: opening
 * (entity_store_open), the tables of other modules, transactions
 * (entity_begin/entity_commit).
 */
#ifndef FASTCRM_ENTITY_H
#define FASTCRM_ENTITY_H

#include <stddef.h>
#include <stdio.h>

#include "fastcrm/arena.h"
#include "fastcrm/json.h"

struct conf;
struct conf_role;
struct store;
struct store_txn;

enum action {
	ACT_NONE = 0,	/* any authenticated principal */
	ACT_READ,
	ACT_CREATE,
	ACT_EDIT,
	ACT_DELETE,
	ACT_PUBLIC,	/* no credentials needed */
};

/* The authenticated caller. */
struct principal {
	const char		*id;
	const char		*name;		/* display name */
	const char		*user_name;	/* the name it signs in with */
	const char		*type;		/* "api" or "regular" */
	const struct conf_role	*role;
	int			 admin;
	const char		*csrf;		/* session's token, or NULL */
	int			 empty_absent;	/* "" in a body = not given
						   (empty_means_absent) */
	const char		*token;		/* the auth token it signed in
						   with (Espo-Authorization) */
	int			 espo_password;	/* Espo-Authorization with a
						   password: App/user issues
						   a token */
};

/*
 * What went wrong in an engine call, for the caller to render (app/http/
 * fault.c for HTTP, a reason on the command line).  code is the
 * enum fcrm_err returned; reason one line (NULL: error_reason(code)).
 */
enum fault_kind {
	FAULT_PLAIN,		/* code and reason */
	FAULT_VALIDATION,	/* EspoCRM's validationFailure: entity, field,
				   type */
	FAULT_CONFLICT,		/* 409: records, the ones in the way */
	FAULT_RELATE,		/* 403 with EspoCRM's label: foreign, action */
};
struct fault {
	int			 code;
	const char		*reason;
	enum fault_kind		 kind;
	const char		*entity;	/* validation: entityType */
	const char		*field;		/* validation: the attribute */
	const char		*type;		/* validation: "required" ... */
	const struct json	*records;	/* conflict: an array */
	const char		*label;		/* relate: cannotRelate... */
	const char		*foreign;	/* relate: foreignEntityType */
	const char		*action;	/* relate: "read", or NULL */
};

/*
 * The context of an engine call: whose behalf, which store, where memory
 * comes from, and the fault of the last call that failed.  Built by the
 * caller (a handler from its request, the command line for itself).
 */
struct ectx {
	struct arena		*arena;
	const struct conf	*conf;
	struct store		*store;
	struct principal	*who;		/* NULL: the system */
	int			 system;	/* the engine working for itself
						   (CLI, start-up): no role */
	int			 trusted;	/* may set read-only attributes
						   (system writes) */
	int			 import;	/* bulk import: keep exported
						   system values, no duplicate
						   check */
	int			 import_dups;	/* import, yet with the
						   duplicate check */
	int			 skip_dups;	/* the caller asked to skip the
						   duplicate check */
	struct fault		 fault;
	/* The record last stored (engine_store_record) and the bytes it
	   was stored as: entity_write_rec sends those for it. */
	const struct json	*stored;
	const char		*stored_raw;
	size_t			 stored_len;
};

/* A context on a, for the system (no principal). */
void		 entity_ctx(struct ectx *, struct arena *, const struct conf *,
		    struct store *);
/*
 * Records a plain fault: code and a one-line reason (a printf format).
 * Returns code so that engine code can `return entity_fail(c, ...)`.
 */
int		 entity_fail(struct ectx *, int code, const char *fmt, ...)
		    __attribute__((format(printf, 3, 4)));
/*
 * Records EspoCRM's validation failure of attribute field of e (type:
 * "required", "valid", "maxLength"...).  Returns FCRM_VALIDATION.
 */
struct entity;
int		 entity_fail_validation(struct ectx *, const struct entity *e,
		    const char *field, const char *type);
/* EspoCRM's 409: recs, the records in the way (one record is sent as a
   one-element list), and the reason. */
int		 entity_fail_conflict(struct ectx *, const struct json *recs,
		    const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/*
 * Appends rec as JSON to out: the bytes it was just stored as when it is
 * the record this context last stored (a create's or update's answer),
 * else written afresh.
 */
struct buf;
void		 entity_write_rec(const struct ectx *, const struct json *rec,
		    struct buf *out);
/* The fault's reason, or error_reason(code). */
const char	*entity_reason(const struct ectx *, int code);

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

/*
 * Per-entity behaviour, named; every hook is optional and the engine calls
 * each the same way for every entity that has it.
 */
struct entity_hooks {
	/* Fills computed attributes of rec (new record when old is NULL). */
	void	(*compute)(struct arena *, const struct entity *,
		    struct json *rec, const struct json *old);
	/* Extra validation: 0, or -1 with the failing field and type set. */
	int	(*validate)(const struct entity *, const struct json *rec,
		    const char **field, const char **type);
	/*
	 * What a write's body carries beside the record (User: a password),
	 * taken before the write txn opens: CPU work only, no store (a
	 * password is hashed here, slow on purpose, outside LMDB's single
	 * writer).  *state starts NULL; what it is set to (in c's arena)
	 * reaches store.  0, or a fault recorded on c.
	 */
	int	(*prepare)(struct ectx *, const struct entity *,
		    const struct json *body, void **state);
	/*
	 * Who may write what: called by create (old NULL) and update with
	 * the principal in c, the record as it will be stored and the body,
	 * in the write txn t, just before the record is stored.  0, or a
	 * fault recorded on c (the write is then abandoned).  It may write
	 * in t what goes with the change (User: end the user's sessions).
	 */
	int	(*guard)(struct ectx *, struct store_txn *,
		    const struct entity *, const struct json *old,
		    const struct json *rec, const struct json *body);
	/*
	 * In the write txn t, once rec is stored: writes what prepare took
	 * from the body beside the record (User: the password's hash),
	 * through entity_meta_put.  0, or a store error code.
	 */
	int	(*store)(struct ectx *, struct store_txn *,
		    const struct entity *, const struct json *rec,
		    void *state);
	/*
	 * A list's primaryFilter pf (NULL or "" when the list asks for none),
	 * seen beside the list's own where: *items becomes an array of
	 * EspoCRM where items the list must also match (in c's arena), or
	 * NULL for none.  0, or FCRM_BAD_REQUEST recorded on c for a filter
	 * the entity does not have.  Without this hook a primaryFilter is
	 * refused.
	 */
	int	(*primary_filter)(struct ectx *, const struct entity *,
		    const char *pf, const struct json *where,
		    struct json **items);
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
	const char		*phone_type;	/* type of a number given as
						   phoneNumber alone */
	int			 principals;	/* its records are principals:
						   see entity_def */
	/* store database handles, set by entity_store_open() */
	int			 db_rec;
	int			*db_ix;		/* per field: -1 or the index */
	int			*db_ox;		/* per field: -1 or the order */
};

/*
 * A resource module's declaration of one entity, written with designated
 * initializers; what is left out is 0/NULL.  The resource modules'
 * table of them (app/resources/resources.c) is handed to the engine by
 * entity_register.
 */
struct entity_def {
	const char		*name;		/* "Contact" */
	const char		*module;	/* its file: "contacts" */
	const struct field	*fields;	/* ends with a NULL name */
	const struct link	*links;		/* ends with a NULL name, or
						   NULL: none */
	const struct entity_hooks *hooks;	/* or NULL */
	int			 has_assignee;	/* assignedUserId: owned */
	const char		*order_by;	/* default list order */
	int			 order_desc;
	const char *const	*dup_attrs;	/* duplicate check, or NULL */
	const char		*counter;	/* "number" counter, or NULL */
	const char		*phone_type;	/* a number given as phoneNumber
						   alone is of this type; NULL:
						   "Office" */
	int			 principals;	/* its records are the people
						   who sign in (User): a link
						   to one needs no read on it,
						   and a configured principal's
						   id names it */
};

/*
 * Registers the resource tables the entity set is built from: defs is a
 * NULL-terminated array, borrowed for the life of the process.  Called
 * once at start by whoever starts the process (main(), a test program),
 * before entity_init.
 */
void		 entity_register(const struct entity_def *const *defs);
/*
 * Builds the process's entity set from the registered tables plus the
 * custom fields of conf.  Replaces any earlier set; lives until the next call.
 * Returns 0, or -1 with a message in *why (static or malloc'd text).
 */
int		 entity_init(const struct conf *, const char **why);
/*
 * The one door to the store (door.c).  A module above the engine that
 * keeps tables of its own in the store (auth: sessions, tokens...)
 * registers them once at start, before any store is opened: an array
 * ended by a NULL name, kept (not copied); 0, or -1 when too many
 * modules registered.  A table flagged ENTITY_TABLE_TRANSIENT is emptied
 * in a backup's copy.
 */
struct entity_table {
	const char		*name;
	int			*handle;	/* set by entity_store_open */
	unsigned int		 flags;
};
#define ENTITY_TABLE_TRANSIENT	0x1u
int		 entity_tables_add(const struct entity_table *);
/*
 * Opens the environment in dir (NULL: conf->data_dir) with every
 * database: the entity set's (entity_init first), the engine's and the
 * registered tables', and resolves every handle.  0, or an error code
 * with *why (static text).  Closed by entity_store_close.
 */
int		 entity_store_open(const struct conf *, const char *dir,
		    struct store **, const char **why);
void		 entity_store_close(struct store *);
/*
 * The worker's and master's calls on an open store: the kept read txn
 * ends after each request (idle); the store's pages in the page cache
 * mapped at a worker's start (prefault, store.h); group commit
 * (store.h's store_batch: on/off, write txns joined so far, whether a
 * batch is open and since when, its one durable commit); stale reader slots of dead
 * processes cleared (*dead: how many).
 */
void		 entity_store_idle(struct store *);
size_t		 entity_store_prefault(struct store *, size_t limit);
void		 entity_store_batch(struct store *, int on);
unsigned long	 entity_store_batch_joined(const struct store *);
int		 entity_store_batch_open(const struct store *);
long long	 entity_store_batch_age_us(const struct store *);
int		 entity_store_batch_commit(struct store *);
/* The batch gate between workers (store.h's store_batch_wait). */
int		 entity_store_batch_leading(const struct store *);
void		 entity_store_batch_release(struct store *);
void		 entity_store_batch_wait(const struct store *, int ms);
int		 entity_store_reader_check(const struct conf *, int *dead);
/*
 * The engine's meta table, for the modules that keep values beside
 * records ("pw:<id>" password hashes, "gen:<id>" credential nonces, a
 * purge cursor): get copies the value into c's arena (NUL-terminated;
 * *len its length, len may be NULL), FCRM_NOT_FOUND when absent; put
 * writes in the caller's write txn.
 */
int		 entity_meta_get(struct ectx *, struct store_txn *,
		    const char *key, const char **val, size_t *len);
int		 entity_meta_put(struct ectx *, struct store_txn *,
		    const char *key, const void *val, size_t len);
/*
 * The first live record of e whose indexed attribute attr holds value
 * (normalised as the index keys are: lower case, phone digits), loaded
 * with entity_load's check for act (ACT_NONE: the engine reading for
 * itself, as sign-in does).  0 and *rec; FCRM_NOT_FOUND; a fault on c.
 */
int		 entity_lookup(struct ectx *, struct store_txn *,
		    const struct entity *, const char *attr,
		    const char *value, enum action, struct json **rec);

const struct entity *entity_find(const char *name);
const struct field *entity_field(const struct entity *, const char *attr);
const struct link *entity_link(const struct entity *, const char *name);
size_t		 entity_count(void);
const struct entity *entity_at(size_t);

struct store_txn;
struct store_val;

/*
 * Record operations (record.c, with convert.c, index.c, links.c).  All
 * memory comes from c's arena; records are JSON objects with every
 * attribute of the entity, in table order.  A write checks its body
 * before it opens the write txn.
 */

/*
 * Access (access.c): the caller's role against an entity and its records.
 *
 * entity_authorize: the route's check, once per request: 0, or 403 with
 * the fault recorded on c; *own is set when the role allows act on own
 * records only.
 *
 * entity_load: the one way to reach a record on the caller's behalf.  It
 * loads a live record and checks that the caller's role allows act on it
 * (`own` scope included).  Returns 0; FCRM_NOT_FOUND when absent, deleted
 * or id is not a valid id (no fault recorded: the caller names the
 * record); FCRM_FORBIDDEN with the fault recorded on c; or a store error.
 * act ACT_NONE is the engine reading for itself (sign-in, the name of a
 * link that did not change), never an access on the caller's behalf.  raw,
 * if not NULL,
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
int		 entity_authorize(struct ectx *, const struct entity *,
		    enum action, int *own);
int		 entity_load(struct ectx *, struct store_txn *,
		    const struct entity *, const char *id, enum action,
		    struct json **rec, struct store_val *raw);
int		 entity_load_target(struct ectx *, struct store_txn *,
		    const struct entity *, const char *id, enum action,
		    struct json **rec, struct store_val *raw);
int		 entity_may(const struct ectx *, const struct entity *,
		    enum action, const struct json *rec);
int		 entity_owns(const struct ectx *, const struct json *rec);
/* Creates from body; *out is the stored record (or the existing one for
   an idempotent retry). */
int		 entity_create(struct ectx *, const struct entity *,
		    const struct json *body, struct json **out);
/*
 * The one door to the store for everything above the engine: a txn
 * (write != 0: LMDB's single writer) registered on c's arena, aborted when
 * the arena is reset unless entity_commit committed it (durably; inside a
 * group commit, into the batch).  Past the arena's ceiling nothing is
 * committed (FCRM_TOO_LARGE).
 */
int		 entity_begin(struct ectx *, int write, struct store_txn ***);
int		 entity_commit(struct ectx *, struct store_txn **);
/* Ends *t at once (a read done early); *t becomes NULL. */
void		 entity_end(struct store_txn **);
/* The same inside the caller's write txn, which it neither commits nor
   aborts (bulk import). */
int		 entity_create_in(struct ectx *, struct store_txn *,
		    const struct entity *, const struct json *body,
		    struct json **out);
/* Partial update by id. */
int		 entity_update(struct ectx *, const struct entity *,
		    const char *id, const struct json *body, struct json **out);
/* The same inside the caller's write txn, which it neither commits nor
   aborts. */
int		 entity_update_in(struct ectx *, struct store_txn *,
		    const struct entity *, const char *id,
		    const struct json *body, struct json **out);
/*
 * The Attachment record of a file stored as attachments/<id> (size bytes),
 * and, when the parent has a link field <field>Id to Attachment (Call's
 * recordingId), that link: both in one transaction.  Creating it needs
 * read on the parent, the parent's link an edit of it.
 */
struct attach_in {
	const char		*id;
	const char		*name;
	const char		*type;		/* media type */
	size_t			 size;
	const char		*parent_type;	/* or NULL */
	const char		*parent_id;
	const char		*field;		/* "recording", "file" */
};
int		 entity_attach(struct ectx *, const struct attach_in *,
		    struct json **out);
/* Soft delete by id. */
int		 entity_delete(struct ectx *, const struct entity *,
		    const char *id);
/* Links (add != 0) or unlinks ids to record id through link l. */
int		 entity_relate(struct ectx *, const struct entity *,
		    const char *id, const struct link *l,
		    const struct json *ids, int add);

/*
 * Bulk (bulk.c), for the command line: export live records as JSON
 * lines, verify records against indexes.
 */
int		 entity_export(const struct conf *, const char *entity, FILE *,
		    const char **why);
int		 entity_verify(const struct conf *, size_t *problems,
		    const char **why);

/*
 * Backup and restore (ops.c), for the command line.  entity_backup writes
 * dir (which must not exist) from a compacted snapshot of the store, the
 * attachment files its records reference and manifest.json, under a
 * temporary name renamed into place when complete.  entity_restore checks
 * dir's manifest and every file's SHA-256, refuses a data_dir that is in
 * use or (without force) not empty, and puts the store in place.
 */
struct entity_backup_stats {
	size_t			 records;	/* live records */
	size_t			 files;		/* attachment files */
	size_t			 missing;	/* referenced, not found */
	unsigned long long	 bytes;
	double			 snapshot_seconds;	/* the LMDB copy */
	double			 seconds;		/* all of it */
};
int		 entity_backup(const struct conf *, const char *dir,
		    struct entity_backup_stats *, const char **why);
int		 entity_restore(const struct conf *, const char *dir,
		    int force, struct entity_backup_stats *, const char **why);
/*
 * Parses and checks a backup's manifest.json text (len bytes at buf): a
 * JSON object of format 1 whose files are data.mdb (once) and
 * attachments/<id>, each with a size and a SHA-256.  0 with the number of
 * files in *nfiles, or FCRM_BAD_JSON with *why.  Everything lives in a.
 */
int		 entity_manifest_check(struct arena *, const char *buf,
		    size_t len, size_t *nfiles, const char **why);
/*
 * GET /healthz's probe: a real read transaction on c's store, then the
 * map's fill into si (and the reader table when readers is set).
 */
struct store_info;
int		 entity_probe(struct ectx *, struct store_info *si,
		    int readers);
/*
 * API users (apiusers.c): writes a User record of type "api" for every
 * configured principal (same id), and marks those of principals no longer
 * configured inactive.  Called by the master at start and on reload, with
 * the entity set built and st's handles open.  0, or an error code with
 * *why.
 */
int		 entity_sync_api_users(const struct conf *, struct store *st,
		    const char **why);
/* The system user's id: imports and other writes of no principal. */
#define ENTITY_SYSTEM_ID	"00000000000000000"

/*
 * Import (import.c, import_file.c): JSON lines or CSV files, each into
 * its entity, in one run (links between the files resolve in any order).
 */
struct import_opts {
	const char		*mode;		/* create (default), update,
						   upsert */
	const char		*match;		/* "id" (default) or an indexed
						   attribute: emailAddress... */
	int			 no_dup_check;	/* skip the duplicate check */
	int			 strict;	/* stop at the first bad row */
	const char		*rejects;	/* reject file (JSON lines) */
	const char		*format;	/* csv, json; NULL: by name */
	const char *const	*maps;		/* "Column=attribute" */
	size_t			 nmaps;
	int			 drop_missing_users;	/* links to Users
						   not there are dropped */
};
struct import_input {
	const char		*entity;
	const char		*path;		/* "-": stdin */
};
/* 0; 3 when rows were rejected (the rest is in); else an error. */
int		 entity_import_files(const struct conf *,
		    const struct import_input *, size_t,
		    const struct import_opts *, const char **why);
/* Prints the importable attributes of entity with their types. */
int		 entity_import_fields(const struct conf *, const char *entity,
		    FILE *, const char **why);

/*
 * migrate (migrate.c): an EspoCRM installation (or another fastcrm) read
 * through its REST API into this store, keeping ids; resumable.
 */
struct migrate_opts {
	const char		*url;		/* https://host[/api/v1] */
	const char		*key;		/* X-Api-Key */
	const char		*hmac;		/* KEY:SECRET */
	const char		*user, *password;	/* Espo-Authorization */
	const char		*cacert;	/* CA file for the TLS check */
	int			 insecure;	/* no TLS check */
	int			 restart;	/* forget the saved progress */
	size_t			 limit;		/* stop after N records (0: all) */
	size_t			 page;		/* maxSize (default 200) */
	const char		*rejects;	/* reject file, or NULL */
};
/* 0; 3 when records were refused (the rest is in); else an error. */
int		 entity_migrate(const struct conf *,
		    const struct migrate_opts *, const char **why);

/*
 * Erasure (erase.c): purge removes soft-deleted records older than the
 * duration ("30d", "12h", "0s") for good, with their index entries and
 * files; erase removes one person (a data subject's request) and every
 * copy of their name, numbers and emails.
 */
int		 entity_purge(const struct conf *, const char *before,
		    const char **why);
int		 entity_erase(const struct conf *, const char *entity,
		    const char *id, const char **why);
/* The purge itself, for the service's schedule: removed records in *n. */
int		 entity_purge_older(const struct conf *, long long secs,
		    size_t *n, const char **why);
/* The service's purge process: every hour (or purge_deleted_after, when
   shorter) until life turns readable or SIGTERM; never returns. */
void		 entity_purge_run(const struct conf *, int life)
		    __attribute__((noreturn));

/*
 * Lists (list.c): the records of an entity, or those related to record id
 * through a link, that the caller may read, rendered into out as
 * {"total":N,"list":[...]}.  params are EspoCRM's list parameters
 * (where, orderBy, order, maxSize, offset, select, textFilter,
 * primaryFilter, searchParams), as a JSON object; no_total asks for
 * total -1/-2 (X-No-Total).
 */
struct list_args {
	const struct json	*params;
	int			 no_total;
};
int		 entity_list(struct ectx *, const struct entity *,
		    const struct list_args *, struct buf *out);
int		 entity_list_related(struct ectx *, const struct entity *,
		    const char *id, const struct link *,
		    const struct list_args *, struct buf *out);
/* The record's Notes, newest first (GET /E/{id}/stream). */
int		 entity_stream(struct ectx *, const struct entity *,
		    const char *id, const struct list_args *, struct buf *out);

#endif
