//! Stored customer-value figures: replace, read, filters and value sorts, on both backends.

use chrono::{SubsecRound, Utc};
use patron_domain::CustomerInput;
use patron_store::{
    backend_tests, CustomerFilter, CustomerSort, CustomerValueRow, NewSnapshot, PageRequest, Store,
    StoredChurnReason,
};
use serde_json::json;

fn row(customer_id: i64, k: i64) -> CustomerValueRow {
    let warned = k % 3 == 0;
    CustomerValueRow {
        customer_id,
        computed_at: Utc::now().trunc_subsecs(6),
        unit: "day".into(),
        calibration_end: "2024-06-30".parse().unwrap(),
        frequency: Some(k as f64),
        recency: Some(10.0 * k as f64),
        t: Some(400.0),
        monetary_value: (k > 0).then_some(12.5 + k as f64),
        orders: k + 1,
        revenue_cents: 1000 * (k + 1),
        cost_cents: 400 * (k + 1),
        margin_cents: 600 * (k + 1),
        rfm_r: Some((k % 5 + 1) as i32),
        rfm_f: Some(3),
        rfm_m: Some(2),
        rfm_segment: Some(if k % 2 == 0 { "champions" } else { "at_risk" }.into()),
        abc_class: ["A", "B", "C"][(k % 3) as usize].into(),
        // Every fourth customer has no CLV (e.g. no order in the calibration period); one has NaN.
        p_alive: Some(0.5),
        expected_purchases: Some(1.25),
        expected_spend: Some(20.0),
        clv: match k % 4 {
            0 => None,
            1 if k == 5 => Some(f64::NAN),
            // Ties on purpose, to exercise the (value, id) keyset.
            _ => Some((k / 2) as f64 * 10.0 + 0.1),
        },
        loyalty_stage: Some(
            if k == 0 {
                "first_time_buyer"
            } else {
                "repeat_buyer"
            }
            .into(),
        ),
        lifecycle_phase: Some("growth".into()),
        churn_risk: warned,
        value_at_risk: if warned { (k % 7) as f64 * 3.5 } else { 0.0 },
        churn_reasons: if warned {
            vec![
                StoredChurnReason::from_parts(
                    "revenue_drop".into(),
                    "revenue down 80%".into(),
                    [("change".to_string(), -0.8)].into_iter().collect(),
                ),
                StoredChurnReason::from_parts(
                    "long_absence".into(),
                    "no purchase for 200 days".into(),
                    Default::default(),
                ),
            ]
        } else {
            vec![]
        },
        score: (k % 2 == 0).then_some(42.5),
        grade: (k % 2 == 0).then(|| "C".to_string()),
    }
}

async fn customers(store: &Store, n: usize) -> Vec<i64> {
    let mut ids = Vec::new();
    for i in 0..n {
        let c = store
            .create_customer(
                CustomerInput {
                    name: format!("Customer {i:03}"),
                    ..Default::default()
                },
                "test",
            )
            .await
            .unwrap();
        ids.push(c.id);
    }
    ids
}

fn snapshot(tag: &str) -> NewSnapshot {
    NewSnapshot {
        computed_at: Utc::now().trunc_subsecs(6),
        options: json!({"unit": "day", "tag": tag}),
        report: json!({"whale": {"top_share": 81.5}, "abc": [1, 2, 3], "tag": tag}),
    }
}

backend_tests!(
    replace_and_read_values,
    value_filters_and_sorts,
    many_rows_in_one_refresh,
    deleting_a_customer_deletes_its_figures,
    reasons_are_stored_compact_and_old_rows_still_read
);

async fn replace_and_read_values(store: Store) {
    assert!(store.latest_snapshot().await.unwrap().is_none());
    let ids = customers(&store, 3).await;
    assert!(store.customer_value(ids[0]).await.unwrap().is_none());
    let rows: Vec<_> = ids
        .iter()
        .enumerate()
        .map(|(k, &id)| row(id, k as i64))
        .collect();
    let s1 = store
        .replace_customer_values(&rows, &snapshot("one"))
        .await
        .unwrap();
    assert_eq!(s1.options["tag"], "one");
    assert_eq!(s1.report["whale"]["top_share"], 81.5);
    for r in &rows {
        let got = store.customer_value(r.customer_id).await.unwrap().unwrap();
        assert_eq!(&got, r);
    }
    assert_eq!(
        store
            .customer_value(ids[0])
            .await
            .unwrap()
            .unwrap()
            .churn_kinds()
            .as_deref(),
        Some("revenue_drop;long_absence")
    );
    let latest = store.latest_snapshot().await.unwrap().unwrap();
    assert_eq!(latest, s1);
    // A second refresh replaces every row: customers it does not mention lose their figures.
    let mut changed = row(ids[1], 7);
    changed.clv = Some(f64::INFINITY);
    let s2 = store
        .replace_customer_values(std::slice::from_ref(&changed), &snapshot("two"))
        .await
        .unwrap();
    assert!(s2.id > s1.id);
    assert_eq!(store.latest_snapshot().await.unwrap().unwrap().id, s2.id);
    assert_eq!(store.snapshot(s1.id).await.unwrap().unwrap(), s1);
    assert!(store.customer_value(ids[0]).await.unwrap().is_none());
    let got = store.customer_value(ids[1]).await.unwrap().unwrap();
    assert_eq!(got.clv, None, "non-finite figures are stored as NULL");
    assert_eq!(got.orders, 8);
    assert_eq!(
        store.snapshot_times(10).await.unwrap().len(),
        2,
        "snapshots are kept"
    );
    let some = store
        .customer_values_of(&[ids[2], ids[1], ids[0]])
        .await
        .unwrap();
    assert_eq!(
        some.iter().map(|r| r.customer_id).collect::<Vec<_>>(),
        [ids[1]]
    );
}

async fn all_pages(
    store: &Store,
    filter: &CustomerFilter,
    sort: CustomerSort,
    limit: u32,
) -> Vec<i64> {
    let mut out = Vec::new();
    let mut page = PageRequest {
        limit: Some(limit),
        after: None,
    };
    loop {
        let p = store.list_customers(filter, sort, &page).await.unwrap();
        out.extend(p.items.iter().map(|c| c.id));
        match p.next {
            Some(n) => page.after = Some(n),
            None => return out,
        }
    }
}

async fn value_filters_and_sorts(store: Store) {
    let ids = customers(&store, 30).await;
    // The last five customers have no figures.
    let rows: Vec<_> = ids[..25]
        .iter()
        .enumerate()
        .map(|(k, &id)| row(id, k as i64))
        .collect();
    store
        .replace_customer_values(&rows, &snapshot("x"))
        .await
        .unwrap();
    let expect = |pred: &dyn Fn(&CustomerValueRow) -> bool| -> Vec<i64> {
        rows.iter()
            .filter(|r| pred(r))
            .map(|r| r.customer_id)
            .collect()
    };
    let cases: Vec<(CustomerFilter, Vec<i64>)> = vec![
        (
            CustomerFilter {
                abc_class: Some("A".into()),
                ..Default::default()
            },
            expect(&|r| r.abc_class == "A"),
        ),
        (
            CustomerFilter {
                rfm_segment: Some("at_risk".into()),
                ..Default::default()
            },
            expect(&|r| r.rfm_segment.as_deref() == Some("at_risk")),
        ),
        (
            CustomerFilter {
                grade: Some("C".into()),
                ..Default::default()
            },
            expect(&|r| r.grade.as_deref() == Some("C")),
        ),
        (
            CustomerFilter {
                loyalty_stage: Some("first_time_buyer".into()),
                ..Default::default()
            },
            vec![ids[0]],
        ),
        (
            CustomerFilter {
                churn_risk: Some(true),
                ..Default::default()
            },
            expect(&|r| r.churn_risk),
        ),
        (
            CustomerFilter {
                churn_risk: Some(false),
                abc_class: Some("B".into()),
                ..Default::default()
            },
            expect(&|r| !r.churn_risk && r.abc_class == "B"),
        ),
        (
            CustomerFilter {
                abc_class: Some("A".into()),
                q: Some("customer 00".into()),
                ..Default::default()
            },
            expect(&|r| r.abc_class == "A" && r.customer_id <= ids[9]),
        ),
    ];
    for (filter, want) in &cases {
        assert!(!want.is_empty(), "{filter:?}");
        assert_eq!(
            &all_pages(&store, filter, CustomerSort::Id, 2).await,
            want,
            "{filter:?}"
        );
        // Value filters work with every sort.
        let mut by_name = all_pages(&store, filter, CustomerSort::NameDesc, 3).await;
        by_name.reverse();
        assert_eq!(&by_name, want, "{filter:?} by name");
    }
    // Highest CLV first (ties by id, descending), only customers with a finite CLV.
    let mut with_clv: Vec<(f64, i64)> = rows
        .iter()
        .filter_map(|r| r.clv.filter(|v| v.is_finite()).map(|v| (v, r.customer_id)))
        .collect();
    with_clv.sort_by(|a, b| b.partial_cmp(a).unwrap());
    let want: Vec<i64> = with_clv.iter().map(|x| x.1).collect();
    for limit in [1, 2, 7, 100] {
        assert_eq!(
            all_pages(
                &store,
                &CustomerFilter::default(),
                CustomerSort::ClvDesc,
                limit
            )
            .await,
            want,
            "limit {limit}"
        );
    }
    // Highest value at risk first, among churn risks.
    let mut at_risk: Vec<(f64, i64)> = rows
        .iter()
        .filter(|r| r.churn_risk)
        .map(|r| (r.value_at_risk, r.customer_id))
        .collect();
    at_risk.sort_by(|a, b| b.partial_cmp(a).unwrap());
    let want: Vec<i64> = at_risk.iter().map(|x| x.1).collect();
    let risky = CustomerFilter {
        churn_risk: Some(true),
        ..Default::default()
    };
    assert_eq!(
        all_pages(&store, &risky, CustomerSort::ValueAtRiskDesc, 2).await,
        want
    );
    // Without a filter the value-at-risk sort lists every customer with figures.
    assert_eq!(
        all_pages(
            &store,
            &CustomerFilter::default(),
            CustomerSort::ValueAtRiskDesc,
            4
        )
        .await
        .len(),
        25
    );
    // Plain lists still show everyone.
    assert_eq!(
        all_pages(&store, &CustomerFilter::default(), CustomerSort::Id, 50)
            .await
            .len(),
        30
    );
    // A cursor of another sort order is refused, not misread.
    let p = store
        .list_customers(
            &CustomerFilter::default(),
            CustomerSort::Name,
            &PageRequest {
                limit: Some(1),
                after: None,
            },
        )
        .await
        .unwrap();
    assert!(store
        .list_customers(
            &CustomerFilter::default(),
            CustomerSort::ClvDesc,
            &PageRequest {
                limit: Some(1),
                after: p.next,
            },
        )
        .await
        .is_err());
}

async fn many_rows_in_one_refresh(store: Store) {
    // More rows than one INSERT takes; customers need not exist (no foreign key).
    let rows: Vec<_> = (1..=1234).map(|id| row(id, id % 11)).collect();
    let t = std::time::Instant::now();
    store
        .replace_customer_values(&rows, &snapshot("big"))
        .await
        .unwrap();
    eprintln!("{} rows in {:?}", rows.len(), t.elapsed());
    assert_eq!(
        store.customer_value(1234).await.unwrap().unwrap(),
        rows[1233]
    );
    let ids: Vec<i64> = (1..=1300).collect();
    assert_eq!(store.customer_values_of(&ids).await.unwrap().len(), 1234);
}

async fn deleting_a_customer_deletes_its_figures(store: Store) {
    let ids = customers(&store, 2).await;
    let rows = vec![row(ids[0], 1), row(ids[1], 2)];
    store
        .replace_customer_values(&rows, &snapshot("d"))
        .await
        .unwrap();
    store.delete_customer(ids[0]).await.unwrap();
    assert!(store.customer_value(ids[0]).await.unwrap().is_none());
    assert!(store.customer_value(ids[1]).await.unwrap().is_some());
}

/// The refresh and the one-customer upsert store the analysis's reasons without their sentence
/// and read them back equal (NaN and infinite figures included); rows written before, in the
/// full form, still read.
async fn reasons_are_stored_compact_and_old_rows_still_read(store: Store) {
    use patron_value::churn::ReasonKind;
    let ids = customers(&store, 3).await;
    let reasons = vec![
        StoredChurnReason::from(ReasonKind::RevenueDrop {
            current: 0.0,
            previous: 0.0,
            change: f64::NAN,
            period_days: 90,
        }),
        StoredChurnReason::from(ReasonKind::LongAbsence {
            days_since_last: 10.0,
            mean_gap_days: 0.0,
            ratio: f64::INFINITY,
        }),
        StoredChurnReason::from(ReasonKind::LowPAlive {
            p_alive: 1.0 / 7.0,
            threshold: 0.3,
        }),
        StoredChurnReason::from(ReasonKind::NoSecondPurchase {
            days_since_purchase: 730.0,
            typical_gap_days: 365.0,
            quantile: 0.9,
            repeat_buyers: 0,
        }),
    ];
    let mut rows: Vec<_> = ids
        .iter()
        .enumerate()
        .map(|(k, &id)| row(id, k as i64))
        .collect();
    rows[0].churn_reasons = reasons.clone();
    // With `row`'s reasons kept as read.
    rows[2] = row(ids[2], 3);
    store
        .replace_customer_values(&rows, &snapshot("compact"))
        .await
        .unwrap();
    let got = store.customer_value(ids[0]).await.unwrap().unwrap();
    assert_eq!(got.churn_reasons, reasons);
    for (a, b) in got.churn_reasons.iter().zip(&reasons) {
        assert!(a.known().is_some());
        assert_eq!(a.detail(), b.detail());
    }
    // One customer's upsert writes the same form.
    let mut one = rows[1].clone();
    one.churn_reasons = reasons[1..].to_vec();
    store.upsert_customer_value(&one).await.unwrap();
    let got = store.customer_value(ids[1]).await.unwrap().unwrap();
    assert_eq!(got, one);
    // No sentence stored for a known reason; the sentences kept as read (`row`'s) are.
    let count = |filter: &str| {
        let sql = format!("UPDATE customer_values SET grade = grade WHERE {filter}");
        let store = &store;
        async move { store.raw_execute(&sql).await.unwrap() }
    };
    assert_eq!(
        count("CAST(churn_reasons AS TEXT) LIKE '%no_second_purchase%'").await,
        2
    );
    assert_eq!(
        count("CAST(churn_reasons AS TEXT) LIKE '%times the usual gap%'").await,
        0
    );
    assert_eq!(
        count("CAST(churn_reasons AS TEXT) LIKE '%revenue down 80%'").await,
        1
    );
    // A row of an earlier build: the full form, with and without figures.
    let old = r#"[{"kind":"long_absence","detail":"no purchase for 717 days, 59.8 times the usual gap of 12.0 days","figures":{"days_since_last":717.0,"mean_gap_days":12.0,"ratio":59.75}},{"kind":"revenue_drop","detail":"revenue down 80%"}]"#;
    assert_eq!(
        store
            .raw_execute(&format!(
                "UPDATE customer_values SET churn_reasons = '{old}' WHERE customer_id = {}",
                ids[2]
            ))
            .await
            .unwrap(),
        1
    );
    let got = store.customer_value(ids[2]).await.unwrap().unwrap();
    assert_eq!(
        got.churn_reasons[0],
        StoredChurnReason::from(ReasonKind::LongAbsence {
            days_since_last: 717.0,
            mean_gap_days: 12.0,
            ratio: 59.75
        })
    );
    assert!(got.churn_reasons[1].known().is_none());
    assert_eq!(got.churn_reasons[1].detail(), "revenue down 80%");
    assert_eq!(
        got.churn_kinds().as_deref(),
        Some("long_absence;revenue_drop")
    );
    // And the API's JSON of it is what was stored.
    assert_eq!(
        serde_json::to_value(&got.churn_reasons).unwrap(),
        json!([
            {"kind": "long_absence", "detail": "no purchase for 717 days, 59.8 times the usual gap of 12.0 days",
             "figures": {"days_since_last": 717.0, "mean_gap_days": 12.0, "ratio": 59.75}},
            {"kind": "revenue_drop", "detail": "revenue down 80%", "figures": {}},
        ])
    );
}
