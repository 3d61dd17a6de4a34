//! Orders as a session records them: the caller must be able to change the customer, the audit
//! row names the order, and the customer's value figures follow the change at once
//! ([`crate::value::recompute_after_change`]).

use patron_domain::{Order, OrderInput};
use patron_store::Store;

use crate::{AppError, Session};

/// Records an order of customer `id` (the store's credit rule applies), audited; then
/// recomputes the customer's value figures.
pub async fn create_order(
    store: &Store,
    session: &Session,
    id: i64,
    input: OrderInput,
) -> Result<Order, AppError> {
    session.guard(store, id, true).await?;
    let o = store.create_order(id, input).await?;
    let detail = format!("order {} created", o.order_ref);
    session
        .audit(store, "update", Some(id), Some(&detail), None)
        .await?;
    crate::value::recompute_after_change(store, &[id]).await;
    Ok(o)
}

/// Replaces order `order_ref` of customer `id` (date and lines), audited in the same
/// transaction; then recomputes the customer's value figures.
pub async fn replace_order(
    store: &Store,
    session: &Session,
    id: i64,
    order_ref: &str,
    input: OrderInput,
) -> Result<Order, AppError> {
    session.guard(store, id, true).await?;
    let audited = session.audited(
        store,
        "update",
        Some(id),
        format!("order {order_ref} replaced"),
    );
    let o = audited.update_order(id, order_ref, input).await?;
    audited.finish_audit().await?;
    crate::value::recompute_after_change(store, &[id]).await;
    Ok(o)
}

/// Deletes order `order_ref` of customer `id`, audited in the same transaction; then
/// recomputes the customer's value figures.
pub async fn delete_order(
    store: &Store,
    session: &Session,
    id: i64,
    order_ref: &str,
) -> Result<(), AppError> {
    session.guard(store, id, true).await?;
    let audited = session.audited(
        store,
        "update",
        Some(id),
        format!("order {order_ref} deleted"),
    );
    audited.delete_order(id, order_ref).await?;
    audited.finish_audit().await?;
    crate::value::recompute_after_change(store, &[id]).await;
    Ok(())
}
