//! Input values are never echoed whole (issue 15, item 1): an import file with one line of
//! megabytes gives a short error naming the line through the binary; the web import keeps a
//! short job page and leaves no upload behind; an API error about a huge field is short. On
//! both backends.

mod common;

use std::io::Write;
use std::process::{Command, Stdio};

use axum::body::Body;
use axum::http::{header, Method, Request, StatusCode};
use axum::Router;
use patron_store::testing::fresh_database_url;
use patron_store::{backend_tests, BackendKind, Store};
use patron_testkit::{get, json_request, send, Answer};
use serde_json::json;

/// A value of 5 MB, far beyond any field.
fn huge() -> String {
    "9".repeat(5 * 1024 * 1024)
}

/// An orders file whose second data line holds [`huge`] as its date.
fn orders_file(path: &std::path::Path) {
    let mut w = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    writeln!(w, "customer,order_ref,date,amount").unwrap();
    writeln!(w, "C1,O-1,2024-03-01,12.50").unwrap();
    writeln!(w, "C1,O-2,{},10", huge()).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cli_import_error_quotes_an_excerpt_sqlite() {
    cli_import_error_quotes_an_excerpt(BackendKind::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cli_import_error_quotes_an_excerpt_postgres() {
    cli_import_error_quotes_an_excerpt(BackendKind::Postgres).await;
}

async fn cli_import_error_quotes_an_excerpt(kind: BackendKind) {
    let Some(db) = fresh_database_url(kind).await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("orders.csv");
    orders_file(&file);
    let out = Command::new(env!("CARGO_BIN_EXE_patron"))
        .args(["--database", &db, "import", "orders"])
        .arg(&file)
        .arg("--create-customers")
        .env("PATRON_LOG", "info")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.len() < 4096 && out.stdout.len() < 4096,
        "{} bytes on stderr, {} on stdout: {}…",
        err.len(),
        out.stdout.len(),
        &err[..err.len().min(300)]
    );
    // The line and the column are named, the value quoted as an excerpt.
    assert!(err.contains("orders.csv:3: column date: '999999"), "{err}");
    assert!(err.contains("…' is not a date"), "{err}");
    patron_store::testing::discard_database(kind, &db).await;
}

/// The web import's upload folder (`PATRON_UPLOAD_DIR`) is one per test process; the two
/// backends' tests take turns with it.
fn upload_root() -> &'static std::path::Path {
    static ROOT: std::sync::OnceLock<tempfile::TempDir> = std::sync::OnceLock::new();
    ROOT.get_or_init(|| {
        let d = tempfile::tempdir().unwrap();
        std::env::set_var("PATRON_UPLOAD_DIR", d.path());
        d
    })
    .path()
}
static UPLOADS: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Every file under `dir`, recursively.
fn files_under(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(files_under(&p));
        } else {
            out.push(p);
        }
    }
    out
}

fn multipart(parts: &[(&str, Option<&str>, &str)]) -> (String, Vec<u8>) {
    let boundary = "----patronBoundsBoundary9x";
    let mut body = Vec::new();
    for (name, file, value) in parts {
        body.extend_from_slice(format!("--{boundary}\r\n").as_bytes());
        match file {
            Some(f) => body.extend_from_slice(
                format!("Content-Disposition: form-data; name=\"{name}\"; filename=\"{f}\"\r\nContent-Type: text/csv\r\n\r\n").as_bytes(),
            ),
            None => body.extend_from_slice(
                format!("Content-Disposition: form-data; name=\"{name}\"\r\n\r\n").as_bytes(),
            ),
        }
        body.extend_from_slice(value.as_bytes());
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

async fn upload(app: &Router, parts: &[(&str, Option<&str>, &str)]) -> Answer {
    let (ct, body) = multipart(parts);
    send(
        app,
        Request::post("/import")
            .header(header::CONTENT_TYPE, ct)
            .body(Body::from(body))
            .unwrap(),
    )
    .await
}

/// Follows an import job until it ends; its final page.
async fn finished(app: &Router, job: &str) -> Answer {
    for _ in 0..2400 {
        let p = get(app, &format!("{job}/progress")).await;
        assert_eq!(p.status, StatusCode::OK);
        if !p.body.contains("\"running\"") {
            return get(app, job).await;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    panic!("import did not finish");
}

backend_tests!(
    web_import_of_a_huge_line_keeps_little,
    api_errors_about_huge_fields_are_short
);

async fn web_import_of_a_huge_line_keeps_little(store: Store) {
    let root = upload_root();
    let _turn = UPLOADS.lock().await;
    let app = patron_web::auth::signed_in(common::router(store.clone()), &store, "bounds")
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("orders.csv");
    orders_file(&file);
    let csv = std::fs::read_to_string(&file).unwrap();

    // Stopping at the bad row: a failed job, with a short page and nothing left on disk.
    let r = upload(
        &app,
        &[
            ("entity", None, "orders"),
            ("create_customers", None, "1"),
            ("stop_on_error", None, "1"),
            ("file", Some("big.csv"), &csv),
        ],
    )
    .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let page = finished(&app, &r.location.unwrap()).await;
    assert!(page.body.contains(r#"id="import-failed""#));
    assert!(
        page.body.len() < 64 * 1024,
        "a job page of {} bytes",
        page.body.len()
    );
    assert!(
        page.body.contains("big.csv:3: column date: &#39;999999")
            || page.body.contains("big.csv:3: column date: '999999"),
        "{}",
        page.body
    );
    assert_eq!(files_under(root), Vec::<std::path::PathBuf>::new());

    // Storing the good rows: the report names the bad one briefly; the rejected rows are kept
    // with the job in the database (for their download), nothing is left on disk.
    let r = upload(
        &app,
        &[
            ("entity", None, "orders"),
            ("create_customers", None, "1"),
            ("file", Some("big.csv"), &csv),
        ],
    )
    .await;
    let job = r.location.unwrap();
    let page = finished(&app, &job).await;
    assert!(page.body.contains(r#"id="row-errors""#), "{}", page.body);
    assert!(
        page.body.len() < 64 * 1024,
        "a job page of {} bytes",
        page.body.len()
    );
    assert_eq!(files_under(root), Vec::<std::path::PathBuf>::new());
    // The rejects keep the bad row, its huge cell cut (no field takes that much).
    let rejects = get(&app, &format!("{job}/rejects.csv")).await;
    assert_eq!(rejects.status, StatusCode::OK);
    let size = rejects.body.len();
    assert!(size < 64 * 1024, "a rejects file of {size} bytes");
    let kept = rejects.body;
    assert!(
        kept.contains("C1,O-2,9999") && kept.contains("…,10"),
        "{}",
        &kept[..200]
    );
    assert_eq!(store.counts().await.unwrap().1, 1);
    // The upload folder is cleared for the other backend's turn.
    for d in std::fs::read_dir(root).unwrap().flatten() {
        std::fs::remove_dir_all(d.path()).unwrap();
    }
}

async fn api_errors_about_huge_fields_are_short(store: Store) {
    let (_, token) =
        patron_server::auth::user_with_token(&store, "bounds-admin", patron_store::Role::Admin)
            .await
            .unwrap();
    let app = common::router(store.clone());
    // Within the body limit (1 MiB), far beyond any field.
    let long = "x".repeat(900 * 1024);
    for body in [
        json!({"name": "Acme", "email": long}),
        json!({"name": "Acme", "phone": long}),
        json!({"name": "Acme", "status": long}),
        json!({"name": "Acme", "employees": long}),
        json!({"name": "Acme", "credit_limit": long}),
        json!({"name": "Acme", long.clone(): 1}),
    ] {
        let r = send(
            &app,
            json_request(Method::POST, "/api/customers", Some(&token), Some(body)),
        )
        .await;
        assert!(r.status.is_client_error(), "{}", r.status);
        assert!(
            r.body.len() < 2048,
            "an error body of {} bytes: {}…",
            r.body.len(),
            &r.body[..300.min(r.body.len())]
        );
        assert!(r.body.contains("xxx"), "the value is quoted: {}", r.body);
    }
    // An order reference that does not exist, in the path (the store's not-found message).
    let made = send(
        &app,
        json_request(
            Method::POST,
            "/api/customers",
            Some(&token),
            Some(json!({"name": "Acme"})),
        ),
    )
    .await;
    assert_eq!(made.status, StatusCode::CREATED, "{}", made.body);
    let id = made.json()["id"].as_i64().unwrap();
    let r = send(
        &app,
        json_request(
            Method::GET,
            &format!("/api/customers/{id}/orders/{}", "r".repeat(30_000)),
            Some(&token),
            None,
        ),
    )
    .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.body);
    assert!(r.body.contains("'rrrr"), "{}", r.body);
    assert!(r.body.len() < 2048, "{} bytes", r.body.len());
}
