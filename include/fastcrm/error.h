/*
 * The program's one error enum.  error.c holds the single table that maps
 * each code to an HTTP status and a default reason.  LMDB, yajl and libyaml
 * codes are translated where those libraries are called and never leak.
 */
#ifndef FASTCRM_ERROR_H
#define FASTCRM_ERROR_H

enum fcrm_err {
	FCRM_OK = 0,
	FCRM_BAD_REQUEST,	/* 400 malformed input */
	FCRM_BAD_JSON,		/* 400 body is not the JSON we need */
	FCRM_VALIDATION,	/* 400 EspoCRM field validation failure */
	FCRM_UNAUTHORIZED,	/* 401 */
	FCRM_FORBIDDEN,		/* 403 */
	FCRM_NOT_FOUND,		/* 404 */
	FCRM_NO_METHOD,		/* 405 */
	FCRM_CONFLICT,		/* 409 duplicate */
	FCRM_TOO_LARGE,		/* 413 */
	FCRM_MEDIA_TYPE,	/* 415 */
	FCRM_MAP_FULL,		/* 507 store is full */
	FCRM_STORE,		/* 500 unexpected store failure */
	FCRM_IO,		/* 500 file system failure */
	FCRM_CONFIG,		/* configuration is invalid */
	FCRM_UNAVAILABLE,	/* 503 the store cannot serve (health) */
	FCRM_ERR_MAX
};

/* HTTP status for a code. */
int		 error_status(int);
/* Default one-line reason for a code. */
const char	*error_reason(int);

#endif
