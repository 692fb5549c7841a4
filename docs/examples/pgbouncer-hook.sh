#!/bin/sh
# pg_autoctl hook: when this node becomes writable, point pgbouncer at it.
# Set it as hooks.on_role_change (and hooks.on_start) on every node:
#   pg_autoctl config set hooks.on_role_change /usr/local/bin/pgbouncer-hook.sh
# See docs/integrations.md, "Hooks (pgbouncer example)".
#
# Arguments: <event> <new_state> <old_state> <node_id> <node_name> <formation> <group>
# From the keeper: PG_AUTOCTL_NODE_HOST, PG_AUTOCTL_NODE_PORT (this node).
# From the keeper's environment (its service unit):
#   PGBOUNCER_DATABASES_FILE  the file pgbouncer.ini includes (required)
#   PGBOUNCER_HOST            pgbouncer's address (default 127.0.0.1)
#   PGBOUNCER_PORT            pgbouncer's port (default 6432)
#   PGBOUNCER_ADMIN_USER      one of its admin_users (default pgbouncer)
#   PGBOUNCER_DATABASES       the databases to route (default postgres)
set -eu

# The writable states; any other state leaves pgbouncer as it is.
case "$2" in
    single|wait_primary|primary) ;;
    *) exit 0 ;;
esac

file=${PGBOUNCER_DATABASES_FILE:?PGBOUNCER_DATABASES_FILE is not set}
dbs=${PGBOUNCER_DATABASES:-postgres}

# Written aside, then renamed: pgbouncer never reads half a file.
{
    echo "[databases]"
    for db in $dbs; do
        echo "$db = host=$PG_AUTOCTL_NODE_HOST port=$PG_AUTOCTL_NODE_PORT dbname=$db"
    done
} > "$file.new"
mv -f "$file.new" "$file"

psql -X -q -w -h "${PGBOUNCER_HOST:-127.0.0.1}" -p "${PGBOUNCER_PORT:-6432}" \
     -U "${PGBOUNCER_ADMIN_USER:-pgbouncer}" -d pgbouncer -c RELOAD

echo "pgbouncer now sends $dbs to $PG_AUTOCTL_NODE_HOST:$PG_AUTOCTL_NODE_PORT ($1: $3 -> $2)"
