//! Patron's storage. One [`Store`] over either SQLite (a file, created and migrated on first use,
//! WAL mode) or PostgreSQL (a `postgres://` URL). Both backends run the same SQL text: queries use
//! `$1`-style placeholders, which sqlx accepts for SQLite too, and portable SQL; each backend has
//! its own migrations (`migrations/sqlite`, `migrations/postgres`) holding the same tables.

mod access;
mod audit;
mod auth;
mod breakdown;
mod campaign_members;
mod campaigns;
mod contacts;
mod coordination;
mod customers;
mod duplicates;
mod error;
mod exports;
mod followup;
mod import;
mod interactions;
mod leads;
mod mail_settings;
mod maintenance;
mod marketing_costs;
mod opportunities;
mod orders;
mod outbox;
mod page;
mod pool;
mod receivables;
mod review;
mod scan;
mod score_models;
mod service;
mod sqlite_rows;
mod survey_requests;
mod tasks;
#[cfg(feature = "testing")]
pub mod testing;
mod value_history;
mod values;
mod views;

use std::str::FromStr;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};

pub use access::{
    hour_of, hour_start, AccessAlert, AccessCount, AccessWatch, EvidenceDay, EvidenceReport,
    ExportedFile, ViewedCustomer, ACCESS_KINDS, BASELINE_DAYS_MAX, EVIDENCE_DAYS_MAX, MULTIPLE_MAX,
};
pub use audit::{Actor, AuditEntry, AuditFilter};
pub use auth::{
    check_password, digest, hash_password, random_secret, verify_password, ApiToken, DataScope,
    Department, NewUser, Role, User, Visibility, SESSION_HOURS,
};
pub use breakdown::{BreakdownBy, GroupPeriods, GroupValues};
pub use campaigns::{CampaignInput, CampaignReport};
pub use coordination::{
    holder_id, ImportJob, ImportOutcome, NewImportJob, ABANDONED, IMPORT_HEARTBEAT_TIMEOUT,
    KEEP_IMPORT_JOBS,
};
pub use customers::{CustomerCursor, CustomerFilter, CustomerSort};
pub use duplicates::{DuplicatePair, MergeOutcome};
pub use error::{ErrorCode, StoreError};
pub use exports::{
    filter_json, ExportRequest, ExportRight, ExportRule, ExportStanding, EXPORT_REQUEST_STATES,
};
pub use followup::{PlannedContact, VisitBrief};
pub use import::{in_key_order, ImportCustomer, ImportInteraction, ImportOrderLine, OrderFact};
pub use leads::{
    ConvertLead, ImportLead, Lead, LeadConversion, LeadFilter, LeadFunnel, LeadInput,
    LeadStatusChange, LikelyCustomer, LEAD_STATUSES,
};
pub use mail_settings::{is_mail_address, UnmailedNotification, UserMailSettings};
#[cfg(feature = "testing")]
pub use maintenance::create_at_schema_version;
pub use maintenance::{backend_of, inspect, known_schema_version, DatabaseState, Finding};
pub use marketing_costs::{
    CampaignAllocation, MarketingCostInput, MarketingCostRecord, MARKETING_COST_KINDS,
    MARKETING_NOTE_CHARS,
};
pub use opportunities::{
    pipeline, ForecastMonth, Opportunity, OpportunityInput, Pipeline, PipelineStage, StageChange,
    STAGES,
};
pub use orders::OrderFilter;
pub use outbox::{NewMail, OutboxCounts, OutboxMail, MAIL_KINDS, MAIL_STATES, RETRY_AFTER};
pub use page::{Page, PageRequest};
pub use pool::{PoolCustomer, PoolRules, Reclaimed};
pub use receivables::{
    CreditHold, CreditPosition, OnExcess, OrderPlacement, OrderTerms, OverdueItem, RepCollections,
};
pub use review::{RepReview, KEY_FIELDS};
pub use scan::OrderDay;
pub use score_models::{StoredScoreModel, ValueClasses};
pub use service::Satisfaction;
pub use survey_requests::{
    parse_reminder_key, reminder_key, NewSurveyRequest, SurveyAnswer, SurveyRequest,
};
pub use tasks::{RuleTask, TaskChange, TaskFilter};
pub use value_history::{
    SnapshotRef, TransitionFilter, TransitionKind, TransitionRow, ValueCourse, ValueHistoryPoint,
};
pub use values::{
    CustomerValueRow, NewSnapshot, OtherChurnReason, ScoreProfile, StoredChurnReason, ValueSnapshot,
};
pub use views::{SavedView, VIEW_NAME_CHARS, VIEW_QUERY_BYTES};

/// Runs `$body` with `$pool` bound to the backend's pool. Both arms share the same code: the SQL
/// is portable and sqlx's row decoding is generic over the database.
macro_rules! with_pool {
    ($store:expr, $pool:ident => $body:expr) => {
        match &$store.backend {
            $crate::Backend::Sqlite($pool) => $body,
            $crate::Backend::Postgres($pool) => $body,
        }
    };
}
pub(crate) use with_pool;

/// Inside a write transaction `$tx` of `$store`: fails the enclosing function with 404 when
/// customer `$id` does not exist and 409 when it was merged, and otherwise holds its row until
/// the transaction ends (`FOR SHARE` in PostgreSQL; SQLite's write transaction already excludes
/// other writers). A merge updates the merged customer's row first, so a record inserted on a
/// customer while it is merged either lands before the merge, which then moves it, or is
/// refused after it: never left on the merged record.
macro_rules! live_customer {
    ($store:expr, $tx:expr, $id:expr) => {{
        let id: i64 = $id;
        let sql = match $store.kind() {
            $crate::BackendKind::Sqlite => "SELECT merged_into FROM customers WHERE id = $1",
            $crate::BackendKind::Postgres => {
                "SELECT merged_into FROM customers WHERE id = $1 FOR SHARE"
            }
        };
        let merged: Option<Option<i64>> = sqlx::query_scalar(sql)
            .bind(id)
            .fetch_optional(&mut *$tx)
            .await?;
        match merged {
            None => return Err($crate::StoreError::not_found("customer", id)),
            Some(Some(to)) => {
                return Err($crate::StoreError::Conflict {
                    code: None,
                    message: format!("customer {id} was merged into customer {to}; use that one"),
                    current_version: None,
                })
            }
            Some(None) => {}
        }
    }};
}
pub(crate) use live_customer;

/// Commits write transaction `$tx` of `$store`, first writing into it the audit row the handle
/// carries (see [`Store::audited`]), once: the change and its audit row are one transaction.
/// With `$id`, a `{id}` in the row's detail becomes the id of the record the change created.
macro_rules! commit {
    ($store:expr, $tx:expr) => {
        $crate::commit!($store, $tx, None::<i64>)
    };
    // The change created customer `$id`: the audit row is about it.
    ($store:expr, $tx:expr, created_customer = $id:expr) => {
        $crate::commit!(@write $store, $tx, Some($id), Some($id))
    };
    ($store:expr, $tx:expr, $id:expr) => {
        $crate::commit!(@write $store, $tx, $id, None::<i64>)
    };
    (@write $store:expr, $tx:expr, $id:expr, $customer:expr) => {{
        if let Some(p) = $store.take_pending_audit() {
            let detail = p.detail_for($id);
            sqlx::query($crate::audit::INSERT_AUDIT)
                .bind($crate::now())
                .bind(p.actor.id)
                .bind(&p.actor.name)
                .bind(&p.action)
                .bind($customer.or(p.customer_id))
                .bind(detail)
                .bind(p.row_count)
                .bind(&p.actor.ip)
                .execute(&mut *$tx)
                .await?;
        }
        $tx.commit().await?;
    }};
}
pub(crate) use commit;

#[derive(Clone, Debug)]
pub(crate) enum Backend {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// Which database a [`Store`] talks to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BackendKind {
    Sqlite,
    Postgres,
}

/// A handle to Patron's database; cheap to clone (it wraps a connection pool).
#[derive(Clone, Debug)]
pub struct Store {
    pub(crate) backend: Backend,
    /// The audit row the next write transaction records with its change (see
    /// [`Store::audited`]); `None` on a plain handle.
    pub(crate) pending_audit: Option<std::sync::Arc<audit::Pending>>,
}

impl Store {
    /// Opens `url`: `postgres://...` / `postgresql://...` for PostgreSQL, otherwise a SQLite file
    /// path or `sqlite:` URL (the file is created when missing). Runs pending migrations, all in
    /// one transaction, after an automatic backup of an existing SQLite file; refuses a database
    /// whose schema is newer than this binary's (see `maintenance.rs`).
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        use sqlx::ConnectOptions;
        // sqlx warns of every statement over a second. A bulk import's batch statements take
        // longer by design, and those warnings landed between the lines of the progress bar;
        // `PATRON_LOG=info,sqlx::query=debug` shows them.
        const SLOW_STATEMENT_LEVEL: log::LevelFilter = log::LevelFilter::Debug;
        const SLOW_STATEMENT: Duration = Duration::from_secs(1);
        let store = if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            let opts = PgConnectOptions::from_str(url)
                .map_err(|e| StoreError::Config(format!("bad PostgreSQL URL: {e}")))?
                .log_slow_statements(SLOW_STATEMENT_LEVEL, SLOW_STATEMENT);
            let pool = PgPoolOptions::new()
                .before_acquire(|conn, _| Box::pin(async move { Ok(usable(&*conn)) }))
                .max_connections(16)
                .acquire_timeout(Duration::from_secs(5))
                .connect_with(opts)
                .await
                .map_err(|e| {
                    StoreError::Unavailable(format!("cannot connect to PostgreSQL: {e}"))
                })?;
            maintenance::migrate_postgres(&pool).await?;
            // A bulk import killed while it had set aside the orders' date index and foreign key
            // (`Store::set_aside_order_date_index`): put them back.
            import::restore_pg_order_keys(&pool).await?;
            import::restore_pg_set_aside_indexes(&pool).await?;
            Store {
                backend: Backend::Postgres(pool),
                pending_audit: None,
            }
        } else {
            let path = url
                .strip_prefix("sqlite://")
                .or_else(|| url.strip_prefix("sqlite:"))
                .unwrap_or(url);
            let opts = SqliteConnectOptions::new()
                .filename(path)
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal)
                .foreign_keys(true)
                .busy_timeout(Duration::from_secs(10))
                .pragma("cache_size", SQLITE_CACHE_KIB) // up to 1 GiB page cache per connection, allocated as used
                // Checkpoint the WAL every ~40 MiB rather than every 4 MiB: bulk imports rewrite
                // the same pages many times between checkpoints.
                .pragma("wal_autocheckpoint", "10000")
                .pragma("temp_store", "memory")
                .log_slow_statements(SLOW_STATEMENT_LEVEL, SLOW_STATEMENT);
            let pool = SqlitePoolOptions::new()
                .before_acquire(|conn, _| Box::pin(async move { Ok(usable(&*conn)) }))
                .max_connections(8)
                .acquire_timeout(Duration::from_secs(10))
                .connect_with(opts)
                .await
                .map_err(|e| {
                    StoreError::Unavailable(format!("cannot open SQLite database '{path}': {e}"))
                })?;
            maintenance::migrate_sqlite(&pool, path).await?;
            // A bulk import may have set the orders' date index aside (see
            // `Store::set_aside_order_date_index`) and been killed before putting it back.
            import::restore_order_date_index(&pool).await?;
            Store {
                backend: Backend::Sqlite(pool),
                pending_audit: None,
            }
        };
        Ok(store)
    }

    pub fn kind(&self) -> BackendKind {
        match self.backend {
            Backend::Sqlite(_) => BackendKind::Sqlite,
            Backend::Postgres(_) => BackendKind::Postgres,
        }
    }

    /// Closes the pool, waiting for connections to finish (SQLite checkpoints its WAL).
    pub async fn close(&self) {
        with_pool!(self, pool => pool.close().await)
    }

    /// A cheap round trip to the database, for health checks.
    pub async fn ping(&self) -> Result<(), StoreError> {
        with_pool!(self, pool => { sqlx::query("SELECT 1").execute(pool).await?; });
        Ok(())
    }

    /// The connection pool's use now (for metrics): connections open, idle, and the most it opens.
    pub fn pool_status(&self) -> PoolStatus {
        with_pool!(self, pool => PoolStatus {
            open: pool.size(),
            idle: pool.num_idle() as u32,
            max: pool.options().get_max_connections(),
        })
    }
}

/// The connection pool's use at one moment ([`Store::pool_status`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PoolStatus {
    /// Connections open (idle or in use).
    pub open: u32,
    /// Open connections not in use.
    pub idle: u32,
    /// The most connections the pool opens.
    pub max: u32,
}

/// Starts a write transaction. SQLite takes the write lock at once (`BEGIN IMMEDIATE`): a
/// deferred transaction that reads first and writes later cannot wait for a concurrent writer
/// (SQLite answers `database is locked` at once instead of after its busy timeout), which made
/// concurrent API writes fail with 500. PostgreSQL begins as usual.
/// The page cache of each pooled SQLite connection (KiB, negative as the pragma takes it).
const SQLITE_CACHE_KIB: &str = "-1048576";
/// The statement that sets it (again, after a write that set its own).
pub(crate) const SQLITE_CACHE: &str = "PRAGMA cache_size = -1048576";

pub(crate) trait BeginWrite {
    type Db: sqlx::Database;
    fn begin_write(
        &self,
    ) -> impl std::future::Future<Output = Result<sqlx::Transaction<'static, Self::Db>, sqlx::Error>>
           + Send;
}

impl BeginWrite for SqlitePool {
    type Db = sqlx::Sqlite;
    fn begin_write(
        &self,
    ) -> impl std::future::Future<Output = Result<sqlx::Transaction<'static, Self::Db>, sqlx::Error>>
           + Send {
        self.begin_with("BEGIN IMMEDIATE")
    }
}

impl BeginWrite for PgPool {
    type Db = sqlx::Postgres;
    fn begin_write(
        &self,
    ) -> impl std::future::Future<Output = Result<sqlx::Transaction<'static, Self::Db>, sqlx::Error>>
           + Send {
        self.begin()
    }
}

/// Whether a pooled connection may be handed out: not when sqlx still counts it inside a
/// transaction. When the rollback of a dropped transaction fails (SQLite had already rolled it
/// back itself after a busy or I/O error, say), sqlx keeps counting the transaction, and every
/// later `BEGIN IMMEDIATE` on that connection failed with "attempted to call begin_with at
/// non-zero transaction depth": 14,000 errors in two minutes of a soak under I/O contention.
/// The pool pings a connection before this check, so a rollback queued on drop has run by then;
/// a connection refused here is closed and replaced.
fn usable<C: sqlx::Connection>(conn: &C) -> bool {
    let ok = !conn.is_in_transaction();
    if !ok {
        tracing::warn!("closing a pooled database connection left inside a transaction");
    }
    ok
}

/// The current time, truncated to microseconds so that it round-trips through both backends.
pub(crate) fn now() -> chrono::DateTime<chrono::Utc> {
    use chrono::{SubsecRound, Utc};
    Utc::now().trunc_subsecs(6)
}

#[cfg(test)]
mod pool_tests {
    use super::*;

    /// A connection whose transaction SQLite ended behind sqlx's back (here a raw COMMIT; in the
    /// soak, an automatic rollback after an error) is not handed out again: the next write
    /// transaction gets a fresh connection instead of "non-zero transaction depth".
    #[tokio::test]
    async fn a_connection_left_inside_a_transaction_is_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::connect(dir.path().join("t.db").to_str().unwrap())
            .await
            .unwrap();
        let Backend::Sqlite(pool) = &store.backend else {
            unreachable!()
        };
        for _ in 0..3 {
            let mut tx = pool.begin_write().await.unwrap();
            sqlx::query("COMMIT").execute(&mut *tx).await.unwrap();
            // sqlx's ROLLBACK on drop now fails: no transaction is active.
            drop(tx);
            // Used one after the other, the pool hands out the same few connections again.
            for _ in 0..20 {
                let tx = pool.begin_write().await;
                assert!(tx.is_ok(), "begin failed: {:?}", tx.err());
                let mut tx = tx.unwrap();
                sqlx::query("SELECT 1").execute(&mut *tx).await.unwrap();
                tx.rollback().await.unwrap();
            }
        }
    }
}
