//! The population refresh scores every live customer exactly as scoring each one's whole
//! profile ([`Store::score_profiles`]) with the model would, on both backends, although it
//! reads only the profiles that may carry a score attribute ([`Store::live_score_profiles`]):
//! profiles with each attribute (industry, credit rating, registered capital, employees, a
//! numeric or textual `satisfaction` custom field), with blank or unrelated ones, buyers and
//! prospects (without orders: the model's attribute part), and a customer merged into another
//! (no longer live: not judged).

use chrono::{Days, NaiveDate};
use patron_app::value::{refresh, score, today};
use patron_store::{backend_tests, Store};
use patron_value::score::ScoreModel;
use patron_value::AnalysisOptions;
use serde_json::json;

backend_tests!(every_live_customer_is_scored_from_its_whole_profile);

async fn customer(store: &Store, body: serde_json::Value) -> i64 {
    let input = serde_json::from_value(body).unwrap();
    store.create_customer(input, "test").await.unwrap().id
}

async fn order(store: &Store, customer: i64, day: NaiveDate, amount: f64) {
    let input = serde_json::from_value(json!({
        "ordered_on": day, "lines": [{"amount": amount, "cost": amount / 3.0}]
    }))
    .unwrap();
    store.create_order(customer, input).await.unwrap();
}

async fn every_live_customer_is_scored_from_its_whole_profile(store: Store) {
    let as_of = today();
    let ago = |days: u64| as_of.checked_sub_days(Days::new(days)).unwrap();
    let profiles = [
        json!({"name": "Plain"}),
        json!({"name": "Finance", "industry": "finance", "registered_capital": "50,000,000"}),
        json!({"name": "Blank industry", "industry": "   ", "credit_rating": "AAA"}),
        json!({"name": "Staff", "employees": 250, "credit_rating": "b"}),
        json!({"name": "Happy", "custom_fields": {"satisfaction": 5}}),
        json!({"name": "Happy text", "custom_fields": {"satisfaction": " 4 ", "size": "L"}}),
        json!({"name": "Unhappy text", "custom_fields": {"satisfaction": "low"}}),
        json!({"name": "Other fields", "custom_fields": {"region_code": 7, "vip": true}}),
        json!({"name": "Everything", "industry": "Manufacturing", "employees": 12,
               "registered_capital": "1,000,000", "credit_rating": "A",
               "custom_fields": {"satisfaction": 2.5}}),
    ];
    let mut ids = Vec::new();
    for (k, body) in profiles.iter().enumerate() {
        // Buyers and prospects of every kind of profile: the even ones buy (some repeatedly).
        let buyer = customer(&store, body.clone()).await;
        if k % 2 == 0 {
            order(&store, buyer, ago(200 + 10 * k as u64), 100.0 + k as f64).await;
            if k % 4 == 0 {
                order(&store, buyer, ago(30 + k as u64), 250.0).await;
            }
        }
        ids.push(buyer);
        let mut other = body.clone();
        other["name"] = json!(format!("{} too", body["name"].as_str().unwrap()));
        let c = customer(&store, other).await;
        if k % 2 == 1 {
            order(&store, c, ago(400 + k as u64), 80.0).await;
        }
        ids.push(c);
    }
    // Merged into the plain customer: no longer live, not judged.
    let merged = customer(
        &store,
        json!({"name": "Merged", "industry": "finance", "custom_fields": {"satisfaction": 5}}),
    )
    .await;
    store.merge_customers(ids[0], merged, "test").await.unwrap();

    refresh(&store, &AnalysisOptions::default(), as_of)
        .await
        .unwrap();

    let model = ScoreModel::default_model();
    let part = model.attribute_part().expect("an attribute part");
    let whole = store.score_profiles().await.unwrap();
    let rows = store.all_customer_values().await.unwrap();
    assert_eq!(rows.len(), whole.len(), "{rows:?}");
    assert!(rows.iter().all(|r| r.customer_id != merged));
    let mut prospects = 0;
    for p in &whole {
        let row = rows
            .iter()
            .find(|r| r.customer_id == p.id)
            .unwrap_or_else(|| panic!("no row of {}", p.id));
        let expected = score(if row.orders == 0 { &part } else { &model }, p, row);
        prospects += usize::from(row.orders == 0);
        assert_eq!(row.score, Some(expected.score), "{p:?} {row:?}");
        assert_eq!(
            row.grade,
            Some(format!("{:?}", expected.grade)),
            "{p:?} {row:?}"
        );
    }
    assert_eq!(prospects, 9);

    // The profiles left out of the refresh's read carry no score attribute.
    let (live, read) = store.live_score_profiles().await.unwrap();
    assert_eq!(live, whole.iter().map(|p| p.id).collect::<Vec<_>>());
    for p in &whole {
        match read.iter().find(|r| r.id == p.id) {
            Some(r) => assert_eq!(r, p),
            None => {
                assert_eq!(p.industry, None, "{p:?}");
                assert_eq!(p.credit_rating, None, "{p:?}");
                assert_eq!(p.registered_capital_cents, None, "{p:?}");
                assert_eq!(p.employees, None, "{p:?}");
                assert!(!p.custom_fields.contains_key("satisfaction"), "{p:?}");
            }
        }
    }
    assert!(read.len() >= 12 && read.len() < whole.len(), "{read:?}");
}
