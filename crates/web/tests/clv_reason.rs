//! The card says why there is no CLV, on both backends and in both languages: with three buyers
//! the population has not enough purchase history for a purchase model; a customer without
//! orders has none yet.

use axum::body::Body;
use axum::http::{header, Request};
use chrono::{Days, Utc};
use patron_store::{backend_tests, Store};
use patron_testkit::send;
use serde_json::json;

backend_tests!(the_card_says_why_the_clv_is_missing);

async fn customer(store: &Store, name: &str) -> i64 {
    let input = serde_json::from_value(json!({ "name": name, "industry": "retail" })).unwrap();
    store.create_customer(input, "test").await.unwrap().id
}

async fn card(store: &Store, id: i64, lang: &str) -> String {
    let app = patron_web::router(store.clone()).layer(axum::Extension(
        patron_app::Session::unrestricted("web-test"),
    ));
    let req = Request::get(format!("/customers/{id}"))
        .header(header::COOKIE, format!("lang={lang}"))
        .body(Body::empty())
        .unwrap();
    send(&app, req).await.body
}

async fn the_card_says_why_the_clv_is_missing(store: Store) {
    let today = Utc::now().date_naive();
    let mut buyers = Vec::new();
    for (name, days) in [
        ("A", [300, 200, 100]),
        ("B", [250, 120, 30]),
        ("C", [90, 90, 90]),
    ] {
        let id = customer(&store, name).await;
        for (k, d) in days.into_iter().enumerate() {
            let input = serde_json::from_value(json!({
                "order_ref": format!("O-{k}"),
                "ordered_on": today.checked_sub_days(Days::new(d)).unwrap(),
                "lines": [{"amount": 40.0 + d as f64}]
            }))
            .unwrap();
            store.create_order(id, input).await.unwrap();
        }
        buyers.push(id);
    }
    let prospect = customer(&store, "Prospect").await;
    // Before any refresh: no figures, no reason.
    assert!(!card(&store, buyers[0], "en").await.contains("no CLV"));
    patron_app::value::refresh_like_last_time(&store)
        .await
        .unwrap();
    let row = store.customer_value(buyers[0]).await.unwrap().unwrap();
    assert_eq!(row.clv, None);
    let en = card(&store, buyers[0], "en").await;
    assert!(
        en.contains("no CLV: not enough purchase history for a purchase model"),
        "{en}"
    );
    let zh = card(&store, buyers[0], "zh").await;
    assert!(
        zh.contains("无 CLV：购买历史不足，无法使用购买模型"),
        "{zh}"
    );
    let en = card(&store, prospect, "en").await;
    assert!(en.contains("no CLV: no orders yet"), "{en}");
    assert!(card(&store, prospect, "zh")
        .await
        .contains("无 CLV：尚无订单"));
}
