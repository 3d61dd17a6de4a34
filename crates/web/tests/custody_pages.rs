//! The custody pages (public pool, users and hand-over, audit log) through `oneshot`, signed in
//! as real users of a fresh database on both backends.

use axum::http::StatusCode;
use axum::Router;
use patron_app::Session;
use patron_domain::CustomerInput;
use patron_store::{backend_tests, Actor, AuditFilter, NewUser, Role, Store, User};
use patron_testkit::{get_lang as get, post_form as post};

backend_tests!(
    pool_claim_return_and_cap,
    users_and_handover,
    audit_page_and_csv,
    unusual_access_view_and_evidence_report
);

async fn user(store: &Store, name: &str, role: Role) -> User {
    store
        .create_user(&NewUser {
            username: name.into(),
            role: Some(role),
            password: Some(format!("{name}-password-1")),
            ..Default::default()
        })
        .await
        .unwrap()
}

/// The web pages as `u` sees them (what the server's session layer puts in front).
async fn app_as(store: &Store, u: &User) -> Router {
    let viewer = Session {
        user: u.clone(),
        visible: store.visibility(u).await.unwrap(),
        actor: Actor::user(u, Some("127.0.0.1".into())),
    };
    patron_web::router(store.clone()).layer(axum::Extension(viewer))
}

async fn customer(store: &Store, name: &str, owner: Option<i64>) -> i64 {
    store
        .create_customer(
            CustomerInput {
                name: name.into(),
                company: Some(format!("{name} Ltd")),
                owner_id: owner,
                ..CustomerInput::default()
            },
            "test",
        )
        .await
        .unwrap()
        .id
}

async fn owner(store: &Store, id: i64) -> Option<i64> {
    store.customer(id).await.unwrap().data.owner_id
}

async fn pool_claim_return_and_cap(store: Store) {
    let ann = user(&store, "ann", Role::Rep).await;
    let bob = user(&store, "bob", Role::Rep).await;
    let free1 = customer(&store, "Pooled One", None).await;
    let free2 = customer(&store, "Pooled Two", None).await;
    let bobs = customer(&store, "Bob's own", Some(bob.id)).await;
    let app = app_as(&store, &ann).await;

    let page = get(&app, "/pool", "en").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("Pooled One") && page.body.contains("Pooled Two"));
    // Rows name the customer by its number (the internal id means nothing to a rep).
    let n = store.customer(free1).await.unwrap().data.number.unwrap();
    assert!(page.body.contains(&format!(">{n}</a>")), "{}", page.body);
    assert!(!page.body.contains(&format!(">{free1}</a>")));
    assert!(
        !page.body.contains("Bob's own"),
        "owned customers are not in the pool"
    );
    let zh = get(&app, "/pool", "zh").await;
    assert!(zh.body.contains("公海客户") && zh.body.contains("领取"));

    // Claim: the rep becomes the owner, recorded in the audit log.
    let id = free1.to_string();
    let r = post(&app, "/pool/claim", &[("id", &id)]).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert_eq!(r.location.as_deref(), Some("/pool?done=claimed"));
    assert_eq!(owner(&store, free1).await, Some(ann.id));
    let claims = store
        .audit_log(&AuditFilter {
            action: Some("claim".into()),
            customer_id: Some(free1),
            limit: 10,
            ..AuditFilter::default()
        })
        .await
        .unwrap();
    assert_eq!(claims.len(), 1);
    assert_eq!(claims[0].actor, "ann");
    // The card's change history names the new owner, not the user's id.
    let card = get(&app, &format!("/customers/{free1}"), "en").await;
    assert!(
        card.body.contains(r#"<td class="value">ann</td>"#),
        "{}",
        &card.body[card.body.find(r#"id="history""#).unwrap_or(0)..]
    );
    assert!(get(&app, "/pool?done=claimed", "en")
        .await
        .body
        .contains("it is now yours"));

    // Claiming it again: a conflict, said on the page, nothing changes.
    let again = post(&app, "/pool/claim", &[("id", &id)]).await;
    assert_eq!(again.status, StatusCode::CONFLICT);
    assert!(again.body.contains("not in the pool"), "{}", again.body);
    // Another rep's customer is not even visible: 404, and it stays Bob's.
    let theirs = post(&app, "/pool/claim", &[("id", &bobs.to_string())]).await;
    assert_eq!(theirs.status, StatusCode::NOT_FOUND);
    assert_eq!(owner(&store, bobs).await, Some(bob.id));
    // A bad id is a 400 with the field named.
    let bad = post(&app, "/pool/claim", &[("id", "abc")]).await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert!(bad.body.contains(": id"));

    // The cap: with one customer held and a cap of one, the next claim is refused.
    store.set_setting("pool.cap", "1").await.unwrap();
    let capped = post(&app, "/pool/claim", &[("id", &free2.to_string())]).await;
    assert_eq!(capped.status, StatusCode::CONFLICT, "{}", capped.body);
    assert_eq!(owner(&store, free2).await, None);

    // Return: back to the pool with the reason in the audit log; not someone else's.
    let r = post(
        &app,
        "/pool/return",
        &[("id", &id), ("reason", "moved abroad")],
    )
    .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert_eq!(owner(&store, free1).await, None);
    let returns = store
        .audit_log(&AuditFilter {
            action: Some("return".into()),
            customer_id: Some(free1),
            limit: 10,
            ..AuditFilter::default()
        })
        .await
        .unwrap();
    assert_eq!(returns.len(), 1);
    assert!(returns[0]
        .detail
        .as_deref()
        .unwrap_or("")
        .contains("moved abroad"));
    let r = post(&app, "/pool/return", &[("id", &bobs.to_string())]).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(owner(&store, bobs).await, Some(bob.id));

    // Reps may not run the reclaim rules; managers may.
    assert_eq!(
        post(&app, "/pool/reclaim", &[]).await.status,
        StatusCode::FORBIDDEN
    );
    let boss = user(&store, "boss", Role::Admin).await;
    let admin = app_as(&store, &boss).await;
    let r = post(&admin, "/pool/reclaim", &[]).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert!(r.location.unwrap().starts_with("/pool?done=reclaimed&n="));
}

async fn users_and_handover(store: Store) {
    let boss = user(&store, "boss", Role::Admin).await;
    let ann = user(&store, "ann", Role::Rep).await;
    let bob = user(&store, "bob", Role::Rep).await;
    let mut anns = Vec::new();
    for i in 0..3 {
        anns.push(customer(&store, &format!("Ann {i}"), Some(ann.id)).await);
    }
    let rep = app_as(&store, &ann).await;
    assert_eq!(
        get(&rep, "/admin/users", "en").await.status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        post(
            &rep,
            "/admin/handover",
            &[("from", &ann.id.to_string()), ("to", &bob.id.to_string())]
        )
        .await
        .status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(anns.len(), 3);
    for c in &anns {
        assert_eq!(
            owner(&store, *c).await,
            Some(ann.id),
            "a rep hands over nothing"
        );
    }

    user(&store, "ana", Role::Analyst).await;
    let app = app_as(&store, &boss).await;
    let page = get(&app, "/admin/users", "en").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("ann") && page.body.contains("bob"));
    // Roles and scopes by their names, every one of them (the analyst's scope too).
    assert!(page.body.contains("Sales rep") && page.body.contains("Aggregates only"));
    assert!(!page.body.contains(">?<"), "a label is missing");
    assert!(get(&app, "/admin/users", "zh")
        .await
        .body
        .contains("交接客户"));
    // Roles and scopes by their names in either language, not their codes.
    assert!(page.body.contains(">Sales rep<") && !page.body.contains(">rep<"));
    let zh = get(&app, "/admin/users", "zh").await.body;
    assert!(zh.contains(">销售代表<") && zh.contains("客户<") && !zh.contains(">analyst<"));

    // Bad input: named on the page, nothing moves.
    let (a, b) = (ann.id.to_string(), bob.id.to_string());
    let same = post(&app, "/admin/handover", &[("from", &a), ("to", &a)]).await;
    assert_eq!(same.status, StatusCode::BAD_REQUEST);
    assert!(same.body.contains("two different users"));
    let ids = post(
        &app,
        "/admin/handover",
        &[("from", &a), ("to", &b), ("only", "1, x")],
    )
    .await;
    assert_eq!(ids.status, StatusCode::BAD_REQUEST);
    assert!(ids.body.contains("whole numbers"));
    let not_hers = post(
        &app,
        "/admin/handover",
        &[("from", &a), ("to", &b), ("only", "999999")],
    )
    .await;
    assert_eq!(not_hers.status, StatusCode::BAD_REQUEST);
    assert!(
        not_hers.body.contains("not owned by user"),
        "{}",
        not_hers.body
    );
    for c in &anns {
        assert_eq!(owner(&store, *c).await, Some(ann.id));
    }

    // One chosen customer, then all the rest.
    let one = anns[0].to_string();
    let r = post(
        &app,
        "/admin/handover",
        &[("from", &a), ("to", &b), ("only", &one)],
    )
    .await;
    assert_eq!(
        r.location.as_deref(),
        Some("/admin/users?done=handover&n=1")
    );
    assert_eq!(owner(&store, anns[0]).await, Some(bob.id));
    assert_eq!(owner(&store, anns[1]).await, Some(ann.id));
    let r = post(
        &app,
        "/admin/handover",
        &[("from", &a), ("to", &b), ("only", "")],
    )
    .await;
    assert_eq!(
        r.location.as_deref(),
        Some("/admin/users?done=handover&n=2")
    );
    for c in &anns {
        assert_eq!(owner(&store, *c).await, Some(bob.id));
    }
    let moves = store
        .audit_log(&AuditFilter {
            action: Some("handover".into()),
            limit: 10,
            ..AuditFilter::default()
        })
        .await
        .unwrap();
    assert_eq!(moves.len(), 3, "every move is audited");
    assert!(moves.iter().all(|m| m.actor == "boss"));

    // Disable and role change by the admin, both audited; never on oneself.
    let r = post(&app, &format!("/admin/users/{}/disable", ann.id), &[]).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert!(store.user(ann.id).await.unwrap().disabled);
    let r = post(
        &app,
        &format!("/admin/users/{}/role", bob.id),
        &[("role", "manager")],
    )
    .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert_eq!(store.user(bob.id).await.unwrap().role, Role::Manager);
    let bad_role = post(
        &app,
        &format!("/admin/users/{}/role", bob.id),
        &[("role", "king")],
    )
    .await;
    assert_eq!(bad_role.status, StatusCode::BAD_REQUEST);
    let myself = post(&app, &format!("/admin/users/{}/disable", boss.id), &[]).await;
    assert_eq!(myself.status, StatusCode::BAD_REQUEST);
    assert!(!store.user(boss.id).await.unwrap().disabled);
    let missing = post(&app, "/admin/users/987654/disable", &[]).await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    for action in ["user_disable", "role_change"] {
        let rows = store
            .audit_log(&AuditFilter {
                action: Some(action.into()),
                limit: 10,
                ..AuditFilter::default()
            })
            .await
            .unwrap();
        assert_eq!(rows.len(), 1, "{action}");
    }
    // A disabled user cannot receive customers.
    let r = post(
        &app,
        "/admin/handover",
        &[("from", &b), ("to", &a), ("only", "")],
    )
    .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.body.contains("disabled"));
}

async fn audit_page_and_csv(store: Store) {
    let boss = user(&store, "boss", Role::Admin).await;
    let ann = user(&store, "ann", Role::Rep).await;
    let c = customer(&store, "Watched", Some(ann.id)).await;
    store
        .audit(&Actor::user(&ann, None), "view", Some(c), None, None)
        .await
        .unwrap();
    let rep = app_as(&store, &ann).await;
    assert_eq!(
        get(&rep, "/admin/audit", "en").await.status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        get(&rep, "/admin/audit.csv", "en").await.status,
        StatusCode::FORBIDDEN
    );

    let app = app_as(&store, &boss).await;
    let page = get(
        &app,
        &format!("/admin/audit?customer={c}&action=view"),
        "en",
    )
    .await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("id=\"audit\""));
    assert!(page.body.contains(&format!("/customers/{c}")));
    assert!(get(&app, "/admin/audit", "zh")
        .await
        .body
        .contains("审计日志"));
    let bad = get(&app, "/admin/audit?customer=abc", "en").await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert!(bad.body.contains("customer id"));

    let csv = get(
        &app,
        &format!("/admin/audit.csv?actor=ann&customer={c}"),
        "en",
    )
    .await;
    assert_eq!(csv.status, StatusCode::OK);
    assert!(csv.content_type.starts_with("text/csv"));
    let lines: Vec<&str> = csv.body.lines().collect();
    assert_eq!(
        lines[0],
        "id,at,actor_id,actor,action,customer_id,detail,row_count,ip"
    );
    assert_eq!(lines.len(), 2, "{}", csv.body);
    assert!(lines[1].contains(",ann,view,"));
    // Reading and downloading the log are recorded too.
    let exports = store
        .audit_log(&AuditFilter {
            actor: Some("boss".into()),
            action: Some("export".into()),
            limit: 10,
            ..AuditFilter::default()
        })
        .await
        .unwrap();
    assert_eq!(exports.len(), 1);
    assert_eq!(exports[0].row_count, Some(1));
}

/// 120 card views by a rep in the web raise one alert (floor 100, no history); the Unusual
/// access view lists it with its figures and links to the hour's audit rows; the evidence
/// report of the rep's day counts the views and names the customers, as a page in English and
/// Chinese and as CSV; the settings refuse a bad multiple naming it; the review clears the
/// alert; a rep opens none of it.
async fn unusual_access_view_and_evidence_report(store: Store) {
    let boss = user(&store, "boss", Role::Admin).await;
    let ann = user(&store, "ann", Role::Rep).await;
    let mut ids = Vec::new();
    for i in 0..10 {
        ids.push(customer(&store, &format!("Watched {i}"), Some(ann.id)).await);
    }
    let rep = app_as(&store, &ann).await;
    // Not within the last seconds of an hour: the views must fall in one hour.
    let now = chrono::Utc::now();
    if chrono::Timelike::minute(&now) == 59 && chrono::Timelike::second(&now) >= 30 {
        tokio::time::sleep(std::time::Duration::from_secs(31)).await;
    }
    for i in 0..120 {
        let card = get(&rep, &format!("/customers/{}", ids[i % ids.len()]), "en").await;
        assert_eq!(card.status, StatusCode::OK);
    }
    for path in [
        "/admin/audit/unusual",
        "/admin/audit/report?user=ann&from=2026-01-01",
    ] {
        assert_eq!(
            get(&rep, path, "en").await.status,
            StatusCode::FORBIDDEN,
            "{path}"
        );
    }

    let app = app_as(&store, &boss).await;
    let page = get(&app, "/admin/audit/unusual", "en").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("id=\"alerts\""), "{}", page.body);
    let row = page.body.split("id=\"alert-").nth(1).unwrap();
    for figure in ["ann", "Customer cards opened", ">101<", ">120<", ">100<"] {
        assert!(row.contains(figure), "{figure} missing: {row}");
    }
    assert!(
        row.contains("/admin/audit?actor=ann&amp;action=view&amp;since="),
        "{row}"
    );
    let zh = get(&app, "/admin/audit/unusual", "zh").await;
    assert!(zh.body.contains("异常访问") && zh.body.contains("打开的客户卡片"));
    // The audit link of the alert's hour: the rows in it.
    let hour_rows = row
        .split("href=\"")
        .find(|h| h.starts_with("/admin/audit?"))
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .replace("&amp;", "&");
    let audit = get(&app, &hour_rows, "en").await;
    assert_eq!(audit.status, StatusCode::OK);
    assert_eq!(
        audit.body.matches("card (web)").count(),
        100,
        "a page of the hour's views"
    );
    assert_eq!(
        get(&app, "/admin/audit?since=yesterday", "en").await.status,
        StatusCode::BAD_REQUEST
    );

    let today = chrono::Utc::now().date_naive();
    let report = get(
        &app,
        &format!("/admin/audit/report?user=ann&from={today}"),
        "en",
    )
    .await;
    assert_eq!(report.status, StatusCode::OK);
    assert!(
        report.body.contains("id=\"evidence-views\">120<"),
        "{}",
        report.body
    );
    assert!(report.body.contains("Watched 7"));
    assert!(report.body.contains("Customers viewed (10)"));
    let zh = get(
        &app,
        &format!("/admin/audit/report?user=ann&from={today}"),
        "zh",
    )
    .await;
    assert!(zh.body.contains("证据报告") && zh.body.contains("查看过的客户"));
    let bad = get(&app, "/admin/audit/report?user=ann&from=12/04/2026", "en").await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert!(bad.body.contains("from"), "{}", bad.body);
    let csv = get(
        &app,
        &format!("/admin/audit/report.csv?user=ann&from={today}&to={today}"),
        "en",
    )
    .await;
    assert_eq!(csv.status, StatusCode::OK);
    assert!(csv.content_type.starts_with("text/csv"));
    assert!(
        csv.body.contains(&format!("day,ann,{today},120,10,")),
        "{}",
        csv.body
    );
    assert_eq!(
        csv.body
            .lines()
            .filter(|l| l.starts_with("customer,ann,"))
            .count(),
        10
    );

    // Settings: a bad multiple is refused naming it; a good one is saved.
    let mut form = vec![("multiple", "0.5"), ("baseline_days", "14")];
    let floors = [
        ("floor_view", "100"),
        ("floor_foreign", "50"),
        ("floor_search", "100"),
        ("floor_list", "100"),
        ("floor_export", "1000"),
    ];
    form.extend(floors);
    let refused = post(&app, "/admin/audit/unusual/settings", &form).await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST);
    assert!(refused.body.contains("multiple"), "{}", refused.body);
    form[0] = ("multiple", "4");
    form.push(("suspend_exports", "1"));
    let saved = post(&app, "/admin/audit/unusual/settings", &form).await;
    assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", saved.body);
    let w = store.access_watch().await.unwrap();
    assert_eq!((w.multiple, w.suspend_exports), (4.0, true));

    // The review.
    let id = store.access_alerts(true, 10).await.unwrap()[0].id;
    let done = post(&app, &format!("/admin/audit/unusual/{id}/review"), &[]).await;
    assert_eq!(done.status, StatusCode::SEE_OTHER);
    assert!(store.access_alerts(true, 10).await.unwrap().is_empty());
    assert!(get(&app, "/admin/audit/unusual?done=reviewed", "en")
        .await
        .body
        .contains("reviewed by boss"));
}
