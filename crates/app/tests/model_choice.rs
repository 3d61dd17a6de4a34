//! The purchase model of a value refresh, on both backends: `auto` (the default) compares
//! BG/NBD, MBG/NBD and Pareto/NBD on a holdout and stores the comparison with the snapshot; a
//! pinned model is used as given, without the comparison; a database of three buyers says "not
//! enough purchase history" with the reason and the fallback, and no customer gets a CLV.

use chrono::{Days, NaiveDate};
use patron_app::report::SnapshotReport;
use patron_app::value::{refresh, today};
use patron_store::{backend_tests, Store};
use patron_value::analysis::ModelChoice;
use patron_value::AnalysisOptions;
use serde_json::json;

backend_tests!(
    auto_chooses_by_holdout_and_a_pinned_model_is_used,
    three_buyers_are_not_enough
);

fn label(kind: &str) -> &'static str {
    match kind {
        "bgnbd" => "BG/NBD",
        "mbgnbd" => "MBG/NBD",
        _ => "Pareto/NBD",
    }
}

async fn customer(store: &Store, name: &str) -> i64 {
    let input = serde_json::from_value(json!({ "name": name })).unwrap();
    store.create_customer(input, "test").await.unwrap().id
}

async fn order(store: &Store, customer: i64, day: NaiveDate, amount: f64) {
    let input = serde_json::from_value(json!({
        "ordered_on": day, "lines": [{"amount": amount}]
    }))
    .unwrap();
    store.create_order(customer, input).await.unwrap();
}

/// 150 customers over two years up to `as_of`: Poisson purchases at rates of their own, each
/// with an exponential lifetime of its own (seeded, so the same on every run).
async fn population(store: &Store, as_of: NaiveDate) {
    let mut seed = 11u64;
    let mut rand = move || {
        seed = seed
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (seed >> 11) as f64 / (1u64 << 53) as f64
    };
    let start = as_of.checked_sub_days(Days::new(730)).unwrap();
    for c in 0..150 {
        let id = customer(store, &format!("Buyer {c:03}")).await;
        let first = rand() * 200.0;
        let gap = 20.0 + 300.0 * rand() * rand();
        let death = first - (1.0 - rand()).ln() * 500.0 * (0.2 + rand());
        let mut t = first;
        while t <= 730.0 && t <= death {
            let day = start.checked_add_days(Days::new(t as u64)).unwrap();
            order(store, id, day, (10.0 + 50.0 * rand()).round()).await;
            t -= (1.0 - rand()).ln() * gap;
        }
    }
}

async fn auto_chooses_by_holdout_and_a_pinned_model_is_used(store: Store) {
    let as_of = today();
    population(&store, as_of).await;

    // auto (the default): the comparison is stored, and the chosen model gives the figures.
    let snap = refresh(&store, &AnalysisOptions::default(), as_of)
        .await
        .unwrap();
    assert_eq!(snap.options["model"], "auto");
    let report = SnapshotReport::of(&snap).expect("the report reads back");
    let choice = report
        .model_choice
        .as_ref()
        .expect("auto stores its comparison");
    let kinds: Vec<&str> = choice.comparison.iter().map(|c| c.kind.as_str()).collect();
    assert_eq!(kinds, ["bgnbd", "mbgnbd", "paretonbd"]);
    assert!(choice.calibration_end < choice.holdout_end);
    assert_eq!(choice.holdout_end, as_of);
    let used: Vec<_> = choice
        .comparison
        .iter()
        .filter(|c| c.excluded.is_none())
        .collect();
    assert!(!used.is_empty(), "{choice:?}");
    // The lowest error is chosen; a better model is passed over only when the whole period
    // does not identify it, and the reason says so.
    let chosen = used.iter().find(|c| c.kind == choice.chosen).unwrap();
    for c in &used {
        if c.mean_absolute_error < chosen.mean_absolute_error {
            let passed_over = format!("{} not used on the whole period", label(&c.kind));
            assert!(choice.reason.contains(&passed_over), "{choice:?}");
        }
    }
    for c in &choice.comparison {
        assert!(c.actual_total.unwrap() > 0.0);
        assert!(c.converged.is_some());
    }
    assert!(
        choice.reason.contains("mean absolute error"),
        "{}",
        choice.reason
    );
    let model = report
        .model
        .as_ref()
        .unwrap_or_else(|| panic!("{:?} {choice:?}", report.model_error));
    assert_eq!(model.kind, choice.chosen);
    assert!(report.not_enough_history.is_none());
    assert!(report.totals.clv.unwrap() > 0.0);

    // A pinned model: used as given, no comparison.
    for pinned in ["bgnbd", "mbgnbd", "paretonbd"] {
        let opts = AnalysisOptions {
            model: pinned.parse::<ModelChoice>().unwrap(),
            ..AnalysisOptions::default()
        };
        let snap = refresh(&store, &opts, as_of).await.unwrap();
        assert_eq!(snap.options["model"], pinned);
        let report = SnapshotReport::of(&snap).unwrap();
        assert!(report.model_choice.is_none(), "{pinned}");
        // Used as given, or (when the whole period does not identify it) not used, with why:
        // a pinned model is never swapped for another.
        match (&report.model, &report.not_enough_history) {
            (Some(m), None) => assert_eq!(m.kind, pinned),
            (None, Some(n)) => assert!(n.reason.contains(label(pinned)), "{n:?}"),
            other => panic!("{pinned}: {other:?}"),
        }
    }
    // The Recompute button keeps the pinned choice of the last snapshot.
    let again = patron_app::value::refresh_like_last_time(&store)
        .await
        .unwrap();
    assert_eq!(again.options["model"], "paretonbd");
}

async fn three_buyers_are_not_enough(store: Store) {
    let as_of = today();
    let ago = |days: u64| as_of.checked_sub_days(Days::new(days)).unwrap();
    let mut ids = Vec::new();
    for (k, days) in [[300u64, 200, 100], [250, 120, 0], [90, 60, 30]]
        .into_iter()
        .enumerate()
    {
        let c = customer(&store, &format!("Buyer {k}")).await;
        for d in days {
            order(&store, c, ago(d), 100.0 + k as f64).await;
        }
        ids.push(c);
    }
    for opts in [
        AnalysisOptions::default(),
        AnalysisOptions {
            model: ModelChoice::BgNbd,
            ..AnalysisOptions::default()
        },
    ] {
        let snap = refresh(&store, &opts, as_of).await.unwrap();
        let report = SnapshotReport::of(&snap).unwrap();
        assert!(report.model.is_none(), "{:?}", report.model);
        let n = report
            .not_enough_history
            .as_ref()
            .expect("the report says why no model is used");
        assert_eq!(n.code, "few_repeat_customers");
        assert!(n.reason.contains("3 of 3 customers"), "{}", n.reason);
        assert!(n.fallback.contains("no CLV"), "{}", n.fallback);
        assert!(report
            .model_error
            .as_deref()
            .unwrap()
            .starts_with("not enough purchase history"));
        assert!(report.model_choice.is_none());
        for &id in &ids {
            let v = store.customer_value(id).await.unwrap().unwrap();
            assert_eq!(v.clv, None);
            assert_eq!(v.p_alive, None);
            assert_eq!(v.frequency, Some(2.0));
            assert!(v.margin_cents > 0, "the historical margin stays");
        }
    }
}
