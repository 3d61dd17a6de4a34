//! Stored customer-value figures: one `customer_values` row per customer with orders, written as
//! a whole by a refresh (delete + multi-row inserts in one transaction, so readers see either
//! the old figures or the new ones), and `value_snapshots` holding each refresh's options and
//! population figures as JSON.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use sqlx::types::Json;

use crate::commit;
use crate::import::values_sql;
use crate::BeginWrite;
use crate::{with_pool, BackendKind, Store, StoreError};

mod reasons;

pub use reasons::{OtherChurnReason, StoredChurnReason};

/// A customer's value figures as of one refresh. Optional figures are absent when they do not
/// apply (no order in the calibration period: no frequency/recency/T or model figures; no
/// model fit: no P(alive)/CLV; no score model inputs: no score).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CustomerValueRow {
    pub customer_id: i64,
    pub computed_at: DateTime<Utc>,
    /// `day` or `week`: the unit of frequency, recency and T.
    pub unit: String,
    pub calibration_end: NaiveDate,
    /// Repeat purchase periods (lifetimes convention).
    pub frequency: Option<f64>,
    pub recency: Option<f64>,
    pub t: Option<f64>,
    /// Mean spend of the repeat purchases.
    pub monetary_value: Option<f64>,
    pub orders: i64,
    pub revenue_cents: i64,
    pub cost_cents: i64,
    /// CRM gross margin: revenue - product cost - relationship-marketing cost.
    pub margin_cents: i64,
    pub rfm_r: Option<i32>,
    pub rfm_f: Option<i32>,
    pub rfm_m: Option<i32>,
    pub rfm_segment: Option<String>,
    /// `A`, `B` or `C`.
    pub abc_class: String,
    pub p_alive: Option<f64>,
    pub expected_purchases: Option<f64>,
    pub expected_spend: Option<f64>,
    pub clv: Option<f64>,
    pub loyalty_stage: Option<String>,
    pub lifecycle_phase: Option<String>,
    pub churn_risk: bool,
    /// Margin at risk (0 without a churn warning).
    pub value_at_risk: f64,
    pub churn_reasons: Vec<StoredChurnReason>,
    /// Weighted value score, 0-100, and its grade `A`..`E`.
    pub score: Option<f64>,
    pub grade: Option<String>,
}

impl CustomerValueRow {
    /// The row of a customer known only by its profile (no order up to the analysis end):
    /// no purchase figures, ABC class C, no score yet.
    pub fn without_orders(
        customer_id: i64,
        computed_at: DateTime<Utc>,
        unit: String,
        calibration_end: NaiveDate,
    ) -> Self {
        CustomerValueRow {
            customer_id,
            computed_at,
            unit,
            calibration_end,
            frequency: None,
            recency: None,
            t: None,
            monetary_value: None,
            orders: 0,
            revenue_cents: 0,
            cost_cents: 0,
            margin_cents: 0,
            rfm_r: None,
            rfm_f: None,
            rfm_m: None,
            rfm_segment: None,
            abc_class: "C".into(),
            p_alive: None,
            expected_purchases: None,
            expected_spend: None,
            clv: None,
            loyalty_stage: None,
            lifecycle_phase: None,
            churn_risk: false,
            value_at_risk: 0.0,
            churn_reasons: Vec::new(),
            score: None,
            grade: None,
        }
    }
}

impl CustomerValueRow {
    /// The churn reason kinds joined by `;` (e.g. `revenue_drop;long_absence`), as stored in
    /// `churn_kinds`; `None` without a warning.
    pub fn churn_kinds(&self) -> Option<String> {
        (!self.churn_reasons.is_empty()).then(|| {
            self.churn_reasons
                .iter()
                .map(StoredChurnReason::kind)
                .collect::<Vec<_>>()
                .join(";")
        })
    }
}

/// A refresh's population results.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ValueSnapshot {
    pub id: i64,
    pub computed_at: DateTime<Utc>,
    /// The analysis options used.
    pub options: serde_json::Value,
    /// The population figures (model parameters, RFM grid, ABC classes, whale curve, ...).
    pub report: serde_json::Value,
}

/// What [`Store::replace_customer_values`] records next to the rows.
#[derive(Debug, Clone, PartialEq)]
pub struct NewSnapshot {
    pub computed_at: DateTime<Utc>,
    pub options: serde_json::Value,
    pub report: serde_json::Value,
}

pub(crate) const VALUE_COLUMNS: &str = "customer_id, computed_at, unit, calibration_end, frequency, recency, t, monetary_value, \
     orders, revenue_cents, cost_cents, margin_cents, rfm_r, rfm_f, rfm_m, rfm_segment, abc_class, p_alive, \
     expected_purchases, expected_spend, clv, loyalty_stage, lifecycle_phase, churn_kinds, churn_reasons, churn_risk, \
     value_at_risk, score, grade";
const VALUE_COUNT: usize = 29;
/// Bytes of COPY data sent to PostgreSQL at a time.
const COPY_CHUNK: usize = 1 << 20;

#[derive(sqlx::FromRow)]
struct ValueRow {
    customer_id: i64,
    computed_at: DateTime<Utc>,
    unit: String,
    calibration_end: NaiveDate,
    frequency: Option<f64>,
    recency: Option<f64>,
    t: Option<f64>,
    monetary_value: Option<f64>,
    orders: i64,
    revenue_cents: i64,
    cost_cents: i64,
    margin_cents: i64,
    rfm_r: Option<i32>,
    rfm_f: Option<i32>,
    rfm_m: Option<i32>,
    rfm_segment: Option<String>,
    abc_class: String,
    p_alive: Option<f64>,
    expected_purchases: Option<f64>,
    expected_spend: Option<f64>,
    clv: Option<f64>,
    loyalty_stage: Option<String>,
    lifecycle_phase: Option<String>,
    #[allow(dead_code)]
    churn_kinds: Option<String>,
    churn_reasons: Json<Vec<StoredChurnReason>>,
    churn_risk: bool,
    value_at_risk: f64,
    score: Option<f64>,
    grade: Option<String>,
}

impl From<ValueRow> for CustomerValueRow {
    fn from(r: ValueRow) -> Self {
        CustomerValueRow {
            customer_id: r.customer_id,
            computed_at: r.computed_at,
            unit: r.unit,
            calibration_end: r.calibration_end,
            frequency: r.frequency,
            recency: r.recency,
            t: r.t,
            monetary_value: r.monetary_value,
            orders: r.orders,
            revenue_cents: r.revenue_cents,
            cost_cents: r.cost_cents,
            margin_cents: r.margin_cents,
            rfm_r: r.rfm_r,
            rfm_f: r.rfm_f,
            rfm_m: r.rfm_m,
            rfm_segment: r.rfm_segment,
            abc_class: r.abc_class,
            p_alive: r.p_alive,
            expected_purchases: r.expected_purchases,
            expected_spend: r.expected_spend,
            clv: r.clv,
            loyalty_stage: r.loyalty_stage,
            lifecycle_phase: r.lifecycle_phase,
            churn_risk: r.churn_risk,
            value_at_risk: r.value_at_risk,
            churn_reasons: r.churn_reasons.0,
            score: r.score,
            grade: r.grade,
        }
    }
}

type SnapshotRow = (
    i64,
    DateTime<Utc>,
    Json<serde_json::Value>,
    Json<serde_json::Value>,
);

/// A row's churn reasons as stored in `customer_values.churn_reasons` (JSON text): the one
/// encoding of every writer (the refresh's inserts and COPY, one customer's upsert). The compact
/// form (see [`reasons`]): the reason's figures without its sentence, e.g.
/// `[{"kind":"long_absence","days_since_last":717,"mean_gap_days":12,"ratio":59.75}]`, about a
/// third of the full form's bytes; reading takes both forms.
const SNAPSHOT: &str =
    "INSERT INTO value_snapshots (computed_at, options, report) VALUES ($1, $2, $3) RETURNING id";
/// The snapshot's history rows: the rows just written, copied by the database itself.
const HISTORY: &str = "INSERT INTO value_history (customer_id, snapshot_id, grade, stage, clv, p_alive, margin_cents) \
     SELECT customer_id, CAST($1 AS BIGINT), grade, loyalty_stage, clv, p_alive, margin_cents FROM customer_values";

/// The page cache of the refresh's SQLite write (KiB, negative as the pragma takes it).
const REFRESH_CACHE: &str = "PRAGMA cache_size = -32768";

pub(crate) fn reasons_text(reasons: &[StoredChurnReason]) -> Result<String, StoreError> {
    let mut out = String::with_capacity(2 + 100 * reasons.len());
    out.push('[');
    for (i, r) in reasons.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        r.write_compact(&mut out)
            .map_err(|e| StoreError::Database(sqlx::Error::Encode(Box::new(e))))?;
    }
    out.push(']');
    Ok(out)
}

/// Non-finite figures are stored as NULL (SQLite would turn NaN into NULL anyway; PostgreSQL
/// would keep it, and JSON cannot carry it).
fn finite(v: Option<f64>) -> Option<f64> {
    v.filter(|x| x.is_finite())
}

/// `s` as a field of PostgreSQL's COPY text format (backslash, tab, newline and carriage
/// return escaped).
fn copy_text(out: &mut Vec<u8>, s: &str) {
    for &b in s.as_bytes() {
        match b {
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'\t' => out.extend_from_slice(b"\\t"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            _ => out.push(b),
        }
    }
}

/// Connections that fill and index `customer_values_next` at once.
const NEXT_CONNECTIONS: usize = 2;

/// Creates `customer_values_next` (dropping one left by a failed refresh), copies `rows` into it
/// through [`NEXT_CONNECTIONS`] COPY streams at once, and gives it the live table's indexes
/// (built on as many connections at once) and statistics. Each step commits on its own: the
/// table is nobody's until [`swap_in_next_values`].
async fn fill_next_values(
    pool: &sqlx::PgPool,
    rows: &[CustomerValueRow],
) -> Result<(), StoreError> {
    sqlx::query("DROP TABLE IF EXISTS customer_values_next")
        .execute(pool)
        .await?;
    sqlx::query(
        "CREATE TABLE customer_values_next (LIKE customer_values \
         INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING STORAGE)",
    )
    .execute(pool)
    .await?;
    let part = rows.len().div_ceil(NEXT_CONNECTIONS).max(1);
    futures_util::future::try_join_all(
        rows.chunks(part).map(|chunk| copy_next_values(pool, chunk)),
    )
    .await?;
    let indexes: Vec<(String, String)> = sqlx::query_as(
        "SELECT i.relname::text, pg_get_indexdef(x.indexrelid) \
         FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid \
         WHERE x.indrelid = 'customer_values'::regclass ORDER BY i.relname",
    )
    .fetch_all(pool)
    .await?;
    let mut statements = Vec::with_capacity(indexes.len() + 1);
    for (name, def) in &indexes {
        // `CREATE [UNIQUE] INDEX name ON schema.customer_values USING ...`: the same index on
        // the next table, under a name of its own until the swap.
        let on = def
            .find(" ON ")
            .ok_or_else(|| StoreError::Schema(format!("index {name}: {def}")))?;
        let using = def[on..]
            .find(" USING ")
            .map(|u| on + u)
            .ok_or_else(|| StoreError::Schema(format!("index {name}: {def}")))?;
        let head = def[..on].replacen(&format!(" {name}"), &format!(" {name}_next"), 1);
        statements.push(format!("{head} ON customer_values_next{}", &def[using..]));
    }
    // Every row is new: without statistics the planner answered a list filtered on two value
    // figures (ABC A and champions) with a bitmap AND and a sort of every match, 0.4-0.6 s at
    // 1 M customers instead of walking an index in id order (bench/load.sh).
    if rows.len() >= 10_000 {
        statements.push("ANALYZE customer_values_next".to_string());
    }
    // Dealt round-robin, one connection per share, each running its share in turn (CREATE
    // INDEX takes a share lock: builds on one table from several sessions do not wait for
    // each other).
    let shares: Vec<Vec<&String>> = (0..NEXT_CONNECTIONS)
        .map(|k| {
            statements
                .iter()
                .skip(k)
                .step_by(NEXT_CONNECTIONS)
                .collect()
        })
        .collect();
    futures_util::future::try_join_all(shares.into_iter().map(|share| async move {
        let mut conn = pool.acquire().await?;
        for sql in share {
            sqlx::query(sql).execute(&mut *conn).await?;
        }
        Ok::<(), StoreError>(())
    }))
    .await?;
    Ok(())
}

/// One COPY of `rows` into `customer_values_next`, on a pooled connection of its own.
async fn copy_next_values(
    pool: &sqlx::PgPool,
    rows: &[CustomerValueRow],
) -> Result<(), StoreError> {
    let mut conn = pool.acquire().await?;
    let mut copy = conn
        .copy_in_raw(&format!(
            "COPY customer_values_next ({VALUE_COLUMNS}) FROM STDIN"
        ))
        .await?;
    let mut buf = Vec::with_capacity(COPY_CHUNK + 4096);
    let mut sent = Ok(());
    for r in rows {
        if let Err(e) = copy_row(&mut buf, r) {
            sent = Err(e);
            break;
        }
        if buf.len() >= COPY_CHUNK {
            if let Err(e) = copy.send(std::mem::take(&mut buf)).await {
                sent = Err(e.into());
                break;
            }
            buf.reserve(COPY_CHUNK + 4096);
        }
    }
    if let Err(e) = sent {
        // Leaves the connection usable.
        let _ = copy.abort("customer values not written").await;
        return Err(e);
    }
    if !buf.is_empty() {
        copy.send(buf).await?;
    }
    copy.finish().await?;
    Ok(())
}

/// Drops what a failed refresh left of `customer_values_next` (best effort: the next refresh
/// drops it too).
async fn drop_next_values(pool: &sqlx::PgPool) {
    if let Err(e) = sqlx::query("DROP TABLE IF EXISTS customer_values_next")
        .execute(pool)
        .await
    {
        tracing::warn!(error = %e, "dropping customer_values_next failed");
    }
}

/// Drops the live `customer_values` and renames `customer_values_next` (filled and indexed by
/// [`fill_next_values`]) and its indexes in its place, in the caller's transaction `tx`.
async fn swap_in_next_values(tx: &mut sqlx::PgConnection) -> Result<(), StoreError> {
    let indexes: Vec<(String, bool)> = sqlx::query_as(
        "SELECT i.relname::text, x.indisprimary \
         FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid \
         WHERE x.indrelid = 'customer_values'::regclass ORDER BY i.relname",
    )
    .fetch_all(&mut *tx)
    .await?;
    sqlx::query("DROP TABLE customer_values")
        .execute(&mut *tx)
        .await?;
    sqlx::query("ALTER TABLE customer_values_next RENAME TO customer_values")
        .execute(&mut *tx)
        .await?;
    for (name, primary) in &indexes {
        let sql = if *primary {
            // A unique index becomes the primary key again (and takes the constraint's name).
            format!("ALTER TABLE customer_values ADD CONSTRAINT \"{name}\" PRIMARY KEY USING INDEX \"{name}_next\"")
        } else {
            format!("ALTER INDEX \"{name}_next\" RENAME TO \"{name}\"")
        };
        sqlx::query(&sql).execute(&mut *tx).await?;
    }
    Ok(())
}

/// One `customer_values` row as a line of COPY text (columns in [`VALUE_COLUMNS`] order), with
/// the same values the INSERT binds: non-finite figures NULL, floats in their shortest
/// round-trip form (PostgreSQL reads back the same double).
fn copy_row(out: &mut Vec<u8>, r: &CustomerValueRow) -> Result<(), StoreError> {
    use std::io::Write;
    fn tab(out: &mut Vec<u8>) {
        out.push(b'\t');
    }
    fn null(out: &mut Vec<u8>) {
        out.extend_from_slice(b"\\N");
    }
    fn float(out: &mut Vec<u8>, v: Option<f64>) {
        match finite(v) {
            Some(x) => write!(out, "{x}").expect("writing to memory"),
            None => null(out),
        }
    }
    fn int<T: std::fmt::Display>(out: &mut Vec<u8>, v: Option<T>) {
        match v {
            Some(x) => write!(out, "{x}").expect("writing to memory"),
            None => null(out),
        }
    }
    fn text(out: &mut Vec<u8>, v: Option<&str>) {
        match v {
            Some(s) => copy_text(out, s),
            None => null(out),
        }
    }
    let io = |e: std::io::Error| StoreError::Database(sqlx::Error::Encode(Box::new(e)));
    write!(out, "{}\t", r.customer_id).map_err(io)?;
    write!(
        out,
        "{}\t",
        r.computed_at
            .to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
    )
    .map_err(io)?;
    text(out, Some(&r.unit));
    write!(out, "\t{}\t", r.calibration_end.format("%Y-%m-%d")).map_err(io)?;
    for v in [r.frequency, r.recency, r.t, r.monetary_value] {
        float(out, v);
        tab(out);
    }
    write!(
        out,
        "{}\t{}\t{}\t{}\t",
        r.orders, r.revenue_cents, r.cost_cents, r.margin_cents
    )
    .map_err(io)?;
    for v in [r.rfm_r, r.rfm_f, r.rfm_m] {
        int(out, v);
        tab(out);
    }
    text(out, r.rfm_segment.as_deref());
    tab(out);
    text(out, Some(&r.abc_class));
    tab(out);
    for v in [r.p_alive, r.expected_purchases, r.expected_spend, r.clv] {
        float(out, v);
        tab(out);
    }
    text(out, r.loyalty_stage.as_deref());
    tab(out);
    text(out, r.lifecycle_phase.as_deref());
    tab(out);
    text(out, r.churn_kinds().as_deref());
    tab(out);
    copy_text(out, &reasons_text(&r.churn_reasons)?);
    tab(out);
    out.push(if r.churn_risk { b't' } else { b'f' });
    tab(out);
    float(out, Some(finite(Some(r.value_at_risk)).unwrap_or(0.0)));
    tab(out);
    float(out, r.score);
    tab(out);
    text(out, r.grade.as_deref());
    out.push(b'\n');
    Ok(())
}

/// Binds one value row's columns, in [`VALUE_COLUMNS`] order, to a query: the one list of
/// them, for the refresh's multi-row inserts and one customer's upsert.
macro_rules! bind_value_row {
    ($q:expr, $r:expr) => {{
        let r = $r;
        $q.bind(r.customer_id)
            .bind(r.computed_at)
            .bind(&r.unit)
            .bind(r.calibration_end)
            .bind(finite(r.frequency))
            .bind(finite(r.recency))
            .bind(finite(r.t))
            .bind(finite(r.monetary_value))
            .bind(r.orders)
            .bind(r.revenue_cents)
            .bind(r.cost_cents)
            .bind(r.margin_cents)
            .bind(r.rfm_r)
            .bind(r.rfm_f)
            .bind(r.rfm_m)
            .bind(&r.rfm_segment)
            .bind(&r.abc_class)
            .bind(finite(r.p_alive))
            .bind(finite(r.expected_purchases))
            .bind(finite(r.expected_spend))
            .bind(finite(r.clv))
            .bind(&r.loyalty_stage)
            .bind(&r.lifecycle_phase)
            .bind(r.churn_kinds())
            .bind(Json(
                serde_json::value::RawValue::from_string(reasons_text(&r.churn_reasons)?)
                    .map_err(|e| StoreError::Database(sqlx::Error::Encode(Box::new(e))))?,
            ))
            .bind(r.churn_risk)
            .bind(finite(Some(r.value_at_risk)).unwrap_or(0.0))
            .bind(finite(r.score))
            .bind(&r.grade)
    }};
}

impl Store {
    /// Replaces every stored customer-value row by `rows` and records `snapshot` with each
    /// customer's history row of it (`value_history`: grade, stage, CLV, P(alive), margin, one
    /// INSERT ... SELECT of the rows written), in one transaction (readers see either the old
    /// figures or the new ones); returns the snapshot as stored. SQLite gets the rows through its
    /// C API on the transaction's connection (see `sqlite_rows`). PostgreSQL gets them by COPY
    /// into a new table, filled and indexed beforehand on several connections (transactions of
    /// their own: nobody reads that table), which the one transaction then swaps in.
    pub async fn replace_customer_values(
        &self,
        rows: &[CustomerValueRow],
        snapshot: &NewSnapshot,
    ) -> Result<ValueSnapshot, StoreError> {
        let id: i64 = match &self.backend {
            crate::Backend::Sqlite(pool) => {
                let mut conn = pool.acquire().await?;
                // A page cache of its own size for this write: the pool's connections may use
                // up to 1 GiB (imports), and the pages of a million new rows filled it (+660 MB
                // peak RSS at 1 M customers); with a smaller cache SQLite writes the pages it
                // must let go to the WAL early, uncommitted, which costs no time here. Set back
                // whatever happens, before the connection returns to the pool.
                sqlx::query(REFRESH_CACHE).execute(&mut *conn).await?;
                let written = self.write_sqlite_values(&mut conn, rows, snapshot).await;
                let restored = sqlx::query(crate::SQLITE_CACHE).execute(&mut *conn).await;
                let id = written?;
                restored?;
                id
            }
            crate::Backend::Postgres(pool) => {
                // The rows go to a new table, which gets the live table's indexes once filled
                // and then takes its place; the live table is locked only for that swap, so
                // readers of the old figures never wait for the load. A COPY into the live
                // table, its eight indexes kept up to date row by row, took 33 s for 1 M rows;
                // into a table without indexes 10 s (psql, the same rows). The new table is
                // filled and indexed in transactions of their own, several connections at
                // once (the server parses COPY data and sorts index entries on one core per
                // connection): nobody reads it before the swap, and a refresh that fails or
                // is killed leaves only it behind, dropped then or by the next refresh.
                if let Err(e) = fill_next_values(pool, rows).await {
                    drop_next_values(pool).await;
                    return Err(e);
                }
                let swapped = async {
                    let mut tx = pool.begin_write().await?;
                    let id: i64 = sqlx::query_scalar(SNAPSHOT)
                        .bind(snapshot.computed_at)
                        .bind(Json(&snapshot.options))
                        .bind(Json(&snapshot.report))
                        .fetch_one(&mut *tx)
                        .await?;
                    // Copied before the swap, so that the live table is locked only for it.
                    sqlx::query(
                        &HISTORY.replace("FROM customer_values", "FROM customer_values_next"),
                    )
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
                    swap_in_next_values(&mut tx).await?;
                    commit!(self, tx);
                    Ok::<i64, StoreError>(id)
                }
                .await;
                match swapped {
                    Ok(id) => id,
                    Err(e) => {
                        drop_next_values(pool).await;
                        return Err(e);
                    }
                }
            }
        };
        self.snapshot(id)
            .await?
            .ok_or_else(|| StoreError::not_found("value snapshot", id))
    }

    /// The SQLite half of [`Store::replace_customer_values`], on one connection.
    async fn write_sqlite_values(
        &self,
        conn: &mut sqlx::SqliteConnection,
        rows: &[CustomerValueRow],
        snapshot: &NewSnapshot,
    ) -> Result<i64, StoreError> {
        let mut tx = sqlx::Connection::begin_with(&mut *conn, "BEGIN IMMEDIATE").await?;
        sqlx::query("DELETE FROM customer_values")
            .execute(&mut *tx)
            .await?;
        // Every row is replaced: the secondary indexes are dropped and built again
        // after the insert, inside this transaction (SQLite's DDL is transactional, so
        // a failure restores them with the rows). Building an index from the finished
        // table sorts once; keeping seven of them up to date row by row cost more
        // (1 M rows in the sqlite3 shell: 21.8 s kept, 15.6 s built after). Their
        // definitions are read back from the schema, so this follows the migrations.
        let indexes: Vec<(String, String)> = sqlx::query_as(
            "SELECT name, sql FROM sqlite_master WHERE type = 'index' \
             AND tbl_name = 'customer_values' AND sql IS NOT NULL ORDER BY name",
        )
        .fetch_all(&mut *tx)
        .await?;
        for (name, _) in &indexes {
            sqlx::query(&format!("DROP INDEX \"{}\"", name.replace('"', "\"\"")))
                .execute(&mut *tx)
                .await?;
        }
        {
            let mut handle = tx.lock_handle().await?;
            let db = handle.as_raw_handle().as_ptr();
            // SAFETY: `db` is this transaction's connection, locked by `handle` until
            // the insert returns (no await in between: nothing can cancel it halfway).
            let insert = || unsafe { crate::sqlite_rows::insert_value_rows(db, rows) };
            match tokio::runtime::Handle::try_current().map(|h| h.runtime_flavor()) {
                Ok(tokio::runtime::RuntimeFlavor::MultiThread) => {
                    tokio::task::block_in_place(insert)?
                }
                _ => insert()?,
            }
        }
        for (_, sql) in &indexes {
            sqlx::query(sql).execute(&mut *tx).await?;
        }
        let id: i64 = sqlx::query_scalar(SNAPSHOT)
            .bind(snapshot.computed_at)
            .bind(Json(&snapshot.options))
            .bind(Json(&snapshot.report))
            .fetch_one(&mut *tx)
            .await?;
        // OR ROLLBACK (no conflict can happen: the snapshot is new): SQLite then keeps no
        // statement journal, the original of every history page the statement touches (in
        // memory, `temp_store`). Each customer's history rows are adjacent, so the insert
        // touches every page of the earlier snapshots' history: 220 MB of journal at 1 M
        // customers and five snapshots (the `sqlite3` shell: 260 MB peak against 40 MB).
        sqlx::query(&HISTORY.replacen("INSERT INTO", "INSERT OR ROLLBACK INTO", 1))
            .bind(id)
            .execute(&mut *tx)
            .await?;
        commit!(self, tx);
        Ok(id)
    }

    /// The stored value figures of one customer (`None` before the first refresh that saw an
    /// order of the customer).
    pub async fn customer_value(&self, id: i64) -> Result<Option<CustomerValueRow>, StoreError> {
        let sql = format!("SELECT {VALUE_COLUMNS} FROM customer_values WHERE customer_id = $1");
        let row: Option<ValueRow> =
            with_pool!(self, pool => sqlx::query_as(&sql).bind(id).fetch_optional(pool).await?);
        Ok(row.map(CustomerValueRow::from))
    }

    /// The stored value figures of the given customers (those that have some), in id order.
    pub async fn customer_values_of(
        &self,
        ids: &[i64],
    ) -> Result<Vec<CustomerValueRow>, StoreError> {
        let anon = self.kind() == BackendKind::Sqlite;
        let mut out = Vec::with_capacity(ids.len());
        for chunk in ids.chunks(500) {
            let sql = format!(
                "SELECT {VALUE_COLUMNS} FROM customer_values WHERE customer_id IN {} ORDER BY customer_id",
                values_sql(chunk.len(), 1, anon)
            );
            let rows: Vec<ValueRow> = with_pool!(self, pool => {
                let mut q = sqlx::query_as(&sql);
                for id in chunk {
                    q = q.bind(*id);
                }
                q.fetch_all(pool).await?
            });
            out.extend(rows.into_iter().map(CustomerValueRow::from));
        }
        out.sort_by_key(|r| r.customer_id);
        Ok(out)
    }

    /// Writes one customer's figures (inserted, or replacing its row): a customer's figures
    /// recomputed between two refreshes. The snapshot is not touched, nor its history rows
    /// (`value_history` keeps what each refresh found: the transitions between two snapshots
    /// stay the refreshes' figures; the card draws these figures as its "now" point).
    pub async fn upsert_customer_value(&self, r: &CustomerValueRow) -> Result<(), StoreError> {
        let anon = self.kind() == BackendKind::Sqlite;
        let updates: Vec<String> = VALUE_COLUMNS
            .split(',')
            .map(str::trim)
            .filter(|c| *c != "customer_id")
            .map(|c| format!("{c} = excluded.{c}"))
            .collect();
        let sql = format!(
            "INSERT INTO customer_values ({VALUE_COLUMNS}) VALUES {} \
             ON CONFLICT (customer_id) DO UPDATE SET {}",
            values_sql(VALUE_COUNT, 1, anon),
            updates.join(", ")
        );
        with_pool!(self, pool => {
            bind_value_row!(sqlx::query(&sql), r)
                .execute(pool)
                .await?;
        });
        Ok(())
    }

    /// Which database this handle talks to (the SQLite file; the PostgreSQL host, port and
    /// database): tells the stores of one process apart.
    pub fn database_identity(&self) -> String {
        match &self.backend {
            crate::Backend::Sqlite(p) => {
                format!("sqlite:{}", p.connect_options().get_filename().display())
            }
            crate::Backend::Postgres(p) => {
                let o = p.connect_options();
                format!(
                    "postgres://{}:{}/{}",
                    o.get_host(),
                    o.get_port(),
                    o.get_database().unwrap_or_default()
                )
            }
        }
    }

    /// Removes one customer's figures (a customer merged into another); `true` when it had some.
    pub async fn delete_customer_value(&self, id: i64) -> Result<bool, StoreError> {
        let n = with_pool!(self, pool => sqlx::query("DELETE FROM customer_values WHERE customer_id = $1")
            .bind(id).execute(pool).await?.rows_affected());
        Ok(n > 0)
    }

    /// One customer's order lines dated up to `up_to`, in the order of
    /// [`Store::for_each_order_day`] (order reference, line): (day number since 1970-01-01,
    /// amount in cents, cost in cents) each.
    pub async fn customer_order_days(
        &self,
        customer_id: i64,
        up_to: NaiveDate,
    ) -> Result<Vec<(i32, i64, i64)>, StoreError> {
        let day = match self.kind() {
            BackendKind::Sqlite => "CAST(julianday(ordered_on) - 2440587.5 AS INTEGER)",
            BackendKind::Postgres => "(ordered_on - DATE '1970-01-01')",
        };
        let sql = format!(
            "SELECT {day}, amount_cents, cost_cents FROM order_lines \
             WHERE customer_id = $1 AND ordered_on <= $2 ORDER BY order_ref, line_no"
        );
        let rows: Vec<(i32, i64, i64)> = with_pool!(self, pool => sqlx::query_as(&sql)
            .bind(customer_id).bind(up_to).fetch_all(pool).await?);
        Ok(rows)
    }

    /// The newest snapshot's id, options and one top-level field of its report (`None` when the
    /// report has no such field), without reading the whole report: what one customer's
    /// recompute needs of it.
    pub async fn latest_snapshot_field(
        &self,
        field: &str,
    ) -> Result<Option<(i64, serde_json::Value, Option<serde_json::Value>)>, StoreError> {
        if !field.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Err(StoreError::invalid("field", "is not a report field name"));
        }
        let part = match self.kind() {
            BackendKind::Sqlite => format!("json_extract(report, '$.{field}')"),
            BackendKind::Postgres => format!("(report->'{field}')::text"),
        };
        let sql = format!(
            "SELECT id, options, CAST({part} AS TEXT) FROM value_snapshots ORDER BY id DESC LIMIT 1"
        );
        let row: Option<(i64, Json<serde_json::Value>, Option<String>)> =
            with_pool!(self, pool => sqlx::query_as(&sql).fetch_optional(pool).await?);
        let Some((id, options, part)) = row else {
            return Ok(None);
        };
        let part = match part {
            Some(text) => Some(
                serde_json::from_str(&text)
                    .map_err(|e| StoreError::Database(sqlx::Error::Decode(Box::new(e))))?,
            ),
            None => None,
        };
        Ok(Some((id, options.0, part)))
    }

    /// Every stored customer-value row, in customer id order (what regrading with another score
    /// model reads).
    pub async fn all_customer_values(&self) -> Result<Vec<CustomerValueRow>, StoreError> {
        let sql = format!("SELECT {VALUE_COLUMNS} FROM customer_values ORDER BY customer_id");
        let rows: Vec<ValueRow> =
            with_pool!(self, pool => sqlx::query_as(&sql).fetch_all(pool).await?);
        Ok(rows.into_iter().map(CustomerValueRow::from).collect())
    }

    /// Replaces the stored scores and grades (`(customer id, score, grade)`) and the newest
    /// snapshot's report field `grades` by `report_grades`, in one transaction: a new score
    /// model applied to the stored figures, without a new analysis. Rows of customers not in
    /// `grades` keep theirs. The newest snapshot's history rows take the new grades too.
    pub async fn set_grades(
        &self,
        grades: &[(i64, Option<f64>, Option<String>)],
        report_grades: &serde_json::Value,
    ) -> Result<(), StoreError> {
        // One statement per chunk for both backends: a VALUES list's columns are `column1..3`
        // in SQLite and PostgreSQL alike.
        const CHUNK: usize = 300;
        let sql = |n: usize| {
            let rows: Vec<String> = (0..n)
                .map(|i| format!("(${}, ${}, ${})", 3 * i + 1, 3 * i + 2, 3 * i + 3))
                .collect();
            format!(
                "UPDATE customer_values SET score = v.column2, grade = v.column3 \
                 FROM (VALUES {}) AS v WHERE customer_values.customer_id = v.column1",
                rows.join(", ")
            )
        };
        let latest = self.latest_snapshot().await?;
        with_pool!(self, pool => {
            let mut tx = pool.begin_write().await?;
            for chunk in grades.chunks(CHUNK) {
                let text = sql(chunk.len());
                let mut q = sqlx::query(&text);
                for (id, score, grade) in chunk {
                    q = q.bind(*id).bind(finite(*score)).bind(grade.clone());
                }
                q.execute(&mut *tx).await?;
            }
            if let Some(snap) = &latest {
                sqlx::query(
                    "UPDATE value_history SET grade = (SELECT v.grade FROM customer_values v \
                     WHERE v.customer_id = value_history.customer_id) \
                     WHERE snapshot_id = $1 AND customer_id IN (SELECT customer_id FROM customer_values)",
                )
                .bind(snap.id)
                .execute(&mut *tx)
                .await?;
                let mut report = snap.report.clone();
                if let Some(obj) = report.as_object_mut() {
                    obj.insert("grades".into(), report_grades.clone());
                    sqlx::query("UPDATE value_snapshots SET report = $1 WHERE id = $2")
                        .bind(Json(&report))
                        .bind(snap.id)
                        .execute(&mut *tx)
                        .await?;
                }
            }
            commit!(self, tx);
        });
        Ok(())
    }

    /// Live customers naming `id` as their referrer.
    pub async fn referrals_of(&self, id: i64) -> Result<i64, StoreError> {
        let n: i64 = with_pool!(self, pool => sqlx::query_scalar(
            "SELECT COUNT(*) FROM customers WHERE referred_by = $1 AND merged_into IS NULL")
            .bind(id).fetch_one(pool).await?);
        Ok(n)
    }

    /// The score profile of one live customer (`None`: no such live customer).
    pub async fn score_profile(&self, id: i64) -> Result<Option<ScoreProfile>, StoreError> {
        let row: Option<ScoreProfileRow> = with_pool!(self, pool => sqlx::query_as(
            "SELECT id, industry, registered_capital_cents, employees, credit_rating, loyalty, custom_fields \
             FROM customers WHERE id = $1 AND merged_into IS NULL")
            .bind(id).fetch_optional(pool).await?);
        Ok(row.map(profile_of))
    }

    /// The most recent refresh's population figures, if any refresh ran.
    pub async fn latest_snapshot(&self) -> Result<Option<ValueSnapshot>, StoreError> {
        let row: Option<SnapshotRow> = with_pool!(self, pool => sqlx::query_as(
            "SELECT id, computed_at, options, report FROM value_snapshots ORDER BY id DESC LIMIT 1")
            .fetch_optional(pool).await?);
        Ok(row.map(snapshot_from))
    }

    /// One snapshot by id.
    pub async fn snapshot(&self, id: i64) -> Result<Option<ValueSnapshot>, StoreError> {
        let row: Option<SnapshotRow> = with_pool!(self, pool => sqlx::query_as(
            "SELECT id, computed_at, options, report FROM value_snapshots WHERE id = $1")
            .bind(id).fetch_optional(pool).await?);
        Ok(row.map(snapshot_from))
    }

    /// Ids and times of the most recent snapshots, newest first (for period-over-period views).
    pub async fn snapshot_times(
        &self,
        limit: i64,
    ) -> Result<Vec<(i64, DateTime<Utc>)>, StoreError> {
        let rows: Vec<(i64, DateTime<Utc>)> = with_pool!(self, pool => sqlx::query_as(
            "SELECT id, computed_at FROM value_snapshots ORDER BY id DESC LIMIT $1")
            .bind(limit.clamp(1, 10_000)).fetch_all(pool).await?);
        Ok(rows)
    }

    /// Referrals per referrer: (customer id, live customers whose `referred_by` names it),
    /// for every customer named as referrer by a live customer (what
    /// [`Store::referrer_count`] counts), by id.
    pub async fn referral_counts(&self) -> Result<Vec<(i64, i64)>, StoreError> {
        let rows: Vec<(i64, i64)> = with_pool!(self, pool => sqlx::query_as(
            "SELECT referred_by, COUNT(*) FROM customers \
             WHERE referred_by IS NOT NULL AND merged_into IS NULL \
             GROUP BY referred_by ORDER BY referred_by")
            .fetch_all(pool).await?);
        Ok(rows)
    }

    /// Profile attributes of every live customer for the weighted value score:
    /// (id, industry, registered capital in cents, employees, credit rating, custom fields).
    pub async fn score_profiles(&self) -> Result<Vec<ScoreProfile>, StoreError> {
        let rows: Vec<ScoreProfileRow> = with_pool!(self, pool => sqlx::query_as(
            "SELECT id, industry, registered_capital_cents, employees, credit_rating, loyalty, custom_fields \
             FROM customers WHERE merged_into IS NULL ORDER BY id")
            .fetch_all(pool).await?);
        Ok(rows.into_iter().map(profile_of).collect())
    }
}

pub(crate) fn profile_of(
    (id, industry, capital, employees, credit_rating, loyalty, custom): ScoreProfileRow,
) -> ScoreProfile {
    ScoreProfile {
        id,
        industry,
        registered_capital_cents: capital,
        employees,
        credit_rating,
        loyalty,
        custom_fields: custom.0,
    }
}

pub(crate) type ScoreProfileRow = (
    i64,
    Option<String>,
    Option<i64>,
    Option<i64>,
    Option<String>,
    String,
    Json<patron_domain::CustomFields>,
);

/// The profile attributes a weighted value score may use.
#[derive(Debug, Clone, PartialEq)]
pub struct ScoreProfile {
    pub id: i64,
    pub industry: Option<String>,
    pub registered_capital_cents: Option<i64>,
    pub employees: Option<i64>,
    pub credit_rating: Option<String>,
    /// The customer's loyalty attitude (`loyal`, `switcher`, `none`).
    pub loyalty: String,
    pub custom_fields: patron_domain::CustomFields,
}

fn snapshot_from((id, computed_at, options, report): SnapshotRow) -> ValueSnapshot {
    ValueSnapshot {
        id,
        computed_at,
        options: options.0,
        report: report.0,
    }
}
