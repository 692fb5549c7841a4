#!/usr/bin/env bash
# The test command: installs what is missing, then runs the whole suite
# (type check, lint, build, unit tests, integration tests on real clusters).
set -euo pipefail
# Typed by a sudoer, the script goes on as root (installs, cluster account);
# typed in a root shell, which may have no sudo, it just runs.
if [ "$(id -u)" -ne 0 ] && command -v sudo >/dev/null 2>&1; then
  exec sudo env "PATH=$PATH" bash "$0" "$@"
fi
cd "$(dirname "$0")/.."
bash scripts/ensure-deps.sh
npm test
