//! Schema versions, upgrades, backups and integrity checks.
//!
//! The schema version of a database is the latest sqlx migration applied to it (the number of
//! the newest `migrations/{sqlite,postgres}/NNNN_*.sql` file). On connect ([`Store::connect`]):
//! - a database whose schema is newer than this binary (a migration applied that the binary does
//!   not know) is refused with a message naming both versions, before anything is changed;
//! - an older one is migrated with all its pending migrations in one transaction (a failure
//!   leaves it at its old version), after an automatic backup for SQLite: a `VACUUM INTO` copy
//!   next to the database file, named `FILE.schema-OLD.TIMESTAMP.bak`. PostgreSQL databases are
//!   not copied automatically: the operator backs up first (`patron backup`, the README says so).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use sqlx::migrate::Migrator;
use sqlx::postgres::PgPool;
use sqlx::sqlite::SqlitePool;
use sqlx::Connection;

use crate::{with_pool, BackendKind, BeginWrite, Store, StoreError};

/// The migrations compiled into this binary for `kind`.
pub(crate) fn migrator(kind: BackendKind) -> Migrator {
    match kind {
        BackendKind::Sqlite => sqlx::migrate!("./migrations/sqlite"),
        BackendKind::Postgres => sqlx::migrate!("./migrations/postgres"),
    }
}

/// The latest schema version this binary knows for `kind` (its newest migration).
pub fn known_schema_version(kind: BackendKind) -> i64 {
    migrator(kind).iter().map(|m| m.version).max().unwrap_or(0)
}

/// What a database holds, read without migrating or changing it (see [`inspect`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DatabaseState {
    /// Whether the database exists (a SQLite file that is missing, or has no bytes, does not).
    pub exists: bool,
    /// Its tables, views, sequences and functions outside the system schemas, sorted.
    pub objects: Vec<String>,
    /// The versions of the migrations applied to it, ascending (empty when never migrated).
    pub applied: Vec<i64>,
}

impl DatabaseState {
    /// The schema version: the latest migration applied (`None` when never migrated).
    pub fn schema_version(&self) -> Option<i64> {
        self.applied.last().copied()
    }

    /// True when the database holds nothing at all (what `patron restore` requires).
    pub fn is_empty(&self) -> bool {
        self.objects.is_empty()
    }
}

/// Where a URL points, as [`Store::connect`] reads it.
pub(crate) enum Target<'a> {
    Sqlite(&'a str),
    Postgres,
}

pub(crate) fn target(url: &str) -> Target<'_> {
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        Target::Postgres
    } else {
        Target::Sqlite(
            url.strip_prefix("sqlite://")
                .or_else(|| url.strip_prefix("sqlite:"))
                .unwrap_or(url),
        )
    }
}

/// Which backend `url` names (as [`Store::connect`] reads it).
pub fn backend_of(url: &str) -> BackendKind {
    match target(url) {
        Target::Sqlite(_) => BackendKind::Sqlite,
        Target::Postgres => BackendKind::Postgres,
    }
}

/// Reads what the database at `url` holds without migrating it, creating it, or writing to it.
pub async fn inspect(url: &str) -> Result<DatabaseState, StoreError> {
    match target(url) {
        Target::Sqlite(path) => {
            let exists = std::fs::metadata(path)
                .map(|m| m.len() > 0)
                .unwrap_or(false);
            if !exists {
                return Ok(DatabaseState::default());
            }
            let opts = sqlx::sqlite::SqliteConnectOptions::new()
                .filename(path)
                .read_only(true);
            let mut conn = sqlx::SqliteConnection::connect_with(&opts)
                .await
                .map_err(|e| {
                    StoreError::Unavailable(format!("cannot open SQLite database '{path}': {e}"))
                })?;
            let objects: Vec<String> = sqlx::query_scalar(
                "SELECT type || ' ' || name FROM sqlite_master \
                 WHERE type IN ('table', 'view') AND name NOT LIKE 'sqlite_%' ORDER BY 1",
            )
            .fetch_all(&mut conn)
            .await?;
            let applied = if objects.iter().any(|o| o == "table _sqlx_migrations") {
                sqlx::query_scalar("SELECT version FROM _sqlx_migrations ORDER BY version")
                    .fetch_all(&mut conn)
                    .await?
            } else {
                Vec::new()
            };
            conn.close().await.ok();
            Ok(DatabaseState {
                exists,
                objects,
                applied,
            })
        }
        Target::Postgres => {
            let mut conn = sqlx::PgConnection::connect(url).await.map_err(|e| {
                StoreError::Unavailable(format!("cannot connect to PostgreSQL: {e}"))
            })?;
            let mut objects: Vec<String> = sqlx::query_scalar(
                "SELECT CASE c.relkind WHEN 'r' THEN 'table' WHEN 'p' THEN 'table' \
                 WHEN 'v' THEN 'view' WHEN 'm' THEN 'view' WHEN 'S' THEN 'sequence' \
                 ELSE 'relation' END || ' ' || n.nspname || '.' || c.relname \
                 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
                 WHERE c.relkind IN ('r', 'p', 'v', 'm', 'S') \
                 AND n.nspname NOT IN ('pg_catalog', 'information_schema') \
                 AND n.nspname NOT LIKE 'pg_toast%' AND n.nspname NOT LIKE 'pg_temp%'",
            )
            .fetch_all(&mut conn)
            .await?;
            let functions: Vec<String> = sqlx::query_scalar(
                "SELECT 'function ' || n.nspname || '.' || p.proname \
                 FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace \
                 WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') \
                 AND n.nspname NOT LIKE 'pg_toast%' AND n.nspname NOT LIKE 'pg_temp%'",
            )
            .fetch_all(&mut conn)
            .await?;
            objects.extend(functions);
            objects.sort();
            let has_migrations: bool =
                sqlx::query_scalar("SELECT to_regclass('_sqlx_migrations') IS NOT NULL")
                    .fetch_one(&mut conn)
                    .await?;
            let applied = if has_migrations {
                sqlx::query_scalar("SELECT version FROM _sqlx_migrations ORDER BY version")
                    .fetch_all(&mut conn)
                    .await?
            } else {
                Vec::new()
            };
            conn.close().await.ok();
            Ok(DatabaseState {
                exists: true,
                objects,
                applied,
            })
        }
    }
}

/// What connecting has to do to a database's schema.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Plan {
    /// Never migrated: create the schema.
    Fresh,
    /// Up to date.
    Current,
    /// Older: apply the pending migrations.
    Upgrade { from: i64, to: i64 },
}

/// Compares the applied migrations with the known ones; refuses a schema from a newer binary.
fn plan(applied: &[i64], kind: BackendKind) -> Result<Plan, StoreError> {
    let known: BTreeSet<i64> = migrator(kind).iter().map(|m| m.version).collect();
    let ours = known.iter().max().copied().unwrap_or(0);
    let Some(&theirs) = applied.iter().max() else {
        return Ok(Plan::Fresh);
    };
    if let Some(unknown) = applied.iter().find(|v| !known.contains(v)) {
        let what = if *unknown > ours {
            format!(
                "the database's schema is version {theirs}, newer than this patron binary's \
                 (version {ours}): it was written by a newer release of patron"
            )
        } else {
            format!(
                "the database has schema migration {unknown} applied, which this patron binary \
                 (schema version {ours}) does not know"
            )
        };
        return Err(StoreError::Schema(format!(
            "{what}. Nothing was changed. Run a patron release that knows schema version \
             {theirs}, or restore a backup taken with this one (patron restore)."
        )));
    }
    Ok(if known.iter().all(|v| applied.contains(v)) {
        Plan::Current
    } else {
        Plan::Upgrade {
            from: theirs,
            to: ours,
        }
    })
}

/// The automatic backup's path before an upgrade from schema `from`:
/// `FILE.schema-FROM.YYYYMMDDTHHMMSSZ.bak`, next to the database file.
fn upgrade_backup_path(db: &str, from: i64) -> PathBuf {
    let stamp = chrono::Utc::now().format("%Y%m%dT%H%M%S%.3fZ");
    PathBuf::from(format!("{db}.schema-{from}.{stamp}.bak"))
}

/// Brings a SQLite database's schema up to date (see the module doc).
pub(crate) async fn migrate_sqlite(pool: &SqlitePool, path: &str) -> Result<(), StoreError> {
    let kind = BackendKind::Sqlite;
    let applied = sqlite_applied(pool).await?;
    let planned = plan(&applied, kind)?;
    if planned == Plan::Current {
        let rows = sqlx::query_as(APPLIED_ROWS).fetch_all(pool).await?;
        return verify_applied(&rows, kind);
    }
    if let Plan::Upgrade { from, to } = planned {
        if path != ":memory:" && !path.is_empty() && Path::new(path).exists() {
            let backup = upgrade_backup_path(path, from);
            vacuum_into(pool, &backup).await.map_err(|e| {
                StoreError::Schema(format!(
                    "the database's schema is version {from} and needs upgrading to {to}, but \
                     the automatic backup to {} failed, so nothing was changed: {e}",
                    backup.display()
                ))
            })?;
            tracing::warn!(
                "upgrading the database schema from version {from} to {to}; the old database \
                 is kept in {}",
                backup.display()
            );
        }
    }
    // All pending migrations in one write transaction: sqlx applies each in a savepoint.
    let mut tx = pool.begin_write().await?;
    let applied: Vec<i64> = if sqlite_has_migrations(&mut *tx).await? {
        sqlx::query_scalar("SELECT version FROM _sqlx_migrations ORDER BY version")
            .fetch_all(&mut *tx)
            .await?
    } else {
        Vec::new()
    };
    plan(&applied, kind)?;
    migrator(kind).run(&mut *tx).await?;
    tx.commit().await?;
    Ok(())
}

/// Brings a PostgreSQL database's schema up to date (see the module doc).
pub(crate) async fn migrate_postgres(pool: &PgPool) -> Result<(), StoreError> {
    let kind = BackendKind::Postgres;
    let applied = pg_applied(pool).await?;
    let planned = plan(&applied, kind)?;
    if planned == Plan::Current {
        let rows = sqlx::query_as(APPLIED_ROWS).fetch_all(pool).await?;
        return verify_applied(&rows, kind);
    }
    if let Plan::Upgrade { from, to } = planned {
        tracing::warn!(
            "upgrading the PostgreSQL schema from version {from} to {to} in one transaction \
             (take a backup with `patron backup` before installing a new release)"
        );
    }
    let mut tx = pool.begin().await?;
    // One migrating connection at a time, until this transaction ends; the others then find
    // the schema up to date.
    sqlx::query("SELECT pg_advisory_xact_lock($1)")
        .bind(MIGRATION_LOCK)
        .execute(&mut *tx)
        .await?;
    let has: bool = sqlx::query_scalar("SELECT to_regclass('_sqlx_migrations') IS NOT NULL")
        .fetch_one(&mut *tx)
        .await?;
    let applied: Vec<i64> = if has {
        sqlx::query_scalar("SELECT version FROM _sqlx_migrations ORDER BY version")
            .fetch_all(&mut *tx)
            .await?
    } else {
        Vec::new()
    };
    plan(&applied, kind)?;
    let mut m = migrator(kind);
    m.set_locking(false);
    m.run(&mut *tx).await?;
    tx.commit().await?;
    Ok(())
}

const APPLIED_ROWS: &str = "SELECT version, checksum, success FROM _sqlx_migrations";

/// Checks an up-to-date database's applied migrations as sqlx would before migrating (without
/// its `CREATE TABLE IF NOT EXISTS`, whose PostgreSQL notice was logged on every connect): each
/// one completed, and with the checksum of the migration this binary has.
fn verify_applied(rows: &[(i64, Vec<u8>, bool)], kind: BackendKind) -> Result<(), StoreError> {
    use sqlx::migrate::MigrateError;
    let m = migrator(kind);
    for (version, checksum, success) in rows {
        if !success {
            return Err(MigrateError::Dirty(*version).into());
        }
        let known = m.iter().find(|x| x.version == *version);
        if known.is_some_and(|x| *x.checksum != **checksum) {
            return Err(MigrateError::VersionMismatch(*version).into());
        }
    }
    Ok(())
}

/// The advisory lock key migrating connections take ("patron" in ASCII).
const MIGRATION_LOCK: i64 = 0x7061_7472_6f6e;

async fn sqlite_has_migrations(
    conn: impl sqlx::Executor<'_, Database = sqlx::Sqlite>,
) -> Result<bool, StoreError> {
    let n: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = '_sqlx_migrations'",
    )
    .fetch_one(conn)
    .await?;
    Ok(n > 0)
}

async fn sqlite_applied(pool: &SqlitePool) -> Result<Vec<i64>, StoreError> {
    if !sqlite_has_migrations(pool).await? {
        return Ok(Vec::new());
    }
    Ok(
        sqlx::query_scalar("SELECT version FROM _sqlx_migrations ORDER BY version")
            .fetch_all(pool)
            .await?,
    )
}

async fn pg_applied(pool: &PgPool) -> Result<Vec<i64>, StoreError> {
    let has: bool = sqlx::query_scalar("SELECT to_regclass('_sqlx_migrations') IS NOT NULL")
        .fetch_one(pool)
        .await?;
    if !has {
        return Ok(Vec::new());
    }
    Ok(
        sqlx::query_scalar("SELECT version FROM _sqlx_migrations ORDER BY version")
            .fetch_all(pool)
            .await?,
    )
}

/// A consistent copy of a live SQLite database (`VACUUM INTO`: one read transaction, so writers
/// carry on while it runs and the copy holds exactly the transactions committed before it began).
async fn vacuum_into(pool: &SqlitePool, dest: &Path) -> Result<(), StoreError> {
    let dest = dest
        .to_str()
        .ok_or_else(|| StoreError::invalid("file", "the path is not valid UTF-8"))?;
    sqlx::query("VACUUM INTO $1")
        .bind(dest)
        .execute(pool)
        .await?;
    Ok(())
}

/// One line of [`Store::check`]'s report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// False when this is a problem.
    pub ok: bool,
    /// What was checked and what was found, in words.
    pub text: String,
}

impl Finding {
    fn ok(text: impl Into<String>) -> Self {
        Finding {
            ok: true,
            text: text.into(),
        }
    }

    fn problem(text: impl Into<String>) -> Self {
        Finding {
            ok: false,
            text: text.into(),
        }
    }
}

/// Lists at most ten items, and how many more there are.
fn some_of(items: &[String]) -> String {
    let mut s = items
        .iter()
        .take(10)
        .cloned()
        .collect::<Vec<_>>()
        .join("; ");
    if items.len() > 10 {
        s.push_str(&format!("; and {} more", items.len() - 10));
    }
    s
}

impl Store {
    /// The database's schema version: the latest migration applied.
    pub async fn schema_version(&self) -> Result<i64, StoreError> {
        let v: Option<i64> = with_pool!(self, pool => sqlx::query_scalar(
            "SELECT MAX(version) FROM _sqlx_migrations WHERE success")
            .fetch_one(pool).await?);
        Ok(v.unwrap_or(0))
    }

    /// Writes a consistent copy of this SQLite database to `dest` (which must not exist) while
    /// other connections go on writing; refused on PostgreSQL (use `pg_dump`).
    pub async fn backup_sqlite(&self, dest: &Path) -> Result<(), StoreError> {
        match &self.backend {
            crate::Backend::Sqlite(pool) => vacuum_into(pool, dest).await,
            crate::Backend::Postgres(_) => Err(StoreError::invalid(
                "database",
                "is PostgreSQL: back it up with pg_dump",
            )),
        }
    }

    /// Checks the database's integrity and reports in words: the schema version, SQLite's
    /// `integrity_check` and `foreign_key_check` (PostgreSQL: that every foreign key is
    /// validated and no trigger is disabled), the audit log's append-only guard and (SQLite) that
    /// no audit row is missing, and the counts of the main records.
    pub async fn check(&self) -> Result<Vec<Finding>, StoreError> {
        let mut out = Vec::new();
        let version = self.schema_version().await?;
        let known = known_schema_version(self.kind());
        out.push(if version == known {
            Finding::ok(format!(
                "schema version {version}, the latest this binary knows"
            ))
        } else {
            Finding::problem(format!(
                "schema version {version}, but this binary's is {known}"
            ))
        });
        match &self.backend {
            crate::Backend::Sqlite(pool) => {
                let lines: Vec<String> = sqlx::query_scalar("PRAGMA integrity_check")
                    .fetch_all(pool)
                    .await?;
                out.push(if lines == ["ok"] {
                    Finding::ok("SQLite integrity check: every page, index and constraint is sound")
                } else {
                    Finding::problem(format!(
                        "SQLite integrity check found {} problems: {}",
                        lines.len(),
                        some_of(&lines)
                    ))
                });
                let rows: Vec<(String, Option<i64>, String)> =
                    sqlx::query_as("SELECT \"table\", rowid, parent FROM pragma_foreign_key_check")
                        .fetch_all(pool)
                        .await?;
                out.push(if rows.is_empty() {
                    Finding::ok("foreign keys: every reference points to an existing record")
                } else {
                    let items: Vec<String> = rows
                        .iter()
                        .map(|(t, id, p)| match id {
                            Some(id) => format!("{t} row {id} refers to a missing {p} row"),
                            None => format!("a {t} row refers to a missing {p} row"),
                        })
                        .collect();
                    Finding::problem(format!(
                        "foreign keys: {} broken references: {}",
                        rows.len(),
                        some_of(&items)
                    ))
                });
                let triggers: i64 = sqlx::query_scalar(
                    "SELECT COUNT(*) FROM sqlite_master WHERE type = 'trigger' \
                     AND name IN ('audit_log_no_update', 'audit_log_no_delete')",
                )
                .fetch_one(pool)
                .await?;
                out.push(audit_guard(triggers == 2));
                let (n, lo, hi): (i64, Option<i64>, Option<i64>) =
                    sqlx::query_as("SELECT COUNT(*), MIN(id), MAX(id) FROM audit_log")
                        .fetch_one(pool)
                        .await?;
                // Ids are MAX(id) + 1 and rows are never deleted: 1..n without a gap.
                out.push(match (lo, hi) {
                    (None, _) | (_, None) => Finding::ok("audit log: empty"),
                    (Some(1), Some(hi)) if hi == n => Finding::ok(format!(
                        "audit log: {n} rows, numbered 1 to {n} without a gap: none removed"
                    )),
                    (Some(lo), Some(hi)) => Finding::problem(format!(
                        "audit log: {n} rows numbered {lo} to {hi}: {} rows are missing",
                        hi - n
                    )),
                });
            }
            crate::Backend::Postgres(pool) => {
                let (fks, unvalidated): (i64, Vec<String>) = {
                    let all: Vec<(String, bool)> = sqlx::query_as(
                        "SELECT conrelid::regclass::text || '.' || conname, convalidated \
                         FROM pg_constraint WHERE contype = 'f' \
                         AND connamespace = current_schema()::text::regnamespace",
                    )
                    .fetch_all(pool)
                    .await?;
                    (
                        all.len() as i64,
                        all.into_iter()
                            .filter(|(_, v)| !v)
                            .map(|(n, _)| n)
                            .collect(),
                    )
                };
                let disabled: Vec<String> = sqlx::query_scalar(
                    "SELECT c.relname || '.' || t.tgname FROM pg_trigger t \
                     JOIN pg_class c ON c.oid = t.tgrelid \
                     WHERE c.relnamespace = current_schema()::text::regnamespace AND t.tgenabled = 'D'",
                )
                .fetch_all(pool)
                .await?;
                out.push(if unvalidated.is_empty() && disabled.is_empty() {
                    Finding::ok(format!(
                        "foreign keys: all {fks} are validated and enforced by PostgreSQL"
                    ))
                } else {
                    let mut items = unvalidated
                        .iter()
                        .map(|c| format!("{c} is not validated"))
                        .collect::<Vec<_>>();
                    items.extend(disabled.iter().map(|t| format!("trigger {t} is disabled")));
                    Finding::problem(format!("foreign keys and triggers: {}", some_of(&items)))
                });
                let guard: i64 = sqlx::query_scalar(
                    "SELECT COUNT(*) FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid \
                     WHERE c.relname = 'audit_log' AND t.tgname = 'audit_log_no_change' \
                     AND c.relnamespace = current_schema()::text::regnamespace AND t.tgenabled <> 'D'",
                )
                .fetch_one(pool)
                .await?;
                out.push(audit_guard(guard == 1));
                let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM audit_log")
                    .fetch_one(pool)
                    .await?;
                out.push(Finding::ok(format!(
                    "audit log: {n} rows (PostgreSQL ids may skip numbers after a rolled-back \
                     transaction, so gaps are not a sign of removal there)"
                )));
            }
        }
        let (customers, lines, interactions) = self.counts().await?;
        let (users, orders): (i64, i64) = with_pool!(self, pool => sqlx::query_as(
            "SELECT (SELECT COUNT(*) FROM users), \
             (SELECT COUNT(*) FROM (SELECT DISTINCT customer_id, order_ref FROM order_lines) o)")
            .fetch_one(pool).await?);
        out.push(Finding::ok(format!(
            "holds {customers} customers, {orders} orders ({lines} order lines), \
             {interactions} interactions, {users} users"
        )));
        Ok(out)
    }
}

fn audit_guard(present: bool) -> Finding {
    if present {
        Finding::ok("audit log: its triggers refuse every update and delete (append-only)")
    } else {
        Finding::problem("audit log: the triggers that keep it append-only are missing or disabled")
    }
}

/// Creates the schema of `url` up to `version` only (the migrations after it are not applied),
/// as a database written by an older release: for upgrade tests.
#[cfg(feature = "testing")]
pub async fn create_at_schema_version(url: &str, version: i64) -> Result<(), StoreError> {
    let kind = backend_of(url);
    let mut m = migrator(kind);
    m.migrations =
        std::borrow::Cow::Owned(m.iter().filter(|x| x.version <= version).cloned().collect());
    match target(url) {
        Target::Sqlite(path) => {
            let opts = sqlx::sqlite::SqliteConnectOptions::new()
                .filename(path)
                .create_if_missing(true)
                .foreign_keys(true);
            let mut conn = sqlx::SqliteConnection::connect_with(&opts).await?;
            m.run(&mut conn).await?;
            conn.close().await?;
        }
        Target::Postgres => {
            let mut conn = sqlx::PgConnection::connect(url).await?;
            m.run(&mut conn).await?;
            conn.close().await?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plans() {
        for kind in [BackendKind::Sqlite, BackendKind::Postgres] {
            let known: Vec<i64> = migrator(kind).iter().map(|m| m.version).collect();
            let latest = *known.last().unwrap();
            assert_eq!(plan(&[], kind).unwrap(), Plan::Fresh);
            assert_eq!(plan(&known, kind).unwrap(), Plan::Current);
            assert_eq!(
                plan(&known[..known.len() - 2], kind).unwrap(),
                Plan::Upgrade {
                    from: latest - 2,
                    to: latest
                }
            );
            let rows: Vec<(i64, Vec<u8>, bool)> = migrator(kind)
                .iter()
                .map(|m| (m.version, m.checksum.to_vec(), true))
                .collect();
            assert!(verify_applied(&rows, kind).is_ok());
            let mut edited = rows.clone();
            edited[0].1[0] ^= 1;
            assert!(matches!(
                verify_applied(&edited, kind),
                Err(StoreError::Migrate(
                    sqlx::migrate::MigrateError::VersionMismatch(1)
                ))
            ));
            let mut newer = known.clone();
            newer.push(latest + 1);
            let e = plan(&newer, kind).unwrap_err().to_string();
            assert!(
                e.contains(&format!("version {}", latest + 1))
                    && e.contains(&format!("version {latest}"))
                    && e.contains("Nothing was changed"),
                "{e}"
            );
        }
    }
}
