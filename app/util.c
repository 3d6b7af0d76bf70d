/*
 * Ids, clocks, phone numbers, hex, SHA-256, UTF-8 checks and password
 * hashes: the small helpers.  SHA-256 is OpenSSL's (EVP), passwords
 * crypt(3)'s yescrypt.
 */
#include <sys/random.h>
#include <sys/time.h>

#include <crypt.h>
#include <ctype.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/sha.h>

#include "fastcrm/util.h"

int
util_random(void *out, size_t n)
{
	ssize_t	 r;
	size_t	 got = 0;

	while (got < n) {
		r = getrandom((char *)out + got, n - got, 0);
		if (r < 0)
			return -1;
		got += (size_t)r;
	}
	return 0;
}

/* v as n lowercase hex digits, the last n of it. */
static void
hex_digits(char *out, unsigned long long v, int n)
{

	while (n-- > 0) {
		out[n] = "0123456789abcdef"[v & 0xf];
		v >>= 4;
	}
}

void
util_id_new(char out[UTIL_ID_LEN + 1])
{
	struct timeval	 tv;
	unsigned char	 rnd[2];

	gettimeofday(&tv, NULL);
	util_random(rnd, sizeof(rnd));
	/* "%08llx%05lx%02x%02x" of seconds, microseconds and two random
	   bytes, without printf. */
	hex_digits(out, (unsigned long long)tv.tv_sec & 0xffffffffULL, 8);
	hex_digits(out + 8, (unsigned long long)tv.tv_usec & 0xfffffULL, 5);
	hex_digits(out + 13, (unsigned long long)rnd[0] << 8 | rnd[1], 4);
	out[UTIL_ID_LEN] = '\0';
}

int
util_id_valid(const char *s)
{
	size_t	 i;

	for (i = 0; i < UTIL_ID_LEN; i++)
		if (!((s[i] >= '0' && s[i] <= '9') ||
		    (s[i] >= 'a' && s[i] <= 'f')))
			return 0;
	return s[UTIL_ID_LEN] == '\0';
}

void
util_datetime_fmt(long long t, char out[20])
{
	struct tm	 tm;
	time_t		 tt = (time_t)t;

	gmtime_r(&tt, &tm);
	strftime(out, 20, "%Y-%m-%d %H:%M:%S", &tm);
}

void
util_now(char out[20])
{
	static time_t	 last = (time_t)-1;
	static char	 text[20];
	time_t		 t = time(NULL);

	/* One formatting a second: every write stamps the time twice. */
	if (t != last) {
		util_datetime_fmt((long long)t, text);
		last = t;
	}
	memcpy(out, text, sizeof(text));
}

static int
digits(const char *s, int n, int *v)
{
	int	 i;

	*v = 0;
	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		*v = *v * 10 + (s[i] - '0');
	}
	return 0;
}

static int
days_in_month(int y, int m)
{
	static const int	 d[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30,
	    31, 30, 31 };

	if (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
		return 29;
	return d[m - 1];
}

/* Days from 1970-01-01 to y-m-d (civil calendar). */
static long long
days_from_civil(int y, int m, int d)
{
	long long	 era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

static int
parse_ymd(const char *s, int *y, int *m, int *d)
{
	if (strlen(s) < 10 || s[4] != '-' || s[7] != '-')
		return -1;
	if (digits(s, 4, y) || digits(s + 5, 2, m) || digits(s + 8, 2, d))
		return -1;
	if (*y < 1000 || *m < 1 || *m > 12 || *d < 1 ||
	    *d > days_in_month(*y, *m))
		return -1;
	return 0;
}

int
util_datetime_epoch(const char *s, long long *out)
{
	int	 y, m, d, hh, mm, ss;

	if (strlen(s) != 19 || parse_ymd(s, &y, &m, &d) != 0 || s[10] != ' ' ||
	    s[13] != ':' || s[16] != ':' || digits(s + 11, 2, &hh) ||
	    digits(s + 14, 2, &mm) || digits(s + 17, 2, &ss) || hh > 23 ||
	    mm > 59 || ss > 59)
		return -1;
	*out = days_from_civil(y, m, d) * 86400LL + hh * 3600 + mm * 60 + ss;
	return 0;
}

int
util_date_parse(const char *s, char out[11])
{
	int	 y, m, d;

	if (strlen(s) != 10 || parse_ymd(s, &y, &m, &d) != 0)
		return -1;
	memcpy(out, s, 10);
	out[10] = '\0';
	return 0;
}

int
util_datetime_parse(const char *s, char out[20])
{
	int		 y, m, d, hh = 0, mm = 0, ss = 0, zh, zm, sign;
	long long	 t;
	const char	*p;
	char		*end;

	if (*s == '\0')
		return -1;
	/* Epoch seconds or milliseconds. */
	if (strspn(s, "0123456789") == strlen(s)) {
		if (strlen(s) > 15)
			return -1;
		t = strtoll(s, &end, 10);
		if (t >= 100000000000LL)
			t /= 1000;
		goto done;
	}
	if (parse_ymd(s, &y, &m, &d) != 0)
		return -1;
	p = s + 10;
	if (*p == ' ' || *p == 'T' || *p == 't') {
		p++;
		if (strlen(p) < 5 || p[2] != ':' || digits(p, 2, &hh) ||
		    digits(p + 3, 2, &mm))
			return -1;
		p += 5;
		if (*p == ':') {
			if (digits(p + 1, 2, &ss))
				return -1;
			p += 3;
		}
		if (*p == '.' || *p == ',') {
			p++;
			if (!isdigit((unsigned char)*p))
				return -1;
			while (isdigit((unsigned char)*p))
				p++;
		}
	}
	if (hh > 23 || mm > 59 || ss > 59)
		return -1;
	t = days_from_civil(y, m, d) * 86400LL + hh * 3600 + mm * 60 + ss;
	if (*p == 'Z' || *p == 'z')
		p++;
	else if (*p == '+' || *p == '-') {
		sign = *p == '-' ? -1 : 1;
		p++;
		if (digits(p, 2, &zh))
			return -1;
		p += 2;
		if (*p == ':')
			p++;
		zm = 0;
		if (*p != '\0') {
			if (digits(p, 2, &zm))
				return -1;
			p += 2;
		}
		if (zh > 14 || zm > 59)
			return -1;
		t -= sign * (zh * 3600 + zm * 60);
	}
	if (*p != '\0')
		return -1;
done:
	/* Four-digit years only: 1000-01-01 to 9999-12-31. */
	if (t < -30610224000LL || t >= 253402300800LL)
		return -1;
	util_datetime_fmt(t, out);
	return 0;
}

/* Simple case folding of one code point (Latin, Greek, Cyrillic). */
static unsigned int
fold(unsigned int c)
{
	if (c >= 'A' && c <= 'Z')
		return c + 32;
	if (c < 0xc0)
		return c;
	if ((c >= 0xc0 && c <= 0xde && c != 0xd7) ||
	    (c >= 0x391 && c <= 0x3ab && c != 0x3a2) ||
	    (c >= 0x410 && c <= 0x42f))
		return c + 32;
	if (c >= 0x400 && c <= 0x40f)
		return c + 80;
	if ((c >= 0x100 && c <= 0x137) || (c >= 0x14a && c <= 0x177) ||
	    (c >= 0x460 && c <= 0x481) || (c >= 0x48a && c <= 0x4bf))
		return c | 1;
	if ((c >= 0x139 && c <= 0x148) || (c >= 0x179 && c <= 0x17e))
		return (c & 1) ? c + 1 : c;
	return c;
}

char *
util_lower(struct arena *a, const char *s)
{
	const unsigned char	*p = (const unsigned char *)s;
	unsigned char		*out, *q;
	unsigned int		 c, f;

	out = q = arena_alloc(a, strlen(s) + 1);
	while (*p != '\0') {
		/* Only 2-byte sequences fold to 2-byte sequences here. */
		if ((p[0] & 0xe0) == 0xc0 && (p[1] & 0xc0) == 0x80) {
			c = ((unsigned int)(p[0] & 0x1f) << 6) | (p[1] & 0x3f);
			f = fold(c);
			if (f >= 0x80 && f < 0x800) {
				*q++ = (unsigned char)(0xc0 | (f >> 6));
				*q++ = (unsigned char)(0x80 | (f & 0x3f));
			} else {
				*q++ = p[0];
				*q++ = p[1];
			}
			p += 2;
			continue;
		}
		*q++ = (unsigned char)fold(*p);
		p++;
	}
	*q = '\0';
	return (char *)out;
}

int
util_ct_equal(const void *a, const void *b, size_t n)
{
	const unsigned char	*x = a, *y = b;
	uint64_t		 r = 0, u, v;
	size_t			 i;

	/* Eight bytes at a time, then the rest: no branch on the data. */
	for (i = 0; i + 8 <= n; i += 8) {
		memcpy(&u, x + i, 8);
		memcpy(&v, y + i, 8);
		r |= u ^ v;
	}
	for (; i < n; i++)
		r |= (uint64_t)(x[i] ^ y[i]);
	return r == 0;
}

char *
util_digits(struct arena *a, const char *s)
{
	char	*p;
	size_t	 n = 0;

	p = arena_alloc(a, strlen(s) + 1);
	for (; *s != '\0'; s++)
		if (*s >= '0' && *s <= '9')
			p[n++] = *s;
	p[n] = '\0';
	return p;
}

/* The characters a phone number may be written with. */
static int
phone_char(char c)
{

	return (c >= '0' && c <= '9') || c == '+' || c == ' ' || c == '-' ||
	    c == '(' || c == ')' || c == '.' || c == '\t' || c == '/';
}

/* "+" cc digits, in the arena. */
static char *
plus(struct arena *a, const char *cc, size_t cclen, const char *d, size_t n)
{
	char	*o;

	o = arena_alloc(a, 1 + cclen + n + 1);
	o[0] = '+';
	memcpy(o + 1, cc, cclen);
	memcpy(o + 1 + cclen, d, n);
	o[1 + cclen + n] = '\0';
	return o;
}

char *
util_phone_e164(struct arena *a, const char *s, const char *cc)
{
	const char	*p;
	char		*d;
	size_t		 n, cclen;
	int		 intl;

	for (p = s; *p != '\0'; p++)
		if (!phone_char(*p))
			return NULL;
	p = s;
	intl = *p == '+' || *p == ' ';
	while (*p == ' ' || *p == '\t')
		p++;
	if (*p == '+')
		intl = 1;
	d = util_digits(a, p);
	n = strlen(d);
	cclen = cc != NULL ? strlen(cc) : 0;
	if (!intl && n > 2 && d[0] == '0' && d[1] == '0') {
		d += 2;
		n -= 2;
		intl = 1;
	}
	if (!intl && cclen > 0) {
		if (d[0] == '0')
			return n < 7 ? NULL : plus(a, cc, cclen, d + 1, n - 1);
		if (strcmp(cc, "1") == 0 && n == 11 && d[0] == '1')
			intl = 1;
		else if (strcmp(cc, "1") == 0 && n == 10)
			return plus(a, "1", 1, d, n);
		else if (n > 10)
			intl = 1;
		else if (n >= 4)
			return plus(a, cc, cclen, d, n);
	}
	if (n < 4 || n > 15)
		return NULL;
	return plus(a, "", 0, d, n);
}

const char *
util_kept(const char *s)
{
	static char	 buf[512];

	if (s == NULL || s == buf)
		return s;
	snprintf(buf, sizeof(buf), "%s", s);
	return buf;
}

double
util_seconds(void)
{
	struct timeval	 tv;

	gettimeofday(&tv, NULL);
	return tv.tv_sec + tv.tv_usec / 1e6;
}

void
util_hex(const void *p, size_t n, char *out)
{
	static const char	 digits[] = "0123456789abcdef";
	const unsigned char	*b = p;
	size_t			 i;

	for (i = 0; i < n; i++) {
		out[2 * i] = digits[b[i] >> 4];
		out[2 * i + 1] = digits[b[i] & 15];
	}
	out[2 * n] = '\0';
}

/*
 * OpenSSL 3's one-shot SHA256() fetches the digest on every call, which
 * cost more than the rest of an API-key check (686 against 91 ns here):
 * it is fetched once per process.
 */
static const EVP_MD *
sha256_md(void)
{
	static EVP_MD	*md;

	if (md == NULL)
		md = EVP_MD_fetch(NULL, "SHA256", NULL);
	return md != NULL ? md : EVP_sha256();
}

void
util_sha256(const void *p, size_t n, unsigned char md[UTIL_SHA256_LEN])
{
	static EVP_MD_CTX	*ctx;

	if (ctx == NULL)
		ctx = EVP_MD_CTX_new();
	if (ctx == NULL || EVP_DigestInit_ex(ctx, sha256_md(), NULL) != 1 ||
	    EVP_DigestUpdate(ctx, p, n) != 1 ||
	    EVP_DigestFinal_ex(ctx, md, NULL) != 1)
		SHA256(p, n, md);
}

void
util_sha256_hex(const void *p, size_t n, char out[UTIL_SHA256_LEN * 2 + 1])
{
	unsigned char	 md[UTIL_SHA256_LEN];

	util_sha256(p, n, md);
	util_hex(md, sizeof(md), out);
}

int
util_sha256_init(struct util_sha256 *h)
{
	EVP_MD_CTX	*ctx;

	if ((h->ctx = ctx = EVP_MD_CTX_new()) == NULL ||
	    EVP_DigestInit_ex(ctx, sha256_md(), NULL) != 1)
		return -1;
	return 0;
}

int
util_sha256_update(struct util_sha256 *h, const void *p, size_t n)
{
	return EVP_DigestUpdate(h->ctx, p, n) == 1 ? 0 : -1;
}

int
util_sha256_final(struct util_sha256 *h, char out[UTIL_SHA256_LEN * 2 + 1])
{
	unsigned char	 md[UTIL_SHA256_LEN];

	if (EVP_DigestFinal_ex(h->ctx, md, NULL) != 1)
		return -1;
	util_hex(md, sizeof(md), out);
	return 0;
}

void
util_sha256_free(struct util_sha256 *h)
{
	EVP_MD_CTX_free(h->ctx);
	h->ctx = NULL;
}

/*
 * The well-formed UTF-8 sequence at p (n bytes at most): its length, its
 * code point in *cp; 0 when it is malformed (an overlong form, a
 * surrogate, a stray continuation byte, above U+10FFFF, cut short).
 */
size_t
util_utf8_char(const unsigned char *p, size_t n, unsigned long *cp)
{
	static const unsigned long	 least[] = { 0, 0, 0x80, 0x800,
	    0x10000 };
	size_t				 len, i;
	unsigned long			 c;

	if (n == 0)
		return 0;
	if (p[0] < 0x80) {
		*cp = p[0];
		return 1;
	}
	if (p[0] >= 0xc2 && p[0] <= 0xdf)
		len = 2;
	else if (p[0] >= 0xe0 && p[0] <= 0xef)
		len = 3;
	else if (p[0] >= 0xf0 && p[0] <= 0xf4)
		len = 4;
	else
		return 0;
	if (len > n)
		return 0;
	c = p[0] & (0x7f >> len);
	for (i = 1; i < len; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		c = c << 6 | (p[i] & 0x3f);
	}
	if (c < least[len] || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
		return 0;
	*cp = c;
	return len;
}

int
util_utf8_valid(const char *s, size_t n)
{
	const unsigned char	*p = (const unsigned char *)s;
	size_t			 i, k;
	unsigned long		 cp;

	for (i = 0; i < n; i += k) {
		if (p[i] < 0x80) {
			k = 1;
			continue;
		}
		if ((k = util_utf8_char(p + i, n - i, &cp)) == 0)
			return 0;
	}
	return 1;
}

const char *
util_password_hash(struct arena *a, const char *pass)
{
	struct crypt_data	*cd;
	char			 salt[CRYPT_GENSALT_OUTPUT_SIZE];
	const char		*h;

	if (crypt_gensalt_rn("$y$", 0, NULL, 0, salt, sizeof(salt)) == NULL)
		return NULL;
	cd = arena_calloc(a, 1, sizeof(*cd));
	h = crypt_r(pass, salt, cd);
	if (h == NULL || *h == '*')
		return NULL;
	return arena_strdup(a, h);
}

int
util_password_check(struct arena *a, const char *pass, const char *hash)
{
	struct crypt_data	*cd;
	const char		*h;

	if (hash == NULL || *hash == '\0')
		return 0;
	cd = arena_calloc(a, 1, sizeof(*cd));
	h = crypt_r(pass, hash, cd);
	return h != NULL && strlen(h) == strlen(hash) &&
	    util_ct_equal(h, hash, strlen(h));
}
