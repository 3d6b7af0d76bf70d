/*
 * The entity set: the registered resource tables (entity_register) plus
 * the configuration's custom fields, merged once at start and on reload,
 * then only read; the names of its databases (records, indexes) and their
 * handles, resolved when door.c opens the store.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fastcrm/conf.h"
#include "fastcrm/entity.h"
#include "fastcrm/store.h"
#include "engine.h"

/* The resource tables, borrowed from entity_register; ndefs of them. */
static const struct entity_def *const	*defs;
static size_t				 ndefs;
/* ndefs of them, allocated once: a pointer to one stays valid across
   entity_init calls (a reload, a command's second init). */
static struct entity			*ents;
static char				**dbnames;

static void
entity_clear(void)
{
	size_t	 i, j;

	for (i = 0; ents != NULL && i < ndefs; i++) {
		for (j = 0; j < ents[i].nfields; j++)
			if (ents[i].fields[j].flags & F_CUSTOM)
				free((char *)ents[i].fields[j].name);
		free(ents[i].fields);
		free(ents[i].db_ix);
		free(ents[i].db_ox);
	}
	if (ents != NULL)
		memset(ents, 0, ndefs * sizeof(*ents));
	if (dbnames != NULL) {
		for (i = 0; dbnames[i] != NULL; i++)
			free(dbnames[i]);
		free(dbnames);
		dbnames = NULL;
	}
}

void
entity_register(const struct entity_def *const *d)
{
	size_t	 n;

	for (n = 0; d != NULL && d[n] != NULL; n++)
		continue;
	entity_clear();
	free(ents);
	ents = NULL;
	defs = d;
	ndefs = n;
}

static enum ftype
custom_type(enum conf_ftype t)
{
	switch (t) {
	case CONF_FT_TEXT:
		return FT_TEXT;
	case CONF_FT_INT:
		return FT_INT;
	case CONF_FT_BOOL:
		return FT_BOOL;
	case CONF_FT_ENUM:
		return FT_ENUM;
	case CONF_FT_DATETIME:
		return FT_DATETIME;
	default:
		return FT_VARCHAR;
	}
}

static void
add_dbname(size_t *n, char *name)
{
	dbnames = realloc(dbnames, (*n + 2) * sizeof(*dbnames));
	if (dbnames == NULL)
		abort();
	dbnames[(*n)++] = name;
	dbnames[*n] = NULL;
}

static char *
xprintf(const char *e, const char *prefix, const char *attr)
{
	char	*s;

	if (asprintf(&s, "%s.%s.%s", prefix, e, attr) == -1)
		abort();
	return s;
}

/*
 * Every configured alias names a field that takes words (enum, varchar,
 * text) and, for an enum, one of its options.
 */
static int
check_aliases(const struct conf *conf, const char **why)
{
	static char		 msg[512];
	const struct conf_alias	*al;
	const struct entity	*e;
	const struct field	*f;
	size_t			 i, j;

	for (i = 0; conf != NULL && i < conf->naliases; i++) {
		al = &conf->aliases[i];
		if ((e = entity_find(al->entity)) == NULL ||
		    (f = entity_field(e, al->field)) == NULL) {
			snprintf(msg, sizeof(msg), "line %zu: alias of an "
			    "unknown field %.64s.%.64s", al->line, al->entity,
			    al->field);
			*why = msg;
			return -1;
		}
		if (f->type != FT_ENUM && f->type != FT_VARCHAR &&
		    f->type != FT_TEXT) {
			snprintf(msg, sizeof(msg), "line %zu: %.64s.%.64s "
			    "takes no aliases (only enum, varchar and text "
			    "fields do)", al->line, al->entity, al->field);
			*why = msg;
			return -1;
		}
		for (j = 0; f->type == FT_ENUM && f->options != NULL &&
		    f->options[j] != NULL; j++)
			if (strcmp(f->options[j], al->to) == 0)
				break;
		if (f->type == FT_ENUM && (f->options == NULL ||
		    f->options[j] == NULL)) {
			snprintf(msg, sizeof(msg), "line %zu: alias '%.64s' "
			    "of %.64s.%.64s: '%.64s' is not one of its options",
			    al->line, al->from, al->entity, al->field, al->to);
			*why = msg;
			return -1;
		}
	}
	return 0;
}

int
entity_init(const struct conf *conf, const char **why)
{
	struct entity		*e;
	const struct entity_def	*d;
	const struct conf_field	*cf;
	struct field		*f;
	size_t			 i, j, nb, nc, ndb = 0;
	char			*s;

	*why = NULL;
	entity_clear();
	if (ndefs == 0) {
		*why = "no resource tables registered (entity_register)";
		return -1;
	}
	if (ents == NULL && (ents = calloc(ndefs, sizeof(*ents))) == NULL)
		abort();
	for (i = 0; i < ndefs; i++) {
		d = defs[i];
		e = &ents[i];
		for (nb = 0; d->fields[nb].name != NULL; nb++)
			continue;
		nc = 0;
		for (j = 0; conf != NULL && j < conf->nfields; j++)
			if (strcmp(conf->fields[j].entity, d->name) == 0)
				nc++;
		e->fields = calloc(nb + nc + 1, sizeof(*e->fields));
		if (e->fields == NULL)
			abort();
		memcpy(e->fields, d->fields, nb * sizeof(*e->fields));
		e->nfields = nb;
		for (j = 0; conf != NULL && j < conf->nfields; j++) {
			cf = &conf->fields[j];
			if (strcmp(cf->entity, d->name) != 0)
				continue;
			if (entity_field(e, cf->name) != NULL) {
				*why = "a custom field has the name of a "
				    "built-in attribute";
				return -1;
			}
			f = &e->fields[e->nfields++];
			if ((f->name = strdup(cf->name)) == NULL)
				abort();
			f->type = custom_type(cf->type);
			f->flags = F_CUSTOM;
			if (cf->required)
				f->flags |= F_REQUIRED;
			if (cf->indexed || cf->unique)
				f->flags |= F_INDEXED;
			if (cf->unique)
				f->flags |= F_UNIQUE;
			if (cf->return_existing)
				f->flags |= F_RETURN;
			f->options = (const char *const *)cf->options;
			f->max_length = cf->max_length;
			f->def = cf->def;
		}
		e->name = d->name;
		e->module = d->module;
		e->links = d->links;
		for (e->nlinks = 0; d->links != NULL &&
		    d->links[e->nlinks].name != NULL; e->nlinks++)
			continue;
		e->hooks = d->hooks;
		e->has_assignee = d->has_assignee;
		e->order_by = d->order_by;
		e->order_desc = d->order_desc;
		e->dup_attrs = d->dup_attrs;
		e->counter = d->counter;
		e->phone_type = d->phone_type != NULL ? d->phone_type :
		    "Office";
		e->principals = d->principals;
		e->db_ix = calloc(e->nfields, sizeof(int));
		e->db_ox = calloc(e->nfields, sizeof(int));
		if (e->db_ix == NULL || e->db_ox == NULL)
			abort();
		if (asprintf(&s, "rec.%s", e->name) == -1)
			abort();
		add_dbname(&ndb, s);
		for (j = 0; j < e->nfields; j++) {
			e->db_ix[j] = e->db_ox[j] = -1;
			if (e->fields[j].flags & F_INDEXED)
				add_dbname(&ndb, xprintf(e->name, "ix",
				    e->fields[j].name));
			if (e->fields[j].flags & F_ORDERED)
				add_dbname(&ndb, xprintf(e->name, "ox",
				    e->fields[j].name));
		}
	}
	return check_aliases(conf, why);
}

const char *const *
entity_db_names(void)
{
	return (const char *const *)dbnames;
}

int
entity_open_dbs(const struct store *st)
{
	struct entity	*e;
	size_t		 i, j;
	char		 name[256];

	for (i = 0; ents != NULL && i < ndefs; i++) {
		e = &ents[i];
		snprintf(name, sizeof(name), "rec.%s", e->name);
		if ((e->db_rec = store_db(st, name)) < 0)
			return -1;
		for (j = 0; j < e->nfields; j++) {
			if (e->fields[j].flags & F_INDEXED) {
				snprintf(name, sizeof(name), "ix.%s.%s",
				    e->name, e->fields[j].name);
				if ((e->db_ix[j] = store_db(st, name)) < 0)
					return -1;
			}
			if (e->fields[j].flags & F_ORDERED) {
				snprintf(name, sizeof(name), "ox.%s.%s",
				    e->name, e->fields[j].name);
				if ((e->db_ox[j] = store_db(st, name)) < 0)
					return -1;
			}
		}
	}
	return 0;
}

const struct entity *
entity_find(const char *name)
{
	size_t	 i;

	for (i = 0; ents != NULL && i < ndefs; i++)
		if (ents[i].name != NULL && strcmp(ents[i].name, name) == 0)
			return &ents[i];
	return NULL;
}

const struct field *
entity_field(const struct entity *e, const char *attr)
{
	size_t	 i;

	/* The first byte first: most names differ there, without a call. */
	for (i = 0; i < e->nfields; i++)
		if (e->fields[i].name[0] == attr[0] &&
		    strcmp(e->fields[i].name, attr) == 0)
			return &e->fields[i];
	return NULL;
}

const struct link *
entity_link(const struct entity *e, const char *name)
{
	size_t	 i;

	for (i = 0; i < e->nlinks; i++)
		if (e->links[i].name[0] == name[0] &&
		    strcmp(e->links[i].name, name) == 0)
			return &e->links[i];
	return NULL;
}

size_t
entity_count(void)
{
	return ents != NULL ? ndefs : 0;
}

const struct entity *
entity_at(size_t i)
{
	return ents != NULL && i < ndefs ? &ents[i] : NULL;
}
