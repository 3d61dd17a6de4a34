#!/usr/bin/env bash
# The database figures side by side: `patron import orders` and `patron value refresh` on SQLite
# and on PostgreSQL, against what needs no database at all (`patron value export --orders`, the
# whole analysis straight from the file) and the engines' own floors for loading the same file
# (`sqlite3` `.import` and `psql \copy` into a table without keys or indexes) and for storing what
# patron stored (the refresh's write, the import's rows, the import's keyed insert: SQL alone,
# from the rows patron wrote). One table.
#
#   bench/db-scale.sh                         # SIZE=100000 order lines (a quick check)
#   SIZE=10400000 bench/db-scale.sh           # the README's size: 10.4 M lines, 1 M customers
#   ORDERS=bench-out/orders.csv bench/db-scale.sh   # reuse a file of `patron bench import`
#   BACKENDS=postgres bench/db-scale.sh       # one backend only (sqlite, postgres)
#
# Environment: SIZE (order lines, default 100000), CUSTOMERS (default SIZE / 10.4), ORDERS (an
# existing `customer_id,date,amount,cost,category` file instead of generating one), BACKENDS
# (default "sqlite postgres"), PATRON (the binary; default: target/release/patron, built when
# missing), BENCH_DIR (work folder, default ${TMPDIR:-/tmp}/patron-db-scale; databases are
# removed at the end, the generated file is kept for the next run).
# The file comes from `patron bench import --file` (uniform customers, dates over two years,
# sorted by date): not the BG/NBD-shaped file of bench/value.sh. PostgreSQL is the server in
# PATRON_TEST_POSTGRES_URL (a superuser URL); without it the script runs itself under
# scripts/with-postgres.sh (a throwaway cluster: fsync off, the test cluster's settings).
# Wall-clock seconds of whole processes, one run each. Figures are only worth comparing when
# nothing else runs on the machine: say so beside any you publish.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
BACKENDS=${BACKENDS:-sqlite postgres}
if [[ " $BACKENDS " == *" postgres "* ]] && [ -z "${PATRON_TEST_POSTGRES_URL:-}" ]; then
  exec "$ROOT/scripts/with-postgres.sh" "$0" "$@"
fi
SIZE=${SIZE:-100000}
CUSTOMERS=${CUSTOMERS:-$(( SIZE * 10 / 104 ))}
[ "$CUSTOMERS" -ge 1 ] || CUSTOMERS=1
BENCH_DIR=${BENCH_DIR:-${TMPDIR:-/tmp}/patron-db-scale}
PATRON=${PATRON:-$ROOT/target/release/patron}
mkdir -p "$BENCH_DIR"
if [ ! -x "$PATRON" ]; then
  (cd "$ROOT" && cargo build -q --release -p patron)
fi
command -v sqlite3 >/dev/null || { echo "needs sqlite3 (Debian's sqlite3 package)" >&2; exit 1; }
if [[ " $BACKENDS " == *" postgres "* ]]; then
  command -v psql >/dev/null || { echo "needs psql (Debian's postgresql-client)" >&2; exit 1; }
fi

# The orders file: reused when given or already generated with these sizes.
if [ -n "${ORDERS:-}" ]; then
  CSV=$(cd "$(dirname "$ORDERS")" && pwd)/$(basename "$ORDERS")
else
  CSV="$BENCH_DIR/orders_${SIZE}_${CUSTOMERS}.csv"
  if [ ! -s "$CSV" ]; then
    # `bench import` writes the file first; the unreachable database only stops it there.
    "$PATRON" --database "postgres://nobody@127.0.0.1:1/none" bench import \
      --customers "$CUSTOMERS" --orders "$SIZE" --file "$CSV" >/dev/null 2>&1 || true
    [ -s "$CSV" ] || { echo "could not generate $CSV" >&2; exit 1; }
  fi
fi
ROWS=$(( $(wc -l <"$CSV") - 1 ))
# The refresh analyses as of the file's last order date, as `value export --orders` does (both
# generators sort by date), so that both compute the same figures.
AS_OF=${AS_OF:-$(tail -1 "$CSV" | cut -d, -f2)}

WORK=$(mktemp -d "$BENCH_DIR/run.XXXXXX")
DBS=()
cleanup() {
  for d in "${DBS[@]}"; do
    psql -q "$PATRON_TEST_POSTGRES_URL" -c "DROP DATABASE IF EXISTS $d WITH (FORCE)" >/dev/null 2>&1 || true
  done
  rm -rf "$WORK"
}
trap cleanup EXIT
now() { date +%s.%N; }
# "seconds peak-RSS-MB" of a command (its output to a log, shown when it fails; the peak
# resident set of the process itself, by GNU time: not the database server's).
timed() {
  local s; s=$(now)
  if ! /usr/bin/time -f %M -o "$WORK/rss" "$@" >"$WORK/last.log" 2>&1; then
    cat "$WORK/last.log" >&2; echo "failed: $*" >&2; exit 1
  fi
  echo "$(echo "$(now) - $s" | bc -l) $(( $(tail -1 "$WORK/rss") / 1024 ))"
}
RESULTS=()
add() { RESULTS+=("$1|$2|$3|$4"); }   # what | backend | "seconds rss" | rows

export PATRON_LOG=warn
for backend in $BACKENDS; do
  case $backend in
    sqlite) URL="$WORK/patron.db" ;;
    postgres)
      d="dbscale_$$"; psql -q "$PATRON_TEST_POSTGRES_URL" -c "CREATE DATABASE $d" >/dev/null; DBS+=("$d")
      URL="${PATRON_TEST_POSTGRES_URL%/*}/$d" ;;
    *) echo "unknown backend $backend (sqlite, postgres)" >&2; exit 1 ;;
  esac
  # An empty database gets its schema on first connect: outside the timings.
  "$PATRON" --database "$URL" duplicates >/dev/null 2>&1
  add "patron import orders --create-customers" "$backend" "$(timed "$PATRON" --database "$URL" import orders "$CSV" --create-customers)" "$ROWS"
  add "patron value refresh" "$backend" "$(timed "$PATRON" --database "$URL" value refresh --as-of "$AS_OF")" "$ROWS"
  # The engines' floors for what patron stored, by SQL alone (no Rust), read back from this
  # database: rows the engine already holds, so no parsing and no checks.
  case $backend in
    sqlite)
      # The refresh's write: its value rows into the emptied table, the seven secondary indexes
      # built afterwards, a snapshot and its history rows, in one transaction, as
      # `Store::replace_customer_values` does (the same page cache; the rows come from an
      # attached copy made outside the timing).
      sqlite3 "$WORK/values.db" "ATTACH '$URL' AS s; CREATE TABLE v AS SELECT * FROM s.customer_values"
      where="type = 'index' AND tbl_name = 'customer_values' AND sql IS NOT NULL"
      {
        echo "PRAGMA cache_size = -32768;"
        echo "ATTACH '$WORK/values.db' AS r;"
        echo "BEGIN IMMEDIATE;"
        echo "DELETE FROM customer_values;"
        sqlite3 "$URL" "SELECT 'DROP INDEX \"' || name || '\";' FROM sqlite_master WHERE $where"
        echo "INSERT INTO customer_values SELECT * FROM r.v;"
        sqlite3 "$URL" "SELECT sql || ';' FROM sqlite_master WHERE $where"
        echo "INSERT INTO value_snapshots (computed_at) VALUES ('2000-01-01T00:00:00Z');"
        echo "INSERT OR ROLLBACK INTO value_history (customer_id, snapshot_id, grade, stage, clv, p_alive, margin_cents) SELECT customer_id, (SELECT MAX(id) FROM value_snapshots), grade, loyalty_stage, clv, p_alive, margin_cents FROM customer_values;"
        echo "COMMIT;"
      } >"$WORK/write-floor.sql"
      add "sqlite3: the refresh's write alone (floor)" sqlite \
        "$(timed sqlite3 "$URL" -cmd ".read $WORK/write-floor.sql" "SELECT 1")" \
        "$(sqlite3 "$URL" "SELECT count(*) FROM customer_values")"
      rm -f "$WORK/values.db"
      ;;
    postgres)
      # The refresh's write: its value rows by COPY into a table without indexes, then the
      # live table's eight indexes built, then the history rows (one connection; patron uses
      # two for the first two steps), rolled back at the end.
      psql -q "$URL" -c "\\copy customer_values TO '$WORK/values.copy'"
      {
        echo "BEGIN;"
        echo "CREATE TABLE floor_values (LIKE customer_values INCLUDING DEFAULTS);"
        echo "\\copy floor_values FROM '$WORK/values.copy'"
        psql -qtA "$URL" -c "SELECT replace(pg_get_indexdef(indexrelid), ' ON public.customer_values ', ' ON public.floor_values ') || ';' FROM pg_index WHERE indrelid = 'customer_values'::regclass" \
          | sed -E 's/^(CREATE (UNIQUE )?INDEX )([a-z_0-9]+)/\1floor_\3/'
        echo "ANALYZE floor_values;"
        echo "INSERT INTO value_history (customer_id, snapshot_id, grade, stage, clv, p_alive, margin_cents) SELECT customer_id, -1, grade, loyalty_stage, clv, p_alive, margin_cents FROM floor_values;"
        echo "ROLLBACK;"
      } >"$WORK/write-floor.sql"
      add "psql: the refresh's write alone (floor)" postgres \
        "$(timed psql -q -v ON_ERROR_STOP=1 "$URL" -f "$WORK/write-floor.sql")" \
        "$(psql -qtA "$URL" -c "SELECT count(*) FROM customer_values")"
      # The import's result: its customers and lines into twins of their tables without
      # indexes, then every index of both built (the cheapest order for the engine), rolled back.
      {
        echo "BEGIN;"
        for t in customers order_lines; do
          echo "CREATE TABLE floor_$t (LIKE $t INCLUDING DEFAULTS);"
          echo "INSERT INTO floor_$t SELECT * FROM $t;"
          psql -qtA "$URL" -c "SELECT replace(pg_get_indexdef(indexrelid), ' ON public.$t ', ' ON public.floor_$t ') || ';' FROM pg_index WHERE indrelid = '$t'::regclass" \
            | sed -E 's/^(CREATE (UNIQUE )?INDEX )([a-z_0-9]+)/\1floor_\3/'
        done
        echo "ROLLBACK;"
      } >"$WORK/import-floor.sql"
      add "psql: the import's rows stored by SQL alone (floor)" postgres \
        "$(timed psql -q -v ON_ERROR_STOP=1 "$URL" -f "$WORK/import-floor.sql")" "$ROWS"
      # The insert that makes an import safe to run twice: the lines, sorted by key, into an
      # empty table with that key, ON CONFLICT DO NOTHING (one statement; the source table is
      # made outside the timing), rolled back.
      psql -q "$URL" -c "CREATE UNLOGGED TABLE floor_source AS SELECT * FROM order_lines ORDER BY customer_id, order_ref, line_no"
      {
        echo "BEGIN;"
        echo "CREATE TABLE floor_keyed (LIKE order_lines INCLUDING DEFAULTS);"
        echo "ALTER TABLE floor_keyed ADD PRIMARY KEY (customer_id, order_ref, line_no);"
        echo "INSERT INTO floor_keyed SELECT * FROM floor_source ON CONFLICT DO NOTHING;"
        echo "ROLLBACK;"
      } >"$WORK/keyed-floor.sql"
      add "psql: the lines inserted ON CONFLICT against their key (floor)" postgres \
        "$(timed psql -q -v ON_ERROR_STOP=1 "$URL" -f "$WORK/keyed-floor.sql")" "$ROWS"
      psql -q "$URL" -c "DROP TABLE floor_source"
      rm -f "$WORK/values.copy"
      ;;
  esac
done

add "patron value export --orders (no database)" "file" "$(timed "$PATRON" value export --orders "$CSV" --output /dev/null)" "$ROWS"

# The floors: the same file into a table of typed columns without keys, indexes or checks.
FLOOR_DB="$WORK/floor.db"
sqlite3 "$FLOOR_DB" "PRAGMA journal_mode=WAL; CREATE TABLE staging (customer_id INTEGER, date TEXT, amount REAL, cost REAL, category TEXT);" >/dev/null
add "sqlite3 .import into an unindexed table (floor)" "sqlite" \
  "$(timed sqlite3 "$FLOOR_DB" -cmd ".mode csv" ".import --skip 1 $CSV staging")" \
  "$(sqlite3 "$FLOOR_DB" "SELECT count(*) FROM staging")"
if [[ " $BACKENDS " == *" postgres "* ]]; then
  d="dbscale_floor_$$"; psql -q "$PATRON_TEST_POSTGRES_URL" -c "CREATE DATABASE $d" >/dev/null; DBS+=("$d")
  FLOOR_URL="${PATRON_TEST_POSTGRES_URL%/*}/$d"
  psql -q "$FLOOR_URL" -c "CREATE TABLE staging (customer_id BIGINT, date DATE, amount NUMERIC, cost NUMERIC, category TEXT)"
  add "psql \\copy into an unindexed table (floor)" "postgres" \
    "$(timed psql -q "$FLOOR_URL" -c "\\copy staging FROM '$CSV' WITH (FORMAT csv, HEADER true)")" \
    "$(psql -qtA "$FLOOR_URL" -c "SELECT count(*) FROM staging")"
fi

echo
if [ -n "${ORDERS:-}" ]; then
  echo "$ROWS order lines over $(tail -n +2 "$CSV" | cut -d, -f1 | sort -u | wc -l) customers ($CSV), as of $AS_OF"
else
  echo "$ROWS order lines over up to $CUSTOMERS customers ($CSV), as of $AS_OF"
fi
echo "patron: $PATRON; $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)"
[ -n "${PATRON_TEST_POSTGRES_URL:-}" ] && echo "PostgreSQL $(psql -qtA "$PATRON_TEST_POSTGRES_URL" -c 'SHOW server_version')"
printf '| %-62s | %-8s | %9s | %10s | %12s |\n' what backend seconds "rows/s" "peak RSS MB"
printf '|%s|%s|%s|%s|%s|\n' "$(printf -- '-%.0s' {1..64})" "----------" "-----------" "------------" "--------------"
for r in "${RESULTS[@]}"; do
  IFS='|' read -r what backend timing rows <<<"$r"
  read -r secs rss <<<"$timing"
  printf '| %-62s | %-8s | %9.2f | %10.0f | %12s |\n' "$what" "$backend" "$secs" "$(echo "$rows / $secs" | bc -l)" "$rss"
done
