#!/usr/bin/env bash
# Benchmark: one customer's live recompute (`patron_app::value::recompute_customer`, what every
# order, payment, interaction, survey and merge triggers) on the CDNOW demo database: builds the
# demo (`patron demo --no-serve`: 23,570 customers, 69,659 order lines, refreshed in weeks) and
# times the recompute of PATRON_BENCH_CUSTOMERS customers (default 2000) with the release build.
#
# Usage: bench/recompute.sh            Environment: BENCH_DIR (default ${TMPDIR:-/tmp}/patron-bench)
#   PATRON_BENCH_DB=postgres://...     time on PostgreSQL instead (the demo is loaded into it
#                                      with `patron --database URL demo`-like steps beforehand).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
BENCH_DIR="${BENCH_DIR:-${TMPDIR:-/tmp}/patron-bench}"
mkdir -p "$BENCH_DIR"
cd "$ROOT"
if [ -z "${PATRON_BENCH_DB:-}" ]; then
  cargo build --release -q -p patron --bin patron
  DB="$BENCH_DIR/recompute-demo.db"
  target/release/patron demo --no-serve --demo-database "$DB" >/dev/null
  export PATRON_BENCH_DB="$DB"
fi
cargo bench -q -p patron-app --bench recompute
