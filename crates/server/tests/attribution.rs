//! Interactions over HTTP are by the authenticated user, on both backends: a rep naming someone
//! else in `by` is refused (403, recording or replacing), without `by` (or with their own name)
//! the interaction bears their name; a role that may record for others (an admin) keeps the
//! `by` it gives.

use axum::http::{Method, StatusCode};
use patron_domain::CustomerInput;
use patron_server::{app, AppState};
use patron_store::{backend_tests, Role, Store};
use patron_testkit::call;
use serde_json::{json, Value};

backend_tests!(interactions_are_by_the_caller);

async fn interactions_are_by_the_caller(store: Store) {
    let router = app(AppState::new(store.clone()));
    let (rep, rep_token) = patron_server::auth::user_with_token(&store, "ray", Role::Rep)
        .await
        .unwrap();
    let (_, admin_token) = patron_server::auth::user_with_token(&store, "boss", Role::Admin)
        .await
        .unwrap();
    let c = store
        .create_customer(
            CustomerInput {
                name: "Ray's".into(),
                owner_id: Some(rep.id),
                ..CustomerInput::default()
            },
            "t",
        )
        .await
        .unwrap()
        .id;
    let base = format!("/api/customers/{c}/interactions");
    let send = |token: &str, method: Method, uri: String, body: Value| {
        let (router, token) = (router.clone(), token.to_string());
        async move {
            let a = call(&router, method, &uri, Some(&token), Some(body)).await;
            (a.status, a.try_json().unwrap())
        }
    };
    // A rep cannot put words in another's mouth.
    let (status, body) = send(
        &rep_token,
        Method::POST,
        base.clone(),
        json!({"kind": "call", "text": "Called", "by": "boss"}),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert!(body.to_string().contains("own name"), "{body}");
    // Without `by`, or with their own name, it is theirs.
    let (status, body) = send(
        &rep_token,
        Method::POST,
        base.clone(),
        json!({"kind": "call", "text": "Called"}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["by"], "ray");
    let id = body["id"].as_i64().unwrap();
    let (status, body) = send(
        &rep_token,
        Method::POST,
        base.clone(),
        json!({"kind": "visit", "text": "Visited", "by": "ray"}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["by"], "ray");
    // Replacing follows the same rule.
    let (status, body) = send(
        &rep_token,
        Method::PUT,
        format!("{base}/{id}"),
        json!({"kind": "call", "text": "Called again", "by": "boss"}),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    let (status, body) = send(
        &rep_token,
        Method::PUT,
        format!("{base}/{id}"),
        json!({"kind": "call", "text": "Called again"}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["by"], "ray");
    // An admin may record a rep's visit in the rep's name.
    let (status, body) = send(
        &admin_token,
        Method::POST,
        base.clone(),
        json!({"kind": "visit", "text": "Ray's visit, typed in by the office", "by": "ray"}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["by"], "ray");
    let (status, body) = send(
        &admin_token,
        Method::POST,
        base.clone(),
        json!({"kind": "call", "text": "Called"}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["by"], "boss");
}
