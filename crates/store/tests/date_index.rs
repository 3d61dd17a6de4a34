//! A bulk order load sets the orders' date index aside on SQLite and builds it once at the end;
//! a database left without it (an import killed in between) gets it back when next opened.

use patron_store::testing::fresh_store;
use patron_store::{BackendKind, Store};

#[tokio::test]
async fn set_aside_for_a_bulk_load_and_repaired_on_open() {
    let db = fresh_store(BackendKind::Sqlite).await.expect("SQLite");
    assert!(db.has_order_date_index().await.unwrap());
    // Nothing to add: kept.
    assert!(!db.set_aside_order_date_index(0).await.unwrap());
    assert!(db.has_order_date_index().await.unwrap());
    // An empty table and a load: set aside, then built again.
    assert!(db.set_aside_order_date_index(10).await.unwrap());
    assert!(!db.has_order_date_index().await.unwrap());
    db.restore_order_date_index().await.unwrap();
    assert!(db.has_order_date_index().await.unwrap());
    db.restore_order_date_index().await.unwrap();

    // More lines there than coming: kept.
    db.raw_execute(
        "INSERT INTO customers (number, name, status, loyalty, created_at, updated_at) \
         VALUES ('C1', 'One', 'won', 'none', '2026-01-01', '2026-01-01')",
    )
    .await
    .unwrap();
    for i in 0..5 {
        db.raw_execute(&format!(
            "INSERT INTO order_lines (customer_id, order_ref, line_no, ordered_on, category, quantity, amount_cents, cost_cents) \
             VALUES (1, 'O{i}', 1, '2024-01-0{}', 'x', 1, 100, 50)",
            i + 1
        ))
        .await
        .unwrap();
    }
    assert!(!db.set_aside_order_date_index(4).await.unwrap());
    assert!(db.has_order_date_index().await.unwrap());

    // Set aside and the process gone before the rebuild: the next open builds it.
    assert!(db.set_aside_order_date_index(5).await.unwrap());
    let url = db.url().to_string();
    db.close().await;
    let again = Store::connect(&url).await.unwrap();
    assert!(again.has_order_date_index().await.unwrap());
    again.close().await;
    db.discard().await;
}

#[tokio::test]
async fn postgres_keeps_its_indexes() {
    let Some(db) = fresh_store(BackendKind::Postgres).await else {
        return;
    };
    assert!(db.has_order_date_index().await.unwrap());
    assert!(!db.set_aside_order_date_index(1_000).await.unwrap());
    assert!(db.has_order_date_index().await.unwrap());
    db.discard().await;
}
