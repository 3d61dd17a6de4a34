//! Credit and receivables on both backends: the credit rule at its boundary, orders racing for
//! the last headroom, the approval queue, payments, and an ageing report against a hand-computed
//! fixture.

use patron_domain::receivable::{AgeingBuckets, InstalmentInput, InvoiceInput, PaymentInput};
use patron_domain::{CustomerInput, Money, OrderInput, OrderLineInput};
use patron_store::{
    backend_tests, OnExcess, OrderPlacement, OrderTerms, Store, StoreError, Visibility,
};

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

fn order(day: &str, cents: i64) -> OrderInput {
    OrderInput {
        order_ref: None,
        ordered_on: d(day),
        lines: vec![OrderLineInput {
            category: None,
            quantity: 1,
            amount: Money(cents),
            cost: Money(cents / 2),
        }],
    }
}

fn refuse() -> OrderTerms {
    OrderTerms::default()
}

fn accepted(p: &OrderPlacement) -> bool {
    matches!(p, OrderPlacement::Accepted { .. })
}

backend_tests!(
    credit_limit_boundary,
    orders_race_for_the_last_headroom,
    many_small_orders_race,
    held_orders_wait_for_a_manager,
    payments_fifo_and_instalments,
    ageing_matches_hand_computed_fixture
);

async fn credit_limit_boundary(store: Store) {
    let c = customer(&store, "Boundary", Some(100_000)).await;
    // 600.00 + 400.00 = exactly the limit: accepted.
    let p = store
        .place_order(c, order("2024-01-01", 60_000), &refuse())
        .await
        .unwrap();
    let OrderPlacement::Accepted {
        invoice,
        order: placed,
    } = p
    else {
        panic!("refused")
    };
    assert_eq!(invoice.amount, Money(60_000));
    assert_eq!(invoice.due_on, d("2024-01-31"));
    assert_eq!(
        invoice.order_ref.as_deref(),
        Some(placed.order_ref.as_str())
    );
    assert!(accepted(
        &store
            .place_order(c, order("2024-01-02", 40_000), &refuse())
            .await
            .unwrap()
    ));
    // One cent more: refused, with the figures, and nothing stored.
    let e = store
        .place_order(c, order("2024-01-03", 1), &refuse())
        .await
        .unwrap_err();
    let StoreError::Conflict { message, .. } = e else {
        panic!("{e:?}")
    };
    assert!(message.contains("credit limit of 1000.00"), "{message}");
    assert!(message.contains("exceed the limit by 0.01"), "{message}");
    let pos = store.credit_position(c, d("2024-01-03")).await.unwrap();
    assert_eq!(pos.open, Money(100_000));
    assert_eq!(pos.headroom, Some(Money(0)));
    assert_eq!(store.invoices(c).await.unwrap().len(), 2);
    // A payment of one cent makes room for exactly one cent.
    store
        .record_payment(
            c,
            PaymentInput {
                invoice_id: None,
                paid_on: d("2024-01-05"),
                amount: Money(1),
                reference: None,
            },
        )
        .await
        .unwrap();
    assert!(accepted(
        &store
            .place_order(c, order("2024-01-06", 1), &refuse())
            .await
            .unwrap()
    ));
    assert!(store
        .place_order(c, order("2024-01-06", 1), &refuse())
        .await
        .is_err());

    // A first order one cent over the limit is refused; exactly at it, accepted.
    let c2 = customer(&store, "Fresh", Some(50_000)).await;
    assert!(store
        .place_order(c2, order("2024-01-01", 50_001), &refuse())
        .await
        .is_err());
    assert!(accepted(
        &store
            .place_order(c2, order("2024-01-01", 50_000), &refuse())
            .await
            .unwrap()
    ));
    // No limit: no check.
    let c3 = customer(&store, "Unlimited", None).await;
    assert!(accepted(
        &store
            .place_order(c3, order("2024-01-01", 99_999_999), &refuse())
            .await
            .unwrap()
    ));
    // Limit 0: nothing on credit.
    let c4 = customer(&store, "Cash only", Some(0)).await;
    assert!(store
        .place_order(c4, order("2024-01-01", 1), &refuse())
        .await
        .is_err());
}

/// Runs `n` concurrent orders of `cents` each; answers how many were accepted, failing on any
/// error other than the credit refusal.
async fn race(store: &Store, c: i64, n: usize, cents: i64) -> usize {
    let mut tasks = Vec::new();
    for k in 0..n {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            let mut o = order("2024-03-01", cents);
            o.order_ref = Some(format!("R{k}"));
            store.place_order(c, o, &OrderTerms::default()).await
        }));
    }
    let mut ok = 0;
    for t in tasks {
        match t.await.unwrap() {
            Ok(p) => {
                assert!(accepted(&p));
                ok += 1
            }
            Err(StoreError::Conflict { message, .. }) => {
                assert!(message.contains("credit limit"), "{message}")
            }
            Err(e) => panic!("unexpected error: {e}"),
        }
    }
    ok
}

async fn orders_race_for_the_last_headroom(store: Store) {
    for round in 0..3 {
        // 1000.00 of limit, 400.00 already open: 600.00 of headroom, each order wants all of it.
        let c = customer(&store, &format!("Racer {round}"), Some(100_000)).await;
        assert!(accepted(
            &store
                .place_order(c, order("2024-02-01", 40_000), &refuse())
                .await
                .unwrap()
        ));
        let ok = race(&store, c, 16, 60_000).await;
        assert_eq!(ok, 1, "exactly one of the racing orders gets the headroom");
        let pos = store.credit_position(c, d("2024-03-01")).await.unwrap();
        assert_eq!(pos.open, Money(100_000));
        assert_eq!(store.invoices(c).await.unwrap().len(), 2);
    }
}

async fn many_small_orders_race(store: Store) {
    // 1000.00 of headroom, 24 orders of 100.00: exactly 10 fit.
    let c = customer(&store, "Small racer", Some(100_000)).await;
    assert_eq!(race(&store, c, 24, 10_000).await, 10);
    assert_eq!(
        store
            .credit_position(c, d("2024-03-01"))
            .await
            .unwrap()
            .open,
        Money(100_000)
    );
}

async fn held_orders_wait_for_a_manager(store: Store) {
    let c = customer(&store, "Held", Some(10_000)).await;
    let hold = OrderTerms {
        on_excess: OnExcess::Hold,
        by: "rep1".into(),
        ..Default::default()
    };
    // Within the limit: accepted straight away, even when holding is asked for.
    assert!(accepted(
        &store
            .place_order(c, order("2024-01-01", 10_000), &hold)
            .await
            .unwrap()
    ));
    let OrderPlacement::Held { hold: h1 } = store
        .place_order(c, order("2024-01-02", 5_000), &hold)
        .await
        .unwrap()
    else {
        panic!("not held")
    };
    assert_eq!(
        (h1.open, h1.limit, h1.amount, h1.status.as_str()),
        (Money(10_000), Money(10_000), Money(5_000), "pending")
    );
    let OrderPlacement::Held { hold: h2 } = store
        .place_order(c, order("2024-01-03", 7_000), &hold)
        .await
        .unwrap()
    else {
        panic!("not held")
    };
    let queue = store
        .credit_holds("pending", &Visibility::All)
        .await
        .unwrap();
    assert_eq!(
        queue.iter().map(|h| h.id).collect::<Vec<_>>(),
        [h1.id, h2.id]
    );
    // Nothing stored yet.
    assert_eq!(store.invoices(c).await.unwrap().len(), 1);
    let OrderPlacement::Accepted { invoice, .. } = store
        .approve_credit_hold(h1.id, "manager", Some("good payer"))
        .await
        .unwrap()
    else {
        panic!()
    };
    assert_eq!(invoice.amount, Money(5_000));
    assert_eq!(invoice.due_on, d("2024-02-01"));
    let r = store
        .reject_credit_hold(h2.id, "manager", None)
        .await
        .unwrap();
    assert_eq!(r.status, "rejected");
    assert!(store
        .approve_credit_hold(h2.id, "manager", None)
        .await
        .is_err());
    assert!(store
        .credit_holds("pending", &Visibility::All)
        .await
        .unwrap()
        .is_empty());
    assert_eq!(
        store
            .credit_position(c, d("2024-01-03"))
            .await
            .unwrap()
            .open,
        Money(15_000)
    );
}

async fn payments_fifo_and_instalments(store: Store) {
    let c = customer(&store, "Payer", None).await;
    let inv = |n: &str, due: &str, cents: i64| InvoiceInput {
        number: Some(n.into()),
        order_ref: None,
        issued_on: d("2024-01-01"),
        due_on: d(due),
        amount: Money(cents),
        instalments: vec![],
    };
    let late = store
        .create_invoice(c, inv("B", "2024-03-01", 5_000))
        .await
        .unwrap();
    let early = store
        .create_invoice(c, inv("A", "2024-02-01", 3_000))
        .await
        .unwrap();
    assert!(matches!(
        store.create_invoice(c, inv("A", "2024-02-01", 1)).await,
        Err(StoreError::Conflict { .. })
    ));
    // 40.00 pays A (30.00) then 10.00 of B.
    let ps = store
        .record_payment(
            c,
            PaymentInput {
                invoice_id: None,
                paid_on: d("2024-02-10"),
                amount: Money(4_000),
                reference: Some("bank 1".into()),
            },
        )
        .await
        .unwrap();
    assert_eq!(
        ps.iter()
            .map(|p| (p.invoice_id, p.amount))
            .collect::<Vec<_>>(),
        [(early.id, Money(3_000)), (late.id, Money(1_000))]
    );
    // More than owed: refused.
    let e = store
        .record_payment(
            c,
            PaymentInput {
                invoice_id: Some(late.id),
                paid_on: d("2024-02-10"),
                amount: Money(4_001),
                reference: None,
            },
        )
        .await
        .unwrap_err();
    assert!(
        e.to_string().contains("more than the 40.00 still owed"),
        "{e}"
    );
    // Instalments: payments go to them in due order.
    let plan = store
        .create_invoice(
            c,
            InvoiceInput {
                number: Some("P".into()),
                order_ref: None,
                issued_on: d("2024-01-01"),
                due_on: d("2024-01-01"),
                amount: Money(900),
                instalments: patron_domain::receivable::even_instalments(
                    Money(900),
                    3,
                    d("2024-02-01"),
                    30,
                ),
            },
        )
        .await
        .unwrap();
    assert_eq!(plan.due_on, d("2024-04-01"));
    store
        .record_payment(
            c,
            PaymentInput {
                invoice_id: Some(plan.id),
                paid_on: d("2024-02-01"),
                amount: Money(400),
                reference: None,
            },
        )
        .await
        .unwrap();
    let plan = store.invoice(c, plan.id).await.unwrap();
    assert_eq!(
        plan.instalments
            .iter()
            .map(|i| i.paid.cents())
            .collect::<Vec<_>>(),
        [300, 100, 0]
    );
    // Reminders: what falls due within a week of 2024-02-28 (instalment 2, 2024-03-02) and B.
    let due = store
        .due_items(d("2024-02-28"), d("2024-03-06"), &Visibility::All)
        .await
        .unwrap();
    let got: Vec<_> = due
        .iter()
        .map(|i| {
            (
                i.invoice_number.as_str(),
                i.instalment,
                i.open.cents(),
                i.days_overdue,
            )
        })
        .collect();
    assert_eq!(got, [("B", None, 4_000, -2), ("P", Some(2), 200, -3)]);
    // An instalment plan must add up.
    let bad = InvoiceInput {
        number: None,
        order_ref: None,
        issued_on: d("2024-01-01"),
        due_on: d("2024-01-01"),
        amount: Money(900),
        instalments: vec![InstalmentInput {
            due_on: d("2024-02-01"),
            amount: Money(800),
        }],
    };
    assert!(matches!(
        store.create_invoice(c, bad).await,
        Err(StoreError::Invalid(_))
    ));
}

async fn ageing_matches_hand_computed_fixture(store: Store) {
    let a = customer(&store, "Ageing A", None).await;
    let b = customer(&store, "Ageing B", None).await;
    let c = customer(&store, "Ageing C", None).await;
    let inv = |due: &str, cents: i64| InvoiceInput {
        number: None,
        order_ref: None,
        issued_on: d("2024-01-01"),
        due_on: d(due),
        amount: Money(cents),
        instalments: vec![],
    };
    let pay = |invoice_id: i64, cents: i64| PaymentInput {
        invoice_id: Some(invoice_id),
        paid_on: d("2024-06-01"),
        amount: Money(cents),
        reference: None,
    };
    // A: 1000.00 due 06-15 with 200.00 paid (15 days: 0-30), 500.00 due 04-15 (76 days: 61-90),
    // 75.25 due 03-01 (121 days: 90+), 50.00 due 03-01 paid in full (not listed).
    let a1 = store
        .create_invoice(a, inv("2024-06-15", 100_000))
        .await
        .unwrap();
    store.record_payment(a, pay(a1.id, 20_000)).await.unwrap();
    store
        .create_invoice(a, inv("2024-04-15", 50_000))
        .await
        .unwrap();
    store
        .create_invoice(a, inv("2024-03-01", 7_525))
        .await
        .unwrap();
    let a4 = store
        .create_invoice(a, inv("2024-03-01", 5_000))
        .await
        .unwrap();
    store.record_payment(a, pay(a4.id, 5_000)).await.unwrap();
    // B: 900.00 in three instalments (02-01: 150 days, 05-01: 60 days, 07-15: not due) with
    // 350.00 paid: the first is paid, 250.00 of the second open (31-60), 300.00 not due.
    let mut plan = inv("2024-07-15", 90_000);
    plan.instalments = vec![
        InstalmentInput {
            due_on: d("2024-02-01"),
            amount: Money(30_000),
        },
        InstalmentInput {
            due_on: d("2024-05-01"),
            amount: Money(30_000),
        },
        InstalmentInput {
            due_on: d("2024-07-15"),
            amount: Money(30_000),
        },
    ];
    let b1 = store.create_invoice(b, plan).await.unwrap();
    store.record_payment(b, pay(b1.id, 35_000)).await.unwrap();
    // C: 100.00 due 05-31 (30 days: 0-30), 0.01 due 05-30 (31 days: 31-60), 9.99 due 06-30
    // (due today: not due).
    store
        .create_invoice(c, inv("2024-05-31", 10_000))
        .await
        .unwrap();
    store.create_invoice(c, inv("2024-05-30", 1)).await.unwrap();
    store
        .create_invoice(c, inv("2024-06-30", 999))
        .await
        .unwrap();

    let r = store
        .ageing(d("2024-06-30"), &Visibility::All)
        .await
        .unwrap();
    let bk = |not_due, d0_30, d31_60, d61_90, d90_plus| AgeingBuckets {
        not_due: Money(not_due),
        d0_30: Money(d0_30),
        d31_60: Money(d31_60),
        d61_90: Money(d61_90),
        d90_plus: Money(d90_plus),
    };
    let per: Vec<_> = r
        .customers
        .iter()
        .map(|x| (x.customer_id, x.buckets))
        .collect();
    assert_eq!(
        per,
        [
            (a, bk(0, 80_000, 0, 50_000, 7_525)),
            (b, bk(30_000, 0, 25_000, 0, 0)),
            (c, bk(999, 10_000, 1, 0, 0)),
        ]
    );
    assert_eq!(r.total, bk(30_999, 90_000, 25_001, 50_000, 7_525));
    assert_eq!(r.total.total(), Money(203_525));
    assert_eq!(r.total.overdue(), Money(172_526));

    let overdue = store
        .overdue(d("2024-06-30"), &Visibility::All)
        .await
        .unwrap();
    let got: Vec<_> = overdue
        .iter()
        .map(|o| (o.customer_id, o.days_overdue, o.open.cents()))
        .collect();
    assert_eq!(
        got,
        [
            (a, 121, 7_525),
            (a, 76, 50_000),
            (b, 60, 25_000),
            (c, 31, 1),
            (c, 30, 10_000),
            (a, 15, 80_000)
        ]
    );
    assert_eq!(overdue[2].instalment, Some(2));

    // Collections in June: 200.00 + 50.00 + 350.00, all on customers without owner.
    let sc = store
        .sales_vs_collections(d("2024-06-01"), d("2024-06-30"), &Visibility::All)
        .await
        .unwrap();
    assert_eq!(sc.len(), 1);
    assert_eq!(
        (sc[0].owner_id, sc[0].collected, sc[0].overdue),
        (None, Money(60_000), Money(172_526))
    );
}
