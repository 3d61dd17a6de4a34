//! The rep's workplace on the customer card, through the real session layer over HTTP on both
//! backends: contact persons added (a Chinese name, a birthday), edited and removed; activities
//! logged (a complaint, a promise that becomes a task, a referral); a task added and done; bad
//! input re-shows the card (422) naming the field; another rep's customer is "not found"; the
//! orders and the timeline are paged.

mod common;

use common::web::{user, Server};
use hyper::StatusCode;
use patron_domain::{
    CustomerInput, InteractionInput, InteractionKind, Money, OrderInput, OrderLineInput,
    PurchaseRole,
};
use patron_store::{backend_tests, PageRequest, Role, Store, TaskFilter};

backend_tests!(rep_works_from_the_card);

async fn customer(store: &Store, name: &str, owner: i64) -> i64 {
    store
        .create_customer(
            CustomerInput {
                name: name.into(),
                owner_id: Some(owner),
                ..Default::default()
            },
            "test",
        )
        .await
        .unwrap()
        .id
}

async fn rep_works_from_the_card(store: Store) {
    let ann = user(&store, "ann", Role::Rep).await;
    let bob = user(&store, "bob", Role::Rep).await;
    let acme = customer(&store, "Ann's Acme", ann).await;
    let cathay = customer(&store, "Cathay Trading", ann).await;
    let borealis = customer(&store, "Bob's Borealis", bob).await;
    // 25 orders of two lines each, and 55 interactions: more than a page of each.
    for n in 0..25u32 {
        store
            .create_order(
                acme,
                OrderInput {
                    order_ref: Some(format!("ORD-{n:03}")),
                    ordered_on: chrono::NaiveDate::from_ymd_opt(2024, 1, 1).unwrap()
                        + chrono::Days::new(u64::from(n)),
                    lines: vec![
                        OrderLineInput {
                            category: Some("tea".into()),
                            quantity: 1,
                            amount: Money(1_000),
                            cost: Money(400),
                        },
                        OrderLineInput {
                            category: Some("cups".into()),
                            quantity: 2,
                            amount: Money(500),
                            cost: Money(100),
                        },
                    ],
                },
            )
            .await
            .unwrap();
    }
    for n in 0..55 {
        store
            .create_interaction(
                acme,
                InteractionInput {
                    kind: InteractionKind::Call,
                    occurred_at: Some(
                        "2024-01-01T08:00:00Z"
                            .parse::<chrono::DateTime<chrono::Utc>>()
                            .unwrap()
                            + chrono::Duration::hours(n),
                    ),
                    by: Some("import".into()),
                    contact_id: None,
                    text: format!("old call {n:02}"),
                    external_id: None,
                },
            )
            .await
            .unwrap();
    }

    let server = Server::start(&store).await;
    let http = &server.http;
    let ann_s = http.login("ann", "ann-password-1", "/customers").await;
    let card = format!("/customers/{acme}");

    // The card: owner, the buttons that start the other work, the forms.
    let page = http.send("GET", &card, &ann_s, None).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert!(page.body.contains("id=\"owner\">ann<"), "owner shown");
    for href in [
        format!("/customers/{acme}/orders/new"),
        format!("/work/service?customer=%23{acme}"),
        format!("/work/receivables?customer=%23{acme}"),
    ] {
        assert!(page.body.contains(&href), "a button to {href}");
    }
    assert!(page.body.contains("action=\"/work/pipeline\""));
    // The opportunity button lands on the pipeline page with the customer typed in.
    let r = http
        .post_form(
            &ann_s,
            &card,
            "/work/pipeline",
            &[("customer", &format!("#{acme}")), ("name", "Spring order")],
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert!(r.body.contains(&format!("value=\"#{acme}\"")));
    assert!(r.body.contains("value=\"Spring order\""));
    // Orders: 20 of 25 on the first page, counted as orders (not the 50 lines).
    let orders = page.section("orders");
    assert_eq!(orders.matches("ORD-").count(), 20, "{orders}");
    assert!(orders.contains("ORD-024") && !orders.contains("ORD-004"));
    assert!(page.body.contains("<dd>25</dd>"), "orders to date: 25");
    let next = orders
        .split("id=\"orders-next\" href=\"")
        .nth(1)
        .expect("a next page of orders")
        .split('"')
        .next()
        .unwrap()
        .replace("&amp;", "&");
    let older = http.send("GET", &next, &ann_s, None).await;
    assert_eq!(older.status, StatusCode::OK);
    let orders = older.section("orders");
    assert_eq!(orders.matches("ORD-").count(), 5, "{orders}");
    assert!(orders.contains("ORD-000") && !orders.contains("id=\"orders-next\""));
    // Timeline: 50 of 55, then the rest.
    let timeline = page.section("timeline");
    assert_eq!(timeline.matches("old call").count(), 50);
    let next = timeline
        .split("id=\"timeline-next\" href=\"")
        .nth(1)
        .expect("a next page of the timeline")
        .split('"')
        .next()
        .unwrap()
        .replace("&amp;", "&");
    let older = http.send("GET", &next, &ann_s, None).await;
    assert_eq!(older.section("timeline").matches("old call").count(), 5);
    // A broken cursor shows the first page with a notice, not an error.
    let r = http
        .send(
            "GET",
            &format!("{card}?timeline_after=nonsense"),
            &ann_s,
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);

    // A contact person with a Chinese name and a birthday.
    let r = http
        .post_form(
            &ann_s,
            &card,
            &format!("/customers/{acme}/contacts"),
            &[
                ("name", "王小明"),
                ("title", "采购经理"),
                ("phone", "+86 21 5555 0101"),
                ("email", "wang@example.cn"),
                ("is_primary", "on"),
                ("purchase_role", "decision_maker"),
                ("preferences", "喜欢绿茶 <b>"),
                ("birthday", "1980-05-06"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert!(r
        .location()
        .starts_with(&format!("{card}?ok=contact_added")));
    let contacts = store.contacts(acme).await.unwrap();
    assert_eq!(contacts.len(), 1);
    let c = &contacts[0];
    assert_eq!(c.data.name, "王小明");
    assert!(c.data.is_primary);
    assert_eq!(c.data.purchase_role, Some(PurchaseRole::DecisionMaker));
    assert_eq!(c.data.birthday, "1980-05-06".parse().ok());
    let page = http.send("GET", r.location(), &ann_s, None).await;
    assert!(page.body.contains("Contact person added."));
    let section = page.section("contacts");
    assert!(section.contains("王小明") && section.contains("6 May 1980"));
    assert!(section.contains("喜欢绿茶 &lt;b&gt;"), "escaped");

    // Edited; a bad birthday is refused next to its field, the rest kept as typed.
    let edit = format!("/customers/{acme}/contacts/{}", c.id);
    let r = http
        .post_form(
            &ann_s,
            &card,
            &edit,
            &[("name", "王大明"), ("birthday", "1980-13-40")],
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert!(r.body.contains("Birthday"), "names the field");
    assert!(r.body.contains("value=\"王大明\""), "keeps what was typed");
    assert!(r.body.contains("ORD-024"), "the rest of the card is there");
    assert_eq!(store.contacts(acme).await.unwrap()[0].data.name, "王小明");
    let r = http
        .post_form(
            &ann_s,
            &card,
            &edit,
            &[
                ("name", "王大明"),
                ("title", "总经理"),
                ("purchase_role", "influencer"),
                ("birthday", "1981-02-03"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let c = store.contact(acme, c.id).await.unwrap();
    assert_eq!(c.data.name, "王大明");
    assert_eq!(c.data.title.as_deref(), Some("总经理"));
    assert_eq!(c.data.purchase_role, Some(PurchaseRole::Influencer));
    assert_eq!(c.data.birthday, "1981-02-03".parse().ok());
    assert!(!c.data.is_primary, "the box was not ticked");
    let page = http.send("GET", &card, &ann_s, None).await;
    assert!(page.section("contacts").contains("王大明"));

    // Removed.
    let r = http
        .post_form(
            &ann_s,
            &card,
            &format!("/customers/{acme}/contacts/{}/delete", c.id),
            &[],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert!(store.contacts(acme).await.unwrap().is_empty());

    // A complaint, by the signed-in rep.
    let interactions = format!("/customers/{acme}/interactions");
    let r = http
        .post_form(
            &ann_s,
            &card,
            &interactions,
            &[
                ("kind", "complaint"),
                ("text", "货到时包装破损"),
                ("when", ""),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert!(r.location().contains("ok=logged"));
    let page = http.send("GET", r.location(), &ann_s, None).await;
    assert!(page.body.contains("Activity logged."));
    assert!(page.section("timeline").contains("货到时包装破损"));
    let complaints = store
        .list_interactions(
            Some(acme),
            Some(InteractionKind::Complaint),
            &PageRequest::default(),
        )
        .await
        .unwrap()
        .items;
    assert_eq!(complaints.len(), 1);
    assert_eq!(complaints[0].by.as_deref(), Some("ann"));

    // A promise without a due date: 422 naming the due date, nothing recorded.
    let r = http
        .post_form(
            &ann_s,
            &card,
            &interactions,
            &[("kind", "promise"), ("text", "Send the revised quote")],
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert!(r.body.contains("Due date"), "names the due date");
    assert!(r.body.contains("a promise needs the date it is due"));
    assert!(r.body.contains("Send the revised quote"), "keeps the text");
    let promises = |store: Store| async move {
        store
            .list_interactions(
                Some(acme),
                Some(InteractionKind::Promise),
                &PageRequest::default(),
            )
            .await
            .unwrap()
            .items
            .len()
    };
    assert_eq!(promises(store.clone()).await, 0);

    // With its due date: the card lists the task.
    let r = http
        .post_form(
            &ann_s,
            &card,
            &interactions,
            &[
                ("kind", "promise"),
                ("text", "Send the revised quote"),
                ("due", "2030-01-02T10:00"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert_eq!(promises(store.clone()).await, 1);
    let tasks = store
        .tasks(&TaskFilter {
            customer_id: Some(acme),
            open: Some(true),
            ..TaskFilter::default()
        })
        .await
        .unwrap();
    assert_eq!(tasks.len(), 1);
    assert_eq!(tasks[0].assignee_id, ann);
    let task = tasks[0].id;
    let page = http.send("GET", &card, &ann_s, None).await;
    let section = page.section("tasks");
    assert!(section.contains("Send the revised quote"), "{section}");
    assert!(section.contains(&format!("/customers/{acme}/tasks/{task}/done")));

    // A task by hand; then both done.
    let r = http
        .post_form(
            &ann_s,
            &card,
            &format!("/customers/{acme}/tasks"),
            &[
                ("kind", "call"),
                ("due", ""),
                ("note", "Call about samples"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.body.contains("Due"));
    let r = http
        .post_form(
            &ann_s,
            &card,
            &format!("/customers/{acme}/tasks"),
            &[
                ("kind", "call"),
                ("due", "2030-02-01T09:30"),
                ("note", "Call about samples"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let page = http.send("GET", &card, &ann_s, None).await;
    assert!(page.section("tasks").contains("Call about samples"));
    let r = http
        .post_form(
            &ann_s,
            &card,
            &format!("/customers/{acme}/tasks/{task}/done"),
            &[],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let page = http.send("GET", r.location(), &ann_s, None).await;
    assert!(!page.section("tasks").contains("Send the revised quote"));
    assert!(page.body.contains("Task done."));

    // A referral: the referred customer's card names the referrer.
    let r = http
        .post_form(
            &ann_s,
            &card,
            &interactions,
            &[
                ("kind", "referral"),
                ("text", "Introduced us to Cathay"),
                ("referred", &format!("#{cathay}")),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert_eq!(
        store.customer(cathay).await.unwrap().data.referred_by,
        Some(acme)
    );
    let page = http
        .send("GET", &format!("/customers/{cathay}"), &ann_s, None)
        .await;
    let relations = page.section("relations");
    assert!(
        relations.contains(&format!("href=\"/customers/{acme}\"")),
        "{relations}"
    );
    // The referrer's card lists the customer it brought, by link.
    let page = http.send("GET", &card, &ann_s, None).await;
    assert!(
        page.section("relations")
            .contains(&format!("href=\"/customers/{cathay}\"")),
        "{}",
        page.section("relations")
    );
    assert!(page.section("timeline").contains("Introduced us to Cathay"));
    // A referral of a customer she does not see is refused next to the field.
    let r = http
        .post_form(
            &ann_s,
            &card,
            &interactions,
            &[
                ("kind", "referral"),
                ("text", "Introduced us to Borealis"),
                ("referred", &format!("#{borealis}")),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);

    // Another rep's customer: not found, for the card and for its forms.
    let r = http
        .send("GET", &format!("/customers/{borealis}"), &ann_s, None)
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let page = http.send("GET", &card, &ann_s, None).await;
    let token = page.csrf_of(&format!("/customers/{acme}/contacts"));
    for path in [
        format!("/customers/{borealis}/contacts"),
        format!("/customers/{borealis}/interactions"),
        format!("/customers/{borealis}/tasks"),
    ] {
        let r = http
            .send(
                "POST",
                &path,
                &ann_s,
                Some(&[
                    ("csrf", token.as_str()),
                    ("name", "Intruder"),
                    ("kind", "call"),
                    ("text", "x"),
                    ("note", "x"),
                    ("due", "2030-01-01"),
                ]),
            )
            .await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{path}");
    }
    assert!(store.contacts(borealis).await.unwrap().is_empty());

    // In Chinese, the labels follow.
    let r = http
        .send("GET", &card, &format!("{ann_s}; lang=zh"), None)
        .await;
    assert!(r.body.contains("记录活动") && r.body.contains("添加联系人"));

    server.stop().await;
}
