//! The refresh's bulk write of value rows (SQLite: the C API loop; PostgreSQL: COPY) stores
//! exactly what one customer's upsert (sqlx binds) stores for the same row: every column's
//! value and, on SQLite, its storage class.

use chrono::{DateTime, SubsecRound, Utc};
use patron_store::{backend_tests, BackendKind, CustomerValueRow, NewSnapshot, Store};
use serde_json::json;

fn rows() -> Vec<CustomerValueRow> {
    let at = |s: &str| s.parse::<DateTime<Utc>>().unwrap();
    let times = [
        at("2024-12-30T08:15:42.123456Z"),
        at("2024-12-30T08:15:42Z"),
        at("2024-12-30T08:15:42.120Z"),
        Utc::now().trunc_subsecs(6),
    ];
    let odd = [
        f64::NAN,
        f64::INFINITY,
        f64::NEG_INFINITY,
        -0.0,
        1e-300,
        123456789.125,
    ];
    let texts = [
        "champions",
        "it's \"quoted\"",
        "tab\there\nnew line \\ back",
        "客户 ✓",
        "",
    ];
    let reason: patron_store::StoredChurnReason = serde_json::from_value(json!({
        "kind": "long_absence",
        "detail": "no purchase for 717 days, 59.8 times the usual gap of 12.0 days",
        "figures": {"days_since_last": 717.0, "mean_gap_days": 12.0, "ratio": 59.75},
    }))
    .expect("a stored reason");
    (0..40i64)
        .map(|k| {
            let u = k as usize;
            let f = |j: usize| match (u + j) % 4 {
                0 => None,
                1 => Some(odd[(u + j) % odd.len()]),
                _ => Some((k * 7 + j as i64) as f64 / 8.0),
            };
            let t = |j: usize| !(u + j).is_multiple_of(3);
            CustomerValueRow {
                customer_id: 1000 + k * 13,
                computed_at: times[u % times.len()],
                unit: if k % 2 == 0 { "day" } else { "week" }.into(),
                calibration_end: "2024-06-30".parse::<chrono::NaiveDate>().unwrap()
                    + chrono::Days::new(u as u64 % 3),
                frequency: f(0),
                recency: f(1),
                t: f(2),
                monetary_value: f(3),
                orders: k,
                revenue_cents: k * 1_000_003 - 7,
                cost_cents: -k,
                margin_cents: i64::MAX - k,
                rfm_r: t(0).then_some(k as i32 % 5 + 1),
                rfm_f: t(1).then_some(i32::MIN + k as i32),
                rfm_m: t(2).then_some(3),
                rfm_segment: t(3).then(|| texts[u % texts.len()].to_string()),
                abc_class: ["A", "B", "C"][u % 3].into(),
                p_alive: f(4),
                expected_purchases: f(5),
                expected_spend: f(6),
                clv: f(7),
                loyalty_stage: t(4).then(|| texts[(u + 1) % texts.len()].to_string()),
                lifecycle_phase: t(5).then(|| "growth".to_string()),
                churn_risk: k % 2 == 1,
                value_at_risk: f(8).unwrap_or(0.0),
                churn_reasons: if k % 2 == 1 {
                    vec![reason.clone(), reason.clone()]
                } else {
                    vec![]
                },
                score: f(9),
                grade: t(6).then(|| ["A", "B", "C", "D", "E"][u % 5].to_string()),
            }
        })
        .collect()
}

const COLUMNS: &str = "customer_id, computed_at, unit, calibration_end, frequency, recency, t, \
    monetary_value, orders, revenue_cents, cost_cents, margin_cents, rfm_r, rfm_f, rfm_m, \
    rfm_segment, abc_class, p_alive, expected_purchases, expected_spend, clv, loyalty_stage, \
    lifecycle_phase, churn_kinds, churn_reasons, churn_risk, value_at_risk, score, grade";

async fn bulk_write_stores_what_an_upsert_stores(store: Store) {
    let rows = rows();
    let snapshot = NewSnapshot {
        computed_at: Utc::now().trunc_subsecs(6),
        options: json!({}),
        report: json!({}),
    };
    store
        .replace_customer_values(&rows, &snapshot)
        .await
        .unwrap();
    // What the bulk path wrote, kept aside; then the same rows through the upsert.
    store
        .raw_execute("CREATE TABLE bulk_written AS SELECT * FROM customer_values")
        .await
        .unwrap();
    store
        .raw_execute("DELETE FROM customer_values")
        .await
        .unwrap();
    for r in &rows {
        store.upsert_customer_value(r).await.unwrap();
    }
    // SQLite compares 1 and 1.0 as equal: its storage class and quoted form are compared too.
    let cols = if store.kind() == BackendKind::Sqlite {
        COLUMNS
            .split(',')
            .map(|c| format!("typeof({0}) || ':' || quote({0})", c.trim()))
            .collect::<Vec<_>>()
            .join(", ")
    } else {
        COLUMNS.to_string()
    };
    let diff = |a: &str, b: &str| {
        format!("CREATE TABLE diff_{a} AS SELECT {cols} FROM {a} EXCEPT SELECT {cols} FROM {b}")
    };
    store
        .raw_execute(&diff("bulk_written", "customer_values"))
        .await
        .unwrap();
    store
        .raw_execute(&diff("customer_values", "bulk_written"))
        .await
        .unwrap();
    for t in ["diff_bulk_written", "diff_customer_values"] {
        // Rows affected by copying a table into itself: its row count.
        let count = store
            .raw_execute(&format!("INSERT INTO {t} SELECT * FROM {t}"))
            .await
            .unwrap();
        assert_eq!(count, 0, "{t}: rows stored differently by the two paths");
    }
    let same = store
        .raw_execute("INSERT INTO bulk_written SELECT * FROM bulk_written")
        .await
        .unwrap();
    assert_eq!(same as usize, rows.len());
    // And they read back as the rows written (non-finite figures as none).
    let ids: Vec<i64> = rows.iter().map(|r| r.customer_id).collect();
    let back = store.customer_values_of(&ids).await.unwrap();
    assert_eq!(back.len(), rows.len());
    for (a, b) in rows.iter().zip(&back) {
        assert_eq!(a.customer_id, b.customer_id);
        assert_eq!(a.computed_at, b.computed_at);
        assert_eq!(a.rfm_segment, b.rfm_segment);
        assert_eq!(a.margin_cents, b.margin_cents);
        assert_eq!(a.churn_reasons, b.churn_reasons);
        assert_eq!(a.clv.filter(|x| x.is_finite()), b.clv);
    }
}

backend_tests!(bulk_write_stores_what_an_upsert_stores);

/// A refresh whose rows cannot be stored (two rows of one customer) changes nothing: the old
/// figures stay, and PostgreSQL's half-built next table is gone; a next table left by a refresh
/// that was killed does not stop the next refresh.
async fn a_failed_write_keeps_the_old_figures(store: Store) {
    let rows = rows();
    let snapshot = NewSnapshot {
        computed_at: Utc::now().trunc_subsecs(6),
        options: json!({}),
        report: json!({}),
    };
    let first = store
        .replace_customer_values(&rows[..10], &snapshot)
        .await
        .unwrap();
    let mut twice = rows.clone();
    twice.push(rows[3].clone());
    assert!(store
        .replace_customer_values(&twice, &snapshot)
        .await
        .is_err());
    let ids: Vec<i64> = rows.iter().map(|r| r.customer_id).collect();
    let kept = store.customer_values_of(&ids).await.unwrap();
    assert_eq!(kept.len(), 10, "the old figures stay");
    assert_eq!(store.latest_snapshot().await.unwrap().unwrap().id, first.id);
    if store.kind() == BackendKind::Postgres {
        // Gone: creating it again works.
        store
            .raw_execute("CREATE TABLE customer_values_next (x INT)")
            .await
            .unwrap();
    }
    // (On PostgreSQL a leftover next table from here on.)
    let second = store
        .replace_customer_values(&rows, &snapshot)
        .await
        .unwrap();
    assert!(second.id > first.id);
    assert_eq!(
        store.customer_values_of(&ids).await.unwrap().len(),
        rows.len()
    );
}

backend_tests!(a_failed_write_keeps_the_old_figures);
