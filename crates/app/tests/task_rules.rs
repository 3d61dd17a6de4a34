//! Tasks made by a promise and by the rules (`run_rules`), on both backends: a promise with a
//! due time makes a task for the caller; a customer close to its reclaim limit makes a
//! `reclaim` task for its owner; an overdue invoice an `invoice_overdue` task; a second run of
//! the rules adds nothing.

use chrono::{Days, Duration, Utc};
use patron_app::tasks::{log_interaction, my_tasks, run_rules};
use patron_app::Session;
use patron_domain::receivable::InvoiceInput;
use patron_domain::task::TaskKind;
use patron_domain::{InteractionInput, InteractionKind, Money};
use patron_store::{backend_tests, NewUser, Role, Store, TaskFilter, User};
use serde_json::json;

backend_tests!(
    a_promise_makes_a_task_for_the_caller,
    a_customer_near_its_reclaim_limit_makes_a_task_once,
    an_overdue_invoice_makes_a_task
);

async fn rep(store: &Store, name: &str) -> (User, Session) {
    let user = store
        .create_user(&NewUser {
            username: name.into(),
            role: Some(Role::Rep),
            ..Default::default()
        })
        .await
        .unwrap();
    let session = Session::open(store, user.clone(), None).await.unwrap();
    (user, session)
}

async fn customer(store: &Store, name: &str, owner: i64) -> i64 {
    let input = serde_json::from_value(json!({"name": name, "owner_id": owner})).unwrap();
    store.create_customer(input, "test").await.unwrap().id
}

fn interaction(kind: InteractionKind, text: &str) -> InteractionInput {
    InteractionInput {
        kind,
        occurred_at: None,
        by: None,
        contact_id: None,
        text: text.into(),
        external_id: None,
    }
}

async fn all_tasks(store: &Store) -> Vec<patron_domain::task::Task> {
    store
        .tasks(&TaskFilter {
            open: None,
            ..TaskFilter::default()
        })
        .await
        .unwrap()
}

async fn a_promise_makes_a_task_for_the_caller(store: Store) {
    let (user, session) = rep(&store, "promising-rep").await;
    let c = customer(&store, "Promised Co", user.id).await;
    // A promise needs its due time.
    let refused = log_interaction(
        &store,
        &session,
        c,
        interaction(InteractionKind::Promise, "Send the quote"),
        None,
        None,
    )
    .await;
    assert!(refused.is_err(), "a promise without a due time was taken");
    let due = Utc::now() + Duration::days(2);
    let (i, task) = log_interaction(
        &store,
        &session,
        c,
        interaction(InteractionKind::Promise, "Send the quote by Friday"),
        Some(due),
        None,
    )
    .await
    .unwrap();
    assert_eq!(i.kind, InteractionKind::Promise);
    assert_eq!(i.customer_id, c);
    let task = task.expect("a promise with a due time makes a task");
    assert_eq!(task.assignee_id, user.id);
    assert_eq!(task.customer_id, Some(c));
    assert_eq!(task.customer_name.as_deref(), Some("Promised Co"));
    assert_eq!(task.source, "promise");
    assert_eq!(task.status, "open");
    assert_eq!(task.note, "Send the quote by Friday");
    assert!((task.due_at - due).num_seconds().abs() <= 1, "{task:?}");
    let mine = my_tasks(&store, &session, Some(true), None).await.unwrap();
    assert_eq!(mine, vec![task]);
    // Any other kind makes none.
    let (_, none) = log_interaction(
        &store,
        &session,
        c,
        interaction(InteractionKind::Call, "Called about the quote"),
        None,
        None,
    )
    .await
    .unwrap();
    assert!(none.is_none());
    assert_eq!(all_tasks(&store).await.len(), 1);
}

async fn a_customer_near_its_reclaim_limit_makes_a_task_once(store: Store) {
    store
        .set_setting("pool.reclaim_days.none", "30")
        .await
        .unwrap();
    let (user, _) = rep(&store, "idle-rep").await;
    let idle = customer(&store, "Quiet Co", user.id).await;
    let busy = customer(&store, "Busy Co", user.id).await;
    // Idle for 28 days: 2 days short of the 30-day limit.
    let past = (Utc::now() - Duration::days(28)).to_rfc3339();
    store
        .raw_execute(&format!(
            "UPDATE customers SET created_at = '{past}', owner_since = '{past}' WHERE id = {idle}"
        ))
        .await
        .unwrap();
    let now = Utc::now();
    let added = run_rules(&store, now).await.unwrap();
    assert_eq!(added, 1);
    let tasks = all_tasks(&store).await;
    assert_eq!(tasks.len(), 1, "{tasks:?}");
    let t = &tasks[0];
    assert_eq!(t.source, "reclaim");
    assert_eq!(t.assignee_id, user.id);
    assert_eq!(t.customer_id, Some(idle));
    assert_eq!(t.kind, TaskKind::Call);
    assert_eq!(t.created_by, "rules");
    // Due before the day the customer goes back to the pool, and not in the past.
    let today = now.date_naive();
    assert!(t.due_at.date_naive() >= today, "{t:?}");
    assert!(
        t.due_at.date_naive() < today + Days::new(patron_app::tasks::RECLAIM_WARNING_DAYS),
        "{t:?}"
    );
    assert!(!tasks.iter().any(|t| t.customer_id == Some(busy)));
    // The second run adds nothing.
    assert_eq!(run_rules(&store, Utc::now()).await.unwrap(), 0);
    assert_eq!(all_tasks(&store).await.len(), 1);
}

async fn an_overdue_invoice_makes_a_task(store: Store) {
    let (user, _) = rep(&store, "collecting-rep").await;
    let c = customer(&store, "Late Payer", user.id).await;
    let today = Utc::now().date_naive();
    let invoice = store
        .create_invoice(
            c,
            InvoiceInput {
                number: Some("INV-LATE-1".into()),
                order_ref: None,
                issued_on: today - Days::new(60),
                due_on: today - Days::new(30),
                amount: Money(120_000),
                instalments: Vec::new(),
            },
        )
        .await
        .unwrap();
    assert_eq!(run_rules(&store, Utc::now()).await.unwrap(), 1);
    let tasks = all_tasks(&store).await;
    assert_eq!(tasks.len(), 1, "{tasks:?}");
    let t = &tasks[0];
    assert_eq!(t.source, "invoice_overdue");
    assert_eq!(t.assignee_id, user.id);
    assert_eq!(t.customer_id, Some(c));
    assert!(t.note.contains(&invoice.number), "{}", t.note);
    assert_eq!(run_rules(&store, Utc::now()).await.unwrap(), 0);
    assert_eq!(all_tasks(&store).await.len(), 1);
}
