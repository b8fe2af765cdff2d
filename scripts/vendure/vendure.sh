#!/usr/bin/env bash
# Start / stop the small Vendure test server in vendure-server/ (SQLite, no Docker).
#
#   scripts/vendure/vendure.sh start    install (npm ci) if needed, start on a free
#                                       loopback port, wait for readiness, print
#                                       VENDURE_URL=... lines (eval-able)
#   scripts/vendure/vendure.sh stop     SIGTERM by pid (SIGKILL after 15 s)
#   scripts/vendure/vendure.sh status | reset | install
#
# Environment (all optional):
#   VENDURE_PORT           port to listen on; default: a free loopback port
#   VENDURE_DATA_DIR       SQLite file, assets, log, pid and ready files
#                          (default vendure-server/data); one server per dir
#   VENDURE_START_TIMEOUT  seconds to wait for readiness (default 180)
#   VENDURE_SUPERADMIN, VENDURE_SUPERADMIN_PW  (default superadmin/superadmin)
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
SERVER_DIR="$(cd "$HERE/../../vendure-server" && pwd)"
export VENDURE_HOST=127.0.0.1
export VENDURE_DATA_DIR="${VENDURE_DATA_DIR:-$SERVER_DIR/data}"
export VENDURE_DISABLE_TELEMETRY=true
export VENDURE_SEARCH="${VENDURE_SEARCH:-0}"
# Without a heap cap V8 lets RSS drift to 1.5-2 GB during bulk writes.
export NODE_OPTIONS="${NODE_OPTIONS:---max-old-space-size=768}"
PIDFILE="$VENDURE_DATA_DIR/server.pid"
PORTFILE="$VENDURE_DATA_DIR/server.port"
READY="$VENDURE_DATA_DIR/server.ready"
LOG="$VENDURE_DATA_DIR/server.log"
TIMEOUT="${VENDURE_START_TIMEOUT:-180}"

log() { echo "[vendure.sh] $*" >&2; }

running_pid() {
    [ -f "$PIDFILE" ] || return 1
    local pid; pid="$(cat "$PIDFILE")"
    [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null && echo "$pid"
}

free_port() {
    node -e "const s=require('net').createServer();s.listen(0,'127.0.0.1',()=>{console.log(s.address().port);s.close()})"
}

api_ok() {
    curl -fsS -m 5 -o /dev/null -H 'content-type: application/json' \
        --data '{"query":"{ __typename }"}' "http://127.0.0.1:$1/admin-api" 2>/dev/null
}

print_urls() {
    local base="http://127.0.0.1:$2"
    echo "VENDURE_URL=$base"
    echo "VENDURE_ADMIN_API=$base/admin-api"
    echo "VENDURE_SHOP_API=$base/shop-api"
    echo "VENDURE_PID=$1"
}

install_deps() {
    command -v node >/dev/null || { log "node not found (Node >= 20 needed)"; exit 1; }
    local major; major="$(node -p 'process.versions.node.split(".")[0]')"
    [ "$major" -ge 20 ] || { log "Node >= 20 required, have $(node -v)"; exit 1; }
    local stamp="$SERVER_DIR/node_modules/.ecomsync-install-stamp"
    local want
    want="$(cat "$SERVER_DIR/package.json" "$SERVER_DIR/package-lock.json" | sha256sum | cut -c1-16)-$(node -v)"
    if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
        return 0
    fi
    log "installing npm dependencies (cold: ~1-1.5 min, compiles better-sqlite3)"
    # better-sqlite3 is compiled by node-gyp (no reachable prebuilt binary):
    # needs make, g++, python3 and the Node headers.
    if [ -z "${npm_config_nodedir:-}" ] && [ -f /usr/include/node/node.h ]; then
        export npm_config_nodedir=/usr
    fi
    local t0=$SECONDS
    (cd "$SERVER_DIR" && npm ci --no-audit --no-fund --loglevel=error) >&2
    (cd "$SERVER_DIR" && node -e "require('better-sqlite3')(':memory:').close()") \
        || { log "better-sqlite3 does not load"; exit 1; }
    echo "$want" > "$stamp"
    log "npm ci done in $((SECONDS - t0)) s"
}

start() {
    mkdir -p "$VENDURE_DATA_DIR"
    local pid port
    if pid="$(running_pid)"; then
        port="$(cat "$PORTFILE")"
        log "already running (pid $pid, port $port)"
    else
        install_deps
        port="${VENDURE_PORT:-$(free_port)}"
        if api_ok "$port"; then
            log "something else already answers on port $port; refusing"; exit 1
        fi
        rm -f "$READY"
        log "starting Vendure on 127.0.0.1:$port (log: $LOG)"
        # setsid: own process group, so it outlives this script's shell
        ( cd "$SERVER_DIR" && VENDURE_PORT="$port" exec setsid node index.js >>"$LOG" 2>&1 < /dev/null ) &
        pid=$!
        echo "$pid" > "$PIDFILE"
        echo "$port" > "$PORTFILE"
    fi
    local t0=$SECONDS
    while :; do
        if ! kill -0 "$pid" 2>/dev/null; then
            log "server process $pid exited; last log lines:"; tail -n 40 "$LOG" >&2
            rm -f "$PIDFILE"; exit 1
        fi
        if [ -f "$READY" ] && grep -q "\"pid\":$pid," "$READY" && api_ok "$port"; then
            break
        fi
        if [ $((SECONDS - t0)) -ge "$TIMEOUT" ]; then
            log "not ready after ${TIMEOUT}s; last log lines:"; tail -n 40 "$LOG" >&2; exit 1
        fi
        sleep 0.2
    done
    log "ready after $((SECONDS - t0)) s"
    print_urls "$pid" "$port"
}

stop() {
    local pid
    if pid="$(running_pid)"; then
        # VENDURE_STOP_SIGNAL=KILL: instant stop for a store that is thrown away
        kill -"${VENDURE_STOP_SIGNAL:-TERM}" "$pid"
        for _ in $(seq 1 60); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
        if kill -0 "$pid" 2>/dev/null; then log "pid $pid still alive, SIGKILL"; kill -KILL "$pid"; fi
        log "stopped pid $pid"
    else
        log "not running"
    fi
    rm -f "$PIDFILE" "$READY" "$PORTFILE"
}

case "${1:-start}" in
    start) start ;;
    stop) stop ;;
    status)
        if pid="$(running_pid)"; then print_urls "$pid" "$(cat "$PORTFILE")"
        else echo "not running"; exit 1; fi ;;
    reset) stop; rm -rf "$VENDURE_DATA_DIR"; log "removed $VENDURE_DATA_DIR" ;;
    install) install_deps ;;
    *) echo "usage: $0 [start|stop|status|reset|install]" >&2; exit 2 ;;
esac
