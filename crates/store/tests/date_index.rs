//! A bulk order load sets the orders' date index aside (on PostgreSQL also their foreign key)
//! and builds it once at the end;
//! a database left without it (an import killed in between) gets it back when next opened.
//! PostgreSQL also sets aside the customers' secondary indexes for a bulk creation of customers.

use patron_store::testing::fresh_store;
use patron_store::{BackendKind, ImportOrderLine, Store};

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

/// PostgreSQL sets aside the date index and the order lines' foreign key to customers; the
/// batches check their customers set-based meanwhile, and both come back at the end or on open.
#[tokio::test]
async fn postgres_sets_aside_the_date_index_and_foreign_key() {
    let Some(db) = fresh_store(BackendKind::Postgres).await else {
        return;
    };
    assert!(db.has_order_date_index().await.unwrap());
    assert!(!db.set_aside_order_date_index(0).await.unwrap());
    assert!(db.set_aside_order_date_index(1_000).await.unwrap());
    assert!(!db.has_order_date_index().await.unwrap());
    db.raw_execute(
        "INSERT INTO customers (number, name, status, loyalty, created_at, updated_at) \
         VALUES ('C1', 'One', 'lead', 'none', '2026-01-01', '2026-01-01')",
    )
    .await
    .unwrap();
    let line = |customer_id: i64, order_ref: &str| ImportOrderLine {
        customer_id,
        order_ref: order_ref.into(),
        line_no: 1,
        ordered_on: "2024-01-02".parse().unwrap(),
        category: None,
        quantity: 1,
        amount: patron_domain::Money(100),
        cost: patron_domain::Money(50),
    };
    // An unknown customer still fails the batch without the key, and stores nothing of it.
    assert!(db
        .import_order_lines(&[line(1, "A"), line(999, "B")])
        .await
        .is_err());
    assert_eq!(db.import_order_lines(&[line(1, "A")]).await.unwrap(), 1);
    assert_eq!(db.counts().await.unwrap().1, 1);

    // The process gone before putting them back: the next open does.
    let url = db.url().to_string();
    let again = Store::connect(&url).await.unwrap();
    assert!(again.has_order_date_index().await.unwrap());
    assert!(again
        .raw_execute(
            "INSERT INTO order_lines (customer_id, order_ref, line_no, ordered_on, quantity, amount_cents, cost_cents) \
             VALUES (999, 'X', 1, '2024-01-01', 1, 1, 1)"
        )
        .await
        .is_err());
    again.close().await;

    // Nothing coming: kept; restoring what is in place is a no-op.
    assert!(!db.set_aside_order_date_index(0).await.unwrap());
    db.restore_order_date_index().await.unwrap();
    assert!(db.has_order_date_index().await.unwrap());
    db.discard().await;
}

/// The customers' secondary indexes (not their primary key or unique number) set aside for a
/// creation that at least doubles the table, and built again at the end, or on the next open.
#[tokio::test]
async fn postgres_sets_aside_the_customers_indexes_for_a_bulk_creation() {
    let Some(db) = fresh_store(BackendKind::Postgres).await else {
        return;
    };
    const INDEXES: &str =
        "SELECT COUNT(*) FROM pg_indexes WHERE tablename = 'customers' AND schemaname = current_schema()";
    const ASIDE: &str = "SELECT COUNT(*) FROM set_aside_indexes";
    let all = db.raw_integer(INDEXES).await.unwrap();
    assert!(all > 10, "{all} indexes on customers");
    // SQLite never sets them aside.
    let lite = fresh_store(BackendKind::Sqlite).await.expect("SQLite");
    assert!(!lite.set_aside_customer_indexes(1_000).await.unwrap());
    lite.restore_set_aside_indexes().await.unwrap();
    lite.discard().await;

    assert!(!db.set_aside_customer_indexes(0).await.unwrap());
    assert!(db.set_aside_customer_indexes(1_000).await.unwrap());
    // The primary key, the unique number and the status index (the status rule of orders
    // reads it) remain; the number still refuses a second 'C1'.
    assert_eq!(db.raw_integer(INDEXES).await.unwrap(), 3);
    assert_eq!(db.raw_integer(ASIDE).await.unwrap(), all - 3);
    let insert = "INSERT INTO customers (number, name, status, loyalty, created_at, updated_at) \
         VALUES ('C1', 'One', 'won', 'none', '2026-01-01', '2026-01-01')";
    db.raw_execute(insert).await.unwrap();
    assert!(db.raw_execute(insert).await.is_err());
    // Asked again meanwhile (a second import): nothing more to set aside.
    assert!(!db.set_aside_customer_indexes(1_000).await.unwrap());
    db.restore_set_aside_indexes().await.unwrap();
    assert_eq!(db.raw_integer(INDEXES).await.unwrap(), all);
    assert_eq!(db.raw_integer(ASIDE).await.unwrap(), 0);
    db.restore_set_aside_indexes().await.unwrap();

    // More customers there than coming: kept.
    db.raw_execute(
        "INSERT INTO customers (number, name, status, loyalty, created_at, updated_at) \
         VALUES ('C2', 'Two', 'won', 'none', '2026-01-01', '2026-01-01')",
    )
    .await
    .unwrap();
    assert!(!db.set_aside_customer_indexes(1).await.unwrap());
    assert_eq!(db.raw_integer(INDEXES).await.unwrap(), all);

    // Set aside and the process gone before the rebuild: the next open builds them.
    assert!(db.set_aside_customer_indexes(2).await.unwrap());
    assert_eq!(db.raw_integer(INDEXES).await.unwrap(), 3);
    let again = Store::connect(db.url()).await.unwrap();
    assert_eq!(again.raw_integer(INDEXES).await.unwrap(), all);
    assert_eq!(again.raw_integer(ASIDE).await.unwrap(), 0);
    again.close().await;
    db.discard().await;
}
