/*
 * Files: call recordings and EspoCRM attachments (their routes' handlers).
 * Bytes are streamed to a temp file under data_dir/attachments/, fsynced
 * and renamed; only then is the Attachment record committed
 * (entity_attach).  Downloads go back through nginx
 * (X-Accel-Redirect to an internal location) after the rights check.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fastcrm/auth.h"
#include "fastcrm/conf.h"
#include "fastcrm/entity.h"
#include "fastcrm/error.h"
#include "fastcrm/log.h"
#include "fastcrm/multipart.h"
#include "fastcrm/route.h"
#include "fastcrm/util.h"

#define CHUNK	65536

struct upload {
	struct req	*r;
	int		 fd;
	char		*tmp;		/* temp path, unlinked on failure */
	size_t		 size;
	int		 full;		/* the disk is full */
};

static void
upload_cleanup(void *arg)
{
	struct upload	*u = arg;

	if (u->fd >= 0)
		close(u->fd);
	if (u->tmp != NULL)
		unlink(u->tmp);
}

/*
 * Removes the file at once rather than when the arena is reset, which is
 * after the answer: a client that retries must find the space free.
 */
static void
upload_discard(struct upload *u)
{
	upload_cleanup(u);
	u->fd = -1;
	u->tmp = NULL;
}

static int
sink(void *arg, const char *p, size_t n)
{
	struct upload	*u = arg;
	ssize_t		 w;

	if (u->size + n > u->r->conf->max_body)
		return FCRM_TOO_LARGE;
	while (n > 0) {
		if ((w = write(u->fd, p, n)) < 0) {
			if (errno == EINTR)
				continue;
			u->full = errno == ENOSPC || errno == EDQUOT;
			return FCRM_IO;
		}
		p += w;
		n -= (size_t)w;
		u->size += (size_t)w;
	}
	return 0;
}

static char *
dir_path(struct req *r)
{
	return arena_printf(r->arena, "%s/attachments", r->conf->data_dir);
}

/* An upload, in the arena: its cleanup runs when the request ends. */
static struct upload *
upload_new(struct req *r)
{
	struct upload	*u;

	u = arena_calloc(r->arena, 1, sizeof(*u));
	u->r = r;
	u->fd = -1;
	return u;
}

/* Opens a temp file in the attachments directory. */
static int
upload_open(struct req *r, struct upload *u)
{
	unsigned char	 rnd[8];
	char		*dir;
	size_t		 i;

	dir = dir_path(r);
	if (mkdir(dir, 0750) == -1 && errno != EEXIST)
		return http_fail(r, FCRM_IO, "Cannot create the attachments "
		    "directory.");
	util_random(rnd, sizeof(rnd));
	u->tmp = arena_printf(r->arena, "%s/.tmp-", dir);
	for (i = 0; i < sizeof(rnd); i++)
		u->tmp = arena_printf(r->arena, "%s%02x", u->tmp, rnd[i]);
	if ((u->fd = open(u->tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC,
	    0640)) < 0) {
		u->tmp = NULL;
		return http_fail(r, FCRM_IO, "Cannot create a file for the "
		    "upload.");
	}
	arena_cleanup(r->arena, upload_cleanup, u);
	return 0;
}

static int
upload_fail(struct req *r, struct upload *u, int rc)
{
	if (rc == FCRM_TOO_LARGE)
		return http_fail(r, rc, "File is larger than max_body (%zu "
		    "bytes).", r->conf->max_body);
	if (u->full)
		return http_fail(r, FCRM_MAP_FULL, "No space left for "
		    "attachments.");
	return http_fail(r, FCRM_IO, "Cannot write the file.");
}

/* fsync, then rename to the attachment's id, then fsync the directory. */
static int
upload_finish(struct req *r, struct upload *u, const char *id)
{
	char	*dst, *dir;
	int	 dfd;

	if (fsync(u->fd) != 0) {
		u->full = errno == ENOSPC;
		return upload_fail(r, u, FCRM_IO);
	}
	close(u->fd);
	u->fd = -1;
	dir = dir_path(r);
	dst = arena_printf(r->arena, "%s/%s", dir, id);
	if (rename(u->tmp, dst) != 0)
		return http_fail(r, FCRM_IO, "Cannot store the file.");
	u->tmp = dst;		/* unlinked if the record does not commit */
	if ((dfd = open(dir, O_RDONLY | O_DIRECTORY)) >= 0) {
		fsync(dfd);
		close(dfd);
	}
	return 0;
}

/* A file name safe for a header and a record. */
static const char *
clean_name(struct req *r, const char *name, const char *def)
{
	char	*n, *p;
	const char *base;

	if (name == NULL || *name == '\0')
		return def;
	base = strrchr(name, '/');
	base = base != NULL ? base + 1 : name;
	if (strrchr(base, '\\') != NULL)
		base = strrchr(base, '\\') + 1;
	n = arena_strndup(r->arena, base, strlen(base) > 200 ? 200 :
	    strlen(base));
	for (p = n; *p != '\0'; p++)
		if ((unsigned char)*p < 0x20 || *p == '"' || *p == ';')
			*p = '_';
	if (*n == '\0' || strcmp(n, ".") == 0 || strcmp(n, "..") == 0)
		return def;
	return n;
}

/* A media type safe to store and send back. */
static const char *
clean_type(struct req *r, const char *t)
{
	size_t	 n;

	if (t == NULL)
		return "application/octet-stream";
	n = strcspn(t, ";");
	while (n > 0 && t[n - 1] == ' ')
		n--;
	if (n == 0 || n > 100 || strspn(t, "abcdefghijklmnopqrstuvwxyz"
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789/+.-_") < n ||
	    memchr(t, '/', n) == NULL)
		return "application/octet-stream";
	return arena_strndup(r->arena, t, n);
}

/* The file's record (entity_attach); the file then belongs to it. */
static int
record_attachment(struct req *r, struct upload *u, const char *id,
    const char *name, const char *type, const char *ptype, const char *pid,
    const char *field, struct json **out)
{
	struct attach_in	 in;
	struct ectx		 c;
	int			 rc;

	memset(&in, 0, sizeof(in));
	in.id = id;
	in.name = name;
	in.type = type;
	in.size = u->size;
	in.parent_type = ptype;
	in.parent_id = pid;
	in.field = field;
	http_ectx(r, &c);
	if ((rc = entity_attach(&c, &in, out)) != 0)
		return http_fault(r, &c, rc);
	u->tmp = NULL;
	return 0;
}

/* Streams the body into u's file, then stores it as the Call's recording. */
static int
recording_save(struct req *r, struct upload *u, struct multipart *mp,
    size_t len)
{
	struct json	*out;
	const char	*why, *name, *type, *q;
	char		 id[UTIL_ID_LEN + 1], *buf;
	size_t		 have = 0;
	int		 rc, got;

	buf = arena_alloc(r->arena, CHUNK);
	while (have < len) {
		got = r->in_read(r->in, buf, len - have < CHUNK ?
		    (int)(len - have) : CHUNK);
		if (got <= 0)
			break;
		have += (size_t)got;
		if (mp != NULL) {
			if ((rc = http_multipart_feed(mp, buf, (size_t)got,
			    &why)) != 0)
				return u->full || u->size > r->conf->max_body ?
				    upload_fail(r, u, u->full ? FCRM_IO :
				    FCRM_TOO_LARGE) : http_fail(r, rc, "%s", why);
		} else if ((rc = sink(u, buf, (size_t)got)) != 0)
			return upload_fail(r, u, rc);
	}
	if (have < len)
		return http_fail(r, FCRM_BAD_REQUEST, "Recording is shorter "
		    "than Content-Length.");
	if (mp != NULL && (rc = http_multipart_end(mp, &why)) != 0)
		return http_fail(r, rc, "%s", why);
	if (u->size == 0)
		return http_fail(r, FCRM_BAD_REQUEST, "Empty recording.");
	if (mp != NULL) {
		name = http_multipart_filename(mp);
		type = http_multipart_type(mp);
	} else {
		name = json_gets(r->params, "name");
		type = r->ctype;
	}
	if ((q = json_gets(r->params, "name")) != NULL && *q != '\0')
		name = q;
	util_id_new(id);
	if ((rc = upload_finish(r, u, id)) != 0)
		return rc;
	if ((rc = record_attachment(r, u, id, clean_name(r, name,
	    "recording"), clean_type(r, type), "Call", r->id, "recording",
	    &out)) != 0)
		return rc;
	r->out.len = 0;
	json_write(&r->out, out);
	return 0;
}

int
attachment_h_recording(struct req *r)
{
	struct ectx		  c;
	struct store_txn	**t;
	struct json		 *call;
	struct multipart	 *mp = NULL;
	struct upload		 *u;
	const char		 *why;
	char			 *mt;
	long long		  len;
	int			  rc;

	http_ectx(r, &c);
	if ((rc = entity_begin(&c, 0, &t)) != 0)
		return http_fault(r, &c, rc);
	/* Checked before the upload is read (and again when it is stored). */
	rc = entity_load(&c, *t, r->ent, r->id, ACT_EDIT, &call, NULL);
	entity_end(t);
	if (rc == FCRM_NOT_FOUND && c.fault.code != rc)
		return http_fail(r, rc, "Record Call '%.64s' not found.", r->id);
	if (rc != 0)
		return http_fault(r, &c, rc);
	if ((len = http_content_length(r)) < 0)
		return FCRM_TOO_LARGE;
	u = upload_new(r);
	mt = util_lower(r->arena, r->ctype);
	if (strncmp(mt, "multipart/form-data", 19) == 0) {
		if ((mp = http_multipart_new(r->arena, r->ctype, sink, u,
		    &why)) == NULL)
			return http_fail(r, FCRM_BAD_REQUEST, "%s", why);
	} else if (strncmp(mt, "audio/", 6) != 0 &&
	    strncmp(mt, "application/octet-stream", 24) != 0)
		return http_fail(r, FCRM_MEDIA_TYPE, "A recording is sent as "
		    "multipart/form-data, audio/* or application/octet-stream, "
		    "not '%.64s'.", r->ctype);
	if (len == 0)
		return http_fail(r, FCRM_BAD_REQUEST, "Empty recording.");
	if ((rc = upload_open(r, u)) != 0)
		return rc;
	if ((rc = recording_save(r, u, mp, (size_t)len)) != 0)
		upload_discard(u);
	return rc;
}

/* EspoCRM's POST /Attachment: JSON with file as a data: URL in base64. */
int
attachment_h_create(struct req *r)
{
	struct json		*body, *out;
	struct upload		*u;
	const char		*file, *comma, *type, *ptype, *pid, *field;
	char			*bytes, id[UTIL_ID_LEN + 1];
	size_t			 n;
	int			 rc;

	if ((rc = http_body_object(r, &body)) != 0)
		return rc;
	file = json_gets(body, "file");
	if (file == NULL || strncmp(file, "data:", 5) != 0 ||
	    (comma = strchr(file, ',')) == NULL ||
	    strstr(file, ";base64,") == NULL || strstr(file, ";base64,") >
	    comma)
		return http_fail(r, FCRM_BAD_REQUEST, "Attachment 'file' must be "
		    "a data: URL in base64.");
	type = json_gets(body, "type");
	if (type == NULL || *type == '\0')
		type = arena_strndup(r->arena, file + 5,
		    (size_t)(strstr(file, ";base64,") - file - 5));
	if ((bytes = auth_base64_decode(r->arena, comma + 1, &n)) == NULL)
		return http_fail(r, FCRM_BAD_REQUEST, "Attachment 'file' is not "
		    "valid base64.");
	ptype = json_gets(body, "parentType");
	if (ptype == NULL || *ptype == '\0')
		ptype = json_gets(body, "relatedType");
	pid = json_gets(body, "parentId");
	if (pid == NULL || *pid == '\0')
		pid = json_gets(body, "relatedId");
	field = json_gets(body, "field");
	if (field == NULL || *field == '\0')
		field = "file";
	/* The parent is checked where the attachment is stored
	   (record_attachment), in the transaction that stores it. */
	if (ptype != NULL && pid != NULL) {
		if (entity_find(ptype) == NULL)
			return http_fail(r, FCRM_BAD_REQUEST, "Unknown "
			    "parentType '%.64s'.", ptype);
	} else
		ptype = pid = NULL;
	u = upload_new(r);
	if ((rc = upload_open(r, u)) != 0)
		return rc;
	util_id_new(id);
	if ((rc = sink(u, bytes, n)) != 0)
		rc = upload_fail(r, u, rc);
	else if ((rc = upload_finish(r, u, id)) == 0)
		rc = record_attachment(r, u, id, clean_name(r,
		    json_gets(body, "name"), "file"), clean_type(r, type),
		    ptype, pid, field, &out);
	if (rc != 0) {
		upload_discard(u);
		return rc;
	}
	r->out.len = 0;
	json_write(&r->out, out);
	return 0;
}

int
attachment_h_file(struct req *r)
{
	struct ectx		  c;
	struct store_txn	**t;
	struct json		 *rec;
	const char		 *type, *name;
	int			  rc;

	http_ectx(r, &c);
	if ((rc = entity_begin(&c, 0, &t)) != 0)
		return http_fault(r, &c, rc);
	rc = entity_load(&c, *t, r->ent, r->id, ACT_READ, &rec, NULL);
	if (rc == FCRM_NOT_FOUND && c.fault.code != rc)
		return http_fail(r, rc, "Attachment '%.64s' not found.", r->id);
	if (rc != 0)
		return http_fault(r, &c, rc);
	type = json_gets(rec, "type");
	name = json_gets(rec, "name");
	/* r->id passed util_id_valid in entity_load: no path tricks. */
	http_add_header(r, "X-Accel-Redirect", arena_printf(r->arena,
	    "/_attachments/%s", r->id));
	http_add_header(r, "Content-Disposition", arena_printf(r->arena,
	    "attachment; filename=\"%s\"", clean_name(r, name, "file")));
	r->out_type = clean_type(r, type);
	return 0;
}
