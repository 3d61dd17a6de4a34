//! The store's integration suite: every test runs against SQLite and PostgreSQL.

use patron_domain::{
    ContactInput, CustomerInput, InteractionInput, InteractionKind, Money, OrderInput,
    OrderLineInput,
};
use patron_store::{backend_tests, CustomerFilter, CustomerSort, PageRequest, Store, StoreError};
use serde_json::json;

fn customer(name: &str) -> CustomerInput {
    CustomerInput {
        name: name.into(),
        ..Default::default()
    }
}

fn order(day: &str, amount: i64) -> OrderInput {
    OrderInput {
        order_ref: None,
        ordered_on: day.parse().unwrap(),
        lines: vec![OrderLineInput {
            category: Some("cd".into()),
            quantity: 1,
            amount: Money(amount),
            cost: Money(amount / 2),
        }],
    }
}

backend_tests!(
    tag_filter_is_literal,
    create_read_update_with_history,
    optimistic_concurrency,
    keyset_pages_cover_everything,
    duplicates_and_merge,
    orders_and_interactions,
    delete_removes_everything
);

async fn create_read_update_with_history(store: Store) {
    let c = store
        .create_customer(
            CustomerInput {
                phone: Some("+86 138 0013 8000".into()),
                ..customer("Acme")
            },
            "alice",
        )
        .await
        .unwrap();
    assert_eq!(
        c.data.number.as_deref(),
        Some(format!("C{:06}", c.id).as_str())
    );
    assert_eq!(c.version, 1);
    let patch = json!({"status": "won", "credit_limit": 5000.5})
        .as_object()
        .unwrap()
        .clone();
    let u = store
        .update_customer(c.id, &patch, Some(1), "bob")
        .await
        .unwrap();
    assert_eq!(u.version, 2);
    assert_eq!(u.data.credit_limit, Some(Money(500050)));
    let h = store.customer_history(c.id, 100).await.unwrap();
    let fields: Vec<(&str, &str, Option<&str>, Option<&str>)> = h
        .iter()
        .map(|e| {
            (
                e.field.as_str(),
                e.changed_by.as_str(),
                e.old_value.as_deref(),
                e.new_value.as_deref(),
            )
        })
        .collect();
    assert_eq!(
        fields,
        vec![
            ("status", "bob", Some("lead"), Some("won")),
            ("credit_limit", "bob", None, Some("5000.5")),
            ("created", "alice", None, Some("Acme")),
        ]
    );
    // A bad value names the field and changes nothing.
    let bad = json!({"email": "nope"}).as_object().unwrap().clone();
    match store.update_customer(c.id, &bad, None, "bob").await {
        Err(StoreError::Invalid(e)) => assert_eq!(e[0].field, "email"),
        other => panic!("expected invalid, got {other:?}"),
    }
    assert_eq!(store.customer(c.id).await.unwrap().version, 2);
    assert!(matches!(
        store.customer(999_999).await,
        Err(StoreError::NotFound { .. })
    ));
}

async fn optimistic_concurrency(store: Store) {
    let c = store.create_customer(customer("Acme"), "t").await.unwrap();
    let p1 = json!({"region": "North"}).as_object().unwrap().clone();
    let p2 = json!({"region": "South"}).as_object().unwrap().clone();
    store
        .update_customer(c.id, &p1, Some(c.version), "a")
        .await
        .unwrap();
    match store.update_customer(c.id, &p2, Some(c.version), "b").await {
        Err(StoreError::Conflict {
            current_version, ..
        }) => assert_eq!(current_version, Some(2)),
        other => panic!("expected a conflict, got {other:?}"),
    }
    assert_eq!(
        store.customer(c.id).await.unwrap().data.region.as_deref(),
        Some("North")
    );
}

async fn keyset_pages_cover_everything(store: Store) {
    for i in 0..23 {
        let mut c = customer(&format!("Name {:02}", 22 - i));
        c.status = if i % 2 == 0 {
            patron_domain::CustomerStatus::Won
        } else {
            patron_domain::CustomerStatus::Lead
        };
        store.create_customer(c, "t").await.unwrap();
    }
    for sort in [
        CustomerSort::Id,
        CustomerSort::IdDesc,
        CustomerSort::Name,
        CustomerSort::NameDesc,
    ] {
        let mut seen = Vec::new();
        let mut page = PageRequest {
            limit: Some(5),
            after: None,
        };
        loop {
            let p = store
                .list_customers(&CustomerFilter::default(), sort, &page)
                .await
                .unwrap();
            seen.extend(p.items.iter().map(|c| c.data.name.clone()));
            match p.next {
                Some(n) => page.after = Some(n),
                None => break,
            }
        }
        assert_eq!(seen.len(), 23, "{sort:?}");
        let mut sorted = seen.clone();
        sorted.sort();
        if matches!(sort, CustomerSort::Name) {
            assert_eq!(seen, sorted);
        }
        if matches!(sort, CustomerSort::NameDesc) {
            sorted.reverse();
            assert_eq!(seen, sorted);
        }
    }
    let won = store
        .list_customers(
            &CustomerFilter {
                status: Some(patron_domain::CustomerStatus::Won),
                ..Default::default()
            },
            CustomerSort::Id,
            &PageRequest::default(),
        )
        .await
        .unwrap();
    assert_eq!(won.items.len(), 12);
    let q = store
        .list_customers(
            &CustomerFilter {
                q: Some("name 1".into()),
                ..Default::default()
            },
            CustomerSort::Name,
            &PageRequest::default(),
        )
        .await
        .unwrap();
    assert_eq!(q.items.len(), 10);
    assert!(matches!(
        store
            .list_customers(
                &CustomerFilter::default(),
                CustomerSort::Id,
                &PageRequest {
                    limit: None,
                    after: Some("garbage!".into())
                }
            )
            .await,
        Err(StoreError::Invalid(_))
    ));
}

async fn duplicates_and_merge(store: Store) {
    let a = store
        .create_customer(
            CustomerInput {
                phone: Some("138-0013-8000".into()),
                tags: vec!["vip".into()],
                ..customer("Acme Ltd")
            },
            "t",
        )
        .await
        .unwrap();
    let b = store
        .create_customer(
            CustomerInput {
                phone: Some("+86 13800138000".into()),
                email: Some("x@acme.com".into()),
                tags: vec!["north".into()],
                ..customer("ACME limited")
            },
            "t",
        )
        .await
        .unwrap();
    let _other = store
        .create_customer(customer("Globex"), "t")
        .await
        .unwrap();
    let d = store.duplicates(None, 100).await.unwrap();
    assert_eq!(d.len(), 1);
    assert_eq!((d[0].a, d[0].b), (a.id, b.id));
    store
        .create_order(
            a.id,
            OrderInput {
                order_ref: Some("R1".into()),
                ..order("2024-01-01", 1000)
            },
        )
        .await
        .unwrap();
    store
        .create_order(
            b.id,
            OrderInput {
                order_ref: Some("R1".into()),
                ..order("2024-02-01", 2000)
            },
        )
        .await
        .unwrap();
    store
        .create_order(b.id, order("2024-03-01", 3000))
        .await
        .unwrap();
    store
        .create_contact(
            b.id,
            ContactInput {
                name: "Li".into(),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    store
        .create_interaction(
            b.id,
            InteractionInput {
                kind: InteractionKind::Complaint,
                occurred_at: None,
                by: None,
                contact_id: None,
                text: "late".into(),
                external_id: None,
            },
        )
        .await
        .unwrap();
    let m = store.merge_customers(a.id, b.id, "boss").await.unwrap();
    assert_eq!(m.moved_order_lines, 2);
    assert_eq!(m.moved_contacts, 1);
    assert_eq!(m.moved_interactions, 1);
    assert_eq!(m.kept.data.email.as_deref(), Some("x@acme.com"));
    assert_eq!(
        m.kept.data.tags,
        vec!["vip".to_string(), "north".to_string()]
    );
    let orders = store
        .list_orders(
            &patron_store::OrderFilter {
                customer_id: Some(a.id),
                ..Default::default()
            },
            &PageRequest::default(),
        )
        .await
        .unwrap();
    let total: i64 = orders.items.iter().map(|o| o.amount.cents()).sum();
    assert_eq!(total, 6000);
    assert_eq!(orders.items.len(), 3);
    assert!(orders.items.iter().any(|o| o.order_ref.starts_with("R1@")));
    assert_eq!(store.customer(b.id).await.unwrap().merged_into, Some(a.id));
    assert!(store.duplicates(None, 100).await.unwrap().is_empty());
    assert!(matches!(
        store.merge_customers(a.id, b.id, "boss").await,
        Err(StoreError::Conflict { .. })
    ));
    let h = store.customer_history(a.id, 100).await.unwrap();
    assert!(h.iter().any(|e| e.field == "merged_from"));
}

async fn orders_and_interactions(store: Store) {
    let c = store.create_customer(customer("Acme"), "t").await.unwrap();
    let o = store
        .create_order(
            c.id,
            OrderInput {
                order_ref: Some("A-1".into()),
                ordered_on: "2024-05-01".parse().unwrap(),
                lines: vec![
                    OrderLineInput {
                        category: Some("x".into()),
                        quantity: 2,
                        amount: Money(1000),
                        cost: Money(400),
                    },
                    OrderLineInput {
                        category: None,
                        quantity: 1,
                        amount: Money(250),
                        cost: Money(0),
                    },
                ],
            },
        )
        .await
        .unwrap();
    assert_eq!(
        (o.amount, o.cost, o.lines.len()),
        (Money(1250), Money(400), 2)
    );
    assert!(matches!(
        store
            .create_order(
                c.id,
                OrderInput {
                    order_ref: Some("A-1".into()),
                    ..order("2024-05-02", 1)
                }
            )
            .await,
        Err(StoreError::Conflict { .. })
    ));
    assert!(matches!(
        store.create_order(424_242, order("2024-05-02", 1)).await,
        Err(StoreError::NotFound { .. })
    ));
    for d in ["2024-01-01", "2024-02-01", "2024-03-01"] {
        store.create_order(c.id, order(d, 100)).await.unwrap();
    }
    let f = patron_store::OrderFilter {
        from: Some("2024-02-01".parse().unwrap()),
        to: Some("2024-04-01".parse().unwrap()),
        ..Default::default()
    };
    let p = store
        .list_orders(
            &f,
            &PageRequest {
                limit: Some(1),
                after: None,
            },
        )
        .await
        .unwrap();
    assert_eq!(p.items[0].ordered_on.to_string(), "2024-03-01");
    let p2 = store
        .list_orders(
            &f,
            &PageRequest {
                limit: Some(1),
                after: p.next,
            },
        )
        .await
        .unwrap();
    assert_eq!(p2.items[0].ordered_on.to_string(), "2024-02-01");
    assert!(p2.next.is_none());
    let i = store
        .create_interaction(
            c.id,
            InteractionInput {
                kind: InteractionKind::Promise,
                occurred_at: None,
                by: Some("rep".into()),
                contact_id: None,
                text: "call back Monday".into(),
                external_id: Some("x1".into()),
            },
        )
        .await
        .unwrap();
    assert_eq!(
        store.interaction(c.id, i.id).await.unwrap().text,
        "call back Monday"
    );
    let l = store
        .list_interactions(
            Some(c.id),
            Some(InteractionKind::Promise),
            &PageRequest::default(),
        )
        .await
        .unwrap();
    assert_eq!(l.items.len(), 1);
    store.delete_order(c.id, "A-1").await.unwrap();
    assert!(matches!(
        store.order(c.id, "A-1").await,
        Err(StoreError::NotFound { .. })
    ));
}

async fn tag_filter_is_literal(store: Store) {
    for tags in [vec!["50%_off"], vec!["50x off"], vec!["a\\b"], vec!["vip"]] {
        store
            .create_customer(
                CustomerInput {
                    tags: tags.into_iter().map(String::from).collect(),
                    ..customer("T")
                },
                "t",
            )
            .await
            .unwrap();
    }
    for (tag, n) in [("50%_off", 1), ("%", 0), ("a\\b", 1), ("vip", 1), ("v", 0)] {
        let f = CustomerFilter {
            tag: Some(tag.into()),
            ..Default::default()
        };
        let got = store
            .list_customers(&f, CustomerSort::Id, &PageRequest::default())
            .await
            .unwrap()
            .items
            .len();
        assert_eq!(got, n, "tag {tag}");
    }
}

async fn delete_removes_everything(store: Store) {
    let c = store.create_customer(customer("Acme"), "t").await.unwrap();
    store
        .create_order(c.id, order("2024-01-01", 100))
        .await
        .unwrap();
    store
        .create_contact(
            c.id,
            ContactInput {
                name: "Li".into(),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    store.delete_customer(c.id).await.unwrap();
    assert!(matches!(
        store.customer(c.id).await,
        Err(StoreError::NotFound { .. })
    ));
    assert_eq!(store.counts().await.unwrap(), (0, 0, 0));
    assert!(matches!(
        store.delete_customer(c.id).await,
        Err(StoreError::NotFound { .. })
    ));
}
