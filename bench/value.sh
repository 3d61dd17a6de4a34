#!/usr/bin/env bash
# Benchmark: `patron value export --orders` (every per-customer figure, models included) side by
# side with the peers a data scientist would use instead (bench/peers, copied from the project's
# shared bench-peers): DuckDB computing only the summary + RFM (duckdb_rfm.py) and Python
# lifetimes 0.11.3 (lifetimes_pipeline.py: summary, BG/NBD, Gamma-Gamma, 12-month CLV).
#
# Usage: bench/value.sh [N_CUSTOMERS]      (default 1000000: about 10 M order lines)
# Environment:
#   BENCH_DIR   work directory for the venv and the data (default ${TMPDIR:-/tmp}/patron-bench)
#   RUNS        runs per tool, the median is reported (default 3)
#   SKIP_LIFETIMES=1  skip the (slow) lifetimes runs on the big file
# Inputs: the generated file (bench/peers/gen_orders.py N, seed 42) and data/CDNOW_master.txt
# (converted to the same CSV shape for the peers; Patron reads it both ways).
# Wall-clock times of whole processes (Patron) and the peers' own in-process seconds (they exclude
# Python start-up and imports, which favours the peers).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
N="${1:-1000000}"
BENCH_DIR="${BENCH_DIR:-${TMPDIR:-/tmp}/patron-bench}"
RUNS="${RUNS:-3}"
VENV="${VENV:-${TMPDIR:-/tmp}/patron-bench-venv}"
mkdir -p "$BENCH_DIR"

if [ ! -x "$VENV/bin/python" ]; then
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q "numpy<2" "pandas<2.1" "scipy<1.12" autograd dill lifetimes==0.11.3 duckdb
fi
PY="$VENV/bin/python"
PEERS="$ROOT/bench/peers"

(cd "$ROOT" && cargo build -q -p patron --release)
PATRON="$ROOT/target/release/patron"

BIG="$BENCH_DIR/orders_$N.csv"
[ -s "$BIG" ] || "$PY" "$PEERS/gen_orders.py" "$N" "$BIG" --seed 42
CDNOW_TXT="$ROOT/data/CDNOW_master.txt"
CDNOW_CSV="$BENCH_DIR/cdnow_master.csv"
if [ ! -s "$CDNOW_CSV" ]; then
  awk 'NR>1 && NF==4 {printf "%d,%s-%s-%s,%s\n", $1, substr($2,1,4), substr($2,5,2), substr($2,7,2), $4}
       BEGIN {print "customer_id,date,amount"}' "$CDNOW_TXT" | tr -d '\r' > "$CDNOW_CSV"
fi

median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
now() { date +%s.%N; }
# Median wall-clock seconds of a command, RUNS times.
time_cmd() {
  for _ in $(seq "$RUNS"); do
    local s; s=$(now); "$@" >/dev/null; echo "$(now) - $s" | bc -l
  done | median
}
# Median of a JSON field printed by a peer script.
time_peer() {
  local key="$1"; shift
  for _ in $(seq "$RUNS"); do
    "$PY" "$@" | head -1 | "$PY" -c "import json,sys; print(json.loads(sys.stdin.read())['seconds']['$key'])"
  done | median
}

bench_file() {
  local label="$1" csv="$2" skip_lt="$3"; shift 3
  echo "== $label"
  local p d l
  p=$(time_cmd "$PATRON" value export --output /dev/null "$@")
  echo "patron value export $*: ${p} s (median of $RUNS, wall clock)"
  local fits
  fits=$("$PATRON" value report --json --plots "$BENCH_DIR/plots" "$@" | "$PY" -c "import json,sys; v=json.load(sys.stdin); t=v['timings_seconds']; print('summary %.3f s, BG/NBD fit %.3f s, Gamma-Gamma fit %.3f s, customer values %.3f s; r=%.4g alpha=%.4g a=%.4g b=%.4g' % (t['summary'], t['purchase_model_fit'], t['gamma_gamma_fit'], t['customer_values'], *[v['model']['params'][k] for k in ('r','alpha','a','b')]))")
  echo "  stages: $fits"
  d=$(time_peer rfm "$PEERS/duckdb_rfm.py" "$csv" --threads 2)
  echo "duckdb_rfm.py (summary + RFM only): ${d} s"
  echo "  ratio patron / duckdb = $(echo "$p / $d" | bc -l | cut -c1-6)"
  if [ "$skip_lt" != 1 ]; then
    l=$(time_peer total "$PEERS/lifetimes_pipeline.py" "$csv")
    echo "lifetimes_pipeline.py: ${l} s"
    echo "  lifetimes / patron = $(echo "$l / $p" | bc -l | cut -c1-7)x"
  fi
}

bench_file "CDNOW master (69,659 orders, 23,570 customers)" "$CDNOW_CSV" 0 --orders "$CDNOW_TXT" --format cdnow
bench_file "generated: $N customers" "$BIG" "${SKIP_LIFETIMES:-0}" --orders "$BIG"
