//! A refresh on the full CDNOW master file (23,570 customers, 69,659 order lines), on both
//! backends: it must finish in a couple of seconds (timings printed; run with --release for
//! representative figures). Skipped when the data file is absent.

use std::time::Instant;

use patron_domain::{CustomerInput, Money};
use patron_store::{backend_tests, ImportCustomer, ImportOrderLine, Store};

const MASTER: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../../shared/data/CDNOW_master.txt"
);

backend_tests!(refresh_on_cdnow_master);

async fn refresh_on_cdnow_master(store: Store) {
    let Ok(text) = std::fs::read_to_string(MASTER) else {
        eprintln!("{MASTER} not found: skipped");
        return;
    };
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
    let t = Instant::now();
    let opts = patron_value::AnalysisOptions {
        unit: patron_value::summary::TimeUnit::Week,
        ..Default::default()
    };
    let snap = patron_server::value::refresh(&store, &opts).await.unwrap();
    let secs = t.elapsed().as_secs_f64();
    eprintln!(
        "{:?}: refresh of {} customers in {secs:.2} s; {}",
        store.kind(),
        snap.report["totals"]["customers"],
        snap.report["refresh_seconds"]
    );
    assert_eq!(snap.report["totals"]["customers"], 23_570);
    assert_eq!(snap.report["totals"]["order_lines"], 69_659);
    let v = store.customer_value(ids["00001"]).await.unwrap().unwrap();
    assert_eq!(v.revenue_cents, 1177);
    assert!(v.p_alive.is_some());
    // Debug builds are several times slower than release ones.
    let limit = if cfg!(debug_assertions) { 30.0 } else { 3.0 };
    assert!(secs < limit, "{secs} s");
}
