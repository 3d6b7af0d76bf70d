/*
 * Credentials and roles.  auth_authenticate tries the schemes of AUTH.md
 * in order and sets r->who; the role check is entity_authorize (entity.h).
 * Auth's own tables in the store are registered by auth_init.
 */
#ifndef FASTCRM_AUTH_H
#define FASTCRM_AUTH_H

#include <stddef.h>
#include <stdio.h>

#include "fastcrm/http.h"

struct entity;
struct store_txn;

/*
 * Sets r->who from the request's credentials.  Returns 0, or an error
 * set on r: 401 for Espo-Authorization, X-Api-Key and X-Hmac-Authorization,
 * 403 for Basic and Bearer, 401 with WWW-Authenticate when none was sent,
 * 403 while the address is over the failed-login limit.
 */
int		 auth_authenticate(struct req *);
/*
 * Registers auth's own tables (sessions, tokens, authfail, authtokens:
 * app/auth/tables.c) with the engine, so that every store opened after
 * it holds them.  Called once at start (main), before any store opens;
 * 0 or -1.
 */
int		 auth_init(void);
/*
 * Sessions (session.c): the agent's sign-in for the page at `/`.  A
 * session is a random token in an HttpOnly cookie; LMDB keeps only its
 * SHA-256 with the principal, the expiry and the CSRF token.
 */
#define AUTH_COOKIE	"fastcrm_session"
#define AUTH_SESSION_TTL (12 * 3600)

/* Cookie credentials: 0 and r->who set, 1 when no cookie was sent, or an
   error set on r (401 unknown/expired, 403 CSRF). */
int		 auth_session(struct req *);
/* POST /api/v1/App/session and DELETE /api/v1/App/session. */
int		 auth_h_session_create(struct req *);
int		 auth_h_session_delete(struct req *);
/*
 * Sets the password of the User record named userName (the CLI's
 * `fastcrm user passwd`).  Returns 0, or an error code with *why.
 */
int		 auth_user_passwd(const struct conf *, const char *userName,
		    const char *password, const char **why);

/* Who signed in with a password (auth_login), or is signed in now. */
struct auth_login {
	const char	*id;
	const char	*name;
	const char	*user_name;
	const char	*role;
	const char	*type;		/* "regular" (User record) or "api" */
	int		 admin;
	char		 gen[65];	/* credential generation, below */
};

/*
 * Sessions and OAuth2 tokens keep the principal's type and id and its
 * credential generation: the SHA-256 of its password hash and, for a
 * User record, of the nonce meta "gen:<id>" that the User resource
 * replaces to end the user's sessions and tokens (app/resources/users.c).  On use,
 * auth_current loads the principal as it is now (the User record must
 * exist, not be deleted and be active; a configured principal must still
 * be configured with a password) and compares; the name, role and admin
 * flag then come from that current state.  0 with *out filled, else -1.
 * gen NULL: no comparison, only the current state (to issue a grant).
 */
int		 auth_current(struct req *, struct store_txn *,
		    const char *type, const char *id, const char *gen,
		    struct auth_login *out);
/* The generation of a password hash with a nonce ("" for none). */
void		 auth_gen(const char *type, const char *hash,
		    const char *nonce, char out[65]);
/* Runs crypt(3) on pass with a dummy yescrypt hash, for the time only. */
void		 auth_password_dummy(struct arena *, const char *pass);

/*
 * Checks a user name and password: a User record (acting with
 * agent_role) or a configured principal with password_hash.  0, or 401
 * set on r and the failure counted for the limiter.
 */
int		 auth_login(struct req *, const char *name, const char *pass,
		    struct auth_login *);
/* OAuth2 (oauth2.c): the endpoints, Bearer access tokens, revocation. */
int		 oauth2_h_authorize(struct req *);
int		 oauth2_h_token(struct req *);
/* A Bearer token that is an OAuth2 access token: 0 and r->who set, or -1. */
int		 oauth2_bearer(struct req *, const char *token);
/* Revokes one token (or, with client, every token of that client). */
int		 oauth2_revoke(const struct conf *, const char *token,
		    const char *client, int *count, const char **why);

/*
 * Auth tokens (authtoken.c), EspoCRM's: issued by GET /App/user for
 * Espo-Authorization with a password, then sent in its place with
 * Espo-Authorization-By-Token: true.  Random, stored as SHA-256, expiring
 * after AUTH_TOKEN_TTL seconds.
 */
#define AUTH_TOKEN_TTL	(24 * 3600)
/* A new token for r->who: 0 and *token (in the arena), or an error on r. */
int		 authtoken_issue(struct req *, const char **token);
/* 0 and r->who set when token is user's live token; -1 otherwise. */
int		 authtoken_auth(struct req *, const char *user,
		    const char *token);
/* POST /api/v1/App/destroyAuthToken {"token": ...}. */
int		 auth_h_destroy_token(struct req *);
/* `fastcrm token list`: one line per token (listed id, user, times). */
int		 authtoken_list(const struct conf *, FILE *, const char **why);
/* Revokes by clear token, by listed id or every token of user. */
int		 authtoken_revoke(const struct conf *, const char *token,
		    const char *id, const char *user, int *count,
		    const char **why);

/* 403 set on r while the address is over the failed-login limit, else 0. */
int		 auth_limited(struct req *);
/* Counts a failed sign-in for the limiter and sets 401 with why. */
int		 auth_fail_login(struct req *, const char *why);
/*
 * Logs an authentication failure ("auth: failure from ADDRESS: why", at
 * warning level) and counts it for the limiter; sets nothing on r.
 */
void		 auth_fail_count(struct req *, const char *why);

/* Decodes standard base64 into the arena; NULL when malformed. */
char		*auth_base64_decode(struct arena *, const char *, size_t *);

#endif
