//! Stages and history (SPEC R18), on both backends: two population refreshes with changed orders
//! in between. Each refresh keeps every customer's grade, stage, CLV, P(alive) and margin of
//! its snapshot; the card's history has one point per snapshot (its last point follows a
//! one-customer recompute); the grade and stage transition tables between the two snapshots
//! count exactly the customers that moved (and sum their CLV and margin), over the caller's
//! scope (analysts: everyone; reps: refused); the list filters "moved down a grade",
//! "unprofitable but growing" and a transition cell return exactly those customers.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{Days, NaiveDate};
use patron_app::value::{refresh, today};
use patron_app::value_history::{customer_history, parse_transition, transitions};
use patron_app::{AppError, Session};
use patron_store::{
    backend_tests, CustomerFilter, CustomerSort, CustomerValueRow, DataScope, NewUser, PageRequest,
    Role, Store, StoreError, TransitionFilter, TransitionKind, TransitionRow, ValueCourse,
};
use patron_value::AnalysisOptions;
use serde_json::json;

backend_tests!(two_refreshes_show_the_movements);

async fn session(store: &Store, name: &str, role: Role, scope: DataScope) -> Session {
    let u = store
        .create_user(&NewUser {
            username: name.into(),
            role: Some(role),
            scope: Some(scope),
            ..Default::default()
        })
        .await
        .unwrap();
    Session::open(store, u, None).await.unwrap()
}

async fn customer(store: &Store, name: &str, owner: i64) -> i64 {
    let input = serde_json::from_value(
        json!({ "name": name, "industry": "retail", "owner_id": owner, "employees": 40 }),
    )
    .unwrap();
    store.create_customer(input, "test").await.unwrap().id
}

/// A customer whose profile scores high (finance, large, rated AAA): its grade goes by its
/// purchases (A with a high margin, B without).
async fn rich_customer(store: &Store, name: &str, owner: i64) -> i64 {
    let input = serde_json::from_value(json!({
        "name": name, "industry": "finance", "owner_id": owner, "employees": 2000,
        "registered_capital": "200000000", "credit_rating": "aaa"
    }))
    .unwrap();
    store.create_customer(input, "test").await.unwrap().id
}

fn order_input(day: NaiveDate, amount: f64, cost: f64) -> patron_domain::OrderInput {
    serde_json::from_value(json!({
        "ordered_on": day, "lines": [{"amount": format!("{amount:.2}"), "cost": format!("{cost:.2}")}]
    }))
    .unwrap()
}

/// (from, to) -> (customers, summed CLV from, to, summed margin from, to), as the two
/// snapshots' stored rows give them (`from`: none when not in the first).
type Expected = BTreeMap<(Option<String>, Option<String>), (i64, f64, f64, i64, i64)>;

fn expected(
    before: &BTreeMap<i64, CustomerValueRow>,
    after: &[CustomerValueRow],
    kind: TransitionKind,
    only: Option<&BTreeSet<i64>>,
) -> Expected {
    let of = |r: &CustomerValueRow| match kind {
        TransitionKind::Grade => r.grade.clone(),
        TransitionKind::Stage => r.loyalty_stage.clone(),
    };
    let mut out = Expected::new();
    for r in after {
        if only.is_some_and(|o| !o.contains(&r.customer_id)) {
            continue;
        }
        let b = before.get(&r.customer_id);
        let e = out.entry((b.and_then(of), of(r))).or_default();
        e.0 += 1;
        e.1 += b.and_then(|b| b.clv).unwrap_or(0.0);
        e.2 += r.clv.unwrap_or(0.0);
        e.3 += b.map_or(0, |b| b.margin_cents);
        e.4 += r.margin_cents;
    }
    out
}

fn got(rows: &[TransitionRow]) -> Expected {
    rows.iter()
        .map(|r| {
            (
                (r.from.clone(), r.to.clone()),
                (
                    r.customers,
                    r.clv_from.unwrap_or(0.0),
                    r.clv_to.unwrap_or(0.0),
                    r.margin_from_cents,
                    r.margin_to_cents,
                ),
            )
        })
        .collect()
}

fn assert_same(want: &Expected, got: &Expected) {
    assert_eq!(
        want.keys().collect::<Vec<_>>(),
        got.keys().collect::<Vec<_>>()
    );
    for (k, w) in want {
        let g = &got[k];
        assert_eq!((w.0, w.3, w.4), (g.0, g.3, g.4), "{k:?}");
        for (a, b) in [(w.1, g.1), (w.2, g.2)] {
            assert!(
                (a - b).abs() <= 1e-6 * a.abs().max(1.0),
                "{k:?}: {a} vs {b}"
            );
        }
    }
}

async fn listed(store: &Store, me: &Session, filter: CustomerFilter) -> BTreeSet<i64> {
    let page = PageRequest {
        limit: Some(500),
        after: None,
    };
    patron_app::customers::list_customers(store, me, &filter, CustomerSort::Id, &page)
        .await
        .unwrap()
        .items
        .into_iter()
        .map(|c| c.id)
        .collect()
}

async fn two_refreshes_show_the_movements(store: Store) {
    let as_of = today();
    let day = |back: u64| as_of.checked_sub_days(Days::new(back)).unwrap();
    let admin = Session::unrestricted("test");
    let mine = session(&store, "own", Role::Manager, DataScope::Own).await;
    let other = session(&store, "other", Role::Rep, DataScope::Own).await;
    let analyst = session(&store, "analyst", Role::Analyst, DataScope::None).await;
    // 40 buyers (seeded), half owned by `own`, half by `other`; a big buyer and a loss maker.
    let mut seed = 11u64;
    let mut rand = move || {
        seed = seed
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (seed >> 11) as f64 / (1u64 << 53) as f64
    };
    for c in 0..40 {
        let owner = if c % 2 == 0 {
            mine.user.id
        } else {
            other.user.id
        };
        let id = customer(&store, &format!("Buyer {c:02}"), owner).await;
        let orders = 1 + (rand() * 8.0) as u64;
        for _ in 0..orders {
            let amount = 20.0 + 300.0 * rand() * rand();
            let back = (rand() * 700.0) as u64;
            store
                .create_order(id, order_input(day(back), amount, amount * 0.4))
                .await
                .unwrap();
        }
    }
    let big = rich_customer(&store, "Big", mine.user.id).await;
    let mut big_orders = Vec::new();
    for k in 0..14u64 {
        let o = store
            .create_order(big, order_input(day(10 + k * 45), 2500.0, 500.0))
            .await
            .unwrap();
        big_orders.push(o.order_ref);
    }
    let loss = customer(&store, "Loss", mine.user.id).await;
    for k in 0..3u64 {
        store
            .create_order(loss, order_input(day(30 + k * 60), 100.0, 400.0))
            .await
            .unwrap();
    }
    // Before any refresh: no history, no transitions.
    let h = customer_history(&store, &admin, big).await.unwrap();
    assert!(h.points.is_empty() && h.current.is_none());
    let none = transitions(&store, &admin, None, None).await.unwrap();
    assert!(none.from.is_none() && none.to.is_none() && none.grade.is_empty());

    let first = refresh(&store, &AnalysisOptions::default(), as_of)
        .await
        .unwrap();
    let before: BTreeMap<i64, CustomerValueRow> = store
        .all_customer_values()
        .await
        .unwrap()
        .into_iter()
        .map(|r| (r.customer_id, r))
        .collect();
    // One snapshot: one point, nothing to compare yet.
    let h = customer_history(&store, &admin, big).await.unwrap();
    assert_eq!(h.points.len(), 1);
    assert!(h.current.is_none());
    let one = transitions(&store, &admin, None, None).await.unwrap();
    assert_eq!(one.to.as_ref().map(|s| s.id), Some(first.id));
    assert!(one.from.is_none() && one.grade.is_empty());

    // The big buyer's orders shrink to almost nothing (its margin and grade fall); the loss
    // maker buys once at a profit (its margin rises, still below zero). Through the use cases:
    // their figures follow at once, shown as the card's "now" point; the snapshot's rows keep
    // what the refresh found.
    for (k, r) in big_orders.iter().enumerate() {
        let input = order_input(day(10 + 45 * k as u64), 2.0, 1.5);
        patron_app::orders::replace_order(&store, &admin, big, r, input)
            .await
            .unwrap();
    }
    patron_app::orders::create_order(&store, &admin, loss, order_input(day(1), 150.0, 20.0))
        .await
        .unwrap();
    let live = store.customer_value(loss).await.unwrap().unwrap();
    assert_ne!(live.margin_cents, before[&loss].margin_cents);
    let h = customer_history(&store, &admin, loss).await.unwrap();
    assert_eq!(h.points.len(), 1);
    assert_eq!(h.points[0].margin_cents, before[&loss].margin_cents);
    let now_point = h.current.expect("the recomputed figures");
    assert_eq!(now_point.margin_cents, live.margin_cents);
    assert_eq!(now_point.grade, live.grade);
    assert_eq!(now_point.snapshot_id, first.id);

    let second = refresh(&store, &AnalysisOptions::default(), as_of)
        .await
        .unwrap();
    let after = store.all_customer_values().await.unwrap();
    let now: BTreeMap<i64, &CustomerValueRow> = after.iter().map(|r| (r.customer_id, r)).collect();

    // The card: two points, the stored figures of each snapshot.
    let h = customer_history(&store, &admin, big).await.unwrap();
    assert!(h.current.is_none());
    let points = h.points;
    assert_eq!(points.len(), 2);
    assert_eq!(
        points.iter().map(|p| p.snapshot_id).collect::<Vec<_>>(),
        vec![first.id, second.id]
    );
    assert_eq!(points[0].grade, before[&big].grade);
    assert_eq!(points[1].grade, now[&big].grade);
    assert_eq!(points[0].margin_cents, before[&big].margin_cents);
    assert_eq!(points[1].margin_cents, now[&big].margin_cents);
    assert_eq!(points[1].stage, now[&big].loyalty_stage);
    assert_eq!(points[1].clv, now[&big].clv);
    assert_eq!(points[1].as_of, Some(as_of));
    // Another rep's customer is "not found" to `other`; analysts see no card.
    assert!(matches!(
        customer_history(&store, &other, big).await,
        Err(AppError::Store(StoreError::NotFound { .. }))
    ));
    assert!(customer_history(&store, &analyst, big).await.is_err());

    // The transition tables (default: the latest two snapshots) are the stored rows' moves.
    let t = transitions(&store, &admin, None, None).await.unwrap();
    assert_eq!(t.from.as_ref().map(|s| s.id), Some(first.id));
    assert_eq!(t.to.as_ref().map(|s| s.id), Some(second.id));
    assert!(!t.scoped);
    let want_grade = expected(&before, &after, TransitionKind::Grade, None);
    assert_same(&want_grade, &got(&t.grade));
    assert_same(
        &expected(&before, &after, TransitionKind::Stage, None),
        &got(&t.stage),
    );
    let big_move = (before[&big].grade.clone(), now[&big].grade.clone());
    assert!(
        big_move.0 < big_move.1,
        "the big buyer moved down: {big_move:?}"
    );
    assert!(want_grade[&big_move].0 >= 1);
    // Named explicitly: the same; an unknown snapshot is not found (404 on the API).
    let named = transitions(&store, &admin, Some(first.id), Some(second.id))
        .await
        .unwrap();
    assert_eq!(named, t);
    match transitions(&store, &admin, Some(999), None).await {
        Err(AppError::Store(StoreError::NotFound { what, id })) => {
            assert_eq!((what, id.as_str()), ("value snapshot", "999"))
        }
        other => panic!("{other:?}"),
    }
    // A manager who sees their own customers: theirs only; analysts: everyone; reps: refused.
    let mut own = BTreeSet::new();
    for r in &after {
        if store.customer_owner(r.customer_id).await.unwrap() == Some(mine.user.id) {
            own.insert(r.customer_id);
        }
    }
    let scoped = transitions(&store, &mine, None, None).await.unwrap();
    assert!(scoped.scoped);
    assert_same(
        &expected(&before, &after, TransitionKind::Grade, Some(&own)),
        &got(&scoped.grade),
    );
    let a = transitions(&store, &analyst, None, None).await.unwrap();
    assert!(!a.scoped);
    assert_eq!(a.grade, t.grade);
    assert!(matches!(
        transitions(&store, &other, None, None).await,
        Err(AppError::Forbidden(_))
    ));

    // The list filters: exactly the customers that moved.
    let down: BTreeSet<i64> = after
        .iter()
        .filter(|r| {
            match (
                before.get(&r.customer_id).and_then(|b| b.grade.as_ref()),
                &r.grade,
            ) {
                (Some(b), Some(a)) => a > b,
                _ => false,
            }
        })
        .map(|r| r.customer_id)
        .collect();
    assert!(down.contains(&big));
    let filter = |course| CustomerFilter {
        course: Some(course),
        ..CustomerFilter::default()
    };
    assert_eq!(
        listed(&store, &admin, filter(ValueCourse::MovedDown)).await,
        down
    );
    let growing: BTreeSet<i64> = after
        .iter()
        .filter(|r| {
            let Some(b) = before.get(&r.customer_id) else {
                return false;
            };
            r.margin_cents < 0
                && (r.margin_cents > b.margin_cents
                    || matches!((r.clv, b.clv), (Some(x), Some(y)) if x > y))
        })
        .map(|r| r.customer_id)
        .collect();
    assert!(
        growing.contains(&loss),
        "{:?} -> {:?}",
        before[&loss],
        now[&loss]
    );
    assert_eq!(
        listed(&store, &admin, filter(ValueCourse::UnprofitableGrowing)).await,
        growing
    );
    // Within the caller's scope.
    let own_down: BTreeSet<i64> = down.intersection(&own).copied().collect();
    assert_eq!(
        listed(&store, &mine, filter(ValueCourse::MovedDown)).await,
        own_down
    );
    // A transition cell: the customers of that move.
    let cell = TransitionFilter {
        kind: TransitionKind::Grade,
        from_snapshot: first.id,
        from: big_move.0.clone(),
        to_snapshot: second.id,
        to: big_move.1.clone(),
    };
    let back = parse_transition("transition", &cell.to_param()).unwrap();
    assert_eq!(back, cell);
    let in_cell: BTreeSet<i64> = after
        .iter()
        .filter(|r| {
            before.get(&r.customer_id).and_then(|b| b.grade.clone()) == big_move.0
                && r.grade == big_move.1
        })
        .map(|r| r.customer_id)
        .collect();
    let cell_filter = CustomerFilter {
        transition: Some(cell),
        ..CustomerFilter::default()
    };
    assert_eq!(listed(&store, &admin, cell_filter).await, in_cell);
    assert_eq!(in_cell.len() as i64, want_grade[&big_move].0);
    // Bad cell filters name their field.
    for bad in [
        "grade:1:Z:2:A",
        "stage:1:-:2:client",
        "grade:1:A",
        "kind:1:A:2:B",
    ] {
        match parse_transition("transition", bad) {
            Err(StoreError::Invalid(e)) => assert_eq!(e[0].field, "transition"),
            other => panic!("{bad}: {other:?}"),
        }
    }

    // A new score model rewrites the newest snapshot's grades (as its grade counts), not the
    // older one's.
    let everyone_a = patron_value::score::ScoreModel::from_toml(
        "[grades]\na = 0\nb = 0\nc = 0\nd = 0\n[[attribute]]\nname = \"industry\"\nweight = 100\nkind = \"categorical\"\ndefault = 50\npoints = {}\n",
    )
    .unwrap();
    patron_app::value::regrade(&store, &everyone_a)
        .await
        .unwrap();
    let h = customer_history(&store, &admin, big).await.unwrap();
    assert_eq!(h.points[0].grade, before[&big].grade);
    assert_eq!(h.points[1].grade.as_deref(), Some("A"));
    // A purge (erasure) removes the customer's history with it.
    store.delete_customer(loss).await.unwrap();
    assert!(store
        .customer_value_history(loss, 100)
        .await
        .unwrap()
        .is_empty());
}
