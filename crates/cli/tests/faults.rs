//! Faults of a running `patron serve`, over real HTTP:
//!
//! - `kill -9` of the server while several clients write orders (five lines each) and
//!   interactions: after a restart every acknowledged write is there, and every stored order is
//!   whole (all its lines, never some), on SQLite and on PostgreSQL;
//! - PostgreSQL stopped and started again under load: meanwhile requests are answered 503 while
//!   PostgreSQL is still down (never held until it is back), and afterwards the same server process
//!   answers 200 again by itself. This test runs its own throwaway cluster (found and started like
//!   `scripts/with-postgres.sh`).
//!
//! The time limits below only turn a hang into a failure instead of a test that never ends; they
//! are generous on purpose and claim nothing about speed.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::{Request, StatusCode};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use patron_store::testing::fresh_database_url;
use patron_store::{BackendKind, Role, Store};
use serde_json::{json, Value};

/// Hang guard, not a speed claim: a request without an answer after this long is taken for a
/// hang (the store's pool gives up on a connection after 5-10 s and answers 503).
const HANG: Duration = Duration::from_secs(60);

/// Hang guard for the waits below (server start, enough writes, 503s, recovery).
const WAIT: Duration = Duration::from_secs(120);

#[derive(Clone)]
struct Http {
    base: String,
    token: String,
    client: Client<HttpConnector, Full<Bytes>>,
}

impl Http {
    fn new(port: u16, token: &str) -> Self {
        Http {
            base: format!("http://127.0.0.1:{port}"),
            token: token.to_string(),
            client: Client::builder(TokioExecutor::new()).build_http(),
        }
    }

    /// Sends a request; `Err` for a transport failure (server gone), panics on a hang.
    async fn call(
        &self,
        method: &str,
        path: &str,
        body: Option<&Value>,
    ) -> Result<(StatusCode, Value), String> {
        let mut b = Request::builder()
            .method(method)
            .uri(format!("{}{path}", self.base))
            .header("authorization", format!("Bearer {}", self.token));
        let bytes = match body {
            Some(v) => {
                b = b.header("content-type", "application/json");
                serde_json::to_vec(v).unwrap()
            }
            None => Vec::new(),
        };
        let req = b.body(Full::new(Bytes::from(bytes))).unwrap();
        let started = Instant::now();
        let answer = tokio::time::timeout(HANG, async {
            let resp = self.client.request(req).await.map_err(|e| e.to_string())?;
            let status = resp.status();
            let body = resp
                .into_body()
                .collect()
                .await
                .map_err(|e| e.to_string())?
                .to_bytes();
            let value = if body.is_empty() {
                Value::Null
            } else {
                serde_json::from_slice(&body).map_err(|e| format!("not JSON: {e}"))?
            };
            Ok((status, value))
        })
        .await;
        match answer {
            Ok(r) => r,
            Err(_) => panic!(
                "{method} {path} hung for {:?} without an answer",
                started.elapsed()
            ),
        }
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A running `patron serve`; killed (SIGKILL) and reaped when dropped.
struct Server(Child);

impl Server {
    /// `kill -9`, then reap it.
    fn kill9(mut self) {
        self.0.kill().unwrap();
        self.0.wait().unwrap();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `patron serve` on `db`, answering its health check.
async fn start_server(db: &str) -> (Server, u16) {
    let port = free_port();
    let server = Server(
        Command::new(env!("CARGO_BIN_EXE_patron"))
            .args(["--database", db, "serve", "--addr"])
            .arg(format!("127.0.0.1:{port}"))
            .env("RUST_LOG", "error")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let http = Http::new(port, "");
    let started = Instant::now();
    loop {
        if let Ok((StatusCode::OK, _)) = http.call("GET", "/api/health", None).await {
            return (server, port);
        }
        assert!(started.elapsed() < WAIT, "the server did not come up");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn admin_token(db: &str) -> String {
    let store = Store::connect(db).await.unwrap();
    let (_, token) = patron_server::auth::user_with_token(&store, "fault-admin", Role::Admin)
        .await
        .unwrap();
    store.close().await;
    token
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_nine_during_concurrent_writes_sqlite() {
    kill_nine_during_concurrent_writes(BackendKind::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_nine_during_concurrent_writes_postgres() {
    kill_nine_during_concurrent_writes(BackendKind::Postgres).await;
}

const LINES: usize = 5;

#[derive(Default)]
struct Acked {
    /// (customer id, order reference)
    orders: Vec<(i64, String)>,
    /// (customer id, external id)
    interactions: Vec<(i64, String)>,
}

async fn kill_nine_during_concurrent_writes(kind: BackendKind) {
    let Some(db) = fresh_database_url(kind).await else {
        return;
    };
    let token = admin_token(&db).await;
    let (server, port) = start_server(&db).await;
    let http = Http::new(port, &token);
    let mut customers = Vec::new();
    for n in 0..4 {
        let (s, c) = http
            .call(
                "POST",
                "/api/customers",
                Some(&json!({"name": format!("Writer target {n}")})),
            )
            .await
            .unwrap();
        assert_eq!(s, StatusCode::CREATED, "{c}");
        customers.push(c["id"].as_i64().unwrap());
    }
    let acked = Arc::new(Mutex::new(Acked::default()));
    let mut writers = Vec::new();
    for w in 0..6usize {
        let http = http.clone();
        let acked = acked.clone();
        let customers = customers.clone();
        writers.push(tokio::spawn(async move {
            for i in 0.. {
                let customer = customers[(w + i) % customers.len()];
                let key = format!("w{w}-{i}");
                let (path, body) = if i % 3 == 2 {
                    (
                        format!("/api/customers/{customer}/interactions"),
                        json!({"kind": "call", "text": format!("call {key}"), "external_id": key}),
                    )
                } else {
                    let lines: Vec<Value> = (0..LINES)
                        .map(|l| json!({"amount": 10 + l, "cost": 1, "category": format!("c{l}")}))
                        .collect();
                    (
                        format!("/api/customers/{customer}/orders"),
                        json!({"order_ref": key, "ordered_on": "2024-03-01", "lines": lines}),
                    )
                };
                match http.call("POST", &path, Some(&body)).await {
                    Ok((StatusCode::CREATED, _)) => {
                        let mut a = acked.lock().unwrap();
                        if i % 3 == 2 {
                            a.interactions.push((customer, key));
                        } else {
                            a.orders.push((customer, key));
                        }
                    }
                    Ok((status, body)) => panic!("a write got {status}: {body}"),
                    // The server was killed: this write was never acknowledged.
                    Err(_) => return,
                }
            }
        }));
    }
    // Let the writers get going, then kill the server in the middle of their writes.
    let started = Instant::now();
    while acked.lock().unwrap().orders.len() < 40 {
        assert!(started.elapsed() < WAIT, "too few writes acknowledged");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    server.kill9();
    for w in writers {
        w.await.unwrap();
    }
    let acked = std::mem::take(&mut *acked.lock().unwrap());

    let (server, port) = start_server(&db).await;
    let http = Http::new(port, &token);
    for (customer, order_ref) in &acked.orders {
        let (s, o) = http
            .call(
                "GET",
                &format!("/api/customers/{customer}/orders/{order_ref}"),
                None,
            )
            .await
            .unwrap();
        assert_eq!(
            s,
            StatusCode::OK,
            "acknowledged order {order_ref} lost: {o}"
        );
        assert_eq!(o["lines"].as_array().unwrap().len(), LINES, "{o}");
    }
    let mut stored_interactions = Vec::new();
    for customer in &customers {
        let mut after = String::new();
        loop {
            let (s, page) = http
                .call(
                    "GET",
                    &format!("/api/customers/{customer}/interactions?limit=500{after}"),
                    None,
                )
                .await
                .unwrap();
            assert_eq!(s, StatusCode::OK, "{page}");
            for i in page["items"].as_array().unwrap() {
                stored_interactions
                    .push((*customer, i["external_id"].as_str().unwrap().to_string()));
            }
            match page["next"].as_str() {
                Some(n) => after = format!("&after={n}"),
                None => break,
            }
        }
    }
    for a in &acked.interactions {
        assert!(
            stored_interactions.contains(a),
            "acknowledged interaction {a:?} lost"
        );
    }
    // No half-written order: every stored order, acknowledged or not, has all its lines.
    let mut after = String::new();
    let mut orders = 0;
    loop {
        let (s, page) = http
            .call("GET", &format!("/api/orders?limit=500{after}"), None)
            .await
            .unwrap();
        assert_eq!(s, StatusCode::OK, "{page}");
        for o in page["items"].as_array().unwrap() {
            orders += 1;
            assert_eq!(
                o["lines"].as_array().unwrap().len(),
                LINES,
                "a half-written order: {o}"
            );
        }
        match page["next"].as_str() {
            Some(n) => after = format!("&after={n}"),
            None => break,
        }
    }
    assert!(orders >= acked.orders.len());
    eprintln!(
        "kill -9 ({kind:?}): {} orders and {} interactions acknowledged, all present; {orders} orders stored, all whole",
        acked.orders.len(),
        acked.interactions.len()
    );
    server.kill9();
    patron_store::testing::discard_database(kind, &db).await;
}

// ---------------------------------------------------------------------------------------------
// PostgreSQL stopped and started under load

/// A throwaway PostgreSQL cluster this test can stop and start.
struct Cluster {
    bin: PathBuf,
    dir: tempfile::TempDir,
    port: u16,
    as_postgres: bool,
}

impl Cluster {
    /// `None` when PostgreSQL is not installed and skipping it was asked for.
    fn create() -> Option<Cluster> {
        let Some(bin) = pg_bin() else {
            // Panics in CI and unless PATRON_SKIP_POSTGRES=1; otherwise says the test was skipped.
            patron_store::testing::skip_postgres("PostgreSQL (initdb, pg_ctl) not found");
            return None;
        };
        let as_postgres = running_as_root();
        let dir = tempfile::tempdir().unwrap();
        if as_postgres {
            let ok = Command::new("chown")
                .args(["postgres"])
                .arg(dir.path())
                .status()
                .unwrap()
                .success();
            assert!(ok, "chown of the cluster directory");
        }
        let c = Cluster {
            bin,
            dir,
            port: free_port(),
            as_postgres,
        };
        let data = c.data();
        c.run(
            "initdb",
            &[
                "-D",
                &data,
                "-U",
                "patron",
                "--auth=trust",
                "-E",
                "UTF8",
                "--locale=C.UTF-8",
            ],
        );
        c.start();
        Some(c)
    }

    fn data(&self) -> String {
        self.dir.path().join("data").to_string_lossy().into_owned()
    }

    fn url(&self) -> String {
        format!("postgres://patron@127.0.0.1:{}/postgres", self.port)
    }

    fn run(&self, tool: &str, args: &[&str]) {
        let exe = self.bin.join(tool);
        let mut cmd = if self.as_postgres {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(&exe);
            c
        } else {
            Command::new(&exe)
        };
        let out = cmd.args(args).output().unwrap();
        assert!(
            out.status.success(),
            "{tool} {args:?} failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }

    fn start(&self) {
        let log = self.dir.path().join("server.log");
        let opts = format!(
            "-c listen_addresses=127.0.0.1 -p {} -k {} -c fsync=off -c max_connections=50",
            self.port,
            self.dir.path().display()
        );
        self.run(
            "pg_ctl",
            &[
                "-D",
                &self.data(),
                "-l",
                &log.to_string_lossy(),
                "-w",
                "-o",
                &opts,
                "start",
            ],
        );
    }

    fn stop(&self) {
        self.run("pg_ctl", &["-D", &self.data(), "-m", "fast", "-w", "stop"]);
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let exe = self.bin.join("pg_ctl");
        let data = self.data();
        let args = ["-D", data.as_str(), "-m", "immediate", "stop"];
        let _ = if self.as_postgres {
            Command::new("runuser")
                .args(["-u", "postgres", "--"])
                .arg(&exe)
                .args(args)
                .output()
        } else {
            Command::new(&exe).args(args).output()
        };
    }
}

fn pg_bin() -> Option<PathBuf> {
    let on_path = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .find(|d| d.join("initdb").is_file() && d.join("pg_ctl").is_file())
    });
    on_path.or_else(|| {
        let mut found: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
            .ok()?
            .filter_map(|e| e.ok().map(|e| e.path().join("bin")))
            .filter(|d| d.join("initdb").is_file())
            .collect();
        found.sort();
        found.pop()
    })
}

/// PostgreSQL refuses to run as root: then the cluster runs as the `postgres` user (as in
/// `scripts/with-postgres.sh`).
fn running_as_root() -> bool {
    let uid = Command::new("id").arg("-u").output().unwrap();
    let root = String::from_utf8_lossy(&uid.stdout).trim() == "0";
    if root {
        let exists = Command::new("id")
            .arg("postgres")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .unwrap()
            .success();
        if !exists {
            let ok = Command::new("useradd")
                .args(["--system", "--no-create-home", "postgres"])
                .status()
                .unwrap()
                .success();
            assert!(ok, "useradd postgres");
        }
    }
    root
}

#[derive(Default)]
struct Seen {
    ok: usize,
    unavailable: usize,
    slowest_503: Duration,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_restart_under_load() {
    let Some(cluster) = Cluster::create() else {
        return;
    };
    let db = cluster.url();
    let token = admin_token(&db).await;
    let (mut server, port) = start_server(&db).await;
    let http = Http::new(port, &token);
    let (s, c) = http
        .call("POST", "/api/customers", Some(&json!({"name": "Load"})))
        .await
        .unwrap();
    assert_eq!(s, StatusCode::CREATED, "{c}");
    let customer = c["id"].as_i64().unwrap();

    let seen = Arc::new(Mutex::new(Seen::default()));
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut load = Vec::new();
    for w in 0..4 {
        let (http, seen, stop) = (http.clone(), seen.clone(), stop.clone());
        load.push(tokio::spawn(async move {
            let mut i = 0;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                i += 1;
                let started = Instant::now();
                let (s, body) = if w % 2 == 0 {
                    http.call("GET", "/api/customers?limit=5", None).await
                } else {
                    let body = json!({"kind": "call", "text": format!("load {w}-{i}")});
                    http.call(
                        "POST",
                        &format!("/api/customers/{customer}/interactions"),
                        Some(&body),
                    )
                    .await
                }
                .expect("the server keeps answering");
                let took = started.elapsed();
                {
                    let mut seen = seen.lock().unwrap();
                    match s {
                        StatusCode::OK | StatusCode::CREATED => seen.ok += 1,
                        StatusCode::SERVICE_UNAVAILABLE => {
                            assert_eq!(body["code"], "unavailable", "{body}");
                            seen.unavailable += 1;
                            seen.slowest_503 = seen.slowest_503.max(took);
                        }
                        other => panic!("while PostgreSQL restarts: {other}: {body}"),
                    }
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }));
    }
    let started = Instant::now();
    while seen.lock().unwrap().ok == 0 {
        assert!(started.elapsed() < WAIT, "the load does not run");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    cluster.stop();
    let down = Instant::now();
    while seen.lock().unwrap().unavailable < 8 {
        assert!(down.elapsed() < WAIT, "no 503 while PostgreSQL is down");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (s, body) = http.call("GET", "/api/health", None).await.unwrap();
    assert_eq!(s, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    cluster.start();
    let ok_before = seen.lock().unwrap().ok;
    let up = Instant::now();
    while seen.lock().unwrap().ok < ok_before + 20 {
        assert!(
            up.elapsed() < WAIT,
            "the server did not recover after PostgreSQL came back"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for l in load {
        l.await.unwrap();
    }
    let (s, body) = http.call("GET", "/api/health", None).await.unwrap();
    assert_eq!(s, StatusCode::OK, "{body}");
    assert!(
        server.0.try_wait().unwrap().is_none(),
        "the same server process recovered"
    );
    let seen = seen.lock().unwrap();
    eprintln!(
        "PostgreSQL restart under load: {} answered, {} 503 (slowest {:?}), recovered {:?} after the restart",
        seen.ok, seen.unavailable, seen.slowest_503, up.elapsed()
    );
    server.kill9();
}
