//! Unusual access alerts and the evidence report (`patron_app::access`), on both backends: 500
//! card views by one rep in a few minutes raise ONE alert to their manager and the admins,
//! while ordinary use (30 views an hour after weeks of the same) and a heavy user's usual level
//! raise none; the alert lists its figures; the evidence report counts the 500 views and lists
//! the customers (as CSV too); the suspend setting blocks the rep's exports until an admin
//! marks the alert reviewed; only administrators read or change any of it; searches, list
//! pages and exported rows are counted.

use chrono::{Duration, Timelike, Utc};
use patron_app::access;
use patron_app::exports::{self, Gate};
use patron_app::{AppError, Session};
use patron_domain::task::NotificationKind;
use patron_store::{
    backend_tests, hour_of, CustomerFilter, CustomerSort, DataScope, NewUser, PageRequest, Role,
    Store, StoreError, User,
};
use serde_json::json;

backend_tests!(
    a_burst_of_views_raises_one_alert_and_ordinary_use_none,
    suspended_exports_need_approval_until_the_alert_is_reviewed,
    searches_list_pages_and_exported_rows_are_counted
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

async fn customers(store: &Store, owner: i64, n: usize, prefix: &str) -> Vec<i64> {
    let mut ids = Vec::new();
    for i in 0..n {
        let input = serde_json::from_value(
            json!({"name": format!("{prefix} Customer {i}"), "owner_id": owner}),
        )
        .unwrap();
        ids.push(store.create_customer(input, "test").await.unwrap().id);
    }
    ids
}

/// Not within the last half minute of an hour: a burst must fall in one hour.
async fn away_from_the_hour_boundary() {
    let now = Utc::now();
    if now.minute() == 59 && now.second() >= 30 {
        tokio::time::sleep(std::time::Duration::from_secs(u64::from(61 - now.second()))).await;
    }
}

/// `per_hour` of `kind` in 8 hours a day over the 14 days before today's hour (counted as
/// they stand, without comparing: the first of a heavy user's hours would be unusual).
async fn history(store: &Store, u: &User, kind: &str, per_hour: i64) {
    let now = Utc::now();
    for day in 1..=14 {
        for h in 0..8 {
            let at = now - Duration::days(day) + Duration::hours(h);
            store
                .count_access(u.id, hour_of(at), kind, None, per_hour)
                .await
                .unwrap();
        }
    }
}

async fn unusual(store: &Store, user_id: i64) -> Vec<patron_domain::task::Notification> {
    store
        .notifications(user_id, false, 1000)
        .await
        .unwrap()
        .into_iter()
        .filter(|n| n.kind.as_str().starts_with("unusual_"))
        .collect()
}

async fn a_burst_of_views_raises_one_alert_and_ordinary_use_none(store: Store) {
    let (admin, root) = user(&store, "ada", Role::Admin, None).await;
    let (mgr, boss) = user(&store, "mia", Role::Manager, None).await;
    let (rep, me) = user(&store, "ray", Role::Rep, Some(mgr.id)).await;
    let (calm, calm_me) = user(&store, "cal", Role::Rep, Some(mgr.id)).await;
    let (heavy, _) = user(&store, "hal", Role::Rep, Some(mgr.id)).await;
    let mine = customers(&store, rep.id, 50, "Ray's").await;
    let calms = customers(&store, calm.id, 30, "Cal's").await;
    // Weeks of ordinary use: 30 card views an hour; a heavy user 200 an hour.
    history(&store, &rep, "view", 30).await;
    history(&store, &calm, "view", 30).await;
    history(&store, &heavy, "view", 200).await;
    away_from_the_hour_boundary().await;
    let hour = hour_of(Utc::now());

    // Ordinary use: 30 views in the hour, nothing.
    for id in &calms {
        patron_app::customers::open_card(&store, &calm_me, *id, Some("card (web)"))
            .await
            .unwrap();
    }
    // A heavy user's 500 are within 5 times their usual 200.
    access::track_at(&store, &heavy, "view", None, 500, Utc::now())
        .await
        .unwrap();
    assert!(unusual(&store, mgr.id).await.is_empty());
    assert!(unusual(&store, admin.id).await.is_empty());

    // 500 card views in a few minutes: one alert, one notification to each of the manager
    // and the admin, none to the rep.
    for i in 0..500 {
        patron_app::customers::open_card(&store, &me, mine[i % mine.len()], Some("card (web)"))
            .await
            .unwrap();
    }
    for who in [mgr.id, admin.id] {
        let told = unusual(&store, who).await;
        assert_eq!(told.len(), 1, "{told:?}");
        assert_eq!(told[0].kind, NotificationKind::UnusualViews);
        assert!(
            told[0]
                .message
                .starts_with("ray opened 151 customer cards in the hour from"),
            "{}",
            told[0].message
        );
        assert!(
            told[0].message.ends_with("(usually 30 an hour)"),
            "{}",
            told[0].message
        );
        assert_eq!(told[0].params["user"], "ray");
    }
    assert!(unusual(&store, rep.id).await.is_empty());
    assert!(unusual(&store, calm.id).await.is_empty());
    // The admin's notification opens the Unusual access view; the manager's opens nothing
    // they may not read.
    assert!(unusual(&store, admin.id).await[0]
        .link
        .as_deref()
        .is_some_and(|l| l.starts_with("/admin/audit/unusual#alert-")));
    assert_eq!(unusual(&store, mgr.id).await[0].link, None);

    // The Unusual access view: the alert with its figures.
    let alerts = access::alerts(&store, &root, false, 100).await.unwrap();
    assert_eq!(alerts.len(), 1, "{alerts:?}");
    let a = &alerts[0];
    assert_eq!(
        (a.username.as_str(), a.kind.as_str(), a.hour),
        ("ray", "view", hour)
    );
    assert_eq!((a.n, a.n_now, a.threshold), (151, 500, 150));
    assert_eq!(a.usual, 30.0);
    assert!(!a.suspended && a.reviewed_at.is_none());
    // The manager does not read the audit log.
    assert!(matches!(
        access::alerts(&store, &boss, false, 100).await,
        Err(AppError::Forbidden(_))
    ));

    // The evidence report of the rep's day: the 500 views, the 50 customers by name.
    let today = Utc::now().date_naive();
    let r = access::evidence(&store, &root, "ray", today, today)
        .await
        .unwrap();
    assert_eq!(r.views(), 500);
    assert_eq!(r.days.len(), 1);
    assert_eq!(r.days[0].customers, 50);
    assert_eq!(r.customers.len(), 50);
    assert!(r.customers.iter().all(|c| c.views == 10));
    assert!(r
        .customers
        .iter()
        .any(|c| c.name.as_deref() == Some("Ray's Customer 7")));
    let (_, csv) = access::evidence_csv(&store, &root, "ray", today, today)
        .await
        .unwrap();
    let csv = String::from_utf8(csv).unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert!(lines[0].starts_with("section,user,day,views,customers"));
    assert!(
        lines[1].starts_with(&format!("day,ray,{today},500,50,")),
        "{}",
        lines[1]
    );
    assert_eq!(
        lines.iter().filter(|l| l.starts_with("customer,")).count(),
        50
    );
    assert!(csv.contains("Ray's Customer 49"));
    // Bad input names its field; a manager may not read the report.
    let e = access::evidence(&store, &root, "nobody", today, today)
        .await
        .unwrap_err();
    assert!(matches!(&e, AppError::Store(StoreError::Invalid(f)) if f[0].field == "user"));
    let e = access::evidence(&store, &root, "ray", today, today - chrono::Days::new(1))
        .await
        .unwrap_err();
    assert!(matches!(&e, AppError::Store(StoreError::Invalid(f)) if f[0].field == "to"));
    assert!(matches!(
        access::evidence(&store, &boss, "ray", today, today).await,
        Err(AppError::Forbidden(_))
    ));
}

async fn suspended_exports_need_approval_until_the_alert_is_reviewed(store: Store) {
    let (_admin, root) = user(&store, "ada", Role::Admin, None).await;
    let (mgr, boss) = user(&store, "mia", Role::Manager, None).await;
    let (rep, me) = user(&store, "ray", Role::Rep, Some(mgr.id)).await;
    let ids = customers(&store, rep.id, 5, "Ray's").await;
    // Defaults, then a low floor and suspension on alert.
    let mut w = access::watch(&store, &root).await.unwrap();
    assert_eq!(
        (w.multiple, w.baseline_days, w.suspend_exports),
        (5.0, 14, false)
    );
    assert_eq!(w.floors["view"], 100);
    assert_eq!(w.floors["export"], 1000);
    w.suspend_exports = true;
    w.floors.insert("view".into(), 20);
    // Bad settings name their field; a manager may not change them.
    let mut bad = w.clone();
    bad.multiple = 0.5;
    let e = access::set_watch(&store, &root, &bad, "")
        .await
        .unwrap_err();
    assert!(matches!(&e, AppError::Store(StoreError::Invalid(f)) if f[0].field == "multiple"));
    assert!(matches!(
        access::set_watch(&store, &boss, &w, "").await,
        Err(AppError::Forbidden(_))
    ));
    access::set_watch(&store, &root, &w, "").await.unwrap();
    assert_eq!(exports::gate(&store, &me, 1).await.unwrap(), Gate::Allowed);

    away_from_the_hour_boundary().await;
    for i in 0..25 {
        patron_app::customers::open_card(&store, &me, ids[i % ids.len()], None)
            .await
            .unwrap();
    }
    let alerts = access::alerts(&store, &root, true, 10).await.unwrap();
    assert_eq!(alerts.len(), 1, "{alerts:?}");
    assert!(alerts[0].suspended);
    assert_eq!((alerts[0].n, alerts[0].threshold), (21, 20));
    assert!(
        store
            .export_standing(rep.id)
            .await
            .unwrap()
            .exports_suspended
    );
    assert!(matches!(
        exports::gate(&store, &me, 1).await.unwrap(),
        Gate::NeedsApproval(_)
    ));
    // Only admins review; once reviewed, the rep exports again; a second review is refused.
    assert!(matches!(
        access::review(&store, &boss, alerts[0].id, "").await,
        Err(AppError::Forbidden(_))
    ));
    let done = access::review(&store, &root, alerts[0].id, "")
        .await
        .unwrap();
    assert!(done.reviewed_at.is_some());
    assert!(
        !store
            .export_standing(rep.id)
            .await
            .unwrap()
            .exports_suspended
    );
    assert_eq!(exports::gate(&store, &me, 1).await.unwrap(), Gate::Allowed);
    assert!(matches!(
        access::review(&store, &root, alerts[0].id, "").await,
        Err(AppError::Store(StoreError::Conflict { .. }))
    ));
    assert!(access::alerts(&store, &root, true, 10)
        .await
        .unwrap()
        .is_empty());
}

async fn searches_list_pages_and_exported_rows_are_counted(store: Store) {
    let (rep, me) = user(&store, "ray", Role::Rep, None).await;
    let (other, _) = user(&store, "ola", Role::Rep, None).await;
    let own = customers(&store, rep.id, 3, "Ray's").await;
    let pool = customers(&store, other.id, 1, "Ola's").await;
    away_from_the_hour_boundary().await;
    let hour = hour_of(Utc::now());
    let page = PageRequest {
        limit: Some(25),
        after: None,
    };
    let mut f = CustomerFilter::default();
    patron_app::customers::list_customers(&store, &me, &f, CustomerSort::Id, &page)
        .await
        .unwrap();
    f.q = Some("Ray".into());
    patron_app::customers::list_customers(&store, &me, &f, CustomerSort::Id, &page)
        .await
        .unwrap();
    patron_app::customers::record_list_export(&store, &me, "status=active", 3)
        .await
        .unwrap();
    // Another rep's customer is not found, and not counted.
    assert!(patron_app::customers::open_card(&store, &me, pool[0], None)
        .await
        .is_err());
    // A card of the public pool's (a customer the rep does not own): a view and a "foreign" one;
    // the rep's own: a view only.
    let unowned: patron_domain::CustomerInput =
        serde_json::from_value(json!({"name": "Pool Customer"})).unwrap();
    let unowned = store.create_customer(unowned, "test").await.unwrap().id;
    patron_app::customers::open_card(&store, &me, unowned, None)
        .await
        .unwrap();
    patron_app::customers::open_card(&store, &me, own[0], None)
        .await
        .unwrap();
    let counts = store.access_counts(rep.id, hour, hour + 1).await.unwrap();
    let n = |k: &str| {
        counts
            .iter()
            .find(|(kind, _, _)| kind == k)
            .map_or(0, |c| c.2)
    };
    assert_eq!(
        (n("list"), n("search"), n("export"), n("view"), n("foreign")),
        (2, 1, 3, 2, 1)
    );
}
