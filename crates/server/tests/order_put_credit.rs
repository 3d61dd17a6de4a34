//! `PUT /api/customers/{id}/orders/{order_ref}` goes through the credit rule of new orders, over
//! HTTP on both backends: an increase exactly up to the limit is accepted (the invoice follows),
//! one cent more is 409 naming the figures and changes nothing, a lower amount is accepted.

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::{Request, StatusCode};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use patron_domain::{CustomerInput, Money};
use patron_store::{backend_tests, NewUser, Role, Store};
use serde_json::{json, Value};

backend_tests!(changed_orders_are_credit_checked);

async fn send(
    client: &Client<hyper_util::client::legacy::connect::HttpConnector, Full<Bytes>>,
    method: &str,
    url: &str,
    token: &str,
    body: Value,
) -> (StatusCode, Value) {
    let req = Request::builder()
        .method(method)
        .uri(url)
        .header("authorization", format!("Bearer {token}"))
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(body.to_string())))
        .unwrap();
    let resp = client.request(req).await.unwrap();
    let status = resp.status();
    let bytes = resp.into_body().collect().await.unwrap().to_bytes();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

async fn changed_orders_are_credit_checked(store: Store) {
    let admin = store
        .create_user(&NewUser {
            username: "admin-put".into(),
            role: Some(Role::Admin),
            ..Default::default()
        })
        .await
        .unwrap();
    let (_, token) = store.create_token(admin.id, "put test").await.unwrap();
    let c = store
        .create_customer(
            CustomerInput {
                name: "Limited".into(),
                credit_limit: Some(Money(10_000)),
                ..Default::default()
            },
            "test",
        )
        .await
        .unwrap()
        .id;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let app = patron_server::app(patron_server::AppState::new(store.clone()));
    let server = tokio::spawn(async move {
        axum::serve(listener, app)
            .with_graceful_shutdown(async {
                stopped.await.ok();
            })
            .await
    });
    let client = Client::builder(TokioExecutor::new()).build_http();
    let base = format!("http://{addr}/api/customers/{c}/orders");
    let order = |amount: &str| json!({"order_ref": "P1", "ordered_on": "2024-05-01", "lines": [{"amount": amount}]});

    let (s, b) = send(&client, "POST", &base, &token, order("60.00")).await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    // Up to exactly the limit: accepted, the invoice follows.
    let (s, b) = send(
        &client,
        "PUT",
        &format!("{base}/P1"),
        &token,
        order("100.00"),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let inv = store.invoices(c).await.unwrap();
    assert_eq!(inv.len(), 1);
    assert_eq!(inv[0].amount, Money(10_000));
    // One cent more: 409 with the figures; nothing changed.
    let (s, b) = send(
        &client,
        "PUT",
        &format!("{base}/P1"),
        &token,
        order("100.01"),
    )
    .await;
    assert_eq!(s, StatusCode::CONFLICT, "{b}");
    let m = b["message"].as_str().unwrap_or_default();
    for figure in ["100.00", "100.01", "0.01", "credit limit"] {
        assert!(m.contains(figure), "{m}");
    }
    assert_eq!(store.order(c, "P1").await.unwrap().amount, Money(10_000));
    // Lower: accepted.
    let (s, b) = send(
        &client,
        "PUT",
        &format!("{base}/P1"),
        &token,
        order("20.00"),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(store.invoices(c).await.unwrap()[0].amount, Money(2_000));

    stop.send(()).ok();
    server.await.unwrap().unwrap();
}
