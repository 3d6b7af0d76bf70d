/*
 * The operator's routes: GET /healthz (no credentials; a real read
 * transaction and the map's fill) and GET /metrics (Prometheus text, for
 * the addresses in metrics_allow or an admin credential).
 */
#include <stdio.h>
#include <string.h>

#include "fastcrm/conf.h"
#include "fastcrm/entity.h"
#include "fastcrm/error.h"
#include "fastcrm/http.h"
#include "fastcrm/metrics.h"
#include "fastcrm/route.h"
#include "fastcrm/store.h"

int
ops_h_healthz(struct req *r)
{
	struct store_info	 si;
	struct ectx		 c;
	double			 fill;
	int			 rc;

	http_add_header(r, "Cache-Control", "no-store");
	http_ectx(r, &c);
	if ((rc = entity_probe(&c, &si, 0)) != 0)
		return http_fail(r, FCRM_UNAVAILABLE, "The store cannot be "
		    "read: %s", error_reason(rc));
	fill = si.map_size > 0 ? (double)si.used / (double)si.map_size : 1.0;
	if (fill * 100.0 > (double)r->conf->health_max_fill)
		return http_fail(r, FCRM_UNAVAILABLE, "The LMDB map is %.1f%% "
		    "full, above health_max_fill (%d%%); raise map_size.",
		    fill * 100.0, r->conf->health_max_fill);
	buf_printf(&r->out, "{\"status\":\"ok\",\"mapFill\":%.4f,"
	    "\"mapSize\":%zu,\"mapUsed\":%zu}", fill, si.map_size, si.used);
	return 0;
}

/* 1 when r came from an address in metrics_allow (default loopback). */
static int
allowed(const struct req *r)
{
	static char *const	 none[1] = { NULL };
	const struct conf	*c = r->conf;

	if (!c->metrics_allow_given)
		return metrics_addr_allowed(NULL, 0, r->remote);
	return metrics_addr_allowed(c->nmetrics_allow > 0 ? c->metrics_allow :
	    none, c->nmetrics_allow, r->remote);
}

static int
has_credential(const struct req *r)
{
	return http_param(r, HP_X_API_KEY) != NULL ||
	    http_param(r, HP_AUTHORIZATION) != NULL ||
	    http_param(r, HP_ESPO_AUTHORIZATION) != NULL ||
	    http_param(r, HP_X_HMAC_AUTHORIZATION) != NULL ||
	    http_param(r, HP_COOKIE) != NULL;
}

/*
 * The same route as an authenticated one: the table's row is public so
 * that an allowed address needs no credential; any other caller is
 * authenticated here, by the one authentication code.
 */
static const struct route metrics_authed = {
	"GET", "/metrics", ACT_NONE, ops_h_metrics, NULL, 0
};

int
ops_h_metrics(struct req *r)
{
	const struct route	*row = r->route;
	struct store_info	 si;
	struct ectx		 c;
	int			 rc;

	if (!allowed(r)) {
		if (!has_credential(r))
			return http_fail(r, FCRM_FORBIDDEN, "GET /metrics is "
			    "for the addresses in metrics_allow or an admin "
			    "credential; %.64s is not in metrics_allow.",
			    r->remote);
		r->route = &metrics_authed;
		rc = http_authenticate(r);
		r->route = row;
		if (rc != 0)
			return rc;
		if (r->who == NULL || !r->who->admin)
			return http_fail(r, FCRM_FORBIDDEN, "GET /metrics "
			    "needs an admin credential from %.64s.", r->remote);
	}
	http_add_header(r, "Cache-Control", "no-store");
	r->out_type = "text/plain; version=0.0.4; charset=utf-8";
	http_ectx(r, &c);
	metrics_render(&r->out, entity_probe(&c, &si, 1) == 0 ? &si : NULL);
	return 0;
}
