# nginx/prod.awk — the production snippets for the system's nginx, made
# from nginx/fastcrm.conf.in so that both keep the same locations, limits
# and headers (a fix to the template reaches production with the next
# build).
#
#   awk -v part=http -f nginx/prod.awk nginx/fastcrm.conf.in
#       > /etc/nginx/conf.d/fastcrm.conf      (http level: log format,
#                                              maps, rate-limit zone)
#   awk -v part=site -f nginx/prod.awk nginx/fastcrm.conf.in
#       > /etc/nginx/sites-available/fastcrm  (the server)
#
# The template's http-level statements that nginx allows only there
# (log_format, geo, map, limit_req_zone, and any *_zone) go to the http
# part; its other http-level settings move into the server, so that they
# apply to fastcrm alone and never collide with Debian's nginx.conf; the
# temporary paths and the access log of the trial stack are dropped (the
# system nginx has its own).  In the server, the listen, server_name and
# certificate lines are replaced by the production ones below.
#
# Optional -v settings: socket, data_dir, max_body, max_json_body,
# max_login_body, rate, burst (the defaults are the packaged
# configuration's).

function flush(    w, n, a) {
	if (stmt == "")
		return
	w = first
	if (w ~ /^(log_format|geo|map|limit_req_zone|limit_conn_zone)$/)
		http_out = http_out stmt
	else if (w ~ /_temp_path$/ || w == "access_log" || w == "")
		;
	else
		server_head = server_head indent(stmt)
	stmt = ""
	first = ""
}

# The http-level text, one level deeper (inside server { }).
function indent(s,    out, n, i, lines) {
	n = split(s, lines, "\n")
	out = ""
	for (i = 1; i < n; i++)
		out = out (lines[i] == "" ? "" : "    " lines[i]) "\n"
	return out
}

function subst(s) {
	gsub(/@SOCKET@/, socket, s)
	gsub(/@DATA_DIR@/, data_dir, s)
	gsub(/@MAX_BODY@/, max_body, s)
	gsub(/@MAX_JSON_BODY@/, max_json_body, s)
	gsub(/@MAX_LOGIN_BODY@/, max_login_body, s)
	gsub(/@LIMIT_RATE@/, rate, s)
	gsub(/@LIMIT_BURST@/, burst, s)
	if (s ~ /@[A-Z_]+@/) {
		print "prod.awk: placeholder left in: " s > "/dev/stderr"
		bad = 1
	}
	return s
}

BEGIN {
	if (socket == "") socket = "/run/fastcrm/fastcrm.sock"
	if (data_dir == "") data_dir = "/var/lib/fastcrm"
	if (max_body == "") max_body = "64m"
	if (max_json_body == "") max_json_body = "1m"
	if (max_login_body == "") max_login_body = "8k"
	if (rate == "") rate = "2000r/s"
	if (burst == "") burst = "4000"
	state = "top"
}

state == "top" && /^http[ \t]*\{/ { state = "http"; next }
state == "top" { next }

state == "http" && /^    server[ \t]*\{/ {
	flush()
	state = "server"
	next
}
state == "http" && /^}/ { flush(); state = "done"; next }
state == "http" {
	line = $0
	if (stmt == "" && line ~ /^[ \t]*$/)
		next
	sub(/^    /, "", line)
	stmt = stmt line "\n"
	if (first == "" && line !~ /^[ \t]*#/ && line !~ /^[ \t]*$/) {
		split(line, f, /[ \t;{]+/)
		first = f[1] == "" ? f[2] : f[1]
	}
	if (first == "")
		next
	# A statement ends with ";" at depth 0, or when its block closes.
	t = line
	sub(/#.*/, "", t)
	depth += gsub(/\{/, "{", t) - gsub(/\}/, "}", t)
	if (depth == 0 && (t ~ /;[ \t]*$/ || t ~ /\}[ \t]*$/))
		flush()
	next
}

state == "server" && /^    }/ { state = "http"; next }
state == "server" {
	line = $0
	if (line ~ /^        (listen|server_name|ssl_certificate|ssl_certificate_key)[ \t]/)
		next
	sub(/^    /, "", line)
	body = body line "\n"
	next
}

END {
	if (part == "http") {
		printf "%s", "# /etc/nginx/conf.d/fastcrm.conf — fastcrm's http-level settings\n" \
		    "# (made from fastcrm's nginx/fastcrm.conf.in by nginx/prod.awk).\n" \
		    "# Definitions only: they do nothing until the site\n" \
		    "# /etc/nginx/sites-available/fastcrm, which uses them, is enabled.\n\n"
		printf "%s", subst(http_out)
	} else {
		printf "%s", "# /etc/nginx/sites-available/fastcrm — fastcrm behind the system's nginx\n" \
		    "# (made from fastcrm's nginx/fastcrm.conf.in by nginx/prod.awk).\n" \
		    "#\n" \
		    "# Set server_name and the certificate paths, then enable it:\n" \
		    "#     ln -s ../sites-available/fastcrm /etc/nginx/sites-enabled/\n" \
		    "#     nginx -t && systemctl reload nginx\n" \
		    "# It needs /etc/nginx/conf.d/fastcrm.conf (log format, maps, rate\n" \
		    "# limit zone), which Debian's nginx.conf includes.  Keep\n" \
		    "# client_max_body_size equal to max_body in /etc/fastcrm/fastcrm.yaml\n" \
		    "# (`fastcrm check-config` compares them).  See conf/INSTALL.md.\n\n" \
		    "server {\n" \
		    "    listen 443 ssl;\n" \
		    "    listen [::]:443 ssl;\n" \
		    "    server_name crm.example.com;\n\n" \
		    "    # The administrator's certificate (full chain) and key.\n" \
		    "    ssl_certificate     /etc/ssl/certs/fastcrm.pem;\n" \
		    "    ssl_certificate_key /etc/ssl/private/fastcrm.key;\n\n" \
		    "    access_log /var/log/nginx/fastcrm-access.log fastcrm;\n" \
		    "    error_log  /var/log/nginx/fastcrm-error.log warn;\n\n"
		printf "%s", subst(server_head)
		printf "%s", subst(body)
		print "}"
	}
	exit bad
}
