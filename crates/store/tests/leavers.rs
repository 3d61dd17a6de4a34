//! A leaver: once disabled, a user receives nothing (customer, lead, ticket, task) by any path;
//! handing all their work over moves every open item (customers with their opportunities, open
//! leads, open tickets, open tasks) in one transaction, with its audit rows, and a failure midway
//! moves nothing.

use chrono::{Duration, Utc};
use patron_domain::service::{Priority, TicketInput, TicketKind};
use patron_domain::task::{TaskInput, TaskKind};
use patron_domain::{CustomerInput, CustomerPatch, Money};
use patron_store::{
    backend_tests, Actor, AuditFilter, BackendKind, LeadInput, LeadStatusChange, NewUser,
    OpportunityInput, Role, RuleTask, Store, StoreError, TaskChange, TaskFilter,
};

backend_tests!(
    a_leavers_work_moves_and_nothing_new_reaches_them,
    no_path_gives_a_disabled_user_anything,
    a_failed_handover_moves_nothing,
);

fn ticket(assignee: Option<i64>) -> TicketInput {
    TicketInput {
        kind: TicketKind::Question,
        priority: Priority::Normal,
        subject: "Where is my order?".into(),
        body: None,
        by: None,
        assignee_id: assignee,
    }
}

fn task(customer: Option<i64>) -> TaskInput {
    TaskInput {
        customer_id: customer,
        assignee_id: None,
        kind: TaskKind::Call,
        due_at: Utc::now() + Duration::days(2),
        note: "Call back about the order".into(),
    }
}

async fn users(store: &Store, names: &[&str]) -> Vec<i64> {
    let mut ids = Vec::new();
    for name in names {
        ids.push(
            store
                .create_user(&NewUser {
                    username: (*name).into(),
                    role: Some(Role::Rep),
                    ..Default::default()
                })
                .await
                .unwrap()
                .id,
        );
    }
    ids
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

/// Rows matching `filter` in `table` (an UPDATE that changes nothing counts them on both
/// backends).
async fn count(store: &Store, table: &str, col: &str, filter: &str) -> u64 {
    store
        .raw_execute(&format!("UPDATE {table} SET {col} = {col} WHERE {filter}"))
        .await
        .unwrap()
}

/// Everything open that user `u` holds: customers, open opportunities of their customers, open
/// leads, open tickets, open tasks.
async fn open_items(store: &Store, u: i64) -> [u64; 5] {
    [
        count(store, "customers", "version", &format!("owner_id = {u}")).await,
        count(
            store,
            "opportunities",
            "stage",
            &format!("stage NOT IN ('won', 'lost') AND customer_id IN (SELECT id FROM customers WHERE owner_id = {u})"),
        )
        .await,
        count(
            store,
            "leads",
            "status",
            &format!("owner_id = {u} AND status NOT IN ('converted', 'disqualified')"),
        )
        .await,
        count(
            store,
            "tickets",
            "status",
            &format!("assignee_id = {u} AND status = 'open'"),
        )
        .await,
        // (Read, not counted by an UPDATE: the failure test makes updates of tasks fail.)
        store
            .tasks(&TaskFilter {
                assignee_id: Some(u),
                open: Some(true),
                ..TaskFilter::default()
            })
            .await
            .unwrap()
            .len() as u64,
    ]
}

async fn a_leavers_work_moves_and_nothing_new_reaches_them(store: Store) {
    let ids = users(&store, &["ann", "bob"]).await;
    let (ann, bob) = (ids[0], ids[1]);
    let c = customer(&store, "Ann's Customer", Some(ann)).await;
    let c2 = customer(&store, "Ann's Other Customer", Some(ann)).await;
    let lead = store
        .create_lead(LeadInput {
            name: "Ann's Lead".into(),
            owner_id: Some(ann),
            ..Default::default()
        })
        .await
        .unwrap();
    let lost = store
        .create_lead(LeadInput {
            name: "Ann's Lost Lead".into(),
            owner_id: Some(ann),
            ..Default::default()
        })
        .await
        .unwrap();
    store
        .set_lead_status(
            lost.id,
            &LeadStatusChange {
                status: "disqualified".into(),
                reason: Some("no budget".into()),
            },
        )
        .await
        .unwrap();
    let t = store
        .open_ticket(c, ticket(Some(ann)), Utc::now())
        .await
        .unwrap();
    store
        .create_opportunity(
            c2,
            OpportunityInput {
                name: "Spring order".into(),
                stage: None,
                amount: Money(50_000),
                probability: None,
                expected_close: Utc::now().date_naive() + Duration::days(30),
            },
        )
        .await
        .unwrap();
    let follow_up = store
        .create_task(task(Some(c2)), ann, "ann", "manual")
        .await
        .unwrap();
    let done = store
        .create_task(task(None), ann, "ann", "manual")
        .await
        .unwrap();
    store.change_task(done.id, &TaskChange::Done).await.unwrap();
    assert_eq!(open_items(&store, ann).await, [2, 1, 1, 1, 1]);
    store.set_disabled(ann, true).await.unwrap();
    // Nothing new reaches a disabled user.
    assert!(matches!(
        store.assign_lead(lead.id, Some(ann)).await,
        Err(StoreError::Invalid(e)) if e[0].message.contains("disabled")
    ));
    assert!(matches!(
        store.open_ticket(c, ticket(Some(ann)), Utc::now()).await,
        Err(StoreError::Invalid(e)) if e[0].field == "assignee_id"
    ));
    // Handing everything over moves the customers (with the opportunity), the open lead, the
    // open ticket and the open task; what is closed stays as it was.
    let admin = Actor::system("admin");
    let moved = store.handover(ann, bob, None, &admin).await.unwrap();
    assert_eq!(moved, vec![c, c2]);
    assert_eq!(open_items(&store, ann).await, [0; 5]);
    assert_eq!(open_items(&store, bob).await, [2, 1, 1, 1, 1]);
    assert_eq!(store.lead(lead.id).await.unwrap().owner_id, Some(bob));
    assert_eq!(store.lead(lost.id).await.unwrap().owner_id, Some(ann));
    let t = store.ticket(c, t.id, Utc::now()).await.unwrap();
    assert_eq!(t.assignee_id, Some(bob));
    assert_eq!(
        store.task(follow_up.id).await.unwrap().assignee_id,
        bob,
        "the pending follow-up goes along"
    );
    assert_eq!(store.task(done.id).await.unwrap().assignee_id, ann);
    let rows = store
        .audit_log(&AuditFilter {
            action: Some("handover".into()),
            limit: 10,
            ..AuditFilter::default()
        })
        .await
        .unwrap();
    assert_eq!(
        rows.len(),
        3,
        "one per customer and one for the rest: {rows:?}"
    );
    assert!(
        rows.iter().any(|r| r.detail.as_deref().unwrap_or("")
            == "1 open leads, 1 open tickets and 1 open tasks handed over from ann to bob"),
        "{rows:?}"
    );
    // The moves share one time: they were one transaction.
    assert!(rows.windows(2).all(|w| w[0].at == w[1].at), "{rows:?}");
    // Each customer's change of owner is in the ownership history.
    assert_eq!(
        count(
            &store,
            "ownership_history",
            "why",
            &format!("from_owner = {ann} AND to_owner = {bob} AND by_name = 'admin' AND why LIKE 'handover%'")
        )
        .await,
        2
    );
    // Handing over to oneself, or to a disabled user, is refused.
    assert!(matches!(
        store.handover(bob, bob, None, &admin).await,
        Err(StoreError::Invalid(e)) if e[0].field == "to"
    ));
    assert!(matches!(
        store.handover(bob, ann, None, &admin).await,
        Err(StoreError::Invalid(e)) if e[0].field == "to" && e[0].message.contains("disabled")
    ));
    assert_eq!(open_items(&store, bob).await, [2, 1, 1, 1, 1]);
}

/// Every path that gives a customer, lead, ticket or task to a user refuses a disabled one.
async fn no_path_gives_a_disabled_user_anything(store: Store) {
    let ids = users(&store, &["cid", "dan"]).await;
    let (cid, dan) = (ids[0], ids[1]);
    let mine = customer(&store, "Dan's", Some(dan)).await;
    let pooled = customer(&store, "Pooled", None).await;
    let dans_task = store
        .create_task(task(Some(mine)), dan, "dan", "manual")
        .await
        .unwrap();
    // Cid leaves while still holding a customer.
    let kept = customer(&store, "Cid's", Some(cid)).await;
    store.set_disabled(cid, true).await.unwrap();
    let disabled = |r: Result<_, StoreError>, field: &str| match r {
        Err(StoreError::Invalid(e)) => {
            assert_eq!(e[0].field, field, "{e:?}");
            assert!(e[0].message.contains("disabled"), "{e:?}");
        }
        other => panic!("expected a refusal on {field}, got {:?}", other.map(|_| ())),
    };
    disabled(
        store
            .create_customer(
                CustomerInput {
                    name: "New".into(),
                    owner_id: Some(cid),
                    ..CustomerInput::default()
                },
                "t",
            )
            .await
            .map(|_| ()),
        "owner_id",
    );
    let mut patch = CustomerPatch::new();
    patch.insert("owner_id".into(), cid.into());
    disabled(
        store
            .update_customer(mine, &patch, None, "t")
            .await
            .map(|_| ()),
        "owner_id",
    );
    disabled(
        store
            .claim(pooled, cid, &Actor::system("t"))
            .await
            .map(|_| ()),
        "user_id",
    );
    disabled(
        store
            .create_task(task(Some(mine)), cid, "t", "manual")
            .await
            .map(|_| ()),
        "assignee_id",
    );
    disabled(
        store
            .change_task(dans_task.id, &TaskChange::Reassign(cid))
            .await
            .map(|_| ()),
        "assignee_id",
    );
    disabled(
        store
            .create_lead(LeadInput {
                name: "Lead".into(),
                owner_id: Some(cid),
                ..Default::default()
            })
            .await
            .map(|_| ()),
        "owner_id",
    );
    disabled(
        store
            .open_ticket(mine, ticket(Some(cid)), Utc::now())
            .await
            .map(|_| ()),
        "assignee_id",
    );
    // The rules make no task for a leaver (and still do for others).
    let rule = |key: &str, assignee: i64| RuleTask {
        rule_key: key.into(),
        source: "reclaim",
        customer_id: Some(kept),
        assignee_id: assignee,
        kind: TaskKind::Call,
        due_at: Utc::now(),
        note: "Call before the customer returns to the pool".into(),
    };
    assert_eq!(
        store
            .add_rule_tasks(&[rule("r:cid", cid), rule("r:dan", dan)])
            .await
            .unwrap(),
        1
    );
    assert_eq!(open_items(&store, cid).await, [1, 0, 0, 0, 0]);
    // A customer the leaver still holds may be edited (the owner does not change).
    let mut patch = CustomerPatch::new();
    patch.insert("region".into(), "North".into());
    store
        .update_customer(kept, &patch, None, "t")
        .await
        .unwrap();
    // Nothing changed hands.
    assert_eq!(store.customer(mine).await.unwrap().data.owner_id, Some(dan));
    assert_eq!(store.customer(pooled).await.unwrap().data.owner_id, None);
    assert_eq!(store.task(dans_task.id).await.unwrap().assignee_id, dan);
}

/// The hand-over is one transaction: when its last step fails, no customer, lead or ticket has
/// moved, and neither history, ownership history nor audit log holds a row of it.
async fn a_failed_handover_moves_nothing(store: Store) {
    let ids = users(&store, &["eve", "fay"]).await;
    let (eve, fay) = (ids[0], ids[1]);
    for i in 0..3 {
        customer(&store, &format!("Eve's {i}"), Some(eve)).await;
    }
    let c = customer(&store, "Eve's ticket customer", Some(eve)).await;
    store
        .create_lead(LeadInput {
            name: "Eve's Lead".into(),
            owner_id: Some(eve),
            ..Default::default()
        })
        .await
        .unwrap();
    store
        .open_ticket(c, ticket(Some(eve)), Utc::now())
        .await
        .unwrap();
    store
        .create_task(task(Some(c)), eve, "eve", "manual")
        .await
        .unwrap();
    store.set_disabled(eve, true).await.unwrap();
    let before = open_items(&store, eve).await;
    assert_eq!(before, [4, 0, 1, 1, 1]);
    // The tasks are moved last: make that step fail.
    match store.kind() {
        BackendKind::Sqlite => {
            store
                .raw_execute("CREATE TRIGGER refuse BEFORE UPDATE ON tasks BEGIN SELECT RAISE(ABORT, 'refused by the test'); END")
                .await
                .unwrap();
        }
        BackendKind::Postgres => {
            store
                .raw_execute("CREATE FUNCTION refuse() RETURNS trigger AS $$ BEGIN RAISE EXCEPTION 'refused by the test'; END $$ LANGUAGE plpgsql")
                .await
                .unwrap();
            store
                .raw_execute("CREATE TRIGGER refuse BEFORE UPDATE ON tasks FOR EACH ROW EXECUTE FUNCTION refuse()")
                .await
                .unwrap();
        }
    }
    let e = store
        .handover(eve, fay, None, &Actor::system("admin"))
        .await
        .unwrap_err();
    assert!(e.to_string().contains("refused by the test"), "{e}");
    assert_eq!(open_items(&store, eve).await, before);
    assert_eq!(open_items(&store, fay).await, [0; 5]);
    assert_eq!(
        count(&store, "customer_history", "field", "field = 'owner_id'").await,
        0
    );
    assert_eq!(count(&store, "ownership_history", "why", "1 = 1").await, 0);
    let rows = store
        .audit_log(&AuditFilter {
            action: Some("handover".into()),
            limit: 10,
            ..AuditFilter::default()
        })
        .await
        .unwrap();
    assert!(rows.is_empty(), "{rows:?}");
    // Once the obstacle is gone, everything moves.
    match store.kind() {
        BackendKind::Sqlite => store.raw_execute("DROP TRIGGER refuse").await.unwrap(),
        BackendKind::Postgres => store
            .raw_execute("DROP TRIGGER refuse ON tasks")
            .await
            .unwrap(),
    };
    store
        .handover(eve, fay, None, &Actor::system("admin"))
        .await
        .unwrap();
    assert_eq!(open_items(&store, eve).await, [0; 5]);
    assert_eq!(open_items(&store, fay).await, before);
}
