#!/usr/bin/env bash
# Runs a command with a throwaway SMTP server (Python's aiosmtpd, pinned, installed from PyPI
# into a cached virtualenv) on a free loopback port that accepts every message and writes it to
# a directory, exported as PATRON_TEST_SMTP_URL (smtp://127.0.0.1:PORT) and
# PATRON_TEST_SMTP_DIR. The server is stopped and the directory deleted when the command ends,
# whatever its outcome. Usage: scripts/with-smtp.sh COMMAND [ARGS...]
# Environment: SMTP_VENV (the virtualenv to use).
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"

AIOSMTPD_VERSION=1.4.6
VENV="${SMTP_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/patron-aiosmtpd-$AIOSMTPD_VERSION}"
if ! "$VENV/bin/python" -c 'import aiosmtpd' >/dev/null 2>&1; then
  echo "installing aiosmtpd $AIOSMTPD_VERSION into $VENV" >&2
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check "aiosmtpd==$AIOSMTPD_VERSION" >&2
fi

WORK=$(mktemp -d /tmp/patron-smtp.XXXXXX)
mkdir -p "$WORK/mail"
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$VENV/bin/python" "$HERE/smtp_sink.py" "$WORK/mail" "$PORT" 2>"$WORK/sink.log" &
SINK=$!
cleanup() {
  kill "$SINK" 2>/dev/null || true
  wait "$SINK" 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

# Wait until it accepts connections (at most 10 s).
for _ in $(seq 100); do
  if python3 -c "import socket,sys; socket.create_connection(('127.0.0.1', $PORT), 0.2).close()" 2>/dev/null; then
    break
  fi
  kill -0 "$SINK" 2>/dev/null || { cat "$WORK/sink.log" >&2; exit 1; }
  sleep 0.1
done

export PATRON_TEST_SMTP_URL="smtp://127.0.0.1:$PORT"
export PATRON_TEST_SMTP_DIR="$WORK/mail"
echo "SMTP sink (aiosmtpd $AIOSMTPD_VERSION) running on 127.0.0.1:$PORT" >&2
"$@"
