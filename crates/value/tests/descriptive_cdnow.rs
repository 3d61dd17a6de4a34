//! The summary reproduces the published CDNOW calibration summary
//! (`data/cdnow_customers_summary_with_transactions.csv`) for all 2,357 customers.

use patron_value::summary::{day_from_ymd, summarize, Grouping, SummaryOptions, TimeUnit};
use patron_value::OrderLine;

fn data(name: &str) -> String {
    let path = format!("{}/../../data/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// Sample rows: `customer_id sample_id YYYYMMDD cds dollars`; customer index = sample_id - 1.
fn sample_orders() -> (Vec<OrderLine>, usize) {
    let mut orders = Vec::new();
    let mut n = 0;
    for row in data("CDNOW_sample.txt").lines() {
        let f: Vec<&str> = row.split_whitespace().collect();
        if f.is_empty() {
            continue;
        }
        let id: u32 = f[1].parse().unwrap();
        let ymd: u32 = f[2].parse().unwrap();
        let day = day_from_ymd((ymd / 10_000) as i32, ymd / 100 % 100, ymd % 100).unwrap();
        orders.push(OrderLine {
            customer: id - 1,
            day,
            revenue: f[4].parse().unwrap(),
            cost: 0.0,
        });
        n = n.max(id as usize);
    }
    (orders, n)
}

fn two_decimals(x: f64) -> String {
    // The file rounds half away from zero on the decimal value; nudge binary ties the same way.
    format!("{:.2}", (x * 100.0 + 1e-7).round() / 100.0)
}

#[test]
fn reproduces_published_cdnow_summary() {
    let (orders, n) = sample_orders();
    assert_eq!(orders.len(), 6_919);
    assert_eq!(n, 2_357);
    let end = day_from_ymd(1997, 9, 30).unwrap();
    let opts = SummaryOptions::until(end, TimeUnit::Week);
    assert_eq!(opts.grouping, Grouping::Days);
    let s = summarize(&orders, n, &opts).unwrap();

    let expected = data("cdnow_customers_summary_with_transactions.csv");
    let mut rows = 0;
    for row in expected.lines().skip(1) {
        let f: Vec<&str> = row.trim().split(',').collect();
        if f.len() < 5 {
            continue;
        }
        let id: usize = f[0].parse().unwrap();
        let c = &s[id - 1];
        let got = [
            format!("{}", c.rft.frequency),
            two_decimals(c.rft.recency),
            two_decimals(c.rft.t),
            two_decimals(c.rft.monetary_value),
        ];
        assert_eq!(got, [f[1], f[2], f[3], f[4]], "customer {id}");
        rows += 1;
    }
    assert_eq!(rows, 2_357);
    let repeaters = s.iter().filter(|c| c.rft.frequency > 0.0).count();
    assert_eq!(repeaters, 946);
}

#[test]
fn cdnow_holdout_totals() {
    let (orders, n) = sample_orders();
    let end = day_from_ymd(1997, 9, 30).unwrap();
    let opts = SummaryOptions {
        observation_end: Some(day_from_ymd(1998, 6, 30).unwrap()),
        ..SummaryOptions::until(end, TimeUnit::Week)
    };
    assert!((opts.holdout_length() - 273.0 / 7.0).abs() < 1e-12);
    let s = summarize(&orders, n, &opts).unwrap();
    let total: f64 = orders.iter().map(|o| o.revenue).sum();
    let split: f64 = s.iter().map(|c| c.revenue + c.holdout_revenue).sum();
    assert!((total - split).abs() < 1e-6 * total);
    // Every order is either calibration or holdout; all customers bought in calibration.
    assert!(s.iter().all(|c| c.first_day.is_some()));
    let lines: u64 = s.iter().map(|c| c.orders).sum();
    assert!(lines < 6_919);
    let hold: f64 = s.iter().map(|c| c.holdout_purchases).sum();
    assert!(hold > 0.0);
}
