//! Archiving customers (what a user's "delete" does), on both backends: an archived customer
//! leaves every list, search, picker, the pool, the pipeline and the referral list, keeps every
//! order (campaign revenue unchanged) and its history, is still read by id, and comes back on
//! restore. A purge (the real delete) is what removes it.

use patron_domain::{CustomerInput, Money, OrderInput, OrderLineInput};
use patron_store::{
    backend_tests, CampaignInput, CustomerFilter, CustomerSort, OpportunityInput, PageRequest,
    Store, StoreError, Visibility,
};

backend_tests!(
    archived_customers_leave_the_lists_and_keep_their_orders,
    a_purge_removes_the_tasks_and_mail_of_the_customer,
);

/// A purge (a data-subject request) removes what refers to the customer, tasks and queued
/// mail included (tasks reference the customer: without this the purge failed on the foreign
/// key).
async fn a_purge_removes_the_tasks_and_mail_of_the_customer(store: Store) {
    let rep = store
        .create_user(&patron_store::NewUser {
            username: "rita".into(),
            role: Some(patron_store::Role::Rep),
            ..Default::default()
        })
        .await
        .unwrap()
        .id;
    let c = store
        .create_customer(
            CustomerInput {
                name: "Gone Ltd".into(),
                email: Some("gone@example.com".into()),
                owner_id: Some(rep),
                ..CustomerInput::default()
            },
            "test",
        )
        .await
        .unwrap()
        .id;
    let task = patron_domain::task::TaskInput {
        customer_id: Some(c),
        assignee_id: None,
        kind: patron_domain::task::TaskKind::Call,
        due_at: chrono::Utc::now() + chrono::Duration::days(1),
        note: "Call back".into(),
    };
    store
        .create_task(task, rep, "rita", "manual")
        .await
        .unwrap();
    let mail = patron_store::NewMail {
        message_key: format!("test:{c}"),
        customer_id: Some(c),
        recipient: "gone@example.com".into(),
        kind: "campaign".into(),
        subject: "Hello".into(),
        body_text: "Hello".into(),
        body_html: None,
        headers: Default::default(),
    };
    assert_eq!(store.enqueue_mail(&[mail], "test").await.unwrap(), 1);
    store.delete_customer(c).await.unwrap();
    assert!(matches!(
        store.customer(c).await,
        Err(StoreError::NotFound { .. })
    ));
}

fn order(day: &str, cents: i64) -> OrderInput {
    OrderInput {
        order_ref: None,
        ordered_on: day.parse().unwrap(),
        lines: vec![OrderLineInput {
            category: None,
            quantity: 1,
            amount: Money(cents),
            cost: Money(cents / 2),
        }],
    }
}

async fn listed(store: &Store, filter: CustomerFilter) -> Vec<i64> {
    store
        .list_customers(&filter, CustomerSort::Id, &PageRequest::default())
        .await
        .unwrap()
        .items
        .into_iter()
        .map(|c| c.id)
        .collect()
}

fn search(q: &str) -> CustomerFilter {
    CustomerFilter {
        q: Some(q.into()),
        ..Default::default()
    }
}

async fn archived_customers_leave_the_lists_and_keep_their_orders(store: Store) {
    let referrer = store
        .create_customer(
            CustomerInput {
                name: "Referrer".into(),
                ..Default::default()
            },
            "t",
        )
        .await
        .unwrap()
        .id;
    // A pool customer (no owner) from the Expo campaign, with a twin sharing its phone.
    let c = store
        .create_customer(
            CustomerInput {
                name: "Zanzibar Trading".into(),
                phone: Some("+86 138 0013 8000".into()),
                source: Some("Expo".into()),
                referred_by: Some(referrer),
                ..Default::default()
            },
            "t",
        )
        .await
        .unwrap()
        .id;
    let twin = store
        .create_customer(
            CustomerInput {
                name: "Other".into(),
                phone: Some("+86 138 0013 8000".into()),
                ..Default::default()
            },
            "t",
        )
        .await
        .unwrap()
        .id;
    store
        .create_campaign(CampaignInput {
            name: "Expo".into(),
            channel: None,
            cost: Money(1_000),
            started_on: "2024-01-01".parse().unwrap(),
        })
        .await
        .unwrap();
    for day in ["2024-02-01", "2024-03-01", "2024-04-01"] {
        store.create_order(c, order(day, 1_000_000)).await.unwrap();
    }
    store
        .create_opportunity(
            c,
            OpportunityInput {
                name: "Big deal".into(),
                stage: None,
                amount: Money(500_000),
                probability: None,
                expected_close: "2024-09-30".parse().unwrap(),
            },
        )
        .await
        .unwrap();
    let revenue = |store: Store| async move {
        let k = store.campaigns().await.unwrap();
        (k[0].customers, k[0].buyers, k[0].revenue)
    };
    let before = revenue(store.clone()).await;
    assert_eq!(before, (1, 1, Money(3_000_000)));
    let counts = store.counts().await.unwrap();
    let pool = |store: Store| async move {
        store
            .pool_customers(None, 100)
            .await
            .unwrap()
            .into_iter()
            .map(|p| p.id)
            .collect::<Vec<_>>()
    };
    assert!(pool(store.clone()).await.contains(&c));
    assert_eq!(store.duplicates(None, 100).await.unwrap().len(), 1);
    assert_eq!(
        store.referred_customers(referrer, 10).await.unwrap().len(),
        1
    );
    assert_eq!(
        store
            .all_opportunities(&Visibility::All)
            .await
            .unwrap()
            .len(),
        1
    );

    let a = store.archive_customer(c, "ann").await.unwrap();
    assert!(a.archived_at.is_some());
    assert_eq!(a.archived_by.as_deref(), Some("ann"));
    // Archiving again changes nothing (the first archiving stays on record).
    let again = store.archive_customer(c, "bob").await.unwrap();
    assert_eq!(again.archived_by.as_deref(), Some("ann"));
    assert_eq!(again.version, a.version);

    // Gone from the list, the search (name, number, phone), the pool, the duplicates, the
    // referrals and the pipeline...
    assert_eq!(
        listed(&store, CustomerFilter::default()).await,
        vec![referrer, twin]
    );
    for q in ["zanzibar", a.data.number.as_deref().unwrap(), "13800138000"] {
        assert!(!listed(&store, search(q)).await.contains(&c), "{q}");
    }
    assert!(!pool(store.clone()).await.contains(&c));
    assert!(store.duplicates(None, 100).await.unwrap().is_empty());
    assert!(store
        .referred_customers(referrer, 10)
        .await
        .unwrap()
        .is_empty());
    assert!(store
        .all_opportunities(&Visibility::All)
        .await
        .unwrap()
        .is_empty());
    // ... listed among the archived ones only ...
    let archived = CustomerFilter {
        archived: true,
        ..Default::default()
    };
    assert_eq!(listed(&store, archived.clone()).await, vec![c]);
    assert_eq!(store.archived_ids().await.unwrap().len(), 1);
    // ... but kept whole: read by id, every order, campaign revenue, the history.
    assert_eq!(
        store.customer(c).await.unwrap().archived_by.as_deref(),
        Some("ann")
    );
    assert_eq!(store.counts().await.unwrap(), counts);
    assert_eq!(revenue(store.clone()).await, before);
    let h = store.customer_history(c, 10).await.unwrap();
    assert_eq!(
        (
            h[0].field.as_str(),
            h[0].old_value.as_deref(),
            h[0].new_value.as_deref(),
            h[0].changed_by.as_str()
        ),
        ("archived", Some("no"), Some("yes"), "ann")
    );

    // Restored: back everywhere.
    let r = store.restore_customer(c, "bob").await.unwrap();
    assert_eq!((r.archived_at, r.archived_by), (None, None));
    assert!(listed(&store, search("zanzibar")).await.contains(&c));
    assert!(listed(&store, archived).await.is_empty());
    assert!(pool(store.clone()).await.contains(&c));
    assert_eq!(store.duplicates(None, 100).await.unwrap().len(), 1);
    assert_eq!(
        store.customer_history(c, 1).await.unwrap()[0]
            .new_value
            .as_deref(),
        Some("no")
    );
    assert!(matches!(
        store.archive_customer(c + 1000, "ann").await,
        Err(StoreError::NotFound { .. })
    ));

    // The purge is the real delete.
    store.delete_customer(c).await.unwrap();
    assert!(matches!(
        store.customer(c).await,
        Err(StoreError::NotFound { .. })
    ));
    assert_eq!(revenue(store.clone()).await.2, Money(0));
}
