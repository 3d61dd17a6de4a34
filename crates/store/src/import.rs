//! Bulk writes for imports: multi-row inserts in one transaction per batch, skipping rows whose
//! natural key is already stored, so that re-running an import changes nothing and an import
//! killed half-way resumes without duplicates.

use std::collections::HashMap;

use chrono::{DateTime, NaiveDate, Utc};
use patron_domain::{CustomerInput, InteractionKind, Money};

use crate::commit;
use crate::BeginWrite;
use crate::{now, with_pool, Store, StoreError};

// PostgreSQL's COPY path for order lines (src/pg_copy.rs).
#[path = "pg_copy.rs"]
mod pg_copy;

/// A validated customer row of an import (its number is the natural key).
#[derive(Debug, Clone)]
pub struct ImportCustomer {
    pub number: String,
    pub data: CustomerInput,
}

/// One order line of an import; `(customer_id, order_ref, line_no)` is its natural key.
#[derive(Debug, Clone, PartialEq)]
pub struct ImportOrderLine {
    pub customer_id: i64,
    pub order_ref: String,
    pub line_no: i32,
    pub ordered_on: NaiveDate,
    pub category: Option<String>,
    pub quantity: i64,
    pub amount: Money,
    pub cost: Money,
}

impl ImportOrderLine {
    /// The natural key, in the order of the table's primary key.
    pub fn key(&self) -> (i64, &str, i32) {
        (self.customer_id, &self.order_ref, self.line_no)
    }
}

/// One interaction of an import; `(customer_id, external_id)` is its natural key.
#[derive(Debug, Clone)]
pub struct ImportInteraction {
    pub customer_id: i64,
    pub external_id: String,
    pub kind: InteractionKind,
    pub occurred_at: DateTime<Utc>,
    pub by: Option<String>,
    pub text: String,
}

/// An order line as the analytics read it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct OrderFact {
    pub customer_id: i64,
    pub ordered_on: NaiveDate,
    pub amount_cents: i64,
    pub cost_cents: i64,
}

/// `($1, $2, ..), ($k, ..)` for `rows` rows of `cols` placeholders; with `anonymous`, `?`
/// marks instead. SQLite gets `?`: it looks up every named (`$n`) parameter by walking a list,
/// which made binding a 4,000-parameter statement quadratic (89% of an import's time, measured
/// with perf); anonymous parameters skip that lookup.
pub(crate) fn values_sql(cols: usize, rows: usize, anonymous: bool) -> String {
    let mut s = String::with_capacity(rows * cols * 5);
    for r in 0..rows {
        if r > 0 {
            s.push_str(", ");
        }
        s.push('(');
        for c in 0..cols {
            if c > 0 {
                s.push_str(", ");
            }
            if anonymous {
                s.push('?');
            } else {
                s.push('$');
                s.push_str(&(r * cols + c + 1).to_string());
            }
        }
        s.push(')');
    }
    s
}

/// Who the customer history names for a status an imported order changed.
const IMPORT_BY: &str = "import";

const ORDER_CHUNK: usize = 500;
const CUSTOMER_CHUNK: usize = 200;

impl Store {
    /// Ids of the given customer numbers (absent numbers are left out of the map).
    pub async fn customer_ids(
        &self,
        numbers: &[String],
    ) -> Result<HashMap<String, i64>, StoreError> {
        self.customer_ids_within(numbers, &crate::Visibility::All)
            .await
    }

    /// Ids of the given customer numbers that a caller seeing `visible` may change (owned by
    /// someone in the scope; pool customers are changed only once claimed). Numbers outside
    /// the scope are left out, exactly like absent ones.
    pub async fn customer_ids_within(
        &self,
        numbers: &[String],
        visible: &crate::Visibility,
    ) -> Result<HashMap<String, i64>, StoreError> {
        let anon = self.kind() == crate::BackendKind::Sqlite;
        let mut out = HashMap::with_capacity(numbers.len());
        if let crate::Backend::Postgres(pool) = &self.backend {
            // One array parameter per 50,000 numbers instead of a statement per 500 (an order
            // import of 1 M lines over 630 k new customers asked 2,500 times).
            for chunk in numbers.chunks(50_000) {
                let rows: Vec<(String, i64, Option<i64>)> = sqlx::query_as(
                    "SELECT number, id, owner_id FROM customers WHERE number = ANY($1)",
                )
                .bind(chunk)
                .fetch_all(pool)
                .await?;
                out.extend(
                    rows.into_iter()
                        .filter(|(_, _, owner)| visible.allows(*owner, true))
                        .map(|(n, id, _)| (n, id)),
                );
            }
            return Ok(out);
        }
        for chunk in numbers.chunks(500) {
            let list = values_sql(chunk.len(), 1, anon);
            let sql = format!("SELECT number, id, owner_id FROM customers WHERE number IN {list}");
            let rows: Vec<(String, i64, Option<i64>)> = with_pool!(self, pool => {
                let mut q = sqlx::query_as(&sql);
                for n in chunk {
                    q = q.bind(n);
                }
                q.fetch_all(pool).await?
            });
            out.extend(
                rows.into_iter()
                    .filter(|(_, _, owner)| visible.allows(*owner, true))
                    .map(|(n, id, _)| (n, id)),
            );
        }
        Ok(out)
    }

    /// Every customer's number by id (merged customers too), for exports that name customers
    /// by their number rather than the internal id.
    pub async fn customer_numbers(&self) -> Result<HashMap<i64, String>, StoreError> {
        let rows: Vec<(i64, Option<String>)> = with_pool!(self, pool =>
            sqlx::query_as("SELECT id, number FROM customers").fetch_all(pool).await?);
        Ok(rows
            .into_iter()
            .map(|(id, n)| (id, n.unwrap_or_default()))
            .collect())
    }

    /// The numbers of the given customers (those that have one), one statement per 500 ids:
    /// for reports that name a few customers.
    pub async fn customer_numbers_of(
        &self,
        ids: &[i64],
    ) -> Result<HashMap<i64, String>, StoreError> {
        let mut out = HashMap::with_capacity(ids.len());
        for chunk in ids.chunks(500) {
            let marks: Vec<String> = (1..=chunk.len()).map(|i| format!("${i}")).collect();
            let sql = format!(
                "SELECT id, number FROM customers WHERE number IS NOT NULL AND id IN ({})",
                marks.join(", ")
            );
            let rows: Vec<(i64, String)> = with_pool!(self, pool => {
                let mut q = sqlx::query_as(&sql);
                for id in chunk {
                    q = q.bind(*id);
                }
                q.fetch_all(pool).await?
            });
            out.extend(rows);
        }
        Ok(out)
    }

    /// Inserts the customers whose number is not stored yet, in one transaction; returns how many
    /// were inserted (the others already existed and are left as they are).
    pub async fn import_customers(
        &self,
        rows: &[ImportCustomer],
        by: &str,
    ) -> Result<u64, StoreError> {
        let anon = self.kind() == crate::BackendKind::Sqlite;
        let at = now();
        let inserted = if let crate::Backend::Postgres(pool) = &self.backend {
            // One set-based statement per batch (src/pg_copy.rs).
            let mut tx = pool.begin_write().await?;
            let inserted = pg_copy::import_customers(&mut tx, rows, at, by).await?;
            commit!(self, tx);
            inserted
        } else {
            with_pool!(self, pool => {
                let mut tx = pool.begin_write().await?;
                // SQLite: the rows go to a temporary table first, then into `customers` in one
                // statement. Every statement that fires the search index's trigger makes FTS5 flush
                // its pending terms as a new segment and merge segments. Measured with the sqlite3
                // shell and Python on 1 million customers: a row per statement 114.6 s (26.3 s
                // without the index), 100,000 rows per statement 18.6 s.
                if anon {
                    sqlx::query(&format!("CREATE TEMP TABLE IF NOT EXISTS import_customers AS SELECT {}, created_at, updated_at FROM main.customers WHERE 0", crate::customers::CUSTOMER_WRITE_COLUMNS)).execute(&mut *tx).await?;
                    sqlx::query("DELETE FROM temp.import_customers").execute(&mut *tx).await?;
                }
                let (target, returning) = if anon {
                    ("temp.import_customers", "")
                } else {
                    ("customers", " ON CONFLICT (number) DO NOTHING RETURNING id")
                };
                // Only the rows actually inserted come back (none from the staging table).
                let mut ids: Vec<i64> = Vec::new();
                for chunk in rows.chunks(CUSTOMER_CHUNK) {
                    let sql = format!(
                        "INSERT INTO {target} ({}, created_at, updated_at) VALUES {}{returning}",
                        crate::customers::CUSTOMER_WRITE_COLUMNS,
                        values_sql(27, chunk.len(), anon),
                    );
                    let mut q = sqlx::query_scalar::<_, i64>(&sql);
                    for r in chunk {
                        q = crate::customers::bind_customer!(q, &r.number, &r.data).bind(at).bind(at);
                    }
                    ids.extend(q.fetch_all(&mut *tx).await?);
                }
                if anon && !rows.is_empty() {
                    // In file order, so new customers get their ids as the file meets them.
                    ids = sqlx::query_scalar(&format!(
                        "INSERT INTO main.customers ({cols}, created_at, updated_at) SELECT {cols}, created_at, updated_at FROM temp.import_customers WHERE true ORDER BY rowid ON CONFLICT (number) DO NOTHING RETURNING id",
                        cols = crate::customers::CUSTOMER_WRITE_COLUMNS
                    ))
                    .fetch_all(&mut *tx)
                    .await?;
                }
                // The inserted rows get their 'created' history row.
                for ids in ids.chunks(ORDER_CHUNK) {
                    let sql = format!("INSERT INTO customer_history (customer_id, changed_at, changed_by, field, old_value, new_value) VALUES {}", values_sql(4, ids.len(), anon).replace(')', ", NULL, 'import')"));
                    let mut h = sqlx::query(&sql);
                    for id in ids {
                        h = h.bind(*id).bind(at).bind(by).bind("created");
                    }
                    h.execute(&mut *tx).await?;
                }
                commit!(self, tx);
                ids.len() as u64
            })
        };
        // After a bulk load PostgreSQL's statistics still describe the small table it was, and the
        // planner then answers number lookups with sequential scans (2 s per 500 numbers at 1M
        // customers, measured). Refresh them after large batches that grew the table by a quarter
        // or more (or before its first statistics): ANALYZE samples, but at 680,000 customers it
        // still took 0.26 s, and an import creating 1 M customers in 200,000-line batches ran it
        // after each of 52.
        if let crate::Backend::Postgres(pool) = &self.backend {
            if inserted >= 10_000 {
                let (known,): (f32,) = sqlx::query_as(
                    "SELECT COALESCE((SELECT reltuples FROM pg_class WHERE oid = to_regclass('customers')), -1)",
                )
                .fetch_one(pool)
                .await?;
                if known < 0.0 || inserted as f32 * 4.0 >= known {
                    sqlx::query("ANALYZE customers").execute(pool).await?;
                }
            }
        }
        Ok(inserted)
    }

    /// Inserts order lines whose natural key is new, in one transaction; returns how many. The
    /// customers that got lines are advanced by the status rule of orders in the same
    /// transaction (a lead becomes won; history by "import").
    pub async fn import_order_lines(&self, rows: &[ImportOrderLine]) -> Result<u64, StoreError> {
        // In key order, consecutive inserts land on the same b-tree pages (files usually come
        // sorted by date, which scatters the customer-first key).
        self.import_sorted_order_lines(&in_key_order(rows)).await
    }

    /// [`Store::import_order_lines`] for lines already in key order (as [`in_key_order`] gives
    /// them): a bulk import sorts a whole run of lines once and writes it in batches.
    pub async fn import_sorted_order_lines(
        &self,
        sorted: &[&ImportOrderLine],
    ) -> Result<u64, StoreError> {
        debug_assert!(sorted.windows(2).all(|w| w[0].key() <= w[1].key()));
        let anon = self.kind() == crate::BackendKind::Sqlite;
        if let crate::Backend::Postgres(pool) = &self.backend {
            // COPY into a staging table, then one set-based insert (src/pg_copy.rs).
            let mut tx = pool.begin_write().await?;
            let inserted = pg_copy::import_order_lines(&mut tx, sorted, now(), IMPORT_BY).await?;
            commit!(self, tx);
            return Ok(inserted);
        }
        let full_sql = format!("INSERT INTO order_lines (customer_id, order_ref, line_no, ordered_on, category, quantity, amount_cents, cost_cents) VALUES {} ON CONFLICT DO NOTHING", values_sql(8, ORDER_CHUNK, anon));
        let inserted = with_pool!(self, pool => {
            let mut tx = pool.begin_write().await?;
            let mut inserted = 0;
            for chunk in sorted.chunks(ORDER_CHUNK) {
                let sql = if chunk.len() == ORDER_CHUNK {
                    std::borrow::Cow::Borrowed(full_sql.as_str())
                } else {
                    std::borrow::Cow::Owned(format!("INSERT INTO order_lines (customer_id, order_ref, line_no, ordered_on, category, quantity, amount_cents, cost_cents) VALUES {} ON CONFLICT DO NOTHING", values_sql(8, chunk.len(), anon)))
                };
                let mut q = sqlx::query(&sql);
                for r in chunk {
                    q = q.bind(r.customer_id).bind(&r.order_ref).bind(r.line_no).bind(r.ordered_on).bind(&r.category)
                        .bind(r.quantity).bind(r.amount.cents()).bind(r.cost.cents());
                }
                inserted += q.execute(&mut *tx).await?.rows_affected();
            }
            // The status rule of orders, set-based for the batch's customers (a statement pair
            // per 500 customers, not per row); the lines are sorted by customer.
            if inserted > 0 {
                let mut customers: Vec<i64> = sorted.iter().map(|r| r.customer_id).collect();
                customers.dedup();
                let at = now();
                for ids in customers.chunks(ORDER_CHUNK) {
                    let (history, update) = crate::customers::status_advance_sql(ids.len(), anon);
                    let mut h = sqlx::query(&history).bind(at).bind(IMPORT_BY);
                    let mut u = sqlx::query(&update).bind(at);
                    for id in ids {
                        h = h.bind(*id);
                        u = u.bind(*id);
                    }
                    h.execute(&mut *tx).await?;
                    u.execute(&mut *tx).await?;
                }
            }
            commit!(self, tx);
            inserted
        });
        Ok(inserted)
    }

    /// For a bulk load that adds more order lines than the table holds, sets the order lines'
    /// date index aside (drops it) so that the load writes one b-tree instead of two, and
    /// answers whether it did; [`Store::restore_order_date_index`] builds it again in one sorted
    /// pass. Measured (README, "Import speed"): 10 M lines into an empty SQLite table in sorted
    /// runs took 87.5 s with the index and 27.2 s + 31.7 s to build it afterwards. The index
    /// costs about twice as much per new row kept up during the load as per row (old or new)
    /// when built afterwards, so it pays when `incoming` (the rows about to be written) is at
    /// least the rows already there. A crash before the rebuild is repaired when the database is
    /// next opened.
    ///
    /// PostgreSQL also sets aside the order lines' foreign key to `customers`: its per-row check
    /// (a query per inserted line) was 60% of the insert's time (1 M lines into an empty table,
    /// psql: 10.7 s with it, 4.0 s without; putting it back with `VALIDATE` took 0.35 s). The
    /// COPY path checks the batch's customers set-based meanwhile (src/pg_copy.rs).
    pub async fn set_aside_order_date_index(&self, incoming: u64) -> Result<bool, StoreError> {
        if incoming == 0 {
            return Ok(false);
        }
        match &self.backend {
            crate::Backend::Sqlite(pool) => {
                let (rows,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM order_lines")
                    .fetch_one(pool)
                    .await?;
                if (rows.max(0) as u64) > incoming {
                    return Ok(false);
                }
                sqlx::query("DROP INDEX IF EXISTS order_lines_by_date")
                    .execute(pool)
                    .await?;
            }
            crate::Backend::Postgres(pool) => {
                if pg_holds_more_than(pool, "order_lines", incoming).await? {
                    return Ok(false);
                }
                let mut tx = pool.begin().await?;
                sqlx::query(&format!(
                    "ALTER TABLE order_lines DROP CONSTRAINT IF EXISTS {ORDER_CUSTOMER_KEY}"
                ))
                .execute(&mut *tx)
                .await?;
                sqlx::query("DROP INDEX IF EXISTS order_lines_by_date")
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
            }
        }
        Ok(true)
    }

    /// PostgreSQL: for an import about to create `incoming` customers when the table holds no
    /// more than that, sets aside (drops) the customers' secondary indexes, recording their
    /// definitions in `set_aside_indexes`, and answers whether it did;
    /// [`Store::restore_set_aside_indexes`] builds them again. The primary key and the unique
    /// customer number stay (the import looks customers up and skips known numbers by them),
    /// and so does the index by status: the status rule of orders finds the batch's leads by it
    /// (without it, a scan of the table per batch: 13 s more at 10.4 M lines).
    /// Measured with psql on 300,000 new customers into a table of 1 M: 5.5 s with the twelve
    /// secondary indexes kept up (two of them trigram search indexes), 1.9 s without; building
    /// them afterwards over 1.3 M customers took 7.4 s, so it pays when the table at least
    /// doubles. The import of 10.4 M lines creating 1 M customers spent 28.8 s in creating
    /// them. Meanwhile the customer lists and the search read the table without those indexes
    /// (slower, still right). SQLite answers `false`: its customers take a full-text index
    /// that is kept up per statement anyway.
    pub async fn set_aside_customer_indexes(&self, incoming: u64) -> Result<bool, StoreError> {
        let crate::Backend::Postgres(pool) = &self.backend else {
            return Ok(false);
        };
        if incoming == 0 {
            return Ok(false);
        }
        if pg_holds_more_than(pool, "customers", incoming).await? {
            return Ok(false);
        }
        let mut tx = pool.begin().await?;
        let indexes: Vec<(String, String)> = sqlx::query_as(
            "SELECT c.relname::text, pg_get_indexdef(i.indexrelid) FROM pg_index i \
             JOIN pg_class c ON c.oid = i.indexrelid \
             WHERE i.indrelid = to_regclass('customers') AND NOT i.indisunique \
             AND c.relname <> 'customers_by_status' ORDER BY 1",
        )
        .fetch_all(&mut *tx)
        .await?;
        for (name, definition) in &indexes {
            sqlx::query("INSERT INTO set_aside_indexes (name, definition) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING")
                .bind(name)
                .bind(definition)
                .execute(&mut *tx)
                .await?;
            sqlx::query(&format!(
                "DROP INDEX IF EXISTS \"{}\"",
                name.replace('"', "\"\"")
            ))
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(!indexes.is_empty())
    }

    /// Builds again every index that [`Store::set_aside_customer_indexes`] set aside, two at a
    /// time on connections of their own; a no-op when none is aside.
    pub async fn restore_set_aside_indexes(&self) -> Result<(), StoreError> {
        match &self.backend {
            crate::Backend::Postgres(pool) => restore_pg_set_aside_indexes(pool).await,
            crate::Backend::Sqlite(_) => Ok(()),
        }
    }

    /// Builds the order lines' date index again if it is missing (see
    /// [`Store::set_aside_order_date_index`]), and on PostgreSQL the foreign key to customers;
    /// a no-op otherwise.
    pub async fn restore_order_date_index(&self) -> Result<(), StoreError> {
        match &self.backend {
            crate::Backend::Sqlite(pool) => restore_order_date_index(pool).await,
            crate::Backend::Postgres(pool) => restore_pg_order_keys(pool).await,
        }
    }

    /// Whether the order lines' date index is in place (an import sets it aside on SQLite while
    /// it loads, see [`Store::set_aside_order_date_index`]).
    pub async fn has_order_date_index(&self) -> Result<bool, StoreError> {
        let (n,): (i64,) = with_pool!(self, pool => sqlx::query_as(match self.kind() {
            crate::BackendKind::Sqlite => "SELECT COUNT(*) FROM sqlite_master WHERE type = 'index' AND name = 'order_lines_by_date'",
            crate::BackendKind::Postgres => "SELECT COUNT(*) FROM pg_indexes WHERE indexname = 'order_lines_by_date'",
        }).fetch_one(pool).await?);
        Ok(n > 0)
    }

    /// Inserts interactions whose external id is new for their customer; returns how many.
    pub async fn import_interactions(&self, rows: &[ImportInteraction]) -> Result<u64, StoreError> {
        let anon = self.kind() == crate::BackendKind::Sqlite;
        let inserted = with_pool!(self, pool => {
            let mut tx = pool.begin_write().await?;
            let mut inserted = 0;
            for chunk in rows.chunks(ORDER_CHUNK) {
                let sql = format!("INSERT INTO interactions (customer_id, external_id, kind, occurred_at, by_name, body) VALUES {} ON CONFLICT (customer_id, external_id) WHERE external_id IS NOT NULL DO NOTHING", values_sql(6, chunk.len(), anon));
                let mut q = sqlx::query(&sql);
                for r in chunk {
                    q = q.bind(r.customer_id).bind(&r.external_id).bind(r.kind.as_str()).bind(r.occurred_at).bind(&r.by).bind(&r.text);
                }
                inserted += q.execute(&mut *tx).await?.rows_affected();
            }
            commit!(self, tx);
            inserted
        });
        Ok(inserted)
    }

    /// Counts of the main tables: (customers, order lines, interactions).
    pub async fn counts(&self) -> Result<(i64, i64, i64), StoreError> {
        let row: (i64, i64, i64) = with_pool!(self, pool => sqlx::query_as(
            "SELECT (SELECT COUNT(*) FROM customers WHERE merged_into IS NULL), (SELECT COUNT(*) FROM order_lines), (SELECT COUNT(*) FROM interactions)")
            .fetch_one(pool).await?);
        Ok(row)
    }
}

/// `rows` in the order of their natural key (customer, order reference, line), as references.
/// Customer ids within a span of at most four times the number of rows (as an import's are:
/// the database numbers customers densely) are placed by a counting sort, and each customer's
/// few lines then sorted by reference and line; other ids by a comparison sort. Measured on
/// the 10.4 M lines of `bench/db-scale.sh` (PostgreSQL import): sorting each run of lines by
/// the whole key, moving the 88-byte lines, took 8.5 s of the import's 106 s, one core busy.
pub fn in_key_order(rows: &[ImportOrderLine]) -> Vec<&ImportOrderLine> {
    let n = rows.len();
    let (lo, hi) = rows.iter().fold((i64::MAX, i64::MIN), |(lo, hi), r| {
        (lo.min(r.customer_id), hi.max(r.customer_id))
    });
    let span = (hi as i128 - lo as i128 + 1).max(0) as u128;
    if n < 2 || n > u32::MAX as usize || span > 4 * n as u128 {
        let mut sorted: Vec<&ImportOrderLine> = rows.iter().collect();
        sorted.sort_unstable_by(|a, b| a.key().cmp(&b.key()));
        return sorted;
    }
    // starts[c] = where customer lo + c's lines begin.
    let mut starts = vec![0u32; span as usize + 1];
    for r in rows {
        starts[(r.customer_id - lo) as usize + 1] += 1;
    }
    for i in 1..starts.len() {
        starts[i] += starts[i - 1];
    }
    let mut sorted: Vec<&ImportOrderLine> = vec![&rows[0]; n];
    for r in rows {
        let at = &mut starts[(r.customer_id - lo) as usize];
        sorted[*at as usize] = r;
        *at += 1;
    }
    for group in sorted.chunk_by_mut(|a, b| a.customer_id == b.customer_id) {
        if group.len() > 1 {
            group.sort_unstable_by(|a, b| a.key().cmp(&b.key()));
        }
    }
    sorted
}

/// Creates the order lines' date index when it is missing (an import set it aside and did not
/// finish); logs how long that took.
pub(crate) async fn restore_order_date_index(pool: &sqlx::SqlitePool) -> Result<(), StoreError> {
    let present: Option<(String,)> = sqlx::query_as(
        "SELECT name FROM sqlite_master WHERE type = 'index' AND name = 'order_lines_by_date'",
    )
    .fetch_optional(pool)
    .await?;
    if present.is_some() {
        return Ok(());
    }
    let started = std::time::Instant::now();
    sqlx::query("CREATE INDEX IF NOT EXISTS order_lines_by_date ON order_lines (ordered_on)")
        .execute(pool)
        .await?;
    tracing::info!(
        seconds = started.elapsed().as_secs_f64(),
        "built the order lines' date index"
    );
    Ok(())
}

/// PostgreSQL: whether `table` (a table name of this crate's, not from outside) holds more
/// than `rows` rows, reading at most `rows` + 1 of them rather than counting the table.
async fn pg_holds_more_than(
    pool: &sqlx::PgPool,
    table: &str,
    rows: u64,
) -> Result<bool, StoreError> {
    let (more,): (bool,) =
        sqlx::query_as(&format!("SELECT EXISTS (SELECT 1 FROM {table} OFFSET $1)"))
            .bind(rows.min(i64::MAX as u64) as i64)
            .fetch_one(pool)
            .await?;
    Ok(more)
}

/// PostgreSQL: builds the indexes listed in `set_aside_indexes` (see
/// [`Store::set_aside_customer_indexes`]) and takes each off the list once built; two builds
/// at a time (each sorts on one core). An index that another session built meanwhile counts
/// as built. Logs how long that took.
pub(crate) async fn restore_pg_set_aside_indexes(pool: &sqlx::PgPool) -> Result<(), StoreError> {
    let aside: Vec<(String, String)> =
        sqlx::query_as("SELECT name, definition FROM set_aside_indexes ORDER BY name")
            .fetch_all(pool)
            .await?;
    if aside.is_empty() {
        return Ok(());
    }
    let started = std::time::Instant::now();
    let build = |(name, definition): (String, String)| async move {
        // pg_get_indexdef's text: `CREATE INDEX name ON ...`.
        let sql = definition.replacen("CREATE INDEX ", "CREATE INDEX IF NOT EXISTS ", 1);
        match sqlx::query(&sql).execute(pool).await {
            Ok(_) => {}
            // Built by another session at the same moment (the catalog's unique name).
            Err(sqlx::Error::Database(e))
                if matches!(e.code().as_deref(), Some("42P07") | Some("23505")) => {}
            Err(e) => return Err(StoreError::from(e)),
        }
        sqlx::query("DELETE FROM set_aside_indexes WHERE name = $1")
            .bind(&name)
            .execute(pool)
            .await?;
        Ok::<(), StoreError>(())
    };
    let mut left = aside.into_iter();
    loop {
        let (a, b) = (left.next(), left.next());
        match (a, b) {
            (Some(a), Some(b)) => {
                futures_util::future::try_join(build(a), build(b)).await?;
            }
            (Some(a), None) => build(a).await?,
            _ => break,
        }
    }
    tracing::info!(
        seconds = started.elapsed().as_secs_f64(),
        "built the customers' indexes set aside by a bulk import"
    );
    Ok(())
}

/// The name PostgreSQL gave the order lines' foreign key to customers (migration 0001).
const ORDER_CUSTOMER_KEY: &str = "order_lines_customer_id_fkey";

/// PostgreSQL: puts back what a bulk order load set aside (see
/// [`Store::set_aside_order_date_index`]) when it is missing: the foreign key to customers
/// (added `NOT VALID`, so that it holds for new rows at once, then validated in one set-based
/// pass) and the date index. A validation that fails (an order line whose customer was purged
/// while the key was aside) is logged and leaves the key `NOT VALID`: still enforced for new
/// rows, and validated again at the next call.
pub(crate) async fn restore_pg_order_keys(pool: &sqlx::PgPool) -> Result<(), StoreError> {
    let (key, validated, index): (bool, bool, bool) = sqlx::query_as(&format!(
        "SELECT EXISTS (SELECT 1 FROM pg_constraint WHERE conrelid = to_regclass('order_lines') AND conname = '{ORDER_CUSTOMER_KEY}'), \
         COALESCE((SELECT convalidated FROM pg_constraint WHERE conrelid = to_regclass('order_lines') AND conname = '{ORDER_CUSTOMER_KEY}'), TRUE), \
         to_regclass('order_lines_by_date') IS NOT NULL"
    ))
    .fetch_one(pool)
    .await?;
    if key && validated && index {
        return Ok(());
    }
    let started = std::time::Instant::now();
    if !key {
        let added = sqlx::query(&format!(
            "ALTER TABLE order_lines ADD CONSTRAINT {ORDER_CUSTOMER_KEY} FOREIGN KEY (customer_id) REFERENCES customers (id) NOT VALID"
        ))
        .execute(pool)
        .await;
        match added {
            Ok(_) => {}
            // Another session put it back meanwhile.
            Err(sqlx::Error::Database(e)) if e.code().as_deref() == Some("42710") => {}
            Err(e) => return Err(e.into()),
        }
    }
    if !key || !validated {
        let checked = sqlx::query(&format!(
            "ALTER TABLE order_lines VALIDATE CONSTRAINT {ORDER_CUSTOMER_KEY}"
        ))
        .execute(pool)
        .await;
        match checked {
            Ok(_) => {}
            Err(sqlx::Error::Database(e)) if e.code().as_deref() == Some("23503") => {
                tracing::warn!(error = %e, "order lines refer to missing customers: their foreign key stays NOT VALID");
            }
            Err(e) => return Err(e.into()),
        }
    }
    if !index {
        sqlx::query("CREATE INDEX IF NOT EXISTS order_lines_by_date ON order_lines (ordered_on)")
            .execute(pool)
            .await?;
        // A bulk load at least doubled the table: its statistics are fresh now rather than at
        // autovacuum's next round. With the old ones (an empty table's), the refresh's read of
        // half the lines was planned as a bitmap scan of two indexes (2.2 s) instead of a scan
        // of the heap (1.7 s); 0.2 s at 10.4 M lines.
        sqlx::query("ANALYZE order_lines").execute(pool).await?;
    }
    tracing::info!(
        seconds = started.elapsed().as_secs_f64(),
        "put back the order lines' foreign key and date index"
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    fn line(customer_id: i64, order_ref: &str, line_no: i32) -> super::ImportOrderLine {
        super::ImportOrderLine {
            customer_id,
            order_ref: order_ref.into(),
            line_no,
            ordered_on: chrono::NaiveDate::from_ymd_opt(2024, 1, 1).unwrap(),
            category: None,
            quantity: 1,
            amount: patron_domain::Money::from_cents(100),
            cost: patron_domain::Money::from_cents(0),
        }
    }

    /// The counting sort (dense ids) and the comparison sort (sparse ids, negative ids, one
    /// row) give the key order, whatever order the lines come in.
    #[test]
    fn lines_in_key_order() {
        let mut seed = 7u64;
        let mut next = move |m: u64| {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (seed >> 33) % m
        };
        for ids in [10u64, 1_000, 1 << 40] {
            let rows: Vec<_> = (0..2_000)
                .map(|_| {
                    let id = next(ids) as i64 - 3;
                    line(id, &format!("R{}", next(5)), next(3) as i32)
                })
                .collect();
            let mut expected: Vec<_> = rows.iter().map(|r| r.key()).collect();
            expected.sort();
            let got: Vec<_> = super::in_key_order(&rows).iter().map(|r| r.key()).collect();
            assert_eq!(got, expected, "ids below {ids}");
        }
        assert!(super::in_key_order(&[]).is_empty());
        assert_eq!(
            super::in_key_order(&[line(i64::MAX, "a", 1), line(i64::MIN, "b", 1)])[0].customer_id,
            i64::MIN
        );
        assert_eq!(
            super::in_key_order(&[line(5, "b", 1), line(5, "a", 2)])[0].order_ref,
            "a"
        );
    }

    #[test]
    fn values_placeholders() {
        assert_eq!(super::values_sql(2, 2, false), "($1, $2), ($3, $4)");
        assert_eq!(super::values_sql(2, 1, true), "(?, ?)");
    }
}
