//! Survey mail and payment reminders in the store, on both backends: a survey request and its
//! message are one transaction (one per ticket); the first answer is recorded into the survey
//! records (and the customer's `satisfaction`), a second is refused and the first stays; a
//! payment reminder is owed until its instalment is paid.

use chrono::Utc;
use patron_domain::receivable::{InstalmentInput, InvoiceInput, PaymentInput};
use patron_domain::service::{SurveyKind, TicketInput, TicketKind};
use patron_domain::{CustomValue, CustomerInput, Money};
use patron_store::{
    backend_tests, reminder_key, NewMail, NewSurveyRequest, Store, StoreError, SurveyAnswer,
};

backend_tests!(survey_answered_once, reminder_owed_until_paid);

fn mail(key: &str, customer: i64) -> NewMail {
    NewMail {
        message_key: key.into(),
        customer_id: Some(customer),
        recipient: "ann@example.com".into(),
        kind: "survey".into(),
        subject: "How did we do?".into(),
        body_text: "links".into(),
        body_html: None,
        headers: Default::default(),
    }
}

async fn customer(store: &Store) -> i64 {
    store
        .create_customer(
            CustomerInput {
                name: "Ann".into(),
                email: Some("ann@example.com".into()),
                ..Default::default()
            },
            "t",
        )
        .await
        .unwrap()
        .id
}

async fn survey_answered_once(store: Store) {
    let c = customer(&store).await;
    let t = store
        .open_ticket(
            c,
            TicketInput {
                kind: TicketKind::Question,
                priority: patron_domain::service::Priority::Normal,
                subject: "Parcel".into(),
                body: None,
                by: Some("desk".into()),
                assignee_id: None,
            },
            Utc::now(),
        )
        .await
        .unwrap();
    let req = NewSurveyRequest {
        customer_id: c,
        ticket_id: Some(t.id),
        kind: SurveyKind::Csat,
        lang: "en".into(),
        by: "system".into(),
    };
    let r = store
        .create_survey_request(&req, |id| mail(&format!("survey:{id}"), c))
        .await
        .unwrap()
        .expect("queued");
    assert!(store
        .outbox_mail(&format!("survey:{}", r.id))
        .await
        .unwrap()
        .is_some());
    // One survey per ticket: a second request queues nothing.
    let again = store
        .create_survey_request(&req, |id| mail(&format!("survey:{id}"), c))
        .await
        .unwrap();
    assert!(again.is_none());
    assert_eq!(store.outbox_counts(None).await.unwrap().queued, 1);
    // A bad message leaves no request behind (one transaction).
    let bad = NewSurveyRequest {
        ticket_id: None,
        ..req.clone()
    };
    let e = store
        .create_survey_request(&bad, |id| NewMail {
            recipient: "nobody".into(),
            ..mail(&format!("survey:{id}"), c)
        })
        .await
        .unwrap_err();
    assert!(matches!(e, StoreError::Invalid(_)), "{e:?}");
    assert_eq!(store.survey_requests(c).await.unwrap().len(), 1);

    // Out of range for CSAT: refused, nothing recorded, still open.
    assert!(store
        .answer_survey_request(r.id, 7, None, "survey link", Utc::now())
        .await
        .is_err());
    let first = store
        .answer_survey_request(r.id, 4, Some("good".into()), "survey link", Utc::now())
        .await
        .unwrap();
    let SurveyAnswer::Recorded(s) = first else {
        panic!("{first:?}")
    };
    assert_eq!((s.score, s.ticket_id), (4, Some(t.id)));
    let second = store
        .answer_survey_request(r.id, 1, None, "survey link", Utc::now())
        .await
        .unwrap();
    match second {
        SurveyAnswer::AlreadyAnswered(Some(first)) => assert_eq!(first.score, 4),
        other => panic!("{other:?}"),
    }
    let all = store.surveys(c).await.unwrap();
    assert_eq!(all.len(), 1);
    assert_eq!(all[0].score, 4);
    assert_eq!(
        store.customer(c).await.unwrap().data.custom_fields["satisfaction"],
        CustomValue::Number(4.0)
    );
    let r = store.survey_request(r.id).await.unwrap().unwrap();
    assert_eq!(r.survey_id, Some(all[0].id));
    assert!(r.answered_at.is_some());
    assert!(matches!(
        store
            .answer_survey_request(r.id + 100, 3, None, "x", Utc::now())
            .await,
        Err(StoreError::NotFound { .. })
    ));
}

async fn reminder_owed_until_paid(store: Store) {
    let c = customer(&store).await;
    let d = |s: &str| s.parse::<chrono::NaiveDate>().unwrap();
    let inv = store
        .create_invoice(
            c,
            InvoiceInput {
                number: Some("INV-1".into()),
                order_ref: None,
                issued_on: d("2026-01-01"),
                due_on: d("2026-03-01"),
                amount: Money(30_000),
                instalments: vec![
                    InstalmentInput {
                        due_on: d("2026-02-01"),
                        amount: Money(10_000),
                    },
                    InstalmentInput {
                        due_on: d("2026-03-01"),
                        amount: Money(20_000),
                    },
                ],
            },
        )
        .await
        .unwrap();
    let first = reminder_key(inv.id, Some(1), 7);
    let second = reminder_key(inv.id, Some(2), -3);
    assert!(store.reminder_still_owed(c, &first).await.unwrap());
    store
        .record_payment(
            c,
            PaymentInput {
                invoice_id: Some(inv.id),
                paid_on: d("2026-02-05"),
                amount: Money(10_000),
                reference: None,
            },
        )
        .await
        .unwrap();
    // The payment covers instalment 1 only.
    assert!(!store.reminder_still_owed(c, &first).await.unwrap());
    assert!(store.reminder_still_owed(c, &second).await.unwrap());
    assert!(!store
        .reminder_still_owed(c, &reminder_key(inv.id + 1, None, 0))
        .await
        .unwrap());
}
