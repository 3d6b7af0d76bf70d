/*
 * libFuzzer target for request bodies: http_body_object() (app/http/
 * request.c) on the input under each content type in the table, form
 * (application/x-www-form-urlencoded) and JSON first.  A body it accepts
 * must be a JSON object that writes and parses back equal; a refusal must
 * be a 4xx with a one-line reason and no object.
 * Seeds: tests/corpus/form/.
 *
 *	tests/fuzz.sh form
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fastcrm/arena.h"
#include "fastcrm/error.h"
#include "fastcrm/http.h"
#include "fastcrm/json.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static const char *const ctypes[] = {
	"application/x-www-form-urlencoded",
	"application/json",
	"Application/X-WWW-Form-Urlencoded ; charset=UTF-8",
	"application/json; charset=utf-8",
	"text/plain",
	"",
	"multipart/form-data; boundary=x",
};

static void
one(struct arena *a, const char *ctype, const char *body, size_t len)
{
	struct req	 r;
	struct json	*o = NULL, *again = NULL;
	struct buf	 b;
	const char	*why, *p;
	int		 rc;

	memset(&r, 0, sizeof(r));
	r.arena = a;
	r.method = "POST";
	r.path = "/api/v1/Contact";
	r.query = "";
	r.remote = "192.0.2.1";
	r.ctype = ctype;
	r.body = body;
	r.bodylen = len;
	buf_init(&r.hdrs, a);
	buf_init(&r.out, a);

	rc = http_body_object(&r, &o);
	if (rc != 0) {
		if (o != NULL || r.reason == NULL || r.status < 400 ||
		    r.status > 499)
			abort();
		for (p = r.reason; *p != '\0'; p++)
			if ((unsigned char)*p < 0x20 || *p == 0x7f)
				abort();
		return;
	}
	if (o == NULL || o->type != JSON_OBJECT)
		abort();
	buf_init(&b, a);
	json_write(&b, o);
	if (json_parse(a, b.p, b.len, &again, &why) != FCRM_OK ||
	    !json_equal(o, again))
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct arena	*a;
	char			*body;
	size_t			 i;

	if (a == NULL && (a = arena_new()) == NULL)
		abort();
	/* The worker hands handlers a NUL-terminated copy of the body. */
	body = arena_alloc(a, size + 1);
	memcpy(body, data, size);
	body[size] = '\0';
	for (i = 0; i < sizeof(ctypes) / sizeof(ctypes[0]); i++)
		one(a, ctypes[i], body, size);
	arena_reset(a);
	return 0;
}
