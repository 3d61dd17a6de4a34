//! Escalating one ticket by hand, on both backends: one level up at a time with a history
//! entry, at most level 3, refused on a resolved ticket.

use chrono::Utc;
use patron_domain::service::{Priority, TicketInput, TicketKind};
use patron_domain::CustomerInput;
use patron_store::{backend_tests, Store, StoreError};

backend_tests!(tickets_escalate_by_hand);

async fn tickets_escalate_by_hand(store: Store) {
    let c = store
        .create_customer(
            CustomerInput {
                name: "Unhappy".into(),
                ..Default::default()
            },
            "test",
        )
        .await
        .unwrap()
        .id;
    let now = Utc::now();
    let t = store
        .open_ticket(
            c,
            TicketInput {
                kind: TicketKind::Complaint,
                priority: Priority::Normal,
                subject: "Noisy".into(),
                body: None,
                by: None,
                assignee_id: None,
            },
            now,
        )
        .await
        .unwrap();
    for level in 1..=3 {
        let e = store
            .escalate_ticket(c, t.id, "ann", Some("customer called again"), now)
            .await
            .unwrap();
        assert_eq!(e.escalation_level, level);
        let last = e.events.last().unwrap();
        assert_eq!(last.kind, "escalated");
        assert_eq!(last.by.as_deref(), Some("ann"));
        assert!(last
            .text
            .as_deref()
            .unwrap()
            .contains(&format!("level {level}: customer called again")));
    }
    match store.escalate_ticket(c, t.id, "ann", None, now).await {
        Err(StoreError::Conflict { message, .. }) => {
            assert!(message.contains("highest"), "{message}")
        }
        other => panic!("expected a conflict, got {other:?}"),
    }
    store
        .resolve_ticket(c, t.id, "ann", None, now)
        .await
        .unwrap();
    match store.escalate_ticket(c, t.id, "ann", None, now).await {
        Err(StoreError::Conflict { message, .. }) => {
            assert!(message.contains("resolved"), "{message}")
        }
        other => panic!("expected a conflict, got {other:?}"),
    }
    assert!(matches!(
        store.escalate_ticket(c, 999_999, "ann", None, now).await,
        Err(StoreError::NotFound { .. })
    ));
}
