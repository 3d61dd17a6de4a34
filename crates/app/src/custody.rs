//! Changes of who holds what: a lead given to a user, a user's customers handed over, a held
//! order decided. Each is gated here, audited, and tells the user it concerns.

use patron_domain::task::NotificationKind;
use patron_domain::FieldError;
use patron_store::{Lead, Role, Store, StoreError};

use crate::tasks::notify;
use crate::{Action, AppError, Session};

/// Gives lead `lead` to `owner` (or to no one): admins and managers to anyone in their scope,
/// a rep takes an unowned lead for themselves. The new owner is told. `via` ends the audit
/// detail (`" (web)"`, or empty).
pub async fn assign_lead(
    store: &Store,
    session: &Session,
    lead: &Lead,
    owner: Option<i64>,
    via: &str,
) -> Result<Lead, AppError> {
    session.require(Action::ReadRecords)?;
    let id = lead.id;
    let manages = matches!(session.user.role, Role::Admin | Role::Manager);
    let allowed = if manages {
        session.visible.allows(lead.owner_id, true)
            || (lead.owner_id.is_none() && session.visible.allows(None, false))
    } else {
        lead.owner_id.is_none() && owner == Some(session.user.id)
    };
    if !allowed {
        return Err(AppError::Forbidden(format!(
            "you may not hand lead {id} over: administrators and managers assign leads, a rep takes an unowned one for themselves"
        )));
    }
    if let Some(o) = owner {
        if !session.visible.allows(Some(o), true) {
            return Err(AppError::Forbidden(format!(
                "user {o} is outside your scope: you may not give them a lead"
            )));
        }
    }
    let detail = match owner {
        Some(o) => format!("lead {id} given to user {o}{via}"),
        None => format!("lead {id} left without owner{via}"),
    };
    let audited = session.audited(store, "update", None, detail);
    let assigned = audited.assign_lead(id, owner).await?;
    audited.finish_audit().await?;
    if let Some(o) = owner.filter(|o| *o != session.user.id) {
        let lead = match assigned.company.as_deref() {
            Some(c) => format!(
                "{} ({})",
                crate::tasks::excerpt(&assigned.name, 80),
                crate::tasks::excerpt(c, 80)
            ),
            None => crate::tasks::excerpt(&assigned.name, 80),
        };
        let facts = crate::tasks::params(&[("by", session.user.username.clone()), ("lead", lead)]);
        notify(
            store,
            o,
            NotificationKind::LeadAssigned,
            None,
            &facts,
            Some("/leads"),
        )
        .await;
    }
    Ok(assigned)
}

/// Hands the customers of user `from` (all, or only `only`) over to user `to` (not disabled);
/// both must be within the caller's scope. With all of them, every other open item of `from`
/// (leads, tickets, tasks) goes along, in the same transaction ([`Store::handover`]). `to` is
/// told how many customers. Answers the ids moved.
pub async fn handover(
    store: &Store,
    session: &Session,
    from: i64,
    to: i64,
    only: Option<&[i64]>,
) -> Result<Vec<i64>, AppError> {
    session.require(Action::ManageUsers)?;
    for u in [from, to] {
        if !session.visible.allows(Some(u), true) {
            return Err(AppError::Forbidden(format!(
                "user {u} is outside your data scope"
            )));
        }
    }
    if store.user(to).await.is_err() {
        return Err(StoreError::Invalid(vec![FieldError::new(
            "to",
            format!("user {to} does not exist"),
        )])
        .into());
    }
    let moved = store.handover(from, to, only, &session.actor).await?;
    if !moved.is_empty() && to != session.user.id {
        let from_name = store
            .user(from)
            .await
            .map(|u| u.username)
            .unwrap_or_else(|_| format!("user {from}"));
        let facts = crate::tasks::params(&[
            ("by", session.user.username.clone()),
            ("n", moved.len().to_string()),
            ("from", from_name),
        ]);
        let link = (moved.len() == 1).then(|| format!("/customers/{}", moved[0]));
        notify(
            store,
            to,
            NotificationKind::HandedOver,
            (moved.len() == 1).then(|| moved[0]),
            &facts,
            Some(link.as_deref().unwrap_or("/customers")),
        )
        .await;
    }
    Ok(moved)
}

/// Approves or rejects held order `hold_id` with an optional reason: the caller must be allowed
/// to approve credit and to change the customer (else the hold is "not found"). Audited; the
/// rep who placed the order is told, with the reason.
pub async fn decide_hold(
    store: &Store,
    session: &Session,
    hold_id: i64,
    approve: bool,
    reason: Option<&str>,
    via: &str,
) -> Result<HoldDecided, AppError> {
    session.require(Action::ApproveCredit)?;
    let reason = reason.map(str::trim).filter(|r| !r.is_empty());
    if reason.is_some_and(|r| r.chars().count() > 1000) {
        return Err(StoreError::Invalid(vec![FieldError::new(
            "reason",
            "is longer than 1,000 characters",
        )])
        .into());
    }
    let not_found = || AppError::from(StoreError::not_found("credit hold", hold_id));
    let h = store.credit_hold(hold_id).await.map_err(|_| not_found())?;
    // A hold of a customer the caller may not change is "not found", like the customer.
    session
        .check(store, h.customer_id, true)
        .await
        .map_err(|_| not_found())?;
    let by = &session.user.username;
    let placement = if approve {
        Some(store.approve_credit_hold(hold_id, by, reason).await?)
    } else {
        store.reject_credit_hold(hold_id, by, reason).await?;
        None
    };
    let verb = if approve { "approved" } else { "rejected" };
    let detail = format!("credit hold {hold_id} {verb}{via}");
    session
        .audit(store, "update", Some(h.customer_id), Some(&detail), None)
        .await?;
    if approve {
        crate::value::recompute_after_change(store, &[h.customer_id]).await;
    }
    let h = store.credit_hold(hold_id).await?;
    if h.requested_by != session.user.username {
        let mut facts = crate::tasks::params(&[
            ("by", session.user.username.clone()),
            (
                "order",
                h.order_ref
                    .clone()
                    .or(h.order.order_ref.clone())
                    .unwrap_or_else(|| "-".into()),
            ),
            ("amount", h.amount.to_string()),
        ]);
        if let Some(r) = reason {
            facts.insert("reason".into(), crate::tasks::excerpt(r, 300));
        }
        crate::tasks::notify_user_named(
            store,
            &h.requested_by,
            if approve {
                NotificationKind::HoldApproved
            } else {
                NotificationKind::HoldRejected
            },
            Some(h.customer_id),
            &facts,
            Some(&format!("/customers/{}", h.customer_id)),
        )
        .await;
    }
    Ok(HoldDecided { hold: h, placement })
}

/// A decided held order: the hold as it now stands, and on approval the order placed.
#[derive(Debug, Clone)]
pub struct HoldDecided {
    pub hold: patron_store::CreditHold,
    pub placement: Option<patron_store::OrderPlacement>,
}
