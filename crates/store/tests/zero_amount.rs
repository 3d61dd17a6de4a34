//! A zero-amount order on a customer with a credit limit is stored and answered as stored
//! (no invoice to make): it used to be stored and then answered "invoice not found", so a
//! client that retried stored it twice.

use patron_domain::{CustomerInput, Money, OrderInput, OrderLineInput};
use patron_store::{backend_tests, OrderFilter, OrderPlacement, OrderTerms, PageRequest, Store};

backend_tests!(a_zero_amount_order_is_one_stored_order);

async fn a_zero_amount_order_is_one_stored_order(store: Store) {
    let c = store
        .create_customer(
            CustomerInput {
                name: "Free Samples Ltd".into(),
                ..CustomerInput::default()
            },
            "test",
        )
        .await
        .unwrap()
        .id;
    store
        .set_credit_limit(c, Some(Money(100_000)), "test")
        .await
        .unwrap();
    let order = OrderInput {
        order_ref: Some("FREE-1".into()),
        ordered_on: "2024-05-01".parse().unwrap(),
        lines: vec![OrderLineInput {
            category: Some("samples".into()),
            quantity: 3,
            amount: Money(0),
            cost: Money(900),
        }],
    };
    match store
        .place_order(c, order.clone(), &OrderTerms::default())
        .await
        .unwrap()
    {
        OrderPlacement::Plain { order } => assert_eq!(order.order_ref, "FREE-1"),
        other => panic!("{other:?}"),
    }
    // The orders endpoint's path (a customer with a limit) answers the order too.
    let mut again = order;
    again.order_ref = Some("FREE-2".into());
    assert_eq!(
        store.create_order(c, again).await.unwrap().order_ref,
        "FREE-2"
    );
    let stored = store
        .list_orders(
            &OrderFilter {
                customer_id: Some(c),
                ..OrderFilter::default()
            },
            &PageRequest::default(),
        )
        .await
        .unwrap();
    assert_eq!(stored.items.len(), 2);
    assert!(
        store.invoices(c).await.unwrap().is_empty(),
        "no invoice for nothing"
    );
}
