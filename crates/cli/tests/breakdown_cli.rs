//! `patron value breakdown`: the value figures per region as a table and as CSV (money exact
//! to the cent), product categories with the figures that do not apply left empty, and a bad
//! dimension refused with the allowed ones named.

use std::process::Command;

use patron_store::{CustomerValueRow, Store};
use serde_json::json;

fn patron(db: &str, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_patron"))
        .args(["--database", db])
        .args(args)
        .output()
        .expect("running patron")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn breakdown_by_region_and_category() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("patron.db");
    let db = db.to_str().unwrap();
    let store = Store::connect(db).await.unwrap();
    let mut ids = Vec::new();
    for (name, region) in [("Ada", "East"), ("Bo", "East"), ("Cy", "West")] {
        let input = serde_json::from_value(json!({"name": name, "region": region})).unwrap();
        ids.push(store.create_customer(input, "test").await.unwrap().id);
    }
    for (c, day, cat, amount, cost) in [
        (ids[0], "2026-02-10", "tea", "10.10", "5.05"),
        (ids[1], "2026-05-20", "tea", "0.20", "0.10"),
        (ids[2], "2026-06-30", "cups", "7.00", "1.00"),
    ] {
        let input = serde_json::from_value(json!({
            "ordered_on": day, "lines": [{"category": cat, "amount": amount, "cost": cost}]
        }))
        .unwrap();
        store.create_order(c, input).await.unwrap();
    }
    for (c, revenue, margin, clv) in [
        (ids[0], 1010, 505, Some(0.1)),
        (ids[1], 20, 10, Some(0.2)),
        (ids[2], 700, 600, None),
    ] {
        let mut r = CustomerValueRow::without_orders(
            c,
            chrono::Utc::now(),
            "day".into(),
            "2026-06-30".parse().unwrap(),
        );
        (r.orders, r.revenue_cents, r.margin_cents, r.clv) = (1, revenue, margin, clv);
        r.abc_class = "A".into();
        store.upsert_customer_value(&r).await.unwrap();
    }
    store.close().await;

    let o = patron(db, &["value", "breakdown", "--by", "region", "--csv"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let csv = String::from_utf8(o.stdout).unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(
        lines[0],
        "region,customers,revenue,margin,clv,churn_risk,abc_a,abc_b,abc_c,revenue_this,revenue_prev,margin_this,margin_prev,active_this,active_prev,new_this,new_prev"
    );
    // East: 10.10 + 0.20 (no float artefact), CLV 0.1 + 0.2 to the cent; this quarter
    // (2026-04-01..06-30) holds Bo's line, the previous one Ada's.
    assert_eq!(
        lines[1],
        "East,2,10.30,5.15,0.30,0,2,0,0,0.20,10.10,0.10,5.05,1,1,1,1"
    );
    assert_eq!(
        lines[2],
        "West,1,7.00,6.00,,0,1,0,0,7.00,0.00,6.00,0.00,1,0,1,0"
    );
    assert_eq!(lines.len(), 3);

    let o = patron(
        db,
        &["value", "breakdown", "--by", "category", "--period", "year"],
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let text = String::from_utf8(o.stdout).unwrap();
    assert!(text.contains("clv, churn_risk, abc do not apply"), "{text}");
    let tea = text.lines().find(|l| l.starts_with("tea")).unwrap();
    assert_eq!(
        tea.split_whitespace().take(4).collect::<Vec<_>>(),
        ["tea", "2", "10.30", "5.15"]
    );

    let o = patron(db, &["value", "breakdown", "--by", "colour"]);
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("region") && err.contains("owner"), "{err}");
}
