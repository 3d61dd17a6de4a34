//! A fresh, empty database per test, on either backend (feature `testing`).
//!
//! SQLite: a new file under the system temp dir. PostgreSQL: a new database on the server named
//! by `PATRON_TEST_POSTGRES_URL` (which `scripts/with-postgres.sh` and `.ci/run` set to a throwaway
//! cluster). The PostgreSQL half of the suite fails loudly when that variable is missing, so a run
//! cannot silently test one backend only; set `PATRON_SKIP_POSTGRES=1` to skip it on purpose (each
//! skipped test then says so on stderr). In CI (`CI` set to anything non-empty) PostgreSQL cannot
//! be skipped: a PostgreSQL test without a server fails.
//!
//! A test that passes deletes its database (SQLite file, PostgreSQL database); a test that fails
//! keeps it for inspection and prints where it is.

use std::io::Write;
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

/// Whether this is a CI run (`CI` set to anything non-empty, as CI services do).
fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| !v.is_empty())
}

/// The running test's name (libtest names each test's thread after it).
fn test_name() -> String {
    std::thread::current()
        .name()
        .unwrap_or("a test")
        .to_string()
}

/// A line on stderr that bypasses the test harness's output capture, so that `cargo test` shows
/// it for a passing test too.
fn tell(line: &str) {
    let _ = writeln!(std::io::stderr().lock(), "{line}");
}

/// Called by a PostgreSQL test that has no PostgreSQL (`missing` says what is missing): in CI it
/// panics (a CI run must test both backends); otherwise it panics too unless
/// `PATRON_SKIP_POSTGRES=1` asks for the skip, in which case it prints that the test was skipped
/// and the caller returns without testing anything.
pub fn skip_postgres(missing: &str) {
    let asked = std::env::var("PATRON_SKIP_POSTGRES").is_ok_and(|v| v == "1");
    if in_ci() {
        panic!(
            "{missing}, and CI is set: a CI run must test PostgreSQL, it cannot be skipped{}. \
             Run the tests with `bash .ci/run` (or `scripts/with-postgres.sh cargo test`).",
            if asked {
                " (PATRON_SKIP_POSTGRES=1 is ignored in CI)"
            } else {
                ""
            }
        );
    }
    if !asked {
        panic!("{missing}: run the tests with `bash .ci/run` (or `scripts/with-postgres.sh cargo test`), or set PATRON_SKIP_POSTGRES=1 to skip PostgreSQL");
    }
    tell(&format!(
        "SKIPPED {}: {missing} (PATRON_SKIP_POSTGRES=1): PostgreSQL was not tested",
        test_name()
    ));
}

/// The URL of a new, empty database of `kind`, or `None` when PostgreSQL is skipped on purpose
/// (see [`skip_postgres`]). Delete it with [`discard_database`] when the test has passed.
pub async fn fresh_database_url(kind: BackendKind) -> Option<String> {
    match kind {
        BackendKind::Sqlite => {
            let path = std::env::temp_dir().join(format!("{}.db", unique_name()));
            Some(path.to_string_lossy().into_owned())
        }
        BackendKind::Postgres => {
            let admin = match std::env::var("PATRON_TEST_POSTGRES_URL") {
                Ok(url) if !url.is_empty() => url,
                _ => {
                    skip_postgres("PATRON_TEST_POSTGRES_URL is not set");
                    return None;
                }
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

/// A connected, migrated, empty store on a database of its own, which it deletes when dropped at
/// the end of a test that passed (when the thread is panicking, i.e. the test failed, the
/// database is kept and its location printed). Derefs to [`Store`].
pub struct TestStore {
    store: Store,
    kind: BackendKind,
    url: String,
    discarded: bool,
}

impl TestStore {
    /// The database's URL (for SQLite, the file's path).
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Closes the store and deletes its database now.
    pub async fn discard(mut self) {
        // A server task spawned by the test may still hold a clone: do not wait for it forever.
        let _ = tokio::time::timeout(std::time::Duration::from_secs(5), self.store.close()).await;
        discard_database(self.kind, &self.url).await;
        self.discarded = true;
    }
}

impl std::ops::Deref for TestStore {
    type Target = Store;

    fn deref(&self) -> &Store {
        &self.store
    }
}

impl Drop for TestStore {
    fn drop(&mut self) {
        if self.discarded {
            return;
        }
        if std::thread::panicking() {
            tell(&format!(
                "{}: failed; its {:?} database is kept for inspection: {}",
                test_name(),
                self.kind,
                self.url
            ));
            return;
        }
        match self.kind {
            BackendKind::Sqlite => remove_sqlite_files(&self.url),
            BackendKind::Postgres => {
                // Dropped inside the test's runtime, which cannot be blocked on: drop the
                // database from a thread and runtime of its own.
                let url = self.url.clone();
                let _ = std::thread::spawn(move || {
                    if let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build()
                    {
                        rt.block_on(discard_database(BackendKind::Postgres, &url));
                    }
                })
                .join();
            }
        }
    }
}

/// A connected, migrated, empty store of `kind` (`None` when PostgreSQL is skipped on purpose),
/// deleted when the test passes (see [`TestStore`]).
pub async fn fresh_store(kind: BackendKind) -> Option<TestStore> {
    let url = fresh_database_url(kind).await?;
    let store = Store::connect(&url).await.expect("open the test database");
    Some(TestStore {
        store,
        kind,
        url,
        discarded: false,
    })
}

/// Runs `test` on a fresh store of `kind` and deletes the database afterwards, so that a whole
/// suite does not fill the disk (a PostgreSQL database costs about 8 MB even when empty). A
/// failing test panics before the clean-up and leaves its database behind for inspection.
pub async fn with_fresh_store<F, Fut>(kind: BackendKind, test: F)
where
    F: FnOnce(Store) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let Some(db) = fresh_store(kind).await else {
        return;
    };
    test(db.store.clone()).await;
    db.discard().await;
}

fn remove_sqlite_files(path: &str) {
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{path}{suffix}"));
    }
}

/// Deletes a database made by [`fresh_database_url`] (best effort: a leftover is only disk).
pub async fn discard_database(kind: BackendKind, url: &str) {
    match kind {
        BackendKind::Sqlite => remove_sqlite_files(url),
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

    /// The first column of the first row of one SQL query, as an integer (tests only).
    pub async fn raw_integer(&self, sql: &str) -> Result<i64, crate::StoreError> {
        Ok(crate::with_pool!(self, pool => sqlx::query_scalar(sql).fetch_one(pool).await?))
    }
}
