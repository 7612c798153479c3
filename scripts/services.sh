#!/usr/bin/env bash
# The real servers the test suite (and a developer) uses, installed and run on 127.0.0.1.
#
#   scripts/services.sh install|start|stop|status [SERVICE|all]     (default: all)
#
# Services: influxdb (Debian's InfluxDB 1.x), kafka (Apache Kafka 4.1.1, single-node KRaft, from
# Apache's jars on Maven Central, cached in ${SYNTHWATCH_KAFKA_CACHE:-~/.cache/synthwatch-kafka}). Add one by writing install_X, start_X, stop_X and
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
SERVICES=(influxdb kafka)
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
    # the run-report test (dashboards/reports/run_report.py) renders the HTML in Debian's headless chromium
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

# --- kafka (Apache Kafka 4.x, single node in KRaft mode, from Maven Central) ----------------------

KAFKA_VERSION=4.1.1
LOG4J_VERSION=2.24.3 # the log4j-core that kafka_2.13 $KAFKA_VERSION pulls in
# outside the repo: CI runs on a fresh clone, the jars (43 MB) are fetched once per machine
KAFKA_CACHE=${SYNTHWATCH_KAFKA_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/synthwatch-kafka}/$KAFKA_VERSION

install_kafka() {
    local java_major
    command -v java >/dev/null || apt_install default-jre-headless
    java_major=$(java -XshowSettings:properties -version 2>&1 | sed -n 's/^ *java.specification.version = //p')
    [[ ${java_major%%.*} -ge 17 ]] || die "Kafka $KAFKA_VERSION needs Java 17 or newer, found '$java_major': install openjdk-17-jre-headless"
    [[ -f $KAFKA_CACHE/libs/.complete ]] && return 0
    command -v mvn >/dev/null || apt_install --no-install-recommends maven
    mkdir -p "$KAFKA_CACHE"
    # kafka_2.13 holds kafka.Kafka and kafka.tools.StorageTool; log4j's slf4j binding is not
    # pulled in by it, and without it the broker logs nothing (and start waits for its log)
    cat >"$KAFKA_CACHE/pom.xml" <<POM
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>synthwatch</groupId>
  <artifactId>kafka-broker</artifactId>
  <version>1</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency>
      <groupId>org.apache.kafka</groupId>
      <artifactId>kafka_2.13</artifactId>
      <version>$KAFKA_VERSION</version>
    </dependency>
    <dependency>
      <groupId>org.apache.logging.log4j</groupId>
      <artifactId>log4j-slf4j-impl</artifactId>
      <version>$LOG4J_VERSION</version>
    </dependency>
  </dependencies>
</project>
POM
    rm -rf "$KAFKA_CACHE/libs"
    mvn -B -q -f "$KAFKA_CACHE/pom.xml" -Dmaven.repo.local="$KAFKA_CACHE/m2" \
        dependency:copy-dependencies -DincludeScope=runtime -DoutputDirectory="$KAFKA_CACHE/libs" \
        >"$KAFKA_CACHE/mvn.log" 2>&1 \
        || die "fetching Kafka $KAFKA_VERSION from Maven Central failed; see $KAFKA_CACHE/mvn.log"
    [[ -f $KAFKA_CACHE/libs/kafka_2.13-$KAFKA_VERSION.jar ]] \
        || die "no kafka_2.13-$KAFKA_VERSION.jar in $KAFKA_CACHE/libs; see $KAFKA_CACHE/mvn.log"
    touch "$KAFKA_CACHE/libs/.complete"
}

start_kafka() {
    local dir=$STATE/kafka port ctl i cluster started=""
    if alive "$dir/pid" kafka.Kafka && [[ -f $dir/env ]]; then
        write_env
        return 0
    fi
    [[ -f $KAFKA_CACHE/libs/.complete ]] || die "Kafka $KAFKA_VERSION jars not in $KAFKA_CACHE: run 'scripts/services.sh install kafka' first"
    mkdir -p "$dir/data" "$dir/logs"
    port=$(port_or_free "$dir/broker.port")
    ctl=$(port_or_free "$dir/controller.port")
    while [[ $ctl == "$port" ]]; do
        rm -f "$dir/controller.port"
        ctl=$(port_or_free "$dir/controller.port")
    done
    # single node, static quorum; the internal topics have one replica and one partition (fast
    # group joins); the log dir keeps data and committed offsets across restarts
    cat >"$dir/server.properties" <<PROPS
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$ctl
listeners=PLAINTEXT://127.0.0.1:$port,CONTROLLER://127.0.0.1:$ctl
advertised.listeners=PLAINTEXT://127.0.0.1:$port
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs=$dir/data
num.partitions=1
offsets.topic.replication.factor=1
offsets.topic.num.partitions=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
auto.create.topics.enable=false
PROPS
    cat >"$dir/log4j2.properties" <<'LOG4J'
appender.file.type=File
appender.file.name=FILE
appender.file.fileName=${sys:kafka.logs.dir}/server.log
appender.file.layout.type=PatternLayout
appender.file.layout.pattern=[%d] %p %m (%c)%n
rootLogger.level=INFO
rootLogger.appenderRef.file.ref=FILE
LOG4J
    if [[ ! -f $dir/data/meta.properties ]]; then
        cluster=$(java -cp "$KAFKA_CACHE/libs/*" kafka.tools.StorageTool random-uuid 2>>"$dir/logs/format.log") \
            || die "kafka StorageTool random-uuid failed; see $dir/logs/format.log"
        java -cp "$KAFKA_CACHE/libs/*" kafka.tools.StorageTool format -t "$cluster" \
            -c "$dir/server.properties" >>"$dir/logs/format.log" 2>&1 \
            || die "kafka StorageTool format failed; see $dir/logs/format.log"
    fi
    # a restart must wait for its own "started" line, not the previous run's
    if [[ -f $dir/logs/server.log ]]; then mv "$dir/logs/server.log" "$dir/logs/server.log.1"; fi
    (
        cd "$dir"
        exec java -Xmx512m -Xms128m -XX:+UseSerialGC \
            -Dlog4j2.configurationFile="$dir/log4j2.properties" -Dkafka.logs.dir="$dir/logs" \
            -cp "$KAFKA_CACHE/libs/*" kafka.Kafka "$dir/server.properties" >>"$dir/logs/stdout.log" 2>&1
    ) &
    echo $! >"$dir/pid"
    for ((i = 0; i < START_TIMEOUT_S * 5; i++)); do
        if grep -q "Kafka Server started" "$dir/logs/server.log" 2>/dev/null; then
            started=1
            break
        fi
        if [[ ! -d /proc/$(<"$dir/pid") ]]; then # (alive would race the subshell's exec)
            tail -n 20 "$dir/logs/server.log" "$dir/logs/stdout.log" >&2 2>/dev/null || true
            rm -f "$dir/pid"
            die "kafka exited at start; its logs are in $dir/logs (last lines above)"
        fi
        sleep 0.2
    done
    if [[ -z $started ]]; then
        stop_pid "$dir/pid" kafka.Kafka
        die "kafka did not log 'Kafka Server started' within ${START_TIMEOUT_S} s; see $dir/logs/server.log"
    fi
    echo "SYNTHWATCH_TEST_KAFKA_BOOTSTRAP=127.0.0.1:$port" >"$dir/env"
    write_env
}

stop_kafka() {
    local dir=$STATE/kafka
    stop_pid "$dir/pid" kafka.Kafka
    rm -f "$dir/env"
    write_env
}

status_kafka() {
    local dir=$STATE/kafka addr
    if alive "$dir/pid" kafka.Kafka && [[ -f $dir/env ]]; then
        addr=$(sed -n 's/^SYNTHWATCH_TEST_KAFKA_BOOTSTRAP=//p' "$dir/env")
        if python3 -c 'import socket, sys
host, port = sys.argv[1].rsplit(":", 1)
socket.create_connection((host, int(port)), timeout=2).close()' "$addr" 2>/dev/null; then
            echo "kafka: running (pid $(<"$dir/pid")) at $addr"
            return 0
        fi
        echo "kafka: pid $(<"$dir/pid") does not accept connections at $addr"
        return 1
    fi
    echo "kafka: stopped"
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
