/*
 * check-config's checks of the surroundings: data_dir and nginx's body
 * limit.  Each returns 0, or -1 with the reason in msg.
 */
#ifndef FASTCRM_CHECK_H
#define FASTCRM_CHECK_H

#include <stddef.h>

struct conf;

/* data_dir exists or can be created, writable by user (NULL: this one). */
int	 check_data_dir(const struct conf *, const char *user, char *, size_t);
/* The largest client_max_body_size in the nginx file equals max_body. */
int	 check_nginx_body(const struct conf *, const char *file, char *,
	    size_t);

#endif
