#!/usr/bin/env bash
# Property-based test of the JSON API against its own OpenAPI document with Schemathesis
# (pinned below, installed from PyPI into a cached virtualenv). Builds `patron`, serves a fresh
# SQLite database holding a slice of the CDNOW sample (customers, orders, value figures) on a free
# loopback port, and runs every operation of /openapi.json as an admin with all checks:
# no 5xx, every response as documented, no request the document calls invalid accepted, no
# request it calls valid refused. Exits non-zero on any failure; the server is stopped either way.
#
# Usage: scripts/schemathesis.sh [extra `st run` options]
# Environment: ST_MAX_EXAMPLES (default 20 per operation), ST_SEED (default fixed: reproducible),
# ST_VENV (the virtualenv to use), ST_REPORT_DIR (JUnit reports; default: deleted with the run).
set -euo pipefail
cd "$(dirname "$0")/.."

ST_VERSION=4.32.5
MAX_EXAMPLES="${ST_MAX_EXAMPLES:-20}"
SEED="${ST_SEED:-20261123}"
VENV="${ST_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/patron-schemathesis-$ST_VERSION}"

command -v python3 >/dev/null || { echo "python3 is required" >&2; exit 1; }
if [ ! -x "$VENV/bin/st" ] || ! "$VENV/bin/st" --version 2>/dev/null | grep -q "$ST_VERSION"; then
  echo "== installing schemathesis $ST_VERSION into $VENV" >&2
  rm -rf "$VENV"
  python3 -m venv "$VENV" || {
    echo "python3 -m venv failed: installing Debian's python3-venv" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq && apt-get install -y -qq python3-venv >/dev/null
    python3 -m venv "$VENV"
  }
  "$VENV/bin/pip" install --quiet --disable-pip-version-check "schemathesis==$ST_VERSION"
fi

echo "== building patron" >&2
cargo build --quiet -p patron
PATRON="${CARGO_TARGET_DIR:-target}/debug/patron"

WORK=$(mktemp -d /tmp/patron-st.XXXXXX)
SERVER_PID=""
cleanup() {
  if [ -n "$SERVER_PID" ]; then
    kill "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT

DB="$WORK/patron.db"
# A few hundred customers with real orders (ids 1..n, which generated path ids often hit), their
# value figures, and an admin with an API token.
head -n 1500 data/CDNOW_sample.txt >"$WORK/orders.txt"
"$PATRON" -d "$DB" import orders "$WORK/orders.txt" --format cdnow --create-customers >/dev/null 2>&1
"$PATRON" -d "$DB" value refresh >/dev/null 2>&1
printf 'schemathesis-password-1\n' | "$PATRON" -d "$DB" user add st-admin --role admin --password-stdin >/dev/null 2>&1
TOKEN=$("$PATRON" -d "$DB" token create st-admin --name schemathesis 2>/dev/null)
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
RUST_LOG="${RUST_LOG:-warn}" "$PATRON" -d "$DB" serve --addr "127.0.0.1:$PORT" >"$WORK/server.log" 2>&1 &
SERVER_PID=$!
for _ in $(seq 1 100); do
  curl -fsS "http://127.0.0.1:$PORT/api/health" >/dev/null 2>&1 && break
  kill -0 "$SERVER_PID" 2>/dev/null || { cat "$WORK/server.log" >&2; exit 1; }
  sleep 0.1
done

URL="http://127.0.0.1:$PORT/openapi.json"
REPORT_DIR="${ST_REPORT_DIR:-$WORK/report}"
export SCHEMATHESIS_HOOKS="$PWD/scripts/schemathesis_hooks.py"
st_run() {
  (cd "$WORK" && "$VENV/bin/st" run "$URL" \
    -H "Authorization: Bearer $TOKEN" \
    --checks all \
    --max-examples "$MAX_EXAMPLES" \
    --seed "$SEED" \
    --workers 2 \
    --request-timeout 30 \
    --generation-allow-x00 false \
    --suppress-health-check filter_too_much \
    --no-color \
    --report junit --report-dir "$REPORT_DIR" \
    "$@")
}

status=0
echo "== schemathesis $ST_VERSION: every operation, all checks, $MAX_EXAMPLES examples each, seed $SEED" >&2
# Revoking tokens goes last, on its own: it revokes the run's own token sooner or later (it reuses
# ids seen in responses), after which every request is 401.
st_run --exclude-operation-id revokeToken "$@" || status=$?
echo "== schemathesis: DELETE /api/tokens/{token_id}" >&2
st_run --include-operation-id revokeToken "$@" || status=$?

if grep -q "panicked" "$WORK/server.log"; then
  echo "the server logged a panic:" >&2
  grep -B2 -A5 "panicked" "$WORK/server.log" >&2
  status=1
fi
exit "$status"
