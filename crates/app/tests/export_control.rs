//! Export as a controlled right (`patron_app::exports`), on both backends: a rep over the daily
//! limit gets a pending request instead of a file; a manager approves it and the rep downloads
//! it once (a second fetch and an expired one are refused); a refused request delivers nothing
//! and tells the rep why; a user marked as leaving exports with approval only and their
//! customers go to the receiver on the day; a role with `none` is refused; suspended exports
//! need approval; every step is in the audit log.

use chrono::{Days, Duration, Utc};
use patron_app::exports::{self, Gate};
use patron_app::{AppError, Session};
use patron_store::{
    backend_tests, AuditFilter, CustomerFilter, CustomerSort, DataScope, ExportRight, ExportRule,
    NewUser, Role, Store, StoreError, User,
};
use serde_json::json;

backend_tests!(
    over_the_limit_a_request_is_approved_and_downloaded_once,
    a_refused_request_delivers_nothing_and_says_why,
    an_expired_download_is_refused,
    a_leaving_user_needs_approval_and_hands_over_on_the_day,
    a_role_without_the_right_is_refused_and_suspended_exports_need_approval,
    an_approval_covers_what_was_asked_and_the_right_at_download_time
);

async fn user(store: &Store, name: &str, role: Role, manager: Option<i64>) -> (User, Session) {
    let user = store
        .create_user(&NewUser {
            username: name.into(),
            role: Some(role),
            scope: (role == Role::Manager).then_some(DataScope::Subordinates),
            manager_id: manager,
            ..Default::default()
        })
        .await
        .unwrap();
    let session = Session::open(store, user.clone(), None).await.unwrap();
    (user, session)
}

async fn customers(store: &Store, owner: i64, n: usize) {
    for i in 0..n {
        let input =
            serde_json::from_value(json!({"name": format!("=Customer {i}"), "owner_id": owner}))
                .unwrap();
        store.create_customer(input, "test").await.unwrap();
    }
}

/// The session of `u` now (a scope is resolved when a session opens).
async fn reopen(store: &Store, u: &User) -> Session {
    Session::open(store, u.clone(), None).await.unwrap()
}

fn admin() -> Session {
    Session::unrestricted("admin-op")
}

async fn set_rep_limit(store: &Store, n: i64) {
    exports::set_rule(
        store,
        &admin(),
        ExportRule {
            role: Role::Rep,
            right: ExportRight::Own,
            daily_rows: Some(n),
        },
        "",
    )
    .await
    .unwrap();
}

async fn actions(store: &Store) -> Vec<String> {
    store
        .audit_log(&AuditFilter {
            limit: 1000,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_iter()
        .rev()
        .map(|e| e.action)
        .collect()
}

fn all() -> CustomerFilter {
    CustomerFilter::default()
}

async fn over_the_limit_a_request_is_approved_and_downloaded_once(store: Store) {
    let (mgr, _) = user(&store, "mia", Role::Manager, None).await;
    let (rep, me) = user(&store, "ray", Role::Rep, Some(mgr.id)).await;
    let boss = reopen(&store, &mgr).await;
    customers(&store, rep.id, 3).await;
    // The defaults: 200 rows a day for reps.
    assert_eq!(
        store.export_rule(Role::Rep).await.unwrap().daily_rows,
        Some(200)
    );
    let (rows, gate) = exports::check(&store, &me, &all(), CustomerSort::Id, "test")
        .await
        .unwrap();
    assert_eq!((rows, gate), (3, Gate::Allowed));
    set_rep_limit(&store, 2).await;
    // What was exported today counts: 1 row exported, 2 more would be 3 > 2.
    exports::record_export(&store, &me, "one row", 1)
        .await
        .unwrap();
    assert!(matches!(
        exports::gate(&store, &me, 1).await.unwrap(),
        Gate::Allowed
    ));
    let (rows, gate) = exports::check(&store, &me, &all(), CustomerSort::Id, "test")
        .await
        .unwrap();
    assert_eq!(rows, 3);
    let Gate::NeedsApproval(why) = gate else {
        panic!("{gate:?}")
    };
    assert!(why.contains("daily limit of 2"), "{why}");
    // A reason is required.
    let e = exports::request(&store, &me, &all(), CustomerSort::Id, "", " ", "")
        .await
        .unwrap_err();
    assert!(matches!(&e, AppError::Store(StoreError::Invalid(f)) if f[0].field == "reason"));
    let r = exports::request(
        &store,
        &me,
        &all(),
        CustomerSort::Id,
        "",
        "quarterly mailing",
        "",
    )
    .await
    .unwrap();
    assert_eq!((r.status.as_str(), r.row_count), ("pending", 3));
    // Not downloadable before approval.
    assert!(exports::download(&store, &me, r.id).await.is_err());
    // The manager is told and sees it in the queue; the rep may not decide.
    let told = store.notifications(mgr.id, false, 10).await.unwrap();
    assert!(!told.is_empty(), "the manager was not told");
    assert!(
        told[0].message.contains("3 customer rows"),
        "{}",
        told[0].message
    );
    assert_eq!(exports::queue(&store, &boss).await.unwrap()[0].id, r.id);
    assert!(exports::decide(&store, &me, r.id, true, None, "")
        .await
        .is_err());
    let d = exports::decide(&store, &boss, r.id, true, None, "")
        .await
        .unwrap();
    assert_eq!(d.status, "approved");
    assert!(d.expires_at.unwrap() > Utc::now() + Duration::hours(23));
    assert!(exports::queue(&store, &boss).await.unwrap().is_empty());
    // Another user cannot fetch it.
    let (_, other) = user(&store, "ola", Role::Rep, Some(mgr.id)).await;
    assert!(exports::download(&store, &other, r.id).await.is_err());
    let (done, file) = exports::download(&store, &me, r.id).await.unwrap();
    assert!(done.downloaded_at.is_some());
    let text = String::from_utf8(file).unwrap();
    assert_eq!(text.lines().count(), 4, "{text}");
    // Cells are neutralised against formulas.
    assert!(text.contains("'=Customer 0"), "{text}");
    let again = exports::download(&store, &me, r.id).await.unwrap_err();
    assert!(again.to_string().contains("downloaded already"), "{again}");
    let a = actions(&store).await;
    for step in [
        "export_rule",
        "export_request",
        "export_approve",
        "export",
        "export_denied",
    ] {
        assert!(a.iter().any(|x| x == step), "{step} missing from {a:?}");
    }
    // The download's audit row carries its rows (it counts towards the day).
    let export = store
        .audit_log(&AuditFilter {
            action: Some("export".into()),
            limit: 1,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(export[0].row_count, Some(3));
}

async fn a_refused_request_delivers_nothing_and_says_why(store: Store) {
    let (mgr, _) = user(&store, "mia", Role::Manager, None).await;
    let (rep, me) = user(&store, "ray", Role::Rep, Some(mgr.id)).await;
    let boss = reopen(&store, &mgr).await;
    customers(&store, rep.id, 3).await;
    set_rep_limit(&store, 1).await;
    let r = exports::request(
        &store,
        &me,
        &all(),
        CustomerSort::Id,
        "q=x",
        "for a trade fair",
        "",
    )
    .await
    .unwrap();
    // A refusal needs a reason.
    let e = exports::decide(&store, &boss, r.id, false, Some("  "), "")
        .await
        .unwrap_err();
    assert!(matches!(&e, AppError::Store(StoreError::Invalid(f)) if f[0].field == "reason"));
    let d = exports::decide(
        &store,
        &boss,
        r.id,
        false,
        Some("use the campaign tool"),
        "",
    )
    .await
    .unwrap();
    assert_eq!(d.status, "refused");
    assert_eq!(d.decision_reason.as_deref(), Some("use the campaign tool"));
    // Decided once.
    assert!(exports::decide(&store, &boss, r.id, true, None, "")
        .await
        .is_err());
    let e = exports::download(&store, &me, r.id).await.unwrap_err();
    assert!(e.to_string().contains("refused"), "{e}");
    let told = store.notifications(rep.id, true, 10).await.unwrap();
    assert!(
        told[0].message.contains("use the campaign tool"),
        "{}",
        told[0].message
    );
    let a = actions(&store).await;
    assert!(a.iter().any(|x| x == "export_refuse"), "{a:?}");
    assert!(!a.iter().any(|x| x == "export"), "{a:?}");
}

async fn an_expired_download_is_refused(store: Store) {
    let (mgr, _) = user(&store, "mia", Role::Manager, None).await;
    let (rep, me) = user(&store, "ray", Role::Rep, Some(mgr.id)).await;
    customers(&store, rep.id, 2).await;
    set_rep_limit(&store, 0).await;
    let r = exports::request(&store, &me, &all(), CustomerSort::Id, "", "audit", "")
        .await
        .unwrap();
    // Approved with a download that expired a minute ago.
    store
        .decide_export_request(
            r.id,
            true,
            "mia",
            None,
            Some(Utc::now() - Duration::minutes(1)),
        )
        .await
        .unwrap();
    let e = exports::download(&store, &me, r.id).await.unwrap_err();
    assert!(e.to_string().contains("expired"), "{e}");
    assert!(store
        .export_request(r.id)
        .await
        .unwrap()
        .downloaded_at
        .is_none());
}

async fn a_leaving_user_needs_approval_and_hands_over_on_the_day(store: Store) {
    let (mgr, _) = user(&store, "mia", Role::Manager, None).await;
    let (rep, me) = user(&store, "ray", Role::Rep, Some(mgr.id)).await;
    let (heir, _) = user(&store, "hal", Role::Rep, Some(mgr.id)).await;
    let boss = reopen(&store, &mgr).await;
    customers(&store, rep.id, 2).await;
    assert_eq!(exports::gate(&store, &me, 1).await.unwrap(), Gate::Allowed);
    let day = Utc::now().date_naive() + Days::new(3);
    // The receiver must be another, existing user.
    let e = exports::mark_leaving(&store, &boss, rep.id, Some((day, rep.id)), "")
        .await
        .unwrap_err();
    assert!(matches!(&e, AppError::Store(StoreError::Invalid(f)) if f[0].field == "to"));
    exports::mark_leaving(&store, &boss, rep.id, Some((day, heir.id)), "")
        .await
        .unwrap();
    let Gate::NeedsApproval(why) = exports::gate(&store, &me, 1).await.unwrap() else {
        panic!("a leaving user exports freely")
    };
    assert!(why.contains("leaving"), "{why}");
    // Before the day nothing moves; on the day, once.
    let early = exports::run_leaving_handovers(&store, day - Days::new(1))
        .await
        .unwrap();
    assert!(early.is_empty());
    assert_eq!(store.owned_count(rep.id).await.unwrap(), 2);
    let done = exports::run_leaving_handovers(&store, day).await.unwrap();
    assert_eq!(done.len(), 1);
    assert_eq!((done[0].to.as_str(), done[0].customers), ("hal", 2));
    assert_eq!(store.owned_count(heir.id).await.unwrap(), 2);
    assert!(exports::run_leaving_handovers(&store, day)
        .await
        .unwrap()
        .is_empty());
    let a = actions(&store).await;
    assert!(a.iter().any(|x| x == "user_leaving"), "{a:?}");
    assert!(a.iter().any(|x| x == "handover"), "{a:?}");
}

async fn a_role_without_the_right_is_refused_and_suspended_exports_need_approval(store: Store) {
    let (_, analyst) = user(&store, "ana", Role::Analyst, None).await;
    let e = exports::check(&store, &analyst, &all(), CustomerSort::Id, "test")
        .await
        .unwrap_err();
    assert!(
        matches!(&e, AppError::Forbidden(m) if m.contains("may not export")),
        "{e}"
    );
    assert!(actions(&store).await.iter().any(|x| x == "export_denied"));
    // An admin's table says so for reps too.
    let (rep, me) = user(&store, "ray", Role::Rep, None).await;
    exports::set_rule(
        &store,
        &admin(),
        ExportRule {
            role: Role::Rep,
            right: ExportRight::None,
            daily_rows: None,
        },
        "",
    )
    .await
    .unwrap();
    assert!(matches!(
        exports::gate(&store, &me, 1).await.unwrap(),
        Gate::Refused(_)
    ));
    // Only admins edit the table.
    let (_, boss) = user(&store, "mia", Role::Manager, None).await;
    let rule = store.export_rule(Role::Rep).await.unwrap();
    assert!(matches!(
        exports::set_rule(&store, &boss, rule, "").await,
        Err(AppError::Forbidden(_))
    ));
    set_rep_limit(&store, 100).await;
    assert_eq!(exports::gate(&store, &me, 1).await.unwrap(), Gate::Allowed);
    store.set_exports_suspended(rep.id, true).await.unwrap();
    let Gate::NeedsApproval(why) = exports::gate(&store, &me, 1).await.unwrap() else {
        panic!("suspended exports went through")
    };
    assert!(why.contains("suspended"), "{why}");
    store.set_exports_suspended(rep.id, false).await.unwrap();
    assert_eq!(exports::gate(&store, &me, 1).await.unwrap(), Gate::Allowed);
}

/// An approved request delivers no more rows than were approved (the filter is run again at
/// download time), and nothing once the role has lost the right to export.
async fn an_approval_covers_what_was_asked_and_the_right_at_download_time(store: Store) {
    let (mgr, _) = user(&store, "mia", Role::Manager, None).await;
    let (rep, me) = user(&store, "ray", Role::Rep, Some(mgr.id)).await;
    let boss = reopen(&store, &mgr).await;
    customers(&store, rep.id, 3).await;
    set_rep_limit(&store, 1).await;
    let ask = |why: &'static str| {
        let (store, me) = (store.clone(), me.clone());
        async move {
            exports::request(&store, &me, &all(), CustomerSort::Id, "", why, "")
                .await
                .unwrap()
        }
    };
    let grown = ask("before the fair").await;
    let gone = ask("after the fair").await;
    for r in [&grown, &gone] {
        exports::decide(&store, &boss, r.id, true, None, "")
            .await
            .unwrap();
    }
    // Two more customers since the approval of 3 rows: refused, nothing delivered.
    customers(&store, rep.id, 2).await;
    let e = exports::download(&store, &me, grown.id).await.unwrap_err();
    assert!(e.to_string().contains("more than the 3 approved"), "{e}");
    // The rep's role may no longer export: refused.
    exports::set_rule(
        &store,
        &admin(),
        ExportRule {
            role: Role::Rep,
            right: ExportRight::None,
            daily_rows: Some(1),
        },
        "",
    )
    .await
    .unwrap();
    let e = exports::download(&store, &me, gone.id).await.unwrap_err();
    assert!(matches!(e, AppError::Forbidden(_)), "{e}");
    assert!(store
        .export_request(gone.id)
        .await
        .unwrap()
        .downloaded_at
        .is_none());
}
