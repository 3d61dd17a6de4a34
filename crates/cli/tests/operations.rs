//! Running Patron as an operator would, through the real binary: the demo from a copy of the
//! binary in an empty folder (the CDNOW sample is built in), the configuration file and its
//! precedence (flag > environment > file > default), JSON logs and `/metrics` of a running
//! server, and the generated shell completions and man page.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use patron_store::testing::{discard_database, fresh_database_url};
use patron_store::BackendKind;
use patron_testkit::prometheus::{find, parse_prometheus};

/// The binary with a clean environment for settings: no configuration file found by default
/// (`XDG_CONFIG_HOME` points at `home`, which holds none unless a test writes one).
fn patron(home: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_patron"));
    c.env("XDG_CONFIG_HOME", home.join("xdg"))
        .env("HOME", home)
        .env("USER", "tester")
        .env_remove("DATABASE_URL")
        .env_remove("PATRON_CONFIG")
        .env_remove("PATRON_ADDR")
        .env_remove("PATRON_METRICS_ADDR")
        .env_remove("PATRON_RULES_EVERY")
        .env_remove("PATRON_REFRESH_AT")
        .env_remove("PATRON_SMTP_URL")
        .env_remove("PATRON_MAIL_FROM")
        .env_remove("PATRON_MAIL_PER_MINUTE")
        .env_remove("PATRON_AS")
        .env_remove("PATRON_LOG")
        .env_remove("PATRON_LOG_FORMAT")
        .env_remove("PATRON_SECURE_COOKIES")
        .current_dir(home)
        .stdin(Stdio::null());
    c
}

fn run(c: &mut Command) -> Output {
    c.output().expect("running patron")
}

fn stdout_ok(out: Output) -> String {
    assert!(
        out.status.success(),
        "patron failed: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn stderr_failed(out: Output) -> String {
    assert!(
        !out.status.success(),
        "patron succeeded: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    String::from_utf8(out.stderr).unwrap()
}

/// The line of `config show` for `key`, as (value, source).
fn setting(shown: &str, key: &str) -> (String, String) {
    let line = shown
        .lines()
        .find(|l| l.split_whitespace().next() == Some(key))
        .unwrap_or_else(|| panic!("no {key} in:\n{shown}"));
    let mut words = line.split_whitespace().skip(1);
    let value = words.next().unwrap().to_string();
    let source = words.collect::<Vec<_>>().join(" ");
    (value, source)
}

#[test]
fn demo_runs_from_a_copy_of_the_binary_in_an_empty_folder() {
    let dir = tempfile::tempdir().unwrap();
    let bin = dir.path().join("patron");
    std::fs::copy(env!("CARGO_BIN_EXE_patron"), &bin).unwrap();
    let work = dir.path().join("empty");
    let tmp = dir.path().join("tmp");
    std::fs::create_dir(&work).unwrap();
    std::fs::create_dir(&tmp).unwrap();
    let command = |args: &[&str]| {
        let mut c = Command::new(&bin);
        c.args(args)
            .current_dir(&work)
            .env_remove("CARGO_MANIFEST_DIR")
            .env_remove("DATABASE_URL")
            .env_remove("PATRON_CONFIG")
            .env("XDG_CONFIG_HOME", dir.path().join("xdg"))
            .env("TMPDIR", &tmp)
            .env("PATRON_LOG", "warn")
            .stdin(Stdio::null());
        c
    };
    // No source-tree path is compiled in as the default any more.
    let help = stdout_ok(run(&mut command(&["demo", "--help"])));
    assert!(!help.contains("CDNOW_master.txt"), "{help}");

    let out = run(&mut command(&[
        "demo",
        "--no-serve",
        "--demo-database",
        "demo.db",
    ]));
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    let stdout = stdout_ok(out);
    assert!(stderr.contains("built into patron"), "{stderr}");
    let line = stdout
        .lines()
        .find(|l| l.starts_with("demo database demo.db:"))
        .unwrap_or_else(|| panic!("no summary in:\n{stdout}"));
    let customers: u64 = line
        .split_whitespace()
        .nth(3)
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no customer count in {line}"));
    assert!(customers > 20_000, "{line}");
    assert!(work.join("demo.db").is_file());
    // The decompressed sample was a temporary file, removed again.
    assert_eq!(std::fs::read_dir(&tmp).unwrap().count(), 0);

    // A missing --orders file is named.
    let e = stderr_failed(run(&mut command(&[
        "demo",
        "--no-serve",
        "--orders",
        "nope.txt",
    ])));
    assert!(e.contains("--orders: nope.txt not found"), "{e}");
}

#[test]
fn settings_come_from_flag_then_environment_then_file_then_default() {
    let home = tempfile::tempdir().unwrap();
    let home = home.path();
    let file = home.join("patron.toml");
    std::fs::write(
        &file,
        "database = \"from-file.db\"\nlog_format = \"json\"\noperator = \"ops\"\n\n[serve]\naddr = \"127.0.0.1:7001\"\nrules_every = 5\nrefresh_at = \"03:30\"\ncurrency = \"cny\"\n",
    )
    .unwrap();
    let config = file.to_str().unwrap();

    // Defaults, without any file.
    let shown = stdout_ok(run(patron(home).args(["config", "show"])));
    assert_eq!(
        setting(&shown, "database"),
        ("patron.db".into(), "default".into())
    );
    assert_eq!(
        setting(&shown, "serve.addr"),
        ("127.0.0.1:8080".into(), "default".into())
    );
    assert!(shown.contains("configuration file   (none)"), "{shown}");

    // The file over the defaults.
    let shown = stdout_ok(run(
        patron(home).args(["--config", config, "config", "show"])
    ));
    let from_file = format!("file {config}");
    assert_eq!(
        setting(&shown, "database"),
        ("from-file.db".into(), from_file.clone())
    );
    assert_eq!(
        setting(&shown, "serve.addr"),
        ("127.0.0.1:7001".into(), from_file.clone())
    );
    assert_eq!(setting(&shown, "serve.rules_every").0, "5");
    assert_eq!(
        setting(&shown, "serve.refresh_at"),
        ("03:30".into(), from_file.clone())
    );
    assert_eq!(
        setting(&shown, "operator"),
        ("ops".into(), from_file.clone())
    );
    assert_eq!(
        setting(&shown, "log_format"),
        ("json".into(), from_file.clone())
    );
    assert_eq!(
        setting(&shown, "serve.metrics_addr"),
        ("(none)".into(), "default".into())
    );
    assert_eq!(
        setting(&shown, "serve.currency"),
        ("CNY".into(), from_file.clone())
    );

    // The environment over the file.
    let shown = stdout_ok(run(patron(home)
        .args(["--config", config, "config", "show"])
        .env("DATABASE_URL", "from-env.db")
        .env("PATRON_ADDR", "127.0.0.1:7002")
        .env("PATRON_LOG_FORMAT", "text")
        .env("PATRON_REFRESH_AT", "off")
        .env("PATRON_CURRENCY", "EUR")));
    assert_eq!(
        setting(&shown, "serve.currency"),
        ("EUR".into(), "environment PATRON_CURRENCY".into())
    );
    assert_eq!(
        setting(&shown, "database"),
        ("from-env.db".into(), "environment DATABASE_URL".into())
    );
    assert_eq!(
        setting(&shown, "serve.addr"),
        ("127.0.0.1:7002".into(), "environment PATRON_ADDR".into())
    );
    assert_eq!(
        setting(&shown, "log_format"),
        ("text".into(), "environment PATRON_LOG_FORMAT".into())
    );
    assert_eq!(setting(&shown, "serve.rules_every").1, from_file);
    assert_eq!(
        setting(&shown, "serve.refresh_at"),
        ("off".into(), "environment PATRON_REFRESH_AT".into())
    );

    // The flag over the environment.
    let shown = stdout_ok(run(patron(home)
        .args([
            "--config",
            config,
            "--database",
            "from-flag.db",
            "config",
            "show",
        ])
        .env("DATABASE_URL", "from-env.db")));
    assert_eq!(
        setting(&shown, "database"),
        ("from-flag.db".into(), "flag --database".into())
    );
    let shown = stdout_ok(run(patron(home)
        .args(["--config", config, "--as", "flagged", "config", "show"])
        .env("PATRON_AS", "from-env")));
    assert_eq!(
        setting(&shown, "operator"),
        ("flagged".into(), "flag --as".into())
    );

    // Not only shown: the commands use the same values (each opens and creates its database).
    let export = ["--config", config, "export", "customers"];
    stdout_ok(run(patron(home).args(export)));
    assert!(home.join("from-file.db").is_file());
    stdout_ok(run(patron(home)
        .args(export)
        .env("DATABASE_URL", "from-env.db")));
    assert!(home.join("from-env.db").is_file());
    let mut with_flag = export.to_vec();
    with_flag.extend(["--database", "from-flag.db"]);
    stdout_ok(run(patron(home)
        .args(&with_flag)
        .env("DATABASE_URL", "from-env.db")));
    assert!(home.join("from-flag.db").is_file());

    // PATRON_CONFIG names the file too, and the default location is found without either.
    let shown = stdout_ok(run(patron(home)
        .args(["config", "show"])
        .env("PATRON_CONFIG", config)));
    assert_eq!(setting(&shown, "database").0, "from-file.db");
    let xdg = home.join("xdg").join("patron");
    std::fs::create_dir_all(&xdg).unwrap();
    std::fs::write(xdg.join("patron.toml"), "database = \"xdg.db\"\n").unwrap();
    let shown = stdout_ok(run(patron(home).args(["config", "show"])));
    assert_eq!(setting(&shown, "database").0, "xdg.db");
    assert!(shown.contains("(default location)"), "{shown}");
}

#[test]
fn config_show_masks_passwords_and_bad_files_are_named() {
    let home = tempfile::tempdir().unwrap();
    let home = home.path();
    let file = home.join("patron.toml");
    std::fs::write(
        &file,
        "database = \"postgres://patron:s3cret@127.0.0.1:1/patron\"\n\n[mail]\nsmtp_url = \"smtp://crm:m4ilpass@127.0.0.1:2525\"\nfrom = \"crm@example.com\"\n",
    )
    .unwrap();
    let config = file.to_str().unwrap();
    let shown = stdout_ok(run(
        patron(home).args(["--config", config, "config", "show"])
    ));
    assert!(!shown.contains("s3cret"), "{shown}");
    assert!(!shown.contains("m4ilpass"), "{shown}");
    assert_eq!(
        setting(&shown, "mail.smtp_url"),
        (
            "smtp://crm:****@127.0.0.1:2525".into(),
            format!("file {config}")
        )
    );
    assert_eq!(setting(&shown, "mail.from").0, "crm@example.com");
    assert!(
        shown.contains("postgres://patron:****@127.0.0.1:1/patron"),
        "{shown}"
    );
    let shown = stdout_ok(run(patron(home)
        .args(["config", "show"])
        .env("DATABASE_URL", "postgres://db/patron?password=hunter2")));
    assert!(!shown.contains("hunter2"), "{shown}");

    let e = stderr_failed(run(patron(home).args([
        "--config",
        "missing.toml",
        "config",
        "show",
    ])));
    assert!(e.contains("--config: missing.toml: no such file"), "{e}");
    std::fs::write(&file, "[serve]\ncurrency = \"XYZ\"\n").unwrap();
    let e = stderr_failed(run(
        patron(home).args(["--config", config, "config", "show"])
    ));
    assert!(
        e.contains("serve.currency: unknown currency 'XYZ': use one of USD, CNY"),
        "{e}"
    );
    std::fs::write(&file, "[serve]\naddr = \"nowhere\"\n").unwrap();
    let e = stderr_failed(run(
        patron(home).args(["--config", config, "config", "show"])
    ));
    assert!(e.contains(config) && e.contains("addr"), "{e}");
    std::fs::write(&file, "listen = \"127.0.0.1:1\"\n").unwrap();
    let e = stderr_failed(run(
        patron(home).args(["--config", config, "config", "show"])
    ));
    assert!(e.contains("listen"), "{e}");
    let e = stderr_failed(run(patron(home)
        .args(["config", "show"])
        .env("PATRON_LOG_FORMAT", "xml")));
    assert!(e.contains("PATRON_LOG_FORMAT"), "{e}");
}

#[test]
fn completions_and_man_page_name_the_subcommands() {
    let home = tempfile::tempdir().unwrap();
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        let out = stdout_ok(run(patron(home.path()).args(["completions", shell])));
        for sub in ["demo", "serve", "import", "config"] {
            assert!(out.contains(sub), "{shell} completions lack {sub}");
        }
    }
    let man = stdout_ok(run(patron(home.path()).arg("man")));
    assert!(
        man.starts_with(".ie") || man.contains(".TH patron"),
        "{man}"
    );
    for sub in ["demo", "serve", "import", "completions"] {
        assert!(man.contains(sub), "the man page lacks {sub}");
    }
    let e = stderr_failed(run(patron(home.path()).args(["completions", "cmd"])));
    assert!(e.contains("invalid value 'cmd'"), "{e}");
}

/// One HTTP/1.1 request on a fresh connection; answers the status and the body.
fn http_get(addr: SocketAddr, path: &str) -> (u16, String) {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    let status = answer
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status in {answer}"));
    let (_, body) = answer.split_once("\r\n\r\n").unwrap_or((&answer, ""));
    // The body may come chunked: take the lines that are not chunk sizes.
    let body = if answer
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        dechunk(body)
    } else {
        body.to_string()
    };
    (status, body)
}

fn dechunk(mut body: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = body.split_once("\r\n") {
        let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if n == 0 {
            break;
        }
        out.push_str(&rest[..n]);
        body = rest[n..].strip_prefix("\r\n").unwrap_or(&rest[n..]);
    }
    out
}

/// `serve --metrics-addr` with JSON logs: every log line is a JSON object, the addresses are in
/// its fields, a request is counted under its route template and status in `/metrics`, which
/// parses as Prometheus text, and the main address has no `/metrics`.
fn serve_logs_json_and_counts_requests(kind: BackendKind) {
    let home = tempfile::tempdir().unwrap();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let Some(url) = runtime.block_on(fresh_database_url(kind)) else {
        return;
    };
    let mut child = patron(home.path())
        .args(["--database", &url, "serve", "--addr", "127.0.0.1:0"])
        .args(["--metrics-addr", "127.0.0.1:0"])
        .env("PATRON_LOG_FORMAT", "json")
        .env("PATRON_LOG", "info")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Standard error, line by line, from a thread (which also drains it until the server ends,
    // so that it never blocks on a full pipe).
    let (tx, rx) = std::sync::mpsc::channel();
    let stderr = child.stderr.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let (mut main, mut metrics) = (None, None);
    let mut logged = Vec::new();
    while main.is_none() || metrics.is_none() {
        let Ok(line) = rx.recv_timeout(Duration::from_secs(60)) else {
            let _ = child.kill();
            panic!("no JSON log of both addresses:\n{}", logged.join("\n"));
        };
        logged.push(line.clone());
        // Log lines only: the new database's admin password is printed here too, as text.
        if !line.starts_with('{') {
            continue;
        }
        let event: serde_json::Value = serde_json::from_str(&line)
            .unwrap_or_else(|e| panic!("a log line is not JSON ({e}): {line}"));
        assert!(
            event["level"].is_string() && event["timestamp"].is_string(),
            "{line}"
        );
        let message = event["fields"]["message"].as_str().unwrap_or_default();
        let address = event["fields"]["address"]
            .as_str()
            .map(|a| a.parse::<SocketAddr>().unwrap());
        if message.starts_with("metrics at") {
            metrics = address;
        } else if message.starts_with("Patron listening") {
            main = address;
        }
    }
    let (main, metrics) = (main.unwrap(), metrics.unwrap());

    let (status, _) = http_get(main, "/api/customers/77");
    assert_eq!(status, 401);
    let (status, _) = http_get(main, "/metrics");
    assert_eq!(
        status, 404,
        "/metrics must not be served on the main address"
    );
    let (status, text) = http_get(metrics, "/metrics");
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(status, 200, "{text}");
    let samples = parse_prometheus(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
    let counted = find(
        &samples,
        "patron_http_requests_total",
        &[
            ("method", "GET"),
            ("route", "/api/customers/{id}"),
            ("status", "401"),
        ],
    )
    .unwrap_or_else(|| panic!("the request is not counted:\n{text}"));
    assert_eq!(counted.value, 1.0, "{text}");
    assert!(!text.contains("/api/customers/77"), "{text}");
    assert!(
        find(
            &samples,
            "patron_http_requests_total",
            &[("route", "unmatched"), ("status", "404")]
        )
        .is_some(),
        "{text}"
    );
    assert!(
        find(
            &samples,
            "patron_http_request_duration_seconds_count",
            &[("route", "/api/customers/{id}")]
        )
        .is_some(),
        "{text}"
    );
    assert!(find(&samples, "patron_db_pool_connections", &[("state", "max")]).is_some());
    runtime.block_on(discard_database(kind, &url));
}

#[test]
fn serve_logs_json_and_counts_requests_sqlite() {
    serve_logs_json_and_counts_requests(BackendKind::Sqlite);
}

#[test]
fn serve_logs_json_and_counts_requests_postgres() {
    serve_logs_json_and_counts_requests(BackendKind::Postgres);
}
