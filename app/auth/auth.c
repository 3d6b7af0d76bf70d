/*
 * Authentication (the five schemes of AUTH.md, tried in order, on the
 * credentials of a struct auth_in) and the failed-login limiter shared by
 * all workers through LMDB (auth's "authfail" table, tables.c).  Failures
 * are faults in the caller's struct ectx; app/http/authn.c renders them.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>

#include "fastcrm/auth.h"
#include "fastcrm/conf.h"
#include "fastcrm/entity.h"
#include "fastcrm/error.h"
#include "fastcrm/log.h"
#include "fastcrm/store.h"
#include "fastcrm/util.h"
#include "tables.h"

enum scheme {
	S_NONE,
	S_ESPO,
	S_APIKEY,
	S_HMAC,
	S_BASIC,
	S_BEARER,
};

struct failrec {
	long long	 start;
	int		 count;
};

static const char b64[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

char *
auth_base64_decode(struct arena *a, const char *s, size_t *outlen)
{
	char		*out;
	const char	*p;
	size_t		 n, i, o = 0;
	unsigned int	 acc = 0;
	int		 bits = 0, pad = 0;

	n = strlen(s);
	out = arena_alloc(a, n / 4 * 3 + 4);
	for (i = 0; i < n; i++) {
		if (s[i] == '=') {
			pad++;
			continue;
		}
		if (pad > 0 || (p = strchr(b64, s[i])) == NULL || s[i] == '\0')
			return NULL;
		acc = (acc << 6) | (unsigned int)(p - b64);
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[o++] = (char)((acc >> bits) & 0xff);
		}
	}
	if (pad > 2)
		return NULL;
	out[o] = '\0';
	*outlen = o;
	return out;
}

static const struct conf_user *
user_by_key(const struct conf *c, const char *key)
{
	/* The last key this process found, with its user: a client sends
	   the same key on every request, and its hash costs more than the
	   rest of the check.  Only a found key is kept, so a wrong one is
	   always hashed; the compare takes the same time for any key of
	   that length. */
	static struct {
		const struct conf	*conf;
		const struct conf_user	*user;
		size_t			 len;
		char			 key[128];
	}		 last;
	unsigned char	 md[SHA256_DIGEST_LENGTH];
	const struct conf_user *found = NULL;
	size_t		 i, len = strlen(key);

	if (last.conf == c && last.len == len &&
	    util_ct_equal(key, last.key, len))
		return last.user;
	util_sha256(key, len, md);
	/* No early exit: the time does not tell which key was close. */
	for (i = 0; i < c->nusers; i++)
		if (c->users[i].has_key &&
		    util_ct_equal(md, c->users[i].key_sha256, sizeof(md)))
			found = &c->users[i];
	if (found != NULL && len > 0 && len < sizeof(last.key)) {
		last.conf = c;
		last.user = found;
		last.len = len;
		memcpy(last.key, key, len);
	}
	return found;
}

static const struct conf_user *
user_by_name(const struct conf *c, const char *name)
{
	size_t	 i;

	for (i = 0; i < c->nusers; i++)
		if (strcmp(c->users[i].name, name) == 0)
			return &c->users[i];
	return NULL;
}

/*
 * crypt(3) on pass with a configured principal's hash when there is one
 * (the algorithm and cost those checks have), else with a yescrypt one.
 */
static void
dummy_check(struct ectx *c, const char *pass)
{
	size_t	 i;

	for (i = 0; i < c->conf->nusers; i++)
		if (c->conf->users[i].password_hash != NULL) {
			(void)util_password_check(c->arena, pass,
			    c->conf->users[i].password_hash);
			return;
		}
	auth_password_dummy(c->arena, pass);
}

/*
 * Password check with crypt(3).  Hashing is slow on purpose, so a worker
 * remembers the SHA-256 of the last good user:password pairs for a minute.
 */
#define PWCACHE	8
static struct {
	unsigned char	 md[SHA256_DIGEST_LENGTH];
	long long	 until;
} pwcache[PWCACHE];

static int
password_ok(struct ectx *c, const struct conf_user *u, const char *pass)
{
	unsigned char		 md[SHA256_DIGEST_LENGTH];
	char			*both;
	long long		 now = (long long)time(NULL);
	size_t			 i, slot = 0;

	if (u == NULL || u->password_hash == NULL) {
		/* An unknown name costs what a wrong password does. */
		dummy_check(c, pass);
		return 0;
	}
	both = arena_printf(c->arena, "%s\n%s\n%s", u->name, u->password_hash,
	    pass);
	util_sha256(both, strlen(both), md);
	for (i = 0; i < PWCACHE; i++) {
		if (pwcache[i].until > now &&
		    util_ct_equal(pwcache[i].md, md, sizeof(md)))
			return 1;
		if (pwcache[i].until < pwcache[slot].until)
			slot = i;
	}
	if (!util_password_check(c->arena, pass, u->password_hash))
		return 0;
	memcpy(pwcache[slot].md, md, sizeof(md));
	pwcache[slot].until = now + 60;
	return 1;
}

/* user:password from base64; -1 when there is no colon. */
static int
split_pair(struct arena *a, const char *b64s, const char **user,
    const char **pass)
{
	char	*dec, *colon;
	size_t	 n;

	while (*b64s == ' ')
		b64s++;
	if ((dec = auth_base64_decode(a, b64s, &n)) == NULL ||
	    strlen(dec) != n || (colon = strchr(dec, ':')) == NULL)
		return -1;
	*colon = '\0';
	*user = dec;
	*pass = colon + 1;
	return 0;
}

static int
hmac_ok(struct ectx *c, const struct auth_in *in, const char *value,
    const struct conf_user **who)
{
	const struct conf_user	*u;
	const char		*key, *sig, *path;
	unsigned char		 mac[EVP_MAX_MD_SIZE];
	unsigned int		 maclen = 0;
	char			 hex[EVP_MAX_MD_SIZE * 2 + 1], *msg, *dec, *colon;
	size_t			 declen, siglen;

	/*
	 * Not split_pair(): the 0.1.x client's signature is the raw binary
	 * digest, which may hold NUL bytes.
	 */
	while (*value == ' ')
		value++;
	if ((dec = auth_base64_decode(c->arena, value, &declen)) == NULL ||
	    (colon = memchr(dec, ':', declen)) == NULL)
		return 0;
	*colon = '\0';
	key = dec;
	sig = colon + 1;
	siglen = declen - (size_t)(sig - dec);
	if (strlen(key) != (size_t)(colon - dec))
		return 0;
	if ((u = user_by_key(c->conf, key)) == NULL || u->hmac_secret == NULL)
		return 0;
	path = in->path;
	if (strncmp(path, "/api/v1", 7) == 0)
		path += 7;
	msg = arena_printf(c->arena, "%s %s", in->method, path);
	HMAC(EVP_sha256(), u->hmac_secret, (int)strlen(u->hmac_secret),
	    (unsigned char *)msg, strlen(msg), mac, &maclen);
	util_hex(mac, maclen, hex);
	/* Hex (the current client, EspoCRM 8.4.1+), or the raw digest of
	   the 0.1.x client, which EspoCRM still accepts. */
	if (!(siglen == maclen * 2 && util_ct_equal(hex, sig, siglen)) &&
	    !(siglen == maclen && util_ct_equal(mac, sig, siglen)))
		return 0;
	*who = u;
	return 1;
}

/*
 * The limiter's table (address -> struct failrec) is purged of expired
 * windows as the sessions are (auth_purge_expired): each failure looks at
 * the next FAIL_PURGE_STEP entries, going round the table from where the
 * previous one stopped, and deletes those whose window has passed.  Where
 * it stopped is kept in the table itself, under a key that no address can
 * be (FAIL_CURSOR, which starts with a NUL byte), so that all the
 * limiter's state is in one table.
 */
#define FAIL_PURGE_STEP	8
#define FAIL_KEY	128	/* longer keys are not purged (none are) */
#define FAIL_CURSOR	"\0cursor"

struct fail_purge {
	long long	 now, window;
	const char	*stop;		/* the wrapped lap ends here */
	size_t		 stoplen, seen, n, lastlen;
	char		 last[FAIL_KEY];
	char		 keys[FAIL_PURGE_STEP][FAIL_KEY];
	size_t		 klen[FAIL_PURGE_STEP];
};

/* LMDB's key order: bytes, then length. */
static int
keycmp(const char *a, size_t alen, const char *b, size_t blen)
{
	int	 c;

	if ((c = memcmp(a, b, alen < blen ? alen : blen)) != 0)
		return c;
	return alen < blen ? -1 : alen > blen;
}

static int
fail_purge_step(void *arg, struct store_val k, struct store_val v)
{
	struct fail_purge	*p = arg;
	struct failrec		 fr;

	if (p->seen == FAIL_PURGE_STEP)
		return -1;
	if (p->stop != NULL && keycmp(k.p, k.len, p->stop, p->stoplen) >= 0)
		return -1;
	if (k.len == 0 || k.len >= FAIL_KEY || k.p[0] == '\0')
		return 0;
	p->seen++;
	memcpy(p->last, k.p, k.len);
	p->lastlen = k.len;
	if (v.len != sizeof(fr))
		return 0;
	memcpy(&fr, v.p, sizeof(fr));
	if (p->now - fr.start >= p->window) {
		memcpy(p->keys[p->n], k.p, k.len);
		p->klen[p->n++] = k.len;
	}
	return 0;
}

static int
fail_purge(const struct ectx *c, struct store_txn *t, int db)
{
	static const char	 mkey[] = FAIL_CURSOR;
	struct fail_purge	 p;
	struct store_val	 v;
	char			 from[FAIL_KEY + 1];
	size_t			 flen = 0, i;
	int			 rc;

	memset(&p, 0, sizeof(p));
	p.now = (long long)time(NULL);
	p.window = c->conf->auth_fail_window;
	/* Resume after the last key looked at: that key plus a NUL byte. */
	if (store_get(t, db, mkey, sizeof(mkey) - 1, &v) == 0 &&
	    v.len > 0 && v.len < FAIL_KEY) {
		memcpy(from, v.p, v.len);
		from[v.len] = '\0';
		flen = v.len + 1;
	}
	if ((rc = store_iter_from(t, db, from, flen, fail_purge_step, &p)) != 0)
		return rc;
	if (p.seen < FAIL_PURGE_STEP && flen > 0) {
		/* The end of the table: on from the start, up to from. */
		p.stop = from;
		p.stoplen = flen;
		if ((rc = store_iter_from(t, db, NULL, 0, fail_purge_step,
		    &p)) != 0)
			return rc;
	}
	for (i = 0; i < p.n; i++)
		if ((rc = store_del(t, db, p.keys[i], p.klen[i], NULL, 0)) != 0)
			return rc;
	if (p.seen == 0)
		return FCRM_OK;
	return store_put(t, db, mkey, sizeof(mkey) - 1, p.last, p.lastlen);
}

/*
 * Addresses this process found under the limit, each with the snapshot
 * it read that in: a count only grows with a failure, and a failure is a
 * commit into the table, so until one after that snapshot
 * (store_changed_since) the address stays under and its next request
 * reads nothing.  Direct-mapped by a hash of the address; an address over
 * the limit is never kept, and neither is one under other limits.
 */
#define CLEAR_SLOTS	256
#define CLEAR_ADDR	64

static struct clear {
	struct store_snap	 snap;
	long long		 limit, window;
	char			 addr[CLEAR_ADDR];	/* "" unused */
} clear[CLEAR_SLOTS];

static struct clear *
clear_slot(const char *remote)
{
	const unsigned char	*p;
	unsigned int		 h = 2166136261u;	/* FNV-1a */

	for (p = (const unsigned char *)remote; *p != '\0'; p++)
		h = (h ^ *p) * 16777619u;
	return &clear[h % CLEAR_SLOTS];
}

static int
clear_known(const struct ectx *c, const struct clear *k, const char *remote)
{
	return k->limit == c->conf->auth_fail_limit &&
	    k->window == c->conf->auth_fail_window &&
	    strcmp(k->addr, remote) == 0 &&
	    !store_changed_since(c->store, auth_db_authfail, &k->snap);
}

/* Is the address over the limit?  Counts a failure when fail != 0. */
static int
limiter(const struct ectx *c, const char *remote, int fail)
{
	struct ectx		  lc = *c;	/* the caller's fault stays */
	struct store_txn	**tp, *t;
	struct store_val	 v;
	struct failrec		 fr;
	struct clear		*k;
	long long		 now;
	int			 db = auth_db_authfail, over = 0;

	if (c->conf == NULL)
		return 0;
	k = clear_slot(remote);
	if (!fail && clear_known(c, k, remote))
		return 0;
	if (entity_begin(&lc, fail, &tp) != 0)
		return 0;
	t = *tp;
	now = (long long)time(NULL);
	memset(&fr, 0, sizeof(fr));
	if (store_get(t, db, remote, strlen(remote), &v) == 0 &&
	    v.len == sizeof(fr))
		memcpy(&fr, v.p, sizeof(fr));
	if (now - fr.start >= c->conf->auth_fail_window) {
		fr.start = now;
		fr.count = 0;
	}
	over = fr.count > c->conf->auth_fail_limit;
	if (!fail && !over && strlen(remote) < CLEAR_ADDR) {
		store_snapshot(t, &k->snap);
		k->limit = c->conf->auth_fail_limit;
		k->window = c->conf->auth_fail_window;
		strcpy(k->addr, remote);
	}
	/* A failed write is ended here (entity_commit ends it by
	   itself): never a write lock left held. */
	if (fail) {
		k->addr[0] = '\0';
		fr.count++;
		if (fail_purge(c, t, db) == 0 &&
		    store_put(t, db, remote, strlen(remote), &fr,
		    sizeof(fr)) == 0)
			(void)entity_commit(&lc, tp);
	}
	entity_end(tp);
	return over;
}

static struct principal *
set_principal(struct ectx *c, const struct conf_user *u)
{
	struct principal	*p;

	p = arena_calloc(c->arena, 1, sizeof(*p));
	p->id = u->id;
	p->name = u->name;
	p->user_name = u->name;
	p->type = "api";
	p->role = conf_role_find(c->conf, u->role);
	p->admin = u->admin;
	p->empty_absent = u->empty_means_absent;
	return p;
}

void
auth_fail_count(const struct ectx *c, const char *remote, const char *why)
{
	log_warn("auth: failure from %s: %s", remote, why);
	if (limiter(c, remote, 1))
		log_warn("address %s is over the failed-login limit",
		    remote);
}

static int
refuse(struct ectx *c, const char *remote, enum scheme s, const char *why)
{
	auth_fail_count(c, remote, why);
	return entity_fail(c, s == S_BASIC || s == S_BEARER ? FCRM_FORBIDDEN :
	    FCRM_UNAUTHORIZED, "%s", why);
}

int
auth_limited(struct ectx *c, const char *remote)
{
	if (!limiter(c, remote, 0))
		return 0;
	return entity_fail(c, FCRM_FORBIDDEN, "Too many failed logins from "
	    "this address; try again later.");
}

int
auth_fail_login(struct ectx *c, const char *remote, const char *why)
{
	return refuse(c, remote, S_ESPO, why);
}

/*
 * Espo-Authorization, as EspoCRM: base64(user:password) — a configured
 * principal, else a User record — or base64(user:token) for an auth token,
 * which Espo-Authorization-By-Token: true requires (without it a token in
 * the password's place is accepted too, as EspoCRM does).
 */
static int
espo_auth(struct ectx *c, const struct auth_in *in, const char *v,
    struct principal **pp)
{
	const struct conf_user	*u;
	struct auth_login	 who;
	struct principal	*p;
	const char		*user, *pass, *bt;
	int			 rc;

	if (split_pair(c->arena, v, &user, &pass) != 0)
		return entity_fail(c, FCRM_BAD_REQUEST, "Auth: Bad "
		    "authorization string provided.");
	bt = in->espo_by_token;
	if (bt != NULL && strcmp(bt, "true") == 0) {
		if (authtoken_auth(c, user, pass, pp) == 0)
			return 0;
		return refuse(c, in->remote, S_ESPO, "Wrong or expired auth "
		    "token.");
	}
	if ((u = user_by_name(c->conf, user)) != NULL) {
		if (password_ok(c, u, pass)) {
			*pp = set_principal(c, u);
			(*pp)->espo_password = 1;
			return 0;
		}
		if (authtoken_auth(c, user, pass, pp) == 0)
			return 0;
		return refuse(c, in->remote, S_ESPO, "Wrong username or "
		    "password.");
	}
	if (authtoken_auth(c, user, pass, pp) == 0)
		return 0;
	/* A User record (an agent), acting with agent_role. */
	if ((rc = auth_login(c, in->remote, user, pass, &who)) != 0)
		return rc;
	p = arena_calloc(c->arena, 1, sizeof(*p));
	p->id = who.id;
	p->name = who.name != NULL ? who.name : user;
	p->user_name = user;
	p->type = who.type;
	p->role = who.role != NULL ? conf_role_find(c->conf, who.role) : NULL;
	p->admin = who.admin;
	p->espo_password = 1;
	*pp = p;
	return 0;
}

int
auth_authenticate(struct ectx *c, const struct auth_in *in,
    struct auth_out *out)
{
	const struct conf_user	*u = NULL;
	const char		*v, *user, *pass;
	enum scheme		 s = S_NONE;
	int			 rc;

	memset(out, 0, sizeof(*out));
	if ((v = in->espo) != NULL)
		s = S_ESPO;
	else if ((v = in->api_key) != NULL)
		s = S_APIKEY;
	else if ((v = in->hmac) != NULL)
		s = S_HMAC;
	else if ((v = in->authorization) != NULL) {
		if (strncasecmp(v, "Basic ", 6) == 0) {
			s = S_BASIC;
			v += 6;
		} else if (strncasecmp(v, "Bearer ", 7) == 0) {
			s = S_BEARER;
			v += 7;
		} else
			return refuse(c, in->remote, S_BASIC, "Unsupported "
			    "authorization scheme.");
	}
	if (s == S_NONE && (rc = auth_session(c, in, &out->who)) != 1)
		return rc;
	if (s == S_NONE) {
		/* No challenge for scripts (EspoCRM does the same): a
		   browser would pop up its own login dialog. */
		v = in->requested_with;
		out->challenge = v == NULL ||
		    strcasecmp(v, "XMLHttpRequest") != 0;
		return entity_fail(c, FCRM_UNAUTHORIZED, "No credentials: "
		    "send X-Api-Key or an Authorization header.");
	}
	if (limiter(c, in->remote, 0))
		return entity_fail(c, FCRM_FORBIDDEN, "Too many failed logins "
		    "from this address; try again later.");
	switch (s) {
	case S_ESPO:
		return espo_auth(c, in, v, &out->who);
	case S_BASIC:
		if (split_pair(c->arena, v, &user, &pass) != 0)
			return refuse(c, in->remote, s, "Bad Basic "
			    "credentials.");
		u = user_by_name(c->conf, user);
		if (!password_ok(c, u, pass))
			return refuse(c, in->remote, s, "Wrong username or "
			    "password.");
		break;
	case S_APIKEY:
	case S_BEARER:
		while (*v == ' ')
			v++;
		if ((u = user_by_key(c->conf, v)) != NULL) {
			/* Its key travels in every signed request: alone it
			   proves nothing (EspoCRM refuses it too). */
			if (u->hmac_secret != NULL)
				return refuse(c, in->remote, s, "This API "
				    "user must sign its requests with "
				    "X-Hmac-Authorization.");
			break;
		}
		if (s == S_BEARER && oauth2_bearer(c, v, &out->who) == 0)
			return 0;
		return refuse(c, in->remote, s, s == S_APIKEY ? "Wrong API "
		    "key." : "Wrong or expired token.");
	case S_HMAC:
		if (!hmac_ok(c, in, v, &u))
			return refuse(c, in->remote, s, "Wrong HMAC "
			    "authorization.");
		break;
	default:
		break;
	}
	out->who = set_principal(c, u);
	return 0;
}
