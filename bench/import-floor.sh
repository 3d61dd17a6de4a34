#!/usr/bin/env bash
# The floor of SQLite itself for the order import: the same order lines that `patron bench
# import` writes, moved by SQL alone (`INSERT .. SELECT` from a staging table, no Rust, no
# driver), into Patron's own schema with Patron's pragmas. Compare with `patron bench import`.
#
#   bench/import-floor.sh [ORDERS_CSV] [CUSTOMERS]
#
# ORDERS_CSV is a file written by `patron bench import --file ...` (customer_id,date,amount,
# cost,category); CUSTOMERS how many customers it spans (1000000 by default). Needs `sqlite3`
# (Debian's sqlite3 package) and python3. Prints seconds and rows/s per variant: each batch of
# 200,000 sorted by key (as the import did before its sort runs), sorted runs of 2,000,000, and runs without the date index or without
# foreign-key checks.
set -euo pipefail
CSV=${1:-bench-out/orders.csv}
CUSTOMERS=${2:-1000000}
PATRON=${PATRON:-target/release/patron}
WORK=$(mktemp -d /tmp/patron-floor.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
command -v sqlite3 >/dev/null || { echo "needs sqlite3: apt-get install sqlite3" >&2; exit 1; }
[ -f "$CSV" ] || { echo "no $CSV: run 'patron bench import --file $CSV' first" >&2; exit 1; }

"$PATRON" --database "$WORK/base.db" duplicates >/dev/null 2>&1   # creates and migrates
sqlite3 "$WORK/base.db" >/dev/null <<SQL
PRAGMA journal_mode=WAL;
INSERT INTO customers (number, name, status, loyalty, created_at, updated_at)
  SELECT value, 'Customer ' || value, 'won', 'none', '2026-01-01', '2026-01-01'
  FROM generate_series(1, $CUSTOMERS);
CREATE TABLE staging (customer_id INTEGER, date TEXT, amount REAL, cost REAL, category TEXT);
.mode csv
.import --skip 1 $CSV staging
PRAGMA wal_checkpoint(TRUNCATE);
SQL

python3 - "$WORK" <<'PY'
import shutil, sqlite3, sys, time
work = sys.argv[1]
n = sqlite3.connect(f"{work}/base.db").execute("SELECT max(rowid) FROM staging").fetchone()[0]
for variant, batch in [("200,000-line batches", 200_000), ("sorted runs", 2_000_000),
                       ("sorted runs, no date index", 2_000_000), ("sorted runs, no foreign keys", 2_000_000)]:
    db_path = f"{work}/run.db"
    shutil.copy(f"{work}/base.db", db_path)
    db = sqlite3.connect(db_path, isolation_level=None)
    for p in ["journal_mode=WAL", "synchronous=NORMAL", "cache_size=-1048576",
              "foreign_keys=" + ("OFF" if "foreign" in variant else "ON")]:
        db.execute("PRAGMA " + p)
    if "date index" in variant:
        db.execute("DROP INDEX order_lines_by_date")
    t = time.time()
    for s in range(0, n, batch):
        db.execute("BEGIN IMMEDIATE")
        db.execute(f"""INSERT INTO order_lines (customer_id, order_ref, line_no, ordered_on, category,
                       quantity, amount_cents, cost_cents)
                       SELECT customer_id, date, rowid, date, category, 1, CAST(round(amount * 100) AS INTEGER),
                              CAST(round(cost * 100) AS INTEGER)
                       FROM staging WHERE rowid > {s} AND rowid <= {s + batch} ORDER BY customer_id, date, rowid
                       ON CONFLICT DO NOTHING""")
        db.execute("COMMIT")
    el = time.time() - t
    print(f"{variant:32} {n} lines in {el:7.1f} s: {n / el:9.0f} rows/s", flush=True)
    db.close()
PY
