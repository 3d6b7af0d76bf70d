/*
 * Credentials and roles.  auth_authenticate tries the schemes of AUTH.md
 * in order and sets r->who; auth_authorize is the one role check.
 */
#ifndef FASTCRM_AUTH_H
#define FASTCRM_AUTH_H

#include <stddef.h>

#include "fastcrm/http.h"

struct entity;

/*
 * Sets r->who from the request's credentials.  Returns 0, or an error
 * set on r: 401 for Espo-Authorization, X-Api-Key and X-Hmac-Authorization,
 * 403 for Basic and Bearer, 401 with WWW-Authenticate when none was sent,
 * 403 while the address is over the failed-login limit.
 */
int		 auth_authenticate(struct req *);
/*
 * Checks r->who's role for action on e; 0 or 403 set on r.  Sets
 * r->own_only when the role allows the action on own records only.
 */
int		 auth_authorize(struct req *, const struct entity *,
		    enum action);

/* Decodes standard base64 into the arena; NULL when malformed. */
char		*auth_base64_decode(struct arena *, const char *, size_t *);
/* Hex SHA-256 of s. */
void		 auth_sha256_hex(const char *, size_t, char out[65]);

#endif
