//! `GET /api/customers.csv` under the export rules, on both backends: the filtered list as CSV
//! (cells neutralised, the caller's scope, audited with its rows); over the daily limit a 403
//! saying it needs approval; a role without the export right a clear 403; documented in the
//! OpenAPI document as `text/csv`.

use axum::http::{Method, StatusCode};
use patron_app::Session;
use patron_server::{app, openapi, AppState};
use patron_store::{backend_tests, AuditFilter, ExportRight, ExportRule, Role, Store};
use patron_testkit::call;
use serde_json::json;

backend_tests!(the_api_csv_obeys_the_export_rules);

async fn the_api_csv_obeys_the_export_rules(store: Store) {
    let api = app(AppState::new(store.clone()));
    let (ray, token) = patron_server::auth::user_with_token(&store, "ray", Role::Rep)
        .await
        .unwrap();
    let (_, other) = patron_server::auth::user_with_token(&store, "ola", Role::Rep)
        .await
        .unwrap();
    for (name, region) in [
        ("=HYPERLINK(\"x\")", "East"),
        ("Bravo", "West"),
        ("Cara", "West"),
    ] {
        let input =
            serde_json::from_value(json!({"name": name, "region": region, "owner_id": ray.id}))
                .unwrap();
        store.create_customer(input, "test").await.unwrap();
    }
    let a = call(&api, Method::GET, "/api/customers.csv", Some(&token), None).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    assert!(a.content_type.starts_with("text/csv"), "{}", a.content_type);
    assert_eq!(a.body.lines().count(), 4, "{}", a.body);
    assert!(a.body.contains("'=HYPERLINK"), "{}", a.body);
    // The same filters as the list; another rep sees none of ray's customers.
    let a = call(
        &api,
        Method::GET,
        "/api/customers.csv?region=West",
        Some(&token),
        None,
    )
    .await;
    assert_eq!(a.body.lines().count(), 3, "{}", a.body);
    let a = call(&api, Method::GET, "/api/customers.csv", Some(&other), None).await;
    assert_eq!(a.body.lines().count(), 1, "{}", a.body);
    let a = call(
        &api,
        Method::GET,
        "/api/customers.csv?status=nope",
        Some(&token),
        None,
    )
    .await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST);
    // 5 rows exported today; 3 more over a limit of 6 need approval.
    patron_app::exports::set_rule(
        &store,
        &Session::unrestricted("admin-op"),
        ExportRule {
            role: Role::Rep,
            right: ExportRight::Own,
            daily_rows: Some(6),
        },
        "",
    )
    .await
    .unwrap();
    let a = call(&api, Method::GET, "/api/customers.csv", Some(&token), None).await;
    assert_eq!(a.status, StatusCode::FORBIDDEN, "{}", a.body);
    let m = a.json()["message"].as_str().unwrap_or_default().to_string();
    assert!(m.contains("daily limit of 6"), "{}", a.body);
    // Analysts may not export at all.
    let (_, analyst) = patron_server::auth::user_with_token(&store, "ana", Role::Analyst)
        .await
        .unwrap();
    let a = call(
        &api,
        Method::GET,
        "/api/customers.csv",
        Some(&analyst),
        None,
    )
    .await;
    assert_eq!(a.status, StatusCode::FORBIDDEN);
    // Nor a role the table gives no export right.
    patron_app::exports::set_rule(
        &store,
        &Session::unrestricted("admin-op"),
        ExportRule {
            role: Role::Rep,
            right: ExportRight::None,
            daily_rows: None,
        },
        "",
    )
    .await
    .unwrap();
    let a = call(
        &api,
        Method::GET,
        "/api/customers.csv?region=West",
        Some(&token),
        None,
    )
    .await;
    assert_eq!(a.status, StatusCode::FORBIDDEN);
    assert!(
        a.body.contains("may not export customer rows"),
        "{}",
        a.body
    );
    let rows: Vec<Option<i64>> = store
        .audit_log(&AuditFilter {
            action: Some("export".into()),
            limit: 10,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.row_count)
        .collect();
    assert_eq!(rows, vec![Some(0), Some(2), Some(3)]);
    let op = &openapi::document()["paths"]["/api/customers.csv"]["get"];
    assert!(
        !op["responses"]["200"]["content"]["text/csv"].is_null(),
        "{op}"
    );
    assert!(!op["responses"]["403"].is_null(), "{op}");
}
