//! Exports as a controlled right in the web (`/customers.csv`, `/exports/...`, `/admin/exports`,
//! leaving users on `/admin/users`), signed in as real users of a fresh database on both
//! backends: over the limit the CSV link opens the request form; a manager approves in the
//! queue and the rep downloads once; a refusal says why; a role with `none` is refused in
//! English and Chinese; an admin edits the rules and marks a user as leaving.

use axum::http::StatusCode;
use axum::Router;
use patron_app::Session;
use patron_domain::CustomerInput;
use patron_store::{
    backend_tests, Actor, AuditFilter, DataScope, ExportRight, ExportRule, NewUser, Role, Store,
    User,
};
use patron_testkit::{get_lang, post_form as post};

backend_tests!(
    over_the_limit_the_csv_becomes_a_request_approved_and_downloaded_once,
    a_refusal_says_why_and_a_role_without_the_right_is_refused,
    admins_edit_the_rules_and_mark_a_leaving_user
);

async fn user(store: &Store, name: &str, role: Role, manager: Option<i64>) -> User {
    store
        .create_user(&NewUser {
            username: name.into(),
            role: Some(role),
            scope: (role == Role::Manager).then_some(DataScope::Subordinates),
            manager_id: manager,
            ..Default::default()
        })
        .await
        .unwrap()
}

async fn app_as(store: &Store, u: &User) -> Router {
    let viewer = Session {
        user: u.clone(),
        visible: store.visibility(u).await.unwrap(),
        actor: Actor::user(u, Some("127.0.0.1".into())),
    };
    patron_web::router(store.clone()).layer(axum::Extension(viewer))
}

async fn customers(store: &Store, owner: i64, n: usize) {
    for i in 0..n {
        store
            .create_customer(
                CustomerInput {
                    name: format!("Customer {i}"),
                    owner_id: Some(owner),
                    ..CustomerInput::default()
                },
                "test",
            )
            .await
            .unwrap();
    }
}

async fn rep_rule(store: &Store, right: ExportRight, daily_rows: Option<i64>) {
    patron_app::exports::set_rule(
        store,
        &Session::unrestricted("admin-op"),
        ExportRule {
            role: Role::Rep,
            right,
            daily_rows,
        },
        "",
    )
    .await
    .unwrap();
}

async fn audited(store: &Store, action: &str) -> usize {
    store
        .audit_log(&AuditFilter {
            action: Some(action.into()),
            limit: 100,
            ..Default::default()
        })
        .await
        .unwrap()
        .len()
}

async fn over_the_limit_the_csv_becomes_a_request_approved_and_downloaded_once(store: Store) {
    let mia = user(&store, "mia", Role::Manager, None).await;
    let ray = user(&store, "ray", Role::Rep, Some(mia.id)).await;
    customers(&store, ray.id, 3).await;
    let rep = app_as(&store, &ray).await;
    // Within the limit (200): the file.
    let a = get_lang(&rep, "/customers.csv", "en").await;
    assert_eq!(a.status, StatusCode::OK);
    assert!(a.content_type.starts_with("text/csv"));
    rep_rule(&store, ExportRight::Own, Some(5)).await;
    // 3 exported + 3 more > 5: the request form instead of a file.
    let a = get_lang(&rep, "/customers.csv?region=", "en").await;
    assert_eq!(a.status, StatusCode::SEE_OTHER, "{}", a.body);
    let form = a.location.unwrap();
    assert!(form.starts_with("/exports/new"), "{form}");
    let page = get_lang(&rep, &form, "en").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("request-form"), "{}", page.body);
    assert!(page.body.contains("daily limit of 5"), "{}", page.body);
    let zh = get_lang(&rep, &form, "zh").await;
    assert!(zh.body.contains("每日导出限额"), "{}", zh.body);
    // A reason is required.
    let a = post(&rep, "/exports/new", &[("query", ""), ("reason", " ")]).await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST);
    assert!(a.body.contains("problem"), "{}", a.body);
    let a = post(&rep, "/exports/new", &[("query", ""), ("reason", "fair")]).await;
    assert_eq!(a.status, StatusCode::SEE_OTHER, "{}", a.body);
    let mine = get_lang(&rep, "/exports?done=requested", "en").await;
    assert!(mine.body.contains("Waiting for approval"), "{}", mine.body);
    let id = store.export_requests(None, None, 10).await.unwrap()[0].id;
    // The manager's queue: approve.
    let boss = app_as(&store, &mia).await;
    let q = get_lang(&boss, "/exports/queue", "zh").await;
    assert_eq!(q.status, StatusCode::OK);
    assert!(q.body.contains(&format!("request-{id}")), "{}", q.body);
    assert!(q.body.contains("导出审批队列"));
    let a = post(
        &boss,
        &format!("/exports/{id}/decide"),
        &[("decision", "approve"), ("reason", "")],
    )
    .await;
    assert_eq!(a.status, StatusCode::SEE_OTHER, "{}", a.body);
    // The rep downloads it once.
    let mine = get_lang(&rep, "/exports", "en").await;
    assert!(
        mine.body.contains(&format!("/exports/{id}/download")),
        "{}",
        mine.body
    );
    let file = post(&rep, &format!("/exports/{id}/download"), &[]).await;
    assert_eq!(file.status, StatusCode::OK, "{}", file.body);
    assert!(file.content_type.starts_with("text/csv"));
    assert_eq!(file.body.lines().count(), 4, "{}", file.body);
    let again = post(&rep, &format!("/exports/{id}/download"), &[]).await;
    assert_eq!(again.status, StatusCode::GONE);
    assert!(again.body.contains("downloaded already"), "{}", again.body);
    let mine = get_lang(&rep, "/exports", "zh").await;
    assert!(mine.body.contains("已下载"), "{}", mine.body);
    for step in [
        "export_request",
        "export_approve",
        "export",
        "export_denied",
    ] {
        assert!(audited(&store, step).await > 0, "{step}");
    }
}

async fn a_refusal_says_why_and_a_role_without_the_right_is_refused(store: Store) {
    let mia = user(&store, "mia", Role::Manager, None).await;
    let ray = user(&store, "ray", Role::Rep, Some(mia.id)).await;
    customers(&store, ray.id, 2).await;
    rep_rule(&store, ExportRight::Approval, None).await;
    let rep = app_as(&store, &ray).await;
    let a = get_lang(&rep, "/customers.csv", "en").await;
    assert_eq!(a.status, StatusCode::SEE_OTHER);
    let a = post(
        &rep,
        "/exports/new",
        &[("query", ""), ("reason", "mailing")],
    )
    .await;
    assert_eq!(a.status, StatusCode::SEE_OTHER);
    let id = store.export_requests(None, None, 10).await.unwrap()[0].id;
    let boss = app_as(&store, &mia).await;
    // A refusal needs a reason.
    let a = post(
        &boss,
        &format!("/exports/{id}/decide"),
        &[("decision", "refuse"), ("reason", "")],
    )
    .await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST);
    let a = post(
        &boss,
        &format!("/exports/{id}/decide"),
        &[("decision", "refuse"), ("reason", "use the campaign tool")],
    )
    .await;
    assert_eq!(a.status, StatusCode::SEE_OTHER);
    let mine = get_lang(&rep, "/exports", "en").await;
    assert!(mine.body.contains("use the campaign tool"), "{}", mine.body);
    assert!(!mine.body.contains("/download"), "{}", mine.body);
    let a = post(&rep, &format!("/exports/{id}/download"), &[]).await;
    assert_eq!(a.status, StatusCode::GONE);
    // No right at all: a clear refusal, in both languages.
    rep_rule(&store, ExportRight::None, Some(0)).await;
    let a = get_lang(&rep, "/customers.csv", "en").await;
    assert_eq!(a.status, StatusCode::FORBIDDEN);
    assert!(
        a.body.contains("may not export customer rows"),
        "{}",
        a.body
    );
    let a = get_lang(&rep, "/customers.csv", "zh").await;
    assert!(a.body.contains("您的角色不能导出客户数据"), "{}", a.body);
    assert!(audited(&store, "export_refuse").await > 0);
    assert!(audited(&store, "export_denied").await > 0);
    assert_eq!(audited(&store, "export").await, 0);
}

async fn admins_edit_the_rules_and_mark_a_leaving_user(store: Store) {
    let boss = user(&store, "ada", Role::Admin, None).await;
    let mia = user(&store, "mia", Role::Manager, None).await;
    let ray = user(&store, "ray", Role::Rep, Some(mia.id)).await;
    let hal = user(&store, "hal", Role::Rep, Some(mia.id)).await;
    customers(&store, ray.id, 1).await;
    let admin = app_as(&store, &boss).await;
    let page = get_lang(&admin, "/admin/exports", "zh").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("rule-analyst") && page.body.contains("导出规则"));
    let a = post(
        &admin,
        "/admin/exports",
        &[("role", "rep"), ("right", "own"), ("daily_rows", "7")],
    )
    .await;
    assert_eq!(a.status, StatusCode::SEE_OTHER, "{}", a.body);
    assert_eq!(
        store.export_rule(Role::Rep).await.unwrap().daily_rows,
        Some(7)
    );
    let a = post(
        &admin,
        "/admin/exports",
        &[("role", "rep"), ("right", "own"), ("daily_rows", "-1")],
    )
    .await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST);
    // Managers read the rules but do not edit them.
    let manager = app_as(&store, &mia).await;
    let a = post(
        &manager,
        "/admin/exports",
        &[("role", "rep"), ("right", "own"), ("daily_rows", "9")],
    )
    .await;
    assert_eq!(a.status, StatusCode::FORBIDDEN);
    // Leaving: from now on the rep's exports need approval.
    let rep = app_as(&store, &ray).await;
    assert_eq!(
        get_lang(&rep, "/customers.csv", "en").await.status,
        StatusCode::OK
    );
    let day = (chrono::Utc::now().date_naive() + chrono::Days::new(5)).to_string();
    let a = post(
        &admin,
        "/admin/leaving",
        &[
            ("user", &ray.id.to_string()),
            ("on", &day),
            ("to", &hal.id.to_string()),
        ],
    )
    .await;
    assert_eq!(a.status, StatusCode::SEE_OTHER, "{}", a.body);
    let users = get_lang(&admin, "/admin/users?done=leaving", "en").await;
    assert!(
        users.body.contains(&format!("leaver-{}", ray.id)),
        "{}",
        users.body
    );
    let a = get_lang(&rep, "/customers.csv", "en").await;
    assert_eq!(a.status, StatusCode::SEE_OTHER);
    let form = get_lang(&rep, a.location.as_deref().unwrap(), "en").await;
    assert!(form.body.contains("leaving"), "{}", form.body);
    // A bad day is refused.
    let a = post(
        &admin,
        "/admin/leaving",
        &[
            ("user", &ray.id.to_string()),
            ("on", "tomorrow"),
            ("to", &hal.id.to_string()),
        ],
    )
    .await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST);
    assert!(audited(&store, "user_leaving").await > 0);
    assert!(audited(&store, "export_rule").await > 0);
}
