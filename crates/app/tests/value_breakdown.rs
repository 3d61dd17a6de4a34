//! The value breakdown (SPEC R12), on both backends, with a fixture small enough to compute by
//! hand: four customers in two regions (and one without), three owners (one the pool), order
//! lines in two categories (and one without) spread over this quarter, the previous one and
//! before, and stored value figures written as they are. Checks every figure per dimension,
//! the scope (a manager who sees their own customers and the pool), analysts (every customer,
//! no owner names), reps (refused), and that the groups' period figures add up to the
//! dashboard's period comparison.

use chrono::NaiveDate;
use patron_app::breakdown::{breakdown, AbcCounts, Breakdown, Dimension, Group};
use patron_app::period::{self, Figures, Period};
use patron_app::{AppError, Session};
use patron_store::{backend_tests, CustomerValueRow, DataScope, NewUser, Role, Store};
use serde_json::json;

backend_tests!(figures_by_every_dimension, scope_and_roles);

fn d(s: &str) -> NaiveDate {
    s.parse().unwrap()
}

async fn user(
    store: &Store,
    name: &str,
    display: Option<&str>,
    role: Role,
    scope: DataScope,
) -> Session {
    let u = store
        .create_user(&NewUser {
            username: name.into(),
            display_name: display.map(str::to_string),
            role: Some(role),
            scope: Some(scope),
            ..Default::default()
        })
        .await
        .unwrap();
    Session::open(store, u, None).await.unwrap()
}

async fn customer(
    store: &Store,
    name: &str,
    region: Option<&str>,
    industry: &str,
    owner: Option<i64>,
) -> i64 {
    let input = serde_json::from_value(
        json!({ "name": name, "region": region, "industry": industry, "owner_id": owner }),
    )
    .unwrap();
    store.create_customer(input, "test").await.unwrap().id
}

async fn order(
    store: &Store,
    customer: i64,
    day: &str,
    category: Option<&str>,
    amount: &str,
    cost: &str,
) {
    let input = serde_json::from_value(json!({
        "ordered_on": day, "lines": [{"category": category, "amount": amount, "cost": cost}]
    }))
    .unwrap();
    store.create_order(customer, input).await.unwrap();
}

#[allow(clippy::too_many_arguments)]
async fn stored(
    store: &Store,
    id: i64,
    orders: i64,
    revenue: i64,
    margin: i64,
    clv: Option<f64>,
    churn: bool,
    abc: &str,
) {
    let mut r =
        CustomerValueRow::without_orders(id, chrono::Utc::now(), "day".into(), d("2026-06-30"));
    r.orders = orders;
    r.revenue_cents = revenue;
    r.margin_cents = margin;
    r.cost_cents = revenue - margin;
    r.clv = clv;
    r.churn_risk = churn;
    r.abc_class = abc.into();
    store.upsert_customer_value(&r).await.unwrap();
}

struct Fixture {
    admin: Session,
    ann: Session,
    analyst: Session,
    rep: Session,
    ann_id: i64,
    bob_id: i64,
}

/// C1 (North, retail, Ann): tools 100.00/40.00 on 2026-01-15 (previous quarter, first order),
/// paint 200.00/50.00 on 2026-05-10; stored revenue 300.00, margin 210.00, CLV 500.50, churn, A.
/// C2 (North, food, Bob): tools 50.00/10.00 on 2026-06-30 (the last order: this quarter is
/// 2026-04-01..06-30, the previous 2026-01-01..03-31); stored 50.00, 40.00, CLV 100.25, B.
/// C3 (South, retail, pool, archived): a line without category 30.00/0 on 2025-12-01 (neither
/// period); stored 30.00, 30.00, no CLV, churn (not counted: archived), C.
/// C4 (no region, retail, Ann): no order; stored as a prospect (class C, no orders).
async fn fixture(store: &Store) -> Fixture {
    let admin = user(store, "boss", None, Role::Admin, DataScope::All).await;
    let ann = user(store, "ann", Some("Ann Lee"), Role::Manager, DataScope::Own).await;
    let bob = user(store, "bob", None, Role::Rep, DataScope::Own).await;
    let analyst = user(store, "ana", None, Role::Analyst, DataScope::All).await;
    let (ann_id, bob_id) = (ann.user.id, bob.user.id);
    let c1 = customer(store, "One", Some("North"), "retail", Some(ann_id)).await;
    let c2 = customer(store, "Two", Some("North"), "food", Some(bob_id)).await;
    let c3 = customer(store, "Three", Some("South"), "retail", None).await;
    let c4 = customer(store, "Four", None, "retail", Some(ann_id)).await;
    order(store, c1, "2026-01-15", Some("tools"), "100.00", "40.00").await;
    order(store, c1, "2026-05-10", Some("paint"), "200.00", "50.00").await;
    order(store, c2, "2026-06-30", Some("tools"), "50.00", "10.00").await;
    order(store, c3, "2025-12-01", None, "30.00", "0").await;
    stored(store, c1, 2, 30000, 21000, Some(500.5), true, "A").await;
    stored(store, c2, 1, 5000, 4000, Some(100.25), false, "B").await;
    stored(store, c3, 1, 3000, 3000, None, true, "C").await;
    stored(store, c4, 0, 0, 0, None, false, "C").await;
    store.archive_customer(c3, "test").await.unwrap();
    Fixture {
        admin,
        ann,
        analyst,
        rep: bob,
        ann_id,
        bob_id,
    }
}

fn fig(revenue: i64, margin: i64, active: u64, new: u64) -> Figures {
    Figures {
        revenue,
        margin,
        active,
        new,
    }
}

fn abc(a: i64, b: i64, c: i64) -> Option<AbcCounts> {
    Some(AbcCounts { a, b, c })
}

fn group(b: &Breakdown, key: Option<&str>) -> Group {
    b.groups
        .iter()
        .find(|g| g.key.as_deref() == key)
        .unwrap_or_else(|| panic!("no group {key:?} in {:?}", b.groups))
        .clone()
}

fn keys(b: &Breakdown) -> Vec<Option<&str>> {
    b.groups.iter().map(|g| g.key.as_deref()).collect()
}

async fn figures_by_every_dimension(store: Store) {
    let f = fixture(&store).await;
    let region = breakdown(&store, &f.admin, Dimension::Region, Period::Quarter)
        .await
        .unwrap();
    assert_eq!(region.this, Some((d("2026-04-01"), d("2026-06-30"))));
    assert_eq!(region.prev, Some((d("2026-01-01"), d("2026-03-31"))));
    assert!(!region.scoped);
    assert!(region.not_applicable.is_empty());
    // Largest revenue first.
    assert_eq!(keys(&region), [Some("North"), Some("South"), None]);
    let north = group(&region, Some("North"));
    assert_eq!(
        (north.customers, north.revenue_cents, north.margin_cents),
        (2, 35000, 25000)
    );
    assert_eq!(north.clv, Some(600.75));
    assert_eq!(north.churn_risk, Some(1));
    assert_eq!(north.abc, abc(1, 1, 0));
    assert_eq!(north.this, fig(25000, 19000, 2, 1));
    assert_eq!(north.prev, fig(10000, 6000, 1, 1));
    assert_eq!((north.owner_id, north.owner_name), (None, None));
    let south = group(&region, Some("South"));
    assert_eq!(
        (south.customers, south.revenue_cents, south.margin_cents),
        (1, 3000, 3000)
    );
    // The archived customer's warning is not counted, as on the dashboard.
    assert_eq!((south.clv, south.churn_risk), (None, Some(0)));
    assert_eq!(south.abc, abc(0, 0, 1));
    assert_eq!((south.this, south.prev), (fig(0, 0, 0, 0), fig(0, 0, 0, 0)));
    let none = group(&region, None);
    // A prospect counts as a customer, not in the ABC classes.
    assert_eq!(
        (none.customers, none.revenue_cents, none.abc),
        (1, 0, abc(0, 0, 0))
    );

    // The groups add up to the dashboard's comparison.
    let facts = store.order_facts().await.unwrap();
    let total = period::compute(&facts, &[], Period::Quarter).unwrap().total;
    let sum = |f: fn(&Group) -> i64| region.groups.iter().map(f).sum::<i64>();
    assert_eq!(sum(|g| g.this.revenue), total.this.revenue);
    assert_eq!(sum(|g| g.prev.margin), total.prev.margin);
    assert_eq!(sum(|g| g.this.active as i64), total.this.active as i64);
    assert_eq!(sum(|g| g.prev.new as i64), total.prev.new as i64);

    let industry = breakdown(&store, &f.admin, Dimension::Industry, Period::Quarter)
        .await
        .unwrap();
    assert_eq!(keys(&industry), [Some("retail"), Some("food")]);
    let retail = group(&industry, Some("retail"));
    assert_eq!(
        (
            retail.customers,
            retail.revenue_cents,
            retail.churn_risk,
            retail.abc
        ),
        (3, 33000, Some(1), abc(1, 0, 1))
    );
    assert_eq!(retail.this, fig(20000, 15000, 1, 0));
    assert_eq!(retail.prev, fig(10000, 6000, 1, 1));

    let category = breakdown(&store, &f.admin, Dimension::Category, Period::Quarter)
        .await
        .unwrap();
    assert_eq!(category.not_applicable, ["clv", "churn_risk", "abc"]);
    assert_eq!(keys(&category), [Some("paint"), Some("tools"), None]);
    let tools = group(&category, Some("tools"));
    assert_eq!(
        (tools.customers, tools.revenue_cents, tools.margin_cents),
        (2, 15000, 10000)
    );
    assert_eq!((tools.clv, tools.churn_risk, tools.abc), (None, None, None));
    assert_eq!(tools.this, fig(5000, 4000, 1, 1));
    assert_eq!(tools.prev, fig(10000, 6000, 1, 1));
    let paint = group(&category, Some("paint"));
    // The customer's first paint line is this quarter: new in the category.
    assert_eq!(paint.this, fig(20000, 15000, 1, 1));
    assert_eq!(paint.prev, fig(0, 0, 0, 0));
    let uncategorised = group(&category, None);
    assert_eq!(
        (
            uncategorised.customers,
            uncategorised.revenue_cents,
            uncategorised.margin_cents
        ),
        (1, 3000, 3000)
    );

    let owner = breakdown(&store, &f.admin, Dimension::Owner, Period::Month)
        .await
        .unwrap();
    assert_eq!(owner.this, Some((d("2026-06-01"), d("2026-06-30"))));
    let ann = group(&owner, Some(&f.ann_id.to_string()));
    assert_eq!(ann.owner_id, Some(f.ann_id));
    assert_eq!(ann.owner_name.as_deref(), Some("Ann Lee"));
    assert_eq!((ann.customers, ann.revenue_cents), (2, 30000));
    assert_eq!(
        (ann.this, ann.prev),
        (fig(0, 0, 0, 0), fig(20000, 15000, 1, 0))
    );
    let bob = group(&owner, Some(&f.bob_id.to_string()));
    assert_eq!(bob.owner_name.as_deref(), Some("bob"));
    assert_eq!(bob.this, fig(5000, 4000, 1, 1));
    let pool = group(&owner, None);
    assert_eq!((pool.owner_id, pool.customers), (None, 1));
}

async fn scope_and_roles(store: Store) {
    let f = fixture(&store).await;
    // Ann sees her own customers and the pool.
    let region = breakdown(&store, &f.ann, Dimension::Region, Period::Quarter)
        .await
        .unwrap();
    assert!(region.scoped);
    assert_eq!(keys(&region), [Some("North"), Some("South"), None]);
    let north = group(&region, Some("North"));
    assert_eq!(
        (north.customers, north.revenue_cents, north.clv, north.abc),
        (1, 30000, Some(500.5), abc(1, 0, 0))
    );
    assert_eq!(north.this, fig(20000, 15000, 1, 0));
    let category = breakdown(&store, &f.ann, Dimension::Category, Period::Quarter)
        .await
        .unwrap();
    assert_eq!(group(&category, Some("tools")).revenue_cents, 10000);

    // Analysts: every customer, owners without names.
    let owner = breakdown(&store, &f.analyst, Dimension::Owner, Period::Quarter)
        .await
        .unwrap();
    assert!(!owner.scoped);
    assert_eq!(owner.groups.len(), 3);
    assert!(owner.groups.iter().all(|g| g.owner_name.is_none()));
    let all = breakdown(&store, &f.analyst, Dimension::Region, Period::Quarter)
        .await
        .unwrap();
    assert_eq!(group(&all, Some("North")).customers, 2);
    let json = serde_json::to_string(&all).unwrap();
    for name in ["One", "Two", "Three", "Four"] {
        assert!(!json.contains(name), "{json}");
    }

    // Reps have no population figures.
    let refused = breakdown(&store, &f.rep, Dimension::Region, Period::Quarter).await;
    assert!(
        matches!(refused, Err(AppError::Forbidden(_))),
        "{refused:?}"
    );
}
