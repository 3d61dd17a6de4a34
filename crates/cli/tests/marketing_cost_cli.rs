//! `patron customer cost` and `patron campaign allocate-cost`: costs recorded and listed with
//! exact money, bad input refused naming the field, a campaign's cost split to the cent.

use std::process::Command;

use patron_store::Store;
use serde_json::json;

fn patron(db: &str, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_patron"))
        .args(["--database", db, "--as", "tester"])
        .args(args)
        .output()
        .expect("running patron")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn costs_recorded_listed_and_allocated() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("patron.db");
    let db = db.to_str().unwrap();
    let store = Store::connect(db).await.unwrap();
    let mut ids = Vec::new();
    for name in ["Ada", "Bo", "Cy"] {
        let input = serde_json::from_value(json!({"name": name, "source": "Tea fair"})).unwrap();
        ids.push(store.create_customer(input, "test").await.unwrap().id);
    }
    let order = serde_json::from_value(json!({
        "ordered_on": "2026-01-10", "lines": [{"amount": "1000.00", "cost": "400.00"}]
    }))
    .unwrap();
    store.create_order(ids[0], order).await.unwrap();
    store.close().await;
    let ada = format!("#{}", ids[0]);

    for (kind, amount) in [("gift", "500.00"), ("visit", "0.10"), ("visit", "0.20")] {
        let o = patron(
            db,
            &[
                "customer",
                "cost",
                "add",
                &ada,
                "--kind",
                kind,
                "--amount",
                amount,
                "--date",
                "2026-03-01",
                "--note",
                "=SUM(A1)",
            ],
        );
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    }
    let o = patron(db, &["customer", "cost", "list", &ada]);
    let text = String::from_utf8(o.stdout).unwrap();
    assert!(text.contains("3 cost(s), total 500.30"), "{text}");
    let o = patron(db, &["customer", "cost", "list", &ada, "--csv"]);
    let csv = String::from_utf8(o.stdout).unwrap();
    assert!(
        csv.contains(",2026-03-01,gift,500.00,,'=SUM(A1),tester"),
        "{csv}"
    );

    let o = patron(
        db,
        &[
            "customer", "cost", "add", &ada, "--kind", "campaign", "--amount", "5",
        ],
    );
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("kind"));

    let o = patron(
        db,
        &[
            "campaign",
            "add",
            "Tea fair",
            "--cost",
            "100.00",
            "--start",
            "2026-02-01",
        ],
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let o = patron(db, &["campaign", "allocate-cost", "1"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let out = String::from_utf8(o.stdout).unwrap();
    assert!(
        out.contains("100.00 allocated over 3 customers (33.33 each, a cent more for the first 1)"),
        "{out}"
    );
    let o = patron(
        db,
        &["customer", "cost", "list", &format!("#{}", ids[1]), "--csv"],
    );
    let csv = String::from_utf8(o.stdout).unwrap();
    assert!(
        csv.contains(",2026-02-01,campaign,33.33,1,,tester"),
        "{csv}"
    );

    // The database export charges Ada her records instead of the flat rate, exactly:
    // 1000.00 - 400.00 - (500.00 + 0.10 + 0.20 + 33.34).
    let o = patron(
        db,
        &[
            "value",
            "export",
            "--calibration-end",
            "2026-06-30",
            "--marketing-cost",
            "50",
        ],
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let csv = String::from_utf8(o.stdout).unwrap();
    let mut lines = csv.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let col = |name: &str| header.iter().position(|h| *h == name).unwrap();
    let row: Vec<&str> = lines.next().unwrap().split(',').collect();
    assert_eq!(row[col("marketing_cost")], "533.64", "{csv}");
    assert_eq!(row[col("margin")], "66.36", "{csv}");
}
