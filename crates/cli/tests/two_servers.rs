//! The scale-out path: two `patron serve` processes (the built binary) on one PostgreSQL
//! database, as behind a load balancer. Through HTTP: a session started on one is valid on the
//! other, the sign-in rate limit counts the attempts of both, an import job started on one is
//! shown (to its owner only) by the other, which may also take its column mapping and run it,
//! and two value refreshes sent at once, one to each, run one after the other.
//!
//! PostgreSQL only (several servers on one SQLite file is not the deployment this is for):
//! skipped with a message when `PATRON_TEST_POSTGRES_URL` is not set (run it under
//! `scripts/with-postgres.sh`; under `CI` a missing PostgreSQL fails instead).

mod common;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::web::{user, Http};
use hyper::StatusCode;
use patron_store::testing::{discard_database, fresh_database_url};
use patron_store::{BackendKind, Role, Store};

/// A `patron serve` process on `url`, killed when dropped.
struct Served {
    child: Child,
    base: String,
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn patron(home: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_patron"));
    c.env("XDG_CONFIG_HOME", home.join("xdg"))
        .env("HOME", home)
        .env("USER", "tester")
        .env("PATRON_UPLOAD_DIR", home)
        .env_remove("DATABASE_URL")
        .env_remove("PATRON_CONFIG")
        .env_remove("PATRON_ADDR")
        .env_remove("PATRON_METRICS_ADDR")
        .env_remove("PATRON_RULES_EVERY")
        .env_remove("PATRON_REFRESH_AT")
        .env_remove("PATRON_SMTP_URL")
        .env_remove("PATRON_AS")
        .env_remove("PATRON_LOG_FORMAT")
        .env_remove("PATRON_SECURE_COOKIES")
        .current_dir(home)
        .stdin(Stdio::null());
    c
}

/// Starts `patron serve` on a free loopback port and waits for its address in the log.
fn serve(home: &Path, url: &str) -> Served {
    let mut child = patron(home)
        .args(["--database", url, "serve", "--addr", "127.0.0.1:0"])
        .args(["--refresh-at", "off"])
        .env("PATRON_LOG", "info")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let stderr = child.stderr.take().unwrap();
    // Reads (and drains, until the process ends) its standard error.
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let mut seen = Vec::new();
    loop {
        let Ok(line) = rx.recv_timeout(Duration::from_secs(60)) else {
            let _ = child.kill();
            let _ = child.wait();
            panic!("patron serve did not log its address:\n{}", seen.join("\n"));
        };
        if let Some(at) = line.find("listening on http://") {
            let addr: String = line[at + 20..]
                .chars()
                .take_while(|c| !c.is_whitespace())
                .collect();
            return Served {
                child,
                base: format!("http://{addr}"),
            };
        }
        seen.push(line);
    }
}

/// A multipart upload of the import page: its content type and body.
fn multipart(parts: &[(&str, Option<&str>, &str)]) -> (String, Vec<u8>) {
    let boundary = "----patronTwoServers";
    let mut body = Vec::new();
    for (name, file, value) in parts {
        body.extend_from_slice(format!("--{boundary}\r\n").as_bytes());
        let disposition = match file {
            Some(f) => format!(
                "Content-Disposition: form-data; name=\"{name}\"; filename=\"{f}\"\r\nContent-Type: text/csv\r\n\r\n"
            ),
            None => format!("Content-Disposition: form-data; name=\"{name}\"\r\n\r\n"),
        };
        body.extend_from_slice(disposition.as_bytes());
        body.extend_from_slice(value.as_bytes());
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

/// Uploads `csv` as customers through `http`'s import page; answers the job's path.
async fn upload(http: &Http, cookie: &str, file: &str, csv: &str) -> String {
    let page = http.get("/import", cookie).await;
    let at = page
        .body
        .find("action=\"/import?csrf=")
        .expect("the upload form")
        + 8;
    let action = &page.body[at..at + page.body[at..].find('"').unwrap()];
    let (content_type, body) =
        multipart(&[("entity", None, "customers"), ("file", Some(file), csv)]);
    let r = http
        .send_body(
            "POST",
            action,
            &[("cookie", cookie), ("content-type", &content_type)],
            body,
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    r.location().to_string()
}

/// Follows job `job` on `http` until it ends; its final page.
async fn finished(http: &Http, cookie: &str, job: &str) -> String {
    for _ in 0..600 {
        let p = http.get(&format!("{job}/progress"), cookie).await;
        if !p.body.contains("\"running\"") {
            return http.get(job, cookie).await.body;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the import {job} did not end");
}

/// A value refresh through the API; answers (computed_at, seconds from reading the orders to
/// scoring them: the refresh ran at least that long after computed_at).
async fn refresh(http: &Http, token: &str) -> (chrono::DateTime<chrono::Utc>, f64) {
    let auth = format!("Bearer {token}");
    let r = http
        .send_body(
            "POST",
            "/api/value/refresh",
            &[
                ("authorization", &auth),
                ("content-type", "application/json"),
            ],
            b"{}".to_vec(),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let v: serde_json::Value = serde_json::from_str(&r.body).unwrap();
    let at = v["computed_at"].as_str().unwrap().parse().unwrap();
    let s = &v["refresh_seconds"];
    let work = s["analyse"].as_f64().unwrap() + s["score"].as_f64().unwrap();
    (at, work)
}

#[test]
fn two_servers_on_one_postgresql_share_sessions_limits_imports_and_refreshes() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let Some(url) = runtime.block_on(fresh_database_url(BackendKind::Postgres)) else {
        eprintln!("two_servers: skipped, PATRON_TEST_POSTGRES_URL is not set (run under scripts/with-postgres.sh)");
        return;
    };
    let home = tempfile::tempdir().unwrap();
    let home = home.path();
    let (token, store) = runtime.block_on(async {
        let store = Store::connect(&url).await.unwrap();
        let ann = user(&store, "ann", Role::Admin).await;
        user(&store, "bob", Role::Manager).await;
        let (_, token) = store.create_token(ann, "two servers").await.unwrap();
        (token, store)
    });
    // Orders for the refreshes: the CDNOW sample (23,570 customers).
    let cdnow = concat!(env!("CARGO_MANIFEST_DIR"), "/../../data/CDNOW_master.txt");
    let out = patron(home)
        .args(["--database", &url, "import", "orders", cdnow])
        .args(["--format", "cdnow"])
        .env("PATRON_LOG", "warn")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let a = serve(home, &url);
    let b = serve(home, &url);
    runtime.block_on(async {
        let (a, b) = (Http::at(&a.base), Http::at(&b.base));

        // A session started on one server is valid on the other, and ended there for both.
        let ann = a.login("ann", "ann-password-1", "/").await;
        let page = b.get("/import", &ann).await;
        assert!(page.body.contains("id=\"import-form\""), "{}", page.body);
        let bob = b.login("bob", "bob-password-1", "/").await;
        a.get("/import", &bob).await;

        // Two refreshes at once, one on each server, run one after the other: the later one
        // started its analysis only after the earlier one had analysed and scored.
        let ((t1, w1), (t2, w2)) = tokio::join!(refresh(&a, &token), refresh(&b, &token));
        let ((first, work), later) = if t1 <= t2 {
            ((t1, w1), t2)
        } else {
            ((t2, w2), t1)
        };
        let gap = (later - first).num_microseconds().unwrap() as f64 / 1e6;
        assert!(
            work > 0.05 && gap >= work,
            "the refreshes overlapped: the second began {gap:.3} s after the first, which analysed and scored for {work:.3} s"
        );

        // An import job started on one server is shown by the other, to its owner only.
        let csv = "number,name,email\nC1,Acme Trading,sales@acme.example\nC2,Cobalt,not-an-email\n";
        let job = upload(&a, &ann, "first.csv", csv).await;
        let done = finished(&b, &ann, &job).await;
        assert!(done.contains("id=\"import-report\""), "{done}");
        assert!(done.contains("first.csv:3: column email:"), "{done}");
        let rejects = b.get(&format!("{job}/rejects.csv"), &ann).await;
        assert!(rejects.body.contains("Cobalt"), "{}", rejects.body);
        assert!(b.get("/import", &ann).await.body.contains("first.csv"));
        let other = b.send("GET", &job, &bob, None).await;
        assert_eq!(other.status, StatusCode::NOT_FOUND);
        assert!(!b.get("/import", &bob).await.body.contains("first.csv"));

        // A job waiting for its column mapping on one server is started by the other.
        let csv = "number,name,Region code\nC3,Dynamo,N1\n";
        let job = upload(&a, &ann, "mapped.csv", csv).await;
        let waiting = b.get(&job, &ann).await;
        assert!(waiting.body.contains("id=\"import-mapping\""), "{}", waiting.body);
        let map = format!("{job}/map");
        let r = b
            .send(
                "POST",
                &map,
                &ann,
                Some(&[("csrf", &waiting.csrf_of(&map)), ("col0", "ignore")]),
            )
            .await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
        let done = finished(&a, &ann, &job).await;
        assert!(done.contains("id=\"import-report\""), "{done}");
        assert!(done.contains("Every row was imported"), "{done}");

        // Signing out on one server ends the session on both.
        let out = b
            .post_form(&ann, "/import", "/logout", &[])
            .await;
        assert!(out.status.is_redirection(), "{}", out.body);
        let gone = a.send("GET", "/import", &ann, None).await;
        assert_eq!(gone.status, StatusCode::SEE_OTHER);

        // The sign-in rate limit counts the failures on both servers: 3 + 2, then both refuse.
        for (http, n) in [(&a, 3), (&b, 2)] {
            for _ in 0..n {
                let r = http.login_answer("cy", "wrong", "/", &[]).await;
                assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}", r.body);
            }
        }
        for http in [&b, &a] {
            let r = http.login_answer("cy", "wrong", "/", &[]).await;
            assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS, "{}", r.body);
            assert!(r.headers.contains_key("retry-after"));
        }
    });
    drop((a, b));
    runtime.block_on(async {
        store.close().await;
        discard_database(BackendKind::Postgres, &url).await;
    });
}
