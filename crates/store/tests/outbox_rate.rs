//! The outbox's sending rate shared by several processes on one database (migration 0025):
//! rated claims from two stores (two connection pools, as two `patron serve` processes have)
//! racing for the same minute claim no more than the limit together, every attempt counts
//! (sent, retried or failed, rated or not), and an attempt leaves the count after a minute.
//! The end-to-end test through SMTP is in crates/mail/tests/rate_across_processes.rs.

use std::collections::BTreeMap;

use patron_store::testing::fresh_store;
use patron_store::{BackendKind, NewMail, Store};

fn mail(i: usize) -> NewMail {
    NewMail {
        message_key: format!("rate:{i}"),
        customer_id: None,
        recipient: format!("r{i}@example.com"),
        kind: "test".into(),
        subject: "Rate".into(),
        body_text: "hello".into(),
        body_html: None,
        headers: BTreeMap::new(),
    }
}

fn minute() -> chrono::Duration {
    chrono::Duration::minutes(1)
}

/// Ages every attempt beyond the window, as if a minute had passed.
async fn a_minute_passes(store: &Store) {
    store
        .raw_execute("UPDATE outbox SET attempted_at = '2000-01-01 00:00:00+00:00' WHERE attempted_at IS NOT NULL")
        .await
        .unwrap();
}

async fn rated_claims_keep_to_the_limit_together(kind: BackendKind) {
    let Some(one) = fresh_store(kind).await else {
        return;
    };
    let two = Store::connect(one.url()).await.unwrap();
    let n = 60;
    let mails: Vec<NewMail> = (0..n).map(mail).collect();
    assert_eq!(one.enqueue_mail(&mails, "t").await.unwrap(), n as u64);

    // 16 claims at once, half through each store, each asking for up to 50 of a limit of 10:
    // 10 claimed in all, none twice.
    let per_minute = 10;
    let mut tasks = Vec::new();
    for i in 0..16 {
        let s: Store = if i % 2 == 0 {
            (*one).clone()
        } else {
            two.clone()
        };
        tasks.push(tokio::spawn(async move {
            s.claim_due_mail_within_rate(50, per_minute, 0)
                .await
                .unwrap()
        }));
    }
    let mut ids = Vec::new();
    for t in tasks {
        ids.extend(t.await.unwrap().into_iter().map(|m| m.id));
    }
    ids.sort();
    let claimed = ids.len();
    ids.dedup();
    assert_eq!((claimed, ids.len()), (10, 10));
    assert_eq!(one.recent_mail_attempts(minute()).await.unwrap(), 10);
    assert!(two
        .claim_due_mail_within_rate(50, per_minute, 0)
        .await
        .unwrap()
        .is_empty());

    // The outcome does not take an attempt off the count: sent, queued again, failed.
    let (first, rest) = ids.split_first().unwrap();
    one.mark_mail_sent(*first, "<x@example.com>", "250 ok")
        .await
        .unwrap();
    one.mark_mail_failed(rest[0], "421 try later", false)
        .await
        .unwrap();
    one.mark_mail_failed(rest[1], "550 no such user", true)
        .await
        .unwrap();
    assert_eq!(two.recent_mail_attempts(minute()).await.unwrap(), 10);
    assert!(one
        .claim_due_mail_within_rate(50, per_minute, 0)
        .await
        .unwrap()
        .is_empty());

    // A minute later the budget is back; an unrated claim (`patron mail send`, a test
    // message) is not limited but counts.
    a_minute_passes(&one).await;
    assert_eq!(one.recent_mail_attempts(minute()).await.unwrap(), 0);
    assert_eq!(one.claim_due_mail(3).await.unwrap().len(), 3);
    assert_eq!(
        two.claim_due_mail_within_rate(50, per_minute, 0)
            .await
            .unwrap()
            .len(),
        7
    );
    // The caller's own count is a floor under the database's (and `limit` a cap).
    a_minute_passes(&one).await;
    assert!(one
        .claim_due_mail_within_rate(50, per_minute, 10)
        .await
        .unwrap()
        .is_empty());
    assert_eq!(
        one.claim_due_mail_within_rate(50, per_minute, 6)
            .await
            .unwrap()
            .len(),
        4
    );
    a_minute_passes(&one).await;
    assert_eq!(
        one.claim_due_mail_within_rate(2, per_minute, 0)
            .await
            .unwrap()
            .len(),
        2
    );
    two.close().await;
    one.discard().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rated_claims_keep_to_the_limit_together_sqlite() {
    rated_claims_keep_to_the_limit_together(BackendKind::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rated_claims_keep_to_the_limit_together_postgres() {
    rated_claims_keep_to_the_limit_together(BackendKind::Postgres).await;
}

/// The worker's count reads the attempt index, not the whole outbox (SQLite: the plan
/// searches it; PostgreSQL, with sequential scans off as on a big table: the plan names it).
async fn the_count_uses_the_attempt_index(kind: BackendKind) {
    use sqlx::Connection;
    let Some(store) = fresh_store(kind).await else {
        return;
    };
    let plan: Vec<String> = match kind {
        BackendKind::Sqlite => {
            let mut c = sqlx::SqliteConnection::connect(&format!("sqlite:{}", store.url()))
                .await
                .unwrap();
            let rows: Vec<(i64, i64, i64, String)> = sqlx::query_as(
                "EXPLAIN QUERY PLAN SELECT COUNT(*) FROM outbox WHERE attempted_at > '2026-01-01T00:00:00+00:00'",
            )
            .fetch_all(&mut c)
            .await
            .unwrap();
            rows.into_iter().map(|r| r.3).collect()
        }
        BackendKind::Postgres => {
            let mut c = sqlx::PgConnection::connect(store.url()).await.unwrap();
            sqlx::query("SET enable_seqscan = off")
                .execute(&mut c)
                .await
                .unwrap();
            sqlx::query_scalar(
                "EXPLAIN SELECT COUNT(*) FROM outbox WHERE attempted_at > '2026-01-01 00:00:00+00'",
            )
            .fetch_all(&mut c)
            .await
            .unwrap()
        }
    };
    assert!(
        plan.iter().any(|l| l.contains("outbox_attempted")),
        "{plan:?}"
    );
    store.discard().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_count_uses_the_attempt_index_sqlite() {
    the_count_uses_the_attempt_index(BackendKind::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_count_uses_the_attempt_index_postgres() {
    the_count_uses_the_attempt_index(BackendKind::Postgres).await;
}
