//! The rep's workplace over HTTP on both backends, through the real session layer: a new
//! customer (with the duplicate check), the customer picker, My day's tasks, and the inbox
//! with the header's unread badge.

mod common;

use chrono::{Days, NaiveTime, Utc};
use common::web::{held_order, user, Answer, Server};
use hyper::StatusCode;
use patron_domain::{CustomerInput, Money};
use patron_store::{backend_tests, Role, Store, TaskFilter};

backend_tests!(the_reps_workplace);

fn created_id(r: &Answer) -> i64 {
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let loc = r.location();
    let rest = loc.strip_prefix("/customers/").expect(loc);
    let (id, q) = rest.split_once('?').expect(loc);
    assert_eq!(q, "saved=1");
    id.parse().unwrap()
}

async fn the_reps_workplace(store: Store) {
    let ann = user(&store, "ann", Role::Rep).await;
    let bob = user(&store, "bob", Role::Rep).await;
    user(&store, "max", Role::Manager).await;
    let borealis = store
        .create_customer(
            CustomerInput {
                name: "Bob's Borealis".into(),
                phone: Some("021 5550 1234".into()),
                owner_id: Some(bob),
                ..Default::default()
            },
            "test",
        )
        .await
        .unwrap()
        .id;

    let server = Server::start(&store).await;
    let http = &server.http;
    let ann_s = http.login("ann", "ann-password-1", "/my-day").await;
    let max_s = http.login("max", "max-password-1", "/my-day").await;

    // The header offers My day, a new customer and the picker's script; no unread badge yet.
    let home = http.get("/my-day", &ann_s).await;
    assert!(home.body.contains("href=\"/my-day\""), "{}", home.body);
    assert!(home.body.contains("href=\"/customers/new\""));
    assert!(home.body.contains("src=\"/static/picker.js\""));
    assert_eq!(home.unread_badge(), None);
    let js = http.send("GET", "/static/picker.js", "", None).await;
    assert_eq!(js.status, StatusCode::OK);
    assert!(js.body.contains("data-picker"));

    // A new customer with a Chinese name: Ann's, audited, then its card.
    let r = http
        .post_form(
            &ann_s,
            "/customers/new",
            "/customers/new",
            &[
                ("name", "张三贸易"),
                ("company", "上海张三有限公司"),
                ("phone", "138 0013 8000"),
                ("email", "zhang@example.cn"),
                ("tags", "重点，华东"),
                ("status", "intent"),
                ("custom_fields", "颜色=红\nsize=12"),
            ],
        )
        .await;
    let zhang = created_id(&r);
    let c = store.customer(zhang).await.unwrap();
    assert_eq!(c.data.name, "张三贸易");
    assert_eq!(c.data.owner_id, Some(ann));
    assert_eq!(c.data.tags, vec!["重点".to_string(), "华东".to_string()]);
    assert_eq!(c.data.custom_fields.len(), 2);
    let card = http
        .get(&format!("/customers/{zhang}?saved=1"), &ann_s)
        .await;
    assert!(card.body.contains("张三贸易"));

    // Bad values come back next to their fields.
    let r = http
        .post_form(
            &ann_s,
            "/customers/new",
            "/customers/new",
            &[("name", " "), ("phone", "abc")],
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert!(r.body.contains("id=\"err-n-name\""), "{}", r.body);
    assert!(r.body.contains("id=\"err-n-phone\""), "{}", r.body);

    // The same phone, written differently: a warning, nothing created until "anyway".
    let before = store
        .list_visible_customers(
            &Default::default(),
            &patron_store::Visibility::All,
            Default::default(),
            &patron_store::PageRequest {
                limit: Some(100),
                after: None,
            },
        )
        .await
        .unwrap()
        .items
        .len();
    let second = [
        ("name", "李四"),
        ("phone", "+86 138-0013-8000"),
        ("status", "lead"),
    ];
    let r = http
        .post_form(&ann_s, "/customers/new", "/customers/new", &second)
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert!(r.body.contains("id=\"duplicates\""), "{}", r.body);
    assert!(r.body.contains("张三贸易"));
    assert!(r.body.contains(&format!("href=\"/customers/{zhang}\"")));
    let count = |store: Store| async move {
        store
            .list_visible_customers(
                &Default::default(),
                &patron_store::Visibility::All,
                Default::default(),
                &patron_store::PageRequest {
                    limit: Some(100),
                    after: None,
                },
            )
            .await
            .unwrap()
            .items
            .len()
    };
    assert_eq!(count(store.clone()).await, before, "not created yet");
    // "Create anyway" posts the same values again with anyway=1.
    let token = r.csrf_of("/customers/new");
    let mut again = vec![("csrf", token.as_str()), ("anyway", "1")];
    again.extend_from_slice(&second);
    let r = http
        .send("POST", "/customers/new", &ann_s, Some(&again))
        .await;
    let li = created_id(&r);
    assert_ne!(li, zhang);
    assert_eq!(count(store.clone()).await, before + 1);

    // The picker: by phone, only what Ann sees; JSON; too short a query answers [].
    let r = http.get("/customers/pick?q=13800138000", &ann_s).await;
    assert!(r.headers["content-type"]
        .to_str()
        .unwrap()
        .starts_with("application/json"));
    let found: serde_json::Value = serde_json::from_str(&r.body).unwrap();
    let ids: Vec<i64> = found
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_i64().unwrap())
        .collect();
    assert!(ids.contains(&zhang) && ids.contains(&li), "{found}");
    assert!(found[0]["name"].as_str().is_some());
    for q in ["02155501234", "Borealis"] {
        let r = http.get(&format!("/customers/pick?q={q}"), &ann_s).await;
        assert_eq!(r.body, "[]", "{q}: Bob's customer is not Ann's");
    }
    let r = http.get("/customers/pick?q=Borealis", &max_s).await;
    assert!(r.body.contains(&format!("\"id\":{borealis}")), "{}", r.body);
    let r = http.get("/customers/pick?q=1", &ann_s).await;
    assert_eq!(r.body, "[]");
    // The work forms' customer fields carry the picker.
    let p = http.get("/work/pipeline", &ann_s).await;
    assert!(p.body.contains("data-picker"), "{}", p.body);

    // My day: a task added appears (overdue: due at midnight), snooze moves it, done removes it.
    let today = Utc::now().date_naive();
    let due = format!("{today}T00:00");
    let zhang_ref = format!("#{zhang}");
    let r = http
        .post_form(
            &ann_s,
            "/my-day",
            "/my-day/tasks",
            &[
                ("kind", "call"),
                ("due", &due),
                ("note", "Call Zhang about the quote"),
                ("customer", &zhang_ref),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert_eq!(r.location(), "/my-day?ok=added");
    let tasks = store
        .tasks(&TaskFilter {
            assignee_id: Some(ann),
            open: Some(true),
            ..TaskFilter::default()
        })
        .await
        .unwrap();
    assert_eq!(tasks.len(), 1);
    let task = tasks[0].id;
    assert_eq!(tasks[0].customer_id, Some(zhang));
    let day = http.get("/my-day?ok=added", &ann_s).await;
    let (today_part, later_part) = day.body.split_once("id=\"upcoming\"").unwrap();
    assert!(
        today_part.contains("Call Zhang about the quote"),
        "{today_part}"
    );
    assert!(!later_part.contains("Call Zhang about the quote"));
    assert!(today_part.contains(&format!("id=\"task-{task}\"")));
    // A rep gives work to nobody else: no reassign.
    assert!(!day.body.contains("/reassign\""), "{}", day.body);
    // A bad due time is refused next to its field.
    let r = http
        .post_form(
            &ann_s,
            "/my-day",
            "/my-day/tasks",
            &[("kind", "call"), ("due", "soon"), ("note", "x")],
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.body.contains("id=\"err-t-due\""), "{}", r.body);

    // "Tomorrow" is the server's, at the time of the call: either side of a midnight.
    let day_before = Utc::now().date_naive();
    let r = http
        .post_form(
            &ann_s,
            "/my-day",
            &format!("/my-day/tasks/{task}/snooze"),
            &[("until", "tomorrow")],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let nine_after = |d: chrono::NaiveDate| {
        (d + Days::new(1))
            .and_time(NaiveTime::from_hms_opt(9, 0, 0).unwrap())
            .and_utc()
    };
    let snoozed = store.task(task).await.unwrap().due_at;
    assert!(
        snoozed == nine_after(day_before) || snoozed == nine_after(Utc::now().date_naive()),
        "{snoozed}"
    );
    let day = http.get("/my-day", &ann_s).await;
    if snoozed.date_naive() > Utc::now().date_naive() {
        let (today_part, later_part) = day.body.split_once("id=\"upcoming\"").unwrap();
        assert!(!today_part.contains("Call Zhang about the quote"));
        assert!(later_part.contains("Call Zhang about the quote"));
    }

    let r = http
        .post_form(
            &ann_s,
            "/my-day",
            &format!("/my-day/tasks/{task}/done"),
            &[],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert_eq!(r.location(), "/my-day?ok=done");
    assert_eq!(store.task(task).await.unwrap().status, "done");
    let day = http.get("/my-day", &ann_s).await;
    assert!(!day.body.contains("Call Zhang about the quote"));

    // A manager approves Ann's held order with a reason: Ann's header shows 1 unread, the
    // inbox shows the reason, and opening it marks it read and goes to the customer.
    let acme = store
        .create_customer(
            CustomerInput {
                name: "Ann's Acme".into(),
                owner_id: Some(ann),
                credit_limit: Some(Money(10_000)),
                ..Default::default()
            },
            "test",
        )
        .await
        .unwrap()
        .id;
    let hold = held_order(&store, acme, "ann").await;
    let r = http
        .post_form(
            &max_s,
            "/work/receivables",
            &format!("/work/receivables/holds/{hold}/approve"),
            &[("reason", "good payer, once only")],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let day = http.get("/my-day", &ann_s).await;
    assert_eq!(day.unread_badge().as_deref(), Some("1"), "{}", day.body);
    assert!(day.body.contains("good payer, once only"));
    let inbox = http.get("/inbox", &ann_s).await;
    assert!(
        inbox.body.contains("good payer, once only"),
        "{}",
        inbox.body
    );
    assert!(inbox.body.contains("note unread"));
    let note = store.notifications(ann, true, 10).await.unwrap()[0].id;
    let r = http
        .post_form(&ann_s, "/inbox", &format!("/inbox/{note}/read"), &[])
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert_eq!(r.location(), format!("/customers/{acme}"));
    let day = http.get("/my-day", &ann_s).await;
    assert_eq!(day.unread_badge(), None);

    // A manager may give a task to Ann (who is told); "mark all read" clears the badge.
    let r = http
        .post_form(
            &max_s,
            "/my-day",
            "/my-day/tasks",
            &[("kind", "visit"), ("due", &due), ("note", "Visit Acme")],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let max_day = http.get("/my-day", &max_s).await;
    let mine = store
        .tasks(&TaskFilter {
            open: Some(true),
            ..TaskFilter::default()
        })
        .await
        .unwrap()
        .into_iter()
        .find(|t| t.note == "Visit Acme")
        .unwrap()
        .id;
    assert!(max_day
        .body
        .contains(&format!("action=\"/my-day/tasks/{mine}/reassign\"")));
    let ann_id = ann.to_string();
    let r = http
        .post_form(
            &max_s,
            "/my-day",
            &format!("/my-day/tasks/{mine}/reassign"),
            &[("to", &ann_id)],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert_eq!(store.task(mine).await.unwrap().assignee_id, ann);
    let day = http.get("/my-day", &ann_s).await;
    assert_eq!(day.unread_badge().as_deref(), Some("1"));
    assert!(day.body.contains("Visit Acme"));
    let r = http.post_form(&ann_s, "/inbox", "/inbox/read", &[]).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    let inbox = http.get("/inbox?ok=read", &ann_s).await;
    assert_eq!(inbox.unread_badge(), None);
    assert!(!inbox.body.contains("note unread"));

    server.stop().await;
}
