//! Deleting and merging customers on both backends reach every table hanging off a customer:
//! invoices, instalments, payments, credit holds, tickets with their events, surveys.

use chrono::{DateTime, Utc};
use patron_domain::receivable::{InstalmentInput, InvoiceInput, PaymentInput};
use patron_domain::service::{Priority, SurveyInput, SurveyKind, TicketInput, TicketKind};
use patron_domain::{CustomerInput, Money, OrderInput, OrderLineInput};
use patron_store::{
    backend_tests, OnExcess, OrderPlacement, OrderTerms, Store, StoreError, Visibility,
};

fn d(s: &str) -> chrono::NaiveDate {
    s.parse().unwrap()
}

fn t0() -> DateTime<Utc> {
    "2024-03-01T09:00:00Z".parse().unwrap()
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

fn order(order_ref: &str, day: &str, cents: i64) -> OrderInput {
    OrderInput {
        order_ref: Some(order_ref.into()),
        ordered_on: d(day),
        lines: vec![OrderLineInput {
            category: None,
            quantity: 1,
            amount: Money(cents),
            cost: Money(cents / 2),
        }],
    }
}

fn ticket(subject: &str) -> TicketInput {
    TicketInput {
        kind: TicketKind::Complaint,
        priority: Priority::High,
        subject: subject.into(),
        body: None,
        by: Some("desk".into()),
        assignee_id: None,
    }
}

/// An order with its invoice (R1), a standalone invoice with two instalments, a payment, a
/// ticket with a comment, a survey and a pending credit hold.
async fn fill(store: &Store, c: i64, settle: bool) {
    let terms = OrderTerms::default();
    store
        .place_order(c, order("R1", "2024-01-10", 30_000), &terms)
        .await
        .unwrap();
    let inv = store
        .create_invoice(
            c,
            InvoiceInput {
                number: Some("S-1".into()),
                order_ref: None,
                issued_on: d("2024-01-15"),
                due_on: d("2024-03-15"),
                amount: Money(20_000),
                instalments: vec![
                    InstalmentInput {
                        due_on: d("2024-02-15"),
                        amount: Money(10_000),
                    },
                    InstalmentInput {
                        due_on: d("2024-03-15"),
                        amount: Money(10_000),
                    },
                ],
            },
        )
        .await
        .unwrap();
    store
        .record_payment(
            c,
            PaymentInput {
                invoice_id: Some(inv.id),
                paid_on: d("2024-02-01"),
                amount: Money(if settle { 20_000 } else { 5_000 }),
                reference: None,
            },
        )
        .await
        .unwrap();
    if settle {
        store
            .record_payment(
                c,
                PaymentInput {
                    invoice_id: None,
                    paid_on: d("2024-02-02"),
                    amount: Money(30_000),
                    reference: None,
                },
            )
            .await
            .unwrap();
    }
    let t = store.open_ticket(c, ticket("Dented"), t0()).await.unwrap();
    store
        .comment_ticket(c, t.id, "desk", "photo asked", t0())
        .await
        .unwrap();
    store
        .record_survey(
            c,
            SurveyInput {
                kind: SurveyKind::Csat,
                score: 4,
                comment: None,
                ticket_id: Some(t.id),
            },
            "desk",
            t0(),
        )
        .await
        .unwrap();
    store
        .create_opportunity(
            c,
            patron_store::OpportunityInput {
                name: "Next year".into(),
                stage: None,
                amount: Money(90_000),
                probability: None,
                expected_close: d("2024-12-31"),
            },
        )
        .await
        .unwrap();
    let hold = OrderTerms {
        on_excess: OnExcess::Hold,
        by: "rep".into(),
        ..Default::default()
    };
    let p = store
        .place_order(c, order("BIG", "2024-02-10", 10_000_000), &hold)
        .await
        .unwrap();
    assert!(matches!(p, OrderPlacement::Held { .. }));
}

backend_tests!(
    delete_refused_while_owing,
    merge_moves_receivables_and_service
);

async fn delete_refused_while_owing(store: Store) {
    let c = customer(&store, "Owes", Some(1_000_000)).await;
    fill(&store, c, false).await;
    match store.delete_customer(c).await {
        Err(StoreError::Conflict { message, .. }) => {
            assert!(message.contains("450.00"), "{message}");
            assert!(message.contains("2 open invoice"), "{message}");
        }
        other => panic!("expected a conflict, got {other:?}"),
    }
    assert_eq!(store.invoices(c).await.unwrap().len(), 2);

    // Settled: the customer goes with everything recorded about it; the audit log stays.
    let s = customer(&store, "Settled", Some(1_000_000)).await;
    fill(&store, s, true).await;
    store
        .audit(
            &patron_store::Actor::system("test"),
            "view",
            Some(s),
            None,
            None,
        )
        .await
        .unwrap();
    store.delete_customer(s).await.unwrap();
    assert!(matches!(
        store.customer(s).await,
        Err(StoreError::NotFound { .. })
    ));
    for table in [
        "invoices",
        "instalments",
        "payments",
        "credit_holds",
        "tickets",
        "ticket_events",
        "surveys",
        "opportunities",
        "order_lines",
    ] {
        let n = store
            .raw_execute(&format!(
                "UPDATE {table} SET customer_id = customer_id WHERE customer_id = {s}"
            ))
            .await
            .unwrap();
        assert_eq!(n, 0, "{table} still has rows of the deleted customer");
    }
    let audit = store
        .audit_log(&patron_store::AuditFilter {
            customer_id: Some(s),
            limit: 100,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(
        audit.len(),
        1,
        "the audit log keeps the deleted customer's rows"
    );
    // The other customer's records are untouched.
    assert_eq!(store.invoices(c).await.unwrap().len(), 2);
}

async fn merge_moves_receivables_and_service(store: Store) {
    let keep = customer(&store, "Keep", Some(1_000_000)).await;
    let drop = customer(&store, "Drop", Some(1_000_000)).await;
    fill(&store, keep, false).await;
    fill(&store, drop, false).await;
    let drop_number = store.customer(drop).await.unwrap().data.number.unwrap();
    let before = store.credit_position(keep, d("2024-02-20")).await.unwrap();
    let m = store.merge_customers(keep, drop, "boss").await.unwrap();
    assert_eq!(m.moved_invoices, 2);
    assert_eq!(m.moved_payments, 1);
    assert_eq!(m.moved_credit_holds, 1);
    assert_eq!(m.moved_tickets, 1);
    assert_eq!(m.moved_surveys, 1);
    assert_eq!(m.moved_order_lines, 1);

    // Nothing left on the merged-away customer.
    assert!(store.invoices(drop).await.unwrap().is_empty());
    assert!(store.surveys(drop).await.unwrap().is_empty());
    assert!(store.customer_tickets(drop, t0()).await.unwrap().is_empty());

    // Colliding natural keys got the suffix; invoices still point at their order.
    let invoices = store.invoices(keep).await.unwrap();
    assert_eq!(invoices.len(), 4);
    let suffixed = format!("R1@{drop_number}");
    let moved = invoices
        .iter()
        .find(|i| i.order_ref.as_deref() == Some(suffixed.as_str()))
        .expect("the dropped customer's order invoice follows its renamed order");
    assert_eq!(moved.number, format!("INV-R1@{drop_number}"));
    store.order(keep, &suffixed).await.unwrap();
    let standalone = invoices
        .iter()
        .find(|i| i.number == format!("S-1@{drop_number}"))
        .expect("colliding invoice number suffixed");
    assert_eq!(standalone.instalments.len(), 2);
    assert_eq!(standalone.paid, Money(5_000));

    // The receivables now count for the kept customer.
    let after = store.credit_position(keep, d("2024-02-20")).await.unwrap();
    assert_eq!(after.open.cents(), 2 * before.open.cents());
    assert_eq!(after.pending_holds, 2);

    // Tickets keep their history; payments can go on against the moved invoice.
    let tickets = store.customer_tickets(keep, t0()).await.unwrap();
    assert_eq!(tickets.len(), 2);
    assert!(tickets.iter().all(|t| t.events.len() >= 2));
    store
        .record_payment(
            keep,
            PaymentInput {
                invoice_id: Some(standalone.id),
                paid_on: d("2024-03-01"),
                amount: Money(15_000),
                reference: None,
            },
        )
        .await
        .unwrap();
    assert_eq!(store.surveys(keep).await.unwrap().len(), 2);
    assert_eq!(store.customer_opportunities(keep).await.unwrap().len(), 2);
    assert!(store.customer_opportunities(drop).await.unwrap().is_empty());
    let holds = store
        .credit_holds("pending", &Visibility::All)
        .await
        .unwrap();
    assert_eq!(holds.len(), 2);
    assert!(holds.iter().all(|h| h.customer_id == keep));
}
