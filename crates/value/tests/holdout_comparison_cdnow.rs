//! BG/NBD, MBG/NBD and Pareto/NBD fitted on the CDNOW sample's 39-week calibration period
//! (1997-01-01 to 1997-09-30) and compared on the following 39-week holdout (to 1998-06-30).
//!
//! Cross-check: lifetimes 0.11.3 (`BetaGeoFitter`, `ModifiedBetaGeoFitter`, `ParetoNBDFitter`
//! fitted on `data/cdnow_customers_summary_with_transactions.csv`, holdout purchases = distinct
//! purchase days of `data/CDNOW_sample.txt` in 1997-10-01..1998-06-30, predictions
//! `conditional_expected_number_of_purchases_up_to_time(39, x, t_x, T)`; lifetimes'
//! `calibration_and_holdout_data` does not run under pandas 3, hence the hand-made split) gives
//! an actual total of 1882 and the predicted totals, MAE and RMSE in `LIFETIMES` below.

/// Model, predicted holdout total, mean absolute error, root mean squared error (lifetimes).
const LIFETIMES: [(ModelKind, f64, f64, f64); 3] = [
    (
        ModelKind::BgNbd,
        1653.4232833306896,
        0.7854565379837715,
        1.6080067131654303,
    ),
    (
        ModelKind::MbgNbd,
        1576.7356993135322,
        0.7647805868623713,
        1.6072046515536282,
    ),
    (
        ModelKind::ParetoNbd,
        1665.5492471710195,
        0.7545284655959367,
        1.6028734155741988,
    ),
];

use patron_value::models::diagnostics::{compare_on_holdout, compare_summaries_on_holdout};
use patron_value::models::{FitOptions, ModelError, ModelKind};
use patron_value::summary::{day_from_ymd, summarize, Rft, SummaryOptions, TimeUnit};
use patron_value::OrderLine;

/// Sample rows: `customer_id sample_id YYYYMMDD cds dollars`; customer index = sample_id - 1.
fn sample_orders() -> (Vec<OrderLine>, usize) {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../data/CDNOW_sample.txt");
    let text = std::fs::read_to_string(path).expect("CDNOW sample");
    let mut orders = Vec::new();
    let mut n = 0;
    for row in text.lines() {
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

#[test]
fn cdnow_39_plus_39_weeks() {
    let (orders, n) = sample_orders();
    let opts = SummaryOptions {
        observation_end: Some(day_from_ymd(1998, 6, 30).unwrap()),
        ..SummaryOptions::until(day_from_ymd(1997, 9, 30).unwrap(), TimeUnit::Week)
    };
    let length = opts.holdout_length();
    assert!((length - 39.0).abs() < 1e-12);
    let s = summarize(&orders, n, &opts).unwrap();
    let cmp = compare_summaries_on_holdout(&s, length, &FitOptions::default()).unwrap();
    let kinds: Vec<ModelKind> = cmp.iter().map(|c| c.kind).collect();
    assert_eq!(
        kinds,
        [ModelKind::BgNbd, ModelKind::MbgNbd, ModelKind::ParetoNbd]
    );
    for c in &cmp {
        println!(
            "{:>9}: ll {:.2}  predicted {:.2}  actual {}  rel {:+.4}  MAE {:.5}  RMSE {:.5}",
            c.kind.to_string(),
            c.fit.as_ref().unwrap().log_likelihood,
            c.predicted_total,
            c.actual_total,
            c.total_relative_error,
            c.mean_absolute_error,
            c.root_mean_squared_error
        );
    }
    // Pinned (this implementation, printed above): every model under-predicts the holdout by
    // 12-16%; the MBG/NBD predicts the least (it lets one-time buyers die) yet has a lower
    // per-customer error than the BG/NBD; the Pareto/NBD is best on both counts.
    let pinned = [
        (ModelKind::BgNbd, 1653.41, 0.78545, 1.60798),
        (ModelKind::MbgNbd, 1576.73, 0.76478, 1.60718),
        (ModelKind::ParetoNbd, 1665.51, 0.75452, 1.60285),
    ];
    for ((c, p), l) in cmp.iter().zip(pinned).zip(LIFETIMES) {
        assert_eq!((c.kind, c.kind), (p.0, l.0));
        assert!(c.error.is_none());
        assert_eq!(c.n_customers, 2357);
        assert_eq!(c.actual_total, 1882.0);
        assert!((c.predicted_total - p.1).abs() < 0.01, "{c:?}");
        assert!((c.mean_absolute_error - p.2).abs() < 1e-5, "{c:?}");
        assert!((c.root_mean_squared_error - p.3).abs() < 1e-5, "{c:?}");
        assert!(
            ((c.total_relative_error) - (p.1 / 1882.0 - 1.0)).abs() < 1e-5,
            "{c:?}"
        );
        // lifetimes agrees to its own optimiser's precision.
        assert!(
            (c.predicted_total / l.1 - 1.0).abs() < 1e-4,
            "{c:?} vs {l:?}"
        );
        assert!(
            (c.mean_absolute_error / l.2 - 1.0).abs() < 1e-4,
            "{c:?} vs {l:?}"
        );
        assert!(
            (c.root_mean_squared_error / l.3 - 1.0).abs() < 1e-4,
            "{c:?} vs {l:?}"
        );
    }
}

#[test]
fn comparison_checks_its_input_and_reports_failed_fits() {
    let c = |x: f64, tx: f64, t: f64| Rft {
        frequency: x,
        recency: tx,
        t,
        monetary_value: 0.0,
    };
    let cal = [c(0.0, 0.0, 10.0), c(2.0, 5.0, 10.0), c(1.0, 3.0, 8.0)];
    let opts = FitOptions::default();
    let kinds = [ModelKind::BgNbd, ModelKind::MbgNbd];
    assert!(matches!(
        compare_on_holdout(&cal, &[0.0], 5.0, &kinds, &opts),
        Err(ModelError::LengthMismatch { .. })
    ));
    assert!(compare_on_holdout(&cal, &[0.0, -1.0, 0.0], 5.0, &kinds, &opts).is_err());
    assert!(compare_on_holdout(&cal, &[0.0; 3], f64::NAN, &kinds, &opts).is_err());
    // Nobody repeated: no model can be fitted, each says why.
    let none = [c(0.0, 0.0, 10.0), c(0.0, 0.0, 4.0)];
    let out = compare_on_holdout(&none, &[1.0, 0.0], 5.0, &kinds, &opts).unwrap();
    assert_eq!(out.len(), 2);
    for o in &out {
        assert!(o.fit.is_none() && o.error.is_some());
        assert!(o.mean_absolute_error.is_nan());
        assert_eq!(o.actual_total, 1.0);
    }
}
