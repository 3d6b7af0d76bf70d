/*
 * The one table from error code to HTTP status and default reason.
 */
#include "fastcrm/error.h"

static const struct {
	int		 status;
	const char	*reason;
} errors[FCRM_ERR_MAX] = {
	[FCRM_OK] =		{ 200, "OK" },
	[FCRM_BAD_REQUEST] =	{ 400, "Bad request." },
	[FCRM_BAD_JSON] =	{ 400, "Bad JSON." },
	[FCRM_VALIDATION] =	{ 400, "Field validation failure." },
	[FCRM_UNAUTHORIZED] =	{ 401, "Unauthorized." },
	[FCRM_FORBIDDEN] =	{ 403, "Forbidden." },
	[FCRM_NOT_FOUND] =	{ 404, "Not found." },
	[FCRM_NO_METHOD] =	{ 405, "Method not allowed." },
	[FCRM_CONFLICT] =	{ 409, "Duplicate." },
	[FCRM_TOO_LARGE] =	{ 413, "Request body is too large." },
	[FCRM_MEDIA_TYPE] =	{ 415, "Unsupported content type." },
	[FCRM_MAP_FULL] =	{ 507, "Storage is full; raise map_size." },
	[FCRM_STORE] =		{ 500, "Storage error." },
	[FCRM_IO] =		{ 500, "File system error." },
	[FCRM_CONFIG] =		{ 500, "Configuration error." },
	[FCRM_UNAVAILABLE] =	{ 503, "Service unavailable." },
};

int
error_status(int e)
{
	if (e < 0 || e >= FCRM_ERR_MAX)
		return 500;
	return errors[e].status;
}

const char *
error_reason(int e)
{
	if (e < 0 || e >= FCRM_ERR_MAX)
		return "Internal error.";
	return errors[e].reason;
}
