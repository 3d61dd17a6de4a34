//! Status follows the facts: the first order makes a lead, a tracked or an interested customer
//! won, on every path that adds orders (an order, a placed order with credit terms, an approved
//! credit hold, an import), in the customer history with who placed it; a won customer, a held
//! order and a re-import change nothing.

use patron_domain::{
    CustomerInput, CustomerStatus, HistoryEntry, Money, OrderInput, OrderLineInput,
};
use patron_store::{backend_tests, ImportOrderLine, OnExcess, OrderPlacement, OrderTerms, Store};

backend_tests!(
    an_order_makes_a_prospect_won,
    a_held_order_waits_and_its_approval_decides,
    an_import_advances_its_customers_at_once,
);

async fn customer(store: &Store, name: &str, status: CustomerStatus) -> i64 {
    store
        .create_customer(
            CustomerInput {
                name: name.into(),
                status,
                ..CustomerInput::default()
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
        ordered_on: "2024-05-01".parse().unwrap(),
        lines: vec![OrderLineInput {
            category: Some("tools".into()),
            quantity: 1,
            amount: Money(cents),
            cost: Money(0),
        }],
    }
}

/// The status changes in the customer's history, oldest first.
async fn status_changes(store: &Store, id: i64) -> Vec<(String, Option<String>, Option<String>)> {
    let mut h: Vec<HistoryEntry> = store.customer_history(id, 100).await.unwrap();
    h.reverse();
    h.into_iter()
        .filter(|e| e.field == "status")
        .map(|e| (e.changed_by, e.old_value, e.new_value))
        .collect()
}

fn change(by: &str, old: &str) -> (String, Option<String>, Option<String>) {
    (by.into(), Some(old.into()), Some("won".into()))
}

async fn status(store: &Store, id: i64) -> CustomerStatus {
    store.customer(id).await.unwrap().data.status
}

async fn an_order_makes_a_prospect_won(store: Store) {
    // The orders endpoint's path (no terms: "system" places it).
    let lead = customer(&store, "Lead Ltd", CustomerStatus::Lead).await;
    let before = store.customer(lead).await.unwrap().version;
    store.create_order(lead, order("A-1", 7402)).await.unwrap();
    let after = store.customer(lead).await.unwrap();
    assert_eq!(after.data.status, CustomerStatus::Won);
    assert_eq!(after.version, before + 1, "the change is a new version");
    assert_eq!(
        status_changes(&store, lead).await,
        [change("system", "lead")]
    );
    // A second order changes nothing more.
    store.create_order(lead, order("A-2", 100)).await.unwrap();
    assert_eq!(status_changes(&store, lead).await.len(), 1);
    assert_eq!(store.customer(lead).await.unwrap().version, before + 1);

    // A placed order (web form, API with terms, CLI credit): the one who placed it.
    let terms = OrderTerms {
        by: "alice".into(),
        ..OrderTerms::default()
    };
    for (name, st) in [
        ("Tracked Ltd", CustomerStatus::Tracking),
        ("Intent Ltd", CustomerStatus::Intent),
    ] {
        let c = customer(&store, name, st).await;
        store
            .place_order(c, order("B-1", 3000), &terms)
            .await
            .unwrap();
        assert_eq!(status(&store, c).await, CustomerStatus::Won, "{name}");
        assert_eq!(
            status_changes(&store, c).await,
            [change("alice", st.as_str())],
            "{name}"
        );
    }
    // With a credit limit (order and invoice), the same.
    let limited = customer(&store, "Limited Ltd", CustomerStatus::Lead).await;
    store
        .set_credit_limit(limited, Some(Money(100_000)), "test")
        .await
        .unwrap();
    assert!(matches!(
        store
            .place_order(limited, order("C-1", 5000), &terms)
            .await
            .unwrap(),
        OrderPlacement::Accepted { .. }
    ));
    assert_eq!(status(&store, limited).await, CustomerStatus::Won);
    assert_eq!(
        status_changes(&store, limited).await,
        [change("alice", "lead")]
    );

    // A won customer stays as it is, without a history line.
    let won = customer(&store, "Won Ltd", CustomerStatus::Won).await;
    let v = store.customer(won).await.unwrap().version;
    store
        .place_order(won, order("D-1", 10), &terms)
        .await
        .unwrap();
    assert!(status_changes(&store, won).await.is_empty());
    assert_eq!(store.customer(won).await.unwrap().version, v);

    // A refused order (over the limit) changes nothing either.
    let refused = customer(&store, "Refused Ltd", CustomerStatus::Lead).await;
    store
        .set_credit_limit(refused, Some(Money(100)), "test")
        .await
        .unwrap();
    assert!(store
        .place_order(refused, order("E-1", 5000), &terms)
        .await
        .is_err());
    assert_eq!(status(&store, refused).await, CustomerStatus::Lead);
    assert!(status_changes(&store, refused).await.is_empty());
}

async fn a_held_order_waits_and_its_approval_decides(store: Store) {
    let c = customer(&store, "Held Ltd", CustomerStatus::Tracking).await;
    store
        .set_credit_limit(c, Some(Money(1_000)), "test")
        .await
        .unwrap();
    let terms = OrderTerms {
        on_excess: OnExcess::Hold,
        by: "rep1".into(),
        ..OrderTerms::default()
    };
    let OrderPlacement::Held { hold } = store
        .place_order(c, order("H-1", 5_000), &terms)
        .await
        .unwrap()
    else {
        panic!("not held")
    };
    // Held: no order yet, so no change.
    assert_eq!(status(&store, c).await, CustomerStatus::Tracking);
    assert!(status_changes(&store, c).await.is_empty());
    store
        .approve_credit_hold(hold.id, "boss", None)
        .await
        .unwrap();
    assert_eq!(status(&store, c).await, CustomerStatus::Won);
    // Who placed the order, not who approved it.
    assert_eq!(
        status_changes(&store, c).await,
        [change("rep1", "tracking")]
    );
}

async fn an_import_advances_its_customers_at_once(store: Store) {
    let lead = customer(&store, "Imported Lead", CustomerStatus::Lead).await;
    let intent = customer(&store, "Imported Intent", CustomerStatus::Intent).await;
    let won = customer(&store, "Imported Won", CustomerStatus::Won).await;
    let untouched = customer(&store, "Not In The File", CustomerStatus::Lead).await;
    let line = |customer_id: i64, r: &str, line_no: i32| ImportOrderLine {
        customer_id,
        order_ref: r.into(),
        line_no,
        ordered_on: "2023-03-01".parse().unwrap(),
        category: None,
        quantity: 1,
        amount: Money(1_000),
        cost: Money(0),
    };
    let rows = vec![
        line(lead, "I-1", 1),
        line(intent, "I-2", 1),
        line(lead, "I-1", 2),
        line(won, "I-3", 1),
        line(intent, "I-4", 1),
    ];
    assert_eq!(store.import_order_lines(&rows).await.unwrap(), 5);
    for (c, old) in [(lead, "lead"), (intent, "intent")] {
        assert_eq!(status(&store, c).await, CustomerStatus::Won);
        assert_eq!(status_changes(&store, c).await, [change("import", old)]);
    }
    assert!(status_changes(&store, won).await.is_empty());
    assert_eq!(status(&store, untouched).await, CustomerStatus::Lead);
    assert!(status_changes(&store, untouched).await.is_empty());

    // A re-run of the import stores nothing and changes nothing, even after a manual change.
    store
        .update_customer(
            lead,
            &serde_json::from_value(serde_json::json!({"status": "tracking"})).unwrap(),
            None,
            "bob",
        )
        .await
        .unwrap();
    assert_eq!(store.import_order_lines(&rows).await.unwrap(), 0);
    assert_eq!(status(&store, lead).await, CustomerStatus::Tracking);
}
