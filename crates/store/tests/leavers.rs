//! A leaver: once disabled, a user receives no lead or ticket; handing all their customers over
//! also hands over their open leads and open tickets, with an audit row.

use chrono::Utc;
use patron_domain::service::{Priority, TicketInput, TicketKind};
use patron_domain::CustomerInput;
use patron_store::{
    backend_tests, Actor, AuditFilter, LeadInput, NewUser, Role, Store, StoreError,
};

backend_tests!(a_leavers_work_moves_and_nothing_new_reaches_them);

fn ticket(assignee: Option<i64>) -> TicketInput {
    TicketInput {
        kind: TicketKind::Question,
        priority: Priority::Normal,
        subject: "Where is my order?".into(),
        body: None,
        by: None,
        assignee_id: assignee,
    }
}

async fn a_leavers_work_moves_and_nothing_new_reaches_them(store: Store) {
    let mut users = Vec::new();
    for name in ["ann", "bob"] {
        users.push(
            store
                .create_user(&NewUser {
                    username: name.into(),
                    role: Some(Role::Rep),
                    ..Default::default()
                })
                .await
                .unwrap(),
        );
    }
    let (ann, bob) = (users[0].id, users[1].id);
    let c = store
        .create_customer(
            CustomerInput {
                name: "Ann's Customer".into(),
                owner_id: Some(ann),
                ..CustomerInput::default()
            },
            "test",
        )
        .await
        .unwrap()
        .id;
    let lead = store
        .create_lead(LeadInput {
            name: "Ann's Lead".into(),
            owner_id: Some(ann),
            ..Default::default()
        })
        .await
        .unwrap();
    let t = store
        .open_ticket(c, ticket(Some(ann)), Utc::now())
        .await
        .unwrap();
    store.set_disabled(ann, true).await.unwrap();
    // Nothing new reaches a disabled user.
    assert!(matches!(
        store.assign_lead(lead.id, Some(ann)).await,
        Err(StoreError::Invalid(e)) if e[0].message.contains("disabled")
    ));
    assert!(matches!(
        store.open_ticket(c, ticket(Some(ann)), Utc::now()).await,
        Err(StoreError::Invalid(e)) if e[0].field == "assignee_id"
    ));
    // Handing everything over moves the customer, the open lead and the open ticket.
    let admin = Actor::system("admin");
    let moved = store.handover(ann, bob, None, &admin).await.unwrap();
    assert_eq!(moved, vec![c]);
    assert_eq!(store.lead(lead.id).await.unwrap().owner_id, Some(bob));
    let t = store.ticket(c, t.id, Utc::now()).await.unwrap();
    assert_eq!(t.assignee_id, Some(bob));
    let rows = store
        .audit_log(&AuditFilter {
            action: Some("handover".into()),
            limit: 10,
            ..AuditFilter::default()
        })
        .await
        .unwrap();
    assert!(
        rows.iter().any(|r| r
            .detail
            .as_deref()
            .unwrap_or("")
            .contains("1 open leads and 1 open tickets")),
        "{rows:?}"
    );
}
