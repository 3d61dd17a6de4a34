//! A fresh, empty database per test, on either backend (feature `testing`).
//!
//! SQLite: a new file under the system temp dir. PostgreSQL: a new database on the server named
//! by `PATRON_TEST_POSTGRES_URL` (which `scripts/with-postgres.sh` and `.ci/run` set to a throwaway
//! cluster). The PostgreSQL half of the suite fails loudly when that variable is missing, so a run
//! cannot silently test one backend only; set `PATRON_SKIP_POSTGRES=1` to skip it on purpose.

use std::sync::atomic::{AtomicU64, Ordering};

use sqlx::Connection;

use crate::{BackendKind, Store};

static COUNTER: AtomicU64 = AtomicU64::new(0);

fn unique_name() -> String {
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    format!(
        "patron_test_{}_{}_{}",
        std::process::id(),
        t % 1_000_000_000_000,
        n
    )
}

/// The URL of a new, empty database of `kind`, or `None` when PostgreSQL is skipped on purpose.
pub async fn fresh_database_url(kind: BackendKind) -> Option<String> {
    match kind {
        BackendKind::Sqlite => {
            let path = std::env::temp_dir().join(format!("{}.db", unique_name()));
            Some(path.to_string_lossy().into_owned())
        }
        BackendKind::Postgres => {
            let Ok(admin) = std::env::var("PATRON_TEST_POSTGRES_URL") else {
                if std::env::var("PATRON_SKIP_POSTGRES").is_ok_and(|v| v == "1") {
                    return None;
                }
                panic!("PATRON_TEST_POSTGRES_URL is not set: run the tests with `bash .ci/run` (or `scripts/with-postgres.sh cargo test`), or set PATRON_SKIP_POSTGRES=1 to skip PostgreSQL");
            };
            let name = unique_name();
            let mut conn = sqlx::PgConnection::connect(&admin)
                .await
                .expect("connect to the test PostgreSQL server");
            sqlx::query(&format!("CREATE DATABASE {name}"))
                .execute(&mut conn)
                .await
                .expect("create a test database");
            conn.close().await.ok();
            let base = admin.rsplit_once('/').map(|(b, _)| b).unwrap_or(&admin);
            Some(format!("{base}/{name}"))
        }
    }
}

/// A connected, migrated, empty store of `kind` (`None` when PostgreSQL is skipped on purpose).
pub async fn fresh_store(kind: BackendKind) -> Option<Store> {
    let url = fresh_database_url(kind).await?;
    Some(Store::connect(&url).await.expect("open the test database"))
}

/// Runs `test` on a fresh store of `kind` and deletes the database afterwards, so that a whole
/// suite does not fill the disk (a PostgreSQL database costs about 8 MB even when empty). A
/// failing test panics before the clean-up and leaves its database behind for inspection.
pub async fn with_fresh_store<F, Fut>(kind: BackendKind, test: F)
where
    F: FnOnce(Store) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let Some(url) = fresh_database_url(kind).await else {
        return;
    };
    let store = Store::connect(&url).await.expect("open the test database");
    test(store.clone()).await;
    // A server task spawned by the test may still hold a clone: do not wait for it forever.
    let _ = tokio::time::timeout(std::time::Duration::from_secs(5), store.close()).await;
    discard_database(kind, &url).await;
}

/// Deletes a database made by [`fresh_database_url`] (best effort: a leftover is only disk).
pub async fn discard_database(kind: BackendKind, url: &str) {
    match kind {
        BackendKind::Sqlite => {
            for suffix in ["", "-wal", "-shm"] {
                let _ = std::fs::remove_file(format!("{url}{suffix}"));
            }
        }
        BackendKind::Postgres => {
            let (Ok(admin), Some((_, name))) = (
                std::env::var("PATRON_TEST_POSTGRES_URL"),
                url.rsplit_once('/'),
            ) else {
                return;
            };
            if let Ok(mut conn) = sqlx::PgConnection::connect(&admin).await {
                let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                    .execute(&mut conn)
                    .await;
                conn.close().await.ok();
            }
        }
    }
}

/// Defines one `#[tokio::test]` per backend for an `async fn(Store)` test body:
/// `backend_tests!(creates_customer);` expands to `creates_customer::sqlite` and
/// `creates_customer::postgres`.
#[macro_export]
macro_rules! backend_tests {
    ($($name:ident),+ $(,)?) => {
        $(
            mod $name {
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn sqlite() {
                    $crate::testing::with_fresh_store($crate::BackendKind::Sqlite, super::$name).await;
                }

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn postgres() {
                    $crate::testing::with_fresh_store($crate::BackendKind::Postgres, super::$name).await;
                }
            }
        )+
    };
}

impl Store {
    /// Runs one SQL statement as is (tests only: e.g. to check that a table refuses it).
    pub async fn raw_execute(&self, sql: &str) -> Result<u64, crate::StoreError> {
        Ok(crate::with_pool!(self, pool => sqlx::query(sql).execute(pool).await?.rows_affected()))
    }
}
