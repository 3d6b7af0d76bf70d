/*
 * migrate: an EspoCRM installation (or another fastcrm: the same API) read
 * through its REST API with libcurl and written through the importer,
 * keeping ids, numbers, dates and links.  Users (without passwords),
 * Accounts, Contacts, Cases, Calls, Tasks, Notes, then Attachments with
 * their files (GET /Attachment/file/{id}) and the calls' recordings.  Page
 * by page (maxSize, offset, ordered by createdAt); each page commits
 * together with the offset reached (meta "migrate:URL:Entity"), so a run
 * that stops - killed, --limit - goes on where it was when started again,
 * and a record read twice is an upsert by id that changes nothing.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <curl/curl.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "fastcrm/conf.h"
#include "fastcrm/entity.h"
#include "fastcrm/error.h"
#include "fastcrm/store.h"
#include "fastcrm/util.h"
#include "engine.h"
#include "import.h"

#define MAX_BODY	(64 * 1024 * 1024)	/* one list page */
#define DEFAULT_PAGE	200

/* In the order links need them. */
static const char *const order[] = {
	"User", "Account", "Contact", "Case", "Call", "Task", "Note",
	"Attachment", NULL
};

struct mig {
	const struct conf		*conf;
	const struct migrate_opts	*o;
	char				*base;	/* https://host/api/v1 */
	CURL				*c;
	struct importer			*imp;
	struct arena			*pa;	/* one page */
	int				 meta;
	size_t				 read, files, limit_left, skipped;
	int				 tty;
	char				 err[512];
};

struct body {
	char	*p;
	size_t	 len, cap;
	int	 fd;		/* a file download: written here */
	size_t	 max;		/* its ceiling (max_body) */
	int	 failed;
};

static size_t
on_data(char *p, size_t sz, size_t nm, void *arg)
{
	struct body	*b = arg;
	size_t		 n = sz * nm, off;
	ssize_t		 w;
	char		*np;

	if (b->fd >= 0) {
		if (b->len + n > b->max) {
			b->failed = 1;
			return 0;
		}
		for (off = 0; off < n; off += (size_t)w)
			if ((w = write(b->fd, p + off, n - off)) < 0) {
				if (errno == EINTR) {
					w = 0;
					continue;
				}
				b->failed = 1;
				return 0;
			}
		b->len += n;
		return n;
	}
	if (b->len + n + 1 > MAX_BODY) {
		b->failed = 1;
		return 0;
	}
	if (b->len + n + 1 > b->cap) {
		b->cap = (b->len + n + 1) * 2;
		if ((np = realloc(b->p, b->cap)) == NULL) {
			b->failed = 1;
			return 0;
		}
		b->p = np;
	}
	memcpy(b->p + b->len, p, n);
	b->len += n;
	b->p[b->len] = '\0';
	return n;
}

static char *
b64(const char *s)
{
	size_t	 n = strlen(s);
	char	*out;

	if ((out = malloc(4 * ((n + 2) / 3) + 1)) == NULL)
		return NULL;
	EVP_EncodeBlock((unsigned char *)out, (const unsigned char *)s,
	    (int)n);
	return out;
}

/* The credentials header for GET path (below /api/v1). */
static char *
auth_header(const struct migrate_opts *o, const char *path)
{
	unsigned char	 mac[EVP_MAX_MD_SIZE];
	unsigned int	 maclen = 0, i;
	char		*s = NULL, *msg = NULL, *enc, hex[EVP_MAX_MD_SIZE * 2 + 1];
	const char	*colon, *q;
	char		*out = NULL;
	size_t		 plen;

	if (o->key != NULL) {
		if (asprintf(&out, "X-Api-Key: %s", o->key) < 0)
			return NULL;
		return out;
	}
	if (o->hmac != NULL) {
		if ((colon = strchr(o->hmac, ':')) == NULL)
			return NULL;
		/* EspoCRM signs "METHOD /path", without the query. */
		plen = (q = strchr(path, '?')) != NULL ? (size_t)(q - path) :
		    strlen(path);
		if (asprintf(&msg, "GET %.*s", (int)plen, path) < 0)
			return NULL;
		HMAC(EVP_sha256(), colon + 1, (int)strlen(colon + 1),
		    (unsigned char *)msg, strlen(msg), mac, &maclen);
		free(msg);
		for (i = 0; i < maclen; i++)
			snprintf(hex + i * 2, 3, "%02x", mac[i]);
		if (asprintf(&s, "%.*s:%s", (int)(colon - o->hmac), o->hmac,
		    hex) < 0)
			return NULL;
		enc = b64(s);
		free(s);
		if (enc == NULL || asprintf(&out, "X-Hmac-Authorization: %s",
		    enc) < 0)
			out = NULL;
		free(enc);
		return out;
	}
	if (asprintf(&s, "%s:%s", o->user, o->password != NULL ?
	    o->password : "") < 0)
		return NULL;
	enc = b64(s);
	explicit_bzero(s, strlen(s));
	free(s);
	if (enc == NULL || asprintf(&out, "Espo-Authorization: %s", enc) < 0)
		out = NULL;
	free(enc);
	return out;
}

/* GET base+path into b; the HTTP status in *status. */
static int
get(struct mig *m, const char *path, struct body *b, long *status)
{
	struct curl_slist	*h = NULL;
	char			*url = NULL, *ah;
	CURLcode		 cc;

	*status = 0;
	if ((ah = auth_header(m->o, path)) == NULL ||
	    asprintf(&url, "%s%s", m->base, path) < 0) {
		free(ah);
		snprintf(m->err, sizeof(m->err), "bad credentials option");
		return FCRM_BAD_REQUEST;
	}
	h = curl_slist_append(h, ah);
	h = curl_slist_append(h, "Accept: application/json");
	curl_easy_setopt(m->c, CURLOPT_URL, url);
	curl_easy_setopt(m->c, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(m->c, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(m->c, CURLOPT_WRITEDATA, b);
	cc = curl_easy_perform(m->c);
	curl_easy_getinfo(m->c, CURLINFO_RESPONSE_CODE, status);
	curl_slist_free_all(h);
	explicit_bzero(ah, strlen(ah));
	free(ah);
	free(url);
	if (cc != CURLE_OK || b->failed) {
		snprintf(m->err, sizeof(m->err), "GET %s: %s", path, b->failed ?
		    "the answer is too large or cannot be stored" :
		    curl_easy_strerror(cc));
		return FCRM_IO;
	}
	return 0;
}

/* The saved offset of entity (and whether it is done). */
static int
state_get(struct mig *m, const char *entity, size_t *offset, int *done)
{
	struct store_val	 v;
	char			 key[600], val[64];
	int			 rc;

	*offset = 0;
	*done = 0;
	snprintf(key, sizeof(key), "migrate:%s:%s", m->base, entity);
	rc = store_get(importer_txn(m->imp), m->meta, key, strlen(key), &v);
	if (rc == FCRM_NOT_FOUND)
		return 0;
	if (rc != 0)
		return rc;
	snprintf(val, sizeof(val), "%.*s", (int)(v.len < 63 ? v.len : 63),
	    v.p);
	*done = strncmp(val, "done", 4) == 0;
	*offset = strtoul(*done ? val + 5 : val, NULL, 10);
	return 0;
}

static int
state_put(struct mig *m, const char *entity, size_t offset, int done)
{
	char	 key[600], val[64];

	snprintf(key, sizeof(key), "migrate:%s:%s", m->base, entity);
	snprintf(val, sizeof(val), "%s%zu", done ? "done " : "", offset);
	return store_put(importer_txn(m->imp), m->meta, key, strlen(key), val,
	    strlen(val));
}

static int
state_clear(struct mig *m)
{
	char	 key[600];
	size_t	 i;
	int	 rc;

	for (i = 0; order[i] != NULL; i++) {
		snprintf(key, sizeof(key), "migrate:%s:%s", m->base, order[i]);
		rc = store_del(importer_txn(m->imp), m->meta, key, strlen(key),
		    NULL, 0);
		if (rc != 0 && rc != FCRM_NOT_FOUND)
			return rc;
	}
	return importer_clear(m->imp, &(const char *){ NULL });
}

/*
 * Only what this entity has; enum values it does not know dropped (an
 * EspoCRM "super-admin" user type); a User's password never.
 */
static struct json *
sanitize(struct arena *a, const struct entity *e, const struct json *rec)
{
	const struct field	*f;
	struct json		*out;
	const char		*s;
	size_t			 i, j;

	out = json_obj(a);
	for (i = 0; i < rec->n; i++) {
		if ((f = entity_field(e, rec->keys[i])) == NULL ||
		    f->type == FT_PASSWORD || f->type == FT_NAME ||
		    f->type == FT_BOOLSYS)
			continue;
		if (f->type == FT_ENUM && f->options != NULL) {
			s = json_gets(rec, f->name);
			for (j = 0; s != NULL && f->options[j] != NULL; j++)
				if (strcasecmp(f->options[j], s) == 0)
					break;
			if (s == NULL || f->options[j] == NULL)
				continue;
		}
		json_set(a, out, rec->keys[i], json_copy(a, rec->v[i]));
	}
	/* EspoCRM's users may lack a last name; fastcrm needs one. */
	if (strcmp(e->name, "User") == 0 &&
	    ((s = json_gets(out, "lastName")) == NULL || *s == '\0') &&
	    (s = json_gets(out, "userName")) != NULL)
		json_set(a, out, "lastName", json_str(a, s));
	return out;
}

/*
 * EspoCRM leaves link-multiple ids out of lists: then the record is read
 * by id.  fastcrm's lists carry them and cost no second request.
 */
static int
complete(struct mig *m, const struct entity *e, struct json **rec)
{
	struct body	 b;
	struct json	*full;
	const char	*id, *why;
	char		*path;
	long		 status;
	size_t		 i;
	int		 rc, need = 0;

	for (i = 0; i < e->nfields; i++)
		if (e->fields[i].type == FT_LINKMULTI &&
		    json_get(*rec, e->fields[i].name) == NULL)
			need = 1;
	if (!need || (id = json_gets(*rec, "id")) == NULL || !util_id_valid(id))
		return 0;
	memset(&b, 0, sizeof(b));
	b.fd = -1;
	if (asprintf(&path, "/%s/%s", e->name, id) < 0)
		return FCRM_IO;
	rc = get(m, path, &b, &status);
	free(path);
	if (rc == 0 && status == 200 && json_parse(m->pa,
	    b.p, b.len, &full, &why) == 0 && full->type == JSON_OBJECT)
		*rec = full;
	free(b.p);
	return rc;
}

/* Downloads an attachment's file to attachments/ID (before its record). */
static int
fetch_file(struct mig *m, const char *id, int *got)
{
	struct body	 b;
	char		*dir = NULL, *tmp = NULL, *dst = NULL, *path = NULL;
	long		 status = 0;
	int		 rc = FCRM_IO, dfd;

	*got = 0;
	memset(&b, 0, sizeof(b));
	if (asprintf(&dir, "%s/attachments", m->conf->data_dir) < 0 ||
	    asprintf(&tmp, "%s/.migrate-%s", dir, id) < 0 ||
	    asprintf(&dst, "%s/%s", dir, id) < 0 ||
	    asprintf(&path, "/Attachment/file/%s", id) < 0)
		goto out;
	if (mkdir(dir, 0750) == -1 && errno != EEXIST)
		goto out;
	if ((b.fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
	    0640)) < 0)
		goto out;
	b.max = m->conf->max_body;
	rc = get(m, path, &b, &status);
	if (rc == 0 && fsync(b.fd) != 0)
		rc = FCRM_IO;
	close(b.fd);
	if (rc != 0 || status != 200) {
		unlink(tmp);
		if (rc == 0 && status != 404) {
			snprintf(m->err, sizeof(m->err), "GET %s: HTTP %ld",
			    path, status);
			rc = FCRM_IO;
		}
		goto out;	/* 404: a record without a file */
	}
	if (rename(tmp, dst) != 0) {
		unlink(tmp);
		rc = FCRM_IO;
		goto out;
	}
	if ((dfd = open(dir, O_RDONLY | O_DIRECTORY)) >= 0) {
		fsync(dfd);
		close(dfd);
	}
	*got = 1;
	m->files++;
out:
	free(dir);
	free(tmp);
	free(dst);
	free(path);
	return rc;
}

/* A recording: the call it belongs to gets its recordingId again. */
static int
link_recording(struct mig *m, const struct json *att, const char **why)
{
	const struct entity	*ce = entity_find("Call");
	struct arena		*a = importer_arena(m->imp);
	struct json		*body;
	const char		*pt, *pid, *field, *id;

	pt = json_gets(att, "parentType");
	pid = json_gets(att, "parentId");
	field = json_gets(att, "field");
	id = json_gets(att, "id");
	if (pt == NULL || pid == NULL || field == NULL || id == NULL ||
	    strcmp(pt, "Call") != 0 || strcmp(field, "recording") != 0 ||
	    ce == NULL)
		return 0;
	body = json_obj(a);
	json_set(a, body, "recordingId", json_str(a, id));
	return importer_set(m->imp, ce, pid, body, why);
}

/* One page of entity e at offset; *n records in it, *total of the list. */
static int
page(struct mig *m, const struct entity *e, size_t offset, size_t size,
    size_t *n, size_t *total, const char **why)
{
	struct arena	*a = m->pa;
	struct body	 b;
	struct json	*resp, *list, *rec, *body;
	const char	*jwhy, *id, *rs;
	char		*path;
	long		 status;
	size_t		 i;
	int		 rc, got;

	*n = 0;
	arena_reset(a);
	memset(&b, 0, sizeof(b));
	b.fd = -1;
	if (asprintf(&path, "/%s?maxSize=%zu&offset=%zu&orderBy=createdAt&"
	    "order=asc", e->name, size, offset) < 0)
		return FCRM_IO;
	rc = get(m, path, &b, &status);
	free(path);
	if (rc != 0) {
		free(b.p);
		*why = m->err;
		return rc;
	}
	if (status != 200) {
		snprintf(m->err, sizeof(m->err), "GET /%s: HTTP %ld%s", e->name,
		    status, status == 401 ? " (wrong credentials)" :
		    status == 403 ? " (no read access)" : "");
		free(b.p);
		*why = m->err;
		return status == 403 || status == 404 ? FCRM_NOT_FOUND :
		    FCRM_BAD_REQUEST;
	}
	if (json_parse(a, b.p != NULL ? b.p : "", b.len, &resp, &jwhy) != 0 ||
	    resp->type != JSON_OBJECT ||
	    (list = json_get(resp, "list")) == NULL ||
	    list->type != JSON_ARRAY) {
		snprintf(m->err, sizeof(m->err), "GET /%s: not an EspoCRM list "
		    "(%s)", e->name, b.p == NULL ? "empty" : "no list");
		free(b.p);
		*why = m->err;
		return FCRM_BAD_JSON;
	}
	free(b.p);
	*total = json_get(resp, "total") != NULL &&
	    json_get(resp, "total")->type == JSON_NUMBER ?
	    strtoul(json_get(resp, "total")->s, NULL, 10) : 0;
	*n = list->n;
	for (i = 0; i < list->n; i++) {
		rec = list->v[i];
		if (rec->type != JSON_OBJECT ||
		    (id = json_gets(rec, "id")) == NULL) {
			rc = importer_reject(m->imp, e, m->base, offset + i + 1,
			    "a list entry without an id", "", why);
			if (rc != 0)
				return rc;
			continue;
		}
		if (!util_id_valid(id)) {
			/* EspoCRM's first admin is "1": not an id here. */
			if (m->skipped++ < 10)
				fprintf(stderr, "migrate: %s '%.40s' left out: "
				    "not a 17-character id\n", e->name, id);
			continue;
		}
		if ((rc = complete(m, e, &rec)) != 0) {
			*why = m->err;
			return rc;
		}
		body = sanitize(importer_arena(m->imp), e, rec);
		/* Set again once the attachments are in (link_recording). */
		if (strcmp(e->name, "Call") == 0)
			json_del(body, "recordingId");
		if (strcmp(e->name, "Attachment") == 0 &&
		    (rc = fetch_file(m, id, &got)) != 0) {
			*why = m->err;
			return rc;
		}
		rs = arena_printf(a, "%s/%s", m->base, e->name);
		if ((rc = importer_row(m->imp, e, body, rs, offset + i + 1,
		    why)) != 0)
			return rc;
		if (strcmp(e->name, "Attachment") == 0 &&
		    (rc = link_recording(m, rec, why)) != 0)
			return rc;
		m->read++;
	}
	return 0;
}

/* Every page of e from the saved offset; *stopped when --limit hit. */
static int
migrate_entity(struct mig *m, const struct entity *e, int *stopped,
    const char **why)
{
	size_t	 offset, n, total = 0, size;
	int	 done, rc;

	*stopped = 0;
	if ((rc = state_get(m, e->name, &offset, &done)) != 0)
		return rc;
	if (done) {
		fprintf(stderr, "migrate: %s: done in an earlier run (%zu "
		    "records)\n", e->name, offset);
		return 0;
	}
	if (offset > 0)
		fprintf(stderr, "migrate: %s: resuming at record %zu\n",
		    e->name, offset);
	size = m->o->page > 0 ? m->o->page : DEFAULT_PAGE;
	for (;;) {
		if (m->o->limit > 0 && m->limit_left == 0) {
			*stopped = 1;
			return 0;
		}
		if (m->o->limit > 0 && size > m->limit_left)
			size = m->limit_left;
		rc = page(m, e, offset, size, &n, &total, why);
		if (rc == FCRM_NOT_FOUND && offset == 0) {
			fprintf(stderr, "migrate: %s: skipped: %s\n", e->name,
			    *why);
			*why = NULL;
			return state_put(m, e->name, 0, 1);
		}
		if (rc != 0)
			return rc;
		offset += n;
		if (m->o->limit > 0)
			m->limit_left -= n < m->limit_left ? n : m->limit_left;
		done = n == 0 || n < size || offset >= total;
		if ((rc = state_put(m, e->name, offset, done)) != 0 ||
		    (rc = importer_commit(m->imp, why)) != 0)
			return rc;
		if (m->tty)
			fprintf(stderr, "\rmigrate: %s: %zu/%zu   ", e->name,
			    offset, total);
		if (done)
			break;
	}
	fprintf(stderr, "%smigrate: %s: %zu records read\n", m->tty ? "\n" :
	    "", e->name, offset);
	return 0;
}

/* https://host[/api/v1][/] → https://host/api/v1 */
static char *
base_url(const char *url)
{
	size_t	 n = strlen(url);
	char	*out;

	while (n > 0 && url[n - 1] == '/')
		n--;
	if (n >= 7 && strncmp(url + n - 7, "/api/v1", 7) == 0)
		n -= 7;
	if (asprintf(&out, "%.*s/api/v1", (int)n, url) < 0)
		return NULL;
	return out;
}

int
entity_migrate(const struct conf *conf, const struct migrate_opts *o,
    const char **why)
{
	struct import_opts	 io;
	struct mig		 m;
	const struct entity	*e;
	size_t			 i;
	int			 rc = 0, stopped = 0;

	*why = NULL;
	if (strncmp(o->url, "https://", 8) != 0 &&
	    strncmp(o->url, "http://", 7) != 0) {
		*why = "--from takes an http:// or https:// URL";
		return FCRM_BAD_REQUEST;
	}
	if (o->hmac != NULL && strchr(o->hmac, ':') == NULL) {
		*why = "--hmac takes KEY:SECRET";
		return FCRM_BAD_REQUEST;
	}
	memset(&m, 0, sizeof(m));
	memset(&io, 0, sizeof(io));
	m.conf = conf;
	m.o = o;
	m.limit_left = o->limit;
	m.tty = isatty(STDERR_FILENO);
	m.pa = arena_new();
	/* Ids are the source's truth: upsert on them, no look-alike check. */
	io.mode = "upsert";
	io.match = "id";
	io.no_dup_check = 1;
	io.drop_missing_users = 1;
	io.rejects = o->rejects;
	if ((m.base = base_url(o->url)) == NULL)
		return FCRM_IO;
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != 0 ||
	    (m.c = curl_easy_init()) == NULL) {
		*why = "cannot start libcurl";
		free(m.base);
		return FCRM_IO;
	}
	curl_easy_setopt(m.c, CURLOPT_CONNECTTIMEOUT, 15L);
	curl_easy_setopt(m.c, CURLOPT_LOW_SPEED_LIMIT, 1L);
	curl_easy_setopt(m.c, CURLOPT_LOW_SPEED_TIME, 60L);
	curl_easy_setopt(m.c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(m.c, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(m.c, CURLOPT_USERAGENT, "fastcrm-migrate");
	if (o->cacert != NULL)
		curl_easy_setopt(m.c, CURLOPT_CAINFO, o->cacert);
	if (o->insecure) {
		curl_easy_setopt(m.c, CURLOPT_SSL_VERIFYPEER, 0L);
		curl_easy_setopt(m.c, CURLOPT_SSL_VERIFYHOST, 0L);
	}
	if ((m.imp = importer_open(conf, &io, "migrate", why)) == NULL) {
		rc = FCRM_CONFIG;
		goto out;
	}
	m.meta = engine_db_meta;
	if (o->restart && ((rc = state_clear(&m)) != 0 ||
	    (rc = importer_commit(m.imp, why)) != 0))
		goto out;
	for (i = 0; order[i] != NULL && !stopped; i++) {
		if ((e = entity_find(order[i])) == NULL)
			continue;
		if ((rc = migrate_entity(&m, e, &stopped, why)) != 0)
			break;
	}
	if (rc == 0 && stopped) {
		rc = importer_commit(m.imp, why);
		fprintf(stderr, "migrate: stopped after %zu records (--limit); "
		    "run it again to go on\n", m.read);
	} else if (rc == 0)
		rc = importer_finish(m.imp, why);
	if (rc == 0)
		fprintf(stderr, "migrate: %zu records and %zu files read from "
		    "%s; %zu left out\n", m.read, m.files, m.base, m.skipped);
	if (rc == 0 && importer_rejected(m.imp) > 0)
		rc = 3;		/* the rest is in */
	else if (m.imp != NULL)
		importer_stopped(m.imp);
out:
	*why = util_kept(*why);
	importer_abort(m.imp);
	curl_easy_cleanup(m.c);
	curl_global_cleanup();
	arena_free(m.pa);
	free(m.base);
	return rc;
}
