//! Relationship-marketing costs per customer (SPEC R8), on both backends: a 500.00 gift lowers
//! the customer's margin by exactly that against a twin with the same orders on the flat rate
//! (0), replaces the flat rate when there is one, lowers the CLV by its yearly rate over the
//! horizon, and the one-customer recompute gives back the refreshed row; a campaign's cost is
//! split evenly to the cent over the customers it reached, a new allocation replacing the old;
//! bad input names its field.

use chrono::{Days, NaiveDate};
use patron_app::marketing::{allocate_campaign, costs_of, record_cost};
use patron_app::value::{recompute_customer, refresh, today, Recomputed};
use patron_app::{AppError, Session};
use patron_store::{
    backend_tests, CampaignInput, CustomerValueRow, MarketingCostInput, Role, Store, StoreError,
};
use patron_value::AnalysisOptions;
use serde_json::json;

backend_tests!(
    a_gift_lowers_the_margin_by_exactly_its_amount,
    campaign_cost_splits_evenly
);

fn ago(days: u64) -> NaiveDate {
    today().checked_sub_days(Days::new(days)).unwrap()
}

async fn customer(store: &Store, name: &str, source: Option<&str>) -> i64 {
    let input = serde_json::from_value(json!({"name": name, "source": source})).unwrap();
    store.create_customer(input, "test").await.unwrap().id
}

async fn order(store: &Store, customer: i64, day: NaiveDate, amount: &str, cost: &str) {
    let input = serde_json::from_value(json!({
        "ordered_on": day, "lines": [{"amount": amount, "cost": cost}]
    }))
    .unwrap();
    store.create_order(customer, input).await.unwrap();
}

fn cost(day: NaiveDate, kind: &str, amount: &str) -> MarketingCostInput {
    serde_json::from_value(json!({"spent_on": day, "kind": kind, "amount": amount})).unwrap()
}

async fn row(store: &Store, id: i64) -> CustomerValueRow {
    store.customer_value(id).await.unwrap().unwrap()
}

/// Twins A and B buy the same (and 30 others buy so that a model fits).
async fn population(store: &Store) -> (i64, i64) {
    let a = customer(store, "Twin A", None).await;
    let b = customer(store, "Twin B", None).await;
    for id in [a, b] {
        for (d, amount) in [
            (700, "120.10"),
            (400, "80.20"),
            (90, "99.99"),
            (20, "45.45"),
        ] {
            order(store, id, ago(d), amount, "30.03").await;
        }
    }
    for k in 0..30u64 {
        let id = customer(store, &format!("Other {k}"), None).await;
        for j in 0..(1 + k % 5) {
            order(
                store,
                id,
                ago(10 + (k * 37 + j * 101) % 690),
                "50.00",
                "20.00",
            )
            .await;
        }
    }
    (a, b)
}

async fn a_gift_lowers_the_margin_by_exactly_its_amount(store: Store) {
    let mgr = Session::unrestricted("mgr");
    let (a, b) = population(&store).await;
    refresh(&store, &AnalysisOptions::default(), today())
        .await
        .unwrap();
    let (a0, b0) = (row(&store, a).await, row(&store, b).await);
    assert_eq!(a0.margin_cents, b0.margin_cents);

    // Recorded on the card: the live figures follow at once.
    let rec = record_cost(&store, &mgr, a, cost(ago(100), "gift", "500.00"))
        .await
        .unwrap();
    assert_eq!((rec.amount.0, rec.kind.as_str()), (50_000, "gift"));
    assert_eq!(costs_of(&store, &mgr, a).await.unwrap(), vec![rec]);
    assert_eq!(row(&store, a).await.margin_cents, b0.margin_cents - 50_000);

    // The refresh charges the records, the twin keeps the flat rate (0).
    refresh(&store, &AnalysisOptions::default(), today())
        .await
        .unwrap();
    let (a1, b1) = (row(&store, a).await, row(&store, b).await);
    assert_eq!(a1.margin_cents, b1.margin_cents - 50_000);
    assert_eq!(a1.revenue_cents, b1.revenue_cents);
    let (ca, cb) = (a1.clv.unwrap(), b1.clv.unwrap());
    // 500.00 over two years of tenure: 250.00 a year, discounted over the one-year horizon.
    assert!(cb - ca > 200.0 && cb - ca < 250.0, "{ca} vs {cb}");
    // The one-customer recompute gives back the refreshed row.
    let Recomputed::Row(again) = recompute_customer(&store, a).await.unwrap() else {
        panic!("no row")
    };
    assert_eq!(again.margin_cents, a1.margin_cents);
    assert!((again.clv.unwrap() - ca).abs() < 1e-9 * ca.abs().max(1.0));

    // With a flat rate of 120.00 a year the twin pays it for its tenure, A its records only.
    let flat = AnalysisOptions {
        marketing_cost: 120.0,
        ..AnalysisOptions::default()
    };
    refresh(&store, &flat, today()).await.unwrap();
    let (a2, b2) = (row(&store, a).await, row(&store, b).await);
    let product = b2.revenue_cents - b2.cost_cents;
    assert_eq!(a2.margin_cents, product - 50_000);
    // 700 days of tenure at 120.00 a year.
    assert_eq!(b2.margin_cents, product - 23_014);
    let Recomputed::Row(again) = recompute_customer(&store, a).await.unwrap() else {
        panic!("no row")
    };
    assert_eq!(again.margin_cents, a2.margin_cents);
    assert!((again.clv.unwrap() - a2.clv.unwrap()).abs() < 1e-9 * a2.clv.unwrap().abs().max(1.0));

    // Bad input names the field.
    for (input, field) in [
        (cost(ago(1), "gift", "0"), "amount"),
        (cost(ago(1), "campaign", "5.00"), "kind"),
        (cost(ago(1), "bribe", "5.00"), "kind"),
        (cost(today() + Days::new(30), "visit", "5.00"), "spent_on"),
    ] {
        match record_cost(&store, &mgr, a, input).await {
            Err(AppError::Store(StoreError::Invalid(errors))) => {
                assert_eq!(errors[0].field, field, "{errors:?}")
            }
            other => panic!("{field}: {other:?}"),
        }
    }
    // A rep may read a pool customer's costs but not record one before claiming it.
    let rep = store
        .create_user(&patron_store::NewUser {
            username: "rep".into(),
            role: Some(Role::Rep),
            scope: Some(patron_store::DataScope::Own),
            ..Default::default()
        })
        .await
        .unwrap();
    let rep = Session::open(&store, rep, None).await.unwrap();
    assert_eq!(costs_of(&store, &rep, a).await.unwrap().len(), 1);
    let refused = record_cost(&store, &rep, a, cost(ago(1), "visit", "5.00")).await;
    assert!(
        matches!(refused, Err(AppError::Forbidden(_))),
        "{refused:?}"
    );
    assert_eq!(costs_of(&store, &mgr, a).await.unwrap().len(), 1);
}

async fn campaign_cost_splits_evenly(store: Store) {
    let mgr = Session::unrestricted("mgr");
    let campaign = store
        .create_campaign(CampaignInput {
            name: "Spring fair".into(),
            channel: None,
            cost: patron_domain::Money(10_000),
            started_on: ago(60),
        })
        .await
        .unwrap();
    let none = allocate_campaign(&store, &mgr, campaign.id).await;
    assert!(
        matches!(none, Err(AppError::Store(StoreError::Conflict { .. }))),
        "{none:?}"
    );
    let mut ids = Vec::new();
    for k in 0..3 {
        ids.push(customer(&store, &format!("Fair {k}"), Some("Spring fair")).await);
    }
    customer(&store, "Walk-in", None).await;
    let out = allocate_campaign(&store, &mgr, campaign.id).await.unwrap();
    assert_eq!((out.customers, out.share.0, out.replaced), (3, 3333, 0));
    let mut shares = Vec::new();
    for id in &ids {
        let c = costs_of(&store, &mgr, *id).await.unwrap();
        assert_eq!(c.len(), 1);
        assert_eq!(
            (c[0].kind.as_str(), c[0].campaign_id),
            ("campaign", Some(campaign.id))
        );
        assert_eq!(c[0].spent_on, ago(60));
        shares.push(c[0].amount.0);
    }
    // 100.00 over three: 33.34 + 33.33 + 33.33, exactly the cost.
    assert_eq!(shares, [3334, 3333, 3333]);
    assert_eq!(shares.iter().sum::<i64>(), 10_000);
    // A fourth customer reached: the new allocation replaces the old one.
    ids.push(customer(&store, "Fair late", Some("Spring fair")).await);
    let out = allocate_campaign(&store, &mgr, campaign.id).await.unwrap();
    assert_eq!((out.customers, out.share.0, out.replaced), (4, 2500, 3));
    for id in &ids {
        let c = costs_of(&store, &mgr, *id).await.unwrap();
        assert_eq!(c.iter().map(|r| r.amount.0).collect::<Vec<_>>(), [2500]);
    }
    // A merge moves the costs to the customer kept; deleting a customer deletes its costs.
    store.merge_customers(ids[0], ids[1], "test").await.unwrap();
    assert_eq!(costs_of(&store, &mgr, ids[0]).await.unwrap().len(), 2);
    store.delete_customer(ids[2]).await.unwrap();
    assert!(store.marketing_costs_of(ids[2]).await.unwrap().is_empty());
    // Analysts may not allocate.
    let analyst = store
        .create_user(&patron_store::NewUser {
            username: "ana".into(),
            role: Some(Role::Analyst),
            ..Default::default()
        })
        .await
        .unwrap();
    let analyst = Session::open(&store, analyst, None).await.unwrap();
    assert!(matches!(
        allocate_campaign(&store, &analyst, campaign.id).await,
        Err(AppError::Forbidden(_))
    ));
    // Nor may a manager who sees only their team: it would charge others' customers.
    let team = store
        .create_user(&patron_store::NewUser {
            username: "tess".into(),
            role: Some(Role::Manager),
            scope: Some(patron_store::DataScope::Subordinates),
            ..Default::default()
        })
        .await
        .unwrap();
    let team = Session::open(&store, team, None).await.unwrap();
    assert!(matches!(
        allocate_campaign(&store, &team, campaign.id).await,
        Err(AppError::Forbidden(_))
    ));
}
