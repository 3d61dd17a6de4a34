//! Scope, role gates and audit through both front-ends of the binary's router, with users of
//! every role in two departments: each test is one finding of the application-layer review
//! that the shared use cases (`patron-app`) fixed.

mod common;

use axum::body::Body;
use axum::http::{header, Method, Request, StatusCode};
use axum::Router;
use http_body_util::BodyExt;
use patron_domain::{CustomerInput, OrderInput};
use patron_store::{backend_tests, AuditFilter, NewUser, Role, Store, User};
use patron_testkit::{call, get, post_form, send, Answer};
use serde_json::{json, Value};
use tower::ServiceExt;

backend_tests!(
    reclaim_stays_in_the_callers_scope,
    web_import_stays_in_scope_is_audited_and_private,
    dashboard_before_the_first_refresh_names_only_readable_customers,
    customer_numbers_resolve_before_ids,
    api_and_web_gates_agree,
    an_interaction_is_by_its_caller,
    security_headers_on_every_answer,
);

/// Two departments, each with a manager and a rep who owns one customer, plus an admin and an
/// analyst.
struct World {
    store: Store,
    east_manager: User,
    west_manager: User,
    east_rep: User,
    east_customer: i64,
    west_customer: i64,
}

async fn user(store: &Store, name: &str, role: Role, department: Option<i64>) -> User {
    store
        .create_user(&NewUser {
            username: name.into(),
            role: Some(role),
            department_id: department,
            password: Some(format!("{name}-password-1")),
            ..Default::default()
        })
        .await
        .unwrap()
}

async fn customer(store: &Store, name: &str, owner: Option<i64>) -> i64 {
    store
        .create_customer(
            CustomerInput {
                name: name.into(),
                owner_id: owner,
                ..CustomerInput::default()
            },
            "test",
        )
        .await
        .unwrap()
        .id
}

async fn world(store: Store) -> World {
    let east = store.create_department("East", None).await.unwrap();
    let west = store.create_department("West", None).await.unwrap();
    user(&store, "root", Role::Admin, None).await;
    user(&store, "ana", Role::Analyst, None).await;
    let east_manager = user(&store, "mary-east", Role::Manager, Some(east.id)).await;
    let west_manager = user(&store, "walt-west", Role::Manager, Some(west.id)).await;
    let east_rep = user(&store, "eric-east", Role::Rep, Some(east.id)).await;
    let west_rep = user(&store, "wendy-west", Role::Rep, Some(west.id)).await;
    let east_customer = customer(&store, "Eastern Goods", Some(east_rep.id)).await;
    let west_customer = customer(&store, "Western Wares", Some(west_rep.id)).await;
    World {
        store,
        east_manager,
        west_manager,
        east_rep,
        east_customer,
        west_customer,
    }
}

/// The JSON API as `username` (a bearer token of theirs).
async fn api(
    store: &Store,
    username: &str,
    method: Method,
    uri: &str,
    body: Option<Value>,
) -> Answer {
    let u = store.user_by_name(username).await.unwrap();
    let (_, token) = store.create_token(u.id, "test").await.unwrap();
    let app = common::router(store.clone());
    call(&app, method, uri, Some(&token), body).await
}

/// The web pages as `username`, signed in (session cookie and CSRF token on every request).
async fn web(store: &Store, username: &str) -> Router {
    patron_web::auth::signed_in(common::router(store.clone()), store, username)
        .await
        .unwrap()
}

async fn owner(store: &Store, id: i64) -> Option<i64> {
    store.customer(id).await.unwrap().data.owner_id
}

async fn number(store: &Store, id: i64) -> String {
    store.customer(id).await.unwrap().data.number.unwrap()
}

/// A manager of East, however far in the future they claim today is, returns only East's idle
/// customers to the pool: the date is the server's, the scope the caller's.
async fn reclaim_stays_in_the_callers_scope(store: Store) {
    let w = world(store).await;
    // Both customers idle for decades.
    w.store
        .raw_execute("UPDATE customers SET created_at = '2000-01-01T00:00:00Z', owner_since = '2000-01-01T00:00:00Z'")
        .await
        .unwrap();
    let far = api(
        &w.store,
        "mary-east",
        Method::POST,
        "/api/pool/reclaim",
        Some(json!({"today": "2100-01-01"})),
    )
    .await;
    assert!(
        far.status.is_client_error(),
        "a client-chosen day is refused: {}",
        far.body
    );
    assert!(
        far.body.contains("today"),
        "the error names the field: {}",
        far.body
    );
    let preview = api(
        &w.store,
        "mary-east",
        Method::POST,
        "/api/pool/reclaim",
        Some(json!({"preview": true})),
    )
    .await;
    assert_eq!(preview.status, StatusCode::OK, "{}", preview.body);
    let listed: Vec<i64> = preview
        .json()
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["customer_id"].as_i64().unwrap())
        .collect();
    assert_eq!(
        listed,
        vec![w.east_customer],
        "only East's customer, previewed"
    );
    assert_eq!(
        owner(&w.store, w.east_customer).await,
        Some(w.east_rep.id),
        "a preview changes nothing"
    );
    let rep = api(
        &w.store,
        "eric-east",
        Method::POST,
        "/api/pool/reclaim",
        None,
    )
    .await;
    assert_eq!(rep.status, StatusCode::FORBIDDEN, "{}", rep.body);
    let done = api(
        &w.store,
        "mary-east",
        Method::POST,
        "/api/pool/reclaim",
        None,
    )
    .await;
    assert_eq!(done.status, StatusCode::OK, "{}", done.body);
    assert_eq!(done.json().as_array().unwrap().len(), 1, "{}", done.body);
    assert_eq!(
        owner(&w.store, w.east_customer).await,
        None,
        "East's idle customer is in the pool"
    );
    assert!(
        owner(&w.store, w.west_customer).await.is_some(),
        "West's customer is untouched"
    );
    // The web button does the same for West's manager, over West only.
    let west = web(&w.store, "walt-west").await;
    let page = post_form(&west, "/pool/reclaim", &[("preview", "1")]).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert!(
        page.body
            .contains(&format!("/customers/{}", w.west_customer)),
        "{}",
        page.body
    );
    assert!(
        owner(&w.store, w.west_customer).await.is_some(),
        "a preview changes nothing"
    );
    let applied = post_form(&west, "/pool/reclaim", &[]).await;
    assert_eq!(applied.status, StatusCode::SEE_OTHER, "{}", applied.body);
    assert_eq!(owner(&w.store, w.west_customer).await, None);
}

fn multipart(entity: &str, file_name: &str, csv: &str) -> (String, Vec<u8>) {
    let boundary = "patron-test-boundary";
    let body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"entity\"\r\n\r\n{entity}\r\n\
         --{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{file_name}\"\r\nContent-Type: text/csv\r\n\r\n{csv}\r\n\
         --{boundary}--\r\n"
    );
    (
        format!("multipart/form-data; boundary={boundary}"),
        body.into_bytes(),
    )
}

/// A manager of East imports orders for an East and a West customer from the web page: the
/// West row is rejected like an unknown customer, the East row is stored by the manager, the
/// import is in the audit log, and the job (with its rejected rows) is the manager's alone.
async fn web_import_stays_in_scope_is_audited_and_private(store: Store) {
    let w = world(store).await;
    let (east_no, west_no) = (
        number(&w.store, w.east_customer).await,
        number(&w.store, w.west_customer).await,
    );
    let csv =
        format!("customer,date,amount\n{east_no},2024-03-01,120.50\n{west_no},2024-03-02,99.00\n");
    let (kind, body) = multipart("orders", "mixed-orders.csv", &csv);
    let mary = web(&w.store, "mary-east").await;
    let started = send(
        &mary,
        Request::post("/import")
            .header(header::CONTENT_TYPE, kind)
            .body(Body::from(body))
            .unwrap(),
    )
    .await;
    assert_eq!(started.status, StatusCode::SEE_OTHER, "{}", started.body);
    let job = "/import/1";
    let mut done = false;
    for _ in 0..200 {
        let p = get(&mary, &format!("{job}/progress")).await;
        assert_eq!(p.status, StatusCode::OK, "{}", p.body);
        if p.json()["state"] != "running" {
            assert_eq!(p.json()["state"], "done", "{}", p.body);
            done = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(done, "the import finished");
    let orders = w.store.order_facts().await.unwrap();
    let on = |id: i64| orders.iter().filter(|o| o.customer_id == id).count();
    assert_eq!(on(w.east_customer), 1, "East's order is stored");
    assert_eq!(on(w.west_customer), 0, "nothing lands on West's customer");
    let report = get(&mary, job).await;
    assert!(
        report
            .body
            .contains(&format!("customer &#39;{west_no}&#39; does not exist"))
            || report
                .body
                .contains(&format!("customer '{west_no}' does not exist")),
        "{}",
        report.body
    );
    let audit = w
        .store
        .audit_log(&AuditFilter {
            action: Some("import".into()),
            limit: 10,
            ..AuditFilter::default()
        })
        .await
        .unwrap();
    assert_eq!(audit.len(), 1, "{audit:?}");
    assert_eq!(audit[0].actor_id, Some(w.east_manager.id));
    assert_eq!(audit[0].row_count, Some(1));
    assert!(
        audit[0]
            .detail
            .as_deref()
            .unwrap_or("")
            .contains("mixed-orders.csv"),
        "{audit:?}"
    );
    // West's manager sees neither the job nor its rejected rows.
    let walt = web(&w.store, "walt-west").await;
    assert_eq!(get(&walt, job).await.status, StatusCode::NOT_FOUND);
    assert_eq!(
        get(&walt, &format!("{job}/rejects.csv")).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        get(&walt, &format!("{job}/progress")).await.status,
        StatusCode::NOT_FOUND
    );
    let list = get(&walt, "/import").await;
    assert!(!list.body.contains("mixed-orders.csv"), "{}", list.body);
    assert!(get(&mary, "/import")
        .await
        .body
        .contains("mixed-orders.csv"));
    assert_ne!(w.west_manager.id, w.east_manager.id);
}

async fn order(store: &Store, customer: i64, day: &str, amount: f64, n: usize) {
    let o: OrderInput = serde_json::from_value(json!({
        "order_ref": format!("R{customer}-{n}"),
        "ordered_on": day,
        "lines": [{"amount": amount}]
    }))
    .unwrap();
    store.create_order(customer, o).await.unwrap();
}

/// Before any value refresh the dashboard computes its figures live; its churn list links only
/// customers the viewer may read: none for an analyst, East's for East's manager.
async fn dashboard_before_the_first_refresh_names_only_readable_customers(store: Store) {
    let w = world(store).await;
    // Both customers bought every month of 2022 and then stopped; a third buys until 2024.
    let active = customer(&w.store, "Still Buying", None).await;
    for m in 1..=12 {
        for (k, c) in [w.east_customer, w.west_customer, active]
            .into_iter()
            .enumerate()
        {
            order(&w.store, c, &format!("2022-{m:02}-10"), 500.0 + k as f64, m).await;
        }
    }
    for m in 1..=12 {
        order(&w.store, active, &format!("2024-{m:02}-10"), 300.0, 100 + m).await;
    }
    let link = |id: i64| format!("href=\"/customers/{id}\"");
    let admin = get(&web(&w.store, "root").await, "/dashboard").await;
    assert_eq!(admin.status, StatusCode::OK);
    assert!(
        admin.body.contains(&link(w.east_customer)) && admin.body.contains(&link(w.west_customer)),
        "the lapsed customers are in the churn list: {}",
        admin.body
    );
    let analyst = get(&web(&w.store, "ana").await, "/dashboard").await;
    assert_eq!(analyst.status, StatusCode::OK);
    assert!(
        !analyst.body.contains("href=\"/customers/"),
        "an analyst sees no customer: {}",
        analyst.body
    );
    let mary = get(&web(&w.store, "mary-east").await, "/dashboard").await;
    assert!(mary.body.contains(&link(w.east_customer)), "{}", mary.body);
    assert!(
        !mary.body.contains(&link(w.west_customer)),
        "East's manager does not see West's customer"
    );
}

/// Digits typed in a "customer" field are a customer number: number `N` is the customer
/// numbered N even when another customer's internal id is N; `#N` names the id.
async fn customer_numbers_resolve_before_ids(store: Store) {
    let first = customer(&store, "Id Holder", None).await;
    let numbered = store
        .create_customer(
            CustomerInput {
                name: "Number Holder".into(),
                number: Some(first.to_string()),
                ..CustomerInput::default()
            },
            "test",
        )
        .await
        .unwrap()
        .id;
    user(&store, "root", Role::Admin, None).await;
    let app = web(&store, "root").await;
    let typed = first.to_string();
    let r = post_form(
        &app,
        "/work/service/tickets",
        &[
            ("customer", &typed),
            ("kind", "question"),
            ("subject", "By number"),
        ],
    )
    .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let now = chrono::Utc::now();
    let on = |tickets: Vec<patron_domain::service::Ticket>| {
        tickets
            .iter()
            .map(|t| t.subject.clone())
            .collect::<Vec<_>>()
    };
    assert_eq!(
        on(store.customer_tickets(numbered, now).await.unwrap()),
        vec!["By number"]
    );
    assert!(
        store.customer_tickets(first, now).await.unwrap().is_empty(),
        "not the customer whose id is {first}"
    );
    let by_id = format!("#{first}");
    let r = post_form(
        &app,
        "/work/service/tickets",
        &[
            ("customer", &by_id),
            ("kind", "question"),
            ("subject", "By id"),
        ],
    )
    .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert_eq!(
        on(store.customer_tickets(first, now).await.unwrap()),
        vec!["By id"]
    );
}

/// The same action gets the same answer on the API and on the web (one permission table).
async fn api_and_web_gates_agree(store: Store) {
    let w = world(store).await;
    order(&w.store, w.east_customer, "2024-01-05", 100.0, 1).await;
    order(&w.store, w.east_customer, "2024-03-05", 80.0, 2).await;
    // Recomputing: admins and managers, not analysts.
    assert_eq!(
        api(&w.store, "ana", Method::POST, "/api/value/refresh", None)
            .await
            .status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        post_form(&web(&w.store, "ana").await, "/dashboard/recompute", &[])
            .await
            .status,
        StatusCode::FORBIDDEN
    );
    let r = api(
        &w.store,
        "mary-east",
        Method::POST,
        "/api/value/refresh",
        None,
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    // The population report: not for reps, on either front-end.
    assert_eq!(
        api(
            &w.store,
            "eric-east",
            Method::GET,
            "/api/value/report",
            None
        )
        .await
        .status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        get(&web(&w.store, "eric-east").await, "/dashboard")
            .await
            .status,
        StatusCode::FORBIDDEN
    );
    // Analysts read it without any customer's identity.
    let report = api(
        &w.store,
        "ana",
        Method::GET,
        "/api/value/report?top=100",
        None,
    )
    .await;
    assert_eq!(report.status, StatusCode::OK, "{}", report.body);
    for item in report.json()["churn"]["top"].as_array().unwrap() {
        assert_eq!(item["customer_id"], Value::Null, "{item}");
        assert_eq!(item["name"], "", "{item}");
    }
    // Each role starts on a page it opens, and the navigation offers only those.
    let ana = web(&w.store, "ana").await;
    let eric = web(&w.store, "eric-east").await;
    assert_eq!(get(&ana, "/").await.location.as_deref(), Some("/dashboard"));
    assert_eq!(
        get(&eric, "/").await.location.as_deref(),
        Some("/customers")
    );
    let dash = get(&ana, "/dashboard").await;
    assert!(
        !dash.body.contains("href=\"/customers") && !dash.body.contains("href=\"/admin/users\""),
        "an analyst's dashboard links no page of customers: {}",
        dash.body
    );
    let list = get(&eric, "/customers").await;
    assert!(
        list.body.contains("href=\"/customers\"") && !list.body.contains("href=\"/admin/users\"")
    );
    let root = get(&web(&w.store, "root").await, "/customers").await;
    assert!(
        root.body.contains("href=\"/admin/users\"") && root.body.contains("href=\"/admin/audit\"")
    );
    // Creating a campaign: managers on both front-ends, never analysts.
    let campaign =
        json!({"name": "Spring", "channel": "email", "cost": 100, "started_on": "2024-04-01"});
    assert_eq!(
        api(
            &w.store,
            "ana",
            Method::POST,
            "/api/campaigns",
            Some(campaign)
        )
        .await
        .status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        post_form(
            &web(&w.store, "ana").await,
            "/work/campaigns",
            &[("name", "Spring")]
        )
        .await
        .status,
        StatusCode::FORBIDDEN
    );
}

/// An interaction recorded through the API is by the caller, whatever the body says.
async fn an_interaction_is_by_its_caller(store: Store) {
    let w = world(store).await;
    let uri = format!("/api/customers/{}/interactions", w.east_customer);
    // A rep records in their own name only: a `by` naming someone else is refused.
    let r = api(
        &w.store,
        "eric-east",
        Method::POST,
        &uri,
        Some(json!({"kind": "call", "text": "Asked for a quote", "by": "mary-east"})),
    )
    .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.body);
    let r = api(
        &w.store,
        "eric-east",
        Method::POST,
        &uri,
        Some(json!({"kind": "call", "text": "Asked for a quote"})),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    assert_eq!(r.json()["by"], "eric-east", "{}", r.body);
    // Its audit row, written with it, names the caller and the new interaction.
    let rows = w
        .store
        .audit_log(&AuditFilter {
            customer_id: Some(w.east_customer),
            action: Some("update".into()),
            limit: 10,
            ..AuditFilter::default()
        })
        .await
        .unwrap();
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0].actor, "eric-east");
    assert_eq!(
        rows[0].detail.as_deref(),
        Some(&*format!("interaction {} created", r.json()["id"]))
    );
    // A `by` is still checked against its rule (the document's maxLength) first.
    let long = "x".repeat(201);
    let r = api(
        &w.store,
        "eric-east",
        Method::POST,
        &uri,
        Some(json!({"kind": "call", "text": "Too long an author", "by": long})),
    )
    .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert_eq!(r.json()["field"], "by", "{}", r.body);
    // And never on another department's customer.
    let other = format!("/api/customers/{}/interactions", w.west_customer);
    let r = api(
        &w.store,
        "eric-east",
        Method::POST,
        &other,
        Some(json!({"kind": "call", "text": "x"})),
    )
    .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.body);
    // A manager may record a visit of their rep in the rep's name.
    let r = api(
        &w.store,
        "mary-east",
        Method::POST,
        &uri,
        Some(json!({"kind": "visit", "text": "Eric's visit", "by": "eric-east"})),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    assert_eq!(r.json()["by"], "eric-east", "{}", r.body);
}

/// The JSON API and the web pages are adapters over the application layer that know nothing of
/// each other; the store knows no front-end.
#[test]
fn front_ends_do_not_depend_on_each_other() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let deps = |krate: &str| {
        std::fs::read_to_string(root.join("crates").join(krate).join("Cargo.toml")).unwrap()
    };
    for (krate, forbidden) in [
        ("server", &["patron-web"][..]),
        ("web", &["patron-server"][..]),
        ("store", &["patron-server", "patron-web", "patron-app"][..]),
        ("app", &["patron-server", "patron-web"][..]),
    ] {
        let toml = deps(krate);
        for f in forbidden {
            assert!(!toml.contains(f), "crates/{krate} depends on {f}");
        }
    }
    // The pages are composed by the binary alone: the `patron` package has no library.
    assert!(!root.join("crates/cli/src/lib.rs").exists());
    assert!(!deps("cli").contains("[lib]"));
    for krate in ["server", "web"] {
        assert!(
            deps(krate).contains("patron-app"),
            "crates/{krate} is built on the application layer"
        );
    }
}

/// Every answer, page or JSON, signed in or not, carries the security headers; HSTS only
/// behind https.
async fn security_headers_on_every_answer(store: Store) {
    user(&store, "root", Role::Admin, None).await;
    let app = common::router(store.clone());
    let signed_in = web(&store, "root").await;
    let page = signed_in
        .clone()
        .oneshot(Request::get("/customers").body(Body::empty()).unwrap())
        .await
        .unwrap();
    let api = app
        .clone()
        .oneshot(Request::get("/api/health").body(Body::empty()).unwrap())
        .await
        .unwrap();
    let login = app
        .clone()
        .oneshot(Request::get("/login").body(Body::empty()).unwrap())
        .await
        .unwrap();
    for (what, resp) in [("page", &page), ("api", &api), ("login", &login)] {
        let h = resp.headers();
        let csp = h[header::CONTENT_SECURITY_POLICY].to_str().unwrap();
        assert!(
            csp.contains("script-src 'self'") && csp.contains("frame-ancestors 'none'"),
            "{what}: {csp}"
        );
        assert!(
            !csp.contains("script-src 'self' 'unsafe-inline'"),
            "{what}: {csp}"
        );
        assert_eq!(h[header::X_FRAME_OPTIONS], "DENY", "{what}");
        assert_eq!(h[header::X_CONTENT_TYPE_OPTIONS], "nosniff", "{what}");
        assert!(h.contains_key(header::REFERRER_POLICY), "{what}");
        assert!(
            !h.contains_key(header::STRICT_TRANSPORT_SECURITY),
            "{what}: plain http"
        );
    }
    let body = page.into_body().collect().await.unwrap().to_bytes();
    assert!(
        !String::from_utf8_lossy(&body).contains("<script>"),
        "no inline script"
    );
    let https = app
        .oneshot(
            Request::get("/api/health")
                .header("x-forwarded-proto", "https")
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    assert!(https
        .headers()
        .contains_key(header::STRICT_TRANSPORT_SECURITY));
}
