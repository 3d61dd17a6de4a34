//! A refresh on the full CDNOW master file (23,570 customers, 69,659 order lines, in the
//! repository's `data/` folder), on both backends: the totals and one customer's figures must come
//! out right. A missing data file fails the test. Speed is measured by the benchmarks, not here.

use patron_domain::{CustomerInput, Money};
use patron_store::{backend_tests, ImportCustomer, ImportOrderLine, Store};

const MASTER: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../data/CDNOW_master.txt");

backend_tests!(refresh_on_cdnow_master);

async fn refresh_on_cdnow_master(store: Store) {
    let text = std::fs::read_to_string(MASTER)
        .unwrap_or_else(|e| panic!("cannot read the CDNOW master file {MASTER}: {e}"));
    let mut numbers: Vec<String> = Vec::new();
    let mut lines = Vec::new();
    for l in text.lines().skip(1) {
        let f: Vec<&str> = l.split_whitespace().collect();
        let [id, date, cds, dollars] = f[..] else {
            continue;
        };
        if numbers.last().map(String::as_str) != Some(id) {
            numbers.push(id.to_string());
        }
        lines.push((
            id.to_string(),
            chrono::NaiveDate::parse_from_str(date, "%Y%m%d").unwrap(),
            cds.parse::<i64>().unwrap(),
            (dollars.parse::<f64>().unwrap() * 100.0).round() as i64,
        ));
    }
    numbers.sort();
    numbers.dedup();
    let customers: Vec<ImportCustomer> = numbers
        .iter()
        .map(|n| ImportCustomer {
            number: n.clone(),
            data: CustomerInput {
                name: format!("CDNOW {n}"),
                ..Default::default()
            },
        })
        .collect();
    for chunk in customers.chunks(5000) {
        store.import_customers(chunk, "test").await.unwrap();
    }
    let ids = store.customer_ids(&numbers).await.unwrap();
    let rows: Vec<ImportOrderLine> = lines
        .iter()
        .enumerate()
        .map(|(k, (n, d, q, cents))| ImportOrderLine {
            customer_id: ids[n],
            order_ref: format!("L{k}"),
            line_no: 1,
            ordered_on: *d,
            category: None,
            quantity: *q,
            amount: Money(*cents),
            cost: Money(0),
        })
        .collect();
    for chunk in rows.chunks(10_000) {
        store.import_order_lines(chunk).await.unwrap();
    }
    let opts = patron_value::AnalysisOptions {
        unit: patron_value::summary::TimeUnit::Week,
        ..Default::default()
    };
    // As of the data's last order date (the figures of the literature's CDNOW sample).
    let as_of = chrono::NaiveDate::from_ymd_opt(1998, 6, 30).unwrap();
    let snap = patron_server::value::refresh(&store, &opts, as_of)
        .await
        .unwrap();
    assert_eq!(snap.report["totals"]["customers"], 23_570);
    assert_eq!(snap.report["totals"]["order_lines"], 69_659);
    let v = store.customer_value(ids["00001"]).await.unwrap().unwrap();
    assert_eq!(v.revenue_cents, 1177);
    assert!(v.p_alive.is_some());
}
