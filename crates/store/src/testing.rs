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
                    let store = $crate::testing::fresh_store($crate::BackendKind::Sqlite).await.unwrap();
                    super::$name(store).await;
                }

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn postgres() {
                    if let Some(store) = $crate::testing::fresh_store($crate::BackendKind::Postgres).await {
                        super::$name(store).await;
                    }
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
