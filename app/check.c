/*
 * The checks `fastcrm check-config` makes beyond the file itself: that
 * data_dir exists, or can be created, and is writable by the user the
 * service runs as; and that nginx's client_max_body_size agrees with
 * max_body.  Each returns 0, or -1 with the reason written to msg.
 */
#include <sys/stat.h>

#include <ctype.h>
#include <errno.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fastcrm/check.h"
#include "fastcrm/conf.h"

#define MAX_GROUPS	256

struct who {
	uid_t	 uid;
	gid_t	 groups[MAX_GROUPS];
	int	 ngroups;
};

/* May w open st for what (a mask of 4, 2, 1: read, write, search)? */
static int
may(const struct who *w, const struct stat *st, int what)
{
	int	 i, bits;

	if (w->uid == 0)
		return 1;
	if (st->st_uid == w->uid)
		bits = (st->st_mode >> 6) & 7;
	else {
		bits = st->st_mode & 7;
		for (i = 0; i < w->ngroups; i++)
			if (w->groups[i] == st->st_gid) {
				bits = (st->st_mode >> 3) & 7;
				break;
			}
	}
	return (bits & what) == what;
}

/* Every directory above path (path itself excluded) must be searchable. */
static int
may_reach(const struct who *w, const char *path, char *bad, size_t badsz)
{
	struct stat	 st;
	char		 p[PATH_MAX];
	char		*s;

	if (strlen(path) >= sizeof(p))
		return 0;
	memcpy(p, path, strlen(path) + 1);
	for (s = p + 1; (s = strchr(s, '/')) != NULL; s++) {
		*s = '\0';
		if (stat(p, &st) == 0 && !may(w, &st, 1)) {
			snprintf(bad, badsz, "%s", p);
			return 0;
		}
		*s = '/';
	}
	return 1;
}

int
check_data_dir(const struct conf *conf, const char *user, char *msg,
    size_t msgsz)
{
	struct who	 w;
	struct passwd	*pw;
	struct stat	 st;
	char		 p[PATH_MAX], bad[PATH_MAX], who[64];
	char		*s;
	int		 n;

	memset(&w, 0, sizeof(w));
	if (user != NULL) {
		if ((pw = getpwnam(user)) == NULL) {
			snprintf(msg, msgsz, "no user %s to check data_dir "
			    "for", user);
			return -1;
		}
		w.uid = pw->pw_uid;
		n = MAX_GROUPS;
		if (getgrouplist(user, pw->pw_gid, w.groups, &n) == -1)
			n = MAX_GROUPS;
		w.ngroups = n;
		snprintf(who, sizeof(who), "user %s", user);
	} else {
		w.uid = geteuid();
		w.groups[0] = getegid();
		n = getgroups(MAX_GROUPS - 1, w.groups + 1);
		w.ngroups = n < 0 ? 1 : n + 1;
		snprintf(who, sizeof(who), "this user (uid %d)", (int)w.uid);
	}
	if (strlen(conf->data_dir) >= sizeof(p)) {
		snprintf(msg, msgsz, "data_dir is too long");
		return -1;
	}
	memcpy(p, conf->data_dir, strlen(conf->data_dir) + 1);
	if (stat(p, &st) == 0) {
		if (!S_ISDIR(st.st_mode)) {
			snprintf(msg, msgsz, "data_dir %s is not a directory",
			    p);
			return -1;
		}
		if (!may(&w, &st, 3) || !may_reach(&w, p, bad, sizeof(bad))) {
			snprintf(msg, msgsz, "data_dir %s is not writable by "
			    "%s (owner uid %d, group gid %d, mode %04o)", p, who,
			    (int)st.st_uid, (int)st.st_gid,
			    (unsigned)st.st_mode & 07777);
			return -1;
		}
		return 0;
	}
	if (errno != ENOENT) {
		snprintf(msg, msgsz, "data_dir %s: %s", p, strerror(errno));
		return -1;
	}
	/* It would be created (mkdir, one level) by the first start. */
	while ((s = strrchr(p, '/')) != NULL && s != p) {
		*s = '\0';
		if (stat(p, &st) == 0)
			break;
	}
	if (s == p)
		snprintf(p, sizeof(p), "/");
	if (stat(p, &st) != 0 || !S_ISDIR(st.st_mode)) {
		snprintf(msg, msgsz, "data_dir %s cannot be created: %s is "
		    "not a directory", conf->data_dir, p);
		return -1;
	}
	if (strlen(p) + 1 < strlen(conf->data_dir) &&
	    strchr(conf->data_dir + strlen(p) + 1, '/') != NULL) {
		snprintf(msg, msgsz, "data_dir %s does not exist and neither "
		    "does its parent directory", conf->data_dir);
		return -1;
	}
	if (!may(&w, &st, 3) || !may_reach(&w, p, bad, sizeof(bad))) {
		snprintf(msg, msgsz, "data_dir %s does not exist and %s cannot "
		    "create it in %s", conf->data_dir, who, p);
		return -1;
	}
	return 0;
}

/* An nginx size: digits and an optional k, m or g (powers of 1024). */
static int
nginx_size(const char *s, size_t len, unsigned long long *out)
{
	unsigned long long	 v = 0;
	size_t			 i;

	for (i = 0; i < len && isdigit((unsigned char)s[i]); i++) {
		if (v > ULLONG_MAX / 10 - 10)
			return -1;
		v = v * 10 + (unsigned)(s[i] - '0');
	}
	if (i == 0)
		return -1;
	if (i + 1 == len) {
		switch (s[i]) {
		case 'k': case 'K': v <<= 10; break;
		case 'm': case 'M': v <<= 20; break;
		case 'g': case 'G': v <<= 30; break;
		default: return -1;
		}
	} else if (i != len)
		return -1;
	*out = v;
	return 0;
}

/*
 * The largest client_max_body_size in the nginx file must be max_body:
 * smaller refuses recordings fastcrm would take, larger makes nginx
 * buffer bodies fastcrm refuses.  Comments are skipped; "0" (no limit)
 * disagrees as well.
 */
int
check_nginx_body(const struct conf *conf, const char *file, char *msg,
    size_t msgsz)
{
	static const char	 kw[] = "client_max_body_size";
	FILE			*f;
	char			 line[4096], *p, *e;
	unsigned long long	 v, max = 0;
	int			 lineno = 0, maxline = 0, found = 0;

	if ((f = fopen(file, "r")) == NULL) {
		snprintf(msg, msgsz, "%s: %s", file, strerror(errno));
		return -1;
	}
	while (fgets(line, sizeof(line), f) != NULL) {
		lineno++;
		if ((p = strchr(line, '#')) != NULL)
			*p = '\0';
		/* The directive, at a statement's start: "{ client_max_..." */
		for (p = line; (p = strstr(p, kw)) != NULL; p++)
			if ((p == line || strchr(" \t{;", p[-1]) != NULL) &&
			    isspace((unsigned char)p[sizeof(kw) - 1]))
				break;
		if (p == NULL)
			continue;
		for (p += sizeof(kw) - 1; isspace((unsigned char)*p); p++)
			;
		for (e = p; *e != '\0' && *e != ';' &&
		    !isspace((unsigned char)*e); e++)
			;
		if (nginx_size(p, (size_t)(e - p), &v) != 0) {
			snprintf(msg, msgsz, "%s:%d: client_max_body_size is "
			    "not a size fastcrm understands", file, lineno);
			fclose(f);
			return -1;
		}
		found = 1;
		if (v == 0) {
			snprintf(msg, msgsz, "%s:%d: client_max_body_size 0 "
			    "(no limit) disagrees with max_body %zu bytes",
			    file, lineno, conf->max_body);
			fclose(f);
			return -1;
		}
		if (v > max) {
			max = v;
			maxline = lineno;
		}
	}
	fclose(f);
	if (!found) {
		snprintf(msg, msgsz, "%s: no client_max_body_size (nginx's "
		    "default is 1m); set it to max_body, %zu bytes", file,
		    conf->max_body);
		return -1;
	}
	if (max != conf->max_body) {
		snprintf(msg, msgsz, "%s:%d: client_max_body_size is %llu "
		    "bytes but max_body is %zu bytes; make them the same",
		    file, maxline, max, conf->max_body);
		return -1;
	}
	return 0;
}
