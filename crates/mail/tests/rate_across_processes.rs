//! `PATRON_MAIL_PER_MINUTE` holds for all the workers on one database together (several
//! `patron serve` processes, issue 19): two workers, each with its own connection pool as two
//! processes have, send no more than the limit in the first minute between them, through the
//! SMTP sink of `scripts/with-smtp.sh` (PATRON_TEST_SMTP_URL, PATRON_TEST_SMTP_DIR), on both
//! backends; a worker started later in that minute sends nothing either. Each worker alone
//! would send the limit (the per-process limit let two send twice the rate).
//!
//! Without PATRON_TEST_SMTP_URL these tests are skipped, except in CI (`CI` set), where they
//! fail.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use patron_mail::{Mailer, SmtpConfig};
use patron_store::testing::fresh_store;
use patron_store::{BackendKind, NewMail, Store};

/// The sink's URL and directory, or `None` (skip) outside CI when there is no sink.
fn sink() -> Option<(String, PathBuf)> {
    match (
        std::env::var("PATRON_TEST_SMTP_URL"),
        std::env::var("PATRON_TEST_SMTP_DIR"),
    ) {
        (Ok(url), Ok(dir)) if !url.is_empty() && !dir.is_empty() => Some((url, dir.into())),
        _ => {
            if std::env::var("CI").is_ok_and(|v| !v.is_empty()) {
                panic!("PATRON_TEST_SMTP_URL and PATRON_TEST_SMTP_DIR are not set, and CI is set: run the tests under scripts/with-smtp.sh");
            }
            eprintln!("SKIPPED: no SMTP sink (run under scripts/with-smtp.sh)");
            None
        }
    }
}

/// A tag unique to this test run, in every address it uses (tests share the sink).
fn tag(kind: BackendKind) -> String {
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("t{t}x{}{kind:?}", std::process::id()).to_ascii_lowercase()
}

/// How many messages the sink received for addresses containing `tag`.
fn received(dir: &PathBuf, tag: &str) -> usize {
    std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| {
            let path = e.ok()?.path();
            (path.extension()? == "eml").then_some(path)
        })
        .filter(|path| {
            String::from_utf8_lossy(&std::fs::read(path).unwrap_or_default())
                .lines()
                .any(|l| {
                    l.to_ascii_lowercase().starts_with("x-sink-rcpt-to:")
                        && l.to_ascii_lowercase().contains(tag)
                })
        })
        .count()
}

fn worker(store: Store, url: &str, per_minute: u32) -> tokio::task::JoinHandle<()> {
    let mailer =
        Mailer::new(SmtpConfig::parse(url, "crm@example.com", Some(per_minute)).unwrap()).unwrap();
    tokio::spawn(patron_mail::run_worker(
        store,
        mailer,
        Duration::from_millis(100),
    ))
}

async fn stop(worker: tokio::task::JoinHandle<()>) {
    worker.abort();
    let _ = worker.await;
}

async fn two_workers_share_the_limit(kind: BackendKind) {
    let Some((url, dir)) = sink() else { return };
    let Some(one) = fresh_store(kind).await else {
        return;
    };
    // A second pool on the same database: what a second `patron serve` process has.
    let two = Store::connect(one.url()).await.unwrap();
    let tag = tag(kind);
    let per_minute = 3;
    let due = 2 * per_minute as usize + 3;
    let mails: Vec<NewMail> = (0..due)
        .map(|i| NewMail {
            message_key: format!("rate:{tag}:{i}"),
            customer_id: None,
            recipient: format!("r{i}.{tag}@example.com"),
            kind: "test".into(),
            subject: "Rate".into(),
            body_text: "hello".into(),
            body_html: None,
            headers: BTreeMap::new(),
        })
        .collect();
    assert_eq!(one.enqueue_mail(&mails, "t").await.unwrap(), due as u64);

    let a = worker((*one).clone(), &url, per_minute);
    let b = worker(two.clone(), &url, per_minute);
    // Long enough for each worker to send its whole per-process budget (a round takes a few
    // milliseconds per message and they poll every 100 ms), far from the end of the minute.
    tokio::time::sleep(Duration::from_secs(4)).await;
    let sent_by_both = received(&dir, &tag);
    let c = one
        .outbox_counts(Some(&format!("rate:{tag}:")))
        .await
        .unwrap();
    assert_eq!(sent_by_both, per_minute as usize, "{c:?}");
    assert_eq!(
        (c.sent, c.sending, c.queued),
        (per_minute as i64, 0, (due - per_minute as usize) as i64)
    );

    // A worker (re)started within the minute remembers it: nothing more goes out.
    stop(b).await;
    let b = worker(two.clone(), &url, per_minute);
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(received(&dir, &tag), per_minute as usize);
    stop(a).await;
    stop(b).await;
    two.close().await;
    one.discard().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_workers_share_the_limit_sqlite() {
    two_workers_share_the_limit(BackendKind::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_workers_share_the_limit_postgres() {
    two_workers_share_the_limit(BackendKind::Postgres).await;
}
