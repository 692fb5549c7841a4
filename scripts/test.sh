#!/usr/bin/env bash
# The test command: installs what is missing, then runs the whole suite
# (type check, lint, build, unit tests, integration tests on real clusters).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/ensure-deps.sh
npm test
