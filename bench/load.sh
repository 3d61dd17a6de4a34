#!/usr/bin/env bash
# Mixed API load at a fixed rate against 1 million customers, on SQLite and on PostgreSQL
# (issue 7: 0 errors and p99 < 50 ms at 500 requests/s).
#
#   bench/load.sh                    # both backends, 1,000,000 customers, 500 req/s for 60 s
#   bench/load.sh sqlite             # or: postgres
#   RATE=300 DURATION=30s CUSTOMERS=100000 bench/load.sh sqlite
#
# The workload (bench/load/mixed.lua, wrk paced to RATE): 25% list pages (first page, a keyset
# page after a random id, a region filter, a value filter, the CLV order), 25% customer records,
# 25% value panels (GET /api/customers/{id}/value), 15% POST interactions, 10% POST orders, on
# random customers, as an admin with an API bearer token. Every request also writes its audit
# row (and the token's last use), as in production. MIX="list,card,value,interaction,order"
# changes the percentages.
#
# Data: `BUILD_ONLY=1 bench/web-load.sh` builds (or finds) the SQLite database of CUSTOMERS
# customers and its orders/prospects files in BENCH_DIR (default: web-load.sh's own directory,
# ${TMPDIR:-/tmp}/patron-web-bench). SQLite runs on a copy of that database, so the load's writes
# do not change it. PostgreSQL gets a throwaway cluster (scripts/with-postgres.sh) loaded with
# the same files through the same commands (`patron bench import` reusing the orders file,
# `import customers` for the prospects, `value refresh`), which takes several minutes.
#
# Output per backend: achieved rate, p50/p99/max latency, errors (non-2xx and socket errors),
# requests per kind, the server's RSS before and after, and the load average. Exits non-zero
# when the goal is missed (errors, p99 >= P99_GOAL_MS, or achieved rate < 95% of RATE).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
BACKENDS="${1:-both}"
CUSTOMERS="${CUSTOMERS:-1000000}"
RATE="${RATE:-500}"
DURATION="${DURATION:-60s}"
WARMUP="${WARMUP:-10s}"
THREADS="${THREADS:-2}"
CONNECTIONS="${CONNECTIONS:-64}"
P99_GOAL_MS="${P99_GOAL_MS:-50}"
# bench/soak.sh: SLICES runs of DURATION back to back on one server, a line (and RSS) each.
SLICES="${SLICES:-1}"
# Several workloads on the same data, one run each (e.g. one kind at a time, to see which is
# slow): MIXES="100,0,0,0,0 0,100,0,0,0". Default: the one MIX.
MIXES="${MIXES:-${MIX:-25,25,25,15,10}}"
BENCH_DIR="${BENCH_DIR:-${TMPDIR:-/tmp}/patron-web-bench}"
LOAD_DIR="${LOAD_DIR:-${TMPDIR:-/tmp}/patron-load}"
export CUSTOMERS BENCH_DIR

case "$BACKENDS" in
  both) BACKENDS="sqlite postgres" ;;
  sqlite | postgres) ;;
  *) echo "usage: bench/load.sh [sqlite|postgres|both]" >&2; exit 2 ;;
esac

# PostgreSQL needs a cluster: run the whole script inside scripts/with-postgres.sh once.
if [[ " $BACKENDS " == *" postgres "* ]] && [ -z "${PATRON_TEST_POSTGRES_URL:-}" ]; then
  exec "$ROOT/scripts/with-postgres.sh" "$0" "$@"
fi

command -v wrk >/dev/null || {
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq wrk >/dev/null
}

# The SQLite database and the data files (built once, then reused).
BUILD_ONLY=1 "$ROOT/bench/web-load.sh"
BIN="${PATRON_BIN:-$ROOT/target/release/patron}"
SOURCE_DB="$BENCH_DIR/web-$CUSTOMERS.db"
mkdir -p "$LOAD_DIR"
WORK="$(mktemp -d)"
SERVER_PID=""
stop_server() {
  if [ -n "$SERVER_PID" ]; then
    kill "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
    SERVER_PID=""
  fi
}
trap 'stop_server; rm -rf "$WORK"' EXIT

rss_mb() { awk '/^VmRSS/ { printf "%.0f", $2 / 1024 }' "/proc/$1/status"; }

# run_backend NAME DATABASE MAX_ID
run_backend() {
  local name="$1" db="$2" max_id="$3"
  local password token port base
  password="load-$(date +%s)-secret"
  if "$BIN" --database "$db" user list 2>/dev/null | grep -qw bench; then
    printf '%s\n' "$password" | "$BIN" --database "$db" user passwd bench --password-stdin >/dev/null
  else
    printf '%s\n' "$password" | "$BIN" --database "$db" user add bench --role admin --password-stdin >/dev/null
  fi
  token="$("$BIN" --database "$db" token create bench --name load 2>/dev/null)"
  port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
  base="http://127.0.0.1:$port"
  # The server log (slow statements among others) stays in LOAD_DIR.
  "$BIN" --database "$db" serve --addr "127.0.0.1:$port" >"$LOAD_DIR/server-$name.log" 2>&1 &
  SERVER_PID=$!
  for _ in $(seq 1 300); do
    curl -fs "$base/api/health" >/dev/null && break
    sleep 0.2
  done
  # Each kind once, checked, before loading.
  local id=$((max_id / 2 + 7))
  for path in "/api/customers?limit=50" "/api/customers/$id" "/api/customers/$id/value"; do
    code="$(curl -s -o "$WORK/check.json" -w '%{http_code}' -H "Authorization: Bearer $token" "$base$path")"
    [ "$code" = 200 ] || { echo "$name: HTTP $code for $path: $(head -c 300 "$WORK/check.json")" >&2; exit 1; }
  done
  DAY="$(date -u +%F)"
  export TOKEN="$token" MAX_ID="$max_id" RATE THREADS DAY
  local rss_before
  rss_before="$(rss_mb "$SERVER_PID")"
  # Warm-up (caches, connection pools), not counted.
  wrk -t"$THREADS" -c"$CONNECTIONS" -d"$WARMUP" -s "$ROOT/bench/load/mixed.lua" "$base" >/dev/null
  local load_before slice ok=0
  load_before="$(cut -d' ' -f1-3 /proc/loadavg)"
  echo "== $name: $max_id customers with value figures; $RATE req/s for $SLICES x $DURATION, mix $MIX (list,card,value,interaction,order), wrk -t$THREADS -c$CONNECTIONS; $(nproc) cores"
  echo "   load average before $load_before; server RSS ${rss_before} MB after start-up (before the warm-up)"
  for slice in $(seq 1 "$SLICES"); do
    wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" --timeout 10s -s "$ROOT/bench/load/mixed.lua" \
      "$base" >"$WORK/wrk-$name-$slice.txt"
    local label="$name"
    [ "$SLICES" -eq 1 ] || label="$name $slice/$SLICES"
    summarize "$WORK/wrk-$name-$slice.txt" "$label" "$(rss_mb "$SERVER_PID")" "$([ "$SLICES" -eq 1 ] && echo 1 || echo 0)" || ok=1
  done
  stop_server
  echo "   load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
  return "$ok"
}

# summarize WRK_OUTPUT LABEL RSS_MB DETAILS: one line of figures (and the per-kind counts when
# DETAILS is 1); non-zero when the goal is missed.
summarize() {
  python3 - "$@" "$RATE" "$P99_GOAL_MS" <<'PY'
import re, sys
f, label, rss, details, rate, goal = sys.argv[1:7]
rate, goal = float(rate), float(goal)
t = open(f).read()
if details == "1":
    for line in t.splitlines():
        if line.startswith(("kind ", "socket errors")):
            print("   " + line)
achieved = float(re.search(r"achieved ([\d.]+) req/s", t).group(1))
p50, p99, mx = (int(x) / 1000 for x in re.search(r"latency_us p50 (\d+) p99 (\d+) max (\d+)", t).groups())
errors = int(re.search(r"^errors (\d+)", t, re.M).group(1))
ok = errors == 0 and p99 < goal and achieved >= 0.95 * rate
print(f"   {label}: {achieved:.1f} req/s  p50 {p50:.2f} ms  p99 {p99:.2f} ms  max {mx:.2f} ms  errors {errors}  RSS {rss} MB  {'ok' if ok else 'GOAL MISSED'}")
first = re.search(r"^first error: (.*)$", t, re.M)
if first:
    print(f"   first error: {first.group(1)}")
sys.exit(0 if ok else 1)
PY
}

status=0
for backend in $BACKENDS; do
  case "$backend" in
    sqlite)
      DB="$LOAD_DIR/load-$CUSTOMERS.db"
      rm -f "$DB" "$DB-wal" "$DB-shm"
      # Brings the source up to the binary's migrations once (not on every copy), then copies.
      "$BIN" --database "$SOURCE_DB" user list >/dev/null
      cp "$SOURCE_DB" "$DB"
      MAX_ID="$(python3 -c 'import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute("SELECT MAX(customer_id) FROM customer_values").fetchone()[0])' "$DB")"
      for MIX in $MIXES; do
        export MIX
        run_backend sqlite "$DB" "$MAX_ID" || status=1
      done
      rm -f "$DB" "$DB-wal" "$DB-shm"
      ;;
    postgres)
      PSQL="$(command -v psql || ls /usr/lib/postgresql/*/bin/psql | head -1)"
      "$PSQL" -q "$PATRON_TEST_POSTGRES_URL" -c "CREATE DATABASE patron_load"
      DB="${PATRON_TEST_POSTGRES_URL%/*}/patron_load"
      echo "== loading PostgreSQL from $BENCH_DIR (same files and commands as bench/web-load.sh)"
      ORDERS_FILE="$BENCH_DIR/orders-$CUSTOMERS.csv"
      LINES="$(($(wc -l <"$ORDERS_FILE") - 1))"
      /usr/bin/time -f "   import: %e s" "$BIN" --database "$DB" bench import \
        --customers "$CUSTOMERS" --orders "$LINES" --file "$ORDERS_FILE" \
        | grep -v -i "password\|admin /\|^ *$\|it is shown" || true
      if [ -s "$BENCH_DIR/prospects-$CUSTOMERS.csv" ]; then
        "$BIN" --database "$DB" import customers "$BENCH_DIR/prospects-$CUSTOMERS.csv" >/dev/null
      fi
      /usr/bin/time -f "   value refresh: %e s" "$BIN" --database "$DB" value refresh >/dev/null
      MAX_ID="$("$PSQL" -At "$DB" -c "SELECT MAX(customer_id) FROM customer_values")"
      for MIX in $MIXES; do
        export MIX
        run_backend postgres "$DB" "$MAX_ID" || status=1
      done
      "$PSQL" -q "$PATRON_TEST_POSTGRES_URL" -c "DROP DATABASE patron_load"
      ;;
  esac
done
echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
exit "$status"
