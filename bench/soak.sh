#!/usr/bin/env bash
# Soak: the mixed load of bench/load.sh at its fixed rate for SOAK_MINUTES (default 30) on one
# server, a line per minute with that minute's rate, p50/p99/max, errors and the server's RSS
# (memory growth shows as a rising RSS column). A manual run, not part of CI:
#
#   bench/soak.sh                 # SQLite, 30 minutes at 500 req/s
#   SOAK_MINUTES=5 bench/soak.sh postgres
#
# Everything else (data, environment variables, the goal checked each minute) is bench/load.sh's.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
SLICES="${SOAK_MINUTES:-30}" DURATION=60s exec "$ROOT/bench/load.sh" "${1:-sqlite}"
