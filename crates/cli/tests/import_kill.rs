//! A `kill -9` in the middle of a large import, then a rerun: every committed batch is kept, no
//! row is stored twice, and the rerun completes the file. The kill lands at a known point: the
//! import's test hook (`PATRON_TEST_PAUSE_AFTER_BATCHES`) pauses it after its third batch.

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};

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
    let import = |db: &str| {
        let mut c = Command::new(env!("CARGO_BIN_EXE_patron"));
        c.args(["--database", db, "import", "orders"])
            .arg(&file)
            .args(["--create-customers", "--batch-size", "5000"])
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        c
    };
    // The import's test hook stops it for good after its third committed batch and says so
    // on standard error: the kill lands there, however fast or slow the machine is.
    let mut child = import(&db)
        .env("PATRON_TEST_PAUSE_AFTER_BATCHES", "3")
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = BufReader::new(child.stderr.take().unwrap());
    let mut said = Vec::new();
    for line in stderr.lines() {
        let line = line.unwrap();
        let paused = line.contains("patron-test: paused after 3 committed batches");
        said.push(line);
        if paused {
            break;
        }
    }
    assert!(
        said.iter().any(|l| l.contains("paused after 3")),
        "the import ended without pausing: {said:?}"
    );
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    // Exactly the three committed batches are stored: none lost, none half-written.
    assert_eq!(lines(&db).await, 3 * 5000, "only whole batches are stored");
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
