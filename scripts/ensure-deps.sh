#!/usr/bin/env bash
# Installs what pg_autoctl's demo and tests need on a Debian machine with
# Node.js 20: the PostgreSQL server and client, openssl, iproute2 and
# nftables (partition tests), the real components the integration tests
# plug into (HAProxy, Prometheus and promtool, pgbouncer, Chromium, etcd), the
# `postgres` account, and the npm packages.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1 || need+=(postgresql postgresql-contrib)
command -v psql >/dev/null 2>&1 || need+=(postgresql-client)
command -v openssl >/dev/null 2>&1 || need+=(openssl)
command -v ip >/dev/null 2>&1 || need+=(iproute2)
command -v nft >/dev/null 2>&1 || need+=(nftables)
command -v setpriv >/dev/null 2>&1 || need+=(util-linux)
command -v haproxy >/dev/null 2>&1 || need+=(haproxy)
command -v promtool >/dev/null 2>&1 || need+=(prometheus)
command -v pgbouncer >/dev/null 2>&1 || need+=(pgbouncer)
command -v chromium >/dev/null 2>&1 || need+=(chromium)
command -v etcd >/dev/null 2>&1 || need+=(etcd-server)
command -v etcdctl >/dev/null 2>&1 || need+=(etcd-client)
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "missing Debian packages: ${need[*]} (run this script as root to install them)" >&2
    exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  apt-get install -y -q --no-install-recommends "${need[@]}"
fi
if [ "$(id -u)" -eq 0 ] && ! id postgres >/dev/null 2>&1; then
  useradd --system --create-home --home-dir /var/lib/postgresql --shell /bin/bash postgres
fi
if [ ! -x node_modules/.bin/tsc ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund
fi
