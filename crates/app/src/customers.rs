//! Customers as users name them.

use patron_store::{Store, StoreError};

use crate::Session;

/// The customer a user means by `text` in a "customer" field: its customer number (what
/// users see on cards, lists and invoices), or `#<id>` for the internal id. Digits are a
/// number, never an id, so that number 21739 cannot land on the customer whose id is 21739.
/// A customer outside the caller's scope is `NotFound`, like a missing one.
pub async fn resolve_reference(
    store: &Store,
    session: &Session,
    text: &str,
    write: bool,
) -> Result<i64, StoreError> {
    let text = text.trim();
    let id = match text.strip_prefix('#').map(str::parse::<i64>) {
        Some(Ok(id)) if id > 0 => store.customer(id).await?.id,
        Some(_) => return Err(StoreError::not_found("customer", text)),
        None => store.customer_by_number(text).await?.id,
    };
    session.check(store, id, write).await?;
    Ok(id)
}

/// Records an interaction on customer `id` as the caller: the caller must be able to change
/// the customer, the interaction's author (`by`) is always the caller (whatever the input
/// says), and the audit row names it.
pub async fn record_interaction(
    store: &Store,
    session: &Session,
    id: i64,
    input: patron_domain::InteractionInput,
) -> Result<patron_domain::Interaction, crate::AppError> {
    session.guard(store, id, true).await?;
    // The input's own rules first (a `by` given is still checked), then the author is the
    // caller, whatever the input says.
    let mut input = input.validate().map_err(StoreError::Invalid)?;
    input.by = Some(session.user.username.clone());
    // The interaction and its audit row are one transaction.
    let audited = session.audited(store, "update", Some(id), "interaction {id} created");
    let i = audited.create_interaction(id, input).await?;
    audited.finish_audit().await?;
    Ok(i)
}

/// Adds a contact person to customer `id` (which the caller may change); audited in the same
/// transaction. `via` ends the audit detail (`" (web)"`, or empty).
pub async fn add_contact(
    store: &Store,
    session: &Session,
    id: i64,
    input: patron_domain::ContactInput,
    via: &str,
) -> Result<patron_domain::Contact, crate::AppError> {
    session.guard(store, id, true).await?;
    let audited = session.audited(
        store,
        "update",
        Some(id),
        format!("contact {{id}} created{via}"),
    );
    let c = audited.create_contact(id, input).await?;
    audited.finish_audit().await?;
    Ok(c)
}

/// Replaces contact person `contact_id` of customer `id`; audited in the same transaction.
pub async fn change_contact(
    store: &Store,
    session: &Session,
    id: i64,
    contact_id: i64,
    input: patron_domain::ContactInput,
    via: &str,
) -> Result<patron_domain::Contact, crate::AppError> {
    session.guard(store, id, true).await?;
    let audited = session.audited(
        store,
        "update",
        Some(id),
        format!("contact {contact_id} replaced{via}"),
    );
    let c = audited.update_contact(id, contact_id, input).await?;
    audited.finish_audit().await?;
    Ok(c)
}

/// Removes contact person `contact_id` of customer `id`; audited in the same transaction.
pub async fn remove_contact(
    store: &Store,
    session: &Session,
    id: i64,
    contact_id: i64,
    via: &str,
) -> Result<(), crate::AppError> {
    session.guard(store, id, true).await?;
    let audited = session.audited(
        store,
        "update",
        Some(id),
        format!("contact {contact_id} deleted{via}"),
    );
    audited.delete_contact(id, contact_id).await?;
    audited.finish_audit().await?;
    Ok(())
}
