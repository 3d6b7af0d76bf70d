/*
 * `fastcrm import`: files of JSON lines or CSV into the importer, one
 * file per entity, all in one run.  For CSV it owns the column mapping: a
 * header names an attribute by its name or its EspoCRM label (case, spaces
 * and punctuation ignored), a link by the linked record's name ("Company"
 * is the Account of that name), or comes from --map; the rest is listed
 * and ignored.  And `import --fields`: what can be imported, with types.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "fastcrm/conf.h"
#include "fastcrm/csvin.h"
#include "fastcrm/entity.h"
#include "fastcrm/error.h"
#include "fastcrm/util.h"
#include "import.h"

/* EspoCRM's English labels where they are not the attribute's words. */
static const struct {
	const char	*attr;
	const char	*label;
} labels[] = {
	{ "emailAddress", "Email" },
	{ "emailAddress", "E-mail" },
	{ "emailAddress", "Email Address" },
	{ "phoneNumber", "Phone" },
	{ "phoneNumber", "Phone Number" },
	{ "phoneNumber", "Telephone" },
	{ "salutationName", "Salutation" },
	{ "createdAt", "Date Created" },
	{ "createdAt", "Created At" },
	{ "modifiedAt", "Date Modified" },
	{ "accountId", "Account" },
	{ "accountId", "Account Name" },
	{ "accountId", "Company" },
	{ "accountId", "Company Name" },
	{ "accountId", "Organization" },
	{ "accountId", "Organisation" },
	{ "contactId", "Contact" },
	{ "contactId", "Contact Name" },
	{ "parentId", "Parent" },
	{ "website", "Web Site" },
	{ "description", "Notes" },
	{ "number", "Case Number" },
	{ NULL, NULL }
};

/* Address parts answer to their short label: "City", "Postal Code". */
static const char *const addr_parts[] = {
	"Street", "City", "State", "Country", "PostalCode", NULL
};

/* Read-only attributes an import keeps (record.c keeps them too). */
static const char *const kept[] = {
	"id", "number", "createdAt", "modifiedAt", NULL
};

enum colkind {
	COL_IGNORE,
	COL_ATTR,	/* the attribute f */
	COL_BYNAME,	/* the link f, by the linked record's name */
	COL_FULLNAME,	/* "Name": first and last name */
};

struct col {
	enum colkind		 kind;
	const struct field	*f;
	char			*head;
};

struct csvctx {
	struct importer		*imp;
	const struct entity	*e;
	const struct import_opts *o;
	const char		*src;
	struct col		*cols;
	size_t			 ncols;
	int			 rc;
	const char		*why;
};

/* Lower case without spaces, '_', '-', '.': "First Name" = "firstname". */
static void
fold(const char *s, char *out, size_t cap)
{
	size_t	 n = 0;

	for (; *s != '\0' && n + 1 < cap; s++) {
		if (*s == ' ' || *s == '_' || *s == '-' || *s == '.' ||
		    *s == '\t')
			continue;
		out[n++] = (*s >= 'A' && *s <= 'Z') ? *s + 32 : *s;
	}
	out[n] = '\0';
}

static int
folds_to(const char *a, const char *b)
{
	char	 fa[256], fb[256];

	fold(a, fa, sizeof(fa));
	fold(b, fb, sizeof(fb));
	return fa[0] != '\0' && strcmp(fa, fb) == 0;
}

static int
is_kept(const char *name)
{
	size_t	 i;

	for (i = 0; kept[i] != NULL; i++)
		if (strcmp(kept[i], name) == 0)
			return 1;
	return 0;
}

/* 1 if an import may set attribute f. */
static int
importable(const struct field *f)
{
	if (f->type == FT_NAME || f->type == FT_DATA ||
	    f->type == FT_BOOLSYS || f->type == FT_PASSWORD)
		return 0;
	return !(f->flags & F_READONLY) || is_kept(f->name);
}

/* "accountId" → "account"; NULL when it is not a link id. */
static const char *
link_base(char *buf, size_t cap, const struct field *f)
{
	size_t	 n = strlen(f->name);

	if (f->type != FT_LINK || n < 3 || strcmp(f->name + n - 2, "Id") != 0)
		return NULL;
	snprintf(buf, cap, "%.*s", (int)(n - 2), f->name);
	return buf;
}

/* A header's meaning for entity e. */
static struct col
map_header(const struct entity *e, const struct import_opts *o,
    const char *head)
{
	struct col		 c = { COL_IGNORE, NULL, NULL };
	const struct field	*f;
	const char		*eq, *attr, *base;
	char			 b[128], nb[140];
	size_t			 i, j, plen;

	for (i = 0; i < o->nmaps; i++) {
		if ((eq = strchr(o->maps[i], '=')) == NULL)
			continue;
		if (strlen(head) != (size_t)(eq - o->maps[i]) ||
		    strncasecmp(head, o->maps[i], (size_t)(eq - o->maps[i])) != 0)
			continue;
		attr = eq + 1;
		if (*attr == '\0')
			return c;
		if ((f = entity_field(e, attr)) != NULL && importable(f)) {
			c.kind = COL_ATTR;
			c.f = f;
			return c;
		}
		/* "Company=accountName": the link by name. */
		for (j = 0; j < e->nfields; j++)
			if ((base = link_base(b, sizeof(b), &e->fields[j])) !=
			    NULL && !(e->fields[j].flags & F_READONLY)) {
				snprintf(nb, sizeof(nb), "%sName", base);
				if (strcmp(nb, attr) == 0) {
					c.kind = COL_BYNAME;
					c.f = &e->fields[j];
					return c;
				}
			}
		if (strcmp(attr, "name") == 0 &&
		    entity_field(e, "firstName") != NULL) {
			c.kind = COL_FULLNAME;
			return c;
		}
		c.kind = -1;	/* a --map to nothing: refused */
		return c;
	}
	for (i = 0; i < e->nfields; i++) {
		f = &e->fields[i];
		if (!importable(f))
			continue;
		base = link_base(b, sizeof(b), f);
		if (folds_to(head, f->name)) {
			c.kind = COL_ATTR;
			c.f = f;
			return c;
		}
		if (base != NULL && !(f->flags & F_READONLY)) {
			snprintf(nb, sizeof(nb), "%sName", base);
			if (folds_to(head, base) || folds_to(head, nb)) {
				c.kind = COL_BYNAME;
				c.f = f;
				return c;
			}
		}
		for (j = 0; labels[j].attr != NULL; j++)
			if (strcmp(labels[j].attr, f->name) == 0 &&
			    folds_to(head, labels[j].label)) {
				c.kind = base != NULL ? COL_BYNAME : COL_ATTR;
				c.f = f;
				return c;
			}
		for (j = 0; addr_parts[j] != NULL; j++) {
			plen = strlen(f->name) - strlen(addr_parts[j]);
			if (strlen(f->name) > strlen(addr_parts[j]) &&
			    strcmp(f->name + plen, addr_parts[j]) == 0 &&
			    strstr(f->name, "Address") != NULL &&
			    folds_to(head, addr_parts[j])) {
				c.kind = COL_ATTR;
				c.f = f;
				return c;
			}
		}
	}
	if ((folds_to(head, "name") || folds_to(head, "full name")) &&
	    entity_field(e, "firstName") != NULL &&
	    entity_field(e, "lastName") != NULL)
		c.kind = COL_FULLNAME;
	return c;
}

static int
header(struct csvctx *x, char **fields, size_t n)
{
	size_t	 i;
	char	*unknown = NULL, *u;
	int	 bad = 0;

	if ((x->cols = calloc(n, sizeof(*x->cols))) == NULL)
		return FCRM_IO;
	x->ncols = n;
	for (i = 0; i < n; i++) {
		x->cols[i] = map_header(x->e, x->o, fields[i]);
		x->cols[i].head = strdup(fields[i]);
		if ((int)x->cols[i].kind == -1) {
			fprintf(stderr, "%s: %s: --map %s: %s has no such "
			    "importable attribute\n", x->e->name, x->src,
			    fields[i], x->e->name);
			bad = 1;
		}
		if (x->cols[i].kind != COL_IGNORE || fields[i][0] == '\0')
			continue;
		if (asprintf(&u, "%s%s'%s'", unknown != NULL ? unknown : "",
		    unknown != NULL ? ", " : "", fields[i]) < 0)
			return FCRM_IO;
		free(unknown);
		unknown = u;
	}
	if (unknown != NULL) {
		fprintf(stderr, "%s: %s: ignoring column(s) %s (see `fastcrm "
		    "import --fields %s`, or --map 'Column=attribute')\n",
		    x->e->name, x->src, unknown, x->e->name);
		free(unknown);
	}
	if (bad) {
		x->why = "a --map names no importable attribute";
		return FCRM_BAD_REQUEST;
	}
	return 0;
}

/* A spreadsheet's yes/no as the engine's true/false. */
static const char *
boolean(const char *v)
{
	static const char *const yes[] = { "yes", "y", "x", "true", "1",
	    "wahr", "ja", "oui", NULL };
	static const char *const no[] = { "no", "n", "false", "0", "falsch",
	    "nein", "non", NULL };
	size_t	 i;

	for (i = 0; yes[i] != NULL; i++)
		if (strcasecmp(v, yes[i]) == 0)
			return "true";
	for (i = 0; no[i] != NULL; i++)
		if (strcasecmp(v, no[i]) == 0)
			return "false";
	return v;
}

/* One attribute value from a cell. */
static struct json *
cell(struct arena *a, const struct field *f, const char *v)
{
	struct json	*arr;
	char		*s, *tok, *save;
	double		 d;
	char		*end;

	switch (f->type) {
	case FT_BOOL:
		return json_str(a, boolean(v));
	case FT_LINKMULTI:
		arr = json_arr(a);
		s = arena_strdup(a, v);
		for (tok = strtok_r(s, ",; ", &save); tok != NULL;
		    tok = strtok_r(NULL, ",; ", &save))
			json_push(a, arr, json_str(a, tok));
		return arr;
	case FT_INT:
	case FT_FLOAT:
		d = strtod(v, &end);
		(void)d;
		if (*v != '\0' && *end == '\0' && strchr(v, 'x') == NULL &&
		    strchr(v, 'X') == NULL && strspn(v, "+-0123456789.eE") ==
		    strlen(v))
			return json_numtext(a, v);
		return json_str(a, v);
	default:
		return json_str(a, v);
	}
}

/* The cells as {header: value}, for the reject file. */
static char *
raw_row(struct arena *a, const struct csvctx *x, char **fields, size_t n)
{
	struct json	*o;
	struct buf	 b;
	size_t		 i;

	o = json_obj(a);
	for (i = 0; i < n; i++)
		json_set(a, o, i < x->ncols ? x->cols[i].head :
		    arena_printf(a, "column %zu", i + 1), json_str(a, fields[i]));
	buf_init(&b, a);
	json_write(&b, o);
	return b.p;
}

static int
csv_row(void *arg, size_t line, char **fields, const size_t *lens, size_t n)
{
	struct csvctx		*x = arg;
	struct arena		*a = importer_arena(x->imp);
	const struct entity	*te;
	struct json		*body;
	const char		*id, *why, *sp;
	size_t			 i, nonempty = 0;
	int			 rc;

	(void)lens;
	if (x->cols == NULL)
		return (x->rc = header(x, fields, n)) != 0 ? 1 : 0;
	for (i = 0; i < n; i++)
		nonempty += fields[i][0] != '\0';
	if (nonempty == 0)
		return 0;
	for (i = x->ncols; i < n; i++)
		if (fields[i][0] != '\0') {
			x->rc = importer_reject(x->imp, x->e, x->src, line,
			    arena_printf(a, "%zu fields, the header has %zu",
			    n, x->ncols), raw_row(a, x, fields, n), &x->why);
			return x->rc != 0;
		}
	body = json_obj(a);
	for (i = 0; i < n && i < x->ncols; i++) {
		if (fields[i][0] == '\0')
			continue;
		switch (x->cols[i].kind) {
		case COL_ATTR:
			json_set(a, body, x->cols[i].f->name,
			    cell(a, x->cols[i].f, fields[i]));
			break;
		case COL_BYNAME:
			te = entity_find(x->cols[i].f->target);
			if (te == NULL || importer_by_name(x->imp, te,
			    fields[i], &id, &why) != 0) {
				x->rc = importer_reject(x->imp, x->e, x->src,
				    line, arena_printf(a, "%s: %s",
				    x->cols[i].head, te == NULL ? "no such "
				    "entity" : why), raw_row(a, x, fields, n),
				    &x->why);
				return x->rc != 0;
			}
			json_set(a, body, x->cols[i].f->name, json_str(a, id));
			break;
		case COL_FULLNAME:
			if (json_get(body, "lastName") != NULL)
				break;
			sp = strrchr(fields[i], ' ');
			if (sp == NULL)
				json_set(a, body, "lastName",
				    json_str(a, fields[i]));
			else {
				json_set(a, body, "firstName", json_strn(a,
				    fields[i], (size_t)(sp - fields[i])));
				json_set(a, body, "lastName",
				    json_str(a, sp + 1));
			}
			break;
		default:
			break;
		}
	}
	rc = importer_row(x->imp, x->e, body, x->src, line, &x->why);
	x->rc = rc;
	return rc != 0;
}

static int
import_csv(struct importer *imp, const struct entity *e,
    const struct import_opts *o, const char *src, FILE *in,
    const char **why)
{
	struct csvctx	 x;
	struct csvin	*c;
	char		 buf[65536];
	size_t		 k, line, i;
	int		 rc = 0;
	const char	*cwhy;

	memset(&x, 0, sizeof(x));
	x.imp = imp;
	x.e = e;
	x.o = o;
	x.src = src;
	if ((c = csvin_new(csv_row, &x)) == NULL) {
		*why = "out of memory";
		return FCRM_IO;
	}
	while (rc == 0 && (k = fread(buf, 1, sizeof(buf), in)) > 0)
		rc = csvin_feed(c, buf, k, &cwhy, &line);
	if (rc == 0)
		rc = csvin_finish(c, &cwhy, &line);
	if (rc == -1) {
		/* The file itself is broken there: nothing after is read. */
		*why = cwhy;
		fprintf(stderr, "%s: %s line %zu: %s; the rest of the file is "
		    "NOT imported\n", e->name, src, line, cwhy);
		rc = importer_reject(imp, e, src, line, cwhy, "", why);
		if (rc == 0)
			rc = 3;
	} else if (rc != 0) {
		rc = x.rc;
		*why = x.why;
	}
	if (rc == 0 && x.cols == NULL)
		fprintf(stderr, "%s: %s: empty file\n", e->name, src);
	for (i = 0; i < x.ncols; i++)
		free(x.cols[i].head);
	free(x.cols);
	csvin_free(c);
	return rc == 3 ? 0 : rc;
}

static int
import_json(struct importer *imp, const struct entity *e, const char *src,
    FILE *in, const char **why)
{
	struct json	*body;
	char		*line = NULL;
	size_t		 cap = 0, lineno = 0;
	ssize_t		 len;
	const char	*jwhy;
	int		 rc = 0;

	while (rc == 0 && (len = getline(&line, &cap, in)) > 0) {
		lineno++;
		while (len > 0 && (line[len - 1] == '\n' ||
		    line[len - 1] == '\r'))
			line[--len] = '\0';
		/* A byte-order mark some editors put first. */
		if (lineno == 1 && len >= 3 &&
		    memcmp(line, "\xef\xbb\xbf", 3) == 0) {
			memmove(line, line + 3, (size_t)len - 2);
			len -= 3;
		}
		if (len == 0)
			continue;
		body = NULL;
		if (json_parse(importer_arena(imp), line, (size_t)len, &body,
		    &jwhy) != 0 || body->type != JSON_OBJECT) {
			rc = importer_reject(imp, e, src, lineno, body == NULL ?
			    jwhy : "not a JSON object", line, why);
			continue;
		}
		rc = importer_row(imp, e, body, src, lineno, why);
	}
	free(line);
	return rc;
}

/* csv or json: --format, else the name, else the first byte. */
static int
is_csv(const struct import_opts *o, const char *path, FILE *f)
{
	size_t	 n = strlen(path);
	int	 c;

	if (o->format != NULL)
		return strcasecmp(o->format, "csv") == 0;
	if (n > 4 && (strcasecmp(path + n - 4, ".csv") == 0 ||
	    strcasecmp(path + n - 4, ".tsv") == 0))
		return 1;
	if (n > 5 && (strcasecmp(path + n - 5, ".json") == 0 ||
	    strcasecmp(path + n - 6, ".jsonl") == 0))
		return 0;
	c = getc(f);
	if (c != EOF)
		ungetc(c, f);
	return c != '{' && c != ' ' && c != '\n' && c != EOF;
}

int
entity_import_files(const struct conf *conf, const struct import_input *in,
    size_t nin, const struct import_opts *opts, const char **why)
{
	struct importer		*imp;
	struct import_opts	 o = *opts;
	const struct entity	*e;
	char			*rej = NULL;
	FILE			*f;
	size_t			 i;
	int			 rc = 0;

	*why = NULL;
	if (o.rejects == NULL) {
		if (asprintf(&rej, "%s.rejects", nin > 0 &&
		    strcmp(in[0].path, "-") != 0 ? in[0].path : "import") < 0)
			return FCRM_IO;
		o.rejects = rej;
	}
	if ((imp = importer_open(conf, &o, "import", why)) == NULL) {
		free(rej);
		return FCRM_CONFIG;
	}
	if ((rc = importer_clear(imp, why)) != 0)
		goto out;
	for (i = 0; rc == 0 && i < nin; i++) {
		if ((e = entity_find(in[i].entity)) == NULL) {
			*why = "unknown entity";
			rc = FCRM_NOT_FOUND;
			break;
		}
		if (strcmp(in[i].path, "-") == 0)
			f = stdin;
		else if ((f = fopen(in[i].path, "r")) == NULL) {
			*why = "cannot open the file";
			fprintf(stderr, "fastcrm: %s: cannot open\n", in[i].path);
			rc = FCRM_IO;
			break;
		}
		rc = is_csv(&o, in[i].path, f) ?
		    import_csv(imp, e, &o, in[i].path, f, why) :
		    import_json(imp, e, in[i].path, f, why);
		if (f != stdin)
			fclose(f);
	}
	if (rc == 0)
		rc = importer_finish(imp, why);
	if (rc == 0 && importer_rejected(imp) > 0)
		rc = 3;
out:
	if (rc != 0 && rc != 3)
		importer_stopped(imp);
	*why = util_kept(*why);
	importer_abort(imp);
	free(rej);
	return rc;
}

static const char *
type_name(enum ftype t)
{
	switch (t) {
	case FT_ID:		return "id";
	case FT_VARCHAR:	return "varchar";
	case FT_TEXT:		return "text";
	case FT_INT:		return "int";
	case FT_FLOAT:		return "float";
	case FT_BOOL:		return "bool (true/false, yes/no)";
	case FT_ENUM:		return "enum";
	case FT_DATETIME:	return "datetime (YYYY-MM-DD HH:MM:SS, UTC)";
	case FT_DATE:		return "date (YYYY-MM-DD)";
	case FT_LINK:		return "link";
	case FT_LINKMULTI:	return "linkMultiple (ids)";
	case FT_PARENT:		return "linkParent (with parentType)";
	case FT_PHONE:		return "phone";
	case FT_EMAIL:		return "email";
	default:		return "other";
	}
}

int
entity_import_fields(const struct conf *conf, const char *entity, FILE *out,
    const char **why)
{
	const struct entity	*e;
	const struct field	*f;
	char			 b[128];
	size_t			 i, j;

	if (entity_init(conf, why) != 0)
		return FCRM_CONFIG;
	if ((e = entity_find(entity)) == NULL) {
		*why = "unknown entity";
		return FCRM_NOT_FOUND;
	}
	fprintf(out, "%s: importable attributes (CSV headers may also be "
	    "the labels shown)\n", e->name);
	for (i = 0; i < e->nfields; i++) {
		f = &e->fields[i];
		if (!importable(f))
			continue;
		fprintf(out, "  %-24s %s", f->name, type_name(f->type));
		if (f->type == FT_LINK || f->type == FT_LINKMULTI)
			fprintf(out, " → %s", f->target);
		if (f->type == FT_PARENT)
			fprintf(out, " → %s", f->target);
		if (f->flags & F_REQUIRED)
			fprintf(out, ", required");
		if (f->flags & F_UNIQUE)
			fprintf(out, ", unique");
		if (f->flags & F_READONLY)
			fprintf(out, ", kept as given");
		if (f->max_length > 0)
			fprintf(out, ", at most %zu characters", f->max_length);
		if (f->type == FT_ENUM && f->options != NULL) {
			fputs(", one of:", out);
			for (j = 0; f->options[j] != NULL; j++)
				fprintf(out, " \"%s\"", f->options[j]);
		}
		for (j = 0; labels[j].attr != NULL; j++)
			if (strcmp(labels[j].attr, f->name) == 0)
				fprintf(out, "; \"%s\"", labels[j].label);
		if (link_base(b, sizeof(b), f) != NULL &&
		    !(f->flags & F_READONLY))
			fprintf(out, "; \"%sName\" (by name%s)", b,
			    strcmp(f->target, "Account") == 0 ?
			    ", created when missing" : "");
		fputc('\n', out);
	}
	if (entity_field(e, "firstName") != NULL)
		fputs("  (a \"Name\" column is split into firstName and "
		    "lastName at its last space)\n", out);
	return 0;
}
