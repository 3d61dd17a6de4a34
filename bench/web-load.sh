#!/usr/bin/env bash
# Load test of the web pages at 1 million customers in SQLite (issue 5: the list and a card each
# render with p99 under 50 ms, measured with a load tool against loopback).
#
#   bench/web-load.sh                       # 1,000,000 customers, 3,000,000 order lines
#   CUSTOMERS=100000 ORDERS=300000 bench/web-load.sh
#   DURATION=20s CONNECTIONS=4 THREADS=2 BENCH_DIR=/tmp/pw bench/web-load.sh
#
# 1. Builds `patron` in release mode (unless PATRON_BIN names a built binary).
# 2. Unless $BENCH_DIR/web-N.db exists already: `patron bench import` generates an orders file
#    and imports it (customers created on the fly), then `patron value refresh` stores every
#    customer's value figures (so the value filters and the card's value panel have data).
# 3. Adds a user `bench` (admin: sees every customer) with `user add --password-stdin`, serves the
#    database on a free loopback port and signs in through the login form with curl (login-form
#    token + cookie, then the `patron_session` cookie).
# 4. Runs wrk (Debian's `wrk`; installed with apt-get when missing) against each page for
#    $DURATION with $CONNECTIONS connections and prints p50/p90/p99/max and requests/s:
#    first list page; a filtered page (value filters: ABC class A, RFM segment champions); deep
#    keyset pages of the id, name and CLV sorts (cursor at 0.9 N); a region filter matching a few
#    hundred customers at the end of the id order; searches (see below); a customer card (with
#    its tasks, contacts, invoices, tickets and opportunities panels); My day (31 tasks of the
#    user, overdue, today and later); the notification inbox; the customer picker's answer.
#    Every page view also writes its audit row, as in production. wrk's Latency line gives the
#    max, its --latency table p50/p90/p99.
#    Searches: one customer's whole name and a 5-digit part of it (both answered from the FTS5
#    trigram index of migration 0011), a word in nearly every name (more matches than the index
#    hands over: read in id order instead), and a 2-character term (no trigram: a scan).
# 5. Before the load runs, times the first and second view of the dashboard after the server
#    started (the figures computed by the last value refresh are read from its snapshot).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
CUSTOMERS="${CUSTOMERS:-1000000}"
ORDERS="${ORDERS:-$((CUSTOMERS * 3))}"
BENCH_DIR="${BENCH_DIR:-${TMPDIR:-/tmp}/patron-web-bench}"
DURATION="${DURATION:-15s}"
CONNECTIONS="${CONNECTIONS:-4}"
THREADS="${THREADS:-2}"
DB="$BENCH_DIR/web-$CUSTOMERS.db"
mkdir -p "$BENCH_DIR"

if ! command -v wrk >/dev/null; then
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq wrk >/dev/null
fi

if [ -z "${PATRON_BIN:-}" ]; then (cd "$ROOT" && cargo build -q --release -p patron); fi
BIN="${PATRON_BIN:-$ROOT/target/release/patron}"

if [ ! -s "$DB" ]; then
  echo "== building $DB ($CUSTOMERS customers, $ORDERS order lines)"
  rm -f "$DB" "$DB-wal" "$DB-shm"
  # The generator spreads the orders over its customers at random, so about exp(-orders per
  # customer) of them get none and are never created: generate that many more.
  GENERATED="$(python3 -c "import math,sys; n,o=int(sys.argv[1]),int(sys.argv[2]); print(math.ceil(n/(1-math.exp(-o/n))))" "$CUSTOMERS" "$ORDERS")"
  /usr/bin/time -f "   import: %e s" "$BIN" --database "$DB" bench import \
    --customers "$GENERATED" --orders "$ORDERS" --file "$BENCH_DIR/orders-$CUSTOMERS.csv" \
    | grep -v -i "password\|admin /\|^ *$\|it is shown" || true
  # Customers with the same generated key are one customer, so a few short of N remain: top up
  # with prospects (no orders) that have an industry and a region, as a real database has.
  HAVE="$(python3 -c 'import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute("SELECT COUNT(*) FROM customers").fetchone()[0])' "$DB")"
  if [ "$HAVE" -lt "$CUSTOMERS" ]; then
    python3 - "$((CUSTOMERS - HAVE))" >"$BENCH_DIR/prospects-$CUSTOMERS.csv" <<'PY'
import sys
regions = ["North", "South", "East", "West", "Central", "Northeast", "Southwest", "Coast"]
industries = ["retail", "finance", "manufacturing", "telecom", "healthcare", "energy", "education", "services"]
print("number,name,industry,region")
for i in range(int(sys.argv[1])):
    print(f"P{i:07d},Prospect Firm {i:07d},{industries[i % 8]},{regions[(i // 8) % 8]}")
PY
    "$BIN" --database "$DB" import customers "$BENCH_DIR/prospects-$CUSTOMERS.csv" >/dev/null
  fi
  /usr/bin/time -f "   value refresh: %e s" "$BIN" --database "$DB" value refresh >/dev/null
fi
# bench/load.sh reuses this data (the database, the orders and prospects files): it stops here.
[ -z "${BUILD_ONLY:-}" ] || exit 0

PASSWORD="bench-$(date +%s)-secret"
if "$BIN" --database "$DB" user list 2>/dev/null | grep -qw bench; then
  printf '%s\n' "$PASSWORD" | "$BIN" --database "$DB" user passwd bench --password-stdin >/dev/null
else
  printf '%s\n' "$PASSWORD" | "$BIN" --database "$DB" user add bench --role admin --password-stdin >/dev/null
fi

# The card's customer and My day need something to show: a contact, activities and tasks for
# `bench` (some overdue, some today, some later), once per database.
CARD_ID=$((CUSTOMERS / 2 + 17))
if [ "$("$BIN" --database "$DB" task list --user bench --all 2>/dev/null | wc -l)" -lt 30 ]; then
  for i in $(seq 1 30); do
    due="$(date -u -d "$((i - 10)) days" +%Y-%m-%dT09:00)"
    "$BIN" --database "$DB" task add --user bench --customer "$((CARD_ID + i))" --kind call \
      --due "$due" "Bench task $i: call about the renewal" >/dev/null
  done
  "$BIN" --database "$DB" task add --user bench --customer "$CARD_ID" --kind visit \
    --due "$(date -u +%Y-%m-%dT15:00)" "Bench visit on the card's customer" >/dev/null
fi

PORT="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
BASE="http://127.0.0.1:$PORT"
WORK="$(mktemp -d)"
"$BIN" --database "$DB" serve --addr "127.0.0.1:$PORT" >"$WORK/server.log" 2>&1 &
SERVER_PID=$!
cleanup() {
  kill "$SERVER_PID" 2>/dev/null || true
  wait "$SERVER_PID" 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT
for _ in $(seq 1 100); do
  curl -fs "$BASE/api/health" >/dev/null && break
  sleep 0.2
done

# Sign in through the form: its hidden token must match the login cookie.
JAR="$WORK/cookies"
TOKEN="$(curl -fs -c "$JAR" "$BASE/login" | sed -n 's/.*name="csrf" value="\([^"]*\)".*/\1/p')"
curl -fs -b "$JAR" -c "$JAR" -o /dev/null --data-urlencode "csrf=$TOKEN" \
  --data-urlencode "next=/customers" --data-urlencode "username=bench" \
  --data-urlencode "password=$PASSWORD" "$BASE/login"
SESSION="$(awk '$6 == "patron_session" { print $7 }' "$JAR")"
[ -n "$SESSION" ] || { echo "sign-in failed" >&2; exit 1; }
COOKIE="Cookie: patron_session=$SESSION"

cursor() { printf '%s' "$1" | base64 -w0 | tr '+/' '-_' | tr -d '='; }
DEEP_ID=$((CUSTOMERS * 9 / 10))
# A name from deep in the name order (names are unique enough); the card's customer is above.
DEEP_NAME="$(python3 -c 'import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute("SELECT name FROM customers WHERE id = ?", (int(sys.argv[2]),)).fetchone()[0])' "$DB" "$DEEP_ID")"
NAME_CURSOR="$(cursor "$(python3 -c 'import json,sys; print(json.dumps([sys.argv[1], int(sys.argv[2])], separators=(",", ":")))' "$DEEP_NAME" "$DEEP_ID")")"

# The customer at position 0.9 N of the CLV order (highest first), for a deep page of that sort:
# its cursor is [the CLV's f64 bits, id].
CLV_CURSOR="$(python3 - "$DB" "$DEEP_ID" <<'PY'
import base64, json, sqlite3, struct, sys
db, n = sys.argv[1], int(sys.argv[2])
row = sqlite3.connect(db).execute(
    "SELECT clv, customer_id FROM customer_values WHERE clv IS NOT NULL "
    "ORDER BY clv DESC, customer_id DESC LIMIT 1 OFFSET ?", (n,)).fetchone()
if row is None:  # no CLV (the purchase model did not fit the generated orders): no such page
    sys.exit(0)
clv, cid = row
bits = struct.unpack("<Q", struct.pack("<d", clv))[0]
print(base64.urlsafe_b64encode(json.dumps([bits, cid], separators=(",", ":")).encode()).decode().rstrip("="))
PY
)"

# A rare part of that name: its last 5 characters (digits).
PART="${DEEP_NAME: -5}"
urlq() { python3 -c 'import urllib.parse,sys; print(urllib.parse.quote(sys.argv[1]))' "$1"; }

PAGES=(
  "list-first|/customers"
  "list-filtered|/customers?abc=A&segment=champions"
  "list-deep-id|/customers?after=$(cursor "$DEEP_ID")"
  "list-deep-name|/customers?sort=name&after=$NAME_CURSOR"
  "list-region|/customers?region=North"
  "list-search|/customers?q=$(urlq "$DEEP_NAME")"
  "search-part|/customers?q=$(urlq "$PART")"
  "search-common|/customers?q=ustomer"
  "search-2-chars|/customers?q=77"
  "card|/customers/$CARD_ID"
  "my-day|/my-day"
  "inbox|/inbox"
  "picker|/customers/pick?q=$(urlq "$PART")"
)

[ -z "$CLV_CURSOR" ] || PAGES+=("list-clv-deep|/customers?sort=-clv&after=$CLV_CURSOR")
ACTUAL="$(python3 -c 'import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute("SELECT COUNT(*) FROM customers").fetchone()[0])' "$DB")"
for view in first second; do
  curl -s -o /dev/null -w "dashboard, $view view: HTTP %{http_code} in %{time_total} s\n" -H "$COOKIE" "$BASE/dashboard"
done
echo "== $ACTUAL customers; wrk -t$THREADS -c$CONNECTIONS -d$DURATION; $(nproc) cores; load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
for p in "${PAGES[@]}"; do
  name="${p%%|*}"; path="${p#*|}"
  # Check the page renders (200, not a redirect to the login page) before loading it.
  code="$(curl -s -o "$WORK/page.html" -w '%{http_code}' -H "$COOKIE" "$BASE$path")"
  if [ "$code" != 200 ]; then echo "$name: HTTP $code for $path" >&2; exit 1; fi
  rows="$( (grep -o '<tr>\|<li class="task' "$WORK/page.html" || true) | wc -l)"
  wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" --latency -H "$COOKIE" "$BASE$path" >"$WORK/wrk.txt"
  python3 - "$name" "$rows" "$WORK/wrk.txt" "$path" <<'EOF'
import re, sys
name, rows, f, path = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
t = open(f).read()
def ms(s):
    v, u = re.match(r"([\d.]+)(us|ms|s)", s).groups()
    return float(v) * {"us": 0.001, "ms": 1, "s": 1000}[u]
pct = dict(re.findall(r"^\s+(\d+)%\s+(\S+)", t, re.M))
mx = re.search(r"Latency\s+\S+\s+\S+\s+(\S+)", t).group(1)
rps = re.search(r"Requests/sec:\s+([\d.]+)", t).group(1)
errs = re.search(r"Non-2xx or 3xx responses: (\d+)", t)
err = f" NON-2xx {errs.group(1)}" if errs else ""
p99 = ms(pct["99"])
ok = "ok" if p99 < 50 else "SLOW"
print(f"{name:18} p50 {ms(pct['50']):7.2f} ms  p90 {ms(pct['90']):7.2f} ms  p99 {p99:7.2f} ms  max {ms(mx):7.2f} ms  {float(rps):8.1f} req/s  rows {int(rows)-1:3}  {ok}{err}")
EOF
done
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
