//! No page issues a query per row: the customer list, receivables, service and dashboard pages
//! send as many SQL statements with 30 customers in view as with 2 (give or take a cache).
//! Every statement sqlx runs is a `sqlx::query` tracing event; a global subscriber counts them, so this file
//! holds one test, which runs the backends one after the other.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};

use axum::http::StatusCode;
use axum::Router;
use patron_domain::service::{Priority, TicketInput, TicketKind};
use patron_domain::{CustomerInput, Money, OrderInput, OrderLineInput};
use patron_store::{testing::with_fresh_store, BackendKind, NewUser, OrderTerms, Role, Store};
use patron_testkit::get;
use tracing_subscriber::layer::SubscriberExt;

static STATEMENTS: AtomicUsize = AtomicUsize::new(0);

struct Count;

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for Count {
    fn on_event(&self, event: &tracing::Event<'_>, _: tracing_subscriber::layer::Context<'_, S>) {
        if event.metadata().target() == "sqlx::query" {
            STATEMENTS.fetch_add(1, Ordering::SeqCst);
        }
    }
}

/// Statements sent while `uri` is served (the page must answer 200).
async fn statements(app: &Router, uri: &str) -> usize {
    let before = STATEMENTS.load(Ordering::SeqCst);
    let page = get(app, uri).await;
    assert_eq!(page.status, StatusCode::OK, "{uri}: {}", page.body);
    STATEMENTS.load(Ordering::SeqCst) - before
}

/// `n` more customers of `owner`, each with an overdue invoice and a breached ticket.
async fn fill(store: &Store, owner: i64, from: usize, n: usize) {
    for k in from..from + n {
        let c = store
            .create_customer(
                CustomerInput {
                    name: format!("Customer {k}"),
                    owner_id: Some(owner),
                    ..CustomerInput::default()
                },
                "test",
            )
            .await
            .unwrap()
            .id;
        let order = OrderInput {
            order_ref: Some(format!("O{k}")),
            ordered_on: "2024-01-10".parse().unwrap(),
            lines: vec![OrderLineInput {
                category: None,
                quantity: 1,
                amount: Money(10_000 + k as i64),
                cost: Money(4_000),
            }],
        };
        store
            .place_order(c, order, &OrderTerms::default())
            .await
            .unwrap();
        let ticket = TicketInput {
            kind: TicketKind::Complaint,
            priority: Priority::High,
            subject: format!("Broken {k}"),
            body: None,
            by: None,
            assignee_id: None,
        };
        let opened = "2024-02-01T09:00:00Z".parse().unwrap();
        store.open_ticket(c, ticket, opened).await.unwrap();
    }
}

const PAGES: [&str; 5] = [
    "/customers",
    "/work/receivables?as_of=2024-06-30",
    "/work/service",
    "/dashboard",
    "/dashboard?period=year",
];

async fn bounded_on(store: Store) {
    let kind = store.kind();
    let east = store.create_department("East", None).await.unwrap();
    let manager = store
        .create_user(&NewUser {
            username: "mona".into(),
            role: Some(Role::Manager),
            department_id: Some(east.id),
            ..Default::default()
        })
        .await
        .unwrap();
    let rep = store
        .create_user(&NewUser {
            username: "ray".into(),
            role: Some(Role::Rep),
            department_id: Some(east.id),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_ne!(manager.id, rep.id);
    let app = patron_web::auth::signed_in(common::router(store.clone()), &store, "mona")
        .await
        .unwrap();
    fill(&store, rep.id, 0, 2).await;
    patron_app::value::refresh_like_last_time(&store)
        .await
        .unwrap();
    let mut few = Vec::new();
    for uri in PAGES {
        statements(&app, uri).await; // caches warm, as in use
        few.push(statements(&app, uri).await);
    }
    fill(&store, rep.id, 2, 28).await;
    patron_app::value::refresh_like_last_time(&store)
        .await
        .unwrap();
    for (uri, few) in PAGES.iter().zip(few) {
        statements(&app, uri).await;
        let many = statements(&app, uri).await;
        assert!(few > 0, "{uri}: statements are counted");
        // Two statements of slack for the pages' time-based caches (a count or figure that
        // expires between two calls); a query per row would add 28 or more.
        assert!(
            many <= few + 2,
            "{uri} ({kind:?}): {few} statements for 2 customers, {many} for 30"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_issue_a_bounded_number_of_statements() {
    tracing::subscriber::set_global_default(tracing_subscriber::registry().with(Count))
        .expect("the only subscriber of this test binary");
    with_fresh_store(BackendKind::Sqlite, bounded_on).await;
    with_fresh_store(BackendKind::Postgres, bounded_on).await;
}
