//! The installation's currency on the pages (its own test binary: the currency is set once per
//! process).

use axum::body::Body;
use axum::http::{header, Request};
use patron_domain::{Currency, CustomerInput, OrderInput};
use patron_store::testing::fresh_store;
use patron_store::BackendKind;
use patron_testkit::send;

#[tokio::test]
async fn amounts_are_shown_in_the_configured_currency_per_language() {
    patron_web::set_currency(Currency::Cny);
    let store = fresh_store(BackendKind::Sqlite).await.unwrap();
    let c = store
        .create_customer(
            CustomerInput {
                name: "Acme".into(),
                ..CustomerInput::default()
            },
            "test",
        )
        .await
        .unwrap();
    let order: OrderInput = serde_json::from_value(serde_json::json!({
        "order_ref": "O-1",
        "ordered_on": "2024-03-01",
        "lines": [{"category": "CDs", "quantity": 1, "amount": 1234.5, "cost": 1000.0}]
    }))
    .unwrap();
    store.create_order(c.id, order).await.unwrap();
    let app = patron_web::router(store.clone()).layer(axum::Extension(
        patron_app::Session::unrestricted("web-test"),
    ));
    let card = |lang: &'static str| {
        let app = app.clone();
        let uri = format!("/customers/{}", c.id);
        async move {
            let req = Request::get(uri).header(header::COOKIE, format!("lang={lang}"));
            send(&app, req.body(Body::empty()).unwrap()).await.body
        }
    };
    let zh = card("zh").await;
    assert!(zh.contains("¥1,234.50"), "yuan in Chinese");
    assert!(!zh.contains("US$"), "no dollar sign for a Chinese company");
    let en = card("en").await;
    assert!(en.contains("CN¥1,234.50"), "yuan in English");
}
