//! Working the customers, over the caller's scope: ageing, overdue items, sales against
//! collections, the approval queue of held orders, open tickets and the SLA sweep, the
//! opportunities of the pipeline and the follow-up plan. The scope is
//! applied in SQL by the store; the role gates are the permission table's; every list is
//! audited with its row count.

use chrono::{DateTime, NaiveDate, Utc};
use patron_domain::receivable::{AgeingReport, OpenItem};
use patron_domain::service::Ticket;
use patron_store::{CreditHold, OverdueItem, RepCollections, Store};

use crate::{Action, AppError, Session};

async fn listed(store: &Store, session: &Session, what: &str, rows: usize) -> Result<(), AppError> {
    session
        .audit(store, "list", None, Some(what), Some(rows as i64))
        .await?;
    Ok(())
}

/// The ageing report on `as_of` of the customers the caller sees (totals over those only).
pub async fn ageing(
    store: &Store,
    session: &Session,
    as_of: NaiveDate,
) -> Result<AgeingReport, AppError> {
    session.require(Action::ViewReceivables)?;
    let r = store.ageing(as_of, &session.visible).await?;
    listed(store, session, "ageing", r.customers.len()).await?;
    Ok(r)
}

/// Everything still unpaid of the customers the caller sees.
pub async fn open_items(store: &Store, session: &Session) -> Result<Vec<OpenItem>, AppError> {
    session.require(Action::ViewReceivables)?;
    let items = store.open_items(None, &session.visible).await?;
    listed(store, session, "open items", items.len()).await?;
    Ok(items)
}

/// Items unpaid after their due date on `as_of`, most overdue first, of the caller's customers.
pub async fn overdue(
    store: &Store,
    session: &Session,
    as_of: NaiveDate,
) -> Result<Vec<OverdueItem>, AppError> {
    session.require(Action::ViewReceivables)?;
    let items = store.overdue(as_of, &session.visible).await?;
    listed(store, session, "overdue", items.len()).await?;
    Ok(items)
}

/// Sales, invoiced, collected and overdue per rep in `from..=to`, over the caller's customers.
pub async fn collections(
    store: &Store,
    session: &Session,
    from: NaiveDate,
    to: NaiveDate,
) -> Result<Vec<RepCollections>, AppError> {
    session.require(Action::ViewReceivables)?;
    let rows = store
        .sales_vs_collections(from, to, &session.visible)
        .await?;
    listed(store, session, "sales vs collections", rows.len()).await?;
    Ok(rows)
}

/// The approval queue: held orders with `status` (`pending`, ...) of the caller's customers.
pub async fn credit_holds(
    store: &Store,
    session: &Session,
    status: &str,
) -> Result<Vec<CreditHold>, AppError> {
    session.require(Action::ApproveCredit)?;
    let holds = store.credit_holds(status, &session.visible).await?;
    listed(store, session, "credit holds", holds.len()).await?;
    Ok(holds)
}

/// Open tickets of the caller's customers, soonest due first; `breached` as of `now`.
pub async fn open_tickets(
    store: &Store,
    session: &Session,
    now: DateTime<Utc>,
) -> Result<Vec<Ticket>, AppError> {
    session.require(Action::ReadRecords)?;
    let tickets = store.open_tickets(now, &session.visible).await?;
    listed(store, session, "open tickets", tickets.len()).await?;
    Ok(tickets)
}

/// The SLA sweep over the caller's customers: every open ticket past its due time is raised to
/// the level the SLA gives at `now`, recorded as by the caller. Answers the tickets raised.
pub async fn escalate_breached(
    store: &Store,
    session: &Session,
    now: DateTime<Utc>,
) -> Result<Vec<Ticket>, AppError> {
    session.require(Action::EscalateTickets)?;
    let raised = store
        .escalate_breached(now, &session.user.username, &session.visible)
        .await?;
    tell_escalated(store, session, &raised).await?;
    let detail = format!("SLA sweep: {} tickets escalated", raised.len());
    session
        .audit(
            store,
            "update",
            None,
            Some(&detail),
            Some(raised.len() as i64),
        )
        .await?;
    Ok(raised)
}

/// The opportunities of the customers the caller sees, soonest expected close first.
pub async fn opportunities(
    store: &Store,
    session: &Session,
) -> Result<Vec<patron_store::Opportunity>, AppError> {
    session.require(Action::ReadRecords)?;
    let mine: Vec<_> = store
        .all_opportunities(&session.visible)
        .await?
        .into_iter()
        .map(|(_, o)| o)
        .collect();
    listed(store, session, "pipeline", mine.len()).await?;
    Ok(mine)
}

/// The follow-up plan on `as_of` over the customers the caller sees (of one owner with
/// `owner_id`), most overdue first.
pub async fn followup_plan(
    store: &Store,
    session: &Session,
    as_of: NaiveDate,
    owner_id: Option<i64>,
) -> Result<Vec<patron_store::PlannedContact>, AppError> {
    session.require(Action::ReadRecords)?;
    let plan = store
        .followup_plan(as_of, owner_id, &session.visible)
        .await?;
    listed(store, session, "follow-up plan", plan.len()).await?;
    Ok(plan)
}

/// Tells whoever works each escalated ticket (its assignee, else the customer's owner), unless
/// that is the caller.
pub async fn tell_escalated(
    store: &Store,
    session: &Session,
    raised: &[Ticket],
) -> Result<(), AppError> {
    // Whoever works each ticket (its assignee, else the customer's owner) is told.
    let owners = store
        .customer_owners(&raised.iter().map(|t| t.customer_id).collect::<Vec<_>>())
        .await?;
    for t in raised {
        let Some(who) = t
            .assignee_id
            .or_else(|| owners.get(&t.customer_id).copied().flatten())
        else {
            continue;
        };
        if who == session.user.id {
            continue;
        }
        let facts = crate::tasks::params(&[
            ("ticket", t.id.to_string()),
            ("subject", crate::tasks::excerpt(&t.subject, 80)),
            ("level", t.escalation_level.to_string()),
        ]);
        crate::tasks::notify(
            store,
            who,
            patron_domain::task::NotificationKind::TicketEscalated,
            Some(t.customer_id),
            &facts,
            Some(&format!(
                "/work/service?customer=%23{}#t{}",
                t.customer_id, t.id
            )),
        )
        .await;
    }
    Ok(())
}
