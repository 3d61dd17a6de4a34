//! Live figures, on both backends: one customer's figures recomputed by the stored snapshot's
//! models and population boundaries (`recompute_customer`) are exactly the row the refresh
//! stored when the customer's orders did not change (every customer of a simulated population,
//! field by field); an order dated today recorded through the app's use case changes that
//! customer's figures at once, and the next refresh stores the same non-relative figures; a
//! new customer with attributes gets a grade, a merge moves the figures to the customer kept;
//! the follow-up cadence of a prospect goes by its grade.

use chrono::{Days, NaiveDate};
use patron_app::value::{recompute_customer, refresh, today, Recomputed};
use patron_app::Session;
use patron_store::{backend_tests, CustomerValueRow, NewUser, Role, Store};
use patron_value::AnalysisOptions;
use serde_json::json;

backend_tests!(
    recompute_gives_back_the_refreshed_rows,
    an_order_today_changes_the_figures_at_once,
    new_and_merged_customers_and_the_prospects_cadence
);

/// Customers belong to the first user (the manager of the tests), made here when missing.
async fn customer(store: &Store, name: &str) -> i64 {
    let owner = match store.user_by_name("mgr").await {
        Ok(u) => u.id,
        Err(_) => manager(store).await.user.id,
    };
    let input =
        serde_json::from_value(json!({ "name": name, "industry": "retail", "owner_id": owner }))
            .unwrap();
    store.create_customer(input, "test").await.unwrap().id
}

async fn order(store: &Store, customer: i64, day: NaiveDate, amount: f64, cost: f64) {
    let input = serde_json::from_value(json!({
        "ordered_on": day, "lines": [{"amount": amount, "cost": cost}]
    }))
    .unwrap();
    store.create_order(customer, input).await.unwrap();
}

/// 120 customers over two years up to `as_of` (Poisson purchases at rates of their own, each
/// with an exponential lifetime and a mean spend of its own; seeded), and two prospects.
async fn population(store: &Store, as_of: NaiveDate) -> Vec<i64> {
    let mut seed = 5u64;
    let mut rand = move || {
        seed = seed
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (seed >> 11) as f64 / (1u64 << 53) as f64
    };
    let start = as_of.checked_sub_days(Days::new(730)).unwrap();
    let mut ids = Vec::new();
    for c in 0..120 {
        let id = customer(store, &format!("Buyer {c:03}")).await;
        ids.push(id);
        let first = rand() * 300.0;
        let gap = 15.0 + 200.0 * rand() * rand();
        let death = first - (1.0 - rand()).ln() * 400.0 * (0.2 + rand());
        let mean = 10.0 + 150.0 * rand() * rand();
        let mut t = first;
        while t <= 730.0 && t <= death {
            let day = start.checked_add_days(Days::new(t as u64)).unwrap();
            let amount = (mean * (0.3 + 1.4 * rand()) * 100.0).round() / 100.0;
            order(store, id, day, amount, (amount * 40.0).round() / 100.0).await;
            t -= (1.0 - rand()).ln() * gap;
        }
    }
    for name in ["Prospect A", "Prospect B"] {
        ids.push(customer(store, name).await);
    }
    ids
}

async fn manager(store: &Store) -> Session {
    let user = store
        .create_user(&NewUser {
            username: "mgr".into(),
            role: Some(Role::Manager),
            ..Default::default()
        })
        .await
        .unwrap();
    Session::open(store, user, None).await.unwrap()
}

fn close(a: Option<f64>, b: Option<f64>) -> bool {
    match (a, b) {
        (Some(a), Some(b)) => (a - b).abs() <= 1e-9 * a.abs().max(1.0),
        (None, None) => true,
        _ => false,
    }
}

/// Field by field; floats within 1e-9 (relative); the computation time left out. With
/// `figures_only`, the figures of the customer's own orders only (frequency, recency, T,
/// monetary value, money, stage and phase).
fn assert_same(want: &CustomerValueRow, got: &CustomerValueRow, figures_only: bool) {
    let id = want.customer_id;
    assert_eq!(want.customer_id, got.customer_id);
    for (field, a, b) in [
        ("frequency", want.frequency, got.frequency),
        ("recency", want.recency, got.recency),
        ("t", want.t, got.t),
        ("monetary_value", want.monetary_value, got.monetary_value),
    ] {
        assert!(close(a, b), "customer {id}: {field} {a:?} vs {b:?}");
    }
    assert_eq!(
        (
            want.orders,
            want.revenue_cents,
            want.cost_cents,
            want.margin_cents
        ),
        (
            got.orders,
            got.revenue_cents,
            got.cost_cents,
            got.margin_cents
        ),
        "customer {id}"
    );
    assert_eq!(
        (
            &want.unit,
            want.calibration_end,
            &want.loyalty_stage,
            &want.lifecycle_phase
        ),
        (
            &got.unit,
            got.calibration_end,
            &got.loyalty_stage,
            &got.lifecycle_phase
        ),
        "customer {id}"
    );
    // The model figures, the score and the relative figures depend on the population's fit.
    if figures_only {
        return;
    }
    for (field, a, b) in [
        ("p_alive", want.p_alive, got.p_alive),
        (
            "expected_purchases",
            want.expected_purchases,
            got.expected_purchases,
        ),
        ("expected_spend", want.expected_spend, got.expected_spend),
        ("clv", want.clv, got.clv),
        ("score", want.score, got.score),
    ] {
        assert!(close(a, b), "customer {id}: {field} {a:?} vs {b:?}");
    }
    assert_eq!(
        (
            want.rfm_r,
            want.rfm_f,
            want.rfm_m,
            &want.rfm_segment,
            &want.abc_class
        ),
        (
            got.rfm_r,
            got.rfm_f,
            got.rfm_m,
            &got.rfm_segment,
            &got.abc_class
        ),
        "customer {id}"
    );
    assert_eq!(want.grade, got.grade, "customer {id}");
    assert_eq!(want.churn_risk, got.churn_risk, "customer {id}");
    assert!(
        close(Some(want.value_at_risk), Some(got.value_at_risk)),
        "customer {id}"
    );
    assert_eq!(
        want.churn_reasons.len(),
        got.churn_reasons.len(),
        "customer {id}"
    );
    for (a, b) in want.churn_reasons.iter().zip(&got.churn_reasons) {
        assert_eq!(
            (a.kind(), a.detail()),
            (b.kind(), b.detail()),
            "customer {id}"
        );
        assert_eq!(a.figures().len(), b.figures().len());
        for (k, x) in a.figures() {
            assert!(close(Some(x), b.figure(k)), "customer {id}: {k}");
        }
    }
}

async fn recompute_gives_back_the_refreshed_rows(store: Store) {
    let as_of = today();
    // Before any refresh there is nothing to judge by.
    let ids = population(&store, as_of).await;
    assert_eq!(
        recompute_customer(&store, ids[0]).await.unwrap(),
        Recomputed::NoSnapshot
    );
    refresh(&store, &AnalysisOptions::default(), as_of)
        .await
        .unwrap();
    let stored = store.customer_values_of(&ids).await.unwrap();
    assert_eq!(stored.len(), ids.len());
    assert!(stored.iter().filter(|r| r.clv.is_some()).count() > 50);
    assert!(stored.iter().filter(|r| r.churn_risk).count() > 5);
    let classes: std::collections::BTreeSet<&str> =
        stored.iter().map(|r| r.abc_class.as_str()).collect();
    assert_eq!(classes.len(), 3, "{classes:?}");
    for want in &stored {
        let Recomputed::Row(got) = recompute_customer(&store, want.customer_id).await.unwrap()
        else {
            panic!("customer {} not recomputed", want.customer_id)
        };
        assert_same(want, &got, false);
        // As stored.
        let back = store
            .customer_value(want.customer_id)
            .await
            .unwrap()
            .unwrap();
        assert_same(want, &back, false);
    }
    // A snapshot of a calibration window ending before its as-of date (a holdout study) is not
    // a ground to judge one customer as of today: nothing is recomputed against it (before, a
    // change during such a refresh rewrote the customer's row with every order up to today).
    let end = as_of.checked_sub_days(Days::new(90)).unwrap();
    let window = AnalysisOptions {
        calibration_end: patron_app::value::day_of(end),
        ..AnalysisOptions::default()
    };
    refresh(&store, &window, as_of).await.unwrap();
    let windowed = store.customer_value(ids[0]).await.unwrap().unwrap();
    assert_eq!(
        recompute_customer(&store, ids[0]).await.unwrap(),
        Recomputed::Windowed
    );
    assert_same(
        &windowed,
        &store.customer_value(ids[0]).await.unwrap().unwrap(),
        false,
    );
}

async fn an_order_today_changes_the_figures_at_once(store: Store) {
    let as_of = today();
    let ids = population(&store, as_of).await;
    refresh(&store, &AnalysisOptions::default(), as_of)
        .await
        .unwrap();
    let user = store.user_by_name("mgr").await.unwrap();
    let session = Session::open(&store, user, None).await.unwrap();
    let stored = store.customer_values_of(&ids).await.unwrap();
    let before = stored
        .iter()
        .find(|r| r.clv.is_some() && r.frequency.is_some_and(|f| f >= 1.0))
        .unwrap()
        .clone();
    let id = before.customer_id;
    let input = serde_json::from_value(json!({
        "ordered_on": as_of, "lines": [{"amount": 900.0, "cost": 300.0}]
    }))
    .unwrap();
    patron_app::orders::create_order(&store, &session, id, input)
        .await
        .unwrap();
    // The stored figures changed at once: no refresh ran.
    let after = store.customer_value(id).await.unwrap().unwrap();
    assert_eq!(after.orders, before.orders + 1);
    assert_eq!(after.frequency, before.frequency.map(|f| f + 1.0));
    assert_eq!(after.revenue_cents, before.revenue_cents + 90_000);
    assert_eq!(after.margin_cents, before.margin_cents + 60_000);
    assert_ne!(after.monetary_value, before.monetary_value);
    assert!(
        after.clv.unwrap() > before.clv.unwrap(),
        "{before:?} {after:?}"
    );
    assert_eq!(after.rfm_r, Some(5));
    assert!(after.computed_at > before.computed_at);
    assert_eq!(store.snapshot_times(10).await.unwrap().len(), 1);
    // The next refresh finds the same figures (those not relative to the population: the
    // population's fit itself moved with the new order).
    refresh(&store, &AnalysisOptions::default(), as_of)
        .await
        .unwrap();
    let refreshed = store.customer_value(id).await.unwrap().unwrap();
    assert_same(&refreshed, &after, true);

    // A prospect's row follows its attributes; deleting the order takes it back out.
    let prospect = *ids.last().unwrap();
    let p = store.customer_value(prospect).await.unwrap().unwrap();
    assert!(p.grade.is_some() && p.orders == 0);
    let order_ref = store
        .list_orders(
            &patron_store::OrderFilter {
                customer_id: Some(id),
                from: Some(as_of),
                to: Some(as_of),
                category: None,
            },
            &patron_store::PageRequest::default(),
        )
        .await
        .unwrap()
        .items[0]
        .order_ref
        .clone();
    patron_app::orders::delete_order(&store, &session, id, &order_ref)
        .await
        .unwrap();
    let back = store.customer_value(id).await.unwrap().unwrap();
    assert_eq!(back.orders, before.orders);
    assert_eq!(back.revenue_cents, before.revenue_cents);
}

async fn new_and_merged_customers_and_the_prospects_cadence(store: Store) {
    let as_of = today();
    let ids = population(&store, as_of).await;
    refresh(&store, &AnalysisOptions::default(), as_of)
        .await
        .unwrap();
    // A new customer with attributes: graded at once by them (a prospect).
    let input = serde_json::from_value(json!({
        "name": "Newcomer", "industry": "manufacturing", "employees": 800,
        "registered_capital": 50000000, "credit_rating": "AAA"
    }))
    .unwrap();
    let new = store.create_customer(input, "test").await.unwrap().id;
    assert_eq!(store.customer_value(new).await.unwrap(), None);
    patron_app::value::recompute_after_change(&store, &[new]).await;
    let row = store.customer_value(new).await.unwrap().unwrap();
    assert_eq!((row.orders, row.frequency, row.clv), (0, None, None));
    assert!(row.grade.is_some() && row.score.is_some(), "{row:?}");

    // Merging: the orders move to the customer kept, the one dropped has no figures.
    let stored = store.customer_values_of(&ids).await.unwrap();
    let buyers: Vec<&CustomerValueRow> = stored.iter().filter(|r| r.orders > 0).collect();
    let (keep, drop) = (buyers[0], buyers[1]);
    store
        .merge_customers(keep.customer_id, drop.customer_id, "test")
        .await
        .unwrap();
    patron_app::value::recompute_after_change(&store, &[keep.customer_id, drop.customer_id]).await;
    assert_eq!(store.customer_value(drop.customer_id).await.unwrap(), None);
    let kept = store
        .customer_value(keep.customer_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(kept.orders, keep.orders + drop.orders);
    assert_eq!(kept.revenue_cents, keep.revenue_cents + drop.revenue_cents);

    // The follow-up plan: prospects by their grade, buyers by their ABC class.
    let by_grade = store.followup_prospect_cadence().await.unwrap();
    let by_class = store.followup_cadence().await.unwrap();
    let plan = store
        .followup_plan(as_of, None, &patron_store::Visibility::All)
        .await
        .unwrap();
    let days = |table: &[(String, i64)], key: &str| {
        table
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, d)| *d)
            .unwrap()
    };
    let p = plan.iter().find(|p| p.customer_id == new).unwrap();
    assert!(p.prospect);
    assert_eq!(p.grade, row.grade);
    assert_eq!(
        p.cadence_days,
        days(&by_grade, row.grade.as_deref().unwrap())
    );
    let b = plan
        .iter()
        .find(|p| p.customer_id == keep.customer_id)
        .unwrap();
    assert!(!b.prospect);
    assert_eq!(b.cadence_days, days(&by_class, &b.abc_class));
    // Every prospect of the plan goes by its grade: a C-class prospect graded A is not left at
    // class C's cadence.
    for p in plan.iter().filter(|p| p.prospect) {
        let want = p.grade.as_deref().map_or(91, |g| days(&by_grade, g));
        assert_eq!(p.cadence_days, want, "{p:?}");
        assert_eq!(p.abc_class, "C");
    }
    assert!(plan
        .iter()
        .any(|p| p.prospect && p.cadence_days != days(&by_class, "C")));
}
