/*
 * Credentials: the schemes of AUTH.md, sessions, auth tokens and OAuth2
 * grants, below HTTP.  Every call takes what it reads explicitly (struct
 * auth_in: the request's credential headers, method, path and address)
 * and an engine context (struct ectx) for the store, memory and its
 * fault; app/http/ (authn.c, session.c, appuser.c, oauth2.c) turns
 * requests into these calls and faults into answers.  The role check is
 * entity_authorize (entity.h).  Auth's own tables in the store are
 * registered by auth_init.
 */
#ifndef FASTCRM_AUTH_H
#define FASTCRM_AUTH_H

#include <stddef.h>
#include <stdio.h>

#include "fastcrm/entity.h"

struct conf;
struct conf_client;
struct entity;
struct store_txn;

/* What authentication reads of a request; NULL for a header not sent. */
struct auth_in {
	const char	*method;
	const char	*path;		/* raw, as sent; without query */
	const char	*remote;	/* the client's address */
	const char	*espo;		/* Espo-Authorization */
	const char	*espo_by_token;	/* Espo-Authorization-By-Token */
	const char	*api_key;	/* X-Api-Key */
	const char	*hmac;		/* X-Hmac-Authorization */
	const char	*authorization;	/* Authorization */
	const char	*cookie;	/* Cookie */
	const char	*csrf;		/* X-CSRF-Token */
	const char	*requested_with; /* X-Requested-With */
};

/* What authentication found besides its code. */
struct auth_out {
	struct principal	*who;		/* on success, in c's arena */
	int			 challenge;	/* no credentials from a
						   browser: answer
						   WWW-Authenticate: Basic
						   realm="fastcrm" */
};

/*
 * Authenticates in's credentials: 0 with out->who, or an error code with
 * c's fault: 401 (FCRM_UNAUTHORIZED) for Espo-Authorization, X-Api-Key
 * and X-Hmac-Authorization, 403 (FCRM_FORBIDDEN) for Basic and Bearer,
 * 401 with out->challenge when none was sent, 403 while the address is
 * over the failed-login limit.  Failures are logged and counted.
 */
int		 auth_authenticate(struct ectx *, const struct auth_in *,
		    struct auth_out *);
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

/* Cookie credentials: 0 and *who, 1 when no cookie was sent, or an
   error with c's fault (401 unknown/expired, 403 CSRF). */
int		 auth_session(struct ectx *, const struct auth_in *,
		    struct principal **who);
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
int		 auth_current(struct ectx *, struct store_txn *,
		    const char *type, const char *id, const char *gen,
		    struct auth_login *out);
/* The generation of a password hash with a nonce ("" for none). */
void		 auth_gen(const char *type, const char *hash,
		    const char *nonce, char out[65]);
/* Runs crypt(3) on pass with a dummy yescrypt hash, for the time only. */
void		 auth_password_dummy(struct arena *, const char *pass);

/*
 * Checks a user name and password from address remote: a User record
 * (acting with agent_role) or a configured principal with password_hash.
 * 0, or an error with c's fault: 403 while remote is over the limit, 401
 * with the failure logged and counted for the limiter.
 */
int		 auth_login(struct ectx *, const char *remote, const char *name,
		    const char *pass, struct auth_login *);
/*
 * Signs name in from remote (auth_login) and stores a new session: 0 with
 * *s filled, or an error with c's fault (403 when agents have no role).
 */
struct auth_session {
	struct auth_login	 who;
	char			 token[65];	/* the cookie's value */
	char			 csrf[65];
};
int		 auth_session_open(struct ectx *, const char *remote,
		    const char *name, const char *pass, struct auth_session *s);
/*
 * Ends the session of in's cookie, which needs its CSRF token while it
 * lives (403).  0 also when no cookie was sent; else c's fault.
 */
int		 auth_session_close(struct ectx *, const struct auth_in *);

/*
 * OAuth2 (oauth2.c): clients, codes, the token grants, Bearer access
 * tokens, revocation.
 */
#define OAUTH2_ACCESS_TTL	3600
/* The configured client id, or NULL. */
const struct conf_client *oauth2_client(const struct conf *, const char *id);
/* 1 if uri is one of cl's registered redirect URIs. */
int		 oauth2_redirect_ok(const struct conf_client *, const char *uri);
/* A new authorization code for who, in the caller's write txn; NULL when
   it cannot be stored. */
const char	*oauth2_code_issue(struct ectx *, struct store_txn *,
		    const struct conf_client *, const struct auth_login *who,
		    const char *redirect_uri);
/* A token request, as the client sent it (NULL: not sent). */
struct oauth2_grant {
	const char	*client_id;
	const char	*client_secret;
	int		 basic;		/* the client used Basic */
	const char	*grant_type;
	const char	*code;
	const char	*redirect_uri;
	const char	*refresh_token;
};
struct oauth2_tokens {
	const char	*access;
	const char	*refresh;
	/* On failure: RFC 6749's error ("invalid_grant"...; the fault's
	   reason is its description), NULL for a plain fault. */
	const char	*error;
	int		 challenge;	/* unknown Basic client: answer
					   WWW-Authenticate */
};
/*
 * Authenticates the client (a failure is logged and counted: 401) and
 * exchanges the code or refresh token (single use) for new tokens: 0, or
 * an error with c's fault and out->error.
 */
int		 oauth2_token(struct ectx *, const char *remote,
		    const struct oauth2_grant *, struct oauth2_tokens *out);
/* A Bearer token that is an OAuth2 access token: 0 and *who, or -1. */
int		 oauth2_bearer(struct ectx *, const char *token,
		    struct principal **who);
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
/* A new token for c->who: 0 and *token (in the arena), or c's fault. */
int		 authtoken_issue(struct ectx *, const char **token);
/* 0 and *who when token is user's live token; -1 otherwise. */
int		 authtoken_auth(struct ectx *, const char *user,
		    const char *token, struct principal **who);
/* Ends the token (POST /App/destroyAuthToken): 0, or c's fault (404). */
int		 authtoken_destroy(struct ectx *, const char *token);
/* `fastcrm token list`: one line per token (listed id, user, times). */
int		 authtoken_list(const struct conf *, FILE *, const char **why);
/* Revokes by clear token, by listed id or every token of user. */
int		 authtoken_revoke(const struct conf *, const char *token,
		    const char *id, const char *user, int *count,
		    const char **why);

/* 403 (c's fault) while address remote is over the failed-login limit,
   else 0. */
int		 auth_limited(struct ectx *, const char *remote);
/* Counts a failed sign-in for the limiter; 401 with why as c's fault. */
int		 auth_fail_login(struct ectx *, const char *remote,
		    const char *why);
/*
 * Logs an authentication failure ("auth: failure from ADDRESS: why", at
 * warning level) and counts it for the limiter; no fault.
 */
void		 auth_fail_count(const struct ectx *, const char *remote,
		    const char *why);

/* Decodes standard base64 into the arena; NULL when malformed. */
char		*auth_base64_decode(struct arena *, const char *, size_t *);

#endif
