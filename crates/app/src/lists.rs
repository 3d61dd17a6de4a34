//! The customer list's tools: saved views (per user, shared by managers and admins) and the
//! bulk actions on the customers selected on the list (assign to a user, add a tag, return to
//! the pool).
//! A bulk action checks every customer against the caller's scope first and refuses the whole
//! selection, saying how many are outside it, rather than skipping them silently.

use patron_store::{SavedView, Store, StoreError};

use crate::{Action, AppError, Session};

/// The most customers one bulk action takes (a page of the list holds at most 200).
pub const BULK_MAX: usize = 500;

/// The list's query string as a view keeps it: without a leading `?` and without the page
/// cursor and position (a view opens on its first page).
fn view_query(query: &str) -> String {
    let query = query.trim().trim_start_matches('?');
    let mut s = form_urlencoded::Serializer::new(String::new());
    for (k, v) in form_urlencoded::parse(query.as_bytes()) {
        if k != "after" && k != "at" && !v.is_empty() {
            s.append_pair(&k, &v);
        }
    }
    s.finish()
}

/// Saves the list's current query as a view of the caller's named `name` (the same name again
/// replaces it); `shared` offers it to every user and needs [`Action::ShareViews`].
pub async fn save_view(
    store: &Store,
    session: &Session,
    name: &str,
    query: &str,
    shared: bool,
) -> Result<SavedView, AppError> {
    session.require_records()?;
    if shared {
        session.require(Action::ShareViews)?;
    }
    Ok(store
        .save_view(session.user.id, name, &view_query(query), shared)
        .await?)
}

/// The views the caller may apply: their own and the shared ones.
pub async fn views(store: &Store, session: &Session) -> Result<Vec<SavedView>, AppError> {
    session.require_records()?;
    Ok(store.saved_views_for(session.user.id).await?)
}

/// May the caller delete this view? Its owner and admins may.
pub fn may_delete_view(session: &Session, view: &SavedView) -> bool {
    view.user_id == session.user.id || session.user.is_admin()
}

/// Deletes a saved view: only its owner or an admin (403 for another's shared view; another's
/// private view is "not found", like a missing one).
pub async fn delete_view(store: &Store, session: &Session, id: i64) -> Result<(), AppError> {
    session.require_records()?;
    let view = store.saved_view(id).await?;
    if !may_delete_view(session, &view) {
        if !view.shared {
            return Err(StoreError::not_found("saved view", id).into());
        }
        return Err(AppError::Forbidden(
            "only its owner or an admin deletes a saved view".into(),
        ));
    }
    store.delete_saved_view(id).await?;
    Ok(())
}

/// The selected customers with their owners, when the caller may change every one of them;
/// otherwise 403 saying how many are outside the scope (a missing customer counts as outside:
/// ids say nothing about customers one may not see).
pub(crate) async fn selection(
    store: &Store,
    session: &Session,
    ids: &[i64],
) -> Result<Vec<(i64, Option<i64>)>, AppError> {
    let mut ids = ids.to_vec();
    ids.sort_unstable();
    ids.dedup();
    if ids.is_empty() {
        return Err(StoreError::invalid("ids", "select at least one customer").into());
    }
    if ids.len() > BULK_MAX {
        return Err(StoreError::invalid(
            "ids",
            format!("select at most {BULK_MAX} customers at once"),
        )
        .into());
    }
    let mut chosen = Vec::with_capacity(ids.len());
    let mut outside = 0usize;
    for id in &ids {
        match store.customer(*id).await {
            Ok(c) if c.archived_at.is_none() && session.visible.allows(c.data.owner_id, true) => {
                chosen.push((c.id, c.data.owner_id))
            }
            Ok(_) | Err(StoreError::NotFound { .. }) => outside += 1,
            Err(e) => return Err(e.into()),
        }
    }
    if outside > 0 {
        return Err(AppError::Forbidden(format!(
            "{outside} of the {} selected customers are outside your scope; nothing was changed",
            ids.len()
        )));
    }
    Ok(chosen)
}

/// Assigns the selected customers to user `to` (managers and admins: [`Action::ManageUsers`];
/// `to` within the caller's scope and not disabled), in one transaction with an `assign` audit
/// row per customer. Answers how many changed owner.
pub async fn bulk_assign(
    store: &Store,
    session: &Session,
    ids: &[i64],
    to: i64,
) -> Result<u64, AppError> {
    session.require(Action::ManageUsers)?;
    let receiver = match store.user(to).await {
        Ok(u) => u,
        Err(StoreError::NotFound { .. }) => {
            return Err(StoreError::invalid("user_id", format!("user {to} does not exist")).into())
        }
        Err(e) => return Err(e.into()),
    };
    if !session.visible.allows(Some(to), true) {
        return Err(AppError::Forbidden(format!(
            "user {} is outside your data scope",
            receiver.username
        )));
    }
    let chosen: Vec<(i64, Option<i64>)> = selection(store, session, ids)
        .await?
        .into_iter()
        .filter(|(_, owner)| *owner != Some(to))
        .collect();
    let detail = format!("assigned to {} (bulk)", receiver.username);
    Ok(store
        .move_owner(&chosen, Some(to), &session.actor, "assign", Some(&detail))
        .await?)
}

/// Returns the selected customers to the pool with a reason (required), in one transaction
/// with a `return` audit row per customer. Customers already in the pool stay as they are.
/// Answers how many returned.
pub async fn bulk_return(
    store: &Store,
    session: &Session,
    ids: &[i64],
    reason: &str,
) -> Result<u64, AppError> {
    session.require_records()?;
    let reason = reason.trim();
    if reason.is_empty() {
        return Err(StoreError::invalid("reason", "is required").into());
    }
    let chosen: Vec<(i64, Option<i64>)> = selection(store, session, ids)
        .await?
        .into_iter()
        .filter(|(_, owner)| owner.is_some())
        .collect();
    Ok(store
        .move_owner(&chosen, None, &session.actor, "return", Some(reason))
        .await?)
}

/// Adds a tag to the selected customers (each one the caller may change), in one transaction
/// with an audit row per customer changed. Answers how many changed.
pub async fn bulk_tag(
    store: &Store,
    session: &Session,
    ids: &[i64],
    tag: &str,
) -> Result<u64, AppError> {
    session.require_records()?;
    let chosen: Vec<i64> = selection(store, session, ids)
        .await?
        .into_iter()
        .map(|(id, _)| id)
        .collect();
    Ok(store.add_tag(&chosen, tag, &session.actor).await?)
}
