//! `patron backup`, `restore` and `check` through the real binary, both backends: a backup taken
//! while writers insert orders holds every write acknowledged before it started; it restores
//! into a fresh database that `check` passes; a damaged backup and a non-empty target are
//! refused; `check` fails on a broken database.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use patron_domain::{CustomerInput, Money, OrderInput, OrderLineInput};
use patron_store::testing::{discard_database, fresh_database_url};
use patron_store::{inspect, BackendKind, Store};

fn patron(db: &str, args: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_patron"));
    c.args(["--database", db]).args(args);
    c
}

fn run(db: &str, args: &[&str]) -> Output {
    patron(db, args).output().unwrap()
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn manifest(file: &Path) -> PathBuf {
    PathBuf::from(format!("{}.manifest.json", file.display()))
}

/// An acknowledged write: the order `order_ref` of customer `customer`, and when its
/// `create_order` returned.
struct Ack {
    at: Instant,
    customer: i64,
    order_ref: String,
}

macro_rules! both {
    ($($name:ident),+) => {$(
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn sqlite() {
                super::$name(patron_store::BackendKind::Sqlite).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn postgres() {
                super::$name(patron_store::BackendKind::Postgres).await;
            }
        }
    )+};
}

both!(
    backup_under_writes_restores_every_acknowledged_write,
    check_reports_a_broken_database
);

async fn backup_under_writes_restores_every_acknowledged_write(kind: BackendKind) {
    let (Some(db), Some(restored), Some(other)) = (
        fresh_database_url(kind).await,
        fresh_database_url(kind).await,
        fresh_database_url(kind).await,
    ) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("patron.backup");
    let store = Store::connect(&db).await.unwrap();
    let mut customers = Vec::new();
    for i in 0..4 {
        let c = store
            .create_customer(
                CustomerInput {
                    name: format!("Writer customer {i}"),
                    ..Default::default()
                },
                "test",
            )
            .await
            .unwrap();
        customers.push(c.id);
    }

    // Four writers insert orders until told to stop, recording each acknowledged one.
    let acks: Arc<Mutex<Vec<Ack>>> = Arc::default();
    let stop = Arc::new(AtomicBool::new(false));
    let mut writers = Vec::new();
    for (w, &customer) in customers.iter().enumerate() {
        let (store, acks, stop) = (store.clone(), acks.clone(), stop.clone());
        writers.push(tokio::spawn(async move {
            let mut i = 0;
            while !stop.load(Ordering::Relaxed) {
                let order_ref = format!("W{w}-{i}");
                i += 1;
                let input = OrderInput {
                    order_ref: Some(order_ref.clone()),
                    ordered_on: "2024-05-01".parse().unwrap(),
                    lines: vec![OrderLineInput {
                        category: None,
                        quantity: 1,
                        amount: Money(1000 + i),
                        cost: Money(500),
                    }],
                };
                store.create_order(customer, input).await.unwrap();
                acks.lock().unwrap().push(Ack {
                    at: Instant::now(),
                    customer,
                    order_ref,
                });
            }
        }));
    }
    let started = Instant::now();
    while acks.lock().unwrap().len() < 40 {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the writers stall"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }

    let backup_started = Instant::now();
    let out = {
        let (db, file) = (db.clone(), file.clone());
        tokio::task::spawn_blocking(move || run(&db, &["backup", file.to_str().unwrap()]))
            .await
            .unwrap()
    };
    let backup_ended = Instant::now();
    assert!(out.status.success(), "backup failed: {}", text(&out));
    assert!(text(&out).contains("schema version"), "{}", text(&out));
    // The writers keep writing a little after the backup, then stop.
    tokio::time::sleep(Duration::from_millis(100)).await;
    stop.store(true, Ordering::Relaxed);
    for w in writers {
        w.await.unwrap();
    }
    let acks = std::mem::take(&mut *acks.lock().unwrap());
    let before: Vec<&Ack> = acks.iter().filter(|a| a.at < backup_started).collect();
    let during = acks
        .iter()
        .filter(|a| a.at >= backup_started && a.at <= backup_ended)
        .count();
    assert!(
        during > 0,
        "no write was acknowledged while the backup ran: the test proves nothing"
    );
    let m: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(manifest(&file)).unwrap()).unwrap();
    assert_eq!(m["schema_version"], store.schema_version().await.unwrap());
    assert_eq!(m["sha256"].as_str().unwrap().len(), 64);

    // A non-empty database is refused, and left as it was.
    let lines_before = store.counts().await.unwrap().1;
    let out = run(&db, &["restore", file.to_str().unwrap()]);
    assert!(!out.status.success());
    assert!(
        text(&out).contains("is not empty") && text(&out).contains("restore only into an empty"),
        "{}",
        text(&out)
    );
    assert_eq!(store.counts().await.unwrap().1, lines_before);

    // A damaged copy (one byte flipped) is refused before anything is written.
    let damaged = dir.path().join("damaged.backup");
    let mut bytes = std::fs::read(&file).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0x01;
    std::fs::write(&damaged, bytes).unwrap();
    std::fs::copy(manifest(&file), manifest(&damaged)).unwrap();
    let out = run(&other, &["restore", damaged.to_str().unwrap()]);
    assert!(!out.status.success());
    assert!(
        text(&out).contains("checksum mismatch") && text(&out).contains("Nothing was restored"),
        "{}",
        text(&out)
    );
    assert!(
        inspect(&other).await.unwrap().is_empty(),
        "a damaged backup was restored"
    );

    // Restored into a fresh database: every write acknowledged before the backup began is there.
    let out = run(&restored, &["restore", file.to_str().unwrap()]);
    assert!(out.status.success(), "restore failed: {}", text(&out));
    let copy = Store::connect(&restored).await.unwrap();
    let mut missing = Vec::new();
    for a in &before {
        if copy.order(a.customer, &a.order_ref).await.is_err() {
            missing.push(a.order_ref.clone());
        }
    }
    assert!(
        missing.is_empty(),
        "{} of {} acknowledged writes are missing from the restored copy: {missing:?}",
        missing.len(),
        before.len()
    );
    let (_, copied_lines, _) = copy.counts().await.unwrap();
    assert!(copied_lines as usize >= before.len());
    assert!(copied_lines as usize <= acks.len());
    copy.close().await;
    let out = run(&restored, &["check"]);
    assert!(out.status.success(), "check failed: {}", text(&out));
    assert!(
        text(&out).contains("is sound") && !text(&out).contains("PROBLEM"),
        "{}",
        text(&out)
    );

    if kind == BackendKind::Postgres {
        // The plain SQL format restores through psql just as well.
        let plain = dir.path().join("plain.sql");
        let out = run(
            &db,
            &["backup", plain.to_str().unwrap(), "--format", "plain"],
        );
        assert!(out.status.success(), "plain backup failed: {}", text(&out));
        let out = run(&other, &["restore", plain.to_str().unwrap()]);
        assert!(out.status.success(), "plain restore failed: {}", text(&out));
        let again = Store::connect(&other).await.unwrap();
        assert_eq!(again.counts().await.unwrap(), store.counts().await.unwrap());
        again.close().await;
        // Without pg_dump on PATH the backup says what is missing.
        let out = patron(&db, &["backup", dir.path().join("x").to_str().unwrap()])
            .env("PATH", dir.path())
            .env("PATRON_AS", "backup-test") // `id -un` is not on that PATH either
            .output()
            .unwrap();
        assert!(!out.status.success());
        assert!(
            text(&out).contains("pg_dump was not found on PATH"),
            "{}",
            text(&out)
        );
    }
    store.close().await;
    for url in [&db, &restored, &other] {
        discard_database(kind, url).await;
    }
}

async fn check_reports_a_broken_database(kind: BackendKind) {
    let Some(db) = fresh_database_url(kind).await else {
        return;
    };
    let store = Store::connect(&db).await.unwrap();
    let c = store
        .create_customer(
            CustomerInput {
                name: "Checked".into(),
                ..Default::default()
            },
            "test",
        )
        .await
        .unwrap();
    let out = run(&db, &["check"]);
    assert!(out.status.success(), "check failed: {}", text(&out));
    assert!(text(&out).contains("holds 1 customers"), "{}", text(&out));
    // Break it: SQLite, an order line of a customer that does not exist (with foreign keys off
    // for that one statement); PostgreSQL, the order lines' foreign-key triggers disabled.
    match kind {
        BackendKind::Sqlite => {
            use sqlx::Connection;
            let mut conn = sqlx::SqliteConnection::connect(&format!("sqlite:{db}"))
                .await
                .unwrap();
            sqlx::query("PRAGMA foreign_keys = OFF")
                .execute(&mut conn)
                .await
                .unwrap();
            sqlx::query(
                "INSERT INTO order_lines (customer_id, order_ref, line_no, ordered_on, quantity, \
                 amount_cents, cost_cents) VALUES ($1, 'X', 1, '2024-01-01', 1, 100, 50)",
            )
            .bind(c.id + 1000)
            .execute(&mut conn)
            .await
            .unwrap();
            conn.close().await.unwrap();
        }
        BackendKind::Postgres => {
            store
                .raw_execute("ALTER TABLE order_lines DISABLE TRIGGER ALL")
                .await
                .unwrap();
        }
    }
    let out = run(&db, &["check"]);
    assert!(!out.status.success(), "check passed a broken database");
    assert!(
        text(&out).contains("PROBLEM  foreign keys") && text(&out).contains("1 problem found"),
        "{}",
        text(&out)
    );
    store.close().await;
    discard_database(kind, &db).await;
}
