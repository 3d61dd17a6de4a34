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

/// Records an interaction on customer `id`: the caller must be able to change the customer.
/// Its author (`by`) is the caller; naming someone else is refused (403) unless the caller's
/// role may record for others ([`Action::RecordForOthers`](crate::Action::RecordForOthers)).
/// The audit row names the caller.
pub async fn record_interaction(
    store: &Store,
    session: &Session,
    id: i64,
    input: patron_domain::InteractionInput,
) -> Result<patron_domain::Interaction, crate::AppError> {
    session.guard(store, id, true).await?;
    // The input's own rules first (a `by` given is still checked), then whose name it bears.
    let mut input = input.validate().map_err(StoreError::Invalid)?;
    input.by = Some(author(session, input.by.take())?);
    // The interaction and its audit row are one transaction.
    let audited = session.audited(store, "update", Some(id), "interaction {id} created");
    let i = audited.create_interaction(id, input).await?;
    audited.finish_audit().await?;
    crate::value::recompute_after_change(store, &[id]).await;
    Ok(i)
}

/// Replaces interaction `interaction_id` of customer `id` (which the caller may change), with
/// the same rule for its author as [`record_interaction`]; audited in the same transaction.
pub async fn replace_interaction(
    store: &Store,
    session: &Session,
    id: i64,
    interaction_id: i64,
    input: patron_domain::InteractionInput,
) -> Result<patron_domain::Interaction, crate::AppError> {
    session.guard(store, id, true).await?;
    store.interaction(id, interaction_id).await?;
    let mut input = input;
    input.by = Some(author(session, input.by.take())?);
    let audited = session.audited(
        store,
        "update",
        Some(id),
        format!("interaction {interaction_id} replaced"),
    );
    let i = audited
        .update_interaction(id, interaction_id, input)
        .await?;
    audited.finish_audit().await?;
    crate::value::recompute_after_change(store, &[id]).await;
    Ok(i)
}

/// Whose name an interaction bears: the caller's, unless `by` names someone else and the
/// caller's role may record for others.
fn author(session: &Session, by: Option<String>) -> Result<String, crate::AppError> {
    let me = &session.user.username;
    match by.map(|b| b.trim().to_string()).filter(|b| !b.is_empty()) {
        None => Ok(me.clone()),
        Some(b) if &b == me => Ok(b),
        Some(b) if session.may(crate::Action::RecordForOthers) => Ok(b),
        Some(b) => Err(crate::AppError::Forbidden(format!(
            "by: you may record interactions in your own name only, not as '{}'; leave `by` out (it is you)",
            patron_domain::excerpt(&b)
        ))),
    }
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

/// Archives customer `id` (what a user's "delete" does): it disappears from every list, search,
/// picker, the pool and the plans, but keeps everything recorded about it (its orders still
/// count in the value figures, campaign returns and totals) and can be restored. Open to the
/// roles the permission table lets [`Action::Archive`](crate::Action::Archive), on customers
/// the caller may change (reps: their own); audited in the same transaction. `via` ends the
/// audit detail (`" (web)"`, or empty).
pub async fn archive_customer(
    store: &Store,
    session: &Session,
    id: i64,
    via: &str,
) -> Result<patron_domain::Customer, crate::AppError> {
    session.require(crate::Action::Archive)?;
    session.guard(store, id, true).await?;
    let audited = session.audited(store, "archive", Some(id), format!("archived{via}"));
    let c = audited.archive_customer(id, &session.actor.name).await?;
    audited.finish_audit().await?;
    Ok(c)
}

/// Restores archived customer `id` to the lists (same gate as archiving); audited in the same
/// transaction.
pub async fn restore_customer(
    store: &Store,
    session: &Session,
    id: i64,
    via: &str,
) -> Result<patron_domain::Customer, crate::AppError> {
    session.require(crate::Action::Archive)?;
    session.guard(store, id, true).await?;
    let audited = session.audited(store, "restore", Some(id), format!("restored{via}"));
    let c = audited.restore_customer(id, &session.actor.name).await?;
    audited.finish_audit().await?;
    Ok(c)
}

/// The longest purge reason kept in the audit log.
pub const PURGE_REASON_MAX: usize = 500;

/// Purges customer `id` for good: the customer and everything recorded about it are deleted
/// (see [`Store::delete_customer`]; refused with 409 while it owes money). For a data subject's
/// erasure request only: administrators only ([`Action::Purge`](crate::Action::Purge)), with a
/// `reason` (1 to [`PURGE_REASON_MAX`] characters, not blank) that the audit row
/// written in the same transaction keeps.
pub async fn purge_customer(
    store: &Store,
    session: &Session,
    id: i64,
    reason: &str,
    via: &str,
) -> Result<(), crate::AppError> {
    session.require(crate::Action::Purge)?;
    let reason = purge_reason(reason)?;
    session.guard(store, id, true).await?;
    let audited = session.audited(
        store,
        "purge",
        Some(id),
        format!("purged{via}; reason: {reason}"),
    );
    audited.delete_customer(id).await?;
    audited.finish_audit().await?;
    Ok(())
}

/// The reason of a purge, trimmed; [`StoreError::Invalid`] naming `reason` when it is blank or
/// too long.
pub fn purge_reason(reason: &str) -> Result<String, StoreError> {
    let r = reason.trim();
    if r.is_empty() {
        return Err(StoreError::invalid(
            "reason",
            "say why the customer is purged (e.g. the erasure request it answers)",
        ));
    }
    if r.chars().count() > PURGE_REASON_MAX {
        return Err(StoreError::invalid(
            "reason",
            format!("at most {PURGE_REASON_MAX} characters"),
        ));
    }
    Ok(r.to_string())
}

/// A page of the customers the caller sees (merged and archived ones left out). With
/// `filter.archived`, the archived ones instead, for the roles that may restore them.
pub async fn list_customers(
    store: &Store,
    session: &Session,
    filter: &patron_store::CustomerFilter,
    sort: patron_store::CustomerSort,
    page: &patron_store::PageRequest,
) -> Result<patron_store::Page<patron_domain::Customer>, crate::AppError> {
    session.require_records()?;
    if filter.archived {
        session.require(crate::Action::Archive)?;
    }
    let listed = store
        .list_visible_customers(filter, &session.visible, sort, page)
        .await?;
    // One list page (a search when it has a search text) for the unusual-access alerts.
    let searched = filter.q.as_deref().is_some_and(|q| !q.trim().is_empty());
    crate::access::track(store, session, "list", searched.then_some("search"), 1).await?;
    Ok(listed)
}

/// Opens customer `id`'s card (any view of one customer's record as a whole): the caller
/// must see records and the customer (else "not found", like a missing one). Audited as a
/// `view` (`detail` says where) and counted for the unusual-access alerts (also as a card of
/// a customer the caller does not own, when so).
pub async fn open_card(
    store: &Store,
    session: &Session,
    id: i64,
    detail: Option<&str>,
) -> Result<(), crate::AppError> {
    session.require_records()?;
    let owner = store.customer_owner(id).await?;
    if !session.visible.allows(owner, false) {
        return Err(StoreError::not_found("customer", id).into());
    }
    session.audit(store, "view", Some(id), detail, None).await?;
    let foreign = owner != Some(session.user.id);
    crate::access::track(store, session, "view", foreign.then_some("foreign"), 1).await?;
    Ok(())
}

/// The customer list's filter as the caller's list page uses it: a rep's list shows the
/// customers they own (the unclaimed pool customers their scope may read stay on the pool
/// page), unless the filter already names an owner. Other roles keep the filter as it is.
pub fn list_filter(
    session: &Session,
    mut filter: patron_store::CustomerFilter,
) -> patron_store::CustomerFilter {
    if session.user.role == patron_store::Role::Rep && filter.owner_id.is_none() {
        filter.owned = true;
    }
    filter
}

/// How many customers [`list_customers`] lists with this filter, counted up to `cap + 1`
/// (more than `cap` means "more than `cap`"); same gates as the list.
pub async fn count_customers(
    store: &Store,
    session: &Session,
    filter: &patron_store::CustomerFilter,
    sort: patron_store::CustomerSort,
    cap: i64,
) -> Result<i64, crate::AppError> {
    session.require_records()?;
    if filter.archived {
        session.require(crate::Action::Archive)?;
    }
    Ok(store
        .count_visible_customers(filter, &session.visible, sort, cap)
        .await?)
}

/// Records the download of a filtered customer list (`detail`: the filter as a query string)
/// with the number of rows written: one `export` audit row as the caller.
pub async fn record_list_export(
    store: &Store,
    session: &Session,
    detail: &str,
    rows: i64,
) -> Result<(), crate::AppError> {
    session.require_records()?;
    let detail = format!("customer list (web) {detail}");
    session
        .audit(store, "export", None, Some(detail.trim_end()), Some(rows))
        .await?;
    Ok(())
}
