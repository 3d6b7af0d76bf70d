/*
 * The configuration: parsed once from YAML (libyaml) into an immutable
 * struct conf, then only read.  A reload builds a new one; an invalid file
 * never replaces the running configuration.
 */
#ifndef FASTCRM_CONF_H
#define FASTCRM_CONF_H

#include <stddef.h>

enum conf_perm {
	CONF_NO = 0,
	CONF_OWN,
	CONF_ALL,
};

/* What one role may do on one entity. */
struct conf_acl {
	char		*entity;	/* "Contact", ... or "*" for every entity */
	int		 create;	/* 1 yes, 0 no */
	enum conf_perm	 read;
	enum conf_perm	 edit;
	enum conf_perm	 del;
};

struct conf_role {
	char		*name;
	struct conf_acl	*acls;
	size_t		 nacls;
};

struct conf_user {
	char		*name;
	char		*id;		/* 17 hex; from `id:` or derived from name */
	char		*role;
	int		 has_key;
	unsigned char	 key_sha256[32];	/* api_key_sha256 */
	char		*password_hash;	/* crypt(3) string or NULL */
	char		*hmac_secret;	/* clear text (EspoCRM HMAC) or NULL */
	int		 admin;		/* may manage users' passwords */
	int		 empty_means_absent; /* "" in a body = not given */
};

struct conf_client {
	char		*client_id;
	unsigned char	 secret_sha256[32];
	char		**redirect_uris;
	size_t		 nredirect_uris;
	char		*role;
	int		 empty_means_absent; /* "" in a body = not given */
};

enum conf_ftype {
	CONF_FT_VARCHAR,
	CONF_FT_TEXT,
	CONF_FT_INT,
	CONF_FT_BOOL,
	CONF_FT_ENUM,
	CONF_FT_DATETIME,
};

/* A custom field declared under entities: NAME: fields: */
struct conf_field {
	char		*entity;
	char		*name;
	enum conf_ftype	 type;
	char		**options;	/* enum options */
	size_t		 noptions;
	size_t		 max_length;	/* 0: the type's default */
	int		 required;
	int		 indexed;
	int		 unique;
	int		 return_existing; /* on_duplicate: return_existing */
	char		*def;		/* default value as text, or NULL */
};

/* entities: NAME: aliases: FIELD: {from: to} — an input word read as to. */
struct conf_alias {
	char		*entity;
	char		*field;
	char		*from;		/* compared case-insensitively */
	char		*to;
	size_t		 line;
};

struct conf {
	char		*path;
	char		*listen;	/* "unix:/path" or "127.0.0.1:9000" */
	int		 workers;	/* resolved: `auto` = CPUs */
	char		*data_dir;
	size_t		 map_size;	/* bytes */
	size_t		 max_body;	/* bytes */
	size_t		 max_json_body;	/* bytes, routes other than uploads */
	size_t		 max_login_body; /* bytes, sign-in, OAuth2 and / */
	size_t		 request_memory; /* bytes one request may use beyond
					   4x its body limit */
	char		*default_country_code;	/* digits, "" if none */
	int		 auth_fail_limit;	/* failures per window, default 10 */
	int		 auth_fail_window;	/* seconds, default 60 */
	int		 write_batch;	/* requests per group commit, 1 = off */
	char		*log_level;	/* "info" (default) or "debug" */
	long long	 purge_deleted_after;	/* seconds; 0: never (default) */
	char		*log_file;	/* absolute path, or NULL: stderr */
	char		*agent_role;	/* role of signed-in User records, or NULL */
	char		**frame_ancestors;
	size_t		 nframe_ancestors;
	char		**metrics_allow;	/* addresses / prefixes */
	size_t		 nmetrics_allow;
	int		 metrics_allow_given;	/* 0: loopback only */
	int		 health_max_fill;	/* percent, default 90 */
	struct conf_role *roles;
	size_t		 nroles;
	struct conf_user *users;
	size_t		 nusers;
	struct conf_client *clients;
	size_t		 nclients;
	struct conf_field *fields;
	size_t		 nfields;
	struct conf_alias *aliases;
	size_t		 naliases;
};

/*
 * Diagnostics: each message is "FILE:LINE: text".  Warnings do not make a
 * configuration invalid.
 */
struct conf_diag {
	char		**errors;
	size_t		 nerrors;
	char		**warnings;
	size_t		 nwarnings;
};

/*
 * Loads and validates path.  Returns 0 and *out (caller frees with
 * conf_free) when there are no errors; otherwise -1 and *out is NULL.  Every
 * error and warning found is appended to diag (caller frees with
 * conf_diag_free), so one pass reports all mistakes.
 */
int		 conf_load(const char *path, struct conf **out,
		    struct conf_diag *diag);
void		 conf_free(struct conf *);
void		 conf_diag_free(struct conf_diag *);

/* The role named, or NULL. */
const struct conf_role *conf_role_find(const struct conf *, const char *);
/*
 * The role's rights on entity (an exact entry, else "*", else all `no`).
 * The returned entity member is borrowed from the role (NULL when no entry
 * matched, or when the role is NULL).
 */
struct conf_acl	 conf_role_acl(const struct conf_role *, const char *entity);

/*
 * Parses "4GiB", "64MiB", "512KiB", "1000" ...; 0 on success.  The binary
 * suffixes KiB MiB GiB TiB and the bare K M G T (nginx style, any case)
 * count in powers of 1024; KB MB GB TB in powers of 1000; "B" or nothing is
 * bytes.  -1 (and *out untouched) on anything else or on overflow.
 */
int		 conf_parse_size(const char *, size_t *out);

/*
 * As conf_load(), but parses the len bytes at buf; name is only used in
 * messages.  There is no file, so no file mode warning.  buf is borrowed
 * for the call and need not be NUL-terminated.
 */
int		 conf_load_mem(const char *name, const char *buf, size_t len,
		    struct conf **out, struct conf_diag *diag);

/*
 * A new API key for `fastcrm key`: 32 random lowercase hex characters from
 * the kernel's generator into key, and their SHA-256 hex (the value for
 * api_key_sha256) into sha_hex; both NUL-terminated.  0 on success, -1 with
 * errno set if no randomness could be had.
 */
int		 conf_key_generate(char key[33], char sha_hex[65]);

#endif
