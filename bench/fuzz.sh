#!/usr/bin/env bash
# Fuzzes the parsers of untrusted input for a bounded time each (issue 7):
#
#   csv_rows       CSV import rows of customers, orders, interactions, with header mapping
#   cdnow_lines    the CDNOW transaction format
#   score_model    the value score model TOML (parse and validation)
#   query_filters  the customer list's query string (filters, sort, page size, cursor)
#
#   bench/fuzz.sh                         # every target, 60 s each
#   FUZZ_SECONDS=300 bench/fuzz.sh csv_rows
#
# The targets live in fuzz/ (a cargo-fuzz crate outside the main workspace, so normal builds and
# CI need no nightly features). cargo-fuzz is installed from crates.io when missing. It passes
# unstable -Z flags to rustc: with a stable toolchain, RUSTC_BOOTSTRAP=1 lets it. No sanitizer
# (all of Patron is safe Rust; the targets assert properties), but debug assertions and
# overflow checks are on.
#
# Each run starts from the seeds in fuzz/corpus/TARGET/ and grows a scratch corpus under
# $FUZZ_DIR (default ${TMPDIR:-/tmp}/patron-fuzz), so the repository's seed files stay few. A
# crash stops its target and leaves its input in fuzz/artifacts/TARGET/ (ignored by git): fix
# the code and turn the input into a regular test of the crate (CI runs those without nightly).
# Prints executions and crashes per target; exits non-zero when any target crashed.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
FUZZ_SECONDS="${FUZZ_SECONDS:-60}"
FUZZ_DIR="${FUZZ_DIR:-${TMPDIR:-/tmp}/patron-fuzz}"
if [ "$#" -gt 0 ]; then
  TARGETS=("$@")
else
  TARGETS=(csv_rows cdnow_lines score_model query_filters)
fi
export RUSTC_BOOTSTRAP=1
command -v cargo-fuzz >/dev/null || cargo install --locked cargo-fuzz
cd "$ROOT/fuzz"
FLAGS=(--sanitizer none --debug-assertions)
cargo fuzz build "${FLAGS[@]}" 2>&1 | grep -v '^\s*Compiling' || true
mkdir -p "$FUZZ_DIR"
crashed=0
printf '%-14s %12s %10s %8s %s\n' target executions exec/s crashes notes
for t in "${TARGETS[@]}"; do
  corpus="$FUZZ_DIR/corpus/$t"
  artifacts="$ROOT/fuzz/artifacts/$t"
  mkdir -p "$corpus" "$artifacts"
  log="$FUZZ_DIR/$t.log"
  before="$(find "$artifacts" -type f | wc -l)"
  rc=0
  cargo fuzz run "${FLAGS[@]}" "$t" "$corpus" "corpus/$t" -- \
    -max_total_time="$FUZZ_SECONDS" -print_final_stats=1 -artifact_prefix="$artifacts/" \
    >"$log" 2>&1 || rc=$?
  execs="$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)"
  speed="$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)"
  after="$(find "$artifacts" -type f | wc -l)"
  crashes=$((after - before))
  note=""
  if [ "$rc" -ne 0 ] || [ "$crashes" -gt 0 ]; then
    crashed=1
    note="exit $rc; see $log and $artifacts/"
    grep -m1 -E "panicked at|ERROR: libFuzzer" "$log" >&2 || true
  fi
  printf '%-14s %12s %10s %8s %s\n' "$t" "${execs:-?}" "${speed:-?}" "$crashes" "$note"
done
exit "$crashed"
