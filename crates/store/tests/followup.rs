//! Follow-up planning by ABC class and the before-the-visit brief, on both backends.

use chrono::{DateTime, Utc};
use patron_domain::service::{Priority, TicketInput, TicketKind};
use patron_domain::{CustomerInput, InteractionInput, InteractionKind};
use patron_store::{backend_tests, Store};

backend_tests!(plan_by_value_tier);

async fn plan_by_value_tier(store: Store) {
    let mut ids = Vec::new();
    for (name, class) in [
        ("A one", "A"),
        ("B one", "B"),
        ("C one", "C"),
        ("A never", "A"),
    ] {
        let id = store
            .create_customer(
                CustomerInput {
                    name: name.into(),
                    ..Default::default()
                },
                "t",
            )
            .await
            .unwrap()
            .id;
        store
            .raw_execute(&format!(
                "INSERT INTO customer_values (customer_id, computed_at, unit, calibration_end, orders, revenue_cents, cost_cents, margin_cents, abc_class) \
                 VALUES ({id}, '2024-01-01T00:00:00Z', 'day', '2024-01-01', 1, 100, 50, 50, '{class}')"
            ))
            .await
            .unwrap();
        ids.push(id);
    }
    let at = |s: &str| -> DateTime<Utc> { s.parse().unwrap() };
    let contact = |kind, when: &str, text: &str| InteractionInput {
        kind,
        occurred_at: Some(at(when)),
        by: Some("rep".into()),
        contact_id: None,
        text: text.into(),
        external_id: None,
    };
    // All last contacted on 2024-05-01; the e-mail later does not count as a visit or call.
    for id in &ids[..3] {
        store
            .create_interaction(
                *id,
                contact(InteractionKind::Visit, "2024-05-01T10:00:00Z", "visit"),
            )
            .await
            .unwrap();
    }
    store
        .create_interaction(
            ids[2],
            contact(InteractionKind::Email, "2024-05-20T10:00:00Z", "mail"),
        )
        .await
        .unwrap();
    store.set_setting("followup.days.B", "14").await.unwrap();
    let plan = store
        .followup_plan(
            "2024-05-20".parse().unwrap(),
            None,
            &patron_store::Visibility::All,
        )
        .await
        .unwrap();
    let got: Vec<_> = plan
        .iter()
        .map(|p| (p.customer_id, p.due_on.to_string(), p.days_overdue))
        .collect();
    assert_eq!(
        got,
        [
            (ids[0], "2024-05-08".to_string(), 12),
            (ids[1], "2024-05-15".to_string(), 5),
            (ids[3], "2024-05-20".to_string(), 0),
            (ids[2], "2024-07-31".to_string(), -72),
        ]
    );

    // The brief: promises, complaints, open tickets, value figures.
    store
        .create_interaction(
            ids[0],
            contact(
                InteractionKind::Promise,
                "2024-05-01T11:00:00Z",
                "send samples by June",
            ),
        )
        .await
        .unwrap();
    store
        .create_interaction(
            ids[0],
            contact(
                InteractionKind::Complaint,
                "2024-05-02T11:00:00Z",
                "late delivery",
            ),
        )
        .await
        .unwrap();
    let t = TicketInput {
        kind: TicketKind::Complaint,
        priority: Priority::High,
        subject: "late".into(),
        body: None,
        by: None,
        assignee_id: None,
    };
    store
        .open_ticket(ids[0], t, at("2024-05-02T12:00:00Z"))
        .await
        .unwrap();
    let b = store
        .visit_brief(ids[0], at("2024-05-20T08:00:00Z"))
        .await
        .unwrap();
    assert_eq!(
        b.promises
            .iter()
            .map(|i| i.text.as_str())
            .collect::<Vec<_>>(),
        ["send samples by June"]
    );
    assert_eq!(b.complaints.len(), 1);
    assert_eq!(b.open_tickets.len(), 1);
    assert!(b.open_tickets[0].breached);
    assert_eq!(b.value.unwrap().abc_class, "A");
}
