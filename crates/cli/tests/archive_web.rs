//! Archive instead of delete, in the browser (through the real session layer over HTTP, on both
//! backends) and on the command line: a rep archives their own customer from its card (gone
//! from the list, its orders kept, the card says "Archived on ... by ann" with Restore, listed
//! at /customers?archived=1) and restores it, but is never offered a purge and is refused one;
//! an admin's purge asks for a reason and then deletes for good; the Chinese card is worded in
//! Chinese. `patron customer archive|restore|purge` does the same from the shell, the purge
//! refusing to run without `--reason`.

mod common;

use std::process::{Command, Output};

use common::web::{user, Server};
use hyper::StatusCode;
use patron_domain::{CustomerInput, Money, OrderInput, OrderLineInput};
use patron_store::{backend_tests, Role, Store};

backend_tests!(archive_restore_and_purge_from_the_card);

async fn archive_restore_and_purge_from_the_card(store: Store) {
    let ann = user(&store, "ann", Role::Rep).await;
    user(&store, "root", Role::Admin).await;
    let c = store
        .create_customer(
            CustomerInput {
                name: "Zanzibar Trading".into(),
                owner_id: Some(ann),
                ..Default::default()
            },
            "test",
        )
        .await
        .unwrap()
        .id;
    store
        .create_order(
            c,
            OrderInput {
                order_ref: Some("Z-1".into()),
                ordered_on: "2024-05-01".parse().unwrap(),
                lines: vec![OrderLineInput {
                    category: None,
                    quantity: 1,
                    amount: Money(3_000_000),
                    cost: Money(0),
                }],
            },
        )
        .await
        .unwrap();
    let server = Server::start(&store).await;
    let http = &server.http;
    let card = format!("/customers/{c}");
    let rep = http.login("ann", "ann-password-1", "/customers").await;

    // The rep's card offers Archive, never Purge.
    let page = http.get(&card, &rep).await;
    assert!(page.body.contains("id=\"archive-form\""), "{}", page.body);
    assert!(!page.body.contains("purge-form"));
    assert!(!page.body.contains("id=\"archived\""));
    let r = http
        .post_form(&rep, &card, &format!("{card}/archive"), &[])
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let page = http.get(&card, &rep).await;
    let banner = &page.body[page.body.find("id=\"archived\"").unwrap()..];
    assert!(
        banner.contains("Archived on") && banner.contains("by ann"),
        "{banner}"
    );
    assert!(page.body.contains(&format!("action=\"{card}/restore\"")));
    assert!(!page.body.contains("archive-form"));
    // Gone from the list and the search, listed among the archived, its order kept.
    assert!(!http.get("/customers", &rep).await.body.contains("Zanzibar"));
    assert!(!http
        .get("/customers?q=zanzibar", &rep)
        .await
        .body
        .contains("Zanzibar"));
    let archived = http.get("/customers?archived=1", &rep).await;
    assert!(
        archived.body.contains("Archived customers"),
        "{}",
        archived.body
    );
    assert!(archived.body.contains("Zanzibar"));
    assert_eq!(store.counts().await.unwrap().1, 1);
    // A purge posted by hand is refused to the rep (403), and nothing is lost.
    let token = page.csrf_of(&format!("{card}/restore"));
    let r = http
        .send(
            "POST",
            &format!("{card}/purge"),
            &rep,
            Some(&[("csrf", &token), ("reason", "because")]),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.body);
    assert!(store.customer(c).await.is_ok());
    // Restored: back in the list.
    let r = http
        .post_form(&rep, &card, &format!("{card}/restore"), &[])
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert!(http.get("/customers", &rep).await.body.contains("Zanzibar"));
    assert!(!http.get(&card, &rep).await.body.contains("id=\"archived\""));

    // The admin's card offers Purge, with a reason; the Chinese card is in Chinese.
    let admin = http.login("root", "root-password-1", "/customers").await;
    let page = http.get(&card, &admin).await;
    assert!(page.body.contains("purge-form") && page.body.contains("name=\"reason\""));
    let zh = http
        .send_with(
            "GET",
            &card,
            &[("cookie", &format!("{admin}; lang=zh"))],
            None,
        )
        .await;
    assert!(
        zh.body.contains("归档") && zh.body.contains("永久删除"),
        "{}",
        zh.body
    );
    let r = http
        .post_form(&admin, &card, &format!("{card}/purge"), &[("reason", " ")])
        .await;
    assert!(r.status.is_client_error(), "{}", r.status);
    assert!(r.body.contains("reason"), "{}", r.body);
    assert!(store.customer(c).await.is_ok());
    let r = http
        .post_form(
            &admin,
            &card,
            &format!("{card}/purge"),
            &[("reason", "erasure request 9")],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert!(r.body.contains("id=\"purged\""));
    assert!(store.customer(c).await.is_err());
    assert_eq!(store.counts().await.unwrap().1, 0);
    server.stop().await;
}

fn patron(db: &str, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_patron"))
        .args(["--database", db, "--as", "root"])
        .args(args)
        .output()
        .expect("running patron")
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

#[tokio::test]
async fn customer_archive_restore_and_purge_on_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("patron.db");
    let db = db.to_str().unwrap();
    {
        let store = Store::connect(db).await.unwrap();
        store
            .create_customer(
                CustomerInput {
                    name: "Zanzibar Trading".into(),
                    number: Some("Z1".into()),
                    ..Default::default()
                },
                "test",
            )
            .await
            .unwrap();
        store.close().await;
    }
    let o = patron(db, &["customer", "archive", "Z1"]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("archived customer"), "{}", text(&o));
    let o = patron(db, &["customer", "restore", "Z1"]);
    assert!(o.status.success(), "{}", text(&o));
    // No purge without a reason (clap refuses the missing flag; the use case a blank one).
    for args in [
        &["customer", "purge", "Z1"][..],
        &["customer", "purge", "Z1", "--reason", "  "][..],
    ] {
        let o = patron(db, args);
        assert!(!o.status.success(), "{args:?}: {}", text(&o));
        assert!(text(&o).contains("reason"), "{}", text(&o));
    }
    let o = patron(
        db,
        &["customer", "purge", "Z1", "--reason", "erasure request 3"],
    );
    assert!(o.status.success(), "{}", text(&o));
    let store = Store::connect(db).await.unwrap();
    assert!(store.customer_by_number("Z1").await.is_err());
    let audit = store
        .audit_log(&patron_store::AuditFilter {
            action: Some("purge".into()),
            limit: 100,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(audit.len(), 1);
    assert_eq!(audit[0].actor, "root");
    assert!(audit[0]
        .detail
        .as_deref()
        .unwrap()
        .contains("erasure request 3"));
    store.close().await;
}
