#!/usr/bin/env bash
# The customer list's CSV download (`/customers.csv`, issue 17) streams: the server's memory does
# not grow with the number of rows. Measured on the databases bench/web-load.sh builds, at two
# sizes, with a fresh server each time:
#
#   bench/csv-export.sh                     # 100,000 and 1,000,000 customers
#   SIZES="20000 100000" bench/csv-export.sh
#   PATRON_BIN=target/release/patron BENCH_DIR=/tmp/pw bench/csv-export.sh
#
# For each size: builds the database unless it exists (`BUILD_ONLY=1 bench/web-load.sh`), adds
# an admin `bench` (admins export without a daily limit), serves the database on a free loopback
# port, signs in through the login form, reads the server's resident memory (VmRSS) after one
# warm-up list page, downloads the whole list as CSV with curl, and prints rows, bytes, seconds
# and the server's peak resident memory (VmHWM) during the download. Constant memory: the peak
# is about the same at both sizes while the file grows tenfold.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
SIZES="${SIZES:-100000 1000000}"
BENCH_DIR="${BENCH_DIR:-${TMPDIR:-/tmp}/patron-web-bench}"
if [ -z "${PATRON_BIN:-}" ]; then (cd "$ROOT" && cargo build -q --release -p patron); fi
BIN="${PATRON_BIN:-$ROOT/target/release/patron}"
export PATRON_BIN="$BIN" BENCH_DIR

kb() { awk -v k="$1" '$1 == k":" { print $2 }' "/proc/$2/status"; }

printf '%-10s %12s %14s %9s %14s %14s\n' customers rows bytes seconds "RSS before" "peak RSS"
for N in $SIZES; do
  CUSTOMERS="$N" BUILD_ONLY=1 bash "$ROOT/bench/web-load.sh" >&2
  DB="$BENCH_DIR/web-$N.db"
  PASSWORD="bench-$(date +%s)-secret"
  if "$BIN" --database "$DB" user list 2>/dev/null | grep -qw bench; then
    printf '%s\n' "$PASSWORD" | "$BIN" --database "$DB" user passwd bench --password-stdin >/dev/null
  else
    printf '%s\n' "$PASSWORD" | "$BIN" --database "$DB" user add bench --role admin --password-stdin >/dev/null
  fi
  PORT="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
  BASE="http://127.0.0.1:$PORT"
  WORK="$(mktemp -d)"
  "$BIN" --database "$DB" serve --addr "127.0.0.1:$PORT" --refresh-at off >"$WORK/server.log" 2>&1 &
  SERVER_PID=$!
  trap 'kill "$SERVER_PID" 2>/dev/null || true; rm -rf "$WORK"' EXIT
  for _ in $(seq 1 100); do
    curl -fs "$BASE/api/health" >/dev/null && break
    sleep 0.2
  done
  JAR="$WORK/cookies"
  TOKEN="$(curl -fs -c "$JAR" "$BASE/login" | sed -n 's/.*name="csrf" value="\([^"]*\)".*/\1/p')"
  curl -fs -b "$JAR" -c "$JAR" -o /dev/null --data-urlencode "csrf=$TOKEN" \
    --data-urlencode "next=/customers" --data-urlencode "username=bench" \
    --data-urlencode "password=$PASSWORD" "$BASE/login"
  curl -fs -b "$JAR" -o /dev/null "$BASE/customers"
  BEFORE="$(kb VmRSS "$SERVER_PID")"
  START="$(date +%s.%N)"
  CODE="$(curl -s -b "$JAR" -o "$WORK/list.csv" -w "%{http_code}" "$BASE/customers.csv")"
  [ "$CODE" = 200 ] || { echo "GET /customers.csv: HTTP $CODE: $(head -c 300 "$WORK/list.csv")" >&2; exit 1; }
  END="$(date +%s.%N)"
  PEAK="$(kb VmHWM "$SERVER_PID")"
  ROWS="$(($(wc -l <"$WORK/list.csv") - 1))"
  BYTES="$(stat -c %s "$WORK/list.csv")"
  printf '%-10s %12s %14s %9.1f %11s MB %11s MB\n' "$N" "$ROWS" "$BYTES" \
    "$(echo "$END - $START" | bc)" "$((BEFORE / 1024))" "$((PEAK / 1024))"
  kill "$SERVER_PID"
  wait "$SERVER_PID" 2>/dev/null || true
  rm -rf "$WORK"
  trap - EXIT
done
