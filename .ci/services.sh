#!/usr/bin/env bash
# Start or stop the real servers the network tests run against, all on 127.0.0.1:
#   - one standalone redis-server (no persistence, no password),
#   - a Redis Cluster of 3 masters,
#   - memcached,
#   - PostgreSQL (database `beaker_test`, trust auth on 127.0.0.1).
#
# Usage:
#   bash .ci/services.sh start    # installs what is missing (apt), starts everything, prints env file path
#   source "$DIR/env.sh"          # exports BEAKER_TEST_* for the tests
#   bash .ci/services.sh stop     # stops everything started in $BEAKER_SERVICES_DIR (or `stop DIR`)
#
# Data, logs and pid files live in $BEAKER_SERVICES_DIR (default: a fresh `mktemp -d`).
# `start` on a directory whose servers are all alive reuses them; on one with leftovers it stops
# them first. Ports are chosen free by the kernel. Meant for Debian 12 as root (CI); works as an
# ordinary user when the binaries are already installed.
set -euo pipefail

MARKER=".beaker-services"

log() { printf 'services: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

# --------------------------------------------------------------------------- installation

pg_bindir() {
    if [ -x /usr/lib/postgresql/15/bin/initdb ]; then
        echo /usr/lib/postgresql/15/bin
        return 0
    fi
    local dir
    dir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
    [ -n "$dir" ] && [ -x "$dir/initdb" ] && echo "$dir"
}

install_missing() {
    local packages=()
    command -v redis-server >/dev/null 2>&1 || packages+=(redis-server)
    command -v redis-cli >/dev/null 2>&1 || packages+=(redis-tools)
    command -v memcached >/dev/null 2>&1 || packages+=(memcached)
    pg_bindir >/dev/null || packages+=(postgresql)
    if [ "$(id -u)" -eq 0 ] && ! command -v runuser >/dev/null 2>&1; then
        packages+=(util-linux)
    fi
    [ ${#packages[@]} -eq 0 ] && return 0
    command -v apt-get >/dev/null 2>&1 || die "missing ${packages[*]} and no apt-get to install them"
    log "installing ${packages[*]}"
    export DEBIAN_FRONTEND=noninteractive
    # `apt-get update` only when the package lists cannot satisfy the install.
    if ! as_root apt-get install -y -q --no-install-recommends "${packages[@]}" >&2; then
        as_root apt-get update -q >&2
        as_root apt-get install -y -q --no-install-recommends "${packages[@]}" >&2
    fi
}

# --------------------------------------------------------------------------- helpers

# Print N distinct free TCP ports on 127.0.0.1 (all sockets held open while choosing).
free_ports() {
    local count=$1
    if command -v python3 >/dev/null 2>&1; then
        python3 - "$count" <<'PY'
import socket, sys
socks = []
for _ in range(int(sys.argv[1])):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    socks.append(s)
print(" ".join(str(s.getsockname()[1]) for s in socks))
PY
        return
    fi
    # No python: probe random high ports that nothing answers on (bus ports must be < 65536).
    local ports=() port
    while [ ${#ports[@]} -lt "$count" ]; do
        port=$((20000 + RANDOM % 30000))
        case " ${ports[*]} " in *" $port "*) continue ;; esac
        if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then ports+=("$port"); fi
    done
    echo "${ports[*]}"
}

# wait_for DESCRIPTION SECONDS COMMAND...: retry COMMAND every 0.1 s until it succeeds.
wait_for() {
    local what=$1 seconds=$2
    shift 2
    local tries=$((seconds * 10))
    while ! "$@" >/dev/null 2>&1; do
        tries=$((tries - 1))
        [ "$tries" -gt 0 ] || die "$what did not come up within ${seconds}s (logs in $DIR)"
        sleep 0.1
    done
}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

redis_ping() { [ "$(redis-cli -h 127.0.0.1 -p "$1" ping 2>/dev/null)" = "PONG" ]; }

cluster_ok() {
    local port
    for port in "$@"; do
        redis-cli -h 127.0.0.1 -p "$port" cluster info 2>/dev/null | grep -q '^cluster_state:ok' || return 1
    done
}

pid_alive() { [ -s "$1" ] && kill -0 "$(head -n 1 "$1")" 2>/dev/null; }

all_alive() {
    local f
    for f in redis.pid cluster-1.pid cluster-2.pid cluster-3.pid memcached.pid; do
        pid_alive "$DIR/$f" || return 1
    done
    pid_alive "$DIR/pg/data/postmaster.pid"
}

# --------------------------------------------------------------------------- servers

start_redis() {  # start_redis NAME PORT [extra redis-server args...]
    local name=$1 port=$2
    shift 2
    mkdir -p "$DIR/$name"
    redis-server --bind 127.0.0.1 --port "$port" --protected-mode yes \
        --save '' --appendonly no --dir "$DIR/$name" \
        --daemonize yes --pidfile "$DIR/$name.pid" --logfile "$DIR/$name.log" "$@"
    wait_for "redis-server $name on port $port" 20 redis_ping "$port"
}

start_cluster() {  # start_cluster P1 P2 P3 BUS1 BUS2 BUS3
    local ports=("$1" "$2" "$3") buses=("$4" "$5" "$6") i
    for i in 0 1 2; do
        start_redis "cluster-$((i + 1))" "${ports[$i]}" --cluster-enabled yes \
            --cluster-port "${buses[$i]}" --cluster-config-file "$DIR/cluster-$((i + 1))/nodes.conf" \
            --cluster-node-timeout 5000
    done
    redis-cli --cluster create "127.0.0.1:${ports[0]}" "127.0.0.1:${ports[1]}" "127.0.0.1:${ports[2]}" \
        --cluster-replicas 0 --cluster-yes >"$DIR/cluster-create.log" 2>&1 \
        || { cat "$DIR/cluster-create.log" >&2; die "redis-cli --cluster create failed"; }
    wait_for "Redis Cluster (cluster_state:ok)" 30 cluster_ok "${ports[@]}"
}

start_memcached() {
    local port=$1 user
    user=$(id -un)
    memcached -d -l 127.0.0.1 -p "$port" -U 0 -m 64 -u "$user" -P "$DIR/memcached.pid" \
        >"$DIR/memcached.log" 2>&1 || die "memcached did not start"
    wait_for "memcached on port $port" 20 port_open "$port"
    wait_for "memcached pid file" 5 test -s "$DIR/memcached.pid"
}

as_postgres() {
    if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

start_postgresql() {
    local port=$1 bindir
    bindir=$(pg_bindir) || die "PostgreSQL binaries not found under /usr/lib/postgresql"
    mkdir -p "$DIR/pg"
    if [ "$(id -u)" -eq 0 ]; then
        id postgres >/dev/null 2>&1 || die "no postgres user (install the postgresql package)"
        chown postgres: "$DIR/pg"
        runuser -u postgres -- test -w "$DIR/pg" \
            || die "the postgres user cannot reach $DIR/pg: use a BEAKER_SERVICES_DIR under /tmp"
    fi
    as_postgres "$bindir/initdb" -D "$DIR/pg/data" -U postgres --auth=trust --no-sync \
        -E UTF8 --locale=C >"$DIR/pg/initdb.log" 2>&1 \
        || { cat "$DIR/pg/initdb.log" >&2; die "initdb failed"; }
    as_postgres "$bindir/pg_ctl" -D "$DIR/pg/data" -l "$DIR/pg/postgresql.log" -w -t 60 \
        -o "-c listen_addresses=127.0.0.1 -p $port -c unix_socket_directories=$DIR/pg -c fsync=off -c synchronous_commit=off -c full_page_writes=off" \
        start >/dev/null \
        || { tail -n 30 "$DIR/pg/postgresql.log" >&2; die "PostgreSQL did not start"; }
    as_postgres "$bindir/createdb" -h 127.0.0.1 -p "$port" -U postgres beaker_test
}

# --------------------------------------------------------------------------- commands

cmd_start() {
    DIR=${BEAKER_SERVICES_DIR:-}
    if [ -z "$DIR" ]; then
        DIR=$(mktemp -d "${TMPDIR:-/tmp}/beaker-services.XXXXXX")
    fi
    mkdir -p "$DIR"
    DIR=$(cd "$DIR" && pwd)
    if [ -f "$DIR/env.sh" ] && all_alive; then
        log "already running in $DIR"
        echo "$DIR/env.sh"
        return 0
    fi
    if [ -f "$DIR/$MARKER" ]; then
        log "stopping leftovers in $DIR"
        cmd_stop "$DIR" keep
    elif [ -n "$(ls -A "$DIR")" ]; then
        die "$DIR is not empty and was not made by this script"
    fi
    touch "$DIR/$MARKER"
    chmod 755 "$DIR"  # the postgres user must reach its data dir inside

    install_missing

    local ports
    read -r -a ports <<<"$(free_ports 9)"
    local redis_port=${ports[0]} memcached_port=${ports[7]} pg_port=${ports[8]}

    trap 'status=$?; if [ "$status" -ne 0 ]; then show_logs; log "start failed; stopping what was started"; cmd_stop "$DIR" keep || true; fi' EXIT
    start_redis redis "$redis_port"
    start_cluster "${ports[1]}" "${ports[2]}" "${ports[3]}" "${ports[4]}" "${ports[5]}" "${ports[6]}"
    start_memcached "$memcached_port"
    start_postgresql "$pg_port"

    cat >"$DIR/env.sh" <<ENV
# Written by .ci/services.sh: source this file to point the network tests at the servers.
export BEAKER_SERVICES_DIR=$DIR
export BEAKER_TEST_REDIS_URL=redis://127.0.0.1:$redis_port/0
export BEAKER_TEST_REDIS_CLUSTER_URL=redis://127.0.0.1:${ports[1]}
export BEAKER_TEST_MEMCACHED=127.0.0.1:$memcached_port
export BEAKER_TEST_POSTGRESQL_URL=postgresql+psycopg://postgres@127.0.0.1:$pg_port/beaker_test
export BEAKER_TEST_REDIS_SERVER_BIN=$(command -v redis-server)
ENV
    log "started redis :$redis_port, cluster :${ports[1]},${ports[2]},${ports[3]}, memcached :$memcached_port, postgresql :$pg_port"
    echo "$DIR/env.sh"
}

show_logs() {  # the tail of every server log, for a failed start in CI
    local file
    for file in "$DIR"/*.log "$DIR"/pg/*.log; do
        [ -s "$file" ] || continue
        printf -- '--- %s\n' "$file" >&2
        tail -n 20 "$file" >&2
    done
}

kill_pidfile() {  # kill_pidfile FILE: SIGTERM, wait up to 10 s, then SIGKILL
    local file=$1 pid tries=100
    [ -s "$file" ] || return 0
    pid=$(head -n 1 "$file")
    if kill -0 "$pid" 2>/dev/null; then
        kill -TERM "$pid" 2>/dev/null || true
        while kill -0 "$pid" 2>/dev/null && [ "$tries" -gt 0 ]; do
            sleep 0.1
            tries=$((tries - 1))
        done
        kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null || true
    fi
    rm -f "$file"
}

cmd_stop() {  # cmd_stop [DIR] [keep]
    DIR=${1:-${BEAKER_SERVICES_DIR:-}}
    local keep=${2:-}
    [ -n "$DIR" ] || die "stop: give the directory (argument or BEAKER_SERVICES_DIR)"
    [ -d "$DIR" ] || { log "nothing to stop: no $DIR"; return 0; }
    [ -f "$DIR/$MARKER" ] || die "$DIR was not made by this script"
    local bindir
    if [ -s "$DIR/pg/data/postmaster.pid" ] && bindir=$(pg_bindir); then
        as_postgres "$bindir/pg_ctl" -D "$DIR/pg/data" -m immediate -w stop >/dev/null 2>&1 || true
    fi
    kill_pidfile "$DIR/pg/data/postmaster.pid"
    local f
    for f in redis.pid cluster-1.pid cluster-2.pid cluster-3.pid memcached.pid; do
        kill_pidfile "$DIR/$f"
    done
    if [ "$keep" = keep ]; then
        find "$DIR" -mindepth 1 -maxdepth 1 ! -name "$MARKER" -exec rm -rf {} +
    else
        rm -rf "$DIR"
        log "stopped and removed $DIR"
    fi
}

case "${1:-}" in
    start) cmd_start ;;
    stop) cmd_stop "${2:-}" ;;
    *) echo "usage: $0 start|stop [DIR]" >&2; exit 2 ;;
esac
