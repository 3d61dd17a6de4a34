//! The role matrix: every API operation and every web page (GET and POST), called as anonymous,
//! admin, the managers and reps of two departments and an analyst, against customers of both
//! departments. Each answer must be the one the permission table (`patron_app::permissions`)
//! gives for the action, and the API and the web must agree on every action they share.

mod common;

use std::collections::{BTreeMap, BTreeSet};

use axum::body::Body;
use axum::http::{header, Method, Request, StatusCode};
use patron_app::permissions::allowed;
use patron_app::Action;
use patron_domain::CustomerInput;
use patron_store::{backend_tests, NewUser, Role, Store, User};
use patron_testkit::send;

backend_tests!(every_route_answers_as_the_permission_table_says);

const WEB_GATE: &str = "Your role does not open this page.";

async fn user(store: &Store, name: &str, role: Role, department: Option<i64>) -> User {
    store
        .create_user(&NewUser {
            username: name.into(),
            role: Some(role),
            department_id: department,
            ..Default::default()
        })
        .await
        .unwrap()
}

/// The pages of the web interface: (method, path with `{id}` for a customer, `{user}` for a
/// user id).
const PAGES: &[(&str, &str)] = &[
    ("GET", "/customers"),
    ("GET", "/customers.csv"),
    ("GET", "/exports"),
    ("GET", "/exports/new"),
    ("GET", "/exports/queue"),
    ("POST", "/exports/1/decide"),
    ("POST", "/exports/1/download"),
    ("GET", "/admin/exports"),
    ("POST", "/admin/exports"),
    ("POST", "/admin/leaving"),
    ("POST", "/customers/views"),
    ("POST", "/customers/views/1/delete"),
    ("POST", "/customers/bulk"),
    ("GET", "/customers/{id}"),
    ("POST", "/customers/{id}"),
    ("POST", "/customers/{id}/archive"),
    ("POST", "/customers/{id}/restore"),
    ("POST", "/customers/{id}/purge"),
    ("GET", "/customers/{id}/brief"),
    ("GET", "/customers/{id}/orders/new"),
    ("POST", "/customers/{id}/orders/new"),
    ("GET", "/dashboard"),
    ("POST", "/dashboard/recompute"),
    ("GET", "/score-model"),
    ("POST", "/score-model"),
    ("GET", "/import"),
    ("GET", "/import/1"),
    ("GET", "/import/1/progress"),
    ("GET", "/import/1/rejects.csv"),
    ("POST", "/import/1/map"),
    ("GET", "/work"),
    ("GET", "/work/receivables"),
    ("POST", "/work/receivables/payment"),
    ("POST", "/work/receivables/holds/1/approve"),
    ("GET", "/work/service"),
    ("POST", "/work/service/tickets"),
    ("POST", "/work/service/tickets/{id}/1/resolve"),
    ("POST", "/work/service/escalate"),
    ("POST", "/work/service/surveys"),
    ("GET", "/work/followup"),
    ("POST", "/work/followup/done"),
    ("POST", "/work/followup/cadence"),
    ("GET", "/work/pipeline"),
    ("POST", "/work/pipeline"),
    ("POST", "/work/pipeline/{id}/1/stage"),
    ("GET", "/work/campaigns"),
    ("POST", "/work/campaigns"),
    ("GET", "/work/review"),
    ("GET", "/leads"),
    ("POST", "/leads"),
    ("POST", "/leads/1/status"),
    ("POST", "/leads/1/convert"),
    ("POST", "/leads/1/assign"),
    ("GET", "/pool"),
    ("POST", "/pool/claim"),
    ("POST", "/pool/return"),
    ("POST", "/pool/reclaim"),
    ("GET", "/admin/users"),
    ("POST", "/admin/users/{user}/disable"),
    ("POST", "/admin/handover"),
    ("GET", "/admin/audit"),
    ("GET", "/admin/audit.csv"),
    ("POST", "/lang"),
];

/// Whether each caller was let through, per action, as seen on one front-end.
type Seen = BTreeMap<Action, BTreeSet<(String, bool)>>;

async fn every_route_answers_as_the_permission_table_says(store: Store) {
    let east = store.create_department("East", None).await.unwrap();
    let west = store.create_department("West", None).await.unwrap();
    let callers = [
        user(&store, "root", Role::Admin, None).await,
        user(&store, "mary-east", Role::Manager, Some(east.id)).await,
        user(&store, "walt-west", Role::Manager, Some(west.id)).await,
        user(&store, "eric-east", Role::Rep, Some(east.id)).await,
        user(&store, "wendy-west", Role::Rep, Some(west.id)).await,
        user(&store, "ana", Role::Analyst, None).await,
    ];
    let mut customers = Vec::new();
    for (name, owner) in [
        ("Eastern Goods", &callers[3]),
        ("Western Wares", &callers[4]),
    ] {
        let c = store
            .create_customer(
                CustomerInput {
                    name: name.into(),
                    owner_id: Some(owner.id),
                    ..CustomerInput::default()
                },
                "test",
            )
            .await
            .unwrap();
        customers.push(c.id);
    }
    // The user the user pages and hand-over act on (an admin's call may disable them).
    let spare = user(&store, "sam-spare", Role::Rep, Some(east.id)).await.id;
    let fill = |path: &str, customer: i64| {
        path.replace("{id}", &customer.to_string())
            .replace("{user_id}", &spare.to_string())
            .replace("{user}", &spare.to_string())
            .replace("{order_ref}", "R1")
            .replace(['{', '}'], "")
    };
    let numbered = |p: String| {
        // Other ids (contacts, tickets, ...) are 1.
        p.split('/')
            .map(|seg| {
                if seg.ends_with("_id") || seg == "contact_id" {
                    "1".to_string()
                } else {
                    seg.to_string()
                }
            })
            .collect::<Vec<_>>()
            .join("/")
    };

    // The JSON API, from its route table.
    let mut api_seen = Seen::new();
    for route in patron_server::routes::ROUTES {
        let Some(action) = route.action else { continue };
        for &customer in &customers {
            let uri = numbered(fill(route.path, customer));
            let method = route.verb.method();
            let body = || {
                if matches!(method, Method::GET | Method::DELETE) {
                    Body::empty()
                } else {
                    Body::from("{}")
                }
            };
            let anonymous = send(
                &common::router(store.clone()),
                Request::builder()
                    .method(method.clone())
                    .uri(&uri)
                    .header(header::CONTENT_TYPE, "application/json")
                    .body(body())
                    .unwrap(),
            )
            .await;
            assert_eq!(
                anonymous.status,
                StatusCode::UNAUTHORIZED,
                "anonymous {method} {uri}"
            );
            for caller in &callers {
                let (_, token) = store.create_token(caller.id, "matrix").await.unwrap();
                let a = send(
                    &common::router(store.clone()),
                    Request::builder()
                        .method(method.clone())
                        .uri(&uri)
                        .header(header::AUTHORIZATION, format!("Bearer {token}"))
                        .header(header::CONTENT_TYPE, "application/json")
                        .body(body())
                        .unwrap(),
                )
                .await;
                let who = format!("{} {method} {uri}", caller.username);
                assert!(a.status.as_u16() < 500, "{who}: {} {}", a.status, a.body);
                let role_refused = a.status == StatusCode::FORBIDDEN
                    && (a.body.contains("may not do this")
                        || a.body.contains("aggregate figures only"));
                let want = allowed(caller.role, action);
                assert_eq!(
                    !role_refused, want,
                    "{who} ({action:?}): {} {}",
                    a.status, a.body
                );
                if want {
                    // A 403 that is not the role gate is the scope speaking (a pool customer
                    // to claim first, a user outside the manager's scope), never the role.
                    assert!(
                        a.status != StatusCode::FORBIDDEN
                            || a.body.contains("claim")
                            || a.body.contains("scope"),
                        "{who}: {}",
                        a.body
                    );
                }
                api_seen
                    .entry(action)
                    .or_default()
                    .insert((caller.username.clone(), !role_refused));
            }
        }
    }

    // The web pages, each as a fresh session (a POST to /logout would end a shared one).
    let mut web_seen = Seen::new();
    for (verb, path) in PAGES {
        let method: Method = verb.parse().unwrap();
        for &customer in &customers {
            let uri = fill(path, customer);
            let req = || {
                Request::builder()
                    .method(method.clone())
                    .uri(&uri)
                    .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                    .body(Body::empty())
                    .unwrap()
            };
            let anonymous = send(&common::router(store.clone()), req()).await;
            if method == Method::GET {
                assert_eq!(
                    anonymous.status,
                    StatusCode::SEE_OTHER,
                    "anonymous GET {uri}"
                );
            } else {
                assert_eq!(
                    anonymous.status,
                    StatusCode::FORBIDDEN,
                    "anonymous POST {uri}"
                );
            }
            let action = patron_web::auth::page_action(&method, uri.split('?').next().unwrap());
            for caller in &callers {
                let app = patron_web::auth::signed_in(
                    common::router(store.clone()),
                    &store,
                    &caller.username,
                )
                .await
                .unwrap();
                let page = send(&app, req()).await;
                let who = format!("{} {method} {uri}", caller.username);
                assert!(page.status.as_u16() < 500, "{who}: {}", page.status);
                let gate_refused =
                    page.status == StatusCode::FORBIDDEN && page.body.contains(WEB_GATE);
                let want = allowed(caller.role, action);
                assert_eq!(!gate_refused, want, "{who} ({action:?}): {}", page.status);
                if want {
                    assert_ne!(
                        page.status,
                        StatusCode::FORBIDDEN,
                        "{who}: refused past the gate: {}",
                        page.body
                    );
                }
                web_seen
                    .entry(action)
                    .or_default()
                    .insert((caller.username.clone(), !gate_refused));
            }
        }
    }

    // The same answer for the same action on both front-ends.
    let mut shared = 0;
    for (action, api) in &api_seen {
        if let Some(web) = web_seen.get(action) {
            assert_eq!(api, web, "{action:?}: the API and the web disagree");
            shared += 1;
        }
    }
    assert!(shared >= 10, "the front-ends share {shared} actions");
}
