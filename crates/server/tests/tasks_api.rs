//! Tasks, notifications, the customer picker and activities over HTTP, on both backends: a rep
//! works their own tasks only (another rep's are 404), gives tasks to nobody else (422), finds
//! only their own customers; a manager (here an admin) gives and moves tasks, and the assignee
//! is notified. Every answer's status must be one the document lists for the route.

use axum::http::{header, Method, StatusCode};
use axum::Router;
use patron_server::routes::ROUTES;
use patron_server::{app, openapi, AppState};
use patron_store::{backend_tests, Role, Store};
use patron_testkit::call;
use serde_json::{json, Value};

backend_tests!(
    tasks_over_the_api,
    tasks_stay_within_scope,
    notifications_list_and_read,
    search_stays_within_scope,
    activities_make_tasks_and_referrals,
    hold_decisions_take_an_optional_reason
);

#[derive(Clone)]
struct Api {
    app: Router,
    token: String,
}

struct Resp {
    status: StatusCode,
    body: Value,
    location: Option<String>,
}

/// The documented route matching a concrete path (exact segments preferred over parameters).
fn template_for(path: &str) -> &'static str {
    let segs: Vec<&str> = path.split('/').collect();
    let mut best: Option<(&'static str, usize)> = None;
    for r in ROUTES {
        let t: Vec<&str> = r.path.split('/').collect();
        if t.len() != segs.len() {
            continue;
        }
        let mut exact = 0;
        let ok = t.iter().zip(&segs).all(|(a, b)| {
            if a.starts_with('{') {
                !b.is_empty()
            } else {
                exact += usize::from(a == b);
                a == b
            }
        });
        if ok && best.is_none_or(|(_, e)| exact > e) {
            best = Some((r.path, exact));
        }
    }
    best.unwrap_or_else(|| panic!("no route for {path}")).0
}

impl Api {
    async fn new(store: &Store, username: &str, role: Role) -> (Api, i64) {
        let (user, token) = patron_server::auth::user_with_token(store, username, role)
            .await
            .unwrap();
        (
            Api {
                app: app(AppState::new(store.clone())),
                token,
            },
            user.id,
        )
    }

    async fn call(&self, method: Method, uri: &str, body: Option<Value>) -> Resp {
        let a = call(&self.app, method.clone(), uri, Some(&self.token), body).await;
        let body = a.try_json().unwrap();
        let template = template_for(uri.split('?').next().unwrap());
        let op = &openapi::document()["paths"][template][method.as_str().to_lowercase()];
        assert!(
            !op["responses"][a.status.as_str()].is_null(),
            "{method} {template} answered {}, which the document does not list: {body}",
            a.status
        );
        Resp {
            status: a.status,
            body,
            location: a
                .headers
                .get(header::LOCATION)
                .map(|v| v.to_str().unwrap().to_string()),
        }
    }

    async fn get(&self, uri: &str) -> Resp {
        self.call(Method::GET, uri, None).await
    }

    async fn post(&self, uri: &str, body: Value) -> Resp {
        self.call(Method::POST, uri, Some(body)).await
    }

    async fn customer(&self, body: Value) -> i64 {
        let r = self.post("/api/customers", body).await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
        r.body["id"].as_i64().unwrap()
    }

    async fn task(&self, body: Value) -> Value {
        let r = self.post("/api/tasks", body).await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
        r.body
    }
}

fn ids(v: &Value) -> Vec<i64> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|t| t["id"].as_i64().unwrap())
        .collect()
}

fn due(days: i64) -> String {
    (chrono::Utc::now() + chrono::Duration::days(days))
        .format("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}

async fn tasks_over_the_api(store: Store) {
    let (admin, _) = Api::new(&store, "task-admin", Role::Admin).await;
    let (rep, rep_id) = Api::new(&store, "task-rep", Role::Rep).await;
    let c = admin
        .customer(json!({"name": "Tasked Co", "owner_id": rep_id}))
        .await;
    let first = rep
        .task(json!({"customer_id": c, "kind": "call", "due_at": due(1), "note": " Call back about the order "}))
        .await;
    let t1 = first["id"].as_i64().unwrap();
    assert_eq!(first["assignee_id"], rep_id);
    assert_eq!(first["customer_name"], "Tasked Co");
    assert_eq!(first["note"], "Call back about the order");
    assert_eq!(first["status"], "open");
    assert_eq!(first["source"], "manual");
    assert_eq!(first["created_by"], "task-rep");
    let second = rep
        .task(json!({"kind": "todo", "due_at": due(3), "note": "Prepare the price list"}))
        .await;
    let t2 = second["id"].as_i64().unwrap();
    assert_eq!(second["customer_id"], Value::Null);
    let r = rep
        .post(
            "/api/tasks",
            json!({"kind": "visit", "due_at": due(2), "note": "x", "colour": "red"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    let r = rep
        .post(
            "/api/tasks",
            json!({"kind": "visit", "due_at": due(2), "note": "  "}),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert_eq!(r.body["field"], "note");
    // Listed by due time; one read.
    let r = rep.get("/api/tasks").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(ids(&r.body), vec![t1, t2]);
    let r = rep.get(&format!("/api/tasks/{t1}")).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body, first);
    // Snoozed past the other one, then done.
    let later = due(5);
    let r = rep
        .post(&format!("/api/tasks/{t1}/snooze"), json!({"until": later}))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(
        r.body["due_at"]
            .as_str()
            .unwrap()
            .parse::<chrono::DateTime<chrono::Utc>>()
            .unwrap(),
        later.parse::<chrono::DateTime<chrono::Utc>>().unwrap()
    );
    assert_eq!(ids(&rep.get("/api/tasks").await.body), vec![t2, t1]);
    let r = rep
        .post(&format!("/api/tasks/{t1}/snooze"), json!({"until": "soon"}))
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    let r = rep
        .call(Method::POST, &format!("/api/tasks/{t1}/done"), None)
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["status"], "done");
    assert!(r.body["done_at"].is_string());
    assert_eq!(ids(&rep.get("/api/tasks").await.body), vec![t2]);
    assert_eq!(ids(&rep.get("/api/tasks?status=done").await.body), vec![t1]);
    assert_eq!(ids(&rep.get("/api/tasks?status=all").await.body).len(), 2);
    assert_eq!(
        rep.get("/api/tasks?status=later").await.status,
        StatusCode::BAD_REQUEST
    );
    // The customer's tasks.
    let r = rep.get(&format!("/api/customers/{c}/tasks")).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body, json!([]));
    let r = rep
        .get(&format!("/api/customers/{c}/tasks?status=all"))
        .await;
    assert_eq!(ids(&r.body), vec![t1]);
    assert_eq!(
        rep.get("/api/tasks/987654").await.status,
        StatusCode::NOT_FOUND
    );
    // The admin moves the rep's open task to another rep, who is told.
    let (other, other_id) = Api::new(&store, "task-other", Role::Rep).await;
    let r = admin
        .post(
            &format!("/api/tasks/{t2}/reassign"),
            json!({"assignee_id": other_id}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["assignee_id"], other_id);
    assert_eq!(ids(&other.get("/api/tasks").await.body), vec![t2]);
    assert_eq!(rep.get("/api/tasks").await.body, json!([]));
    let r = other.get("/api/notifications").await;
    assert_eq!(r.body[0]["kind"], "task_assigned", "{}", r.body);
    // Unknown users are a validation error, not a conflict.
    let r = admin
        .post(
            &format!("/api/tasks/{t2}/reassign"),
            json!({"assignee_id": 987654}),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert_eq!(r.body["field"], "assignee_id");
    let r = admin
        .post(
            "/api/tasks",
            json!({"kind": "call", "due_at": due(1), "note": "n", "assignee_id": 987654}),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    // Created by the admin for the rep: Location, and the rep sees it.
    let r = admin
        .post(
            "/api/tasks",
            json!({"kind": "email", "due_at": due(1), "note": "Send the brochure", "assignee_id": rep_id, "customer_id": c}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let t3 = r.body["id"].as_i64().unwrap();
    assert_eq!(
        r.location.as_deref(),
        Some(format!("/api/tasks/{t3}").as_str())
    );
    assert_eq!(ids(&rep.get("/api/tasks").await.body), vec![t3]);
}

async fn tasks_stay_within_scope(store: Store) {
    let (admin, _) = Api::new(&store, "scope-admin", Role::Admin).await;
    let (a, a_id) = Api::new(&store, "scope-rep-a", Role::Rep).await;
    let (b, b_id) = Api::new(&store, "scope-rep-b", Role::Rep).await;
    let (analyst, _) = Api::new(&store, "scope-analyst", Role::Analyst).await;
    let ca = admin
        .customer(json!({"name": "A's Customer", "owner_id": a_id}))
        .await;
    let cb = admin
        .customer(json!({"name": "B's Secret Customer", "owner_id": b_id}))
        .await;
    let tb = b
        .task(
            json!({"customer_id": cb, "kind": "call", "due_at": due(1), "note": "B's secret call"}),
        )
        .await["id"]
        .as_i64()
        .unwrap();
    let ta = a
        .task(json!({"kind": "todo", "due_at": due(1), "note": "A's own"}))
        .await["id"]
        .as_i64()
        .unwrap();
    // A cannot see, complete, snooze or move B's task: 404, as if it did not exist.
    assert_eq!(
        a.get(&format!("/api/tasks/{tb}")).await.status,
        StatusCode::NOT_FOUND
    );
    for (path, body) in [
        ("done", None),
        ("snooze", Some(json!({"until": due(2)}))),
        ("reassign", Some(json!({"assignee_id": a_id}))),
    ] {
        let r = a
            .call(Method::POST, &format!("/api/tasks/{tb}/{path}"), body)
            .await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{path}: {}", r.body);
        assert!(!r.body.to_string().contains("secret"), "{}", r.body);
    }
    let r = a.get("/api/tasks?status=all").await;
    assert_eq!(ids(&r.body), vec![ta]);
    assert_eq!(
        a.get(&format!("/api/customers/{cb}/tasks")).await.status,
        StatusCode::NOT_FOUND
    );
    // Nor give B work, nor make a task about B's customer.
    let r = a
        .post(
            "/api/tasks",
            json!({"kind": "call", "due_at": due(1), "note": "for B", "assignee_id": b_id}),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert_eq!(r.body["field"], "assignee_id");
    let r = a
        .post(
            &format!("/api/tasks/{ta}/reassign"),
            json!({"assignee_id": b_id}),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert_eq!(r.body["field"], "assignee_id");
    let r = a
        .post(
            "/api/tasks",
            json!({"kind": "call", "due_at": due(1), "note": "about B's", "customer_id": cb}),
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.body);
    // B's task is untouched.
    let r = b.get(&format!("/api/tasks/{tb}")).await;
    assert_eq!(r.body["status"], "open");
    assert_eq!(r.body["assignee_id"], b_id);
    assert_eq!(
        ids(&b.get(&format!("/api/customers/{cb}/tasks")).await.body),
        vec![tb]
    );
    assert_eq!(
        a.get(&format!("/api/customers/{ca}/tasks")).await.body,
        json!([])
    );
    // The analyst works no records at all.
    assert_eq!(
        analyst.get("/api/tasks").await.status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        analyst.get(&format!("/api/tasks/{tb}")).await.status,
        StatusCode::FORBIDDEN
    );
}

async fn notifications_list_and_read(store: Store) {
    let (admin, _) = Api::new(&store, "note-admin", Role::Admin).await;
    let (rep, rep_id) = Api::new(&store, "note-rep", Role::Rep).await;
    let (other, _) = Api::new(&store, "note-other", Role::Rep).await;
    let (analyst, _) = Api::new(&store, "note-analyst", Role::Analyst).await;
    assert_eq!(rep.get("/api/notifications").await.body, json!([]));
    assert_eq!(
        rep.get("/api/notifications/unread").await.body,
        json!({"unread": 0})
    );
    for note in ["First job", "Second job"] {
        admin
            .task(json!({"kind": "call", "due_at": due(1), "note": note, "assignee_id": rep_id}))
            .await;
    }
    assert_eq!(
        rep.get("/api/notifications/unread").await.body,
        json!({"unread": 2})
    );
    let r = rep.get("/api/notifications").await;
    assert_eq!(r.status, StatusCode::OK);
    let list = r.body.as_array().unwrap().clone();
    assert_eq!(list.len(), 2);
    assert!(list
        .iter()
        .all(|n| n["kind"] == "task_assigned" && n["read_at"].is_null()));
    assert!(
        list[0]["message"].as_str().unwrap().contains("Second job"),
        "{}",
        r.body
    );
    let newest = list[0]["id"].as_i64().unwrap();
    // Someone else's notifications are not theirs to read.
    let r = other
        .post("/api/notifications/read", json!({"id": newest}))
        .await;
    assert_eq!(r.body, json!({"marked": 0}));
    assert_eq!(other.get("/api/notifications").await.body, json!([]));
    // One, then the rest (no body).
    let r = rep
        .post("/api/notifications/read", json!({"id": newest}))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body, json!({"marked": 1}));
    assert_eq!(
        rep.get("/api/notifications/unread").await.body,
        json!({"unread": 1})
    );
    let unread = rep.get("/api/notifications?unread=true").await.body;
    assert_eq!(unread.as_array().unwrap().len(), 1);
    assert_ne!(unread[0]["id"], newest);
    let r = rep
        .call(Method::POST, "/api/notifications/read", None)
        .await;
    assert_eq!(r.body, json!({"marked": 1}));
    assert_eq!(
        rep.get("/api/notifications/unread").await.body,
        json!({"unread": 0})
    );
    let all = rep.get("/api/notifications?unread=false").await.body;
    assert_eq!(all.as_array().unwrap().len(), 2);
    assert!(all[0]["read_at"].is_string());
    let r = rep
        .post("/api/notifications/read", json!({"ids": [newest]}))
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    // Anyone signed in has an inbox, the analyst too.
    assert_eq!(
        analyst.get("/api/notifications").await.status,
        StatusCode::OK
    );
}

async fn search_stays_within_scope(store: Store) {
    let (admin, _) = Api::new(&store, "search-admin", Role::Admin).await;
    let (a, a_id) = Api::new(&store, "search-rep-a", Role::Rep).await;
    let (b, b_id) = Api::new(&store, "search-rep-b", Role::Rep).await;
    let (analyst, _) = Api::new(&store, "search-analyst", Role::Analyst).await;
    let alpha = admin
        .customer(json!({"name": "Needle Alpha", "number": "NA-1", "phone": "+1 555 010 1234", "owner_id": a_id}))
        .await;
    let beta = admin
        .customer(json!({"name": "Needle Beta", "company": "Haystack Ltd", "phone": "+1 555 010 9876", "owner_id": b_id}))
        .await;
    for i in 0..12 {
        admin
            .customer(json!({"name": format!("Needle {i}"), "owner_id": a_id}))
            .await;
    }
    let r = a.get("/api/customers/search?q=needle").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let found = ids(&r.body);
    assert_eq!(found.len(), 10, "at most 10: {}", r.body);
    assert!(found.contains(&alpha) && !found.contains(&beta));
    assert_eq!(r.body[0]["name"], "Needle Alpha");
    assert_eq!(r.body[0]["number"], "NA-1");
    assert_eq!(r.body[0]["owner_id"], a_id);
    // B's customer by name, company, number or phone: never for A.
    for q in ["Needle%20Beta", "haystack", "%2B1%20555%20010%209876"] {
        let r = a.get(&format!("/api/customers/search?q={q}")).await;
        assert_eq!(r.body, json!([]), "{q}");
        let r = b.get(&format!("/api/customers/search?q={q}")).await;
        assert_eq!(ids(&r.body), vec![beta], "{q}");
    }
    // A's own by number and by phone (any formatting).
    assert_eq!(
        ids(&a.get("/api/customers/search?q=NA-1").await.body),
        vec![alpha]
    );
    assert_eq!(
        ids(&a.get("/api/customers/search?q=1-555-010-1234").await.body),
        vec![alpha]
    );
    assert_eq!(a.get("/api/customers/search?q=%20").await.body, json!([]));
    assert_eq!(
        a.get("/api/customers/search").await.status,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        analyst.get("/api/customers/search?q=needle").await.status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        ids(&admin
            .get("/api/customers/search?q=needle%20beta")
            .await
            .body),
        vec![beta]
    );
}

async fn activities_make_tasks_and_referrals(store: Store) {
    let (admin, _) = Api::new(&store, "act-admin", Role::Admin).await;
    let (rep, rep_id) = Api::new(&store, "act-rep", Role::Rep).await;
    let (_, other_id) = Api::new(&store, "act-other", Role::Rep).await;
    let c = admin
        .customer(json!({"name": "Referrer", "owner_id": rep_id}))
        .await;
    let brought = admin
        .customer(json!({"name": "Newcomer", "owner_id": rep_id}))
        .await;
    let foreign = admin
        .customer(json!({"name": "Not Yours", "owner_id": other_id}))
        .await;
    let uri = format!("/api/customers/{c}/activities");
    let when = due(4);
    let r = rep
        .post(
            &uri,
            json!({"kind": "promise", "text": "Quote by Thursday", "due": when}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    assert_eq!(r.body["interaction"]["kind"], "promise");
    assert_eq!(r.body["interaction"]["customer_id"], c);
    let interaction = r.body["interaction"]["id"].as_i64().unwrap();
    assert_eq!(
        r.location.as_deref(),
        Some(format!("/api/customers/{c}/interactions/{interaction}").as_str())
    );
    let task = &r.body["task"];
    assert_eq!(task["source"], "promise");
    assert_eq!(task["assignee_id"], rep_id);
    assert_eq!(task["customer_id"], c);
    assert_eq!(task["note"], "Quote by Thursday");
    assert_eq!(
        ids(&rep.get("/api/tasks").await.body),
        vec![task["id"].as_i64().unwrap()]
    );
    // The interaction is the customer's like any other.
    let r = rep.get(&format!("/api/customers/{c}/interactions")).await;
    assert_eq!(r.body["items"][0]["id"], interaction);
    for (body, field) in [
        (json!({"kind": "promise", "text": "No date"}), "due"),
        (
            json!({"kind": "call", "text": "Called", "due": when}),
            "due",
        ),
        (
            json!({"kind": "referral", "text": "Brought someone"}),
            "referred_customer_id",
        ),
        (
            json!({"kind": "referral", "text": "Self", "referred_customer_id": c}),
            "referred_customer_id",
        ),
        (
            json!({"kind": "referral", "text": "Not mine", "referred_customer_id": foreign}),
            "referred_customer_id",
        ),
        (
            json!({"kind": "visit", "text": "Visit", "referred_customer_id": brought}),
            "referred_customer_id",
        ),
        (json!({"kind": "visit", "text": "x", "extra": 1}), "extra"),
    ] {
        let r = rep.post(&uri, body.clone()).await;
        assert_eq!(
            r.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{body}: {}",
            r.body
        );
        assert_eq!(r.body["field"], field, "{body}: {}", r.body);
    }
    let r = rep
        .post(&uri, json!({"kind": "referral", "text": "Introduced Newcomer", "referred_customer_id": brought}))
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    assert_eq!(r.body["task"], Value::Null);
    let r = rep.get(&format!("/api/customers/{brought}")).await;
    assert_eq!(r.body["referred_by"], c);
    let r = rep
        .post(
            &uri,
            json!({"kind": "call", "text": "Plain call", "occurred_at": "2024-03-01T10:00:00Z"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    assert_eq!(r.body["task"], Value::Null);
    // Someone else's customer: 404.
    let r = rep
        .post(
            &format!("/api/customers/{foreign}/activities"),
            json!({"kind": "call", "text": "x"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.body);
}

async fn hold_decisions_take_an_optional_reason(store: Store) {
    let (admin, _) = Api::new(&store, "hold-admin", Role::Admin).await;
    let uri = "/api/credit/holds/987654/approve";
    assert_eq!(
        admin.call(Method::POST, uri, None).await.status,
        StatusCode::NOT_FOUND
    );
    let r = admin.post(uri, json!({"reason": "Good payer"})).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.body);
    let r = admin.post(uri, json!({"why": "typo"})).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert_eq!(r.body["field"], "why");
    let r = admin
        .post(
            "/api/credit/holds/987654/reject",
            json!({"reason": "Too much"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.body);
}
