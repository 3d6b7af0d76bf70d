/*
 * The configuration: libyaml's document API turns the file into a node
 * tree (whose marks give line numbers), then static key tables walk it into
 * an immutable struct conf.  Every mistake is reported with its line and
 * the walk goes on, so that one run of `check-config` names them all.
 *
 * Memory is plain malloc/free: a configuration lives as long as the
 * process (or until a reload replaces it), never in a request arena.
 */
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/types.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <yaml.h>

#include "fastcrm/conf.h"
#include "fastcrm/metrics.h"
#include "fastcrm/util.h"

#define CONF_MAX_FILE	(16 * 1024 * 1024)	/* bytes conf_load() reads */
#define CONF_SHOWN	48		/* bytes of a value quoted in a message */
#define CONF_WHAT	128

/* Where an api_users or oauth2_clients entry said things, for later checks. */
struct ref {
	size_t		 line;		/* the entry */
	size_t		 role_line;	/* its role:, 0 if none */
	size_t		 id_line;	/* its id:, 0 if derived */
	size_t		 key_line;	/* its api_key_sha256:, 0 if none */
};

struct ctx {
	const char		*name;	/* for messages; borrowed */
	const char		*buf;	/* the text; borrowed */
	size_t			 len;
	yaml_document_t		*doc;
	struct conf		*c;
	struct conf_diag	*diag;	/* may be NULL */
	size_t			 nerr;	/* errors found by this load */
	struct ref		*urefs;	/* parallel to c->users */
	struct ref		*crefs;	/* parallel to c->clients */
	int			 fa_seen;	/* frame_ancestors: given */
	size_t			 agent_line;	/* agent_role:'s line */
};

typedef void	(*key_fn)(struct ctx *, yaml_node_t *, void *);

/* One key of a mapping: kcgi-style, validated by its handler. */
struct key {
	const char	*name;
	key_fn		 fn;
	int		 required;
};

/* A user being read, before it joins c->users. */
struct uent {
	struct conf_user u;
	struct ref	 r;
	int		 has_cred;	/* a key or hash given, valid or not */
};

/* A client being read, before it joins c->clients. */
struct cent {
	struct conf_client cl;
	struct ref	 r;
};

/* A field being read; nodes are borrowed from the document. */
struct fent {
	struct conf_field f;
	int		 have_type;
	int		 have_on_dup;
	yaml_node_t	*options;
	yaml_node_t	*max_length;
	yaml_node_t	*on_dup;
	yaml_node_t	*def;
};

static const char *const entity_names[] = {
	"Contact", "Account", "Case", "User", "Call", "Task", "Note",
};

/* Entities a role may name: the above, attachments, and "*". */
static const char *const acl_entity_names[] = {
	"*", "Contact", "Account", "Case", "User", "Call", "Task", "Note",
	"Attachment",
};

/* Attributes every record has; a custom field may not take their name. */
static const char *const system_fields[] = {
	"id", "deleted", "createdAt", "modifiedAt", "createdById",
	"createdByName", "modifiedById", "modifiedByName", "assignedUserId",
	"assignedUserName",
};

static const struct {
	const char	*name;
	enum conf_ftype	 type;
} ftypes[] = {
	{ "varchar", CONF_FT_VARCHAR },
	{ "text", CONF_FT_TEXT },
	{ "int", CONF_FT_INT },
	{ "bool", CONF_FT_BOOL },
	{ "enum", CONF_FT_ENUM },
	{ "datetime", CONF_FT_DATETIME },
};

static const char *const default_frame_ancestors[] = {
	"'self'",
	"https://*.ccaiplatform.com",
	"https://*.ujet.co",
	"https://*.ujet.com",
};

#define NELEM(a)	(sizeof(a) / sizeof((a)[0]))

/* Diagnostics. */

static void
diag_push(char ***v, size_t *n, char *msg)
{
	char	**nv;

	nv = reallocarray(*v, *n + 1, sizeof(**v));
	if (nv == NULL) {
		free(msg);
		return;
	}
	*v = nv;
	(*v)[(*n)++] = msg;
}

/* Appends "FILE:LINE: text" (or "FILE: text" when line is 0). */
static void
vreport(struct ctx *x, int warn, size_t line, const char *fmt, va_list ap)
{
	char	*text = NULL, *msg = NULL;
	int	 rc;

	if (warn == 0)
		x->nerr++;
	if (x->diag == NULL)
		return;
	if (vasprintf(&text, fmt, ap) == -1)
		return;
	if (line > 0)
		rc = asprintf(&msg, "%s:%zu: %s", x->name, line, text);
	else
		rc = asprintf(&msg, "%s: %s", x->name, text);
	free(text);
	if (rc == -1)
		return;
	if (warn != 0)
		diag_push(&x->diag->warnings, &x->diag->nwarnings, msg);
	else
		diag_push(&x->diag->errors, &x->diag->nerrors, msg);
}

static void	err_line(struct ctx *, size_t, const char *, ...)
		    __attribute__((format(printf, 3, 4)));
static void	err_at(struct ctx *, const yaml_node_t *, const char *, ...)
		    __attribute__((format(printf, 3, 4)));
static void	warn_line(struct ctx *, size_t, const char *, ...)
		    __attribute__((format(printf, 3, 4)));

static void
err_line(struct ctx *x, size_t line, const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	vreport(x, 0, line, fmt, ap);
	va_end(ap);
}

static size_t
line_of(const yaml_node_t *n)
{

	return n == NULL ? 0 : n->start_mark.line + 1;
}

static void
err_at(struct ctx *x, const yaml_node_t *n, const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	vreport(x, 0, line_of(n), fmt, ap);
	va_end(ap);
}

static void
warn_line(struct ctx *x, size_t line, const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	vreport(x, 1, line, fmt, ap);
	va_end(ap);
}

static void
oom(struct ctx *x, const yaml_node_t *n)
{

	err_at(x, n, "out of memory");
}

/*
 * Copies at most CONF_SHOWN bytes of s into b for quoting in a message,
 * control bytes and quotes replaced so that a message stays one line.
 */
static const char *
shown(char b[CONF_SHOWN + 4], const char *s)
{
	size_t	 i;

	for (i = 0; s[i] != '\0' && i < CONF_SHOWN; i++)
		b[i] = ((unsigned char)s[i] < 0x20 || s[i] == 0x7f ||
		    s[i] == '\'') ? '?' : s[i];
	if (s[i] != '\0') {
		memcpy(b + i, "...", 3);
		i += 3;
	}
	b[i] = '\0';
	return b;
}

static int
lower(char ch)
{

	return ch >= 'A' && ch <= 'Z' ? ch - 'A' + 'a' : (unsigned char)ch;
}

/*
 * Edit distance for did-you-mean (optimal string alignment: a swap of two
 * neighbours counts one), case-insensitive; SIZE_MAX if either is long.
 */
static size_t
distance(const char *a, const char *b)
{
	size_t	 la, lb, i, j, d[33][33], v;
	int	 ca, cb;

	la = strlen(a);
	lb = strlen(b);
	if (la > 32 || lb > 32)
		return SIZE_MAX;
	for (i = 0; i <= la; i++)
		d[i][0] = i;
	for (j = 0; j <= lb; j++)
		d[0][j] = j;
	for (i = 1; i <= la; i++)
		for (j = 1; j <= lb; j++) {
			ca = lower(a[i - 1]);
			cb = lower(b[j - 1]);
			v = d[i - 1][j - 1] + (ca != cb);
			if (d[i - 1][j] + 1 < v)
				v = d[i - 1][j] + 1;
			if (d[i][j - 1] + 1 < v)
				v = d[i][j - 1] + 1;
			if (i > 1 && j > 1 && ca == lower(b[j - 2]) &&
			    lower(a[i - 2]) == cb && d[i - 2][j - 2] + 1 < v)
				v = d[i - 2][j - 2] + 1;
			d[i][j] = v;
		}
	return d[la][lb];
}

/* The candidate closest to s if it is close enough to be a typo, or NULL. */
static const char *
suggest(const char *s, const char *const *cand, size_t n)
{
	const char	*best = NULL;
	size_t		 i, d, bestd = SIZE_MAX, lim;

	for (i = 0; i < n; i++) {
		d = distance(s, cand[i]);
		lim = strlen(cand[i]) > 4 ? 2 : 1;
		if (d <= lim && d < bestd) {
			bestd = d;
			best = cand[i];
		}
	}
	return best;
}

/* Reports "unknown WHAT 's'" with a did-you-mean when one is close. */
static void
err_unknown(struct ctx *x, const yaml_node_t *n, const char *what,
    const char *s, const char *where, const char *const *cand, size_t ncand)
{
	const char	*sug;
	char		 b[CONF_SHOWN + 4];

	sug = suggest(s, cand, ncand);
	err_at(x, n, "unknown %s '%s'%s%s%s%s%s", what, shown(b, s),
	    where == NULL ? "" : " in ", where == NULL ? "" : where,
	    sug == NULL ? "" : " (did you mean '", sug == NULL ? "" : sug,
	    sug == NULL ? "" : "'?)");
}

/* Scalars. */

static yaml_node_t *
node(struct ctx *x, int id)
{

	return yaml_document_get_node(x->doc, id);
}

static const char *
kind(const yaml_node_t *n)
{

	switch (n->type) {
	case YAML_MAPPING_NODE:
		return "a mapping";
	case YAML_SEQUENCE_NODE:
		return "a list";
	default:
		return "a single value";
	}
}

static const char *
text(const yaml_node_t *n)
{

	return (const char *)n->data.scalar.value;
}

/* A plain empty, ~ or null scalar: YAML's null. */
static int
is_null(const yaml_node_t *n)
{
	const char	*s;

	if (n->type != YAML_SCALAR_NODE ||
	    n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
		return 0;
	s = text(n);
	return strcmp(s, "") == 0 || strcmp(s, "~") == 0 ||
	    strcmp(s, "null") == 0 || strcmp(s, "Null") == 0 ||
	    strcmp(s, "NULL") == 0;
}

static int
has_ctl(const char *s)
{

	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return 1;
	return 0;
}

/*
 * The text of a scalar value of key, or NULL after reporting why not: not
 * a scalar, null, holding NUL or control bytes, or empty unless empty_ok.
 * Borrowed from the document.
 */
static const char *
scalar(struct ctx *x, yaml_node_t *n, const char *key, int empty_ok)
{
	const char	*s;

	if (n->type != YAML_SCALAR_NODE) {
		err_at(x, n, "'%s' must be a single value, not %s", key,
		    kind(n));
		return NULL;
	}
	s = text(n);
	if (is_null(n) != 0) {
		err_at(x, n, "'%s' needs a value", key);
		return NULL;
	}
	if (strlen(s) != n->data.scalar.length) {
		err_at(x, n, "'%s' contains a NUL byte", key);
		return NULL;
	}
	if (has_ctl(s) != 0) {
		err_at(x, n, "'%s' contains a control character", key);
		return NULL;
	}
	if (empty_ok == 0 && *s == '\0') {
		err_at(x, n, "'%s' must not be empty", key);
		return NULL;
	}
	return s;
}

/* As scalar(), copied; caller frees.  NULL after reporting. */
static char *
get_str(struct ctx *x, yaml_node_t *n, const char *key, int empty_ok)
{
	const char	*s;
	char		*p;

	if ((s = scalar(x, n, key, empty_ok)) == NULL)
		return NULL;
	if ((p = strdup(s)) == NULL)
		oom(x, n);
	return p;
}

static void
set_str(char **dst, char *v)
{

	if (v == NULL)
		return;
	free(*dst);
	*dst = v;
}

/* Decimal integer, optional '-', no more than 18 digits; 0 on success. */
static int
parse_ll(const char *s, long long *out)
{
	long long	 v = 0;
	int		 neg = 0;
	size_t		 n = 0;

	if (*s == '-') {
		neg = 1;
		s++;
	}
	for (; *s >= '0' && *s <= '9' && n < 18; s++, n++)
		v = v * 10 + (*s - '0');
	if (*s != '\0' || n == 0)
		return -1;
	*out = neg != 0 ? -v : v;
	return 0;
}

static int
get_int(struct ctx *x, yaml_node_t *n, const char *key, long long min,
    long long max, int *out)
{
	const char	*s;
	long long	 v;
	char		 b[CONF_SHOWN + 4];

	if ((s = scalar(x, n, key, 0)) == NULL)
		return -1;
	if (parse_ll(s, &v) == -1 || v < min || v > max) {
		err_at(x, n, "'%s' must be an integer from %lld to %lld, "
		    "not '%s'", key, min, max, shown(b, s));
		return -1;
	}
	*out = (int)v;
	return 0;
}

/* YAML 1.1 booleans: 1 true, 0 false, -1 neither. */
static int
parse_bool(const char *s)
{

	if (strcasecmp(s, "yes") == 0 || strcasecmp(s, "true") == 0 ||
	    strcasecmp(s, "on") == 0)
		return 1;
	if (strcasecmp(s, "no") == 0 || strcasecmp(s, "false") == 0 ||
	    strcasecmp(s, "off") == 0)
		return 0;
	return -1;
}

static int
get_bool(struct ctx *x, yaml_node_t *n, const char *key, int *out)
{
	const char	*s;
	int		 v;
	char		 b[CONF_SHOWN + 4];

	if ((s = scalar(x, n, key, 0)) == NULL)
		return -1;
	if ((v = parse_bool(s)) == -1) {
		err_at(x, n, "'%s' must be yes or no (or true/false, on/off), "
		    "not '%s'", key, shown(b, s));
		return -1;
	}
	*out = v;
	return 0;
}

static int
get_size(struct ctx *x, yaml_node_t *n, const char *key, size_t min,
    size_t *out)
{
	const char	*s;
	size_t		 v;
	char		 b[CONF_SHOWN + 4];

	if ((s = scalar(x, n, key, 0)) == NULL)
		return -1;
	if (conf_parse_size(s, &v) == -1) {
		err_at(x, n, "'%s' must be a size like 512MiB, 4GiB or "
		    "1048576, not '%s'", key, shown(b, s));
		return -1;
	}
	if (v < min) {
		err_at(x, n, "'%s' must be at least %zu bytes", key, min);
		return -1;
	}
	*out = v;
	return 0;
}

static int
hexval(int ch)
{

	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	if (ch >= 'A' && ch <= 'F')
		return ch - 'A' + 10;
	return -1;
}

/* 64 hex digits (either case) into 32 bytes. */
static int
get_sha256(struct ctx *x, yaml_node_t *n, const char *key,
    unsigned char out[32])
{
	const char	*s;
	size_t		 i;

	if ((s = scalar(x, n, key, 0)) == NULL)
		return -1;
	if (strlen(s) != 64)
		goto bad;
	for (i = 0; i < 64; i++)
		if (hexval((unsigned char)s[i]) == -1)
			goto bad;
	for (i = 0; i < 32; i++)
		out[i] = (unsigned char)(hexval((unsigned char)s[2 * i]) << 4 |
		    hexval((unsigned char)s[2 * i + 1]));
	return 0;
bad:
	err_at(x, n, "'%s' must be 64 hex digits (a SHA-256; `fastcrm key` "
	    "prints one)", key);
	return -1;
}

/* The text of a mapping key, or NULL after reporting. */
static const char *
key_str(struct ctx *x, yaml_node_t *k)
{
	const char	*s;

	if (k->type != YAML_SCALAR_NODE || is_null(k) != 0) {
		err_at(x, k, "a key must be a plain string, not %s",
		    k->type == YAML_SCALAR_NODE ? "null" : kind(k));
		return NULL;
	}
	s = text(k);
	if (strlen(s) != k->data.scalar.length || has_ctl(s) != 0) {
		err_at(x, k, "a key contains a NUL or control character");
		return NULL;
	}
	return s;
}

/* Whether an earlier key of map has the same text as pair's; reports it. */
static int
dup_key(struct ctx *x, yaml_node_t *map, yaml_node_pair_t *pair)
{
	yaml_node_pair_t	*p;
	yaml_node_t		*k, *o;
	char			 b[CONF_SHOWN + 4];

	k = node(x, pair->key);
	for (p = map->data.mapping.pairs.start; p < pair; p++) {
		o = node(x, p->key);
		if (o == NULL || o->type != YAML_SCALAR_NODE ||
		    o->data.scalar.length != k->data.scalar.length ||
		    memcmp(o->data.scalar.value, k->data.scalar.value,
		    k->data.scalar.length) != 0)
			continue;
		err_at(x, k, "duplicate key '%s' (first at line %zu)",
		    shown(b, text(k)), line_of(o));
		return 1;
	}
	return 0;
}

/*
 * Walks a mapping through a key table: each known key's handler gets the
 * value and arg; unknown and duplicate keys, and missing required ones, are
 * reported.  what names the mapping in messages (NULL at the top level).
 */
static void
walk_map(struct ctx *x, yaml_node_t *map, const char *what,
    const struct key *keys, size_t nkeys, void *arg)
{
	yaml_node_pair_t	*p;
	yaml_node_t		*k, *v;
	const char		*s, *names[32];	/* as many as seen's bits */
	uint32_t		 seen = 0;
	size_t			 i, nnames;

	if (map->type != YAML_MAPPING_NODE) {
		err_at(x, map, "%s must be a mapping, not %s",
		    what == NULL ? "the file" : what,
		    is_null(map) != 0 ? "empty" : kind(map));
		return;
	}
	for (i = 0; i < nkeys && i < NELEM(names); i++)
		names[i] = keys[i].name;
	nnames = i;
	for (p = map->data.mapping.pairs.start;
	    p < map->data.mapping.pairs.top; p++) {
		k = node(x, p->key);
		v = node(x, p->value);
		if (k == NULL || v == NULL)
			continue;
		if ((s = key_str(x, k)) == NULL || dup_key(x, map, p))
			continue;
		for (i = 0; i < nkeys; i++)
			if (strcmp(s, keys[i].name) == 0)
				break;
		if (i == nkeys) {
			err_unknown(x, k, "key", s, what, names, nnames);
			continue;
		}
		seen |= 1U << i;
		keys[i].fn(x, v, arg);
	}
	for (i = 0; i < nkeys; i++)
		if (keys[i].required && (seen & (1U << i)) == 0)
			err_at(x, map, "missing required key '%s'%s%s",
			    keys[i].name, what == NULL ? "" : " in ",
			    what == NULL ? "" : what);
}

/* Top-level keys. */

static int
valid_port(const char *s)
{
	long long	 v;

	if (*s == '\0' || strlen(s) > 5 || *s == '-' ||
	    parse_ll(s, &v) == -1)
		return 0;
	return v >= 1 && v <= 65535;
}

static int
is_loopback(const char *host)
{

	return strcmp(host, "localhost") == 0 || strcmp(host, "::1") == 0 ||
	    strncmp(host, "127.", 4) == 0;
}

/*
 * NULL if s is "unix:PATH" or "HOST:PORT" with HOST localhost or an IP
 * address ("[v6]:PORT" too), else what is wrong.  *remote is set for a
 * TCP address off the loopback.
 */
static const char *
check_listen(const char *s, int *remote)
{
	char		 host[64];
	const char	*colon, *port;
	size_t		 hlen;
	unsigned char	 a[16];

	*remote = 0;
	if (strncmp(s, "unix:", 5) == 0) {
		if (s[5] == '\0')
			return "'unix:' needs a socket path after it";
		if (strlen(s + 5) >= 108)
			return "the socket path is longer than 107 bytes";
		return NULL;
	}
	if (*s == '[') {
		if ((colon = strchr(s, ']')) == NULL || colon[1] != ':')
			return "expected [IPv6]:PORT";
		hlen = colon - s - 1;
		s++;
		port = colon + 2;
	} else {
		if ((colon = strrchr(s, ':')) == NULL)
			return "expected unix:/path/to/socket or HOST:PORT";
		hlen = colon - s;
		port = colon + 1;
	}
	if (hlen == 0 || hlen >= sizeof(host))
		return "expected unix:/path/to/socket or HOST:PORT";
	memcpy(host, s, hlen);
	host[hlen] = '\0';
	if (strcmp(host, "localhost") != 0 &&
	    inet_pton(AF_INET, host, a) != 1 &&
	    inet_pton(AF_INET6, host, a) != 1)
		return "HOST must be an IP address or localhost";
	if (valid_port(port) == 0)
		return "PORT must be a number from 1 to 65535";
	*remote = !is_loopback(host);
	return NULL;
}

static void
k_listen(struct ctx *x, yaml_node_t *n, void *arg)
{
	const char	*s, *why;
	char		 b[CONF_SHOWN + 4];
	int		 remote;

	(void)arg;
	if ((s = scalar(x, n, "listen", 0)) == NULL)
		return;
	if ((why = check_listen(s, &remote)) != NULL) {
		err_at(x, n, "'listen' '%s': %s", shown(b, s), why);
		return;
	}
	if (remote != 0)
		warn_line(x, line_of(n), "'listen' %s is not a loopback "
		    "address; FastCGI has no authentication of its own",
		    shown(b, s));
	set_str(&x->c->listen, get_str(x, n, "listen", 0));
}

/* `workers: auto`, also the default: the CPUs online, 1 to 256. */
static int
cpu_count(void)
{
	long	 cpus;

	cpus = sysconf(_SC_NPROCESSORS_ONLN);
	return cpus < 1 ? 1 : cpus > 256 ? 256 : (int)cpus;
}

static void
k_workers(struct ctx *x, yaml_node_t *n, void *arg)
{
	const char	*s;
	long long	 v;
	char		 b[CONF_SHOWN + 4];

	(void)arg;
	if ((s = scalar(x, n, "workers", 0)) == NULL)
		return;
	if (strcmp(s, "auto") == 0) {
		x->c->workers = cpu_count();
		return;
	}
	if (parse_ll(s, &v) == -1 || v < 1 || v > 256) {
		err_at(x, n, "'workers' must be auto or an integer from 1 to "
		    "256, not '%s'", shown(b, s));
		return;
	}
	x->c->workers = (int)v;
}

static void
k_data_dir(struct ctx *x, yaml_node_t *n, void *arg)
{

	(void)arg;
	set_str(&x->c->data_dir, get_str(x, n, "data_dir", 0));
}

/* log_file: an absolute path; stderr goes there, reopened on SIGUSR1. */
static void
k_log_file(struct ctx *x, yaml_node_t *n, void *arg)
{
	const char	*s;
	char		 b[CONF_SHOWN + 4];

	(void)arg;
	if ((s = scalar(x, n, "log_file", 0)) == NULL)
		return;
	if (s[0] != '/') {
		err_at(x, n, "'log_file' must be an absolute path, not '%s'",
		    shown(b, s));
		return;
	}
	set_str(&x->c->log_file, get_str(x, n, "log_file", 0));
}

static void
k_map_size(struct ctx *x, yaml_node_t *n, void *arg)
{

	(void)arg;
	(void)get_size(x, n, "map_size", 1024 * 1024, &x->c->map_size);
}

static void
k_max_body(struct ctx *x, yaml_node_t *n, void *arg)
{

	(void)arg;
	(void)get_size(x, n, "max_body", 1, &x->c->max_body);
}

static void
k_max_json_body(struct ctx *x, yaml_node_t *n, void *arg)
{

	(void)arg;
	(void)get_size(x, n, "max_json_body", 1024, &x->c->max_json_body);
}

static void
k_max_login_body(struct ctx *x, yaml_node_t *n, void *arg)
{

	(void)arg;
	(void)get_size(x, n, "max_login_body", 1024, &x->c->max_login_body);
}

static void
k_request_memory(struct ctx *x, yaml_node_t *n, void *arg)
{

	(void)arg;
	(void)get_size(x, n, "request_memory", 1024 * 1024,
	    &x->c->request_memory);
}

static void
k_country(struct ctx *x, yaml_node_t *n, void *arg)
{
	const char	*s;
	char		 b[CONF_SHOWN + 4];
	size_t		 i;

	(void)arg;
	if (is_null(n) != 0) {
		set_str(&x->c->default_country_code, strdup(""));
		return;
	}
	if ((s = scalar(x, n, "default_country_code", 1)) == NULL)
		return;
	if (*s == '+')
		s++;
	for (i = 0; s[i] >= '0' && s[i] <= '9'; i++)
		continue;
	if (s[i] != '\0' || (i == 0 && text(n)[0] == '+') || i > 3 ||
	    s[0] == '0') {
		err_at(x, n, "'default_country_code' must be 1 to 3 digits "
		    "like \"1\" or \"44\", not '%s'", shown(b, text(n)));
		return;
	}
	set_str(&x->c->default_country_code, strdup(s));
	if (x->c->default_country_code == NULL)
		oom(x, n);
}

static void
k_fail_limit(struct ctx *x, yaml_node_t *n, void *arg)
{

	(void)arg;
	(void)get_int(x, n, "auth_fail_limit", 1, 1000000,
	    &x->c->auth_fail_limit);
}

static void
k_write_batch(struct ctx *x, yaml_node_t *n, void *arg)
{

	(void)arg;
	(void)get_int(x, n, "write_batch", 1, 32, &x->c->write_batch);
}

static void
k_fail_window(struct ctx *x, yaml_node_t *n, void *arg)
{

	(void)arg;
	(void)get_int(x, n, "auth_fail_window", 1, 86400,
	    &x->c->auth_fail_window);
}

/* "30d", "12h", "15m", "90s", "2w" or seconds; 0 or "off" turns it off. */
static void
k_purge_after(struct ctx *x, yaml_node_t *n, void *arg)
{
	const char	*s;
	char		*end, b[CONF_SHOWN + 4];
	long long	 v, mul = 1;

	(void)arg;
	if ((s = scalar(x, n, "purge_deleted_after", 0)) == NULL)
		return;
	if (strcmp(s, "off") == 0) {
		x->c->purge_deleted_after = 0;
		return;
	}
	v = strtoll(s, &end, 10);
	if (*end == 's' || *end == 'm' || *end == 'h' || *end == 'd' ||
	    *end == 'w')
		mul = *end == 's' ? 1 : *end == 'm' ? 60 : *end == 'h' ? 3600 :
		    *end == 'd' ? 86400 : 7 * 86400, end++;
	if (end == s || *end != '\0' || v < 0 || v > 3650LL * 86400 / mul) {
		err_at(x, n, "'purge_deleted_after' is a duration such as 30d, "
		    "12h, 90s (or off), not '%s'", shown(b, s));
		return;
	}
	x->c->purge_deleted_after = v * mul;
}

static void
k_log_level(struct ctx *x, yaml_node_t *n, void *arg)
{
	const char	*s;
	char		 b[CONF_SHOWN + 4];

	(void)arg;
	if ((s = scalar(x, n, "log_level", 0)) == NULL)
		return;
	if (strcmp(s, "info") != 0 && strcmp(s, "debug") != 0) {
		err_at(x, n, "'log_level' must be info or debug, not '%s'",
		    shown(b, s));
		return;
	}
	set_str(&x->c->log_level, get_str(x, n, "log_level", 0));
}

/*
 * A list of scalars each accepted by ok() (which returns NULL or why not)
 * into *vp, *np; caller frees.  Duplicates are reported when nodup is set.
 */
static void
get_list(struct ctx *x, yaml_node_t *n, const char *key, int empty_ok,
    const char *(*ok)(const char *), int nodup, char ***vp, size_t *np)
{
	yaml_node_item_t	*it;
	yaml_node_t		*e;
	const char		*s, *why;
	char			**v, **nv;
	char			 b[CONF_SHOWN + 4];
	size_t			 i, nv_n = 0;

	if (n->type != YAML_SEQUENCE_NODE) {
		err_at(x, n, "'%s' must be a list, not %s", key,
		    is_null(n) != 0 ? "empty" : kind(n));
		return;
	}
	v = NULL;
	for (it = n->data.sequence.items.start;
	    it < n->data.sequence.items.top; it++) {
		if ((e = node(x, *it)) == NULL)
			continue;
		if ((s = scalar(x, e, key, empty_ok)) == NULL)
			continue;
		if (ok != NULL && (why = ok(s)) != NULL) {
			err_at(x, e, "'%s' entry '%s': %s", key, shown(b, s),
			    why);
			continue;
		}
		for (i = 0; nodup != 0 && i < nv_n; i++)
			if (strcmp(v[i], s) == 0)
				break;
		if (nodup != 0 && i < nv_n) {
			err_at(x, e, "'%s' lists '%s' twice", key,
			    shown(b, s));
			continue;
		}
		if ((nv = reallocarray(v, nv_n + 1, sizeof(*v))) == NULL) {
			oom(x, e);
			break;
		}
		v = nv;
		if ((v[nv_n] = strdup(s)) == NULL) {
			oom(x, e);
			break;
		}
		nv_n++;
	}
	for (i = 0; i < *np; i++)
		free((*vp)[i]);
	free(*vp);
	*vp = v;
	*np = nv_n;
}

/* A CSP source expression: one token that cannot break the header. */
static const char *
check_csp_source(const char *s)
{

	if (strpbrk(s, " \t;,\"") != NULL)
		return "must be one CSP source, without spaces, ';', ',' "
		    "or '\"'";
	return NULL;
}

static void
k_frame_ancestors(struct ctx *x, yaml_node_t *n, void *arg)
{

	(void)arg;
	x->fa_seen = 1;
	get_list(x, n, "frame_ancestors", 0, check_csp_source, 1,
	    &x->c->frame_ancestors, &x->c->nframe_ancestors);
}

static void
k_metrics_allow(struct ctx *x, yaml_node_t *n, void *arg)
{

	(void)arg;
	x->c->metrics_allow_given = 1;
	if (n->type == YAML_SEQUENCE_NODE &&
	    n->data.sequence.items.start == n->data.sequence.items.top)
		return;
	get_list(x, n, "metrics_allow", 0, metrics_cidr_check, 1,
	    &x->c->metrics_allow, &x->c->nmetrics_allow);
}

static void
k_health_max_fill(struct ctx *x, yaml_node_t *n, void *arg)
{

	(void)arg;
	(void)get_int(x, n, "health_max_fill", 1, 100,
	    &x->c->health_max_fill);
}

static void
k_agent_role(struct ctx *x, yaml_node_t *n, void *arg)
{

	(void)arg;
	x->agent_line = line_of(n);
	set_str(&x->c->agent_role, get_str(x, n, "agent_role", 0));
}

/* Roles. */

static int
get_perm(struct ctx *x, yaml_node_t *n, const char *key, enum conf_perm *out)
{
	const char	*s;
	char		 b[CONF_SHOWN + 4];

	if ((s = scalar(x, n, key, 0)) == NULL)
		return -1;
	if (strcasecmp(s, "all") == 0 || parse_bool(s) == 1)
		*out = CONF_ALL;
	else if (strcasecmp(s, "own") == 0)
		*out = CONF_OWN;
	else if (parse_bool(s) == 0)
		*out = CONF_NO;
	else {
		err_at(x, n, "'%s' must be all, own or no, not '%s'", key,
		    shown(b, s));
		return -1;
	}
	return 0;
}

static void
k_acl_create(struct ctx *x, yaml_node_t *n, void *arg)
{
	struct conf_acl	*a = arg;

	(void)get_bool(x, n, "create", &a->create);
}

static void
k_acl_read(struct ctx *x, yaml_node_t *n, void *arg)
{
	struct conf_acl	*a = arg;

	(void)get_perm(x, n, "read", &a->read);
}

static void
k_acl_edit(struct ctx *x, yaml_node_t *n, void *arg)
{
	struct conf_acl	*a = arg;

	(void)get_perm(x, n, "edit", &a->edit);
}

static void
k_acl_delete(struct ctx *x, yaml_node_t *n, void *arg)
{
	struct conf_acl	*a = arg;

	(void)get_perm(x, n, "delete", &a->del);
}

static const struct key acl_keys[] = {
	{ "create", k_acl_create, 0 },
	{ "read", k_acl_read, 0 },
	{ "edit", k_acl_edit, 0 },
	{ "delete", k_acl_delete, 0 },
};

static int
valid_name(const char *s, size_t max)
{
	size_t	 i;

	for (i = 0; s[i] != '\0'; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') ||
		    (s[i] >= 'A' && s[i] <= 'Z') ||
		    (s[i] >= '0' && s[i] <= '9') ||
		    s[i] == '_' || s[i] == '-' || s[i] == '.'))
			return 0;
	return i > 0 && i <= max;
}

static int
in_list(const char *s, const char *const *v, size_t n)
{
	size_t	 i;

	for (i = 0; i < n; i++)
		if (strcmp(s, v[i]) == 0)
			return 1;
	return 0;
}

static void
parse_role(struct ctx *x, yaml_node_t *n, struct conf_role *r)
{
	yaml_node_pair_t	*p;
	yaml_node_t		*k, *v;
	struct conf_acl		 acl, *na;
	const char		*s;
	char			 what[CONF_WHAT];

	if (n->type != YAML_MAPPING_NODE) {
		err_at(x, n, "role '%s' must be a mapping of entity to "
		    "rights, not %s", r->name, is_null(n) != 0 ? "empty" : kind(n));
		return;
	}
	for (p = n->data.mapping.pairs.start;
	    p < n->data.mapping.pairs.top; p++) {
		k = node(x, p->key);
		v = node(x, p->value);
		if (k == NULL || v == NULL)
			continue;
		if ((s = key_str(x, k)) == NULL || dup_key(x, n, p))
			continue;
		if (in_list(s, acl_entity_names,
		    NELEM(acl_entity_names)) == 0) {
			snprintf(what, sizeof(what), "role '%s'", r->name);
			err_unknown(x, k, "entity", s, what,
			    acl_entity_names, NELEM(acl_entity_names));
			continue;
		}
		memset(&acl, 0, sizeof(acl));
		snprintf(what, sizeof(what), "role '%s' for %s", r->name, s);
		walk_map(x, v, what, acl_keys, NELEM(acl_keys), &acl);
		if ((acl.entity = strdup(s)) == NULL) {
			oom(x, k);
			return;
		}
		na = reallocarray(r->acls, r->nacls + 1, sizeof(*na));
		if (na == NULL) {
			free(acl.entity);
			oom(x, k);
			return;
		}
		r->acls = na;
		r->acls[r->nacls++] = acl;
	}
}

static void
k_roles(struct ctx *x, yaml_node_t *n, void *arg)
{
	yaml_node_pair_t	*p;
	yaml_node_t		*k, *v;
	struct conf_role	*nr, *r;
	const char		*s;
	char			 b[CONF_SHOWN + 4];

	(void)arg;
	if (n->type != YAML_MAPPING_NODE) {
		err_at(x, n, "'roles' must be a mapping of role name to "
		    "rights, not %s", is_null(n) != 0 ? "empty" : kind(n));
		return;
	}
	for (p = n->data.mapping.pairs.start;
	    p < n->data.mapping.pairs.top; p++) {
		k = node(x, p->key);
		v = node(x, p->value);
		if (k == NULL || v == NULL)
			continue;
		if ((s = key_str(x, k)) == NULL || dup_key(x, n, p))
			continue;
		if (valid_name(s, 64) == 0) {
			err_at(x, k, "role name '%s' must be 1 to 64 letters, "
			    "digits, '_', '-' or '.'", shown(b, s));
			continue;
		}
		nr = reallocarray(x->c->roles, x->c->nroles + 1, sizeof(*nr));
		if (nr == NULL) {
			oom(x, k);
			return;
		}
		x->c->roles = nr;
		r = &x->c->roles[x->c->nroles];
		memset(r, 0, sizeof(*r));
		if ((r->name = strdup(s)) == NULL) {
			oom(x, k);
			return;
		}
		x->c->nroles++;
		parse_role(x, v, r);
	}
}

/* api_users. */

static void
u_name(struct ctx *x, yaml_node_t *n, void *arg)
{
	struct uent	*e = arg;
	const char	*s;

	if ((s = scalar(x, n, "name", 0)) == NULL)
		return;
	if (strchr(s, ':') != NULL) {
		err_at(x, n, "'name' must not contain ':' (Basic "
		    "authentication could not carry it)");
		return;
	}
	set_str(&e->u.name, get_str(x, n, "name", 0));
}

static void
u_id(struct ctx *x, yaml_node_t *n, void *arg)
{
	struct uent	*e = arg;
	const char	*s;
	size_t		 i;

	if ((s = scalar(x, n, "id", 0)) == NULL)
		return;
	for (i = 0; (s[i] >= '0' && s[i] <= '9') ||
	    (s[i] >= 'a' && s[i] <= 'f'); i++)
		continue;
	if (s[i] != '\0' || i != 17) {
		err_at(x, n, "'id' must be 17 lowercase hex digits");
		return;
	}
	e->r.id_line = line_of(n);
	set_str(&e->u.id, get_str(x, n, "id", 0));
}

static void
u_role(struct ctx *x, yaml_node_t *n, void *arg)
{
	struct uent	*e = arg;

	e->r.role_line = line_of(n);
	set_str(&e->u.role, get_str(x, n, "role", 0));
}

static void
u_key(struct ctx *x, yaml_node_t *n, void *arg)
{
	struct uent	*e = arg;

	e->has_cred = 1;
	if (get_sha256(x, n, "api_key_sha256", e->u.key_sha256) == 0) {
		e->u.has_key = 1;
		e->r.key_line = line_of(n);
	}
}

static void
u_password(struct ctx *x, yaml_node_t *n, void *arg)
{
	struct uent	*e = arg;
	const char	*s;

	e->has_cred = 1;
	if ((s = scalar(x, n, "password_hash", 0)) == NULL)
		return;
	if (s[0] != '$' || strchr(s + 1, '$') == NULL ||
	    strpbrk(s, " \t") != NULL) {
		err_at(x, n, "'password_hash' must be a crypt(3) hash "
		    "starting with '$', like $y$... (mkpasswd makes one)");
		return;
	}
	if (strncmp(s, "$1$", 3) == 0)
		warn_line(x, line_of(n), "'password_hash' is MD5-crypt; use "
		    "yescrypt ($y$) or SHA-512 ($6$)");
	set_str(&e->u.password_hash, get_str(x, n, "password_hash", 0));
}

static void
u_hmac(struct ctx *x, yaml_node_t *n, void *arg)
{
	struct uent	*e = arg;

	set_str(&e->u.hmac_secret, get_str(x, n, "hmac_secret", 0));
}

static void
u_admin(struct ctx *x, yaml_node_t *n, void *arg)
{
	struct uent	*e = arg;

	(void)get_bool(x, n, "admin", &e->u.admin);
}

static void
u_empty(struct ctx *x, yaml_node_t *n, void *arg)
{
	struct uent	*e = arg;

	(void)get_bool(x, n, "empty_means_absent", &e->u.empty_means_absent);
}

static const struct key user_keys[] = {
	{ "name", u_name, 1 },
	{ "id", u_id, 0 },
	{ "role", u_role, 1 },
	{ "api_key_sha256", u_key, 0 },
	{ "password_hash", u_password, 0 },
	{ "hmac_secret", u_hmac, 0 },
	{ "admin", u_admin, 0 },
	{ "empty_means_absent", u_empty, 0 },
};

static void
free_user(struct conf_user *u)
{

	free(u->name);
	free(u->id);
	free(u->role);
	free(u->password_hash);
	if (u->hmac_secret != NULL) {
		explicit_bzero(u->hmac_secret, strlen(u->hmac_secret));
		free(u->hmac_secret);
	}
}

/* The first 17 hex digits of SHA-256("user:" + name). */
static char *
derive_id(const char *name)
{
	char	*in, hex[65];

	if (asprintf(&in, "user:%s", name) == -1)
		return NULL;
	util_sha256_hex(in, strlen(in), hex);
	free(in);
	hex[17] = '\0';
	return strdup(hex);
}

static void
k_users(struct ctx *x, yaml_node_t *n, void *arg)
{
	yaml_node_item_t	*it;
	yaml_node_t		*e;
	struct uent		 ue;
	struct conf_user	*nu;
	struct ref		*nr;
	char			 b[CONF_SHOWN + 4];
	size_t			 i;

	(void)arg;
	if (n->type != YAML_SEQUENCE_NODE) {
		err_at(x, n, "'api_users' must be a list, not %s",
		    is_null(n) != 0 ? "empty" : kind(n));
		return;
	}
	for (it = n->data.sequence.items.start;
	    it < n->data.sequence.items.top; it++) {
		if ((e = node(x, *it)) == NULL)
			continue;
		memset(&ue, 0, sizeof(ue));
		ue.r.line = line_of(e);
		walk_map(x, e, "api_users entry", user_keys, NELEM(user_keys),
		    &ue);
		if (e->type == YAML_MAPPING_NODE && ue.has_cred == 0)
			err_at(x, e, "api_users entry%s%s%s needs "
			    "api_key_sha256 or password_hash",
			    ue.u.name == NULL ? "" : " '",
			    ue.u.name == NULL ? "" : shown(b, ue.u.name),
			    ue.u.name == NULL ? "" : "'");
		if (ue.u.hmac_secret != NULL && ue.u.has_key == 0)
			warn_line(x, ue.r.line, "api_users entry has "
			    "hmac_secret but no api_key_sha256, so HMAC "
			    "authentication cannot name it");
		for (i = 0; ue.u.name != NULL && i < x->c->nusers; i++)
			if (x->c->users[i].name != NULL &&
			    strcmp(x->c->users[i].name, ue.u.name) == 0)
				break;
		if (ue.u.name != NULL && i < x->c->nusers)
			err_line(x, ue.r.line, "duplicate user name '%s' "
			    "(first at line %zu)", shown(b, ue.u.name),
			    x->urefs[i].line);
		if (ue.u.id == NULL && ue.u.name != NULL &&
		    (ue.u.id = derive_id(ue.u.name)) == NULL)
			oom(x, e);
		nu = reallocarray(x->c->users, x->c->nusers + 1, sizeof(*nu));
		if (nu != NULL)
			x->c->users = nu;
		nr = reallocarray(x->urefs, x->c->nusers + 1, sizeof(*nr));
		if (nr != NULL)
			x->urefs = nr;
		if (nu == NULL || nr == NULL) {
			free_user(&ue.u);
			oom(x, e);
			return;
		}
		x->c->users[x->c->nusers] = ue.u;
		x->urefs[x->c->nusers++] = ue.r;
	}
}

/* oauth2_clients. */

static void
c_id(struct ctx *x, yaml_node_t *n, void *arg)
{
	struct cent	*e = arg;
	const char	*s;

	if ((s = scalar(x, n, "client_id", 0)) == NULL)
		return;
	if (strpbrk(s, ": \t") != NULL) {
		err_at(x, n, "'client_id' must not contain ':' or spaces");
		return;
	}
	set_str(&e->cl.client_id, get_str(x, n, "client_id", 0));
}

static void
c_secret(struct ctx *x, yaml_node_t *n, void *arg)
{
	struct cent	*e = arg;

	(void)get_sha256(x, n, "client_secret_sha256", e->cl.secret_sha256);
}

/*
 * A redirect URI: https://HOST..., or http:// to the loopback only
 * (RFC 8252 native apps); no fragment (RFC 6749 3.1.2).
 */
static const char *
check_redirect(const char *s)
{
	const char	*h;
	size_t		 n;

	if (strncmp(s, "https://", 8) == 0)
		h = s + 8;
	else if (strncmp(s, "http://127.0.0.1", 16) == 0)
		h = s + 16;
	else if (strncmp(s, "http://[::1]", 12) == 0)
		h = s + 12;
	else
		return "must start with https:// (or http://127.0.0.1)";
	if (strpbrk(s, " \t#") != NULL)
		return "must have no spaces and no #fragment";
	if (strncmp(s, "https://", 8) == 0) {
		n = strcspn(h, "/?:");
		if (n == 0)
			return "needs a host after https://";
		return NULL;
	}
	if (*h != '\0' && *h != ':' && *h != '/' && *h != '?')
		return "http:// is only allowed to 127.0.0.1 or [::1]";
	return NULL;
}

static void
c_redirects(struct ctx *x, yaml_node_t *n, void *arg)
{
	struct cent	*e = arg;

	get_list(x, n, "redirect_uris", 0, check_redirect, 1,
	    &e->cl.redirect_uris, &e->cl.nredirect_uris);
	if (n->type == YAML_SEQUENCE_NODE && e->cl.nredirect_uris == 0 &&
	    n->data.sequence.items.start == n->data.sequence.items.top)
		err_at(x, n, "'redirect_uris' must list at least one URI");
}

static void
c_role(struct ctx *x, yaml_node_t *n, void *arg)
{
	struct cent	*e = arg;

	e->r.role_line = line_of(n);
	set_str(&e->cl.role, get_str(x, n, "role", 0));
}

static void
c_empty(struct ctx *x, yaml_node_t *n, void *arg)
{
	struct cent	*e = arg;

	(void)get_bool(x, n, "empty_means_absent", &e->cl.empty_means_absent);
}

static const struct key client_keys[] = {
	{ "client_id", c_id, 1 },
	{ "client_secret_sha256", c_secret, 1 },
	{ "redirect_uris", c_redirects, 1 },
	{ "role", c_role, 1 },
	{ "empty_means_absent", c_empty, 0 },
};

static void
free_client(struct conf_client *cl)
{
	size_t	 i;

	free(cl->client_id);
	for (i = 0; i < cl->nredirect_uris; i++)
		free(cl->redirect_uris[i]);
	free(cl->redirect_uris);
	free(cl->role);
}

static void
k_clients(struct ctx *x, yaml_node_t *n, void *arg)
{
	yaml_node_item_t	*it;
	yaml_node_t		*e;
	struct cent		 ce;
	struct conf_client	*nc;
	struct ref		*nr;
	char			 b[CONF_SHOWN + 4];
	size_t			 i;

	(void)arg;
	if (n->type != YAML_SEQUENCE_NODE) {
		err_at(x, n, "'oauth2_clients' must be a list, not %s",
		    is_null(n) != 0 ? "empty" : kind(n));
		return;
	}
	for (it = n->data.sequence.items.start;
	    it < n->data.sequence.items.top; it++) {
		if ((e = node(x, *it)) == NULL)
			continue;
		memset(&ce, 0, sizeof(ce));
		ce.r.line = line_of(e);
		walk_map(x, e, "oauth2_clients entry", client_keys,
		    NELEM(client_keys), &ce);
		for (i = 0; ce.cl.client_id != NULL && i < x->c->nclients; i++)
			if (x->c->clients[i].client_id != NULL &&
			    strcmp(x->c->clients[i].client_id,
			    ce.cl.client_id) == 0)
				break;
		if (ce.cl.client_id != NULL && i < x->c->nclients)
			err_line(x, ce.r.line, "duplicate client_id '%s' "
			    "(first at line %zu)", shown(b, ce.cl.client_id),
			    x->crefs[i].line);
		nc = reallocarray(x->c->clients, x->c->nclients + 1,
		    sizeof(*nc));
		if (nc != NULL)
			x->c->clients = nc;
		nr = reallocarray(x->crefs, x->c->nclients + 1, sizeof(*nr));
		if (nr != NULL)
			x->crefs = nr;
		if (nc == NULL || nr == NULL) {
			free_client(&ce.cl);
			oom(x, e);
			return;
		}
		x->c->clients[x->c->nclients] = ce.cl;
		x->crefs[x->c->nclients++] = ce.r;
	}
}

/* entities: NAME: fields: */

static void
f_type(struct ctx *x, yaml_node_t *n, void *arg)
{
	struct fent	*e = arg;
	const char	*s;
	char		 b[CONF_SHOWN + 4];
	size_t		 i;

	if ((s = scalar(x, n, "type", 0)) == NULL)
		return;
	for (i = 0; i < NELEM(ftypes); i++)
		if (strcmp(s, ftypes[i].name) == 0)
			break;
	if (i == NELEM(ftypes)) {
		err_at(x, n, "'type' must be varchar, text, int, bool, enum "
		    "or datetime, not '%s'", shown(b, s));
		return;
	}
	e->f.type = ftypes[i].type;
	e->have_type = 1;
}

static void
f_options(struct ctx *x, yaml_node_t *n, void *arg)
{
	struct fent	*e = arg;

	e->options = n;
	get_list(x, n, "options", 1, NULL, 1, &e->f.options, &e->f.noptions);
}

static void
f_max_length(struct ctx *x, yaml_node_t *n, void *arg)
{
	struct fent	*e = arg;
	int		 v;

	e->max_length = n;
	if (get_int(x, n, "maxLength", 1, 1000000, &v) == 0)
		e->f.max_length = (size_t)v;
}

static void
f_required(struct ctx *x, yaml_node_t *n, void *arg)
{
	struct fent	*e = arg;

	(void)get_bool(x, n, "required", &e->f.required);
}

static void
f_indexed(struct ctx *x, yaml_node_t *n, void *arg)
{
	struct fent	*e = arg;

	(void)get_bool(x, n, "indexed", &e->f.indexed);
}

static void
f_unique(struct ctx *x, yaml_node_t *n, void *arg)
{
	struct fent	*e = arg;

	(void)get_bool(x, n, "unique", &e->f.unique);
}

static void
f_on_dup(struct ctx *x, yaml_node_t *n, void *arg)
{
	struct fent	*e = arg;
	const char	*s;
	char		 b[CONF_SHOWN + 4];

	e->on_dup = n;
	if ((s = scalar(x, n, "on_duplicate", 0)) == NULL)
		return;
	if (strcmp(s, "return_existing") == 0)
		e->f.return_existing = 1;
	else if (strcmp(s, "error") == 0)
		e->f.return_existing = 0;
	else {
		err_at(x, n, "'on_duplicate' must be return_existing or "
		    "error, not '%s'", shown(b, s));
		return;
	}
	e->have_on_dup = 1;
}

static void
f_default(struct ctx *x, yaml_node_t *n, void *arg)
{
	struct fent	*e = arg;

	(void)x;
	e->def = n;
}

static const struct key field_keys[] = {
	{ "type", f_type, 1 },
	{ "options", f_options, 0 },
	{ "maxLength", f_max_length, 0 },
	{ "required", f_required, 0 },
	{ "indexed", f_indexed, 0 },
	{ "unique", f_unique, 0 },
	{ "on_duplicate", f_on_dup, 0 },
	{ "default", f_default, 0 },
};

static int
valid_field_name(const char *s)
{
	size_t	 i;

	if (!((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= 'A' && s[0] <= 'Z')))
		return 0;
	for (i = 1; s[i] != '\0'; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') ||
		    (s[i] >= 'A' && s[i] <= 'Z') ||
		    (s[i] >= '0' && s[i] <= '9') || s[i] == '_'))
			return 0;
	return i <= 64;
}

static int
two(const char *s, int lo, int hi)
{
	int	 v;

	if (s[0] < '0' || s[0] > '9' || s[1] < '0' || s[1] > '9')
		return 0;
	v = (s[0] - '0') * 10 + (s[1] - '0');
	return v >= lo && v <= hi;
}

/* "YYYY-MM-DD HH:MM:SS", as the API writes dates. */
static int
valid_datetime(const char *s)
{

	return strlen(s) == 19 && two(s, 0, 99) && two(s + 2, 0, 99) &&
	    s[4] == '-' && two(s + 5, 1, 12) && s[7] == '-' &&
	    two(s + 8, 1, 31) && s[10] == ' ' && two(s + 11, 0, 23) &&
	    s[13] == ':' && two(s + 14, 0, 59) && s[16] == ':' &&
	    two(s + 17, 0, 59);
}

static size_t
utf8_len(const char *s)
{
	size_t	 n = 0;

	for (; *s != '\0'; s++)
		if (((unsigned char)*s & 0xc0) != 0x80)
			n++;
	return n;
}

/* Checks the field's default against its type; sets f.def. */
static void
field_default(struct ctx *x, struct fent *e)
{
	yaml_node_t	*n = e->def;
	const char	*s, *v;
	long long	 ll;
	size_t		 i;
	char		 b[CONF_SHOWN + 4];

	if (n == NULL || is_null(n) != 0)
		return;
	if ((s = scalar(x, n, "default", 1)) == NULL)
		return;
	v = s;
	switch (e->f.type) {
	case CONF_FT_INT:
		if (parse_ll(s, &ll) == -1) {
			err_at(x, n, "'default' must be an integer for an "
			    "int field, not '%s'", shown(b, s));
			return;
		}
		break;
	case CONF_FT_BOOL:
		if (parse_bool(s) == -1) {
			err_at(x, n, "'default' must be true or false for a "
			    "bool field, not '%s'", shown(b, s));
			return;
		}
		v = parse_bool(s) == 1 ? "true" : "false";
		break;
	case CONF_FT_ENUM:
		for (i = 0; i < e->f.noptions; i++)
			if (strcmp(e->f.options[i], s) == 0)
				break;
		if (e->f.noptions > 0 && i == e->f.noptions) {
			err_at(x, n, "'default' '%s' is not one of the "
			    "options", shown(b, s));
			return;
		}
		break;
	case CONF_FT_DATETIME:
		if (valid_datetime(s) == 0) {
			err_at(x, n, "'default' must be \"YYYY-MM-DD "
			    "HH:MM:SS\" for a datetime field, not '%s'",
			    shown(b, s));
			return;
		}
		break;
	default:
		if (e->f.max_length > 0 && utf8_len(s) > e->f.max_length) {
			err_at(x, n, "'default' is longer than maxLength "
			    "%zu", e->f.max_length);
			return;
		}
		break;
	}
	if ((e->f.def = strdup(v)) == NULL)
		oom(x, n);
}

static void
free_field(struct conf_field *f)
{
	size_t	 i;

	free(f->entity);
	free(f->name);
	for (i = 0; i < f->noptions; i++)
		free(f->options[i]);
	free(f->options);
	free(f->def);
}

static void
parse_field(struct ctx *x, const char *entity, const char *name,
    yaml_node_t *n)
{
	struct fent		 e;
	struct conf_field	*nf;
	char			 what[CONF_WHAT];

	memset(&e, 0, sizeof(e));
	snprintf(what, sizeof(what), "field %s.%s", entity, name);
	walk_map(x, n, what, field_keys, NELEM(field_keys), &e);
	if (e.have_type != 0) {
		if (e.f.type == CONF_FT_ENUM && e.options == NULL)
			err_at(x, n, "%s is an enum and needs 'options'",
			    what);
		if (e.f.type == CONF_FT_ENUM && e.options != NULL &&
		    e.options->type == YAML_SEQUENCE_NODE &&
		    e.options->data.sequence.items.start ==
		    e.options->data.sequence.items.top)
			err_at(x, e.options, "'options' of %s is empty",
			    what);
		if (e.f.type != CONF_FT_ENUM && e.options != NULL)
			err_at(x, e.options, "'options' is only for enum "
			    "fields; %s is not one", what);
		if (e.f.type != CONF_FT_VARCHAR &&
		    e.f.type != CONF_FT_TEXT && e.max_length != NULL)
			err_at(x, e.max_length, "'maxLength' is only for "
			    "varchar and text fields");
		field_default(x, &e);
	}
	if (e.have_on_dup && e.f.unique == 0)
		err_at(x, e.on_dup, "'on_duplicate' needs 'unique: true'");
	if (e.f.unique != 0)
		e.f.indexed = 1;
	e.f.entity = strdup(entity);
	e.f.name = strdup(name);
	nf = reallocarray(x->c->fields, x->c->nfields + 1, sizeof(*nf));
	if (nf == NULL || e.f.entity == NULL || e.f.name == NULL) {
		free_field(&e.f);
		oom(x, n);
		return;
	}
	x->c->fields = nf;
	x->c->fields[x->c->nfields++] = e.f;
}

static void
en_fields(struct ctx *x, yaml_node_t *n, void *arg)
{
	const char		*entity = arg, *s;
	yaml_node_pair_t	*p;
	yaml_node_t		*k, *v;
	char			 b[CONF_SHOWN + 4];

	if (n->type != YAML_MAPPING_NODE) {
		err_at(x, n, "'fields' of %s must be a mapping of field "
		    "name to definition, not %s", entity,
		    is_null(n) != 0 ? "empty" : kind(n));
		return;
	}
	for (p = n->data.mapping.pairs.start;
	    p < n->data.mapping.pairs.top; p++) {
		k = node(x, p->key);
		v = node(x, p->value);
		if (k == NULL || v == NULL)
			continue;
		if ((s = key_str(x, k)) == NULL || dup_key(x, n, p))
			continue;
		if (valid_field_name(s) == 0) {
			err_at(x, k, "field name '%s' must match "
			    "[a-zA-Z][a-zA-Z0-9_]* (at most 64)", shown(b, s));
			continue;
		}
		if (in_list(s, system_fields, NELEM(system_fields)) != 0) {
			err_at(x, k, "field name '%s' is a system attribute",
			    s);
			continue;
		}
		parse_field(x, entity, s, v);
	}
}

/* aliases: FIELD: {word: value, ...} — input words read as a value. */
static void
en_alias_map(struct ctx *x, const char *entity, const char *field,
    yaml_node_t *n)
{
	yaml_node_pair_t	*p;
	yaml_node_t		*k, *v;
	struct conf_alias	*na, al;
	const char		*s;

	if (n->type != YAML_MAPPING_NODE) {
		err_at(x, n, "aliases of %s.%s must be a mapping of input "
		    "word to value, not %s", entity, field,
		    is_null(n) != 0 ? "empty" : kind(n));
		return;
	}
	for (p = n->data.mapping.pairs.start;
	    p < n->data.mapping.pairs.top; p++) {
		k = node(x, p->key);
		v = node(x, p->value);
		if (k == NULL || v == NULL)
			continue;
		if ((s = key_str(x, k)) == NULL || dup_key(x, n, p))
			continue;
		memset(&al, 0, sizeof(al));
		al.line = line_of(k);
		if ((al.to = get_str(x, v, s, 1)) == NULL)
			continue;
		al.entity = strdup(entity);
		al.field = strdup(field);
		al.from = strdup(s);
		na = reallocarray(x->c->aliases, x->c->naliases + 1,
		    sizeof(*na));
		if (na == NULL || al.entity == NULL || al.field == NULL ||
		    al.from == NULL) {
			free(al.entity);
			free(al.field);
			free(al.from);
			free(al.to);
			oom(x, k);
			return;
		}
		x->c->aliases = na;
		x->c->aliases[x->c->naliases++] = al;
	}
}

static void
en_aliases(struct ctx *x, yaml_node_t *n, void *arg)
{
	const char		*entity = arg, *s;
	yaml_node_pair_t	*p;
	yaml_node_t		*k, *v;
	char			 b[CONF_SHOWN + 4];

	if (n->type != YAML_MAPPING_NODE) {
		err_at(x, n, "'aliases' of %s must be a mapping of field "
		    "name to aliases, not %s", entity,
		    is_null(n) != 0 ? "empty" : kind(n));
		return;
	}
	for (p = n->data.mapping.pairs.start;
	    p < n->data.mapping.pairs.top; p++) {
		k = node(x, p->key);
		v = node(x, p->value);
		if (k == NULL || v == NULL)
			continue;
		if ((s = key_str(x, k)) == NULL || dup_key(x, n, p))
			continue;
		if (valid_field_name(s) == 0) {
			err_at(x, k, "field name '%s' must match "
			    "[a-zA-Z][a-zA-Z0-9_]* (at most 64)", shown(b, s));
			continue;
		}
		en_alias_map(x, entity, s, v);
	}
}

static const struct key entity_keys[] = {
	{ "fields", en_fields, 0 },
	{ "aliases", en_aliases, 0 },
};

static void
k_entities(struct ctx *x, yaml_node_t *n, void *arg)
{
	yaml_node_pair_t	*p;
	yaml_node_t		*k, *v;
	const char		*s;
	char			 what[CONF_WHAT];
	size_t			 i;

	(void)arg;
	if (n->type != YAML_MAPPING_NODE) {
		err_at(x, n, "'entities' must be a mapping of entity name to "
		    "definition, not %s", is_null(n) != 0 ? "empty" : kind(n));
		return;
	}
	for (p = n->data.mapping.pairs.start;
	    p < n->data.mapping.pairs.top; p++) {
		k = node(x, p->key);
		v = node(x, p->value);
		if (k == NULL || v == NULL)
			continue;
		if ((s = key_str(x, k)) == NULL || dup_key(x, n, p))
			continue;
		for (i = 0; i < NELEM(entity_names); i++)
			if (strcmp(s, entity_names[i]) == 0)
				break;
		if (i == NELEM(entity_names)) {
			err_unknown(x, k, "entity", s, "'entities'",
			    entity_names, NELEM(entity_names));
			continue;
		}
		snprintf(what, sizeof(what), "entity %s", entity_names[i]);
		walk_map(x, v, what, entity_keys, NELEM(entity_keys),
		    (void *)entity_names[i]);
	}
}

static const struct key top_keys[] = {
	{ "listen", k_listen, 1 },
	{ "workers", k_workers, 0 },
	{ "data_dir", k_data_dir, 1 },
	{ "map_size", k_map_size, 0 },
	{ "max_body", k_max_body, 0 },
	{ "max_json_body", k_max_json_body, 0 },
	{ "max_login_body", k_max_login_body, 0 },
	{ "request_memory", k_request_memory, 0 },
	{ "default_country_code", k_country, 0 },
	{ "auth_fail_limit", k_fail_limit, 0 },
	{ "auth_fail_window", k_fail_window, 0 },
	{ "write_batch", k_write_batch, 0 },
	{ "log_level", k_log_level, 0 },
	{ "purge_deleted_after", k_purge_after, 0 },
	{ "log_file", k_log_file, 0 },
	{ "frame_ancestors", k_frame_ancestors, 0 },
	{ "metrics_allow", k_metrics_allow, 0 },
	{ "health_max_fill", k_health_max_fill, 0 },
	{ "roles", k_roles, 0 },
	{ "agent_role", k_agent_role, 0 },
	{ "api_users", k_users, 0 },
	{ "oauth2_clients", k_clients, 0 },
	{ "entities", k_entities, 0 },
};

/* Whole-file checks, once every key has been read. */

static void
err_role(struct ctx *x, size_t line, const char *who, const char *role)
{
	const char	*sug = NULL, *cand[16];
	char		 b[CONF_SHOWN + 4];
	size_t		 i;

	for (i = 0; i < x->c->nroles && i < NELEM(cand); i++)
		cand[i] = x->c->roles[i].name;
	sug = suggest(role, cand, i);
	err_line(x, line, "%s: unknown role '%s'%s%s%s", who,
	    shown(b, role), sug == NULL ? "" : " (did you mean '",
	    sug == NULL ? "" : sug, sug == NULL ? "" : "'?)");
}

static void
cross_check(struct ctx *x)
{
	struct conf		*c = x->c;
	struct conf_user	*u, *o;
	size_t			 i, j;
	char			 b[CONF_SHOWN + 4], w[CONF_WHAT];

	for (i = 0; i < c->nusers; i++) {
		u = &c->users[i];
		snprintf(w, sizeof(w), "user '%s'",
		    u->name == NULL ? "?" : shown(b, u->name));
		if (u->role != NULL && conf_role_find(c, u->role) == NULL)
			err_role(x, x->urefs[i].role_line, w, u->role);
		for (j = 0; j < i; j++) {
			o = &c->users[j];
			if (u->id != NULL && o->id != NULL &&
			    strcmp(u->id, o->id) == 0 &&
			    (u->name == NULL || o->name == NULL ||
			    strcmp(u->name, o->name) != 0))
				err_line(x, x->urefs[i].id_line > 0 ?
				    x->urefs[i].id_line : x->urefs[i].line,
				    "%s: id %s is also the id of the user "
				    "at line %zu", w, u->id, x->urefs[j].line);
			if (u->has_key != 0 && o->has_key != 0 &&
			    memcmp(u->key_sha256, o->key_sha256, 32) == 0)
				err_line(x, x->urefs[i].key_line, "%s: "
				    "api_key_sha256 is also the key of the user "
				    "at line %zu", w, x->urefs[j].line);
		}
	}
	if (c->agent_role != NULL && conf_role_find(c, c->agent_role) == NULL)
		err_role(x, x->agent_line, "agent_role", c->agent_role);
	for (i = 0; i < c->nclients; i++) {
		snprintf(w, sizeof(w), "client '%s'",
		    c->clients[i].client_id == NULL ? "?" :
		    shown(b, c->clients[i].client_id));
		if (c->clients[i].role != NULL &&
		    conf_role_find(c, c->clients[i].role) == NULL)
			err_role(x, x->crefs[i].role_line, w,
			    c->clients[i].role);
	}
}

static int
has_secrets(const struct conf *c)
{
	size_t	 i;

	if (c->nclients > 0)
		return 1;
	for (i = 0; i < c->nusers; i++)
		if (c->users[i].has_key != 0 ||
		    c->users[i].password_hash != NULL ||
		    c->users[i].hmac_secret != NULL)
			return 1;
	return 0;
}

static int
set_defaults(struct ctx *x)
{
	struct conf	*c = x->c;
	size_t		 i;

	if (c->default_country_code == NULL &&
	    (c->default_country_code = strdup("")) == NULL)
		return -1;
	if (c->log_level == NULL && (c->log_level = strdup("info")) == NULL)
		return -1;
	if (x->fa_seen != 0)
		return 0;
	c->frame_ancestors = calloc(NELEM(default_frame_ancestors),
	    sizeof(*c->frame_ancestors));
	if (c->frame_ancestors == NULL)
		return -1;
	for (i = 0; i < NELEM(default_frame_ancestors); i++) {
		c->frame_ancestors[i] = strdup(default_frame_ancestors[i]);
		if (c->frame_ancestors[i] == NULL)
			return -1;
		c->nframe_ancestors++;
	}
	return 0;
}

/* The 1-based line of byte offset off in the text. */
static size_t
offset_line(const struct ctx *x, size_t off)
{
	size_t	 i, line = 1;

	for (i = 0; i < off && i < x->len; i++)
		if (x->buf[i] == '\n')
			line++;
	return line;
}

static void
yaml_fail(struct ctx *x, const yaml_parser_t *p)
{
	const char	*problem;
	size_t		 line;

	problem = p->problem != NULL ? p->problem : "YAML syntax error";
	switch (p->error) {
	case YAML_MEMORY_ERROR:
		err_line(x, 0, "out of memory");
		return;
	case YAML_READER_ERROR:
		err_line(x, offset_line(x, p->problem_offset), "%s", problem);
		return;
	default:
		break;
	}
	line = p->problem_mark.line + 1;
	if (p->context != NULL)
		err_line(x, line, "%s (%s at line %zu)", problem, p->context,
		    (size_t)p->context_mark.line + 1);
	else
		err_line(x, line, "%s", problem);
}

/* The LINE of "NAME:LINE: text"; 0 for "NAME: text". */
static unsigned long
msg_line(const char *msg, size_t namelen)
{

	if (strlen(msg) <= namelen || msg[namelen] != ':')
		return 0;
	return strtoul(msg + namelen + 1, NULL, 10);
}

/*
 * Puts v[from..n) in line order, stably (messages without a line first),
 * so that check-config reads like the file.
 */
static void
sort_msgs(char **v, size_t from, size_t n, size_t namelen)
{
	size_t		 i, j;
	unsigned long	 l;
	char		*m;

	for (i = from + 1; i < n; i++) {
		m = v[i];
		l = msg_line(m, namelen);
		for (j = i; j > from && msg_line(v[j - 1], namelen) > l; j--)
			v[j] = v[j - 1];
		v[j] = m;
	}
}

/*
 * Parses and checks buf; mode is the file's st_mode, or 0 to skip the
 * permission check.
 */
static int
load(const char *name, const char *buf, size_t len, mode_t mode,
    struct conf **out, struct conf_diag *diag)
{
	yaml_parser_t	 parser;
	yaml_document_t	 doc, extra;
	yaml_node_t	*root, *n;
	struct ctx	 x;
	size_t		 e0 = 0, w0 = 0;
	int		 have_doc = 0, rc = -1;

	*out = NULL;
	memset(&x, 0, sizeof(x));
	x.name = name;
	x.buf = buf;
	x.len = len;
	x.diag = diag;
	x.doc = &doc;
	if ((x.c = calloc(1, sizeof(*x.c))) == NULL) {
		err_line(&x, 0, "out of memory");
		return -1;
	}
	if (yaml_parser_initialize(&parser) == 0) {
		err_line(&x, 0, "out of memory");
		free(x.c);
		return -1;
	}
	if (buf == NULL)
		yaml_parser_set_input_string(&parser,
		    (const unsigned char *)"", 0);
	else
		yaml_parser_set_input_string(&parser,
		    (const unsigned char *)buf, len);

	x.c->workers = cpu_count();
	x.c->map_size = (size_t)1 << 30;
	x.c->max_body = (size_t)64 << 20;
	x.c->max_json_body = (size_t)1 << 20;
	x.c->max_login_body = (size_t)8 << 10;
	x.c->request_memory = (size_t)64 << 20;
	x.c->auth_fail_limit = 10;
	x.c->auth_fail_window = 60;
	x.c->health_max_fill = 90;
	x.c->write_batch = 32;
	if ((x.c->path = strdup(name)) == NULL) {
		err_line(&x, 0, "out of memory");
		goto out;
	}

	if (yaml_parser_load(&parser, &doc) == 0) {
		yaml_fail(&x, &parser);
		goto out;
	}
	have_doc = 1;
	if ((root = yaml_document_get_root_node(&doc)) == NULL) {
		err_line(&x, 1, "the file is empty; 'listen' and 'data_dir' "
		    "are required");
		goto out;
	}
	if (diag != NULL) {
		e0 = diag->nerrors;
		w0 = diag->nwarnings;
	}
	if (yaml_parser_load(&parser, &extra) == 0)
		yaml_fail(&x, &parser);
	else {
		if ((n = yaml_document_get_root_node(&extra)) != NULL)
			err_line(&x, line_of(n), "only one YAML document "
			    "is allowed (remove the '---')");
		yaml_document_delete(&extra);
	}

	walk_map(&x, root, NULL, top_keys, NELEM(top_keys), NULL);
	if (set_defaults(&x) == -1)
		err_line(&x, 0, "out of memory");
	cross_check(&x);
	if ((mode & 077) != 0 && has_secrets(x.c))
		warn_line(&x, 0, "holds secrets but is readable by others "
		    "(mode %04o); chmod 600 it", (unsigned)(mode & 07777));
	if (diag != NULL) {
		sort_msgs(diag->errors, e0, diag->nerrors, strlen(name));
		sort_msgs(diag->warnings, w0, diag->nwarnings, strlen(name));
	}
	if (x.nerr == 0) {
		*out = x.c;
		x.c = NULL;
		rc = 0;
	}
out:
	if (have_doc != 0)
		yaml_document_delete(&doc);
	yaml_parser_delete(&parser);
	free(x.urefs);
	free(x.crefs);
	conf_free(x.c);
	return rc;
}

/*
 * Parses the len bytes at buf as a configuration named name in messages.
 * Returns 0 with *out (caller frees with conf_free) or -1 with *out NULL;
 * diagnostics are appended to diag (caller frees with conf_diag_free).
 */
int
conf_load_mem(const char *name, const char *buf, size_t len,
    struct conf **out, struct conf_diag *diag)
{

	return load(name, buf, len, 0, out, diag);
}

/*
 * Reads path and parses it with conf_load_mem(); also warns when a file
 * holding secrets is readable by group or others.  Returns 0 with *out
 * (caller frees with conf_free) or -1 with *out NULL; diagnostics are
 * appended to diag (caller frees with conf_diag_free).
 */
int
conf_load(const char *path, struct conf **out, struct conf_diag *diag)
{
	struct ctx	 x;
	struct stat	 st;
	char		*buf = NULL;
	size_t		 len = 0;
	ssize_t		 r;
	int		 fd, rc = -1;

	*out = NULL;
	memset(&x, 0, sizeof(x));
	x.name = path;
	x.diag = diag;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
		err_line(&x, 0, "cannot open: %s", strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) == -1) {
		err_line(&x, 0, "cannot stat: %s", strerror(errno));
		goto out;
	}
	if (S_ISDIR(st.st_mode)) {
		err_line(&x, 0, "cannot read: %s", strerror(EISDIR));
		goto out;
	}
	if ((buf = malloc(CONF_MAX_FILE + 1)) == NULL) {
		err_line(&x, 0, "out of memory");
		goto out;
	}
	while (len <= CONF_MAX_FILE) {
		r = read(fd, buf + len, CONF_MAX_FILE + 1 - len);
		if (r == -1 && errno == EINTR)
			continue;
		if (r == -1) {
			err_line(&x, 0, "cannot read: %s", strerror(errno));
			goto out;
		}
		if (r == 0)
			break;
		len += (size_t)r;
	}
	if (len > CONF_MAX_FILE) {
		err_line(&x, 0, "is larger than %d MiB", CONF_MAX_FILE >> 20);
		goto out;
	}
	/*
	 * Owned by root, readable by one group but writable by none and
	 * unreadable by others: the Debian package's root:fastcrm 0640,
	 * which only the service's group reads.  Not a warning.
	 */
	if (st.st_uid == 0 && st.st_gid != 0 && (st.st_mode & 027) == 0)
		st.st_mode &= ~(mode_t)070;
	rc = load(path, buf, len, S_ISREG(st.st_mode) ? st.st_mode : 0,
	    out, diag);
out:
	free(buf);
	close(fd);
	return rc;
}

/* Frees c and everything it owns; NULL is a no-op. */
void
conf_free(struct conf *c)
{
	size_t	 i, j;

	if (c == NULL)
		return;
	free(c->path);
	free(c->listen);
	free(c->data_dir);
	free(c->default_country_code);
	free(c->log_level);
	free(c->log_file);
	free(c->agent_role);
	for (i = 0; i < c->nframe_ancestors; i++)
		free(c->frame_ancestors[i]);
	free(c->frame_ancestors);
	for (i = 0; i < c->nmetrics_allow; i++)
		free(c->metrics_allow[i]);
	free(c->metrics_allow);
	for (i = 0; i < c->nroles; i++) {
		free(c->roles[i].name);
		for (j = 0; j < c->roles[i].nacls; j++)
			free(c->roles[i].acls[j].entity);
		free(c->roles[i].acls);
	}
	free(c->roles);
	for (i = 0; i < c->nusers; i++)
		free_user(&c->users[i]);
	free(c->users);
	for (i = 0; i < c->nclients; i++)
		free_client(&c->clients[i]);
	free(c->clients);
	for (i = 0; i < c->nfields; i++)
		free_field(&c->fields[i]);
	free(c->fields);
	for (i = 0; i < c->naliases; i++) {
		free(c->aliases[i].entity);
		free(c->aliases[i].field);
		free(c->aliases[i].from);
		free(c->aliases[i].to);
	}
	free(c->aliases);
	free(c);
}

/* Frees the messages in d and empties it; d itself is the caller's. */
void
conf_diag_free(struct conf_diag *d)
{
	size_t	 i;

	if (d == NULL)
		return;
	for (i = 0; i < d->nerrors; i++)
		free(d->errors[i]);
	free(d->errors);
	for (i = 0; i < d->nwarnings; i++)
		free(d->warnings[i]);
	free(d->warnings);
	memset(d, 0, sizeof(*d));
}

/* The role named name in c, borrowed from c; NULL if there is none. */
const struct conf_role *
conf_role_find(const struct conf *c, const char *name)
{
	size_t	 i;

	if (c == NULL || name == NULL)
		return NULL;
	for (i = 0; i < c->nroles; i++)
		if (strcmp(c->roles[i].name, name) == 0)
			return &c->roles[i];
	return NULL;
}

/*
 * The rights of role r on entity: its exact entry, else its "*" entry, else
 * all `no` with a NULL entity.  The entity member is borrowed from r.
 */
struct conf_acl
conf_role_acl(const struct conf_role *r, const char *entity)
{
	struct conf_acl	 none;
	const struct conf_acl *star = NULL;
	size_t		 i;

	memset(&none, 0, sizeof(none));
	if (r == NULL || entity == NULL)
		return none;
	for (i = 0; i < r->nacls; i++) {
		if (strcmp(r->acls[i].entity, entity) == 0)
			return r->acls[i];
		if (strcmp(r->acls[i].entity, "*") == 0)
			star = &r->acls[i];
	}
	return star != NULL ? *star : none;
}

/*
 * Parses a byte count with an optional unit suffix into *out; 0 on
 * success, -1 on a malformed value or overflow.
 */
int
conf_parse_size(const char *s, size_t *out)
{
	static const struct {
		const char	*suffix;
		unsigned int	 shift;	/* 1024^shift ... */
		unsigned int	 pow10;	/* ... or 1000^pow10 */
	} units[] = {
		{ "", 0, 0 }, { "b", 0, 0 },
		{ "k", 1, 0 }, { "kib", 1, 0 }, { "kb", 0, 1 },
		{ "m", 2, 0 }, { "mib", 2, 0 }, { "mb", 0, 2 },
		{ "g", 3, 0 }, { "gib", 3, 0 }, { "gb", 0, 3 },
		{ "t", 4, 0 }, { "tib", 4, 0 }, { "tb", 0, 4 },
	};
	size_t		 v = 0, mul = 1, i, d;
	unsigned int	 k;

	if (s == NULL || *s < '0' || *s > '9')
		return -1;
	for (; *s >= '0' && *s <= '9'; s++) {
		d = (size_t)(*s - '0');
		if (v > (SIZE_MAX - d) / 10)
			return -1;
		v = v * 10 + d;
	}
	for (i = 0; i < NELEM(units); i++)
		if (strcasecmp(s, units[i].suffix) == 0)
			break;
	if (i == NELEM(units))
		return -1;
	for (k = 0; k < units[i].shift; k++)
		mul *= 1024;
	for (k = 0; k < units[i].pow10; k++)
		mul *= 1000;
	if (v > SIZE_MAX / mul)
		return -1;
	*out = v * mul;
	return 0;
}

static int
random_bytes(unsigned char *p, size_t len)
{
	size_t	 got = 0;
	ssize_t	 r;
	int	 fd;

	while (got < len) {
		r = getrandom(p + got, len - got, 0);
		if (r == -1 && errno == EINTR)
			continue;
		if (r == -1)
			break;
		got += (size_t)r;
	}
	if (got == len)
		return 0;
	if ((fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC)) == -1)
		return -1;
	while (got < len) {
		r = read(fd, p + got, len - got);
		if (r == -1 && errno == EINTR)
			continue;
		if (r <= 0) {
			close(fd);
			if (r == 0)
				errno = EIO;
			return -1;
		}
		got += (size_t)r;
	}
	close(fd);
	return 0;
}

/*
 * A new 32-hex-digit API key into key and its SHA-256 hex into sha_hex.
 * 0 on success, -1 with errno set.
 */
int
conf_key_generate(char key[33], char sha_hex[65])
{
	unsigned char		 raw[16];

	if (random_bytes(raw, sizeof(raw)) == -1)
		return -1;
	util_hex(raw, sizeof(raw), key);
	explicit_bzero(raw, sizeof(raw));
	util_sha256_hex(key, 32, sha_hex);
	return 0;
}
