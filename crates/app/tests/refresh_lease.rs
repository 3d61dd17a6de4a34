//! The population refresh across processes, on both backends: it holds the database lease
//! `value_refresh`, so a refresh waits while another process's refresh holds it, and a change
//! made while any refresh runs is noted in the database for that refresh to recompute after it.

use std::time::Duration;

use chrono::Days;
use patron_app::value::{recompute_after_change, refresh, today, REFRESH_LEASE};
use patron_store::{backend_tests, Store};
use patron_value::AnalysisOptions;
use serde_json::json;

backend_tests!(a_refresh_waits_for_another_process_and_takes_its_changes);

async fn a_refresh_waits_for_another_process_and_takes_its_changes(store: Store) {
    let as_of = today();
    let mut first = 0;
    for k in 0..5u64 {
        let input = serde_json::from_value(json!({ "name": format!("Buyer {k}") })).unwrap();
        let c = store.create_customer(input, "test").await.unwrap().id;
        first = if k == 0 { c } else { first };
        for m in 0..4u64 {
            let day = as_of.checked_sub_days(Days::new(10 + 40 * m + k)).unwrap();
            let order =
                serde_json::from_value(json!({"ordered_on": day, "lines": [{"amount": 50.0}]}))
                    .unwrap();
            store.create_order(c, order).await.unwrap();
        }
    }
    // Another process's refresh holds the lease (a holder name of another process).
    let ttl = Duration::from_secs(60);
    assert!(store
        .try_lease(REFRESH_LEASE, "other-host:1:x#0", ttl)
        .await
        .unwrap());
    // A change here meanwhile is noted for that refresh.
    recompute_after_change(&store, &[first]).await;
    let noted = "UPDATE value_refresh_changes SET customer_id = customer_id";
    assert_eq!(store.raw_execute(noted).await.unwrap(), 1);
    let running = {
        let store = store.clone();
        tokio::spawn(async move { refresh(&store, &AnalysisOptions::default(), as_of).await })
    };
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert!(
        !running.is_finished(),
        "the refresh ran while another process held the lease"
    );
    assert!(store.lease_held(REFRESH_LEASE).await.unwrap());
    store
        .release_lease(REFRESH_LEASE, "other-host:1:x#0")
        .await
        .unwrap();
    let snapshot = tokio::time::timeout(Duration::from_secs(60), running)
        .await
        .expect("the refresh ends once the lease is free")
        .unwrap()
        .unwrap();
    assert!(snapshot.id > 0);
    // It took the noted change (and recomputed it), and gave the lease back.
    assert!(store.take_changes_noted().await.unwrap().is_empty());
    assert!(store.customer_value(first).await.unwrap().is_some());
    assert!(!store.lease_held(REFRESH_LEASE).await.unwrap());
    // Without a refresh running, a change notes nothing.
    recompute_after_change(&store, &[first]).await;
    assert!(store.take_changes_noted().await.unwrap().is_empty());
}
