//! Regression tests for what Schemathesis (`scripts/schemathesis.sh`) found where the server and
//! its OpenAPI document disagreed, on both backends: each request here is one the document calls
//! valid (accepted) or invalid (refused with a 4xx naming the field), and the server now agrees.

use axum::http::{Method, StatusCode};
use axum::Router;
use patron_server::{app, openapi, AppState};
use patron_store::{backend_tests, Role, Store};
use patron_testkit::call;
use serde_json::{json, Value};

backend_tests!(
    token_names_count_characters_not_bytes,
    unknown_assignee_is_a_validation_error,
    credit_limit_must_be_given,
    whole_number_floats_are_integers,
    errors_name_the_fields_as_sent,
    refresh_horizon_is_bounded,
    reclaim_takes_no_day,
    amount_text_has_one_form
);

struct Api {
    app: Router,
    token: String,
}

impl Api {
    async fn new(store: &Store) -> Self {
        let (_, token) = patron_server::auth::user_with_token(store, "contract", Role::Admin)
            .await
            .unwrap();
        Api {
            app: app(AppState::new(store.clone())),
            token,
        }
    }

    async fn call(&self, method: Method, uri: &str, body: Option<Value>) -> (StatusCode, Value) {
        let a = call(&self.app, method, uri, Some(&self.token), body).await;
        (a.status, a.try_json().unwrap())
    }

    async fn post(&self, uri: &str, body: Value) -> (StatusCode, Value) {
        self.call(Method::POST, uri, Some(body)).await
    }

    async fn customer(&self) -> i64 {
        let (s, c) = self
            .post("/api/customers", json!({"name": "Contract Co"}))
            .await;
        assert_eq!(s, StatusCode::CREATED, "{c}");
        c["id"].as_i64().unwrap()
    }
}

fn schema(name: &str) -> &'static Value {
    &openapi::document()["components"]["schemas"][name]
}

/// The document allows 100 characters; the store counted bytes (100 Chinese characters are 300).
async fn token_names_count_characters_not_bytes(store: Store) {
    let api = Api::new(&store).await;
    assert_eq!(schema("TokenInput")["properties"]["name"]["maxLength"], 100);
    let name = "令".repeat(100);
    let (s, body) = api.post("/api/tokens", json!({"name": name})).await;
    assert_eq!(s, StatusCode::CREATED, "{body}");
    let (s, body) = api
        .post("/api/tokens", json!({"name": "令".repeat(101)}))
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
}

/// A ticket for a user who does not exist was a foreign-key failure answered 409.
async fn unknown_assignee_is_a_validation_error(store: Store) {
    let api = Api::new(&store).await;
    let id = api.customer().await;
    let (s, body) = api
        .post(
            &format!("/api/customers/{id}/tickets"),
            json!({"kind": "repair", "subject": "Broken", "assignee_id": 987654}),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["field"], "assignee_id");
}

/// `{}` was read as "clear the limit"; the document requires `limit` (null clears).
async fn credit_limit_must_be_given(store: Store) {
    let api = Api::new(&store).await;
    let id = api.customer().await;
    let uri = format!("/api/customers/{id}/credit-limit");
    let (s, body) = api.call(Method::PUT, &uri, Some(json!({}))).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["field"], "limit");
    let (s, body) = api
        .call(Method::PUT, &uri, Some(json!({"limit": "1,000.50"})))
        .await;
    assert_eq!(s, StatusCode::OK, "{body}");
    assert_eq!(body["limit"], json!(1000.5));
    let (s, body) = api
        .call(Method::PUT, &uri, Some(json!({"limit": null})))
        .await;
    assert_eq!(s, StatusCode::OK, "{body}");
    assert_eq!(body["limit"], Value::Null);
}

/// JSON Schema counts 3.0 as an integer; serde's integer fields refused it.
async fn whole_number_floats_are_integers(store: Store) {
    let api = Api::new(&store).await;
    let id = api.customer().await;
    let (s, body) = api
        .post(
            &format!("/api/customers/{id}/orders"),
            json!({"ordered_on": "2024-01-02", "lines": [{"amount": 5, "quantity": 3.0}]}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{body}");
    assert_eq!(body["lines"][0]["quantity"], 3);
    let (s, body) = api
        .post(
            &format!("/api/customers/{id}/orders"),
            json!({"ordered_on": "2024-01-02", "lines": [{"amount": 5, "quantity": 2.5}]}),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["field"], "lines[0].quantity");
}

/// Field errors name the field where the client put it: instalments in the order given (they
/// were sorted by due date first), the order of a credit order inside `order`.
async fn errors_name_the_fields_as_sent(store: Store) {
    let api = Api::new(&store).await;
    let id = api.customer().await;
    let (s, body) = api
        .post(
            &format!("/api/customers/{id}/invoices"),
            json!({
                "issued_on": "2024-01-01", "due_on": "2024-03-01", "amount": 30,
                "instalments": [
                    {"due_on": "2024-03-01", "amount": "0"},
                    {"due_on": "2024-02-01", "amount": 30},
                ],
            }),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let fields: Vec<&str> = body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert!(fields.contains(&"instalments[0].amount"), "{body}");
    let (s, body) = api
        .post(
            &format!("/api/customers/{id}/credit-orders"),
            json!({"order": {"ordered_on": "2024-01-02", "lines": [{"amount": 20000000000u64}]}}),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["field"], "order.lines[0].amount");
}

/// A huge CLV horizon made a refresh run for ever; the document now bounds it.
async fn refresh_horizon_is_bounded(store: Store) {
    let api = Api::new(&store).await;
    let max = schema("ValueRefreshRequest")["properties"]["horizon"]["maximum"]
        .as_f64()
        .unwrap();
    // Refused by validation, before any computation. The timeout only guards against the old
    // hang (a refresh running for ever); it is generous and no claim about speed.
    let (s, body) = tokio::time::timeout(
        std::time::Duration::from_secs(120),
        api.post("/api/value/refresh", json!({"horizon": 3.5e16})),
    )
    .await
    .expect("a refresh with a huge horizon hangs instead of being refused");
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["field"], "horizon");
    // At the bound it is a normal request (no orders yet: 409 no_orders).
    let (s, body) = api
        .post("/api/value/refresh", json!({"horizon": max}))
        .await;
    assert_eq!(s, StatusCode::CONFLICT, "{body}");
}

/// The reclaim runs on the server's date: the document has no `today` and the server refuses
/// one (a client-chosen day could make every customer idle); `preview` is a boolean.
async fn reclaim_takes_no_day(store: Store) {
    let api = Api::new(&store).await;
    let props = &schema("ReclaimRequest")["properties"];
    assert_eq!(props["today"], Value::Null);
    assert_eq!(props["preview"]["type"], json!("boolean"));
    let (s, body) = api
        .post("/api/pool/reclaim", json!({"preview": true}))
        .await;
    assert_eq!(s, StatusCode::OK, "{body}");
    let (s, body) = api
        .post("/api/pool/reclaim", json!({"today": "2100-01-01"}))
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["field"], "today", "{body}");
    let (s, body) = api.post("/api/pool/reclaim", json!({"preview": 5})).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
}

/// Amounts as text follow the document's pattern exactly: `""` or `" 12"` were read (as an error
/// deep in the handler, or leniently) while the document described "a string".
async fn amount_text_has_one_form(store: Store) {
    let api = Api::new(&store).await;
    let id = api.customer().await;
    let uri = format!("/api/customers/{id}/orders");
    for ok in ["12", "$1,234.50", ".5", "¥7"] {
        let (s, body) = api
            .post(
                &uri,
                json!({"ordered_on": "2024-01-02", "lines": [{"amount": ok}]}),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{ok}: {body}");
    }
    for bad in ["", " 12", "12.", "1,2", "12.345", "1e3"] {
        let (s, body) = api
            .post(
                &uri,
                json!({"ordered_on": "2024-01-02", "lines": [{"amount": bad}]}),
            )
            .await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{bad:?}: {body}");
        assert_eq!(body["field"], "lines[0].amount", "{bad:?}: {body}");
    }
}
