//! Service on both backends, with time moved by the test: the SLA clock, escalation when
//! breached, history on the customer, surveys feeding the satisfaction figure.

use chrono::{DateTime, Duration, Utc};
use patron_domain::service::{Priority, SurveyInput, SurveyKind, TicketInput, TicketKind};
use patron_domain::{CustomValue, CustomerInput};
use patron_store::{backend_tests, Store, StoreError, Visibility};

fn t0() -> DateTime<Utc> {
    "2024-03-01T09:00:00Z".parse().unwrap()
}

fn ticket(kind: TicketKind, priority: Priority, subject: &str) -> TicketInput {
    TicketInput {
        kind,
        priority,
        subject: subject.into(),
        body: None,
        by: Some("desk".into()),
        assignee_id: None,
    }
}

backend_tests!(sla_clock_and_escalation, surveys_feed_satisfaction);

async fn sla_clock_and_escalation(store: Store) {
    let c = store
        .create_customer(
            CustomerInput {
                name: "Service".into(),
                ..Default::default()
            },
            "t",
        )
        .await
        .unwrap()
        .id;
    let h = |n: i64| t0() + Duration::hours(n);
    let urgent = store
        .open_ticket(
            c,
            ticket(
                TicketKind::Complaint,
                Priority::Urgent,
                "Broken on delivery",
            ),
            t0(),
        )
        .await
        .unwrap();
    assert_eq!(urgent.due_at, h(4));
    let normal = store
        .open_ticket(
            c,
            ticket(TicketKind::Question, Priority::Normal, "Invoice address?"),
            t0(),
        )
        .await
        .unwrap();
    assert_eq!(normal.due_at, h(72));
    // A configured SLA applies to tickets opened afterwards.
    store.set_setting("sla.hours.high", "2").await.unwrap();
    let high = store
        .open_ticket(
            c,
            ticket(TicketKind::Repair, Priority::High, "Pump leaks"),
            t0(),
        )
        .await
        .unwrap();
    assert_eq!(high.due_at, h(2));

    // At the due time exactly nothing is breached.
    assert!(store
        .escalate_breached(h(2), "sla", &Visibility::All)
        .await
        .unwrap()
        .is_empty());
    assert!(!store.ticket(c, high.id, h(2)).await.unwrap().breached);
    // One minute later the high ticket escalates to level 1.
    let raised = store
        .escalate_breached(h(2) + Duration::minutes(1), "sla", &Visibility::All)
        .await
        .unwrap();
    assert_eq!(
        raised
            .iter()
            .map(|t| (t.id, t.escalation_level))
            .collect::<Vec<_>>(),
        [(high.id, 1)]
    );
    assert!(raised[0].breached);
    assert!(raised[0]
        .events
        .last()
        .unwrap()
        .text
        .as_deref()
        .unwrap()
        .contains("SLA breached"));
    // Same moment again: idempotent.
    assert!(store
        .escalate_breached(h(2) + Duration::minutes(1), "sla", &Visibility::All)
        .await
        .unwrap()
        .is_empty());
    // Five hours in: urgent breached (level 1), high two periods late (level 2).
    let raised = store
        .escalate_breached(h(5), "sla", &Visibility::All)
        .await
        .unwrap();
    let mut got: Vec<_> = raised.iter().map(|t| (t.id, t.escalation_level)).collect();
    got.sort();
    assert_eq!(got, [(urgent.id, 1), (high.id, 2)]);
    // Resolving the urgent one late keeps it breached; the normal one resolved in time is not.
    let done = store
        .resolve_ticket(c, urgent.id, "tech", Some("replaced"), h(6))
        .await
        .unwrap();
    assert!(done.breached);
    assert_eq!(done.status, "resolved");
    let ok = store
        .resolve_ticket(c, normal.id, "desk", None, h(10))
        .await
        .unwrap();
    assert!(!ok.breached);
    assert!(matches!(
        store
            .resolve_ticket(c, normal.id, "desk", None, h(11))
            .await,
        Err(StoreError::Conflict { .. })
    ));
    // Much later the high ticket reaches the top level, and no more.
    let raised = store
        .escalate_breached(h(100), "sla", &Visibility::All)
        .await
        .unwrap();
    assert_eq!(
        raised
            .iter()
            .map(|t| (t.id, t.escalation_level))
            .collect::<Vec<_>>(),
        [(high.id, 3)]
    );
    assert!(store
        .escalate_breached(h(1000), "sla", &Visibility::All)
        .await
        .unwrap()
        .is_empty());
    // Reopened: a fresh clock from the moment it is reopened.
    let again = store
        .reopen_ticket(c, urgent.id, "desk", Some("still broken"), h(200))
        .await
        .unwrap();
    assert_eq!(
        (
            again.status.as_str(),
            again.due_at,
            again.escalation_level,
            again.breached
        ),
        ("open", h(204), 0, false)
    );

    // The history on the customer: every ticket with its events, newest first.
    store
        .comment_ticket(c, high.id, "tech", "part ordered", h(101))
        .await
        .unwrap();
    let history = store.customer_tickets(c, h(201)).await.unwrap();
    assert_eq!(
        history.iter().map(|t| t.id).collect::<Vec<_>>(),
        [high.id, normal.id, urgent.id]
    );
    let kinds: Vec<_> = history[0].events.iter().map(|e| e.kind.as_str()).collect();
    assert_eq!(
        kinds,
        ["opened", "escalated", "escalated", "escalated", "comment"]
    );
    let kinds: Vec<_> = history[2].events.iter().map(|e| e.kind.as_str()).collect();
    assert_eq!(kinds, ["opened", "escalated", "resolved", "reopened"]);
    // Open list: soonest due first.
    let open = store.open_tickets(h(201), &Visibility::All).await.unwrap();
    assert_eq!(
        open.iter().map(|t| (t.id, t.breached)).collect::<Vec<_>>(),
        [(high.id, true), (urgent.id, false)]
    );
}

async fn surveys_feed_satisfaction(store: Store) {
    let c = store
        .create_customer(
            CustomerInput {
                name: "Surveyed".into(),
                ..Default::default()
            },
            "t",
        )
        .await
        .unwrap()
        .id;
    assert_eq!(store.satisfaction(c).await.unwrap().figure, None);
    let s = |kind, score| SurveyInput {
        kind,
        score,
        comment: None,
        ticket_id: None,
    };
    store
        .record_survey(c, s(SurveyKind::Csat, 4), "desk", t0())
        .await
        .unwrap();
    store
        .record_survey(c, s(SurveyKind::Nps, 10), "desk", t0() + Duration::days(30))
        .await
        .unwrap();
    assert!(matches!(
        store
            .record_survey(c, s(SurveyKind::Csat, 6), "desk", t0())
            .await,
        Err(StoreError::Invalid(_))
    ));
    let sat = store.satisfaction(c).await.unwrap();
    assert_eq!(
        (sat.latest_csat, sat.latest_nps, sat.figure, sat.surveys),
        (Some(4), Some(10), Some(5.0), 2)
    );
    // What the value score reads: the custom field, with the change in the history.
    let card = store.customer(c).await.unwrap();
    assert_eq!(
        card.data.custom_fields.get("satisfaction"),
        Some(&CustomValue::Number(5.0))
    );
    store
        .record_survey(c, s(SurveyKind::Csat, 2), "desk", t0() + Duration::days(60))
        .await
        .unwrap();
    let card = store.customer(c).await.unwrap();
    assert_eq!(
        card.data.custom_fields.get("satisfaction"),
        Some(&CustomValue::Number(2.0))
    );
    assert_eq!(store.surveys(c).await.unwrap().len(), 3);
}
