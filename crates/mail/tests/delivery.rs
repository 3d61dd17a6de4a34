//! Mail through a real SMTP server (the sink that `scripts/with-smtp.sh` starts; its URL and
//! the directory it writes each received message to are PATRON_TEST_SMTP_URL and
//! PATRON_TEST_SMTP_DIR), on both database backends: campaign mail to an audience reaches all
//! but the opted-out and those without an address, each message with both RFC 8058 headers;
//! the one-click unsubscribe opts its customer out (and nobody else), and the next campaign
//! skips them; with the server down mail stays queued and goes once it is back; a message
//! queued twice or left in "sending" by a crash is delivered once, with one Message-ID.
//!
//! Without PATRON_TEST_SMTP_URL these tests are skipped, except in CI (`CI` set), where they
//! fail.

use std::collections::BTreeMap;
use std::path::PathBuf;

use patron_app::mail::{self, MailLang, MailTemplate, Unsubscribed};
use patron_app::Session;
use patron_domain::{CustomerInput, Money};
use patron_mail::{deliver_due, Mailer, SmtpConfig};
use patron_store::{backend_tests, CampaignInput, CustomerFilter, NewMail, Store};

backend_tests!(
    campaign_mail_skips_the_opted_out_and_unsubscribes_in_one_click,
    mail_waits_in_the_outbox_while_the_server_is_down,
    a_message_is_delivered_once_despite_duplicates_and_crashes
);

/// The sink's URL and directory, or `None` (skip) outside CI when there is no sink.
fn sink() -> Option<(String, PathBuf)> {
    match (
        std::env::var("PATRON_TEST_SMTP_URL"),
        std::env::var("PATRON_TEST_SMTP_DIR"),
    ) {
        (Ok(url), Ok(dir)) if !url.is_empty() && !dir.is_empty() => Some((url, dir.into())),
        _ => {
            if std::env::var("CI").is_ok_and(|v| !v.is_empty()) {
                panic!("PATRON_TEST_SMTP_URL and PATRON_TEST_SMTP_DIR are not set, and CI is set: run the tests under scripts/with-smtp.sh (as .ci/run does)");
            }
            eprintln!("SKIPPED: no SMTP sink (run under scripts/with-smtp.sh)");
            None
        }
    }
}

/// A tag unique to this test run, in every address it uses (tests share the sink).
fn tag() -> String {
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("t{t}x{}", std::process::id())
}

fn mailer(url: &str) -> Mailer {
    Mailer::new(SmtpConfig::parse(url, "Patron <crm@example.com>", None).unwrap()).unwrap()
}

/// A parsed message the sink received: envelope recipients and unfolded headers.
#[derive(Debug)]
struct Received {
    rcpt: Vec<String>,
    headers: BTreeMap<String, Vec<String>>,
    body: String,
}

impl Received {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .get(&name.to_ascii_lowercase())
            .and_then(|v| v.first())
            .map(String::as_str)
    }
}

/// The messages the sink received for addresses containing `tag`.
fn received(dir: &PathBuf, tag: &str) -> Vec<Received> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let path = e.unwrap().path();
        if path.extension().is_none_or(|x| x != "eml") {
            continue;
        }
        let raw = String::from_utf8_lossy(&std::fs::read(&path).unwrap()).replace("\r\n", "\n");
        let (head, body) = raw.split_once("\n\n").unwrap_or((&raw, ""));
        let mut lines: Vec<String> = Vec::new();
        for l in head.lines() {
            if l.starts_with([' ', '\t']) {
                if let Some(last) = lines.last_mut() {
                    last.push_str(l.trim_start());
                    continue;
                }
            }
            lines.push(l.to_string());
        }
        let mut r = Received {
            rcpt: vec![],
            headers: BTreeMap::new(),
            body: body.to_string(),
        };
        for l in lines {
            if let Some((k, v)) = l.split_once(':') {
                let (k, v) = (k.trim().to_ascii_lowercase(), v.trim().to_string());
                if k == "x-sink-rcpt-to" {
                    r.rcpt.push(v.clone());
                }
                r.headers.entry(k).or_default().push(v);
            }
        }
        if r.header("Content-Transfer-Encoding")
            .is_some_and(|e| e.eq_ignore_ascii_case("quoted-printable"))
        {
            r.body = quoted_printable(&r.body);
        }
        if r.rcpt.iter().any(|a| a.contains(tag)) {
            out.push(r);
        }
    }
    out
}

/// Decodes a quoted-printable body (soft line breaks and `=XX` escapes).
fn quoted_printable(s: &str) -> String {
    let s = s.replace("=\n", "");
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'=' && i + 2 < b.len() {
            if let Ok(v) =
                u8::from_str_radix(std::str::from_utf8(&b[i + 1..i + 3]).unwrap_or(""), 16)
            {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

async fn customer(store: &Store, name: &str, email: Option<String>, opted_out: bool) -> i64 {
    store
        .create_customer(
            CustomerInput {
                name: name.into(),
                company: Some(format!("{name} Ltd")),
                email,
                marketing_opt_out: opted_out,
                ..Default::default()
            },
            "t",
        )
        .await
        .unwrap()
        .id
}

async fn campaign(store: &Store, name: &str) -> i64 {
    store
        .create_campaign(CampaignInput {
            name: name.into(),
            channel: Some("email".into()),
            cost: Money(0),
            started_on: "2026-12-01".parse().unwrap(),
        })
        .await
        .unwrap()
        .id
}

fn template() -> MailTemplate {
    MailTemplate {
        subject: "Winter offer for {company}".into(),
        body: "Dear {name},\nour winter offer.".into(),
        lang: MailLang::En,
    }
}

const PUBLIC: &str = "https://crm.example.com";

async fn campaign_mail_skips_the_opted_out_and_unsubscribes_in_one_click(store: Store) {
    let Some((url, dir)) = sink() else { return };
    let tag = tag();
    let addr = |who: &str| Some(format!("{who}.{tag}@example.com"));
    let ann = customer(&store, "Ann", addr("ann"), false).await;
    let bob = customer(&store, "Bob", addr("bob"), false).await;
    let _cy = customer(&store, "Cy", addr("cy"), true).await;
    let _dee = customer(&store, "Dee", None, false).await;
    let session = Session::unrestricted("tester");
    let winter = campaign(&store, "Winter").await;

    let sent = mail::send_campaign_mail(
        &store,
        &session,
        winter,
        &CustomerFilter::default(),
        &template(),
        PUBLIC,
    )
    .await
    .unwrap();
    assert_eq!((sent.audience, sent.queued), (2, 2));
    let round = deliver_due(&store, &mailer(&url), 50).await.unwrap();
    assert_eq!(round.sent, 2, "{round:?}");

    let got = received(&dir, &tag);
    let mut to: Vec<String> = got.iter().flat_map(|r| r.rcpt.clone()).collect();
    to.sort();
    assert_eq!(to, vec![addr("ann").unwrap(), addr("bob").unwrap()]);
    let mut links = BTreeMap::new();
    for r in &got {
        let lu = r.header("List-Unsubscribe").expect("List-Unsubscribe");
        assert!(
            lu.starts_with("<https://crm.example.com/u/") && lu.ends_with('>'),
            "{lu}"
        );
        assert_eq!(
            r.header("List-Unsubscribe-Post"),
            Some("List-Unsubscribe=One-Click")
        );
        let link = &lu[1..lu.len() - 1];
        assert!(r.body.contains(link), "the link is in the body: {}", r.body);
        assert!(
            r.header("Subject").unwrap().contains("Ltd"),
            "merged: {r:?}"
        );
        links.insert(r.rcpt[0].clone(), link.to_string());
    }
    let bob_token = links[&addr("bob").unwrap()]
        .rsplit('/')
        .next()
        .unwrap()
        .to_string();

    // A token altered to name another customer opts out nobody.
    let (_, sig) = bob_token.split_once('-').unwrap();
    let forged = format!("{ann}-{sig}");
    assert!(mail::unsubscribe(&store, &forged, None).await.is_err());
    assert!(!store.customer(ann).await.unwrap().data.marketing_opt_out);

    // Bob's one click opts Bob out, audited; a second click changes nothing.
    assert_eq!(
        mail::unsubscribe(&store, &bob_token, Some("10.0.0.9".into()))
            .await
            .unwrap(),
        Unsubscribed::Done
    );
    assert!(store.customer(bob).await.unwrap().data.marketing_opt_out);
    assert!(!store.customer(ann).await.unwrap().data.marketing_opt_out);
    assert_eq!(
        mail::unsubscribe(&store, &bob_token, None).await.unwrap(),
        Unsubscribed::Already
    );
    let audit = store
        .audit_log(&patron_store::AuditFilter {
            customer_id: Some(bob),
            limit: 10,
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(
        audit
            .iter()
            .any(|a| a.actor == "unsubscribe link" && a.ip.as_deref() == Some("10.0.0.9")),
        "{audit:?}"
    );

    // A test send to oneself: the first recipient's message, with a harmless link.
    let me = format!("me.{tag}@example.com");
    let key = mail::test_campaign_mail(
        &store,
        &session,
        winter,
        &CustomerFilter::default(),
        &template(),
        PUBLIC,
        &me,
    )
    .await
    .unwrap();
    assert_eq!(
        deliver_due(&store, &mailer(&url), 50).await.unwrap().sent,
        1
    );
    let mine = received(&dir, &format!("me.{tag}"));
    assert_eq!(mine.len(), 1);
    assert_eq!(
        mine[0].header("List-Unsubscribe"),
        Some("<https://crm.example.com/u/preview>")
    );
    assert!(mine[0].body.contains("Dear Ann"), "{}", mine[0].body);
    assert_eq!(store.outbox_mail(&key).await.unwrap().unwrap().kind, "test");
    assert!(mail::unsubscribe(&store, "preview", None).await.is_err());

    // The next campaign skips Bob.
    let spring = campaign(&store, "Spring").await;
    let sent = mail::send_campaign_mail(
        &store,
        &session,
        spring,
        &CustomerFilter::default(),
        &template(),
        PUBLIC,
    )
    .await
    .unwrap();
    assert_eq!((sent.audience, sent.queued), (1, 1));
    deliver_due(&store, &mailer(&url), 50).await.unwrap();
    let got: Vec<Received> = received(&dir, &tag)
        .into_iter()
        .filter(|r| !r.rcpt.contains(&me))
        .collect();
    assert_eq!(got.len(), 3);
    assert_eq!(
        got.iter()
            .filter(|r| r.rcpt.contains(&addr("bob").unwrap()))
            .count(),
        1
    );
    let counts = store
        .outbox_counts(Some(&format!("campaign:{spring}:")))
        .await
        .unwrap();
    assert_eq!((counts.sent, counts.queued, counts.failed), (1, 0, 0));
}

async fn mail_waits_in_the_outbox_while_the_server_is_down(store: Store) {
    let Some((url, dir)) = sink() else { return };
    let tag = tag();
    let to = format!("eve.{tag}@example.com");
    store
        .enqueue_mail(&[test_mail(&format!("down:{tag}"), &to)], "t")
        .await
        .unwrap();
    // A port nothing listens on: the server is down.
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let down = mailer(&format!("smtp://127.0.0.1:{closed}"));
    let round = deliver_due(&store, &down, 50).await.unwrap();
    assert_eq!((round.sent, round.retried, round.failed), (0, 1, 0));
    let m = store
        .outbox_mail(&format!("down:{tag}"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!((m.state.as_str(), m.attempts), ("queued", 1));
    assert!(m.last_error.is_some());
    assert!(m.next_attempt_at > chrono::Utc::now() + chrono::Duration::seconds(30));

    // Back up: nothing before the back-off has passed, then delivered once.
    let up = mailer(&url);
    assert_eq!(deliver_due(&store, &up, 50).await.unwrap().sent, 0);
    assert!(received(&dir, &tag).is_empty());
    store
        .raw_execute("UPDATE outbox SET next_attempt_at = created_at")
        .await
        .unwrap();
    assert_eq!(deliver_due(&store, &up, 50).await.unwrap().sent, 1);
    assert_eq!(deliver_due(&store, &up, 50).await.unwrap().sent, 0);
    assert_eq!(received(&dir, &tag).len(), 1);
    let m = store
        .outbox_mail(&format!("down:{tag}"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!((m.state.as_str(), m.attempts), ("sent", 2));
    assert!(
        m.smtp_reply.as_deref().unwrap_or("").starts_with("250"),
        "{m:?}"
    );

    // After the last attempt, an error fails the message for good, with the reason.
    store
        .enqueue_mail(&[test_mail(&format!("gone:{tag}"), &to)], "t")
        .await
        .unwrap();
    for _ in 0..=patron_store::RETRY_AFTER.len() {
        store
            .raw_execute("UPDATE outbox SET next_attempt_at = created_at WHERE state = 'queued'")
            .await
            .unwrap();
        deliver_due(&store, &down, 50).await.unwrap();
    }
    let m = store
        .outbox_mail(&format!("gone:{tag}"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(m.state, "failed");
    assert_eq!(m.attempts as usize, patron_store::RETRY_AFTER.len() + 1);
    assert!(m.last_error.is_some());
}

fn test_mail(key: &str, to: &str) -> NewMail {
    NewMail {
        message_key: key.into(),
        customer_id: None,
        recipient: to.into(),
        kind: "test".into(),
        subject: "Test".into(),
        body_text: "Hello".into(),
        body_html: None,
        headers: BTreeMap::new(),
    }
}

async fn a_message_is_delivered_once_despite_duplicates_and_crashes(store: Store) {
    let Some((url, dir)) = sink() else { return };
    let tag = tag();
    let to = format!("fay.{tag}@example.com");
    let key = format!("once:{tag}");
    assert_eq!(
        store
            .enqueue_mail(&[test_mail(&key, &to)], "t")
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        store
            .enqueue_mail(&[test_mail(&key, &to)], "t")
            .await
            .unwrap(),
        0
    );

    // A sender claims it and stops before sending: it stays claimed until the timeout, then
    // goes back to the queue.
    assert_eq!(store.claim_due_mail(10).await.unwrap().len(), 1);
    assert!(store.claim_due_mail(10).await.unwrap().is_empty());
    assert_eq!(
        store
            .requeue_stuck_mail(chrono::Duration::minutes(10))
            .await
            .unwrap(),
        0
    );
    assert_eq!(
        store
            .requeue_stuck_mail(chrono::Duration::zero())
            .await
            .unwrap(),
        1
    );
    let up = mailer(&url);
    assert_eq!(deliver_due(&store, &up, 50).await.unwrap().sent, 1);
    assert_eq!(
        store
            .enqueue_mail(&[test_mail(&key, &to)], "t")
            .await
            .unwrap(),
        0
    );
    assert_eq!(deliver_due(&store, &up, 50).await.unwrap().sent, 0);
    let got = received(&dir, &tag);
    assert_eq!(got.len(), 1);
    let m = store.outbox_mail(&key).await.unwrap().unwrap();
    assert_eq!(got[0].header("Message-ID"), m.smtp_message_id.as_deref());
    assert_eq!(
        m.smtp_message_id.as_deref(),
        Some(patron_mail::message_id(&m, up.config().from()).as_str())
    );

    // A campaign sent twice queues each recipient once.
    let c = customer(&store, "Gus", Some(format!("gus.{tag}@example.com")), false).await;
    let k = campaign(&store, "Twice").await;
    let session = Session::unrestricted("tester");
    for queued in [1, 0] {
        let s = mail::send_campaign_mail(
            &store,
            &session,
            k,
            &CustomerFilter::default(),
            &template(),
            PUBLIC,
        )
        .await
        .unwrap();
        assert_eq!(s.queued, queued);
    }
    assert!(store
        .outbox_mail(&format!("campaign:{k}:{c}"))
        .await
        .unwrap()
        .is_some());
    // Opted out after it was queued: withheld at sending time.
    let token = mail::unsubscribe_token(&store, c).await.unwrap();
    mail::unsubscribe(&store, &token, None).await.unwrap();
    let r = deliver_due(&store, &up, 50).await.unwrap();
    assert_eq!((r.sent, r.failed), (0, 1));
    assert_eq!(received(&dir, &format!("gus.{tag}")).len(), 0);
}

/// The worker sends at most `PATRON_MAIL_PER_MINUTE` messages in a minute; the rest wait.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_worker_keeps_to_the_rate_limit() {
    let Some((url, dir)) = sink() else { return };
    let Some(store) = patron_store::testing::fresh_store(patron_store::BackendKind::Sqlite).await
    else {
        return;
    };
    let tag = tag();
    let mails: Vec<NewMail> = (0..5)
        .map(|i| {
            test_mail(
                &format!("rate:{tag}:{i}"),
                &format!("r{i}.{tag}@example.com"),
            )
        })
        .collect();
    assert_eq!(store.enqueue_mail(&mails, "t").await.unwrap(), 5);
    let mailer = Mailer::new(SmtpConfig::parse(&url, "crm@example.com", Some(2)).unwrap()).unwrap();
    let worker = tokio::spawn(patron_mail::run_worker(
        (*store).clone(),
        mailer,
        std::time::Duration::from_millis(100),
    ));
    tokio::time::sleep(std::time::Duration::from_secs(3)).await;
    worker.abort();
    let _ = worker.await;
    assert_eq!(received(&dir, &tag).len(), 2);
    let c = store
        .outbox_counts(Some(&format!("rate:{tag}:")))
        .await
        .unwrap();
    assert_eq!((c.sent, c.queued), (2, 3));
    store.discard().await;
}
