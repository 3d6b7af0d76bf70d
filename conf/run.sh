#!/usr/bin/env bash
# conf/run.sh — run fastcrm locally: the fastcrm master and its workers
# behind a private nginx on an HTTPS loopback port, with a demo
# configuration and a demo API key.
#
#   conf/run.sh start     start whatever is not running yet (harmless twice)
#   conf/run.sh stop      stop the nginx and fastcrm this script started
#   conf/run.sh status    say what runs; exit 0 only if both run
#
# Run it from the build directory (where `make` put ./fastcrm).
# Environment:
#   FASTCRM_PORT      HTTPS port on 127.0.0.1            (default 8443)
#   FASTCRM_RUN_DIR   run directory                      (default ./run)
#   FASTCRM_BIN       the fastcrm program                (default ./fastcrm)
#   FASTCRM_WORKERS   fastcrm workers, first start only  (default 4)
#   FASTCRM_NGINX_WORKERS  nginx worker_processes        (default auto)
#
# The run directory holds everything: fastcrm.yaml (rendered from
# conf/fastcrm.yaml.in on the first start, then yours to edit; mode 0600),
# demo-api-key and demo-agent (0600), data/ (LMDB, attachments), log/ (fastcrm.log,
# nginx-error.log, nginx-access.log), tls/ (a self-signed certificate for
# localhost), nginx/ (nginx's prefix: nginx.conf, pid, temp dirs),
# fastcrm.pid and the FastCGI socket. The system nginx and /etc/nginx are
# never used.

# Re-run under bash when started as "sh FILE" (make's $(SHELL) is /bin/sh).
if [ -z "${BASH_VERSION:-}" ]; then exec bash "$0" "$@"; fi
set -euo pipefail

prog=${0##*/}
srcdir=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

PORT=${FASTCRM_PORT:-8443}
RUN=${FASTCRM_RUN_DIR:-./run}
BIN=${FASTCRM_BIN:-./fastcrm}
WORKERS=${FASTCRM_WORKERS:-4}
NGINX_WORKERS=${FASTCRM_NGINX_WORKERS:-auto}

abspath() {
    case $1 in
    /*) printf '%s\n' "$1" ;;
    *) printf '%s/%s\n' "$PWD" "${1#./}" ;;
    esac
}
RUN=$(abspath "$RUN")
RUN=${RUN%/}
BIN=$(abspath "$BIN")

CONF=$RUN/fastcrm.yaml
PIDFILE=$RUN/fastcrm.pid
LOG=$RUN/log/fastcrm.log
KEYFILE=$RUN/demo-api-key
AGENTFILE=$RUN/demo-agent
NGX_PREFIX=$RUN/nginx
NGX_CONF=$NGX_PREFIX/nginx.conf
NGX_PID=$NGX_PREFIX/nginx.pid
URL=https://127.0.0.1:$PORT

die() {
    printf '%s: %s\n' "$prog" "$*" >&2
    exit 1
}
say() { printf '%s\n' "$*"; }

find_nginx() {
    local n
    n=$(command -v nginx 2>/dev/null || true)
    [ -n "$n" ] || { [ -x /usr/sbin/nginx ] && n=/usr/sbin/nginx; }
    [ -n "$n" ] || die "nginx not found (run conf/install-deps)"
    printf '%s\n' "$n"
}

# The pid recorded in file $1, if that process is alive and its command
# line contains $2 (so a recycled pid is never mistaken for ours).
live_pid() {
    local file=$1 needle=$2 pid
    [ -s "$file" ] || return 1
    pid=$(tr -cd '0-9' <"$file")
    [ -n "$pid" ] || return 1
    kill -0 "$pid" 2>/dev/null || return 1
    [ -r "/proc/$pid/cmdline" ] || return 1
    tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF -- "$needle" || return 1
    printf '%s\n' "$pid"
}
fastcrm_pid() { live_pid "$PIDFILE" "$CONF"; }
nginx_pid() { live_pid "$NGX_PID" "$NGX_CONF"; }

# `key: value` from the rendered configuration (top-level keys only),
# without quotes and trailing comments.
conf_value() {
    sed -n "s/^$1:[[:space:]]*//p" "$CONF" | head -n 1 |
        sed -e 's/[[:space:]]#.*$//' -e 's/[[:space:]]*$//' \
            -e 's/^"\(.*\)"$/\1/' -e "s/^'\(.*\)'\$/\1/"
}

# fastcrm size (64MiB, 1GiB, 512KiB, 1000) -> nginx size (64m, 1g, 512k, 1000).
nginx_size() {
    local v=$1
    case $v in
    *[Gg]i[Bb] | *[Gg][Bb] | *[Gg]) printf '%sg\n' "${v%%[Gg]*}" ;;
    *[Mm]i[Bb] | *[Mm][Bb] | *[Mm]) printf '%sm\n' "${v%%[Mm]*}" ;;
    *[Kk]i[Bb] | *[Kk][Bb] | *[Kk]) printf '%sk\n' "${v%%[Kk]*}" ;;
    *[!0-9]* | '') die "cannot read max_body '$v' in $CONF" ;;
    *) printf '%s\n' "$v" ;;
    esac
}

# The smaller of two nginx sizes.
nginx_min() {
    local a b
    a=$(printf '%s\n' "$1" | sed -e 's/k$/*1024/' -e 's/m$/*1048576/' -e 's/g$/*1073741824/')
    b=$(printf '%s\n' "$2" | sed -e 's/k$/*1024/' -e 's/m$/*1048576/' -e 's/g$/*1073741824/')
    if [ $((a)) -le $((b)) ]; then printf '%s\n' "$1"; else printf '%s\n' "$2"; fi
}

port_free() {
    python3 - "$1" <<'EOF'
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
try:
    s.bind(("127.0.0.1", int(sys.argv[1])))
    s.listen(1)
except OSError:
    sys.exit(1)
EOF
}

check_port() {
    port_free "$PORT" && return 0
    say "$prog: port 127.0.0.1:$PORT is already in use; set FASTCRM_PORT to a free port" >&2
    if command -v ss >/dev/null 2>&1; then
        ss -ltnp "sport = :$PORT" >&2 || true
    fi
    exit 1
}

make_cert() {
    [ -s "$RUN/tls/cert.pem" ] && [ -s "$RUN/tls/key.pem" ] && return 0
    say "Generating a self-signed TLS certificate for localhost in $RUN/tls"
    mkdir -p "$RUN/tls"
    chmod 0700 "$RUN/tls"
    (umask 077 && openssl req -x509 -newkey ec \
        -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 825 \
        -subj /CN=localhost \
        -addext subjectAltName=DNS:localhost,IP:127.0.0.1 \
        -keyout "$RUN/tls/key.pem" -out "$RUN/tls/cert.pem" \
        >"$RUN/tls/openssl.log" 2>&1) ||
        die "openssl failed: $(cat "$RUN/tls/openssl.log")"
}

make_config() {
    [ -f "$CONF" ] && return 0
    local out key sha
    case $WORKERS in
    auto | [1-9] | [1-9][0-9] | [1-9][0-9][0-9]) ;;
    *) die "FASTCRM_WORKERS must be a number or auto, not '$WORKERS'" ;;
    esac
    out=$("$BIN" key) || die "'$BIN key' failed"
    key=$(printf '%s\n' "$out" | sed -n 1p)
    sha=$(printf '%s\n' "$out" | sed -n 's/^api_key_sha256:[[:space:]]*"\{0,1\}\([0-9a-f]\{64\}\)"\{0,1\}.*/\1/p')
    printf '%s' "$key" | grep -Eq '^[0-9a-f]{32}$' ||
        die "'$BIN key' printed no key on its first line"
    [ -n "$sha" ] || die "'$BIN key' printed no api_key_sha256 line"
    say "Creating $CONF with a new demo API key"
    (
        umask 077
        printf '%s\n' "$key" >"$KEYFILE.tmp"
        sed -e "s|@RUN_DIR@|$RUN|g" -e "s|@KEY_SHA256@|$sha|g" \
            -e "s|@WORKERS@|$WORKERS|g" \
            "$srcdir/conf/fastcrm.yaml.in" >"$CONF.tmp"
    )
    chmod 0600 "$KEYFILE.tmp" "$CONF.tmp"
    mv "$KEYFILE.tmp" "$KEYFILE"
    mv "$CONF.tmp" "$CONF"
}

render_nginx() {
    local listen socket data max user v json login
    listen=$(conf_value listen)
    case $listen in
    unix:/*) socket=${listen#unix:} ;;
    *) die "$CONF: listen must be unix:/absolute/path for this nginx template (is '$listen')" ;;
    esac
    data=$(conf_value data_dir)
    [ -n "$data" ] || die "$CONF has no data_dir"
    max=$(nginx_size "$(conf_value max_body)")
    # The other routes' limits (defaults 1MiB, 8KiB), never above max_body.
    v=$(conf_value max_json_body)
    json=$(nginx_min "$max" "$(nginx_size "${v:-1MiB}")")
    v=$(conf_value max_login_body)
    login=$(nginx_min "$max" "$(nginx_size "${v:-8KiB}")")
    if [ "$(id -u)" -eq 0 ]; then
        user='user root;  # started as root: workers must read data_dir/attachments'
    else
        user='# not started as root: nginx workers run as the invoking user'
    fi
    mkdir -p "$NGX_PREFIX" "$RUN/log"
    sed -e "s|@RUN_DIR@|$RUN|g" -e "s|@PORT@|$PORT|g" \
        -e "s|@SOCKET@|$socket|g" -e "s|@MAX_BODY@|$max|g" \
        -e "s|@MAX_JSON_BODY@|$json|g" -e "s|@MAX_LOGIN_BODY@|$login|g" \
        -e "s|@DATA_DIR@|$data|g" -e "s|@WORKER_PROCESSES@|$NGINX_WORKERS|g" \
        -e "s|@USER_DIRECTIVE@|$user|g" \
        -e "s|@LIMIT_RATE@|2000r/s|g" -e "s|@LIMIT_BURST@|4000|g" \
        "$srcdir/nginx/fastcrm.conf.in" >"$NGX_CONF.tmp"
    mv "$NGX_CONF.tmp" "$NGX_CONF"
    printf '%s\n' "$socket"
}

log_tail() {
    say "--- last lines of $1 ---" >&2
    tail -n "${2:-20}" "$1" >&2 2>/dev/null || true
}

start_fastcrm() {
    local pid socket i
    if pid=$(fastcrm_pid); then
        say "fastcrm is already running (pid $pid)"
        return 0
    fi
    [ -x "$BIN" ] || die "$BIN not found or not executable (build first, or set FASTCRM_BIN)"
    local out
    if ! out=$("$BIN" check-config "$CONF" 2>&1); then
        printf '%s\n' "$out" >&2
        die "$CONF is not valid"
    fi
    socket=$(conf_value listen)
    socket=${socket#unix:}
    # A socket file left by a fastcrm that did not stop cleanly would make
    # the wait below succeed at once.
    if [ -S "$socket" ]; then
        rm -f "$socket"
    fi
    mkdir -p "$RUN/log" "$(conf_value data_dir)"
    printf '=== %s %s start\n' "$(date -u '+%Y-%m-%d %H:%M:%S')" "$prog" >>"$LOG"
    setsid nohup "$BIN" serve -c "$CONF" >>"$LOG" 2>&1 </dev/null &
    pid=$!
    printf '%s\n' "$pid" >"$PIDFILE"
    for ((i = 0; i < 100; i++)); do
        [ -S "$socket" ] && break
        if ! kill -0 "$pid" 2>/dev/null; then
            rm -f "$PIDFILE"
            log_tail "$LOG"
            die "fastcrm exited during start-up"
        fi
        sleep 0.1
    done
    if [ ! -S "$socket" ]; then
        log_tail "$LOG"
        die "fastcrm (pid $pid) did not create $socket within 10 s"
    fi
    say "fastcrm started (pid $pid, $socket)"
}

start_nginx() {
    local pid ngx i
    ngx=$(find_nginx)
    if pid=$(nginx_pid); then
        say "nginx is already running (pid $pid)"
        return 0
    fi
    render_nginx >/dev/null
    check_port
    local out
    if ! out=$("$ngx" -t -q -p "$NGX_PREFIX" -c "$NGX_CONF" 2>&1); then
        printf '%s\n' "$out" >&2
        die "nginx rejected $NGX_CONF"
    fi
    rm -f "$NGX_PID"
    if ! out=$("$ngx" -p "$NGX_PREFIX" -c "$NGX_CONF" 2>&1); then
        printf '%s\n' "$out" >&2
        log_tail "$RUN/log/nginx-error.log"
        die "nginx failed to start"
    fi
    for ((i = 0; i < 50; i++)); do
        pid=$(nginx_pid) && break
        sleep 0.1
    done
    [ -n "${pid:-}" ] || {
        log_tail "$RUN/log/nginx-error.log"
        die "nginx did not write $NGX_PID"
    }
    say "nginx started (pid $pid, $URL)"
}

wait_http() {
    local code i
    for ((i = 0; i < 100; i++)); do
        code=$(curl -sk -o /dev/null -m 2 -w '%{http_code}' "$URL/api/v1/App/user" 2>/dev/null || true)
        if [ -n "$code" ] && [ "$code" != 000 ]; then
            return 0
        fi
        sleep 0.1
    done
    log_tail "$RUN/log/nginx-error.log"
    log_tail "$LOG"
    die "$URL/api/v1/App/user did not answer within 10 s"
}

# One demo agent (a User record with a password), once: Ringotel's Users
# hook has someone to map and the agent page can be tried at once.
make_agent() {
    local key=$1 pw code
    [ -f "$AGENTFILE" ] && return 0
    pw=$(openssl rand -hex 12) || die "openssl rand failed"
    code=$(curl -sk -o "$RUN/log/demo-agent.json" -w '%{http_code}' -m 10 \
        -H "X-Api-Key: $key" -H 'Content-Type: application/json' \
        -d '{"userName":"agent","firstName":"Demo","lastName":"Agent","type":"regular","password":"'"$pw"'"}' \
        "$URL/api/v1/User" 2>/dev/null || true)
    if [ "$code" != 200 ]; then
        say "could not create the demo agent (HTTP $code; see $RUN/log/demo-agent.json)" >&2
        return 0
    fi
    (
        umask 077
        printf 'agent %s\n' "$pw" >"$AGENTFILE.tmp"
    )
    mv "$AGENTFILE.tmp" "$AGENTFILE"
}

cmd_start() {
    command -v openssl >/dev/null 2>&1 || die "openssl not found (run conf/install-deps)"
    command -v curl >/dev/null 2>&1 || die "curl not found (run conf/install-deps)"
    mkdir -p "$RUN" "$RUN/log" "$NGX_PREFIX"
    chmod 0700 "$RUN"
    nginx_pid >/dev/null || check_port
    if ! fastcrm_pid >/dev/null; then
        [ -x "$BIN" ] || die "$BIN not found or not executable (build first, or set FASTCRM_BIN)"
        make_config
    fi
    make_cert
    start_fastcrm
    start_nginx
    wait_http

    local key='(unknown: see api_users in '"$CONF"')'
    [ -r "$KEYFILE" ] && key=$(head -n 1 "$KEYFILE")
    make_agent "$key"
    local agent='(none: see the log above)'
    [ -r "$AGENTFILE" ] && agent=$(head -n 1 "$AGENTFILE")
    cat <<EOF

fastcrm is up at $URL/api/v1/
  demo API key:  $key   (also in $KEYFILE)
  demo agent:    $agent   (user name and password, also in $AGENTFILE;
                 sign in at $URL/)
  configuration: $CONF
  logs:          $RUN/log/
  stop with:     FASTCRM_RUN_DIR=$RUN $0 stop

Try:
  curl -k -H 'X-Api-Key: $key' $URL/api/v1/Contact
EOF
}

# Waits up to $2 tenths of a second for pid $1 to exit.
wait_gone() {
    local pid=$1 n=$2 i
    for ((i = 0; i < n; i++)); do
        kill -0 "$pid" 2>/dev/null || return 0
        sleep 0.1
    done
    ! kill -0 "$pid" 2>/dev/null
}

# The pids whose parent is $1 (the master's workers).
children_of() {
    local parent=$1 f line pid ppid
    for f in /proc/[0-9]*/stat; do
        line=$(cat "$f" 2>/dev/null) || continue
        pid=${line%% *}
        line=${line##*) }      # after "(comm) ": state ppid ...
        ppid=${line#* }
        ppid=${ppid%% *}
        [ "$ppid" = "$parent" ] && printf '%s ' "$pid"
    done
    return 0
}

cmd_stop() {
    local pid rc=0
    if pid=$(nginx_pid); then
        kill -QUIT "$pid" 2>/dev/null || true
        if ! wait_gone "$pid" 100; then
            say "nginx (pid $pid) did not quit within 10 s; sending SIGTERM" >&2
            kill -TERM "$pid" 2>/dev/null || true
            wait_gone "$pid" 50 || { say "nginx (pid $pid) is still running" >&2; rc=1; }
        fi
        [ $rc -eq 0 ] && say "nginx stopped (pid $pid)"
    else
        say "nginx is not running"
    fi
    [ $rc -eq 0 ] && rm -f "$NGX_PID"

    if pid=$(fastcrm_pid); then
        kill -TERM "$pid" 2>/dev/null || true
        if wait_gone "$pid" 100; then
            say "fastcrm stopped (pid $pid)"
            rm -f "$PIDFILE"
        else
            say "fastcrm (pid $pid) did not stop within 10 s; sending SIGKILL to it and its workers" >&2
            local kids
            kids=$(children_of "$pid")
            # shellcheck disable=SC2086 # $kids is a list of pids
            kill -KILL "$pid" $kids 2>/dev/null || true
            if wait_gone "$pid" 20; then
                say "fastcrm killed (pid $pid)"
                rm -f "$PIDFILE"
            else
                say "fastcrm (pid $pid) is still running" >&2
                rc=1
            fi
        fi
    else
        say "fastcrm is not running"
        rm -f "$PIDFILE"
    fi
    return $rc
}

cmd_status() {
    local pid rc=0
    if pid=$(fastcrm_pid); then
        say "fastcrm: running (pid $pid), config $CONF"
    else
        say "fastcrm: not running"
        rc=3
    fi
    if pid=$(nginx_pid); then
        say "nginx:   running (pid $pid), $URL"
    else
        say "nginx:   not running"
        rc=3
    fi
    return $rc
}

case ${1:-} in
start) cmd_start ;;
stop) cmd_stop ;;
status) cmd_status ;;
*)
    printf 'usage: %s start|stop|status\n' "$prog" >&2
    exit 2
    ;;
esac
