//! Concurrent writers through the API, on both backends: editors racing on one customer
//! (optimistic concurrency: one wins, every other gets 409 with the current version, nothing is
//! silently overwritten), and a merge racing with order and interaction inserts on the customer
//! merged away, and with inserts of contacts, tickets, survey answers and opportunities (every
//! acknowledged write ends on the surviving customer; the others fail cleanly, none is lost or
//! left on the merged record).

use std::collections::BTreeSet;

use axum::http::{HeaderName, Method, StatusCode};
use axum::Router;
use patron_server::{app, AppState};
use patron_store::{backend_tests, Role, Store};
use patron_testkit::{json_request, send};
use serde_json::{json, Value};

backend_tests!(
    editors_racing_on_one_customer,
    stale_version_is_refused_with_the_current_one,
    merge_racing_with_inserts,
    merge_racing_with_service_records
);

#[derive(Clone)]
struct Api {
    app: Router,
    token: String,
}

impl Api {
    async fn new(store: &Store) -> Self {
        let (_, token) = patron_server::auth::user_with_token(store, "editor", Role::Admin)
            .await
            .unwrap();
        Api {
            app: app(AppState::new(store.clone())),
            token,
        }
    }

    async fn call(
        &self,
        method: Method,
        uri: &str,
        headers: &[(&str, String)],
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut req = json_request(method, uri, Some(&self.token), body);
        for (k, v) in headers {
            req.headers_mut()
                .append(HeaderName::try_from(*k).unwrap(), v.parse().unwrap());
        }
        let a = send(&self.app, req).await;
        (a.status, a.try_json().unwrap())
    }

    async fn create_customer(&self, name: &str) -> (i64, i64) {
        let (s, c) = self
            .call(
                Method::POST,
                "/api/customers",
                &[],
                Some(json!({"name": name})),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{c}");
        (c["id"].as_i64().unwrap(), c["version"].as_i64().unwrap())
    }

    /// Merges `drop` into `keep` and asserts that it succeeds. A write that changes `drop` after
    /// the merge read it (a survey answer sets its satisfaction field) makes the merge refuse
    /// with 409 "try again"; it is tried again, as a client would.
    async fn merge(&self, keep: i64, drop: i64) -> Value {
        for _ in 0..50 {
            let (s, body) = self
                .call(
                    Method::POST,
                    &format!("/api/customers/{keep}/merge"),
                    &[],
                    Some(json!({"drop": drop})),
                )
                .await;
            if s == StatusCode::CONFLICT
                && body["message"].as_str().unwrap_or("").contains("try again")
            {
                continue;
            }
            assert_eq!(s, StatusCode::OK, "the merge itself succeeds: {body}");
            return body;
        }
        panic!("the merge of {drop} into {keep} was refused 50 times")
    }
}

/// Eight editors read version v and all send their change with `If-Match: "v"` at once: exactly
/// one is applied; every other one gets 409 naming the version the customer is at now, and the
/// stored record holds the winner's change.
async fn editors_racing_on_one_customer(store: Store) {
    let api = Api::new(&store).await;
    let (id, version) = api.create_customer("Racing Ltd").await;
    let mut tasks = Vec::new();
    for n in 0..8 {
        let api = api.clone();
        tasks.push(tokio::spawn(async move {
            let region = format!("region-{n}");
            let (s, body) = api
                .call(
                    Method::PATCH,
                    &format!("/api/customers/{id}"),
                    &[("If-Match", format!("\"{version}\""))],
                    Some(json!({"region": region})),
                )
                .await;
            (region, s, body)
        }));
    }
    let mut winners = Vec::new();
    for t in tasks {
        let (region, s, body) = t.await.unwrap();
        match s {
            StatusCode::OK => winners.push(region),
            StatusCode::CONFLICT => {
                assert_eq!(body["code"], "conflict", "{body}");
                assert_eq!(
                    body["current_version"],
                    json!(version + 1),
                    "a loser is told the version the customer is at now: {body}"
                );
            }
            other => panic!("an editor got {other}: {body}"),
        }
    }
    assert_eq!(winners.len(), 1, "exactly one editor wins: {winners:?}");
    let (s, c) = api
        .call(Method::GET, &format!("/api/customers/{id}"), &[], None)
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(c["version"], json!(version + 1));
    assert_eq!(
        c["region"],
        json!(winners[0]),
        "the winner's change is stored"
    );
    // One history row for the one applied change of `region`.
    let (_, history) = api
        .call(
            Method::GET,
            &format!("/api/customers/{id}/history"),
            &[],
            None,
        )
        .await;
    let region_changes = history
        .as_array()
        .unwrap()
        .iter()
        .filter(|h| h["field"] == "region")
        .count();
    assert_eq!(region_changes, 1, "{history}");
}

/// The second of two editors who read the same version is refused, with both ways of naming the
/// version (If-Match and `expected_version`), and sees the first editor's change untouched.
async fn stale_version_is_refused_with_the_current_one(store: Store) {
    let api = Api::new(&store).await;
    let (id, v) = api.create_customer("Two Editors").await;
    let uri = format!("/api/customers/{id}");
    let (s, first) = api
        .call(
            Method::PATCH,
            &uri,
            &[("If-Match", format!("\"{v}\""))],
            Some(json!({"phone": "+86 138 0013 8000"})),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{first}");
    assert_eq!(first["version"], json!(v + 1));
    let (s, second) = api
        .call(
            Method::PATCH,
            &uri,
            &[("If-Match", format!("\"{v}\""))],
            Some(json!({"phone": "010 5555 1234"})),
        )
        .await;
    assert_eq!(s, StatusCode::CONFLICT, "{second}");
    assert_eq!(second["current_version"], json!(v + 1));
    let (s, third) = api
        .call(
            Method::PATCH,
            &format!("{uri}?expected_version={v}"),
            &[],
            Some(json!({"phone": "010 5555 1234"})),
        )
        .await;
    assert_eq!(s, StatusCode::CONFLICT, "{third}");
    assert_eq!(third["current_version"], json!(v + 1));
    let (_, now) = api.call(Method::GET, &uri, &[], None).await;
    assert_eq!(now["phone"], first["phone"], "no silent overwrite");
    assert_eq!(now["version"], json!(v + 1));
}

/// Orders and interactions are recorded on customer D while D is merged into K. Each insert
/// either succeeds (201) or fails cleanly (404/409: D is gone); afterwards every acknowledged
/// order and interaction is on K, complete, and nothing is left on D.
async fn merge_racing_with_inserts(store: Store) {
    let api = Api::new(&store).await;
    let (keep, _) = api.create_customer("Keep Co").await;
    let (drop, _) = api.create_customer("Drop Co").await;
    let writers = 24;
    let mut tasks = Vec::new();
    for n in 0..writers {
        let writer = api.clone();
        tasks.push(tokio::spawn(async move {
            if n % 2 == 0 {
                let order_ref = format!("race-{n}");
                let (s, body) = writer
                    .call(
                        Method::POST,
                        &format!("/api/customers/{drop}/orders"),
                        &[],
                        Some(json!({
                            "order_ref": order_ref,
                            "ordered_on": "2024-05-01",
                            "lines": [
                                {"amount": 10, "cost": 4, "category": "a"},
                                {"amount": 20, "cost": 8, "category": "b"},
                                {"amount": 30, "cost": 12, "category": "c"},
                            ],
                        })),
                    )
                    .await;
                (Some(order_ref), s, body)
            } else {
                let (s, body) = writer
                    .call(
                        Method::POST,
                        &format!("/api/customers/{drop}/interactions"),
                        &[],
                        Some(json!({"kind": "call", "text": format!("call {n}"), "external_id": format!("race-{n}")})),
                    )
                    .await;
                (None, s, body)
            }
        }));
        if n == writers / 3 {
            let api = api.clone();
            tasks.push(tokio::spawn(async move {
                let body = api.merge(keep, drop).await;
                (Some("merge".to_string()), StatusCode::OK, body)
            }));
        }
    }
    let mut orders = BTreeSet::new();
    let mut interactions = BTreeSet::new();
    for t in tasks {
        let (order_ref, s, body) = t.await.unwrap();
        if order_ref.as_deref() == Some("merge") {
            continue;
        }
        match s {
            StatusCode::CREATED => match order_ref {
                Some(r) => {
                    orders.insert(r);
                }
                None => {
                    interactions.insert(body["external_id"].as_str().unwrap().to_string());
                }
            },
            StatusCode::NOT_FOUND | StatusCode::CONFLICT => {}
            other => panic!("an insert racing with the merge got {other}: {body}"),
        }
    }
    // Nothing is left on the merged customer.
    let (_, left) = api
        .call(
            Method::GET,
            &format!("/api/orders?customer_id={drop}&limit=500"),
            &[],
            None,
        )
        .await;
    assert_eq!(
        left["items"],
        json!([]),
        "orders left on the merged customer"
    );
    let (_, left) = api
        .call(
            Method::GET,
            &format!("/api/interactions?customer_id={drop}&limit=500"),
            &[],
            None,
        )
        .await;
    assert_eq!(
        left["items"],
        json!([]),
        "interactions left on the merged customer"
    );
    // Every acknowledged order is on the kept customer with all three lines.
    let (s, page) = api
        .call(
            Method::GET,
            &format!("/api/customers/{keep}/orders?limit=500"),
            &[],
            None,
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{page}");
    let kept: BTreeSet<String> = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| {
            assert_eq!(
                o["lines"].as_array().unwrap().len(),
                3,
                "a partial order: {o}"
            );
            o["order_ref"].as_str().unwrap().to_string()
        })
        .collect();
    assert_eq!(
        kept, orders,
        "acknowledged orders = orders on the kept customer"
    );
    let (_, page) = api
        .call(
            Method::GET,
            &format!("/api/customers/{keep}/interactions?limit=500"),
            &[],
            None,
        )
        .await;
    let kept: BTreeSet<String> = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["external_id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        kept, interactions,
        "acknowledged interactions = interactions on the kept customer"
    );
}

/// Contacts, tickets, survey answers and opportunities are recorded on customer D while D is
/// merged into K: each insert succeeds (201) or is refused cleanly (404/409), and afterwards
/// every acknowledged record is on K (a ticket with its "opened" history entry) and none on D.
async fn merge_racing_with_service_records(store: Store) {
    let api = Api::new(&store).await;
    let (keep, _) = api.create_customer("Keep Co").await;
    let (drop, _) = api.create_customer("Drop Co").await;
    // (path under the customer, the body, the field naming the record in the listing)
    let kinds = ["contacts", "tickets", "surveys", "opportunities"];
    let body = |kind: &str, tag: &str| match kind {
        "contacts" => json!({"name": tag}),
        "tickets" => json!({"kind": "question", "subject": tag}),
        "surveys" => json!({"kind": "csat", "score": 4, "comment": tag}),
        _ => json!({"name": tag, "amount": 100, "expected_close": "2030-01-01"}),
    };
    let name_field = |kind: &str| match kind {
        "contacts" | "opportunities" => "name",
        "tickets" => "subject",
        _ => "comment",
    };
    let writers = 32;
    let mut tasks = Vec::new();
    for n in 0..writers {
        let writer = api.clone();
        let kind = kinds[n % kinds.len()];
        let tag = format!("race-{n}");
        let payload = body(kind, &tag);
        tasks.push(tokio::spawn(async move {
            let (s, body) = writer
                .call(
                    Method::POST,
                    &format!("/api/customers/{drop}/{kind}"),
                    &[],
                    Some(payload),
                )
                .await;
            (kind, tag, s, body)
        }));
        if n == writers / 3 {
            let api = api.clone();
            tasks.push(tokio::spawn(async move {
                let body = api.merge(keep, drop).await;
                ("merge", String::new(), StatusCode::OK, body)
            }));
        }
    }
    let mut acknowledged: BTreeSet<(String, String)> = BTreeSet::new();
    for t in tasks {
        let (kind, tag, s, body) = t.await.unwrap();
        if kind == "merge" {
            continue;
        }
        match s {
            StatusCode::CREATED => {
                acknowledged.insert((kind.to_string(), tag));
            }
            StatusCode::NOT_FOUND | StatusCode::CONFLICT => {}
            other => panic!("a {kind} insert racing with the merge got {other}: {body}"),
        }
    }
    let mut on_keep = BTreeSet::new();
    for kind in kinds {
        let (s, list) = api
            .call(
                Method::GET,
                &format!("/api/customers/{keep}/{kind}"),
                &[],
                None,
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{list}");
        let items = list
            .get("items")
            .unwrap_or(&list)
            .as_array()
            .unwrap()
            .clone();
        for item in items {
            let Some(tag) = item[name_field(kind)].as_str() else {
                continue;
            };
            if !tag.starts_with("race-") {
                continue;
            }
            if kind == "tickets" {
                let events = item["events"].as_array().unwrap();
                assert_eq!(
                    events[0]["kind"],
                    json!("opened"),
                    "a ticket without its opening: {item}"
                );
            }
            on_keep.insert((kind.to_string(), tag.to_string()));
        }
        // Nothing was left on the merged customer.
        let (s, left) = api
            .call(
                Method::GET,
                &format!("/api/customers/{drop}/{kind}"),
                &[],
                None,
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{left}");
        assert_eq!(
            left.get("items").unwrap_or(&left),
            &json!([]),
            "{kind} left on the merged customer"
        );
    }
    assert_eq!(
        on_keep, acknowledged,
        "acknowledged records = records on the kept customer"
    );
}
