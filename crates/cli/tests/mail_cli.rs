//! `patron campaign mail`, `patron mail test`, `patron mail outbox` and the outbox worker of
//! `patron serve`, through the SMTP sink that `scripts/with-smtp.sh` starts (skipped without it,
//! except under `CI`, where a missing sink fails): a sender killed between "sending" and "sent"
//! loses nothing, and the restarted server delivers the message once.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use patron_store::Store;

fn patron(db: &str, args: &[&str], env: &[(&str, &str)]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_patron"))
        .args(["--database", db])
        .args(args)
        .env_remove("PATRON_SMTP_URL")
        .env_remove("PATRON_MAIL_FROM")
        .env_remove("PATRON_PUBLIC_URL")
        .envs(env.iter().copied())
        .output()
        .expect("running patron")
}

fn sink() -> Option<(String, std::path::PathBuf)> {
    match (
        std::env::var("PATRON_TEST_SMTP_URL"),
        std::env::var("PATRON_TEST_SMTP_DIR"),
    ) {
        (Ok(u), Ok(d)) if !u.is_empty() && !d.is_empty() => Some((u, d.into())),
        _ => {
            if std::env::var("CI").is_ok_and(|v| !v.is_empty()) {
                panic!(
                    "PATRON_TEST_SMTP_URL is not set and CI is set: run under scripts/with-smtp.sh"
                );
            }
            eprintln!("SKIPPED: no SMTP sink (run under scripts/with-smtp.sh)");
            None
        }
    }
}

/// The messages in the sink whose envelope recipient contains `needle`.
fn received(dir: &std::path::Path, needle: &str) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| {
            let p = e.unwrap().path();
            (p.extension().is_some_and(|x| x == "eml"))
                .then(|| std::fs::read_to_string(&p).unwrap_or_default())
        })
        .filter(|m| {
            m.lines()
                .take_while(|l| l.starts_with("X-Sink-Rcpt-To:"))
                .any(|l| l.contains(needle))
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn campaign_mail_survives_a_killed_sender_and_goes_out_once() {
    let Some((url, sink_dir)) = sink() else {
        return;
    };
    let tag = format!(
        "c{}x{}",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos(),
        std::process::id()
    );
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("patron.db");
    let db = db.to_str().unwrap();
    let csv = dir.path().join("c.csv");
    std::fs::write(
        &csv,
        format!(
            "number,name,email,marketing_opt_out\n\
             C1,Ann,ann.{tag}@example.com,false\n\
             C2,Bob,bob.{tag}@example.com,true\n\
             C3,Cy,,false\n"
        ),
    )
    .unwrap();
    let ok = |o: &std::process::Output| {
        assert!(
            o.status.success(),
            "{}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        )
    };
    ok(&patron(
        db,
        &["import", "customers", csv.to_str().unwrap()],
        &[],
    ));
    ok(&patron(
        db,
        &[
            "campaign",
            "add",
            "Winter",
            "--cost",
            "0",
            "--start",
            "2026-12-01",
        ],
        &[],
    ));
    let public = [("PATRON_PUBLIC_URL", "https://crm.example.com")];
    let o = patron(db, &["campaign", "mail", "1", "--preview"], &public);
    ok(&o);
    assert!(String::from_utf8_lossy(&o.stderr).contains("1 recipients"));
    let o = patron(db, &["campaign", "mail", "1"], &[]);
    assert!(!o.status.success(), "no public URL: refused");
    let o = patron(
        db,
        &["campaign", "mail", "1", "--subject", "Hi {nme}"],
        &public,
    );
    assert!(String::from_utf8_lossy(&o.stderr).contains("unknown merge field"));
    let o = patron(db, &["campaign", "mail", "1"], &public);
    ok(&o);
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("1 messages queued"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );

    // Without a configuration nothing is sent, and the command says so.
    let o = patron(db, &["mail", "test", &format!("me.{tag}@example.com")], &[]);
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("not configured"));
    let smtp = [
        ("PATRON_SMTP_URL", url.as_str()),
        ("PATRON_MAIL_FROM", "Shop <crm@example.com>"),
    ];
    let o = patron(
        db,
        &["mail", "test", &format!("me.{tag}@example.com")],
        &smtp,
    );
    ok(&o);
    assert!(String::from_utf8_lossy(&o.stdout).contains("answered \"250"));
    assert_eq!(received(&sink_dir, &format!("me.{tag}")).len(), 1);

    // A sender claimed the campaign message and was killed before recording the outcome.
    let store = Store::connect(db).await.unwrap();
    assert_eq!(store.claim_due_mail(10).await.unwrap().len(), 1);
    store
        .raw_execute(
            "UPDATE outbox SET claimed_at = '2000-01-01 00:00:00+00:00' WHERE state = 'sending'",
        )
        .await
        .unwrap();
    let o = patron(db, &["mail", "outbox"], &[]);
    assert!(String::from_utf8_lossy(&o.stdout).contains("0 queued, 1 sending, 1 sent"));

    // The restarted server requeues it and sends it, once.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut server = Command::new(env!("CARGO_BIN_EXE_patron"))
        .args(["--database", db, "serve", "--refresh-at", "off"])
        .args(["--addr", &format!("127.0.0.1:{port}")])
        .envs(smtp)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let started = Instant::now();
    let key = "campaign:1:1";
    loop {
        let m = store.outbox_mail(key).await.unwrap().unwrap();
        if m.state == "sent" {
            break;
        }
        if started.elapsed() > Duration::from_secs(30) {
            let _ = server.kill();
            panic!("not sent within 30 s: {m:?}");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let _ = server.kill();
    let _ = server.wait();
    let got = received(&sink_dir, &format!("ann.{tag}"));
    assert_eq!(got.len(), 1);
    assert!(got[0].contains("List-Unsubscribe-Post: List-Unsubscribe=One-Click"));
    assert!(received(&sink_dir, &format!("bob.{tag}")).is_empty());
    let o = patron(db, &["mail", "outbox", "--state", "sent"], &[]);
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        out.contains("0 queued, 0 sending, 2 sent, 0 failed"),
        "{out}"
    );
    assert!(out.contains(&format!("ann.{tag}@example.com")), "{out}");

    // The campaign counts its mail; the sent message is on Ann's timeline.
    let o = patron(db, &["campaign", "show", "1"], &[]);
    ok(&o);
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        out.contains("0 queued, 1 sent, 0 failed, 0 unsubscribed"),
        "{out}"
    );
    let timeline = store
        .list_interactions(
            Some(1),
            Some(patron_domain::InteractionKind::Email),
            &patron_store::PageRequest::default(),
        )
        .await
        .unwrap()
        .items;
    assert_eq!(timeline.len(), 1, "{timeline:?}");
    let o = patron(db, &["mail", "digest"], &[]);
    ok(&o);
    assert!(
        String::from_utf8_lossy(&o.stdout).contains("0 notification messages and 0 digests queued")
    );
    store.close().await;
}
