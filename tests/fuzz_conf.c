/*
 * libFuzzer target for the configuration parser: the input is parsed as a
 * YAML configuration with conf_load_mem(); a configuration that loads is
 * queried, and everything is freed.  Seeds: tests/corpus/conf/.
 *
 *	clang -g -O1 -fsanitize=fuzzer,address,undefined -std=c11 \
 *	    -D_GNU_SOURCE -Iinclude app/config.c tests/fuzz_conf.c \
 *	    $(pkg-config --cflags --libs yaml-0.1 libcrypto) -o fuzz_conf
 *	./fuzz_conf -max_total_time=60 tests/corpus/conf
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "fastcrm/conf.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const entities[] = {
		"Contact", "Case", "Call", "Nope", "*",
	};
	struct conf		*c = NULL;
	struct conf_diag	 d;
	struct conf_acl		 a;
	size_t			 i, j, v;
	char			 small[64];

	memset(&d, 0, sizeof(d));
	if (conf_load_mem("fuzz", (const char *)data, size, &c, &d) == 0) {
		for (i = 0; i < c->nroles; i++)
			for (j = 0; j < sizeof(entities) / sizeof(entities[0]);
			    j++) {
				a = conf_role_acl(conf_role_find(c,
				    c->roles[i].name), entities[j]);
				(void)a;
			}
		for (i = 0; i < c->nusers; i++)
			(void)conf_role_find(c, c->users[i].role);
	}
	conf_free(c);
	conf_diag_free(&d);

	if (size < sizeof(small)) {
		memcpy(small, data, size);
		small[size] = '\0';
		(void)conf_parse_size(small, &v);
	}
	return 0;
}
