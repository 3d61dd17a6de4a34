//! E-mail from the web and the API, on both backends, through the SMTP sink that
//! `scripts/with-smtp.sh` starts (skipped without it, except under `CI`): the campaign composer
//! (preview = what the recipient receives, a test only to the user, the send to the audience
//! minus the opted-out with both List-Unsubscribe headers), the campaign's counts after a
//! one-click unsubscribe, each sent message once on its customer's timeline, notifications by
//! mail for the users who want them, and the daily digest once per user and day.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use common::web::{held_order, user, Answer, Server};
use hyper::StatusCode;
use patron_app::mail::{self, Delivery};
use patron_domain::{CustomerInput, InteractionKind, Money};
use patron_mail::{deliver_due, Mailer, SmtpConfig};
use patron_store::{backend_tests, CampaignInput, PageRequest, Role, Store, UserMailSettings};

backend_tests!(
    composing_and_sending_campaign_mail_from_the_web,
    users_get_their_own_mail
);

fn sink() -> Option<(String, PathBuf)> {
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

fn tag() -> String {
    format!(
        "m{}x{}",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos(),
        std::process::id()
    )
}

const PUBLIC: &str = "https://crm.example.com";

/// Every process of this test binary serves mail the same way.
fn configure() {
    mail::configure(Delivery {
        smtp: Some("the test sink".into()),
        public_url: Some(PUBLIC.into()),
    });
}

fn mailer(url: &str) -> Mailer {
    Mailer::new(SmtpConfig::parse(url, "Patron <crm@example.com>", None).unwrap()).unwrap()
}

/// A message the sink received: envelope recipients, headers (unfolded), body (decoded).
#[derive(Debug)]
struct Received {
    rcpt: Vec<String>,
    headers: BTreeMap<String, String>,
    body: String,
}

fn received(dir: &Path, needle: &str) -> Vec<Received> {
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
            match lines.last_mut() {
                Some(last) if l.starts_with([' ', '\t']) => last.push_str(l.trim_start()),
                _ => lines.push(l.to_string()),
            }
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
                r.headers.entry(k).or_insert(v);
            }
        }
        if r.headers
            .get("content-transfer-encoding")
            .is_some_and(|e| e.eq_ignore_ascii_case("quoted-printable"))
        {
            r.body = quoted_printable(&r.body);
        } else if r
            .headers
            .get("content-transfer-encoding")
            .is_some_and(|e| e.eq_ignore_ascii_case("base64"))
        {
            r.body = base64(&r.body);
        }
        if r.rcpt.iter().any(|a| a.contains(needle)) {
            out.push(r);
        }
    }
    out
}

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

fn base64(s: &str) -> String {
    const ABC: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let (mut out, mut acc, mut bits) = (Vec::new(), 0u32, 0);
    for c in s.bytes() {
        let Some(v) = ABC.iter().position(|&a| a == c) else {
            continue;
        };
        acc = (acc << 6) | v as u32;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    String::from_utf8_lossy(&out).replace("\r\n", "\n")
}

/// The text of the element with `id` (HTML entities decoded).
fn text_of(page: &Answer, id: &str) -> String {
    let at = page
        .body
        .find(&format!("id=\"{id}\""))
        .unwrap_or_else(|| panic!("no #{id} in {}", page.body));
    let rest = &page.body[at..];
    let start = rest.find('>').unwrap() + 1;
    let end = rest[start..].find("</").unwrap() + start;
    rest[start..end]
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&amp;", "&")
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

async fn email_timeline(store: &Store, customer: i64) -> Vec<patron_domain::Interaction> {
    store
        .list_interactions(
            Some(customer),
            Some(InteractionKind::Email),
            &PageRequest::default(),
        )
        .await
        .unwrap()
        .items
}

async fn composing_and_sending_campaign_mail_from_the_web(store: Store) {
    let Some((url, dir)) = sink() else { return };
    configure();
    let tag = tag();
    let addr = |who: &str| format!("{who}.{tag}@example.com");
    user(&store, "max", Role::Manager).await;
    let rep = user(&store, "rae", Role::Rep).await;
    let ann = customer(&store, "Ann", Some(addr("ann")), false).await;
    let bob = customer(&store, "Bob", Some(addr("bob")), true).await;
    let _cy = customer(&store, "Cy", None, false).await;
    let dee = customer(&store, "Dee", Some(addr("dee")), false).await;
    let gone = customer(&store, "Gus", Some(addr("gus")), false).await;
    store.archive_customer(gone, "t").await.unwrap();
    let winter = store
        .create_campaign(CampaignInput {
            name: "Winter".into(),
            channel: Some("email".into()),
            cost: Money(0),
            started_on: "2026-12-01".parse().unwrap(),
        })
        .await
        .unwrap()
        .id;

    let server = Server::start(&store).await;
    let http = &server.http;
    let max = http.login("max", "max-password-1", "/my-day").await;
    let rae = http.login("rae", "rae-password-1", "/my-day").await;
    let page_path = format!("/work/campaigns/{winter}/mail");

    // The campaigns list links to the composer; a rep may not open it.
    let list = http.get("/work/campaigns", &max).await;
    assert!(list.body.contains(&format!("href=\"{page_path}\"")));
    let r = http.send("GET", &page_path, &rae, None).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let _ = rep;

    // The composer starts from the default template, in Chinese when asked.
    let page = http.get(&page_path, &max).await;
    assert!(page.body.contains("id=\"composer\""));
    assert!(page.body.contains("News for {company}"));
    let zh = http
        .post_form(
            &max,
            &page_path,
            &page_path,
            &[("do", "load"), ("tlang", "zh")],
        )
        .await;
    assert!(zh.body.contains("我们有新消息"), "{}", zh.body);

    // A test without an address of one's own: nothing is sent, and the page says why.
    let form = |what: &'static str| {
        vec![
            ("do", what),
            ("tlang", "en"),
            ("subject", "Winter offer for {company}"),
            ("body", "Dear {name},\nour winter offer is here.\n{owner}"),
        ]
    };
    let r = http
        .post_form(&max, &page_path, &page_path, &form("test"))
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(
        text_of(&r, "nothing-sent").contains("has no e-mail address"),
        "{}",
        r.body
    );
    assert!(!r.body.contains("patron mail"), "no CLI hint in the web");
    let r = http
        .post_form(
            &max,
            &page_path,
            &page_path,
            &[("do", "preview"), ("subject", "Hi {nme}"), ("body", "x")],
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.body.contains("Unknown merge field"), "{}", r.body);

    // Max sets his address.
    let r = http
        .post_form(
            &max,
            "/settings/mail",
            "/settings/mail",
            &[("email", &addr("max")), ("lang", "en"), ("digest_hour", "")],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);

    // The preview: the first recipient of the audience (Ann), and the audience's size (Ann and
    // Dee: Bob opted out, Cy has no address, Gus is archived).
    let preview = http
        .post_form(&max, &page_path, &page_path, &form("preview"))
        .await;
    assert_eq!(text_of(&preview, "audience"), "2");
    assert_eq!(text_of(&preview, "preview-to"), addr("ann"));
    let p_subject = text_of(&preview, "preview-subject");
    let p_body = text_of(&preview, "preview-body");
    assert_eq!(p_subject, "Winter offer for Ann Ltd");
    assert!(
        p_body.starts_with("Dear Ann,\nour winter offer is here."),
        "{p_body}"
    );

    // The API's preview agrees.
    let (_, token) = store
        .create_token(store.user_by_name("max").await.unwrap().id, "t")
        .await
        .unwrap();
    let bearer = format!("Bearer {token}");
    let api = http
        .send_with(
            "POST",
            &format!("/api/campaigns/{winter}/mail/preview"),
            &[("authorization", &bearer)],
            None,
        )
        .await;
    assert_eq!(api.status, StatusCode::OK, "{}", api.body);
    let v: serde_json::Value = serde_json::from_str(&api.body).unwrap();
    assert_eq!(v["audience"], 2);
    assert_eq!(v["mail"]["subject"], "News for Ann Ltd");

    // A test reaches Max only.
    let r = http
        .post_form(&max, &page_path, &page_path, &form("test"))
        .await;
    assert!(text_of(&r, "done").contains(&addr("max")), "{}", r.body);
    assert_eq!(
        deliver_due(&store, &mailer(&url), 50).await.unwrap().sent,
        1
    );
    assert_eq!(received(&dir, &addr("max")).len(), 1);
    assert!(received(&dir, &addr("ann")).is_empty());

    // Send: first a confirmation with the count, then the send, audited with the audience.
    let r = http
        .post_form(&max, &page_path, &page_path, &form("send"))
        .await;
    assert!(r.body.contains("Send to 2 recipients"), "{}", r.body);
    let token = r.csrf_of(&page_path);
    let mut fields = vec![("csrf", token.as_str()), ("confirm", "2")];
    fields.extend(form("confirm"));
    let r = http.send("POST", &page_path, &max, Some(&fields)).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let audit = store
        .audit_log(&patron_store::AuditFilter {
            action: Some("campaign_mail".into()),
            limit: 10,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(audit.len(), 1);
    assert_eq!(
        (audit[0].actor.as_str(), audit[0].row_count),
        ("max", Some(2))
    );
    let counts = http.get(&page_path, &max).await;
    assert_eq!(text_of(&counts, "count-queued"), "2");

    // Delivered: Ann and Dee, with both headers; what Ann got is what the preview showed.
    assert_eq!(
        deliver_due(&store, &mailer(&url), 50).await.unwrap().sent,
        2
    );
    let got = received(&dir, &addr("ann"));
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].headers["subject"], p_subject);
    assert_eq!(got[0].body.trim_end(), p_body.trim_end());
    let link = got[0].headers["list-unsubscribe"].clone();
    assert!(link.starts_with("<https://crm.example.com/u/"), "{link}");
    assert_eq!(
        got[0].headers["list-unsubscribe-post"],
        "List-Unsubscribe=One-Click"
    );
    assert_eq!(received(&dir, &addr("dee")).len(), 1);
    assert!(received(&dir, &addr("bob")).is_empty());
    assert!(received(&dir, &addr("gus")).is_empty());

    // Each sent message is once on its customer's timeline, by its sender; a repeated "sent"
    // changes nothing.
    let m = store
        .outbox_mail(&format!("campaign:{winter}:{ann}"))
        .await
        .unwrap()
        .unwrap();
    store.mark_mail_sent(m.id, "x", "250 again").await.unwrap();
    let tl = email_timeline(&store, ann).await;
    assert_eq!(tl.len(), 1, "{tl:?}");
    assert_eq!(tl[0].by.as_deref(), Some("max"));
    assert!(tl[0].text.contains("Winter offer for Ann Ltd"));
    assert_eq!(email_timeline(&store, dee).await.len(), 1);
    assert!(email_timeline(&store, bob).await.is_empty());

    // Ann unsubscribes in one click: the campaign counts 2 sent, 1 unsubscribed.
    let token = link
        .trim_matches(['<', '>'])
        .rsplit('/')
        .next()
        .unwrap()
        .to_string();
    let r = http.send("POST", &format!("/u/{token}"), "", None).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let r = http.send("POST", &format!("/u/{token}"), "", None).await;
    assert_eq!(r.status, StatusCode::OK);
    let counts = http.get(&page_path, &max).await;
    assert_eq!(text_of(&counts, "count-sent"), "2");
    assert_eq!(text_of(&counts, "count-queued"), "0");
    assert_eq!(text_of(&counts, "count-unsubscribed"), "1");
    let api = http
        .send_with(
            "GET",
            &format!("/api/campaigns/{winter}/mail"),
            &[("authorization", &bearer)],
            None,
        )
        .await;
    let v: serde_json::Value = serde_json::from_str(&api.body).unwrap();
    assert_eq!(
        (v["sent"].as_i64(), v["unsubscribed"].as_i64()),
        (Some(2), Some(1)),
        "{v}"
    );

    // A second send queues nobody again (Ann opted out, Dee had hers).
    let r = http
        .post_form(&max, &page_path, &page_path, &form("send"))
        .await;
    assert!(r.body.contains("Send to 1 recipients"), "{}", r.body);
    server.stop().await;
}

async fn users_get_their_own_mail(store: Store) {
    let Some((url, dir)) = sink() else { return };
    configure();
    let tag = tag();
    let addr = |who: &str| format!("{who}.{tag}@example.com");
    let ann = user(&store, "ann", Role::Rep).await;
    let bea = user(&store, "bea", Role::Rep).await;
    let max_id = user(&store, "max", Role::Manager).await;
    let max = patron_app::Session::open(&store, store.user(max_id).await.unwrap(), None)
        .await
        .unwrap();
    for (id, who, on, lang) in [(ann, "ann", true, "zh"), (bea, "bea", false, "en")] {
        store
            .set_user_mail_settings(
                id,
                UserMailSettings {
                    email: Some(addr(who)),
                    notify_by_mail: on,
                    digest_hour: Some(7),
                    lang: lang.into(),
                },
            )
            .await
            .unwrap();
    }
    // An address is required to receive anything.
    let e = store
        .set_user_mail_settings(
            bea,
            UserMailSettings {
                email: None,
                notify_by_mail: true,
                ..Default::default()
            },
        )
        .await
        .unwrap_err();
    assert!(e.to_string().contains("email"), "{e}");

    // Max decides a held order of Ann's and one of Bea's.
    for (who, id) in [("ann", ann), ("bea", bea)] {
        let c = store
            .create_customer(
                CustomerInput {
                    name: format!("{who}'s Acme"),
                    owner_id: Some(id),
                    credit_limit: Some(Money(10_000)),
                    ..Default::default()
                },
                "t",
            )
            .await
            .unwrap()
            .id;
        let hold = held_order(&store, c, who).await;
        patron_app::custody::decide_hold(&store, &max, hold, true, Some("good payer"), "")
            .await
            .unwrap();
    }
    let now = chrono::Utc::now();
    assert_eq!(mail::mail_notifications(&store, now).await.unwrap(), 1);
    assert_eq!(mail::mail_notifications(&store, now).await.unwrap(), 0);
    assert_eq!(
        deliver_due(&store, &mailer(&url), 50).await.unwrap().sent,
        1
    );
    let got = received(&dir, &addr("ann"));
    assert_eq!(got.len(), 1);
    assert!(
        got[0].body.contains("max 批准了您挂起的订单 BIG"),
        "{}",
        got[0].body
    );
    assert!(got[0].body.contains("good payer"));
    assert!(received(&dir, &addr("bea")).is_empty());

    // The digest: once per user and day, whatever the number of runs.
    let at_seven = now.date_naive().and_hms_opt(7, 5, 0).unwrap().and_utc();
    assert_eq!(
        mail::mail_digests(&store, at_seven, false).await.unwrap(),
        2
    );
    assert_eq!(
        mail::mail_digests(&store, at_seven, false).await.unwrap(),
        0
    );
    assert_eq!(mail::mail_digests(&store, at_seven, true).await.unwrap(), 0);
    let at_eight = at_seven + chrono::Duration::hours(1);
    assert_eq!(
        mail::mail_digests(&store, at_eight, false).await.unwrap(),
        0
    );
    assert_eq!(
        deliver_due(&store, &mailer(&url), 50).await.unwrap().sent,
        2
    );
    let bea_got = received(&dir, &addr("bea"));
    assert_eq!(bea_got.len(), 1);
    assert!(bea_got[0].headers["subject"].contains("My day"));
    assert!(
        bea_got[0].body.contains("Overdue tasks"),
        "{}",
        bea_got[0].body
    );
    assert_eq!(received(&dir, &addr("ann")).len(), 2);
    let next_day = at_seven + chrono::Duration::days(1);
    assert_eq!(
        mail::mail_digests(&store, next_day, false).await.unwrap(),
        2
    );
}
