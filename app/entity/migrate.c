#include "fastcrm/entity.h"
#include "fastcrm/error.h"
int
entity_migrate(const struct conf *conf, const struct migrate_opts *m,
    const char **why)
{
	(void)conf; (void)m;
	*why = "TEMPORARY";
	return FCRM_CONFIG;
}
