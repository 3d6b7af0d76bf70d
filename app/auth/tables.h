/*
 * Internal to auth (app/auth): the store tables only auth uses, declared
 * in tables.c and registered with the engine by auth_init, which opens
 * them with every store and sets these handles.
 */
#ifndef FASTCRM_AUTH_TABLES_H
#define FASTCRM_AUTH_TABLES_H

struct ectx;
struct store_txn;

/* SHA-256(cookie) -> agent session (session.c). */
extern int	 auth_db_sessions;
/* SHA-256(code or token) -> OAuth2 grant (oauth2.c). */
extern int	 auth_db_tokens;
/* client address -> failed sign-ins in the window (auth.c). */
extern int	 auth_db_authfail;
/* SHA-256(token) -> EspoCRM auth token (authtoken.c). */
extern int	 auth_db_authtokens;

/*
 * Deletes expired entries of table db (SHA-256 hex -> JSON with "exp",
 * named name) in the caller's write txn t, a few per call, going round
 * the table from where the previous call stopped (a cursor kept in the
 * engine's meta as "purge.<name>").  Called on every sign-in and token
 * issue, so that expired entries stay a small part of the table.  0 or an
 * error code.
 */
int	 auth_purge_expired(struct ectx *, struct store_txn *t, int db,
	    const char *name);

#endif
