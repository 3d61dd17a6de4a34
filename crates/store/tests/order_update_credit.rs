//! Changing an order (PUT) goes through the credit rule of new orders, on both backends: an
//! increase exactly up to the limit is accepted, one cent more is refused and changes nothing,
//! the order's invoice follows its amount, and concurrent increases cannot both take the last
//! headroom.

use patron_domain::receivable::PaymentInput;
use patron_domain::{CustomerInput, Money, OrderInput, OrderLineInput};
use patron_store::{backend_tests, Store, StoreError};

fn d(s: &str) -> chrono::NaiveDate {
    s.parse().unwrap()
}

async fn customer(store: &Store, name: &str, limit: Option<i64>) -> i64 {
    store
        .create_customer(
            CustomerInput {
                name: name.into(),
                credit_limit: limit.map(Money),
                ..Default::default()
            },
            "test",
        )
        .await
        .unwrap()
        .id
}

fn order(r: &str, cents: i64) -> OrderInput {
    OrderInput {
        order_ref: Some(r.into()),
        ordered_on: d("2024-03-01"),
        lines: vec![OrderLineInput {
            category: None,
            quantity: 1,
            amount: Money(cents),
            cost: Money(cents / 2),
        }],
    }
}

async fn open(store: &Store, c: i64) -> Money {
    store
        .credit_position(c, d("2024-03-02"))
        .await
        .unwrap()
        .open
}

fn refused(r: Result<patron_domain::Order, StoreError>) -> String {
    match r {
        Err(StoreError::Conflict { message, .. }) => message,
        other => panic!("expected a credit refusal, got {other:?}"),
    }
}

backend_tests!(
    order_change_is_credit_checked_at_the_boundary,
    order_without_invoice_gets_one_for_its_increase,
    concurrent_increases_share_the_headroom
);

async fn order_change_is_credit_checked_at_the_boundary(store: Store) {
    // Limit 100.00: A 60.00 and B 30.00 are open (90.00).
    let c = customer(&store, "Changer", Some(10_000)).await;
    store.create_order(c, order("A", 6_000)).await.unwrap();
    store.create_order(c, order("B", 3_000)).await.unwrap();
    assert_eq!(open(&store, c).await, Money(9_000));
    // A to 70.00: exactly at the limit, accepted; its invoice follows.
    let a = store.update_order(c, "A", order("A", 7_000)).await.unwrap();
    assert_eq!(a.amount, Money(7_000));
    assert_eq!(open(&store, c).await, Money(10_000));
    let inv = store.invoices(c).await.unwrap();
    assert!(inv
        .iter()
        .any(|i| i.number == "INV-A" && i.amount == Money(7_000)));
    // B one cent more: refused with the figures, nothing changed.
    let message = refused(store.update_order(c, "B", order("B", 3_001)).await);
    assert!(message.contains("credit limit of 100.00"), "{message}");
    assert!(message.contains("exceed the limit by 0.01"), "{message}");
    assert_eq!(
        store.order(c, "B").await.unwrap().amount,
        Money(3_000),
        "the refused change left the order as it was"
    );
    assert_eq!(open(&store, c).await, Money(10_000));
    // Lowering or keeping the amount is never refused, even at the limit.
    store.update_order(c, "B", order("B", 3_000)).await.unwrap();
    store.update_order(c, "A", order("A", 1_000)).await.unwrap();
    assert_eq!(open(&store, c).await, Money(4_000));
    // Below what is already paid on its invoice: refused as bad input.
    store
        .record_payment(
            c,
            PaymentInput {
                invoice_id: Some(inv.iter().find(|i| i.number == "INV-A").unwrap().id),
                paid_on: d("2024-03-02"),
                amount: Money(800),
                reference: None,
            },
        )
        .await
        .unwrap();
    match store.update_order(c, "A", order("A", 799)).await {
        Err(StoreError::Invalid(errs)) => assert_eq!(errs[0].field, "lines"),
        other => panic!("expected invalid, got {other:?}"),
    }
    // A missing order is still not found.
    assert!(matches!(
        store.update_order(c, "Z", order("Z", 1)).await,
        Err(StoreError::NotFound { .. })
    ));
}

async fn order_without_invoice_gets_one_for_its_increase(store: Store) {
    // Recorded before the customer had a limit: no invoice.
    let c = customer(&store, "History", None).await;
    store.create_order(c, order("H", 5_000)).await.unwrap();
    assert!(store.invoices(c).await.unwrap().is_empty());
    store
        .set_credit_limit(c, Some(Money(2_000)), "test")
        .await
        .unwrap();
    // Growing it by 20.00: exactly the limit, invoiced for the increase.
    store.update_order(c, "H", order("H", 7_000)).await.unwrap();
    assert_eq!(open(&store, c).await, Money(2_000));
    // Another cent: refused.
    let message = refused(store.update_order(c, "H", order("H", 7_001)).await);
    assert!(message.contains("change of order 'H'"), "{message}");
    assert_eq!(store.order(c, "H").await.unwrap().amount, Money(7_000));
}

async fn concurrent_increases_share_the_headroom(store: Store) {
    // Limit 100.00, eight orders of 10.00 open: 20.00 of headroom; eight changes want 20.00
    // each: exactly one is accepted.
    let c = customer(&store, "Racer", Some(10_000)).await;
    for k in 0..8 {
        store
            .create_order(c, order(&format!("R{k}"), 1_000))
            .await
            .unwrap();
    }
    let mut tasks = Vec::new();
    for k in 0..8 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            let r = format!("R{k}");
            store.update_order(c, &r, order(&r, 3_000)).await
        }));
    }
    let mut ok = 0;
    for t in tasks {
        match t.await.unwrap() {
            Ok(_) => ok += 1,
            Err(StoreError::Conflict { message, .. }) => {
                assert!(message.contains("credit limit"), "{message}")
            }
            Err(e) => panic!("unexpected error: {e}"),
        }
    }
    assert_eq!(ok, 1);
    assert_eq!(open(&store, c).await, Money(10_000));
}
