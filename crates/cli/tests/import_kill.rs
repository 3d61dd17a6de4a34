//! A `kill -9` in the middle of a large import, then a rerun: every committed batch is kept, no
//! row is stored twice, and the rerun completes the file.

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use patron_store::testing::fresh_database_url;
use patron_store::{BackendKind, Store};

const ROWS: u64 = 400_000;
const CUSTOMERS: u64 = 20_000;

fn write_orders(path: &std::path::Path) {
    let mut w = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    writeln!(w, "customer_id,order_id,date,amount,cost").unwrap();
    for i in 0..ROWS {
        writeln!(
            w,
            "{},{},2024-{:02}-{:02},{}.{:02},1.00",
            i % CUSTOMERS + 1,
            i,
            i % 12 + 1,
            i % 28 + 1,
            i % 500 + 1,
            i % 100
        )
        .unwrap();
    }
}

async fn lines(db: &str) -> i64 {
    let store = Store::connect(db).await.unwrap();
    let n = store.counts().await.unwrap().1;
    store.close().await;
    n
}

/// The sum of the amounts of rows `0..ROWS` of [`write_orders`], in cents.
fn expected_cents() -> i64 {
    (0..ROWS as i64)
        .map(|i| (i % 500 + 1) * 100 + i % 100)
        .sum()
}

/// Makes every committed batch of order lines take a while (about 0.1-0.2 s for 5000 lines)
/// without changing what is stored: a trigger that only reads (SQLite: a scan of a small
/// table per row; PostgreSQL: a short sleep per statement). The import keeps every order line
/// in memory until the end of the file, then writes them in batches of `--batch-size`, so the
/// window between the first committed batch and the end is otherwise only as long as the
/// writes: slowed, the kill below lands mid-import however busy the machine is.
async fn slow_down_order_line_writes(store: &Store, kind: BackendKind) {
    let statements: &[&str] = match kind {
        BackendKind::Sqlite => &[
            "CREATE TABLE patron_test_slow (x INTEGER NOT NULL)",
            "WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n WHERE x < 300) \
             INSERT INTO patron_test_slow SELECT x FROM n",
            "CREATE TRIGGER patron_test_slow AFTER INSERT ON order_lines \
             BEGIN SELECT sum(x * x) FROM patron_test_slow; END",
        ],
        BackendKind::Postgres => &[
            "CREATE FUNCTION patron_test_slow() RETURNS trigger LANGUAGE plpgsql AS \
             $$ BEGIN PERFORM pg_sleep(0.02); RETURN NULL; END $$",
            "CREATE TRIGGER patron_test_slow AFTER INSERT ON order_lines \
             FOR EACH STATEMENT EXECUTE FUNCTION patron_test_slow()",
        ],
    };
    for sql in statements {
        store.raw_execute(sql).await.unwrap();
    }
}

async fn drop_slow_down(store: &Store, kind: BackendKind) {
    let sql = match kind {
        BackendKind::Sqlite => "DROP TRIGGER patron_test_slow",
        BackendKind::Postgres => "DROP TRIGGER patron_test_slow ON order_lines",
    };
    store.raw_execute(sql).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_nine_mid_import_then_rerun_sqlite() {
    kill_nine_mid_import_then_rerun(BackendKind::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_nine_mid_import_then_rerun_postgres() {
    kill_nine_mid_import_then_rerun(BackendKind::Postgres).await;
}

async fn kill_nine_mid_import_then_rerun(kind: BackendKind) {
    let Some(db) = fresh_database_url(kind).await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("orders.csv");
    write_orders(&file);
    // Migrate first so the watcher below can count while the import runs.
    let watcher = Store::connect(&db).await.unwrap();
    slow_down_order_line_writes(&watcher, kind).await;
    let import = |db: &str| {
        let mut c = Command::new(env!("CARGO_BIN_EXE_patron"));
        c.args(["--database", db, "import", "orders"])
            .arg(&file)
            .args(["--create-customers", "--batch-size", "5000"])
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        c
    };
    let mut child = import(&db).spawn().unwrap();
    let started = Instant::now();
    // Kill as soon as the first batch is committed: with the writes slowed, about 80 batches
    // of margin remain.
    let mut seen = 0;
    while seen == 0 {
        // Hang guard, not a speed claim: generous on purpose.
        assert!(
            started.elapsed() < Duration::from_secs(180),
            "the import stored nothing within 3 minutes"
        );
        assert!(
            child.try_wait().unwrap().is_none(),
            "the import finished (or failed) before it could be killed"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
        seen = watcher.counts().await.unwrap().1;
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    let after_kill = watcher.counts().await.unwrap().1;
    assert!(
        after_kill >= seen,
        "a committed batch was lost: {after_kill} < {seen}"
    );
    // Some but not all rows were stored before the rerun, in whole batches.
    assert!(after_kill > 0, "nothing was stored before the kill");
    assert!(
        (after_kill as u64) < ROWS,
        "the import was not interrupted: all {after_kill} rows were stored"
    );
    assert_eq!(after_kill % 5000, 0, "only whole batches are stored");
    drop_slow_down(&watcher, kind).await;
    watcher.close().await;
    let status = import(&db).status().unwrap();
    assert!(status.success());
    assert_eq!(
        lines(&db).await as u64,
        ROWS,
        "the rerun completes the file without duplicates"
    );
    let store = Store::connect(&db).await.unwrap();
    assert_eq!(store.counts().await.unwrap().0 as u64, CUSTOMERS);
    // Every line's amount as in the file, to the cent.
    let facts = store.order_facts().await.unwrap();
    assert_eq!(
        facts.iter().map(|f| f.amount_cents).sum::<i64>(),
        expected_cents()
    );
    assert!(facts.iter().all(|f| f.cost_cents == 100));
    store.close().await;
    patron_store::testing::discard_database(kind, &db).await;
}
