/*
 * Rows every entity shares, as macros so that each resource table reads
 * top to bottom.  Only the resource modules include this.
 */
#ifndef FASTCRM_RESOURCES_COMMON_H
#define FASTCRM_RESOURCES_COMMON_H

#include "fastcrm/entity.h"

#define ROW_ID \
	{ "id", FT_ID, F_READONLY, NULL, 0, NULL, NULL }, \
	{ "deleted", FT_BOOLSYS, F_READONLY, NULL, 0, NULL, NULL }

#define ROWS_SYSTEM \
	{ "createdAt", FT_DATETIME, F_READONLY | F_ORDERED, NULL, 0, NULL, NULL }, \
	{ "modifiedAt", FT_DATETIME, F_READONLY, NULL, 0, NULL, NULL }, \
	{ "createdById", FT_LINK, F_READONLY | F_INDEXED, NULL, 0, NULL, "User" }, \
	{ "createdByName", FT_NAME, F_READONLY, NULL, 0, NULL, NULL }, \
	{ "modifiedById", FT_LINK, F_READONLY, NULL, 0, NULL, "User" }, \
	{ "modifiedByName", FT_NAME, F_READONLY, NULL, 0, NULL, NULL }

#define ROWS_ASSIGNED \
	{ "assignedUserId", FT_LINK, F_INDEXED, NULL, 0, NULL, "User" }, \
	{ "assignedUserName", FT_NAME, F_READONLY, NULL, 0, NULL, NULL }

#define ROWS_PHONE \
	{ "phoneNumber", FT_PHONE, F_INDEXED, NULL, 36, NULL, NULL }, \
	{ "phoneNumberData", FT_DATA, 0, NULL, 0, NULL, NULL }

#define ROWS_EMAIL \
	{ "emailAddress", FT_EMAIL, F_INDEXED | F_TEXT, NULL, 255, NULL, NULL }, \
	{ "emailAddressData", FT_DATA, 0, NULL, 0, NULL, NULL }

#define ROWS_ADDRESS(p) \
	{ p "Street", FT_TEXT, 0, NULL, 255, NULL, NULL }, \
	{ p "City", FT_VARCHAR, 0, NULL, 100, NULL, NULL }, \
	{ p "State", FT_VARCHAR, 0, NULL, 100, NULL, NULL }, \
	{ p "Country", FT_VARCHAR, 0, NULL, 100, NULL, NULL }, \
	{ p "PostalCode", FT_VARCHAR, 0, NULL, 40, NULL, NULL }

#define ROWS_PARENT(types) \
	{ "parentId", FT_PARENT, F_INDEXED, NULL, 0, NULL, types }, \
	{ "parentType", FT_VARCHAR, 0, NULL, 100, NULL, NULL }, \
	{ "parentName", FT_NAME, F_READONLY, NULL, 0, NULL, NULL }

#define ROW_END	{ NULL, FT_ID, 0, NULL, 0, NULL, NULL }
#define LINK_END { NULL, NULL, LINK_FOREIGN, NULL, NULL }

/* "first last", either part optional; the Contact and User name hook. */
void	resource_person_name(struct arena *, const struct entity *,
	    struct json *, const struct json *);

#endif
