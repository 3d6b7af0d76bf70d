/*
 * What the resource modules share: the rows every entity has, as macros
 * of designated initializers so that each resource table reads top to
 * bottom, the resource definitions that app/resources/resources.c lists,
 * and their shared hooks.  Only the resource modules include this.
 */
#ifndef FASTCRM_RESOURCES_COMMON_H
#define FASTCRM_RESOURCES_COMMON_H

#include "fastcrm/entity.h"

#define ROW_ID \
	{ .name = "id", .type = FT_ID, .flags = F_READONLY }, \
	{ .name = "deleted", .type = FT_BOOLSYS, .flags = F_READONLY }

#define ROWS_SYSTEM \
	{ .name = "createdAt", .type = FT_DATETIME, \
	    .flags = F_READONLY | F_ORDERED }, \
	{ .name = "modifiedAt", .type = FT_DATETIME, .flags = F_READONLY }, \
	{ .name = "createdById", .type = FT_LINK, \
	    .flags = F_READONLY | F_INDEXED, .target = "User" }, \
	{ .name = "createdByName", .type = FT_NAME, .flags = F_READONLY }, \
	{ .name = "modifiedById", .type = FT_LINK, .flags = F_READONLY, \
	    .target = "User" }, \
	{ .name = "modifiedByName", .type = FT_NAME, .flags = F_READONLY }

#define ROWS_ASSIGNED \
	{ .name = "assignedUserId", .type = FT_LINK, .flags = F_INDEXED, \
	    .target = "User" }, \
	{ .name = "assignedUserName", .type = FT_NAME, .flags = F_READONLY }

#define ROWS_PHONE \
	{ .name = "phoneNumber", .type = FT_PHONE, .flags = F_INDEXED, \
	    .max_length = 36 }, \
	{ .name = "phoneNumberData", .type = FT_DATA }

#define ROWS_EMAIL \
	{ .name = "emailAddress", .type = FT_EMAIL, \
	    .flags = F_INDEXED | F_TEXT, .max_length = 255 }, \
	{ .name = "emailAddressData", .type = FT_DATA }

#define ROWS_ADDRESS(p) \
	{ .name = p "Street", .type = FT_TEXT, .max_length = 255 }, \
	{ .name = p "City", .type = FT_VARCHAR, .max_length = 100 }, \
	{ .name = p "State", .type = FT_VARCHAR, .max_length = 100 }, \
	{ .name = p "Country", .type = FT_VARCHAR, .max_length = 100 }, \
	{ .name = p "PostalCode", .type = FT_VARCHAR, .max_length = 40 }

#define ROWS_PARENT(types) \
	{ .name = "parentId", .type = FT_PARENT, .flags = F_INDEXED, \
	    .target = types }, \
	{ .name = "parentType", .type = FT_VARCHAR, .max_length = 100 }, \
	{ .name = "parentName", .type = FT_NAME, .flags = F_READONLY }

#define ROW_END		{ .name = NULL }
#define LINK_END	{ .name = NULL }

/* The resource definitions, one per entity (the table lists them). */
extern const struct entity_def contacts_def;
extern const struct entity_def companies_def;
extern const struct entity_def cases_def;
extern const struct entity_def users_def;
extern const struct entity_def calls_def;
extern const struct entity_def tasks_def;
extern const struct entity_def notes_def;
extern const struct entity_def attachments_def;

/* "first last", either part optional; the Contact and User name hook. */
void	resource_person_name(struct arena *, const struct entity *,
	    struct json *, const struct json *);
/*
 * Appends EspoCRM's where item {type, attribute[, value]} to the array
 * items, in a (a primary_filter hook's building block).  value may be
 * NULL (isTrue...).
 */
void	resource_where_add(struct arena *a, struct json *items,
	    const char *type, const char *attr, struct json *value);

#endif
