//! Cross-checks of the descriptive analytics on random data, and the scale requirement
//! (10 million order lines, 1 million customers; run with
//! `cargo test --release -p patron-value --test descriptive_scale -- --ignored`).

use std::collections::BTreeMap;
use std::time::Instant;

use patron_value::abc::{classify, AbcConfig};
use patron_value::churn::{churn_warnings, ChurnConfig};
use patron_value::rfm::{inputs_from_summaries, rfm, MonetaryBasis, RfmConfig};
use patron_value::summary::{summarize, Grouping, SummaryOptions, TimeUnit};
use patron_value::whale::{whale_curve, WhaleConfig};
use patron_value::OrderLine;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};

fn random_orders(rng: &mut StdRng, lines: usize, customers: u32) -> Vec<OrderLine> {
    (0..lines)
        .map(|_| {
            let revenue = f64::from(rng.gen_range(0..20_000)) / 100.0;
            OrderLine {
                customer: rng.gen_range(0..customers),
                day: rng.gen_range(10_000..10_800),
                revenue,
                cost: revenue * rng.gen_range(0.3..1.3),
            }
        })
        .collect()
}

/// Straightforward reference: group by customer in a map, distinct periods by set.
fn naive(
    orders: &[OrderLine],
    n: usize,
    end: i32,
    unit: TimeUnit,
    grouping: Grouping,
) -> Vec<(f64, f64, f64, f64, f64)> {
    let mut by: BTreeMap<u32, Vec<(i32, f64, f64)>> = BTreeMap::new();
    for o in orders.iter().filter(|o| o.day <= end) {
        by.entry(o.customer)
            .or_default()
            .push((o.day, o.revenue, o.cost));
    }
    (0..n as u32)
        .map(|c| {
            let Some(v) = by.get(&c) else {
                return (0.0, 0.0, 0.0, 0.0, 0.0);
            };
            let first = v.iter().map(|x| x.0).min().unwrap();
            let last = v.iter().map(|x| x.0).max().unwrap();
            let week = |d: i32| (d + 3).div_euclid(7);
            let period = |d: i32| match (unit, grouping) {
                (TimeUnit::Day, _) | (_, Grouping::Days) => d,
                (_, Grouping::Calendar) => week(d),
                (_, Grouping::Relative) => (d - first).div_euclid(7),
            };
            let mut periods: BTreeMap<i32, f64> = BTreeMap::new();
            for x in v {
                *periods.entry(period(x.0)).or_default() += x.1;
            }
            let freq = periods.len() as f64 - 1.0;
            let repeat: f64 = periods.iter().skip(1).map(|(_, r)| r).sum();
            let (rec, t) = match (unit, grouping) {
                (TimeUnit::Day, _) | (_, Grouping::Days) => {
                    let u = if unit == TimeUnit::Week { 7.0 } else { 1.0 };
                    (f64::from(last - first) / u, f64::from(end - first) / u)
                }
                _ => (
                    f64::from(period(last) - period(first)),
                    f64::from(period(end) - period(first)),
                ),
            };
            let margin: f64 = v.iter().map(|x| x.1 - x.2).sum();
            (
                freq,
                rec,
                t,
                if freq > 0.0 { repeat / freq } else { 0.0 },
                margin,
            )
        })
        .collect()
}

#[test]
fn summary_matches_naive_reference_in_any_order() {
    let mut rng = StdRng::seed_from_u64(7);
    let mut orders = random_orders(&mut rng, 20_000, 1_500);
    let end = 10_600;
    for unit in [TimeUnit::Day, TimeUnit::Week] {
        for grouping in [Grouping::Days, Grouping::Calendar, Grouping::Relative] {
            let opts = SummaryOptions {
                grouping,
                ..SummaryOptions::until(end, unit)
            };
            let want = naive(&orders, 1_600, end, unit, grouping);
            orders.shuffle(&mut rng);
            let got = summarize(&orders, 1_600, &opts).unwrap();
            for (c, (g, w)) in got.iter().zip(&want).enumerate() {
                let r = g.rft;
                assert_eq!(r.frequency, w.0, "{unit:?} {grouping:?} customer {c}");
                assert!((r.recency - w.1).abs() < 1e-9, "{unit:?} {grouping:?} {c}");
                assert!((r.t - w.2).abs() < 1e-9, "{unit:?} {grouping:?} {c}");
                assert!(
                    (r.monetary_value - w.3).abs() < 1e-6,
                    "{unit:?} {grouping:?} {c}"
                );
                assert!((g.margin - w.4).abs() < 1e-6, "{unit:?} {grouping:?} {c}");
            }
        }
    }
}

#[test]
fn pipeline_on_random_data_has_no_nan() {
    let mut rng = StdRng::seed_from_u64(11);
    let orders = random_orders(&mut rng, 50_000, 5_000);
    let s = summarize(
        &orders,
        5_000,
        &SummaryOptions::until(10_700, TimeUnit::Week),
    )
    .unwrap();
    let margins: Vec<f64> = s.iter().map(|c| c.margin).collect();
    assert!(margins.iter().any(|m| *m < 0.0));
    let a = classify(&margins, &AbcConfig::default()).unwrap();
    assert!(a.stats.iter().all(|x| x.value_share.is_finite()));
    let w = whale_curve(&margins, &WhaleConfig::default());
    assert!(w.figures.peak >= 100.0);
    assert!(w.curve.iter().all(|p| p.profit_pct.is_finite()));
    let r = rfm(
        &inputs_from_summaries(&s, 10_700, MonetaryBasis::Total),
        &RfmConfig::default(),
    );
    let cells: u64 = r.grid.iter().flatten().map(|c| c.customers).sum();
    assert_eq!(cells as usize, r.scores.len());
    let warn = churn_warnings(&orders, 5_000, 10_700, None, &ChurnConfig::default()).unwrap();
    assert!(warn
        .windows(2)
        .all(|p| p[0].value_at_risk >= p[1].value_at_risk));
}

#[test]
#[ignore = "scale check, run in release"]
fn ten_million_lines_one_million_customers() {
    let mut rng = StdRng::seed_from_u64(1);
    let orders = random_orders(&mut rng, 10_000_000, 1_000_000);
    let t = Instant::now();
    let s = summarize(
        &orders,
        1_000_000,
        &SummaryOptions::until(10_600, TimeUnit::Week),
    )
    .unwrap();
    let summary_time = t.elapsed();
    assert_eq!(s.len(), 1_000_000);
    let t = Instant::now();
    let w = churn_warnings(&orders, 1_000_000, 10_700, None, &ChurnConfig::default()).unwrap();
    let churn_time = t.elapsed();
    assert!(!w.is_empty());
    let margins: Vec<f64> = s.iter().map(|c| c.margin).collect();
    let t = Instant::now();
    let _ = classify(&margins, &AbcConfig::default()).unwrap();
    let _ = whale_curve(&margins, &WhaleConfig::default());
    let _ = rfm(
        &inputs_from_summaries(&s, 10_600, MonetaryBasis::Total),
        &RfmConfig::default(),
    );
    let rest_time = t.elapsed();
    assert!(
        summary_time.as_secs_f64() < 5.0,
        "summary took {summary_time:?}"
    );
    assert!(churn_time.as_secs_f64() < 5.0, "churn took {churn_time:?}");
    assert!(
        rest_time.as_secs_f64() < 5.0,
        "abc/whale/rfm took {rest_time:?}"
    );
    eprintln!("summary {summary_time:?}, churn {churn_time:?}, abc+whale+rfm {rest_time:?}");
}
