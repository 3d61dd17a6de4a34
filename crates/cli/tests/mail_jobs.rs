//! Surveys by mail and payment reminders through the real SMTP sink (`scripts/with-smtp.sh`),
//! on both backends: surveys sent from the card, the API and after a resolved ticket (CLI),
//! the signed answer link recording a score once; reminders once per step of the schedule,
//! none after payment, each on the customer's timeline. And a `kill -9` of `patron serve`
//! between "sending" and "sent" (the mail worker's test hook `PATRON_TEST_MAIL_PAUSE`): no
//! message lost, and a message the SMTP server had accepted goes out once more at most, with
//! the same Message-ID (the README's at-least-once rule).

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use chrono::{Days, Utc};
use common::sink::{header, received, sink};
use common::web::{user, Server};
use hyper::StatusCode;
use patron_domain::receivable::{InstalmentInput, InvoiceInput, PaymentInput};
use patron_domain::{CustomerInput, InteractionKind, Money};
use patron_store::testing::{discard_database, fresh_database_url};
use patron_store::{BackendKind, NewMail, PageRequest, Role, Store};

const PUBLIC: &str = "https://crm.example.com";

fn patron(db: &str, args: &[&str], env: &[(&str, &str)]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_patron"))
        .args(["--database", db])
        .args(args)
        .env_remove("PATRON_SMTP_URL")
        .env_remove("PATRON_MAIL_FROM")
        .env_remove("PATRON_PUBLIC_URL")
        .env_remove("PATRON_TEST_MAIL_PAUSE")
        .envs(env.iter().copied())
        .output()
        .expect("running patron")
}

fn ok(o: Output) -> String {
    assert!(
        o.status.success(),
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn tag(what: &str) -> String {
    format!(
        "{what}{}x{}",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos(),
        std::process::id()
    )
}

/// `patron serve` on a free port, sending the outbox through the sink (`pause`: the mail
/// worker's test hook), its standard error piped.
fn serve(db: &str, smtp: &str, pause: Option<&str>) -> Child {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut c = Command::new(env!("CARGO_BIN_EXE_patron"));
    c.args(["--database", db, "serve", "--refresh-at", "off"])
        .args(["--addr", &format!("127.0.0.1:{port}")])
        .env("PATRON_SMTP_URL", smtp)
        .env("PATRON_MAIL_FROM", "Shop <crm@example.com>")
        .env("PATRON_PUBLIC_URL", PUBLIC)
        .env_remove("PATRON_TEST_MAIL_PAUSE")
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    if let Some(p) = pause {
        c.env("PATRON_TEST_MAIL_PAUSE", p);
    }
    c.spawn().unwrap()
}

/// Waits (at most 60 s) until the server's mail test hook says it paused.
fn wait_for_pause(child: &mut Child) -> String {
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines() {
            let Ok(line) = line else { break };
            if line.contains("mail test hook: paused") {
                let _ = tx.send(line);
            }
        }
    });
    rx.recv_timeout(Duration::from_secs(60))
        .expect("the mail worker did not reach its test hook within 60 s")
}

/// Waits (at most 60 s) until nothing is queued or sending.
async fn wait_until_sent(store: &Store) {
    let started = Instant::now();
    loop {
        let c = store.outbox_counts(None).await.unwrap();
        if c.queued == 0 && c.sending == 0 {
            return;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "not sent within 60 s: {c:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn kill_nine(mut child: Child) {
    // SIGKILL on Unix: no shutdown code runs.
    child.kill().unwrap();
    child.wait().unwrap();
}

async fn customer(store: &Store, name: &str, email: Option<String>) -> i64 {
    store
        .create_customer(
            CustomerInput {
                name: name.into(),
                email,
                ..Default::default()
            },
            "test",
        )
        .await
        .unwrap()
        .id
}

/// The path of the score link `score` in a survey mail's text (`/s/TOKEN`).
fn link(body: &str, score: i32) -> String {
    body.lines()
        .find(|l| {
            l.split([':', ' ']).next() == Some(score.to_string().as_str()) && l.contains("/s/")
        })
        .and_then(|l| l.split(PUBLIC).nth(1))
        .unwrap_or_else(|| panic!("no link for {score} in {body}"))
        .to_string()
}

async fn surveys_and_reminders(kind: BackendKind) {
    let Some((smtp, sink_dir)) = sink() else {
        return;
    };
    let Some(db) = fresh_database_url(kind).await else {
        return;
    };
    patron_app::mail::configure(patron_app::mail::Delivery {
        smtp: None,
        public_url: Some(PUBLIC.into()),
    });
    let store = Store::connect(&db).await.unwrap();
    let t = tag("sv");
    let ann_mail = format!("ann.{t}@example.com");
    let ann = customer(&store, "Ann", Some(ann_mail.clone())).await;
    let bob = customer(&store, "Bob", None).await;
    let mia = user(&store, "mia", Role::Manager).await;
    let server = Server::start(&store).await;
    let http = &server.http;
    let cookie = http.login("mia", "mia-password-1", "/").await;

    // On demand: the card's button (NPS in Chinese) and the API (defaults: CSAT, English).
    let a = http
        .post_form(
            &cookie,
            &format!("/customers/{ann}"),
            &format!("/customers/{ann}/surveys/send"),
            &[("kind", "nps"), ("lang", "zh")],
        )
        .await;
    assert_eq!(a.status, StatusCode::SEE_OTHER, "{}", a.body);
    assert!(a.location().contains("ok=survey_sent"), "{}", a.location());
    let a = http
        .post_form(
            &cookie,
            &format!("/customers/{bob}"),
            &format!("/customers/{bob}/surveys/send"),
            &[("kind", "csat"), ("lang", "en")],
        )
        .await;
    assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(a.body.contains("no e-mail address"), "{}", a.body);
    let (_, secret) = store.create_token(mia, "surveys").await.unwrap();
    let bearer = format!("Bearer {secret}");
    let a = http
        .send_with(
            "POST",
            &format!("/api/customers/{ann}/surveys/send"),
            &[("authorization", &bearer)],
            None,
        )
        .await;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.body);
    let api: serde_json::Value = serde_json::from_str(&a.body).unwrap();
    assert_eq!(api["kind"], "csat");
    assert_eq!(api["lang"], "en");
    assert_eq!(api["answered_at"], serde_json::Value::Null);

    // A ticket resolved (here through the CLI, with mail configured) sends its survey, once.
    let smtp_env = [
        ("PATRON_SMTP_URL", smtp.as_str()),
        ("PATRON_MAIL_FROM", "Shop <crm@example.com>"),
        ("PATRON_PUBLIC_URL", PUBLIC),
    ];
    let ann_ref = ann.to_string();
    ok(patron(
        &db,
        &[
            "ticket",
            "open",
            &ann_ref,
            "--kind",
            "question",
            "--subject",
            "Parcel",
        ],
        &[],
    ));
    let out = patron(&db, &["ticket", "resolve", &ann_ref, "1"], &smtp_env);
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("survey"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    ok(out);
    // Reopened and resolved again: the ticket's survey is not sent twice.
    ok(patron(&db, &["ticket", "reopen", &ann_ref, "1"], &[]));
    ok(patron(
        &db,
        &["ticket", "resolve", &ann_ref, "1"],
        &smtp_env,
    ));
    // Through the API, as the setting says (this test process sends no mail itself: the
    // default would be off).
    let out = ok(patron(
        &db,
        &["mail", "settings", "mail.survey_after_resolve=on"],
        &[],
    ));
    assert_eq!(out.trim(), "mail.survey_after_resolve = on");
    let bad = patron(&db, &["mail", "settings", "mail.reminder_days=soon"], &[]);
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("mail.reminder_days"));
    let resolve = |ticket: i64| {
        let path = format!("/api/customers/{ann}/tickets/{ticket}/resolve");
        let bearer = bearer.clone();
        async move {
            http.send_with("POST", &path, &[("authorization", &bearer)], None)
                .await
        }
    };
    for n in [2, 3] {
        ok(patron(
            &db,
            &[
                "ticket",
                "open",
                &ann_ref,
                "--kind",
                "repair",
                "--subject",
                "Tap",
            ],
            &[],
        ));
        if n == 3 {
            ok(patron(
                &db,
                &["mail", "settings", "mail.survey_after_resolve=off"],
                &[],
            ));
        }
        let a = resolve(n).await;
        assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    }
    let requests = store.survey_requests(ann).await.unwrap();
    assert!(requests.iter().any(|r| r.ticket_id == Some(2)));
    assert!(
        !requests.iter().any(|r| r.ticket_id == Some(3)),
        "off: none"
    );
    assert_eq!(requests.len(), 4, "{requests:?}");
    let ticket_survey = requests
        .iter()
        .find(|r| r.ticket_id == Some(1))
        .expect("the resolved ticket's survey")
        .clone();
    assert_eq!(ticket_survey.requested_by, "system");

    // Reminders: instalment 1 is 8 days overdue (step 7), instalment 2 due in 2 days (step
    // -3); Bob's overdue invoice has no address to go to.
    let today = Utc::now().date_naive();
    let inv = store
        .create_invoice(
            ann,
            InvoiceInput {
                number: Some("INV-1".into()),
                order_ref: None,
                issued_on: today - Days::new(20),
                due_on: today + Days::new(2),
                amount: Money(30_000),
                instalments: vec![
                    InstalmentInput {
                        due_on: today - Days::new(8),
                        amount: Money(10_000),
                    },
                    InstalmentInput {
                        due_on: today + Days::new(2),
                        amount: Money(20_000),
                    },
                ],
            },
        )
        .await
        .unwrap();
    store
        .create_invoice(
            bob,
            InvoiceInput {
                number: Some("INV-2".into()),
                order_ref: None,
                issued_on: today - Days::new(20),
                due_on: today - Days::new(1),
                amount: Money(5_000),
                instalments: vec![],
            },
        )
        .await
        .unwrap();
    // Cy's invoice was due yesterday (step 0); it is paid before the reminder goes out.
    let cy_mail = format!("cy.{t}@example.com");
    let cy = customer(&store, "Cy", Some(cy_mail.clone())).await;
    let cy_inv = store
        .create_invoice(
            cy,
            InvoiceInput {
                number: Some("INV-3".into()),
                order_ref: None,
                issued_on: today - Days::new(20),
                due_on: today - Days::new(1),
                amount: Money(4_000),
                instalments: vec![],
            },
        )
        .await
        .unwrap();
    let out = ok(patron(&db, &["mail", "reminders"], &[]));
    assert!(out.starts_with("3 reminders queued"), "{out}");
    assert!(out.contains("1 skipped"), "{out}");
    let out = ok(patron(&db, &["mail", "reminders"], &[]));
    assert!(
        out.starts_with("0 reminders queued, 3 sent before"),
        "{out}"
    );
    // Three days on, instalment 2 is due (step 0); instalment 1 stays at step 7.
    let later = (today + Days::new(5)).to_string();
    let out = ok(patron(&db, &["mail", "reminders", "--date", &later], &[]));
    assert!(
        out.starts_with("1 reminders queued, 2 sent before"),
        "{out}"
    );
    let out = ok(patron(&db, &["mail", "reminders", "--date", &later], &[]));
    assert!(out.starts_with("0 reminders queued"), "{out}");

    store
        .record_payment(
            cy,
            PaymentInput {
                invoice_id: Some(cy_inv.id),
                paid_on: today,
                amount: Money(4_000),
                reference: None,
            },
        )
        .await
        .unwrap();

    // `patron serve` sends the outbox through the sink.
    let server_process = serve(&db, &smtp, None);
    wait_until_sent(&store).await;
    kill_nine(server_process);
    let got = received(&sink_dir, &ann_mail);
    let subject_has = |needle: &str| {
        got.iter()
            .filter(|m| header(m, "Subject").is_some_and(|s| s.contains(needle)))
            .count()
    };
    assert_eq!(got.len(), 7, "4 surveys and 3 reminders");
    assert_eq!(subject_has("Payment reminder"), 3);
    assert_eq!(subject_has("How did we do"), 3);
    let c = store.outbox_counts(None).await.unwrap();
    assert_eq!((c.sent, c.failed), (7, 1), "{c:?}");
    assert!(received(&sink_dir, &cy_mail).is_empty(), "paid: not sent");
    let withheld = store.outbox(Some("failed"), 10).await.unwrap();
    assert!(
        withheld[0]
            .last_error
            .as_deref()
            .unwrap_or("")
            .contains("paid"),
        "{withheld:?}"
    );
    let timeline = store
        .list_interactions(
            Some(ann),
            Some(InteractionKind::Email),
            &PageRequest::default(),
        )
        .await
        .unwrap()
        .items;
    let reminders: Vec<_> = timeline
        .iter()
        .filter(|i| i.text.contains("Payment reminder"))
        .collect();
    assert_eq!(reminders.len(), 3, "{timeline:?}");
    assert!(reminders.iter().all(|i| i.by.as_deref() == Some("system")));
    assert!(reminders
        .iter()
        .any(|i| i.text.contains("instalment 1 of invoice INV-1")));

    // The ticket survey's links: opening one records nothing; its button records it once.
    let mail = store
        .outbox_mail(&format!("survey:{}", ticket_survey.id))
        .await
        .unwrap()
        .unwrap();
    let four = link(&mail.body_text, 4);
    let two = link(&mail.body_text, 2);
    let a = http.send("GET", &four, "", None).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    assert!(a.body.contains("Send my answer"), "{}", a.body);
    assert!(store.surveys(ann).await.unwrap().is_empty());
    let a = http
        .send("POST", &four, "", Some(&[("comment", "Quick and kind")]))
        .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    assert!(
        a.body.contains("Thank you! Your answer is recorded."),
        "{}",
        a.body
    );
    let a = http.send("POST", &two, "", Some(&[("comment", "")])).await;
    assert_eq!(a.status, StatusCode::OK);
    assert!(a.body.contains("answered already"), "{}", a.body);
    assert!(a.body.contains("4 – satisfied"), "{}", a.body);
    let a = http.send("POST", &four, "", Some(&[("comment", "")])).await;
    assert!(a.body.contains("answered already"), "{}", a.body);
    let surveys = store.surveys(ann).await.unwrap();
    assert_eq!(surveys.len(), 1, "{surveys:?}");
    assert_eq!(surveys[0].score, 4);
    assert_eq!(surveys[0].ticket_id, Some(1));
    assert_eq!(surveys[0].comment.as_deref(), Some("Quick and kind"));
    assert_eq!(store.satisfaction(ann).await.unwrap().figure, Some(4.0));
    let r = store
        .survey_request(ticket_survey.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(r.survey_id, Some(surveys[0].id));
    // A link whose signature was changed answers nothing.
    let mut forged = four.clone();
    let last = forged.pop().unwrap();
    forged.push(if last == '0' { '1' } else { '0' });
    let a = http
        .send("POST", &forged, "", Some(&[("comment", "")]))
        .await;
    assert_eq!(a.status, StatusCode::NOT_FOUND);
    // The Chinese survey's page is in Chinese, whatever the browser.
    let zh = requests.iter().find(|r| r.lang == "zh").unwrap();
    let zh_mail = store
        .outbox_mail(&format!("survey:{}", zh.id))
        .await
        .unwrap()
        .unwrap();
    let a = http
        .send("GET", &link(&zh_mail.body_text, 9), "", None)
        .await;
    assert!(a.body.contains("提交回答"), "{}", a.body);

    // Paid: no reminder at any later step.
    store
        .record_payment(
            ann,
            PaymentInput {
                invoice_id: Some(inv.id),
                paid_on: today,
                amount: Money(30_000),
                reference: None,
            },
        )
        .await
        .unwrap();
    let much_later = (today + Days::new(40)).to_string();
    let out = ok(patron(
        &db,
        &["mail", "reminders", "--date", &much_later],
        &[],
    ));
    assert!(
        out.starts_with("0 reminders queued, 0 sent before"),
        "{out}"
    );

    server.stop().await;
    store.close().await;
    discard_database(kind, &db).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn surveys_and_reminders_sqlite() {
    surveys_and_reminders(BackendKind::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn surveys_and_reminders_postgres() {
    surveys_and_reminders(BackendKind::Postgres).await;
}

async fn kill_nine_between_sending_and_sent(kind: BackendKind) {
    let Some((smtp, sink_dir)) = sink() else {
        return;
    };
    let Some(db) = fresh_database_url(kind).await else {
        return;
    };
    let store = Store::connect(&db).await.unwrap();
    let t = tag("k9");
    let (one, two) = (
        format!("one.{t}@example.com"),
        format!("two.{t}@example.com"),
    );
    let mail = |to: &str| NewMail {
        message_key: format!("test:{to}"),
        customer_id: None,
        recipient: to.into(),
        kind: "test".into(),
        subject: "Kill test".into(),
        body_text: "hello".into(),
        body_html: None,
        headers: Default::default(),
    };
    assert_eq!(
        store
            .enqueue_mail(&[mail(&one), mail(&two)], "test")
            .await
            .unwrap(),
        2
    );
    // Sending stops once `sending` was recorded and a stopped sender's rows are taken back
    // after 10 minutes: the test ages the claim instead of waiting.
    let age_claims = || async {
        store
            .raw_execute(
                "UPDATE outbox SET claimed_at = '2000-01-01 00:00:00+00:00' WHERE state = 'sending'",
            )
            .await
            .unwrap()
    };

    // 1. Killed after claiming, before the SMTP server saw anything.
    let mut s = serve(&db, &smtp, Some("before_send"));
    let said = wait_for_pause(&mut s);
    kill_nine(s);
    assert!(said.contains("before_send"), "{said}");
    let c = store.outbox_counts(None).await.unwrap();
    assert_eq!(c.sent, 0, "{c:?}");
    assert!(c.sending >= 1, "{c:?}");
    assert!(received(&sink_dir, &one).is_empty());
    assert!(received(&sink_dir, &two).is_empty());
    age_claims().await;

    // 2. Restarted, killed after the server accepted the first message, before "sent".
    let mut s = serve(&db, &smtp, Some("after_send"));
    let said = wait_for_pause(&mut s);
    kill_nine(s);
    assert!(said.contains("after_send"), "{said}");
    let first = store.outbox(None, 10).await.unwrap();
    let sent_one = received(&sink_dir, &one).len() + received(&sink_dir, &two).len();
    assert_eq!(sent_one, 1, "{first:?}");
    assert!(first.iter().all(|m| m.state != "sent"), "{first:?}");
    age_claims().await;

    // 3. Restarted for good: both sent; the one in flight at the kill went out twice, with
    // the same Message-ID; the other once. Nothing lost.
    let s = serve(&db, &smtp, None);
    wait_until_sent(&store).await;
    kill_nine(s);
    let (got_one, got_two) = (received(&sink_dir, &one), received(&sink_dir, &two));
    let mut copies = [got_one.len(), got_two.len()];
    copies.sort();
    assert_eq!(copies, [1, 2], "at most one duplicate, no loss");
    let twice = if got_one.len() == 2 {
        &got_one
    } else {
        &got_two
    };
    assert_eq!(
        header(&twice[0], "Message-ID"),
        header(&twice[1], "Message-ID")
    );
    assert!(header(&twice[0], "Message-ID").is_some());
    let rows = store.outbox(None, 10).await.unwrap();
    assert!(rows.iter().all(|m| m.state == "sent"), "{rows:?}");
    store.close().await;
    discard_database(kind, &db).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_nine_between_sending_and_sent_sqlite() {
    kill_nine_between_sending_and_sent(BackendKind::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_nine_between_sending_and_sent_postgres() {
    kill_nine_between_sending_and_sent(BackendKind::Postgres).await;
}
