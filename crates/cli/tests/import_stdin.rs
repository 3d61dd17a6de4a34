//! Imports from standard input (`-`) and from pipes (`<(...)`), through the real binary, both
//! backends: read in one pass, with the same line-numbered errors as a file and the same
//! idempotency (a second run of the same input stores nothing).

use std::io::Write;
use std::process::{Command, Output, Stdio};

use patron_store::testing::{discard_database, fresh_database_url};
use patron_store::{BackendKind, Store};

const ORDERS: &str = "customer,order_id,date,amount\n\
                      C1,A1,2024-01-05,10.00\n\
                      C2,A2,2024-01-06,20.50\n\
                      C1,A3,2024-02-01,5.25\n";

/// Line 3 has an amount that is not a number.
const BAD_ORDERS: &str = "customer,order_id,date,amount\n\
                          C1,B1,2024-01-05,10.00\n\
                          C2,B2,2024-01-06,lots\n";

const CDNOW: &str = "00001 19970101 1 11.77\n00002 19970112 1 12.00\n00002 19970112 5 77.00\n";

const LEADS: &str = "name,company,email\nLi Wei,Huaxin,li@huaxin.example\nZhang San,Dongfang,zhang@dongfang.example\n";

/// Runs `patron --database DB ARGS` with `input` on standard input.
fn with_stdin(db: &str, args: &[&str], input: &str) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_patron"))
        .args(["--database", db])
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let input = input.to_string();
    // Written from a thread: a large input would otherwise fill the pipe before patron reads.
    let writer = std::thread::spawn(move || {
        let _ = stdin.write_all(input.as_bytes());
    });
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap();
    out
}

fn patron(db: &str, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_patron"))
        .args(["--database", db])
        .args(args)
        .output()
        .unwrap()
}

fn stdout_of(o: &Output) -> String {
    assert!(
        o.status.success(),
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

macro_rules! both {
    ($($name:ident),+) => {$(
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                super::$name(patron_store::BackendKind::Sqlite).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                super::$name(patron_store::BackendKind::Postgres).await;
            }
        }
    )+};
}

both!(
    orders_from_stdin_are_idempotent,
    a_bad_line_from_stdin_is_named_like_a_file_line,
    every_kind_reads_stdin_and_pipes
);

async fn counts(db: &str) -> (i64, i64, i64) {
    let store = Store::connect(db).await.unwrap();
    let c = store.counts().await.unwrap();
    store.close().await;
    c
}

async fn orders_from_stdin_are_idempotent(kind: BackendKind) {
    let Some(db) = fresh_database_url(kind).await else {
        return;
    };
    let args = ["import", "orders", "-", "--create-customers"];
    let first = stdout_of(&with_stdin(&db, &args, ORDERS));
    assert!(
        first.contains("read 3 rows") && first.contains("3 stored, 0 already present"),
        "{first}"
    );
    assert_eq!(counts(&db).await, (2, 3, 0));
    let again = stdout_of(&with_stdin(&db, &args, ORDERS));
    assert!(again.contains("0 stored, 3 already present"), "{again}");
    assert_eq!(counts(&db).await, (2, 3, 0));
    // Empty standard input is refused as an empty file is.
    let empty = with_stdin(&db, &args, "");
    assert!(!empty.status.success());
    assert!(
        String::from_utf8_lossy(&empty.stderr).contains("stdin: is empty"),
        "{}",
        String::from_utf8_lossy(&empty.stderr)
    );
    discard_database(kind, &db).await;
}

async fn a_bad_line_from_stdin_is_named_like_a_file_line(kind: BackendKind) {
    let Some(db) = fresh_database_url(kind).await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("bad.csv");
    std::fs::write(&file, BAD_ORDERS).unwrap();
    let file = file.to_str().unwrap();
    let from_file = patron(&db, &["import", "orders", file, "--create-customers"]);
    let from_stdin = with_stdin(
        &db,
        &["import", "orders", "-", "--create-customers"],
        BAD_ORDERS,
    );
    assert!(!from_file.status.success() && !from_stdin.status.success());
    // The error, without what else a first run prints (the new admin's password, logs).
    let error_of = |o: &Output| {
        let err = String::from_utf8_lossy(&o.stderr).into_owned();
        err[err.find("error: ").unwrap_or(0)..].to_string()
    };
    let file_err = error_of(&from_file);
    let stdin_err = error_of(&from_stdin);
    assert!(stdin_err.contains("stdin:3: column amount:"), "{stdin_err}");
    assert_eq!(
        stdin_err.replace("stdin:", "FILE:"),
        file_err.replace(&format!("{file}:"), "FILE:"),
        "standard input and a file give different errors"
    );
    assert_eq!(counts(&db).await.1, 0, "the bad batch stored nothing");
    discard_database(kind, &db).await;
}

async fn every_kind_reads_stdin_and_pipes(kind: BackendKind) {
    let Some(db) = fresh_database_url(kind).await else {
        return;
    };
    let customers = "number,name\nK1,Kang Li\nK2,Ma Lin\n";
    let out = stdout_of(&with_stdin(&db, &["import", "customers", "-"], customers));
    assert!(out.contains("2 stored"), "{out}");
    let interactions = "customer,kind,date,note\nK1,call,2024-03-01,asked for a quote\n";
    let out = stdout_of(&with_stdin(
        &db,
        &["import", "interactions", "-"],
        interactions,
    ));
    assert!(out.contains("1 stored"), "{out}");
    let out = stdout_of(&with_stdin(
        &db,
        &["import", "orders", "-", "--format", "cdnow"],
        CDNOW,
    ));
    assert!(out.contains("3 stored"), "{out}");
    let out = stdout_of(&with_stdin(&db, &["import", "leads", "-"], LEADS));
    assert!(out.contains("2 leads stored"), "{out}");
    let again = stdout_of(&with_stdin(&db, &["import", "leads", "-"], LEADS));
    assert!(
        again.contains("0 leads stored, 2 already present"),
        "{again}"
    );
    // A pipe (bash's process substitution, a /dev/fd path whose size reads 0): once in, once
    // again as already present.
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("orders.csv");
    std::fs::write(&src, ORDERS).unwrap();
    for expected in ["3 stored, 0 already present", "0 stored, 3 already present"] {
        let o = Command::new("bash")
            .arg("-c")
            .arg("\"$0\" --database \"$1\" import orders <(cat \"$2\") --create-customers")
            .arg(env!("CARGO_BIN_EXE_patron"))
            .arg(&db)
            .arg(&src)
            .output()
            .unwrap();
        let out = stdout_of(&o);
        assert!(out.contains(expected), "{out}");
    }
    discard_database(kind, &db).await;
}
