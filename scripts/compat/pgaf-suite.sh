#!/usr/bin/env bash
# Runs modules of the original pg_auto_failover Python test suite (nose,
# tests/test_*.py of a pg_auto_failover checkout, e.g. tag v2.0) against our
# pg_autoctl, in the environment the original's test Docker image provides:
#   - python3-nose, python3-pyroute2, python3-psycopg2 and sudo installed;
#   - an unprivileged account in the `sudo` and `postgres` groups with
#     passwordless sudo (here `pgafcompat`), that runs every pg_autoctl and
#     Postgres process of the suite;
#   - PG_AUTOCTL_DEBUG=1, the PostgreSQL bin directory on PATH, and the
#     pg_autoctl under test first on PATH;
#   - nosetests itself run as root (the suite makes its own network
#     namespaces, a bridge `pgauto-br` and 172.27.1.0/24 addresses).
#
# Usage (as root, or as a sudoer):
#   bash scripts/compat/pgaf-suite.sh PATH-TO-PGAF-CHECKOUT MODULE...
#   e.g. git -C <pg_auto_failover repo> worktree add /tmp/pgaf-v2.0 v2.0
#        bash scripts/compat/pgaf-suite.sh /tmp/pgaf-v2.0 test_basic_operation
# Options (environment):
#   PGAF_COMPAT_TOOL=/usr/bin/pg_autoctl  run the suite against that program
#                                         instead of building ours
#   PGAF_COMPAT_KEEP_GOING=1   do not stop a module at its first failure
#                              (the original's `make test` uses --stop)
#   PGAF_COMPAT_PGVERSION=15   PostgreSQL major version (bin dir on PATH)
#   PGAF_COMPAT_TIMEOUT=2400   seconds before a module run is stopped
#   PGAF_COMPAT_LOG_DIR=DIR    where each module's output is kept
#   PGAF_COMPAT_JSON_LOG=FILE  every pg_autoctl process (ours) also appends
#                              its log there as JSON lines (pid in each)
#                              (default /tmp/pgaf-compat-logs)
# Modules run one at a time; after each one, whatever it left running
# (processes of the pgafcompat account, its namespaces, its /tmp
# directories) is stopped and removed. Exit status: 0 when all modules pass.
set -uo pipefail

if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then exec sudo env "PATH=$PATH" bash "$0" "$@"; fi
  echo "pgaf-suite.sh must run as root (or through sudo)" >&2
  exit 1
fi

if [ $# -lt 2 ]; then
  sed -n '2,28p' "$0" | sed 's/^# \{0,1\}//' >&2
  exit 1
fi

REPO=$(cd "$(dirname "$0")/../.." && pwd)
CHECKOUT=$(cd "$1" 2>/dev/null && pwd) || { echo "no such directory: $1" >&2; exit 1; }
shift
MODULES=("$@")
COMPAT_USER=pgafcompat
PGVERSION=${PGAF_COMPAT_PGVERSION:-15}
PGBIN=/usr/lib/postgresql/$PGVERSION/bin
TIMEOUT=${PGAF_COMPAT_TIMEOUT:-2400}
LOG_DIR=${PGAF_COMPAT_LOG_DIR:-/tmp/pgaf-compat-logs}

[ -f "$CHECKOUT/tests/pgautofailover_utils.py" ] || { echo "$CHECKOUT is not a pg_auto_failover checkout (no tests/pgautofailover_utils.py)" >&2; exit 1; }
[ -x "$PGBIN/pg_ctl" ] || { echo "PostgreSQL $PGVERSION is not installed ($PGBIN/pg_ctl missing)" >&2; exit 1; }
for module in "${MODULES[@]}"; do
  [[ "$module" =~ ^test_[A-Za-z0-9_]+$ ]] || { echo "not a module name: $module (expected test_xxx)" >&2; exit 1; }
  [ -f "$CHECKOUT/tests/$module.py" ] || { echo "no module $CHECKOUT/tests/$module.py" >&2; exit 1; }
done

# One run at a time: the suite's namespace and bridge names are fixed.
exec 9>/run/pgaf-compat.lock
flock -n 9 || { echo "another pgaf-suite.sh run is in progress" >&2; exit 1; }

log() { printf '%s pgaf-suite: %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

# --- packages -----------------------------------------------------------
missing=()
for pkg in sudo python3-nose python3-pyroute2 python3-psycopg2; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
  log "installing ${missing[*]}"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" || { echo "apt-get install failed" >&2; exit 1; }
fi
NOSETESTS=$(command -v nosetests3 || command -v nosetests) || { echo "nosetests not found" >&2; exit 1; }

# --- the unprivileged account ---------------------------------------------
if ! id "$COMPAT_USER" >/dev/null 2>&1; then
  log "creating account $COMPAT_USER"
  useradd --create-home --home-dir "/var/lib/$COMPAT_USER" --shell /bin/bash "$COMPAT_USER" || exit 1
fi
usermod -a -G sudo,postgres "$COMPAT_USER" || exit 1
SUDOERS=/etc/sudoers.d/$COMPAT_USER
if [ ! -f "$SUDOERS" ]; then
  echo "$COMPAT_USER ALL=(ALL:ALL) NOPASSWD: ALL" >"$SUDOERS.tmp" && chmod 0440 "$SUDOERS.tmp" \
    && visudo -cf "$SUDOERS.tmp" >/dev/null && mv "$SUDOERS.tmp" "$SUDOERS" || { rm -f "$SUDOERS.tmp"; echo "cannot write $SUDOERS" >&2; exit 1; }
fi

# --- the pg_autoctl under test --------------------------------------------
WORK=$(mktemp -d /tmp/pgaf-compat.XXXXXX)
chmod 0755 "$WORK"
mkdir -p "$WORK/bin"
if [ -n "${PGAF_COMPAT_TOOL:-}" ]; then
  [ -x "$PGAF_COMPAT_TOOL" ] || { echo "PGAF_COMPAT_TOOL=$PGAF_COMPAT_TOOL is not executable" >&2; exit 1; }
  ln -s "$PGAF_COMPAT_TOOL" "$WORK/bin/pg_autoctl"
  log "tool under test: $PGAF_COMPAT_TOOL"
else
  NODE=$(command -v node) || { echo "node not found" >&2; exit 1; }
  log "building pg_autoctl in $REPO"
  (cd "$REPO" && npm run --silent build) || { echo "build failed" >&2; exit 1; }
  mkdir -p "$WORK/tool"
  # -H: node_modules may be a symbolic link (git worktrees); copy what it names.
  (cd "$REPO" && cp -rH dist node_modules package.json "$WORK/tool/") || exit 1
  chmod -R a+rX "$WORK/tool"
  printf '#!/bin/sh\nexec %s %s "$@"\n' "$NODE" "$WORK/tool/dist/cli/main.js" >"$WORK/bin/pg_autoctl"
  chmod 0755 "$WORK/bin/pg_autoctl"
  log "tool under test: our pg_autoctl ($WORK/tool)"
fi

# The suite, read by root (nosetests) and by the account: a private copy.
mkdir -p "$WORK/suite"
cp -r "$CHECKOUT/tests" "$WORK/suite/" || exit 1
chmod -R a+rX "$WORK/suite"
mkdir -p "$LOG_DIR"

# --- cleanup ------------------------------------------------------------
# Top-level /tmp directories a module uses (its datadirs, certificates).
module_dirs() { grep -o '"/tmp/[^"/]*' "$CHECKOUT/tests/$1.py" | sed 's/^"//' | sort -u; }

account_pids() { ps -u "$COMPAT_USER" -o pid= 2>/dev/null | tr -d ' '; }

# Stops what a module left: the account's processes (pg_autoctl, postgres:
# the account runs nothing else), then the suite's namespaces and bridge.
cleanup_module() {
  local module=$1 pids pid
  pids=$(account_pids)
  if [ -n "$pids" ]; then
    log "stopping processes left by $module: $(ps -o pid=,args= -p "$(echo $pids | tr ' ' ,)" | cut -c1-100 | tr '\n' ';')"
    for pid in $pids; do kill -TERM "$pid" 2>/dev/null; done
    for _ in $(seq 1 40); do [ -z "$(account_pids)" ] && break; sleep 0.5; done
    for pid in $(account_pids); do kill -KILL "$pid" 2>/dev/null; done
  fi
  local ns
  for ns in $(ip netns list 2>/dev/null | awk '{print $1}' | grep '^pgauto-'); do
    ip netns pids "$ns" 2>/dev/null | while read -r pid; do kill -KILL "$pid" 2>/dev/null; done
    ip link del "${ns}p" 2>/dev/null
    ip netns del "$ns" 2>/dev/null
  done
  ip link del pgauto-br 2>/dev/null
  local dir
  for dir in $(module_dirs "$module"); do
    [ -e "$dir" ] && [ ! -e "$WORK/preexisting$dir" ] && rm -rf "$dir"
  done
  rm -rf "$WORK/home"
}

current_module=""
on_exit() {
  [ -n "$current_module" ] && cleanup_module "$current_module"
  rm -rf "$WORK"
}
trap on_exit EXIT
trap 'exit 130' INT TERM

# --- run ----------------------------------------------------------------
summary=()
status=0
for module in "${MODULES[@]}"; do
  # Directories a previous run of ours left (owned by the account) go; any
  # other existing one would mix with the module's files: refuse.
  rm -rf "$WORK/preexisting" && mkdir -p "$WORK/preexisting/tmp"
  for dir in $(module_dirs "$module"); do
    if [ -e "$dir" ]; then
      if [ "$(stat -c %U "$dir")" = "$COMPAT_USER" ]; then rm -rf "$dir"
      else echo "$dir exists (owner $(stat -c %U "$dir")): remove it or run elsewhere" >&2; touch "$WORK/preexisting$dir"; fi
    fi
  done
  if ls "$WORK/preexisting/tmp" | grep -q .; then status=1; summary+=("$module: not run (existing directories)"); continue; fi
  current_module=$module
  mkdir -p "$WORK/home" && chown "$COMPAT_USER:$COMPAT_USER" "$WORK/home"
  out="$LOG_DIR/$module.log"
  nose_args=(--verbose --nologcapture --nocapture)
  [ -n "${PGAF_COMPAT_KEEP_GOING:-}" ] || nose_args+=(--stop)
  log "running $module (output: $out)"
  start=$SECONDS
  # As the original's `make test`: sudo -E env PATH=... USER=docker nosetests.
  (cd "$WORK/suite" && timeout --kill-after=30 "$TIMEOUT" env -i \
    PATH="$WORK/bin:$PGBIN:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" \
    HOME="$WORK/home" USER="$COMPAT_USER" LOGNAME="$COMPAT_USER" LANG=C.UTF-8 \
    PG_AUTOCTL_DEBUG=1 PGVERSION="$PGVERSION" PG_CONFIG="$PGBIN/pg_config" \
    ${PGAF_COMPAT_JSON_LOG:+PG_AUTOCTL_LOG_JSON="$PGAF_COMPAT_JSON_LOG"} \
    "$NOSETESTS" "${nose_args[@]}" "tests/$module.py") >"$out" 2>&1
  rc=$?
  took=$((SECONDS - start))
  cleanup_module "$module"
  current_module=""
  # nose --verbose prints "tests.<module>.<test> ... " then, after the
  # test's own output (which may itself end lines with such words),
  # "ok", "FAIL" or "ERROR" at the end of a line: the last one before the
  # next test, or before the report that follows the last test, counts.
  # The report starts with a rule of 70 "=" or "-" (openssl, run by some
  # tests, prints short "-----" lines that are no such rule).
  results=$(awk '
    function flush() { if (name != "" && status != "") print name, status; name = ""; status = "" }
    /^tests\.[A-Za-z0-9_.]+ \.\.\. / { flush(); name = $1; sub(/^[^ ]+ \.\.\. /, "") }
    /^(=+|-+)$/ && length($0) >= 60 { flush() }
    name != "" && /(^| )(ok|FAIL|ERROR)$/ { n = split($0, w, " "); status = w[n] }
    END { flush() }
  ' "$out")
  passed=$(grep -c ' ok$' <<<"$results")
  failed=$(grep -c ' FAIL$' <<<"$results")
  errors=$(grep -c ' ERROR$' <<<"$results")
  total=$(grep -Ec '^def test_' "$CHECKOUT/tests/$module.py")
  result="$module: $passed passed, $failed failed, $errors errors, $((total - passed - failed - errors)) not run (of $total), ${took}s, exit $rc"
  failing=$(grep -E '^(FAIL|ERROR): ' "$out" | sed 's/^/    /')
  [ "$rc" -eq 124 ] && result="$result (timed out after ${TIMEOUT}s)"
  summary+=("$result")
  [ -n "$failing" ] && summary+=("$failing")
  log "$result"
  [ "$rc" -eq 0 ] || status=1
done

printf '%s\n' "${summary[@]}"
exit "$status"
