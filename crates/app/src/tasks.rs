//! Tasks, the rules that make them, "My day", and the in-app notifications.
//!
//! A user works their own tasks; a manager (whose scope includes other owners) may give tasks
//! to, and work the tasks of, the users they see. A task about a customer needs the customer in
//! the caller's scope. Notifications are one user's own.

use chrono::{DateTime, Days, Duration, NaiveDate, NaiveTime, Utc};
use patron_domain::task::{
    Notification, NotificationKind, NotificationParams, Task, TaskInput, TaskKind,
};
use patron_domain::{FieldError, InteractionInput, InteractionKind};
use patron_store::{
    LeadFilter, PageRequest, RuleTask, Store, StoreError, TaskChange, TaskFilter, Visibility,
};

use crate::{Action, AppError, Session};

/// Days before a customer returns to the pool when its owner gets a task to prevent it.
pub const RECLAIM_WARNING_DAYS: u64 = 3;
/// Days a new lead may wait untouched before its owner gets a task.
pub const LEAD_UNTOUCHED_DAYS: i64 = 7;
/// Follow-ups that fell due within this many days get a task.
pub const FOLLOWUP_WINDOW_DAYS: i64 = 7;
/// Hours before a ticket's SLA due time when its owner gets a task.
pub const TICKET_WARNING_HOURS: i64 = 4;

/// May the caller work tasks of (or give tasks to) user `user_id`: themselves, or a user whose
/// customers they see.
fn may_work_for(session: &Session, user_id: i64) -> bool {
    user_id == session.user.id
        || match &session.visible {
            Visibility::All => true,
            Visibility::Owners { ids, .. } => ids.contains(&user_id),
        }
}

fn not_found(id: i64) -> AppError {
    StoreError::not_found("task", id).into()
}

/// Adds a task (for the caller unless `assignee_id` names another user the caller may give work
/// to); the assignee is told when it is someone else. Audited in the same transaction.
pub async fn add_task(
    store: &Store,
    session: &Session,
    input: TaskInput,
    source: &str,
) -> Result<Task, AppError> {
    session.require(Action::ReadRecords)?;
    let assignee = input.assignee_id.unwrap_or(session.user.id);
    if !may_work_for(session, assignee) {
        return Err(StoreError::Invalid(vec![FieldError::new(
            "assignee_id",
            format!("you may not give tasks to user {assignee}"),
        )])
        .into());
    }
    if let Some(c) = input.customer_id {
        session.guard(store, c, false).await?;
    }
    let audited = session.audited(store, "create", input.customer_id, "task {id} added");
    let task = audited
        .create_task(input, assignee, &session.user.username, source)
        .await?;
    audited.finish_audit().await?;
    if assignee != session.user.id {
        tell_assignee(store, session, &task).await;
    }
    Ok(task)
}

async fn tell_assignee(store: &Store, session: &Session, task: &Task) {
    let facts = params(&[
        ("by", session.user.username.clone()),
        ("due", task.due_at.format("%Y-%m-%d %H:%M UTC").to_string()),
        ("note", excerpt(&task.note, 200)),
    ]);
    notify(
        store,
        task.assignee_id,
        NotificationKind::TaskAssigned,
        task.customer_id,
        &facts,
        Some("/my-day"),
    )
    .await;
}

/// At most `n` characters of `s` (with an ellipsis when cut).
pub fn excerpt(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else {
        let mut t: String = s.chars().take(n).collect();
        t.push('…');
        t
    }
}

/// One task the caller may see (their own, or of a user they see).
pub async fn task(store: &Store, session: &Session, id: i64) -> Result<Task, AppError> {
    session.require(Action::ReadRecords)?;
    let t = store.task(id).await.map_err(|_| not_found(id))?;
    if !may_work_for(session, t.assignee_id) {
        return Err(not_found(id));
    }
    Ok(t)
}

/// The caller's tasks (open ones with `open`), by due time.
pub async fn my_tasks(
    store: &Store,
    session: &Session,
    open: Option<bool>,
    limit: Option<u32>,
) -> Result<Vec<Task>, AppError> {
    session.require(Action::ReadRecords)?;
    Ok(store
        .tasks(&TaskFilter {
            assignee_id: Some(session.user.id),
            open,
            limit,
            ..TaskFilter::default()
        })
        .await?)
}

/// The tasks about one customer in the caller's scope (every assignee's), by due time.
pub async fn customer_tasks(
    store: &Store,
    session: &Session,
    customer_id: i64,
    open: Option<bool>,
) -> Result<Vec<Task>, AppError> {
    session.guard(store, customer_id, false).await?;
    Ok(store
        .tasks(&TaskFilter {
            customer_id: Some(customer_id),
            open,
            ..TaskFilter::default()
        })
        .await?)
}

/// Marks done, reopens, snoozes or reassigns a task of the caller (or of a user they see);
/// a new assignee must be a user the caller may give work to, and is told. Audited.
pub async fn change_task(
    store: &Store,
    session: &Session,
    id: i64,
    change: TaskChange,
) -> Result<Task, AppError> {
    let t = task(store, session, id).await?;
    if let TaskChange::Reassign(to) = change {
        if !may_work_for(session, to) {
            return Err(StoreError::Invalid(vec![FieldError::new(
                "assignee_id",
                format!("you may not give tasks to user {to}"),
            )])
            .into());
        }
    }
    let what = match &change {
        TaskChange::Done => "done".to_string(),
        TaskChange::Reopen => "reopened".to_string(),
        TaskChange::Snooze(until) => format!("snoozed to {}", until.format("%Y-%m-%d %H:%M")),
        TaskChange::Reassign(to) => format!("reassigned to user {to}"),
    };
    let audited = session.audited(store, "update", t.customer_id, format!("task {id} {what}"));
    let changed = audited.change_task(id, &change).await?;
    audited.finish_audit().await?;
    if matches!(change, TaskChange::Reassign(to) if to != session.user.id) {
        tell_assignee(store, session, &changed).await;
    }
    Ok(changed)
}

/// Records an interaction on a customer (author: the caller). A promise with `due` also makes
/// a task for the caller, due then; a referral names the customer it brought (`referred`),
/// whose `referred_by` becomes this customer. Answers the interaction and the task made.
pub async fn log_interaction(
    store: &Store,
    session: &Session,
    customer_id: i64,
    input: InteractionInput,
    due: Option<DateTime<Utc>>,
    referred: Option<i64>,
) -> Result<(patron_domain::Interaction, Option<Task>), AppError> {
    session.guard(store, customer_id, true).await?;
    if input.kind == InteractionKind::Promise && due.is_none() {
        return Err(StoreError::Invalid(vec![FieldError::new(
            "due",
            "a promise needs the date it is due",
        )])
        .into());
    }
    if input.kind == InteractionKind::Referral {
        let Some(r) = referred else {
            return Err(StoreError::Invalid(vec![FieldError::new(
                "referred",
                "a referral names the customer it brought",
            )])
            .into());
        };
        if r == customer_id {
            return Err(StoreError::Invalid(vec![FieldError::new(
                "referred",
                "a customer cannot refer itself",
            )])
            .into());
        }
        session.guard(store, r, false).await?;
    }
    let interaction =
        crate::customers::record_interaction(store, session, customer_id, input.clone()).await?;
    if let (InteractionKind::Referral, Some(r)) = (input.kind, referred) {
        let mut patch = patron_domain::CustomerPatch::new();
        patch.insert("referred_by".into(), serde_json::Value::from(customer_id));
        let audited = session.audited(
            store,
            "update",
            Some(r),
            format!("referred_by (referral by customer {customer_id})"),
        );
        audited
            .update_customer(r, &patch, None, &session.user.username)
            .await?;
        audited.finish_audit().await?;
        // A referrer who buys is an advocate.
        crate::value::recompute_after_change(store, &[customer_id]).await;
    }
    let task = match (input.kind, due) {
        (InteractionKind::Promise, Some(due)) => Some(
            add_task(
                store,
                session,
                TaskInput {
                    customer_id: Some(customer_id),
                    assignee_id: None,
                    kind: TaskKind::Todo,
                    due_at: due,
                    note: excerpt(&interaction.text, 500),
                },
                "promise",
            )
            .await?,
        ),
        _ => None,
    };
    Ok((interaction, task))
}

/// The start of day `d` (UTC).
fn start_of(d: NaiveDate) -> DateTime<Utc> {
    d.and_time(NaiveTime::MIN).and_utc()
}

/// Runs the task rules as of `now` over every customer and adds the tasks not made before
/// (one per rule key: a second run adds nothing). Answers how many were added.
///
/// - `reclaim`: an owned customer that returns to the pool within
///   [`RECLAIM_WARNING_DAYS`] days (today included): a call for its owner, due the day before;
/// - `invoice_overdue`: an overdue invoice (or instalment): a call for the owner;
/// - `ticket_breach`: an open ticket due within [`TICKET_WARNING_HOURS`] hours (or past due):
///   a to-do for its assignee, else the owner;
/// - `lead_untouched`: a new lead untouched for [`LEAD_UNTOUCHED_DAYS`] days: a call for
///   its owner;
/// - `followup`: an owned customer whose follow-up (by the ABC cadence) fell due within the
///   last [`FOLLOWUP_WINDOW_DAYS`] days: a visit for the owner.
pub async fn run_rules(store: &Store, now: DateTime<Utc>) -> Result<u64, AppError> {
    let today = now.date_naive();
    let all = Visibility::All;
    let mut out: Vec<RuleTask> = Vec::new();
    // Customers about to return to the pool: those a reclaim a few days ahead would take.
    let horizon = today + Days::new(RECLAIM_WARNING_DAYS);
    let actor = patron_store::Actor::system("rules");
    let rules = store.pool_rules().await?;
    for r in store.reclaim(horizon, &all, true, &actor).await? {
        let limit = rules.days_for(r.grade.as_deref());
        // The first day the customer is idle for more than its limit.
        let reclaim_on = horizon - Days::new((r.idle_days - limit - 1).max(0) as u64);
        // Customers already past their limit go back at the next reclaim run: the follow-up
        // plan and the pool page show them; a task is for the ones that can still be kept.
        if reclaim_on < today {
            continue;
        }
        let due = (reclaim_on - Days::new(1)).max(today);
        out.push(RuleTask {
            rule_key: format!("reclaim:{}:{}:{}", r.customer_id, r.owner_id, reclaim_on),
            source: "reclaim",
            customer_id: Some(r.customer_id),
            assignee_id: r.owner_id,
            kind: TaskKind::Call,
            due_at: start_of(due),
            note: format!(
                "Returns to the public pool on {reclaim_on} (no order or interaction for {limit} days): get in touch"
            ),
        });
    }
    for o in store.overdue(today, &all).await? {
        let Some(owner) = o.owner_id else { continue };
        out.push(RuleTask {
            rule_key: format!(
                "invoice:{}:{}:{}",
                o.invoice_id,
                o.instalment.unwrap_or(0),
                o.due_on
            ),
            source: "invoice_overdue",
            customer_id: Some(o.customer_id),
            assignee_id: owner,
            kind: TaskKind::Call,
            due_at: start_of(today),
            note: format!(
                "Invoice {} overdue since {} ({} open): ask for payment",
                o.invoice_number, o.due_on, o.open
            ),
        });
    }
    let soon = now + Duration::hours(TICKET_WARNING_HOURS);
    let tickets = store.open_tickets(now, &all).await?;
    let owners = store
        .customer_owners(&tickets.iter().map(|t| t.customer_id).collect::<Vec<_>>())
        .await?;
    for t in tickets.iter().filter(|t| t.due_at <= soon) {
        let owner = owners.get(&t.customer_id).copied().flatten();
        let Some(who) = t.assignee_id.or(owner) else {
            continue;
        };
        out.push(RuleTask {
            rule_key: format!("ticket:{}:{}", t.id, t.escalation_level),
            source: "ticket_breach",
            customer_id: Some(t.customer_id),
            assignee_id: who,
            kind: TaskKind::Todo,
            due_at: t.due_at.min(now.max(t.due_at - Duration::hours(1))),
            note: format!(
                "Ticket #{} \"{}\" is due {} (SLA)",
                t.id,
                excerpt(&t.subject, 80),
                t.due_at.format("%Y-%m-%d %H:%M UTC")
            ),
        });
    }
    let stale = now - Duration::days(LEAD_UNTOUCHED_DAYS);
    let mut page = PageRequest {
        limit: Some(500),
        after: None,
    };
    loop {
        let leads = store
            .list_leads(
                &LeadFilter {
                    status: Some("new".into()),
                    ..LeadFilter::default()
                },
                &all,
                &page,
            )
            .await?;
        for l in &leads.items {
            let Some(owner) = l.owner_id else { continue };
            if l.updated_at > stale {
                continue;
            }
            out.push(RuleTask {
                rule_key: format!("lead:{}:{}", l.id, l.updated_at.timestamp()),
                source: "lead_untouched",
                customer_id: None,
                assignee_id: owner,
                kind: TaskKind::Call,
                due_at: start_of(today),
                note: format!(
                    "Lead \"{}\"{} waits since {}: contact it",
                    excerpt(&l.name, 80),
                    l.company
                        .as_deref()
                        .map(|c| format!(" ({})", excerpt(c, 80)))
                        .unwrap_or_default(),
                    l.updated_at.date_naive()
                ),
            });
        }
        match leads.next {
            Some(n) => page.after = Some(n),
            None => break,
        }
    }
    for p in store.followup_plan(today, None, &all).await? {
        let (Some(owner), Some(_)) = (p.owner_id, p.last_contact) else {
            continue;
        };
        // Newly due ones only (within a week): older ones are on the follow-up plan's page,
        // and a task per long-forgotten customer would bury the day's work.
        if !(0..=FOLLOWUP_WINDOW_DAYS).contains(&p.days_overdue) {
            continue;
        }
        out.push(RuleTask {
            rule_key: format!("followup:{}:{}", p.customer_id, p.due_on),
            source: "followup",
            customer_id: Some(p.customer_id),
            assignee_id: owner,
            kind: TaskKind::Visit,
            due_at: start_of(p.due_on),
            note: format!(
                "Follow-up due (class {}: every {} days)",
                p.abc_class, p.cadence_days
            ),
        });
    }
    Ok(store.add_rule_tasks(&out).await?)
}

/// What "My day" shows the caller.
#[derive(Debug, Clone, serde::Serialize)]
pub struct MyDay {
    /// Open tasks due before the end of today (overdue first).
    pub tasks: Vec<Task>,
    /// Open tasks due later (the next few).
    pub upcoming: Vec<Task>,
    /// Open tickets of the caller (assignee, or owner of the customer) due within the warning
    /// window or past due.
    pub tickets: Vec<patron_domain::service::Ticket>,
    /// The caller's unread notifications.
    pub notifications: Vec<Notification>,
}

/// The caller's day as of `now`.
pub async fn my_day(
    store: &Store,
    session: &Session,
    now: DateTime<Utc>,
) -> Result<MyDay, AppError> {
    session.require(Action::ReadRecords)?;
    let end_of_day = start_of(now.date_naive() + Days::new(1));
    let open = store
        .tasks(&TaskFilter {
            assignee_id: Some(session.user.id),
            open: Some(true),
            limit: Some(300),
            ..TaskFilter::default()
        })
        .await?;
    let (tasks, upcoming): (Vec<Task>, Vec<Task>) =
        open.into_iter().partition(|t| t.due_at < end_of_day);
    let soon = now + Duration::hours(TICKET_WARNING_HOURS);
    let mine = Visibility::Owners {
        ids: vec![session.user.id],
        pool: false,
    };
    let mut tickets: Vec<_> = store
        .open_tickets(now, &mine)
        .await?
        .into_iter()
        .filter(|t| t.due_at <= soon)
        .collect();
    tickets.truncate(50);
    let notifications = store.notifications(session.user.id, true, 50).await?;
    Ok(MyDay {
        tasks,
        upcoming: upcoming.into_iter().take(20).collect(),
        tickets,
        notifications,
    })
}

/// Tells user `user_id` something; a failure is logged, never fails the change it follows.
pub async fn notify(
    store: &Store,
    user_id: i64,
    kind: NotificationKind,
    customer_id: Option<i64>,
    facts: &NotificationParams,
    link: Option<&str>,
) {
    if user_id <= 0 {
        return;
    }
    if let Err(e) = store.notify(user_id, kind, customer_id, facts, link).await {
        tracing::warn!(error = %e, user_id, kind = kind.as_str(), "notification not stored");
    }
}

/// Tells the user named `username` (when there is one).
pub async fn notify_user_named(
    store: &Store,
    username: &str,
    kind: NotificationKind,
    customer_id: Option<i64>,
    facts: &NotificationParams,
    link: Option<&str>,
) {
    if let Ok(u) = store.user_by_name(username).await {
        notify(store, u.id, kind, customer_id, facts, link).await;
    }
}

/// A notification's facts from (name, value) pairs.
pub fn params(pairs: &[(&str, String)]) -> NotificationParams {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect()
}

/// The caller's notifications, newest first (unread only with `unread`).
pub async fn inbox(
    store: &Store,
    session: &Session,
    unread: bool,
) -> Result<Vec<Notification>, AppError> {
    Ok(store.notifications(session.user.id, unread, 200).await?)
}

/// How many of the caller's notifications are unread.
pub async fn unread(store: &Store, session: &Session) -> Result<i64, AppError> {
    Ok(store.unread_notifications(session.user.id).await?)
}

/// Marks one of the caller's notifications (or all with `None`) read.
pub async fn mark_read(store: &Store, session: &Session, id: Option<i64>) -> Result<u64, AppError> {
    Ok(store.mark_notifications_read(session.user.id, id).await?)
}
