/*
 * The agent's page: GET / answers the single page that CCAI's iframe
 * loads (Display URL https://HOST/#Case/view/{id}); the part after `#`
 * never reaches the server, the page routes on it.  frame-ancestors comes
 * from the configuration.
 */
#include <string.h>

#include "fastcrm/conf.h"
#include "fastcrm/http.h"
#include "fastcrm/route.h"

extern const char	 ui_page[];
extern const size_t	 ui_page_len;

int
ui_h_page(struct req *r)
{
	struct buf	 csp;
	size_t		 i;

	buf_init(&csp, r->arena);
	buf_adds(&csp, "frame-ancestors");
	for (i = 0; i < r->conf->nframe_ancestors; i++) {
		buf_addc(&csp, ' ');
		buf_adds(&csp, r->conf->frame_ancestors[i]);
	}
	http_add_header(r, "Content-Security-Policy", csp.p);
	http_add_header(r, "Cache-Control", "no-store");
	http_add_header(r, "Referrer-Policy", "no-referrer");
	r->out_type = "text/html; charset=utf-8";
	buf_add(&r->out, ui_page, ui_page_len);
	return 0;
}
