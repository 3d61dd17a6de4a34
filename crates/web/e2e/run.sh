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

(cd "$ROOT" && cargo build -q -p patron)
BIN="$ROOT/target/debug/patron"
WORK="$(mktemp -d)"
SERVER_PID=""
cleanup() {
  if [ -n "$SERVER_PID" ]; then kill "$SERVER_PID" 2>/dev/null || true; wait "$SERVER_PID" 2>/dev/null || true; fi
  rm -rf "$WORK"
}
trap cleanup EXIT

"$BIN" demo --no-serve --demo-database "$WORK/demo.db" --orders "$ROOT/data/CDNOW_master.txt" >/dev/null
# A known user to sign in with (the demo's own admin password is random and printed once).
E2E_PASSWORD="e2e-$(date +%s)-secret"
printf '%s\n' "$E2E_PASSWORD" | "$BIN" --database "$WORK/demo.db" user add e2e --role admin --password-stdin >/dev/null
PORT="$(node -e "const s=require('net').createServer().listen(0,'127.0.0.1',()=>{console.log(s.address().port);s.close()})")"
"$BIN" --database "$WORK/demo.db" serve --addr "127.0.0.1:$PORT" >"$WORK/server.log" 2>&1 &
SERVER_PID=$!
for _ in $(seq 1 100); do
  if node -e "fetch('http://127.0.0.1:$PORT/api/health').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"; then break; fi
  sleep 0.3
done

mkdir -p "$ROOT/test-artifacts"
if ! PATRON_USER=e2e PATRON_PASSWORD="$E2E_PASSWORD" PATRON_URL="http://127.0.0.1:$PORT" ARTIFACTS="$ROOT/test-artifacts" node "$HERE/e2e.mjs"; then
  echo "--- server log" >&2; tail -50 "$WORK/server.log" >&2
  exit 1
fi
