//! A refresh stores, for every customer with orders, the figures the pure analysis gives on the
//! same orders (what `patron value export --orders` computes): the streamed read of the order
//! lines and the bulk write of the figures change nothing, on both backends. Orders after the
//! as-of date are left out; a customer with only such orders gets no row.

use chrono::{NaiveDate, SubsecRound};
use patron_app::value::{day_of, refresh};
use patron_domain::Money;
use patron_store::{backend_tests, ImportOrderLine, Store};
use patron_value::{analyze, AnalysisOptions, OrderLine};
use serde_json::json;

backend_tests!(
    a_refresh_stores_what_the_analysis_gives,
    the_bulk_write_keeps_every_value
);

/// A small deterministic generator (no dependency on `rand`'s streams).
struct Lcg(u64);

impl Lcg {
    fn next(&mut self, n: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 33) % n
    }
}

fn close(what: &str, id: i64, stored: Option<f64>, expected: f64) {
    match stored {
        Some(v) => assert!(
            (v - expected).abs() <= 1e-9 * expected.abs().max(1.0),
            "customer {id}: {what} stored {v}, analysis {expected}"
        ),
        None => assert!(
            !expected.is_finite(),
            "customer {id}: {what} not stored, analysis {expected}"
        ),
    }
}

async fn a_refresh_stores_what_the_analysis_gives(store: Store) {
    let as_of: NaiveDate = "2024-06-30".parse().unwrap();
    let start: NaiveDate = "2023-01-01".parse().unwrap();
    let mut rng = Lcg(19);
    let mut customers = Vec::new();
    for k in 0..120 {
        let input = serde_json::from_value(json!({"name": format!("Buyer {k:03}")})).unwrap();
        customers.push(store.create_customer(input, "test").await.unwrap().id);
    }
    // Orders of 1-3 lines; some customers buy once, some often, and some amounts are zero.
    let mut lines = Vec::new();
    for (k, &c) in customers.iter().enumerate() {
        let orders = match k % 5 {
            0 => 1,
            1 => 2 + rng.next(3),
            _ => 1 + rng.next(12),
        };
        for o in 0..orders {
            let on = start + chrono::Days::new(rng.next(546));
            for line_no in 1..=(1 + rng.next(3)) as i32 {
                let amount = if rng.next(20) == 0 {
                    0
                } else {
                    100 + rng.next(40_000) as i64
                };
                lines.push(ImportOrderLine {
                    customer_id: c,
                    order_ref: format!("O-{o}"),
                    line_no,
                    ordered_on: on,
                    category: Some(format!("cat {}", rng.next(4))),
                    quantity: 1,
                    amount: Money::from_cents(amount),
                    cost: Money::from_cents(amount * (40 + rng.next(40) as i64) / 100),
                });
            }
        }
    }
    // After the as-of date: a later order of a buyer, and a customer who only buys later.
    let late = |customer_id: i64, order_ref: &str| ImportOrderLine {
        customer_id,
        order_ref: order_ref.into(),
        line_no: 1,
        ordered_on: "2024-08-01".parse().unwrap(),
        category: None,
        quantity: 1,
        amount: Money::from_cents(99_999),
        cost: Money::from_cents(1),
    };
    let later_only = customers[customers.len() - 1];
    lines.retain(|l| l.customer_id != later_only);
    lines.push(late(customers[1], "LATE"));
    lines.push(late(later_only, "LATE"));
    store.import_order_lines(&lines).await.unwrap();

    let snapshot = refresh(&store, &AnalysisOptions::default(), as_of)
        .await
        .unwrap();
    assert!(snapshot.id > 0);

    // The pure analysis of the same orders, as `value export --orders` runs it: customers
    // numbered in order met (here by id), revenue and cost in currency units.
    let mut kept: Vec<&ImportOrderLine> = lines.iter().filter(|l| l.ordered_on <= as_of).collect();
    kept.sort_by_key(|l| l.customer_id);
    let mut ids: Vec<i64> = Vec::new();
    let mut input = Vec::new();
    for l in &kept {
        if ids.last() != Some(&l.customer_id) {
            ids.push(l.customer_id);
        }
        input.push(OrderLine {
            customer: (ids.len() - 1) as u32,
            day: day_of(l.ordered_on).unwrap(),
            revenue: l.amount.cents() as f64 / 100.0,
            cost: l.cost.cents() as f64 / 100.0,
        });
    }
    let opts = AnalysisOptions {
        calibration_end: day_of(as_of),
        ..AnalysisOptions::default()
    };
    let an = analyze(&input, ids.len(), &opts).unwrap();
    assert!(
        an.values.iter().any(|v| v.clv.is_finite()),
        "the model should fit these orders"
    );

    let stored = store.customer_values_of(&customers).await.unwrap();
    // Every analysed customer has a row; a customer without orders up to the as-of date has
    // none or a prospect's (no purchase figures).
    for r in stored.iter().filter(|r| !ids.contains(&r.customer_id)) {
        assert_eq!(
            r.customer_id, later_only,
            "a row for a customer without orders"
        );
        assert_eq!((r.orders, r.revenue_cents, r.margin_cents), (0, 0, 0));
        assert_eq!((r.frequency, r.p_alive, r.clv), (None, None, None));
    }
    for (i, &id) in ids.iter().enumerate() {
        let r = stored
            .iter()
            .find(|r| r.customer_id == id)
            .unwrap_or_else(|| panic!("customer {id}: no stored figures"));
        let s = &an.summaries[i];
        let v = &an.values[i];
        let own: Vec<&&ImportOrderLine> = kept.iter().filter(|l| l.customer_id == id).collect();
        let revenue: i64 = own.iter().map(|l| l.amount.cents()).sum();
        let cost: i64 = own.iter().map(|l| l.cost.cents()).sum();
        assert_eq!(r.revenue_cents, revenue, "customer {id}: revenue");
        assert_eq!(r.cost_cents, cost, "customer {id}: cost");
        assert_eq!(
            r.margin_cents,
            (s.margin * 100.0).round() as i64,
            "customer {id}: margin"
        );
        assert_eq!(r.margin_cents, revenue - cost, "customer {id}: margin");
        assert_eq!(r.orders, s.orders as i64, "customer {id}: orders");
        assert_eq!(r.calibration_end, as_of);
        assert_eq!(r.unit, "day");
        close("frequency", id, r.frequency, s.rft.frequency);
        close("recency", id, r.recency, s.rft.recency);
        close("T", id, r.t, s.rft.t);
        close("monetary value", id, r.monetary_value, s.rft.monetary_value);
        close("P(alive)", id, r.p_alive, v.p_alive);
        close(
            "expected purchases",
            id,
            r.expected_purchases,
            v.expected_purchases,
        );
        close("expected spend", id, r.expected_spend, v.expected_spend);
        close("CLV", id, r.clv, v.clv);
        let abc = match an.abc_class(i) {
            patron_value::abc::AbcClass::A => "A",
            patron_value::abc::AbcClass::B => "B",
            patron_value::abc::AbcClass::C => "C",
        };
        assert_eq!(r.abc_class, abc, "customer {id}: ABC class");
        let rfm = an.rfm_score(i);
        assert_eq!(r.rfm_r, rfm.map(|x| i32::from(x.r)), "customer {id}: R");
        assert_eq!(r.rfm_f, rfm.map(|x| i32::from(x.f)), "customer {id}: F");
        assert_eq!(r.rfm_m, rfm.map(|x| i32::from(x.m)), "customer {id}: M");
        let warning = an.churn_warning(i);
        assert_eq!(r.churn_risk, warning.is_some(), "customer {id}: churn");
        assert_eq!(
            r.churn_reasons.len(),
            warning.map_or(0, |w| w.reasons.len()),
            "customer {id}: churn reasons"
        );
        close(
            "value at risk",
            id,
            Some(r.value_at_risk),
            warning.map_or(0.0, |w| w.value_at_risk),
        );
    }

    // A second refresh replaces the rows as a whole (no duplicates, same figures).
    refresh(&store, &AnalysisOptions::default(), as_of)
        .await
        .unwrap();
    let again = store.customer_values_of(&customers).await.unwrap();
    assert_eq!(again.len(), stored.len());
    for (a, b) in again.iter().zip(&stored) {
        assert_eq!(
            (a.customer_id, a.revenue_cents, a.p_alive, a.clv, a.score),
            (b.customer_id, b.revenue_cents, b.p_alive, b.clv, b.score)
        );
    }
}

/// The bulk write (multi-row INSERT on SQLite, COPY on PostgreSQL) stores text with tabs,
/// newlines and backslashes, extreme and non-finite figures (NULL) and every optional column
/// as given, and replaces the rows as a whole.
async fn the_bulk_write_keeps_every_value(store: Store) {
    use patron_store::{CustomerValueRow, NewSnapshot, StoredChurnReason};
    let computed_at = chrono::Utc::now().trunc_subsecs(6);
    let row = |customer_id: i64| CustomerValueRow {
        customer_id,
        computed_at,
        unit: "week".into(),
        calibration_end: "1969-12-31".parse().unwrap(),
        frequency: Some(0.1 + 0.2),
        recency: Some(1e-300),
        t: Some(f64::MAX),
        monetary_value: Some(f64::NAN),
        orders: i64::MAX,
        revenue_cents: -1,
        cost_cents: 0,
        margin_cents: i64::MIN + 1,
        rfm_r: Some(1),
        rfm_f: None,
        rfm_m: Some(5),
        rfm_segment: Some("tab\there, \\N, new\nline\r and \\ back".into()),
        abc_class: "B".into(),
        p_alive: Some(2.0f64.powi(-1074)),
        expected_purchases: Some(f64::INFINITY),
        expected_spend: None,
        clv: Some(-123_456.789_012_345_67),
        loyalty_stage: None,
        lifecycle_phase: Some("\\".into()),
        churn_risk: true,
        value_at_risk: 1.0 / 3.0,
        churn_reasons: vec![
            // Kept as read (figures that do not word it): stored in the full form.
            StoredChurnReason::from_parts(
                "long_absence".into(),
                "\"quoted\"\tand \\ slashed\n".into(),
                [("days".to_string(), 1.0 / 7.0)].into_iter().collect(),
            ),
            // Known, non-finite figures included: stored in the compact form.
            StoredChurnReason::from(patron_value::churn::ReasonKind::LongAbsence {
                days_since_last: 1.0 / 7.0,
                mean_gap_days: 0.0,
                ratio: f64::INFINITY,
            }),
            StoredChurnReason::from(patron_value::churn::ReasonKind::RevenueDrop {
                current: 0.0,
                previous: 0.0,
                change: f64::NAN,
                period_days: 90,
            }),
        ],
        score: Some(99.999_999_999_999),
        grade: Some("E".into()),
    };
    let snapshot = NewSnapshot {
        computed_at,
        options: json!({}),
        report: json!({}),
    };
    let many: Vec<CustomerValueRow> = (1..=2_500).map(row).collect();
    store
        .replace_customer_values(&many, &snapshot)
        .await
        .unwrap();
    let ids: Vec<i64> = (1..=2_600).collect();
    let stored = store.customer_values_of(&ids).await.unwrap();
    assert_eq!(stored.len(), 2_500);
    for (r, w) in stored.iter().zip(&many) {
        let expected = CustomerValueRow {
            monetary_value: None,
            expected_purchases: None,
            ..w.clone()
        };
        assert_eq!(r, &expected);
        assert_eq!(
            r.churn_kinds().as_deref(),
            Some("long_absence;long_absence;revenue_drop")
        );
        // Read back worded the same, infinite and NaN figures included.
        let details = |r: &CustomerValueRow| {
            r.churn_reasons
                .iter()
                .map(StoredChurnReason::detail)
                .collect::<Vec<_>>()
        };
        assert_eq!(details(r), details(w));
        assert!(r.churn_reasons[1].known().is_some() && r.churn_reasons[2].known().is_some());
    }
    // A second write replaces the first as a whole.
    let few: Vec<CustomerValueRow> = (2_400..=2_600).map(row).collect();
    store
        .replace_customer_values(&few, &snapshot)
        .await
        .unwrap();
    let stored = store.customer_values_of(&ids).await.unwrap();
    assert_eq!(
        stored.iter().map(|r| r.customer_id).collect::<Vec<_>>(),
        (2_400..=2_600).collect::<Vec<_>>()
    );
}
