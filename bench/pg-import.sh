#!/usr/bin/env bash
# PostgreSQL's order import against PostgreSQL's own floor, now one part of bench/db-scale.sh
# (which also times the refresh, SQLite, `value export --orders` and the sqlite3 floor, and prints
# one table). Kept so that the README's earlier figures keep their command:
#
#   bench/pg-import.sh [ORDERS_CSV]     # = ORDERS=ORDERS_CSV BACKENDS=postgres bench/db-scale.sh
#
# ORDERS_CSV is a file written by `patron bench import --file ...` (customer_id,date,amount,
# cost,category).
set -euo pipefail
CSV=${1:-bench-out/orders.csv}
[ -f "$CSV" ] || { echo "no $CSV: run 'patron bench import --file $CSV' first" >&2; exit 1; }
ORDERS="$CSV" BACKENDS=postgres exec "$(dirname "$0")/db-scale.sh"
