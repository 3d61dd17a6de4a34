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
    Store::connect(&db).await.unwrap().close().await;
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
    let mut seen = 0;
    while seen < 50_000 {
        // Hang guard, not a speed claim: generous on purpose.
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "the import stored nothing within 2 minutes"
        );
        assert!(
            child.try_wait().unwrap().is_none(),
            "the import finished before it could be killed; raise ROWS"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
        seen = lines(&db).await;
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    let after_kill = lines(&db).await;
    assert!(
        after_kill >= seen,
        "a committed batch was lost: {after_kill} < {seen}"
    );
    assert!((after_kill as u64) < ROWS, "the import was not interrupted");
    assert_eq!(after_kill % 5000, 0, "only whole batches are stored");
    let status = import(&db).status().unwrap();
    assert!(status.success());
    assert_eq!(
        lines(&db).await as u64,
        ROWS,
        "the rerun completes the file without duplicates"
    );
    let store = Store::connect(&db).await.unwrap();
    assert_eq!(store.counts().await.unwrap().0 as u64, CUSTOMERS);
    store.close().await;
    patron_store::testing::discard_database(kind, &db).await;
}
