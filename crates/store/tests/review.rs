//! The manager review per rep on both backends: interactions and promises, card completeness,
//! tickets breached, sales vs collections.

use chrono::{DateTime, Duration, Utc};
use patron_domain::receivable::PaymentInput;
use patron_domain::service::{Priority, TicketInput, TicketKind};
use patron_domain::{
    CustomerInput, InteractionInput, InteractionKind, Money, OrderInput, OrderLineInput,
};
use patron_store::{backend_tests, NewUser, OrderTerms, Store};

fn at(s: &str) -> DateTime<Utc> {
    s.parse().unwrap()
}

backend_tests!(review_per_rep);

async fn review_per_rep(store: Store) {
    let rep = store
        .create_user(&NewUser {
            username: "rita".into(),
            display_name: None,
            role: None,
            scope: None,
            department_id: None,
            manager_id: None,
            password: None,
        })
        .await
        .unwrap();
    // Two cards: one with 3 of the 6 key fields, one with none.
    let full = store
        .create_customer(
            CustomerInput {
                name: "Full".into(),
                company: Some("Full Ltd".into()),
                phone: Some("+44 20 7946 0000".into()),
                email: Some("a@full.example".into()),
                owner_id: Some(rep.id),
                ..Default::default()
            },
            "t",
        )
        .await
        .unwrap()
        .id;
    store
        .create_customer(
            CustomerInput {
                name: "Bare".into(),
                owner_id: Some(rep.id),
                ..Default::default()
            },
            "t",
        )
        .await
        .unwrap();
    for (kind, when) in [
        (InteractionKind::Visit, "2024-03-05T10:00:00Z"),
        (InteractionKind::Promise, "2024-03-06T10:00:00Z"),
        (InteractionKind::Promise, "2024-03-31T23:00:00Z"),
        (InteractionKind::Call, "2024-04-01T00:00:00Z"), // after the period
    ] {
        store
            .create_interaction(
                full,
                InteractionInput {
                    kind,
                    occurred_at: Some(at(when)),
                    by: Some("rita".into()),
                    contact_id: None,
                    text: "x".into(),
                    external_id: None,
                },
            )
            .await
            .unwrap();
    }
    let ticket = |subject: &str| TicketInput {
        kind: TicketKind::Complaint,
        priority: Priority::Urgent,
        subject: subject.into(),
        body: None,
        by: None,
        assignee_id: None,
    };
    let t0 = at("2024-03-10T09:00:00Z");
    let late = store.open_ticket(full, ticket("late"), t0).await.unwrap();
    store
        .resolve_ticket(full, late.id, "rita", None, t0 + Duration::hours(5))
        .await
        .unwrap();
    let fast = store.open_ticket(full, ticket("fast"), t0).await.unwrap();
    store
        .resolve_ticket(full, fast.id, "rita", None, t0 + Duration::hours(1))
        .await
        .unwrap();
    store.open_ticket(full, ticket("open"), t0).await.unwrap(); // open, past due at `now`
    store
        .place_order(
            full,
            OrderInput {
                order_ref: Some("M1".into()),
                ordered_on: "2024-03-02".parse().unwrap(),
                lines: vec![OrderLineInput {
                    category: None,
                    quantity: 1,
                    amount: Money(50_000),
                    cost: Money(0),
                }],
            },
            &OrderTerms::default(),
        )
        .await
        .unwrap();
    store
        .record_payment(
            full,
            PaymentInput {
                invoice_id: None,
                paid_on: "2024-03-20".parse().unwrap(),
                amount: Money(20_000),
                reference: None,
            },
        )
        .await
        .unwrap();
    let review = store
        .rep_review(
            "2024-03-01".parse().unwrap(),
            "2024-03-31".parse().unwrap(),
            at("2024-03-12T00:00:00Z"),
        )
        .await
        .unwrap();
    let r = review
        .iter()
        .find(|r| r.owner_id == Some(rep.id))
        .expect("rita's row");
    assert_eq!(r.username.as_deref(), Some("rita"));
    assert_eq!(r.customers, 2);
    assert_eq!(r.interactions, 3);
    assert_eq!(r.promises, 2);
    assert_eq!(r.card_completeness, Some(3.0 / 12.0));
    assert_eq!(r.tickets_opened, 3);
    assert_eq!(r.tickets_breached, 2);
    assert_eq!(r.sales, Money(50_000));
    assert_eq!(r.invoiced, Money(50_000));
    assert_eq!(r.collected, Money(20_000));
    // M1's invoice is due 2024-04-01: not overdue at the end of March.
    assert_eq!(r.overdue, Money(0));
}
