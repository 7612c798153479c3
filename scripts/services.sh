#!/usr/bin/env bash
# The real servers the test suite (and a developer) uses, installed and run on 127.0.0.1.
#
#   scripts/services.sh install|start|stop|status [SERVICE|all]     (default: all)
#
# Services: influxdb (Debian's InfluxDB 1.x). Add one by writing install_X, start_X, stop_X and
# status_X below and listing X in SERVICES.
#
# State (configs, data, logs, pid files) lives in ${SYNTHWATCH_SERVICES_DIR:-<repo>/.services}.
# `start` picks free ports (a restart reuses the previous ones while they are free), waits until
# the server answers, and writes the addresses to
# $STATE/env (KEY=value lines, e.g. SYNTHWATCH_TEST_INFLUXDB_URL=http://127.0.0.1:PORT), which the
# tests read. Every command is idempotent: starting a running service or stopping a stopped one
# does nothing. Quiet on success; errors go to stderr with what to do, exit status 1.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
STATE=${SYNTHWATCH_SERVICES_DIR:-$ROOT/.services}
SERVICES=(influxdb)
START_TIMEOUT_S=${SYNTHWATCH_SERVICES_START_TIMEOUT_S:-60}
STOP_TIMEOUT_S=20

die() {
    echo "services.sh: $*" >&2
    exit 1
}

usage() {
    echo "usage: scripts/services.sh install|start|stop|status [${SERVICES[*]}|all]" >&2
    exit 2
}

# --- helpers ------------------------------------------------------------------------------------

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# port_or_free FILE -> the port saved in FILE if it is still free (a restarted service keeps its
# address), else a new free port, saved in FILE
port_or_free() {
    local port=""
    [[ -f $1 ]] && port=$(<"$1")
    if ! [[ $port =~ ^[0-9]+$ ]] || ! python3 -c 'import socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as servers bind: TIME_WAIT is fine
s.bind(("127.0.0.1", int(sys.argv[1])))' "$port" 2>/dev/null; then
        port=$(free_port)
    fi
    echo "$port" >"$1"
    echo "$port"
}

# http_status URL [METHOD] -> prints the HTTP status code, or 000 when nothing answers
http_status() {
    python3 - "$1" "${2:-GET}" <<'EOF'
import sys, urllib.error, urllib.request
try:
    req = urllib.request.Request(sys.argv[1], method=sys.argv[2])
    print(urllib.request.urlopen(req, timeout=2).status)
except urllib.error.HTTPError as err:
    print(err.code)
except OSError:
    print("000")
EOF
}

# alive PIDFILE NAME -> true when the pid in PIDFILE runs a program called NAME
alive() {
    local pid
    [[ -f $1 ]] || return 1
    pid=$(<"$1")
    [[ $pid =~ ^[0-9]+$ ]] || return 1
    [[ -r /proc/$pid/cmdline ]] || return 1
    tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q -- "$2"
}

# stop_pid PIDFILE NAME -> TERM, wait, KILL only if it does not go
stop_pid() {
    local pid i
    alive "$1" "$2" || { rm -f "$1"; return 0; }
    pid=$(<"$1")
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < STOP_TIMEOUT_S * 10; i++)); do
        [[ -d /proc/$pid ]] || break
        sleep 0.1
    done
    if [[ -d /proc/$pid ]]; then
        echo "services.sh: $2 (pid $pid) ignored TERM for ${STOP_TIMEOUT_S} s; killing it" >&2
        kill -KILL "$pid" 2>/dev/null || true
    fi
    rm -f "$1"
}

# The combined env file: every running service's own env lines.
write_env() {
    local svc
    mkdir -p "$STATE"
    : >"$STATE/env.tmp"
    for svc in "${SERVICES[@]}"; do
        [[ -f $STATE/$svc/env ]] && cat "$STATE/$svc/env" >>"$STATE/env.tmp"
    done
    mv "$STATE/env.tmp" "$STATE/env"
}

apt_install() { # apt_install [apt-get options] PACKAGES... (only the missing ones are installed)
    local opts=() missing=() p
    for p in "$@"; do
        if [[ $p == -* ]]; then opts+=("$p"); continue; fi
        dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
    done
    ((${#missing[@]})) || return 0
    [[ $(id -u) == 0 ]] || die "needs root to install ${missing[*]}: run 'sudo $0 install' or 'apt-get install ${missing[*]}'"
    if [[ ! -f $STATE/.apt-updated ]]; then
        mkdir -p "$STATE"
        DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null || die "apt-get update failed"
        touch "$STATE/.apt-updated"
    fi
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${opts[@]}" "${missing[@]}" >/dev/null \
        || die "apt-get install ${missing[*]} failed"
}

# --- influxdb (Debian's InfluxDB 1.x) -------------------------------------------------------------

install_influxdb() {
    apt_install influxdb influxdb-client
    # the compose-file validation test (docker/) needs docker-compose, without the docker engine
    apt_install --no-install-recommends docker-compose
    # the run-report test (dashboards/report.py) renders the HTML in Debian's headless chromium
    apt_install chromium
    # Debian's package enables a systemd unit; nothing here relies on it (start runs influxd itself)
}

start_influxdb() {
    local dir=$STATE/influxdb port rpc i code
    if alive "$dir/pid" influxd && [[ -f $dir/env ]]; then
        write_env
        return 0
    fi
    command -v influxd >/dev/null || die "influxd not found: run 'scripts/services.sh install influxdb' first"
    mkdir -p "$dir/meta" "$dir/data" "$dir/wal"
    port=$(port_or_free "$dir/http.port")
    rpc=$(port_or_free "$dir/rpc.port")
    while [[ $rpc == "$port" ]]; do
        rm -f "$dir/rpc.port"
        rpc=$(port_or_free "$dir/rpc.port")
    done
    # Debian 1.6 keys: "reporting-enabled" (reporting-disabled is silently ignored there);
    # the RPC bind address is top level, the HTTP one in [http].
    cat >"$dir/influxdb.conf" <<EOF
reporting-enabled = false
bind-address = "127.0.0.1:$rpc"
[meta]
  dir = "$dir/meta"
[data]
  dir = "$dir/data"
  wal-dir = "$dir/wal"
  query-log-enabled = false
[http]
  bind-address = "127.0.0.1:$port"
  log-enabled = false
[monitor]
  store-enabled = false
[continuous_queries]
  enabled = false
EOF
    (
        cd "$dir"
        exec influxd -config "$dir/influxdb.conf" >>"$dir/influxd.log" 2>&1
    ) &
    echo $! >"$dir/pid"
    for ((i = 0; i < START_TIMEOUT_S * 5; i++)); do
        code=$(http_status "http://127.0.0.1:$port/ping")
        [[ $code == 204 ]] && break
        if ! alive "$dir/pid" influxd; then
            tail -n 20 "$dir/influxd.log" >&2 || true
            rm -f "$dir/pid"
            die "influxd exited at start; its log is $dir/influxd.log (last lines above)"
        fi
        sleep 0.2
    done
    if [[ $code != 204 ]]; then
        stop_pid "$dir/pid" influxd
        die "influxd did not answer /ping on 127.0.0.1:$port within ${START_TIMEOUT_S} s; see $dir/influxd.log"
    fi
    echo "SYNTHWATCH_TEST_INFLUXDB_URL=http://127.0.0.1:$port" >"$dir/env"
    write_env
}

stop_influxdb() {
    local dir=$STATE/influxdb
    stop_pid "$dir/pid" influxd
    rm -f "$dir/env"
    write_env
}

status_influxdb() {
    local dir=$STATE/influxdb url
    if alive "$dir/pid" influxd && [[ -f $dir/env ]]; then
        url=$(sed -n 's/^SYNTHWATCH_TEST_INFLUXDB_URL=//p' "$dir/env")
        if [[ $(http_status "$url/ping") == 204 ]]; then
            echo "influxdb: running (pid $(<"$dir/pid")) at $url"
            return 0
        fi
        echo "influxdb: pid $(<"$dir/pid") does not answer at $url/ping"
        return 1
    fi
    echo "influxdb: stopped"
    return 1
}

# --- dispatch -------------------------------------------------------------------------------------

(($# >= 1 && $# <= 2)) || usage
action=$1
target=${2:-all}
case $action in install | start | stop | status) ;; *) usage ;; esac
if [[ $target == all ]]; then
    targets=("${SERVICES[@]}")
else
    [[ " ${SERVICES[*]} " == *" $target "* ]] || usage
    targets=("$target")
fi
if [[ $action == stop ]]; then # stop in reverse order of start
    for ((i = ${#targets[@]} - 1; i >= 0; i--)); do stop_"${targets[i]}"; done
    exit 0
fi
rc=0
for svc in "${targets[@]}"; do
    if [[ $action == status ]]; then
        status_"$svc" || rc=3
    else
        "${action}_$svc"
    fi
done
exit $rc
