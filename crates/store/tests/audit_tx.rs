//! A change and its audit row are one transaction: an audited handle writes its row inside the
//! change's write transaction, so a refused change leaves no row and a stored change always
//! has its row.

use patron_domain::{CustomerInput, InteractionInput, InteractionKind};
use patron_store::{backend_tests, Actor, AuditFilter, Store, StoreError};

backend_tests!(the_audit_row_is_written_with_its_change);

async fn rows(store: &Store, action: &str) -> Vec<patron_store::AuditEntry> {
    store
        .audit_log(&AuditFilter {
            action: Some(action.into()),
            limit: 100,
            ..AuditFilter::default()
        })
        .await
        .unwrap()
}

fn call(text: &str) -> InteractionInput {
    InteractionInput {
        kind: InteractionKind::Call,
        occurred_at: None,
        by: Some("ann".into()),
        contact_id: None,
        text: text.into(),
        external_id: None,
    }
}

async fn the_audit_row_is_written_with_its_change(store: Store) {
    let ann = Actor {
        id: None,
        name: "ann".into(),
        ip: Some("127.0.0.1".into()),
    };
    // A created customer: the row names it and its id.
    let handle = store.audited(
        &ann,
        "create",
        None,
        Some("customer {id} created".into()),
        None,
    );
    let c = handle
        .create_customer(
            CustomerInput {
                name: "Audited Ltd".into(),
                ..CustomerInput::default()
            },
            "ann",
        )
        .await
        .unwrap();
    handle.finish_audit().await.unwrap();
    let created = rows(&store, "create").await;
    assert_eq!(created.len(), 1, "one row, not two: {created:?}");
    assert_eq!(created[0].customer_id, Some(c.id));
    assert_eq!(
        created[0].detail.as_deref(),
        Some(&*format!("customer {} created", c.id))
    );
    assert_eq!(created[0].ip.as_deref(), Some("127.0.0.1"));
    // An interaction: the detail gets the new interaction's id.
    let handle = store.audited(
        &ann,
        "update",
        Some(c.id),
        Some("interaction {id} created".into()),
        None,
    );
    let i = handle
        .create_interaction(c.id, call("Called"))
        .await
        .unwrap();
    handle.finish_audit().await.unwrap();
    let updated = rows(&store, "update").await;
    assert_eq!(updated.len(), 1);
    assert_eq!(
        updated[0].detail.as_deref(),
        Some(&*format!("interaction {} created", i.id))
    );
    // A refused change (an unknown customer) leaves no audit row.
    let handle = store.audited(
        &ann,
        "update",
        Some(999_999),
        Some("interaction {id} created".into()),
        None,
    );
    assert!(matches!(
        handle.create_interaction(999_999, call("Nobody")).await,
        Err(StoreError::NotFound { .. })
    ));
    assert_eq!(
        rows(&store, "update").await.len(),
        1,
        "no row for a change not made"
    );
    // A handle whose change wrote nothing still records the action when finished, once.
    let handle = store.audited(&ann, "view", Some(c.id), None, None);
    handle.customer(c.id).await.unwrap();
    handle.finish_audit().await.unwrap();
    handle.finish_audit().await.unwrap();
    assert_eq!(rows(&store, "view").await.len(), 1);
    // The plain store writes no row of its own.
    store.create_interaction(c.id, call("Plain")).await.unwrap();
    assert_eq!(rows(&store, "update").await.len(), 1);
}
