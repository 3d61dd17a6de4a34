//! The manager review per rep on both backends: interactions and promises, card completeness,
//! tickets breached, sales vs collections.

use chrono::{DateTime, Days, Duration, NaiveDate, Utc};
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

backend_tests!(
    review_credits_the_owner_at_the_time,
    every_change_of_owner_is_in_the_ownership_history
);

async fn order(store: &Store, customer: i64, reference: &str, on: NaiveDate, cents: i64) {
    store
        .place_order(
            customer,
            OrderInput {
                order_ref: Some(reference.into()),
                ordered_on: on,
                lines: vec![OrderLineInput {
                    category: None,
                    quantity: 1,
                    amount: Money(cents),
                    cost: Money(0),
                }],
            },
            &OrderTerms::default(),
        )
        .await
        .unwrap();
}

async fn payment(store: &Store, customer: i64, on: NaiveDate, cents: i64) {
    store
        .record_payment(
            customer,
            PaymentInput {
                invoice_id: None,
                paid_on: on,
                amount: Money(cents),
                reference: None,
            },
        )
        .await
        .unwrap();
}

async fn interaction(store: &Store, customer: i64, when: DateTime<Utc>) {
    store
        .create_interaction(
            customer,
            InteractionInput {
                kind: InteractionKind::Visit,
                occurred_at: Some(when),
                by: None,
                contact_id: None,
                text: "visit".into(),
                external_id: None,
            },
        )
        .await
        .unwrap();
}

async fn user(store: &Store, name: &str) -> i64 {
    store
        .create_user(&NewUser {
            username: name.into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .id
}

/// A customer owned by Ann, with an order, a payment and a visit three months ago, handed to
/// Bob today, with an order, a payment and a visit after that: the review credits Ann with the
/// old ones and Bob with the new ones (not everything to Bob, today's owner).
async fn review_credits_the_owner_at_the_time(store: Store) {
    let (ann, bob) = (user(&store, "ann").await, user(&store, "bob").await);
    let c = store
        .create_customer(
            CustomerInput {
                name: "Changing hands".into(),
                owner_id: Some(ann),
                ..Default::default()
            },
            "t",
        )
        .await
        .unwrap()
        .id;
    let today = Utc::now().date_naive();
    let january = today - Days::new(90);
    order(&store, c, "JAN", january, 10_000).await;
    payment(&store, c, january + Days::new(5), 4_000).await;
    interaction(&store, c, Utc::now() - Duration::days(90)).await;
    store
        .handover(ann, bob, None, &patron_store::Actor::system("admin"))
        .await
        .unwrap();
    // Facts of the day of the hand-over (and after it) are the new owner's.
    order(&store, c, "MAR", today, 30_000).await;
    payment(&store, c, today, 6_000).await;
    interaction(&store, c, Utc::now()).await;
    let review = store
        .rep_review(today - Days::new(120), today, Utc::now())
        .await
        .unwrap();
    let (a, b) = (row_of(&review, ann), row_of(&review, bob));
    assert_eq!(
        (a.sales, a.invoiced, a.collected, a.interactions),
        (Money(10_000), Money(10_000), Money(4_000), 1),
        "{review:?}"
    );
    assert_eq!(
        (b.sales, b.invoiced, b.collected, b.interactions),
        (Money(30_000), Money(30_000), Money(6_000), 1),
        "{review:?}"
    );
    // The customer itself is counted with its current owner.
    assert_eq!((a.customers, b.customers), (0, 1));
    // Once back in the pool, its interactions are the pool's (Bob keeps his).
    store
        .release(c, &patron_store::Actor::system("admin"), "test")
        .await
        .unwrap();
    interaction(&store, c, Utc::now() + Duration::seconds(1)).await;
    let review = store
        .rep_review(today - Days::new(120), today + Days::new(1), Utc::now())
        .await
        .unwrap();
    let pool = review
        .iter()
        .find(|r| r.owner_id.is_none())
        .expect("the pool's row");
    assert_eq!(pool.interactions, 1, "{review:?}");
    assert_eq!(row_of(&review, bob).interactions, 1, "{review:?}");
    assert_eq!(row_of(&review, ann).interactions, 1, "{review:?}");
}

fn row_of(review: &[patron_store::RepReview], u: i64) -> patron_store::RepReview {
    review
        .iter()
        .find(|r| r.owner_id == Some(u))
        .cloned()
        .unwrap_or_default()
}

/// Claim, return, reclaim, hand-over and an edit of the owner each write a row (from, to, why,
/// by) to the ownership history; an edit that leaves the owner alone writes none.
async fn every_change_of_owner_is_in_the_ownership_history(store: Store) {
    let (ann, bob) = (user(&store, "ann").await, user(&store, "bob").await);
    let c = store
        .create_customer(
            CustomerInput {
                name: "Pooled".into(),
                ..Default::default()
            },
            "t",
        )
        .await
        .unwrap()
        .id;
    let rows = |filter: String| {
        let store = store.clone();
        async move {
            store
                .raw_execute(&format!(
                    "UPDATE ownership_history SET why = why WHERE customer_id = {c} AND {filter}"
                ))
                .await
                .unwrap()
        }
    };
    let who = patron_store::Actor::system("carol");
    store.claim(c, ann, &who).await.unwrap();
    assert_eq!(
        rows(format!(
            "from_owner IS NULL AND to_owner = {ann} AND why = 'claim' AND by_name = 'carol'"
        ))
        .await,
        1
    );
    store.release(c, &who, "not my region").await.unwrap();
    assert_eq!(
        rows(format!(
            "from_owner = {ann} AND to_owner IS NULL AND why = 'return: not my region'"
        ))
        .await,
        1
    );
    store.claim(c, ann, &who).await.unwrap();
    store.handover(ann, bob, None, &who).await.unwrap();
    assert_eq!(
        rows(format!(
            "from_owner = {ann} AND to_owner = {bob} AND why LIKE 'handover: %'"
        ))
        .await,
        1
    );
    let mut patch = patron_domain::CustomerPatch::new();
    patch.insert("owner_id".into(), ann.into());
    store
        .update_customer(c, &patch, None, "dave")
        .await
        .unwrap();
    assert_eq!(
        rows(format!(
            "from_owner = {bob} AND to_owner = {ann} AND by_name = 'dave'"
        ))
        .await,
        1
    );
    let mut patch = patron_domain::CustomerPatch::new();
    patch.insert("region".into(), "North".into());
    store
        .update_customer(c, &patch, None, "dave")
        .await
        .unwrap();
    // A reclaim run long after: idle, back to the pool.
    let later = Utc::now().date_naive() + Days::new(3650);
    let back = store
        .reclaim(later, &patron_store::Visibility::All, false, &who)
        .await
        .unwrap();
    assert_eq!(back.len(), 1);
    assert_eq!(
        rows(format!(
            "from_owner = {ann} AND to_owner IS NULL AND why LIKE 'return: reclaimed%'"
        ))
        .await,
        1
    );
    assert_eq!(rows("1 = 1".into()).await, 6);
}
