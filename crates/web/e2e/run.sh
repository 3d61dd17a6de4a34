#!/usr/bin/env bash
# End-to-end test of the web interface in a real browser: builds `patron`, loads the CDNOW demo
# database, serves it on a free loopback port, and drives Debian's headless Chromium with
# playwright-core (e2e.mjs). Screenshots go to test-artifacts/ at the repository root.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$HERE/../../.." && pwd)"

if [ ! -x /usr/bin/chromium ]; then
  echo "installing Debian's chromium (and CJK fonts for the Chinese pages)"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium fonts-noto-cjk >/dev/null
fi
command -v node >/dev/null || { echo "node is required for the browser test" >&2; exit 1; }
(cd "$HERE" && npm ci --no-audit --no-fund --loglevel=error)

# PATRON_BIN: test an already built binary instead of building one.
if [ -n "${PATRON_BIN:-}" ]; then
  BIN="$PATRON_BIN"
else
  (cd "$ROOT" && cargo build -q -p patron)
  BIN="$ROOT/target/debug/patron"
fi
WORK="$(mktemp -d)"
SERVER_PID=""
cleanup() {
  if [ -n "$SERVER_PID" ]; then kill "$SERVER_PID" 2>/dev/null || true; wait "$SERVER_PID" 2>/dev/null || true; fi
  rm -rf "$WORK"
}
trap cleanup EXIT

"$BIN" demo --no-serve --demo-database "$WORK/demo.db" --orders "$ROOT/data/CDNOW_master.txt" >/dev/null
DB="$WORK/demo.db"
# Known users to sign in with, one per role (the demo's own admin password is random and printed
# once): an admin, a manager of the Sales department, a rep in it reporting to that manager, and
# an analyst (aggregates only).
E2E_PASSWORD="e2e-$(date +%s)-secret"
# The rep gets five customers of the first demo rep by hand-over; a sixth customer of the same rep
# is the one the admin returns to the public pool for the rep to claim.
read -r FROM_ID FROM_USER < <("$BIN" --database "$DB" user list | awk '$3 == "rep" { print $1, $2; exit }') || true
[ -n "${FROM_USER:-}" ] || { echo "the demo database has no rep to take customers from" >&2; exit 1; }
mapfile -t PICKED < <("$BIN" --database "$DB" export customers --format json | node -e '
  let s = ""; process.stdin.on("data", (d) => (s += d)).on("end", () => {
    const ids = JSON.parse(s).filter((c) => String(c.owner_id) === process.argv[1] && !c.merged_into).slice(0, 6).map((c) => c.id);
    console.log(ids.join("\n"));
  });' "$FROM_ID")
[ "${#PICKED[@]}" -eq 6 ] || { echo "expected six customers of $FROM_USER, got ${#PICKED[@]}" >&2; exit 1; }
add_user() { printf '%s\n' "$E2E_PASSWORD" | "$BIN" --database "$DB" user add "$@" --password-stdin >/dev/null; }
add_user e2e --role admin
add_user e2e-manager --role manager --department Sales
add_user e2e-rep --role rep --department Sales --manager e2e-manager
add_user e2e-analyst --role analyst
HANDOVER=()
for id in "${PICKED[@]:0:5}"; do HANDOVER+=(--customer "$id"); done
"$BIN" --database "$DB" user handover "$FROM_USER" e2e-rep "${HANDOVER[@]}" >/dev/null
POOL_CUSTOMER="${PICKED[5]}"
# Port 0: the server binds a free port itself and logs it (no port picked, released and raced for).
"$BIN" --database "$DB" serve --addr "127.0.0.1:0" >"$WORK/server.log" 2>&1 &
SERVER_PID=$!
PORT=""
for _ in $(seq 1 100); do
  PORT="$(grep -ao 'listening on http://127.0.0.1:[0-9]*' "$WORK/server.log" | head -1 | sed 's/.*://' || true)"
  if [ -n "$PORT" ] && node -e "fetch('http://127.0.0.1:$PORT/api/health').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"; then break; fi
  sleep 0.3
done
[ -n "$PORT" ] || { echo "the server did not start:" >&2; cat "$WORK/server.log" >&2; exit 1; }

mkdir -p "$ROOT/test-artifacts"
rm -f "$ROOT/test-artifacts/"*.png # no stale screenshots (a failure.png of an earlier run)
STARTED=$SECONDS
if ! PATRON_USER=e2e PATRON_MANAGER=e2e-manager PATRON_REP=e2e-rep PATRON_ANALYST=e2e-analyst \
  PATRON_PASSWORD="$E2E_PASSWORD" PATRON_REP_CUSTOMERS="${PICKED[*]:0:5}" PATRON_POOL_CUSTOMER="$POOL_CUSTOMER" \
  PATRON_BIN="$BIN" PATRON_DB="$DB" \
  PATRON_URL="http://127.0.0.1:$PORT" ARTIFACTS="$ROOT/test-artifacts" node "$HERE/e2e.mjs"; then
  echo "--- server log" >&2; tail -50 "$WORK/server.log" >&2
  exit 1
fi
echo "browser test took $((SECONDS - STARTED)) s"
