#!/usr/bin/env bash
# Brings up a local HA cluster on 127.0.0.1: a monitor, a primary and a
# synchronous standby, then prints `pg_autoctl show state`.
#   bash scripts/demo.sh          start (as root: the cluster runs as `postgres`)
#   bash scripts/demo.sh stop     stop it and remove its files
# Settings: DEMO_DIR (default /tmp/pgaf-demo), DEMO_PORT (monitor port,
# default 6000; the nodes use the next two ports).
set -euo pipefail
# Typed by a sudoer, the script goes on as root (installs, cluster account);
# typed in a root shell, which may have no sudo, it just runs.
if [ "$(id -u)" -ne 0 ] && command -v sudo >/dev/null 2>&1; then
  exec sudo env "PATH=$PATH" bash "$0" "$@"
fi
cd "$(dirname "$0")/.."

DEMO_DIR=${DEMO_DIR:-/tmp/pgaf-demo}
PORT=${DEMO_PORT:-6000}
RUN_AS=()
if [ "$(id -u)" -eq 0 ]; then RUN_AS=(setpriv --reuid=postgres --regid=postgres --init-groups --); fi

autoctl() {
  env XDG_CONFIG_HOME="$DEMO_DIR/xdg/config" XDG_DATA_HOME="$DEMO_DIR/xdg/share" XDG_RUNTIME_DIR="$DEMO_DIR/xdg/run" \
    HOME="$DEMO_DIR" "${RUN_AS[@]}" node "$DEMO_DIR/tool/dist/cli/main.js" "$@"
}

wait_for() { # wait_for SECONDS DESCRIPTION COMMAND...
  local deadline=$((SECONDS + $1)) what=$2; shift 2
  until "$@" >/dev/null 2>&1; do
    if [ $SECONDS -ge $deadline ]; then echo "timed out waiting for $what" >&2; tail -n 30 "$DEMO_DIR"/*.log >&2 || true; exit 1; fi
    sleep 0.5
  done
}

stop_demo() {
  [ -d "$DEMO_DIR" ] || { echo "no demo cluster at $DEMO_DIR"; return 0; }
  for node in node2 node1 monitor; do
    [ -d "$DEMO_DIR/$node" ] && autoctl stop --pgdata "$DEMO_DIR/$node" 2>/dev/null || true
  done
  for pidfile in "$DEMO_DIR"/*.pid; do
    [ -f "$pidfile" ] || continue
    pid=$(cat "$pidfile")
    for _ in $(seq 1 60); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
    kill -0 "$pid" 2>/dev/null && kill -9 "$pid" || true
  done
  rm -rf "$DEMO_DIR"
  echo "demo cluster stopped and removed"
}

if [ "${1:-start}" = "stop" ]; then stop_demo; exit 0; fi

bash scripts/ensure-deps.sh >/dev/null
npm run --silent build
if [ -e "$DEMO_DIR" ]; then echo "$DEMO_DIR exists: run 'bash scripts/demo.sh stop' first" >&2; exit 1; fi
mkdir -p "$DEMO_DIR/tool" "$DEMO_DIR/xdg/config" "$DEMO_DIR/xdg/share" "$DEMO_DIR/xdg/run"
cp -r dist node_modules package.json "$DEMO_DIR/tool/"
chmod -R a+rX "$DEMO_DIR"
[ "$(id -u)" -eq 0 ] && chown -R postgres:postgres "$DEMO_DIR"

start() { # start NAME ARGS...
  local name=$1; shift
  autoctl "$@" >"$DEMO_DIR/$name.log" 2>&1 &
  echo $! >"$DEMO_DIR/$name.pid"
}

start monitor create monitor --pgdata "$DEMO_DIR/monitor" --pgport "$PORT" --hostname 127.0.0.1 --no-ssl --auth trust --run
wait_for 120 "the monitor" grep -q "Managing the monitor" "$DEMO_DIR/monitor.log"
MONITOR=$(autoctl show uri --pgdata "$DEMO_DIR/monitor" --formation monitor)

node_state() { autoctl show state --pgdata "$DEMO_DIR/monitor" --json | grep -q "\"current_group_state\": \"$1\""; }

start node1 create postgres --pgdata "$DEMO_DIR/node1" --pgport $((PORT + 1)) --hostname 127.0.0.1 \
  --auth trust --ssl-self-signed --monitor "$MONITOR" --run
wait_for 120 "node1 to be the primary" node_state single
start node2 create postgres --pgdata "$DEMO_DIR/node2" --pgport $((PORT + 2)) --hostname 127.0.0.1 \
  --auth trust --ssl-self-signed --monitor "$MONITOR" --run
wait_for 180 "node2 to be a secondary" node_state secondary

autoctl show state --pgdata "$DEMO_DIR/monitor"
autoctl show uri --pgdata "$DEMO_DIR/monitor"
echo "logs: $DEMO_DIR/*.log; stop with: bash scripts/demo.sh stop"
