#!/usr/bin/env bash
# PostgreSQL order import against PostgreSQL's own floor: `patron import orders FILE
# --create-customers` (COPY of each batch into a staging table, one INSERT .. SELECT into
# `order_lines` with its primary key, date index and foreign key, customers created on request)
# into a fresh database, then a bare `psql \copy` of the same file into an unindexed table of
# typed columns (no keys, no customers, no checks). Prints rows, seconds and rows/s of each and
# their ratio.
#
#   bench/pg-import.sh [ORDERS_CSV]
#
# ORDERS_CSV is a file written by `patron bench import --file ...` (customer_id,date,amount,
# cost,category), e.g. 1,000,000 lines over 100,000 customers:
#   patron --database postgres://x@127.0.0.1:1/x bench import --customers 100000 \
#     --orders 1000000 --file bench-out/orders-1m.csv   # writes the file, then fails to connect
# Uses the server in PATRON_TEST_POSTGRES_URL (a superuser URL); without it, runs itself under
# scripts/with-postgres.sh (a throwaway cluster: fsync off, the test cluster's settings).
set -euo pipefail
CSV=${1:-bench-out/orders.csv}
PATRON=${PATRON:-target/release/patron}
[ -f "$CSV" ] || { echo "no $CSV: run 'patron bench import --file $CSV' first" >&2; exit 1; }
[ -x "$PATRON" ] || { echo "no $PATRON: cargo build --release -p patron (or set PATRON)" >&2; exit 1; }
if [ -z "${PATRON_TEST_POSTGRES_URL:-}" ]; then
  exec "$(dirname "$0")/../scripts/with-postgres.sh" "$0" "$@"
fi
command -v psql >/dev/null || { echo "needs psql (Debian's postgresql-client)" >&2; exit 1; }

ADMIN=$PATRON_TEST_POSTGRES_URL
BASE=${ADMIN%/*}
CSV_ABS=$(cd "$(dirname "$CSV")" && pwd)/$(basename "$CSV")
ROWS=$(($(wc -l <"$CSV") - 1))
DBS=()
cleanup() { for d in "${DBS[@]}"; do psql -q "$ADMIN" -c "DROP DATABASE IF EXISTS $d WITH (FORCE)" >/dev/null 2>&1 || true; done; }
trap cleanup EXIT
fresh() { local d="pgimport_$$_$1"; psql -q "$ADMIN" -c "CREATE DATABASE $d" >/dev/null; DBS+=("$d"); echo "$BASE/$d"; }
now() { date +%s.%N; }

# Patron: migrate first (an empty database gets its schema on first connect), then time the import.
URL=$(fresh patron)
"$PATRON" --database "$URL" duplicates >/dev/null 2>&1
t=$(now)
"$PATRON" --database "$URL" import orders "$CSV_ABS" --create-customers >&2
patron_s=$(echo "$(now) - $t" | bc -l)
stored=$(psql -qtA "$URL" -c "SELECT count(*) FROM order_lines")
customers=$(psql -qtA "$URL" -c "SELECT count(*) FROM customers")

# The floor: the same file into a table without keys or indexes.
FLOOR=$(fresh floor)
psql -q "$FLOOR" -c "CREATE TABLE staging (customer_id BIGINT, date DATE, amount NUMERIC, cost NUMERIC, category TEXT)"
t=$(now)
psql -q "$FLOOR" -c "\\copy staging FROM '$CSV_ABS' WITH (FORMAT csv, HEADER true)"
copy_s=$(echo "$(now) - $t" | bc -l)
copied=$(psql -qtA "$FLOOR" -c "SELECT count(*) FROM staging")

echo "PostgreSQL $(psql -qtA "$ADMIN" -c 'SHOW server_version'), $ROWS lines of $CSV ($stored stored, $customers customers)"
printf '%-48s %9s %8s %10s\n' "what" rows seconds "rows/s"
printf '%-48s %9d %8.2f %10.0f\n' "patron import orders --create-customers" "$ROWS" "$patron_s" "$(echo "$ROWS / $patron_s" | bc -l)"
printf '%-48s %9d %8.2f %10.0f\n' "psql \\copy into an unindexed table" "$copied" "$copy_s" "$(echo "$copied / $copy_s" | bc -l)"
printf 'ratio (patron / \\copy): %.2f\n' "$(echo "$patron_s / $copy_s" | bc -l)"
