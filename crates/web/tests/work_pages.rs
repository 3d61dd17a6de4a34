//! The "working the customers" pages on both backends: each renders with data, a rep sees only
//! their own customers' items, manager pages answer 403 to reps, and a bad form value re-shows
//! the form with the message next to the field (4xx, never 5xx).

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use axum::Router;
use chrono::{Duration, NaiveDate, Utc};
use patron_app::Session;
use patron_domain::receivable::{InstalmentInput, InvoiceInput};
use patron_domain::service::{Priority, TicketInput, TicketKind};
use patron_domain::{
    CustomerInput, InteractionInput, InteractionKind, Money, OrderInput, OrderLineInput,
};
use patron_store::{
    backend_tests, Actor, CampaignInput, DataScope, NewUser, OnExcess, OpportunityInput,
    OrderTerms, Role, Store, Visibility,
};
use patron_testkit::{get, get_lang, post_form as post, send};

/// A read that must find nothing: exactly "not found", not some other failure.
fn assert_not_stored<T: std::fmt::Debug>(r: Result<T, patron_store::StoreError>, what: &str) {
    match r {
        Err(patron_store::StoreError::NotFound { .. }) => {}
        other => panic!("{what}: expected not found, got {other:?}"),
    }
}

fn d(s: &str) -> NaiveDate {
    s.parse().unwrap()
}

/// Two reps with one customer each (Ann's "Acme" with a credit limit, Bob's "Borealis"), a
/// manager who sees everything, and an analyst.
struct Fixture {
    store: Store,
    ann: Router,
    bob: Router,
    manager: Router,
    analyst: Router,
    acme: i64,
    borealis: i64,
}

async fn viewer(store: &Store, name: &str, role: Role, scope: Option<DataScope>) -> (i64, Router) {
    let user = store
        .create_user(&NewUser {
            username: name.into(),
            role: Some(role),
            scope,
            ..Default::default()
        })
        .await
        .unwrap();
    let visible = store.visibility(&user).await.unwrap();
    let v = Session {
        actor: Actor::user(&user, None),
        user: user.clone(),
        visible,
    };
    (
        user.id,
        patron_web::router(store.clone()).layer(axum::Extension(v)),
    )
}

fn order(r: &str, day: &str, cents: i64) -> OrderInput {
    OrderInput {
        order_ref: Some(r.into()),
        ordered_on: d(day),
        lines: vec![OrderLineInput {
            category: Some("CDs".into()),
            quantity: 1,
            amount: Money(cents),
            cost: Money(cents / 2),
        }],
    }
}

fn value_row(customer_id: i64, class: &str) -> patron_store::CustomerValueRow {
    patron_store::CustomerValueRow {
        customer_id,
        computed_at: Utc::now(),
        unit: "day".into(),
        calibration_end: d("2024-01-01"),
        frequency: Some(1.0),
        recency: Some(10.0),
        t: Some(100.0),
        monetary_value: Some(50.0),
        orders: 2,
        revenue_cents: 12_345,
        cost_cents: 5_000,
        margin_cents: 7_345,
        rfm_r: Some(3),
        rfm_f: Some(3),
        rfm_m: Some(3),
        rfm_segment: Some("loyal".into()),
        abc_class: class.into(),
        p_alive: Some(0.9),
        expected_purchases: Some(1.0),
        expected_spend: Some(50.0),
        clv: Some(456.78),
        loyalty_stage: Some("repeat_buyer".into()),
        lifecycle_phase: Some("growth".into()),
        churn_risk: false,
        value_at_risk: 0.0,
        churn_reasons: vec![],
        score: Some(70.0),
        grade: Some("B".into()),
    }
}

async fn fixture(store: Store) -> Fixture {
    let (ann_id, ann) = viewer(&store, "ann", Role::Rep, None).await;
    let (bob_id, bob) = viewer(&store, "bob", Role::Rep, None).await;
    let (_, manager) = viewer(&store, "max", Role::Manager, Some(DataScope::All)).await;
    let (_, analyst) = viewer(&store, "ana", Role::Analyst, None).await;
    let mut ids = Vec::new();
    for (name, number, owner, limit) in [
        ("Acme", "C001", ann_id, Some(Money(100_000))),
        ("Borealis", "C002", bob_id, None),
    ] {
        let c = store
            .create_customer(
                CustomerInput {
                    name: name.into(),
                    number: Some(number.into()),
                    source: Some("Spring fair".into()),
                    owner_id: Some(owner),
                    credit_limit: limit,
                    ..Default::default()
                },
                "test",
            )
            .await
            .unwrap();
        ids.push(c.id);
    }
    let (acme, borealis) = (ids[0], ids[1]);
    // Acme: an accepted order (invoice overdue), an order held over the limit, an invoice in
    // two instalments, a promise and a complaint, an open ticket, an opportunity.
    store
        .place_order(
            acme,
            order("A1", "2024-01-02", 90_000),
            &OrderTerms::default(),
        )
        .await
        .unwrap();
    store
        .place_order(
            acme,
            order("A2", "2024-02-01", 50_000),
            &OrderTerms {
                on_excess: OnExcess::Hold,
                by: "ann".into(),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    store
        .create_invoice(
            acme,
            InvoiceInput {
                number: Some("PLAN-1".into()),
                order_ref: None,
                issued_on: d("2024-01-10"),
                due_on: d("2024-03-10"),
                amount: Money(6_000),
                instalments: vec![
                    InstalmentInput {
                        due_on: d("2024-02-10"),
                        amount: Money(3_000),
                    },
                    InstalmentInput {
                        due_on: d("2024-03-10"),
                        amount: Money(3_000),
                    },
                ],
            },
        )
        .await
        .unwrap();
    for (kind, text) in [
        (InteractionKind::Promise, "Promised a free <demo> unit"),
        (InteractionKind::Complaint, "Late delivery in March"),
    ] {
        store
            .create_interaction(
                acme,
                InteractionInput {
                    kind,
                    occurred_at: None,
                    by: Some("ann".into()),
                    contact_id: None,
                    text: text.into(),
                    external_id: None,
                },
            )
            .await
            .unwrap();
    }
    // Borealis: an overdue invoice of its own, a breached ticket, an opportunity.
    store
        .create_invoice(
            borealis,
            InvoiceInput {
                number: Some("B-INV".into()),
                order_ref: None,
                issued_on: d("2024-01-01"),
                due_on: d("2024-01-15"),
                amount: Money(7_700),
                instalments: vec![],
            },
        )
        .await
        .unwrap();
    for (c, subject, opened) in [
        (acme, "Acme scratched case", Utc::now()),
        (
            borealis,
            "Borealis broken player",
            Utc::now() - Duration::days(10),
        ),
    ] {
        store
            .open_ticket(
                c,
                TicketInput {
                    kind: TicketKind::Complaint,
                    priority: Priority::High,
                    subject: subject.into(),
                    body: None,
                    by: None,
                    assignee_id: None,
                },
                opened,
            )
            .await
            .unwrap();
    }
    for (c, name, amount) in [
        (acme, "Acme renewal", 400_000),
        (borealis, "Borealis upgrade", 200_000),
    ] {
        store
            .create_opportunity(
                c,
                OpportunityInput {
                    name: name.into(),
                    stage: Some("proposal".into()),
                    amount: Money(amount),
                    probability: None,
                    expected_close: d("2030-06-30"),
                },
            )
            .await
            .unwrap();
    }
    store
        .create_campaign(CampaignInput {
            name: "Spring fair".into(),
            channel: Some("event".into()),
            cost: Money(50_000),
            started_on: d("2023-01-01"),
        })
        .await
        .unwrap();
    store
        .replace_customer_values(
            &[value_row(acme, "A"), value_row(borealis, "B")],
            &patron_store::NewSnapshot {
                computed_at: Utc::now(),
                options: serde_json::json!({}),
                report: serde_json::json!({}),
            },
        )
        .await
        .unwrap();
    Fixture {
        store,
        ann,
        bob,
        manager,
        analyst,
        acme,
        borealis,
    }
}

backend_tests!(
    order_entry_under_the_credit_rule,
    receivables_queue_ageing_and_payments,
    service_tickets_and_surveys,
    followup_plan_cadence_and_brief,
    pipeline_campaigns_and_review
);

async fn receivables_queue_ageing_and_payments(store: Store) {
    let f = fixture(store).await;
    let m = get(&f.manager, "/work/receivables?as_of=2024-06-30").await;
    assert_eq!(m.status, StatusCode::OK, "{}", m.body);
    let b = &m.body;
    assert!(b.contains(r#"<svg id="ageing-plot""#), "the ageing chart");
    assert!(b.contains("Over 90 days") && b.contains("31–60 days"));
    assert!(
        b.contains("id=\"holds\"") && b.contains("/approve"),
        "the queue"
    );
    assert!(
        b.contains("INV-A1") && b.contains("B-INV"),
        "overdue of both"
    );
    assert!(b.contains("$900.00") && b.contains("$500.00"), "amounts");
    assert!(b.contains("id=\"collections\"") && b.contains("ann") && b.contains("bob"));
    // Ann sees her customer's items only, and no approval queue.
    let a = get(&f.ann, "/work/receivables?as_of=2024-06-30").await;
    assert_eq!(a.status, StatusCode::OK);
    assert!(a.body.contains("INV-A1") && a.body.contains("PLAN-1"));
    assert!(!a.body.contains("B-INV") && !a.body.contains("Borealis"));
    assert!(!a.body.contains("id=\"holds\""));
    // One customer's invoices with their instalments.
    let one = get(&f.ann, "/work/receivables?customer=C001&as_of=2024-06-30").await;
    assert!(one.body.contains("id=\"customer-invoices\"") && one.body.contains("Instalment 2"));
    let other = get(
        &f.ann,
        &format!("/work/receivables?customer=%23{}", f.borealis),
    )
    .await;
    assert_eq!(other.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(other.body.contains("no such customer among yours"));
    assert!(!other.body.contains("B-INV"));
    // Reps cannot decide held orders; managers can.
    let hold = f
        .store
        .credit_holds("pending", &Visibility::All)
        .await
        .unwrap()[0]
        .id;
    let no = post(
        &f.ann,
        &format!("/work/receivables/holds/{hold}/approve"),
        &[],
    )
    .await;
    assert_eq!(no.status, StatusCode::FORBIDDEN);
    let yes = post(
        &f.manager,
        &format!("/work/receivables/holds/{hold}/approve"),
        &[],
    )
    .await;
    assert_eq!(yes.status, StatusCode::SEE_OTHER, "{}", yes.body);
    assert_eq!(f.store.credit_hold(hold).await.unwrap().status, "approved");
    let again = post(
        &f.manager,
        &format!("/work/receivables/holds/{hold}/reject"),
        &[],
    )
    .await;
    assert_eq!(again.status, StatusCode::CONFLICT);
    let bad = post(&f.manager, "/work/receivables/holds/x/approve", &[]).await;
    assert_eq!(bad.status, StatusCode::NOT_FOUND);
    // A payment: a bad amount is shown next to the field.
    let bad = post(
        &f.ann,
        "/work/receivables/payment",
        &[
            ("customer", "C001"),
            ("amount", "12,3x"),
            ("paid_on", "2024-06-01"),
        ],
    )
    .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(bad.body.contains(r#"id="err-p-amount""#));
    assert!(bad.body.contains("is not an amount"));
    assert!(
        bad.body.contains(r#"value="12,3x""#),
        "what was typed stays"
    );
    let zh = send(
        &f.ann,
        Request::post("/work/receivables/payment")
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header(header::COOKIE, "lang=zh")
            .body(Body::from("customer=C001&amount=1&paid_on=2024-13-01"))
            .unwrap(),
    )
    .await;
    assert_eq!(zh.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(zh.body.contains("不是有效日期"));
    // More than owed: the store's message, next to the amount.
    let over = post(
        &f.ann,
        "/work/receivables/payment",
        &[
            ("customer", "C001"),
            ("amount", "99999"),
            ("paid_on", "2024-06-01"),
        ],
    )
    .await;
    assert_eq!(over.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(over.body.contains("still owed"), "{}", over.body);
    // Another rep's customer: refused at the customer field.
    let theirs = post(
        &f.ann,
        "/work/receivables/payment",
        &[
            ("customer", "C002"),
            ("amount", "10"),
            ("paid_on", "2024-06-01"),
        ],
    )
    .await;
    assert_eq!(theirs.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(theirs.body.contains(r#"id="err-p-customer""#));
    let ok = post(
        &f.ann,
        "/work/receivables/payment",
        &[
            ("customer", "C001"),
            ("amount", "100.00"),
            ("paid_on", "2024-06-01"),
            ("reference", "wire 7"),
        ],
    )
    .await;
    assert_eq!(ok.status, StatusCode::SEE_OTHER, "{}", ok.body);
    let pos = f
        .store
        .credit_position(f.acme, d("2024-06-01"))
        .await
        .unwrap();
    assert_eq!(pos.open, Money(90_000 + 50_000 + 6_000 - 10_000));
    // Analysts see no receivables.
    assert_eq!(
        get(&f.analyst, "/work/receivables").await.status,
        StatusCode::FORBIDDEN
    );
    // Chinese labels.
    let zh = get_lang(&f.manager, "/work/receivables?as_of=2024-06-30", "zh").await;
    assert!(zh.body.contains("应收账龄") && zh.body.contains("US$"));
}

async fn service_tickets_and_surveys(store: Store) {
    let f = fixture(store).await;
    let m = get(&f.manager, "/work/service").await;
    assert_eq!(m.status, StatusCode::OK);
    let (breached, fresh) = (
        m.body.find("Borealis broken player").unwrap(),
        m.body.find("Acme scratched case").unwrap(),
    );
    assert!(breached < fresh, "breached first");
    assert!(m.body.contains("late by") && m.body.contains("due in"));
    assert!(m.body.contains("id=\"sweep\""));
    // Every state change is a POST form of its own (the session layer writes the CSRF token
    // into those only), never a button that turns a GET form into a POST.
    assert!(!m.body.contains("formmethod"));
    assert!(m
        .body
        .contains(r#"method="post" action="/work/service/escalate""#));
    // Ann: her ticket only, no sweep button.
    let a = get(&f.ann, "/work/service").await;
    assert!(a.body.contains("Acme scratched case") && !a.body.contains("Borealis broken player"));
    assert!(!a.body.contains("id=\"sweep\""));
    assert_eq!(
        post(&f.ann, "/work/service/escalate", &[]).await.status,
        StatusCode::FORBIDDEN
    );
    let swept = post(&f.manager, "/work/service/escalate", &[]).await;
    assert_eq!(swept.location.as_deref(), Some("/work/service?swept=1"));
    // A ticket without subject: the message next to the field.
    let bad = post(
        &f.ann,
        "/work/service/tickets",
        &[
            ("customer", "C001"),
            ("kind", "complaint"),
            ("priority", "high"),
            ("subject", " "),
        ],
    )
    .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(bad.body.contains(r#"id="err-tk-subject""#) && bad.body.contains("is required"));
    let badkind = post(
        &f.ann,
        "/work/service/tickets",
        &[("customer", "C001"), ("kind", "rant"), ("subject", "x")],
    )
    .await;
    assert_eq!(badkind.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(badkind.body.contains(r#"id="err-tk-kind""#));
    let ok = post(
        &f.ann,
        "/work/service/tickets",
        &[
            ("customer", "C001"),
            ("kind", "repair"),
            ("priority", "urgent"),
            ("subject", "Fix the hinge"),
        ],
    )
    .await;
    assert_eq!(ok.status, StatusCode::SEE_OTHER, "{}", ok.body);
    let mine = get(&f.ann, &format!("/work/service?customer=%23{}", f.acme)).await;
    assert!(mine.body.contains("Fix the hinge") && mine.body.contains("Urgent"));
    // What was stored: the ticket as entered, open.
    let tickets = f.store.customer_tickets(f.acme, Utc::now()).await.unwrap();
    let created = tickets
        .iter()
        .find(|t| t.subject == "Fix the hinge")
        .expect("the ticket is stored");
    assert_eq!(
        (created.kind, created.priority, created.status.as_str()),
        (TicketKind::Repair, Priority::Urgent, "open")
    );
    assert_eq!(created.escalation_level, 0);
    // Resolve, reopen and comment on Ann's ticket; Bob's is not found for her.
    let t = created.id;
    for (action, status) in [("resolve", "resolved"), ("reopen", "open")] {
        let r = post(
            &f.ann,
            &format!("/work/service/tickets/{}/{t}/{action}", f.acme),
            &[("text", "")],
        )
        .await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{action}: {}", r.body);
        let tk = f.store.ticket(f.acme, t, Utc::now()).await.unwrap();
        assert_eq!(tk.status, status, "after {action}");
        assert_eq!(tk.resolved_at.is_some(), status == "resolved", "{action}");
    }
    let empty = post(
        &f.ann,
        &format!("/work/service/tickets/{}/{t}/comment", f.acme),
        &[("text", "")],
    )
    .await;
    assert_eq!(empty.status, StatusCode::UNPROCESSABLE_ENTITY);
    // Escalate by hand: one level up, with the note in the history.
    let esc = post(
        &f.ann,
        &format!("/work/service/tickets/{}/{t}/escalate", f.acme),
        &[("text", "asked for the manager")],
    )
    .await;
    assert_eq!(esc.status, StatusCode::SEE_OTHER, "{}", esc.body);
    let tk = f.store.ticket(f.acme, t, Utc::now()).await.unwrap();
    assert_eq!(tk.escalation_level, 1);
    let page = get(&f.ann, &format!("/work/service?customer=%23{}", f.acme)).await;
    assert!(page
        .body
        .contains("escalated by hand to level 1: asked for the manager"));
    let bt = f
        .store
        .customer_tickets(f.borealis, Utc::now())
        .await
        .unwrap()[0]
        .id;
    let theirs = post(
        &f.ann,
        &format!("/work/service/tickets/{}/{bt}/resolve", f.borealis),
        &[],
    )
    .await;
    assert_eq!(theirs.status, StatusCode::NOT_FOUND);
    // Surveys: an NPS of 11 is refused at the score, 9 is recorded.
    let bad = post(
        &f.ann,
        "/work/service/surveys",
        &[("customer", "C001"), ("kind", "nps"), ("score", "11")],
    )
    .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(bad.body.contains(r#"id="err-sv-score""#));
    let ok = post(
        &f.ann,
        "/work/service/surveys",
        &[
            ("customer", "C001"),
            ("kind", "nps"),
            ("score", "9"),
            ("comment", "great"),
        ],
    )
    .await;
    assert_eq!(ok.status, StatusCode::SEE_OTHER);
    assert_eq!(
        f.store.satisfaction(f.acme).await.unwrap().latest_nps,
        Some(9)
    );
    let zh = get_lang(
        &f.ann,
        &format!("/work/service?customer=%23{}", f.acme),
        "zh",
    )
    .await;
    assert!(zh.body.contains("未结工单") && zh.body.contains("维修"));
    assert!(
        zh.body.contains("<strong>创建</strong>"),
        "history kinds translated"
    );
}

async fn followup_plan_cadence_and_brief(store: Store) {
    let f = fixture(store).await;
    let a = get(&f.ann, "/work/followup").await;
    assert_eq!(a.status, StatusCode::OK);
    assert!(a.body.contains(&format!("id=\"plan-{}\"", f.acme)));
    assert!(
        !a.body.contains("Borealis"),
        "Bob's customer is not in Ann's plan"
    );
    let b = get(&f.bob, "/work/followup").await;
    assert!(b.body.contains("Borealis") && !b.body.contains("Acme"));
    // The search keeps the customers whose name has every word typed.
    let found = get(&f.ann, "/work/followup?q=acm").await;
    assert!(found.body.contains(&format!("id=\"plan-{}\"", f.acme)));
    let none = get(&f.ann, "/work/followup?q=zzz").await;
    assert!(!none.body.contains(&format!("id=\"plan-{}\"", f.acme)));
    assert!(none.body.contains("No row matches the search."));
    // Mark done: a visit recorded, Acme no longer due.
    let done = post(
        &f.ann,
        "/work/followup/done",
        &[
            ("customer", &format!("#{}", f.acme)),
            ("kind", "visit"),
            ("text", "Met the buyer"),
        ],
    )
    .await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.body);
    // What was stored: the visit, with its text, as Acme's newest interaction.
    let visits = f
        .store
        .list_interactions(
            Some(f.acme),
            Some(InteractionKind::Visit),
            &patron_store::PageRequest {
                limit: Some(100),
                after: None,
            },
        )
        .await
        .unwrap()
        .items;
    let met: Vec<_> = visits
        .iter()
        .filter(|i| i.text == "Met the buyer")
        .collect();
    assert_eq!(met.len(), 1, "{visits:?}");
    assert_eq!(met[0].customer_id, f.acme);
    assert!(
        (Utc::now() - met[0].occurred_at).num_minutes() < 5,
        "{met:?}"
    );
    let after = get(&f.ann, "/work/followup").await;
    let due = &after.body
        [after.body.find("id=\"due\"").unwrap()..after.body.find("id=\"upcoming\"").unwrap()];
    assert!(!due.contains("Acme"), "done today: not due any more");
    let theirs = post(
        &f.ann,
        "/work/followup/done",
        &[("customer", &format!("#{}", f.borealis)), ("kind", "visit")],
    )
    .await;
    assert_eq!(theirs.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(theirs.body.contains("no such customer among yours"));
    // Cadence: managers only; bad values next to their field.
    assert!(!a.body.contains("id=\"cadence-form\""));
    let rep = post(
        &f.ann,
        "/work/followup/cadence",
        &[("A", "5"), ("B", "20"), ("C", "60")],
    )
    .await;
    assert_eq!(rep.status, StatusCode::FORBIDDEN);
    let bad = post(
        &f.manager,
        "/work/followup/cadence",
        &[("A", "0"), ("B", "x"), ("C", "60")],
    )
    .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(bad.body.contains(r#"id="err-c-A""#) && bad.body.contains(r#"id="err-c-B""#));
    assert!(bad.body.contains("is not a whole number"));
    let ok = post(
        &f.manager,
        "/work/followup/cadence",
        &[("A", "5"), ("B", "20"), ("C", "60")],
    )
    .await;
    assert_eq!(ok.status, StatusCode::SEE_OTHER);
    assert_eq!(
        f.store.followup_cadence().await.unwrap(),
        vec![
            ("A".to_string(), 5),
            ("B".to_string(), 20),
            ("C".to_string(), 60)
        ]
    );
    // The brief, linked from the card.
    let card = get(&f.ann, &format!("/customers/{}", f.acme)).await;
    assert!(card.body.contains(&format!("/customers/{}/brief", f.acme)));
    let brief = get(&f.ann, &format!("/customers/{}/brief", f.acme)).await;
    assert_eq!(brief.status, StatusCode::OK);
    let b = &brief.body;
    assert!(
        b.contains("Promised a free &lt;demo&gt; unit"),
        "escaped promise"
    );
    assert!(b.contains("Late delivery in March") && b.contains("Acme scratched case"));
    assert!(b.contains("A1") && b.contains("$123.45") && b.contains("$456.78"));
    assert!(b.contains("$1,000.00"), "credit limit");
    let theirs = get(&f.ann, &format!("/customers/{}/brief", f.borealis)).await;
    assert_eq!(theirs.status, StatusCode::NOT_FOUND);
    let zh = get_lang(&f.ann, &format!("/customers/{}/brief", f.acme), "zh").await;
    assert!(zh.body.contains("拜访前简报") && zh.body.contains("最近订单"));
    assert_eq!(
        get(&f.analyst, "/work/followup").await.status,
        StatusCode::FORBIDDEN
    );
}

async fn pipeline_campaigns_and_review(store: Store) {
    let f = fixture(store).await;
    let m = get(&f.manager, "/work/pipeline").await;
    assert_eq!(m.status, StatusCode::OK);
    assert!(m.body.contains(r#"<svg id="pipeline-plot""#));
    assert!(m.body.contains("Acme renewal") && m.body.contains("Borealis upgrade"));
    assert!(m.body.contains("$6,000.00"), "amount in proposal");
    assert!(m.body.contains("$3,000.00"), "weighted at 50%");
    let a = get(&f.ann, "/work/pipeline").await;
    assert!(a.body.contains("Acme renewal") && !a.body.contains("Borealis upgrade"));
    assert!(a.body.contains("$4,000.00") && !a.body.contains("$6,000.00"));
    // Create: a bad date is shown next to its field; a good one is stored.
    let bad = post(
        &f.ann,
        "/work/pipeline",
        &[
            ("customer", "C001"),
            ("name", "Extra"),
            ("amount", "100"),
            ("probability", "150"),
            ("expected_close", "soon"),
        ],
    )
    .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(bad.body.contains(r#"id="err-o-expected_close""#));
    assert!(bad.body.contains(r#"id="err-o-probability""#));
    let ok = post(
        &f.ann,
        "/work/pipeline",
        &[
            ("customer", "C001"),
            ("name", "Extra"),
            ("amount", "100"),
            ("stage", "negotiation"),
            ("expected_close", "2030-01-31"),
        ],
    )
    .await;
    assert_eq!(ok.status, StatusCode::SEE_OTHER, "{}", ok.body);
    let opp = f.store.customer_opportunities(f.acme).await.unwrap();
    let extra = opp.iter().find(|o| o.name == "Extra").unwrap();
    assert_eq!(extra.probability, 75);
    // Move a stage; another rep's opportunity is not found.
    let moved = post(
        &f.ann,
        &format!("/work/pipeline/{}/{}/stage", f.acme, extra.id),
        &[("stage", "won")],
    )
    .await;
    assert_eq!(moved.status, StatusCode::SEE_OTHER);
    assert_eq!(
        f.store.opportunity(f.acme, extra.id).await.unwrap().stage,
        "won"
    );
    let bo = f.store.customer_opportunities(f.borealis).await.unwrap()[0].id;
    let theirs = post(
        &f.ann,
        &format!("/work/pipeline/{}/{bo}/stage", f.borealis),
        &[("stage", "won")],
    )
    .await;
    assert_eq!(theirs.status, StatusCode::NOT_FOUND);
    let badstage = post(
        &f.ann,
        &format!("/work/pipeline/{}/{}/stage", f.acme, extra.id),
        &[("stage", "dreaming")],
    )
    .await;
    assert_eq!(badstage.status, StatusCode::UNPROCESSABLE_ENTITY);
    // Campaigns: managers and analysts, not reps.
    for app in [&f.manager, &f.analyst] {
        let c = get(app, "/work/campaigns").await;
        assert_eq!(c.status, StatusCode::OK);
        assert!(c.body.contains("Spring fair") && c.body.contains("$500.00"));
    }
    let c = get(&f.manager, "/work/campaigns").await;
    let row = &c.body[c.body.find("Spring fair").unwrap()..];
    assert!(row.contains(">2<"), "two customers brought");
    assert!(c.body.contains("Lead records converted / captured") && row.contains("0 / 0"));
    assert_eq!(
        get(&f.ann, "/work/campaigns").await.status,
        StatusCode::FORBIDDEN
    );
    // Recording a campaign: managers only; bad values named at their field; a duplicate name
    // is a conflict; nothing is stored on failure.
    assert!(c.body.contains(r#"id="new-campaign""#));
    assert!(!get(&f.analyst, "/work/campaigns")
        .await
        .body
        .contains(r#"id="new-campaign""#));
    let form = [
        ("name", "Autumn mailing"),
        ("channel", "mail"),
        ("cost", "1,250.50"),
        ("started_on", "2024-09-01"),
    ];
    assert_eq!(
        post(&f.analyst, "/work/campaigns", &form).await.status,
        StatusCode::FORBIDDEN
    );
    let bad = post(
        &f.manager,
        "/work/campaigns",
        &[
            ("name", " "),
            ("cost", "lots"),
            ("started_on", "2024-13-01"),
        ],
    )
    .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    for id in ["err-cp-name", "err-cp-cost", "err-cp-started"] {
        assert!(bad.body.contains(&format!(r#"id="{id}""#)), "{id}");
    }
    assert_eq!(f.store.campaigns().await.unwrap().len(), 1);
    let ok = post(&f.manager, "/work/campaigns", &form).await;
    assert_eq!(ok.location.as_deref(), Some("/work/campaigns?ok=created"));
    let made = f.store.campaigns().await.unwrap();
    let autumn = made.iter().find(|c| c.name == "Autumn mailing").unwrap();
    assert_eq!(autumn.cost, Money(125_050));
    assert_eq!(autumn.channel.as_deref(), Some("mail"));
    let again = post(&f.manager, "/work/campaigns", &form).await;
    assert_eq!(again.status, StatusCode::CONFLICT);
    assert!(again.body.contains("exists already"));
    assert_eq!(f.store.campaigns().await.unwrap().len(), 2);
    // Review: managers only; per rep; a bad period is a 4xx with its message.
    let r = get(&f.manager, "/work/review?from=2024-01-01&to=2030-12-31").await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.body.contains("ann") && r.body.contains("bob"));
    assert!(r.body.contains("$900.00"), "Ann's sales");
    let bad = get(&f.manager, "/work/review?from=2024-05-01&to=2024-01-01").await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(bad.body.contains(r#"id="err-q-from""#));
    assert_eq!(
        get(&f.ann, "/work/review").await.status,
        StatusCode::FORBIDDEN
    );
    let zh = get_lang(&f.manager, "/work/review", "zh").await;
    assert!(zh.body.contains("经理评审"));
    // The work hub sends each role to its first page.
    assert_eq!(
        get(&f.ann, "/work").await.location.as_deref(),
        Some("/work/followup")
    );
    assert_eq!(
        get(&f.analyst, "/work").await.location.as_deref(),
        Some("/work/campaigns")
    );
    let nav = get(&f.ann, "/work/followup").await;
    assert!(nav.body.contains(r#"href="/work""#), "the nav link");
}

async fn order_entry_under_the_credit_rule(store: Store) {
    let f = fixture(store).await;
    let url = format!("/customers/{}/orders/new", f.acme);
    // The server's date around the page (a run across midnight sees either).
    let day_before_page = Utc::now().date_naive();
    let page = get(&f.ann, &url).await;
    let day_after_page = Utc::now().date_naive();
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains(r#"id="credit-position""#) && page.body.contains("Headroom"));
    assert!(get_lang(&f.ann, &url, "zh").await.body.contains("信用状况"));
    // Another rep's customer is not there; analysts enter no orders.
    assert_eq!(get(&f.bob, &url).await.status, StatusCode::NOT_FOUND);
    assert_eq!(get(&f.analyst, &url).await.status, StatusCode::FORBIDDEN);
    // The card links to it.
    let card = get(&f.ann, &format!("/customers/{}", f.acme)).await;
    assert!(card.body.contains(&format!(r#"href="{url}""#)));

    let today = Utc::now().date_naive().to_string();
    let position = f
        .store
        .credit_position(f.acme, Utc::now().date_naive())
        .await
        .unwrap();
    let headroom = position.headroom.expect("Acme has a limit").cents();
    assert!(headroom > 1, "the fixture leaves headroom");
    let amount = |cents: i64| format!("{}.{:02}", cents / 100, cents % 100);
    let pending = |store: Store| async move {
        store
            .credit_holds("pending", &Visibility::All)
            .await
            .unwrap()
            .len()
    };
    let holds_before = pending(f.store.clone()).await;

    // Bad values at their field, nothing stored.
    let bad = post(
        &f.ann,
        &url,
        &[
            ("ordered_on", "2024-02-30"),
            ("amount", "-3"),
            ("quantity", "0"),
        ],
    )
    .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    for id in ["err-ord-date", "err-ord-amount", "err-ord-quantity"] {
        assert!(
            bad.body.contains(&format!(r#"id="{id}""#)),
            "{id}: {}",
            bad.body
        );
    }
    // An order dated next month: refused at the date field, naming the date (the domain's
    // rule, as on the API and in imports); the date picker stops at the latest date accepted.
    let next_month = (Utc::now().date_naive() + Duration::days(31)).to_string();
    let future = post(
        &f.ann,
        &url,
        &[("ordered_on", next_month.as_str()), ("amount", "5")],
    )
    .await;
    assert_eq!(future.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        future.body.contains(r#"id="err-ord-date""#)
            && future
                .body
                .contains(&format!("{next_month} lies in the future")),
        "{}",
        future.body
    );
    assert!(
        [day_before_page, day_after_page]
            .iter()
            .any(|d| page.body.contains(&format!(
                r#"max="{}""#,
                patron_domain::order::latest_order_date(*d)
            ))),
        "{}",
        page.body
    );
    assert!(
        f.store
            .order_facts()
            .await
            .unwrap()
            .iter()
            .all(|o| o.ordered_on
                <= patron_domain::order::latest_order_date(Utc::now().date_naive())),
        "nothing stored"
    );
    // One cent over the headroom: refused with the figures, nothing stored.
    let over = amount(headroom + 1);
    let refused = post(
        &f.ann,
        &url,
        &[
            ("order_ref", "W-OVER"),
            ("ordered_on", &today),
            ("amount", &over),
        ],
    )
    .await;
    assert_eq!(refused.status, StatusCode::CONFLICT, "{}", refused.body);
    assert!(refused.body.contains("credit limit"), "{}", refused.body);
    assert_not_stored(f.store.order(f.acme, "W-OVER").await, "W-OVER");
    // The same, held for approval on request.
    let held = post(
        &f.ann,
        &url,
        &[
            ("order_ref", "W-HELD"),
            ("ordered_on", &today),
            ("amount", &over),
            ("hold", "on"),
        ],
    )
    .await;
    assert_eq!(
        held.location.as_deref(),
        Some(format!("{url}?ok=held").as_str())
    );
    assert_eq!(pending(f.store.clone()).await, holds_before + 1);
    // A held order waits: not stored as an order.
    assert_not_stored(f.store.order(f.acme, "W-HELD").await, "W-HELD");
    // Exactly the headroom: accepted, with its invoice.
    let exact = amount(headroom);
    let placed = post(
        &f.ann,
        &url,
        &[
            ("order_ref", "W-OK"),
            ("ordered_on", &today),
            ("amount", &exact),
            ("category", "CDs"),
        ],
    )
    .await;
    assert_eq!(
        placed.location.as_deref(),
        Some(format!("{url}?ok=placed").as_str())
    );
    let order = f.store.order(f.acme, "W-OK").await.unwrap();
    assert_eq!(order.lines[0].amount, Money(headroom));
    let after = f
        .store
        .credit_position(f.acme, Utc::now().date_naive())
        .await
        .unwrap();
    assert_eq!(after.headroom, Some(Money(0)));
    assert!(get(&f.ann, &format!("{url}?ok=placed"))
        .await
        .body
        .contains("Order placed"));
}
